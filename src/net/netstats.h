/* Interface counters of a network namespace (a pod's), as /proc/net/dev shows
 * them from inside it. Read on a short-lived thread that enters the namespace,
 * so the caller's threads never change namespace. */
#pragma once

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct net_dev_stats {
  char name[IF_NAMESIZE];
  uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
  uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

/* Parses the text of /proc/net/dev. Returns 0 or -EINVAL (no header). *ret is
 * NULL when there is no interface. Caller frees. */
int net_dev_stats_parse(const char *text, struct net_dev_stats **ret, size_t *ret_n);

/* The counters of every interface in the namespace of netns_path (a file like
 * $RUN/pods/<pod>/ns/net), or of the caller's when netns_path is NULL. */
int net_dev_stats_read(const char *netns_path, struct net_dev_stats **ret, size_t *ret_n,
                       tank_error **err);
