/* Stage-tagged failures ("stage=pivot_root errno=ENOENT: ..."): the errno's
 * symbolic name, "0" when there is none. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

static inline const char *
errno_name(int errnum)
{
  const char *name = errnum > 0 ? strerrorname_np(errnum) : NULL;
  return name ? name : "0";
}

/* What a container child (spawn.c) or an exec'd child (exec.c) writes on its
 * report pipe when a stage fails before exec; EOF on the pipe means exec worked. */
struct child_report {
  int32_t errnum;
  char msg[1020];
};

static inline _Noreturn void
stage_fail(int report_fd, const char *stage, tank_error *e)
{
  struct child_report rep = { 0 };
  int en = e ? e->errnum : EINVAL;
  snprintf(rep.msg, sizeof rep.msg, "stage=%s errno=%s: %s", stage, errno_name(en),
           e ? e->msg : "failed");
  rep.errnum = en;
  ssize_t w = write(report_fd, &rep, sizeof rep);
  (void)w;
  _exit(127);
}

/* In a child with a `ctx` holding report_fd: runs call with `err` in scope and
 * reports the stage and exits when it fails. */
#define STEP(stage, call)                                                                          \
  do {                                                                                             \
    tank_error *_e = NULL;                                                                         \
    tank_error **err = &_e;                                                                        \
    if ((call) < 0)                                                                                \
      stage_fail(ctx->report_fd, stage, _e);                                                       \
    (void)err;                                                                                     \
  } while (0)
