/*
 * lull-bench-target - the application server behind every tunnel in the
 * benchmarks: echo and bulk-with-acknowledgement (see bench_common.h),
 * on one epoll loop, for tens of thousands of connections at once.
 *
 *   lull-bench-target --listen 127.0.0.1:0 [--port-file F]
 *
 * Runs until killed.  Why not lull-echo: it holds at most 1024
 * connections with a 64 KiB buffer each; the idle benchmarks need many
 * thousands and a target whose own memory does not drown the figures.
 *
 * Invariants: an idle connection costs one small struct and no buffer; a
 * buffer is allocated only for echo bytes the socket would not take at
 * once, and while it exists the connection is not read (bounded memory).
 */
#include <sys/epoll.h>

#include "bench_common.h"

#define READ_BYTES (256u << 10)

enum state { ST_CMD, ST_BULK_LEN, ST_BULK_DATA, ST_ECHO };

typedef struct conn {
	enum state st;
	uint8_t lenbuf[8];
	unsigned lenhave;
	uint64_t left; /* bulk bytes still to come */
	uint8_t *pend; /* echo bytes not yet written */
	size_t plen, poff;
} conn;

static conn **conns; /* indexed by fd */
static size_t max_fds;
static int ep;
static uint8_t rbuf[READ_BYTES];

static void drop(int fd)
{
	conn *c = conns[fd];
	if (c) {
		free(c->pend);
		free(c);
		conns[fd] = NULL;
	}
	close(fd); /* also removes it from the epoll set */
}

static void want(int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Write what is pending; returns -1 on error, 0 if still pending, 1 if done. */
static int flush(int fd, conn *c)
{
	while (c->poff < c->plen) {
		ssize_t w = write(fd, c->pend + c->poff, c->plen - c->poff);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->poff += (size_t)w;
	}
	free(c->pend);
	c->pend = NULL;
	c->plen = c->poff = 0;
	return 1;
}

/* Echo n bytes: write now, keep the rest and stop reading until it drains. */
static int echo(int fd, conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno != EAGAIN)
				return -1;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (n > 0) {
		c->pend = malloc(n);
		if (!c->pend)
			return -1;
		memcpy(c->pend, p, n);
		c->plen = n;
		c->poff = 0;
		want(fd, EPOLLOUT);
	}
	return 0;
}

/* Consume n bytes under the connection's state machine. */
static int consume(int fd, conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		switch (c->st) {
		case ST_CMD:
			if (*p == BENCH_CMD_ECHO) {
				c->st = ST_ECHO;
			} else if (*p == BENCH_CMD_BULK) {
				c->st = ST_BULK_LEN;
				c->lenhave = 0;
			} else {
				return -1;
			}
			p++;
			n--;
			break;
		case ST_BULK_LEN:
			while (n > 0 && c->lenhave < 8) {
				c->lenbuf[c->lenhave++] = *p++;
				n--;
			}
			if (c->lenhave == 8) {
				c->left = 0;
				for (int i = 0; i < 8; i++)
					c->left = (c->left << 8) | c->lenbuf[i];
				c->st = ST_BULK_DATA;
			}
			break;
		case ST_BULK_DATA: {
			size_t take = n < c->left ? n : (size_t)c->left;
			p += take;
			n -= take;
			c->left -= take;
			break;
		}
		case ST_ECHO:
			return echo(fd, c, p, n);
		}
		if (c->st == ST_BULK_DATA && c->left == 0) {
			uint8_t k = BENCH_BULK_ACK;
			if (write(fd, &k, 1) != 1)
				return -1;
			c->st = ST_CMD;
		}
	}
	return 0;
}

static void on_readable(int fd)
{
	conn *c = conns[fd];
	for (int rounds = 0; rounds < 16 && !c->pend; rounds++) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(fd);
			return;
		}
		if (n < 0)
			return;
		if (consume(fd, c, rbuf, (size_t)n) != 0) {
			drop(fd);
			return;
		}
		if ((size_t)n < sizeof(rbuf))
			return;
	}
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or out of fds: the backlog waits */
		if ((size_t)fd >= max_fds || !(conns[fd] = calloc(1, sizeof(conn)))) {
			close(fd);
			continue;
		}
		set_nodelay(fd);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			drop(fd);
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:0", *port_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			addr = argv[++i];
		} else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
			port_file = argv[++i];
		} else {
			fprintf(stderr,
			        "usage: lull-bench-target [--listen ADDR:PORT] [--port-file F]\n");
			return 2;
		}
	}
	void *table;
	int lfd = serve_open(addr, port_file, &ep, &max_fds, &table);
	if (lfd < 0)
		return 1;
	conns = table;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				on_accept(lfd);
				continue;
			}
			conn *c = conns[fd];
			if (!c)
				continue;
			if (c->pend) {
				int r = flush(fd, c);
				if (r < 0)
					drop(fd);
				else if (r > 0)
					want(fd, EPOLLIN);
			} else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				on_readable(fd);
			}
		}
	}
}
