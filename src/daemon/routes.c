/* tankd's REST API: /v1/pods, /v1/pods/{name}, /v1/pods/{name}/restart,
 * /v1/pods/{name}/exec and /attach (sessions.c), /v1/events, /v1/version.
 * Specs are validated before anything is stored; errors are JSON
 * {"error", "details"} with the status code that fits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "util/cleanup.h"

#define PODS_PREFIX "/tank/pods/"

static bool
path_pod(const char *path, char *name, size_t len, const char **rest)
{
  const char *prefix = "/v1/pods/";
  if (strncmp(path, prefix, strlen(prefix)) != 0)
    return false;
  const char *n = path + strlen(prefix);
  const char *slash = strchr(n, '/');
  size_t nlen = slash ? (size_t)(slash - n) : strlen(n);
  if (nlen == 0 || nlen >= len)
    return false;
  memcpy(name, n, nlen);
  name[nlen] = '\0';
  *rest = slash ? slash : "";
  return true;
}

static json_t *
pod_view(struct tankd *d, struct pod_rec *p)
{
  return json_pack("{s:o,s:o}", "spec", p->desired ? spec_pod_to_json(p->desired) : json_null(),
                   "status", pod_status_json(d, p));
}

static void
get_pods(struct tankd *d, struct http_reply *reply)
{
  json_t *items = json_array();
  /* Sorted by name, so output is stable. */
  size_t n = 0;
  struct pod_rec **v = calloc(d->n_pods + 1, sizeof *v);
  if (v == NULL)
    abort();
  for (struct pod_rec *p = d->pods; p; p = p->next)
    if (p->desired)
      v[n++] = p;
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(v[j - 1]->name, v[j]->name) > 0; j--) {
      struct pod_rec *t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++)
    json_array_append_new(items, pod_view(d, v[i]));
  free(v);
  reply->json = json_pack("{s:o}", "items", items);
}

static void
put_pod(struct tankd *d, const char *name, const struct http_request *req, struct http_reply *reply)
{
  struct spec_file f;
  spec_parse(req->body, req->body_len, "request", SPEC_FORMAT_AUTO, &f);
  if (f.n_errors) {
    json_t *details = json_array();
    for (size_t i = 0; i < f.n_errors; i++)
      json_array_append_new(details, json_string(f.errors[i]));
    http_reply_error(reply, 400, details, "pod %s is invalid", name);
    spec_file_free(&f);
    return;
  }
  if (f.n_pods != 1) {
    http_reply_error(reply, 400, NULL, "expected one pod in the body, got %zu", f.n_pods);
    spec_file_free(&f);
    return;
  }
  struct spec_pod *pod = f.pods[0];
  if (strcmp(pod->name, name) != 0) {
    http_reply_error(reply, 400, NULL, "the body names pod %s but the URL names %s", pod->name,
                     name);
    spec_file_free(&f);
    return;
  }
  _cleanup_free_ char *canonical = spec_pod_to_canonical(pod);
  spec_file_free(&f);

  char key[512];
  snprintf(key, sizeof key, PODS_PREFIX "%s", name);
  tank_error *err = NULL;
  struct tank_store_kv old;
  int64_t expect = TANK_STORE_REV_ABSENT;
  const char *result = "created";
  if (tank_store_get(d->store, key, &old, &err) == 0) {
    expect = old.mod_rev;
    bool same
        = old.value_len == strlen(canonical) && memcmp(old.value, canonical, old.value_len) == 0;
    tank_store_kv_clear(&old);
    result = same ? "unchanged" : "configured";
  } else if (err->errnum != TANK_STORE_ENOTFOUND) {
    http_reply_error(reply, 503, NULL, "read pod %s from the store: %s", name, err->msg);
    tank_error_free(err);
    return;
  } else {
    tank_error_free(err);
    err = NULL;
  }
  const char *dry = http_query(req, "dry_run");
  bool dry_run = dry && strcmp(dry, "0") != 0 && strcmp(dry, "false") != 0;
  int64_t rev = 0;
  if (!dry_run && strcmp(result, "unchanged") != 0
      && tank_store_put(d->store, key, canonical, strlen(canonical), expect, &rev, &err) < 0) {
    unsigned status = err->errnum == TANK_STORE_ECONFLICT ? 409 : 503;
    http_reply_error(reply, status, NULL, "store pod %s: %s%s", name, err->msg,
                     status == 409 ? " (changed meanwhile; apply again)" : "");
    tank_error_free(err);
    return;
  }
  reply->status = strcmp(result, "created") == 0 && !dry_run ? 201 : 200;
  reply->json = json_pack("{s:s,s:s,s:b,s:I}", "pod", name, "result", result, "dry_run", dry_run,
                          "revision", (json_int_t)rev);
}

static void
delete_pod(struct tankd *d, const char *name, struct http_reply *reply)
{
  char key[512];
  snprintf(key, sizeof key, PODS_PREFIX "%s", name);
  tank_error *err = NULL;
  int64_t rev = 0;
  if (tank_store_delete(d->store, key, 0, &rev, &err) < 0) {
    if (err->errnum == TANK_STORE_ENOTFOUND)
      http_reply_error(reply, 404, NULL, "no pod named %s", name);
    else
      http_reply_error(reply, 503, NULL, "delete pod %s: %s", name, err->msg);
    tank_error_free(err);
    return;
  }
  reply->json
      = json_pack("{s:s,s:s,s:I}", "pod", name, "result", "deleted", "revision", (json_int_t)rev);
}

/* ---- events ------------------------------------------------------------------ */

struct event_stream {
  struct tankd *d;
  struct http_stream *http;
  tank_store_watch *watch;
  sd_event_source *source;
};

static void
event_stream_free(struct event_stream *es)
{
  es->source = sd_event_source_disable_unref(es->source);
  es->watch = tank_store_watch_free(es->watch);
  free(es);
}

static void
on_event_stream_closed(void *userdata)
{
  event_stream_free(userdata);
}

static int
on_event_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  struct event_stream *es = userdata;
  for (;;) {
    struct tank_store_event ev;
    tank_error *err = NULL;
    int r = tank_store_watch_next(es->watch, &ev, &err);
    if (r < 0) {
      json_t *j = json_pack("{s:s}", "error", err->msg);
      char *line = json_dumps(j, JSON_COMPACT);
      http_stream_write(es->http, line, strlen(line));
      http_stream_write(es->http, "\n", 1);
      free(line);
      json_decref(j);
      tank_error_free(err);
      es->source = sd_event_source_disable_unref(es->source);
      http_stream_end(es->http);
      return 0;
    }
    if (r == 0)
      return 0;
    /* /tank/pods/NAME and /tank/status/NODE/NAME */
    const char *kind = strncmp(ev.key, PODS_PREFIX, strlen(PODS_PREFIX)) == 0 ? "pod" : "status";
    const char *name = strrchr(ev.key, '/') + 1;
    json_t *value = ev.value ? json_loadb((const char *)ev.value, ev.value_len, 0, NULL) : NULL;
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:o}", "revision", (json_int_t)ev.rev, "type",
                          ev.type == TANK_STORE_EVENT_PUT ? "put" : "delete", "kind", kind, "pod",
                          name, "value", value ? value : json_null());
    char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    tank_store_event_clear(&ev);
    int w = http_stream_write(es->http, line, strlen(line));
    if (w == 0)
      w = http_stream_write(es->http, "\n", 1);
    free(line);
    if (w < 0)
      return 0; /* the client fell too far behind; the stream is ending */
  }
}

static void
get_events(struct tankd *d, const struct http_request *req, struct http_reply *reply)
{
  const char *since = http_query(req, "since");
  int64_t from = 0;
  if (since) {
    char *end;
    from = strtoll(since, &end, 10);
    if (*end || from < 0) {
      http_reply_error(reply, 400, NULL, "since=%s is not a revision", since);
      return;
    }
    from += 1; /* events after `since` */
  }
  struct event_stream *es = calloc(1, sizeof *es);
  if (es == NULL)
    abort();
  es->d = d;
  tank_error *err = NULL;
  if (tank_store_watch_open(d->store, "/tank/", from, &es->watch, &err) < 0) {
    unsigned status = err->errnum == TANK_STORE_ECOMPACTED ? 410 : 503;
    http_reply_error(reply, status, NULL, "events: %s", err->msg);
    tank_error_free(err);
    free(es);
    return;
  }
  if (sd_event_add_io(d->event, &es->source, tank_store_watch_fd(es->watch), EPOLLIN,
                      on_event_watch, es)
      < 0) {
    http_reply_error(reply, 500, NULL, "events: cannot watch");
    event_stream_free(es);
    return;
  }
  es->http = http_reply_stream(reply, "application/x-ndjson", on_event_stream_closed, es);
}

/* ---- dispatch ------------------------------------------------------------------ */

void
routes_handle(void *userdata, const struct http_request *req, struct http_reply *reply)
{
  struct tankd *d = userdata;
  const char *m = req->method, *path = req->path;
  char name[256];
  const char *rest;

  if (strcmp(path, "/v1/version") == 0 && strcmp(m, "GET") == 0) {
    reply->json = json_pack("{s:s,s:s,s:s}", "version", TANK_VERSION, "node", d->cfg.node, "store",
                            d->cfg.store);
  } else if (strcmp(path, "/v1/pods") == 0 && strcmp(m, "GET") == 0) {
    get_pods(d, reply);
  } else if (strcmp(path, "/v1/events") == 0 && strcmp(m, "GET") == 0) {
    get_events(d, req, reply);
  } else if (strcmp(path, "/v1/stats") == 0 && strcmp(m, "GET") == 0) {
    stats_get(d, req, reply);
  } else if (strcmp(path, "/metrics") == 0 && strcmp(m, "GET") == 0) {
    metrics_get(d, req, reply);
  } else if (path_pod(path, name, sizeof name, &rest)) {
    if (!spec_is_dns_label(name)) {
      http_reply_error(reply, 400, NULL, "`%s` is not a pod name (a DNS label)", name);
      return;
    }
    struct pod_rec *p = pod_find(d, name);
    if (*rest == '\0' && strcmp(m, "GET") == 0) {
      if (p && p->desired)
        reply->json = pod_view(d, p);
      else
        http_reply_error(reply, 404, NULL, "no pod named %s", name);
    } else if (*rest == '\0' && strcmp(m, "PUT") == 0) {
      put_pod(d, name, req, reply);
    } else if (*rest == '\0' && strcmp(m, "DELETE") == 0) {
      delete_pod(d, name, reply);
    } else if (strcmp(rest, "/restart") == 0 && strcmp(m, "POST") == 0) {
      if (p == NULL || p->desired == NULL) {
        http_reply_error(reply, 404, NULL, "no pod named %s", name);
        return;
      }
      unsigned n = execute_restart(d, p);
      reply->status = 202;
      reply->json = json_pack("{s:s,s:i}", "pod", name, "containers", (int)n);
    } else if (strcmp(rest, "/logs") == 0 && strcmp(m, "GET") == 0) {
      logs_get(d, name, req, reply);
    } else if ((strcmp(rest, "/exec") == 0 || strcmp(rest, "/attach") == 0)
               && strcmp(m, "POST") == 0) {
      api_session(d, p, name, /* attach= */ rest[1] == 'a', req, reply);
    } else {
      http_reply_error(reply, 405, NULL, "%s %s is not supported", m, path);
    }
  } else {
    http_reply_error(reply, 404, NULL, "no such endpoint: %s %s", m, path);
  }
}
