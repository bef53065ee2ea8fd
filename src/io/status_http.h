/*
 * status_http.h - the --status HTTP server: /metrics (Prometheus text
 * format), /status (JSON, or a table with ?format=text, which lull status
 * prints) and /healthz.  libmicrohttpd runs it on its own thread; it only
 * reads counters and link snapshots, so a slow scraper never slows a link.
 */
#ifndef LULL_IO_STATUS_HTTP_H
#define LULL_IO_STATUS_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkstat.h"

/* What the server shows, supplied by the daemon.  foreach_link must be
 * callable from the status thread (it takes the link registries' locks). */
typedef struct status_view {
	const char *role;        /* "server" or "client" */
	const char *listen_text; /* the tunnel address */
	const char *remote_text; /* server: the target; client: the lull server */
	uint64_t started_ms;     /* monotonic, uv_hrtime base */
	atomic_bool stopping;    /* /healthz says 503 once set */
	unsigned (*foreach_link)(void *ctx, uint64_t now_ms,
	                         void (*fn)(void *fnctx, const link_info *li), void *fnctx);
	void *ctx;
} status_view;

typedef struct status_server status_server;

/* Listen on spec ("unix:PATH" or "HOST:PORT"; port 0 picks one) and serve
 * view, which must outlive the server.  NULL with err on failure; *bound
 * gets the address actually bound (text). */
status_server *status_server_start(const char *spec, status_view *view, char *bound,
                                   size_t bound_cap, char *err, size_t cap);
/* Stop serving, join the thread, remove a unix socket.  NULL is a no-op. */
void status_server_stop(status_server *s);

/* Open a connection to spec for a client (lull status); fd or -1 with err. */
int status_connect(const char *spec, char *err, size_t cap);

#endif /* LULL_IO_STATUS_HTTP_H */
