/*
 * mitm_rules.c - lull-mitm's rule language: parsing --rule and --rules
 * into the rule table (mitm.h), and the names of frame types and actions.
 *
 * Rules (one per line in FILE, '#' starts a comment; or one per --rule):
 *
 *   rule    = { match } action { action }
 *   match   = conn=RANGE     the N-th accepted connection (1-based)
 *           | dir=c2s|s2c    direction (client to server, server to client)
 *           | type=TYPE      HS1 HS2 HS3 KEYS DATA HEARTBEAT HEARTBEAT_ACK (ACK)
 *                            REKEY_REQUEST CLOSE HS_FAILED, or a number 0-255
 *           | nth=RANGE      occurrence of this type (of any frame without
 *                            type=) in this direction on this connection
 *           | after=MS       frames arriving at least MS ms after accept
 *           | before=MS      frames arriving less than MS ms after accept
 *           | at=MS          a timed rule: fires once per matching connection
 *                            MS ms after accept, on no frame; only inject,
 *                            replay, cut and log apply, and inject/replay need
 *                            dir=
 *   RANGE   = N | N-M | N-   (N- is N and every later one)
 *   action  = pass           forward unchanged (the default; logged)
 *           | drop           do not forward
 *           | delay=MS       hold the frame MS ms; later frames in this
 *                            direction queue behind it (TCP order is kept)
 *           | dup            forward it twice
 *           | capture=SLOT   keep a copy (as modified so far) in SLOT; with
 *                            --capture-dir also in DIR/SLOT.frame
 *           | replay=SLOT    send SLOT's frame in this direction just before
 *                            this one; replay=SLOT@MS sends it MS ms later.
 *                            An empty slot is loaded from DIR/SLOT.frame, so
 *                            a frame captured by another process or on
 *                            another connection can be replayed.
 *           | flip=K         flip bit K of the frame: bit 0 is the most
 *                            significant bit of the type byte, bits 16-31
 *                            the length; K < 0 counts from the end (-1 is
 *                            the last bit of the tag)
 *           | truncate=N     forward only the first N bytes (N < 0: all but
 *                            the last -N); what follows is not resynced
 *           | inject=HEX[*N] send these bytes (repeated N times, at most
 *                            1 MiB) in this direction just before the frame
 *           | swap           hold the frame and send it after the next frame
 *                            of this direction (reorder)
 *           | cut[=client|server|both]  close the connection (both sides);
 *                            cut=client closes only the client side and
 *                            keeps the server side open and silent, as a
 *                            client that sent what came before and then
 *                            stopped talking (a slow loris)
 *           | log            only log the frame
 *
 * Every matching rule applies, in order, and its actions apply left to
 * right to one working copy of the frame, so "flip=40 capture=x" captures
 * the corrupted frame and "replay=hs1 drop" replaces this frame by SLOT.
 *
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mitm.h"

const char *const type_names[] = {
        [WIRE_HS1] = "HS1",
        [WIRE_HS2] = "HS2",
        [WIRE_HS3] = "HS3",
        [WIRE_KEYS] = "KEYS",
        [WIRE_DATA] = "DATA",
        [WIRE_HEARTBEAT] = "HEARTBEAT",
        [WIRE_HEARTBEAT_ACK] = "HEARTBEAT_ACK",
        [WIRE_REKEY_REQUEST] = "REKEY_REQUEST",
        [WIRE_CLOSE] = "CLOSE",
        [WIRE_HS_FAILED] = "HS_FAILED",
        [WIRE_KEY_END] = "KEY_END",
};

const char *const act_names[] = {
        [ACT_PASS] = "pass", [ACT_DROP] = "drop",         [ACT_DELAY] = "delay",
        [ACT_DUP] = "dup",   [ACT_CAPTURE] = "capture",   [ACT_REPLAY] = "replay",
        [ACT_FLIP] = "flip", [ACT_TRUNCATE] = "truncate", [ACT_INJECT] = "inject",
        [ACT_SWAP] = "swap", [ACT_CUT] = "cut",           [ACT_LOG] = "log",
};

/* ---- rule parsing ------------------------------------------------------- */

int parse_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_range(const char *s, range *r)
{
	char buf[64];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *dash = strchr(buf, '-');
	if (!dash) {
		if (parse_u64(buf, &r->lo) != 0)
			return -1;
		r->hi = r->lo;
	} else {
		*dash = '\0';
		if (parse_u64(buf, &r->lo) != 0)
			return -1;
		if (dash[1] == '\0')
			r->hi = UINT64_MAX;
		else if (parse_u64(dash + 1, &r->hi) != 0 || r->hi < r->lo)
			return -1;
	}
	return r->lo >= 1 ? 0 : -1;
}

static int parse_type(const char *s, unsigned *out)
{
	for (unsigned t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
		if (type_names[t] && strcasecmp(s, type_names[t]) == 0) {
			*out = t;
			return 0;
		}
	if (strcasecmp(s, "ACK") == 0) {
		*out = WIRE_HEARTBEAT_ACK;
		return 0;
	}
	uint64_t v;
	if (parse_u64(s, &v) != 0 || v > 255)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int slot_find(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= MITM_SLOT_NAME)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		if (!ok)
			return -1;
	}
	for (unsigned i = 0; i < n_slots; i++)
		if (strcmp(slots[i].name, name) == 0)
			return (int)i;
	if (n_slots == MITM_MAX_SLOTS)
		return -1;
	strcpy(slots[n_slots].name, name);
	return (int)n_slots++;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* inject=HEX[*N]: the bytes, repeated, at most MITM_INJECT_MAX in all. */
static int parse_inject(const char *s, action *a)
{
	const char *star = strchr(s, '*');
	size_t hex_chars = star ? (size_t)(star - s) : strlen(s);
	uint64_t reps = 1;
	if (star && (parse_u64(star + 1, &reps) != 0 || reps == 0))
		return -1;
	if (hex_chars == 0 || hex_chars % 2)
		return -1;
	size_t one = hex_chars / 2;
	if (reps > MITM_INJECT_MAX / one)
		return -1;
	a->hex_len = one * (size_t)reps;
	a->hex = malloc(a->hex_len);
	if (!a->hex)
		die_oom();
	for (size_t i = 0; i < one; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		a->hex[i] = (uint8_t)(hi << 4 | lo);
	}
	for (uint64_t r = 1; r < reps; r++)
		memcpy(a->hex + r * one, a->hex, one);
	return 0;
}

static int parse_action(const char *tok, const char *val, action *a)
{
	memset(a, 0, sizeof(*a));
	int64_t v;
	if (strcmp(tok, "pass") == 0 && !val)
		a->kind = ACT_PASS;
	else if (strcmp(tok, "drop") == 0 && !val)
		a->kind = ACT_DROP;
	else if (strcmp(tok, "dup") == 0 && !val)
		a->kind = ACT_DUP;
	else if (strcmp(tok, "swap") == 0 && !val)
		a->kind = ACT_SWAP;
	else if (strcmp(tok, "log") == 0 && !val)
		a->kind = ACT_LOG;
	else if (strcmp(tok, "cut") == 0) {
		a->kind = ACT_CUT;
		if (!val || strcmp(val, "both") == 0)
			a->side = SIDE_BOTH;
		else if (strcmp(val, "client") == 0)
			a->side = SIDE_CLIENT;
		else if (strcmp(val, "server") == 0)
			a->side = SIDE_SERVER;
		else
			return -1;
	} else if (strcmp(tok, "delay") == 0 && val && parse_i64(val, &v) == 0 && v >= 0) {
		a->kind = ACT_DELAY;
		a->n = v;
	} else if (strcmp(tok, "flip") == 0 && val && parse_i64(val, &v) == 0) {
		a->kind = ACT_FLIP;
		a->n = v;
	} else if (strcmp(tok, "truncate") == 0 && val && parse_i64(val, &v) == 0) {
		a->kind = ACT_TRUNCATE;
		a->n = v;
	} else if (strcmp(tok, "capture") == 0 && val) {
		a->kind = ACT_CAPTURE;
		if ((a->slot = slot_find(val)) < 0)
			return -1;
	} else if (strcmp(tok, "replay") == 0 && val) {
		a->kind = ACT_REPLAY;
		char name[MITM_SLOT_NAME];
		const char *at = strchr(val, '@');
		size_t nl = at ? (size_t)(at - val) : strlen(val);
		if (nl >= sizeof(name))
			return -1;
		memcpy(name, val, nl);
		name[nl] = '\0';
		if ((a->slot = slot_find(name)) < 0)
			return -1;
		if (at && (parse_i64(at + 1, &a->n) != 0 || a->n < 0))
			return -1;
	} else if (strcmp(tok, "inject") == 0 && val) {
		a->kind = ACT_INJECT;
		return parse_inject(val, a);
	} else {
		return -1;
	}
	return 0;
}

/* Parse one rule; 'where' names it in errors.  Blank/comment lines: 0. */
int parse_rule(char *line, const char *where)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	rule r = {.dir = DIR_ANY};
	bool any = false;
	char *save = NULL;
	for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		any = true;
		char *val = strchr(tok, '=');
		if (val)
			*val++ = '\0';
		int bad = 0;
		if (strcmp(tok, "conn") == 0 && val) {
			r.has_conn = true;
			bad = parse_range(val, &r.conn);
		} else if (strcmp(tok, "dir") == 0 && val) {
			r.dir = strcmp(val, "c2s") == 0 ? C2S : strcmp(val, "s2c") == 0 ? S2C : -2;
			bad = r.dir == -2;
		} else if (strcmp(tok, "type") == 0 && val) {
			r.has_type = true;
			bad = parse_type(val, &r.type);
		} else if (strcmp(tok, "nth") == 0 && val) {
			r.has_nth = true;
			bad = parse_range(val, &r.nth);
		} else if (strcmp(tok, "after") == 0 && val) {
			r.has_after = true;
			bad = parse_u64(val, &r.after);
		} else if (strcmp(tok, "before") == 0 && val) {
			r.has_before = true;
			bad = parse_u64(val, &r.before);
		} else if (strcmp(tok, "at") == 0 && val) {
			r.timed = true;
			bad = parse_u64(val, &r.at);
		} else if (r.n_acts < MITM_MAX_ACTIONS) {
			bad = parse_action(tok, val, &r.acts[r.n_acts++]);
		} else {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "lull-mitm: %s: bad token '%s%s%s'\n", where, tok,
			        val ? "=" : "", val ? val : "");
			return -1;
		}
	}
	if (!any)
		return 0;
	if (r.n_acts == 0) {
		fprintf(stderr, "lull-mitm: %s: a rule needs an action\n", where);
		return -1;
	}
	if (r.timed) {
		for (unsigned i = 0; i < r.n_acts; i++) {
			act_kind k = r.acts[i].kind;
			bool needs_dir = k == ACT_INJECT || k == ACT_REPLAY;
			if ((k != ACT_INJECT && k != ACT_REPLAY && k != ACT_CUT && k != ACT_LOG) ||
			    (needs_dir && r.dir == DIR_ANY)) {
				fprintf(stderr,
				        "lull-mitm: %s: a timed rule (at=) takes only inject, "
				        "replay (both with dir=), cut and log\n",
				        where);
				return -1;
			}
		}
		if (r.has_type || r.has_nth || r.has_after || r.has_before) {
			fprintf(stderr, "lull-mitm: %s: at= matches no frame\n", where);
			return -1;
		}
	}
	if (n_rules == MITM_MAX_RULES) {
		fprintf(stderr, "lull-mitm: %s: more than %d rules\n", where, MITM_MAX_RULES);
		return -1;
	}
	rules[n_rules++] = r;
	return 0;
}

int load_rules_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "lull-mitm: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[MITM_LINE_MAX];
	char where[MITM_PATH_MAX + 32];
	unsigned ln = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		ln++;
		snprintf(where, sizeof(where), "%s:%u", path, ln);
		rc = parse_rule(line, where);
	}
	fclose(f);
	return rc;
}
