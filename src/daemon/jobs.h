/* Work off the loop thread: blocking jobs (pulls, sandboxes, shim starts) run
 * on small thread pools and come back to the sd-event loop, where their
 * completion runs. A pool per kind of work, so a hung pull never holds up the
 * start of another pod's container. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "util/error.h"

struct job;
struct job_pools;

typedef void (*job_fn)(struct job *job);

struct job {
  job_fn run;     /* on a worker thread: blocking work, no access to loop state */
  job_fn done;    /* back on the loop thread; frees the job */
  job_fn discard; /* frees a job dropped unrun or undone at shutdown */
  int pool;       /* set by job_submit */
  struct job *next;
};

enum job_pool_kind {
  JOB_POOL_PULL = 0, /* image pulls: may take minutes */
  JOB_POOL_RUN,      /* sandboxes, shim starts, cleanups: bounded */
  JOB_POOL_COUNT,
};

int job_pools_new(sd_event *event, const unsigned threads[JOB_POOL_COUNT], struct job_pools **ret,
                  tank_error **err);
/* Stops the workers after their current job; queued jobs are dropped (their
 * done is not called: the next tankd starts from what it observes). */
struct job_pools *job_pools_free(struct job_pools *p);

/* Queues job; its done runs on the loop thread after run finished. */
void job_submit(struct job_pools *p, enum job_pool_kind kind, struct job *job);

/* Jobs queued or running, per pool. */
unsigned job_pools_pending(const struct job_pools *p, enum job_pool_kind kind);
