/* Content digests ("sha256:<64 hex>") and a streaming SHA-256 hasher on OpenSSL,
 * used to verify every blob and every layer's uncompressed stream. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define DIGEST_HEX_LEN    64
#define DIGEST_STRING_LEN (7 + DIGEST_HEX_LEN + 1) /* "sha256:" + hex + NUL */

/* True for "sha256:" followed by exactly 64 lowercase hex digits. Other
 * algorithms are refused: the cache is keyed by sha256 only. */
bool digest_is_sha256(const char *digest);
/* The hex part of a valid digest. */
const char *digest_hex(const char *digest);
/* Like digest_is_sha256 but sets an error naming the digest. */
int digest_check(const char *digest, tank_error **err);

typedef struct hasher hasher;
int hasher_new(hasher **ret, tank_error **err);
void hasher_update(hasher *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" into out and resets the hasher for reuse. */
void hasher_final(hasher *h, char out[DIGEST_STRING_LEN]);
void hasher_reset(hasher *h);
hasher *hasher_free(hasher *h);
void hasher_freep(hasher **h);
#define _cleanup_hasher_ __attribute__((cleanup(hasher_freep)))

void digest_buffer(const void *buf, size_t len, char out[DIGEST_STRING_LEN]);
