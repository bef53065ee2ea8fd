/*
 * lull-bench-dh - what one X25519 operation costs through OpenSSL's EVP
 * API, importing the private key alone (as src/crypto.c's crypto_dh did for
 * every Noise DH before crypto_dh_keypair) and the cheaper ways, for the
 * handshake section of docs/performance.md.
 *
 *   lull-bench-dh [--iterations N]
 *
 * Prints microseconds per operation for:
 *   keygen           EVP_PKEY_Q_keygen (random key and its public half)
 *   pub_from_priv    EVP_PKEY_new_raw_private_key_ex: derives the public
 *                    key (a fixed-base scalar multiplication) as a side
 *                    effect, whether or not the caller needs it
 *   dh_priv_only     new private and public EVP keys from raw bytes, a
 *                    derive context, derive, free (crypto_dh's pattern)
 *   dh_fromdata      the same, but the private key is imported together
 *                    with its public half (EVP_PKEY_fromdata), so OpenSSL
 *                    does not recompute it
 *   dh_cached_key    derive with EVP keys built once (a static key or an
 *                    SRK kept as an EVP_PKEY): the ladder alone
 *   dh_cached_priv   the private key built once, the peer's public key
 *                    imported by name per call
 *   peer_import      EVP_PKEY_new_raw_public_key_ex alone (by name)
 *   peer_import_ctx  the same through a fromdata context made once
 *   dh_cached_ctx    both keys built once and the derive context too
 *                    (derive_init once, set_peer and derive per call)
 *   dh_dup_ctx       both keys built once, the derive context duplicated
 *                    per call from one made once
 *   dh_handle        what src/crypto.c's crypto_dh_key_derive costs with
 *                    the peer key imported for it: own key and derive
 *                    template built once, peer imported through the
 *                    fromdata context, duplicate, set_peer, derive
 * Independent of liblull: it measures the library, not our wrappers.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "bench_common.h"

static unsigned iters = 4000;

static void report(const char *what, uint64_t t0)
{
	printf("%s_us=%.1f\n", what, (double)(now_ns() - t0) / 1e3 / iters);
}

static int derive(EVP_PKEY *key, EVP_PKEY *peer, uint8_t out[32])
{
	size_t len = 32;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok = c && EVP_PKEY_derive_init(c) == 1 &&
	         EVP_PKEY_derive_set_peer_ex(c, peer, 0) == 1 && EVP_PKEY_derive(c, out, &len) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

static EVP_PKEY *from_pair(uint8_t priv[32], uint8_t pub[32])
{
	OSSL_PARAM ps[] = {
	        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, priv, 32),
	        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 32),
	        OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	if (!fc || EVP_PKEY_fromdata_init(fc) != 1 ||
	    EVP_PKEY_fromdata(fc, &k, EVP_PKEY_KEYPAIR, ps) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(fc);
	return k;
}

/* The peer's raw public key imported through a fromdata context made once
 * (ic, EVP_PKEY_fromdata_init done): peer_import_ctx times this alone and
 * dh_handle inside a whole DH, so one copy keeps the two rows measuring the
 * same import.  NULL on failure. */
static EVP_PKEY *import_pub(EVP_PKEY_CTX *ic, uint8_t pub[32])
{
	OSSL_PARAM ps[] = {
	        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 32),
	        OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *q = NULL;
	if (EVP_PKEY_fromdata(ic, &q, EVP_PKEY_PUBLIC_KEY, ps) != 1) {
		EVP_PKEY_free(q);
		q = NULL;
	}
	return q;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--iterations") == 0)
		iters = (unsigned)strtoul(argv[2], NULL, 10);
	if (iters == 0)
		return 2;
	uint8_t priv[32], pub[32], peer_pub[32], shared[32];
	size_t len = 32;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!k || !p || EVP_PKEY_get_raw_private_key(k, priv, &len) != 1 ||
	    EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 ||
	    EVP_PKEY_get_raw_public_key(p, peer_pub, &len) != 1)
		return 1;
	EVP_PKEY_free(p);

	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < iters; i++)
		EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "X25519"));
	report("keygen", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++)
		EVP_PKEY_free(EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, 32));
	report("pub_from_priv", t0);

	int bad = 0;
	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		EVP_PKEY *a = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, 32);
		EVP_PKEY *b = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, 32);
		bad |= derive(a, b, shared);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
	}
	report("dh_priv_only", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		EVP_PKEY *a = from_pair(priv, pub);
		EVP_PKEY *b = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, 32);
		bad |= !a || derive(a, b, shared);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
	}
	report("dh_fromdata", t0);

	EVP_PKEY *b = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, 32);
	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++)
		bad |= derive(k, b, shared);
	report("dh_cached_key", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		EVP_PKEY *q = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, 32);
		bad |= !q || derive(k, q, shared);
		EVP_PKEY_free(q);
	}
	report("dh_cached_priv", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++)
		EVP_PKEY_free(EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, 32));
	report("peer_import", t0);

	EVP_PKEY_CTX *ic = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	bad |= !ic || EVP_PKEY_fromdata_init(ic) != 1;
	t0 = now_ns();
	for (unsigned i = 0; i < iters && !bad; i++) {
		EVP_PKEY *q = import_pub(ic, peer_pub);
		bad |= !q;
		EVP_PKEY_free(q);
	}
	report("peer_import_ctx", t0);

	EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	bad |= !dc || EVP_PKEY_derive_init(dc) != 1;
	t0 = now_ns();
	for (unsigned i = 0; i < iters && !bad; i++) {
		len = 32;
		bad |= EVP_PKEY_derive_set_peer_ex(dc, b, 0) != 1 ||
		       EVP_PKEY_derive(dc, shared, &len) != 1;
	}
	report("dh_cached_ctx", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters && !bad; i++) {
		EVP_PKEY_CTX *d = EVP_PKEY_CTX_dup(dc);
		len = 32;
		bad |= !d || EVP_PKEY_derive_set_peer_ex(d, b, 0) != 1 ||
		       EVP_PKEY_derive(d, shared, &len) != 1;
		EVP_PKEY_CTX_free(d);
	}
	report("dh_dup_ctx", t0);

	t0 = now_ns();
	for (unsigned i = 0; i < iters && !bad; i++) {
		EVP_PKEY_CTX *d = EVP_PKEY_CTX_dup(dc);
		EVP_PKEY *q = import_pub(ic, peer_pub);
		len = 32;
		bad |= !q || !d || EVP_PKEY_derive_set_peer_ex(d, q, 0) != 1 ||
		       EVP_PKEY_derive(d, shared, &len) != 1;
		EVP_PKEY_CTX_free(d);
		EVP_PKEY_free(q);
	}
	report("dh_handle", t0);
	EVP_PKEY_CTX_free(ic);
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(b);
	EVP_PKEY_free(k);
	OPENSSL_cleanse(priv, sizeof(priv));
	return bad ? 1 : 0;
}
