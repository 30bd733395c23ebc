/* Stage-tagged failures ("stage=pivot_root errno=ENOENT: ..."): the errno's
 * symbolic name, "0" when there is none. */
#pragma once

#include <string.h>

static inline const char *
errno_name(int errnum)
{
  const char *name = errnum > 0 ? strerrorname_np(errnum) : NULL;
  return name ? name : "0";
}
