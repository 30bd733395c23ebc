/* tankd's lifetime: directories, the store, boot seeding, the API socket, the
 * pod watch, the periodic resync, and signals. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "daemon/daemon.h"
#include "daemon/observe.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static int
mkdir_p(const char *path, mode_t mode, tank_error **err)
{
  int r = mkdir_parents(path, mode);
  return r < 0 ? tank_error_set(err, -r, "mkdir `%s`", path) : 0;
}

/* Boot seeding: every pod in the pods dir (*.yaml, *.yml, *.json) is stored if absent. A pod
 * already in the store keeps its stored spec: runtime changes win and persist. */
static void
seed_pods(struct tankd *d)
{
  DIR *dir = opendir(d->cfg.pods_dir);
  if (dir == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (fnmatch("*.yaml", de->d_name, 0) && fnmatch("*.yml", de->d_name, 0)
        && fnmatch("*.json", de->d_name, 0))
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", d->cfg.pods_dir, de->d_name);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    tank_error *err = NULL;
    if (read_file_limited(path, SPEC_MAX_BYTES, &buf, &len, &err) < 0) {
      tankd_log(d, LOG_ERR_LEVEL, "seed: %s", err->msg);
      tank_error_free(err);
      continue;
    }
    struct spec_file f;
    spec_parse(buf, len, path, SPEC_FORMAT_AUTO, &f);
    for (size_t i = 0; i < f.n_errors; i++)
      tankd_log(d, LOG_ERR_LEVEL, "seed: %s", f.errors[i]);
    for (size_t i = 0; i < f.n_pods; i++) {
      if (f.pods[i] == NULL)
        continue;
      char key[512];
      snprintf(key, sizeof key, "/tank/pods/%s", f.pods[i]->name);
      char *canonical = spec_pod_to_canonical(f.pods[i]);
      int r = tank_store_put(d->store, key, canonical, strlen(canonical), TANK_STORE_REV_ABSENT,
                             NULL, &err);
      if (r == 0)
        tankd_log(d, LOG_INFO_LEVEL, "seed: pod %s created from %s", f.pods[i]->name, path);
      else if (err->errnum != TANK_STORE_ECONFLICT)
        tankd_log(d, LOG_ERR_LEVEL, "seed: pod %s: %s", f.pods[i]->name, err->msg);
      tank_error_free(err);
      err = NULL;
      free(canonical);
    }
    spec_file_free(&f);
  }
  closedir(dir);
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
  struct tankd *d = userdata;
  tankd_log(d, LOG_INFO_LEVEL,
            "%s: stopping; containers keep running and are adopted by the next tankd",
            strsignal((int)si->ssi_signo));
  sd_notify(0, "STOPPING=1");
  sd_event_exit(sd_event_source_get_event(s), 0);
  return 0;
}

static int
on_resync(sd_event_source *s, uint64_t usec, void *userdata)
{
  struct tankd *d = userdata;
  tank_error *err = NULL;
  /* Level-triggered: re-read the store (also re-opens a broken watch) and look
   * at every pod again, so drift and missed events are repaired. */
  if (pods_load(d, &err) < 0) {
    tankd_log(d, LOG_WARN_LEVEL, "resync: %s", err->msg);
    tank_error_free(err);
  }
  for (struct pod_rec *p = d->pods; p; p = p->next)
    pod_mark_dirty(d, p);
  pods_reconcile_dirty(d);
  execute_trim_when_idle(d, 1);
  execute_check_all(d);
  sd_event_source_set_time_relative(s, d->cfg.resync_ms * 1000);
  sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
  return 0;
}

static int
on_reconcile_soon(sd_event_source *s, void *userdata)
{
  pods_reconcile_dirty(userdata);
  return 0;
}

int
tankd_start(struct tankd *d, tank_error **err)
{
  int r;
  d->api_fd = -1;
  if (mkdir_p(d->cfg.run_dir, 0711, err) < 0 || mkdir_p(d->cfg.data_dir, 0711, err) < 0)
    return -EINVAL;
  if (tank_store_open(d->cfg.store, &d->store, err) < 0)
    return tank_error_wrap(err, "open store %s", d->cfg.store);
  if ((r = sd_event_default(&d->event)) < 0)
    return tank_error_set(err, -r, "event loop");
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  signal(SIGPIPE, SIG_IGN);
  sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d);
  sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d);
  if ((r = sd_event_add_defer(d->event, &d->reconcile_soon, on_reconcile_soon, d)) < 0)
    return tank_error_set(err, -r, "event loop");
  sd_event_source_set_enabled(d->reconcile_soon, SD_EVENT_OFF);

  if (execute_start(d, err) < 0)
    return -EINVAL;
  seed_pods(d);
  if (pods_load(d, err) < 0)
    return -EINVAL;
  execute_adopt(d);

  if (http_listen_unix(d->cfg.socket, 0660, d->cfg.socket_group, &d->api_fd, err) < 0)
    return tank_error_wrap(err, "API socket");
  if (http_server_new(d->event, d->api_fd, TANKD_MAX_BODY, routes_handle, d, &d->api, err) < 0)
    return -EINVAL;
  if (metrics_listen_start(d, err) < 0)
    return -EINVAL;
  if ((r = sd_event_add_time_relative(d->event, &d->resync, CLOCK_MONOTONIC,
                                      d->cfg.resync_ms * 1000, 10000, on_resync, d))
      < 0)
    return tank_error_set(err, -r, "resync timer");
  sd_event_now(d->event, CLOCK_MONOTONIC, &d->started_usec);
  pods_reconcile_dirty(d);
  tankd_log(d, LOG_INFO_LEVEL, "tankd %s ready: node %s, store %s, socket %s, %zu pods",
            TANK_VERSION, d->cfg.node, d->cfg.store, d->cfg.socket, d->n_pods);
  sd_notify(0, "READY=1");
  return 0;
}

void
tankd_stop(struct tankd *d)
{
  metrics_listen_stop();
  d->api = http_server_free(d->api);
  if (d->api_fd >= 0)
    close(d->api_fd);
  execute_stop(d);  /* in-flight jobs finish; their results are observed by the next tankd */
  pods_free_all(d); /* records only: containers outlive tankd */
  d->watch_source = sd_event_source_disable_unref(d->watch_source);
  d->watch = tank_store_watch_free(d->watch);
  d->resync = sd_event_source_disable_unref(d->resync);
  d->reconcile_soon = sd_event_source_disable_unref(d->reconcile_soon);
  d->store = tank_store_close(d->store);
  d->event = sd_event_unref(d->event);
}
