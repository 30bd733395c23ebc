/* Pod records: loaded from the store, kept current by its watch, reconciled by
 * the planner, their status written back to the store under
 * /tank/status/<node>/<pod> (so the event stream carries status changes too). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "util/cleanup.h"

#define PODS_PREFIX "/tank/pods/"

void
tankd_log(const struct tankd *d, int level, const char *fmt, ...)
{
  static const char *const names[] = { "error", "warning", "info", "debug" };
  int max = LOG_INFO_LEVEL;
  for (int i = 0; i < 4; i++)
    if (d->cfg.log_level && strcmp(d->cfg.log_level, names[i]) == 0)
      max = i;
  if (level > max)
    return;
  va_list ap;
  va_start(ap, fmt);
  if (max == LOG_DEBUG_LEVEL) { /* debugging: when, to the microsecond */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    fprintf(stderr, "%lld.%06ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
  }
  fprintf(stderr, "tankd %s: ", names[level]);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct pod_rec *
pod_find(struct tankd *d, const char *name)
{
  for (struct pod_rec *p = d->pods; p; p = p->next)
    if (strcmp(p->name, name) == 0)
      return p;
  return NULL;
}

struct pod_rec *
pod_get_or_add(struct tankd *d, const char *name)
{
  struct pod_rec *p = pod_find(d, name);
  if (p)
    return p;
  p = calloc(1, sizeof *p);
  if (p == NULL || (p->name = strdup(name)) == NULL)
    abort();
  p->daemon = d;
  p->next = d->pods;
  d->pods = p;
  d->n_pods++;
  return p;
}

static void
pod_free(struct pod_rec *p)
{
  spec_pod_free(p->desired);
  spec_pod_free(p->sandbox_pod);
  free(p->error);
  for (size_t i = 0; i < p->n_containers; i++)
    container_rec_clear(&p->containers[i]);
  free(p->containers);
  free(p->obs.containers);
  free(p->status_json);
  sd_event_source_disable_unref(p->wake);
  free(p->name);
  free(p);
}

static void
pod_remove(struct tankd *d, struct pod_rec *gone)
{
  for (struct pod_rec **pp = &d->pods; *pp; pp = &(*pp)->next)
    if (*pp == gone) {
      *pp = gone->next;
      d->n_pods--;
      pod_free(gone);
      return;
    }
}

void
pods_free_all(struct tankd *d)
{
  while (d->pods) {
    struct pod_rec *p = d->pods;
    d->pods = p->next;
    pod_free(p);
  }
  d->n_pods = 0;
}

/* Parses a stored spec (canonical JSON written by the API). */
static struct spec_pod *
parse_stored(const struct tankd *d, const char *key, const uint8_t *value, size_t len)
{
  struct spec_file f;
  struct spec_pod *pod = NULL;
  if (spec_parse((const char *)value, len, key, SPEC_FORMAT_JSON, &f) == 0 && f.n_pods == 1) {
    pod = f.pods[0];
    f.pods[0] = NULL;
  } else {
    tankd_log(d, LOG_ERR_LEVEL, "stored pod %s does not validate: %s", key,
              f.n_errors ? f.errors[0] : "no pod");
  }
  spec_file_free(&f);
  return pod;
}

static void
set_desired(struct tankd *d, const char *name, struct spec_pod *pod, int64_t rev)
{
  struct pod_rec *p = pod_get_or_add(d, name);
  spec_pod_free(p->desired);
  p->desired = pod;
  p->desired_rev = rev;
  pod_mark_dirty(d, p);
}

static int
on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  struct tankd *d = userdata;
  for (;;) {
    struct tank_store_event ev;
    tank_error *err = NULL;
    int r = tank_store_watch_next(d->watch, &ev, &err);
    if (r < 0) {
      /* A broken watch is re-opened by the next resync from a fresh list. */
      tankd_log(d, LOG_WARN_LEVEL, "store watch: %s", err->msg);
      tank_error_free(err);
      d->watch_source = sd_event_source_disable_unref(d->watch_source);
      d->watch = tank_store_watch_free(d->watch);
      break;
    }
    if (r == 0)
      break;
    d->last_rev = ev.rev;
    const char *name = ev.key + strlen(PODS_PREFIX);
    if (ev.type == TANK_STORE_EVENT_PUT)
      set_desired(d, name, parse_stored(d, ev.key, ev.value, ev.value_len), ev.rev);
    else
      set_desired(d, name, NULL, ev.rev);
    tank_store_event_clear(&ev);
  }
  pods_reconcile_dirty(d);
  return 0;
}

int
pods_load(struct tankd *d, tank_error **err)
{
  struct tank_store_list list;
  if (tank_store_list(d->store, PODS_PREFIX, &list, err) < 0)
    return tank_error_wrap(err, "list pods");
  for (struct pod_rec *p = d->pods; p; p = p->next)
    if (p->desired) {
      bool present = false;
      for (size_t i = 0; i < list.n_items && !present; i++)
        present = strcmp(list.items[i].key + strlen(PODS_PREFIX), p->name) == 0;
      if (!present)
        set_desired(d, p->name, NULL, list.rev);
    }
  for (size_t i = 0; i < list.n_items; i++) {
    struct tank_store_kv *kv = &list.items[i];
    struct pod_rec *p = pod_find(d, kv->key + strlen(PODS_PREFIX));
    if (p && p->desired_rev == kv->mod_rev)
      continue;
    set_desired(d, kv->key + strlen(PODS_PREFIX),
                parse_stored(d, kv->key, kv->value, kv->value_len), kv->mod_rev);
  }
  int64_t rev = list.rev;
  tank_store_list_clear(&list);
  d->last_rev = rev;

  if (d->watch == NULL) {
    if (tank_store_watch_open(d->store, PODS_PREFIX, rev + 1, &d->watch, err) < 0)
      return tank_error_wrap(err, "watch pods");
    int r = sd_event_add_io(d->event, &d->watch_source, tank_store_watch_fd(d->watch), EPOLLIN,
                            on_watch, d);
    if (r < 0)
      return tank_error_set(err, -r, "watch pods: add to the event loop");
  }
  return 0;
}

/* ---- status ------------------------------------------------------------------ */

static json_t *
time_or_null(int64_t ms)
{
  if (ms <= 0)
    return json_null();
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  return json_string(buf);
}

json_t *
pod_status_json(const struct tankd *d, const struct pod_rec *p)
{
  json_t *ips = json_array();
  if (p->desired)
    for (size_t i = 0; i < p->desired->network.n_nics; i++)
      for (size_t a = 0; a < p->desired->network.nics[i].n_ips; a++) {
        char *s = spec_format_ip(&p->desired->network.nics[i].ips[a], false);
        json_array_append_new(ips, json_string(s));
        free(s);
      }
  json_t *ctrs = json_array();
  unsigned restarts = 0;
  const struct spec_pod *spec = p->desired;
  for (size_t i = 0; spec && i < spec->n_containers; i++) {
    const struct container_rec *c = NULL;
    for (size_t j = 0; j < p->n_containers; j++)
      if (strcmp(p->containers[j].name, spec->containers[i].name) == 0)
        c = &p->containers[j];
    const struct observed_container *o = c ? &c->obs : NULL;
    bool exited = o && o->state == CTR_EXITED;
    restarts += o ? o->restarts : 0;
    json_array_append_new(
        ctrs,
        json_pack("{s:s,s:s,s:o,s:i,s:o,s:o,s:b,s:o,s:o,s:o}", "name", spec->containers[i].name,
                  "state", ctr_state_name(o ? o->state : CTR_ABSENT), "pid",
                  c && c->pid > 0 ? json_integer(c->pid) : json_null(), "restarts",
                  o ? (int)o->restarts : 0, "exit_code",
                  exited ? json_integer(o->exit_code) : json_null(), "signal",
                  exited && o->signal
                      ? json_string(spec_signal_name(o->signal) ? spec_signal_name(o->signal) : "?")
                      : json_null(),
                  "oom_killed", o ? o->oom_killed : false, "started_at",
                  time_or_null(o ? o->started_at_ms : 0), "finished_at",
                  time_or_null(exited ? o->finished_at_ms : 0), "next_restart_at",
                  time_or_null(exited ? o->next_restart_at_ms : 0)));
  }
  return json_pack("{s:s,s:s,s:i,s:o,s:o,s:I}", "phase", pod_phase_name(p->plan.phase), "message",
                   p->plan.message, "restarts", (int)restarts, "ips", ips, "containers", ctrs,
                   "observed_revision", (json_int_t)p->desired_rev);
}

/* A deleted pod whose containers, sandbox and jobs are all gone: its record goes. */
static bool
pod_gone(const struct pod_rec *p)
{
  if (p->desired || p->plan.n_actions || p->inflight || p->obs.sandbox_present
      || p->obs.sandbox_busy)
    return false;
  for (size_t i = 0; i < p->n_containers; i++)
    if (p->containers[i].obs.state != CTR_ABSENT)
      return false;
  return true;
}

static void
write_status(struct tankd *d, struct pod_rec *p)
{
  char key[512];
  snprintf(key, sizeof key, "/tank/status/%s/%s", d->cfg.node, p->name);
  tank_error *err = NULL;
  if (pod_gone(p)) {
    if (p->status_json && tank_store_delete(d->store, key, 0, NULL, &err) < 0
        && err->errnum != TANK_STORE_ENOTFOUND)
      tankd_log(d, LOG_WARN_LEVEL, "delete status of %s: %s", p->name, err->msg);
    tank_error_free(err);
    return;
  }
  json_t *j = pod_status_json(d, p);
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  if (p->status_json && strcmp(p->status_json, s) == 0) {
    free(s);
    return;
  }
  if (tank_store_put(d->store, key, s, strlen(s), 0, NULL, &err) < 0) {
    tankd_log(d, LOG_WARN_LEVEL, "write status of %s: %s", p->name, err->msg);
    tank_error_free(err);
    free(s);
    return;
  }
  free(p->status_json);
  p->status_json = s;
}

/* ---- reconcile ----------------------------------------------------------------- */

static int
on_wake(sd_event_source *s, uint64_t usec, void *userdata)
{
  struct pod_rec *p = userdata;
  struct tankd *d = p->daemon;
  pod_mark_dirty(d, p);
  pods_reconcile_dirty(d);
  return 0;
}

void
pod_mark_dirty(struct tankd *d, struct pod_rec *p)
{
  p->dirty = true;
  if (d->reconcile_soon)
    sd_event_source_set_enabled(d->reconcile_soon, SD_EVENT_ONESHOT);
}

static void
reconcile_pod(struct tankd *d, struct pod_rec *p)
{
  p->dirty = false;
  execute_refresh_observed(d, p);
  plan_pod(p->desired, &p->obs, now_ms(), (double)random() / ((double)RAND_MAX + 1), &p->plan);
  for (size_t i = 0; i < p->plan.n_actions; i++)
    tankd_log(d, LOG_DEBUG_LEVEL, "pod %s: %s %s", p->name,
              plan_action_name(p->plan.actions[i].kind),
              p->plan.actions[i].container ? p->plan.actions[i].container : "");
  execute_plan(d, p);
  write_status(d, p);
  if (p->plan.wake_at_ms > 0) {
    uint64_t delay_ms
        = (uint64_t)(p->plan.wake_at_ms > now_ms() ? p->plan.wake_at_ms - now_ms() : 0);
    if (p->wake == NULL)
      sd_event_add_time_relative(d->event, &p->wake, CLOCK_MONOTONIC, delay_ms * 1000, 1000,
                                 on_wake, p);
    else
      sd_event_source_set_time_relative(p->wake, delay_ms * 1000);
    if (p->wake)
      sd_event_source_set_enabled(p->wake, SD_EVENT_ONESHOT);
  }
}

void
pods_reconcile_dirty(struct tankd *d)
{
  struct pod_rec *next;
  for (struct pod_rec *p = d->pods; p; p = next) {
    next = p->next;
    if (!p->dirty)
      continue;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    reconcile_pod(d, p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    metrics_observe_reconcile((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (pod_gone(p))
      pod_remove(d, p);
  }
}
