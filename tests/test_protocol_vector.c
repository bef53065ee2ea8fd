/*
 * test_protocol_vector.c - the worked handshake of docs/protocol.md §9,
 * checked byte for byte, so the document and the code cannot drift apart.
 *
 * Every random byte of one whole first handshake comes from a counter
 * stream (the i-th byte drawn is i mod 256), the clock stands still and both
 * ends use the default configuration.  A client and a server engine then
 * exchange HS1, HS2, HS3, KEYS and one DATA record each way, and every frame
 * must equal the published hex.
 *
 * Invariants:
 *  - The draw order is part of the vector: the test checks the sizes of the
 *    draws, in order, so a change in who draws when fails here by name
 *    rather than as a wall of differing hex.
 *  - Beyond the engine's own output, the published formulas are recomputed
 *    from the crypto layer alone: KEYS is opened with the split key k2 as
 *    §2 describes, the traffic keys follow §4 from k1, k2, h and the DRKs,
 *    and the DATA records open under them.  The Noise messages are replayed
 *    with the Noise layer alone from the §3 prologue and §6 policy bytes.
 *  - OpenSSL's generator is restored before the program exits.
 *
 * LULL_VECTOR_DUMP=1 prints every value in the wrapping the document uses,
 * for regenerating §9 after a deliberate protocol change.
 */
#include "conn.h"
#include "noise.h"
#include "policy.h"
#include "server.h"
#include "test.h"
#include "wire.h"

#define VEC_NOW_MS     1000000u /* interval 100 of the default 10 s SRK interval */
#define VEC_MAX_BYTES  256
#define VEC_MAX_DRAWS  16
#define VEC_HEX_PER_LN 64

/* ---- The published vector (docs/protocol.md §9) ------------------------ */

static const char VEC_CLIENT_STATIC_PUB[] =
        "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f";
static const char VEC_SERVER_STATIC_PUB[] =
        "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
static const char VEC_CLIENT_E_PUB[] =
        "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
static const char VEC_SRK_PUB[] =
        "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
static const char VEC_POLICY[] = "010000000000ea60000027100000000001000000000000004000000000000000"
                                 "0036ee80000000008000000000000000003763b0";

static const char VEC_HS1[] = "01000032020179a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846"
                              "ec89af85a51a9cd39d6c315d93d020c57e648f713265";
static const char VEC_HS2[] = "02000094675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958"
                              "371ea52f3e020fe82b74f2ef5b35755d68174cb65bab202b6f7503ba369fd1d4"
                              "9727f33112b7fd0aa281c6a4b0e1ed840931e8c646dacd66ce9842948f29d3c7"
                              "83ff346e8bdac38795dc0c62f0b473243becb33e7956f540307524b0906dde18"
                              "91390c49b1c1e9ad80539f1e522c13e23ac4efe40da6c006";
static const char VEC_HS3[] = "0300007432ce33dde4fa2914e1dd507779eca8bc5f616f846543c7dba781f88f"
                              "04b59776ae892139eaccd0c00377ca626ca5480b4fae1ab4ce8ed3b1ebd70290"
                              "c964def1e414c0b4f0f08bd7b263568b06c2ab792e465111189056b5be11aef8"
                              "85d6d6631725f001a04480da8ace693be3747c085a0e8de7";
static const char VEC_KEYS[] = "0400005400000001d22747023f7b8397ee5ff292a18b5fa2fcf38095f629ee82"
                               "95231c60882b656612b7527441bcead9320f5a4ffb458006ea6bb8cbff7e59e6"
                               "1829ac00691e3c4613ad0c48ab76f213500e6f6085396de3";
static const char VEC_DATA_C2S[] =
        "0500001f000000017bf6f7674696a0faf9cadbbad68748d2f52ae185836e424b"
        "701e30";
static const char VEC_DATA_S2C[] =
        "05000021000000017e3980ce2476ddf3bee77e7ffd1fa5be43c16457be25eaf8"
        "0165e8df97";

static const char VEC_H[] = "08b4b4d91e31189553d6310dd02307c271c0ba52e773568ed334f969f2513679";
static const char VEC_K1[] = "772f0b6e277d6d182b5a220bb08a01b46724b3272836f879b760771277e41a5e";
static const char VEC_K2[] = "b525955304dcc1a53c8fca93f1c7c296d64093aa9e94e14ba36dd8056f74f66d";
static const char VEC_KEY_C2S[] =
        "55e701e3ecf0308f6b9491336eb5211edfbea8086cc9bb7944075d896c53dc15";
static const char VEC_KEY_S2C[] =
        "456b49d1d8e78b005cab91e135d7daadeb66c17ed94e272f847878ff03ad19e8";

static const char MSG_C2S[] = "hello, lull";
static const char MSG_S2C[] = "hello, client";

/* ---- Deterministic randomness ----------------------------------------- */

typedef struct vec_stream {
	size_t pos;
	size_t draws[VEC_MAX_DRAWS];
	unsigned n_draws;
} vec_stream;

/* The i-th byte ever drawn is i mod 256; every draw's size is logged. */
static lull_err vec_random(void *ctx, uint8_t *buf, size_t len)
{
	vec_stream *s = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(s->pos + i);
	s->pos += len;
	if (s->n_draws < VEC_MAX_DRAWS)
		s->draws[s->n_draws] = len;
	s->n_draws++;
	return LULL_OK;
}

/* Bytes [from, from + len) of the stream. */
static void vec_stream_bytes(size_t from, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(from + i);
}

/* ---- Checking ---------------------------------------------------------- */

static void dump_wrapped(const char *name, const uint8_t *p, size_t len)
{
	printf("%s (%zu bytes):\n", name, len);
	for (size_t i = 0; i < len; i++) {
		printf("%02x", p[i]);
		if ((i + 1) % (VEC_HEX_PER_LN / 2) == 0 || i + 1 == len)
			putchar('\n');
	}
}

/* got must be exactly the bytes of want_hex; name says which on failure. */
static void check_vec(const char *name, const uint8_t *got, size_t got_len, const char *want_hex)
{
	uint8_t want[VEC_MAX_BYTES];
	size_t want_len = test_unhex(want_hex, want, sizeof(want));
	if (getenv("LULL_VECTOR_DUMP"))
		dump_wrapped(name, got, got_len);
	CHECK(got_len == want_len);
	size_t n = got_len < want_len ? got_len : want_len;
	if (got_len != want_len || memcmp(got, want, n) != 0)
		fprintf(stderr, "vector mismatch: %s (%zu bytes, want %zu)\n", name, got_len,
		        want_len);
	CHECK_MEM(got, want, n);
}

/* ---- The engines ------------------------------------------------------- */

typedef struct vec_side {
	lull_conn *conn;
	uint8_t msg[VEC_MAX_BYTES];
	size_t msg_len;
	unsigned n_messages;
} vec_side;

static void vec_on_message(void *user, const uint8_t *msg, size_t len)
{
	vec_side *s = user;
	s->n_messages++;
	s->msg_len = len < sizeof(s->msg) ? len : sizeof(s->msg);
	memcpy(s->msg, msg, s->msg_len);
}

/* Take everything from's engine queued: exactly one frame is expected. */
static size_t take_frame(vec_side *from, uint8_t out[VEC_MAX_BYTES])
{
	const uint8_t *bytes;
	size_t n = lull_conn_output(from->conn, &bytes);
	CHECK(n > 0 && n <= VEC_MAX_BYTES);
	if (n > VEC_MAX_BYTES)
		n = VEC_MAX_BYTES;
	if (n)
		memcpy(out, bytes, n);
	lull_conn_output_consume(from->conn, n);
	CHECK(n >= WIRE_HEADER_BYTES && n == WIRE_HEADER_BYTES + (size_t)wire_get_u16(out + 2));
	return n;
}

/* What the engines said, kept for the independent recomputation. */
typedef struct vec_capture {
	uint8_t frame[6][VEC_MAX_BYTES];
	size_t frame_len[6];
	uint8_t h[CRYPTO_HASH_MAX_BYTES];
	size_t h_len;
	uint8_t k1[CRYPTO_AEAD_KEY_BYTES], k2[CRYPTO_AEAD_KEY_BYTES];
	uint8_t client_tx[CRYPTO_AEAD_KEY_BYTES], client_rx[CRYPTO_AEAD_KEY_BYTES];
	uint8_t server_tx[CRYPTO_AEAD_KEY_BYTES], server_rx[CRYPTO_AEAD_KEY_BYTES];
	lull_keypair client_key, server_key;
	uint8_t psk[LULL_KEY_BYTES];
} vec_capture;

enum { F_HS1, F_HS2, F_HS3, F_KEYS, F_DATA_C2S, F_DATA_S2C };

static void run_engines(vec_capture *cap)
{
	vec_stream stream = {0};

	/* Draws 1 and 2: the static keys (a private key is 32 random bytes,
	 * as lull_keypair_generate draws them). */
	uint8_t priv[LULL_KEY_BYTES];
	CHECK_OK(vec_random(&stream, priv, sizeof(priv)));
	CHECK_OK(lull_keypair_from_private(&cap->client_key, priv));
	CHECK_OK(vec_random(&stream, priv, sizeof(priv)));
	CHECK_OK(lull_keypair_from_private(&cap->server_key, priv));
	crypto_wipe(priv, sizeof(priv));
	memset(cap->psk, 0x42, sizeof(cap->psk));

	lull_config cfg;
	lull_config_default(&cfg);
	lull_server *srv = NULL;
	CHECK_OK(lull_server_new(&srv, &cfg, &cap->server_key, NULL, NULL));
	/* Every later draw comes through the objects, in protocol order. */
	lull_server_set_random(srv, vec_random, &stream);
	CHECK_OK(lull_server_authorize(srv, cap->client_key.pub, "alice", cap->psk));
	vec_side client = {0}, server = {0};
	lull_callbacks ccb = {vec_on_message, NULL, &client};
	lull_callbacks scb = {vec_on_message, NULL, &server};
	CHECK_OK(lull_conn_new_client(&client.conn, &cfg, &cap->client_key, cap->server_key.pub,
	                              cap->psk, &ccb));
	CHECK_OK(lull_conn_new_server(&server.conn, srv, &scb));
	if (!srv || !client.conn || !server.conn) {
		fprintf(stderr, "vector: setup failed\n");
		exit(1);
	}
	CHECK_OK(lull_conn_set_random(client.conn, vec_random, &stream));

	/* Draw 3: the client's ephemeral. */
	CHECK_OK(lull_conn_start(server.conn, VEC_NOW_MS));
	CHECK_OK(lull_conn_start(client.conn, VEC_NOW_MS));
	cap->frame_len[F_HS1] = take_frame(&client, cap->frame[F_HS1]);

	/* Draws 4 and 5: the interval's SRK, then its replay-set seed. */
	CHECK_OK(lull_conn_receive(server.conn, VEC_NOW_MS, cap->frame[F_HS1],
	                           cap->frame_len[F_HS1]));
	cap->frame_len[F_HS2] = take_frame(&server, cap->frame[F_HS2]);

	CHECK_OK(lull_conn_receive(client.conn, VEC_NOW_MS, cap->frame[F_HS2],
	                           cap->frame_len[F_HS2]));
	cap->frame_len[F_HS3] = take_frame(&client, cap->frame[F_HS3]);
	/* Between HS3 and KEYS the client holds the split keys and the final
	 * handshake hash: the inputs of §4, saved for the recomputation. */
	memcpy(cap->k1, client.conn->hs->pending_k1, sizeof(cap->k1));
	memcpy(cap->k2, client.conn->hs->pending_k2, sizeof(cap->k2));
	cap->h_len = client.conn->hs->h_len;
	memcpy(cap->h, client.conn->hs->h, cap->h_len);

	/* Draw 6: the two DRKs, after HS3 has verified. */
	CHECK_OK(lull_conn_receive(server.conn, VEC_NOW_MS, cap->frame[F_HS3],
	                           cap->frame_len[F_HS3]));
	cap->frame_len[F_KEYS] = take_frame(&server, cap->frame[F_KEYS]);
	CHECK_OK(lull_conn_receive(client.conn, VEC_NOW_MS, cap->frame[F_KEYS],
	                           cap->frame_len[F_KEYS]));
	CHECK(lull_conn_is_ready(client.conn) && lull_conn_is_ready(server.conn));
	CHECK(lull_conn_epoch(client.conn) == 1 && lull_conn_epoch(server.conn) == 1);

	CHECK_OK(
	        lull_conn_send(client.conn, VEC_NOW_MS, (const uint8_t *)MSG_C2S, strlen(MSG_C2S)));
	cap->frame_len[F_DATA_C2S] = take_frame(&client, cap->frame[F_DATA_C2S]);
	CHECK_OK(lull_conn_receive(server.conn, VEC_NOW_MS, cap->frame[F_DATA_C2S],
	                           cap->frame_len[F_DATA_C2S]));
	CHECK(server.n_messages == 1 && server.msg_len == strlen(MSG_C2S) &&
	      memcmp(server.msg, MSG_C2S, strlen(MSG_C2S)) == 0);

	CHECK_OK(
	        lull_conn_send(server.conn, VEC_NOW_MS, (const uint8_t *)MSG_S2C, strlen(MSG_S2C)));
	cap->frame_len[F_DATA_S2C] = take_frame(&server, cap->frame[F_DATA_S2C]);
	CHECK_OK(lull_conn_receive(client.conn, VEC_NOW_MS, cap->frame[F_DATA_S2C],
	                           cap->frame_len[F_DATA_S2C]));
	CHECK(client.n_messages == 1 && client.msg_len == strlen(MSG_S2C) &&
	      memcmp(client.msg, MSG_S2C, strlen(MSG_S2C)) == 0);

	memcpy(cap->client_tx, client.conn->tx.key, sizeof(cap->client_tx));
	memcpy(cap->client_rx, client.conn->rx.key, sizeof(cap->client_rx));
	memcpy(cap->server_tx, server.conn->tx.key, sizeof(cap->server_tx));
	memcpy(cap->server_rx, server.conn->rx.key, sizeof(cap->server_rx));
	CHECK(client.conn->tx.epoch == 1 && server.conn->tx.epoch == 1);

	/* The draw order of docs/protocol.md §9: client static, server static,
	 * client ephemeral, SRK, replay-set seed, DRK c2s | DRK s2c. */
	static const size_t want_draws[] = {32, 32, 32, 32, SRK_REPLAY_SEED_BYTES, 64};
	CHECK(stream.n_draws == sizeof(want_draws) / sizeof(want_draws[0]));
	CHECK(stream.pos == 208);
	for (unsigned i = 0; i < stream.n_draws && i < VEC_MAX_DRAWS; i++) {
		if (i >= sizeof(want_draws) / sizeof(want_draws[0]) ||
		    stream.draws[i] != want_draws[i]) {
			fprintf(stderr, "vector: draw %u took %zu bytes\n", i + 1, stream.draws[i]);
			CHECK(0);
		}
	}

	lull_conn_free(client.conn);
	lull_conn_free(server.conn);
	lull_server_free(srv);
}

/* ---- The published bytes ---------------------------------------------- */

static void check_frames(const vec_capture *cap)
{
	/* Plausibility against the table of §1 before the bytes themselves. */
	static const struct {
		uint8_t type;
		size_t body;
	} shape[6] = {
	        {WIRE_HS1, 50},  {WIRE_HS2, 148},      {WIRE_HS3, 116},
	        {WIRE_KEYS, 84}, {WIRE_DATA, 20 + 11}, {WIRE_DATA, 20 + 13},
	};
	for (int i = 0; i < 6; i++) {
		CHECK(cap->frame_len[i] == WIRE_HEADER_BYTES + shape[i].body);
		CHECK(cap->frame[i][0] == shape[i].type && cap->frame[i][1] == 0);
	}
	CHECK(cap->frame[F_HS1][4] == WIRE_VERSION && cap->frame[F_HS1][5] == 1);
	for (int i = F_KEYS; i <= F_DATA_S2C; i++)
		CHECK(record_frame_epoch(cap->frame[i]) == 1);

	check_vec("client static pub", cap->client_key.pub, LULL_KEY_BYTES, VEC_CLIENT_STATIC_PUB);
	check_vec("server static pub", cap->server_key.pub, LULL_KEY_BYTES, VEC_SERVER_STATIC_PUB);
	check_vec("HS1", cap->frame[F_HS1], cap->frame_len[F_HS1], VEC_HS1);
	check_vec("HS2", cap->frame[F_HS2], cap->frame_len[F_HS2], VEC_HS2);
	check_vec("HS3", cap->frame[F_HS3], cap->frame_len[F_HS3], VEC_HS3);
	check_vec("KEYS", cap->frame[F_KEYS], cap->frame_len[F_KEYS], VEC_KEYS);
	check_vec("DATA c2s", cap->frame[F_DATA_C2S], cap->frame_len[F_DATA_C2S], VEC_DATA_C2S);
	check_vec("DATA s2c", cap->frame[F_DATA_S2C], cap->frame_len[F_DATA_S2C], VEC_DATA_S2C);
	check_vec("h", cap->h, cap->h_len, VEC_H);
	check_vec("k1", cap->k1, sizeof(cap->k1), VEC_K1);
	check_vec("k2", cap->k2, sizeof(cap->k2), VEC_K2);
	check_vec("key_c2s", cap->client_tx, sizeof(cap->client_tx), VEC_KEY_C2S);
	check_vec("key_s2c", cap->client_rx, sizeof(cap->client_rx), VEC_KEY_S2C);
	/* Each direction's key is the same at both ends. */
	CHECK_MEM(cap->server_rx, cap->client_tx, sizeof(cap->client_tx));
	CHECK_MEM(cap->server_tx, cap->client_rx, sizeof(cap->client_rx));
}

/* ---- The documented formulas, recomputed without the engine ------------ */

/* Open a record frame as §2 says: ad = header | epoch, nonce = seq. */
static lull_err open_record(const uint8_t key[CRYPTO_AEAD_KEY_BYTES], uint64_t seq,
                            const uint8_t *frame, size_t frame_len, uint8_t *out)
{
	crypto_aead a = {0};
	size_t head = WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES;
	/* A frame the engine never produced must fail here, not underflow. */
	if (frame_len < head + CRYPTO_AEAD_TAG_BYTES)
		return LULL_ERR_DECRYPT;
	lull_err err = crypto_aead_init(&a, CRYPTO_AEAD_AESGCM, key);
	if (err == LULL_OK)
		err = crypto_aead_open(&a, seq, frame, head, frame + head, frame_len - head, out);
	crypto_aead_free(&a);
	return err;
}

/* §4: HKDF(ck = h, ikm = label | split key | DRK).output1[0..32). */
static void derive(const uint8_t *h, const char *label, const uint8_t *split_key,
                   const uint8_t *drk, uint8_t out[CRYPTO_AEAD_KEY_BYTES])
{
	uint8_t ikm[10 + 32 + 32];
	uint8_t o1[CRYPTO_HASH_MAX_BYTES], o2[CRYPTO_HASH_MAX_BYTES];
	CHECK(strlen(label) == 10);
	memcpy(ikm, label, 10);
	memcpy(ikm + 10, split_key, 32);
	memcpy(ikm + 42, drk, 32);
	CHECK_OK(crypto_hkdf(CRYPTO_HASH_SHA256, h, ikm, sizeof(ikm), 2, o1, o2, NULL));
	memcpy(out, o1, CRYPTO_AEAD_KEY_BYTES);
}

static void check_key_schedule(const vec_capture *cap)
{
	/* KEYS is a record under k2, epoch 1, seq 0, carrying stream bytes
	 * 144..207: the sixth draw. */
	uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES], want_drk[WIRE_KEYS_PLAINTEXT_BYTES];
	CHECK_OK(open_record(cap->k2, 0, cap->frame[F_KEYS], cap->frame_len[F_KEYS], drk));
	vec_stream_bytes(144, want_drk, sizeof(want_drk));
	CHECK_MEM(drk, want_drk, sizeof(drk));

	uint8_t key_c2s[CRYPTO_AEAD_KEY_BYTES], key_s2c[CRYPTO_AEAD_KEY_BYTES];
	CHECK(cap->h_len == 32);
	derive(cap->h, "lull/1 c2s", cap->k1, drk, key_c2s);
	derive(cap->h, "lull/1 s2c", cap->k2, drk + WIRE_DRK_BYTES, key_s2c);
	CHECK_MEM(key_c2s, cap->client_tx, sizeof(key_c2s));
	CHECK_MEM(key_s2c, cap->client_rx, sizeof(key_s2c));

	/* The first record under each traffic key has seq 0 (KEYS used k2). */
	uint8_t pt[VEC_MAX_BYTES] = {0};
	CHECK_OK(open_record(key_c2s, 0, cap->frame[F_DATA_C2S], cap->frame_len[F_DATA_C2S], pt));
	CHECK(memcmp(pt, MSG_C2S, strlen(MSG_C2S)) == 0);
	CHECK_OK(open_record(key_s2c, 0, cap->frame[F_DATA_S2C], cap->frame_len[F_DATA_S2C], pt));
	CHECK(memcmp(pt, MSG_S2C, strlen(MSG_S2C)) == 0);
}

/* §3 and §6: the Noise messages from the documented prologue and policy,
 * with the Noise layer alone and the ephemerals fixed to draws 3 and 4. */
static void check_noise_replay(const vec_capture *cap)
{
	static const uint8_t prologue[] = {'l', 'u', 'l', 'l', '/', '1', WIRE_VERSION, 1, 0};
	uint8_t policy[WIRE_POLICY_BYTES], e_priv[32], e_pub[32], srk_priv[32], srk_pub[32];
	CHECK(test_unhex(VEC_POLICY, policy, sizeof(policy)) == sizeof(policy));
	lull_config cfg;
	lull_config_default(&cfg);
	uint8_t encoded[WIRE_POLICY_BYTES];
	policy_encode(&cfg, encoded);
	check_vec("default policy", encoded, sizeof(encoded), VEC_POLICY);

	vec_stream_bytes(64, e_priv, sizeof(e_priv));
	vec_stream_bytes(96, srk_priv, sizeof(srk_priv));
	CHECK_OK(crypto_dh_public(CRYPTO_DH_25519, e_priv, e_pub));
	CHECK_OK(crypto_dh_public(CRYPTO_DH_25519, srk_priv, srk_pub));
	check_vec("client ephemeral pub", e_pub, sizeof(e_pub), VEC_CLIENT_E_PUB);
	check_vec("SRK pub", srk_pub, sizeof(srk_pub), VEC_SRK_PUB);

	noise_handshake i = {0}, r = {0};
	noise_handshake_params ip = {
	        .protocol_name = "Noise_XXpsk3_25519_AESGCM_SHA256",
	        .role = NOISE_INITIATOR,
	        .prologue = prologue,
	        .prologue_len = sizeof(prologue),
	        .static_priv = cap->client_key.priv,
	        .static_pub = cap->client_key.pub,
	        .psks = cap->psk,
	        .psk_count = 1,
	};
	noise_handshake_params rp = ip;
	rp.role = NOISE_RESPONDER;
	rp.static_priv = cap->server_key.priv;
	rp.static_pub = cap->server_key.pub;
	CHECK_OK(noise_handshake_init(&i, &ip));
	CHECK_OK(noise_handshake_init(&r, &rp));
	CHECK_OK(noise_handshake_set_ephemeral(&i, e_priv, e_pub));
	CHECK_OK(noise_handshake_set_ephemeral(&r, srk_priv, srk_pub));

	uint8_t msg[VEC_MAX_BYTES], pl[VEC_MAX_BYTES];
	size_t len = 0, pl_len = 0;
	CHECK_OK(noise_handshake_write(&i, NULL, 0, msg, sizeof(msg), &len));
	CHECK(len == WIRE_HS1_MSG_BYTES && memcmp(msg, cap->frame[F_HS1] + 6, len) == 0);
	CHECK_OK(noise_handshake_read(&r, msg, len, pl, sizeof(pl), &pl_len));
	CHECK_OK(noise_handshake_write(&r, policy, sizeof(policy), msg, sizeof(msg), &len));
	CHECK(len == WIRE_HS2_BYTES && memcmp(msg, cap->frame[F_HS2] + 4, len) == 0);
	CHECK_OK(noise_handshake_read(&i, msg, len, pl, sizeof(pl), &pl_len));
	CHECK_OK(noise_handshake_write(&i, policy, sizeof(policy), msg, sizeof(msg), &len));
	CHECK(len == WIRE_HS3_BYTES && memcmp(msg, cap->frame[F_HS3] + 4, len) == 0);
	CHECK_OK(noise_handshake_read(&r, msg, len, pl, sizeof(pl), &pl_len));
	CHECK(pl_len == sizeof(policy) && memcmp(pl, policy, sizeof(policy)) == 0);

	uint8_t h[CRYPTO_HASH_MAX_BYTES], k1[32], k2[32];
	size_t h_len = 0;
	CHECK_OK(noise_handshake_get_hash(&r, h, sizeof(h), &h_len));
	CHECK(h_len == cap->h_len);
	CHECK_MEM(h, cap->h, cap->h_len);
	CHECK_OK(noise_handshake_split_raw(&r, k1, k2));
	CHECK_MEM(k1, cap->k1, sizeof(k1));
	CHECK_MEM(k2, cap->k2, sizeof(k2));
	noise_handshake_destroy(&i);
	noise_handshake_destroy(&r);
}

int main(void)
{
	static vec_capture cap;
	run_engines(&cap);
	check_frames(&cap);
	check_key_schedule(&cap);
	check_noise_replay(&cap);
	return test_summary();
}
