/*
 * test_trace.c - the trace file format and the generators: strict parsing
 * with file:line errors, canonical writing that reads back unchanged, and
 * generators that are pure functions of their seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "gen.h"
#include "trace.h"

#define ERR_BYTES 256

static sim_err parse(const char *text, sim_trace *tr, char *err)
{
	err[0] = '\0';
	return sim_trace_parse(tr, "t.trace", text, strlen(text), err, ERR_BYTES);
}

static void check_good(void)
{
	char err[ERR_BYTES];
	sim_trace tr;
	const char *text = "# comment\n\nlull-trace 1\nduration 5000\n"
	                   "0 c2s 1\n  10\ts2c   16777216  \n10 c2s 5\n";
	CHECK(parse(text, &tr, err) == SIM_OK);
	CHECK_CMP(tr.n, ==, 3);
	CHECK_CMP(tr.duration_ms, ==, 5000);
	CHECK_CMP(tr.total_bytes, ==, 1 + 16777216 + 5);
	CHECK(tr.n == 3 && tr.msgs[1].dir == SIM_S2C && tr.msgs[1].t_ms == 10);
	CHECK(strcmp(tr.name, "t.trace") == 0);
	sim_trace_free(&tr);
	/* Without a duration line the replay ends at the last message; the
	 * last line needs no newline. */
	CHECK(parse("lull-trace 1\n7 c2s 3", &tr, err) == SIM_OK);
	CHECK_CMP(tr.duration_ms, ==, 7);
	sim_trace_free(&tr);
}

typedef struct bad_case {
	const char *text;
	sim_err err;
	const char *where; /* expected prefix of the message */
} bad_case;

static void check_bad(void)
{
	/* One byte over the line bound, in a line that is otherwise valid. */
	static char long_line[32 + SIM_TRACE_LINE_MAX_BYTES];
	int n = snprintf(long_line, sizeof(long_line), "lull-trace 1\n1 c2s 1");
	memset(long_line + n, ' ', SIM_TRACE_LINE_MAX_BYTES + 1 - 7);
	long_line[n + SIM_TRACE_LINE_MAX_BYTES + 1 - 7] = '\0';
	const bad_case cases[] = {
	        {"", SIM_ERR_TRACE_SYNTAX, "t.trace:1: no \"lull-trace 1\""},
	        {"1 c2s 5\n", SIM_ERR_TRACE_SYNTAX, "t.trace:1: expected \"lull-trace 1\""},
	        {"lull-trace 2\n", SIM_ERR_TRACE_RANGE, "t.trace:1: version 2"},
	        {"lull-trace 1\n1 c2s\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: expected"},
	        {"lull-trace 1\n1 c2s 5 9\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: expected"},
	        {"lull-trace 1\n01 c2s 5\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: time: leading zero"},
	        {"lull-trace 1\n+1 c2s 5\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: time: \"+1\""},
	        {"lull-trace 1\n-1 c2s 5\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: time:"},
	        {"lull-trace 1\n1 up 5\n", SIM_ERR_TRACE_SYNTAX, "t.trace:2: direction \"up\""},
	        {"lull-trace 1\n1 c2s 0\n", SIM_ERR_TRACE_RANGE, "t.trace:2: bytes: a message"},
	        {"lull-trace 1\n1 c2s 16777217\n", SIM_ERR_TRACE_RANGE,
	         "t.trace:2: bytes: 16777217"},
	        {"lull-trace 1\n1 c2s 99999999999999999999\n", SIM_ERR_TRACE_RANGE,
	         "t.trace:2: bytes: 99999999999999999999 overflows"},
	        {"lull-trace 1\n2592000001 c2s 1\n", SIM_ERR_TRACE_RANGE, "t.trace:2: time:"},
	        {"lull-trace 1\n5 c2s 1\n\n4 s2c 1\n", SIM_ERR_TRACE_ORDER,
	         "t.trace:4: time 4 is before"},
	        {"lull-trace 1\nduration 10\n11 c2s 1\n", SIM_ERR_TRACE_RANGE,
	         "t.trace:3: time 11 is after the duration"},
	        {"lull-trace 1\n1 c2s 1\nduration 10\n", SIM_ERR_TRACE_SYNTAX,
	         "t.trace:3: duration must come once"},
	        {"lull-trace 1\nduration 1\nduration 2\n", SIM_ERR_TRACE_SYNTAX,
	         "t.trace:3: duration must come once"},
	        {"lull-trace 1\r\n", SIM_ERR_TRACE_SYNTAX, "t.trace:1: NUL or carriage return"},
	        {long_line, SIM_ERR_TRACE_TOO_LARGE, "t.trace:2: line longer than"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[ERR_BYTES];
		sim_trace tr;
		sim_err got = parse(cases[i].text, &tr, err);
		if (got != cases[i].err || strncmp(err, cases[i].where, strlen(cases[i].where)))
			fprintf(stderr, "case %zu: got %s \"%s\", want %s \"%s...\"\n", i,
			        sim_err_name(got), err, sim_err_name(cases[i].err), cases[i].where);
		CHECK(got == cases[i].err);
		CHECK(strncmp(err, cases[i].where, strlen(cases[i].where)) == 0);
		CHECK(tr.msgs == NULL && tr.n == 0); /* a failed parse keeps nothing */
	}
	/* A NUL inside a line. */
	char err[ERR_BYTES];
	sim_trace tr;
	const char nul[] = "lull-trace 1\n1 c2s\0 5\n";
	CHECK(sim_trace_parse(&tr, "t.trace", nul, sizeof(nul) - 1, err, sizeof(err)) ==
	      SIM_ERR_TRACE_SYNTAX);
	CHECK(strncmp(err, "t.trace:2: NUL", 14) == 0);
	CHECK(sim_trace_load(&tr, "/nonexistent/x.trace", err, sizeof(err)) == SIM_ERR_IO);
}

static bool same_trace(const sim_trace *a, const sim_trace *b)
{
	if (a->n != b->n || a->duration_ms != b->duration_ms || a->total_bytes != b->total_bytes)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->msgs[i].t_ms != b->msgs[i].t_ms || a->msgs[i].bytes != b->msgs[i].bytes ||
		    a->msgs[i].dir != b->msgs[i].dir)
			return false;
	return true;
}

/* Written traces read back identical; generators depend on the seed only. */
static void check_generators(void)
{
	for (const sim_generator *g = sim_generators; g->name; g++) {
		sim_trace a, b, c, back;
		CHECK(g->fn(&a, 1) == SIM_OK);
		CHECK(g->fn(&b, 1) == SIM_OK);
		CHECK(g->fn(&c, 2) == SIM_OK);
		CHECK(a.n > 0);
		CHECK(same_trace(&a, &b));
		CHECK(strcmp(g->name, "trickle") == 0 ? a.n == c.n : !same_trace(&a, &c));
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		CHECK(sim_trace_write(&a, f) == SIM_OK);
		fclose(f);
		char err[ERR_BYTES] = "";
		CHECK(sim_trace_parse(&back, g->name, text, len, err, sizeof(err)) == SIM_OK);
		if (err[0])
			fprintf(stderr, "%s: %s\n", g->name, err);
		CHECK(same_trace(&a, &back));
		free(text);
		sim_trace_free(&a);
		sim_trace_free(&b);
		sim_trace_free(&c);
		sim_trace_free(&back);
	}
}

static void check_example(const char *dir)
{
	char path[1024], err[ERR_BYTES] = "";
	snprintf(path, sizeof(path), "%s/traces/example.trace", dir);
	sim_trace tr;
	sim_err e = sim_trace_load(&tr, path, err, sizeof(err));
	if (e != SIM_OK)
		fprintf(stderr, "%s\n", err);
	CHECK(e == SIM_OK);
	CHECK_CMP(tr.n, ==, 8);
	CHECK_CMP(tr.duration_ms, ==, 1800000);
	CHECK(strcmp(tr.name, "example.trace") == 0);
	sim_trace_free(&tr);
}

int main(int argc, char **argv)
{
	check_good();
	check_bad();
	check_generators();
	if (argc > 1)
		check_example(argv[1]);
	else
		CHECK(!"usage: sim_test_trace SIM_DIR");
	return test_summary();
}
