/* Fuzz target for the spec front ends (YAML, JSON, Kubernetes conversion) and
 * the validator. The first byte picks the front end. Every pod that validates
 * must survive canonical JSON and YAML round trips unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct spec_pod *pod)
{
  char *canon = spec_pod_to_canonical(pod);
  struct spec_file again;
  if (spec_parse(canon, strlen(canon), "canonical", SPEC_FORMAT_JSON, &again) < 0
      || again.n_pods != 1 || !spec_pod_equal(pod, again.pods[0])) {
    fprintf(stderr, "canonical round trip failed: %s\n", canon);
    abort();
  }
  spec_file_free(&again);

  char *yaml = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&yaml, &len);
  json_t *j = spec_pod_to_json(pod);
  if (spec_emit_yaml(mem, &j, 1) < 0)
    abort();
  fclose(mem);
  json_decref(j);
  if (spec_parse(yaml, len, "yaml", SPEC_FORMAT_YAML, &again) < 0 || again.n_pods != 1
      || !spec_pod_equal(pod, again.pods[0])) {
    fprintf(stderr, "YAML round trip failed:\n%s\n", yaml);
    abort();
  }
  spec_file_free(&again);
  free(yaml);
  free(canon);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  static const enum spec_format formats[]
      = { SPEC_FORMAT_YAML, SPEC_FORMAT_JSON, SPEC_FORMAT_AUTO };
  enum spec_format fmt = formats[data[0] % 3];
  struct spec_file f;
  spec_parse((const char *)data + 1, size - 1, "fuzz", fmt, &f);
  for (size_t i = 0; i < f.n_pods; i++)
    if (f.pods[i])
      check_round_trip(f.pods[i]);
  spec_file_free(&f);
  return 0;
}
