/* Prometheus text format writer. */
#include "api/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
prom_buf_append(struct prom_buf *b, const char *s, size_t len)
{
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL)
      abort();
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static void
puts_buf(struct prom_buf *b, const char *s)
{
  prom_buf_append(b, s, strlen(s));
}

char *
prom_buf_steal(struct prom_buf *b)
{
  char *s = b->data ? b->data : strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

void
prom_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
  puts_buf(b, "# HELP ");
  puts_buf(b, name);
  puts_buf(b, " ");
  for (const char *p = help; *p; p++) {
    if (*p == '\\')
      puts_buf(b, "\\\\");
    else if (*p == '\n')
      puts_buf(b, "\\n");
    else
      prom_buf_append(b, p, 1);
  }
  puts_buf(b, "\n# TYPE ");
  puts_buf(b, name);
  puts_buf(b, " ");
  puts_buf(b, type);
  puts_buf(b, "\n");
}

void
prom_escape_label(struct prom_buf *b, const char *value)
{
  for (const char *p = value; *p; p++) {
    if (*p == '\\')
      puts_buf(b, "\\\\");
    else if (*p == '"')
      puts_buf(b, "\\\"");
    else if (*p == '\n')
      puts_buf(b, "\\n");
    else
      prom_buf_append(b, p, 1);
  }
}

void
prom_format_value(char out[static 32], double v)
{
  if (isnan(v))
    snprintf(out, 32, "NaN");
  else if (isinf(v))
    snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 9007199254740992.0)
    snprintf(out, 32, "%.0f", v);
  else
    for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back as v */
      snprintf(out, 32, "%.*g", prec, v);
      if (strtod(out, NULL) == v)
        break;
    }
}

static void
labels_and_value(struct prom_buf *b, const char *const *labels, const char *le, double value)
{
  bool any = (labels && labels[0]) || le;
  if (any) {
    puts_buf(b, "{");
    bool first = true;
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
      if (!first)
        puts_buf(b, ",");
      first = false;
      puts_buf(b, labels[i]);
      puts_buf(b, "=\"");
      prom_escape_label(b, labels[i + 1]);
      puts_buf(b, "\"");
    }
    if (le) {
      if (!first)
        puts_buf(b, ",");
      puts_buf(b, "le=\"");
      puts_buf(b, le);
      puts_buf(b, "\"");
    }
    puts_buf(b, "}");
  }
  char num[32];
  prom_format_value(num, value);
  puts_buf(b, " ");
  puts_buf(b, num);
  puts_buf(b, "\n");
}

void
prom_sample(struct prom_buf *b, const char *name, const char *const *labels, double value)
{
  puts_buf(b, name);
  labels_and_value(b, labels, NULL, value);
}

void
prom_histogram_observe(struct prom_histogram *h, double value)
{
  pthread_mutex_lock(&h->lock);
  size_t i = 0;
  while (i < h->n_bounds && value > h->bounds[i])
    i++;
  h->counts[i]++;
  h->sum += value;
  h->count++;
  pthread_mutex_unlock(&h->lock);
}

void
prom_histogram_write(struct prom_buf *b, const char *name, const char *const *labels,
                     struct prom_histogram *h)
{
  pthread_mutex_lock(&h->lock);
  uint64_t counts[PROM_HISTOGRAM_MAX_BUCKETS + 1];
  memcpy(counts, h->counts, sizeof counts);
  double sum = h->sum;
  uint64_t count = h->count;
  pthread_mutex_unlock(&h->lock);

  char metric[256], le[32];
  snprintf(metric, sizeof metric, "%s_bucket", name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h->n_bounds; i++) {
    cumulative += counts[i];
    if (i < h->n_bounds)
      prom_format_value(le, h->bounds[i]);
    else
      snprintf(le, sizeof le, "+Inf");
    puts_buf(b, metric);
    labels_and_value(b, labels, le, (double)cumulative);
  }
  snprintf(metric, sizeof metric, "%s_sum", name);
  prom_sample(b, metric, labels, sum);
  snprintf(metric, sizeof metric, "%s_count", name);
  prom_sample(b, metric, labels, (double)count);
}
