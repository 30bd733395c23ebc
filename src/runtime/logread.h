/* Reading container logs written by crilog.c: one CRI record's fields, and a
 * reader over a rotated set (name.N ... name.1, name: oldest first) with tail,
 * since and follow across rotation, producing the lines as a user sees them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/crilog.h"
#include "util/error.h"

#define LOG_LINE_MAX (1024 * 1024) /* a longer run of P records is cut into lines */

struct cri_record {
  int64_t time_ns; /* since the epoch */
  const char *time;
  size_t time_len; /* the timestamp as written */
  enum cri_stream stream;
  bool partial; /* a P record: the line goes on in the next record of its stream */
  const char *text;
  size_t len;
};

/* Parses one record "<RFC3339Nano> <stdout|stderr> <F|P> <text>" (without its
 * newline); the pointers in ret point into line. Returns 0 or -EINVAL. */
int cri_parse_record(const char *line, size_t len, struct cri_record *ret);

/* RFC 3339 ("2024-05-01T10:00:00Z", optional fraction of up to 9 digits,
 * Z or +hh:mm/-hh:mm) to nanoseconds since the epoch. Returns 0 or -EINVAL. */
int log_parse_time(const char *s, size_t len, int64_t *ret_ns);

/* --since: an RFC 3339 time, or a duration before now_ns in Go's syntax
 * ("90s", "5m", "1h30m", "1.5h", "250ms"). Returns 0 or -EINVAL. */
int log_parse_since(const char *s, int64_t now_ns, int64_t *ret_ns);

struct log_read_options {
  int64_t since_ns;   /* lines older than this are skipped; 0: none */
  int64_t tail_lines; /* only the last N lines; < 0: all. The tail starts after
                       * the (N+1)-th F record from the end, so a long line whose
                       * P records interleave with the other stream's lines just
                       * there loses its head. */
  bool timestamps;    /* each line starts with its record's timestamp and a space */
  bool follow;        /* keep reading as the log grows and rotates */
};

struct log_reader;

/* Opens the log at path (its rotated files beside it). -ENOENT when the
 * directory does not exist; an empty directory is an empty log. */
int log_reader_open(const char *path, const struct log_read_options *opt, struct log_reader **ret,
                    tank_error **err);

/* Copies up to size bytes of output (whole lines, "text\n", possibly cut
 * across calls) into buf. Returns the number of bytes, or 0 when nothing is
 * left: the end of the log, or, when following, nothing new for now (wait
 * until log_reader_fd is readable, then call again). A P record without its F
 * is held back while following and printed as a line at the end otherwise. */
ssize_t log_reader_read(struct log_reader *r, char *buf, size_t size, tank_error **err);

/* When following: an inotify fd (non-blocking) that becomes readable when the
 * log's directory changes; log_reader_read drains it. -1 otherwise. */
int log_reader_fd(const struct log_reader *r);

struct log_reader *log_reader_free(struct log_reader *r);
