/* openat2-based resolution and creation of paths beneath a root fd. */
#include "runtime/inroot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

#define INROOT_MAX_PATH 4096

void
fd_path(int fd, char buf[static 32])
{
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

static int
do_openat2(int root_fd, const char *path, int flags, mode_t mode)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .mode = (flags & O_CREAT) ? mode : 0,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  for (;;) {
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN)
      return (int)fd;
  }
}

int
inroot_open(int root_fd, const char *path, int flags, mode_t mode, int *ret_fd, tank_error **err)
{
  int fd = do_openat2(root_fd, path, flags, mode);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s` in the container root", path);
  *ret_fd = fd;
  return 0;
}

/* Creates name in parent_fd as a directory or file; a dangling symlink in the
 * way is removed first (it lives in the container's own upper layer). */
static int
create_entry(int parent_fd, const char *name, bool directory, mode_t mode)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    int r;
    if (directory) {
      r = mkdirat(parent_fd, name, mode);
    } else {
      r = openat(parent_fd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
      if (r >= 0)
        close(r);
    }
    if (r >= 0 || errno != EEXIST)
      return r < 0 ? -errno : 0;
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      return -errno;
    if (!S_ISLNK(st.st_mode))
      return 0; /* raced with another creator: fine */
    if (unlinkat(parent_fd, name, 0) < 0)
      return -errno;
  }
  return -EEXIST;
}

int
inroot_mkdir_p(int root_fd, const char *path, mode_t mode, int *ret_fd, tank_error **err)
{
  size_t len = strlen(path);
  if (len >= INROOT_MAX_PATH)
    return tank_error_set(err, ENAMETOOLONG, "path `%.64s...`", path);
  char buf[INROOT_MAX_PATH];
  memcpy(buf, path, len + 1);
  _cleanup_close_ int cur = do_openat2(root_fd, "/", O_PATH | O_DIRECTORY, 0);
  if (cur < 0)
    return tank_error_set(err, errno, "open the container root");
  /* Walk prefix by prefix; each prefix is resolved from the root again, so a
   * symlink met on the way is followed inside the root, never outside. */
  char *p = buf;
  while (*p) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    char *end = strchrnul(p, '/');
    char saved = *end;
    *end = '\0';
    int fd = do_openat2(root_fd, buf, O_PATH | O_DIRECTORY, 0);
    if (fd < 0 && errno == ENOENT) {
      int r = create_entry(cur, p, true, mode);
      if (r < 0)
        return tank_error_set(err, -r, "mkdir `%s` in the container root", buf);
      fd = do_openat2(root_fd, buf, O_PATH | O_DIRECTORY, 0);
    }
    if (fd < 0)
      return tank_error_set(err, errno, "open directory `%s` in the container root", buf);
    close(cur);
    cur = fd;
    *end = saved;
    p = end;
  }
  *ret_fd = steal_fd(&cur);
  return 0;
}

int
inroot_mount_target(int root_fd, const char *path, bool directory, int *ret_fd, tank_error **err)
{
  if (directory)
    return inroot_mkdir_p(root_fd, path, 0755, ret_fd, err);
  int fd = do_openat2(root_fd, path, O_PATH, 0);
  if (fd < 0 && errno == ENOENT) {
    _cleanup_free_ char *dir = strdup(path);
    if (dir == NULL)
      return tank_error_set(err, ENOMEM, "mount target");
    char *slash = strrchr(dir, '/');
    const char *base = path + (slash ? slash - dir + 1 : 0);
    if (slash)
      slash[slash == dir ? 1 : 0] = '\0';
    _cleanup_close_ int parent = -EBADF;
    int r = inroot_mkdir_p(root_fd, slash ? dir : "/", 0755, &parent, err);
    if (r < 0)
      return r;
    r = create_entry(parent, base, false, 0644);
    if (r < 0)
      return tank_error_set(err, -r, "create `%s` in the container root", path);
    fd = do_openat2(root_fd, path, O_PATH, 0);
  }
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s` in the container root", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
    close(fd);
    return tank_error_set(err, EISDIR, "mount target `%s` is a directory, a file is needed", path);
  }
  *ret_fd = fd;
  return 0;
}
