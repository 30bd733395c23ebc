/* Image records (refs/<sha256 of name>.json), lookup, listing, removal and
 * garbage collection of what no record references. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "image/image.h"
#include "image/reference.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

#define RECORD_MAX_BYTES (1u << 20)
#define MAX_IMAGES       100000

int
image_canonical_name(const char *refstr, char **ret, tank_error **err)
{
  struct image_ref ref;
  int r = image_ref_parse(refstr, &ref, err);
  if (r < 0)
    return tank_error_wrap(err, "image `%.200s`", refstr);
  char *name = image_ref_format(&ref);
  image_ref_clear(&ref);
  if (name == NULL)
    return tank_error_set(err, ENOMEM, "format image name");
  *ret = name;
  return 0;
}

static void
record_file(const char *name, char out[80])
{
  char d[DIGEST_STRING_LEN];
  digest_buffer(name, strlen(name), d);
  snprintf(out, 80, "%s.json", digest_hex(d));
}

void
image_record_clear(struct image_record *r)
{
  free(r->name);
  free(r->manifest_digest);
  free(r->config_digest);
  for (size_t i = 0; i < r->n_layers; i++) {
    free(r->layers[i].digest);
    free(r->layers[i].diff_id);
    free(r->layers[i].media_type);
  }
  free(r->layers);
  free(r->created);
  free(r->rootfs_path);
  memset(r, 0, sizeof *r);
}

void
image_records_free(struct image_record *r, size_t n)
{
  for (size_t i = 0; i < n; i++)
    image_record_clear(&r[i]);
  free(r);
}

int
image_record_write(struct image_store *s, const struct image_record *r, tank_error **err)
{
  json_t *layers = json_array();
  for (size_t i = 0; i < r->n_layers; i++)
    json_array_append_new(layers, json_pack("{s:s, s:s, s:s?, s:I}", "digest", r->layers[i].digest,
                                            "diff_id", r->layers[i].diff_id, "mediaType",
                                            r->layers[i].media_type, "size",
                                            (json_int_t)r->layers[i].size));
  json_t *j = json_pack("{s:s, s:s?, s:s?, s:o, s:I, s:s?, s:I, s:s?}", "name", r->name, "manifest",
                        r->manifest_digest, "config", r->config_digest, "layers", layers, "size",
                        (json_int_t)r->size, "created", r->created, "pulled",
                        (json_int_t)r->pulled_at, "rootfs", r->rootfs_path);
  _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text == NULL)
    return tank_error_set(err, ENOMEM, "encode image record");
  char file[80], tmp[96];
  record_file(r->name, file);
  snprintf(tmp, sizeof tmp, ".%s.%d", file, (int)getpid());
  _cleanup_close_ int fd
      = openat(s->refs_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return tank_error_set(err, errno, "write image record of %s", r->name);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len || fdatasync(fd) < 0
      || renameat(s->refs_fd, tmp, s->refs_fd, file) < 0) {
    int e = errno ? errno : EIO;
    unlinkat(s->refs_fd, tmp, 0);
    return tank_error_set(err, e, "write image record of %s", r->name);
  }
  return 0;
}

static char *
jstr(json_t *o, const char *k)
{
  const char *v = json_string_value(json_object_get(o, k));
  return v ? strdup(v) : NULL;
}

static int
parse_record(const char *buf, size_t len, struct image_record *ret, tank_error **err)
{
  json_t *j = json_loadb(buf, len, 0, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return tank_error_set(err, EBADMSG, "image record is not JSON");
  }
  struct image_record r = { 0 };
  r.name = jstr(j, "name");
  r.manifest_digest = jstr(j, "manifest");
  r.config_digest = jstr(j, "config");
  r.created = jstr(j, "created");
  r.rootfs_path = jstr(j, "rootfs");
  r.size = json_integer_value(json_object_get(j, "size"));
  r.pulled_at = json_integer_value(json_object_get(j, "pulled"));
  json_t *layers = json_object_get(j, "layers");
  size_t n = json_array_size(layers);
  r.layers = calloc(n ? n : 1, sizeof *r.layers);
  int rc = 0;
  if (r.name == NULL || r.layers == NULL || n > MANIFEST_MAX_LAYERS)
    rc = tank_error_set(err, EBADMSG, "image record is incomplete");
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *l = json_array_get(layers, i);
    struct image_layer *il = &r.layers[r.n_layers++];
    il->digest = jstr(l, "digest");
    il->diff_id = jstr(l, "diff_id");
    il->media_type = jstr(l, "mediaType");
    il->size = json_integer_value(json_object_get(l, "size"));
    if (!digest_is_sha256(il->digest) || !digest_is_sha256(il->diff_id))
      rc = tank_error_set(err, EBADMSG, "image record: layer %zu has bad digests", i);
  }
  json_decref(j);
  if (rc < 0) {
    image_record_clear(&r);
    return rc;
  }
  *ret = r;
  return 0;
}

static int
read_record_file(struct image_store *s, const char *file, struct image_record *ret,
                 tank_error **err)
{
  _cleanup_close_ int fd = openat(s->refs_fd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return tank_error_set(err, errno, "image record `%s`", file);
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_fd_limited(fd, RECORD_MAX_BYTES, &buf, &len, err);
  if (r < 0)
    return r;
  return parse_record(buf, len, ret, err);
}

int
image_record_read(struct image_store *s, const char *name, struct image_record *ret,
                  tank_error **err)
{
  char file[80];
  record_file(name, file);
  tank_error *e = NULL;
  int r = read_record_file(s, file, ret, &e);
  if (r < 0 && e->errnum == ENOENT) {
    tank_error_free(e);
    return tank_error_set(err, ENOENT, "image %s is not in the cache", name);
  }
  if (r < 0)
    *err = e;
  return r;
}

int
image_list(struct image_store *s, struct image_record **ret, size_t *ret_n, tank_error **err)
{
  int fd = openat(s->refs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tank_error_set(err, errno, "list images");
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return tank_error_set(err, errno, "list images");
  }
  struct image_record *v = NULL;
  size_t n = 0;
  struct dirent *de;
  int r = 0;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
      continue;
    if (n >= MAX_IMAGES) {
      r = tank_error_set(err, E2BIG, "more than %d images", MAX_IMAGES);
      break;
    }
    struct image_record rec;
    tank_error *e = NULL;
    if (read_record_file(s, de->d_name, &rec, &e) < 0) {
      tank_error_free(e); /* removed meanwhile, or damaged: not an image */
      continue;
    }
    struct image_record *nv = realloc(v, (n + 1) * sizeof *nv);
    if (nv == NULL) {
      image_record_clear(&rec);
      r = tank_error_set(err, ENOMEM, "list images");
      break;
    }
    v = nv;
    v[n++] = rec;
  }
  closedir(d);
  if (r < 0) {
    image_records_free(v, n);
    return r;
  }
  *ret = v;
  *ret_n = n;
  return 0;
}

struct image *
image_free(struct image *img)
{
  if (img) {
    image_record_clear(&img->record);
    image_config_clear(&img->config);
    strv_free(img->lower_dirs);
    free(img);
  }
  return NULL;
}

void
image_freep(struct image **img)
{
  image_free(*img);
}

/* A record for a digest reference may have been stored under a tag. */
static int
find_by_digest(struct image_store *s, const char *name, struct image_record *ret)
{
  const char *at = strchr(name, '@');
  if (at == NULL)
    return -ENOENT;
  struct image_record *v;
  size_t n;
  tank_error *e = NULL;
  if (image_list(s, &v, &n, &e) < 0) {
    tank_error_free(e);
    return -ENOENT;
  }
  int r = -ENOENT;
  for (size_t i = 0; i < n; i++)
    if (v[i].manifest_digest && strcmp(v[i].manifest_digest, at + 1) == 0
        && strncmp(v[i].name, name, (size_t)(at - name)) == 0) {
      *ret = v[i];
      memset(&v[i], 0, sizeof v[i]);
      r = 0;
      break;
    }
  image_records_free(v, n);
  return r;
}

int
image_lookup(struct image_store *s, const char *refstr, struct image **ret, tank_error **err)
{
  _cleanup_free_ char *name = NULL;
  int r = image_canonical_name(refstr, &name, err);
  if (r < 0)
    return r;
  _cleanup_image_ struct image *img = calloc(1, sizeof *img);
  if (img == NULL)
    return tank_error_set(err, ENOMEM, "image");
  tank_error *e = NULL;
  if (image_record_read(s, name, &img->record, &e) < 0) {
    if (e->errnum != ENOENT || find_by_digest(s, name, &img->record) < 0) {
      *err = e;
      return tank_error_code(e);
    }
    tank_error_free(e);
  }
  struct image_record *rec = &img->record;
  if (rec->rootfs_path) {
    if (strv_push(&img->lower_dirs, strdup(rec->rootfs_path)) < 0)
      return tank_error_set(err, ENOMEM, "lower dirs");
    *ret = steal_pointer(&img);
    return 0;
  }
  _cleanup_free_ char *buf = NULL;
  size_t len;
  if ((r = store_read_blob(s, rec->config_digest, CONFIG_MAX_BYTES, &buf, &len, err)) < 0
      || (r = image_config_parse(buf, len, &img->config, err)) < 0)
    return tank_error_wrap(err, "image %s: config %s", name, rec->config_digest);
  img->lower_dirs = calloc(rec->n_layers + 1, sizeof *img->lower_dirs);
  if (img->lower_dirs == NULL)
    return tank_error_set(err, ENOMEM, "lower dirs");
  /* Topmost first. A layer repeated in the stack (empty layers often are) is
   * kept only at its topmost place: overlayfs refuses a lower dir twice, and the
   * copy on top already decides every path the lower copy holds. */
  size_t n = 0;
  for (size_t i = rec->n_layers; i-- > 0;) {
    const char *diff_id = rec->layers[i].diff_id;
    if (!store_has_layer(s, diff_id))
      return tank_error_set(err, ENOENT, "image %s: layer %s is missing from the cache", name,
                            diff_id);
    bool seen = false;
    for (size_t k = i + 1; k < rec->n_layers && !seen; k++)
      seen = strcmp(rec->layers[k].diff_id, diff_id) == 0;
    if (seen)
      continue;
    if ((img->lower_dirs[n++] = store_layer_path(s, diff_id)) == NULL)
      return tank_error_set(err, ENOMEM, "lower dirs");
  }
  *ret = steal_pointer(&img);
  return 0;
}

/* Sorted set of hex strings. */
struct hexset {
  char **v;
  size_t n;
};

static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
hexset_add(struct hexset *h, const char *digest)
{
  if (!digest_is_sha256(digest))
    return 0;
  char **nv = realloc(h->v, (h->n + 1) * sizeof *nv);
  if (nv == NULL)
    return -ENOMEM;
  h->v = nv;
  if ((h->v[h->n] = strdup(digest_hex(digest))) == NULL)
    return -ENOMEM;
  h->n++;
  return 0;
}

static bool
hexset_has(const struct hexset *h, const char *hex)
{
  return h->n && bsearch(&hex, h->v, h->n, sizeof *h->v, cmp_str) != NULL;
}

static void
hexset_clear(struct hexset *h)
{
  for (size_t i = 0; i < h->n; i++)
    free(h->v[i]);
  free(h->v);
}

static uint64_t
tree_bytes(int dir_fd, const char *name)
{
  struct stat st;
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  uint64_t total = (uint64_t)st.st_blocks * 512;
  if (!S_ISDIR(st.st_mode))
    return total;
  int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return total;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return total;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      total += tree_bytes(dirfd(d), de->d_name);
  closedir(d);
  return total;
}

/* Removes every entry of dir not in keep (keep NULL: everything). */
static int
sweep(int dir, const struct hexset *keep, uint64_t *bytes, const char *what, tank_error **err)
{
  int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return tank_error_set(err, errno, "list %s", what);
  }
  struct dirent *de;
  int r = 0;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (keep && hexset_has(keep, de->d_name))
      continue;
    uint64_t b = tree_bytes(dir, de->d_name);
    int rr = remove_tree_at(dir, de->d_name);
    if (rr < 0) {
      r = tank_error_set(err, -rr, "remove %s `%s`", what, de->d_name);
      break;
    }
    *bytes += b;
  }
  closedir(d);
  return r;
}

int
image_prune(struct image_store *s, uint64_t *ret_reclaimed_bytes, tank_error **err)
{
  _cleanup_close_ int lock = -EBADF;
  int r = store_gc_lock(s, /* exclusive= */ true, &lock, err);
  if (r < 0)
    return r;
  struct image_record *v;
  size_t n;
  if ((r = image_list(s, &v, &n, err)) < 0)
    return r;
  struct hexset blobs = { 0 }, layers = { 0 };
  for (size_t i = 0; i < n && r == 0; i++) {
    if (hexset_add(&blobs, v[i].manifest_digest) < 0 || hexset_add(&blobs, v[i].config_digest) < 0)
      r = -ENOMEM;
    for (size_t k = 0; k < v[i].n_layers && r == 0; k++)
      if (hexset_add(&blobs, v[i].layers[k].digest) < 0
          || hexset_add(&layers, v[i].layers[k].diff_id) < 0)
        r = -ENOMEM;
  }
  image_records_free(v, n);
  uint64_t bytes = 0;
  if (r < 0)
    tank_error_set(err, ENOMEM, "prune");
  else {
    if (blobs.n > 0)
      qsort(blobs.v, blobs.n, sizeof *blobs.v, cmp_str);
    if (layers.n > 0)
      qsort(layers.v, layers.n, sizeof *layers.v, cmp_str);
    /* Nobody pulls while we hold gc.lock: temporary files and locks are stale. */
    if ((r = sweep(s->blobs_fd, &blobs, &bytes, "blob", err)) == 0
        && (r = sweep(s->layers_fd, &layers, &bytes, "layer", err)) == 0
        && (r = sweep(s->tmp_fd, NULL, &bytes, "temporary file", err)) == 0)
      r = sweep(s->locks_fd, NULL, &bytes, "lock file", err);
  }
  hexset_clear(&blobs);
  hexset_clear(&layers);
  if (r < 0)
    return r;
  if (ret_reclaimed_bytes)
    *ret_reclaimed_bytes = bytes;
  return 0;
}

int
image_remove(struct image_store *s, const char *refstr, uint64_t *ret_reclaimed_bytes,
             tank_error **err)
{
  _cleanup_free_ char *name = NULL;
  int r = image_canonical_name(refstr, &name, err);
  if (r < 0)
    return r;
  struct image_record rec;
  tank_error *e = NULL;
  if (image_record_read(s, name, &rec, &e) < 0) {
    if (e->errnum != ENOENT || find_by_digest(s, name, &rec) < 0) {
      *err = e;
      return tank_error_code(e);
    }
    tank_error_free(e);
  }
  char file[80];
  record_file(rec.name, file);
  image_record_clear(&rec);
  if (unlinkat(s->refs_fd, file, 0) < 0)
    return tank_error_set(err, errno, "remove image %s", name);
  return image_prune(s, ret_reclaimed_bytes, err);
}
