/* Internal to src/spec: the validator turning a document tree into a pod, and
 * the error sink shared with the Kubernetes converter. */
#pragma once

#include <stdarg.h>

#include "spec/node.h"
#include "spec/spec.h"

#define SPEC_PATH_MAX 512

struct verror {
  uint64_t position; /* line << 32 | col, to report in document order */
  char *text;
};

struct vctx {
  const char *file;
  struct spec_file *out;
  struct verror *pending; /* this document's errors, until vctx_flush */
  size_t n_pending;
  size_t errors;     /* in this document */
  size_t suppressed; /* over SPEC_MAX_ERRORS */
};

/* Moves the pending errors to out->errors, sorted by position. */
void vctx_flush(struct vctx *c);

/* Records "FILE:LINE:COL: PATH: message" at node n (line 1 col 1 when NULL). */
void verr(struct vctx *c, const struct tnode *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* path of a child: the child's origin when a converter set one, else parent.key / parent[i]. */
void child_path(char *buf, const char *parent, const char *key, const struct tnode *child);
void index_path(char *buf, const char *parent, size_t i, const struct tnode *child);

/* Reports every key of map not in allowed (NULL-terminated) and every repeated
 * key; returns false when map is not a mapping (after reporting it). */
bool check_keys(struct vctx *c, const struct tnode *map, const char *path,
                const char *const *allowed, const char *what);

/* Validates a Tank-shaped document. Returns a pod, or NULL after reporting errors. */
struct spec_pod *spec_validate_pod(struct vctx *c, const struct tnode *root);

/* Converts a Kubernetes v1 Pod document into a Tank-shaped tree in the same
 * document (nodes keep their positions and carry their Kubernetes path as
 * origin). Returns NULL after reporting errors. */
struct tnode *spec_convert_k8s(struct vctx *c, struct tdoc *doc, const struct tnode *root);
