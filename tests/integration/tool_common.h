/*
 * tool_common.h - shared bits of the integration test tools (lull-echo,
 * lull-load): reproducible "random" streams (tests/test_rng.h), SHA-256
 * of a stream, and a few socket helpers.  Header-only: each tool is one
 * program built from one .c file.
 */
#ifndef LULL_TOOL_COMMON_H
#define LULL_TOOL_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Traffic streams: both ends seed the same generator (test_rng_seed with
 * label 0) and draw the same bytes, so a receiver checks every byte
 * without storing them. */
#include "../test_rng.h"

static inline uint64_t seed_from_urandom(void)
{
	uint64_t v = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int fd = open("/dev/urandom", O_RDONLY);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v ^= 0x5bd1e995;
		close(fd);
	}
	return v;
}

/* SHA-256 of a stream, printed as hex. */
typedef struct hasher {
	EVP_MD_CTX *ctx;
} hasher;

static inline int hasher_init(hasher *h)
{
	h->ctx = EVP_MD_CTX_new();
	return h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1;
}

static inline void hasher_update(hasher *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->ctx, p, n);
}

static inline void hasher_hex(hasher *h, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	EVP_DigestFinal_ex(h->ctx, md, &len);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static inline void hasher_free(hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

static inline int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A blocking listening socket on 127.0.0.1, on a free port, which is
 * written as "PORT\n" to port_file (stdout when NULL) for the test script.
 * -1, with "who: why" on stderr, on failure. */
static inline int listen_loopback(const char *who, const char *port_file)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof(sa);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 512) != 0 || getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
		fprintf(stderr, "%s: listen: %s\n", who, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	FILE *pf = port_file ? fopen(port_file, "w") : stdout;
	if (!pf) {
		fprintf(stderr, "%s: port file: %s\n", who, strerror(errno));
		close(lfd);
		return -1;
	}
	fprintf(pf, "%u\n", (unsigned)ntohs(sa.sin_port));
	if (port_file)
		fclose(pf);
	else
		fflush(stdout);
	return lfd;
}

static inline uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "123", "64K", "16M", "1G" (powers of 1024). */
static inline int parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	uint64_t mult = 1;
	if (*end == 'K')
		mult = 1ull << 10;
	else if (*end == 'M')
		mult = 1ull << 20;
	else if (*end == 'G')
		mult = 1ull << 30;
	else if (*end != '\0')
		return -1;
	if (*end && end[1] != '\0')
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

#endif /* LULL_TOOL_COMMON_H */
