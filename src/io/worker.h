/*
 * worker.h - one thread, one libuv loop, one listening socket and (server)
 * one lull_server context.  Workers share nothing but the read-only
 * daemon_params; the main thread talks to them only through the mailbox
 * (mutex + uv_async).
 */
#ifndef LULL_IO_WORKER_H
#define LULL_IO_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "params.h"
#include "linkstat.h"
#include "link.h"
#include "plain.h"

#define EVENT_COUNT_SLOTS 16 /* > the largest lull_event_type */

/* One kind of WARN line, at most once per WARN_RATE_LIMIT_MS. */
typedef struct ratelimit {
	uint64_t next_ms;    /* no line before this */
	uint64_t suppressed; /* lines dropped since the last one */
} ratelimit;

/* True if a line may go out now; *suppressed: how many were dropped. */
bool ratelimit_allow(ratelimit *r, uint64_t now_ms, uint64_t *suppressed);

typedef struct worker {
	unsigned index;
	const daemon_params *dp;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_async_t wake;
	uv_timer_t srk_timer;
	uv_thread_t thread;
	bool loop_ready;  /* uv_loop_init succeeded: worker_destroy must run it down */
	bool mu_ready;    /* uv_mutex_init succeeded */
	lull_server *srv; /* server role only */
	uint8_t *readbuf; /* NET_READ_BYTES, shared by every read of this loop */

	/* The links and streams of this loop (link.h, plain.h). */
	link_params lp;
	link_env env;
	struct link *links;
	size_t n_pending; /* links before their first handshake */
	/* Client: applications waiting for a link, oldest first. */
	plain *wait_head, *wait_tail;
	size_t n_waiting;
	uv_timer_t wait_timer;
	/* Client: keeping dp->links links up; failures since one was up. */
	uv_timer_t link_timer;
	unsigned link_failures;
	ratelimit refused_rl, accept_rl, late_rl, throttled_rl;
	source_budget budget;    /* server: per-source handshake penalties */
	uv_timer_t accept_retry; /* ACCEPT_RETRY_MS after a refusal found no memory */
	/* Bursts: handshakes done and links gone since the last malloc_trim,
	 * and when the last one was (see maybe_trim in worker.c). */
	uv_timer_t trim_timer;
	unsigned trim_events;
	uint64_t trim_last_ms;
	bool stopping;
	bool draining;       /* server: GOAWAY sent, waiting for links to end */
	atomic_bool drained; /* draining, and no link or stream socket is left */
	bool stop_seen;      /* the main thread asked: only then may wake be closed */
	bool finished;
	uint64_t srk_armed_ms; /* what srk_timer is armed for (UINT64_MAX: stopped) */

	/* Mailbox, written by the main thread under mu. */
	uv_mutex_t mu;
	bool stop_requested;
	bool drain_requested;
	bool has_pending_auth;
	auth_list pending_auth;
	unsigned pending_gen; /* reload generation of pending_auth */

	/* The last reload generation this worker applied (written by the
	 * worker, read by the main thread in on_reload_done). */
	atomic_uint applied_gen;

	/* Read by the main thread only after the worker has been joined. */
	uint64_t counts[EVENT_COUNT_SLOTS];

	/* What /status shows of this worker's links (any thread may read). */
	linkstat_registry linkstats;
	bool links_ready;
} worker;

/* Set up the loop and handles on fd (listening); run in the main thread. */
int worker_init(worker *w, unsigned index, const daemon_params *dp, int listen_fd);
/* Start the thread. */
int worker_start(worker *w);
/* From the main thread: ask to stop / hand over a new authorized list. */
void worker_request_stop(worker *w);
/* Server: stop accepting, GOAWAY every link; `drained` turns true (and
 * worker_drained is signalled) once the last link is gone. */
void worker_request_drain(worker *w);
void worker_request_reload(worker *w, const auth_list *list, unsigned gen);
/* After join. */
void worker_destroy(worker *w);

/* Monotonic milliseconds of this loop (updated on each call). */
uint64_t worker_now(worker *w);

/* Log and count one engine event; conn 0 = the server context. */
void worker_log_event(worker *w, uint64_t conn, const lull_event *ev, const char *note);

/* A snapshot of each of this worker's links, from any thread (the status
 * server's); returns how many.  fn runs under the registry lock. */
unsigned worker_foreach_link(worker *w, uint64_t now_ms, void (*fn)(void *ctx, const link_info *li),
                             void *ctx);

/* Set by the daemon before any worker starts, cleared only after every
 * worker has been joined: the reload acknowledgement the workers send. */
extern uv_async_t *worker_reload_done;
/* The same for "a worker finished draining". */
extern uv_async_t *worker_drained;

#endif /* LULL_IO_WORKER_H */
