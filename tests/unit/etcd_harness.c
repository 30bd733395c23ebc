/* etcd members for tests and benchmarks: fork/exec of Debian's `etcd` on
 * 127.0.0.1 ports the caller chooses, data in the caller's temp dir. */
#include "etcd_harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t
harness_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
etcd_members_init(struct etcd_member *m, size_t n, const char *base_dir, int first_port)
{
  for (size_t i = 0; i < n; i++) {
    memset(&m[i], 0, sizeof m[i]);
    snprintf(m[i].name, sizeof m[i].name, "tkst%zu", i);
    snprintf(m[i].dir, sizeof m[i].dir, "%s/%s", base_dir, m[i].name);
    m[i].client_port = first_port + (int)(2 * i);
    m[i].peer_port = first_port + (int)(2 * i) + 1;
    m[i].pid = -1;
  }
}

int
etcd_member_start(struct etcd_member *m, size_t n, size_t i)
{
  char cluster[1024] = "", client[64], peer[64], log[300];
  for (size_t j = 0; j < n; j++) {
    size_t used = strlen(cluster);
    snprintf(cluster + used, sizeof cluster - used, "%s%s=http://127.0.0.1:%d", j ? "," : "",
             m[j].name, m[j].peer_port);
  }
  struct etcd_member *me = &m[i];
  mkdir(me->dir, 0700);
  snprintf(client, sizeof client, "http://127.0.0.1:%d", me->client_port);
  snprintf(peer, sizeof peer, "http://127.0.0.1:%d", me->peer_port);
  snprintf(log, sizeof log, "%s/etcd.log", me->dir);
  char data[300];
  snprintf(data, sizeof data, "%s/data", me->dir);
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execlp("etcd", "etcd", "--name", me->name, "--data-dir", data, "--listen-client-urls", client,
           "--advertise-client-urls", client, "--listen-peer-urls", peer,
           "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
           "--initial-cluster-state", "new", "--initial-cluster-token", "tkst",
           "--heartbeat-interval", "100", "--election-timeout", "1000", "--logger", "zap",
           "--log-level", "warn", (char *)NULL);
    _exit(127);
  }
  me->pid = pid;
  return 0;
}

void
etcd_member_stop(struct etcd_member *m, int sig)
{
  if (m->pid <= 0)
    return;
  kill(m->pid, sig);
  while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  m->pid = -1;
}

void
etcd_members_url(const struct etcd_member *m, size_t n, int first, const char *query, char *buf,
                 size_t size)
{
  size_t used = (size_t)snprintf(buf, size, "etcd://");
  for (size_t k = 0; k < n; k++) {
    size_t j = first >= 0 ? ((size_t)first + k) % n : k;
    used += (size_t)snprintf(buf + used, size - used, "%s127.0.0.1:%d", k ? "," : "",
                             m[j].client_port);
  }
  if (query)
    snprintf(buf + used, size - used, "?%s", query);
}

int
etcd_wait_writable(const char *url, int timeout_ms)
{
  int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;
  while (harness_now_us() < deadline) {
    tank_store *s = NULL;
    tank_error *err = NULL;
    int r = tank_store_open(url, &s, &err);
    if (r >= 0)
      r = tank_store_put(s, "/tkst-ready", "1", 1, 0, NULL, &err);
    tank_store_close(s);
    tank_error_free(err);
    if (r >= 0)
      return 0;
    struct timespec ts = { 0, 50 * 1000000 };
    nanosleep(&ts, NULL);
  }
  return -ETIMEDOUT;
}

static size_t
sink(char *p, size_t sz, size_t n, void *ud)
{
  char **buf = ud;
  size_t old = *buf ? strlen(*buf) : 0;
  char *nb = realloc(*buf, old + sz * n + 1);
  if (nb == NULL)
    return 0;
  memcpy(nb + old, p, sz * n);
  nb[old + sz * n] = 0;
  *buf = nb;
  return sz * n;
}

int
etcd_leader(const struct etcd_member *m, size_t n)
{
  char *ids[16] = { 0 };
  char *leader = NULL;
  for (size_t i = 0; i < n && i < 16; i++) {
    if (m[i].pid <= 0)
      continue;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v3/maintenance/status", m[i].client_port);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    if (curl_easy_perform(c) == CURLE_OK && buf) {
      json_t *j = json_loads(buf, 0, NULL);
      const char *id
          = json_string_value(json_object_get(json_object_get(j, "header"), "member_id"));
      const char *l = json_string_value(json_object_get(j, "leader"));
      if (id)
        ids[i] = strdup(id);
      if (l && !leader)
        leader = strdup(l);
      json_decref(j);
    }
    free(buf);
    curl_easy_cleanup(c);
  }
  int found = -1;
  for (size_t i = 0; i < n && i < 16; i++) {
    if (leader && ids[i] && strcmp(ids[i], leader) == 0)
      found = (int)i;
    free(ids[i]);
  }
  free(leader);
  return found;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path);
}

void
rm_rf(const char *path)
{
  nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
watch_collect(tank_store_watch *w, struct tank_store_event *out, int want, int timeout_ms,
              tank_error **err)
{
  int got = 0;
  int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;
  while (got < want) {
    int r;
    while (got < want && (r = tank_store_watch_next(w, &out[got], err)) > 0)
      got++;
    if (got == want)
      break;
    if (r < 0)
      return r;
    int64_t left_ms = (deadline - harness_now_us()) / 1000;
    if (left_ms <= 0)
      break;
    struct pollfd p = { .fd = tank_store_watch_fd(w), .events = POLLIN };
    poll(&p, 1, (int)left_ms);
  }
  return got;
}
