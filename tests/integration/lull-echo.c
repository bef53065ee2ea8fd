/*
 * lull-echo - the target of the integration tests and the demo.
 *
 *   lull-echo [--mode echo|source|sink] [--bytes N] [--seed S] [--port-file F]
 *             [--idle-after N --idle-ms MS]
 *
 * Listens on 127.0.0.1 on a free port, writes "PORT\n" to --port-file (or
 * stdout) once it accepts, and serves any number of connections at once:
 *   echo    writes back every byte; on EOF, flushes and closes
 *   source  writes --bytes N of the --seed stream, then closes, and prints
 *           "source conn=K bytes=N sha256=HEX"; with --idle-after N it
 *           stays idle --idle-ms MS after the first N bytes (an idle spell
 *           mid-stream, then the rest and EOF)
 *   sink    reads to EOF and prints "sink conn=K bytes=N sha256=HEX" (with
 *           " err=reset" if the connection was reset instead)
 *   stall   accepts and never reads (a target that does not keep up)
 * Runs until killed.  Memory per connection is bounded (one buffer).
 */
#include <poll.h>
#include <signal.h>

#include "tool_common.h"

#define MAX_CONNS 1024
#define BUF_BYTES (64u << 10)

enum mode { MODE_ECHO, MODE_SOURCE, MODE_SINK, MODE_STALL };

typedef struct conn {
	int fd;
	unsigned id;
	uint8_t *buf;
	size_t len, off;     /* echo: pending bytes; source: current chunk */
	uint64_t done;       /* bytes sent (source) or received (sink) */
	uint64_t idle_until; /* source: monotonic ms the idle spell ends, 0 none */
	int idled;
	int eof;
	test_rng rng;
	hasher h;
} conn;

static conn conns[MAX_CONNS];
static size_t n_conns;

static void conn_end(size_t i, enum mode mode, const char *err)
{
	conn *c = &conns[i];
	if (mode == MODE_SOURCE || mode == MODE_SINK) {
		char hex[65];
		hasher_hex(&c->h, hex);
		printf("%s conn=%u bytes=%llu sha256=%s%s%s\n",
		       mode == MODE_SOURCE ? "source" : "sink", c->id, (unsigned long long)c->done,
		       hex, err ? " err=" : "", err ? err : "");
		fflush(stdout);
	}
	close(c->fd);
	free(c->buf);
	conns[i] = conns[--n_conns];
}

int main(int argc, char **argv)
{
	enum mode mode = MODE_ECHO;
	uint64_t bytes = 0, seed = 1, idle_after = 0, idle_ms = 0;
	const char *port_file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--mode") == 0 && v) {
			mode = strcmp(v, "source") == 0  ? MODE_SOURCE
			       : strcmp(v, "sink") == 0  ? MODE_SINK
			       : strcmp(v, "stall") == 0 ? MODE_STALL
			                                 : MODE_ECHO;
			i++;
		} else if (strcmp(a, "--bytes") == 0 && v && parse_bytes(v, &bytes) == 0) {
			i++;
		} else if (strcmp(a, "--seed") == 0 && v && parse_bytes(v, &seed) == 0) {
			i++;
		} else if (strcmp(a, "--idle-after") == 0 && v &&
		           parse_bytes(v, &idle_after) == 0) {
			i++;
		} else if (strcmp(a, "--idle-ms") == 0 && v && parse_bytes(v, &idle_ms) == 0) {
			i++;
		} else if (strcmp(a, "--port-file") == 0 && v) {
			port_file = v;
			i++;
		} else {
			fprintf(stderr, "lull-echo: bad argument '%s'\n", a);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_loopback("lull-echo", port_file);
	if (lfd < 0)
		return 1;
	set_nonblock(lfd);

	static struct pollfd pfds[MAX_CONNS + 1];
	unsigned next_id = 1;
	for (;;) {
		int wait_ms = -1;
		uint64_t now = mono_ms();
		pfds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (size_t i = 0; i < n_conns; i++) {
			conn *c = &conns[i];
			short ev = 0;
			if (mode == MODE_SOURCE && idle_ms && !c->idled && c->done >= idle_after &&
			    c->off == c->len) {
				if (c->idle_until == 0)
					c->idle_until = now + idle_ms;
				if (now >= c->idle_until)
					c->idled = 1;
			}
			if (mode == MODE_STALL)
				ev = 0;
			else if (mode == MODE_SOURCE && c->idle_until && !c->idled) {
				int w = (int)(c->idle_until - now);
				wait_ms = wait_ms < 0 || w < wait_ms ? w : wait_ms;
			} else if (mode == MODE_SOURCE)
				ev = POLLOUT;
			else if (c->len > c->off)
				ev = POLLOUT;
			else if (!c->eof)
				ev = POLLIN;
			pfds[i + 1] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (poll(pfds, n_conns + 1, wait_ms) < 0 && errno != EINTR)
			return 1;
		/* Walk backwards: conn_end moves the last entry into the hole. */
		for (size_t i = n_conns; i-- > 0;) {
			conn *c = &conns[i];
			short re = pfds[i + 1].revents;
			if (!re)
				continue;
			if (mode == MODE_SOURCE) {
				if (c->idle_until && !c->idled)
					continue; /* idle spell: nothing to write yet */
				if (c->off == c->len) {
					uint64_t left = bytes - c->done;
					if (idle_ms && !c->idled && c->done < idle_after &&
					    left > idle_after - c->done)
						left = idle_after - c->done;
					c->len = left < BUF_BYTES ? (size_t)left : BUF_BYTES;
					c->off = 0;
					test_rng_fill(&c->rng, c->buf, c->len);
					hasher_update(&c->h, c->buf, c->len);
				}
				ssize_t w =
				        c->len ? write(c->fd, c->buf + c->off, c->len - c->off) : 0;
				if (w < 0 && errno != EAGAIN) {
					conn_end(i, mode, NULL);
					continue;
				}
				if (w > 0) {
					c->off += (size_t)w;
					c->done += (uint64_t)w;
				}
				if (c->done == bytes && c->off == c->len)
					conn_end(i, mode, NULL);
				continue;
			}
			if (c->len > c->off) {
				ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
				if (w < 0 && errno != EAGAIN) {
					conn_end(i, mode, NULL);
					continue;
				}
				if (w > 0)
					c->off += (size_t)w;
				if (c->off == c->len)
					c->off = c->len = 0;
				if (c->eof && c->len == 0)
					conn_end(i, mode, NULL);
				continue;
			}
			ssize_t r = read(c->fd, c->buf, BUF_BYTES);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				c->eof = 1;
				conn_end(i, mode,
				         r == 0                ? NULL
				         : errno == ECONNRESET ? "reset"
				                               : "error");
				continue;
			}
			c->done += (uint64_t)r;
			if (mode == MODE_SINK)
				hasher_update(&c->h, c->buf, (size_t)r);
			else
				c->len = (size_t)r, c->off = 0;
		}
		if (pfds[0].revents & POLLIN) {
			for (;;) {
				int fd = accept(lfd, NULL, NULL);
				if (fd < 0)
					break;
				if (n_conns == MAX_CONNS) {
					close(fd);
					continue;
				}
				set_nonblock(fd);
				conn *c = &conns[n_conns++];
				memset(c, 0, sizeof(*c));
				c->fd = fd;
				c->id = next_id++;
				c->buf = malloc(BUF_BYTES);
				test_rng_seed(&c->rng, seed, 0);
				if (mode == MODE_SOURCE || mode == MODE_SINK)
					hasher_init(&c->h);
			}
		}
	}
}
