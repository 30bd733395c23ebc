/* Joining the cgroups of another process: /proc/PID/cgroup names the cgroup on
 * each hierarchy, /proc/self/mountinfo says where each hierarchy is mounted. */
#include "cgroup/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Every comma-separated item of want is among the comma-separated opts. */
static bool
options_have_all(const char *opts, const char *want)
{
  for (const char *w = want; *w;) {
    size_t wn = strcspn(w, ",");
    bool found = false;
    for (const char *o = opts; *o;) {
      size_t on = strcspn(o, ",");
      if (on == wn && strncmp(o, w, wn) == 0)
        found = true;
      o += on + (o[on] == ',');
    }
    if (!found)
      return false;
    w += wn + (w[wn] == ',');
  }
  return true;
}

/* The cgroup mounts of /proc/self/mountinfo, read once. */
struct cg_mount {
  char root[512], mnt[512];
  char opts[256]; /* super options: the controllers; "" for cgroup2 */
  bool v2;
};

static size_t
read_mounts(struct cg_mount *out, size_t max)
{
  _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return 0;
  _cleanup_free_ char *line = NULL;
  size_t cap = 0, n = 0;
  while (n < max && getline(&line, &cap, f) > 0) {
    char fstype[16];
    char *sep = strstr(line, " - ");
    struct cg_mount *m = &out[n];
    if (sep == NULL || sscanf(sep + 3, "%15s %*s %255s", fstype, m->opts) != 2)
      continue;
    m->v2 = strcmp(fstype, "cgroup2") == 0;
    if ((!m->v2 && strcmp(fstype, "cgroup") != 0)
        || sscanf(line, "%*s %*s %*s %511s %511s", m->root, m->mnt) != 2)
      continue;
    n++;
  }
  return n;
}

/* The mount of the hierarchy holding `controllers` ("" for the unified one). */
static const struct cg_mount *
find_mount(const struct cg_mount *mounts, size_t n, const char *controllers)
{
  for (size_t i = 0; i < n; i++)
    if (controllers[0] == '\0' ? mounts[i].v2
                               : !mounts[i].v2 && options_have_all(mounts[i].opts, controllers))
      return &mounts[i];
  return NULL;
}

/* Whether we are in cgroup `path` of the hierarchy `controllers` already
 * (then there is nothing to join: a migration is not free on v1). */
static bool
already_in(const char *self, const char *controllers, const char *path)
{
  char want[4700];
  snprintf(want, sizeof want, ":%s:%s\n", controllers, path);
  return strstr(self, want) != NULL;
}

int
cgroup_open_procs_of(pid_t target, int ret_fds[static CGROUP_MAX_HIERARCHIES], size_t *ret_n,
                     tank_error **err)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)target);
  _cleanup_fclose_ FILE *f = fopen(path, "re");
  if (f == NULL)
    return tank_error_set(err, errno, "open `%s`", path);
  char self[8192] = "";
  _cleanup_close_ int self_fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  ssize_t self_len = self_fd >= 0 ? read(self_fd, self, sizeof self - 1) : -1;
  self[self_len > 0 ? self_len : 0] = '\0';
  struct cg_mount mounts[2 * CGROUP_MAX_HIERARCHIES];
  size_t n_mounts = read_mounts(mounts, ARRAY_SIZE(mounts));
  _cleanup_free_ char *line = NULL;
  size_t cap = 0, n = 0;
  int r = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    /* "ID:controllers:/path" */
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL || c2[1] != '/')
      continue;
    *c2 = '\0';
    const char *controllers = c1 + 1, *cg = c2 + 1;
    if (already_in(self, controllers, cg))
      continue;
    const struct cg_mount *m = find_mount(mounts, n_mounts, controllers);
    if (m == NULL)
      continue; /* a hierarchy not mounted here: nothing to join */
    size_t rlen = strcmp(m->root, "/") == 0 ? 0 : strlen(m->root);
    if (rlen && (strncmp(cg, m->root, rlen) != 0 || (cg[rlen] != '/' && cg[rlen] != '\0')))
      continue; /* outside what this mount shows */
    if (n == CGROUP_MAX_HIERARCHIES) {
      r = tank_error_set(err, E2BIG, "process %d is in more than %d cgroup hierarchies",
                         (int)target, CGROUP_MAX_HIERARCHIES);
      break;
    }
    /* v1: `tasks`, written "0" by the joining (single-threaded) process moves
     * just itself and skips the thread-group lock whose taking waits for an
     * RCU grace period (cgroup-v1.c); v2 has only cgroup.procs. */
    char procs[4700];
    snprintf(procs, sizeof procs, "%s%s/%s", m->mnt, cg + rlen, m->v2 ? "cgroup.procs" : "tasks");
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      r = tank_error_set(err, errno, "open `%s`", procs);
      break;
    }
    ret_fds[n++] = fd;
  }
  if (r < 0) {
    for (size_t i = 0; i < n; i++)
      close(ret_fds[i]);
    return r;
  }
  *ret_n = n;
  return 0;
}
