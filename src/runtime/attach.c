/* tank attach, machine side: relays the client's connection to the attach
 * socket of the container's shim. Both speak frames, so bytes pass through
 * as they are; only the stream from the shim is followed frame by frame, to
 * know whether it ended with the exit status or has to be told it. */
#include "runtime/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/frame.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define QUEUE_HIGH_BYTES (1024 * 1024)
#define EXIT_WAIT_MS     3000 /* the shim writes exit.json a moment after it closes */

struct relay {
  int client, shim;
  struct frame_buf to_client, to_shim, from_shim;
  bool saw_exit, saw_error, client_gone, shim_gone;
};

static void
error_and_exit(struct relay *r, const char *msg, int code, int signal)
{
  if (msg)
    frame_buf_put(&r->to_client, FRAME_ERROR, msg, strlen(msg));
  uint8_t ex[8];
  frame_exit_encode(code, signal, ex);
  frame_buf_put(&r->to_client, FRAME_EXIT, ex, sizeof ex);
}

/* Moves the complete frames read from the shim to the client's queue. */
static bool
forward_frames(struct relay *r)
{
  size_t off = 0;
  for (;;) {
    struct frame f;
    ssize_t n = frame_parse(r->from_shim.data + off, r->from_shim.len - off, &f);
    if (n == 0)
      break;
    if (n < 0)
      return false;
    frame_buf_append(&r->to_client, r->from_shim.data + off, (size_t)n);
    off += (size_t)n;
    if (f.type == FRAME_EXIT)
      r->saw_exit = true;
    if (f.type == FRAME_ERROR)
      r->saw_error = true; /* the shim refused us (it said why) */
  }
  frame_buf_consume(&r->from_shim, off);
  return true;
}

/* The container ended without telling us (or before we attached): its
 * exit.json says how, once the shim has written it. */
static void
exit_from_file(struct relay *r, const char *state_dir)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/exit.json", state_dir);
  for (int waited = 0; waited < EXIT_WAIT_MS; waited += 50) {
    _cleanup_free_ char *buf = NULL;
    size_t len;
    tank_error *e = NULL;
    if (read_file_limited(path, 64 * 1024, &buf, &len, &e) == 0) {
      json_t *j = json_loadb(buf, len, 0, NULL);
      json_t *code = json_object_get(j, "exit_code"), *sig = json_object_get(j, "signal");
      if (json_is_integer(code)) {
        error_and_exit(r, NULL, (int)json_integer_value(code),
                       json_is_integer(sig) ? (int)json_integer_value(sig) : 0);
        json_decref(j);
        return;
      }
      json_decref(j);
    }
    tank_error_free(e);
    usleep(50 * 1000);
  }
  error_and_exit(r, "the container's attach socket closed without an exit status", 125, 0);
}

static int
connect_shim(const char *state_dir, int *ret_fd, tank_error **err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/attach", state_dir);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path)
    return tank_error_set(err, ENAMETOOLONG, "attach socket under `%s`", state_dir);
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tank_error_set(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    return tank_error_set(err, errno, "the container is not running (connect `%s`)", addr.sun_path);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  *ret_fd = steal_fd(&fd);
  return 0;
}

static void
pass(struct relay *r, int from, struct frame_buf *to, bool *gone)
{
  uint8_t buf[64 * 1024];
  ssize_t n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
    *gone = true;
  else if (n > 0)
    frame_buf_append(to, buf, (size_t)n);
}

static void
run(struct relay *r)
{
  while (!r->client_gone && !r->shim_gone && !r->saw_exit) {
    struct pollfd p[2] = {
      { r->client, 0, 0 },
      { r->shim, 0, 0 },
    };
    if (r->to_shim.len < QUEUE_HIGH_BYTES)
      p[0].events |= POLLIN;
    if (r->to_client.len > 0)
      p[0].events |= POLLOUT;
    if (r->to_client.len < QUEUE_HIGH_BYTES)
      p[1].events |= POLLIN;
    if (r->to_shim.len > 0)
      p[1].events |= POLLOUT;
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
      pass(r, r->client, &r->to_shim, &r->client_gone);
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      pass(r, r->shim, &r->from_shim, &r->shim_gone);
      if (!forward_frames(r))
        r->shim_gone = true;
    }
    if (r->to_shim.len > 0 && frame_buf_flush(&r->to_shim, r->shim) < 0)
      r->shim_gone = true;
    if (r->to_client.len > 0 && frame_buf_flush(&r->to_client, r->client) < 0)
      r->client_gone = true;
  }
}

/* Sends the rest to the client (bounded), then waits for it to close first. */
static void
finish(struct relay *r)
{
  fcntl(r->client, F_SETFL, fcntl(r->client, F_GETFL) & ~O_NONBLOCK);
  struct timeval tv = { 5, 0 };
  setsockopt(r->client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(r->client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < r->to_client.len) {
    ssize_t w = send(r->client, r->to_client.data + off, r->to_client.len - off, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    off += (size_t)w;
  }
  shutdown(r->client, SHUT_WR);
  char buf[4096];
  while (recv(r->client, buf, sizeof buf, 0) > 0)
    ;
}

int
attach_session(const char *config_path, int sock_fd)
{
  signal(SIGPIPE, SIG_IGN);
  struct relay r = { .client = sock_fd, .shim = -1 };
  fcntl(sock_fd, F_SETFL, fcntl(sock_fd, F_GETFL) | O_NONBLOCK);
  _cleanup_config_ struct container_config *c = NULL;
  tank_error *err = NULL;
  if (container_config_load(config_path, &c, &err) < 0
      || connect_shim(c->state_dir, &r.shim, &err) < 0) {
    error_and_exit(&r, err->msg, 125, 0);
    tank_error_free(err);
  } else {
    run(&r);
    if (r.shim_gone && !r.saw_exit && !r.client_gone) {
      if (r.saw_error)
        error_and_exit(&r, NULL, 125, 0);
      else
        exit_from_file(&r, c->state_dir);
    }
  }
  if (!r.client_gone)
    finish(&r);
  if (r.shim >= 0)
    close(r.shim);
  frame_buf_clear(&r.to_client);
  frame_buf_clear(&r.to_shim);
  frame_buf_clear(&r.from_shim);
  return 0;
}
