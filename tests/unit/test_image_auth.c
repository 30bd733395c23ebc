/* auth.json lookup: key forms docker and podman write, most specific entry
 * wins, explicit vs default files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/auth.h"
#include "image/source.h"

static char path[64];

static int
write_auth(void **state)
{
  strcpy(path, "/tmp/tkim-auth-XXXXXX");
  int fd = mkstemp(path);
  /* dXNlcjpwYXNz = user:pass; b3RoZXI6c2VjcmV0 = other:secret; cmVwbzp4 = repo:x */
  const char *j = "{\"auths\":{\"https://reg.example:5000/v2/\":{\"auth\":\"dXNlcjpwYXNz\"},"
                  "\"https://index.docker.io/v1/\":{\"auth\":\"b3RoZXI6c2VjcmV0\"},"
                  "\"reg.example:5000/team/app\":{\"auth\":\"cmVwbzp4\"},"
                  "\"plain.example\":{\"username\":\"u\",\"password\":\"p:w\"}}}";
  assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
  close(fd);
  return 0;
}

static int
remove_auth(void **state)
{
  unlink(path);
  return 0;
}

static void
expect(const char *domain, const char *repo, const char *user, const char *pass)
{
  struct registry_credentials c;
  tank_error *err = NULL;
  assert_int_equal(auth_lookup(path, domain, repo, &c, &err), 0);
  if (user == NULL) {
    assert_null(c.username);
    return;
  }
  assert_non_null(c.username);
  assert_string_equal(c.username, user);
  assert_string_equal(c.password, pass);
  assert_string_equal(c.source, path);
  registry_credentials_clear(&c);
}

static void
test_lookup(void **state)
{
  expect("reg.example:5000", "acme/api", "user", "pass");
  expect("reg.example:5000", "team/app", "repo", "x");
  expect("reg.example:5000", "team/application", "user", "pass");
  expect("docker.io", "library/busybox", "other", "secret");
  expect("plain.example", "x", "u", "p:w");
  expect("reg.example", "x", NULL, NULL);
}

static void
test_missing_files(void **state)
{
  struct registry_credentials c;
  tank_error *err = NULL;
  assert_true(auth_lookup("/nonexistent/tkim-auth.json", "h", "r", &c, &err) < 0);
  assert_non_null(strstr(err->msg, "/nonexistent/tkim-auth.json"));
  tank_error_free(err);
  err = NULL;
  setenv("REGISTRY_AUTH_FILE", "/nonexistent/tkim-env.json", 1);
  assert_string_equal(auth_file_path(NULL), "/nonexistent/tkim-env.json");
  assert_int_equal(auth_lookup(NULL, "h", "r", &c, &err), 0);
  assert_null(c.username);
  unsetenv("REGISTRY_AUTH_FILE");
  assert_string_equal(auth_file_path(NULL), AUTH_DEFAULT_FILE);
}

static void
test_basic_token(void **state)
{
  struct registry_credentials c = { .username = "user", .password = "pass" };
  char *t = auth_basic_token(&c);
  assert_string_equal(t, "dXNlcjpwYXNz");
  free(t);
}

static void
test_scheme(void **state)
{
  char *insecure[] = { "reg.lan:5000", "other.lan", NULL };
  assert_string_equal(registry_scheme("registry.example", NULL), "https");
  assert_string_equal(registry_scheme("docker.io", insecure), "https");
  assert_string_equal(registry_scheme("127.0.0.1:5000", NULL), "http");
  assert_string_equal(registry_scheme("127.1.2.3", NULL), "http");
  assert_string_equal(registry_scheme("localhost:5000", NULL), "http");
  assert_string_equal(registry_scheme("[::1]:5000", NULL), "http");
  assert_string_equal(registry_scheme("reg.lan:5000", insecure), "http");
  assert_string_equal(registry_scheme("reg.lan:5001", insecure), "https");
  assert_string_equal(registry_scheme("other.lan:443", insecure), "http");
  assert_string_equal(registry_scheme("127.0.0.1.example", NULL), "https");
  assert_string_equal(registry_scheme("localhostx", NULL), "https");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lookup),
    cmocka_unit_test(test_missing_files),
    cmocka_unit_test(test_basic_token),
    cmocka_unit_test(test_scheme),
  };
  return cmocka_run_group_tests(tests, write_auth, remove_auth);
}
