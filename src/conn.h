/*
 * conn.h - the connection object behind lull_conn, and what its three
 * files share: conn.c (lifecycle, buffers, events, close, timers),
 * conn_handshake.c (HS1 -> KEYS) and conn_records.c (data, control records,
 * spoof).  Each states its own invariants.  Internal: tests and the policy
 * layer read its fields; applications use lull.h.
 */
#ifndef LULL_CONN_H
#define LULL_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "lull.h"
#include "noise.h"
#include "policy.h"
#include "record.h"

#define CONN_OUTPUT_INITIAL_BYTES 4096
#define CONN_PROLOGUE_MAX_BYTES   (9 + CRYPTO_HASH_MAX_BYTES)

/*
 * Where a connection is (docs/protocol.md §8 draws it).  A rekey runs
 * through the same handshake states with the previous epoch's keys still
 * installed (epoch > 0): READY -> WAIT_HS2 -> WAIT_KEYS -> READY on the
 * client, READY -> WAIT_HS3 -> READY on the server.  Whether keys exist is
 * epoch != 0, not a state.
 *
 *   client  NEW -start-> WAIT_HS2 -HS2-> WAIT_KEYS -KEYS-> READY
 *   server  NEW -start-> WAIT_HS1 -HS1-> WAIT_HS3 -HS3-> READY
 *           (an HS1 read before start moves NEW to WAIT_HS3 likewise)
 *   both    any -error, timeout, HS_FAILED, CLOSE, lull_conn_close-> CLOSED
 */
typedef enum conn_state {
	CONN_NEW = 0,
	CONN_WAIT_HS1,  /* server: started, waiting for the client's first message */
	CONN_WAIT_HS2,  /* client: HS1 sent */
	CONN_WAIT_HS3,  /* server: HS1 read (and HS2 queued, or closing) */
	CONN_WAIT_KEYS, /* client: HS3 sent, Split() taken */
	CONN_READY,     /* keys installed, no handshake running */
	CONN_CLOSED,    /* every key wiped; accepts nothing more */
} conn_state;

/* What only a handshake in progress needs; allocated for its duration, so
 * an established connection does not carry ~1 KiB of Noise state. */
typedef struct conn_handshake {
	noise_handshake noise; /* destroyed as soon as Split() has been taken */
	lull_config pending_agreed;
	uint8_t pending_k1[CRYPTO_AEAD_KEY_BYTES], pending_k2[CRYPTO_AEAD_KEY_BYTES];
	uint8_t h[CRYPTO_HASH_MAX_BYTES]; /* the final handshake hash */
	size_t h_len;
} conn_handshake;

typedef struct conn_held_msg {
	struct conn_held_msg *next;
	size_t len;
	uint8_t data[];
} conn_held_msg;

struct lull_conn {
	bool is_server;
	conn_state state;   /* changed only by conn_set_state */
	bool started;       /* lull_conn_start was called: the timers run */
	bool finishing;     /* lull_conn_finish: close once the held messages are sealed */
	lull_config cfg;    /* this end's own configuration */
	lull_config agreed; /* stricter of both ends', from the last handshake */
	lull_server *srv;   /* server side */
	lull_callbacks cb;
	crypto_rng rng; /* lull_conn_set_random: ephemerals, DRKs */
	uint64_t started_ms;

	/* Identity. */
	lull_keypair own_key;             /* client side (the server's is in srv) */
	uint8_t psk[LULL_KEY_BYTES];      /* client side */
	uint8_t peer_pub[LULL_KEY_BYTES]; /* client: pinned; server: once authenticated */
	char peer_name[LULL_PEER_NAME_MAX];
	bool peer_known;

	/* Handshake in progress (hs != NULL in WAIT_HS2, WAIT_HS3, WAIT_KEYS,
	 * and on the way to them: a failure frees it with the other secrets). */
	conn_handshake *hs;
	lull_rekey_reason hs_reason;
	uint64_t hs_started_ms;
	uint64_t hs_deadline_ms;
	uint8_t prev_hash[CRYPTO_HASH_MAX_BYTES];
	size_t prev_hash_len;

	/* Keys: epoch 0 = none yet. */
	uint32_t epoch;
	record_key tx, rx, rx_prev;
	uint64_t rx_prev_deadline_ms;
	bool rx_ended;            /* client: KEY_END seen under rx; only KEYS may follow */
	policy_state pol;         /* idle, heartbeats, thresholds (agreed policy) */
	uint64_t app_bytes_total; /* application bytes, both directions, all keys */

	/* Input: one partial frame; plaintext scratch; one message in reassembly. */
	uint8_t *in_buf;
	size_t in_len;
	uint8_t *scratch;     /* lull_conn_receive's stack buffer, NULL outside it */
	size_t scratch_dirty; /* bytes of it that may hold plaintext */
	uint8_t *msg_buf;
	size_t msg_len, msg_cap;
	uint32_t msg_epoch; /* the key epoch of the message in reassembly */

	/* Output and messages held until keys are ready. */
	uint8_t *out_buf;
	size_t out_off, out_len, out_cap;
	conn_held_msg *held_head, *held_tail;
	size_t held_bytes;
};

/* ---- conn.c ------------------------------------------------------------ */

/* The one place the state changes; it tells the policy whether a
 * handshake is running (policy_set_handshake). */
void conn_set_state(lull_conn *c, conn_state s);

static inline bool conn_is_closed(const lull_conn *c)
{
	return c->state == CONN_CLOSED;
}

/* The first check of every public call that acts on c: a NULL c or
 * arguments that are not args_ok are LULL_ERR_INVALID_ARG, a closed c is
 * LULL_ERR_CLOSED. */
static inline lull_err conn_check_call(const lull_conn *c, bool args_ok)
{
	if (!c || !args_ok)
		return LULL_ERR_INVALID_ARG;
	return conn_is_closed(c) ? LULL_ERR_CLOSED : LULL_OK;
}

/* A handshake (the first or a rekey) is under way. */
static inline bool conn_hs_running(const lull_conn *c)
{
	return c->state == CONN_WAIT_HS2 || c->state == CONN_WAIT_HS3 || c->state == CONN_WAIT_KEYS;
}

/* Room for n more bytes of output (grown, or compacted, as needed). */
lull_err conn_out_reserve(lull_conn *c, size_t n);

/* Queue one control record (heartbeat, ack, rekey request, KEY_END, close)
 * under the current send key, stale or ratcheted or not. */
lull_err conn_queue_control(lull_conn *c, uint8_t type, const uint8_t *body, size_t len);

/* Give back the cipher contexts: the end of every public call. */
void conn_release_contexts(lull_conn *c);

/* Report an event; false when the callback closed the connection (the
 * caller then stops with LULL_ERR_CLOSED). */
bool conn_emit(lull_conn *c, lull_event *ev, uint64_t now_ms);
bool conn_emit_simple(lull_conn *c, uint64_t now_ms, lull_event_type type,
                      lull_rekey_reason reason);

/* Close once: queue the close frame (unless by_peer), wipe every secret,
 * report LULL_EV_CLOSED. */
void conn_close(lull_conn *c, uint64_t now_ms, lull_close_reason reason, lull_err err,
                bool by_peer);

/* A fatal local error: close with reason, hand err back to the caller. */
lull_err conn_fail(lull_conn *c, uint64_t now_ms, lull_err err, lull_close_reason reason);

/* The same for an authentication failure, reported as such first. */
lull_err conn_auth_fail(lull_conn *c, uint64_t now_ms, lull_err err, lull_close_reason reason);

crypto_aead_alg conn_aead(const lull_conn *c);
crypto_hash_alg conn_hash(const lull_conn *c);

/* ---- conn_handshake.c -------------------------------------------------- */

/* Client: queue HS1 and wait for HS2 (the first handshake or a rekey). */
lull_err conn_hs_begin(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason);

/* A whole HS1, HS2, HS3, KEYS or HS_FAILED frame whose header was checked. */
lull_err conn_hs_on_frame(lull_conn *c, uint64_t now_ms, const wire_header *h,
                          const uint8_t *frame);

/* Wipe and free the handshake state, if any. */
void conn_hs_free(lull_conn *c);

/* ---- conn_records.c ---------------------------------------------------- */

/* A whole record frame (DATA or control) whose header was checked. */
lull_err conn_on_record(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame);

/* A new key is needed: the client starts a handshake, the server asks. */
lull_err conn_want_rekey(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason);

/* Seal what is held as far as the policy allows; close if finishing. */
lull_err conn_flush_held(lull_conn *c, uint64_t now_ms);

/* One message given in pieces (the stream layer's frame header and the
 * application's bytes, where they are): lull_conn_send without first
 * copying them together.  Same results as lull_conn_send. */
#define CONN_PARTS_MAX 8u
lull_err conn_send_parts(lull_conn *c, uint64_t now_ms, const crypto_part *parts, size_t n);

/* Client: a heartbeat on the grid, or a retry of an unacked one. */
lull_err conn_send_heartbeat(lull_conn *c, uint64_t now_ms);

#endif /* LULL_CONN_H */
