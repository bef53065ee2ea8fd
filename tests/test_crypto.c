/*
 * test_crypto.c - crypto.h against published vectors and its own contract.
 *
 * Published vectors (RFC 7748, RFC 8439, the McGrew-Viega GCM paper, FIPS
 * 180, RFC 7693, RFC 4231, RFC 5869) pin every primitive to the outside
 * world; the rest pins what Noise needs on top: nonce encodings, HMAC block
 * lengths, HKDF chaining, every named error and the wiping promised on it.
 * Where this file checks crypto.c against a recomputation, the recomputation
 * is built from other crypto.h calls by the spec's formula and never reuses a
 * constant or helper from crypto.c, so one bug cannot hide in both.
 */
#include "dh_count.h"
#include "crypto.h"
#include "crypto_test_util.h"
#include "test.h"

#include <pthread.h>

#define HEXBUF 512

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- DH ---------------------------------------------------------------- */

struct dh_vector {
	crypto_dh_alg alg;
	const char *scalar, *u, *out;
};

/* RFC 7748 §5.2: X25519 and X448 of a scalar and a u-coordinate.  The
 * second X25519 u has its top bit set, which §5 says must be ignored. */
static const struct dh_vector rfc7748_5_2[] = {
        {CRYPTO_DH_25519, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {CRYPTO_DH_25519, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
        {CRYPTO_DH_448,
         "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121"
         "700a779c984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3",
         "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9"
         "814dc031ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086",
         "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239f"
         "e14fbaadeb445fc66a01b0779d98223961111e21766282f73dd96b6f"},
        {CRYPTO_DH_448,
         "203d494428b8399352665ddca42f9de8fef600908e0d461cb021f8c5"
         "38345dd77c3e4806e25f46d3315c44e0a5b4371282dd2c8d5be3095f",
         "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1e9b6201b"
         "165d015894e56c4d3570bee52fe205e28a78b91cdfbde71ce8d157db",
         "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30fe63c4a7"
         "ad1b3ee3a5700df34321d62077e63633c575c1c954514e99da7c179d"},
};

static void test_dh_rfc7748_5_2(void)
{
	for (size_t i = 0; i < sizeof(rfc7748_5_2) / sizeof(rfc7748_5_2[0]); i++) {
		const struct dh_vector *v = &rfc7748_5_2[i];
		uint8_t scalar[CRYPTO_DH_MAX_BYTES], u[CRYPTO_DH_MAX_BYTES];
		uint8_t want[CRYPTO_DH_MAX_BYTES], got[CRYPTO_DH_MAX_BYTES];
		size_t len = test_unhex(v->scalar, scalar, sizeof(scalar));
		test_unhex(v->u, u, sizeof(u));
		test_unhex(v->out, want, sizeof(want));

		CHECK(len == crypto_dh_len(v->alg));
		CHECK_OK(crypto_dh(v->alg, scalar, u, got));
		CHECK_MEM(got, want, len);
	}
}

struct dh_example {
	crypto_dh_alg alg;
	const char *a_priv, *a_pub, *b_priv, *b_pub, *shared;
};

/* RFC 7748 §6.1 (Curve25519) and §6.2 (Curve448): Alice and Bob. */
static const struct dh_example rfc7748_6[] = {
        {CRYPTO_DH_25519, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
         "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
         "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
         "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
         "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
        {CRYPTO_DH_448,
         "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d"
         "d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
         "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c"
         "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
         "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d"
         "6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
         "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
         "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
         "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b"
         "b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d"},
};

/* One example's hex as bytes; returns the key length. */
struct dh_example_bytes {
	uint8_t a[CRYPTO_DH_MAX_BYTES], a_pub[CRYPTO_DH_MAX_BYTES];
	uint8_t b[CRYPTO_DH_MAX_BYTES], b_pub[CRYPTO_DH_MAX_BYTES];
	uint8_t shared[CRYPTO_DH_MAX_BYTES];
};

static size_t dh_example_unhex(const struct dh_example *v, struct dh_example_bytes *x)
{
	size_t len = test_unhex(v->a_priv, x->a, sizeof(x->a));
	test_unhex(v->a_pub, x->a_pub, sizeof(x->a_pub));
	test_unhex(v->b_priv, x->b, sizeof(x->b));
	test_unhex(v->b_pub, x->b_pub, sizeof(x->b_pub));
	test_unhex(v->shared, x->shared, sizeof(x->shared));
	return len;
}

static void test_dh_rfc7748_6(void)
{
	for (size_t i = 0; i < sizeof(rfc7748_6) / sizeof(rfc7748_6[0]); i++) {
		const struct dh_example *v = &rfc7748_6[i];
		struct dh_example_bytes x;
		size_t len = dh_example_unhex(v, &x);
		const uint8_t *a = x.a, *a_pub = x.a_pub, *b = x.b, *b_pub = x.b_pub;
		const uint8_t *shared = x.shared;
		uint8_t got[CRYPTO_DH_MAX_BYTES];

		CHECK_OK(crypto_dh_public(v->alg, a, got));
		CHECK_MEM(got, a_pub, len);
		CHECK_OK(crypto_dh_public(v->alg, b, got));
		CHECK_MEM(got, b_pub, len);
		CHECK_OK(crypto_dh(v->alg, a, b_pub, got));
		CHECK_MEM(got, shared, len);
		CHECK_OK(crypto_dh(v->alg, b, a_pub, got));
		CHECK_MEM(got, shared, len);
	}
}

static void test_dh_lengths(void)
{
	CHECK(crypto_dh_len(CRYPTO_DH_25519) == 32);
	CHECK(crypto_dh_len(CRYPTO_DH_448) == 56);
}

static void test_dh_generate(crypto_dh_alg alg)
{
	size_t len = crypto_dh_len(alg);
	uint8_t a[CRYPTO_DH_MAX_BYTES], a_pub[CRYPTO_DH_MAX_BYTES];
	uint8_t b[CRYPTO_DH_MAX_BYTES], b_pub[CRYPTO_DH_MAX_BYTES];
	uint8_t ab[CRYPTO_DH_MAX_BYTES], ba[CRYPTO_DH_MAX_BYTES], pub[CRYPTO_DH_MAX_BYTES];

	CHECK_OK(crypto_dh_generate(alg, a, a_pub));
	CHECK_OK(crypto_dh_generate(alg, b, b_pub));
	CHECK(memcmp(a, b, len) != 0);
	CHECK(memcmp(a_pub, b_pub, len) != 0);
	CHECK(!all_zero(a, len));
	/* The pair is a pair: pub is the public key of priv. */
	CHECK_OK(crypto_dh_public(alg, a, pub));
	CHECK_MEM(pub, a_pub, len);
	CHECK_OK(crypto_dh(alg, a, b_pub, ab));
	CHECK_OK(crypto_dh(alg, b, a_pub, ba));
	CHECK_MEM(ab, ba, len);
}

/* Points whose every multiple is the identity: the DH result is all zero. */
static void test_dh_low_order(void)
{
	static const struct {
		crypto_dh_alg alg;
		const char *u;
	} low[] = {
	        {CRYPTO_DH_25519,
	         "0000000000000000000000000000000000000000000000000000000000000000"},
	        {CRYPTO_DH_25519,
	         "0100000000000000000000000000000000000000000000000000000000000000"},
	        {CRYPTO_DH_25519,
	         "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"},
	        {CRYPTO_DH_25519,
	         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	        {CRYPTO_DH_448, "0000000000000000000000000000000000000000000000000000000000000000"
	                        "000000000000000000000000000000000000000000000000"},
	        {CRYPTO_DH_448, "0100000000000000000000000000000000000000000000000000000000000000"
	                        "000000000000000000000000000000000000000000000000"},
	        /* p - 1, little-endian */
	        {CRYPTO_DH_448, "fefffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
	                        "ffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	};

	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		uint8_t priv[CRYPTO_DH_MAX_BYTES], pub[CRYPTO_DH_MAX_BYTES];
		uint8_t u[CRYPTO_DH_MAX_BYTES], shared[CRYPTO_DH_MAX_BYTES];
		size_t len = test_unhex(low[i].u, u, sizeof(u));

		CHECK(len == crypto_dh_len(low[i].alg));
		CHECK_OK(crypto_dh_generate(low[i].alg, priv, pub));
		memset(shared, 0xa5, sizeof(shared));
		CHECK_ERR(crypto_dh(low[i].alg, priv, u, shared), LULL_ERR_DH_ZERO);
		CHECK(all_zero(shared, len));
	}

	/* The refusal left nothing behind: the next DH works normally. */
	uint8_t a[32], a_pub[32], b[32], b_pub[32], ab[32], ba[32];
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, a, a_pub));
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, b, b_pub));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, a, b_pub, ab));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, b, a_pub, ba));
	CHECK_MEM(ab, ba, 32);
}

static void test_dh_count(void)
{
	uint8_t priv[CRYPTO_DH_MAX_BYTES], pub[CRYPTO_DH_MAX_BYTES], out[CRYPTO_DH_MAX_BYTES];
	uint8_t zero[CRYPTO_DH_MAX_BYTES] = {0};
	static const crypto_dh_alg algs[] = {CRYPTO_DH_25519, CRYPTO_DH_448};

	for (size_t i = 0; i < 2; i++) {
		uint64_t before = dh_count();
		CHECK_OK(crypto_dh_generate(algs[i], priv, pub));
		CHECK(dh_count() == before + 1);
		CHECK_OK(crypto_dh_public(algs[i], priv, out));
		CHECK(dh_count() == before + 2);
		/* Importing is not one (the raw-bytes DH of crypto_test_util.h,
		 * which derives the public half, costs two). */
		crypto_dh_key *k = NULL, *peer = NULL, *low = NULL;
		CHECK_OK(crypto_dh_key_new(algs[i], priv, pub, &k));
		CHECK_OK(crypto_dh_key_new_public(algs[i], pub, &peer));
		CHECK_OK(crypto_dh_key_new_public(algs[i], zero, &low));
		CHECK(dh_count() == before + 2);
		CHECK_OK(crypto_dh_key_derive(k, peer, out));
		CHECK(dh_count() == before + 3);
		/* Failed ones count too: the work was done. */
		CHECK_ERR(crypto_dh_key_derive(k, low, out), LULL_ERR_DH_ZERO);
		CHECK(dh_count() == before + 4);
		CHECK_OK(crypto_dh(algs[i], priv, pub, out));
		CHECK(dh_count() == before + 6);
		crypto_dh_key_free(k);
		crypto_dh_key_free(peer);
		crypto_dh_key_free(low);
		before += 2;
		/* Hashing and AEAD are not scalar multiplications. */
		CHECK_OK(crypto_hash(CRYPTO_HASH_SHA256, pub, 32, NULL, 0, out));
		CHECK(dh_count() == before + 4);
	}
}

#define COUNT_THREADS    4
#define COUNT_PER_THREAD 25

static void *count_worker(void *arg)
{
	uint8_t priv[32] = {9}, pub[32], mac[32];
	bool *ok = arg;

	*ok = true;
	for (int i = 0; i < COUNT_PER_THREAD; i++) {
		*ok = *ok && crypto_dh_public(CRYPTO_DH_25519, priv, pub) == LULL_OK;
		*ok = *ok && crypto_hmac(CRYPTO_HASH_BLAKE2S, pub, 32, priv, 32, mac) == LULL_OK;
	}
	return NULL;
}

/* The counter is process-wide: concurrent calls must not lose increments. */
static void test_dh_count_threads(void)
{
	pthread_t threads[COUNT_THREADS];
	bool ok[COUNT_THREADS];
	uint64_t before = dh_count();

	for (int i = 0; i < COUNT_THREADS; i++)
		CHECK(pthread_create(&threads[i], NULL, count_worker, &ok[i]) == 0);
	for (int i = 0; i < COUNT_THREADS; i++) {
		CHECK(pthread_join(threads[i], NULL) == 0);
		CHECK(ok[i]);
	}
	CHECK(dh_count() == before + COUNT_THREADS * COUNT_PER_THREAD);
}

/* ---- DH key handles ---------------------------------------------------- */

/* RFC 7748 §6 through handles: the same shared secret as the raw-bytes
 * calls, for both ways of making a private handle. */
static void test_dh_key_rfc7748_6(void)
{
	for (size_t i = 0; i < sizeof(rfc7748_6) / sizeof(rfc7748_6[0]); i++) {
		const struct dh_example *v = &rfc7748_6[i];
		struct dh_example_bytes x;
		size_t len = dh_example_unhex(v, &x);
		const uint8_t *a = x.a, *a_pub = x.a_pub, *b = x.b, *b_pub = x.b_pub;
		const uint8_t *shared = x.shared;
		uint8_t got[CRYPTO_DH_MAX_BYTES];

		crypto_dh_key *ka = NULL, *kb = NULL, *pa = NULL, *pb = NULL;
		uint64_t before = dh_count();
		CHECK_OK(crypto_dh_key_new(v->alg, a, a_pub, &ka));
		CHECK_OK(crypto_dh_key_new(v->alg, b, b_pub, &kb));
		CHECK_OK(crypto_dh_key_new_public(v->alg, a_pub, &pa));
		CHECK_OK(crypto_dh_key_new_public(v->alg, b_pub, &pb));
		/* Importing is not a scalar multiplication. */
		CHECK(dh_count() == before);
		CHECK(ka && kb && pa && pb);
		if (!ka || !kb || !pa || !pb)
			goto next;
		CHECK(crypto_dh_key_alg(ka) == v->alg && crypto_dh_key_alg(pb) == v->alg);
		CHECK(crypto_dh_key_has_private(ka) && !crypto_dh_key_has_private(pa));
		CHECK_MEM(crypto_dh_key_public(ka), a_pub, len);
		CHECK_MEM(crypto_dh_key_public(pb), b_pub, len);

		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_dh_key_derive(ka, pb, got));
		CHECK_MEM(got, shared, len);
		CHECK(dh_count() == before + 1);
		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_dh_key_derive(kb, pa, got));
		CHECK_MEM(got, shared, len);
		/* Only the peer handle's public half is used. */
		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_dh_key_derive(ka, kb, got));
		CHECK_MEM(got, shared, len);
		/* The same handle, again: it is not consumed by a DH. */
		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_dh_key_derive(ka, pb, got));
		CHECK_MEM(got, shared, len);
		CHECK(dh_count() == before + 4);

		/* A public key cannot be the private side; shared is wiped. */
		memset(got, 0xa5, sizeof(got));
		CHECK_ERR(crypto_dh_key_derive(pa, pb, got), LULL_ERR_INVALID_ARG);
		CHECK(all_zero(got, len));
	next:
		crypto_dh_key_free(ka);
		crypto_dh_key_free(kb);
		crypto_dh_key_free(pa);
		crypto_dh_key_free(pb);
	}
}

/* A generated handle is the pair it reports, with or without the private
 * key handed out, and agrees with the raw-bytes DH. */
static void test_dh_key_generate(crypto_dh_alg alg)
{
	size_t len = crypto_dh_len(alg);
	uint8_t a[CRYPTO_DH_MAX_BYTES], a_pub[CRYPTO_DH_MAX_BYTES], pub[CRYPTO_DH_MAX_BYTES];
	uint8_t b[CRYPTO_DH_MAX_BYTES], b_pub[CRYPTO_DH_MAX_BYTES];
	uint8_t x[CRYPTO_DH_MAX_BYTES], y[CRYPTO_DH_MAX_BYTES];
	crypto_dh_key *ka = NULL, *kc = NULL, *pb = NULL;

	uint64_t before = dh_count();
	CHECK_OK(crypto_dh_key_generate(alg, NULL, a, a_pub, &ka));
	CHECK(dh_count() == before + 1);
	CHECK(ka != NULL && !all_zero(a, len));
	CHECK_OK(crypto_dh_public(alg, a, pub));
	CHECK_MEM(pub, a_pub, len);
	if (ka != NULL)
		CHECK_MEM(crypto_dh_key_public(ka), a_pub, len);

	CHECK_OK(crypto_dh_generate(alg, b, b_pub));
	CHECK_OK(crypto_dh_key_new_public(alg, b_pub, &pb));
	CHECK_OK(crypto_dh_key_derive(ka, pb, x));
	CHECK_OK(crypto_dh(alg, b, a_pub, y));
	CHECK_MEM(x, y, len);

	/* Private key only inside the handle. */
	CHECK_OK(crypto_dh_key_generate(alg, NULL, NULL, pub, &kc));
	CHECK(kc != NULL && memcmp(pub, a_pub, len) != 0);
	CHECK_OK(crypto_dh_key_derive(kc, pb, x));
	CHECK_OK(crypto_dh(alg, b, pub, y));
	CHECK_MEM(x, y, len);

	crypto_dh_key_free(ka);
	crypto_dh_key_free(kc);
	crypto_dh_key_free(pb);
}

/* Low-order peer keys are refused through the handle path exactly as by
 * crypto_dh: LULL_ERR_DH_ZERO, output wiped, and nothing left behind. */
static void test_dh_key_low_order(void)
{
	static const char *const u25519[] = {
	        "0000000000000000000000000000000000000000000000000000000000000000",
	        "0100000000000000000000000000000000000000000000000000000000000000",
	        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t priv[32], pub[32], u[32], shared[32], again[32];
	crypto_dh_key *k = NULL, *peer = NULL;

	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, priv, pub, &k));
	for (size_t i = 0; k != NULL && i < sizeof(u25519) / sizeof(u25519[0]); i++) {
		test_unhex(u25519[i], u, sizeof(u));
		CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, u, &peer));
		uint64_t before = dh_count();
		memset(shared, 0xa5, sizeof(shared));
		CHECK_ERR(crypto_dh_key_derive(k, peer, shared), LULL_ERR_DH_ZERO);
		CHECK(all_zero(shared, sizeof(shared)));
		CHECK(dh_count() == before + 1);
		crypto_dh_key_free(peer);
		peer = NULL;
	}
	/* X448's zero point too. */
	uint8_t p448[56], s448[56], zero448[56] = {0};
	crypto_dh_key *k448 = NULL;
	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_448, NULL, NULL, p448, &k448));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_448, zero448, &peer));
	memset(s448, 0xa5, sizeof(s448));
	CHECK_ERR(crypto_dh_key_derive(k448, peer, s448), LULL_ERR_DH_ZERO);
	CHECK(all_zero(s448, sizeof(s448)));
	/* Curves do not mix. */
	CHECK_ERR(crypto_dh_key_derive(k, peer, shared), LULL_ERR_INVALID_ARG);
	crypto_dh_key_free(peer);
	crypto_dh_key_free(k448);

	/* The refusals left nothing behind: the same handle still works, and
	 * a failure diagnosed by error reason is still diagnosed right. */
	uint8_t b[32], b_pub[32];
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, b, b_pub));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, b_pub, &peer));
	CHECK_OK(crypto_dh_key_derive(k, peer, shared));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, b, pub, again));
	CHECK_MEM(shared, again, 32);
	crypto_dh_key_free(peer);
	crypto_dh_key_free(k);
}

/* References: the key lives while any reference does, whoever made it. */
static void test_dh_key_refs(void)
{
	uint8_t pub[32], b[32], b_pub[32], x[32], y[32];
	crypto_dh_key *k = NULL, *peer = NULL;

	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, NULL, pub, &k));
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, b, b_pub));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, b_pub, &peer));
	crypto_dh_key *r1 = crypto_dh_key_ref(k);
	crypto_dh_key *r2 = crypto_dh_key_ref(k);
	CHECK(r1 == k && r2 == k);
	crypto_dh_key_free(k); /* the maker lets go first */
	CHECK_OK(crypto_dh_key_derive(r1, peer, x));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, b, pub, y));
	CHECK_MEM(x, y, 32);
	crypto_dh_key_free(r1);
	CHECK_OK(crypto_dh_key_derive(r2, peer, x));
	CHECK_MEM(x, y, 32);
	crypto_dh_key_free(r2); /* last: valgrind sees any leak or double free */
	crypto_dh_key_free(peer);
	crypto_dh_key_free(NULL);
	CHECK(crypto_dh_key_ref(NULL) == NULL);
}

#define SHARE_THREADS 4

struct share_arg {
	crypto_dh_key *key, *peer;
	const uint8_t *want;
	/* Raw keys each thread imports itself, all threads at once: the
	 * import context is shared by every thread of the process. */
	const uint8_t *key_pub, *peer_priv, *peer_pub;
	bool ok;
};

static void *share_worker(void *p)
{
	struct share_arg *a = p;
	uint8_t got[32];
	a->ok = true;
	for (int i = 0; i < 100; i++) {
		crypto_dh_key *mine = crypto_dh_key_ref(a->key);
		a->ok = a->ok && crypto_dh_key_derive(mine, a->peer, got) == LULL_OK &&
		        memcmp(got, a->want, 32) == 0;
		crypto_dh_key_free(mine);
		crypto_dh_key *pair = NULL, *pub = NULL;
		a->ok = a->ok &&
		        crypto_dh_key_new(CRYPTO_DH_25519, a->peer_priv, a->peer_pub, &pair) ==
		                LULL_OK &&
		        crypto_dh_key_new_public(CRYPTO_DH_25519, a->key_pub, &pub) == LULL_OK &&
		        crypto_dh_key_derive(pair, pub, got) == LULL_OK &&
		        memcmp(got, a->want, 32) == 0;
		crypto_dh_key_free(pair);
		crypto_dh_key_free(pub);
	}
	return NULL;
}

/* One handle used by several threads at once, as crypto.h allows. */
static void test_dh_key_threads(void)
{
	uint8_t pub[32], b[32], b_pub[32], want[32];
	crypto_dh_key *k = NULL, *peer = NULL;
	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, NULL, pub, &k));
	CHECK_OK(crypto_dh_generate(CRYPTO_DH_25519, b, b_pub));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, b_pub, &peer));
	CHECK_OK(crypto_dh(CRYPTO_DH_25519, b, pub, want));

	pthread_t t[SHARE_THREADS];
	struct share_arg args[SHARE_THREADS];
	for (int i = 0; i < SHARE_THREADS; i++) {
		args[i] = (struct share_arg){.key = k,
		                             .peer = peer,
		                             .want = want,
		                             .key_pub = pub,
		                             .peer_priv = b,
		                             .peer_pub = b_pub};
		CHECK(pthread_create(&t[i], NULL, share_worker, &args[i]) == 0);
	}
	for (int i = 0; i < SHARE_THREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(args[i].ok);
	}
	crypto_dh_key_free(k);
	crypto_dh_key_free(peer);
}

static void test_dh_key_invalid_args(void)
{
	uint8_t buf[64] = {1}, pub[64];
	crypto_dh_key *k = (crypto_dh_key *)buf; /* must be overwritten with NULL */

	CHECK_ERR(crypto_dh_key_new((crypto_dh_alg)9, buf, buf, &k), LULL_ERR_INVALID_ARG);
	CHECK(k == NULL);
	CHECK_ERR(crypto_dh_key_new(CRYPTO_DH_25519, NULL, buf, &k), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_new(CRYPTO_DH_25519, buf, NULL, &k), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_new(CRYPTO_DH_25519, buf, buf, NULL), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_new_public(CRYPTO_DH_25519, NULL, &k), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_new_public((crypto_dh_alg)9, buf, &k), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, buf, NULL, &k),
	          LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, buf, pub, NULL),
	          LULL_ERR_INVALID_ARG);
	CHECK(k == NULL);
	CHECK_ERR(crypto_dh_key_derive(NULL, NULL, buf), LULL_ERR_INVALID_ARG);
}

/* ---- AEAD -------------------------------------------------------------- */

struct aead_vector {
	const char *name;
	crypto_aead_alg alg;
	const char *key, *iv, *ad, *pt, *ct_tag;
};

#define RFC8439_PT                                                                                 \
	"4c616469657320616e642047656e746c656d656e206f662074686520636c6173"                         \
	"73206f66202739393a204966204920636f756c64206f6666657220796f75206f"                         \
	"6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"                         \
	"637265656e20776f756c642062652069742e"

#define GCM_K2  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_IV2 "cafebabefacedbaddecaf888"
#define GCM_P60                                                                                    \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                         \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_C60                                                                                    \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"                         \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"

static const struct aead_vector aead_vectors[] = {
        /* RFC 8439 §2.8.2; the plaintext is "Ladies and Gentlemen of the
         * class of '99: If I could offer you only one tip for the future,
         * sunscreen would be it." */
        {"RFC 8439 2.8.2", CRYPTO_AEAD_CHACHAPOLY,
         "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
         "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", RFC8439_PT,
         "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
         "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
         "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
         "3ff4def08e4b7a9de576d26586cec64b6116"
         "1ae10b594f09e26a7e902ecbd0600691"},
        /* McGrew & Viega, "The Galois/Counter Mode of Operation", test
         * cases 13-16 (AES-256). */
        {"GCM TC13", CRYPTO_AEAD_AESGCM,
         "0000000000000000000000000000000000000000000000000000000000000000",
         "000000000000000000000000", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
        {"GCM TC14", CRYPTO_AEAD_AESGCM,
         "0000000000000000000000000000000000000000000000000000000000000000",
         "000000000000000000000000", "", "00000000000000000000000000000000",
         "cea7403d4d606b6e074ec5d3baf39d18"
         "d0d1c8a799996bf0265b98b5d48ab919"},
        {"GCM TC15", CRYPTO_AEAD_AESGCM, GCM_K2, GCM_IV2, "", GCM_P60 "1aafd255",
         GCM_C60 "898015ad"
                 "b094dac5d93471bdec1a502270e3cc6c"},
        {"GCM TC16", CRYPTO_AEAD_AESGCM, GCM_K2, GCM_IV2,
         "feedfacedeadbeeffeedfacedeadbeefabaddad2", GCM_P60,
         GCM_C60 "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_aead_vectors(void)
{
	for (size_t i = 0; i < sizeof(aead_vectors) / sizeof(aead_vectors[0]); i++) {
		const struct aead_vector *v = &aead_vectors[i];
		uint8_t key[32], iv[12], ad[HEXBUF], pt[HEXBUF], want[HEXBUF], got[HEXBUF];
		crypto_aead a = {0};

		CHECK(test_unhex(v->key, key, sizeof(key)) == 32);
		CHECK(test_unhex(v->iv, iv, sizeof(iv)) == 12);
		size_t ad_len = test_unhex(v->ad, ad, sizeof(ad));
		size_t pt_len = test_unhex(v->pt, pt, sizeof(pt));
		size_t ct_len = test_unhex(v->ct_tag, want, sizeof(want));
		CHECK(ct_len == pt_len + CRYPTO_AEAD_TAG_BYTES);

		CHECK_OK(crypto_aead_init(&a, v->alg, key));
		/* Twice on one context: the second seal must not depend on
		 * state left by the first or by the open in between. */
		for (int round = 0; round < 2; round++) {
			memset(got, 0xa5, sizeof(got));
			CHECK_OK(crypto_aead_seal_iv(&a, iv, ad_len ? ad : NULL, ad_len,
			                             pt_len ? pt : NULL, pt_len, got));
			if (memcmp(got, want, ct_len) != 0)
				fprintf(stderr, "vector %s round %d:\n", v->name, round);
			CHECK_MEM(got, want, ct_len);

			memset(got, 0xa5, sizeof(got));
			CHECK_OK(crypto_aead_open_iv(&a, iv, ad_len ? ad : NULL, ad_len, want,
			                             ct_len, got));
			CHECK_MEM(got, pt, pt_len);
		}
		crypto_aead_free(&a);
	}
}

static void test_aead_nonce_encoding(void)
{
	static const struct {
		crypto_aead_alg alg;
		uint64_t n;
		const char *iv;
	} cases[] = {
	        {CRYPTO_AEAD_AESGCM, 0, "000000000000000000000000"},
	        {CRYPTO_AEAD_AESGCM, 1, "000000000000000000000001"},
	        {CRYPTO_AEAD_AESGCM, 0x0102030405060708u, "000000000102030405060708"},
	        {CRYPTO_AEAD_CHACHAPOLY, 0, "000000000000000000000000"},
	        {CRYPTO_AEAD_CHACHAPOLY, 1, "000000000100000000000000"},
	        {CRYPTO_AEAD_CHACHAPOLY, 0x0102030405060708u, "000000000807060504030201"},
	};
	static const uint8_t ad[] = "header";
	static const uint8_t pt[] = "attack at dawn";
	uint8_t key[32], iv[12], by_n[sizeof(pt) + 16], by_iv[sizeof(pt) + 16], back[sizeof(pt)];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		crypto_aead a = {0};
		test_unhex(cases[i].iv, iv, sizeof(iv));
		CHECK_OK(crypto_aead_init(&a, cases[i].alg, key));
		CHECK_OK(crypto_aead_seal(&a, cases[i].n, ad, sizeof(ad), pt, sizeof(pt), by_n));
		CHECK_OK(crypto_aead_seal_iv(&a, iv, ad, sizeof(ad), pt, sizeof(pt), by_iv));
		CHECK_MEM(by_n, by_iv, sizeof(by_n));
		CHECK_OK(
		        crypto_aead_open(&a, cases[i].n, ad, sizeof(ad), by_n, sizeof(by_n), back));
		CHECK_MEM(back, pt, sizeof(pt));
		/* The neighbouring nonce is a different key stream. */
		CHECK_ERR(crypto_aead_open(&a, cases[i].n + 1, ad, sizeof(ad), by_n, sizeof(by_n),
		                           back),
		          LULL_ERR_DECRYPT);
		crypto_aead_free(&a);
	}
}

#define BIG_LEN (16 * 1024)

static void test_aead_round_trips(crypto_aead_alg alg)
{
	static uint8_t big[BIG_LEN], big_ct[BIG_LEN + 16], big_back[BIG_LEN];
	uint8_t key[32], tag_only[16], buf[64 + 16], copy[64];
	crypto_aead a = {0};

	CHECK_OK(crypto_random(key, sizeof(key)));
	CHECK_OK(crypto_aead_init(&a, alg, key));

	/* Empty plaintext: the output is the tag alone and it authenticates. */
	CHECK_OK(crypto_aead_seal(&a, 0, (const uint8_t *)"ad", 2, NULL, 0, tag_only));
	CHECK_OK(crypto_aead_open(&a, 0, (const uint8_t *)"ad", 2, tag_only, 16, NULL));
	tag_only[15] ^= 1;
	CHECK_ERR(crypto_aead_open(&a, 0, (const uint8_t *)"ad", 2, tag_only, 16, NULL),
	          LULL_ERR_DECRYPT);

	/* Empty AAD and empty everything. */
	CHECK_OK(crypto_aead_seal(&a, 1, NULL, 0, NULL, 0, tag_only));
	CHECK_OK(crypto_aead_open(&a, 1, NULL, 0, tag_only, 16, NULL));
	CHECK_OK(crypto_random(copy, sizeof(copy)));
	CHECK_OK(crypto_aead_seal(&a, 2, NULL, 0, copy, sizeof(copy), buf));
	uint8_t back[64];
	CHECK_OK(crypto_aead_open(&a, 2, NULL, 0, buf, sizeof(buf), back));
	CHECK_MEM(back, copy, sizeof(copy));

	/* In place, both ways: out == pt, then out == ct. */
	uint8_t not_in_place[sizeof(buf)];
	CHECK_OK(crypto_aead_seal(&a, 3, copy, 5, copy, sizeof(copy), not_in_place));
	memcpy(buf, copy, sizeof(copy));
	CHECK_OK(crypto_aead_seal(&a, 3, copy, 5, buf, sizeof(copy), buf));
	CHECK_MEM(buf, not_in_place, sizeof(buf));
	CHECK_OK(crypto_aead_open(&a, 3, copy, 5, buf, sizeof(buf), buf));
	CHECK_MEM(buf, copy, sizeof(copy));

	/* A record-sized buffer. */
	CHECK_OK(crypto_random(big, sizeof(big)));
	CHECK_OK(crypto_aead_seal(&a, 4, NULL, 0, big, sizeof(big), big_ct));
	CHECK(memcmp(big_ct, big, 64) != 0);
	CHECK_OK(crypto_aead_open(&a, 4, NULL, 0, big_ct, sizeof(big_ct), big_back));
	CHECK_MEM(big_back, big, sizeof(big));

	crypto_aead_free(&a);
}

/* A plaintext in parts seals to exactly the bytes of the whole, whatever
 * the cut (empty parts, a part per byte, cuts inside a 16-byte block). */
static void test_aead_seal_parts(crypto_aead_alg alg)
{
	static uint8_t pt[BIG_LEN], whole[BIG_LEN + 16], parted[BIG_LEN + 16], back[BIG_LEN];
	uint8_t key[32], ad[8];
	crypto_aead a = {0};
	CHECK_OK(crypto_random(key, sizeof(key)));
	CHECK_OK(crypto_random(ad, sizeof(ad)));
	CHECK_OK(crypto_random(pt, sizeof(pt)));
	CHECK_OK(crypto_aead_init(&a, alg, key));
	static const size_t cuts[][4] = {
	        {5, BIG_LEN - 5, 0, 0},        {0, 1, 1, BIG_LEN - 2}, {BIG_LEN, 0, 0, 0},
	        {17, 3, 4000, BIG_LEN - 4020}, {BIG_LEN - 1, 1, 0, 0},
	};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		crypto_part parts[4];
		size_t at = 0;
		for (size_t j = 0; j < 4; j++) {
			parts[j] = (crypto_part){.data = pt + at, .len = cuts[i][j]};
			at += cuts[i][j];
		}
		CHECK(at == BIG_LEN);
		CHECK_OK(crypto_aead_seal(&a, 40 + i, ad, sizeof(ad), pt, sizeof(pt), whole));
		CHECK_OK(crypto_aead_seal_parts(&a, 40 + i, ad, sizeof(ad), parts, 4, parted));
		CHECK_MEM(parted, whole, sizeof(whole));
		CHECK_OK(
		        crypto_aead_open(&a, 40 + i, ad, sizeof(ad), parted, sizeof(parted), back));
		CHECK_MEM(back, pt, sizeof(pt));
	}
	/* A part with no bytes behind it is refused, not read. */
	crypto_part bad[2] = {{.data = pt, .len = 3}, {.data = NULL, .len = 1}};
	CHECK_ERR(crypto_aead_seal_parts(&a, 50, NULL, 0, bad, 2, parted), LULL_ERR_INVALID_ARG);
	crypto_aead_free(&a);
}

static void test_aead_failures(crypto_aead_alg alg)
{
	uint8_t key[32], other_key[32], ad[13], pt[40], ct[40 + 16], bad[40 + 16], out[40];
	crypto_aead a = {0}, b = {0};

	CHECK_OK(crypto_random(key, sizeof(key)));
	memcpy(other_key, key, sizeof(key));
	other_key[31] ^= 0x80;
	CHECK_OK(crypto_random(ad, sizeof(ad)));
	CHECK_OK(crypto_random(pt, sizeof(pt)));
	CHECK_OK(crypto_aead_init(&a, alg, key));
	CHECK_OK(crypto_aead_seal(&a, 7, ad, sizeof(ad), pt, sizeof(pt), ct));

	/* Flipped ciphertext bit, first and last ciphertext byte. */
	size_t flips[] = {0, sizeof(pt) - 1, sizeof(pt), sizeof(ct) - 1};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, ct, sizeof(ct));
		bad[flips[i]] ^= 0x01;
		memset(out, 0xa5, sizeof(out));
		CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), bad, sizeof(bad), out),
		          LULL_ERR_DECRYPT);
		CHECK(all_zero(out, sizeof(out)));
	}

	/* Flipped AAD bit. */
	ad[6] ^= 0x10;
	memset(out, 0xa5, sizeof(out));
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), ct, sizeof(ct), out), LULL_ERR_DECRYPT);
	CHECK(all_zero(out, sizeof(out)));
	ad[6] ^= 0x10;

	/* Missing AAD. */
	CHECK_ERR(crypto_aead_open(&a, 7, NULL, 0, ct, sizeof(ct), out), LULL_ERR_DECRYPT);

	/* Wrong key. */
	CHECK_OK(crypto_aead_init(&b, alg, other_key));
	memset(out, 0xa5, sizeof(out));
	CHECK_ERR(crypto_aead_open(&b, 7, ad, sizeof(ad), ct, sizeof(ct), out), LULL_ERR_DECRYPT);
	CHECK(all_zero(out, sizeof(out)));
	crypto_aead_free(&b);

	/* Truncated below a tag. */
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), ct, 15, out), LULL_ERR_DECRYPT);
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), ct, 0, out), LULL_ERR_DECRYPT);
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), NULL, 0, NULL), LULL_ERR_DECRYPT);
	/* Truncated to a tag-sized prefix: a well-formed but wrong message. */
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), ct, 16, NULL), LULL_ERR_DECRYPT);

	/* In-place failure wipes the caller's buffer where plaintext would be. */
	memcpy(bad, ct, sizeof(ct));
	bad[3] ^= 0x04;
	CHECK_ERR(crypto_aead_open(&a, 7, ad, sizeof(ad), bad, sizeof(bad), bad), LULL_ERR_DECRYPT);
	CHECK(all_zero(bad, sizeof(pt)));

	/* After all those failures the context still opens the genuine one. */
	CHECK_OK(crypto_aead_open(&a, 7, ad, sizeof(ad), ct, sizeof(ct), out));
	CHECK_MEM(out, pt, sizeof(pt));
	crypto_aead_free(&a);
}

static void test_aead_lifecycle(void)
{
	uint8_t key[32] = {1}, key2[32] = {2}, ct[16 + 16], ct2[16 + 16], pt[16] = {3};
	crypto_aead zeroed = {0}, a = {0}, fresh = {0};

	/* Free of a zeroed object and a double free are no-ops. */
	crypto_aead_free(&zeroed);
	crypto_aead_free(NULL);
	CHECK(zeroed.ctx == NULL);
	CHECK_ERR(crypto_aead_seal(&zeroed, 0, NULL, 0, pt, sizeof(pt), ct), LULL_ERR_STATE);

	CHECK_OK(crypto_aead_init(&a, CRYPTO_AEAD_CHACHAPOLY, key));
	CHECK(a.ctx != NULL);
	crypto_aead_free(&a);
	CHECK(a.ctx == NULL);
	crypto_aead_free(&a);
	CHECK_ERR(crypto_aead_seal(&a, 0, NULL, 0, pt, sizeof(pt), ct), LULL_ERR_STATE);
	CHECK_ERR(crypto_aead_open(&a, 0, NULL, 0, ct, sizeof(ct), pt), LULL_ERR_STATE);

	/* Re-initialising a live object replaces its key and algorithm. */
	CHECK_OK(crypto_aead_init(&a, CRYPTO_AEAD_CHACHAPOLY, key));
	CHECK_OK(crypto_aead_init(&a, CRYPTO_AEAD_AESGCM, key2));
	CHECK_OK(crypto_aead_init(&fresh, CRYPTO_AEAD_AESGCM, key2));
	CHECK_OK(crypto_aead_seal(&a, 5, NULL, 0, pt, sizeof(pt), ct));
	CHECK_OK(crypto_aead_seal(&fresh, 5, NULL, 0, pt, sizeof(pt), ct2));
	CHECK_MEM(ct, ct2, sizeof(ct));
	crypto_aead_free(&a);
	crypto_aead_free(&fresh);

	CHECK_ERR(crypto_aead_init(&a, (crypto_aead_alg)7, key), LULL_ERR_INVALID_ARG);
	CHECK(a.ctx == NULL);
}

/* ---- Hashing ----------------------------------------------------------- */

static const crypto_hash_alg all_hashes[] = {CRYPTO_HASH_SHA256, CRYPTO_HASH_SHA512,
                                             CRYPTO_HASH_BLAKE2S, CRYPTO_HASH_BLAKE2B};

/* Noise §12.5-12.8, written out here rather than read from crypto.c. */
static size_t spec_block_len(crypto_hash_alg alg)
{
	return alg == CRYPTO_HASH_SHA256 || alg == CRYPTO_HASH_BLAKE2S ? 64 : 128;
}

static void test_hash_sizes(void)
{
	CHECK(crypto_hash_len(CRYPTO_HASH_SHA256) == 32);
	CHECK(crypto_hash_len(CRYPTO_HASH_SHA512) == 64);
	CHECK(crypto_hash_len(CRYPTO_HASH_BLAKE2S) == 32);
	CHECK(crypto_hash_len(CRYPTO_HASH_BLAKE2B) == 64);
	CHECK(crypto_hash_block_len(CRYPTO_HASH_SHA256) == 64);
	CHECK(crypto_hash_block_len(CRYPTO_HASH_SHA512) == 128);
	CHECK(crypto_hash_block_len(CRYPTO_HASH_BLAKE2S) == 64);
	CHECK(crypto_hash_block_len(CRYPTO_HASH_BLAKE2B) == 128);
}

static void test_hash_vectors(void)
{
	static const struct {
		crypto_hash_alg alg;
		const char *digest;
	} abc[] = {
	        /* FIPS 180-2 Appendix B.1 and C.1 */
	        {CRYPTO_HASH_SHA256,
	         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	        {CRYPTO_HASH_SHA512,
	         "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	        /* RFC 7693 Appendix B and A */
	        {CRYPTO_HASH_BLAKE2S,
	         "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"},
	        {CRYPTO_HASH_BLAKE2B,
	         "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
	         "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"},
	};

	for (size_t i = 0; i < sizeof(abc) / sizeof(abc[0]); i++) {
		uint8_t want[64], got[64];
		size_t len = test_unhex(abc[i].digest, want, sizeof(want));

		CHECK(len == crypto_hash_len(abc[i].alg));
		CHECK_OK(crypto_hash(abc[i].alg, (const uint8_t *)"abc", 3, NULL, 0, got));
		CHECK_MEM(got, want, len);
		/* The two parts are concatenated, wherever the split falls. */
		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_hash(abc[i].alg, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2,
		                     got));
		CHECK_MEM(got, want, len);
		memset(got, 0, sizeof(got));
		CHECK_OK(crypto_hash(abc[i].alg, NULL, 0, (const uint8_t *)"abc", 3, got));
		CHECK_MEM(got, want, len);
	}
}

static void test_hmac_rfc4231(void)
{
	static const char data6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t key1[20], key6[131], got[64], want[64];
	static const struct {
		int tc;
		const char *sha256, *sha512;
	} tcs[] = {
	        {1, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	         "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	        {2, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	        {6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
	         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
	};

	memset(key1, 0x0b, sizeof(key1));
	memset(key6, 0xaa, sizeof(key6));
	for (size_t i = 0; i < sizeof(tcs) / sizeof(tcs[0]); i++) {
		const uint8_t *key, *data;
		size_t key_len, data_len;
		switch (tcs[i].tc) {
		case 1:
			key = key1, key_len = sizeof(key1);
			data = (const uint8_t *)"Hi There", data_len = 8;
			break;
		case 2:
			key = (const uint8_t *)"Jefe", key_len = 4;
			data = (const uint8_t *)"what do ya want for nothing?", data_len = 28;
			break;
		default:
			key = key6, key_len = sizeof(key6);
			data = (const uint8_t *)data6, data_len = sizeof(data6) - 1;
			break;
		}
		test_unhex(tcs[i].sha256, want, sizeof(want));
		CHECK_OK(crypto_hmac(CRYPTO_HASH_SHA256, key, key_len, data, data_len, got));
		CHECK_MEM(got, want, 32);
		test_unhex(tcs[i].sha512, want, sizeof(want));
		CHECK_OK(crypto_hmac(CRYPTO_HASH_SHA512, key, key_len, data, data_len, got));
		CHECK_MEM(got, want, 64);
	}
}

/* RFC 2104 from crypto_hash alone, with an explicit block length B. */
static void manual_hmac(crypto_hash_alg alg, size_t block_len, const uint8_t *key, size_t key_len,
                        const uint8_t *data, size_t data_len, uint8_t *out)
{
	uint8_t k[CRYPTO_HASH_MAX_BLOCK_BYTES] = {0}, pad[CRYPTO_HASH_MAX_BLOCK_BYTES];
	uint8_t inner[CRYPTO_HASH_MAX_BYTES];
	size_t hash_len = crypto_hash_len(alg);

	if (key_len > block_len)
		CHECK_OK(crypto_hash(alg, key, key_len, NULL, 0, k));
	else if (key_len > 0)
		memcpy(k, key, key_len);
	for (size_t i = 0; i < block_len; i++)
		pad[i] = k[i] ^ 0x36;
	CHECK_OK(crypto_hash(alg, pad, block_len, data, data_len, inner));
	for (size_t i = 0; i < block_len; i++)
		pad[i] = k[i] ^ 0x5c;
	CHECK_OK(crypto_hash(alg, pad, block_len, inner, hash_len, out));
}

static void test_hmac_block_lengths(void)
{
	/* Straddle HASHLEN (32/64) and BLOCKLEN (64/128) for every hash. */
	static const size_t key_lens[] = {0, 1, 20, 32, 33, 48, 64, 65, 100, 128, 129, 200};
	uint8_t key[200], data[77], got[64], want[64];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xf0 - i);
	for (size_t h = 0; h < sizeof(all_hashes) / sizeof(all_hashes[0]); h++) {
		crypto_hash_alg alg = all_hashes[h];
		size_t len = crypto_hash_len(alg);
		for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
			manual_hmac(alg, spec_block_len(alg), key, key_lens[k], data, sizeof(data),
			            want);
			CHECK_OK(crypto_hmac(alg, key, key_lens[k], data, sizeof(data), got));
			if (memcmp(got, want, len) != 0)
				fprintf(stderr, "hash %zu key_len %zu:\n", h, key_lens[k]);
			CHECK_MEM(got, want, len);
		}
		/* Empty message. */
		manual_hmac(alg, spec_block_len(alg), key, 32, NULL, 0, want);
		CHECK_OK(crypto_hmac(alg, key, 32, NULL, 0, got));
		CHECK_MEM(got, want, len);
	}

	/* The case Noise cares about: a BLAKE2s key of 33..64 bytes is padded,
	 * not hashed, because BLOCKLEN is 64.  A B of 32 (BLAKE2s's own keyed
	 * mode or a confused implementation) gives another answer; make sure
	 * this test could tell the two apart. */
	uint8_t wrong[32];
	manual_hmac(CRYPTO_HASH_BLAKE2S, 64, key, 48, data, sizeof(data), want);
	manual_hmac(CRYPTO_HASH_BLAKE2S, 32, key, 48, data, sizeof(data), wrong);
	CHECK(memcmp(want, wrong, 32) != 0);
	CHECK_OK(crypto_hmac(CRYPTO_HASH_BLAKE2S, key, 48, data, sizeof(data), got));
	CHECK_MEM(got, want, 32);
	CHECK(memcmp(got, wrong, 32) != 0);
	/* The same for BLAKE2b between 65 and 128 bytes. */
	uint8_t wrong64[64];
	manual_hmac(CRYPTO_HASH_BLAKE2B, 128, key, 100, data, sizeof(data), want);
	manual_hmac(CRYPTO_HASH_BLAKE2B, 64, key, 100, data, sizeof(data), wrong64);
	CHECK(memcmp(want, wrong64, 64) != 0);
	CHECK_OK(crypto_hmac(CRYPTO_HASH_BLAKE2B, key, 100, data, sizeof(data), got));
	CHECK_MEM(got, want, 64);
}

/* Noise §4.3 HKDF, spelled out with crypto_hmac. */
static void spec_hkdf(crypto_hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t ikm_len,
                      uint8_t out[3][CRYPTO_HASH_MAX_BYTES])
{
	size_t len = crypto_hash_len(alg);
	uint8_t temp_key[CRYPTO_HASH_MAX_BYTES], buf[CRYPTO_HASH_MAX_BYTES + 1];
	const uint8_t one = 0x01;

	CHECK_OK(crypto_hmac(alg, ck, len, ikm, ikm_len, temp_key));
	CHECK_OK(crypto_hmac(alg, temp_key, len, &one, 1, out[0]));
	memcpy(buf, out[0], len);
	buf[len] = 0x02;
	CHECK_OK(crypto_hmac(alg, temp_key, len, buf, len + 1, out[1]));
	memcpy(buf, out[1], len);
	buf[len] = 0x03;
	CHECK_OK(crypto_hmac(alg, temp_key, len, buf, len + 1, out[2]));
}

static void test_hkdf_spec(void)
{
	static const size_t ikm_lens[] = {0, 32, 56};
	uint8_t ck[64], ikm[56], want[3][CRYPTO_HASH_MAX_BYTES];
	uint8_t o1[64], o2[64], o3[64];

	for (size_t i = 0; i < sizeof(ck); i++)
		ck[i] = (uint8_t)(0x11 * i);
	for (size_t i = 0; i < sizeof(ikm); i++)
		ikm[i] = (uint8_t)(0xa0 + i);
	for (size_t h = 0; h < sizeof(all_hashes) / sizeof(all_hashes[0]); h++) {
		crypto_hash_alg alg = all_hashes[h];
		size_t len = crypto_hash_len(alg);
		for (size_t k = 0; k < sizeof(ikm_lens) / sizeof(ikm_lens[0]); k++) {
			const uint8_t *in = ikm_lens[k] ? ikm : NULL;
			spec_hkdf(alg, ck, in, ikm_lens[k], want);

			memset(o1, 0, sizeof(o1)), memset(o2, 0, sizeof(o2));
			CHECK_OK(crypto_hkdf(alg, ck, in, ikm_lens[k], 2, o1, o2, NULL));
			CHECK_MEM(o1, want[0], len);
			CHECK_MEM(o2, want[1], len);

			memset(o1, 0, sizeof(o1)), memset(o2, 0, sizeof(o2));
			memset(o3, 0, sizeof(o3));
			CHECK_OK(crypto_hkdf(alg, ck, in, ikm_lens[k], 3, o1, o2, o3));
			CHECK_MEM(o1, want[0], len);
			CHECK_MEM(o2, want[1], len);
			CHECK_MEM(o3, want[2], len);
		}

		/* MixKey writes the new ck over the old one: out1 == ck. */
		uint8_t ck_alias[64];
		memcpy(ck_alias, ck, sizeof(ck));
		spec_hkdf(alg, ck, ikm, 32, want);
		CHECK_OK(crypto_hkdf(alg, ck_alias, ikm, 32, 3, ck_alias, o2, o3));
		CHECK_MEM(ck_alias, want[0], len);
		CHECK_MEM(o2, want[1], len);
		CHECK_MEM(o3, want[2], len);
	}
}

/*
 * RFC 5869 test case 3 (SHA-256, empty salt and info) is Noise's HKDF with
 * ck = HashLen zero bytes (RFC 5869 §2.2's default salt): its PRK is
 * temp_key and its 42-byte OKM is the start of output1 || output2.
 */
static void test_hkdf_rfc5869(void)
{
	uint8_t ck[32] = {0}, ikm[22], o1[32], o2[32], okm[64], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	test_unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	           "9d201395faa4b61a96c8",
	           want, sizeof(want));
	CHECK_OK(crypto_hkdf(CRYPTO_HASH_SHA256, ck, ikm, sizeof(ikm), 2, o1, o2, NULL));
	memcpy(okm, o1, 32);
	memcpy(okm + 32, o2, 32);
	CHECK_MEM(okm, want, sizeof(want));
}

static void test_hkdf_errors(void)
{
	uint8_t ck[32] = {0}, o1[32], o2[32], o3[32];

	CHECK_ERR(crypto_hkdf(CRYPTO_HASH_SHA256, ck, NULL, 0, 1, o1, o2, o3),
	          LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_hkdf(CRYPTO_HASH_SHA256, ck, NULL, 0, 4, o1, o2, o3),
	          LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_hkdf(CRYPTO_HASH_SHA256, ck, NULL, 0, 0, o1, o2, o3),
	          LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_hkdf(CRYPTO_HASH_SHA256, ck, NULL, 0, 3, o1, o2, NULL),
	          LULL_ERR_INVALID_ARG);
}

/* ---- Utilities --------------------------------------------------------- */

static void test_utilities(void)
{
	uint8_t a[32], b[32], r1[32], r2[32];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(crypto_equal(a, b, sizeof(a)));
	CHECK(crypto_equal(a, b, 0));
	b[0] ^= 1;
	CHECK(!crypto_equal(a, b, sizeof(a)));
	b[0] ^= 1;
	b[31] ^= 0x80;
	CHECK(!crypto_equal(a, b, sizeof(a)));
	CHECK(crypto_equal(a, b, 31));

	memset(a, 0, sizeof(a));
	CHECK(crypto_is_zero(a, sizeof(a)));
	CHECK(crypto_is_zero(a, 0));
	CHECK(crypto_is_zero(NULL, 0));
	for (size_t i = 0; i < sizeof(a); i += 15) {
		for (unsigned bit = 0; bit < 8; bit++) {
			a[i] = (uint8_t)(1u << bit);
			CHECK(!crypto_is_zero(a, sizeof(a)));
			a[i] = 0;
		}
	}
	a[31] = 0xff;
	CHECK(!crypto_is_zero(a, 32));
	CHECK(crypto_is_zero(a, 31));

	CHECK_OK(crypto_random(r1, sizeof(r1)));
	CHECK_OK(crypto_random(r2, sizeof(r2)));
	CHECK(memcmp(r1, r2, sizeof(r1)) != 0);
	CHECK(!all_zero(r1, sizeof(r1)));
	CHECK(!all_zero(r2, sizeof(r2)));
	CHECK_OK(crypto_random(NULL, 0));

	memset(a, 0x77, sizeof(a));
	crypto_wipe(a, sizeof(a));
	CHECK(all_zero(a, sizeof(a)));
	crypto_wipe(NULL, 0);
}

static void test_invalid_args(void)
{
	uint8_t buf[64] = {0};

	CHECK_ERR(crypto_hash((crypto_hash_alg)9, buf, 1, NULL, 0, buf), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_hmac((crypto_hash_alg)9, buf, 1, buf, 1, buf), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_dh_public((crypto_dh_alg)9, buf, buf), LULL_ERR_INVALID_ARG);
	CHECK_ERR(crypto_hash(CRYPTO_HASH_SHA256, NULL, 5, NULL, 0, buf), LULL_ERR_INVALID_ARG);
	CHECK(crypto_hash_len((crypto_hash_alg)9) == 0);
	CHECK(crypto_dh_len((crypto_dh_alg)9) == 0);
}

int main(void)
{
	/* First, so the threads race the library's own first use. */
	test_dh_count_threads();

	test_dh_lengths();
	test_dh_rfc7748_5_2();
	test_dh_rfc7748_6();
	test_dh_generate(CRYPTO_DH_25519);
	test_dh_generate(CRYPTO_DH_448);
	test_dh_low_order();
	test_dh_count();
	test_dh_key_rfc7748_6();
	test_dh_key_generate(CRYPTO_DH_25519);
	test_dh_key_generate(CRYPTO_DH_448);
	test_dh_key_low_order();
	test_dh_key_refs();
	test_dh_key_threads();
	test_dh_key_invalid_args();

	test_aead_vectors();
	test_aead_nonce_encoding();
	test_aead_round_trips(CRYPTO_AEAD_AESGCM);
	test_aead_round_trips(CRYPTO_AEAD_CHACHAPOLY);
	test_aead_seal_parts(CRYPTO_AEAD_AESGCM);
	test_aead_seal_parts(CRYPTO_AEAD_CHACHAPOLY);
	test_aead_failures(CRYPTO_AEAD_AESGCM);
	test_aead_failures(CRYPTO_AEAD_CHACHAPOLY);
	test_aead_lifecycle();

	test_hash_sizes();
	test_hash_vectors();
	test_hmac_rfc4231();
	test_hmac_block_lengths();
	test_hkdf_spec();
	test_hkdf_rfc5869();
	test_hkdf_errors();

	test_utilities();
	test_invalid_args();

	return test_summary();
}
