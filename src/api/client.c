/* HTTP/1.1 over tankd's unix socket, spoken by hand: one request per
 * connection ("Connection: close"), replies framed by Content-Length, chunked
 * transfer coding (streams) or the end of the connection. The CLI runs one or
 * two requests per invocation, so what matters is its start-up: libcurl with
 * what it pulls in (TLS, Kerberos, LDAP, IDN, ...) costs ~4 ms of loading per
 * call, a third of `tank apply` → running, for a protocol this small. */
#include "api/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

#define HEAD_MAX       (64 * 1024)
#define REPLY_MAX      (64 * 1024 * 1024)
#define LINE_MAX_BYTES (16 * 1024 * 1024)

typedef int (*body_fn)(long status, const char *data, size_t len, void *userdata);

struct conn {
  int fd;
  char buf[16384];
  size_t start, end; /* unread bytes: buf[start, end) */
};

static int
fill(struct conn *c)
{
  if (c->start == c->end)
    c->start = c->end = 0;
  for (;;) {
    ssize_t n = recv(c->fd, c->buf + c->end, sizeof c->buf - c->end, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    c->end += (size_t)n;
    return (int)n; /* 0: the connection ended */
  }
}

static int
send_all(int fd, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The value of header `name` in the NUL-terminated head, or false. */
static bool
header(const char *head, const char *name, char *out, size_t size)
{
  size_t n = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
    p += 2;
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      size_t len = strcspn(v, "\r\n");
      snprintf(out, size, "%.*s", (int)len, v);
      return true;
    }
  }
  return false;
}

/* Reads up to the end of a CRLF-terminated line into out (bounded). */
static int
read_line(struct conn *c, char *out, size_t size)
{
  size_t len = 0;
  for (;;) {
    while (c->start < c->end) {
      char ch = c->buf[c->start++];
      if (ch == '\n') {
        if (len > 0 && out[len - 1] == '\r')
          len--;
        out[len] = '\0';
        return 0;
      }
      if (len + 1 >= size)
        return -EPROTO;
      out[len++] = ch;
    }
    int r = fill(c);
    if (r <= 0)
      return r < 0 ? r : -EPIPE;
  }
}

/* Hands up to `want` body bytes (SIZE_MAX: until the end) to on_body. */
static int
pass_body(struct conn *c, size_t want, bool to_end, long status, body_fn on_body, void *userdata,
          bool *stopped)
{
  while (to_end || want > 0) {
    if (c->start == c->end) {
      int r = fill(c);
      if (r < 0)
        return r;
      if (r == 0)
        return to_end ? 0 : -EPIPE;
    }
    size_t n = c->end - c->start;
    if (!to_end && n > want)
      n = want;
    if (on_body(status, c->buf + c->start, n, userdata) != 0) {
      *stopped = true;
      return 0;
    }
    c->start += n;
    want -= to_end ? 0 : n;
  }
  return 0;
}

static int
unreachable(const struct api_client *cl, int errnum, tank_error **err)
{
  return tank_error_set(err, errnum,
                        "cannot reach tankd at %s (is it running? set --socket or TANK_SOCKET)",
                        cl->socket_path);
}

/* One request and its reply, the body streamed to on_body as it arrives. */
static int
exchange(const struct api_client *cl, const char *method, const char *path, const char *body,
         size_t body_len, long timeout_ms, body_fn on_body, void *userdata, long *ret_status,
         tank_error **err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(cl->socket_path) >= sizeof sa.sun_path)
    return tank_error_set(err, ENAMETOOLONG, "socket path `%s`", cl->socket_path);
  strcpy(sa.sun_path, cl->socket_path);
  _cleanup_free_ struct conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return tank_error_set(err, ENOMEM, "request");
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tank_error_set(err, errno, "socket");
  c->fd = fd;
  if (timeout_ms > 0) {
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    return unreachable(cl, errno, err);

  char head[1024];
  int n;
  if (body)
    n = snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: tankd\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 method, path, body_len);
  else
    n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: tankd\r\nConnection: close\r\n\r\n",
                 method, path);
  if (n < 0 || (size_t)n >= sizeof head)
    return tank_error_set(err, ENAMETOOLONG, "request path `%s`", path);
  int r = send_all(fd, head, (size_t)n);
  if (r == 0 && body)
    r = send_all(fd, body, body_len);
  if (r < 0)
    return tank_error_set(err, -r, "send to tankd at %s", cl->socket_path);

  /* The head. */
  _cleanup_free_ char *h = malloc(HEAD_MAX + 1);
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "reply");
  size_t hlen = 0;
  for (;;) {
    char line[8192];
    if ((r = read_line(c, line, sizeof line)) < 0)
      return tank_error_set(err, r == -EAGAIN ? ETIMEDOUT : -r,
                            "request to tankd at %s: no complete reply", cl->socket_path);
    size_t l = strlen(line);
    if (hlen + l + 2 > HEAD_MAX)
      return tank_error_set(err, EPROTO, "tankd's reply head is too long");
    memcpy(h + hlen, line, l);
    memcpy(h + hlen + l, "\r\n", 2);
    hlen += l + 2;
    h[hlen] = '\0';
    if (l == 0)
      break;
  }
  long status = 0;
  if (sscanf(h, "HTTP/1.%*d %ld", &status) != 1)
    return tank_error_set(err, EPROTO, "tankd's reply has no status line");
  *ret_status = status;

  /* The body: chunked, sized, or up to the end of the connection. */
  bool stopped = false;
  char value[64];
  if (strcmp(method, "HEAD") == 0 || status == 204 || status == 304) {
    r = 0;
  } else if (header(h, "Transfer-Encoding", value, sizeof value)
             && strcasecmp(value, "chunked") == 0) {
    for (r = 0; r == 0 && !stopped;) {
      char line[128];
      if ((r = read_line(c, line, sizeof line)) < 0)
        break;
      char *end;
      unsigned long size = strtoul(line, &end, 16);
      if (end == line) {
        r = -EPROTO;
        break;
      }
      if (size == 0)
        break; /* trailers are of no interest */
      if ((r = pass_body(c, size, false, status, on_body, userdata, &stopped)) < 0 || stopped)
        break;
      r = read_line(c, line, sizeof line); /* the CRLF after the chunk */
    }
  } else if (header(h, "Content-Length", value, sizeof value)) {
    r = pass_body(c, strtoull(value, NULL, 10), false, status, on_body, userdata, &stopped);
  } else {
    r = pass_body(c, 0, true, status, on_body, userdata, &stopped);
  }
  if (r < 0)
    return tank_error_set(err, r == -EAGAIN ? ETIMEDOUT : -r,
                          "request to tankd at %s: reply cut short", cl->socket_path);
  return 0;
}

/* ---- whole replies --------------------------------------------------------------- */

struct sink {
  char *buf;
  size_t len, cap, limit;
  int (*on_line)(const char *line, size_t len, void *userdata);
  void *userdata;
  bool stopped;
};

static int
collect(long status, const char *data, size_t n, void *userdata)
{
  struct sink *s = userdata;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1)
      cap *= 2;
    if (cap > s->limit + 1)
      return -1; /* too large: stop */
    char *b = realloc(s->buf, cap);
    if (b == NULL)
      return -1;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  s->buf[s->len] = '\0';
  if (s->on_line == NULL)
    return 0;
  char *start = s->buf, *nl;
  while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
    if (s->on_line(start, (size_t)(nl - start), s->userdata) != 0) {
      s->stopped = true;
      return 1;
    }
    start = nl + 1;
  }
  size_t rest = s->len - (size_t)(start - s->buf);
  memmove(s->buf, start, rest);
  s->len = rest;
  return 0;
}

int
api_request(const struct api_client *c, const char *method, const char *path, const char *body,
            size_t body_len, long *ret_status, json_t **ret_json, tank_error **err)
{
  struct sink s = { .limit = REPLY_MAX };
  long status = 0;
  int r = exchange(c, method, path, body, body_len, c->timeout_ms, collect, &s, &status, err);
  if (r < 0) {
    free(s.buf);
    return r;
  }
  json_t *j = s.buf ? json_loadb(s.buf, s.len, 0, NULL) : NULL;
  free(s.buf);
  *ret_status = status;
  *ret_json = j;
  return 0;
}

int
api_stream(const struct api_client *c, const char *path,
           int (*on_line)(const char *line, size_t len, void *userdata), void *userdata,
           long *ret_status, tank_error **err)
{
  struct sink s = { .limit = LINE_MAX_BYTES, .on_line = on_line, .userdata = userdata };
  long status = 0;
  int r = exchange(c, "GET", path, NULL, 0, 0, collect, &s, &status, err);
  if (r == 0 && s.len && on_line && !s.stopped)
    on_line(s.buf, s.len, userdata); /* a last line without its newline */
  free(s.buf);
  if (r < 0)
    return r;
  *ret_status = status;
  return 0;
}

int
api_stream_raw(const struct api_client *c, const char *path,
               int (*on_data)(long status, const char *data, size_t len, void *userdata),
               void *userdata, long *ret_status, tank_error **err)
{
  long status = 0;
  int r = exchange(c, "GET", path, NULL, 0, 0, on_data, userdata, &status, err);
  if (r < 0)
    return r;
  *ret_status = status;
  return 0;
}
