/*
 * lull-bench-tcp - the application client of the peer benchmarks.  It talks
 * plain TCP to a tunnel's local port (or straight to lull-bench-target for
 * the "direct" row), so every tunnel is measured by the same code.
 *
 *   lull-bench-tcp bulk     --port P --bytes N [--reps R]
 *   lull-bench-tcp connrate --port P --seconds S [--parallel K]
 *   lull-bench-tcp rtt      --port P --count N [--size 64]
 *   lull-bench-tcp hold     --port P --conns N --ready-file F [--seconds S]
 *
 * Output is one line of key=value pairs on stdout, for scripts/bench.sh:
 *   bulk      one connection, one direction: a 1-byte warm-up transfer
 *             (which completes any tunnel handshake), then R timed transfers
 *             of N bytes, each from its first write to the target's 'K';
 *             prints each rate and the median, in MB/s (10^6 bytes).
 *   connrate  K threads, each in a loop: connect, send a 64-byte request,
 *             read the 64-byte answer, close; every connection is a new
 *             tunnel (a full handshake for lull, spiped and stunnel).
 *   rtt       one connection, N round trips of SIZE bytes after 200 warm-up
 *             ones; median and p99 in microseconds.
 *   hold      N connections, each proven end to end by one echo, then kept
 *             idle: writes F once all are up, exits after S seconds (or
 *             when killed), so the script can read the server's RSS.
 * Everything is bounded: connect, read and write use 10-second timeouts.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "bench_common.h"

#define IO_TIMEOUT_S 10
#define CHUNK        (256u << 10)

static struct sockaddr_in g_addr;

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	set_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One 'B' transfer of n bytes, acknowledged by the target. */
static int bulk_once(int fd, uint64_t n, const uint8_t *chunk)
{
	uint8_t hdr[9] = {BENCH_CMD_BULK};
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(n >> (56 - 8 * i));
	if (write_all(fd, hdr, sizeof(hdr)) != 0)
		return -1;
	while (n > 0) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;
		if (write_all(fd, chunk, k) != 0)
			return -1;
		n -= k;
	}
	uint8_t ack;
	return read_all(fd, &ack, 1) == 0 && ack == BENCH_BULK_ACK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int do_bulk(uint64_t bytes, unsigned reps)
{
	uint8_t *chunk = malloc(CHUNK);
	double *mbps = calloc(reps, sizeof(double));
	int fd = dial();
	if (!chunk || !mbps || fd < 0) {
		fprintf(stderr, "bulk: cannot connect\n");
		return 1;
	}
	/* Incompressible bytes: no tunnel here compresses, but be sure. */
	for (size_t i = 0; i < CHUNK; i++)
		chunk[i] = (uint8_t)(i * 2654435761u >> 13);
	if (bulk_once(fd, 1, chunk) != 0) {
		fprintf(stderr, "bulk: warm-up failed\n");
		return 1;
	}
	printf("bulk bytes=%llu", (unsigned long long)bytes);
	for (unsigned r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();
		if (bulk_once(fd, bytes, chunk) != 0) {
			fprintf(stderr, "bulk: transfer %u failed\n", r);
			return 1;
		}
		mbps[r] = (double)bytes * 1e3 / (double)(now_ns() - t0);
		printf(" run%u=%.1f", r, mbps[r]);
	}
	qsort(mbps, reps, sizeof(double), cmp_double);
	printf(" median_mbps=%.1f\n", mbps[reps / 2]);
	close(fd);
	free(chunk);
	free(mbps);
	return 0;
}

typedef struct cr_thread {
	pthread_t th;
	uint64_t deadline_ns;
	unsigned long ok, failed;
} cr_thread;

static void *connrate_loop(void *arg)
{
	cr_thread *t = arg;
	uint8_t req[65] = {BENCH_CMD_ECHO}, resp[64];
	memset(req + 1, 'x', 64);
	while (now_ns() < t->deadline_ns) {
		int fd = dial();
		if (fd < 0) {
			t->failed++;
			continue;
		}
		if (write_all(fd, req, sizeof(req)) == 0 && read_all(fd, resp, sizeof(resp)) == 0)
			t->ok++;
		else
			t->failed++;
		close(fd);
	}
	return NULL;
}

static int do_connrate(double seconds, unsigned parallel)
{
	cr_thread *ts = calloc(parallel, sizeof(*ts));
	if (!ts)
		return 1;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < parallel; i++) {
		ts[i].deadline_ns = t0 + (uint64_t)(seconds * 1e9);
		pthread_create(&ts[i].th, NULL, connrate_loop, &ts[i]);
	}
	unsigned long ok = 0, failed = 0;
	for (unsigned i = 0; i < parallel; i++) {
		pthread_join(ts[i].th, NULL);
		ok += ts[i].ok;
		failed += ts[i].failed;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf("connrate parallel=%u conns=%lu failed=%lu seconds=%.2f per_s=%.0f\n", parallel, ok,
	       failed, el, (double)ok / el);
	free(ts);
	return failed > ok / 100 ? 1 : 0; /* more than 1 % failures: not a figure */
}

static int do_rtt(unsigned count, size_t size)
{
	int fd = dial();
	uint8_t *b = calloc(1, size + 1);
	double *us = calloc(count, sizeof(double));
	if (fd < 0 || !b || !us)
		return 1;
	b[0] = BENCH_CMD_ECHO;
	memset(b + 1, 'r', size);
	if (write_all(fd, b, 1) != 0)
		return 1;
	for (unsigned i = 0; i < 200 + count; i++) {
		uint64_t t0 = now_ns();
		if (write_all(fd, b + 1, size) != 0 || read_all(fd, b + 1, size) != 0) {
			fprintf(stderr, "rtt: round trip %u failed\n", i);
			return 1;
		}
		if (i >= 200)
			us[i - 200] = (double)(now_ns() - t0) / 1e3;
	}
	qsort(us, count, sizeof(double), cmp_double);
	printf("rtt size=%zu count=%u median_us=%.1f p99_us=%.1f\n", size, count, us[count / 2],
	       us[(size_t)((double)count * 0.99)]);
	close(fd);
	free(b);
	free(us);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int do_hold(unsigned n, const char *ready_file, double seconds)
{
	int *fds = calloc(n, sizeof(int));
	uint8_t req[65] = {BENCH_CMD_ECHO}, resp[64];
	memset(req + 1, 'h', 64);
	for (unsigned i = 0; i < n; i++) {
		fds[i] = dial();
		if (fds[i] < 0 || write_all(fds[i], req, sizeof(req)) != 0 ||
		    read_all(fds[i], resp, sizeof(resp)) != 0) {
			fprintf(stderr, "hold: connection %u failed\n", i);
			return 1;
		}
	}
	FILE *f = fopen(ready_file, "w");
	if (!f)
		return 1;
	fprintf(f, "ready %u\n", n);
	fclose(f);
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	while (!stop && now_ns() < end)
		usleep(50000);
	printf("hold conns=%u\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: lull-bench-tcp bulk|connrate|rtt|hold --port P ...\n");
		return 2;
	}
	const char *cmd = argv[1], *ready = NULL;
	uint64_t bytes = 64u << 20;
	unsigned reps = 3, parallel = 1, count = 2000, conns = 1000, port = 0;
	size_t size = 64;
	double seconds = 3;
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		unsigned long long x = strtoull(v, NULL, 10);
		if (strcmp(k, "--port") == 0)
			port = (unsigned)x;
		else if (strcmp(k, "--bytes") == 0)
			bytes = x;
		else if (strcmp(k, "--reps") == 0)
			reps = (unsigned)x;
		else if (strcmp(k, "--parallel") == 0)
			parallel = (unsigned)x;
		else if (strcmp(k, "--count") == 0)
			count = (unsigned)x;
		else if (strcmp(k, "--size") == 0)
			size = (size_t)x;
		else if (strcmp(k, "--conns") == 0)
			conns = (unsigned)x;
		else if (strcmp(k, "--seconds") == 0)
			seconds = strtod(v, NULL);
		else if (strcmp(k, "--ready-file") == 0)
			ready = v;
		else {
			fprintf(stderr, "lull-bench-tcp: bad option '%s'\n", k);
			return 2;
		}
	}
	if (port == 0 || port > 65535 || reps == 0 || parallel == 0 || count == 0 || size == 0) {
		fprintf(stderr, "lull-bench-tcp: --port and positive counts are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	memset(&g_addr, 0, sizeof(g_addr));
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)port);
	g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (strcmp(cmd, "bulk") == 0)
		return do_bulk(bytes, reps);
	if (strcmp(cmd, "connrate") == 0)
		return do_connrate(seconds, parallel);
	if (strcmp(cmd, "rtt") == 0)
		return do_rtt(count, size);
	if (strcmp(cmd, "hold") == 0 && ready)
		return do_hold(conns, ready, seconds);
	fprintf(stderr, "lull-bench-tcp: unknown command '%s'\n", cmd);
	return 2;
}
