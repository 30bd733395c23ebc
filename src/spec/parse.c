/* spec_parse: bytes → documents → (Kubernetes conversion) → validated pods. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/validate.h"

static bool
looks_like_json(const char *buf, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')
      continue;
    return buf[i] == '{';
  }
  return false;
}

static void
push_pod(struct spec_file *f, struct spec_pod *pod)
{
  struct spec_pod **pods = realloc(f->pods, (f->n_pods + 1) * sizeof *pods);
  if (pods == NULL)
    abort();
  f->pods = pods;
  f->pods[f->n_pods++] = pod;
}

static bool
is_k8s(const struct tnode *root)
{
  return root->kind == TNODE_MAP && (tnode_get(root, "apiVersion") || tnode_get(root, "kind"));
}

int
spec_parse(const char *buf, size_t len, const char *filename, enum spec_format format,
           struct spec_file *ret)
{
  *ret = (struct spec_file){ 0 };
  struct vctx c = { .file = filename, .out = ret };

  if (len > SPEC_MAX_BYTES) {
    verr(&c, NULL, "", "file is %zu bytes; a spec may be at most %d bytes", len, SPEC_MAX_BYTES);
    vctx_flush(&c);
    return -EFBIG;
  }
  if (format == SPEC_FORMAT_AUTO)
    format = looks_like_json(buf, len) ? SPEC_FORMAT_JSON : SPEC_FORMAT_YAML;

  struct tstream s;
  int r = format == SPEC_FORMAT_JSON ? tjson_load(buf, len, &s) : tyaml_load(buf, len, &s);
  (void)r;

  size_t total_errors = 0;
  bool any_doc = false;
  for (size_t i = 0; i < s.n_docs; i++) {
    struct tdoc *doc = s.docs[i];
    if (doc->root == NULL || doc->root->type == TNODE_NULL)
      continue; /* an empty document, such as after a trailing `---` */
    any_doc = true;
    c.errors = 0;
    c.suppressed = 0;
    const struct tnode *root = doc->root;
    if (is_k8s(root))
      root = spec_convert_k8s(&c, doc, root);
    struct spec_pod *pod = root ? spec_validate_pod(&c, root) : NULL;
    if (c.errors)
      pod = spec_pod_free(pod);
    vctx_flush(&c);
    if (c.suppressed) {
      char *line = NULL;
      if (asprintf(&line, "%s: ... and %zu more errors", filename, c.suppressed) < 0)
        abort();
      ret->errors = realloc(ret->errors, (ret->n_errors + 1) * sizeof *ret->errors);
      if (ret->errors == NULL)
        abort();
      ret->errors[ret->n_errors++] = line;
    }
    total_errors += c.errors;
    push_pod(ret, pod);
  }
  if (s.error.msg) {
    struct tnode at = { .line = s.error.line, .col = s.error.col };
    verr(&c, &at, "", "%s", s.error.msg);
    total_errors++;
  } else if (!any_doc) {
    verr(&c, NULL, "", "no pod in the input (expected a mapping with name and containers)");
    total_errors++;
  }
  vctx_flush(&c);
  tstream_clear(&s);
  return total_errors ? -EINVAL : 0;
}
