/*
 * fuzz_util.h - what every fuzz target shares: an abort-on-violation check,
 * a deterministic random source, and fixed keys.
 *
 * Invariants:
 *  - A target never draws a byte from OpenSSL's CSPRNG: every object that
 *    draws randomness is given fuzz_random_fn on fuzz_random_stream (the
 *    engine's lull_server_set_random / lull_conn_set_random, Noise's
 *    params.rng), and fuzz_random_reset() at the top of every
 *    LLVMFuzzerTestOneInput restarts that stream from a value that depends
 *    only on the input, so any crash replays byte for byte.
 *  - FUZZ_CHECK aborts with the failed condition: libFuzzer (and the replay
 *    driver) report an abort as a crash, so every invariant is a finding.
 */
#ifndef LULL_FUZZ_UTIL_H
#define LULL_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "lull.h"
#include "../tests/test_rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__,     \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* splitmix64: not cryptographic, only reproducible. */
typedef struct fuzz_rng {
	uint64_t state;
} fuzz_rng;

static inline uint64_t fuzz_rng_next(fuzz_rng *r)
{
	return test_splitmix64(&r->state);
}

static fuzz_rng fuzz_random_stream;

static inline lull_err fuzz_random_fn(void *ctx, uint8_t *buf, size_t len)
{
	fuzz_rng *r = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)fuzz_rng_next(r);
	return LULL_OK;
}

/* Restart the fixed random stream (call first in every input). */
static inline void fuzz_random_reset(uint64_t seed)
{
	fuzz_random_stream.state = seed;
}

/* The stream as a crypto_rng, for the layers below lull.h. */
static inline const crypto_rng *fuzz_random_rng(void)
{
	static const crypto_rng rng = {fuzz_random_fn, &fuzz_random_stream};
	return &rng;
}

/* A fixed key pair per tag, derived once per process (one scalar mult each). */
static inline const lull_keypair *fuzz_fixed_key(unsigned tag)
{
	static lull_keypair keys[4];
	static bool have[4];
	tag &= 3;
	if (!have[tag]) {
		uint8_t priv[LULL_KEY_BYTES];
		for (size_t i = 0; i < sizeof(priv); i++)
			priv[i] = (uint8_t)(0x11 * (tag + 1) + i);
		FUZZ_CHECK(lull_keypair_from_private(&keys[tag], priv) == LULL_OK);
		have[tag] = true;
	}
	return &keys[tag];
}

/* A cursor over the fuzz input: reads past the end yield zeros. */
typedef struct fuzz_in {
	const uint8_t *p;
	size_t len;
} fuzz_in;

static inline bool fuzz_in_empty(const fuzz_in *in)
{
	return in->len == 0;
}

static inline uint8_t fuzz_u8(fuzz_in *in)
{
	if (!in->len)
		return 0;
	in->len--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);
	return (uint16_t)((hi << 8) | fuzz_u8(in));
}

/* Up to n bytes; *got says how many were there. */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;
	*got = n < in->len ? n : in->len;
	in->p += *got;
	in->len -= *got;
	return p;
}

#endif /* LULL_FUZZ_UTIL_H */
