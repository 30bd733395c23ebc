/* image_pull: resolve the reference to one image manifest (choosing this
 * platform from an index), fetch the config, then fetch and unpack the layers
 * on a few worker threads, each layer once per cache, and write the record
 * last so an interrupted pull never shows a partial image. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "image/reference.h"
#include "image/source.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define DEFAULT_PARALLEL 3
#define MAX_PARALLEL     16

struct pull {
  struct image_store *s;
  struct image_source *src;
  const struct image_pull_options *o;
  const char *name;
  struct oci_manifest manifest;
  struct image_config config;
  pthread_mutex_t lock; /* progress callbacks, next, first error */
  size_t next;
  tank_error *err;
  volatile int abort_flag;
};

struct layer_progress {
  struct pull *p;
  size_t index;
};

static void
report(struct pull *p, enum image_progress_stage stage, size_t i, uint64_t done, uint64_t total)
{
  if (p->o->progress == NULL)
    return;
  struct image_progress ev = {
    .stage = stage,
    .layer_index = i,
    .n_layers = p->manifest.n_layers,
    .digest = i < p->manifest.n_layers ? p->manifest.layers[i].digest : NULL,
    .done_bytes = done,
    .total_bytes = total,
  };
  pthread_mutex_lock(&p->lock);
  p->o->progress(&ev, p->o->progress_userdata);
  pthread_mutex_unlock(&p->lock);
}

static bool
cancelled(struct pull *p)
{
  if (p->o->cancel && *p->o->cancel)
    p->abort_flag = 1;
  return p->abort_flag;
}

static int
on_blob_progress(void *userdata, uint64_t done)
{
  struct layer_progress *lp = userdata;
  struct pull *p = lp->p;
  if (cancelled(p))
    return 1;
  if (lp->index < p->manifest.n_layers)
    report(p, IMAGE_PROGRESS_DOWNLOADING, lp->index, done,
           (uint64_t)p->manifest.layers[lp->index].size);
  return 0;
}

/* Fetches one blob into the cache unless it is there; locked so concurrent
 * pulls download it once. */
static int
fetch_blob(struct pull *p, const struct oci_descriptor *d, struct layer_progress *lp,
           tank_error **err)
{
  if (store_has_blob(p->s, d->digest))
    return 0;
  _cleanup_close_ int lock = -EBADF;
  int r = store_lock(p->s, "blob", d->digest, &lock, err);
  if (r < 0)
    return r;
  if (store_has_blob(p->s, d->digest))
    return 0;
  _cleanup_blob_writer_ blob_writer *w = NULL;
  if ((r = blob_writer_new(p->s, d->digest, d->size, &w, err)) < 0)
    return r;
  struct layer_progress config_progress = { p, SIZE_MAX };
  blob_writer_set_progress(w, on_blob_progress, lp ? lp : &config_progress);
  if ((r = p->src->ops->get_blob(p->src, d, w, err)) < 0 || (r = blob_writer_commit(w, err)) < 0)
    return tank_error_wrap(err, "blob %s", d->digest);
  return 0;
}

static int
pull_layer(struct pull *p, size_t i, tank_error **err)
{
  const struct oci_descriptor *d = &p->manifest.layers[i];
  const char *diff_id = p->config.diff_ids[i];
  if (cancelled(p))
    return tank_error_set(err, ECANCELED, "pull cancelled");
  if (store_has_layer(p->s, diff_id)) {
    report(p, IMAGE_PROGRESS_CACHED, i, (uint64_t)d->size, (uint64_t)d->size);
    return 0;
  }
  _cleanup_close_ int lock = -EBADF;
  int r = store_lock(p->s, "layer", diff_id, &lock, err);
  if (r < 0)
    return r;
  if (store_has_layer(p->s, diff_id)) { /* another pull did it while we waited */
    report(p, IMAGE_PROGRESS_CACHED, i, (uint64_t)d->size, (uint64_t)d->size);
    return 0;
  }
  struct layer_progress lp = { p, i };
  if ((r = fetch_blob(p, d, &lp, err)) < 0)
    return r;
  if (cancelled(p))
    return tank_error_set(err, ECANCELED, "pull cancelled");
  report(p, IMAGE_PROGRESS_UNPACKING, i, (uint64_t)d->size, (uint64_t)d->size);
  _cleanup_close_ int blob = -EBADF, dir = -EBADF;
  _cleanup_free_ char *tmp = NULL;
  if ((r = store_open_blob(p->s, d->digest, &blob, err)) < 0
      || (r = store_layer_tmp(p->s, &tmp, &dir, err)) < 0)
    return r;
  struct unpack_options uo = { .rootless = p->o->rootless };
  char got[DIGEST_STRING_LEN];
  r = layer_unpack(blob, dir, &uo, got, err);
  if (r == 0 && strcmp(got, diff_id) != 0)
    r = tank_error_set(err, EBADMSG, "diff-id mismatch: config says %s, layer holds %s", diff_id,
                       got);
  if (r == 0)
    r = store_layer_commit(p->s, tmp, diff_id, err);
  if (r < 0) {
    store_tmp_remove(p->s, tmp);
    return tank_error_wrap(err, "layer %s", d->digest);
  }
  report(p, IMAGE_PROGRESS_LAYER_DONE, i, (uint64_t)d->size, (uint64_t)d->size);
  return 0;
}

static void *
worker(void *data)
{
  struct pull *p = data;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    size_t i = p->next++;
    bool stop = p->err != NULL || i >= p->manifest.n_layers;
    pthread_mutex_unlock(&p->lock);
    if (stop)
      return NULL;
    tank_error *e = NULL;
    if (pull_layer(p, i, &e) < 0) {
      pthread_mutex_lock(&p->lock);
      if (p->err == NULL)
        p->err = e;
      else
        tank_error_free(e);
      p->abort_flag = 1;
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
  }
}

static int
pull_layers(struct pull *p, tank_error **err)
{
  unsigned n = p->o->max_parallel ? p->o->max_parallel : DEFAULT_PARALLEL;
  if (n > MAX_PARALLEL)
    n = MAX_PARALLEL;
  if (n > p->manifest.n_layers)
    n = (unsigned)p->manifest.n_layers;
  pthread_t threads[MAX_PARALLEL];
  unsigned started = 0;
  for (unsigned i = 1; i < n; i++) {
    if (pthread_create(&threads[started], NULL, worker, p) != 0)
      break;
    started++;
  }
  worker(p); /* the calling thread works too */
  for (unsigned i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  if (p->err) {
    *err = steal_pointer(&p->err);
    return tank_error_code(*err);
  }
  return 0;
}

static int
get_verified_manifest(struct pull *p, const char *digest, char **ret_buf, size_t *ret_len,
                      char **ret_ct, char ret_digest[DIGEST_STRING_LEN], tank_error **err)
{
  int r = p->src->ops->get_manifest(p->src, digest, ret_buf, ret_len, ret_ct, err);
  if (r < 0)
    return r;
  digest_buffer(*ret_buf, *ret_len, ret_digest);
  if (digest && strcmp(digest, ret_digest) != 0) {
    free(*ret_buf);
    free(*ret_ct);
    return tank_error_set(err, EBADMSG, "manifest digest mismatch: expected %s, got %s", digest,
                          ret_digest);
  }
  return store_put_blob(p->s, ret_digest, *ret_buf, *ret_len, err) < 0 ? tank_error_code(*err) : 0;
}

static int
resolve(struct pull *p, const struct image_ref *ref, char manifest_digest[DIGEST_STRING_LEN],
        tank_error **err)
{
  _cleanup_free_ char *buf = NULL, *ct = NULL;
  size_t len;
  int r = get_verified_manifest(p, ref->digest, &buf, &len, &ct, manifest_digest, err);
  if (r < 0)
    return r;
  if ((r = oci_manifest_parse(buf, len, ct, &p->manifest, err)) < 0)
    return r;
  if (p->manifest.kind == MANIFEST_INDEX) {
    struct oci_platform plat;
    oci_platform_host(&plat);
    if (p->o->os)
      plat.os = p->o->os;
    if (p->o->architecture) {
      plat.architecture = p->o->architecture;
      plat.variant = p->o->variant;
    }
    const struct oci_descriptor *d;
    if ((r = oci_index_select(&p->manifest, &plat, &d, err)) < 0)
      return r;
    char child[DIGEST_STRING_LEN];
    strcpy(child, d->digest);
    oci_manifest_clear(&p->manifest);
    free(buf);
    free(ct);
    buf = ct = NULL;
    if ((r = get_verified_manifest(p, child, &buf, &len, &ct, manifest_digest, err)) < 0)
      return r;
    if ((r = oci_manifest_parse(buf, len, ct, &p->manifest, err)) < 0)
      return tank_error_wrap(err, "manifest %s", child);
    if (p->manifest.kind != MANIFEST_IMAGE)
      return tank_error_set(err, ENOTSUP, "manifest %s: an index inside an index", child);
  }
  for (size_t i = 0; i < p->manifest.n_layers; i++)
    if (!oci_layer_media_supported(p->manifest.layers[i].media_type))
      return tank_error_set(err, ENOTSUP, "layer %s has unsupported media type `%.100s`",
                            p->manifest.layers[i].digest,
                            p->manifest.layers[i].media_type ? p->manifest.layers[i].media_type
                                                             : "(none)");
  /* The config */
  if ((r = fetch_blob(p, &p->manifest.config, NULL, err)) < 0)
    return tank_error_wrap(err, "config");
  _cleanup_free_ char *cbuf = NULL;
  size_t clen;
  if ((r = store_read_blob(p->s, p->manifest.config.digest, CONFIG_MAX_BYTES, &cbuf, &clen, err))
          < 0
      || (r = image_config_parse(cbuf, clen, &p->config, err)) < 0)
    return tank_error_wrap(err, "config %s", p->manifest.config.digest);
  if (p->config.n_diff_ids != p->manifest.n_layers)
    return tank_error_set(err, EBADMSG, "manifest has %zu layers but config lists %zu diff_ids",
                          p->manifest.n_layers, p->config.n_diff_ids);
  return 0;
}

static int
write_record(struct pull *p, const char *manifest_digest, tank_error **err)
{
  struct image_record rec = { 0 };
  rec.name = (char *)p->name;
  rec.manifest_digest = (char *)manifest_digest;
  rec.config_digest = p->manifest.config.digest;
  rec.created = p->config.created;
  rec.pulled_at = (int64_t)time(NULL);
  rec.n_layers = p->manifest.n_layers;
  rec.layers = calloc(rec.n_layers ? rec.n_layers : 1, sizeof *rec.layers);
  if (rec.layers == NULL)
    return tank_error_set(err, ENOMEM, "image record");
  rec.size = p->manifest.config.size;
  for (size_t i = 0; i < rec.n_layers; i++) {
    rec.layers[i].digest = p->manifest.layers[i].digest;
    rec.layers[i].diff_id = p->config.diff_ids[i];
    rec.layers[i].media_type = p->manifest.layers[i].media_type;
    rec.layers[i].size = p->manifest.layers[i].size;
    rec.size += p->manifest.layers[i].size;
  }
  int r = image_record_write(p->s, &rec, err);
  free(rec.layers);
  return r;
}

/* Temporary layer dirs of pulls that died (their pid is gone). */
static void
clean_dead_tmp(struct image_store *s)
{
  int fd = openat(s->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    int pid;
    if (sscanf(de->d_name, "layer-%d-", &pid) == 1 && pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
      remove_tree_at(s->tmp_fd, de->d_name);
  }
  closedir(d);
}

static int
open_source(struct image_store *s, const struct image_ref *ref, const struct image_pull_options *o,
            struct registry_options *ro, struct image_source **ret, tank_error **err)
{
  _cleanup_free_ char *tmp = NULL;
  if (asprintf(&tmp, "%s/tmp", s->root) < 0)
    return tank_error_set(err, ENOMEM, "tmp path");
  switch (ref->transport) {
    case IMAGE_TRANSPORT_REGISTRY:
      return registry_source_new(ref, ro, ret, err);
    case IMAGE_TRANSPORT_OCI:
      return oci_dir_source_new(ref->local_path, ref->local_tag, ret, err);
    case IMAGE_TRANSPORT_OCI_ARCHIVE:
      return oci_archive_source_new(ref->local_path, ref->local_tag, tmp, ret, err);
    case IMAGE_TRANSPORT_DOCKER_ARCHIVE:
      return docker_archive_source_new(ref->local_path, tmp, ret, err);
    default:
      return tank_error_set(err, ENOTSUP, "transport not supported");
  }
}

static int
pull_rootfs(struct image_store *s, const struct image_ref *ref, const char *name,
            struct image **ret, tank_error **err)
{
  struct stat st;
  if (stat(ref->local_path, &st) < 0)
    return tank_error_set(err, errno, "rootfs `%s`", ref->local_path);
  if (!S_ISDIR(st.st_mode))
    return tank_error_set(err, ENOTDIR, "rootfs `%s`", ref->local_path);
  struct image_record rec
      = { .name = (char *)name, .rootfs_path = ref->local_path, .pulled_at = (int64_t)time(NULL) };
  int r = image_record_write(s, &rec, err);
  if (r < 0)
    return r;
  return ret ? image_lookup(s, name, ret, err) : 0;
}

static int
offline_lookup(struct image_store *s, const char *name, struct image **ret, tank_error **err)
{
  struct image *img = NULL;
  int r = image_lookup(s, name, &img, err);
  if (r < 0)
    return tank_error_wrap(err, "offline");
  if (ret)
    *ret = img;
  else
    image_free(img);
  return 0;
}

int
image_pull(struct image_store *s, const char *refstr, const struct image_pull_options *opts,
           struct image **ret, tank_error **err)
{
  static const struct image_pull_options defaults = { 0 };
  const struct image_pull_options *o = opts ? opts : &defaults;
  struct image_ref ref;
  int r = image_ref_parse(refstr, &ref, err);
  if (r < 0)
    return tank_error_wrap(err, "pull `%.200s`", refstr);
  _cleanup_free_ char *name = image_ref_format(&ref);
  if (name == NULL) {
    image_ref_clear(&ref);
    return tank_error_set(err, ENOMEM, "pull");
  }
  if (ref.transport == IMAGE_TRANSPORT_ROOTFS) {
    r = pull_rootfs(s, &ref, name, ret, err);
    image_ref_clear(&ref);
    return r < 0 ? tank_error_wrap(err, "pull %s", name) : 0;
  }
  _cleanup_close_ int gc = -EBADF;
  if ((r = store_gc_lock(s, /* exclusive= */ false, &gc, err)) < 0) {
    image_ref_clear(&ref);
    return r;
  }
  if (o->offline) {
    image_ref_clear(&ref);
    r = offline_lookup(s, name, ret, err);
    return r < 0 ? tank_error_wrap(err, "pull %s", name) : 0;
  }
  clean_dead_tmp(s);
  struct pull p = { .s = s, .o = o, .name = name };
  pthread_mutex_init(&p.lock, NULL);
  struct registry_options ro = { .authfile = o->authfile,
                                 .insecure_registries = o->insecure_registries,
                                 .max_retries = o->max_retries,
                                 .cancel = &p.abort_flag };
  char manifest_digest[DIGEST_STRING_LEN];
  r = open_source(s, &ref, o, &ro, &p.src, err);
  if (r == 0)
    r = resolve(&p, &ref, manifest_digest, err);
  if (r == 0) {
    report(&p, IMAGE_PROGRESS_RESOLVED, 0, 0, 0);
    r = pull_layers(&p, err);
  }
  if (r == 0)
    r = write_record(&p, manifest_digest, err);
  if (r == 0)
    report(&p, IMAGE_PROGRESS_DONE, p.manifest.n_layers, 0, 0);
  image_source_free(p.src);
  oci_manifest_clear(&p.manifest);
  image_config_clear(&p.config);
  tank_error_free(p.err);
  pthread_mutex_destroy(&p.lock);
  image_ref_clear(&ref);
  if (r < 0)
    return tank_error_wrap(err, "pull %s", name);
  return ret ? image_lookup(s, name, ret, err) : 0;
}
