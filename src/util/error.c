/* tank_error construction and wrapping. */
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return NULL;
  return s;
}

int
tank_error_code(const tank_error *err)
{
  if (err == NULL || err->errnum == 0)
    return -EINVAL;
  return -err->errnum;
}

int
tank_error_set(tank_error **err, int errnum, const char *fmt, ...)
{
  int ret = errnum > 0 ? -errnum : -EINVAL;
  if (err == NULL || *err != NULL)
    return ret;

  tank_error *e = calloc(1, sizeof *e);
  if (e == NULL)
    abort();
  va_list ap;
  va_start(ap, fmt);
  char *what = vformat(fmt, ap);
  va_end(ap);
  if (what == NULL)
    abort();
  e->errnum = errnum > 0 ? errnum : 0;
  if (errnum > 0) {
    if (asprintf(&e->msg, "%s: %s", what, strerror(errnum)) < 0)
      abort();
    free(what);
  } else {
    e->msg = what;
  }
  *err = e;
  return ret;
}

int
tank_error_wrap(tank_error **err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -EINVAL;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vformat(fmt, ap);
  va_end(ap);
  char *msg = NULL;
  if (ctx == NULL || asprintf(&msg, "%s: %s", ctx, (*err)->msg) < 0)
    abort();
  free(ctx);
  free((*err)->msg);
  (*err)->msg = msg;
  return tank_error_code(*err);
}

tank_error *
tank_error_free(tank_error *err)
{
  if (err) {
    free(err->msg);
    free(err);
  }
  return NULL;
}

void
tank_error_freep(tank_error **err)
{
  *err = tank_error_free(*err);
}
