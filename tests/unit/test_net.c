/* Pure parts of the network code: address text and arithmetic, config
 * validation, the stable MAC (pinned: it must never change), /etc rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/addr.h"
#include "net/etcfiles.h"
#include "net/macvlan.h"
#include "net/netconf.h"

static struct spec_ip
ip(const char *s)
{
  struct spec_ip r;
  if (net_ip_parse(s, true, &r) < 0)
    fail_msg("parse %s", s);
  return r;
}

static void
test_ip_parse_format(void **state)
{
  char buf[NET_IP_STRLEN];
  struct spec_ip a = ip("10.0.0.5/24");
  assert_int_equal(a.family, AF_INET);
  assert_int_equal(a.prefix, 24);
  assert_string_equal(net_ip_format(&a, true, buf), "10.0.0.5/24");
  a = ip("fd00::5");
  assert_int_equal(a.prefix, 128);
  assert_string_equal(net_ip_format(&a, true, buf), "fd00::5/128");
  struct spec_ip b;
  assert_true(net_ip_parse("10.0.0.5/33", true, &b) < 0);
  assert_true(net_ip_parse("10.0.0.5/", true, &b) < 0);
  assert_true(net_ip_parse("10.0.0.5/24", false, &b) < 0);
  assert_true(net_ip_parse("10.0.0", true, &b) < 0);
  assert_true(net_ip_parse("", true, &b) < 0);
  assert_true(net_ip_parse("fd00::1/-1", true, &b) < 0);
  assert_true(net_ip_parse("fd00::1/1x", true, &b) < 0);
}

static void
test_ip_arith(void **state)
{
  char buf[NET_IP_STRLEN];
  struct spec_ip a = ip("10.0.0.255/24"), n;
  assert_true(net_ip_add(&a, 1));
  assert_string_equal(net_ip_format(&a, false, buf), "10.0.1.0");
  a = ip("255.255.255.255");
  assert_false(net_ip_add(&a, 1));
  a = ip("10.1.2.3/16");
  net_ip_network(&a, &n);
  assert_string_equal(net_ip_format(&n, true, buf), "10.1.0.0/16");
  assert_true(net_ip_in_subnet(&a, &n));
  struct spec_ip other = ip("10.2.0.1");
  assert_false(net_ip_in_subnet(&other, &n));
  struct spec_ip x = ip("fd00::1:0"), y = ip("fd00::ff");
  assert_int_equal(net_ip_diff(&x, &y), 0x10000 - 0xff);
  x = ip("fd01::"), y = ip("fd00::");
  assert_int_equal(net_ip_diff(&x, &y), UINT64_MAX);
  assert_true(net_ip_compare(&y, &x) < 0);
  struct spec_ip lo = ip("127.0.0.53"), lo6 = ip("::1");
  assert_true(net_ip_is_loopback(&lo) && net_ip_is_loopback(&lo6));
}

static void
test_mac(void **state)
{
  uint8_t m[6], m2[6];
  char buf[18];
  /* Pinned values: a change here breaks every DHCP reservation made for a pod. */
  net_stable_mac("web", 0, m);
  net_mac_format(m, buf);
  assert_string_equal(buf, "02:d8:e4:01:3b:72");
  net_stable_mac("web", 1, m2);
  assert_memory_not_equal(m, m2, 6);
  assert_int_equal(m2[0], 0x02);
  assert_int_equal(net_mac_parse("02:00:00:aB:cd:0f", m), 0);
  net_mac_format(m, buf);
  assert_string_equal(buf, "02:00:00:ab:cd:0f");
  assert_true(net_mac_parse("02:00:00:ab:cd", m) < 0);
  assert_true(net_mac_parse("02-00-00-ab-cd-0f", m) < 0);
}

static void
nic1(struct net_config *c, struct net_nic *nic, struct spec_ip *ips, size_t n)
{
  memset(c, 0, sizeof *c);
  memset(nic, 0, sizeof *nic);
  c->mode = SPEC_NET_NICS;
  c->nics = nic;
  c->n_nics = 1;
  nic->name = "eth0";
  nic->ips = ips;
  nic->n_ips = n;
}

static void
expect_invalid(const struct net_config *c, const char *part)
{
  tank_error *err = NULL;
  assert_true(net_config_validate(c, &err) < 0);
  if (strstr(err->msg, part) == NULL)
    fail_msg("got `%s`, want `%s`", err->msg, part);
  tank_error_free(err);
}

static void
test_validate(void **state)
{
  struct net_config c;
  struct net_nic nic;
  struct spec_ip ips[2] = { ip("10.0.0.5/24"), ip("fd00::5/64") };
  tank_error *err = NULL;

  nic1(&c, &nic, ips, 2);
  nic.has_gw4 = true;
  nic.gw4 = ip("10.0.0.1");
  nic.has_gw6 = true;
  nic.gw6 = ip("fe80::1");
  assert_int_equal(net_config_validate(&c, &err), 0);
  nic.gw4 = ip("10.0.1.1");
  expect_invalid(&c, "gateway 10.0.1.1 is in none of its IPv4 subnets");
  nic.has_gw4 = false;
  nic.name = "a-very-long-interface-name";
  expect_invalid(&c, "not an interface name");
  nic.name = "lo";
  expect_invalid(&c, "loopback");
  nic.name = "eth0";
  nic.mtu = 40;
  expect_invalid(&c, "mtu 40");
  nic.mtu = 0;
  nic.has_mac = true;
  nic.mac[0] = 0x01;
  expect_invalid(&c, "multicast");
  nic.has_mac = false;
  ips[1] = ips[0];
  expect_invalid(&c, "listed twice");
  c.mode = SPEC_NET_NONE;
  expect_invalid(&c, "mode is none or host");
  c.mode = SPEC_NET_NICS;
  c.n_nics = 0;
  expect_invalid(&c, "no nics");
  char *search[] = { "ok.test", "bad domain" };
  struct net_config d = { .mode = SPEC_NET_NONE, .search = search, .n_search = 2 };
  expect_invalid(&d, "blank");
}

static void
test_resolv_conf(void **state)
{
  const char *host = "# host\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"
                     "nameserver fe80::1%eth0\nsearch corp.test\noptions edns0 trust-ad\n";
  struct net_config c = { .mode = SPEC_NET_NICS };
  char *out = NULL;
  tank_error *err = NULL;

  assert_int_equal(net_render_resolv_conf(&c, host, &out, &err), 0);
  assert_string_equal(out, "# Generated by Tank for this pod.\nsearch corp.test\n"
                           "nameserver 192.0.2.53\noptions edns0 trust-ad\n");
  free(out);

  struct spec_ip dns[] = { ip("10.0.0.1"), ip("fd00::1") };
  char *search[] = { "a.test", "b.test" };
  char *options[] = { "ndots:2" };
  c.has_dns = true;
  c.dns = dns;
  c.n_dns = 2;
  c.search = search;
  c.n_search = 2;
  c.options = options;
  c.n_options = 1;
  assert_int_equal(net_render_resolv_conf(&c, host, &out, &err), 0);
  assert_string_equal(out, "# Generated by Tank for this pod.\nsearch a.test b.test\n"
                           "nameserver 10.0.0.1\nnameserver fd00::1\noptions ndots:2\n");
  free(out);

  struct net_config h = { .mode = SPEC_NET_HOST };
  assert_int_equal(net_render_resolv_conf(&h, host, &out, &err), 0);
  assert_string_equal(out, host);
  free(out);
  assert_int_equal(net_render_resolv_conf(&h, NULL, &out, &err), 0);
  assert_string_equal(out, "");
  free(out);
}

static void
test_hosts(void **state)
{
  struct net_config c;
  struct net_nic nic;
  struct spec_ip ips[2] = { ip("10.0.0.5/24"), ip("fd00::5/64") };
  char *out = NULL;
  tank_error *err = NULL;

  nic1(&c, &nic, ips, 2);
  assert_int_equal(net_render_hosts("web", &c, &out, &err), 0);
  assert_string_equal(out, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "10.0.0.5\tweb\nfd00::5\tweb\n");
  free(out);
  struct net_config none = { .mode = SPEC_NET_NONE };
  assert_int_equal(net_render_hosts("quiet", &none, &out, &err), 0);
  assert_non_null(strstr(out, "127.0.1.1\tquiet\n"));
  free(out);
}

static void
test_macvlan_modes(void **state)
{
  enum spec_macvlan_mode m;
  assert_int_equal(net_macvlan_mode_parse("passthru", &m), 0);
  assert_int_equal(m, SPEC_MACVLAN_PASSTHRU);
  assert_string_equal(net_macvlan_mode_name(SPEC_MACVLAN_VEPA), "vepa");
  assert_true(net_macvlan_mode_parse("bridged", &m) < 0);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ip_parse_format),
    cmocka_unit_test(test_ip_arith),
    cmocka_unit_test(test_mac),
    cmocka_unit_test(test_validate),
    cmocka_unit_test(test_resolv_conf),
    cmocka_unit_test(test_hosts),
    cmocka_unit_test(test_macvlan_modes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
