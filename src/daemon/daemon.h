/* tankd's state: the event loop, the store, the API server, and one record per
 * pod holding its desired spec, what has been observed of it, and its status. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "api/http.h"
#include "daemon/config.h"
#include "daemon/jobs.h"
#include "daemon/machine.h"
#include "reconcile/plan.h"
#include "spec/spec.h"
#include "store/store.h"

#define TANKD_MAX_PODS 10000
#define TANKD_MAX_BODY (1024 * 1024)

struct container_rec {
  char *name;
  struct observed_container obs;
  struct spec_pod *started_pod; /* owns obs.started_with (the pod spec of that start) */
  char *error;                  /* owns obs.error */
  int pid;
  pid_t shim_pid;
  int shim_pidfd; /* -1 when no shim is watched */
  sd_event_source *shim_exit;
  bool stop_requested;    /* we stopped it: its exit is no failure */
  bool restart_requested; /* tank restart: counted, started afresh */
  bool limits_busy;       /* a limits update is in flight */
};

struct pod_rec {
  struct tankd *daemon;
  char *name;
  struct spec_pod *desired; /* NULL once deleted, until torn down */
  int64_t desired_rev;
  struct observed_pod obs;
  struct spec_pod *sandbox_pod; /* owns obs.sandbox_built_with */
  char *error;                  /* owns obs.error */
  struct container_rec *containers;
  size_t n_containers;
  struct plan plan;
  unsigned failures; /* consecutive pod-level failures (pull, sandbox), for the retry backoff */
  unsigned inflight; /* jobs running for this pod: the record stays until they are back */
  bool checking;     /* a drift check is in flight */
  char *status_json; /* the last status written to the store */
  sd_event_source *wake;
  bool dirty;
  struct pod_rec *next;
};

struct tankd {
  struct tankd_config cfg;
  sd_event *event;
  tank_store *store;
  tank_store_watch *watch;
  sd_event_source *watch_source, *resync, *reconcile_soon;
  struct http_server *api;
  int api_fd;
  struct pod_rec *pods;
  size_t n_pods;
  struct job_pools *jobs;
  struct machine machine;
  char *shim_path, *tank_path;
  char **ready_images; /* image references known to be in the cache */
  size_t n_ready_images;
  char **pulling; /* image references with a pull in flight */
  size_t n_pulling;
  volatile int cancel; /* set at shutdown: pulls stop early */
  unsigned jobs_since_trim;
  int64_t last_rev;
  uint64_t started_usec;
};

int tankd_start(struct tankd *d, tank_error **err);
void tankd_stop(struct tankd *d);

/* Pods (pods.c). */
struct pod_rec *pod_find(struct tankd *d, const char *name);
struct pod_rec *pod_get_or_add(struct tankd *d, const char *name);
int pods_load(struct tankd *d, tank_error **err);
void pods_free_all(struct tankd *d);
void pod_mark_dirty(struct tankd *d, struct pod_rec *p);
void pods_reconcile_dirty(struct tankd *d);
json_t *pod_status_json(const struct tankd *d, const struct pod_rec *p);

/* Carrying out plans (execute.c): actions become jobs, jobs and shim exits
 * become observations. */
int execute_start(struct tankd *d, tank_error **err);
void execute_stop(struct tankd *d);
void execute_adopt(struct tankd *d);
void execute_plan(struct tankd *d, struct pod_rec *p);
void execute_check_all(struct tankd *d);
void execute_trim_when_idle(struct tankd *d, unsigned min_jobs);
void execute_refresh_observed(struct tankd *d, struct pod_rec *p);
void container_rec_clear(struct container_rec *c);
/* tank restart: every container of the pod is stopped and started afresh. */
unsigned execute_restart(struct tankd *d, struct pod_rec *p);

/* The API (routes.c). */
void routes_handle(void *userdata, const struct http_request *req, struct http_reply *reply);
/* POST /v1/pods/NAME/exec and /attach: upgraded sessions (sessions.c). */
void api_session(struct tankd *d, struct pod_rec *p, const char *name, bool attach,
                 const struct http_request *req, struct http_reply *reply);

/* Logging, leveled, on stderr (the program logs; the library does not). */
void tankd_log(const struct tankd *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum { LOG_ERR_LEVEL = 0, LOG_WARN_LEVEL, LOG_INFO_LEVEL, LOG_DEBUG_LEVEL };
