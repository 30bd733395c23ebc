/* Carrying out reconcile plans. Each planned action marks the record as busy
 * (so the next plan does not repeat it) and becomes a job on a worker pool;
 * the job's result comes back to the loop and is folded into the record as an
 * observation, which wakes the planner again. Shims are watched through
 * pidfds: a readable pidfd means the shim (and so its container) is gone, and
 * its exit.json says how. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "reconcile/backoff.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define CGROUP_FS "/sys/fs/cgroup"

static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
xstrdup(const char *s)
{
  char *c = s ? strdup(s) : NULL;
  if (s && c == NULL)
    abort();
  return c;
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0)
      return true;
  return false;
}

static void
strv_remove(char **v, size_t *n, const char *s)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp(v[i], s) == 0) {
      free(v[i]);
      v[i] = v[--*n];
      v[*n] = NULL;
      return;
    }
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
  char **nv = realloc(*v, (*n + 2) * sizeof **v);
  if (nv == NULL)
    abort();
  nv[(*n)++] = xstrdup(s);
  nv[*n] = NULL;
  *v = nv;
}

/* ---- records ------------------------------------------------------------------- */

static struct container_rec *
ctr_find(struct pod_rec *p, const char *name)
{
  for (size_t i = 0; i < p->n_containers; i++)
    if (strcmp(p->containers[i].name, name) == 0)
      return &p->containers[i];
  return NULL;
}

static struct container_rec *
ctr_get(struct pod_rec *p, const char *name)
{
  struct container_rec *c = ctr_find(p, name);
  if (c)
    return c;
  struct container_rec *n = realloc(p->containers, (p->n_containers + 1) * sizeof *n);
  if (n == NULL)
    abort();
  p->containers = n;
  c = &p->containers[p->n_containers++];
  *c = (struct container_rec){ .name = xstrdup(name), .shim_pidfd = -1 };
  return c;
}

void
container_rec_clear(struct container_rec *c)
{
  c->shim_exit = sd_event_source_disable_unref(c->shim_exit);
  if (c->shim_pidfd >= 0)
    close(c->shim_pidfd);
  c->shim_pidfd = -1;
  free(c->name);
  spec_pod_free(c->started_pod);
  free(c->error);
}

/* The run's spec: obs.started_with points into it. */
static void
ctr_set_started(struct container_rec *c, struct spec_pod *pod)
{
  if (pod != c->started_pod)
    spec_pod_free(c->started_pod);
  c->started_pod = pod;
  c->obs.started_with = NULL;
  for (size_t i = 0; pod && i < pod->n_containers; i++)
    if (strcmp(pod->containers[i].name, c->name) == 0)
      c->obs.started_with = &pod->containers[i];
}

static void
pod_set_error(struct tankd *d, struct pod_rec *p, const char *msg)
{
  free(p->error);
  p->error = xstrdup(msg);
  p->obs.error = p->error;
  const struct spec_backoff *b = p->desired ? &p->desired->backoff : &d->cfg.backoff;
  p->obs.retry_at_ms = now_ms() + (int64_t)backoff_delay_ms(b, p->failures, 0.5);
  p->failures++;
}

static void
pod_clear_error(struct pod_rec *p)
{
  free(p->error);
  p->error = NULL;
  p->obs.error = NULL;
  p->obs.retry_at_ms = 0;
  p->failures = 0;
}

static bool
ctr_desired(const struct pod_rec *p, const char *name)
{
  for (size_t i = 0; p->desired && i < p->desired->n_containers; i++)
    if (strcmp(p->desired->containers[i].name, name) == 0)
      return true;
  return false;
}

void
execute_refresh_observed(struct tankd *d, struct pod_rec *p)
{
  /* Records for desired containers (absent ones carry image readiness), none for
   * containers that are neither desired nor leave anything behind. */
  for (size_t i = 0; p->desired && i < p->desired->n_containers; i++)
    ctr_get(p, p->desired->containers[i].name);
  for (size_t i = 0; i < p->n_containers;) {
    struct container_rec *c = &p->containers[i];
    if (c->obs.state == CTR_ABSENT && !ctr_desired(p, c->name)) {
      container_rec_clear(c);
      p->containers[i] = p->containers[--p->n_containers];
      continue;
    }
    i++;
  }
  p->obs.pulling = false;
  for (size_t i = 0; i < p->n_containers; i++) {
    struct container_rec *c = &p->containers[i];
    c->obs.image_ready = false;
    for (size_t j = 0; p->desired && j < p->desired->n_containers; j++) {
      const char *image = p->desired->containers[j].image;
      if (strcmp(p->desired->containers[j].name, c->name) != 0)
        continue;
      c->obs.image_ready = strv_has(d->ready_images, d->n_ready_images, image);
      if (strv_has(d->pulling, d->n_pulling, image))
        p->obs.pulling = true;
    }
  }
  free(p->obs.containers);
  p->obs.containers = calloc(p->n_containers ? p->n_containers : 1, sizeof *p->obs.containers);
  if (p->obs.containers == NULL)
    abort();
  for (size_t i = 0; i < p->n_containers; i++) {
    p->obs.containers[i] = p->containers[i].obs;
    p->obs.containers[i].name = p->containers[i].name;
  }
  p->obs.n_containers = p->n_containers;
}

/* ---- jobs ---------------------------------------------------------------------- */

enum job_kind {
  JOB_PULL,
  JOB_SANDBOX_CREATE,
  JOB_SANDBOX_REPAIR,
  JOB_SANDBOX_DESTROY,
  JOB_SANDBOX_CHECK,
  JOB_START,
  JOB_REAP,
  JOB_REMOVE,
  JOB_LIMITS,
};

struct tjob {
  struct job job;
  struct tankd *d;
  enum job_kind kind;
  char *pod_name;
  char *container;
  char *image;
  struct spec_pod *pod; /* a copy the worker may read */
  size_t index;
  bool flag; /* destroy: the pod is deleted; reap: kill the orphan */
  struct machine_run_record rec;
  struct spec_pod *limits_pod; /* check: containers whose limits are re-applied */
  size_t n_limits;
  size_t n_repaired; /* check: containers whose limits had drifted */
  /* results */
  int r;
  tank_error *err;
  struct machine_started started;
  struct machine_exit exit;
  int64_t ms; /* how long run took */
};

static void
tjob_free(struct tjob *j)
{
  free(j->pod_name);
  free(j->container);
  free(j->image);
  spec_pod_free(j->pod);
  spec_pod_free(j->limits_pod);
  tank_error_free(j->err);
  machine_exit_clear(&j->exit);
  free(j);
}

static void
tjob_discard(struct job *job)
{
  tjob_free((struct tjob *)job);
}

static void
tjob_run(struct job *job)
{
  struct tjob *j = (struct tjob *)job;
  const struct machine *m = &j->d->machine;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  switch (j->kind) {
    case JOB_PULL:
      j->r = machine_ensure_image(m, j->image, &j->d->cancel, &j->err);
      break;
    case JOB_SANDBOX_CREATE:
      j->r = machine_sandbox_create(m, j->pod, &j->err);
      break;
    case JOB_SANDBOX_REPAIR:
      j->r = machine_sandbox_repair(m, j->pod, &j->err);
      break;
    case JOB_SANDBOX_DESTROY:
      j->r = machine_sandbox_destroy(m, j->pod_name, j->flag, &j->err);
      break;
    case JOB_SANDBOX_CHECK:
      j->r = machine_sandbox_check(m, j->pod, &j->err);
      /* A limit changed by hand is put back: the spec's limits are re-applied. */
      for (size_t i = 0; i < j->n_limits; i++) {
        tank_error *e = NULL;
        if (machine_check_limits(m, j->pod_name, &j->limits_pod->containers[i], &e) > 0)
          j->n_repaired++;
        tank_error_free(e);
      }
      break;
    case JOB_START:
      j->r = machine_container_start(m, j->pod, j->index, &j->rec, &j->started, &j->err);
      if (j->r < 0) { /* the shim's own record of a setup failure has its exit code */
        tank_error *e = NULL;
        if (machine_read_exit(m, j->pod_name, j->container, &j->exit, &e) < 0)
          j->exit = (struct machine_exit){ .exit_code = 125 };
        tank_error_free(e);
      }
      break;
    case JOB_REAP:
      j->r = machine_read_exit(m, j->pod_name, j->container, &j->exit, &j->err);
      if (j->r < 0) {
        /* No exit file: the shim died (or never got going). Whatever it left
         * running in the container's cgroup is killed. */
        tank_error *e = NULL;
        machine_container_kill_orphan(m, j->pod_name, j->container, &e);
        tank_error_free(e);
      }
      break;
    case JOB_REMOVE:
      machine_container_remove(m, j->pod_name, j->container);
      j->r = 0;
      break;
    case JOB_LIMITS:
      j->r = machine_update_limits(m, j->pod_name, &j->pod->containers[j->index], &j->err);
      break;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  j->ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  if (j->kind == JOB_PULL && j->r == 0)
    metrics_observe_pull(j->image,
                         (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void tjob_done(struct job *job);

static struct tjob *
tjob_new(struct tankd *d, enum job_kind kind, struct pod_rec *p)
{
  struct tjob *j = calloc(1, sizeof *j);
  if (j == NULL)
    abort();
  j->job = (struct job){ .run = tjob_run, .done = tjob_done, .discard = tjob_discard };
  j->d = d;
  j->kind = kind;
  if (p) {
    j->pod_name = xstrdup(p->name);
    p->inflight++;
  }
  return j;
}

static struct spec_pod *
clone_or_die(const struct spec_pod *pod)
{
  struct spec_pod *c = spec_pod_clone(pod);
  if (c == NULL)
    abort();
  return c;
}

static void
submit(struct tankd *d, struct tjob *j)
{
  job_submit(d->jobs, j->kind == JOB_PULL ? JOB_POOL_PULL : JOB_POOL_RUN, &j->job);
}

/* ---- shim exits ---------------------------------------------------------------- */

static void
reap(struct tankd *d, struct pod_rec *p, struct container_rec *c)
{
  c->obs.state = CTR_STOPPING;
  c->shim_exit = sd_event_source_disable_unref(c->shim_exit);
  if (c->shim_pidfd >= 0) {
    /* Shims this tankd started are its children (it is their subreaper): no
     * zombie is left. One adopted from an earlier tankd is init's to reap. */
    siginfo_t si;
    waitid((idtype_t)P_PIDFD, (id_t)c->shim_pidfd, &si, WEXITED | WNOHANG);
    close(c->shim_pidfd);
  }
  c->shim_pidfd = -1;
  struct tjob *j = tjob_new(d, JOB_REAP, p);
  j->container = xstrdup(c->name);
  submit(d, j);
}

static int
on_shim_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  struct pod_rec *p = userdata;
  struct tankd *d = p->daemon;
  for (size_t i = 0; i < p->n_containers; i++)
    if (p->containers[i].shim_exit == s) {
      reap(d, p, &p->containers[i]);
      break;
    }
  return 0;
}

static int
watch_shim(struct tankd *d, struct pod_rec *p, struct container_rec *c, pid_t shim_pid,
           uint64_t shim_start_time)
{
  int fd = pidfd_open(shim_pid, 0);
  if (fd < 0)
    return -errno;
  /* The pid may have been reused since the record was written: the start time
   * tells (checked after pidfd_open, so the pidfd refers to the checked one). */
  uint64_t st;
  tank_error *e = NULL;
  if (shim_start_time && (proc_start_time(shim_pid, &st, &e) < 0 || st != shim_start_time)) {
    tank_error_free(e);
    close(fd);
    return -ESRCH;
  }
  int r = sd_event_add_io(d->event, &c->shim_exit, fd, EPOLLIN, on_shim_exit, p);
  if (r < 0) {
    close(fd);
    return r;
  }
  c->shim_pidfd = fd;
  c->shim_pid = shim_pid;
  return 0;
}

/* Folds an exit into the record: the restart policy and backoff take it from here. */
static void
apply_exit(struct pod_rec *p, struct container_rec *c, const struct machine_exit *e)
{
  bool desired = ctr_desired(p, c->name);
  c->pid = 0;
  c->shim_pid = 0;
  if (c->restart_requested && desired) {
    c->restart_requested = c->stop_requested = false;
    c->obs = (struct observed_container){ .state = CTR_ABSENT, .restarts = c->obs.restarts + 1 };
    ctr_set_started(c, NULL);
    return;
  }
  if (c->stop_requested && desired) {
    /* Stopped for a new spec: it starts afresh, neither a restart nor a failure. */
    c->stop_requested = false;
    c->obs = (struct observed_container){ .state = CTR_ABSENT,
                                          .restarts = c->obs.restarts,
                                          .failures = c->obs.failures };
    ctr_set_started(c, c->started_pod);
    return;
  }
  c->stop_requested = c->restart_requested = false;
  int64_t started = e->started_at_ms ? e->started_at_ms : c->obs.started_at_ms;
  int64_t finished = e->finished_at_ms ? e->finished_at_ms : now_ms();
  const struct spec_backoff *b = p->desired ? &p->desired->backoff : &p->daemon->cfg.backoff;
  c->obs.state = CTR_EXITED;
  c->obs.exit_code = e->exit_code;
  c->obs.signal = e->signal;
  c->obs.oom_killed = e->oom_killed;
  c->obs.started_at_ms = started;
  c->obs.finished_at_ms = finished;
  c->obs.next_restart_at_ms = 0;
  c->obs.failures = backoff_next_step(b, c->obs.failures,
                                      (uint64_t)(finished > started ? finished - started : 0));
  free(c->error);
  c->error = xstrdup(e->error);
  c->obs.error = c->error;
}

/* ---- completions ----------------------------------------------------------------- */

static void
pull_done(struct tankd *d, struct tjob *j)
{
  strv_remove(d->pulling, &d->n_pulling, j->image);
  if (j->r == 0) {
    if (!strv_has(d->ready_images, d->n_ready_images, j->image))
      strv_add(&d->ready_images, &d->n_ready_images, j->image);
    tankd_log(d, LOG_INFO_LEVEL, "image %s ready (%lld ms)", j->image, (long long)j->ms);
  } else {
    tankd_log(d, LOG_WARN_LEVEL, "%s", j->err->msg);
  }
  for (struct pod_rec *p = d->pods; p; p = p->next)
    for (size_t i = 0; p->desired && i < p->desired->n_containers; i++)
      if (strcmp(p->desired->containers[i].image, j->image) == 0) {
        if (j->r < 0)
          pod_set_error(d, p, j->err->msg);
        else if (p->error && strstr(p->error, j->image))
          pod_clear_error(p);
        pod_mark_dirty(d, p);
        break;
      }
}

static void
start_done(struct tankd *d, struct pod_rec *p, struct tjob *j)
{
  struct container_rec *c = ctr_get(p, j->container);
  c->obs.restarts = j->rec.restarts;
  c->obs.next_restart_at_ms = 0;
  ctr_set_started(c, j->pod);
  j->pod = NULL;
  if (j->r == 0) {
    c->obs.state = CTR_RUNNING;
    c->obs.started_at_ms = j->started.started_at_ms ? j->started.started_at_ms : now_ms();
    c->obs.finished_at_ms = 0;
    c->obs.exit_code = c->obs.signal = 0;
    c->obs.oom_killed = false;
    free(c->error);
    c->error = NULL;
    c->obs.error = NULL;
    c->pid = j->started.pid;
    tankd_log(d, LOG_INFO_LEVEL, "pod %s: container %s running, pid %d (%lld ms)", p->name, c->name,
              (int)c->pid, (long long)j->ms);
    int r = watch_shim(d, p, c, j->started.shim_pid, j->started.shim_start_time);
    if (r < 0) {
      /* Already gone: its exit file says how. */
      reap(d, p, c);
      return;
    }
    if (c->stop_requested || c->restart_requested)
      pidfd_send_signal(c->shim_pidfd, SIGTERM, NULL, 0);
    return;
  }
  /* A start that failed counts as a short run: the backoff spaces the retries. */
  tankd_log(d, LOG_WARN_LEVEL, "pod %s: container %s: %s", p->name, c->name, j->err->msg);
  if (j->err->errnum == ENOENT && strncmp(j->err->msg, "image ", 6) == 0)
    /* removed from the cache behind tankd's back: pull it again */
    strv_remove(d->ready_images, &d->n_ready_images, c->obs.started_with->image);
  struct machine_exit e = { .exit_code = j->exit.exit_code, .error = j->err->msg };
  int64_t now = now_ms();
  e.started_at_ms = e.finished_at_ms = now;
  c->stop_requested = c->restart_requested = false;
  apply_exit(p, c, &e);
}

/* After a burst (200 pods applied at once) the workers' malloc arenas hold
 * freed pages: once every pool is idle again, give them back. A few jobs are
 * not worth it; the resync trims what is left. */
void
execute_trim_when_idle(struct tankd *d, unsigned min_jobs)
{
  if (d->jobs_since_trim < min_jobs || job_pools_pending(d->jobs, JOB_POOL_PULL)
      || job_pools_pending(d->jobs, JOB_POOL_RUN))
    return;
  d->jobs_since_trim = 0;
  malloc_trim(0);
}

static void
tjob_done(struct job *job)
{
  struct tjob *j = (struct tjob *)job;
  struct tankd *d = j->d;
  if (j->kind == JOB_PULL) {
    pull_done(d, j);
    tjob_free(j);
    pods_reconcile_dirty(d);
    return;
  }
  struct pod_rec *p = pod_find(d, j->pod_name);
  if (p == NULL) { /* cannot happen: records stay while jobs are in flight */
    tjob_free(j);
    return;
  }
  p->inflight--;
  switch (j->kind) {
    case JOB_PULL:
      break;
    case JOB_SANDBOX_CREATE:
      p->obs.sandbox_busy = false;
      if (j->r == 0) {
        p->obs.sandbox_present = p->obs.sandbox_healthy = true;
        spec_pod_free(p->sandbox_pod);
        p->sandbox_pod = j->pod;
        p->obs.sandbox_built_with = p->sandbox_pod;
        j->pod = NULL;
        pod_clear_error(p);
        tankd_log(d, LOG_DEBUG_LEVEL, "pod %s: sandbox created (%lld ms)", p->name,
                  (long long)j->ms);
      } else {
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: sandbox: %s", p->name, j->err->msg);
        pod_set_error(d, p, j->err->msg);
      }
      break;
    case JOB_SANDBOX_REPAIR:
      p->obs.sandbox_busy = false;
      /* Marked healthy either way: the next resync looks again (no hot retry loop). */
      p->obs.sandbox_healthy = true;
      if (j->r < 0)
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: repair network: %s", p->name, j->err->msg);
      else
        tankd_log(d, LOG_INFO_LEVEL, "pod %s: network drift repaired", p->name);
      break;
    case JOB_SANDBOX_DESTROY:
      p->obs.sandbox_busy = false;
      p->obs.sandbox_present = p->obs.sandbox_healthy = false;
      spec_pod_free(p->sandbox_pod);
      p->sandbox_pod = NULL;
      p->obs.sandbox_built_with = NULL;
      if (j->r < 0)
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: destroy sandbox: %s", p->name, j->err->msg);
      break;
    case JOB_SANDBOX_CHECK:
      p->checking = false;
      if (j->n_repaired)
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: cgroup limits changed by hand; put back", p->name);
      if (j->r == 0 && p->obs.sandbox_present && !p->obs.sandbox_busy) {
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: the sandbox drifted from its spec; repairing",
                  p->name);
        p->obs.sandbox_healthy = false;
      }
      break;
    case JOB_START:
      start_done(d, p, j);
      break;
    case JOB_REAP: {
      struct container_rec *c = ctr_find(p, j->container);
      if (c == NULL)
        break;
      if (j->r < 0) {
        tank_error_freep(&j->err);
        /* Its workload was reparented to tankd (the subreaper) when the shim
         * died, and has been killed since: reap it. */
        if (c->pid > 0)
          waitpid(c->pid, NULL, WNOHANG);
        j->exit = (struct machine_exit){ .exit_code = 137, .signal = SIGKILL };
        j->exit.error = xstrdup("tank-shim died without recording an exit; the container was "
                                "killed");
      }
      apply_exit(p, c, &j->exit);
      tankd_log(d, LOG_INFO_LEVEL, "pod %s: container %s exited (code %d, signal %d%s)", p->name,
                c->name, c->obs.exit_code, c->obs.signal, c->obs.oom_killed ? ", OOM-killed" : "");
      break;
    }
    case JOB_REMOVE:
      break;
    case JOB_LIMITS: {
      struct container_rec *c = ctr_find(p, j->container);
      if (c == NULL)
        break;
      c->limits_busy = false;
      if (j->r < 0) {
        tankd_log(d, LOG_WARN_LEVEL, "pod %s: container %s: %s", p->name, c->name, j->err->msg);
        pod_set_error(d, p, j->err->msg);
      }
      /* Recorded as applied either way: a failure is reported and retried by a restart. */
      for (size_t i = 0; c->started_pod && i < c->started_pod->n_containers; i++)
        if (strcmp(c->started_pod->containers[i].name, c->name) == 0)
          c->started_pod->containers[i].limits = j->pod->containers[j->index].limits;
      break;
    }
  }
  tjob_free(j);
  pod_mark_dirty(d, p);
  d->jobs_since_trim++;
  execute_trim_when_idle(d, 16);
}

/* ---- actions -------------------------------------------------------------------- */

static void
stop_container(struct tankd *d, struct pod_rec *p, struct container_rec *c)
{
  c->stop_requested = true;
  if (c->obs.state == CTR_RUNNING && c->shim_pidfd >= 0) {
    c->obs.state = CTR_STOPPING;
    if (pidfd_send_signal(c->shim_pidfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
      tankd_log(d, LOG_WARN_LEVEL, "pod %s: stop %s: %s", p->name, c->name, strerror(errno));
  }
  /* STARTING: signalled as soon as the start completes (start_done). */
}

void
execute_plan(struct tankd *d, struct pod_rec *p)
{
  for (size_t i = 0; i < p->plan.n_actions; i++) {
    const struct plan_action *a = &p->plan.actions[i];
    struct container_rec *c = a->container ? ctr_get(p, a->container) : NULL;
    struct tjob *j;
    switch (a->kind) {
      case PLAN_PULL_IMAGE: {
        const char *image = p->desired->containers[a->index].image;
        if (strv_has(d->pulling, d->n_pulling, image))
          break;
        strv_add(&d->pulling, &d->n_pulling, image);
        p->obs.pulling = true;
        j = tjob_new(d, JOB_PULL, NULL);
        j->image = xstrdup(image);
        submit(d, j);
        break;
      }
      case PLAN_CREATE_SANDBOX:
        p->obs.sandbox_busy = true;
        j = tjob_new(d, JOB_SANDBOX_CREATE, p);
        j->pod = clone_or_die(p->desired);
        submit(d, j);
        break;
      case PLAN_REPAIR_NETWORK:
        p->obs.sandbox_busy = true;
        j = tjob_new(d, JOB_SANDBOX_REPAIR, p);
        j->pod = clone_or_die(p->desired);
        submit(d, j);
        break;
      case PLAN_DESTROY_SANDBOX:
        p->obs.sandbox_busy = true;
        j = tjob_new(d, JOB_SANDBOX_DESTROY, p);
        j->flag = p->desired == NULL;
        submit(d, j);
        break;
      case PLAN_START_CONTAINER:
        j = tjob_new(d, JOB_START, p);
        j->container = xstrdup(c->name);
        j->pod = clone_or_die(p->desired);
        j->index = a->index;
        j->rec.restarts = c->obs.restarts + (c->obs.state == CTR_EXITED ? 1 : 0);
        j->rec.failures = c->obs.failures;
        j->rec.pod = j->pod;
        c->obs.state = CTR_STARTING;
        submit(d, j);
        break;
      case PLAN_STOP_CONTAINER:
        stop_container(d, p, c);
        break;
      case PLAN_REMOVE_CONTAINER:
        j = tjob_new(d, JOB_REMOVE, p);
        j->container = xstrdup(c->name);
        submit(d, j);
        c->obs = (struct observed_container){ .state = CTR_ABSENT,
                                              .restarts = c->obs.restarts,
                                              .failures = c->obs.failures };
        ctr_set_started(c, NULL);
        free(c->error);
        c->error = NULL;
        break;
      case PLAN_UPDATE_LIMITS:
        if (c->limits_busy)
          break;
        c->limits_busy = true;
        j = tjob_new(d, JOB_LIMITS, p);
        j->container = xstrdup(c->name);
        j->pod = clone_or_die(p->desired);
        j->index = a->index;
        submit(d, j);
        break;
      case PLAN_SCHEDULE_RESTART:
        c->obs.next_restart_at_ms = a->at_ms;
        break;
    }
  }
}

unsigned
execute_restart(struct tankd *d, struct pod_rec *p)
{
  unsigned n = 0;
  for (size_t i = 0; i < p->n_containers; i++) {
    struct container_rec *c = &p->containers[i];
    if (!ctr_desired(p, c->name))
      continue;
    switch (c->obs.state) {
      case CTR_RUNNING:
      case CTR_STARTING:
        c->restart_requested = true;
        stop_container(d, p, c);
        n++;
        break;
      case CTR_EXITED:
        c->obs
            = (struct observed_container){ .state = CTR_ABSENT, .restarts = c->obs.restarts + 1 };
        ctr_set_started(c, NULL);
        free(c->error);
        c->error = NULL;
        n++;
        break;
      case CTR_STOPPING:
        c->restart_requested = true;
        n++;
        break;
      case CTR_ABSENT:
        break;
    }
  }
  pod_clear_error(p);
  pod_mark_dirty(d, p);
  return n;
}

/* Drift: each sandbox checked against its spec, each container's limits re-applied. */
void
execute_check_all(struct tankd *d)
{
  for (struct pod_rec *p = d->pods; p; p = p->next) {
    if (p->desired == NULL || p->checking || !p->obs.sandbox_present || p->obs.sandbox_busy)
      continue;
    p->checking = true;
    struct tjob *j = tjob_new(d, JOB_SANDBOX_CHECK, p);
    j->pod = clone_or_die(p->desired);
    /* The running containers' specs, for their limits. */
    struct spec_pod *running = clone_or_die(p->desired);
    size_t n = 0;
    for (size_t i = 0; i < running->n_containers; i++) {
      struct container_rec *c = ctr_find(p, running->containers[i].name);
      if (c && c->obs.state == CTR_RUNNING && c->obs.started_with && !c->limits_busy)
        running->containers[i].limits = c->obs.started_with->limits;
      else
        continue;
      if (n != i) {
        struct spec_container tmp = running->containers[n];
        running->containers[n] = running->containers[i];
        running->containers[i] = tmp;
      }
      n++;
    }
    /* Only the first n are re-applied; the rest stay owned by the copy. */
    j->limits_pod = running;
    j->n_limits = n;
    submit(d, j);
  }
}

/* ---- adoption ------------------------------------------------------------------- */

void
execute_adopt(struct tankd *d)
{
  struct machine_found_pod *found;
  size_t n;
  tank_error *err = NULL;
  if (machine_scan(&d->machine, &found, &n, &err) < 0) {
    tankd_log(d, LOG_WARN_LEVEL, "adopt: %s", err->msg);
    tank_error_free(err);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    struct machine_found_pod *fp = &found[i];
    struct pod_rec *p = pod_get_or_add(d, fp->name);
    p->obs.sandbox_present = fp->sandbox;
    p->obs.sandbox_healthy = fp->sandbox;
    p->sandbox_pod = fp->sandbox_pod;
    p->obs.sandbox_built_with = fp->sandbox_pod;
    fp->sandbox_pod = NULL;
    unsigned running = 0, exited = 0;
    for (size_t k = 0; k < fp->n_containers; k++) {
      struct machine_found_container *fc = &fp->containers[k];
      struct container_rec *c = ctr_get(p, fc->name);
      c->obs.restarts = fc->rec.restarts;
      c->obs.failures = fc->rec.failures;
      ctr_set_started(c, fc->rec.pod);
      fc->rec.pod = NULL;
      if (fc->exited) {
        apply_exit(p, c, &fc->exit);
        exited++;
      } else if (fc->shim_pid > 0 && watch_shim(d, p, c, fc->shim_pid, fc->shim_start_time) == 0) {
        c->obs.state = CTR_RUNNING;
        c->obs.started_at_ms = fc->started_at_ms;
        c->pid = fc->pid;
        running++;
      } else {
        reap(d, p, c); /* the shim is gone without an exit file */
        exited++;
      }
    }
    tankd_log(d, LOG_INFO_LEVEL, "adopted pod %s%s: %u running, %u exited%s", p->name,
              fp->sandbox ? " (sandbox)" : "", running, exited,
              p->desired ? "" : "; no longer desired, cleaning up");
    pod_mark_dirty(d, p);
  }
  machine_found_free(found, n);
}

/* ---- lifetime ------------------------------------------------------------------- */

/* A helper binary: $env, else beside tankd, else under /usr/libexec/tank. */
static char *
find_helper(const char *env_name, const char *name, const char *fallback)
{
  const char *env = getenv(env_name);
  if (env && *env)
    return xstrdup(env);
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 32);
  if (len > 0) {
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      snprintf(slash + 1, 32, "%s", name);
      if (access(self, X_OK) == 0)
        return xstrdup(self);
    }
  }
  return xstrdup(fallback);
}

int
execute_start(struct tankd *d, tank_error **err)
{
  /* Shims detach by double fork; as their subreaper tankd reaps them itself
   * (by pidfd, in reap()), whatever init does about orphans. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
    return tank_error_set(err, errno, "PR_SET_CHILD_SUBREAPER");
  d->shim_path = find_helper("TANK_SHIM", "tank-shim", "/usr/libexec/tank/tank-shim");
  d->tank_path = find_helper("TANK_CLI", "tank-cli", "/usr/libexec/tank/tank-cli");
  d->machine = (struct machine){
    .data_dir = d->cfg.data_dir,
    .run_dir = d->cfg.run_dir,
    .cgroup_fs = CGROUP_FS,
    .cgroup_root = d->cfg.cgroup_root,
    .shim_path = d->shim_path,
    .tank_path = d->tank_path,
    .offline = d->cfg.offline,
    .sandbox = { .run_dir = d->cfg.run_dir, .host = { .uplink = d->cfg.uplink } },
  };
  /* Pulls run in children: their threads only wait. Two malloc arenas are
   * plenty for this little contention and keep tankd's memory small. */
  mallopt(M_ARENA_MAX, 2);
  /* Fixed thresholds (no dynamic raise): big buffers such as a 200-pod listing
   * are mapped and unmapped rather than left in the heap after use. */
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  const unsigned threads[JOB_POOL_COUNT] = { [JOB_POOL_PULL] = 2, [JOB_POOL_RUN] = 4 };
  return job_pools_new(d->event, threads, &d->jobs, err);
}

void
execute_stop(struct tankd *d)
{
  d->cancel = 1;
  d->jobs = job_pools_free(d->jobs);
  strv_free(d->ready_images);
  strv_free(d->pulling);
  d->ready_images = d->pulling = NULL;
  d->n_ready_images = d->n_pulling = 0;
  free(d->shim_path);
  free(d->tank_path);
  d->shim_path = d->tank_path = NULL;
}
