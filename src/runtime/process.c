/* Image config parsing and the Kubernetes merge of argv, env and cwd. */
#include "runtime/process.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int
json_strv(json_t *v, const char *what, size_t max, char ***ret, size_t *ret_n, tank_error **err)
{
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return tank_error_set(err, 0, "image config %s: must be a list of strings", what);
  size_t n = json_array_size(v);
  if (n > max)
    return tank_error_set(err, 0, "image config %s: more than %zu entries", what, max);
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL)
    return tank_error_set(err, ENOMEM, "image config");
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(v, i);
    if (!json_is_string(s) || (out[i] = strdup(json_string_value(s))) == NULL) {
      strv_free_n(out, i);
      return tank_error_set(err, json_is_string(s) ? ENOMEM : 0,
                            "image config %s[%zu]: must be a string", what, i);
    }
  }
  *ret = out;
  *ret_n = n;
  return 0;
}

int
image_process_parse(const char *json, size_t len, struct image_process *ret, tank_error **err)
{
  json_error_t jerr;
  json_t *root = json_loadb(json, len, 0, &jerr);
  if (root == NULL)
    return tank_error_set(err, 0, "image config: line %d: %s", jerr.line, jerr.text);
  struct image_process p = { 0 };
  int r = 0;
  json_t *cfg = json_object_get(root, "config");
  if (cfg != NULL && !json_is_null(cfg)) {
    if (!json_is_object(cfg)) {
      r = tank_error_set(err, 0, "image config: `config` must be an object");
      goto out;
    }
    if ((r = json_strv(json_object_get(cfg, "Entrypoint"), "Entrypoint", CONFIG_MAX_ARGS,
                       &p.entrypoint, &p.n_entrypoint, err))
            < 0
        || (r
            = json_strv(json_object_get(cfg, "Cmd"), "Cmd", CONFIG_MAX_ARGS, &p.cmd, &p.n_cmd, err))
               < 0
        || (r
            = json_strv(json_object_get(cfg, "Env"), "Env", CONFIG_MAX_ENV, &p.env, &p.n_env, err))
               < 0)
      goto out;
    json_t *v = json_object_get(cfg, "WorkingDir");
    if (json_is_string(v) && json_string_length(v) > 0
        && (p.working_dir = strdup(json_string_value(v))) == NULL) {
      r = tank_error_set(err, ENOMEM, "image config");
      goto out;
    }
    v = json_object_get(cfg, "User");
    if (json_is_string(v) && json_string_length(v) > 0
        && (p.user = strdup(json_string_value(v))) == NULL) {
      r = tank_error_set(err, ENOMEM, "image config");
      goto out;
    }
    v = json_object_get(cfg, "StopSignal");
    if (json_is_string(v)) {
      p.stop_signal = signal_from_name(json_string_value(v));
      if (p.stop_signal == 0) {
        r = tank_error_set(err, 0, "image config StopSignal: `%s` is not a signal",
                           json_string_value(v));
        goto out;
      }
    }
  }
out:
  json_decref(root);
  if (r < 0) {
    image_process_clear(&p);
    return r;
  }
  *ret = p;
  return 0;
}

int
image_process_load(const struct container_config *c, struct image_process *img, bool *has,
                   tank_error **err)
{
  *has = false;
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  if (c->image_config_path) {
    int r = read_file_limited(c->image_config_path, CONFIG_MAX_BYTES, &buf, &len, err);
    if (r < 0)
      return r;
  } else if (c->image_config_json) {
    buf = strdup(c->image_config_json);
    if (buf == NULL)
      return tank_error_set(err, ENOMEM, "image config");
    len = strlen(buf);
  } else {
    return 0;
  }
  int r = image_process_parse(buf, len, img, err);
  if (r < 0)
    return r;
  *has = true;
  return 0;
}

void
image_process_clear(struct image_process *p)
{
  strv_free_n(p->entrypoint, p->n_entrypoint);
  strv_free_n(p->cmd, p->n_cmd);
  strv_free_n(p->env, p->n_env);
  free(p->working_dir);
  free(p->user);
  *p = (struct image_process){ 0 };
}

static int
append(char ***v, size_t *n, const char *s)
{
  char **nv = realloc(*v, (*n + 2) * sizeof **v);
  if (nv == NULL)
    return -ENOMEM;
  *v = nv;
  if ((nv[*n] = strdup(s)) == NULL)
    return -ENOMEM;
  (*n)++;
  nv[*n] = NULL;
  return 0;
}

static int
append_all(char ***v, size_t *n, char *const *src, size_t n_src)
{
  for (size_t i = 0; i < n_src; i++)
    if (append(v, n, src[i]) < 0)
      return -ENOMEM;
  return 0;
}

/* Sets or replaces NAME=value. */
static int
env_set(char ***env, size_t *n, const char *entry)
{
  size_t name_len = strcspn(entry, "=");
  for (size_t i = 0; i < *n; i++)
    if (strncmp((*env)[i], entry, name_len) == 0 && (*env)[i][name_len] == '=') {
      char *copy = strdup(entry);
      if (copy == NULL)
        return -ENOMEM;
      free((*env)[i]);
      (*env)[i] = copy;
      return 0;
    }
  return append(env, n, entry);
}

int
process_plan_env_set(struct process_plan *p, const char *entry)
{
  return env_set(&p->env, &p->n_env, entry);
}

int
process_plan_env_default(struct process_plan *p, const char *name, const char *value)
{
  size_t len = strlen(name);
  for (size_t i = 0; i < p->n_env; i++)
    if (strncmp(p->env[i], name, len) == 0 && p->env[i][len] == '=')
      return 0;
  _cleanup_free_ char *entry = NULL;
  if (asprintf(&entry, "%s=%s", name, value) < 0)
    return -ENOMEM;
  return append(&p->env, &p->n_env, entry);
}

int
process_merge(const struct container_config *c, const struct image_process *img,
              const char *hostname, struct process_plan *ret, tank_error **err)
{
  static const struct image_process none = { 0 };
  if (img == NULL)
    img = &none;
  struct process_plan p = { 0 };
  int r = 0;
  /* Kubernetes: command replaces Entrypoint (and drops Cmd); args replaces Cmd. */
  if (c->has_command) {
    r = append_all(&p.argv, &p.argc, c->command, c->n_command);
    if (r == 0 && c->has_args)
      r = append_all(&p.argv, &p.argc, c->args, c->n_args);
  } else {
    r = append_all(&p.argv, &p.argc, img->entrypoint, img->n_entrypoint);
    if (r == 0)
      r = c->has_args ? append_all(&p.argv, &p.argc, c->args, c->n_args)
                      : append_all(&p.argv, &p.argc, img->cmd, img->n_cmd);
  }
  for (size_t i = 0; r == 0 && i < img->n_env; i++)
    if (strchr(img->env[i], '=') != NULL)
      r = env_set(&p.env, &p.n_env, img->env[i]);
  for (size_t i = 0; r == 0 && i < c->n_env; i++)
    r = env_set(&p.env, &p.n_env, c->env[i]);
  if (r == 0)
    r = process_plan_env_default(&p, "PATH", DEFAULT_PATH);
  if (r == 0 && hostname)
    r = process_plan_env_default(&p, "HOSTNAME", hostname);
  if (r == 0 && c->tty)
    r = process_plan_env_default(&p, "TERM", "xterm");
  if (r == 0) {
    const char *cwd = c->working_dir ? c->working_dir : img->working_dir ? img->working_dir : "/";
    const char *user = c->user ? c->user : img->user ? img->user : "";
    p.cwd = strdup(cwd);
    p.user = strdup(user);
    if (p.cwd == NULL || p.user == NULL)
      r = -ENOMEM;
  }
  if (r < 0) {
    process_plan_clear(&p);
    return tank_error_set(err, ENOMEM, "merge process");
  }
  if (p.argc == 0) {
    process_plan_clear(&p);
    return tank_error_set(err, 0, "no command: neither the container nor the image gives one");
  }
  if (p.cwd[0] != '/') {
    process_plan_clear(&p);
    return tank_error_set(err, 0, "working directory `%s` is not absolute", p.cwd);
  }
  *ret = p;
  return 0;
}

void
process_plan_clear(struct process_plan *p)
{
  strv_free_n(p->argv, p->argc);
  strv_free_n(p->env, p->n_env);
  free(p->cwd);
  free(p->user);
  *p = (struct process_plan){ 0 };
}
