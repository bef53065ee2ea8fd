/*
 * conn_pair.h - a client and a server engine joined by a virtual wire, on a
 * virtual clock.  Tests drive time explicitly (pair_advance) and see every
 * frame that crossed the wire and every event, in order, so they can assert
 * exactly what the protocol did.  No sockets, no sleeping.
 */
#ifndef LULL_CONN_PAIR_H
#define LULL_CONN_PAIR_H

#include "conn.h"
#include "server.h"
#include "test.h"
#include "wire.h"

#define PAIR_MAX_EVENTS 256
#define PAIR_MAX_FRAMES 4096

typedef struct pair_event {
	lull_event ev;
	char peer_name[LULL_PEER_NAME_MAX];
} pair_event;

typedef struct pair_side {
	lull_conn *conn;
	pair_event events[PAIR_MAX_EVENTS];
	unsigned n_events;
	/* Frames this side sent, by type, in order. */
	uint8_t frame_types[PAIR_MAX_FRAMES];
	unsigned n_frames;
	/* Messages delivered to this side. */
	unsigned n_messages;
	uint8_t *last_message;
	size_t last_message_len;
	lull_err last_receive_err;
} pair_side;

typedef struct pair {
	lull_config client_cfg, server_cfg;
	lull_keypair client_key, server_key;
	uint8_t psk[LULL_KEY_BYTES];
	lull_server *srv;
	pair_event srv_events[PAIR_MAX_EVENTS];
	unsigned n_srv_events;
	pair_side client, server;
	uint64_t now;
	/* When set, frames from this side are not delivered (captured only). */
	bool hold_client_output, hold_server_output;
} pair;

static inline void pair_log_event(pair_event *log, unsigned *n, const lull_event *ev)
{
	if (*n >= PAIR_MAX_EVENTS)
		return;
	pair_event *pe = &log[(*n)++];
	pe->ev = *ev;
	pe->peer_name[0] = '\0';
	if (ev->peer_name)
		snprintf(pe->peer_name, sizeof(pe->peer_name), "%s", ev->peer_name);
	pe->ev.peer_name = NULL;
	pe->ev.peer_pub = NULL;
}

static inline void pair_on_event(void *user, const lull_event *ev)
{
	pair_side *s = user;
	pair_log_event(s->events, &s->n_events, ev);
}

static inline void pair_on_srv_event(void *user, const lull_event *ev)
{
	pair *p = user;
	pair_log_event(p->srv_events, &p->n_srv_events, ev);
}

static inline void pair_on_message(void *user, const uint8_t *msg, size_t len)
{
	pair_side *s = user;
	free(s->last_message);
	s->last_message = malloc(len ? len : 1);
	if (len)
		memcpy(s->last_message, msg, len);
	s->last_message_len = len;
	s->n_messages++;
}

/* Record the types of the frames in [bytes, bytes+len) sent by side. */
static inline void pair_note_frames(pair_side *s, const uint8_t *bytes, size_t len)
{
	while (len >= WIRE_HEADER_BYTES) {
		size_t frame_len = WIRE_HEADER_BYTES + wire_get_u16(bytes + 2);
		if (s->n_frames < PAIR_MAX_FRAMES)
			s->frame_types[s->n_frames++] = bytes[0];
		if (frame_len > len)
			break;
		bytes += frame_len;
		len -= frame_len;
	}
}

static inline lull_err pair_new_client(pair *p, pair_side *side, const lull_keypair *key,
                                       const uint8_t *server_pub, const uint8_t *psk)
{
	lull_callbacks cb = {pair_on_message, pair_on_event, side};
	return lull_conn_new_client(&side->conn, &p->client_cfg, key, server_pub, psk, &cb);
}

static inline lull_err pair_new_server(pair *p, pair_side *side)
{
	lull_callbacks cb = {pair_on_message, pair_on_event, side};
	return lull_conn_new_server(&side->conn, p->srv, &cb);
}

/* Default pair: fresh keys, the client authorized as "alice" with p->psk. */
static inline void pair_init_cfg(pair *p, const lull_config *client_cfg,
                                 const lull_config *server_cfg)
{
	memset(p, 0, sizeof(*p));
	p->client_cfg = *client_cfg;
	p->server_cfg = *server_cfg;
	p->now = 1000000; /* not zero: catches code that treats 0 as "unset" */
	if (lull_keypair_generate(&p->client_key) != LULL_OK ||
	    lull_keypair_generate(&p->server_key) != LULL_OK ||
	    lull_server_new(&p->srv, &p->server_cfg, &p->server_key, pair_on_srv_event, p) !=
	            LULL_OK) {
		fprintf(stderr, "pair_init: setup failed\n");
		abort();
	}
	memset(p->psk, 0x42, sizeof(p->psk));
	if (lull_server_authorize(p->srv, p->client_key.pub, "alice", p->psk) != LULL_OK ||
	    pair_new_client(p, &p->client, &p->client_key, p->server_key.pub, p->psk) != LULL_OK ||
	    pair_new_server(p, &p->server) != LULL_OK) {
		fprintf(stderr, "pair_init: connection setup failed\n");
		abort();
	}
}

static inline void pair_init(pair *p)
{
	lull_config cfg;
	lull_config_default(&cfg);
	pair_init_cfg(p, &cfg, &cfg);
}

static inline void pair_free(pair *p)
{
	lull_conn_free(p->client.conn);
	lull_conn_free(p->server.conn);
	lull_server_free(p->srv);
	free(p->client.last_message);
	free(p->server.last_message);
}

/* Move everything each side wants to write to the other, until quiet. */
static inline void pair_pump(pair *p)
{
	for (int round = 0; round < 100000; round++) {
		bool moved = false;
		pair_side *sides[2] = {&p->client, &p->server};
		for (int i = 0; i < 2; i++) {
			pair_side *from = sides[i], *to = sides[1 - i];
			bool hold = i == 0 ? p->hold_client_output : p->hold_server_output;
			const uint8_t *bytes;
			size_t n = lull_conn_output(from->conn, &bytes);
			if (n == 0 || hold)
				continue;
			pair_note_frames(from, bytes, n);
			/* Copy: delivering may make the sender queue more output. */
			uint8_t *copy = malloc(n);
			memcpy(copy, bytes, n);
			lull_conn_output_consume(from->conn, n);
			if (lull_conn_is_open(to->conn))
				to->last_receive_err = lull_conn_receive(to->conn, p->now, copy, n);
			free(copy);
			moved = true;
		}
		if (!moved)
			return;
	}
	fprintf(stderr, "pair_pump: no quiescence\n");
	abort();
}

/* Take (and clear) what side has queued, without delivering it. */
static inline size_t pair_take_output(pair_side *side, uint8_t *buf, size_t cap)
{
	const uint8_t *bytes;
	size_t n = lull_conn_output(side->conn, &bytes);
	if (n > cap) {
		fprintf(stderr, "pair_take_output: %zu bytes exceed %zu\n", n, cap);
		abort();
	}
	if (n)
		memcpy(buf, bytes, n);
	pair_note_frames(side, bytes, n);
	lull_conn_output_consume(side->conn, n);
	return n;
}

static inline uint64_t pair_min_deadline(pair *p)
{
	uint64_t d = lull_conn_next_deadline(p->client.conn);
	uint64_t ds = lull_conn_next_deadline(p->server.conn);
	uint64_t dp = lull_server_next_deadline(p->srv);
	if (ds < d)
		d = ds;
	if (dp < d)
		d = dp;
	return d;
}

/* Advance the virtual clock to target, firing every deadline on the way. */
static inline void pair_advance_to(pair *p, uint64_t target)
{
	unsigned stuck = 0;
	for (;;) {
		pair_pump(p);
		uint64_t d = pair_min_deadline(p);
		if (d > target)
			break;
		/* A deadline that ticking does not move is an engine bug. */
		if (d <= p->now && ++stuck > 1000) {
			fprintf(stderr, "pair_advance_to: deadline %llu never consumed\n",
			        (unsigned long long)d);
			abort();
		}
		if (d > p->now) {
			p->now = d;
			stuck = 0;
		}
		if (lull_conn_is_open(p->client.conn))
			lull_conn_tick(p->client.conn, p->now);
		if (lull_conn_is_open(p->server.conn))
			lull_conn_tick(p->server.conn, p->now);
		lull_server_tick(p->srv, p->now);
	}
	p->now = target;
	pair_pump(p);
}

static inline void pair_advance(pair *p, uint64_t ms)
{
	pair_advance_to(p, p->now + ms);
}

/* Start both ends and run the first handshake to completion. */
static inline void pair_connect(pair *p)
{
	CHECK_OK(lull_conn_start(p->server.conn, p->now));
	CHECK_OK(lull_conn_start(p->client.conn, p->now));
	pair_pump(p);
	CHECK(lull_conn_is_ready(p->client.conn));
	CHECK(lull_conn_is_ready(p->server.conn));
}

/* Index of the first event of type t at or after index from, or -1. */
static inline int side_find_event(const pair_side *s, lull_event_type t, unsigned from)
{
	for (unsigned i = from; i < s->n_events; i++)
		if (s->events[i].ev.type == t)
			return (int)i;
	return -1;
}

static inline const lull_event *side_last_event(const pair_side *s)
{
	return s->n_events ? &s->events[s->n_events - 1].ev : NULL;
}

static inline unsigned side_count_events(const pair_side *s, lull_event_type t)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->n_events; i++)
		n += s->events[i].ev.type == t;
	return n;
}

/* Frames side sent from index from on equal the list (0-terminated). */
static inline bool side_frames_are(const pair_side *s, unsigned from, const uint8_t *types)
{
	unsigned n = 0;
	while (types[n])
		n++;
	if (s->n_frames - from != n)
		return false;
	return memcmp(s->frame_types + from, types, n) == 0;
}

#endif /* LULL_CONN_PAIR_H */
