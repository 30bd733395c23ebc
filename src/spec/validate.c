/* The pod validator: walks a document tree, checks every field's type, syntax
 * and cross-references, applies defaults, and reports each problem as
 * "FILE:LINE:COL: path: reason" — all of them, not only the first. */
#include "spec/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "util/cleanup.h"

/* Resource bounds on what one pod may declare. */
#define MAX_CONTAINERS  64
#define MAX_VOLUMES     64
#define MAX_MOUNTS      64
#define MAX_NICS        16
#define MAX_IPS         32
#define MAX_NAMESERVERS 3 /* the resolver ignores the rest */
#define MAX_ARGV        4096
#define MAX_ENV         1024
#define MAX_STRING      4096
#define MAX_ENV_VALUE   (64 * 1024)
#define MAX_PIDS        4194304

/* ---- error sink and paths ---------------------------------------------- */

void
verr(struct vctx *c, const struct tnode *n, const char *path, const char *fmt, ...)
{
  c->errors++;
  if (c->out->n_errors + c->n_pending >= SPEC_MAX_ERRORS) {
    c->suppressed++;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  unsigned line = n ? n->line : 1, col = n ? n->col : 1;
  char *text = NULL;
  if (asprintf(&text, "%s:%u:%u: %s%s%s", c->file, line, col, path, *path ? ": " : "", msg) < 0)
    abort();
  free(msg);
  struct verror *p = realloc(c->pending, (c->n_pending + 1) * sizeof *p);
  if (p == NULL)
    abort();
  c->pending = p;
  c->pending[c->n_pending++] = (struct verror){ ((uint64_t)line << 32) | col, text };
}

void
vctx_flush(struct vctx *c)
{
  /* Insertion sort: stable (equal positions keep their order) and the lists are short. */
  struct verror *e = c->pending;
  size_t n = c->n_pending;
  for (size_t i = 1; i < n; i++) {
    struct verror cur = e[i];
    size_t j = i;
    for (; j > 0 && e[j - 1].position > cur.position; j--)
      e[j] = e[j - 1];
    e[j] = cur;
  }
  char **errs = realloc(c->out->errors, (c->out->n_errors + n + 1) * sizeof *errs);
  if (errs == NULL)
    abort();
  c->out->errors = errs;
  for (size_t i = 0; i < n; i++)
    c->out->errors[c->out->n_errors++] = e[i].text;
  free(c->pending);
  c->pending = NULL;
  c->n_pending = 0;
}

void
child_path(char *buf, const char *parent, const char *key, const struct tnode *child)
{
  if (child && child->origin)
    snprintf(buf, SPEC_PATH_MAX, "%s", child->origin);
  else
    snprintf(buf, SPEC_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key);
}

void
index_path(char *buf, const char *parent, size_t i, const struct tnode *child)
{
  if (child && child->origin)
    snprintf(buf, SPEC_PATH_MAX, "%s", child->origin);
  else
    snprintf(buf, SPEC_PATH_MAX, "%s[%zu]", parent, i);
}

static bool
key_is(const struct tnode *k, const char *s)
{
  return k->len == strlen(s) && memcmp(k->text, s, k->len) == 0;
}

/* Levenshtein distance, for "did you mean" hints on short keys. */
static size_t
edit_distance(const char *a, size_t la, const char *b)
{
  size_t lb = strlen(b);
  if (la > 40 || lb > 40)
    return 99;
  size_t row[41];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t best = prev + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      prev = cur;
    }
  }
  return row[lb];
}

bool
check_keys(struct vctx *c, const struct tnode *map, const char *path, const char *const *allowed,
           const char *what)
{
  if (map->kind != TNODE_MAP) {
    verr(c, map, path, "expected %s (a mapping), got %s", what, tnode_type_name(map->type));
    return false;
  }
  uint64_t seen = 0;
  for (size_t i = 0; i < map->n; i++) {
    const struct tnode *k = map->keys[i];
    size_t a;
    for (a = 0; allowed[a]; a++)
      if (key_is(k, allowed[a]))
        break;
    char p[SPEC_PATH_MAX];
    child_path(p, path, k->text, NULL);
    if (allowed[a] == NULL) {
      char list[512] = "";
      const char *hint = NULL;
      for (size_t b = 0; allowed[b]; b++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", b ? ", " : "", allowed[b]);
        if (edit_distance(k->text, k->len, allowed[b]) <= 2 && hint == NULL)
          hint = allowed[b];
      }
      if (hint)
        verr(c, k, p, "unknown field; did you mean `%s`? (allowed: %s)", hint, list);
      else
        verr(c, k, p, "unknown field (allowed: %s)", list);
      continue;
    }
    if (a < 64 && (seen & (1ULL << a))) {
      verr(c, k, p, "duplicate field");
      continue;
    }
    if (a < 64)
      seen |= 1ULL << a;
  }
  return true;
}

/* ---- typed scalars ------------------------------------------------------ */

static bool
want_string(struct vctx *c, const struct tnode *n, const char *path, size_t max, char **ret)
{
  if (n->type != TNODE_STRING) {
    if (n->kind == TNODE_SCALAR && n->type != TNODE_NULL)
      verr(c, n, path, "expected a string, got %s (quote it: \"%s\")", tnode_type_name(n->type),
           n->text);
    else
      verr(c, n, path, "expected a string, got %s", tnode_type_name(n->type));
    return false;
  }
  if (memchr(n->text, '\0', n->len)) {
    verr(c, n, path, "contains a NUL character");
    return false;
  }
  if (n->len > max) {
    verr(c, n, path, "longer than %zu bytes", max);
    return false;
  }
  if (ret) {
    *ret = strdup(n->text);
    if (*ret == NULL)
      abort();
  }
  return true;
}

static bool
want_bool(struct vctx *c, const struct tnode *n, const char *path, bool *ret)
{
  if (n->type != TNODE_BOOL) {
    verr(c, n, path, "expected true or false, got %s", tnode_type_name(n->type));
    return false;
  }
  *ret = n->boolean;
  return true;
}

static bool
want_seq(struct vctx *c, const struct tnode *n, const char *path, size_t max)
{
  if (n->kind != TNODE_SEQ) {
    verr(c, n, path, "expected a list, got %s", tnode_type_name(n->type));
    return false;
  }
  if (n->n > max) {
    verr(c, n, path, "more than %zu entries", max);
    return false;
  }
  return true;
}

/* A non-negative integer within [min, max]. */
static bool
want_uint(struct vctx *c, const struct tnode *n, const char *path, uint64_t min, uint64_t max,
          uint64_t *ret)
{
  if (n->type != TNODE_INT) {
    verr(c, n, path, "expected an integer, got %s", tnode_type_name(n->type));
    return false;
  }
  const char *t = n->text;
  if (*t == '+')
    t++;
  if (*t == '-') {
    verr(c, n, path, "must be positive");
    return false;
  }
  errno = 0;
  char *end;
  unsigned long long v = strtoull(t, &end, 0);
  if (errno || *end) {
    verr(c, n, path, "integer out of range");
    return false;
  }
  if (v < min || v > max) {
    if (v == 0 && min > 0)
      verr(c, n, path, "must be positive");
    else
      verr(c, n, path, "must be between %llu and %llu", (unsigned long long)min,
           (unsigned long long)max);
    return false;
  }
  *ret = v;
  return true;
}

static bool
want_dns_label(struct vctx *c, const struct tnode *n, const char *path, size_t max_len, char **ret)
{
  char *s = NULL;
  if (!want_string(c, n, path, MAX_STRING, &s))
    return false;
  if (!spec_is_dns_label(s) || strlen(s) > max_len) {
    if (strlen(s) > max_len)
      verr(c, n, path, "`%s` is longer than %zu characters", s, max_len);
    else
      verr(c, n, path,
           "`%s` is not a DNS label (lowercase letters, digits and `-`, starting and ending "
           "with a letter or digit, at most 63 characters)",
           s);
    free(s);
    return false;
  }
  *ret = s;
  return true;
}

/* Absolute path, normalized ("//" and "/./" collapsed, trailing "/" dropped); no "..". */
static bool
want_abs_path(struct vctx *c, const struct tnode *n, const char *path, bool allow_root, char **ret)
{
  _cleanup_free_ char *s = NULL;
  if (!want_string(c, n, path, MAX_STRING, &s))
    return false;
  if (s[0] != '/') {
    verr(c, n, path, "`%s` is a relative path; it must be absolute (start with /)", s);
    return false;
  }
  char *out = malloc(strlen(s) + 2);
  if (out == NULL)
    abort();
  size_t o = 0;
  for (char *p = s; *p;) {
    while (*p == '/')
      p++;
    char *end = strchrnul(p, '/');
    size_t len = (size_t)(end - p);
    if (len == 0 || (len == 1 && p[0] == '.')) {
      p = end;
      continue;
    }
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      verr(c, n, path, "`%s` must not contain `..`", s);
      free(out);
      return false;
    }
    out[o++] = '/';
    memcpy(out + o, p, len);
    o += len;
    p = end;
  }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  if (!allow_root && strcmp(out, "/") == 0) {
    verr(c, n, path, "must not be `/`");
    free(out);
    return false;
  }
  *ret = out;
  return true;
}

static bool
want_duration(struct vctx *c, const struct tnode *n, const char *path, uint64_t *ret_ms)
{
  if (n->type == TNODE_INT && strcmp(n->text, "0") == 0) {
    *ret_ms = 0;
    return true;
  }
  if (n->type != TNODE_STRING) {
    verr(c, n, path, "expected a duration such as 10s or 500ms, got %s", tnode_type_name(n->type));
    return false;
  }
  const char *why;
  if (spec_parse_duration(n->text, ret_ms, &why) < 0) {
    verr(c, n, path, "`%s`: %s", n->text, why);
    return false;
  }
  return true;
}

static bool
want_strv(struct vctx *c, const struct tnode *n, const char *path, size_t max, char ***ret,
          size_t *ret_n)
{
  if (!want_seq(c, n, path, max))
    return false;
  char **v = calloc(n->n + 1, sizeof *v);
  if (v == NULL)
    abort();
  bool ok = true;
  for (size_t i = 0; i < n->n; i++) {
    char p[SPEC_PATH_MAX];
    index_path(p, path, i, n->items[i]);
    ok &= want_string(c, n->items[i], p, MAX_STRING, &v[i]);
  }
  *ret = v;
  *ret_n = n->n;
  return ok;
}

/* ---- network ----------------------------------------------------------- */

static bool
want_ip(struct vctx *c, const struct tnode *n, const char *path, bool with_prefix,
        struct spec_ip *ret)
{
  if (n->type != TNODE_STRING) {
    verr(c, n, path, "expected an IP address string, got %s", tnode_type_name(n->type));
    return false;
  }
  const char *why;
  if (spec_parse_ip(n->text, with_prefix, ret, &why) < 0) {
    verr(c, n, path, "`%s`: %s", n->text, why);
    return false;
  }
  return true;
}

/* A scalar or a list of scalars, as nodes: "ip: 10.0.0.5/24" or "ip: [a, b]". */
static size_t
one_or_many(const struct tnode *n, const struct tnode *const **ret_items)
{
  if (n->kind == TNODE_SEQ) {
    *ret_items = (const struct tnode *const *)n->items;
    return n->n;
  }
  *ret_items = NULL;
  return 1;
}

static const struct tnode *
item_of(const struct tnode *n, const struct tnode *const *items, size_t i)
{
  return items ? items[i] : n;
}

static bool
parse_addresses(struct vctx *c, const struct tnode *n, const char *path, bool with_prefix,
                size_t max, struct spec_ip **ret, size_t *ret_n)
{
  const struct tnode *const *items;
  size_t count = one_or_many(n, &items);
  if (count > max) {
    verr(c, n, path, "more than %zu addresses", max);
    return false;
  }
  if (items && count == 0) {
    verr(c, n, path, "empty list");
    return false;
  }
  struct spec_ip *ips = calloc(count ? count : 1, sizeof *ips);
  if (ips == NULL)
    abort();
  bool ok = true;
  for (size_t i = 0; i < count; i++) {
    const struct tnode *it = item_of(n, items, i);
    char p[SPEC_PATH_MAX];
    if (items)
      index_path(p, path, i, it);
    else
      snprintf(p, sizeof p, "%s", path);
    ok &= want_ip(c, it, p, with_prefix, &ips[i]);
  }
  *ret = ips;
  *ret_n = count;
  return ok;
}

static bool
host_bits_ok(const struct spec_ip *ip)
{
  /* IPv4 network and broadcast addresses of subnets larger than /31 cannot be hosts. */
  if (ip->family != AF_INET || ip->prefix >= 31)
    return true;
  uint32_t a = ((uint32_t)ip->addr[0] << 24) | ((uint32_t)ip->addr[1] << 16)
               | ((uint32_t)ip->addr[2] << 8) | ip->addr[3];
  uint32_t host_mask = ip->prefix == 0 ? 0xffffffffu : (0xffffffffu >> ip->prefix);
  return (a & host_mask) != 0 && (a & host_mask) != host_mask;
}

static bool
parse_mac(const char *s, uint8_t mac[6])
{
  unsigned v[6];
  char end;
  if (strlen(s) != 17
      || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end)
             != 6)
    return false;
  for (int i = 0; i < 6; i++) {
    if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1])
        || (i < 5 && s[i * 3 + 2] != ':'))
      return false;
    mac[i] = (uint8_t)v[i];
  }
  return true;
}

static const char *const nic_keys[]
    = { "name", "parent", "macvlan_mode", "ip", "gateway", "mac", "mtu", "routes", NULL };

#define MAX_ROUTES 64

static bool
parse_routes(struct vctx *c, const struct tnode *n, const char *path, struct spec_nic *nic)
{
  static const char *const keys[] = { "to", "via", NULL };
  if (!want_seq(c, n, path, MAX_ROUTES))
    return false;
  nic->routes = calloc(n->n ? n->n : 1, sizeof *nic->routes);
  if (nic->routes == NULL)
    abort();
  nic->n_routes = n->n;
  bool ok = true;
  for (size_t i = 0; i < n->n; i++) {
    const struct tnode *rn = n->items[i];
    struct spec_route *r = &nic->routes[i];
    char rp[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
    index_path(rp, path, i, rn);
    if (!check_keys(c, rn, rp, keys, "a route {to, via}")) {
      ok = false;
      continue;
    }
    const struct tnode *to = tnode_get(rn, "to"), *via = tnode_get(rn, "via");
    child_path(p, rp, "to", to);
    if (to == NULL) {
      verr(c, rn, p, "required field missing");
      ok = false;
      continue;
    }
    if (!want_ip(c, to, p, true, &r->to)) {
      ok = false;
      continue;
    }
    if (via) {
      child_path(p, rp, "via", via);
      if (!want_ip(c, via, p, false, &r->via)) {
        ok = false;
      } else if (r->via.family != r->to.family) {
        verr(c, via, p, "gateway `%s` is not of the family of `%s`", via->text, to->text);
        ok = false;
      } else {
        r->has_via = true;
      }
    }
  }
  return ok;
}

static bool
parse_nic(struct vctx *c, const struct tnode *n, const char *path, struct spec_nic *nic)
{
  if (!check_keys(c, n, path, nic_keys, "a NIC"))
    return false;
  bool ok = true;
  char p[SPEC_PATH_MAX];
  const struct tnode *v;

  if ((v = tnode_get(n, "name"))) {
    child_path(p, path, "name", v);
    ok &= want_dns_label(c, v, p, 15, &nic->name);
  } else {
    child_path(p, path, "name", NULL);
    verr(c, n, p, "required field missing");
    ok = false;
  }
  if ((v = tnode_get(n, "parent"))) {
    child_path(p, path, "parent", v);
    if (want_string(c, v, p, MAX_STRING, &nic->parent)) {
      size_t len = strlen(nic->parent);
      bool bad
          = len == 0 || len > 15 || strcmp(nic->parent, ".") == 0 || strcmp(nic->parent, "..") == 0;
      for (size_t i = 0; i < len; i++)
        bad |= nic->parent[i] == '/' || nic->parent[i] == ':'
               || isspace((unsigned char)nic->parent[i]);
      if (bad) {
        verr(c, v, p, "`%s` is not an interface name (1-15 characters, no `/`, `:` or spaces)",
             nic->parent);
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if ((v = tnode_get(n, "macvlan_mode"))) {
    child_path(p, path, "macvlan_mode", v);
    _cleanup_free_ char *m = NULL;
    if (want_string(c, v, p, MAX_STRING, &m)) {
      enum spec_macvlan_mode modes[]
          = { SPEC_MACVLAN_BRIDGE, SPEC_MACVLAN_PRIVATE, SPEC_MACVLAN_VEPA, SPEC_MACVLAN_PASSTHRU };
      size_t i;
      for (i = 0; i < ARRAY_SIZE(modes); i++)
        if (strcmp(m, spec_macvlan_mode_name(modes[i])) == 0)
          break;
      if (i == ARRAY_SIZE(modes)) {
        verr(c, v, p, "unknown macvlan mode `%s` (allowed: bridge, private, vepa, passthru)", m);
        ok = false;
      } else {
        nic->macvlan_mode = modes[i];
      }
    } else {
      ok = false;
    }
  }
  if ((v = tnode_get(n, "ip"))) {
    child_path(p, path, "ip", v);
    if (v->kind == TNODE_MAP) {
      static const char *const pool_keys[] = { "pool", NULL };
      const struct tnode *pool = tnode_get(v, "pool");
      if (check_keys(c, v, p, pool_keys, "{pool: NAME}") && pool) {
        char pp[SPEC_PATH_MAX];
        child_path(pp, p, "pool", pool);
        ok &= want_dns_label(c, pool, pp, 63, &nic->ip_pool);
      } else {
        if (!pool)
          verr(c, v, p, "expected {pool: NAME}");
        ok = false;
      }
    } else if (parse_addresses(c, v, p, true, MAX_IPS, &nic->ips, &nic->n_ips)) {
      const struct tnode *const *items;
      one_or_many(v, &items);
      for (size_t i = 0; i < nic->n_ips; i++) {
        char ip_path[SPEC_PATH_MAX];
        const struct tnode *it = item_of(v, items, i);
        if (items)
          index_path(ip_path, p, i, it);
        else
          snprintf(ip_path, sizeof ip_path, "%s", p);
        if (!host_bits_ok(&nic->ips[i])) {
          verr(c, it, ip_path, "`%s` is the network or broadcast address of its subnet", it->text);
          ok = false;
        }
        for (size_t j = 0; j < i; j++)
          if (memcmp(nic->ips[j].addr, nic->ips[i].addr, 16) == 0
              && nic->ips[j].family == nic->ips[i].family) {
            verr(c, it, ip_path, "duplicate address `%s`", it->text);
            ok = false;
          }
      }
    } else {
      ok = false;
    }
  }
  if ((v = tnode_get(n, "gateway"))) {
    child_path(p, path, "gateway", v);
    ok &= parse_addresses(c, v, p, false, 2, &nic->gateways, &nic->n_gateways);
  }
  if ((v = tnode_get(n, "mac"))) {
    child_path(p, path, "mac", v);
    _cleanup_free_ char *m = NULL;
    if (want_string(c, v, p, MAX_STRING, &m)) {
      if (!parse_mac(m, nic->mac)) {
        verr(c, v, p, "`%s` is not a MAC address (six hex pairs: 02:00:00:00:00:05)", m);
        ok = false;
      } else if (nic->mac[0] & 1) {
        verr(c, v, p, "`%s` is a multicast MAC address; a NIC needs a unicast one", m);
        ok = false;
      } else if (memcmp(nic->mac, "\0\0\0\0\0\0", 6) == 0) {
        verr(c, v, p, "`%s` is the all-zero MAC address", m);
        ok = false;
      } else {
        nic->has_mac = true;
      }
    } else {
      ok = false;
    }
  }
  if ((v = tnode_get(n, "mtu"))) {
    child_path(p, path, "mtu", v);
    uint64_t mtu;
    if (want_uint(c, v, p, 68, 65535, &mtu))
      nic->mtu = (unsigned)mtu;
    else
      ok = false;
  }
  if ((v = tnode_get(n, "routes"))) {
    child_path(p, path, "routes", v);
    ok &= parse_routes(c, v, p, nic);
  }
  return ok;
}

static bool
is_ipv6_link_local(const struct spec_ip *ip)
{
  return ip->family == AF_INET6 && ip->addr[0] == 0xfe && (ip->addr[1] & 0xc0) == 0x80;
}

/* Each gateway must sit inside a subnet of a NIC of its family (IPv6 link-local
 * gateways excepted), and a pod has at most one default gateway per family. */
static bool
check_gateways(struct vctx *c, const struct tnode *nics_node, const char *path,
               const struct spec_network *net)
{
  bool ok = true, any_pool = false;
  const struct tnode *first[2] = { NULL, NULL }; /* by family: v4, v6 */
  for (size_t i = 0; i < net->n_nics; i++)
    any_pool |= net->nics[i].ip_pool != NULL;
  for (size_t i = 0; i < net->n_nics; i++) {
    const struct spec_nic *nic = &net->nics[i];
    const struct tnode *gw_node = tnode_get(nics_node->items[i], "gateway");
    if (gw_node == NULL)
      continue;
    char nic_path[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
    index_path(nic_path, path, i, nics_node->items[i]);
    child_path(p, nic_path, "gateway", gw_node);
    const struct tnode *const *items;
    one_or_many(gw_node, &items);
    for (size_t g = 0; g < nic->n_gateways; g++) {
      const struct spec_ip *gw = &nic->gateways[g];
      const struct tnode *it = item_of(gw_node, items, g);
      char gp[SPEC_PATH_MAX];
      if (items)
        index_path(gp, p, g, it);
      else
        snprintf(gp, sizeof gp, "%s", p);
      int fam = gw->family == AF_INET ? 0 : 1;
      if (first[fam]) {
        verr(c, it, gp, "a second default %s gateway (the first is at line %u)",
             fam ? "IPv6" : "IPv4", first[fam]->line);
        ok = false;
        continue;
      }
      first[fam] = it;
      if (any_pool || is_ipv6_link_local(gw))
        continue;
      bool inside = false;
      for (size_t k = 0; k < net->n_nics && !inside; k++)
        for (size_t a = 0; a < net->nics[k].n_ips && !inside; a++)
          inside = spec_ip_in_subnet(gw, &net->nics[k].ips[a]);
      if (!inside) {
        verr(c, it, gp, "gateway `%s` is outside every %s subnet of the pod's NICs", it->text,
             fam ? "IPv6" : "IPv4");
        ok = false;
      }
    }
  }
  return ok;
}

#define MAX_SEARCH      6 /* what glibc's resolver reads */
#define MAX_DNS_OPTIONS 16

/* A resolv.conf word: a search domain or an option such as ndots:2. */
static bool
want_dns_words(struct vctx *c, const struct tnode *n, const char *path, size_t max,
               const char *allowed, const char *what, char ***ret, size_t *ret_n)
{
  if (!want_strv(c, n, path, max, ret, ret_n))
    return false;
  bool ok = true;
  for (size_t i = 0; i < *ret_n; i++) {
    const char *w = (*ret)[i];
    if (*w == '\0' || strlen(w) > 253 || strspn(w, allowed) != strlen(w)) {
      char ip[SPEC_PATH_MAX];
      index_path(ip, path, i, n->items[i]);
      verr(c, n->items[i], ip, "`%s` is not %s", w, what);
      ok = false;
    }
  }
  if (*ret_n == 0) {
    free(*ret);
    *ret = NULL;
  }
  return ok;
}

/* dns: [servers...] or {servers: [...], search: [...], options: [...]} */
static bool
parse_dns(struct vctx *c, const struct tnode *dns, const char *path, struct spec_network *net)
{
  static const char *const keys[] = { "servers", "search", "options", NULL };
  const struct tnode *servers = dns;
  char p[SPEC_PATH_MAX];
  bool ok = true;
  snprintf(p, sizeof p, "%s", path);
  if (dns->kind == TNODE_MAP) {
    if (!check_keys(c, dns, path, keys, "dns"))
      return false;
    const struct tnode *v;
    if ((v = tnode_get(dns, "search"))) {
      char sp[SPEC_PATH_MAX];
      child_path(sp, path, "search", v);
      ok &= want_dns_words(c, v, sp, MAX_SEARCH, "abcdefghijklmnopqrstuvwxyz0123456789.-_",
                           "a domain name", &net->dns_search, &net->n_dns_search);
    }
    if ((v = tnode_get(dns, "options"))) {
      char op[SPEC_PATH_MAX];
      child_path(op, path, "options", v);
      ok &= want_dns_words(c, v, op, MAX_DNS_OPTIONS, "abcdefghijklmnopqrstuvwxyz0123456789:-_",
                           "a resolver option", &net->dns_options, &net->n_dns_options);
    }
    servers = tnode_get(dns, "servers");
    if (servers == NULL)
      return ok;
    child_path(p, path, "servers", servers);
  }
  if (!want_seq(c, servers, p, SIZE_MAX))
    return false;
  if (servers->n > MAX_NAMESERVERS) {
    verr(c, servers, p, "more than %d nameservers (the resolver ignores the rest)",
         MAX_NAMESERVERS);
    return false;
  }
  ok &= parse_addresses(c, servers, p, false, MAX_NAMESERVERS, &net->dns, &net->n_dns);
  net->has_dns = true;
  return ok;
}

static bool
parse_network(struct vctx *c, const struct tnode *n, const char *path, struct spec_network *net)
{
  if (n->type == TNODE_STRING) {
    if (strcmp(n->text, "none") == 0) {
      net->mode = SPEC_NET_NONE;
      return true;
    }
    if (strcmp(n->text, "host") == 0) {
      net->mode = SPEC_NET_HOST;
      return true;
    }
    verr(c, n, path, "unknown network mode `%s` (allowed: none, host, or a mapping with nics)",
         n->text);
    return false;
  }
  static const char *const keys[] = { "nics", "dns", NULL };
  if (n->kind != TNODE_MAP) {
    verr(c, n, path, "expected none, host or a mapping with nics, got %s",
         tnode_type_name(n->type));
    return false;
  }
  if (!check_keys(c, n, path, keys, "a network"))
    return false;
  net->mode = SPEC_NET_NICS;
  bool ok = true;
  char p[SPEC_PATH_MAX];
  const struct tnode *nics = tnode_get(n, "nics");
  child_path(p, path, "nics", nics);
  if (nics == NULL) {
    verr(c, n, p, "required field missing (or use `network: none`)");
    ok = false;
  } else if (want_seq(c, nics, p, MAX_NICS)) {
    if (nics->n == 0) {
      verr(c, nics, p, "empty list (use `network: none` for a pod without NICs)");
      ok = false;
    }
    net->nics = calloc(nics->n ? nics->n : 1, sizeof *net->nics);
    if (net->nics == NULL)
      abort();
    net->n_nics = nics->n;
    bool nics_ok = true;
    for (size_t i = 0; i < nics->n; i++) {
      char np[SPEC_PATH_MAX];
      index_path(np, p, i, nics->items[i]);
      nics_ok &= parse_nic(c, nics->items[i], np, &net->nics[i]);
      for (size_t j = 0; j < i && net->nics[i].name; j++)
        if (net->nics[j].name && strcmp(net->nics[j].name, net->nics[i].name) == 0) {
          char name_path[SPEC_PATH_MAX];
          const struct tnode *nn = tnode_get(nics->items[i], "name");
          child_path(name_path, np, "name", nn);
          verr(c, nn, name_path, "duplicate NIC name `%s`", net->nics[i].name);
          nics_ok = false;
        }
    }
    if (nics_ok)
      nics_ok = check_gateways(c, nics, p, net);
    ok &= nics_ok;
  } else {
    ok = false;
  }
  const struct tnode *dns = tnode_get(n, "dns");
  if (dns) {
    child_path(p, path, "dns", dns);
    ok &= parse_dns(c, dns, p, net);
  }
  return ok;
}

/* ---- volumes, mounts, limits -------------------------------------------- */

static bool
parse_volumes(struct vctx *c, const struct tnode *n, const char *path, struct spec_pod *pod)
{
  static const char *const keys[] = { "name", "host", NULL };
  if (!want_seq(c, n, path, MAX_VOLUMES))
    return false;
  pod->volumes = calloc(n->n ? n->n : 1, sizeof *pod->volumes);
  if (pod->volumes == NULL)
    abort();
  pod->n_volumes = n->n;
  bool ok = true;
  for (size_t i = 0; i < n->n; i++) {
    const struct tnode *vn = n->items[i];
    struct spec_volume *vol = &pod->volumes[i];
    char vp[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
    index_path(vp, path, i, vn);
    if (!check_keys(c, vn, vp, keys, "a volume")) {
      ok = false;
      continue;
    }
    const struct tnode *v = tnode_get(vn, "name");
    child_path(p, vp, "name", v);
    if (v == NULL) {
      verr(c, vn, p, "required field missing");
      ok = false;
    } else if (want_dns_label(c, v, p, 63, &vol->name)) {
      for (size_t j = 0; j < i; j++)
        if (pod->volumes[j].name && strcmp(pod->volumes[j].name, vol->name) == 0) {
          verr(c, v, p, "duplicate volume name `%s`", vol->name);
          ok = false;
        }
    } else {
      ok = false;
    }
    if ((v = tnode_get(vn, "host"))) {
      child_path(p, vp, "host", v);
      ok &= want_abs_path(c, v, p, true, &vol->host);
    }
  }
  return ok;
}

static bool
parse_mounts(struct vctx *c, const struct tnode *n, const char *path, const struct spec_pod *pod,
             struct spec_container *ctr)
{
  static const char *const keys[] = { "volume", "path", "read_only", NULL };
  if (!want_seq(c, n, path, MAX_MOUNTS))
    return false;
  ctr->mounts = calloc(n->n ? n->n : 1, sizeof *ctr->mounts);
  if (ctr->mounts == NULL)
    abort();
  ctr->n_mounts = n->n;
  bool ok = true;
  for (size_t i = 0; i < n->n; i++) {
    const struct tnode *mn = n->items[i];
    struct spec_mount *m = &ctr->mounts[i];
    char mp[SPEC_PATH_MAX], p[SPEC_PATH_MAX];
    index_path(mp, path, i, mn);
    if (!check_keys(c, mn, mp, keys, "a mount")) {
      ok = false;
      continue;
    }
    const struct tnode *v = tnode_get(mn, "volume");
    child_path(p, mp, "volume", v);
    if (v == NULL) {
      verr(c, mn, p, "required field missing");
      ok = false;
    } else if (want_string(c, v, p, MAX_STRING, &m->volume)) {
      bool found = false;
      for (size_t j = 0; j < pod->n_volumes && !found; j++)
        found = pod->volumes[j].name && strcmp(pod->volumes[j].name, m->volume) == 0;
      if (!found) {
        verr(c, v, p, "no volume named `%s` in the pod's volumes", m->volume);
        ok = false;
      }
    } else {
      ok = false;
    }
    v = tnode_get(mn, "path");
    child_path(p, mp, "path", v);
    if (v == NULL) {
      verr(c, mn, p, "required field missing");
      ok = false;
    } else if (want_abs_path(c, v, p, false, &m->path)) {
      for (size_t j = 0; j < i; j++)
        if (ctr->mounts[j].path && strcmp(ctr->mounts[j].path, m->path) == 0) {
          verr(c, v, p, "duplicate mount path `%s`", m->path);
          ok = false;
        }
    } else {
      ok = false;
    }
    if ((v = tnode_get(mn, "read_only"))) {
      child_path(p, mp, "read_only", v);
      ok &= want_bool(c, v, p, &m->read_only);
    }
  }
  return ok;
}

static bool
parse_cpu(struct vctx *c, const struct tnode *n, const char *path, struct spec_limits *lim)
{
  if (n->kind == TNODE_MAP) {
    static const char *const keys[] = { "quota_us", "period_us", NULL };
    if (!check_keys(c, n, path, keys, "{quota_us, period_us}"))
      return false;
    const struct tnode *q = tnode_get(n, "quota_us"), *per = tnode_get(n, "period_us");
    char p[SPEC_PATH_MAX];
    bool ok = true;
    child_path(p, path, "quota_us", q);
    if (q == NULL) {
      verr(c, n, p, "required field missing");
      ok = false;
    } else {
      ok &= want_uint(c, q, p, 1000, UINT32_MAX, &lim->cpu_quota_us);
    }
    lim->cpu_period_us = 100000;
    if (per) {
      child_path(p, path, "period_us", per);
      ok &= want_uint(c, per, p, 1000, 1000000, &lim->cpu_period_us);
    }
    return ok;
  }
  if (n->type != TNODE_STRING && n->type != TNODE_INT && n->type != TNODE_REAL) {
    verr(c, n, path, "expected cores (1.5), millicores (\"500m\") or {quota_us, period_us}, got %s",
         tnode_type_name(n->type));
    return false;
  }
  if (n->text[0] == '-') {
    verr(c, n, path, "must be positive");
    return false;
  }
  uint64_t milli;
  const char *why;
  if (spec_parse_cpu_cores(n->text, &milli, &why) < 0) {
    verr(c, n, path, "`%s`: %s", n->text, why);
    return false;
  }
  lim->cpu_period_us = 100000;
  lim->cpu_quota_us = milli * 100;
  if (lim->cpu_quota_us < 1000) {
    verr(c, n, path, "`%s` is below the kernel's minimum of 10m", n->text);
    return false;
  }
  return true;
}

static bool
parse_limits(struct vctx *c, const struct tnode *n, const char *path, struct spec_limits *lim)
{
  static const char *const keys[] = { "memory", "pids", "cpu", NULL };
  if (!check_keys(c, n, path, keys, "limits"))
    return false;
  bool ok = true;
  char p[SPEC_PATH_MAX];
  const struct tnode *v;
  if ((v = tnode_get(n, "memory"))) {
    child_path(p, path, "memory", v);
    const char *why;
    if (v->type != TNODE_STRING && v->type != TNODE_INT) {
      verr(c, v, p, "expected a size such as 512Mi or a number of bytes, got %s",
           tnode_type_name(v->type));
      ok = false;
    } else if (v->text[0] == '-') {
      verr(c, v, p, "must be positive");
      ok = false;
    } else if (spec_parse_memory(v->text, &lim->memory_bytes, &why) < 0) {
      verr(c, v, p, "`%s`: %s", v->text, why);
      ok = false;
    } else if (lim->memory_bytes < 4096) {
      verr(c, v, p, "`%s` is below one page (4096 bytes)", v->text);
      ok = false;
    }
  }
  if ((v = tnode_get(n, "pids"))) {
    child_path(p, path, "pids", v);
    ok &= want_uint(c, v, p, 1, MAX_PIDS, &lim->pids);
  }
  if ((v = tnode_get(n, "cpu"))) {
    child_path(p, path, "cpu", v);
    ok &= parse_cpu(c, v, p, lim);
  }
  return ok;
}

/* ---- containers ---------------------------------------------------------- */

static bool
valid_user_part(const char *s, size_t n)
{
  if (n == 0 || n > 32)
    return false;
  bool digits = true;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    digits &= isdigit((unsigned char)ch) != 0;
    if (!isalnum((unsigned char)ch) && ch != '_' && ch != '-' && ch != '.')
      return false;
  }
  if (digits) {
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v >= UINT32_MAX)
      return false;
  }
  return s[0] != '-';
}

static bool
parse_user(struct vctx *c, const struct tnode *n, const char *path, char **ret)
{
  if (n->type == TNODE_INT) {
    uint64_t uid;
    if (!want_uint(c, n, path, 0, UINT32_MAX - 1, &uid))
      return false;
    if (asprintf(ret, "%llu", (unsigned long long)uid) < 0)
      abort();
    return true;
  }
  char *s = NULL;
  if (!want_string(c, n, path, MAX_STRING, &s))
    return false;
  char *colon = strchr(s, ':');
  size_t ulen = colon ? (size_t)(colon - s) : strlen(s);
  if (!valid_user_part(s, ulen) || (colon && !valid_user_part(colon + 1, strlen(colon + 1)))) {
    verr(c, n, path, "`%s` is not USER[:GROUP] (names or numeric ids below 4294967295)", s);
    free(s);
    return false;
  }
  *ret = s;
  return true;
}

static bool
valid_env_name(const char *s)
{
  if (!*s || isdigit((unsigned char)*s))
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
      return false;
  return true;
}

static int
env_cmp(const void *a, const void *b)
{
  return strcmp(((const struct spec_env *)a)->name, ((const struct spec_env *)b)->name);
}

static bool
parse_env(struct vctx *c, const struct tnode *n, const char *path, struct spec_container *ctr)
{
  if (n->kind != TNODE_MAP) {
    verr(c, n, path, "expected a mapping of NAME: value, got %s", tnode_type_name(n->type));
    return false;
  }
  if (n->n > MAX_ENV) {
    verr(c, n, path, "more than %d variables", MAX_ENV);
    return false;
  }
  ctr->env = calloc(n->n ? n->n : 1, sizeof *ctr->env);
  if (ctr->env == NULL)
    abort();
  bool ok = true;
  for (size_t i = 0; i < n->n; i++) {
    const struct tnode *k = n->keys[i];
    char p[SPEC_PATH_MAX];
    child_path(p, path, k->text, n->items[i]);
    if (memchr(k->text, '\0', k->len) || !valid_env_name(k->text)) {
      verr(c, k, p,
           "not a variable name (letters, digits, `_`, `-`, `.`; not starting with a digit)");
      ok = false;
      continue;
    }
    bool dup = false;
    for (size_t j = 0; j < ctr->n_env && !dup; j++)
      dup = strcmp(ctr->env[j].name, k->text) == 0;
    if (dup) {
      verr(c, k, p, "duplicate variable");
      ok = false;
      continue;
    }
    char *value = NULL;
    if (!want_string(c, n->items[i], p, MAX_ENV_VALUE, &value)) {
      ok = false;
      continue;
    }
    ctr->env[ctr->n_env].name = strdup(k->text);
    ctr->env[ctr->n_env++].value = value;
  }
  qsort(ctr->env, ctr->n_env, sizeof *ctr->env, env_cmp);
  return ok;
}

static const char *const container_keys[] = {
  "name", "image",  "command", "args",        "env",          "working_dir", "user",
  "tty",  "mounts", "limits",  "stop_signal", "stop_timeout", NULL,
};

static bool
parse_container(struct vctx *c, const struct tnode *n, const char *path, const struct spec_pod *pod,
                struct spec_container *ctr)
{
  ctr->stop_timeout_ms = 10000;
  if (!check_keys(c, n, path, container_keys, "a container"))
    return false;
  bool ok = true;
  char p[SPEC_PATH_MAX];
  const struct tnode *v;

  v = tnode_get(n, "name");
  child_path(p, path, "name", v);
  if (v == NULL) {
    verr(c, n, p, "required field missing");
    ok = false;
  } else {
    ok &= want_dns_label(c, v, p, 63, &ctr->name);
  }
  v = tnode_get(n, "image");
  child_path(p, path, "image", v);
  if (v == NULL) {
    verr(c, n, p, "required field missing");
    ok = false;
  } else if (want_string(c, v, p, MAX_STRING, &ctr->image)) {
    struct image_ref ref;
    tank_error *err = NULL;
    if (image_ref_parse(ctr->image, &ref, &err) < 0) {
      verr(c, v, p, "`%s`: %s", ctr->image, err->msg);
      tank_error_free(err);
      ok = false;
    } else {
      image_ref_clear(&ref);
    }
  } else {
    ok = false;
  }
  if ((v = tnode_get(n, "command"))) {
    child_path(p, path, "command", v);
    if (want_strv(c, v, p, MAX_ARGV, &ctr->command, &ctr->n_command)) {
      if (ctr->n_command == 0) {
        verr(c, v, p, "empty list (omit `command` to use the image's entrypoint)");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if ((v = tnode_get(n, "args"))) {
    child_path(p, path, "args", v);
    ok &= want_strv(c, v, p, MAX_ARGV, &ctr->args, &ctr->n_args);
    ctr->has_args = true;
  }
  if ((v = tnode_get(n, "env"))) {
    child_path(p, path, "env", v);
    ok &= parse_env(c, v, p, ctr);
  }
  if ((v = tnode_get(n, "working_dir"))) {
    child_path(p, path, "working_dir", v);
    ok &= want_abs_path(c, v, p, true, &ctr->working_dir);
  }
  if ((v = tnode_get(n, "user"))) {
    child_path(p, path, "user", v);
    ok &= parse_user(c, v, p, &ctr->user);
  }
  if ((v = tnode_get(n, "tty"))) {
    child_path(p, path, "tty", v);
    ok &= want_bool(c, v, p, &ctr->tty);
  }
  if ((v = tnode_get(n, "mounts"))) {
    child_path(p, path, "mounts", v);
    ok &= parse_mounts(c, v, p, pod, ctr);
  }
  if ((v = tnode_get(n, "limits"))) {
    child_path(p, path, "limits", v);
    ok &= parse_limits(c, v, p, &ctr->limits);
  }
  if ((v = tnode_get(n, "stop_signal"))) {
    child_path(p, path, "stop_signal", v);
    const char *why;
    if (v->type != TNODE_STRING && v->type != TNODE_INT) {
      verr(c, v, p, "expected a signal name or number, got %s", tnode_type_name(v->type));
      ok = false;
    } else if (spec_parse_signal(v->text, &ctr->stop_signal, &why) < 0) {
      verr(c, v, p, "`%s`: %s", v->text, why);
      ok = false;
    }
  }
  if ((v = tnode_get(n, "stop_timeout"))) {
    child_path(p, path, "stop_timeout", v);
    ok &= want_duration(c, v, p, &ctr->stop_timeout_ms);
  }
  return ok;
}

/* ---- the pod -------------------------------------------------------------- */

static bool
parse_backoff(struct vctx *c, const struct tnode *n, const char *path, struct spec_backoff *b)
{
  static const char *const keys[] = { "initial", "max", "reset_after", NULL };
  if (!check_keys(c, n, path, keys, "a backoff"))
    return false;
  bool ok = true;
  char p[SPEC_PATH_MAX];
  const struct tnode *v;
  if ((v = tnode_get(n, "initial"))) {
    child_path(p, path, "initial", v);
    if (want_duration(c, v, p, &b->initial_ms) && b->initial_ms == 0) {
      verr(c, v, p, "must be positive");
      ok = false;
    }
  }
  if ((v = tnode_get(n, "max"))) {
    child_path(p, path, "max", v);
    if (!want_duration(c, v, p, &b->max_ms))
      ok = false;
  }
  if ((v = tnode_get(n, "reset_after"))) {
    child_path(p, path, "reset_after", v);
    if (want_duration(c, v, p, &b->reset_after_ms) && b->reset_after_ms == 0) {
      verr(c, v, p, "must be positive");
      ok = false;
    }
  }
  if (ok && b->max_ms < b->initial_ms) {
    v = tnode_get(n, "max") ? tnode_get(n, "max") : n;
    child_path(p, path, "max", tnode_get(n, "max"));
    verr(c, v, p, "must not be shorter than initial");
    ok = false;
  }
  return ok;
}

static const char *const pod_keys[]
    = { "name", "restart", "backoff", "network", "volumes", "containers", NULL };

struct spec_pod *
spec_validate_pod(struct vctx *c, const struct tnode *root)
{
  size_t errors_before = c->errors;
  if (root->kind != TNODE_MAP) {
    verr(c, root, "", "a pod is a mapping with name and containers, got %s",
         tnode_type_name(root->type));
    return NULL;
  }
  struct spec_pod *pod = calloc(1, sizeof *pod);
  if (pod == NULL)
    abort();
  pod->backoff = (struct spec_backoff){ 1000, 60000, 60000 };
  check_keys(c, root, "", pod_keys, "a pod");

  char p[SPEC_PATH_MAX];
  const struct tnode *v = tnode_get(root, "name");
  child_path(p, "", "name", v);
  if (v == NULL)
    verr(c, root, p, "required field missing");
  else
    want_dns_label(c, v, p, 63, &pod->name);

  if ((v = tnode_get(root, "restart"))) {
    child_path(p, "", "restart", v);
    _cleanup_free_ char *s = NULL;
    if (want_string(c, v, p, MAX_STRING, &s)) {
      if (strcmp(s, "always") == 0)
        pod->restart = SPEC_RESTART_ALWAYS;
      else if (strcmp(s, "on-failure") == 0)
        pod->restart = SPEC_RESTART_ON_FAILURE;
      else if (strcmp(s, "never") == 0)
        pod->restart = SPEC_RESTART_NEVER;
      else
        verr(c, v, p, "unknown restart policy `%s` (allowed: always, on-failure, never)", s);
    }
  }
  if ((v = tnode_get(root, "backoff"))) {
    child_path(p, "", "backoff", v);
    parse_backoff(c, v, p, &pod->backoff);
  }
  if ((v = tnode_get(root, "network"))) {
    child_path(p, "", "network", v);
    parse_network(c, v, p, &pod->network);
  }
  if ((v = tnode_get(root, "volumes"))) {
    child_path(p, "", "volumes", v);
    parse_volumes(c, v, p, pod);
  }
  v = tnode_get(root, "containers");
  child_path(p, "", "containers", v);
  if (v == NULL) {
    verr(c, root, p, "required field missing");
  } else if (want_seq(c, v, p, MAX_CONTAINERS)) {
    if (v->n == 0)
      verr(c, v, p, "a pod needs at least one container");
    pod->containers = calloc(v->n ? v->n : 1, sizeof *pod->containers);
    if (pod->containers == NULL)
      abort();
    pod->n_containers = v->n;
    for (size_t i = 0; i < v->n; i++) {
      char cp[SPEC_PATH_MAX];
      index_path(cp, p, i, v->items[i]);
      parse_container(c, v->items[i], cp, pod, &pod->containers[i]);
      for (size_t j = 0; j < i && pod->containers[i].name; j++)
        if (pod->containers[j].name
            && strcmp(pod->containers[j].name, pod->containers[i].name) == 0) {
          char np[SPEC_PATH_MAX];
          const struct tnode *nn = tnode_get(v->items[i], "name");
          child_path(np, cp, "name", nn);
          verr(c, nn, np, "duplicate container name `%s`", pod->containers[i].name);
        }
    }
  }
  if (c->errors != errors_before)
    return spec_pod_free(pod);
  return pod;
}
