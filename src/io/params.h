/*
 * params.h - daemon_params: everything the daemon's workers need, filled
 * by the CLI, read-only once the workers run.  Its own header so that the
 * worker needs nothing else of daemon.h (which runs the workers).
 */
#ifndef LULL_IO_PARAMS_H
#define LULL_IO_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "../support/authfile.h"
#include "lull.h"
#include "net.h"
#include "role.h"
#include "source_budget.h"

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
	/* Server, in a fleet (docs/deployment.md): --reuseport,
	 * --proxy-protocol, --target-proxy-protocol. */
	bool reuseport;
	bool proxy_protocol;
	bool target_proxy_protocol;
	const char *authorized_path; /* server */
	const char *status_addr;     /* --status, NULL: no status server */
	bool metrics_peers;          /* --metrics-peers */
	auth_list auth;              /* server: the list at start-up */
	unsigned threads;
	source_budget_params budget; /* server: per-source handshake budget */
	uint64_t secure_heap_bytes;  /* SECURE_HEAP_AUTO, 0 (off) or a size */
	uint32_t links;              /* client: links kept up per worker */
	uint32_t streams_per_link;   /* client: 0 = no limit; N = a link carries N, then closes */
	uint32_t max_streams;        /* per link, both ends */
	uint32_t connect_timeout_ms; /* TCP connects, and an application waiting for a link */
	uint32_t drain_timeout_ms;   /* server: SIGTERM drains for this long; 0: stop at once */
	unsigned max_tunnels;        /* per worker, from RLIMIT_NOFILE (set by daemon_run) */
	unsigned max_pending;        /* per worker: tunnels before their first handshake */
} daemon_params;

#endif /* LULL_IO_PARAMS_H */
