/* Thread pools for tankd's blocking work, with completions handed back to the
 * event loop through an eventfd. */
#include "daemon/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/cleanup.h"

struct pool {
  struct job_pools *owner;
  pthread_cond_t wake;
  pthread_t *threads;
  unsigned n_threads;
  struct job *head, *tail; /* queued */
  unsigned pending;        /* queued + running */
};

struct job_pools {
  pthread_mutex_t lock;
  bool stopping;
  struct pool pools[JOB_POOL_COUNT];
  struct job *finished; /* LIFO; reversed when drained */
  int efd;
  sd_event_source *source;
};

static void *
worker(void *arg)
{
  struct pool *pool = arg;
  struct job_pools *p = pool->owner;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stopping && pool->head == NULL)
      pthread_cond_wait(&pool->wake, &p->lock);
    if (p->stopping)
      break;
    struct job *job = pool->head;
    pool->head = job->next;
    if (pool->head == NULL)
      pool->tail = NULL;
    pthread_mutex_unlock(&p->lock);

    job->run(job);

    pthread_mutex_lock(&p->lock);
    job->next = p->finished;
    p->finished = job;
    uint64_t one = 1;
    if (write(p->efd, &one, sizeof one) < 0) {
      /* the counter cannot overflow in practice; the loop drains on its next wake-up */
    }
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static int
on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  struct job_pools *p = userdata;
  uint64_t n;
  if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
    return 0;
  pthread_mutex_lock(&p->lock);
  struct job *list = p->finished;
  p->finished = NULL;
  pthread_mutex_unlock(&p->lock);
  struct job *ordered = NULL;
  while (list) {
    struct job *next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    struct job *next = ordered->next;
    pthread_mutex_lock(&p->lock);
    p->pools[ordered->pool].pending--;
    pthread_mutex_unlock(&p->lock);
    ordered->done(ordered);
    ordered = next;
  }
  return 0;
}

int
job_pools_new(sd_event *event, const unsigned threads[JOB_POOL_COUNT], struct job_pools **ret,
              tank_error **err)
{
  struct job_pools *p = calloc(1, sizeof *p);
  if (p == NULL)
    return tank_error_set(err, ENOMEM, "job pools");
  pthread_mutex_init(&p->lock, NULL);
  for (int k = 0; k < JOB_POOL_COUNT; k++)
    pthread_cond_init(&p->pools[k].wake, NULL);
  p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int r;
  if (p->efd < 0) {
    r = tank_error_set(err, errno, "eventfd");
    job_pools_free(p);
    return r;
  }
  if ((r = sd_event_add_io(event, &p->source, p->efd, EPOLLIN, on_finished, p)) < 0) {
    r = tank_error_set(err, -r, "job pools: add to the event loop");
    job_pools_free(p);
    return r;
  }
  for (int k = 0; k < JOB_POOL_COUNT; k++) {
    struct pool *pool = &p->pools[k];
    pool->owner = p;
    pool->threads = calloc(threads[k], sizeof *pool->threads);
    if (pool->threads == NULL)
      abort();
    for (unsigned i = 0; i < threads[k]; i++) {
      if ((r = pthread_create(&pool->threads[i], NULL, worker, pool)) != 0) {
        r = tank_error_set(err, r, "start a worker thread");
        job_pools_free(p);
        return r;
      }
      pool->n_threads++;
    }
  }
  *ret = p;
  return 0;
}

static void
free_list(struct job *j)
{
  while (j) {
    struct job *next = j->next;
    j->discard(j);
    j = next;
  }
}

struct job_pools *
job_pools_free(struct job_pools *p)
{
  if (p == NULL)
    return NULL;
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  for (int k = 0; k < JOB_POOL_COUNT; k++)
    pthread_cond_broadcast(&p->pools[k].wake);
  pthread_mutex_unlock(&p->lock);
  for (int k = 0; k < JOB_POOL_COUNT; k++) {
    for (unsigned i = 0; i < p->pools[k].n_threads; i++)
      pthread_join(p->pools[k].threads[i], NULL);
    free(p->pools[k].threads);
    free_list(p->pools[k].head);
    pthread_cond_destroy(&p->pools[k].wake);
  }
  free_list(p->finished);
  sd_event_source_disable_unref(p->source);
  if (p->efd >= 0)
    close(p->efd);
  pthread_mutex_destroy(&p->lock);
  free(p);
  return NULL;
}

void
job_submit(struct job_pools *p, enum job_pool_kind kind, struct job *job)
{
  struct pool *pool = &p->pools[kind];
  job->pool = kind;
  job->next = NULL;
  pthread_mutex_lock(&p->lock);
  if (pool->tail)
    pool->tail->next = job;
  else
    pool->head = job;
  pool->tail = job;
  pool->pending++;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&p->lock);
}

unsigned
job_pools_pending(const struct job_pools *p, enum job_pool_kind kind)
{
  return p->pools[kind].pending;
}
