/* Store URL parsing: `sqlite:PATH[?opts]` and `etcd://h1:p1,h2:p2[?opts]`, with
 * errors that say which part of the URL is wrong and what would be right. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define URL_MAX_LEN 4096

static int
parse_int64(const char *s, size_t n, int64_t min, int64_t max, int64_t *ret)
{
  int64_t v = 0;
  if (n == 0 || n > 18)
    return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < min || v > max)
    return -ERANGE;
  *ret = v;
  return 0;
}

/* host:port, host a name, an IPv4 address or [IPv6]. */
static bool
valid_endpoint(const char *s, size_t n)
{
  const char *colon = NULL;
  size_t host_len;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || close == s + 1)
      return false;
    for (const char *p = s + 1; p < close; p++)
      if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
        return false;
    host_len = (size_t)(close - s) + 1;
    if (host_len == n || s[host_len] != ':')
      return false;
    colon = s + host_len;
  } else {
    colon = memrchr(s, ':', n);
    if (colon == NULL)
      return false;
    host_len = (size_t)(colon - s);
    if (host_len == 0)
      return false;
    for (size_t i = 0; i < host_len; i++)
      if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
        return false;
  }
  int64_t port;
  return parse_int64(colon + 1, n - host_len - 1, 1, 65535, &port) == 0;
}

static int
parse_options(const char *q, struct tank_store_url *u, tank_error **err)
{
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', n);
    if (eq == NULL)
      return tank_error_set(err, EINVAL, "option `%.*s` has no `=value`", (int)n, q);
    size_t kn = (size_t)(eq - q), vn = n - kn - 1;
    const char *v = eq + 1;
    int64_t num;
    if (kn == 10 && memcmp(q, "timeout_ms", kn) == 0) {
      if (parse_int64(v, vn, 1, 3600 * 1000, &num) < 0)
        return tank_error_set(err, EINVAL, "timeout_ms `%.*s`: want milliseconds in 1..3600000",
                              (int)vn, v);
      u->timeout_ms = (int)num;
    } else if (kn == 4 && memcmp(q, "sync", kn) == 0 && u->backend == TANK_STORE_SQLITE) {
      if (vn == 4 && memcmp(v, "full", 4) == 0)
        u->sync_full = 1;
      else if (vn == 6 && memcmp(v, "normal", 6) == 0)
        u->sync_full = 0;
      else
        return tank_error_set(err, EINVAL, "sync `%.*s`: want `full` or `normal`", (int)vn, v);
    } else if (kn == 7 && memcmp(q, "history", kn) == 0 && u->backend == TANK_STORE_SQLITE) {
      if (parse_int64(v, vn, 1, INT64_C(1000000000), &num) < 0)
        return tank_error_set(err, EINVAL, "history `%.*s`: want revisions in 1..1000000000",
                              (int)vn, v);
      u->history = num;
    } else {
      return tank_error_set(err, EINVAL, "unknown option `%.*s` for %s", (int)kn, q,
                            u->backend == TANK_STORE_SQLITE ? "sqlite" : "etcd");
    }
    q += n + (amp ? 1 : 0);
  }
  return 0;
}

static int
parse_etcd_endpoints(const char *s, size_t n, struct tank_store_url *u, tank_error **err)
{
  if (n == 0)
    return tank_error_set(err, EINVAL, "no endpoints: want etcd://HOST:PORT[,HOST:PORT...]");
  u->endpoints = calloc(TANK_STORE_MAX_ENDPOINTS, sizeof(char *));
  if (u->endpoints == NULL)
    return tank_error_set(err, ENOMEM, "endpoints");
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != ',')
      continue;
    size_t len = i - start;
    if (!valid_endpoint(s + start, len))
      return tank_error_set(err, EINVAL, "endpoint `%.*s`: want HOST:PORT (port 1..65535)",
                            (int)len, s + start);
    if (u->n_endpoints == TANK_STORE_MAX_ENDPOINTS)
      return tank_error_set(err, E2BIG, "more than %d endpoints", TANK_STORE_MAX_ENDPOINTS);
    if (asprintf(&u->endpoints[u->n_endpoints], "http://%.*s", (int)len, s + start) < 0)
      return tank_error_set(err, ENOMEM, "endpoint");
    u->n_endpoints++;
    start = i + 1;
  }
  return 0;
}

static int
parse_url(const char *url, struct tank_store_url *u, tank_error **err)
{
  size_t len = strnlen(url, URL_MAX_LEN + 1);
  if (len > URL_MAX_LEN)
    return tank_error_set(err, E2BIG, "longer than %d bytes", URL_MAX_LEN);
  const char *q = strchr(url, '?');
  size_t body_end = q ? (size_t)(q - url) : len;

  if (strncmp(url, "sqlite:", 7) == 0) {
    u->backend = TANK_STORE_SQLITE;
    const char *p = url + 7;
    size_t n = body_end - 7;
    if (n >= 2 && p[0] == '/' && p[1] == '/') { /* sqlite:///abs/path */
      p += 2;
      n -= 2;
    }
    if (n == 0)
      return tank_error_set(err, EINVAL, "no database path: want sqlite:/path/to/state.db");
    if (memchr(p, '\0', n) != NULL)
      return tank_error_set(err, EINVAL, "path holds a NUL byte");
    u->path = strndup(p, n);
    if (u->path == NULL)
      return tank_error_set(err, ENOMEM, "path");
  } else if (strncmp(url, "etcd://", 7) == 0) {
    u->backend = TANK_STORE_ETCD;
    int r = parse_etcd_endpoints(url + 7, body_end - 7, u, err);
    if (r < 0)
      return r;
  } else {
    const char *colon = strchr(url, ':');
    return tank_error_set(err, EINVAL,
                          "unknown scheme `%.*s`: want sqlite:PATH or etcd://HOST:PORT",
                          colon ? (int)(colon - url) : (int)strnlen(url, 32), url);
  }
  return q ? parse_options(q + 1, u, err) : 0;
}

int
tank_store_url_parse(const char *url, struct tank_store_url *ret_url, tank_error **err)
{
  struct tank_store_url u = {
    .timeout_ms = TANK_STORE_DEFAULT_TIMEOUT_MS,
    .sync_full = 1,
    .history = 10000,
  };
  int r = parse_url(url, &u, err);
  if (r < 0) {
    tank_store_url_clear(&u);
    return tank_error_wrap(err, "store URL `%.200s`", url);
  }
  *ret_url = u;
  return 0;
}

void
tank_store_url_clear(struct tank_store_url *url)
{
  free(url->path);
  url->path = NULL;
  for (size_t i = 0; url->endpoints && i < url->n_endpoints; i++)
    free(url->endpoints[i]);
  free(url->endpoints);
  url->endpoints = NULL;
  url->n_endpoints = 0;
}
