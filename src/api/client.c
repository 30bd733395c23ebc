/* HTTP over a unix socket with libcurl, for the tank CLI. */
#include "api/client.h"

#include <curl/curl.h>
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

struct sink {
  char *buf;
  size_t len, cap;
  size_t limit;
  int (*on_line)(const char *line, size_t len, void *userdata);
  void *userdata;
  bool stopped;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
  struct sink *s = userdata;
  size_t n = size * nmemb;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1)
      cap *= 2;
    if (cap > s->limit + 1)
      return 0; /* abort: reply too large */
    char *b = realloc(s->buf, cap);
    if (b == NULL)
      return 0;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  s->buf[s->len] = '\0';
  if (s->on_line) {
    char *start = s->buf, *nl;
    while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
      if (s->on_line(start, (size_t)(nl - start), s->userdata) != 0) {
        s->stopped = true;
        return 0;
      }
      start = nl + 1;
    }
    size_t rest = s->len - (size_t)(start - s->buf);
    memmove(s->buf, start, rest);
    s->len = rest;
  }
  return n;
}

static CURL *
new_handle(const struct api_client *c, const char *path, struct sink *s, char *errbuf)
{
  CURL *h = curl_easy_init();
  if (h == NULL)
    return NULL;
  char url[2048];
  snprintf(url, sizeof url, "http://tankd%s", path);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  if (c->timeout_ms > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  return h;
}

static int
curl_failure(const struct api_client *c, CURLcode rc, const char *errbuf, tank_error **err)
{
  if (rc == CURLE_COULDNT_CONNECT)
    return tank_error_set(err, ECONNREFUSED,
                          "cannot reach tankd at %s (is it running? set --socket or TANK_SOCKET)",
                          c->socket_path);
  return tank_error_set(err, EIO, "request to tankd at %s: %s", c->socket_path,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

int
api_request(const struct api_client *c, const char *method, const char *path, const char *body,
            size_t body_len, long *ret_status, json_t **ret_json, tank_error **err)
{
  char errbuf[CURL_ERROR_SIZE] = "";
  struct sink s = { .limit = 64 * 1024 * 1024 };
  CURL *h = new_handle(c, path, &s, errbuf);
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "curl");
  struct curl_slist *headers = NULL;
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (body) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  }
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    free(s.buf);
    return curl_failure(c, rc, errbuf, err);
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
  char errbuf[CURL_ERROR_SIZE] = "";
  struct sink s = { .limit = 16 * 1024 * 1024, .on_line = on_line, .userdata = userdata };
  struct api_client nc = *c;
  nc.timeout_ms = 0;
  CURL *h = new_handle(&nc, path, &s, errbuf);
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "curl");
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && s.stopped)) {
    free(s.buf);
    return curl_failure(c, rc, errbuf, err);
  }
  if (s.len && on_line && !s.stopped)
    on_line(s.buf, s.len, userdata);
  free(s.buf);
  *ret_status = status;
  return 0;
}

struct raw_sink {
  CURL *h;
  int (*on_chunk)(long status, const char *data, size_t len, void *userdata);
  void *userdata;
  bool stopped;
};

static size_t
on_raw_data(char *data, size_t size, size_t nmemb, void *userdata)
{
  struct raw_sink *s = userdata;
  long status = 0;
  curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
  if (s->on_chunk(status, data, size * nmemb, s->userdata) != 0) {
    s->stopped = true;
    return 0;
  }
  return size * nmemb;
}

int
api_stream_raw(const struct api_client *c, const char *path,
               int (*on_chunk)(long status, const char *data, size_t len, void *userdata),
               void *userdata, long *ret_status, tank_error **err)
{
  char errbuf[CURL_ERROR_SIZE] = "";
  struct sink unused = { 0 };
  struct api_client nc = *c;
  nc.timeout_ms = 0;
  CURL *h = new_handle(&nc, path, &unused, errbuf);
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "curl");
  struct raw_sink s = { h, on_chunk, userdata, false };
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_raw_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && s.stopped))
    return curl_failure(c, rc, errbuf, err);
  *ret_status = status;
  return 0;
}

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
