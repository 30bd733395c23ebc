/* Kubernetes v1 Pod manifests: converted into Tank's own document shape before
 * validation. Moved nodes keep their line:col and carry their Kubernetes path,
 * so errors point where the user wrote the field. A Kubernetes field Tank does
 * not support is an error naming it, never silently dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/validate.h"

struct conv {
  struct vctx *c;
  struct tdoc *doc;
  bool ok;
};

static struct tnode *
new_map(struct conv *k, const struct tnode *at, const char *origin)
{
  struct tnode *n = tdoc_node(k->doc, TNODE_MAP, TNODE_MAPPING, at->line, at->col);
  n->origin = tdoc_strdup(k->doc, origin);
  return n;
}

static struct tnode *
new_seq(struct conv *k, const struct tnode *at, const char *origin)
{
  struct tnode *n = tdoc_node(k->doc, TNODE_SEQ, TNODE_SEQUENCE, at->line, at->col);
  n->origin = tdoc_strdup(k->doc, origin);
  return n;
}

static struct tnode *
new_string(struct conv *k, const struct tnode *at, const char *origin, const char *text)
{
  struct tnode *n = tdoc_node(k->doc, TNODE_SCALAR, TNODE_STRING, at->line, at->col);
  tnode_set_text(n, text, strlen(text));
  n->origin = tdoc_strdup(k->doc, origin);
  return n;
}

/* Puts value under key in a Tank-shaped map, recording where it came from. */
static void
put(struct conv *k, struct tnode *map, const char *key, struct tnode *value, const char *origin)
{
  struct tnode *kn = tdoc_node(k->doc, TNODE_SCALAR, TNODE_STRING, value->line, value->col);
  tnode_set_text(kn, key, strlen(key));
  if (value->origin == NULL)
    value->origin = tdoc_strdup(k->doc, origin);
  tnode_append(map, kn, value);
}

static bool
keys(struct conv *k, const struct tnode *map, const char *path, const char *const *allowed,
     const char *what)
{
  size_t before = k->c->errors;
  /* Kubernetes fields that are valid there but not supported here get a precise note. */
  if (map->kind == TNODE_MAP)
    for (size_t i = 0; i < map->n; i++) {
      size_t a;
      for (a = 0; allowed[a]; a++)
        if (strcmp(map->keys[i]->text, allowed[a]) == 0)
          break;
      if (allowed[a] == NULL) {
        char p[SPEC_PATH_MAX];
        child_path(p, path, map->keys[i]->text, NULL);
        verr(k->c, map->keys[i], p, "Kubernetes field not supported by Tank");
      }
    }
  else
    check_keys(k->c, map, path, allowed, what);
  if (k->c->errors != before)
    k->ok = false;
  return map->kind == TNODE_MAP;
}

static void
fail(struct conv *k, const struct tnode *n, const char *path, const char *msg)
{
  verr(k->c, n, path, "%s", msg);
  k->ok = false;
}

static void
convert_env(struct conv *k, const struct tnode *env, const char *path, struct tnode *ctr)
{
  static const char *const allowed[] = { "name", "value", NULL };
  if (env->kind != TNODE_SEQ) {
    fail(k, env, path, "expected a list of {name, value}");
    return;
  }
  struct tnode *map = new_map(k, env, path);
  for (size_t i = 0; i < env->n; i++) {
    char p[SPEC_PATH_MAX], np[SPEC_PATH_MAX], vp[SPEC_PATH_MAX];
    const struct tnode *e = env->items[i];
    index_path(p, path, i, NULL);
    if (!keys(k, e, p, allowed, "an env entry"))
      continue;
    struct tnode *name = tnode_get(e, "name"), *value = tnode_get(e, "value");
    child_path(np, p, "name", NULL);
    child_path(vp, p, "value", NULL);
    if (name == NULL) {
      fail(k, e, np, "required field missing");
      continue;
    }
    if (name->type != TNODE_STRING) {
      fail(k, name, np, "expected a string");
      continue;
    }
    if (value == NULL)
      value = new_string(k, e, vp, "");
    value->origin = tdoc_strdup(k->doc, vp);
    tnode_append(map, name, value);
  }
  put(k, ctr, "env", map, path);
}

static void
convert_mounts(struct conv *k, const struct tnode *vm, const char *path, struct tnode *ctr)
{
  static const char *const allowed[] = { "name", "mountPath", "readOnly", NULL };
  if (vm->kind != TNODE_SEQ) {
    fail(k, vm, path, "expected a list");
    return;
  }
  struct tnode *seq = new_seq(k, vm, path);
  for (size_t i = 0; i < vm->n; i++) {
    char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
    const struct tnode *m = vm->items[i];
    index_path(p, path, i, NULL);
    if (!keys(k, m, p, allowed, "a volume mount"))
      continue;
    struct tnode *out = new_map(k, m, p);
    struct tnode *v;
    if ((v = tnode_get(m, "name")))
      put(k, out, "volume", v, (child_path(fp, p, "name", NULL), fp));
    if ((v = tnode_get(m, "mountPath")))
      put(k, out, "path", v, (child_path(fp, p, "mountPath", NULL), fp));
    if ((v = tnode_get(m, "readOnly")))
      put(k, out, "read_only", v, (child_path(fp, p, "readOnly", NULL), fp));
    tnode_append(seq, NULL, out);
  }
  put(k, ctr, "mounts", seq, path);
}

static void
convert_resources(struct conv *k, const struct tnode *res, const char *path, struct tnode *ctr)
{
  static const char *const allowed[] = { "limits", NULL };
  static const char *const limit_keys[] = { "memory", "cpu", NULL };
  if (!keys(k, res, path, allowed, "resources"))
    return;
  const struct tnode *lim = tnode_get(res, "limits");
  if (lim == NULL)
    return;
  char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
  child_path(p, path, "limits", NULL);
  if (!keys(k, lim, p, limit_keys, "limits"))
    return;
  struct tnode *out = new_map(k, lim, p);
  struct tnode *v;
  if ((v = tnode_get(lim, "memory")))
    put(k, out, "memory", v, (child_path(fp, p, "memory", NULL), fp));
  if ((v = tnode_get(lim, "cpu")))
    put(k, out, "cpu", v, (child_path(fp, p, "cpu", NULL), fp));
  put(k, ctr, "limits", out, p);
}

static void
convert_security(struct conv *k, const struct tnode *sc, const char *path, struct tnode *ctr)
{
  static const char *const allowed[] = { "runAsUser", "runAsGroup", NULL };
  if (!keys(k, sc, path, allowed, "a security context"))
    return;
  const struct tnode *uid = tnode_get(sc, "runAsUser"), *gid = tnode_get(sc, "runAsGroup");
  char up[SPEC_PATH_MAX], gp[SPEC_PATH_MAX];
  child_path(up, path, "runAsUser", NULL);
  child_path(gp, path, "runAsGroup", NULL);
  if (uid && uid->type != TNODE_INT) {
    fail(k, uid, up, "expected an integer user id");
    return;
  }
  if (gid && gid->type != TNODE_INT) {
    fail(k, gid, gp, "expected an integer group id");
    return;
  }
  if (gid && !uid) {
    fail(k, gid, gp, "runAsGroup needs runAsUser in Tank (the user is USER[:GROUP])");
    return;
  }
  if (!uid)
    return;
  char user[64];
  snprintf(user, sizeof user, "%.20s%s%.20s", uid->text, gid ? ":" : "", gid ? gid->text : "");
  put(k, ctr, "user", new_string(k, uid, up, user), up);
}

static struct tnode *
convert_container(struct conv *k, const struct tnode *in, const char *path)
{
  static const char *const allowed[]
      = { "name",         "image",     "command",         "args", "env", "workingDir", "tty",
          "volumeMounts", "resources", "securityContext", NULL };
  static const struct {
    const char *from, *to;
  } same[] = { { "name", "name" }, { "image", "image" }, { "command", "command" },
               { "args", "args" }, { "tty", "tty" },     { "workingDir", "working_dir" } };
  if (!keys(k, in, path, allowed, "a container"))
    return NULL;
  struct tnode *out = new_map(k, in, path);
  char p[SPEC_PATH_MAX];
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    struct tnode *v = tnode_get(in, same[i].from);
    if (v)
      put(k, out, same[i].to, v, (child_path(p, path, same[i].from, NULL), p));
  }
  const struct tnode *v;
  if ((v = tnode_get(in, "env")))
    convert_env(k, v, (child_path(p, path, "env", NULL), p), out);
  if ((v = tnode_get(in, "volumeMounts")))
    convert_mounts(k, v, (child_path(p, path, "volumeMounts", NULL), p), out);
  if ((v = tnode_get(in, "resources")))
    convert_resources(k, v, (child_path(p, path, "resources", NULL), p), out);
  if ((v = tnode_get(in, "securityContext")))
    convert_security(k, v, (child_path(p, path, "securityContext", NULL), p), out);
  return out;
}

static struct tnode *
convert_volume(struct conv *k, const struct tnode *in, const char *path)
{
  static const char *const allowed[] = { "name", "hostPath", "emptyDir", NULL };
  static const char *const host_keys[] = { "path", "type", NULL };
  static const char *const empty_keys[] = { NULL };
  if (!keys(k, in, path, allowed, "a volume"))
    return NULL;
  struct tnode *out = new_map(k, in, path);
  char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
  struct tnode *v;
  if ((v = tnode_get(in, "name")))
    put(k, out, "name", v, (child_path(p, path, "name", NULL), p));
  const struct tnode *hp = tnode_get(in, "hostPath"), *ed = tnode_get(in, "emptyDir");
  if (hp && ed) {
    fail(k, ed, (child_path(p, path, "emptyDir", NULL), p),
         "a volume has one source: hostPath or emptyDir, not both");
  } else if (hp) {
    child_path(p, path, "hostPath", NULL);
    if (keys(k, hp, p, host_keys, "a hostPath")) {
      const struct tnode *t = tnode_get(hp, "type");
      if (t
          && !(t->type == TNODE_STRING
               && (strcmp(t->text, "") == 0 || strcmp(t->text, "Directory") == 0)))
        fail(k, t, (child_path(fp, p, "type", NULL), fp),
             "only type Directory is supported (Tank binds an existing host directory)");
      if ((v = tnode_get(hp, "path")))
        put(k, out, "host", v, (child_path(fp, p, "path", NULL), fp));
      else
        fail(k, hp, (child_path(fp, p, "path", NULL), fp), "required field missing");
    }
  } else if (ed) {
    child_path(p, path, "emptyDir", NULL);
    if (ed->type != TNODE_NULL)
      keys(k, ed, p, empty_keys, "an emptyDir");
  } else {
    fail(k, in, path, "a volume needs a source: hostPath or emptyDir");
  }
  return out;
}

static bool
expect_string(struct conv *k, const struct tnode *map, const char *key, const char *want)
{
  const struct tnode *v = tnode_get(map, key);
  if (v && v->type == TNODE_STRING && strcmp(v->text, want) == 0)
    return true;
  char msg[128];
  snprintf(msg, sizeof msg, "Tank accepts Kubernetes manifests with %s: %s only", key, want);
  fail(k, v ? v : map, key, v ? msg : "required field missing");
  return false;
}

struct tnode *
spec_convert_k8s(struct vctx *c, struct tdoc *doc, const struct tnode *root)
{
  static const char *const top[] = { "apiVersion", "kind", "metadata", "spec", NULL };
  static const char *const meta_keys[] = { "name", NULL };
  static const char *const spec_keys[]
      = { "containers", "volumes", "restartPolicy", "hostNetwork", NULL };
  struct conv k = { c, doc, true };
  if (!keys(&k, root, "", top, "a Kubernetes Pod"))
    return NULL;
  expect_string(&k, root, "apiVersion", "v1");
  expect_string(&k, root, "kind", "Pod");

  struct tnode *out = tdoc_node(doc, TNODE_MAP, TNODE_MAPPING, root->line, root->col);
  const struct tnode *meta = tnode_get(root, "metadata"), *spec = tnode_get(root, "spec");
  struct tnode *v;
  if (meta == NULL) {
    fail(&k, root, "metadata", "required field missing");
  } else if (keys(&k, meta, "metadata", meta_keys, "metadata")) {
    if ((v = tnode_get(meta, "name")))
      put(&k, out, "name", v, "metadata.name");
    else
      fail(&k, meta, "metadata.name", "required field missing");
  }
  if (spec == NULL) {
    fail(&k, root, "spec", "required field missing");
    return NULL;
  }
  if (!keys(&k, spec, "spec", spec_keys, "a pod spec"))
    return NULL;

  if ((v = tnode_get(spec, "restartPolicy"))) {
    static const char *const map[][2]
        = { { "Always", "always" }, { "OnFailure", "on-failure" }, { "Never", "never" } };
    size_t i;
    for (i = 0; i < 3; i++)
      if (v->type == TNODE_STRING && strcmp(v->text, map[i][0]) == 0)
        break;
    if (i == 3)
      fail(&k, v, "spec.restartPolicy", "expected Always, OnFailure or Never");
    else
      put(&k, out, "restart", new_string(&k, v, "spec.restartPolicy", map[i][1]),
          "spec.restartPolicy");
  }
  if ((v = tnode_get(spec, "hostNetwork"))) {
    if (v->type != TNODE_BOOL)
      fail(&k, v, "spec.hostNetwork", "expected true or false");
    else if (v->boolean)
      put(&k, out, "network", new_string(&k, v, "spec.hostNetwork", "host"), "spec.hostNetwork");
  }
  if ((v = tnode_get(spec, "volumes"))) {
    if (v->kind != TNODE_SEQ) {
      fail(&k, v, "spec.volumes", "expected a list");
    } else {
      struct tnode *vols = new_seq(&k, v, "spec.volumes");
      for (size_t i = 0; i < v->n; i++) {
        char p[SPEC_PATH_MAX];
        index_path(p, "spec.volumes", i, NULL);
        struct tnode *vol = convert_volume(&k, v->items[i], p);
        if (vol)
          tnode_append(vols, NULL, vol);
      }
      put(&k, out, "volumes", vols, "spec.volumes");
    }
  }
  if ((v = tnode_get(spec, "containers"))) {
    if (v->kind != TNODE_SEQ) {
      fail(&k, v, "spec.containers", "expected a list");
    } else {
      struct tnode *ctrs = new_seq(&k, v, "spec.containers");
      for (size_t i = 0; i < v->n; i++) {
        char p[SPEC_PATH_MAX];
        index_path(p, "spec.containers", i, NULL);
        struct tnode *ctr = convert_container(&k, v->items[i], p);
        if (ctr)
          tnode_append(ctrs, NULL, ctr);
      }
      put(&k, out, "containers", ctrs, "spec.containers");
    }
  } else {
    fail(&k, spec, "spec.containers", "required field missing");
  }
  return k.ok ? out : NULL;
}
