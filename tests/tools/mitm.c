/*
 * mitm.c - lull-mitm: a scripted man in the middle between a lull client and
 * a lull server, for the integration tests (issue 6).  It sees only what an
 * attacker on the wire sees: the plaintext frame headers
 *
 *   frame = type:u8 | flags:u8 | length:u16be | body[length]
 *
 * and it can drop, delay, duplicate, capture, replay, corrupt, truncate,
 * inject, reorder or cut, frame by frame, by script.  The endpoints' own
 * checks are what is under test, so the proxy never "repairs" anything.
 *
 *   lull-mitm --upstream [127.0.0.1:]PORT [--listen-port P] [--port-file F]
 *             [--rules FILE] [--rule 'RULE']... [--capture-dir DIR] [--trace]
 *
 * This file is the proxy (sockets, queues, the poll loop); the rule language
 * is in mitm_rules.c, the actions a rule takes in mitm_actions.c.
 *
 * Listens on 127.0.0.1 only (port P, default 0 = any; the port is written as
 * "PORT\n" to F and logged), and for every accepted connection opens one to
 * the upstream lull server on 127.0.0.1.  Connections run concurrently, one
 * poll loop.  Runs until killed.
 *
 * Log: one line per action taken on stdout, flushed, for tests to grep:
 *   mitm t=MS conn=N dir=c2s type=DATA n=K len=L [epoch=E] action=A [args]
 * t is ms since start; n the occurrence of the type; epoch is printed for
 * record types (its 4 bytes are in the clear).  --trace logs every frame.
 * Connection events: "mitm t=MS conn=N event=accepted|closed ...".
 *
 * Invariants:
 *  - Memory is bounded: one frame buffer per direction (a frame is at most
 *    WIRE_FRAME_MAX_BYTES); reading stops while more than MITM_QUEUE_MAX
 *    bytes wait to be written; slots hold one frame each.
 *  - A length field beyond the protocol's maximum is not believed: from that
 *    header on the direction is passed through raw (logged once), so the
 *    endpoints' own length checks are what is exercised.
 *  - Bytes are never reordered except by an explicit swap, and an EOF is
 *    forwarded (shutdown) only after everything queued before it.
 *  - Only 127.0.0.1, for listening and for the upstream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mitm.h"

rule rules[MITM_MAX_RULES];
unsigned n_rules;
slot slots[MITM_MAX_SLOTS];
unsigned n_slots;
pconn *conns[MITM_MAX_CONNS];
unsigned n_conns;
const char *capture_dir;
bool trace;
uint64_t t0_ms;

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void die_oom(void)
{
	fprintf(stderr, "lull-mitm: out of memory\n");
	exit(1);
}

const char *type_name(unsigned t, char buf[8])
{
	if (t < sizeof(type_names) / sizeof(type_names[0]) && type_names[t])
		return type_names[t];
	snprintf(buf, 8, "T%u", t);
	return buf;
}

const char *dir_name(int dir)
{
	return dir == C2S ? "c2s" : "s2c";
}

/* ---- logging ------------------------------------------------------------ */

/* One line per action on a frame; 'extra' holds the action's arguments. */
void log_frame(const pconn *c, int dir, const uint8_t *f, size_t len, uint64_t n, const char *act,
               const char *extra)
{
	char tb[8];
	unsigned type = f[0];
	printf("mitm t=%llu conn=%u dir=%s type=%s n=%llu len=%zu",
	       (unsigned long long)(now_ms() - t0_ms), c->id, dir_name(dir), type_name(type, tb),
	       (unsigned long long)n, len);
	if (wire_type_is_record((uint8_t)type) && len >= WIRE_HEADER_BYTES + WIRE_EPOCH_BYTES)
		printf(" epoch=%u", wire_get_u32(f + WIRE_HEADER_BYTES));
	printf(" action=%s%s%s\n", act, extra && *extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

void log_conn(const pconn *c, const char *fmt, ...)
{
	va_list ap;
	printf("mitm t=%llu conn=%u ", (unsigned long long)(now_ms() - t0_ms), c->id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- output queues ------------------------------------------------------ */

void enqueue(half *h, const uint8_t *p, size_t len, uint64_t release_ms)
{
	if (len == 0 || h->out_shut)
		return;
	seg *s = malloc(sizeof(*s) + len);
	if (!s)
		die_oom();
	s->next = NULL;
	s->release_ms = release_ms;
	s->len = len;
	s->off = 0;
	memcpy(s->data, p, len);
	if (h->tail)
		h->tail->next = s;
	else
		h->head = s;
	h->tail = s;
	h->queued += len;
}

/* A frame held by swap goes out now (after whatever was just queued). */
void release_held(half *h, uint64_t release_ms)
{
	if (!h->held)
		return;
	enqueue(h, h->held, h->held_len, release_ms);
	free(h->held);
	h->held = NULL;
}

void queue_free(half *h)
{
	for (seg *s = h->head, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	h->head = h->tail = NULL;
	h->queued = 0;
	free(h->held);
	h->held = NULL;
}

/* ---- connections -------------------------------------------------------- */

int out_fd(const pconn *c, int dir)
{
	return c->fd[dir == C2S ? SIDE_SERVER : SIDE_CLIENT];
}

void conn_free(unsigned idx, const char *why)
{
	pconn *c = conns[idx];
	log_conn(c, "event=closed why=%s", why);
	for (int s = 0; s < 2; s++)
		if (c->fd[s] >= 0)
			close(c->fd[s]);
	for (int d = 0; d < 2; d++)
		queue_free(&c->h[d]);
	for (sched *s = c->sched, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	free(c);
	conns[idx] = conns[--n_conns];
}

/* Close one side of a connection (cut=client/server): its direction out
 * stops, the opposite side keeps receiving what was queued and never an
 * EOF, so it sees a peer that went silent. */
void detach_side(pconn *c, int side)
{
	if (c->fd[side] < 0)
		return;
	close(c->fd[side]);
	c->fd[side] = -1;
	int from = side == SIDE_CLIENT ? C2S : S2C; /* reads from that side */
	int to = 1 - from;                          /* writes to that side */
	c->h[from].in_eof = true;
	c->h[from].raw = true;
	c->detached[1 - side] = true;
	c->h[to].out_shut = true;
	queue_free(&c->h[to]);
}

static void feed(pconn *c, int dir, const uint8_t *p, size_t len, uint64_t now)
{
	half *h = &c->h[dir];
	while (len > 0) {
		if (h->raw) {
			enqueue(h, p, len, now);
			return;
		}
		size_t want = WIRE_HEADER_BYTES;
		if (h->have >= WIRE_HEADER_BYTES) {
			size_t body = wire_get_u16(h->frame + 2);
			want = WIRE_HEADER_BYTES + body;
		}
		size_t take = want - h->have < len ? want - h->have : len;
		memcpy(h->frame + h->have, p, take);
		h->have += take;
		p += take;
		len -= take;
		if (h->have == WIRE_HEADER_BYTES) {
			size_t body = wire_get_u16(h->frame + 2);
			if (body > MITM_BODY_MAX) {
				char tb[8];
				log_conn(c,
				         "dir=%s type=%s len=%zu action=raw "
				         "why=length_beyond_protocol "
				         "max=%u",
				         dir_name(dir), type_name(h->frame[0], tb),
				         body + WIRE_HEADER_BYTES, (unsigned)MITM_BODY_MAX);
				h->raw = true;
				enqueue(h, h->frame, h->have, now);
				h->have = 0;
				continue;
			}
		}
		if (h->have >= WIRE_HEADER_BYTES &&
		    h->have == (size_t)WIRE_HEADER_BYTES + wire_get_u16(h->frame + 2)) {
			process_frame(c, dir, now);
			h->have = 0;
			if (h->in_eof) /* cut while processing */
				return;
		}
	}
}

/* The source of dir closed: what it sent of a frame goes on as it is. */
static void source_eof(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	if (h->in_eof)
		return;
	h->in_eof = true;
	if (h->have > 0) {
		log_conn(c, "dir=%s action=partial_at_eof bytes=%zu", dir_name(dir), h->have);
		enqueue(h, h->frame, h->have, now);
		h->have = 0;
	}
	release_held(h, now);
}

/* Write what is due; 0 on success, -1 when the destination failed. */
static int flush_half(pconn *c, int dir, uint64_t now)
{
	half *h = &c->h[dir];
	int fd = out_fd(c, dir);
	while (h->head && h->head->release_ms <= now && fd >= 0) {
		seg *s = h->head;
		ssize_t w = send(fd, s->data + s->off, s->len - s->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -1;
		}
		s->off += (size_t)w;
		h->queued -= (size_t)w;
		if (s->off < s->len)
			return 0;
		h->head = s->next;
		if (!h->head)
			h->tail = NULL;
		free(s);
	}
	/* Forward the EOF once everything before it is out (not to a side that
	 * was detached: that one must see silence, not a close). */
	if (h->in_eof && !h->head && !h->held && !h->out_shut) {
		if (!c->detached[dir == C2S ? SIDE_SERVER : SIDE_CLIENT] && fd >= 0)
			shutdown(fd, SHUT_WR);
		h->out_shut = true;
	}
	return 0;
}

static uint64_t next_wake(const pconn *c, uint64_t now)
{
	uint64_t next = now + MITM_POLL_IDLE_MS;
	for (int d = 0; d < 2; d++)
		if (c->h[d].head && c->h[d].head->release_ms > now &&
		    c->h[d].head->release_ms < next)
			next = c->h[d].head->release_ms;
	for (const sched *s = c->sched; s; s = s->next)
		if (s->due_ms < next)
			next = s->due_ms;
	for (unsigned ri = 0; ri < n_rules; ri++)
		if (rules[ri].timed && !c->fired[ri] && rule_matches_conn(&rules[ri], c) &&
		    c->start_ms + rules[ri].at < next)
			next = c->start_ms + rules[ri].at;
	return next;
}

static int connect_upstream(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback: a blocking connect completes or fails at once. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void accept_one(int lfd, uint16_t upstream, unsigned *next_id)
{
	int cfd = accept(lfd, NULL, NULL);
	if (cfd < 0)
		return;
	unsigned id = (*next_id)++;
	if (n_conns == MITM_MAX_CONNS) {
		printf("mitm t=%llu conn=%u event=refused why=too_many_connections\n",
		       (unsigned long long)(now_ms() - t0_ms), id);
		fflush(stdout);
		close(cfd);
		return;
	}
	pconn *c = calloc(1, sizeof(*c));
	if (!c)
		die_oom();
	c->id = id;
	c->start_ms = now_ms();
	c->fd[SIDE_CLIENT] = cfd;
	c->fd[SIDE_SERVER] = connect_upstream(upstream);
	if (c->fd[SIDE_SERVER] < 0) {
		log_conn(c, "event=upstream_failed port=%u err=\"%s\"", upstream, strerror(errno));
		close(cfd);
		free(c);
		return;
	}
	set_nonblock(cfd);
	set_nonblock(c->fd[SIDE_SERVER]);
	conns[n_conns++] = c;
	log_conn(c, "event=accepted");
}

static void usage(FILE *out)
{
	fputs("usage: lull-mitm --upstream [127.0.0.1:]PORT [--listen-port P] [--port-file F]\n"
	      "                 [--rules FILE] [--rule 'RULE']... [--capture-dir DIR] [--trace]\n"
	      "\n"
	      "A scripted man in the middle on 127.0.0.1 between a lull client and server.\n"
	      "\n"
	      "  rule   = { match } action { action }     (every matching rule applies, in\n"
	      "                                           order; actions left to right)\n"
	      "  match  = conn=RANGE | dir=c2s|s2c | type=TYPE | nth=RANGE\n"
	      "         | after=MS | before=MS            (ms since the connection was accepted)\n"
	      "         | at=MS                           timed: fires once per connection, no\n"
	      "                                           frame (inject/replay with dir=, cut, "
	      "log)\n"
	      "  RANGE  = N | N-M | N-                    1-based; N- is N and every later one\n"
	      "  TYPE   = HS1 HS2 HS3 KEYS DATA HEARTBEAT HEARTBEAT_ACK|ACK REKEY_REQUEST CLOSE\n"
	      "           HS_FAILED | 0-255               nth= counts this type (any frame\n"
	      "                                           without type=) in this direction\n"
	      "  action = pass | drop | dup | swap | log\n"
	      "         | delay=MS                        later frames queue behind it\n"
	      "         | capture=SLOT                    also DIR/SLOT.frame with --capture-dir\n"
	      "         | replay=SLOT[@MS]                before this frame, or MS ms later\n"
	      "         | flip=K                          bit 0 = MSB of the type byte; K<0 from "
	      "end\n"
	      "         | truncate=N                      first N bytes; N<0: drop the last -N\n"
	      "         | inject=HEX[*N]                  raw bytes before this frame (<= 1 MiB)\n"
	      "         | cut[=client|server|both]        cut=client: server side stays open, "
	      "silent\n"
	      "\n"
	      "Logs one line per action on stdout:\n"
	      "  mitm t=MS conn=N dir=D type=T n=K len=L [epoch=E] action=A [args]\n"
	      "A length beyond the protocol's maximum switches that direction to raw.\n",
	      out);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL;
	uint64_t upstream = 0, listen_port = 0;
	bool have_upstream = false;
	char where[64];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--trace") == 0) {
			trace = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "lull-mitm: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--upstream") == 0) {
			if (strncmp(v, "127.0.0.1:", 10) == 0)
				v += 10;
			have_upstream =
			        parse_u64(v, &upstream) == 0 && upstream > 0 && upstream <= 65535;
			if (!have_upstream) {
				fprintf(stderr, "lull-mitm: --upstream must be [127.0.0.1:]PORT\n");
				return 2;
			}
		} else if (strcmp(a, "--listen-port") == 0) {
			if (parse_u64(v, &listen_port) != 0 || listen_port > 65535) {
				fprintf(stderr, "lull-mitm: bad --listen-port '%s'\n", v);
				return 2;
			}
		} else if (strcmp(a, "--port-file") == 0) {
			port_file = v;
		} else if (strcmp(a, "--capture-dir") == 0) {
			capture_dir = v;
		} else if (strcmp(a, "--rules") == 0) {
			if (load_rules_file(v) != 0)
				return 2;
		} else if (strcmp(a, "--rule") == 0) {
			char line[MITM_LINE_MAX];
			if (strlen(v) >= sizeof(line)) {
				fprintf(stderr, "lull-mitm: rule too long\n");
				return 2;
			}
			strcpy(line, v);
			snprintf(where, sizeof(where), "--rule #%u", n_rules + 1);
			if (parse_rule(line, where) != 0)
				return 2;
		} else {
			fprintf(stderr, "lull-mitm: unknown argument '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (!have_upstream) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t0_ms = now_ms();

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never anything else */
	socklen_t salen = sizeof(sa);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0 || set_nonblock(lfd) != 0) {
		fprintf(stderr, "lull-mitm: listen: %s\n", strerror(errno));
		return 1;
	}
	unsigned port = ntohs(sa.sin_port);
	printf("mitm t=0 event=listening port=%u upstream=%u rules=%u\n", port, (unsigned)upstream,
	       n_rules);
	fflush(stdout);
	if (port_file) {
		/* Write then rename, so a poller never reads an empty file. */
		char tmp[MITM_PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *pf = fopen(tmp, "w");
		if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0 ||
		    rename(tmp, port_file) != 0) {
			fprintf(stderr, "lull-mitm: port file %s: %s\n", port_file,
			        strerror(errno));
			return 1;
		}
	}

	static struct pollfd pfds[1 + 2 * MITM_MAX_CONNS];
	unsigned next_id = 1;
	uint8_t buf[MITM_READ_BYTES];
	for (;;) {
		uint64_t now = now_ms();
		uint64_t wake = now + MITM_POLL_IDLE_MS;
		pfds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (unsigned i = 0; i < n_conns; i++) {
			pconn *c = conns[i];
			for (int side = 0; side < 2; side++) {
				int from = side == SIDE_CLIENT ? C2S : S2C;
				int to = 1 - from;
				short ev = 0;
				if (!c->h[from].in_eof && c->h[from].queued < MITM_QUEUE_MAX)
					ev |= POLLIN;
				if (c->h[to].head && c->h[to].head->release_ms <= now)
					ev |= POLLOUT;
				pfds[1 + 2 * i + side] =
				        (struct pollfd){.fd = c->fd[side], .events = ev};
			}
			uint64_t w = next_wake(c, now);
			if (w < wake)
				wake = w;
		}
		int timeout = wake > now ? (int)(wake - now) : 0;
		if (poll(pfds, 1 + 2 * n_conns, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "lull-mitm: poll: %s\n", strerror(errno));
			return 1;
		}
		now = now_ms();
		unsigned polled = n_conns;
		/* Walk backwards: conn_free moves the last entry into the hole. */
		for (unsigned i = polled; i-- > 0;) {
			pconn *c = conns[i];
			const char *dead = NULL;
			for (int side = 0; side < 2 && !dead; side++) {
				int from = side == SIDE_CLIENT ? C2S : S2C;
				short re = pfds[1 + 2 * i + side].revents;
				if (c->fd[side] < 0 || !(re & (POLLIN | POLLHUP | POLLERR)) ||
				    c->h[from].in_eof)
					continue;
				ssize_t r = recv(c->fd[side], buf, sizeof(buf), 0);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0) {
					log_conn(c, "event=eof side=%s%s",
					         side == SIDE_CLIENT ? "client" : "server",
					         r < 0 ? " err=reset" : "");
					if (c->detached[side]) {
						/* The silent side's peer gave up: done. */
						dead = side == SIDE_CLIENT ? "client_closed"
						                           : "server_closed";
						break;
					}
					source_eof(c, from, now);
					continue;
				}
				if (c->detached[side])
					continue; /* nobody left to deliver to */
				feed(c, from, buf, (size_t)r, now);
			}
			if (!dead)
				run_timers(c, now);
			for (int d = 0; d < 2 && !dead; d++)
				if (flush_half(c, d, now) != 0)
					dead = d == C2S ? "server_write_failed"
					                : "client_write_failed";
			/* Both directions closed and flushed.  A detached connection ends
			 * only when its silent side's peer closes (above). */
			if (!dead && !c->detached[0] && !c->detached[1] && c->h[C2S].in_eof &&
			    c->h[S2C].in_eof && c->h[C2S].out_shut && c->h[S2C].out_shut)
				dead = "both_done";
			if (dead)
				conn_free(i, dead);
		}
		if (pfds[0].revents & POLLIN)
			accept_one(lfd, (uint16_t)upstream, &next_id);
	}
}
