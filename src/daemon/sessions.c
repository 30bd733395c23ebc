/* POST /v1/pods/NAME/exec and /attach: checks the request, answers 101, and
 * hands the upgraded connection to a helper (tank-shim exec|attach) that does
 * the work and relays the stream, so tankd's loop never carries session bytes.
 * tankd only watches the helper's pidfd to give the connection back to the
 * HTTP server when the session is over. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "runtime/exec.h"
#include "runtime/frame.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define SESSION_PROTOCOL "tank-stream"
#define MAX_SESSIONS     64 /* a limit on what a client can make tankd hold open */

struct session {
  struct tankd *d;
  bool attach;
  char *pod, *container;
  char *config_path;
  char *request; /* exec: the request for the helper, as JSON text */
  struct http_upgrade *up;
  sd_event_source *helper_exit;
  int helper_pidfd;
};

static unsigned n_sessions;

static void
session_free(struct session *s)
{
  if (s == NULL)
    return;
  s->helper_exit = sd_event_source_disable_unref(s->helper_exit);
  if (s->helper_pidfd >= 0)
    close(s->helper_pidfd);
  free(s->pod);
  free(s->container);
  free(s->config_path);
  free(s->request);
  free(s);
  n_sessions--;
}

static void
session_drop(void *userdata)
{
  session_free(userdata);
}

/* The server is going away: the helper carries on alone; nothing to close. */
static void
session_server_closed(void *userdata)
{
  session_free(userdata);
}

static int
on_helper_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
  struct session *s = userdata;
  siginfo_t si = { 0 };
  waitid((idtype_t)P_PIDFD, (id_t)s->helper_pidfd, &si, WEXITED | WNOHANG);
  tankd_log(s->d, LOG_DEBUG_LEVEL, "%s %s/%s: session ended", s->attach ? "attach" : "exec", s->pod,
            s->container);
  http_upgrade_close(s->up);
  session_free(s);
  return 0;
}

/* The client hears why there is no session (the 101 is already out). */
static void
fail_on_stream(int fd, const char *msg)
{
  struct frame_buf b = { 0 };
  frame_buf_put(&b, FRAME_ERROR, msg, strlen(msg));
  uint8_t ex[8];
  frame_exit_encode(125, 0, ex);
  frame_buf_put(&b, FRAME_EXIT, ex, sizeof ex);
  frame_buf_flush(&b, fd);
  frame_buf_clear(&b);
}

static int
spawn_helper(struct session *s, int fd, pid_t *ret_pid)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  /* Its own session: a ^C to a foreground tankd is not the session's. */
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, fd, 3);
  char *argv[] = { (char *)"tank-shim", (char *)(s->attach ? "attach" : "exec"), s->config_path,
                   s->request, NULL };
  int r = posix_spawn(ret_pid, s->d->shim_path, &fa, &attr, argv, NULL);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return -r;
}

static void
on_upgraded(void *userdata, int fd, struct http_upgrade *up)
{
  struct session *s = userdata;
  s->up = up;
  /* dup2 onto 3 must not be a no-op that keeps close-on-exec. */
  _cleanup_close_ int moved = fd == 3 ? fcntl(fd, F_DUPFD_CLOEXEC, 4) : -EBADF;
  pid_t pid = -1;
  int r = spawn_helper(s, moved >= 0 ? moved : fd, &pid);
  if (r == 0) {
    s->helper_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (s->helper_pidfd < 0
        || sd_event_add_io(s->d->event, &s->helper_exit, s->helper_pidfd, EPOLLIN, on_helper_exit,
                           s)
               < 0)
      r = -EIO; /* the helper still runs the session; we only lose track of its end */
  }
  if (r < 0) {
    if (pid < 0) {
      char msg[512];
      snprintf(msg, sizeof msg, "start %s: %s", s->d->shim_path, strerror(-r));
      fail_on_stream(fd, msg);
    } else {
      waitpid(pid, NULL, 0); /* rare: wait here rather than leak the session */
    }
    tankd_log(s->d, LOG_WARN_LEVEL, "%s %s/%s: %s", s->attach ? "attach" : "exec", s->pod,
              s->container, strerror(-r));
    http_upgrade_close(up);
    session_free(s);
    return;
  }
  tankd_log(s->d, LOG_DEBUG_LEVEL, "%s %s/%s: session started (helper %d)",
            s->attach ? "attach" : "exec", s->pod, s->container, (int)pid);
}

/* state.json says the container's process runs. */
static bool
container_running(const char *state_dir)
{
  _cleanup_free_ char *path = NULL, *buf = NULL;
  size_t len;
  tank_error *e = NULL;
  if (asprintf(&path, "%s/state.json", state_dir) < 0)
    return false;
  if (read_file_limited(path, 64 * 1024, &buf, &len, &e) < 0) {
    tank_error_free(e);
    return false;
  }
  json_t *j = json_loadb(buf, len, 0, NULL);
  const char *st = json_string_value(json_object_get(j, "status"));
  bool running = st && strcmp(st, "running") == 0;
  json_decref(j);
  return running;
}

void
api_session(struct tankd *d, struct pod_rec *p, const char *name, bool attach,
            const struct http_request *req, struct http_reply *reply)
{
  const char *what = attach ? "attach" : "exec";
  if (p == NULL || p->desired == NULL) {
    http_reply_error(reply, 404, NULL, "no pod named %s", name);
    return;
  }
  if (!http_request_wants_upgrade(req, SESSION_PROTOCOL)) {
    http_reply_error(reply, 400, NULL,
                     "%s needs an upgraded connection (Connection: Upgrade, Upgrade: %s)", what,
                     SESSION_PROTOCOL);
    return;
  }
  json_error_t jerr;
  json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &jerr) : json_object();
  if (!json_is_object(body)) {
    http_reply_error(reply, 400, NULL, "%s request: must be a JSON object", what);
    json_decref(body);
    return;
  }
  json_t *cv = json_object_get(body, "container");
  const char *cname = json_string_value(cv);
  if (cv && !cname) {
    http_reply_error(reply, 400, NULL, "%s request: container must be a string", what);
    json_decref(body);
    return;
  }
  const struct spec_pod *pod = p->desired;
  const struct spec_container *c = NULL;
  for (size_t i = 0; i < pod->n_containers; i++)
    if (cname == NULL || strcmp(pod->containers[i].name, cname) == 0) {
      c = &pod->containers[i];
      break;
    }
  if (c == NULL) {
    http_reply_error(reply, 404, NULL, "pod %s has no container named %s", name, cname);
    json_decref(body);
    return;
  }
  struct exec_request er = { 0 };
  tank_error *err = NULL;
  if (attach) {
    if (json_object_size(body) > (cv ? 1u : 0u)) {
      http_reply_error(reply, 400, NULL, "attach request: only `container` may be given");
      json_decref(body);
      return;
    }
    if (!c->tty) {
      http_reply_error(reply, 409, NULL,
                       "container %s of pod %s has no terminal (tty: false): nothing to attach "
                       "to; use `tank logs -f` for its output or `tank exec` for a shell",
                       c->name, name);
      json_decref(body);
      return;
    }
  } else if (exec_request_parse(req->body, req->body_len, &er, &err) < 0) {
    http_reply_error(reply, 400, NULL, "exec request: %s", err->msg);
    tank_error_free(err);
    json_decref(body);
    return;
  }
  exec_request_clear(&er);
  json_object_del(body, "container");
  _cleanup_free_ char *state_dir = NULL;
  if (asprintf(&state_dir, "%s/pods/%s/%s", d->cfg.run_dir, name, c->name) < 0)
    abort();
  if (!container_running(state_dir)) {
    http_reply_error(reply, 409, NULL, "container %s of pod %s is not running", c->name, name);
    json_decref(body);
    return;
  }
  if (n_sessions >= MAX_SESSIONS) {
    http_reply_error(reply, 429, NULL, "%u exec/attach sessions are open already", n_sessions);
    json_decref(body);
    return;
  }
  struct session *s = calloc(1, sizeof *s);
  if (s == NULL)
    abort();
  n_sessions++;
  s->d = d;
  s->attach = attach;
  s->helper_pidfd = -1;
  s->pod = strdup(name);
  s->container = strdup(c->name);
  if (asprintf(&s->config_path, "%s/config.json", state_dir) < 0)
    abort();
  s->request = attach ? NULL : json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (s->pod == NULL || s->container == NULL || (!attach && s->request == NULL))
    abort();
  http_reply_upgrade(reply, SESSION_PROTOCOL, on_upgraded, session_drop, session_server_closed, s);
}
