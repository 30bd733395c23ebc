/* Parsing of the container config JSON (docs/container-config.md): strict
 * about keys and types, defaults applied, limits on every list. */
#include "runtime/config.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

static const char *const ns_names[CONFIG_NS_COUNT]
    = { "mount", "pid", "cgroup", "net", "uts", "ipc" };

int
config_ns_from_name(const char *name)
{
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    if (strcmp(name, ns_names[i]) == 0)
      return i;
  return -1;
}

const char *
config_ns_name(enum config_ns ns)
{
  return ns_names[ns];
}

int
signal_from_name(const char *name)
{
  static const struct {
    const char *name;
    int sig;
  } sigs[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
    { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "WINCH", SIGWINCH },
    { "PWR", SIGPWR },   { "STOP", SIGSTOP }, { "CONT", SIGCONT }, { "ALRM", SIGALRM },
  };
  if (name == NULL || *name == '\0')
    return 0;
  char *end;
  long n = strtol(name, &end, 10);
  if (*end == '\0')
    return n > 0 && n < NSIG ? (int)n : 0;
  if (strncmp(name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
    if (strcmp(name, sigs[i].name) == 0)
      return sigs[i].sig;
  if (strncmp(name, "RTMIN+", 6) == 0) {
    n = strtol(name + 6, &end, 10);
    if (*end == '\0' && n >= 0 && SIGRTMIN + n <= SIGRTMAX)
      return SIGRTMIN + (int)n;
  }
  return 0;
}

/* Rejects keys of obj not in allowed (NULL-terminated). */
static int
check_keys(json_t *obj, const char *where, const char *const *allowed, tank_error **err)
{
  if (!json_is_object(obj))
    return tank_error_set(err, 0, "%s: must be an object", where);
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    bool ok = false;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(*a, key) == 0)
        ok = true;
    if (!ok)
      return tank_error_set(err, 0, "%s.%s: unknown key", where, key);
  }
  return 0;
}

static int
get_str(json_t *obj, const char *key, const char *where, bool required, char **ret,
        tank_error **err)
{
  json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v)) {
    if (required)
      return tank_error_set(err, 0, "%s.%s: required", where, key);
    return 0;
  }
  if (!json_is_string(v))
    return tank_error_set(err, 0, "%s.%s: must be a string", where, key);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return tank_error_set(err, 0, "%s.%s: contains a NUL byte", where, key);
  *ret = strdup(json_string_value(v));
  if (*ret == NULL)
    return tank_error_set(err, ENOMEM, "config");
  return 0;
}

static int
get_abs_path(json_t *obj, const char *key, const char *where, bool required, char **ret,
             tank_error **err)
{
  int r = get_str(obj, key, where, required, ret, err);
  if (r < 0)
    return r;
  if (*ret && (*ret)[0] != '/')
    return tank_error_set(err, 0, "%s.%s: `%s` is not an absolute path", where, key, *ret);
  return 0;
}

static int
get_bool(json_t *obj, const char *key, const char *where, bool *ret, tank_error **err)
{
  json_t *v = json_object_get(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_boolean(v))
    return tank_error_set(err, 0, "%s.%s: must be true or false", where, key);
  *ret = json_is_true(v);
  return 0;
}

static int
get_u64(json_t *obj, const char *key, const char *where, uint64_t *ret, tank_error **err)
{
  json_t *v = json_object_get(obj, key);
  if (v == NULL)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return tank_error_set(err, 0, "%s.%s: must be a non-negative integer", where, key);
  *ret = (uint64_t)json_integer_value(v);
  return 0;
}

static int
get_strv(json_t *obj, const char *key, const char *where, size_t max, bool *ret_has, char ***ret,
         size_t *ret_n, tank_error **err)
{
  json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return tank_error_set(err, 0, "%s.%s: must be a list of strings", where, key);
  size_t n = json_array_size(v);
  if (n > max)
    return tank_error_set(err, 0, "%s.%s: more than %zu entries", where, key, max);
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL)
    return tank_error_set(err, ENOMEM, "config");
  *ret = out;
  *ret_n = n;
  if (ret_has)
    *ret_has = true;
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(v, i);
    if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
      return tank_error_set(err, 0, "%s.%s[%zu]: must be a string", where, key, i);
    out[i] = strdup(json_string_value(s));
    if (out[i] == NULL)
      return tank_error_set(err, ENOMEM, "config");
  }
  return 0;
}

static int
parse_rootfs(json_t *o, struct container_config *c, tank_error **err)
{
  static const char *const keys[] = { "layers", "upper", "work", "mountpoint", "keep_upper", NULL };
  int r;
  if ((r = check_keys(o, "rootfs", keys, err)) < 0
      || (r
          = get_strv(o, "layers", "rootfs", CONFIG_MAX_LAYERS, NULL, &c->layers, &c->n_layers, err))
             < 0
      || (r = get_abs_path(o, "upper", "rootfs", true, &c->upper_dir, err)) < 0
      || (r = get_abs_path(o, "work", "rootfs", true, &c->work_dir, err)) < 0
      || (r = get_abs_path(o, "mountpoint", "rootfs", true, &c->rootfs_dir, err)) < 0
      || (r = get_bool(o, "keep_upper", "rootfs", &c->keep_upper, err)) < 0)
    return r;
  if (c->n_layers == 0)
    return tank_error_set(err, 0, "rootfs.layers: at least one layer directory is required");
  for (size_t i = 0; i < c->n_layers; i++)
    if (c->layers[i][0] != '/' || strpbrk(c->layers[i], ":,\n") != NULL)
      return tank_error_set(err, 0, "rootfs.layers[%zu]: `%s` must be absolute, without : or ,", i,
                            c->layers[i]);
  if (strpbrk(c->upper_dir, ":,") || strpbrk(c->work_dir, ":,"))
    return tank_error_set(err, 0, "rootfs: upper and work paths must not contain : or ,");
  return 0;
}

static int
parse_env(json_t *v, struct container_config *c, tank_error **err)
{
  if (v == NULL || json_is_null(v))
    return 0;
  if (json_is_array(v)) {
    json_t *wrap = json_pack("{sO}", "env", v);
    if (wrap == NULL)
      return tank_error_set(err, ENOMEM, "config");
    int r = get_strv(wrap, "env", "process", CONFIG_MAX_ENV, NULL, &c->env, &c->n_env, err);
    json_decref(wrap);
    if (r < 0)
      return r;
    for (size_t i = 0; i < c->n_env; i++)
      if (c->env[i][0] == '=' || strchr(c->env[i], '=') == NULL)
        return tank_error_set(err, 0, "process.env[%zu]: `%s` is not NAME=value", i, c->env[i]);
    return 0;
  }
  if (!json_is_object(v))
    return tank_error_set(err, 0, "process.env: must be a mapping or a list of NAME=value");
  size_t n = json_object_size(v);
  if (n > CONFIG_MAX_ENV)
    return tank_error_set(err, 0, "process.env: more than %d entries", CONFIG_MAX_ENV);
  c->env = calloc(n + 1, sizeof *c->env);
  if (c->env == NULL)
    return tank_error_set(err, ENOMEM, "config");
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val)
  {
    if (!json_is_string(val))
      return tank_error_set(err, 0, "process.env.%s: must be a string", key);
    if (*key == '\0' || strchr(key, '='))
      return tank_error_set(err, 0, "process.env: `%s` is not a variable name", key);
    if (asprintf(&c->env[c->n_env], "%s=%s", key, json_string_value(val)) < 0)
      return tank_error_set(err, ENOMEM, "config");
    c->n_env++;
  }
  return 0;
}

static int
parse_process(json_t *o, struct container_config *c, tank_error **err)
{
  static const char *const keys[]
      = { "command", "args", "env", "working_dir", "user", "tty", "init", NULL };
  int r;
  if ((r = check_keys(o, "process", keys, err)) < 0
      || (r = get_strv(o, "command", "process", CONFIG_MAX_ARGS, &c->has_command, &c->command,
                       &c->n_command, err))
             < 0
      || (r = get_strv(o, "args", "process", CONFIG_MAX_ARGS, &c->has_args, &c->args, &c->n_args,
                       err))
             < 0
      || (r = get_abs_path(o, "working_dir", "process", false, &c->working_dir, err)) < 0
      || (r = get_str(o, "user", "process", false, &c->user, err)) < 0
      || (r = get_bool(o, "tty", "process", &c->tty, err)) < 0
      || (r = get_bool(o, "init", "process", &c->init, err)) < 0)
    return r;
  return parse_env(json_object_get(o, "env"), c, err);
}

static int
parse_namespaces(json_t *o, struct container_config *c, tank_error **err)
{
  static const char *const keys[] = { "create", "join", NULL };
  int r = check_keys(o, "namespaces", keys, err);
  if (r < 0)
    return r;
  json_t *create = json_object_get(o, "create");
  if (create) {
    if (!json_is_array(create))
      return tank_error_set(err, 0, "namespaces.create: must be a list");
    for (int i = 0; i < CONFIG_NS_COUNT; i++)
      c->ns_create[i] = false;
    size_t i;
    json_t *v;
    json_array_foreach(create, i, v)
    {
      int ns = json_is_string(v) ? config_ns_from_name(json_string_value(v)) : -1;
      if (ns < 0)
        return tank_error_set(err, 0,
                              "namespaces.create[%zu]: not one of mount, pid, cgroup, "
                              "net, uts, ipc",
                              i);
      c->ns_create[ns] = true;
    }
  }
  json_t *join = json_object_get(o, "join");
  if (join) {
    if (!json_is_object(join))
      return tank_error_set(err, 0, "namespaces.join: must be a mapping");
    const char *key;
    json_t *v;
    json_object_foreach(join, key, v)
    {
      int ns = config_ns_from_name(key);
      if (ns != CONFIG_NS_NET && ns != CONFIG_NS_UTS && ns != CONFIG_NS_IPC)
        return tank_error_set(err, 0, "namespaces.join.%s: only net, uts and ipc can be joined",
                              key);
      if ((r = get_abs_path(join, key, "namespaces.join", true, &c->ns_join[ns], err)) < 0)
        return r;
      c->ns_create[ns] = false;
    }
  }
  if (!c->ns_create[CONFIG_NS_MOUNT])
    return tank_error_set(err, 0, "namespaces.create: must include mount");
  return 0;
}

static int
parse_cgroup(json_t *o, struct container_config *c, tank_error **err)
{
  static const char *const keys[] = { "root", "path", "version", "limits", NULL };
  static const char *const lkeys[]
      = { "memory_bytes", "pids", "cpu_quota_us", "cpu_period_us", NULL };
  int r;
  _cleanup_free_ char *version = NULL;
  free(c->cgroup_root);
  c->cgroup_root = NULL;
  if ((r = check_keys(o, "cgroup", keys, err)) < 0
      || (r = get_abs_path(o, "root", "cgroup", false, &c->cgroup_root, err)) < 0
      || (r = get_str(o, "path", "cgroup", true, &c->cgroup_path, err)) < 0
      || (r = get_str(o, "version", "cgroup", false, &version, err)) < 0)
    return r;
  if (c->cgroup_root == NULL && (c->cgroup_root = strdup("/sys/fs/cgroup")) == NULL)
    return tank_error_set(err, ENOMEM, "config");
  if (version == NULL || strcmp(version, "auto") == 0)
    c->cgroup_version = CGROUP_VERSION_AUTO;
  else if (strcmp(version, "v1") == 0)
    c->cgroup_version = CGROUP_VERSION_1;
  else if (strcmp(version, "v2") == 0)
    c->cgroup_version = CGROUP_VERSION_2;
  else
    return tank_error_set(err, 0, "cgroup.version: `%s` is not auto, v1 or v2", version);
  json_t *l = json_object_get(o, "limits");
  if (l) {
    if ((r = check_keys(l, "cgroup.limits", lkeys, err)) < 0
        || (r = get_u64(l, "memory_bytes", "cgroup.limits", &c->limits.memory_bytes, err)) < 0
        || (r = get_u64(l, "pids", "cgroup.limits", &c->limits.pids, err)) < 0
        || (r = get_u64(l, "cpu_quota_us", "cgroup.limits", &c->limits.cpu_quota_us, err)) < 0
        || (r = get_u64(l, "cpu_period_us", "cgroup.limits", &c->limits.cpu_period_us, err)) < 0)
      return r;
    if (c->limits.cpu_quota_us && c->limits.cpu_quota_us < 1000)
      return tank_error_set(err, 0, "cgroup.limits.cpu_quota_us: at least 1000");
  }
  return 0;
}

static int
parse_mounts(json_t *v, struct container_config *c, tank_error **err)
{
  static const char *const keys[] = { "source", "destination", "read_only", NULL };
  if (v == NULL)
    return 0;
  if (!json_is_array(v))
    return tank_error_set(err, 0, "mounts: must be a list");
  size_t n = json_array_size(v);
  if (n > CONFIG_MAX_MOUNTS)
    return tank_error_set(err, 0, "mounts: more than %d entries", CONFIG_MAX_MOUNTS);
  c->mounts = calloc(n + 1, sizeof *c->mounts);
  if (c->mounts == NULL)
    return tank_error_set(err, ENOMEM, "config");
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_array_get(v, i);
    char where[32];
    snprintf(where, sizeof where, "mounts[%zu]", i);
    struct config_mount *cm = &c->mounts[c->n_mounts++];
    int r;
    if ((r = check_keys(m, where, keys, err)) < 0
        || (r = get_abs_path(m, "source", where, true, &cm->source, err)) < 0
        || (r = get_abs_path(m, "destination", where, true, &cm->destination, err)) < 0
        || (r = get_bool(m, "read_only", where, &cm->read_only, err)) < 0)
      return r;
  }
  return 0;
}

static int
parse_security(json_t *o, struct container_config *c, tank_error **err)
{
  static const char *const keys[] = { "no_new_privileges", "seccomp", "capabilities", NULL };
  _cleanup_free_ char *seccomp = NULL, *caps = NULL;
  int r;
  if ((r = check_keys(o, "security", keys, err)) < 0
      || (r = get_bool(o, "no_new_privileges", "security", &c->no_new_privileges, err)) < 0
      || (r = get_str(o, "seccomp", "security", false, &seccomp, err)) < 0
      || (r = get_str(o, "capabilities", "security", false, &caps, err)) < 0)
    return r;
  if (seccomp && strcmp(seccomp, "default") != 0 && strcmp(seccomp, "unconfined") != 0)
    return tank_error_set(err, 0, "security.seccomp: `%s` is not default or unconfined", seccomp);
  if (seccomp)
    c->seccomp = strcmp(seccomp, "default") == 0;
  if (caps && strcmp(caps, "default") != 0 && strcmp(caps, "none") != 0)
    return tank_error_set(err, 0, "security.capabilities: `%s` is not default or none", caps);
  if (caps)
    c->default_caps = strcmp(caps, "default") == 0;
  return 0;
}

static int
parse_top(json_t *root, struct container_config *c, tank_error **err)
{
  static const char *const keys[]
      = { "id",     "state_dir", "rootfs", "image_config", "process", "hostname", "namespaces",
          "cgroup", "etc",       "mounts", "security",     "stop",    "log",      NULL };
  static const char *const etc_keys[] = { "hosts", "hostname", "resolv_conf", NULL };
  static const char *const stop_keys[] = { "signal", "timeout_ms", NULL };
  static const char *const log_keys[] = { "path", "max_bytes", "max_files", NULL };
  int r;
  if ((r = check_keys(root, "config", keys, err)) < 0
      || (r = get_str(root, "id", "config", true, &c->id, err)) < 0
      || (r = get_abs_path(root, "state_dir", "config", true, &c->state_dir, err)) < 0
      || (r = get_str(root, "hostname", "config", false, &c->hostname, err)) < 0)
    return r;
  json_t *v = json_object_get(root, "rootfs");
  if (v == NULL)
    return tank_error_set(err, 0, "config.rootfs: required");
  if ((r = parse_rootfs(v, c, err)) < 0)
    return r;
  v = json_object_get(root, "image_config");
  if (json_is_string(v)) {
    if ((r = get_abs_path(root, "image_config", "config", true, &c->image_config_path, err)) < 0)
      return r;
  } else if (json_is_object(v)) {
    c->image_config_json = json_dumps(v, JSON_COMPACT);
    if (c->image_config_json == NULL)
      return tank_error_set(err, ENOMEM, "config");
  } else if (v != NULL && !json_is_null(v)) {
    return tank_error_set(err, 0, "config.image_config: must be a path or an object");
  }
  if ((v = json_object_get(root, "process")) && (r = parse_process(v, c, err)) < 0)
    return r;
  if ((v = json_object_get(root, "namespaces")) && (r = parse_namespaces(v, c, err)) < 0)
    return r;
  if ((v = json_object_get(root, "cgroup")) && !json_is_null(v)
      && (r = parse_cgroup(v, c, err)) < 0)
    return r;
  if ((v = json_object_get(root, "etc"))) {
    if ((r = check_keys(v, "etc", etc_keys, err)) < 0
        || (r = get_abs_path(v, "hosts", "etc", false, &c->etc_hosts, err)) < 0
        || (r = get_abs_path(v, "hostname", "etc", false, &c->etc_hostname, err)) < 0
        || (r = get_abs_path(v, "resolv_conf", "etc", false, &c->etc_resolv_conf, err)) < 0)
      return r;
  }
  if ((r = parse_mounts(json_object_get(root, "mounts"), c, err)) < 0)
    return r;
  if ((v = json_object_get(root, "security")) && (r = parse_security(v, c, err)) < 0)
    return r;
  if ((v = json_object_get(root, "stop"))) {
    _cleanup_free_ char *sig = NULL;
    if ((r = check_keys(v, "stop", stop_keys, err)) < 0
        || (r = get_u64(v, "timeout_ms", "stop", &c->stop_timeout_ms, err)) < 0)
      return r;
    json_t *s = json_object_get(v, "signal");
    if (json_is_integer(s)) {
      c->stop_signal = (int)json_integer_value(s);
      if (c->stop_signal <= 0 || c->stop_signal >= NSIG)
        return tank_error_set(err, 0, "stop.signal: %d is not a signal", c->stop_signal);
    } else if (s) {
      if ((r = get_str(v, "signal", "stop", false, &sig, err)) < 0)
        return r;
      c->stop_signal = signal_from_name(sig);
      if (c->stop_signal == 0)
        return tank_error_set(err, 0, "stop.signal: `%s` is not a signal", sig);
    }
  }
  if ((v = json_object_get(root, "log"))) {
    uint64_t files = c->log_max_files;
    if ((r = check_keys(v, "log", log_keys, err)) < 0
        || (r = get_abs_path(v, "path", "log", false, &c->log_path, err)) < 0
        || (r = get_u64(v, "max_bytes", "log", &c->log_max_bytes, err)) < 0
        || (r = get_u64(v, "max_files", "log", &files, err)) < 0)
      return r;
    if (files < 1 || files > 100)
      return tank_error_set(err, 0, "log.max_files: between 1 and 100");
    if (c->log_max_bytes < 4096)
      return tank_error_set(err, 0, "log.max_bytes: at least 4096");
    c->log_max_files = (unsigned)files;
  }
  return 0;
}

int
container_config_parse(const char *buf, size_t len, struct container_config **ret, tank_error **err)
{
  if (len > CONFIG_MAX_BYTES)
    return tank_error_set(err, EFBIG, "container config larger than %d bytes", CONFIG_MAX_BYTES);
  json_error_t jerr;
  json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return tank_error_set(err, 0, "container config: line %d column %d: %s", jerr.line, jerr.column,
                          jerr.text);
  struct container_config *c = calloc(1, sizeof *c);
  if (c == NULL) {
    json_decref(root);
    return tank_error_set(err, ENOMEM, "config");
  }
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    c->ns_create[i] = true;
  c->no_new_privileges = true;
  c->seccomp = true;
  c->default_caps = true;
  c->stop_timeout_ms = 10000;
  c->log_max_bytes = 10 * 1024 * 1024;
  c->log_max_files = 5;
  int r = parse_top(root, c, err);
  json_decref(root);
  if (r < 0) {
    container_config_free(c);
    return r;
  }
  *ret = c;
  return 0;
}

int
container_config_load(const char *path, struct container_config **ret, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_file_limited(path, CONFIG_MAX_BYTES, &buf, &len, err);
  if (r < 0)
    return r;
  r = container_config_parse(buf, len, ret, err);
  if (r < 0)
    return tank_error_wrap(err, "`%s`", path);
  return 0;
}

struct container_config *
container_config_free(struct container_config *c)
{
  if (c == NULL)
    return NULL;
  free(c->id);
  free(c->state_dir);
  strv_free_n(c->layers, c->n_layers);
  free(c->upper_dir);
  free(c->work_dir);
  free(c->rootfs_dir);
  free(c->image_config_path);
  free(c->image_config_json);
  strv_free_n(c->command, c->n_command);
  strv_free_n(c->args, c->n_args);
  strv_free_n(c->env, c->n_env);
  free(c->working_dir);
  free(c->user);
  free(c->hostname);
  for (int i = 0; i < CONFIG_NS_COUNT; i++)
    free(c->ns_join[i]);
  free(c->cgroup_root);
  free(c->cgroup_path);
  free(c->etc_hosts);
  free(c->etc_hostname);
  free(c->etc_resolv_conf);
  for (size_t i = 0; i < c->n_mounts; i++) {
    free(c->mounts[i].source);
    free(c->mounts[i].destination);
  }
  free(c->mounts);
  free(c->log_path);
  free(c);
  return NULL;
}

void
container_config_freep(struct container_config **c)
{
  *c = container_config_free(*c);
}
