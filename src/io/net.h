/*
 * net.h - socket addresses and listening sockets, outside any event loop.
 */
#ifndef LULL_IO_NET_H
#define LULL_IO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
} net_addr;

/* Resolve host (a literal or a name) and port; passive for bind. */
bool net_resolve(const char *host, uint16_t port, bool passive, net_addr *out, char *err,
                 size_t cap);

/* "1.2.3.4:5" or "[::1]:5". */
void net_addr_text(const net_addr *a, char *out, size_t cap);

/* The port of a (0 for "pick one"). */
uint16_t net_addr_port(const net_addr *a);

/* Whether a can be bound without SO_REUSEPORT, i.e. no one listens there
 * (err: the reason, e.g. "address already in use"). */
bool net_probe_free(const net_addr *a, char *err, size_t cap);

/* A non-blocking listening socket with SO_REUSEPORT (so every worker can
 * have its own on the same port); returns the fd or -1 with err. */
int net_listen(const net_addr *a, char *err, size_t cap);

/* The address a socket is bound to (to learn the port picked for :0). */
bool net_local_addr(int fd, net_addr *out);

#endif /* LULL_IO_NET_H */
