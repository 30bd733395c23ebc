/* The cgroup seam: detection of the mounted hierarchy, dispatch to the v1 or v2
 * driver, and the file helpers both drivers use. */
#include "cgroup/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

int
cgroup_detect(const char *root, enum cgroup_version *ret_version, tank_error **err)
{
  struct statfs st;
  if (statfs(root, &st) < 0)
    return tank_error_set(err, errno, "statfs cgroup root `%s`", root);
  if (st.f_type == CGROUP2_SUPER_MAGIC) {
    *ret_version = CGROUP_VERSION_2;
    return 0;
  }
  if (st.f_type == TMPFS_MAGIC) {
    *ret_version = CGROUP_VERSION_1;
    return 0;
  }
  return tank_error_set(err, ENOTSUP, "cgroup root `%s` is neither cgroup2 nor a v1 tmpfs", root);
}

static bool
path_is_safe(const char *path)
{
  if (path[0] == '\0' || path[0] == '/' || strlen(path) > 512)
    return false;
  for (const char *p = path; *p;) {
    const char *slash = strchrnul(p, '/');
    size_t n = (size_t)(slash - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return false;
    p = *slash ? slash + 1 : slash;
  }
  return true;
}

/* A handle for path below root, with the driver of its hierarchy. */
static int
cgroup_new(const char *root, const char *path, enum cgroup_version version,
           struct tank_cgroup **ret, tank_error **err)
{
  if (!path_is_safe(path))
    return tank_error_set(err, EINVAL, "cgroup path `%s` must be relative without . or ..", path);
  if (version == CGROUP_VERSION_AUTO) {
    int r = cgroup_detect(root, &version, err);
    if (r < 0)
      return r;
  }
  struct tank_cgroup *cg = calloc(1, sizeof *cg);
  if (cg == NULL)
    return tank_error_set(err, ENOMEM, "cgroup");
  cg->dir_fd = -EBADF;
  cg->version = version;
  cg->driver = version == CGROUP_VERSION_2 ? &cgroup_v2_driver : &cgroup_v1_driver;
  cg->root = strdup(root);
  cg->path = strdup(path);
  if (cg->root == NULL || cg->path == NULL) {
    cgroup_free(cg);
    return tank_error_set(err, ENOMEM, "cgroup");
  }
  *ret = cg;
  return 0;
}

int
cgroup_create(const char *root, const char *path, enum cgroup_version version,
              const struct cgroup_limits *limits, struct tank_cgroup **ret_cg, tank_error **err)
{
  struct tank_cgroup *cg;
  int r = cgroup_new(root, path, version, &cg, err);
  if (r < 0)
    return r;
  r = cg->driver->create(cg, limits, err);
  if (r < 0) {
    tank_error *ignored = NULL;
    cg->driver->destroy(cg, &ignored);
    tank_error_free(ignored);
    cgroup_free(cg);
    return tank_error_wrap(err, "create cgroup `%s`", path);
  }
  *ret_cg = cg;
  return 0;
}

int
cgroup_open(const char *root, const char *path, enum cgroup_version version,
            struct tank_cgroup **ret_cg, tank_error **err)
{
  struct tank_cgroup *cg;
  int r = cgroup_new(root, path, version, &cg, err);
  if (r < 0)
    return r;
  r = cg->driver->open(cg, err);
  if (r < 0) {
    cgroup_free(cg);
    return tank_error_wrap(err, "open cgroup `%s`", path);
  }
  *ret_cg = cg;
  return 0;
}

enum cgroup_version
cgroup_version_of(const struct tank_cgroup *cg)
{
  return cg->version;
}

int
cgroup_clone_fd(const struct tank_cgroup *cg)
{
  return cg->version == CGROUP_VERSION_2 ? cg->dir_fd : -1;
}

int
cgroup_attach(struct tank_cgroup *cg, pid_t pid, tank_error **err)
{
  return cg->driver->attach(cg, pid, err);
}

int
cgroup_read_stats(struct tank_cgroup *cg, struct cgroup_stats *ret_stats, tank_error **err)
{
  struct cgroup_stats s = { 0 };
  int r = cg->driver->stats(cg, &s, err);
  if (r < 0)
    return tank_error_wrap(err, "cgroup stats `%s`", cg->path);
  *ret_stats = s;
  return 0;
}

int
cgroup_read_limits(struct tank_cgroup *cg, struct cgroup_limits *ret_limits, tank_error **err)
{
  struct cgroup_limits l = { 0 };
  int r = cg->driver->limits(cg, &l, err);
  if (r < 0)
    return tank_error_wrap(err, "cgroup limits `%s`", cg->path);
  *ret_limits = l;
  return 0;
}

int
cgroup_count_procs(struct tank_cgroup *cg, size_t *ret_n, tank_error **err)
{
  int fd = cg->driver->procs_fd(cg);
  if (fd < 0) {
    *ret_n = 0;
    return 0;
  }
  char buf[65536];
  int r = cg_read(fd, "cgroup.procs", buf, sizeof buf, err);
  if (r < 0)
    return r;
  size_t n = 0;
  for (char *p = buf; *p; p++)
    if (*p == '\n')
      n++;
  *ret_n = n;
  return 0;
}

int
cgroup_kill(struct tank_cgroup *cg, tank_error **err)
{
  int r = cg->driver->kill(cg, err);
  if (r < 0)
    return tank_error_wrap(err, "kill cgroup `%s`", cg->path);
  return 0;
}

int
cgroup_destroy(struct tank_cgroup *cg, tank_error **err)
{
  return cg->driver->destroy(cg, err);
}

struct tank_cgroup *
cgroup_free(struct tank_cgroup *cg)
{
  if (cg == NULL)
    return NULL;
  if (cg->dir_fd >= 0)
    close(cg->dir_fd);
  for (size_t i = 0; i < cg->n_v1; i++)
    if (cg->v1[i].dir_fd >= 0)
      close(cg->v1[i].dir_fd);
  free(cg->root);
  free(cg->path);
  free(cg);
  return NULL;
}

void
cgroup_freep(struct tank_cgroup **cg)
{
  *cg = cgroup_free(*cg);
}

int
cg_write(int dir_fd, const char *name, const char *value, tank_error **err)
{
  _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", name);
  size_t len = strlen(value);
  ssize_t w = write(fd, value, len);
  if (w < 0)
    return tank_error_set(err, errno, "write `%s` to `%s`", value, name);
  if ((size_t)w != len)
    return tank_error_set(err, EIO, "short write of `%s` to `%s`", value, name);
  return 0;
}

int
cg_read(int dir_fd, const char *name, char *buf, size_t size, tank_error **err)
{
  _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", name);
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, size - 1 - len);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "read `%s`", name);
    }
    if (r == 0)
      break;
    len += (size_t)r;
    if (len >= size - 1)
      return tank_error_set(err, EFBIG, "`%s` larger than %zu bytes", name, size - 1);
  }
  buf[len] = '\0';
  return 0;
}

int
cg_read_u64(int dir_fd, const char *name, uint64_t *ret, tank_error **err)
{
  char buf[64];
  int r = cg_read(dir_fd, name, buf, sizeof buf, err);
  if (r < 0)
    return r;
  if (strncmp(buf, "max", 3) == 0) {
    *ret = UINT64_MAX;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno != 0 || end == buf)
    return tank_error_set(err, EINVAL, "`%s` is not a number: `%s`", name, buf);
  *ret = v;
  return 0;
}

int
cg_read_limit(int dir_fd, const char *name, uint64_t *ret, tank_error **err)
{
  char buf[64];
  int r = cg_read(dir_fd, name, buf, sizeof buf, err);
  if (r < 0)
    return r;
  if (strncmp(buf, "max", 3) == 0 || buf[0] == '-') {
    *ret = 0;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno != 0 || end == buf)
    return tank_error_set(err, EINVAL, "`%s` is not a number: `%s`", name, buf);
  *ret = v >= (1ULL << 62) ? 0 : v;
  return 0;
}

bool
cg_keyed(const char *text, const char *key, uint64_t *ret)
{
  size_t klen = strlen(key);
  for (const char *p = text; p && *p;) {
    if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
      *ret = strtoull(p + klen + 1, NULL, 10);
      return true;
    }
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return false;
}

int
cg_mkdirs(const char *base, const char *rel, int *ret_fd, tank_error **err)
{
  _cleanup_close_ int fd = open(base, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", base);
  _cleanup_free_ char *copy = strdup(rel);
  if (copy == NULL)
    return tank_error_set(err, ENOMEM, "mkdir");
  char *save = NULL;
  for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST)
      return tank_error_set(err, errno, "mkdir `%s/%s`", base, rel);
    int next = openat(fd, part, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (next < 0)
      return tank_error_set(err, errno, "open `%s/%s`", base, rel);
    close(fd);
    fd = next;
  }
  *ret_fd = steal_fd(&fd);
  return 0;
}

int
cg_kill_listed(int dir_fd, tank_error **err)
{
  char buf[65536];
  int r = cg_read(dir_fd, "cgroup.procs", buf, sizeof buf, err);
  if (r < 0)
    return r;
  int n = 0;
  for (char *p = buf; *p;) {
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p)
      break;
    if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
      n++;
    p = end;
    while (*p == '\n')
      p++;
  }
  return n;
}

int
cg_rmdir(const char *base, const char *rel, tank_error **err)
{
  _cleanup_free_ char *full = NULL;
  if (asprintf(&full, "%s/%s", base, rel) < 0)
    return tank_error_set(err, ENOMEM, "rmdir");
  /* A killed process leaves the cgroup a little after it is reaped: retry up to ~2 s. */
  for (int i = 0; i < 400; i++) {
    if (rmdir(full) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY)
      break;
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  return tank_error_set(err, errno, "rmdir `%s`", full);
}
