/* What tankd does to the machine, one blocking call per planned action: images,
 * sandboxes, shims, cgroups and the files under $RUN and $DATA. Every call is
 * made from a worker thread (jobs.h) and touches nothing of the event loop;
 * results go back as plain structs. Also the scan of $RUN that lets a new tankd
 * adopt what the previous one left running. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/sandbox.h"
#include "spec/spec.h"
#include "util/error.h"

struct machine {
  const char *data_dir;
  const char *run_dir;
  const char *cgroup_fs;   /* /sys/fs/cgroup */
  const char *cgroup_root; /* "tank" */
  const char *shim_path;   /* the tank-shim binary */
  const char *tank_path;   /* the full tank CLI (tank-cli), which pulls images for tankd */
  bool offline;            /* never pull; images must be cached */
  struct sandbox_env sandbox;
};

/* The image is in the cache, pulling it if it is not (pull policy
 * IfNotPresent: a cached tag is not re-resolved) with `tank image pull` in a
 * child process; *cancel set stops that child. */
int machine_ensure_image(const struct machine *m, const char *image, const volatile int *cancel,
                         tank_error **err);

/* Creates the pod's sandbox (an existing one is kept) and records the spec it
 * was built from in $RUN/pods/<pod>/sandbox.json. */
int machine_sandbox_create(const struct machine *m, const struct spec_pod *pod, tank_error **err);
/* 1 when the sandbox matches the pod's network, 0 when it drifted. */
int machine_sandbox_check(const struct machine *m, const struct spec_pod *pod, tank_error **err);
int machine_sandbox_repair(const struct machine *m, const struct spec_pod *pod, tank_error **err);
/* Tears the sandbox down with the pod's cgroup and run dir; `deleted` (the pod
 * is gone, not rebuilt) also releases its addresses and removes its volumes,
 * logs and container dirs under $DATA. */
int machine_sandbox_destroy(const struct machine *m, const char *pod, bool deleted,
                            tank_error **err);

/* What tankd keeps of a run beside the shim's own files, in tank.json. */
struct machine_run_record {
  unsigned restarts;
  unsigned failures;
  struct spec_pod *pod; /* the spec the container was started from */
};

struct machine_started {
  pid_t pid, shim_pid;
  uint64_t shim_start_time;
  int64_t started_at_ms;
};

/* Starts pod->containers[index] under a fresh tank-shim: clears the container's
 * state dir, writes tank.json and config.json, creates managed volume dirs and
 * returns once the workload has exec'd. A stage-tagged setup failure is an
 * error whose message the shim wrote. */
int machine_container_start(const struct machine *m, const struct spec_pod *pod, size_t index,
                            const struct machine_run_record *rec, struct machine_started *ret,
                            tank_error **err);

struct machine_exit {
  int exit_code;
  int signal;
  bool oom_killed;
  int64_t started_at_ms, finished_at_ms;
  char *error; /* stage-tagged setup failure, or NULL */
};

/* Reads exit.json: 0, or -ENOENT when the shim wrote none (it died). */
int machine_read_exit(const struct machine *m, const char *pod, const char *container,
                      struct machine_exit *ret, tank_error **err);
void machine_exit_clear(struct machine_exit *e);

/* After a shim died without an exit file: kills whatever is left in the
 * container's cgroup and removes it. */
int machine_container_kill_orphan(const struct machine *m, const char *pod, const char *container,
                                  tank_error **err);
/* Removes the container's state dir and upper dir. */
void machine_container_remove(const struct machine *m, const char *pod, const char *container);
int machine_update_limits(const struct machine *m, const char *pod, const struct spec_container *c,
                          tank_error **err);

/* Compares the container cgroup's limits with the spec's and puts back any
 * that differ: 1 when something was repaired, 0 when all matched. */
int machine_check_limits(const struct machine *m, const char *pod, const struct spec_container *c,
                         tank_error **err);

/* Adoption: what the previous tankd left under $RUN/pods. */
struct machine_found_container {
  char *name;
  struct machine_run_record rec;
  bool exited;              /* exit.json present */
  struct machine_exit exit; /* when exited */
  pid_t pid, shim_pid;      /* when not exited */
  uint64_t shim_start_time;
  int64_t started_at_ms;
};

struct machine_found_pod {
  char *name;
  bool sandbox;
  struct spec_pod *sandbox_pod; /* from sandbox.json; NULL if unrecorded */
  struct machine_found_container *containers;
  size_t n_containers;
};

int machine_scan(const struct machine *m, struct machine_found_pod **ret, size_t *ret_n,
                 tank_error **err);
void machine_found_free(struct machine_found_pod *pods, size_t n);

/* Milliseconds since the epoch of an RFC 3339 UTC time; 0 when malformed. */
int64_t machine_parse_time(const char *s);
