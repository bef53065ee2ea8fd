/*
 * trace.c - traces in memory, and the trace file format of trace.h.
 *
 * Invariants:
 *  - A sim_trace only ever holds messages that passed sim_trace_add: in
 *    time order, within the duration bound, 1..max bytes each.  The parser
 *    and the generators both go through it, so a replay can trust a trace.
 *  - The parser never guesses: an unknown keyword, a sign, a leading zero, a
 *    trailing field or a carriage return is an error with its file:line, not
 *    something skipped.  A file that is half read is no trace at all.
 */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *sim_err_name(sim_err err)
{
	switch (err) {
	case SIM_OK:
		return "SIM_OK";
	case SIM_ERR_USAGE:
		return "SIM_ERR_USAGE";
	case SIM_ERR_IO:
		return "SIM_ERR_IO";
	case SIM_ERR_NOMEM:
		return "SIM_ERR_NOMEM";
	case SIM_ERR_TRACE_SYNTAX:
		return "SIM_ERR_TRACE_SYNTAX";
	case SIM_ERR_TRACE_RANGE:
		return "SIM_ERR_TRACE_RANGE";
	case SIM_ERR_TRACE_ORDER:
		return "SIM_ERR_TRACE_ORDER";
	case SIM_ERR_TRACE_TOO_LARGE:
		return "SIM_ERR_TRACE_TOO_LARGE";
	case SIM_ERR_ENGINE:
		return "SIM_ERR_ENGINE";
	case SIM_ERR_CLOSED:
		return "SIM_ERR_CLOSED";
	case SIM_ERR_LOST:
		return "SIM_ERR_LOST";
	}
	return "SIM_ERR_UNKNOWN";
}

/* ---- In memory ---------------------------------------------------------- */

void sim_trace_init(sim_trace *tr, const char *name, uint64_t duration_ms)
{
	memset(tr, 0, sizeof(*tr));
	snprintf(tr->name, sizeof(tr->name), "%s", name);
	tr->duration_ms = duration_ms;
}

void sim_trace_free(sim_trace *tr)
{
	free(tr->msgs);
	tr->msgs = NULL;
	tr->n = tr->cap = 0;
}

sim_err sim_trace_add(sim_trace *tr, uint64_t t_ms, sim_dir dir, uint64_t bytes)
{
	if (t_ms > SIM_TRACE_MAX_DURATION_MS || bytes == 0 || bytes > SIM_TRACE_MAX_MESSAGE_BYTES ||
	    (dir != SIM_C2S && dir != SIM_S2C))
		return SIM_ERR_TRACE_RANGE;
	if (tr->n > 0 && t_ms < tr->msgs[tr->n - 1].t_ms)
		return SIM_ERR_TRACE_ORDER;
	if (tr->n >= SIM_TRACE_MAX_MESSAGES)
		return SIM_ERR_TRACE_TOO_LARGE;
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 1024;
		if (cap > SIM_TRACE_MAX_MESSAGES)
			cap = SIM_TRACE_MAX_MESSAGES;
		sim_msg *grown = realloc(tr->msgs, cap * sizeof(*grown));
		if (!grown)
			return SIM_ERR_NOMEM;
		tr->msgs = grown;
		tr->cap = cap;
	}
	tr->msgs[tr->n++] = (sim_msg){.t_ms = t_ms, .bytes = (uint32_t)bytes, .dir = (uint8_t)dir};
	tr->total_bytes += bytes;
	if (t_ms > tr->duration_ms)
		tr->duration_ms = t_ms;
	return SIM_OK;
}

/* ---- Parsing ------------------------------------------------------------- */

typedef struct parser {
	const char *file;
	unsigned long line;
	char *err_buf;
	size_t err_len;
} parser;

static sim_err parse_fail(parser *p, sim_err err, const char *fmt, ...)
{
	if (p->err_buf && p->err_len) {
		int n = snprintf(p->err_buf, p->err_len, "%s:%lu: ", p->file, p->line);
		if (n >= 0 && (size_t)n < p->err_len) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(p->err_buf + n, p->err_len - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return err;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Split a line into at most max fields; returns the count, or max + 1 when
 * there are more. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *s = line;
	for (;;) {
		while (is_blank(*s))
			s++;
		if (*s == '\0')
			return n;
		if (n == max)
			return max + 1;
		fields[n++] = s;
		while (*s && !is_blank(*s))
			s++;
		if (*s)
			*s++ = '\0';
	}
}

/* A strict unsigned decimal: digits only, no leading zero, no overflow. */
static sim_err parse_u64(parser *p, const char *s, const char *what, uint64_t max, uint64_t *out)
{
	if (*s == '\0')
		return parse_fail(p, SIM_ERR_TRACE_SYNTAX, "%s: empty number", what);
	if (s[0] == '0' && s[1] != '\0')
		return parse_fail(p, SIM_ERR_TRACE_SYNTAX, "%s: leading zero in \"%s\"", what, s);
	uint64_t v = 0;
	for (const char *d = s; *d; d++) {
		if (*d < '0' || *d > '9')
			return parse_fail(p, SIM_ERR_TRACE_SYNTAX, "%s: \"%s\" is not a number",
			                  what, s);
		unsigned digit = (unsigned)(*d - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return parse_fail(p, SIM_ERR_TRACE_RANGE, "%s: %s overflows", what, s);
		v = v * 10 + digit;
	}
	if (v > max)
		return parse_fail(p, SIM_ERR_TRACE_RANGE, "%s: %s is over the limit %llu", what, s,
		                  (unsigned long long)max);
	*out = v;
	return SIM_OK;
}

static sim_err parse_line(parser *p, sim_trace *tr, char *line, bool *seen_magic,
                          bool *seen_duration)
{
	char *f[3];
	size_t n = split_fields(line, f, 3);
	if (n == 0 || f[0][0] == '#')
		return SIM_OK;
	if (!*seen_magic) {
		uint64_t version = 0;
		if (n != 2 || strcmp(f[0], SIM_TRACE_MAGIC) != 0)
			return parse_fail(p, SIM_ERR_TRACE_SYNTAX,
			                  "expected \"%s %d\" before anything else",
			                  SIM_TRACE_MAGIC, SIM_TRACE_VERSION);
		sim_err err = parse_u64(p, f[1], "version", UINT32_MAX, &version);
		if (err != SIM_OK)
			return err;
		if (version != SIM_TRACE_VERSION)
			return parse_fail(p, SIM_ERR_TRACE_RANGE, "version %llu not supported",
			                  (unsigned long long)version);
		*seen_magic = true;
		return SIM_OK;
	}
	if (strcmp(f[0], "duration") == 0) {
		if (n != 2)
			return parse_fail(p, SIM_ERR_TRACE_SYNTAX, "expected \"duration <ms>\"");
		if (*seen_duration || tr->n > 0)
			return parse_fail(p, SIM_ERR_TRACE_SYNTAX,
			                  "duration must come once, before the messages");
		*seen_duration = true;
		return parse_u64(p, f[1], "duration", SIM_TRACE_MAX_DURATION_MS, &tr->duration_ms);
	}
	if (n != 3)
		return parse_fail(p, SIM_ERR_TRACE_SYNTAX,
		                  "expected \"<t_ms> <c2s|s2c> <bytes>\", got %zu field%s",
		                  n > 3 ? (size_t)4 : n, n == 1 ? "" : "s");
	uint64_t t = 0, bytes = 0;
	sim_err err = parse_u64(p, f[0], "time", SIM_TRACE_MAX_DURATION_MS, &t);
	if (err != SIM_OK)
		return err;
	sim_dir dir;
	if (strcmp(f[1], "c2s") == 0)
		dir = SIM_C2S;
	else if (strcmp(f[1], "s2c") == 0)
		dir = SIM_S2C;
	else
		return parse_fail(p, SIM_ERR_TRACE_SYNTAX, "direction \"%s\" is not c2s or s2c",
		                  f[1]);
	err = parse_u64(p, f[2], "bytes", SIM_TRACE_MAX_MESSAGE_BYTES, &bytes);
	if (err != SIM_OK)
		return err;
	if (bytes == 0)
		return parse_fail(p, SIM_ERR_TRACE_RANGE, "bytes: a message carries at least 1");
	if (*seen_duration && t > tr->duration_ms)
		return parse_fail(p, SIM_ERR_TRACE_RANGE, "time %llu is after the duration %llu",
		                  (unsigned long long)t, (unsigned long long)tr->duration_ms);
	err = sim_trace_add(tr, t, dir, bytes);
	if (err == SIM_ERR_TRACE_ORDER)
		return parse_fail(p, err, "time %llu is before the previous message's %llu",
		                  (unsigned long long)t,
		                  (unsigned long long)tr->msgs[tr->n - 1].t_ms);
	if (err == SIM_ERR_TRACE_TOO_LARGE)
		return parse_fail(p, err, "more than %u messages", SIM_TRACE_MAX_MESSAGES);
	if (err != SIM_OK)
		return parse_fail(p, err, "%s", sim_err_name(err));
	return SIM_OK;
}

sim_err sim_trace_parse(sim_trace *tr, const char *file, const char *text, size_t len,
                        char *err_buf, size_t err_len)
{
	const char *slash = strrchr(file, '/');
	sim_trace_init(tr, slash ? slash + 1 : file, 0);
	parser p = {.file = file, .line = 0, .err_buf = err_buf, .err_len = err_len};
	bool seen_magic = false, seen_duration = false;
	char line[SIM_TRACE_LINE_MAX_BYTES + 1];
	size_t off = 0;
	sim_err err = SIM_OK;
	while (off < len && err == SIM_OK) {
		p.line++;
		const char *nl = memchr(text + off, '\n', len - off);
		size_t line_len = nl ? (size_t)(nl - (text + off)) : len - off;
		if (line_len > SIM_TRACE_LINE_MAX_BYTES) {
			err = parse_fail(&p, SIM_ERR_TRACE_TOO_LARGE, "line longer than %d bytes",
			                 SIM_TRACE_LINE_MAX_BYTES);
			break;
		}
		memcpy(line, text + off, line_len);
		line[line_len] = '\0';
		off += line_len + (nl ? 1 : 0);
		if (memchr(line, '\0', line_len) || memchr(line, '\r', line_len)) {
			err = parse_fail(&p, SIM_ERR_TRACE_SYNTAX,
			                 "NUL or carriage return in the line");
			break;
		}
		err = parse_line(&p, tr, line, &seen_magic, &seen_duration);
	}
	if (err == SIM_OK && !seen_magic) {
		p.line = p.line ? p.line : 1;
		err = parse_fail(&p, SIM_ERR_TRACE_SYNTAX, "no \"%s %d\" line: not a trace",
		                 SIM_TRACE_MAGIC, SIM_TRACE_VERSION);
	}
	if (err != SIM_OK)
		sim_trace_free(tr);
	return err;
}

sim_err sim_trace_load(sim_trace *tr, const char *path, char *err_buf, size_t err_len)
{
	/* Bound what is read: the longest legal trace, and one byte more to
	 * tell "too long" from "exactly at the bound". */
	const size_t max_bytes = (size_t)SIM_TRACE_MAX_MESSAGES * SIM_TRACE_LINE_MAX_BYTES;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err_buf, err_len, "%s: %s", path, strerror(errno));
		return SIM_ERR_IO;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	sim_err err = buf ? SIM_OK : SIM_ERR_NOMEM;
	while (err == SIM_OK) {
		if (len == cap) {
			if (cap > max_bytes) {
				snprintf(err_buf, err_len, "%s: larger than %zu bytes", path,
				         max_bytes);
				err = SIM_ERR_TRACE_TOO_LARGE;
				break;
			}
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				err = SIM_ERR_NOMEM;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err_buf, err_len, "%s: read error", path);
				err = SIM_ERR_IO;
			}
			break;
		}
	}
	fclose(f);
	if (err == SIM_ERR_NOMEM)
		snprintf(err_buf, err_len, "%s: out of memory", path);
	if (err == SIM_OK)
		err = sim_trace_parse(tr, path, buf, len, err_buf, err_len);
	free(buf);
	return err;
}

sim_err sim_trace_write(const sim_trace *tr, FILE *out)
{
	fprintf(out, "# lull-sim trace \"%s\": %zu messages, %llu bytes\n", tr->name, tr->n,
	        (unsigned long long)tr->total_bytes);
	fprintf(out, "%s %d\nduration %llu\n", SIM_TRACE_MAGIC, SIM_TRACE_VERSION,
	        (unsigned long long)tr->duration_ms);
	for (size_t i = 0; i < tr->n; i++)
		fprintf(out, "%llu %s %u\n", (unsigned long long)tr->msgs[i].t_ms,
		        tr->msgs[i].dir == SIM_C2S ? "c2s" : "s2c", tr->msgs[i].bytes);
	return fflush(out) == 0 && !ferror(out) ? SIM_OK : SIM_ERR_IO;
}
