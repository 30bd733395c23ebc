/* The reconcile plan: a pure function of (desired spec, observed state, now)
 * giving the actions that move one pod toward its spec, the pod's status and
 * when to look again. No I/O; the daemon executes the actions at the edges. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"

enum ctr_state {
  CTR_ABSENT = 0, /* never started in this sandbox, or cleaned up */
  CTR_STARTING,   /* a start is in flight */
  CTR_RUNNING,
  CTR_STOPPING, /* a stop is in flight */
  CTR_EXITED,
};

/* What the daemon knows of one container (from its shim's state and exit files). */
struct observed_container {
  const char *name;
  enum ctr_state state;
  const struct spec_container *started_with; /* the spec of the running or last run; NULL if none */
  bool image_ready;                          /* layers present for the desired image */
  int exit_code;                             /* valid when EXITED */
  int signal;                                /* killed by this signal (0: exited) */
  bool oom_killed;
  int64_t started_at_ms, finished_at_ms;
  unsigned restarts;          /* restarts so far (shown to users) */
  unsigned failures;          /* consecutive short runs, for the backoff */
  int64_t next_restart_at_ms; /* the scheduled restart of an EXITED container, 0: none yet */
  const char *error;          /* last start error (stage-tagged), or NULL */
};

struct observed_pod {
  bool sandbox_present;
  bool sandbox_healthy;                      /* links, addresses, routes as the spec says */
  const struct spec_pod *sandbox_built_with; /* the spec the sandbox was built from */
  bool pulling;                              /* some image pull is in flight */
  bool sandbox_busy;                         /* a sandbox create/destroy is in flight */
  /* The last pod-level failure (a pull or the sandbox), retried from retry_at_ms. */
  const char *error;
  int64_t retry_at_ms;
  struct observed_container *containers;
  size_t n_containers;
};

enum plan_action_kind {
  PLAN_PULL_IMAGE,       /* container: pull its image */
  PLAN_CREATE_SANDBOX,   /* namespaces, network, /etc files, pod cgroup */
  PLAN_REPAIR_NETWORK,   /* re-apply the pod's network inside its existing netns (drift) */
  PLAN_DESTROY_SANDBOX,  /* after every container is stopped */
  PLAN_START_CONTAINER,  /* container index in desired */
  PLAN_STOP_CONTAINER,   /* container name: stop signal, grace, kill; then clean up */
  PLAN_REMOVE_CONTAINER, /* an exited container no longer desired: clean up its files */
  PLAN_UPDATE_LIMITS,    /* container index: apply new cgroup limits in place */
  PLAN_SCHEDULE_RESTART, /* container name: record next_restart_at_ms = at_ms */
};

struct plan_action {
  enum plan_action_kind kind;
  const char *container; /* name, for container actions */
  size_t index;          /* index in desired->containers, when desired */
  int64_t at_ms;         /* PLAN_SCHEDULE_RESTART */
};

enum pod_phase {
  POD_PENDING,
  POD_PULLING,
  POD_STARTING,
  POD_RUNNING,
  POD_BACKING_OFF,
  POD_TERMINAL,
  POD_FAILED,
  POD_DELETING,
};

#define PLAN_MAX_ACTIONS 64

struct plan {
  struct plan_action actions[PLAN_MAX_ACTIONS];
  size_t n_actions;
  enum pod_phase phase;
  char message[256];
  int64_t wake_at_ms; /* earliest time the plan may change by itself; 0: none */
};

/* desired NULL: the pod was deleted. observed NULL: nothing exists for it.
 * random01 in [0, 1) chooses backoff jitter. */
void plan_pod(const struct spec_pod *desired, const struct observed_pod *observed, int64_t now_ms,
              double random01, struct plan *ret);

const char *pod_phase_name(enum pod_phase p);
const char *ctr_state_name(enum ctr_state s);
const char *plan_action_name(enum plan_action_kind k);

/* Whether a container that exited must be restarted under policy r. */
bool restart_wanted(enum spec_restart r, int exit_code, int signal, bool oom_killed);
