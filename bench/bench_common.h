/*
 * bench_common.h - small helpers shared by the benchmark tools: clocks,
 * address parsing, socket set-up, the start of an epoll server and reading
 * another process's CPU time and RSS from /proc.  Header-only: each tool is
 * one program from one .c.
 *
 * The wire "protocol" every tool agrees on (spoken by lull-bench-tcp and
 * lull-bench-load, served by lull-bench-target) is chosen by the first byte
 * a connection carries, so one target behind one tunnel serves every test:
 *   'E'  echo: every later byte is written back;
 *   'B'  bulk: an 8-byte big-endian length L follows, then L bytes, which
 *        the target answers with one 'K' byte; then a new command byte.
 */
#ifndef LULL_BENCH_COMMON_H
#define LULL_BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_CMD_ECHO 'E'
#define BENCH_CMD_BULK 'B'
#define BENCH_BULK_ACK 'K'

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static inline void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* "127.0.0.1:7000" (IPv4 only: everything here is loopback). */
static inline int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* A listening socket on addr; the bound port is written to port_file (if
 * any) as "PORT\n" so that scripts can start us on port 0. */
static inline int listen_on(const char *addr, const char *port_file)
{
	struct sockaddr_in sa;
	if (parse_addr(addr, &sa) != 0) {
		fprintf(stderr, "bad address '%s'\n", addr);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
		perror("listen");
		return -1;
	}
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror(port_file);
			return -1;
		}
	}
	return fd;
}

/* The start of an epoll server (lull-bench-target, lull-bench-relay): SIGPIPE
 * ignored (a peer that goes away is an error return, not a death), a table
 * of one pointer per possible fd sized by RLIMIT_NOFILE (so any accepted fd
 * indexes it), an epoll set and a listener on addr registered for EPOLLIN.
 * Returns the listening fd, or -1 (listen_on has said why); the caller
 * converts *fd_table to its own pointer type.  Everything is made before
 * anything is checked, as the tools did inline: on failure they exit. */
static inline int serve_open(const char *addr, const char *port_file, int *ep, size_t *max_fds,
                             void **fd_table)
{
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	*max_fds = rl.rlim_cur;
	*fd_table = calloc(*max_fds, sizeof(void *));
	*ep = epoll_create1(EPOLL_CLOEXEC);
	int lfd = listen_on(addr, port_file);
	if (!*fd_table || *ep < 0 || lfd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(*ep, EPOLL_CTL_ADD, lfd, &ev);
	return lfd;
}

/* utime + stime of pid in seconds, or -1. */
static inline double proc_cpu_seconds(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: skip to ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long utime = 0, stime = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
	    2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

#endif /* LULL_BENCH_COMMON_H */
