/* A pod's network, configured and observed from the host: loopback, macvlan
 * NICs, addresses, routes. Setup is idempotent, so it also repairs drift. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct nl_sock;

#include "net/netconf.h"
#include "util/error.h"

#define NET_DRIFT_MAX 64

/* What differs between a pod's namespace and its config, one line per finding
 * ("nic eth0: address 10.0.0.5/24 missing"). n == 0: in sync. */
struct net_drift {
  char **problems;
  size_t n;
  size_t dropped; /* findings beyond NET_DRIFT_MAX */
};

void net_drift_clear(struct net_drift *d);

/* Brings the namespace of netns_fd in line with c: lo up; for each NIC a macvlan
 * on its parent (in the caller's namespace, the host) created inside the pod's
 * namespace, or kept when one of that name already matches, or replaced when it
 * does not; addresses and routes added or replaced. Extra addresses or routes
 * in the pod are left alone. For SPEC_NET_HOST it does nothing. */
int net_pod_setup(int netns_fd, const char *pod, const struct net_config *c,
                  const struct net_host *host, tank_error **err);

/* Observes the namespace of netns_fd and fills *ret with every way it differs
 * from c (links present, kind, mode, parent, mac, mtu, up; addresses; routes). */
int net_pod_check(int netns_fd, const char *pod, const struct net_config *c,
                  const struct net_host *host, struct net_drift *ret, tank_error **err);

/* The parent a NIC is created on: its own, else host->uplink, else the interface
 * of the caller's default route (written into buf, IFNAMSIZ bytes). */
int net_nic_parent(struct nl_sock *host_sk, const struct net_nic *nic, const struct net_host *host,
                   char buf[16], tank_error **err);

/* The MAC a NIC gets: its `mac:`, else derived from pod name and index. false
 * for passthru without `mac:` (the kernel gives it the parent's). */
bool net_nic_expected_mac(const char *pod, const struct net_config *c, size_t i, uint8_t ret[6]);
