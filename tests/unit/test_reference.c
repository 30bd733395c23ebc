/* Image reference parsing: normalization as docker/podman do it, and rejections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/reference.h"

static void
expect_ref(const char *in, const char *want)
{
  struct image_ref ref;
  tank_error *err = NULL;
  int r = image_ref_parse(in, &ref, &err);
  if (r < 0)
    fail_msg("%s: %s", in, err->msg);
  char *s = image_ref_format(&ref);
  assert_string_equal(s, want);
  free(s);
  image_ref_clear(&ref);
}

static void
expect_bad(const char *in, const char *reason_part)
{
  struct image_ref ref;
  tank_error *err = NULL;
  int r = image_ref_parse(in, &ref, &err);
  assert_true(r < 0);
  assert_non_null(err);
  if (strstr(err->msg, reason_part) == NULL)
    fail_msg("%s: got `%s`, want it to mention `%s`", in, err->msg, reason_part);
  tank_error_free(err);
}

static void
test_normalize(void **state)
{
  expect_ref("busybox", "docker.io/library/busybox:latest");
  expect_ref("busybox:1.36", "docker.io/library/busybox:1.36");
  expect_ref("acme/api", "docker.io/acme/api:latest");
  expect_ref("index.docker.io/acme/api:2", "docker.io/acme/api:2");
  expect_ref("docker://busybox", "docker.io/library/busybox:latest");
  expect_ref("127.0.0.1:5000/app:1.4", "127.0.0.1:5000/app:1.4");
  expect_ref("localhost/app", "localhost/app:latest");
  expect_ref("registry.example/acme/api:1.4.2", "registry.example/acme/api:1.4.2");
  expect_ref("quay.io/a/b/c__d.e-f--g:v_1.2-rc", "quay.io/a/b/c__d.e-f--g:v_1.2-rc");
  const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  char in[256], want[256];
  snprintf(in, sizeof in, "busybox@%s", d);
  snprintf(want, sizeof want, "docker.io/library/busybox@%s", d);
  expect_ref(in, want);
  snprintf(in, sizeof in, "h:5000/x:1@%s", d);
  snprintf(want, sizeof want, "h:5000/x:1@%s", d);
  expect_ref(in, want);
}

static void
test_transports(void **state)
{
  expect_ref("oci:/srv/img", "oci:/srv/img");
  expect_ref("oci:/srv/img:1.0", "oci:/srv/img:1.0");
  expect_ref("oci-archive:/tmp/a.tar:v2", "oci-archive:/tmp/a.tar:v2");
  expect_ref("docker-archive:/tmp/save.tar", "docker-archive:/tmp/save.tar");
  expect_ref("rootfs:/srv/root", "rootfs:/srv/root");
  expect_bad("rootfs:srv/root", "must be absolute");
  expect_bad("oci:relative/dir", "must be absolute");
}

static void
test_reject(void **state)
{
  expect_bad("", "empty");
  expect_bad("Busybox", "lowercase");
  expect_bad("busybox:", "tag ``");
  expect_bad("busybox:-x", "tag `-x`");
  expect_bad("bad name", "whitespace");
  expect_bad("a//b", "component ``");
  expect_bad("app@sha256:abc", "64 hex");
  expect_bad("app@sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
             "lowercase hex");
  expect_bad("app@nocolon", "ALGORITHM:HEX");
  expect_bad("host:99999/app", "HOST[:PORT]");
  expect_bad("-bad.host/app", "HOST[:PORT]");
  expect_bad("a_/b", "component `a_`");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_normalize),
    cmocka_unit_test(test_transports),
    cmocka_unit_test(test_reject),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
