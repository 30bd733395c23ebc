/* The network configuration of one pod as the network code consumes it: the
 * spec's `network:` section plus the fields the spec does not carry yet (routes,
 * mtu, dns search/options), and the host-wide settings from the daemon config. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

/* Limits on what a spec can make grow. */
#define NET_MAX_NICS        16
#define NET_MAX_IPS_PER_NIC 16
#define NET_MAX_ROUTES      64
#define NET_MAX_DNS         8
#define NET_MAX_SEARCH      16
#define NET_MAX_OPTIONS     16
#define NET_MAX_DNS_TEXT    253 /* one search domain or option */
#define NET_IFNAME_MAX      15  /* IFNAMSIZ - 1 */
#define NET_MTU_MIN         68
#define NET_MTU_MAX         65535

struct net_route {
  struct spec_ip dst; /* with prefix; 0.0.0.0/0 or ::/0 is a default route */
  bool has_via;
  struct spec_ip via; /* gateway; without it the route is on-link */
};

struct net_nic {
  char *name;   /* name inside the pod, e.g. eth0 */
  char *parent; /* host uplink; NULL: the configured or auto-detected uplink */
  enum spec_macvlan_mode macvlan_mode;
  struct spec_ip *ips; /* with prefix lengths */
  size_t n_ips;
  bool has_gw4, has_gw6;
  struct spec_ip gw4, gw6; /* default route per family */
  struct net_route *routes;
  size_t n_routes;
  unsigned mtu; /* 0: the parent's */
  bool has_mac; /* false: derived from pod name + NIC index (passthru: the parent's) */
  uint8_t mac[6];
};

struct net_config {
  enum spec_network_mode mode;
  struct net_nic *nics;
  size_t n_nics;
  bool has_dns; /* false: the host's resolvers */
  struct spec_ip *dns;
  size_t n_dns;
  char **search;
  size_t n_search;
  char **options;
  size_t n_options;
};

/* Host-wide settings (daemon config). Every path is overridable for tests. */
struct net_host {
  const char *uplink;           /* NULL: the interface of the host's default route */
  const char *host_resolv_conf; /* NULL: /etc/resolv.conf */
};

void net_config_clear(struct net_config *c);

/* Copies what the spec carries today (mode, NICs, addresses, gateways, mac,
 * dns) into *ret. NICs with `ip: {pool: ...}` get their addresses later from
 * IPAM (net_nic_add_ip). */
int net_config_from_spec(const struct spec_network *sn, struct net_config *ret, tank_error **err);

/* Checks names, limits, families and that each gateway lies in one of its NIC's
 * subnets. The error names the NIC and the field. */
int net_config_validate(const struct net_config *c, tank_error **err);

int net_nic_add_ip(struct net_nic *nic, const struct spec_ip *ip, tank_error **err);

/* The stable MAC of a NIC without `mac:`: locally administered unicast, from a
 * hash of the pod name and the NIC index. Never change this function: DHCP
 * reservations and ARP caches on the LAN depend on its output. */
void net_stable_mac(const char *pod, size_t nic_index, uint8_t ret_mac[6]);

bool net_ifname_valid(const char *name);
