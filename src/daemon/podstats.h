/* Resource use of a pod and its containers, read from the kernel: the pod's
 * and each container's cgroup (tank/<pod>, tank/<pod>/<ctr>, v1 or v2) and the
 * pod network namespace's interface counters. Then the same numbers as the
 * JSON of /v1/stats and as cAdvisor-named Prometheus samples. No daemon state
 * here, so it is unit-tested against a fake cgroup tree. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/prom.h"
#include "cgroup/cgroup.h"
#include "net/netstats.h"

struct podstats_paths {
  const char *cgroup_fs;       /* "/sys/fs/cgroup" */
  const char *cgroup_root;     /* "tank" */
  const char *run_dir;         /* for $RUN/pods/<pod>/ns/net */
  enum cgroup_version version; /* AUTO: detect */
};

struct ctr_sample {
  char *name;
  bool found; /* its cgroup exists (the container runs or ran) */
  struct cgroup_stats cg;
};

struct pod_sample {
  char *name;
  int64_t mono_ns; /* when it was taken (CLOCK_MONOTONIC), for rates */
  bool found;      /* the pod's cgroup exists */
  struct cgroup_stats cg;
  bool has_net; /* the pod has its own network namespace */
  struct net_dev_stats *net;
  size_t n_net;
  struct ctr_sample *ctrs;
  size_t n_ctrs;
};

/* Samples pod `name` with the given containers. Missing cgroups or namespace
 * are not errors (the pod is not running): found/has_net say what was there. */
void podstats_sample(const struct podstats_paths *paths, const char *name, char *const *ctrs,
                     size_t n_ctrs, struct pod_sample *ret);
void pod_sample_clear(struct pod_sample *s);

/* Received and transmitted bytes over every interface but lo. */
void podstats_net_totals(const struct pod_sample *s, uint64_t *ret_rx, uint64_t *ret_tx);

/* {"name", "cpu_percent", "cpu_seconds", "memory_bytes" (working set), ...,
 * "containers": [...]}. cpu_percent (of one CPU) needs an earlier sample of the
 * same pod (may be NULL: then it is null). */
json_t *podstats_json(const struct pod_sample *now, const struct pod_sample *before);

/* cAdvisor-named container_* families over all the samples (one family at a
 * time, every pod and container in it): per container {pod, container} and the
 * pod cgroup as container="", network per {pod, interface}. */
void podstats_prom(struct prom_buf *b, const struct pod_sample *v, size_t n);
