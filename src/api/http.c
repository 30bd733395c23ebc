/* libmicrohttpd on sd-event: MHD runs in "external epoll" mode and tankd's loop
 * calls MHD_run when MHD's epoll fd is readable or its timeout expires. Streams
 * suspend their connection while they have nothing to send (no busy loop) and
 * resume it when the daemon writes to them. */
#include "api/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

#define STREAM_MAX_QUEUED (4 * 1024 * 1024) /* a client this far behind is dropped */

struct http_server {
  struct MHD_Daemon *mhd;
  struct http_stream *streams;   /* open streams, to end them at shutdown */
  struct http_upgrade *upgrades; /* upgraded connections not closed yet */
  sd_event_source *io, *timer;
  http_handler handler;
  void *userdata;
  size_t max_body;
};

struct http_stream {
  struct http_server *server;
  struct MHD_Connection *conn;
  char *buf;
  size_t len, cap, off;
  bool ended, suspended, closed;
  struct http_stream *next;
  void (*on_close)(void *userdata);
  void (*on_drain)(void *userdata);
  void *userdata;
};

/* What an upgrade reply carries until the 101 is sent. */
struct http_upgrade_ctx {
  struct http_server *server;
  char *protocol;
  http_upgrade_fn on_upgraded;
  void (*drop)(void *userdata);
  void (*on_server_close)(void *userdata);
  void *userdata;
  bool started; /* on_upgraded ran: the http_upgrade owns userdata now */
};

struct http_upgrade {
  struct http_server *server;
  struct MHD_UpgradeResponseHandle *urh;
  void (*on_server_close)(void *userdata);
  void *userdata;
  struct http_upgrade *next;
};

/* Per-request state while the body arrives. */
struct pending {
  char *body;
  size_t len, cap;
  bool too_big;
  bool answered;
  struct http_upgrade_ctx *upgrade; /* freed with the request unless it started */
};

static void
xappend(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
  if (*len + n + 1 > *cap) {
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < *len + n + 1)
      ncap *= 2;
    char *b = realloc(*buf, ncap);
    if (b == NULL)
      abort();
    *buf = b;
    *cap = ncap;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
}

const char *
http_query(const struct http_request *req, const char *name)
{
  if (req->conn)
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
  /* No connection: the raw query string, for tests and the fuzz target. */
  static __thread char value[256];
  size_t n = strlen(name);
  for (const char *q = req->query; q && *q;) {
    const char *end = strchr(q, '&');
    size_t len = end ? (size_t)(end - q) : strlen(q);
    if (len > n && strncmp(q, name, n) == 0 && q[n] == '=') {
      snprintf(value, sizeof value, "%.*s", (int)(len - n - 1), q + n + 1);
      return value;
    }
    if (len == n && strncmp(q, name, n) == 0)
      return "";
    q = end ? end + 1 : NULL;
  }
  return NULL;
}

void
http_reply_error(struct http_reply *reply, unsigned status, json_t *details, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  json_decref(reply->json);
  reply->status = status;
  reply->json = json_pack("{s:s,s:o}", "error", msg, "details", details ? details : json_array());
  free(msg);
}

/* ---- streams --------------------------------------------------------------- */

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
  struct http_stream *st = cls;
  size_t avail = st->len - st->off;
  if (avail == 0 && !st->ended && st->on_drain) {
    st->on_drain(st->userdata); /* may write more, or end the stream */
    avail = st->len - st->off;
  }
  if (avail == 0) {
    if (st->ended)
      return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: park the connection until http_stream_write resumes it. */
    st->suspended = true;
    MHD_suspend_connection(st->conn);
    return 0;
  }
  size_t n = avail < max ? avail : max;
  memcpy(out, st->buf + st->off, n);
  st->off += n;
  if (st->off == st->len)
    st->off = st->len = 0;
  return (ssize_t)n;
}

static void
stream_free(void *cls)
{
  struct http_stream *st = cls;
  st->closed = true;
  if (st->server)
    for (struct http_stream **pp = &st->server->streams; *pp; pp = &(*pp)->next)
      if (*pp == st) {
        *pp = st->next;
        break;
      }
  if (st->on_close)
    st->on_close(st->userdata);
  free(st->buf);
  free(st);
}

struct http_stream *
http_reply_stream(struct http_reply *reply, const char *content_type,
                  void (*on_close)(void *userdata), void *userdata)
{
  struct http_stream *st = calloc(1, sizeof *st);
  if (st == NULL)
    abort();
  st->on_close = on_close;
  st->userdata = userdata;
  reply->status = 200;
  reply->stream = st;
  reply->content_type = content_type;
  return st;
}

/* MHD only notices a resumed connection on its next MHD_run, and in external
 * epoll mode nothing wakes it by itself: arm the server's timer to run at once. */
static void
server_kick(struct http_server *s)
{
  sd_event_source_set_time(s->timer, 1);
  sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void
stream_wake(struct http_stream *st)
{
  if (st->suspended && st->conn) {
    st->suspended = false;
    MHD_resume_connection(st->conn);
    server_kick(st->server);
  }
}

int
http_stream_write(struct http_stream *st, const void *data, size_t len)
{
  if (st->ended)
    return -EPIPE;
  if (st->len - st->off + len > STREAM_MAX_QUEUED) {
    http_stream_end(st);
    return -ENOBUFS;
  }
  if (st->off > 0 && st->off == st->len)
    st->off = st->len = 0;
  xappend(&st->buf, &st->len, &st->cap, data, len);
  stream_wake(st);
  return 0;
}

void
http_stream_end(struct http_stream *st)
{
  st->ended = true;
  stream_wake(st);
}

size_t
http_stream_queued(const struct http_stream *st)
{
  return st->len - st->off;
}

void
http_stream_on_drain(struct http_stream *st, void (*on_drain)(void *userdata))
{
  st->on_drain = on_drain;
}

/* ---- upgraded connections ------------------------------------------------------ */

static void
upgrade_ctx_free(struct http_upgrade_ctx *ctx)
{
  if (ctx == NULL)
    return;
  if (!ctx->started && ctx->drop)
    ctx->drop(ctx->userdata);
  free(ctx->protocol);
  free(ctx);
}

void
http_reply_upgrade(struct http_reply *reply, const char *protocol, http_upgrade_fn on_upgraded,
                   void (*drop)(void *userdata), void (*on_server_close)(void *userdata),
                   void *userdata)
{
  struct http_upgrade_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL || (ctx->protocol = strdup(protocol)) == NULL)
    abort();
  ctx->on_upgraded = on_upgraded;
  ctx->drop = drop;
  ctx->on_server_close = on_server_close;
  ctx->userdata = userdata;
  json_decref(reply->json);
  reply->json = NULL;
  reply->status = 101;
  reply->upgrade = ctx;
}

bool
http_request_wants_upgrade(const struct http_request *req, const char *protocol)
{
  const char *conn = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Connection");
  const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
  return conn && up && strcasestr(conn, "upgrade") && strcasecmp(up, protocol) == 0;
}

/* MHD has sent the 101: the socket is ours (and stays MHD's to close). */
static void
on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
           size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
  struct http_upgrade_ctx *ctx = cls;
  struct http_upgrade *up = calloc(1, sizeof *up);
  if (up == NULL)
    abort();
  up->server = ctx->server;
  up->urh = urh;
  up->on_server_close = ctx->on_server_close;
  up->userdata = ctx->userdata;
  up->next = ctx->server->upgrades;
  ctx->server->upgrades = up;
  ctx->started = true;
  if (extra_in_size > 0) {
    /* The client spoke before reading our 101: a broken client. Nothing it
     * sent can be handed on, so it gets no session. */
    if (ctx->drop)
      ctx->drop(ctx->userdata);
    up->on_server_close = NULL;
    http_upgrade_close(up);
    return;
  }
  ctx->on_upgraded(ctx->userdata, sock, up);
}

void
http_upgrade_close(struct http_upgrade *up)
{
  if (up == NULL)
    return;
  struct http_server *s = up->server;
  for (struct http_upgrade **pp = &s->upgrades; *pp; pp = &(*pp)->next)
    if (*pp == up) {
      *pp = up->next;
      break;
    }
  MHD_upgrade_action(up->urh, MHD_UPGRADE_ACTION_CLOSE);
  free(up);
  server_kick(s); /* MHD finishes the close on its next run */
}

/* ---- request handling ------------------------------------------------------- */

static enum MHD_Result
send_reply(struct http_server *s, struct MHD_Connection *conn, struct http_reply *reply)
{
  struct MHD_Response *resp;
  const char *type = reply->content_type;
  if (reply->upgrade) {
    reply->upgrade->server = s;
    resp = MHD_create_response_for_upgrade(on_upgrade, reply->upgrade);
    if (resp == NULL)
      return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, reply->upgrade->protocol);
    MHD_add_response_header(resp, "Server", "tankd/" TANK_VERSION);
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return r;
  }
  if (reply->stream) {
    reply->stream->conn = conn;
    reply->stream->server = s;
    reply->stream->next = s->streams;
    s->streams = reply->stream;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read,
                                             reply->stream, stream_free);
    if (type == NULL)
      type = "application/x-ndjson";
  } else {
    char *body;
    if (reply->json) {
      body = json_dumps(reply->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
      if (body == NULL)
        abort();
      size_t n = strlen(body);
      body = realloc(body, n + 2);
      body[n] = '\n';
      body[n + 1] = '\0';
      type = "application/json";
    } else {
      body = reply->text ? reply->text : strdup("");
      reply->text = NULL;
      if (type == NULL)
        type = "text/plain; charset=utf-8";
    }
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  }
  if (resp == NULL)
    return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", type);
  MHD_add_response_header(resp, "Server", "tankd/" TANK_VERSION);
  enum MHD_Result r = MHD_queue_response(conn, reply->status ? reply->status : 200, resp);
  MHD_destroy_response(resp);
  json_decref(reply->json);
  free(reply->text);
  return r;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  struct http_server *s = cls;
  struct pending *p = *con_cls;
  if (p == NULL) {
    p = calloc(1, sizeof *p);
    if (p == NULL)
      return MHD_NO;
    *con_cls = p;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (p->len + *upload_data_size > s->max_body)
      p->too_big = true;
    else if (!p->too_big)
      xappend(&p->body, &p->len, &p->cap, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (p->answered)
    return MHD_YES;
  p->answered = true;

  struct http_reply reply = { 0 };
  if (p->too_big) {
    http_reply_error(&reply, 413, NULL, "request body larger than %zu bytes", s->max_body);
  } else {
    struct http_request req = { method, url, p->body ? p->body : "", p->len, conn, NULL };
    s->handler(s->userdata, &req, &reply);
  }
  p->upgrade = reply.upgrade;
  return send_reply(s, conn, &reply);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
  struct pending *p = *con_cls;
  if (p) {
    upgrade_ctx_free(p->upgrade);
    free(p->body);
    free(p);
    *con_cls = NULL;
  }
}

static void
quiet_logger(void *cls, const char *fmt, va_list ap)
{
  /* Library code does not log; tankd reports what matters through replies. */
}

/* ---- sd-event glue ---------------------------------------------------------- */

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata);

static void
run_and_rearm(struct http_server *s)
{
  MHD_run(s->mhd);
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) {
    uint64_t now;
    sd_event_now(sd_event_source_get_event(s->io), CLOCK_MONOTONIC, &now);
    sd_event_source_set_time(s->timer, now + ms * 1000);
    sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
  } else {
    sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
  }
}

static int
on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
  run_and_rearm(userdata);
  return 0;
}

static int
on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
  run_and_rearm(userdata);
  return 0;
}

int
http_server_new(sd_event *event, int listen_fd, size_t max_body_bytes, http_handler handler,
                void *userdata, struct http_server **ret, tank_error **err)
{
  struct http_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return tank_error_set(err, ENOMEM, "http server");
  s->handler = handler;
  s->userdata = userdata;
  s->max_body = max_body_bytes;
  s->mhd = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, 0, NULL, NULL, on_request, s,
      MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_EXTERNAL_LOGGER, quiet_logger, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_END);
  if (s->mhd == NULL) {
    free(s);
    return tank_error_set(err, EIO, "start the HTTP server");
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  int r = sd_event_add_io(event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
  if (r >= 0)
    r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, s);
  if (r < 0) {
    http_server_free(s);
    return tank_error_set(err, -r, "register the HTTP server with the event loop");
  }
  sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
  *ret = s;
  return 0;
}

struct http_server *
http_server_free(struct http_server *s)
{
  if (s == NULL)
    return NULL;
  /* Upgraded connections are handed back first: their owners hear of it. */
  while (s->upgrades) {
    struct http_upgrade *up = s->upgrades;
    void (*cb)(void *) = up->on_server_close;
    void *ud = up->userdata;
    http_upgrade_close(up);
    if (cb)
      cb(ud);
  }
  /* MHD refuses to stop with suspended connections: end every stream first. */
  for (struct http_stream *st = s->streams; st; st = st->next) {
    st->ended = true;
    if (st->suspended) {
      st->suspended = false;
      MHD_resume_connection(st->conn);
    }
  }
  if (s->mhd && s->streams)
    MHD_run(s->mhd);
  s->io = sd_event_source_disable_unref(s->io);
  s->timer = sd_event_source_disable_unref(s->timer);
  if (s->mhd)
    MHD_stop_daemon(s->mhd);
  free(s);
  return NULL;
}

/* ---- listening sockets ------------------------------------------------------ */

/* The group from /etc/group itself: a daemon's socket group is a local one,
 * and going through NSS would load its modules (libnss_systemd, ...) into
 * tankd for this one lookup. */
static bool
local_group(const char *name, gid_t *ret)
{
  FILE *f = fopen("/etc/group", "re");
  if (f == NULL)
    return false;
  bool found = false;
  struct group *g;
  while (!found && (g = fgetgrent(f)))
    if (strcmp(g->gr_name, name) == 0) {
      *ret = g->gr_gid;
      found = true;
    }
  fclose(f);
  return found;
}

int
http_listen_unix(const char *path, unsigned mode, const char *group, int *ret_fd, tank_error **err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path)
    return tank_error_set(err, ENAMETOOLONG, "socket path `%s`", path);
  strcpy(sa.sun_path, path);
  _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return tank_error_set(err, errno, "socket");
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path); /* a stale socket of an earlier tankd */
  /* Bind under a umask that never exposes the socket wider than `mode`. */
  mode_t old = umask(0777 & ~mode);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0)
    return tank_error_set(err, errno, "bind `%s`", path);
  if (chmod(path, mode) < 0)
    return tank_error_set(err, errno, "chmod `%s`", path);
  gid_t gid;
  if (group && local_group(group, &gid) && chown(path, (uid_t)-1, gid) < 0)
    return tank_error_set(err, errno, "chown `%s` to group %s", path, group);
  if (listen(fd, 128) < 0)
    return tank_error_set(err, errno, "listen on `%s`", path);
  *ret_fd = steal_fd(&fd);
  return 0;
}

int
http_listen_tcp(const char *host, unsigned port, int *ret_fd, tank_error **err)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return tank_error_set(err, EINVAL, "listen address `%s` is not an IPv4 address", host);
  _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return tank_error_set(err, errno, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
    return tank_error_set(err, errno, "bind %s:%u", host, port);
  if (listen(fd, 128) < 0)
    return tank_error_set(err, errno, "listen on %s:%u", host, port);
  *ret_fd = steal_fd(&fd);
  return 0;
}
