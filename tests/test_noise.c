/*
 * test_noise.c - unit tests for src/noise.c beyond what the vectors prove.
 *
 * The vectors check that correct handshakes produce the right bytes; these
 * tests check the rest: every named error, that a failed handshake stays
 * failed, rekey, PSK and prologue binding, key validation, and the DH cost
 * of lull's server side.  Each check fails if its behaviour breaks.
 */
#include "dh_count.h"
#include "test.h"

#include "crypto.h"
#include "crypto_test_util.h"
#include "noise.h"

/* Test-only, out of the library (lull never rekeys a Noise cipher or keeps
 * Noise transport ciphers): Rekey() (§4.2, §11.3),
 * k = ENCRYPT(k, 2^64-1, "", 32 zero bytes)[0..32], n unchanged. */
static lull_err noise_cipher_rekey(noise_cipher *c)
{
	if (!c->has_key)
		return LULL_ERR_STATE;
	static const uint8_t zeros[NOISE_KEY_BYTES];
	uint8_t out[NOISE_KEY_BYTES + NOISE_TAG_BYTES];
	lull_err err = crypto_aead_seal(&c->aead, NOISE_NONCE_RESERVED, NULL, 0, zeros,
	                                sizeof(zeros), out);
	if (err == LULL_OK) {
		/* InitializeKey would reset n; Rekey must not (§11.3). */
		uint64_t n = c->n;
		err = noise_cipher_initialize_key(c, out);
		c->n = n;
	}
	crypto_wipe(out, sizeof(out));
	return err;
}

/* noise_handshake_split, named by direction for this side's role. */
static lull_err noise_handshake_take_ciphers(noise_handshake *hs, noise_cipher *send,
                                             noise_cipher *recv)
{
	if (hs->role == NOISE_INITIATOR)
		return noise_handshake_split(hs, send, recv);
	return noise_handshake_split(hs, recv, send);
}

#define XX_PSK3_AESGCM "Noise_XXpsk3_25519_AESGCM_SHA256"
#define XX_PSK3_CHACHA "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
#define BIG            (NOISE_MAX_MESSAGE_BYTES + 64)

static uint8_t msg[BIG], payload[BIG];

struct keypair {
	uint8_t priv[NOISE_MAX_DH_BYTES], pub[NOISE_MAX_DH_BYTES];
};

/* Two parties' keys and the handshakes built from them. */
struct pair {
	struct keypair is, rs;
	uint8_t psk[NOISE_PSK_BYTES];
	noise_handshake init, resp;
};

static void gen(crypto_dh_alg alg, struct keypair *k)
{
	if (crypto_dh_generate(alg, k->priv, k->pub) != LULL_OK) {
		fprintf(stderr, "crypto_dh_generate failed\n");
		exit(1);
	}
}

static lull_err init_party(noise_handshake *hs, const char *name, noise_role role,
                           const struct keypair *s, const uint8_t *rs, const uint8_t *psk,
                           const char *prologue)
{
	noise_handshake_params p = {
	        .protocol_name = name,
	        .role = role,
	        .prologue = (const uint8_t *)prologue,
	        .prologue_len = strlen(prologue),
	        .static_priv = s ? s->priv : NULL,
	        .static_pub = s ? s->pub : NULL,
	        .remote_static = rs,
	        .psks = psk,
	        .psk_count = psk ? 1 : 0,
	};
	return noise_handshake_init(hs, &p);
}

/* Fresh XX-family pair: both sides have statics and the same psk. */
static void pair_new(struct pair *pr, const char *name)
{
	crypto_dh_alg alg = strstr(name, "_448_") ? CRYPTO_DH_448 : CRYPTO_DH_25519;
	gen(alg, &pr->is);
	gen(alg, &pr->rs);
	memset(pr->psk, 0x42, sizeof(pr->psk));
	bool psk = strstr(name, "psk") != NULL;
	CHECK_OK(init_party(&pr->init, name, NOISE_INITIATOR, &pr->is, NULL, psk ? pr->psk : NULL,
	                    "lull test"));
	CHECK_OK(init_party(&pr->resp, name, NOISE_RESPONDER, &pr->rs, NULL, psk ? pr->psk : NULL,
	                    "lull test"));
}

static void pair_free(struct pair *pr)
{
	noise_handshake_destroy(&pr->init);
	noise_handshake_destroy(&pr->resp);
}

/* from writes a message with payload p, to reads it; returns the read's result. */
static lull_err exchange(noise_handshake *from, noise_handshake *to, const char *p)
{
	size_t len, plen;
	lull_err err =
	        noise_handshake_write(from, (const uint8_t *)p, strlen(p), msg, sizeof(msg), &len);
	if (err != LULL_OK)
		return err;
	err = noise_handshake_read(to, msg, len, payload, sizeof(payload), &plen);
	if (err == LULL_OK && (plen != strlen(p) || memcmp(payload, p, plen) != 0))
		return LULL_ERR_CRYPTO;
	return err;
}

/* Write the next message of from into msg; returns its length. */
static size_t write_msg(noise_handshake *from, const char *p)
{
	size_t len = 0;
	CHECK_OK(
	        noise_handshake_write(from, (const uint8_t *)p, strlen(p), msg, sizeof(msg), &len));
	return len;
}

static lull_err read_msg(noise_handshake *to, size_t len)
{
	size_t plen;
	return noise_handshake_read(to, msg, len, payload, sizeof(payload), &plen);
}

/* ---- Successful handshakes --------------------------------------------- */

static void test_xx_psk3_roundtrip(const char *name)
{
	struct pair pr;
	pair_new(&pr, name);
	CHECK(noise_handshake_is_my_turn(&pr.init));
	CHECK(!noise_handshake_is_my_turn(&pr.resp));
	CHECK(noise_handshake_remote_static(&pr.init) == NULL);
	CHECK(noise_handshake_remote_ephemeral(&pr.resp) == NULL);

	CHECK_OK(exchange(&pr.init, &pr.resp, "hello"));
	CHECK(noise_handshake_remote_ephemeral(&pr.resp) != NULL);
	CHECK_OK(exchange(&pr.resp, &pr.init, "server"));
	size_t dh_len = noise_handshake_dh_len(&pr.init);
	CHECK(noise_handshake_remote_static(&pr.init) != NULL &&
	      memcmp(noise_handshake_remote_static(&pr.init), pr.rs.pub, dh_len) == 0);
	CHECK(!noise_handshake_is_done(&pr.init));
	CHECK_OK(exchange(&pr.init, &pr.resp, "client"));
	CHECK(noise_handshake_is_done(&pr.init) && noise_handshake_is_done(&pr.resp));
	CHECK(!noise_handshake_is_my_turn(&pr.init) && !noise_handshake_is_my_turn(&pr.resp));
	CHECK(noise_handshake_remote_static(&pr.resp) != NULL &&
	      memcmp(noise_handshake_remote_static(&pr.resp), pr.is.pub, dh_len) == 0);

	uint8_t h1[64], h2[64];
	size_t l1, l2;
	CHECK_OK(noise_handshake_get_hash(&pr.init, h1, sizeof(h1), &l1));
	CHECK_OK(noise_handshake_get_hash(&pr.resp, h2, sizeof(h2), &l2));
	CHECK(l1 == l2 && memcmp(h1, h2, l1) == 0);
	CHECK_ERR(noise_handshake_get_hash(&pr.init, h1, l1 - 1, &l1), LULL_ERR_BUFFER_TOO_SMALL);

	/* take_ciphers maps c1/c2 to send/recv by role. */
	noise_cipher isend, irecv, rsend, rrecv;
	noise_cipher_init_empty(&isend, CRYPTO_AEAD_AESGCM);
	noise_cipher_init_empty(&irecv, CRYPTO_AEAD_AESGCM);
	noise_cipher_init_empty(&rsend, CRYPTO_AEAD_AESGCM);
	noise_cipher_init_empty(&rrecv, CRYPTO_AEAD_AESGCM);
	CHECK_OK(noise_handshake_take_ciphers(&pr.init, &isend, &irecv));
	CHECK_OK(noise_handshake_take_ciphers(&pr.resp, &rsend, &rrecv));
	CHECK_ERR(noise_handshake_split(&pr.init, &isend, &irecv), LULL_ERR_STATE);
	uint8_t ct[64], pt[64];
	size_t ct_len, pt_len;
	CHECK_OK(noise_cipher_encrypt(&isend, NULL, 0, (const uint8_t *)"ping", 4, ct, sizeof(ct),
	                              &ct_len));
	CHECK_OK(noise_cipher_decrypt(&rrecv, NULL, 0, ct, ct_len, pt, sizeof(pt), &pt_len));
	CHECK(pt_len == 4 && memcmp(pt, "ping", 4) == 0);
	CHECK_OK(noise_cipher_encrypt(&rsend, NULL, 0, (const uint8_t *)"pong", 4, ct, sizeof(ct),
	                              &ct_len));
	CHECK_OK(noise_cipher_decrypt(&irecv, NULL, 0, ct, ct_len, pt, sizeof(pt), &pt_len));
	CHECK(pt_len == 4 && memcmp(pt, "pong", 4) == 0);
	noise_cipher_destroy(&isend);
	noise_cipher_destroy(&irecv);
	noise_cipher_destroy(&rsend);
	noise_cipher_destroy(&rrecv);
	pair_free(&pr);
}

/* ---- Key and PSK binding ------------------------------------------------ */

static void test_wrong_psk(const char *name)
{
	struct pair pr;
	pair_new(&pr, name);
	uint8_t other[NOISE_PSK_BYTES];
	memset(other, 0x43, sizeof(other));
	noise_handshake_destroy(&pr.resp);
	CHECK_OK(init_party(&pr.resp, name, NOISE_RESPONDER, &pr.rs, NULL, other, "lull test"));
	CHECK_OK(exchange(&pr.init, &pr.resp, ""));
	CHECK_OK(exchange(&pr.resp, &pr.init, ""));
	/* psk3 is mixed at the end of message 3: the payload tag must fail. */
	CHECK_ERR(exchange(&pr.init, &pr.resp, "x"), LULL_ERR_DECRYPT);
	CHECK(!noise_handshake_is_done(&pr.resp));
	CHECK(noise_handshake_remote_static(&pr.resp) == NULL);
	pair_free(&pr);
}

static void test_prologue_mismatch(void)
{
	struct pair pr;
	pair_new(&pr, XX_PSK3_AESGCM);
	noise_handshake_destroy(&pr.resp);
	CHECK_OK(init_party(&pr.resp, XX_PSK3_AESGCM, NOISE_RESPONDER, &pr.rs, NULL, pr.psk,
	                    "lull tesT"));
	/* psk mode keys message 1 from e, so its payload tag, made with h, already fails. */
	CHECK_ERR(exchange(&pr.init, &pr.resp, ""), LULL_ERR_DECRYPT);
	pair_free(&pr);

	/* Without a PSK message 1 is plaintext; message 2's encrypted s is bound to h. */
	pair_new(&pr, "Noise_XX_25519_ChaChaPoly_SHA256");
	noise_handshake_destroy(&pr.init);
	CHECK_OK(init_party(&pr.init, "Noise_XX_25519_ChaChaPoly_SHA256", NOISE_INITIATOR, &pr.is,
	                    NULL, NULL, ""));
	CHECK_OK(exchange(&pr.init, &pr.resp, ""));
	CHECK_ERR(exchange(&pr.resp, &pr.init, ""), LULL_ERR_DECRYPT);
	pair_free(&pr);
}

static void test_missing_keys(void)
{
	struct keypair k;
	gen(CRYPTO_DH_25519, &k);
	uint8_t psk[NOISE_PSK_BYTES] = {1};
	noise_handshake hs;

	/* XX needs s on both sides. */
	CHECK_ERR(init_party(&hs, XX_PSK3_AESGCM, NOISE_INITIATOR, NULL, NULL, psk, ""),
	          LULL_ERR_MISSING_KEY);
	CHECK_ERR(init_party(&hs, XX_PSK3_AESGCM, NOISE_RESPONDER, NULL, NULL, psk, ""),
	          LULL_ERR_MISSING_KEY);
	/* And the psk. */
	CHECK_ERR(init_party(&hs, XX_PSK3_AESGCM, NOISE_INITIATOR, &k, NULL, NULL, ""),
	          LULL_ERR_MISSING_KEY);
	/* A failed init is poisoned, and destroy is safe. */
	size_t len;
	CHECK_ERR(noise_handshake_write(&hs, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	noise_handshake_destroy(&hs);

	/* Two psk tokens need two PSKs. */
	CHECK_ERR(init_party(&hs, "Noise_XXpsk0+psk3_25519_AESGCM_SHA256", NOISE_INITIATOR, &k,
	                     NULL, psk, ""),
	          LULL_ERR_MISSING_KEY);
	/* A PSK the pattern has no token for is a mismatch, not silently ignored. */
	CHECK_ERR(
	        init_party(&hs, "Noise_XX_25519_AESGCM_SHA256", NOISE_INITIATOR, &k, NULL, psk, ""),
	        LULL_ERR_INVALID_ARG);

	/* rs for a pre-message: IK and NK initiators, KK responder. */
	CHECK_ERR(init_party(&hs, "Noise_IK_25519_AESGCM_SHA256", NOISE_INITIATOR, &k, NULL, NULL,
	                     ""),
	          LULL_ERR_MISSING_KEY);
	CHECK_ERR(init_party(&hs, "Noise_NK_25519_AESGCM_SHA256", NOISE_INITIATOR, NULL, NULL, NULL,
	                     ""),
	          LULL_ERR_MISSING_KEY);
	CHECK_ERR(init_party(&hs, "Noise_KK_25519_AESGCM_SHA256", NOISE_RESPONDER, &k, NULL, NULL,
	                     ""),
	          LULL_ERR_MISSING_KEY);
	/* The NK responder needs its s, the NK initiator does not. */
	CHECK_ERR(init_party(&hs, "Noise_NK_25519_AESGCM_SHA256", NOISE_RESPONDER, NULL, NULL, NULL,
	                     ""),
	          LULL_ERR_MISSING_KEY);
	CHECK_OK(init_party(&hs, "Noise_NK_25519_AESGCM_SHA256", NOISE_INITIATOR, NULL, k.pub, NULL,
	                    ""));
	noise_handshake_destroy(&hs);
	/* NN needs nothing. */
	CHECK_OK(init_party(&hs, "Noise_NN_25519_AESGCM_SHA256", NOISE_RESPONDER, NULL, NULL, NULL,
	                    ""));
	noise_handshake_destroy(&hs);
}

static void test_unknown_protocols(void)
{
	static const char *bad[] = {
	        "",
	        "Noise",
	        "garbage",
	        "Noise_XX_25519_AESGCM",
	        "Noise_XX_25519_AESGCM_SHA256_",
	        "Noise_XX_25519_AESGCM_SHA256_extra",
	        "Noise__25519_AESGCM_SHA256",
	        "noise_XX_25519_AESGCM_SHA256",
	        "Noise_ZZ_25519_AESGCM_SHA256",
	        "Noise_XX_25518_AESGCM_SHA256",
	        "Noise_XX_25519_AES256GCM_SHA256",
	        "Noise_XX_25519_AESGCM_SHA3",
	        "Noise_XX_25519_AESGCM_sha256",
	        "Noise_XX1X_25519_AESGCM_SHA256",
	        "Noise_XXpsk_25519_AESGCM_SHA256",
	        "Noise_XXpsk4_25519_AESGCM_SHA256", /* XX has 3 messages */
	        "Noise_XXpsk03_25519_AESGCM_SHA256",
	        "Noise_XXpsk3+_25519_AESGCM_SHA256",
	        "Noise_XXpsk3+psk3_25519_AESGCM_SHA256",
	        "Noise_XXpsk3psk2_25519_AESGCM_SHA256",
	        "Noise_XXfallback_25519_AESGCM_SHA256",
	        "Noise_XXhfs_25519+Kyber1024_AESGCM_SHA256",
	        "Noise_XX_25519_AESGCM_SHA256\n",
	};
	struct keypair k;
	gen(CRYPTO_DH_25519, &k);
	noise_handshake hs;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lull_err err = init_party(&hs, bad[i], NOISE_INITIATOR, &k, k.pub, NULL, "");
		if (err != LULL_ERR_UNKNOWN_PROTOCOL)
			fprintf(stderr, "accepted bad protocol name \"%s\"\n", bad[i]);
		CHECK_ERR(err, LULL_ERR_UNKNOWN_PROTOCOL);
		noise_handshake_destroy(&hs);
	}

	/* Too long: a valid prefix followed by 1000 bytes. */
	static char longname[1100];
	snprintf(longname, sizeof(longname), "Noise_XX_25519_AESGCM_SHA256");
	memset(longname + strlen(longname), 'A', 1000);
	CHECK_ERR(init_party(&hs, longname, NOISE_INITIATOR, &k, NULL, NULL, ""),
	          LULL_ERR_UNKNOWN_PROTOCOL);
	noise_handshake_params p = {.protocol_name = NULL, .role = NOISE_INITIATOR};
	CHECK_ERR(noise_handshake_init(&hs, &p), LULL_ERR_UNKNOWN_PROTOCOL);

	/* Every algorithm name in every position is accepted. */
	static const char *good[] = {
	        "Noise_XX_448_ChaChaPoly_BLAKE2s",
	        "Noise_XX_25519_AESGCM_SHA512",
	        "Noise_XX_25519_AESGCM_BLAKE2b",
	        "Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_SHA256",
	        "Noise_X1K1_25519_ChaChaPoly_SHA256",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t psks[4 * NOISE_PSK_BYTES] = {0};
		struct keypair k448;
		gen(strstr(good[i], "448") ? CRYPTO_DH_448 : CRYPTO_DH_25519, &k448);
		p = (noise_handshake_params){
		        .protocol_name = good[i],
		        .role = NOISE_INITIATOR,
		        .static_priv = k448.priv,
		        .remote_static = k448.pub,
		        .psks = psks,
		        .psk_count = strstr(good[i], "psk") ? 4 : 0,
		};
		CHECK_OK(noise_handshake_init(&hs, &p));
		noise_handshake_destroy(&hs);
	}
}

/* ---- Sequencing and poisoning ------------------------------------------- */

static void test_wrong_turn_and_done(void)
{
	struct pair pr;
	size_t len, plen;
	pair_new(&pr, XX_PSK3_CHACHA);
	/* Responder may not write first; initiator may not read first. */
	CHECK_ERR(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	CHECK_ERR(noise_handshake_read(&pr.init, msg, 32, payload, sizeof(payload), &plen),
	          LULL_ERR_STATE);
	/* Both are now poisoned. */
	CHECK_ERR(noise_handshake_write(&pr.init, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	CHECK(!noise_handshake_is_my_turn(&pr.init));
	pair_free(&pr);

	pair_new(&pr, XX_PSK3_CHACHA);
	CHECK_OK(exchange(&pr.init, &pr.resp, "1"));
	/* Two writes in a row. */
	CHECK_ERR(noise_handshake_write(&pr.init, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	pair_free(&pr);

	pair_new(&pr, XX_PSK3_CHACHA);
	CHECK_OK(exchange(&pr.init, &pr.resp, "1"));
	CHECK_OK(exchange(&pr.resp, &pr.init, "2"));
	CHECK_OK(exchange(&pr.init, &pr.resp, "3"));
	CHECK_ERR(noise_handshake_write(&pr.init, NULL, 0, msg, sizeof(msg), &len),
	          LULL_ERR_HANDSHAKE_DONE);
	CHECK_ERR(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len),
	          LULL_ERR_HANDSHAKE_DONE);
	CHECK_ERR(noise_handshake_read(&pr.resp, msg, 64, payload, sizeof(payload), &plen),
	          LULL_ERR_HANDSHAKE_DONE);
	CHECK_ERR(noise_handshake_set_ephemeral(&pr.init, pr.is.priv, pr.is.pub),
	          LULL_ERR_HANDSHAKE_DONE);
	/* HANDSHAKE_DONE does not poison: the transport keys are still there. */
	noise_cipher c1, c2;
	noise_cipher_init_empty(&c1, CRYPTO_AEAD_CHACHAPOLY);
	noise_cipher_init_empty(&c2, CRYPTO_AEAD_CHACHAPOLY);
	CHECK_OK(noise_handshake_split(&pr.init, &c1, &c2));
	noise_cipher_destroy(&c1);
	noise_cipher_destroy(&c2);
	pair_free(&pr);

	/* A zeroed, never-initialised state refuses everything. */
	noise_handshake zero;
	memset(&zero, 0, sizeof(zero));
	CHECK_ERR(noise_handshake_write(&zero, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	CHECK_ERR(noise_handshake_get_hash(&zero, msg, sizeof(msg), &len), LULL_ERR_STATE);
	noise_handshake_destroy(&zero);

	/* No hash, no split before the end. */
	pair_new(&pr, XX_PSK3_CHACHA);
	CHECK_ERR(noise_handshake_get_hash(&pr.init, msg, sizeof(msg), &len), LULL_ERR_STATE);
	CHECK_ERR(noise_handshake_split(&pr.init, &c1, &c2), LULL_ERR_STATE);
	pair_free(&pr);
}

static void test_set_ephemeral_too_late(void)
{
	struct pair pr;
	pair_new(&pr, XX_PSK3_CHACHA);
	CHECK_OK(exchange(&pr.init, &pr.resp, ""));
	CHECK_ERR(noise_handshake_set_ephemeral(&pr.init, pr.is.priv, pr.is.pub), LULL_ERR_STATE);
	CHECK_ERR(exchange(&pr.resp, &pr.init, ""), LULL_ERR_STATE);
	pair_free(&pr);
}

static void test_sizes(void)
{
	struct pair pr;
	size_t len;
	/* XX message 1 is e || payload with no key yet: 32 + payload bytes. */
	pair_new(&pr, "Noise_XX_25519_ChaChaPoly_SHA256");
	CHECK_ERR(noise_handshake_write(&pr.init, payload, NOISE_MAX_MESSAGE_BYTES - 31, msg,
	                                sizeof(msg), &len),
	          LULL_ERR_MSG_TOO_LARGE);
	CHECK_ERR(noise_handshake_write(&pr.init, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);
	pair_free(&pr);

	pair_new(&pr, "Noise_XX_25519_ChaChaPoly_SHA256");
	CHECK_OK(noise_handshake_write(&pr.init, payload, NOISE_MAX_MESSAGE_BYTES - 32, msg,
	                               sizeof(msg), &len));
	CHECK(len == NOISE_MAX_MESSAGE_BYTES);
	size_t plen;
	CHECK_OK(noise_handshake_read(&pr.resp, msg, len, payload, sizeof(payload), &plen));
	CHECK(plen == NOISE_MAX_MESSAGE_BYTES - 32);
	pair_free(&pr);

	/* XXpsk3 message 1 is keyed after e (psk mode): 32 + payload + 16. */
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_ERR(noise_handshake_write(&pr.init, payload, NOISE_MAX_MESSAGE_BYTES - 47, msg,
	                                sizeof(msg), &len),
	          LULL_ERR_MSG_TOO_LARGE);
	pair_free(&pr);
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_OK(noise_handshake_write(&pr.init, payload, NOISE_MAX_MESSAGE_BYTES - 48, msg,
	                               sizeof(msg), &len));
	CHECK(len == NOISE_MAX_MESSAGE_BYTES);
	/* A payload buffer one byte short. */
	CHECK_ERR(noise_handshake_read(&pr.resp, msg, len, payload, NOISE_MAX_MESSAGE_BYTES - 49,
	                               &plen),
	          LULL_ERR_BUFFER_TOO_SMALL);
	pair_free(&pr);

	/* An output buffer one byte short, then poisoned. */
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_ERR(noise_handshake_write(&pr.init, (const uint8_t *)"abc", 3, msg, 32 + 3 + 16 - 1,
	                                &len),
	          LULL_ERR_BUFFER_TOO_SMALL);
	CHECK_ERR(
	        noise_handshake_write(&pr.init, (const uint8_t *)"abc", 3, msg, sizeof(msg), &len),
	        LULL_ERR_STATE);
	pair_free(&pr);

	/* Reading more than any Noise message can be. */
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_ERR(noise_handshake_read(&pr.resp, msg, NOISE_MAX_MESSAGE_BYTES + 1, payload,
	                               sizeof(payload), &plen),
	          LULL_ERR_MSG_TOO_LARGE);
	pair_free(&pr);
}

/*
 * Truncate XX message `which` (0, 1, 2) to len bytes and check the reader
 * reports MSG_TRUNCATED (or want) and is then poisoned.
 */
static void truncate_xx(unsigned which, size_t len, lull_err want)
{
	struct pair pr;
	pair_new(&pr, "Noise_XX_25519_AESGCM_BLAKE2s");
	noise_handshake *from = &pr.init, *to = &pr.resp;
	for (unsigned i = 0; i < which; i++) {
		CHECK_OK(exchange(from, to, ""));
		noise_handshake *t = from;
		from = to;
		to = t;
	}
	size_t full = write_msg(from, "");
	CHECK(len < full || want != LULL_ERR_MSG_TRUNCATED);
	lull_err err = read_msg(to, len);
	if (err != want)
		fprintf(stderr, "XX message %u truncated to %zu of %zu bytes\n", which, len, full);
	CHECK_ERR(err, want);
	CHECK_ERR(read_msg(to, full), LULL_ERR_STATE);
	pair_free(&pr);
}

static void test_truncation(void)
{
	/* Message 1: e (32), payload unkeyed. */
	truncate_xx(0, 0, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(0, 31, LULL_ERR_MSG_TRUNCATED);
	/* Message 2: e (32), ee, s (32 + 16), es, payload tag (16) = 96. */
	truncate_xx(1, 31, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(1, 32, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(1, 32 + 47, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(1, 95, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(1, 96, LULL_OK); /* the whole message with its empty payload */
	/* Message 3: s (32 + 16), se, payload tag (16) = 64. */
	truncate_xx(2, 0, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(2, 47, LULL_ERR_MSG_TRUNCATED);
	truncate_xx(2, 63, LULL_ERR_MSG_TRUNCATED);
}

/* Flip one bit of byte `at` in XX message `which`; the reader must fail with want. */
static void tamper_xx(unsigned which, size_t at, lull_err want)
{
	struct pair pr;
	pair_new(&pr, XX_PSK3_CHACHA);
	noise_handshake *from = &pr.init, *to = &pr.resp;
	for (unsigned i = 0; i < which; i++) {
		CHECK_OK(exchange(from, to, "p"));
		noise_handshake *t = from;
		from = to;
		to = t;
	}
	size_t len = write_msg(from, "payload");
	msg[at] ^= 0x01;
	lull_err err = read_msg(to, len);
	if (err != want)
		fprintf(stderr, "XX message %u tampered at byte %zu\n", which, at);
	CHECK_ERR(err, want);
	/* Poisoned: the genuine message is refused too, nothing is exposed. */
	msg[at] ^= 0x01;
	CHECK_ERR(read_msg(to, len), LULL_ERR_STATE);
	CHECK(noise_handshake_remote_ephemeral(to) == NULL);
	CHECK(noise_handshake_remote_static(to) == NULL);
	noise_cipher c1, c2;
	CHECK_ERR(noise_handshake_split(to, &c1, &c2), LULL_ERR_STATE);
	pair_free(&pr);
}

static void test_tampering(void)
{
	/* psk mode keys message 1 from e: its payload is authenticated. */
	tamper_xx(0, 0, LULL_ERR_DECRYPT);  /* e */
	tamper_xx(0, 40, LULL_ERR_DECRYPT); /* payload */
	tamper_xx(1, 5, LULL_ERR_DECRYPT);  /* e */
	tamper_xx(1, 40, LULL_ERR_DECRYPT); /* encrypted s */
	tamper_xx(1, 90, LULL_ERR_DECRYPT); /* payload */
	tamper_xx(2, 3, LULL_ERR_DECRYPT);  /* encrypted s */
	tamper_xx(2, 60, LULL_ERR_DECRYPT); /* payload tag */
}

static void test_low_order_ephemeral(crypto_dh_alg alg, const char *name)
{
	struct pair pr;
	size_t dh_len = crypto_dh_len(alg);
	gen(alg, &pr.is);
	gen(alg, &pr.rs);
	CHECK_OK(init_party(&pr.init, name, NOISE_INITIATOR, &pr.is, NULL, NULL, ""));
	CHECK_OK(init_party(&pr.resp, name, NOISE_RESPONDER, &pr.rs, NULL, NULL, ""));

	/* Message 1 with an all-zero (low-order) e: the responder's ee must refuse. */
	memset(msg, 0, dh_len);
	CHECK_OK(read_msg(&pr.resp, dh_len));
	size_t len;
	CHECK_ERR(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len),
	          LULL_ERR_DH_ZERO);
	CHECK_ERR(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len), LULL_ERR_STATE);

	/* The same from the initiator's side, reading message 2 (e = zero, u = 1 for 25519). */
	write_msg(&pr.init, "");
	memset(msg, 0, sizeof(msg));
	if (alg == CRYPTO_DH_25519)
		msg[0] = 1;
	CHECK_ERR(read_msg(&pr.init, dh_len + dh_len + 16 + 16), LULL_ERR_DH_ZERO);
	CHECK_ERR(read_msg(&pr.init, dh_len + dh_len + 16 + 16), LULL_ERR_STATE);
	pair_free(&pr);
}

/* ---- lull's server cost ------------------------------------------------- */

static void test_server_dh_count(void)
{
	struct pair pr;
	struct keypair srk;
	gen(CRYPTO_DH_25519, &srk);
	pair_new(&pr, XX_PSK3_AESGCM);

	/* Everything the responder does, counted separately from the initiator. */
	uint64_t spent = 0, before;
	size_t len, plen;
	before = dh_count();
	CHECK_OK(noise_handshake_set_ephemeral(&pr.resp, srk.priv, srk.pub));
	spent += dh_count() - before;

	len = write_msg(&pr.init, "");
	before = dh_count();
	CHECK_OK(noise_handshake_read(&pr.resp, msg, len, payload, sizeof(payload), &plen));
	CHECK_OK(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len));
	spent += dh_count() - before;

	CHECK_OK(noise_handshake_read(&pr.init, msg, len, payload, sizeof(payload), &plen));
	len = write_msg(&pr.init, "");
	before = dh_count();
	CHECK_OK(noise_handshake_read(&pr.resp, msg, len, payload, sizeof(payload), &plen));
	spent += dh_count() - before;

	CHECK(noise_handshake_is_done(&pr.resp));
	if (spent != 3)
		fprintf(stderr, "server spent %llu scalar multiplications\n",
		        (unsigned long long)spent);
	CHECK(spent == 3);
	/* The responder really answered with the supplied key. */
	const uint8_t *re = noise_handshake_remote_ephemeral(&pr.init);
	CHECK(re != NULL && memcmp(re, srk.pub, 32) == 0);
	pair_free(&pr);

	/* Initialising a responder with static_pub supplied costs nothing. */
	before = dh_count();
	CHECK_OK(init_party(&pr.resp, XX_PSK3_AESGCM, NOISE_RESPONDER, &pr.rs, NULL, pr.psk, ""));
	CHECK(dh_count() == before);
	noise_handshake_destroy(&pr.resp);
}

/* Split() as CipherStates and as raw keys, taken in either order, agree;
 * the keys are wiped once both are taken, and not before. */
static void test_split_both_ways(void)
{
	for (int order = 0; order < 2; order++) {
		struct pair pr;
		pair_new(&pr, XX_PSK3_AESGCM);
		CHECK_OK(exchange(&pr.init, &pr.resp, ""));
		CHECK_OK(exchange(&pr.resp, &pr.init, ""));
		CHECK_OK(exchange(&pr.init, &pr.resp, ""));
		uint8_t k1[NOISE_KEY_BYTES], k2[NOISE_KEY_BYTES];
		noise_cipher c1, c2, r1, r2;
		noise_cipher_init_empty(&c1, CRYPTO_AEAD_AESGCM);
		noise_cipher_init_empty(&c2, CRYPTO_AEAD_AESGCM);
		if (order == 0) {
			CHECK_OK(noise_handshake_split_raw(&pr.init, k1, k2));
			CHECK(!crypto_is_zero(pr.init.split_k1, NOISE_KEY_BYTES));
			CHECK_OK(noise_handshake_split(&pr.init, &c1, &c2));
		} else {
			CHECK_OK(noise_handshake_split(&pr.init, &c1, &c2));
			CHECK(!crypto_is_zero(pr.init.split_k2, NOISE_KEY_BYTES));
			CHECK_OK(noise_handshake_split_raw(&pr.init, k1, k2));
		}
		CHECK(crypto_is_zero(pr.init.split_k1, NOISE_KEY_BYTES) &&
		      crypto_is_zero(pr.init.split_k2, NOISE_KEY_BYTES));
		CHECK_ERR(noise_handshake_split_raw(&pr.init, k1, k2), LULL_ERR_STATE);
		CHECK_ERR(noise_handshake_split(&pr.init, &r1, &r2), LULL_ERR_STATE);
		/* CipherStates keyed from the raw keys seal the same bytes. */
		noise_cipher_init_empty(&r1, CRYPTO_AEAD_AESGCM);
		noise_cipher_init_empty(&r2, CRYPTO_AEAD_AESGCM);
		CHECK_OK(noise_cipher_initialize_key(&r1, k1));
		CHECK_OK(noise_cipher_initialize_key(&r2, k2));
		uint8_t a[32], b[32];
		size_t al, bl;
		CHECK_OK(noise_cipher_encrypt(&c1, NULL, 0, (const uint8_t *)"k", 1, a, sizeof(a),
		                              &al));
		CHECK_OK(noise_cipher_encrypt(&r1, NULL, 0, (const uint8_t *)"k", 1, b, sizeof(b),
		                              &bl));
		CHECK(al == bl && memcmp(a, b, al) == 0);
		CHECK_OK(noise_cipher_encrypt(&c2, NULL, 0, (const uint8_t *)"k", 1, a, sizeof(a),
		                              &al));
		CHECK_OK(noise_cipher_encrypt(&r2, NULL, 0, (const uint8_t *)"k", 1, b, sizeof(b),
		                              &bl));
		CHECK(al == bl && memcmp(a, b, al) == 0);
		noise_cipher_destroy(&c1);
		noise_cipher_destroy(&c2);
		noise_cipher_destroy(&r1);
		noise_cipher_destroy(&r2);
		pair_free(&pr);
	}
}

/* ---- DH key handles ----------------------------------------------------- */

/*
 * One XXpsk3 handshake with fixed keys, the responder's keys given either
 * as raw bytes or as handles (static_key, set_ephemeral_key) and the
 * initiator's static either way; every message, the handshake hash and the
 * split keys are recorded in *t.
 */
struct transcript {
	uint8_t m[3][256];
	size_t len[3];
	uint8_t h[NOISE_MAX_HASH_BYTES], k1[NOISE_KEY_BYTES], k2[NOISE_KEY_BYTES];
};

static void run_fixed(bool handles, const struct keypair *is, const struct keypair *ie,
                      const struct keypair *rs, const struct keypair *srk, struct transcript *t)
{
	uint8_t psk[NOISE_PSK_BYTES];
	memset(psk, 0x42, sizeof(psk));
	crypto_dh_key *is_key = NULL, *rs_key = NULL, *srk_key = NULL;
	if (handles) {
		CHECK_OK(crypto_dh_key_new(CRYPTO_DH_25519, is->priv, is->pub, &is_key));
		CHECK_OK(crypto_dh_key_new(CRYPTO_DH_25519, rs->priv, rs->pub, &rs_key));
		CHECK_OK(crypto_dh_key_new(CRYPTO_DH_25519, srk->priv, srk->pub, &srk_key));
	}
	noise_handshake_params ip = {
	        .protocol_name = XX_PSK3_AESGCM,
	        .role = NOISE_INITIATOR,
	        .static_priv = handles ? NULL : is->priv,
	        .static_key = is_key,
	        .psks = psk,
	        .psk_count = 1,
	};
	noise_handshake_params rp = {
	        .protocol_name = XX_PSK3_AESGCM,
	        .role = NOISE_RESPONDER,
	        .static_priv = handles ? NULL : rs->priv,
	        .static_pub = handles ? NULL : rs->pub, /* read from the handle */
	        .static_key = rs_key,
	        .psks = psk,
	        .psk_count = 1,
	};
	noise_handshake init, resp;
	CHECK_OK(noise_handshake_init(&init, &ip));
	CHECK_OK(noise_handshake_init(&resp, &rp));
	/* The handshakes hold their own references: the caller's may go. */
	crypto_dh_key_free(is_key);
	crypto_dh_key_free(rs_key);
	CHECK_OK(noise_handshake_set_ephemeral(&init, ie->priv, ie->pub));
	if (handles)
		CHECK_OK(noise_handshake_set_ephemeral_key(&resp, srk_key));
	else
		CHECK_OK(noise_handshake_set_ephemeral(&resp, srk->priv, srk->pub));

	size_t plen;
	noise_handshake *w[3] = {&init, &resp, &init}, *r[3] = {&resp, &init, &resp};
	for (int i = 0; i < 3; i++) {
		CHECK_OK(noise_handshake_write(w[i], (const uint8_t *)"x", 1, t->m[i],
		                               sizeof(t->m[i]), &t->len[i]));
		CHECK_OK(noise_handshake_read(r[i], t->m[i], t->len[i], payload, sizeof(payload),
		                              &plen));
	}
	CHECK(noise_handshake_is_done(&init) && noise_handshake_is_done(&resp));
	/* Done: no key handle is held any more, the raw private keys are gone. */
	CHECK(resp.s_key == NULL && resp.e_key == NULL && resp.rs_key == NULL &&
	      resp.re_key == NULL);
	CHECK(init.s_key == NULL && init.e_key == NULL);
	CHECK(crypto_is_zero(resp.e_priv, sizeof(resp.e_priv)) &&
	      crypto_is_zero(resp.s_priv, sizeof(resp.s_priv)));
	size_t hl;
	CHECK_OK(noise_handshake_get_hash(&resp, t->h, sizeof(t->h), &hl));
	CHECK_OK(noise_handshake_split_raw(&resp, t->k1, t->k2));
	noise_handshake_destroy(&init);
	noise_handshake_destroy(&resp);
	/* srk_key outlived both handshakes (as an SRK outlives them in the
	 * pool); it is still usable, then freed by its maker. */
	if (handles) {
		uint8_t a[32], b[32];
		crypto_dh_key *peer = NULL;
		CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, is->pub, &peer));
		CHECK_OK(crypto_dh_key_derive(srk_key, peer, a));
		CHECK_OK(crypto_dh(CRYPTO_DH_25519, is->priv, srk->pub, b));
		CHECK_MEM(a, b, 32);
		crypto_dh_key_free(peer);
	}
	crypto_dh_key_free(srk_key);
}

/* Handles change no byte: the same keys give the same transcript. */
static void test_handles_same_bytes(void)
{
	struct keypair is, ie, rs, srk;
	struct transcript raw, hdl;
	gen(CRYPTO_DH_25519, &is);
	gen(CRYPTO_DH_25519, &ie);
	gen(CRYPTO_DH_25519, &rs);
	gen(CRYPTO_DH_25519, &srk);
	memset(&raw, 0, sizeof(raw));
	memset(&hdl, 0xee, sizeof(hdl));
	run_fixed(false, &is, &ie, &rs, &srk, &raw);
	run_fixed(true, &is, &ie, &rs, &srk, &hdl);
	for (int i = 0; i < 3; i++) {
		CHECK(raw.len[i] == hdl.len[i]);
		CHECK_MEM(hdl.m[i], raw.m[i], raw.len[i]);
	}
	CHECK_MEM(hdl.h, raw.h, 32);
	CHECK_MEM(hdl.k1, raw.k1, sizeof(raw.k1));
	CHECK_MEM(hdl.k2, raw.k2, sizeof(raw.k2));
}

/* pair_new's XXpsk3 pair, its responder destroyed, with what it takes to
 * start one answering from handles: an SRK made here (*srk, srk_pub), the
 * responder's static key as a handle (*rs_key) and its parameters (*rp). */
static void pair_new_handle_responder(struct pair *pr, crypto_dh_key **srk, uint8_t srk_pub[32],
                                      crypto_dh_key **rs_key, noise_handshake_params *rp)
{
	pair_new(pr, XX_PSK3_AESGCM);
	noise_handshake_destroy(&pr->resp);
	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, NULL, srk_pub, srk));
	CHECK_OK(crypto_dh_key_new(CRYPTO_DH_25519, pr->rs.priv, pr->rs.pub, rs_key));
	*rp = (noise_handshake_params){
	        .protocol_name = XX_PSK3_AESGCM,
	        .role = NOISE_RESPONDER,
	        .prologue = (const uint8_t *)"lull test", /* as pair_new's */
	        .prologue_len = 9,
	        .static_key = *rs_key,
	        .psks = pr->psk,
	        .psk_count = 1,
	};
}

/* A responder answering with handles spends exactly 3 scalar
 * multiplications; the raw-bytes responder imports nothing it does not
 * need either (its raw private keys are wiped once imported). */
static void test_handles_server_dh_count(void)
{
	struct pair pr;
	crypto_dh_key *srk = NULL, *rs_key = NULL;
	uint8_t srk_pub[32];
	noise_handshake_params rp;
	pair_new_handle_responder(&pr, &srk, srk_pub, &rs_key, &rp);
	uint64_t before = dh_count();
	CHECK_OK(noise_handshake_init(&pr.resp, &rp));
	CHECK_OK(noise_handshake_set_ephemeral_key(&pr.resp, srk));
	CHECK(dh_count() == before);
	CHECK(crypto_is_zero(pr.resp.s_priv, sizeof(pr.resp.s_priv)) &&
	      crypto_is_zero(pr.resp.e_priv, sizeof(pr.resp.e_priv)));

	uint64_t spent = 0;
	size_t len = write_msg(&pr.init, "");
	before = dh_count();
	CHECK_OK(read_msg(&pr.resp, len));
	len = 0;
	CHECK_OK(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len));
	spent += dh_count() - before;
	/* ee and es used the client's e, imported once. */
	CHECK(pr.resp.re_key != NULL && pr.resp.rs_key == NULL);
	CHECK_OK(read_msg(&pr.init, len));
	len = write_msg(&pr.init, "");
	before = dh_count();
	CHECK_OK(read_msg(&pr.resp, len));
	spent += dh_count() - before;
	CHECK(noise_handshake_is_done(&pr.resp) && noise_handshake_is_done(&pr.init));
	CHECK(spent == 3);
	const uint8_t *re = noise_handshake_remote_ephemeral(&pr.init);
	CHECK(re != NULL && memcmp(re, srk_pub, 32) == 0);
	const uint8_t *rs = noise_handshake_remote_static(&pr.init);
	CHECK(rs != NULL && memcmp(rs, pr.rs.pub, 32) == 0);
	pair_free(&pr);
	crypto_dh_key_free(srk);
	crypto_dh_key_free(rs_key);
}

/* A low-order client ephemeral is refused through the handle path too,
 * the handshake is poisoned and its references are dropped. */
static void test_handles_low_order(void)
{
	struct pair pr;
	crypto_dh_key *srk = NULL, *rs_key = NULL;
	uint8_t srk_pub[32];
	noise_handshake_params rp;
	pair_new_handle_responder(&pr, &srk, srk_pub, &rs_key, &rp);
	static const char *const low[] = {
	        "0000000000000000000000000000000000000000000000000000000000000000",
	        "0100000000000000000000000000000000000000000000000000000000000000",
	        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		CHECK_OK(noise_handshake_init(&pr.resp, &rp));
		CHECK_OK(noise_handshake_set_ephemeral_key(&pr.resp, srk));
		/* Message 1 of XXpsk3 is e alone, plus the tag of the empty
		 * payload under the key MixKey(e) made: forge it with an
		 * initiator whose e is the low-order point. */
		noise_handshake fake;
		noise_handshake_params ip = {
		        .protocol_name = XX_PSK3_AESGCM,
		        .role = NOISE_INITIATOR,
		        .prologue = (const uint8_t *)"lull test",
		        .prologue_len = 9,
		        .static_priv = pr.is.priv,
		        .static_pub = pr.is.pub,
		        .psks = pr.psk,
		        .psk_count = 1,
		};
		uint8_t u[32];
		test_unhex(low[i], u, sizeof(u));
		CHECK_OK(noise_handshake_init(&fake, &ip));
		/* Any private key: only the public bytes reach the wire. */
		CHECK_OK(noise_handshake_set_ephemeral(&fake, pr.is.priv, u));
		size_t len = write_msg(&fake, "");
		noise_handshake_destroy(&fake);
		CHECK_OK(read_msg(&pr.resp, len));
		CHECK_ERR(noise_handshake_write(&pr.resp, NULL, 0, msg, sizeof(msg), &len),
		          LULL_ERR_DH_ZERO);
		CHECK(pr.resp.status == NOISE_HS_FAILED);
		CHECK(pr.resp.s_key == NULL && pr.resp.e_key == NULL && pr.resp.re_key == NULL);
		noise_handshake_destroy(&pr.resp);
	}
	/* The handles survived their handshakes' failures and still work. */
	CHECK_OK(noise_handshake_init(&pr.resp, &rp));
	CHECK_OK(noise_handshake_set_ephemeral_key(&pr.resp, srk));
	CHECK_OK(exchange(&pr.init, &pr.resp, "a"));
	CHECK_OK(exchange(&pr.resp, &pr.init, "b"));
	CHECK_OK(exchange(&pr.init, &pr.resp, "c"));
	pair_free(&pr);
	crypto_dh_key_free(srk);
	crypto_dh_key_free(rs_key);
}

static void test_handles_refused(void)
{
	struct pair pr;
	crypto_dh_key *k448 = NULL, *pub_only = NULL, *good = NULL;
	uint8_t pub448[56], pub[32];
	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_448, NULL, NULL, pub448, &k448));
	CHECK_OK(crypto_dh_key_generate(CRYPTO_DH_25519, NULL, NULL, pub, &good));
	CHECK_OK(crypto_dh_key_new_public(CRYPTO_DH_25519, pub, &pub_only));

	/* Wrong curve, or no private key: refused, and the state poisoned. */
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_ERR(noise_handshake_set_ephemeral_key(&pr.resp, k448), LULL_ERR_INVALID_ARG);
	CHECK_ERR(noise_handshake_set_ephemeral_key(&pr.resp, good), LULL_ERR_STATE);
	CHECK_ERR(noise_handshake_set_ephemeral_key(&pr.init, pub_only), LULL_ERR_INVALID_ARG);
	pair_free(&pr);
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_ERR(noise_handshake_set_ephemeral_key(&pr.resp, NULL), LULL_ERR_INVALID_ARG);
	/* Too late once e went out, as for raw keys. */
	write_msg(&pr.init, "");
	CHECK_ERR(noise_handshake_set_ephemeral_key(&pr.init, good), LULL_ERR_STATE);
	pair_free(&pr);

	noise_handshake hs;
	noise_handshake_params p = {
	        .protocol_name = XX_PSK3_AESGCM,
	        .role = NOISE_RESPONDER,
	        .static_key = k448,
	        .psks = pr.psk,
	        .psk_count = 1,
	};
	CHECK_ERR(noise_handshake_init(&hs, &p), LULL_ERR_INVALID_ARG);
	CHECK(hs.s_key == NULL);
	p.static_key = pub_only;
	CHECK_ERR(noise_handshake_init(&hs, &p), LULL_ERR_INVALID_ARG);
	noise_handshake_destroy(&hs);
	/* Replacing a handle before e is sent drops the old reference. */
	pair_new(&pr, XX_PSK3_AESGCM);
	CHECK_OK(noise_handshake_set_ephemeral_key(&pr.init, good));
	CHECK_OK(noise_handshake_set_ephemeral(&pr.init, pr.is.priv, pr.is.pub));
	CHECK(pr.init.e_key == NULL);
	CHECK_OK(noise_handshake_set_ephemeral_key(&pr.init, good));
	CHECK_OK(exchange(&pr.init, &pr.resp, ""));
	CHECK(memcmp(noise_handshake_remote_ephemeral(&pr.resp), pub, 32) == 0);
	pair_free(&pr);

	crypto_dh_key_free(k448);
	crypto_dh_key_free(pub_only);
	crypto_dh_key_free(good);
}

/* ---- CipherState -------------------------------------------------------- */

static void cipher_pair(crypto_aead_alg alg, noise_cipher *a, noise_cipher *b)
{
	uint8_t key[NOISE_KEY_BYTES];
	memset(key, 0x11, sizeof(key));
	noise_cipher_init_empty(a, alg);
	noise_cipher_init_empty(b, alg);
	CHECK_OK(noise_cipher_initialize_key(a, key));
	CHECK_OK(noise_cipher_initialize_key(b, key));
}

static void test_rekey(crypto_aead_alg alg)
{
	noise_cipher a, b;
	uint8_t ct1[64], ct2[64], pt[64];
	size_t ct_len, pt_len;
	const uint8_t text[] = "same plaintext";
	cipher_pair(alg, &a, &b);

	noise_cipher_set_nonce(&a, 5);
	CHECK_OK(noise_cipher_encrypt(&a, NULL, 0, text, sizeof(text), ct1, sizeof(ct1), &ct_len));
	CHECK(noise_cipher_get_nonce(&a) == 6);
	CHECK_OK(noise_cipher_rekey(&a));
	CHECK(noise_cipher_get_nonce(&a) == 6); /* Rekey keeps n */
	noise_cipher_set_nonce(&a, 5);
	CHECK_OK(noise_cipher_encrypt(&a, NULL, 0, text, sizeof(text), ct2, sizeof(ct2), &ct_len));
	CHECK(memcmp(ct1, ct2, ct_len) != 0);

	/* The peer that has not rekeyed cannot read it; after its rekey it can. */
	noise_cipher_set_nonce(&b, 5);
	CHECK_ERR(noise_cipher_decrypt(&b, NULL, 0, ct2, ct_len, pt, sizeof(pt), &pt_len),
	          LULL_ERR_DECRYPT);
	CHECK(noise_cipher_get_nonce(&b) == 5); /* failure does not consume the nonce */
	CHECK_OK(noise_cipher_rekey(&b));
	CHECK_OK(noise_cipher_decrypt(&b, NULL, 0, ct2, ct_len, pt, sizeof(pt), &pt_len));
	CHECK(pt_len == sizeof(text) && memcmp(pt, text, pt_len) == 0);

	/* Both rekey again and keep talking. */
	CHECK_OK(noise_cipher_rekey(&a));
	CHECK_OK(noise_cipher_rekey(&b));
	CHECK_OK(noise_cipher_encrypt(&a, (const uint8_t *)"ad", 2, text, sizeof(text), ct1,
	                              sizeof(ct1), &ct_len));
	CHECK_OK(noise_cipher_decrypt(&b, (const uint8_t *)"ad", 2, ct1, ct_len, pt, sizeof(pt),
	                              &pt_len));
	CHECK(pt_len == sizeof(text) && memcmp(pt, text, pt_len) == 0);
	/* Wrong AD is an authentication failure. */
	CHECK_OK(noise_cipher_encrypt(&a, (const uint8_t *)"ad", 2, text, sizeof(text), ct1,
	                              sizeof(ct1), &ct_len));
	CHECK_ERR(noise_cipher_decrypt(&b, (const uint8_t *)"AD", 2, ct1, ct_len, pt, sizeof(pt),
	                               &pt_len),
	          LULL_ERR_DECRYPT);

	noise_cipher_destroy(&a);
	noise_cipher_destroy(&b);
	/* An empty cipher has nothing to rekey. */
	CHECK_ERR(noise_cipher_rekey(&a), LULL_ERR_STATE);
}

static void test_nonce_exhaustion(void)
{
	noise_cipher a, b;
	uint8_t ct[64], pt[64];
	size_t ct_len, pt_len;
	cipher_pair(CRYPTO_AEAD_CHACHAPOLY, &a, &b);

	noise_cipher_set_nonce(&a, NOISE_NONCE_RESERVED - 1);
	CHECK_OK(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"x", 1, ct, sizeof(ct),
	                              &ct_len));
	CHECK(noise_cipher_get_nonce(&a) == NOISE_NONCE_RESERVED);
	CHECK_ERR(
	        noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"x", 1, ct, sizeof(ct), &ct_len),
	        LULL_ERR_NONCE_EXHAUSTED);

	noise_cipher_set_nonce(&b, NOISE_NONCE_RESERVED - 1);
	CHECK_OK(noise_cipher_decrypt(&b, NULL, 0, ct, ct_len, pt, sizeof(pt), &pt_len));
	CHECK_ERR(noise_cipher_decrypt(&b, NULL, 0, ct, ct_len, pt, sizeof(pt), &pt_len),
	          LULL_ERR_NONCE_EXHAUSTED);
	noise_cipher_set_nonce(&b, NOISE_NONCE_RESERVED);
	CHECK_ERR(noise_cipher_decrypt(&b, NULL, 0, ct, ct_len, pt, sizeof(pt), &pt_len),
	          LULL_ERR_NONCE_EXHAUSTED);
	noise_cipher_destroy(&a);
	noise_cipher_destroy(&b);
}

static void test_cipher_bounds(void)
{
	noise_cipher a, b;
	size_t len;
	cipher_pair(CRYPTO_AEAD_AESGCM, &a, &b);
	/* 65519 + 16 = 65535 fits, one more does not. */
	CHECK_OK(noise_cipher_encrypt(&a, NULL, 0, payload, NOISE_MAX_MESSAGE_BYTES - 16, msg,
	                              sizeof(msg), &len));
	CHECK(len == NOISE_MAX_MESSAGE_BYTES);
	CHECK_ERR(noise_cipher_encrypt(&a, NULL, 0, payload, NOISE_MAX_MESSAGE_BYTES - 15, msg,
	                               sizeof(msg), &len),
	          LULL_ERR_MSG_TOO_LARGE);
	CHECK_ERR(noise_cipher_encrypt(&a, NULL, 0, payload, 10, msg, 25, &len),
	          LULL_ERR_BUFFER_TOO_SMALL);
	CHECK_ERR(
	        noise_cipher_decrypt(&b, NULL, 0, msg, NOISE_MAX_MESSAGE_BYTES, payload, 100, &len),
	        LULL_ERR_BUFFER_TOO_SMALL);
	CHECK_ERR(noise_cipher_decrypt(&b, NULL, 0, msg, 15, payload, sizeof(payload), &len),
	          LULL_ERR_MSG_TRUNCATED);
	CHECK_ERR(noise_cipher_decrypt(&b, NULL, 0, msg, NOISE_MAX_MESSAGE_BYTES + 1, payload,
	                               sizeof(payload), &len),
	          LULL_ERR_MSG_TOO_LARGE);
	CHECK(noise_cipher_get_nonce(&b) == 0);
	CHECK_OK(noise_cipher_decrypt(&b, NULL, 0, msg, NOISE_MAX_MESSAGE_BYTES, payload,
	                              sizeof(payload), &len));

	/* Moving keeps the key in one place only. */
	noise_cipher c;
	noise_cipher_move(&c, &a);
	CHECK(!noise_cipher_has_key(&a) && noise_cipher_has_key(&c));
	CHECK(noise_cipher_get_nonce(&c) == 1);
	noise_cipher_destroy(&a);
	noise_cipher_destroy(&b);
	noise_cipher_destroy(&c);
	CHECK(!noise_cipher_has_key(&c));
}

/* ---- One-way and deferred patterns ------------------------------------- */

static void test_one_way(void)
{
	struct keypair rs;
	gen(CRYPTO_DH_448, &rs);
	noise_handshake init, resp;
	CHECK_OK(init_party(&init, "Noise_N_448_AESGCM_SHA512", NOISE_INITIATOR, NULL, rs.pub, NULL,
	                    ""));
	CHECK_OK(init_party(&resp, "Noise_N_448_AESGCM_SHA512", NOISE_RESPONDER, &rs, NULL, NULL,
	                    ""));
	CHECK(!noise_handshake_is_my_turn(&resp));
	CHECK_OK(exchange(&init, &resp, "sealed"));
	CHECK(noise_handshake_is_done(&init) && noise_handshake_is_done(&resp));
	CHECK(noise_handshake_remote_static(&init) != NULL);
	noise_handshake_destroy(&init);
	noise_handshake_destroy(&resp);
}

int main(void)
{
	test_xx_psk3_roundtrip(XX_PSK3_AESGCM);
	test_xx_psk3_roundtrip(XX_PSK3_CHACHA);
	test_xx_psk3_roundtrip("Noise_XX_448_ChaChaPoly_SHA512");
	test_wrong_psk(XX_PSK3_AESGCM);
	test_wrong_psk(XX_PSK3_CHACHA);
	test_prologue_mismatch();
	test_missing_keys();
	test_unknown_protocols();
	test_wrong_turn_and_done();
	test_set_ephemeral_too_late();
	test_sizes();
	test_truncation();
	test_tampering();
	test_low_order_ephemeral(CRYPTO_DH_25519, "Noise_XX_25519_ChaChaPoly_SHA256");
	test_low_order_ephemeral(CRYPTO_DH_448, "Noise_XX_448_ChaChaPoly_SHA256");
	test_server_dh_count();
	test_split_both_ways();
	test_handles_same_bytes();
	test_handles_server_dh_count();
	test_handles_low_order();
	test_handles_refused();
	test_rekey(CRYPTO_AEAD_AESGCM);
	test_rekey(CRYPTO_AEAD_CHACHAPOLY);
	test_nonce_exhaustion();
	test_cipher_bounds();
	test_one_way();
	return test_summary();
}
