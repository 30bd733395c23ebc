/* Registry v2 client on libcurl: manifests with a full Accept header, blobs
 * streamed into the verifying writer (resuming with Range on retry), bearer and
 * basic auth, redirects followed by hand so credentials never go to another host. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "image/auth.h"
#include "image/source.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_REDIRECTS   5
#define ERROR_BODY_MAX  (64u << 10)
#define TOKEN_BODY_MAX  (1u << 20)
#define DEFAULT_RETRIES 4

struct registry_source {
  struct image_source base;
  char *domain, *api_host, *repo, *reference, *scheme;
  struct registry_credentials creds;
  char *authfile;
  unsigned max_retries;
  const volatile int *cancel;
  pthread_mutex_t lock;
  char *auth_header; /* "Bearer …" or "Basic …", guarded by lock */
};

struct response {
  struct registry_source *reg;
  long status;
  char *content_type, *www_authenticate;
  char *body;
  size_t body_len, body_max;
  blob_writer *w;
  uint64_t resume_from;
  bool checked_resume;
  tank_error *sink_err;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void
curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
response_clear(struct response *r)
{
  free(r->content_type);
  free(r->www_authenticate);
  free(r->body);
  tank_error_free(r->sink_err);
  r->content_type = r->www_authenticate = r->body = NULL;
  r->sink_err = NULL;
  r->body_len = 0;
  r->status = 0;
  r->checked_resume = false;
}

static char *
trim_dup(const char *s, size_t n)
{
  while (n > 0 && isspace((unsigned char)*s))
    s++, n--;
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  return strndup(s, n);
}

static size_t
on_header(char *buf, size_t size, size_t n, void *data)
{
  struct response *r = data;
  size_t len = size * n;
  if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
    /* A new response (after a 100 or a redirect): forget the old headers. */
    free(r->content_type);
    free(r->www_authenticate);
    r->content_type = r->www_authenticate = NULL;
    const char *sp = memchr(buf, ' ', len);
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    return len;
  }
  const char *colon = memchr(buf, ':', len);
  if (colon == NULL)
    return len;
  size_t klen = (size_t)(colon - buf);
  char **slot = NULL;
  if (klen == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
    slot = &r->content_type;
  else if (klen == 16 && strncasecmp(buf, "WWW-Authenticate", 16) == 0)
    slot = &r->www_authenticate;
  if (slot) {
    free(*slot);
    *slot = trim_dup(colon + 1, len - klen - 1);
  }
  return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *data)
{
  struct response *r = data;
  size_t len = size * n;
  if (r->reg->cancel && *r->reg->cancel) {
    tank_error_set(&r->sink_err, ECANCELED, "pull cancelled");
    return 0;
  }
  if (r->w && (r->status == 200 || r->status == 206)) {
    if (!r->checked_resume) {
      r->checked_resume = true;
      /* Asked to resume but got the whole blob again: start over. */
      if (r->status == 200 && blob_writer_written(r->w) > 0
          && blob_writer_rewind(r->w, &r->sink_err) < 0)
        return 0;
    }
    if (blob_writer_write(r->w, buf, len, &r->sink_err) < 0)
      return 0;
    return len;
  }
  if (r->body_len + len > r->body_max) {
    tank_error_set(&r->sink_err, EFBIG, "response body over %zu bytes", r->body_max);
    return 0;
  }
  char *nb = realloc(r->body, r->body_len + len + 1);
  if (nb == NULL) {
    tank_error_set(&r->sink_err, ENOMEM, "response body");
    return 0;
  }
  memcpy(nb + r->body_len, buf, len);
  r->body = nb;
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return len;
}

static char *
url_host(const char *url)
{
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *out = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
      && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (asprintf(&out, "%s:%s", host, port ? port : "") < 0)
      out = NULL;
  }
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return out;
}

/* One HTTP GET, following redirects; Authorization only to the first host. */
static int
http_get(struct registry_source *reg, const char *url, const char *accept, const char *auth,
         struct response *resp, CURLcode *ret_curl, tank_error **err)
{
  CURL *h = curl_easy_init();
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "create HTTP handle");
  _cleanup_free_ char *current = strdup(url);
  _cleanup_free_ char *first_host = url_host(url);
  int r = 0;
  *ret_curl = CURLE_OK;
  for (int hop = 0;; hop++) {
    response_clear(resp);
    curl_easy_reset(h);
    struct curl_slist *hdrs = NULL;
    char line[8192];
    if (accept) {
      snprintf(line, sizeof line, "Accept: %s", accept);
      hdrs = curl_slist_append(hdrs, line);
    }
    _cleanup_free_ char *host = url_host(current);
    if (auth && host && first_host && strcmp(host, first_host) == 0) {
      snprintf(line, sizeof line, "Authorization: %s", auth);
      hdrs = curl_slist_append(hdrs, line);
    }
    char range[64];
    if (resp->w && blob_writer_written(resp->w) > 0) {
      snprintf(range, sizeof range, "%llu-", (unsigned long long)blob_writer_written(resp->w));
      curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(h, CURLOPT_URL, current);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tank/" TANK_VERSION);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    CURLcode c = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (c != CURLE_OK) {
      *ret_curl = c;
      if (resp->sink_err) {
        *err = steal_pointer(&resp->sink_err);
        r = tank_error_code(*err);
      } else
        r = tank_error_set(err, EIO, "GET %s: %s", current, curl_easy_strerror(c));
      break;
    }
    if (resp->status >= 300 && resp->status < 400 && resp->status != 304) {
      char *loc = NULL;
      curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
      if (loc == NULL || hop >= MAX_REDIRECTS) {
        r = tank_error_set(err, EIO, "GET %s: %s redirect (%ld)", current,
                           loc ? "too many redirects" : "bad", resp->status);
        break;
      }
      char *next = strdup(loc);
      free(current);
      current = next;
      if (current == NULL) {
        r = tank_error_set(err, ENOMEM, "redirect");
        break;
      }
      continue;
    }
    break;
  }
  curl_easy_cleanup(h);
  return r;
}

/* Parses `Bearer realm="…",service="…",scope="…"`; returns the value of key. */
static char *
auth_param(const char *hdr, const char *key)
{
  const char *p = strchr(hdr, ' ');
  if (p == NULL)
    return NULL;
  size_t klen = strlen(key);
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *k = p;
    while (*p && *p != '=')
      p++;
    if (*p != '=')
      return NULL;
    bool match = (size_t)(p - k) == klen && strncasecmp(k, key, klen) == 0;
    p++;
    char val[2048];
    size_t n = 0;
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1])
          p++;
        if (n < sizeof val - 1)
          val[n++] = *p;
        p++;
      }
      if (*p == '"')
        p++;
    } else {
      while (*p && *p != ',' && n < sizeof val - 1)
        val[n++] = *p++;
    }
    val[n] = '\0';
    if (match)
      return strdup(val);
  }
  return NULL;
}

static char *
url_escape(const char *s)
{
  char *e = curl_easy_escape(NULL, s, 0);
  char *out = e ? strdup(e) : NULL;
  curl_free(e);
  return out;
}

/* The registry's error message from {"errors":[{"code","message"}]}, or "". */
static void
registry_message(const struct response *resp, char *out, size_t size)
{
  out[0] = '\0';
  if (resp->body == NULL)
    return;
  json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
  json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
  const char *code = json_string_value(json_object_get(e0, "code"));
  const char *msg = json_string_value(json_object_get(e0, "message"));
  if (code || msg)
    snprintf(out, size, ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
  json_decref(j);
}

static int
fetch_token(struct registry_source *reg, const char *challenge, tank_error **err)
{
  _cleanup_free_ char *realm = auth_param(challenge, "realm");
  _cleanup_free_ char *service = auth_param(challenge, "service");
  _cleanup_free_ char *scope = auth_param(challenge, "scope");
  if (realm == NULL || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
    return tank_error_set(err, EPROTO, "registry %s: bearer challenge without a usable realm",
                          reg->domain);
  _cleanup_free_ char *default_scope = NULL;
  if (scope == NULL && asprintf(&default_scope, "repository:%s:pull", reg->repo) < 0)
    return tank_error_set(err, ENOMEM, "token scope");
  _cleanup_free_ char *e_service = url_escape(service ? service : "");
  _cleanup_free_ char *e_scope = url_escape(scope ? scope : default_scope);
  _cleanup_free_ char *url = NULL;
  if (asprintf(&url, "%s%s%s%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
               service ? "service=" : "", service ? e_service : "", e_scope)
      < 0)
    return tank_error_set(err, ENOMEM, "token URL");
  _cleanup_free_ char *basic = NULL;
  if (reg->creds.username) {
    _cleanup_free_ char *tok = auth_basic_token(&reg->creds);
    if (tok == NULL || asprintf(&basic, "Basic %s", tok) < 0)
      return tank_error_set(err, ENOMEM, "basic credentials");
  }
  struct response resp = { .reg = reg, .body_max = TOKEN_BODY_MAX };
  CURLcode c;
  int r = http_get(reg, url, "application/json", basic, &resp, &c, err);
  if (r < 0) {
    response_clear(&resp);
    return tank_error_wrap(err, "registry %s: get token", reg->domain);
  }
  if (resp.status != 200) {
    char msg[512];
    registry_message(&resp, msg, sizeof msg);
    long st = resp.status;
    response_clear(&resp);
    if (st == 401 || st == 403)
      return tank_error_set(err, EACCES,
                            "registry %s: authentication failed (%ld from token server %s)%s%s%s",
                            reg->domain, st, realm, msg,
                            reg->creds.source ? "; check credentials in " : "; no credentials",
                            reg->creds.source ? reg->creds.source : " found (use --authfile)");
    return tank_error_set(err, EPROTO, "registry %s: token server %s answered %ld%s", reg->domain,
                          realm, st, msg);
  }
  json_t *j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
  const char *tok = json_string_value(json_object_get(j, "token"));
  if (tok == NULL || *tok == '\0')
    tok = json_string_value(json_object_get(j, "access_token"));
  char *hdr = NULL;
  if (tok && *tok && asprintf(&hdr, "Bearer %s", tok) < 0)
    hdr = NULL;
  json_decref(j);
  response_clear(&resp);
  if (hdr == NULL)
    return tank_error_set(err, EPROTO, "registry %s: token server %s sent no token", reg->domain,
                          realm);
  pthread_mutex_lock(&reg->lock);
  free(reg->auth_header);
  reg->auth_header = hdr;
  pthread_mutex_unlock(&reg->lock);
  return 0;
}

static bool
retryable(CURLcode c, long status)
{
  if (c != CURLE_OK)
    return c == CURLE_COULDNT_CONNECT || c == CURLE_OPERATION_TIMEDOUT || c == CURLE_PARTIAL_FILE
           || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING;
  return status == 429 || status == 502 || status == 503 || status == 504 || status == 500;
}

static void
backoff_sleep(unsigned attempt)
{
  long ms = 200L << (attempt < 6 ? attempt : 6);
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* GET with auth negotiation and retries; on success resp holds a 2xx. */
static int
registry_get(struct registry_source *reg, const char *path, const char *accept,
             struct response *resp, const char *what, tank_error **err)
{
  _cleanup_free_ char *url = NULL;
  if (asprintf(&url, "%s://%s/v2/%s", reg->scheme, reg->api_host, path) < 0)
    return tank_error_set(err, ENOMEM, "URL");
  bool challenged = false;
  for (unsigned attempt = 0;;) {
    pthread_mutex_lock(&reg->lock);
    _cleanup_free_ char *auth = reg->auth_header ? strdup(reg->auth_header) : NULL;
    pthread_mutex_unlock(&reg->lock);
    CURLcode c;
    tank_error *e = NULL;
    int r = http_get(reg, url, accept, auth, resp, &c, &e);
    if (r < 0 && (c == CURLE_OK || !retryable(c, 0) || attempt >= reg->max_retries)) {
      *err = e;
      return tank_error_wrap(err, "%s", what);
    }
    if (r < 0 || retryable(CURLE_OK, resp->status)) {
      if (attempt >= reg->max_retries) {
        if (r < 0) {
          *err = e;
          return tank_error_wrap(err, "%s (after %u retries)", what, attempt);
        }
        break;
      }
      tank_error_free(e);
      backoff_sleep(attempt++);
      continue;
    }
    if (resp->status == 401 && !challenged && resp->www_authenticate) {
      challenged = true;
      if (strncasecmp(resp->www_authenticate, "Bearer", 6) == 0) {
        _cleanup_free_ char *ch = strdup(resp->www_authenticate);
        if ((r = fetch_token(reg, ch, err)) < 0)
          return r;
        continue;
      }
      if (strncasecmp(resp->www_authenticate, "Basic", 5) == 0 && reg->creds.username) {
        _cleanup_free_ char *tok = auth_basic_token(&reg->creds);
        char *hdr = NULL;
        if (tok == NULL || asprintf(&hdr, "Basic %s", tok) < 0)
          return tank_error_set(err, ENOMEM, "basic credentials");
        pthread_mutex_lock(&reg->lock);
        free(reg->auth_header);
        reg->auth_header = hdr;
        pthread_mutex_unlock(&reg->lock);
        continue;
      }
    }
    break;
  }
  if (resp->status >= 200 && resp->status < 300)
    return 0;
  char msg[512];
  registry_message(resp, msg, sizeof msg);
  if (resp->status == 401 || resp->status == 403)
    return tank_error_set(err, EACCES, "%s: registry %s: %s (%ld)%s; %s%s", what, reg->domain,
                          reg->creds.username ? "authentication failed" : "credentials required",
                          resp->status, msg,
                          reg->creds.source ? "check credentials in " : "no credentials in ",
                          reg->creds.source ? reg->creds.source : auth_file_path(reg->authfile));
  if (resp->status == 404)
    return tank_error_set(err, ENOENT, "%s: registry %s: not found (404)%s", what, reg->domain,
                          msg);
  return tank_error_set(err, EPROTO, "%s: registry %s answered %ld%s", what, reg->domain,
                        resp->status, msg);
}

static int
registry_get_manifest(struct image_source *src, const char *digest, char **ret_buf, size_t *ret_len,
                      char **ret_content_type, tank_error **err)
{
  struct registry_source *reg = (struct registry_source *)src;
  const char *ref = digest ? digest : reg->reference;
  _cleanup_free_ char *path = NULL, *what = NULL;
  if (asprintf(&path, "%s/manifests/%s", reg->repo, ref) < 0
      || asprintf(&what, "manifest %s", ref) < 0)
    return tank_error_set(err, ENOMEM, "URL");
  struct response resp = { .reg = reg, .body_max = MANIFEST_MAX_BYTES };
  int r = registry_get(reg, path, MANIFEST_ACCEPT, &resp, what, err);
  if (r < 0) {
    response_clear(&resp);
    return r;
  }
  *ret_buf = resp.body ? steal_pointer(&resp.body) : strdup("");
  *ret_len = resp.body_len;
  *ret_content_type = steal_pointer(&resp.content_type);
  response_clear(&resp);
  return 0;
}

static int
registry_get_blob(struct image_source *src, const struct oci_descriptor *d, blob_writer *w,
                  tank_error **err)
{
  struct registry_source *reg = (struct registry_source *)src;
  _cleanup_free_ char *path = NULL, *what = NULL;
  if (asprintf(&path, "%s/blobs/%s", reg->repo, d->digest) < 0
      || asprintf(&what, "blob %s", d->digest) < 0)
    return tank_error_set(err, ENOMEM, "URL");
  struct response resp = { .reg = reg, .body_max = ERROR_BODY_MAX, .w = w };
  int r = registry_get(reg, path, NULL, &resp, what, err);
  response_clear(&resp);
  return r;
}

static void
registry_free(struct image_source *src)
{
  struct registry_source *reg = (struct registry_source *)src;
  free(reg->domain);
  free(reg->api_host);
  free(reg->repo);
  free(reg->reference);
  free(reg->scheme);
  free(reg->authfile);
  free(reg->auth_header);
  registry_credentials_clear(&reg->creds);
  pthread_mutex_destroy(&reg->lock);
  free(reg);
}

static const struct image_source_ops registry_ops = {
  .get_manifest = registry_get_manifest,
  .get_blob = registry_get_blob,
  .free = registry_free,
};

bool
registry_is_loopback(const char *domain)
{
  char host[256];
  snprintf(host, sizeof host, "%s", domain);
  if (host[0] == '[') {
    char *end = strchr(host, ']');
    if (end)
      *end = '\0';
    return strcmp(host + 1, "::1") == 0;
  }
  char *colon = strchr(host, ':');
  if (colon)
    *colon = '\0';
  struct in_addr a;
  return strcmp(host, "localhost") == 0
         || (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127);
}

const char *
registry_scheme(const char *domain, char *const *insecure)
{
  return registry_plain_http_allowed(domain, insecure) ? "http" : "https";
}

bool
registry_plain_http_allowed(const char *domain, char *const *insecure)
{
  if (registry_is_loopback(domain))
    return true;
  size_t n = strcspn(domain, ":");
  for (size_t i = 0; insecure && insecure[i]; i++)
    if (strcmp(insecure[i], domain) == 0
        || (strlen(insecure[i]) == n && strncmp(insecure[i], domain, n) == 0))
      return true;
  return false;
}

int
registry_source_new(const struct image_ref *ref, const struct registry_options *opts,
                    struct image_source **ret, tank_error **err)
{
  pthread_once(&curl_once, curl_init_once);
  struct registry_source *reg = calloc(1, sizeof *reg);
  if (reg == NULL)
    return tank_error_set(err, ENOMEM, "registry client");
  reg->base.ops = &registry_ops;
  pthread_mutex_init(&reg->lock, NULL);
  bool docker_hub = strcmp(ref->domain, "docker.io") == 0;
  reg->domain = strdup(ref->domain);
  reg->api_host = strdup(docker_hub ? "registry-1.docker.io" : ref->domain);
  reg->repo = strdup(ref->path);
  reg->reference = strdup(ref->digest ? ref->digest : ref->tag);
  reg->scheme = strdup(registry_scheme(ref->domain, opts->insecure_registries));
  reg->authfile = opts->authfile ? strdup(opts->authfile) : NULL;
  reg->max_retries = opts->max_retries ? opts->max_retries : DEFAULT_RETRIES;
  reg->cancel = opts->cancel;
  if (!reg->domain || !reg->api_host || !reg->repo || !reg->reference || !reg->scheme
      || (opts->authfile && !reg->authfile)) {
    registry_free(&reg->base);
    return tank_error_set(err, ENOMEM, "registry client");
  }
  int r = auth_lookup(opts->authfile, ref->domain, ref->path, &reg->creds, err);
  if (r < 0) {
    registry_free(&reg->base);
    return r;
  }
  *ret = &reg->base;
  return 0;
}

void
image_source_free(struct image_source *src)
{
  if (src)
    src->ops->free(src);
}
