/*
 * conn_handshake.c - the connection's handshakes, the first and every
 * rekey (client C, server S; docs/protocol.md has the bytes):
 *
 *   C -> S  HS1   version, suite, Noise e
 *   S -> C  HS2   Noise e (the interval's SRK), ee, s, es, {server policy}
 *   C -> S  HS3   Noise s, se, psk, {client policy}
 *   S -> C  KEYS  {DRK c2s | DRK s2c} under the Noise split key k2
 *
 * Invariants:
 *  - Every handshake message goes out through hs_queue_message: one header,
 *    the message's fixed prefix, one Noise message of exactly the size the
 *    wire rules give its type.
 *  - The prologue binds each handshake to the previous one's hash, so a
 *    rekey can only be completed by the holder of this connection's keys.
 *  - The Noise state lives from HS1 until Split() (hs_take_split), no
 *    longer; the split keys and the final hash live until KEYS installs the
 *    new epoch (install_keys), and are wiped then or on close.
 *  - A new epoch's keys replace the old at once, except the server's old
 *    receive key: its peer may still send under it until it has read KEYS,
 *    so it is kept as rx_prev until the client's KEY_END (or srk_lifetime).
 *  - The server reveals no more than a close reason code on a failed
 *    handshake.
 */
#include "conn.h"

#include <string.h>

#include "keysched.h"
#include "policy.h"
#include "server.h"

void conn_hs_free(lull_conn *c)
{
	if (!c->hs)
		return;
	noise_handshake_destroy(&c->hs->noise);
	crypto_secret_free(c->hs, sizeof(*c->hs));
	c->hs = NULL;
}

/*
 * Split() taken: the split keys and the final hash are all the rest of the
 * handshake needs, so the Noise state goes now (its own copy of the split
 * keys, the key handles it holds: the SRK's among them), not when KEYS
 * arrives a round trip later.
 */
static lull_err hs_take_split(lull_conn *c)
{
	conn_handshake *hs = c->hs;
	lull_err err = noise_handshake_split_raw(&hs->noise, hs->pending_k1, hs->pending_k2);
	if (err == LULL_OK)
		err = noise_handshake_get_hash(&hs->noise, hs->h, sizeof(hs->h), &hs->h_len);
	noise_handshake_destroy(&hs->noise);
	return err;
}

/* A fresh handshake state (any old one wiped first). */
static lull_err hs_alloc(lull_conn *c)
{
	conn_hs_free(c);
	c->hs = crypto_secret_alloc(sizeof(*c->hs));
	return c->hs ? LULL_OK : LULL_ERR_NOMEM;
}

static const char *conn_protocol_name(lull_suite suite)
{
	return suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
	                                              : "Noise_XXpsk3_25519_AESGCM_SHA256";
}

/* ---- Handshake ---------------------------------------------------------- */

/* prologue = "lull/1" | version | suite | len(prev h) | prev h */
static size_t build_prologue(const lull_conn *c, uint8_t version, uint8_t suite,
                             uint8_t out[CONN_PROLOGUE_MAX_BYTES])
{
	memcpy(out, "lull/1", 6);
	out[6] = version;
	out[7] = suite;
	out[8] = (uint8_t)c->prev_hash_len;
	memcpy(out + 9, c->prev_hash, c->prev_hash_len);
	return 9 + c->prev_hash_len;
}

static lull_err hs_started(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason)
{
	c->hs_reason = reason;
	c->hs_started_ms = now_ms;
	c->hs_deadline_ms = now_ms + c->cfg.srk_lifetime_ms;
	lull_event ev = {
	        .type = LULL_EV_HANDSHAKE_STARTED, .epoch = c->epoch + 1, .rekey_reason = reason};
	return conn_emit(c, &ev, now_ms) ? LULL_OK : LULL_ERR_CLOSED;
}

/*
 * The one way a handshake message is queued: a header of type for a body
 * of body_len bytes, the body's fixed prefix (HS1: version and suite), then
 * the next Noise message carrying payload, which fills the rest exactly.
 * Nothing is queued on failure.
 */
static lull_err hs_queue_message(lull_conn *c, uint8_t type, size_t body_len, const uint8_t *prefix,
                                 size_t prefix_len, const uint8_t *payload, size_t payload_len)
{
	lull_err err = conn_out_reserve(c, WIRE_HEADER_BYTES + body_len);
	if (err != LULL_OK)
		return err;
	uint8_t *frame = c->out_buf + c->out_len;
	wire_header_write(frame, type, 0, (uint16_t)body_len);
	if (prefix_len)
		memcpy(frame + WIRE_HEADER_BYTES, prefix, prefix_len);
	size_t msg_max = body_len - prefix_len, msg_len = 0;
	err = noise_handshake_write(&c->hs->noise, payload, payload_len,
	                            frame + WIRE_HEADER_BYTES + prefix_len, msg_max, &msg_len);
	if (err == LULL_OK && msg_len != msg_max)
		err = LULL_ERR_STATE;
	if (err == LULL_OK)
		c->out_len += WIRE_HEADER_BYTES + body_len;
	return err;
}

/*
 * A fresh Noise state for this connection's next handshake: role and keys
 * from p, the rest from c (protocol name, the prologue of the version and
 * suite both ends speak, the random source).  Init consumes the prologue.
 */
static lull_err hs_init_noise(lull_conn *c, noise_handshake_params *p)
{
	uint8_t prologue[CONN_PROLOGUE_MAX_BYTES];
	p->protocol_name = conn_protocol_name(c->cfg.suite);
	p->prologue = prologue;
	p->prologue_len = build_prologue(c, WIRE_VERSION, (uint8_t)c->cfg.suite, prologue);
	p->rng = &c->rng;
	lull_err err = hs_alloc(c);
	if (err == LULL_OK)
		err = noise_handshake_init(&c->hs->noise, p);
	p->prologue = NULL;
	p->prologue_len = 0;
	return err;
}

/* Client: queue HS1 and wait for HS2. */
lull_err conn_hs_begin(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason)
{
	noise_handshake_params p = {
	        .role = NOISE_INITIATOR,
	        .static_priv = c->own_key.priv,
	        .static_pub = c->own_key.pub,
	        .psks = c->psk,
	        .psk_count = 1,
	};
	lull_err err = hs_init_noise(c, &p);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	const uint8_t hello[2] = {WIRE_VERSION, (uint8_t)c->cfg.suite};
	err = hs_queue_message(c, WIRE_HS1, WIRE_HS1_BYTES, hello, sizeof(hello), NULL, 0);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	conn_set_state(c, CONN_WAIT_HS2);
	return hs_started(c, now_ms, reason);
}

/* Server: PSK of the client whose static key message 3 just revealed. */
static lull_err server_psk_lookup(void *user, const uint8_t *remote_static,
                                  uint8_t psk[NOISE_PSK_BYTES])
{
	lull_conn *c = user;
	const authorized_client *ac = server_find_client(c->srv, remote_static);
	if (!ac)
		return LULL_ERR_UNKNOWN_CLIENT;
	/* A rekey must re-authenticate the same client, not swap identities. */
	if (c->peer_known && !crypto_equal(c->peer_pub, remote_static, LULL_KEY_BYTES))
		return LULL_ERR_AUTH_FAILED;
	memcpy(psk, ac->psk, NOISE_PSK_BYTES);
	memcpy(c->peer_pub, ac->pub, LULL_KEY_BYTES);
	memcpy(c->peer_name, ac->name, sizeof(c->peer_name));
	c->peer_known = true;
	return LULL_OK;
}

static lull_err server_on_hs1(lull_conn *c, uint64_t now_ms, const uint8_t *body)
{
	if (conn_hs_running(c))
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	if (body[0] != WIRE_VERSION || body[1] != (uint8_t)c->cfg.suite)
		return conn_fail(c, now_ms, LULL_ERR_VERSION, LULL_CLOSE_VERSION);

	/* The prologue binds the version and suite just checked. */
	noise_handshake_params p = {
	        .role = NOISE_RESPONDER,
	        .static_pub = c->srv->key.pub,
	        .static_key = c->srv->static_key,
	        .psk_lookup = server_psk_lookup,
	        .psk_lookup_user = c,
	};
	lull_err err = hs_init_noise(c, &p);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	/* The handshake deadline applies from here; HS2 follows, or a close. */
	conn_set_state(c, CONN_WAIT_HS3);
	size_t payload_len = 0;
	err = noise_handshake_read(&c->hs->noise, body + 2, WIRE_HS1_MSG_BYTES, NULL, 0,
	                           &payload_len);
	/* Message 1's tag covers the prologue: on a rekey, a client that does
	 * not hold this connection's previous handshake hash fails here. */
	if (err == LULL_ERR_DECRYPT)
		return conn_auth_fail(c, now_ms, LULL_ERR_AUTH_FAILED, LULL_CLOSE_AUTH_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);

	crypto_dh_key *srk = NULL;
	err = server_answer_key(c->srv, now_ms, noise_handshake_remote_ephemeral(&c->hs->noise),
	                        &srk);
	if (err == LULL_OK)
		err = noise_handshake_set_ephemeral_key(&c->hs->noise, srk);
	crypto_dh_key_free(srk);
	if (err == LULL_ERR_REPLAY) {
		lull_event ev = {.type = LULL_EV_REPLAY_REFUSED, .err = err};
		conn_emit(c, &ev, now_ms);
		return conn_fail(c, now_ms, err, LULL_CLOSE_REPLAY);
	}
	if (err == LULL_ERR_SRK_POOL_FULL)
		return conn_fail(c, now_ms, err, LULL_CLOSE_BUSY);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);

	uint8_t policy[WIRE_POLICY_BYTES];
	policy_encode(&c->cfg, policy);
	err = hs_queue_message(c, WIRE_HS2, WIRE_HS2_BYTES, NULL, 0, policy, sizeof(policy));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	lull_rekey_reason reason =
	        c->epoch == 0 ? LULL_REKEY_NONE
	                      : policy_server_rekey_reason(&c->pol, &c->agreed, now_ms);
	return hs_started(c, now_ms, reason);
}

static lull_err client_on_hs2(lull_conn *c, uint64_t now_ms, const uint8_t *body)
{
	uint8_t policy[WIRE_POLICY_BYTES];
	size_t policy_len = 0;
	lull_err err = noise_handshake_read(&c->hs->noise, body, WIRE_HS2_BYTES, policy,
	                                    sizeof(policy), &policy_len);
	if (err == LULL_ERR_DECRYPT || err == LULL_ERR_DH_ZERO)
		return conn_auth_fail(c, now_ms, LULL_ERR_AUTH_FAILED, LULL_CLOSE_AUTH_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);
	const uint8_t *rs = noise_handshake_remote_static(&c->hs->noise);
	if (!rs || !crypto_equal(rs, c->peer_pub, LULL_KEY_BYTES))
		return conn_auth_fail(c, now_ms, LULL_ERR_SERVER_KEY_MISMATCH,
		                      LULL_CLOSE_AUTH_FAILED);
	c->peer_known = true;
	lull_config server_policy = c->cfg;
	if (policy_len != WIRE_POLICY_BYTES || policy_decode(policy, &server_policy) != LULL_OK)
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	policy_merge_stricter(&c->hs->pending_agreed, &c->cfg, &server_policy);

	policy_encode(&c->cfg, policy);
	err = hs_queue_message(c, WIRE_HS3, WIRE_HS3_BYTES, NULL, 0, policy, sizeof(policy));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	err = hs_take_split(c);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	conn_set_state(c, CONN_WAIT_KEYS);
	return LULL_OK;
}

/*
 * Both ends, once the DRKs are known: derive and install the new epoch's
 * keys, keep the old receive key only where the peer may still use it.
 */
static lull_err install_keys(lull_conn *c, uint64_t now_ms,
                             const uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES])
{
	const uint8_t *h = c->hs->h;
	size_t h_len = c->hs->h_len;
	uint8_t key_c2s[CRYPTO_AEAD_KEY_BYTES], key_s2c[CRYPTO_AEAD_KEY_BYTES];
	lull_err err = keysched_traffic_keys(conn_hash(c), h, h_len, c->hs->pending_k1,
	                                     c->hs->pending_k2, drk, key_c2s, key_s2c);
	crypto_wipe(c->hs->pending_k1, sizeof(c->hs->pending_k1));
	crypto_wipe(c->hs->pending_k2, sizeof(c->hs->pending_k2));
	if (err != LULL_OK)
		return err;

	uint32_t epoch = c->epoch + 1;
	record_key new_tx, new_rx;
	err = record_key_init(&new_tx, conn_aead(c), c->is_server ? key_s2c : key_c2s, epoch);
	if (err == LULL_OK) {
		err = record_key_init(&new_rx, conn_aead(c), c->is_server ? key_c2s : key_s2c,
		                      epoch);
		if (err != LULL_OK)
			record_key_destroy(&new_tx);
	}
	crypto_wipe(key_c2s, sizeof(key_c2s));
	crypto_wipe(key_s2c, sizeof(key_s2c));
	if (err != LULL_OK)
		return err;

	/* The server's peer may still send under the old epoch until it has
	 * read KEYS; the client's peer switched before sending KEYS. */
	record_key_destroy(&c->rx_prev);
	if (c->is_server && c->rx.live) {
		c->rx_prev = c->rx; /* its staleness: pol.rx_prev_stale */
		c->rx_prev_deadline_ms = now_ms + c->cfg.srk_lifetime_ms;
	} else {
		record_key_destroy(&c->rx);
	}
	record_key_destroy(&c->tx);
	c->tx = new_tx;
	c->rx = new_rx;
	c->epoch = epoch;
	c->agreed = c->hs->pending_agreed;
	c->rx_ended = false;
	policy_key_installed(&c->pol, now_ms);

	memcpy(c->prev_hash, h, h_len);
	c->prev_hash_len = h_len;
	conn_hs_free(c); /* wipes the hash's copy with the rest */
	conn_set_state(c, CONN_READY);

	lull_event ev = {.type = LULL_EV_HANDSHAKE_DONE,
	                 .epoch = epoch,
	                 .rekey_reason = c->hs_reason,
	                 .duration_ms = now_ms - c->hs_started_ms};
	return conn_emit(c, &ev, now_ms) ? LULL_OK : LULL_ERR_CLOSED;
}

static lull_err server_on_hs3(lull_conn *c, uint64_t now_ms, const uint8_t *body)
{
	uint8_t policy[WIRE_POLICY_BYTES];
	size_t policy_len = 0;
	lull_err err = noise_handshake_read(&c->hs->noise, body, WIRE_HS3_BYTES, policy,
	                                    sizeof(policy), &policy_len);
	if (err == LULL_ERR_UNKNOWN_CLIENT)
		return conn_auth_fail(c, now_ms, err, LULL_CLOSE_UNKNOWN_CLIENT);
	if (err == LULL_ERR_DECRYPT || err == LULL_ERR_DH_ZERO || err == LULL_ERR_AUTH_FAILED)
		return conn_auth_fail(c, now_ms, LULL_ERR_AUTH_FAILED, LULL_CLOSE_AUTH_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);
	lull_config client_policy = c->cfg;
	if (policy_len != WIRE_POLICY_BYTES || policy_decode(policy, &client_policy) != LULL_OK)
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	/* Same function of the same two announcements as the client computes. */
	policy_merge_stricter(&c->hs->pending_agreed, &client_policy, &c->cfg);

	err = hs_take_split(c);
	uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES];
	if (err == LULL_OK)
		err = crypto_rng_bytes(&c->rng, drk, sizeof(drk));
	/* On a rekey the old send key's last record goes first: the client
	 * switches only once it has seen its stream under the old key end. */
	if (err == LULL_OK && c->tx.live)
		err = conn_queue_control(c, WIRE_KEY_END, NULL, 0);
	/* KEYS travels under k2 with the new epoch, nonce 0. */
	record_key keys_key = {0};
	if (err == LULL_OK)
		err = record_key_init(&keys_key, conn_aead(c), c->hs->pending_k2, c->epoch + 1);
	if (err == LULL_OK)
		err = conn_out_reserve(c, WIRE_RECORD_OVERHEAD_BYTES + sizeof(drk));
	if (err == LULL_OK)
		err = record_seal(&keys_key, WIRE_KEYS, 0, drk, sizeof(drk),
		                  c->out_buf + c->out_len);
	record_key_destroy(&keys_key);
	if (err == LULL_OK) {
		c->out_len += WIRE_RECORD_OVERHEAD_BYTES + sizeof(drk);
		err = install_keys(c, now_ms, drk);
	}
	crypto_wipe(drk, sizeof(drk));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	return conn_flush_held(c, now_ms);
}

static lull_err client_on_keys(lull_conn *c, uint64_t now_ms, const wire_header *h,
                               const uint8_t *frame)
{
	/* On a rekey, KEYS must follow the end of the server's old key: a
	 * missing KEY_END means records under it were deleted on the way. */
	if (record_frame_epoch(frame) != c->epoch + 1 || (c->rx.live && !c->rx_ended))
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	record_key keys_key = {0};
	uint8_t drk[WIRE_KEYS_PLAINTEXT_BYTES];
	size_t drk_len = 0;
	lull_err err = record_key_init(&keys_key, conn_aead(c), c->hs->pending_k2, c->epoch + 1);
	if (err == LULL_OK)
		err = record_open(&keys_key, h, frame, drk, &drk_len);
	record_key_destroy(&keys_key);
	if (err == LULL_OK && c->tx.live)
		err = conn_queue_control(c, WIRE_KEY_END, NULL, 0);
	if (err == LULL_OK)
		err = install_keys(c, now_ms, drk);
	crypto_wipe(drk, sizeof(drk));
	if (err == LULL_ERR_DECRYPT)
		return conn_fail(c, now_ms, err, LULL_CLOSE_DECRYPT_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	return conn_flush_held(c, now_ms);
}

lull_err conn_hs_on_frame(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame)
{
	const uint8_t *body = frame + WIRE_HEADER_BYTES;
	switch (h->type) {
	case WIRE_HS1:
		if (!c->is_server)
			break;
		return server_on_hs1(c, now_ms, body);
	case WIRE_HS2:
		if (c->state != CONN_WAIT_HS2)
			break;
		return client_on_hs2(c, now_ms, body);
	case WIRE_HS3:
		if (c->state != CONN_WAIT_HS3)
			break;
		return server_on_hs3(c, now_ms, body);
	case WIRE_KEYS:
		if (c->state != CONN_WAIT_KEYS)
			break;
		return client_on_keys(c, now_ms, h, frame);
	case WIRE_HS_FAILED:
		/* Unauthenticated, so believed only before any key exists. */
		if (c->epoch != 0)
			break;
		conn_close(c, now_ms, (lull_close_reason)body[0], LULL_ERR_PEER_CLOSED, true);
		return LULL_ERR_PEER_CLOSED;
	default:
		break;
	}
	return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
}
