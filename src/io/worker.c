/*
 * worker.c - one event loop per thread: its listening socket, its tunnels,
 * its lull_server (server role) and the SRK timer.
 *
 * Invariants:
 *  - Everything here runs on the worker's own thread, except worker_init,
 *    worker_start, worker_request_* (main thread) and worker_destroy (main
 *    thread, after join).  The only shared state is the mailbox, under mu.
 *  - The SRK timer is armed at lull_server_next_deadline: re-armed when it
 *    fires, and before the loop waits whenever the deadline moved (a
 *    handshake created an SRK: the pool creates them lazily), so every SRK
 *    is erased on time even on a quiet server.
 *  - Stopping: the listener closes first, every tunnel is closed cleanly,
 *    and the loop ends when the last tunnel is freed (each tunnel's
 *    teardown is bounded by CLOSE_LINGER_MS).
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "../cli/keyfile.h"
#include "../cli/log.h"
#include "limits.h"
#include "tunnel.h"

uv_async_t *worker_reload_done;

bool ratelimit_allow(ratelimit *r, uint64_t now_ms, uint64_t *suppressed)
{
	if (now_ms < r->next_ms) {
		r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->next_ms = now_ms + WARN_RATE_LIMIT_MS;
	return true;
}

uint64_t worker_now(worker *w)
{
	uv_update_time(&w->loop);
	return uv_now(&w->loop);
}

void worker_note_timer_late(worker *w, uint64_t now_ms, uint64_t late_ms)
{
	uint64_t dropped = 0;
	if (ratelimit_allow(&w->late_rl, now_ms, &dropped))
		log_msg(LOG_LVL_WARN,
		        "event=timers_late worker=%u late_ms=%llu suppressed=%llu "
		        "why=\"the event loop did not run: process stopped or starved, or a "
		        "call blocked; deadlines fire late and peers may have given up\"",
		        w->index, (unsigned long long)late_ms, (unsigned long long)dropped);
}

/* ---- Events ------------------------------------------------------------- */

static enum log_level event_level(const lull_event *ev)
{
	switch (ev->type) {
	case LULL_EV_AUTH_FAILED:
	case LULL_EV_REPLAY_REFUSED:
	case LULL_EV_HEARTBEAT_MISSED:
	case LULL_EV_SPOOF_REJECTED:
		return LOG_LVL_WARN;
	case LULL_EV_CLOSED:
		return ev->close_reason == LULL_CLOSE_NORMAL ||
		                       ev->close_reason == LULL_CLOSE_SHUTDOWN
		               ? LOG_LVL_INFO
		               : LOG_LVL_WARN;
	case LULL_EV_SRK_CREATED:
	case LULL_EV_SRK_ERASED:
		return LOG_LVL_DEBUG;
	default:
		return LOG_LVL_INFO;
	}
}

void worker_log_event(worker *w, uint64_t conn, const lull_event *ev, const char *note)
{
	if ((unsigned)ev->type < EVENT_COUNT_SLOTS)
		w->counts[ev->type]++;
	enum log_level level = event_level(ev);
	if (!log_enabled(level))
		return;
	char line[LOG_LINE_MAX_BYTES];
	size_t n = 0;
	size_t cap = sizeof(line);
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int m_ = snprintf(line + n, cap - n, __VA_ARGS__);                                 \
		if (m_ > 0)                                                                        \
			n = n + (size_t)m_ < cap ? n + (size_t)m_ : cap - 1;                       \
	} while (0)
	if (conn)
		ADD("conn=%llu ", (unsigned long long)conn);
	/* Names are restricted to log-safe characters by the authorized file. */
	if (ev->peer_name)
		ADD("peer=%s ", ev->peer_name);
	ADD("event=%s", lull_event_name(ev->type));
	switch (ev->type) {
	case LULL_EV_HANDSHAKE_STARTED:
	case LULL_EV_HANDSHAKE_DONE:
	case LULL_EV_REKEY_REQUESTED:
		ADD(" reason=%s", lull_rekey_reason_name(ev->rekey_reason));
		break;
	case LULL_EV_CLOSED:
		ADD(" reason=%s by_peer=%d", lull_close_reason_name(ev->close_reason),
		    ev->by_peer ? 1 : 0);
		break;
	default:
		break;
	}
	if (ev->type == LULL_EV_SRK_CREATED || ev->type == LULL_EV_SRK_ERASED)
		ADD(" interval=%llu", (unsigned long long)ev->interval);
	else if (ev->epoch)
		ADD(" epoch=%u", ev->epoch);
	if (ev->type == LULL_EV_HANDSHAKE_DONE)
		ADD(" duration_ms=%llu", (unsigned long long)ev->duration_ms);
	if (ev->type == LULL_EV_CLOSED || ev->type == LULL_EV_SPOOF_REJECTED)
		ADD(" bytes=%llu", (unsigned long long)ev->bytes);
	if (ev->err != LULL_OK)
		ADD(" err=%s msg=\"%s\"", lull_err_name(ev->err), lull_strerror(ev->err));
	if (ev->type == LULL_EV_AUTH_FAILED && ev->peer_pub) {
		char key[KEY_BASE64_CHARS + 1];
		key_to_base64(ev->peer_pub, key);
		ADD(" peer_key=%s", key);
	}
	if (note)
		ADD(" note=%s", note);
#undef ADD
	log_msg(level, "%s", line);
}

static void on_server_event(void *user, const lull_event *ev)
{
	worker *w = user;
	worker_log_event(w, 0, ev, NULL);
}

/* ---- SRK timer ---------------------------------------------------------- */

static void on_srk_timer(uv_timer_t *h);

static void srk_arm(worker *w)
{
	if (!w->srv || w->finished)
		return;
	uint64_t now = worker_now(w);
	uint64_t next = lull_server_tick(w->srv, now);
	w->srk_armed_ms = next;
	if (next == UINT64_MAX)
		uv_timer_stop(&w->srk_timer);
	else
		uv_timer_start(&w->srk_timer, on_srk_timer, next > now ? next - now : 0, 0);
}

static void on_srk_timer(uv_timer_t *h)
{
	srk_arm(h->data);
}

void worker_srk_update(worker *w)
{
	if (w->srv && lull_server_next_deadline(w->srv) != w->srk_armed_ms)
		srk_arm(w);
}

/* Before the loop waits: whatever the tunnels did this turn, the timer
 * stands at the server's deadline (a load and a compare when it does). */
static void on_srk_prepare(uv_prepare_t *h)
{
	worker_srk_update(h->data);
}

/* ---- Stop and reload ---------------------------------------------------- */

/* The loop ends once it has no tunnel and the main thread has asked it to
 * stop: before that the main thread may still uv_async_send to wake. */
static void maybe_finish(worker *w)
{
	if (!w->stopping || !w->stop_seen || w->n_tunnels > 0 || w->finished)
		return;
	w->finished = true;
	uv_close((uv_handle_t *)&w->wake, NULL);
	uv_close((uv_handle_t *)&w->srk_timer, NULL);
	uv_close((uv_handle_t *)&w->srk_prepare, NULL);
	uv_close((uv_handle_t *)&w->accept_retry, NULL);
}

void worker_tunnel_gone(worker *w)
{
	w->n_tunnels--;
	maybe_finish(w);
}

static void begin_stop(worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	uv_close((uv_handle_t *)&w->listener, NULL);
	/* tunnel_shutdown never frees synchronously (frees come from close
	 * callbacks), so walking the list is safe. */
	for (struct tunnel *t = w->tunnels; t; t = tunnel_next(t))
		tunnel_shutdown(t);
	maybe_finish(w);
}

static void apply_auth(worker *w, auth_list *list)
{
	lull_server_clear_authorized(w->srv);
	size_t ok = 0;
	for (size_t i = 0; i < list->n; i++) {
		const auth_entry *e = &list->entries[i];
		lull_err err =
		        lull_server_authorize(w->srv, e->pub, e->name, e->has_psk ? e->psk : NULL);
		if (err == LULL_OK)
			ok++;
		else
			log_msg(LOG_LVL_ERROR, "event=authorize_failed peer=%s err=%s worker=%u",
			        e->name, lull_err_name(err), w->index);
	}
	log_msg(LOG_LVL_DEBUG, "event=authorized clients=%zu worker=%u", ok, w->index);
}

static void on_wake(uv_async_t *h)
{
	worker *w = h->data;
	uv_mutex_lock(&w->mu);
	bool stop = w->stop_requested;
	bool reload = w->has_pending_auth;
	auth_list list = w->pending_auth;
	unsigned gen = w->pending_gen;
	w->has_pending_auth = false;
	w->pending_auth.entries = NULL;
	w->pending_auth.n = 0;
	uv_mutex_unlock(&w->mu);
	if (reload) {
		if (w->srv)
			apply_auth(w, &list);
		auth_list_free(&list);
		/* A generation, not a countdown: a second SIGHUP before every
		 * worker acknowledged the first only supersedes it. */
		atomic_store(&w->applied_gen, gen);
		if (worker_reload_done)
			uv_async_send(worker_reload_done);
	}
	if (stop) {
		w->stop_seen = true;
		begin_stop(w);
		maybe_finish(w);
	}
}

void worker_request_stop(worker *w)
{
	uv_mutex_lock(&w->mu);
	w->stop_requested = true;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

void worker_request_reload(worker *w, const auth_list *list, unsigned gen)
{
	auth_list copy;
	if (!auth_list_copy(&copy, list)) {
		log_msg(LOG_LVL_ERROR, "event=reload_failed worker=%u err=LULL_ERR_NOMEM",
		        w->index);
		return;
	}
	uv_mutex_lock(&w->mu);
	if (w->has_pending_auth)
		auth_list_free(&w->pending_auth);
	w->pending_auth = copy;
	w->pending_gen = gen;
	w->has_pending_auth = true;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

/* ---- Life --------------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status)
{
	worker *w = listener->data;
	if (status < 0) {
		/* On EMFILE/ENFILE libuv has already accepted and closed the
		 * pending connections to keep the listener alive: they are lost,
		 * so say so, once a second at most. */
		uint64_t dropped;
		if (ratelimit_allow(&w->accept_rl, worker_now(w), &dropped))
			log_msg(LOG_LVL_WARN,
			        "event=accept_failed err=%s worker=%u%s suppressed=%llu",
			        uv_err_name(status), w->index,
			        status == UV_EMFILE || status == UV_ENFILE
			                ? " why=\"out of file descriptors: connections dropped\""
			                : "",
			        (unsigned long long)dropped);
		return;
	}
	if (!w->stopping)
		tunnel_accept(w, listener);
}

int worker_init(worker *w, unsigned index, const daemon_params *dp, int listen_fd)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->dp = dp;
	w->readbuf = malloc(NET_READ_BYTES);
	if (!w->readbuf)
		return UV_ENOMEM;
	int r = uv_loop_init(&w->loop);
	if (r != 0)
		return r;
	w->loop_ready = true;
	if ((r = uv_mutex_init(&w->mu)) != 0)
		return r;
	w->mu_ready = true;
	if ((r = uv_tcp_init(&w->loop, &w->listener)) != 0 ||
	    (r = uv_async_init(&w->loop, &w->wake, on_wake)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->srk_timer)) != 0 ||
	    (r = uv_prepare_init(&w->loop, &w->srk_prepare)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->accept_retry)) != 0)
		return r;
	w->listener.data = w;
	w->wake.data = w;
	w->srk_timer.data = w;
	w->srk_prepare.data = w;
	w->srk_armed_ms = UINT64_MAX;
	/* Unreferenced: it must not keep the loop alive by itself. */
	if ((r = uv_prepare_start(&w->srk_prepare, on_srk_prepare)) != 0)
		return r;
	uv_unref((uv_handle_t *)&w->srk_prepare);
	w->accept_retry.data = w;
	if ((r = uv_tcp_open(&w->listener, listen_fd)) != 0)
		return r;
	/* Here, not in the worker thread (whose loop is not running yet), so
	 * that a failure is a start failure: exit 1 before "listening". */
	if ((r = uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_connection)) != 0)
		return r;
	if (dp->role == ROLE_SERVER) {
		lull_err err = lull_server_new(&w->srv, &dp->cfg, &dp->key, on_server_event, w);
		if (err != LULL_OK) {
			log_msg(LOG_LVL_ERROR, "event=server_init_failed err=%s msg=\"%s\"",
			        lull_err_name(err), lull_strerror(err));
			return UV_EINVAL;
		}
		auth_list initial = dp->auth;
		apply_auth(w, &initial);
		if (source_budget_init(&w->budget, &dp->budget) != 0)
			return UV_ENOMEM;
	}
	return 0;
}

static void worker_main(void *arg)
{
	worker *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

int worker_start(worker *w)
{
	return uv_thread_create(&w->thread, worker_main, w);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void worker_destroy(worker *w)
{
	if (w->loop_ready) {
		/* A worker that never ran (start-up failure) still owns handles. */
		uv_walk(&w->loop, close_any, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
	}
	if (w->mu_ready)
		uv_mutex_destroy(&w->mu);
	if (w->has_pending_auth)
		auth_list_free(&w->pending_auth);
	lull_server_free(w->srv);
	source_budget_free(&w->budget);
	free(w->readbuf);
}
