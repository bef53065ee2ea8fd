/*
 * record.c - framing checks and AEAD records.  See record.h and wire.h for
 * the invariants; this file is on the bulk path, so it does the minimum per
 * record: one header write, one AEAD call with the key already installed.
 */
#include "record.h"

#include <string.h>

#include "keysched.h"

/* Body length bounds per type; min == max means exact. */
static const struct {
	uint16_t min, max;
	uint8_t flags_allowed;
} wire_rules[] = {
        [WIRE_HS1] = {WIRE_HS1_BYTES, WIRE_HS1_BYTES, 0},
        [WIRE_HS2] = {WIRE_HS2_BYTES, WIRE_HS2_BYTES, 0},
        [WIRE_HS3] = {WIRE_HS3_BYTES, WIRE_HS3_BYTES, 0},
        [WIRE_KEYS] = {WIRE_EPOCH_BYTES + WIRE_KEYS_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES,
                       WIRE_EPOCH_BYTES + WIRE_KEYS_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
        [WIRE_DATA] = {WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES,
                       WIRE_EPOCH_BYTES + WIRE_RECORD_PAYLOAD_MAX_BYTES + CRYPTO_AEAD_TAG_BYTES,
                       WIRE_FLAG_MORE},
        [WIRE_HEARTBEAT] =
                {WIRE_EPOCH_BYTES + WIRE_HEARTBEAT_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES,
                 WIRE_EPOCH_BYTES + WIRE_HEARTBEAT_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
        [WIRE_HEARTBEAT_ACK] =
                {WIRE_EPOCH_BYTES + WIRE_HEARTBEAT_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES,
                 WIRE_EPOCH_BYTES + WIRE_HEARTBEAT_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
        [WIRE_REKEY_REQUEST] =
                {WIRE_EPOCH_BYTES + WIRE_REASON_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES,
                 WIRE_EPOCH_BYTES + WIRE_REASON_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
        [WIRE_CLOSE] = {WIRE_EPOCH_BYTES + WIRE_REASON_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES,
                        WIRE_EPOCH_BYTES + WIRE_REASON_PLAINTEXT_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
        [WIRE_HS_FAILED] = {WIRE_REASON_PLAINTEXT_BYTES, WIRE_REASON_PLAINTEXT_BYTES, 0},
        [WIRE_KEY_END] = {WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES,
                          WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES, 0},
};

lull_err wire_header_read(const uint8_t in[WIRE_HEADER_BYTES], wire_header *h)
{
	h->type = in[0];
	h->flags = in[1];
	h->length = wire_get_u16(in + 2);
	if (h->type < WIRE_HS1 || h->type > WIRE_TYPE_MAX)
		return LULL_ERR_PROTOCOL;
	if (h->flags & ~wire_rules[h->type].flags_allowed)
		return LULL_ERR_PROTOCOL;
	if (h->length < wire_rules[h->type].min || h->length > wire_rules[h->type].max)
		return LULL_ERR_PROTOCOL;
	return LULL_OK;
}

lull_err record_key_init(record_key *k, crypto_aead_alg alg,
                         const uint8_t key[CRYPTO_AEAD_KEY_BYTES], uint32_t epoch)
{
	memset(k, 0, sizeof(*k));
	if (key == NULL || (alg != CRYPTO_AEAD_AESGCM && alg != CRYPTO_AEAD_CHACHAPOLY))
		return LULL_ERR_INVALID_ARG;
	/* No context yet: the first seal or open builds it (record.h), so a
	 * key installed at the end of a handshake and released at the end of
	 * the same call costs nothing. */
	memcpy(k->key, key, CRYPTO_AEAD_KEY_BYTES);
	k->alg = alg;
	k->epoch = epoch;
	k->seq = 0;
	k->live = true;
	return LULL_OK;
}

void record_key_destroy(record_key *k)
{
	crypto_aead_free(&k->aead);
	crypto_wipe(k, sizeof(*k));
}

void record_key_unopen(record_key *k)
{
	if (k->live && k->seq > 0)
		k->seq--;
}

void record_key_release(record_key *k)
{
	crypto_aead_free(&k->aead);
}

lull_err record_key_ratchet(record_key *k, crypto_hash_alg hash)
{
	if (!k->live)
		return LULL_ERR_STATE;
	uint8_t next[CRYPTO_AEAD_KEY_BYTES];
	lull_err err = keysched_idle_ratchet(hash, k->key, next);
	if (err != LULL_OK)
		return err;
	record_key_release(k);
	memcpy(k->key, next, sizeof(k->key));
	crypto_wipe(next, sizeof(next));
	k->control_only = true;
	return LULL_OK;
}

/* The context again after a release: the only failure is memory. */
static lull_err record_key_context(record_key *k)
{
	return k->aead.ctx ? LULL_OK : crypto_aead_init(&k->aead, k->alg, k->key);
}

lull_err record_seal_parts(record_key *k, uint8_t type, uint8_t flags, const crypto_part *parts,
                           size_t n_parts, uint8_t *out)
{
	if (!k->live)
		return LULL_ERR_STATE;
	size_t pt_len = 0;
	for (size_t i = 0; i < n_parts; i++)
		pt_len += parts[i].len;
	if (pt_len > WIRE_RECORD_PAYLOAD_MAX_BYTES)
		return LULL_ERR_INVALID_ARG;
	if (k->seq == UINT64_MAX)
		return LULL_ERR_NONCE_EXHAUSTED;
	lull_err err = record_key_context(k);
	if (err != LULL_OK)
		return err;
	size_t body = WIRE_EPOCH_BYTES + pt_len + CRYPTO_AEAD_TAG_BYTES;
	wire_header_write(out, type, flags, (uint16_t)body);
	wire_put_u32(out + WIRE_HEADER_BYTES, k->epoch);
	err = crypto_aead_seal_parts(&k->aead, k->seq, out, WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES,
	                             parts, n_parts, out + WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES);
	if (err != LULL_OK)
		return err;
	k->seq++;
	return LULL_OK;
}

lull_err record_seal(record_key *k, uint8_t type, uint8_t flags, const uint8_t *pt, size_t pt_len,
                     uint8_t *out)
{
	crypto_part whole = {.data = pt, .len = pt_len};
	return record_seal_parts(k, type, flags, &whole, 1, out);
}

lull_err record_open(record_key *k, const wire_header *h, const uint8_t *frame, uint8_t *out,
                     size_t *out_len)
{
	if (!k->live || record_frame_epoch(frame) != k->epoch)
		return LULL_ERR_STATE;
	if (k->seq == UINT64_MAX)
		return LULL_ERR_NONCE_EXHAUSTED;
	lull_err err = record_key_context(k);
	if (err != LULL_OK)
		return err;
	size_t ct_len = (size_t)h->length - WIRE_EPOCH_BYTES;
	err = crypto_aead_open(&k->aead, k->seq, frame, WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES,
	                       frame + WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES, ct_len, out);
	if (err != LULL_OK)
		return err;
	k->seq++;
	*out_len = ct_len - CRYPTO_AEAD_TAG_BYTES;
	return LULL_OK;
}
