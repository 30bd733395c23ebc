/* OCI and Docker schema-2 manifests, image indexes / manifest lists, platform
 * selection, and the image config (what the runtime needs from it). All of it
 * is untrusted input: sizes, counts and digests are checked here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define MEDIA_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MEDIA_OCI_LAYER_TAR   "application/vnd.oci.image.layer.v1.tar"
#define MANIFEST_ACCEPT                                                                            \
  MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST

#define MANIFEST_MAX_BYTES  (4u << 20)
#define CONFIG_MAX_BYTES    (8u << 20)
#define MANIFEST_MAX_LAYERS 512
#define INDEX_MAX_MANIFESTS 1024

struct oci_descriptor {
  char *media_type;
  char *digest;
  int64_t size;
  char *os, *architecture, *variant; /* index entries only */
};

enum manifest_kind {
  MANIFEST_IMAGE,
  MANIFEST_INDEX,
};

struct oci_manifest {
  enum manifest_kind kind;
  struct oci_descriptor config;  /* MANIFEST_IMAGE */
  struct oci_descriptor *layers; /* MANIFEST_IMAGE */
  size_t n_layers;
  struct oci_descriptor *manifests; /* MANIFEST_INDEX */
  size_t n_manifests;
};

/* content_type (the HTTP Content-Type, may be NULL) is used when the document
 * has no mediaType field. Docker schema 1 is refused with a clear message. */
int oci_manifest_parse(const char *buf, size_t len, const char *content_type,
                       struct oci_manifest *ret, tank_error **err);
void oci_manifest_clear(struct oci_manifest *m);

struct oci_platform {
  const char *os, *architecture, *variant; /* variant may be NULL */
};
/* linux + the host's architecture (GOARCH names) and variant. */
void oci_platform_host(struct oci_platform *ret);
/* The index entry for platform p: exact os+arch, then variant when both name one
 * (an entry without variant matches any). Error lists what the index offers. */
int oci_index_select(const struct oci_manifest *index, const struct oci_platform *p,
                     const struct oci_descriptor **ret, tank_error **err);

/* True for the layer media types Tank unpacks (tar, tar+gzip, tar+zstd, OCI
 * and Docker names, incl. non-distributable ones). */
bool oci_layer_media_supported(const char *media_type);

struct image_config {
  char *architecture, *os, *variant, *created, *author;
  char **entrypoint, **cmd, **env; /* NULL-terminated, NULL when unset */
  char *working_dir, *user, *stop_signal;
  char **exposed_ports; /* "8080/tcp" */
  char **volumes;
  char **label_keys, **label_values;
  char **diff_ids; /* rootfs.diff_ids */
  size_t n_diff_ids;
};

int image_config_parse(const char *buf, size_t len, struct image_config *ret, tank_error **err);
void image_config_clear(struct image_config *c);
