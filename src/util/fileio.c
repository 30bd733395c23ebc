/* Bounded whole-file reads. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

int
read_fd_limited(int fd, size_t max_bytes, char **ret_buf, size_t *ret_len, tank_error **err)
{
  size_t cap = 4096, len = 0;
  _cleanup_free_ char *buf = malloc(cap);
  if (buf == NULL)
    return tank_error_set(err, ENOMEM, "read");

  for (;;) {
    if (len + 1 >= cap) {
      if (cap > max_bytes + 1)
        return tank_error_set(err, EFBIG, "input larger than the limit of %zu bytes", max_bytes);
      size_t ncap = cap * 2;
      char *n = realloc(buf, ncap);
      if (n == NULL)
        return tank_error_set(err, ENOMEM, "read");
      buf = n;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "read");
    }
    if (r == 0)
      break;
    len += (size_t)r;
    if (len > max_bytes)
      return tank_error_set(err, EFBIG, "input larger than the limit of %zu bytes", max_bytes);
  }
  buf[len] = '\0';
  *ret_buf = steal_pointer(&buf);
  if (ret_len)
    *ret_len = len;
  return 0;
}

int
read_file_limited(const char *path, size_t max_bytes, char **ret_buf, size_t *ret_len,
                  tank_error **err)
{
  if (strcmp(path, "-") == 0)
    return read_fd_limited(STDIN_FILENO, max_bytes, ret_buf, ret_len, err);

  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", path);
  int r = read_fd_limited(fd, max_bytes, ret_buf, ret_len, err);
  if (r < 0)
    return tank_error_wrap(err, "read `%s`", path);
  return 0;
}

int
mkdir_parents(const char *path, mode_t mode)
{
  char buf[4096];
  if (strlen(path) >= sizeof buf)
    return -ENAMETOOLONG;
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST)
    return -errno;
  struct stat st;
  if (stat(buf, &st) < 0)
    return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int
remove_tree_at(int dir_fd, const char *name)
{
  /* ENOENT anywhere is success: another remover may be at work on the same tree. */
  if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return -errno;
  struct stat parent, st;
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (dir_fd != AT_FDCWD && fstat(dir_fd, &parent) == 0 && st.st_dev != parent.st_dev)
    return -EBUSY; /* a mount point: never remove what another file system holds */
  int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    return -e;
  }
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if ((r = remove_tree_at(dirfd(d), de->d_name)) < 0)
      break;
  }
  closedir(d);
  if (r == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    r = -errno;
  return r;
}

int
rm_tree(const char *path)
{
  if (rmdir(path) == 0 || errno == ENOENT) /* the usual case of an empty upper dir */
    return 0;
  return remove_tree_at(AT_FDCWD, path);
}
