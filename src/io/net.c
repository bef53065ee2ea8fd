/*
 * net.c - address resolution and listening sockets.
 *
 * Invariants: resolution happens once, at start-up, before any loop runs
 * (getaddrinfo blocks); listening sockets are created here with
 * SO_REUSEPORT, so that N workers each own one socket on the same port and
 * the kernel spreads connections between them - workers share nothing.
 * SO_REUSEPORT would as gladly let a second lull process (same user) share
 * the port and take half its connections, so net_probe_free first binds
 * the address without it: a port already in use is an error, not a split.
 * Error texts are reasons only ("address already in use"); the caller
 * names the option and address.
 */
/* SO_REUSEPORT is not POSIX: glibc shows it only with the default features. */
#define _DEFAULT_SOURCE

#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"

bool net_resolve(const char *host, uint16_t port, bool passive, net_addr *out, char *err,
                 size_t cap)
{
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, cap, "%s: cannot resolve: %s", host,
		         rc ? gai_strerror(rc) : "no address");
		return false;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

void net_addr_text(const net_addr *a, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&a->ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "?");
	}
}

/* "what: reason" with strerror's first letter lowered, to read as a
 * continuation of "--listen ADDR: ". */
static void set_err(char *err, size_t cap, const char *what, int e)
{
	int n = what ? snprintf(err, cap, "%s: %s", what, strerror(e))
	             : snprintf(err, cap, "%s", strerror(e));
	size_t at = what ? strlen(what) + 2 : 0;
	if (n > 0 && at < cap && err[at])
		err[at] = (char)tolower((unsigned char)err[at]);
}

uint16_t net_addr_port(const net_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_port);
	return 0;
}

bool net_probe_free(const net_addr *a, char *err, size_t cap)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, cap, "socket", errno);
		return false;
	}
	/* SO_REUSEADDR only: a port in TIME_WAIT is free, one that some socket
	 * listens on (with SO_REUSEPORT or not) is not. */
	int one = 1;
	bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	          bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0;
	if (!ok)
		set_err(err, cap, NULL, errno);
	close(fd);
	return ok;
}

int net_listen(const net_addr *a, char *err, size_t cap)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		set_err(err, cap, "socket", errno);
		return -1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		set_err(err, cap, "setsockopt", errno);
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
		set_err(err, cap, NULL, errno);
		close(fd);
		return -1;
	}
	/* Listening before any worker runs: connections queue in the backlog
	 * rather than being refused while the threads start. */
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		set_err(err, cap, "listen", errno);
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		set_err(err, cap, "fcntl", errno);
		close(fd);
		return -1;
	}
	return fd;
}

bool net_local_addr(int fd, net_addr *out)
{
	out->len = sizeof(out->ss);
	return getsockname(fd, (struct sockaddr *)&out->ss, &out->len) == 0;
}
