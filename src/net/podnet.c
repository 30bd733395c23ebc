/* Pod network setup and observation: the pod's links, addresses and routes are
 * written through a netlink socket opened inside the pod's namespace; only the
 * macvlan creation goes through the host's socket, because the uplink is there. */
#include "net/podnet.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/route.h>

#include "net/addr.h"
#include "net/macvlan.h"
#include "net/netlink.h"
#include "util/cleanup.h"

#define LOOPBACK_IFINDEX     1
#define NET_MAC_BUSY_WAIT_MS 3000 /* lo is always index 1 in a new network namespace */

void
net_drift_clear(struct net_drift *d)
{
  for (size_t i = 0; i < d->n; i++)
    free(d->problems[i]);
  free(d->problems);
  memset(d, 0, sizeof *d);
}

__attribute__((format(printf, 2, 3))) static void
drift(struct net_drift *d, const char *fmt, ...)
{
  if (d->n >= NET_DRIFT_MAX) {
    d->dropped++;
    return;
  }
  char **v = reallocarray(d->problems, d->n + 1, sizeof *v);
  if (v == NULL)
    abort();
  d->problems = v;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&d->problems[d->n], fmt, ap) < 0)
    abort();
  va_end(ap);
  d->n++;
}

bool
net_nic_expected_mac(const char *pod, const struct net_config *c, size_t i, uint8_t ret[6])
{
  const struct net_nic *nic = &c->nics[i];
  if (nic->has_mac) {
    memcpy(ret, nic->mac, 6);
    return true;
  }
  if (nic->macvlan_mode == SPEC_MACVLAN_PASSTHRU)
    return false;
  net_stable_mac(pod, i, ret);
  return true;
}

int
net_nic_parent(struct nl_sock *host_sk, const struct net_nic *nic, const struct net_host *host,
               char buf[16], tank_error **err)
{
  if (nic->parent) {
    snprintf(buf, 16, "%s", nic->parent);
    return 0;
  }
  if (host && host->uplink) {
    snprintf(buf, 16, "%s", host->uplink);
    return 0;
  }
  return net_default_uplink(host_sk, buf, err);
}

/* Whether an existing link can stay as the NIC (kind, mode, parent, mac, mtu). */
static bool
link_matches(struct rtnl_link *link, const struct net_nic *nic, int parent_ifindex,
             const uint8_t *mac)
{
  const char *kind = rtnl_link_get_type(link);
  if (kind == NULL || strcmp(kind, "macvlan") != 0)
    return false;
  if (rtnl_link_macvlan_get_mode(link) != net_macvlan_kernel_mode(nic->macvlan_mode))
    return false;
  if (rtnl_link_get_link(link) != parent_ifindex)
    return false;
  if (nic->mtu && rtnl_link_get_mtu(link) != nic->mtu)
    return false;
  if (mac) {
    struct nl_addr *a = rtnl_link_get_addr(link);
    if (a == NULL || nl_addr_get_len(a) != 6 || memcmp(nl_addr_get_binary_addr(a), mac, 6) != 0)
      return false;
  }
  return true;
}

static void
default_dst(int family, struct spec_ip *ret)
{
  memset(ret, 0, sizeof *ret);
  ret->family = family;
}

static uint64_t
monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A destroyed sandbox's network namespace is cleaned up by the kernel a few ms
 * after its last reference goes, asynchronously; until then its macvlans still
 * hold their MACs on the parent, and a re-created pod (same stable MAC) gets
 * EADDRINUSE. No event tells when the old namespace is gone, so retry, bounded. */
static int
create_retrying(struct nl_sock *host_sk, int parent_ifindex, int netns_fd,
                const struct net_nic *nic, const uint8_t *mac, tank_error **err)
{
  uint64_t deadline = monotonic_ms() + NET_MAC_BUSY_WAIT_MS;
  long delay_us = 1000;
  for (;;) {
    tank_error *e = NULL;
    int r = net_macvlan_create(host_sk, parent_ifindex, netns_fd, nic->name, nic->macvlan_mode, mac,
                               nic->mtu, &e);
    if (r == 0)
      return 0;
    if (e->errnum != EADDRINUSE || monotonic_ms() >= deadline) {
      if (err && *err == NULL)
        *err = e;
      else
        tank_error_free(e);
      if (r == -EADDRINUSE)
        tank_error_wrap(err,
                        "the MAC is still held on the parent after %d ms (an old sandbox of "
                        "this pod alive, or another pod with the same `mac:`)",
                        NET_MAC_BUSY_WAIT_MS);
      return r;
    }
    tank_error_free(e);
    struct timespec ts = { .tv_nsec = delay_us * 1000 };
    nanosleep(&ts, NULL);
    if (delay_us < 8000)
      delay_us *= 2;
  }
}

static int
setup_nic(struct nl_sock *host_sk, struct nl_sock *pod_sk, int netns_fd, const char *pod,
          const struct net_config *c, size_t i, const struct net_host *host, tank_error **err)
{
  const struct net_nic *nic = &c->nics[i];
  char parent[16];
  uint8_t mac[6];
  bool has_mac = net_nic_expected_mac(pod, c, i, mac);
  int parent_ifindex, ifindex, r;

  if (net_nic_parent(host_sk, nic, host, parent, err) < 0
      || net_link_index(host_sk, parent, &parent_ifindex, err) < 0)
    return tank_error_wrap(err, "nic `%s`: parent", nic->name);

  _cleanup_nl_object_ struct rtnl_link *existing = NULL;
  r = rtnl_link_get_kernel(pod_sk, 0, nic->name, &existing);
  if (r >= 0 && !link_matches(existing, nic, parent_ifindex, has_mac ? mac : NULL)) {
    r = rtnl_link_delete(pod_sk, existing);
    if (r < 0)
      return net_nl_error(err, r, "nic `%s`: remove the mismatching link", nic->name);
    r = -NLE_OBJ_NOTFOUND;
  }
  if (r >= 0) {
    ifindex = rtnl_link_get_ifindex(existing);
    if (!(rtnl_link_get_flags(existing) & IFF_UP)
        && net_link_set_up(pod_sk, ifindex, true, err) < 0)
      return tank_error_wrap(err, "nic `%s`", nic->name);
  } else {
    net_nl_errno(r); /* absent is the normal case: forget the kernel's ENODEV */
    if (create_retrying(host_sk, parent_ifindex, netns_fd, nic, has_mac ? mac : NULL, err) < 0)
      return tank_error_wrap(err, "nic `%s` on `%s`", nic->name, parent);
    if (net_link_index(pod_sk, nic->name, &ifindex, err) < 0)
      return tank_error_wrap(err, "nic `%s`", nic->name);
  }

  for (size_t j = 0; j < nic->n_ips; j++)
    if ((r = net_addr_add(pod_sk, ifindex, nic->name, &nic->ips[j], err)) < 0)
      return r;
  struct spec_ip dflt;
  if (nic->has_gw4) {
    default_dst(AF_INET, &dflt);
    if ((r = net_route_add(pod_sk, ifindex, nic->name, &dflt, &nic->gw4, err)) < 0)
      return r;
  }
  if (nic->has_gw6) {
    default_dst(AF_INET6, &dflt);
    if ((r = net_route_add(pod_sk, ifindex, nic->name, &dflt, &nic->gw6, err)) < 0)
      return r;
  }
  for (size_t j = 0; j < nic->n_routes; j++) {
    const struct net_route *rt = &nic->routes[j];
    if ((r
         = net_route_add(pod_sk, ifindex, nic->name, &rt->dst, rt->has_via ? &rt->via : NULL, err))
        < 0)
      return r;
  }
  return 0;
}

int
net_pod_setup(int netns_fd, const char *pod, const struct net_config *c,
              const struct net_host *host, tank_error **err)
{
  _cleanup_nl_sock_ struct nl_sock *host_sk = NULL;
  _cleanup_nl_sock_ struct nl_sock *pod_sk = NULL;

  if (c->mode == SPEC_NET_HOST)
    return 0;
  int r = net_config_validate(c, err);
  if (r < 0)
    return r;
  if (net_nl_open(netns_fd, &pod_sk, err) < 0)
    return tank_error_wrap(err, "pod `%s` network", pod);
  if (net_link_set_up(pod_sk, LOOPBACK_IFINDEX, true, err) < 0)
    return tank_error_wrap(err, "pod `%s`: loopback", pod);
  if (c->n_nics == 0)
    return 0;
  if (net_nl_open(-1, &host_sk, err) < 0)
    return tank_error_wrap(err, "pod `%s` network", pod);
  for (size_t i = 0; i < c->n_nics; i++)
    if (setup_nic(host_sk, pod_sk, netns_fd, pod, c, i, host, err) < 0)
      return tank_error_wrap(err, "pod `%s`", pod);
  return 0;
}

/* ---- observation ---- */

struct observed {
  struct nl_cache *links, *addrs, *routes;
};

static void
observed_clear(struct observed *o)
{
  if (o->links)
    nl_cache_free(o->links);
  if (o->addrs)
    nl_cache_free(o->addrs);
  if (o->routes)
    nl_cache_free(o->routes);
}

static bool
nl_addr_is(struct nl_addr *a, const struct spec_ip *ip, bool check_prefix)
{
  if (a == NULL || nl_addr_get_family(a) != ip->family)
    return false;
  if (check_prefix && nl_addr_get_prefixlen(a) != ip->prefix)
    return false;
  size_t len = nl_addr_get_len(a);
  if (len == 0) /* libnl's form of a default route's missing RTA_DST */
    return ip->prefix == 0;
  return len == net_ip_len(ip->family) && memcmp(nl_addr_get_binary_addr(a), ip->addr, len) == 0;
}

static bool
has_address(struct observed *o, int ifindex, const struct spec_ip *ip)
{
  for (struct nl_object *obj = nl_cache_get_first(o->addrs); obj; obj = nl_cache_get_next(obj)) {
    struct rtnl_addr *a = (struct rtnl_addr *)obj;
    if (rtnl_addr_get_ifindex(a) == ifindex && nl_addr_is(rtnl_addr_get_local(a), ip, false)
        && rtnl_addr_get_prefixlen(a) == (int)ip->prefix)
      return true;
  }
  return false;
}

static bool
has_route(struct observed *o, int ifindex, const struct spec_ip *dst, const struct spec_ip *via)
{
  for (struct nl_object *obj = nl_cache_get_first(o->routes); obj; obj = nl_cache_get_next(obj)) {
    struct rtnl_route *r = (struct rtnl_route *)obj;
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_family(r) != dst->family
        || !nl_addr_is(rtnl_route_get_dst(r), dst, true) || rtnl_route_get_nnexthops(r) < 1)
      continue;
    struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
    struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
    if (rtnl_route_nh_get_ifindex(nh) != ifindex)
      continue;
    if (via ? nl_addr_is(gw, via, false) : gw == NULL)
      return true;
  }
  return false;
}

static void
check_nic(struct observed *o, struct nl_sock *host_sk, const char *pod, const struct net_config *c,
          size_t i, const struct net_host *host, struct net_drift *d)
{
  const struct net_nic *nic = &c->nics[i];
  char b1[NET_IP_STRLEN], b2[NET_IP_STRLEN], m1[18], m2[18];
  uint8_t mac[6];

  struct rtnl_link *link = rtnl_link_get_by_name(o->links, nic->name);
  if (link == NULL) {
    drift(d, "nic %s: missing", nic->name);
    return;
  }
  const char *kind = rtnl_link_get_type(link);
  if (kind == NULL || strcmp(kind, "macvlan") != 0) {
    drift(d, "nic %s: is a %s, not a macvlan", nic->name, kind ? kind : "plain link");
    rtnl_link_put(link);
    return;
  }
  int ifindex = rtnl_link_get_ifindex(link);
  if (rtnl_link_macvlan_get_mode(link) != net_macvlan_kernel_mode(nic->macvlan_mode))
    drift(d, "nic %s: macvlan mode is not %s", nic->name, net_macvlan_mode_name(nic->macvlan_mode));
  char parent[16];
  int parent_ifindex;
  tank_error *perr = NULL;
  if (net_nic_parent(host_sk, nic, host, parent, &perr) < 0
      || net_link_index(host_sk, parent, &parent_ifindex, &perr) < 0)
    drift(d, "nic %s: parent: %s", nic->name, perr->msg);
  else if (rtnl_link_get_link(link) != parent_ifindex)
    drift(d, "nic %s: not on parent %s", nic->name, parent);
  tank_error_free(perr);
  if (net_nic_expected_mac(pod, c, i, mac)) {
    struct nl_addr *a = rtnl_link_get_addr(link);
    if (a == NULL || nl_addr_get_len(a) != 6 || memcmp(nl_addr_get_binary_addr(a), mac, 6) != 0) {
      net_mac_format(a && nl_addr_get_len(a) == 6 ? nl_addr_get_binary_addr(a) : (uint8_t[6]){ 0 },
                     m1);
      net_mac_format(mac, m2);
      drift(d, "nic %s: mac %s, want %s", nic->name, m1, m2);
    }
  }
  if (nic->mtu && rtnl_link_get_mtu(link) != nic->mtu)
    drift(d, "nic %s: mtu %u, want %u", nic->name, rtnl_link_get_mtu(link), nic->mtu);
  if (!(rtnl_link_get_flags(link) & IFF_UP))
    drift(d, "nic %s: down", nic->name);
  rtnl_link_put(link);

  for (size_t j = 0; j < nic->n_ips; j++)
    if (!has_address(o, ifindex, &nic->ips[j]))
      drift(d, "nic %s: address %s missing", nic->name, net_ip_format(&nic->ips[j], true, b1));
  struct spec_ip dflt;
  if (nic->has_gw4) {
    default_dst(AF_INET, &dflt);
    if (!has_route(o, ifindex, &dflt, &nic->gw4))
      drift(d, "nic %s: route default via %s missing", nic->name,
            net_ip_format(&nic->gw4, false, b1));
  }
  if (nic->has_gw6) {
    default_dst(AF_INET6, &dflt);
    if (!has_route(o, ifindex, &dflt, &nic->gw6))
      drift(d, "nic %s: route default via %s missing", nic->name,
            net_ip_format(&nic->gw6, false, b1));
  }
  for (size_t j = 0; j < nic->n_routes; j++) {
    const struct net_route *rt = &nic->routes[j];
    if (!has_route(o, ifindex, &rt->dst, rt->has_via ? &rt->via : NULL))
      drift(d, "nic %s: route %s%s%s missing", nic->name, net_ip_format(&rt->dst, true, b1),
            rt->has_via ? " via " : "", rt->has_via ? net_ip_format(&rt->via, false, b2) : "");
  }
}

int
net_pod_check(int netns_fd, const char *pod, const struct net_config *c,
              const struct net_host *host, struct net_drift *ret, tank_error **err)
{
  _cleanup_nl_sock_ struct nl_sock *host_sk = NULL;
  _cleanup_nl_sock_ struct nl_sock *pod_sk = NULL;
  struct observed o = { 0 };
  struct net_drift d = { 0 };
  int r;

  if (c->mode == SPEC_NET_HOST) {
    *ret = d;
    return 0;
  }
  if (net_nl_open(netns_fd, &pod_sk, err) < 0 || net_nl_open(-1, &host_sk, err) < 0)
    return tank_error_wrap(err, "check pod `%s` network", pod);
  if ((r = rtnl_link_alloc_cache(pod_sk, AF_UNSPEC, &o.links)) < 0
      || (r = rtnl_addr_alloc_cache(pod_sk, &o.addrs)) < 0
      || (r = rtnl_route_alloc_cache(pod_sk, AF_UNSPEC, 0, &o.routes)) < 0) {
    observed_clear(&o);
    return net_nl_error(err, r, "check pod `%s` network: list links, addresses, routes", pod);
  }
  struct rtnl_link *lo = rtnl_link_get(o.links, LOOPBACK_IFINDEX);
  if (lo == NULL || !(rtnl_link_get_flags(lo) & IFF_UP))
    drift(&d, "lo: down");
  if (lo)
    rtnl_link_put(lo);
  for (size_t i = 0; i < c->n_nics; i++)
    check_nic(&o, host_sk, pod, c, i, host, &d);
  observed_clear(&o);
  *ret = d;
  return 0;
}
