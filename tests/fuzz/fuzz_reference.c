/* libFuzzer target: image reference parsing and formatting round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = strndup((const char *)data, size);
  if (s == NULL)
    return 0;
  struct image_ref ref;
  tank_error *err = NULL;
  if (image_ref_parse(s, &ref, &err) == 0) {
    char *f = image_ref_format(&ref);
    /* A formatted reference parses again to the same text. */
    struct image_ref again;
    tank_error *e2 = NULL;
    if (f && image_ref_parse(f, &again, &e2) == 0) {
      char *g = image_ref_format(&again);
      if (g && strcmp(f, g) != 0)
        abort();
      free(g);
      image_ref_clear(&again);
    }
    tank_error_free(e2);
    free(f);
    image_ref_clear(&ref);
  }
  tank_error_free(err);
  free(s);
  return 0;
}
