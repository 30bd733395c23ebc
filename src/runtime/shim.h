/* tank-shim's work once started: create the container, then watch it (logs,
 * attach, stop signal + grace + SIGKILL of the cgroup), record how it ended
 * in exit.json and tear down what was made for it. */
#pragma once

#include "runtime/config.h"

/* Runs the container described by c (taken over). ready_fd (or -1) receives
 * "ok <pid>\n" once the workload has exec'd, or "err <message>\n". Returns the
 * exit code the shim should exit with: the container's (128+signal when killed),
 * or 125/126/127 when the container could not be started. */
int shim_run(struct container_config *c, int ready_fd);
