/*
 * daemon.h - run a tunnel end (server or client) until SIGTERM/SIGINT.
 */
#ifndef LULL_IO_DAEMON_H
#define LULL_IO_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "../support/authfile.h"
#include "role.h"
#include "lull.h"
#include "net.h"

/* Everything a worker needs, read-only once the workers run. */
typedef struct daemon_params {
	enum tunnel_role role;
	lull_config cfg;
	lull_keypair key;
	uint8_t server_pub[LULL_KEY_BYTES]; /* client */
	bool has_psk;                       /* client */
	uint8_t psk[LULL_KEY_BYTES];
	net_addr listen;
	net_addr remote; /* server: the target; client: the lull server */
	char remote_text[64];
	const char *authorized_path; /* server */
	auth_list auth;              /* server: the list at start-up */
	unsigned threads;
	uint32_t links;              /* client: links kept up per worker */
	uint32_t streams_per_link;   /* client: 0 = no limit; N = a link carries N, then closes */
	uint32_t max_streams;        /* per link, both ends */
	uint32_t connect_timeout_ms; /* TCP connects, and an application waiting for a link */
	unsigned max_tunnels;        /* per worker, from RLIMIT_NOFILE (set by daemon_run) */
	unsigned max_pending;        /* per worker: tunnels before their first handshake */
} daemon_params;

/* Returns the exit status: 0 after a clean shutdown, 1 on failure. */
int daemon_run(daemon_params *p);

#endif /* LULL_IO_DAEMON_H */
