/*
 * lull-pair.c - the smallest program that embeds liblull: a client and a
 * server engine in one process, joined by a socketpair, authenticate each
 * other, exchange a message each way, rekey, and close.
 *
 * It shows the calling contract of liblull(3):
 *  - the engine never touches a socket or a clock: this program reads and
 *    writes the sockets and passes the time in (CLOCK_MONOTONIC, in ms,
 *    never going backwards);
 *  - after every call, whatever lull_conn_output() hands back is written
 *    to the transport and lull_conn_output_consume()d;
 *  - messages and events arrive through callbacks during the call that
 *    caused them; the message pointer is valid only during the callback.
 *
 * Build against an installed liblull:
 *   cc lull-pair.c $(pkg-config --cflags --libs liblull) -o lull-pair
 * Exit status 0 when both messages made the round trip.
 */
#include <errno.h>
#include <lull.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 10000 /* give up after this long */

struct side {
	const char *name;
	lull_conn *conn;
	int fd;
	int messages;
	int handshakes;
	char last[64];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_message(void *user, const uint8_t *msg, size_t len)
{
	struct side *s = user;
	/* Copy out: msg lives only as long as this call. */
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, (const char *)msg);
	s->messages++;
	printf("%s: message \"%s\"\n", s->name, s->last);
}

static void on_event(void *user, const lull_event *ev)
{
	struct side *s = user;
	if (ev->type == LULL_EV_HANDSHAKE_DONE)
		s->handshakes++;
	printf("%s: %s", s->name, lull_event_name(ev->type));
	if (ev->type == LULL_EV_HANDSHAKE_DONE)
		printf(" epoch=%u reason=%s", ev->epoch, lull_rekey_reason_name(ev->rekey_reason));
	if (ev->peer_name)
		printf(" peer=%s", ev->peer_name);
	if (ev->err != LULL_OK)
		printf(" err=%s", lull_err_name(ev->err));
	printf("\n");
}

/* Write everything the engine has queued. */
static int flush(struct side *s)
{
	const uint8_t *bytes;
	size_t n;
	while ((n = lull_conn_output(s->conn, &bytes)) > 0) {
		ssize_t w = write(s->fd, bytes, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		lull_conn_output_consume(s->conn, (size_t)w);
	}
	return 0;
}

/* Read what has arrived and feed it to the engine; run due timers. */
static lull_err pump(struct side *s)
{
	uint8_t buf[4096];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	lull_err err = LULL_OK;
	if (n > 0)
		err = lull_conn_receive(s->conn, now_ms(), buf, (size_t)n);
	if (err == LULL_OK && now_ms() >= lull_conn_next_deadline(s->conn))
		err = lull_conn_tick(s->conn, now_ms());
	if (flush(s) != 0 && err == LULL_OK)
		err = LULL_ERR_CLOSED;
	return err;
}

/* Run both ends until done() or the deadline. */
static int run_until(struct side *a, struct side *b, int (*done)(struct side *, struct side *))
{
	uint64_t end = now_ms() + DEADLINE_MS;
	while (!done(a, b)) {
		if (now_ms() > end) {
			fprintf(stderr, "lull-pair: timed out\n");
			return -1;
		}
		struct pollfd p[2] = {{a->fd, POLLIN, 0}, {b->fd, POLLIN, 0}};
		poll(p, 2, 50);
		lull_err ea = pump(a), eb = pump(b);
		if (ea != LULL_OK || eb != LULL_OK) {
			fprintf(stderr, "lull-pair: %s\n", lull_strerror(ea != LULL_OK ? ea : eb));
			return -1;
		}
	}
	return 0;
}

static int both_ready(struct side *a, struct side *b)
{
	return lull_conn_is_ready(a->conn) && lull_conn_is_ready(b->conn);
}

static int both_got_one(struct side *a, struct side *b)
{
	return a->messages >= 1 && b->messages >= 1;
}

static int rekeyed(struct side *a, struct side *b)
{
	return a->handshakes >= 2 && b->handshakes >= 2 && both_ready(a, b);
}

int main(void)
{
	printf("liblull %s (header %s)\n", lull_version(), LULL_VERSION_STRING);
	lull_config cfg;
	lull_config_default(&cfg);
	lull_keypair server_key, client_key;
	uint8_t psk[LULL_KEY_BYTES];
	for (size_t i = 0; i < sizeof(psk); i++)
		psk[i] = (uint8_t)(i * 7 + 1); /* a real program reads it from a 0600 file */
	if (lull_keypair_generate(&server_key) != LULL_OK ||
	    lull_keypair_generate(&client_key) != LULL_OK)
		return 1;

	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) {
		perror("socketpair");
		return 1;
	}
	struct side client = {.name = "client", .fd = fds[0]};
	struct side server = {.name = "server", .fd = fds[1]};
	lull_callbacks ccb = {on_message, on_event, &client};
	lull_callbacks scb = {on_message, on_event, &server};

	lull_server *srv = NULL;
	lull_err err = lull_server_new(&srv, &cfg, &server_key, NULL, NULL);
	if (err == LULL_OK)
		err = lull_server_authorize(srv, client_key.pub, "alice", psk);
	if (err == LULL_OK)
		err = lull_conn_new_server(&server.conn, srv, &scb);
	if (err == LULL_OK)
		err = lull_conn_new_client(&client.conn, &cfg, &client_key, server_key.pub, psk,
		                           &ccb);
	lull_wipe(&server_key, sizeof(server_key)); /* the engine keeps its own copy */
	if (err == LULL_OK)
		err = lull_conn_start(server.conn, now_ms());
	if (err == LULL_OK)
		err = lull_conn_start(client.conn, now_ms());
	int rc = 1;
	if (err != LULL_OK) {
		fprintf(stderr, "lull-pair: %s\n", lull_strerror(err));
		goto out;
	}
	if (flush(&client) != 0 || run_until(&client, &server, both_ready) != 0)
		goto out;
	static const char hello[] = "hello from the client", back[] = "hello from the server";
	if (lull_conn_send(client.conn, now_ms(), (const uint8_t *)hello, strlen(hello)) !=
	            LULL_OK ||
	    lull_conn_send(server.conn, now_ms(), (const uint8_t *)back, strlen(back)) != LULL_OK ||
	    flush(&client) != 0 || flush(&server) != 0 ||
	    run_until(&client, &server, both_got_one) != 0)
		goto out;
	if (strcmp(server.last, hello) != 0 || strcmp(client.last, back) != 0) {
		fprintf(stderr, "lull-pair: messages differ\n");
		goto out;
	}
	/* A new key on demand: a full handshake over the same connection. */
	if (lull_conn_rekey(client.conn, now_ms()) != LULL_OK || flush(&client) != 0 ||
	    run_until(&client, &server, rekeyed) != 0)
		goto out;
	printf("epoch %u after the rekey\n", lull_conn_epoch(client.conn));
	lull_conn_close(client.conn, now_ms(), LULL_CLOSE_NORMAL);
	flush(&client);
	pump(&server);
	rc = 0;
	printf("ok\n");
out:
	lull_conn_free(client.conn);
	lull_conn_free(server.conn);
	lull_server_free(srv);
	lull_wipe(&client_key, sizeof(client_key));
	lull_wipe(psk, sizeof(psk));
	close(fds[0]);
	close(fds[1]);
	return rc;
}
