/* Mount setup of the container root, in the order the kernel needs it:
 * overlay, then /proc /sys /dev beneath it, binds, masks, and the pivot. */
#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/inroot.h"
#include "util/cleanup.h"

int
rootfs_mount_overlay(const struct container_config *c, int *ret_root_fd, tank_error **err)
{
  /* overlayfs takes the top-most lower layer first; a manifest lists bottom first. */
  size_t cap = 4096;
  _cleanup_free_ char *opts = malloc(cap);
  if (opts == NULL)
    return tank_error_set(err, ENOMEM, "overlay options");
  size_t len = (size_t)snprintf(opts, cap, "lowerdir=");
  for (size_t i = c->n_layers; i-- > 0;) {
    int n = snprintf(opts + len, cap - len, "%s%s", c->layers[i], i > 0 ? ":" : "");
    if (n < 0 || (size_t)n >= cap - len)
      return tank_error_set(err, E2BIG, "overlay options longer than %zu bytes (%zu layers)", cap,
                            c->n_layers);
    len += (size_t)n;
  }
  int n = snprintf(opts + len, cap - len, ",upperdir=%s,workdir=%s", c->upper_dir, c->work_dir);
  if (n < 0 || (size_t)n >= cap - len)
    return tank_error_set(err, E2BIG, "overlay options longer than %zu bytes", cap);
  if (mount("overlay", c->rootfs_dir, "overlay", MS_NODEV, opts) < 0)
    return tank_error_set(err, errno, "mount overlay on `%s`", c->rootfs_dir);
  int fd = open(c->rootfs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", c->rootfs_dir);
  *ret_root_fd = fd;
  return 0;
}

/* One mount beneath the root: setup steps as data, executed in one place. */
struct mount_op {
  const char *source;
  const char *target;
  const char *fstype;
  unsigned long flags;
  const char *data;
};

static int
mount_at(int root_fd, const struct mount_op *op, tank_error **err)
{
  _cleanup_close_ int fd = -EBADF;
  int r = inroot_mkdir_p(root_fd, op->target, 0755, &fd, err);
  if (r < 0)
    return r;
  char path[32];
  fd_path(fd, path);
  if (mount(op->source, path, op->fstype, op->flags, op->data) < 0)
    return tank_error_set(err, errno, "mount %s on `%s`", op->fstype, op->target);
  return 0;
}

int
rootfs_mount_system(int root_fd, tank_error **err)
{
  static const struct mount_op ops[] = {
    { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
    { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL },
  };
  for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
    int r = mount_at(root_fd, &ops[i], err);
    if (r < 0)
      return r;
  }
  return 0;
}

int
rootfs_mount_dev(int root_fd, bool tty, tank_error **err)
{
  static const struct mount_op ops[] = {
    { "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k" },
    { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
      "newinstance,ptmxmode=0666,mode=0620,gid=5" },
    { "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k" },
    { "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
  };
  static const struct {
    const char *name;
    unsigned major, minor;
  } nodes[] = {
    { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
    { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
  };
  static const struct {
    const char *name, *target;
  } links[] = {
    { "ptmx", "pts/ptmx" },          { "fd", "/proc/self/fd" },
    { "stdin", "/proc/self/fd/0" },  { "stdout", "/proc/self/fd/1" },
    { "stderr", "/proc/self/fd/2" }, { "core", "/proc/kcore" },
  };
  int r = mount_at(root_fd, &ops[0], err);
  if (r < 0)
    return r;
  _cleanup_close_ int dev = -EBADF;
  if ((r = inroot_open(root_fd, "/dev", O_DIRECTORY | O_RDONLY, 0, &dev, err)) < 0)
    return r;
  for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
    if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0)
      return tank_error_set(err, errno, "mknod /dev/%s", nodes[i].name);
    if (fchmodat(dev, nodes[i].name, 0666, 0) < 0)
      return tank_error_set(err, errno, "chmod /dev/%s", nodes[i].name);
  }
  for (size_t i = 0; i < ARRAY_SIZE(links); i++)
    if (symlinkat(links[i].target, dev, links[i].name) < 0)
      return tank_error_set(err, errno, "symlink /dev/%s", links[i].name);
  if (tty && mknodat(dev, "console", S_IFREG | 0600, 0) < 0)
    return tank_error_set(err, errno, "create /dev/console");
  for (size_t i = 1; i < ARRAY_SIZE(ops); i++)
    if ((r = mount_at(root_fd, &ops[i], err)) < 0)
      return r;
  return 0;
}

static int
bind_at(int root_fd, const char *source, const char *target, bool read_only, tank_error **err)
{
  struct stat st;
  if (stat(source, &st) < 0)
    return tank_error_set(err, errno, "bind source `%s`", source);
  _cleanup_close_ int fd = -EBADF;
  int r = inroot_mount_target(root_fd, target, S_ISDIR(st.st_mode), &fd, err);
  if (r < 0)
    return r;
  char path[32];
  fd_path(fd, path);
  if (mount(source, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return tank_error_set(err, errno, "bind `%s` on `%s`", source, target);
  if (!read_only)
    return 0;
  /* The fd still names the covered inode: reopen to reach the new mount. */
  _cleanup_close_ int top = -EBADF;
  if ((r = inroot_open(root_fd, target, O_PATH, 0, &top, err)) < 0)
    return r;
  fd_path(top, path);
  if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC, NULL) < 0)
    return tank_error_set(err, errno, "remount `%s` read-only", target);
  return 0;
}

int
rootfs_mount_binds(const struct container_config *c, int root_fd, tank_error **err)
{
  const struct {
    const char *source, *target;
  } etc[] = {
    { c->etc_hosts, "/etc/hosts" },
    { c->etc_hostname, "/etc/hostname" },
    { c->etc_resolv_conf, "/etc/resolv.conf" },
  };
  int r;
  for (size_t i = 0; i < ARRAY_SIZE(etc); i++)
    if (etc[i].source && (r = bind_at(root_fd, etc[i].source, etc[i].target, false, err)) < 0)
      return r;
  for (size_t i = 0; i < c->n_mounts; i++)
    if ((r = bind_at(root_fd, c->mounts[i].source, c->mounts[i].destination, c->mounts[i].read_only,
                     err))
        < 0)
      return r;
  return 0;
}

/* The OCI runtime spec's default masked and read-only paths. */
static const char *const masked_paths[] = {
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

int
rootfs_mask_paths(int root_fd, tank_error **err)
{
  char path[32];
  for (size_t i = 0; i < ARRAY_SIZE(masked_paths); i++) {
    _cleanup_close_ int fd = -EBADF;
    tank_error *e = NULL;
    if (inroot_open(root_fd, masked_paths[i], O_PATH, 0, &fd, &e) < 0) {
      int en = e->errnum;
      tank_error_free(e);
      if (en == ENOENT)
        continue;
      return tank_error_set(err, en, "mask `%s`", masked_paths[i]);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
      return tank_error_set(err, errno, "stat `%s`", masked_paths[i]);
    fd_path(fd, path);
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
                                : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (r < 0)
      return tank_error_set(err, errno, "mask `%s`", masked_paths[i]);
  }
  for (size_t i = 0; i < ARRAY_SIZE(readonly_paths); i++) {
    _cleanup_close_ int fd = -EBADF, top = -EBADF;
    tank_error *e = NULL;
    if (inroot_open(root_fd, readonly_paths[i], O_PATH, 0, &fd, &e) < 0) {
      int en = e->errnum;
      tank_error_free(e);
      if (en == ENOENT)
        continue;
      return tank_error_set(err, en, "read-only `%s`", readonly_paths[i]);
    }
    fd_path(fd, path);
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
      return tank_error_set(err, errno, "bind `%s`", readonly_paths[i]);
    int r = inroot_open(root_fd, readonly_paths[i], O_PATH, 0, &top, err);
    if (r < 0)
      return r;
    fd_path(top, path);
    if (mount(NULL, path, NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REC, NULL)
        < 0)
      return tank_error_set(err, errno, "remount `%s` read-only", readonly_paths[i]);
  }
  return 0;
}

int
rootfs_pivot(int root_fd, tank_error **err)
{
  /* pivot_root(".", ".") stacks the old root on top of the new one; detaching
   * it leaves only the container's root, without a directory for the old one. */
  if (fchdir(root_fd) < 0)
    return tank_error_set(err, errno, "chdir into the container root");
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return tank_error_set(err, errno, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    return tank_error_set(err, errno, "detach the old root");
  if (chdir("/") < 0)
    return tank_error_set(err, errno, "chdir /");
  return 0;
}
