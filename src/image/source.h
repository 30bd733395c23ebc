/* Where an image comes from: a registry, an OCI layout (dir or archive), a
 * `docker save` archive. Each source hands out manifests and streams blobs into
 * a verifying blob_writer; get_blob may be called from several threads at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "image/store.h"
#include "util/error.h"

struct image_source;

struct image_source_ops {
  /* digest NULL: the manifest the reference names (by tag). */
  int (*get_manifest)(struct image_source *src, const char *digest, char **ret_buf, size_t *ret_len,
                      char **ret_content_type, tank_error **err);
  int (*get_blob)(struct image_source *src, const struct oci_descriptor *d, blob_writer *w,
                  tank_error **err);
  void (*free)(struct image_source *src);
};

struct image_source {
  const struct image_source_ops *ops;
};

struct registry_options {
  const char *authfile;
  char *const *insecure_registries; /* "host:port" or "host" */
  unsigned max_retries;
  const volatile int *cancel;
};

/* "http" for loopback (localhost, 127.0.0.0/8, [::1]) and for registries named
 * in insecure ("host:port" or "host"), "https" otherwise. */
const char *registry_scheme(const char *domain, char *const *insecure);
bool registry_plain_http_allowed(const char *domain, char *const *insecure);
bool registry_is_loopback(const char *domain);

int registry_source_new(const struct image_ref *ref, const struct registry_options *opts,
                        struct image_source **ret, tank_error **err);
/* oci:DIR[:TAG] */
int oci_dir_source_new(const char *dir, const char *tag, struct image_source **ret,
                       tank_error **err);
/* oci-archive: and docker-archive: are unpacked into a temporary dir first
 * (only the names those formats use are accepted). */
int oci_archive_source_new(const char *file, const char *tag, const char *tmpdir,
                           struct image_source **ret, tank_error **err);
int docker_archive_source_new(const char *file, const char *tmpdir, struct image_source **ret,
                              tank_error **err);

void image_source_free(struct image_source *src);
