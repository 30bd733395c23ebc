/* Test driver: runs `tank-shim exec|attach` on one end of a socketpair and the
 * CLI's session code on the other, so exec and attach are tested against a
 * container started by tank-shim alone, without tankd.
 * Usage: tank-execpeer exec CONFIG REQUEST_JSON | attach CONFIG [DETACH_KEYS]
 * (TANK_SHIM names the tank-shim binary). Exits as `tank exec` would. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/session.h"

int
main(int argc, char **argv)
{
  if (argc < 3 || (strcmp(argv[1], "exec") == 0 && argc != 4)) {
    fprintf(stderr, "usage: tank-execpeer exec CONFIG REQUEST_JSON | attach CONFIG [KEYS]\n");
    return 2;
  }
  const char *shim = getenv("TANK_SHIM");
  bool is_exec = strcmp(argv[1], "exec") == 0;
  struct session_opts o = { .tty = true, .stdin_open = true };
  tank_error *err = NULL;
  if (is_exec) {
    json_t *req = json_loads(argv[3], 0, NULL);
    o.tty = json_is_true(json_object_get(req, "tty"));
    o.stdin_open = json_is_true(json_object_get(req, "stdin"));
    json_decref(req);
  } else if (session_parse_detach_keys(argc > 3 ? argv[3] : "ctrl-p,ctrl-q", &o, &err) < 0) {
    fprintf(stderr, "%s\n", err->msg);
    return 2;
  }
  int sv[2];
  if (shim == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    fprintf(stderr, "tank-execpeer: set TANK_SHIM (%s)\n", strerror(errno));
    return 2;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sv[1], 3);
    char *args[] = { (char *)shim, argv[1], argv[2], is_exec ? argv[3] : NULL, NULL };
    execv(shim, args);
    _exit(127);
  }
  close(sv[1]);
  int code = session_run(sv[0], &o, &err);
  close(sv[0]);
  int status;
  waitpid(pid, &status, 0);
  if (code == SESSION_DETACHED) {
    fprintf(stderr, "detached\n");
    return 0;
  }
  if (code < 0) {
    fprintf(stderr, "tank-execpeer: %s\n", err->msg);
    tank_error_free(err);
    return 125;
  }
  return code;
}
