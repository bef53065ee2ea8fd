/*
 * stream.h - the stream frame codec and the mux object behind lull_mux
 * (see stream.c for the rules and their invariants).  Internal: tests and
 * the fuzz target read the fields; applications use lull_stream.h.
 */
#ifndef LULL_STREAM_INTERNAL_H
#define LULL_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lull.h"
#include "lull_stream.h"

#define STREAM_FRAME_OPEN_BYTES   5u /* type, id */
#define STREAM_FRAME_FIN_BYTES    5u
#define STREAM_FRAME_RESET_BYTES  6u /* type, id, reason */
#define STREAM_FRAME_WINDOW_BYTES 9u /* type, id, increment */
#define STREAM_FRAME_GOAWAY_BYTES 5u /* type, id 0 */
/* The engine must carry at least a WINDOW frame in one message; the mux
 * refuses to run on a link whose agreed max_message is below this. */
#define STREAM_MIN_MAX_MESSAGE_BYTES 64u
/* Hash buckets at the first stream; doubled whenever streams outnumber
 * them; freed when the last stream ends. */
#define STREAM_HASH_INITIAL_BUCKETS 8u

/* One parsed frame; data points into the message. */
typedef struct stream_frame {
	lull_stream_frame_type type;
	uint32_t id;
	const uint8_t *data; /* DATA */
	size_t len;          /* DATA */
	uint8_t reason;      /* RESET, as on the wire */
	uint32_t increment;  /* WINDOW */
} stream_frame;

/* LULL_OK, or LULL_ERR_PROTOCOL for anything malformed: a length that
 * does not match the type, an unknown type, id 0 (except GOAWAY, whose id
 * must be 0), an empty or oversize DATA, a WINDOW of 0. */
lull_err stream_frame_parse(const uint8_t *msg, size_t len, stream_frame *f);
/* Write the header (and, for RESET/WINDOW, the body) of f into out, which
 * holds at least LULL_STREAM_HEADER_BYTES + 4; returns the bytes written.
 * DATA payload is the caller's to append. */
size_t stream_frame_write_header(const stream_frame *f, uint8_t *out);

typedef struct stream_chunk {
	struct stream_chunk *next;
	size_t len, off;
	uint8_t data[];
} stream_chunk;

typedef struct mux_stream {
	struct mux_stream *hnext;             /* hash chain */
	struct mux_stream *rr_next, *rr_prev; /* send ring, while it has work */
	uint32_t id;
	void *user;
	/* Send side. */
	stream_chunk *q_head, *q_tail;
	size_t queued;        /* bytes in the queue; always <= send_credit */
	uint64_t send_credit; /* bytes the peer still lets us send */
	uint64_t bytes_out;
	/* Receive side: cumulative counts since open. */
	uint32_t window;     /* current receive window */
	uint64_t bytes_in;   /* received */
	uint64_t consumed;   /* taken by the consumer */
	uint64_t limit_sent; /* what the peer may send: initial + increments sent */
	uint32_t credit_due; /* increment decided but not yet sent */
	uint64_t credit_ms;  /* when credit last fell due (credited: once it did) */
	bool credited;
	bool open_due;   /* our OPEN not yet handed to the engine */
	bool fin_wanted; /* lull_mux_shutdown: FIN after the queue */
	bool fin_sent;
	bool fin_received;
	bool in_ring;
	bool blocked; /* write room reached 0: WRITABLE when it comes back */
} mux_stream;

typedef struct mux_reset {
	struct mux_reset *next;
	uint32_t id;
	uint8_t reason;
} mux_reset;

struct lull_mux {
	lull_conn *conn;
	bool is_client;
	bool closed;
	bool in_event;
	bool close_deferred; /* the link closed during a flush: end streams after it */
	unsigned flushing;   /* depth of lull_mux_flush calls under way */
	lull_mux_config cfg;
	lull_stream_event_fn on_event;
	void *user;
	mux_stream **buckets;
	size_t n_buckets;
	size_t n_streams;
	uint32_t next_local_id;               /* next id this end opens */
	uint32_t peer_max_id;                 /* highest id the peer opened (0: none) */
	mux_stream *ring;                     /* head of the send ring */
	mux_reset *resets_head, *resets_tail; /* RESET frames waiting for engine room */
	size_t n_resets;
	size_t queued;         /* all streams' queued bytes */
	bool link_blocked;     /* a write found no room a queue's draining gives back */
	bool goaway_due;       /* lull_mux_goaway: GOAWAY not yet handed to the engine */
	bool goaway_sent;      /* handed to the engine: the peer's OPENs are refused */
	bool goaway_received;  /* the peer's GOAWAY: lull_mux_open refuses */
	uint64_t window_extra; /* sum over streams of window - initial_window */
};

#endif /* LULL_STREAM_INTERNAL_H */
