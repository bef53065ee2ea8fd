/*
 * lull-load - the workload of the integration tests and the demo.
 *
 *   lull-load --port P [--conns C] [--mode echo|send|recv] [--steps LIST]
 *             [--seed S] [--timeout SECONDS] [--quiet]
 *             [--rate BYTES_PER_S [--rate-after BYTES]] [--rcvbuf BYTES]
 *             [--reset]
 *
 * Opens C connections to 127.0.0.1:P at once and runs them concurrently:
 *   echo  for each step of LIST (comma separated): "N" (64K, 8M, ...) sends
 *         N bytes of the seeded stream and waits until the same N bytes have
 *         come back, checking every byte; "sMS" (s2500) stays idle MS ms.
 *   send  sends the sum of the steps' bytes, then closes; prints sha256.
 *   recv  reads to EOF; prints byte count and sha256.
 *   hold  connects, never reads, and exits 0 after --timeout (an
 *         application that does not keep up).
 * --rate (recv) reads at most that many bytes a second: a slow consumer
 * (from the first byte, or once --rate-after bytes have been read);
 * --rcvbuf sets SO_RCVBUF before connecting (small: the slowness shows at
 * once); --reset (send, echo) ends each connection with an RST instead of
 * a FIN: an application that aborts.
 * Prints one "load conn=K mode=M bytes=N sha256=HEX ms=T" line per
 * connection and exits 0 only if every connection did all it should.
 */
#include <poll.h>
#include <signal.h>

#include "tool_common.h"

#define MAX_CONNS 1024
#define MAX_STEPS 64
#define CHUNK     (64u << 10)

enum mode { MODE_ECHO, MODE_SEND, MODE_RECV, MODE_HOLD };

typedef struct step {
	uint64_t bytes;   /* 0 for an idle step */
	uint64_t idle_ms; /* idle step */
} step;

typedef struct conn {
	int fd;
	unsigned step;
	uint64_t sent, recvd; /* within the current step */
	uint64_t total_tx, total_rx;
	uint64_t idle_until;
	uint64_t rate_start_ms, rate_base; /* --rate: when and where it began */
	uint64_t start_ms;
	test_rng tx, rx;
	hasher htx, hrx;
	int done, failed, shut;
	uint8_t pending[CHUNK];
	size_t plen, poff;
} conn;

static step steps[MAX_STEPS];
static unsigned n_steps;
static conn *conns;
static int end_with_reset;

static int parse_steps(const char *s)
{
	char *copy = strdup(s);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n_steps == MAX_STEPS)
			return -1;
		step *st = &steps[n_steps++];
		memset(st, 0, sizeof(*st));
		if (tok[0] == 's') {
			if (parse_bytes(tok + 1, &st->idle_ms) != 0)
				return -1;
		} else if (parse_bytes(tok, &st->bytes) != 0) {
			return -1;
		}
	}
	free(copy);
	return n_steps ? 0 : -1;
}

static void finish(conn *c, unsigned id, enum mode mode, int quiet, int failed)
{
	/* recv reports what arrived; send and echo what was sent (echo has
	 * also checked every byte that came back against the same stream). */
	char hex[65];
	hasher_hex(mode == MODE_RECV ? &c->hrx : &c->htx, hex);
	hasher_free(mode == MODE_RECV ? &c->htx : &c->hrx);
	c->done = 1;
	c->failed = failed;
	if (!quiet || failed)
		printf("load conn=%u mode=%s bytes=%llu sha256=%s ms=%llu%s\n", id,
		       mode == MODE_ECHO   ? "echo"
		       : mode == MODE_SEND ? "send"
		                           : "recv",
		       (unsigned long long)(mode == MODE_RECV ? c->total_rx : c->total_tx), hex,
		       (unsigned long long)(mono_ms() - c->start_ms), failed ? " FAILED" : "");
	fflush(stdout);
	if (end_with_reset) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(c->fd);
	c->fd = -1;
}

int main(int argc, char **argv)
{
	unsigned port = 0, n = 1, timeout_s = 120;
	enum mode mode = MODE_ECHO;
	uint64_t seed = 0;
	int quiet = 0;
	uint64_t rate = 0, rate_after = 0, rcvbuf = 0;
	const char *steps_arg = "1M";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		if (strcmp(a, "--reset") == 0) {
			end_with_reset = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "lull-load: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--port") == 0)
			port = (unsigned)atoi(v);
		else if (strcmp(a, "--conns") == 0)
			n = (unsigned)atoi(v);
		else if (strcmp(a, "--timeout") == 0)
			timeout_s = (unsigned)atoi(v);
		else if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--steps") == 0)
			steps_arg = v;
		else if (strcmp(a, "--rate") == 0 && parse_bytes(v, &rate) == 0)
			;
		else if (strcmp(a, "--rate-after") == 0 && parse_bytes(v, &rate_after) == 0)
			;
		else if (strcmp(a, "--rcvbuf") == 0 && parse_bytes(v, &rcvbuf) == 0)
			;
		else if (strcmp(a, "--mode") == 0)
			mode = strcmp(v, "send") == 0   ? MODE_SEND
			       : strcmp(v, "recv") == 0 ? MODE_RECV
			       : strcmp(v, "hold") == 0 ? MODE_HOLD
			                                : MODE_ECHO;
		else {
			fprintf(stderr, "lull-load: bad argument '%s'\n", a);
			return 2;
		}
	}
	if (port == 0 || port > 65535 || n == 0 || n > MAX_CONNS || parse_steps(steps_arg) != 0) {
		fprintf(stderr, "lull-load: need --port, 1-%d --conns and valid --steps\n",
		        MAX_CONNS);
		return 2;
	}
	if (seed == 0)
		seed = seed_from_urandom();
	signal(SIGPIPE, SIG_IGN);
	conns = calloc(n, sizeof(*conns));
	uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000;
	for (unsigned i = 0; i < n; i++) {
		conn *c = &conns[i];
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (c->fd >= 0 && rcvbuf) {
			int b = (int)rcvbuf;
			setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
		}
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("lull-load: connect");
			return 1;
		}
		set_nonblock(c->fd);
		test_rng_seed(&c->tx, seed + i, 0);
		test_rng_seed(&c->rx, seed + i, 0);
		hasher_init(&c->htx);
		hasher_init(&c->hrx);
		c->start_ms = mono_ms();
	}

	if (mode == MODE_HOLD) {
		sleep(timeout_s);
		return 0;
	}

	static struct pollfd pfds[MAX_CONNS];
	static uint8_t rbuf[CHUNK], expect[CHUNK];
	unsigned left = n, failures = 0;
	while (left > 0) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			fprintf(stderr,
			        "lull-load: timeout after %us with %u connection(s) unfinished\n",
			        timeout_s, left);
			for (unsigned i = 0; i < n; i++)
				if (!conns[i].done)
					fprintf(stderr,
					        "lull-load: conn=%u step=%u sent=%llu recvd=%llu\n",
					        i + 1, conns[i].step,
					        (unsigned long long)conns[i].sent,
					        (unsigned long long)conns[i].recvd);
			return 1;
		}
		int wait_ms = (int)(deadline - now);
		for (unsigned i = 0; i < n; i++) {
			conn *c = &conns[i];
			pfds[i] = (struct pollfd){.fd = -1};
			if (c->done)
				continue;
			/* Completion of a step (or of everything). */
			if (mode != MODE_RECV && c->step < n_steps && !steps[c->step].idle_ms &&
			    c->sent == steps[c->step].bytes && c->poff == c->plen &&
			    (mode == MODE_SEND || c->recvd == steps[c->step].bytes)) {
				c->step++;
				c->sent = c->recvd = 0;
			}
			if (mode != MODE_RECV && c->step >= n_steps) {
				left--;
				finish(c, i + 1, mode, quiet, 0);
				continue;
			}
			pfds[i].fd = c->fd;
			const step *st = &steps[c->step];
			if (mode == MODE_RECV) {
				/* --rate: no read while ahead of rate x elapsed. */
				if (rate && !c->rate_start_ms && c->total_rx >= rate_after) {
					c->rate_start_ms = now;
					c->rate_base = c->total_rx;
				}
				uint64_t ms = now - c->rate_start_ms;
				if (c->rate_start_ms &&
				    c->total_rx >= c->rate_base + rate * ms / 1000) {
					wait_ms = wait_ms > 10 ? 10 : wait_ms;
					pfds[i].fd = -1;
					continue;
				}
				pfds[i].events = POLLIN;
				continue;
			}
			if (st->idle_ms) {
				if (c->idle_until == 0)
					c->idle_until = now + st->idle_ms;
				if (now < c->idle_until) {
					int w = (int)(c->idle_until - now);
					wait_ms = w < wait_ms ? w : wait_ms;
					pfds[i].events =
					        POLLIN; /* anything arriving now is an error */
					continue;
				}
				c->idle_until = 0;
				c->step++;
				wait_ms = 0;
				pfds[i].fd = -1;
				continue;
			}
			if (c->sent < st->bytes || c->poff < c->plen)
				pfds[i].events |= POLLOUT;
			if (mode == MODE_ECHO)
				pfds[i].events |= POLLIN;
		}
		if (left == 0)
			break;
		if (poll(pfds, n, wait_ms) < 0 && errno != EINTR)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			conn *c = &conns[i];
			if (c->done)
				continue;
			short re = pfds[i].revents;
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				size_t want = sizeof(rbuf);
				if (c->rate_start_ms && want > rate / 100 + 1)
					want = (size_t)(rate / 100 + 1); /* about 10 ms worth */
				ssize_t r = read(c->fd, rbuf, want);
				if (r < 0 && errno == EAGAIN)
					goto write_side;
				if (r <= 0) {
					int ok = mode == MODE_RECV && r == 0;
					if (!ok)
						fprintf(stderr,
						        "lull-load: conn=%u: %s after %llu bytes\n",
						        i + 1,
						        r == 0 ? "unexpected EOF" : strerror(errno),
						        (unsigned long long)c->total_rx);
					failures += !ok;
					left--;
					finish(c, i + 1, mode, quiet, !ok);
					continue;
				}
				c->recvd += (uint64_t)r;
				c->total_rx += (uint64_t)r;
				hasher_update(&c->hrx, rbuf, (size_t)r);
				if (mode == MODE_ECHO) {
					test_rng_fill(&c->rx, expect, (size_t)r);
					if (c->recvd > steps[c->step].bytes ||
					    memcmp(rbuf, expect, (size_t)r) != 0) {
						fprintf(stderr,
						        "lull-load: conn=%u: echoed bytes differ "
						        "near "
						        "offset %llu\n",
						        i + 1,
						        (unsigned long long)(c->total_rx -
						                             (uint64_t)r));
						failures++;
						left--;
						finish(c, i + 1, mode, quiet, 1);
						continue;
					}
				}
			}
		write_side:
			if (mode == MODE_RECV || !(re & POLLOUT))
				continue;
			if (c->poff == c->plen) {
				uint64_t want = steps[c->step].bytes - c->sent;
				c->plen = want < CHUNK ? (size_t)want : CHUNK;
				c->poff = 0;
				test_rng_fill(&c->tx, c->pending, c->plen);
				hasher_update(&c->htx, c->pending, c->plen);
				c->sent += c->plen;
			}
			ssize_t w = write(c->fd, c->pending + c->poff, c->plen - c->poff);
			if (w > 0) {
				c->poff += (size_t)w;
				c->total_tx += (uint64_t)w;
			} else if (w < 0 && errno != EAGAIN) {
				fprintf(stderr, "lull-load: conn=%u: write: %s\n", i + 1,
				        strerror(errno));
				failures++;
				left--;
				finish(c, i + 1, mode, quiet, 1);
			}
		}
	}
	free(conns);
	if (!quiet || failures)
		printf("load done conns=%u failed=%u\n", n, failures);
	return failures ? 1 : 0;
}
