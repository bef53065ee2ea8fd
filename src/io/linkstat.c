/*
 * linkstat.c - per-link status records (see linkstat.h).
 *
 * Invariants:
 *  - The list and every field but the byte counters and last_data_ms are
 *    changed under the registry's mutex; events are rare (a handshake, a
 *    heartbeat), so the worker takes it briefly and seldom.
 *  - Bytes are counted on every read and write, so they are relaxed
 *    atomics, never locked: a snapshot may be a few bytes behind.
 *  - A record lives exactly as long as its link: closed and unlinked under
 *    the lock before it is freed, so a reader never sees a freed record.
 */
#include "linkstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct link_stat {
	link_stat *prev, *next;
	uint64_t id;
	char peer[LULL_PEER_NAME_MAX];
	enum link_state state;
	uint32_t epoch;
	lull_rekey_reason last_reason;
	_Atomic unsigned streams; /* here, not last: the record fits a smaller malloc chunk */
	uint64_t opened_ms, handshake_ms, last_heartbeat_ms;
	uint64_t bytes_at_rekey;
	/* Set once, by the worker, when the peer is named; read by the same
	 * worker only (byte counting). */
	metrics_peer *peer_metrics;
	_Atomic uint64_t bytes[2];
	_Atomic uint64_t last_data_ms;
};

int linkstat_registry_init(linkstat_registry *r, unsigned worker, uint64_t idle_after_ms)
{
	r->head = NULL;
	r->worker = worker;
	r->idle_after_ms = idle_after_ms;
	return uv_mutex_init(&r->mu);
}

void linkstat_registry_destroy(linkstat_registry *r)
{
	uv_mutex_lock(&r->mu);
	while (r->head) {
		link_stat *s = r->head;
		r->head = s->next;
		free(s);
	}
	uv_mutex_unlock(&r->mu);
	uv_mutex_destroy(&r->mu);
}

link_stat *linkstat_open(linkstat_registry *r, uint64_t id, uint64_t now_ms)
{
	link_stat *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	s->opened_ms = now_ms;
	uv_mutex_lock(&r->mu);
	s->next = r->head;
	if (r->head)
		r->head->prev = s;
	r->head = s;
	uv_mutex_unlock(&r->mu);
	return s;
}

void linkstat_close(linkstat_registry *r, link_stat *s)
{
	if (!s)
		return;
	uv_mutex_lock(&r->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		r->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_mutex_unlock(&r->mu);
	free(s);
}

static uint64_t bytes_total(link_stat *s)
{
	return atomic_load_explicit(&s->bytes[0], memory_order_relaxed) +
	       atomic_load_explicit(&s->bytes[1], memory_order_relaxed);
}

void linkstat_event(linkstat_registry *r, link_stat *s, const lull_event *ev)
{
	if (!s)
		return;
	uv_mutex_lock(&r->mu);
	if (ev->peer_name && !s->peer[0]) {
		snprintf(s->peer, sizeof(s->peer), "%s", ev->peer_name);
		s->peer_metrics = metrics_peer_get(ev->peer_name);
	}
	if (ev->type == LULL_EV_HANDSHAKE_DONE || ev->type == LULL_EV_AUTH_FAILED)
		metrics_peer_handshake(s->peer_metrics, ev->rekey_reason,
		                       ev->type == LULL_EV_HANDSHAKE_DONE);
	switch (ev->type) {
	case LULL_EV_HANDSHAKE_STARTED:
		if (s->epoch > 0 && s->state != LINK_CLOSED)
			s->state = LINK_REKEYING;
		break;
	case LULL_EV_HANDSHAKE_DONE:
		s->state = LINK_READY;
		s->epoch = ev->epoch;
		s->last_reason = ev->rekey_reason;
		s->handshake_ms = ev->now_ms;
		s->bytes_at_rekey = bytes_total(s);
		break;
	case LULL_EV_KEY_STALE:
		if (s->state != LINK_CLOSED && s->state != LINK_REKEYING)
			s->state = LINK_STALE;
		break;
	case LULL_EV_HEARTBEAT_SENT:
	case LULL_EV_HEARTBEAT_ACKED:
	case LULL_EV_HEARTBEAT_RECEIVED:
		s->last_heartbeat_ms = ev->now_ms;
		break;
	case LULL_EV_CLOSED:
		s->state = LINK_CLOSED;
		break;
	default:
		break;
	}
	uv_mutex_unlock(&r->mu);
}

void linkstat_bytes(link_stat *s, enum link_dir dir, uint64_t n, uint64_t now_ms)
{
	metrics_bytes(s ? s->peer_metrics : NULL, dir, n);
	if (!s)
		return;
	atomic_fetch_add_explicit(&s->bytes[dir], n, memory_order_relaxed);
	atomic_store_explicit(&s->last_data_ms, now_ms, memory_order_relaxed);
}

void linkstat_streams(link_stat *s, unsigned n)
{
	if (s)
		atomic_store_explicit(&s->streams, n, memory_order_relaxed);
}

unsigned linkstat_foreach(linkstat_registry *r, uint64_t now_ms,
                          void (*fn)(void *ctx, const link_info *li), void *ctx)
{
	unsigned n = 0;
	uv_mutex_lock(&r->mu);
	for (link_stat *s = r->head; s; s = s->next, n++) {
		link_info li;
		memset(&li, 0, sizeof(li));
		li.id = s->id;
		li.worker = r->worker;
		memcpy(li.peer, s->peer, sizeof(li.peer));
		li.state = s->state;
		li.epoch = s->epoch;
		li.last_reason = s->last_reason;
		li.opened_ms = s->opened_ms;
		li.handshake_ms = s->handshake_ms;
		li.last_heartbeat_ms = s->last_heartbeat_ms;
		li.last_data_ms = atomic_load_explicit(&s->last_data_ms, memory_order_relaxed);
		li.bytes[0] = atomic_load_explicit(&s->bytes[0], memory_order_relaxed);
		li.bytes[1] = atomic_load_explicit(&s->bytes[1], memory_order_relaxed);
		uint64_t total = li.bytes[0] + li.bytes[1];
		li.bytes_since_rekey = total >= s->bytes_at_rekey ? total - s->bytes_at_rekey : 0;
		li.streams = s->state == LINK_CLOSED
		                     ? 0
		                     : atomic_load_explicit(&s->streams, memory_order_relaxed);
		uint64_t active =
		        li.last_data_ms > li.handshake_ms ? li.last_data_ms : li.handshake_ms;
		li.idle = li.state == LINK_READY && now_ms >= active + r->idle_after_ms;
		if (fn)
			fn(ctx, &li);
	}
	uv_mutex_unlock(&r->mu);
	return n;
}

const char *linkstat_state_name(const link_info *li)
{
	switch (li->state) {
	case LINK_HANDSHAKING:
		return "handshaking";
	case LINK_READY:
		return li->idle ? "idle" : "ready";
	case LINK_STALE:
		return "stale";
	case LINK_REKEYING:
		return "rekeying";
	case LINK_CLOSED:
		return "closed";
	}
	return "unknown";
}
