/* The image service's public face: pull an image into the cache under the data
 * dir, look it up (config + overlayfs lower dirs), list, remove, prune.
 *
 * image_pull blocks; run it on a worker thread. Progress callbacks come from
 * the pull's own download threads, one at a time (serialised by the pull), and
 * must not block for long. Set *cancel to non-zero to stop a pull early. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/manifest.h"
#include "image/store.h"
#include "util/error.h"

struct image_layer {
  char *digest;  /* the blob */
  char *diff_id; /* the unpacked layer: layers/sha256/<hex> */
  char *media_type;
  int64_t size;
};

struct image_record {
  char *name;            /* canonical reference, "127.0.0.1:5000/app:1.4" */
  char *manifest_digest; /* NULL for rootfs: */
  char *config_digest;
  struct image_layer *layers;
  size_t n_layers;
  int64_t size; /* compressed bytes of config + layers */
  char *created;
  int64_t pulled_at;
  char *rootfs_path; /* rootfs:DIR images */
};

struct image {
  struct image_record record;
  struct image_config config;
  /* Absolute paths, topmost layer first (the order overlayfs lowerdir= takes). */
  char **lower_dirs;
};

enum image_progress_stage {
  IMAGE_PROGRESS_RESOLVED,    /* manifest known: n_layers set */
  IMAGE_PROGRESS_DOWNLOADING, /* done_bytes of total_bytes of layer i */
  IMAGE_PROGRESS_CACHED,      /* layer i already in the cache */
  IMAGE_PROGRESS_UNPACKING,
  IMAGE_PROGRESS_LAYER_DONE,
  IMAGE_PROGRESS_DONE,
};

struct image_progress {
  enum image_progress_stage stage;
  size_t layer_index, n_layers;
  const char *digest;
  uint64_t done_bytes, total_bytes;
};

typedef void (*image_progress_fn)(const struct image_progress *p, void *userdata);

struct image_pull_options {
  const char *authfile;                    /* NULL: $REGISTRY_AUTH_FILE, else /etc/tank/auth.json */
  char *const *insecure_registries;        /* plain HTTP allowed (loopback always is) */
  bool offline;                            /* only the cache; error says what is missing */
  const char *os, *architecture, *variant; /* NULL: this host */
  unsigned max_parallel;                   /* layer downloads at once; 0: 3 */
  unsigned max_retries;                    /* per request on transient errors; 0: 4 */
  bool rootless;                           /* tolerate EPERM on chown/mknod while unpacking */
  image_progress_fn progress;
  void *progress_userdata;
  const volatile int *cancel;
};

int image_pull(struct image_store *s, const char *ref, const struct image_pull_options *opts,
               struct image **ret, tank_error **err);

/* From the cache only; ENOENT when the image was never pulled. */
int image_lookup(struct image_store *s, const char *ref, struct image **ret, tank_error **err);

int image_list(struct image_store *s, struct image_record **ret, size_t *ret_n, tank_error **err);
void image_records_free(struct image_record *r, size_t n);

/* Removes the name, then everything no other image uses. */
int image_remove(struct image_store *s, const char *ref, uint64_t *ret_reclaimed_bytes,
                 tank_error **err);
/* Removes blobs, layers and temporary files no image references. */
int image_prune(struct image_store *s, uint64_t *ret_reclaimed_bytes, tank_error **err);

struct image *image_free(struct image *img);
void image_freep(struct image **img);
#define _cleanup_image_ __attribute__((cleanup(image_freep)))
void image_record_clear(struct image_record *r);

/* Internal to the image module: records on disk. */
int image_record_write(struct image_store *s, const struct image_record *r, tank_error **err);
int image_record_read(struct image_store *s, const char *name, struct image_record *ret,
                      tank_error **err);
/* Canonical name of a reference string (as image_ref_format prints it). */
int image_canonical_name(const char *ref, char **ret, tank_error **err);
