/*
 * test_stream.c - streams over one link (src/stream.c) on the virtual
 * clock: open, data, FIN in both orders, reset; an idle link keeps no
 * stream table; window exhaustion and
 * refill; the link-wide caps; the stream cap; a stalled stream while others
 * flow and heartbeats are acked; an idle link whose new stream waits for
 * the idle rekey; a rekey under 100 open streams; fair interleaving;
 * malformed frames and their documented reactions; and the worked example
 * of docs/protocol.md §10.5, byte for byte.
 */
#include "mux_pair.h"

static mux_pair *mp_new(const lull_config *ccfg, const lull_config *scfg, const lull_mux_config *cm,
                        const lull_mux_config *sm)
{
	mux_pair *mp = malloc(sizeof(*mp));
	if (!mp)
		abort();
	mp_init_cfg(mp, ccfg, scfg, cm, sm);
	return mp;
}

static void mp_delete(mux_pair *mp)
{
	mp_free(mp);
	free(mp);
}

static uint32_t open_stream(mux_pair *mp)
{
	uint32_t id = 0;
	CHECK_OK(lull_mux_open(mp->client.mux, mp->p.now, NULL, &id));
	return id;
}

/* Send the pattern bytes [*off, total) of id from one side, pumping until
 * all crossed. */
static void transfer_from(mux_pair *mp, mp_side *from, uint32_t id, uint64_t *off, uint64_t total)
{
	for (int i = 0; i < 100000 && *off < total; i++) {
		mp_write_pattern(mp, from, id, off, total);
		mp_pump(mp);
	}
	CHECK(*off == total);
}

/* Write id's pattern up to total, pumping between writes, until it is all
 * written or nothing more is taken (a stalled consumer's window is full:
 * lull_mux_write takes at most LULL_STREAM_QUEUE_BYTES ahead of the
 * engine). */
static void write_until_stuck(mux_pair *mp, mp_side *from, uint32_t id, uint64_t *off,
                              uint64_t total)
{
	for (int i = 0; i < 100000 && *off < total; i++) {
		uint64_t before = *off;
		mp_write_pattern(mp, from, id, off, total);
		mp_pump(mp);
		if (*off == before)
			break;
	}
}

static void transfer(mux_pair *mp, mp_side *from, uint32_t id, uint64_t total)
{
	uint64_t off = 0;
	transfer_from(mp, from, id, &off, total);
}

/* ---- Open, data, FIN, reset --------------------------------------------- */

static void test_open_data_fin_client_first(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t id = open_stream(mp);
	CHECK(id == 1);
	mp_pump(mp);
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_OPENED, id) == 1);
	CHECK(lull_mux_stream_count(mp->server.mux) == 1);
	transfer(mp, &mp->client, id, 100000);
	CHECK(mp->server.got[id] == 100000);
	CHECK(mp->server.hash[id] == mp_expected_hash(id, 100000));
	/* Client ends its direction; the server's still flows. */
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, id));
	mp_pump(mp);
	CHECK(mp->server.fin[id]);
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_CLOSED, id) == 0);
	CHECK_ERR(lull_mux_write(mp->client.mux, mp->p.now, id, (const uint8_t *)"x", 1,
	                         &(size_t){0}),
	          LULL_ERR_STREAM_STATE);
	transfer(mp, &mp->server, id, 300000); /* past one window: credit flows */
	CHECK(mp->client.got[id] == 300000);
	CHECK(mp->client.hash[id] == mp_expected_hash(id, 300000));
	CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, id));
	mp_pump(mp);
	const mp_event *c = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, id);
	const mp_event *s = mp_find(&mp->server, LULL_STREAM_EV_CLOSED, id);
	CHECK(c && c->reason == LULL_STREAM_NORMAL);
	CHECK(s && s->reason == LULL_STREAM_NORMAL);
	CHECK(lull_mux_stream_count(mp->client.mux) == 0);
	CHECK(lull_mux_stream_count(mp->server.mux) == 0);
	CHECK(lull_conn_is_open(mp->p.client.conn) && lull_conn_is_open(mp->p.server.conn));
	mp_delete(mp);
}

static void test_fin_server_first(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t id = open_stream(mp);
	mp_pump(mp);
	transfer(mp, &mp->server, id, 5000);
	CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, id));
	mp_pump(mp);
	CHECK(mp->client.fin[id] && mp->client.got[id] == 5000);
	/* The half-closed stream still carries the other way: a request
	 * after the reply's end, like a pipelining client. */
	transfer(mp, &mp->client, id, 1 << 20);
	CHECK(mp->server.got[id] == 1 << 20);
	CHECK(mp->server.hash[id] == mp_expected_hash(id, 1 << 20));
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_CLOSED, id) == 0);
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, id));
	mp_pump(mp);
	CHECK(mp_find(&mp->client, LULL_STREAM_EV_CLOSED, id)->reason == LULL_STREAM_NORMAL);
	CHECK(mp_find(&mp->server, LULL_STREAM_EV_CLOSED, id)->reason == LULL_STREAM_NORMAL);
	mp_delete(mp);
}

static void test_reset(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp);
	mp_pump(mp);
	transfer(mp, &mp->client, a, 1000);
	/* Queue data the peer will never see, then reset. */
	mp->p.hold_client_output = true;
	uint64_t off = 0;
	mp_write_pattern(mp, &mp->client, a, &off, 200000);
	CHECK_OK(lull_mux_reset(mp->client.mux, mp->p.now, a, LULL_STREAM_ABORTED));
	CHECK(lull_mux_stream_count(mp->client.mux) == 1);
	mp->p.hold_client_output = false;
	mp_pump(mp);
	const mp_event *e = mp_find(&mp->server, LULL_STREAM_EV_CLOSED, a);
	CHECK(e && e->reason == LULL_STREAM_ABORTED && e->by_peer);
	CHECK(mp->server.got[a] < 1000 + 200000); /* the tail was dropped, not sent */
	/* The other stream and the link are untouched. */
	transfer(mp, &mp->client, b, 70000);
	CHECK(mp->server.got[b] == 70000);
	/* The server resets the other one: target_unreachable reaches the client. */
	CHECK_OK(lull_mux_reset(mp->server.mux, mp->p.now, b, LULL_STREAM_TARGET_UNREACHABLE));
	mp_pump(mp);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, b);
	CHECK(e && e->reason == LULL_STREAM_TARGET_UNREACHABLE && e->by_peer);
	CHECK(lull_mux_stream_count(mp->client.mux) == 0 &&
	      lull_mux_stream_count(mp->server.mux) == 0);
	/* A local reset of an unknown id is named. */
	CHECK_ERR(lull_mux_reset(mp->client.mux, mp->p.now, 77, LULL_STREAM_ABORTED),
	          LULL_ERR_STREAM_UNKNOWN);
	CHECK_ERR(lull_mux_reset(mp->client.mux, mp->p.now, a, LULL_STREAM_NORMAL),
	          LULL_ERR_INVALID_ARG);
	mp_delete(mp);
}

static void test_link_lost_resets_streams(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp);
	mp_pump(mp);
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, b));
	mp_pump(mp);
	lull_conn_close(mp->p.server.conn, mp->p.now, LULL_CLOSE_SHUTDOWN);
	mp_pump(mp);
	const mp_event *e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, a);
	CHECK(e && e->reason == LULL_STREAM_LINK_LOST);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, b);
	CHECK(e && e->reason == LULL_STREAM_LINK_LOST); /* half-closed is not complete */
	CHECK(mp_find(&mp->server, LULL_STREAM_EV_CLOSED, a)->reason == LULL_STREAM_LINK_LOST);
	uint32_t id;
	CHECK_ERR(lull_mux_open(mp->client.mux, mp->p.now, NULL, &id), LULL_ERR_CLOSED);
	mp_delete(mp);
}

/* An idle link keeps no stream table (issue 13: memory per idle link):
 * the last stream to end frees it, the next one makes it again; a link
 * lost with streams in many buckets ends them all, the last one freeing the
 * table under the loop that walks it. */
static void test_idle_link_keeps_no_table(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	CHECK(mp->client.mux->buckets == NULL && mp->server.mux->buckets == NULL);
	uint32_t ids[20];
	for (int i = 0; i < 20; i++)
		ids[i] = open_stream(mp);
	mp_pump(mp);
	CHECK(mp->client.mux->n_buckets > STREAM_HASH_INITIAL_BUCKETS);
	CHECK(lull_mux_stream_count(mp->server.mux) == 20);
	for (int i = 0; i < 20; i++)
		CHECK_OK(lull_mux_reset(mp->client.mux, mp->p.now, ids[i], LULL_STREAM_ABORTED));
	mp_pump(mp);
	CHECK(lull_mux_stream_count(mp->server.mux) == 0);
	CHECK(mp->client.mux->buckets == NULL && mp->client.mux->n_buckets == 0);
	CHECK(mp->server.mux->buckets == NULL && mp->server.mux->n_buckets == 0);
	/* The next stream works as the first did. */
	uint32_t id = open_stream(mp);
	mp_pump(mp);
	transfer(mp, &mp->client, id, 70000);
	CHECK(mp->server.got[id] == 70000);
	CHECK(mp->client.mux->n_buckets == STREAM_HASH_INITIAL_BUCKETS);
	for (int i = 0; i < 20; i++)
		ids[i] = open_stream(mp);
	mp_pump(mp);
	lull_conn_close(mp->p.server.conn, mp->p.now, LULL_CLOSE_SHUTDOWN);
	mp_pump(mp);
	for (int i = 0; i < 20; i++)
		CHECK(mp_find(&mp->client, LULL_STREAM_EV_CLOSED, ids[i])->reason ==
		      LULL_STREAM_LINK_LOST);
	CHECK(mp_find(&mp->client, LULL_STREAM_EV_CLOSED, id)->reason == LULL_STREAM_LINK_LOST);
	CHECK(mp->client.mux->buckets == NULL && mp->server.mux->buckets == NULL);
	mp_delete(mp);
}

/* ---- Flow control ----------------------------------------------------------- */

static void test_window_exhaustion_and_refill(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t id = open_stream(mp);
	mp_pump(mp);
	mp->server.stalled[id] = true;
	uint64_t off = 0;
	for (int i = 0; i < 100; i++) {
		mp_write_pattern(mp, &mp->client, id, &off, 4 << 20);
		mp_pump(mp);
	}
	/* Exactly one window crossed, and the sender is out of room. */
	CHECK(off == LULL_STREAM_INITIAL_WINDOW_BYTES);
	CHECK(mp->server.got[id] == LULL_STREAM_INITIAL_WINDOW_BYTES);
	CHECK(lull_mux_write_room(mp->client.mux, id) == 0);
	CHECK_ERR(lull_mux_write(mp->client.mux, mp->p.now, id, (const uint8_t *)"x", 1,
	                         &(size_t){0}),
	          LULL_ERR_WOULD_BLOCK);
	unsigned writable = mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, id);
	/* Consuming less than half a window gives no credit yet. */
	CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, id, 1000));
	mp_pump(mp);
	CHECK(lull_mux_write_room(mp->client.mux, id) == 0);
	/* Consuming the rest refills it, and the sender hears so. */
	CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, id, mp->server.held[id] - 1000));
	CHECK_ERR(lull_mux_consumed(mp->server.mux, mp->p.now, id, 1), LULL_ERR_INVALID_ARG);
	mp->server.held[id] = 0;
	mp->server.stalled[id] = false;
	mp_pump(mp);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, id) == writable + 1);
	/* The peer had used its whole window: it grew (doubled), so the sender
	 * gets twice as far before it is out of room again. */
	CHECK(lull_mux_write_room(mp->client.mux, id) > 0);
	mp->server.stalled[id] = true;
	uint64_t mark = off;
	write_until_stuck(mp, &mp->client, id, &off, 4 << 20);
	CHECK(off - mark == 2 * LULL_STREAM_INITIAL_WINDOW_BYTES);
	CHECK(lull_mux_write_room(mp->client.mux, id) == 0);
	mp->server.stalled[id] = false;
	CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, id, mp->server.held[id]));
	mp->server.held[id] = 0;
	transfer_from(mp, &mp->client, id, &off, 4 << 20);
	CHECK(mp->server.got[id] == 4 << 20);
	CHECK(mp->server.hash[id] == mp_expected_hash(id, 4 << 20));
	mp_delete(mp);
}

/* A stream that never exhausts its window, the consumer keeping up: the
 * window doubles while credit falls due within LULL_STREAM_WINDOW_GROW_MS
 * of the last (fewer WINDOW frames at speed), up to
 * LULL_STREAM_RATE_WINDOW_BYTES, and stays as it is when credit comes
 * slower than that. */
static void test_window_grows_with_rate(void)
{
	for (int slow = 0; slow < 2; slow++) {
		mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
		uint32_t id = open_stream(mp);
		mp_pump(mp);
		uint64_t off = 0, total = 32u << 20;
		while (off < total) {
			uint64_t before = off;
			mp_write_pattern(mp, &mp->client, id, &off, off + (64u << 10));
			CHECK(off == before + (64u << 10)); /* the window never ran out */
			mp_pump(mp);
			if (slow)
				mp->p.now += LULL_STREAM_WINDOW_GROW_MS + 5;
		}
		uint64_t window = lull_mux_window_total(mp->server.mux);
		CHECK(window ==
		      (slow ? LULL_STREAM_INITIAL_WINDOW_BYTES : LULL_STREAM_RATE_WINDOW_BYTES));
		CHECK(mp->server.got[id] == total);
		CHECK(mp->server.hash[id] == mp_expected_hash(id, total));
		mp_delete(mp);
	}
}

static void test_link_send_cap(void)
{
	lull_mux_config cm;
	lull_mux_config_default(&cm);
	cm.link_send_bytes = 100000;
	mux_pair *mp = mp_new(NULL, NULL, &cm, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp), c = open_stream(mp);
	mp_pump(mp);
	/* Nothing leaves the client: the engine fills, then the queues. */
	mp->p.hold_client_output = true;
	uint64_t off_a = 0, off_b = 0;
	for (int i = 0; i < 10; i++)
		mp_write_pattern(mp, &mp->client, a, &off_a, 1 << 20);
	/* One stream queues at most LULL_STREAM_QUEUE_BYTES; a second one
	 * finds the link's budget. */
	CHECK(lull_mux_queued_bytes(mp->client.mux) == LULL_STREAM_QUEUE_BYTES);
	CHECK(lull_mux_write_room(mp->client.mux, a) == 0);
	mp_write_pattern(mp, &mp->client, b, &off_b, 1 << 20);
	CHECK(off_b == 100000 - LULL_STREAM_QUEUE_BYTES);
	CHECK(lull_mux_queued_bytes(mp->client.mux) == 100000);
	/* Stream b has all its credit, but the link's budget is spent. */
	CHECK(lull_mux_write_room(mp->client.mux, b) == 0);
	CHECK_ERR(
	        lull_mux_write(mp->client.mux, mp->p.now, b, (const uint8_t *)"x", 1, &(size_t){0}),
	        LULL_ERR_WOULD_BLOCK);
	CHECK(off_a < LULL_STREAM_INITIAL_WINDOW_BYTES);
	/* Asking for room and getting none is enough to be told (a reader
	 * that stops reading its socket never calls write). */
	CHECK(lull_mux_write_room(mp->client.mux, c) == 0);
	/* Once the link drains, all three hear they may write again. */
	mp->p.hold_client_output = false;
	mp_pump(mp);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, b) == 1);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, a) == 1);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, c) == 1);
	transfer_from(mp, &mp->client, a, &off_a, 1 << 20);
	transfer_from(mp, &mp->client, b, &off_b, 300000);
	CHECK(mp->server.got[a] == 1 << 20 && mp->server.got[b] == 300000);
	CHECK(mp->server.hash[a] == mp_expected_hash(a, 1 << 20));
	mp_delete(mp);
}

/* Two streams at their queue cap while the link drains a little at a
 * time (a slow socket): each hears WRITABLE once its own queue moved,
 * however many flushes that takes - none is left waiting for ever. */
static void test_queue_cap_slow_drain(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp);
	mp_pump(mp);
	mp->p.hold_client_output = true;
	uint64_t oa = 0, ob = 0;
	mp_write_pattern(mp, &mp->client, a, &oa, 1 << 20);
	mp_write_pattern(mp, &mp->client, b, &ob, 1 << 20);
	CHECK(lull_mux_write_room(mp->client.mux, a) == 0);
	CHECK(lull_mux_write_room(mp->client.mux, b) == 0);
	CHECK(lull_mux_queued_bytes(mp->client.mux) == 2 * LULL_STREAM_QUEUE_BYTES);
	/* 4 KiB of the client's output reach the server per turn. */
	for (int turn = 0; turn < 200 && (mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, a) == 0 ||
	                                  mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, b) == 0);
	     turn++) {
		const uint8_t *bytes;
		size_t n = lull_conn_output(mp->p.client.conn, &bytes);
		if (n > 4096)
			n = 4096;
		CHECK_OK(lull_conn_receive(mp->p.server.conn, mp->p.now, bytes, n));
		lull_conn_output_consume(mp->p.client.conn, n);
		(void)lull_mux_flush(mp->client.mux, mp->p.now);
	}
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, a) == 1);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_WRITABLE, b) == 1);
	mp->p.hold_client_output = false;
	mp_pump(mp);
	transfer_from(mp, &mp->client, a, &oa, 1 << 20);
	transfer_from(mp, &mp->client, b, &ob, 1 << 20);
	CHECK(mp->server.hash[a] == mp_expected_hash(a, 1 << 20));
	CHECK(mp->server.hash[b] == mp_expected_hash(b, 1 << 20));
	mp_delete(mp);
}

/* A stream whose queue is many small writes (a chatty protocol while the
 * engine is full) still sends full frames: its bytes are gathered, not
 * sent as frames of a few bytes each. */
static void test_small_writes_fill_frames(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp);
	mp_pump(mp);
	mp->p.hold_client_output = true;
	uint64_t oa = 0, ob = 0;
	mp_write_pattern(mp, &mp->client, a, &oa, 200000); /* the engine fills */
	for (int i = 0; i < 3000; i++) {
		uint8_t byte = mp_byte(b, ob);
		size_t taken = 0;
		CHECK_OK(lull_mux_write(mp->client.mux, mp->p.now, b, &byte, 1, &taken));
		ob += taken;
	}
	CHECK(ob == 3000);
	mp->p.hold_client_output = false;
	unsigned from = mp->server.n_data;
	mp_pump(mp);
	unsigned frames_b = 0;
	for (unsigned i = from; i < mp->server.n_data; i++)
		frames_b += mp->server.data_order[i] == b;
	CHECK(frames_b == 1);
	CHECK(mp->server.got[b] == 3000 && mp->server.hash[b] == mp_expected_hash(b, 3000));
	transfer_from(mp, &mp->client, a, &oa, 200000);
	CHECK(mp->server.hash[a] == mp_expected_hash(a, 200000));
	mp_delete(mp);
}

static void test_link_window_budget(void)
{
	lull_mux_config sm;
	lull_mux_config_default(&sm);
	sm.link_window_bytes = 300u << 10; /* growth budget: a bit over one window */
	mux_pair *mp = mp_new(NULL, NULL, NULL, &sm);
	uint32_t a = open_stream(mp), b = open_stream(mp);
	mp_pump(mp);
	/* Each stream blocks on its window once, then is refilled: growth. */
	for (int round = 0; round < 6; round++) {
		mp->server.stalled[a] = mp->server.stalled[b] = true;
		uint64_t off_a = 0, off_b = 0;
		mp_write_pattern(mp, &mp->client, a, &off_a, 64 << 20);
		mp_write_pattern(mp, &mp->client, b, &off_b, 64 << 20);
		mp_pump(mp);
		mp->server.stalled[a] = mp->server.stalled[b] = false;
		CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, a, mp->server.held[a]));
		CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, b, mp->server.held[b]));
		mp->server.held[a] = mp->server.held[b] = 0;
		mp_pump(mp);
	}
	uint64_t total = lull_mux_window_total(mp->server.mux);
	CHECK(total > 2ull * LULL_STREAM_INITIAL_WINDOW_BYTES); /* it grew */
	CHECK(total <= 2ull * LULL_STREAM_INITIAL_WINDOW_BYTES + sm.link_window_bytes);
	mp_delete(mp);
}

/* ---- The stream cap ---------------------------------------------------------- */

static void test_stream_cap(void)
{
	lull_mux_config small;
	lull_mux_config_default(&small);
	small.max_streams = 4;
	/* Local cap: the fifth open is refused by name. */
	mux_pair *mp = mp_new(NULL, NULL, &small, NULL);
	uint32_t id;
	for (int i = 0; i < 4; i++)
		CHECK_OK(lull_mux_open(mp->client.mux, mp->p.now, NULL, &id));
	CHECK_ERR(lull_mux_open(mp->client.mux, mp->p.now, NULL, &id), LULL_ERR_STREAM_LIMIT);
	mp_delete(mp);
	/* Peer's cap: the fifth stream is reset with `refused`; the link and
	 * the other four go on, and a slot freed is usable again. */
	mp = mp_new(NULL, NULL, NULL, &small);
	uint32_t ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = open_stream(mp);
	mp_pump(mp);
	const mp_event *e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, ids[4]);
	CHECK(e && e->reason == LULL_STREAM_REFUSED && e->by_peer);
	e = mp_find(&mp->server, LULL_STREAM_EV_ERROR, ids[4]);
	CHECK(e && e->err == LULL_ERR_STREAM_LIMIT);
	CHECK(lull_mux_stream_count(mp->server.mux) == 4);
	CHECK(lull_conn_is_open(mp->p.server.conn));
	transfer(mp, &mp->client, ids[3], 1000);
	CHECK(mp->server.got[ids[3]] == 1000);
	CHECK_OK(lull_mux_reset(mp->client.mux, mp->p.now, ids[0], LULL_STREAM_ABORTED));
	mp_pump(mp);
	uint32_t again = open_stream(mp);
	mp_pump(mp);
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_OPENED, again) == 1);
	CHECK(mp_find(&mp->client, LULL_STREAM_EV_CLOSED, again) == NULL);
	mp_delete(mp);
}

/* ---- GOAWAY (drain, docs/protocol.md §10.6) ------------------------------------ */

static lull_err inject(mux_pair *mp, const char *hex);

static void test_goaway(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp);
	mp_pump(mp);
	/* The server drains: the client hears it once, with id 0. */
	CHECK_OK(lull_mux_goaway(mp->server.mux, mp->p.now));
	CHECK_OK(lull_mux_goaway(mp->server.mux, mp->p.now)); /* a repeat: nothing */
	CHECK(lull_mux_goaway_sent(mp->server.mux));
	CHECK(!lull_mux_goaway_received(mp->server.mux));
	mp_pump(mp);
	CHECK(mp_count(&mp->client, LULL_STREAM_EV_GOAWAY, 0) == 1);
	CHECK(lull_mux_goaway_received(mp->client.mux));
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_GOAWAY, 0) == 0);
	/* The open stream carries on both ways and ends normally. */
	transfer(mp, &mp->client, a, 100000);
	transfer(mp, &mp->server, a, 50000);
	CHECK(mp->server.got[a] == 100000 && mp->client.got[a] == 50000);
	CHECK(mp->server.hash[a] == mp_expected_hash(a, 100000));
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, a));
	CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, a));
	mp_pump(mp);
	const mp_event *e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, a);
	CHECK(e && e->reason == LULL_STREAM_NORMAL);
	/* The client opens nothing more on this link, by name. */
	uint32_t id = 0;
	CHECK_ERR(lull_mux_open(mp->client.mux, mp->p.now, NULL, &id), LULL_ERR_STATE);
	CHECK(lull_mux_stream_count(mp->client.mux) == 0);
	/* A client that opens anyway (one whose OPEN crossed the GOAWAY) is
	 * refused with RESET(refused); the link goes on. */
	mp->client.mux->next_local_id = 5; /* as if the client had sent OPEN 3 */
	CHECK_ERR(inject(mp, "0100000003"), LULL_ERR_STATE);
	e = mp_find(&mp->server, LULL_STREAM_EV_ERROR, 3);
	CHECK(e && e->err == LULL_ERR_STATE && e->reason == LULL_STREAM_REFUSED);
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_OPENED, 3) == 0);
	CHECK(lull_conn_is_open(mp->p.server.conn));
	/* A repeated GOAWAY is harmless and not reported twice. */
	CHECK_OK(lull_mux_goaway(mp->client.mux, mp->p.now));
	mp_pump(mp);
	CHECK(mp_count(&mp->server, LULL_STREAM_EV_GOAWAY, 0) == 1);
	mp_delete(mp);

	/* GOAWAY sent before the peer's OPEN arrives: a stream already open
	 * keeps going, the OPEN in flight is refused. */
	mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t first = open_stream(mp);
	mp_pump(mp);
	uint32_t crossing = open_stream(mp); /* queued, not yet delivered */
	CHECK_OK(lull_mux_goaway(mp->server.mux, mp->p.now));
	mp_pump(mp);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, crossing);
	CHECK(e && e->reason == LULL_STREAM_REFUSED && e->by_peer);
	CHECK(mp_find(&mp->client, LULL_STREAM_EV_CLOSED, first) == NULL);
	transfer(mp, &mp->client, first, 1000);
	CHECK(mp->server.got[first] == 1000);
	mp_delete(mp);

	/* After the link closed: named. */
	mp = mp_new(NULL, NULL, NULL, NULL);
	lull_conn_close(mp->p.server.conn, mp->p.now, LULL_CLOSE_NORMAL);
	lull_mux_link_closed(mp->server.mux);
	CHECK_ERR(lull_mux_goaway(mp->server.mux, mp->p.now), LULL_ERR_CLOSED);
	mp_delete(mp);
}

/* ---- A stalled stream, heartbeats and idle rekeys ------------------------------ */

static void test_stalled_stream_others_flow_heartbeats_acked(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	lull_config cfg;
	lull_config_default(&cfg);
	uint32_t stalled = open_stream(mp), busy = open_stream(mp);
	mp_pump(mp);
	mp->server.stalled[stalled] = true;
	uint64_t off = 0;
	write_until_stuck(mp, &mp->client, stalled, &off, 8 << 20);
	/* The other stream moves a lot more than a window past it. */
	transfer(mp, &mp->client, busy, 8 << 20);
	CHECK(mp->server.got[busy] == 8 << 20);
	CHECK(mp->server.got[stalled] == LULL_STREAM_INITIAL_WINDOW_BYTES);
	/* Now the link is idle for 3 x (interval + timeout) with one stream
	 * backed up: heartbeats go out and are acked, nothing closes. */
	unsigned acked = side_count_events(&mp->p.client, LULL_EV_HEARTBEAT_ACKED);
	mp_write_pattern(mp, &mp->client, stalled, &off, 8 << 20);
	pair_advance(&mp->p, 3ull * (cfg.heartbeat_interval_ms + cfg.heartbeat_timeout_ms));
	mp_pump(mp);
	CHECK(side_count_events(&mp->p.client, LULL_EV_HEARTBEAT_ACKED) >= acked + 3);
	CHECK(side_count_events(&mp->p.client, LULL_EV_CLOSED) == 0);
	CHECK(side_count_events(&mp->p.server, LULL_EV_CLOSED) == 0);
	/* The reader comes back: the rest arrives intact (after an idle rekey). */
	mp->server.stalled[stalled] = false;
	CHECK_OK(lull_mux_consumed(mp->server.mux, mp->p.now, stalled, mp->server.held[stalled]));
	mp->server.held[stalled] = 0;
	transfer_from(mp, &mp->client, stalled, &off, 8 << 20);
	CHECK(mp->server.got[stalled] == 8 << 20);
	CHECK(mp->server.hash[stalled] == mp_expected_hash(stalled, 8 << 20));
	CHECK(lull_conn_epoch(mp->p.client.conn) >= 2);
	mp_delete(mp);
}

static void test_idle_link_new_stream_waits_for_rekey(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	lull_config cfg;
	lull_config_default(&cfg);
	uint32_t first = open_stream(mp);
	mp_pump(mp);
	transfer(mp, &mp->client, first, 1000);
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, first));
	CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, first));
	mp_pump(mp);
	CHECK(lull_mux_stream_count(mp->client.mux) == 0);
	/* Idle: a heartbeat, acked: the key is stale. */
	pair_advance(&mp->p, cfg.heartbeat_interval_ms + 1000);
	CHECK(side_count_events(&mp->p.client, LULL_EV_HEARTBEAT_ACKED) == 1);
	uint32_t epoch = lull_conn_epoch(mp->p.client.conn);
	unsigned ev0 = mp->p.client.n_events;
	uint32_t id = open_stream(mp);
	/* The OPEN is held: a handshake with reason idle starts first. */
	int hs = side_find_event(&mp->p.client, LULL_EV_HANDSHAKE_STARTED, ev0);
	CHECK(hs >= 0 && mp->p.client.events[hs].ev.rekey_reason == LULL_REKEY_IDLE);
	mp_pump(mp);
	const mp_event *o = mp_find(&mp->server, LULL_STREAM_EV_OPENED, id);
	CHECK(o && o->epoch == epoch + 1); /* seen only under the new key */
	transfer(mp, &mp->client, id, 50000);
	CHECK(mp->server.got[id] == 50000);
	mp_delete(mp);
}

static void test_rekey_with_100_streams(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	enum { N = 100, BYTES = 300000 };
	uint32_t ids[N];
	uint64_t off[N] = {0}, back[N] = {0};
	for (int i = 0; i < N; i++)
		ids[i] = open_stream(mp);
	mp_pump(mp);
	bool rekeyed = false;
	for (int round = 0; round < 10000; round++) {
		bool left = false;
		for (int i = 0; i < N; i++) {
			mp_write_pattern(mp, &mp->client, ids[i], &off[i], BYTES);
			mp_write_pattern(mp, &mp->server, ids[i], &back[i], BYTES);
			left |= off[i] < BYTES || back[i] < BYTES;
		}
		if (round == 3) {
			CHECK_OK(lull_conn_rekey(mp->p.client.conn, mp->p.now));
			rekeyed = true;
		}
		mp_pump(mp);
		if (!left)
			break;
	}
	CHECK(rekeyed);
	CHECK(lull_conn_epoch(mp->p.client.conn) == 2);
	for (int i = 0; i < N; i++) {
		CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, ids[i]));
		CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, ids[i]));
	}
	mp_pump(mp);
	unsigned ok = 0;
	for (int i = 0; i < N; i++) {
		uint32_t id = ids[i];
		ok += mp->server.got[id] == BYTES && mp->client.got[id] == BYTES &&
		      mp->server.hash[id] == mp_expected_hash(id, BYTES) &&
		      mp->client.hash[id] == mp_expected_hash(id, BYTES);
		const mp_event *e = mp_find(&mp->server, LULL_STREAM_EV_CLOSED, id);
		ok += e && e->reason == LULL_STREAM_NORMAL;
	}
	CHECK(ok == 2 * N);
	CHECK(lull_mux_stream_count(mp->client.mux) == 0);
	mp_delete(mp);
}

static void test_round_robin(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp), c = open_stream(mp);
	mp_pump(mp);
	/* Queue what each may (LULL_STREAM_QUEUE_BYTES, after the engine's
	 * first LULL_STREAM_ENGINE_QUEUE_BYTES from a) while nothing leaves,
	 * then let it go. */
	mp->p.hold_client_output = true;
	uint64_t oa = 0, ob = 0, oc = 0;
	mp_write_pattern(mp, &mp->client, a, &oa, 200000);
	mp_write_pattern(mp, &mp->client, b, &ob, 200000);
	mp_write_pattern(mp, &mp->client, c, &oc, 200000);
	mp->p.hold_client_output = false;
	unsigned from = mp->server.n_data;
	mp_pump(mp);
	/* Past what a went first with, DATA frames rotate a, b, c. */
	unsigned runs = 0, n = mp->server.n_data - from;
	for (unsigned i = from + 1; i < mp->server.n_data; i++)
		runs += mp->server.data_order[i] == mp->server.data_order[i - 1];
	/* a alone filled the engine first (sealed straight from its write),
	 * then every stream had its queue. */
	unsigned first = LULL_STREAM_ENGINE_QUEUE_BYTES / LULL_STREAM_CHUNK_BYTES + 1;
	CHECK(n >= first + 8);
	CHECK(runs <= first);
	if (runs > first || n < first + 8)
		for (unsigned i = from; i < mp->server.n_data; i++)
			fprintf(stderr, "%u ", mp->server.data_order[i]);
	transfer_from(mp, &mp->client, a, &oa, 200000);
	transfer_from(mp, &mp->client, b, &ob, 200000);
	transfer_from(mp, &mp->client, c, &oc, 200000);
	CHECK(mp->server.got[a] == 200000 && mp->server.got[b] == 200000 &&
	      mp->server.got[c] == 200000);
	mp_delete(mp);
}

/* ---- Malformed frames ----------------------------------------------------------- */

/* Hand the server's mux a frame as if the client had sent it. */
static lull_err inject(mux_pair *mp, const char *hex)
{
	uint8_t buf[64];
	size_t n = test_unhex(hex, buf, sizeof(buf));
	lull_err err = lull_mux_receive(mp->server.mux, mp->p.now, buf, n);
	mp_pump(mp);
	return err;
}

static void test_malformed_frames(void)
{
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t a = open_stream(mp), b = open_stream(mp), c = open_stream(mp);
	mp_pump(mp);
	CHECK(a == 1 && b == 3 && c == 5);
	/* FIN twice: the stream is reset (protocol_error), the link goes on. */
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, a));
	mp_pump(mp);
	CHECK_ERR(inject(mp, "0300000001"), LULL_ERR_STREAM_STATE);
	const mp_event *e = mp_find(&mp->server, LULL_STREAM_EV_ERROR, a);
	CHECK(e && e->err == LULL_ERR_STREAM_STATE && e->reason == LULL_STREAM_PROTOCOL_ERROR);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, a);
	CHECK(e && e->reason == LULL_STREAM_PROTOCOL_ERROR && e->by_peer);
	/* Data past the window: 256 KiB is the window; the frame that goes
	 * past it resets the stream with flow_control. */
	mp->server.stalled[b] = true;
	uint64_t off = 0;
	write_until_stuck(mp, &mp->client, b, &off, LULL_STREAM_INITIAL_WINDOW_BYTES);
	CHECK(mp->server.got[b] == LULL_STREAM_INITIAL_WINDOW_BYTES);
	CHECK_ERR(inject(mp, "020000000358"), LULL_ERR_FLOW_CONTROL);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, b);
	CHECK(e && e->reason == LULL_STREAM_FLOW_CONTROL);
	CHECK(mp->server.got[b] == LULL_STREAM_INITIAL_WINDOW_BYTES); /* not delivered */
	/* Oversize window: credit past 1 GiB. */
	CHECK_ERR(inject(mp, "050000000540000000"), LULL_ERR_WINDOW_OVERFLOW);
	e = mp_find(&mp->client, LULL_STREAM_EV_CLOSED, c);
	CHECK(e && e->reason == LULL_STREAM_FLOW_CONTROL);
	/* Late frames for a stream that ended here are dropped quietly. */
	CHECK_OK(inject(mp, "020000000158"));
	CHECK_OK(inject(mp, "0500000003000000ff"));
	CHECK(lull_conn_is_open(mp->p.server.conn));
	/* Malformed and unknown ones end the link with protocol_error. */
	CHECK_ERR(inject(mp, "0200000063aa"), LULL_ERR_STREAM_UNKNOWN);
	CHECK(!lull_conn_is_open(mp->p.server.conn));
	CHECK(side_last_event(&mp->p.server)->close_reason == LULL_CLOSE_PROTOCOL_ERROR);
	CHECK(side_last_event(&mp->p.client)->close_reason == LULL_CLOSE_PROTOCOL_ERROR);
	mp_delete(mp);

	static const char *const bad[] = {
	        "",                   /* empty */
	        "01000000",           /* short */
	        "0000000001",         /* type 0 */
	        "0700000001",         /* type 7 */
	        "0600000001",         /* GOAWAY naming a stream */
	        "060000000000",       /* GOAWAY with a body */
	        "06000000",           /* GOAWAY short */
	        "0100000000",         /* id 0 */
	        "010000000100",       /* OPEN with a body */
	        "0200000001",         /* empty DATA */
	        "04000000010000",     /* RESET too long */
	        "050000000100000000", /* WINDOW of 0 */
	        "0100000002",         /* OPEN with the server's parity */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mp = mp_new(NULL, NULL, NULL, NULL);
		lull_err want = LULL_ERR_PROTOCOL;
		CHECK_ERR(inject(mp, bad[i]), want);
		CHECK(!lull_conn_is_open(mp->p.server.conn));
		mp_delete(mp);
	}
	/* An OPEN that reuses an id. */
	mp = mp_new(NULL, NULL, NULL, NULL);
	open_stream(mp);
	mp_pump(mp);
	CHECK_ERR(inject(mp, "0100000001"), LULL_ERR_PROTOCOL);
	mp_delete(mp);
	/* A DATA frame over the chunk size. */
	mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t id = open_stream(mp);
	mp_pump(mp);
	uint8_t *big = calloc(1, LULL_STREAM_FRAME_MAX_BYTES + 1);
	big[0] = LULL_STREAM_DATA;
	big[4] = (uint8_t)id;
	CHECK_ERR(lull_mux_receive(mp->server.mux, mp->p.now, big, LULL_STREAM_FRAME_MAX_BYTES + 1),
	          LULL_ERR_PROTOCOL);
	free(big);
	mp_delete(mp);
}

/* ---- The worked example (docs/protocol.md §10.5) --------------------------------- */

static void check_frame(const stream_frame *f, const char *hex)
{
	uint8_t want[32], got[32];
	size_t n = test_unhex(hex, want, sizeof(want));
	size_t h = stream_frame_write_header(f, got);
	if (f->type == LULL_STREAM_DATA) {
		memcpy(got + h, f->data, f->len);
		h += f->len;
	}
	CHECK(h == n);
	CHECK_MEM(got, want, n);
	stream_frame back;
	CHECK_OK(stream_frame_parse(want, n, &back));
	CHECK(back.type == f->type && back.id == f->id && back.len == f->len &&
	      back.reason == f->reason && back.increment == f->increment);
}

static void test_worked_example(void)
{
	const uint8_t ping[] = "PING\r\n";
	const uint8_t pong[] = "+PONG\r\n";
	stream_frame open = {.type = LULL_STREAM_OPEN, .id = 1};
	stream_frame req = {.type = LULL_STREAM_DATA, .id = 1, .data = ping, .len = 6};
	stream_frame fin = {.type = LULL_STREAM_FIN, .id = 1};
	stream_frame rep = {.type = LULL_STREAM_DATA, .id = 1, .data = pong, .len = 7};
	stream_frame win = {.type = LULL_STREAM_WINDOW, .id = 3, .increment = 131072};
	stream_frame rst = {.type = LULL_STREAM_RESET, .id = 5, .reason = 2};
	check_frame(&open, "0100000001");
	check_frame(&req, "0200000001"
	                  "50494e470d0a");
	check_frame(&fin, "0300000001");
	check_frame(&rep, "0200000001"
	                  "2b504f4e470d0a");
	check_frame(&win, "050000000300020000");
	check_frame(&rst, "040000000502");
	CHECK(strcmp(lull_stream_reason_name(LULL_STREAM_TARGET_UNREACHABLE),
	             "target_unreachable") == 0);

	/* And the exchange itself, through two muxes: the client's request
	 * and FIN, the server's reply and FIN, in that order on the wire. */
	mux_pair *mp = mp_new(NULL, NULL, NULL, NULL);
	uint32_t id = open_stream(mp);
	size_t taken;
	CHECK_OK(lull_mux_write(mp->client.mux, mp->p.now, id, ping, 6, &taken));
	CHECK_OK(lull_mux_shutdown(mp->client.mux, mp->p.now, id));
	mp_pump(mp);
	CHECK(mp->server.got[id] == 6 && mp->server.fin[id]);
	CHECK_OK(lull_mux_write(mp->server.mux, mp->p.now, id, pong, 7, &taken));
	CHECK_OK(lull_mux_shutdown(mp->server.mux, mp->p.now, id));
	mp_pump(mp);
	CHECK(mp->client.got[id] == 7 && mp->client.fin[id]);
	const lull_stream_event_type want[] = {LULL_STREAM_EV_OPENED, LULL_STREAM_EV_DATA,
	                                       LULL_STREAM_EV_FIN, LULL_STREAM_EV_CLOSED};
	CHECK(mp->server.n_events == 4);
	for (unsigned i = 0; i < 4 && i < mp->server.n_events; i++)
		CHECK(mp->server.events[i].type == want[i]);
	mp_delete(mp);
}

static void test_config_validate(void)
{
	lull_mux_config c;
	const char *bad = NULL;
	lull_mux_config_default(&c);
	CHECK_OK(lull_mux_config_validate(&c, &bad));
	c.max_streams = 0;
	CHECK_ERR(lull_mux_config_validate(&c, &bad), LULL_ERR_CONFIG);
	CHECK(bad && strcmp(bad, "max_streams") == 0);
	lull_mux_config_default(&c);
	c.max_window = c.initial_window - 1;
	CHECK_ERR(lull_mux_config_validate(&c, &bad), LULL_ERR_CONFIG);
	CHECK(bad && strcmp(bad, "max_window") == 0);
}

int main(void)
{
	test_open_data_fin_client_first();
	test_fin_server_first();
	test_reset();
	test_link_lost_resets_streams();
	test_idle_link_keeps_no_table();
	test_window_exhaustion_and_refill();
	test_link_send_cap();
	test_link_window_budget();
	test_window_grows_with_rate();
	test_queue_cap_slow_drain();
	test_small_writes_fill_frames();
	test_stream_cap();
	test_goaway();
	test_stalled_stream_others_flow_heartbeats_acked();
	test_idle_link_new_stream_waits_for_rekey();
	test_rekey_with_100_streams();
	test_round_robin();
	test_malformed_frames();
	test_worked_example();
	test_config_validate();
	return test_summary();
}
