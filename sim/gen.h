/*
 * gen.h - built-in trace generators.  Each is a pure function of its seed:
 * the same seed gives the same trace, message for message.
 */
#ifndef LULL_SIM_GEN_H
#define LULL_SIM_GEN_H

#include "sim.h"

typedef sim_err (*sim_gen_fn)(sim_trace *tr, uint64_t seed);

typedef struct sim_generator {
	const char *name;
	const char *summary;
	sim_gen_fn fn;
} sim_generator;

/* The generators, in the order reports list them; NULL-terminated. */
extern const sim_generator sim_generators[];

/* The generator called name, or NULL. */
const sim_generator *sim_generator_find(const char *name);

#endif /* LULL_SIM_GEN_H */
