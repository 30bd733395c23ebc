/* GET /v1/pods/NAME/logs: a log reader (runtime/logread.h) pumped into a
 * streamed reply. The pump runs when the client has taken everything queued
 * (so a slow client slows the reading, and a 50 MiB log never sits in memory)
 * and, when following, when inotify says the log's directory changed. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ctrconfig.h"
#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "runtime/logread.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define LOG_STREAM_QUEUE (256 * 1024) /* read ahead of the client by at most this */

struct log_stream {
  struct http_stream *http;
  struct log_reader *reader;
  sd_event_source *watch;
  bool follow, ended;
};

static void
log_stream_end(struct log_stream *ls)
{
  if (ls->ended)
    return;
  ls->ended = true;
  ls->watch = sd_event_source_disable_unref(ls->watch);
  http_stream_end(ls->http);
}

static void
pump(struct log_stream *ls)
{
  char buf[64 * 1024];
  while (!ls->ended && http_stream_queued(ls->http) < LOG_STREAM_QUEUE) {
    tank_error *err = NULL;
    ssize_t n = log_reader_read(ls->reader, buf, sizeof buf, &err);
    if (n < 0) {
      /* The status line is long gone: say it in the stream, then end it. */
      char line[1024];
      int len = snprintf(line, sizeof line, "tankd: %s\n", err->msg);
      http_stream_write(ls->http, line, (size_t)len);
      tank_error_free(err);
      log_stream_end(ls);
      return;
    }
    if (n == 0) {
      if (!ls->follow)
        log_stream_end(ls);
      return;
    }
    if (http_stream_write(ls->http, buf, (size_t)n) < 0) {
      ls->ended = true; /* the server ended it */
      ls->watch = sd_event_source_disable_unref(ls->watch);
      return;
    }
  }
}

static void
on_drain(void *userdata)
{
  struct log_stream *ls = userdata;
  if (ls->watch)
    sd_event_source_set_enabled(ls->watch, SD_EVENT_ON);
  pump(ls);
}

static int
on_log_changed(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  struct log_stream *ls = userdata;
  /* The client is behind: stop listening (the inotify fd stays readable) until
   * it has taken what is queued; on_drain reads on from there. */
  if (http_stream_queued(ls->http) >= LOG_STREAM_QUEUE) {
    sd_event_source_set_enabled(s, SD_EVENT_OFF);
    return 0;
  }
  pump(ls);
  return 0;
}

static void
on_closed(void *userdata)
{
  struct log_stream *ls = userdata;
  ls->watch = sd_event_source_disable_unref(ls->watch);
  log_reader_free(ls->reader);
  free(ls);
}

static bool
flag(const struct http_request *req, const char *name)
{
  const char *v = http_query(req, name);
  return v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

void
logs_get(struct tankd *d, const char *pod, const struct http_request *req, struct http_reply *reply)
{
  struct pod_rec *p = pod_find(d, pod);
  if (p == NULL || p->desired == NULL) {
    http_reply_error(reply, 404, NULL, "no pod named %s", pod);
    return;
  }
  const struct spec_pod *spec = p->desired;
  const char *ctr = http_query(req, "container");
  if (ctr && *ctr == '\0')
    ctr = NULL;
  if (ctr == NULL && spec->n_containers == 1)
    ctr = spec->containers[0].name;
  bool exists = false;
  char names[1024] = "";
  for (size_t i = 0; i < spec->n_containers; i++) {
    if (ctr && strcmp(ctr, spec->containers[i].name) == 0)
      exists = true;
    size_t len = strlen(names);
    snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", spec->containers[i].name);
  }
  if (ctr == NULL) {
    http_reply_error(reply, 400, NULL, "pod %s has %zu containers; choose one with -c (%s)", pod,
                     spec->n_containers, names);
    return;
  }
  if (!exists) {
    http_reply_error(reply, 404, NULL, "pod %s has no container %s (it has: %s)", pod, ctr, names);
    return;
  }

  struct log_read_options opt
      = { .tail_lines = -1, .timestamps = flag(req, "timestamps"), .follow = flag(req, "follow") };
  const char *tail = http_query(req, "tail");
  if (tail && *tail) {
    char *end;
    long long n = strtoll(tail, &end, 10);
    if (*end || n < -1) {
      http_reply_error(reply, 400, NULL, "tail=%s is not a number of lines", tail);
      return;
    }
    opt.tail_lines = n;
  }
  const char *since = http_query(req, "since");
  if (since && *since) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (log_parse_since(since, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, &opt.since_ns)
        < 0) {
      http_reply_error(reply, 400, NULL,
                       "since=%s is neither an RFC 3339 time nor a duration like 10s, 5m, 1h",
                       since);
      return;
    }
  }

  _cleanup_free_ char *path = ctrconfig_log_path(d->cfg.data_dir, pod, ctr);
  if (path == NULL)
    abort();
  if (flag(req, "previous")) {
    char *prev = crilog_previous_path(path);
    free(path);
    path = prev;
    if (path == NULL)
      abort();
    if (access(path, F_OK) < 0) {
      http_reply_error(reply, 404, NULL, "container %s/%s has no previous run (it never restarted)",
                       pod, ctr);
      return;
    }
    opt.follow = false; /* that run is over */
  }
  if (opt.follow) {
    /* Follow a container that has not started yet: its directory appears then. */
    _cleanup_free_ char *dir = strdup(path);
    if (dir == NULL || mkdir_parents(dirname(dir), 0700) < 0) {
      http_reply_error(reply, 500, NULL, "logs of %s/%s: cannot make the log directory", pod, ctr);
      return;
    }
  }

  struct log_stream *ls = calloc(1, sizeof *ls);
  if (ls == NULL)
    abort();
  ls->follow = opt.follow;
  tank_error *err = NULL;
  int r = log_reader_open(path, &opt, &ls->reader, &err);
  if (r == -ENOENT && !opt.follow) {
    /* No log directory: the pod has not started a container yet. */
    tank_error_free(err);
    free(ls);
    reply->text = strdup("");
    return;
  }
  if (r < 0) {
    http_reply_error(reply, 500, NULL, "logs of %s/%s: %s", pod, ctr, err->msg);
    tank_error_free(err);
    free(ls);
    return;
  }
  if (opt.follow
      && sd_event_add_io(d->event, &ls->watch, log_reader_fd(ls->reader), EPOLLIN, on_log_changed,
                         ls)
             < 0) {
    http_reply_error(reply, 500, NULL, "logs of %s/%s: cannot watch the log", pod, ctr);
    log_reader_free(ls->reader);
    free(ls);
    return;
  }
  ls->http = http_reply_stream(reply, "text/plain; charset=utf-8", on_closed, ls);
  http_stream_on_drain(ls->http, on_drain);
}
