/* Fuzzes the parsers of the runtime's input: the container config, the OCI
 * image config from an image (untrusted) and passwd/group text from an image. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/config.h"
#include "runtime/process.h"
#include "runtime/user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tank_error *err = NULL;
  struct container_config *c = NULL;
  if (container_config_parse((const char *)data, size, &c, &err) == 0) {
    struct process_plan p;
    if (process_merge(c, NULL, "h", &p, &err) == 0)
      process_plan_clear(&p);
    container_config_free(c);
  }
  err = tank_error_free(err);
  struct image_process img;
  if (image_process_parse((const char *)data, size, &img, &err) == 0)
    image_process_clear(&img);
  err = tank_error_free(err);
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct user_ids ids;
  const char *specs[] = { "app", "1000", "app:extra", "0:audio" };
  for (size_t i = 0; i < 4; i++) {
    user_resolve(specs[i], text, text, &ids, &err);
    err = tank_error_free(err);
  }
  free(text);
  return 0;
}
