/* The process a container runs: the OCI image config's defaults merged with
 * the container config by the Kubernetes rules (command replaces Entrypoint
 * and Cmd, args replaces Cmd, env merged by name, working_dir over WorkingDir). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "runtime/config.h"
#include "util/error.h"

struct image_process {
  char **entrypoint;
  size_t n_entrypoint;
  char **cmd;
  size_t n_cmd;
  char **env;
  size_t n_env;
  char *working_dir;
  char *user;
  int stop_signal; /* 0: none given */
};

struct process_plan {
  char **argv; /* NULL-terminated */
  size_t argc;
  char **env; /* NULL-terminated "NAME=value" */
  size_t n_env;
  char *cwd;
  char *user; /* "" for the default, root */
};

/* Parses an OCI image config (the document with a "config" object). */
int image_process_parse(const char *json, size_t len, struct image_process *ret, tank_error **err);
void image_process_clear(struct image_process *p);
/* The image config a container config names (a file or inline); *has is false
 * when it names none. */
int image_process_load(const struct container_config *c, struct image_process *img, bool *has,
                       tank_error **err);

/* Merges: img may be NULL (no image config). hostname, when non-NULL, becomes
 * HOSTNAME unless set; PATH gets the usual default unless set. */
int process_merge(const struct container_config *c, const struct image_process *img,
                  const char *hostname, struct process_plan *ret, tank_error **err);
void process_plan_clear(struct process_plan *p);

/* Sets or replaces "NAME=value" in the plan's env. */
int process_plan_env_set(struct process_plan *p, const char *entry);
/* Sets NAME=value in the plan's env when NAME is not there yet. */
int process_plan_env_default(struct process_plan *p, const char *name, const char *value);
