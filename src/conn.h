/*
 * conn.h - the connection object behind lull_conn (see conn.c for the
 * protocol and its invariants).  Internal: tests and the policy layer read
 * its fields; applications use lull.h.
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

typedef enum conn_hs_step {
	HS_IDLE = 0,
	HS_WAIT_HS2,  /* client */
	HS_WAIT_HS3,  /* server */
	HS_WAIT_KEYS, /* client */
} conn_hs_step;

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
	bool started;
	bool closed;
	bool finishing;     /* lull_conn_finish: close once the held messages are sealed */
	lull_config cfg;    /* this end's own configuration */
	lull_config agreed; /* stricter of both ends', from the last handshake */
	lull_server *srv;   /* server side */
	lull_callbacks cb;
	uint64_t started_ms;

	/* Identity. */
	lull_keypair own_key;             /* client side (the server's is in srv) */
	uint8_t psk[LULL_KEY_BYTES];      /* client side */
	uint8_t peer_pub[LULL_KEY_BYTES]; /* client: pinned; server: once authenticated */
	char peer_name[LULL_PEER_NAME_MAX];
	bool peer_known;

	/* Handshake in progress (hs != NULL while hs_active, and on the way
	 * to it: a failure frees it with the rest of the secrets). */
	bool hs_active;
	conn_hs_step hs_step;
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
	bool rx_prev_stale;       /* the previous key went stale: data under it is a spoof */
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

#endif /* LULL_CONN_H */
