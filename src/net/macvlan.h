/* macvlan links: created on a host uplink directly inside their target network
 * namespace under their final name, already up. */
#pragma once

#include <stdint.h>

#include <netlink/netlink.h>

#include "spec/spec.h"
#include "util/error.h"

/* Creates macvlan `name` on parent_ifindex (an index in host_sk's namespace)
 * inside the namespace of netns_fd (-1: host_sk's own). mac NULL: the kernel
 * picks one (passthru: the parent's); mtu 0: the parent's. */
int net_macvlan_create(struct nl_sock *host_sk, int parent_ifindex, int netns_fd, const char *name,
                       enum spec_macvlan_mode mode, const uint8_t *mac, unsigned mtu,
                       tank_error **err);

/* The kernel's MACVLAN_MODE_* value for a spec mode. */
uint32_t net_macvlan_kernel_mode(enum spec_macvlan_mode mode);

/* "bridge", "private", "vepa", "passthru". */
const char *net_macvlan_mode_name(enum spec_macvlan_mode mode);
/* The inverse; -EINVAL for any other word. */
int net_macvlan_mode_parse(const char *s, enum spec_macvlan_mode *ret);
