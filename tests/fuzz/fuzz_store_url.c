/* Fuzzes the store URL parser (a URL comes from flags, env and tank.yaml). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  struct tank_store_url u;
  tank_error *err = NULL;
  if (tank_store_url_parse(s, &u, &err) == 0)
    tank_store_url_clear(&u);
  tank_error_free(err);
  free(s);
  return 0;
}
