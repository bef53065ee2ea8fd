/*
 * record.h - one direction's traffic key: AEAD records with an implicit
 * sequence number and an explicit epoch (design brief §2, docs/protocol.md).
 *
 * Invariants:
 *  - The nonce is the per-key sequence number, never sent: TCP is ordered,
 *    so a replayed, reordered or dropped record fails authentication.
 *  - The header and epoch are associated data: a flipped type, flag, length
 *    or epoch fails authentication like a flipped ciphertext bit.
 *  - seq advances only on success, and steps back only through
 *    record_key_unopen; a key that would reuse a nonce refuses
 *    (LULL_ERR_NONCE_EXHAUSTED) instead.
 *  - record_key_destroy wipes the key; a destroyed key refuses everything.
 *  - record_key_ratchet replaces the key by a one-way function of it and
 *    marks it control_only: from then on it carries heartbeats, acks, rekey
 *    requests, KEY_END and close, never data (the connection refuses data
 *    under it as a spoof without opening it).
 *  - The cipher context (key schedule, GHASH tables: ~1.2 KiB) is a cache of
 *    the raw key, built by the first seal or open (~0.25 us), not by
 *    record_key_init; record_key_release drops it while the key stays live,
 *    so a connection with no traffic holds 32 bytes per key, not a context.
 */
#ifndef LULL_RECORD_H
#define LULL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "wire.h"

typedef struct record_key {
	crypto_aead aead; /* aead.ctx == NULL: released, rebuilt on next use */
	crypto_aead_alg alg;
	/* The raw key, from which the context is rebuilt (and with which tests
	 * play an attacker who broke it); wiped by record_key_destroy. */
	uint8_t key[CRYPTO_AEAD_KEY_BYTES];
	uint32_t epoch;
	uint64_t seq; /* next nonce */
	bool live;
	bool control_only; /* ratcheted: no data under this key (idle forward secrecy) */
} record_key;

lull_err record_key_init(record_key *k, crypto_aead_alg alg,
                         const uint8_t key[CRYPTO_AEAD_KEY_BYTES], uint32_t epoch);
void record_key_destroy(record_key *k);

/*
 * Replace the key by keysched_idle_ratchet(key) and mark it control_only;
 * the old key and its context are wiped.  Epoch and sequence number carry
 * on.  Both ends ratchet after the same record, so they stay in step.
 */
lull_err record_key_ratchet(record_key *k, crypto_hash_alg hash);

/*
 * Take back the record just opened under k, as if it had never arrived:
 * seq steps back one, so the next record must open under the nonce it used.
 * For a record refused after it authenticated (a dropped spoof): the honest
 * sender's next record under k was sealed with that nonce.  Valid only
 * right after a successful record_open under k, before anything else is
 * opened under it.
 */
void record_key_unopen(record_key *k);

/* Drop the cipher context (cleansed by OpenSSL), keep the key live. */
void record_key_release(record_key *k);

/* Whether the key holds a cipher context now. */
static inline bool record_key_holds_context(const record_key *k)
{
	return k->live && k->aead.ctx != NULL;
}

/*
 * Seal pt_len bytes (<= WIRE_RECORD_PAYLOAD_MAX_BYTES, or the type's exact
 * size) as one frame of the given type into out, which must hold
 * WIRE_RECORD_OVERHEAD_BYTES + pt_len bytes.  pt must not overlap out.
 */
lull_err record_seal(record_key *k, uint8_t type, uint8_t flags, const uint8_t *pt, size_t pt_len,
                     uint8_t *out);
/* The same with the plaintext given in parts (none overlapping out). */
lull_err record_seal_parts(record_key *k, uint8_t type, uint8_t flags, const crypto_part *parts,
                           size_t n_parts, uint8_t *out);

/* The epoch a record frame claims (frame = header + body, body >= 4 bytes). */
static inline uint32_t record_frame_epoch(const uint8_t *frame)
{
	return wire_get_u32(frame + WIRE_HEADER_BYTES);
}

/*
 * Open a whole record frame whose header h was checked by wire_header_read,
 * under key k (the caller picked k by epoch; a mismatch is LULL_ERR_STATE).
 * Plaintext (h->length - 20 bytes) goes to out.  LULL_ERR_DECRYPT on any
 * forgery, corruption, replay or reordering.
 */
lull_err record_open(record_key *k, const wire_header *h, const uint8_t *frame, uint8_t *out,
                     size_t *out_len);

#endif /* LULL_RECORD_H */
