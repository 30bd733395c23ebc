/* tank: the front of the CLI. Every verb but `image` runs here, in a binary
 * that links nothing heavier than jansson and libyaml: most verbs are a few
 * milliseconds of work, and loading the registry client's libraries (libcurl,
 * libarchive and what they pull in: TLS, Kerberos, XML, ICU, ...) costs more
 * than that. `tank image ...` is the full CLI's, tank-cli, which this execs
 * with the same arguments (it sits beside this binary, or in TANK_LIBEXECDIR;
 * $TANK_CLI overrides). */
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

/* `tank image ...`: argv is main's argv + 1, so argv - 1 is the whole command line. */
int
verb_image(int argc, char **argv)
{
  (void)argc;
  exec_cli(argv - 1);
  return 125;
}
