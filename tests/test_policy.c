/*
 * test_policy.c - adaptive rekeying (design brief §1A) on a virtual clock.
 *
 * One test per row of the brief (A1..A11) plus the limits beyond it.  Each
 * asserts the exact frames each end put on the wire and the events in
 * order, at the exact virtual millisecond, so removing a behaviour fails
 * its test.  No sleeping: the whole file runs in well under a second.
 */
#include "dh_count.h"
#include "conn_pair.h"
#include "record.h"

#define HI  LULL_DEFAULT_HEARTBEAT_INTERVAL_MS
#define HT  LULL_DEFAULT_HEARTBEAT_TIMEOUT_MS
#define REC WIRE_RECORD_PAYLOAD_MAX_BYTES

#define FRAMES(...) ((const uint8_t[]){__VA_ARGS__, 0})
#define EVENTS(...) ((const lull_event_type[]){__VA_ARGS__, 0})

/* The events side reported from index from on are exactly want. */
static bool events_are(const pair_side *s, unsigned from, const lull_event_type *want)
{
	unsigned n = 0;
	while (want[n])
		n++;
	bool ok = s->n_events - from == n;
	for (unsigned i = 0; ok && i < n; i++)
		ok = s->events[from + i].ev.type == want[i];
	if (!ok) {
		fprintf(stderr, "  events were:");
		for (unsigned i = from; i < s->n_events; i++)
			fprintf(stderr, " %s", lull_event_name(s->events[i].ev.type));
		fprintf(stderr, "\n");
	}
	return ok;
}

static bool frames_are(const pair_side *s, unsigned from, const uint8_t *want)
{
	bool ok = side_frames_are(s, from, want);
	if (!ok) {
		fprintf(stderr, "  frames were:");
		for (unsigned i = from; i < s->n_frames; i++)
			fprintf(stderr, " %u", s->frame_types[i]);
		fprintf(stderr, "\n");
	}
	return ok;
}

static const lull_event *event_at(const pair_side *s, unsigned i)
{
	return i < s->n_events ? &s->events[i].ev : NULL;
}

/* Marks: where each side's frame and event logs stood. */
typedef struct mark {
	unsigned cf, sf, ce, se;
} mark;

static mark mark_now(const pair *p)
{
	return (mark){p->client.n_frames, p->server.n_frames, p->client.n_events,
	              p->server.n_events};
}

static void send_bytes(pair *p, pair_side *from, size_t len)
{
	uint8_t *msg = calloc(1, len ? len : 1);
	CHECK_OK(lull_conn_send(from->conn, p->now, msg, len));
	free(msg);
	pair_pump(p);
}

/* A pair whose byte thresholds are small enough to reach in a test:
 * rekey after 4 full records, reject after 8, messages up to one record. */
static void pair_init_small_bytes(pair *p)
{
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.rekey_bytes = 4 * REC;
	cfg.max_message_bytes = REC;
	pair_init_cfg(p, &cfg, &cfg);
}

/*
 * The attacker of A8: it broke sender's current send key (the test reads
 * it) and seals a record exactly as the sender's next one would be.
 */
static size_t forge_record(const record_key *stolen, uint8_t type, const uint8_t *pt, size_t len,
                           uint8_t *out)
{
	record_key k;
	CHECK_OK(record_key_init(&k, CRYPTO_AEAD_AESGCM, stolen->key, stolen->epoch));
	k.seq = stolen->seq;
	CHECK_OK(record_seal(&k, type, 0, pt, len, out));
	record_key_destroy(&k);
	return WIRE_RECORD_OVERHEAD_BYTES + len;
}

/* Move what from has queued to to, without the pair's pump. */
static void deliver(pair *p, pair_side *from, pair_side *to)
{
	static uint8_t buf[16 * WIRE_FRAME_MAX_BYTES];
	size_t n = pair_take_output(from, buf, sizeof(buf));
	to->last_receive_err = lull_conn_receive(to->conn, p->now, buf, n);
}

/* ---- A1-A11 ------------------------------------------------------------- */

/* A1: idle = no application data either way for heartbeat_interval. */
static void A1_idle_detection(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	pair_advance_to(&p, t0 + HI - 1);
	CHECK(p.client.n_frames == m.cf && p.client.n_events == m.ce);
	pair_advance_to(&p, t0 + HI);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HEARTBEAT)));
	CHECK(frames_are(&p.server, m.sf, FRAMES(WIRE_HEARTBEAT_ACK)));
	CHECK(events_are(
	        &p.client, m.ce,
	        EVENTS(LULL_EV_HEARTBEAT_SENT, LULL_EV_KEY_STALE, LULL_EV_HEARTBEAT_ACKED)));
	CHECK(event_at(&p.client, m.ce)->now_ms == t0 + HI);
	CHECK(events_are(&p.server, m.se, EVENTS(LULL_EV_HEARTBEAT_RECEIVED, LULL_EV_KEY_STALE)));
	pair_free(&p);

	/* Data in either direction restarts the idle clock: here the server's. */
	pair_init(&p);
	pair_connect(&p);
	t0 = p.now;
	pair_advance_to(&p, t0 + HI / 2);
	send_bytes(&p, &p.server, 100);
	CHECK(p.client.n_messages == 1);
	m = mark_now(&p);
	pair_advance_to(&p, t0 + HI / 2 + HI - 1);
	CHECK(p.client.n_frames == m.cf);
	pair_advance_to(&p, t0 + HI / 2 + HI);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HEARTBEAT)));
	pair_free(&p);
}

/* A2: data about to flow after an idle spell waits for a new full key. */
static void A2_data_after_idle_waits_for_new_key(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	pair_advance_to(&p, t0 + HI + 5000); /* heartbeat and ack at t0 + HI */
	mark m = mark_now(&p);
	static const char msg[] = "after the quiet";
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)msg, sizeof(msg)));
	/* Before anything moves: HS1 is queued, the message is not. */
	const uint8_t *out;
	size_t n = lull_conn_output(p.client.conn, &out);
	CHECK(n == WIRE_HEADER_BYTES + WIRE_HS1_BYTES && out[0] == WIRE_HS1);
	CHECK(!lull_conn_is_ready(p.client.conn));
	pair_pump(&p);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HS1, WIRE_HS3, WIRE_KEY_END, WIRE_DATA)));
	CHECK(frames_are(&p.server, m.sf, FRAMES(WIRE_HS2, WIRE_KEY_END, WIRE_KEYS)));
	CHECK(events_are(&p.client, m.ce,
	                 EVENTS(LULL_EV_HANDSHAKE_STARTED, LULL_EV_HANDSHAKE_DONE)));
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(event_at(&p.client, m.ce + 1)->epoch == 2);
	CHECK(events_are(&p.server, m.se,
	                 EVENTS(LULL_EV_HANDSHAKE_STARTED, LULL_EV_HANDSHAKE_DONE)));
	CHECK(event_at(&p.server, m.se)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(p.server.n_messages == 1 && p.server.last_message_len == sizeof(msg));
	CHECK(lull_conn_epoch(p.server.conn) == 2 && lull_conn_epoch(p.client.conn) == 2);
	pair_free(&p);

	/* The rule is about time, not about the heartbeat: data at t0 + HI,
	 * before any timer has run, also waits. */
	pair_init(&p);
	pair_connect(&p);
	p.now += HI;
	m = mark_now(&p);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)msg, sizeof(msg)));
	CHECK(events_are(&p.client, m.ce, EVENTS(LULL_EV_KEY_STALE, LULL_EV_HANDSHAKE_STARTED)));
	pair_pump(&p);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HS1, WIRE_HS3, WIRE_KEY_END, WIRE_DATA)));
	CHECK(p.server.n_messages == 1);
	pair_free(&p);
}

/* A3: rekey_bytes of application data, both directions summed. */
static void A3_rekey_after_bytes(void)
{
	pair p;
	pair_init_small_bytes(&p);
	pair_connect(&p);
	mark m = mark_now(&p);
	send_bytes(&p, &p.client, REC);
	send_bytes(&p, &p.server, REC);
	send_bytes(&p, &p.client, REC);
	CHECK(p.client.conn->pol.bytes == 3 * REC && p.server.conn->pol.bytes == 3 * REC);
	CHECK(lull_conn_epoch(p.client.conn) == 1);
	send_bytes(&p, &p.server, REC); /* the 4th record reaches rekey_bytes */
	CHECK(frames_are(&p.client, m.cf,
	                 FRAMES(WIRE_DATA, WIRE_DATA, WIRE_HS1, WIRE_HS3, WIRE_KEY_END)));
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_DATA, WIRE_DATA, WIRE_HS2, WIRE_KEY_END, WIRE_KEYS)));
	CHECK(events_are(&p.client, m.ce,
	                 EVENTS(LULL_EV_HANDSHAKE_STARTED, LULL_EV_HANDSHAKE_DONE)));
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_BYTES);
	CHECK(event_at(&p.server, m.se)->rekey_reason == LULL_REKEY_BYTES);
	CHECK(lull_conn_epoch(p.client.conn) == 2 && lull_conn_epoch(p.server.conn) == 2);
	CHECK(p.client.conn->pol.bytes == 0 && p.server.conn->pol.bytes == 0);
	/* Heartbeats are not application data: they never count. */
	pair_advance(&p, HI);
	CHECK(p.client.conn->pol.bytes == 0 && p.server.conn->pol.bytes == 0);
	pair_free(&p);
}

static unsigned heartbeat_times(const pair_side *s, unsigned from, uint64_t *times, unsigned cap)
{
	unsigned n = 0;
	for (unsigned i = from; i < s->n_events && n < cap; i++)
		if (s->events[i].ev.type == LULL_EV_HEARTBEAT_SENT)
			times[n++] = s->events[i].ev.now_ms;
	return n;
}

/* A4: while idle, a heartbeat every interval on a fixed grid. */
static void A4_heartbeat_constant_interval(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now, times[8];
	pair_advance_to(&p, t0 + 5 * HI + HI / 2);
	CHECK(heartbeat_times(&p.client, 0, times, 8) == 5);
	for (unsigned k = 0; k < 5; k++)
		CHECK(times[k] == t0 + (k + 1) * HI);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED) == 5);
	pair_free(&p);

	/* A late ack does not move the grid. */
	pair_init(&p);
	pair_connect(&p);
	t0 = p.now;
	p.hold_server_output = true;
	pair_advance_to(&p, t0 + HI + HT / 2);
	p.hold_server_output = false;
	pair_pump(&p);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED) == 1);
	pair_advance_to(&p, t0 + 3 * HI);
	CHECK(heartbeat_times(&p.client, 0, times, 8) == 3);
	CHECK(times[1] == t0 + 2 * HI && times[2] == t0 + 3 * HI);
	/* A tick that comes late (a suspended host) sends one heartbeat, not
	 * one per missed grid point, and the grid continues where it was. */
	p.now = t0 + 5 * HI + 123;
	CHECK_OK(lull_conn_tick(p.client.conn, p.now));
	pair_pump(&p);
	pair_advance_to(&p, t0 + 6 * HI);
	CHECK(heartbeat_times(&p.client, 0, times, 8) == 5);
	CHECK(times[3] == t0 + 5 * HI + 123 && times[4] == t0 + 6 * HI);
	pair_free(&p);
}

/* A5: the server answers each heartbeat, echoing its id. */
static void A5_heartbeat_answered(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	pair_advance_to(&p, t0 + 3 * HI);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HEARTBEAT, WIRE_HEARTBEAT, WIRE_HEARTBEAT)));
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_HEARTBEAT_ACK, WIRE_HEARTBEAT_ACK, WIRE_HEARTBEAT_ACK)));
	CHECK(side_count_events(&p.server, LULL_EV_HEARTBEAT_RECEIVED) == 3);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED) == 3);
	CHECK(p.client.conn->pol.hb_id == 3 && !p.client.conn->pol.hb_awaiting);

	/* An ack for a heartbeat never sent is a protocol error. */
	uint8_t frame[WIRE_FRAME_MAX_BYTES], id[4];
	wire_put_u32(id, 99);
	size_t n = forge_record(&p.server.conn->tx, WIRE_HEARTBEAT_ACK, id, 4, frame);
	CHECK_ERR(lull_conn_receive(p.client.conn, p.now, frame, n), LULL_ERR_PROTOCOL);
	CHECK(!lull_conn_is_open(p.client.conn));
	pair_free(&p);
}

/* A6: no ack within heartbeat_timeout after heartbeat_retries: close, or
 * forbid data until a new key. */
static void A6_missed_ack(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	p.hold_server_output = true; /* the acks are eaten */
	pair_advance_to(&p, t0 + HI + HT - 1);
	CHECK(lull_conn_is_open(p.client.conn));
	pair_advance_to(&p, t0 + HI + HT);
	CHECK(!lull_conn_is_open(p.client.conn));
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HEARTBEAT, WIRE_CLOSE)));
	CHECK(events_are(&p.client, m.ce,
	                 EVENTS(LULL_EV_HEARTBEAT_SENT, LULL_EV_KEY_STALE, LULL_EV_HEARTBEAT_MISSED,
	                        LULL_EV_CLOSED)));
	const lull_event *ev = side_last_event(&p.client);
	CHECK(ev->now_ms == t0 + HI + HT && ev->close_reason == LULL_CLOSE_HEARTBEAT_MISSED);
	pair_free(&p);

	/* With retries, each try gets its own timeout. */
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.heartbeat_retries = 2;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	t0 = p.now;
	m = mark_now(&p);
	p.hold_server_output = true;
	pair_advance_to(&p, t0 + HI + 3 * HT - 1);
	CHECK(lull_conn_is_open(p.client.conn));
	uint64_t times[4];
	CHECK(heartbeat_times(&p.client, m.ce, times, 4) == 3);
	CHECK(times[0] == t0 + HI && times[1] == t0 + HI + HT && times[2] == t0 + HI + 2 * HT);
	pair_advance_to(&p, t0 + HI + 3 * HT);
	CHECK(!lull_conn_is_open(p.client.conn));
	CHECK(frames_are(&p.client, m.cf,
	                 FRAMES(WIRE_HEARTBEAT, WIRE_HEARTBEAT, WIRE_HEARTBEAT, WIRE_CLOSE)));
	pair_free(&p);

	/* on_missed_ack = rekey: a full handshake before any data. */
	lull_config_default(&cfg);
	cfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	t0 = p.now;
	m = mark_now(&p);
	p.hold_server_output = true;
	pair_advance_to(&p, t0 + HI + HT);
	CHECK(lull_conn_is_open(p.client.conn));
	CHECK(events_are(&p.client, m.ce,
	                 EVENTS(LULL_EV_HEARTBEAT_SENT, LULL_EV_KEY_STALE, LULL_EV_HEARTBEAT_MISSED,
	                        LULL_EV_HANDSHAKE_STARTED)));
	CHECK(side_last_event(&p.client)->rekey_reason == LULL_REKEY_MISSED_ACK);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"x", 1));
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HEARTBEAT, WIRE_HS1)));
	p.hold_server_output = false;
	pair_pump(&p);
	CHECK(frames_are(&p.client, m.cf,
	                 FRAMES(WIRE_HEARTBEAT, WIRE_HS1, WIRE_HS3, WIRE_KEY_END, WIRE_DATA)));
	CHECK(p.server.n_messages == 1 && lull_conn_epoch(p.server.conn) == 2);
	pair_free(&p);
}

/* A7: every new key comes from a full handshake: fresh DH, both ends
 * authenticated again, bound to the connection it renews. */
static void A7_rekey_is_full_handshake(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint8_t old_key[CRYPTO_AEAD_KEY_BYTES];
	memcpy(old_key, p.client.conn->tx.key, sizeof(old_key));
	pair_advance(&p, HI + 1);
	uint64_t dh_before = dh_count();
	send_bytes(&p, &p.client, 10);
	/* A new interval: the server makes its SRK (1) and runs ee, es, se
	 * (3); the client makes its ephemeral and runs ee, es, se (4). */
	CHECK(dh_count() - dh_before == 8);
	CHECK(p.srv->pool.created_total == 2);
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	CHECK(memcmp(old_key, p.client.conn->tx.key, sizeof(old_key)) != 0);
	pair_free(&p);

	/* Re-authentication: a client removed from the list is refused at its
	 * next rekey, with an authenticated close. */
	pair_init(&p);
	pair_connect(&p);
	lull_server_clear_authorized(p.srv);
	pair_advance(&p, HI + 1);
	send_bytes(&p, &p.client, 10);
	CHECK(!lull_conn_is_open(p.server.conn) && !lull_conn_is_open(p.client.conn));
	CHECK(side_find_event(&p.server, LULL_EV_AUTH_FAILED, 0) >= 0);
	const lull_event *ev = side_last_event(&p.client);
	CHECK(ev->by_peer && ev->close_reason == LULL_CLOSE_UNKNOWN_CLIENT);
	CHECK(p.server.n_messages == 0);
	pair_free(&p);

	/* The rekey's prologue carries the previous handshake hash: a server
	 * that does not hold it cannot complete the rekey. */
	pair_init(&p);
	pair_connect(&p);
	p.server.conn->prev_hash[0] ^= 1;
	pair_advance(&p, HI + 1);
	send_bytes(&p, &p.client, 10);
	CHECK(!lull_conn_is_open(p.client.conn) && !lull_conn_is_open(p.server.conn));
	CHECK(side_find_event(&p.server, LULL_EV_AUTH_FAILED, 0) >= 0);
	CHECK(side_last_event(&p.client)->by_peer &&
	      side_last_event(&p.client)->close_reason == LULL_CLOSE_AUTH_FAILED);
	CHECK(p.server.n_messages == 0);
	pair_free(&p);
}

/* A8: once a heartbeat has been seen, data under the current key is a
 * spoof.  The attacker holds the old traffic key and the right nonce. */
static void A8_spoof_after_heartbeat_rejected(void)
{
	static const uint8_t evil[] = "transfer all funds";
	uint8_t frame[WIRE_FRAME_MAX_BYTES];
	pair p;

	/* Before idleness, a record sealed with the stolen key is, correctly,
	 * indistinguishable from the client's own: it is delivered.  This is
	 * what a key's lifetime exposes, and why idle keys are retired. */
	pair_init(&p);
	pair_connect(&p);
	size_t n = forge_record(&p.client.conn->tx, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, frame, n));
	CHECK(p.server.n_messages == 1 &&
	      side_count_events(&p.server, LULL_EV_SPOOF_REJECTED) == 0);
	pair_free(&p);

	/* After the idle heartbeat the same injection is a spoof. */
	pair_init(&p);
	pair_connect(&p);
	pair_advance(&p, HI);
	mark m = mark_now(&p);
	n = forge_record(&p.client.conn->tx, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, frame, n), LULL_ERR_SPOOF);
	CHECK(p.server.n_messages == 0);
	CHECK(events_are(&p.server, m.se, EVENTS(LULL_EV_SPOOF_REJECTED, LULL_EV_CLOSED)));
	CHECK(strcmp(p.server.events[m.se].peer_name, "alice") == 0);
	CHECK(event_at(&p.server, m.se)->bytes == n);
	CHECK(side_last_event(&p.server)->close_reason == LULL_CLOSE_SPOOF);
	pair_pump(&p);
	CHECK(side_last_event(&p.client)->by_peer &&
	      side_last_event(&p.client)->close_reason == LULL_CLOSE_SPOOF);
	pair_free(&p);

	/* on_spoof = drop: reported and dropped; the link lives on and the
	 * client's own data, after an idle rekey, is delivered. */
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.on_spoof = LULL_ON_SPOOF_DROP;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	pair_advance(&p, HI);
	n = forge_record(&p.client.conn->tx, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, frame, n));
	CHECK(p.server.n_messages == 0 && lull_conn_is_open(p.server.conn));
	CHECK(side_count_events(&p.server, LULL_EV_SPOOF_REJECTED) == 1);
	send_bytes(&p, &p.client, 5);
	CHECK(p.server.n_messages == 1 && p.server.last_message_len == 5);
	pair_free(&p);

	/* The client is protected the same way once the ack has arrived. */
	pair_init(&p);
	pair_connect(&p);
	pair_advance(&p, HI);
	n = forge_record(&p.server.conn->tx, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_ERR(lull_conn_receive(p.client.conn, p.now, frame, n), LULL_ERR_SPOOF);
	CHECK(p.client.n_messages == 0);
	CHECK(side_count_events(&p.client, LULL_EV_SPOOF_REJECTED) == 1);
	pair_free(&p);

	/* And across the rekey: the server keeps the stale previous receive
	 * key for the client's in-flight records until the client's KEY_END,
	 * but data under it is still a spoof; after KEY_END, a retired key. */
	pair_init(&p);
	pair_connect(&p);
	pair_advance(&p, HI);
	record_key stolen = {0};
	memcpy(stolen.key, p.client.conn->tx.key, sizeof(stolen.key));
	stolen.epoch = p.client.conn->tx.epoch;
	stolen.seq = p.client.conn->tx.seq;
	/* The server's idle rekey, one flight at a time, stopped before the
	 * client has read KEYS. */
	CHECK_OK(lull_conn_send(p.server.conn, p.now, (const uint8_t *)"abc", 3));
	deliver(&p, &p.server, &p.client); /* REKEY_REQUEST */
	deliver(&p, &p.client, &p.server); /* HS1 */
	deliver(&p, &p.server, &p.client); /* HS2 */
	deliver(&p, &p.client, &p.server); /* HS3: the server switches */
	CHECK(lull_conn_epoch(p.server.conn) == 2 && p.server.conn->rx_prev.live);
	n = forge_record(&stolen, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, frame, n), LULL_ERR_SPOOF);
	CHECK(p.server.n_messages == 0);
	crypto_wipe(&stolen, sizeof(stolen));
	pair_free(&p);
}

/* A9: the server, idle past interval + timeout with no heartbeat. */
static void A9_missing_heartbeat(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	p.hold_client_output = true; /* the heartbeats are eaten */
	pair_advance_to(&p, t0 + HI + HT - 1);
	CHECK(lull_conn_is_open(p.server.conn));
	pair_advance_to(&p, t0 + HI + HT);
	CHECK(!lull_conn_is_open(p.server.conn));
	CHECK(events_are(&p.server, m.se, EVENTS(LULL_EV_CLOSED)));
	const lull_event *ev = side_last_event(&p.server);
	CHECK(ev->now_ms == t0 + HI + HT && ev->close_reason == LULL_CLOSE_HEARTBEAT_MISSING &&
	      ev->err == LULL_ERR_HEARTBEAT_MISSING);
	CHECK(frames_are(&p.server, m.sf, FRAMES(WIRE_CLOSE)));
	pair_free(&p);

	/* on_missing_heartbeat = stale: the key carries no more data.  (The
	 * client, whose heartbeats went unanswered, rekeys rather than close,
	 * so the link can recover once the wire does.) */
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_STALE;
	cfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	t0 = p.now;
	m = mark_now(&p);
	p.hold_client_output = true;
	pair_advance_to(&p, t0 + HI + HT);
	CHECK(lull_conn_is_open(p.server.conn));
	CHECK(events_are(&p.server, m.se, EVENTS(LULL_EV_KEY_STALE)));
	CHECK_OK(lull_conn_send(p.server.conn, p.now, (const uint8_t *)"late", 4));
	pair_pump(&p);
	CHECK(frames_are(&p.server, m.sf, FRAMES(WIRE_REKEY_REQUEST)));
	CHECK(p.client.n_messages == 0);
	p.hold_client_output = false;
	pair_pump(&p);
	CHECK(p.client.n_messages == 1 && lull_conn_epoch(p.client.conn) == 2);
	pair_free(&p);
}

/* A10: the server needs a new key: it asks, the client handshakes. */
static void A10_server_requests_rekey(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	pair_advance(&p, HI + 1000);
	mark m = mark_now(&p);
	static const char msg[] = "news";
	CHECK_OK(lull_conn_send(p.server.conn, p.now, (const uint8_t *)msg, sizeof(msg)));
	pair_pump(&p);
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_REKEY_REQUEST, WIRE_HS2, WIRE_KEY_END, WIRE_KEYS, WIRE_DATA)));
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HS1, WIRE_HS3, WIRE_KEY_END)));
	CHECK(events_are(&p.server, m.se,
	                 EVENTS(LULL_EV_REKEY_REQUESTED, LULL_EV_HANDSHAKE_STARTED,
	                        LULL_EV_HANDSHAKE_DONE)));
	CHECK(event_at(&p.server, m.se)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(event_at(&p.server, m.se + 1)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(events_are(&p.client, m.ce,
	                 EVENTS(LULL_EV_REKEY_REQUESTED, LULL_EV_HANDSHAKE_STARTED,
	                        LULL_EV_HANDSHAKE_DONE)));
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(event_at(&p.client, m.ce + 1)->rekey_reason == LULL_REKEY_PEER_REQUEST);
	CHECK(p.client.n_messages == 1 && p.client.last_message_len == sizeof(msg));
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	/* One request per key, however much the server has to say. */
	CHECK_OK(lull_conn_send(p.server.conn, p.now, (const uint8_t *)msg, sizeof(msg)));
	pair_pump(&p);
	CHECK(p.client.n_messages == 2);
	pair_free(&p);
}

/* A11: the server announces its policy; both ends enforce the stricter
 * value of each knob. */
static void A11_stricter_policy_adopted(void)
{
	lull_config ccfg, scfg;
	lull_config_default(&ccfg);
	lull_config_default(&scfg);
	ccfg.heartbeat_interval_ms = 30000; /* client stricter */
	ccfg.heartbeat_timeout_ms = 5000;
	ccfg.on_spoof = LULL_ON_SPOOF_DROP;
	scfg.rekey_bytes = 256u << 20; /* server stricter */
	scfg.max_message_bytes = 8u << 20;
	scfg.on_missed_ack = LULL_ON_MISSED_ACK_CLOSE;
	ccfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	pair p;
	pair_init_cfg(&p, &ccfg, &scfg);
	pair_connect(&p);
	const lull_config *ca = &p.client.conn->agreed, *sa = &p.server.conn->agreed;
	CHECK(ca->heartbeat_interval_ms == 30000 && sa->heartbeat_interval_ms == 30000);
	CHECK(ca->heartbeat_timeout_ms == 5000 && sa->heartbeat_timeout_ms == 5000);
	CHECK(ca->rekey_bytes == 256u << 20 && sa->rekey_bytes == 256u << 20);
	CHECK(ca->max_message_bytes == 8u << 20 && sa->max_message_bytes == 8u << 20);
	CHECK(ca->on_spoof == LULL_ON_SPOOF_CLOSE && sa->on_spoof == LULL_ON_SPOOF_CLOSE);
	CHECK(ca->on_missed_ack == LULL_ON_MISSED_ACK_CLOSE);
	CHECK(ca->reject_after_bytes == 512u << 20 && sa->reject_after_bytes == 512u << 20);
	/* And they act on it: the client heartbeats at 30 s, not 60 s. */
	uint64_t t0 = p.now, times[2];
	pair_advance_to(&p, t0 + 30000);
	CHECK(heartbeat_times(&p.client, 0, times, 2) == 1 && times[0] == t0 + 30000);
	/* The server expects heartbeats at the agreed rate too: eaten ones
	 * close it at 30 s + 5 s after the last. */
	p.hold_client_output = true;
	pair_advance_to(&p, t0 + 30000 + 35000);
	CHECK(!lull_conn_is_open(p.server.conn));
	CHECK(side_last_event(&p.server)->now_ms == t0 + 30000 + 35000);
	/* A larger message than the stricter max is refused at the sender. */
	pair_free(&p);
	pair_init_cfg(&p, &ccfg, &scfg);
	pair_connect(&p);
	uint8_t *big = calloc(1, (8u << 20) + 1);
	CHECK_ERR(lull_conn_send(p.client.conn, p.now, big, (8u << 20) + 1),
	          LULL_ERR_MESSAGE_TOO_LARGE);
	free(big);
	pair_free(&p);
}

/* ---- Beyond the patent -------------------------------------------------- */

/* A trickle link is never idle and never reaches rekey_bytes: the age
 * limit still retires its key, at exactly rekey_max_age. */
static void max_age_rekey(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	int started = -1;
	for (uint64_t t = 30000; t <= LULL_DEFAULT_REKEY_MAX_AGE_MS + 60000; t += 30000) {
		pair_advance_to(&p, t0 + t);
		send_bytes(&p, &p.client, 50);
	}
	started = side_find_event(&p.client, LULL_EV_HANDSHAKE_STARTED, m.ce);
	CHECK(started >= 0);
	if (started >= 0) {
		CHECK(event_at(&p.client, (unsigned)started)->rekey_reason == LULL_REKEY_AGE);
		CHECK(event_at(&p.client, (unsigned)started)->now_ms ==
		      t0 + LULL_DEFAULT_REKEY_MAX_AGE_MS);
	}
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_SENT) == 0);
	CHECK(side_count_events(&p.client, LULL_EV_HANDSHAKE_DONE) == 2);
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	int s = side_find_event(&p.server, LULL_EV_HANDSHAKE_STARTED, m.se);
	CHECK(s >= 0 && event_at(&p.server, (unsigned)s)->rekey_reason == LULL_REKEY_AGE);
	/* The client acted first: the server's backstop request never went. */
	CHECK(side_count_events(&p.server, LULL_EV_REKEY_REQUESTED) == 0);
	CHECK(p.server.n_messages == (LULL_DEFAULT_REKEY_MAX_AGE_MS + 60000) / 30000);
	pair_free(&p);
}

/* A key stale both ways carries nothing: an idle link is not rekeyed on
 * age (a full handshake per hour for nothing); its next data is. */
static void idle_link_no_age_rekey(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	pair_advance_to(&p, t0 + 2 * LULL_DEFAULT_REKEY_MAX_AGE_MS + 1000);
	CHECK(side_count_events(&p.client, LULL_EV_HANDSHAKE_STARTED) == 1);
	CHECK(side_count_events(&p.server, LULL_EV_REKEY_REQUESTED) == 0);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_SENT) ==
	      2 * LULL_DEFAULT_REKEY_MAX_AGE_MS / HI);
	mark m = mark_now(&p);
	send_bytes(&p, &p.client, 10);
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(p.server.n_messages == 1 && lull_conn_epoch(p.server.conn) == 2);
	pair_free(&p);
}

/* Advance by ms in steps the event logs can hold, counting the client's
 * acked and missed heartbeats and started handshakes on the way. */
static void advance_counting(pair *p, uint64_t ms, uint64_t *acked, uint64_t *missed,
                             uint64_t *started)
{
	uint64_t end = p->now + ms;
	while (p->now < end) {
		uint64_t step = end - p->now < 50 * HI ? end - p->now : 50 * HI;
		p->client.n_events = p->server.n_events = 0;
		pair_advance(p, step);
		*acked += side_count_events(&p->client, LULL_EV_HEARTBEAT_ACKED);
		*missed += side_count_events(&p->client, LULL_EV_HEARTBEAT_MISSED);
		*started += side_count_events(&p->client, LULL_EV_HANDSHAKE_STARTED);
	}
	p->client.n_events = p->server.n_events = 0;
}

/* Whether the 32 bytes of key occur anywhere in the connection object. */
static bool conn_holds_bytes(const lull_conn *c, const uint8_t key[CRYPTO_AEAD_KEY_BYTES])
{
	const uint8_t *base = (const uint8_t *)c;
	for (size_t i = 0; i + CRYPTO_AEAD_KEY_BYTES <= sizeof(*c); i++)
		if (memcmp(base + i, key, CRYPTO_AEAD_KEY_BYTES) == 0)
			return true;
	return false;
}

/* Forward secrecy while idle (design brief §7): once the key is stale both
 * ways, neither end holds a key that opens the data sent before the idle
 * spell; heartbeats go on for a week under keys ratcheted from it, data
 * under the old key is still a spoof, and the week-old link rekeys and
 * carries data when data comes. */
static void idle_link_forgets_data_keys(void)
{
	static const uint8_t evil[] = "replayed under the broken key";
	uint8_t frame[WIRE_FRAME_MAX_BYTES];
	pair p;
	pair_init(&p);
	pair_connect(&p);
	send_bytes(&p, &p.client, 100);
	send_bytes(&p, &p.server, 100);
	record_key c2s = p.client.conn->tx, s2c = p.server.conn->tx;
	CHECK_MEM(c2s.key, p.server.conn->rx.key, CRYPTO_AEAD_KEY_BYTES);
	CHECK_MEM(s2c.key, p.client.conn->rx.key, CRYPTO_AEAD_KEY_BYTES);
	CHECK(!c2s.control_only && !s2c.control_only);

	/* One heartbeat and its ack. */
	pair_advance(&p, HI);
	CHECK(side_count_events(&p.client, LULL_EV_HEARTBEAT_ACKED) == 1);
	CHECK(p.client.conn->pol.tx_stale && p.client.conn->pol.rx_stale);
	CHECK(p.server.conn->pol.tx_stale && p.server.conn->pol.rx_stale);
	const lull_conn *ends[] = {p.client.conn, p.server.conn};
	for (int i = 0; i < 2; i++) {
		CHECK(!conn_holds_bytes(ends[i], c2s.key));
		CHECK(!conn_holds_bytes(ends[i], s2c.key));
		CHECK(ends[i]->tx.live && ends[i]->tx.control_only);
		CHECK(ends[i]->rx.live && ends[i]->rx.control_only);
	}
	/* Both ends ratcheted in step. */
	CHECK_MEM(p.client.conn->tx.key, p.server.conn->rx.key, CRYPTO_AEAD_KEY_BYTES);
	CHECK_MEM(p.server.conn->tx.key, p.client.conn->rx.key, CRYPTO_AEAD_KEY_BYTES);

	/* A week idle: heartbeats every interval, all acked, the key never
	 * replaced by a handshake (the seeds' point), and every heartbeat's
	 * key gone after it. */
	uint8_t hb_key[CRYPTO_AEAD_KEY_BYTES];
	memcpy(hb_key, p.client.conn->tx.key, sizeof(hb_key));
	const uint64_t week_ms = 7ull * 24 * 3600 * 1000;
	uint64_t acked = 0, missed = 0, started = 0;
	advance_counting(&p, week_ms, &acked, &missed, &started);
	CHECK(lull_conn_is_open(p.client.conn) && lull_conn_is_open(p.server.conn));
	CHECK(acked == week_ms / HI);
	CHECK(missed == 0 && started == 0);
	CHECK(lull_conn_epoch(p.client.conn) == 1);
	CHECK(!conn_holds_bytes(p.client.conn, hb_key) && !conn_holds_bytes(p.server.conn, hb_key));

	/* The attacker who broke the data key before the idle spell: data
	 * sealed under it, at the right nonce, is a spoof. */
	record_key stolen = c2s;
	stolen.aead.ctx = NULL;
	stolen.seq = p.client.conn->tx.seq;
	CHECK_OK(record_seal(&stolen, WIRE_DATA, 0, evil, sizeof(evil), frame));
	record_key_destroy(&stolen);
	mark m = mark_now(&p);
	pair_side *srv = &p.server;
	CHECK_ERR(lull_conn_receive(srv->conn, p.now, frame,
	                            WIRE_RECORD_OVERHEAD_BYTES + sizeof(evil)),
	          LULL_ERR_SPOOF);
	CHECK(events_are(srv, m.se, EVENTS(LULL_EV_SPOOF_REJECTED, LULL_EV_CLOSED)));
	CHECK(srv->n_messages == 1); /* only the honest one from before */
	pair_free(&p);

	/* The same week with on_spoof = drop, then data: the idle rekey runs
	 * over the ratcheted keys and the data arrives under epoch 2. */
	lull_config drop;
	lull_config_default(&drop);
	drop.on_spoof = LULL_ON_SPOOF_DROP;
	pair_init_cfg(&p, &drop, &drop);
	pair_connect(&p);
	send_bytes(&p, &p.client, 10);
	c2s = p.client.conn->tx;
	advance_counting(&p, week_ms, &acked, &missed, &started);
	stolen = c2s;
	stolen.aead.ctx = NULL;
	stolen.seq = p.client.conn->tx.seq;
	CHECK_OK(record_seal(&stolen, WIRE_DATA, 0, evil, sizeof(evil), frame));
	record_key_destroy(&stolen);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, frame,
	                           WIRE_RECORD_OVERHEAD_BYTES + sizeof(evil)));
	CHECK(side_count_events(&p.server, LULL_EV_SPOOF_REJECTED) == 1);
	m = mark_now(&p);
	send_bytes(&p, &p.client, 5);
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_IDLE);
	CHECK(p.server.n_messages == 2 && p.server.last_message_len == 5);
	CHECK(lull_conn_epoch(p.server.conn) == 2 && !p.server.conn->rx.control_only);
	send_bytes(&p, &p.server, 7);
	CHECK(p.client.n_messages == 1 && p.client.last_message_len == 7);
	crypto_wipe(&c2s, sizeof(c2s));
	crypto_wipe(&s2c, sizeof(s2c));
	pair_free(&p);
}

/* If a rekey cannot complete, the old key stops at reject_after_bytes
 * rather than being stretched; the held data flows under the new key. */
static void reject_after_bytes_cap(void)
{
	pair p;
	pair_init_small_bytes(&p); /* rekey at 4 records, reject at 8 */
	pair_connect(&p);
	mark m = mark_now(&p);
	p.hold_client_output = true; /* the client's HS1 never arrives */
	for (int i = 0; i < 9; i++)
		send_bytes(&p, &p.server, REC);
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_DATA, WIRE_DATA, WIRE_DATA, WIRE_DATA, WIRE_DATA, WIRE_DATA,
	                        WIRE_DATA, WIRE_DATA, WIRE_REKEY_REQUEST)));
	CHECK(p.client.n_messages == 8);
	CHECK(p.server.conn->pol.bytes == 8 * REC && p.server.conn->held_bytes == REC);
	CHECK(lull_conn_is_open(p.server.conn));
	p.hold_client_output = false;
	pair_pump(&p);
	CHECK(p.client.n_messages == 9 && lull_conn_epoch(p.client.conn) == 2);
	CHECK(frames_are(&p.server, m.sf + 9,
	                 FRAMES(WIRE_HS2, WIRE_KEY_END, WIRE_KEYS, WIRE_DATA)));
	pair_free(&p);

	/* A sender that ignores the cap is cut off by the receiver. */
	pair_init_small_bytes(&p);
	pair_connect(&p);
	p.hold_client_output = true;
	for (int i = 0; i < 8; i++)
		send_bytes(&p, &p.server, REC);
	p.server.conn->pol.bytes = 0; /* a peer that does not count */
	send_bytes(&p, &p.server, REC);
	CHECK(!lull_conn_is_open(p.client.conn));
	CHECK(p.client.last_receive_err == LULL_ERR_KEY_EXPIRED);
	CHECK(side_last_event(&p.client)->close_reason == LULL_CLOSE_KEY_EXPIRED);
	CHECK(p.client.n_messages == 8);
	pair_free(&p);
}

/* Records the client sent under the old key after the server installed the
 * new one belong to the old key: counting them against the new key's cap
 * would cut off an honest client that then uses the new key to its limit. */
static void rekey_tail_not_counted_twice(void)
{
	pair p;
	pair_init_small_bytes(&p); /* rekey at 4 records, reject at 8 */
	pair_connect(&p);
	uint8_t rec[REC] = {0};
	for (int i = 0; i < 4; i++) /* reaches rekey_bytes: HS1 follows */
		CHECK_OK(lull_conn_send(p.client.conn, p.now, rec, REC));
	deliver(&p, &p.client, &p.server); /* 4 DATA, HS1 */
	deliver(&p, &p.server, &p.client); /* HS2 */
	deliver(&p, &p.client, &p.server); /* HS3: the server switches */
	CHECK(lull_conn_epoch(p.server.conn) == 2 && lull_conn_epoch(p.client.conn) == 1);
	for (int i = 0; i < 4; i++) /* the old key's last 4 records, to its cap */
		CHECK_OK(lull_conn_send(p.client.conn, p.now, rec, REC));
	deliver(&p, &p.client, &p.server);
	CHECK(p.server.n_messages == 8 && lull_conn_is_open(p.server.conn));
	deliver(&p, &p.server, &p.client); /* KEYS: the client switches */
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	/* The new key, used to its own cap while its rekey cannot complete. */
	p.hold_server_output = true;
	for (int i = 0; i < 8; i++)
		send_bytes(&p, &p.client, REC);
	CHECK(p.server.n_messages == 16);
	CHECK(lull_conn_is_open(p.server.conn));
	CHECK(p.server.last_receive_err == LULL_OK);
	pair_free(&p);
}

/* A byte rekey on a busy link: the old key keeps carrying data until the
 * new one is installed, so nothing is held while the handshake runs. */
static void busy_link_no_stall(void)
{
	pair p;
	pair_init_small_bytes(&p);
	pair_connect(&p);
	mark m = mark_now(&p);
	p.hold_server_output = true; /* HS2 is slow to come back */
	for (int i = 0; i < 7; i++)
		send_bytes(&p, &p.client, REC);
	CHECK(frames_are(&p.client, m.cf,
	                 FRAMES(WIRE_DATA, WIRE_DATA, WIRE_DATA, WIRE_DATA, WIRE_HS1, WIRE_DATA,
	                        WIRE_DATA, WIRE_DATA)));
	CHECK(p.client.conn->held_bytes == 0 && p.server.n_messages == 7);
	CHECK(lull_conn_epoch(p.client.conn) == 1);
	p.hold_server_output = false;
	pair_pump(&p);
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	send_bytes(&p, &p.client, REC);
	CHECK(p.server.n_messages == 8);
	CHECK(p.client.conn->tx.epoch == 2 && p.server.conn->rx.epoch == 2);
	pair_free(&p);
}

/* Busy one way only: both ends count the same bytes and the rekey comes
 * at the same threshold, started by the client either way. */
static void one_way_busy_counts_at_both_ends(void)
{
	for (int dir = 0; dir < 2; dir++) {
		pair p;
		pair_init_small_bytes(&p);
		pair_connect(&p);
		pair_side *sender = dir == 0 ? &p.client : &p.server;
		mark m = mark_now(&p);
		for (int i = 0; i < 3; i++)
			send_bytes(&p, sender, REC);
		CHECK(p.client.conn->pol.bytes == 3 * REC && p.server.conn->pol.bytes == 3 * REC);
		CHECK(side_count_events(&p.client, LULL_EV_HANDSHAKE_STARTED) == 1);
		send_bytes(&p, sender, REC);
		int c = side_find_event(&p.client, LULL_EV_HANDSHAKE_STARTED, m.ce);
		int s = side_find_event(&p.server, LULL_EV_HANDSHAKE_STARTED, m.se);
		CHECK(c >= 0 && event_at(&p.client, (unsigned)c)->rekey_reason == LULL_REKEY_BYTES);
		CHECK(s >= 0 && event_at(&p.server, (unsigned)s)->rekey_reason == LULL_REKEY_BYTES);
		CHECK(side_count_events(&p.server, LULL_EV_REKEY_REQUESTED) == 0);
		CHECK(lull_conn_epoch(p.client.conn) == 2 && lull_conn_epoch(p.server.conn) == 2);
		pair_free(&p);
	}
}

/* The server's backstop: a client that never starts a byte rekey is asked
 * to, heartbeat_timeout after the server saw the threshold pass. */
static void server_backstop_request(void)
{
	pair p;
	pair_init_small_bytes(&p);
	pair_connect(&p);
	uint64_t t0 = p.now;
	mark m = mark_now(&p);
	/* A client that does not count (its policy is told nothing). */
	for (int i = 0; i < 4; i++) {
		send_bytes(&p, &p.client, REC);
		p.client.conn->pol.bytes = 0;
	}
	CHECK(side_count_events(&p.client, LULL_EV_HANDSHAKE_STARTED) == 1);
	pair_advance_to(&p, t0 + HT - 1);
	CHECK(p.server.n_frames == m.sf);
	pair_advance_to(&p, t0 + HT);
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_REKEY_REQUEST, WIRE_HS2, WIRE_KEY_END, WIRE_KEYS)));
	CHECK(event_at(&p.server, m.se)->rekey_reason == LULL_REKEY_BYTES);
	CHECK(lull_conn_epoch(p.client.conn) == 2);
	pair_free(&p);
}

/* lull_conn_rekey: an application-requested full handshake from either
 * end, with data flowing under the old key meanwhile. */
static void application_rekey(void)
{
	pair p;
	pair_init(&p);
	CHECK_ERR(lull_conn_rekey(p.client.conn, p.now), LULL_ERR_STATE);
	pair_connect(&p);
	mark m = mark_now(&p);
	CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
	CHECK_OK(lull_conn_rekey(p.client.conn, p.now)); /* no-op while under way */
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"during", 6));
	pair_pump(&p);
	CHECK(frames_are(&p.client, m.cf, FRAMES(WIRE_HS1, WIRE_DATA, WIRE_HS3, WIRE_KEY_END)));
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_APPLICATION);
	CHECK(lull_conn_epoch(p.server.conn) == 2 && p.server.n_messages == 1);
	m = mark_now(&p);
	CHECK_OK(lull_conn_rekey(p.server.conn, p.now));
	pair_pump(&p);
	CHECK(frames_are(&p.server, m.sf,
	                 FRAMES(WIRE_REKEY_REQUEST, WIRE_HS2, WIRE_KEY_END, WIRE_KEYS)));
	CHECK(event_at(&p.client, m.ce)->rekey_reason == LULL_REKEY_APPLICATION);
	CHECK(lull_conn_epoch(p.client.conn) == 3);
	pair_free(&p);
}

/* lull_conn_finish at the end of a stream: data held for an idle rekey is
 * delivered before the close, never dropped with it. */
static void finish_flushes_held_data(void)
{
	pair p;
	pair_init(&p);
	pair_connect(&p);
	pair_advance(&p, HI + 1000); /* idle: the next data waits for a rekey */
	mark m = mark_now(&p);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"last words", 10));
	CHECK_OK(lull_conn_finish(p.client.conn, p.now));
	CHECK(lull_conn_is_open(p.client.conn)); /* held: not closed yet */
	CHECK_ERR(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"x", 1), LULL_ERR_STATE);
	pair_pump(&p);
	CHECK(frames_are(&p.client, m.cf,
	                 FRAMES(WIRE_HS1, WIRE_HS3, WIRE_KEY_END, WIRE_DATA, WIRE_CLOSE)));
	CHECK(p.server.n_messages == 1 && p.server.last_message_len == 10);
	CHECK(!lull_conn_is_open(p.client.conn) && !lull_conn_is_open(p.server.conn));
	CHECK(side_last_event(&p.server)->close_reason == LULL_CLOSE_NORMAL);
	pair_free(&p);

	/* Nothing held: it closes at once; before the first handshake, the
	 * held message goes first. */
	pair_init(&p);
	pair_connect(&p);
	CHECK_OK(lull_conn_finish(p.client.conn, p.now));
	CHECK(!lull_conn_is_open(p.client.conn));
	CHECK_ERR(lull_conn_finish(p.client.conn, p.now), LULL_ERR_CLOSED);
	pair_free(&p);
	pair_init(&p);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"early", 5));
	CHECK_OK(lull_conn_finish(p.client.conn, p.now));
	pair_pump(&p);
	CHECK(p.server.n_messages == 1 && !lull_conn_is_open(p.server.conn));
	pair_free(&p);
}

/* The sender learns the agreed max_message; a message held before it was
 * known and over it is refused locally, not sent to be refused. */
static void max_message_known_after_handshake(void)
{
	lull_config scfg;
	lull_config_default(&scfg);
	scfg.max_message_bytes = 1000;
	lull_config ccfg;
	lull_config_default(&ccfg);
	pair p;
	pair_init_cfg(&p, &ccfg, &scfg);
	CHECK(lull_conn_max_message(p.client.conn) == LULL_DEFAULT_MAX_MESSAGE_BYTES);
	CHECK_OK(lull_conn_start(p.server.conn, p.now));
	CHECK_OK(lull_conn_start(p.client.conn, p.now));
	uint8_t msg[2000] = {0};
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, sizeof(msg)));
	pair_pump(&p);
	CHECK(lull_conn_max_message(p.client.conn) == 1000);
	CHECK(!lull_conn_is_open(p.client.conn) && p.server.n_messages == 0);
	CHECK(side_last_event(&p.client)->close_reason == LULL_CLOSE_MESSAGE_TOO_LARGE);
	pair_free(&p);
}

/* Take side's queued frames apart: starts[i] and lens[i] of each frame in
 * buf; returns the count. */
static size_t split_frames(pair_side *side, uint8_t *buf, size_t cap, size_t *starts, size_t *lens,
                           size_t max)
{
	size_t n = pair_take_output(side, buf, cap), off = 0, k = 0;
	while (off + WIRE_HEADER_BYTES <= n && k < max) {
		starts[k] = off;
		lens[k] = WIRE_HEADER_BYTES + wire_get_u16(buf + off + 2);
		off += lens[k++];
	}
	return k;
}

/* Found by fuzzing: reassembly must never splice two messages.  A dropped
 * spoof discards the message it interrupted; a message cannot continue
 * under another key; an empty "more" fragment is not a lull sender's. */
static void reassembly_never_splices(void)
{
	static uint8_t buf[4 * WIRE_FRAME_MAX_BYTES], msg[REC + 10];
	size_t starts[8], lens[8];
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_STALE;
	cfg.on_spoof = LULL_ON_SPOOF_DROP;
	cfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	pair p;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	/* Fragment 1 arrives; fragment 2 is late, past interval + timeout. */
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, sizeof(msg)));
	CHECK(split_frames(&p.client, buf, sizeof(buf), starts, lens, 8) == 2);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, buf + starts[0], lens[0]));
	p.hold_client_output = true;
	pair_advance(&p, HI + HT);
	CHECK(side_count_events(&p.server, LULL_EV_KEY_STALE) == 1);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, buf + starts[1], lens[1]));
	CHECK(side_count_events(&p.server, LULL_EV_SPOOF_REJECTED) == 1);
	/* The interrupted message is gone: the next one starts afresh. */
	CHECK(p.server.n_messages == 0 && p.server.conn->msg_len == 0);
	CHECK(lull_conn_is_open(p.server.conn));
	pair_free(&p);

	/* The last fragment deleted on the wire, then a rekey: the next
	 * message, under the new key, must not complete the old one. */
	pair_init(&p);
	pair_connect(&p);
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, sizeof(msg)));
	CHECK(split_frames(&p.client, buf, sizeof(buf), starts, lens, 8) == 2);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, buf + starts[0], lens[0]));
	CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
	CHECK_OK(lull_conn_send(p.client.conn, p.now, msg, 5));
	pair_pump(&p);
	CHECK(p.server.n_messages == 0 && !lull_conn_is_open(p.server.conn));
	pair_free(&p);

	/* An empty fragment that claims more follow. */
	pair_init(&p);
	pair_connect(&p);
	uint8_t frame[WIRE_RECORD_OVERHEAD_BYTES];
	record_key k;
	CHECK_OK(record_key_init(&k, CRYPTO_AEAD_AESGCM, p.client.conn->tx.key, 1));
	k.seq = p.client.conn->tx.seq;
	CHECK_OK(record_seal(&k, WIRE_DATA, WIRE_FLAG_MORE, NULL, 0, frame));
	record_key_destroy(&k);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, frame, sizeof(frame)), LULL_ERR_PROTOCOL);
	pair_free(&p);
}

/* The attacker's copy of side's current send key, as forge_record uses. */
static void steal_send_key(const pair_side *side, record_key *stolen)
{
	memset(stolen, 0, sizeof(*stolen));
	memcpy(stolen->key, side->conn->tx.key, sizeof(stolen->key));
	stolen->epoch = side->conn->tx.epoch;
	stolen->seq = side->conn->tx.seq;
}

/* A key gone stale without a heartbeat (A9, on_missing_heartbeat = stale)
 * is not ratcheted: a spoof under it authenticates before it is refused.
 * A dropped one is taken back (record_key_unopen), so the client's own
 * next record, sealed with the same nonce, still opens. */
static void dropped_spoof_gives_back_its_nonce(void)
{
	static uint8_t frame[WIRE_FRAME_MAX_BYTES];
	const uint8_t evil[] = "evil";
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_STALE;
	cfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	cfg.on_spoof = LULL_ON_SPOOF_DROP;
	pair p;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	record_key stolen;
	steal_send_key(&p.client, &stolen);
	p.hold_client_output = true; /* the heartbeat is late, not lost */
	pair_advance(&p, HI + HT);
	CHECK(side_count_events(&p.server, LULL_EV_KEY_STALE) == 1);
	CHECK(!p.server.conn->rx.control_only);
	size_t n = forge_record(&stolen, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_OK(lull_conn_receive(p.server.conn, p.now, frame, n));
	CHECK(side_count_events(&p.server, LULL_EV_SPOOF_REJECTED) == 1);
	CHECK(p.server.n_messages == 0);
	p.hold_client_output = false;
	pair_pump(&p);
	CHECK(lull_conn_is_open(p.server.conn) && lull_conn_is_open(p.client.conn));
	CHECK(side_count_events(&p.server, LULL_EV_HEARTBEAT_RECEIVED) >= 1);
	crypto_wipe(&stolen, sizeof(stolen));
	pair_free(&p);
}

/* The same stale, unratcheted key kept as the server's previous receive
 * key across a rekey: data under it is still a spoof (rx_prev_stale). */
static void stale_previous_key_refuses_data(void)
{
	static uint8_t buf[8 * WIRE_FRAME_MAX_BYTES], frame[WIRE_FRAME_MAX_BYTES];
	const uint8_t evil[] = "evil";
	size_t starts[16], lens[16];
	lull_config cfg;
	lull_config_default(&cfg);
	cfg.on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_STALE;
	cfg.on_missed_ack = LULL_ON_MISSED_ACK_REKEY;
	pair p;
	pair_init_cfg(&p, &cfg, &cfg);
	pair_connect(&p);
	record_key stolen;
	steal_send_key(&p.client, &stolen);
	p.hold_client_output = true;
	pair_advance(&p, HI + HT);
	CHECK(side_count_events(&p.server, LULL_EV_KEY_STALE) == 1);
	/* The client gave up on its heartbeat and rekeys: its HS1 arrives,
	 * the heartbeat is deleted on the wire. */
	size_t k = split_frames(&p.client, buf, sizeof(buf), starts, lens, 16), hs1 = k;
	for (size_t i = 0; i < k; i++)
		if (buf[starts[i]] == WIRE_HS1)
			hs1 = i;
	CHECK(hs1 < k);
	if (hs1 < k)
		CHECK_OK(lull_conn_receive(p.server.conn, p.now, buf + starts[hs1], lens[hs1]));
	deliver(&p, &p.server, &p.client); /* HS2 */
	deliver(&p, &p.client, &p.server); /* HS3: the server switches */
	CHECK(lull_conn_epoch(p.server.conn) == 2 && p.server.conn->rx_prev.live);
	CHECK(!p.server.conn->rx_prev.control_only && p.server.conn->pol.rx_prev_stale);
	size_t n = forge_record(&stolen, WIRE_DATA, evil, sizeof(evil), frame);
	CHECK_ERR(lull_conn_receive(p.server.conn, p.now, frame, n), LULL_ERR_SPOOF);
	CHECK(p.server.n_messages == 0);
	crypto_wipe(&stolen, sizeof(stolen));
	pair_free(&p);
}

/* Deliver only frame i of what from has queued (the rest is deleted). */
static void deliver_only(pair *p, pair_side *from, pair_side *to, size_t i)
{
	static uint8_t buf[8 * WIRE_FRAME_MAX_BYTES];
	size_t starts[16], lens[16];
	size_t n = split_frames(from, buf, sizeof(buf), starts, lens, 16);
	CHECK(i < n);
	if (i < n)
		to->last_receive_err =
		        lull_conn_receive(to->conn, p->now, buf + starts[i], lens[i]);
}

/* KEY_END closes each direction's stream under the old key: records
 * deleted on the wire just before a rekey are detected, never lost. */
static void key_end_detects_deleted_tail(void)
{
	for (int drop_key_end = 0; drop_key_end < 2; drop_key_end++) {
		/* Client to server. */
		pair p;
		pair_init(&p);
		pair_connect(&p);
		CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
		deliver(&p, &p.client, &p.server); /* HS1 */
		deliver(&p, &p.server, &p.client); /* HS2 */
		deliver(&p, &p.client, &p.server); /* HS3: the server switches */
		if (drop_key_end) {
			deliver(&p, &p.server, &p.client); /* KEY_END, KEYS */
			CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"new", 3));
			deliver_only(&p, &p.client, &p.server, 1); /* not KEY_END: DATA */
			CHECK(p.server.last_receive_err == LULL_ERR_PROTOCOL);
		} else {
			CHECK_OK(lull_conn_send(p.client.conn, p.now, (const uint8_t *)"tail", 4));
			uint8_t gone[WIRE_FRAME_MAX_BYTES];
			pair_take_output(&p.client, gone, sizeof(gone)); /* deleted */
			deliver(&p, &p.server, &p.client);               /* KEY_END, KEYS */
			deliver(&p, &p.client, &p.server);               /* KEY_END: seq gap */
			CHECK(p.server.last_receive_err == LULL_ERR_DECRYPT);
		}
		CHECK(!lull_conn_is_open(p.server.conn) && p.server.n_messages == 0);
		pair_free(&p);

		/* Server to client. */
		pair_init(&p);
		pair_connect(&p);
		CHECK_OK(lull_conn_rekey(p.client.conn, p.now));
		deliver(&p, &p.client, &p.server); /* HS1 */
		if (drop_key_end) {
			deliver(&p, &p.server, &p.client);         /* HS2 */
			deliver(&p, &p.client, &p.server);         /* HS3 */
			deliver_only(&p, &p.server, &p.client, 1); /* KEYS without KEY_END */
			CHECK(p.client.last_receive_err == LULL_ERR_PROTOCOL);
		} else {
			CHECK_OK(lull_conn_send(p.server.conn, p.now, (const uint8_t *)"tail", 4));
			deliver_only(&p, &p.server, &p.client, 0); /* HS2; the DATA is deleted */
			deliver(&p, &p.client, &p.server);         /* HS3 */
			deliver(&p, &p.server, &p.client);         /* KEY_END: seq gap */
			CHECK(p.client.last_receive_err == LULL_ERR_DECRYPT);
		}
		CHECK(!lull_conn_is_open(p.client.conn) && p.client.n_messages == 0);
		pair_free(&p);
	}
}

/* ---- The state machine alone -------------------------------------------- */

static void policy_unit(void)
{
	lull_config cfg;
	lull_config_default(&cfg);
	policy_state ps;
	policy_init(&ps, true);
	bool rekey = false, acked = false;
	lull_rekey_reason reason = LULL_REKEY_NONE;
	/* Nothing is sent before the first key. */
	CHECK(policy_check_send(&ps, &cfg, 0, 1, &rekey, &reason) == POLICY_HOLD && !rekey);
	CHECK(policy_next_deadline(&ps, &cfg) == UINT64_MAX);
	policy_key_installed(&ps, 1000);
	CHECK(policy_next_deadline(&ps, &cfg) == 1000 + HI);
	/* Acks: unknown ids are errors, late ones are accepted and ignored. */
	CHECK_ERR(policy_on_heartbeat_ack(&ps, 1, &acked), LULL_ERR_PROTOCOL);
	uint32_t id = 0;
	CHECK(policy_heartbeat_sent(&ps, &cfg, 1000 + HI, &id) && id == 1);
	CHECK(policy_next_deadline(&ps, &cfg) == 1000 + HI + HT);
	CHECK_ERR(policy_on_heartbeat_ack(&ps, 2, &acked), LULL_ERR_PROTOCOL);
	CHECK_ERR(policy_on_heartbeat_ack(&ps, 0, &acked), LULL_ERR_PROTOCOL);
	CHECK_OK(policy_on_heartbeat_ack(&ps, 1, &acked));
	CHECK(acked && ps.rx_stale);
	CHECK_OK(policy_on_heartbeat_ack(&ps, 1, &acked));
	CHECK(!acked);
	/* Received data under the stale key is a spoof and is not counted. */
	CHECK(policy_on_received(&ps, &cfg, 1000 + HI + 1, 10, &rekey) == POLICY_SPOOF);
	CHECK(ps.bytes == 0);
	/* A new key clears everything but the heartbeat id sequence. */
	policy_key_installed(&ps, 5000000);
	CHECK(!ps.tx_stale && !ps.rx_stale && ps.hb_id == 1);
	CHECK(policy_check_send(&ps, &cfg, 5000000, 10, &rekey, &reason) == POLICY_OK);
	/* The age cap: past reject_after_age the sender holds and asks. */
	uint64_t t = 5000000 + LULL_DEFAULT_REKEY_MAX_AGE_MS + LULL_DEFAULT_SRK_LIFETIME_MS;
	ps.activity_ms = t; /* busy, so not idle */
	CHECK(policy_check_send(&ps, &cfg, t, 10, &rekey, &reason) == POLICY_HOLD);
	CHECK(rekey && reason == LULL_REKEY_AGE);
	/* The receiver allows one handshake of slack on age, then refuses. */
	CHECK(policy_on_received(&ps, &cfg, t, 10, &rekey) == POLICY_OK);
	CHECK(policy_on_received(&ps, &cfg, t + LULL_DEFAULT_SRK_LIFETIME_MS, 10, &rekey) ==
	      POLICY_KEY_EXPIRED);
}

int main(void)
{
	A1_idle_detection();
	A2_data_after_idle_waits_for_new_key();
	A3_rekey_after_bytes();
	A4_heartbeat_constant_interval();
	A5_heartbeat_answered();
	A6_missed_ack();
	A7_rekey_is_full_handshake();
	A8_spoof_after_heartbeat_rejected();
	A9_missing_heartbeat();
	A10_server_requests_rekey();
	A11_stricter_policy_adopted();
	max_age_rekey();
	idle_link_no_age_rekey();
	idle_link_forgets_data_keys();
	reject_after_bytes_cap();
	busy_link_no_stall();
	rekey_tail_not_counted_twice();
	one_way_busy_counts_at_both_ends();
	server_backstop_request();
	application_rekey();
	finish_flushes_held_data();
	max_message_known_after_handshake();
	reassembly_never_splices();
	dropped_spoof_gives_back_its_nonce();
	stale_previous_key_refuses_data();
	key_end_detects_deleted_tail();
	policy_unit();
	return test_summary();
}
