/*
 * check.h - the simulator tests' harness: every failed check prints
 * file:line and the expression; the program ends with a count and exits
 * non-zero on any failure.  Nothing is skipped silently.
 */
#ifndef LULL_SIM_CHECK_H
#define LULL_SIM_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static unsigned check_passed, check_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

/* A check on two unsigned figures that prints both when it fails. */
#define CHECK_CMP(a, op, b)                                                                        \
	do {                                                                                       \
		unsigned long long a_ = (a), b_ = (b);                                             \
		if (a_ op b_) {                                                                    \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s %s %s (%llu vs %llu)\n",          \
			        __FILE__, __LINE__, #a, #op, #b, a_, b_);                          \
		}                                                                                  \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif /* LULL_SIM_CHECK_H */
