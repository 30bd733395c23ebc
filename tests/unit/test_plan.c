/* The reconcile planner and backoff: pure functions, tested without root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reconcile/backoff.h"
#include "reconcile/plan.h"

static struct spec_pod *
pod_from(const char *yaml)
{
  struct spec_file f;
  if (spec_parse(yaml, strlen(yaml), "t.yaml", SPEC_FORMAT_YAML, &f) < 0) {
    for (size_t i = 0; i < f.n_errors; i++)
      print_message("%s\n", f.errors[i]);
    fail();
  }
  struct spec_pod *p = f.pods[0];
  f.pods[0] = NULL;
  spec_file_free(&f);
  return p;
}

#define WEB                                                                                        \
  "name: web\nrestart: always\ncontainers:\n  - {name: a, image: busybox, command: [sleep, "       \
  "'9']}\n"                                                                                        \
  "  - {name: b, image: busybox}\n"

/* Renders the plan's actions as "kind:container ..." for compact assertions. */
static const char *
actions(const struct plan *p)
{
  static char buf[1024];
  buf[0] = '\0';
  for (size_t i = 0; i < p->n_actions; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof buf - used, "%s%s%s%s", i ? " " : "",
             plan_action_name(p->actions[i].kind), p->actions[i].container ? ":" : "",
             p->actions[i].container ? p->actions[i].container : "");
  }
  return buf;
}

struct world {
  struct spec_pod *pod;
  struct observed_container c[2];
  struct observed_pod o;
};

static void
world_init(struct world *w, const char *yaml)
{
  memset(w, 0, sizeof *w);
  w->pod = pod_from(yaml);
  w->c[0].name = "a";
  w->c[1].name = "b";
  w->o.containers = w->c;
  w->o.n_containers = 2;
}

static void
all_running(struct world *w)
{
  w->o.sandbox_present = w->o.sandbox_healthy = true;
  w->o.sandbox_built_with = w->pod;
  for (int i = 0; i < 2; i++) {
    w->c[i].state = CTR_RUNNING;
    w->c[i].image_ready = true;
    w->c[i].started_with = &w->pod->containers[i];
    w->c[i].started_at_ms = 1000;
  }
}

static void
test_bring_up_sequence(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, WEB);

  plan_pod(w.pod, NULL, 0, 0.5, &p);
  assert_string_equal(actions(&p), "pull:a pull:b");
  assert_int_equal(p.phase, POD_PULLING);

  w.o.pulling = true;
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_PULLING);

  w.o.pulling = false;
  w.c[0].image_ready = w.c[1].image_ready = true;
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "create-sandbox");
  assert_int_equal(p.phase, POD_PENDING);

  w.o.sandbox_busy = true;
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_STARTING);

  w.o.sandbox_busy = false;
  w.o.sandbox_present = w.o.sandbox_healthy = true;
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "start:a start:b");
  assert_int_equal(p.phase, POD_STARTING);

  all_running(&w);
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_RUNNING);
  assert_int_equal(p.wake_at_ms, 0);
  spec_pod_free(w.pod);
}

static void
test_restart_always_with_backoff(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, WEB);
  all_running(&w);
  w.c[1].state = CTR_EXITED;
  w.c[1].exit_code = 0;
  w.c[1].finished_at_ms = 5000;
  w.c[1].failures = 1;

  plan_pod(w.pod, &w.o, 5000, 0.5, &p);
  assert_string_equal(actions(&p), "schedule-restart:b");
  assert_int_equal(p.actions[0].at_ms, 6000); /* 1 s: the first failure */
  assert_int_equal(p.wake_at_ms, 6000);
  assert_int_equal(p.phase, POD_BACKING_OFF);
  assert_string_equal(p.message, "container b exited with 0; restarting in 1000ms");

  w.c[1].next_restart_at_ms = 6000;
  plan_pod(w.pod, &w.o, 5500, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.wake_at_ms, 6000);
  assert_int_equal(p.phase, POD_BACKING_OFF);

  plan_pod(w.pod, &w.o, 6000, 0.5, &p);
  assert_string_equal(actions(&p), "start:b");
  assert_int_equal(p.phase, POD_STARTING);

  /* the fourth consecutive failure waits 8 s */
  w.c[1].next_restart_at_ms = 0;
  w.c[1].failures = 4;
  plan_pod(w.pod, &w.o, 5000, 0.5, &p);
  assert_int_equal(p.actions[0].at_ms, 5000 + 8000);
  spec_pod_free(w.pod);
}

static void
test_restart_policies(void **state)
{
  assert_true(restart_wanted(SPEC_RESTART_ALWAYS, 0, 0, false));
  assert_false(restart_wanted(SPEC_RESTART_ON_FAILURE, 0, 0, false));
  assert_true(restart_wanted(SPEC_RESTART_ON_FAILURE, 3, 0, false));
  assert_true(restart_wanted(SPEC_RESTART_ON_FAILURE, 0, 9, false));
  assert_true(restart_wanted(SPEC_RESTART_ON_FAILURE, 137, 0, true));
  assert_false(restart_wanted(SPEC_RESTART_NEVER, 1, 0, false));

  struct world w;
  struct plan p;
  world_init(&w, "name: job\nrestart: never\ncontainers:\n  - {name: a, image: busybox}\n"
                 "  - {name: b, image: busybox}\n");
  all_running(&w);
  w.c[0].state = w.c[1].state = CTR_EXITED;
  w.c[0].exit_code = 0;
  w.c[1].exit_code = 2;
  plan_pod(w.pod, &w.o, 9000, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_TERMINAL);
  assert_string_equal(p.message, "exited with 0");
  spec_pod_free(w.pod);

  world_init(&w, "name: job\nrestart: on-failure\ncontainers:\n  - {name: a, image: busybox}\n"
                 "  - {name: b, image: busybox}\n");
  all_running(&w);
  w.c[0].state = CTR_EXITED;
  w.c[0].exit_code = 0;
  plan_pod(w.pod, &w.o, 9000, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_RUNNING);
  w.c[1].state = CTR_EXITED;
  w.c[1].signal = 9;
  w.c[1].finished_at_ms = 9000;
  plan_pod(w.pod, &w.o, 9000, 0.5, &p);
  assert_string_equal(actions(&p), "schedule-restart:b");
  assert_string_equal(p.message, "container b killed by SIGKILL; restarting in 1000ms");
  spec_pod_free(w.pod);
}

static void
test_start_failure_backs_off_even_under_never(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, "name: p\nrestart: never\ncontainers:\n  - {name: a, image: busybox}\n");
  w.o.n_containers = 1;
  all_running(&w);
  w.c[0].state = CTR_EXITED;
  w.c[0].exit_code = 127;
  w.c[0].error = "stage=execve errno=ENOENT: /bin/nope";
  w.c[0].finished_at_ms = 100;
  plan_pod(w.pod, &w.o, 100, 0.5, &p);
  assert_string_equal(actions(&p), "schedule-restart:a");
  assert_int_equal(p.phase, POD_BACKING_OFF);
  assert_non_null(strstr(p.message, "stage=execve errno=ENOENT"));
  spec_pod_free(w.pod);
}

static void
test_spec_changes(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, WEB);
  all_running(&w);
  struct spec_pod *v2
      = pod_from("name: web\nrestart: never\ncontainers:\n"
                 "  - {name: a, image: busybox, command: [sleep, '10']}\n"
                 "  - {name: b, image: busybox, limits: {memory: 64Mi}, stop_timeout: 1s}\n");
  w.c[0].image_ready = w.c[1].image_ready = true;
  plan_pod(v2, &w.o, 0, 0.5, &p);
  /* a's command changed: restart it; b only changed limits and stop settings: in place */
  assert_string_equal(actions(&p), "stop:a update-limits:b");
  assert_int_equal(p.phase, POD_STARTING);

  /* a stopped for the update starts again at once, even under restart: never */
  w.c[0].state = CTR_EXITED;
  w.c[0].signal = 15;
  plan_pod(v2, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "start:a update-limits:b");

  /* a network change rebuilds the sandbox: stop all, then destroy */
  struct spec_pod *v3 = pod_from("name: web\nnetwork: host\ncontainers:\n"
                                 "  - {name: a, image: busybox, command: [sleep, '9']}\n"
                                 "  - {name: b, image: busybox}\n");
  all_running(&w);
  plan_pod(v3, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "stop:a stop:b");
  w.c[0].state = CTR_EXITED;
  w.c[1].state = CTR_STOPPING;
  plan_pod(v3, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "");
  w.c[1].state = CTR_EXITED;
  plan_pod(v3, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "remove:a remove:b destroy-sandbox");
  w.o.sandbox_present = false;
  w.c[0].state = w.c[1].state = CTR_ABSENT;
  plan_pod(v3, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "create-sandbox");

  /* a container dropped from the spec is stopped, then removed */
  struct spec_pod *v4 = pod_from("name: web\ncontainers:\n"
                                 "  - {name: a, image: busybox, command: [sleep, '9']}\n");
  all_running(&w);
  plan_pod(v4, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "stop:b");
  w.c[1].state = CTR_EXITED;
  plan_pod(v4, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "remove:b");
  assert_int_equal(p.phase, POD_RUNNING);
  spec_pod_free(v2);
  spec_pod_free(v3);
  spec_pod_free(v4);
  spec_pod_free(w.pod);
}

static void
test_delete(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, WEB);
  all_running(&w);
  plan_pod(NULL, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "stop:a stop:b");
  assert_int_equal(p.phase, POD_DELETING);
  w.c[0].state = CTR_EXITED;
  w.c[1].state = CTR_STOPPING;
  plan_pod(NULL, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "");
  w.c[1].state = CTR_EXITED;
  plan_pod(NULL, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "remove:a remove:b destroy-sandbox");
  plan_pod(NULL, NULL, 0, 0.5, &p);
  assert_int_equal(p.n_actions, 0);
  spec_pod_free(w.pod);
}

static void
test_drift_and_failures(void **state)
{
  struct world w;
  struct plan p;
  world_init(&w, WEB);
  all_running(&w);
  w.o.sandbox_healthy = false;
  plan_pod(w.pod, &w.o, 0, 0.5, &p);
  assert_string_equal(actions(&p), "repair-network");
  spec_pod_free(w.pod);

  /* a pull that failed is retried at retry_at, and the pod says why meanwhile */
  world_init(&w, WEB);
  w.o.error = "pull 127.0.0.1:5000/nope:1: manifest unknown";
  w.o.retry_at_ms = 10000;
  plan_pod(w.pod, &w.o, 2000, 0.5, &p);
  assert_string_equal(actions(&p), "");
  assert_int_equal(p.phase, POD_FAILED);
  assert_string_equal(p.message, "pull 127.0.0.1:5000/nope:1: manifest unknown");
  assert_int_equal(p.wake_at_ms, 10000);
  plan_pod(w.pod, &w.o, 10000, 0.5, &p);
  assert_string_equal(actions(&p), "pull:a pull:b");
  spec_pod_free(w.pod);
}

static void
test_backoff(void **state)
{
  struct spec_backoff b = { 1000, 60000, 60000 };
  uint64_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
  for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
    assert_int_equal(backoff_delay_ms(&b, i, 0.5), want[i]);
  assert_int_equal(backoff_delay_ms(&b, 1000, 0.5), 60000); /* no overflow */
  assert_int_equal(backoff_delay_ms(&b, 0, 0.0), 800);      /* -20 % */
  assert_true(backoff_delay_ms(&b, 0, 0.9999) < 1200);      /* < +20 % */
  assert_true(backoff_delay_ms(&b, 0, 0.9999) >= 1199);
  for (double r = 0; r < 1; r += 0.01) {
    uint64_t d = backoff_delay_ms(&b, 3, r);
    assert_true(d >= 6400 && d < 9600);
  }
  assert_int_equal(backoff_next_step(&b, 3, 59999), 4);
  assert_int_equal(backoff_next_step(&b, 3, 60000), 0); /* stable for reset_after: reset */
  struct spec_backoff custom = { 500, 2000, 5000 };
  assert_int_equal(backoff_delay_ms(&custom, 5, 0.5), 2000);
  assert_int_equal(backoff_next_step(&custom, 7, 5000), 0);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bring_up_sequence),
    cmocka_unit_test(test_restart_always_with_backoff),
    cmocka_unit_test(test_restart_policies),
    cmocka_unit_test(test_start_failure_backs_off_even_under_never),
    cmocka_unit_test(test_spec_changes),
    cmocka_unit_test(test_delete),
    cmocka_unit_test(test_drift_and_failures),
    cmocka_unit_test(test_backoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
