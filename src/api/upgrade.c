/* The CLI's side of the API without libcurl: the upgraded connection of exec
 * and attach (HTTP/1.1 spoken by hand over the unix socket) and the printing
 * of error replies. Kept apart from client.c so that the light `tank` front
 * (tank-front.c) links no HTTP library: loading libcurl and what it pulls in
 * costs more than the rest of an exec. */
#include "api/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

void
api_print_error(json_t *reply, long status)
{
  const char *msg = json_string_value(json_object_get(reply, "error"));
  fprintf(stderr, "%s\n", msg ? msg : "tankd replied with an error");
  json_t *details = json_object_get(reply, "details");
  size_t i;
  json_t *d;
  json_array_foreach(details, i, d)
  {
    if (json_is_string(d))
      fprintf(stderr, "%s\n", json_string_value(d));
  }
  if (msg == NULL)
    fprintf(stderr, "(HTTP status %ld)\n", status);
}

#define UPGRADE_MAX_HEAD (64 * 1024)
#define UPGRADE_MAX_BODY (1024 * 1024)

static int
write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -errno;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* The value of header `name` in the head (the lines after the status line). */
static bool
header_value(const char *head, const char *name, char *out, size_t size)
{
  size_t n = strlen(name);
  for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
    l += 2;
    if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
      const char *v = l + n + 1;
      v += strspn(v, " \t");
      size_t len = strcspn(v, "\r");
      if (len >= size)
        len = size - 1;
      memcpy(out, v, len);
      out[len] = '\0';
      return true;
    }
  }
  return false;
}

int
api_upgrade(const struct api_client *c, const char *path, const char *body, size_t body_len,
            const char *protocol, int *ret_fd, unsigned char **ret_extra, size_t *ret_n_extra,
            long *ret_status, json_t **ret_json, tank_error **err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(c->socket_path) >= sizeof sa.sun_path)
    return tank_error_set(err, ENAMETOOLONG, "socket path `%s`", c->socket_path);
  strcpy(sa.sun_path, c->socket_path);
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tank_error_set(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    return tank_error_set(err, errno,
                          "cannot reach tankd at %s (is it running? set --socket or TANK_SOCKET)",
                          c->socket_path);
  _cleanup_free_ char *req = NULL;
  int n = asprintf(&req,
                   "POST %s HTTP/1.1\r\nHost: tankd\r\nConnection: Upgrade\r\nUpgrade: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                   path, protocol, body_len);
  if (n < 0)
    return tank_error_set(err, ENOMEM, "request");
  int r = write_all(fd, req, (size_t)n);
  if (r == 0)
    r = write_all(fd, body, body_len);
  if (r < 0)
    return tank_error_set(err, -r, "send to tankd at %s", c->socket_path);

  /* The reply's head, then (101) the stream or (else) a body. */
  _cleanup_free_ char *buf = malloc(UPGRADE_MAX_HEAD + 1);
  if (buf == NULL)
    return tank_error_set(err, ENOMEM, "reply");
  size_t len = 0;
  char *end = NULL;
  while (end == NULL) {
    if (len == UPGRADE_MAX_HEAD)
      return tank_error_set(err, EPROTO, "tankd's reply head is longer than %d bytes",
                            UPGRADE_MAX_HEAD);
    ssize_t k = recv(fd, buf + len, UPGRADE_MAX_HEAD - len, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return tank_error_set(err, k < 0 ? errno : EPIPE, "tankd closed the connection");
    len += (size_t)k;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  *end = '\0';
  size_t head_len = (size_t)(end - buf) + 4;
  long status = 0;
  if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
    return tank_error_set(err, EPROTO, "tankd's reply has no status line");
  if (status == 101) {
    size_t extra = len - head_len;
    unsigned char *e = malloc(extra ? extra : 1);
    if (e == NULL)
      return tank_error_set(err, ENOMEM, "reply");
    memcpy(e, buf + head_len, extra);
    *ret_extra = e;
    *ret_n_extra = extra;
    *ret_status = status;
    *ret_json = NULL;
    *ret_fd = steal_fd(&fd);
    return 0;
  }
  char value[32];
  size_t want = UPGRADE_MAX_BODY;
  if (header_value(buf, "Content-Length", value, sizeof value))
    want = strtoul(value, NULL, 10);
  if (want > UPGRADE_MAX_BODY)
    want = UPGRADE_MAX_BODY;
  _cleanup_free_ char *body_buf = malloc(want + 1);
  if (body_buf == NULL)
    return tank_error_set(err, ENOMEM, "reply");
  size_t got = len - head_len < want ? len - head_len : want;
  memcpy(body_buf, buf + head_len, got);
  while (got < want) {
    ssize_t k = recv(fd, body_buf + got, want - got, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  *ret_json = json_loadb(body_buf, got, 0, NULL);
  *ret_status = status;
  *ret_fd = -1;
  *ret_extra = NULL;
  *ret_n_extra = 0;
  return 0;
}
