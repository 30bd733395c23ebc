/* NULL-terminated string vectors. */
#include "util/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t
strv_length(char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

int
strv_push(char ***v, char *s)
{
  size_t n = strv_length(*v);
  char **nv = realloc(*v, (n + 2) * sizeof *nv);
  if (nv == NULL) {
    free(s);
    return -ENOMEM;
  }
  nv[n] = s;
  nv[n + 1] = NULL;
  *v = nv;
  return 0;
}

char **
strv_copy(char *const *v)
{
  size_t n = strv_length(v);
  char **c = calloc(n + 1, sizeof *c);
  if (c == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((c[i] = strdup(v[i])) == NULL)
      return strv_free(c);
  return c;
}

char **
strv_free(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
  return NULL;
}

void
strv_freep(char ***v)
{
  strv_free(*v);
}

void
strv_free_n(char **v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

char **
strv_copy_n(char *const *v, size_t n, size_t *ret_n)
{
  *ret_n = 0;
  if (n == 0)
    return NULL;
  char **c = calloc(n, sizeof *c);
  if (c == NULL)
    abort();
  for (size_t i = 0; i < n; i++)
    if ((c[i] = strdup(v[i])) == NULL)
      abort();
  *ret_n = n;
  return c;
}
