/* CRI log writer with in-writer rotation (name, name.1, ... name.N-1). */
#include "runtime/crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

struct cri_log {
  char *path;
  int fd;
  uint64_t size;
  uint64_t max_bytes;
  unsigned max_files;
  char pending[2][CRI_LINE_MAX];
  size_t n_pending[2];
};

size_t
cri_format_record(char *out, const struct timespec *ts, enum cri_stream s, char tag,
                  const char *text, size_t len)
{
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)sprintf(out + n, ".%09ldZ %s %c ", ts->tv_nsec,
                       s == CRI_STDOUT ? "stdout" : "stderr", tag);
  memcpy(out + n, text, len);
  n += len;
  out[n++] = '\n';
  return n;
}

static int
open_current(struct cri_log *log, tank_error **err)
{
  log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (log->fd < 0)
    return tank_error_set(err, errno, "open log `%s`", log->path);
  struct stat st;
  if (fstat(log->fd, &st) < 0)
    return tank_error_set(err, errno, "stat log `%s`", log->path);
  log->size = (uint64_t)st.st_size;
  return 0;
}

int
cri_log_open(const char *path, uint64_t max_bytes, unsigned max_files, struct cri_log **ret,
             tank_error **err)
{
  struct cri_log *log = calloc(1, sizeof *log);
  if (log == NULL || (log->path = strdup(path)) == NULL) {
    free(log);
    return tank_error_set(err, ENOMEM, "log");
  }
  log->max_bytes = max_bytes;
  log->max_files = max_files ? max_files : 1;
  int r = open_current(log, err);
  if (r < 0) {
    cri_log_close(log);
    return r;
  }
  *ret = log;
  return 0;
}

static int
rotate(struct cri_log *log, tank_error **err)
{
  close(log->fd);
  log->fd = -EBADF;
  char from[4096], to[4096];
  if (log->max_files == 1) {
    if (unlink(log->path) < 0 && errno != ENOENT)
      return tank_error_set(err, errno, "rotate log `%s`", log->path);
  } else {
    for (unsigned i = log->max_files - 1; i > 0; i--) {
      if (i == 1)
        snprintf(from, sizeof from, "%s", log->path);
      else
        snprintf(from, sizeof from, "%s.%u", log->path, i - 1);
      snprintf(to, sizeof to, "%s.%u", log->path, i);
      if (rename(from, to) < 0 && errno != ENOENT)
        return tank_error_set(err, errno, "rotate log `%s`", from);
    }
  }
  return open_current(log, err);
}

static int
emit(struct cri_log *log, enum cri_stream s, char tag, const char *text, size_t len,
     tank_error **err)
{
  char rec[CRI_LINE_MAX + 64];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  size_t n = cri_format_record(rec, &ts, s, tag, text, len);
  if (log->size > 0 && log->size + n > log->max_bytes) {
    int r = rotate(log, err);
    if (r < 0)
      return r;
  }
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(log->fd, rec + off, n - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "write log `%s`", log->path);
    }
    off += (size_t)w;
  }
  log->size += n;
  return 0;
}

int
cri_log_write(struct cri_log *log, enum cri_stream s, const char *buf, size_t len, tank_error **err)
{
  char *pend = log->pending[s];
  size_t *np = &log->n_pending[s];
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '\n') {
      int r = emit(log, s, 'F', pend, *np, err);
      *np = 0;
      if (r < 0)
        return r;
      continue;
    }
    pend[(*np)++] = buf[i];
    if (*np == CRI_LINE_MAX) {
      int r = emit(log, s, 'P', pend, *np, err);
      *np = 0;
      if (r < 0)
        return r;
    }
  }
  return 0;
}

int
cri_log_flush(struct cri_log *log, enum cri_stream s, tank_error **err)
{
  if (log->n_pending[s] == 0)
    return 0;
  int r = emit(log, s, 'F', log->pending[s], log->n_pending[s], err);
  log->n_pending[s] = 0;
  return r;
}

struct cri_log *
cri_log_close(struct cri_log *log)
{
  if (log == NULL)
    return NULL;
  if (log->fd >= 0)
    close(log->fd);
  free(log->path);
  free(log);
  return NULL;
}
