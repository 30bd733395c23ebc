/* JSON front end: jansson parses (and rejects duplicate keys, bad UTF-8, NUL
 * escapes); a small scanner over the same, already-validated text recovers the
 * line:col of every value and key, and the exact text of numbers. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/node.h"
#include "spec/spec.h"

struct pos {
  unsigned line, col;
  size_t start, end; /* byte span of the token */
};

struct scan {
  const char *s;
  size_t len, i;
  unsigned line, col;
  struct pos *pos;
  size_t n, cap;
};

static void
advance(struct scan *sc)
{
  if (sc->s[sc->i] == '\n') {
    sc->line++;
    sc->col = 1;
  } else if (((unsigned char)sc->s[sc->i] & 0xc0) != 0x80) {
    sc->col++; /* count characters, not UTF-8 continuation bytes */
  }
  sc->i++;
}

static void
skip_blank(struct scan *sc)
{
  while (sc->i < sc->len && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i])
    advance(sc);
}

static void
record(struct scan *sc, size_t start, unsigned line, unsigned col)
{
  if (sc->n == sc->cap) {
    sc->cap = sc->cap ? sc->cap * 2 : 64;
    sc->pos = realloc(sc->pos, sc->cap * sizeof *sc->pos);
    if (sc->pos == NULL)
      abort();
  }
  sc->pos[sc->n++] = (struct pos){ line, col, start, sc->i };
}

/* Records every token that starts a value or a key, in document order. The
 * text is known to be valid JSON, so structure needs no checking here. */
static void
scan_all(struct scan *sc)
{
  for (;;) {
    skip_blank(sc);
    if (sc->i >= sc->len)
      return;
    char c = sc->s[sc->i];
    size_t start = sc->i;
    unsigned line = sc->line, col = sc->col;
    if (c == '{' || c == '[') {
      advance(sc);
      record(sc, start, line, col);
    } else if (c == '}' || c == ']' || c == ',' || c == ':') {
      advance(sc);
    } else if (c == '"') {
      advance(sc);
      while (sc->i < sc->len && sc->s[sc->i] != '"') {
        if (sc->s[sc->i] == '\\')
          advance(sc);
        advance(sc);
      }
      advance(sc);
      record(sc, start, line, col);
    } else {
      /* a number or literal; always consume at least one byte so odd input cannot stall */
      do
        advance(sc);
      while (sc->i < sc->len && sc->s[sc->i] && !strchr(" \t\r\n,:]}", sc->s[sc->i]));
      record(sc, start, line, col);
    }
  }
}

struct build {
  struct scan *sc;
  size_t next;
  struct tdoc *doc;
  size_t nodes;
  struct tparse_error *err;
};

static int
build_fail(struct build *b, const struct pos *p, const char *msg)
{
  b->err->line = p ? p->line : 1;
  b->err->col = p ? p->col : 1;
  b->err->msg = strdup(msg);
  return -EINVAL;
}

static const struct pos *
take(struct build *b)
{
  return b->next < b->sc->n ? &b->sc->pos[b->next++] : NULL;
}

static int
convert(struct build *b, json_t *j, unsigned depth, struct tnode **ret)
{
  const struct pos *p = take(b);
  if (p == NULL)
    return build_fail(b, NULL, "JSON: internal position mismatch");
  if (depth > SPEC_MAX_DEPTH)
    return build_fail(b, p, "document nested deeper than 64 levels");
  if (++b->nodes > SPEC_MAX_NODES)
    return build_fail(b, p, "document too large: more than 100000 nodes");

  struct tnode *n;
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      n = tdoc_node(b->doc, TNODE_MAP, TNODE_MAPPING, p->line, p->col);
      const char *key;
      json_t *value;
      json_object_foreach(j, key, value)
      {
        const struct pos *kp = take(b);
        if (kp == NULL)
          return build_fail(b, p, "JSON: internal position mismatch");
        struct tnode *k = tdoc_node(b->doc, TNODE_SCALAR, TNODE_STRING, kp->line, kp->col);
        tnode_set_text(k, key, strlen(key));
        struct tnode *v;
        if (convert(b, value, depth + 1, &v) < 0)
          return -EINVAL;
        tnode_append(n, k, v);
      }
      break;
    }
    case JSON_ARRAY: {
      n = tdoc_node(b->doc, TNODE_SEQ, TNODE_SEQUENCE, p->line, p->col);
      size_t i;
      json_t *value;
      json_array_foreach(j, i, value)
      {
        struct tnode *v;
        if (convert(b, value, depth + 1, &v) < 0)
          return -EINVAL;
        tnode_append(n, NULL, v);
      }
      break;
    }
    case JSON_STRING:
      n = tdoc_node(b->doc, TNODE_SCALAR, TNODE_STRING, p->line, p->col);
      tnode_set_text(n, json_string_value(j), json_string_length(j));
      break;
    case JSON_INTEGER:
    case JSON_REAL:
      n = tdoc_node(b->doc, TNODE_SCALAR, json_is_integer(j) ? TNODE_INT : TNODE_REAL, p->line,
                    p->col);
      tnode_set_text(n, b->sc->s + p->start, p->end - p->start);
      break;
    case JSON_TRUE:
    case JSON_FALSE:
      n = tdoc_node(b->doc, TNODE_SCALAR, TNODE_BOOL, p->line, p->col);
      n->boolean = json_is_true(j);
      tnode_set_text(n, n->boolean ? "true" : "false", n->boolean ? 4 : 5);
      break;
    default:
      n = tdoc_node(b->doc, TNODE_SCALAR, TNODE_NULL, p->line, p->col);
      tnode_set_text(n, "null", 4);
      break;
  }
  *ret = n;
  return 0;
}

int
tjson_load(const char *buf, size_t len, struct tstream *ret)
{
  *ret = (struct tstream){ 0 };
  /* jansson stops at a NUL byte; a document must not hide anything behind one. */
  const char *nul = memchr(buf, '\0', len);
  if (nul) {
    unsigned line = 1, col = 1;
    for (const char *p = buf; p < nul; p++, col++)
      if (*p == '\n')
        line++, col = 0;
    ret->error = (struct tparse_error){ line, col, strdup("JSON: NUL byte in the input") };
    return -EINVAL;
  }
  json_error_t jerr;
  json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (root == NULL) {
    ret->error.line = jerr.line > 0 ? (unsigned)jerr.line : 1;
    ret->error.col = jerr.column > 0 ? (unsigned)jerr.column : 1;
    if (asprintf(&ret->error.msg, "JSON: %s", jerr.text) < 0)
      abort();
    return -EINVAL;
  }

  struct scan sc = { .s = buf, .len = len, .line = 1, .col = 1 };
  scan_all(&sc);
  struct build b = { .sc = &sc, .doc = tdoc_new(), .err = &ret->error };
  struct tnode *top = NULL;
  int r = convert(&b, root, 1, &top);
  json_decref(root);
  free(sc.pos);
  if (r < 0) {
    tdoc_free(b.doc);
    return r;
  }
  b.doc->root = top;
  ret->docs = malloc(sizeof *ret->docs);
  if (ret->docs == NULL)
    abort();
  ret->docs[0] = b.doc;
  ret->n_docs = 1;
  return 0;
}
