/*
 * keysched.h - from a finished Noise handshake to the session's traffic keys
 * (design brief §2, B3-B5; docs/protocol.md "Key schedule").
 *
 *   k1, k2          = Noise Split() keys (initiator->responder, reverse)
 *   drk_c2s, drk_s2c = the server's fresh data keys, sent in KEYS under k2
 *   key_c2s = HKDF(ck = h, ikm = "lull/1 c2s" | k1 | drk_c2s)[0..32)
 *   key_s2c = HKDF(ck = h, ikm = "lull/1 s2c" | k2 | drk_s2c)[0..32)
 *
 * with Noise's HKDF over the suite's hash and h the handshake hash.  Binding
 * h ties the keys to this transcript; the DRKs make every session's keys
 * fresh server randomness even when its ephemeral (the SRK) is shared.
 */
#ifndef LULL_KEYSCHED_H
#define LULL_KEYSCHED_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "wire.h"

/* Derive both traffic keys; intermediate secrets are wiped. */
lull_err keysched_traffic_keys(crypto_hash_alg hash, const uint8_t *h, size_t h_len,
                               const uint8_t k1[CRYPTO_AEAD_KEY_BYTES],
                               const uint8_t k2[CRYPTO_AEAD_KEY_BYTES],
                               const uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES],
                               uint8_t key_c2s[CRYPTO_AEAD_KEY_BYTES],
                               uint8_t key_s2c[CRYPTO_AEAD_KEY_BYTES]);

/*
 * The idle ratchet (docs/protocol.md "Forward secrecy while idle"): a
 * direction's key after it carried a heartbeat or an ack,
 *   next = HKDF(ck = HASHLEN zero bytes, ikm = "lull/2 idle" | key)[0..32)
 * One-way: next reveals nothing of key, so once key is wiped the records
 * sealed under it cannot be opened with anything left in memory.
 */
lull_err keysched_idle_ratchet(crypto_hash_alg hash, const uint8_t key[CRYPTO_AEAD_KEY_BYTES],
                               uint8_t next[CRYPTO_AEAD_KEY_BYTES]);

#endif /* LULL_KEYSCHED_H */
