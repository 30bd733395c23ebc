/* The WAL flusher thread (see flusher.h). fdatasync on our own read-only fd
 * of the WAL persists what SQLite wrote through its fd: the page cache is per
 * file. A sync racing a writer is safe: WAL frames carry chained checksums,
 * so recovery keeps a prefix of whole commits. */
#include "store/flusher.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct wal_flusher {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool dirty, stop;
  int wal_fd;
  int interval_ms;
};

static void *
flusher_main(void *arg)
{
  struct wal_flusher *f = arg;
  pthread_mutex_lock(&f->lock);
  for (;;) {
    while (!f->dirty && !f->stop)
      pthread_cond_wait(&f->cond, &f->lock);
    if (f->stop)
      break;
    /* Gather the commits of the next interval into one sync. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)f->interval_ms * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    while (!f->stop && pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
      ;
    f->dirty = false;
    pthread_mutex_unlock(&f->lock);
    fdatasync(f->wal_fd);
    pthread_mutex_lock(&f->lock);
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

int
wal_flusher_start(const char *wal_path, int interval_ms, struct wal_flusher **ret, tank_error **err)
{
  struct wal_flusher *f = calloc(1, sizeof *f);
  if (f == NULL)
    return tank_error_set(err, ENOMEM, "WAL flusher");
  f->interval_ms = interval_ms;
  f->wal_fd = open(wal_path, O_RDONLY | O_CLOEXEC);
  if (f->wal_fd < 0) {
    int r = tank_error_set(err, errno, "open WAL `%s` for flushing", wal_path);
    free(f);
    return r;
  }
  pthread_mutex_init(&f->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->cond, &ca);
  pthread_condattr_destroy(&ca);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old); /* signals belong to the caller's loop */
  int r = pthread_create(&f->thread, NULL, flusher_main, f);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    close(f->wal_fd);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return tank_error_set(err, r, "start WAL flusher");
  }
  *ret = f;
  return 0;
}

void
wal_flusher_dirty(struct wal_flusher *f)
{
  pthread_mutex_lock(&f->lock);
  if (!f->dirty) {
    f->dirty = true;
    pthread_cond_signal(&f->cond);
  }
  pthread_mutex_unlock(&f->lock);
}

void
wal_flusher_stop(struct wal_flusher *f)
{
  if (f == NULL)
    return;
  pthread_mutex_lock(&f->lock);
  f->stop = true;
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->thread, NULL);
  fdatasync(f->wal_fd);
  close(f->wal_fd);
  pthread_cond_destroy(&f->cond);
  pthread_mutex_destroy(&f->lock);
  free(f);
}
