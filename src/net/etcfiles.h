/* The per-pod /etc/resolv.conf, /etc/hosts and /etc/hostname: rendered as text
 * (pure, unit-tested) and written atomically under the pod's run dir. */
#pragma once

#include "net/netconf.h"
#include "util/error.h"

/* Limit on the host's resolv.conf we read. */
#define NET_HOST_RESOLV_MAX (64 * 1024)

/* resolv.conf for a pod. host_resolv is the text of the host's resolv.conf (may be
 * NULL). Without `dns:`, nameservers come from host_resolv (loopback ones dropped
 * unless the pod shares the host's network: a pod cannot reach the host's stub
 * resolver); search and options from c when given, else from host_resolv. In
 * host mode without `dns:`, the host's file verbatim. Caller frees *ret. */
int net_render_resolv_conf(const struct net_config *c, const char *host_resolv, char **ret,
                           tank_error **err);

/* hosts: localhost for both families, then each of the pod's addresses → pod
 * name (127.0.1.1 when it has none). */
int net_render_hosts(const char *pod, const struct net_config *c, char **ret, tank_error **err);

/* Writes resolv.conf, hosts and hostname into dir (created 0755 when missing),
 * each through a temporary file and rename. */
int net_write_etc_files(const char *dir, const char *pod, const struct net_config *c,
                        const struct net_host *host, tank_error **err);
