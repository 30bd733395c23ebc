/* Manifests, indexes, image configs and platform selection: what is accepted,
 * what is refused and how the refusal reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/digest.h"
#include "image/manifest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void
expect_manifest_error(const char *json, const char *part)
{
  struct oci_manifest m;
  tank_error *err = NULL;
  assert_true(oci_manifest_parse(json, strlen(json), NULL, &m, &err) < 0);
  if (strstr(err->msg, part) == NULL)
    fail_msg("got `%s`, want `%s`", err->msg, part);
  tank_error_free(err);
}

static void
test_oci_manifest(void **state)
{
  const char *j
      = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_MANIFEST "\","
        "\"config\":{\"mediaType\":\"" MEDIA_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":10},"
        "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
        "\"digest\":\"" D2 "\",\"size\":20},{\"mediaType\":\"application/"
        "vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D3 "\",\"size\":30}]}";
  struct oci_manifest m;
  tank_error *err = NULL;
  assert_int_equal(oci_manifest_parse(j, strlen(j), NULL, &m, &err), 0);
  assert_int_equal(m.kind, MANIFEST_IMAGE);
  assert_string_equal(m.config.digest, D1);
  assert_int_equal(m.n_layers, 2);
  assert_int_equal(m.layers[1].size, 30);
  assert_true(oci_layer_media_supported(m.layers[1].media_type));
  oci_manifest_clear(&m);
}

static void
test_docker_manifest_by_content_type(void **state)
{
  const char *j = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},"
                  "\"layers\":[{\"mediaType\":\"application/"
                  "vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D2 "\",\"size\":2}]}";
  struct oci_manifest m;
  tank_error *err = NULL;
  assert_int_equal(oci_manifest_parse(j, strlen(j), MEDIA_DOCKER_MANIFEST, &m, &err), 0);
  assert_int_equal(m.kind, MANIFEST_IMAGE);
  assert_true(oci_layer_media_supported(m.layers[0].media_type));
  assert_false(oci_layer_media_supported("application/vnd.oci.image.layer.v1.tar+encrypted"));
  oci_manifest_clear(&m);
}

static void
test_manifest_errors(void **state)
{
  expect_manifest_error("{\"schemaVersion\":1,\"fsLayers\":[]}", "Docker schema 1");
  expect_manifest_error("[1]", "not a JSON object");
  expect_manifest_error("{", "not valid JSON");
  expect_manifest_error("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:abc\",\"size\":1},"
                        "\"layers\":[]}",
                        "not sha256:<64 lowercase hex>");
  expect_manifest_error("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1},"
                        "\"layers\":[]}",
                        "no valid `size`");
  expect_manifest_error("{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}",
                        "unsupported media type `text/plain`");
  expect_manifest_error("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},"
                        "\"layers\":{}}",
                        "`layers` is not an array");
  expect_manifest_error("{\"schemaVersion\":2,\"schemaVersion\":2}", "not valid JSON");
}

static const char *index_json
    = "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"manifests\":["
      "{\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":"
      "\"arm\",\"variant\":\"v6\"}},"
      "{\"digest\":\"" D2 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":"
      "\"arm\",\"variant\":\"v7\"}},"
      "{\"digest\":\"" D3 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":"
      "\"amd64\"}}]}";

static void
test_index_select(void **state)
{
  struct oci_manifest m;
  tank_error *err = NULL;
  assert_int_equal(oci_manifest_parse(index_json, strlen(index_json), NULL, &m, &err), 0);
  assert_int_equal(m.kind, MANIFEST_INDEX);
  const struct oci_descriptor *d;
  struct oci_platform p = { "linux", "arm", "v7" };
  assert_int_equal(oci_index_select(&m, &p, &d, &err), 0);
  assert_string_equal(d->digest, D2);
  p = (struct oci_platform){ "linux", "amd64", NULL };
  assert_int_equal(oci_index_select(&m, &p, &d, &err), 0);
  assert_string_equal(d->digest, D3);
  p = (struct oci_platform){ "linux", "arm64", "v8" };
  assert_true(oci_index_select(&m, &p, &d, &err) < 0);
  assert_non_null(strstr(err->msg, "no manifest for linux/arm64/v8 (it offers: linux/arm/v6, "
                                   "linux/arm/v7, linux/amd64)"));
  tank_error_free(err);
  oci_platform_host(&p);
  assert_string_equal(p.os, "linux");
  oci_manifest_clear(&m);
}

static void
test_config(void **state)
{
  const char *j
      = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2026-01-01T00:00:00Z\","
        "\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],"
        "\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/srv\",\"User\":\"1000:1000\","
        "\"StopSignal\":\"SIGINT\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},"
        "\"Volumes\":{\"/data\":{}},\"Labels\":{\"a\":\"b\"}},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
  struct image_config c;
  tank_error *err = NULL;
  assert_int_equal(image_config_parse(j, strlen(j), &c, &err), 0);
  assert_string_equal(c.entrypoint[1], "-c");
  assert_null(c.entrypoint[2]);
  assert_string_equal(c.cmd[0], "echo hi");
  assert_string_equal(c.env[0], "PATH=/bin");
  assert_string_equal(c.working_dir, "/srv");
  assert_string_equal(c.user, "1000:1000");
  assert_string_equal(c.stop_signal, "SIGINT");
  assert_string_equal(c.exposed_ports[0], "80/tcp");
  assert_string_equal(c.exposed_ports[1], "53/udp");
  assert_string_equal(c.volumes[0], "/data");
  assert_string_equal(c.label_keys[0], "a");
  assert_string_equal(c.label_values[0], "b");
  assert_int_equal(c.n_diff_ids, 2);
  image_config_clear(&c);

  const char *bad = "{\"config\":{\"Cmd\":\"not a list\"},\"rootfs\":{\"diff_ids\":[]}}";
  assert_true(image_config_parse(bad, strlen(bad), &c, &err) < 0);
  assert_non_null(strstr(err->msg, "`Cmd` is not an array of strings"));
  tank_error_free(err);
  err = NULL;
  const char *nofs = "{\"config\":{}}";
  assert_true(image_config_parse(nofs, strlen(nofs), &c, &err) < 0);
  assert_non_null(strstr(err->msg, "no `rootfs`"));
  tank_error_free(err);
}

static void
test_digest(void **state)
{
  assert_true(digest_is_sha256(D1));
  assert_false(digest_is_sha256("sha256:11"));
  assert_false(
      digest_is_sha256("sha512:"
                       "1111111111111111111111111111111111111111111111111111111111111111"));
  assert_false(
      digest_is_sha256("sha256:AAAA111111111111111111111111111111111111111111111111111111111111"));
  char d[DIGEST_STRING_LEN];
  digest_buffer("", 0, d);
  assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_oci_manifest),    cmocka_unit_test(test_docker_manifest_by_content_type),
    cmocka_unit_test(test_manifest_errors), cmocka_unit_test(test_index_select),
    cmocka_unit_test(test_config),          cmocka_unit_test(test_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
