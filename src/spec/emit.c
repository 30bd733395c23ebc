/* YAML output of a JSON value (for `-o yaml`), quoting every string that a
 * YAML reader would otherwise take for a number, boolean or null. */
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "spec/node.h"
#include "spec/spec.h"

/* Strings a YAML 1.1 reader (PyYAML, older tools) would take for something
 * else: sexagesimal numbers such as 1000:1000, and yes/no/on/off. */
static bool
ambiguous_in_yaml11(const char *s, size_t len)
{
  static const char *const words[] = { "y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                       "NO", "on", "On",  "ON",  "off", "Off", "OFF", NULL };
  for (const char *const *w = words; *w; w++)
    if (strlen(*w) == len && memcmp(*w, s, len) == 0)
      return true;
  if (len == 0 || s[0] < '0' || s[0] > '9')
    return false;
  return strspn(s, "0123456789:._+-") == len;
}

static int
scalar(yaml_emitter_t *e, const char *s, size_t len, bool is_string)
{
  yaml_event_t ev;
  bool ambiguous
      = is_string && (tyaml_resolve_plain(s, len) != TNODE_STRING || ambiguous_in_yaml11(s, len));
  yaml_scalar_style_t style = ambiguous ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, !ambiguous, 1,
                                    style))
    return -1;
  return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int
emit_value(yaml_emitter_t *e, json_t *j)
{
  yaml_event_t ev;
  char buf[64];
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)
          || !yaml_emitter_emit(e, &ev))
        return -1;
      const char *key;
      json_t *v;
      json_object_foreach(j, key, v)
      {
        if (scalar(e, key, strlen(key), true) < 0 || emit_value(e, v) < 0)
          return -1;
      }
      if (!yaml_mapping_end_event_initialize(&ev))
        return -1;
      return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    case JSON_ARRAY: {
      yaml_sequence_style_t style
          = json_array_size(j) == 0 ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE;
      if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, style)
          || !yaml_emitter_emit(e, &ev))
        return -1;
      size_t i;
      json_t *v;
      json_array_foreach(j, i, v)
      {
        if (emit_value(e, v) < 0)
          return -1;
      }
      if (!yaml_sequence_end_event_initialize(&ev))
        return -1;
      return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    case JSON_STRING:
      return scalar(e, json_string_value(j), json_string_length(j), true);
    case JSON_INTEGER:
      snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(j));
      return scalar(e, buf, strlen(buf), false);
    case JSON_REAL:
      snprintf(buf, sizeof buf, "%.17g", json_real_value(j));
      return scalar(e, buf, strlen(buf), false);
    case JSON_TRUE:
      return scalar(e, "true", 4, false);
    case JSON_FALSE:
      return scalar(e, "false", 5, false);
    default:
      return scalar(e, "null", 4, false);
  }
}

int
spec_emit_yaml(FILE *f, json_t *const *docs, size_t n_docs)
{
  yaml_emitter_t e;
  yaml_event_t ev;
  int r = -1;
  if (!yaml_emitter_initialize(&e))
    return -1;
  yaml_emitter_set_output_file(&e, f);
  yaml_emitter_set_unicode(&e, 1);
  yaml_emitter_set_width(&e, 100);
  if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(&e, &ev))
    goto out;
  for (size_t i = 0; i < n_docs; i++) {
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, n_docs == 1)
        || !yaml_emitter_emit(&e, &ev) || emit_value(&e, docs[i]) < 0
        || !yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&e, &ev))
      goto out;
  }
  if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&e, &ev))
    goto out;
  r = 0;
out:
  yaml_emitter_delete(&e);
  return r;
}
