/*
 * mitm.h - lull-mitm's parts: the rule language (mitm_rules.c), the actions
 * a rule takes on a frame (mitm_actions.c) and the proxy that carries the
 * bytes (mitm.c).  What each part does, and the invariants, are at the top of
 * each file; the rule language is described in mitm_rules.c.
 */
#ifndef LULL_MITM_H
#define LULL_MITM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* State shared by the three parts (defined in mitm.c). */
extern rule rules[MITM_MAX_RULES];
extern unsigned n_rules;
extern slot slots[MITM_MAX_SLOTS];
extern unsigned n_slots;
extern pconn *conns[MITM_MAX_CONNS];
extern unsigned n_conns;
extern const char *capture_dir;
extern bool trace;
extern uint64_t t0_ms;

/* The rule language's names (mitm_rules.c). */
extern const char *const type_names[256];
extern const char *const act_names[ACT_LOG + 1];

int slot_find(const char *name);
int parse_u64(const char *s, uint64_t *out);
int parse_rule(char *line, const char *where);
int load_rules_file(const char *path);
void slot_store(int i, const uint8_t *f, size_t len);
const slot *slot_get(int i);
bool rule_matches_conn(const rule *r, const pconn *c);
void replay_now(pconn *c, int dir, int slot_idx, uint64_t now, const uint8_t *f, size_t flen,
                uint64_t n);
void process_frame(pconn *c, int dir, uint64_t now);
void run_timers(pconn *c, uint64_t now);
uint64_t now_ms(void);
void die_oom(void);
const char *type_name(unsigned t, char buf[8]);
const char *dir_name(int dir);
void log_conn(const pconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_frame(const pconn *c, int dir, const uint8_t *f, size_t len, uint64_t n, const char *act,
               const char *extra);
void enqueue(half *h, const uint8_t *p, size_t len, uint64_t release_ms);
void release_held(half *h, uint64_t release_ms);
void queue_free(half *h);
int out_fd(const pconn *c, int dir);
void conn_free(unsigned idx, const char *why);
void detach_side(pconn *c, int side);

#endif /* LULL_MITM_H */
