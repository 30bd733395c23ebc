/* The tank verbs that talk to tankd: apply, get/ls, inspect, delete, restart,
 * events. Exit codes: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/client.h"
#include "cmd/verbs.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static char *socket_path;

static struct api_client
client(void)
{
  const char *s = socket_path ? socket_path : getenv("TANK_SOCKET");
  return (struct api_client){ .socket_path = (char *)(s && *s ? s : "/run/tank/tank.sock"),
                              .timeout_ms = 30000 };
}

/* Options every daemon verb takes; returns the getopt value or 0 when handled. */
static bool
common_option(int ch)
{
  if (ch == 'S') {
    socket_path = optarg;
    return true;
  }
  return false;
}

#define COMMON_OPTS                                                                                \
  {                                                                                                \
    "socket", required_argument, NULL, 'S'                                                         \
  }

static int
request(const char *method, const char *path, const char *body, long *status, json_t **reply)
{
  struct api_client c = client();
  tank_error *err = NULL;
  if (api_request(&c, method, path, body, body ? strlen(body) : 0, status, reply, &err) < 0) {
    fprintf(stderr, "tank: %s\n", err->msg);
    tank_error_free(err);
    return -1;
  }
  return 0;
}

/* ---- apply --------------------------------------------------------------------- */

int
verb_apply(int argc, char **argv)
{
  static const struct option opts[] = { { "filename", required_argument, NULL, 'f' },
                                        { "dry-run", no_argument, NULL, 'n' },
                                        { "help", no_argument, NULL, 'h' },
                                        COMMON_OPTS,
                                        { 0 } };
  _cleanup_free_ const char **files = calloc((size_t)argc + 1, sizeof *files);
  size_t n_files = 0;
  bool dry_run = false;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "f:nh", opts, NULL)) != -1) {
    if (common_option(ch))
      continue;
    switch (ch) {
      case 'f':
        files[n_files++] = optarg;
        break;
      case 'n':
        dry_run = true;
        break;
      case 'h':
        printf("Usage: tank apply -f FILE|- [-f ...] [--dry-run] [--socket PATH]\n\n"
               "Store the pods of each file as desired state; tankd makes them run.\n"
               "Prints pod/NAME created|configured|unchanged for each pod.\n");
        return 0;
      default:
        return 2;
    }
  }
  if (n_files == 0 || optind < argc) {
    fprintf(stderr, "tank apply: give the pods with -f FILE (or -f - for standard input)\n");
    return 2;
  }
  int status = 0;
  for (size_t i = 0; i < n_files; i++) {
    _cleanup_free_ char *buf = NULL;
    size_t len;
    tank_error *err = NULL;
    const char *label = strcmp(files[i], "-") == 0 ? "<stdin>" : files[i];
    if (read_file_limited(files[i], SPEC_MAX_BYTES, &buf, &len, &err) < 0) {
      fprintf(stderr, "tank apply: %s\n", err->msg);
      tank_error_free(err);
      status = 1;
      continue;
    }
    /* Validate here first, so errors point into the user's own file. */
    struct spec_file f;
    spec_parse(buf, len, label, SPEC_FORMAT_AUTO, &f);
    for (size_t e = 0; e < f.n_errors; e++)
      fprintf(stderr, "%s\n", f.errors[e]);
    if (f.n_errors)
      status = 1;
    for (size_t p = 0; p < f.n_pods; p++) {
      if (f.pods[p] == NULL)
        continue;
      char *body = spec_pod_to_canonical(f.pods[p]);
      char path[512];
      snprintf(path, sizeof path, "/v1/pods/%s%s", f.pods[p]->name, dry_run ? "?dry_run=1" : "");
      long code;
      json_t *reply = NULL;
      if (request("PUT", path, body, &code, &reply) < 0) {
        free(body);
        spec_file_free(&f);
        return 1;
      }
      free(body);
      if (code >= 200 && code < 300)
        printf("pod/%s %s%s\n", f.pods[p]->name,
               json_string_value(json_object_get(reply, "result")), dry_run ? " (dry run)" : "");
      else {
        api_print_error(reply, code);
        status = 1;
      }
      json_decref(reply);
    }
    spec_file_free(&f);
  }
  return status;
}

/* ---- get / ls -------------------------------------------------------------------- */

static const char *
age(const char *rfc3339, char *buf, size_t len)
{
  struct tm tm = { 0 };
  if (rfc3339 == NULL || strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
    return "-";
  time_t then = timegm(&tm), now = time(NULL);
  long s = (long)difftime(now, then);
  if (s < 0)
    s = 0;
  if (s < 120)
    snprintf(buf, len, "%lds", s);
  else if (s < 7200)
    snprintf(buf, len, "%ldm", s / 60);
  else if (s < 172800)
    snprintf(buf, len, "%ldh", s / 3600);
  else
    snprintf(buf, len, "%ldd", s / 86400);
  return buf;
}

static void
print_row(json_t *item, bool wide)
{
  json_t *spec = json_object_get(item, "spec"), *st = json_object_get(item, "status");
  json_t *ctrs = json_object_get(st, "containers");
  size_t ready = 0, i;
  json_t *c;
  const char *earliest = NULL;
  json_array_foreach(ctrs, i, c)
  {
    if (strcmp(json_string_value(json_object_get(c, "state")), "running") == 0)
      ready++;
    const char *t = json_string_value(json_object_get(c, "started_at"));
    if (t && (earliest == NULL || strcmp(t, earliest) < 0))
      earliest = t;
  }
  char readybuf[32], agebuf[32], ip[64] = "-";
  snprintf(readybuf, sizeof readybuf, "%zu/%zu", ready, json_array_size(ctrs));
  json_t *ips = json_object_get(st, "ips");
  if (json_array_size(ips))
    snprintf(ip, sizeof ip, "%s", json_string_value(json_array_get(ips, 0)));
  printf("%-20s %-12s %-6s %-8lld %-6s %s", json_string_value(json_object_get(spec, "name")),
         json_string_value(json_object_get(st, "phase")), readybuf,
         (long long)json_integer_value(json_object_get(st, "restarts")),
         age(earliest, agebuf, sizeof agebuf), ip);
  if (wide)
    printf("  %s", json_string_value(json_object_get(st, "message")));
  putchar('\n');
}

static int
print_json_or_yaml(json_t *j, const char *output)
{
  if (strcmp(output, "yaml") == 0)
    return spec_emit_yaml(stdout, &j, 1) < 0 ? 1 : 0;
  json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  putchar('\n');
  return 0;
}

int
verb_get(int argc, char **argv)
{
  static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
                                        { "help", no_argument, NULL, 'h' },
                                        COMMON_OPTS,
                                        { 0 } };
  const char *output = "table";
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    if (common_option(ch))
      continue;
    if (ch == 'o'
        && (strcmp(optarg, "json") == 0 || strcmp(optarg, "yaml") == 0
            || strcmp(optarg, "wide") == 0)) {
      output = optarg;
    } else if (ch == 'h') {
      printf("Usage: tank get [NAME] [-o json|yaml|wide] [--socket PATH]\n       tank ls\n\n"
             "List pods (NAME STATUS READY RESTARTS AGE IP), or show one.\n");
      return 0;
    } else {
      if (ch == 'o')
        fprintf(stderr, "tank get: unknown output `%s` (json, yaml or wide)\n", optarg);
      return 2;
    }
  }
  if (argc - optind > 1) {
    fprintf(stderr, "tank get: one pod name at most\n");
    return 2;
  }
  const char *name = optind < argc ? argv[optind] : NULL;
  char path[512];
  snprintf(path, sizeof path, name ? "/v1/pods/%s" : "/v1/pods", name);
  long code;
  json_t *reply = NULL;
  if (request("GET", path, NULL, &code, &reply) < 0)
    return 1;
  int rc = 0;
  if (code != 200) {
    api_print_error(reply, code);
    rc = 1;
  } else if (strcmp(output, "json") == 0 || strcmp(output, "yaml") == 0) {
    rc = print_json_or_yaml(reply, output);
  } else {
    printf("%-20s %-12s %-6s %-8s %-6s %s%s\n", "NAME", "STATUS", "READY", "RESTARTS", "AGE", "IP",
           strcmp(output, "wide") == 0 ? "  MESSAGE" : "");
    if (name)
      print_row(reply, strcmp(output, "wide") == 0);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(reply, "items"), i, item)
    {
      print_row(item, strcmp(output, "wide") == 0);
    }
  }
  json_decref(reply);
  return rc;
}

/* ---- inspect, delete, restart, events, version ------------------------------------ */

static int
simple_opts(int argc, char **argv, const char *usage, int min_args, bool *wait)
{
  static const struct option opts[] = {
    { "help", no_argument, NULL, 'h' }, { "wait", no_argument, NULL, 'w' }, COMMON_OPTS, { 0 }
  };
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "hw", opts, NULL)) != -1) {
    if (common_option(ch))
      continue;
    if (ch == 'w' && wait) {
      *wait = true;
      continue;
    }
    if (ch == 'h') {
      printf("%s", usage);
      return 0;
    }
    return 2;
  }
  if (argc - optind < min_args) {
    fprintf(stderr, "%s", usage);
    return 2;
  }
  return -1;
}

int
verb_inspect(int argc, char **argv)
{
  int r = simple_opts(
      argc, argv, "Usage: tank inspect NAME\n\nShow a pod's spec and status as JSON.\n", 1, NULL);
  if (r >= 0)
    return r;
  char path[512];
  snprintf(path, sizeof path, "/v1/pods/%s", argv[optind]);
  long code;
  json_t *reply = NULL;
  if (request("GET", path, NULL, &code, &reply) < 0)
    return 1;
  int rc = code == 200 ? print_json_or_yaml(reply, "json") : (api_print_error(reply, code), 1);
  json_decref(reply);
  return rc;
}

struct wait_gone {
  const char *name;
  bool gone;
};

static int
on_delete_event(const char *line, size_t len, void *userdata)
{
  struct wait_gone *w = userdata;
  json_t *j = json_loadb(line, len, 0, NULL);
  const char *type = json_string_value(json_object_get(j, "type"));
  const char *kind = json_string_value(json_object_get(j, "kind"));
  const char *pod = json_string_value(json_object_get(j, "pod"));
  if (type && kind && pod && strcmp(type, "delete") == 0 && strcmp(kind, "status") == 0
      && strcmp(pod, w->name) == 0)
    w->gone = true;
  json_decref(j);
  return w->gone ? 1 : 0;
}

int
verb_delete(int argc, char **argv)
{
  bool wait = false;
  int r = simple_opts(argc, argv,
                      "Usage: tank delete NAME... [--wait]\n\n"
                      "Delete pods: their containers are stopped (stop signal, grace, kill) and\n"
                      "everything they used is removed. --wait returns once that is done.\n",
                      1, &wait);
  if (r >= 0)
    return r;
  int rc = 0;
  for (int i = optind; i < argc; i++) {
    char path[512];
    snprintf(path, sizeof path, "/v1/pods/%s", argv[i]);
    long code;
    json_t *reply = NULL;
    if (request("DELETE", path, NULL, &code, &reply) < 0)
      return 1;
    if (code == 200) {
      int64_t rev = json_integer_value(json_object_get(reply, "revision"));
      if (wait) {
        char epath[128];
        snprintf(epath, sizeof epath, "/v1/events?since=%lld", (long long)rev - 1);
        struct wait_gone w = { argv[i], false };
        struct api_client c = client();
        tank_error *err = NULL;
        long scode;
        if (api_stream(&c, epath, on_delete_event, &w, &scode, &err) < 0) {
          fprintf(stderr, "tank delete: %s\n", err->msg);
          tank_error_free(err);
          rc = 1;
        }
      }
      printf("pod/%s deleted\n", argv[i]);
    } else {
      api_print_error(reply, code);
      rc = 1;
    }
    json_decref(reply);
  }
  return rc;
}

int
verb_restart(int argc, char **argv)
{
  int r = simple_opts(argc, argv, "Usage: tank restart NAME\n\nRestart every container of a pod.\n",
                      1, NULL);
  if (r >= 0)
    return r;
  char path[512];
  snprintf(path, sizeof path, "/v1/pods/%s/restart", argv[optind]);
  long code;
  json_t *reply = NULL;
  if (request("POST", path, NULL, &code, &reply) < 0)
    return 1;
  int rc = 0;
  if (code / 100 == 2)
    printf("pod/%s restarted\n", argv[optind]);
  else {
    api_print_error(reply, code);
    rc = 1;
  }
  json_decref(reply);
  return rc;
}

static int
on_event_line(const char *line, size_t len, void *userdata)
{
  bool raw = *(bool *)userdata;
  if (raw) {
    printf("%.*s\n", (int)len, line);
  } else {
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *v = json_object_get(j, "value");
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *detail = "";
    if (kind && strcmp(kind, "status") == 0 && json_is_object(v))
      detail = json_string_value(json_object_get(v, "phase"));
    printf("%-8lld %-6s %-6s %-20s %s\n",
           (long long)json_integer_value(json_object_get(j, "revision")),
           json_string_value(json_object_get(j, "type")), kind ? kind : "?",
           json_string_value(json_object_get(j, "pod")), detail ? detail : "");
    json_decref(j);
  }
  fflush(stdout);
  return 0;
}

int
verb_events(int argc, char **argv)
{
  static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
                                        { "since", required_argument, NULL, 's' },
                                        { "help", no_argument, NULL, 'h' },
                                        COMMON_OPTS,
                                        { 0 } };
  bool raw = false;
  const char *since = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
    if (common_option(ch))
      continue;
    if (ch == 'o' && strcmp(optarg, "json") == 0)
      raw = true;
    else if (ch == 's')
      since = optarg;
    else if (ch == 'h') {
      printf("Usage: tank events [--since REVISION] [-o json]\n\n"
             "Follow changes to pods and their status, resuming after REVISION if given.\n");
      return 0;
    } else
      return 2;
  }
  char path[128];
  snprintf(path, sizeof path, "/v1/events%s%s", since ? "?since=" : "", since ? since : "");
  struct api_client c = client();
  tank_error *err = NULL;
  long code;
  if (!raw)
    printf("%-8s %-6s %-6s %-20s %s\n", "REV", "TYPE", "KIND", "POD", "PHASE");
  if (api_stream(&c, path, on_event_line, &raw, &code, &err) < 0) {
    fprintf(stderr, "tank events: %s\n", err->msg);
    tank_error_free(err);
    return 1;
  }
  return code == 200 ? 0 : 1;
}
