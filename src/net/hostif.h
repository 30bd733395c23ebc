/* The host interface (`host_interface:` in the daemon config): a macvlan on the
 * uplink in the host's own namespace, carrying a host address, so the host can
 * reach its pods. A macvlan child never talks to its parent; two macvlans of
 * one parent in bridge mode do. See docs/networking.md. */
#pragma once

#include <stddef.h>

#include "net/netconf.h"
#include "util/error.h"

struct net_host_interface {
  char *name;   /* e.g. tank0 */
  char *parent; /* NULL: the configured or auto-detected uplink */
  struct spec_ip *ips;
  size_t n_ips;
  struct net_route *routes; /* e.g. the pods' subnet, or single pod addresses */
  size_t n_routes;
};

void net_host_interface_clear(struct net_host_interface *hi);

/* Creates the interface in the caller's namespace (bridge mode, up) unless it
 * exists, then adds its addresses and routes. Idempotent. */
int net_host_interface_up(const struct net_host_interface *hi, const struct net_host *host,
                          tank_error **err);

/* Deletes it; absent is fine. */
int net_host_interface_down(const char *name, tank_error **err);
