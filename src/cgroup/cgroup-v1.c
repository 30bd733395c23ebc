/* The v1/hybrid cgroup driver: one directory per controller hierarchy
 * (memory, pids, cpu, cpuacct, freezer) under root/<controller>/<path>. */
#include "cgroup/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* blkio: so a container's block I/O is counted apart from the host's. */
static const char *const v1_controllers[]
    = { "memory", "pids", "cpu", "cpuacct", "freezer", "devices", "blkio" };

static int
v1_fd(struct tank_cgroup *cg, const char *name)
{
  for (size_t i = 0; i < cg->n_v1; i++)
    if (strcmp(cg->v1[i].name, name) == 0)
      return cg->v1[i].dir_fd;
  return -1;
}

static bool
controller_mounted(const char *root, const char *name)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/cgroup.procs", root, name);
  return access(path, F_OK) == 0;
}

static int
v1_apply(struct tank_cgroup *cg, const struct cgroup_limits *l, tank_error **err)
{
  char buf[64];
  int r;
  if (v1_fd(cg, "devices") >= 0 && (r = cg_device_rules_v1(v1_fd(cg, "devices"), err)) < 0)
    return r;
  if (l->memory_bytes) {
    snprintf(buf, sizeof buf, "%" PRIu64, l->memory_bytes);
    r = cg_write(v1_fd(cg, "memory"), "memory.limit_in_bytes", buf, err);
    if (r < 0)
      return tank_error_wrap(err, "memory limit");
  }
  if (l->pids) {
    snprintf(buf, sizeof buf, "%" PRIu64, l->pids);
    r = cg_write(v1_fd(cg, "pids"), "pids.max", buf, err);
    if (r < 0)
      return tank_error_wrap(err, "pids limit");
  }
  if (l->cpu_quota_us) {
    int fd = v1_fd(cg, "cpu");
    snprintf(buf, sizeof buf, "%" PRIu64, l->cpu_period_us ? l->cpu_period_us : 100000);
    r = cg_write(fd, "cpu.cfs_period_us", buf, err);
    if (r < 0)
      return tank_error_wrap(err, "cpu period");
    snprintf(buf, sizeof buf, "%" PRIu64, l->cpu_quota_us);
    r = cg_write(fd, "cpu.cfs_quota_us", buf, err);
    if (r < 0)
      return tank_error_wrap(err, "cpu quota");
  }
  return 0;
}

static int
v1_create(struct tank_cgroup *cg, const struct cgroup_limits *l, tank_error **err)
{
  for (size_t i = 0; i < sizeof v1_controllers / sizeof v1_controllers[0]; i++) {
    const char *name = v1_controllers[i];
    bool needed = (strcmp(name, "memory") == 0 && l->memory_bytes)
                  || (strcmp(name, "pids") == 0 && l->pids)
                  || (strcmp(name, "cpu") == 0 && l->cpu_quota_us);
    if (!controller_mounted(cg->root, name)) {
      if (needed)
        return tank_error_set(err, ENODEV, "the %s controller is not mounted at `%s/%s`", name,
                              cg->root, name);
      continue;
    }
    char base[4096];
    snprintf(base, sizeof base, "%s/%s", cg->root, name);
    int fd;
    int r = cg_mkdirs(base, cg->path, &fd, err);
    if (r < 0)
      return r;
    cg->v1[cg->n_v1].name = name;
    cg->v1[cg->n_v1].dir_fd = fd;
    cg->n_v1++;
  }
  if (cg->n_v1 == 0)
    return tank_error_set(err, ENODEV, "no v1 controller mounted under `%s`", cg->root);
  return v1_apply(cg, l, err);
}

/* pid 0 moves the calling thread through `tasks`. A write to cgroup.procs, or
 * of any other task's id, makes the kernel write-lock cgroup_threadgroup_rwsem,
 * which first waits for an RCU grace period (up to ~15 ms here, on every start
 * that follows a pause); a thread moving itself does not take that lock. */
static int
v1_attach(struct tank_cgroup *cg, pid_t pid, tank_error **err)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  const char *file = pid == 0 ? "tasks" : "cgroup.procs";
  for (size_t i = 0; i < cg->n_v1; i++) {
    int r = cg_write(cg->v1[i].dir_fd, file, buf, err);
    if (r < 0 && pid == 0)
      return tank_error_wrap(err, "move into %s cgroup `%s`", cg->v1[i].name, cg->path);
    if (r < 0)
      return tank_error_wrap(err, "attach pid %d to %s cgroup `%s`", (int)pid, cg->v1[i].name,
                             cg->path);
  }
  return 0;
}

static int
v1_open(struct tank_cgroup *cg, tank_error **err)
{
  for (size_t i = 0; i < sizeof v1_controllers / sizeof v1_controllers[0]; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/%s", cg->root, v1_controllers[i], cg->path);
    int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT)
        continue;
      return tank_error_set(err, errno, "open `%s`", dir);
    }
    cg->v1[cg->n_v1].name = v1_controllers[i];
    cg->v1[cg->n_v1].dir_fd = fd;
    cg->n_v1++;
  }
  if (cg->n_v1 == 0)
    return tank_error_set(err, ENOENT, "no hierarchy under `%s` has it", cg->root);
  return 0;
}

/* blkio.throttle.io_service_bytes(_recursive): "MAJ:MIN Read N" lines per device. */
static void
sum_blkio(const char *text, uint64_t *ret_read, uint64_t *ret_write)
{
  uint64_t rd = 0, wr = 0;
  for (const char *p = text; p && *p;) {
    char dev[32], op[16];
    unsigned long long v;
    if (sscanf(p, "%31s %15s %llu", dev, op, &v) == 3 && strchr(dev, ':')) {
      if (strcmp(op, "Read") == 0)
        rd += v;
      else if (strcmp(op, "Write") == 0)
        wr += v;
    }
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  *ret_read = rd;
  *ret_write = wr;
}

static int
v1_blkio(int fd, struct cgroup_stats *s, tank_error **err)
{
  char buf[16384];
  /* The _recursive files count descendants too (a pod's cgroup holds none itself). */
  const char *bytes = faccessat(fd, "blkio.throttle.io_service_bytes_recursive", F_OK, 0) == 0
                          ? "blkio.throttle.io_service_bytes_recursive"
                          : "blkio.throttle.io_service_bytes";
  const char *ops = faccessat(fd, "blkio.throttle.io_serviced_recursive", F_OK, 0) == 0
                        ? "blkio.throttle.io_serviced_recursive"
                        : "blkio.throttle.io_serviced";
  int r = cg_read(fd, bytes, buf, sizeof buf, err);
  if (r < 0)
    return r;
  sum_blkio(buf, &s->io_read_bytes, &s->io_write_bytes);
  if ((r = cg_read(fd, ops, buf, sizeof buf, err)) < 0)
    return r;
  sum_blkio(buf, &s->io_read_ops, &s->io_write_ops);
  return 0;
}

static int v1_procs_fd(struct tank_cgroup *cg);

/* The I/O the cgroup's processes caused, from /proc/<pid>/io: what a process
 * reaped (and its threads that ended) is in its own counters, so a
 * container's PID 1 carries its finished children. Used when the blkio files
 * say nothing: recent kernels count v1 blkio.throttle.* only on queues with a
 * throttle rule, and blkio.bfq.* only under BFQ. */
static void
v1_proc_io(int procs_dir_fd, struct cgroup_stats *s)
{
  char buf[65536];
  tank_error *e = NULL;
  if (procs_dir_fd < 0 || cg_read(procs_dir_fd, "cgroup.procs", buf, sizeof buf, &e) < 0) {
    tank_error_free(e);
    return;
  }
  for (char *p = buf; *p;) {
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p)
      break;
    char path[64], io[1024];
    snprintf(path, sizeof path, "/proc/%ld/io", pid);
    FILE *f = fopen(path, "re");
    if (f) {
      size_t n = fread(io, 1, sizeof io - 1, f);
      io[n] = '\0';
      fclose(f);
      uint64_t v = 0;
      if (cg_keyed(io, "read_bytes:", &v))
        s->io_read_bytes += v;
      if (cg_keyed(io, "write_bytes:", &v))
        s->io_write_bytes += v;
    }
    p = end;
    while (*p == '\n')
      p++;
  }
}

static int
v1_stats(struct tank_cgroup *cg, struct cgroup_stats *s, tank_error **err)
{
  int fd, r;
  char buf[4096];
  if ((fd = v1_fd(cg, "memory")) >= 0) {
    if ((r = cg_read_u64(fd, "memory.usage_in_bytes", &s->memory_current_bytes, err)) < 0
        || (r = cg_read_u64(fd, "memory.max_usage_in_bytes", &s->memory_peak_bytes, err)) < 0
        || (r = cg_read_limit(fd, "memory.limit_in_bytes", &s->memory_limit_bytes, err)) < 0
        || (r = cg_read(fd, "memory.oom_control", buf, sizeof buf, err)) < 0)
      return r;
    cg_keyed(buf, "oom_kill", &s->oom_kills);
    if ((r = cg_read(fd, "memory.stat", buf, sizeof buf, err)) < 0)
      return r;
    uint64_t inactive_file = 0;
    cg_keyed(buf, "total_inactive_file", &inactive_file);
    cg_keyed(buf, "total_cache", &s->memory_cache_bytes);
    cg_keyed(buf, "total_rss", &s->memory_rss_bytes);
    s->memory_working_set_bytes
        = s->memory_current_bytes > inactive_file ? s->memory_current_bytes - inactive_file : 0;
  }
  if ((fd = v1_fd(cg, "pids")) >= 0
      && ((r = cg_read_u64(fd, "pids.current", &s->pids_current, err)) < 0
          || (r = cg_read_limit(fd, "pids.max", &s->pids_limit, err)) < 0))
    return r;
  if ((fd = v1_fd(cg, "cpuacct")) >= 0) {
    uint64_t ns;
    if ((r = cg_read_u64(fd, "cpuacct.usage", &ns, err)) < 0
        || (r = cg_read(fd, "cpuacct.stat", buf, sizeof buf, err)) < 0)
      return r;
    s->cpu_usage_us = ns / 1000;
    /* cpuacct.stat counts USER_HZ ticks. */
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t user = 0, system = 0;
    cg_keyed(buf, "user", &user);
    cg_keyed(buf, "system", &system);
    s->cpu_user_us = user * (uint64_t)(1000000 / (hz > 0 ? hz : 100));
    s->cpu_system_us = system * (uint64_t)(1000000 / (hz > 0 ? hz : 100));
  }
  if ((fd = v1_fd(cg, "cpu")) >= 0) {
    if ((r = cg_read(fd, "cpu.stat", buf, sizeof buf, err)) < 0
        || (r = cg_read_limit(fd, "cpu.cfs_quota_us", &s->cpu_quota_us, err)) < 0
        || (r = cg_read_u64(fd, "cpu.cfs_period_us", &s->cpu_period_us, err)) < 0)
      return r;
    uint64_t ns = 0;
    cg_keyed(buf, "nr_periods", &s->cpu_nr_periods);
    cg_keyed(buf, "nr_throttled", &s->cpu_nr_throttled);
    cg_keyed(buf, "throttled_time", &ns);
    s->cpu_throttled_us = ns / 1000;
  }
  if ((fd = v1_fd(cg, "blkio")) >= 0 && (r = v1_blkio(fd, s, err)) < 0)
    return r;
  if (s->io_read_bytes == 0 && s->io_write_bytes == 0)
    v1_proc_io(v1_procs_fd(cg), s);
  return 0;
}

static int
v1_procs_fd(struct tank_cgroup *cg)
{
  int fd = v1_fd(cg, "freezer");
  if (fd < 0)
    fd = v1_fd(cg, "pids");
  if (fd < 0 && cg->n_v1 > 0)
    fd = cg->v1[0].dir_fd;
  return fd;
}

static int
wait_frozen(int fd, tank_error **err)
{
  char buf[64];
  for (int i = 0; i < 1000; i++) {
    int r = cg_read(fd, "freezer.state", buf, sizeof buf, err);
    if (r < 0)
      return r;
    if (strncmp(buf, "FROZEN", 6) == 0)
      return 0;
    struct timespec ts = { 0, 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  return tank_error_set(err, ETIMEDOUT, "freezer did not reach FROZEN");
}

/* An empty cgroup gains a member only through a write from outside, never by a
 * fork: there is nothing to freeze. That is every exit of a container whose pid
 * namespace took its processes along, and skips a freeze and thaw (~0.2 ms). */
static bool
v1_is_empty(int dir_fd)
{
  int fd = openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char b[16];
  ssize_t n;
  do
    n = read(fd, b, sizeof b);
  while (n < 0 && errno == EINTR);
  close(fd);
  return n == 0;
}

/* No cgroup.kill in v1: freeze so nothing can fork past us, SIGKILL every
 * listed pid (delivered once thawed), then thaw. */
static int
v1_kill(struct tank_cgroup *cg, tank_error **err)
{
  int freezer = v1_fd(cg, "freezer");
  int fd = v1_procs_fd(cg);
  if (fd < 0)
    return 0;
  if (freezer < 0) {
    for (int i = 0; i < 100; i++) {
      int n = cg_kill_listed(fd, err);
      if (n <= 0)
        return n;
    }
    return 0;
  }
  if (v1_is_empty(freezer))
    return 0;
  int r = cg_write(freezer, "freezer.state", "FROZEN", err);
  if (r >= 0)
    r = wait_frozen(freezer, err);
  if (r >= 0)
    r = cg_kill_listed(freezer, err);
  tank_error *thaw_err = NULL;
  int t = cg_write(freezer, "freezer.state", "THAWED", &thaw_err);
  if (r >= 0 && t < 0) {
    *err = thaw_err;
    return t;
  }
  tank_error_free(thaw_err);
  return r < 0 ? r : 0;
}

static int
v1_destroy(struct tank_cgroup *cg, tank_error **err)
{
  int ret = 0;
  for (size_t i = 0; i < cg->n_v1; i++) {
    char base[4096];
    snprintf(base, sizeof base, "%s/%s", cg->root, cg->v1[i].name);
    tank_error *e = NULL;
    int r = cg_rmdir(base, cg->path, &e);
    if (r < 0 && ret == 0) {
      ret = r;
      if (err && *err == NULL)
        *err = e;
      else
        tank_error_free(e);
    } else {
      tank_error_free(e);
    }
  }
  return ret;
}

static int
v1_limits(struct tank_cgroup *cg, struct cgroup_limits *l, tank_error **err)
{
  int fd, r;
  if ((fd = v1_fd(cg, "memory")) >= 0
      && (r = cg_read_limit(fd, "memory.limit_in_bytes", &l->memory_bytes, err)) < 0)
    return r;
  if ((fd = v1_fd(cg, "pids")) >= 0 && (r = cg_read_limit(fd, "pids.max", &l->pids, err)) < 0)
    return r;
  if ((fd = v1_fd(cg, "cpu")) >= 0
      && ((r = cg_read_limit(fd, "cpu.cfs_quota_us", &l->cpu_quota_us, err)) < 0
          || (r = cg_read_u64(fd, "cpu.cfs_period_us", &l->cpu_period_us, err)) < 0))
    return r;
  return 0;
}

const struct cgroup_driver cgroup_v1_driver = {
  .name = "v1",
  .create = v1_create,
  .open = v1_open,
  .attach = v1_attach,
  .stats = v1_stats,
  .limits = v1_limits,
  .procs_fd = v1_procs_fd,
  .kill = v1_kill,
  .destroy = v1_destroy,
};
