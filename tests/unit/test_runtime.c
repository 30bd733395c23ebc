/* Pure logic of the runtime: container config parsing, the Kubernetes merge of
 * image config and container config, user resolution from passwd/group text,
 * CRI record formatting; and what the build-time seccomp filter refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/config.h"
#include "runtime/crilog.h"
#include "runtime/process.h"
#include "runtime/security.h"
#include "runtime/state.h"
#include "runtime/user.h"

#define BASE                                                                                       \
  "\"id\":\"x\",\"state_dir\":\"/s\",\"rootfs\":{\"layers\":[\"/l1\",\"/l2\"],\"upper\":\"/u\","   \
  "\"work\":\"/w\",\"mountpoint\":\"/r\"}"

static struct container_config *
parse_ok(const char *json)
{
  struct container_config *c = NULL;
  tank_error *err = NULL;
  if (container_config_parse(json, strlen(json), &c, &err) < 0)
    fail_msg("%s: %s", json, err->msg);
  return c;
}

static void
expect_config_error(const char *json, const char *part)
{
  struct container_config *c = NULL;
  tank_error *err = NULL;
  assert_true(container_config_parse(json, strlen(json), &c, &err) < 0);
  assert_null(c);
  if (strstr(err->msg, part) == NULL)
    fail_msg("`%s` lacks `%s`", err->msg, part);
  tank_error_free(err);
}

static void
test_config_defaults(void **state)
{
  struct container_config *c = parse_ok("{" BASE "}");
  assert_int_equal(c->n_layers, 2);
  assert_true(c->ns_create[CONFIG_NS_PID] && c->ns_create[CONFIG_NS_NET]);
  assert_true(c->no_new_privileges && c->seccomp && c->default_caps);
  assert_int_equal(c->stop_timeout_ms, 10000);
  assert_int_equal(c->log_max_bytes, 10 * 1024 * 1024);
  assert_int_equal(c->log_max_files, 5);
  assert_null(c->cgroup_path);
  container_config_free(c);
}

static void
test_config_full(void **state)
{
  struct container_config *c = parse_ok(
      "{" BASE
      ",\"process\":{\"command\":[\"a\"],\"args\":[],\"env\":{\"K\":\"V\"},\"user\":\"1:2\","
      "\"tty\":true,\"init\":true},\"namespaces\":{\"create\":[\"mount\",\"pid\"],\"join\":{"
      "\"net\":"
      "\"/run/ns/net\"}},\"cgroup\":{\"path\":\"tank/p/c\",\"limits\":{\"memory_bytes\":1048576,"
      "\"pids\":5,\"cpu_quota_us\":20000}},\"stop\":{\"signal\":\"SIGUSR1\",\"timeout_ms\":5},"
      "\"mounts\":[{\"source\":\"/a\",\"destination\":\"/b\",\"read_only\":true}],\"security\":{"
      "\"seccomp\":\"unconfined\"},\"log\":{\"max_bytes\":4096,\"max_files\":2}}");
  assert_true(c->has_command && c->has_args);
  assert_int_equal(c->n_args, 0);
  assert_string_equal(c->env[0], "K=V");
  assert_true(c->tty && c->init);
  assert_false(c->ns_create[CONFIG_NS_NET]);
  assert_string_equal(c->ns_join[CONFIG_NS_NET], "/run/ns/net");
  assert_string_equal(c->cgroup_root, "/sys/fs/cgroup");
  assert_int_equal(c->limits.pids, 5);
  assert_int_equal(c->stop_signal, 10);
  assert_true(c->mounts[0].read_only);
  assert_false(c->seccomp);
  container_config_free(c);
}

static void
test_config_errors(void **state)
{
  expect_config_error("{" BASE ",\"bogus\":1}", "config.bogus: unknown key");
  expect_config_error("{\"id\":\"x\",\"state_dir\":\"rel\"}", "not an absolute path");
  expect_config_error("{" BASE ",\"namespaces\":{\"join\":{\"pid\":\"/x\"}}}",
                      "only net, uts and ipc");
  expect_config_error("{" BASE ",\"stop\":{\"signal\":\"SIGNOPE\"}}", "not a signal");
  expect_config_error("{" BASE ",\"cgroup\":{\"path\":\"p\",\"limits\":{\"pids\":-1}}}",
                      "non-negative");
  expect_config_error("{\"id\":\"x\",\"state_dir\":\"/s\",\"rootfs\":{\"layers\":[\"/a:b\"],"
                      "\"upper\":\"/u\",\"work\":\"/w\",\"mountpoint\":\"/r\"}}",
                      "without : or ,");
  expect_config_error("{" BASE ",\"process\":{\"env\":[\"NOEQUALS\"]}}", "not NAME=value");
  expect_config_error("{" BASE ",\"id\":\"y\"}", "duplicate");
}

static const char *img_json = "{\"config\":{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\",\"c2\"],"
                              "\"Env\":[\"A=1\",\"B=2\"],\"WorkingDir\":\"/wd\",\"User\":\"app\","
                              "\"StopSignal\":\"SIGQUIT\"}}";

static char *
joined(char **v)
{
  static char buf[512];
  buf[0] = '\0';
  for (; *v; v++) {
    strcat(buf, *v);
    if (v[1])
      strcat(buf, " ");
  }
  return buf;
}

static void
merge_case(const char *container_json, const char *want_argv)
{
  char json[1024];
  snprintf(json, sizeof json, "{" BASE ",\"process\":%s}", container_json);
  struct container_config *c = parse_ok(json);
  struct image_process img;
  tank_error *err = NULL;
  assert_int_equal(image_process_parse(img_json, strlen(img_json), &img, &err), 0);
  assert_int_equal(img.stop_signal, 3);
  struct process_plan p;
  assert_int_equal(process_merge(c, &img, "h", &p, &err), 0);
  assert_string_equal(joined(p.argv), want_argv);
  process_plan_clear(&p);
  image_process_clear(&img);
  container_config_free(c);
}

static void
test_merge_argv(void **state)
{
  merge_case("{}", "/ep c1 c2");
  merge_case("{\"args\":[\"x\"]}", "/ep x");
  merge_case("{\"args\":[]}", "/ep");
  merge_case("{\"command\":[\"/c\"]}", "/c");
  merge_case("{\"command\":[\"/c\"],\"args\":[\"y\",\"z\"]}", "/c y z");
}

static void
test_merge_env_cwd_user(void **state)
{
  struct container_config *c
      = parse_ok("{" BASE ",\"process\":{\"env\":{\"B\":\"spec\",\"C\":\"3\"},\"working_dir\":"
                 "\"/spec\"}}");
  struct image_process img;
  tank_error *err = NULL;
  assert_int_equal(image_process_parse(img_json, strlen(img_json), &img, &err), 0);
  struct process_plan p;
  assert_int_equal(process_merge(c, &img, "pod", &p, &err), 0);
  assert_string_equal(joined(p.env), "A=1 B=spec C=3 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                     "/usr/bin:/sbin:/bin HOSTNAME=pod");
  assert_string_equal(p.cwd, "/spec");
  assert_string_equal(p.user, "app");
  process_plan_clear(&p);
  /* no image config, no command: an error that says why */
  assert_true(process_merge(c, NULL, NULL, &p, &err) < 0);
  assert_non_null(strstr(err->msg, "no command"));
  tank_error_free(err);
  image_process_clear(&img);
  container_config_free(c);
}

static const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
                            "# comment\n"
                            "broken line\n"
                            "app:x:1000:1001:App:/home/app:/bin/sh\n";
static const char *group = "root:x:0:\n"
                           "app:x:1001:\n"
                           "extra:x:2000:app,bob\n"
                           "other:x:3000:bob\n"
                           "more:x:4000:app\n";

static void
test_user_resolve(void **state)
{
  struct user_ids ids;
  tank_error *err = NULL;
  assert_int_equal(user_resolve("", passwd, group, &ids, &err), 0);
  assert_int_equal(ids.uid, 0);
  assert_string_equal(ids.home, "/root");
  assert_int_equal(user_resolve("app", passwd, group, &ids, &err), 0);
  assert_int_equal(ids.uid, 1000);
  assert_int_equal(ids.gid, 1001);
  assert_int_equal(ids.n_groups, 2);
  assert_int_equal(ids.groups[0], 2000);
  assert_int_equal(ids.groups[1], 4000);
  assert_string_equal(ids.home, "/home/app");
  assert_int_equal(user_resolve("1000:extra", passwd, group, &ids, &err), 0);
  assert_int_equal(ids.gid, 2000);
  assert_int_equal(user_resolve("555:777", NULL, NULL, &ids, &err), 0);
  assert_int_equal(ids.uid, 555);
  assert_int_equal(ids.gid, 777);
  assert_int_equal(ids.n_groups, 0);
  assert_true(user_resolve("bob", passwd, group, &ids, &err) < 0);
  assert_non_null(strstr(err->msg, "no such user"));
  tank_error_free(err);
  err = NULL;
  assert_true(user_resolve("app:nogroup", passwd, group, &ids, &err) < 0);
  tank_error_free(err);
  err = NULL;
  assert_true(user_resolve("app:", passwd, group, &ids, &err) < 0);
  tank_error_free(err);
}

static void
test_cri_format(void **state)
{
  char out[128];
  struct timespec ts = { 1700000000, 5 };
  size_t n = cri_format_record(out, &ts, CRI_STDERR, 'P', "hi", 2);
  out[n] = '\0';
  assert_string_equal(out, "2023-11-14T22:13:20.000000005Z stderr P hi\n");
}

static void
test_signal_names(void **state)
{
  assert_int_equal(signal_from_name("SIGTERM"), 15);
  assert_int_equal(signal_from_name("KILL"), 9);
  assert_int_equal(signal_from_name("10"), 10);
  assert_int_equal(signal_from_name("SIGRTMIN+1"), SIGRTMIN + 1);
  assert_int_equal(signal_from_name("nope"), 0);
  assert_int_equal(signal_from_name("999"), 0);
}

/* In a child (no root needed: no_new_privs first): each refused call sets one bit. */
static void
test_seccomp_filter(void **state)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tank_error *err = NULL;
    if (security_no_new_privs(&err) < 0 || security_seccomp_load(&err) < 0)
      _exit(100);
    int bad = 0;
    if (unshare(CLONE_NEWNS) == 0 || errno != EPERM)
      bad |= 1;
    if (mount("none", "/", NULL, MS_REMOUNT, NULL) == 0 || errno != EPERM)
      bad |= 2;
    if (syscall(SYS_clone, (unsigned long)(CLONE_NEWNET | SIGCHLD), NULL, NULL, NULL, 0) >= 0
        || errno != EPERM)
      bad |= 4;
    if (syscall(SYS_clone3, NULL, 0) == 0 || errno != ENOSYS)
      bad |= 8;
    if (syscall(SYS_setns, -1, 0) == 0 || errno != EPERM)
      bad |= 16;
    if (getppid() <= 0) /* everything else is allowed */
      bad |= 32;
    _exit(bad);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* Field 22 of /proc/PID/stat (starttime), counted after comm: not field 23 (vsize). */
static void
test_proc_start_time(void **state)
{
  FILE *f = fopen("/proc/self/stat", "r");
  assert_non_null(f);
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')') + 2; /* field 3 */
  unsigned long long want = 0;
  for (int field = 3; field <= 22; field++) {
    if (field == 22)
      want = strtoull(p, NULL, 10);
    p = strchr(p, ' ') + 1;
  }
  uint64_t got = 0;
  tank_error *err = NULL;
  assert_int_equal(proc_start_time(getpid(), &got, &err), 0);
  assert_int_equal(got, want);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_config_defaults),    cmocka_unit_test(test_config_full),
    cmocka_unit_test(test_config_errors),      cmocka_unit_test(test_merge_argv),
    cmocka_unit_test(test_merge_env_cwd_user), cmocka_unit_test(test_user_resolve),
    cmocka_unit_test(test_cri_format),         cmocka_unit_test(test_signal_names),
    cmocka_unit_test(test_seccomp_filter),     cmocka_unit_test(test_proc_start_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
