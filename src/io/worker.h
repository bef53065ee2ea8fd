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

#include "daemon.h"

#define EVENT_COUNT_SLOTS 16 /* > the largest lull_event_type */

struct tunnel;

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

	struct tunnel *tunnels;
	size_t n_tunnels;
	size_t n_pending; /* tunnels before their first handshake */
	ratelimit refused_rl, accept_rl, late_rl, throttled_rl;
	source_budget budget;    /* server: per-source handshake penalties */
	uv_timer_t accept_retry; /* ACCEPT_RETRY_MS after a refusal found no memory */
	bool stopping;
	bool stop_seen; /* the main thread asked: only then may wake be closed */
	bool finished;
	/* Unused since the SRK timer follows lull_server_next_deadline
	 * (srk_prepare); tunnel.c still tests it, until its rewrite drops
	 * the test. */
	bool srk_dirty;
	uv_prepare_t srk_prepare; /* re-arms srk_timer when the deadline moved */
	uint64_t srk_armed_ms;    /* what srk_timer is armed for (UINT64_MAX: stopped) */

	/* Mailbox, written by the main thread under mu. */
	uv_mutex_t mu;
	bool stop_requested;
	bool has_pending_auth;
	auth_list pending_auth;
	unsigned pending_gen; /* reload generation of pending_auth */

	/* The last reload generation this worker applied (written by the
	 * worker, read by the main thread in on_reload_done). */
	atomic_uint applied_gen;

	/* Read by the main thread only after the worker has been joined. */
	uint64_t counts[EVENT_COUNT_SLOTS];
} worker;

/* Set up the loop and handles on fd (listening); run in the main thread. */
int worker_init(worker *w, unsigned index, const daemon_params *dp, int listen_fd);
/* Start the thread. */
int worker_start(worker *w);
/* From the main thread: ask to stop / hand over a new authorized list. */
void worker_request_stop(worker *w);
void worker_request_reload(worker *w, const auth_list *list, unsigned gen);
/* After join. */
void worker_destroy(worker *w);

/* Monotonic milliseconds of this loop (updated on each call). */
uint64_t worker_now(worker *w);

/* A tunnel's timer fired late_ms after its deadline (>= TIMER_LATE_WARN_MS):
 * one rate-limited WARN per worker. */
void worker_note_timer_late(worker *w, uint64_t now_ms, uint64_t late_ms);
/* A tunnel ended (all its handles closed). */
void worker_tunnel_gone(worker *w);
/* Re-arm the SRK timer if lull_server_next_deadline moved. */
void worker_srk_update(worker *w);
/* Log and count one engine event; conn 0 = the server context. */
void worker_log_event(worker *w, uint64_t conn, const lull_event *ev, const char *note);

/* Set by the daemon before any worker starts, cleared only after every
 * worker has been joined: the reload acknowledgement the workers send. */
extern uv_async_t *worker_reload_done;

#endif /* LULL_IO_WORKER_H */
