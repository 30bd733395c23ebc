/* Restart backoff (DESIGN.md §7): min(initial * 2^n, max) with ±20 % jitter,
 * where n counts consecutive failed runs and resets after reset_after of
 * stable running. Pure functions; the caller supplies time and randomness. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"

#define BACKOFF_JITTER_PERCENT 20

/* The delay before restart number `step` (0 for the first restart after a
 * stable run). `random01` in [0, 1) picks the jitter; 0.5 means none. */
uint64_t backoff_delay_ms(const struct spec_backoff *b, unsigned step, double random01);

/* The step to use after a run that lasted run_ms: 0 when it was stable (reset),
 * else previous_step + 1 (saturating). */
unsigned backoff_next_step(const struct spec_backoff *b, unsigned previous_step, uint64_t run_ms);
