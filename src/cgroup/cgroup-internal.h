/* What the cgroup drivers share: the handle, the driver seam and small file helpers. */
#pragma once

#include "cgroup/cgroup.h"

#define CGROUP_V1_MAX_CTRL 8

struct cgroup_driver {
  const char *name;
  int (*create)(struct tank_cgroup *cg, const struct cgroup_limits *limits, tank_error **err);
  int (*open)(struct tank_cgroup *cg, tank_error **err); /* existing dirs only */
  int (*attach)(struct tank_cgroup *cg, pid_t pid, tank_error **err);
  int (*stats)(struct tank_cgroup *cg, struct cgroup_stats *ret, tank_error **err);
  int (*limits)(struct tank_cgroup *cg, struct cgroup_limits *ret, tank_error **err);
  int (*procs_fd)(struct tank_cgroup *cg); /* dir fd whose cgroup.procs lists every process */
  int (*kill)(struct tank_cgroup *cg, tank_error **err);
  int (*destroy)(struct tank_cgroup *cg, tank_error **err);
};

struct tank_cgroup {
  const struct cgroup_driver *driver;
  enum cgroup_version version;
  char *root;
  char *path;
  int dir_fd; /* v2: the cgroup directory */
  /* v1: one directory per controller hierarchy we use */
  struct {
    const char *name;
    int dir_fd;
  } v1[CGROUP_V1_MAX_CTRL];
  size_t n_v1;
};

extern const struct cgroup_driver cgroup_v1_driver;
extern const struct cgroup_driver cgroup_v2_driver;

/* Writes a short string into dir_fd/name. */
int cg_write(int dir_fd, const char *name, const char *value, tank_error **err);
/* Reads dir_fd/name (small) into buf, NUL-terminated. */
int cg_read(int dir_fd, const char *name, char *buf, size_t size, tank_error **err);
int cg_read_u64(int dir_fd, const char *name, uint64_t *ret, tank_error **err);
/* A limit file: "max" (v2), -1 or a value >= 2^62 (v1's "unlimited") -> 0. */
int cg_read_limit(int dir_fd, const char *name, uint64_t *ret, tank_error **err);
/* Finds "key N" in a flat keyed file's text. */
bool cg_keyed(const char *text, const char *key, uint64_t *ret);
/* mkdir -p of rel below base, returning an O_DIRECTORY fd of the leaf. */
int cg_mkdirs(const char *base, const char *rel, int *ret_fd, tank_error **err);
/* SIGKILLs every pid listed in dir_fd/cgroup.procs; returns how many were signalled. */
int cg_kill_listed(int dir_fd, tank_error **err);
/* rmdir base/rel, retrying for a bounded time while it is busy. */
int cg_rmdir(const char *base, const char *rel, tank_error **err);
/* Docker's default device rules (cgroup-devices.c). */
int cg_device_rules_v1(int devices_dir_fd, tank_error **err);
int cg_device_rules_bpf(int cgroup_dir_fd, tank_error **err);
