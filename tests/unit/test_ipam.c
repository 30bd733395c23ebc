/* IPAM on a real SQLite store: allocation order, exclusions, affinity,
 * release, exhaustion, and no double allocation under concurrent allocators
 * (separate processes, one store file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/addr.h"
#include "net/ipam.h"
#include "net/podconfig.h"
#include "etcd_harness.h"

static char dir[] = "/tmp/tank-ipam-test.XXXXXX";
static char url[128];

static struct spec_ip
ip(const char *s)
{
  struct spec_ip r;
  if (net_ip_parse(s, true, &r) < 0)
    fail_msg("parse %s", s);
  return r;
}

static tank_store *
open_store(void)
{
  tank_store *s = NULL;
  tank_error *err = NULL;
  if (tank_store_open(url, &s, &err) < 0)
    fail_msg("open %s: %s", url, err->msg);
  return s;
}

static int
setup(void **state)
{
  static int n;
  if (n++ == 0 && mkdtemp(dir) == NULL)
    return -1;
  snprintf(url, sizeof url, "sqlite:%s/state-%d.db?sync=normal", dir, n);
  return 0;
}

static int
group_teardown(void **state)
{
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *
alloc(tank_store *s, const struct ipam_pool *p, const char *pod, const char *nic)
{
  static char buf[NET_IP_STRLEN];
  struct spec_ip r;
  tank_error *err = NULL;
  if (ipam_allocate(s, p, pod, nic, &r, &err) < 0)
    fail_msg("allocate %s/%s: %s", pod, nic, err->msg);
  return net_ip_format(&r, true, buf);
}

static void
test_order_and_exclusions(void **state)
{
  tank_store *s = open_store();
  struct spec_ip reserved[] = { ip("10.0.0.3"), ip("10.0.0.4") };
  struct ipam_pool p = { .name = "lan",
                         .subnet = ip("10.0.0.0/24"),
                         .has_gateway = true,
                         .gateway = ip("10.0.0.1"),
                         .reserved = reserved,
                         .n_reserved = 2 };
  assert_string_equal(alloc(s, &p, "a", "eth0"), "10.0.0.2/24");
  assert_string_equal(alloc(s, &p, "b", "eth0"), "10.0.0.5/24");
  assert_string_equal(alloc(s, &p, "a", "eth1"), "10.0.0.6/24");
  /* Affinity: the same pod and NIC get the same address back. */
  assert_string_equal(alloc(s, &p, "a", "eth0"), "10.0.0.2/24");
  struct spec_ip got;
  tank_error *err = NULL;
  assert_int_equal(ipam_lookup(s, &p, "b", "eth0", &got, &err), 1);
  assert_int_equal(ipam_lookup(s, &p, "zz", "eth0", &got, &err), 0);
  /* ... across a restart too (a new store handle, as after a tankd restart). */
  tank_store_close(s);
  s = open_store();
  assert_string_equal(alloc(s, &p, "a", "eth0"), "10.0.0.2/24");
  /* The store holds the allocation as the design's key. */
  struct tank_store_kv kv;
  assert_int_equal(tank_store_get(s, "/tank/ipam/lan/10.0.0.5", &kv, &err), 0);
  assert_string_equal((char *)kv.value, "b/eth0");
  tank_store_kv_clear(&kv);
  /* A range. */
  struct ipam_pool r = { .name = "ranged",
                         .subnet = ip("10.1.0.0/16"),
                         .has_range = true,
                         .range_start = ip("10.1.5.250"),
                         .range_end = ip("10.1.6.2") };
  assert_string_equal(alloc(s, &r, "a", "eth0"), "10.1.5.250/16");
  /* IPv6. */
  struct ipam_pool v6 = {
    .name = "v6", .subnet = ip("fd00:1::/64"), .has_gateway = true, .gateway = ip("fd00:1::1")
  };
  assert_string_equal(alloc(s, &v6, "a", "eth0"), "fd00:1::2/64");
  assert_string_equal(alloc(s, &v6, "b", "eth0"), "fd00:1::3/64");
  tank_store_close(s);
}

static void
test_release(void **state)
{
  tank_store *s = open_store();
  struct ipam_pool p = { .name = "lan", .subnet = ip("10.0.0.0/24") };
  struct ipam_pool q = { .name = "other", .subnet = ip("10.9.0.0/24") };
  tank_error *err = NULL;
  size_t n = 0;
  assert_string_equal(alloc(s, &p, "web", "eth0"), "10.0.0.1/24");
  assert_string_equal(alloc(s, &p, "web", "eth1"), "10.0.0.2/24");
  assert_string_equal(alloc(s, &q, "web", "eth0"), "10.9.0.1/24");
  assert_string_equal(alloc(s, &p, "web2", "eth0"), "10.0.0.3/24");
  /* "web" must not release "web2"'s address. */
  assert_int_equal(ipam_release(s, "web", &n, &err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ipam_release(s, "web", &n, &err), 0);
  assert_int_equal(n, 0);
  assert_string_equal(alloc(s, &p, "web2", "eth0"), "10.0.0.3/24");
  assert_string_equal(alloc(s, &p, "new", "eth0"), "10.0.0.1/24");
  tank_store_close(s);
}

static void
test_exhaustion(void **state)
{
  tank_store *s = open_store();
  struct ipam_pool p = {
    .name = "tiny", .subnet = ip("10.0.0.0/29"), .has_gateway = true, .gateway = ip("10.0.0.1")
  };
  char pod[16];
  for (int i = 0; i < 5; i++) {
    snprintf(pod, sizeof pod, "p%d", i);
    alloc(s, &p, pod, "eth0");
  }
  struct spec_ip r;
  tank_error *err = NULL;
  assert_int_equal(ipam_allocate(s, &p, "late", "eth0", &r, &err), -ENOSPC);
  if (strcmp(
          err->msg,
          "ipam pool `tiny` exhausted: all 6 addresses in use (late/eth0): No space left on device")
      != 0)
    fail_msg("got `%s`", err->msg);
  tank_error_free(err);
  err = NULL;
  /* A holder still gets its own address back when the pool is full. */
  assert_string_equal(alloc(s, &p, "p4", "eth0"), "10.0.0.6/29");
  tank_store_close(s);
}

static void
test_pool_validation(void **state)
{
  tank_error *err = NULL;
  struct ipam_pool p = { .name = "Bad", .subnet = ip("10.0.0.0/24") };
  assert_true(ipam_pool_validate(&p, &err) < 0);
  tank_error_free(err);
  err = NULL;
  p.name = "ok";
  p.has_gateway = true;
  p.gateway = ip("10.0.1.1");
  assert_true(ipam_pool_validate(&p, &err) < 0);
  assert_non_null(strstr(err->msg, "not in subnet"));
  tank_error_free(err);
  err = NULL;
  p.has_gateway = false;
  p.has_range = true;
  p.range_start = ip("10.0.0.20");
  p.range_end = ip("10.0.0.10");
  assert_true(ipam_pool_validate(&p, &err) < 0);
  tank_error_free(err);
}

#define ALLOCATORS    4
#define PER_ALLOCATOR 12

/* 4 processes × 12 allocations from 29 free addresses: exactly 29 succeed, each
 * address once, the rest fail with ENOSPC. */
static void
race(const char *store_url)
{
  struct ipam_pool p = {
    .name = "race", .subnet = ip("10.5.0.0/27"), .has_gateway = true, .gateway = ip("10.5.0.1")
  };
  int fds[ALLOCATORS];
  pid_t pids[ALLOCATORS];
  tank_store *s = NULL;
  tank_error *oerr = NULL;
  if (tank_store_open(store_url, &s, &oerr) < 0) /* creates the schema before the race */
    fail_msg("open %s: %s", store_url, oerr->msg);
  tank_store_close(s);
  int go[2]; /* closed by the parent once every allocator is ready: they start together */
  assert_int_equal(pipe2(go, O_CLOEXEC), 0);
  for (int a = 0; a < ALLOCATORS; a++) {
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    pids[a] = fork();
    assert_true(pids[a] >= 0);
    if (pids[a] == 0) {
      close(pfd[0]);
      FILE *out = fdopen(pfd[1], "w");
      tank_store *cs = NULL;
      tank_error *err = NULL;
      if (tank_store_open(store_url, &cs, &err) < 0)
        _exit(3);
      char c;
      close(go[1]);
      while (read(go[0], &c, 1) > 0)
        ;
      for (int i = 0; i < PER_ALLOCATOR; i++) {
        char pod[16], buf[NET_IP_STRLEN];
        struct spec_ip r;
        snprintf(pod, sizeof pod, "a%d-%d", a, i);
        int rc = ipam_allocate(cs, &p, pod, "eth0", &r, &err);
        if (rc == -ENOSPC)
          fprintf(out, "%s ENOSPC\n", pod);
        else if (rc < 0)
          fprintf(out, "%s ERROR %s\n", pod, err->msg);
        else
          fprintf(out, "%s %s\n", pod, net_ip_format(&r, false, buf));
        tank_error_free(err);
        err = NULL;
      }
      fflush(out);
      _exit(0);
    }
    close(pfd[1]);
    fds[a] = pfd[0];
  }
  close(go[0]);
  close(go[1]);
  char seen[ALLOCATORS * PER_ALLOCATOR][NET_IP_STRLEN];
  int n_ok = 0, n_full = 0;
  for (int a = 0; a < ALLOCATORS; a++) {
    FILE *in = fdopen(fds[a], "r");
    char pod[32], what[256];
    while (fscanf(in, "%31s %255[^\n]", pod, what) == 2) {
      if (strcmp(what, "ENOSPC") == 0) {
        n_full++;
        continue;
      }
      if (strncmp(what, "ERROR", 5) == 0)
        fail_msg("%s: %s", pod, what);
      for (int k = 0; k < n_ok; k++)
        if (strcmp(seen[k], what) == 0)
          fail_msg("%s handed out twice", what);
      snprintf(seen[n_ok++], NET_IP_STRLEN, "%.49s", what);
    }
    fclose(in);
    int status;
    assert_int_equal(waitpid(pids[a], &status, 0), pids[a]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_int_equal(n_ok, 29);
  assert_int_equal(n_full, ALLOCATORS * PER_ALLOCATOR - 29);
  /* The store agrees: 29 keys, each owned by the pod that was told it has it. */
  assert_int_equal(tank_store_open(store_url, &s, &oerr), 0);
  struct tank_store_list list;
  tank_error *err = NULL;
  assert_int_equal(tank_store_list(s, "/tank/ipam/race/", &list, &err), 0);
  assert_int_equal(list.n_items, 29);
  tank_store_list_clear(&list);
  tank_store_close(s);
}

/* A pod whose NIC names a pool gets its address, the pool's gateway and dns;
 * a second NIC keeps its static address; an unknown pool is an error. */
static void
test_pod_config(void **state)
{
  tank_store *s = open_store();
  struct spec_ip dns[] = { ip("10.6.0.53") };
  struct ipam_pool pools[] = {
    { .name = "lan",
      .subnet = ip("10.6.0.0/24"),
      .has_gateway = true,
      .gateway = ip("10.6.0.1"),
      .dns = dns,
      .n_dns = 1 },
  };
  struct spec_ip statics[] = { ip("fd06::5/64") };
  struct spec_nic nics[] = {
    { .name = "eth0", .ip_pool = "lan" },
    { .name = "eth1", .ips = statics, .n_ips = 1 },
  };
  struct spec_pod pod
      = { .name = "web", .network = { .mode = SPEC_NET_NICS, .nics = nics, .n_nics = 2 } };
  struct net_config c;
  tank_error *err = NULL;
  char buf[NET_IP_STRLEN];

  if (net_config_for_pod(&pod, s, pools, 1, &c, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(c.n_nics, 2);
  assert_int_equal(c.nics[0].n_ips, 1);
  assert_string_equal(net_ip_format(&c.nics[0].ips[0], true, buf), "10.6.0.2/24");
  assert_true(c.nics[0].has_gw4);
  assert_string_equal(net_ip_format(&c.nics[0].gw4, false, buf), "10.6.0.1");
  assert_true(c.has_dns);
  assert_int_equal(c.n_dns, 1);
  assert_string_equal(net_ip_format(&c.nics[1].ips[0], true, buf), "fd06::5/64");
  assert_int_equal(net_config_validate(&c, &err), 0);
  net_config_clear(&c);
  /* Built again (a restart): the same address. */
  assert_int_equal(net_config_for_pod(&pod, s, pools, 1, &c, &err), 0);
  assert_string_equal(net_ip_format(&c.nics[0].ips[0], true, buf), "10.6.0.2/24");
  net_config_clear(&c);
  nics[0].ip_pool = "nope";
  assert_int_equal(net_config_for_pod(&pod, s, pools, 1, &c, &err), -ENOENT);
  assert_non_null(strstr(err->msg, "no ipam pool `nope`"));
  tank_error_free(err);
  tank_store_close(s);
}

static void
test_concurrent_allocators(void **state)
{
  race(url);
}

/* A free loopback port (the kernel's pick), for a test etcd. */

/* The same race on etcd: "two hosts sharing an etcd store" are separate
 * processes, each with its own client. */
static void
test_concurrent_allocators_etcd(void **state)
{
  char base[] = "/tmp/tank-ipam-etcd.XXXXXX";
  struct etcd_member m;
  char etcd_url[256];
  assert_non_null(mkdtemp(base));
  /* Ports above the store suite's range, so both can run at once. */
  if (etcd_cluster_up(&m, 1, base, 23880, 23899, 20000) < 0)
    fail_msg("start etcd");
  etcd_members_url(&m, 1, -1, NULL, etcd_url, sizeof etcd_url);
  if (etcd_wait_writable(etcd_url, 20000) < 0) {
    etcd_member_stop(&m, SIGKILL);
    fail_msg("etcd did not come up on port %d", m.client_port);
  }
  race(etcd_url);
  etcd_member_stop(&m, SIGTERM);
  rm_rf(base);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_order_and_exclusions, setup),
    cmocka_unit_test_setup(test_release, setup),
    cmocka_unit_test_setup(test_exhaustion, setup),
    cmocka_unit_test_setup(test_pool_validation, setup),
    cmocka_unit_test_setup(test_concurrent_allocators, setup),
    cmocka_unit_test_setup(test_pod_config, setup),
    cmocka_unit_test(test_concurrent_allocators_etcd),
  };
  return cmocka_run_group_tests(tests, NULL, group_teardown);
}
