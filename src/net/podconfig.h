/* From a pod spec to the network config the sandbox is built from: the spec's
 * `network:` section, with each `ip: {pool: NAME}` NIC given its IPAM address
 * (the one it holds, else a new one), gateway and dns. */
#pragma once

#include "net/ipam.h"
#include "net/netconf.h"
#include "spec/spec.h"
#include "store/store.h"

/* s may be NULL when no NIC names a pool. -ENOENT for a pool not in pools,
 * -ENOSPC for an exhausted one (the error says which). */
int net_config_for_pod(const struct spec_pod *pod, tank_store *s, const struct ipam_pool *pools,
                       size_t n_pools, struct net_config *ret, tank_error **err);
