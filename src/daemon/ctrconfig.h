/* The container config tankd hands to tank-shim (docs/container-config.md),
 * built from the pod spec, the pulled image and the daemon's directories.
 * Pure: no I/O, so it is unit-tested against the shim's own strict parser. */
#pragma once

#include <jansson.h>

#include "spec/spec.h"

struct ctrconfig_paths {
  const char *data_dir;    /* volumes, container upper dirs, logs */
  const char *run_dir;     /* pod sandboxes and container state dirs */
  const char *cgroup_fs;   /* "/sys/fs/cgroup" */
  const char *cgroup_root; /* "tank" */
};

struct ctrconfig_image {
  char *const *lower_dirs; /* topmost first, as image_lookup returns them */
  size_t n_lower_dirs;
  const char *config_path; /* the image config blob, or NULL (rootfs: images) */
};

/* The config of pod->containers[index]. Returns NULL only on allocation failure. */
json_t *ctrconfig_build(const struct spec_pod *pod, size_t index,
                        const struct ctrconfig_image *image, const struct ctrconfig_paths *paths);

/* $data_dir/logs/<pod>/<ctr>.log, the log path ctrconfig_build gives the shim.
 * Caller frees; NULL on allocation failure. */
char *ctrconfig_log_path(const char *data_dir, const char *pod, const char *container);
