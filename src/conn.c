/*
 * conn.c - one lull connection: construction, buffers, events, close,
 * timers and the public lull_conn_* calls.  Sans-I/O: it is fed bytes and
 * now_ms, and hands back bytes to write, messages and events through
 * callbacks, and its next deadline.  The handshake is in conn_handshake.c,
 * records (data, reassembly, control, spoof) in conn_records.c; conn.h
 * holds what the three share.
 *
 * Invariants:
 *  - Nothing is buffered beyond what the wire rules allow: one partial frame
 *    (<= WIRE_FRAME_MAX_BYTES), one message in reassembly (<= max_message),
 *    messages held for keys and output bounded by LULL_SEND_BUFFER_BYTES
 *    (one message is always accepted when both are empty).
 *  - Between calls a connection holds its keys and its state, nothing
 *    else: input and output memory is freed as soon as it is empty,
 *    plaintext is opened into a stack buffer wiped before lull_conn_receive
 *    returns, the Noise state exists only while a handshake runs, and the
 *    cipher contexts (record.h: a cache of the 32-byte keys) are given back
 *    before every public call returns (conn_release_contexts).  Rebuilding
 *    one costs ~0.25 us, less than the read or write that comes with each
 *    call; keeping them would cost 2.3 KiB per idle connection, and keeping
 *    them "while busy" raises the heap's high-water mark by that much per
 *    connection in a burst.
 *  - After a fatal error the connection is closed: it queued one close frame,
 *    reported LULL_EV_CLOSED once, wiped every key, and accepts nothing more.
 *  - Every event goes through conn_emit, whose answer says whether the
 *    callback left the connection open; a caller with more to do stops when
 *    it did not.
 *  - Timers: the connection has three deadlines, and lull_conn_next_deadline
 *    is the earliest of them:
 *      hs_deadline_ms       a handshake (or, on the server, the first HS1)
 *                           not done within srk_lifetime closes the link;
 *      rx_prev_deadline_ms  the server's previous receive key, kept for the
 *                           client's records in flight, ends by then;
 *      policy_next_deadline heartbeats, acks, missing heartbeats, byte and
 *                           age rekeys (policy.h).
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "server.h"

/* ---- Buffers ------------------------------------------------------------ */

lull_err conn_out_reserve(lull_conn *c, size_t n)
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
	/* A fresh buffer is sized to what is asked (the stream layer asks for
	 * a whole batch of frames at once): a power of two above it could
	 * cross malloc's mmap threshold, and the buffer is freed whenever it
	 * empties. */
	size_t cap = c->out_cap ? c->out_cap : CONN_OUTPUT_INITIAL_BYTES;
	if (!c->out_cap && cap < n)
		cap = n;
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
void conn_release_contexts(lull_conn *c)
{
	record_key_release(&c->tx);
	record_key_release(&c->rx);
	record_key_release(&c->rx_prev);
}

/* ---- State ------------------------------------------------------------- */

void conn_set_state(lull_conn *c, conn_state s)
{
	c->state = s;
	policy_set_handshake(&c->pol, conn_hs_running(c));
}

/* ---- Events ------------------------------------------------------------- */

/*
 * Report an event.  The callback may close the connection (lull.h), so the
 * answer is whether it is still open: a caller with more to do stops with
 * LULL_ERR_CLOSED when it is not.
 */
bool conn_emit(lull_conn *c, lull_event *ev, uint64_t now_ms)
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
	return !conn_is_closed(c);
}

bool conn_emit_simple(lull_conn *c, uint64_t now_ms, lull_event_type type, lull_rekey_reason reason)
{
	lull_event ev = {.type = type, .rekey_reason = reason};
	return conn_emit(c, &ev, now_ms);
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

static void conn_wipe_secrets(lull_conn *c)
{
	conn_hs_free(c);
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

crypto_aead_alg conn_aead(const lull_conn *c)
{
	return c->cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? CRYPTO_AEAD_CHACHAPOLY
	                                                     : CRYPTO_AEAD_AESGCM;
}

crypto_hash_alg conn_hash(const lull_conn *c)
{
	return c->cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B ? CRYPTO_HASH_BLAKE2B
	                                                     : CRYPTO_HASH_SHA256;
}

/* ---- Close -------------------------------------------------------------- */

/* Queue one control record (heartbeat, ack, rekey request, close) under the
 * current send key, stale or not: only data is bound by staleness. */
lull_err conn_queue_control(lull_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
	lull_err err = conn_out_reserve(c, WIRE_RECORD_OVERHEAD_BYTES + len);
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
		(void)conn_queue_control(c, WIRE_CLOSE, &r, 1);
		return;
	}
	if (conn_out_reserve(c, WIRE_HEADER_BYTES + 1) == LULL_OK) {
		wire_header_write(c->out_buf + c->out_len, WIRE_HS_FAILED, 0, 1);
		c->out_buf[c->out_len + WIRE_HEADER_BYTES] = r;
		c->out_len += WIRE_HEADER_BYTES + 1;
	}
}

void conn_close(lull_conn *c, uint64_t now_ms, lull_close_reason reason, lull_err err, bool by_peer)
{
	if (conn_is_closed(c))
		return;
	if (!by_peer)
		queue_close_frame(c, reason);
	conn_set_state(c, CONN_CLOSED);
	lull_event ev = {.type = LULL_EV_CLOSED,
	                 .close_reason = reason,
	                 .err = err,
	                 .by_peer = by_peer,
	                 .bytes = c->app_bytes_total};
	conn_wipe_secrets(c);
	conn_emit(c, &ev, now_ms);
}

/* A fatal local error: close with reason and hand err back to the caller. */
lull_err conn_fail(lull_conn *c, uint64_t now_ms, lull_err err, lull_close_reason reason)
{
	conn_close(c, now_ms, reason, err, false);
	return err;
}

void lull_conn_close(lull_conn *c, uint64_t now_ms, lull_close_reason reason)
{
	if (c)
		conn_close(c, now_ms, reason, LULL_OK, false);
}

lull_err lull_conn_finish(lull_conn *c, uint64_t now_ms)
{
	lull_err err = conn_check_call(c, true);
	if (err != LULL_OK)
		return err;
	c->finishing = true;
	/* Seals what may go now; closes at once when nothing is held. */
	err = conn_flush_held(c, now_ms);
	conn_release_contexts(c);
	return err;
}

size_t lull_conn_max_message(const lull_conn *c)
{
	return c ? c->agreed.max_message_bytes : 0;
}

/* Authentication failures also get their own event, naming the cause. */
lull_err conn_auth_fail(lull_conn *c, uint64_t now_ms, lull_err err, lull_close_reason reason)
{
	lull_event ev = {.type = LULL_EV_AUTH_FAILED, .err = err};
	conn_emit(c, &ev, now_ms);
	return conn_fail(c, now_ms, err, reason);
}

/* ---- Construction ------------------------------------------------------- */

/* The secure heap hands out power-of-two blocks: one byte more and every
 * connection takes 2 KiB of locked memory, not 1 (issue 13's budget per
 * idle link is 2 KiB in all). */
#define CONN_SECURE_BLOCK_BYTES 1024u
_Static_assert(sizeof(struct lull_conn) <= CONN_SECURE_BLOCK_BYTES,
               "struct lull_conn outgrew its 1 KiB secure-heap block");

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
	(*out)->rng = srv->rng;
	policy_init(&(*out)->pol, false);
	return LULL_OK;
}

lull_err lull_conn_set_random(lull_conn *c, lull_random_fn fn, void *ctx)
{
	if (!c)
		return LULL_ERR_INVALID_ARG;
	if (c->started || c->state != CONN_NEW)
		return LULL_ERR_STATE;
	c->rng = (crypto_rng){fn, ctx};
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

static lull_err on_frame(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame)
{
	switch (h->type) {
	case WIRE_HS1:
	case WIRE_HS2:
	case WIRE_HS3:
	case WIRE_KEYS:
	case WIRE_HS_FAILED:
		return conn_hs_on_frame(c, now_ms, h, frame);
	default:
		return conn_on_record(c, now_ms, h, frame);
	}
}

static lull_err receive_frames(lull_conn *c, uint64_t now_ms, const uint8_t *bytes, size_t len)
{
	lull_err err = LULL_OK;
	while (len > 0 && !conn_is_closed(c) && err == LULL_OK) {
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
	lull_err err = conn_check_call(c, bytes || !len);
	if (err != LULL_OK)
		return err;
	/* From a callback of this very call: the outer call's plaintext and
	 * reassembly buffers are in use (lull.h). */
	if (c->scratch)
		return LULL_ERR_STATE;
	/* One record's plaintext at a time, delivered before the next is
	 * opened: on the stack, wiped as far as it was written. */
	uint8_t scratch[WIRE_RECORD_PAYLOAD_MAX_BYTES];
	c->scratch = scratch;
	c->scratch_dirty = 0;
	err = receive_frames(c, now_ms, bytes, len);
	crypto_wipe(scratch, c->scratch_dirty);
	c->scratch = NULL;
	c->scratch_dirty = 0;
	if (!conn_is_closed(c) && c->in_len == 0 && c->in_buf) {
		free(c->in_buf);
		c->in_buf = NULL;
	}
	conn_release_contexts(c);
	return err;
}

/* ---- Timers and state --------------------------------------------------- */

lull_err lull_conn_start(lull_conn *c, uint64_t now_ms)
{
	lull_err err = conn_check_call(c, true);
	if (err != LULL_OK)
		return err;
	if (c->started)
		return LULL_ERR_STATE;
	c->started = true;
	c->started_ms = now_ms;
	if (c->is_server) {
		/* A client that connects and says nothing is dropped like a
		 * handshake that never completes. */
		c->hs_deadline_ms = now_ms + c->cfg.srk_lifetime_ms;
		if (c->state == CONN_NEW)
			conn_set_state(c, CONN_WAIT_HS1);
		return LULL_OK;
	}
	return conn_hs_begin(c, now_ms, LULL_REKEY_NONE);
}

uint64_t lull_conn_next_deadline(const lull_conn *c)
{
	if (!c || conn_is_closed(c) || !c->started)
		return UINT64_MAX;
	uint64_t d = UINT64_MAX;
	if (conn_hs_running(c) || c->epoch == 0)
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
		if (!conn_emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE))
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
		lull_err err = conn_send_heartbeat(c, now_ms);
		if (err != LULL_OK)
			return err;
	}
	if (due.rekey)
		return conn_want_rekey(c, now_ms, due.rekey_reason);
	return LULL_OK;
}

lull_err lull_conn_rekey(lull_conn *c, uint64_t now_ms)
{
	lull_err err = conn_check_call(c, true);
	if (err != LULL_OK)
		return err;
	if (c->epoch == 0)
		return LULL_ERR_STATE;
	err = conn_want_rekey(c, now_ms, LULL_REKEY_APPLICATION);
	conn_release_contexts(c);
	return err;
}

lull_err lull_conn_tick(lull_conn *c, uint64_t now_ms)
{
	lull_err err = conn_check_call(c, true);
	if (err != LULL_OK)
		return err;
	if (!c->started)
		return LULL_OK;
	if ((conn_hs_running(c) || c->epoch == 0) && now_ms >= c->hs_deadline_ms)
		return conn_fail(c, now_ms, LULL_ERR_HANDSHAKE_TIMEOUT,
		                 LULL_CLOSE_HANDSHAKE_TIMEOUT);
	/* The client's old stream never ended: the rekey did not complete. */
	if (c->rx_prev.live && now_ms >= c->rx_prev_deadline_ms)
		return conn_fail(c, now_ms, LULL_ERR_HANDSHAKE_TIMEOUT,
		                 LULL_CLOSE_HANDSHAKE_TIMEOUT);
	err = conn_policy_tick(c, now_ms);
	conn_release_contexts(c);
	return err;
}

bool lull_conn_is_open(const lull_conn *c)
{
	return c && !conn_is_closed(c);
}

bool lull_conn_is_ready(const lull_conn *c)
{
	return c && !conn_is_closed(c) && c->tx.live && !c->pol.tx_stale;
}

uint32_t lull_conn_epoch(const lull_conn *c)
{
	return c ? c->epoch : 0;
}

const char *lull_conn_peer_name(const lull_conn *c)
{
	return c && c->peer_name[0] ? c->peer_name : NULL;
}
