/* Fuzzes the CRI log record parser (a container writes the text, so it is
 * untrusted) and the --since parser: a parsed record formatted again by the
 * writer parses back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/crilog.h"
#include "runtime/logread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *line = (const char *)data;
  struct cri_record r;
  if (cri_parse_record(line, size, &r) == 0 && r.len <= CRI_LINE_MAX) {
    char *out = malloc(r.len + 64);
    if (out == NULL)
      return 0;
    struct timespec ts = { (time_t)(r.time_ns / 1000000000), (long)(r.time_ns % 1000000000) };
    size_t n = cri_format_record(out, &ts, r.stream, r.partial ? 'P' : 'F', r.text, r.len);
    struct cri_record again;
    if (n == 0 || out[n - 1] != '\n' || cri_parse_record(out, n - 1, &again) != 0
        || again.time_ns != r.time_ns || again.stream != r.stream || again.partial != r.partial
        || again.len != r.len || memcmp(again.text, r.text, r.len) != 0)
      abort();
    free(out);
  }
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  int64_t t;
  if (log_parse_since(s, 2000000000LL * 1000000000LL, &t) == 0 && t < 0)
    abort();
  free(s);
  return 0;
}
