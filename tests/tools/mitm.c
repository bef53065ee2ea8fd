/*
 * mitm.c - lull-mitm: a scripted man in the middle between a lull client and
 * a lull server, for the integration tests (issue 6).  It sees only what an
 * attacker on the wire sees: the plaintext frame headers
 *
 *   frame = type:u8 | flags:u8 | length:u16be | body[length]
 *
 * and it can drop, delay, duplicate, capture, replay, corrupt, truncate,
 * inject, reorder or cut, frame by frame, by script.  The endpoints' own
 * checks are what is under test, so the proxy never "repairs" anything.
 *
 *   lull-mitm --upstream [127.0.0.1:]PORT [--listen-port P] [--port-file F]
 *             [--rules FILE] [--rule 'RULE']... [--capture-dir DIR] [--trace]
 *
 * Listens on 127.0.0.1 only (port P, default 0 = any; the port is written as
 * "PORT\n" to F and logged), and for every accepted connection opens one to
 * the upstream lull server on 127.0.0.1.  Connections run concurrently, one
 * poll loop.  Runs until killed.
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
 * Log: one line per action taken on stdout, flushed, for tests to grep:
 *   mitm t=MS conn=N dir=c2s type=DATA n=K len=L [epoch=E] action=A [args]
 * t is ms since start; n the occurrence of the type; epoch is printed for
 * record types (its 4 bytes are in the clear).  --trace logs every frame.
 * Connection events: "mitm t=MS conn=N event=accepted|closed ...".
 *
 * Invariants:
 *  - Memory is bounded: one frame buffer per direction (a frame is at most
 *    WIRE_FRAME_MAX_BYTES); reading stops while more than MITM_QUEUE_MAX
 *    bytes wait to be written; slots hold one frame each.
 *  - A length field beyond the protocol's maximum is not believed: from that
 *    header on the direction is passed through raw (logged once), so the
 *    endpoints' own length checks are what is exercised.
 *  - Bytes are never reordered except by an explicit swap, and an EOF is
 *    forwarded (shutdown) only after everything queued before it.
 *  - Only 127.0.0.1, for listening and for the upstream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define MITM_MAX_RULES    256
#define MITM_MAX_ACTIONS  16
#define MITM_MAX_SLOTS    64
#define MITM_SLOT_NAME    32
#define MITM_MAX_CONNS    256
#define MITM_QUEUE_MAX    (256u << 10) /* stop reading a side past this */
#define MITM_READ_BYTES   (16u << 10)
#define MITM_INJECT_MAX   (1u << 20)
#define MITM_BODY_MAX     (WIRE_FRAME_MAX_BYTES - WIRE_HEADER_BYTES)
#define MITM_LINE_MAX     4096
#define MITM_PATH_MAX     1024
#define MITM_POLL_IDLE_MS 1000

enum { C2S = 0, S2C = 1, DIR_ANY = -1 };
enum { SIDE_CLIENT = 0, SIDE_SERVER = 1, SIDE_BOTH = 2 };

typedef enum act_kind {
	ACT_PASS,
	ACT_DROP,
	ACT_DELAY,
	ACT_DUP,
	ACT_CAPTURE,
	ACT_REPLAY,
	ACT_FLIP,
	ACT_TRUNCATE,
	ACT_INJECT,
	ACT_SWAP,
	ACT_CUT,
	ACT_LOG,
} act_kind;

typedef struct action {
	act_kind kind;
	int64_t n;    /* flip: bit; truncate: bytes; delay/replay: ms */
	int slot;     /* capture, replay */
	int side;     /* cut */
	uint8_t *hex; /* inject */
	size_t hex_len;
} action;

typedef struct range {
	uint64_t lo, hi; /* inclusive; hi = UINT64_MAX: open */
} range;

typedef struct rule {
	bool has_conn, has_type, has_nth, has_after, has_before, timed;
	int dir;
	range conn, nth;
	unsigned type;
	uint64_t after, before, at;
	action acts[MITM_MAX_ACTIONS];
	unsigned n_acts;
} rule;

typedef struct slot {
	char name[MITM_SLOT_NAME];
	uint8_t *data; /* NULL until captured or loaded */
	size_t len;
} slot;

/* A run of bytes waiting to be written to one side, not before release. */
typedef struct seg {
	struct seg *next;
	uint64_t release_ms;
	size_t len, off;
	uint8_t data[];
} seg;

/* A replay scheduled for later (replay=SLOT@MS). */
typedef struct sched {
	struct sched *next;
	uint64_t due_ms;
	int dir, slot;
} sched;

/* One direction of one proxied connection. */
typedef struct half {
	uint8_t frame[WIRE_FRAME_MAX_BYTES];
	size_t have;   /* bytes of the current frame so far */
	bool raw;      /* lost faith in the framing: bytes pass as they come */
	bool in_eof;   /* the source side closed (or was cut) */
	bool out_shut; /* EOF forwarded, or the destination side is gone */
	seg *head, *tail;
	size_t queued;
	uint8_t *held; /* swap: goes out right after the next frame */
	size_t held_len;
	uint64_t count_type[256];
	uint64_t count_all;
} half;

typedef struct pconn {
	int fd[2]; /* [SIDE_CLIENT], [SIDE_SERVER]; -1 once closed */
	unsigned id;
	uint64_t start_ms;
	half h[2];        /* [C2S] reads fd[client], writes fd[server]; [S2C] reverse */
	bool detached[2]; /* cut=client: the server side stays open, silent */
	sched *sched;
	bool fired[MITM_MAX_RULES]; /* timed rules */
} pconn;

static rule rules[MITM_MAX_RULES];
static unsigned n_rules;
static slot slots[MITM_MAX_SLOTS];
static unsigned n_slots;
static pconn *conns[MITM_MAX_CONNS];
static unsigned n_conns;
static const char *capture_dir;
static bool trace;
static uint64_t t0_ms;

static const char *const type_names[] = {
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

static const char *const act_names[] = {
        [ACT_PASS] = "pass", [ACT_DROP] = "drop",         [ACT_DELAY] = "delay",
        [ACT_DUP] = "dup",   [ACT_CAPTURE] = "capture",   [ACT_REPLAY] = "replay",
        [ACT_FLIP] = "flip", [ACT_TRUNCATE] = "truncate", [ACT_INJECT] = "inject",
        [ACT_SWAP] = "swap", [ACT_CUT] = "cut",           [ACT_LOG] = "log",
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die_oom(void)
{
	fprintf(stderr, "lull-mitm: out of memory\n");
	exit(1);
}

static const char *type_name(unsigned t, char buf[8])
{
	if (t < sizeof(type_names) / sizeof(type_names[0]) && type_names[t])
		return type_names[t];
	snprintf(buf, 8, "T%u", t);
	return buf;
}

static const char *dir_name(int dir)
{
	return dir == C2S ? "c2s" : "s2c";
}

/* ---- logging ------------------------------------------------------------ */

/* One line per action on a frame; 'extra' holds the action's arguments. */
static void log_frame(const pconn *c, int dir, const uint8_t *f, size_t len, uint64_t n,
                      const char *act, const char *extra)
{
	char tb[8];
	unsigned type = f[0];
	printf("mitm t=%llu conn=%u dir=%s type=%s n=%llu len=%zu",
	       (unsigned long long)(now_ms() - t0_ms), c->id, dir_name(dir), type_name(type, tb),
	       (unsigned long long)n, len);
	if (wire_type_is_record((uint8_t)type) && len >= WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES)
		printf(" epoch=%u", wire_get_u32(f + WIRE_HEADER_BYTES));
	printf(" action=%s%s%s\n", act, extra && *extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

static void log_conn(const pconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_conn(const pconn *c, const char *fmt, ...)
{
	va_list ap;
	printf("mitm t=%llu conn=%u ", (unsigned long long)(now_ms() - t0_ms), c->id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- rule parsing ------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out)
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

static int slot_find(const char *name)
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
static int parse_rule(char *line, const char *where)
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

static int load_rules_file(const char *path)
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

/* ---- slots -------------------------------------------------------------- */

static void slot_path(const slot *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.frame", capture_dir, s->name);
}

static void slot_store(int i, const uint8_t *f, size_t len)
{
	slot *s = &slots[i];
	free(s->data);
	s->data = malloc(len ? len : 1);
	if (!s->data)
		die_oom();
	memcpy(s->data, f, len);
	s->len = len;
	if (!capture_dir)
		return;
	/* Write, then rename: a reader in another process never sees half. */
	char path[MITM_PATH_MAX], tmp[MITM_PATH_MAX + 8];
	slot_path(s, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "wb");
	if (!fp || fwrite(f, 1, len, fp) != len || fclose(fp) != 0 || rename(tmp, path) != 0)
		fprintf(stderr, "lull-mitm: capture %s: %s\n", path, strerror(errno));
}

/* The slot's frame, loaded from the capture directory if not yet held. */
static const slot *slot_get(int i)
{
	slot *s = &slots[i];
	if (s->data || !capture_dir)
		return s->data ? s : NULL;
	char path[MITM_PATH_MAX];
	slot_path(s, path, sizeof(path));
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	uint8_t buf[WIRE_FRAME_MAX_BYTES];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (n == 0)
		return NULL;
	s->data = malloc(n);
	if (!s->data)
		die_oom();
	memcpy(s->data, buf, n);
	s->len = n;
	return s;
}

/* ---- output queues ------------------------------------------------------ */

static void enqueue(half *h, const uint8_t *p, size_t len, uint64_t release_ms)
{
	if (len == 0 || h->out_shut)
		return;
	seg *s = malloc(sizeof(*s) + len);
	if (!s)
		die_oom();
	s->next = NULL;
	s->release_ms = release_ms;
	s->len = len;
	s->off = 0;
	memcpy(s->data, p, len);
	if (h->tail)
		h->tail->next = s;
	else
		h->head = s;
	h->tail = s;
	h->queued += len;
}

/* A frame held by swap goes out now (after whatever was just queued). */
static void release_held(half *h, uint64_t release_ms)
{
	if (!h->held)
		return;
	enqueue(h, h->held, h->held_len, release_ms);
	free(h->held);
	h->held = NULL;
}

static void queue_free(half *h)
{
	for (seg *s = h->head, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	h->head = h->tail = NULL;
	h->queued = 0;
	free(h->held);
	h->held = NULL;
}

/* ---- connections -------------------------------------------------------- */

static int out_fd(const pconn *c, int dir)
{
	return c->fd[dir == C2S ? SIDE_SERVER : SIDE_CLIENT];
}

static void conn_free(unsigned idx, const char *why)
{
	pconn *c = conns[idx];
	log_conn(c, "event=closed why=%s", why);
	for (int s = 0; s < 2; s++)
		if (c->fd[s] >= 0)
			close(c->fd[s]);
	for (int d = 0; d < 2; d++)
		queue_free(&c->h[d]);
	for (sched *s = c->sched, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	free(c);
	conns[idx] = conns[--n_conns];
}

/* Close one side of a connection (cut=client/server): its direction out
 * stops, the opposite side keeps receiving what was queued and never an
 * EOF, so it sees a peer that went silent. */
static void detach_side(pconn *c, int side)
{
	if (c->fd[side] < 0)
		return;
	close(c->fd[side]);
	c->fd[side] = -1;
	int from = side == SIDE_CLIENT ? C2S : S2C; /* reads from that side */
	int to = 1 - from;                          /* writes to that side */
	c->h[from].in_eof = true;
	c->h[from].raw = true;
	c->detached[1 - side] = true;
	c->h[to].out_shut = true;
	queue_free(&c->h[to]);
}

static bool rule_matches_conn(const rule *r, const pconn *c)
{
	return !r->has_conn || (c->id >= r->conn.lo && c->id <= r->conn.hi);
}

static void replay_now(pconn *c, int dir, int slot_idx, uint64_t now, const uint8_t *f, size_t flen,
                       uint64_t n)
{
	const slot *s = slot_get(slot_idx);
	char extra[96];
	if (!s) {
		snprintf(extra, sizeof(extra), "slot=%s missing=1", slots[slot_idx].name);
		if (f)
			log_frame(c, dir, f, flen, n, "replay", extra);
		else
			log_conn(c, "dir=%s action=replay %s", dir_name(dir), extra);
		return;
	}
	snprintf(extra, sizeof(extra), "slot=%s slot_len=%zu", s->name, s->len);
	if (f)
		log_frame(c, dir, f, flen, n, "replay", extra);
	else
		log_conn(c, "dir=%s action=replay %s", dir_name(dir), extra);
	enqueue(&c->h[dir], s->data, s->len, now);
}

/* Apply every matching rule to one complete frame of direction dir. */
static void process_frame(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	uint8_t f[WIRE_FRAME_MAX_BYTES];
	size_t flen = h->have;
	memcpy(f, h->frame, flen);
	unsigned type = f[0];
	uint64_t n = ++h->count_type[type];
	uint64_t n_all = ++h->count_all;
	uint64_t since = now - c->start_ms;
	bool drop = false, swap = false, acted = false;
	unsigned copies = 1;
	uint64_t delay = 0;
	int cut = -1;
	char extra[96];

	for (unsigned ri = 0; ri < n_rules; ri++) {
		const rule *r = &rules[ri];
		if (r->timed || !rule_matches_conn(r, c) || (r->dir != DIR_ANY && r->dir != dir))
			continue;
		if (r->has_type && r->type != type)
			continue;
		uint64_t occ = r->has_type ? n : n_all;
		if (r->has_nth && (occ < r->nth.lo || occ > r->nth.hi))
			continue;
		if ((r->has_after && since < r->after) || (r->has_before && since >= r->before))
			continue;
		for (unsigned ai = 0; ai < r->n_acts; ai++) {
			const action *a = &r->acts[ai];
			extra[0] = '\0';
			switch (a->kind) {
			case ACT_PASS:
			case ACT_LOG:
				break;
			case ACT_DROP:
				drop = true;
				break;
			case ACT_DELAY:
				delay = (uint64_t)a->n;
				snprintf(extra, sizeof(extra), "ms=%lld", (long long)a->n);
				break;
			case ACT_DUP:
				copies++;
				break;
			case ACT_SWAP:
				swap = true;
				break;
			case ACT_CUT:
				cut = a->side;
				snprintf(extra, sizeof(extra), "side=%s",
				         a->side == SIDE_BOTH     ? "both"
				         : a->side == SIDE_CLIENT ? "client"
				                                  : "server");
				break;
			case ACT_CAPTURE:
				slot_store(a->slot, f, flen);
				snprintf(extra, sizeof(extra), "slot=%s", slots[a->slot].name);
				break;
			case ACT_REPLAY:
				if (a->n == 0) {
					replay_now(c, dir, a->slot, now, f, flen, n);
					acted = true;
					continue;
				} else {
					sched *s = calloc(1, sizeof(*s));
					if (!s)
						die_oom();
					s->due_ms = now + (uint64_t)a->n;
					s->dir = dir;
					s->slot = a->slot;
					s->next = c->sched;
					c->sched = s;
					snprintf(extra, sizeof(extra), "slot=%s in_ms=%lld",
					         slots[a->slot].name, (long long)a->n);
				}
				break;
			case ACT_FLIP: {
				int64_t bits = (int64_t)flen * 8;
				int64_t k = a->n < 0 ? bits + a->n : a->n;
				if (k < 0 || k >= bits) {
					snprintf(extra, sizeof(extra),
					         "bit=%lld skipped=out_of_range", (long long)a->n);
				} else {
					f[k / 8] ^= (uint8_t)(0x80u >> (k % 8));
					snprintf(extra, sizeof(extra), "bit=%lld", (long long)k);
				}
				break;
			}
			case ACT_TRUNCATE: {
				int64_t keep = a->n < 0 ? (int64_t)flen + a->n : a->n;
				if (keep < 0)
					keep = 0;
				if ((size_t)keep < flen)
					flen = (size_t)keep;
				snprintf(extra, sizeof(extra), "to=%zu", flen);
				break;
			}
			case ACT_INJECT:
				enqueue(h, a->hex, a->hex_len, now);
				snprintf(extra, sizeof(extra), "bytes=%zu", a->hex_len);
				break;
			}
			log_frame(c, dir, h->frame, h->have, n, act_names[a->kind], extra);
			acted = true;
		}
	}
	if (trace && !acted)
		log_frame(c, dir, h->frame, h->have, n, "pass", "trace=1");

	/* Emit: a swapped frame is held; a held one follows the next frame. */
	bool sent = false, hold = false;
	if (!drop) {
		for (unsigned i = 0; i < copies; i++) {
			if (swap && i == 0) {
				hold = true;
				continue;
			}
			enqueue(h, f, flen, now + delay);
			sent = true;
		}
	}
	if (sent || hold)
		release_held(h, now + delay);
	if (hold) {
		h->held = malloc(flen ? flen : 1);
		if (!h->held)
			die_oom();
		memcpy(h->held, f, flen);
		h->held_len = flen;
	}
	if (cut == SIDE_BOTH) {
		c->detached[0] = c->detached[1] = false;
		for (int d = 0; d < 2; d++) {
			queue_free(&c->h[d]);
			c->h[d].in_eof = c->h[d].out_shut = true;
		}
	} else if (cut >= 0) {
		detach_side(c, cut);
	}
}

/* Feed bytes read from one side into that direction's frame parser. */
static void feed(pconn *c, int dir, const uint8_t *p, size_t len, uint64_t now)
{
	half *h = &c->h[dir];
	while (len > 0) {
		if (h->raw) {
			enqueue(h, p, len, now);
			return;
		}
		size_t want = WIRE_HEADER_BYTES;
		if (h->have >= WIRE_HEADER_BYTES) {
			size_t body = wire_get_u16(h->frame + 2);
			want = WIRE_HEADER_BYTES + body;
		}
		size_t take = want - h->have < len ? want - h->have : len;
		memcpy(h->frame + h->have, p, take);
		h->have += take;
		p += take;
		len -= take;
		if (h->have == WIRE_HEADER_BYTES) {
			size_t body = wire_get_u16(h->frame + 2);
			if (body > MITM_BODY_MAX) {
				char tb[8];
				log_conn(c,
				         "dir=%s type=%s len=%zu action=raw "
				         "why=length_beyond_protocol "
				         "max=%u",
				         dir_name(dir), type_name(h->frame[0], tb),
				         body + WIRE_HEADER_BYTES, (unsigned)MITM_BODY_MAX);
				h->raw = true;
				enqueue(h, h->frame, h->have, now);
				h->have = 0;
				continue;
			}
		}
		if (h->have >= WIRE_HEADER_BYTES &&
		    h->have == (size_t)WIRE_HEADER_BYTES + wire_get_u16(h->frame + 2)) {
			process_frame(c, dir, now);
			h->have = 0;
			if (h->in_eof) /* cut while processing */
				return;
		}
	}
}

/* The source of dir closed: what it sent of a frame goes on as it is. */
static void source_eof(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	if (h->in_eof)
		return;
	h->in_eof = true;
	if (h->have > 0) {
		log_conn(c, "dir=%s action=partial_at_eof bytes=%zu", dir_name(dir), h->have);
		enqueue(h, h->frame, h->have, now);
		h->have = 0;
	}
	release_held(h, now);
}

/* Write what is due; 0 on success, -1 when the destination failed. */
static int flush_half(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	int fd = out_fd(c, dir);
	while (h->head && h->head->release_ms <= now && fd >= 0) {
		seg *s = h->head;
		ssize_t w = send(fd, s->data + s->off, s->len - s->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -1;
		}
		s->off += (size_t)w;
		h->queued -= (size_t)w;
		if (s->off < s->len)
			return 0;
		h->head = s->next;
		if (!h->head)
			h->tail = NULL;
		free(s);
	}
	/* Forward the EOF once everything before it is out (not to a side that
	 * was detached: that one must see silence, not a close). */
	if (h->in_eof && !h->head && !h->held && !h->out_shut) {
		if (!c->detached[dir == C2S ? SIDE_SERVER : SIDE_CLIENT] && fd >= 0)
			shutdown(fd, SHUT_WR);
		h->out_shut = true;
	}
	return 0;
}

static void run_timers(pconn *c, uint64_t now)
{
	for (unsigned ri = 0; ri < n_rules; ri++) {
		const rule *r = &rules[ri];
		if (!r->timed || c->fired[ri] || !rule_matches_conn(r, c) ||
		    now < c->start_ms + r->at)
			continue;
		c->fired[ri] = true;
		for (unsigned ai = 0; ai < r->n_acts; ai++) {
			const action *a = &r->acts[ai];
			if (a->kind == ACT_REPLAY) {
				replay_now(c, r->dir, a->slot, now, NULL, 0, 0);
			} else if (a->kind == ACT_INJECT) {
				log_conn(c, "dir=%s action=inject bytes=%zu at=%llu",
				         dir_name(r->dir), a->hex_len, (unsigned long long)r->at);
				enqueue(&c->h[r->dir], a->hex, a->hex_len, now);
			} else if (a->kind == ACT_LOG) {
				log_conn(c, "action=log at=%llu", (unsigned long long)r->at);
			} else if (a->kind == ACT_CUT) {
				log_conn(c, "action=cut side=%s at=%llu",
				         a->side == SIDE_BOTH     ? "both"
				         : a->side == SIDE_CLIENT ? "client"
				                                  : "server",
				         (unsigned long long)r->at);
				if (a->side == SIDE_BOTH) {
					c->detached[0] = c->detached[1] = false;
					for (int d = 0; d < 2; d++) {
						queue_free(&c->h[d]);
						c->h[d].in_eof = c->h[d].out_shut = true;
					}
				} else {
					detach_side(c, a->side);
				}
			}
		}
	}
	for (sched **pp = &c->sched; *pp;) {
		sched *s = *pp;
		if (s->due_ms > now) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		if (c->h[s->dir].out_shut)
			log_conn(c, "dir=%s action=replay slot=%s dropped=closed", dir_name(s->dir),
			         slots[s->slot].name);
		else
			replay_now(c, s->dir, s->slot, now, NULL, 0, 0);
		free(s);
	}
}

/* Earliest time this connection needs the loop to wake up for. */
static uint64_t next_wake(const pconn *c, uint64_t now)
{
	uint64_t next = now + MITM_POLL_IDLE_MS;
	for (int d = 0; d < 2; d++)
		if (c->h[d].head && c->h[d].head->release_ms > now &&
		    c->h[d].head->release_ms < next)
			next = c->h[d].head->release_ms;
	for (const sched *s = c->sched; s; s = s->next)
		if (s->due_ms < next)
			next = s->due_ms;
	for (unsigned ri = 0; ri < n_rules; ri++)
		if (rules[ri].timed && !c->fired[ri] && rule_matches_conn(&rules[ri], c) &&
		    c->start_ms + rules[ri].at < next)
			next = c->start_ms + rules[ri].at;
	return next;
}

static int connect_upstream(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback: a blocking connect completes or fails at once. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void accept_one(int lfd, uint16_t upstream, unsigned *next_id)
{
	int cfd = accept(lfd, NULL, NULL);
	if (cfd < 0)
		return;
	unsigned id = (*next_id)++;
	if (n_conns == MITM_MAX_CONNS) {
		printf("mitm t=%llu conn=%u event=refused why=too_many_connections\n",
		       (unsigned long long)(now_ms() - t0_ms), id);
		fflush(stdout);
		close(cfd);
		return;
	}
	pconn *c = calloc(1, sizeof(*c));
	if (!c)
		die_oom();
	c->id = id;
	c->start_ms = now_ms();
	c->fd[SIDE_CLIENT] = cfd;
	c->fd[SIDE_SERVER] = connect_upstream(upstream);
	if (c->fd[SIDE_SERVER] < 0) {
		log_conn(c, "event=upstream_failed port=%u err=\"%s\"", upstream, strerror(errno));
		close(cfd);
		free(c);
		return;
	}
	set_nonblock(cfd);
	set_nonblock(c->fd[SIDE_SERVER]);
	conns[n_conns++] = c;
	log_conn(c, "event=accepted");
}

static void usage(FILE *out)
{
	fputs("usage: lull-mitm --upstream [127.0.0.1:]PORT [--listen-port P] [--port-file F]\n"
	      "                 [--rules FILE] [--rule 'RULE']... [--capture-dir DIR] [--trace]\n"
	      "\n"
	      "A scripted man in the middle on 127.0.0.1 between a lull client and server.\n"
	      "\n"
	      "  rule   = { match } action { action }     (every matching rule applies, in\n"
	      "                                           order; actions left to right)\n"
	      "  match  = conn=RANGE | dir=c2s|s2c | type=TYPE | nth=RANGE\n"
	      "         | after=MS | before=MS            (ms since the connection was accepted)\n"
	      "         | at=MS                           timed: fires once per connection, no\n"
	      "                                           frame (inject/replay with dir=, cut, "
	      "log)\n"
	      "  RANGE  = N | N-M | N-                    1-based; N- is N and every later one\n"
	      "  TYPE   = HS1 HS2 HS3 KEYS DATA HEARTBEAT HEARTBEAT_ACK|ACK REKEY_REQUEST CLOSE\n"
	      "           HS_FAILED | 0-255               nth= counts this type (any frame\n"
	      "                                           without type=) in this direction\n"
	      "  action = pass | drop | dup | swap | log\n"
	      "         | delay=MS                        later frames queue behind it\n"
	      "         | capture=SLOT                    also DIR/SLOT.frame with --capture-dir\n"
	      "         | replay=SLOT[@MS]                before this frame, or MS ms later\n"
	      "         | flip=K                          bit 0 = MSB of the type byte; K<0 from "
	      "end\n"
	      "         | truncate=N                      first N bytes; N<0: drop the last -N\n"
	      "         | inject=HEX[*N]                  raw bytes before this frame (<= 1 MiB)\n"
	      "         | cut[=client|server|both]        cut=client: server side stays open, "
	      "silent\n"
	      "\n"
	      "Logs one line per action on stdout:\n"
	      "  mitm t=MS conn=N dir=D type=T n=K len=L [epoch=E] action=A [args]\n"
	      "A length beyond the protocol's maximum switches that direction to raw.\n",
	      out);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	uint64_t upstream = 0, listen_port = 0;
	bool have_upstream = false;
	char where[64];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--trace") == 0) {
			trace = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "lull-mitm: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--upstream") == 0) {
			if (strncmp(v, "127.0.0.1:", 10) == 0)
				v += 10;
			have_upstream =
			        parse_u64(v, &upstream) == 0 && upstream > 0 && upstream <= 65535;
			if (!have_upstream) {
				fprintf(stderr, "lull-mitm: --upstream must be [127.0.0.1:]PORT\n");
				return 2;
			}
		} else if (strcmp(a, "--listen-port") == 0) {
			if (parse_u64(v, &listen_port) != 0 || listen_port > 65535) {
				fprintf(stderr, "lull-mitm: bad --listen-port '%s'\n", v);
				return 2;
			}
		} else if (strcmp(a, "--port-file") == 0) {
			port_file = v;
		} else if (strcmp(a, "--capture-dir") == 0) {
			capture_dir = v;
		} else if (strcmp(a, "--rules") == 0) {
			if (load_rules_file(v) != 0)
				return 2;
		} else if (strcmp(a, "--rule") == 0) {
			char line[MITM_LINE_MAX];
			if (strlen(v) >= sizeof(line)) {
				fprintf(stderr, "lull-mitm: rule too long\n");
				return 2;
			}
			strcpy(line, v);
			snprintf(where, sizeof(where), "--rule #%u", n_rules + 1);
			if (parse_rule(line, where) != 0)
				return 2;
		} else {
			fprintf(stderr, "lull-mitm: unknown argument '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (!have_upstream) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t0_ms = now_ms();

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never anything else */
	socklen_t salen = sizeof(sa);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0 || set_nonblock(lfd) != 0) {
		fprintf(stderr, "lull-mitm: listen: %s\n", strerror(errno));
		return 1;
	}
	unsigned port = ntohs(sa.sin_port);
	printf("mitm t=0 event=listening port=%u upstream=%u rules=%u\n", port, (unsigned)upstream,
	       n_rules);
	fflush(stdout);
	if (port_file) {
		/* Write then rename, so a poller never reads an empty file. */
		char tmp[MITM_PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *pf = fopen(tmp, "w");
		if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0 ||
		    rename(tmp, port_file) != 0) {
			fprintf(stderr, "lull-mitm: port file %s: %s\n", port_file,
			        strerror(errno));
			return 1;
		}
	}

	static struct pollfd pfds[1 + 2 * MITM_MAX_CONNS];
	unsigned next_id = 1;
	uint8_t buf[MITM_READ_BYTES];
	for (;;) {
		uint64_t now = now_ms();
		uint64_t wake = now + MITM_POLL_IDLE_MS;
		pfds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (unsigned i = 0; i < n_conns; i++) {
			pconn *c = conns[i];
			for (int side = 0; side < 2; side++) {
				int from = side == SIDE_CLIENT ? C2S : S2C;
				int to = 1 - from;
				short ev = 0;
				if (!c->h[from].in_eof && c->h[from].queued < MITM_QUEUE_MAX)
					ev |= POLLIN;
				if (c->h[to].head && c->h[to].head->release_ms <= now)
					ev |= POLLOUT;
				pfds[1 + 2 * i + side] =
				        (struct pollfd){.fd = c->fd[side], .events = ev};
			}
			uint64_t w = next_wake(c, now);
			if (w < wake)
				wake = w;
		}
		int timeout = wake > now ? (int)(wake - now) : 0;
		if (poll(pfds, 1 + 2 * n_conns, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "lull-mitm: poll: %s\n", strerror(errno));
			return 1;
		}
		now = now_ms();
		unsigned polled = n_conns;
		/* Walk backwards: conn_free moves the last entry into the hole. */
		for (unsigned i = polled; i-- > 0;) {
			pconn *c = conns[i];
			const char *dead = NULL;
			for (int side = 0; side < 2 && !dead; side++) {
				int from = side == SIDE_CLIENT ? C2S : S2C;
				short re = pfds[1 + 2 * i + side].revents;
				if (c->fd[side] < 0 || !(re & (POLLIN | POLLHUP | POLLERR)) ||
				    c->h[from].in_eof)
					continue;
				ssize_t r = recv(c->fd[side], buf, sizeof(buf), 0);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0) {
					log_conn(c, "event=eof side=%s%s",
					         side == SIDE_CLIENT ? "client" : "server",
					         r < 0 ? " err=reset" : "");
					if (c->detached[side]) {
						/* The silent side's peer gave up: done. */
						dead = side == SIDE_CLIENT ? "client_closed"
						                           : "server_closed";
						break;
					}
					source_eof(c, from, now);
					continue;
				}
				if (c->detached[side])
					continue; /* nobody left to deliver to */
				feed(c, from, buf, (size_t)r, now);
			}
			if (!dead)
				run_timers(c, now);
			for (int d = 0; d < 2 && !dead; d++)
				if (flush_half(c, d, now) != 0)
					dead = d == C2S ? "server_write_failed"
					                : "client_write_failed";
			/* Both directions closed and flushed.  A detached connection ends
			 * only when its silent side's peer closes (above). */
			if (!dead && !c->detached[0] && !c->detached[1] && c->h[C2S].in_eof &&
			    c->h[S2C].in_eof && c->h[C2S].out_shut && c->h[S2C].out_shut)
				dead = "both_done";
			if (dead)
				conn_free(i, dead);
		}
		if (pfds[0].revents & POLLIN)
			accept_one(lfd, (uint16_t)upstream, &next_id);
	}
}
