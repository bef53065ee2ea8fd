/*
 * conn.c - one lull connection: handshakes, records, fragmentation, close.
 * Sans-I/O: it is fed bytes and now_ms, and hands back bytes to write,
 * messages and events through callbacks, and its next deadline.
 *
 * Handshake (client C, server S; docs/protocol.md has the bytes):
 *
 *   C -> S  HS1   version, suite, Noise e
 *   S -> C  HS2   Noise e (the interval's SRK), ee, s, es, {server policy}
 *   C -> S  HS3   Noise s, se, psk, {client policy}
 *   S -> C  KEYS  {DRK c2s | DRK s2c} under the Noise split key k2
 *
 * Invariants:
 *  - A record is accepted only under the epoch it claims, with the key of
 *    that epoch; there is at most one previous receive key (kept across a
 *    rekey until the peer's first record under the new epoch, and never past
 *    srk_lifetime), and every retired key is wiped at once.
 *  - Nothing is buffered beyond what the wire rules allow: one partial frame
 *    (<= WIRE_FRAME_MAX_BYTES), one message in reassembly (<= max_message),
 *    messages held for keys and output bounded by LULL_SEND_BUFFER_BYTES
 *    (one message is always accepted when both are empty).
 *  - Between calls a connection holds its keys and its state, nothing
 *    else: input and output memory is freed as soon as it is empty,
 *    plaintext is opened into a stack buffer wiped before lull_conn_receive
 *    returns, the Noise state exists only while a handshake runs, and the
 *    cipher contexts (record.h: a cache of the 32-byte keys) are given back
 *    before every call returns.  Rebuilding one costs ~0.25 us, less than
 *    the read or write that comes with each call; keeping them would cost
 *    2.3 KiB per idle connection, and keeping them "while busy" raises the
 *    heap's high-water mark by that much per connection in a burst.
 *  - After a fatal error the connection is closed: it queued one close frame,
 *    reported LULL_EV_CLOSED once, wiped every key, and accepts nothing more.
 *  - The server reveals no more than a close reason code on a failed
 *    handshake.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keysched.h"
#include "policy.h"
#include "server.h"

/* ---- Buffers ------------------------------------------------------------ */

static lull_err out_reserve(lull_conn *c, size_t n)
{
	if (c->out_cap - c->out_len >= n)
		return LULL_OK;
	if (c->out_off > 0) {
		memmove(c->out_buf, c->out_buf + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= n)
			return LULL_OK;
	}
	size_t cap = c->out_cap ? c->out_cap : CONN_OUTPUT_INITIAL_BYTES;
	while (cap - c->out_len < n)
		cap *= 2;
	uint8_t *grown = realloc(c->out_buf, cap);
	if (!grown)
		return LULL_ERR_NOMEM;
	c->out_buf = grown;
	c->out_cap = cap;
	return LULL_OK;
}

static void out_free(lull_conn *c)
{
	free(c->out_buf);
	c->out_buf = NULL;
	c->out_cap = c->out_len = c->out_off = 0;
}

size_t lull_conn_output(lull_conn *c, const uint8_t **bytes)
{
	*bytes = c->out_buf ? c->out_buf + c->out_off : NULL;
	return c->out_len - c->out_off;
}

void lull_conn_output_consume(lull_conn *c, size_t n)
{
	size_t pending = c->out_len - c->out_off;
	c->out_off += n < pending ? n : pending;
	if (c->out_off == c->out_len)
		out_free(c);
}

size_t lull_conn_output_pending(const lull_conn *c)
{
	return c->out_len - c->out_off;
}

/* The end of every call that may have built a cipher context. */
static void conn_release_contexts(lull_conn *c)
{
	record_key_release(&c->tx);
	record_key_release(&c->rx);
	record_key_release(&c->rx_prev);
}

/* ---- Events ------------------------------------------------------------- */

/*
 * Report an event.  The callback may close the connection (lull.h), so the
 * answer is whether it is still open: a caller with more to do stops with
 * LULL_ERR_CLOSED when it is not.
 */
static bool conn_emit(lull_conn *c, lull_event *ev, uint64_t now_ms)
{
	ev->now_ms = now_ms;
	if (!ev->epoch)
		ev->epoch = c->epoch;
	if (c->peer_known) {
		ev->peer_pub = c->peer_pub;
		ev->peer_name = c->peer_name[0] ? c->peer_name : NULL;
	}
	if (c->cb.on_event)
		c->cb.on_event(c->cb.user, ev);
	return !c->closed;
}

/* ---- Keys --------------------------------------------------------------- */

static void held_free_all(lull_conn *c)
{
	while (c->held_head) {
		conn_held_msg *m = c->held_head;
		c->held_head = m->next;
		crypto_wipe(m->data, m->len);
		free(m);
	}
	c->held_tail = NULL;
	c->held_bytes = 0;
}

static void hs_free(lull_conn *c)
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
	hs_free(c);
	c->hs = crypto_secret_alloc(sizeof(*c->hs));
	return c->hs ? LULL_OK : LULL_ERR_NOMEM;
}

static void conn_wipe_secrets(lull_conn *c)
{
	hs_free(c);
	c->hs_active = false;
	record_key_destroy(&c->tx);
	record_key_destroy(&c->rx);
	record_key_destroy(&c->rx_prev);
	crypto_wipe(&c->own_key, sizeof(c->own_key));
	crypto_wipe(c->psk, sizeof(c->psk));
	if (c->msg_buf)
		crypto_wipe(c->msg_buf, c->msg_len);
	if (c->in_buf)
		crypto_wipe(c->in_buf, c->in_len);
	free(c->msg_buf);
	free(c->in_buf);
	c->msg_buf = c->in_buf = NULL;
	c->msg_len = c->msg_cap = c->in_len = 0;
	held_free_all(c);
}

static crypto_aead_alg conn_aead(const lull_conn *c)
{
	return c->cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? CRYPTO_AEAD_CHACHAPOLY
	                                                     : CRYPTO_AEAD_AESGCM;
}

static crypto_hash_alg conn_hash(const lull_conn *c)
{
	return c->cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? CRYPTO_HASH_BLAKE2B
	                                                     : CRYPTO_HASH_SHA256;
}

static const char *conn_protocol_name(lull_suite suite)
{
	return suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
	                                              : "Noise_XXpsk3_25519_AESGCM_SHA256";
}

/* ---- Close -------------------------------------------------------------- */

/* Queue one control record (heartbeat, ack, rekey request, close) under the
 * current send key, stale or not: only data is bound by staleness. */
static lull_err queue_control(lull_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
	lull_err err = out_reserve(c, WIRE_RECORD_OVERHEAD_BYTES + len);
	if (err == LULL_OK)
		err = record_seal(&c->tx, type, 0, body, len, c->out_buf + c->out_len);
	if (err == LULL_OK)
		c->out_len += WIRE_RECORD_OVERHEAD_BYTES + len;
	return err;
}

/* Queue the close frame: authenticated once a key exists, else plaintext. */
static void queue_close_frame(lull_conn *c, lull_close_reason reason)
{
	uint8_t r = (uint8_t)reason;
	if (c->tx.live) {
		(void)queue_control(c, WIRE_CLOSE, &r, 1);
		return;
	}
	if (out_reserve(c, WIRE_HEADER_BYTES + 1) == LULL_OK) {
		wire_header_write(c->out_buf + c->out_len, WIRE_HS_FAILED, 0, 1);
		c->out_buf[c->out_len + WIRE_HEADER_BYTES] = r;
		c->out_len += WIRE_HEADER_BYTES + 1;
	}
}

static void conn_close_internal(lull_conn *c, uint64_t now_ms, lull_close_reason reason,
                                lull_err err, bool by_peer)
{
	if (c->closed)
		return;
	if (!by_peer)
		queue_close_frame(c, reason);
	c->closed = true;
	lull_event ev = {.type = LULL_EV_CLOSED,
	                 .close_reason = reason,
	                 .err = err,
	                 .by_peer = by_peer,
	                 .bytes = c->app_bytes_total};
	conn_wipe_secrets(c);
	conn_emit(c, &ev, now_ms);
}

/* A fatal local error: close with reason and hand err back to the caller. */
static lull_err conn_fail(lull_conn *c, uint64_t now_ms, lull_err err, lull_close_reason reason)
{
	conn_close_internal(c, now_ms, reason, err, false);
	return err;
}

void lull_conn_close(lull_conn *c, uint64_t now_ms, lull_close_reason reason)
{
	if (c)
		conn_close_internal(c, now_ms, reason, LULL_OK, false);
}

static lull_err flush_held(lull_conn *c, uint64_t now_ms);

lull_err lull_conn_finish(lull_conn *c, uint64_t now_ms)
{
	if (!c)
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	c->finishing = true;
	/* Seals what may go now; closes at once when nothing is held. */
	lull_err err = flush_held(c, now_ms);
	conn_release_contexts(c);
	return err;
}

size_t lull_conn_max_message(const lull_conn *c)
{
	return c ? c->agreed.max_message_bytes : 0;
}

/* Authentication failures also get their own event, naming the cause. */
static lull_err conn_auth_fail(lull_conn *c, uint64_t now_ms, lull_err err,
                               lull_close_reason reason)
{
	lull_event ev = {.type = LULL_EV_AUTH_FAILED, .err = err};
	conn_emit(c, &ev, now_ms);
	return conn_fail(c, now_ms, err, reason);
}

/* ---- Construction ------------------------------------------------------- */

static lull_err conn_alloc(lull_conn **out, const lull_config *cfg, const lull_callbacks *cb)
{
	if (!out)
		return LULL_ERR_INVALID_ARG;
	*out = NULL;
	lull_err err = lull_config_validate(cfg, NULL);
	if (err != LULL_OK)
		return err;
	/* The whole object: it holds the traffic keys, own key and PSK. */
	lull_conn *c = crypto_secret_alloc(sizeof(*c));
	if (!c)
		return LULL_ERR_NOMEM;
	c->cfg = *cfg;
	c->agreed = *cfg;
	if (cb)
		c->cb = *cb;
	*out = c;
	return LULL_OK;
}

lull_err lull_conn_new_client(lull_conn **out, const lull_config *cfg, const lull_keypair *key,
                              const uint8_t server_pub[LULL_KEY_BYTES], const uint8_t *psk,
                              const lull_callbacks *cb)
{
	if (!cfg || !key || !server_pub)
		return LULL_ERR_INVALID_ARG;
	lull_err err = conn_alloc(out, cfg, cb);
	if (err != LULL_OK)
		return err;
	lull_conn *c = *out;
	c->is_server = false;
	policy_init(&c->pol, true);
	c->own_key = *key;
	memcpy(c->peer_pub, server_pub, LULL_KEY_BYTES);
	if (psk)
		memcpy(c->psk, psk, LULL_KEY_BYTES);
	return LULL_OK;
}

lull_err lull_conn_new_server(lull_conn **out, lull_server *srv, const lull_callbacks *cb)
{
	if (!srv)
		return LULL_ERR_INVALID_ARG;
	lull_err err = conn_alloc(out, &srv->cfg, cb);
	if (err != LULL_OK)
		return err;
	(*out)->is_server = true;
	(*out)->srv = srv;
	policy_init(&(*out)->pol, false);
	return LULL_OK;
}

void lull_conn_free(lull_conn *c)
{
	if (!c)
		return;
	conn_wipe_secrets(c);
	out_free(c);
	crypto_secret_free(c, sizeof(*c));
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
	c->hs_active = true;
	c->hs_reason = reason;
	c->hs_started_ms = now_ms;
	c->hs_deadline_ms = now_ms + c->cfg.srk_lifetime_ms;
	lull_event ev = {
	        .type = LULL_EV_HANDSHAKE_STARTED, .epoch = c->epoch + 1, .rekey_reason = reason};
	return conn_emit(c, &ev, now_ms) ? LULL_OK : LULL_ERR_CLOSED;
}

/* Client: queue HS1 and wait for HS2. */
static lull_err client_begin_handshake(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason)
{
	uint8_t prologue[CONN_PROLOGUE_MAX_BYTES];
	size_t prologue_len = build_prologue(c, WIRE_VERSION, (uint8_t)c->cfg.suite, prologue);
	noise_handshake_params p = {
	        .protocol_name = conn_protocol_name(c->cfg.suite),
	        .role = NOISE_INITIATOR,
	        .prologue = prologue,
	        .prologue_len = prologue_len,
	        .static_priv = c->own_key.priv,
	        .static_pub = c->own_key.pub,
	        .psks = c->psk,
	        .psk_count = 1,
	};
	lull_err err = hs_alloc(c);
	if (err == LULL_OK)
		err = noise_handshake_init(&c->hs->noise, &p);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	err = out_reserve(c, WIRE_HEADER_BYTES + WIRE_HS1_BYTES);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	uint8_t *frame = c->out_buf + c->out_len;
	wire_header_write(frame, WIRE_HS1, 0, WIRE_HS1_BYTES);
	frame[4] = WIRE_VERSION;
	frame[5] = (uint8_t)c->cfg.suite;
	size_t msg_len = 0;
	err = noise_handshake_write(&c->hs->noise, NULL, 0, frame + 6, WIRE_HS1_MSG_BYTES,
	                            &msg_len);
	if (err != LULL_OK || msg_len != WIRE_HS1_MSG_BYTES)
		return conn_fail(c, now_ms, err ? err : LULL_ERR_STATE, LULL_CLOSE_INTERNAL_ERROR);
	c->out_len += WIRE_HEADER_BYTES + WIRE_HS1_BYTES;
	c->hs_step = HS_WAIT_HS2;
	policy_rekey_started(&c->pol);
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
	if (c->hs_active)
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	if (body[0] != WIRE_VERSION || body[1] != (uint8_t)c->cfg.suite)
		return conn_fail(c, now_ms, LULL_ERR_VERSION, LULL_CLOSE_VERSION);

	uint8_t prologue[CONN_PROLOGUE_MAX_BYTES];
	size_t prologue_len = build_prologue(c, body[0], body[1], prologue);
	noise_handshake_params p = {
	        .protocol_name = conn_protocol_name(c->cfg.suite),
	        .role = NOISE_RESPONDER,
	        .prologue = prologue,
	        .prologue_len = prologue_len,
	        .static_pub = c->srv->key.pub,
	        .static_key = c->srv->static_key,
	        .psk_lookup = server_psk_lookup,
	        .psk_lookup_user = c,
	};
	lull_err err = hs_alloc(c);
	if (err == LULL_OK)
		err = noise_handshake_init(&c->hs->noise, &p);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	c->hs_active = true; /* the handshake deadline applies from here */
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
	err = out_reserve(c, WIRE_HEADER_BYTES + WIRE_HS2_BYTES);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	uint8_t *frame = c->out_buf + c->out_len;
	size_t msg_len = 0;
	err = noise_handshake_write(&c->hs->noise, policy, sizeof(policy),
	                            frame + WIRE_HEADER_BYTES, WIRE_HS2_BYTES, &msg_len);
	if (err != LULL_OK || msg_len != WIRE_HS2_BYTES)
		return conn_fail(c, now_ms, err ? err : LULL_ERR_STATE, LULL_CLOSE_INTERNAL_ERROR);
	wire_header_write(frame, WIRE_HS2, 0, WIRE_HS2_BYTES);
	c->out_len += WIRE_HEADER_BYTES + WIRE_HS2_BYTES;
	c->hs_step = HS_WAIT_HS3;
	lull_rekey_reason reason =
	        c->epoch == 0 ? LULL_REKEY_NONE
	                      : policy_server_rekey_reason(&c->pol, &c->agreed, now_ms);
	policy_rekey_started(&c->pol);
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
	err = out_reserve(c, WIRE_HEADER_BYTES + WIRE_HS3_BYTES);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	uint8_t *frame = c->out_buf + c->out_len;
	size_t msg_len = 0;
	err = noise_handshake_write(&c->hs->noise, policy, sizeof(policy),
	                            frame + WIRE_HEADER_BYTES, WIRE_HS3_BYTES, &msg_len);
	if (err != LULL_OK || msg_len != WIRE_HS3_BYTES)
		return conn_fail(c, now_ms, err ? err : LULL_ERR_STATE, LULL_CLOSE_INTERNAL_ERROR);
	wire_header_write(frame, WIRE_HS3, 0, WIRE_HS3_BYTES);
	c->out_len += WIRE_HEADER_BYTES + WIRE_HS3_BYTES;
	err = hs_take_split(c);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	c->hs_step = HS_WAIT_KEYS;
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
		c->rx_prev = c->rx;
		c->rx_prev_stale = c->pol.rx_stale;
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
	hs_free(c); /* wipes the hash's copy with the rest */
	c->hs_active = false;
	c->hs_step = HS_IDLE;

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
		err = crypto_random(drk, sizeof(drk));
	/* On a rekey the old send key's last record goes first: the client
	 * switches only once it has seen its stream under the old key end. */
	if (err == LULL_OK && c->tx.live)
		err = queue_control(c, WIRE_KEY_END, NULL, 0);
	/* KEYS travels under k2 with the new epoch, nonce 0. */
	record_key keys_key = {0};
	if (err == LULL_OK)
		err = record_key_init(&keys_key, conn_aead(c), c->hs->pending_k2, c->epoch + 1);
	if (err == LULL_OK)
		err = out_reserve(c, WIRE_RECORD_OVERHEAD_BYTES + sizeof(drk));
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
	return flush_held(c, now_ms);
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
		err = queue_control(c, WIRE_KEY_END, NULL, 0);
	if (err == LULL_OK)
		err = install_keys(c, now_ms, drk);
	crypto_wipe(drk, sizeof(drk));
	if (err == LULL_ERR_DECRYPT)
		return conn_fail(c, now_ms, err, LULL_CLOSE_DECRYPT_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	return flush_held(c, now_ms);
}

/* ---- Application data --------------------------------------------------- */

/* Encrypt one whole message into the output as DATA fragments. */
static lull_err seal_message(lull_conn *c, const uint8_t *msg, size_t len)
{
	size_t n_records = len == 0 ? 1
	                            : (len + WIRE_RECORD_PAYLOAD_MAX_BYTES - 1) /
	                                      WIRE_RECORD_PAYLOAD_MAX_BYTES;
	lull_err err = out_reserve(c, len + n_records * WIRE_RECORD_OVERHEAD_BYTES);
	if (err != LULL_OK)
		return err;
	size_t off = 0;
	do {
		size_t chunk = len - off;
		uint8_t flags = 0;
		if (chunk > WIRE_RECORD_PAYLOAD_MAX_BYTES) {
			chunk = WIRE_RECORD_PAYLOAD_MAX_BYTES;
			flags = WIRE_FLAG_MORE;
		}
		err = record_seal(&c->tx, WIRE_DATA, flags, msg + off, chunk,
		                  c->out_buf + c->out_len);
		if (err != LULL_OK)
			return err;
		c->out_len += WIRE_RECORD_OVERHEAD_BYTES + chunk;
		off += chunk;
	} while (off < len);
	c->app_bytes_total += len;
	return LULL_OK;
}

/* ---- Policy actions ----------------------------------------------------- */

static bool emit_simple(lull_conn *c, uint64_t now_ms, lull_event_type type,
                        lull_rekey_reason reason)
{
	lull_event ev = {.type = type, .rekey_reason = reason};
	return conn_emit(c, &ev, now_ms);
}

/*
 * A new key is needed (A10): the client starts a handshake unless one is
 * under way; the server asks the client, once per key.
 */
static lull_err conn_want_rekey(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason)
{
	if (!c->is_server)
		return c->hs_active ? LULL_OK : client_begin_handshake(c, now_ms, reason);
	if (c->hs_active || c->pol.rekey_asked)
		return LULL_OK;
	uint8_t r = (uint8_t)reason;
	lull_err err = queue_control(c, WIRE_REKEY_REQUEST, &r, 1);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	policy_rekey_asked(&c->pol, reason);
	return emit_simple(c, now_ms, LULL_EV_REKEY_REQUESTED, reason) ? LULL_OK : LULL_ERR_CLOSED;
}

/* Ask the policy whether len bytes may be sealed now, acting on what it
 * says: a key that just went stale is reported, a needed rekey begun. */
static lull_err conn_check_send(lull_conn *c, uint64_t now_ms, size_t len, bool *may_send)
{
	bool was_stale = c->pol.tx_stale, rekey = false;
	lull_rekey_reason reason = LULL_REKEY_NONE;
	*may_send =
	        policy_check_send(&c->pol, &c->agreed, now_ms, len, &rekey, &reason) == POLICY_OK;
	if (!was_stale && c->pol.tx_stale &&
	    !emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)) {
		*may_send = false;
		return LULL_ERR_CLOSED;
	}
	return rekey ? conn_want_rekey(c, now_ms, reason) : LULL_OK;
}

/* Seal a message the policy allowed, then count it. */
static lull_err conn_send_now(lull_conn *c, uint64_t now_ms, const uint8_t *msg, size_t len)
{
	lull_err err = seal_message(c, msg, len);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (policy_on_sent(&c->pol, &c->agreed, now_ms, len))
		return conn_want_rekey(c, now_ms, LULL_REKEY_BYTES);
	return LULL_OK;
}

static lull_err flush_held(lull_conn *c, uint64_t now_ms)
{
	while (c->held_head && !c->closed) {
		conn_held_msg *m = c->held_head;
		/* Held before the peer's limit was known, and over it: sealing
		 * it would only make the peer close on us. */
		if (m->len > c->agreed.max_message_bytes)
			return conn_fail(c, now_ms, LULL_ERR_MESSAGE_TOO_LARGE,
			                 LULL_CLOSE_MESSAGE_TOO_LARGE);
		bool may_send = false;
		lull_err err = conn_check_send(c, now_ms, m->len, &may_send);
		if (err != LULL_OK || !may_send)
			return err;
		c->held_head = m->next;
		if (!c->held_head)
			c->held_tail = NULL;
		c->held_bytes -= m->len;
		err = conn_send_now(c, now_ms, m->data, m->len);
		crypto_wipe(m->data, m->len);
		free(m);
		if (err != LULL_OK)
			return err;
	}
	if (c->finishing && !c->held_head && !c->closed)
		conn_close_internal(c, now_ms, LULL_CLOSE_NORMAL, LULL_OK, false);
	return LULL_OK;
}

static lull_err hold_message(lull_conn *c, const uint8_t *msg, size_t len)
{
	if (c->held_bytes > 0 && c->held_bytes + len > LULL_SEND_BUFFER_BYTES)
		return LULL_ERR_WOULD_BLOCK;
	conn_held_msg *m = malloc(sizeof(*m) + len);
	if (!m)
		return LULL_ERR_NOMEM;
	m->next = NULL;
	m->len = len;
	if (len)
		memcpy(m->data, msg, len);
	if (c->held_tail)
		c->held_tail->next = m;
	else
		c->held_head = m;
	c->held_tail = m;
	c->held_bytes += len;
	return LULL_OK;
}

lull_err lull_conn_send(lull_conn *c, uint64_t now_ms, const uint8_t *msg, size_t len)
{
	if (!c || (!msg && len))
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	if (c->finishing)
		return LULL_ERR_STATE;
	if (len > c->agreed.max_message_bytes)
		return LULL_ERR_MESSAGE_TOO_LARGE;
	if (lull_conn_output_pending(c) > LULL_SEND_BUFFER_BYTES)
		return LULL_ERR_WOULD_BLOCK;
	lull_err err = LULL_OK;
	bool may_send = false;
	if (!c->held_head)
		err = conn_check_send(c, now_ms, len, &may_send);
	if (err == LULL_OK)
		err = may_send ? conn_send_now(c, now_ms, msg, len) : hold_message(c, msg, len);
	conn_release_contexts(c);
	return err;
}

static void reassembly_discard(lull_conn *c)
{
	if (c->msg_buf) {
		crypto_wipe(c->msg_buf, c->msg_len);
		free(c->msg_buf);
		c->msg_buf = NULL;
	}
	c->msg_len = c->msg_cap = 0;
}

/* Data under a stale key (A8): reported with who it claims to come from,
 * then the connection closes or the record is dropped, as agreed.  A drop
 * also drops the message being reassembled: it can no longer be completed
 * honestly, and the next message must not be spliced onto it.  A spoof that
 * was opened under k (a stale key not yet ratcheted) gives back the
 * sequence number it used: the honest sender's next record under k (a
 * heartbeat, KEY_END) was sealed with it.  k is NULL for one refused
 * unopened, under a ratcheted key. */
static lull_err on_spoof(lull_conn *c, uint64_t now_ms, const wire_header *h, record_key *k)
{
	lull_event ev = {.type = LULL_EV_SPOOF_REJECTED,
	                 .err = LULL_ERR_SPOOF,
	                 .bytes = WIRE_HEADER_BYTES + (uint64_t)h->length};
	if (!conn_emit(c, &ev, now_ms))
		return LULL_ERR_CLOSED;
	if (c->agreed.on_spoof == LULL_ON_SPOOF_DROP) {
		reassembly_discard(c);
		if (k)
			k->seq--;
		return LULL_OK;
	}
	return conn_fail(c, now_ms, LULL_ERR_SPOOF, LULL_CLOSE_SPOOF);
}

/* A DATA fragment that authenticated under k: deliver whole messages,
 * refuse any over max_message. */
static lull_err on_data(lull_conn *c, uint64_t now_ms, const wire_header *h, record_key *k,
                        const uint8_t *pt, size_t len)
{
	uint8_t flags = h->flags;
	bool prev_key = k == &c->rx_prev;
	uint32_t epoch = k->epoch;
	bool rekey = false;
	/* A sender fragments only what does not fit one record, and seals a
	 * whole message under one key: anything else is not a lull sender. */
	if (((flags & WIRE_FLAG_MORE) && len == 0) || (c->msg_len > 0 && epoch != c->msg_epoch))
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	if (prev_key) {
		if (c->rx_prev_stale)
			return on_spoof(c, now_ms, h, k);
		policy_on_received_previous_key(&c->pol, now_ms);
	} else {
		switch (policy_on_received(&c->pol, &c->agreed, now_ms, len, &rekey)) {
		case POLICY_SPOOF:
			return on_spoof(c, now_ms, h, k);
		case POLICY_KEY_EXPIRED:
			return conn_fail(c, now_ms, LULL_ERR_KEY_EXPIRED, LULL_CLOSE_KEY_EXPIRED);
		default:
			break;
		}
	}
	if (rekey) {
		lull_err err = conn_want_rekey(c, now_ms, LULL_REKEY_BYTES);
		if (err != LULL_OK)
			return err;
	}
	c->app_bytes_total += len;
	if (c->msg_len + len > c->agreed.max_message_bytes)
		return conn_fail(c, now_ms, LULL_ERR_MESSAGE_TOO_LARGE,
		                 LULL_CLOSE_MESSAGE_TOO_LARGE);
	if (!(flags & WIRE_FLAG_MORE) && c->msg_len == 0) {
		/* Whole message in one record: deliver without copying. */
		if (c->cb.on_message)
			c->cb.on_message(c->cb.user, pt, len);
		return LULL_OK;
	}
	if (c->msg_cap - c->msg_len < len) {
		size_t cap = c->msg_cap ? c->msg_cap : WIRE_RECORD_PAYLOAD_MAX_BYTES * 4;
		while (cap - c->msg_len < len)
			cap *= 2;
		if (cap > c->agreed.max_message_bytes)
			cap = c->agreed.max_message_bytes;
		uint8_t *grown = realloc(c->msg_buf, cap);
		if (!grown)
			return conn_fail(c, now_ms, LULL_ERR_NOMEM, LULL_CLOSE_INTERNAL_ERROR);
		c->msg_buf = grown;
		c->msg_cap = cap;
	}
	memcpy(c->msg_buf + c->msg_len, pt, len);
	c->msg_len += len;
	c->msg_epoch = epoch;
	if (flags & WIRE_FLAG_MORE)
		return LULL_OK;
	if (c->cb.on_message)
		c->cb.on_message(c->cb.user, c->msg_buf, c->msg_len);
	/* The callback may have closed the connection, which frees msg_buf. */
	reassembly_discard(c);
	return LULL_OK;
}

/* ---- Heartbeats and rekey requests -------------------------------------- */

/* Client (A4): a heartbeat on the grid, or a retry of an unacked one. */
static lull_err send_heartbeat(lull_conn *c, uint64_t now_ms)
{
	uint32_t id = 0;
	bool newly_stale = policy_heartbeat_sent(&c->pol, &c->agreed, now_ms, &id);
	uint8_t body[WIRE_HEARTBEAT_PLAINTEXT_BYTES];
	wire_put_u32(body, id);
	lull_err err = queue_control(c, WIRE_HEARTBEAT, body, sizeof(body));
	if (err == LULL_OK)
		err = record_key_ratchet(&c->tx, conn_hash(c));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (!emit_simple(c, now_ms, LULL_EV_HEARTBEAT_SENT, LULL_REKEY_NONE) ||
	    (newly_stale && !emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)))
		return LULL_ERR_CLOSED;
	return LULL_OK;
}

/* Server (A5, A8): answer, and from now on the key carries no data: both
 * directions' keys ratchet past the heartbeat and the ack (record.h). */
static lull_err on_heartbeat(lull_conn *c, uint64_t now_ms, record_key *k, uint32_t id)
{
	bool newly_stale = policy_on_heartbeat(&c->pol, now_ms);
	uint8_t body[WIRE_HEARTBEAT_PLAINTEXT_BYTES];
	wire_put_u32(body, id);
	lull_err err = record_key_ratchet(k, conn_hash(c));
	if (err == LULL_OK)
		err = queue_control(c, WIRE_HEARTBEAT_ACK, body, sizeof(body));
	if (err == LULL_OK)
		err = record_key_ratchet(&c->tx, conn_hash(c));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (!emit_simple(c, now_ms, LULL_EV_HEARTBEAT_RECEIVED, LULL_REKEY_NONE) ||
	    (newly_stale && !emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)))
		return LULL_ERR_CLOSED;
	return LULL_OK;
}

static lull_err on_heartbeat_ack(lull_conn *c, uint64_t now_ms, record_key *k, uint32_t id)
{
	bool acked = false;
	lull_err err = policy_on_heartbeat_ack(&c->pol, id, &acked);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);
	err = record_key_ratchet(k, conn_hash(c));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (acked && !emit_simple(c, now_ms, LULL_EV_HEARTBEAT_ACKED, LULL_REKEY_NONE))
		return LULL_ERR_CLOSED;
	return LULL_OK;
}

/* Client (A10): the server needs a new key. */
static lull_err on_rekey_request(lull_conn *c, uint64_t now_ms, uint8_t reason)
{
	lull_rekey_reason why = reason <= LULL_REKEY_APPLICATION ? (lull_rekey_reason)reason
	                                                         : LULL_REKEY_PEER_REQUEST;
	if (!emit_simple(c, now_ms, LULL_EV_REKEY_REQUESTED, why))
		return LULL_ERR_CLOSED;
	return conn_want_rekey(c, now_ms, LULL_REKEY_PEER_REQUEST);
}

/* ---- Records ------------------------------------------------------------ */

static record_key *key_for_epoch(lull_conn *c, uint32_t epoch)
{
	if (c->rx.live && epoch == c->rx.epoch)
		return &c->rx;
	if (c->rx_prev.live && epoch == c->rx_prev.epoch)
		return &c->rx_prev;
	return NULL;
}

static lull_err on_record(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame)
{
	uint32_t epoch = record_frame_epoch(frame);
	record_key *k = key_for_epoch(c, epoch);
	if (!k) {
		bool retired = c->epoch > 0 && epoch < c->epoch;
		return conn_fail(c, now_ms, retired ? LULL_ERR_RETIRED_KEY : LULL_ERR_PROTOCOL,
		                 LULL_CLOSE_PROTOCOL_ERROR);
	}
	/* Whatever record_open writes, even of a forgery, is wiped later.
	 * wire_header_read made sure every record's body holds the epoch and
	 * the tag; a rule that did not would be refused here, not wiped past
	 * the buffer. */
	if ((size_t)h->length < WIRE_EPOCH_BYTES + CRYPTO_AEAD_TAG_BYTES)
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
	/* Data under a ratcheted key is a spoof however it was sealed: no key
	 * that could open it is left to try (A8, forward secrecy while idle). */
	if (k->control_only && h->type == WIRE_DATA)
		return on_spoof(c, now_ms, h, NULL);
	size_t pt_max = (size_t)h->length - WIRE_EPOCH_BYTES - CRYPTO_AEAD_TAG_BYTES;
	if (pt_max > c->scratch_dirty)
		c->scratch_dirty = pt_max;
	size_t len = 0;
	lull_err err = record_open(k, h, frame, c->scratch, &len);
	if (err == LULL_ERR_DECRYPT)
		return conn_fail(c, now_ms, err, LULL_CLOSE_DECRYPT_FAILED);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	/* Nothing follows KEY_END under its key, and nothing comes under the
	 * new key before the old one ended: a gap means records were deleted. */
	bool prev_key = k == &c->rx_prev;
	if ((!prev_key && c->rx_prev.live) || (k == &c->rx && c->rx_ended))
		return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);

	switch (h->type) {
	case WIRE_DATA:
		return on_data(c, now_ms, h, k, c->scratch, len);
	case WIRE_HEARTBEAT:
		if (c->is_server)
			return on_heartbeat(c, now_ms, k, wire_get_u32(c->scratch));
		break;
	case WIRE_HEARTBEAT_ACK:
		if (!c->is_server)
			return on_heartbeat_ack(c, now_ms, k, wire_get_u32(c->scratch));
		break;
	case WIRE_REKEY_REQUEST:
		if (!c->is_server)
			return on_rekey_request(c, now_ms, c->scratch[0]);
		break;
	case WIRE_KEY_END:
		if (prev_key) { /* server: the client's old stream is complete */
			record_key_destroy(&c->rx_prev);
			return LULL_OK;
		}
		if (!c->is_server && c->hs_step == HS_WAIT_KEYS) {
			c->rx_ended = true; /* client: KEYS comes next */
			return LULL_OK;
		}
		break;
	case WIRE_CLOSE: {
		lull_close_reason reason = (lull_close_reason)c->scratch[0];
		conn_close_internal(c, now_ms, reason, LULL_ERR_PEER_CLOSED, true);
		return reason == LULL_CLOSE_NORMAL || reason == LULL_CLOSE_SHUTDOWN
		               ? LULL_OK
		               : LULL_ERR_PEER_CLOSED;
	}
	default:
		break;
	}
	/* A control record sent the wrong way. */
	return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
}

/* One whole frame whose header has been checked. */
static lull_err on_frame(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame)
{
	const uint8_t *body = frame + WIRE_HEADER_BYTES;
	switch (h->type) {
	case WIRE_HS1:
		if (!c->is_server)
			break;
		return server_on_hs1(c, now_ms, body);
	case WIRE_HS2:
		if (c->is_server || c->hs_step != HS_WAIT_HS2)
			break;
		return client_on_hs2(c, now_ms, body);
	case WIRE_HS3:
		if (!c->is_server || c->hs_step != HS_WAIT_HS3)
			break;
		return server_on_hs3(c, now_ms, body);
	case WIRE_KEYS:
		if (c->is_server || c->hs_step != HS_WAIT_KEYS)
			break;
		return client_on_keys(c, now_ms, h, frame);
	case WIRE_HS_FAILED:
		/* Unauthenticated, so believed only before any key exists. */
		if (c->epoch != 0)
			break;
		conn_close_internal(c, now_ms, (lull_close_reason)body[0], LULL_ERR_PEER_CLOSED,
		                    true);
		return LULL_ERR_PEER_CLOSED;
	default:
		return on_record(c, now_ms, h, frame);
	}
	return conn_fail(c, now_ms, LULL_ERR_PROTOCOL, LULL_CLOSE_PROTOCOL_ERROR);
}

static lull_err receive_frames(lull_conn *c, uint64_t now_ms, const uint8_t *bytes, size_t len)
{
	lull_err err = LULL_OK;
	while (len > 0 && !c->closed && err == LULL_OK) {
		wire_header h;
		if (c->in_len == 0 && len >= WIRE_HEADER_BYTES) {
			/* Fast path: a whole frame in the caller's buffer. */
			err = wire_header_read(bytes, &h);
			if (err != LULL_OK)
				return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);
			size_t frame_len = WIRE_HEADER_BYTES + (size_t)h.length;
			if (len >= frame_len) {
				err = on_frame(c, now_ms, &h, bytes);
				bytes += frame_len;
				len -= frame_len;
				continue;
			}
		}
		/* Slow path: accumulate one frame in in_buf, header first, so
		 * the length is checked before a body byte is kept. */
		if (!c->in_buf) {
			c->in_buf = malloc(WIRE_FRAME_MAX_BYTES);
			if (!c->in_buf)
				return conn_fail(c, now_ms, LULL_ERR_NOMEM,
				                 LULL_CLOSE_INTERNAL_ERROR);
		}
		if (c->in_len < WIRE_HEADER_BYTES) {
			size_t take = WIRE_HEADER_BYTES - c->in_len;
			take = take < len ? take : len;
			memcpy(c->in_buf + c->in_len, bytes, take);
			c->in_len += take;
			bytes += take;
			len -= take;
			if (c->in_len < WIRE_HEADER_BYTES)
				break;
		}
		err = wire_header_read(c->in_buf, &h);
		if (err != LULL_OK)
			return conn_fail(c, now_ms, err, LULL_CLOSE_PROTOCOL_ERROR);
		size_t frame_len = WIRE_HEADER_BYTES + (size_t)h.length;
		size_t take = frame_len - c->in_len < len ? frame_len - c->in_len : len;
		memcpy(c->in_buf + c->in_len, bytes, take);
		c->in_len += take;
		bytes += take;
		len -= take;
		if (c->in_len == frame_len) {
			c->in_len = 0;
			err = on_frame(c, now_ms, &h, c->in_buf);
		}
	}
	return err;
}

lull_err lull_conn_receive(lull_conn *c, uint64_t now_ms, const uint8_t *bytes, size_t len)
{
	if (!c || (!bytes && len))
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	/* From a callback of this very call: the outer call's plaintext and
	 * reassembly buffers are in use (lull.h). */
	if (c->scratch)
		return LULL_ERR_STATE;
	/* One record's plaintext at a time, delivered before the next is
	 * opened: on the stack, wiped as far as it was written. */
	uint8_t scratch[WIRE_RECORD_PAYLOAD_MAX_BYTES];
	c->scratch = scratch;
	c->scratch_dirty = 0;
	lull_err err = receive_frames(c, now_ms, bytes, len);
	crypto_wipe(scratch, c->scratch_dirty);
	c->scratch = NULL;
	c->scratch_dirty = 0;
	if (!c->closed && c->in_len == 0 && c->in_buf) {
		free(c->in_buf);
		c->in_buf = NULL;
	}
	conn_release_contexts(c);
	return err;
}

/* ---- Timers and state --------------------------------------------------- */

lull_err lull_conn_start(lull_conn *c, uint64_t now_ms)
{
	if (!c)
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	if (c->started)
		return LULL_ERR_STATE;
	c->started = true;
	c->started_ms = now_ms;
	if (c->is_server) {
		/* A client that connects and says nothing is dropped like a
		 * handshake that never completes. */
		c->hs_deadline_ms = now_ms + c->cfg.srk_lifetime_ms;
		return LULL_OK;
	}
	return client_begin_handshake(c, now_ms, LULL_REKEY_NONE);
}

uint64_t lull_conn_next_deadline(const lull_conn *c)
{
	if (!c || c->closed || !c->started)
		return UINT64_MAX;
	uint64_t d = UINT64_MAX;
	if (c->hs_active || c->epoch == 0)
		d = c->hs_deadline_ms;
	if (c->rx_prev.live && c->rx_prev_deadline_ms < d)
		d = c->rx_prev_deadline_ms;
	uint64_t dp = policy_next_deadline(&c->pol, &c->agreed);
	return dp < d ? dp : d;
}

/* Act on what the policy found due. */
static lull_err conn_policy_tick(lull_conn *c, uint64_t now_ms)
{
	policy_due due = policy_tick(&c->pol, &c->agreed, now_ms);
	if (due.heartbeat_missing) {
		if (c->agreed.on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_CLOSE)
			return conn_fail(c, now_ms, LULL_ERR_HEARTBEAT_MISSING,
			                 LULL_CLOSE_HEARTBEAT_MISSING);
		if (!emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE))
			return LULL_ERR_CLOSED;
	}
	if (due.heartbeat_missed) {
		lull_event ev = {.type = LULL_EV_HEARTBEAT_MISSED,
		                 .err = LULL_ERR_HEARTBEAT_MISSED};
		if (!conn_emit(c, &ev, now_ms))
			return LULL_ERR_CLOSED;
		if (c->agreed.on_missed_ack == LULL_ON_MISSED_ACK_CLOSE)
			return conn_fail(c, now_ms, LULL_ERR_HEARTBEAT_MISSED,
			                 LULL_CLOSE_HEARTBEAT_MISSED);
		/* The key is stale since the heartbeat: no data until a new one. */
		return conn_want_rekey(c, now_ms, LULL_REKEY_MISSED_ACK);
	}
	if (due.send_heartbeat) {
		lull_err err = send_heartbeat(c, now_ms);
		if (err != LULL_OK)
			return err;
	}
	if (due.rekey)
		return conn_want_rekey(c, now_ms, due.rekey_reason);
	return LULL_OK;
}

lull_err lull_conn_rekey(lull_conn *c, uint64_t now_ms)
{
	if (!c)
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	if (c->epoch == 0)
		return LULL_ERR_STATE;
	lull_err err = conn_want_rekey(c, now_ms, LULL_REKEY_APPLICATION);
	conn_release_contexts(c);
	return err;
}

lull_err lull_conn_tick(lull_conn *c, uint64_t now_ms)
{
	if (!c)
		return LULL_ERR_INVALID_ARG;
	if (c->closed)
		return LULL_ERR_CLOSED;
	if (!c->started)
		return LULL_OK;
	if ((c->hs_active || c->epoch == 0) && now_ms >= c->hs_deadline_ms)
		return conn_fail(c, now_ms, LULL_ERR_HANDSHAKE_TIMEOUT,
		                 LULL_CLOSE_HANDSHAKE_TIMEOUT);
	/* The client's old stream never ended: the rekey did not complete. */
	if (c->rx_prev.live && now_ms >= c->rx_prev_deadline_ms)
		return conn_fail(c, now_ms, LULL_ERR_HANDSHAKE_TIMEOUT,
		                 LULL_CLOSE_HANDSHAKE_TIMEOUT);
	lull_err err = conn_policy_tick(c, now_ms);
	conn_release_contexts(c);
	return err;
}

bool lull_conn_is_open(const lull_conn *c)
{
	return c && !c->closed;
}

bool lull_conn_is_ready(const lull_conn *c)
{
	return c && !c->closed && c->tx.live && !c->pol.tx_stale;
}

uint32_t lull_conn_epoch(const lull_conn *c)
{
	return c ? c->epoch : 0;
}

const char *lull_conn_peer_name(const lull_conn *c)
{
	return c && c->peer_name[0] ? c->peer_name : NULL;
}
