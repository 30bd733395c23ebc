/* auth.json lookup: key normalisation as docker/podman write them. */
#include "image/auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "util/cleanup.h"
#include "util/fileio.h"

#define AUTH_FILE_MAX_BYTES (1u << 20)

const char *
auth_file_path(const char *explicit_path)
{
  if (explicit_path && *explicit_path)
    return explicit_path;
  const char *env = getenv("REGISTRY_AUTH_FILE");
  if (env && *env)
    return env;
  return AUTH_DEFAULT_FILE;
}

/* "https://host:port/v1/" → "host:port"; "host/ns/repo" stays. */
static void
normalize_key(const char *key, char *out, size_t size)
{
  if (strncmp(key, "https://", 8) == 0)
    key += 8;
  else if (strncmp(key, "http://", 7) == 0)
    key += 7;
  snprintf(out, size, "%s", key);
  size_t n = strlen(out);
  while (n > 0 && out[n - 1] == '/')
    out[--n] = '\0';
  char *v = strstr(out, "/v1");
  if (v && (v[3] == '\0'))
    *v = '\0';
  v = strstr(out, "/v2");
  if (v && (v[3] == '\0'))
    *v = '\0';
  if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0)
    snprintf(out, size, "docker.io");
}

static int
decode_entry(json_t *e, const char *key, struct registry_credentials *c, tank_error **err)
{
  const char *auth = json_string_value(json_object_get(e, "auth"));
  if (auth && *auth) {
    size_t len = strlen(auth);
    _cleanup_free_ unsigned char *dec = malloc(len + 1);
    if (dec == NULL)
      return tank_error_set(err, ENOMEM, "decode credentials");
    int n = EVP_DecodeBlock(dec, (const unsigned char *)auth, (int)len);
    if (n < 0)
      return tank_error_set(err, 0, "`auths.%s.auth` is not base64", key);
    while (len > 0 && auth[len - 1] == '=') { /* EVP_DecodeBlock keeps padding bytes */
      len--;
      n--;
    }
    dec[n] = '\0';
    char *colon = strchr((char *)dec, ':');
    if (colon == NULL)
      return tank_error_set(err, 0, "`auths.%s.auth` is not base64 of user:password", key);
    *colon = '\0';
    c->username = strdup((char *)dec);
    c->password = strdup(colon + 1);
  } else {
    const char *u = json_string_value(json_object_get(e, "username"));
    const char *p = json_string_value(json_object_get(e, "password"));
    if (!u || !p)
      return tank_error_set(err, 0, "`auths.%s` has neither `auth` nor username/password", key);
    c->username = strdup(u);
    c->password = strdup(p);
  }
  if (!c->username || !c->password)
    return tank_error_set(err, ENOMEM, "copy credentials");
  return 0;
}

int
auth_lookup(const char *explicit_path, const char *domain, const char *repo,
            struct registry_credentials *ret, tank_error **err)
{
  const char *path = auth_file_path(explicit_path);
  _cleanup_free_ char *buf = NULL;
  size_t len;
  tank_error *e = NULL;
  memset(ret, 0, sizeof *ret);
  if (read_file_limited(path, AUTH_FILE_MAX_BYTES, &buf, &len, &e) < 0) {
    bool missing = e->errnum == ENOENT && !(explicit_path && *explicit_path);
    if (missing) {
      tank_error_free(e);
      return 0;
    }
    *err = e;
    return tank_error_wrap(err, "auth file");
  }
  json_error_t je;
  json_t *j = json_loadb(buf, len, 0, &je);
  if (j == NULL)
    return tank_error_set(err, 0, "auth file `%s`: line %d: %s", path, je.line, je.text);
  json_t *auths = json_object_get(j, "auths");
  char want[1024];
  snprintf(want, sizeof want, "%s/%s", domain, repo);
  const char *key;
  json_t *entry, *best = NULL;
  size_t best_len = 0;
  const char *best_key = NULL;
  json_object_foreach(auths, key, entry)
  {
    char norm[1024];
    normalize_key(key, norm, sizeof norm);
    size_t n = strlen(norm);
    /* "host" matches any repo; "host/ns" matches at a path boundary. */
    if (strncmp(want, norm, n) == 0 && (want[n] == '/' || want[n] == '\0') && n > best_len
        && json_is_object(entry)) {
      best = entry;
      best_len = n;
      best_key = key;
    }
  }
  int r = 0;
  if (best) {
    r = decode_entry(best, best_key, ret, err);
    if (r < 0) {
      registry_credentials_clear(ret);
      tank_error_wrap(err, "auth file `%s`", path);
    } else if ((ret->source = strdup(path)) == NULL) {
      registry_credentials_clear(ret);
      r = tank_error_set(err, ENOMEM, "copy auth file name");
    }
  }
  json_decref(j);
  return r;
}

void
registry_credentials_clear(struct registry_credentials *c)
{
  if (c->password)
    explicit_bzero(c->password, strlen(c->password));
  free(c->username);
  free(c->password);
  free(c->source);
  memset(c, 0, sizeof *c);
}

char *
auth_basic_token(const struct registry_credentials *c)
{
  _cleanup_free_ char *plain = NULL;
  if (asprintf(&plain, "%s:%s", c->username, c->password) < 0)
    return NULL;
  size_t n = strlen(plain);
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  if (out)
    EVP_EncodeBlock((unsigned char *)out, (unsigned char *)plain, (int)n);
  explicit_bzero(plain, n);
  return out;
}
