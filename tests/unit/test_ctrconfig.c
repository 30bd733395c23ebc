/* tankd's container configs, checked by the shim's own strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/ctrconfig.h"
#include "runtime/config.h"
#include "util/fileio.h"

static struct spec_pod *
example(const char *name)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s", TANK_SOURCE_DIR, name);
  char *buf;
  size_t len;
  tank_error *err = NULL;
  assert_int_equal(read_file_limited(path, SPEC_MAX_BYTES, &buf, &len, &err), 0);
  struct spec_file f;
  assert_int_equal(spec_parse(buf, len, path, SPEC_FORMAT_AUTO, &f), 0);
  struct spec_pod *pod = f.pods[0];
  f.pods[0] = NULL;
  spec_file_free(&f);
  free(buf);
  return pod;
}

static struct container_config *
build_and_parse(const struct spec_pod *pod, size_t index, const char *config_path)
{
  char *const layers[] = { "/d/layers/sha256/top", "/d/layers/sha256/bottom" };
  struct ctrconfig_image img = { layers, 2, config_path };
  struct ctrconfig_paths paths = { "/d", "/r", "/sys/fs/cgroup", "tank" };
  json_t *j = ctrconfig_build(pod, index, &img, &paths);
  assert_non_null(j);
  char *s = json_dumps(j, 0);
  json_decref(j);
  struct container_config *c = NULL;
  tank_error *err = NULL;
  if (container_config_parse(s, strlen(s), &c, &err) < 0)
    fail_msg("tank-shim refuses tankd's config: %s\n%s", err->msg, s);
  free(s);
  return c;
}

static void
test_web(void **state)
{
  struct spec_pod *pod = example("web.yaml");
  struct container_config *c = build_and_parse(pod, 0, "/d/blobs/sha256/cfg");
  assert_string_equal(c->id, "web/httpd");
  assert_int_equal(c->n_layers, 2);
  assert_string_equal(c->layers[0], "/d/layers/sha256/bottom"); /* bottom first */
  assert_string_equal(c->upper_dir, "/d/containers/web/httpd/upper");
  assert_string_equal(c->image_config_path, "/d/blobs/sha256/cfg");
  assert_true(c->has_command && c->has_args);
  assert_string_equal(c->command[0], "/bin/httpd");
  assert_string_equal(c->args[1], "8080");
  assert_string_equal(c->user, "1000:1000");
  assert_string_equal(c->working_dir, "/srv");
  assert_string_equal(c->ns_join[CONFIG_NS_NET], "/r/pods/web/ns/net");
  assert_string_equal(c->ns_join[CONFIG_NS_IPC], "/r/pods/web/ns/ipc");
  assert_true(c->ns_create[CONFIG_NS_MOUNT] && c->ns_create[CONFIG_NS_PID]);
  assert_false(c->ns_create[CONFIG_NS_NET]);
  assert_string_equal(c->cgroup_path, "tank/web/httpd");
  assert_int_equal(c->limits.memory_bytes, 64 << 20);
  assert_int_equal(c->limits.pids, 100);
  assert_int_equal(c->limits.cpu_quota_us, 50000);
  assert_int_equal(c->limits.cpu_period_us, 100000);
  assert_int_equal(c->stop_signal, 15);
  assert_int_equal(c->stop_timeout_ms, 10000);
  assert_int_equal(c->n_mounts, 2);
  assert_string_equal(c->mounts[0].source, "/d/volumes/web/data");
  assert_string_equal(c->mounts[0].destination, "/srv/www");
  assert_string_equal(c->mounts[1].source, "/etc/web");
  assert_true(c->mounts[1].read_only);
  assert_string_equal(c->etc_resolv_conf, "/r/pods/web/etc/resolv.conf");
  assert_string_equal(c->log_path, "/d/logs/web/httpd.log");
  assert_true(c->no_new_privileges && c->seccomp && c->default_caps);
  container_config_free(c);
  spec_pod_free(pod);
}

static void
test_every_example_is_accepted(void **state)
{
  static const char *const names[] = { "sidecar.yaml", "shell.yaml", "k8s-pod.yaml", "web.json" };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    struct spec_pod *pod = example(names[i]);
    for (size_t k = 0; k < pod->n_containers; k++)
      container_config_free(build_and_parse(pod, k, i % 2 ? NULL : "/d/blobs/sha256/x"));
    spec_pod_free(pod);
  }
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_web),
    cmocka_unit_test(test_every_example_is_accepted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
