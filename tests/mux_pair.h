/*
 * mux_pair.h - a stream multiplexer at each end of a conn_pair: the
 * engines joined by the virtual wire on the virtual clock, each with a
 * lull_mux fed by its connection's messages.  Tests see every stream event
 * in order and the bytes each stream delivered; consumers can be stalled
 * per stream to exercise flow control.
 */
#ifndef LULL_MUX_PAIR_H
#define LULL_MUX_PAIR_H

#include "conn_pair.h"
#include "lull_stream.h"
#include "stream.h"

#define MP_MAX_EVENTS  8192
#define MP_MAX_STREAMS 2048

typedef struct mp_event {
	lull_stream_event_type type;
	uint32_t id;
	size_t len;
	lull_stream_reason reason;
	bool by_peer;
	lull_err err;
	uint32_t epoch; /* the engine's epoch when it happened */
} mp_event;

typedef struct mp_side {
	pair_side *ps;
	lull_mux *mux;
	struct mux_pair *mp;
	mp_event events[MP_MAX_EVENTS];
	unsigned n_events;
	/* Per stream id (< MP_MAX_STREAMS): bytes delivered, a running hash of
	 * them, and whether the consumer takes them at once. */
	uint64_t got[MP_MAX_STREAMS];
	uint64_t hash[MP_MAX_STREAMS];
	uint64_t held[MP_MAX_STREAMS]; /* delivered, not yet consumed */
	bool stalled[MP_MAX_STREAMS];
	bool fin[MP_MAX_STREAMS];
	/* Order in which DATA arrived: stream ids, for the fairness test. */
	uint32_t data_order[MP_MAX_EVENTS];
	unsigned n_data;
} mp_side;

typedef struct mux_pair {
	pair p;
	mp_side client, server;
} mux_pair;

/* FNV-1a over a stream's bytes in order: equal iff the same bytes arrived. */
static inline uint64_t mp_hash_step(uint64_t h, const uint8_t *d, size_t n)
{
	if (h == 0)
		h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

/* The bytes a test stream carries: a pattern that differs per stream. */
static inline uint8_t mp_byte(uint32_t id, uint64_t off)
{
	return (uint8_t)(off * 131 + id * 7 + (off >> 12));
}

static inline uint64_t mp_expected_hash(uint32_t id, uint64_t len)
{
	uint64_t h = 0;
	uint8_t buf[4096];
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = mp_byte(id, off + i);
		h = mp_hash_step(h, buf, n);
		off += n;
	}
	return h;
}

static inline void mp_log(mp_side *s, const lull_stream_event *ev)
{
	if (s->n_events >= MP_MAX_EVENTS)
		return;
	mp_event *e = &s->events[s->n_events++];
	e->type = ev->type;
	e->id = ev->id;
	e->len = ev->len;
	e->reason = ev->reason;
	e->by_peer = ev->by_peer;
	e->err = ev->err;
	e->epoch = lull_conn_epoch(s->ps->conn);
}

static inline void mp_on_stream_event(void *user, const lull_stream_event *ev)
{
	mp_side *s = user;
	mp_log(s, ev);
	if (ev->id >= MP_MAX_STREAMS)
		return;
	if (ev->type == LULL_STREAM_EV_DATA) {
		s->got[ev->id] += ev->len;
		s->hash[ev->id] = mp_hash_step(s->hash[ev->id], ev->data, ev->len);
		if (s->n_data < MP_MAX_EVENTS)
			s->data_order[s->n_data++] = ev->id;
		if (s->stalled[ev->id])
			s->held[ev->id] += ev->len;
		else
			CHECK_OK(lull_mux_consumed(s->mux, s->mp->p.now, ev->id, ev->len));
	} else if (ev->type == LULL_STREAM_EV_FIN) {
		s->fin[ev->id] = true;
	}
}

static inline void mp_on_message(void *user, const uint8_t *msg, size_t len)
{
	mp_side *s = user;
	s->ps->n_messages++;
	(void)lull_mux_receive(s->mux, s->mp->p.now, msg, len);
}

static inline void mp_on_conn_event(void *user, const lull_event *ev)
{
	mp_side *s = user;
	pair_on_event(s->ps, ev);
	if (ev->type == LULL_EV_CLOSED)
		lull_mux_link_closed(s->mux);
}

/* A pair with muxes, connected.  ccfg/scfg: the muxes' configs (NULL:
 * defaults); client_cfg/server_cfg: the engines' (NULL: defaults). */
static inline void mp_init_cfg(mux_pair *mp, const lull_config *client_cfg,
                               const lull_config *server_cfg, const lull_mux_config *ccfg,
                               const lull_mux_config *scfg)
{
	lull_config def;
	lull_config_default(&def);
	memset(mp, 0, sizeof(*mp));
	pair_init_cfg(&mp->p, client_cfg ? client_cfg : &def, server_cfg ? server_cfg : &def);
	mp->client.ps = &mp->p.client;
	mp->server.ps = &mp->p.server;
	mp->client.mp = mp->server.mp = mp;
	/* Replace the pair's connections with ones that feed the muxes. */
	lull_conn_free(mp->p.client.conn);
	lull_conn_free(mp->p.server.conn);
	lull_callbacks cc = {mp_on_message, mp_on_conn_event, &mp->client};
	lull_callbacks sc = {mp_on_message, mp_on_conn_event, &mp->server};
	if (lull_conn_new_client(&mp->p.client.conn, &mp->p.client_cfg, &mp->p.client_key,
	                         mp->p.server_key.pub, mp->p.psk, &cc) != LULL_OK ||
	    lull_conn_new_server(&mp->p.server.conn, mp->p.srv, &sc) != LULL_OK ||
	    lull_mux_new(&mp->client.mux, mp->p.client.conn, true, ccfg, mp_on_stream_event,
	                 &mp->client) != LULL_OK ||
	    lull_mux_new(&mp->server.mux, mp->p.server.conn, false, scfg, mp_on_stream_event,
	                 &mp->server) != LULL_OK) {
		fprintf(stderr, "mp_init: setup failed\n");
		abort();
	}
	pair_connect(&mp->p);
}

static inline void mp_init(mux_pair *mp)
{
	mp_init_cfg(mp, NULL, NULL, NULL, NULL);
}

static inline void mp_free(mux_pair *mp)
{
	lull_mux_free(mp->client.mux);
	lull_mux_free(mp->server.mux);
	pair_free(&mp->p);
}

/* Move frames both ways and let each mux refill its engine, until quiet. */
static inline void mp_pump(mux_pair *mp)
{
	for (int round = 0; round < 100000; round++) {
		pair_pump(&mp->p);
		(void)lull_mux_flush(mp->client.mux, mp->p.now);
		(void)lull_mux_flush(mp->server.mux, mp->p.now);
		bool held = mp->p.hold_client_output || mp->p.hold_server_output;
		if (held || (lull_conn_output_pending(mp->p.client.conn) == 0 &&
		             lull_conn_output_pending(mp->p.server.conn) == 0))
			return;
	}
	fprintf(stderr, "mp_pump: no quiescence\n");
	abort();
}

/* Write the pattern bytes [*off, total) of stream id as far as room goes. */
static inline void mp_write_pattern(mux_pair *mp, mp_side *s, uint32_t id, uint64_t *off,
                                    uint64_t total)
{
	uint8_t buf[LULL_STREAM_CHUNK_BYTES]; /* as the daemon reads */
	while (*off < total) {
		size_t n = total - *off < sizeof(buf) ? (size_t)(total - *off) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = mp_byte(id, *off + i);
		size_t taken = 0;
		lull_err err = lull_mux_write(s->mux, mp->p.now, id, buf, n, &taken);
		*off += taken;
		if (err != LULL_OK || taken < n)
			return;
	}
}

static inline unsigned mp_count(const mp_side *s, lull_stream_event_type t, uint32_t id)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->n_events; i++)
		n += s->events[i].type == t && (id == 0 || s->events[i].id == id);
	return n;
}

static inline const mp_event *mp_find(const mp_side *s, lull_stream_event_type t, uint32_t id)
{
	for (unsigned i = 0; i < s->n_events; i++)
		if (s->events[i].type == t && s->events[i].id == id)
			return &s->events[i];
	return NULL;
}

#endif /* LULL_MUX_PAIR_H */
