/* The v2 (unified) cgroup driver: one directory root/<path>, controllers
 * enabled in every ancestor's cgroup.subtree_control, cgroup.kill to stop. */
#include "cgroup/cgroup-internal.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

static bool
has_word(const char *list, const char *word)
{
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
      return true;
  return false;
}

/* Enables the controllers the limits need in root and every ancestor of path. */
static int
enable_controllers(struct tank_cgroup *cg, const struct cgroup_limits *l, tank_error **err)
{
  const char *wanted[] = { "memory", "pids", "cpu" };
  _cleanup_close_ int fd = open(cg->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", cg->root);
  _cleanup_free_ char *copy = strdup(cg->path);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "cgroup");
  char *save = NULL;
  char *part = strtok_r(copy, "/", &save);
  while (part) {
    char avail[1024];
    int r = cg_read(fd, "cgroup.controllers", avail, sizeof avail, err);
    if (r < 0)
      return r;
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++) {
      bool needed
          = (i == 0 && l->memory_bytes) || (i == 1 && l->pids) || (i == 2 && l->cpu_quota_us);
      if (!has_word(avail, wanted[i])) {
        if (needed)
          return tank_error_set(err, ENODEV, "the %s controller is not available in `%s`",
                                wanted[i], cg->root);
        continue;
      }
      char ctl[32];
      snprintf(ctl, sizeof ctl, "+%s", wanted[i]);
      r = cg_write(fd, "cgroup.subtree_control", ctl, err);
      if (r < 0 && needed)
        return r;
      if (r < 0)
        tank_error_freep(err);
    }
    if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST)
      return tank_error_set(err, errno, "mkdir `%s/%s`", cg->root, cg->path);
    int next = openat(fd, part, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (next < 0)
      return tank_error_set(err, errno, "open `%s/%s`", cg->root, cg->path);
    close(fd);
    fd = next;
    part = strtok_r(NULL, "/", &save);
  }
  cg->dir_fd = steal_fd(&fd);
  return 0;
}

static int
v2_create(struct tank_cgroup *cg, const struct cgroup_limits *l, tank_error **err)
{
  int r = enable_controllers(cg, l, err);
  if (r < 0)
    return r;
  if ((r = cg_device_rules_bpf(cg->dir_fd, err)) < 0)
    return r;
  char buf[64];
  if (l->memory_bytes) {
    snprintf(buf, sizeof buf, "%" PRIu64, l->memory_bytes);
    if ((r = cg_write(cg->dir_fd, "memory.max", buf, err)) < 0)
      return tank_error_wrap(err, "memory limit");
    /* Like the v1 host without swap: the limit is the limit. */
    if (faccessat(cg->dir_fd, "memory.swap.max", F_OK, 0) == 0
        && (r = cg_write(cg->dir_fd, "memory.swap.max", "0", err)) < 0)
      return tank_error_wrap(err, "memory swap limit");
  }
  if (l->pids) {
    snprintf(buf, sizeof buf, "%" PRIu64, l->pids);
    if ((r = cg_write(cg->dir_fd, "pids.max", buf, err)) < 0)
      return tank_error_wrap(err, "pids limit");
  }
  if (l->cpu_quota_us) {
    snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64, l->cpu_quota_us,
             l->cpu_period_us ? l->cpu_period_us : 100000);
    if ((r = cg_write(cg->dir_fd, "cpu.max", buf, err)) < 0)
      return tank_error_wrap(err, "cpu limit");
  }
  return 0;
}

static int
v2_attach(struct tank_cgroup *cg, pid_t pid, tank_error **err)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  int r = cg_write(cg->dir_fd, "cgroup.procs", buf, err); /* "0": the caller's process */
  if (r < 0)
    return tank_error_wrap(err, "attach pid %d to cgroup `%s`", (int)pid, cg->path);
  return 0;
}

static int
v2_open(struct tank_cgroup *cg, tank_error **err)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", cg->root, cg->path);
  cg->dir_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (cg->dir_fd < 0)
    return tank_error_set(err, errno, "open `%s`", dir);
  return 0;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device. */
static void
sum_io_stat(const char *text, struct cgroup_stats *s)
{
  static const struct {
    const char *key;
    size_t off;
  } keys[] = { { "rbytes=", offsetof(struct cgroup_stats, io_read_bytes) },
               { "wbytes=", offsetof(struct cgroup_stats, io_write_bytes) },
               { "rios=", offsetof(struct cgroup_stats, io_read_ops) },
               { "wios=", offsetof(struct cgroup_stats, io_write_ops) } };
  for (const char *p = text; *p;) {
    const char *eol = strchrnul(p, '\n');
    for (const char *w = p; w < eol;) {
      for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t kl = strlen(keys[k].key);
        if ((size_t)(eol - w) > kl && strncmp(w, keys[k].key, kl) == 0)
          *(uint64_t *)((char *)s + keys[k].off) += strtoull(w + kl, NULL, 10);
      }
      const char *sp = memchr(w, ' ', (size_t)(eol - w));
      w = sp ? sp + 1 : eol;
    }
    p = *eol ? eol + 1 : eol;
  }
}

static int
v2_stats(struct tank_cgroup *cg, struct cgroup_stats *s, tank_error **err)
{
  char buf[8192];
  int fd = cg->dir_fd, r;
  if (faccessat(fd, "memory.current", F_OK, 0) == 0) {
    if ((r = cg_read_u64(fd, "memory.current", &s->memory_current_bytes, err)) < 0
        || (r = cg_read_limit(fd, "memory.max", &s->memory_limit_bytes, err)) < 0)
      return r;
    if (faccessat(fd, "memory.peak", F_OK, 0) == 0
        && (r = cg_read_u64(fd, "memory.peak", &s->memory_peak_bytes, err)) < 0)
      return r;
    if ((r = cg_read(fd, "memory.events", buf, sizeof buf, err)) < 0)
      return r;
    cg_keyed(buf, "oom_kill", &s->oom_kills);
    if ((r = cg_read(fd, "memory.stat", buf, sizeof buf, err)) < 0)
      return r;
    uint64_t inactive_file = 0;
    cg_keyed(buf, "inactive_file", &inactive_file);
    cg_keyed(buf, "file", &s->memory_cache_bytes);
    cg_keyed(buf, "anon", &s->memory_rss_bytes);
    s->memory_working_set_bytes
        = s->memory_current_bytes > inactive_file ? s->memory_current_bytes - inactive_file : 0;
  }
  if (faccessat(fd, "pids.current", F_OK, 0) == 0
      && ((r = cg_read_u64(fd, "pids.current", &s->pids_current, err)) < 0
          || (r = cg_read_limit(fd, "pids.max", &s->pids_limit, err)) < 0))
    return r;
  if ((r = cg_read(fd, "cpu.stat", buf, sizeof buf, err)) < 0)
    return r;
  cg_keyed(buf, "usage_usec", &s->cpu_usage_us);
  cg_keyed(buf, "user_usec", &s->cpu_user_us);
  cg_keyed(buf, "system_usec", &s->cpu_system_us);
  cg_keyed(buf, "nr_periods", &s->cpu_nr_periods);
  cg_keyed(buf, "nr_throttled", &s->cpu_nr_throttled);
  cg_keyed(buf, "throttled_usec", &s->cpu_throttled_us);
  if (faccessat(fd, "cpu.max", F_OK, 0) == 0) {
    if ((r = cg_read(fd, "cpu.max", buf, sizeof buf, err)) < 0)
      return r;
    unsigned long long period = 0;
    if (strncmp(buf, "max", 3) != 0)
      s->cpu_quota_us = strtoull(buf, NULL, 10);
    const char *sp = strchr(buf, ' ');
    if (sp)
      period = strtoull(sp + 1, NULL, 10);
    s->cpu_period_us = period;
  }
  if (faccessat(fd, "io.stat", F_OK, 0) == 0) {
    if ((r = cg_read(fd, "io.stat", buf, sizeof buf, err)) < 0)
      return r;
    sum_io_stat(buf, s);
  }
  return 0;
}

static int
v2_procs_fd(struct tank_cgroup *cg)
{
  return cg->dir_fd;
}

static int
v2_kill(struct tank_cgroup *cg, tank_error **err)
{
  if (cg->dir_fd < 0)
    return 0;
  if (faccessat(cg->dir_fd, "cgroup.kill", F_OK, 0) == 0)
    return cg_write(cg->dir_fd, "cgroup.kill", "1", err);
  int r = cg_write(cg->dir_fd, "cgroup.freeze", "1", err);
  if (r < 0)
    return r;
  r = cg_kill_listed(cg->dir_fd, err);
  tank_error *e = NULL;
  cg_write(cg->dir_fd, "cgroup.freeze", "0", &e);
  tank_error_free(e);
  return r < 0 ? r : 0;
}

static int
v2_destroy(struct tank_cgroup *cg, tank_error **err)
{
  return cg_rmdir(cg->root, cg->path, err);
}

static int
v2_limits(struct tank_cgroup *cg, struct cgroup_limits *l, tank_error **err)
{
  int fd = cg->dir_fd, r;
  char buf[128];
  if (faccessat(fd, "memory.max", F_OK, 0) == 0
      && (r = cg_read_limit(fd, "memory.max", &l->memory_bytes, err)) < 0)
    return r;
  if (faccessat(fd, "pids.max", F_OK, 0) == 0
      && (r = cg_read_limit(fd, "pids.max", &l->pids, err)) < 0)
    return r;
  if (faccessat(fd, "cpu.max", F_OK, 0) == 0) {
    if ((r = cg_read(fd, "cpu.max", buf, sizeof buf, err)) < 0)
      return r;
    if (strncmp(buf, "max", 3) != 0)
      l->cpu_quota_us = strtoull(buf, NULL, 10);
    const char *sp = strchr(buf, ' ');
    if (sp)
      l->cpu_period_us = strtoull(sp + 1, NULL, 10);
  }
  return 0;
}

const struct cgroup_driver cgroup_v2_driver = {
  .name = "v2",
  .create = v2_create,
  .open = v2_open,
  .attach = v2_attach,
  .stats = v2_stats,
  .limits = v2_limits,
  .procs_fd = v2_procs_fd,
  .kill = v2_kill,
  .destroy = v2_destroy,
};
