/* The host interface: the host's own macvlan on the uplink, so that host and
 * pods sit side by side on the uplink's macvlan switch. */
#include "net/hostif.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/route/link.h>

#include "net/macvlan.h"
#include "net/netlink.h"
#include "net/podnet.h"

void
net_host_interface_clear(struct net_host_interface *hi)
{
  free(hi->name);
  free(hi->parent);
  free(hi->ips);
  free(hi->routes);
  memset(hi, 0, sizeof *hi);
}

int
net_host_interface_up(const struct net_host_interface *hi, const struct net_host *host,
                      tank_error **err)
{
  _cleanup_nl_sock_ struct nl_sock *sk = NULL;
  struct net_nic as_nic = { .name = hi->name, .parent = hi->parent };
  char parent[16];
  int parent_ifindex, ifindex;

  if (!net_ifname_valid(hi->name))
    return tank_error_set(err, EINVAL, "host interface: `%s` is not an interface name",
                          hi->name ? hi->name : "");
  if (hi->n_ips > NET_MAX_IPS_PER_NIC || hi->n_routes > NET_MAX_ROUTES)
    return tank_error_set(err, E2BIG, "host interface `%s`: too many addresses or routes",
                          hi->name);
  if (net_nl_open(-1, &sk, err) < 0)
    return tank_error_wrap(err, "host interface `%s`", hi->name);
  if (net_nic_parent(sk, &as_nic, host, parent, err) < 0
      || net_link_index(sk, parent, &parent_ifindex, err) < 0)
    return tank_error_wrap(err, "host interface `%s`: parent", hi->name);
  if (net_link_index(sk, hi->name, &ifindex, NULL) < 0) {
    net_nl_errno(0); /* absent: forget the kernel's ENODEV */
    if (net_macvlan_create(sk, parent_ifindex, -1, hi->name, SPEC_MACVLAN_BRIDGE, NULL, 0, err) < 0
        || net_link_index(sk, hi->name, &ifindex, err) < 0)
      return tank_error_wrap(err, "host interface");
  } else if (net_link_set_up(sk, ifindex, true, err) < 0) {
    return tank_error_wrap(err, "host interface `%s`", hi->name);
  }
  for (size_t i = 0; i < hi->n_ips; i++)
    if (net_addr_add(sk, ifindex, hi->name, &hi->ips[i], err) < 0)
      return tank_error_wrap(err, "host interface");
  for (size_t i = 0; i < hi->n_routes; i++) {
    const struct net_route *r = &hi->routes[i];
    if (net_route_add(sk, ifindex, hi->name, &r->dst, r->has_via ? &r->via : NULL, err) < 0)
      return tank_error_wrap(err, "host interface");
  }
  return 0;
}

int
net_host_interface_down(const char *name, tank_error **err)
{
  _cleanup_nl_sock_ struct nl_sock *sk = NULL;
  _cleanup_nl_object_ struct rtnl_link *link = rtnl_link_alloc();

  if (link == NULL)
    return tank_error_set(err, ENOMEM, "remove host interface `%s`", name);
  if (net_nl_open(-1, &sk, err) < 0)
    return tank_error_wrap(err, "remove host interface `%s`", name);
  rtnl_link_set_name(link, name);
  int r = rtnl_link_delete(sk, link);
  if (r < 0) {
    int e = net_nl_errno(r);
    if (e == ENODEV || e == ENOENT)
      return 0;
    return tank_error_set(err, e, "remove host interface `%s`", name);
  }
  return 0;
}
