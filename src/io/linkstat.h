/*
 * linkstat.h - what /status shows about each link: a small record per
 * link, written by the worker thread that owns the link and read by the
 * status server's thread.
 *
 * The worker calls linkstat_open when a link starts, linkstat_event for
 * each engine event, linkstat_bytes as data is carried, and linkstat_close
 * when the link is freed; readers only see snapshots (link_info) taken
 * under the registry's lock.  Today a link is one tunnel; once links carry
 * many streams the same calls move to the link layer.
 */
#ifndef LULL_IO_LINKSTAT_H
#define LULL_IO_LINKSTAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lull.h"

enum link_state {
	LINK_HANDSHAKING = 0, /* before the first key */
	LINK_READY,           /* keys installed; "idle" is derived when read */
	LINK_STALE,           /* the key may no longer carry data (idle spell) */
	LINK_REKEYING,        /* a new handshake is under way */
	LINK_CLOSED,          /* closed, not yet freed */
};

enum link_dir {
	LINK_RECEIVED = 0, /* application data delivered from the peer */
	LINK_SENT = 1,     /* application data handed to the peer */
};

typedef struct link_stat link_stat;

/* One snapshot, for a reader. Times are monotonic ms (uv_hrtime base). */
typedef struct link_info {
	uint64_t id;
	unsigned worker;
	char peer[LULL_PEER_NAME_MAX];
	enum link_state state;
	bool idle; /* READY, and no data for heartbeat_interval */
	uint32_t epoch;
	lull_rekey_reason last_reason;
	uint64_t opened_ms;
	uint64_t handshake_ms;      /* last handshake done; 0: none */
	uint64_t last_heartbeat_ms; /* sent, acked or received; 0: none */
	uint64_t last_data_ms;      /* 0: none */
	uint64_t bytes[2];          /* by enum link_dir, since the link opened */
	uint64_t bytes_since_rekey; /* both directions, under the current key */
	unsigned streams;
} link_info;

/* The links of one worker. */
typedef struct linkstat_registry {
	uv_mutex_t mu;
	link_stat *head;
	unsigned worker;
	uint64_t idle_after_ms; /* heartbeat_interval */
} linkstat_registry;

int linkstat_registry_init(linkstat_registry *r, unsigned worker, uint64_t idle_after_ms);
void linkstat_registry_destroy(linkstat_registry *r); /* after every link closed */

/* NULL if out of memory: every other call accepts NULL and does nothing,
 * so a link without a record still works, it is only not listed. */
link_stat *linkstat_open(linkstat_registry *r, uint64_t id, uint64_t now_ms);
void linkstat_close(linkstat_registry *r, link_stat *s);
void linkstat_event(linkstat_registry *r, link_stat *s, const lull_event *ev);
void linkstat_bytes(link_stat *s, enum link_dir dir, uint64_t n, uint64_t now_ms);

/* The streams the link carries now (worker thread). */
void linkstat_streams(link_stat *s, unsigned n);

/* Call fn with a snapshot of every link, under the lock (fn must not
 * block); returns how many. */
unsigned linkstat_foreach(linkstat_registry *r, uint64_t now_ms,
                          void (*fn)(void *ctx, const link_info *li), void *ctx);

const char *linkstat_state_name(const link_info *li); /* "ready", "idle", ... */

#endif /* LULL_IO_LINKSTAT_H */
