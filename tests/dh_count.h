/*
 * dh_count.h - how many scalar multiplications the code under test made,
 * counted outside the library.  Include it in exactly one file of a test
 * program: it interposes the two OpenSSL calls through which liblull does
 * scalar multiplications (its objects are linked into the program, so their
 * calls bind here) and forwards them to libcrypto's:
 *
 *   EVP_PKEY_derive    a DH: one scalar multiplication;
 *   EVP_PKEY_fromdata  importing a private key without its public half:
 *                      OpenSSL derives the public key, one more (key
 *                      generation, crypto_dh_public).  Importing a key pair
 *                      or a public key is not one.
 *
 * Tests use it to prove what a handshake costs: a server answering from a
 * reused SRK performs exactly 3 (ee, es, se) and no key generation.  The
 * library itself keeps no counter (no global state for tests).
 */
#ifndef LULL_DH_COUNT_H
#define LULL_DH_COUNT_H

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_uint_least64_t dh_count_ops;

/* The next definition of name after this program: libcrypto's. */
static void *dh_count_real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);
	if (fn == NULL) {
		fprintf(stderr, "dh_count: no %s after the program\n", name);
		abort();
	}
	return fn;
}

int EVP_PKEY_derive(EVP_PKEY_CTX *ctx, unsigned char *key, size_t *keylen)
{
	typedef int (*derive_fn)(EVP_PKEY_CTX *, unsigned char *, size_t *);
	static derive_fn real;
	if (real == NULL)
		real = (derive_fn)dh_count_real("EVP_PKEY_derive");
	if (key != NULL) /* NULL only asks for the length */
		atomic_fetch_add_explicit(&dh_count_ops, 1, memory_order_relaxed);
	return real(ctx, key, keylen);
}

int EVP_PKEY_fromdata(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey, int selection, OSSL_PARAM params[])
{
	typedef int (*fromdata_fn)(EVP_PKEY_CTX *, EVP_PKEY **, int, OSSL_PARAM[]);
	static fromdata_fn real;
	if (real == NULL)
		real = (fromdata_fn)dh_count_real("EVP_PKEY_fromdata");
	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL &&
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY) == NULL)
		atomic_fetch_add_explicit(&dh_count_ops, 1, memory_order_relaxed);
	return real(ctx, ppkey, selection, params);
}

/* Scalar multiplications made so far by this process, all threads. */
static inline uint64_t dh_count(void)
{
	return atomic_load_explicit(&dh_count_ops, memory_order_relaxed);
}

#endif /* LULL_DH_COUNT_H */
