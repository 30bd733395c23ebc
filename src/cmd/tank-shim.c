/* tank-shim: the per-container monitor. Detaches from its caller (new session,
 * double fork) unless --foreground, then runs the container of one config. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/exec.h"
#include "runtime/shim.h"

static void
usage(FILE *f)
{
  fprintf(f, "Usage: tank-shim [--foreground] CONFIG.json\n"
             "       tank-shim exec CONFIG.json REQUEST.json-text   (session on fd 3)\n"
             "       tank-shim attach CONFIG.json                   (session on fd 3)\n\n"
             "Creates and supervises one container described by a Tank container config\n"
             "(docs/container-config.md). Without --foreground it detaches, prints the\n"
             "container's pid once it runs (exit 0) or the stage-tagged error (exit 1).\n"
             "With --foreground it stays attached and exits as the container did.\n\n"
             "exec and attach are the helpers tankd hands an upgraded API connection to\n"
             "(fd 3): exec runs a command in the running container of CONFIG.json,\n"
             "attach reaches its PTY (docs/exec.md).\n");
}

/* The caller waits for the shim's first word: "ok PID" or "err MESSAGE". */
static int
detach_and_run(struct container_config *c)
{
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) {
    perror("tank-shim: pipe");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("tank-shim: fork");
    return 1;
  }
  if (pid == 0) {
    close(ready[0]);
    if (setsid() < 0)
      _exit(1);
    pid_t again = fork();
    if (again != 0)
      _exit(again < 0 ? 1 : 0); /* the shim is reparented away from the caller */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      close(null);
    }
    if (chdir("/") < 0)
      _exit(1);
    _exit(shim_run(c, ready[1]));
  }
  close(ready[1]);
  container_config_free(c);
  waitpid(pid, NULL, 0);
  char buf[1200];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(ready[0], buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
    if (len == sizeof buf - 1)
      break;
  }
  buf[len] = '\0';
  close(ready[0]);
  if (strncmp(buf, "ok ", 3) == 0) {
    fputs(buf + 3, stdout);
    return 0;
  }
  fprintf(stderr, "tank-shim: %s", strncmp(buf, "err ", 4) == 0 ? buf + 4 : "the shim died\n");
  return 1;
}

/* tank-shim exec|attach CONFIG [REQUEST]: the session's connection is fd 3. */
static int
session_main(int argc, char **argv)
{
  bool is_exec = strcmp(argv[1], "exec") == 0;
  if (argc != (is_exec ? 4 : 3)) {
    usage(stderr);
    return 2;
  }
  syscall(SYS_close_range, 4, ~0U, 0);
  if (fcntl(3, F_GETFD) < 0) {
    fprintf(stderr, "tank-shim %s: fd 3 is not the session's connection\n", argv[1]);
    return 2;
  }
  if (!is_exec)
    return attach_session(argv[2], 3);
  struct exec_request req;
  tank_error *err = NULL;
  if (exec_request_parse(argv[3], strlen(argv[3]), &req, &err) < 0) {
    fprintf(stderr, "tank-shim exec: %s\n", err->msg);
    tank_error_free(err);
    return 2;
  }
  int r = exec_session(argv[2], &req, 3);
  exec_request_clear(&req);
  return r;
}

int
main(int argc, char **argv)
{
  if (argc > 1 && (strcmp(argv[1], "exec") == 0 || strcmp(argv[1], "attach") == 0))
    return session_main(argc, argv);
  bool foreground = false;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--foreground") == 0 || strcmp(argv[i], "-f") == 0) {
      foreground = true;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (path == NULL && argv[i][0] != '-') {
      path = argv[i];
    } else {
      fprintf(stderr, "tank-shim: unexpected argument `%s`\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (path == NULL) {
    usage(stderr);
    return 2;
  }
  /* Whatever the caller let us inherit is not ours to keep (nor the container's). */
  syscall(SYS_close_range, 3, ~0U, 0);
  struct container_config *c = NULL;
  tank_error *err = NULL;
  if (container_config_load(path, &c, &err) < 0) {
    fprintf(stderr, "tank-shim: %s\n", err->msg);
    tank_error_free(err);
    return 2;
  }
  if (foreground) {
    int code = shim_run(c, -1);
    return code;
  }
  return detach_and_run(c);
}
