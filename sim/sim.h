/*
 * sim.h - the policy simulator's shared vocabulary: its named errors, the
 * constants every part uses (with their units, in this one place) and the
 * trace a replay consumes.
 *
 * Invariants:
 *  - Every time in the simulator is virtual milliseconds; nothing sleeps and
 *    nothing reads a wall clock, except the one-off measurement of what a
 *    handshake costs (run.c), which never feeds a deterministic figure.
 *  - A trace is bounded before it is built: duration, message count and
 *    message size are checked against the limits below by the parser and by
 *    the generators alike, so a replay never meets a value the engine would
 *    refuse.
 */
#ifndef LULL_SIM_H
#define LULL_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "lull.h"

/* ---- Named failures ---------------------------------------------------- */

typedef enum sim_err {
	SIM_OK = 0,
	SIM_ERR_USAGE,           /* bad command line */
	SIM_ERR_IO,              /* a file could not be opened, read or written */
	SIM_ERR_NOMEM,           /* allocation failed */
	SIM_ERR_TRACE_SYNTAX,    /* a trace line is not what the format says */
	SIM_ERR_TRACE_RANGE,     /* a trace number is outside its bound */
	SIM_ERR_TRACE_ORDER,     /* trace timestamps go backwards */
	SIM_ERR_TRACE_TOO_LARGE, /* too many messages, or a line too long */
	SIM_ERR_ENGINE,          /* the engine refused a call */
	SIM_ERR_CLOSED,          /* the connection closed during a replay */
	SIM_ERR_LOST,            /* a message sent was never delivered */
} sim_err;

const char *sim_err_name(sim_err err);

/* ---- Units and limits --------------------------------------------------- */

#define SIM_MS_PER_S   1000ull
#define SIM_MS_PER_MIN (60ull * SIM_MS_PER_S)
#define SIM_MS_PER_H   (60ull * SIM_MS_PER_MIN)
#define SIM_MS_PER_DAY (24ull * SIM_MS_PER_H)
#define SIM_KIB        1024ull
#define SIM_MIB        (1024ull * SIM_KIB)
#define SIM_GIB        (1024ull * SIM_MIB)

/* Traces: a replay must end before a "disabled" heartbeat could fire (the
 * engine's largest interval, UINT32_MAX ms, is ~49.7 days). */
#define SIM_TRACE_MAX_DURATION_MS   (30ull * SIM_MS_PER_DAY)
#define SIM_TRACE_MAX_MESSAGES      (8u << 20)
#define SIM_TRACE_MAX_MESSAGE_BYTES LULL_DEFAULT_MAX_MESSAGE_BYTES
#define SIM_TRACE_LINE_MAX_BYTES    128
#define SIM_TRACE_NAME_MAX_BYTES    64

/* The virtual clock of a replay starts here, not at 0, so that no engine
 * code can mistake a real time for "unset". */
#define SIM_CLOCK_ORIGIN_MS 1000000ull

/* How a peer policy says "never" to the engine, which has no off switch:
 * heartbeats at the largest interval lull_config_validate accepts (longer
 * than any trace, see above), byte and age limits at 2^62 (~146 million
 * years, 4 EiB), far past any trace and still safe to add to. */
#define SIM_HEARTBEAT_OFF_MS UINT32_MAX
#define SIM_NEVER_MS         (1ull << 62)
#define SIM_NEVER_BYTES      (1ull << 62)

/* The peer policies of issue 8. */
#define SIM_TIMED_REKEY_MS          (2ull * SIM_MS_PER_MIN)
#define SIM_BYTES_ONLY_REKEY_BYTES  SIM_GIB
#define SIM_SSH_REKEY_BYTES         SIM_GIB
#define SIM_SSH_REKEY_MS            SIM_MS_PER_H
#define SIM_WG_REKEY_AFTER_MS       (120ull * SIM_MS_PER_S) /* WireGuard REKEY_AFTER_TIME */
#define SIM_WG_REJECT_AFTER_MS      (180ull * SIM_MS_PER_S) /* WireGuard REJECT_AFTER_TIME */
#define SIM_WG_KEEPALIVE_MS         (10ull * SIM_MS_PER_S)  /* WireGuard KEEPALIVE_TIMEOUT */
#define SIM_WG_HEARTBEAT_TIMEOUT_MS 10000u

/* Handshake cost measurement: timed rekeys of a real pair, best batch. */
#define SIM_HS_MEASURE_BATCHES   5
#define SIM_HS_MEASURE_PER_BATCH 40

/* A bound on the pump loop: more rounds than this at one instant means the
 * two engines are ping-ponging, which is a bug worth stopping for. */
#define SIM_PUMP_MAX_ROUNDS 100000
/* Ticks at one instant that move no deadline: an engine bug (see run.c). */
#define SIM_STUCK_TICKS_MAX 1000

/* ---- Traces -------------------------------------------------------------- */

typedef enum sim_dir {
	SIM_C2S = 0, /* client to server */
	SIM_S2C = 1, /* server to client */
} sim_dir;

typedef struct sim_msg {
	uint64_t t_ms;  /* since the start of the trace */
	uint32_t bytes; /* 1..SIM_TRACE_MAX_MESSAGE_BYTES */
	uint8_t dir;    /* sim_dir */
} sim_msg;

typedef struct sim_trace {
	char name[SIM_TRACE_NAME_MAX_BYTES];
	uint64_t duration_ms; /* the replay runs this long, >= the last message */
	sim_msg *msgs;
	size_t n, cap;
	uint64_t total_bytes;
} sim_trace;

void sim_trace_init(sim_trace *tr, const char *name, uint64_t duration_ms);
void sim_trace_free(sim_trace *tr);
/* Append one message; SIM_ERR_TRACE_* when it breaks a bound or the order. */
sim_err sim_trace_add(sim_trace *tr, uint64_t t_ms, sim_dir dir, uint64_t bytes);

#endif /* LULL_SIM_H */
