/*
 * rng.h - the simulator's draws: the tests' generator (tests/test_rng.h,
 * xoshiro256** seeded through splitmix64) plus the exponential draw only
 * traces need.  Not for secrets: it only shapes traces, so that the same
 * --seed gives the same trace on every machine.
 *
 * Invariants: no floating point reaches a trace value except through
 * rng_exp_ms, whose result is rounded to whole milliseconds; the libm calls
 * it makes (log) are correctly rounded on glibc for the inputs used, and the
 * determinism test catches any platform where they are not.
 */
#ifndef LULL_SIM_RNG_H
#define LULL_SIM_RNG_H

#include <math.h>
#include <stdint.h>

#include "../tests/test_rng.h"

typedef test_rng sim_rng;

/* Exponentially distributed with the given mean, whole milliseconds. */
static inline uint64_t sim_rng_exp_ms(sim_rng *r, uint64_t mean_ms)
{
	/* 53 random bits in (0, 1]: never log(0). */
	double u = (double)((test_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
	return (uint64_t)llround(-log(u) * (double)mean_ms);
}

#endif /* LULL_SIM_RNG_H */
