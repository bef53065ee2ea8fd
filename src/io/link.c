/*
 * link.c - one lull connection between the daemons, over its own TCP
 * socket, carrying streams through a lull_mux.
 *
 * Life:
 *   client: TCP connect (bounded by connect_timeout) -> handshake -> up ->
 *           streams come and go -> closed (either end, any reason)
 *   server: accept -> handshake -> up (streams opened by the client each
 *           connect their own target, plain.c) -> closed
 *   closed: every stream is reset (plain.c sends its application an RST),
 *           the close frame is flushed, FIN, the peer's FIN awaited for at
 *           most CLOSE_LINGER_MS, then the handles close and the owner's
 *           gone hook runs.
 *
 * Invariants:
 *  - The link socket is always read while it is up: flow control is the
 *    streams' credit (lull_stream.h), never a stopped reader, so
 *    heartbeats, acks and rekeys are never held behind a slow consumer.
 *  - Engine output moves to the socket while less than
 *    NET_WRITE_QUEUE_BYTES wait there; the rest stays in the engine, which
 *    bounds it, and the mux hands the engine frames only while its output
 *    is short (LULL_STREAM_ENGINE_QUEUE_BYTES).
 *  - A transport that ends without a close frame closes the engine with
 *    LULL_CLOSE_TRANSPORT_LOST: logged at warn, and every stream reset.
 *  - A link never calls into its owner except through link_hooks, and
 *    frees itself only from the close callback of its last handle, after
 *    the gone hook.
 *  - Callbacks from the engine and the mux never free anything; every
 *    entry point ends in kick(), which writes output, decides teardown and
 *    sets the link's one deadline.
 *  - A link's deadline is a node in its env's heap (deadlines.h) behind
 *    the env's one timer, not a uv_timer_t of its own (issue 13: memory
 *    per idle link).  Its slot is reserved when the link is made; the node
 *    is out of the heap before the link is freed.
 */
#include "link.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../support/log.h"
#include "deadlines.h"
#include "limits.h"
#include "proxy_io.h"

typedef struct link {
	struct link *next; /* the owner's list */
	link_env *env;
	uint64_t id;
	lull_conn *lc;
	lull_mux *mux;
	uv_tcp_t net;
	deadline_node deadline; /* in env->deadlines while it has one */
	/* The connect (client) and shutdown requests are allocated while
	 * they run: an idle link is as small as it can be (issue 13). */
	size_t wq; /* bytes in uv_write requests not yet completed */
	unsigned open_handles;
	uint32_t streams_started;
	bool net_init, net_up, net_reading, net_dead, net_eof, net_shut, net_closing;
	bool timer_closing; /* no deadline any more: the link is going */
	bool up;            /* first handshake done */
	bool lull_closed;   /* the engine reported CLOSED */
	bool finishing;     /* lull_conn_finish: spent, last stream gone */
	bool goaway;        /* drain: GOAWAY sent or received, no new streams */
	bool closing;       /* teardown begun */
	bool admit_later;   /* server, --proxy-protocol: admission waits for the header */
	lull_close_reason close_reason; /* once lull_closed */
	uint64_t connect_deadline_ms;
	uint64_t linger_deadline_ms;
	/* Server: the PROXY state; the client's address is only read to
	 * admit it (admit_client), not kept. */
	proxy_io *px;
	void *owner_data;
} link;

typedef struct wreq {
	uv_write_t req;
	link *l;
	size_t len;
	uint8_t data[];
} wreq;

/* kick(): act, then again if a flush made room the mux can fill. */
#define KICK_MAX_PASSES 4

static atomic_uint_fast64_t next_link_id = 1;

static void kick(link *l);
static void on_deadline(link *l, uint64_t now, uint64_t due);
static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

uint64_t link_env_now(link_env *env)
{
	uv_update_time(env->loop);
	return uv_now(env->loop);
}

/* ---- The env's deadlines ---------------------------------------------------- */

static link *link_of(deadline_node *n)
{
	return (link *)(void *)((char *)n - offsetof(link, deadline));
}

static void on_deadlines(uv_timer_t *h);

/* The env's timer at its earliest deadline. */
static void rearm(link_env *env)
{
	if (env->deadlines_closed)
		return;
	deadline_node *first = deadlines_first(&env->deadlines);
	uint64_t due = first ? first->due_ms : DEADLINE_NONE;
	if (due == env->deadline_armed_ms)
		return;
	env->deadline_armed_ms = due;
	if (due == DEADLINE_NONE) {
		uv_timer_stop(&env->deadline_timer);
		return;
	}
	uint64_t now = uv_now(env->loop); /* the base uv_timer_start counts from */
	uv_timer_start(&env->deadline_timer, on_deadlines, due > now ? due - now : 0, 0);
}

static void set_deadline(link *l, uint64_t due)
{
	deadlines_set(&l->env->deadlines, &l->deadline, due);
	rearm(l->env);
}

static void on_deadlines(uv_timer_t *h)
{
	link_env *env = h->data;
	env->deadline_armed_ms = DEADLINE_NONE;
	uint64_t now = link_env_now(env);
	/* At most the links there are: one that sets a deadline already past
	 * runs at the loop's next turn, as with a uv timer of its own. */
	size_t budget = env->deadlines.n;
	deadline_node *n;
	while (budget-- > 0 && (n = deadlines_first(&env->deadlines)) != NULL && n->due_ms <= now) {
		uint64_t due = n->due_ms;
		deadlines_set(&env->deadlines, n, DEADLINE_NONE);
		on_deadline(link_of(n), now, due);
	}
	rearm(env);
}

int link_env_start(link_env *env)
{
	env->deadline_armed_ms = DEADLINE_NONE;
	env->deadlines_closed = false;
	int r = uv_timer_init(env->loop, &env->deadline_timer);
	env->deadline_timer.data = env;
	return r;
}

void link_env_stop(link_env *env)
{
	if (env->deadlines_closed)
		return;
	env->deadlines_closed = true;
	uv_close((uv_handle_t *)&env->deadline_timer, NULL);
}

void link_env_free(link_env *env)
{
	deadlines_free(&env->deadlines);
}

uint64_t link_id(const link *l)
{
	return l->id;
}

link *link_next(link *l)
{
	return l->next;
}

void link_set_next(link *l, link *next)
{
	l->next = next;
}

lull_mux *link_mux(link *l)
{
	return l->mux;
}

void link_kick(link *l)
{
	kick(l);
}

bool link_is_up(const link *l)
{
	return l->up && !l->lull_closed && !l->closing;
}

bool link_refused_us(const link *l)
{
	if (!l->lull_closed)
		return false;
	switch (l->close_reason) {
	case LULL_CLOSE_AUTH_FAILED:
	case LULL_CLOSE_UNKNOWN_CLIENT:
	case LULL_CLOSE_VERSION:
		return true;
	default:
		return false;
	}
}

bool link_was_up(const link *l)
{
	return l->up;
}

bool link_is_closing(const link *l)
{
	return l->closing || l->lull_closed || l->finishing || l->goaway;
}

void link_goaway(link *l)
{
	if (l->goaway || l->closing || l->lull_closed)
		return;
	if (!l->up || !l->mux) {
		/* No stream yet: nothing to let finish. */
		link_close(l, LULL_CLOSE_SHUTDOWN);
		return;
	}
	l->goaway = true;
	(void)lull_mux_goaway(l->mux, link_env_now(l->env));
	kick(l);
}

size_t link_stream_count(const link *l)
{
	return l->mux ? lull_mux_stream_count(l->mux) : 0;
}

size_t link_budget_left(const link *l)
{
	uint32_t per = l->env->p->streams_per_link;
	if (link_is_closing(l))
		return 0;
	if (per == 0)
		return SIZE_MAX;
	return l->streams_started < per ? per - l->streams_started : 0;
}

size_t link_free_slots(const link *l)
{
	if (!link_is_up(l) || l->finishing || l->goaway)
		return 0;
	size_t n = lull_mux_stream_count(l->mux);
	size_t cap = l->env->p->mux_cfg.max_streams;
	size_t slots = n < cap ? cap - n : 0;
	size_t budget = link_budget_left(l);
	return budget < slots ? budget : slots;
}

void link_stream_started(link *l)
{
	l->streams_started++;
}

void link_set_owner_data(link *l, void *data)
{
	l->owner_data = data;
}

void *link_owner_data(const link *l)
{
	return l->owner_data;
}

const char *link_peer_name(const link *l)
{
	return l->lc ? lull_conn_peer_name(l->lc) : NULL;
}

bool link_target_proxy_header(link *l, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (!l->px)
		return true;
	if (cap < PROXY_V2_ENCODED_MAX_BYTES)
		return false;
	return proxy_io_target_header(l->px, l->id, &l->net, link_peer_name(l), out, len);
}

/* ---- Handles ---------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
	link *l = h->data;
	if (--l->open_handles > 0)
		return;
	link_env *env = l->env;
	set_deadline(l, DEADLINE_NONE);
	env->n_links--;
	proxy_io_free(l->px);
	l->px = NULL;
	lull_mux_free(l->mux);
	l->mux = NULL;
	lull_conn_free(l->lc);
	l->lc = NULL;
	if (env->h.gone)
		env->h.gone(env->h.owner, l);
	free(l);
}

static void net_close(link *l)
{
	if (!l->net_init || l->net_closing)
		return;
	l->net_closing = true;
	l->net_reading = false;
	uv_close((uv_handle_t *)&l->net, on_handle_closed);
}

static void timer_close(link *l)
{
	if (l->timer_closing)
		return;
	l->timer_closing = true;
	set_deadline(l, DEADLINE_NONE);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	link *l = h->data;
	(void)suggested;
	buf->base = (char *)l->env->readbuf;
	buf->len = NET_READ_BYTES;
}

/* ---- Output ----------------------------------------------------------------- */

static void on_write_done(uv_write_t *req, int status)
{
	wreq *r = (wreq *)req;
	link *l = r->l;
	l->wq -= r->len;
	free(r);
	if (status == UV_ECANCELED)
		return;
	if (status >= 0 && l->closing)
		l->linger_deadline_ms = link_env_now(l->env) + CLOSE_LINGER_MS; /* progress */
	if (status < 0 && !l->net_dead) {
		log_msg(LOG_LVL_DEBUG, "conn=%llu event=write_failed side=net err=%s",
		        (unsigned long long)l->id, uv_err_name(status));
		l->net_dead = true;
	}
	kick(l);
}

static bool net_write(link *l, const uint8_t *data, size_t len)
{
	if (l->wq == 0) {
		uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
		int r = uv_try_write((uv_stream_t *)&l->net, &buf, 1);
		if (r > 0) {
			data += r;
			len -= (size_t)r;
		} else if (r != UV_EAGAIN && r != UV_ENOSYS) {
			return false;
		}
	}
	if (len == 0)
		return true;
	wreq *w = malloc(sizeof(*w) + len);
	if (!w)
		return false;
	w->l = l;
	w->len = len;
	memcpy(w->data, data, len);
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&l->net, &buf, 1, on_write_done) != 0) {
		free(w);
		return false;
	}
	l->wq += len;
	return true;
}

/* Engine output to the socket, within NET_WRITE_QUEUE_BYTES. */
static void flush_net(link *l)
{
	if (!l->lc)
		return;
	for (;;) {
		const uint8_t *bytes;
		size_t n = lull_conn_output(l->lc, &bytes);
		if (n == 0)
			return;
		if (l->net_dead || l->net_closing) {
			lull_conn_output_consume(l->lc, n); /* no one to send it to */
			continue;
		}
		if (!l->net_up || l->wq >= NET_WRITE_QUEUE_BYTES)
			return;
		if (!net_write(l, bytes, n)) {
			l->net_dead = true;
			continue;
		}
		lull_conn_output_consume(l->lc, n);
	}
}

/* ---- Engine and mux callbacks ----------------------------------------------- */

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	link *l = user;
	/* Violations are handled (and the link closed if need be) inside. */
	(void)lull_mux_receive(l->mux, link_env_now(l->env), msg, len);
}

static void on_event(void *user, const lull_event *ev)
{
	link *l = user;
	link_env *env = l->env;
	if (env->h.log_event)
		env->h.log_event(env->h.owner, l->id, ev, NULL);
	if (env->h.link_event)
		env->h.link_event(env->h.owner, l, ev);
	if (ev->type == LULL_EV_HANDSHAKE_DONE && !l->up) {
		l->up = true;
		if (env->h.up)
			env->h.up(env->h.owner, l);
	} else if (ev->type == LULL_EV_CLOSED) {
		l->lull_closed = true;
		l->close_reason = ev->close_reason;
		/* Every stream ends here: plain.c resets what was not complete. */
		lull_mux_link_closed(l->mux);
	}
}

static void on_stream_event(void *user, const lull_stream_event *ev)
{
	link *l = user;
	if (ev->type == LULL_STREAM_EV_OPENED) {
		if (l->env->p->server)
			l->env->streams->open_target(l->env, l, ev->id);
		return;
	}
	if (ev->type == LULL_STREAM_EV_GOAWAY) {
		/* The server drains: new streams go elsewhere, ours finish. */
		l->goaway = true;
		log_msg(LOG_LVL_INFO, "conn=%llu event=goaway_received streams=%zu",
		        (unsigned long long)l->id, lull_mux_stream_count(l->mux));
		if (l->env->h.goaway)
			l->env->h.goaway(l->env->h.owner, l);
		return;
	}
	if (ev->type == LULL_STREAM_EV_ERROR) {
		log_msg(LOG_LVL_WARN, "conn=%llu stream=%u event=stream_error err=%s reaction=%s",
		        (unsigned long long)l->id, ev->id, lull_err_name(ev->err),
		        lull_stream_reason_name(ev->reason));
		return;
	}
	if (ev->stream_user)
		l->env->streams->stream_event(ev->stream_user, ev);
	if (ev->type == LULL_STREAM_EV_CLOSED && l->env->h.stream_ended && !l->lull_closed)
		l->env->h.stream_ended(l->env->h.owner, l);
}

static lull_callbacks callbacks(link *l)
{
	lull_callbacks cb = {.on_message = on_message, .on_event = on_event, .user = l};
	return cb;
}

static bool make_mux(link *l)
{
	lull_err err = lull_mux_new(&l->mux, l->lc, !l->env->p->server, &l->env->p->mux_cfg,
	                            on_stream_event, l);
	if (err == LULL_OK)
		return true;
	log_msg(LOG_LVL_ERROR, "conn=%llu event=link_failed err=%s msg=\"%s\"",
	        (unsigned long long)l->id, lull_err_name(err), lull_strerror(err));
	return false;
}

/* ---- Teardown and the driver ---------------------------------------------------- */

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
	link *l = req->data;
	free(req); /* called once, with UV_ECANCELED if the handle closed first */
	if (status == UV_ECANCELED)
		return;
	if (status < 0)
		l->net_dead = true;
	kick(l);
}

static void teardown(link *l, uint64_t now)
{
	if (!l->closing) {
		l->closing = true;
		l->linger_deadline_ms = now + CLOSE_LINGER_MS;
		l->connect_deadline_ms = UINT64_MAX;
	}
	if (l->net_init && !l->net_closing) {
		size_t backlog = l->wq + (l->lc ? lull_conn_output_pending(l->lc) : 0);
		if (l->net_dead || !l->net_up || (l->net_eof && backlog == 0)) {
			net_close(l);
		} else if (backlog == 0 && !l->net_shut) {
			uv_shutdown_t *req = malloc(sizeof(*req));
			if (req)
				req->data = l;
			if (req &&
			    uv_shutdown(req, (uv_stream_t *)&l->net, on_shutdown_done) == 0) {
				l->net_shut = true;
			} else {
				free(req); /* no memory or no socket: close without FIN */
				net_close(l);
			}
		}
	}
	if (!l->net_init || l->net_closing)
		timer_close(l);
}

static void arm_timer(link *l, uint64_t now)
{
	if (l->timer_closing)
		return;
	uint64_t d = l->linger_deadline_ms;
	if (l->connect_deadline_ms < d)
		d = l->connect_deadline_ms;
	if (l->lc && !l->lull_closed) {
		uint64_t e = lull_conn_next_deadline(l->lc);
		if (e < d)
			d = e;
	}
	if (l->env->p->server && !l->lull_closed) {
		uint64_t c = l->env->streams->next_connect_deadline(l->env, l);
		if (c < d)
			d = c;
	}
	(void)now;
	set_deadline(l, d);
}

static void set_reading(link *l)
{
	/* Always, while the socket can deliver: see the invariants. */
	bool want = l->net_up && !l->net_eof && !l->net_dead && !l->net_closing;
	if (want == l->net_reading)
		return;
	if (want)
		l->net_reading = uv_read_start((uv_stream_t *)&l->net, alloc_cb, on_net_read) == 0;
	else
		l->net_reading = uv_read_stop((uv_stream_t *)&l->net) != 0;
}

static void kick(link *l)
{
	l->env->streams->flush_writes(l->env, l); /* l's credit goes out below */
	if (l->timer_closing)
		return;
	uint64_t now = link_env_now(l->env);
	for (unsigned pass = 0; pass < KICK_MAX_PASSES; pass++) {
		if (l->lc && !l->lull_closed && l->net_dead) {
			/* The transport ended without the peer's close frame. */
			lull_conn_close(l->lc, now, LULL_CLOSE_TRANSPORT_LOST);
		}
		size_t before = l->lc ? lull_conn_output_pending(l->lc) : 0;
		flush_net(l);
		if (!l->mux || l->lull_closed || !l->up)
			break;
		(void)lull_mux_flush(l->mux, now);
		/* Spent (streams_per_link) or drained (GOAWAY either way) and
		 * empty: end it cleanly, after the frames the mux still had to
		 * send. */
		bool spent = l->env->p->streams_per_link &&
		             l->streams_started >= l->env->p->streams_per_link;
		if ((spent || l->goaway) && !l->finishing && lull_mux_stream_count(l->mux) == 0 &&
		    lull_mux_queued_bytes(l->mux) == 0) {
			l->finishing = true;
			if (lull_conn_finish(l->lc, now) != LULL_OK && !l->lull_closed)
				lull_conn_close(l->lc, now, LULL_CLOSE_INTERNAL_ERROR);
		}
		size_t after = l->lc ? lull_conn_output_pending(l->lc) : 0;
		if (after == 0 || after == before || !l->net_up || l->wq >= NET_WRITE_QUEUE_BYTES)
			break;
	}
	flush_net(l);
	if (l->lull_closed || l->closing || (!l->lc && l->net_dead))
		teardown(l, now);
	set_reading(l);
	arm_timer(l, now);
	if (l->env->h.engine_done)
		l->env->h.engine_done(l->env->h.owner);
}

/* ---- I/O callbacks -------------------------------------------------------------- */

/* The socket's peer (len 0 if unknown). */
static void peer_addr(link *l, net_addr *out)
{
	out->len = sizeof(out->ss);
	if (uv_tcp_getpeername(&l->net, (struct sockaddr *)&out->ss, (int *)&out->len) != 0)
		out->len = 0;
}

/* Server, --proxy-protocol: once the balancer's header is in, the owner
 * judges the client it names (a LOCAL or UNSPEC header - a health check -
 * leaves the socket's peer). */
static bool header_client_admitted(link *l)
{
	if (!proxy_io_header_done(l->px))
		return true; /* not yet: nothing reaches the engine before it */
	l->admit_later = false;
	net_addr client;
	if (!proxy_io_client_addr(l->px, &client))
		peer_addr(l, &client);
	link_env *env = l->env;
	return !env->h.admit_client || env->h.admit_client(env->h.owner, l, &client);
}

static void on_net_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	link *l = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (!l->lull_closed && nread != UV_EOF)
			log_msg(LOG_LVL_DEBUG, "conn=%llu event=net_read_failed err=%s",
			        (unsigned long long)l->id, uv_err_name((int)nread));
		l->net_eof = true;
		if (!l->lull_closed)
			l->net_dead = true; /* lull has no half-close */
	} else if (l->lc && !l->lull_closed) {
		const uint8_t *bytes = (const uint8_t *)buf->base;
		size_t len = (size_t)nread;
		/* A balancer's header comes first; the engine sees what follows. */
		if (!proxy_io_take_header(l->px, l->id, &bytes, &len)) {
			l->net_dead = true; /* refused, and logged why */
			l->closing = true;
		} else if (l->admit_later && !header_client_admitted(l)) {
			l->net_dead = true; /* throttled, and logged */
			l->closing = true;
		} else if (len > 0) {
			/* Errors are reported (and logged) through the CLOSED event. */
			(void)lull_conn_receive(l->lc, link_env_now(l->env), bytes, len);
		}
	}
	kick(l);
}

/* Its deadline (due) came: on_deadlines took it out of the heap. */
static void on_deadline(link *l, uint64_t now, uint64_t due)
{
	if (now >= due + TIMER_LATE_WARN_MS && l->env->h.timer_late)
		l->env->h.timer_late(l->env->h.owner, now, now - due);
	if (now >= l->linger_deadline_ms) {
		net_close(l);
		timer_close(l);
		return;
	}
	if (now >= l->connect_deadline_ms) {
		l->connect_deadline_ms = UINT64_MAX;
		log_msg(LOG_LVL_WARN, "conn=%llu event=server_connect_failed server=%s err=timeout",
		        (unsigned long long)l->id, l->env->p->remote_text);
		l->net_dead = true;
		l->closing = true;
	}
	if (l->lc && !l->lull_closed && now >= lull_conn_next_deadline(l->lc))
		(void)lull_conn_tick(l->lc, now);
	if (l->env->p->server && !l->lull_closed)
		l->env->streams->expire_connects(l->env, l, now);
	kick(l);
}

/* ---- Construction ---------------------------------------------------------------- */

static link *link_new(link_env *env)
{
	/* The deadline's slot first: setting it later cannot fail. */
	if (deadlines_reserve(&env->deadlines, env->n_links + 1) != 0)
		return NULL;
	link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->env = env;
	l->id = atomic_fetch_add(&next_link_id, 1);
	l->connect_deadline_ms = UINT64_MAX;
	l->linger_deadline_ms = UINT64_MAX;
	deadline_node_init(&l->deadline);
	uv_tcp_init(env->loop, &l->net);
	l->net.data = l;
	l->net_init = true;
	l->open_handles = 1;
	env->n_links++;
	return l;
}

/* After the engine was made (err: how that went): its mux, its start;
 * any failure ends the link. */
static void start_engine(link *l, lull_err err)
{
	if (err == LULL_OK && !make_mux(l))
		err = LULL_ERR_NOMEM;
	if (err == LULL_OK)
		err = lull_conn_start(l->lc, link_env_now(l->env));
	if (err != LULL_OK) {
		log_msg(LOG_LVL_ERROR, "conn=%llu event=conn_failed err=%s msg=\"%s\"",
		        (unsigned long long)l->id, lull_err_name(err), lull_strerror(err));
		l->net_dead = true;
		l->closing = true;
	}
	kick(l);
}

static void on_server_connect(uv_connect_t *req, int status)
{
	link *l = req->data;
	const link_params *p = l->env->p;
	free(req); /* called once, with UV_ECANCELED if the handle closed first */
	if (status == UV_ECANCELED)
		return;
	l->connect_deadline_ms = UINT64_MAX;
	if (status < 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=server_connect_failed server=%s err=%s",
		        (unsigned long long)l->id, p->remote_text, uv_err_name(status));
		l->net_dead = true;
		l->closing = true;
		kick(l);
		return;
	}
	l->net_up = true;
	uv_tcp_nodelay(&l->net, 1);
	lull_callbacks cb = callbacks(l);
	start_engine(l, lull_conn_new_client(&l->lc, &p->cfg, &p->key, p->server_pub,
	                                     p->has_psk ? p->psk : NULL, &cb));
}

link *link_connect(link_env *env)
{
	link *l = link_new(env);
	if (!l)
		return NULL;
	uv_connect_t *req = malloc(sizeof(*req));
	int r = UV_ENOMEM;
	if (req) {
		req->data = l;
		r = uv_tcp_connect(req, &l->net, (const struct sockaddr *)&env->p->remote.ss,
		                   on_server_connect);
		if (r != 0)
			free(req);
	}
	if (r != 0) {
		log_msg(LOG_LVL_WARN, "conn=%llu event=server_connect_failed server=%s err=%s",
		        (unsigned long long)l->id, env->p->remote_text, uv_err_name(r));
		l->net_dead = true;
		l->closing = true;
	} else {
		l->connect_deadline_ms = link_env_now(env) + env->p->connect_timeout_ms;
	}
	kick(l);
	return l;
}

static void log_accepted(link *l, const net_addr *client)
{
	if (!log_enabled(LOG_LVL_INFO))
		return;
	char text[ADDR_TEXT_MAX_BYTES] = "?";
	if (client->len)
		net_addr_text(client, text, sizeof(text));
	log_msg(LOG_LVL_INFO, "conn=%llu event=accepted from=%s", (unsigned long long)l->id, text);
}

link *link_accept(link_env *env, uv_stream_t *listener)
{
	link *l = link_new(env);
	if (!l)
		return NULL;
	if (uv_accept(listener, (uv_stream_t *)&l->net) != 0) {
		l->net_dead = true;
		l->closing = true;
		kick(l);
		return l;
	}
	l->net_up = true;
	net_addr client;
	peer_addr(l, &client);
	/* Behind a balancer the socket's peer is the balancer: admission keys
	 * on the client its PROXY header names, once it has arrived. */
	if (env->p->proxy_protocol)
		l->admit_later = true;
	else if (env->h.admit_client && !env->h.admit_client(env->h.owner, l, &client)) {
		l->net_dead = true;
		l->closing = true;
		kick(l);
		return l;
	}
	log_accepted(l, &client);
	uv_tcp_nodelay(&l->net, 1);
	lull_callbacks cb = callbacks(l);
	start_engine(l,
	             proxy_io_attach(&l->px, env->p->proxy_protocol, env->p->target_proxy_protocol)
	                     ? lull_conn_new_server(&l->lc, env->srv, &cb)
	                     : LULL_ERR_NOMEM);
	return l;
}

void link_close(link *l, lull_close_reason reason)
{
	if (l->lc && !l->lull_closed)
		lull_conn_close(l->lc, link_env_now(l->env), reason);
	else
		l->closing = true;
	kick(l);
}
