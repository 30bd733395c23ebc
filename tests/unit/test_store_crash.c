/* Crash safety of the SQLite store: a writer process is SIGKILLed at random
 * points of a put loop, many times; every put it acknowledged must be there
 * afterwards and the file must pass SQLite's integrity check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd_harness.h"
#include "store/store.h"

#define KILLS 40

static void
make_value(char *buf, size_t size, uint32_t seq)
{
  /* A few hundred bytes, like a pod spec; the length varies with seq. */
  size_t n = (size_t)snprintf(buf, size, "seq=%u;", seq);
  size_t want = 64 + seq % 400;
  for (; n < want && n + 1 < size; n++)
    buf[n] = (char)('a' + (seq + n) % 26);
  buf[n] = '\0';
}

/* The writer: puts /crash/<seq> from start on, writing each seq to the pipe
 * only after the put returned. Never returns. */
static void
writer(const char *url, int ack_fd, uint32_t start)
{
  tank_store *s = NULL;
  tank_error *err = NULL;
  if (tank_store_open(url, &s, &err) < 0)
    _exit(10);
  char key[64], value[512];
  for (uint32_t seq = start;; seq++) {
    snprintf(key, sizeof key, "/crash/%08u", seq);
    make_value(value, sizeof value, seq);
    if (tank_store_put(s, key, value, strlen(value), 0, NULL, &err) < 0)
      _exit(11);
    if (write(ack_fd, &seq, sizeof seq) != sizeof seq)
      _exit(12);
  }
}

static int
read_acks(int fd, uint32_t *acked, int64_t *n_acked, uint32_t *max_seq)
{
  uint32_t seq;
  ssize_t r;
  while ((r = read(fd, &seq, sizeof seq)) == sizeof seq) {
    acked[(*n_acked)++ % 100000] = seq;
    if (seq > *max_seq)
      *max_seq = seq;
  }
  return (int)r;
}

static void
check_integrity(const char *path)
{
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  /* The revision counter and the history agree (written in one transaction). */
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT (SELECT rev FROM meta) = (SELECT max(rev) FROM "
                                      "history), (SELECT count(*) FROM kv WHERE mod_rev > "
                                      "(SELECT rev FROM meta))",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  assert_int_equal(sqlite3_column_int(st, 1), 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void
crash_loop(const char *sync)
{
  char dir[] = "/tmp/tkst-crash.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], url[200];
  snprintf(path, sizeof path, "%s/state.db", dir);
  snprintf(url, sizeof url, "sqlite:%s?sync=%s", path, sync);
  static uint32_t acked[100000];
  uint32_t next = 1, max_seq = 0;
  int64_t total_acked = 0;
  srand((unsigned)harness_now_us());
  for (int kill_no = 0; kill_no < KILLS; kill_no++) {
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      writer(url, fds[1], next);
    }
    close(fds[1]);
    int64_t n_acked = 0;
    /* Let it write for 2..40 ms (in the middle of some put), then kill it. */
    int64_t deadline = harness_now_us() + 2000 + rand() % 38000;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    for (;;) {
      int64_t left_ms = (deadline - harness_now_us()) / 1000;
      if (left_ms <= 0)
        break;
      struct pollfd p = { .fd = fds[0], .events = POLLIN };
      poll(&p, 1, (int)left_ms);
      read_acks(fds[0], acked, &n_acked, &max_seq);
    }
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
      fail_msg("writer exited early with status 0x%x", st);
    /* Acks already in the pipe were acknowledged before the kill. */
    read_acks(fds[0], acked, &n_acked, &max_seq);
    close(fds[0]);
    assert_true(n_acked < 100000);
    total_acked += n_acked;

    check_integrity(path);
    tank_store *s = NULL;
    tank_error *err = NULL;
    if (tank_store_open(url, &s, &err) < 0)
      fail_msg("reopen after kill %d: %s", kill_no, err->msg);
    for (int64_t i = 0; i < n_acked; i++) {
      char key[64], value[512];
      snprintf(key, sizeof key, "/crash/%08u", acked[i]);
      make_value(value, sizeof value, acked[i]);
      struct tank_store_kv kv;
      if (tank_store_get(s, key, &kv, &err) < 0)
        fail_msg("kill %d: acknowledged put %s lost: %s", kill_no, key, err->msg);
      assert_int_equal(kv.value_len, strlen(value));
      assert_memory_equal(kv.value, value, kv.value_len);
      tank_store_kv_clear(&kv);
    }
    tank_store_close(s);
    next = max_seq + 1;
  }
  print_message("sync=%s: %d kills, %lld acknowledged puts, none lost\n", sync, KILLS,
                (long long)total_acked);
  assert_true(total_acked > KILLS); /* the writer really wrote between kills */
  rm_rf(dir);
}

static void
test_sigkill_sync_full(void **state)
{
  crash_loop("full");
}

static void
test_sigkill_sync_normal(void **state)
{
  crash_loop("normal");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sigkill_sync_full),
    cmocka_unit_test(test_sigkill_sync_normal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
