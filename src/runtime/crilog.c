/* CRI log writer with in-writer rotation (name, name.1, ... name.N-1). */
#include "runtime/crilog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

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
  /* tankd keeps logs under $DATA/logs/<pod>/: the writer makes its directory. */
  _cleanup_free_ char *dir_copy = strdup(path);
  if (dir_copy == NULL)
    return tank_error_set(err, ENOMEM, "log");
  int m = mkdir_parents(dirname(dir_copy), 0700);
  if (m < 0)
    return tank_error_set(err, -m, "log directory of `%s`", path);
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

/* ---- the set of files of one log, and the previous run's ---------------------- */

static int
cmp_unsigned(const void *a, const void *b)
{
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
  return x < y ? -1 : x > y;
}

int
cri_log_list_rotated(int dir_fd, const char *base, unsigned **ret, size_t *ret_n, tank_error **err)
{
  int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open log directory");
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return tank_error_set(err, errno, "read log directory");
  }
  size_t blen = strlen(base), n = 0, cap = 0;
  unsigned *v = NULL;
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *name = de->d_name;
    if (strncmp(name, base, blen) != 0 || name[blen] != '.' || name[blen + 1] < '1'
        || name[blen + 1] > '9')
      continue;
    char *end;
    unsigned long i = strtoul(name + blen + 1, &end, 10);
    if (*end || i > 100000)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      unsigned *nv = realloc(v, cap * sizeof *v);
      if (nv == NULL) {
        free(v);
        closedir(d);
        return tank_error_set(err, ENOMEM, "log files");
      }
      v = nv;
    }
    v[n++] = (unsigned)i;
  }
  closedir(d);
  if (n)
    qsort(v, n, sizeof *v, cmp_unsigned);
  *ret = v;
  *ret_n = n;
  return 0;
}

char *
crilog_previous_path(const char *path)
{
  size_t len = strlen(path);
  char *out = NULL;
  if (len > 4 && strcmp(path + len - 4, ".log") == 0) {
    if (asprintf(&out, "%.*s.previous.log", (int)(len - 4), path) < 0)
      return NULL;
  } else if (asprintf(&out, "%s.previous", path) < 0) {
    return NULL;
  }
  return out;
}

int
crilog_retire(const char *path, tank_error **err)
{
  _cleanup_free_ char *prev = crilog_previous_path(path);
  _cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path);
  if (prev == NULL || dir_copy == NULL || base_copy == NULL)
    return tank_error_set(err, ENOMEM, "retire log");
  const char *dir = dirname(dir_copy), *base = basename(base_copy);
  _cleanup_free_ char *prev_copy = strdup(prev);
  if (prev_copy == NULL)
    return tank_error_set(err, ENOMEM, "retire log");
  const char *prev_base = basename(prev_copy);

  _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? 0 : tank_error_set(err, errno, "open log directory `%s`", dir);
  struct stat st;
  if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : tank_error_set(err, errno, "stat log `%s`", path);

  /* Drop the old previous set, whatever its number of files. */
  _cleanup_free_ unsigned *idx = NULL;
  size_t n = 0;
  int r = cri_log_list_rotated(dfd, prev_base, &idx, &n, err);
  if (r < 0)
    return tank_error_wrap(err, "retire log `%s`", path);
  char from[4096], to[4096];
  for (size_t i = 0; i < n; i++) {
    snprintf(to, sizeof to, "%s.%u", prev_base, idx[i]);
    if (unlinkat(dfd, to, 0) < 0 && errno != ENOENT)
      return tank_error_set(err, errno, "remove old log `%s/%s`", dir, to);
  }
  if (unlinkat(dfd, prev_base, 0) < 0 && errno != ENOENT)
    return tank_error_set(err, errno, "remove old log `%s`", prev);

  free(idx);
  idx = NULL;
  if ((r = cri_log_list_rotated(dfd, base, &idx, &n, err)) < 0)
    return tank_error_wrap(err, "retire log `%s`", path);
  for (size_t i = 0; i < n; i++) {
    snprintf(from, sizeof from, "%s.%u", base, idx[i]);
    snprintf(to, sizeof to, "%s.%u", prev_base, idx[i]);
    if (renameat(dfd, from, dfd, to) < 0 && errno != ENOENT)
      return tank_error_set(err, errno, "retire log `%s/%s`", dir, from);
  }
  if (renameat(dfd, base, dfd, prev_base) < 0)
    return tank_error_set(err, errno, "retire log `%s`", path);
  return 0;
}
