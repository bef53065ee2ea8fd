/*
 * policy.h - the rekey/heartbeat policy both ends enforce (design brief §1A).
 *
 * Two parts.  The agreement (A11): the server announces its policy in
 * handshake message 2, the client answers with its own in message 3, and
 * both compute, knob by knob, the stricter of the two.  Because the merge is
 * a pure function of the two announcements, both ends hold the same numbers
 * without a further round trip.
 *
 *   policy = version:u8 | on_missed_ack:u8 | on_spoof:u8 | on_missing_hb:u8
 *          | heartbeat_interval_ms:u32 | heartbeat_timeout_ms:u32
 *          | heartbeat_retries:u32 | max_message_bytes:u32
 *          | rekey_bytes:u64 | rekey_max_age_ms:u64
 *          | reject_after_bytes:u64 | reject_after_age_ms:u64     (52 bytes, BE)
 *
 * The reject_after_* values on the wire are the effective ones (derived
 * defaults resolved), so both ends cap at the same byte and millisecond.
 *
 * Then the state machine (policy_state): one per connection, pure — it
 * never touches a key, a frame or a clock; the connection tells it what
 * happened and when, and asks it what is allowed and what is due.
 *
 * Invariants:
 *  - Idle (A1) is measured from the last application data in either
 *    direction or the installation of the current key, whichever is later.
 *  - Staleness is per key and one-way: once a key is stale for sending it
 *    never carries data again, once it is stale for receiving every data
 *    record under it is a spoof (A8).  The client's key turns stale for
 *    sending when it sends a heartbeat, for receiving when the ack arrives
 *    (everything the server sent before it saw the heartbeat precedes the
 *    ack on the ordered stream, so this never condemns honest data); the
 *    server's turns stale both ways when it receives a heartbeat.
 *  - Either end that wants to send after an idle spell holds the data and
 *    asks for a rekey (A2): nothing is sent under a key that went idle.
 *  - Heartbeats run on a fixed grid (A4): idle start + k x interval, never
 *    re-based on when an ack arrived.
 *  - The client initiates byte and age rekeys when its own count or clock
 *    says so; the server, which counts and times the same, asks for them
 *    (REKEY_REQUEST) only heartbeat_timeout later, as a backstop for a
 *    client that did not act: on an honest link its request would always
 *    race the client's handshake and be wasted.
 *  - Byte and age rekeys keep the old key working until the new one is
 *    installed; reject_after_* then stop it, at the sender (data is held) and
 *    at the receiver (more data under it closes the connection).
 */
#ifndef LULL_POLICY_H
#define LULL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lull.h"
#include "wire.h"

#define POLICY_WIRE_VERSION 1

void policy_encode(const lull_config *cfg, uint8_t out[WIRE_POLICY_BYTES]);

/*
 * Decode a peer's announcement into the policy fields of *out (others are
 * left as they are).  LULL_ERR_PROTOCOL for an unknown version or a value
 * lull_config_validate would refuse.
 */
lull_err policy_decode(const uint8_t in[WIRE_POLICY_BYTES], lull_config *out);

/* agreed = local with every policy knob replaced by the stricter of
 * local's and peer's. */
void policy_merge_stricter(lull_config *agreed, const lull_config *local, const lull_config *peer);

/* ---- The state machine ---------------------------------------------- */

typedef struct policy_state {
	bool is_client;
	bool keyed;       /* a traffic key is installed */
	bool handshake;   /* the connection is in a handshake state (conn.h) */
	bool rekey_asked; /* server: REKEY_REQUEST sent for this key */
	lull_rekey_reason asked_reason;
	uint64_t key_installed_ms;
	uint64_t activity_ms; /* last application data either way, or key install */
	uint64_t bytes;       /* application bytes under this key, both directions */
	uint64_t rx_bytes;    /* of which received */
	bool tx_stale, rx_stale;
	/* Server: rx_stale of the key installed before this one, which the
	 * connection keeps (rx_prev) until the client's KEY_END: data under it
	 * is a spoof when it was stale. */
	bool rx_prev_stale;
	bool missing_reported; /* server: A9 fired for this idle spell */
	bool bytes_crossed;    /* server: rekey_bytes reached at bytes_crossed_ms */
	uint64_t bytes_crossed_ms;

	/* Client heartbeats. */
	bool hb_since_activity;    /* a heartbeat went out during this idle spell */
	uint64_t hb_last_sched_ms; /* grid point of the last scheduled heartbeat */
	bool hb_awaiting;
	uint32_t hb_id; /* id of the last heartbeat sent */
	uint32_t hb_first_unacked;
	uint32_t hb_resends; /* retries used for the unacked heartbeat */
	uint64_t hb_ack_deadline_ms;

	/* Server: when the last heartbeat arrived. */
	uint64_t hb_rx_ms;
} policy_state;

typedef enum policy_verdict {
	POLICY_OK = 0,
	POLICY_HOLD,        /* send: keep the message until a new key (see *rekey) */
	POLICY_SPOOF,       /* receive: data under a stale key */
	POLICY_KEY_EXPIRED, /* receive: data past reject_after_bytes/age */
} policy_verdict;

/* What policy_tick found due at now. */
typedef struct policy_due {
	bool send_heartbeat;    /* client: a scheduled heartbeat or a retry */
	bool heartbeat_missed;  /* client: no ack after every retry (A6) */
	bool heartbeat_missing; /* server: no heartbeat while idle (A9) */
	bool rekey;             /* a rekey is due, for rekey_reason */
	lull_rekey_reason rekey_reason;
} policy_due;

void policy_init(policy_state *ps, bool is_client);

/* A new traffic key is in use from now_ms: counters, staleness and the
 * heartbeat grid start afresh; the old key's receive staleness is kept as
 * rx_prev_stale. */
void policy_key_installed(policy_state *ps, uint64_t now_ms);

/*
 * May a message of len bytes be sealed now?  POLICY_OK, or POLICY_HOLD with
 * *rekey set when the hold needs a rekey to end (and *reason why); a hold
 * without a rekey waits for one already under way.
 */
policy_verdict policy_check_send(policy_state *ps, const lull_config *cfg, uint64_t now_ms,
                                 size_t len, bool *rekey, lull_rekey_reason *reason);

/* len application bytes were sealed.  Returns true when this crossed
 * rekey_bytes (a byte rekey is due). */
bool policy_on_sent(policy_state *ps, const lull_config *cfg, uint64_t now_ms, size_t len);

/*
 * A data record of len plaintext bytes authenticated under the current key.
 * POLICY_OK (counted; *rekey true when rekey_bytes was crossed),
 * POLICY_SPOOF or POLICY_KEY_EXPIRED (not counted).
 */
policy_verdict policy_on_received(policy_state *ps, const lull_config *cfg, uint64_t now_ms,
                                  size_t len, bool *rekey);

/* Server: data arrived under the previous key (the client had not read
 * KEYS yet).  POLICY_SPOOF when that key was stale for receiving; else
 * POLICY_OK: it is activity, but it was counted and capped by that key's
 * rules at the sender, never against the current key. */
policy_verdict policy_on_received_previous_key(policy_state *ps, uint64_t now_ms);

/* Client: a heartbeat with the returned id is about to be sealed.
 * Returns true when this made the key stale (first of the idle spell). */
bool policy_heartbeat_sent(policy_state *ps, const lull_config *cfg, uint64_t now_ms, uint32_t *id);

/*
 * Client: an ack for id arrived.  *acked is true when it answers the
 * heartbeat being waited for; a late ack (after a retry or a miss) is
 * accepted and ignored.  LULL_ERR_PROTOCOL for an id never sent.
 */
lull_err policy_on_heartbeat_ack(policy_state *ps, uint32_t id, bool *acked);

/* Server: a heartbeat arrived.  Returns true when this made the key stale. */
bool policy_on_heartbeat(policy_state *ps, uint64_t now_ms);

/* Server: a REKEY_REQUEST for reason is going out (once per key). */
void policy_rekey_asked(policy_state *ps, lull_rekey_reason reason);

/* Whether the connection is in a handshake (client: from HS1 sent; server:
 * from HS1 read; both: until the keys are installed).  Set by the
 * connection's state change (conn_set_state) only: the policy holds a copy
 * of that one fact, not a state of its own. */
void policy_set_handshake(policy_state *ps, bool running);

/* Server: why the client is rekeying, as far as this end can tell. */
lull_rekey_reason policy_server_rekey_reason(const policy_state *ps, const lull_config *cfg,
                                             uint64_t now_ms);

/* What is due at now_ms (deadlines that passed are consumed). */
policy_due policy_tick(policy_state *ps, const lull_config *cfg, uint64_t now_ms);

/* The earliest time policy_tick has something to do (UINT64_MAX: none). */
uint64_t policy_next_deadline(const policy_state *ps, const lull_config *cfg);

#endif /* LULL_POLICY_H */
