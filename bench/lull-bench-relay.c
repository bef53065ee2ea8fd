/*
 * lull-bench-relay - the "plaintext relay" row of the benchmark: a minimal
 * single-threaded epoll TCP relay, so that the encrypted tunnels are
 * compared with the cost of relaying alone (an extra hop through a
 * user-space process), not with socat's fork-per-connection.
 *
 *   lull-bench-relay --listen 127.0.0.1:0 --target 127.0.0.1:PORT [--port-file F]
 *
 * Runs until killed.  Each accepted connection gets one connection to the
 * target (a blocking connect: loopback answers at once); bytes are copied
 * through one shared buffer.  Bytes a socket would not take are kept in a
 * per-direction buffer and the source is not read until they drain, so
 * memory stays bounded and an idle pair holds no buffer.  Either side's EOF
 * or error closes both (the tunnels compared have no half-close either).
 */
#include <sys/epoll.h>

#include "bench_common.h"

#define BUF_BYTES (256u << 10)

typedef struct dir {
	uint8_t *pend;
	size_t plen, poff;
} dir;

typedef struct pair {
	int fd[2];         /* 0: accepted client, 1: target */
	dir out[2];        /* out[i]: bytes waiting to be written to fd[i] */
	uint32_t armed[2]; /* epoll events registered for fd[i] */
} pair;

static pair **by_fd;
static size_t max_fds;
static int ep;
static uint8_t buf[BUF_BYTES];

/* Read fd[i] only while nothing waits to go to the other side; watch for
 * writability only while something waits to go to fd[i]. */
static void rearm(pair *p)
{
	for (int i = 0; i < 2; i++) {
		uint32_t e = (p->out[1 - i].pend ? 0 : EPOLLIN) | (p->out[i].pend ? EPOLLOUT : 0);
		if (e == p->armed[i])
			continue; /* a syscall saved on every relayed chunk */
		p->armed[i] = e;
		struct epoll_event ev = {.events = e, .data.fd = p->fd[i]};
		epoll_ctl(ep, EPOLL_CTL_MOD, p->fd[i], &ev);
	}
}

static void pair_close(pair *p)
{
	for (int i = 0; i < 2; i++) {
		by_fd[p->fd[i]] = NULL;
		close(p->fd[i]);
		free(p->out[i].pend);
	}
	free(p);
}

/* Write n bytes to fd[i], keeping what does not fit. */
static int send_to(pair *p, int i, const uint8_t *d, size_t n)
{
	while (n > 0) {
		ssize_t w = write(p->fd[i], d, n);
		if (w < 0) {
			if (errno == EAGAIN)
				break;
			return -1;
		}
		d += w;
		n -= (size_t)w;
	}
	if (n > 0) {
		dir *o = &p->out[i];
		o->pend = malloc(n);
		if (!o->pend)
			return -1;
		memcpy(o->pend, d, n);
		o->plen = n;
		o->poff = 0;
	}
	return 0;
}

static int on_event(pair *p, int i, uint32_t events)
{
	dir *o = &p->out[i];
	if ((events & EPOLLOUT) && o->pend) {
		while (o->poff < o->plen) {
			ssize_t w = write(p->fd[i], o->pend + o->poff, o->plen - o->poff);
			if (w < 0) {
				if (errno == EAGAIN)
					break;
				return -1;
			}
			o->poff += (size_t)w;
		}
		if (o->poff == o->plen) {
			free(o->pend);
			o->pend = NULL;
		}
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->out[1 - i].pend) {
		for (int rounds = 0; rounds < 8 && !p->out[1 - i].pend; rounds++) {
			ssize_t n = read(p->fd[i], buf, sizeof(buf));
			if (n == 0)
				return -1;
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			if (send_to(p, 1 - i, buf, (size_t)n) != 0)
				return -1;
			if ((size_t)n < sizeof(buf))
				break;
		}
	}
	return 0;
}

static void on_accept(int lfd, const struct sockaddr_in *target)
{
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		int tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		pair *p = calloc(1, sizeof(*p));
		if (tfd < 0 || !p || (size_t)cfd >= max_fds || (size_t)tfd >= max_fds ||
		    connect(tfd, (const struct sockaddr *)target, sizeof(*target)) != 0) {
			close(cfd);
			if (tfd >= 0)
				close(tfd);
			free(p);
			continue;
		}
		set_nonblock(tfd);
		set_nodelay(cfd);
		set_nodelay(tfd);
		p->fd[0] = cfd;
		p->fd[1] = tfd;
		by_fd[cfd] = by_fd[tfd] = p;
		for (int i = 0; i < 2; i++) {
			p->armed[i] = EPOLLIN;
			struct epoll_event ev = {.events = EPOLLIN, .data.fd = p->fd[i]};
			epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[i], &ev);
		}
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:0", *port_file = NULL, *target_s = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			addr = argv[++i];
		} else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
			target_s = argv[++i];
		} else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
			port_file = argv[++i];
		} else {
			target_s = NULL;
			break;
		}
	}
	struct sockaddr_in target;
	if (!target_s || parse_addr(target_s, &target) != 0) {
		fprintf(stderr, "usage: lull-bench-relay --listen ADDR:PORT --target ADDR:PORT "
		                "[--port-file F]\n");
		return 2;
	}
	void *table;
	int lfd = serve_open(addr, port_file, &ep, &max_fds, &table);
	if (lfd < 0)
		return 1;
	by_fd = table;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int k = 0; k < n; k++) {
			int fd = evs[k].data.fd;
			if (fd == lfd) {
				on_accept(lfd, &target);
				continue;
			}
			pair *p = by_fd[fd];
			if (!p)
				continue; /* closed earlier in this batch */
			int i = p->fd[0] == fd ? 0 : 1;
			if (on_event(p, i, evs[k].events) != 0)
				pair_close(p);
			else
				rearm(p);
		}
	}
}
