/* SHA-256 digests on OpenSSL's EVP interface. */
#include "image/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct hasher {
  EVP_MD_CTX *ctx;
};

bool
digest_is_sha256(const char *digest)
{
  if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
    return false;
  const char *hex = digest + 7;
  size_t i;
  for (i = 0; hex[i]; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return false;
  return i == DIGEST_HEX_LEN;
}

const char *
digest_hex(const char *digest)
{
  return digest + 7;
}

int
digest_check(const char *digest, tank_error **err)
{
  if (digest == NULL)
    return tank_error_set(err, 0, "missing digest");
  if (!digest_is_sha256(digest))
    return tank_error_set(err, 0, "digest `%.100s` is not sha256:<64 lowercase hex>", digest);
  return 0;
}

int
hasher_new(hasher **ret, tank_error **err)
{
  hasher *h = calloc(1, sizeof *h);
  if (h == NULL)
    return tank_error_set(err, ENOMEM, "allocate hasher");
  h->ctx = EVP_MD_CTX_new();
  if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    hasher_free(h);
    return tank_error_set(err, ENOMEM, "initialise SHA-256");
  }
  *ret = h;
  return 0;
}

void
hasher_update(hasher *h, const void *buf, size_t len)
{
  if (len > 0)
    EVP_DigestUpdate(h->ctx, buf, len);
}

static void
to_hex(const unsigned char *md, unsigned n, char out[DIGEST_STRING_LEN])
{
  static const char x[] = "0123456789abcdef";
  memcpy(out, "sha256:", 7);
  for (unsigned i = 0; i < n && i < 32; i++) {
    out[7 + 2 * i] = x[md[i] >> 4];
    out[8 + 2 * i] = x[md[i] & 15];
  }
  out[7 + DIGEST_HEX_LEN] = '\0';
}

void
hasher_final(hasher *h, char out[DIGEST_STRING_LEN])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(h->ctx, md, &n);
  to_hex(md, n, out);
  hasher_reset(h);
}

void
hasher_reset(hasher *h)
{
  EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

hasher *
hasher_free(hasher *h)
{
  if (h) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
  }
  return NULL;
}

void
hasher_freep(hasher **h)
{
  hasher_free(*h);
}

void
digest_buffer(const void *buf, size_t len, char out[DIGEST_STRING_LEN])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
  to_hex(md, n, out);
}
