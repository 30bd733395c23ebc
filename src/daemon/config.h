/* tankd's configuration: defaults, then /etc/tank/tank.yaml, then TANK_*
 * environment variables, then command-line flags (each overrides the last). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

struct tankd_config {
  char *config_file;           /* /etc/tank/tank.yaml; a missing default file is fine */
  char *data_dir;              /* TANK_DATA_DIR, /var/lib/tank */
  char *run_dir;               /* TANK_RUN_DIR, /run/tank */
  char *socket;                /* TANK_SOCKET, <run_dir>/tank.sock */
  char *store;                 /* TANK_STORE, sqlite:<data_dir>/state.db */
  char *pods_dir;              /* TANK_PODS_DIR, /etc/tank/pods.d (boot seeding) */
  char *node;                  /* TANK_NODE, the hostname */
  char *uplink;                /* TANK_UPLINK, default parent of macvlan NICs; NULL: auto-detect */
  char *cgroup_root;           /* TANK_CGROUP_ROOT, "tank" */
  char *socket_group;          /* "tank" */
  char *metrics_listen;        /* "127.0.0.1:4400" or NULL */
  uint64_t resync_ms;          /* periodic resync, 10 s */
  struct spec_backoff backoff; /* daemon defaults for pods that set none */
  char *log_level;             /* error | warning | info | debug */
  bool offline;                /* pull nothing; use only the image cache */
};

/* Fills *ret from defaults, the config file, the environment and argv
 * (argv may be NULL). Returns 1 when --help was printed, 0 to run, < 0 on error. */
int tankd_config_load(int argc, char **argv, struct tankd_config *ret, tank_error **err);
void tankd_config_clear(struct tankd_config *c);
