/* Unpacks one layer (tar, tar+gzip, tar+zstd) into a directory in the form
 * overlayfs takes as a lower dir, streaming, while hashing the uncompressed
 * stream for the diff-id. Every path is resolved beneath the layer dir fd with
 * openat2(RESOLVE_IN_ROOT): nothing is ever created outside it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/error.h"

struct unpack_options {
  /* Tolerate EPERM from chown/mknod of devices (unprivileged unit tests, fuzzing). */
  bool rootless;
  /* Limits on what one layer may hold; 0 picks the default (64 GiB of
   * uncompressed stream, 64 GiB per file, 1 Mi entries). */
  uint64_t max_bytes;
  uint64_t max_file_bytes;
  uint64_t max_entries;
};

/* Unpacks the layer read from blob_fd into the (empty) directory root_fd and
 * writes the sha256 of the uncompressed stream to ret_diff_id. On failure the
 * directory holds a partial tree: the caller removes it. */
int layer_unpack(int blob_fd, int root_fd, const struct unpack_options *opts,
                 char ret_diff_id[DIGEST_STRING_LEN], tank_error **err);
