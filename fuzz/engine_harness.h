/*
 * engine_harness.h - drive one lull_conn (the target) from fuzz input,
 * against a real, honest peer on a virtual clock.  Shared by
 * fuzz_server_engine.c and fuzz_client_engine.c, which differ only in which
 * end is the target.
 *
 * Input: mode byte, config byte, then either raw wire bytes (fed to the
 * target in chunks whose sizes come from the input) or commands: deliver
 * the peer's frames (whole, in chunks, bit-flipped, cut, replayed), inject
 * raw bytes, advance time to an amount or to the next deadline, tick, send
 * application data either way, rekey, close, and play an authenticated but
 * malicious peer (arbitrary sealed records, ignoring the agreed max_message).
 *
 * Invariants checked (abort = finding):
 *  - a fatal error closes: receive/tick returning an error leaves the
 *    connection closed, with exactly one LULL_EV_CLOSED; a closed connection
 *    refuses every call with LULL_ERR_CLOSED, delivers nothing, emits
 *    nothing and queues no more output;
 *  - no message is delivered longer than the agreed max_message;
 *  - what is delivered is what the honest sender sent, in order: every
 *    delivered message is the next one sent, byte for byte (after the
 *    harness dropped wire bytes, a later one; after a forged DATA record or
 *    raw bytes - which, the random stream being fixed, may be records a
 *    peer with the same keys sealed - only the length bound holds);
 *  - a deadline that has passed is consumed by a tick;
 *  - output waiting to be written stays bounded.
 */
#ifndef LULL_FUZZ_ENGINE_HARNESS_H
#define LULL_FUZZ_ENGINE_HARNESS_H

#include "conn.h"
#include "fuzz_util.h"
#include "record.h"
#include "server.h"
#include "srk_pool.h"
#include "wire.h"

#define EH_WIRE_CAP      (2u << 20) /* harness-side bytes in flight, per direction */
#define EH_CAPTURE_SLOTS 8
#define EH_CAPTURE_MAX   1024 /* frames longer than this are not kept for replay */
#define EH_EXPECT_SLOTS  512
#define EH_OUTPUT_BOUND  (4u << 20)
#define EH_MSG_LEN_MAX   (4u * 65535u)
#define EH_MAX_COMMANDS  512

typedef struct eh_wire {
	uint8_t *buf;
	size_t len;
} eh_wire;

/* One direction's oracle: what the honest sender queued, in order. */
typedef struct eh_expect {
	uint32_t len[EH_EXPECT_SLOTS];
	uint32_t id[EH_EXPECT_SLOTS];
	unsigned sent, delivered;
	bool forged;  /* a forged DATA record went this way: content unchecked */
	bool dropped; /* wire bytes were dropped: messages may be skipped */
	uint32_t next_id;
} eh_expect;

typedef struct eh_side {
	lull_conn *conn;
	const char *name;
	unsigned closed_events;
	bool closed_seen; /* closed before the current call began */
	eh_expect *in;    /* what this side should receive */
} eh_side;

typedef struct eh {
	lull_config ccfg, scfg;
	lull_server *srv;
	eh_side target, peer;
	eh_side *client, *server;
	eh_expect to_target, to_peer;
	eh_wire w_target, w_peer; /* bytes on their way to target / peer */
	uint8_t capture[EH_CAPTURE_SLOTS][EH_CAPTURE_MAX];
	size_t capture_len[EH_CAPTURE_SLOTS];
	unsigned n_capture;
	uint64_t now;
	uint8_t *msg; /* scratch for application messages */
} eh;

/* LULL_FUZZ_TRACE=1 prints every event and message: for diagnosing a
 * finding with the replay driver, never while fuzzing. */
static bool eh_trace(void)
{
	static int on = -1;
	if (on < 0)
		on = getenv("LULL_FUZZ_TRACE") != NULL;
	return on;
}

static inline uint8_t eh_pattern(uint32_t id, size_t i)
{
	return (uint8_t)(id * 151u + i * 7u + (i >> 9));
}

static void eh_on_message(void *user, const uint8_t *msg, size_t len)
{
	eh_side *s = user;
	if (eh_trace())
		fprintf(stderr, "  %-6s message %zu bytes\n", s->name, len);
	FUZZ_CHECK(!s->closed_seen);
	FUZZ_CHECK(lull_conn_is_open(s->conn));
	FUZZ_CHECK(len <= s->conn->agreed.max_message_bytes);
	FUZZ_CHECK(len <= s->conn->cfg.max_message_bytes);
	eh_expect *x = s->in;
	if (x->forged)
		return;
	/* Find the message: the next one, or with dropped bytes a later one. */
	unsigned limit = x->dropped ? x->sent : x->delivered + 1;
	if (limit > x->sent)
		limit = x->sent;
	for (unsigned j = x->delivered; j < limit; j++) {
		unsigned slot = j % EH_EXPECT_SLOTS;
		if (x->len[slot] != len)
			continue;
		bool same = true;
		for (size_t i = 0; i < len && same; i++)
			same = msg[i] == eh_pattern(x->id[slot], i);
		if (same) {
			x->delivered = j + 1;
			return;
		}
	}
	fprintf(stderr,
	        "%s: delivered a message (%zu bytes) that was not sent next "
	        "(delivered %u of %u)\n",
	        s->name, len, x->delivered, x->sent);
	abort();
}

static void eh_on_event(void *user, const lull_event *ev)
{
	eh_side *s = user;
	if (eh_trace())
		fprintf(stderr, "  %-6s t=%llu %s epoch=%u reason=%s close=%s err=%s\n", s->name,
		        (unsigned long long)ev->now_ms, lull_event_name(ev->type), ev->epoch,
		        lull_rekey_reason_name(ev->rekey_reason),
		        lull_close_reason_name(ev->close_reason), lull_err_name(ev->err));
	FUZZ_CHECK(!s->closed_seen);
	/* on_spoof = drop discards authentic records by design (finding:
	 * also an honest peer's delayed ones): allow skips, still check that
	 * what is delivered is a whole message that was sent. */
	if (ev->type == LULL_EV_SPOOF_REJECTED && s->conn->agreed.on_spoof == LULL_ON_SPOOF_DROP)
		s->in->dropped = true;
	if (ev->type == LULL_EV_CLOSED) {
		s->closed_events++;
		FUZZ_CHECK(s->closed_events == 1);
	}
}

static void eh_on_srv_event(void *user, const lull_event *ev)
{
	(void)user;
	(void)ev;
}

/* Before a call into side: remember whether it was already closed. */
static void eh_before(eh_side *s)
{
	s->closed_seen = !lull_conn_is_open(s->conn);
}

/* After a call that returned err: the closed-connection invariants. */
static void eh_after(eh_side *s, lull_err err, size_t pending_before, bool nonfatal_ok)
{
	bool open = lull_conn_is_open(s->conn);
	if (s->closed_seen) {
		FUZZ_CHECK(err == LULL_ERR_CLOSED);
		FUZZ_CHECK(lull_conn_output_pending(s->conn) <= pending_before);
	}
	if (err != LULL_OK && !nonfatal_ok)
		FUZZ_CHECK(!open);
	FUZZ_CHECK(open == (s->closed_events == 0));
	FUZZ_CHECK(!lull_conn_is_ready(s->conn) || open);
	FUZZ_CHECK(lull_conn_output_pending(s->conn) <= EH_OUTPUT_BOUND);
	s->closed_seen = false;
}

/* ---- Calls into a side, each checked ---------------------------------- */

static void eh_receive(eh *h, eh_side *s, const uint8_t *bytes, size_t len)
{
	size_t pending = lull_conn_output_pending(s->conn);
	eh_before(s);
	lull_err err = lull_conn_receive(s->conn, h->now, bytes, len);
	eh_after(s, err, pending, false);
}

static void eh_tick(eh *h, eh_side *s)
{
	size_t pending = lull_conn_output_pending(s->conn);
	eh_before(s);
	lull_err err = lull_conn_tick(s->conn, h->now);
	eh_after(s, err, pending, false);
	if (lull_conn_is_open(s->conn)) {
		/* A passed deadline must be consumed, or the caller spins. */
		uint64_t d = lull_conn_next_deadline(s->conn);
		for (int i = 0; i < 3 && d <= h->now && lull_conn_is_open(s->conn); i++) {
			pending = lull_conn_output_pending(s->conn);
			eh_before(s);
			err = lull_conn_tick(s->conn, h->now);
			eh_after(s, err, pending, false);
			d = lull_conn_next_deadline(s->conn);
		}
		FUZZ_CHECK(!lull_conn_is_open(s->conn) || d > h->now);
	}
}

static void eh_send(eh *h, eh_side *from, eh_side *to, size_t len)
{
	eh_expect *x = to->in;
	uint32_t id = x->next_id++;
	for (size_t i = 0; i < len; i++)
		h->msg[i] = eh_pattern(id, i);
	size_t pending = lull_conn_output_pending(from->conn);
	eh_before(from);
	lull_err err = lull_conn_send(from->conn, h->now, h->msg, len);
	bool nonfatal = err == LULL_ERR_WOULD_BLOCK || err == LULL_ERR_MESSAGE_TOO_LARGE ||
	                err == LULL_ERR_CLOSED;
	eh_after(from, err, pending, nonfatal);
	if (eh_trace())
		fprintf(stderr, "  %-6s send %zu bytes: %s\n", from->name, len, lull_err_name(err));
	if (err == LULL_OK) {
		if (x->sent - x->delivered >= EH_EXPECT_SLOTS)
			x->forged = true; /* too many in flight to track: stop checking */
		unsigned slot = x->sent % EH_EXPECT_SLOTS;
		x->len[slot] = (uint32_t)len;
		x->id[slot] = id;
		x->sent++;
	}
}

static void eh_rekey(eh *h, eh_side *s)
{
	size_t pending = lull_conn_output_pending(s->conn);
	eh_before(s);
	lull_err err = lull_conn_rekey(s->conn, h->now);
	eh_after(s, err, pending, err == LULL_ERR_STATE || err == LULL_ERR_CLOSED);
}

static void eh_close(eh *h, eh_side *s, lull_close_reason reason)
{
	eh_before(s);
	bool was_open = lull_conn_is_open(s->conn);
	lull_conn_close(s->conn, h->now, reason);
	s->closed_seen = false;
	FUZZ_CHECK(!lull_conn_is_open(s->conn));
	FUZZ_CHECK(s->closed_events == 1);
	(void)was_open;
}

/* ---- The wire between them -------------------------------------------- */

static void eh_capture(eh *h, const uint8_t *bytes, size_t len)
{
	while (len >= WIRE_HEADER_BYTES) {
		size_t flen = WIRE_HEADER_BYTES + wire_get_u16(bytes + 2);
		if (flen > len)
			return;
		if (flen <= EH_CAPTURE_MAX) {
			unsigned slot = h->n_capture++ % EH_CAPTURE_SLOTS;
			memcpy(h->capture[slot], bytes, flen);
			h->capture_len[slot] = flen;
		}
		bytes += flen;
		len -= flen;
	}
}

static void eh_wire_append(eh_wire *w, const uint8_t *bytes, size_t len)
{
	if (len > EH_WIRE_CAP - w->len)
		len = EH_WIRE_CAP - w->len;
	memcpy(w->buf + w->len, bytes, len);
	w->len += len;
}

/* Move what side has queued onto the wire toward the other side. */
static void eh_pull(eh *h, eh_side *from, eh_wire *w, bool capture)
{
	for (;;) {
		const uint8_t *bytes;
		size_t n = lull_conn_output(from->conn, &bytes);
		if (n == 0 || w->len + n > EH_WIRE_CAP)
			return;
		if (capture)
			eh_capture(h, bytes, n);
		eh_wire_append(w, bytes, n);
		lull_conn_output_consume(from->conn, n);
	}
}

static void eh_wire_consume(eh_wire *w, size_t n)
{
	memmove(w->buf, w->buf + n, w->len - n);
	w->len -= n;
}

/* Deliver up to n bytes waiting for side `to`. */
static void eh_deliver(eh *h, eh_wire *w, eh_side *to, size_t n)
{
	if (n > w->len)
		n = w->len;
	if (n == 0)
		return;
	/* Copy: the receiver may queue output that moves nothing here, but
	 * the wire buffer must not be read while being consumed. */
	uint8_t *copy = malloc(n);
	FUZZ_CHECK(copy);
	memcpy(copy, w->buf, n);
	eh_wire_consume(w, n);
	eh_receive(h, to, copy, n);
	free(copy);
}

/* Both ways until quiet, as a well-behaved network would. */
static void eh_pump(eh *h)
{
	for (int round = 0; round < 1000; round++) {
		eh_pull(h, &h->peer, &h->w_target, true);
		eh_pull(h, &h->target, &h->w_peer, false);
		if (h->w_target.len == 0 && h->w_peer.len == 0)
			return;
		eh_deliver(h, &h->w_target, &h->target, h->w_target.len);
		eh_deliver(h, &h->w_peer, &h->peer, h->w_peer.len);
	}
	FUZZ_CHECK(!"no quiescence");
}

static void eh_tick_all(eh *h)
{
	if (lull_conn_is_open(h->target.conn))
		eh_tick(h, &h->target);
	if (lull_conn_is_open(h->peer.conn))
		eh_tick(h, &h->peer);
	lull_server_tick(h->srv, h->now);
}

static uint64_t eh_min_deadline(eh *h)
{
	uint64_t d = lull_conn_next_deadline(h->target.conn);
	uint64_t dp = lull_conn_next_deadline(h->peer.conn);
	uint64_t ds = srk_pool_next_deadline(&h->srv->pool);
	if (dp < d)
		d = dp;
	return ds < d ? ds : d;
}

/* ---- Setup ------------------------------------------------------------ */

/* The config byte: suite, lenient actions, and a timing/size profile. */
static void eh_config(lull_config *cfg, uint8_t b, bool client)
{
	lull_config_default(cfg);
	if (b & 0x01)
		cfg->suite = LULL_SUITE_CHACHAPOLY_BLAKE2B;
	if (b & 0x02)
		cfg->on_spoof = LULL_ON_SPOOF_DROP;
	if (b & 0x04)
		cfg->on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	if (b & 0x08)
		cfg->on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_STALE;
	switch ((b >> 4) & 3) {
	case 0:
		break;
	case 1: /* everything fast and small: timers and byte rekeys fire */
		cfg->heartbeat_interval_ms = 1000;
		cfg->heartbeat_timeout_ms = 300;
		cfg->heartbeat_retries = (b & 0x40) ? 2 : 0;
		cfg->rekey_bytes = 16384;
		cfg->rekey_max_age_ms = 20000;
		cfg->srk_interval_ms = 500;
		cfg->srk_lifetime_ms = 2000;
		cfg->max_message_bytes = 32768;
		break;
	case 2: /* small messages, ends disagree on the limit */
		cfg->max_message_bytes = client ? 20000 : 40000;
		cfg->heartbeat_interval_ms = client ? 5000 : 4000;
		cfg->heartbeat_timeout_ms = 1000;
		break;
	case 3: /* ends disagree on timers and byte limits */
		cfg->heartbeat_interval_ms = client ? 2000 : 3000;
		cfg->heartbeat_timeout_ms = 500;
		cfg->heartbeat_retries = client ? 1 : 0;
		cfg->rekey_bytes = client ? 100000 : 50000;
		cfg->rekey_max_age_ms = 30000;
		cfg->max_message_bytes = 65536;
		cfg->srk_keep = (b & 0x40) ? 1 : 3;
		break;
	}
	if (b & 0x80)
		cfg->srk_pool_disabled = true;
	FUZZ_CHECK(lull_config_validate(cfg, NULL) == LULL_OK);
}

static void eh_init(eh *h, bool target_is_server, uint8_t cfg_byte)
{
	memset(h, 0, sizeof(*h));
	eh_config(&h->ccfg, cfg_byte, true);
	eh_config(&h->scfg, cfg_byte, false);
	h->now = 1000000;
	h->w_target.buf = malloc(EH_WIRE_CAP);
	h->w_peer.buf = malloc(EH_WIRE_CAP);
	h->msg = malloc(EH_MSG_LEN_MAX);
	FUZZ_CHECK(h->w_target.buf && h->w_peer.buf && h->msg);
	h->target.name = "target";
	h->peer.name = "peer";
	h->target.in = &h->to_target;
	h->peer.in = &h->to_peer;
	h->client = target_is_server ? &h->peer : &h->target;
	h->server = target_is_server ? &h->target : &h->peer;

	const lull_keypair *ck = fuzz_fixed_key(0), *sk = fuzz_fixed_key(1);
	uint8_t psk[LULL_KEY_BYTES];
	memset(psk, 0x42, sizeof(psk));
	FUZZ_CHECK(lull_server_new(&h->srv, &h->scfg, sk, eh_on_srv_event, h) == LULL_OK);
	lull_server_set_random(h->srv, fuzz_random_fn, &fuzz_random_stream);
	FUZZ_CHECK(lull_server_authorize(h->srv, ck->pub, "alice", psk) == LULL_OK);
	/* A second authorized client the fuzzer cannot be: more lookups. */
	FUZZ_CHECK(lull_server_authorize(h->srv, fuzz_fixed_key(2)->pub, "bob", NULL) == LULL_OK);
	lull_callbacks ccb = {eh_on_message, eh_on_event, h->client};
	lull_callbacks scb = {eh_on_message, eh_on_event, h->server};
	FUZZ_CHECK(lull_conn_new_client(&h->client->conn, &h->ccfg, ck, sk->pub, psk, &ccb) ==
	           LULL_OK);
	FUZZ_CHECK(lull_conn_new_server(&h->server->conn, h->srv, &scb) == LULL_OK);
	FUZZ_CHECK(lull_conn_set_random(h->client->conn, fuzz_random_fn, &fuzz_random_stream) ==
	           LULL_OK);
	FUZZ_CHECK(lull_conn_start(h->server->conn, h->now) == LULL_OK);
	FUZZ_CHECK(lull_conn_start(h->client->conn, h->now) == LULL_OK);
}

static void eh_free(eh *h)
{
	lull_conn_free(h->target.conn);
	lull_conn_free(h->peer.conn);
	lull_server_free(h->srv);
	free(h->w_target.buf);
	free(h->w_peer.buf);
	free(h->msg);
}

/* ---- Commands ----------------------------------------------------------- */

enum eh_op {
	OP_PUMP,          /* both ways until quiet */
	OP_DELIVER,       /* peer -> target, whole */
	OP_DELIVER_CHUNK, /* peer -> target, n bytes */
	OP_TO_PEER,       /* target -> peer, whole */
	OP_RAW,           /* n fuzz bytes -> target */
	OP_ADVANCE,       /* time += amount, tick everyone */
	OP_DEADLINE,      /* time = next deadline, tick everyone */
	OP_PEER_SEND,
	OP_TARGET_SEND,
	OP_REKEY,
	OP_FLIP,     /* flip one bit of what is on its way to the target */
	OP_DROP,     /* drop bytes on their way to the target */
	OP_REPLAY,   /* append a frame the peer sent earlier */
	OP_FORGE,    /* the peer seals an arbitrary record (authenticated attacker) */
	OP_PEER_LIE, /* the peer ignores the agreed max_message */
	OP_CLOSE,
	OP_COUNT
};

static size_t eh_msg_len(fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	size_t len = sel & 0x3f;
	if (sel & 0x40)
		len = fuzz_u16(in);
	if (sel & 0x80)
		len *= 4;
	return len > EH_MSG_LEN_MAX ? EH_MSG_LEN_MAX : len;
}

static void eh_command(eh *h, fuzz_in *in)
{
	uint8_t op = fuzz_u8(in) % OP_COUNT;
	if (eh_trace())
		fprintf(stderr, "op %u at t=%llu\n", op, (unsigned long long)h->now);
	switch (op) {
	case OP_PUMP:
		eh_pump(h);
		break;
	case OP_DELIVER:
		eh_pull(h, &h->peer, &h->w_target, true);
		eh_deliver(h, &h->w_target, &h->target, h->w_target.len);
		break;
	case OP_DELIVER_CHUNK: {
		eh_pull(h, &h->peer, &h->w_target, true);
		eh_deliver(h, &h->w_target, &h->target, 1 + (size_t)fuzz_u8(in));
		break;
	}
	case OP_TO_PEER:
		eh_pull(h, &h->target, &h->w_peer, false);
		eh_deliver(h, &h->w_peer, &h->peer, h->w_peer.len);
		break;
	case OP_RAW: {
		size_t got;
		const uint8_t *raw = fuzz_bytes(in, fuzz_u8(in), &got);
		/* The random stream is fixed, so raw bytes may be records the
		 * peer would seal: authentic, but not sent by this peer. */
		if (got) {
			h->to_target.forged = true;
			eh_receive(h, &h->target, raw, got);
		}
		break;
	}
	case OP_ADVANCE: {
		static const uint64_t scale[4] = {1, 10, 250, 5000};
		uint16_t v = fuzz_u16(in);
		h->now += (uint64_t)(v & 0x3fff) * scale[v >> 14];
		eh_tick_all(h);
		break;
	}
	case OP_DEADLINE: {
		uint64_t d = eh_min_deadline(h);
		if (d == UINT64_MAX)
			break;
		if (d > h->now)
			h->now = d;
		eh_tick_all(h);
		break;
	}
	case OP_PEER_SEND:
		eh_send(h, &h->peer, &h->target, eh_msg_len(in));
		break;
	case OP_TARGET_SEND:
		eh_send(h, &h->target, &h->peer, eh_msg_len(in));
		break;
	case OP_REKEY:
		eh_rekey(h, (fuzz_u8(in) & 1) ? &h->peer : &h->target);
		break;
	case OP_FLIP: {
		eh_pull(h, &h->peer, &h->w_target, true);
		uint16_t off = fuzz_u16(in);
		uint8_t bit = fuzz_u8(in);
		if (h->w_target.len)
			h->w_target.buf[off % h->w_target.len] ^= (uint8_t)(1u << (bit & 7));
		break;
	}
	case OP_DROP: {
		eh_pull(h, &h->peer, &h->w_target, true);
		size_t n = 1 + (size_t)fuzz_u16(in);
		if (n > h->w_target.len)
			n = h->w_target.len;
		if (n) {
			eh_wire_consume(&h->w_target, n);
			h->to_target.dropped = true;
		}
		break;
	}
	case OP_REPLAY: {
		uint8_t sel = fuzz_u8(in);
		if (h->n_capture == 0)
			break;
		unsigned n = h->n_capture < EH_CAPTURE_SLOTS ? h->n_capture : EH_CAPTURE_SLOTS;
		unsigned slot = sel % n;
		eh_pull(h, &h->peer, &h->w_target, true);
		eh_wire_append(&h->w_target, h->capture[slot], h->capture_len[slot]);
		break;
	}
	case OP_FORGE: {
		uint8_t type = fuzz_u8(in) % (WIRE_TYPE_MAX + 2);
		uint8_t flags = fuzz_u8(in);
		flags = (flags & 0xf0) ? flags : (flags & WIRE_FLAG_MORE);
		size_t got;
		const uint8_t *pt = fuzz_bytes(in, fuzz_u8(in), &got);
		lull_conn *p = h->peer.conn;
		if (!lull_conn_is_open(p) || !p->tx.live)
			break;
		uint8_t frame[WIRE_RECORD_OVERHEAD_BYTES + 256];
		eh_pull(h, &h->peer, &h->w_target, true);
		if (record_seal(&p->tx, type, flags, pt, got, frame) != LULL_OK)
			break;
		eh_wire_append(&h->w_target, frame, WIRE_RECORD_OVERHEAD_BYTES + got);
		if (type == WIRE_DATA)
			h->to_target.forged = true;
		break;
	}
	case OP_PEER_LIE: {
		lull_conn *p = h->peer.conn;
		p->agreed.max_message_bytes = EH_MSG_LEN_MAX;
		p->cfg.max_message_bytes = EH_MSG_LEN_MAX;
		/* Its messages are still authentic; the target must refuse the
		 * oversized ones and may deliver the rest. */
		break;
	}
	case OP_CLOSE: {
		uint8_t sel = fuzz_u8(in);
		eh_side *s = (sel & 0x80) ? &h->peer : &h->target;
		if (lull_conn_is_open(s->conn))
			eh_close(h, s, (lull_close_reason)((sel & 0x7f) % LULL_CLOSE_REASON_COUNT));
		break;
	}
	}
}

/* Raw mode: the rest of the input, in chunks of input-chosen sizes. */
static void eh_raw(eh *h, fuzz_in *in)
{
	fuzz_rng chunks = {.state = fuzz_u8(in)};
	h->to_target.forged = true; /* see OP_RAW */
	while (!fuzz_in_empty(in)) {
		uint64_t r = fuzz_rng_next(&chunks);
		size_t want = (r & 1) ? in->len : 1 + (size_t)((r >> 1) % 97);
		size_t got;
		const uint8_t *bytes = fuzz_bytes(in, want, &got);
		if (!lull_conn_is_open(h->target.conn)) {
			/* Still refused, with nothing delivered or queued. */
			eh_receive(h, &h->target, bytes, got);
			return;
		}
		eh_receive(h, &h->target, bytes, got);
		if ((r >> 16) % 5 == 0) {
			h->now += (r >> 24) % 3000;
			eh_tick(h, &h->target);
		}
	}
}

/*
 * data[0]: bit 0 raw/commands, bit 1 fresh/after a handshake, bit 2 let the
 * peer's first handshake frames through before the raw bytes.
 * data[1]: the config byte (eh_config).
 */
static int eh_fuzz_one(const uint8_t *data, size_t size, bool target_is_server)
{
	if (size < 2)
		return 0;
	fuzz_random_reset(0x6c756c6c /* "lull" */);
	fuzz_in in = {data + 2, size - 2};
	uint8_t mode = data[0];
	eh h;
	eh_init(&h, target_is_server, data[1]);
	if (mode & 2) {
		eh_pump(&h);
		FUZZ_CHECK(lull_conn_is_ready(h.target.conn));
		FUZZ_CHECK(lull_conn_is_ready(h.peer.conn));
	}
	if (mode & 1) {
		for (int i = 0; i < EH_MAX_COMMANDS && !fuzz_in_empty(&in); i++)
			eh_command(&h, &in);
		/* Finally let everything settle: still no invariant broken. */
		eh_pump(&h);
	} else {
		if (mode & 4) {
			eh_pull(&h, &h.peer, &h.w_target, false);
			eh_deliver(&h, &h.w_target, &h.target, h.w_target.len);
		}
		eh_raw(&h, &in);
	}
	eh_free(&h);
	return 0;
}

#endif /* LULL_FUZZ_ENGINE_HARNESS_H */
