/* The container log in the CRI line format ("<RFC3339Nano> <stream> <F|P> <text>"),
 * rotated by the writer itself: at most max_files files of max_bytes each. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/error.h"

#define CRI_LINE_MAX 8192 /* longer lines are split into P records */

enum cri_stream { CRI_STDOUT = 0, CRI_STDERR = 1 };

struct cri_log;

int cri_log_open(const char *path, uint64_t max_bytes, unsigned max_files, struct cri_log **ret,
                 tank_error **err);
/* Appends stream data; complete lines become F records, overlong ones P records. */
int cri_log_write(struct cri_log *log, enum cri_stream s, const char *buf, size_t len,
                  tank_error **err);
/* Writes out a pending partial line (end of stream). */
int cri_log_flush(struct cri_log *log, enum cri_stream s, tank_error **err);
struct cri_log *cri_log_close(struct cri_log *log);

/* The rotated files of a log: the indexes N of every "<base>.N" in dir_fd
 * (N >= 1), ascending. *ret is NULL when there are none. Caller frees. */
int cri_log_list_rotated(int dir_fd, const char *base, unsigned **ret, size_t *ret_n,
                         tank_error **err);

/* The path where crilog_retire keeps the previous run's log:
 * "<dir>/<ctr>.log" -> "<dir>/<ctr>.previous.log" (a path not ending in .log
 * gets ".previous" appended). Its rotated files keep their ".N" suffixes.
 * Caller frees; NULL on allocation failure. */
char *crilog_previous_path(const char *path);

/* Keeps the log of a run that has ended as the "previous" log (what
 * `tank logs --previous` reads): deletes the old previous set, then renames
 * path -> previous path and path.N -> previous.N. tankd calls it before it
 * starts a container again, when no shim writes the log any more; a reader
 * following the log sees the renames as a rotation and carries on with the new
 * run. When path does not exist (the container never ran since the last
 * retire), nothing changes. At most the configured max_files are kept per run,
 * so a container's logs take at most 2 x max_files x max_bytes on disk. */
int crilog_retire(const char *path, tank_error **err);

/* Formats one record into out (size >= len + 64); returns its length. */
size_t cri_format_record(char *out, const struct timespec *ts, enum cri_stream s, char tag,
                         const char *text, size_t len);
