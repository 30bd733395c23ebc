/* tank: the front of the CLI. exec and attach run here, in a binary that links
 * nothing heavier than jansson, because an exec is only a few milliseconds of
 * work and loading libcurl with its dependencies (gnutls, krb5, ICU, ...) costs
 * more than that. Every other verb is the full CLI's, tank-cli, which this
 * execs with the same arguments (it sits beside this binary, or in
 * TANK_LIBEXECDIR; $TANK_CLI overrides). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/verbs.h"

static void
exec_cli(char **argv)
{
  char self[PATH_MAX], path[PATH_MAX + 16];
  const char *env = getenv("TANK_CLI");
  if (env && *env) {
    execv(env, argv);
    fprintf(stderr, "tank: run %s: %s\n", env, strerror(errno));
    return;
  }
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/tank-cli", dirname(self));
    execv(path, argv);
  }
  snprintf(path, sizeof path, "%s/tank-cli", TANK_LIBEXECDIR);
  execv(path, argv);
  fprintf(stderr, "tank: run %s: %s (set TANK_CLI to the full CLI)\n", path, strerror(errno));
}

int
main(int argc, char **argv)
{
  if (argc >= 2 && strcmp(argv[1], "exec") == 0)
    return verb_exec(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "attach") == 0)
    return verb_attach(argc - 1, argv + 1);
  exec_cli(argv);
  return 125;
}
