/* Standard base64 (RFC 4648, padded), as etcd's JSON gateway carries keys and values. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Returns a NUL-terminated malloc'd encoding, or NULL when out of memory. */
char *base64_encode(const void *data, size_t len);

/* Decodes s (padding optional); the result is NUL-terminated past *ret_len.
 * Returns 0, -EINVAL on a malformed input, -ENOMEM. */
int base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len);
