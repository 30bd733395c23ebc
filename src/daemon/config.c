/* tankd configuration: file, environment and flags over defaults. */
#include "daemon/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/node.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static void
set(char **field, const char *value)
{
  free(*field);
  *field = value ? strdup(value) : NULL;
  if (value && *field == NULL)
    abort();
}

static char *
joined(const char *a, const char *b)
{
  char *s = NULL;
  if (asprintf(&s, "%s%s", a, b) < 0)
    abort();
  return s;
}

struct option_def {
  const char *key; /* in tank.yaml and as --flag */
  const char *env; /* TANK_* */
  size_t offset;   /* of a char * field, or SIZE_MAX for specials */
};

#define STR_FIELD(f) offsetof(struct tankd_config, f)
static const struct option_def string_options[] = {
  { "data-dir", "TANK_DATA_DIR", STR_FIELD(data_dir) },
  { "run-dir", "TANK_RUN_DIR", STR_FIELD(run_dir) },
  { "socket", "TANK_SOCKET", STR_FIELD(socket) },
  { "store", "TANK_STORE", STR_FIELD(store) },
  { "pods-dir", "TANK_PODS_DIR", STR_FIELD(pods_dir) },
  { "node", "TANK_NODE", STR_FIELD(node) },
  { "uplink", "TANK_UPLINK", STR_FIELD(uplink) },
  { "cgroup-root", "TANK_CGROUP_ROOT", STR_FIELD(cgroup_root) },
  { "socket-group", "TANK_SOCKET_GROUP", STR_FIELD(socket_group) },
  { "metrics-listen", "TANK_METRICS_LISTEN", STR_FIELD(metrics_listen) },
  { "log-level", "TANK_LOG_LEVEL", STR_FIELD(log_level) },
};

static char **
field(struct tankd_config *c, const struct option_def *o)
{
  return (char **)((char *)c + o->offset);
}

static int
set_duration(const char *what, const char *value, uint64_t *ret, tank_error **err)
{
  const char *why;
  if (spec_parse_duration(value, ret, &why) < 0)
    return tank_error_set(err, EINVAL, "%s: `%s`: %s", what, value, why);
  return 0;
}

static int
set_special(struct tankd_config *c, const char *key, const char *value, tank_error **err)
{
  if (strcmp(key, "resync") == 0)
    return set_duration("resync", value, &c->resync_ms, err);
  if (strcmp(key, "backoff-initial") == 0)
    return set_duration("backoff-initial", value, &c->backoff.initial_ms, err);
  if (strcmp(key, "backoff-max") == 0)
    return set_duration("backoff-max", value, &c->backoff.max_ms, err);
  if (strcmp(key, "backoff-reset-after") == 0)
    return set_duration("backoff-reset-after", value, &c->backoff.reset_after_ms, err);
  if (strcmp(key, "offline") == 0) {
    if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
      c->offline = true;
    else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
      c->offline = false;
    else
      return tank_error_set(err, EINVAL, "offline: `%s` is not true or false", value);
    return 0;
  }
  return 1; /* not special */
}

static const char *const special_keys[]
    = { "resync", "backoff-initial", "backoff-max", "backoff-reset-after", "offline", NULL };

static int
apply(struct tankd_config *c, const char *key, const char *value, tank_error **err)
{
  for (size_t i = 0; i < ARRAY_SIZE(string_options); i++)
    if (strcmp(string_options[i].key, key) == 0) {
      set(field(c, &string_options[i]), value);
      return 0;
    }
  int r = set_special(c, key, value, err);
  if (r <= 0)
    return r;
  return tank_error_set(err, EINVAL, "unknown setting `%s`", key);
}

static int
load_file(struct tankd_config *c, const char *path, bool must_exist, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if (access(path, F_OK) < 0 && !must_exist)
    return 0;
  if (read_file_limited(path, 1024 * 1024, &buf, &len, err) < 0)
    return -EINVAL;
  struct tstream s;
  if (tyaml_load(buf, len, &s) < 0) {
    int r
        = tank_error_set(err, EINVAL, "%s:%u:%u: %s", path, s.error.line, s.error.col, s.error.msg);
    tstream_clear(&s);
    return r;
  }
  int r = 0;
  const struct tnode *root = s.n_docs ? s.docs[0]->root : NULL;
  if (root && root->type != TNODE_NULL && root->kind != TNODE_MAP) {
    r = tank_error_set(err, EINVAL, "%s:%u:%u: expected a mapping of settings", path, root->line,
                       root->col);
  }
  for (size_t i = 0; r == 0 && root && root->kind == TNODE_MAP && i < root->n; i++) {
    const struct tnode *k = root->keys[i], *v = root->items[i];
    if (v->kind != TNODE_SCALAR) {
      r = tank_error_set(err, EINVAL, "%s:%u:%u: %s: expected a single value", path, v->line,
                         v->col, k->text);
      break;
    }
    if (apply(c, k->text, v->text, err) < 0)
      r = tank_error_wrap(err, "%s:%u:%u", path, k->line, k->col);
  }
  tstream_clear(&s);
  return r;
}

static void
usage(void)
{
  printf(
      "Usage: tankd [OPTIONS]\n\n"
      "The Tank daemon: keeps this machine converged on the pods in its store.\n\n"
      "Options (each also a key of the config file and a TANK_* variable):\n"
      "  --config FILE          config file (default /etc/tank/tank.yaml)\n"
      "  --data-dir DIR         images, volumes, the embedded store (TANK_DATA_DIR, "
      "/var/lib/tank)\n"
      "  --run-dir DIR          sandboxes, shims' state (TANK_RUN_DIR, /run/tank)\n"
      "  --socket PATH          API socket (TANK_SOCKET, <run-dir>/tank.sock)\n"
      "  --store URL            sqlite:PATH or etcd://H:P,... (TANK_STORE, "
      "sqlite:<data-dir>/state.db)\n"
      "  --pods-dir DIR         pod files written at start if absent (TANK_PODS_DIR, "
      "/etc/tank/pods.d)\n"
      "  --node NAME            this node's name (TANK_NODE, the hostname)\n"
      "  --uplink IFACE         default macvlan parent (TANK_UPLINK, the default-route interface)\n"
      "  --cgroup-root NAME     cgroup under which pods live (TANK_CGROUP_ROOT, tank)\n"
      "  --socket-group NAME    group owning the socket (TANK_SOCKET_GROUP, tank)\n"
      "  --metrics-listen H:P   also serve /metrics on TCP (TANK_METRICS_LISTEN)\n"
      "  --resync DURATION      periodic drift check (TANK_RESYNC, 10s)\n"
      "  --backoff-initial/-max/-reset-after DURATION   restart backoff defaults (1s, 60s, 60s)\n"
      "  --offline              use only the image cache\n"
      "  --log-level LEVEL      error, warning, info or debug (TANK_LOG_LEVEL, info)\n"
      "  -h, --help             show this help\n");
}

int
tankd_config_load(int argc, char **argv, struct tankd_config *c, tank_error **err)
{
  memset(c, 0, sizeof *c);
  set(&c->config_file, getenv("TANK_CONFIG") ? getenv("TANK_CONFIG") : "/etc/tank/tank.yaml");
  bool config_given = getenv("TANK_CONFIG") != NULL;
  set(&c->data_dir, "/var/lib/tank");
  set(&c->run_dir, "/run/tank");
  set(&c->pods_dir, "/etc/tank/pods.d");
  set(&c->cgroup_root, "tank");
  set(&c->socket_group, "tank");
  set(&c->log_level, "info");
  c->resync_ms = 10000;
  c->backoff = (struct spec_backoff){ 1000, 60000, 60000 };
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  set(&c->node, host);

  /* The flags are parsed twice: first only to find --config. */
  struct option long_opts[ARRAY_SIZE(string_options) + 8];
  size_t n = 0;
  for (size_t i = 0; i < ARRAY_SIZE(string_options); i++)
    long_opts[n++] = (struct option){ string_options[i].key, required_argument, NULL, 0 };
  for (size_t i = 0; special_keys[i]; i++)
    long_opts[n++] = (struct option){ special_keys[i],
                                      strcmp(special_keys[i], "offline") == 0 ? no_argument
                                                                              : required_argument,
                                      NULL, 0 };
  long_opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
  long_opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
  long_opts[n] = (struct option){ 0 };

  int idx, ch;
  if (argv) {
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "hc:", long_opts, &idx)) != -1) {
      if (ch == 'c') {
        set(&c->config_file, optarg);
        config_given = true;
      } else if (ch == 'h') {
        usage();
        return 1;
      }
    }
  }
  if (load_file(c, c->config_file, config_given, err) < 0)
    return -EINVAL;
  for (size_t i = 0; i < ARRAY_SIZE(string_options); i++) {
    const char *v = getenv(string_options[i].env);
    if (v && *v)
      set(field(c, &string_options[i]), v);
  }
  const char *env_resync = getenv("TANK_RESYNC");
  if (env_resync && set_duration("TANK_RESYNC", env_resync, &c->resync_ms, err) < 0)
    return -EINVAL;
  if (argv) {
    optind = 1;
    opterr = 1;
    while ((ch = getopt_long(argc, argv, "hc:", long_opts, &idx)) != -1) {
      if (ch == '?')
        return tank_error_set(err, EINVAL, "bad command line (see tankd --help)");
      if (ch != 0)
        continue;
      const char *key = long_opts[idx].name;
      if (apply(c, key, optarg ? optarg : "true", err) < 0)
        return tank_error_wrap(err, "--%s", key);
    }
    if (optind < argc)
      return tank_error_set(err, EINVAL, "unexpected argument `%s`", argv[optind]);
  }
  if (c->socket == NULL)
    c->socket = joined(c->run_dir, "/tank.sock");
  if (c->store == NULL) {
    char *db = joined(c->data_dir, "/state.db");
    c->store = joined("sqlite:", db);
    free(db);
  }
  if (c->backoff.max_ms < c->backoff.initial_ms)
    return tank_error_set(err, EINVAL, "backoff-max must not be shorter than backoff-initial");
  return 0;
}

void
tankd_config_clear(struct tankd_config *c)
{
  for (size_t i = 0; i < ARRAY_SIZE(string_options); i++)
    free(*field(c, &string_options[i]));
  free(c->config_file);
  memset(c, 0, sizeof *c);
}
