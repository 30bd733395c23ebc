/* The seam between tankd's reconciler and the machine: how planned actions
 * are carried out (images, sandboxes, shims). Each call may block and is made
 * from a worker thread; results come back to the loop as observations. */
#pragma once

#include "spec/spec.h"
#include "util/error.h"

struct driver_started {
  int shim_pid;
  int container_pid;
  int64_t started_at_ms;
};

struct driver {
  const char *name;
  int (*pull)(void *data, const char *image, tank_error **err);
  int (*image_present)(void *data, const char *image);
  int (*sandbox_create)(void *data, const struct spec_pod *pod, tank_error **err);
  int (*sandbox_destroy)(void *data, const char *pod, tank_error **err);
  int (*sandbox_healthy)(void *data, const struct spec_pod *pod);
  int (*container_start)(void *data, const struct spec_pod *pod, size_t index,
                         struct driver_started *ret, tank_error **err);
  int (*container_stop)(void *data, const char *pod, const struct spec_container *c,
                        tank_error **err);
  int (*container_remove)(void *data, const char *pod, const char *container, tank_error **err);
  int (*update_limits)(void *data, const char *pod, const struct spec_container *c,
                       tank_error **err);
};
