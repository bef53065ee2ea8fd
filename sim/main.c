/*
 * main.c - lull-sim: replay traffic traces through the real engine under
 * several rekey policies and report what each one cost and exposed.
 *
 *   lull-sim [--trace NAME|FILE]... [--policy NAME]... [--seed N]
 *            [--handshake-cost-us N] [--table FILE] [--csv FILE]
 *            [--svg-dir DIR] [--write-trace NAME FILE] [--list]
 *
 * Invariants:
 *  - Everything printed follows from (traces, policies, seed, handshake
 *    cost): give --handshake-cost-us and two runs print the same bytes.
 *  - Exit status: 0 success, 1 a replay or an output failed, 2 usage or
 *    trace errors, each with a message on stderr naming what was wrong.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "policies.h"
#include "report.h"
#include "run.h"
#include "svg.h"
#include "trace.h"

#define MAX_TRACES   16
#define MAX_POLICIES 16
#define ERR_BYTES    512
#define PATH_BYTES   4096

#define EXIT_FAILED 1
#define EXIT_USAGE  2

typedef struct options {
	const char *traces[MAX_TRACES];
	size_t n_traces;
	const sim_policy *policies[MAX_POLICIES];
	size_t n_policies;
	uint64_t seed;
	uint64_t handshake_ns; /* 0: measure */
	const char *table_path, *csv_path, *svg_dir;
	const char *write_trace_name, *write_trace_path;
	bool list;
} options;

static void usage(FILE *out)
{
	fprintf(out, "usage: lull-sim [--trace NAME|FILE]... [--policy NAME]... [--seed N]\n"
	             "                [--handshake-cost-us N] [--table FILE] [--csv FILE]\n"
	             "                [--svg-dir DIR] [--write-trace NAME FILE] [--list]\n"
	             "Replays traces through a real lull client/server pair on a virtual clock\n"
	             "under each policy (default: every built-in trace and every policy).\n"
	             "The table goes to stdout unless --table names a file; '-' is stdout.\n");
}

/* Strict unsigned decimal, as in trace files. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s || (s[0] == '0' && s[1]))
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, options *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		const char *v = has_value ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--list") == 0) {
			o->list = true;
			continue;
		}
		if (!has_value) {
			fprintf(stderr, "lull-sim: %s needs a value\n", a);
			return EXIT_USAGE;
		}
		i++;
		if (strcmp(a, "--trace") == 0) {
			if (o->n_traces == MAX_TRACES) {
				fprintf(stderr, "lull-sim: at most %d traces\n", MAX_TRACES);
				return EXIT_USAGE;
			}
			o->traces[o->n_traces++] = v;
		} else if (strcmp(a, "--policy") == 0) {
			const sim_policy *p = sim_policy_find(v);
			if (!p) {
				fprintf(stderr, "lull-sim: unknown policy \"%s\" (see --list)\n",
				        v);
				return EXIT_USAGE;
			}
			if (o->n_policies == MAX_POLICIES) {
				fprintf(stderr, "lull-sim: at most %d policies\n", MAX_POLICIES);
				return EXIT_USAGE;
			}
			o->policies[o->n_policies++] = p;
		} else if (strcmp(a, "--seed") == 0) {
			if (!parse_u64(v, UINT64_MAX, &o->seed)) {
				fprintf(stderr, "lull-sim: --seed: \"%s\" is not a number\n", v);
				return EXIT_USAGE;
			}
		} else if (strcmp(a, "--handshake-cost-us") == 0) {
			uint64_t us = 0;
			if (!parse_u64(v, 1000000000ull, &us) || us == 0) {
				fprintf(stderr,
				        "lull-sim: --handshake-cost-us: \"%s\" is not 1..1e9\n", v);
				return EXIT_USAGE;
			}
			o->handshake_ns = us * 1000;
		} else if (strcmp(a, "--table") == 0) {
			o->table_path = v;
		} else if (strcmp(a, "--csv") == 0) {
			o->csv_path = v;
		} else if (strcmp(a, "--svg-dir") == 0) {
			o->svg_dir = v;
		} else if (strcmp(a, "--write-trace") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "lull-sim: --write-trace needs NAME and FILE\n");
				return EXIT_USAGE;
			}
			o->write_trace_name = v;
			o->write_trace_path = argv[++i];
		} else {
			fprintf(stderr, "lull-sim: unknown option %s\n", a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (o->n_policies == 0)
		for (const sim_policy *p = sim_policies; p->name && o->n_policies < MAX_POLICIES;
		     p++)
			o->policies[o->n_policies++] = p;
	if (o->n_traces == 0)
		for (const sim_generator *g = sim_generators; g->name && o->n_traces < MAX_TRACES;
		     g++)
			o->traces[o->n_traces++] = g->name;
	return 0;
}

static void list(void)
{
	printf("traces:\n");
	for (const sim_generator *g = sim_generators; g->name; g++)
		printf("  %-14s %s\n", g->name, g->summary);
	printf("  FILE           a trace file (see sim/trace.h)\npolicies:\n");
	for (const sim_policy *p = sim_policies; p->name; p++)
		printf("  %-14s %s\n", p->name, p->summary);
}

/* A built-in generator's name, or else a trace file. */
static sim_err load_trace(const char *arg, uint64_t seed, sim_trace *tr, char *err, size_t err_len)
{
	const sim_generator *g = sim_generator_find(arg);
	if (!g)
		return sim_trace_load(tr, arg, err, err_len);
	sim_err e = g->fn(tr, seed);
	if (e != SIM_OK) {
		snprintf(err, err_len, "generator %s: %s", arg, sim_err_name(e));
		sim_trace_free(tr);
	}
	return e;
}

/* Open path for writing ("-" = stdout). */
static FILE *open_out(const char *path)
{
	if (strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "lull-sim: %s: %s\n", path, strerror(errno));
	return f;
}

static bool close_out(FILE *f, const char *path)
{
	bool ok = fflush(f) == 0 && !ferror(f);
	if (f != stdout)
		ok = fclose(f) == 0 && ok;
	if (!ok)
		fprintf(stderr, "lull-sim: %s: write failed\n", path);
	return ok;
}

static int write_trace(const options *o)
{
	char err[ERR_BYTES] = "";
	sim_trace tr;
	const sim_generator *g = sim_generator_find(o->write_trace_name);
	if (!g) {
		fprintf(stderr, "lull-sim: --write-trace: no generator \"%s\"\n",
		        o->write_trace_name);
		return EXIT_USAGE;
	}
	if (load_trace(o->write_trace_name, o->seed, &tr, err, sizeof(err)) != SIM_OK) {
		fprintf(stderr, "lull-sim: %s\n", err);
		return EXIT_FAILED;
	}
	FILE *f = open_out(o->write_trace_path);
	bool ok = f && sim_trace_write(&tr, f) == SIM_OK;
	if (f)
		ok = close_out(f, o->write_trace_path) && ok;
	sim_trace_free(&tr);
	return ok ? 0 : EXIT_FAILED;
}

static bool write_svgs(const options *o, const sim_report *rep, const sim_trace *traces)
{
	char path[PATH_BYTES];
	bool ok = true;
	for (size_t t = 0; t < rep->n_traces && ok; t++) {
		const sim_result *row = &rep->results[t * rep->n_policies];
		const char *kinds[2] = {"timeline", "bars"};
		for (int k = 0; k < 2 && ok; k++) {
			snprintf(path, sizeof(path), "%s/sim-%s-%s.svg", o->svg_dir, row->trace,
			         kinds[k]);
			FILE *f = open_out(path);
			if (!f)
				return false;
			if (k == 0)
				sim_svg_timeline(&traces[t], row, rep->n_policies, f);
			else
				sim_svg_bars(row, rep->n_policies, f);
			ok = close_out(f, path);
		}
	}
	return ok;
}

int main(int argc, char **argv)
{
	options o;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (o.list) {
		list();
		return 0;
	}
	if (o.write_trace_name)
		return write_trace(&o);

	char err[ERR_BYTES] = "";
	sim_trace traces[MAX_TRACES];
	size_t n_loaded = 0;
	for (; n_loaded < o.n_traces; n_loaded++) {
		if (load_trace(o.traces[n_loaded], o.seed, &traces[n_loaded], err, sizeof(err)) !=
		    SIM_OK) {
			fprintf(stderr, "lull-sim: %s\n", err);
			rc = EXIT_USAGE;
			break;
		}
	}
	size_t n_results = o.n_traces * o.n_policies;
	sim_result *results = rc ? NULL : calloc(n_results, sizeof(*results));
	if (!rc && !results) {
		fprintf(stderr, "lull-sim: out of memory\n");
		rc = EXIT_FAILED;
	}
	for (size_t t = 0; t < o.n_traces && !rc; t++)
		for (size_t p = 0; p < o.n_policies && !rc; p++) {
			sim_err e = sim_run(&traces[t], o.policies[p],
			                    &results[t * o.n_policies + p], err, sizeof(err));
			if (e != SIM_OK) {
				fprintf(stderr, "lull-sim: trace %s, policy %s: %s: %s\n",
				        traces[t].name, o.policies[p]->name, sim_err_name(e), err);
				rc = EXIT_FAILED;
			}
		}
	sim_report rep = {.results = results,
	                  .n_traces = o.n_traces,
	                  .n_policies = o.n_policies,
	                  .seed = o.seed,
	                  .handshake_ns = o.handshake_ns,
	                  .handshake_measured = o.handshake_ns == 0};
	if (!rc && rep.handshake_measured &&
	    sim_measure_handshake_ns(&rep.handshake_ns, err, sizeof(err)) != SIM_OK) {
		fprintf(stderr, "lull-sim: measuring a handshake: %s\n", err);
		rc = EXIT_FAILED;
	}
	if (!rc) {
		const char *table = o.table_path ? o.table_path : "-";
		FILE *f = open_out(table);
		if (f) {
			sim_report_table(&rep, f);
			if (!close_out(f, table))
				rc = EXIT_FAILED;
		} else {
			rc = EXIT_FAILED;
		}
	}
	if (!rc && o.csv_path) {
		FILE *f = open_out(o.csv_path);
		if (f) {
			sim_report_csv(&rep, f);
			if (!close_out(f, o.csv_path))
				rc = EXIT_FAILED;
		} else {
			rc = EXIT_FAILED;
		}
	}
	if (!rc && o.svg_dir && !write_svgs(&o, &rep, traces))
		rc = EXIT_FAILED;
	if (results)
		for (size_t i = 0; i < n_results; i++)
			sim_result_free(&results[i]);
	free(results);
	for (size_t t = 0; t < n_loaded; t++)
		sim_trace_free(&traces[t]);
	return rc;
}
