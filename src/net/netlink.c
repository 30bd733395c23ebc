/* Netlink sockets opened inside a chosen network namespace, the errno behind
 * libnl's error codes, and small link and route queries. */
#include "net/netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>
#include <linux/if_addr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "net/addr.h"
#include "util/cleanup.h"

/* libnl folds kernel errnos into a few NLE_* codes (ENETDOWN becomes "Unspecific
 * failure"); the error callback keeps the kernel's errno for this thread's next
 * error report. */
static __thread int last_syserr;

static int
record_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
  last_syserr = -e->error;
  return NL_STOP;
}

int
net_nl_errno(int nlerr)
{
  int saved = last_syserr;
  last_syserr = 0;
  if (saved > 0)
    return saved;
  switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_EXIST:
      return EEXIST;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NODEV:
      return ENODEV;
    case NLE_PERM:
    case NLE_NOACCESS:
      return EPERM;
    case NLE_BUSY:
      return EBUSY;
    case NLE_RANGE:
      return ERANGE;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_INTR:
      return EINTR;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    default:
      return EINVAL;
  }
}

int
net_nl_error(tank_error **err, int nlerr, const char *fmt, ...)
{
  char *what = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&what, fmt, ap) < 0)
    abort();
  va_end(ap);
  int r = tank_error_set(err, net_nl_errno(nlerr), "%s", what);
  free(what);
  return r;
}

int
net_nl_open(int netns_fd, struct nl_sock **ret, tank_error **err)
{
  _cleanup_close_ int self = -EBADF;
  struct nl_sock *sk;
  int r;

  if (netns_fd >= 0) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
      return tank_error_set(err, errno, "open this thread's network namespace");
    if (setns(netns_fd, CLONE_NEWNET) < 0)
      return tank_error_set(err, errno, "enter the pod network namespace");
  }
  sk = nl_socket_alloc();
  r = sk ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;
  if (netns_fd >= 0 && setns(self, CLONE_NEWNET) < 0)
    abort(); /* this thread would stay in the pod's namespace: nothing sane goes on from here */
  if (r < 0) {
    if (sk)
      nl_socket_free(sk);
    return net_nl_error(err, r, "open a netlink socket");
  }
  nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, record_error, NULL);
  *ret = sk;
  return 0;
}

struct nl_addr *
net_nl_addr(const struct spec_ip *ip)
{
  struct nl_addr *a = nl_addr_build(ip->family, ip->addr, net_ip_len(ip->family));
  if (a)
    nl_addr_set_prefixlen(a, ip->prefix);
  return a;
}

int
net_link_index(struct nl_sock *sk, const char *name, int *ret_ifindex, tank_error **err)
{
  _cleanup_nl_object_ struct rtnl_link *link = NULL;
  int r = rtnl_link_get_kernel(sk, 0, name, &link);
  if (r < 0) {
    int e = net_nl_errno(r);
    if (e == ENODEV || e == ENOENT)
      return tank_error_set(err, ENODEV, "link `%s`", name);
    return tank_error_set(err, e, "look up link `%s`", name);
  }
  *ret_ifindex = rtnl_link_get_ifindex(link);
  return 0;
}

int
net_link_set_up(struct nl_sock *sk, int ifindex, bool up, tank_error **err)
{
  _cleanup_nl_object_ struct rtnl_link *orig = rtnl_link_alloc();
  _cleanup_nl_object_ struct rtnl_link *change = rtnl_link_alloc();
  if (orig == NULL || change == NULL)
    return tank_error_set(err, ENOMEM, "set link %d up", ifindex);
  rtnl_link_set_ifindex(orig, ifindex);
  if (up)
    rtnl_link_set_flags(change, IFF_UP);
  else
    rtnl_link_unset_flags(change, IFF_UP);
  int r = rtnl_link_change(sk, orig, change, 0);
  if (r < 0)
    return net_nl_error(err, r, "set link %d %s", ifindex, up ? "up" : "down");
  return 0;
}

struct uplink_search {
  int family;
  int ifindex;
  uint32_t priority;
};

static void
find_default(struct nl_object *obj, void *arg)
{
  struct rtnl_route *route = (struct rtnl_route *)obj;
  struct uplink_search *s = arg;
  struct nl_addr *dst = rtnl_route_get_dst(route);

  if (rtnl_route_get_family(route) != s->family || rtnl_route_get_table(route) != RT_TABLE_MAIN
      || rtnl_route_get_type(route) != RTN_UNICAST || (dst && nl_addr_get_prefixlen(dst) != 0)
      || rtnl_route_get_nnexthops(route) < 1)
    return;
  int oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
  uint32_t prio = rtnl_route_get_priority(route);
  if (oif > 0 && (s->ifindex == 0 || prio < s->priority)) {
    s->ifindex = oif;
    s->priority = prio;
  }
}

int
net_default_uplink(struct nl_sock *sk, char ret_name[16], tank_error **err)
{
  static const int families[] = { AF_INET, AF_INET6 };
  for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
    _cleanup_nl_cache_ struct nl_cache *cache = NULL;
    int r = rtnl_route_alloc_cache(sk, families[i], 0, &cache);
    if (r < 0)
      return net_nl_error(err, r, "list the host's routes");
    struct uplink_search s = { .family = families[i] };
    nl_cache_foreach(cache, find_default, &s);
    if (s.ifindex == 0)
      continue;
    _cleanup_nl_object_ struct rtnl_link *link = NULL;
    r = rtnl_link_get_kernel(sk, s.ifindex, NULL, &link);
    if (r < 0)
      return net_nl_error(err, r, "look up the default route's link %d", s.ifindex);
    snprintf(ret_name, 16, "%s", rtnl_link_get_name(link));
    return 0;
  }
  return tank_error_set(err, ENETUNREACH,
                        "find the uplink: the host has no default route; set "
                        "`uplink:` in the daemon config or `parent:` on the nic");
}

int
net_addr_add(struct nl_sock *sk, int ifindex, const char *nicname, const struct spec_ip *ip,
             tank_error **err)
{
  _cleanup_nl_object_ struct rtnl_addr *a = rtnl_addr_alloc();
  _cleanup_nl_addr_ struct nl_addr *local = net_nl_addr(ip);
  char buf[NET_IP_STRLEN];

  if (a == NULL || local == NULL)
    return tank_error_set(err, ENOMEM, "nic `%s`: add address", nicname);
  rtnl_addr_set_ifindex(a, ifindex);
  rtnl_addr_set_family(a, ip->family);
  int r = rtnl_addr_set_local(a, local);
  if (r < 0)
    return net_nl_error(err, r, "nic `%s`: address %s", nicname, net_ip_format(ip, true, buf));
  rtnl_addr_set_prefixlen(a, ip->prefix);
  /* Static addresses come from the spec or from IPAM, which already keeps them
   * unique; skipping duplicate address detection makes an IPv6 address usable at
   * once instead of ~1 s later. */
  if (ip->family == AF_INET6)
    rtnl_addr_set_flags(a, IFA_F_NODAD);
  r = rtnl_addr_add(sk, a, NLM_F_REPLACE);
  if (r < 0)
    return net_nl_error(err, r, "nic `%s`: add address %s", nicname, net_ip_format(ip, true, buf));
  return 0;
}

int
net_route_add(struct nl_sock *sk, int ifindex, const char *nicname, const struct spec_ip *dst,
              const struct spec_ip *via, tank_error **err)
{
  _cleanup_nl_object_ struct rtnl_route *route = rtnl_route_alloc();
  _cleanup_nl_addr_ struct nl_addr *d = net_nl_addr(dst);
  _cleanup_nl_addr_ struct nl_addr *g = via ? net_nl_addr(via) : NULL;
  struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
  char b1[NET_IP_STRLEN], b2[NET_IP_STRLEN];

  if (route == NULL || d == NULL || nh == NULL || (via && g == NULL)) {
    if (nh)
      rtnl_route_nh_free(nh);
    return tank_error_set(err, ENOMEM, "nic `%s`: add route", nicname);
  }
  rtnl_route_set_family(route, dst->family);
  rtnl_route_set_table(route, RT_TABLE_MAIN);
  rtnl_route_set_protocol(route, RTPROT_STATIC);
  rtnl_route_set_type(route, RTN_UNICAST);
  rtnl_route_set_dst(route, d);
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (g)
    rtnl_route_nh_set_gateway(nh, g);
  rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
  int r = rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_REPLACE);
  if (r < 0)
    return net_nl_error(err, r, "nic `%s`: add route %s%s%s", nicname, net_ip_format(dst, true, b1),
                        via ? " via " : "", via ? net_ip_format(via, false, b2) : "");
  return 0;
}
