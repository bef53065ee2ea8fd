/*
 * run.c - replay a trace through a real engine pair on a virtual clock.
 *
 * The pair is the real thing: lull_server + two lull_conn, real handshakes,
 * real AEAD over real payload sizes (all zero bytes: one shared buffer, the
 * content does not matter to any policy).  The wire between them is
 * instantaneous and lossless; time moves only when the replay moves it, to
 * the next trace message or the next deadline an engine or a policy rule
 * asked for, whichever is first.  Nothing sleeps.
 *
 * How each figure is taken (all from the engines, never from settings):
 *  - handshakes, by reason: LULL_EV_HANDSHAKE_DONE at the client;
 *  - heartbeats: LULL_EV_HEARTBEAT_SENT at the client;
 *  - bytes under one key: the receiving end's policy counter (pol.bytes,
 *    both directions under its current key) as each message is delivered;
 *  - key life: from the key's installation (client HANDSHAKE_DONE) to the
 *    last moment either end still accepted data under it (the same test as
 *    the spoof window's, below): a key that went stale stops living even
 *    if it is replaced only later, and a retired key the server still
 *    accepts for srk_lifetime (rx_prev) lives on for that time;
 *  - spoof window: after every step, each end's receive keys are inspected
 *    (rx and rx_prev: live, not stale, not past reject_after_bytes, age
 *    before the receive-side expiry the engine applies).  For every key an
 *    end accepts, the quiet time since the later of its installation and
 *    the last legitimate message on the link (either direction) is a
 *    window, closed by the next legitimate message or by the key no longer
 *    being accepted.  The longest such window of the replay is the figure:
 *    how long an attacker holding that key could have injected data while
 *    no real data was flowing, and the receiver would have taken it.
 *
 * Invariants:
 *  - Time never goes backwards and every engine deadline at or before the
 *    next trace message is fired before that message is sent.
 *  - Every trace message is delivered, or the replay fails (SIM_ERR_LOST):
 *    a policy may delay data, never drop it.
 *  - A connection that closes fails the replay (SIM_ERR_CLOSED): no policy
 *    here should ever close an honest link.
 */
#include "run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "conn.h"
#include "server.h"

/* A receive key an end accepts, and the quiet time running against it. */
typedef struct key_watch {
	bool active;
	uint32_t epoch;
	uint64_t quiet_since_ms; /* absolute virtual time */
	uint64_t expire_ms;      /* the engine refuses data under it from here */
} key_watch;

#define WATCHES_PER_SIDE 2 /* rx and rx_prev */

struct run;

typedef struct side {
	struct run *run;
	lull_conn *conn;
	bool is_server;
	bool rx_since_tx; /* keepalive rule: received a message, sent nothing since */
	uint64_t last_rx_ms;
	key_watch watch[WATCHES_PER_SIDE];
} side;

typedef struct run {
	const sim_policy *pol;
	lull_config cfg;
	lull_keypair client_key, server_key;
	uint8_t psk[LULL_KEY_BYTES];
	lull_server *srv;
	side client, server;
	uint64_t now;
	uint64_t last_data_ms; /* last legitimate message on the link */
	uint64_t sent, delivered;
	const uint8_t *zeros;
	sim_result *res;
	bool failed;
	sim_err fail_err;
	char *err_buf;
	size_t err_len;
} run;

static void run_fail(run *r, sim_err err, const char *fmt, ...)
{
	if (r->failed)
		return; /* the first failure is the one worth reading */
	r->failed = true;
	r->fail_err = err;
	if (r->err_buf && r->err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err_buf, r->err_len, fmt, ap);
		va_end(ap);
	}
}

static uint64_t rel_ms(uint64_t abs_ms)
{
	return abs_ms - SIM_CLOCK_ORIGIN_MS;
}

static bool grow(void **items, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 64;
	void *grown = realloc(*items, c * size);
	if (!grown)
		return false;
	*items = grown;
	*cap = c;
	return true;
}

/* ---- The spoof window ----------------------------------------------------- */

static void window_close(run *r, side *s, key_watch *w, uint64_t end_ms)
{
	if (end_ms > w->expire_ms)
		end_ms = w->expire_ms;
	/* Epochs count from 1, one per client HANDSHAKE_DONE, in order. */
	if (w->epoch >= 1 && w->epoch <= r->res->n_epochs) {
		sim_epoch *e = &r->res->epochs[w->epoch - 1];
		if (rel_ms(end_ms) > e->accept_end_ms)
			e->accept_end_ms = rel_ms(end_ms);
	}
	if (end_ms > w->quiet_since_ms && end_ms - w->quiet_since_ms > r->res->spoof_window_ms) {
		r->res->spoof_window_ms = end_ms - w->quiet_since_ms;
		r->res->spoof_window_start_ms = rel_ms(w->quiet_since_ms);
		r->res->spoof_window_at_server = s->is_server;
		r->res->spoof_window_epoch = w->epoch;
	}
}

/* Legitimate data at now: every window running closes and restarts. */
static void window_data(run *r)
{
	side *sides[2] = {&r->client, &r->server};
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < WATCHES_PER_SIDE; k++) {
			key_watch *w = &sides[i]->watch[k];
			if (!w->active)
				continue;
			window_close(r, sides[i], w, r->now);
			w->quiet_since_ms = r->now;
		}
	r->last_data_ms = r->now;
}

typedef struct accepted_key {
	uint32_t epoch;
	uint64_t expire_ms;
} accepted_key;

/* The keys under which s would take a data record at now: the same tests,
 * in the same terms, as on_data and policy_on_received apply. */
static size_t keys_accepted(const run *r, const side *s, accepted_key out[WATCHES_PER_SIDE])
{
	const lull_conn *c = s->conn;
	size_t n = 0;
	if (conn_is_closed(c) || c->pol.rx_stale || !c->pol.keyed ||
	    c->pol.rx_bytes >= config_reject_after_bytes(&c->agreed))
		return 0;
	uint64_t expire = c->pol.key_installed_ms + config_reject_after_age_ms(&c->agreed) +
	                  c->agreed.srk_lifetime_ms;
	if (r->now >= expire)
		return 0;
	if (c->rx.live)
		out[n++] = (accepted_key){c->rx.epoch, expire};
	if (c->rx_prev.live && !c->pol.rx_prev_stale && r->now < c->rx_prev_deadline_ms)
		out[n++] = (accepted_key){c->rx_prev.epoch, c->rx_prev_deadline_ms < expire
		                                                    ? c->rx_prev_deadline_ms
		                                                    : expire};
	return n;
}

static void observe_side(run *r, side *s)
{
	accepted_key acc[WATCHES_PER_SIDE];
	size_t n = keys_accepted(r, s, acc);
	/* Windows of keys no longer accepted end now (or at their expiry). */
	for (int k = 0; k < WATCHES_PER_SIDE; k++) {
		key_watch *w = &s->watch[k];
		if (!w->active)
			continue;
		bool still = false;
		for (size_t i = 0; i < n; i++)
			if (acc[i].epoch == w->epoch) {
				still = true;
				w->expire_ms = acc[i].expire_ms;
			}
		if (!still) {
			window_close(r, s, w, r->now);
			w->active = false;
		}
	}
	/* Keys newly accepted start a window. */
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (int k = 0; k < WATCHES_PER_SIDE; k++)
			known |= s->watch[k].active && s->watch[k].epoch == acc[i].epoch;
		if (known)
			continue;
		for (int k = 0; k < WATCHES_PER_SIDE; k++) {
			key_watch *w = &s->watch[k];
			if (w->active)
				continue;
			uint64_t since = s->conn->pol.key_installed_ms;
			if (r->last_data_ms > since)
				since = r->last_data_ms;
			*w = (key_watch){.active = true,
			                 .epoch = acc[i].epoch,
			                 .quiet_since_ms = since,
			                 .expire_ms = acc[i].expire_ms};
			break;
		}
	}
}

static void observe(run *r)
{
	observe_side(r, &r->client);
	observe_side(r, &r->server);
}

/* ---- Engine callbacks --------------------------------------------------- */

static void epoch_close(run *r, uint64_t end_abs_ms)
{
	sim_result *res = r->res;
	if (res->n_epochs == 0)
		return;
	res->epochs[res->n_epochs - 1].end_ms = rel_ms(end_abs_ms);
}

static void on_event(void *user, const lull_event *ev)
{
	side *s = user;
	run *r = s->run;
	sim_result *res = r->res;
	switch (ev->type) {
	case LULL_EV_HANDSHAKE_DONE:
		if (s->is_server)
			break;
		res->handshakes++;
		if ((unsigned)ev->rekey_reason < SIM_REKEY_REASONS)
			res->handshakes_by_reason[ev->rekey_reason]++;
		epoch_close(r, ev->now_ms);
		if (!grow((void **)&res->epochs, &res->cap_epochs, res->n_epochs,
		          sizeof(*res->epochs))) {
			run_fail(r, SIM_ERR_NOMEM, "out of memory for the epoch timeline");
			break;
		}
		res->epochs[res->n_epochs++] = (sim_epoch){.epoch = ev->epoch,
		                                           .reason = ev->rekey_reason,
		                                           .start_ms = rel_ms(ev->now_ms),
		                                           .accept_end_ms = rel_ms(ev->now_ms),
		                                           .end_ms = UINT64_MAX};
		break;
	case LULL_EV_HEARTBEAT_SENT:
		res->heartbeats++;
		if (!grow((void **)&res->heartbeat_ms, &res->cap_heartbeats, res->n_heartbeats,
		          sizeof(*res->heartbeat_ms))) {
			run_fail(r, SIM_ERR_NOMEM, "out of memory for the heartbeat timeline");
			break;
		}
		res->heartbeat_ms[res->n_heartbeats++] = rel_ms(ev->now_ms);
		break;
	case LULL_EV_SPOOF_REJECTED:
		res->spoofs_rejected++;
		break;
	case LULL_EV_CLOSED:
		run_fail(r, SIM_ERR_CLOSED, "%s closed at t=%llu ms: %s (%s)",
		         s->is_server ? "server" : "client", (unsigned long long)rel_ms(ev->now_ms),
		         lull_close_reason_name(ev->close_reason), lull_err_name(ev->err));
		break;
	default:
		break;
	}
}

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	(void)msg;
	side *s = user;
	run *r = s->run;
	r->delivered++;
	if (len == 0) {
		r->res->keepalives++;
	} else {
		r->res->messages++;
		r->res->app_bytes += len;
		s->rx_since_tx = true;
		s->last_rx_ms = r->now;
	}
	/* The receiver counts both directions under its current key. */
	if (s->conn->pol.bytes > r->res->max_key_bytes)
		r->res->max_key_bytes = s->conn->pol.bytes;
	window_data(r);
}

static void on_server_event(void *user, const lull_event *ev)
{
	(void)user;
	(void)ev; /* SRK created/erased: not a figure of any policy */
}

/* ---- The pair ----------------------------------------------------------- */

static sim_err run_init(run *r, const sim_policy *pol, sim_result *res, const uint8_t *zeros,
                        char *err_buf, size_t err_len)
{
	memset(r, 0, sizeof(*r));
	r->pol = pol;
	r->res = res;
	r->zeros = zeros;
	r->err_buf = err_buf;
	r->err_len = err_len;
	r->now = SIM_CLOCK_ORIGIN_MS;
	r->last_data_ms = r->now;
	r->client = (side){.run = r, .is_server = false};
	r->server = (side){.run = r, .is_server = true};
	pol->configure(&r->cfg);
	const char *bad = NULL;
	lull_err lerr = lull_config_validate(&r->cfg, &bad);
	if (lerr != LULL_OK) {
		run_fail(r, SIM_ERR_ENGINE, "policy %s: config refused at %s", pol->name,
		         bad ? bad : "?");
		return r->fail_err;
	}
	memset(r->psk, 0x5a, sizeof(r->psk));
	lull_callbacks ccb = {on_message, on_event, &r->client};
	lull_callbacks scb = {on_message, on_event, &r->server};
	lerr = lull_keypair_generate(&r->client_key);
	if (lerr == LULL_OK)
		lerr = lull_keypair_generate(&r->server_key);
	if (lerr == LULL_OK)
		lerr = lull_server_new(&r->srv, &r->cfg, &r->server_key, on_server_event, r);
	if (lerr == LULL_OK)
		lerr = lull_server_authorize(r->srv, r->client_key.pub, "sim-client", r->psk);
	if (lerr == LULL_OK)
		lerr = lull_conn_new_client(&r->client.conn, &r->cfg, &r->client_key,
		                            r->server_key.pub, r->psk, &ccb);
	if (lerr == LULL_OK)
		lerr = lull_conn_new_server(&r->server.conn, r->srv, &scb);
	if (lerr != LULL_OK) {
		run_fail(r, SIM_ERR_ENGINE, "setting up the pair: %s", lull_err_name(lerr));
		return r->fail_err;
	}
	return SIM_OK;
}

static void run_free(run *r)
{
	lull_conn_free(r->client.conn);
	lull_conn_free(r->server.conn);
	lull_server_free(r->srv);
	lull_wipe(&r->client_key, sizeof(r->client_key));
	lull_wipe(&r->server_key, sizeof(r->server_key));
}

/* Move every byte each end wants to write to the other, until quiet.  The
 * bytes are handed over in place: receiving never touches the sender's
 * buffer (our callbacks do not send), so no copy is needed. */
static void pump(run *r)
{
	side *sides[2] = {&r->client, &r->server};
	for (int round = 0; round < SIM_PUMP_MAX_ROUNDS; round++) {
		bool moved = false;
		for (int i = 0; i < 2; i++) {
			side *from = sides[i], *to = sides[1 - i];
			const uint8_t *bytes;
			size_t n = lull_conn_output(from->conn, &bytes);
			if (n == 0)
				continue;
			if (lull_conn_is_open(to->conn))
				(void)lull_conn_receive(to->conn, r->now, bytes, n);
			lull_conn_output_consume(from->conn, n);
			moved = true;
		}
		if (!moved) {
			observe(r);
			return;
		}
	}
	run_fail(r, SIM_ERR_ENGINE, "the engines never went quiet at t=%llu ms",
	         (unsigned long long)rel_ms(r->now));
}

static uint64_t keepalive_due(const run *r, const side *s)
{
	if (!r->pol->keepalive_ms || !s->rx_since_tx)
		return UINT64_MAX;
	return s->last_rx_ms + r->pol->keepalive_ms;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t next_deadline(const run *r)
{
	uint64_t d = min_u64(lull_conn_next_deadline(r->client.conn),
	                     lull_conn_next_deadline(r->server.conn));
	d = min_u64(d, srk_pool_next_deadline(&r->srv->pool));
	d = min_u64(d, keepalive_due(r, &r->client));
	return min_u64(d, keepalive_due(r, &r->server));
}

/* One message from s: the policy's application rule first, then the send. */
static void side_send(run *r, side *s, uint32_t len)
{
	lull_conn *c = s->conn;
	uint64_t after = r->pol->rekey_before_send_after_ms;
	if (after && c->epoch > 0 && !conn_hs_running(c) &&
	    r->now - c->pol.key_installed_ms >= after) {
		lull_err err = lull_conn_rekey(c, r->now);
		if (err != LULL_OK) {
			run_fail(r, SIM_ERR_ENGINE, "lull_conn_rekey: %s", lull_err_name(err));
			return;
		}
	}
	lull_err err = lull_conn_send(c, r->now, len ? r->zeros : NULL, len);
	if (err == LULL_ERR_WOULD_BLOCK) {
		pump(r);
		err = lull_conn_send(c, r->now, len ? r->zeros : NULL, len);
	}
	if (err != LULL_OK) {
		run_fail(r, SIM_ERR_ENGINE, "lull_conn_send of %u bytes at t=%llu ms: %s", len,
		         (unsigned long long)rel_ms(r->now), lull_err_name(err));
		return;
	}
	r->sent++;
	s->rx_since_tx = false;
	pump(r);
}

/* Advance the virtual clock to target, firing every deadline on the way. */
static void advance_to(run *r, uint64_t target)
{
	unsigned stuck = 0;
	while (!r->failed) {
		pump(r);
		uint64_t d = next_deadline(r);
		if (d > target)
			break;
		/* A deadline that ticking does not move is an engine bug. */
		if (d <= r->now && ++stuck > SIM_STUCK_TICKS_MAX) {
			run_fail(r, SIM_ERR_ENGINE, "deadline %llu ms never consumed",
			         (unsigned long long)rel_ms(d));
			return;
		}
		if (d > r->now) {
			r->now = d;
			stuck = 0;
		}
		if (lull_conn_is_open(r->client.conn))
			(void)lull_conn_tick(r->client.conn, r->now);
		if (lull_conn_is_open(r->server.conn))
			(void)lull_conn_tick(r->server.conn, r->now);
		lull_server_tick(r->srv, r->now);
		side *sides[2] = {&r->client, &r->server};
		for (int i = 0; i < 2 && !r->failed; i++)
			if (keepalive_due(r, sides[i]) <= r->now) {
				pump(r);
				side_send(r, sides[i], 0);
			}
	}
	if (!r->failed) {
		r->now = target;
		pump(r);
	}
}

static sim_err run_connect(run *r)
{
	lull_err err = lull_conn_start(r->server.conn, r->now);
	if (err == LULL_OK)
		err = lull_conn_start(r->client.conn, r->now);
	if (err != LULL_OK) {
		run_fail(r, SIM_ERR_ENGINE, "lull_conn_start: %s", lull_err_name(err));
		return r->fail_err;
	}
	pump(r);
	if (!r->failed &&
	    (!lull_conn_is_ready(r->client.conn) || !lull_conn_is_ready(r->server.conn)))
		run_fail(r, SIM_ERR_ENGINE, "the first handshake did not complete");
	return r->failed ? r->fail_err : SIM_OK;
}

/* One zero buffer for every payload, allocated on first use. */
static const uint8_t *zero_payload(void)
{
	static uint8_t *zeros;
	if (!zeros)
		zeros = calloc(1, SIM_TRACE_MAX_MESSAGE_BYTES);
	return zeros;
}

/* Set up the pair and replay tr's messages up to and including until_ms
 * (absolute), firing every deadline up to until_ms. */
static sim_err replay(run *r, const sim_trace *tr, const sim_policy *pol, sim_result *res,
                      uint64_t until_ms, char *err_buf, size_t err_len)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->trace, sizeof(res->trace), "%s", tr->name);
	res->policy = pol->name;
	res->duration_ms = tr->duration_ms;
	const uint8_t *zeros = zero_payload();
	memset(r, 0, sizeof(*r));
	if (!zeros) {
		snprintf(err_buf, err_len, "out of memory for the payload buffer");
		return SIM_ERR_NOMEM;
	}
	sim_err err = run_init(r, pol, res, zeros, err_buf, err_len);
	if (err == SIM_OK)
		err = run_connect(r);
	for (size_t i = 0; i < tr->n && !r->failed; i++) {
		uint64_t t = SIM_CLOCK_ORIGIN_MS + tr->msgs[i].t_ms;
		if (t > until_ms)
			break;
		advance_to(r, t);
		if (!r->failed)
			side_send(r, tr->msgs[i].dir == SIM_C2S ? &r->client : &r->server,
			          tr->msgs[i].bytes);
	}
	if (!r->failed)
		advance_to(r, until_ms);
	return r->failed ? r->fail_err : SIM_OK;
}

sim_err sim_run(const sim_trace *tr, const sim_policy *pol, sim_result *res, char *err_buf,
                size_t err_len)
{
	run r;
	replay(&r, tr, pol, res, SIM_CLOCK_ORIGIN_MS + tr->duration_ms, err_buf, err_len);
	if (!r.failed) {
		/* The replay ends: every window still open ends with it. */
		side *sides[2] = {&r.client, &r.server};
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < WATCHES_PER_SIDE; k++)
				if (sides[i]->watch[k].active)
					window_close(&r, sides[i], &sides[i]->watch[k], r.now);
		epoch_close(&r, r.now);
		for (size_t i = 0; i < res->n_epochs; i++) {
			const sim_epoch *e = &res->epochs[i];
			if (e->accept_end_ms - e->start_ms > res->max_key_life_ms)
				res->max_key_life_ms = e->accept_end_ms - e->start_ms;
		}
		if (r.delivered != r.sent)
			run_fail(&r, SIM_ERR_LOST, "%llu messages sent, %llu delivered",
			         (unsigned long long)r.sent, (unsigned long long)r.delivered);
		else if (res->messages != tr->n)
			run_fail(&r, SIM_ERR_LOST, "%zu trace messages, %llu delivered", tr->n,
			         (unsigned long long)res->messages);
	}
	sim_err err = r.failed ? r.fail_err : SIM_OK;
	run_free(&r);
	return err;
}

/* ---- An attacker, to check the spoof window against the engine ---------- */

sim_err sim_probe_spoof(const sim_trace *tr, const sim_policy *pol, uint64_t at_ms, bool to_server,
                        uint32_t epoch, bool *accepted, char *err_buf, size_t err_len)
{
	*accepted = false;
	sim_result res;
	run r;
	sim_err err = replay(&r, tr, pol, &res, SIM_CLOCK_ORIGIN_MS + at_ms, err_buf, err_len);
	lull_conn *c = to_server ? r.server.conn : r.client.conn;
	/* The attacker broke the key: the receiver's own copy of it, with the
	 * next sequence number it expects, is exactly what they would hold. */
	const record_key *k = NULL;
	if (err == SIM_OK && c->rx.live && c->rx.epoch == epoch)
		k = &c->rx;
	else if (err == SIM_OK && c->rx_prev.live && c->rx_prev.epoch == epoch)
		k = &c->rx_prev;
	if (k) {
		record_key forged;
		crypto_aead_alg alg = c->cfg.suite == LULL_SUITE_CHACHAPOLY_BLAKE2B
		                              ? CRYPTO_AEAD_CHACHAPOLY
		                              : CRYPTO_AEAD_AESGCM;
		uint8_t frame[WIRE_RECORD_OVERHEAD_BYTES + 1];
		const uint8_t payload[1] = {0x66};
		lull_err lerr = record_key_init(&forged, alg, k->key, k->epoch);
		if (lerr == LULL_OK) {
			forged.seq = k->seq;
			lerr = record_seal(&forged, WIRE_DATA, 0, payload, sizeof(payload), frame);
			record_key_destroy(&forged);
		}
		if (lerr != LULL_OK) {
			snprintf(err_buf, err_len, "forging a record: %s", lull_err_name(lerr));
			err = SIM_ERR_ENGINE;
		} else {
			uint64_t before = r.delivered;
			(void)lull_conn_receive(c, r.now, frame, sizeof(frame));
			*accepted = r.delivered == before + 1 && lull_conn_is_open(c);
		}
	}
	run_free(&r);
	sim_result_free(&res);
	return err;
}

void sim_result_free(sim_result *res)
{
	free(res->epochs);
	free(res->heartbeat_ms);
	res->epochs = NULL;
	res->heartbeat_ms = NULL;
	res->n_epochs = res->cap_epochs = res->n_heartbeats = res->cap_heartbeats = 0;
}

/* ---- Handshake cost ------------------------------------------------------ */

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

sim_err sim_measure_handshake_ns(uint64_t *ns, char *err_buf, size_t err_len)
{
	sim_result scratch;
	memset(&scratch, 0, sizeof(scratch));
	const uint8_t *zeros = zero_payload();
	run r;
	memset(&r, 0, sizeof(r));
	sim_err err = zeros ? SIM_OK : SIM_ERR_NOMEM;
	if (err == SIM_OK)
		err = run_init(&r, sim_policy_find("lull"), &scratch, zeros, err_buf, err_len);
	if (err == SIM_OK)
		err = run_connect(&r);
	uint64_t best = UINT64_MAX;
	for (int b = 0; b < SIM_HS_MEASURE_BATCHES && err == SIM_OK; b++) {
		uint64_t spent = 0;
		for (int i = 0; i < SIM_HS_MEASURE_PER_BATCH && !r.failed; i++) {
			/* A second apart: the SRK pool sees a realistic interval mix. */
			advance_to(&r, r.now + SIM_MS_PER_S);
			uint32_t epoch = lull_conn_epoch(r.client.conn);
			uint64_t t0 = cpu_ns();
			lull_err lerr = lull_conn_rekey(r.client.conn, r.now);
			pump(&r);
			spent += cpu_ns() - t0;
			if (lerr != LULL_OK || lull_conn_epoch(r.client.conn) != epoch + 1)
				run_fail(&r, SIM_ERR_ENGINE, "measuring: a rekey did not complete");
		}
		uint64_t per = spent / SIM_HS_MEASURE_PER_BATCH;
		if (per < best)
			best = per;
		err = r.failed ? r.fail_err : SIM_OK;
	}
	run_free(&r);
	sim_result_free(&scratch);
	*ns = best;
	return err;
}
