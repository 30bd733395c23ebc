/* tankd's blocking operations on the machine (see machine.h). */
#include "daemon/machine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "runtime/crilog.h"
#include "daemon/ctrconfig.h"
#include "image/image.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define RECORD_MAX_BYTES (2 * 1024 * 1024)

static char *
path_join(const char *a, const char *b, const char *c, const char *d)
{
  char *s;
  if (asprintf(&s, "%s/%s%s%s%s%s", a, b, c ? "/" : "", c ? c : "", d ? "/" : "", d ? d : "") < 0)
    abort();
  return s;
}

static char *
pod_run_dir(const struct machine *m, const char *pod)
{
  return path_join(m->run_dir, "pods", pod, NULL);
}

static char *
ctr_state_dir(const struct machine *m, const char *pod, const char *ctr)
{
  return path_join(m->run_dir, "pods", pod, ctr);
}

int64_t
machine_parse_time(const char *s)
{
  if (s == NULL)
    return 0;
  struct tm tm = { 0 };
  const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == NULL)
    return 0;
  int64_t ms = (int64_t)timegm(&tm) * 1000;
  if (*rest == '.') {
    int64_t scale = 100;
    for (rest++; *rest >= '0' && *rest <= '9'; rest++) {
      ms += (*rest - '0') * scale;
      scale /= 10;
    }
  }
  return ms;
}

static int
read_json(const char *path, json_t **ret, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_file_limited(path, RECORD_MAX_BYTES, &buf, &len, err);
  if (r < 0)
    return r;
  json_error_t jerr;
  *ret = json_loadb(buf, len, 0, &jerr);
  if (*ret == NULL || !json_is_object(*ret)) {
    json_decref(*ret);
    *ret = NULL;
    return tank_error_set(err, EINVAL, "%s: not a JSON object: %s", path, jerr.text);
  }
  return 0;
}

static struct spec_pod *
pod_from_json(json_t *j, const char *label)
{
  if (j == NULL)
    return NULL;
  char *s = json_dumps(j, JSON_COMPACT);
  if (s == NULL)
    return NULL;
  struct spec_file f;
  struct spec_pod *pod = NULL;
  if (spec_parse(s, strlen(s), label, SPEC_FORMAT_JSON, &f) == 0 && f.n_pods == 1) {
    pod = f.pods[0];
    f.pods[0] = NULL;
  }
  spec_file_free(&f);
  free(s);
  return pod;
}

/* ---- images -------------------------------------------------------------------- */

/* Pulls run in a child (`tank image pull`): tankd itself then never maps the
 * registry client, the archive readers and their libraries, and a pull that
 * hangs or crashes cannot take tankd with it. */
/* Runs path with argv, stdin from /dev/null, stderr (and, with
 * stdout_too, stdout; else /dev/null) into a pipe whose read end is returned,
 * no other fd of tankd's and default signal handling. */
static int
spawn_piped(const char *path, char *const argv[], bool stdout_too, pid_t *ret_pid, int *ret_fd,
            tank_error **err)
{
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return tank_error_set(err, errno, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (stdout_too)
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  extern char **environ;
  int r = posix_spawn(ret_pid, path, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[1]);
  if (r != 0) {
    close(pipefd[0]);
    return tank_error_set(err, r, "run %s", path);
  }
  *ret_fd = pipefd[0];
  return 0;
}

static int
pull_in_child(const struct machine *m, const char *image, const volatile int *cancel,
              tank_error **err)
{
  char *argv[] = { (char *)"tank",
                   (char *)"image",
                   (char *)"pull",
                   (char *)"--quiet",
                   (char *)"--data-dir",
                   (char *)m->data_dir,
                   m->offline ? (char *)"--offline" : (char *)image,
                   m->offline ? (char *)image : NULL,
                   NULL };
  pid_t pid;
  int fd;
  int r = spawn_piped(m->tank_path, argv, false, &pid, &fd, err);
  if (r < 0)
    return r;
  char buf[2048];
  size_t len = 0;
  bool killed = false;
  for (;;) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    int n = poll(&pfd, 1, 200);
    if (cancel && *cancel && !killed) {
      kill(pid, SIGTERM);
      killed = true;
    }
    if (n <= 0)
      continue;
    ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    len += (size_t)got;
    if (len == sizeof buf - 1) /* keep the start of the message, drain the rest */
      len = sizeof buf - 2;
  }
  buf[len] = '\0';
  close(fd);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  while (len > 0 && buf[len - 1] == '\n')
    buf[--len] = '\0';
  char *last = strrchr(buf, '\n'); /* the error is the last line */
  const char *msg = last ? last + 1 : buf;
  if (strncmp(msg, "tank image: ", 12) == 0)
    msg += 12;
  if (killed)
    return tank_error_set(err, ECANCELED, "pull %s: cancelled", image);
  return tank_error_set(err, 0, "%s", *msg ? msg : "the pull failed without a message");
}

int
machine_ensure_image(const struct machine *m, const char *image, const volatile int *cancel,
                     tank_error **err)
{
  struct image_store *s = NULL;
  int r = image_store_open(m->data_dir, &s, err);
  if (r < 0)
    return r;
  struct image *img = NULL;
  tank_error *lookup_err = NULL;
  r = image_lookup(s, image, &img, &lookup_err);
  image_free(img);
  image_store_free(s);
  if (r == 0)
    return 0;
  if (m->offline) {
    *err = lookup_err;
    return r;
  }
  tank_error_free(lookup_err);
  return pull_in_child(m, image, cancel, err);
}

/* ---- sandboxes ----------------------------------------------------------------- */

static int
write_text(const char *dir, const char *name, const char *text, tank_error **err)
{
  json_error_t jerr;
  json_t *doc = json_loads(text, 0, &jerr);
  if (doc == NULL)
    return tank_error_set(err, EINVAL, "%s/%s: %s", dir, name, jerr.text);
  int r = state_write_json(dir, name, doc, err);
  json_decref(doc);
  return r;
}

int
machine_sandbox_create(const struct machine *m, const struct spec_pod *pod, tank_error **err)
{
  int r = sandbox_create_pod(&m->sandbox, pod, err);
  if (r == -EEXIST) {
    tank_error_freep(err);
    r = 0;
  }
  if (r < 0)
    return r;
  _cleanup_free_ char *dir = pod_run_dir(m, pod->name);
  _cleanup_free_ char *canonical = spec_pod_to_canonical(pod);
  return write_text(dir, "sandbox.json", canonical, err);
}

int
machine_sandbox_check(const struct machine *m, const struct spec_pod *pod, tank_error **err)
{
  if (!sandbox_exists(m->run_dir, pod->name))
    return 0;
  if (pod->network.mode != SPEC_NET_NICS)
    return 1; /* loopback only (or the host's): nothing configured to drift */
  struct net_drift drift = { 0 };
  int r = sandbox_check_pod(&m->sandbox, pod, &drift, err);
  if (r < 0)
    return r;
  r = drift.n == 0 ? 1 : 0;
  net_drift_clear(&drift);
  return r;
}

int
machine_sandbox_repair(const struct machine *m, const struct spec_pod *pod, tank_error **err)
{
  return sandbox_repair_pod(&m->sandbox, pod, err);
}

/* rmdir of a cgroup dir and the container cgroups below it, retrying for up
 * to a second while the kernel still holds a dying task (EBUSY). */
static void
rmdir_cgroup_tree(const char *path)
{
  for (int attempt = 0; attempt < 20; attempt++) {
    DIR *d = opendir(path);
    if (d == NULL)
      return; /* gone, or never there (most v1 hierarchies) */
    struct dirent *de;
    while ((de = readdir(d)))
      if (de->d_type == DT_DIR && de->d_name[0] != '.') {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        rmdir(child);
      }
    closedir(d);
    if (rmdir(path) == 0 || errno == ENOENT)
      return;
    usleep(50 * 1000);
  }
}

/* Removes the pod's cgroup (empty by now) from every hierarchy. */
static void
remove_pod_cgroup(const struct machine *m, const char *pod)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", m->cgroup_fs, m->cgroup_root, pod);
  rmdir_cgroup_tree(path); /* v2 */
  DIR *d = opendir(m->cgroup_fs);
  if (d == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s/%s/%s", m->cgroup_fs, de->d_name, m->cgroup_root, pod);
    rmdir_cgroup_tree(path); /* v1: one per hierarchy */
  }
  closedir(d);
}

int
machine_sandbox_destroy(const struct machine *m, const char *pod, bool deleted, tank_error **err)
{
  int r = sandbox_destroy_pod(&m->sandbox, pod, deleted, err);
  remove_pod_cgroup(m, pod);
  _cleanup_free_ char *dir = pod_run_dir(m, pod);
  rm_tree(dir);
  if (deleted) {
    const char *kinds[] = { "volumes", "logs", "containers" };
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
      _cleanup_free_ char *p = path_join(m->data_dir, kinds[i], pod, NULL);
      rm_tree(p);
    }
  }
  return r;
}

/* ---- containers ---------------------------------------------------------------- */

static json_t *
record_json(const struct machine_run_record *rec)
{
  json_t *spec = spec_pod_to_json(rec->pod);
  return json_pack("{s:i,s:i,s:o}", "restarts", (int)rec->restarts, "failures", (int)rec->failures,
                   "pod", spec);
}

/* Runs the shim, which detaches and answers on its stdout/stderr once the
 * workload has exec'd (or failed). */
static int
spawn_shim(const struct machine *m, const char *config, pid_t *ret_pid, tank_error **err)
{
  char *argv[] = { (char *)"tank-shim", (char *)config, NULL };
  pid_t pid;
  int fd;
  int r = spawn_piped(m->shim_path, argv, true, &pid, &fd, err);
  if (r < 0)
    return r;
  char buf[2048];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || (len += (size_t)n) == sizeof buf - 1)
      break;
  }
  buf[len] = '\0';
  close(fd);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  while (len > 0 && buf[len - 1] == '\n')
    buf[--len] = '\0';
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    char *end;
    long v = strtol(buf, &end, 10);
    if (v > 0 && *end == '\0') {
      *ret_pid = (pid_t)v;
      return 0;
    }
  }
  const char *msg = buf;
  if (strncmp(msg, "tank-shim: ", 11) == 0)
    msg += 11;
  return tank_error_set(err, 0, "%s", *msg ? msg : "tank-shim failed without a message");
}

int
machine_container_start(const struct machine *m, const struct spec_pod *pod, size_t index,
                        const struct machine_run_record *rec, struct machine_started *ret,
                        tank_error **err)
{
  const struct spec_container *c = &pod->containers[index];
  _cleanup_free_ char *state = ctr_state_dir(m, pod->name, c->name);
  rm_tree(state);
  int r = mkdir_parents(state, 0700);
  if (r < 0)
    return tank_error_set(err, -r, "mkdir `%s`", state);

  json_t *doc = record_json(rec);
  r = state_write_json(state, "tank.json", doc, err);
  json_decref(doc);
  if (r < 0)
    return r;

  struct image_store *s = NULL;
  if ((r = image_store_open(m->data_dir, &s, err)) < 0)
    return r;
  struct image *img = NULL;
  r = image_lookup(s, c->image, &img, err);
  image_store_free(s);
  if (r < 0)
    return tank_error_wrap(err, "image %s", c->image);
  size_t n_lower = 0;
  while (img->lower_dirs[n_lower])
    n_lower++;
  _cleanup_free_ char *config_blob = NULL;
  if (img->record.config_digest) {
    const char *hex = strchr(img->record.config_digest, ':');
    config_blob = path_join(m->data_dir, "blobs/sha256", hex ? hex + 1 : "", NULL);
  }
  struct ctrconfig_image ci = { img->lower_dirs, n_lower, config_blob };
  struct ctrconfig_paths cp = { m->data_dir, m->run_dir, m->cgroup_fs, m->cgroup_root };
  json_t *cfg = ctrconfig_build(pod, index, &ci, &cp);
  image_free(img);
  if (cfg == NULL)
    return tank_error_set(err, ENOMEM, "container config");
  r = state_write_json(state, "config.json", cfg, err);
  json_decref(cfg);
  if (r < 0)
    return r;

  for (size_t i = 0; i < c->n_mounts; i++)
    for (size_t v = 0; v < pod->n_volumes; v++)
      if (strcmp(pod->volumes[v].name, c->mounts[i].volume) == 0 && pod->volumes[v].host == NULL) {
        _cleanup_free_ char *dir
            = path_join(m->data_dir, "volumes", pod->name, c->mounts[i].volume);
        if ((r = mkdir_parents(dir, 0755)) < 0)
          return tank_error_set(err, -r, "volume %s: mkdir `%s`", c->mounts[i].volume, dir);
      }
  _cleanup_free_ char *logs = path_join(m->data_dir, "logs", pod->name, NULL);
  if ((r = mkdir_parents(logs, 0700)) < 0)
    return tank_error_set(err, -r, "mkdir `%s`", logs);
  /* The last run's log becomes the previous one (tank logs --previous). */
  _cleanup_free_ char *log = ctrconfig_log_path(m->data_dir, pod->name, c->name);
  if (log == NULL)
    return tank_error_set(err, ENOMEM, "log path");
  if ((r = crilog_retire(log, err)) < 0)
    return r;

  _cleanup_free_ char *config = path_join(state, "config.json", NULL, NULL);
  pid_t pid;
  if ((r = spawn_shim(m, config, &pid, err)) < 0)
    return r;

  /* The shim wrote state.json before answering: its own pid and start time. */
  _cleanup_free_ char *state_file = path_join(state, "state.json", NULL, NULL);
  json_t *st = NULL;
  if ((r = read_json(state_file, &st, err)) < 0)
    return r;
  *ret = (struct machine_started){
    .pid = pid,
    .shim_pid = (pid_t)json_integer_value(json_object_get(st, "shim_pid")),
    .shim_start_time = (uint64_t)json_integer_value(json_object_get(st, "shim_start_time")),
    .started_at_ms = machine_parse_time(json_string_value(json_object_get(st, "started_at"))),
  };
  json_decref(st);
  if (ret->shim_pid <= 0)
    return tank_error_set(err, EIO, "%s: no shim_pid", state_file);
  return 0;
}

void
machine_exit_clear(struct machine_exit *e)
{
  free(e->error);
  e->error = NULL;
}

static int
parse_exit(json_t *j, struct machine_exit *ret)
{
  *ret = (struct machine_exit){
    .exit_code = (int)json_integer_value(json_object_get(j, "exit_code")),
    .signal = (int)json_integer_value(json_object_get(j, "signal")),
    .oom_killed = json_is_true(json_object_get(j, "oom_killed")),
    .started_at_ms = machine_parse_time(json_string_value(json_object_get(j, "started_at"))),
    .finished_at_ms = machine_parse_time(json_string_value(json_object_get(j, "finished_at"))),
  };
  const char *e = json_string_value(json_object_get(j, "error"));
  if (e && (ret->error = strdup(e)) == NULL)
    abort();
  return 0;
}

int
machine_read_exit(const struct machine *m, const char *pod, const char *container,
                  struct machine_exit *ret, tank_error **err)
{
  _cleanup_free_ char *state = ctr_state_dir(m, pod, container);
  _cleanup_free_ char *file = path_join(state, "exit.json", NULL, NULL);
  json_t *j = NULL;
  int r = read_json(file, &j, err);
  if (r < 0)
    return r;
  parse_exit(j, ret);
  json_decref(j);
  return 0;
}

int
machine_container_kill_orphan(const struct machine *m, const char *pod, const char *container,
                              tank_error **err)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", m->cgroup_root, pod, container);
  struct tank_cgroup *cg = NULL;
  struct cgroup_limits none = { 0 };
  int r = cgroup_create(m->cgroup_fs, path, CGROUP_VERSION_AUTO, &none, &cg, err);
  if (r < 0)
    return r;
  r = cgroup_kill(cg, err);
  if (r == 0)
    r = cgroup_destroy(cg, err);
  cgroup_free(cg);
  return r;
}

void
machine_container_remove(const struct machine *m, const char *pod, const char *container)
{
  _cleanup_free_ char *state = ctr_state_dir(m, pod, container);
  rm_tree(state);
  _cleanup_free_ char *data = path_join(m->data_dir, "containers", pod, container);
  rm_tree(data);
}

int
machine_update_limits(const struct machine *m, const char *pod, const struct spec_container *c,
                      tank_error **err)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", m->cgroup_root, pod, c->name);
  struct cgroup_limits l
      = { c->limits.memory_bytes, c->limits.pids, c->limits.cpu_quota_us, c->limits.cpu_period_us };
  struct tank_cgroup *cg = NULL;
  int r = cgroup_create(m->cgroup_fs, path, CGROUP_VERSION_AUTO, &l, &cg, err);
  cgroup_free(cg);
  return r;
}

int
machine_check_limits(const struct machine *m, const char *pod, const struct spec_container *c,
                     tank_error **err)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%s", m->cgroup_root, pod, c->name);
  struct tank_cgroup *cg = NULL;
  int r = cgroup_open(m->cgroup_fs, path, CGROUP_VERSION_AUTO, &cg, err);
  if (r < 0)
    return r;
  struct cgroup_limits got;
  r = cgroup_read_limits(cg, &got, err);
  cgroup_free(cg);
  if (r < 0)
    return r;
  const struct spec_limits *l = &c->limits;
  /* The kernel keeps memory limits in whole pages. */
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  bool same = got.memory_bytes / page == l->memory_bytes / page && got.pids == l->pids
              && got.cpu_quota_us == l->cpu_quota_us
              && (l->cpu_quota_us == 0 || got.cpu_period_us == l->cpu_period_us);
  if (same)
    return 0;
  r = machine_update_limits(m, pod, c, err);
  return r < 0 ? r : 1;
}

/* ---- adoption ------------------------------------------------------------------ */

static void
found_container(const struct machine *m, const char *pod, const char *name,
                struct machine_found_pod *fp)
{
  _cleanup_free_ char *state = ctr_state_dir(m, pod, name);
  _cleanup_free_ char *tank_file = path_join(state, "tank.json", NULL, NULL);
  _cleanup_free_ char *state_file = path_join(state, "state.json", NULL, NULL);
  _cleanup_free_ char *exit_file = path_join(state, "exit.json", NULL, NULL);
  json_t *tj = NULL, *sj = NULL, *ej = NULL;
  tank_error *err = NULL;
  if (read_json(tank_file, &tj, &err) < 0) {
    tank_error_freep(&err);
    return; /* not a container dir (or a start that never got going) */
  }
  struct machine_found_container fc = { 0 };
  if ((fc.name = strdup(name)) == NULL)
    abort();
  fc.rec.restarts = (unsigned)json_integer_value(json_object_get(tj, "restarts"));
  fc.rec.failures = (unsigned)json_integer_value(json_object_get(tj, "failures"));
  fc.rec.pod = pod_from_json(json_object_get(tj, "pod"), tank_file);
  json_decref(tj);

  if (read_json(exit_file, &ej, &err) == 0) {
    fc.exited = true;
    parse_exit(ej, &fc.exit);
    json_decref(ej);
  } else if (tank_error_freep(&err), read_json(state_file, &sj, &err) == 0) {
    fc.pid = (pid_t)json_integer_value(json_object_get(sj, "pid"));
    fc.shim_pid = (pid_t)json_integer_value(json_object_get(sj, "shim_pid"));
    fc.shim_start_time = (uint64_t)json_integer_value(json_object_get(sj, "shim_start_time"));
    fc.started_at_ms = machine_parse_time(json_string_value(json_object_get(sj, "started_at")));
    json_decref(sj);
  }
  tank_error_freep(&err);
  struct machine_found_container *n
      = realloc(fp->containers, (fp->n_containers + 1) * sizeof *fp->containers);
  if (n == NULL)
    abort();
  fp->containers = n;
  fp->containers[fp->n_containers++] = fc;
}

int
machine_scan(const struct machine *m, struct machine_found_pod **ret, size_t *ret_n,
             tank_error **err)
{
  *ret = NULL;
  *ret_n = 0;
  _cleanup_free_ char *root = path_join(m->run_dir, "pods", NULL, NULL);
  DIR *d = opendir(root);
  if (d == NULL)
    return errno == ENOENT ? 0 : tank_error_set(err, errno, "open `%s`", root);
  struct machine_found_pod *pods = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || !spec_is_dns_label(de->d_name))
      continue;
    struct machine_found_pod fp = { 0 };
    if ((fp.name = strdup(de->d_name)) == NULL)
      abort();
    fp.sandbox = sandbox_exists(m->run_dir, fp.name);
    _cleanup_free_ char *dir = pod_run_dir(m, fp.name);
    _cleanup_free_ char *sb = path_join(dir, "sandbox.json", NULL, NULL);
    json_t *j = NULL;
    tank_error *e = NULL;
    if (read_json(sb, &j, &e) == 0) {
      fp.sandbox_pod = pod_from_json(j, sb);
      json_decref(j);
    }
    tank_error_free(e);
    DIR *cd = opendir(dir);
    struct dirent *ce;
    while (cd && (ce = readdir(cd)))
      if (ce->d_type == DT_DIR && ce->d_name[0] != '.' && strcmp(ce->d_name, "ns") != 0
          && strcmp(ce->d_name, "etc") != 0)
        found_container(m, fp.name, ce->d_name, &fp);
    if (cd)
      closedir(cd);
    struct machine_found_pod *np = realloc(pods, (n + 1) * sizeof *pods);
    if (np == NULL)
      abort();
    pods = np;
    pods[n++] = fp;
  }
  closedir(d);
  *ret = pods;
  *ret_n = n;
  return 0;
}

void
machine_found_free(struct machine_found_pod *pods, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    for (size_t c = 0; c < pods[i].n_containers; c++) {
      free(pods[i].containers[c].name);
      spec_pod_free(pods[i].containers[c].rec.pod);
      machine_exit_clear(&pods[i].containers[c].exit);
    }
    free(pods[i].containers);
    spec_pod_free(pods[i].sandbox_pod);
    free(pods[i].name);
  }
  free(pods);
}
