/* A small HTTP/1.1 server for tankd on its sd-event loop: libmicrohttpd driven
 * by an epoll fd registered with sd-event (no threads), request bodies bounded,
 * JSON replies, and suspended connections for streams (events, logs). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "util/error.h"

struct http_server;
struct http_stream;
struct http_upgrade;

struct http_request {
  const char *method; /* "GET", "PUT", ... */
  const char *path;   /* "/v1/pods/web" (no query string) */
  const char *body;   /* NUL-terminated; may be "" */
  size_t body_len;
  void *conn;        /* for http_query */
  const char *query; /* without conn (tests, fuzzing): "a=1&b=2", undecoded */
};

/* A query parameter, or NULL. */
const char *http_query(const struct http_request *req, const char *name);

struct http_reply {
  unsigned status;
  json_t *json;                     /* owned; sent as application/json */
  char *text;                       /* owned; sent as text/plain when json is NULL */
  const char *content_type;         /* overrides the default for text */
  struct http_stream *stream;       /* set by http_reply_stream: the reply is a stream */
  struct http_upgrade_ctx *upgrade; /* set by http_reply_upgrade */
};

typedef void (*http_handler)(void *userdata, const struct http_request *req,
                             struct http_reply *reply);

/* Serves on listen_fd (already bound and listening) until freed. */
int http_server_new(sd_event *event, int listen_fd, size_t max_body_bytes, http_handler handler,
                    void *userdata, struct http_server **ret, tank_error **err);
struct http_server *http_server_free(struct http_server *s);

/* Error replies as {"error": message, "details": [...]} (details may be NULL). */
void http_reply_error(struct http_reply *reply, unsigned status, json_t *details, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* Turns the reply into a stream of chunks; the caller keeps the stream and
 * feeds it with http_stream_write. on_close runs when the client goes away
 * (or after http_stream_end), with the caller's pointer. */
struct http_stream *http_reply_stream(struct http_reply *reply, const char *content_type,
                                      void (*on_close)(void *userdata), void *userdata);
/* Queues bytes for the client; returns -ENOBUFS when the client is so far
 * behind that more than the stream's limit is queued (the stream is then ended). */
int http_stream_write(struct http_stream *st, const void *data, size_t len);
void http_stream_end(struct http_stream *st);
/* Bytes queued for the client and not yet sent. */
size_t http_stream_queued(const struct http_stream *st);
/* Calls on_drain(userdata) whenever everything queued has been sent and the
 * stream is about to wait: a producer with more to say (a log file) writes its
 * next piece then, so a slow client slows the producer instead of growing the
 * queue. */
void http_stream_on_drain(struct http_stream *st, void (*on_drain)(void *userdata));

/* Upgraded connections (exec, attach): the reply becomes 101 Switching
 * Protocols with `Upgrade: protocol`, and once it is sent on_upgraded runs
 * with the connection's socket. The socket stays the server's: the handler
 * may dup it (for a helper process) and must call http_upgrade_close when it
 * is done with it. Should the connection go before the 101 is out,
 * on_upgraded never runs and drop(userdata) does instead. At server shutdown,
 * on_server_close(userdata) runs for every upgrade not closed yet, after which
 * the handle is gone. */
typedef void (*http_upgrade_fn)(void *userdata, int fd, struct http_upgrade *up);
void http_reply_upgrade(struct http_reply *reply, const char *protocol, http_upgrade_fn on_upgraded,
                        void (*drop)(void *userdata), void (*on_server_close)(void *userdata),
                        void *userdata);
void http_upgrade_close(struct http_upgrade *up);
/* The request asks for `Connection: Upgrade` to protocol (case-insensitive). */
bool http_request_wants_upgrade(const struct http_request *req, const char *protocol);

/* Listening sockets. */
int http_listen_unix(const char *path, unsigned mode, const char *group, int *ret_fd,
                     tank_error **err);
int http_listen_tcp(const char *host, unsigned port, int *ret_fd, tank_error **err);
