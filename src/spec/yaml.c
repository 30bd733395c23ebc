/* YAML front end: libyaml events into position-carrying trees. Aliases share
 * nodes and count their full expansion against SPEC_MAX_NODES, so a "billion
 * laughs" document is refused after a few kilobytes of work. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "spec/node.h"
#include "spec/spec.h"

struct frame {
  struct tnode *node;
  struct tnode *pending_key; /* maps: a key waiting for its value */
};

struct anchor {
  char *name;
  struct tnode *node;
  bool open; /* still being built: an alias to it would be recursive */
};

struct loader {
  yaml_parser_t parser;
  struct tstream *out;
  struct tdoc *doc;
  struct frame stack[SPEC_MAX_DEPTH + 1];
  size_t depth;
  struct anchor *anchors;
  size_t n_anchors, cap_anchors;
};

static int fail(struct loader *l, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct loader *l, const yaml_mark_t *mark, const char *fmt, ...)
{
  if (l->out->error.msg == NULL) {
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&l->out->error.msg, fmt, ap) < 0)
      abort();
    va_end(ap);
    l->out->error.line = (unsigned)mark->line + 1;
    l->out->error.col = (unsigned)mark->column + 1;
  }
  return -EINVAL;
}

static void
clear_anchors(struct loader *l)
{
  for (size_t i = 0; i < l->n_anchors; i++)
    free(l->anchors[i].name);
  l->n_anchors = 0;
}

static int
add_anchor(struct loader *l, const yaml_char_t *name, struct tnode *node, bool open)
{
  if (name == NULL)
    return 0;
  /* A redefined anchor shadows the earlier one, as YAML says. */
  if (l->n_anchors == l->cap_anchors) {
    l->cap_anchors = l->cap_anchors ? l->cap_anchors * 2 : 8;
    l->anchors = realloc(l->anchors, l->cap_anchors * sizeof *l->anchors);
    if (l->anchors == NULL)
      abort();
  }
  l->anchors[l->n_anchors++] = (struct anchor){ strdup((const char *)name), node, open };
  return 0;
}

static struct anchor *
find_anchor(struct loader *l, const yaml_char_t *name)
{
  for (size_t i = l->n_anchors; i-- > 0;)
    if (strcmp(l->anchors[i].name, (const char *)name) == 0)
      return &l->anchors[i];
  return NULL;
}

/* Attaches a finished node to the open collection (or makes it the root). */
static int
attach(struct loader *l, struct tnode *node, const yaml_mark_t *mark)
{
  if (node->weight > SPEC_MAX_NODES)
    return fail(l, mark, "document too large: more than %d nodes once aliases are expanded",
                SPEC_MAX_NODES);
  if (l->depth == 0) {
    l->doc->root = node;
    return 0;
  }
  struct frame *top = &l->stack[l->depth - 1];
  if (top->node->kind == TNODE_SEQ) {
    tnode_append(top->node, NULL, node);
  } else if (top->pending_key == NULL) {
    if (node->kind != TNODE_SCALAR)
      return fail(l, mark, "mapping keys must be plain strings, not %s",
                  tnode_type_name(node->type));
    top->pending_key = node;
    return 0;
  } else {
    tnode_append(top->node, top->pending_key, node);
    top->pending_key = NULL;
  }
  if (top->node->weight > SPEC_MAX_NODES)
    return fail(l, mark, "document too large: more than %d nodes once aliases are expanded",
                SPEC_MAX_NODES);
  return 0;
}

static bool
tag_is(const yaml_char_t *tag, const char *want)
{
  return tag && strcmp((const char *)tag, want) == 0;
}

static int
on_scalar(struct loader *l, yaml_event_t *ev)
{
  const yaml_mark_t *m = &ev->start_mark;
  enum tnode_type type = TNODE_STRING;
  const char *value = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;

  if (ev->data.scalar.tag && !tag_is(ev->data.scalar.tag, YAML_STR_TAG)
      && !tag_is(ev->data.scalar.tag, "!"))
    return fail(l, m, "YAML tag `%s` is not supported (only !!str)",
                (const char *)ev->data.scalar.tag);
  if (ev->data.scalar.tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    type = tyaml_resolve_plain(value, len);

  struct tnode *n
      = tdoc_node(l->doc, TNODE_SCALAR, type, (unsigned)m->line + 1, (unsigned)m->column + 1);
  tnode_set_text(n, value, len);
  if (type == TNODE_BOOL)
    n->boolean = value[0] == 't' || value[0] == 'T';
  add_anchor(l, ev->data.scalar.anchor, n, false);
  return attach(l, n, m);
}

static int
on_collection_start(struct loader *l, yaml_event_t *ev, bool is_map)
{
  const yaml_mark_t *m = &ev->start_mark;
  const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
  const yaml_char_t *anchor
      = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
  if (tag && !tag_is(tag, is_map ? YAML_MAP_TAG : YAML_SEQ_TAG))
    return fail(l, m, "YAML tag `%s` is not supported", (const char *)tag);
  if (l->depth >= SPEC_MAX_DEPTH)
    return fail(l, m, "document nested deeper than %d levels", SPEC_MAX_DEPTH);
  if (l->depth > 0) {
    struct frame *top = &l->stack[l->depth - 1];
    if (top->node->kind == TNODE_MAP && top->pending_key == NULL)
      return fail(l, m, "mapping keys must be plain strings, not %s",
                  is_map ? "a mapping" : "a list");
  }
  struct tnode *n
      = tdoc_node(l->doc, is_map ? TNODE_MAP : TNODE_SEQ, is_map ? TNODE_MAPPING : TNODE_SEQUENCE,
                  (unsigned)m->line + 1, (unsigned)m->column + 1);
  add_anchor(l, anchor, n, true);
  l->stack[l->depth++] = (struct frame){ n, NULL };
  return 0;
}

static int
on_collection_end(struct loader *l, yaml_event_t *ev)
{
  struct tnode *n = l->stack[--l->depth].node;
  for (size_t i = 0; i < l->n_anchors; i++)
    if (l->anchors[i].node == n)
      l->anchors[i].open = false;
  return attach(l, n, &ev->start_mark);
}

static int
on_alias(struct loader *l, yaml_event_t *ev)
{
  struct anchor *a = find_anchor(l, ev->data.alias.anchor);
  if (a == NULL)
    return fail(l, &ev->start_mark, "alias `*%s` names no anchor defined before it",
                (const char *)ev->data.alias.anchor);
  if (a->open)
    return fail(l, &ev->start_mark, "alias `*%s` refers to a node that contains it",
                (const char *)ev->data.alias.anchor);
  return attach(l, a->node, &ev->start_mark);
}

static void
push_doc(struct tstream *s, struct tdoc *d)
{
  struct tdoc **docs = realloc(s->docs, (s->n_docs + 1) * sizeof *docs);
  if (docs == NULL)
    abort();
  s->docs = docs;
  s->docs[s->n_docs++] = d;
}

static int
run(struct loader *l)
{
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&l->parser, &ev)) {
      const char *problem = l->parser.problem ? l->parser.problem : "malformed YAML";
      char msg[256];
      snprintf(msg, sizeof msg, "%s%s%s", problem, l->parser.context ? " " : "",
               l->parser.context ? l->parser.context : "");
      return fail(l, &l->parser.problem_mark, "YAML: %s", msg);
    }
    int r = 0;
    bool done = false;
    switch (ev.type) {
      case YAML_DOCUMENT_START_EVENT:
        l->doc = tdoc_new();
        l->depth = 0;
        clear_anchors(l);
        break;
      case YAML_DOCUMENT_END_EVENT:
        push_doc(l->out, l->doc);
        l->doc = NULL;
        break;
      case YAML_SCALAR_EVENT:
        r = on_scalar(l, &ev);
        break;
      case YAML_SEQUENCE_START_EVENT:
        r = on_collection_start(l, &ev, false);
        break;
      case YAML_MAPPING_START_EVENT:
        r = on_collection_start(l, &ev, true);
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        r = on_collection_end(l, &ev);
        break;
      case YAML_ALIAS_EVENT:
        r = on_alias(l, &ev);
        break;
      case YAML_STREAM_END_EVENT:
        done = true;
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
    if (r < 0)
      return r;
    if (done)
      return 0;
  }
}

int
tyaml_load(const char *buf, size_t len, struct tstream *ret)
{
  struct loader l = { .out = ret };
  *ret = (struct tstream){ 0 };
  if (!yaml_parser_initialize(&l.parser))
    abort();
  yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);
  int r = run(&l);
  yaml_parser_delete(&l.parser);
  l.doc = tdoc_free(l.doc);
  clear_anchors(&l);
  free(l.anchors);
  return r;
}
