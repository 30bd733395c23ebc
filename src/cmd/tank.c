/* tank: the command-line face of Tank. Dispatches to one function per verb. */
#include <stdio.h>
#include <string.h>

#include "cmd/verbs.h"

static const struct verb {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} verbs[] = {
  { "apply", verb_apply, "store pods from files as desired state" },
  { "get", verb_get, "list pods, or show one (NAME STATUS READY RESTARTS AGE IP)" },
  { "ls", verb_get, "the same as get" },
  { "inspect", verb_inspect, "a pod's spec and status as JSON" },
  { "delete", verb_delete, "delete pods (--wait until they are gone)" },
  { "restart", verb_restart, "restart a pod's containers" },
  { "events", verb_events, "follow changes to pods and their status" },
  { "logs", verb_logs, "print a container's output (-f to follow)" },
  { "stats", verb_stats, "CPU, memory, network, block I/O and pids of pods" },
  { "exec", verb_exec, "run a command in a running pod's container (-it for a shell)" },
  { "attach", verb_attach, "attach to the terminal of a tty: true container" },
  { "image", verb_image, "pull, list, inspect and remove images in the local cache" },
  { "validate", verb_validate, "check pod specs without a daemon; print their canonical form" },
  { "version", verb_version, "print the version of tank" },
};

static void
usage(FILE *f)
{
  fprintf(f, "Usage: tank [--help] VERB [ARGS...]\n\n"
             "Tank declares pods as data and keeps the machine converged on them.\n\n"
             "Verbs:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
  fprintf(f, "\nRun `tank VERB --help` for the options of a verb.\n");
}

int
verb_version(int argc, char **argv)
{
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("Usage: tank version\n\nPrint the version of this tank binary.\n");
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "tank version: unexpected argument `%s`\n", argv[1]);
    return 2;
  }
  printf("tank %s\n", TANK_VERSION);
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *verb = argv[1];
  if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(verb, "--version") == 0)
    return verb_version(1, argv + 1);
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp(verbs[i].name, verb) == 0)
      return verbs[i].run(argc - 1, argv + 1);
  fprintf(stderr, "tank: unknown verb `%s` (see `tank --help`)\n", verb);
  return 2;
}
