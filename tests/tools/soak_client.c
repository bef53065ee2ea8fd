/*
 * soak_client.c - lull-soak: the bursty, many-connection workload of the
 * soak (scripts/soak.sh, tests/tools/it_soak.sh).
 *
 *   lull-soak --port P [--conns N] [--duration S] [--seed S] [--max-msg BYTES]
 *             [--idle-max MS] [--idle-pct PCT] [--bursts-max K]
 *             [--trickle-pct PCT] [--stall-ms MS]
 *
 * Runs N client slots at once against 127.0.0.1:P (a lull client in front of
 * an echo target).  Each slot connects, then repeats: a burst of 1-16
 * messages of random sizes (mostly small, some up to --max-msg), each one
 * write of the connection's seeded stream; wait until every byte has come
 * back; then, with probability PCT, an idle spell of 0..--idle-max ms (so
 * some spells cross the heartbeat interval and force idle rekeys).  After
 * 1..K bursts it closes and reconnects with a new seed, so connections come
 * and go all along.  After --duration seconds each slot finishes its burst
 * and closes.
 *
 * Every byte that comes back is compared with the stream it was sent from,
 * so a byte lost, duplicated, reordered or corrupted anywhere in the tunnel
 * (both directions) is caught where it happens; each connection also
 * hashes what it sent and what came back (SHA-256) and the two must match
 * at its close.  An echo that does not progress for --stall-ms is an error.
 *
 * Prints one summary line and exits 0 only without a single error:
 *   soak conns=C messages=M bytes_tx=X bytes_rx=Y bursts=B idles=I errors=E ms=T
 */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>

#include "tool_common.h"

#define SOAK_MAX_CONNS 512
#define SOAK_CHUNK     (64u << 10)
#define SOAK_BURST_MAX 16
/* A trickle connection: messages of at most this many bytes, pauses of
 * TRICKLE_PAUSE_MIN_MS..+TRICKLE_PAUSE_SPAN_MS after every burst, shorter
 * than any heartbeat interval the soak uses, so its keys grow old rather
 * than idle or full, and age rekeys happen. */
#define TRICKLE_MSG_MAX       512
#define TRICKLE_PAUSE_MIN_MS  100
#define TRICKLE_PAUSE_SPAN_MS 500
#define TRICKLE_BURSTS        100

enum phase { PH_CONNECT, PH_SEND, PH_IDLE, PH_DONE };

typedef struct slot {
	int fd;
	enum phase phase;
	uint64_t seed;
	test_rng tx, rx, ctl;
	hasher htx, hrx;
	uint64_t sent, recvd;   /* this connection */
	unsigned msgs_left;     /* in this burst, not yet written */
	size_t plen, poff;      /* the message being written */
	unsigned bursts_left;   /* on this connection */
	uint64_t idle_until;    /* PH_IDLE */
	uint64_t last_progress; /* stall detection */
	bool trickle;           /* small messages, short pauses: ages its keys */
	uint8_t pending[SOAK_CHUNK];
} slot;

static struct {
	unsigned port, conns, idle_pct, bursts_max, trickle_pct;
	uint64_t duration_ms, seed, max_msg, idle_max_ms, stall_ms;
} opt = {.conns = 20,
         .idle_pct = 30,
         .bursts_max = 30,
         .trickle_pct = 20,
         .duration_ms = 20000,
         .max_msg = 64u << 10,
         .idle_max_ms = 2500,
         .stall_ms = 30000};

static struct {
	uint64_t conns, messages, bytes_tx, bytes_rx, bursts, idles, errors;
} tot;

static uint64_t rnd(test_rng *p, uint64_t n) /* 0..n-1 */
{
	return n ? test_rng_next(p) % n : 0;
}

/* Mostly small messages, now and then a large one; a trickle only sends
 * small ones. */
static size_t msg_size(const slot *s, test_rng *p)
{
	if (s->trickle)
		return (size_t)(1 + rnd(p, TRICKLE_MSG_MAX));
	uint64_t r = rnd(p, 100);
	uint64_t cap = r < 70 ? 1024 : r < 95 ? 16384 : opt.max_msg;
	if (cap > opt.max_msg)
		cap = opt.max_msg;
	return (size_t)(1 + rnd(p, cap));
}

static int slot_connect(slot *s, uint64_t now)
{
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "lull-soak: connect: %s\n", strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return -1;
	}
	set_nonblock(s->fd);
	test_rng_seed(&s->tx, s->seed, 0);
	test_rng_seed(&s->rx, s->seed, 0);
	test_rng_seed(&s->ctl, s->seed ^ 0x5eed5eed5eedull, 0);
	hasher_init(&s->htx);
	hasher_init(&s->hrx);
	s->sent = s->recvd = 0;
	s->plen = s->poff = 0;
	s->trickle = rnd(&s->ctl, 100) < opt.trickle_pct;
	s->bursts_left = s->trickle ? TRICKLE_BURSTS : 1 + (unsigned)rnd(&s->ctl, opt.bursts_max);
	s->msgs_left = 1 + (unsigned)rnd(&s->ctl, SOAK_BURST_MAX);
	s->phase = PH_SEND;
	s->last_progress = now;
	tot.conns++;
	tot.bursts++;
	return 0;
}

/* Close the connection; its two hashes must agree. */
static void slot_close(slot *s, unsigned id, bool error)
{
	char htx[65], hrx[65];
	hasher_hex(&s->htx, htx);
	hasher_hex(&s->hrx, hrx);
	if (!error && (s->sent != s->recvd || strcmp(htx, hrx) != 0)) {
		fprintf(stderr,
		        "lull-soak: slot=%u seed=%llu: sent %llu (%s), got back %llu (%s)\n", id,
		        (unsigned long long)s->seed, (unsigned long long)s->sent, htx,
		        (unsigned long long)s->recvd, hrx);
		error = true;
	}
	tot.errors += error;
	close(s->fd);
	s->fd = -1;
}

static void slot_fail(slot *s, unsigned id, const char *what, uint64_t now)
{
	fprintf(stderr, "lull-soak: slot=%u seed=%llu: %s after %llu sent, %llu back\n", id,
	        (unsigned long long)s->seed, what, (unsigned long long)s->sent,
	        (unsigned long long)s->recvd);
	slot_close(s, id, true);
	/* Carry on with a fresh connection: one error must not stop the run. */
	s->seed += 1000003;
	s->phase = PH_CONNECT;
	s->idle_until = now;
}

/* The burst is over when every message is written and has come back. */
static void burst_done(slot *s, unsigned id, uint64_t now, uint64_t end)
{
	if (--s->bursts_left == 0 || now >= end) {
		slot_close(s, id, false);
		s->seed += 1000003;
		s->phase = now >= end ? PH_DONE : PH_CONNECT;
		s->idle_until = now;
		return;
	}
	if (s->trickle) {
		s->phase = PH_IDLE;
		s->idle_until =
		        now + TRICKLE_PAUSE_MIN_MS + rnd(&s->ctl, TRICKLE_PAUSE_SPAN_MS + 1);
		return;
	}
	if (rnd(&s->ctl, 100) < opt.idle_pct) {
		s->phase = PH_IDLE;
		s->idle_until = now + rnd(&s->ctl, opt.idle_max_ms + 1);
		tot.idles++;
		return;
	}
	s->msgs_left = 1 + (unsigned)rnd(&s->ctl, SOAK_BURST_MAX);
	tot.bursts++;
}

static int parse_u(const char *v, uint64_t *out)
{
	return parse_bytes(v, out);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x = 0;
		if (!v || parse_u(v, &x) != 0) {
			fprintf(stderr, "lull-soak: %s needs a number\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--port") == 0)
			opt.port = (unsigned)x;
		else if (strcmp(a, "--conns") == 0)
			opt.conns = (unsigned)x;
		else if (strcmp(a, "--duration") == 0)
			opt.duration_ms = x * 1000;
		else if (strcmp(a, "--seed") == 0)
			opt.seed = x;
		else if (strcmp(a, "--max-msg") == 0)
			opt.max_msg = x;
		else if (strcmp(a, "--idle-max") == 0)
			opt.idle_max_ms = x;
		else if (strcmp(a, "--idle-pct") == 0)
			opt.idle_pct = (unsigned)x;
		else if (strcmp(a, "--bursts-max") == 0)
			opt.bursts_max = (unsigned)x;
		else if (strcmp(a, "--trickle-pct") == 0)
			opt.trickle_pct = (unsigned)x;
		else if (strcmp(a, "--stall-ms") == 0)
			opt.stall_ms = x;
		else {
			fprintf(stderr, "lull-soak: bad argument '%s'\n", a);
			return 2;
		}
	}
	if (opt.port == 0 || opt.port > 65535 || opt.conns == 0 || opt.conns > SOAK_MAX_CONNS ||
	    opt.max_msg == 0 || opt.max_msg > SOAK_CHUNK || opt.bursts_max == 0) {
		fprintf(stderr, "lull-soak: need --port, 1-%d --conns, --max-msg 1-%u\n",
		        SOAK_MAX_CONNS, SOAK_CHUNK);
		return 2;
	}
	if (opt.seed == 0)
		opt.seed = seed_from_urandom();
	signal(SIGPIPE, SIG_IGN);
	printf("soak seed=%llu conns=%u duration_ms=%llu\n", (unsigned long long)opt.seed,
	       opt.conns, (unsigned long long)opt.duration_ms);
	fflush(stdout);

	slot *slots = calloc(opt.conns, sizeof(*slots));
	static struct pollfd pfds[SOAK_MAX_CONNS];
	static uint8_t rbuf[SOAK_CHUNK], expect[SOAK_CHUNK];
	if (!slots)
		return 1;
	uint64_t start = mono_ms(), end = start + opt.duration_ms;
	for (unsigned i = 0; i < opt.conns; i++) {
		slots[i].fd = -1;
		slots[i].seed = opt.seed + i;
		slots[i].phase = PH_CONNECT;
	}
	for (;;) {
		uint64_t now = mono_ms();
		int wait_ms = 1000, live = 0;
		for (unsigned i = 0; i < opt.conns; i++) {
			slot *s = &slots[i];
			pfds[i] = (struct pollfd){.fd = -1};
			if (s->phase == PH_CONNECT) {
				if (now >= end) {
					s->phase = PH_DONE;
				} else if (slot_connect(s, now) != 0) {
					tot.errors++;
					s->phase = PH_DONE;
				}
			}
			if (s->phase == PH_IDLE && now >= s->idle_until) {
				s->phase = PH_SEND;
				s->msgs_left = 1 + (unsigned)rnd(&s->ctl, SOAK_BURST_MAX);
				s->last_progress = now;
				tot.bursts++;
			}
			if (s->phase == PH_DONE)
				continue;
			live++;
			pfds[i].fd = s->fd;
			pfds[i].events = POLLIN; /* while idle, anything arriving is an error */
			if (s->phase == PH_IDLE) {
				int w = (int)(s->idle_until - now);
				wait_ms = w < wait_ms ? w : wait_ms;
				continue;
			}
			if (s->msgs_left > 0 || s->poff < s->plen)
				pfds[i].events |= POLLOUT;
			if (now - s->last_progress > opt.stall_ms) {
				slot_fail(s, i, "stalled", now);
				pfds[i].fd = -1;
			}
		}
		if (live == 0)
			break;
		if (poll(pfds, opt.conns, wait_ms < 0 ? 0 : wait_ms) < 0 && errno != EINTR)
			return 1;
		now = mono_ms();
		for (unsigned i = 0; i < opt.conns; i++) {
			slot *s = &slots[i];
			short re = pfds[i].revents;
			if (pfds[i].fd < 0 || s->phase == PH_DONE || s->phase == PH_CONNECT)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(s->fd, rbuf, sizeof(rbuf));
				if (r < 0 && errno == EAGAIN)
					goto write_side;
				if (r <= 0) {
					slot_fail(s, i, r == 0 ? "unexpected EOF" : strerror(errno),
					          now);
					continue;
				}
				test_rng_fill(&s->rx, expect, (size_t)r);
				if (s->phase == PH_IDLE || s->recvd + (uint64_t)r > s->sent ||
				    memcmp(rbuf, expect, (size_t)r) != 0) {
					slot_fail(s, i,
					          s->recvd + (uint64_t)r > s->sent
					                  ? "more bytes back than sent"
					                  : "bytes back differ from those sent",
					          now);
					continue;
				}
				hasher_update(&s->hrx, rbuf, (size_t)r);
				s->recvd += (uint64_t)r;
				tot.bytes_rx += (uint64_t)r;
				s->last_progress = now;
				if (s->msgs_left == 0 && s->poff == s->plen &&
				    s->recvd == s->sent) {
					burst_done(s, i, now, end);
					continue;
				}
			}
		write_side:
			if (!(re & POLLOUT) || s->phase != PH_SEND)
				continue;
			if (s->poff == s->plen && s->msgs_left > 0) {
				s->plen = msg_size(s, &s->ctl);
				s->poff = 0;
				test_rng_fill(&s->tx, s->pending, s->plen);
				hasher_update(&s->htx, s->pending, s->plen);
				s->msgs_left--;
				tot.messages++;
			}
			ssize_t w = write(s->fd, s->pending + s->poff, s->plen - s->poff);
			if (w > 0) {
				s->poff += (size_t)w;
				s->sent += (uint64_t)w;
				tot.bytes_tx += (uint64_t)w;
				s->last_progress = now;
			} else if (w < 0 && errno != EAGAIN) {
				slot_fail(s, i, strerror(errno), now);
			}
		}
	}
	printf("soak conns=%llu messages=%llu bytes_tx=%llu bytes_rx=%llu bursts=%llu idles=%llu "
	       "errors=%llu ms=%llu\n",
	       (unsigned long long)tot.conns, (unsigned long long)tot.messages,
	       (unsigned long long)tot.bytes_tx, (unsigned long long)tot.bytes_rx,
	       (unsigned long long)tot.bursts, (unsigned long long)tot.idles,
	       (unsigned long long)tot.errors, (unsigned long long)(mono_ms() - start));
	free(slots);
	return tot.errors ? 1 : 0;
}
