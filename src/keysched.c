/*
 * keysched.c - traffic key derivation; the formula is in keysched.h.
 */
#include "keysched.h"

#include <string.h>

#define KEYSCHED_LABEL_BYTES 10 /* "lull/1 c2s" */

static lull_err derive_one(crypto_hash_alg hash, const uint8_t *h, const char *label,
                           const uint8_t split_key[CRYPTO_AEAD_KEY_BYTES],
                           const uint8_t drk[WIRE_DRK_BYTES], uint8_t out[CRYPTO_AEAD_KEY_BYTES])
{
	uint8_t ikm[KEYSCHED_LABEL_BYTES + CRYPTO_AEAD_KEY_BYTES + WIRE_DRK_BYTES];
	uint8_t out1[CRYPTO_HASH_MAX_BYTES], out2[CRYPTO_HASH_MAX_BYTES];

	memcpy(ikm, label, KEYSCHED_LABEL_BYTES);
	memcpy(ikm + KEYSCHED_LABEL_BYTES, split_key, CRYPTO_AEAD_KEY_BYTES);
	memcpy(ikm + KEYSCHED_LABEL_BYTES + CRYPTO_AEAD_KEY_BYTES, drk, WIRE_DRK_BYTES);
	lull_err err = crypto_hkdf(hash, h, ikm, sizeof(ikm), 2, out1, out2, NULL);
	if (err == LULL_OK)
		memcpy(out, out1, CRYPTO_AEAD_KEY_BYTES);
	crypto_wipe(ikm, sizeof(ikm));
	crypto_wipe(out1, sizeof(out1));
	crypto_wipe(out2, sizeof(out2));
	return err;
}

lull_err keysched_traffic_keys(crypto_hash_alg hash, const uint8_t *h, size_t h_len,
                               const uint8_t k1[CRYPTO_AEAD_KEY_BYTES],
                               const uint8_t k2[CRYPTO_AEAD_KEY_BYTES],
                               const uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES],
                               uint8_t key_c2s[CRYPTO_AEAD_KEY_BYTES],
                               uint8_t key_s2c[CRYPTO_AEAD_KEY_BYTES])
{
	/* Noise's HKDF takes ck of HASHLEN bytes: h is exactly that. */
	if (h_len != crypto_hash_len(hash))
		return LULL_ERR_INVALID_ARG;
	lull_err err = derive_one(hash, h, "lull/1 c2s", k1, drk, key_c2s);
	if (err == LULL_OK)
		err = derive_one(hash, h, "lull/1 s2c", k2, drk + WIRE_DRK_BYTES, key_s2c);
	if (err != LULL_OK) {
		crypto_wipe(key_c2s, CRYPTO_AEAD_KEY_BYTES);
		crypto_wipe(key_s2c, CRYPTO_AEAD_KEY_BYTES);
	}
	return err;
}

#define KEYSCHED_RATCHET_LABEL       "lull/2 idle"
#define KEYSCHED_RATCHET_LABEL_BYTES (sizeof(KEYSCHED_RATCHET_LABEL) - 1)

lull_err keysched_idle_ratchet(crypto_hash_alg hash, const uint8_t key[CRYPTO_AEAD_KEY_BYTES],
                               uint8_t next[CRYPTO_AEAD_KEY_BYTES])
{
	static const uint8_t zero_ck[CRYPTO_HASH_MAX_BYTES];
	uint8_t ikm[KEYSCHED_RATCHET_LABEL_BYTES + CRYPTO_AEAD_KEY_BYTES];
	uint8_t out1[CRYPTO_HASH_MAX_BYTES], out2[CRYPTO_HASH_MAX_BYTES];

	memcpy(ikm, KEYSCHED_RATCHET_LABEL, KEYSCHED_RATCHET_LABEL_BYTES);
	memcpy(ikm + KEYSCHED_RATCHET_LABEL_BYTES, key, CRYPTO_AEAD_KEY_BYTES);
	lull_err err = crypto_hkdf(hash, zero_ck, ikm, sizeof(ikm), 2, out1, out2, NULL);
	if (err == LULL_OK)
		memcpy(next, out1, CRYPTO_AEAD_KEY_BYTES);
	crypto_wipe(ikm, sizeof(ikm));
	crypto_wipe(out1, sizeof(out1));
	crypto_wipe(out2, sizeof(out2));
	return err;
}
