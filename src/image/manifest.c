/* Parsing of manifests, indexes and image configs with jansson. */
#include "image/manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "image/digest.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static int
load_json(const char *buf, size_t len, size_t max, const char *what, json_t **ret, tank_error **err)
{
  if (len > max)
    return tank_error_set(err, EFBIG, "%s is %zu bytes, over the limit of %zu", what, len, max);
  json_error_t je;
  json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL)
    return tank_error_set(err, 0, "%s is not valid JSON: line %d: %s", what, je.line, je.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return tank_error_set(err, 0, "%s is not a JSON object", what);
  }
  *ret = j;
  return 0;
}

/* Optional string member; a present non-string is an error. */
static int
get_string(json_t *o, const char *key, char **ret, tank_error **err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return tank_error_set(err, 0, "`%s` is not a string", key);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return tank_error_set(err, 0, "`%s` contains a NUL byte", key);
  char *s = strdup(json_string_value(v));
  if (s == NULL)
    return tank_error_set(err, ENOMEM, "copy `%s`", key);
  free(*ret);
  *ret = s;
  return 0;
}

static void
descriptor_clear(struct oci_descriptor *d)
{
  free(d->media_type);
  free(d->digest);
  free(d->os);
  free(d->architecture);
  free(d->variant);
  memset(d, 0, sizeof *d);
}

static int
parse_descriptor(json_t *o, bool platform, struct oci_descriptor *d, tank_error **err)
{
  if (!json_is_object(o))
    return tank_error_set(err, 0, "descriptor is not an object");
  int r;
  if ((r = get_string(o, "mediaType", &d->media_type, err)) < 0
      || (r = get_string(o, "digest", &d->digest, err)) < 0)
    return r;
  if ((r = digest_check(d->digest, err)) < 0)
    return r;
  json_t *size = json_object_get(o, "size");
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return tank_error_set(err, 0, "descriptor %s has no valid `size`", d->digest);
  d->size = json_integer_value(size);
  if (platform) {
    json_t *p = json_object_get(o, "platform");
    if (p && json_is_object(p)) {
      if ((r = get_string(p, "os", &d->os, err)) < 0
          || (r = get_string(p, "architecture", &d->architecture, err)) < 0
          || (r = get_string(p, "variant", &d->variant, err)) < 0)
        return tank_error_wrap(err, "platform of %s", d->digest);
    }
  }
  return 0;
}

static int
parse_descriptors(json_t *arr, const char *key, size_t max, bool platform,
                  struct oci_descriptor **ret, size_t *ret_n, tank_error **err)
{
  if (!json_is_array(arr))
    return tank_error_set(err, 0, "`%s` is not an array", key);
  size_t n = json_array_size(arr);
  if (n > max)
    return tank_error_set(err, E2BIG, "`%s` has %zu entries, over the limit of %zu", key, n, max);
  struct oci_descriptor *d = calloc(n ? n : 1, sizeof *d);
  if (d == NULL)
    return tank_error_set(err, ENOMEM, "allocate `%s`", key);
  *ret = d;
  *ret_n = n;
  for (size_t i = 0; i < n; i++) {
    int r = parse_descriptor(json_array_get(arr, i), platform, &d[i], err);
    if (r < 0)
      return tank_error_wrap(err, "%s[%zu]", key, i);
  }
  return 0;
}

int
oci_manifest_parse(const char *buf, size_t len, const char *content_type, struct oci_manifest *ret,
                   tank_error **err)
{
  _cleanup_json_ json_t *j = NULL;
  int r = load_json(buf, len, MANIFEST_MAX_BYTES, "manifest", &j, err);
  if (r < 0)
    return r;
  json_t *sv = json_object_get(j, "schemaVersion");
  if (json_is_integer(sv) && json_integer_value(sv) == 1)
    return tank_error_set(err, ENOTSUP,
                          "manifest is Docker schema 1, which Tank does not support "
                          "(push the image again with a current tool)");
  if (!json_is_integer(sv) || json_integer_value(sv) != 2)
    return tank_error_set(err, 0, "manifest has no schemaVersion 2");

  _cleanup_free_ char *media_type = NULL;
  if ((r = get_string(j, "mediaType", &media_type, err)) < 0)
    return tank_error_wrap(err, "manifest");
  const char *mt = media_type ? media_type : content_type;

  struct oci_manifest m = { 0 };
  json_t *manifests = json_object_get(j, "manifests");
  json_t *layers = json_object_get(j, "layers");
  bool is_index;
  if (mt && (strcmp(mt, MEDIA_OCI_INDEX) == 0 || strcmp(mt, MEDIA_DOCKER_LIST) == 0))
    is_index = true;
  else if (mt && (strcmp(mt, MEDIA_OCI_MANIFEST) == 0 || strcmp(mt, MEDIA_DOCKER_MANIFEST) == 0))
    is_index = false;
  else if (manifests && !layers)
    is_index = true;
  else if (layers && !manifests)
    is_index = false;
  else
    return tank_error_set(err, ENOTSUP, "manifest has unsupported media type `%.100s`",
                          mt ? mt : "(none)");

  if (is_index) {
    m.kind = MANIFEST_INDEX;
    r = parse_descriptors(manifests, "manifests", INDEX_MAX_MANIFESTS, true, &m.manifests,
                          &m.n_manifests, err);
  } else {
    m.kind = MANIFEST_IMAGE;
    json_t *config = json_object_get(j, "config");
    if (config == NULL)
      r = tank_error_set(err, 0, "manifest has no `config`");
    else if ((r = parse_descriptor(config, false, &m.config, err)) < 0)
      tank_error_wrap(err, "config");
    else
      r = parse_descriptors(layers, "layers", MANIFEST_MAX_LAYERS, false, &m.layers, &m.n_layers,
                            err);
  }
  if (r < 0) {
    oci_manifest_clear(&m);
    return tank_error_wrap(err, "manifest");
  }
  *ret = m;
  return 0;
}

void
oci_manifest_clear(struct oci_manifest *m)
{
  descriptor_clear(&m->config);
  for (size_t i = 0; i < m->n_layers; i++)
    descriptor_clear(&m->layers[i]);
  free(m->layers);
  for (size_t i = 0; i < m->n_manifests; i++)
    descriptor_clear(&m->manifests[i]);
  free(m->manifests);
  memset(m, 0, sizeof *m);
}

void
oci_platform_host(struct oci_platform *ret)
{
  static __thread struct utsname u; /* pulls may run on several threads */
  uname(&u);
  ret->os = "linux";
  ret->variant = NULL;
  const char *m = u.machine;
  if (strcmp(m, "x86_64") == 0)
    ret->architecture = "amd64";
  else if (strcmp(m, "aarch64") == 0) {
    ret->architecture = "arm64";
    ret->variant = "v8";
  } else if (strncmp(m, "armv7", 5) == 0) {
    ret->architecture = "arm";
    ret->variant = "v7";
  } else if (strncmp(m, "armv6", 5) == 0) {
    ret->architecture = "arm";
    ret->variant = "v6";
  } else if (strcmp(m, "i686") == 0 || strcmp(m, "i386") == 0)
    ret->architecture = "386";
  else if (strcmp(m, "ppc64le") == 0 || strcmp(m, "s390x") == 0 || strcmp(m, "riscv64") == 0)
    ret->architecture = m;
  else
    ret->architecture = m;
}

int
oci_index_select(const struct oci_manifest *index, const struct oci_platform *p,
                 const struct oci_descriptor **ret, tank_error **err)
{
  const struct oci_descriptor *found = NULL;
  for (size_t i = 0; i < index->n_manifests; i++) {
    const struct oci_descriptor *d = &index->manifests[i];
    if (!d->os || !d->architecture || strcmp(d->os, p->os) != 0
        || strcmp(d->architecture, p->architecture) != 0)
      continue;
    if (p->variant && d->variant && strcmp(p->variant, d->variant) != 0)
      continue;
    /* An exact variant match beats an entry without one. */
    if (found == NULL || (p->variant && d->variant && !found->variant))
      found = d;
  }
  if (found) {
    *ret = found;
    return 0;
  }
  char offered[512] = "";
  size_t off = 0;
  for (size_t i = 0; i < index->n_manifests && off < sizeof offered - 64; i++) {
    const struct oci_descriptor *d = &index->manifests[i];
    int w = snprintf(offered + off, sizeof offered - off, "%s%.20s/%.20s%s%.10s", off ? ", " : "",
                     d->os ? d->os : "?", d->architecture ? d->architecture : "?",
                     d->variant ? "/" : "", d->variant ? d->variant : "");
    if (w > 0)
      off += (size_t)w;
  }
  return tank_error_set(err, ENOENT, "image index has no manifest for %s/%s%s%s (it offers: %s)",
                        p->os, p->architecture, p->variant ? "/" : "", p->variant ? p->variant : "",
                        off ? offered : "nothing");
}

bool
oci_layer_media_supported(const char *mt)
{
  static const char *const ok[] = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
  };
  if (mt == NULL)
    return false;
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
    if (strcmp(mt, ok[i]) == 0)
      return true;
  return false;
}

static int
get_strv(json_t *o, const char *key, char ***ret, tank_error **err)
{
  json_t *a = json_object_get(o, key);
  if (a == NULL || json_is_null(a))
    return 0;
  if (!json_is_array(a))
    return tank_error_set(err, 0, "`%s` is not an array of strings", key);
  _cleanup_strv_free_ char **v = calloc(1, sizeof *v);
  if (v == NULL)
    return tank_error_set(err, ENOMEM, "allocate `%s`", key);
  size_t i;
  json_t *e;
  json_array_foreach(a, i, e)
  {
    if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
      return tank_error_set(err, 0, "`%s[%zu]` is not a string", key, i);
    if (strv_push(&v, strdup(json_string_value(e))) < 0)
      return tank_error_set(err, ENOMEM, "copy `%s`", key);
  }
  strv_free(*ret);
  *ret = steal_pointer(&v);
  return 0;
}

/* {"8080/tcp": {}} → ["8080/tcp"]; keys only. */
static int
get_keys(json_t *o, const char *key, char ***ret_keys, char ***ret_values, tank_error **err)
{
  json_t *m = json_object_get(o, key);
  if (m == NULL || json_is_null(m))
    return 0;
  if (!json_is_object(m))
    return tank_error_set(err, 0, "`%s` is not an object", key);
  _cleanup_strv_free_ char **keys = calloc(1, sizeof *keys);
  _cleanup_strv_free_ char **values = calloc(1, sizeof *values);
  if (keys == NULL || values == NULL)
    return tank_error_set(err, ENOMEM, "allocate `%s`", key);
  const char *k;
  json_t *v;
  json_object_foreach(m, k, v)
  {
    if (strv_push(&keys, strdup(k)) < 0)
      return tank_error_set(err, ENOMEM, "copy `%s`", key);
    if (ret_values) {
      if (!json_is_string(v))
        return tank_error_set(err, 0, "`%s.%.100s` is not a string", key, k);
      if (strv_push(&values, strdup(json_string_value(v))) < 0)
        return tank_error_set(err, ENOMEM, "copy `%s`", key);
    }
  }
  strv_free(*ret_keys);
  *ret_keys = steal_pointer(&keys);
  if (ret_values) {
    strv_free(*ret_values);
    *ret_values = steal_pointer(&values);
  }
  return 0;
}

static int
parse_config(json_t *j, struct image_config *c, tank_error **err)
{
  int r;
  if ((r = get_string(j, "architecture", &c->architecture, err)) < 0
      || (r = get_string(j, "os", &c->os, err)) < 0
      || (r = get_string(j, "variant", &c->variant, err)) < 0
      || (r = get_string(j, "created", &c->created, err)) < 0
      || (r = get_string(j, "author", &c->author, err)) < 0)
    return r;
  json_t *cfg = json_object_get(j, "config");
  if (cfg && !json_is_null(cfg)) {
    if (!json_is_object(cfg))
      return tank_error_set(err, 0, "`config` is not an object");
    if ((r = get_strv(cfg, "Entrypoint", &c->entrypoint, err)) < 0
        || (r = get_strv(cfg, "Cmd", &c->cmd, err)) < 0
        || (r = get_strv(cfg, "Env", &c->env, err)) < 0
        || (r = get_string(cfg, "WorkingDir", &c->working_dir, err)) < 0
        || (r = get_string(cfg, "User", &c->user, err)) < 0
        || (r = get_string(cfg, "StopSignal", &c->stop_signal, err)) < 0
        || (r = get_keys(cfg, "ExposedPorts", &c->exposed_ports, NULL, err)) < 0
        || (r = get_keys(cfg, "Volumes", &c->volumes, NULL, err)) < 0
        || (r = get_keys(cfg, "Labels", &c->label_keys, &c->label_values, err)) < 0)
      return tank_error_wrap(err, "config");
  }
  json_t *rootfs = json_object_get(j, "rootfs");
  if (rootfs == NULL)
    return tank_error_set(err, 0, "image config has no `rootfs`");
  if (!json_is_object(rootfs))
    return tank_error_set(err, 0, "`rootfs` is not an object");
  if ((r = get_strv(rootfs, "diff_ids", &c->diff_ids, err)) < 0)
    return tank_error_wrap(err, "rootfs");
  c->n_diff_ids = strv_length(c->diff_ids);
  if (c->n_diff_ids > MANIFEST_MAX_LAYERS)
    return tank_error_set(err, E2BIG, "rootfs has %zu diff_ids, over the limit of %d",
                          c->n_diff_ids, MANIFEST_MAX_LAYERS);
  for (size_t i = 0; i < c->n_diff_ids; i++)
    if ((r = digest_check(c->diff_ids[i], err)) < 0)
      return tank_error_wrap(err, "rootfs.diff_ids[%zu]", i);
  return 0;
}

int
image_config_parse(const char *buf, size_t len, struct image_config *ret, tank_error **err)
{
  _cleanup_json_ json_t *j = NULL;
  int r = load_json(buf, len, CONFIG_MAX_BYTES, "image config", &j, err);
  if (r < 0)
    return r;
  struct image_config c = { 0 };
  r = parse_config(j, &c, err);
  if (r < 0) {
    image_config_clear(&c);
    return tank_error_wrap(err, "image config");
  }
  *ret = c;
  return 0;
}

void
image_config_clear(struct image_config *c)
{
  free(c->architecture);
  free(c->os);
  free(c->variant);
  free(c->created);
  free(c->author);
  strv_free(c->entrypoint);
  strv_free(c->cmd);
  strv_free(c->env);
  free(c->working_dir);
  free(c->user);
  free(c->stop_signal);
  strv_free(c->exposed_ports);
  strv_free(c->volumes);
  strv_free(c->label_keys);
  strv_free(c->label_values);
  strv_free(c->diff_ids);
  memset(c, 0, sizeof *c);
}
