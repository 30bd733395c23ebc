/* The CRI log reader: record and time parsing, tail, since, follow across
 * rotation (written by the shim's own writer), the previous run's log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/crilog.h"
#include "runtime/logread.h"

static char dir[256];
static char path[512];

static int
setup(void **state)
{
  snprintf(dir, sizeof dir, "/tmp/tank-logread.XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/app.log", dir);
  return 0;
}

static int
teardown(void **state)
{
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

/* Everything the reader has for now, as one string. */
static char *
read_all(struct log_reader *r)
{
  size_t len = 0, cap = 4096;
  char *out = malloc(cap);
  char buf[7]; /* small, so output is cut across calls */
  tank_error *err = NULL;
  ssize_t n;
  while ((n = log_reader_read(r, buf, sizeof buf, &err)) > 0) {
    if (len + (size_t)n + 1 > cap)
      out = realloc(out, cap *= 2);
    memcpy(out + len, buf, (size_t)n);
    len += (size_t)n;
  }
  assert_int_equal(n, 0);
  out[len] = '\0';
  return out;
}

static char *
read_log(const char *p, int64_t tail, int64_t since_ns, bool timestamps)
{
  struct log_read_options o
      = { .since_ns = since_ns, .tail_lines = tail, .timestamps = timestamps };
  struct log_reader *r = NULL;
  tank_error *err = NULL;
  if (log_reader_open(p, &o, &r, &err) < 0)
    fail_msg("%s", err->msg);
  char *s = read_all(r);
  log_reader_free(r);
  return s;
}

static void
write_file(const char *name, const char *content)
{
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static size_t
count_files(void)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* "line 0\n" ... "line n-1\n" */
static char *
lines(int from, int to)
{
  char *s = calloc(1, (size_t)(to - from) * 16 + 1);
  for (int i = from; i < to; i++)
    sprintf(s + strlen(s), "line %d\n", i);
  return s;
}

static void
write_lines(struct cri_log *log, int from, int to)
{
  tank_error *err = NULL;
  char buf[32];
  for (int i = from; i < to; i++) {
    int n = snprintf(buf, sizeof buf, "line %d\n", i);
    assert_int_equal(cri_log_write(log, i % 3 ? CRI_STDOUT : CRI_STDERR, buf, (size_t)n, &err), 0);
  }
}

/* ---- parsing ------------------------------------------------------------------ */

static void
test_parse_record(void **state)
{
  struct cri_record r;
  const char *l = "2024-05-01T10:00:00.123456789Z stdout F hello world";
  assert_int_equal(cri_parse_record(l, strlen(l), &r), 0);
  assert_int_equal(r.stream, CRI_STDOUT);
  assert_false(r.partial);
  assert_int_equal(r.len, 11);
  assert_memory_equal(r.text, "hello world", 11);
  assert_int_equal(r.time_len, 30);
  assert_true(r.time_ns == 1714557600123456789LL);

  l = "2024-05-01T10:00:00Z stderr P ";
  assert_int_equal(cri_parse_record(l, strlen(l), &r), 0);
  assert_int_equal(r.stream, CRI_STDERR);
  assert_true(r.partial);
  assert_int_equal(r.len, 0);
  l = "2024-05-01T10:00:00Z stdout F"; /* empty text without the space */
  assert_int_equal(cri_parse_record(l, strlen(l), &r), 0);
  assert_int_equal(r.len, 0);

  const char *bad[] = { "",
                        "hello",
                        "2024-05-01T10:00:00Z stdin F x",
                        "2024-05-01T10:00:00Z stdout X x",
                        "2024-05-01T10:00:00Z stdout Fx",
                        "2024-13-01T10:00:00Z stdout F x",
                        "2024-02-30T10:00:00Z stdout F x",
                        "2024-05-01 10:00:00Z stdout F x",
                        "2024-05-01T10:00:00 stdout F x",
                        "2024-05-01T10:00:00.Z stdout F x",
                        "2024-05-01T10:00:00.1234567890Z stdout F x" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(cri_parse_record(bad[i], strlen(bad[i]), &r), -EINVAL);
}

static void
test_parse_time(void **state)
{
  int64_t t;
  assert_int_equal(log_parse_time("1970-01-01T00:00:01Z", 20, &t), 0);
  assert_true(t == 1000000000LL);
  assert_int_equal(log_parse_time("1970-01-01T01:00:01.5+01:00", 27, &t), 0);
  assert_true(t == 1500000000LL);
  assert_int_equal(log_parse_time("1970-01-01T00:00:01.25-00:30", 28, &t), 0);
  assert_true(t == 1801250000000LL);
  assert_int_equal(log_parse_time("1969-12-31T23:59:59Z", 20, &t), -EINVAL);

  int64_t now = 1000LL * 1000000000LL;
  assert_int_equal(log_parse_since("90s", now, &t), 0);
  assert_true(t == 910LL * 1000000000LL);
  assert_int_equal(log_parse_since("1m30s", now, &t), 0);
  assert_true(t == 910LL * 1000000000LL);
  assert_int_equal(log_parse_since("250ms", now, &t), 0);
  assert_true(t == now - 250000000LL);
  assert_int_equal(log_parse_since("0.5h", now, &t), 0);
  assert_true(t == 0); /* clamped at the epoch */
  assert_int_equal(log_parse_since("2024-05-01T10:00:00Z", now, &t), 0);
  assert_true(t == 1714557600LL * 1000000000LL);
  assert_int_equal(log_parse_since("10", now, &t), -EINVAL);
  assert_int_equal(log_parse_since("s", now, &t), -EINVAL);
  assert_int_equal(log_parse_since("-5s", now, &t), -EINVAL);
  assert_int_equal(log_parse_since("5x", now, &t), -EINVAL);
  assert_int_equal(log_parse_since("", now, &t), -EINVAL);
}

/* ---- reading ------------------------------------------------------------------ */

static void
test_read_across_rotation(void **state)
{
  struct cri_log *log = NULL;
  tank_error *err = NULL;
  assert_int_equal(cri_log_open(path, 4096, 4, &log, &err), 0);
  write_lines(log, 0, 400); /* ~50 bytes a record: several rotations */
  cri_log_close(log);
  assert_int_equal(count_files(), 4);
  /* The oldest lines are gone with the files rotated away; what is left is
   * contiguous, in order and ends with the last line. */
  char *all = read_log(path, -1, 0, false);
  int first;
  assert_int_equal(sscanf(all, "line %d", &first), 1);
  assert_true(first > 0);
  char *expect = lines(first, 400);
  assert_string_equal(all, expect);
  free(expect);
  free(all);

  char *t = read_log(path, 5, 0, false);
  expect = lines(395, 400);
  assert_string_equal(t, expect);
  free(expect);
  free(t);
  /* Tail reaching back into an older file. */
  t = read_log(path, 100, 0, false);
  expect = lines(300, 400);
  assert_string_equal(t, expect);
  free(expect);
  free(t);
  t = read_log(path, 0, 0, false);
  assert_string_equal(t, "");
  free(t);
  t = read_log(path, 100000, 0, false);
  expect = lines(first, 400);
  assert_string_equal(t, expect);
  free(expect);
  free(t);
}

static void
test_partial_lines_and_timestamps(void **state)
{
  write_file("app.log", "2024-05-01T10:00:00.000000001Z stdout P hel\n"
                        "2024-05-01T10:00:00.000000002Z stderr F err line\n"
                        "2024-05-01T10:00:00.000000003Z stdout P lo \n"
                        "garbage that is not a record\n"
                        "2024-05-01T10:00:00.000000004Z stdout F world\n"
                        "2024-05-01T10:00:01Z stdout F \n"
                        "2024-05-01T10:00:02Z stdout P unfinished");
  char *s = read_log(path, -1, 0, false);
  assert_string_equal(s, "err line\nhello world\n\n");
  free(s);
  s = read_log(path, -1, 0, true);
  assert_string_equal(s, "2024-05-01T10:00:00.000000002Z err line\n"
                         "2024-05-01T10:00:00.000000001Z hello world\n"
                         "2024-05-01T10:00:01Z \n");
  free(s);
  s = read_log(path, 1, 0, false);
  assert_string_equal(s, "\n");
  free(s);
  /* The tail starts after an F record: a long line of one stream whose first
   * P records come before another stream's last line outside the tail loses
   * them (a documented limit); here the tail reaches back past it. */
  s = read_log(path, 3, 0, false);
  assert_string_equal(s, "err line\nhello world\n\n");
  free(s);
}

static void
test_since(void **state)
{
  write_file("app.log.2", "2024-05-01T10:00:00Z stdout F a\n2024-05-01T10:00:01Z stdout F b\n");
  write_file("app.log.1", "2024-05-01T10:00:02Z stdout F c\n2024-05-01T10:00:03Z stdout F d\n");
  write_file("app.log", "2024-05-01T10:00:04Z stdout F e\n2024-05-01T10:00:05Z stdout F f\n");
  int64_t t;
  assert_int_equal(log_parse_time("2024-05-01T10:00:03Z", 20, &t), 0);
  char *s = read_log(path, -1, t, false);
  assert_string_equal(s, "d\ne\nf\n");
  free(s);
  s = read_log(path, 2, t, false);
  assert_string_equal(s, "e\nf\n");
  free(s);
  s = read_log(path, 5, t, false);
  assert_string_equal(s, "d\ne\nf\n");
  free(s);
  assert_int_equal(log_parse_time("2024-05-01T10:00:00.5Z", 22, &t), 0);
  s = read_log(path, -1, t, false);
  assert_string_equal(s, "b\nc\nd\ne\nf\n");
  free(s);
  assert_int_equal(log_parse_time("2030-01-01T00:00:00Z", 20, &t), 0);
  s = read_log(path, -1, t, false);
  assert_string_equal(s, "");
  free(s);
}

static bool
readable_within(int fd, int ms)
{
  struct pollfd p = { fd, POLLIN, 0 };
  return poll(&p, 1, ms) == 1;
}

/* Follows while the writer rotates many times between reads: every line once. */
static void
follow_rotation(unsigned max_files)
{
  struct cri_log *log = NULL;
  tank_error *err = NULL;
  assert_int_equal(cri_log_open(path, 4096, max_files, &log, &err), 0);
  write_lines(log, 0, 10);
  struct log_read_options o = { .tail_lines = 3, .follow = true };
  struct log_reader *r = NULL;
  assert_int_equal(log_reader_open(path, &o, &r, &err), 0);
  assert_true(log_reader_fd(r) >= 0);
  char *s = read_all(r);
  char *expect = lines(7, 10);
  assert_string_equal(s, expect);
  free(s);
  free(expect);
  assert_false(readable_within(log_reader_fd(r), 0));

  int next = 10;
  size_t total = 0, cap = 1 << 20;
  char *got = calloc(1, cap);
  for (int round = 0; round < 40; round++) {
    /* Between reads: from one line to about one rotation (60 lines ≈ 3.6 KiB). */
    int n = 1 + (round * 7) % 60;
    write_lines(log, next, next + n);
    next += n;
    assert_true(readable_within(log_reader_fd(r), 100));
    s = read_all(r);
    assert_true(total + strlen(s) < cap);
    memcpy(got + total, s, strlen(s));
    total += strlen(s);
    free(s);
  }
  expect = lines(10, next);
  if (strcmp(got, expect) != 0) {
    size_t i = 0;
    while (got[i] == expect[i])
      i++;
    fail_msg("differs at %zu: got `%.40s` expected `%.40s`", i, got + (i > 20 ? i - 20 : 0),
             expect + (i > 20 ? i - 20 : 0));
  }
  free(expect);
  free(got);
  cri_log_close(log);
  log_reader_free(r);
  assert_true(count_files() <= max_files);
}

static void
test_follow_rotation(void **state)
{
  follow_rotation(3);
}

static void
test_follow_rotation_single_file(void **state)
{
  follow_rotation(1);
}

static void
test_follow_waits_for_the_first_file(void **state)
{
  struct log_read_options o = { .tail_lines = -1, .follow = true };
  struct log_reader *r = NULL;
  tank_error *err = NULL;
  assert_int_equal(log_reader_open(path, &o, &r, &err), 0);
  char *s = read_all(r);
  assert_string_equal(s, "");
  free(s);
  struct cri_log *log = NULL;
  assert_int_equal(cri_log_open(path, 1 << 20, 2, &log, &err), 0);
  write_lines(log, 0, 2);
  assert_true(readable_within(log_reader_fd(r), 100));
  s = read_all(r);
  assert_string_equal(s, "line 0\nline 1\n");
  free(s);
  cri_log_close(log);
  log_reader_free(r);

  /* Without follow, a missing directory is an error, a missing file an empty log. */
  assert_int_equal(log_reader_open("/nonexistent/x.log", &o, &r, &err), -ENOENT);
  err = tank_error_free(err);
}

static void
test_previous(void **state)
{
  tank_error *err = NULL;
  char *prev = crilog_previous_path(path);
  char expect_prev[600];
  snprintf(expect_prev, sizeof expect_prev, "%s/app.previous.log", dir);
  assert_string_equal(prev, expect_prev);
  /* Nothing ran yet: retire is a no-op. */
  assert_int_equal(crilog_retire(path, &err), 0);
  assert_int_equal(count_files(), 0);

  struct cri_log *log = NULL;
  assert_int_equal(cri_log_open(path, 4096, 3, &log, &err), 0);
  write_lines(log, 0, 200); /* run 1: three files */
  cri_log_close(log);

  /* A follower of run 1 carries on into run 2. */
  struct log_read_options o = { .tail_lines = 1, .follow = true };
  struct log_reader *r = NULL;
  assert_int_equal(log_reader_open(path, &o, &r, &err), 0);
  char *s = read_all(r);
  assert_string_equal(s, "line 199\n");
  free(s);

  assert_int_equal(crilog_retire(path, &err), 0);
  assert_int_equal(count_files(), 3);
  char *run1 = read_log(prev, -1, 0, false);
  assert_non_null(strstr(run1, "line 199\n"));
  free(run1);
  s = read_log(path, -1, 0, false);
  assert_string_equal(s, "");
  free(s);

  assert_int_equal(cri_log_open(path, 4096, 3, &log, &err), 0);
  write_lines(log, 1000, 1003); /* run 2 */
  cri_log_close(log);
  assert_true(readable_within(log_reader_fd(r), 100));
  s = read_all(r);
  assert_string_equal(s, "line 1000\nline 1001\nline 1002\n");
  free(s);
  log_reader_free(r);

  /* Run 3: the previous log is run 2's, and run 1's files are gone. */
  assert_int_equal(crilog_retire(path, &err), 0);
  assert_int_equal(cri_log_open(path, 4096, 3, &log, &err), 0);
  write_lines(log, 2000, 2001);
  cri_log_close(log);
  s = read_log(prev, -1, 0, false);
  assert_string_equal(s, "line 1000\nline 1001\nline 1002\n");
  free(s);
  s = read_log(path, -1, 0, false);
  assert_string_equal(s, "line 2000\n");
  free(s);
  assert_int_equal(count_files(), 2);
  free(prev);
}

static void
test_long_lines(void **state)
{
  /* The writer cuts a 20000-byte line into P records; the reader joins them. */
  struct cri_log *log = NULL;
  tank_error *err = NULL;
  assert_int_equal(cri_log_open(path, 1 << 20, 2, &log, &err), 0);
  char *big = malloc(20001);
  for (int i = 0; i < 20000; i++)
    big[i] = (char)('a' + i % 26);
  big[20000] = '\n';
  assert_int_equal(cri_log_write(log, CRI_STDOUT, "short\n", 6, &err), 0);
  assert_int_equal(cri_log_write(log, CRI_STDOUT, big, 20001, &err), 0);
  cri_log_close(log);
  char *s = read_log(path, 1, 0, false);
  assert_int_equal(strlen(s), 20001);
  assert_memory_equal(s, big, 20001);
  free(s);
  s = read_log(path, 2, 0, false);
  assert_int_equal(strlen(s), 20007);
  free(s);
  free(big);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_record),
    cmocka_unit_test(test_parse_time),
    cmocka_unit_test_setup_teardown(test_read_across_rotation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_partial_lines_and_timestamps, setup, teardown),
    cmocka_unit_test_setup_teardown(test_since, setup, teardown),
    cmocka_unit_test_setup_teardown(test_follow_rotation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_follow_rotation_single_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_follow_waits_for_the_first_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_previous, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
