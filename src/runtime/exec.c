/* tank exec, machine side: a second process in a running container, joined to
 * its namespaces and cgroup, under its root, user and security settings, with
 * its stdio relayed as frames over the client's connection. */
#include "runtime/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "runtime/config.h"
#include "runtime/frame.h"
#include "runtime/procsetup.h"
#include "runtime/process.h"
#include "runtime/stage.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

#define QUEUE_HIGH_BYTES (1024 * 1024) /* stop reading a side while this much waits */
#define DRAIN_MS         2000          /* output still open after the exit: wait this long */
#define HANGUP_GRACE_MS  2000          /* client gone: SIGHUP, then SIGKILL after this */

/* ---- the request ------------------------------------------------------------ */

static int
json_strv(json_t *v, const char *what, size_t max, bool need_eq, char ***ret, size_t *ret_n,
          tank_error **err)
{
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return tank_error_set(err, EINVAL, "%s: must be a list of strings", what);
  size_t n = json_array_size(v);
  if (n > max)
    return tank_error_set(err, E2BIG, "%s: more than %zu entries", what, max);
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL)
    return tank_error_set(err, ENOMEM, "%s", what);
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(v, i);
    const char *str = json_string_value(s);
    if (str == NULL || strlen(str) != json_string_length(s)
        || (need_eq && (strchr(str, '=') == NULL || str[0] == '='))) {
      strv_free_n(out, i);
      return tank_error_set(err, EINVAL, "%s[%zu]: must be a string%s", what, i,
                            need_eq ? " NAME=value" : " without NUL");
    }
    if ((out[i] = strdup(str)) == NULL) {
      strv_free_n(out, i);
      return tank_error_set(err, ENOMEM, "%s", what);
    }
  }
  *ret = out;
  *ret_n = n;
  return 0;
}

static int
json_opt_string(json_t *root, const char *key, char **ret, tank_error **err)
{
  json_t *v = json_object_get(root, key);
  if (v == NULL || json_is_null(v))
    return 0;
  const char *s = json_string_value(v);
  if (s == NULL || strlen(s) != json_string_length(v) || s[0] == '\0')
    return tank_error_set(err, EINVAL, "%s: must be a non-empty string", key);
  if ((*ret = strdup(s)) == NULL)
    return tank_error_set(err, ENOMEM, "%s", key);
  return 0;
}

int
exec_request_parse(const char *json, size_t len, struct exec_request *ret, tank_error **err)
{
  if (len > EXEC_REQUEST_MAX_BYTES)
    return tank_error_set(err, E2BIG, "exec request larger than %d bytes", EXEC_REQUEST_MAX_BYTES);
  json_error_t jerr;
  json_t *root = json_loadb(json, len, 0, &jerr);
  if (root == NULL)
    return tank_error_set(err, EINVAL, "exec request: line %d: %s", jerr.line, jerr.text);
  struct exec_request r = { 0 };
  int rc = 0;
  if (!json_is_object(root)) {
    rc = tank_error_set(err, EINVAL, "exec request: must be an object");
    goto out;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v)
  {
    static const char *const known[]
        = { "container", "command", "env", "workdir", "user", "tty", "stdin", "rows", "cols" };
    bool ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
      ok = ok || strcmp(key, known[i]) == 0;
    if (!ok) {
      rc = tank_error_set(err, EINVAL, "exec request: unknown key `%s`", key);
      goto out;
    }
  }
  if ((rc = json_strv(json_object_get(root, "command"), "command", CONFIG_MAX_ARGS, false, &r.argv,
                      &r.argc, err))
          < 0
      || (rc = json_strv(json_object_get(root, "env"), "env", CONFIG_MAX_ENV, true, &r.env,
                         &r.n_env, err))
             < 0
      || (rc = json_opt_string(root, "workdir", &r.workdir, err)) < 0
      || (rc = json_opt_string(root, "user", &r.user, err)) < 0)
    goto out;
  if (r.argc == 0) {
    rc = tank_error_set(err, EINVAL, "command: must name at least the program to run");
    goto out;
  }
  if (r.workdir && r.workdir[0] != '/') {
    rc = tank_error_set(err, EINVAL, "workdir `%s`: must be an absolute path", r.workdir);
    goto out;
  }
  static const char *const flags[] = { "tty", "stdin" };
  bool *dst[] = { &r.tty, &r.stdin_open };
  for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
    v = json_object_get(root, flags[i]);
    if (v && !json_is_boolean(v)) {
      rc = tank_error_set(err, EINVAL, "%s: must be true or false", flags[i]);
      goto out;
    }
    *dst[i] = json_is_true(v);
  }
  static const char *const sizes[] = { "rows", "cols" };
  uint16_t *sdst[] = { &r.rows, &r.cols };
  for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
    v = json_object_get(root, sizes[i]);
    if (v == NULL)
      continue;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
      rc = tank_error_set(err, EINVAL, "%s: must be an integer from 0 to 65535", sizes[i]);
      goto out;
    }
    *sdst[i] = (uint16_t)json_integer_value(v);
  }
out:
  json_decref(root);
  if (rc < 0) {
    exec_request_clear(&r);
    return rc;
  }
  *ret = r;
  return 0;
}

void
exec_request_clear(struct exec_request *r)
{
  strv_free_n(r->argv, r->argc);
  strv_free_n(r->env, r->n_env);
  free(r->workdir);
  free(r->user);
  *r = (struct exec_request){ 0 };
}

/* ---- the target container ------------------------------------------------------ */

/* The container's init from state.json, as a pidfd, after checking that the
 * pid still names the process that was recorded (PIDs wrap). */
static int
open_target(const char *state_dir, pid_t *ret_pid, int *ret_pidfd, tank_error **err)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/state.json", state_dir);
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_file_limited(path, 64 * 1024, &buf, &len, err);
  if (r < 0)
    return tank_error_wrap(err, "the container is not running");
  json_t *st = json_loadb(buf, len, 0, NULL);
  const char *status = json_string_value(json_object_get(st, "status"));
  json_int_t pid = json_integer_value(json_object_get(st, "pid"));
  json_int_t start = json_integer_value(json_object_get(st, "start_time"));
  bool running = status && strcmp(status, "running") == 0 && pid > 0;
  json_decref(st);
  if (!running)
    return tank_error_set(err, ESRCH, "the container is not running (%s)", path);
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0)
    return tank_error_set(err, errno == ESRCH ? ESRCH : errno, "the container's process %d",
                          (int)pid);
  uint64_t now_start;
  tank_error *e = NULL;
  if (proc_start_time((pid_t)pid, &now_start, &e) < 0 || now_start != (uint64_t)start) {
    tank_error_free(e);
    close(pidfd);
    return tank_error_set(err, ESRCH, "the container's process %d has exited", (int)pid);
  }
  *ret_pid = (pid_t)pid;
  *ret_pidfd = pidfd;
  return 0;
}

/* The container's process plan with the request's command, env, cwd and user. */
static int
make_plan(const struct container_config *c, const struct exec_request *req,
          struct process_plan *ret, tank_error **err)
{
  struct image_process img = { 0 };
  bool has_img = false;
  int r = image_process_load(c, &img, &has_img, err);
  if (r < 0)
    return r;
  struct process_plan p = { 0 };
  /* The container's command is replaced by the request's: merging with it
   * set keeps the image's env and working dir and cannot fail for want of a
   * command. */
  struct container_config copy = *c;
  copy.has_command = true;
  copy.command = req->argv;
  copy.n_command = req->argc;
  copy.has_args = false;
  r = process_merge(&copy, has_img ? &img : NULL, c->hostname, &p, err);
  image_process_clear(&img);
  if (r < 0)
    return r;
  for (size_t i = 0; i < req->n_env; i++)
    if (process_plan_env_set(&p, req->env[i]) < 0) {
      process_plan_clear(&p);
      return tank_error_set(err, ENOMEM, "env");
    }
  if (req->tty && process_plan_env_default(&p, "TERM", "xterm") < 0) {
    process_plan_clear(&p);
    return tank_error_set(err, ENOMEM, "env");
  }
  char **fields[] = { &p.cwd, &p.user };
  const char *values[] = { req->workdir, req->user };
  for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
    if (values[i]) {
      free(*fields[i]);
      if ((*fields[i] = strdup(values[i])) == NULL) {
        process_plan_clear(&p);
        return tank_error_set(err, ENOMEM, "plan");
      }
    }
  *ret = p;
  return 0;
}

/* ---- the exec'd process ------------------------------------------------------ */

struct child_ctx {
  const struct container_config *c;
  struct process_plan *plan;
  const struct exec_request *req;
  int target_pidfd;
  int cgroup_fds[CGROUP_MAX_HIERARCHIES];
  size_t n_cgroup_fds;
  int stdio[3];   /* without tty: stdin (or /dev/null), stdout, stderr pipe ends */
  int console_fd; /* with tty: where the PTY master goes (SCM_RIGHTS) */
  int report_fd;  /* close-on-exec: EOF means exec succeeded */
};

static int
send_fd(int sock, int fd, tank_error **err)
{
  char byte = 'm';
  struct iovec iov = { &byte, 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u = { 0 };
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
    return tank_error_set(err, errno, "send the PTY master");
  return 0;
}

static int
recv_fd(int sock)
{
  char byte;
  struct iovec iov = { &byte, 1 };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg
      = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != 1)
    return -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (cm == NULL || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
    return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

/* The PTY comes from the container's own devpts (as runc makes it), so that
 * the process's terminal has a name inside the container; its master goes
 * back to the helper. */
static int
open_console(struct child_ctx *ctx, tank_error **err)
{
  _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return tank_error_set(err, errno, "open the container's /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
    return tank_error_set(err, errno, "unlock the PTY");
  if (ctx->req->rows && ctx->req->cols) {
    struct winsize ws = { .ws_row = ctx->req->rows, .ws_col = ctx->req->cols };
    ioctl(master, TIOCSWINSZ, &ws);
  }
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return tank_error_set(err, errno, "open the PTY's peer");
  int r = send_fd(ctx->console_fd, master, err);
  close(ctx->console_fd);
  if (r < 0) {
    close(slave);
    return r;
  }
  if (setsid() < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
    close(slave);
    return tank_error_set(err, errno, "make the PTY stdio");
  }
  close(slave);
  if (ioctl(0, TIOCSCTTY, 0) < 0)
    return tank_error_set(err, errno, "TIOCSCTTY");
  return 0;
}

static int
setup_pipes(struct child_ctx *ctx, tank_error **err)
{
  int fds[3];
  for (int i = 0; i < 3; i++)
    if ((fds[i] = fcntl(ctx->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
      return tank_error_set(err, errno, "dup stdio");
  for (int i = 0; i < 3; i++)
    if (dup2(fds[i], i) < 0)
      return tank_error_set(err, errno, "dup2 stdio %d", i);
  return 0;
}

static int
join_cgroups(struct child_ctx *ctx, tank_error **err)
{
  for (size_t i = 0; i < ctx->n_cgroup_fds; i++) {
    if (write(ctx->cgroup_fds[i], "0", 1) != 1)
      return tank_error_set(err, errno, "join the container's cgroup");
    close(ctx->cgroup_fds[i]);
  }
  return 0;
}

static _Noreturn void
child_main(struct child_ctx *ctx)
{
  /* Already in the container's PID namespace (the helper set pid_for_children).
   * The cgroup first, while its files are still reachable; then the rest: after
   * the mount namespace "/" and the cwd are the container's root. */
  STEP("cgroup", join_cgroups(ctx, err));
  STEP("join_namespaces", setns(ctx->target_pidfd, CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWNET
                                                       | CLONE_NEWUTS | CLONE_NEWIPC)
                                  < 0
                              ? tank_error_set(err, errno, "setns into the container")
                              : 0);
  STEP("stdio", ctx->req->tty ? open_console(ctx, err) : setup_pipes(ctx, err));
  umask(022);
  const char *stage = NULL;
  tank_error *e = NULL;
  if (procsetup_enter(ctx->c, ctx->plan, /* create_cwd= */ false, &stage, &e) < 0)
    stage_fail(ctx->report_fd, stage, e);
  STEP("reset_signals", procsetup_reset_signals(err));
  STEP("exec", procsetup_exec(ctx->plan, err));
  _exit(127);
}

/* ---- the session ------------------------------------------------------------- */

struct session {
  int sock;
  int pidfd;
  pid_t pid;
  bool tty;
  int master;                /* tty: both directions */
  int in_fd, out_fd, err_fd; /* without tty: pipes; in_fd -1 when stdin is closed */
  bool stdin_eof;
  struct frame_buf from_client, to_client, to_process;
  bool exited, client_gone;
  int code, signal;
};

static void
send_error_and_exit(struct session *s, const char *msg, int code)
{
  size_t n = strlen(msg);
  frame_buf_put(&s->to_client, FRAME_ERROR, msg, n < FRAME_MAX_ERROR ? n : FRAME_MAX_ERROR);
  uint8_t ex[8];
  frame_exit_encode(code, 0, ex);
  frame_buf_put(&s->to_client, FRAME_EXIT, ex, sizeof ex);
}

static void
close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Sends what is queued for the client, waiting (bounded) for a slow one, then
 * waits for it to close: closing with its bytes unread would reset the
 * connection and could lose the tail of ours. */
static void
finish_client(struct session *s)
{
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (waited_ms >= 5000)
      break;
    if (s->to_client.len > 0) {
      if (frame_buf_flush(&s->to_client, s->sock) < 0)
        break;
      if (s->to_client.len > 0) {
        struct pollfd p = { s->sock, POLLOUT, 0 };
        poll(&p, 1, (int)(5000 - waited_ms));
        continue;
      }
      shutdown(s->sock, SHUT_WR);
    }
    struct pollfd p = { s->sock, POLLIN, 0 };
    if (poll(&p, 1, (int)(5000 - waited_ms)) <= 0)
      break;
    char buf[4096];
    ssize_t n = recv(s->sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      break;
  }
}

static void
reap(struct session *s)
{
  if (proc_reap_pidfd(s->pidfd, &s->code, &s->signal))
    s->exited = true;
}

static void
handle_frames(struct session *s)
{
  size_t off = 0;
  for (;;) {
    struct frame f;
    ssize_t n = frame_parse(s->from_client.data + off, s->from_client.len - off, &f);
    if (n == 0)
      break;
    if (n < 0) {
      s->client_gone = true; /* a client that breaks the protocol is a client gone */
      break;
    }
    off += (size_t)n;
    int in = s->tty ? s->master : s->in_fd;
    switch (f.type) {
      case FRAME_STDIN:
        if (in >= 0 && !s->stdin_eof)
          frame_buf_append(&s->to_process, f.data, f.len);
        break;
      case FRAME_STDIN_EOF:
        if (!s->tty)
          s->stdin_eof = true;
        break;
      case FRAME_RESIZE:
        if (s->tty && s->master >= 0) {
          struct winsize ws = { 0 };
          frame_resize_decode(&f, &ws.ws_row, &ws.ws_col);
          ioctl(s->master, TIOCSWINSZ, &ws);
        }
        break;
      default:
        s->client_gone = true;
        break;
    }
  }
  frame_buf_consume(&s->from_client, off);
}

/* Reads one chunk of output into a frame; false at EOF (or EIO: every PTY
 * slave closed). */
static bool
pump_output(struct session *s, int *fd, enum frame_type type)
{
  uint8_t buf[32 * 1024];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return true;
  if (n <= 0) {
    if (*fd == s->master)
      s->master = -1;
    close_fd(fd);
    return false;
  }
  frame_buf_put(&s->to_client, type, buf, (size_t)n);
  return true;
}

static uint64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
relay(struct session *s)
{
  uint64_t drain_deadline = 0;
  for (;;) {
    if (s->client_gone)
      return;
    int out = s->tty ? s->master : s->out_fd;
    int in = s->tty ? s->master : s->in_fd;
    if (s->exited && out < 0 && s->err_fd < 0)
      return;
    /* stdin EOF once everything before it has been written */
    if (!s->tty && s->stdin_eof && s->to_process.len == 0 && s->in_fd >= 0)
      close_fd(&s->in_fd);

    struct pollfd p[5];
    int n = 0, i_sock, i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
    short sock_ev = 0;
    if (s->to_process.len < QUEUE_HIGH_BYTES)
      sock_ev |= POLLIN;
    if (s->to_client.len > 0)
      sock_ev |= POLLOUT;
    i_sock = n;
    p[n++] = (struct pollfd){ s->sock, sock_ev, 0 };
    if (out >= 0 && s->to_client.len < QUEUE_HIGH_BYTES) {
      i_out = n;
      p[n++] = (struct pollfd){ out, POLLIN, 0 };
    }
    if (s->err_fd >= 0 && s->to_client.len < QUEUE_HIGH_BYTES) {
      i_err = n;
      p[n++] = (struct pollfd){ s->err_fd, POLLIN, 0 };
    }
    if (in >= 0 && s->to_process.len > 0) {
      if (i_out >= 0 && p[i_out].fd == in) {
        p[i_out].events |= POLLOUT;
        i_in = i_out;
      } else {
        i_in = n;
        p[n++] = (struct pollfd){ in, POLLOUT, 0 };
      }
    }
    if (!s->exited) {
      i_pid = n;
      p[n++] = (struct pollfd){ s->pidfd, POLLIN, 0 };
    }
    int timeout = -1;
    if (s->exited) {
      uint64_t t = now_ms();
      if (drain_deadline == 0)
        drain_deadline = t + DRAIN_MS;
      if (t >= drain_deadline)
        return; /* something else holds the output open: stop waiting for it */
      timeout = (int)(drain_deadline - t);
    }
    int r = poll(p, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR)
      return;
    if (r <= 0)
      continue;
    if (i_pid >= 0 && p[i_pid].revents)
      reap(s);
    if (p[i_sock].revents & (POLLIN | POLLHUP | POLLERR)) {
      uint8_t buf[64 * 1024];
      ssize_t k = recv(s->sock, buf, sizeof buf, MSG_DONTWAIT);
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
        s->client_gone = true;
      else if (k > 0) {
        frame_buf_append(&s->from_client, buf, (size_t)k);
        handle_frames(s);
      }
    }
    if (s->to_client.len > 0 && frame_buf_flush(&s->to_client, s->sock) < 0)
      s->client_gone = true;
    if (i_in >= 0 && (p[i_in].revents & (POLLOUT | POLLERR)) && in >= 0
        && frame_buf_flush(&s->to_process, in) < 0) {
      s->to_process.len = 0; /* the process closed its stdin: drop what it will never read */
      if (!s->tty)
        close_fd(&s->in_fd);
    }
    if (i_out >= 0 && (p[i_out].revents & (POLLIN | POLLHUP | POLLERR)) && out >= 0)
      pump_output(s, s->tty ? &s->master : &s->out_fd, FRAME_STDOUT);
    if (i_err >= 0 && p[i_err].revents && s->err_fd >= 0)
      pump_output(s, &s->err_fd, FRAME_STDERR);
  }
}

/* The client went away first: hang the process up the way a terminal would,
 * and make sure it does not outlive the session for long. */
static void
hang_up(struct session *s)
{
  close_fd(&s->master);
  close_fd(&s->in_fd);
  close_fd(&s->out_fd);
  close_fd(&s->err_fd);
  if (s->exited)
    return;
  syscall(SYS_pidfd_send_signal, s->pidfd, SIGHUP, NULL, 0);
  struct pollfd p = { s->pidfd, POLLIN, 0 };
  if (poll(&p, 1, HANGUP_GRACE_MS) <= 0)
    syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
  siginfo_t si;
  waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED);
}

/* Everything up to a running process; on failure the message for the client
 * and the exit code to report. */
static int
start_process(struct session *s, const struct container_config *c, const struct exec_request *req,
              char *msg, size_t msg_size, int *ret_code)
{
  *ret_code = EXEC_EXIT_SETUP;
  tank_error *err = NULL;
  pid_t target = -1;
  _cleanup_close_ int target_pidfd = -EBADF;
  struct process_plan plan = { 0 };
  struct child_ctx ctx = { .c = c, .req = req, .console_fd = -1, .report_fd = -1 };
  int child_ends[3] = { -1, -1, -1 }, console[2] = { -1, -1 }, report[2] = { -1, -1 };
  int own_pidns = -1, r = -1;
  pid_t pid = -1;

  if (open_target(c->state_dir, &target, &target_pidfd, &err) < 0
      || make_plan(c, req, &plan, &err) < 0
      || cgroup_open_procs_of(target, ctx.cgroup_fds, &ctx.n_cgroup_fds, &err) < 0) {
    snprintf(msg, msg_size, "%s", err->msg);
    goto out;
  }
  ctx.target_pidfd = target_pidfd;
  ctx.plan = &plan;
  if (req->tty) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)
      goto sys_fail;
    ctx.console_fd = console[1];
  } else {
    int in[2] = { -1, -1 }, o[2], e[2];
    if (req->stdin_open) {
      if (pipe2(in, O_CLOEXEC) < 0)
        goto sys_fail;
    } else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
      goto sys_fail;
    }
    child_ends[0] = in[0];
    s->in_fd = in[1];
    if (pipe2(o, O_CLOEXEC) < 0)
      goto sys_fail;
    child_ends[1] = o[1];
    s->out_fd = o[0];
    if (pipe2(e, O_CLOEXEC) < 0)
      goto sys_fail;
    child_ends[2] = e[1];
    s->err_fd = e[0];
    memcpy(ctx.stdio, child_ends, sizeof child_ends);
  }
  if (pipe2(report, O_CLOEXEC) < 0)
    goto sys_fail;
  ctx.report_fd = report[1];

  /* Children from here on are born in the container's PID namespace; we go
   * back to our own right after (nothing else of ours may be born there). */
  own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own_pidns < 0 || setns(target_pidfd, CLONE_NEWPID) < 0)
    goto sys_fail;
  pid = fork();
  if (pid == 0)
    child_main(&ctx);
  int fork_errno = errno;
  if (setns(own_pidns, CLONE_NEWPID) < 0)
    abort(); /* cannot happen: our own namespace is always joinable */
  if (pid < 0) {
    errno = fork_errno;
    goto sys_fail;
  }
  s->pid = pid;
  s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (s->pidfd < 0)
    abort(); /* our unreaped child cannot be gone */
  for (int i = 0; i < 3; i++)
    close_fd(&child_ends[i]);
  close_fd(&report[1]);
  if (req->tty) {
    close_fd(&console[1]);
    s->master = recv_fd(console[0]); /* -1 when the child failed before its PTY */
  }
  struct child_report rep;
  ssize_t n;
  do
    n = read(report[0], &rep, sizeof rep);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    rep.msg[sizeof rep.msg - 1] = '\0';
    snprintf(msg, msg_size, "%s", rep.msg);
    if (strncmp(rep.msg, "stage=exec ", 11) == 0)
      *ret_code = rep.errnum == ENOENT ? EXEC_EXIT_NOT_FOUND : EXEC_EXIT_SETUP;
    siginfo_t si;
    waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED);
    goto out;
  }
  r = 0;
  goto out;
sys_fail:
  snprintf(msg, msg_size, "start the process: %s", strerror(errno));
out:
  for (int i = 0; i < 3; i++)
    close_fd(&child_ends[i]);
  for (int i = 0; i < 2; i++) {
    close_fd(&console[i]);
    close_fd(&report[i]);
  }
  for (size_t i = 0; i < ctx.n_cgroup_fds; i++)
    close(ctx.cgroup_fds[i]);
  close_fd(&own_pidns);
  process_plan_clear(&plan);
  tank_error_free(err);
  return r;
}

static void
set_nonblock(int fd)
{
  if (fd >= 0)
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int
exec_session(const char *config_path, const struct exec_request *req, int sock_fd)
{
  signal(SIGPIPE, SIG_IGN);
  struct session s = { .sock = sock_fd,
                       .pidfd = -1,
                       .tty = req->tty,
                       .master = -1,
                       .in_fd = -1,
                       .out_fd = -1,
                       .err_fd = -1 };
  set_nonblock(sock_fd);
  _cleanup_config_ struct container_config *c = NULL;
  tank_error *err = NULL;
  char msg[1100];
  int code;
  if (container_config_load(config_path, &c, &err) < 0) {
    send_error_and_exit(&s, err->msg, EXEC_EXIT_SETUP);
    tank_error_free(err);
  } else if (start_process(&s, c, req, msg, sizeof msg, &code) < 0) {
    send_error_and_exit(&s, msg, code);
  } else {
    set_nonblock(s.master);
    set_nonblock(s.in_fd);
    set_nonblock(s.out_fd);
    set_nonblock(s.err_fd);
    relay(&s);
    if (s.client_gone) {
      hang_up(&s);
    } else {
      if (!s.exited) { /* output drained (or timed out) before the exit: wait for it */
        siginfo_t si;
        waitid((idtype_t)P_PIDFD, (id_t)s.pidfd, &si, WEXITED | WNOWAIT);
        reap(&s);
      }
      uint8_t ex[8];
      frame_exit_encode(s.code, s.signal, ex);
      frame_buf_put(&s.to_client, FRAME_EXIT, ex, sizeof ex);
    }
  }
  if (!s.client_gone)
    finish_client(&s);
  close_fd(&s.master);
  close_fd(&s.in_fd);
  close_fd(&s.out_fd);
  close_fd(&s.err_fd);
  close_fd(&s.pidfd);
  frame_buf_clear(&s.from_client);
  frame_buf_clear(&s.to_client);
  frame_buf_clear(&s.to_process);
  return 0;
}
