/* `tank exec` and `tank attach` on the machine side: the helper (tank-shim
 * exec|attach) that tankd hands an upgraded connection to. exec starts a
 * second process inside a running container (its namespaces, cgroup, root,
 * user, env, cwd and security settings) and relays its stdio as frames;
 * attach relays frames to the shim's attach socket of a tty container.
 * docs/exec.md describes both. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define EXEC_REQUEST_MAX_BYTES (64 * 1024)

/* Exit codes of a session that never ran the command (as podman and docker). */
#define EXEC_EXIT_SETUP     126 /* could not set the process up (user, cwd, ...) */
#define EXEC_EXIT_NOT_FOUND 127 /* the command does not exist */

struct exec_request {
  char **argv; /* NULL-terminated */
  size_t argc;
  char **env; /* "NAME=value", over the container's env */
  size_t n_env;
  char *workdir; /* NULL: the container's */
  char *user;    /* NULL: the container's */
  bool tty;
  bool stdin_open;
  uint16_t rows, cols; /* initial window size with tty; 0: unknown */
};

/* The body of POST /v1/pods/NAME/exec without "container":
 * {"command": [...], "env": ["K=V"], "workdir", "user", "tty", "stdin", "rows", "cols"}. */
int exec_request_parse(const char *json, size_t len, struct exec_request *ret, tank_error **err);
void exec_request_clear(struct exec_request *r);

/* Runs the command of req in the running container of config_path and relays
 * its stdio over sock_fd until it exits (the last frame says how) or the
 * client goes away (the process gets SIGHUP, then SIGKILL). Returns the exit
 * code for the helper: 0 when the session ran. */
int exec_session(const char *config_path, const struct exec_request *req, int sock_fd);

/* Relays sock_fd to the attach socket of the container of config_path. */
int attach_session(const char *config_path, int sock_fd);
