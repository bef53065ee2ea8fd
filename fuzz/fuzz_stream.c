/*
 * fuzz_stream.c - the stream layer (src/stream.c) under a script from the
 * input, over a real connected pair of engines on the virtual clock.
 *
 * Input: a config byte (stream cap, initial and maximum window, link send
 * budget: small, so that the limits are reached), then commands: inject an
 * arbitrary frame into the server's mux as if the client had sent it,
 * open streams, write, shut down, reset, stall or resume a consumer, pump,
 * advance time.
 *
 * Invariants checked after every command (abort = finding):
 *  - every stream: queued <= send credit, received <= what this end
 *    allowed (limit_sent), consumed <= received, window <= max_window;
 *  - the mux: queued bytes == the sum of the streams' and <= the link's
 *    send budget; streams <= the cap; window growth within the link's
 *    budget;
 *  - a closed link answers LULL_ERR_CLOSED and holds no stream;
 *  - a honest stream that no injected frame touched and that ended
 *    normally delivered exactly the bytes written, in order.
 */
#include "fuzz_util.h"
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mux_pair.h"

#define FS_MAX_IDS 16

typedef struct fs_state {
	mux_pair *mp;
	lull_mux_config cfg;
	uint32_t ids[FS_MAX_IDS];
	uint64_t written[FS_MAX_IDS][2]; /* [client->server, server->client] */
	bool tainted[FS_MAX_IDS];        /* an injected frame named it */
	unsigned n_ids;
} fs_state;

static void check_mux(const lull_mux *m)
{
	if (m->closed) {
		FUZZ_CHECK(m->n_streams == 0 && m->queued == 0);
		uint32_t id;
		FUZZ_CHECK(lull_mux_open((lull_mux *)m, 0, NULL, &id) == LULL_ERR_CLOSED);
		return;
	}
	size_t queued = 0, n = 0;
	uint64_t extra = 0;
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (const mux_stream *s = m->buckets[i]; s; s = s->hnext) {
			FUZZ_CHECK(s->queued <= s->send_credit);
			FUZZ_CHECK(s->bytes_in <= s->limit_sent);
			FUZZ_CHECK(s->consumed <= s->bytes_in);
			FUZZ_CHECK(s->window <= m->cfg.max_window);
			FUZZ_CHECK(s->in_ring == (s->open_due || s->credit_due || s->queued ||
			                          (s->fin_wanted && !s->fin_sent && !s->queued)));
			queued += s->queued;
			extra += s->window - m->cfg.initial_window;
			n++;
		}
	}
	FUZZ_CHECK(n == m->n_streams && n <= m->cfg.max_streams);
	FUZZ_CHECK(queued == m->queued && queued <= m->cfg.link_send_bytes);
	FUZZ_CHECK(extra == m->window_extra && extra <= m->cfg.link_window_bytes);
}

static void check_done_streams(fs_state *st)
{
	for (unsigned i = 0; i < st->n_ids; i++) {
		uint32_t id = st->ids[i];
		if (st->tainted[i] || id >= MP_MAX_STREAMS)
			continue;
		const mp_event *e = mp_find(&st->mp->server, LULL_STREAM_EV_CLOSED, id);
		if (e && e->reason == LULL_STREAM_NORMAL) {
			FUZZ_CHECK(st->mp->server.got[id] == st->written[i][0]);
			FUZZ_CHECK(st->mp->server.hash[id] ==
			           mp_expected_hash(id, st->written[i][0]));
		}
	}
}

static void do_write(fs_state *st, mp_side *from, unsigned idx, unsigned dir, size_t len)
{
	if (idx >= st->n_ids)
		return;
	uint32_t id = st->ids[idx];
	uint64_t off = st->written[idx][dir];
	mp_write_pattern(st->mp, from, id, &off, off + len);
	st->written[idx][dir] = off;
}

static void command(fs_state *st, fuzz_in *in)
{
	mux_pair *mp = st->mp;
	uint8_t op = fuzz_u8(in);
	unsigned idx = fuzz_u8(in) % FS_MAX_IDS;
	uint32_t id = idx < st->n_ids ? st->ids[idx] : 0;
	switch (op % 11) {
	case 0: { /* inject a frame from "the client" */
		size_t got, want = fuzz_u8(in) % 48;
		const uint8_t *b = fuzz_bytes(in, want, &got);
		uint8_t frame[48];
		memcpy(frame, b, got);
		if (got >= 5) {
			uint32_t fid = (uint32_t)frame[1] << 24 | (uint32_t)frame[2] << 16 |
			               (uint32_t)frame[3] << 8 | frame[4];
			for (unsigned i = 0; i < st->n_ids; i++)
				if (st->ids[i] == fid)
					st->tainted[i] = true;
		}
		lull_err err = lull_mux_receive(mp->server.mux, mp->p.now, frame, got);
		if (mp->server.mux->closed)
			FUZZ_CHECK(err != LULL_OK || !lull_conn_is_open(mp->p.server.conn));
		break;
	}
	case 1:
		if (st->n_ids < FS_MAX_IDS) {
			uint32_t nid;
			lull_err err = lull_mux_open(mp->client.mux, mp->p.now, NULL, &nid);
			/* After the peer's GOAWAY nothing opens on this link. */
			FUZZ_CHECK(err != LULL_OK || !mp->client.mux->goaway_received);
			if (err == LULL_OK)
				st->ids[st->n_ids++] = nid;
		}
		break;
	case 2:
		do_write(st, &mp->client, idx, 0, fuzz_u16(in));
		break;
	case 3:
		do_write(st, &mp->server, idx, 1, fuzz_u16(in));
		break;
	case 4:
		(void)lull_mux_shutdown(mp->client.mux, mp->p.now, id);
		break;
	case 5:
		(void)lull_mux_shutdown(mp->server.mux, mp->p.now, id);
		break;
	case 6:
		(void)lull_mux_reset(op & 0x80 ? mp->server.mux : mp->client.mux, mp->p.now, id,
		                     (lull_stream_reason)(1 + fuzz_u8(in) % 7));
		break;
	case 7:
		if (id && id < MP_MAX_STREAMS) {
			mp_side *s = op & 0x80 ? &mp->client : &mp->server;
			s->stalled[id] = !s->stalled[id];
			if (!s->stalled[id] && s->held[id]) {
				(void)lull_mux_consumed(s->mux, mp->p.now, id, s->held[id]);
				s->held[id] = 0;
			}
		}
		break;
	case 9:
		if (op & 0x80) /* drain: GOAWAY from the server */
			(void)lull_mux_goaway(mp->server.mux, mp->p.now);
		mp_pump(mp);
		break;
	case 8:
		mp_pump(mp);
		break;
	case 10:
		pair_advance(&mp->p, (uint64_t)fuzz_u16(in) * 100);
		mp_pump(mp);
		break;
	}
	check_mux(mp->client.mux);
	check_mux(mp->server.mux);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_random_reset(0x5354524d); /* "STRM" */
	fuzz_in in = {data, size};
	fs_state st;
	memset(&st, 0, sizeof(st));
	uint8_t c = fuzz_u8(&in);
	lull_mux_config_default(&st.cfg);
	st.cfg.max_streams = 1 + (c & 7);
	st.cfg.initial_window = 1024u << ((c >> 3) & 7);
	st.cfg.max_window = st.cfg.initial_window * (1 + ((c >> 6) & 3) * 3);
	st.cfg.link_window_bytes = st.cfg.initial_window * ((c >> 6) & 1);
	st.cfg.link_send_bytes = 4096u << ((c >> 4) & 7);
	st.mp = calloc(1, sizeof(*st.mp));
	FUZZ_CHECK(st.mp);
	mp_init_cfg(st.mp, NULL, NULL, &st.cfg, &st.cfg);
	for (unsigned n = 0; n < 256 && !fuzz_in_empty(&in); n++)
		command(&st, &in);
	mp_pump(st.mp);
	check_done_streams(&st);
	FUZZ_CHECK(test_failed_count == 0);
	mp_free(st.mp);
	free(st.mp);
	return 0;
}
