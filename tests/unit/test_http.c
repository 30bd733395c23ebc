/* The API transport: tankd's HTTP server on sd-event and the CLI's client,
 * talking over a real unix socket (a forked child is the client). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/client.h"
#include "api/http.h"

struct fixture {
  sd_event *ev;
  struct http_server *srv;
  char dir[64], sock[128];
  struct http_stream *stream;
  sd_event_source *tick;
  int ticks;
  bool stream_closed;
};

static void
on_stream_close(void *userdata)
{
  struct fixture *f = userdata;
  f->stream = NULL;
  f->stream_closed = true;
}

static int
on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
  struct fixture *f = userdata;
  if (f->stream == NULL)
    return 0;
  char line[32];
  snprintf(line, sizeof line, "{\"n\":%d}\n", ++f->ticks);
  http_stream_write(f->stream, line, strlen(line));
  if (f->ticks == 3)
    http_stream_end(f->stream);
  else
    sd_event_source_set_time_relative(s, 20 * 1000),
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
  return 0;
}

static void
handler(void *userdata, const struct http_request *req, struct http_reply *reply)
{
  struct fixture *f = userdata;
  if (strcmp(req->path, "/echo") == 0) {
    const char *q = http_query(req, "q");
    reply->json = json_pack("{s:s,s:s,s:I,s:s?}", "method", req->method, "body", req->body, "len",
                            (json_int_t)req->body_len, "q", q);
  } else if (strcmp(req->path, "/stream") == 0) {
    f->stream = http_reply_stream(reply, NULL, on_stream_close, f);
    f->ticks = 0;
    /* Nothing is written for a while: the connection must park, not spin. */
    sd_event_add_time_relative(f->ev, &f->tick, CLOCK_MONOTONIC, 50 * 1000, 0, on_tick, f);
  } else {
    http_reply_error(reply, 404, json_pack("[s]", "try /echo"), "no route for %s", req->path);
  }
}

static int
on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
  sd_event_exit(sd_event_source_get_event(s), si->si_code == CLD_EXITED ? si->si_status : 100);
  return 0;
}

static int
count_line(const char *line, size_t len, void *ud)
{
  (*(int *)ud)++;
  return 0;
}

static int
client_main(const char *sock)
{
  struct api_client c = { .socket_path = (char *)sock, .timeout_ms = 5000 };
  long status;
  json_t *j;
  tank_error *err = NULL;
  if (api_request(&c, "PUT", "/echo?q=hi", "{\"a\":1}", 7, &status, &j, &err) < 0)
    return 1;
  if (status != 200 || strcmp(json_string_value(json_object_get(j, "body")), "{\"a\":1}") != 0
      || strcmp(json_string_value(json_object_get(j, "q")), "hi") != 0
      || strcmp(json_string_value(json_object_get(j, "method")), "PUT") != 0)
    return 2;
  json_decref(j);
  if (api_request(&c, "GET", "/nope", NULL, 0, &status, &j, &err) < 0 || status != 404
      || strcmp(json_string_value(json_object_get(j, "error")), "no route for /nope") != 0)
    return 3;
  json_decref(j);
  /* bodies over the limit get 413 and are not buffered */
  size_t big = 300 * 1024;
  char *body = malloc(big);
  memset(body, 'x', big);
  if (api_request(&c, "PUT", "/echo", body, big, &status, &j, &err) < 0 || status != 413)
    return 4;
  free(body);
  json_decref(j);
  /* a stream delivers its lines as they are written, then ends */
  int lines = 0;
  if (api_stream(&c, "/stream", count_line, &lines, &status, &err) < 0 || status != 200
      || lines != 3)
    return 5;
  /* an unreachable socket is a clear error */
  struct api_client bad = { .socket_path = "/nonexistent/tank.sock", .timeout_ms = 1000 };
  if (api_request(&bad, "GET", "/", NULL, 0, &status, &j, &err) == 0
      || strstr(err->msg, "cannot reach tankd at /nonexistent/tank.sock") == NULL)
    return 6;
  tank_error_free(err);
  return 0;
}

static void
test_round_trips(void **state)
{
  struct fixture f = { 0 };
  strcpy(f.dir, "/tmp/tank-http.XXXXXX");
  assert_non_null(mkdtemp(f.dir));
  snprintf(f.sock, sizeof f.sock, "%s/api.sock", f.dir);
  tank_error *err = NULL;
  int fd;
  assert_int_equal(http_listen_unix(f.sock, 0660, NULL, &fd, &err), 0);
  assert_int_equal(sd_event_new(&f.ev), 0);
  assert_int_equal(http_server_new(f.ev, fd, 256 * 1024, handler, &f, &f.srv, &err), 0);

  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGCHLD);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  pid_t pid = fork();
  if (pid == 0)
    _exit(client_main(f.sock));
  sd_event_source *child;
  assert_int_equal(sd_event_add_child(f.ev, &child, pid, WEXITED, on_child, NULL), 0);
  int rc = sd_event_loop(f.ev);
  assert_int_equal(rc, 0);
  assert_true(f.stream_closed);

  sd_event_source_unref(child);
  sd_event_source_unref(f.tick);
  http_server_free(f.srv);
  close(fd);
  sd_event_unref(f.ev);
  unlink(f.sock);
  rmdir(f.dir);
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
