/*
 * test.h - the smallest harness that can fail loudly.
 *
 * Each test program counts checks, prints every failed one with file:line
 * and the expression, ends with "N passed, M failed" and exits non-zero on
 * any failure.  No check is ever skipped silently.  The one harness of the
 * unit tests (tests/, tests/cli/) and the simulator's tests (sim/test_*.c).
 */
#ifndef LULL_TEST_H
#define LULL_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lull.h"

static unsigned test_passed_count, test_failed_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

/* Check that expr returns the lull_err code want, naming both on failure. */
#define CHECK_ERR(expr, want)                                                                      \
	do {                                                                                       \
		lull_err got_ = (expr);                                                            \
		if (got_ == (want)) {                                                              \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: %s returned %s, want %s\n", __FILE__, __LINE__,    \
			        #expr, lull_err_name(got_), lull_err_name(want));                  \
		}                                                                                  \
	} while (0)

#define CHECK_OK(expr) CHECK_ERR(expr, LULL_OK)

/* A check on two unsigned figures that prints both when it fails. */
#define CHECK_CMP(a, op, b)                                                                        \
	do {                                                                                       \
		unsigned long long a_ = (a), b_ = (b);                                             \
		if (a_ op b_) {                                                                    \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s %s %s (%llu vs %llu)\n",          \
			        __FILE__, __LINE__, #a, #op, #b, a_, b_);                          \
		}                                                                                  \
	} while (0)

/* Check len bytes of got against want, printing both in hex on mismatch. */
#define CHECK_MEM(got, want, len)                                                                  \
	do {                                                                                       \
		if (memcmp((got), (want), (len)) == 0) {                                           \
			test_passed_count++;                                                       \
		} else {                                                                           \
			test_failed_count++;                                                       \
			fprintf(stderr, "%s:%d: %s != %s\n", __FILE__, __LINE__, #got, #want);     \
			test_dump_hex("  got ", (const uint8_t *)(got), (len));                    \
			test_dump_hex("  want", (const uint8_t *)(want), (len));                   \
		}                                                                                  \
	} while (0)

static inline void test_dump_hex(const char *label, const uint8_t *p, size_t len)
{
	fprintf(stderr, "%s ", label);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x", p[i]);
	fputc('\n', stderr);
}

/*
 * Decode the hex string hex into out (capacity cap).  Returns the number of
 * bytes written; aborts the test program on malformed input, because a
 * malformed constant in a test is a bug in the test.
 */
static inline size_t test_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n % 2 != 0 || n / 2 > cap) {
		fprintf(stderr, "test_unhex: bad hex constant (%zu chars, cap %zu)\n", n, cap);
		abort();
	}
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			fprintf(stderr, "test_unhex: bad hex digit at %zu\n", 2 * i);
			abort();
		}
		out[i] = (uint8_t)v;
	}
	return n / 2;
}

/* Print the closing line CTest logs and return the exit code for main. */
static inline int test_summary(void)
{
	printf("%u passed, %u failed\n", test_passed_count, test_failed_count);
	return test_failed_count == 0 && test_passed_count > 0 ? 0 : 1;
}

#endif /* LULL_TEST_H */
