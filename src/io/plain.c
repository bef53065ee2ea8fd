/*
 * plain.c - a stream's own TCP socket ("plain": the application's on the
 * client, the target's on the server), joined to one stream of a link.
 *
 * Invariants:
 *  - Read only while the stream has write room (lull_mux_write_room), at
 *    most that much and at most PLAIN_READ_BYTES per read: every byte
 *    read is taken by the mux, none is stashed.
 *  - Credit goes back (lull_mux_consumed) only once a write to the socket
 *    completed: a consumer that stops reading stalls its stream only.
 *  - DATA delivered while a link reads is gathered per socket (at most
 *    PLAIN_WRITE_BATCH_BYTES) and written once the link's callback is
 *    done (plain_flush_writes, from every link entry point): one write
 *    and one wake-up of the application per batch, not per frame.  A
 *    batch is always written before a FIN's shutdown and before a clean
 *    close; a reset drops it.
 *  - A FIN means "the whole stream arrived", both ways: the application's
 *    EOF becomes a FIN frame (lull_mux_shutdown) and the peer's FIN a
 *    shutdown(SHUT_WR) after the queued writes.  Anything else - a RESET,
 *    the link lost, a failed read or write, a refused or timed-out stream -
 *    becomes an RST (SO_LINGER 0), logged at warn, never a FIN.
 *  - A plain outlives its stream only to flush: once the mux forgot the
 *    stream (CLOSED), p->l is NULL and the plain touches no link again.
 *    It is freed from its handle's close callback only.
 */
#include "plain.h"

#include <stdlib.h>
#include <string.h>

#include "../proxy_proto.h"
#include "../support/log.h"
#include "limits.h"

struct plain {
	plain *prev, *next; /* env->plains */
	plain *wnext;       /* the owner's wait queue (client, before attach) */
	link_env *env;
	struct link *l; /* while the stream lives in the link's mux */
	uint64_t conn;  /* the link's id, for logs (0: none yet) */
	uint32_t id;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_shutdown_t sreq;
	size_t wq;           /* bytes in uv_write requests not yet completed */
	struct pwreq *batch; /* DATA gathered for one write (plain_flush_writes) */
	plain *bnext;        /* env->batched, while batch is set */
	uint64_t deadline_ms;
	bool up, connecting, reading, eof, want_shut, shut, shut_done, closing, ended;
};

typedef struct pwreq {
	uv_write_t req;
	plain *p;
	size_t len;  /* bytes in data */
	size_t sent; /* of them, taken by a uv_try_write (credited then) */
	size_t cap;
	bool credit; /* stream data (credit back when written), not a PROXY header */
	uint8_t data[];
} pwreq;

/* alloc_cb hands out the worker's read buffer, NET_READ_BYTES long. */
_Static_assert(PLAIN_READ_BYTES <= NET_READ_BYTES, "a plain read fits the read buffer");

static void update_reading(plain *p);
static void pwreq_free(link_env *env, struct pwreq *w);

uint64_t plain_deadline(const plain *p)
{
	return p->deadline_ms;
}

plain *plain_wait_next(plain *p)
{
	return p->wnext;
}

void plain_set_wait_next(plain *p, plain *next)
{
	p->wnext = next;
}

/* ---- Handles ------------------------------------------------------------------ */

static void drop_batch(plain *p);

static void on_closed(uv_handle_t *h)
{
	plain *p = h->data;
	link_env *env = p->env;
	drop_batch(p);
	if (p->prev)
		p->prev->next = p->next;
	else
		env->plains = p->next;
	if (p->next)
		p->next->prev = p->prev;
	env->n_plains--;
	free(p);
	if (env->h.plain_gone)
		env->h.plain_gone(env->h.owner);
}

static plain *plain_new(link_env *env)
{
	plain *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->env = env;
	p->deadline_ms = UINT64_MAX;
	uv_tcp_init(env->loop, &p->tcp);
	p->tcp.data = p;
	p->creq.data = p;
	p->next = env->plains;
	if (env->plains)
		env->plains->prev = p;
	env->plains = p;
	env->n_plains++;
	return p;
}

static void not_connecting(plain *p)
{
	if (p->connecting) {
		p->connecting = false;
		p->env->n_connecting--;
	}
}

static void close_clean(plain *p)
{
	drop_batch(p);
	if (p->closing)
		return;
	p->closing = true;
	p->reading = false;
	not_connecting(p);
	uv_close((uv_handle_t *)&p->tcp, on_closed);
}

/* Close with an RST: the application must not take the end for a FIN. */
static void close_reset(plain *p)
{
	drop_batch(p); /* what was not written is not delivered: the RST says so */
	if (p->closing)
		return;
	if (!p->up) {
		close_clean(p); /* never connected: nothing to reset */
		return;
	}
	p->closing = true;
	p->reading = false;
	if (uv_tcp_close_reset(&p->tcp, on_closed) == 0)
		return;
	/* libuv refuses after a uv_shutdown; SO_LINGER 0 is what it would do. */
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	uv_close((uv_handle_t *)&p->tcp, on_closed);
}

/* The stream is over both ways and everything is flushed. */
static void maybe_close(plain *p)
{
	if (p->ended && !p->closing && p->eof && p->shut_done && p->wq == 0 && !p->batch)
		close_clean(p);
}

/* The stream breaks here: tell the peer (RESET), reset the socket. */
static void abort_stream(plain *p, lull_stream_reason reason, const char *why)
{
	log_msg(LOG_LVL_WARN, "conn=%llu stream=%u event=stream_aborted reason=%s why=%s",
	        (unsigned long long)p->conn, p->id, lull_stream_reason_name(reason), why);
	struct link *l = p->l;
	p->l = NULL;
	p->ended = true;
	if (l) {
		(void)lull_mux_reset(link_mux(l), link_env_now(p->env), p->id, reason);
		link_kick(l);
	}
	close_reset(p);
}

/* ---- Writing to the socket -------------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status)
{
	pwreq *r = (pwreq *)req;
	plain *p = r->p;
	size_t len = r->len - r->sent;
	p->wq -= len;
	bool credit = r->credit;
	pwreq_free(p->env, r);
	if (status == UV_ECANCELED || p->closing)
		return;
	if (status < 0) {
		abort_stream(p, LULL_STREAM_ABORTED, "write_failed");
		return;
	}
	if (p->l && credit) {
		(void)lull_mux_consumed(link_mux(p->l), link_env_now(p->env), p->id, len);
		link_kick(p->l);
	}
	maybe_close(p);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	plain *p = req->data;
	if (status == UV_ECANCELED || p->closing)
		return;
	p->shut_done = true;
	if (status < 0) {
		abort_stream(p, LULL_STREAM_ABORTED, "shutdown_failed");
		return;
	}
	maybe_close(p);
}

static void do_shutdown(plain *p)
{
	if (!p->want_shut || p->shut || !p->up || p->closing)
		return;
	p->sreq.data = p;
	/* libuv runs it after the queued writes: the FIN follows the data. */
	if (uv_shutdown(&p->sreq, (uv_stream_t *)&p->tcp, on_shutdown_done) == 0)
		p->shut = true;
	else
		abort_stream(p, LULL_STREAM_ABORTED, "shutdown_failed");
}

static pwreq *pwreq_new(plain *p, size_t cap, bool credit)
{
	pwreq *w = malloc(sizeof(*w) + cap);
	if (!w)
		return NULL;
	w->p = p;
	w->len = w->sent = 0;
	w->cap = cap;
	w->credit = credit;
	return w;
}

/* The worker's spare batch is kept (wiped) for the next one: a busy
 * stream does not allocate a batch per write. */
static void pwreq_free(link_env *env, pwreq *w)
{
	lull_wipe(w->data, w->len); /* plaintext */
	if (w == env->spare_batch)
		env->spare_busy = false;
	else
		free(w);
}

static void unlink_batched(plain *p)
{
	for (plain **at = &p->env->batched; *at; at = &(*at)->bnext)
		if (*at == p) {
			*at = p->bnext;
			break;
		}
	p->bnext = NULL;
}

static void drop_batch(plain *p)
{
	if (!p->batch)
		return;
	unlink_batched(p);
	pwreq_free(p->env, p->batch);
	p->batch = NULL;
}

/* Write p's batch: what the socket takes at once is credited now, the
 * rest is queued (libuv queues it while a target still connects) and
 * credited when its write completes.  false: the socket failed. */
static bool write_batch(plain *p)
{
	pwreq *w = p->batch;
	if (!w)
		return true;
	unlink_batched(p);
	p->batch = NULL;
	if (p->up && p->wq == 0) {
		uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)w->len);
		int r = uv_try_write((uv_stream_t *)&p->tcp, &buf, 1);
		if (r > 0)
			w->sent = (size_t)r;
		else if (r != UV_EAGAIN && r != UV_ENOSYS)
			goto failed;
	}
	if (w->sent > 0 && p->l)
		(void)lull_mux_consumed(link_mux(p->l), link_env_now(p->env), p->id, w->sent);
	if (w->sent == w->len || p->closing) {
		/* All written - or the credit's flush ended the link, and the
		 * socket with it: nothing more goes to it. */
		pwreq_free(p->env, w);
		return true;
	}
	size_t rest = w->len - w->sent;
	uv_buf_t buf = uv_buf_init((char *)w->data + w->sent, (unsigned)rest);
	if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &buf, 1, on_write_done) != 0)
		goto failed;
	p->wq += rest;
	return true;
failed:
	pwreq_free(p->env, w);
	return false;
}

/* Gather a DATA frame's bytes into p's batch (a full batch is written
 * first).  false: no memory, or the socket failed. */
static bool batch_data(plain *p, const uint8_t *data, size_t len)
{
	if (p->batch && p->batch->cap - p->batch->len < len && !write_batch(p))
		return false;
	if (p->closing)
		return true; /* the full batch's credit ended the link: nothing to gather for */
	if (!p->batch) {
		link_env *env = p->env;
		if (!env->spare_batch) /* made on first use, and again after a failure */
			env->spare_batch = pwreq_new(p, PLAIN_WRITE_BATCH_BYTES, true);
		if (env->spare_batch && !env->spare_busy && len <= PLAIN_WRITE_BATCH_BYTES) {
			env->spare_busy = true;
			p->batch = env->spare_batch;
			p->batch->p = p;
			p->batch->len = p->batch->sent = 0;
		} else {
			p->batch = pwreq_new(p,
			                     len > PLAIN_WRITE_BATCH_MIN_BYTES
			                             ? len
			                             : PLAIN_WRITE_BATCH_MIN_BYTES,
			                     true);
		}
		if (!p->batch)
			return false;
		p->bnext = p->env->batched;
		p->env->batched = p;
	}
	memcpy(p->batch->data + p->batch->len, data, len);
	p->batch->len += len;
	return true;
}

void plain_flush_writes(link_env *env, struct link *current)
{
	while (env->batched) {
		plain *p = env->batched;
		struct link *l = p->l;
		if (!write_batch(p))
			abort_stream(p, LULL_STREAM_ABORTED, "write_failed");
		else
			maybe_close(p);
		if (l && l != current)
			link_kick(l); /* its credit, sent */
	}
}

/* ---- Stream events (from the link's mux) ---------------------------------------- */

void plain_on_stream_event(plain *p, const lull_stream_event *ev)
{
	switch (ev->type) {
	case LULL_STREAM_EV_DATA: {
		if (p->closing)
			return;
		if (!batch_data(p, ev->data, ev->len)) {
			abort_stream(p, LULL_STREAM_ABORTED, "write_failed");
			return;
		}
		if (p->l && p->env->h.bytes)
			p->env->h.bytes(p->env->h.owner, p->l, 0, ev->len);
		return;
	}
	case LULL_STREAM_EV_FIN:
		/* The FIN follows every byte before it. */
		if (!write_batch(p)) {
			abort_stream(p, LULL_STREAM_ABORTED, "write_failed");
			return;
		}
		p->want_shut = true;
		do_shutdown(p);
		return;
	case LULL_STREAM_EV_WRITABLE:
		update_reading(p);
		return;
	case LULL_STREAM_EV_CLOSED: {
		bool normal = ev->reason == LULL_STREAM_NORMAL;
		p->l = NULL; /* forgotten by the mux: no more calls into it */
		p->ended = true;
		log_msg(normal ? LOG_LVL_DEBUG : LOG_LVL_WARN,
		        "conn=%llu stream=%u event=stream_closed reason=%s by_peer=%d "
		        "bytes_in=%llu "
		        "bytes_out=%llu",
		        (unsigned long long)p->conn, p->id, lull_stream_reason_name(ev->reason),
		        ev->by_peer ? 1 : 0, (unsigned long long)ev->bytes_in,
		        (unsigned long long)ev->bytes_out);
		if (normal && !write_batch(p))
			normal = false; /* the socket failed: not a complete stream */
		if (!normal)
			close_reset(p);
		else
			maybe_close(p);
		return;
	}
	default:
		return;
	}
}

/* ---- Reading from the socket ------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	plain *p = h->data;
	(void)suggested;
	size_t room = p->l ? lull_mux_write_room(link_mux(p->l), p->id) : 0;
	if (room > PLAIN_READ_BYTES)
		room = PLAIN_READ_BYTES;
	/* room 0 makes libuv report UV_ENOBUFS; update_reading then stops. */
	buf->base = (char *)p->env->readbuf;
	buf->len = room;
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

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	plain *p = s->data;
	if (nread == 0 || nread == UV_ENOBUFS) {
		update_reading(p);
		return;
	}
	struct link *l = p->l;
	if (nread < 0) {
		int err = nread == UV_EOF ? pending_error(&p->tcp) : (int)nread;
		p->eof = true;
		if (err != 0) {
			abort_stream(p, LULL_STREAM_ABORTED, uv_err_name(err));
			return;
		}
		if (l)
			(void)lull_mux_shutdown(link_mux(l), link_env_now(p->env), p->id);
	} else if (l) {
		size_t taken = 0;
		lull_err err = lull_mux_write(link_mux(l), link_env_now(p->env), p->id,
		                              (const uint8_t *)buf->base, (size_t)nread, &taken);
		if (!p->l) {
			/* The link ended inside the write; its CLOSED event reset
			 * this socket and said why. */
			return;
		}
		if (err != LULL_OK || taken != (size_t)nread) {
			abort_stream(p, LULL_STREAM_INTERNAL_ERROR, lull_err_name(err));
			return;
		}
		if (p->env->h.bytes)
			p->env->h.bytes(p->env->h.owner, l, 1, taken);
	} else {
		/* Bytes for a stream that is gone: it was not complete. */
		close_reset(p);
		return;
	}
	update_reading(p);
	if (l)
		link_kick(l);
	maybe_close(p);
}

static void update_reading(plain *p)
{
	bool want = p->up && !p->eof && !p->closing && p->l &&
	            lull_mux_write_room(link_mux(p->l), p->id) > 0;
	if (want == p->reading)
		return;
	if (want)
		p->reading = uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, on_read) == 0;
	else
		p->reading = uv_read_stop((uv_stream_t *)&p->tcp) != 0;
}

/* ---- Client: the application's connection ---------------------------------------- */

plain *plain_accept(link_env *env, uv_stream_t *listener)
{
	plain *p = plain_new(env);
	if (!p)
		return NULL;
	if (uv_accept(listener, (uv_stream_t *)&p->tcp) != 0) {
		close_clean(p);
		return NULL;
	}
	p->up = true;
	uv_tcp_nodelay(&p->tcp, 1);
	p->deadline_ms = link_env_now(env) + env->p->connect_timeout_ms;
	return p;
}

bool plain_attach(plain *p, struct link *l)
{
	uint32_t id;
	lull_err err = lull_mux_open(link_mux(l), link_env_now(p->env), p, &id);
	if (err != LULL_OK)
		return false;
	p->l = l;
	p->id = id;
	p->conn = link_id(l);
	p->deadline_ms = UINT64_MAX;
	link_stream_started(l);
	log_msg(LOG_LVL_DEBUG, "conn=%llu stream=%u event=stream_open", (unsigned long long)p->conn,
	        id);
	update_reading(p);
	link_kick(l);
	return true;
}

void plain_refuse(plain *p, lull_stream_reason why)
{
	const char *text = why == LULL_STREAM_CONNECT_TIMEOUT
	                           ? "no link to the server could take it in time"
	                   : why == LULL_STREAM_SHUTDOWN  ? "the daemon is stopping"
	                   : why == LULL_STREAM_LINK_LOST ? "the link to the server failed"
	                                                  : "the link refused the stream";
	log_msg(LOG_LVL_WARN, "event=stream_refused reason=%s why=\"%s\"",
	        lull_stream_reason_name(why), text);
	p->ended = true;
	close_reset(p);
}

/* ---- Server: the target's connection ------------------------------------------------ */

static void on_target_connect(uv_connect_t *req, int status)
{
	plain *p = req->data;
	if (status == UV_ECANCELED)
		return;
	not_connecting(p);
	p->deadline_ms = UINT64_MAX;
	if (p->closing)
		return;
	if (status < 0) {
		log_msg(LOG_LVL_WARN,
		        "conn=%llu stream=%u event=target_connect_failed target=%s err=%s",
		        (unsigned long long)p->conn, p->id, p->env->p->remote_text,
		        uv_err_name(status));
		abort_stream(p, LULL_STREAM_TARGET_UNREACHABLE, "target_connect_failed");
		return;
	}
	p->up = true;
	uv_tcp_nodelay(&p->tcp, 1);
	log_msg(LOG_LVL_DEBUG, "conn=%llu stream=%u event=target_connected target=%s",
	        (unsigned long long)p->conn, p->id, p->env->p->remote_text);
	do_shutdown(p);
	update_reading(p);
	if (p->l)
		link_kick(p->l);
}

/* --target-proxy-protocol: the header goes first, queued (libuv holds it
 * until the connect completes); it is not stream data, so no credit. */
static bool queue_proxy_header(plain *p, struct link *l)
{
	uint8_t h[PROXY_V2_ENCODED_MAX_BYTES];
	size_t n = 0;
	if (!link_target_proxy_header(l, h, sizeof(h), &n))
		return false;
	if (n == 0)
		return true;
	pwreq *w = pwreq_new(p, n, false);
	if (!w)
		return false;
	w->len = n;
	memcpy(w->data, h, n);
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &buf, 1, on_write_done) != 0) {
		free(w);
		return false;
	}
	p->wq += n;
	return true;
}

void plain_open_target(link_env *env, struct link *l, uint32_t id)
{
	uint64_t now = link_env_now(env);
	plain *p = NULL;
	if (!env->h.admit_socket || env->h.admit_socket(env->h.owner))
		p = plain_new(env);
	if (!p) {
		log_msg(LOG_LVL_WARN,
		        "conn=%llu stream=%u event=stream_refused reason=refused "
		        "why=\"no socket or memory for the target\"",
		        (unsigned long long)link_id(l), id);
		(void)lull_mux_reset(link_mux(l), now, id, LULL_STREAM_REFUSED);
		return;
	}
	p->l = l;
	p->id = id;
	p->conn = link_id(l);
	(void)lull_mux_set_user(link_mux(l), id, p);
	log_msg(LOG_LVL_DEBUG, "conn=%llu stream=%u event=stream_open", (unsigned long long)p->conn,
	        id);
	int r = uv_tcp_connect(&p->creq, &p->tcp, (const struct sockaddr *)&env->p->remote.ss,
	                       on_target_connect);
	if (r != 0) {
		log_msg(LOG_LVL_WARN,
		        "conn=%llu stream=%u event=target_connect_failed target=%s err=%s",
		        (unsigned long long)p->conn, id, env->p->remote_text, uv_err_name(r));
		abort_stream(p, LULL_STREAM_TARGET_UNREACHABLE, "target_connect_failed");
		return;
	}
	p->connecting = true;
	env->n_connecting++;
	p->deadline_ms = now + env->p->connect_timeout_ms;
	if (env->p->target_proxy_protocol && !queue_proxy_header(p, l))
		abort_stream(p, LULL_STREAM_INTERNAL_ERROR, "target_proxy_header_failed");
}

void plain_expire_connects(link_env *env, struct link *l, uint64_t now_ms)
{
	if (env->n_connecting == 0)
		return;
	for (plain *p = env->plains, *nx; p; p = nx) {
		nx = p->next; /* closing frees nothing synchronously */
		if (p->l != l || !p->connecting || p->closing || now_ms < p->deadline_ms)
			continue;
		log_msg(LOG_LVL_WARN,
		        "conn=%llu stream=%u event=target_connect_failed target=%s err=timeout",
		        (unsigned long long)p->conn, p->id, env->p->remote_text);
		abort_stream(p, LULL_STREAM_TARGET_UNREACHABLE, "target_connect_timeout");
	}
}

uint64_t plain_next_connect_deadline(const link_env *env, const struct link *l)
{
	uint64_t next = UINT64_MAX;
	if (env->n_connecting == 0)
		return next;
	for (const plain *p = env->plains; p; p = p->next)
		if (p->l == l && p->connecting && !p->closing && p->deadline_ms < next)
			next = p->deadline_ms;
	return next;
}

void plain_reset_all(link_env *env)
{
	for (plain *p = env->plains; p; p = p->next) {
		p->l = NULL;
		p->ended = true;
		close_reset(p);
	}
}

void plain_env_release(link_env *env)
{
	/* Plaintext not written is wiped; the spare was when last used. */
	while (env->batched)
		drop_batch(env->batched);
	free(env->spare_batch);
	env->spare_batch = NULL;
	env->spare_busy = false;
}

static void stream_event(void *stream_user, const lull_stream_event *ev)
{
	plain_on_stream_event(stream_user, ev);
}

const link_stream_ops plain_stream_ops = {
        .open_target = plain_open_target,
        .stream_event = stream_event,
        .next_connect_deadline = plain_next_connect_deadline,
        .expire_connects = plain_expire_connects,
        .flush_writes = plain_flush_writes,
};
