/* The Prometheus text exposition format (version 0.0.4): families with HELP and
 * TYPE, samples with escaped labels, and histograms that many threads observe. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct prom_buf {
  char *data;
  size_t len, cap;
};

/* Starts a family: "# HELP name help" and "# TYPE name type" (type: counter,
 * gauge, histogram, untyped). Each family once, its samples right after. */
void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{k="v",...} value. labels: key, value, key, value, ..., NULL
 * (may be NULL). Values are escaped; integers below 2^53 print exactly. */
void prom_sample(struct prom_buf *b, const char *name, const char *const *labels, double value);

/* Label value escaping (\\, \", \n) and the number format, for tests. */
void prom_escape_label(struct prom_buf *b, const char *value);
void prom_format_value(char out[static 32], double v);

#define PROM_HISTOGRAM_MAX_BUCKETS 16

/* A histogram: observe from any thread, write from one. */
struct prom_histogram {
  pthread_mutex_t lock;
  const double *bounds; /* upper bounds, ascending, without +Inf */
  size_t n_bounds;
  uint64_t counts[PROM_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
  double sum;
  uint64_t count;
};

#define PROM_HISTOGRAM_INIT(b, n)                                                                  \
  {                                                                                                \
    .lock = PTHREAD_MUTEX_INITIALIZER, .bounds = (b), .n_bounds = (n)                              \
  }

void prom_histogram_observe(struct prom_histogram *h, double value);
/* Writes name_bucket{...,le="..."} (cumulative), name_sum and name_count; the
 * family line is the caller's. */
void prom_histogram_write(struct prom_buf *b, const char *name, const char *const *labels,
                          struct prom_histogram *h);

void prom_buf_append(struct prom_buf *b, const char *s, size_t len);
/* Hands the text over (NUL-terminated) and empties b. */
char *prom_buf_steal(struct prom_buf *b);
