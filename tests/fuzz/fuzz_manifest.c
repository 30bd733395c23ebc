/* libFuzzer target: manifest / index / image config JSON, and platform
 * selection over whatever index parses. */
#include <stdint.h>
#include <stdlib.h>

#include "image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tank_error *err = NULL;
  struct oci_manifest m;
  if (oci_manifest_parse((const char *)data, size, NULL, &m, &err) == 0) {
    if (m.kind == MANIFEST_INDEX) {
      struct oci_platform p;
      oci_platform_host(&p);
      const struct oci_descriptor *d;
      if (oci_index_select(&m, &p, &d, &err) == 0 && d->digest == NULL)
        abort();
    }
    oci_manifest_clear(&m);
  }
  tank_error_free(err);
  err = NULL;
  struct image_config c;
  if (image_config_parse((const char *)data, size, &c, &err) == 0)
    image_config_clear(&c);
  tank_error_free(err);
  return 0;
}
