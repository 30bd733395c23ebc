/* A position-carrying document tree: what the YAML and JSON front ends produce
 * and the validator consumes, so every error can name FILE:LINE:COL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tnode_kind {
  TNODE_SCALAR,
  TNODE_MAP,
  TNODE_SEQ,
};

enum tnode_type {
  TNODE_STRING,
  TNODE_INT,
  TNODE_REAL,
  TNODE_BOOL,
  TNODE_NULL,
  TNODE_MAPPING,  /* kind TNODE_MAP */
  TNODE_SEQUENCE, /* kind TNODE_SEQ */
};

struct tnode {
  enum tnode_kind kind;
  enum tnode_type type;
  unsigned line, col; /* 1-based */
  /* Where this node came from when a converter moved it (a Kubernetes path
   * such as "spec.containers[0].workingDir"); errors then name that path. */
  const char *origin;
  /* scalars: the text (for strings the decoded value; may hold NUL bytes) */
  char *text;
  size_t len;
  bool boolean;
  /* maps: keys[i] -> items[i]; sequences: items[i] */
  struct tnode **keys;
  struct tnode **items;
  size_t n, cap;
  uint64_t weight; /* nodes in this subtree, counting alias expansions */
};

/* A document owns every node made for it (aliases share nodes, so nodes are
 * freed with the document, not through the tree). */
struct tdoc {
  struct tnode *root; /* NULL for an empty document */
  struct tnode **all;
  size_t n_all, cap_all;
  char **strings; /* strings owned by the document (origins) */
  size_t n_strings, cap_strings;
};

/* Parse errors of the front ends: one per failed document. */
struct tparse_error {
  unsigned line, col;
  char *msg;
};

struct tstream {
  struct tdoc **docs;
  size_t n_docs;
  struct tparse_error error; /* msg != NULL when the stream could not be read to its end */
};

int tyaml_load(const char *buf, size_t len, struct tstream *ret);
int tjson_load(const char *buf, size_t len, struct tstream *ret);
void tstream_clear(struct tstream *s);

struct tdoc *tdoc_new(void);
struct tdoc *tdoc_free(struct tdoc *d);
struct tnode *tdoc_node(struct tdoc *d, enum tnode_kind kind, enum tnode_type type, unsigned line,
                        unsigned col);
/* Appends to a map (key != NULL) or sequence; keeps the weight up to date. */
void tnode_append(struct tnode *parent, struct tnode *key, struct tnode *item);
const char *tdoc_strdup(struct tdoc *d, const char *s);
void tnode_set_text(struct tnode *n, const char *text, size_t len);

/* The value for key in a map, or NULL. */
struct tnode *tnode_get(const struct tnode *map, const char *key);
const char *tnode_type_name(enum tnode_type t);

/* How YAML 1.2's core schema reads a plain scalar: null, bool, int, real, or string. */
enum tnode_type tyaml_resolve_plain(const char *s, size_t len);
