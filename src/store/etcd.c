/* The etcd v3 store backend, spoken through etcd's JSON gateway with libcurl:
 * range/put/deleterange/txn (CAS on mod_revision), leases, compaction, with a
 * deadline on every call and failover across the listed endpoints. Watches
 * stream on an internal thread that only fills a queue and signals an eventfd;
 * after a dropped connection it resumes from the last delivered revision. */
#include "store/store.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "store/base64.h"
#include "util/cleanup.h"

#define REPLY_MAX_BYTES      (256u * 1024 * 1024)
#define REASON_MAX           1024
#define WATCH_QUEUE_MAX      4096
#define WATCH_BACKOFF_MAX_MS 1000

/* gRPC status codes the gateway reports in {"code": N}. */
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_NOT_FOUND         5
#define GRPC_OUT_OF_RANGE      11
#define GRPC_UNAVAILABLE       14

struct etcd_store {
  tank_store base;
  char **endpoints;
  size_t n_endpoints;
  size_t current; /* the endpoint that answered last */
  int timeout_ms;
  CURL *curl;
  struct curl_slist *headers;
};

struct buffer {
  char *data;
  size_t len, cap, max;
};

struct queued_event {
  struct tank_store_event ev;
  struct queued_event *next;
};

struct etcd_watch {
  tank_store_watch base;
  char **endpoints; /* copies: the thread never touches the store */
  size_t n_endpoints;
  int timeout_ms;
  char *key_b64, *end_b64;
  int event_fd;
  CURLM *multi;
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* under lock */
  struct queued_event *head, *tail;
  size_t q_len;
  bool stop;
  int error; /* errno to report once the queue is drained, 0 if none */
  char *error_msg;
  /* thread only */
  int64_t next_rev;
  struct buffer stream;
  bool got_data;
  bool fatal;
};

static const struct tank_store_ops etcd_ops;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t
mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct buffer *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n + 1 > b->max)
    return 0; /* curl fails the transfer: reply too large */
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
      return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* int64 fields come as JSON strings; zero fields are omitted. */
static int64_t
json_int64(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  if (json_is_string(v))
    return strtoll(json_string_value(v), NULL, 10);
  if (json_is_integer(v))
    return json_integer_value(v);
  return 0;
}

static json_t *
json_b64(const void *data, size_t len)
{
  char *s = base64_encode(data, len);
  if (s == NULL)
    return NULL;
  json_t *j = json_string(s);
  free(s);
  return j;
}

static json_t *
json_int64_string(int64_t v)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return json_string(buf);
}

/* Decodes the base64 field `key` of obj ("" when omitted). */
static int
json_bytes(json_t *obj, const char *key, uint8_t **ret, size_t *ret_len)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return base64_decode(s ? s : "", s ? strlen(s) : 0, ret, ret_len);
}

static int
kv_from_json(json_t *j, struct tank_store_kv *ret)
{
  struct tank_store_kv kv = {
    .create_rev = json_int64(j, "create_revision"),
    .mod_rev = json_int64(j, "mod_revision"),
    .lease = json_int64(j, "lease"),
  };
  size_t klen;
  int r = json_bytes(j, "key", (uint8_t **)&kv.key, &klen);
  if (r >= 0)
    r = json_bytes(j, "value", &kv.value, &kv.value_len);
  if (r < 0) {
    tank_store_kv_clear(&kv);
    return r;
  }
  *ret = kv;
  return 0;
}

/* The end of the key range for a prefix, base64: "\0" (every key from the
 * prefix on) for "" or a prefix of all 0xff bytes. */
static char *
range_end_b64(const char *prefix)
{
  size_t n = strlen(prefix);
  while (n > 0 && (uint8_t)prefix[n - 1] == 0xff)
    n--;
  if (n == 0)
    return base64_encode("", 1);
  _cleanup_free_ char *end = malloc(n);
  if (end == NULL)
    return NULL;
  memcpy(end, prefix, n);
  end[n - 1]++;
  return base64_encode(end, n);
}

/* ---- unary calls ---- */

enum attempt_result {
  ATTEMPT_OK,
  ATTEMPT_RETRY, /* this endpoint could not answer: try the next one */
  ATTEMPT_FAIL,  /* the cluster answered with an error */
};

static void append_reason(char *reasons, const char *endpoint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append_reason(char *reasons, const char *endpoint, const char *fmt, ...)
{
  size_t used = strlen(reasons);
  if (used + 8 >= REASON_MAX)
    return;
  int n = snprintf(reasons + used, REASON_MAX - used, "%s%s: ", used ? "; " : "", endpoint);
  if (n < 0 || used + (size_t)n >= REASON_MAX)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reasons + used + n, REASON_MAX - used - n, fmt, ap);
  va_end(ap);
}

/* Maps an error reply of the gateway ({"error","code","message"}). */
static enum attempt_result
classify_error_reply(long http, json_t *reply, const char *endpoint, char *reasons, int *ret_errno,
                     tank_error **err)
{
  const char *msg = json_string_value(json_object_get(reply, "message"));
  if (msg == NULL)
    msg = json_string_value(json_object_get(reply, "error"));
  if (msg == NULL)
    msg = "no message";
  int64_t code = json_int64(reply, "code");
  if (code == GRPC_UNAVAILABLE || code == GRPC_DEADLINE_EXCEEDED || http == 503 || http == 502
      || http == 504 || (http >= 500 && code == 0)) {
    append_reason(reasons, endpoint, "HTTP %ld: %s", http, msg);
    return ATTEMPT_RETRY;
  }
  int e = EIO;
  if (code == GRPC_NOT_FOUND)
    e = TANK_STORE_ENOTFOUND;
  else if (code == GRPC_OUT_OF_RANGE && strstr(msg, "compacted"))
    e = TANK_STORE_ECOMPACTED;
  else if (code == GRPC_OUT_OF_RANGE || http == 400)
    e = EINVAL;
  *ret_errno = e;
  tank_error_set(err, e, "etcd %s: %s", endpoint, msg);
  return ATTEMPT_FAIL;
}

static enum attempt_result
attempt(struct etcd_store *s, size_t idx, const char *path, const char *body, int64_t budget_ms,
        json_t **ret_reply, char *reasons, int *ret_errno, tank_error **err)
{
  const char *endpoint = s->endpoints[idx];
  char url[512];
  snprintf(url, sizeof url, "%s%s", endpoint, path);
  struct buffer reply = { .max = REPLY_MAX_BYTES };
  curl_easy_setopt(s->curl, CURLOPT_URL, url);
  curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)budget_ms);
  curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)budget_ms);
  CURLcode rc = curl_easy_perform(s->curl);
  long http = 0;
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &http);
  if (rc != CURLE_OK) {
    if (rc == CURLE_OPERATION_TIMEDOUT)
      append_reason(reasons, endpoint, "no answer within %lld ms", (long long)budget_ms);
    else if (rc == CURLE_WRITE_ERROR)
      append_reason(reasons, endpoint, "reply larger than %u bytes", REPLY_MAX_BYTES);
    else
      append_reason(reasons, endpoint, "%s", curl_easy_strerror(rc));
    free(reply.data);
    return ATTEMPT_RETRY;
  }
  json_error_t jerr;
  json_t *j = reply.data ? json_loadb(reply.data, reply.len, 0, &jerr) : NULL;
  if (j == NULL) {
    append_reason(reasons, endpoint, "HTTP %ld with a reply that is not JSON: %.80s", http,
                  reply.data ? reply.data : "");
    free(reply.data);
    return http >= 500 || http == 0 ? ATTEMPT_RETRY : ATTEMPT_FAIL;
  }
  free(reply.data);
  /* Streaming endpoints (lease keepalive) wrap their reply in {"result": ...}. */
  json_t *result = json_object_get(j, "result");
  json_t *error = json_object_get(j, "error");
  if (http != 200 || (error && json_is_object(error))) {
    json_t *e = json_is_object(error) ? error : j;
    enum attempt_result ar = classify_error_reply(http, e, endpoint, reasons, ret_errno, err);
    json_decref(j);
    return ar;
  }
  if (result) {
    json_incref(result);
    json_decref(j);
    j = result;
  }
  *ret_reply = j;
  return ATTEMPT_OK;
}

/* Posts body to path on the endpoints in turn until one answers, all within
 * the store's timeout. Endpoints that cannot answer (down, no leader, timed
 * out) are skipped; an answer that is an error ends the call. A retried write
 * may already have been applied by the endpoint that did not answer. */
static int
etcd_call(struct etcd_store *s, const char *path, json_t *body, json_t **ret_reply,
          tank_error **err)
{
  _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
  if (text == NULL)
    return tank_error_set(err, ENOMEM, "etcd %s: encode request", path);
  int64_t deadline = mono_ms() + s->timeout_ms;
  char reasons[REASON_MAX] = "";
  int round = 0;
  for (;;) {
    for (size_t tried = 0; tried < s->n_endpoints; tried++) {
      int64_t left = deadline - mono_ms();
      if (left <= 0)
        goto out;
      /* First round: share what is left among the endpoints not yet tried, so
       * one hung member cannot eat the whole budget. */
      int64_t budget = round == 0 ? left / (int64_t)(s->n_endpoints - tried) : left;
      if (budget < 50)
        budget = left < 50 ? left : 50;
      size_t idx = (s->current + tried) % s->n_endpoints;
      int e = 0;
      enum attempt_result ar = attempt(s, idx, path, text, budget, ret_reply, reasons, &e, err);
      if (ar == ATTEMPT_OK) {
        s->current = idx;
        return 0;
      }
      if (ar == ATTEMPT_FAIL) {
        s->current = idx;
        return -e;
      }
    }
    round++;
    /* Every endpoint refused at once: pause before the next round, within the deadline. */
    int64_t left = deadline - mono_ms();
    int64_t pause = 50 * round < 500 ? 50 * round : 500;
    if (left <= pause)
      break;
    struct timespec ts = { .tv_sec = pause / 1000, .tv_nsec = (pause % 1000) * 1000000 };
    nanosleep(&ts, NULL);
  }
out:
  return tank_error_set(err, TANK_STORE_EUNAVAILABLE, "etcd unavailable after %d ms: %s",
                        s->timeout_ms, reasons[0] ? reasons : "no endpoint tried");
}

static json_t *
request_put(const char *key, const void *value, size_t value_len, int64_t lease)
{
  json_t *put = json_pack("{s:o, s:o}", "key", json_b64(key, strlen(key)), "value",
                          json_b64(value, value_len));
  if (put && lease)
    json_object_set_new(put, "lease", json_int64_string(lease));
  return put;
}

/* A txn guarded by one compare on key, with `op` on success and a range of
 * the key on failure (to say why it failed). */
static json_t *
guarded_txn(const char *key, int64_t expect_rev, const char *op_name, json_t *op)
{
  json_t *cmp
      = expect_rev == TANK_STORE_REV_ABSENT
            ? json_pack("{s:s, s:s, s:o, s:s}", "target", "CREATE", "result", "EQUAL", "key",
                        json_b64(key, strlen(key)), "create_revision", "0")
            : json_pack("{s:s, s:s, s:o, s:o}", "target", "MOD", "result", "EQUAL", "key",
                        json_b64(key, strlen(key)), "mod_revision", json_int64_string(expect_rev));
  return json_pack("{s:[o], s:[{s:o}], s:[{s:{s:o}}]}", "compare", cmp, "success", op_name, op,
                   "failure", "request_range", "key", json_b64(key, strlen(key)));
}

/* The current mod revision of the key from a failed guarded txn (0: absent). */
static int64_t
failed_txn_mod_rev(json_t *reply)
{
  json_t *resp = json_array_get(json_object_get(reply, "responses"), 0);
  json_t *range = json_object_get(resp, "response_range");
  json_t *kv = json_array_get(json_object_get(range, "kvs"), 0);
  return kv ? json_int64(kv, "mod_revision") : 0;
}

static int
etcd_put(tank_store *base, const char *key, const void *value, size_t value_len, int64_t expect_rev,
         int64_t lease, int64_t *ret_rev, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  int r = tank_store_check_put(key, value_len, expect_rev, err);
  if (r < 0)
    return r;
  json_t *put = request_put(key, value ? value : "", value_len, lease);
  json_t *body
      = expect_rev == TANK_STORE_REV_ANY ? put : guarded_txn(key, expect_rev, "request_put", put);
  if (body == NULL)
    return tank_error_set(err, ENOMEM, "put `%s`", key);
  json_t *reply = NULL;
  r = etcd_call(s, expect_rev == TANK_STORE_REV_ANY ? "/v3/kv/put" : "/v3/kv/txn", body, &reply,
                err);
  json_decref(body);
  if (r < 0)
    return r == -TANK_STORE_ENOTFOUND
               ? tank_error_wrap(err, "put `%s` with lease %lld", key, (long long)lease)
               : tank_error_wrap(err, "put `%s`", key);
  if (expect_rev != TANK_STORE_REV_ANY && !json_is_true(json_object_get(reply, "succeeded"))) {
    int64_t mod_rev = failed_txn_mod_rev(reply);
    json_decref(reply);
    if (expect_rev == TANK_STORE_REV_ABSENT)
      return tank_error_set(err, TANK_STORE_ECONFLICT,
                            "put `%s`: expected no key, found one at revision %lld", key,
                            (long long)mod_rev);
    return tank_error_set(err, TANK_STORE_ECONFLICT,
                          "put `%s`: expected revision %lld, key is at %lld", key,
                          (long long)expect_rev, (long long)mod_rev);
  }
  int64_t rev = json_int64(json_object_get(reply, "header"), "revision");
  json_decref(reply);
  if (ret_rev)
    *ret_rev = rev;
  return 0;
}

static int
etcd_delete(tank_store *base, const char *key, int64_t expect_rev, int64_t *ret_rev,
            tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  int r = tank_store_check_key(key, err);
  if (r < 0)
    return r;
  if (expect_rev < 0)
    return tank_error_set(err, EINVAL, "delete `%s`: expected revision must be 0 or > 0", key);
  json_t *del = json_pack("{s:o}", "key", json_b64(key, strlen(key)));
  json_t *body = expect_rev == 0 ? del : guarded_txn(key, expect_rev, "request_delete_range", del);
  if (body == NULL)
    return tank_error_set(err, ENOMEM, "delete `%s`", key);
  json_t *reply = NULL;
  r = etcd_call(s, expect_rev == 0 ? "/v3/kv/deleterange" : "/v3/kv/txn", body, &reply, err);
  json_decref(body);
  if (r < 0)
    return tank_error_wrap(err, "delete `%s`", key);
  int64_t deleted;
  if (expect_rev == 0) {
    deleted = json_int64(reply, "deleted");
  } else if (!json_is_true(json_object_get(reply, "succeeded"))) {
    int64_t mod_rev = failed_txn_mod_rev(reply);
    json_decref(reply);
    if (mod_rev == 0)
      return tank_error_set(err, TANK_STORE_ENOTFOUND, "delete `%s`: no such key", key);
    return tank_error_set(err, TANK_STORE_ECONFLICT,
                          "delete `%s`: expected revision %lld, key is at %lld", key,
                          (long long)expect_rev, (long long)mod_rev);
  } else {
    json_t *resp = json_array_get(json_object_get(reply, "responses"), 0);
    deleted = json_int64(json_object_get(resp, "response_delete_range"), "deleted");
  }
  int64_t rev = json_int64(json_object_get(reply, "header"), "revision");
  json_decref(reply);
  if (deleted == 0)
    return tank_error_set(err, TANK_STORE_ENOTFOUND, "delete `%s`: no such key", key);
  if (ret_rev)
    *ret_rev = rev;
  return 0;
}

static int
etcd_get(tank_store *base, const char *key, struct tank_store_kv *ret_kv, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  int r = tank_store_check_key(key, err);
  if (r < 0)
    return r;
  json_t *body = json_pack("{s:o}", "key", json_b64(key, strlen(key)));
  json_t *reply = NULL;
  r = body ? etcd_call(s, "/v3/kv/range", body, &reply, err)
           : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  if (r < 0)
    return tank_error_wrap(err, "get `%s`", key);
  json_t *kv = json_array_get(json_object_get(reply, "kvs"), 0);
  if (kv == NULL) {
    json_decref(reply);
    return tank_error_set(err, TANK_STORE_ENOTFOUND, "get `%s`: no such key", key);
  }
  r = kv_from_json(kv, ret_kv);
  json_decref(reply);
  if (r < 0)
    return tank_error_set(err, -r, "get `%s`: decode reply", key);
  return 0;
}

static int
etcd_list(tank_store *base, const char *prefix, struct tank_store_list *ret_list, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  if (prefix == NULL || strnlen(prefix, TANK_STORE_KEY_MAX + 1) > TANK_STORE_KEY_MAX)
    return tank_error_set(err, EINVAL, "list: prefix missing or too long");
  char *end = range_end_b64(prefix);
  json_t *body = end ? json_pack("{s:o, s:s}", "key",
                                 prefix[0] ? json_b64(prefix, strlen(prefix)) : json_b64("", 1),
                                 "range_end", end)
                     : NULL;
  free(end);
  json_t *reply = NULL;
  int r = body ? etcd_call(s, "/v3/kv/range", body, &reply, err)
               : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  if (r < 0)
    return tank_error_wrap(err, "list `%s`", prefix);
  json_t *kvs = json_object_get(reply, "kvs");
  struct tank_store_list out = {
    .rev = json_int64(json_object_get(reply, "header"), "revision"),
  };
  size_t n = json_array_size(kvs);
  out.items = calloc(n ? n : 1, sizeof *out.items);
  if (out.items == NULL) {
    json_decref(reply);
    return tank_error_set(err, ENOMEM, "list `%s`", prefix);
  }
  for (size_t i = 0; i < n; i++) {
    r = kv_from_json(json_array_get(kvs, i), &out.items[i]);
    if (r < 0) {
      json_decref(reply);
      tank_store_list_clear(&out);
      return tank_error_set(err, -r, "list `%s`: decode reply", prefix);
    }
    out.n_items++;
  }
  json_decref(reply);
  *ret_list = out;
  return 0;
}

static int
etcd_compact(tank_store *base, int64_t rev, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  json_t *body = json_pack("{s:o, s:b}", "revision", json_int64_string(rev), "physical", 1);
  json_t *reply = NULL;
  int r = body ? etcd_call(s, "/v3/kv/compaction", body, &reply, err)
               : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  json_decref(reply);
  if (r == -TANK_STORE_ECOMPACTED) { /* already compacted further: nothing to do */
    if (err)
      tank_error_freep(err);
    return 0;
  }
  if (r < 0)
    return tank_error_wrap(err, "compact to %lld", (long long)rev);
  return 0;
}

static int
etcd_lease_grant(tank_store *base, int64_t ttl_s, int64_t *ret_lease, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  json_t *body = json_pack("{s:o}", "TTL", json_int64_string(ttl_s));
  json_t *reply = NULL;
  int r = body ? etcd_call(s, "/v3/lease/grant", body, &reply, err)
               : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  if (r < 0)
    return tank_error_wrap(err, "grant lease");
  int64_t id = json_int64(reply, "ID");
  const char *e = json_string_value(json_object_get(reply, "error"));
  json_decref(reply);
  if (id == 0)
    return tank_error_set(err, EIO, "grant lease: %s", e ? e : "no ID in the reply");
  *ret_lease = id;
  return 0;
}

static int
etcd_lease_keepalive(tank_store *base, int64_t lease, int64_t *ret_ttl_s, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  json_t *body = json_pack("{s:o}", "ID", json_int64_string(lease));
  json_t *reply = NULL;
  int r = body ? etcd_call(s, "/v3/lease/keepalive", body, &reply, err)
               : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  if (r < 0)
    return tank_error_wrap(err, "keep lease %lld alive", (long long)lease);
  int64_t ttl = json_int64(reply, "TTL");
  json_decref(reply);
  if (ttl <= 0) /* the gateway answers TTL 0 (omitted) for an unknown or expired lease */
    return tank_error_set(err, TANK_STORE_ENOTFOUND, "keep lease %lld alive: lease not found",
                          (long long)lease);
  if (ret_ttl_s)
    *ret_ttl_s = ttl;
  return 0;
}

static int
etcd_lease_revoke(tank_store *base, int64_t lease, tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  json_t *body = json_pack("{s:o}", "ID", json_int64_string(lease));
  json_t *reply = NULL;
  int r = body ? etcd_call(s, "/v3/lease/revoke", body, &reply, err)
               : tank_error_set(err, ENOMEM, "encode");
  json_decref(body);
  json_decref(reply);
  if (r < 0)
    return tank_error_wrap(err, "revoke lease %lld", (long long)lease);
  return 0;
}

/* ---- watches ---- */

static void watch_set_error(struct etcd_watch *w, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a fatal watch error for the caller (after the queued events). */
static void
watch_set_error(struct etcd_watch *w, int errnum, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  pthread_mutex_lock(&w->lock);
  if (w->error == 0) {
    w->error = errnum;
    w->error_msg = msg;
    msg = NULL;
    if (w->q_len == 0) {
      uint64_t one = 1;
      (void)!write(w->event_fd, &one, sizeof one);
    }
  }
  pthread_mutex_unlock(&w->lock);
  free(msg);
  w->fatal = true;
}

/* Queues one event; blocks (backpressure on the stream) while the queue is full. */
static bool
watch_push(struct etcd_watch *w, struct queued_event *q)
{
  pthread_mutex_lock(&w->lock);
  while (w->q_len >= WATCH_QUEUE_MAX && !w->stop)
    pthread_cond_wait(&w->cond, &w->lock);
  if (w->stop) {
    pthread_mutex_unlock(&w->lock);
    tank_store_event_clear(&q->ev);
    free(q);
    return false;
  }
  if (w->tail)
    w->tail->next = q;
  else
    w->head = q;
  w->tail = q;
  if (w->q_len++ == 0) {
    uint64_t one = 1;
    (void)!write(w->event_fd, &one, sizeof one);
  }
  pthread_mutex_unlock(&w->lock);
  return true;
}

/* Handles one message of the watch stream. Returns false to end the stream. */
static bool
watch_message(struct etcd_watch *w, json_t *msg)
{
  json_t *error = json_object_get(msg, "error");
  if (error)
    return false; /* e.g. the member lost its leader: reconnect elsewhere */
  json_t *result = json_object_get(msg, "result");
  if (result == NULL)
    return true;
  if (json_is_true(json_object_get(result, "canceled"))) {
    int64_t compact_rev = json_int64(result, "compact_revision");
    if (compact_rev > 0)
      watch_set_error(w, TANK_STORE_ECOMPACTED,
                      "watch from revision %lld: history before %lld is compacted",
                      (long long)w->next_rev, (long long)compact_rev);
    return false;
  }
  json_t *events = json_object_get(result, "events");
  int64_t from = w->next_rev, last = 0;
  for (size_t i = 0; i < json_array_size(events); i++) {
    json_t *e = json_array_get(events, i);
    json_t *kv = json_object_get(e, "kv");
    int64_t rev = json_int64(kv, "mod_revision");
    if (rev < from)
      continue; /* already delivered before the reconnect */
    struct queued_event *q = calloc(1, sizeof *q);
    if (q == NULL)
      return false;
    const char *type = json_string_value(json_object_get(e, "type"));
    q->ev.type
        = type && strcmp(type, "DELETE") == 0 ? TANK_STORE_EVENT_DELETE : TANK_STORE_EVENT_PUT;
    q->ev.rev = rev;
    size_t klen;
    int r = json_bytes(kv, "key", (uint8_t **)&q->ev.key, &klen);
    if (r >= 0 && q->ev.type == TANK_STORE_EVENT_PUT)
      r = json_bytes(kv, "value", &q->ev.value, &q->ev.value_len);
    if (r < 0) {
      tank_store_event_clear(&q->ev);
      free(q);
      watch_set_error(w, EIO, "watch: undecodable event at revision %lld", (long long)rev);
      return false;
    }
    if (!watch_push(w, q))
      return false;
    if (rev > last)
      last = rev;
  }
  if (last >= w->next_rev)
    w->next_rev = last + 1;
  return true;
}

static size_t
watch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct etcd_watch *w = userdata;
  size_t n = size * nmemb;
  if (buffer_write(ptr, size, nmemb, &w->stream) != n)
    return 0;
  w->got_data = true;
  size_t off = 0;
  while (off < w->stream.len) {
    json_error_t jerr;
    json_t *msg
        = json_loadb(w->stream.data + off, w->stream.len - off, JSON_DISABLE_EOF_CHECK, &jerr);
    if (msg == NULL) {
      if (json_error_code(&jerr) == json_error_premature_end_of_input)
        break; /* the rest of the message is still on its way */
      return 0;
    }
    off += (size_t)jerr.position;
    bool more = watch_message(w, msg);
    json_decref(msg);
    if (!more)
      return 0;
  }
  memmove(w->stream.data, w->stream.data + off, w->stream.len - off);
  w->stream.len -= off;
  return n;
}

static bool
watch_stopping(struct etcd_watch *w)
{
  pthread_mutex_lock(&w->lock);
  bool stop = w->stop;
  pthread_mutex_unlock(&w->lock);
  return stop;
}

/* One connection of the watch stream: runs until it drops or the watch stops. */
static void
watch_stream(struct etcd_watch *w, const char *endpoint)
{
  char url[512], start[32];
  snprintf(url, sizeof url, "%s/v3/watch", endpoint);
  snprintf(start, sizeof start, "%lld", (long long)w->next_rev);
  json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "create_request", "key", w->key_b64, "range_end",
                           w->end_b64, "start_revision", start);
  _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  CURL *c = text ? curl_easy_init() : NULL;
  if (c == NULL)
    return;
  w->stream.len = 0;
  w->got_data = false;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
  curl_multi_add_handle(w->multi, c);
  int running = 1;
  while (running && !watch_stopping(w)) {
    if (curl_multi_perform(w->multi, &running) != CURLM_OK)
      break;
    if (running)
      curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
  }
  curl_multi_remove_handle(w->multi, c);
  curl_easy_cleanup(c);
}

static void *
watch_thread(void *arg)
{
  struct etcd_watch *w = arg;
  size_t idx = 0;
  int backoff_ms = 0;
  while (!w->fatal && !watch_stopping(w)) {
    watch_stream(w, w->endpoints[idx]);
    if (w->fatal || watch_stopping(w))
      break;
    /* Dropped: resume from next_rev on the next endpoint; pause when the
     * drop came before any data (the endpoint is down). */
    idx = (idx + 1) % w->n_endpoints;
    backoff_ms = w->got_data ? 0 : (backoff_ms ? backoff_ms * 2 : 50);
    if (backoff_ms > WATCH_BACKOFF_MAX_MS)
      backoff_ms = WATCH_BACKOFF_MAX_MS;
    if (backoff_ms == 0)
      continue;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)backoff_ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
      ;
    pthread_mutex_unlock(&w->lock);
  }
  return NULL;
}

static int
etcd_watch_fd(tank_store_watch *base)
{
  return ((struct etcd_watch *)base)->event_fd;
}

static int
etcd_watch_next(tank_store_watch *base, struct tank_store_event *ret_event, tank_error **err)
{
  struct etcd_watch *w = (struct etcd_watch *)base;
  pthread_mutex_lock(&w->lock);
  struct queued_event *q = w->head;
  if (q == NULL) {
    int e = w->error;
    pthread_mutex_unlock(&w->lock);
    if (e)
      return tank_error_set(err, e, "%s", w->error_msg ? w->error_msg : "watch failed");
    return 0;
  }
  w->head = q->next;
  if (w->head == NULL)
    w->tail = NULL;
  if (w->q_len-- == WATCH_QUEUE_MAX)
    pthread_cond_broadcast(&w->cond);
  if (w->q_len == 0 && w->error == 0) {
    uint64_t v;
    (void)!read(w->event_fd, &v, sizeof v); /* empty: the fd stops polling readable */
  }
  pthread_mutex_unlock(&w->lock);
  *ret_event = q->ev;
  free(q);
  return 1;
}

static void
etcd_watch_free(tank_store_watch *base)
{
  struct etcd_watch *w = (struct etcd_watch *)base;
  if (w->thread_started) {
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
  }
  while (w->head) {
    struct queued_event *q = w->head;
    w->head = q->next;
    tank_store_event_clear(&q->ev);
    free(q);
  }
  if (w->multi)
    curl_multi_cleanup(w->multi);
  if (w->event_fd >= 0)
    close(w->event_fd);
  for (size_t i = 0; i < w->n_endpoints; i++)
    free(w->endpoints[i]);
  free(w->endpoints);
  free(w->key_b64);
  free(w->end_b64);
  free(w->error_msg);
  free(w->stream.data);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

static int
etcd_watch(tank_store *base, const char *prefix, int64_t from_rev, tank_store_watch **ret_watch,
           tank_error **err)
{
  struct etcd_store *s = (struct etcd_store *)base;
  if (prefix == NULL || strnlen(prefix, TANK_STORE_KEY_MAX + 1) > TANK_STORE_KEY_MAX)
    return tank_error_set(err, EINVAL, "watch: prefix missing or too long");
  int64_t start = from_rev;
  if (start == 0) {
    /* "From now": pin the current revision so a reconnect cannot skip events. */
    json_t *body = json_pack("{s:o, s:b}", "key", json_b64("", 1), "count_only", 1);
    json_t *reply = NULL;
    int r = body ? etcd_call(s, "/v3/kv/range", body, &reply, err)
                 : tank_error_set(err, ENOMEM, "encode");
    json_decref(body);
    if (r < 0)
      return tank_error_wrap(err, "watch `%s`", prefix);
    start = json_int64(json_object_get(reply, "header"), "revision") + 1;
    json_decref(reply);
  }
  struct etcd_watch *w = calloc(1, sizeof *w);
  if (w == NULL)
    return tank_error_set(err, ENOMEM, "watch `%s`", prefix);
  w->base.ops = &etcd_ops;
  w->event_fd = -EBADF;
  w->timeout_ms = s->timeout_ms;
  w->next_rev = start;
  w->stream.max = REPLY_MAX_BYTES;
  pthread_mutex_init(&w->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cond, &ca);
  pthread_condattr_destroy(&ca);
  w->endpoints = calloc(s->n_endpoints, sizeof(char *));
  bool ok = w->endpoints != NULL;
  for (size_t i = 0; ok && i < s->n_endpoints; i++) {
    /* Start with the endpoint that answered last. */
    w->endpoints[i] = strdup(s->endpoints[(s->current + i) % s->n_endpoints]);
    ok = w->endpoints[i] != NULL;
    w->n_endpoints += ok;
  }
  w->key_b64 = prefix[0] ? base64_encode(prefix, strlen(prefix)) : base64_encode("", 1);
  w->end_b64 = range_end_b64(prefix);
  w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  w->multi = curl_multi_init();
  if (!ok || w->key_b64 == NULL || w->end_b64 == NULL || w->multi == NULL || w->event_fd < 0) {
    int e = w->event_fd < 0 ? errno : ENOMEM;
    etcd_watch_free(&w->base);
    return tank_error_set(err, e, "watch `%s`: set up", prefix);
  }
  /* The stream thread takes no signals: they belong to the caller's loop. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int r = pthread_create(&w->thread, NULL, watch_thread, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    etcd_watch_free(&w->base);
    return tank_error_set(err, r, "watch `%s`: start stream thread", prefix);
  }
  w->thread_started = true;
  *ret_watch = &w->base;
  return 0;
}

/* ---- open and close ---- */

static void
etcd_close(tank_store *base)
{
  struct etcd_store *s = (struct etcd_store *)base;
  if (s->curl)
    curl_easy_cleanup(s->curl);
  curl_slist_free_all(s->headers);
  for (size_t i = 0; i < s->n_endpoints; i++)
    free(s->endpoints[i]);
  free(s->endpoints);
  free(s);
}

int
tank_store_etcd_open(const struct tank_store_url *url, tank_store **ret_store, tank_error **err)
{
  pthread_once(&curl_once, curl_init_once);
  if (url->n_endpoints == 0)
    return tank_error_set(err, EINVAL, "open etcd store: no endpoints");
  struct etcd_store *s = calloc(1, sizeof *s);
  if (s == NULL)
    return tank_error_set(err, ENOMEM, "open etcd store");
  s->base.ops = &etcd_ops;
  s->timeout_ms = url->timeout_ms > 0 ? url->timeout_ms : TANK_STORE_DEFAULT_TIMEOUT_MS;
  s->endpoints = calloc(url->n_endpoints, sizeof(char *));
  bool ok = s->endpoints != NULL;
  for (size_t i = 0; ok && i < url->n_endpoints; i++) {
    s->endpoints[i] = strdup(url->endpoints[i]);
    ok = s->endpoints[i] != NULL;
    s->n_endpoints += ok;
  }
  s->curl = curl_easy_init();
  s->headers = curl_slist_append(NULL, "Content-Type: application/json");
  struct curl_slist *h = s->headers ? curl_slist_append(s->headers, "Expect:") : NULL;
  if (!ok || s->curl == NULL || h == NULL) {
    etcd_close(&s->base);
    return tank_error_set(err, ENOMEM, "open etcd store");
  }
  s->headers = h;
  curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
  curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(s->curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, buffer_write);
  *ret_store = &s->base;
  return 0;
}

static const struct tank_store_ops etcd_ops = {
  .name = "etcd",
  .put = etcd_put,
  .get = etcd_get,
  .del = etcd_delete,
  .list = etcd_list,
  .watch = etcd_watch,
  .watch_fd = etcd_watch_fd,
  .watch_next = etcd_watch_next,
  .watch_free = etcd_watch_free,
  .lease_grant = etcd_lease_grant,
  .lease_keepalive = etcd_lease_keepalive,
  .lease_revoke = etcd_lease_revoke,
  .compact = etcd_compact,
  .close = etcd_close,
};
