/* Creation of the container process: a checkpointed clone (clone3 where the
 * kernel has it) into new namespaces, parked on a sync pipe while the shim puts
 * it in its cgroup, then the child builds its root and execs. Any failure comes
 * back tagged with its stage: "stage=pivot_root errno=ENOENT: ...". */
#pragma once

#include <sys/types.h>

#include "cgroup/cgroup.h"
#include "runtime/config.h"
#include "runtime/process.h"
#include "util/error.h"

struct spawn_stdio {
  int in, out, err; /* become the container's 0, 1, 2 */
  bool tty;         /* `in` is a PTY slave: make it the controlling terminal */
};

/* On success *ret_pid and *ret_pidfd name the container's init. cg may be NULL. */
int container_spawn(const struct container_config *c, const struct process_plan *plan,
                    struct tank_cgroup *cg, const struct spawn_stdio *io, pid_t *ret_pid,
                    int *ret_pidfd, tank_error **err);
