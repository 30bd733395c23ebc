/* The reconcile planner. Level-triggered: it looks only at what is desired and
 * what is observed now, never at the events that led here, so running it again
 * after any wake-up (watch, exit, timer, resync) is always safe. */
#include "reconcile/plan.h"

#include <stdio.h>
#include <string.h>

#include "reconcile/backoff.h"

static void
add(struct plan *p, enum plan_action_kind kind, const char *container, size_t index, int64_t at_ms)
{
  if (p->n_actions < PLAN_MAX_ACTIONS)
    p->actions[p->n_actions++] = (struct plan_action){ kind, container, index, at_ms };
}

static void
wake(struct plan *p, int64_t at_ms)
{
  if (at_ms > 0 && (p->wake_at_ms == 0 || at_ms < p->wake_at_ms))
    p->wake_at_ms = at_ms;
}

bool
restart_wanted(enum spec_restart r, int exit_code, int signal, bool oom_killed)
{
  switch (r) {
    case SPEC_RESTART_ALWAYS:
      return true;
    case SPEC_RESTART_ON_FAILURE:
      return exit_code != 0 || signal != 0 || oom_killed;
    case SPEC_RESTART_NEVER:
      return false;
  }
  return false;
}

static bool
str_eq(const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The sandbox depends on the pod's name (hostname) and network only. */
static bool
sandbox_matches(const struct spec_pod *want, const struct spec_pod *built)
{
  if (built == NULL)
    return true; /* adopted without a record: trust it */
  struct spec_pod a = { .name = want->name, .network = want->network };
  struct spec_pod b = { .name = built->name, .network = built->network };
  return spec_pod_equal(&a, &b);
}

enum ctr_change {
  CHANGE_NONE,
  CHANGE_LIMITS, /* only cgroup limits: applied in place */
  CHANGE_RESTART,
};

static enum ctr_change
container_change(const struct spec_container *want, const struct spec_container *had)
{
  if (had == NULL)
    return CHANGE_NONE;
  struct spec_container a = *want, b = *had;
  a.limits = b.limits = (struct spec_limits){ 0 };
  /* The stop timeout and signal only matter when stopping: no restart for them. */
  a.stop_timeout_ms = b.stop_timeout_ms = 0;
  a.stop_signal = b.stop_signal = 0;
  struct spec_pod pa = { .containers = &a, .n_containers = 1 };
  struct spec_pod pb = { .containers = &b, .n_containers = 1 };
  if (!spec_pod_equal(&pa, &pb))
    return CHANGE_RESTART;
  if (memcmp(&want->limits, &had->limits, sizeof want->limits) != 0)
    return CHANGE_LIMITS;
  return CHANGE_NONE;
}

static const struct observed_container *
find_observed(const struct observed_pod *o, const char *name)
{
  for (size_t i = 0; o && i < o->n_containers; i++)
    if (str_eq(o->containers[i].name, name))
      return &o->containers[i];
  return NULL;
}

static bool
is_live(const struct observed_container *c)
{
  return c->state == CTR_STARTING || c->state == CTR_RUNNING || c->state == CTR_STOPPING;
}

/* Stops every live container; returns whether none is live any more. */
static bool
stop_all(const struct observed_pod *o, struct plan *p)
{
  bool quiet = true;
  for (size_t i = 0; o && i < o->n_containers; i++) {
    const struct observed_container *c = &o->containers[i];
    if (c->state == CTR_RUNNING || c->state == CTR_STARTING)
      add(p, PLAN_STOP_CONTAINER, c->name, 0, 0);
    quiet &= !is_live(c);
  }
  return quiet;
}

static void
plan_delete(const struct observed_pod *o, struct plan *p)
{
  p->phase = POD_DELETING;
  snprintf(p->message, sizeof p->message, "deleting");
  if (o == NULL)
    return;
  if (!stop_all(o, p))
    return;
  for (size_t i = 0; i < o->n_containers; i++)
    if (o->containers[i].state == CTR_EXITED)
      add(p, PLAN_REMOVE_CONTAINER, o->containers[i].name, 0, 0);
  if (o->sandbox_present && !o->sandbox_busy)
    add(p, PLAN_DESTROY_SANDBOX, NULL, 0, 0);
}

static const char *
describe_exit(const struct observed_container *c, char *buf, size_t len)
{
  if (c->error)
    snprintf(buf, len, "%s", c->error);
  else if (c->oom_killed)
    snprintf(buf, len, "OOM-killed");
  else if (c->signal)
    snprintf(buf, len, "killed by %s",
             spec_signal_name(c->signal) ? spec_signal_name(c->signal) : "a signal");
  else
    snprintf(buf, len, "exited with %d", c->exit_code);
  return buf;
}

void
plan_pod(const struct spec_pod *desired, const struct observed_pod *o, int64_t now_ms,
         double random01, struct plan *p)
{
  memset(p, 0, sizeof *p);
  if (desired == NULL) {
    plan_delete(o, p);
    return;
  }
  static const struct observed_pod none = { 0 };
  if (o == NULL)
    o = &none;

  /* Containers no longer in the spec go first. */
  for (size_t i = 0; i < o->n_containers; i++) {
    const struct observed_container *c = &o->containers[i];
    bool wanted = false;
    for (size_t j = 0; j < desired->n_containers && !wanted; j++)
      wanted = str_eq(desired->containers[j].name, c->name);
    if (wanted)
      continue;
    if (c->state == CTR_RUNNING || c->state == CTR_STARTING)
      add(p, PLAN_STOP_CONTAINER, c->name, 0, 0);
    else if (c->state == CTR_EXITED)
      add(p, PLAN_REMOVE_CONTAINER, c->name, 0, 0);
  }

  /* A sandbox whose network no longer matches the spec is rebuilt: stop the
   * containers, destroy it, and the next round creates it afresh. */
  if (o->sandbox_present && !sandbox_matches(desired, o->sandbox_built_with)) {
    p->phase = POD_STARTING;
    snprintf(p->message, sizeof p->message, "rebuilding the sandbox: its network changed");
    if (stop_all(o, p) && !o->sandbox_busy) {
      /* Removed, not exited: they start afresh in the new sandbox, without backoff. */
      for (size_t i = 0; i < o->n_containers; i++)
        if (o->containers[i].state == CTR_EXITED)
          add(p, PLAN_REMOVE_CONTAINER, o->containers[i].name, 0, 0);
      add(p, PLAN_DESTROY_SANDBOX, NULL, 0, 0);
    }
    return;
  }
  bool sandbox_ready = o->sandbox_present && !o->sandbox_busy;
  if (sandbox_ready && !o->sandbox_healthy)
    add(p, PLAN_REPAIR_NETWORK, NULL, 0, 0);

  bool failed_pod_level = o->error && now_ms < o->retry_at_ms;
  if (failed_pod_level)
    wake(p, o->retry_at_ms);

  size_t running = 0, terminal = 0, backing_off = 0, starting = 0, need_image = 0;
  const char *backoff_name = NULL;
  int64_t backoff_at = 0;
  char why[160] = "";
  for (size_t i = 0; i < desired->n_containers; i++) {
    const struct spec_container *want = &desired->containers[i];
    const struct observed_container *c = find_observed(o, want->name);
    enum ctr_state state = c ? c->state : CTR_ABSENT;
    bool image_ready = c && c->image_ready;
    /* May this container be started now, image and sandbox permitting? */
    bool start_due = false;

    switch (state) {
      case CTR_ABSENT:
        start_due = true;
        break;
      case CTR_STARTING:
      case CTR_STOPPING:
        starting++;
        break;
      case CTR_RUNNING:
        switch (container_change(want, c->started_with)) {
          case CHANGE_RESTART:
            add(p, PLAN_STOP_CONTAINER, want->name, i, 0);
            starting++;
            break;
          case CHANGE_LIMITS:
            add(p, PLAN_UPDATE_LIMITS, want->name, i, 0);
            running++;
            break;
          case CHANGE_NONE:
            running++;
            break;
        }
        break;
      case CTR_EXITED:
        if (container_change(want, c->started_with) == CHANGE_RESTART) {
          start_due = true; /* a new spec starts at once, whatever the last run did */
        } else if (!restart_wanted(desired->restart, c->exit_code, c->signal, c->oom_killed)
                   && c->error == NULL) {
          terminal++;
        } else if (c->next_restart_at_ms == 0 || now_ms < c->next_restart_at_ms) {
          int64_t at = c->next_restart_at_ms;
          if (at == 0) {
            unsigned step = c->failures ? c->failures - 1 : 0;
            at = c->finished_at_ms + (int64_t)backoff_delay_ms(&desired->backoff, step, random01);
            add(p, PLAN_SCHEDULE_RESTART, want->name, i, at);
          }
          wake(p, at);
          backing_off++;
          if (backoff_name == NULL || at < backoff_at) {
            backoff_name = want->name;
            backoff_at = at;
            describe_exit(c, why, sizeof why);
          }
        } else {
          start_due = true;
        }
        break;
    }
    if (!start_due)
      continue;
    starting++;
    if (!image_ready) {
      need_image++;
      if (!o->pulling && !failed_pod_level)
        add(p, PLAN_PULL_IMAGE, want->name, i, 0);
    } else if (sandbox_ready && !failed_pod_level) {
      add(p, PLAN_START_CONTAINER, want->name, i, 0);
    }
  }

  /* Images first, then the sandbox (DESIGN.md §2), and only if something will run in it. */
  if (!o->sandbox_present && !o->sandbox_busy && need_image == 0 && !failed_pod_level
      && starting > 0)
    add(p, PLAN_CREATE_SANDBOX, NULL, 0, 0);

  if (failed_pod_level) {
    p->phase = POD_FAILED;
    snprintf(p->message, sizeof p->message, "%s", o->error);
  } else if (backing_off) {
    p->phase = POD_BACKING_OFF;
    snprintf(p->message, sizeof p->message, "container %s %s; restarting in %lldms", backoff_name,
             why, (long long)(backoff_at > now_ms ? backoff_at - now_ms : 0));
  } else if (need_image) {
    p->phase = POD_PULLING;
    snprintf(p->message, sizeof p->message, "pulling %zu image%s", need_image,
             need_image == 1 ? "" : "s");
  } else if (starting) {
    p->phase = running || o->sandbox_present || o->sandbox_busy ? POD_STARTING : POD_PENDING;
  } else if (running) {
    p->phase = POD_RUNNING;
  } else {
    p->phase = POD_TERMINAL;
    const struct observed_container *c = find_observed(o, desired->containers[0].name);
    if (c)
      describe_exit(c, p->message, sizeof p->message);
  }
}

const char *
pod_phase_name(enum pod_phase ph)
{
  static const char *const names[] = { "pending",     "pulling",  "starting", "running",
                                       "backing_off", "terminal", "failed",   "deleting" };
  return names[ph];
}

const char *
ctr_state_name(enum ctr_state s)
{
  static const char *const names[] = { "absent", "starting", "running", "stopping", "exited" };
  return names[s];
}

const char *
plan_action_name(enum plan_action_kind k)
{
  static const char *const names[]
      = { "pull", "create-sandbox", "repair-network", "destroy-sandbox", "start",
          "stop", "remove",         "update-limits",  "schedule-restart" };
  return names[k];
}
