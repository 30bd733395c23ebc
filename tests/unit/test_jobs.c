/* tankd's worker pools: completions come back on the loop thread in order, a
 * blocked pull pool never holds up the run pool, shutdown discards what is queued. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/jobs.h"
#include "daemon/machine.h"

struct tjob {
  struct job job;
  int id;
  pthread_t ran_on;
  int *log;
  size_t *n_log;
  sd_event *event;
  size_t exit_after;
  volatile int *gate; /* run blocks while *gate == 0 */
  int *discarded;
};

static void
run(struct job *job)
{
  struct tjob *j = (struct tjob *)job;
  j->ran_on = pthread_self();
  while (j->gate && *j->gate == 0)
    usleep(1000);
}

static void
done(struct job *job)
{
  struct tjob *j = (struct tjob *)job;
  j->log[(*j->n_log)++] = j->id;
  if (*j->n_log == j->exit_after)
    sd_event_exit(j->event, 0);
  free(j);
}

static void
discard(struct job *job)
{
  struct tjob *j = (struct tjob *)job;
  if (j->discarded)
    (*j->discarded)++;
  free(j);
}

static struct tjob *
new_job(int id, int *log, size_t *n_log, sd_event *e, size_t exit_after)
{
  struct tjob *j = calloc(1, sizeof *j);
  j->job = (struct job){ .run = run, .done = done, .discard = discard };
  j->id = id;
  j->log = log;
  j->n_log = n_log;
  j->event = e;
  j->exit_after = exit_after;
  return j;
}

static void
test_completions_on_the_loop(void **state)
{
  sd_event *e = NULL;
  assert_int_equal(sd_event_new(&e), 0);
  struct job_pools *p = NULL;
  const unsigned threads[JOB_POOL_COUNT] = { 1, 1 };
  assert_int_equal(job_pools_new(e, threads, &p, NULL), 0);
  int log[50];
  size_t n = 0;
  for (int i = 0; i < 50; i++)
    job_submit(p, JOB_POOL_RUN, &new_job(i, log, &n, e, 50)->job);
  assert_int_equal(sd_event_loop(e), 0);
  assert_int_equal(n, 50);
  for (int i = 0; i < 50; i++) /* one worker: in submission order */
    assert_int_equal(log[i], i);
  assert_int_equal(job_pools_pending(p, JOB_POOL_RUN), 0);
  job_pools_free(p);
  sd_event_unref(e);
}

static void
test_hung_pull_does_not_block_starts(void **state)
{
  sd_event *e = NULL;
  assert_int_equal(sd_event_new(&e), 0);
  struct job_pools *p = NULL;
  const unsigned threads[JOB_POOL_COUNT] = { 1, 2 };
  assert_int_equal(job_pools_new(e, threads, &p, NULL), 0);
  int log[10];
  size_t n = 0;
  volatile int gate = 0;
  struct tjob *pull = new_job(100, log, &n, e, 5);
  pull->gate = &gate;
  int discarded = 0;
  pull->discarded = &discarded;
  job_submit(p, JOB_POOL_PULL, &pull->job);
  struct tjob *queued_pull = new_job(101, log, &n, e, 5);
  queued_pull->discarded = &discarded;
  job_submit(p, JOB_POOL_PULL, &queued_pull->job);
  for (int i = 0; i < 4; i++)
    job_submit(p, JOB_POOL_RUN, &new_job(i, log, &n, e, 4)->job);
  assert_int_equal(sd_event_loop(e), 0);
  assert_int_equal(n, 4); /* every start completed while the pull hangs */
  for (size_t i = 0; i < n; i++)
    assert_true(log[i] < 100);
  assert_int_equal(job_pools_pending(p, JOB_POOL_PULL), 2);
  gate = 1;
  /* Shutdown: the running pull finishes, then both pulls are discarded undone. */
  job_pools_free(p);
  assert_int_equal(discarded, 2);
  sd_event_unref(e);
}

static void
test_parse_time(void **state)
{
  assert_int_equal(machine_parse_time("1970-01-01T00:00:01Z"), 1000);
  assert_int_equal(machine_parse_time("2026-11-30T03:48:06.853123456Z"), 1796010486853LL);
  assert_int_equal(machine_parse_time("1970-01-01T00:00:00.5Z"), 500);
  assert_int_equal(machine_parse_time("garbage"), 0);
  assert_int_equal(machine_parse_time(NULL), 0);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_completions_on_the_loop),
    cmocka_unit_test(test_hung_pull_does_not_block_starts),
    cmocka_unit_test(test_parse_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
