/* Container configs for tank-shim from a pod spec: layers, namespaces to join
 * (the pod's sandbox), cgroup and limits, volumes, /etc files, stop settings. */
#include "daemon/ctrconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Joins path components with '/': jpath("/run", "pods", "web", NULL). */
static json_t *
jpath(const char *first, ...)
{
  char buf[4096];
  size_t len = 0;
  va_list ap;
  va_start(ap, first);
  for (const char *part = first; part; part = va_arg(ap, const char *)) {
    int n = snprintf(buf + len, sizeof buf - len, "%s%s", len ? "/" : "", part);
    if (n < 0 || (size_t)n >= sizeof buf - len)
      break;
    len += (size_t)n;
  }
  va_end(ap);
  return json_string(buf);
}

static json_t *
strv(char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

json_t *
ctrconfig_build(const struct spec_pod *pod, size_t index, const struct ctrconfig_image *image,
                const struct ctrconfig_paths *paths)
{
  const struct spec_container *c = &pod->containers[index];
  const char *pn = pod->name, *cn = c->name;
  const char *data = paths->data_dir, *run = paths->run_dir;

  /* The shim takes layers bottom first; the image service lists them topmost first. */
  json_t *layers = json_array();
  for (size_t i = image->n_lower_dirs; i-- > 0;)
    json_array_append_new(layers, json_string(image->lower_dirs[i]));

  json_t *process = json_object();
  if (c->command)
    json_object_set_new(process, "command", strv(c->command, c->n_command));
  if (c->has_args)
    json_object_set_new(process, "args", strv(c->args, c->n_args));
  json_t *env = json_object();
  for (size_t i = 0; i < c->n_env; i++)
    json_object_set_new(env, c->env[i].name, json_string(c->env[i].value));
  json_object_set_new(process, "env", env);
  if (c->working_dir)
    json_object_set_new(process, "working_dir", json_string(c->working_dir));
  if (c->user)
    json_object_set_new(process, "user", json_string(c->user));
  json_object_set_new(process, "tty", json_boolean(c->tty));

  json_t *limits = json_object();
  if (c->limits.memory_bytes)
    json_object_set_new(limits, "memory_bytes", json_integer((json_int_t)c->limits.memory_bytes));
  if (c->limits.pids)
    json_object_set_new(limits, "pids", json_integer((json_int_t)c->limits.pids));
  if (c->limits.cpu_quota_us) {
    json_object_set_new(limits, "cpu_quota_us", json_integer((json_int_t)c->limits.cpu_quota_us));
    json_object_set_new(limits, "cpu_period_us", json_integer((json_int_t)c->limits.cpu_period_us));
  }

  json_t *mounts = json_array();
  for (size_t i = 0; i < c->n_mounts; i++) {
    const struct spec_mount *m = &c->mounts[i];
    const struct spec_volume *vol = NULL;
    for (size_t v = 0; v < pod->n_volumes; v++)
      if (strcmp(pod->volumes[v].name, m->volume) == 0)
        vol = &pod->volumes[v];
    if (vol == NULL)
      continue; /* the validator guarantees one; never mount something else */
    json_t *src = vol->host ? json_string(vol->host) : jpath(data, "volumes", pn, vol->name, NULL);
    json_array_append_new(mounts, json_pack("{s:o,s:s,s:b}", "source", src, "destination", m->path,
                                            "read_only", m->read_only));
  }

  char log_name[128];
  snprintf(log_name, sizeof log_name, "%s.log", cn);

  json_t *stop = json_pack("{s:I}", "timeout_ms", (json_int_t)c->stop_timeout_ms);
  if (c->stop_signal) {
    const char *name = spec_signal_name(c->stop_signal);
    json_object_set_new(stop, "signal", name ? json_string(name) : json_integer(c->stop_signal));
  }

  json_t *cfg = json_pack(
      "{s:o,s:o,s:{s:o,s:o,s:o,s:o,s:b},s:o,s:o,s:s,"
      "s:{s:[sss],s:{s:o,s:o,s:o}},"
      "s:{s:s,s:o,s:s,s:o},"
      "s:{s:o,s:o,s:o},s:o,"
      "s:{s:b,s:s,s:s},s:o,s:{s:o,s:i,s:i}}",
      "id", jpath(pn, cn, NULL), "state_dir", jpath(run, "pods", pn, cn, NULL), "rootfs", "layers",
      layers, "upper", jpath(data, "containers", pn, cn, "upper", NULL), "work",
      jpath(data, "containers", pn, cn, "work", NULL), "mountpoint",
      jpath(run, "pods", pn, cn, "rootfs", NULL), "keep_upper", 0, "image_config",
      json_string(image->config_path ? image->config_path : ""), "process", process, "hostname", pn,
      "namespaces", "create", "mount", "pid", "cgroup", "join", "net",
      jpath(run, "pods", pn, "ns", "net", NULL), "uts", jpath(run, "pods", pn, "ns", "uts", NULL),
      "ipc", jpath(run, "pods", pn, "ns", "ipc", NULL), "cgroup", "root", paths->cgroup_fs, "path",
      jpath(paths->cgroup_root, pn, cn, NULL), "version", "auto", "limits", limits, "etc", "hosts",
      jpath(run, "pods", pn, "etc", "hosts", NULL), "hostname",
      jpath(run, "pods", pn, "etc", "hostname", NULL), "resolv_conf",
      jpath(run, "pods", pn, "etc", "resolv.conf", NULL), "mounts", mounts, "security",
      "no_new_privileges", 1, "seccomp", "default", "capabilities", "default", "stop", stop, "log",
      "path", jpath(data, "logs", pn, log_name, NULL), "max_bytes", 10 * 1024 * 1024, "max_files",
      5);
  if (cfg && image->config_path == NULL)
    json_object_del(cfg, "image_config"); /* rootfs: images have no config */
  return cfg;
}

char *
ctrconfig_log_path(const char *data_dir, const char *pod, const char *container)
{
  char *s = NULL;
  return asprintf(&s, "%s/logs/%s/%s.log", data_dir, pod, container) < 0 ? NULL : s;
}
