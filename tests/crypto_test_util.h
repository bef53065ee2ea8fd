/*
 * crypto_test_util.h - the raw-bytes DH, for tests only.  The library does
 * every DH through key handles (crypto.h); tests still want "DH of these
 * bytes" to check a handle against RFC 7748's examples and an independent
 * path.  Built on the handle API, so it costs two scalar multiplications
 * (the private key's public half, then the DH) where the handle path costs
 * one.
 */
#ifndef LULL_CRYPTO_TEST_UTIL_H
#define LULL_CRYPTO_TEST_UTIL_H

#include "crypto.h"

/*
 * shared = DH(priv, peer_pub).  LULL_ERR_DH_ZERO when the result is all zero
 * (peer_pub is a low-order point); shared is wiped on every failure.
 */
static inline lull_err crypto_dh(crypto_dh_alg alg, const uint8_t *priv, const uint8_t *peer_pub,
                                 uint8_t *shared)
{
	size_t len = crypto_dh_len(alg);
	if (len == 0 || priv == NULL || peer_pub == NULL || shared == NULL)
		return LULL_ERR_INVALID_ARG;
	uint8_t pub[CRYPTO_DH_MAX_BYTES];
	crypto_dh_key *own = NULL, *peer = NULL;
	lull_err err = crypto_dh_public(alg, priv, pub);
	if (err == LULL_OK)
		err = crypto_dh_key_new(alg, priv, pub, &own);
	if (err == LULL_OK)
		err = crypto_dh_key_new_public(alg, peer_pub, &peer);
	if (err == LULL_OK)
		err = crypto_dh_key_derive(own, peer, shared);
	else
		crypto_wipe(shared, len);
	crypto_dh_key_free(peer);
	crypto_dh_key_free(own);
	crypto_wipe(pub, sizeof(pub));
	return err;
}

#endif /* LULL_CRYPTO_TEST_UTIL_H */
