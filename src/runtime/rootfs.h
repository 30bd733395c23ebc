/* The container's filesystem, built inside the child's private mount namespace:
 * the overlay of image layers, /proc, /sys, /dev, the pod's /etc files and the
 * volumes, all targets resolved beneath the root fd; then pivot_root. */
#pragma once

#include "runtime/config.h"
#include "util/error.h"

/* Each step names the stage it reports failures under. */
int rootfs_mount_overlay(const struct container_config *c, int *ret_root_fd, tank_error **err);
int rootfs_mount_system(int root_fd, tank_error **err);        /* stage=mount_system */
int rootfs_mount_dev(int root_fd, bool tty, tank_error **err); /* stage=mount_dev */
int rootfs_mount_binds(const struct container_config *c, int root_fd,
                       tank_error **err);             /* stage=mount_volumes */
int rootfs_mask_paths(int root_fd, tank_error **err); /* stage=mask_paths */
int rootfs_pivot(int root_fd, tank_error **err);      /* stage=pivot_root */
