/*
 * net.c - address resolution and listening sockets.
 *
 * Invariants: resolution happens once, at start-up, before any loop runs
 * (getaddrinfo blocks); listening sockets are created here with
 * SO_REUSEPORT, so that N workers each own one socket on the same port and
 * the kernel spreads connections between them - workers share nothing.
 */
/* SO_REUSEPORT is not POSIX: glibc shows it only with the default features. */
#define _DEFAULT_SOURCE

#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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

int net_listen(const net_addr *a, char *err, size_t cap)
{
	char text[ADDR_TEXT_MAX_BYTES];
	net_addr_text(a, text, sizeof(text));
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, cap, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		snprintf(err, cap, "%s: setsockopt: %s", text, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
		snprintf(err, cap, "cannot listen on %s: %s", text, strerror(errno));
		close(fd);
		return -1;
	}
	/* Listening before any worker runs: connections queue in the backlog
	 * rather than being refused while the threads start. */
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, cap, "cannot listen on %s: %s", text, strerror(errno));
		close(fd);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(err, cap, "%s: fcntl: %s", text, strerror(errno));
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
