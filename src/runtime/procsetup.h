/* The last steps of every process Tank starts inside a container, shared by the
 * container's init (spawn.c) and `tank exec` (exec.c): the user from the
 * image's own /etc/passwd, the working dir, HOME, no fd of ours, no_new_privs,
 * the seccomp filter, the capability set, default signals, and exec. */
#pragma once

#include <stdbool.h>

#include "runtime/config.h"
#include "runtime/process.h"
#include "util/error.h"

/* Runs with "/" already the container's root. create_cwd makes a missing
 * working dir (a container's init); otherwise it is an error (exec). On
 * failure *ret_stage names the step ("user", "cwd", "seccomp", ...). */
int procsetup_enter(const struct container_config *c, struct process_plan *plan, bool create_cwd,
                    const char **ret_stage, tank_error **err);

/* Every signal back to its default disposition, an empty mask. */
int procsetup_reset_signals(tank_error **err);

/* execvpe with the container's PATH (from the plan's env), not ours. */
int procsetup_exec(const struct process_plan *plan, tank_error **err);
