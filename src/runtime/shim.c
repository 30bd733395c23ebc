/* The shim's monitor loop: one poll over the container's pidfd, its output,
 * signals, the stop timer and the attach socket. */
#include "runtime/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "runtime/crilog.h"
#include "runtime/frame.h"
#include "runtime/process.h"
#include "runtime/spawn.h"
#include "runtime/stage.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define SHIM_MAX_ATTACH 8
#define DRAIN_MS        2000

struct shim {
  struct container_config *c;
  struct tank_cgroup *cg;
  struct cri_log *log;
  pid_t pid;
  int pidfd;
  int out_fd, err_fd; /* pipes, or out_fd = PTY master in tty mode */
  int sig_fd, timer_fd, listen_fd;
  int clients[SHIM_MAX_ATTACH];
  struct frame_buf client_in[SHIM_MAX_ATTACH]; /* a partial frame from each client */
  int stop_signal;
  bool stopping, exited;
  int status_code, status_signal;
  char started_at[40];
  char error[1100];
};

static void
notify_ready(int *fd, const char *fmt, ...)
{
  if (*fd < 0)
    return;
  char buf[1200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) {
    ssize_t w = write(*fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
  }
  close(*fd);
  *fd = -1;
}

static void
write_state(struct shim *s, const char *status)
{
  json_t *doc = json_pack("{ss ss si si}", "id", s->c->id, "status", status, "shim_pid",
                          (int)getpid(), "pid", (int)s->pid);
  uint64_t st;
  tank_error *e = NULL;
  if (proc_start_time(getpid(), &st, &e) == 0)
    json_object_set_new(doc, "shim_start_time", json_integer((json_int_t)st));
  tank_error_freep(&e);
  if (s->pid > 0 && proc_start_time(s->pid, &st, &e) == 0)
    json_object_set_new(doc, "start_time", json_integer((json_int_t)st));
  tank_error_freep(&e);
  if (s->started_at[0])
    json_object_set_new(doc, "started_at", json_string(s->started_at));
  if (s->error[0])
    json_object_set_new(doc, "error", json_string(s->error));
  if (s->cg)
    json_object_set_new(doc, "cgroup", json_string(s->c->cgroup_path));
  state_write_json(s->c->state_dir, "state.json", doc, &e);
  tank_error_free(e);
  json_decref(doc);
}

static void
write_exit(struct shim *s, const struct cgroup_stats *st, bool have_stats)
{
  char now[40];
  rfc3339_now(now);
  json_t *doc = json_pack("{si ss}", "exit_code", s->status_code, "finished_at", now);
  json_object_set_new(doc, "signal",
                      s->status_signal ? json_integer(s->status_signal) : json_null());
  json_object_set_new(doc, "oom_killed", json_boolean(have_stats && st->oom_kills > 0));
  json_object_set_new(doc, "stopped", json_boolean(s->stopping));
  if (s->started_at[0])
    json_object_set_new(doc, "started_at", json_string(s->started_at));
  json_object_set_new(doc, "error", s->error[0] ? json_string(s->error) : json_null());
  if (have_stats)
    json_object_set_new(
        doc, "cgroup_stats",
        json_pack("{sI sI sI sI sI sI sI sI}", "memory_current_bytes",
                  (json_int_t)st->memory_current_bytes, "memory_peak_bytes",
                  (json_int_t)st->memory_peak_bytes, "oom_kills", (json_int_t)st->oom_kills,
                  "pids_current", (json_int_t)st->pids_current, "cpu_usage_us",
                  (json_int_t)st->cpu_usage_us, "cpu_nr_periods", (json_int_t)st->cpu_nr_periods,
                  "cpu_nr_throttled", (json_int_t)st->cpu_nr_throttled, "cpu_throttled_us",
                  (json_int_t)st->cpu_throttled_us));
  tank_error *e = NULL;
  state_write_json(s->c->state_dir, "exit.json", doc, &e);
  tank_error_free(e);
  json_decref(doc);
}

static int
open_attach(struct shim *s, tank_error **err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/attach", s->c->state_dir);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path)
    return tank_error_set(err, ENAMETOOLONG, "attach socket path under `%s`", s->c->state_dir);
  unlink(addr.sun_path);
  s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0)
    return tank_error_set(err, errno, "attach socket");
  if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0
      || listen(s->listen_fd, SHIM_MAX_ATTACH) < 0)
    return tank_error_set(err, errno, "bind attach socket `%s`", addr.sun_path);
  chmod(addr.sun_path, 0600);
  return 0;
}

static int
open_stdio(struct shim *s, struct spawn_stdio *io, tank_error **err)
{
  if (s->c->tty) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
      return tank_error_set(err, errno, "open a PTY");
    s->out_fd = m;
    const char *name = ptsname(m);
    int slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    if (slave < 0)
      return tank_error_set(err, errno, "open the PTY slave");
    *io = (struct spawn_stdio){ slave, slave, slave, true };
    return 0;
  }
  int out[2], errp[2];
  if (pipe2(out, O_CLOEXEC) < 0)
    return tank_error_set(err, errno, "pipe");
  if (pipe2(errp, O_CLOEXEC) < 0) {
    close(out[0]);
    close(out[1]);
    return tank_error_set(err, errno, "pipe");
  }
  s->out_fd = out[0];
  s->err_fd = errp[0];
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0) {
    close(out[1]);
    close(errp[1]);
    return tank_error_set(err, errno, "open /dev/null");
  }
  *io = (struct spawn_stdio){ null, out[1], errp[1], false };
  return 0;
}

static void
close_child_stdio(struct spawn_stdio *io)
{
  if (io->in >= 0)
    close(io->in);
  if (!io->tty) {
    if (io->out >= 0)
      close(io->out);
    if (io->err >= 0)
      close(io->err);
  }
  io->in = io->out = io->err = -1;
}

/* Exit code for a setup failure: 127 not found, 126 cannot execute, 125 otherwise. */
static int
setup_failure_code(const char *msg, int errnum)
{
  if (strncmp(msg, "stage=exec ", 11) == 0)
    return errnum == ENOENT ? 127 : 126;
  return 125;
}

static int
start(struct shim *s, tank_error **err)
{
  const struct container_config *c = s->c;
  struct image_process img = { 0 };
  bool has_img = false;
  int r;
  if ((r = image_process_load(c, &img, &has_img, err)) < 0)
    return tank_error_wrap(err, "stage=image_config errno=%s", errno_name(-r));
  s->stop_signal = c->stop_signal ? c->stop_signal : img.stop_signal ? img.stop_signal : SIGTERM;
  struct process_plan plan = { 0 };
  r = process_merge(c, has_img ? &img : NULL, c->hostname, &plan, err);
  image_process_clear(&img);
  if (r < 0)
    return tank_error_wrap(err, "stage=process errno=EINVAL");
  const char *dirs[] = { c->upper_dir, c->work_dir, c->rootfs_dir };
  for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
    if ((r = mkdir_parents(dirs[i], 0755)) < 0) {
      process_plan_clear(&plan);
      return tank_error_set(err, -r, "stage=rootfs errno=%s: mkdir `%s`", errno_name(-r), dirs[i]);
    }
  if (c->cgroup_path) {
    r = cgroup_create(c->cgroup_root, c->cgroup_path, c->cgroup_version, &c->limits, &s->cg, err);
    if (r < 0) {
      process_plan_clear(&plan);
      return tank_error_wrap(err, "stage=cgroup errno=%s", errno_name(-r));
    }
  }
  struct spawn_stdio io = { -1, -1, -1, false };
  if ((r = open_stdio(s, &io, err)) < 0) {
    process_plan_clear(&plan);
    return tank_error_wrap(err, "stage=stdio errno=%s", errno_name(-r));
  }
  r = container_spawn(c, &plan, s->cg, &io, &s->pid, &s->pidfd, err);
  close_child_stdio(&io);
  process_plan_clear(&plan);
  return r;
}

static void
drop_client(struct shim *s, int i)
{
  close(s->clients[i]);
  s->clients[i] = -1;
  frame_buf_clear(&s->client_in[i]);
}

/* Attach clients speak frames (runtime/frame.h): output goes out as one frame
 * per chunk, to every client at once. */
static void
broadcast(struct shim *s, enum frame_type type, const void *buf, size_t len)
{
  uint8_t h[FRAME_HEADER_SIZE];
  frame_header(type, (uint32_t)len, h);
  struct iovec iov[2] = { { h, sizeof h }, { (void *)buf, len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
  for (int i = 0; i < SHIM_MAX_ATTACH; i++) {
    if (s->clients[i] < 0)
      continue;
    ssize_t w = sendmsg(s->clients[i], &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 || (size_t)w != sizeof h + len) /* a slow reader is dropped, never waited for */
      drop_client(s, i);
  }
}

/* Reads one chunk of output; returns false at EOF. */
static bool
pump(struct shim *s, int *fd, enum cri_stream stream)
{
  char buf[4096];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) { /* EOF, or EIO from a PTY master once every slave is closed */
    tank_error *e = NULL;
    cri_log_flush(s->log, stream, &e);
    tank_error_free(e);
    close(*fd);
    *fd = -1;
    return false;
  }
  tank_error *e = NULL;
  cri_log_write(s->log, stream, buf, (size_t)n, &e);
  tank_error_free(e);
  broadcast(s, stream == CRI_STDERR ? FRAME_STDERR : FRAME_STDOUT, buf, (size_t)n);
  return true;
}

static void
begin_stop(struct shim *s)
{
  if (s->stopping || s->exited)
    return;
  s->stopping = true;
  syscall(SYS_pidfd_send_signal, s->pidfd, s->stop_signal, NULL, 0);
  uint64_t ms = s->c->stop_timeout_ms;
  struct itimerspec its = { .it_value = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L } };
  if (ms == 0)
    its.it_value.tv_nsec = 1;
  timerfd_settime(s->timer_fd, 0, &its, NULL);
}

static void
kill_all(struct shim *s)
{
  tank_error *e = NULL;
  if (s->cg)
    cgroup_kill(s->cg, &e);
  tank_error_free(e);
  syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

static void
reap(struct shim *s)
{
  if (proc_reap_pidfd(s->pidfd, &s->status_code, &s->status_signal))
    s->exited = true;
}

static void
accept_client(struct shim *s)
{
  int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    return;
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (s->clients[i] < 0) {
      s->clients[i] = fd;
      return;
    }
  /* full: refuse, saying why */
  char msg[80];
  int n = snprintf(msg, sizeof msg, "%d clients are attached already", SHIM_MAX_ATTACH);
  struct frame_buf b = { 0 };
  frame_buf_put(&b, FRAME_ERROR, msg, (size_t)n);
  ssize_t w = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)w;
  frame_buf_clear(&b);
  close(fd);
}

static void
client_input(struct shim *s, int i)
{
  uint8_t buf[4096];
  ssize_t n = recv(s->clients[i], buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0 || s->client_in[i].len + (size_t)n > 2 * (FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD)) {
    drop_client(s, i);
    return;
  }
  struct frame_buf *in = &s->client_in[i];
  frame_buf_append(in, buf, (size_t)n);
  size_t off = 0;
  for (;;) {
    struct frame f;
    ssize_t k = frame_parse(in->data + off, in->len - off, &f);
    if (k == 0)
      break;
    if (k < 0) {
      drop_client(s, i);
      return;
    }
    off += (size_t)k;
    if (!s->c->tty || s->out_fd < 0)
      continue; /* without a PTY there is nowhere for input to go */
    if (f.type == FRAME_STDIN) {
      ssize_t w = write(s->out_fd, f.data, f.len);
      (void)w;
    } else if (f.type == FRAME_RESIZE) {
      struct winsize ws = { 0 };
      frame_resize_decode(&f, &ws.ws_row, &ws.ws_col);
      ioctl(s->out_fd, TIOCSWINSZ, &ws);
    }
  }
  frame_buf_consume(in, off);
}

/* The last frame every attached client gets: how the container ended. */
static void
broadcast_exit(struct shim *s)
{
  uint8_t ex[8];
  frame_exit_encode(s->status_code, s->status_signal, ex);
  broadcast(s, FRAME_EXIT, ex, sizeof ex);
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (s->clients[i] >= 0)
      drop_client(s, i);
}

static void
monitor(struct shim *s)
{
  uint64_t drain_deadline_ms = 0;
  for (;;) {
    struct pollfd p[6 + SHIM_MAX_ATTACH];
    int n = 0;
    int i_pid = -1, i_out = -1, i_err = -1, i_sig, i_timer, i_listen = -1, i_cl = 0;
    if (!s->exited) {
      i_pid = n;
      p[n++] = (struct pollfd){ s->pidfd, POLLIN, 0 };
    }
    if (s->out_fd >= 0) {
      i_out = n;
      p[n++] = (struct pollfd){ s->out_fd, POLLIN, 0 };
    }
    if (s->err_fd >= 0) {
      i_err = n;
      p[n++] = (struct pollfd){ s->err_fd, POLLIN, 0 };
    }
    i_sig = n;
    p[n++] = (struct pollfd){ s->sig_fd, POLLIN, 0 };
    i_timer = n;
    p[n++] = (struct pollfd){ s->timer_fd, POLLIN, 0 };
    if (s->listen_fd >= 0) {
      i_listen = n;
      p[n++] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
    }
    i_cl = n;
    int map[SHIM_MAX_ATTACH];
    for (int i = 0; i < SHIM_MAX_ATTACH; i++)
      if (s->clients[i] >= 0) {
        map[n - i_cl] = i;
        p[n++] = (struct pollfd){ s->clients[i], POLLIN, 0 };
      }
    if (s->exited && s->out_fd < 0 && s->err_fd < 0)
      return;
    int timeout = -1;
    if (s->exited) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      uint64_t now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
      if (drain_deadline_ms == 0)
        drain_deadline_ms = now_ms + DRAIN_MS;
      if (now_ms >= drain_deadline_ms)
        return; /* something outside the container holds the pipe: stop waiting */
      timeout = (int)(drain_deadline_ms - now_ms);
    }
    int r = poll(p, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR)
      return;
    if (r <= 0)
      continue;
    if (i_pid >= 0 && p[i_pid].revents)
      reap(s);
    if (i_out >= 0 && p[i_out].revents)
      pump(s, &s->out_fd, CRI_STDOUT);
    if (i_err >= 0 && p[i_err].revents)
      pump(s, &s->err_fd, CRI_STDERR);
    if (p[i_sig].revents) {
      struct signalfd_siginfo si;
      if (read(s->sig_fd, &si, sizeof si) == sizeof si
          && (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT))
        begin_stop(s);
    }
    if (p[i_timer].revents) {
      uint64_t ticks;
      if (read(s->timer_fd, &ticks, sizeof ticks) == sizeof ticks && !s->exited)
        kill_all(s);
    }
    if (i_listen >= 0 && p[i_listen].revents)
      accept_client(s);
    for (int k = i_cl; k < n; k++)
      if (p[k].revents && s->clients[map[k - i_cl]] >= 0)
        client_input(s, map[k - i_cl]);
  }
}

static void
teardown(struct shim *s, struct cgroup_stats *st, bool *have_stats)
{
  *have_stats = false;
  if (s->cg) {
    tank_error *e = NULL;
    *have_stats = cgroup_read_stats(s->cg, st, &e) == 0;
    tank_error_freep(&e);
    cgroup_kill(s->cg, &e); /* anything that outlived init (e.g. no pid namespace) */
    tank_error_freep(&e);
    cgroup_destroy(s->cg, &e);
    tank_error_freep(&e);
    s->cg = cgroup_free(s->cg);
  }
  if (!s->c->keep_upper) {
    rm_tree(s->c->upper_dir);
    rm_tree(s->c->work_dir);
  }
  rmdir(s->c->rootfs_dir);
}

int
shim_run(struct container_config *c, int ready_fd)
{
  struct shim s = { .c = c,
                    .pid = -1,
                    .pidfd = -1,
                    .out_fd = -1,
                    .err_fd = -1,
                    .sig_fd = -1,
                    .timer_fd = -1,
                    .listen_fd = -1 };
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    s.clients[i] = -1;
  int code = 125;
  tank_error *err = NULL;
  int r = mkdir_parents(c->state_dir, 0700);
  if (r < 0) {
    notify_ready(&ready_fd, "err stage=state errno=%s: mkdir `%s`\n", errno_name(-r), c->state_dir);
    container_config_free(c);
    return 125;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  s.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  s.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  write_state(&s, "creating");

  _cleanup_free_ char *log_path = NULL;
  if (c->log_path == NULL && asprintf(&log_path, "%s/container.log", c->state_dir) < 0)
    abort();
  if (s.sig_fd < 0 || s.timer_fd < 0)
    r = tank_error_set(&err, errno, "stage=shim errno=%s: signalfd/timerfd", errno_name(errno));
  else if ((r = cri_log_open(c->log_path ? c->log_path : log_path, c->log_max_bytes,
                             c->log_max_files, &s.log, &err))
           < 0)
    tank_error_wrap(&err, "stage=log errno=%s", errno_name(-r));
  else if ((r = open_attach(&s, &err)) < 0)
    tank_error_wrap(&err, "stage=attach errno=%s", errno_name(-r));
  else
    r = start(&s, &err);

  if (r < 0) {
    snprintf(s.error, sizeof s.error, "%s", err->msg);
    code = setup_failure_code(err->msg, err->errnum);
    s.status_code = code;
    tank_error_freep(&err);
    struct cgroup_stats st;
    bool have;
    teardown(&s, &st, &have);
    write_exit(&s, &st, false);
    write_state(&s, "failed");
    notify_ready(&ready_fd, "err %s\n", s.error);
  } else {
    rfc3339_now(s.started_at);
    write_state(&s, "running");
    notify_ready(&ready_fd, "ok %d\n", (int)s.pid);
    monitor(&s);
    if (!s.exited) { /* output drained without an exit: wait for it */
      siginfo_t si;
      waitid((idtype_t)P_PIDFD, (id_t)s.pidfd, &si, WEXITED | WNOWAIT);
      reap(&s);
    }
    broadcast_exit(&s);
    struct cgroup_stats st;
    bool have;
    teardown(&s, &st, &have);
    write_exit(&s, &st, have);
    write_state(&s, "exited");
    code = s.status_code;
  }
  if (s.listen_fd >= 0) {
    char path[4096];
    snprintf(path, sizeof path, "%s/attach", c->state_dir);
    unlink(path);
    close(s.listen_fd);
  }
  for (int i = 0; i < SHIM_MAX_ATTACH; i++)
    if (s.clients[i] >= 0)
      drop_client(&s, i);
  int fds[] = { s.pidfd, s.out_fd, s.err_fd, s.sig_fd, s.timer_fd };
  for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
    if (fds[i] >= 0)
      close(fds[i]);
  cri_log_close(s.log);
  cgroup_free(s.cg);
  container_config_free(c);
  return code;
}
