/* The CRI log reader: files are opened newest first and deduplicated by inode,
 * so a rotation while we look can only show a file twice, never hide one; a
 * follower notices rotation when the name no longer leads to the file it reads,
 * finishes that file (the writer rotates only between whole records) and then
 * opens the newer ones. */
#include "runtime/logread.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define LOG_MAX_FILES   1024
#define READ_CHUNK      (64 * 1024)
#define RECORD_MAX      (CRI_LINE_MAX + 256) /* the longest record we expect... */
#define RECORD_HARD_MAX (LOG_LINE_MAX)       /* ...and the longest we keep before skipping */

/* ---- parsing ----------------------------------------------------------------- */

static bool
digits(const char *s, size_t n, int *ret)
{
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  *ret = v;
  return true;
}

int
log_parse_time(const char *s, size_t len, int64_t *ret_ns)
{
  int year, mon, day, hour, min, sec;
  /* 2006-01-02T15:04:05 */
  if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':'
      || s[16] != ':' || !digits(s, 4, &year) || !digits(s + 5, 2, &mon) || !digits(s + 8, 2, &day)
      || !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &min) || !digits(s + 17, 2, &sec))
    return -EINVAL;
  if (year < 1970 || year > 2200 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23
      || min > 59 || sec > 60)
    return -EINVAL;
  size_t i = 19;
  int64_t frac = 0;
  if (s[i] == '.') {
    size_t nd = 0;
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
      if (nd < 9)
        frac = frac * 10 + (s[i] - '0');
    if (nd == 0 || nd > 9)
      return -EINVAL;
    for (; nd < 9; nd++)
      frac *= 10;
  }
  int64_t offset_s = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
      return -EINVAL;
    offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return -EINVAL;
  }
  if (i != len)
    return -EINVAL;
  struct tm tm = { .tm_year = year - 1900,
                   .tm_mon = mon - 1,
                   .tm_mday = day,
                   .tm_hour = hour,
                   .tm_min = min,
                   .tm_sec = sec };
  time_t t = timegm(&tm);
  if (t == (time_t)-1 || tm.tm_mday != day) /* 31 April and the like */
    return -EINVAL;
  int64_t secs = (int64_t)t - offset_s;
  if (secs < 0)
    return -EINVAL;
  *ret_ns = secs * 1000000000LL + frac;
  return 0;
}

int
log_parse_since(const char *s, int64_t now_ns, int64_t *ret_ns)
{
  size_t len = strlen(s);
  if (log_parse_time(s, len, ret_ns) == 0)
    return 0;
  static const struct {
    const char *unit;
    double ns;
  } units[] = { { "ns", 1 },  { "us", 1e3 }, { "µs", 1e3 },   { "ms", 1e6 },
                { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 } };
  if (len == 0 || len > 64)
    return -EINVAL;
  double total = 0;
  const char *p = s;
  while (*p) {
    char *end;
    if (!((*p >= '0' && *p <= '9') || *p == '.'))
      return -EINVAL;
    double v = strtod(p, &end);
    if (end == p)
      return -EINVAL;
    p = end;
    size_t best = 0, which = 0;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
      size_t ul = strlen(units[u].unit);
      if (strncmp(p, units[u].unit, ul) == 0 && ul > best) {
        best = ul;
        which = u;
      }
    }
    if (best == 0)
      return -EINVAL;
    total += v * units[which].ns;
    p += best;
  }
  if (total > (double)now_ns)
    total = (double)now_ns;
  *ret_ns = now_ns - (int64_t)total;
  return 0;
}

int
cri_parse_record(const char *line, size_t len, struct cri_record *ret)
{
  const char *sp = memchr(line, ' ', len);
  if (sp == NULL)
    return -EINVAL;
  struct cri_record r = { .time = line, .time_len = (size_t)(sp - line) };
  if (log_parse_time(line, r.time_len, &r.time_ns) < 0)
    return -EINVAL;
  const char *p = sp + 1, *end = line + len;
  if (end - p >= 7 && memcmp(p, "stdout ", 7) == 0)
    r.stream = CRI_STDOUT;
  else if (end - p >= 7 && memcmp(p, "stderr ", 7) == 0)
    r.stream = CRI_STDERR;
  else
    return -EINVAL;
  p += 7;
  if (p == end || (*p != 'F' && *p != 'P'))
    return -EINVAL;
  r.partial = *p == 'P';
  p++;
  if (p < end) {
    if (*p != ' ')
      return -EINVAL;
    p++;
  }
  r.text = p;
  r.len = (size_t)(end - p);
  *ret = r;
  return 0;
}

/* ---- the reader ---------------------------------------------------------------- */

struct log_file {
  int fd;
  dev_t dev;
  ino_t ino;
};

struct buf {
  char *data;
  size_t len, cap;
};

struct pending_line {
  struct buf text;
  char time[64];
  size_t time_len;
  int64_t time_ns;
  bool active;
};

struct log_reader {
  int dir_fd;
  char *base;
  struct log_read_options opt;
  struct log_file *files; /* oldest first; files[cur] is being read */
  size_t n_files, cur;
  int inotify_fd;
  struct buf in; /* bytes of the current file not yet split into lines */
  bool skipping; /* in a line longer than RECORD_HARD_MAX: drop it to its newline */
  struct pending_line pend[2];
  struct buf out;
  size_t out_off;
};

static void
buf_append(struct buf *b, const void *data, size_t n)
{
  if (n == 0)
    return; /* data may be NULL then (an empty pending line) */
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
      abort();
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

static void
emit_line(struct log_reader *r, const char *time, size_t time_len, int64_t time_ns, const char *a,
          size_t alen, const char *b, size_t blen)
{
  if (r->opt.since_ns > 0 && time_ns < r->opt.since_ns)
    return;
  if (r->opt.timestamps) {
    buf_append(&r->out, time, time_len);
    buf_append(&r->out, " ", 1);
  }
  buf_append(&r->out, a, alen);
  buf_append(&r->out, b, blen);
  buf_append(&r->out, "\n", 1);
}

static void
flush_pending(struct log_reader *r, struct pending_line *p)
{
  if (!p->active)
    return;
  emit_line(r, p->time, p->time_len, p->time_ns, p->text.data, p->text.len, "", 0);
  p->text.len = 0;
  p->active = false;
}

static void
process_record(struct log_reader *r, const char *line, size_t len)
{
  struct cri_record rec;
  if (cri_parse_record(line, len, &rec) < 0)
    return; /* not a record (a foreign or damaged line): skipped */
  struct pending_line *p = &r->pend[rec.stream];
  if (!rec.partial) {
    if (p->active) {
      emit_line(r, p->time, p->time_len, p->time_ns, p->text.data, p->text.len, rec.text, rec.len);
      p->text.len = 0;
      p->active = false;
    } else {
      emit_line(r, rec.time, rec.time_len, rec.time_ns, rec.text, rec.len, "", 0);
    }
    return;
  }
  if (!p->active) {
    p->active = true;
    p->time_len = rec.time_len < sizeof p->time ? rec.time_len : sizeof p->time;
    memcpy(p->time, rec.time, p->time_len);
    p->time_ns = rec.time_ns;
  }
  buf_append(&p->text, rec.text, rec.len);
  if (p->text.len >= LOG_LINE_MAX)
    flush_pending(r, p);
}

/* Splits r->in into records; keeps an incomplete last line. */
static void
process_input(struct log_reader *r)
{
  size_t start = 0;
  while (start < r->in.len) {
    char *nl = memchr(r->in.data + start, '\n', r->in.len - start);
    if (nl == NULL)
      break;
    size_t end = (size_t)(nl - r->in.data);
    if (!r->skipping)
      process_record(r, r->in.data + start, end - start);
    r->skipping = false;
    start = end + 1;
  }
  memmove(r->in.data, r->in.data + start, r->in.len - start);
  r->in.len -= start;
  if (r->in.len > RECORD_HARD_MAX) {
    r->in.len = 0;
    r->skipping = true;
  }
}

static void
close_file(struct log_file *f)
{
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -EBADF;
}

/* Only files we hold open count: a closed file's inode number may already
 * belong to a new file. */
static bool
known(const struct log_file *v, size_t n, const struct stat *st)
{
  for (size_t i = 0; i < n; i++)
    if (v[i].fd >= 0 && v[i].dev == st->st_dev && v[i].ino == st->st_ino)
      return true;
  return false;
}

/* Opens base, base.1, base.2, ... (newest first) until `stop` (a file already
 * being read) is met or the names run out; appends the new ones to *v. */
static int
open_newest_first(struct log_reader *r, const struct log_file *stop, struct log_file **v, size_t *n,
                  tank_error **err)
{
  _cleanup_free_ unsigned *idx = NULL;
  size_t n_idx = 0;
  int ret = cri_log_list_rotated(r->dir_fd, r->base, &idx, &n_idx, err);
  if (ret < 0)
    return ret;
  char name[4096];
  for (size_t k = 0; k <= n_idx && *n < LOG_MAX_FILES; k++) {
    if (k == 0)
      snprintf(name, sizeof name, "%s", r->base);
    else
      snprintf(name, sizeof name, "%s.%u", r->base, idx[k - 1]);
    int fd = openat(r->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT)
        continue; /* rotated away meanwhile: it shows up under a later name */
      return tank_error_set(err, errno, "open log `%s`", name);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      continue;
    }
    if (stop && stop->dev == st.st_dev && stop->ino == st.st_ino) {
      close(fd);
      break;
    }
    if (known(*v, *n, &st) || known(r->files, r->n_files, &st)) {
      close(fd);
      continue;
    }
    struct log_file *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (nv == NULL) {
      close(fd);
      return tank_error_set(err, ENOMEM, "log files");
    }
    *v = nv;
    (*v)[(*n)++] = (struct log_file){ fd, st.st_dev, st.st_ino };
  }
  return 0;
}

static void
reverse(struct log_file *v, size_t n)
{
  for (size_t i = 0; i < n / 2; i++) {
    struct log_file t = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = t;
  }
}

/* Whether the record starting at off is an F record (ends a line). */
static bool
is_final_record(int fd, off_t off)
{
  char head[96];
  ssize_t n = pread(fd, head, sizeof head, off);
  if (n <= 0)
    return false;
  const char *sp1 = memchr(head, ' ', (size_t)n);
  if (sp1 == NULL || sp1 + 8 >= head + n)
    return false;
  return sp1[7] == ' ' && sp1[8] == 'F';
}

/* Scans fd backwards for the F record that has *need more F records after it
 * (decrementing *need for each one passed). Returns 1 with *ret_off just after
 * that record, or 0 when the file has no more. Bytes after the last newline
 * are an unfinished record and do not count. */
static int
scan_back(int fd, int64_t *need, off_t *ret_off)
{
  struct stat st;
  if (fstat(fd, &st) < 0)
    return 0;
  char *blk = malloc(READ_CHUNK);
  if (blk == NULL)
    abort();
  off_t hi = st.st_size, line_end = -1;
  int found = 0;
  while (hi > 0 && !found) {
    off_t lo = hi > READ_CHUNK ? hi - READ_CHUNK : 0;
    ssize_t n = pread(fd, blk, (size_t)(hi - lo), lo);
    if (n != hi - lo)
      break;
    for (ssize_t i = n - 1; i >= 0 && !found; i--) {
      if (blk[i] != '\n')
        continue;
      off_t nl = lo + i;
      if (line_end >= 0 && is_final_record(fd, nl + 1)) {
        if (*need == 0) {
          *ret_off = line_end + 1;
          found = 1;
        }
        (*need)--;
      }
      line_end = nl;
    }
    hi = lo;
  }
  if (!found && hi == 0 && line_end >= 0 && is_final_record(fd, 0)) {
    if (*need == 0) {
      *ret_off = line_end + 1;
      found = 1;
    }
    (*need)--;
  }
  free(blk);
  return found;
}

/* Positions the reader at the start of the last tail_lines lines. */
static void
seek_tail(struct log_reader *r)
{
  int64_t need = r->opt.tail_lines;
  for (size_t i = r->n_files; i-- > 0;) {
    off_t off;
    if (scan_back(r->files[i].fd, &need, &off)) {
      lseek(r->files[i].fd, off, SEEK_SET);
      r->cur = i;
      return;
    }
  }
  r->cur = 0; /* fewer lines than asked for: all of them */
}

/* The time of the last whole record in fd. */
static bool
last_record_time(int fd, int64_t *ret_ns)
{
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size == 0)
    return false;
  off_t from = st.st_size > 2 * RECORD_MAX ? st.st_size - 2 * RECORD_MAX : 0;
  char *b = malloc(2 * RECORD_MAX);
  if (b == NULL)
    abort();
  bool ok = false;
  ssize_t n = pread(fd, b, (size_t)(st.st_size - from), from);
  ssize_t e = n - 1;
  while (e >= 0 && b[e] != '\n')
    e--;
  if (e >= 0) {
    ssize_t s = e - 1;
    while (s >= 0 && b[s] != '\n')
      s--;
    struct cri_record rec;
    if ((s >= 0 || from == 0) && cri_parse_record(b + s + 1, (size_t)(e - s - 1), &rec) == 0) {
      *ret_ns = rec.time_ns;
      ok = true;
    }
  }
  free(b);
  return ok;
}

/* With since, skips whole files whose last record is older (never the newest). */
static void
skip_old_files(struct log_reader *r)
{
  int64_t t;
  while (r->cur + 1 < r->n_files && last_record_time(r->files[r->cur].fd, &t)
         && t < r->opt.since_ns) {
    close_file(&r->files[r->cur]);
    r->cur++;
  }
}

int
log_reader_open(const char *path, const struct log_read_options *opt, struct log_reader **ret,
                tank_error **err)
{
  _cleanup_free_ char *dir_copy = strdup(path), *base_copy = strdup(path);
  if (dir_copy == NULL || base_copy == NULL)
    return tank_error_set(err, ENOMEM, "log reader");
  struct log_reader *r = calloc(1, sizeof *r);
  if (r == NULL)
    return tank_error_set(err, ENOMEM, "log reader");
  r->opt = *opt;
  r->inotify_fd = -EBADF;
  r->base = strdup(basename(base_copy));
  const char *dir = dirname(dir_copy);
  r->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ret_code;
  if (r->base == NULL) {
    ret_code = tank_error_set(err, ENOMEM, "log reader");
    goto fail;
  }
  if (r->dir_fd < 0) {
    ret_code = tank_error_set(err, errno, "open log directory `%s`", dir);
    goto fail;
  }
  if (opt->follow) {
    /* Watch before listing, so nothing that happens after the listing is missed. */
    r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->inotify_fd < 0
        || inotify_add_watch(r->inotify_fd, dir,
                             IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE
                                 | IN_CLOSE_WRITE)
               < 0) {
      ret_code = tank_error_set(err, errno, "watch log directory `%s`", dir);
      goto fail;
    }
  }
  if ((ret_code = open_newest_first(r, NULL, &r->files, &r->n_files, err)) < 0)
    goto fail;
  reverse(r->files, r->n_files);
  if (opt->tail_lines >= 0 && r->n_files)
    seek_tail(r);
  for (size_t i = 0; i < r->cur; i++)
    close_file(&r->files[i]);
  if (opt->since_ns > 0)
    skip_old_files(r);
  *ret = r;
  return 0;
fail:
  log_reader_free(r);
  return ret_code;
}

int
log_reader_fd(const struct log_reader *r)
{
  return r->inotify_fd >= 0 ? r->inotify_fd : -1;
}

static void
drain_inotify(struct log_reader *r)
{
  if (r->inotify_fd < 0)
    return;
  char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  while (read(r->inotify_fd, ev, sizeof ev) > 0)
    ;
}

/* Following, at the end of the newest file we know: has the name moved on to
 * a newer file? Queues the newer files (oldest first) and returns true. */
static bool
find_newer(struct log_reader *r, tank_error **err)
{
  struct log_file *cur = r->n_files ? &r->files[r->n_files - 1] : NULL;
  struct stat st;
  if (fstatat(r->dir_fd, r->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return false; /* between a retire (or a rotation to one file) and the new file */
  if (cur && cur->dev == st.st_dev && cur->ino == st.st_ino)
    return false;
  struct log_file *newer = NULL;
  size_t n = 0;
  if (open_newest_first(r, cur, &newer, &n, err) < 0 || n == 0) {
    for (size_t i = 0; i < n; i++)
      close_file(&newer[i]);
    free(newer);
    return false;
  }
  reverse(newer, n);
  struct log_file *v = realloc(r->files, (r->n_files + n) * sizeof *v);
  if (v == NULL)
    abort();
  memcpy(v + r->n_files, newer, n * sizeof *v);
  r->files = v;
  r->n_files += n;
  free(newer);
  return true;
}

/* Reads more of the log into r->out. Returns > 0 when it made progress, 0 at
 * the end for now, < 0 on error. */
static int
fill(struct log_reader *r, tank_error **err)
{
  if (r->cur >= r->n_files) {
    /* Done, or following a log that had no file yet. */
    size_t before = r->n_files;
    if (!r->opt.follow || !find_newer(r, err))
      return 0;
    r->cur = before;
    return 1;
  }
  struct log_file *f = &r->files[r->cur];
  if (r->in.cap < r->in.len + READ_CHUNK) {
    char *d = realloc(r->in.data, r->in.len + READ_CHUNK);
    if (d == NULL)
      abort();
    r->in.data = d;
    r->in.cap = r->in.len + READ_CHUNK;
  }
  ssize_t n = read(f->fd, r->in.data + r->in.len, READ_CHUNK);
  if (n < 0) {
    if (errno == EINTR)
      return 1;
    return tank_error_set(err, errno, "read log `%s`", r->base);
  }
  if (n > 0) {
    r->in.len += (size_t)n;
    process_input(r);
    return 1;
  }
  /* End of this file. */
  if (r->cur + 1 < r->n_files) {
    /* An older file is complete: an unfinished record at its end cannot be finished. */
    r->in.len = 0;
    r->skipping = false;
    close_file(f);
    r->cur++;
    return 1;
  }
  if (r->opt.follow) {
    /* The newest file: check for rotation, then read this one to its end once
     * more (the writer finished it before it rotated) before moving on. */
    if (find_newer(r, err))
      return 1;
    return 0;
  }
  flush_pending(r, &r->pend[CRI_STDOUT]);
  flush_pending(r, &r->pend[CRI_STDERR]);
  r->cur = r->n_files; /* done */
  return r->out.len > r->out_off ? 1 : 0;
}

ssize_t
log_reader_read(struct log_reader *r, char *buf, size_t size, tank_error **err)
{
  drain_inotify(r);
  while (r->out.len == r->out_off) {
    r->out.len = r->out_off = 0;
    int p = fill(r, err);
    if (p < 0)
      return p;
    if (p == 0)
      return 0;
  }
  size_t n = r->out.len - r->out_off;
  if (n > size)
    n = size;
  memcpy(buf, r->out.data + r->out_off, n);
  r->out_off += n;
  return (ssize_t)n;
}

struct log_reader *
log_reader_free(struct log_reader *r)
{
  if (r == NULL)
    return NULL;
  for (size_t i = 0; i < r->n_files; i++)
    close_file(&r->files[i]);
  free(r->files);
  if (r->dir_fd >= 0)
    close(r->dir_fd);
  if (r->inotify_fd >= 0)
    close(r->inotify_fd);
  free(r->base);
  free(r->in.data);
  free(r->out.data);
  free(r->pend[0].text.data);
  free(r->pend[1].text.data);
  free(r);
  return NULL;
}
