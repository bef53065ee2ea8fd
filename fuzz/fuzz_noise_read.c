/*
 * fuzz_noise_read.c - the Noise handshake reader (noise_handshake_read) on
 * arbitrary messages, at every message position of XXpsk3 (lull's pattern,
 * both suites) and of a few others that exercise other tokens: pre-messages
 * (IK, KK, NK), deferred DH (X1K1), psk0/psk2, X448 and SHA512.
 *
 * Input: data[0] picks the protocol, data[1] the message position and how
 * the message is made: the rest of the input as it is, or the honest
 * message with the input XORed over it (so the fuzzer reaches the later
 * tokens of a message, past the ones a random message fails).
 *
 * Checks: the honest handshake up to that position succeeds; the read
 * either succeeds - then its payload fits the cap and the message, and the
 * untampered honest message yields the honest payload - or fails with a
 * named error and poisons the state: every later read or write returns
 * LULL_ERR_STATE and the remote keys are no longer reported.
 */
#include "fuzz_util.h"
#include "noise.h"

typedef struct proto {
	const char *name;
	unsigned psk_count;
} proto;

static const proto protos[] = {
        {"Noise_XXpsk3_25519_AESGCM_SHA256", 1},     {"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", 1},
        {"Noise_NN_25519_ChaChaPoly_SHA256", 0},     {"Noise_XX_448_AESGCM_SHA512", 0},
        {"Noise_IK_25519_ChaChaPoly_BLAKE2s", 0},    {"Noise_KK_25519_AESGCM_SHA256", 0},
        {"Noise_NKpsk0_25519_ChaChaPoly_SHA256", 1}, {"Noise_X1K1_25519_AESGCM_BLAKE2b", 0},
        {"Noise_IXpsk2_25519_ChaChaPoly_SHA512", 1},
};
#define N_PROTOS (sizeof(protos) / sizeof(protos[0]))

#define MSG_CAP 1024

typedef struct party {
	uint8_t priv[NOISE_MAX_DH_BYTES], pub[NOISE_MAX_DH_BYTES];
} party;

static void make_party(party *p, crypto_dh_alg alg, uint8_t tag)
{
	size_t n = crypto_dh_len(alg);
	for (size_t i = 0; i < n; i++)
		p->priv[i] = (uint8_t)(tag * 37 + i);
	FUZZ_CHECK(crypto_dh_public(alg, p->priv, p->pub) == LULL_OK);
}

static void init_side(noise_handshake *hs, const proto *pr, noise_role role, const party *self,
                      const party *peer)
{
	static const uint8_t prologue[] = "lull-fuzz";
	uint8_t psk[NOISE_PSK_BYTES];
	memset(psk, 0x42, sizeof(psk));
	noise_handshake_params p = {
	        .protocol_name = pr->name,
	        .role = role,
	        .prologue = prologue,
	        .prologue_len = sizeof(prologue) - 1,
	        .static_priv = self->priv,
	        .static_pub = self->pub,
	        .remote_static = peer->pub,
	        .psks = pr->psk_count ? psk : NULL,
	        .psk_count = pr->psk_count,
	        .rng = fuzz_random_rng(),
	};
	FUZZ_CHECK(noise_handshake_init(hs, &p) == LULL_OK);
}

static void check_poisoned(noise_handshake *hs)
{
	uint8_t buf[MSG_CAP];
	size_t len = 0;
	FUZZ_CHECK(noise_handshake_read(hs, buf, 64, buf + 512, 256, &len) == LULL_ERR_STATE);
	FUZZ_CHECK(noise_handshake_write(hs, NULL, 0, buf, sizeof(buf), &len) == LULL_ERR_STATE);
	FUZZ_CHECK(!noise_handshake_is_done(hs));
	FUZZ_CHECK(!noise_handshake_is_my_turn(hs));
	FUZZ_CHECK(noise_handshake_remote_static(hs) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	fuzz_random_reset(data[0] * 131u + data[1]);
	const proto *pr = &protos[data[0] % N_PROTOS];
	bool xor_mode = data[1] & 0x80;
	unsigned position = data[1] & 3;
	const uint8_t *in = data + 2;
	size_t in_len = size - 2;
	bool is_448 = strstr(pr->name, "_448_") != NULL;
	crypto_dh_alg alg = is_448 ? CRYPTO_DH_448 : CRYPTO_DH_25519;

	party ip, rp;
	make_party(&ip, alg, 1);
	make_party(&rp, alg, 2);
	noise_handshake hs[2];
	init_side(&hs[0], pr, NOISE_INITIATOR, &ip, &rp);
	init_side(&hs[1], pr, NOISE_RESPONDER, &rp, &ip);

	uint8_t msg[MSG_CAP], payload[MSG_CAP], honest_payload[32];
	int writer = 0;
	for (unsigned i = 0;; i++, writer = 1 - writer) {
		FUZZ_CHECK(noise_handshake_is_my_turn(&hs[writer]));
		FUZZ_CHECK(!noise_handshake_is_my_turn(&hs[1 - writer]));
		for (size_t j = 0; j < sizeof(honest_payload); j++)
			honest_payload[j] = (uint8_t)(i * 16 + j);
		size_t msg_len = 0, payload_len = 0;
		FUZZ_CHECK(noise_handshake_write(&hs[writer], honest_payload,
		                                 (i & 1) ? sizeof(honest_payload) : 0, msg,
		                                 sizeof(msg), &msg_len) == LULL_OK);
		if (i < position && !noise_handshake_is_done(&hs[writer])) {
			FUZZ_CHECK(noise_handshake_read(&hs[1 - writer], msg, msg_len, payload,
			                                sizeof(payload), &payload_len) == LULL_OK);
			FUZZ_CHECK(payload_len == ((i & 1) ? sizeof(honest_payload) : 0));
			continue;
		}
		/* The message under attack: an exact-size copy for ASan. */
		bool tampered = false;
		size_t len = xor_mode ? msg_len : in_len;
		if (len > NOISE_MAX_MESSAGE_BYTES)
			len = NOISE_MAX_MESSAGE_BYTES;
		uint8_t *m = malloc(len ? len : 1);
		FUZZ_CHECK(m);
		if (xor_mode) {
			memcpy(m, msg, len);
			for (size_t j = 0; j < len && j < in_len; j++) {
				m[j] ^= in[j];
				tampered |= in[j] != 0;
			}
		} else {
			if (len)
				memcpy(m, in, len);
			tampered = len != msg_len || (len && memcmp(m, msg, len) != 0);
		}
		/* A small payload cap too, from the input: BUFFER_TOO_SMALL paths. */
		size_t cap = (in_len && (in[0] & 1)) ? in[0] % 40 : sizeof(payload);
		noise_handshake *rd = &hs[1 - writer];
		lull_err err = noise_handshake_read(rd, m, len, payload, cap, &payload_len);
		if (err == LULL_OK) {
			FUZZ_CHECK(payload_len <= cap && payload_len <= len);
			if (!tampered) {
				FUZZ_CHECK(payload_len == ((i & 1) ? sizeof(honest_payload) : 0));
				FUZZ_CHECK(memcmp(payload, honest_payload, payload_len) == 0);
			}
			if (noise_handshake_is_done(rd)) {
				noise_cipher c1, c2;
				FUZZ_CHECK(noise_handshake_split(rd, &c1, &c2) == LULL_OK);
				noise_cipher_destroy(&c1);
				noise_cipher_destroy(&c2);
			} else {
				FUZZ_CHECK(noise_handshake_is_my_turn(rd));
			}
		} else {
			/* The honest message fails only for want of payload room. */
			FUZZ_CHECK(tampered || err == LULL_ERR_BUFFER_TOO_SMALL);
			FUZZ_CHECK(!tampered || err == LULL_ERR_DECRYPT ||
			           err == LULL_ERR_MSG_TRUNCATED || err == LULL_ERR_DH_ZERO ||
			           err == LULL_ERR_BUFFER_TOO_SMALL ||
			           err == LULL_ERR_MSG_TOO_LARGE);
			FUZZ_CHECK(err != LULL_ERR_STATE);
			check_poisoned(rd);
		}
		free(m);
		break;
	}
	noise_handshake_destroy(&hs[0]);
	noise_handshake_destroy(&hs[1]);
	return 0;
}
