/* tank_error: an errno plus a message, built at the failure site and wrapped
 * with context on the way up, so a person sees every layer of "what, where, why". */
#pragma once

#include <stdarg.h>

typedef struct tank_error {
  int errnum; /* positive errno, 0 when the cause is not a system error */
  char *msg;
} tank_error;

/* Sets *err (when err is non-NULL and *err is NULL) to "<fmt>: <strerror(errnum)>"
 * (or just "<fmt>" when errnum is 0). Returns -errnum, or -EINVAL when errnum is 0,
 * so callers can `return tank_error_set (err, errno, "open `%s`", path);`. */
int tank_error_set(tank_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes context to an existing error: "<fmt>: <old message>". Returns the
 * same negative value tank_error_set returned. A NULL *err is left alone. */
int tank_error_wrap(tank_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The negative return code for an error already set. */
int tank_error_code(const tank_error *err);

tank_error *tank_error_free(tank_error *err);
void tank_error_freep(tank_error **err);
#define _cleanup_error_ __attribute__((cleanup(tank_error_freep)))
