/* Session frames (runtime/frame.h), the exec request and the detach keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/session.h"
#include "runtime/exec.h"
#include "runtime/frame.h"

static void
test_round_trip_and_partial(void **state)
{
  struct frame_buf b = { 0 };
  frame_buf_put(&b, FRAME_STDOUT, "hello", 5);
  uint8_t rs[4];
  frame_resize_encode(40, 132, rs);
  frame_buf_put(&b, FRAME_RESIZE, rs, sizeof rs);
  uint8_t ex[8];
  frame_exit_encode(137, 9, ex);
  frame_buf_put(&b, FRAME_EXIT, ex, sizeof ex);
  frame_buf_put(&b, FRAME_STDIN_EOF, NULL, 0);

  struct frame f;
  /* Every strict prefix of the first frame is "need more". */
  for (size_t n = 0; n < 10; n++)
    assert_int_equal(frame_parse(b.data, n, &f), 0);
  size_t off = 0;
  assert_int_equal(frame_parse(b.data, b.len, &f), 10);
  assert_int_equal(f.type, FRAME_STDOUT);
  assert_int_equal(f.len, 5);
  assert_memory_equal(f.data, "hello", 5);
  off += 10;
  assert_int_equal(frame_parse(b.data + off, b.len - off, &f), 9);
  uint16_t rows, cols;
  frame_resize_decode(&f, &rows, &cols);
  assert_int_equal(rows, 40);
  assert_int_equal(cols, 132);
  off += 9;
  assert_int_equal(frame_parse(b.data + off, b.len - off, &f), 13);
  int32_t code, sig;
  frame_exit_decode(&f, &code, &sig);
  assert_int_equal(code, 137);
  assert_int_equal(sig, 9);
  off += 13;
  assert_int_equal(frame_parse(b.data + off, b.len - off, &f), 5);
  assert_int_equal(f.type, FRAME_STDIN_EOF);
  frame_buf_consume(&b, b.len);
  assert_int_equal(b.len, 0);
  frame_buf_clear(&b);
}

static void
test_malformed(void **state)
{
  struct frame f;
  uint8_t h[FRAME_HEADER_SIZE];
  frame_header(FRAME_TYPE_COUNT, 0, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO); /* unknown type */
  frame_header(FRAME_STDIN, FRAME_MAX_PAYLOAD + 1, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO); /* too long: refused from the header */
  frame_header(FRAME_RESIZE, 3, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO);
  frame_header(FRAME_EXIT, 4, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO);
  frame_header(FRAME_STDIN_EOF, 1, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO);
  frame_header(FRAME_ERROR, FRAME_MAX_ERROR + 1, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), -EPROTO);
  frame_header(FRAME_STDIN, FRAME_MAX_PAYLOAD, h);
  assert_int_equal(frame_parse(h, sizeof h, &f), 0); /* the longest frame: wait for it */
}

static void
test_detach_keys(void **state)
{
  struct session_opts o = { 0 };
  tank_error *err = NULL;
  assert_int_equal(session_parse_detach_keys("ctrl-p,ctrl-q", &o, &err), 0);
  assert_int_equal(o.n_detach_keys, 2);
  assert_int_equal(o.detach_keys[0], 16);
  assert_int_equal(o.detach_keys[1], 17);
  assert_int_equal(session_parse_detach_keys("ctrl-a,x,ctrl-@", &o, &err), 0);
  assert_int_equal(o.n_detach_keys, 3);
  assert_int_equal(o.detach_keys[0], 1);
  assert_int_equal(o.detach_keys[1], 'x');
  assert_int_equal(o.detach_keys[2], 0);
  assert_int_equal(session_parse_detach_keys("", &o, &err), 0);
  assert_int_equal(o.n_detach_keys, 0);
  assert_true(session_parse_detach_keys("ctrl-pp", &o, &err) < 0);
  assert_non_null(strstr(err->msg, "ctrl-pp"));
  tank_error_freep(&err);
  assert_true(session_parse_detach_keys("a,b,c,d,e,f,g,h,i", &o, &err) < 0);
  tank_error_freep(&err);
}

static void
expect_bad_request(const char *json, const char *part)
{
  struct exec_request r;
  tank_error *err = NULL;
  assert_true(exec_request_parse(json, strlen(json), &r, &err) < 0);
  if (strstr(err->msg, part) == NULL)
    fail_msg("%s: got `%s`, want `%s`", json, err->msg, part);
  tank_error_free(err);
}

static void
test_exec_request(void **state)
{
  const char *ok = "{\"container\":\"app\",\"command\":[\"sh\",\"-c\",\"exit 5\"],"
                   "\"env\":[\"A=1\",\"B=x=y\"],\"workdir\":\"/tmp\",\"user\":\"1000:1000\","
                   "\"tty\":true,\"stdin\":true,\"rows\":24,\"cols\":80}";
  struct exec_request r;
  tank_error *err = NULL;
  assert_int_equal(exec_request_parse(ok, strlen(ok), &r, &err), 0);
  assert_int_equal(r.argc, 3);
  assert_string_equal(r.argv[2], "exit 5");
  assert_null(r.argv[3]);
  assert_int_equal(r.n_env, 2);
  assert_string_equal(r.env[1], "B=x=y");
  assert_string_equal(r.workdir, "/tmp");
  assert_string_equal(r.user, "1000:1000");
  assert_true(r.tty && r.stdin_open);
  assert_int_equal(r.rows, 24);
  assert_int_equal(r.cols, 80);
  exec_request_clear(&r);

  expect_bad_request("{}", "command");
  expect_bad_request("{\"command\":[]}", "command");
  expect_bad_request("{\"command\":\"ls\"}", "list of strings");
  expect_bad_request("{\"command\":[\"ls\"],\"env\":[\"NOEQUALS\"]}", "env[0]");
  expect_bad_request("{\"command\":[\"ls\"],\"env\":[\"=x\"]}", "env[0]");
  expect_bad_request("{\"command\":[\"ls\"],\"workdir\":\"rel\"}", "absolute");
  expect_bad_request("{\"command\":[\"ls\"],\"tty\":1}", "tty");
  expect_bad_request("{\"command\":[\"ls\"],\"rows\":70000}", "rows");
  expect_bad_request("{\"command\":[\"ls\"],\"bogus\":1}", "unknown key `bogus`");
  expect_bad_request("{\"command\":[\"a\\u0000b\"]}", "NUL");
  expect_bad_request("[1]", "object");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip_and_partial),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_detach_keys),
    cmocka_unit_test(test_exec_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
