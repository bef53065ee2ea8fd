/*
 * crypto.h - the only door to OpenSSL libcrypto.
 *
 * Everything above this file (noise, records, the SRK pool) speaks in raw
 * byte arrays and lull_err codes and never includes an OpenSSL header, so the
 * primitives are swappable and auditable in one place.
 *
 * Invariants:
 *  - No home-made primitives: every algorithm is an EVP call.
 *  - An AEAD key is installed into its EVP context once, by crypto_aead_init;
 *    a seal or open only sets the 12-byte nonce.  The record layer calls
 *    this per record, so the hot path never re-expands a key schedule.
 *  - Secrets handed to this layer are never logged; crypto_aead_free and
 *    crypto_wipe are the only ways secrets leave memory.
 *  - Nonce encodings are Noise's (spec §12.3, §12.4): 32 zero bits followed
 *    by the 64-bit counter, little-endian for ChaChaPoly, big-endian for
 *    AESGCM.
 */
#ifndef LULL_CRYPTO_H
#define LULL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lull.h"

#define CRYPTO_X25519_BYTES 32
#define CRYPTO_X448_BYTES   56
#define CRYPTO_DH_MAX_BYTES CRYPTO_X448_BYTES

#define CRYPTO_AEAD_KEY_BYTES 32
#define CRYPTO_AEAD_TAG_BYTES 16
#define CRYPTO_AEAD_IV_BYTES  12

#define CRYPTO_HASH_MAX_BYTES       64
#define CRYPTO_HASH_MAX_BLOCK_BYTES 128

typedef enum crypto_dh_alg {
	CRYPTO_DH_25519,
	CRYPTO_DH_448,
} crypto_dh_alg;

typedef enum crypto_aead_alg {
	CRYPTO_AEAD_AESGCM,
	CRYPTO_AEAD_CHACHAPOLY,
} crypto_aead_alg;

typedef enum crypto_hash_alg {
	CRYPTO_HASH_SHA256,
	CRYPTO_HASH_SHA512,
	CRYPTO_HASH_BLAKE2S,
	CRYPTO_HASH_BLAKE2B,
} crypto_hash_alg;

/*
 * An injected random source (lull_random_fn), owned by a server or a
 * connection: fn == NULL (or a NULL crypto_rng *) means OpenSSL's.
 */
typedef struct crypto_rng {
	lull_random_fn fn;
	void *ctx;
} crypto_rng;

/* ---- DH ---------------------------------------------------------------- */

/* Public (and private) key length of alg in bytes: 32 or 56. */
size_t crypto_dh_len(crypto_dh_alg alg);

/* Fresh key pair from the CSPRNG. priv and pub are crypto_dh_len bytes. */
lull_err crypto_dh_generate(crypto_dh_alg alg, uint8_t *priv, uint8_t *pub);

/* Public key of a given private key (used for fixed test keys and key files). */
lull_err crypto_dh_public(crypto_dh_alg alg, const uint8_t *priv, uint8_t *pub);

/* ---- DH keys as handles ------------------------------------------------ */

/*
 * A DH key imported into the library once and used for many DHs: a key pair
 * that lives longer than one DH (the server's static key, an SRK, a
 * handshake's ephemeral) or a peer's public key used in two DHs.  Each
 * crypto_dh call imports the key, imports the peer key and looks
 * the algorithms up by name; with handles a DH is the scalar multiplication
 * and little else.  Opaque: it holds OpenSSL objects, and no layer above
 * this file includes an OpenSSL header.
 *
 * Ownership: every function below that hands out a handle hands out one
 * reference; crypto_dh_key_ref takes another, crypto_dh_key_free drops one
 * (NULL is a no-op).  The key material lives in OpenSSL's memory and is
 * cleansed when the last reference is dropped - not before: whoever must
 * bound a private key's lifetime must bound the lifetime of every reference
 * to it.  A handle never changes once made and the count is atomic, so
 * references may be held and used by several owners and threads at once.
 * On failure *out is NULL.
 */
typedef struct crypto_dh_key crypto_dh_key;

/* The key pair priv/pub (pub is trusted to be priv's public key).  No
 * scalar multiplication: importing a bare private key would make OpenSSL
 * derive its public half, as costly as a DH. */
lull_err crypto_dh_key_new(crypto_dh_alg alg, const uint8_t *priv, const uint8_t *pub,
                           crypto_dh_key **out);

/* A peer's public key, for DHs against it.  No scalar multiplication. */
lull_err crypto_dh_key_new_public(crypto_dh_alg alg, const uint8_t *pub, crypto_dh_key **out);

/*
 * A fresh key pair kept as a handle: its public key in pub and its private
 * key in priv, or only inside the handle when priv is NULL.  The private key
 * comes from rng (NULL: OpenSSL's generator, as crypto_dh_generate).  One
 * scalar multiplication.
 */
lull_err crypto_dh_key_generate(crypto_dh_alg alg, const crypto_rng *rng, uint8_t *priv,
                                uint8_t *pub, crypto_dh_key **out);

crypto_dh_key *crypto_dh_key_ref(crypto_dh_key *k);
void crypto_dh_key_free(crypto_dh_key *k);

crypto_dh_alg crypto_dh_key_alg(const crypto_dh_key *k);
bool crypto_dh_key_has_private(const crypto_dh_key *k);
/* The key's public half, crypto_dh_len bytes. */
const uint8_t *crypto_dh_key_public(const crypto_dh_key *k);

/*
 * shared = DH(key, peer): LULL_ERR_DH_ZERO on an all-zero result
 * (low-order peer key, the caller must abort), shared wiped on every
 * failure, one scalar multiplication.  key must hold a private key
 * (LULL_ERR_INVALID_ARG otherwise) and peer be of the same algorithm; peer
 * may hold a private key too (only its public half is used).
 */
lull_err crypto_dh_key_derive(const crypto_dh_key *key, const crypto_dh_key *peer, uint8_t *shared);

/* ---- AEAD -------------------------------------------------------------- */

/* One AEAD key with its EVP context.  Zero-initialise before first use;
 * crypto_aead_free on a zeroed or freed object is a no-op. */
typedef struct crypto_aead {
	void *ctx; /* EVP_CIPHER_CTX *, key already installed */
	crypto_aead_alg alg;
} crypto_aead;

lull_err crypto_aead_init(crypto_aead *a, crypto_aead_alg alg,
                          const uint8_t key[CRYPTO_AEAD_KEY_BYTES]);

/* Frees the context; OpenSSL wipes the key schedule it held. */
void crypto_aead_free(crypto_aead *a);

/*
 * out = ciphertext || 16-byte tag, out has room for pt_len + 16 bytes.
 * out may equal pt (in-place).  n is the Noise nonce counter.
 */
lull_err crypto_aead_seal(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                          const uint8_t *pt, size_t pt_len, uint8_t *out);

/* A plaintext given in parts, sealed as if they were one buffer: the
 * stream layer's frame header and the application's bytes, where they
 * lie, without copying them together first.  out holds the parts' total
 * length + CRYPTO_AEAD_TAG_BYTES and overlaps none of them. */
typedef struct crypto_part {
	const uint8_t *data;
	size_t len;
} crypto_part;
lull_err crypto_aead_seal_parts(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                                const crypto_part *parts, size_t n_parts, uint8_t *out);

/*
 * out = plaintext of ct (ct_len includes the tag; ct_len >= 16 or
 * LULL_ERR_DECRYPT).  out may equal ct.  On failure out is wiped and
 * LULL_ERR_DECRYPT returned: forged, corrupted and wrong-key look the same.
 */
lull_err crypto_aead_open(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                          const uint8_t *ct, size_t ct_len, uint8_t *out);

/* The same with an explicit 12-byte IV, for RFC/NIST test vectors. */
lull_err crypto_aead_seal_iv(crypto_aead *a, const uint8_t iv[CRYPTO_AEAD_IV_BYTES],
                             const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                             uint8_t *out);
lull_err crypto_aead_open_iv(crypto_aead *a, const uint8_t iv[CRYPTO_AEAD_IV_BYTES],
                             const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len,
                             uint8_t *out);

/* ---- Hashing ----------------------------------------------------------- */

/* Output length (32 or 64) and block length (64 or 128) of alg. */
size_t crypto_hash_len(crypto_hash_alg alg);
size_t crypto_hash_block_len(crypto_hash_alg alg);

/* out = HASH(a || b); b may be NULL with b_len 0. */
lull_err crypto_hash(crypto_hash_alg alg, const uint8_t *a, size_t a_len, const uint8_t *b,
                     size_t b_len, uint8_t *out);

/* out = HMAC-HASH(key, data), RFC 2104 with alg's block length. */
lull_err crypto_hmac(crypto_hash_alg alg, const uint8_t *key, size_t key_len, const uint8_t *data,
                     size_t data_len, uint8_t *out);

/*
 * Noise's HKDF (spec §4.3): with HASHLEN = crypto_hash_len(alg),
 *   temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
 *   out2 = HMAC(temp, out1 || 0x02); out3 = HMAC(temp, out2 || 0x03).
 * n_outputs is 2 or 3; out3 may be NULL when n_outputs is 2.  Each out is
 * HASHLEN bytes.  Intermediate secrets are wiped.
 */
lull_err crypto_hkdf(crypto_hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t ikm_len,
                     unsigned n_outputs, uint8_t *out1, uint8_t *out2, uint8_t *out3);

/* ---- Utilities --------------------------------------------------------- */

/* Fill buf from OpenSSL's CSPRNG; LULL_ERR_RANDOM if it cannot. */
lull_err crypto_random(uint8_t *buf, size_t len);

/* crypto_random from rng; LULL_ERR_RANDOM (buf wiped) if it fails. */
lull_err crypto_rng_bytes(const crypto_rng *rng, uint8_t *buf, size_t len);

/* Constant-time equality of two len-byte buffers. */
bool crypto_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Constant-time test that len bytes are all zero. */
bool crypto_is_zero(const uint8_t *p, size_t len);

/* Overwrite len bytes so the compiler cannot elide it (explicit_bzero). */
void crypto_wipe(void *p, size_t len);

/*
 * Memory for objects that hold long-lived secrets (a connection with its
 * traffic keys, a handshake, the server context, the SRK ring): zeroed,
 * from OpenSSL's secure heap - locked, excluded from core dumps, guarded -
 * once lull_secure_heap_init has set one up, else from the ordinary heap.
 * A full secure heap falls back to the ordinary heap (counted:
 * lull_secure_heap_stats).  crypto_secret_free wipes len bytes and frees;
 * it tells the two heaps apart itself.  NULL when memory is out.
 */
void *crypto_secret_alloc(size_t len);
void crypto_secret_free(void *p, size_t len);

#endif /* LULL_CRYPTO_H */
