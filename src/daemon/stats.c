/* GET /v1/stats: samples every interval on a timer of the event loop (a CPU
 * percentage needs two samples), one JSON document per interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "daemon/podstats.h"
#include "runtime/state.h"
#include "util/strv.h"

#define STATS_MIN_INTERVAL_MS 100
#define STATS_MAX_INTERVAL_MS 60000

struct stats_stream {
  struct tankd *d;
  struct http_stream *http;
  sd_event_source *timer;
  char **pods; /* asked for by name; NULL: every pod */
  bool stream;
  uint64_t interval_ms;
  struct pod_sample *before;
  size_t n_before;
};

const char *
observe_cgroup_fs(const struct tankd *d)
{
  return d->machine.cgroup_fs ? d->machine.cgroup_fs : "/sys/fs/cgroup";
}

const char *
observe_cgroup_root(const struct tankd *d)
{
  return d->machine.cgroup_root ? d->machine.cgroup_root : d->cfg.cgroup_root;
}

static int
by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The pods to sample now: those asked for that still exist, else all, sorted. */
static char **
pods_now(struct tankd *d, char *const *asked)
{
  char **v = NULL;
  if (asked) {
    for (size_t i = 0; asked[i]; i++) {
      struct pod_rec *p = pod_find(d, asked[i]);
      if (p && p->desired && strv_push(&v, strdup(asked[i])) < 0)
        abort();
    }
  } else {
    for (struct pod_rec *p = d->pods; p; p = p->next)
      if (p->desired && strv_push(&v, strdup(p->name)) < 0)
        abort();
    if (v)
      qsort(v, strv_length(v), sizeof *v, by_name);
  }
  return v;
}

/* Samples the given pods (their current container lists). */
static struct pod_sample *
sample_pods(struct tankd *d, char *const *names, size_t *ret_n)
{
  size_t n = names ? strv_length(names) : 0;
  struct pod_sample *v = calloc(n ? n : 1, sizeof *v);
  if (v == NULL)
    abort();
  struct podstats_paths paths
      = { observe_cgroup_fs(d), observe_cgroup_root(d), d->cfg.run_dir, CGROUP_VERSION_AUTO };
  for (size_t i = 0; i < n; i++) {
    struct pod_rec *p = pod_find(d, names[i]);
    const struct spec_pod *spec = p ? p->desired : NULL;
    size_t nc = spec ? spec->n_containers : 0;
    char **ctrs = calloc(nc + 1, sizeof *ctrs);
    if (ctrs == NULL)
      abort();
    for (size_t c = 0; c < nc; c++)
      ctrs[c] = spec->containers[c].name;
    podstats_sample(&paths, names[i], ctrs, nc, &v[i]);
    free(ctrs);
  }
  *ret_n = n;
  return v;
}

static json_t *
snapshot_json(struct pod_sample *now, size_t n_now, struct pod_sample *before, size_t n_before,
              uint64_t interval_ms)
{
  char time_buf[40];
  rfc3339_now(time_buf);
  json_t *pods = json_array();
  for (size_t i = 0; i < n_now; i++) {
    const struct pod_sample *b = NULL;
    for (size_t j = 0; j < n_before; j++)
      if (strcmp(before[j].name, now[i].name) == 0)
        b = &before[j];
    json_array_append_new(pods, podstats_json(&now[i], b));
  }
  return json_pack("{s:s,s:I,s:o}", "time", time_buf, "interval_ms", (json_int_t)interval_ms,
                   "pods", pods);
}

static void
free_samples(struct pod_sample *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    pod_sample_clear(&v[i]);
  free(v);
}

static int
on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
  struct stats_stream *ss = userdata;
  char **names = pods_now(ss->d, ss->pods);
  size_t n;
  struct pod_sample *now = sample_pods(ss->d, names, &n);
  strv_free(names);
  json_t *doc = snapshot_json(now, n, ss->before, ss->n_before, ss->interval_ms);
  char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(doc);
  free_samples(ss->before, ss->n_before);
  ss->before = now;
  ss->n_before = n;
  int w = http_stream_write(ss->http, text, strlen(text));
  if (w == 0)
    w = http_stream_write(ss->http, "\n", 1);
  free(text);
  if (w < 0 || !ss->stream) {
    ss->timer = sd_event_source_disable_unref(ss->timer);
    if (w == 0)
      http_stream_end(ss->http);
    return 0;
  }
  sd_event_source_set_time_relative(s, ss->interval_ms * 1000);
  sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
  return 0;
}

static void
on_closed(void *userdata)
{
  struct stats_stream *ss = userdata;
  ss->timer = sd_event_source_disable_unref(ss->timer);
  free_samples(ss->before, ss->n_before);
  strv_free(ss->pods);
  free(ss);
}

void
stats_get(struct tankd *d, const struct http_request *req, struct http_reply *reply)
{
  const char *stream = http_query(req, "stream");
  const char *interval = http_query(req, "interval_ms");
  const char *pods = http_query(req, "pods");
  uint64_t interval_ms = 1000;
  if (interval && *interval) {
    char *end;
    unsigned long long v = strtoull(interval, &end, 10);
    if (*end || v < STATS_MIN_INTERVAL_MS || v > STATS_MAX_INTERVAL_MS) {
      http_reply_error(reply, 400, NULL, "interval_ms=%s: between %d and %d", interval,
                       STATS_MIN_INTERVAL_MS, STATS_MAX_INTERVAL_MS);
      return;
    }
    interval_ms = v;
  }
  char **asked = NULL;
  if (pods && *pods) {
    char *copy = strdup(pods), *save = NULL;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
      struct pod_rec *p = pod_find(d, name);
      if (p == NULL || p->desired == NULL) {
        http_reply_error(reply, 404, NULL, "no pod named %s", name);
        free(copy);
        strv_free(asked);
        return;
      }
      if (strv_push(&asked, strdup(name)) < 0)
        abort();
    }
    free(copy);
  }
  struct stats_stream *ss = calloc(1, sizeof *ss);
  if (ss == NULL)
    abort();
  ss->d = d;
  ss->pods = asked;
  ss->stream = stream && strcmp(stream, "0") != 0 && strcmp(stream, "false") != 0;
  ss->interval_ms = interval_ms;
  char **names = pods_now(d, asked);
  ss->before = sample_pods(d, names, &ss->n_before);
  strv_free(names);
  if (sd_event_add_time_relative(d->event, &ss->timer, CLOCK_MONOTONIC, interval_ms * 1000, 1000,
                                 on_tick, ss)
      < 0) {
    http_reply_error(reply, 500, NULL, "stats: cannot arm a timer");
    on_closed(ss);
    return;
  }
  ss->http = http_reply_stream(reply, ss->stream ? "application/x-ndjson" : "application/json",
                               on_closed, ss);
}
