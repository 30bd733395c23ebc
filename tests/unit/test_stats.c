/* Stats without root: cgroup v1 and v2 stats read from fake cgroup trees,
 * /proc/net/dev parsing, the /v1/stats JSON and the Prometheus text writer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/prom.h"
#include "daemon/podstats.h"
#include "net/netstats.h"
#include "util/fileio.h"

static char root[256];

static int
setup(void **state)
{
  snprintf(root, sizeof root, "/tmp/tank-stats.XXXXXX");
  assert_non_null(mkdtemp(root));
  return 0;
}

static int
teardown(void **state)
{
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void
put(const char *rel, const char *content)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  assert_int_equal(mkdir_parents(path, 0755), 0);
  *slash = '/';
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

/* A v1 cgroup `dir` (e.g. "tank/web/app") with the given numbers. */
static void
fake_v1(const char *dir, unsigned long long usage, unsigned long long inactive, const char *limit,
        unsigned long long cpu_ns, const char *pids_max)
{
  char rel[512], text[1024];
#define PUT(ctrl, file, ...)                                                                       \
  do {                                                                                             \
    snprintf(rel, sizeof rel, "%s/%s/%s", ctrl, dir, file);                                        \
    snprintf(text, sizeof text, __VA_ARGS__);                                                      \
    put(rel, text);                                                                                \
  } while (0)
  PUT("memory", "memory.usage_in_bytes", "%llu\n", usage);
  PUT("memory", "memory.max_usage_in_bytes", "%llu\n", usage * 2);
  PUT("memory", "memory.limit_in_bytes", "%s\n", limit);
  PUT("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  PUT("memory", "memory.stat",
      "cache 1\nrss 2\ninactive_file 5\ntotal_cache %llu\ntotal_rss 4096\n"
      "total_inactive_file %llu\n",
      inactive + 100, inactive);
  PUT("pids", "pids.current", "3\n");
  PUT("pids", "pids.max", "%s\n", pids_max);
  PUT("cpuacct", "cpuacct.usage", "%llu\n", cpu_ns);
  PUT("cpuacct", "cpuacct.stat", "user 150\nsystem 50\n");
  PUT("cpu", "cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 2000000\n");
  PUT("cpu", "cpu.cfs_quota_us", "-1\n");
  PUT("cpu", "cpu.cfs_period_us", "100000\n");
  PUT("blkio", "blkio.throttle.io_service_bytes_recursive",
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n"
      "8:16 Read 1000\n8:16 Write 0\nTotal 13288\n");
  PUT("blkio", "blkio.throttle.io_serviced_recursive",
      "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n");
#undef PUT
}

static void
test_cgroup_v1(void **state)
{
  fake_v1("tank/web/app", 10000, 3000, "9223372036854771712", 2500000000ULL, "max");
  struct tank_cgroup *cg = NULL;
  tank_error *err = NULL;
  assert_int_equal(cgroup_open(root, "tank/web/nope", CGROUP_VERSION_1, &cg, &err), -ENOENT);
  err = tank_error_free(err);
  assert_int_equal(cgroup_open(root, "tank/web/app", CGROUP_VERSION_1, &cg, &err), 0);
  struct cgroup_stats s;
  if (cgroup_read_stats(cg, &s, &err) < 0)
    fail_msg("%s", err->msg);
  cgroup_free(cg);
  assert_int_equal(s.memory_current_bytes, 10000);
  assert_int_equal(s.memory_working_set_bytes, 7000);
  assert_int_equal(s.memory_limit_bytes, 0); /* v1's "unlimited" */
  assert_int_equal(s.memory_cache_bytes, 3100);
  assert_int_equal(s.memory_rss_bytes, 4096);
  assert_int_equal(s.memory_peak_bytes, 20000);
  assert_int_equal(s.oom_kills, 1);
  assert_int_equal(s.pids_current, 3);
  assert_int_equal(s.pids_limit, 0);
  assert_int_equal(s.cpu_usage_us, 2500000);
  long hz = sysconf(_SC_CLK_TCK);
  assert_int_equal(s.cpu_user_us, 150 * (1000000 / hz));
  assert_int_equal(s.cpu_system_us, 50 * (1000000 / hz));
  assert_int_equal(s.cpu_nr_throttled, 4);
  assert_int_equal(s.cpu_throttled_us, 2000);
  assert_int_equal(s.cpu_quota_us, 0);
  assert_int_equal(s.cpu_period_us, 100000);
  assert_int_equal(s.io_read_bytes, 5096);
  assert_int_equal(s.io_write_bytes, 8192);
  assert_int_equal(s.io_read_ops, 1);
  assert_int_equal(s.io_write_ops, 2);
}

static void
test_cgroup_v2(void **state)
{
  put("tank/web/app/memory.current", "10000\n");
  put("tank/web/app/memory.max", "268435456\n");
  put("tank/web/app/memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
  put("tank/web/app/memory.stat", "anon 4096\nfile 5000\nfile_mapped 7\ninactive_anon 1\n"
                                  "active_file 100\ninactive_file 3000\n");
  put("tank/web/app/pids.current", "2\n");
  put("tank/web/app/pids.max", "100\n");
  put("tank/web/app/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n"
                               "nr_periods 5\nnr_throttled 1\nthrottled_usec 300\n");
  put("tank/web/app/cpu.max", "50000 100000\n");
  put("tank/web/app/io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                              "8:16 rbytes=1000 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n");
  struct tank_cgroup *cg = NULL;
  tank_error *err = NULL;
  assert_int_equal(cgroup_open(root, "tank/web/app", CGROUP_VERSION_2, &cg, &err), 0);
  struct cgroup_stats s;
  if (cgroup_read_stats(cg, &s, &err) < 0)
    fail_msg("%s", err->msg);
  cgroup_free(cg);
  assert_int_equal(s.memory_current_bytes, 10000);
  assert_int_equal(s.memory_working_set_bytes, 7000);
  assert_int_equal(s.memory_limit_bytes, 268435456);
  assert_int_equal(s.memory_cache_bytes, 5000);
  assert_int_equal(s.memory_rss_bytes, 4096);
  assert_int_equal(s.oom_kills, 1);
  assert_int_equal(s.pids_current, 2);
  assert_int_equal(s.pids_limit, 100);
  assert_int_equal(s.cpu_usage_us, 1500000);
  assert_int_equal(s.cpu_user_us, 1000000);
  assert_int_equal(s.cpu_system_us, 500000);
  assert_int_equal(s.cpu_quota_us, 50000);
  assert_int_equal(s.cpu_period_us, 100000);
  assert_int_equal(s.io_read_bytes, 5096);
  assert_int_equal(s.io_write_bytes, 8192);
  assert_int_equal(s.io_read_ops, 4);
  assert_int_equal(s.io_write_ops, 2);
  /* "max" limits are none */
  put("tank/web/app/memory.max", "max\n");
  put("tank/web/app/pids.max", "max\n");
  put("tank/web/app/cpu.max", "max 100000\n");
  assert_int_equal(cgroup_open(root, "tank/web/app", CGROUP_VERSION_2, &cg, &err), 0);
  assert_int_equal(cgroup_read_stats(cg, &s, &err), 0);
  cgroup_free(cg);
  assert_int_equal(s.memory_limit_bytes, 0);
  assert_int_equal(s.pids_limit, 0);
  assert_int_equal(s.cpu_quota_us, 0);
}

static const char net_dev[]
    = "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
      "errs drop fifo colls carrier compressed\n"
      "    lo:     140       2    0    0    0     0          0         0      140       2    0 "
      "   0    0     0       0          0\n"
      "  eth0: 1234567     890    1    2    0     0          0         3    76543      21    4 "
      "   5    0     0       0          0\n";

static void
test_net_dev_parse(void **state)
{
  struct net_dev_stats *v = NULL;
  size_t n = 0;
  assert_int_equal(net_dev_stats_parse(net_dev, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[1].name, "eth0");
  assert_int_equal(v[1].rx_bytes, 1234567);
  assert_int_equal(v[1].rx_packets, 890);
  assert_int_equal(v[1].rx_errors, 1);
  assert_int_equal(v[1].rx_dropped, 2);
  assert_int_equal(v[1].tx_bytes, 76543);
  assert_int_equal(v[1].tx_packets, 21);
  assert_int_equal(v[1].tx_errors, 4);
  assert_int_equal(v[1].tx_dropped, 5);
  free(v);
  assert_int_equal(net_dev_stats_parse("garbage", &v, &n), -EINVAL);
  /* This process's own namespace: at least lo. */
  tank_error *err = NULL;
  if (net_dev_stats_read(NULL, &v, &n, &err) < 0)
    fail_msg("%s", err->msg);
  bool lo = false;
  for (size_t i = 0; i < n; i++)
    lo = lo || strcmp(v[i].name, "lo") == 0;
  assert_true(lo);
  free(v);
}

static void
test_pod_sample_json_and_prom(void **state)
{
  fake_v1("tank/web", 30000, 5000, "9223372036854771712", 4000000000ULL, "max");
  fake_v1("tank/web/app", 10000, 3000, "268435456", 2500000000ULL, "100");
  char *const ctrs[] = { "app", "sidecar" };
  struct podstats_paths paths = { root, "tank", root, CGROUP_VERSION_1 };
  struct pod_sample before, now;
  podstats_sample(&paths, "web", ctrs, 2, &before);
  assert_true(before.found);
  assert_false(before.has_net);
  assert_true(before.ctrs[0].found);
  assert_false(before.ctrs[1].found);
  /* One CPU second later, the app used half a CPU second. */
  fake_v1("tank/web/app", 10000, 3000, "268435456", 3000000000ULL, "100");
  podstats_sample(&paths, "web", ctrs, 2, &now);
  now.mono_ns = before.mono_ns + 1000000000LL;

  json_t *j = podstats_json(&now, &before);
  json_t *app = json_array_get(json_object_get(j, "containers"), 0);
  assert_string_equal(json_string_value(json_object_get(app, "name")), "app");
  assert_true(json_real_value(json_object_get(app, "cpu_percent")) == 50.0);
  assert_int_equal(json_integer_value(json_object_get(app, "memory_bytes")), 7000);
  assert_int_equal(json_integer_value(json_object_get(app, "memory_limit_bytes")), 268435456);
  assert_int_equal(json_integer_value(json_object_get(app, "pids_limit")), 100);
  assert_int_equal(json_integer_value(json_object_get(app, "block_read_bytes")), 5096);
  json_t *side = json_array_get(json_object_get(j, "containers"), 1);
  assert_false(json_boolean_value(json_object_get(side, "running")));
  assert_true(json_real_value(json_object_get(j, "cpu_percent")) == 0.0);
  assert_int_equal(json_integer_value(json_object_get(j, "memory_bytes")), 25000);
  assert_int_equal(json_integer_value(json_object_get(j, "memory_limit_bytes")), 0);
  assert_true(json_is_null(json_object_get(j, "net_rx_bytes")));
  json_decref(j);
  j = podstats_json(&now, NULL);
  assert_true(json_is_null(json_object_get(j, "cpu_percent")));
  json_decref(j);

  struct prom_buf b = { 0 };
  podstats_prom(&b, &now, 1);
  char *text = prom_buf_steal(&b);
  assert_non_null(strstr(text,
                         "# TYPE container_cpu_usage_seconds_total counter\n"
                         "container_cpu_usage_seconds_total{pod=\"web\",container=\"\"} 4\n"
                         "container_cpu_usage_seconds_total{pod=\"web\",container=\"app\"} 3\n"
                         "# HELP"));
  assert_non_null(
      strstr(text, "container_memory_working_set_bytes{pod=\"web\",container=\"app\"} 7000\n"));
  assert_non_null(
      strstr(text, "container_spec_memory_limit_bytes{pod=\"web\",container=\"app\"} 268435456\n"));
  assert_null(strstr(text, "sidecar"));
  free(text);
  pod_sample_clear(&before);
  pod_sample_clear(&now);
}

static void
test_prom_writer(void **state)
{
  struct prom_buf b = { 0 };
  prom_family(&b, "tank_x_total", "counter", "Help with \\ and\nnewline.");
  const char *labels[] = { "pod", "a\"b\\c\nd", NULL };
  prom_sample(&b, "tank_x_total", labels, 3);
  prom_sample(&b, "tank_x_total", NULL, 0.25);
  char *text = prom_buf_steal(&b);
  assert_string_equal(text, "# HELP tank_x_total Help with \\\\ and\\nnewline.\n"
                            "# TYPE tank_x_total counter\n"
                            "tank_x_total{pod=\"a\\\"b\\\\c\\nd\"} 3\n"
                            "tank_x_total 0.25\n");
  free(text);

  char num[32];
  prom_format_value(num, 0.005);
  assert_string_equal(num, "0.005");
  prom_format_value(num, 1e300);
  assert_string_equal(num, "1e+300");
  prom_format_value(num, 1.0 / 0.0);
  assert_string_equal(num, "+Inf");
  prom_format_value(num, 123456789012.0);
  assert_string_equal(num, "123456789012");

  static const double bounds[] = { 0.1, 1, 10 };
  struct prom_histogram h = PROM_HISTOGRAM_INIT(bounds, 3);
  prom_histogram_observe(&h, 0.05);
  prom_histogram_observe(&h, 0.1); /* le is inclusive */
  prom_histogram_observe(&h, 5);
  prom_histogram_observe(&h, 100);
  const char *hl[] = { "image", "busybox", NULL };
  prom_histogram_write(&b, "tank_d_seconds", hl, &h);
  text = prom_buf_steal(&b);
  assert_string_equal(text, "tank_d_seconds_bucket{image=\"busybox\",le=\"0.1\"} 2\n"
                            "tank_d_seconds_bucket{image=\"busybox\",le=\"1\"} 2\n"
                            "tank_d_seconds_bucket{image=\"busybox\",le=\"10\"} 3\n"
                            "tank_d_seconds_bucket{image=\"busybox\",le=\"+Inf\"} 4\n"
                            "tank_d_seconds_sum{image=\"busybox\"} 105.15\n"
                            "tank_d_seconds_count{image=\"busybox\"} 4\n");
  free(text);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cgroup_v1, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cgroup_v2, setup, teardown),
    cmocka_unit_test(test_net_dev_parse),
    cmocka_unit_test_setup_teardown(test_pod_sample_json_and_prom, setup, teardown),
    cmocka_unit_test(test_prom_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
