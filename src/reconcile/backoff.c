/* Restart backoff arithmetic. */
#include "reconcile/backoff.h"

uint64_t
backoff_delay_ms(const struct spec_backoff *b, unsigned step, double random01)
{
  uint64_t d = b->initial_ms;
  for (unsigned i = 0; i < step && d < b->max_ms; i++)
    d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
  if (d > b->max_ms)
    d = b->max_ms;
  if (random01 < 0)
    random01 = 0;
  if (random01 >= 1)
    random01 = 0.999999;
  /* scale by a factor in [0.8, 1.2) */
  double factor = 1.0 + (random01 * 2.0 - 1.0) * BACKOFF_JITTER_PERCENT / 100.0;
  double jittered = (double)d * factor;
  return jittered < 1 ? 1 : (uint64_t)jittered;
}

unsigned
backoff_next_step(const struct spec_backoff *b, unsigned previous_step, uint64_t run_ms)
{
  if (run_ms >= b->reset_after_ms)
    return 0;
  return previous_step == UINT32_MAX ? previous_step : previous_step + 1;
}
