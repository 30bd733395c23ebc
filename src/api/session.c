/* An exec/attach session as the CLI runs it: one poll over stdin, the
 * connection and a signalfd (SIGWINCH to forward the size; SIGTERM, SIGHUP
 * and SIGINT to leave with the terminal restored). */
#include "api/session.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/frame.h"
#include "util/cleanup.h"

#define TO_SERVER_HIGH (1024 * 1024)

int
session_parse_detach_keys(const char *spec, struct session_opts *o, tank_error **err)
{
  o->n_detach_keys = 0;
  for (const char *p = spec; *p;) {
    size_t n = strcspn(p, ",");
    if (o->n_detach_keys == SESSION_MAX_DETACH_KEYS)
      return tank_error_set(err, EINVAL, "detach keys `%s`: more than %d keys", spec,
                            SESSION_MAX_DETACH_KEYS);
    uint8_t key;
    if (n == 1) {
      key = (uint8_t)p[0];
    } else if (n == 6 && strncmp(p, "ctrl-", 5) == 0 && strchr("@[\\]^_", p[5])) {
      key = (uint8_t)(p[5] - '@');
    } else if (n == 6 && strncmp(p, "ctrl-", 5) == 0 && isalpha((unsigned char)p[5])) {
      key = (uint8_t)(tolower((unsigned char)p[5]) - 'a' + 1);
    } else {
      return tank_error_set(err, EINVAL,
                            "detach keys `%s`: `%.*s` is neither a character nor ctrl-<letter>",
                            spec, (int)n, p);
    }
    o->detach_keys[o->n_detach_keys++] = key;
    p += n + (p[n] == ',');
  }
  return 0;
}

bool
session_window_size(uint16_t *rows, uint16_t *cols)
{
  struct winsize ws;
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
    return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

struct client {
  int sock;
  const struct session_opts *o;
  struct frame_buf from_server, to_server;
  size_t detach_matched; /* how many detach keys in a row were typed (and held back) */
  bool stdin_done, detached, have_exit, raw;
  int32_t code;
};

static void
write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = { fd, POLLOUT, 0 };
      poll(&pf, 1, -1);
      continue;
    }
    if (w <= 0)
      return;
    p += w;
    len -= (size_t)w;
  }
}

static void
send_resize(struct client *c)
{
  uint16_t rows, cols;
  if (!c->o->tty || !session_window_size(&rows, &cols))
    return;
  uint8_t p[4];
  frame_resize_encode(rows, cols, p);
  frame_buf_put(&c->to_server, FRAME_RESIZE, p, sizeof p);
}

/* Input for the process, minus the detach sequence (held back while it may
 * still be one; sent on when the next key shows it was not). */
static void
forward_input(struct client *c, const uint8_t *buf, size_t n)
{
  const uint8_t *keys = c->o->detach_keys;
  size_t nk = c->o->n_detach_keys, start = 0;
  for (size_t i = 0; i < n && nk > 0; i++) {
    if (buf[i] == keys[c->detach_matched]) {
      if (i > start)
        frame_buf_put(&c->to_server, FRAME_STDIN, buf + start, i - start);
      start = i + 1;
      if (++c->detach_matched == nk) {
        c->detached = true;
        return;
      }
      continue;
    }
    if (c->detach_matched > 0) { /* a false start: the held keys were input after all */
      frame_buf_put(&c->to_server, FRAME_STDIN, keys, c->detach_matched);
      c->detach_matched = 0;
      if (buf[i] == keys[0]) {
        start = i + 1;
        c->detach_matched = 1;
        continue;
      }
    }
  }
  if (n > start)
    frame_buf_put(&c->to_server, FRAME_STDIN, buf + start, n - start);
}

static void
print_message(struct client *c, const uint8_t *msg, size_t len)
{
  char buf[FRAME_MAX_ERROR + 16];
  int n = snprintf(buf, sizeof buf, "tank: %.*s%s", (int)len, (const char *)msg,
                   c->raw ? "\r\n" : "\n");
  if (n > 0)
    write_all(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Returns -EPROTO on a malformed stream. */
static int
handle_frames(struct client *c)
{
  size_t off = 0;
  int r = 0;
  while (!c->have_exit) {
    struct frame f;
    ssize_t n = frame_parse(c->from_server.data + off, c->from_server.len - off, &f);
    if (n == 0)
      break;
    if (n < 0) {
      r = -EPROTO;
      break;
    }
    off += (size_t)n;
    switch (f.type) {
      case FRAME_STDOUT:
        write_all(STDOUT_FILENO, f.data, f.len);
        break;
      case FRAME_STDERR:
        write_all(STDERR_FILENO, f.data, f.len);
        break;
      case FRAME_ERROR:
        print_message(c, f.data, f.len);
        break;
      case FRAME_EXIT: {
        int32_t sig;
        frame_exit_decode(&f, &c->code, &sig);
        c->have_exit = true;
        break;
      }
      default:
        r = -EPROTO; /* frames that only a client sends */
        break;
    }
    if (r < 0)
      break;
  }
  frame_buf_consume(&c->from_server, off);
  return r;
}

static int
loop(struct client *c, int sig_fd, tank_error **err)
{
  for (;;) {
    if (c->have_exit || c->detached)
      return 0;
    struct pollfd p[3];
    int n = 0, i_in = -1;
    short ev = POLLIN;
    if (c->to_server.len > 0)
      ev |= POLLOUT;
    p[n++] = (struct pollfd){ c->sock, ev, 0 };
    p[n++] = (struct pollfd){ sig_fd, POLLIN, 0 };
    if (c->o->stdin_open && !c->stdin_done && c->to_server.len < TO_SERVER_HIGH) {
      i_in = n;
      p[n++] = (struct pollfd){ STDIN_FILENO, POLLIN, 0 };
    }
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "poll");
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      if (read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH)
          send_resize(c);
        else { /* leave as a shell would; the helper hangs the process up */
          c->code = 128 + (int32_t)si.ssi_signo;
          c->have_exit = true;
          return 0;
        }
      }
    }
    if (i_in >= 0 && p[i_in].revents) {
      uint8_t buf[32 * 1024];
      ssize_t k = read(STDIN_FILENO, buf, sizeof buf);
      if (k > 0) {
        forward_input(c, buf, (size_t)k);
      } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        c->stdin_done = true;
        frame_buf_put(&c->to_server, FRAME_STDIN_EOF, NULL, 0);
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      uint8_t buf[64 * 1024];
      ssize_t k = recv(c->sock, buf, sizeof buf, MSG_DONTWAIT);
      if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
        if (k < 0)
          return tank_error_set(err, errno, "the session's connection");
        return tank_error_set(err, EPIPE, "the session ended without an exit status");
      }
      if (k > 0) {
        frame_buf_append(&c->from_server, buf, (size_t)k);
        if (handle_frames(c) < 0)
          return tank_error_set(err, EPROTO, "the session's stream is malformed");
      }
    }
    if (c->to_server.len > 0) {
      int r = frame_buf_flush(&c->to_server, c->sock);
      if (r < 0 && !c->have_exit)
        return tank_error_set(err, -r, "send to the session");
    }
  }
}

int
session_run(int sock, const struct session_opts *o, tank_error **err)
{
  struct client c = { .sock = sock, .o = o };
  struct termios saved;
  if (o->tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios raw = saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
      c.raw = true;
  }
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGWINCH);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, &old);
  _cleanup_close_ int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int r;
  if (sig_fd < 0) {
    r = tank_error_set(err, errno, "signalfd");
  } else {
    send_resize(&c);
    frame_buf_append(&c.from_server, o->initial, o->n_initial);
    r = handle_frames(&c) < 0 ? tank_error_set(err, EPROTO, "the session's stream is malformed")
                              : loop(&c, sig_fd, err);
  }
  if (c.raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
  sigprocmask(SIG_SETMASK, &old, NULL);
  frame_buf_clear(&c.from_server);
  frame_buf_clear(&c.to_server);
  if (r < 0)
    return r;
  return c.detached ? SESSION_DETACHED : c.code;
}
