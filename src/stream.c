/*
 * stream.c - many byte streams over one lull connection (lull_stream.h;
 * the wire rules are docs/protocol.md §10).
 *
 * Invariants:
 *  - Sans-I/O: no clock, no socket.  Frames leave only through the
 *    engine (conn_send_parts), from flush() or - for DATA sealed straight
 *    from a write while no other frame waits (send_direct) - from
 *    lull_mux_write, both with flushing raised; a frame the engine cannot take
 *    yet (WOULD_BLOCK) stays where it was - a flag or a count on its
 *    stream, or a mux_reset entry - and nothing is ever dropped or sent
 *    twice.
 *  - Send side: a stream's queue never holds more than the peer's credit
 *    (queued <= send_credit) nor more than LULL_STREAM_QUEUE_BYTES plus
 *    one engine share, and all queues together never more than
 *    cfg.link_send_bytes: lull_mux_write takes no more than that.
 *  - Receive side: a DATA frame is delivered only if it stays within
 *    limit_sent (what this end told the peer it may send); credit grows
 *    only from lull_mux_consumed, i.e. once the consumer took the bytes.
 *    So a stream never makes this end hold more than its window.
 *  - A stream is in the send ring exactly when it has a frame to send;
 *    flush() takes one visit per stream in turn (its control frames and
 *    at most one DATA chunk), so streams share the link round-robin.
 *  - Ids: each end counts its own up from 1 (client, odd) or 2 (server,
 *    even) and never reuses one; the peer's must rise.  So an id at or
 *    below the highest seen that is not in the table is a stream that
 *    ended here (its late frames are dropped), and any other unknown id
 *    is a protocol error.
 *  - GOAWAY (drain) is the link's, id 0: once this end sent it every new
 *    OPEN of the peer is refused; once it received it lull_mux_open
 *    refuses.  Open streams are untouched either way.
 *  - Events run with in_event set; a stream may be freed by the
 *    application inside one, so after every event the stream is looked up
 *    again by id, never used through a stale pointer.
 */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "wire.h"

static void link_closed_now(lull_mux *m);

/* notify_writable keeps the ids of up to this many streams on its stack. */
#define NOTIFY_IDS_ON_STACK 16u

/* The mux stops at LULL_STREAM_ENGINE_QUEUE_BYTES of engine output and may
 * pass it by one frame: the engine must still take that frame. */
_Static_assert(LULL_STREAM_ENGINE_QUEUE_BYTES + LULL_STREAM_FRAME_MAX_BYTES +
                               WIRE_RECORD_OVERHEAD_BYTES <=
                       LULL_SEND_BUFFER_BYTES,
               "the engine's send buffer holds the mux's engine queue and one frame");

/* ---- Frames ------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

lull_err stream_frame_parse(const uint8_t *msg, size_t len, stream_frame *f)
{
	if (!msg || !f || len < LULL_STREAM_HEADER_BYTES)
		return LULL_ERR_PROTOCOL;
	memset(f, 0, sizeof(*f));
	f->type = (lull_stream_frame_type)msg[0];
	f->id = get_u32(msg + 1);
	if (f->type == LULL_STREAM_GOAWAY) /* the link's, not a stream's: id 0 */
		return len == STREAM_FRAME_GOAWAY_BYTES && f->id == 0 ? LULL_OK : LULL_ERR_PROTOCOL;
	if (f->id == 0)
		return LULL_ERR_PROTOCOL;
	switch (f->type) {
	case LULL_STREAM_OPEN:
	case LULL_STREAM_FIN:
		return len == STREAM_FRAME_OPEN_BYTES ? LULL_OK : LULL_ERR_PROTOCOL;
	case LULL_STREAM_DATA:
		if (len == LULL_STREAM_HEADER_BYTES || len > LULL_STREAM_FRAME_MAX_BYTES)
			return LULL_ERR_PROTOCOL;
		f->data = msg + LULL_STREAM_HEADER_BYTES;
		f->len = len - LULL_STREAM_HEADER_BYTES;
		return LULL_OK;
	case LULL_STREAM_RESET:
		if (len != STREAM_FRAME_RESET_BYTES)
			return LULL_ERR_PROTOCOL;
		f->reason = msg[5];
		return LULL_OK;
	case LULL_STREAM_WINDOW:
		if (len != STREAM_FRAME_WINDOW_BYTES)
			return LULL_ERR_PROTOCOL;
		f->increment = get_u32(msg + 5);
		return f->increment ? LULL_OK : LULL_ERR_PROTOCOL;
	case LULL_STREAM_GOAWAY:
		break;
	}
	return LULL_ERR_PROTOCOL;
}

size_t stream_frame_write_header(const stream_frame *f, uint8_t *out)
{
	out[0] = (uint8_t)f->type;
	put_u32(out + 1, f->id);
	switch (f->type) {
	case LULL_STREAM_RESET:
		out[5] = f->reason;
		return STREAM_FRAME_RESET_BYTES;
	case LULL_STREAM_WINDOW:
		put_u32(out + 5, f->increment);
		return STREAM_FRAME_WINDOW_BYTES;
	default:
		return LULL_STREAM_HEADER_BYTES;
	}
}

static const char *const reason_names[LULL_STREAM_REASON_COUNT] = {
        [LULL_STREAM_NORMAL] = "normal",
        [LULL_STREAM_ABORTED] = "aborted",
        [LULL_STREAM_TARGET_UNREACHABLE] = "target_unreachable",
        [LULL_STREAM_REFUSED] = "refused",
        [LULL_STREAM_FLOW_CONTROL] = "flow_control",
        [LULL_STREAM_PROTOCOL_ERROR] = "protocol_error",
        [LULL_STREAM_SHUTDOWN] = "shutdown",
        [LULL_STREAM_INTERNAL_ERROR] = "internal_error",
        [LULL_STREAM_LINK_LOST] = "link_lost",
        [LULL_STREAM_CONNECT_TIMEOUT] = "connect_timeout",
};

const char *lull_stream_reason_name(lull_stream_reason r)
{
	if ((unsigned)r >= LULL_STREAM_REASON_COUNT || !reason_names[r])
		return "unknown";
	return reason_names[r];
}

/* A reason from the wire: the local-only ones and unknown values cannot
 * be sent, and are read as "aborted" (the stream ended abnormally). */
static lull_stream_reason reason_from_wire(uint8_t r)
{
	if (r == LULL_STREAM_NORMAL || r == LULL_STREAM_LINK_LOST ||
	    r == LULL_STREAM_CONNECT_TIMEOUT || r >= LULL_STREAM_REASON_COUNT)
		return LULL_STREAM_ABORTED;
	return (lull_stream_reason)r;
}

/* ---- Configuration ------------------------------------------------------ */

void lull_mux_config_default(lull_mux_config *cfg)
{
	cfg->max_streams = LULL_STREAM_DEFAULT_MAX_STREAMS;
	cfg->initial_window = LULL_STREAM_INITIAL_WINDOW_BYTES;
	cfg->max_window = LULL_STREAM_MAX_WINDOW_BYTES;
	cfg->link_window_bytes = LULL_STREAM_DEFAULT_LINK_WINDOW_BYTES;
	cfg->link_send_bytes = LULL_STREAM_DEFAULT_LINK_SEND_BYTES;
}

lull_err lull_mux_config_validate(const lull_mux_config *cfg, const char **bad_field)
{
	const char *bad = NULL;
	if (!cfg)
		return LULL_ERR_INVALID_ARG;
	if (cfg->max_streams == 0 || cfg->max_streams > LULL_STREAM_MAX_STREAMS_LIMIT)
		bad = "max_streams";
	else if (cfg->initial_window == 0 || cfg->initial_window > LULL_STREAM_WINDOW_LIMIT_BYTES)
		bad = "initial_window";
	else if (cfg->max_window < cfg->initial_window ||
	         cfg->max_window > LULL_STREAM_WINDOW_LIMIT_BYTES)
		bad = "max_window";
	else if (cfg->link_send_bytes == 0)
		bad = "link_send_bytes";
	if (bad_field)
		*bad_field = bad;
	return bad ? LULL_ERR_CONFIG : LULL_OK;
}

/* ---- The stream table ----------------------------------------------------- */

static mux_stream **bucket_of(const lull_mux *m, uint32_t id)
{
	/* Ids are sequential per side: a multiplicative hash spreads them. */
	return &m->buckets[(id * 2654435761u) & (m->n_buckets - 1)];
}

static mux_stream *find(const lull_mux *m, uint32_t id)
{
	if (!m->buckets)
		return NULL;
	for (mux_stream *s = *bucket_of(m, id); s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static lull_err grow_table(lull_mux *m)
{
	size_t nb = m->n_buckets ? m->n_buckets * 2 : STREAM_HASH_INITIAL_BUCKETS;
	mux_stream **b = calloc(nb, sizeof(*b));
	if (!b)
		return LULL_ERR_NOMEM;
	mux_stream **old = m->buckets;
	size_t old_n = m->n_buckets;
	m->buckets = b;
	m->n_buckets = nb;
	for (size_t i = 0; i < old_n; i++) {
		for (mux_stream *s = old[i], *next; s; s = next) {
			next = s->hnext;
			mux_stream **head = bucket_of(m, s->id);
			s->hnext = *head;
			*head = s;
		}
	}
	free(old);
	return LULL_OK;
}

static lull_err stream_add(lull_mux *m, uint32_t id, void *user, mux_stream **out)
{
	if (m->n_streams >= m->n_buckets) {
		lull_err err = grow_table(m);
		if (err != LULL_OK)
			return err;
	}
	mux_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return LULL_ERR_NOMEM;
	s->id = id;
	s->user = user;
	s->send_credit = m->cfg.initial_window;
	s->window = m->cfg.initial_window;
	s->limit_sent = m->cfg.initial_window;
	mux_stream **head = bucket_of(m, id);
	s->hnext = *head;
	*head = s;
	m->n_streams++;
	*out = s;
	return LULL_OK;
}

static void ring_remove(lull_mux *m, mux_stream *s)
{
	if (!s->in_ring)
		return;
	s->in_ring = false;
	if (s->rr_next == s) {
		m->ring = NULL;
	} else {
		s->rr_prev->rr_next = s->rr_next;
		s->rr_next->rr_prev = s->rr_prev;
		if (m->ring == s)
			m->ring = s->rr_next;
	}
	s->rr_next = s->rr_prev = NULL;
}

/* Append at the tail (just before the head). */
static void ring_append(lull_mux *m, mux_stream *s)
{
	if (s->in_ring)
		return;
	s->in_ring = true;
	if (!m->ring) {
		s->rr_next = s->rr_prev = s;
		m->ring = s;
		return;
	}
	mux_stream *head = m->ring;
	s->rr_prev = head->rr_prev;
	s->rr_next = head;
	head->rr_prev->rr_next = s;
	head->rr_prev = s;
}

static bool fin_ready(const mux_stream *s)
{
	return s->fin_wanted && !s->fin_sent && s->queued == 0;
}

static bool has_work(const mux_stream *s)
{
	return s->open_due || s->credit_due || s->queued > 0 || fin_ready(s);
}

static void schedule(lull_mux *m, mux_stream *s)
{
	if (has_work(s))
		ring_append(m, s);
}

static void drop_queue(lull_mux *m, mux_stream *s)
{
	for (stream_chunk *c = s->q_head, *next; c; c = next) {
		next = c->next;
		lull_wipe(c->data, c->len);
		free(c);
	}
	m->queued -= s->queued;
	s->q_head = s->q_tail = NULL;
	s->queued = 0;
}

/* Unlink and free; no event, no frame. */
static void stream_forget(lull_mux *m, mux_stream *s)
{
	ring_remove(m, s);
	drop_queue(m, s);
	for (mux_stream **pp = bucket_of(m, s->id); *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	m->n_streams--;
	m->window_extra -= s->window - m->cfg.initial_window;
	free(s);
	if (m->n_streams == 0) {
		/* An idle link keeps no table: made again by the next stream
		 * (a link's streams are often far apart, and tables made while
		 * many streams come and go would pin their memory). */
		free(m->buckets);
		m->buckets = NULL;
		m->n_buckets = 0;
	}
}

/* ---- Events --------------------------------------------------------------- */

static void emit(lull_mux *m, lull_stream_event *ev)
{
	if (!m->on_event)
		return;
	bool nested = m->in_event;
	m->in_event = true;
	m->on_event(m->user, ev);
	m->in_event = nested;
}

static void emit_closed(lull_mux *m, mux_stream *s, lull_stream_reason reason, bool by_peer)
{
	lull_stream_event ev = {
	        .type = LULL_STREAM_EV_CLOSED,
	        .id = s->id,
	        .stream_user = s->user,
	        .reason = reason,
	        .by_peer = by_peer,
	        .bytes_in = s->bytes_in,
	        .bytes_out = s->bytes_out,
	};
	stream_forget(m, s);
	emit(m, &ev);
}

/* ---- Output --------------------------------------------------------------- */

static bool id_is_local(const lull_mux *m, uint32_t id)
{
	return (id & 1u) == (m->is_client ? 1u : 0u);
}

static lull_err queue_reset(lull_mux *m, uint64_t now, uint32_t id, lull_stream_reason reason)
{
	/* One per stream that ended; bounded like the streams themselves, so a
	 * peer that floods OPENs while never reading cannot grow it forever. */
	if (m->n_resets >= (size_t)m->cfg.max_streams * 2) {
		lull_conn_close(m->conn, now, LULL_CLOSE_PROTOCOL_ERROR);
		return LULL_ERR_PROTOCOL;
	}
	mux_reset *r = malloc(sizeof(*r));
	if (!r)
		return LULL_ERR_NOMEM;
	r->next = NULL;
	r->id = id;
	r->reason = (uint8_t)reason;
	if (m->resets_tail)
		m->resets_tail->next = r;
	else
		m->resets_head = r;
	m->resets_tail = r;
	m->n_resets++;
	return LULL_OK;
}

static bool engine_full(const lull_mux *m)
{
	return lull_conn_output_pending(m->conn) >= LULL_STREAM_ENGINE_QUEUE_BYTES;
}

/* LULL_OK, LULL_ERR_WOULD_BLOCK (try later) or a link failure. */
static lull_err send_pieces(lull_mux *m, uint64_t now, const crypto_part *pieces, size_t n)
{
	lull_err err = conn_send_parts(m->conn, now, pieces, n);
	if (err == LULL_OK || err == LULL_ERR_WOULD_BLOCK)
		return err;
	/* A frame the link could not carry would leave a gap in a stream. */
	if (err != LULL_ERR_CLOSED)
		lull_conn_close(m->conn, now, LULL_CLOSE_INTERNAL_ERROR);
	return err;
}

static lull_err send_frame(lull_mux *m, uint64_t now, const uint8_t *frame, size_t len)
{
	crypto_part whole = {.data = frame, .len = len};
	return send_pieces(m, now, &whole, 1);
}

static lull_err send_control(lull_mux *m, uint64_t now, lull_stream_frame_type type, uint32_t id,
                             uint32_t value)
{
	stream_frame f = {.type = type, .id = id};
	if (type == LULL_STREAM_WINDOW)
		f.increment = value;
	else if (type == LULL_STREAM_RESET)
		f.reason = (uint8_t)value;
	uint8_t buf[STREAM_FRAME_WINDOW_BYTES];
	size_t n = stream_frame_write_header(&f, buf);
	return send_frame(m, now, buf, n);
}

static size_t chunk_limit(const lull_mux *m)
{
	size_t max = lull_conn_max_message(m->conn);
	size_t n = max - LULL_STREAM_HEADER_BYTES;
	return n < LULL_STREAM_CHUNK_BYTES ? n : LULL_STREAM_CHUNK_BYTES;
}

/* Up to one chunk of s's queue as one DATA frame, sealed from the queue
 * where it lies (a frame takes at most CONN_PARTS_MAX - 1 chunks). */
static lull_err send_data(lull_mux *m, uint64_t now, mux_stream *s)
{
	uint8_t head[LULL_STREAM_HEADER_BYTES];
	stream_frame f = {.type = LULL_STREAM_DATA, .id = s->id};
	crypto_part pieces[CONN_PARTS_MAX];
	pieces[0] = (crypto_part){.data = head, .len = stream_frame_write_header(&f, head)};
	size_t np = 1, cap = chunk_limit(m), n = 0;
	stream_chunk *c = s->q_head;
	for (; c && n < cap && np < CONN_PARTS_MAX; c = c->next) {
		size_t k = c->len - c->off;
		if (k > cap - n)
			k = cap - n;
		pieces[np++] = (crypto_part){.data = c->data + c->off, .len = k};
		n += k;
	}
	lull_err err;
	if (c && n < cap) {
		/* Many small writes queued: gather them, so that a frame is
		 * still a full chunk rather than CONN_PARTS_MAX - 1 of them. */
		uint8_t frame[LULL_STREAM_CHUNK_BYTES];
		n = 0;
		for (c = s->q_head; c && n < cap; c = c->next) {
			size_t k = c->len - c->off;
			if (k > cap - n)
				k = cap - n;
			memcpy(frame + n, c->data + c->off, k);
			n += k;
		}
		crypto_part gathered[2] = {pieces[0], {.data = frame, .len = n}};
		err = send_pieces(m, now, gathered, 2);
		lull_wipe(frame, n);
	} else {
		err = send_pieces(m, now, pieces, np);
	}
	if (err != LULL_OK)
		return err;
	s->send_credit -= n;
	s->queued -= n;
	m->queued -= n;
	s->bytes_out += n;
	while (n > 0) {
		c = s->q_head;
		size_t k = c->len - c->off;
		if (k > n) {
			c->off += n;
			break;
		}
		n -= k;
		s->q_head = c->next;
		if (!s->q_head)
			s->q_tail = NULL;
		lull_wipe(c->data, c->len);
		free(c);
	}
	return LULL_OK;
}

/* Room in the engine's output, at once, for the DATA frames carrying up
 * to data_bytes (as much as the engine takes before it is full): one
 * allocation instead of a copy per doubling as the frames go in.  A
 * failure is left to the sends that follow, which report it. */
static void reserve_output(lull_mux *m, size_t data_bytes)
{
	size_t pending = lull_conn_output_pending(m->conn);
	if (pending >= LULL_STREAM_ENGINE_QUEUE_BYTES)
		return;
	size_t cap = chunk_limit(m), limit = LULL_STREAM_ENGINE_QUEUE_BYTES - pending + cap;
	if (data_bytes > limit)
		data_bytes = limit;
	size_t frames = (data_bytes + cap - 1) / cap;
	(void)conn_out_reserve(m->conn, data_bytes + frames * (LULL_STREAM_HEADER_BYTES +
	                                                       WIRE_RECORD_OVERHEAD_BYTES));
}

/* send_direct's condition: nothing else waits to be sent (no stream in
 * the ring, no RESET or GOAWAY due: the round-robin has nobody to be fair
 * to), s has nothing queued, and the engine takes DATA. */
static bool may_send_direct(const lull_mux *m, const mux_stream *s)
{
	return !m->ring && !m->flushing && !m->closed && !m->goaway_due && !m->resets_head &&
	       s->queued == 0 && !s->open_due && lull_conn_is_open(m->conn) &&
	       !m->conn->held_head && /* waiting for keys: held, not output */
	       lull_conn_max_message(m->conn) >= STREAM_MIN_MAX_MESSAGE_BYTES;
}

/* What one write may seal straight into the engine: its room, shared
 * among the link's streams (at least one chunk), so that a stream whose
 * read comes first after the engine drained does not take all of it
 * while others wait for their turn in the ring. */
static size_t direct_share(const lull_mux *m)
{
	size_t pending = lull_conn_output_pending(m->conn);
	if (pending >= LULL_STREAM_ENGINE_QUEUE_BYTES)
		return 0;
	size_t room = LULL_STREAM_ENGINE_QUEUE_BYTES - pending;
	size_t share = LULL_STREAM_ENGINE_QUEUE_BYTES / (m->n_streams ? m->n_streams : 1);
	if (share < LULL_STREAM_CHUNK_BYTES)
		share = LULL_STREAM_CHUNK_BYTES;
	return share < room ? share : room;
}

/* lull_mux_write's fast path: while nothing else waits to be sent (no
 * stream in the ring, no RESET or GOAWAY due: the round-robin has nobody
 * to be fair to) and the engine has room, DATA frames are sealed straight
 * from the caller's bytes, without a copy in the stream's queue.  Returns
 * the bytes sent (counted against s's credit); *err is set on a link
 * failure only. */
static size_t send_direct(lull_mux *m, uint64_t now, mux_stream *s, const uint8_t *data, size_t len,
                          lull_err *err)
{
	*err = LULL_OK;
	if (!may_send_direct(m, s))
		return 0;
	uint8_t head[LULL_STREAM_HEADER_BYTES];
	stream_frame f = {.type = LULL_STREAM_DATA, .id = s->id};
	size_t hlen = stream_frame_write_header(&f, head), cap = chunk_limit(m), sent = 0;
	size_t share = direct_share(m);
	if (len > share)
		len = share;
	reserve_output(m, len);
	/* As in flush(): a link that closes inside a send ends its streams
	 * only once s is no longer in use. */
	m->flushing++;
	while (sent < len && !engine_full(m) && !m->closed) {
		size_t k = len - sent < cap ? len - sent : cap;
		crypto_part pieces[2] = {{.data = head, .len = hlen},
		                         {.data = data + sent, .len = k}};
		lull_err e = send_pieces(m, now, pieces, 2);
		if (e == LULL_ERR_WOULD_BLOCK)
			break;
		if (e != LULL_OK) {
			*err = e;
			break;
		}
		s->send_credit -= k;
		s->bytes_out += k;
		sent += k;
	}
	m->flushing--;
	if (m->close_deferred && !m->flushing) {
		m->close_deferred = false;
		link_closed_now(m); /* s is gone: the caller must not touch it */
		*err = LULL_ERR_CLOSED;
	}
	return sent;
}

/* One visit: the stream's control frames and at most one DATA chunk.
 * Returns the first error (WOULD_BLOCK: the engine is full). */
static lull_err visit(lull_mux *m, uint64_t now, mux_stream *s)
{
	lull_err err;
	if (s->open_due) {
		if ((err = send_control(m, now, LULL_STREAM_OPEN, s->id, 0)) != LULL_OK)
			return err;
		s->open_due = false;
	}
	if (s->credit_due) {
		if ((err = send_control(m, now, LULL_STREAM_WINDOW, s->id, s->credit_due)) !=
		    LULL_OK)
			return err;
		s->limit_sent += s->credit_due;
		s->credit_due = 0;
	}
	if (s->queued > 0 && (err = send_data(m, now, s)) != LULL_OK)
		return err;
	if (fin_ready(s)) {
		if ((err = send_control(m, now, LULL_STREAM_FIN, s->id, 0)) != LULL_OK)
			return err;
		s->fin_sent = true;
	}
	return LULL_OK;
}

/* After a visit: a stream that ended both ways is done. */
static void settle(lull_mux *m, mux_stream *s)
{
	if (s->fin_sent && s->fin_received && s->queued == 0)
		emit_closed(m, s, LULL_STREAM_NORMAL, false);
}

/* The room a stream may offer lull_mux_write (see the invariants): its
 * credit, the link's send budget, and what its queue may still hold -
 * plus, when its bytes can go straight to the engine, the engine's room,
 * so that one large read is sealed without a copy and only the rest
 * queued. */
static size_t room_of(const lull_mux *m, const mux_stream *s)
{
	if (s->fin_wanted || s->queued >= LULL_STREAM_QUEUE_BYTES)
		return 0;
	uint64_t r = s->send_credit - s->queued;
	uint64_t link = m->cfg.link_send_bytes > m->queued ? m->cfg.link_send_bytes - m->queued : 0;
	if (link < r)
		r = link;
	uint64_t q = LULL_STREAM_QUEUE_BYTES - s->queued;
	if (may_send_direct(m, s))
		q += direct_share(m);
	if (q < r)
		r = q;
	return (size_t)r;
}

/* A stream without room waits on the link - its send budget, or its own
 * queue leaving - rather than (only) on the peer's credit: it hears
 * WRITABLE when a flush drains queues (notify_writable). */
static bool waits_on_queues(const lull_mux *m, const mux_stream *s)
{
	return m->queued >= m->cfg.link_send_bytes || s->queued >= LULL_STREAM_QUEUE_BYTES;
}

/* Streams whose room came back from 0 hear so: after the link's send
 * budget drained (any stream may have been waiting on it) or, with one
 * stream given, after its credit grew.  Ids are collected first and looked
 * up again before each event, because the application may end streams
 * from inside one. */
static void notify_writable(lull_mux *m, mux_stream *only)
{
	if (!m->on_event || m->closed)
		return;
	if (only) {
		if (only->blocked && room_of(m, only) > 0) {
			only->blocked = false;
			lull_stream_event ev = {.type = LULL_STREAM_EV_WRITABLE,
			                        .id = only->id,
			                        .stream_user = only->user};
			emit(m, &ev);
		}
		return;
	}
	if (!m->link_blocked || m->queued >= m->cfg.link_send_bytes)
		return;
	m->link_blocked = false;
	bool still = false;
	/* A link with few streams (the bulk case: this runs after most
	 * flushes) needs no allocation. */
	uint32_t few[NOTIFY_IDS_ON_STACK];
	uint32_t *ids =
	        m->n_streams <= NOTIFY_IDS_ON_STACK ? few : malloc(m->n_streams * sizeof(*ids));
	if (!ids) {
		m->link_blocked = true; /* try again at the next flush */
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < m->n_buckets; i++)
		for (mux_stream *s = m->buckets[i]; s; s = s->hnext)
			if (s->blocked && n < m->n_streams)
				ids[n++] = s->id;
	for (size_t i = 0; i < n && !m->closed; i++) {
		mux_stream *s = find(m, ids[i]);
		if (s && s->blocked && room_of(m, s) > 0) {
			s->blocked = false;
			lull_stream_event ev = {.type = LULL_STREAM_EV_WRITABLE,
			                        .id = s->id,
			                        .stream_user = s->user};
			emit(m, &ev);
		} else if (s && s->blocked && waits_on_queues(m, s)) {
			still = true;
		}
	}
	if (ids != few)
		free(ids);
	if (still && !m->closed)
		m->link_blocked = true; /* its queue has yet to drain further */
}

lull_err lull_mux_flush(lull_mux *m, uint64_t now_ms)
{
	if (!m)
		return LULL_ERR_INVALID_ARG;
	if (m->closed || !lull_conn_is_open(m->conn))
		return LULL_ERR_CLOSED;
	if (lull_conn_max_message(m->conn) < STREAM_MIN_MAX_MESSAGE_BYTES) {
		lull_conn_close(m->conn, now_ms, LULL_CLOSE_INTERNAL_ERROR);
		return LULL_ERR_CONFIG;
	}
	size_t queued_before = m->queued;
	lull_err err = LULL_OK;
	m->flushing++;
	if (m->goaway_due && !engine_full(m)) {
		err = send_control(m, now_ms, LULL_STREAM_GOAWAY, 0, 0);
		if (err == LULL_OK)
			m->goaway_due = false;
	}
	while (err == LULL_OK && m->resets_head && !engine_full(m) && !m->closed) {
		mux_reset *r = m->resets_head;
		err = send_control(m, now_ms, LULL_STREAM_RESET, r->id, r->reason);
		if (err != LULL_OK)
			break;
		m->resets_head = r->next;
		if (!m->resets_head)
			m->resets_tail = NULL;
		m->n_resets--;
		free(r);
	}
	if (err == LULL_OK && m->ring && m->queued > 0)
		reserve_output(m, m->queued);
	while (err == LULL_OK && m->ring && !engine_full(m)) {
		mux_stream *s = m->ring;
		err = visit(m, now_ms, s);
		/* Next turn goes to the one after s, whatever happened to it. */
		m->ring = s->rr_next;
		if (!has_work(s))
			ring_remove(m, s);
		if (m->closed)
			break;
		if (err == LULL_OK)
			settle(m, s);
	}
	m->flushing--;
	if (m->close_deferred && !m->flushing) {
		m->close_deferred = false;
		link_closed_now(m);
		return LULL_ERR_CLOSED;
	}
	if (err == LULL_ERR_WOULD_BLOCK)
		err = LULL_OK; /* the rest waits for the engine's room */
	if (m->queued < queued_before)
		notify_writable(m, NULL);
	return err;
}

/* ---- Construction -------------------------------------------------------- */

lull_err lull_mux_new(lull_mux **out, lull_conn *conn, bool is_client, const lull_mux_config *cfg,
                      lull_stream_event_fn on_event, void *user)
{
	if (!out || !conn)
		return LULL_ERR_INVALID_ARG;
	*out = NULL;
	lull_mux_config def;
	if (!cfg) {
		lull_mux_config_default(&def);
		cfg = &def;
	}
	lull_err err = lull_mux_config_validate(cfg, NULL);
	if (err != LULL_OK)
		return err;
	lull_mux *m = calloc(1, sizeof(*m));
	if (!m)
		return LULL_ERR_NOMEM;
	m->conn = conn;
	m->is_client = is_client;
	m->cfg = *cfg;
	m->on_event = on_event;
	m->user = user;
	m->next_local_id = is_client ? 1 : 2;
	*out = m;
	return LULL_OK;
}

static void free_all(lull_mux *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (mux_stream *s = m->buckets[i], *next; s; s = next) {
			next = s->hnext;
			drop_queue(m, s);
			free(s);
		}
		m->buckets[i] = NULL;
	}
	m->n_streams = 0;
	m->ring = NULL;
	m->window_extra = 0;
	for (mux_reset *r = m->resets_head, *next; r; r = next) {
		next = r->next;
		free(r);
	}
	m->resets_head = m->resets_tail = NULL;
	m->n_resets = 0;
}

void lull_mux_free(lull_mux *m)
{
	if (!m)
		return;
	free_all(m);
	free(m->buckets);
	free(m);
}

void lull_mux_link_closed(lull_mux *m)
{
	if (!m || m->closed)
		return;
	m->closed = true;
	if (m->flushing) {
		/* The engine closed inside one of flush's sends: the stream
		 * being visited must outlive that visit.  flush() ends the
		 * streams when it unwinds. */
		m->close_deferred = true;
		return;
	}
	link_closed_now(m);
}

static void link_closed_now(lull_mux *m)
{
	/* One at a time from the table, each forgotten before its event (the
	 * last one frees the table: n_buckets drops to 0). */
	for (size_t i = 0; i < m->n_buckets; i++) {
		while (i < m->n_buckets && m->buckets[i]) {
			mux_stream *s = m->buckets[i];
			bool done = s->fin_sent && s->fin_received;
			emit_closed(m, s, done ? LULL_STREAM_NORMAL : LULL_STREAM_LINK_LOST, false);
		}
	}
	free_all(m);
}

/* ---- Application calls --------------------------------------------------- */

/* The live stream id names, or the error that says why there is none. */
static lull_err live_stream(lull_mux *m, uint32_t id, mux_stream **out)
{
	*out = NULL;
	if (!m)
		return LULL_ERR_INVALID_ARG;
	if (m->closed)
		return LULL_ERR_CLOSED;
	*out = find(m, id);
	return *out ? LULL_OK : LULL_ERR_STREAM_UNKNOWN;
}

/* After a call changed what there is to send: the call itself succeeded
 * even if the link closed meanwhile (the CLOSED events say so). */
static lull_err flush_after(lull_mux *m, uint64_t now)
{
	lull_err err = lull_mux_flush(m, now);
	return err == LULL_ERR_CLOSED ? LULL_OK : err;
}

lull_err lull_mux_open(lull_mux *m, uint64_t now_ms, void *stream_user, uint32_t *id)
{
	if (!m || !id)
		return LULL_ERR_INVALID_ARG;
	if (m->closed)
		return LULL_ERR_CLOSED;
	if (m->goaway_received)
		return LULL_ERR_STATE; /* the peer is draining: use another link */
	if (m->n_streams >= m->cfg.max_streams)
		return LULL_ERR_STREAM_LIMIT;
	if (m->next_local_id > UINT32_MAX - 2)
		return LULL_ERR_STREAM_LIMIT; /* ids are never reused: this link is spent */
	mux_stream *s;
	lull_err err = stream_add(m, m->next_local_id, stream_user, &s);
	if (err != LULL_OK)
		return err;
	m->next_local_id += 2;
	s->open_due = true;
	*id = s->id;
	schedule(m, s);
	return flush_after(m, now_ms);
}

lull_err lull_mux_goaway(lull_mux *m, uint64_t now_ms)
{
	if (!m)
		return LULL_ERR_INVALID_ARG;
	if (m->closed)
		return LULL_ERR_CLOSED;
	if (m->goaway_sent)
		return LULL_OK;
	/* Refusing starts now, not when the frame leaves: an OPEN that
	 * crosses it is refused either way (§10.6). */
	m->goaway_sent = true;
	m->goaway_due = true;
	return flush_after(m, now_ms);
}

bool lull_mux_goaway_sent(const lull_mux *m)
{
	return m && m->goaway_sent;
}

bool lull_mux_goaway_received(const lull_mux *m)
{
	return m && m->goaway_received;
}

lull_err lull_mux_set_user(lull_mux *m, uint32_t id, void *stream_user)
{
	mux_stream *s;
	lull_err err = live_stream(m, id, &s);
	if (err != LULL_OK)
		return err;
	s->user = stream_user;
	return LULL_OK;
}

size_t lull_mux_write_room(lull_mux *m, uint32_t id)
{
	if (!m || m->closed)
		return 0;
	mux_stream *s = find(m, id);
	if (!s)
		return 0;
	size_t room = room_of(m, s);
	if (room == 0 && !s->fin_wanted) {
		/* The caller will wait for room: it must hear when it comes. */
		s->blocked = true;
		if (waits_on_queues(m, s))
			m->link_blocked = true;
	}
	return room;
}

lull_err lull_mux_write(lull_mux *m, uint64_t now_ms, uint32_t id, const uint8_t *data, size_t len,
                        size_t *taken)
{
	if (!taken || (!data && len))
		return LULL_ERR_INVALID_ARG;
	*taken = 0;
	mux_stream *s;
	lull_err err = live_stream(m, id, &s);
	if (err != LULL_OK)
		return err;
	if (s->fin_wanted)
		return LULL_ERR_STREAM_STATE;
	size_t n = room_of(m, s);
	if (n > len)
		n = len;
	if (n == 0) {
		if (len > 0) {
			s->blocked = true;
			if (waits_on_queues(m, s))
				m->link_blocked = true;
		}
		return len > 0 ? LULL_ERR_WOULD_BLOCK : LULL_OK;
	}
	size_t direct = send_direct(m, now_ms, s, data, n, &err);
	*taken = direct;
	if (err != LULL_OK) /* the link failed: its CLOSED events say so */
		return err == LULL_ERR_CLOSED ? LULL_OK : err;
	if (direct < n) {
		size_t rest = n - direct;
		stream_chunk *c = malloc(sizeof(*c) + rest);
		if (!c)
			return LULL_ERR_NOMEM; /* *taken says what went */
		c->next = NULL;
		c->len = rest;
		c->off = 0;
		memcpy(c->data, data + direct, rest);
		if (s->q_tail)
			s->q_tail->next = c;
		else
			s->q_head = c;
		s->q_tail = c;
		s->queued += rest;
		m->queued += rest;
		*taken = n;
	}
	if (room_of(m, s) == 0) {
		s->blocked = true;
		if (waits_on_queues(m, s))
			m->link_blocked = true;
	}
	schedule(m, s);
	return flush_after(m, now_ms);
}

lull_err lull_mux_shutdown(lull_mux *m, uint64_t now_ms, uint32_t id)
{
	mux_stream *s;
	lull_err err = live_stream(m, id, &s);
	if (err != LULL_OK)
		return err;
	if (s->fin_wanted)
		return LULL_ERR_STREAM_STATE;
	s->fin_wanted = true;
	schedule(m, s);
	return flush_after(m, now_ms);
}

lull_err lull_mux_reset(lull_mux *m, uint64_t now_ms, uint32_t id, lull_stream_reason reason)
{
	if (reason == LULL_STREAM_NORMAL || (unsigned)reason >= LULL_STREAM_REASON_COUNT)
		return LULL_ERR_INVALID_ARG;
	mux_stream *s;
	lull_err err = live_stream(m, id, &s);
	if (err != LULL_OK)
		return err;
	bool opened = !s->open_due; /* the peer knows it: tell it it ended */
	stream_forget(m, s);
	if (!opened)
		return LULL_OK;
	err = queue_reset(m, now_ms, id, reason);
	if (err != LULL_OK)
		return err;
	return flush_after(m, now_ms);
}

lull_err lull_mux_consumed(lull_mux *m, uint64_t now_ms, uint32_t id, size_t n)
{
	mux_stream *s;
	lull_err err = live_stream(m, id, &s);
	if (err != LULL_OK)
		return err; /* STREAM_UNKNOWN: ended meanwhile, nothing to credit */
	if (n > s->bytes_in - s->consumed)
		return LULL_ERR_INVALID_ARG;
	s->consumed += n;
	if (s->fin_received)
		return LULL_OK; /* the peer sends no more: no credit needed */
	uint64_t announced = s->limit_sent + s->credit_due;
	uint64_t target = s->consumed + s->window;
	bool due = target > announced && target - announced >= s->window / 2;
	/* Grow when the window, not the consumer, held the stream back: the
	 * peer had used all of it and the consumer has taken all of it, or
	 * half a window went through within LULL_STREAM_WINDOW_GROW_MS.
	 * Within the link's budget only. */
	bool window_bound = s->bytes_in >= s->limit_sent && s->consumed == s->bytes_in;
	bool fast = due && s->credited && now_ms - s->credit_ms < LULL_STREAM_WINDOW_GROW_MS;
	if ((window_bound || fast) && s->window < m->cfg.max_window) {
		uint64_t grow = s->window;
		if (grow > m->cfg.max_window - s->window)
			grow = m->cfg.max_window - s->window;
		/* Growth by rate alone stops at LULL_STREAM_RATE_WINDOW_BYTES:
		 * enough to make WINDOW frames rare, small enough that every
		 * stream of a busy link gets there within the link's budget (a
		 * stream that grew first must not keep a bigger share of a
		 * credit-bound link). */
		bool fair = window_bound || s->window + grow <= LULL_STREAM_RATE_WINDOW_BYTES;
		if (fair && m->window_extra + grow <= m->cfg.link_window_bytes) {
			s->window += (uint32_t)grow;
			m->window_extra += grow;
		}
	}
	target = s->consumed + s->window;
	/* Credit in batches of half a window: fewer WINDOW frames. */
	if (target > announced && target - announced >= s->window / 2) {
		s->credit_due += (uint32_t)(target - announced);
		s->credit_ms = now_ms;
		s->credited = true;
		schedule(m, s);
		return flush_after(m, now_ms);
	}
	return LULL_OK;
}

size_t lull_mux_stream_count(const lull_mux *m)
{
	return m ? m->n_streams : 0;
}

size_t lull_mux_queued_bytes(const lull_mux *m)
{
	return m ? m->queued : 0;
}

uint64_t lull_mux_window_total(const lull_mux *m)
{
	return m ? (uint64_t)m->n_streams * m->cfg.initial_window + m->window_extra : 0;
}

/* ---- Receiving ------------------------------------------------------------ */

/* The link cannot go on: the peer broke a rule no single stream owns. */
static lull_err link_violation(lull_mux *m, uint64_t now, lull_err err)
{
	lull_conn_close(m->conn, now, LULL_CLOSE_PROTOCOL_ERROR);
	return err;
}

/* The peer broke a stream's rules: reset it, tell the application. */
static lull_err stream_violation(lull_mux *m, uint64_t now, mux_stream *s, lull_err err,
                                 lull_stream_reason reason)
{
	uint32_t id = s->id;
	lull_stream_event ev = {.type = LULL_STREAM_EV_ERROR,
	                        .id = id,
	                        .stream_user = s->user,
	                        .reason = reason,
	                        .err = err};
	emit(m, &ev);
	s = find(m, id);
	if (s) {
		emit_closed(m, s, reason, false);
		if (queue_reset(m, now, id, reason) == LULL_OK)
			(void)lull_mux_flush(m, now);
	}
	return err;
}

static lull_err on_open(lull_mux *m, uint64_t now, uint32_t id)
{
	if (id_is_local(m, id) || id <= m->peer_max_id)
		return link_violation(m, now, LULL_ERR_PROTOCOL); /* wrong parity, or reused */
	m->peer_max_id = id;
	if (m->goaway_sent || m->n_streams >= m->cfg.max_streams) {
		/* Documented: refused with a RESET, the link goes on.  After
		 * our GOAWAY the peer should open no stream here (§10.6). */
		lull_err why = m->goaway_sent ? LULL_ERR_STATE : LULL_ERR_STREAM_LIMIT;
		lull_stream_event ev = {.type = LULL_STREAM_EV_ERROR,
		                        .id = id,
		                        .reason = LULL_STREAM_REFUSED,
		                        .err = why};
		emit(m, &ev);
		lull_err err = queue_reset(m, now, id, LULL_STREAM_REFUSED);
		if (err == LULL_OK)
			(void)lull_mux_flush(m, now);
		return why;
	}
	mux_stream *s;
	lull_err err = stream_add(m, id, NULL, &s);
	if (err != LULL_OK) {
		if (queue_reset(m, now, id, LULL_STREAM_REFUSED) == LULL_OK)
			(void)lull_mux_flush(m, now);
		return err;
	}
	lull_stream_event ev = {.type = LULL_STREAM_EV_OPENED, .id = id};
	emit(m, &ev);
	return LULL_OK;
}

/* Whether id names a stream that existed and ended here. */
static bool id_was_used(const lull_mux *m, uint32_t id)
{
	if (id_is_local(m, id))
		return id < m->next_local_id;
	return id <= m->peer_max_id;
}

lull_err lull_mux_receive(lull_mux *m, uint64_t now_ms, const uint8_t *msg, size_t len)
{
	if (!m)
		return LULL_ERR_INVALID_ARG;
	if (m->in_event)
		return LULL_ERR_STATE;
	if (m->closed)
		return LULL_ERR_CLOSED;
	stream_frame f;
	if (stream_frame_parse(msg, len, &f) != LULL_OK)
		return link_violation(m, now_ms, LULL_ERR_PROTOCOL);
	if (f.type == LULL_STREAM_OPEN)
		return on_open(m, now_ms, f.id);
	if (f.type == LULL_STREAM_GOAWAY) {
		if (m->goaway_received)
			return LULL_OK; /* said once is enough: a repeat changes nothing */
		m->goaway_received = true;
		lull_stream_event ev = {.type = LULL_STREAM_EV_GOAWAY};
		emit(m, &ev);
		return LULL_OK;
	}
	mux_stream *s = find(m, f.id);
	if (!s) {
		/* Frames in flight when the stream ended here: dropped. */
		if (id_was_used(m, f.id))
			return LULL_OK;
		return link_violation(m, now_ms, LULL_ERR_STREAM_UNKNOWN);
	}
	if (s->open_due)
		/* The peer cannot know a stream whose OPEN we have not sent. */
		return link_violation(m, now_ms, LULL_ERR_STREAM_UNKNOWN);
	switch (f.type) {
	case LULL_STREAM_DATA: {
		if (s->fin_received)
			return stream_violation(m, now_ms, s, LULL_ERR_STREAM_STATE,
			                        LULL_STREAM_PROTOCOL_ERROR);
		if (f.len > s->limit_sent - s->bytes_in)
			return stream_violation(m, now_ms, s, LULL_ERR_FLOW_CONTROL,
			                        LULL_STREAM_FLOW_CONTROL);
		s->bytes_in += f.len;
		lull_stream_event ev = {.type = LULL_STREAM_EV_DATA,
		                        .id = s->id,
		                        .stream_user = s->user,
		                        .data = f.data,
		                        .len = f.len};
		emit(m, &ev);
		return LULL_OK;
	}
	case LULL_STREAM_FIN: {
		if (s->fin_received)
			return stream_violation(m, now_ms, s, LULL_ERR_STREAM_STATE,
			                        LULL_STREAM_PROTOCOL_ERROR);
		s->fin_received = true;
		s->credit_due = 0; /* no more data comes: no credit to give */
		lull_stream_event ev = {
		        .type = LULL_STREAM_EV_FIN, .id = s->id, .stream_user = s->user};
		emit(m, &ev);
		s = find(m, f.id);
		if (s) {
			if (!has_work(s))
				ring_remove(m, s);
			settle(m, s);
		}
		return LULL_OK;
	}
	case LULL_STREAM_RESET:
		emit_closed(m, s, reason_from_wire(f.reason), true);
		return LULL_OK;
	case LULL_STREAM_WINDOW: {
		if (s->fin_sent)
			return LULL_OK; /* nothing more to send: credit is moot */
		if (f.increment > LULL_STREAM_WINDOW_LIMIT_BYTES - s->send_credit)
			return stream_violation(m, now_ms, s, LULL_ERR_WINDOW_OVERFLOW,
			                        LULL_STREAM_FLOW_CONTROL);
		s->send_credit += f.increment;
		schedule(m, s);
		lull_err err = lull_mux_flush(m, now_ms);
		if (err != LULL_OK && err != LULL_ERR_CLOSED)
			return err;
		s = find(m, f.id);
		if (s)
			notify_writable(m, s);
		return LULL_OK;
	}
	case LULL_STREAM_OPEN:
	case LULL_STREAM_GOAWAY:
		break;
	}
	return link_violation(m, now_ms, LULL_ERR_PROTOCOL);
}
