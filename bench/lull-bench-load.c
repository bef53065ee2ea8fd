/*
 * lull-bench-load - many lull client connections from one process, on the
 * engine (liblull) and one libuv loop, for the scale benchmarks.
 *
 *   lull-bench-load --mode storm|idle --server ADDR:PORT [--server ...]
 *                   --key FILE --server-pub FILE --conns N
 *                   [--sources K] [--source-base B] [--inflight C]
 *                   [--heartbeat-interval MS] [--heartbeat-timeout MS]
 *                   [--watch-pid PID ...] [--ready-file F] [--hold S]
 *                   [--use-once] [--timeout S]
 *
 * Connection i goes to server i mod (number of --server) from source
 * address 127.0.0.(B + i mod K) (bind before connect: one source address
 * has only ~28,000 ephemeral ports).  At most C handshakes are in flight,
 * so the servers' listen backlogs never overflow.  Behind each lull server
 * is lull-bench-target: a stream starting with 'E' is echoed.  Each
 * connection is a link carrying one stream (lull_stream.h), as the lull
 * client daemon's would: the server daemon speaks streams on every link.
 *
 * storm  1. open N connections (first handshake each), 2. every connection
 *        sends one 64-byte message and waits for its echo, 3. wait until
 *        every connection has gone idle and had a heartbeat acknowledged
 *        (so its key is stale for the server too), 4. at one instant every
 *        connection sends 64 bytes: each must first complete a full
 *        handshake (rekey reason idle, A2), then its data flows; done when
 *        every echo is back.  Prints the storm's wall time and the CPU
 *        seconds the --watch-pid processes (the servers) used during it.
 * idle   open N connections, write --ready-file, then hold them idle (the
 *        engine sends heartbeats) for --hold seconds or until SIGTERM;
 *        prints how many heartbeats were acknowledged and how many
 *        connections were lost (the script measures the servers).
 *        --use-once: before holding, every link carries one stream (one
 *        echoed message), closed by both ends, so what is held is a link
 *        that has been used and is idle (bench/idle_links.sh).
 *
 * Exit status 0 only if no connection failed.  Everything is bounded by
 * --timeout (default 300 s).  Output: key=value lines on stdout.
 */
#include <signal.h>
#include <stdbool.h>

#include <openssl/evp.h>
#include <uv.h>

#include "bench_common.h"
#include "lull_stream.h"
#include "lull.h"

#define MAX_SERVERS 64
#define MAX_PIDS    64
#define MSG_BYTES   64

typedef struct lconn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t creq;
	lull_conn *lc;
	lull_mux *mux;
	uint32_t sid; /* the one stream, once opened */
	bool s_open;
	unsigned idx;
	bool opened;    /* counted in n_pending until ready or failed */
	bool up;        /* TCP connected */
	bool ready;     /* first handshake done */
	bool failed;    /* closed, or never connected */
	bool echo_sent; /* 'E' already sent: later messages are echoed whole */
	bool rekeyed;   /* storm: an idle-triggered handshake completed */
	bool delivered; /* storm: the echo of the storm message is back */
	unsigned hb_acked, hb_sent;
	uint64_t bytes_out; /* handed to the socket, for failure reports */
	size_t want_back;   /* echo bytes still to come */
} lconn;

typedef struct wreq {
	uv_write_t req;
	uint8_t data[];
} wreq;

enum phase { PH_CONNECT, PH_ECHO, PH_UNUSE, PH_WAIT_IDLE, PH_STORM, PH_HOLD, PH_DONE };

static uv_loop_t *loop;
static lconn *conns;
static unsigned n_conns, next_to_open, n_ready, n_failed, inflight_max = 256;
static unsigned n_pending; /* opened, first handshake not yet done, not failed */
static unsigned n_settled; /* ready or failed before it */
static unsigned n_echoed, n_delivered, n_rekeyed_idle, n_rekeyed_other;
static unsigned long hb_acked_total;
static struct sockaddr_in servers[MAX_SERVERS];
static unsigned n_servers, n_sources = 1, source_base = 2;
static long pids[MAX_PIDS];
static unsigned n_pids;
static lull_config cfg;
static lull_keypair key;
static uint8_t server_pub[LULL_KEY_BYTES];
static enum phase phase = PH_CONNECT;
static bool storm_mode;
static bool use_once;     /* idle: one stream per link before holding */
static unsigned n_unused; /* use_once: links whose stream closed normally */
static const char *ready_file;
static double hold_s = 30;
static uint64_t t_start, t_phase, t_storm_ns;
static double cpu_before;
static uv_timer_t phase_timer;
static uv_signal_t sigterm;
static char first_err[256];
static uint8_t readbuf[64 << 10];
static uint64_t last_phase_ns, max_gap_ns; /* longest the loop went without a turn */

static void update(lconn *c);

static double cpu_of_pids(void)
{
	double sum = 0;
	for (unsigned i = 0; i < n_pids; i++) {
		double s = proc_cpu_seconds(pids[i]);
		if (s >= 0)
			sum += s;
	}
	return sum;
}

static void mark_failed(lconn *c, const char *why)
{
	if (c->failed)
		return;
	c->failed = true;
	n_failed++;
	if (!c->ready) {
		n_settled++;
		if (c->opened)
			n_pending--;
	}
	if (!first_err[0])
		snprintf(first_err, sizeof(first_err), "conn=%u %s", c->idx, why);
}

/* ---- Engine callbacks: record only, never call back into the engine ---- */

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	lconn *c = user;
	(void)lull_mux_receive(c->mux, uv_now(loop), msg, len);
}

static void on_stream_event(void *user, const lull_stream_event *ev)
{
	lconn *c = user;
	if (ev->type == LULL_STREAM_EV_CLOSED && ev->reason != LULL_STREAM_NORMAL) {
		mark_failed(c, lull_stream_reason_name(ev->reason));
		return;
	}
	if (ev->type == LULL_STREAM_EV_CLOSED) {
		c->s_open = false;
		if (phase == PH_UNUSE)
			n_unused++;
		return;
	}
	if (ev->type != LULL_STREAM_EV_DATA)
		return;
	size_t len = ev->len;
	(void)lull_mux_consumed(c->mux, uv_now(loop), ev->id, len);
	if (len > c->want_back) {
		mark_failed(c, "echo_too_long");
		return;
	}
	c->want_back -= len;
	if (c->want_back > 0)
		return;
	if (phase == PH_ECHO)
		n_echoed++;
	else if (phase == PH_STORM && !c->delivered) {
		c->delivered = true;
		n_delivered++;
	}
}

static void on_event(void *user, const lull_event *ev)
{
	lconn *c = user;
	switch (ev->type) {
	case LULL_EV_HANDSHAKE_DONE:
		if (!c->ready) {
			c->ready = true;
			n_ready++;
			n_settled++;
			n_pending--;
		} else if (ev->rekey_reason == LULL_REKEY_IDLE) {
			c->rekeyed = true;
			n_rekeyed_idle++;
		} else {
			n_rekeyed_other++;
		}
		break;
	case LULL_EV_HEARTBEAT_SENT:
		c->hb_sent++;
		break;
	case LULL_EV_HEARTBEAT_ACKED:
		c->hb_acked++;
		hb_acked_total++;
		break;
	case LULL_EV_CLOSED: {
		char why[200];
		snprintf(why, sizeof(why),
		         "closed reason=%s err=%s by_peer=%d hb_sent=%u hb_acked=%u bytes_out=%llu "
		         "queued=%zu",
		         lull_close_reason_name(ev->close_reason), lull_err_name(ev->err),
		         (int)ev->by_peer, c->hb_sent, c->hb_acked,
		         (unsigned long long)c->bytes_out,
		         c->up ? uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) : 0);
		mark_failed(c, why);
		lull_mux_link_closed(c->mux);
		break;
	}
	default:
		break;
	}
}

/* ---- Transport ----------------------------------------------------------- */

static void on_closed_handle(uv_handle_t *h)
{
	(void)h;
}

static void conn_abort(lconn *c, const char *why)
{
	mark_failed(c, why);
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed_handle);
	uv_timer_stop(&c->timer);
}

static void on_write(uv_write_t *req, int status)
{
	free(req);
	(void)status; /* a failed write shows up as a read error or a close */
}

static void flush_out(lconn *c)
{
	const uint8_t *bytes;
	size_t n;
	while ((n = lull_conn_output(c->lc, &bytes)) > 0) {
		if (c->failed || !c->up) {
			if (c->failed)
				lull_conn_output_consume(c->lc, n);
			return;
		}
		uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)n);
		int w = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0
		                ? uv_try_write((uv_stream_t *)&c->tcp, &b, 1)
		                : UV_EAGAIN;
		if (w < 0 && w != UV_EAGAIN) {
			conn_abort(c, "write_failed");
			return;
		}
		size_t done = w > 0 ? (size_t)w : 0;
		c->bytes_out += n;
		if (done < n) {
			wreq *r = malloc(sizeof(*r) + n - done);
			if (!r) {
				conn_abort(c, "nomem");
				return;
			}
			memcpy(r->data, bytes + done, n - done);
			uv_buf_t rb = uv_buf_init((char *)r->data, (unsigned)(n - done));
			if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &rb, 1, on_write) != 0) {
				free(r);
				conn_abort(c, "write_failed");
				return;
			}
		}
		lull_conn_output_consume(c->lc, n);
	}
}

static void on_timer(uv_timer_t *t)
{
	lconn *c = t->data;
	if (c->failed)
		return;
	(void)lull_conn_tick(c->lc, uv_now(loop));
	update(c);
}

static void update(lconn *c)
{
	if (c->failed)
		return;
	flush_out(c);
	if (c->failed)
		return;
	(void)lull_mux_flush(c->mux, uv_now(loop)); /* frames that waited for room */
	flush_out(c);
	if (c->failed)
		return;
	uint64_t d = lull_conn_next_deadline(c->lc), now = uv_now(loop);
	if (d == UINT64_MAX)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = (char *)readbuf;
	buf->len = sizeof(readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	lconn *c = s->data;
	if (nread == 0 || c->failed)
		return;
	if (nread < 0) {
		conn_abort(c, nread == UV_EOF ? "eof" : uv_err_name((int)nread));
		return;
	}
	(void)lull_conn_receive(c->lc, uv_now(loop), (const uint8_t *)buf->base, (size_t)nread);
	update(c);
}

static void open_more(void);

static void on_connect(uv_connect_t *req, int status)
{
	lconn *c = req->data;
	if (status != 0) {
		conn_abort(c, uv_err_name(status));
		open_more();
		return;
	}
	c->up = true;
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	update(c);
}

static void open_one(lconn *c)
{
	lull_callbacks cb = {.on_message = on_message, .on_event = on_event, .user = c};
	c->opened = true;
	n_pending++;
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c->timer.data = c->creq.data = c;
	if (lull_conn_new_client(&c->lc, &cfg, &key, server_pub, NULL, &cb) != LULL_OK ||
	    lull_mux_new(&c->mux, c->lc, true, NULL, on_stream_event, c) != LULL_OK ||
	    lull_conn_start(c->lc, uv_now(loop)) != LULL_OK) {
		conn_abort(c, "engine_new");
		return;
	}
	/* Bind the source address but leave the port to connect(), which picks
	 * it per 4-tuple (IP_BIND_ADDRESS_NO_PORT): a bind to port 0 must find
	 * a port free for every destination, a search that grows slow (and
	 * stalls the loop) once tens of thousands of sockets share the range. */
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f000000u | (source_base + c->idx % n_sources));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	int r = fd < 0 ? UV_EMFILE : 0;
	if (r == 0) {
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&src, sizeof(src)) != 0)
			r = -errno;
		else
			r = uv_tcp_open(&c->tcp, fd);
		if (r != 0)
			close(fd);
	}
	if (r == 0)
		r = uv_tcp_connect(&c->creq, &c->tcp,
		                   (const struct sockaddr *)&servers[c->idx % n_servers],
		                   on_connect);
	if (r != 0) {
		conn_abort(c, uv_err_name(r));
		return;
	}
}

/* Keep at most inflight_max connections between connect() and their first
 * handshake; called whenever one of them finishes either way. */
static void open_more(void)
{
	while (next_to_open < n_conns && n_pending < inflight_max)
		open_one(&conns[next_to_open++]);
}

static void send_msg(lconn *c)
{
	uint8_t msg[MSG_BYTES];
	memset(msg, 'm', sizeof(msg));
	size_t back = sizeof(msg);
	if (!c->echo_sent) {
		msg[0] = BENCH_CMD_ECHO; /* the target echoes what follows it */
		back--;
		c->echo_sent = true;
	}
	c->want_back = back;
	lull_err e = LULL_OK;
	if (!c->s_open) {
		e = lull_mux_open(c->mux, uv_now(loop), NULL, &c->sid);
		c->s_open = e == LULL_OK;
	}
	size_t taken = 0;
	if (e == LULL_OK)
		e = lull_mux_write(c->mux, uv_now(loop), c->sid, msg, sizeof(msg), &taken);
	if (e == LULL_OK && taken != sizeof(msg))
		e = LULL_ERR_WOULD_BLOCK;
	if (e != LULL_OK) {
		mark_failed(c, lull_err_name(e));
		return;
	}
	update(c);
}

static void finish(void)
{
	phase = PH_DONE;
	uv_stop(loop);
}

/* ---- Phases, driven by one 20 ms timer ----------------------------------- */

static void write_ready(void)
{
	FILE *f = ready_file ? fopen(ready_file, "w") : NULL;
	if (f) {
		fprintf(f, "ready %u failed %u\n", n_ready, n_failed);
		fclose(f);
	}
}

static void on_phase(uv_timer_t *t)
{
	(void)t;
	uint64_t now = now_ns();
	if (last_phase_ns && now - last_phase_ns > max_gap_ns)
		max_gap_ns = now - last_phase_ns;
	last_phase_ns = now;
	open_more();
	switch (phase) {
	case PH_CONNECT:
		if (n_settled < n_conns)
			return;
		printf("established conns=%u ok=%u failed=%u seconds=%.2f\n", n_conns, n_ready,
		       n_failed, (double)(now - t_start) / 1e9);
		fflush(stdout);
		t_phase = now;
		if (!storm_mode && !use_once) {
			write_ready();
			phase = PH_HOLD;
			return;
		}
		phase = PH_ECHO;
		for (unsigned i = 0; i < n_conns; i++)
			if (!conns[i].failed)
				send_msg(&conns[i]);
		return;
	case PH_ECHO:
		if (n_echoed + n_failed < n_conns)
			return;
		printf("echoed conns=%u seconds=%.2f\n", n_echoed, (double)(now - t_phase) / 1e9);
		fflush(stdout);
		t_phase = now;
		if (!storm_mode) {
			/* Both ends close the stream: FIN from us, the target's
			 * EOF back through the server. */
			phase = PH_UNUSE;
			for (unsigned i = 0; i < n_conns; i++)
				if (!conns[i].failed) {
					if (lull_mux_shutdown(conns[i].mux, uv_now(loop),
					                      conns[i].sid) != LULL_OK)
						mark_failed(&conns[i], "shutdown_failed");
					update(&conns[i]);
				}
			return;
		}
		phase = PH_WAIT_IDLE;
		return;
	case PH_UNUSE:
		if (n_unused + n_failed < n_conns)
			return;
		printf("unused conns=%u seconds=%.2f\n", n_unused, (double)(now - t_phase) / 1e9);
		fflush(stdout);
		t_phase = now;
		write_ready();
		phase = PH_HOLD;
		return;
	case PH_WAIT_IDLE: {
		/* Every connection idle and its heartbeat acknowledged: the key is
		 * stale at both ends, so the next data needs a new key. */
		for (unsigned i = 0; i < n_conns; i++)
			if (!conns[i].failed && conns[i].hb_acked == 0)
				return;
		cpu_before = cpu_of_pids();
		t_storm_ns = now_ns();
		phase = PH_STORM;
		for (unsigned i = 0; i < n_conns; i++)
			if (!conns[i].failed)
				send_msg(&conns[i]);
		return;
	}
	case PH_STORM:
		if (n_delivered + n_failed < n_conns)
			return;
		{
			double cpu = cpu_of_pids() - cpu_before;
			double secs = (double)(now_ns() - t_storm_ns) / 1e9;
			printf("storm conns=%u delivered=%u rekeyed_idle=%u rekeyed_other=%u "
			       "failed=%u seconds=%.3f server_cpu_s=%.3f\n",
			       n_conns, n_delivered, n_rekeyed_idle, n_rekeyed_other, n_failed,
			       secs, cpu);
		}
		finish();
		return;
	case PH_HOLD:
		if ((double)(now - t_phase) / 1e9 >= hold_s)
			finish();
		return;
	case PH_DONE:
		return;
	}
}

static void on_sigterm(uv_signal_t *s, int sig)
{
	(void)s;
	(void)sig;
	if (phase == PH_HOLD)
		finish();
}

/* ---- Set-up ---------------------------------------------------------------- */

static int read_key(const char *path, uint8_t out[LULL_KEY_BYTES])
{
	char line[128];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	size_t len = strcspn(line, "\r\n");
	uint8_t raw[96];
	if (len != 44 || EVP_DecodeBlock(raw, (const unsigned char *)line, (int)len) != 33)
		return -1;
	memcpy(out, raw, LULL_KEY_BYTES);
	lull_wipe(raw, sizeof(raw));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *key_file = NULL, *pub_file = NULL;
	double timeout_s = 300;
	lull_config_default(&cfg);
	for (int i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--use-once") == 0) {
			use_once = true;
			i--; /* a flag: no value */
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "lull-bench-load: '%s' wants a value\n", argv[i]);
			return 2;
		}
		const char *k = argv[i], *v = argv[i + 1];
		unsigned long x = strtoul(v, NULL, 10);
		if (strcmp(k, "--mode") == 0)
			mode = v;
		else if (strcmp(k, "--server") == 0 && n_servers < MAX_SERVERS &&
		         parse_addr(v, &servers[n_servers]) == 0)
			n_servers++;
		else if (strcmp(k, "--key") == 0)
			key_file = v;
		else if (strcmp(k, "--server-pub") == 0)
			pub_file = v;
		else if (strcmp(k, "--conns") == 0)
			n_conns = (unsigned)x;
		else if (strcmp(k, "--sources") == 0 && x >= 1 && x <= 250)
			n_sources = (unsigned)x;
		else if (strcmp(k, "--source-base") == 0 && x >= 1 && x <= 254)
			source_base = (unsigned)x;
		else if (strcmp(k, "--inflight") == 0 && x >= 1)
			inflight_max = (unsigned)x;
		else if (strcmp(k, "--heartbeat-interval") == 0)
			cfg.heartbeat_interval_ms = (uint32_t)x;
		else if (strcmp(k, "--heartbeat-timeout") == 0)
			cfg.heartbeat_timeout_ms = (uint32_t)x;
		else if (strcmp(k, "--watch-pid") == 0 && n_pids < MAX_PIDS)
			pids[n_pids++] = (long)x;
		else if (strcmp(k, "--ready-file") == 0)
			ready_file = v;
		else if (strcmp(k, "--hold") == 0)
			hold_s = strtod(v, NULL);
		else if (strcmp(k, "--timeout") == 0)
			timeout_s = strtod(v, NULL);
		else {
			fprintf(stderr, "lull-bench-load: bad option '%s'\n", k);
			return 2;
		}
	}
	if (source_base + n_sources > 255)
		n_sources = 255 - source_base;
	const char *bad = NULL;
	if (!mode || (strcmp(mode, "storm") != 0 && strcmp(mode, "idle") != 0) || !n_servers ||
	    !key_file || !pub_file || n_conns == 0 || lull_config_validate(&cfg, &bad) != LULL_OK) {
		fprintf(stderr, "usage: see the top of bench/lull-bench-load.c%s%s\n",
		        bad ? "; bad value: " : "", bad ? bad : "");
		return 2;
	}
	storm_mode = strcmp(mode, "storm") == 0;
	uint8_t priv[LULL_KEY_BYTES];
	if (read_key(key_file, priv) != 0 || read_key(pub_file, server_pub) != 0 ||
	    lull_keypair_from_private(&key, priv) != LULL_OK) {
		fprintf(stderr, "lull-bench-load: cannot read --key or --server-pub\n");
		return 1;
	}
	lull_wipe(priv, sizeof(priv));
	conns = calloc(n_conns, sizeof(*conns));
	if (!conns)
		return 1;
	for (unsigned i = 0; i < n_conns; i++)
		conns[i].idx = i;
	signal(SIGPIPE, SIG_IGN);
	loop = uv_default_loop();
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigterm, on_sigterm, SIGTERM);
	uv_timer_init(loop, &phase_timer);
	uv_timer_start(&phase_timer, on_phase, 20, 20);
	t_start = t_phase = now_ns();
	open_more();
	/* Run in slices so the overall bound holds whatever the servers do. */
	while (phase != PH_DONE && (double)(now_ns() - t_start) / 1e9 < timeout_s)
		uv_run(loop, UV_RUN_ONCE);
	if (phase != PH_DONE) {
		printf("timeout phase=%d ready=%u echoed=%u delivered=%u failed=%u\n", (int)phase,
		       n_ready, n_echoed, n_delivered, n_failed);
		n_failed += n_failed == 0; /* a timeout is a failure */
	}
	if (!storm_mode)
		printf("idle conns=%u ok=%u failed=%u heartbeats_acked=%lu held_s=%.1f\n", n_conns,
		       n_ready, n_failed, hb_acked_total, (double)(now_ns() - t_phase) / 1e9);
	printf("loop max_gap_ms=%.0f\n", (double)max_gap_ns / 1e6);
	if (first_err[0])
		printf("first_failure %s\n", first_err);
	fflush(stdout);
	/* The kernel closes every socket; lull_conn objects die with us. */
	return n_failed ? 1 : 0;
}
