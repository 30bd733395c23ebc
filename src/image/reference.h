/* Image references as written in a pod spec, parsed the way docker and podman do:
 * `busybox` is docker.io/library/busybox:latest; `host:port/ns/name:tag`;
 * `name@sha256:<hex>`; plus the transports `docker://REF`, `oci:DIR[:TAG]`,
 * `oci-archive:FILE[:TAG]`, `docker-archive:FILE` and `rootfs:DIR`. */
#pragma once

#include "util/error.h"

enum image_transport {
  IMAGE_TRANSPORT_REGISTRY = 0,
  IMAGE_TRANSPORT_OCI,
  IMAGE_TRANSPORT_OCI_ARCHIVE,
  IMAGE_TRANSPORT_DOCKER_ARCHIVE,
  IMAGE_TRANSPORT_ROOTFS,
};

struct image_ref {
  enum image_transport transport;
  /* registry transport */
  char *domain; /* "docker.io", "127.0.0.1:5000" */
  char *path;   /* "library/busybox", "acme/api" */
  char *tag;    /* "latest" when neither tag nor digest was given; NULL with a digest only */
  char *digest; /* "sha256:<64 hex>", or NULL */
  /* local transports */
  char *local_path; /* absolute DIR or FILE */
  char *local_tag;  /* oci:/oci-archive: tag, or NULL */
};

/* Parses s. Errors name what is wrong ("tag `x y` has a character outside
 * [A-Za-z0-9_.-]"); the caller adds which field held it. */
int image_ref_parse(const char *s, struct image_ref *ret, tank_error **err);
void image_ref_clear(struct image_ref *ref);

/* "docker.io/library/busybox:latest", "127.0.0.1:5000/app@sha256:…",
 * "oci:/srv/img:1.0". Caller frees. */
char *image_ref_format(const struct image_ref *ref);
