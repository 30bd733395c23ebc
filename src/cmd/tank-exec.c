/* tank exec and tank attach: a session with a process of a running pod over
 * an upgraded API connection (docs/exec.md). They exit with the process's
 * exit code (128+signal when it was killed), so tank's own failures use 125
 * (126/127 come from the session: the command could not run / was not found),
 * as podman does. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/client.h"
#include "api/session.h"
#include "cmd/verbs.h"
#include "util/cleanup.h"

#define EXIT_TANK 125

static const char *socket_opt;

static struct api_client
client(void)
{
  const char *s = socket_opt ? socket_opt : getenv("TANK_SOCKET");
  return (struct api_client){ .socket_path = (char *)(s && *s ? s : "/run/tank/tank.sock"),
                              .timeout_ms = 0 };
}

/* Opens the session and runs it; returns the exit code for tank. */
static int
run_session(const char *verb, const char *pod, const char *container, json_t *body,
            struct session_opts *o)
{
  char path[512];
  snprintf(path, sizeof path, "/v1/pods/%s/%s", pod, verb);
  _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (text == NULL)
    abort();
  struct api_client c = client();
  int fd = -1;
  _cleanup_free_ unsigned char *extra = NULL;
  size_t n_extra = 0;
  long status = 0;
  json_t *reply = NULL;
  tank_error *err = NULL;
  if (api_upgrade(&c, path, text, strlen(text), "tank-stream", &fd, &extra, &n_extra, &status,
                  &reply, &err)
      < 0) {
    fprintf(stderr, "tank %s: %s\n", verb, err->msg);
    tank_error_free(err);
    return EXIT_TANK;
  }
  if (fd < 0) {
    fprintf(stderr, "tank %s: ", verb);
    api_print_error(reply, status);
    json_decref(reply);
    return EXIT_TANK;
  }
  o->initial = extra;
  o->n_initial = n_extra;
  int code = session_run(fd, o, &err);
  close(fd);
  if (code == SESSION_DETACHED) {
    fprintf(stderr, "tank: detached from %s%s%s; it keeps running\n", pod, container ? "/" : "",
            container ? container : "");
    return 0;
  }
  if (code < 0) {
    fprintf(stderr, "tank %s: %s\n", verb, err->msg);
    tank_error_free(err);
    return EXIT_TANK;
  }
  return code;
}

static void
exec_usage(FILE *f)
{
  fprintf(f,
          "Usage: tank exec [-i] [-t] POD [-c CONTAINER] [-e NAME=VALUE]... [-w DIR] [-u USER]\n"
          "                 -- COMMAND [ARG...]\n\n"
          "Runs COMMAND in a running container of POD (the first one unless -c), in its\n"
          "namespaces, cgroup and root, with its env, working dir and user unless overridden,\n"
          "under the same security settings. Exits with COMMAND's exit code (128+signal when\n"
          "it was killed); 125 when tank could not run it, 126 when it could not be started\n"
          "(user, working dir, not executable), 127 when it was not found.\n\n"
          "  -i, --interactive     forward stdin to COMMAND (then its end)\n"
          "  -t, --tty             a terminal: raw mode here, window size forwarded\n"
          "  -c, --container NAME  the container (default: the pod's first)\n"
          "  -e, --env NAME=VALUE  set a variable (NAME alone: its value here)\n"
          "  -w, --workdir DIR     working directory inside the container\n"
          "  -u, --user USER       user[:group], by name (the image's /etc/passwd) or number\n"
          "      --socket PATH     tankd's socket (default $TANK_SOCKET, /run/tank/tank.sock)\n");
}

int
verb_exec(int argc, char **argv)
{
  static const struct option opts[] = { { "interactive", no_argument, NULL, 'i' },
                                        { "tty", no_argument, NULL, 't' },
                                        { "container", required_argument, NULL, 'c' },
                                        { "env", required_argument, NULL, 'e' },
                                        { "workdir", required_argument, NULL, 'w' },
                                        { "user", required_argument, NULL, 'u' },
                                        { "socket", required_argument, NULL, 'S' },
                                        { "help", no_argument, NULL, 'h' },
                                        { 0 } };
  /* Options may follow POD up to "--"; without "--" the command starts at
   * the first word after POD (as docker exec). */
  int dashdash = -1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      dashdash = i;
      break;
    }
  int opt_argc = dashdash >= 0 ? dashdash : argc;
  json_t *env = json_array();
  const char *container = NULL, *workdir = NULL, *user = NULL;
  bool interactive = false, tty = false;
  int ch;
  optind = 1;
  while (
      (ch = getopt_long(opt_argc, argv, dashdash >= 0 ? "itc:e:w:u:h" : "+itc:e:w:u:h", opts, NULL))
      != -1) {
    switch (ch) {
      case 'i':
        interactive = true;
        break;
      case 't':
        tty = true;
        break;
      case 'c':
        container = optarg;
        break;
      case 'e':
        if (strchr(optarg, '=') == NULL) {
          const char *v = getenv(optarg);
          if (v == NULL)
            continue; /* as docker: a name that is not set here is left out */
          char *kv = NULL;
          if (asprintf(&kv, "%s=%s", optarg, v) < 0)
            abort();
          json_array_append_new(env, json_string(kv));
          free(kv);
        } else {
          json_array_append_new(env, json_string(optarg));
        }
        break;
      case 'w':
        workdir = optarg;
        break;
      case 'u':
        user = optarg;
        break;
      case 'S':
        socket_opt = optarg;
        break;
      case 'h':
        exec_usage(stdout);
        json_decref(env);
        return 0;
      default:
        exec_usage(stderr);
        json_decref(env);
        return EXIT_TANK;
    }
  }
  const char *pod = optind < opt_argc ? argv[optind++] : NULL;
  char **cmd = NULL;
  int n_cmd = 0;
  if (dashdash >= 0) {
    if (optind < opt_argc) {
      fprintf(stderr, "tank exec: unexpected `%s` before `--`\n", argv[optind]);
      json_decref(env);
      return EXIT_TANK;
    }
    cmd = argv + dashdash + 1;
    n_cmd = argc - dashdash - 1;
  } else {
    cmd = argv + optind;
    n_cmd = argc - optind;
  }
  if (pod == NULL || n_cmd == 0) {
    fprintf(stderr, "tank exec: %s\n", pod ? "no command (tank exec POD -- COMMAND...)" : "no pod");
    exec_usage(stderr);
    json_decref(env);
    return EXIT_TANK;
  }
  json_t *command = json_array();
  for (int i = 0; i < n_cmd; i++)
    json_array_append_new(command, json_string(cmd[i]));
  json_t *body = json_pack("{s:o,s:o,s:b,s:b}", "command", command, "env", env, "tty", tty, "stdin",
                           interactive);
  if (container)
    json_object_set_new(body, "container", json_string(container));
  if (workdir)
    json_object_set_new(body, "workdir", json_string(workdir));
  if (user)
    json_object_set_new(body, "user", json_string(user));
  uint16_t rows, cols;
  if (tty && session_window_size(&rows, &cols)) {
    json_object_set_new(body, "rows", json_integer(rows));
    json_object_set_new(body, "cols", json_integer(cols));
  }
  struct session_opts o = { .tty = tty, .stdin_open = interactive };
  return run_session("exec", pod, container, body, &o);
}

static void
attach_usage(FILE *f)
{
  fprintf(f,
          "Usage: tank attach POD [-c CONTAINER] [--detach-keys KEYS] [--no-stdin]\n\n"
          "Attaches this terminal to the terminal of a tty: true container of POD: its\n"
          "output here, what you type there. Ctrl-P Ctrl-Q detaches and leaves it running.\n"
          "Up to 8 clients can be attached at once; they share the terminal. When the\n"
          "container's process exits, attach exits with its exit code (and the pod's\n"
          "restart policy applies).\n\n"
          "  -c, --container NAME  the container (default: the pod's first)\n"
          "      --detach-keys K   the detach sequence, e.g. ctrl-a,d (default ctrl-p,ctrl-q;\n"
          "                        \"\" for none)\n"
          "      --no-stdin        only watch: send no input\n"
          "      --socket PATH     tankd's socket (default $TANK_SOCKET, /run/tank/tank.sock)\n");
}

int
verb_attach(int argc, char **argv)
{
  static const struct option opts[] = { { "container", required_argument, NULL, 'c' },
                                        { "detach-keys", required_argument, NULL, 'k' },
                                        { "no-stdin", no_argument, NULL, 'n' },
                                        { "socket", required_argument, NULL, 'S' },
                                        { "help", no_argument, NULL, 'h' },
                                        { 0 } };
  const char *container = NULL, *keys = "ctrl-p,ctrl-q";
  bool no_stdin = false;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (ch) {
      case 'c':
        container = optarg;
        break;
      case 'k':
        keys = optarg;
        break;
      case 'n':
        no_stdin = true;
        break;
      case 'S':
        socket_opt = optarg;
        break;
      case 'h':
        attach_usage(stdout);
        return 0;
      default:
        attach_usage(stderr);
        return EXIT_TANK;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "tank attach: %s\n", optind >= argc ? "no pod" : "one pod only");
    attach_usage(stderr);
    return EXIT_TANK;
  }
  const char *pod = argv[optind];
  struct session_opts o = { .tty = true, .stdin_open = !no_stdin };
  tank_error *err = NULL;
  if (session_parse_detach_keys(keys, &o, &err) < 0) {
    fprintf(stderr, "tank attach: %s\n", err->msg);
    tank_error_free(err);
    return EXIT_TANK;
  }
  json_t *body = json_object();
  if (container)
    json_object_set_new(body, "container", json_string(container));
  return run_session("attach", pod, container, body, &o);
}
