/*
 * report.c - text table and CSV of replay results.
 *
 * Invariants:
 *  - Integer arithmetic only: no float formatting can make two runs of the
 *    same replays differ in a digit.
 *  - Every figure printed is one of sim_result's, or a product/ratio of
 *    them stated in the header (handshake CPU = handshakes x cost).
 */
#include "report.h"

#include <string.h>

static const sim_result *result_at(const sim_report *rep, size_t t, size_t p)
{
	return &rep->results[t * rep->n_policies + p];
}

void sim_fmt_duration(char *buf, size_t len, uint64_t ms)
{
	unsigned long long s = ms / 1000, frac = ms % 1000;
	if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum%02llus", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%llu.%01llus", s, frac / 100);
}

/* value / unit with one decimal (two above 100 units would be noise). */
static void fmt_scaled(char *buf, size_t len, uint64_t value, uint64_t unit, const char *name)
{
	uint64_t tenths = (value * 10 + unit / 2) / unit;
	snprintf(buf, len, "%llu.%llu %s", (unsigned long long)(tenths / 10),
	         (unsigned long long)(tenths % 10), name);
}

void sim_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	if (bytes < SIM_KIB)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else if (bytes < SIM_MIB)
		fmt_scaled(buf, len, bytes, SIM_KIB, "KiB");
	else if (bytes < SIM_GIB)
		fmt_scaled(buf, len, bytes, SIM_MIB, "MiB");
	else
		fmt_scaled(buf, len, bytes, SIM_GIB, "GiB");
}

static void fmt_cpu(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000000000ull)
		fmt_scaled(buf, len, ns, 1000000ull, "ms");
	else
		fmt_scaled(buf, len, ns, 1000000000ull, "s");
}

static void trace_header(const sim_report *rep, size_t t, FILE *out)
{
	const sim_result *r = result_at(rep, t, 0);
	char dur[32], bytes[32];
	sim_fmt_duration(dur, sizeof(dur), r->duration_ms);
	sim_fmt_bytes(bytes, sizeof(bytes), r->app_bytes);
	fprintf(out, "trace %s: %s, %llu messages, %s\n", r->trace, dur,
	        (unsigned long long)r->messages, bytes);
	fprintf(out, "  %-11s %10s %10s %10s %11s %10s %14s\n", "policy", "handshakes", "hs CPU",
	        "heartbeats", "max/key", "key life", "spoof window");
}

static void result_row(const sim_report *rep, const sim_result *r, FILE *out)
{
	char cpu[32], bytes[32], life[32], spoof[32];
	fmt_cpu(cpu, sizeof(cpu), r->handshakes * rep->handshake_ns);
	sim_fmt_bytes(bytes, sizeof(bytes), r->max_key_bytes);
	sim_fmt_duration(life, sizeof(life), r->max_key_life_ms);
	sim_fmt_duration(spoof, sizeof(spoof), r->spoof_window_ms);
	fprintf(out, "  %-11s %10llu %10s %10llu %11s %10s %14s\n", r->policy,
	        (unsigned long long)r->handshakes, cpu, (unsigned long long)r->heartbeats, bytes,
	        life, spoof);
}

/* "lull: 15.2x fewer handshakes than timed-2min" when both ran. */
static void trace_ratio(const sim_report *rep, size_t t, FILE *out)
{
	const sim_result *lull = NULL, *timed = NULL;
	for (size_t p = 0; p < rep->n_policies; p++) {
		const sim_result *r = result_at(rep, t, p);
		if (strcmp(r->policy, "lull") == 0)
			lull = r;
		else if (strcmp(r->policy, "timed-2min") == 0)
			timed = r;
	}
	if (!lull || !timed || lull->handshakes == 0)
		return;
	uint64_t tenths = (timed->handshakes * 10 + lull->handshakes / 2) / lull->handshakes;
	fprintf(out, "  lull: %llu.%llux fewer handshakes than timed-2min\n",
	        (unsigned long long)(tenths / 10), (unsigned long long)(tenths % 10));
}

/* Each policy's worst figure over every trace, and where it happened. */
static void worst_table(const sim_report *rep, FILE *out)
{
	fprintf(out, "worst over all traces:\n");
	fprintf(out, "  %-11s %11s %-14s %10s %-14s %14s %s\n", "policy", "max/key", "(trace)",
	        "key life", "(trace)", "spoof window", "(trace)");
	for (size_t p = 0; p < rep->n_policies; p++) {
		size_t wb = 0, wl = 0, ws = 0;
		for (size_t t = 1; t < rep->n_traces; t++) {
			if (result_at(rep, t, p)->max_key_bytes >
			    result_at(rep, wb, p)->max_key_bytes)
				wb = t;
			if (result_at(rep, t, p)->max_key_life_ms >
			    result_at(rep, wl, p)->max_key_life_ms)
				wl = t;
			if (result_at(rep, t, p)->spoof_window_ms >
			    result_at(rep, ws, p)->spoof_window_ms)
				ws = t;
		}
		char bytes[32], life[32], spoof[32];
		sim_fmt_bytes(bytes, sizeof(bytes), result_at(rep, wb, p)->max_key_bytes);
		sim_fmt_duration(life, sizeof(life), result_at(rep, wl, p)->max_key_life_ms);
		sim_fmt_duration(spoof, sizeof(spoof), result_at(rep, ws, p)->spoof_window_ms);
		fprintf(out, "  %-11s %11s %-14s %10s %-14s %14s %s\n",
		        result_at(rep, 0, p)->policy, bytes, result_at(rep, wb, p)->trace, life,
		        result_at(rep, wl, p)->trace, spoof, result_at(rep, ws, p)->trace);
	}
}

void sim_report_table(const sim_report *rep, FILE *out)
{
	char cost[32];
	fmt_scaled(cost, sizeof(cost), rep->handshake_ns, 1000, "us");
	fprintf(out, "lull-sim: seed %llu, one handshake = %s CPU (%s)\n",
	        (unsigned long long)rep->seed, cost,
	        rep->handshake_measured ? "measured" : "given");
	fprintf(out, "handshakes include the first; max/key = application bytes under one key;\n"
	             "key life = installation to the last time an end accepted data under it;\n"
	             "spoof window = longest time without data during which an end still\n"
	             "accepted data under a key.\n");
	for (size_t t = 0; t < rep->n_traces; t++) {
		fprintf(out, "\n");
		trace_header(rep, t, out);
		for (size_t p = 0; p < rep->n_policies; p++)
			result_row(rep, result_at(rep, t, p), out);
		trace_ratio(rep, t, out);
	}
	if (rep->n_traces > 1) {
		fprintf(out, "\n");
		worst_table(rep, out);
	}
}

void sim_report_csv(const sim_report *rep, FILE *out)
{
	fprintf(out, "trace,policy,duration_ms,messages,app_bytes,handshakes");
	for (unsigned k = 0; k < SIM_REKEY_REASONS; k++)
		fprintf(out, ",hs_%s", lull_rekey_reason_name((lull_rekey_reason)k));
	fprintf(out, ",handshake_cpu_ns,heartbeats,keepalives,max_key_bytes,max_key_life_ms,"
	             "spoof_window_ms,spoof_window_start_ms,spoof_window_end,spoofs_rejected\n");
	for (size_t t = 0; t < rep->n_traces; t++)
		for (size_t p = 0; p < rep->n_policies; p++) {
			const sim_result *r = result_at(rep, t, p);
			fprintf(out, "%s,%s,%llu,%llu,%llu,%llu", r->trace, r->policy,
			        (unsigned long long)r->duration_ms, (unsigned long long)r->messages,
			        (unsigned long long)r->app_bytes,
			        (unsigned long long)r->handshakes);
			for (unsigned k = 0; k < SIM_REKEY_REASONS; k++)
				fprintf(out, ",%llu",
				        (unsigned long long)r->handshakes_by_reason[k]);
			fprintf(out, ",%llu,%llu,%llu,%llu,%llu,%llu,%llu,%s,%llu\n",
			        (unsigned long long)(r->handshakes * rep->handshake_ns),
			        (unsigned long long)r->heartbeats,
			        (unsigned long long)r->keepalives,
			        (unsigned long long)r->max_key_bytes,
			        (unsigned long long)r->max_key_life_ms,
			        (unsigned long long)r->spoof_window_ms,
			        (unsigned long long)r->spoof_window_start_ms,
			        r->spoof_window_at_server ? "server" : "client",
			        (unsigned long long)r->spoofs_rejected);
		}
}
