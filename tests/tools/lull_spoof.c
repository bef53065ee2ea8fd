/*
 * lull_spoof.c - plays the attacker of design brief A8 against a real lull
 * server: a client that authenticates, carries one message, waits for the
 * link to go idle (heartbeat sent and acked, so the key is stale at both
 * ends), then injects a DATA record correctly sealed under that stale key,
 * exactly as someone who had broken the key would.  The server must report
 * spoof_rejected and close with reason "spoof".  Whatever the target sends
 * back is counted, never required (a sink target sends nothing).
 *
 *   lull-spoof --server HOST:PORT --key FILE --server-pub KEY [--psk FILE]
 *              [--timeout-ms N]
 *
 * Exit 0 when the server rejected the spoof (closed with reason spoof),
 * 1 when it did anything else, 2 on a usage or setup error.  It reads the
 * engine's internals (the stale send key) on purpose: that is the stolen
 * key.  Blocking I/O and the monotonic clock belong to this tool, never to
 * the engine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/keyfile.h"
#include "support/parse.h"
#include "conn.h"
#include "record.h"
#include "stream.h"

#define SPOOF_DEFAULT_TIMEOUT_MS 120000u
#define SPOOF_HOST_MAX           256
#define SPOOF_ERR_MAX            512

typedef struct spoof_state {
	int fd;
	lull_conn *conn;
	bool handshake_done, acked, closed, closed_spoof;
	unsigned messages;
} spoof_state;

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_event(void *user, const lull_event *ev)
{
	spoof_state *st = user;
	printf("lull-spoof: event=%s epoch=%u", lull_event_name(ev->type), ev->epoch);
	if (ev->type == LULL_EV_CLOSED)
		printf(" reason=%s by_peer=%d", lull_close_reason_name(ev->close_reason),
		       ev->by_peer);
	printf("\n");
	if (ev->type == LULL_EV_HANDSHAKE_DONE)
		st->handshake_done = true;
	if (ev->type == LULL_EV_HEARTBEAT_ACKED)
		st->acked = true;
	if (ev->type == LULL_EV_CLOSED) {
		st->closed = true;
		st->closed_spoof = ev->by_peer && ev->close_reason == LULL_CLOSE_SPOOF;
	}
}

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	(void)msg;
	spoof_state *st = user;
	st->messages++;
	printf("lull-spoof: received %zu bytes back\n", len);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int flush_output(spoof_state *st)
{
	const uint8_t *out;
	size_t n;
	while ((n = lull_conn_output(st->conn, &out)) > 0) {
		if (write_all(st->fd, out, n) != 0)
			return -1;
		lull_conn_output_consume(st->conn, n);
	}
	return 0;
}

/* Run the engine until done() or the deadline; -1 when the socket ends. */
static int run_until(spoof_state *st, bool (*done)(const spoof_state *), uint64_t until_ms)
{
	uint8_t buf[WIRE_FRAME_MAX_BYTES];
	while (!done(st) && !st->closed) {
		uint64_t now = monotonic_ms();
		if (now >= until_ms)
			return -1;
		lull_conn_tick(st->conn, now);
		if (flush_output(st) != 0)
			return -1;
		uint64_t next = lull_conn_next_deadline(st->conn);
		uint64_t wait = (next < until_ms ? next : until_ms) - now;
		if (next <= now)
			wait = 0;
		struct pollfd pfd = {.fd = st->fd, .events = POLLIN};
		int r = poll(&pfd, 1, wait > 1000 ? 1000 : (int)wait);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0) {
			ssize_t got = read(st->fd, buf, sizeof(buf));
			if (got <= 0)
				return -1;
			lull_conn_receive(st->conn, monotonic_ms(), buf, (size_t)got);
			if (flush_output(st) != 0)
				return -1;
		}
	}
	return 0;
}

static bool is_ready(const spoof_state *st)
{
	return st->handshake_done;
}

static bool is_stale(const spoof_state *st)
{
	return st->acked;
}

static bool is_closed(const spoof_state *st)
{
	return st->closed;
}

static int connect_to(const char *host, uint16_t port)
{
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: lull-spoof --server HOST:PORT --key FILE --server-pub KEY "
	                "[--psk FILE] [--timeout-ms N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *server = NULL, *key_path = NULL, *server_pub_arg = NULL, *psk_path = NULL;
	uint64_t timeout_ms = SPOOF_DEFAULT_TIMEOUT_MS;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--server") == 0)
			server = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key_path = argv[i + 1];
		else if (strcmp(argv[i], "--server-pub") == 0)
			server_pub_arg = argv[i + 1];
		else if (strcmp(argv[i], "--psk") == 0)
			psk_path = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0) {
			if (parse_count(argv[i + 1], 3600000, &timeout_ms) != NULL)
				return usage();
		} else {
			return usage();
		}
	}
	if (argc % 2 == 0 || !server || !key_path || !server_pub_arg)
		return usage();

	char host[SPOOF_HOST_MAX], err[SPOOF_ERR_MAX];
	uint16_t port = 0;
	const char *why = parse_host_port(server, host, sizeof(host), &port, 0);
	if (why) {
		fprintf(stderr, "lull-spoof: --server %s: %s\n", server, why);
		return 2;
	}
	lull_keypair kp;
	uint8_t priv[LULL_KEY_BYTES], server_pub[LULL_KEY_BYTES], psk[LULL_KEY_BYTES];
	if (!key_file_read(key_path, true, priv, err, sizeof(err)) ||
	    !key_arg_read(server_pub_arg, server_pub, err, sizeof(err)) ||
	    (psk_path && !key_file_read(psk_path, true, psk, err, sizeof(err)))) {
		fprintf(stderr, "lull-spoof: %s\n", err);
		return 2;
	}
	lull_err e = lull_keypair_from_private(&kp, priv);
	lull_wipe(priv, sizeof(priv));
	if (e != LULL_OK) {
		fprintf(stderr, "lull-spoof: key: %s\n", lull_strerror(e));
		return 2;
	}

	spoof_state st = {.fd = connect_to(host, port)};
	if (st.fd < 0) {
		fprintf(stderr, "lull-spoof: cannot connect to %s\n", server);
		return 2;
	}
	lull_config cfg;
	lull_config_default(&cfg); /* the server's stricter policy is adopted */
	lull_callbacks cb = {on_message, on_event, &st};
	e = lull_conn_new_client(&st.conn, &cfg, &kp, server_pub, psk_path ? psk : NULL, &cb);
	lull_wipe(&kp, sizeof(kp));
	lull_wipe(psk, sizeof(psk));
	if (e == LULL_OK)
		e = lull_conn_start(st.conn, monotonic_ms());
	if (e != LULL_OK) {
		fprintf(stderr, "lull-spoof: %s\n", lull_strerror(e));
		return 2;
	}
	uint64_t until = monotonic_ms() + timeout_ms;
	static const char hello[] = "hello from lull-spoof\n";
	int rc = 1;
	if (run_until(&st, is_ready, until) != 0 || !st.handshake_done) {
		fprintf(stderr, "lull-spoof: handshake did not complete\n");
		goto out;
	}
	/* The server speaks streams (docs/protocol.md §10): open stream 1 and
	 * carry the message on it, as a lull client daemon would. */
	uint8_t msg[LULL_STREAM_HEADER_BYTES + sizeof(hello)];
	stream_frame f = {.type = LULL_STREAM_OPEN, .id = 1};
	size_t h = stream_frame_write_header(&f, msg);
	lull_conn_send(st.conn, monotonic_ms(), msg, h);
	f.type = LULL_STREAM_DATA;
	h = stream_frame_write_header(&f, msg);
	memcpy(msg + h, hello, sizeof(hello) - 1);
	lull_conn_send(st.conn, monotonic_ms(), msg, h + sizeof(hello) - 1);
	if (run_until(&st, is_stale, until) != 0) {
		fprintf(stderr, "lull-spoof: the link did not go idle (no heartbeat ack)\n");
		goto out;
	}

	/* The stolen key: the client's own send key, stale since its heartbeat. */
	static const char evil_text[] = "injected under a stale key\n";
	uint8_t evil[LULL_STREAM_HEADER_BYTES + sizeof(evil_text)];
	f.type = LULL_STREAM_DATA;
	h = stream_frame_write_header(&f, evil);
	memcpy(evil + h, evil_text, sizeof(evil_text));
	uint8_t frame[WIRE_RECORD_OVERHEAD_BYTES + sizeof(evil)];
	e = record_seal(&st.conn->tx, WIRE_DATA, 0, evil, sizeof(evil) - 1, frame);
	if (e != LULL_OK ||
	    write_all(st.fd, frame, WIRE_RECORD_OVERHEAD_BYTES + sizeof(evil) - 1)) {
		fprintf(stderr, "lull-spoof: could not inject\n");
		goto out;
	}
	printf("lull-spoof: injected %zu bytes sealed under stale epoch %u\n",
	       WIRE_RECORD_OVERHEAD_BYTES + sizeof(evil) - 1, st.conn->tx.epoch);
	fflush(stdout);
	if (run_until(&st, is_closed, until) != 0 && !st.closed)
		fprintf(stderr, "lull-spoof: the server did not close the connection\n");
	if (st.closed_spoof) {
		printf("lull-spoof: server rejected the spoof and closed (reason spoof)\n");
		rc = 0;
	} else {
		fprintf(stderr, "lull-spoof: the server did not report the spoof\n");
	}
out:
	fflush(stdout);
	lull_conn_free(st.conn);
	close(st.fd);
	return rc;
}
