/* Path resolution beneath a container root's directory fd (openat2 with
 * RESOLVE_IN_ROOT): a symlink in an image can only ever lead back inside. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* openat2(root_fd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). */
int inroot_open(int root_fd, const char *path, int flags, mode_t mode, int *ret_fd,
                tank_error **err);

/* Makes every directory of path beneath root (replacing dangling symlinks, which
 * would otherwise name a place outside the image) and returns an O_PATH fd of it. */
int inroot_mkdir_p(int root_fd, const char *path, mode_t mode, int *ret_fd, tank_error **err);

/* An O_PATH fd of a mount target beneath root, created as a directory or an
 * empty file when missing. */
int inroot_mount_target(int root_fd, const char *path, bool directory, int *ret_fd,
                        tank_error **err);

/* "/proc/self/fd/N" for mounting onto an fd. */
void fd_path(int fd, char buf[static 32]);
