/*
 * test_rng.h - the one deterministic generator of the tests and tools:
 * xoshiro256** seeded through splitmix64 (Blackman and Vigna).  Not for
 * secrets: it only makes test schedules, traffic streams, simulator traces
 * and fuzz randomness reproducible, so that the same seed gives the same
 * bytes on every machine and on both ends of a connection.
 *
 * Users: the unit tests, sim/ (traces, through sim/rng.h), the integration
 * tools (lull-echo, lull-load, soak_client: both ends draw the same stream,
 * so a receiver checks every byte without storing it) and fuzz/ (the
 * engine's random source, test_splitmix64 alone).
 *
 * Invariants: test_rng_seed(r, seed, 0) seeds from splitmix64 started at
 * seed itself, so streams drawn before this header existed are unchanged.
 */
#ifndef LULL_TEST_RNG_H
#define LULL_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct test_rng {
	uint64_t s[4];
	uint8_t buf[8]; /* test_rng_fill: bytes of the last draw not yet used */
	unsigned left;
} test_rng;

/* One splitmix64 step: advances *x, returns the mixed value. */
static inline uint64_t test_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Seed with a value and a stream label, so that generators seeded with the
 * same seed still draw independent streams (label 0: the plain seed). */
static inline void test_rng_seed(test_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = test_splitmix64(&x);
	r->left = 0;
}

static inline uint64_t test_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t test_rng_next(test_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = test_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = test_rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [lo, hi], both inclusive (rejection sampling: no modulo bias). */
static inline uint64_t test_rng_range(test_rng *r, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;
	if (span == 0)
		return test_rng_next(r); /* the whole 64-bit range */
	uint64_t limit = UINT64_MAX - UINT64_MAX % span;
	uint64_t v;
	do
		v = test_rng_next(r);
	while (v >= limit);
	return lo + v % span;
}

/* True with probability num/den. */
static inline int test_rng_chance(test_rng *r, uint64_t num, uint64_t den)
{
	return test_rng_range(r, 0, den - 1) < num;
}

/* n bytes of the stream; consecutive calls continue it byte for byte
 * whatever their sizes. */
static inline void test_rng_fill(test_rng *r, uint8_t *out, size_t n)
{
	while (n > 0) {
		if (r->left == 0) {
			uint64_t v = test_rng_next(r);
			memcpy(r->buf, &v, 8);
			r->left = 8;
		}
		size_t take = n < r->left ? n : r->left;
		memcpy(out, r->buf + 8 - r->left, take);
		r->left -= (unsigned)take;
		out += take;
		n -= take;
	}
}

#endif /* LULL_TEST_RNG_H */
