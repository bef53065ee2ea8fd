/*
 * rng.h - the simulator's own deterministic PRNG: xoshiro256** seeded
 * through splitmix64 (Blackman and Vigna).  Not for secrets: it only shapes
 * traces, so that the same --seed gives the same trace on every machine.
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

typedef struct sim_rng {
	uint64_t s[4];
} sim_rng;

static inline uint64_t sim_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Seed with a value and a stream label, so that generators seeded with the
 * same --seed still draw independent streams. */
static inline void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = sim_splitmix64(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_next(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim_rotl(s[3], 45);
	return result;
}

/* Uniform in [lo, hi], both inclusive (rejection sampling: no modulo bias). */
static inline uint64_t sim_rng_range(sim_rng *r, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;
	if (span == 0)
		return sim_rng_next(r); /* the whole 64-bit range */
	uint64_t limit = UINT64_MAX - UINT64_MAX % span;
	uint64_t v;
	do
		v = sim_rng_next(r);
	while (v >= limit);
	return lo + v % span;
}

/* True with probability num/den. */
static inline int sim_rng_chance(sim_rng *r, uint64_t num, uint64_t den)
{
	return sim_rng_range(r, 0, den - 1) < num;
}

/* Exponentially distributed with the given mean, whole milliseconds. */
static inline uint64_t sim_rng_exp_ms(sim_rng *r, uint64_t mean_ms)
{
	/* 53 random bits in (0, 1]: never log(0). */
	double u = (double)((sim_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
	return (uint64_t)llround(-log(u) * (double)mean_ms);
}

#endif /* LULL_SIM_RNG_H */
