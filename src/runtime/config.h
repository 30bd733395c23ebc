/* The container config: Tank's own JSON document that tankd writes for each
 * container and hands to tank-shim (format in docs/container-config.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup/cgroup.h"
#include "util/error.h"

#define CONFIG_MAX_BYTES  (1024 * 1024)
#define CONFIG_MAX_LAYERS 128
#define CONFIG_MAX_MOUNTS 64
#define CONFIG_MAX_ARGS   4096
#define CONFIG_MAX_ENV    4096

enum config_ns {
  CONFIG_NS_MOUNT = 0,
  CONFIG_NS_PID,
  CONFIG_NS_CGROUP,
  CONFIG_NS_NET,
  CONFIG_NS_UTS,
  CONFIG_NS_IPC,
  CONFIG_NS_COUNT,
};

struct config_mount {
  char *source;      /* host path (file or directory) */
  char *destination; /* absolute path inside the container */
  bool read_only;
};

struct container_config {
  char *id;
  char *state_dir; /* state.json, exit.json, attach socket live here */

  /* rootfs: overlay of layers (bottom first, as in an image manifest) + upper/work */
  char **layers;
  size_t n_layers;
  char *upper_dir;
  char *work_dir;
  char *rootfs_dir; /* the overlay mountpoint (in the shim's private mount ns) */
  bool keep_upper;

  /* process, before the merge with the image config */
  char *image_config_path; /* OCI image config JSON, or NULL */
  char *image_config_json; /* the same, inline */
  bool has_command;
  char **command;
  size_t n_command;
  bool has_args;
  char **args;
  size_t n_args;
  char **env; /* "NAME=value", in order; override the image's */
  size_t n_env;
  char *working_dir;
  char *user;
  bool tty;
  bool init;
  char *hostname;

  bool ns_create[CONFIG_NS_COUNT];
  char *ns_join[CONFIG_NS_COUNT]; /* a namespace file to join instead, or NULL */

  char *cgroup_root; /* default /sys/fs/cgroup */
  char *cgroup_path; /* e.g. tank/<pod>/<ctr>; NULL: no cgroup */
  enum cgroup_version cgroup_version;
  struct cgroup_limits limits;

  char *etc_hosts; /* host files bound onto /etc/hosts, /etc/hostname, /etc/resolv.conf */
  char *etc_hostname;
  char *etc_resolv_conf;
  struct config_mount *mounts;
  size_t n_mounts;

  bool no_new_privileges; /* default true */
  bool seccomp;           /* default true: the default filter */
  bool default_caps;      /* default true: Docker's set; false: none */

  int stop_signal; /* 0: the image's StopSignal, else SIGTERM */
  uint64_t stop_timeout_ms;

  char *log_path;
  uint64_t log_max_bytes;
  unsigned log_max_files;
};

int container_config_parse(const char *buf, size_t len, struct container_config **ret,
                           tank_error **err);
int container_config_load(const char *path, struct container_config **ret, tank_error **err);
struct container_config *container_config_free(struct container_config *c);
void container_config_freep(struct container_config **c);
#define _cleanup_config_ __attribute__((cleanup(container_config_freep)))

/* "SIGTERM", "TERM", "15" -> 15; 0 when unknown. */
int signal_from_name(const char *name);
/* Namespace name ("net") -> enum, -1 when unknown. */
int config_ns_from_name(const char *name);
const char *config_ns_name(enum config_ns ns);
