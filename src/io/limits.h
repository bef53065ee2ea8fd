/*
 * limits.h - every constant of the daemon and CLI, with its unit, in one
 * place.  The engine's own limits live in include/lull.h.
 *
 * The buffer caps together bound what one link may hold, whatever the
 * peers do: one read buffer per worker, at most NET_WRITE_QUEUE_BYTES (plus
 * one chunk of engine output) queued towards the lull peer, what the
 * engine bounds (LULL_SEND_BUFFER_BYTES, one message in reassembly), and
 * per stream at most its window queued towards its socket and
 * LULL_STREAM_QUEUE_BYTES queued in the mux (include/lull_stream.h: the
 * link-wide caps), plus one write batch (PLAIN_WRITE_BATCH_BYTES).
 */
#ifndef LULL_IO_LIMITS_H
#define LULL_IO_LIMITS_H

#include "../support/text_limits.h"

/* One transport read, shared per worker (reads are consumed synchronously). */
#define NET_READ_BYTES (256u << 10)
/* One read of a stream's own socket, at most (and at most its write room):
 * the mux cuts it into DATA frames, so fewer, larger reads cost fewer
 * system calls and wake-ups per byte.  Shares the worker's read buffer. */
#define PLAIN_READ_BYTES NET_READ_BYTES
/* DATA for one stream's socket is gathered up to this much per write: a
 * link read of NET_READ_BYTES holds about sixteen frames of one stream.
 * One buffer of this size per worker is kept and reused; when it is in
 * use (several streams got data in one read), the others gather in
 * buffers of PLAIN_WRITE_BATCH_MIN_BYTES, written when full. */
#define PLAIN_WRITE_BATCH_BYTES     (256u << 10)
#define PLAIN_WRITE_BATCH_MIN_BYTES (32u << 10)

/* Engine output moves to a link's socket while less than this waits
 * there; the streams' own queues are bounded by their credit
 * (include/lull_stream.h), so a link's socket is never left unread. */
#define NET_WRITE_QUEUE_BYTES (512u << 10)

/* A TCP connect (to the lull server or to the target) that has not
 * completed by then is abandoned, and an application accepted while no
 * link could take it waits this long for one, then gets an RST
 * (--connect-timeout). */
#define CONNECT_TIMEOUT_MS 10000u
/* Client: links kept up per worker thread (--links). */
#define DEFAULT_LINKS_PER_WORKER 1u
#define MAX_LINKS_PER_WORKER     1024u
/* Client: a link that failed is replaced after a delay drawn from
 * [d/2, d], d doubling from RECONNECT_MIN_MS per failure up to
 * RECONNECT_MAX_MS; a link that was up and is lost, at once. */
#define RECONNECT_MIN_MS 200u
#define RECONNECT_MAX_MS 30000u
/* Once a tunnel is closing, its sockets get this long to flush and see the
 * peer's FIN before they are closed regardless. */
#define CLOSE_LINGER_MS 3000u

/* Tunnels one worker carries at once at most; further connections are
 * refused.  The cap actually used is derived from RLIMIT_NOFILE (raised to
 * its hard limit at start): every tunnel needs FDS_PER_TUNNEL descriptors,
 * and FD_RESERVE_BASE + FD_RESERVE_PER_WORKER x workers stay free for the
 * loops, listeners, logs and key files. */
#define WORKER_MAX_TUNNELS    16384u
#define FDS_PER_TUNNEL        2u
#define FD_RESERVE_BASE       32u
#define FD_RESERVE_PER_WORKER 8u
/* RLIMIT_NOFILE soft limit asked for when the hard limit is unlimited. */
#define FD_LIMIT_UNLIMITED_CAP (1u << 20)
/* Of a worker's tunnels, at most 1/PENDING_TUNNELS_DIVISOR (at least one)
 * may still be before their first handshake: peers that connect and never
 * complete one cannot take every slot from working tunnels. */
#define PENDING_TUNNELS_DIVISOR 4u
/* The per-source handshake budget (source_budget.h), server side.  Under
 * load (this many connection attempts per second on one worker), a source
 * address with SOURCE_BLOCK_PENALTIES unfinished handshakes' worth of
 * penalty left is refused at accept.  Each unfinished handshake adds the
 * penalty; it runs down in real time and is capped. */
#define SOURCE_LOAD_DEFAULT_PER_S     100u
#define SOURCE_PENALTY_DEFAULT_MS     2000u
#define SOURCE_PENALTY_MAX_DEFAULT_MS 60000u
#define SOURCE_PENALTY_LIMIT_MS       3600000u /* --source-penalty(-max) at most 1 h */
#define SOURCE_BLOCK_PENALTIES        3u
/* Secure heap (lull_secure_heap_init): locked memory, left out of core
 * dumps, for every connection's keys.  Sized for the tunnels the fd caps
 * allow - a connection object (1 KiB) and a share of the handshake states
 * (2 KiB each, a quarter of the tunnels at most) - plus each worker's
 * server context, SRK ring and authorized list; capped, since it is
 * resident from the start.  Beyond it keys go to ordinary memory (still
 * out of core dumps: the daemon is not dumpable). */
#define SECURE_HEAP_BYTES_PER_TUNNEL 2048u
#define SECURE_HEAP_BYTES_PER_WORKER (1u << 20)
#define SECURE_HEAP_AUTO_MAX_BYTES   (16u << 20)
#define SECURE_HEAP_AUTO             UINT64_MAX /* --secure-heap not given */
/* A timer that fires this much after its deadline means the loop did not
 * run for that long (the process was stopped or starved, or a call
 * blocked): worth a WARN, because heartbeat and handshake deadlines fire
 * late with it and peers may already have given up on us. */
#define TIMER_LATE_WARN_MS 1000u
/* refused / accept_failed / timers_late WARN lines: at most one per this many ms per
 * worker; the next one says how many were suppressed. */
#define WARN_RATE_LIMIT_MS 1000u
/* After a burst - at least this many handshakes done or links gone, then
 * this long without one - a worker hands its malloc arena's free pages back
 * (malloc_trim).  A burst leaves its buffers freed but resident between
 * the links that stayed: 9,900 links rekeying at once left ~1.1 KiB per
 * link (bench/idle_links.sh, docs/performance.md).  Rare: at most once per
 * quiet spell, a few ms each. */
#define MALLOC_TRIM_AFTER_EVENTS 256u
#define MALLOC_TRIM_QUIET_MS     2000u
/* When even the memory to refuse a connection is missing, try again this
 * much later (libuv stops watching the listener until then). */
#define ACCEPT_RETRY_MS    100u
#define WORKER_MAX_THREADS 256u
#define LISTEN_BACKLOG     1024

/* The --status HTTP server (status_http.c). */
#define STATUS_MAX_CLIENTS 16u /* concurrent scrapers and lull status */
#define STATUS_TIMEOUT_S   10u /* an idle or slow HTTP client is dropped */
#define STATUS_BACKLOG     16
/* --metrics-peers: authorized names with their own series; the rest are
 * counted as peer="other". */
#define METRICS_PEERS_MAX 1024u
/* Where lull status looks without --status: the server unit's runtime
 * directory (RuntimeDirectory=lull/server), as dist/server.conf sets. */
#define STATUS_DEFAULT_ADDR "unix:/run/lull/server/status.sock"

#endif /* LULL_IO_LIMITS_H */
