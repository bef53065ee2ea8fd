/*
 * tunnel.c - one carried connection: plain socket <-> lull connection.
 *
 * Sides: "net" is the TCP socket that carries lull frames, "plain" the
 * application's socket (client role) or the target's (server role).
 *
 * Life:
 *   client: accept plain -> connect net -> handshake -> read plain
 *   server: accept net -> handshake -> connect plain (the target) -> read
 *   both:   plain EOF -> lull_conn_finish (held messages are sealed once
 *           their key arrives, then a normal close frame follows them);
 *           lull closes (either end, any reason) -> flush both sides ->
 *           FIN -> wait for the peer's FIN -> free
 *   abnormal: the plain side gets an RST, never a FIN (see below)
 *
 * Invariants:
 *  - The target is connected only after the first handshake has
 *    authenticated the client, and the plain side is read only once the
 *    first handshake has completed (epoch >= 1): no byte moves for an
 *    unauthenticated peer, and the agreed max message is known.
 *  - No byte of the stream is ever dropped while the tunnel goes on: plain
 *    reads are cut into messages of at most lull_conn_max_message(), and a
 *    send error other than WOULD_BLOCK closes the lull connection
 *    (internal_error) rather than leave a gap.
 *  - Every engine call is followed by update(), which writes the engine's
 *    output, re-arms the one timer at the earliest of the engine's deadline,
 *    a connect deadline and the linger deadline, and decides which side may
 *    be read.  Callbacks from the engine only set flags (and start the
 *    target connect); they never call back into the engine.
 *  - Bounded memory, both ways: the plain side is not read while more than
 *    NET_WRITE_QUEUE_BYTES wait for the net side (or the engine says
 *    WOULD_BLOCK, in which case the one read in hand is stashed); the net
 *    side is not read while more than PLAIN_WRITE_QUEUE_BYTES wait for the
 *    plain side, or while the target is still being connected.
 *  - A FIN on the plain side means "the whole stream arrived".  Whenever
 *    that is not so - the lull close reason is not normal (either end), the
 *    lull transport was lost, or plain-side data is being discarded (a
 *    stash, bytes read after the close, writes cut off by the linger) -
 *    the plain side is reset (uv_tcp_close_reset) instead.  An application
 *    that resets, or a plain read or write that fails, closes the lull
 *    connection with internal_error so that the far end resets too.
 *  - A tunnel is freed only from the close callback of its last handle, so
 *    no callback ever sees a freed tunnel.  Teardown makes progress or
 *    ends: the linger deadline is CLOSE_LINGER_MS after the close or after
 *    the last write that completed, whichever is later, so a slow consumer
 *    is not cut off while it reads; a peer that takes nothing for that long
 *    (or never sends its FIN) is.
 */
#include "tunnel.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../support/log.h"
#include "limits.h"

typedef struct side {
	bool init;       /* handle initialised: must be uv_close()d */
	bool closing;    /* uv_close() called */
	bool connecting; /* uv_tcp_connect() in flight */
	bool up;         /* connected or accepted */
	bool reading;
	bool eof;    /* peer sent FIN: nothing more to read, may still write */
	bool dead;   /* error (or, on the net side, FIN): close at once */
	bool shut;   /* our FIN (uv_shutdown) sent */
	bool paused; /* reading held back by the other side's queue */
	size_t wq;   /* bytes in uv_write requests not yet completed */
} side;

typedef struct tunnel {
	struct tunnel *prev, *next;
	worker *w;
	uint64_t id;
	lull_conn *lc;
	uv_tcp_t net;
	uv_tcp_t plain;
	uv_timer_t timer;
	uv_connect_t connect_req;
	uv_shutdown_t net_shut_req;
	uv_shutdown_t plain_shut_req;
	side n, p;
	unsigned open_handles;
	bool timer_closing;
	bool ready;   /* first handshake done */
	bool pending; /* counted in w->n_pending: before the first handshake */
	bool closing; /* teardown has begun */
	bool lull_closed;
	bool finishing;          /* lull_conn_finish called: the engine closes when flushed */
	bool closed_by_peer;     /* the CLOSED event came from the peer's close frame */
	bool abort_plain;        /* the stream is incomplete: reset the plain side, no FIN */
	bool target_unreachable; /* server: close with LULL_CLOSE_TARGET_UNREACHABLE */
	const char *close_note;  /* extra field for the CLOSED log line */
	uint64_t connect_deadline_ms;
	uint64_t linger_deadline_ms;
	uint64_t timer_due_ms; /* what the timer is armed for; UINT64_MAX: stopped */
	uint8_t *stash;        /* what is left of one plain read the engine could not take yet */
	size_t stash_len;
	size_t stash_off; /* bytes of stash already sent */
} tunnel;

typedef struct wreq {
	uv_write_t req;
	tunnel *t;
	size_t len;
	uint8_t data[];
} wreq;

/* update(): one pass to act, one after a flush made room, one to flush
 * what that let through. */
#define UPDATE_MAX_PASSES 3

static atomic_uint_fast64_t next_conn_id = 1;

static void update(tunnel *t);
static void on_timer(uv_timer_t *h);

struct tunnel *tunnel_next(struct tunnel *t)
{
	return t->next;
}

/* ---- Handles ------------------------------------------------------------ */

static void stash_free(tunnel *t)
{
	if (!t->stash)
		return;
	lull_wipe(t->stash, t->stash_len);
	free(t->stash);
	t->stash = NULL;
	t->stash_len = t->stash_off = 0;
}

static void not_pending(tunnel *t)
{
	if (t->pending) {
		t->pending = false;
		t->w->n_pending--;
	}
}

static void tunnel_free(tunnel *t)
{
	worker *w = t->w;
	not_pending(t);
	lull_conn_free(t->lc);
	stash_free(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		w->tunnels = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
	worker_tunnel_gone(w);
}

static void on_handle_closed(uv_handle_t *h)
{
	tunnel *t = h->data;
	if (--t->open_handles == 0)
		tunnel_free(t);
}

static void side_close(side *s, uv_tcp_t *h)
{
	if (!s->init || s->closing)
		return;
	s->closing = true;
	s->reading = false;
	uv_close((uv_handle_t *)h, on_handle_closed);
}

/* Close with an RST: the peer must not take the end for a clean EOF. */
static void side_reset(side *s, uv_tcp_t *h)
{
	if (!s->init || s->closing)
		return;
	if (!s->up || s->dead) {
		side_close(s, h); /* never connected, or already broken */
		return;
	}
	s->closing = true;
	s->reading = false;
	if (uv_tcp_close_reset(h, on_handle_closed) == 0)
		return;
	/* libuv refuses after a uv_shutdown; SO_LINGER 0 is what it would do. */
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)h, &fd) == 0) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	uv_close((uv_handle_t *)h, on_handle_closed);
}

static bool side_gone(const side *s)
{
	return !s->init || s->closing;
}

static void timer_close(tunnel *t)
{
	if (t->timer_closing)
		return;
	t->timer_closing = true;
	uv_close((uv_handle_t *)&t->timer, on_handle_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	tunnel *t = h->data;
	(void)suggested;
	/* A plain read is one or more messages; a net read may hold many frames. */
	buf->base = (char *)t->w->readbuf;
	buf->len = (uv_stream_t *)h == (uv_stream_t *)&t->plain ? PLAIN_READ_BYTES : NET_READ_BYTES;
}

/* ---- Engine callbacks ----------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status);
static void on_target_connect(uv_connect_t *req, int status);

static bool queue_write(tunnel *t, side *s, uv_tcp_t *h, const uint8_t *data, size_t len)
{
	wreq *r = malloc(sizeof(*r) + len);
	if (!r)
		return false;
	r->t = t;
	r->len = len;
	memcpy(r->data, data, len);
	uv_buf_t buf = uv_buf_init((char *)r->data, (unsigned)len);
	if (uv_write(&r->req, (uv_stream_t *)h, &buf, 1, on_write_done) != 0) {
		free(r);
		return false;
	}
	s->wq += len;
	return true;
}

/* Write to a side: directly when nothing is queued, else behind the queue. */
static bool side_write(tunnel *t, side *s, uv_tcp_t *h, const uint8_t *data, size_t len)
{
	if (s->up && s->wq == 0) {
		uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
		int r = uv_try_write((uv_stream_t *)h, &buf, 1);
		if (r > 0) {
			data += r;
			len -= (size_t)r;
		} else if (r != UV_EAGAIN && r != UV_ENOSYS) {
			return false;
		}
	}
	return len == 0 || queue_write(t, s, h, data, len);
}

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	tunnel *t = user;
	if (len == 0 || t->p.dead || side_gone(&t->p))
		return; /* the target or application is gone: nowhere to deliver */
	if (!side_write(t, &t->p, &t->plain, msg, len)) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=plain_write_failed",
		        (unsigned long long)t->id);
		t->p.dead = true;
	}
}

static void start_target_connect(tunnel *t)
{
	const daemon_params *dp = t->w->dp;
	uv_tcp_init(&t->w->loop, &t->plain);
	t->plain.data = t;
	t->p.init = true;
	t->open_handles++;
	int r = uv_tcp_connect(&t->connect_req, &t->plain, (const struct sockaddr *)&dp->remote.ss,
	                       on_target_connect);
	if (r != 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=target_connect_failed target=%s err=%s",
		        (unsigned long long)t->id, dp->remote_text, uv_err_name(r));
		t->p.dead = true;
		t->target_unreachable = true;
		return;
	}
	t->p.connecting = true;
	t->connect_deadline_ms = worker_now(t->w) + CONNECT_TIMEOUT_MS;
}

static void on_event(void *user, const lull_event *ev)
{
	tunnel *t = user;
	worker_log_event(t->w, t->id, ev, ev->type == LULL_EV_CLOSED ? t->close_note : NULL);
	if (ev->type == LULL_EV_CLOSED)
		t->closed_by_peer = ev->by_peer;
	if (ev->type == LULL_EV_CLOSED && ev->close_reason != LULL_CLOSE_NORMAL)
		t->abort_plain = true; /* heartbeat_missed, decrypt_failed, shutdown, ... */
	if (ev->type == LULL_EV_HANDSHAKE_DONE && !t->ready) {
		t->ready = true;
		not_pending(t);
		if (t->w->dp->role == ROLE_SERVER)
			start_target_connect(t);
	} else if (ev->type == LULL_EV_CLOSED) {
		t->lull_closed = true;
	}
}

/* ---- Output and reading control ----------------------------------------- */

static void on_write_done(uv_write_t *req, int status)
{
	wreq *r = (wreq *)req;
	tunnel *t = r->t;
	bool net = req->handle == (uv_stream_t *)&t->net;
	side *s = net ? &t->n : &t->p;
	s->wq -= r->len;
	lull_wipe(r->data, r->len); /* plaintext on the plain side */
	free(r);
	if (status == UV_ECANCELED)
		return; /* the handle is closing */
	if (status >= 0 && t->closing)
		t->linger_deadline_ms = worker_now(t->w) + CLOSE_LINGER_MS; /* progress */
	if (status < 0 && !s->dead) {
		log_msg(LOG_LVL_DEBUG, "conn=%llu event=write_failed side=%s err=%s",
		        (unsigned long long)t->id, net ? "net" : "plain", uv_err_name(status));
		s->dead = true;
	}
	update(t);
}

/* Move the engine's output to the net socket.  Returns true if the net
 * side died doing so. */
static bool flush_net(tunnel *t)
{
	if (!t->lc)
		return false;
	for (;;) {
		const uint8_t *bytes;
		size_t n = lull_conn_output(t->lc, &bytes);
		if (n == 0)
			return false;
		if (t->n.dead || side_gone(&t->n)) {
			lull_conn_output_consume(t->lc, n); /* no one to send it to */
			/* Our data (or our close frame) is lost; after the peer's
			 * close frame it can only be the engine's reply. */
			if (!t->closed_by_peer)
				t->abort_plain = true;
			continue;
		}
		if (!t->n.up || t->n.wq >= NET_WRITE_QUEUE_BYTES)
			return false; /* leave it in the engine, which is bounded */
		if (!side_write(t, &t->n, &t->net, bytes, n)) {
			t->n.dead = true;
			return true;
		}
		lull_conn_output_consume(t->lc, n);
	}
}

static size_t net_backlog(const tunnel *t)
{
	return t->n.wq + (t->lc ? lull_conn_output_pending(t->lc) : 0);
}

static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_plain_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void set_reading(side *s, uv_tcp_t *h, bool want, uv_read_cb cb)
{
	want = want && s->up && !s->eof && !s->dead && !s->closing;
	if (want == s->reading)
		return;
	if (want)
		s->reading = uv_read_start((uv_stream_t *)h, alloc_cb, cb) == 0;
	else
		s->reading = uv_read_stop((uv_stream_t *)h) != 0;
}

/* Hysteresis: pause above cap, resume at or below half of it. */
static void set_paused(side *s, size_t queued, size_t cap)
{
	if (queued > cap)
		s->paused = true;
	else if (queued <= cap / 2)
		s->paused = false;
}

static void control_reading(tunnel *t)
{
	set_paused(&t->n, t->p.wq, PLAIN_WRITE_QUEUE_BYTES);
	set_paused(&t->p, net_backlog(t), NET_WRITE_QUEUE_BYTES);
	bool want_net, want_plain;
	if (t->closing) {
		/* Read only to see the peers' FINs; what arrives is dropped. */
		want_net = want_plain = true;
	} else {
		bool target_pending = t->w->dp->role == ROLE_SERVER && t->ready && !t->p.up;
		want_net = !t->n.paused && !target_pending;
		want_plain = t->ready && !t->p.paused && !t->stash && t->lc &&
		             lull_conn_is_open(t->lc) && lull_conn_epoch(t->lc) >= 1;
	}
	set_reading(&t->n, &t->net, want_net, on_net_read);
	set_reading(&t->p, &t->plain, want_plain, on_plain_read);
}

/* ---- Teardown ----------------------------------------------------------- */

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	tunnel *t = req->data;
	if (status == UV_ECANCELED)
		return;
	if (status < 0) {
		if (req == &t->net_shut_req)
			t->n.dead = true;
		else
			t->p.dead = true;
	}
	update(t);
}

static void side_finish(tunnel *t, side *s, uv_tcp_t *h, uv_shutdown_t *req, size_t backlog)
{
	if (side_gone(s))
		return;
	if (s->dead || !s->up) {
		side_close(s, h);
		return;
	}
	if (backlog > 0)
		return; /* still flushing */
	if (s->eof) {
		side_close(s, h); /* both FINs seen */
		return;
	}
	if (!s->shut) {
		req->data = t;
		if (uv_shutdown(req, (uv_stream_t *)h, on_shutdown_done) == 0)
			s->shut = true;
		else
			side_close(s, h);
	}
}

static void teardown(tunnel *t, uint64_t now)
{
	if (!t->closing) {
		t->closing = true;
		t->linger_deadline_ms = now + CLOSE_LINGER_MS;
		t->connect_deadline_ms = UINT64_MAX;
		if (t->stash)
			t->abort_plain = true; /* read from the plain side, never sent */
		stash_free(t);
	}
	side_finish(t, &t->n, &t->net, &t->net_shut_req, net_backlog(t));
	/* The plain side's FIN waits until what it sent has left: if that
	 * is lost instead, the plain side gets a reset. */
	if (t->abort_plain)
		side_reset(&t->p, &t->plain);
	else if (net_backlog(t) == 0 || side_gone(&t->n) || t->n.dead)
		side_finish(t, &t->p, &t->plain, &t->plain_shut_req, t->p.wq);
	if (side_gone(&t->n) && side_gone(&t->p))
		timer_close(t);
}

/* The linger ran out: what is still queued for the plain side is lost. */
static void force_close(tunnel *t)
{
	side_close(&t->n, &t->net);
	if (t->abort_plain || t->p.wq > 0 || (!t->p.shut && !t->p.eof))
		side_reset(&t->p, &t->plain);
	else
		side_close(&t->p, &t->plain);
	timer_close(t);
}

/* ---- The one driver ----------------------------------------------------- */

static void arm_timer(tunnel *t, uint64_t now)
{
	if (t->timer_closing)
		return;
	uint64_t d = t->linger_deadline_ms;
	if (t->connect_deadline_ms < d)
		d = t->connect_deadline_ms;
	if (t->lc && !t->lull_closed) {
		uint64_t e = lull_conn_next_deadline(t->lc);
		if (e < d)
			d = e;
	}
	t->timer_due_ms = d;
	if (d == UINT64_MAX)
		uv_timer_stop(&t->timer);
	else
		uv_timer_start(&t->timer, on_timer, d > now ? d - now : 0, 0);
}

/* Hand data to the engine as messages of at most the agreed max message.
 * Returns LULL_OK with *sent == len, or the first error with *sent the
 * bytes taken before it (WOULD_BLOCK: retry the rest later). */
static lull_err send_chunks(tunnel *t, uint64_t now, const uint8_t *data, size_t len, size_t *sent)
{
	size_t max = lull_conn_max_message(t->lc);
	*sent = 0;
	if (max == 0)
		return LULL_ERR_STATE; /* cannot happen once epoch >= 1 */
	while (*sent < len) {
		size_t n = len - *sent < max ? len - *sent : max;
		lull_err err = lull_conn_send(t->lc, now, data + *sent, n);
		if (err != LULL_OK)
			return err;
		*sent += n;
	}
	return LULL_OK;
}

/* Bytes the engine refused for a reason other than WOULD_BLOCK: going on
 * would leave a gap in the stream, so the tunnel ends instead. */
static void send_failed(tunnel *t, uint64_t now, lull_err err)
{
	if (err == LULL_ERR_CLOSED || t->lull_closed)
		return; /* already closing: the CLOSED event said why */
	log_msg(LOG_LVL_WARN, "conn=%llu event=send_failed err=%s msg=\"%s\"",
	        (unsigned long long)t->id, lull_err_name(err), lull_strerror(err));
	t->close_note = "send_failed";
	lull_conn_close(t->lc, now, LULL_CLOSE_INTERNAL_ERROR);
}

/* The stash goes first once the engine has room again. */
static void retry_stash(tunnel *t, uint64_t now)
{
	if (!t->stash || t->closing || !t->lc || !lull_conn_is_open(t->lc) ||
	    lull_conn_output_pending(t->lc) >= LULL_SEND_BUFFER_BYTES)
		return;
	size_t sent;
	lull_err err =
	        send_chunks(t, now, t->stash + t->stash_off, t->stash_len - t->stash_off, &sent);
	t->stash_off += sent;
	if (err == LULL_ERR_WOULD_BLOCK)
		return;
	stash_free(t);
	if (err != LULL_OK)
		send_failed(t, now, err);
}

/* Close the lull connection when a side has ended; log why. */
static void close_if_ended(tunnel *t, uint64_t now)
{
	if (!t->lc || t->lull_closed)
		return;
	if (t->target_unreachable) {
		lull_conn_close(t->lc, now, LULL_CLOSE_TARGET_UNREACHABLE);
	} else if (t->n.dead) {
		/* Whatever was in flight is lost: the plain side must know. */
		t->close_note = "transport_lost";
		t->abort_plain = true;
		lull_conn_close(t->lc, now, LULL_CLOSE_NORMAL);
	} else if (t->p.dead) {
		/* The application reset, or a plain read or write failed: the
		 * stream is broken, and the far end must reset its side too. */
		t->close_note = "plain_failed";
		lull_conn_close(t->lc, now, LULL_CLOSE_INTERNAL_ERROR);
	} else if (t->p.eof && !t->stash && !t->finishing) {
		/* Not lull_conn_close: that would discard the messages held for
		 * a pending (e.g. idle) rekey, the last bytes of the stream.
		 * The engine closes by itself once they are sealed; until then
		 * the tunnel lives and the peer's data is still delivered. */
		t->finishing = true;
		lull_err err = lull_conn_finish(t->lc, now);
		if (err != LULL_OK && err != LULL_ERR_CLOSED && !t->lull_closed)
			lull_conn_close(t->lc, now, LULL_CLOSE_INTERNAL_ERROR);
	}
}

static void update(tunnel *t)
{
	uint64_t now = worker_now(t->w);
	/* Again if the net side died (the engine must close), or if the flush
	 * made room for a stashed read: a flush can complete synchronously
	 * (uv_try_write), and then no write callback would come to retry it. */
	for (unsigned pass = 0; pass < UPDATE_MAX_PASSES; pass++) {
		retry_stash(t, now);
		close_if_ended(t, now);
		size_t before = t->lc ? lull_conn_output_pending(t->lc) : 0;
		bool died = flush_net(t);
		bool made_room = t->stash && lull_conn_output_pending(t->lc) < before;
		if (!died && !made_room)
			break;
	}
	if (t->lull_closed || t->closing || (!t->lc && (t->n.dead || t->p.dead)))
		teardown(t, now);
	control_reading(t);
	arm_timer(t, now);
	if (t->w->srk_dirty)
		worker_srk_update(t->w);
}

/* ---- I/O callbacks ------------------------------------------------------ */

static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	tunnel *t = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (!t->closing && nread != UV_EOF)
			log_msg(LOG_LVL_DEBUG, "conn=%llu event=net_read_failed err=%s",
			        (unsigned long long)t->id, uv_err_name((int)nread));
		/* lull has no half-close: the peer's FIN ends the transport. */
		t->n.dead = true;
		t->n.eof = true;
	} else if (t->lc && !t->lull_closed) {
		/* Errors are reported (and logged) through the CLOSED event. */
		(void)lull_conn_receive(t->lc, worker_now(t->w), (const uint8_t *)buf->base,
		                        (size_t)nread);
	}
	update(t);
}

/* One plain read becomes messages of at most the agreed max message; what
 * the engine cannot take yet is stashed and plain reading stops until
 * retry_stash() gets it in. */
static void send_plain(tunnel *t, const uint8_t *data, size_t len)
{
	uint64_t now = worker_now(t->w);
	size_t sent;
	lull_err err = send_chunks(t, now, data, len, &sent);
	if (err == LULL_ERR_WOULD_BLOCK) {
		t->stash = malloc(len - sent);
		if (!t->stash) {
			send_failed(t, now, LULL_ERR_NOMEM);
			return;
		}
		memcpy(t->stash, data + sent, len - sent);
		t->stash_len = len - sent;
		t->stash_off = 0;
	} else if (err != LULL_OK) {
		send_failed(t, now, err);
	}
}

/* libuv reports an RST that arrives with data still queued as UV_EOF (a
 * hang-up after a partial read); the socket's pending error tells them
 * apart, so that an aborting application is not taken for a clean end. */
static int pending_error(uv_tcp_t *h)
{
	uv_os_fd_t fd;
	int err = 0;
	socklen_t len = sizeof(err);
	if (uv_fileno((uv_handle_t *)h, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return 0;
	return err ? uv_translate_sys_error(err) : 0;
}

static void on_plain_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	tunnel *t = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		t->p.eof = true;
		int err = nread == UV_EOF ? pending_error(&t->plain) : (int)nread;
		if (err != 0) {
			log_msg(LOG_LVL_DEBUG, "conn=%llu event=plain_read_failed err=%s",
			        (unsigned long long)t->id, uv_err_name(err));
			t->p.dead = true;
		}
	} else if (!t->closing && t->lc && lull_conn_is_open(t->lc)) {
		send_plain(t, (const uint8_t *)buf->base, (size_t)nread);
	} else {
		t->abort_plain = true; /* bytes that will never be carried */
	}
	update(t);
}

static void on_timer(uv_timer_t *h)
{
	tunnel *t = h->data;
	uint64_t now = worker_now(t->w);
	/* The deadline that fired is a heartbeat, a handshake timeout or a
	 * linger: a late one says the loop was not running, and is the first
	 * thing to know when peers report heartbeats missed. */
	if (t->timer_due_ms != UINT64_MAX && now >= t->timer_due_ms + TIMER_LATE_WARN_MS)
		worker_note_timer_late(t->w, now, now - t->timer_due_ms);
	if (now >= t->linger_deadline_ms) {
		force_close(t);
		return;
	}
	if (now >= t->connect_deadline_ms) {
		t->connect_deadline_ms = UINT64_MAX;
		if (t->w->dp->role == ROLE_SERVER) {
			log_msg(LOG_LVL_WARN,
			        "conn=%llu event=target_connect_failed target=%s "
			        "err=timeout",
			        (unsigned long long)t->id, t->w->dp->remote_text);
			t->p.dead = true;
			t->target_unreachable = true;
		} else {
			log_msg(LOG_LVL_WARN,
			        "conn=%llu event=server_connect_failed server=%s "
			        "err=timeout",
			        (unsigned long long)t->id, t->w->dp->remote_text);
			t->n.dead = true;
		}
	}
	if (t->lc && !t->lull_closed && now >= lull_conn_next_deadline(t->lc))
		(void)lull_conn_tick(t->lc, now);
	update(t);
}

/* ---- Construction ------------------------------------------------------- */

static lull_callbacks callbacks(tunnel *t)
{
	lull_callbacks cb = {.on_message = on_message, .on_event = on_event, .user = t};
	return cb;
}

static void on_target_connect(uv_connect_t *req, int status)
{
	tunnel *t = req->data;
	t->p.connecting = false;
	if (status == UV_ECANCELED)
		return;
	t->connect_deadline_ms = UINT64_MAX;
	if (status < 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=target_connect_failed target=%s err=%s",
		        (unsigned long long)t->id, t->w->dp->remote_text, uv_err_name(status));
		t->p.dead = true;
		t->target_unreachable = true;
	} else {
		t->p.up = true;
		log_msg(LOG_LVL_DEBUG, "conn=%llu event=target_connected target=%s",
		        (unsigned long long)t->id, t->w->dp->remote_text);
	}
	update(t);
}

static void on_server_connect(uv_connect_t *req, int status)
{
	tunnel *t = req->data;
	const daemon_params *dp = t->w->dp;
	t->n.connecting = false;
	if (status == UV_ECANCELED)
		return;
	t->connect_deadline_ms = UINT64_MAX;
	if (status < 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=server_connect_failed server=%s err=%s",
		        (unsigned long long)t->id, dp->remote_text, uv_err_name(status));
		t->n.dead = true;
		update(t);
		return;
	}
	t->n.up = true;
	uv_tcp_nodelay(&t->net, 1);
	lull_callbacks cb = callbacks(t);
	lull_err err = lull_conn_new_client(&t->lc, &dp->cfg, &dp->key, dp->server_pub,
	                                    dp->has_psk ? dp->psk : NULL, &cb);
	if (err == LULL_OK)
		err = lull_conn_start(t->lc, worker_now(t->w));
	if (err != LULL_OK) {
		log_msg(LOG_LVL_ERROR, "conn=%llu event=conn_failed err=%s msg=\"%s\"",
		        (unsigned long long)t->id, lull_err_name(err), lull_strerror(err));
		t->n.dead = true;
	}
	update(t);
}

static tunnel *tunnel_new(worker *w)
{
	tunnel *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->w = w;
	t->id = atomic_fetch_add(&next_conn_id, 1);
	t->connect_deadline_ms = UINT64_MAX;
	t->linger_deadline_ms = UINT64_MAX;
	t->timer_due_ms = UINT64_MAX;
	uv_timer_init(&w->loop, &t->timer);
	t->timer.data = t;
	t->open_handles = 1;
	t->connect_req.data = t;
	t->next = w->tunnels;
	if (w->tunnels)
		w->tunnels->prev = t;
	w->tunnels = t;
	w->n_tunnels++;
	w->n_pending++;
	t->pending = true;
	return t;
}

static void log_accepted(tunnel *t, uv_tcp_t *h)
{
	if (!log_enabled(LOG_LVL_INFO))
		return;
	net_addr a;
	a.len = sizeof(a.ss);
	char text[ADDR_TEXT_MAX_BYTES] = "?";
	if (uv_tcp_getpeername(h, (struct sockaddr *)&a.ss, (int *)&a.len) == 0)
		net_addr_text(&a, text, sizeof(text));
	log_msg(LOG_LVL_INFO, "conn=%llu event=accepted from=%s worker=%u",
	        (unsigned long long)t->id, text, t->w->index);
}

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

static void on_accept_retry(uv_timer_t *h)
{
	worker *w = h->data;
	if (!w->stopping)
		tunnel_accept(w, (uv_stream_t *)&w->listener);
}

/* Accept and close at once.  Until a connection is uv_accept()ed libuv
 * stops watching the listener, so with no memory even for that, retry
 * soon rather than stall the listener for good. */
static void refuse(worker *w, uv_stream_t *listener, const char *why, size_t limit)
{
	uint64_t now = worker_now(w), dropped;
	uv_tcp_t *h = malloc(sizeof(*h));
	if (!h) {
		uv_timer_start(&w->accept_retry, on_accept_retry, ACCEPT_RETRY_MS, 0);
		why = "out_of_memory";
	} else {
		uv_tcp_init(&w->loop, h);
		(void)uv_accept(listener, (uv_stream_t *)h);
		uv_close((uv_handle_t *)h, on_refused_closed);
	}
	if (ratelimit_allow(&w->refused_rl, now, &dropped))
		log_msg(LOG_LVL_WARN, "event=refused why=%s limit=%zu worker=%u suppressed=%llu",
		        why, limit, w->index, (unsigned long long)dropped);
}

void tunnel_accept(worker *w, uv_stream_t *listener)
{
	const daemon_params *dpl = w->dp;
	if (w->n_tunnels >= dpl->max_tunnels) {
		refuse(w, listener, "too_many_connections", dpl->max_tunnels);
		return;
	}
	if (w->n_pending >= dpl->max_pending) {
		refuse(w, listener, "too_many_handshakes", dpl->max_pending);
		return;
	}
	tunnel *t = tunnel_new(w);
	if (!t) {
		refuse(w, listener, "out_of_memory", dpl->max_tunnels);
		return;
	}
	const daemon_params *dp = w->dp;
	/* The accepted socket is net on the server, plain on the client. */
	bool server = dp->role == ROLE_SERVER;
	uv_tcp_t *h = server ? &t->net : &t->plain;
	side *s = server ? &t->n : &t->p;
	uv_tcp_init(&w->loop, h);
	h->data = t;
	s->init = true;
	t->open_handles++;
	if (uv_accept(listener, (uv_stream_t *)h) != 0) {
		s->dead = true;
		update(t);
		return;
	}
	s->up = true;
	log_accepted(t, h);
	uint64_t now = worker_now(w);
	if (server) {
		uv_tcp_nodelay(h, 1);
		lull_callbacks cb = callbacks(t);
		lull_err err = lull_conn_new_server(&t->lc, w->srv, &cb);
		if (err == LULL_OK)
			err = lull_conn_start(t->lc, now);
		if (err != LULL_OK) {
			log_msg(LOG_LVL_ERROR, "conn=%llu event=conn_failed err=%s msg=\"%s\"",
			        (unsigned long long)t->id, lull_err_name(err), lull_strerror(err));
			s->dead = true;
		}
		update(t);
		return;
	}
	uv_tcp_init(&w->loop, &t->net);
	t->net.data = t;
	t->n.init = true;
	t->open_handles++;
	int r = uv_tcp_connect(&t->connect_req, &t->net, (const struct sockaddr *)&dp->remote.ss,
	                       on_server_connect);
	if (r != 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=server_connect_failed server=%s err=%s",
		        (unsigned long long)t->id, dp->remote_text, uv_err_name(r));
		t->n.dead = true;
	} else {
		t->n.connecting = true;
		t->connect_deadline_ms = now + CONNECT_TIMEOUT_MS;
	}
	update(t);
}

void tunnel_shutdown(struct tunnel *t)
{
	if (t->lc && !t->lull_closed)
		lull_conn_close(t->lc, worker_now(t->w), LULL_CLOSE_SHUTDOWN);
	else
		t->closing = true;
	update(t);
}
