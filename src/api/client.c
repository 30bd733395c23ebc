/* HTTP over a unix socket with libcurl, for the tank CLI. */
#include "api/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
