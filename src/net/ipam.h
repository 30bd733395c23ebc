/* IPAM: address pools from the daemon config, allocations kept in the store
 * under /tank/ipam/<pool>/<addr> (value "<pod>/<nic>"), taken with
 * create-if-absent compare-and-swap, so allocators on one store (two tankd on
 * one etcd, or racing threads) never hand out one address twice. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "net/netconf.h"
#include "store/store.h"
#include "util/error.h"

#define IPAM_PREFIX          "/tank/ipam/"
#define IPAM_MAX_ALLOCATIONS 65536 /* per pool: more is a corrupt or hostile store */
#define IPAM_MAX_RESERVED    1024
#define IPAM_MAX_DNS         NET_MAX_DNS

struct ipam_pool {
  char *name;            /* a DNS label */
  struct spec_ip subnet; /* with prefix, e.g. 10.0.0.0/24 */
  bool has_range;        /* false: the whole subnet (IPv4 without network and broadcast) */
  struct spec_ip range_start, range_end; /* inclusive */
  bool has_gateway;
  struct spec_ip gateway; /* never handed out */
  struct spec_ip *dns;
  size_t n_dns;
  struct spec_ip *reserved; /* never handed out */
  size_t n_reserved;
};

void ipam_pool_clear(struct ipam_pool *p);
int ipam_pool_validate(const struct ipam_pool *p, tank_error **err);

/* The address (with the subnet's prefix) of pod/nic in the pool: the one it
 * already holds (a pod keeps its address across restarts and re-creations),
 * else the lowest free one in the range. Exhaustion: -ENOSPC, "pool `lan`
 * exhausted: all N addresses in use". */
int ipam_allocate(tank_store *s, const struct ipam_pool *p, const char *pod, const char *nic,
                  struct spec_ip *ret, tank_error **err);

/* What pod/nic holds in the pool, without allocating: 1 and *ret, or 0. */
int ipam_lookup(tank_store *s, const struct ipam_pool *p, const char *pod, const char *nic,
                struct spec_ip *ret, tank_error **err);

/* Releases every address the pod holds, in every pool (on pod delete). Each
 * delete is conditional on the entry's revision, so an address re-taken by
 * someone else meanwhile stays theirs. *ret_released (may be NULL): how many. */
int ipam_release(tank_store *s, const char *pod, size_t *ret_released, tank_error **err);

/* Fills a NIC that names a pool (`ip: {pool: NAME}`): allocates its address,
 * and takes the pool's gateway when the NIC has none of that family and the
 * pool's dns when the pod gives none. */
int ipam_fill_nic(tank_store *s, const struct ipam_pool *p, const char *pod, struct net_config *c,
                  size_t nic_index, tank_error **err);
