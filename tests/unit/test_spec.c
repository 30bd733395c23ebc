/* The pod spec model: every rejection rule with its exact path and line:col,
 * the defaults, quantities, Kubernetes conversion, round trips of every
 * example, and hostile input (bombs, deep nesting, huge or invalid bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "spec/spec.h"
#include "util/fileio.h"

static void
dump_errors(const struct spec_file *f)
{
  for (size_t i = 0; i < f->n_errors; i++)
    print_message("  %s\n", f->errors[i]);
}

/* Parses text as t.yaml and requires an error "t.yaml:<where>: ...<reason>...". */
static void
expect_error_fmt(const char *text, enum spec_format fmt, const char *where, const char *reason)
{
  struct spec_file f;
  int r = spec_parse(text, strlen(text), "t.yaml", fmt, &f);
  char prefix[512];
  snprintf(prefix, sizeof prefix, "t.yaml:%s: ", where);
  bool found = false;
  for (size_t i = 0; i < f.n_errors && !found; i++)
    found = strncmp(f.errors[i], prefix, strlen(prefix)) == 0
            && strstr(f.errors[i] + strlen(prefix), reason) != NULL;
  if (r == 0 || !found) {
    print_message("wanted `%s...%s`, got:\n", prefix, reason);
    dump_errors(&f);
    spec_file_free(&f);
    if (getenv("SPEC_TEST_CONTINUE"))
      return;
    fail();
  }
  for (size_t i = 0; i < f.n_pods; i++)
    assert_null(f.pods[i]);
  spec_file_free(&f);
}

static void
expect_error(const char *text, const char *where, const char *reason)
{
  expect_error_fmt(text, SPEC_FORMAT_AUTO, where, reason);
}

static struct spec_pod *
parse_ok(const char *text)
{
  struct spec_file f;
  int r = spec_parse(text, strlen(text), "t.yaml", SPEC_FORMAT_AUTO, &f);
  if (r < 0 || f.n_pods != 1) {
    dump_errors(&f);
    spec_file_free(&f);
    fail_msg("expected one valid pod");
  }
  struct spec_pod *pod = f.pods[0];
  f.pods[0] = NULL;
  spec_file_free(&f);
  return pod;
}

#define POD_HEAD "name: p\n"
#define ONE_CTR  "containers:\n  - name: c\n    image: busybox\n"

/* ---- structure -------------------------------------------------------- */

static void
test_unknown_keys(void **state)
{
  expect_error("name: p\nrestrat: always\n" ONE_CTR, "2:1: restrat", "did you mean `restart`");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: busybox\n    imagee: x\n",
               "5:5: containers[0].imagee", "did you mean `image`");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 1Mi, swap: 1}\n",
               "5:27: containers[0].limits.swap", "unknown field");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: {quota_us: 5000, burst: 1}}\n",
               "5:36: containers[0].limits.cpu.burst", "unknown field");
  expect_error(POD_HEAD ONE_CTR
               "    mounts: [{volume: v, path: /a, mode: rw}]\nvolumes: [{name: v}]\n",
               "5:36: containers[0].mounts[0].mode", "unknown field");
  expect_error(POD_HEAD "volumes: [{name: v, size: 1}]\n" ONE_CTR, "2:21: volumes[0].size",
               "unknown field");
  expect_error(POD_HEAD "backoff: {initial: 1s, factor: 2}\n" ONE_CTR, "2:24: backoff.factor",
               "unknown field");
  expect_error(POD_HEAD "network: {nics: [{name: eth0, vlan: 5}], dns: []}\n" ONE_CTR,
               "2:31: network.nics[0].vlan", "unknown field");
  expect_error(POD_HEAD "network: {nics: [{name: eth0}], search: [x]}\n" ONE_CTR,
               "2:33: network.search", "unknown field");
  expect_error(POD_HEAD "network: {nics: [{name: eth0, ip: {pool: lan, size: 2}}]}\n" ONE_CTR,
               "2:47: network.nics[0].ip.size", "unknown field");
}

static void
test_wrong_types(void **state)
{
  expect_error("- name: p\n", "1:1", "a pod is a mapping");
  expect_error("name: 5\n" ONE_CTR, "1:7: name", "expected a string, got an integer");
  expect_error(POD_HEAD "containers: {name: c}\n", "2:13: containers", "expected a list");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: [busybox]\n",
               "4:12: containers[0].image", "expected a string, got a list");
  expect_error(POD_HEAD ONE_CTR "    command: /bin/sh\n", "5:14: containers[0].command",
               "expected a list, got a string");
  expect_error(POD_HEAD ONE_CTR "    args: [--port, 8080]\n", "5:20: containers[0].args[1]",
               "quote it: \"8080\"");
  expect_error(POD_HEAD ONE_CTR "    env: [A=1]\n", "5:10: containers[0].env",
               "expected a mapping of NAME: value");
  expect_error(POD_HEAD ONE_CTR "    env: {PORT: 80}\n", "5:17: containers[0].env.PORT",
               "expected a string, got an integer");
  expect_error(POD_HEAD ONE_CTR "    tty: yes\n", "5:10: containers[0].tty",
               "expected true or false");
  expect_error(POD_HEAD ONE_CTR "    limits: 5\n", "5:13: containers[0].limits",
               "expected limits (a mapping)");
  expect_error(POD_HEAD ONE_CTR "    limits: {pids: 1.5}\n", "5:20: containers[0].limits.pids",
               "expected an integer");
  expect_error(POD_HEAD ONE_CTR
               "    mounts: [{volume: v, path: /a, read_only: 1}]\nvolumes: [{name: v}]\n",
               "5:47: containers[0].mounts[0].read_only", "expected true or false");
  expect_error(POD_HEAD "network: 5\n" ONE_CTR, "2:10: network",
               "expected none, host or a mapping");
  expect_error(POD_HEAD "network: {nics: [{name: eth0, ip: 5}]}\n" ONE_CTR,
               "2:35: network.nics[0].ip", "expected an IP address string");
  expect_error("name: p\nname: q\n" ONE_CTR, "2:1: name", "duplicate field");
}

static void
test_containers_required(void **state)
{
  expect_error(POD_HEAD "containers: []\n", "2:13: containers", "at least one container");
  expect_error(POD_HEAD, "1:1: containers", "required field missing");
  expect_error("containers:\n  - name: c\n    image: busybox\n", "1:1: name",
               "required field missing");
  expect_error(POD_HEAD "containers:\n  - name: c\n", "3:5: containers[0].image",
               "required field missing");
  expect_error(POD_HEAD "containers:\n  - image: busybox\n", "3:5: containers[0].name",
               "required field missing");
}

static void
test_duplicates(void **state)
{
  expect_error(POD_HEAD
               "containers:\n  - {name: c, image: busybox}\n  - {name: c, image: busybox}\n",
               "4:12: containers[1].name", "duplicate container name `c`");
  expect_error(POD_HEAD "volumes: [{name: v}, {name: v}]\n" ONE_CTR, "2:29: volumes[1].name",
               "duplicate volume name `v`");
  expect_error(POD_HEAD "volumes: [{name: v}]\n" ONE_CTR
                        "    mounts: [{volume: v, path: /a/b}, {volume: v, path: //a/./b/}]\n",
               "6:57: containers[0].mounts[1].path", "duplicate mount path `/a/b`");
  expect_error(POD_HEAD "network: {nics: [{name: eth0}, {name: eth0}]}\n" ONE_CTR,
               "2:39: network.nics[1].name", "duplicate NIC name `eth0`");
  expect_error(POD_HEAD ONE_CTR "    env: {A: x, A: y}\n", "5:17: containers[0].env.A",
               "duplicate variable");
}

static void
test_mount_volume_reference(void **state)
{
  expect_error(POD_HEAD ONE_CTR "    mounts: [{volume: data, path: /d}]\n",
               "5:23: containers[0].mounts[0].volume", "no volume named `data`");
  expect_error(POD_HEAD "volumes: [{name: v}]\n" ONE_CTR "    mounts: [{volume: v}]\n",
               "6:14: containers[0].mounts[0].path", "required field missing");
}

static void
test_relative_paths(void **state)
{
  expect_error(POD_HEAD ONE_CTR "    working_dir: srv\n", "5:18: containers[0].working_dir",
               "`srv` is a relative path");
  expect_error(POD_HEAD "volumes: [{name: v}]\n" ONE_CTR "    mounts: [{volume: v, path: data}]\n",
               "6:32: containers[0].mounts[0].path", "relative path");
  expect_error(POD_HEAD "volumes: [{name: v, host: etc/app}]\n" ONE_CTR, "2:27: volumes[0].host",
               "relative path");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: rootfs:srv/root\n",
               "4:12: containers[0].image", "must be absolute");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: oci:images/app:1\n",
               "4:12: containers[0].image", "must be absolute");
  expect_error(POD_HEAD "volumes: [{name: v}]\n" ONE_CTR
                        "    mounts: [{volume: v, path: /a/../b}]\n",
               "6:32: containers[0].mounts[0].path", "must not contain `..`");
  expect_error(POD_HEAD "volumes: [{name: v}]\n" ONE_CTR "    mounts: [{volume: v, path: /}]\n",
               "6:32: containers[0].mounts[0].path", "must not be `/`");
}

static void
test_addresses(void **state)
{
#define NIC(x) POD_HEAD "network:\n  nics:\n    - name: eth0\n" x ONE_CTR
  expect_error(NIC("      ip: 10.0.0.300/24\n"), "5:11: network.nics[0].ip",
               "not an IPv4 or IPv6 address");
  expect_error(NIC("      ip: 10.0.0.5\n"), "5:11: network.nics[0].ip", "needs a prefix length");
  expect_error(NIC("      ip: 10.0.0.5/33\n"), "5:11: network.nics[0].ip", "1-32");
  expect_error(NIC("      ip: [10.0.0.5/24, 'fd00::5/129']\n"), "5:25: network.nics[0].ip[1]",
               "1-128");
  expect_error(NIC("      ip: [10.0.0.5/24, 'fd00:::5/64']\n"), "5:25: network.nics[0].ip[1]",
               "not an IPv4 or IPv6 address");
  expect_error(NIC("      ip: 10.0.0.5/x\n"), "5:11: network.nics[0].ip", "not a number");
  expect_error(NIC("      ip: 10.0.0.0/24\n"), "5:11: network.nics[0].ip", "network or broadcast");
  expect_error(NIC("      ip: 10.0.0.255/24\n"), "5:11: network.nics[0].ip",
               "network or broadcast");
  expect_error(NIC("      ip: 10.0.0.5/24\n      gateway: 10.0.0.1/24\n"),
               "6:16: network.nics[0].gateway", "takes no /prefix");
  expect_error(NIC("      mac: 02:00:00:00:00\n"), "5:12: network.nics[0].mac",
               "not a MAC address");
  expect_error(NIC("      mac: 03:00:00:00:00:01\n"), "5:12: network.nics[0].mac", "multicast");
  expect_error(POD_HEAD "network: {nics: [{name: eth0}], dns: [8.8.8.8/32]}\n" ONE_CTR,
               "2:39: network.dns[0]", "takes no /prefix");
  expect_error(
      POD_HEAD
      "network: {nics: [{name: eth0}], dns: [1.1.1.1, 1.0.0.1, 8.8.8.8, 9.9.9.9]}\n" ONE_CTR,
      "2:38: network.dns", "more than 3 nameservers");
  expect_error(NIC("      mtu: 60\n"), "5:12: network.nics[0].mtu", "between 68 and 65535");
  expect_error(NIC("      routes: [{via: 10.0.0.1}]\n"), "5:16: network.nics[0].routes[0].to",
               "required field missing");
  expect_error(NIC("      routes: [{to: 10.1.0.0/16, via: 'fd00::1'}]\n"),
               "5:39: network.nics[0].routes[0].via", "not of the family");
  expect_error(NIC("      routes: [{to: 10.1.0.0, via: 10.0.0.1}]\n"),
               "5:21: network.nics[0].routes[0].to", "needs a prefix length");
  expect_error(POD_HEAD "network: {nics: [{name: eth0}], dns: {search: ['Bad Domain']}}\n" ONE_CTR,
               "2:48: network.dns.search[0]", "is not a domain name");
  expect_error(POD_HEAD "network: {nics: [{name: eth0}], dns: {servers: [x], extra: 1}}\n" ONE_CTR,
               "2:53: network.dns.extra", "unknown field");
  struct spec_pod *pod = parse_ok(NIC("      mtu: 1400\n      routes: [{to: 10.9.0.0/16}, {to: "
                                      "'fd01::/64', via: 'fe80::1'}]\n"));
  assert_int_equal(pod->network.nics[0].mtu, 1400);
  assert_int_equal(pod->network.nics[0].n_routes, 2);
  assert_false(pod->network.nics[0].routes[0].has_via);
  assert_true(pod->network.nics[0].routes[1].has_via);
  spec_pod_free(pod);
#undef NIC
}

static void
test_gateways(void **state)
{
  expect_error(
      POD_HEAD
      "network:\n  nics:\n    - {name: eth0, ip: 10.0.0.5/24, gateway: 10.1.0.1}\n" ONE_CTR,
      "4:46: network.nics[0].gateway", "outside every IPv4 subnet");
  expect_error(
      POD_HEAD
      "network:\n  nics:\n    - {name: eth0, ip: 10.0.0.5/24, gateway: 'fd00::1'}\n" ONE_CTR,
      "4:46: network.nics[0].gateway", "outside every IPv6 subnet");
  expect_error(POD_HEAD "network:\n  nics:\n"
                        "    - {name: eth0, ip: 10.0.0.5/24, gateway: 10.0.0.1}\n"
                        "    - {name: eth1, ip: 10.1.0.5/24, gateway: 10.1.0.1}\n" ONE_CTR,
               "5:46: network.nics[1].gateway",
               "a second default IPv4 gateway (the first is at line 4)");
  /* A gateway may sit in another NIC's subnet; a v6 link-local gateway is fine. */
  struct spec_pod *pod = parse_ok(
      POD_HEAD "network:\n  nics:\n"
               "    - {name: eth0, ip: 10.0.0.5/24}\n"
               "    - {name: eth1, ip: ['fd00::5/64'], gateway: [10.0.0.1, 'fe80::1']}\n" ONE_CTR);
  assert_int_equal(pod->network.nics[1].n_gateways, 2);
  spec_pod_free(pod);
}

static void
test_enums_and_labels(void **state)
{
  expect_error("name: p\nrestart: sometimes\n" ONE_CTR, "2:10: restart",
               "unknown restart policy `sometimes` (allowed: always, on-failure, never)");
  expect_error("name: My_Pod\n" ONE_CTR, "1:7: name", "is not a DNS label");
  expect_error("name: -pod\n" ONE_CTR, "1:7: name", "is not a DNS label");
  expect_error("name: pod-\n" ONE_CTR, "1:7: name", "is not a DNS label");
  expect_error("name: a234567890123456789012345678901234567890123456789012345678901234\n" ONE_CTR,
               "1:7: name", "is longer than 63 characters");
  expect_error(POD_HEAD "containers:\n  - name: C1\n    image: busybox\n",
               "3:11: containers[0].name", "not a DNS label");
  expect_error(POD_HEAD "volumes: [{name: my_vol}]\n" ONE_CTR, "2:18: volumes[0].name",
               "not a DNS label");
  expect_error(POD_HEAD "network: {nics: [{name: eth0-very-long-name}]}\n" ONE_CTR,
               "2:25: network.nics[0].name", "longer than 15 characters");
  expect_error(POD_HEAD "network: {nics: [{name: eth0, parent: 'a/b'}]}\n" ONE_CTR,
               "2:39: network.nics[0].parent", "not an interface name");
  expect_error(POD_HEAD "network: {nics: [{name: eth0, macvlan_mode: bridged}]}\n" ONE_CTR,
               "2:45: network.nics[0].macvlan_mode", "unknown macvlan mode");
  expect_error(POD_HEAD "network: bridge\n" ONE_CTR, "2:10: network", "unknown network mode");
}

static void
test_limits(void **state)
{
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 0}\n", "5:22: containers[0].limits.memory",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: -1Mi}\n", "5:22: containers[0].limits.memory",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 10}\n", "5:22: containers[0].limits.memory",
               "below one page");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 5MB}\n", "5:22: containers[0].limits.memory",
               "unknown memory suffix");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 1.5}\n", "5:22: containers[0].limits.memory",
               "expected a size");
  expect_error(POD_HEAD ONE_CTR "    limits: {memory: 99999999999Ti}\n",
               "5:22: containers[0].limits.memory", "too large");
  expect_error(POD_HEAD ONE_CTR "    limits: {pids: 0}\n", "5:20: containers[0].limits.pids",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {pids: -5}\n", "5:20: containers[0].limits.pids",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: 0}\n", "5:19: containers[0].limits.cpu",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: -0.5}\n", "5:19: containers[0].limits.cpu",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: 2x}\n", "5:19: containers[0].limits.cpu",
               "cpu is a number of cores");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: 0.0001}\n", "5:19: containers[0].limits.cpu",
               "more precision than a millicore");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: 5m}\n", "5:19: containers[0].limits.cpu",
               "below the kernel's minimum");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: {quota_us: 0}}\n",
               "5:30: containers[0].limits.cpu.quota_us", "must be positive");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: {quota_us: 5000, period_us: 5000000}}\n",
               "5:47: containers[0].limits.cpu.period_us", "between 1000 and 1000000");
  expect_error(POD_HEAD ONE_CTR "    limits: {cpu: {period_us: 5000}}\n",
               "5:19: containers[0].limits.cpu.quota_us", "required field missing");
}

static void
test_durations_signals_users_images(void **state)
{
  expect_error(POD_HEAD ONE_CTR "    stop_timeout: 10\n", "5:19: containers[0].stop_timeout",
               "expected a duration");
  expect_error(POD_HEAD ONE_CTR "    stop_timeout: 10 s\n", "5:19: containers[0].stop_timeout",
               "a duration is a number with a unit");
  expect_error(POD_HEAD ONE_CTR "    stop_timeout: 1.5ms\n", "5:19: containers[0].stop_timeout",
               "whole milliseconds");
  expect_error(POD_HEAD "backoff: {initial: 10s, max: 1s}\n" ONE_CTR, "2:30: backoff.max",
               "must not be shorter than initial");
  expect_error(POD_HEAD "backoff: {initial: 0s}\n" ONE_CTR, "2:20: backoff.initial",
               "must be positive");
  expect_error(POD_HEAD ONE_CTR "    stop_signal: SIGFOO\n", "5:18: containers[0].stop_signal",
               "unknown signal");
  expect_error(POD_HEAD ONE_CTR "    stop_signal: 65\n", "5:18: containers[0].stop_signal",
               "1 to 64");
  expect_error(POD_HEAD ONE_CTR "    user: 'root:wheel:x'\n", "5:11: containers[0].user",
               "is not USER[:GROUP]");
  expect_error(POD_HEAD ONE_CTR "    user: '4294967295'\n", "5:11: containers[0].user",
               "is not USER[:GROUP]");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: Busybox\n",
               "4:12: containers[0].image", "lowercase");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: 'busybox:'\n",
               "4:12: containers[0].image", "tag ``");
  expect_error(POD_HEAD "containers:\n  - name: c\n    image: busybox@sha256:1234\n",
               "4:12: containers[0].image", "64 hex digits");
}

static void
test_all_errors_reported(void **state)
{
  const char *text = "name: BAD\nrestart: x\ncontainers:\n  - name: c\n    image: busybox\n"
                     "    limits: {memory: 0, pids: 0}\n    tty: 3\n";
  struct spec_file f;
  assert_true(spec_parse(text, strlen(text), "t.yaml", SPEC_FORMAT_AUTO, &f) < 0);
  assert_int_equal(f.n_errors, 5);
  spec_file_free(&f);
}

/* ---- defaults, quantities ---------------------------------------------- */

static void
test_defaults(void **state)
{
  struct spec_pod *pod = parse_ok(POD_HEAD ONE_CTR);
  assert_string_equal(pod->name, "p");
  assert_int_equal(pod->restart, SPEC_RESTART_ALWAYS);
  assert_int_equal(pod->backoff.initial_ms, 1000);
  assert_int_equal(pod->backoff.max_ms, 60000);
  assert_int_equal(pod->backoff.reset_after_ms, 60000);
  assert_int_equal(pod->network.mode, SPEC_NET_NONE);
  const struct spec_container *c = &pod->containers[0];
  assert_null(c->command);
  assert_false(c->has_args);
  assert_null(c->working_dir);
  assert_null(c->user);
  assert_false(c->tty);
  assert_int_equal(c->stop_signal, 0);
  assert_int_equal(c->stop_timeout_ms, 10000);
  assert_int_equal(c->limits.memory_bytes, 0);
  assert_int_equal(c->limits.cpu_quota_us, 0);
  spec_pod_free(pod);

  pod = parse_ok(POD_HEAD
                 "backoff: {max: 5m}\nnetwork:\n  nics: [{name: eth0, ip: 10.0.0.2/8}]\n" ONE_CTR);
  assert_int_equal(pod->backoff.initial_ms, 1000);
  assert_int_equal(pod->backoff.max_ms, 300000);
  assert_int_equal(pod->network.nics[0].macvlan_mode, SPEC_MACVLAN_BRIDGE);
  assert_null(pod->network.nics[0].parent);
  assert_false(pod->network.nics[0].has_mac);
  assert_false(pod->network.has_dns);
  spec_pod_free(pod);
}

static void
test_quantities(void **state)
{
  const char *why;
  uint64_t v;
  int sig;
  assert_int_equal(spec_parse_memory("512Mi", &v, &why), 0);
  assert_int_equal(v, 512ULL << 20);
  assert_int_equal(spec_parse_memory("1G", &v, &why), 0);
  assert_int_equal(v, 1000000000ULL);
  assert_int_equal(spec_parse_memory("1.5Gi", &v, &why), 0);
  assert_int_equal(v, 3ULL << 29);
  assert_int_equal(spec_parse_memory("4096", &v, &why), 0);
  assert_int_equal(v, 4096);
  assert_int_equal(spec_parse_memory("2Ki", &v, &why), 0);
  assert_int_equal(v, 2048);
  assert_true(spec_parse_memory("1.0001K", &v, &why) < 0);
  assert_true(spec_parse_memory("Mi", &v, &why) < 0);
  assert_true(spec_parse_memory("", &v, &why) < 0);

  assert_int_equal(spec_parse_cpu_cores("1.5", &v, &why), 0);
  assert_int_equal(v, 1500);
  assert_int_equal(spec_parse_cpu_cores("500m", &v, &why), 0);
  assert_int_equal(v, 500);
  assert_int_equal(spec_parse_cpu_cores("2", &v, &why), 0);
  assert_int_equal(v, 2000);
  assert_true(spec_parse_cpu_cores("1.5m", &v, &why) < 0);

  assert_int_equal(spec_parse_duration("500ms", &v, &why), 0);
  assert_int_equal(v, 500);
  assert_int_equal(spec_parse_duration("10s", &v, &why), 0);
  assert_int_equal(v, 10000);
  assert_int_equal(spec_parse_duration("1m30s", &v, &why), 0);
  assert_int_equal(v, 90000);
  assert_int_equal(spec_parse_duration("1h2m3s4ms", &v, &why), 0);
  assert_int_equal(v, 3723004);
  assert_int_equal(spec_parse_duration("1.5s", &v, &why), 0);
  assert_int_equal(v, 1500);
  assert_true(spec_parse_duration("10", &v, &why) < 0);
  assert_true(spec_parse_duration("s", &v, &why) < 0);
  assert_true(spec_parse_duration("10d", &v, &why) < 0);
  assert_true(spec_parse_duration("999999999h", &v, &why) < 0);

  assert_int_equal(spec_parse_signal("SIGTERM", &sig, &why), 0);
  assert_int_equal(sig, SIGTERM);
  assert_int_equal(spec_parse_signal("TERM", &sig, &why), 0);
  assert_int_equal(sig, SIGTERM);
  assert_int_equal(spec_parse_signal("9", &sig, &why), 0);
  assert_int_equal(sig, 9);
  assert_int_equal(spec_parse_signal("SIGWINCH", &sig, &why), 0);
  assert_int_equal(sig, SIGWINCH);
  assert_true(spec_parse_signal("sigterm", &sig, &why) < 0);
  assert_true(spec_parse_signal("0", &sig, &why) < 0);

  char *d = spec_format_duration(90000);
  assert_string_equal(d, "90s");
  free(d);
  d = spec_format_duration(1500);
  assert_string_equal(d, "1500ms");
  free(d);

  struct spec_ip ip, net;
  assert_int_equal(spec_parse_ip("10.1.2.3/16", true, &ip, &why), 0);
  assert_int_equal(spec_parse_ip("10.1.0.0/16", true, &net, &why), 0);
  assert_true(spec_ip_in_subnet(&ip, &net));
  assert_int_equal(spec_parse_ip("10.2.0.1", false, &ip, &why), 0);
  assert_false(spec_ip_in_subnet(&ip, &net));
  assert_int_equal(spec_parse_ip("fd00::1", false, &ip, &why), 0);
  assert_int_equal(ip.family, AF_INET6);
  assert_false(spec_ip_in_subnet(&ip, &net));
}

static void
test_cpu_forms(void **state)
{
  struct spec_pod *pod = parse_ok(
      POD_HEAD "containers:\n"
               "  - {name: a, image: busybox, limits: {cpu: 1.5}}\n"
               "  - {name: b, image: busybox, limits: {cpu: 250m}}\n"
               "  - {name: c, image: busybox, limits: {cpu: {quota_us: 20000, period_us: 50000}}}\n"
               "  - {name: d, image: busybox, limits: {cpu: 2, memory: 1Gi, pids: 50}}\n");
  assert_int_equal(pod->containers[0].limits.cpu_quota_us, 150000);
  assert_int_equal(pod->containers[0].limits.cpu_period_us, 100000);
  assert_int_equal(pod->containers[1].limits.cpu_quota_us, 25000);
  assert_int_equal(pod->containers[2].limits.cpu_quota_us, 20000);
  assert_int_equal(pod->containers[2].limits.cpu_period_us, 50000);
  assert_int_equal(pod->containers[3].limits.cpu_quota_us, 200000);
  assert_int_equal(pod->containers[3].limits.memory_bytes, 1ULL << 30);
  assert_int_equal(pod->containers[3].limits.pids, 50);
  spec_pod_free(pod);
}

/* ---- JSON, streams, Kubernetes -------------------------------------------- */

static void
test_json_positions(void **state)
{
  expect_error("{\"name\": \"p\",\n \"containers\": [{\"name\": \"c\", \"image\": \"busybox\",\n"
               "   \"limits\": {\"memory\": \"12Q\"}}]}",
               "3:25: containers[0].limits.memory", "unknown memory suffix");
  expect_error("{\"name\": \"p\", \"name\": \"q\"}", "1:20", "duplicate object key");
  expect_error("{\"name\": \"p\",", "1:13", "JSON: string or '}' expected");
  expect_error(
      "{\"name\": \"p\", \"containers\": [{\"name\": \"c\", \"image\": \"busybox\", \"x\": 1}]}",
      "1:64: containers[0].x", "unknown field");
  expect_error_fmt("name: p\n", SPEC_FORMAT_JSON, "1:4", "JSON: invalid token");
}

static void
test_stream(void **state)
{
  const char *text = "name: a\n" ONE_CTR "---\nname: B\n" ONE_CTR "---\nname: c\n" ONE_CTR "---\n";
  struct spec_file f;
  assert_true(spec_parse(text, strlen(text), "t.yaml", SPEC_FORMAT_AUTO, &f) < 0);
  assert_int_equal(f.n_pods, 3);
  assert_non_null(f.pods[0]);
  assert_null(f.pods[1]);
  assert_non_null(f.pods[2]);
  assert_string_equal(f.pods[2]->name, "c");
  assert_int_equal(f.n_errors, 1);
  assert_non_null(strstr(f.errors[0], "t.yaml:6:7: name:"));
  spec_file_free(&f);

  expect_error("", "1:1", "no pod in the input");
  expect_error("# only a comment\n", "1:1", "no pod in the input");
  expect_error("name: p\n  bad: indent\n", "2:6", "YAML:");
}

static void
test_k8s(void **state)
{
#define K8S_HEAD "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n"
  struct spec_pod *pod = parse_ok(
      K8S_HEAD
      "  restartPolicy: Never\n  hostNetwork: true\n"
      "  volumes:\n    - {name: d, emptyDir: {}}\n    - {name: h, hostPath: {path: /srv}}\n"
      "  containers:\n    - name: c\n      image: busybox\n      workingDir: /w\n"
      "      env: [{name: A, value: x}, {name: B}]\n"
      "      volumeMounts: [{name: d, mountPath: /d, readOnly: true}]\n"
      "      resources: {limits: {memory: 64Mi, cpu: 500m}}\n"
      "      securityContext: {runAsUser: 1000, runAsGroup: 100}\n");
  assert_string_equal(pod->name, "web");
  assert_int_equal(pod->restart, SPEC_RESTART_NEVER);
  assert_int_equal(pod->network.mode, SPEC_NET_HOST);
  assert_null(pod->volumes[0].host);
  assert_string_equal(pod->volumes[1].host, "/srv");
  const struct spec_container *c = &pod->containers[0];
  assert_string_equal(c->working_dir, "/w");
  assert_int_equal(c->n_env, 2);
  assert_string_equal(c->env[1].name, "B");
  assert_string_equal(c->env[1].value, "");
  assert_true(c->mounts[0].read_only);
  assert_int_equal(c->limits.memory_bytes, 64 << 20);
  assert_int_equal(c->limits.cpu_quota_us, 50000);
  assert_string_equal(c->user, "1000:100");
  spec_pod_free(pod);

  expect_error(
      K8S_HEAD
      "  containers:\n    - name: c\n      image: busybox\n      imagePullPolicy: Always\n",
      "9:7: spec.containers[0].imagePullPolicy", "not supported by Tank");
  expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {a: b}\nspec: "
               "{containers: []}\n",
               "5:3: metadata.labels", "not supported by Tank");
  expect_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n",
               "1:13: apiVersion", "apiVersion: v1 only");
  expect_error(K8S_HEAD "  nodeSelector: {a: b}\n  containers: []\n", "6:3: spec.nodeSelector",
               "not supported by Tank");
  expect_error(K8S_HEAD
               "  containers:\n    - name: c\n      image: busybox\n      workingDir: rel\n",
               "9:19: spec.containers[0].workingDir", "relative path");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n      image: busybox\n"
                        "      resources: {limits: {memory: 0}}\n",
               "9:36: spec.containers[0].resources.limits.memory", "must be positive");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n      image: busybox\n"
                        "      resources: {requests: {memory: 1Mi}}\n",
               "9:19: spec.containers[0].resources.requests", "not supported by Tank");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n      image: busybox\n"
                        "      env: [{name: A, valueFrom: {secretKeyRef: {}}}]\n",
               "9:23: spec.containers[0].env[0].valueFrom", "not supported by Tank");
  expect_error(K8S_HEAD "  volumes: [{name: s, secret: {secretName: x}}]\n  containers: []\n",
               "6:23: spec.volumes[0].secret", "not supported by Tank");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n", "7:7: spec.containers[0].image",
               "required field missing");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n      image: busybox\n"
                        "      volumeMounts: [{name: nope, mountPath: /x}]\n",
               "9:29: spec.containers[0].volumeMounts[0].name", "no volume named `nope`");
  expect_error(K8S_HEAD "  containers:\n    - name: c\n      image: busybox\n"
                        "      securityContext: {runAsGroup: 5}\n",
               "9:37: spec.containers[0].securityContext.runAsGroup", "needs runAsUser");
  expect_error(K8S_HEAD "  restartPolicy: Sometimes\n  containers: []\n",
               "6:18: spec.restartPolicy", "expected Always, OnFailure or Never");
#undef K8S_HEAD
}

/* ---- hostile input -------------------------------------------------------- */

static void
test_bombs(void **state)
{
  /* billion laughs: 9 levels of 9 aliases */
  char bomb[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; i++) {
    char line[256];
    snprintf(line, sizeof line,
             "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1,
             i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    strcat(bomb, line);
  }
  expect_error(bomb, "6:15", "document too large");

  /* Aliases within bounds are fine. */
  struct spec_pod *pod
      = parse_ok("name: p\ncontainers:\n  - &c {name: c, image: busybox, limits: &l {pids: 5}}\n"
                 "  - {name: d, image: busybox, limits: *l}\n");
  assert_int_equal(pod->containers[1].limits.pids, 5);
  spec_pod_free(pod);
  expect_error("a: &a [*a]\n", "1:8", "alias `*a` refers to a node that contains it");
  expect_error("a: *nope\n", "1:4", "names no anchor");

  /* deep nesting, YAML and JSON */
  size_t n = 100000;
  char *deep = malloc(n * 2 + 1);
  memset(deep, '[', n);
  memset(deep + n, ']', n);
  deep[2 * n] = '\0';
  expect_error(deep, "1:65", "nested deeper than 64 levels");
  deep[0] = '{';
  expect_error_fmt(deep, SPEC_FORMAT_JSON, "1:2", "JSON:");
  memset(deep, '[', n);
  expect_error_fmt(deep, SPEC_FORMAT_JSON, "1:2049", "JSON: maximum parsing depth");
  free(deep);

  /* a 10 MB document is refused before parsing */
  size_t big = 10 * 1024 * 1024;
  char *huge = malloc(big + 1);
  memset(huge, ' ', big);
  memcpy(huge, "name: p\n", 8);
  huge[big] = '\0';
  expect_error(huge, "1:1", "a spec may be at most 1048576 bytes");
  free(huge);

  /* invalid UTF-8 */
  expect_error("name: \xff\xfe\n" ONE_CTR, "1:1", "YAML: invalid leading UTF-8 octet");
  expect_error("{\"name\": \"\xc3\x28\"}", "1:10", "JSON: unable to decode byte");
  /* a NUL byte in JSON must not hide the rest of the document */
  struct spec_file nf;
  assert_true(spec_parse("{\"name\": \"p\"}\0garbage", 22, "t.json", SPEC_FORMAT_JSON, &nf) < 0);
  assert_non_null(strstr(nf.errors[0], "t.json:1:14: JSON: NUL byte"));
  spec_file_free(&nf);
  /* NUL characters in a string */
  expect_error("name: \"a\\0b\"\n" ONE_CTR, "1:7: name", "NUL");
  expect_error("name: !!binary aGVsbG8=\n" ONE_CTR, "1:7", "tag");
}

/* ---- round trips ---------------------------------------------------------- */

static void
round_trip(const char *label, const char *text, size_t len)
{
  struct spec_file f;
  if (spec_parse(text, len, label, SPEC_FORMAT_AUTO, &f) < 0) {
    dump_errors(&f);
    fail_msg("%s does not validate", label);
  }
  for (size_t i = 0; i < f.n_pods; i++) {
    char *canon = spec_pod_to_canonical(f.pods[i]);
    struct spec_file g;
    assert_int_equal(spec_parse(canon, strlen(canon), "canonical", SPEC_FORMAT_JSON, &g), 0);
    assert_int_equal(g.n_pods, 1);
    assert_true(spec_pod_equal(f.pods[i], g.pods[0]));
    char *again = spec_pod_to_canonical(g.pods[0]);
    assert_string_equal(canon, again);

    /* and through YAML output */
    char *yaml = NULL;
    size_t ylen = 0;
    FILE *mem = open_memstream(&yaml, &ylen);
    json_t *j = spec_pod_to_json(f.pods[i]);
    assert_int_equal(spec_emit_yaml(mem, &j, 1), 0);
    fclose(mem);
    json_decref(j);
    struct spec_file h;
    if (spec_parse(yaml, ylen, "yaml-out", SPEC_FORMAT_YAML, &h) < 0) {
      dump_errors(&h);
      fail_msg("YAML output of %s does not validate:\n%s", label, yaml);
    }
    assert_true(spec_pod_equal(f.pods[i], h.pods[0]));
    spec_file_free(&h);
    free(yaml);
    free(again);
    free(canon);
    spec_file_free(&g);
  }
  spec_file_free(&f);
}

static void
test_round_trip_examples(void **state)
{
  static const char *const examples[]
      = { "web.yaml", "web.json", "sidecar.yaml", "shell.yaml", "k8s-pod.yaml" };
  for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s", TANK_SOURCE_DIR, examples[i]);
    char *buf;
    size_t len;
    tank_error *err = NULL;
    if (read_file_limited(path, SPEC_MAX_BYTES, &buf, &len, &err) < 0)
      fail_msg("%s", err->msg);
    round_trip(path, buf, len);
    free(buf);
  }
  /* Odd but valid values survive too. */
  const char *odd = "name: p\ncontainers:\n  - name: c\n    image: busybox\n"
                    "    args: []\n    env: {'YES': 'no', N: '1:2', E: '', Q: \"a\\\"b\\nc\"}\n"
                    "    user: '0'\n    stop_signal: 34\n    stop_timeout: 0\n";
  round_trip("odd", odd, strlen(odd));
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unknown_keys),
    cmocka_unit_test(test_wrong_types),
    cmocka_unit_test(test_containers_required),
    cmocka_unit_test(test_duplicates),
    cmocka_unit_test(test_mount_volume_reference),
    cmocka_unit_test(test_relative_paths),
    cmocka_unit_test(test_addresses),
    cmocka_unit_test(test_gateways),
    cmocka_unit_test(test_enums_and_labels),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_durations_signals_users_images),
    cmocka_unit_test(test_all_errors_reported),
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_quantities),
    cmocka_unit_test(test_cpu_forms),
    cmocka_unit_test(test_json_positions),
    cmocka_unit_test(test_stream),
    cmocka_unit_test(test_k8s),
    cmocka_unit_test(test_bombs),
    cmocka_unit_test(test_round_trip_examples),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
