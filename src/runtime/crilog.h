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

/* Formats one record into out (size >= len + 64); returns its length. */
size_t cri_format_record(char *out, const struct timespec *ts, enum cri_stream s, char tag,
                         const char *text, size_t len);
