/* The content-addressed image cache under the data dir:
 *   blobs/sha256/<hex>    verified blobs (manifests, configs, compressed layers)
 *   layers/sha256/<hex>/  unpacked layers by diff-id (overlayfs lower dirs)
 *   refs/<hash>.json      one record per image name
 *   tmp/, locks/, gc.lock
 * Blobs are written to O_TMPFILE files while hashed and linked into place only
 * when verified, so a killed pull leaves nothing visible. flock() on
 * locks/<kind>-<hex> makes concurrent pulls download and unpack each thing once;
 * pulls hold gc.lock shared, prune holds it exclusive. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/error.h"

struct image_store {
  char *root;
  int root_fd, blobs_fd, layers_fd, refs_fd, tmp_fd, locks_fd;
};

int image_store_open(const char *root, struct image_store **ret, tank_error **err);
struct image_store *image_store_free(struct image_store *s);
void image_store_freep(struct image_store **s);
#define _cleanup_image_store_ __attribute__((cleanup(image_store_freep)))

bool store_has_blob(struct image_store *s, const char *digest);
int store_open_blob(struct image_store *s, const char *digest, int *ret_fd, tank_error **err);
/* Reads a small blob (manifest, config) and re-verifies its digest. */
int store_read_blob(struct image_store *s, const char *digest, size_t max_bytes, char **ret_buf,
                    size_t *ret_len, tank_error **err);
int store_put_blob(struct image_store *s, const char *digest, const void *buf, size_t len,
                   tank_error **err);
int64_t store_blob_size(struct image_store *s, const char *digest);

/* Exclusive flock on locks/<kind>-<hex>, blocking. Close the fd to release. */
int store_lock(struct image_store *s, const char *kind, const char *digest, int *ret_fd,
               tank_error **err);
int store_gc_lock(struct image_store *s, bool exclusive, int *ret_fd, tank_error **err);

/* Called after each write; a non-zero return stops the download (ECANCELED). */
typedef int (*blob_progress_fn)(void *userdata, uint64_t done_bytes);
typedef struct blob_writer blob_writer;
/* expected_size < 0: unknown. */
int blob_writer_new(struct image_store *s, const char *digest, int64_t expected_size,
                    blob_writer **ret, tank_error **err);
void blob_writer_set_progress(blob_writer *w, blob_progress_fn fn, void *userdata);
int blob_writer_write(blob_writer *w, const void *buf, size_t len, tank_error **err);
/* Starts over (a retry that cannot resume). */
int blob_writer_rewind(blob_writer *w, tank_error **err);
uint64_t blob_writer_written(const blob_writer *w);
const char *blob_writer_digest(const blob_writer *w);
/* Verifies size and digest and links the blob into place. */
int blob_writer_commit(blob_writer *w, tank_error **err);
blob_writer *blob_writer_free(blob_writer *w);
void blob_writer_freep(blob_writer **w);
#define _cleanup_blob_writer_ __attribute__((cleanup(blob_writer_freep)))

bool store_has_layer(struct image_store *s, const char *diff_id);
/* "<root>/layers/sha256/<hex>"; caller frees. */
char *store_layer_path(struct image_store *s, const char *diff_id);
/* A fresh directory under tmp/ for unpacking; *ret_name is relative to tmp/. */
int store_layer_tmp(struct image_store *s, char **ret_name, int *ret_fd, tank_error **err);
int store_layer_commit(struct image_store *s, const char *tmp_name, const char *diff_id,
                       tank_error **err);
void store_tmp_remove(struct image_store *s, const char *tmp_name);
