/*
 * report.h - the figures of a set of replays as a text table and as CSV.
 * Both are pure functions of the results and the handshake cost passed in,
 * so the same replays print the same bytes.
 */
#ifndef LULL_SIM_REPORT_H
#define LULL_SIM_REPORT_H

#include <stdio.h>

#include "run.h"

/* results[t * n_policies + p]: trace t under policy p. */
typedef struct sim_report {
	const sim_result *results;
	size_t n_traces, n_policies;
	uint64_t seed;
	uint64_t handshake_ns; /* CPU of one handshake, both ends */
	bool handshake_measured;
} sim_report;

void sim_report_table(const sim_report *rep, FILE *out);
void sim_report_csv(const sim_report *rep, FILE *out);

/* Formatting shared with the plots: "1h02m03s", "59.5s"; "1.5 MiB". */
void sim_fmt_duration(char *buf, size_t len, uint64_t ms);
void sim_fmt_bytes(char *buf, size_t len, uint64_t bytes);

#endif /* LULL_SIM_REPORT_H */
