/*
 * metrics.h - the daemon's counters for Prometheus: every engine event
 * counted once, application bytes as they are carried, and a histogram
 * of handshake durations.  Process-wide, updated from any worker thread,
 * read by the status server; gauges (what is open now) are not kept here
 * but counted from the link records when scraped.
 */
#ifndef LULL_IO_METRICS_H
#define LULL_IO_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "lull.h"

/* Count one engine event (handshakes, heartbeats, rejections, SRKs...). */
void metrics_event(const lull_event *ev);
/* Count one connection the per-source budget refused. */
void metrics_source_throttled(void);
/* Count n bytes of application data; dir is enum link_dir; peer: the
 * link's metrics_peer_get slot or NULL. */
typedef struct metrics_peer metrics_peer;
void metrics_bytes(metrics_peer *peer, int dir, uint64_t n);

/*
 * The optional per-peer breakdown (--metrics-peers): lull_peer_*_total
 * series labelled with the authorized name, beside the totals.  Off by
 * default.  At most METRICS_PEERS_MAX names get their own series; later
 * ones are counted under peer="other", so an authorized file cannot grow
 * the scrape without bound.
 */
void metrics_peers_enable(void);
/* The slot for an authorized name (NULL when the breakdown is off). */
metrics_peer *metrics_peer_get(const char *name);
/* A handshake of a named peer completed (ok) or failed. */
void metrics_peer_handshake(metrics_peer *peer, lull_rekey_reason reason, int ok);

/* What is open now, counted by the caller at scrape time. */
typedef struct metrics_gauges {
	uint64_t links;
	uint64_t streams;
	uint64_t handshakes_pending;
} metrics_gauges;

/* The Prometheus text exposition format (version 0.0.4) of every metric. */
void metrics_write(FILE *f, const metrics_gauges *g);

#endif /* LULL_IO_METRICS_H */
