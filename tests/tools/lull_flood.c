/*
 * lull_flood.c - the handshake-1 flood of issue 14: unique, well-formed
 * message 1s, as fast as one process can make and send them, from several
 * loopback source addresses, against a real lull server.
 *
 *   lull-flood --port P [--sources 127.0.0.2-9] [--seconds S] [--inflight N]
 *              [--max N] [--report-ms MS] [--proxy-from IPV4]
 *
 * Each message 1 is a new lull client engine's first output (liblull, a
 * fresh ephemeral each time, so every one is unique and its tag verifies):
 * exactly what an attacker with no key can send.  Each goes on its own TCP
 * connection from the next source address; the tool waits for the server's
 * message 2 (so the server has paid for the message 1: two X25519 and an
 * SRK answer) and then resets the connection, never sending message 3.
 * Up to --inflight connections are open at once.  --proxy-from puts a
 * PROXY v1 header naming IPV4 as the client in front of each message 1, as
 * a balancer would (for a server run with --proxy-protocol; the address is
 * only bytes in the header, nothing is sent to it).  A connection the server
 * closes or resets before message 2 counts as refused.
 *
 * Prints "flood t_ms=... sent=... answered=... refused=... rate=..." every
 * --report-ms and a final "flood done ..." line; exits 0 after --seconds
 * (or --max message 1s, or SIGTERM/SIGINT: a test stops it once what it
 * floods around is done), 2 on a usage error.  Traffic goes to 127.0.0.1
 * only, from 127.0.0.x sources.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "lull.h"
#include "wire.h"

#define FLOOD_INFLIGHT_MAX 1024
#define FLOOD_HS1_BYTES    (WIRE_HEADER_BYTES + WIRE_HS1_BYTES)
#define FLOOD_HS2_BYTES    (WIRE_HEADER_BYTES + WIRE_HS2_BYTES)
#define FLOOD_CONN_TIMEOUT 5000u /* ms: a connection with no answer is dropped */

typedef struct flood_conn {
	int fd;
	size_t got;
	uint64_t started_ms;
} flood_conn;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One fresh, valid message 1 from a throw-away client engine: its
 * ephemeral is new each time; the static key (not in message 1) is one. */
static int make_hs1(const lull_keypair *kp, const uint8_t server_pub[LULL_KEY_BYTES],
                    uint8_t out[FLOOD_HS1_BYTES])
{
	lull_config cfg;
	lull_conn *c = NULL;
	lull_config_default(&cfg);
	if (lull_conn_new_client(&c, &cfg, kp, server_pub, NULL, NULL) != LULL_OK ||
	    lull_conn_start(c, 0) != LULL_OK) {
		lull_conn_free(c);
		return -1;
	}
	const uint8_t *bytes;
	size_t n = lull_conn_output(c, &bytes);
	int ok = n == FLOOD_HS1_BYTES ? 0 : -1;
	if (ok == 0)
		memcpy(out, bytes, n);
	lull_conn_free(c);
	return ok;
}

static void reset_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A connection from 127.0.0.src_last to port, message 1 written (the
 * kernel takes 54 bytes on a fresh socket without blocking once connected;
 * a non-blocking connect on loopback completes at once or fails). */
static int open_one(uint16_t port, unsigned src_last, const uint8_t hs1[FLOOD_HS1_BYTES],
                    const char *proxy_line)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f000000u | src_last);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	/* Pick the source port at connect, not at bind: with a fixed source
	 * address, bind's own port search is what limits the rate. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 ||
	    (proxy_line && send(fd, proxy_line, strlen(proxy_line), MSG_NOSIGNAL) !=
	                           (ssize_t)strlen(proxy_line)) ||
	    send(fd, hs1, FLOOD_HS1_BYTES, MSG_NOSIGNAL) != FLOOD_HS1_BYTES) {
		reset_close(fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: lull-flood --port P [--sources A-B] [--seconds S] "
	                "[--inflight N] [--max N] [--report-ms MS] [--proxy-from IPV4]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long port = 0, seconds = 20, inflight = 64, report_ms = 1000;
	unsigned long long max = 0;
	unsigned src_lo = 2, src_hi = 9;
	const char *proxy_from = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (strcmp(a, "--port") == 0)
			port = strtoul(v, NULL, 10);
		else if (strcmp(a, "--seconds") == 0)
			seconds = strtoul(v, NULL, 10);
		else if (strcmp(a, "--inflight") == 0)
			inflight = strtoul(v, NULL, 10);
		else if (strcmp(a, "--max") == 0)
			max = strtoull(v, NULL, 10);
		else if (strcmp(a, "--proxy-from") == 0)
			proxy_from = v;
		else if (strcmp(a, "--report-ms") == 0)
			report_ms = strtoul(v, NULL, 10);
		else if (strcmp(a, "--sources") == 0) {
			if (sscanf(v, "127.0.0.%u-%u", &src_lo, &src_hi) != 2 &&
			    sscanf(v, "%u-%u", &src_lo, &src_hi) != 2)
				return usage();
		} else
			return usage();
		i++;
	}
	if (port == 0 || port > 65535 || inflight == 0 || inflight > FLOOD_INFLIGHT_MAX ||
	    src_lo == 0 || src_hi > 254 || src_lo > src_hi || report_ms == 0)
		return usage();

	char proxy_line[128], *proxy = NULL;
	if (proxy_from) {
		struct in_addr ia;
		if (inet_pton(AF_INET, proxy_from, &ia) != 1)
			return usage();
		snprintf(proxy_line, sizeof(proxy_line), "PROXY TCP4 %s 127.0.0.1 40000 %lu\r\n",
		         proxy_from, port);
		proxy = proxy_line;
	}
	/* Message 1 does not depend on who the server is: any key will do. */
	uint8_t server_pub[LULL_KEY_BYTES];
	lull_keypair any, own;
	if (lull_keypair_generate(&any) != LULL_OK || lull_keypair_generate(&own) != LULL_OK)
		return 1;
	memcpy(server_pub, any.pub, sizeof(server_pub));
	lull_wipe(&any, sizeof(any));

	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	static flood_conn conns[FLOOD_INFLIGHT_MAX];
	static struct pollfd pfds[FLOOD_INFLIGHT_MAX];
	for (size_t i = 0; i < inflight; i++)
		conns[i].fd = -1;
	uint64_t t0 = now_ms(), end = t0 + seconds * 1000, next_report = t0 + report_ms;
	unsigned long long sent = 0, answered = 0, refused = 0, failed = 0, last_answered = 0;
	unsigned src = src_lo;
	uint8_t hs1[FLOOD_HS1_BYTES];
	for (;;) {
		uint64_t now = now_ms();
		if (stop_requested && end > now)
			end = now;
		bool stop = now >= end || (max && sent >= max);
		/* Refill the free places with new message 1s. */
		for (size_t i = 0; i < inflight && !stop; i++) {
			if (conns[i].fd >= 0)
				continue;
			if (make_hs1(&own, server_pub, hs1) != 0) {
				failed++;
				continue;
			}
			int fd = open_one((uint16_t)port, src, hs1, proxy);
			src = src == src_hi ? src_lo : src + 1;
			if (fd < 0) {
				refused++;
				continue;
			}
			conns[i] = (flood_conn){.fd = fd, .got = 0, .started_ms = now};
			sent++;
			if (max && sent >= max)
				break;
		}
		size_t open = 0;
		for (size_t i = 0; i < inflight; i++) {
			pfds[i].fd = conns[i].fd;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
			open += conns[i].fd >= 0;
		}
		if (stop && open == 0)
			break;
		(void)poll(pfds, inflight, 50);
		now = now_ms();
		for (size_t i = 0; i < inflight; i++) {
			flood_conn *c = &conns[i];
			if (c->fd < 0)
				continue;
			bool done = false, ok = false;
			if (pfds[i].revents) {
				uint8_t buf[FLOOD_HS2_BYTES];
				ssize_t r = recv(c->fd, buf, sizeof(buf) - c->got, 0);
				if (r > 0) {
					c->got += (size_t)r;
					done = ok = c->got >= FLOOD_HS2_BYTES;
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					done = true;
				}
			}
			if (!done &&
			    (now - c->started_ms >= FLOOD_CONN_TIMEOUT || now >= end + 2000))
				done = true;
			if (done) {
				answered += ok;
				refused += !ok;
				reset_close(c->fd);
				c->fd = -1;
			}
		}
		if (now >= next_report) {
			printf("flood t_ms=%llu sent=%llu answered=%llu refused=%llu rate=%llu/s\n",
			       (unsigned long long)(now - t0), sent, answered, refused,
			       (answered - last_answered) * 1000 / report_ms);
			fflush(stdout);
			last_answered = answered;
			next_report += report_ms;
		}
	}
	lull_wipe(&own, sizeof(own));
	uint64_t ms = now_ms() - t0;
	printf("flood done ms=%llu sent=%llu answered=%llu refused=%llu failed=%llu "
	       "answered_per_s=%llu sent_per_s=%llu\n",
	       (unsigned long long)ms, sent, answered, refused, failed,
	       ms ? answered * 1000 / ms : 0, ms ? sent * 1000 / ms : 0);
	return 0;
}
