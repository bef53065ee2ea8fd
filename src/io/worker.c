/*
 * worker.c - one event loop per thread: its listening socket, its links and
 * their streams, admission, its lull_server (server role) and the SRK
 * timer.  The worker owns the links; a link reports back only through the
 * link_hooks set here.
 *
 * Invariants:
 *  - Everything here runs on the worker's own thread, except worker_init,
 *    worker_start, worker_request_* (main thread) and worker_destroy (main
 *    thread, after join).  The only shared state is the mailbox, under mu.
 *  - The SRK timer is armed at lull_server_next_deadline: re-armed when it
 *    fires, and after every engine call that moved the deadline (a
 *    handshake created an SRK: the pool creates them lazily), so every SRK
 *    is erased on time even on a quiet server.
 *  - Client: dp->links links are kept up (streams_per_link 0); one that
 *    fails or is lost is replaced after a jittered exponential backoff
 *    (RECONNECT_MIN_MS doubling to RECONNECT_MAX_MS, drawn from [d/2, d]),
 *    each failure logged at warn.  With streams_per_link N, links are made
 *    on demand instead and each closes after carrying N streams.  An
 *    application accepted while no link has a free slot waits, oldest
 *    first, at most connect_timeout, then gets an RST.
 *  - Client, drain: a link whose server sent GOAWAY takes no new stream
 *    and is replaced at once (no backoff: not a failure); it closes
 *    normally after its last stream.
 *  - Server, drain (--drain-timeout): the listener closes, every link gets
 *    GOAWAY, and once the last link and stream socket are gone the worker
 *    reports drained to the main thread, which then stops it.  A stop
 *    (timeout, second signal) overrides a drain at any point.
 *  - Stopping: the listener closes first, every link is closed (its
 *    streams reset), waiting applications are reset, and the loop ends
 *    when the last link and stream socket are freed (a link's teardown is
 *    bounded by CLOSE_LINGER_MS).
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "../support/keyfile.h"
#include "../support/log.h"
#include "limits.h"
#include "metrics.h"

uv_async_t *worker_reload_done;
uv_async_t *worker_drained;

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

static void note_timer_late(void *owner, uint64_t now_ms, uint64_t late_ms)
{
	worker *w = owner;
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
	case LULL_EV_HEARTBEAT_SENT:
	case LULL_EV_HEARTBEAT_ACKED:
	case LULL_EV_HEARTBEAT_RECEIVED:
		return LOG_LVL_DEBUG; /* an idle link stays quiet at info */
	default:
		return LOG_LVL_INFO;
	}
}

void worker_log_event(worker *w, uint64_t conn, const lull_event *ev, const char *note)
{
	if ((unsigned)ev->type < EVENT_COUNT_SLOTS)
		w->counts[ev->type]++;
	metrics_event(ev);
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

static void srk_update(void *owner)
{
	worker *w = owner;
	if (w->srv && lull_server_next_deadline(w->srv) != w->srk_armed_ms)
		srk_arm(w);
}

/* ---- Links and waiting applications ------------------------------------- */

static bool persistent_links(const worker *w)
{
	return w->dp->role == ROLE_CLIENT && w->dp->streams_per_link == 0;
}

static void on_wait_timer(uv_timer_t *h);

static void wait_arm(worker *w)
{
	if (w->finished)
		return;
	if (!w->wait_head) {
		uv_timer_stop(&w->wait_timer);
		return;
	}
	uint64_t now = worker_now(w), d = plain_deadline(w->wait_head);
	uv_timer_start(&w->wait_timer, on_wait_timer, d > now ? d - now : 0, 0);
}

static plain *wait_pop(worker *w)
{
	plain *p = w->wait_head;
	if (!p)
		return NULL;
	w->wait_head = plain_wait_next(p);
	if (!w->wait_head)
		w->wait_tail = NULL;
	plain_set_wait_next(p, NULL);
	w->n_waiting--;
	return p;
}

static void wait_push(worker *w, plain *p)
{
	plain_set_wait_next(p, NULL);
	if (w->wait_tail)
		plain_set_wait_next(w->wait_tail, p);
	else
		w->wait_head = p;
	w->wait_tail = p;
	w->n_waiting++;
}

/* The up link with the most free slots (fewest streams), or NULL. */
static struct link *pick_link(worker *w)
{
	struct link *best = NULL;
	size_t best_slots = 0;
	for (struct link *l = w->links; l; l = link_next(l)) {
		size_t slots = link_free_slots(l);
		if (slots > best_slots) {
			best = l;
			best_slots = slots;
		}
	}
	return best;
}

/* ---- Memory after bursts ------------------------------------------------ */

static void on_trim_timer(uv_timer_t *h)
{
	worker *w = h->data;
	uint64_t now = uv_now(&w->loop);
	if (now - w->trim_last_ms < MALLOC_TRIM_QUIET_MS) {
		/* Still going: wait for the quiet after it. */
		uv_timer_start(&w->trim_timer, on_trim_timer,
		               MALLOC_TRIM_QUIET_MS - (now - w->trim_last_ms), 0);
		return;
	}
	w->trim_events = 0;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* A handshake completed or a link went: one more event of a burst. */
static void note_burst_event(worker *w)
{
	w->trim_last_ms = uv_now(&w->loop);
	if (++w->trim_events >= MALLOC_TRIM_AFTER_EVENTS && !w->finished &&
	    !uv_is_active((uv_handle_t *)&w->trim_timer))
		uv_timer_start(&w->trim_timer, on_trim_timer, MALLOC_TRIM_QUIET_MS, 0);
}

/* What the worker keeps about one of its links (link_owner_data). */
typedef struct link_meta {
	link_stat *stat; /* what /status shows; NULL if it could not be made */
	source_key src;  /* server: the client the budget admitted */
	bool has_src;
} link_meta;

/* l's record, made on first use (NULL: out of memory, nothing recorded). */
static link_meta *meta_of(worker *w, struct link *l)
{
	link_meta *m = link_owner_data(l);
	if (!m && (m = calloc(1, sizeof(*m))) != NULL) {
		m->stat = linkstat_open(&w->linkstats, link_id(l), uv_now(&w->loop));
		link_set_owner_data(l, m);
	}
	return m;
}

static void add_link(worker *w, struct link *l)
{
	(void)meta_of(w, l);
	link_set_next(l, w->links);
	w->links = l;
}

/* On demand (streams_per_link N): enough links coming up for the waiting. */
static void links_on_demand(worker *w)
{
	if (persistent_links(w) || w->dp->role != ROLE_CLIENT || w->stopping)
		return;
	/* Every link that never came up counts, closing or not: it either
	 * comes up for streams_per_link of the waiting, or, once gone, refuses
	 * as many of them (hook_gone).  Not counting a dying one made an extra
	 * link for an application that was about to be refused. */
	size_t coming = 0;
	for (struct link *l = w->links; l; l = link_next(l))
		if (!link_was_up(l))
			coming += w->dp->streams_per_link;
	while (coming < w->n_waiting) {
		struct link *l = link_connect(&w->env);
		if (!l)
			return;
		add_link(w, l);
		coming += w->dp->streams_per_link;
	}
}

/* Waiting applications onto links with free slots, oldest first. */
static void drain_waiting(worker *w)
{
	while (w->wait_head && !w->stopping) {
		struct link *l = pick_link(w);
		if (!l)
			break;
		plain *p = wait_pop(w);
		if (!plain_attach(p, l))
			plain_refuse(p, LULL_STREAM_REFUSED);
	}
	links_on_demand(w);
	wait_arm(w);
}

static void on_wait_timer(uv_timer_t *h)
{
	worker *w = h->data;
	uint64_t now = worker_now(w);
	while (w->wait_head && plain_deadline(w->wait_head) <= now)
		plain_refuse(wait_pop(w), LULL_STREAM_CONNECT_TIMEOUT);
	wait_arm(w);
}

static size_t live_links(worker *w)
{
	size_t n = 0;
	for (struct link *l = w->links; l; l = link_next(l))
		n += !link_is_closing(l);
	return n;
}

/* Persistent links: bring the count back to dp->links. */
static void on_link_timer(uv_timer_t *h)
{
	worker *w = h->data;
	if (w->stopping || !persistent_links(w))
		return;
	for (size_t n = live_links(w); n < w->dp->links; n++) {
		struct link *l = link_connect(&w->env);
		if (!l)
			break;
		add_link(w, l);
	}
}

/* Jittered exponential backoff: a delay drawn from [d/2, d]. */
static uint64_t backoff_ms(unsigned failures)
{
	uint64_t d = RECONNECT_MIN_MS;
	for (unsigned i = 1; i < failures && d < RECONNECT_MAX_MS; i++)
		d *= 2;
	if (d > RECONNECT_MAX_MS)
		d = RECONNECT_MAX_MS;
	uint32_t r = 0;
	if (uv_random(NULL, NULL, &r, sizeof(r), 0, NULL) != 0)
		r = (uint32_t)uv_hrtime();
	return d / 2 + r % (d / 2 + 1);
}

static void hook_up(void *owner, struct link *l)
{
	worker *w = owner;
	link_meta *m = link_owner_data(l);
	if (m && m->has_src)
		source_budget_completed(&w->budget, &m->src);
	if (w->n_pending)
		w->n_pending--;
	w->link_failures = 0;
	drain_waiting(w);
}

/* Client: l's server drains.  l already counts as closing, so the link
 * timer brings up its replacement; now, not after a backoff. */
static void hook_goaway(void *owner, struct link *l)
{
	worker *w = owner;
	(void)l;
	if (w->stopping)
		return;
	if (persistent_links(w))
		uv_timer_start(&w->link_timer, on_link_timer, 0, 0);
	drain_waiting(w);
}

static void hook_stream_ended(void *owner, struct link *l)
{
	link_meta *m = link_owner_data(l);
	if (m)
		linkstat_streams(m->stat, (unsigned)link_stream_count(l));
	drain_waiting(owner);
}

/* The loop ends once it has nothing left and the main thread has asked it
 * to stop: before that the main thread may still uv_async_send to wake. */
static void maybe_finish(worker *w)
{
	if (!w->stopping || !w->stop_seen || w->env.n_links > 0 || w->env.n_plains > 0 ||
	    w->finished)
		return;
	w->finished = true;
	uv_close((uv_handle_t *)&w->wake, NULL);
	uv_close((uv_handle_t *)&w->srk_timer, NULL);
	uv_close((uv_handle_t *)&w->accept_retry, NULL);
	uv_close((uv_handle_t *)&w->wait_timer, NULL);
	uv_close((uv_handle_t *)&w->link_timer, NULL);
	uv_close((uv_handle_t *)&w->trim_timer, NULL);
	link_env_stop(&w->env);
}

/* Drain done: nothing left that a stop would cut.  The main thread
 * decides (it waits for every worker), then asks this one to stop. */
static void maybe_drained(worker *w)
{
	if (!w->draining || w->stopping || atomic_load(&w->drained) || w->env.n_links > 0 ||
	    w->env.n_plains > 0)
		return;
	atomic_store(&w->drained, true);
	if (worker_drained)
		uv_async_send(worker_drained);
}

static void hook_plain_gone(void *owner)
{
	maybe_drained(owner);
	maybe_finish(owner);
}

static void hook_gone(void *owner, struct link *l)
{
	worker *w = owner;
	if (w->links == l) {
		w->links = link_next(l);
	} else {
		for (struct link *c = w->links; c; c = link_next(c)) {
			if (link_next(c) == l) {
				link_set_next(c, link_next(l));
				break;
			}
		}
	}
	bool was_up = link_was_up(l);
	if (!was_up && w->n_pending)
		w->n_pending--;
	note_burst_event(w);
	link_meta *m = link_owner_data(l);
	if (m) {
		/* Gone before its first handshake completed: its source earns
		 * a penalty (a message 1 flood looks exactly like this). */
		if (!was_up && m->has_src)
			source_budget_unfinished(&w->budget, &m->src, worker_now(w));
		linkstat_close(&w->linkstats, m->stat);
		free(m);
		link_set_owner_data(l, NULL);
	}
	if (w->dp->role == ROLE_CLIENT && !w->stopping) {
		if (!was_up)
			w->link_failures++;
		if (persistent_links(w) && link_refused_us(l)) {
			/* Keys or versions do not match: the waiting connections
			 * learn now, not at their timeout; the retries go on
			 * (the server's authorized file may be reloaded). */
			while (w->wait_head)
				plain_refuse(wait_pop(w), LULL_STREAM_LINK_LOST);
			wait_arm(w);
		}
		if (persistent_links(w)) {
			uint64_t delay = was_up ? 0 : backoff_ms(w->link_failures);
			log_msg(was_up ? LOG_LVL_INFO : LOG_LVL_WARN,
			        "conn=%llu event=link_down server=%s failures=%u "
			        "reconnect_in_ms=%llu",
			        (unsigned long long)link_id(l), w->dp->remote_text,
			        w->link_failures, (unsigned long long)delay);
			uv_timer_start(&w->link_timer, on_link_timer, delay, 0);
		} else if (!was_up) {
			/* On demand: the application this link was for must not
			 * wait for its timeout (no retry: nothing to keep up). */
			for (uint32_t i = 0; i < w->dp->streams_per_link && w->wait_head; i++)
				plain_refuse(wait_pop(w), LULL_STREAM_LINK_LOST);
			wait_arm(w);
		}
	}
	maybe_drained(w);
	maybe_finish(w);
}

static void close_listener(worker *w)
{
	if (!uv_is_closing((uv_handle_t *)&w->listener))
		uv_close((uv_handle_t *)&w->listener, NULL);
}

/* Server: GOAWAY on every link; the worker stops once they are gone. */
static void begin_drain(worker *w)
{
	if (w->stopping || w->draining)
		return;
	w->draining = true;
	close_listener(w);
	uv_timer_stop(&w->accept_retry);
	for (struct link *l = w->links; l; l = link_next(l))
		link_goaway(l);
	maybe_drained(w);
}

static void begin_stop(worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	close_listener(w);
	uv_timer_stop(&w->link_timer);
	uv_timer_stop(&w->wait_timer);
	while (w->wait_head)
		plain_refuse(wait_pop(w), LULL_STREAM_SHUTDOWN);
	/* link_close never frees synchronously (frees come from close
	 * callbacks), so walking the list is safe. */
	for (struct link *l = w->links; l; l = link_next(l))
		link_close(l, LULL_CLOSE_SHUTDOWN);
	plain_reset_all(&w->env);
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
	bool drain = w->drain_requested;
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
	if (drain && !stop)
		begin_drain(w);
	if (stop) {
		w->stop_seen = true;
		begin_stop(w);
		maybe_finish(w);
	}
}

void worker_request_drain(worker *w)
{
	uv_mutex_lock(&w->mu);
	w->drain_requested = true;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
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

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

static void accept_now(worker *w, uv_stream_t *listener);

static void on_accept_retry(uv_timer_t *h)
{
	worker *w = h->data;
	if (!w->stopping)
		accept_now(w, (uv_stream_t *)&w->listener);
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

/* Server: a stream may open its target while sockets remain. */
static bool hook_admit_socket(void *owner)
{
	worker *w = owner;
	return w->env.n_links + w->env.n_plains < 2 * (size_t)w->dp->max_tunnels;
}

static void accept_now(worker *w, uv_stream_t *listener)
{
	const daemon_params *dp = w->dp;
	if (dp->role == ROLE_SERVER) {
		if (w->env.n_links >= dp->max_tunnels) {
			refuse(w, listener, "too_many_connections", dp->max_tunnels);
			return;
		}
		if (w->n_pending >= dp->max_pending) {
			refuse(w, listener, "too_many_handshakes", dp->max_pending);
			return;
		}
		struct link *l = link_accept(&w->env, listener);
		if (!l) {
			refuse(w, listener, "out_of_memory", dp->max_tunnels);
			return;
		}
		add_link(w, l);
		if (!link_was_up(l))
			w->n_pending++;
		return;
	}
	if (w->env.n_plains >= dp->max_tunnels) {
		refuse(w, listener, "too_many_connections", dp->max_tunnels);
		return;
	}
	plain *p = plain_accept(&w->env, listener);
	if (!p)
		return;
	wait_push(w, p);
	drain_waiting(w);
}

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
		accept_now(w, listener);
}

static void hook_log_event(void *owner, uint64_t conn, const lull_event *ev, const char *note)
{
	worker_log_event(owner, conn, ev, note);
}

static void hook_link_event(void *owner, struct link *l, const lull_event *ev)
{
	worker *w = owner;
	link_meta *m = link_owner_data(l);
	linkstat_event(&w->linkstats, m ? m->stat : NULL, ev);
	if (ev->type == LULL_EV_HANDSHAKE_DONE)
		note_burst_event(w);
}

static void hook_bytes(void *owner, struct link *l, int dir, size_t n)
{
	worker *w = owner;
	link_meta *m = link_owner_data(l);
	link_stat *s = m ? m->stat : NULL;
	linkstat_bytes(s, dir ? LINK_SENT : LINK_RECEIVED, n, uv_now(&w->loop));
	linkstat_streams(s, (unsigned)link_stream_count(l));
}

/*
 * Server: whether the source budget lets this client start a handshake
 * now.  A refusal closes the link before a byte is read; it earns no
 * penalty of its own (the source is already penalized) and is logged
 * rate-limited.
 */
static bool hook_admit_client(void *owner, struct link *l, const net_addr *client)
{
	worker *w = owner;
	uint64_t now = worker_now(w);
	source_key key;
	if (!client->len || !source_key_from_sockaddr((const struct sockaddr *)&client->ss, &key))
		return true;
	if (source_budget_admit(&w->budget, &key, now)) {
		link_meta *m = meta_of(w, l);
		if (m) {
			m->src = key;
			m->has_src = true;
		}
		return true;
	}
	metrics_source_throttled();
	uint64_t dropped;
	if (ratelimit_allow(&w->throttled_rl, now, &dropped)) {
		char text[ADDR_TEXT_MAX_BYTES] = "?";
		net_addr_text(client, text, sizeof(text));
		log_msg(LOG_LVL_WARN,
		        "event=source_throttled from=%s penalty_ms=%llu refused_total=%llu "
		        "worker=%u suppressed=%llu",
		        text, (unsigned long long)source_budget_penalty_ms(&w->budget, &key, now),
		        (unsigned long long)w->budget.refused_total, w->index,
		        (unsigned long long)dropped);
	}
	return false;
}

/* What every link and stream of this loop reads, from the daemon's params. */
static void env_init(worker *w)
{
	const daemon_params *dp = w->dp;
	link_params *lp = &w->lp;
	lp->server = dp->role == ROLE_SERVER;
	lp->cfg = dp->cfg;
	lull_mux_config_default(&lp->mux_cfg);
	if (dp->max_streams)
		lp->mux_cfg.max_streams = dp->max_streams;
	if (!lp->server)
		lp->key = dp->key; /* the server's lives in its lull_server only */
	memcpy(lp->server_pub, dp->server_pub, sizeof(lp->server_pub));
	lp->has_psk = dp->has_psk;
	memcpy(lp->psk, dp->psk, sizeof(lp->psk));
	lp->remote = dp->remote;
	memcpy(lp->remote_text, dp->remote_text, sizeof(lp->remote_text));
	lp->connect_timeout_ms =
	        dp->connect_timeout_ms ? dp->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	lp->streams_per_link = dp->streams_per_link;
	lp->proxy_protocol = dp->proxy_protocol;
	lp->target_proxy_protocol = dp->target_proxy_protocol;
	w->env.loop = &w->loop;
	w->env.readbuf = w->readbuf;
	w->env.p = lp;
	w->env.streams = &plain_stream_ops;
	w->env.srv = w->srv;
	w->env.h = (link_hooks){
	        .owner = w,
	        .up = hook_up,
	        .goaway = hook_goaway,
	        .stream_ended = hook_stream_ended,
	        .gone = hook_gone,
	        .log_event = hook_log_event,
	        .timer_late = note_timer_late,
	        .engine_done = srk_update,
	        .admit_socket = hook_admit_socket,
	        .plain_gone = hook_plain_gone,
	        .admit_client = hook_admit_client,
	        .link_event = hook_link_event,
	        .bytes = hook_bytes,
	};
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
	if ((r = linkstat_registry_init(&w->linkstats, index, dp->cfg.heartbeat_interval_ms)) != 0)
		return r;
	w->links_ready = true;
	if ((r = uv_tcp_init(&w->loop, &w->listener)) != 0 ||
	    (r = uv_async_init(&w->loop, &w->wake, on_wake)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->srk_timer)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->accept_retry)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->wait_timer)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->link_timer)) != 0 ||
	    (r = uv_timer_init(&w->loop, &w->trim_timer)) != 0)
		return r;
	w->trim_timer.data = w;
	w->listener.data = w;
	w->wake.data = w;
	w->srk_timer.data = w;
	w->srk_armed_ms = UINT64_MAX;
	w->accept_retry.data = w;
	w->wait_timer.data = w;
	w->link_timer.data = w;
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
	env_init(w);
	if ((r = link_env_start(&w->env)) != 0)
		return r;
	/* Client: the links come up as soon as the loop runs. */
	if (persistent_links(w))
		uv_timer_start(&w->link_timer, on_link_timer, 0, 0);
	return 0;
}

unsigned worker_foreach_link(worker *w, uint64_t now_ms, void (*fn)(void *ctx, const link_info *li),
                             void *ctx)
{
	return w->links_ready ? linkstat_foreach(&w->linkstats, now_ms, fn, ctx) : 0;
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
	link_env_free(&w->env);
	if (w->mu_ready)
		uv_mutex_destroy(&w->mu);
	if (w->links_ready)
		linkstat_registry_destroy(&w->linkstats);
	if (w->has_pending_auth)
		auth_list_free(&w->pending_auth);
	lull_server_free(w->srv);
	source_budget_free(&w->budget);
	plain_env_release(&w->env); /* after the loop: no write completes later */
	free(w->readbuf);
	lull_wipe(&w->lp, sizeof(w->lp));
}
