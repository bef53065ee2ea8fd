/*
 * srk_pool.h - the server's interval session keys (design brief §1B, B1-B2).
 *
 * A handshake storm must not cost one key generation per client: every
 * handshake whose first message arrives in the same interval of
 * srk_interval_ms is answered with that interval's X25519 key pair, the SRK.
 *
 * Invariants:
 *  - An SRK exists only for an interval in which a handshake arrived: it is
 *    generated lazily by srk_pool_acquire, never by a timer.
 *  - Slots form a ring indexed by interval modulo the ring size.  The ring is
 *    sized so a slot is always erased before its index comes round again.
 *  - The SRK of interval i is erased - private key wiped, replay set freed -
 *    at srk_pool_erase_at(i) = (i + 1) * interval + keep * lifetime, and not a
 *    millisecond later provided srk_pool_expire is called at the deadline
 *    srk_pool_next_deadline reports.  This bounds the server's forward
 *    secrecy window.
 *  - The SRK also lives as a crypto_dh_key handle, built when it is
 *    generated, so no handshake re-imports it.  The pool's reference is
 *    dropped at the same deadline.  A handshake answered with the SRK holds
 *    a reference of its own (srk_pool_acquire_key) until it finishes, fails
 *    or is destroyed - exactly as long as it held a copy of the private key
 *    before handles existed - and OpenSSL cleanses the key when the last
 *    reference goes.  Such a handshake started in interval i must end
 *    within srk_lifetime (the handshake timeout), i.e. by (i + 1) * interval
 *    + lifetime <= erase_at(i): so while connections are ticked at their
 *    deadlines, no copy of the key outlives erase_at(i).
 *  - No two handshakes share (client ephemeral, SRK): each slot keeps a replay
 *    set of the client ephemerals its SRK answered; a repeat is refused.  The
 *    set is keyed by a per-slot random seed so an attacker choosing ephemerals
 *    cannot force hash collisions.
 *  - Capacity is never a reason to refuse a handshake (design brief §7: a
 *    flood of message 1s must not end established links at their next
 *    rekey).  When the current SRK's set is full, or the pool's replay
 *    memory would pass its budget, the slot's SRK is rotated: wiped (the
 *    handshakes it answered keep their own handle), replaced by a fresh key
 *    pair with an empty set for the rest of the interval.  A new SRK has
 *    answered nobody, so no pair can repeat; the old SRK answers nobody
 *    again, so its set is no longer needed for that.  Before rotating, the
 *    sets of older intervals are dropped: their SRKs answer no new handshake
 *    either, so those sets only saved the cost of answering a replay.
 *  - Memory: the replay tables of one pool hold at most
 *    SRK_REPLAY_BUDGET_ENTRIES entries (SRK_REPLAY_BUDGET_BYTES).
 *  - Not thread-safe: one pool per event loop (servers share no state).
 */
#ifndef LULL_SRK_POOL_H
#define LULL_SRK_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "lull.h"

#define SRK_KEY_BYTES         32
#define SRK_REPLAY_SEED_BYTES 16
/* Per SRK.  The table stays at most half full, so a full set is a
 * 2^17-entry table of 33 bytes each (4.1 MiB); the next handshake gets a
 * new SRK. */
#define SRK_REPLAY_SET_MAX_ENTRIES (1u << 16)
/* Table entries (33 bytes each) over every live set of one pool: 16.5 MiB,
 * four full sets.  One pool per server context, i.e. per worker thread. */
#define SRK_REPLAY_BUDGET_ENTRIES (1u << 19)
#define SRK_REPLAY_ENTRY_BYTES    (SRK_KEY_BYTES + 1)
#define SRK_REPLAY_BUDGET_BYTES   ((size_t)SRK_REPLAY_BUDGET_ENTRIES * SRK_REPLAY_ENTRY_BYTES)
#define SRK_INTERVAL_MIN_MS       LULL_SRK_INTERVAL_MIN_MS

typedef struct srk_slot {
	bool live;
	uint64_t interval; /* meaningful only while live */
	uint8_t priv[SRK_KEY_BYTES];
	uint8_t pub[SRK_KEY_BYTES];
	crypto_dh_key *key; /* the pool's reference on priv/pub as a handle */
	/* Replay set: open addressing, linear probing, load factor <= 1/2. */
	uint8_t seed[SRK_REPLAY_SEED_BYTES];
	uint8_t (*replay_keys)[SRK_KEY_BYTES];
	uint8_t *replay_used; /* one flag per table entry */
	uint32_t replay_count;
	uint32_t replay_cap; /* table size, power of two, 0 = not allocated */
} srk_slot;

typedef struct srk_pool {
	crypto_rng rng; /* SRKs and replay-set seeds (the server's source) */
	uint32_t interval_ms;
	uint32_t lifetime_ms;
	uint32_t keep;
	size_t n_slots;
	srk_slot *slots;
	lull_event_fn on_event; /* SRK created / erased; may be NULL */
	void *user;
	uint32_t replay_set_max;        /* SRK_REPLAY_SET_MAX_ENTRIES or less (srk_replay_max) */
	uint64_t replay_budget_entries; /* SRK_REPLAY_BUDGET_ENTRIES; tests lower it */
	uint64_t replay_table_entries;  /* sum of replay_cap over the slots */
	uint64_t created_total;         /* every SRK generated, rotations included */
	uint64_t erased_total;
	uint64_t rotated_total; /* SRKs replaced within their interval (set full or budget) */
	uint64_t replays_refused_total;
} srk_pool;

/* LULL_ERR_CONFIG for interval outside SRK_INTERVAL_MIN_MS..
 * LULL_SRK_INTERVAL_MAX_MS, lifetime 0 or over
 * LULL_SRK_LIFETIME_MAX_MS, keep outside LULL_SRK_KEEP_MIN..MAX. */
lull_err srk_pool_init(srk_pool *p, uint32_t interval_ms, uint32_t lifetime_ms, uint32_t keep,
                       lull_event_fn on_event, void *user);

/* Wipe every live SRK and free everything. */
void srk_pool_destroy(srk_pool *p);

/*
 * The SRK for a handshake whose message 1, carrying client ephemeral
 * client_e, arrives at now_ms.  Expires due slots first, creates the
 * interval's SRK if it has none (event SRK_CREATED), records client_e.
 * Hands out the SRK as a handle, never a copy of its private key: *key is a
 * new reference (the caller frees it, typically right after
 * noise_handshake_set_ephemeral_key took its own), NULL on every failure;
 * crypto_dh_key_public gives the public key.  The interval index goes to
 * *interval (may be NULL).
 * LULL_ERR_REPLAY: client_e already answered by a live SRK (counted).
 * A full set or budget rotates the SRK (event SRK_CREATED), never refuses.
 * LULL_ERR_STATE: the slot is held by a later interval (clock went back).
 * LULL_ERR_NOMEM, LULL_ERR_RANDOM, LULL_ERR_CRYPTO from allocation and crypto.
 * on_event must not call back into the pool.
 */
lull_err srk_pool_acquire_key(srk_pool *p, uint64_t now_ms, const uint8_t client_e[SRK_KEY_BYTES],
                              crypto_dh_key **key, uint64_t *interval);

/* Erase every slot whose erase time is <= now_ms (event SRK_ERASED each). */
void srk_pool_expire(srk_pool *p, uint64_t now_ms);

/* Earliest erase time of a live slot, UINT64_MAX if none. */
uint64_t srk_pool_next_deadline(const srk_pool *p);

/* When the SRK of interval i is erased. */
uint64_t srk_pool_erase_at(const srk_pool *p, uint64_t interval);

/* Number of live SRKs (tests and metrics). */
size_t srk_pool_live_count(const srk_pool *p);

#endif /* LULL_SRK_POOL_H */
