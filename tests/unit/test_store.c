/* The store conformance suite: the same cases run against SQLite (a real file in
 * a temp dir) and against a real etcd this test starts on 127.0.0.1:23800-23801
 * (Debian's etcd-server), so both backends are proven to behave the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd_harness.h"
#include "store/store.h"

#define ETCD_PORT 23800 /* client; the peer port is 23801 */

struct backend {
  const char *name;
  bool etcd;
  char dir[256];
  struct etcd_member member;
  int n_fixtures;
};

struct fixture {
  struct backend *b;
  char url[512];
  char prefix[64];
  tank_store *s;
  char keys[8][256];
  int next_key;
};

static struct backend sqlite_backend = { .name = "sqlite" };
static struct backend etcd_backend = { .name = "etcd", .etcd = true };

static const char *
K(struct fixture *f, const char *suffix)
{
  char *k = f->keys[f->next_key++ % 8];
  snprintf(k, 256, "%s/%s", f->prefix, suffix);
  return k;
}

#define OK(expr)                                                                                   \
  do {                                                                                             \
    tank_error *err_ = NULL;                                                                       \
    tank_error **err = &err_;                                                                      \
    if ((expr) < 0)                                                                                \
      fail_msg("%s: %s", #expr, err_ ? err_->msg : "(no message)");                                \
    tank_error_free(err_);                                                                         \
  } while (0)

/* Expects expr to fail with errno e (and a message). */
#define FAILS(e, expr)                                                                             \
  do {                                                                                             \
    tank_error *err_ = NULL;                                                                       \
    tank_error **err = &err_;                                                                      \
    int r_ = (expr);                                                                               \
    if (r_ != -(e))                                                                                \
      fail_msg("%s: want %s, got %d (%s)", #expr, #e, r_, err_ ? err_->msg : "no error");          \
    assert_non_null(err_);                                                                         \
    assert_int_equal(err_->errnum, e);                                                             \
    tank_error_free(err_);                                                                         \
  } while (0)

static int
backend_setup(void **state)
{
  struct backend *b = *state;
  snprintf(b->dir, sizeof b->dir, "/tmp/tkst-store-%s.XXXXXX", b->name);
  if (mkdtemp(b->dir) == NULL)
    return -1;
  if (!b->etcd)
    return 0;
  etcd_members_init(&b->member, 1, b->dir, ETCD_PORT);
  if (etcd_member_start(&b->member, 1, 0) < 0)
    return -1;
  char url[256];
  etcd_members_url(&b->member, 1, -1, NULL, url, sizeof url);
  if (etcd_wait_writable(url, 20000) < 0) {
    fprintf(stderr, "etcd did not come up on port %d; see %s/etcd.log\n", ETCD_PORT, b->member.dir);
    return -1;
  }
  return 0;
}

static int
backend_teardown(void **state)
{
  struct backend *b = *state;
  if (b->etcd)
    etcd_member_stop(&b->member, SIGTERM);
  rm_rf(b->dir);
  return 0;
}

static int
fixture_setup(void **state)
{
  struct backend *b = *state;
  struct fixture *f = calloc(1, sizeof *f);
  f->b = b;
  int n = b->n_fixtures++;
  snprintf(f->prefix, sizeof f->prefix, "/tkst/t%d", n);
  if (b->etcd)
    etcd_members_url(&b->member, 1, -1, "timeout_ms=5000", f->url, sizeof f->url);
  else
    snprintf(f->url, sizeof f->url, "sqlite:%s/t%d.db", b->dir, n);
  tank_error *err = NULL;
  if (tank_store_open(f->url, &f->s, &err) < 0) {
    fprintf(stderr, "open %s: %s\n", f->url, err->msg);
    tank_error_free(err);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int
fixture_teardown(void **state)
{
  struct fixture *f = *state;
  tank_store_close(f->s);
  free(f);
  return 0;
}

static void
test_put_get_delete(void **state)
{
  struct fixture *f = *state;
  int64_t r1, r2, r3;
  struct tank_store_kv kv;
  OK(tank_store_put(f->s, K(f, "a"), "one", 3, 0, &r1, err));
  OK(tank_store_get(f->s, K(f, "a"), &kv, err));
  assert_int_equal(kv.value_len, 3);
  assert_memory_equal(kv.value, "one", 3);
  assert_int_equal(kv.mod_rev, r1);
  assert_int_equal(kv.create_rev, r1);
  assert_string_equal(kv.key, K(f, "a"));
  tank_store_kv_clear(&kv);

  OK(tank_store_put(f->s, K(f, "a"), "two!", 4, 0, &r2, err));
  assert_true(r2 > r1);
  OK(tank_store_get(f->s, K(f, "a"), &kv, err));
  assert_memory_equal(kv.value, "two!", 4);
  assert_int_equal(kv.mod_rev, r2);
  assert_int_equal(kv.create_rev, r1);
  tank_store_kv_clear(&kv);

  OK(tank_store_put(f->s, K(f, "empty"), "", 0, 0, NULL, err));
  OK(tank_store_get(f->s, K(f, "empty"), &kv, err));
  assert_int_equal(kv.value_len, 0);
  tank_store_kv_clear(&kv);

  OK(tank_store_delete(f->s, K(f, "a"), 0, &r3, err));
  assert_true(r3 > r2);
  FAILS(TANK_STORE_ENOTFOUND, tank_store_get(f->s, K(f, "a"), &kv, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_delete(f->s, K(f, "a"), 0, NULL, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_get(f->s, K(f, "never"), &kv, err));
  FAILS(EINVAL, tank_store_put(f->s, "", "x", 1, 0, NULL, err));
}

static void
test_cas(void **state)
{
  struct fixture *f = *state;
  int64_t r1, r2;
  OK(tank_store_put(f->s, K(f, "c"), "v1", 2, TANK_STORE_REV_ABSENT, &r1, err));
  FAILS(TANK_STORE_ECONFLICT,
        tank_store_put(f->s, K(f, "c"), "v2", 2, TANK_STORE_REV_ABSENT, NULL, err));
  FAILS(TANK_STORE_ECONFLICT, tank_store_put(f->s, K(f, "c"), "v2", 2, r1 + 1000, NULL, err));
  OK(tank_store_put(f->s, K(f, "c"), "v2", 2, r1, &r2, err));
  FAILS(TANK_STORE_ECONFLICT, tank_store_put(f->s, K(f, "c"), "v3", 2, r1, NULL, err));
  FAILS(TANK_STORE_ECONFLICT, tank_store_delete(f->s, K(f, "c"), r1, NULL, err));
  struct tank_store_kv kv;
  OK(tank_store_get(f->s, K(f, "c"), &kv, err));
  assert_memory_equal(kv.value, "v2", 2);
  tank_store_kv_clear(&kv);
  OK(tank_store_delete(f->s, K(f, "c"), r2, NULL, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_delete(f->s, K(f, "c"), r2, NULL, err));
  /* CAS on a key that does not exist is a conflict for put. */
  FAILS(TANK_STORE_ECONFLICT, tank_store_put(f->s, K(f, "c"), "v4", 2, r2, NULL, err));
  OK(tank_store_put(f->s, K(f, "c"), "v5", 2, TANK_STORE_REV_ABSENT, NULL, err));
}

static void
test_list_prefix(void **state)
{
  struct fixture *f = *state;
  int64_t last;
  OK(tank_store_put(f->s, K(f, "pods/b"), "B", 1, 0, NULL, err));
  OK(tank_store_put(f->s, K(f, "pods/a"), "A", 1, 0, NULL, err));
  OK(tank_store_put(f->s, K(f, "pods/c"), "C", 1, 0, NULL, err));
  OK(tank_store_put(f->s, K(f, "podsx"), "X", 1, 0, NULL, err));
  OK(tank_store_put(f->s, K(f, "pod"), "P", 1, 0, &last, err));
  struct tank_store_list l;
  OK(tank_store_list(f->s, K(f, "pods/"), &l, err));
  assert_int_equal(l.n_items, 3);
  assert_string_equal(l.items[0].key, K(f, "pods/a"));
  assert_string_equal(l.items[1].key, K(f, "pods/b"));
  assert_string_equal(l.items[2].key, K(f, "pods/c"));
  assert_memory_equal(l.items[1].value, "B", 1);
  assert_true(l.rev >= last);
  tank_store_list_clear(&l);
  OK(tank_store_list(f->s, K(f, "nothing/"), &l, err));
  assert_int_equal(l.n_items, 0);
  tank_store_list_clear(&l);
  OK(tank_store_list(f->s, f->prefix, &l, err));
  assert_int_equal(l.n_items, 5);
  tank_store_list_clear(&l);
}

static void
free_events(struct tank_store_event *ev, int n)
{
  for (int i = 0; i < n; i++)
    tank_store_event_clear(&ev[i]);
}

static void
test_watch_order(void **state)
{
  struct fixture *f = *state;
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, K(f, "w/"), 0, &w, err));
  int64_t revs[6];
  OK(tank_store_put(f->s, K(f, "w/1"), "a", 1, 0, &revs[0], err));
  OK(tank_store_put(f->s, K(f, "other"), "z", 1, 0, NULL, err)); /* outside the prefix */
  OK(tank_store_put(f->s, K(f, "w/2"), "b", 1, 0, &revs[1], err));
  OK(tank_store_put(f->s, K(f, "w/1"), "c", 1, 0, &revs[2], err));
  OK(tank_store_delete(f->s, K(f, "w/2"), 0, &revs[3], err));
  struct tank_store_event ev[8] = { 0 };
  tank_error *e = NULL;
  int n = watch_collect(w, ev, 4, 5000, &e);
  if (n < 0)
    fail_msg("watch: %s", e->msg);
  assert_int_equal(n, 4);
  const char *keys[] = { K(f, "w/1"), K(f, "w/2"), K(f, "w/1"), K(f, "w/2") };
  (void)keys;
  assert_int_equal(ev[0].type, TANK_STORE_EVENT_PUT);
  assert_string_equal(ev[0].key, K(f, "w/1"));
  assert_memory_equal(ev[0].value, "a", 1);
  assert_string_equal(ev[1].key, K(f, "w/2"));
  assert_memory_equal(ev[2].value, "c", 1);
  assert_int_equal(ev[3].type, TANK_STORE_EVENT_DELETE);
  assert_string_equal(ev[3].key, K(f, "w/2"));
  for (int i = 0; i < 4; i++)
    assert_int_equal(ev[i].rev, revs[i]);
  free_events(ev, n);
  /* Nothing more is pending: the fd does not poll readable and next says 0. */
  struct tank_store_event extra;
  tank_error *e2 = NULL;
  assert_int_equal(tank_store_watch_next(w, &extra, &e2), 0);
  struct pollfd p = { .fd = tank_store_watch_fd(w), .events = POLLIN };
  assert_int_equal(poll(&p, 1, 100), 0);
  tank_store_watch_free(w);
}

static void
test_watch_resume(void **state)
{
  struct fixture *f = *state;
  int64_t revs[5];
  char v[2] = "0";
  for (int i = 0; i < 5; i++) {
    v[0] = (char)('0' + i);
    OK(tank_store_put(f->s, K(f, "r/k"), v, 1, 0, &revs[i], err));
  }
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, K(f, "r/"), revs[2], &w, err));
  struct tank_store_event ev[4] = { 0 };
  tank_error *e = NULL;
  int n = watch_collect(w, ev, 3, 5000, &e);
  if (n < 0)
    fail_msg("watch: %s", e->msg);
  assert_int_equal(n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ev[i].rev, revs[2 + i]);
    assert_int_equal(ev[i].value[0], '2' + i);
  }
  free_events(ev, n);
  tank_store_watch_free(w);
}

static void
test_compaction(void **state)
{
  struct fixture *f = *state;
  int64_t r1, r2, r3;
  OK(tank_store_put(f->s, K(f, "old"), "1", 1, 0, &r1, err));
  OK(tank_store_put(f->s, K(f, "old"), "2", 1, 0, &r2, err));
  OK(tank_store_put(f->s, K(f, "old"), "3", 1, 0, &r3, err));
  OK(tank_store_compact(f->s, r3, err));
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, K(f, "old"), r1, &w, err));
  struct tank_store_event ev[2] = { 0 };
  tank_error *e = NULL;
  int n = watch_collect(w, ev, 1, 5000, &e);
  assert_true(n < 0);
  assert_int_equal(e->errnum, TANK_STORE_ECOMPACTED);
  assert_non_null(strstr(e->msg, "compacted"));
  tank_error_free(e);
  tank_store_watch_free(w);
  /* From the compaction revision on, history is there. */
  OK(tank_store_watch_open(f->s, K(f, "old"), r3, &w, err));
  e = NULL;
  n = watch_collect(w, ev, 1, 5000, &e);
  assert_int_equal(n, 1);
  assert_int_equal(ev[0].rev, r3);
  free_events(ev, n);
  tank_store_watch_free(w);
}

static void
test_large_value(void **state)
{
  struct fixture *f = *state;
  size_t n = TANK_STORE_VALUE_MAX;
  uint8_t *big = malloc(n + 1);
  for (size_t i = 0; i < n + 1; i++)
    big[i] = (uint8_t)(i * 7 + (i >> 9));
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, K(f, "big"), 0, &w, err));
  int64_t rev;
  OK(tank_store_put(f->s, K(f, "big"), big, n, 0, &rev, err));
  struct tank_store_kv kv;
  OK(tank_store_get(f->s, K(f, "big"), &kv, err));
  assert_int_equal(kv.value_len, n);
  assert_memory_equal(kv.value, big, n);
  tank_store_kv_clear(&kv);
  struct tank_store_event ev[1] = { 0 };
  tank_error *e = NULL;
  assert_int_equal(watch_collect(w, ev, 1, 5000, &e), 1);
  assert_int_equal(ev[0].value_len, n);
  assert_memory_equal(ev[0].value, big, n);
  free_events(ev, 1);
  tank_store_watch_free(w);
  FAILS(E2BIG, tank_store_put(f->s, K(f, "big"), big, n + 1, 0, NULL, err));
  free(big);
}

static void
test_binary_values(void **state)
{
  struct fixture *f = *state;
  uint8_t all[512];
  for (size_t i = 0; i < sizeof all; i++)
    all[i] = (uint8_t)(255 - i % 256);
  all[0] = 0;
  for (size_t len = 0; len <= 4; len++) { /* every base64 padding case */
    char key[16];
    snprintf(key, sizeof key, "bin%zu", len);
    OK(tank_store_put(f->s, K(f, key), all, len, 0, NULL, err));
    struct tank_store_kv kv;
    OK(tank_store_get(f->s, K(f, key), &kv, err));
    assert_int_equal(kv.value_len, len);
    if (len)
      assert_memory_equal(kv.value, all, len);
    tank_store_kv_clear(&kv);
  }
  OK(tank_store_put(f->s, K(f, "bin"), all, sizeof all, 0, NULL, err));
  struct tank_store_list l;
  OK(tank_store_list(f->s, K(f, "bin"), &l, err));
  assert_int_equal(l.n_items, 6);
  assert_string_equal(l.items[0].key, K(f, "bin"));
  assert_int_equal(l.items[0].value_len, sizeof all);
  assert_memory_equal(l.items[0].value, all, sizeof all);
  tank_store_list_clear(&l);
  /* Keys with UTF-8 and high bytes. */
  OK(tank_store_put(f->s, K(f, "k\xc3\xa9y\xff"), "x", 1, 0, NULL, err));
  struct tank_store_kv kv;
  OK(tank_store_get(f->s, K(f, "k\xc3\xa9y\xff"), &kv, err));
  tank_store_kv_clear(&kv);
}

/* One process of the two-writer test: own keys plus CAS increments of a shared counter. */
static int
writer_child(const char *url, const char *prefix, int id, int n_keys, int n_incr)
{
  tank_store *s = NULL;
  tank_error *err = NULL;
  if (tank_store_open(url, &s, &err) < 0)
    return 10;
  char key[256], val[32];
  for (int i = 0; i < n_keys; i++) {
    snprintf(key, sizeof key, "%s/p%d/%03d", prefix, id, i);
    snprintf(val, sizeof val, "%d", i);
    if (tank_store_put(s, key, val, strlen(val), 0, NULL, &err) < 0)
      return 11;
    if (i >= n_incr)
      continue;
    snprintf(key, sizeof key, "%s/counter", prefix);
    for (int attempt = 0;; attempt++) {
      struct tank_store_kv kv;
      if (attempt > 1000 || tank_store_get(s, key, &kv, &err) < 0)
        return 12;
      snprintf(val, sizeof val, "%d", atoi((char *)kv.value) + 1);
      int r = tank_store_put(s, key, val, strlen(val), kv.mod_rev, NULL, &err);
      tank_store_kv_clear(&kv);
      if (r >= 0)
        break;
      if (r != -TANK_STORE_ECONFLICT)
        return 13;
      err = tank_error_free(err);
    }
  }
  return 0;
}

static void
test_two_processes(void **state)
{
  struct fixture *f = *state;
  enum { N_KEYS = 40, N_INCR = 20 };
  char prefix[128];
  snprintf(prefix, sizeof prefix, "%s/2p", f->prefix);
  char counter[160];
  snprintf(counter, sizeof counter, "%s/counter", prefix);
  OK(tank_store_put(f->s, counter, "0", 1, 0, NULL, err));
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, prefix, 0, &w, err));
  pid_t pids[2];
  for (int id = 0; id < 2; id++) {
    pids[id] = fork();
    assert_true(pids[id] >= 0);
    if (pids[id] == 0)
      _exit(writer_child(f->url, prefix, id, N_KEYS, N_INCR));
  }
  for (int id = 0; id < 2; id++) {
    int st;
    assert_int_equal(waitpid(pids[id], &st, 0), pids[id]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      fail_msg("writer %d failed with status 0x%x", id, st);
  }
  enum { WANT = 2 * (N_KEYS + N_INCR) };
  struct tank_store_event *ev = calloc(WANT + 1, sizeof *ev);
  tank_error *e = NULL;
  int n = watch_collect(w, ev, WANT + 1, 1000, &e); /* +1: none beyond */
  if (n < 0)
    fail_msg("watch: %s", e->msg);
  assert_int_equal(n, WANT);
  int next_key[2] = { 0, 0 }, incr = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0)
      assert_true(ev[i].rev > ev[i - 1].rev);
    if (strcmp(ev[i].key, counter) == 0) {
      assert_int_equal(atoi((char *)ev[i].value), ++incr); /* each increment seen once, in order */
      continue;
    }
    int id, k;
    assert_memory_equal(ev[i].key, prefix, strlen(prefix));
    assert_int_equal(sscanf(ev[i].key + strlen(prefix), "/p%d/%d", &id, &k), 2);
    assert_int_equal(k, next_key[id]++);
  }
  assert_int_equal(incr, 2 * N_INCR);
  assert_int_equal(next_key[0], N_KEYS);
  assert_int_equal(next_key[1], N_KEYS);
  free_events(ev, n);
  free(ev);
  tank_store_watch_free(w);
}

static void
test_leases(void **state)
{
  struct fixture *f = *state;
  int64_t lease, ttl;
  OK(tank_store_lease_grant(f->s, 30, &lease, err));
  OK(tank_store_put_lease(f->s, K(f, "node"), "up", 2, 0, lease, NULL, err));
  struct tank_store_kv kv;
  OK(tank_store_get(f->s, K(f, "node"), &kv, err));
  assert_int_equal(kv.lease, lease);
  tank_store_kv_clear(&kv);
  OK(tank_store_lease_keepalive(f->s, lease, &ttl, err));
  assert_true(ttl > 0 && ttl <= 30);
  tank_store_watch *w = NULL;
  OK(tank_store_watch_open(f->s, K(f, "node"), 0, &w, err));
  OK(tank_store_lease_revoke(f->s, lease, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_get(f->s, K(f, "node"), &kv, err));
  struct tank_store_event ev[1] = { 0 };
  tank_error *e = NULL;
  assert_int_equal(watch_collect(w, ev, 1, 5000, &e), 1);
  assert_int_equal(ev[0].type, TANK_STORE_EVENT_DELETE);
  free_events(ev, 1);
  tank_store_watch_free(w);
  FAILS(TANK_STORE_ENOTFOUND, tank_store_lease_keepalive(f->s, lease, NULL, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_lease_revoke(f->s, lease, err));
  FAILS(TANK_STORE_ENOTFOUND, tank_store_put_lease(f->s, K(f, "x"), "1", 1, 0, lease, NULL, err));

  /* Expiry: a key on a 2 s lease that nobody keeps alive goes away. */
  OK(tank_store_lease_grant(f->s, 2, &lease, err));
  OK(tank_store_put_lease(f->s, K(f, "short"), "1", 1, 0, lease, NULL, err));
  int64_t deadline = harness_now_us() + 8000000;
  tank_error *ge = NULL;
  int r;
  while ((r = tank_store_get(f->s, K(f, "short"), &kv, &ge)) >= 0 && harness_now_us() < deadline) {
    tank_store_kv_clear(&kv);
    struct timespec ts = { 0, 100 * 1000000 };
    nanosleep(&ts, NULL);
  }
  if (r >= 0)
    tank_store_kv_clear(&kv);
  assert_int_equal(r, -TANK_STORE_ENOTFOUND);
  tank_error_free(ge);
}

/* ---- not per backend ---- */

static void
test_url_parse(void **state)
{
  struct tank_store_url u;
  OK(tank_store_url_parse("sqlite:/var/lib/tank/state.db", &u, err));
  assert_int_equal(u.backend, TANK_STORE_SQLITE);
  assert_string_equal(u.path, "/var/lib/tank/state.db");
  assert_int_equal(u.sync_full, 1);
  assert_int_equal(u.timeout_ms, TANK_STORE_DEFAULT_TIMEOUT_MS);
  tank_store_url_clear(&u);
  OK(tank_store_url_parse("sqlite:///tmp/x.db?sync=normal&history=50&timeout_ms=10", &u, err));
  assert_string_equal(u.path, "/tmp/x.db");
  assert_int_equal(u.sync_full, 0);
  assert_int_equal(u.history, 50);
  assert_int_equal(u.timeout_ms, 10);
  tank_store_url_clear(&u);
  OK(tank_store_url_parse("etcd://h1:2379,10.0.0.2:2380,[::1]:2379?timeout_ms=1500", &u, err));
  assert_int_equal(u.backend, TANK_STORE_ETCD);
  assert_int_equal(u.n_endpoints, 3);
  assert_string_equal(u.endpoints[0], "http://h1:2379");
  assert_string_equal(u.endpoints[2], "http://[::1]:2379");
  assert_int_equal(u.timeout_ms, 1500);
  tank_store_url_clear(&u);

  const struct {
    const char *url, *reason;
  } bad[] = {
    { "mysql://x", "unknown scheme `mysql`" },
    { "sqlite:", "no database path" },
    { "etcd://", "no endpoints" },
    { "etcd://h1", "endpoint `h1`: want HOST:PORT" },
    { "etcd://h1:99999", "port 1..65535" },
    { "etcd://h1:2379,", "endpoint ``" },
    { "etcd://h:1?sync=full", "unknown option `sync` for etcd" },
    { "sqlite:/x?sync=maybe", "want `full` or `normal`" },
    { "sqlite:/x?timeout_ms=0", "timeout_ms `0`" },
    { "sqlite:/x?history", "has no `=value`" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tank_error *e = NULL;
    assert_true(tank_store_url_parse(bad[i].url, &u, &e) < 0);
    if (strstr(e->msg, bad[i].reason) == NULL || strstr(e->msg, "store URL") == NULL)
      fail_msg("%s: got `%s`, want `%s`", bad[i].url, e->msg, bad[i].reason);
    tank_error_free(e);
  }
}

static void
test_etcd_unreachable(void **state)
{
  /* Nothing listens on 23899 (this test's range): a clear error, in bounded time. */
  tank_store *s = NULL;
  OK(tank_store_open("etcd://127.0.0.1:23899,127.0.0.1:23898?timeout_ms=400", &s, err));
  int64_t t0 = harness_now_us();
  tank_error *e = NULL;
  assert_int_equal(tank_store_put(s, "/k", "v", 1, 0, NULL, &e), -TANK_STORE_EUNAVAILABLE);
  int64_t ms = (harness_now_us() - t0) / 1000;
  assert_true(ms < 1000);
  assert_non_null(strstr(e->msg, "etcd unavailable after 400 ms"));
  assert_non_null(strstr(e->msg, "127.0.0.1:23899"));
  tank_error_free(e);
  tank_store_close(s);
}

static void
test_sqlite_locked(void **state)
{
  char dir[] = "/tmp/tkst-lock.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], url[160];
  snprintf(path, sizeof path, "%s/state.db", dir);
  snprintf(url, sizeof url, "sqlite:%s?timeout_ms=200", path);
  tank_store *s = NULL;
  OK(tank_store_open(url, &s, err));
  sqlite3 *other;
  assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  int64_t t0 = harness_now_us();
  tank_error *e = NULL;
  assert_int_equal(tank_store_put(s, "/k", "v", 1, 0, NULL, &e), -TANK_STORE_EUNAVAILABLE);
  assert_true((harness_now_us() - t0) / 1000 < 1000);
  assert_non_null(strstr(e->msg, "locked"));
  tank_error_free(e);
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  OK(tank_store_put(s, "/k", "v", 1, 0, NULL, err));
  tank_store_close(s);
  rm_rf(dir);
}

#define BACKEND_TEST(b, fn)                                                                        \
  {                                                                                                \
    .name = #b ": " #fn, .test_func = fn, .setup_func = fixture_setup,                             \
    .teardown_func = fixture_teardown, .initial_state = &b##_backend,                              \
  }
#define BACKEND_TESTS(b)                                                                           \
  BACKEND_TEST(b, test_put_get_delete), BACKEND_TEST(b, test_cas),                                 \
      BACKEND_TEST(b, test_list_prefix), BACKEND_TEST(b, test_watch_order),                        \
      BACKEND_TEST(b, test_watch_resume), BACKEND_TEST(b, test_compaction),                        \
      BACKEND_TEST(b, test_large_value), BACKEND_TEST(b, test_binary_values),                      \
      BACKEND_TEST(b, test_two_processes), BACKEND_TEST(b, test_leases)

/* Starts etcd (and makes the sqlite temp dir) for the whole run; the group
 * state stays NULL so each test gets its backend as its initial state. */
static int
group_setup(void **state)
{
  void *b = &sqlite_backend;
  if (backend_setup(&b) < 0)
    return -1;
  b = &etcd_backend;
  return backend_setup(&b);
}

static int
group_teardown(void **state)
{
  void *b = &sqlite_backend;
  backend_teardown(&b);
  b = &etcd_backend;
  return backend_teardown(&b);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    BACKEND_TESTS(sqlite),
    BACKEND_TESTS(etcd),
    cmocka_unit_test(test_url_parse),
    cmocka_unit_test(test_etcd_unreachable),
    cmocka_unit_test(test_sqlite_locked),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
