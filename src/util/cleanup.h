/* Scoped cleanup helpers (GCC/Clang `cleanup` attribute) and explicit steals
 * for when ownership moves. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
freep(void *p)
{
  free(*(void **)p);
}

static inline void
closep(int *fd)
{
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
  }
}

static inline void
fclosep(FILE **f)
{
  if (*f)
    fclose(*f);
}

#define _cleanup_free_   __attribute__((cleanup(freep)))
#define _cleanup_close_  __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))

/* Take ownership of a pointer, leaving NULL behind. */
#define steal_pointer(pp)                                                                          \
  ({                                                                                               \
    __typeof__(*(pp)) _stolen = *(pp);                                                             \
    *(pp) = NULL;                                                                                  \
    _stolen;                                                                                       \
  })

/* Take ownership of an fd, leaving -EBADF behind. */
#define steal_fd(fdp)                                                                              \
  ({                                                                                               \
    int _stolen = *(fdp);                                                                          \
    *(fdp) = -EBADF;                                                                               \
    _stolen;                                                                                       \
  })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
