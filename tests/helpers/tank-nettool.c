/* Test driver for Tank's sandbox and network code: what tankd will do for a
 * pod, one step per command, with the pod's network given as JSON shaped like
 * the spec's `network:` section (plus routes, mtu, search, options). The bats
 * tests run it inside a test namespace acting as the host.
 *
 *   tank-nettool create  RUN POD CONFIG.json
 *   tank-nettool check   RUN POD CONFIG.json   (exit 1 and one line per drift)
 *   tank-nettool repair  RUN POD CONFIG.json
 *   tank-nettool destroy RUN POD
 *   tank-nettool hostif-up HOSTIF.json | hostif-down NAME
 *   tank-nettool mac POD INDEX
 *   tank-nettool bench RUN N PARENT      (N create+destroy cycles, ms each)
 *   tank-nettool pod-create|pod-check RUN POD.yaml STORE_URL POOLS.json
 *   tank-nettool pod-destroy RUN NAME STORE_URL [--release]
 *
 * Environment: TANK_UPLINK (daemon `uplink:`), TANK_HOST_RESOLV_CONF. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "net/addr.h"
#include "net/hostif.h"
#include "net/macvlan.h"
#include "net/netconf.h"
#include "runtime/sandbox.h"
#include "spec/spec.h"
#include "util/fileio.h"
#include "util/cleanup.h"

static int
bad(tank_error **err, const char *what, const char *value)
{
  return tank_error_set(err, EINVAL, "%s: bad value `%s`", what, value ? value : "(not a string)");
}

static int
parse_ip_list(json_t *v, bool with_prefix, struct spec_ip **ret, size_t *n, const char *what,
              tank_error **err)
{
  json_t *one = NULL;
  if (json_is_string(v)) {
    one = json_array();
    json_array_append(one, v);
    v = one;
  }
  size_t i;
  json_t *e;
  int r = 0;
  json_array_foreach(v, i, e)
  {
    struct spec_ip ip;
    if (!json_is_string(e) || net_ip_parse(json_string_value(e), with_prefix, &ip) < 0) {
      r = bad(err, what, json_string_value(e));
      break;
    }
    *ret = reallocarray(*ret, *n + 1, sizeof **ret);
    (*ret)[(*n)++] = ip;
  }
  json_decref(one);
  return r;
}

static int
parse_strv(json_t *v, char ***ret, size_t *n, const char *what, tank_error **err)
{
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e)
  {
    if (!json_is_string(e))
      return bad(err, what, NULL);
    *ret = reallocarray(*ret, *n + 1, sizeof **ret);
    (*ret)[(*n)++] = strdup(json_string_value(e));
  }
  return 0;
}

static int
parse_routes(json_t *v, struct net_route **ret, size_t *n, tank_error **err)
{
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e)
  {
    struct net_route r = { 0 };
    const char *to = json_string_value(json_object_get(e, "to"));
    const char *via = json_string_value(json_object_get(e, "via"));
    if (to == NULL || net_ip_parse(strcmp(to, "default") == 0 ? "0.0.0.0/0" : to, true, &r.dst) < 0)
      return bad(err, "routes.to", to);
    if (via) {
      if (net_ip_parse(via, false, &r.via) < 0)
        return bad(err, "routes.via", via);
      r.has_via = true;
      if (strcmp(to, "default") == 0 && r.via.family == AF_INET6)
        net_ip_parse("::/0", true, &r.dst);
    }
    *ret = reallocarray(*ret, *n + 1, sizeof **ret);
    (*ret)[(*n)++] = r;
  }
  return 0;
}

static int
parse_nic(json_t *j, struct net_nic *nic, tank_error **err)
{
  const char *s;
  if ((s = json_string_value(json_object_get(j, "name"))))
    nic->name = strdup(s);
  if ((s = json_string_value(json_object_get(j, "parent"))))
    nic->parent = strdup(s);
  if ((s = json_string_value(json_object_get(j, "macvlan_mode")))
      && net_macvlan_mode_parse(s, &nic->macvlan_mode) < 0)
    return bad(err, "macvlan_mode", s);
  if ((s = json_string_value(json_object_get(j, "mac")))) {
    if (net_mac_parse(s, nic->mac) < 0)
      return bad(err, "mac", s);
    nic->has_mac = true;
  }
  nic->mtu = (unsigned)json_integer_value(json_object_get(j, "mtu"));
  if (parse_ip_list(json_object_get(j, "ip"), true, &nic->ips, &nic->n_ips, "ip", err) < 0)
    return -EINVAL;
  struct spec_ip *gws = NULL;
  size_t n_gws = 0;
  if (parse_ip_list(json_object_get(j, "gateway"), false, &gws, &n_gws, "gateway", err) < 0) {
    free(gws);
    return -EINVAL;
  }
  for (size_t i = 0; i < n_gws; i++) {
    if (gws[i].family == AF_INET) {
      nic->has_gw4 = true;
      nic->gw4 = gws[i];
    } else {
      nic->has_gw6 = true;
      nic->gw6 = gws[i];
    }
  }
  free(gws);
  return parse_routes(json_object_get(j, "routes"), &nic->routes, &nic->n_routes, err);
}

static int
load_config(const char *path, struct net_config *c, tank_error **err)
{
  json_error_t jerr;
  json_t *j = json_load_file(path, 0, &jerr);
  if (j == NULL)
    return tank_error_set(err, EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
  const char *mode = json_string_value(json_object_get(j, "mode"));
  int r = 0;
  memset(c, 0, sizeof *c);
  c->mode = mode == NULL || strcmp(mode, "none") == 0 ? SPEC_NET_NONE
            : strcmp(mode, "host") == 0               ? SPEC_NET_HOST
                                                      : SPEC_NET_NICS;
  json_t *nics = json_object_get(j, "nics");
  if (json_array_size(nics)) {
    c->nics = calloc(json_array_size(nics), sizeof *c->nics);
    for (size_t i = 0; i < json_array_size(nics) && r == 0; i++) {
      c->n_nics++;
      r = parse_nic(json_array_get(nics, i), &c->nics[i], err);
    }
  }
  json_t *dns = json_object_get(j, "dns");
  if (r == 0 && dns) {
    c->has_dns = true;
    r = parse_ip_list(dns, false, &c->dns, &c->n_dns, "dns", err);
  }
  if (r == 0)
    r = parse_strv(json_object_get(j, "search"), &c->search, &c->n_search, "search", err);
  if (r == 0)
    r = parse_strv(json_object_get(j, "options"), &c->options, &c->n_options, "options", err);
  json_decref(j);
  if (r < 0)
    net_config_clear(c);
  return r;
}

static int
load_hostif(const char *path, struct net_host_interface *hi, tank_error **err)
{
  struct net_config c;
  if (load_config(path, &c, err) < 0)
    return -EINVAL;
  if (c.n_nics != 1) {
    net_config_clear(&c);
    return tank_error_set(err, EINVAL, "%s: want exactly one nic", path);
  }
  struct net_nic *n = &c.nics[0];
  *hi = (struct net_host_interface){
    .name = steal_pointer(&n->name),
    .parent = steal_pointer(&n->parent),
    .ips = steal_pointer(&n->ips),
    .n_ips = n->n_ips,
    .routes = steal_pointer(&n->routes),
    .n_routes = n->n_routes,
  };
  n->n_ips = n->n_routes = 0;
  net_config_clear(&c);
  return 0;
}

static int
ip_field(json_t *j, const char *key, bool *has, struct spec_ip *ret, tank_error **err)
{
  const char *s = json_string_value(json_object_get(j, key));
  if (s == NULL)
    return 0;
  if (net_ip_parse(s, true, ret) < 0)
    return bad(err, key, s);
  if (has)
    *has = true;
  return 0;
}

/* [{"name", "subnet", "range": [a, b], "gateway", "dns": [], "reserved": []}] */
static int
load_pools(const char *path, struct ipam_pool **ret, size_t *ret_n, tank_error **err)
{
  json_error_t jerr;
  json_t *j = json_load_file(path, 0, &jerr);
  if (j == NULL)
    return tank_error_set(err, EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
  size_t n = json_array_size(j);
  struct ipam_pool *pools = calloc(n ? n : 1, sizeof *pools);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    json_t *p = json_array_get(j, i);
    struct ipam_pool *pool = &pools[i];
    const char *name = json_string_value(json_object_get(p, "name"));
    pool->name = strdup(name ? name : "");
    json_t *range = json_object_get(p, "range");
    r = ip_field(p, "subnet", NULL, &pool->subnet, err);
    if (r == 0)
      r = ip_field(p, "gateway", &pool->has_gateway, &pool->gateway, err);
    if (r == 0 && json_array_size(range) == 2) {
      pool->has_range = true;
      r = net_ip_parse(json_string_value(json_array_get(range, 0)), false, &pool->range_start);
      if (r == 0)
        r = net_ip_parse(json_string_value(json_array_get(range, 1)), false, &pool->range_end);
      if (r < 0)
        r = bad(err, "range", NULL);
    }
    if (r == 0)
      r = parse_ip_list(json_object_get(p, "dns"), false, &pool->dns, &pool->n_dns, "dns", err);
    if (r == 0)
      r = parse_ip_list(json_object_get(p, "reserved"), false, &pool->reserved, &pool->n_reserved,
                        "reserved", err);
  }
  json_decref(j);
  if (r < 0) {
    for (size_t i = 0; i < n; i++)
      ipam_pool_clear(&pools[i]);
    free(pools);
    return r;
  }
  *ret = pools;
  *ret_n = n;
  return 0;
}

static int
load_pod(const char *path, struct spec_pod **ret, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  struct spec_file f;
  if (read_file_limited(path, SPEC_MAX_BYTES, &buf, &len, err) < 0)
    return -EINVAL;
  int r = spec_parse(buf, len, path, SPEC_FORMAT_AUTO, &f);
  if (r < 0 || f.n_pods != 1) {
    r = tank_error_set(err, EINVAL, "%s", f.n_errors ? f.errors[0] : "want one pod");
    spec_file_free(&f);
    return r;
  }
  *ret = steal_pointer(&f.pods[0]);
  spec_file_free(&f);
  return 0;
}

/* pod-create / pod-check / pod-destroy: the spec-level calls tankd's driver makes. */
static int
pod_command(int argc, char **argv, const struct net_host *host, int *ret_rc, tank_error **err)
{
  const char *cmd = argv[1];
  struct sandbox_env env = { .run_dir = argv[2], .host = *host };
  tank_store *store = NULL;
  struct ipam_pool *pools = NULL;
  struct spec_pod *pod = NULL;
  int r = tank_store_open(argv[4], &store, err);
  env.store = store;
  if (r == 0 && strcmp(cmd, "pod-destroy") == 0) {
    bool release = argc == 6 && strcmp(argv[5], "--release") == 0;
    r = sandbox_destroy_pod(&env, argv[3], release, err);
  } else if (r == 0) {
    r = load_pools(argv[5], &pools, &env.n_pools, err);
    env.pools = pools;
    if (r == 0)
      r = load_pod(argv[3], &pod, err);
    if (r == 0 && strcmp(cmd, "pod-create") == 0)
      r = sandbox_create_pod(&env, pod, err);
    else if (r == 0) {
      struct net_drift d;
      r = sandbox_check_pod(&env, pod, &d, err);
      if (r == 0) {
        for (size_t i = 0; i < d.n; i++)
          printf("%s\n", d.problems[i]);
        *ret_rc = d.n ? 1 : 0;
        net_drift_clear(&d);
      }
    }
  }
  for (size_t i = 0; i < env.n_pools; i++)
    ipam_pool_clear(&pools[i]);
  free(pools);
  spec_pod_free(pod);
  tank_store_close(store);
  return r;
}

static double
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
bench(const char *run, int n, const char *parent, const struct net_host *host, tank_error **err)
{
  struct net_config c = { .mode = SPEC_NET_NICS, .n_nics = 1 };
  struct net_nic nic = { .name = "eth0", .parent = (char *)parent };
  struct spec_ip ip;
  net_ip_parse("10.77.0.2/24", true, &ip);
  nic.ips = &ip;
  nic.n_ips = 1;
  c.nics = &nic;
  double create_total = 0, destroy_total = 0;
  /* A fresh pod name each round: re-creating one pod at once would wait for the
   * kernel to release the old namespace's MAC (see podnet.c), which is not what
   * this measures. */
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "tknb%d", i);
    double t0 = now_ms();
    if (sandbox_create(run, name, &c, host, err) < 0)
      return -1;
    double t1 = now_ms();
    if (sandbox_destroy(run, name, err) < 0)
      return -1;
    create_total += t1 - t0;
    destroy_total += now_ms() - t1;
  }
  printf("create_ms %.3f\ndestroy_ms %.3f\n", create_total / n, destroy_total / n);
  return 0;
}

static int
usage(void)
{
  fprintf(stderr, "usage: tank-nettool create|check|repair RUN POD CONFIG | destroy RUN POD | "
                  "hostif-up FILE | hostif-down NAME | mac POD INDEX | bench RUN N PARENT\n");
  return 2;
}

int
main(int argc, char **argv)
{
  _cleanup_error_ tank_error *err = NULL;
  struct net_host host
      = { .uplink = getenv("TANK_UPLINK"), .host_resolv_conf = getenv("TANK_HOST_RESOLV_CONF") };
  struct net_config c = { 0 };
  int r, rc = 0;

  if (argc < 2)
    return usage();
  const char *cmd = argv[1];
  if (strcmp(cmd, "mac") == 0 && argc == 4) {
    uint8_t mac[6];
    char buf[18];
    net_stable_mac(argv[2], strtoul(argv[3], NULL, 10), mac);
    net_mac_format(mac, buf);
    puts(buf);
    return 0;
  } else if (strcmp(cmd, "destroy") == 0 && argc == 4) {
    r = sandbox_destroy(argv[2], argv[3], &err);
  } else if (strcmp(cmd, "hostif-down") == 0 && argc == 3) {
    r = net_host_interface_down(argv[2], &err);
  } else if (strcmp(cmd, "hostif-up") == 0 && argc == 3) {
    struct net_host_interface hi;
    r = load_hostif(argv[2], &hi, &err);
    if (r == 0) {
      r = net_host_interface_up(&hi, &host, &err);
      net_host_interface_clear(&hi);
    }
  } else if ((argc == 6 && (strcmp(cmd, "pod-create") == 0 || strcmp(cmd, "pod-check") == 0))
             || (strcmp(cmd, "pod-destroy") == 0 && (argc == 5 || argc == 6))) {
    r = pod_command(argc, argv, &host, &rc, &err);
  } else if (strcmp(cmd, "bench") == 0 && argc == 5) {
    r = bench(argv[2], atoi(argv[3]), argv[4], &host, &err);
  } else if (argc == 5
             && (strcmp(cmd, "create") == 0 || strcmp(cmd, "check") == 0
                 || strcmp(cmd, "repair") == 0)) {
    r = load_config(argv[4], &c, &err);
    if (r == 0 && strcmp(cmd, "create") == 0)
      r = sandbox_create(argv[2], argv[3], &c, &host, &err);
    else if (r == 0 && strcmp(cmd, "repair") == 0)
      r = sandbox_repair(argv[2], argv[3], &c, &host, &err);
    else if (r == 0) {
      struct net_drift d;
      r = sandbox_check(argv[2], argv[3], &c, &host, &d, &err);
      if (r == 0) {
        for (size_t i = 0; i < d.n; i++)
          printf("%s\n", d.problems[i]);
        rc = d.n ? 1 : 0;
        net_drift_clear(&d);
      }
    }
    net_config_clear(&c);
  } else {
    return usage();
  }
  if (r < 0) {
    fprintf(stderr, "tank-nettool: %s\n", err ? err->msg : "failed");
    return 2;
  }
  return rc;
}
