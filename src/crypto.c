/*
 * crypto.c - crypto.h on top of OpenSSL 3 libcrypto, EVP interfaces only.
 *
 * Every algorithm object (EVP_MD, EVP_CIPHER, EVP_MAC, the DH key
 * management) is fetched once per process, under pthread_once, and kept in static storage for the
 * process lifetime: an implicit fetch walks the provider store under a lock, which the record layer
 * would otherwise pay on every seal and open.  The statics keep the objects reachable, so leak
 * checkers see "still reachable", not "lost".
 *
 * Invariants:
 *  - A fetch that failed leaves its slot NULL and every call needing it
 *    returns LULL_ERR_CRYPTO; nothing is retried, nothing half-works.
 *  - Every function leaves the OpenSSL error queue of the calling thread
 *    empty when it fails: no layer above may include an OpenSSL header, so
 *    nobody would ever drain it, and stale entries would confuse the next
 *    failure that is diagnosed by error reason (see dh_failed_on_zero).
 *  - Secrets in stack buffers are wiped before return; outputs that may hold
 *    partial secrets are wiped on failure.
 *  - Every EVP object allocated in a call is freed in that call, on every
 *    path, except those a crypto_dh_key handle owns: they are freed with the
 *    handle's last reference, and only then.
 */
/* explicit_bzero (glibc, musl, the BSDs) sits behind _DEFAULT_SOURCE. */
#define _DEFAULT_SOURCE
#include "crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>

/* ---- Algorithm tables and the once-per-process fetch ------------------- */

#define N_HASH_ALGS 4
#define N_AEAD_ALGS 2
#define N_DH_ALGS   2

struct hash_info {
	const char *name; /* OpenSSL fetch name */
	size_t len;       /* Noise HASHLEN */
	size_t block_len; /* Noise BLOCKLEN, the B of RFC 2104 */
};

/* Noise spec §12.5-12.8 fixes HASHLEN and BLOCKLEN; algs_fetch refuses a
 * digest whose OpenSSL sizes disagree, so HMAC can never run with another B. */
static const struct hash_info hash_infos[N_HASH_ALGS] = {
        [CRYPTO_HASH_SHA256] = {"SHA256", 32, 64},
        [CRYPTO_HASH_SHA512] = {"SHA512", 64, 128},
        [CRYPTO_HASH_BLAKE2S] = {"BLAKE2S-256", 32, 64},
        [CRYPTO_HASH_BLAKE2B] = {"BLAKE2B-512", 64, 128},
};

static const char *const aead_names[N_AEAD_ALGS] = {
        [CRYPTO_AEAD_AESGCM] = "AES-256-GCM",
        [CRYPTO_AEAD_CHACHAPOLY] = "ChaCha20-Poly1305",
};

struct dh_info {
	const char *name;
	size_t len;
};

static const struct dh_info dh_infos[N_DH_ALGS] = {
        [CRYPTO_DH_25519] = {"X25519", CRYPTO_X25519_BYTES},
        [CRYPTO_DH_448] = {"X448", CRYPTO_X448_BYTES},
};

_Static_assert(CRYPTO_HASH_MAX_BYTES >= 64 && CRYPTO_HASH_MAX_BLOCK_BYTES >= 128,
               "hash_infos sizes must fit the crypto.h maxima");
_Static_assert(CRYPTO_DH_MAX_BYTES >= CRYPTO_X25519_BYTES, "DH max too small");

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *hash_mds[N_HASH_ALGS];
static EVP_CIPHER *aead_ciphers[N_AEAD_ALGS];
static EVP_MAC *hmac_mac;

/*
 * One unkeyed HMAC context per hash with its digest already bound.  A call
 * duplicates it and keys the copy: setting the digest by name on a fresh
 * context would make the HMAC provider fetch the digest again on every call.
 * The templates are only ever read after algs_fetch, so sharing them between
 * threads is safe.
 */
static EVP_MAC_CTX *hmac_templates[N_HASH_ALGS];

/*
 * One key-import context per DH algorithm (its key management fetched,
 * EVP_PKEY_fromdata_init done).  EVP_PKEY_new_raw_*_key_ex would look the
 * algorithm up by name on every import.  Shared between threads after
 * algs_fetch, like the HMAC templates, and used by several at once.  That
 * rests on OpenSSL 3.0-3.x's implementation, not on a documented promise:
 * EVP_PKEY_fromdata takes a non-const context but only reads it (its
 * operation and key management; the new key takes a reference on the key
 * management atomically).  EVP_PKEY_CTX_dup cannot copy an import context,
 * so the documented alternative would be one context per thread.
 * test_dh_key_threads imports from four threads at once.
 */
static EVP_PKEY_CTX *dh_fromdata[N_DH_ALGS];

static void algs_fetch(void)
{
	for (size_t i = 0; i < N_HASH_ALGS; i++) {
		EVP_MD *md = EVP_MD_fetch(NULL, hash_infos[i].name, NULL);
		if (md != NULL && ((size_t)EVP_MD_get_size(md) != hash_infos[i].len ||
		                   (size_t)EVP_MD_get_block_size(md) != hash_infos[i].block_len)) {
			EVP_MD_free(md);
			md = NULL;
		}
		hash_mds[i] = md;
	}
	for (size_t i = 0; i < N_AEAD_ALGS; i++) {
		EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, aead_names[i], NULL);
		if (c != NULL && (EVP_CIPHER_get_key_length(c) != CRYPTO_AEAD_KEY_BYTES ||
		                  EVP_CIPHER_get_iv_length(c) != CRYPTO_AEAD_IV_BYTES)) {
			EVP_CIPHER_free(c);
			c = NULL;
		}
		aead_ciphers[i] = c;
	}
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	for (size_t i = 0; hmac_mac != NULL && i < N_HASH_ALGS; i++) {
		if (hash_mds[i] == NULL)
			continue;
		EVP_MAC_CTX *t = EVP_MAC_CTX_new(hmac_mac);
		OSSL_PARAM params[] = {
		        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		                                         (char *)hash_infos[i].name, 0),
		        OSSL_PARAM_construct_end(),
		};
		if (t != NULL && !EVP_MAC_CTX_set_params(t, params)) {
			EVP_MAC_CTX_free(t);
			t = NULL;
		}
		hmac_templates[i] = t;
	}
	for (size_t i = 0; i < N_DH_ALGS; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, dh_infos[i].name, NULL);
		if (c != NULL && EVP_PKEY_fromdata_init(c) != 1) {
			EVP_PKEY_CTX_free(c);
			c = NULL;
		}
		dh_fromdata[i] = c;
	}
	/* A missing algorithm is reported per call, not here. */
	ERR_clear_error();
}

static void algs_init(void)
{
	pthread_once(&algs_once, algs_fetch);
}

/* ---- DH ---------------------------------------------------------------- */

size_t crypto_dh_len(crypto_dh_alg alg)
{
	return (unsigned)alg < N_DH_ALGS ? dh_infos[alg].len : 0;
}

/*
 * A handle: the EVP_PKEY, and for a private key a derive context on it that
 * is already initialised (the key exchange fetched) and never used itself:
 * each DH works on a duplicate, so the template is only ever read and the
 * handle can be shared.  The context holds a reference on the key, so the
 * key material goes when both are freed, which happens with the last
 * reference to the handle.
 */
struct crypto_dh_key {
	atomic_uint refs;
	crypto_dh_alg alg;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *derive; /* NULL for a public key */
	uint8_t pub[CRYPTO_DH_MAX_BYTES];
};

/*
 * Import a key from raw bytes through the algorithm's fromdata context:
 * priv and pub (a pair, pub trusted), priv alone (OpenSSL derives pub: a
 * fixed-base scalar multiplication), or pub alone.  NULL on failure, with
 * the error queue emptied.
 */
static EVP_PKEY *dh_import(crypto_dh_alg alg, const uint8_t *priv, const uint8_t *pub)
{
	algs_init();
	if (dh_fromdata[alg] == NULL)
		return NULL;
	size_t len = dh_infos[alg].len;
	OSSL_PARAM params[3];
	size_t n = 0;
	if (priv != NULL)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
		                                                (void *)priv, len);
	if (pub != NULL)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
		                                                (void *)pub, len);
	params[n] = OSSL_PARAM_construct_end();
	EVP_PKEY *key = NULL;
	if (EVP_PKEY_fromdata(dh_fromdata[alg], &key,
	                      priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
		ERR_clear_error();
	}
	return key;
}

/*
 * Wrap pkey (ownership passes, freed on failure) in a new handle whose
 * public key is pub, or read from pkey when pub is NULL.
 */
static lull_err dh_key_wrap(crypto_dh_alg alg, EVP_PKEY *pkey, bool has_priv, const uint8_t *pub,
                            crypto_dh_key **out)
{
	*out = NULL;
	if (pkey == NULL)
		return LULL_ERR_CRYPTO;
	size_t len = dh_infos[alg].len, got = len;
	crypto_dh_key *k = OPENSSL_zalloc(sizeof(*k));
	lull_err err = LULL_ERR_NOMEM;
	if (k == NULL)
		goto fail;
	atomic_init(&k->refs, 1);
	k->alg = alg;
	k->pkey = pkey;
	err = LULL_ERR_CRYPTO;
	if (pub != NULL)
		memcpy(k->pub, pub, len);
	else if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &got) != 1 || got != len)
		goto fail;
	if (has_priv) {
		/* validate_peer is set per DH; nothing here depends on the peer. */
		k->derive = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (k->derive == NULL || EVP_PKEY_derive_init(k->derive) != 1)
			goto fail;
	}
	*out = k;
	return LULL_OK;
fail:
	if (k != NULL) {
		EVP_PKEY_CTX_free(k->derive);
		OPENSSL_free(k);
	}
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return err;
}

crypto_dh_key *crypto_dh_key_ref(crypto_dh_key *k)
{
	if (k != NULL)
		atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
	return k;
}

void crypto_dh_key_free(crypto_dh_key *k)
{
	if (k == NULL || atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* The provider cleanses the private key when its last reference (the
	 * EVP_PKEY's or the derive context's) goes. */
	EVP_PKEY_CTX_free(k->derive);
	EVP_PKEY_free(k->pkey);
	OPENSSL_free(k);
}

crypto_dh_alg crypto_dh_key_alg(const crypto_dh_key *k)
{
	return k->alg;
}

bool crypto_dh_key_has_private(const crypto_dh_key *k)
{
	return k != NULL && k->derive != NULL;
}

const uint8_t *crypto_dh_key_public(const crypto_dh_key *k)
{
	return k->pub;
}

lull_err crypto_dh_key_new(crypto_dh_alg alg, const uint8_t *priv, const uint8_t *pub,
                           crypto_dh_key **out)
{
	if (out != NULL)
		*out = NULL;
	if ((unsigned)alg >= N_DH_ALGS || priv == NULL || pub == NULL || out == NULL)
		return LULL_ERR_INVALID_ARG;
	return dh_key_wrap(alg, dh_import(alg, priv, pub), true, pub, out);
}

lull_err crypto_dh_key_new_public(crypto_dh_alg alg, const uint8_t *pub, crypto_dh_key **out)
{
	if (out != NULL)
		*out = NULL;
	if ((unsigned)alg >= N_DH_ALGS || pub == NULL || out == NULL)
		return LULL_ERR_INVALID_ARG;
	return dh_key_wrap(alg, dh_import(alg, NULL, pub), false, pub, out);
}

/* A fresh private key into priv (len bytes) from rng, wiped on failure. */
static lull_err dh_random_private(crypto_dh_alg alg, const crypto_rng *rng, uint8_t *priv)
{
	/* A private key is any string of random bytes (RFC 7748 §5 clamps on
	 * use).  RAND_priv_bytes: long-term secrets come from the DRBG that is
	 * never used for public values such as nonces. */
	size_t len = dh_infos[alg].len;
	if (rng != NULL && rng->fn != NULL)
		return crypto_rng_bytes(rng, priv, len);
	if (RAND_priv_bytes(priv, (int)len) != 1) {
		crypto_wipe(priv, len);
		ERR_clear_error();
		return LULL_ERR_RANDOM;
	}
	return LULL_OK;
}

lull_err crypto_dh_key_generate(crypto_dh_alg alg, const crypto_rng *rng, uint8_t *priv,
                                uint8_t *pub, crypto_dh_key **out)
{
	if (out != NULL)
		*out = NULL;
	if ((unsigned)alg >= N_DH_ALGS || pub == NULL || out == NULL)
		return LULL_ERR_INVALID_ARG;

	size_t len = dh_infos[alg].len;
	uint8_t own[CRYPTO_DH_MAX_BYTES];
	uint8_t *p = priv != NULL ? priv : own;
	lull_err err = dh_random_private(alg, rng, p);
	if (err == LULL_OK)
		err = dh_key_wrap(alg, dh_import(alg, p, NULL), true, NULL, out);
	if (err == LULL_OK) {
		memcpy(pub, (*out)->pub, len);
	} else {
		crypto_wipe(p, len);
		crypto_wipe(pub, len);
	}
	crypto_wipe(own, sizeof(own));
	return err;
}

lull_err crypto_dh_generate(crypto_dh_alg alg, uint8_t *priv, uint8_t *pub)
{
	if ((unsigned)alg >= N_DH_ALGS || priv == NULL || pub == NULL)
		return LULL_ERR_INVALID_ARG;
	crypto_dh_key *k = NULL;
	lull_err err = crypto_dh_key_generate(alg, NULL, priv, pub, &k);
	crypto_dh_key_free(k);
	return err;
}

lull_err crypto_dh_public(crypto_dh_alg alg, const uint8_t *priv, uint8_t *pub)
{
	if ((unsigned)alg >= N_DH_ALGS || priv == NULL || pub == NULL)
		return LULL_ERR_INVALID_ARG;
	/* pub = priv * base point: OpenSSL computes it on import. */
	size_t len = dh_infos[alg].len, got = len;
	EVP_PKEY *pkey = dh_import(alg, priv, NULL);
	lull_err err = LULL_ERR_CRYPTO;

	if (pkey != NULL && EVP_PKEY_get_raw_public_key(pkey, pub, &got) == 1 && got == len)
		err = LULL_OK;
	EVP_PKEY_free(pkey);
	if (err != LULL_OK) {
		crypto_wipe(pub, len);
		ERR_clear_error();
	}
	return err;
}

/*
 * OpenSSL's X25519 and X448 refuse to return an all-zero secret: derive fails
 * with PROV_R_FAILED_DURING_DERIVATION (ossl_x25519/ossl_x448 return 0).  That
 * is the low-order-point case Noise must report, not a library fault.
 */
static bool dh_failed_on_zero(void)
{
	unsigned long e = ERR_peek_last_error();
	return ERR_GET_LIB(e) == ERR_LIB_PROV &&
	       ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION;
}

/* shared = DH(key, peer).  The one place every DH goes through.  Not
 * counted: the callers count. */
static lull_err dh_derive(const crypto_dh_key *key, const crypto_dh_key *peer, uint8_t *shared)
{
	size_t len = dh_infos[key->alg].len, got = len;
	EVP_PKEY_CTX *ctx = NULL;
	lull_err err = LULL_ERR_CRYPTO;

	if (key->derive == NULL || peer->alg != key->alg) {
		err = LULL_ERR_INVALID_ARG;
		goto out;
	}
	ctx = EVP_PKEY_CTX_dup(key->derive);
	/* validate_peer = 0: the only property of a Montgomery u-coordinate
	 * worth checking is the zero result, tested below for both curves. */
	if (ctx == NULL || EVP_PKEY_derive_set_peer_ex(ctx, peer->pkey, 0) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, shared, &got) != 1) {
		if (dh_failed_on_zero())
			err = LULL_ERR_DH_ZERO;
		goto out;
	}
	if (got != len)
		goto out;
	/* Belt and braces: a provider that does return zeros must not get
	 * past this layer either. */
	err = crypto_is_zero(shared, len) ? LULL_ERR_DH_ZERO : LULL_OK;
out:
	/* Frees the context's copy of the key exchange state (its
	 * references on both keys). */
	EVP_PKEY_CTX_free(ctx);
	if (err != LULL_OK) {
		crypto_wipe(shared, len);
		ERR_clear_error();
	}
	return err;
}

lull_err crypto_dh_key_derive(const crypto_dh_key *key, const crypto_dh_key *peer, uint8_t *shared)
{
	if (key == NULL || peer == NULL || shared == NULL)
		return LULL_ERR_INVALID_ARG;
	return dh_derive(key, peer, shared);
}

/* ---- AEAD -------------------------------------------------------------- */

lull_err crypto_aead_init(crypto_aead *a, crypto_aead_alg alg,
                          const uint8_t key[CRYPTO_AEAD_KEY_BYTES])
{
	if (a == NULL || key == NULL || (unsigned)alg >= N_AEAD_ALGS)
		return LULL_ERR_INVALID_ARG;
	/* Re-keying a live object drops the old key first: if installing the
	 * new one fails, the object is empty rather than silently old. */
	crypto_aead_free(a);

	algs_init();
	if (aead_ciphers[alg] == NULL)
		return LULL_ERR_CRYPTO;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		ERR_clear_error();
		return LULL_ERR_NOMEM;
	}
	/* Key only; the IV arrives with each seal or open. */
	if (EVP_CipherInit_ex2(ctx, aead_ciphers[alg], key, NULL, 1, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		ERR_clear_error();
		return LULL_ERR_CRYPTO;
	}
	a->ctx = ctx;
	a->alg = alg;
	return LULL_OK;
}

void crypto_aead_free(crypto_aead *a)
{
	if (a == NULL)
		return;
	/* The provider's freectx cleanses the key schedule it holds. */
	EVP_CIPHER_CTX_free(a->ctx);
	crypto_wipe(a, sizeof(*a));
}

/* Noise §12.3 (AESGCM): 32 zero bits, then n big-endian. */
static void nonce_be(uint8_t iv[CRYPTO_AEAD_IV_BYTES], uint64_t n)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* Noise §12.4 (ChaChaPoly): 32 zero bits, then n little-endian. */
static void nonce_le(uint8_t iv[CRYPTO_AEAD_IV_BYTES], uint64_t n)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (8 * i));
}

static void noise_nonce(crypto_aead_alg alg, uint64_t n, uint8_t iv[CRYPTO_AEAD_IV_BYTES])
{
	if (alg == CRYPTO_AEAD_AESGCM)
		nonce_be(iv, n);
	else
		nonce_le(iv, n);
}

/*
 * Start one AEAD operation on the keyed context: set the direction and the
 * IV (the key stays), absorb the AAD, and run the n_in parts of in through
 * to out, one after the other.  An empty part skips its update so a NULL
 * pointer never meets arithmetic.
 */
static bool aead_begin(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *iv, const uint8_t *ad,
                       size_t ad_len, const crypto_part *in, size_t n_in, uint8_t *out)
{
	int outl = 0;

	if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL) != 1)
		return false;
	if (ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)ad_len) != 1)
		return false;
	for (size_t i = 0; i < n_in; i++) {
		if (in[i].len == 0)
			continue;
		if (EVP_CipherUpdate(ctx, out, &outl, in[i].data, (int)in[i].len) != 1 ||
		    (size_t)outl != in[i].len)
			return false;
		out += in[i].len;
	}
	return true;
}

static lull_err aead_seal(crypto_aead *a, const uint8_t iv[CRYPTO_AEAD_IV_BYTES], const uint8_t *ad,
                          size_t ad_len, const crypto_part *parts, size_t n_parts, uint8_t *out)
{
	size_t pt_len = 0;
	if (a == NULL || iv == NULL || out == NULL || (ad == NULL && ad_len > 0) ||
	    (parts == NULL && n_parts > 0) || ad_len > INT_MAX)
		return LULL_ERR_INVALID_ARG;
	for (size_t i = 0; i < n_parts; i++) {
		if ((parts[i].data == NULL && parts[i].len > 0) || parts[i].len > INT_MAX - pt_len)
			return LULL_ERR_INVALID_ARG;
		pt_len += parts[i].len;
	}
	if (a->ctx == NULL)
		return LULL_ERR_STATE;

	EVP_CIPHER_CTX *ctx = a->ctx;
	uint8_t tail[CRYPTO_AEAD_TAG_BYTES]; /* Final emits nothing for AEADs */
	int outl = 0;
	OSSL_PARAM get_tag[] = {
	        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + pt_len,
	                                          CRYPTO_AEAD_TAG_BYTES),
	        OSSL_PARAM_construct_end(),
	};

	if (!aead_begin(ctx, 1, iv, ad, ad_len, parts, n_parts, out) ||
	    EVP_CipherFinal_ex(ctx, tail, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_get_params(ctx, get_tag) != 1) {
		/* Half a ciphertext under this nonce is keystream an attacker
		 * who knows the plaintext could use; never hand it out. */
		crypto_wipe(out, pt_len + CRYPTO_AEAD_TAG_BYTES);
		ERR_clear_error();
		return LULL_ERR_CRYPTO;
	}
	return LULL_OK;
}

lull_err crypto_aead_seal_iv(crypto_aead *a, const uint8_t iv[CRYPTO_AEAD_IV_BYTES],
                             const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                             uint8_t *out)
{
	if (pt == NULL && pt_len > 0)
		return LULL_ERR_INVALID_ARG;
	crypto_part whole = {.data = pt, .len = pt_len};
	return aead_seal(a, iv, ad, ad_len, &whole, 1, out);
}

lull_err crypto_aead_open_iv(crypto_aead *a, const uint8_t iv[CRYPTO_AEAD_IV_BYTES],
                             const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len,
                             uint8_t *out)
{
	if (a == NULL || iv == NULL || (ad == NULL && ad_len > 0) || (ct == NULL && ct_len > 0) ||
	    ad_len > INT_MAX || ct_len > INT_MAX)
		return LULL_ERR_INVALID_ARG;
	if (ct_len < CRYPTO_AEAD_TAG_BYTES)
		return LULL_ERR_DECRYPT;
	size_t pt_len = ct_len - CRYPTO_AEAD_TAG_BYTES;
	if (out == NULL && pt_len > 0)
		return LULL_ERR_INVALID_ARG;
	if (a->ctx == NULL)
		return LULL_ERR_STATE;

	EVP_CIPHER_CTX *ctx = a->ctx;
	uint8_t tag[CRYPTO_AEAD_TAG_BYTES], tail[CRYPTO_AEAD_TAG_BYTES];
	int outl = 0;
	/* Copied out first: with out == ct, the tag is past the region being
	 * overwritten, but OpenSSL wants a writable buffer anyway. */
	memcpy(tag, ct + pt_len, sizeof(tag));
	OSSL_PARAM set_tag[] = {
	        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof(tag)),
	        OSSL_PARAM_construct_end(),
	};

	crypto_part body = {.data = ct, .len = pt_len};
	if (aead_begin(ctx, 0, iv, ad, ad_len, &body, 1, out) &&
	    EVP_CIPHER_CTX_set_params(ctx, set_tag) == 1 &&
	    EVP_CipherFinal_ex(ctx, tail, &outl) == 1 && outl == 0)
		return LULL_OK;

	/* Forged, corrupted and wrong-key are one answer; unauthenticated
	 * plaintext never reaches the caller. */
	if (pt_len > 0)
		crypto_wipe(out, pt_len);
	ERR_clear_error();
	return LULL_ERR_DECRYPT;
}

lull_err crypto_aead_seal(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                          const uint8_t *pt, size_t pt_len, uint8_t *out)
{
	if (pt == NULL && pt_len > 0)
		return LULL_ERR_INVALID_ARG;
	crypto_part whole = {.data = pt, .len = pt_len};
	return crypto_aead_seal_parts(a, n, ad, ad_len, &whole, 1, out);
}

lull_err crypto_aead_seal_parts(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                                const crypto_part *parts, size_t n_parts, uint8_t *out)
{
	uint8_t iv[CRYPTO_AEAD_IV_BYTES];

	if (a == NULL)
		return LULL_ERR_INVALID_ARG;
	noise_nonce(a->alg, n, iv);
	return aead_seal(a, iv, ad, ad_len, parts, n_parts, out);
}

lull_err crypto_aead_open(crypto_aead *a, uint64_t n, const uint8_t *ad, size_t ad_len,
                          const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	uint8_t iv[CRYPTO_AEAD_IV_BYTES];

	if (a == NULL)
		return LULL_ERR_INVALID_ARG;
	noise_nonce(a->alg, n, iv);
	return crypto_aead_open_iv(a, iv, ad, ad_len, ct, ct_len, out);
}

/* ---- Hashing ----------------------------------------------------------- */

size_t crypto_hash_len(crypto_hash_alg alg)
{
	return (unsigned)alg < N_HASH_ALGS ? hash_infos[alg].len : 0;
}

size_t crypto_hash_block_len(crypto_hash_alg alg)
{
	return (unsigned)alg < N_HASH_ALGS ? hash_infos[alg].block_len : 0;
}

lull_err crypto_hash(crypto_hash_alg alg, const uint8_t *a, size_t a_len, const uint8_t *b,
                     size_t b_len, uint8_t *out)
{
	if ((unsigned)alg >= N_HASH_ALGS || out == NULL || (a == NULL && a_len > 0) ||
	    (b == NULL && b_len > 0))
		return LULL_ERR_INVALID_ARG;
	algs_init();
	if (hash_mds[alg] == NULL)
		return LULL_ERR_CRYPTO;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned got = 0;
	lull_err err = LULL_ERR_CRYPTO;

	if (ctx == NULL)
		err = LULL_ERR_NOMEM;
	else if (EVP_DigestInit_ex2(ctx, hash_mds[alg], NULL) == 1 &&
	         (a_len == 0 || EVP_DigestUpdate(ctx, a, a_len) == 1) &&
	         (b_len == 0 || EVP_DigestUpdate(ctx, b, b_len) == 1) &&
	         EVP_DigestFinal_ex(ctx, out, &got) == 1 && got == hash_infos[alg].len)
		err = LULL_OK;
	/* EVP_MD_CTX_free cleanses the digest state (it may hash secrets). */
	EVP_MD_CTX_free(ctx);
	if (err != LULL_OK) {
		crypto_wipe(out, hash_infos[alg].len);
		ERR_clear_error();
	}
	return err;
}

lull_err crypto_hmac(crypto_hash_alg alg, const uint8_t *key, size_t key_len, const uint8_t *data,
                     size_t data_len, uint8_t *out)
{
	/* HMAC with an empty key is defined (RFC 2104 pads it to B zeros),
	 * but OpenSSL reads a NULL key as "keep the previous key". */
	static const uint8_t empty_key[1];

	if ((unsigned)alg >= N_HASH_ALGS || out == NULL || (key == NULL && key_len > 0) ||
	    (data == NULL && data_len > 0))
		return LULL_ERR_INVALID_ARG;
	algs_init();
	if (hmac_templates[alg] == NULL)
		return LULL_ERR_CRYPTO;

	size_t len = hash_infos[alg].len, got = 0;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_templates[alg]);
	lull_err err = LULL_ERR_CRYPTO;

	if (ctx == NULL)
		err = LULL_ERR_NOMEM;
	else if (EVP_MAC_init(ctx, key_len > 0 ? key : empty_key, key_len, NULL) == 1 &&
	         (data_len == 0 || EVP_MAC_update(ctx, data, data_len) == 1) &&
	         EVP_MAC_final(ctx, out, &got, len) == 1 && got == len)
		err = LULL_OK;
	/* Frees and cleanses the keyed inner and outer states. */
	EVP_MAC_CTX_free(ctx);
	if (err != LULL_OK) {
		crypto_wipe(out, len);
		ERR_clear_error();
	}
	return err;
}

/*
 * One HMAC on ctx: keyed with key (NULL: re-initialised with the key it
 * already holds, which the HMAC provider does by copying its saved inner
 * state - no allocation, no re-hashing of the key), over a || b, into out.
 */
static bool hmac_on(EVP_MAC_CTX *ctx, const uint8_t *key, size_t key_len, const uint8_t *a,
                    size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, size_t len)
{
	size_t got = 0;
	return EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
	       (a_len == 0 || EVP_MAC_update(ctx, a, a_len) == 1) &&
	       (b_len == 0 || EVP_MAC_update(ctx, b, b_len) == 1) &&
	       EVP_MAC_final(ctx, out, &got, len) == 1 && got == len;
}

/*
 * The whole HKDF on one HMAC context: keyed with ck for the extract, with
 * temp_key once for the first output, and re-initialised with that same
 * key for the others.  Per call that is one context duplicated and freed
 * instead of one per HMAC, and temp_key hashed into the HMAC pads once
 * instead of per output.  The bytes are those of the formula in crypto.h
 * (checked against RFC 5869 and the Noise vectors).
 */
lull_err crypto_hkdf(crypto_hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t ikm_len,
                     unsigned n_outputs, uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
	if ((unsigned)alg >= N_HASH_ALGS || (n_outputs != 2 && n_outputs != 3) || ck == NULL ||
	    (ikm == NULL && ikm_len > 0) || out1 == NULL || out2 == NULL ||
	    (n_outputs == 3 && out3 == NULL))
		return LULL_ERR_INVALID_ARG;
	algs_init();
	if (hmac_templates[alg] == NULL)
		return LULL_ERR_CRYPTO;

	/* Everything is computed into locals and copied out at the end, so an
	 * output may alias ck or ikm (MixKey writes the new ck over the old). */
	size_t len = hash_infos[alg].len;
	uint8_t temp_key[CRYPTO_HASH_MAX_BYTES];
	uint8_t outs[3][CRYPTO_HASH_MAX_BYTES];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_templates[alg]);
	lull_err err = ctx == NULL ? LULL_ERR_NOMEM : LULL_OK;

	/* HMAC(ck, ikm); ck is never empty (HASHLEN bytes), so the NULL-key
	 * reading of EVP_MAC_init cannot arise here. */
	if (err == LULL_OK && !hmac_on(ctx, ck, len, ikm, ikm_len, NULL, 0, temp_key, len))
		err = LULL_ERR_CRYPTO;
	/* output(i) = HMAC(temp_key, output(i-1) || byte(i)), output(0) empty. */
	for (unsigned i = 0; err == LULL_OK && i < n_outputs; i++) {
		const uint8_t counter = (uint8_t)(i + 1);
		if (!hmac_on(ctx, i == 0 ? temp_key : NULL, i == 0 ? len : 0,
		             i == 0 ? NULL : outs[i - 1], i == 0 ? 0 : len, &counter, 1, outs[i],
		             len))
			err = LULL_ERR_CRYPTO;
	}
	if (err == LULL_OK) {
		memcpy(out1, outs[0], len);
		memcpy(out2, outs[1], len);
		if (n_outputs == 3)
			memcpy(out3, outs[2], len);
	} else {
		ERR_clear_error();
	}
	/* Frees and cleanses the keyed inner and outer states. */
	EVP_MAC_CTX_free(ctx);
	crypto_wipe(temp_key, sizeof(temp_key));
	crypto_wipe(outs, sizeof(outs));
	return err;
}

/* ---- Utilities --------------------------------------------------------- */

lull_err crypto_random(uint8_t *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return LULL_ERR_INVALID_ARG;
	for (size_t done = 0; done < len;) {
		size_t chunk = len - done > INT_MAX ? INT_MAX : len - done;
		if (RAND_bytes(buf + done, (int)chunk) != 1) {
			crypto_wipe(buf, len);
			ERR_clear_error();
			return LULL_ERR_RANDOM;
		}
		done += chunk;
	}
	return LULL_OK;
}

lull_err crypto_rng_bytes(const crypto_rng *rng, uint8_t *buf, size_t len)
{
	if (rng == NULL || rng->fn == NULL)
		return crypto_random(buf, len);
	if (buf == NULL && len > 0)
		return LULL_ERR_INVALID_ARG;
	if (rng->fn(rng->ctx, buf, len) != LULL_OK) {
		crypto_wipe(buf, len);
		return LULL_ERR_RANDOM;
	}
	return LULL_OK;
}

bool crypto_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return len == 0 || CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_is_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	/* No early exit: the time must not say where the first non-zero is. */
	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	/* Branch-free: (acc - 1) underflows into bit 8 only when acc == 0. */
	return (((unsigned)acc - 1u) >> 8) & 1u;
}

void crypto_wipe(void *p, size_t len)
{
	/* explicit_bzero: a memset the compiler may not elide, at memset's
	 * speed; OPENSSL_cleanse stores 8 bytes a turn, and the record layer
	 * wipes every plaintext it handled. */
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

/* ---- Memory for secrets ------------------------------------------------- */

/* Allocations that wanted the secure heap and did not fit. */
static atomic_uint_fast64_t secret_fallbacks;
/* Of the secure heap, lull's objects take at most this much: the rest is
 * left to OpenSSL, whose X25519 keys (ours among them) are allocated there
 * with no fallback, so a heap full of connections must not fail a key
 * generation.  Set once by lull_secure_heap_init. */
static size_t secret_heap_share;
#define SECRET_HEAP_OPENSSL_SHARE_DIV 4u

lull_err lull_secure_heap_init(size_t bytes, bool *locked)
{
	if (locked)
		*locked = false;
	if (bytes < LULL_SECURE_HEAP_MIN_BYTES || bytes > LULL_SECURE_HEAP_MAX_BYTES)
		return LULL_ERR_INVALID_ARG;
	size_t size = LULL_SECURE_HEAP_MIN_BYTES;
	while (size < bytes)
		size *= 2;
	if (CRYPTO_secure_malloc_initialized())
		return LULL_ERR_STATE;
	/* 1: locked and excluded from dumps; 2: mapped and excluded, but
	 * mlock refused (RLIMIT_MEMLOCK); 0: nothing. */
	int r = CRYPTO_secure_malloc_init(size, LULL_SECURE_HEAP_MIN_ALLOC_BYTES);
	if (r == 0)
		return LULL_ERR_NOMEM;
	secret_heap_share =
	        size / SECRET_HEAP_OPENSSL_SHARE_DIV * (SECRET_HEAP_OPENSSL_SHARE_DIV - 1);
	if (locked)
		*locked = r == 1;
	return LULL_OK;
}

void lull_secure_heap_stats(size_t *bytes_used, uint64_t *fallbacks)
{
	if (bytes_used)
		*bytes_used = CRYPTO_secure_malloc_initialized() ? CRYPTO_secure_used() : 0;
	if (fallbacks)
		*fallbacks = atomic_load(&secret_fallbacks);
}

void *crypto_secret_alloc(size_t len)
{
	if (!CRYPTO_secure_malloc_initialized())
		return OPENSSL_zalloc(len);
	void *p =
	        CRYPTO_secure_used() + len <= secret_heap_share ? OPENSSL_secure_zalloc(len) : NULL;
	if (p == NULL) {
		atomic_fetch_add(&secret_fallbacks, 1);
		p = OPENSSL_zalloc(len);
	}
	return p;
}

void crypto_secret_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	if (CRYPTO_secure_allocated(p)) {
		OPENSSL_secure_clear_free(p, len);
		return;
	}
	OPENSSL_clear_free(p, len);
}
