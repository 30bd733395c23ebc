/* Pod sandboxes: the network, UTS and IPC namespaces of a pod, held open by bind
 * mounts on $RUN/pods/<pod>/ns/{net,uts,ipc} (no pause process), with the pod's
 * network configured and its /etc files written to $RUN/pods/<pod>/etc/. */
#pragma once

#include <stdbool.h>

#include "net/ipam.h"
#include "net/netconf.h"
#include "net/podnet.h"
#include "util/error.h"

#define SANDBOX_POD_NAME_MAX 63

enum sandbox_ns {
  SANDBOX_NS_NET = 0,
  SANDBOX_NS_UTS,
  SANDBOX_NS_IPC,
  SANDBOX_NS_COUNT,
};

/* "net", "uts", "ipc". */
const char *sandbox_ns_name(enum sandbox_ns ns);

/* $run_dir/pods/<pod>/ns/<name>, the file a container joins with setns();
 * in host mode the net file holds the host's namespace. Caller frees. */
char *sandbox_ns_path(const char *run_dir, const char *pod, enum sandbox_ns ns);
/* $run_dir/pods/<pod>/etc: resolv.conf, hosts, hostname. Caller frees. */
char *sandbox_etc_dir(const char *run_dir, const char *pod);

/* Creates the sandbox: a short-lived helper process (clone, so a multi-threaded
 * caller never unshares itself) enters new UTS and IPC namespaces (and a network
 * namespace unless net->mode is host), sets the hostname to the pod name, binds
 * its namespaces onto the ns files and exits; then the network is configured
 * from the host side and the /etc files are written. -EEXIST when the sandbox
 * exists; on any other failure nothing is left behind. */
int sandbox_create(const char *run_dir, const char *pod, const struct net_config *net,
                   const struct net_host *host, tank_error **err);

/* Whether the pod's three namespace files are bound. */
bool sandbox_exists(const char *run_dir, const char *pod);

/* Observed state against the spec: namespaces still bound, then the network
 * (net_pod_check). ret->n == 0 means the sandbox matches. */
int sandbox_check(const char *run_dir, const char *pod, const struct net_config *net,
                  const struct net_host *host, struct net_drift *ret, tank_error **err);

/* Repairs network drift in place (links, addresses, routes re-created) and
 * rewrites the /etc files. A sandbox whose namespaces are gone must be destroyed
 * and created again (-ENOENT). */
int sandbox_repair(const char *run_dir, const char *pod, const struct net_config *net,
                   const struct net_host *host, tank_error **err);

/* Unmounts the namespace files (the netns and its macvlans go with the last
 * reference), removes them and the /etc files, and the pod dir when empty.
 * Idempotent: a sandbox half made or already gone is fine. */
int sandbox_destroy(const char *run_dir, const char *pod, tank_error **err);

/* The same at the level of a pod spec, for tankd's driver: the network config
 * is built from the spec with NICs that name a pool filled from IPAM. */
struct sandbox_env {
  const char *run_dir;
  struct net_host host;
  tank_store *store; /* for IPAM; may be NULL when no pool is configured */
  const struct ipam_pool *pools;
  size_t n_pools;
};

int sandbox_create_pod(const struct sandbox_env *env, const struct spec_pod *pod, tank_error **err);
int sandbox_check_pod(const struct sandbox_env *env, const struct spec_pod *pod,
                      struct net_drift *ret, tank_error **err);
int sandbox_repair_pod(const struct sandbox_env *env, const struct spec_pod *pod, tank_error **err);
/* release_addresses: the pod is deleted (not just rebuilt): its IPAM addresses
 * go back to their pools. */
int sandbox_destroy_pod(const struct sandbox_env *env, const char *pod, bool release_addresses,
                        tank_error **err);
