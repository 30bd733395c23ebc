/* tank validate: placeholder until the spec model lands. */
#include <stdio.h>

#include "cmd/verbs.h"

int
verb_validate(int argc, char **argv)
{
  fprintf(stderr, "tank validate: not implemented yet\n");
  return 1;
}
