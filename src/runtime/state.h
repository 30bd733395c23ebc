/* state.json and exit.json in a container's state dir, each written atomically
 * (temporary file, rename) so a reader never sees half a document. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

int state_write_json(const char *dir, const char *name, json_t *doc, tank_error **err);

/* Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot, which
 * tells a reused PID from the process that was recorded. */
int proc_start_time(pid_t pid, uint64_t *ret, tank_error **err);

/* Reaps the child behind pidfd if it has exited (WNOHANG): true with its
 * exit code (128+signal when killed) and the signal (0 when it exited). */
bool proc_reap_pidfd(int pidfd, int *ret_code, int *ret_signal);

/* RFC 3339 UTC with nanoseconds, of now. */
void rfc3339_now(char buf[static 40]);
