/* The client side of an exec or attach session (frames, runtime/frame.h):
 * our stdin to the process, its output to our stdout/stderr, the window size
 * on SIGWINCH, the terminal in raw mode with a tty, and the detach keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define SESSION_MAX_DETACH_KEYS 8
#define SESSION_DETACHED        (-1000) /* session_run's answer when the detach keys were typed */

struct session_opts {
  bool tty;        /* put our terminal in raw mode (when it is one), forward its size */
  bool stdin_open; /* forward our stdin (then EOF) */
  uint8_t detach_keys[SESSION_MAX_DETACH_KEYS];
  size_t n_detach_keys;   /* 0: no detaching */
  const uint8_t *initial; /* bytes of the stream already read (after the 101) */
  size_t n_initial;
};

/* "ctrl-p,ctrl-q", "ctrl-a,x", "" (none): Docker's --detach-keys syntax. */
int session_parse_detach_keys(const char *spec, struct session_opts *o, tank_error **err);

/* Our terminal's size, or false when stdin is not a terminal. */
bool session_window_size(uint16_t *rows, uint16_t *cols);

/* Runs the session on sock until the process exits (returns its exit code,
 * 128+signal when it was killed), the detach keys are typed (returns
 * SESSION_DETACHED), or it fails (< 0 with err set, e.g. the stream ended
 * without an exit status). A message the other side sends is printed to stderr. */
int session_run(int sock, const struct session_opts *o, tank_error **err);
