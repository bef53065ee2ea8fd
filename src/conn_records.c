/*
 * conn_records.c - everything carried under a traffic key: application
 * data (sealing, holding until keys are ready, fragmenting, reassembling),
 * control records (heartbeats, acks, rekey requests, KEY_END, close) and
 * the refusal of spoofed data.
 *
 * Invariants:
 *  - A record is accepted only under the epoch it claims, with the key of
 *    that epoch; there is at most one previous receive key (kept across a
 *    rekey until the peer's first record under the new epoch, and never past
 *    srk_lifetime), and every retired key is wiped at once.
 *  - Data is sealed only when the policy allows it (policy_check_send);
 *    otherwise it is held, in order, and flushed when a new key arrives.
 *  - A whole message is sealed under one key and delivered whole; a
 *    reassembly never spans two epochs and never exceeds max_message.
 *  - Data under a stale or ratcheted key is a spoof (A8): reported, then
 *    dropped or fatal as agreed; a dropped spoof that was opened is taken
 *    back by the record layer (record_key_unopen), so the honest sender's
 *    next record still opens.  Which keys are stale is the policy's to say
 *    (policy.h: rx_stale, rx_prev_stale); which are ratcheted, the record
 *    layer's (control_only).
 *  - Nothing follows KEY_END under its key, and nothing comes under a new
 *    key before the old one ended: a gap means records were deleted.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* ---- Application data --------------------------------------------------- */

static size_t pieces_len(const crypto_part *p, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += p[i].len;
	return len;
}

/* The parts of the next chunk bytes of the message's n pieces, from piece
 * *i at *off on, into rec (at most CONN_PARTS_MAX); returns how many. */
static size_t pieces_take(const crypto_part *p, size_t n, size_t *i, size_t *off, size_t chunk,
                          crypto_part rec[CONN_PARTS_MAX])
{
	size_t n_rec = 0;
	for (size_t done = 0; done < chunk;) {
		while (*i < n && *off == p[*i].len) {
			(*i)++;
			*off = 0;
		}
		size_t k = p[*i].len - *off;
		if (k > chunk - done)
			k = chunk - done;
		rec[n_rec++] = (crypto_part){.data = p[*i].data + *off, .len = k};
		done += k;
		*off += k;
	}
	return n_rec;
}

/* Encrypt one whole message into the output as DATA fragments, each
 * sealed from the parts of the pieces it spans: no copy first. */
static lull_err seal_message(lull_conn *c, const crypto_part *pieces, size_t n_pieces, size_t len)
{
	size_t n_records = len == 0 ? 1
	                            : (len + WIRE_RECORD_PAYLOAD_MAX_BYTES - 1) /
	                                      WIRE_RECORD_PAYLOAD_MAX_BYTES;
	lull_err err = conn_out_reserve(c, len + n_records * WIRE_RECORD_OVERHEAD_BYTES);
	if (err != LULL_OK)
		return err;
	size_t off = 0, pi = 0, poff = 0;
	do {
		size_t chunk = len - off;
		uint8_t flags = 0;
		if (chunk > WIRE_RECORD_PAYLOAD_MAX_BYTES) {
			chunk = WIRE_RECORD_PAYLOAD_MAX_BYTES;
			flags = WIRE_FLAG_MORE;
		}
		crypto_part rec[CONN_PARTS_MAX];
		size_t n_rec = pieces_take(pieces, n_pieces, &pi, &poff, chunk, rec);
		err = record_seal_parts(&c->tx, WIRE_DATA, flags, rec, n_rec,
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

/*
 * A new key is needed (A10): the client starts a handshake unless one is
 * under way; the server asks the client, once per key.
 */
lull_err conn_want_rekey(lull_conn *c, uint64_t now_ms, lull_rekey_reason reason)
{
	if (!c->is_server)
		return conn_hs_running(c) ? LULL_OK : conn_hs_begin(c, now_ms, reason);
	if (conn_hs_running(c) || c->pol.rekey_asked)
		return LULL_OK;
	uint8_t r = (uint8_t)reason;
	lull_err err = conn_queue_control(c, WIRE_REKEY_REQUEST, &r, 1);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	policy_rekey_asked(&c->pol, reason);
	return conn_emit_simple(c, now_ms, LULL_EV_REKEY_REQUESTED, reason) ? LULL_OK
	                                                                    : LULL_ERR_CLOSED;
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
	    !conn_emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)) {
		*may_send = false;
		return LULL_ERR_CLOSED;
	}
	return rekey ? conn_want_rekey(c, now_ms, reason) : LULL_OK;
}

/* Seal a message the policy allowed, then count it. */
static lull_err conn_send_now(lull_conn *c, uint64_t now_ms, const crypto_part *pieces, size_t n,
                              size_t len)
{
	lull_err err = seal_message(c, pieces, n, len);
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (policy_on_sent(&c->pol, &c->agreed, now_ms, len))
		return conn_want_rekey(c, now_ms, LULL_REKEY_BYTES);
	return LULL_OK;
}

lull_err conn_flush_held(lull_conn *c, uint64_t now_ms)
{
	while (c->held_head && !conn_is_closed(c)) {
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
		crypto_part whole = {.data = m->data, .len = m->len};
		err = conn_send_now(c, now_ms, &whole, 1, m->len);
		crypto_wipe(m->data, m->len);
		free(m);
		if (err != LULL_OK)
			return err;
	}
	if (c->finishing && !c->held_head && !conn_is_closed(c))
		conn_close(c, now_ms, LULL_CLOSE_NORMAL, LULL_OK, false);
	return LULL_OK;
}

static lull_err hold_message(lull_conn *c, const crypto_part *pieces, size_t n, size_t len)
{
	if (c->held_bytes > 0 && c->held_bytes + len > LULL_SEND_BUFFER_BYTES)
		return LULL_ERR_WOULD_BLOCK;
	conn_held_msg *m = malloc(sizeof(*m) + len);
	if (!m)
		return LULL_ERR_NOMEM;
	m->next = NULL;
	m->len = len;
	for (size_t i = 0, at = 0; i < n; at += pieces[i].len, i++)
		if (pieces[i].len)
			memcpy(m->data + at, pieces[i].data, pieces[i].len);
	if (c->held_tail)
		c->held_tail->next = m;
	else
		c->held_head = m;
	c->held_tail = m;
	c->held_bytes += len;
	return LULL_OK;
}

lull_err conn_send_parts(lull_conn *c, uint64_t now_ms, const crypto_part *pieces, size_t n)
{
	bool args_ok = (pieces || n == 0) && n <= CONN_PARTS_MAX;
	for (size_t i = 0; args_ok && i < n; i++)
		args_ok = pieces[i].data || !pieces[i].len;
	lull_err err = conn_check_call(c, args_ok);
	if (err != LULL_OK)
		return err;
	if (c->finishing)
		return LULL_ERR_STATE;
	size_t len = pieces_len(pieces, n);
	if (len > c->agreed.max_message_bytes)
		return LULL_ERR_MESSAGE_TOO_LARGE;
	if (lull_conn_output_pending(c) > LULL_SEND_BUFFER_BYTES)
		return LULL_ERR_WOULD_BLOCK;
	err = LULL_OK;
	bool may_send = false;
	if (!c->held_head)
		err = conn_check_send(c, now_ms, len, &may_send);
	if (err == LULL_OK)
		err = may_send ? conn_send_now(c, now_ms, pieces, n, len)
		               : hold_message(c, pieces, n, len);
	conn_release_contexts(c);
	return err;
}

lull_err lull_conn_send(lull_conn *c, uint64_t now_ms, const uint8_t *msg, size_t len)
{
	crypto_part whole = {.data = msg, .len = len};
	return conn_send_parts(c, now_ms, &whole, 1);
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
			record_key_unopen(k);
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
	policy_verdict v = prev_key ? policy_on_received_previous_key(&c->pol, now_ms)
	                            : policy_on_received(&c->pol, &c->agreed, now_ms, len, &rekey);
	switch (v) {
	case POLICY_SPOOF:
		return on_spoof(c, now_ms, h, k);
	case POLICY_KEY_EXPIRED:
		return conn_fail(c, now_ms, LULL_ERR_KEY_EXPIRED, LULL_CLOSE_KEY_EXPIRED);
	default:
		break;
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
lull_err conn_send_heartbeat(lull_conn *c, uint64_t now_ms)
{
	uint32_t id = 0;
	bool newly_stale = policy_heartbeat_sent(&c->pol, &c->agreed, now_ms, &id);
	uint8_t body[WIRE_HEARTBEAT_PLAINTEXT_BYTES];
	wire_put_u32(body, id);
	lull_err err = conn_queue_control(c, WIRE_HEARTBEAT, body, sizeof(body));
	if (err == LULL_OK)
		err = record_key_ratchet(&c->tx, conn_hash(c));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (!conn_emit_simple(c, now_ms, LULL_EV_HEARTBEAT_SENT, LULL_REKEY_NONE) ||
	    (newly_stale && !conn_emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)))
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
		err = conn_queue_control(c, WIRE_HEARTBEAT_ACK, body, sizeof(body));
	if (err == LULL_OK)
		err = record_key_ratchet(&c->tx, conn_hash(c));
	if (err != LULL_OK)
		return conn_fail(c, now_ms, err, LULL_CLOSE_INTERNAL_ERROR);
	if (!conn_emit_simple(c, now_ms, LULL_EV_HEARTBEAT_RECEIVED, LULL_REKEY_NONE) ||
	    (newly_stale && !conn_emit_simple(c, now_ms, LULL_EV_KEY_STALE, LULL_REKEY_IDLE)))
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
	if (acked && !conn_emit_simple(c, now_ms, LULL_EV_HEARTBEAT_ACKED, LULL_REKEY_NONE))
		return LULL_ERR_CLOSED;
	return LULL_OK;
}

/* Client (A10): the server needs a new key. */
static lull_err on_rekey_request(lull_conn *c, uint64_t now_ms, uint8_t reason)
{
	lull_rekey_reason why = reason <= LULL_REKEY_APPLICATION ? (lull_rekey_reason)reason
	                                                         : LULL_REKEY_PEER_REQUEST;
	if (!conn_emit_simple(c, now_ms, LULL_EV_REKEY_REQUESTED, why))
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

lull_err conn_on_record(lull_conn *c, uint64_t now_ms, const wire_header *h, const uint8_t *frame)
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
		if (c->state == CONN_WAIT_KEYS) {
			c->rx_ended = true; /* client: KEYS comes next */
			return LULL_OK;
		}
		break;
	case WIRE_CLOSE: {
		lull_close_reason reason = (lull_close_reason)c->scratch[0];
		conn_close(c, now_ms, reason, LULL_ERR_PEER_CLOSED, true);
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
