/* etcd resilience: a 3-member cluster on 127.0.0.1:23810-23815. Killing one
 * member (the leader, which also serves the open watch) does not stop writes or
 * break the watch; killing two makes calls fail "unavailable" within the
 * timeout; restarting them resumes the watch without a missed or doubled event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <unistd.h>

#include "etcd_harness.h"
#include "store/store.h"

#define FIRST_PORT 23810
#define PER_PHASE  10

static struct etcd_member members[3];
static char base_dir[] = "/tmp/tkst-cluster.XXXXXX";

static void
put_seq(tank_store *s, int from, int to)
{
  for (int i = from; i < to; i++) {
    char key[32], val[16];
    snprintf(key, sizeof key, "/res/%03d", i);
    snprintf(val, sizeof val, "%d", i);
    tank_error *err = NULL;
    int64_t t0 = harness_now_us();
    if (tank_store_put(s, key, val, strlen(val), 0, NULL, &err) < 0)
      fail_msg("put %s: %s", key, err->msg);
    int64_t ms = (harness_now_us() - t0) / 1000;
    if (ms > 300)
      print_message("put %s took %lld ms (failover)\n", key, (long long)ms);
  }
}

static void
expect_seq(tank_store_watch *w, int from, int to, int64_t *last_rev, int timeout_ms)
{
  struct tank_store_event ev[PER_PHASE + 1] = { 0 };
  tank_error *err = NULL;
  int want = to - from;
  int n = watch_collect(w, ev, want, timeout_ms, &err);
  if (n < 0)
    fail_msg("watch: %s", err->msg);
  if (n != want)
    fail_msg("watch delivered %d of events %d..%d", n, from, to - 1);
  for (int i = 0; i < n; i++) {
    char key[32];
    snprintf(key, sizeof key, "/res/%03d", from + i);
    assert_string_equal(ev[i].key, key);
    assert_true(ev[i].rev > *last_rev);
    *last_rev = ev[i].rev;
    tank_store_event_clear(&ev[i]);
  }
}

static void
test_kill_one_then_two(void **state)
{
  char url[256];
  etcd_members_url(members, 3, -1, "timeout_ms=5000", url, sizeof url);
  if (etcd_wait_writable(url, 30000) < 0)
    fail_msg("cluster did not come up; logs in %s", base_dir);
  int leader = etcd_leader(members, 3);
  assert_true(leader >= 0);
  /* Leader first: the watch streams from the member killed first. */
  etcd_members_url(members, 3, leader, "timeout_ms=5000", url, sizeof url);
  tank_store *s = NULL;
  tank_store_watch *w = NULL;
  tank_error *err = NULL;
  assert_int_equal(tank_store_open(url, &s, &err), 0);
  assert_int_equal(tank_store_watch_open(s, "/res/", 0, &w, &err), 0);
  int64_t last_rev = 0;

  put_seq(s, 0, PER_PHASE);
  expect_seq(w, 0, PER_PHASE, &last_rev, 5000);

  print_message("killing leader %s\n", members[leader].name);
  etcd_member_stop(&members[leader], SIGKILL);
  put_seq(s, PER_PHASE, 2 * PER_PHASE);
  expect_seq(w, PER_PHASE, 2 * PER_PHASE, &last_rev, 10000);

  int second = (leader + 1) % 3;
  print_message("killing %s: no quorum\n", members[second].name);
  etcd_member_stop(&members[second], SIGKILL);
  char short_url[256];
  etcd_members_url(members, 3, -1, "timeout_ms=1500", short_url, sizeof short_url);
  tank_store *s2 = NULL;
  assert_int_equal(tank_store_open(short_url, &s2, &err), 0);
  int64_t t0 = harness_now_us();
  int r = tank_store_put(s2, "/res-outside/x", "1", 1, 0, NULL, &err);
  int64_t put_ms = (harness_now_us() - t0) / 1000;
  assert_int_equal(r, -TANK_STORE_EUNAVAILABLE);
  print_message("put without quorum: %lld ms: %s\n", (long long)put_ms, err->msg);
  assert_non_null(strstr(err->msg, "etcd unavailable after 1500 ms"));
  err = tank_error_free(err);
  assert_true(put_ms <= 1500 + 500);
  struct tank_store_kv kv;
  t0 = harness_now_us();
  r = tank_store_get(s2, "/res/000", &kv, &err);
  int64_t get_ms = (harness_now_us() - t0) / 1000;
  assert_int_equal(r, -TANK_STORE_EUNAVAILABLE);
  assert_true(get_ms <= 1500 + 500);
  err = tank_error_free(err);
  tank_store_close(s2);

  print_message("restarting %s and %s\n", members[leader].name, members[second].name);
  assert_int_equal(etcd_member_start(members, 3, (size_t)leader), 0);
  assert_int_equal(etcd_member_start(members, 3, (size_t)second), 0);
  if (etcd_wait_writable(url, 30000) < 0)
    fail_msg("cluster did not recover; logs in %s", base_dir);
  put_seq(s, 2 * PER_PHASE, 3 * PER_PHASE);
  expect_seq(w, 2 * PER_PHASE, 3 * PER_PHASE, &last_rev, 15000);
  /* Nothing doubled: no event beyond the last one. */
  struct tank_store_event extra[1];
  assert_int_equal(watch_collect(w, extra, 1, 500, &err), 0);

  tank_store_watch_free(w);
  tank_store_close(s);
}

static int
cluster_setup(void **state)
{
  if (mkdtemp(base_dir) == NULL)
    return -1;
  etcd_members_init(members, 3, base_dir, FIRST_PORT);
  for (size_t i = 0; i < 3; i++)
    if (etcd_member_start(members, 3, i) < 0)
      return -1;
  return 0;
}

static int
cluster_teardown(void **state)
{
  for (size_t i = 0; i < 3; i++)
    etcd_member_stop(&members[i], SIGTERM);
  rm_rf(base_dir);
  return 0;
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kill_one_then_two),
  };
  return cmocka_run_group_tests(tests, cluster_setup, cluster_teardown);
}
