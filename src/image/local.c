/* Local image sources: an OCI image layout directory (oci:DIR[:TAG]), an OCI
 * layout in a tar (oci-archive:FILE[:TAG]) and a `docker save` tar
 * (docker-archive:FILE). Archives are unpacked into a private temporary dir,
 * accepting only plain files with the simple names those formats use. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "image/source.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define INDEX_MAX_BYTES     (4u << 20)
#define COPY_BLOCK          (256u << 10)
#define ARCHIVE_MAX_ENTRIES 100000

struct file_blob {
  char digest[DIGEST_STRING_LEN];
  char *path; /* relative to dir_fd */
};

struct local_source {
  struct image_source base;
  int dir_fd;
  char *tag;
  char *tmp_path; /* removed on free (archives) */
  /* docker-archive: a synthesised manifest and where each blob lives */
  char *manifest;
  struct file_blob *files;
  size_t n_files;
};

static int
open_in(int dir_fd, const char *path, tank_error **err)
{
  struct open_how how
      = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
  int fd = (int)syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
  if (fd < 0)
    return tank_error_set(err, errno, "open `%s`", path);
  return fd;
}

static int
read_in(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_len, tank_error **err)
{
  _cleanup_close_ int fd = open_in(dir_fd, path, err);
  if (fd < 0)
    return fd;
  return read_fd_limited(fd, max, ret, ret_len, err);
}

static const char *
blob_path_of(struct local_source *l, const char *digest, char *buf, size_t size)
{
  for (size_t i = 0; i < l->n_files; i++)
    if (strcmp(l->files[i].digest, digest) == 0)
      return l->files[i].path;
  snprintf(buf, size, "blobs/sha256/%s", digest_hex(digest));
  return buf;
}

static int
find_tagged(struct local_source *l, char **ret_digest, char **ret_media_type, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_in(l->dir_fd, "index.json", INDEX_MAX_BYTES, &buf, &len, err);
  if (r < 0)
    return tank_error_wrap(err, "OCI layout");
  json_t *j = json_loadb(buf, len, 0, NULL);
  json_t *ms = json_object_get(j, "manifests");
  if (!json_is_array(ms)) {
    json_decref(j);
    return tank_error_set(err, 0, "OCI layout: index.json has no `manifests`");
  }
  json_t *found = NULL;
  size_t i, n = json_array_size(ms);
  json_t *m;
  json_array_foreach(ms, i, m)
  {
    const char *name = json_string_value(
        json_object_get(json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
    if (l->tag ? (name && strcmp(name, l->tag) == 0) : n == 1)
      found = m;
  }
  const char *d = json_string_value(json_object_get(found, "digest"));
  const char *mt = json_string_value(json_object_get(found, "mediaType"));
  if (found == NULL || d == NULL || !digest_is_sha256(d)) {
    json_decref(j);
    if (l->tag)
      return tank_error_set(err, ENOENT, "OCI layout has no image tagged `%s`", l->tag);
    return tank_error_set(err, ENOENT, "OCI layout holds %zu images: name one with :TAG", n);
  }
  *ret_digest = strdup(d);
  *ret_media_type = mt ? strdup(mt) : NULL;
  json_decref(j);
  return 0;
}

static int
local_get_manifest(struct image_source *src, const char *digest, char **ret_buf, size_t *ret_len,
                   char **ret_content_type, tank_error **err)
{
  struct local_source *l = (struct local_source *)src;
  if (digest == NULL && l->manifest) {
    *ret_buf = strdup(l->manifest);
    *ret_len = strlen(l->manifest);
    *ret_content_type = strdup(MEDIA_OCI_MANIFEST);
    return 0;
  }
  _cleanup_free_ char *tagged = NULL, *mt = NULL;
  if (digest == NULL) {
    int r = find_tagged(l, &tagged, &mt, err);
    if (r < 0)
      return r;
    digest = tagged;
  }
  if (!digest_is_sha256(digest))
    return tank_error_set(err, EINVAL, "manifest digest `%.80s` is not sha256", digest);
  char pbuf[128];
  const char *path = blob_path_of(l, digest, pbuf, sizeof pbuf);
  int r = read_in(l->dir_fd, path, MANIFEST_MAX_BYTES, ret_buf, ret_len, err);
  if (r < 0)
    return tank_error_wrap(err, "manifest %s", digest);
  *ret_content_type = steal_pointer(&mt);
  return 0;
}

static int
local_get_blob(struct image_source *src, const struct oci_descriptor *d, blob_writer *w,
               tank_error **err)
{
  struct local_source *l = (struct local_source *)src;
  char pbuf[128];
  _cleanup_close_ int fd = open_in(l->dir_fd, blob_path_of(l, d->digest, pbuf, sizeof pbuf), err);
  if (fd < 0)
    return tank_error_wrap(err, "blob %s", d->digest);
  _cleanup_free_ char *buf = malloc(COPY_BLOCK);
  if (buf == NULL)
    return tank_error_set(err, ENOMEM, "copy buffer");
  for (;;) {
    ssize_t n = read(fd, buf, COPY_BLOCK);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return tank_error_set(err, errno, "read blob %s", d->digest);
    }
    if (n == 0)
      return 0;
    int r = blob_writer_write(w, buf, (size_t)n, err);
    if (r < 0)
      return r;
  }
}

static void
local_free(struct image_source *src)
{
  struct local_source *l = (struct local_source *)src;
  if (l->tmp_path) {
    char *slash = strrchr(l->tmp_path, '/');
    int parent = -1;
    if (slash) {
      *slash = '\0';
      parent = open(l->tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (parent >= 0) {
        remove_tree_at(parent, slash + 1);
        close(parent);
      }
    }
  }
  if (l->dir_fd >= 0)
    close(l->dir_fd);
  for (size_t i = 0; i < l->n_files; i++)
    free(l->files[i].path);
  free(l->files);
  free(l->manifest);
  free(l->tag);
  free(l->tmp_path);
  free(l);
}

static const struct image_source_ops local_ops = {
  .get_manifest = local_get_manifest,
  .get_blob = local_get_blob,
  .free = local_free,
};

static struct local_source *
local_new(const char *tag)
{
  struct local_source *l = calloc(1, sizeof *l);
  if (l == NULL)
    return NULL;
  l->base.ops = &local_ops;
  l->dir_fd = -EBADF;
  if (tag && (l->tag = strdup(tag)) == NULL) {
    free(l);
    return NULL;
  }
  return l;
}

int
oci_dir_source_new(const char *dir, const char *tag, struct image_source **ret, tank_error **err)
{
  struct local_source *l = local_new(tag);
  if (l == NULL)
    return tank_error_set(err, ENOMEM, "OCI layout source");
  l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (l->dir_fd < 0) {
    int e = errno;
    local_free(&l->base);
    return tank_error_set(err, e, "open OCI layout `%s`", dir);
  }
  *ret = &l->base;
  return 0;
}

/* Names as the formats write them: up to 3 components of [A-Za-z0-9._:+-]. */
static bool
simple_name(const char *name)
{
  if (strncmp(name, "./", 2) == 0)
    name += 2;
  int comps = 0;
  const char *p = name;
  while (*p) {
    const char *s = p;
    while (*p && *p != '/') {
      if (!isalnum((unsigned char)*p) && !strchr("._:+-", *p))
        return false;
      p++;
    }
    size_t n = (size_t)(p - s);
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return false;
    if (++comps > 3)
      return false;
    if (*p == '/')
      p++;
  }
  return comps > 0;
}

static int
extract_simple(const char *file, int dir_fd, tank_error **err)
{
  struct archive *a = archive_read_new();
  if (a == NULL)
    return tank_error_set(err, ENOMEM, "archive reader");
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  int r = 0;
  if (archive_read_open_filename(a, file, COPY_BLOCK) != ARCHIVE_OK) {
    r = tank_error_set(err, archive_errno(a) > 0 ? archive_errno(a) : EIO, "open `%s`: %s", file,
                       archive_error_string(a));
    goto out;
  }
  struct archive_entry *e;
  size_t entries = 0;
  int h;
  while ((h = archive_read_next_header(a, &e)) == ARCHIVE_OK || h == ARCHIVE_WARN) {
    const char *name = archive_entry_pathname(e);
    if (++entries > ARCHIVE_MAX_ENTRIES) {
      r = tank_error_set(err, E2BIG, "`%s` has too many entries", file);
      goto out;
    }
    if (name == NULL || archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)
        || !simple_name(name))
      continue; /* directories are made on demand; anything else is not ours */
    if (strncmp(name, "./", 2) == 0)
      name += 2;
    char parent[512];
    snprintf(parent, sizeof parent, "%s", name);
    for (char *s = strchr(parent, '/'); s; s = strchr(s + 1, '/')) {
      *s = '\0';
      if (mkdirat(dir_fd, parent, 0700) < 0 && errno != EEXIST) {
        r = tank_error_set(err, errno, "`%s`: create `%s`", file, parent);
        goto out;
      }
      *s = '/';
    }
    struct open_how how = { .flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                            .mode = 0600,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, dir_fd, name, &how, sizeof how);
    if (fd < 0) {
      r = tank_error_set(err, errno, "`%s`: extract `%s`", file, name);
      goto out;
    }
    if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
      r = tank_error_set(err, EIO, "`%s`: extract `%s`: %s", file, name, archive_error_string(a));
      goto out;
    }
  }
  if (h != ARCHIVE_EOF)
    r = tank_error_set(err, EIO, "read `%s`: %s", file, archive_error_string(a));
out:
  archive_read_free(a);
  return r;
}

static int
archive_tmp(const char *tmpdir, const char *file, struct local_source *l, tank_error **err)
{
  if (asprintf(&l->tmp_path, "%s/archive-XXXXXX", tmpdir) < 0) {
    l->tmp_path = NULL;
    return tank_error_set(err, ENOMEM, "temporary dir");
  }
  if (mkdtemp(l->tmp_path) == NULL) {
    int e = errno;
    free(l->tmp_path);
    l->tmp_path = NULL;
    return tank_error_set(err, e, "create temporary dir in `%s`", tmpdir);
  }
  l->dir_fd = open(l->tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (l->dir_fd < 0)
    return tank_error_set(err, errno, "open `%s`", l->tmp_path);
  return extract_simple(file, l->dir_fd, err);
}

int
oci_archive_source_new(const char *file, const char *tag, const char *tmpdir,
                       struct image_source **ret, tank_error **err)
{
  struct local_source *l = local_new(tag);
  if (l == NULL)
    return tank_error_set(err, ENOMEM, "OCI archive source");
  int r = archive_tmp(tmpdir, file, l, err);
  if (r < 0) {
    local_free(&l->base);
    return tank_error_wrap(err, "oci-archive");
  }
  *ret = &l->base;
  return 0;
}

static int
hash_file(int dir_fd, const char *path, struct file_blob *fb, int64_t *ret_size, tank_error **err)
{
  _cleanup_close_ int fd = open_in(dir_fd, path, err);
  if (fd < 0)
    return fd;
  _cleanup_hasher_ hasher *h = NULL;
  int r = hasher_new(&h, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *buf = malloc(COPY_BLOCK);
  if (buf == NULL)
    return tank_error_set(err, ENOMEM, "hash buffer");
  int64_t size = 0;
  ssize_t n;
  while ((n = read(fd, buf, COPY_BLOCK)) > 0) {
    hasher_update(h, buf, (size_t)n);
    size += n;
  }
  if (n < 0)
    return tank_error_set(err, errno, "read `%s`", path);
  hasher_final(h, fb->digest);
  if ((fb->path = strdup(path)) == NULL)
    return tank_error_set(err, ENOMEM, "copy path");
  *ret_size = size;
  return 0;
}

/* Builds an OCI manifest for the first image in manifest.json. */
static int
docker_manifest(struct local_source *l, tank_error **err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len;
  int r = read_in(l->dir_fd, "manifest.json", INDEX_MAX_BYTES, &buf, &len, err);
  if (r < 0)
    return tank_error_wrap(err, "docker archive");
  json_t *j = json_loadb(buf, len, 0, NULL);
  json_t *first = json_array_get(j, 0);
  const char *config = json_string_value(json_object_get(first, "Config"));
  json_t *layers = json_object_get(first, "Layers");
  size_t n = json_array_size(layers);
  if (config == NULL || !json_is_array(layers) || n > MANIFEST_MAX_LAYERS) {
    json_decref(j);
    return tank_error_set(err, 0, "docker archive: manifest.json names no image");
  }
  l->files = calloc(n + 1, sizeof *l->files);
  json_t *m = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MEDIA_OCI_MANIFEST,
                        "layers");
  if (l->files == NULL || m == NULL) {
    json_decref(j);
    json_decref(m);
    return tank_error_set(err, ENOMEM, "docker archive manifest");
  }
  int64_t size;
  r = hash_file(l->dir_fd, config, &l->files[0], &size, err);
  l->n_files = 1;
  if (r == 0)
    json_object_set_new(m, "config",
                        json_pack("{s:s, s:s, s:I}", "mediaType", MEDIA_OCI_CONFIG, "digest",
                                  l->files[0].digest, "size", (json_int_t)size));
  for (size_t i = 0; r == 0 && i < n; i++) {
    const char *lp = json_string_value(json_array_get(layers, i));
    if (lp == NULL) {
      r = tank_error_set(err, 0, "docker archive: Layers[%zu] is not a string", i);
      break;
    }
    r = hash_file(l->dir_fd, lp, &l->files[l->n_files], &size, err);
    if (r < 0)
      break;
    json_array_append_new(json_object_get(m, "layers"),
                          json_pack("{s:s, s:s, s:I}", "mediaType", MEDIA_OCI_LAYER_TAR, "digest",
                                    l->files[l->n_files].digest, "size", (json_int_t)size));
    l->n_files++;
  }
  if (r == 0 && (l->manifest = json_dumps(m, JSON_COMPACT)) == NULL)
    r = tank_error_set(err, ENOMEM, "docker archive manifest");
  json_decref(m);
  json_decref(j);
  return r < 0 ? tank_error_wrap(err, "docker archive") : 0;
}

int
docker_archive_source_new(const char *file, const char *tmpdir, struct image_source **ret,
                          tank_error **err)
{
  struct local_source *l = local_new(NULL);
  if (l == NULL)
    return tank_error_set(err, ENOMEM, "docker archive source");
  int r = archive_tmp(tmpdir, file, l, err);
  if (r == 0)
    r = docker_manifest(l, err);
  if (r < 0) {
    local_free(&l->base);
    return tank_error_wrap(err, "docker-archive `%s`", file);
  }
  *ret = &l->base;
  return 0;
}
