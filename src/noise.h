/*
 * noise.h - the Noise Protocol Framework, revision 34: CipherState,
 * SymmetricState and HandshakeState exactly as spec §5, for every one-way,
 * fundamental and deferred pattern of §7 and §18.1 with the pskN modifiers
 * of §9, over 25519/448, AESGCM/ChaChaPoly, SHA256/SHA512/BLAKE2s/BLAKE2b.
 *
 * lull itself speaks Noise_XXpsk3_25519_*, but the engine is generic so the
 * published test vectors of two independent implementations can check it.
 *
 * Invariants:
 *  - No allocation: every state is a fixed-size struct, sized for 56-byte DH
 *    keys and 64-byte hashes.  All crypto goes through crypto.h; the crypto
 *    objects a state holds (AEAD contexts, DH key handles) are crypto.h's,
 *    released by the wipes below and by destroy.
 *  - Every DH goes through crypto.h key handles (crypto_dh_key).  A local
 *    key given as a handle (static_key, noise_handshake_set_ephemeral_key)
 *    or generated at the 'e' token is used as it is, and its private bytes
 *    never enter the state; one given as raw bytes is imported on its first
 *    DH and its raw private bytes wiped then.  Each remote key is imported
 *    once, on its first DH.  The state holds one reference on each handle
 *    and drops it when the handshake finishes, fails or is destroyed, so a
 *    caller that must bound a key's life (the SRK pool) can count on it.
 *  - A CipherState installs its key into a crypto_aead once (InitializeKey,
 *    MixKey, Rekey); encrypting or decrypting only sets the nonce.  The key
 *    bytes themselves are not kept outside the AEAD context.
 *  - Every failure is a named lull_err.  A HandshakeState that returned an
 *    error from init, set_ephemeral, write or read is poisoned: its secrets
 *    are wiped at once and every later such call returns LULL_ERR_STATE.  A
 *    failed handshake must be abandoned, never continued.  The one exception
 *    is LULL_ERR_HANDSHAKE_DONE, which says "use the transport ciphers" and
 *    leaves the finished state alone.
 *  - When the handshake finishes, everything it no longer needs (ck, the
 *    local key pairs, the PSKs, the handshake cipher) is wiped; only h, the
 *    remote public keys and the two Split() keys remain until taken or
 *    destroyed.  The keys are kept as bytes and put into AEAD contexts only
 *    when noise_handshake_split asks for CipherStates (lull itself only
 *    takes the raw keys), so they are wiped once both the CipherStates and
 *    the raw keys have been taken.
 *  - Handshake and transport messages never exceed NOISE_MAX_MESSAGE_BYTES.
 */
#ifndef LULL_NOISE_H
#define LULL_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "lull.h"

#define NOISE_MAX_MESSAGE_BYTES 65535
#define NOISE_KEY_BYTES         CRYPTO_AEAD_KEY_BYTES /* 32 */
#define NOISE_TAG_BYTES         CRYPTO_AEAD_TAG_BYTES /* 16 */
#define NOISE_PSK_BYTES         32
#define NOISE_MAX_DH_BYTES      CRYPTO_DH_MAX_BYTES   /* 56, X448 */
#define NOISE_MAX_HASH_BYTES    CRYPTO_HASH_MAX_BYTES /* 64, SHA512/BLAKE2b */

/* Longest protocol name accepted; real ones are under 60 bytes. */
#define NOISE_MAX_PROTOCOL_NAME_BYTES 255

/* Pattern bounds: 4 messages (X1K1), 5 tokens + psk0 + pskN in one message. */
#define NOISE_MAX_MESSAGES 4
#define NOISE_MAX_TOKENS   8
/* psk0 .. psk4: at most one psk token per modifier, one modifier per slot. */
#define NOISE_MAX_PSKS (NOISE_MAX_MESSAGES + 1)

/* The reserved nonce (§5.1): a CipherState at this value refuses to work. */
#define NOISE_NONCE_RESERVED UINT64_MAX

/* ---- CipherState (§5.1) ------------------------------------------------ */

typedef struct noise_cipher {
	crypto_aead aead; /* holds k; ctx is NULL while k is empty */
	uint64_t n;
	crypto_aead_alg alg;
	bool has_key;
} noise_cipher;

/* InitializeKey(empty) for cipher alg: no key, n = 0.  c may be garbage. */
void noise_cipher_init_empty(noise_cipher *c, crypto_aead_alg alg);

/* InitializeKey(key): installs key (replacing and freeing any old one), n = 0. */
lull_err noise_cipher_initialize_key(noise_cipher *c, const uint8_t key[NOISE_KEY_BYTES]);

bool noise_cipher_has_key(const noise_cipher *c);
void noise_cipher_set_nonce(noise_cipher *c, uint64_t n);
uint64_t noise_cipher_get_nonce(const noise_cipher *c);

/*
 * EncryptWithAd(ad, pt): out = ciphertext || tag (pt_len + 16 bytes) with a
 * key, out = pt without one.  out may equal pt.  LULL_ERR_NONCE_EXHAUSTED at
 * n = 2^64-1, LULL_ERR_MSG_TOO_LARGE if the result would exceed
 * NOISE_MAX_MESSAGE_BYTES, LULL_ERR_BUFFER_TOO_SMALL if out_cap cannot hold it.
 */
lull_err noise_cipher_encrypt(noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                              size_t pt_len, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * DecryptWithAd(ad, ct).  out may equal ct.  On LULL_ERR_DECRYPT n is not
 * incremented and out is wiped.  A keyed ct shorter than the tag is
 * LULL_ERR_MSG_TRUNCATED.
 */
lull_err noise_cipher_decrypt(noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                              size_t ct_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Move src into dst (dst is overwritten, it must not hold a key); src becomes empty. */
void noise_cipher_move(noise_cipher *dst, noise_cipher *src);

/* Free the AEAD context (OpenSSL wipes the key) and reset to empty. */
void noise_cipher_destroy(noise_cipher *c);

/* ---- SymmetricState (§5.2) --------------------------------------------- */

typedef struct noise_symmetric {
	noise_cipher cipher;
	crypto_hash_alg hash;
	size_t hash_len;
	uint8_t ck[NOISE_MAX_HASH_BYTES];
	uint8_t h[NOISE_MAX_HASH_BYTES];
} noise_symmetric;

/* InitializeSymmetric(protocol_name). */
lull_err noise_symmetric_init(noise_symmetric *ss, const uint8_t *protocol_name, size_t name_len,
                              crypto_aead_alg cipher, crypto_hash_alg hash);
lull_err noise_symmetric_mix_key(noise_symmetric *ss, const uint8_t *ikm, size_t ikm_len);
lull_err noise_symmetric_mix_hash(noise_symmetric *ss, const uint8_t *data, size_t len);
lull_err noise_symmetric_mix_key_and_hash(noise_symmetric *ss, const uint8_t *ikm, size_t ikm_len);
/* GetHandshakeHash(): hash_len bytes, valid until the state changes. */
const uint8_t *noise_symmetric_handshake_hash(const noise_symmetric *ss);
/* EncryptAndHash: out may equal pt. */
lull_err noise_symmetric_encrypt_and_hash(noise_symmetric *ss, const uint8_t *pt, size_t pt_len,
                                          uint8_t *out, size_t out_cap, size_t *out_len);
/* DecryptAndHash: out must not overlap ct (ct is hashed after decryption). */
lull_err noise_symmetric_decrypt_and_hash(noise_symmetric *ss, const uint8_t *ct, size_t ct_len,
                                          uint8_t *out, size_t out_cap, size_t *out_len);
/* Split(): c1 and c2 are overwritten with fresh keyed CipherStates. */
lull_err noise_symmetric_split(noise_symmetric *ss, noise_cipher *c1, noise_cipher *c2);
/* Split()'s two keys as bytes (the first 32 bytes of each HKDF output). */
lull_err noise_symmetric_split_raw(const noise_symmetric *ss, uint8_t k1[NOISE_KEY_BYTES],
                                   uint8_t k2[NOISE_KEY_BYTES]);
void noise_symmetric_destroy(noise_symmetric *ss);

/* ---- HandshakeState (§5.3) --------------------------------------------- */

typedef enum noise_role {
	NOISE_INITIATOR,
	NOISE_RESPONDER,
} noise_role;

/*
 * What Initialize() takes.  Keys are raw DH-length byte strings for the
 * protocol's curve (32 bytes for 25519, 56 for 448).  Keys a pattern does not
 * use are ignored; keys it does need but are NULL make init fail with
 * LULL_ERR_MISSING_KEY, as do fewer PSKs than it has psk tokens.
 */
typedef struct noise_handshake_params {
	const char *protocol_name; /* "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s" */
	noise_role role;
	const uint8_t *prologue; /* may be NULL when prologue_len is 0 */
	size_t prologue_len;
	const uint8_t *static_priv; /* local static key pair, or NULL */
	const uint8_t *static_pub;  /* trusted to match; NULL: derived (one scalar mult) */
	/* The local static key pair as a handle, or NULL.  When given it is
	 * used instead of static_priv (which may then be NULL) and a reference
	 * is held until the handshake ends; NULL static_pub is then read from
	 * it (no scalar mult).  Wrong curve or no private key: INVALID_ARG. */
	crypto_dh_key *static_key;
	const uint8_t *remote_static; /* peer's static public key for a pre-message */
	const uint8_t *psks;          /* psk_count * NOISE_PSK_BYTES bytes */
	size_t psk_count;             /* psk tokens take them in order of appearance */
	/*
	 * A responder whose PSK depends on who the initiator is (lull's server:
	 * XXpsk3 reveals the client's static key in the same message as the
	 * psk token).  Called at a psk token once the listed psks are used up,
	 * with the remote static key if known (else NULL); must fill psk or
	 * return the error that aborts (and poisons) the handshake.
	 */
	lull_err (*psk_lookup)(void *user, const uint8_t *remote_static,
	                       uint8_t psk[NOISE_PSK_BYTES]);
	void *psk_lookup_user;
	/* Where a generated ephemeral's private key comes from (NULL:
	 * OpenSSL's generator); copied. */
	const crypto_rng *rng;
} noise_handshake_params;

typedef enum noise_handshake_status {
	NOISE_HS_UNINITIALISED = 0, /* a zeroed struct */
	NOISE_HS_IN_PROGRESS,
	NOISE_HS_DONE,
	NOISE_HS_FAILED, /* poisoned */
} noise_handshake_status;

typedef struct noise_handshake {
	noise_symmetric ss;
	/* Split() CipherStates (initiator->responder, responder->initiator),
	 * keyed by noise_handshake_split from split_k1/split_k2. */
	noise_cipher c1, c2;

	noise_handshake_status status;
	noise_role role;
	crypto_dh_alg dh;
	size_t dh_len;
	bool psk_mode;  /* any psk modifier: 'e' also calls MixKey(e.pub), §9.2 */
	crypto_rng rng; /* for the ephemeral (noise_handshake_params.rng) */
	bool split_taken, split_raw_taken;
	/* The Split() keys, wiped once both split and split_raw took them. */
	uint8_t split_k1[NOISE_KEY_BYTES], split_k2[NOISE_KEY_BYTES];

	/* A local private key is in s_priv/e_priv only while it came as raw
	 * bytes and has not been imported into s_key/e_key yet. */
	uint8_t s_priv[NOISE_MAX_DH_BYTES], s_pub[NOISE_MAX_DH_BYTES];
	uint8_t e_priv[NOISE_MAX_DH_BYTES], e_pub[NOISE_MAX_DH_BYTES];
	uint8_t rs[NOISE_MAX_DH_BYTES], re[NOISE_MAX_DH_BYTES];
	bool has_s, has_e, has_rs, has_re;
	/* DH key handles, one reference each, NULL until made (see the top). */
	crypto_dh_key *s_key, *e_key, *rs_key, *re_key;
	bool e_sent; /* our 'e' went out: set_ephemeral is too late */

	uint8_t psks[NOISE_MAX_PSKS][NOISE_PSK_BYTES];
	uint8_t psk_count, psk_next;
	lull_err (*psk_lookup)(void *user, const uint8_t *remote_static,
	                       uint8_t psk[NOISE_PSK_BYTES]);
	void *psk_lookup_user;

	/* Message patterns after modifiers; message i is the initiator's iff i is even. */
	uint8_t tokens[NOISE_MAX_MESSAGES][NOISE_MAX_TOKENS];
	uint8_t token_count[NOISE_MAX_MESSAGES];
	uint8_t message_count, message_index;
} noise_handshake;

/*
 * Initialize(): parse p->protocol_name (LULL_ERR_UNKNOWN_PROTOCOL if it is
 * malformed or names an unsupported pattern, modifier or algorithm), check
 * the keys, InitializeSymmetric, MixHash(prologue) and the pre-messages.
 * hs may be garbage on entry, so it is not freed: a state that was used
 * must be noise_handshake_destroy()ed first, or the key handles it holds
 * (and their key material) are never released.  On failure hs is poisoned
 * and destroy is safe.
 */
lull_err noise_handshake_init(noise_handshake *hs, const noise_handshake_params *p);

/*
 * Fix the local ephemeral key pair instead of generating one at the 'e'
 * token: for test vectors, and for a server answering from a pre-generated
 * key.  pub may be NULL to derive it (one scalar multiplication); supplying
 * it keeps the XX responder at exactly 3 DH operations.  LULL_ERR_STATE once
 * our 'e' has been sent.
 */
lull_err noise_handshake_set_ephemeral(noise_handshake *hs, const uint8_t *priv,
                                       const uint8_t *pub);

/*
 * The same with the key pair as a handle (a server answering from its SRK
 * pool): no scalar multiplication, no copy of the private key.  hs takes a
 * reference of its own (the caller keeps its own) and drops it when the
 * handshake finishes, fails or is destroyed.  LULL_ERR_INVALID_ARG for a
 * handle of another curve or without a private key.
 */
lull_err noise_handshake_set_ephemeral_key(noise_handshake *hs, crypto_dh_key *key);

/*
 * WriteMessage(payload): out receives the whole handshake message.
 * LULL_ERR_STATE if it is the peer's turn, LULL_ERR_MSG_TOO_LARGE if the
 * message would exceed 65535 bytes, LULL_ERR_BUFFER_TOO_SMALL if out_cap is
 * short, LULL_ERR_DH_ZERO on a low-order peer key.  payload may be NULL when
 * payload_len is 0; it must not overlap out.
 */
lull_err noise_handshake_write(noise_handshake *hs, const uint8_t *payload, size_t payload_len,
                               uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * ReadMessage(msg): payload receives the decrypted payload.  LULL_ERR_STATE
 * if it is our turn to write, LULL_ERR_MSG_TRUNCATED if msg is shorter than
 * its tokens need, LULL_ERR_DECRYPT if authentication fails.  payload must
 * not overlap msg.
 */
lull_err noise_handshake_read(noise_handshake *hs, const uint8_t *msg, size_t msg_len,
                              uint8_t *payload, size_t payload_cap, size_t *payload_len);

bool noise_handshake_is_done(const noise_handshake *hs);
/* True when the next call must be write (false when done or poisoned). */
bool noise_handshake_is_my_turn(const noise_handshake *hs);
noise_role noise_handshake_role(const noise_handshake *hs);
size_t noise_handshake_dh_len(const noise_handshake *hs);

/*
 * The peer's static public key (dh_len bytes) once known - from a
 * pre-message or after its 's' token decrypted - else NULL.  Authenticating
 * it is the application's job.  NULL when poisoned.
 */
const uint8_t *noise_handshake_remote_static(const noise_handshake *hs);
/* The peer's ephemeral public key once received, else NULL (replay detection). */
const uint8_t *noise_handshake_remote_ephemeral(const noise_handshake *hs);

/* GetHandshakeHash() for channel binding: only once done, else LULL_ERR_STATE. */
lull_err noise_handshake_get_hash(const noise_handshake *hs, uint8_t *out, size_t out_cap,
                                  size_t *out_len);

/*
 * Move the Split() CipherStates out: c1 encrypts initiator->responder, c2
 * responder->initiator.  Once only; LULL_ERR_STATE before the handshake is
 * done or when already taken; crypto.h's error (and nothing taken, c1 and
 * c2 empty) if an AEAD context cannot be made.
 */
lull_err noise_handshake_split(noise_handshake *hs, noise_cipher *c1, noise_cipher *c2);

/*
 * The raw Split() keys (k1 initiator->responder, k2 reverse), for a protocol
 * that derives its own traffic keys from them.  Once only, independent of
 * noise_handshake_split; LULL_ERR_STATE before the handshake is done.
 */
lull_err noise_handshake_split_raw(noise_handshake *hs, uint8_t k1[NOISE_KEY_BYTES],
                                   uint8_t k2[NOISE_KEY_BYTES]);

/* Wipe every secret and free every AEAD context; hs becomes UNINITIALISED. */
void noise_handshake_destroy(noise_handshake *hs);

#endif /* LULL_NOISE_H */
