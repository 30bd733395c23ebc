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

/* The mount point of the hierarchy holding `controllers` ("" for the unified
 * one), with the mount's root so that a cgroup path can be made relative to it. */
static int
find_mount(const char *controllers, char *ret_mnt, size_t mnt_size, char *ret_root,
           size_t root_size)
{
  _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return -errno;
  _cleanup_free_ char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    char root[4096], mnt[4096], fstype[64], opts[1024];
    char *sep = strstr(line, " - ");
    if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2
        || sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
      continue;
    bool match = controllers[0] == '\0'
                     ? strcmp(fstype, "cgroup2") == 0
                     : strcmp(fstype, "cgroup") == 0 && options_have_all(opts, controllers);
    if (!match)
      continue;
    if (snprintf(ret_mnt, mnt_size, "%s", mnt) >= (int)mnt_size
        || snprintf(ret_root, root_size, "%s", root) >= (int)root_size)
      return -ENAMETOOLONG;
    return 0;
  }
  return -ENOENT;
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
    char mnt[4096], root[4096];
    if (find_mount(controllers, mnt, sizeof mnt, root, sizeof root) < 0)
      continue; /* a hierarchy not mounted here: nothing to join */
    size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (rlen && (strncmp(cg, root, rlen) != 0 || (cg[rlen] != '/' && cg[rlen] != '\0')))
      continue; /* outside what this mount shows */
    if (n == CGROUP_MAX_HIERARCHIES) {
      r = tank_error_set(err, E2BIG, "process %d is in more than %d cgroup hierarchies",
                         (int)target, CGROUP_MAX_HIERARCHIES);
      break;
    }
    char procs[8400];
    snprintf(procs, sizeof procs, "%s%s/cgroup.procs", mnt, cg + rlen);
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
