/* Container cgroups behind one interface: a v1/hybrid driver (one directory per
 * controller hierarchy) and a v2 driver (one unified directory), picked by
 * looking at the cgroup mount. Limits that cannot be applied are errors. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

enum cgroup_version {
  CGROUP_VERSION_AUTO = 0,
  CGROUP_VERSION_1 = 1,
  CGROUP_VERSION_2 = 2,
};

struct cgroup_limits {
  uint64_t memory_bytes;  /* 0: unlimited */
  uint64_t pids;          /* 0: unlimited */
  uint64_t cpu_quota_us;  /* 0: unlimited */
  uint64_t cpu_period_us; /* 0: the default of 100000 */
};

/* Counters and settings as the kernel reports them; a limit of 0 means none.
 * v1 and v2 name and scale them differently; these are the common units. */
struct cgroup_stats {
  uint64_t memory_current_bytes;
  uint64_t memory_peak_bytes;
  uint64_t memory_limit_bytes;
  uint64_t memory_working_set_bytes; /* usage - inactive file pages, as cAdvisor */
  uint64_t memory_cache_bytes;       /* page cache (v1 total_cache, v2 file) */
  uint64_t memory_rss_bytes;         /* anonymous memory (v1 total_rss, v2 anon) */
  uint64_t oom_kills;
  uint64_t pids_current;
  uint64_t pids_limit;
  uint64_t cpu_usage_us;
  uint64_t cpu_user_us;
  uint64_t cpu_system_us;
  uint64_t cpu_nr_periods;
  uint64_t cpu_nr_throttled;
  uint64_t cpu_throttled_us;
  uint64_t cpu_quota_us; /* 0: no quota */
  uint64_t cpu_period_us;
  uint64_t io_read_bytes; /* summed over devices */
  uint64_t io_write_bytes;
  uint64_t io_read_ops;
  uint64_t io_write_ops;
};

struct tank_cgroup;

/* Which hierarchy is mounted at root (usually /sys/fs/cgroup). */
int cgroup_detect(const char *root, enum cgroup_version *ret_version, tank_error **err);

/* Creates (or reuses) the cgroup `path` (relative, e.g. "tank/web/app") below root
 * and applies the limits. version AUTO detects. */
int cgroup_create(const char *root, const char *path, enum cgroup_version version,
                  const struct cgroup_limits *limits, struct tank_cgroup **ret_cg,
                  tank_error **err);

/* Opens the existing cgroup `path` below root without creating or changing
 * anything (for reading stats of a cgroup the shim made). -ENOENT when it does
 * not exist (in no hierarchy, on v1). */
int cgroup_open(const char *root, const char *path, enum cgroup_version version,
                struct tank_cgroup **ret_cg, tank_error **err);

enum cgroup_version cgroup_version_of(const struct tank_cgroup *cg);

/* A directory fd for clone3's CLONE_INTO_CGROUP (v2), or -1 (v1). Owned by cg. */
int cgroup_clone_fd(const struct tank_cgroup *cg);

/* Moves pid into the cgroup (every hierarchy on v1). pid 0 moves the calling
 * process, which must be single-threaded: on v1 that skips a lock whose taking
 * waits for an RCU grace period, so a child should rather place itself. */
int cgroup_attach(struct tank_cgroup *cg, pid_t pid, tank_error **err);

int cgroup_read_stats(struct tank_cgroup *cg, struct cgroup_stats *ret_stats, tank_error **err);

/* Only the limits as the kernel holds them (0: none; the period as set even
 * without a quota): a few small reads, for drift checks. */
int cgroup_read_limits(struct tank_cgroup *cg, struct cgroup_limits *ret_limits, tank_error **err);

/* Counts the processes in the cgroup (v1: the pids or freezer hierarchy). */
int cgroup_count_procs(struct tank_cgroup *cg, size_t *ret_n, tank_error **err);

/* SIGKILLs every process in the cgroup: cgroup.kill on v2, freeze + kill + thaw on v1. */
int cgroup_kill(struct tank_cgroup *cg, tank_error **err);

/* Removes the cgroup directories (waits a bounded time for dying processes). */
int cgroup_destroy(struct tank_cgroup *cg, tank_error **err);

struct tank_cgroup *cgroup_free(struct tank_cgroup *cg);
void cgroup_freep(struct tank_cgroup **cg);
#define _cleanup_cgroup_ __attribute__((cleanup(cgroup_freep)))

#define CGROUP_MAX_HIERARCHIES 16

/* Opens (write-only) the file that joins every cgroup `target` is in (v1: `tasks`, v2:
 * cgroup.procs), on every mounted hierarchy (v1 controllers, named ones, the unified one), as seen
 * from our cgroup and mount namespaces, except those where we are in the same cgroup already (a v1
 * migration is not free). A child of ours that writes "0" to each joins exactly the cgroups of
 * target: how an exec'd process joins its container's cgroup without knowing which driver made it.
 */
int cgroup_open_procs_of(pid_t target, int ret_fds[static CGROUP_MAX_HIERARCHIES], size_t *ret_n,
                         tank_error **err);
