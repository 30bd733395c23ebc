/* Document trees: allocation, lookup and the YAML 1.2 core-schema resolver. */
#include "spec/node.h"

#include <stdlib.h>
#include <string.h>

static void *
xrealloc(void *p, size_t n)
{
  void *r = realloc(p, n);
  if (r == NULL && n)
    abort();
  return r;
}

struct tdoc *
tdoc_new(void)
{
  struct tdoc *d = calloc(1, sizeof *d);
  if (d == NULL)
    abort();
  return d;
}

struct tdoc *
tdoc_free(struct tdoc *d)
{
  if (d == NULL)
    return NULL;
  for (size_t i = 0; i < d->n_all; i++) {
    free(d->all[i]->text);
    free(d->all[i]->keys);
    free(d->all[i]->items);
    free(d->all[i]);
  }
  free(d->all);
  for (size_t i = 0; i < d->n_strings; i++)
    free(d->strings[i]);
  free(d->strings);
  free(d);
  return NULL;
}

struct tnode *
tdoc_node(struct tdoc *d, enum tnode_kind kind, enum tnode_type type, unsigned line, unsigned col)
{
  struct tnode *n = calloc(1, sizeof *n);
  if (n == NULL)
    abort();
  n->kind = kind;
  n->type = type;
  n->line = line;
  n->col = col;
  n->weight = 1;
  if (d->n_all == d->cap_all) {
    d->cap_all = d->cap_all ? d->cap_all * 2 : 64;
    d->all = xrealloc(d->all, d->cap_all * sizeof *d->all);
  }
  d->all[d->n_all++] = n;
  return n;
}

const char *
tdoc_strdup(struct tdoc *d, const char *s)
{
  if (d->n_strings == d->cap_strings) {
    d->cap_strings = d->cap_strings ? d->cap_strings * 2 : 16;
    d->strings = xrealloc(d->strings, d->cap_strings * sizeof *d->strings);
  }
  char *c = strdup(s);
  if (c == NULL)
    abort();
  d->strings[d->n_strings++] = c;
  return c;
}

void
tnode_set_text(struct tnode *n, const char *text, size_t len)
{
  free(n->text);
  n->text = malloc(len + 1);
  if (n->text == NULL)
    abort();
  memcpy(n->text, text, len);
  n->text[len] = '\0';
  n->len = len;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
  return a + b < a ? UINT64_MAX : a + b;
}

void
tnode_append(struct tnode *parent, struct tnode *key, struct tnode *item)
{
  if (parent->n == parent->cap) {
    parent->cap = parent->cap ? parent->cap * 2 : 4;
    parent->items = xrealloc(parent->items, parent->cap * sizeof *parent->items);
    if (parent->kind == TNODE_MAP)
      parent->keys = xrealloc(parent->keys, parent->cap * sizeof *parent->keys);
  }
  if (parent->kind == TNODE_MAP)
    parent->keys[parent->n] = key;
  parent->items[parent->n++] = item;
  parent->weight = sat_add(parent->weight, item->weight);
  if (key)
    parent->weight = sat_add(parent->weight, key->weight);
}

struct tnode *
tnode_get(const struct tnode *map, const char *key)
{
  if (map == NULL || map->kind != TNODE_MAP)
    return NULL;
  size_t klen = strlen(key);
  for (size_t i = 0; i < map->n; i++) {
    const struct tnode *k = map->keys[i];
    if (k->kind == TNODE_SCALAR && k->len == klen && memcmp(k->text, key, klen) == 0)
      return map->items[i];
  }
  return NULL;
}

const char *
tnode_type_name(enum tnode_type t)
{
  switch (t) {
    case TNODE_STRING:
      return "a string";
    case TNODE_INT:
      return "an integer";
    case TNODE_REAL:
      return "a number";
    case TNODE_BOOL:
      return "a boolean";
    case TNODE_NULL:
      return "null";
    case TNODE_MAPPING:
      return "a mapping";
    case TNODE_SEQUENCE:
      return "a list";
  }
  return "?";
}

static bool
all_in(const char *s, size_t len, const char *set)
{
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++)
    if (strchr(set, s[i]) == NULL || s[i] == '\0')
      return false;
  return true;
}

static bool
is_one_of(const char *s, size_t len, const char *const *words)
{
  for (; *words; words++)
    if (strlen(*words) == len && memcmp(s, *words, len) == 0)
      return true;
  return false;
}

/* Decimal real: [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool
is_real(const char *s, size_t len)
{
  size_t i = 0, digits = 0;
  if (i < len && (s[i] == '-' || s[i] == '+'))
    i++;
  while (i < len && s[i] >= '0' && s[i] <= '9')
    i++, digits++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++, digits++;
  }
  if (digits == 0)
    return false;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '-' || s[i] == '+'))
      i++;
    size_t exp = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++, exp++;
    if (exp == 0)
      return false;
  }
  return i == len;
}

enum tnode_type
tyaml_resolve_plain(const char *s, size_t len)
{
  static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
  static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE", NULL };
  static const char *const reals[] = { ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                       "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL };
  if (is_one_of(s, len, nulls))
    return TNODE_NULL;
  if (is_one_of(s, len, bools))
    return TNODE_BOOL;
  const char *d = s;
  size_t dl = len;
  if (dl > 0 && (d[0] == '-' || d[0] == '+'))
    d++, dl--;
  if (all_in(d, dl, "0123456789"))
    return TNODE_INT;
  if (len > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, len - 2, "01234567"))
    return TNODE_INT;
  if (len > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, len - 2, "0123456789abcdefABCDEF"))
    return TNODE_INT;
  if (is_real(s, len) || is_one_of(s, len, reals))
    return TNODE_REAL;
  return TNODE_STRING;
}

void
tstream_clear(struct tstream *s)
{
  for (size_t i = 0; i < s->n_docs; i++)
    tdoc_free(s->docs[i]);
  free(s->docs);
  free(s->error.msg);
  *s = (struct tstream){ 0 };
}
