/*
 * lull_stream.h - streams over one lull connection (a "link"): many
 * ordered byte streams, each with its own half-close, reset and credit
 * window, carried as lull messages.  docs/protocol.md §10 gives the frames
 * byte by byte, the flow-control rules and the state diagram.
 *
 * Sans-I/O like the engine: a lull_mux reads no clock and touches no
 * socket.  It sits on a lull_conn that the application owns and drives:
 *
 *   - route the connection's on_message callback to lull_mux_receive;
 *   - on the connection's LULL_EV_CLOSED event, call lull_mux_link_closed;
 *   - after writing the connection's output to the transport (room in the
 *     engine again), call lull_mux_flush.
 *
 * Keys, heartbeats and rekeys stay the engine's.  Every frame is an
 * application message to the engine, so the link is idle exactly when no
 * stream frame flows, and the first frame after an idle spell waits for
 * the idle rekey like any message.
 *
 * Flow control (why the link can always be read): a sender may have at
 * most the receiver's window of unacknowledged bytes in flight on a
 * stream, and the receiver returns credit only once its consumer has taken
 * the bytes (lull_mux_consumed).  So whatever one slow consumer does, the
 * receiver never holds more than that stream's window for it, and the
 * link's reader never has to stop: heartbeats, acks, rekeys and the other
 * streams keep flowing.
 *
 * Streams are named by 32-bit ids: the client end opens odd ids, the
 * server end even ones, each side counting up, never reusing one.
 */
#ifndef LULL_STREAM_H
#define LULL_STREAM_H

#include "lull.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Defaults and limits: the one place they live --------------------- */

#define LULL_STREAM_INITIAL_WINDOW_BYTES (256u << 10) /* each direction, at open */
#define LULL_STREAM_MAX_WINDOW_BYTES     (16u << 20)  /* a window grows to at most this */
#define LULL_STREAM_WINDOW_LIMIT_BYTES   (1u << 30)   /* any window, any config: beyond = error */
#define LULL_STREAM_DEFAULT_MAX_STREAMS  1024u        /* concurrent streams per link */
#define LULL_STREAM_MAX_STREAMS_LIMIT    (1u << 20)
/* A window also doubles when credit falls due again this soon after the
 * last credit: the stream moves half a window in less than this, so the
 * window, not the consumer, bounds it, and larger windows mean fewer
 * WINDOW frames (each a record and a wake-up at the sender). */
#define LULL_STREAM_WINDOW_GROW_MS    20u
#define LULL_STREAM_RATE_WINDOW_BYTES (2u << 20) /* ... up to this much */
/* Sum of the receive windows a link may grant beyond the streams' initial
 * ones: what window growth may add, link-wide. */
#define LULL_STREAM_DEFAULT_LINK_WINDOW_BYTES (64u << 20)
/* Bytes accepted by lull_mux_write and not yet handed to the engine, all
 * streams of a link together. */
#define LULL_STREAM_DEFAULT_LINK_SEND_BYTES (4u << 20)
/* Bytes one stream may have waiting in its queue, not yet handed to the
 * engine: lull_mux_write takes more only as they leave.  The rest waits
 * with the caller (the daemon leaves it in the socket, uncopied) and is
 * sealed straight from the next write when the engine has room. */
#define LULL_STREAM_QUEUE_BYTES (64u << 10)
/* Data is interleaved round-robin in frames of at most this much payload:
 * a DATA frame with its header then fills one record exactly. */
#define LULL_STREAM_HEADER_BYTES    5u
#define LULL_STREAM_CHUNK_BYTES     (16384u - LULL_STREAM_HEADER_BYTES)
#define LULL_STREAM_FRAME_MAX_BYTES (LULL_STREAM_HEADER_BYTES + LULL_STREAM_CHUNK_BYTES)
/* The mux stops handing frames to the engine while this much engine output
 * is pending: the rest waits in the streams' queues, where the round-robin
 * can still interleave it. */
#define LULL_STREAM_ENGINE_QUEUE_BYTES (192u << 10)

/* ---- Frames (docs/protocol.md §10.1) ------------------------------------ */

typedef enum lull_stream_frame_type {
	LULL_STREAM_OPEN = 1,   /* id */
	LULL_STREAM_DATA = 2,   /* id, 1..LULL_STREAM_CHUNK_BYTES bytes */
	LULL_STREAM_FIN = 3,    /* id: this direction ends, cleanly */
	LULL_STREAM_RESET = 4,  /* id, reason: both directions end, abnormally */
	LULL_STREAM_WINDOW = 5, /* id, increment: more credit for the peer */
	LULL_STREAM_GOAWAY = 6, /* id 0: open no new stream on this link (drain) */
} lull_stream_frame_type;

/* Reset reasons travel in RESET frames: values are stable.  The ones
 * marked "local" are never sent; they name why a stream ended here. */
typedef enum lull_stream_reason {
	LULL_STREAM_NORMAL = 0,             /* both directions ended with FIN (local) */
	LULL_STREAM_ABORTED = 1,            /* an application reset its connection */
	LULL_STREAM_TARGET_UNREACHABLE = 2, /* the server could not connect its target */
	LULL_STREAM_REFUSED = 3,            /* the peer's stream cap or resources */
	LULL_STREAM_FLOW_CONTROL = 4,       /* data past the window, or a window too large */
	LULL_STREAM_PROTOCOL_ERROR = 5,     /* a frame not allowed in the stream's state */
	LULL_STREAM_SHUTDOWN = 6,           /* the daemon is stopping */
	LULL_STREAM_INTERNAL_ERROR = 7,     /* the sender failed internally */
	LULL_STREAM_LINK_LOST = 8,          /* the link closed under the stream (local) */
	LULL_STREAM_CONNECT_TIMEOUT = 9,    /* no link came up in time (local) */
	LULL_STREAM_REASON_COUNT
} lull_stream_reason;

const char *lull_stream_reason_name(lull_stream_reason r); /* "target_unreachable" */

/* ---- Configuration ----------------------------------------------------- */

typedef struct lull_mux_config {
	uint32_t max_streams;       /* concurrent streams, both directions */
	uint32_t initial_window;    /* must equal the peer's: it is implicit */
	uint32_t max_window;        /* growth stops here */
	uint64_t link_window_bytes; /* growth budget of all receive windows */
	uint64_t link_send_bytes;   /* cap on bytes queued by lull_mux_write */
} lull_mux_config;

void lull_mux_config_default(lull_mux_config *cfg);
/* LULL_OK or LULL_ERR_CONFIG with *bad_field naming the first bad field. */
lull_err lull_mux_config_validate(const lull_mux_config *cfg, const char **bad_field);

/* ---- Events ------------------------------------------------------------ */

typedef enum lull_stream_event_type {
	LULL_STREAM_EV_OPENED = 1, /* the peer opened id (set its user with lull_mux_set_user) */
	LULL_STREAM_EV_DATA,       /* data, len: bytes for the consumer, in order */
	LULL_STREAM_EV_FIN,        /* the peer's direction ended cleanly */
	LULL_STREAM_EV_WRITABLE,   /* lull_mux_write_room went from 0 to more */
	LULL_STREAM_EV_CLOSED,     /* the stream is gone: reason, by_peer, byte counts */
	LULL_STREAM_EV_ERROR,      /* a peer's frame broke the rules: err, reason = reaction */
	LULL_STREAM_EV_GOAWAY,     /* id 0: the peer is draining; open no more streams here */
} lull_stream_event_type;

typedef struct lull_stream_event {
	lull_stream_event_type type;
	uint32_t id;
	void *stream_user; /* what lull_mux_open / lull_mux_set_user gave */
	const uint8_t *data;
	size_t len;
	lull_stream_reason reason;    /* CLOSED: NORMAL or why it was reset */
	bool by_peer;                 /* CLOSED: the peer's RESET (or FIN, FIN) ended it */
	lull_err err;                 /* ERROR: the named violation */
	uint64_t bytes_in, bytes_out; /* CLOSED: payload bytes received / sent */
} lull_stream_event;

typedef void (*lull_stream_event_fn)(void *user, const lull_stream_event *ev);

/* ---- The multiplexer --------------------------------------------------- */

typedef struct lull_mux lull_mux;

/*
 * A mux on conn (not owned; it must outlive the mux, or the mux must be
 * told with lull_mux_link_closed first).  is_client picks the id parity.
 * Events run inside the mux call that caused them; from an event the
 * application may call any lull_mux function on this mux except
 * lull_mux_free and lull_mux_receive.
 */
lull_err lull_mux_new(lull_mux **out, lull_conn *conn, bool is_client, const lull_mux_config *cfg,
                      lull_stream_event_fn on_event, void *user);
/* Frees every stream without events or frames. */
void lull_mux_free(lull_mux *m);

/* One message the connection delivered.  A violation that names no live
 * stream's fault (malformed frame, unknown id) closes the connection with
 * protocol_error and returns LULL_ERR_PROTOCOL / LULL_ERR_STREAM_UNKNOWN;
 * one that is a stream's fault resets that stream, reports
 * LULL_STREAM_EV_ERROR then CLOSED, and returns the error while the link
 * goes on.  LULL_ERR_STATE if called from one of this mux's events. */
lull_err lull_mux_receive(lull_mux *m, uint64_t now_ms, const uint8_t *msg, size_t len);

/* The connection closed: every live stream is reported CLOSED with
 * LULL_STREAM_LINK_LOST (or NORMAL if it had already ended both ways) and
 * forgotten; afterwards every call answers LULL_ERR_CLOSED. */
void lull_mux_link_closed(lull_mux *m);

/* Open a stream: its OPEN frame is queued now.  LULL_ERR_STREAM_LIMIT at
 * the stream cap; LULL_ERR_STATE once the peer sent GOAWAY;
 * LULL_ERR_CLOSED after the link closed. */
lull_err lull_mux_open(lull_mux *m, uint64_t now_ms, void *stream_user, uint32_t *id);
lull_err lull_mux_set_user(lull_mux *m, uint32_t id, void *stream_user);

/* Bytes lull_mux_write would take for id now: the peer's credit less what
 * is queued, capped by the link's send budget and by what the stream's
 * queue may still hold (LULL_STREAM_QUEUE_BYTES), plus the engine's room
 * when the bytes can be sealed at once.  0 for an unknown id.  An answer
 * of 0 for a live stream promises a LULL_STREAM_EV_WRITABLE event once
 * there is room again. */
size_t lull_mux_write_room(lull_mux *m, uint32_t id);
/* Take up to len bytes of id's data - sealed into DATA frames at once when
 * nothing else waits and the engine has room, else queued; *taken says how
 * many (at most the room).  LULL_ERR_WOULD_BLOCK when none could be taken; a
 * LULL_STREAM_EV_WRITABLE event says when to try again. */
lull_err lull_mux_write(lull_mux *m, uint64_t now_ms, uint32_t id, const uint8_t *data, size_t len,
                        size_t *taken);
/* This end's direction ends: FIN follows the queued data. */
lull_err lull_mux_shutdown(lull_mux *m, uint64_t now_ms, uint32_t id);
/* Both directions end abnormally: queued data is dropped, RESET(reason)
 * goes out, the stream is forgotten (no CLOSED event: the caller knows). */
lull_err lull_mux_reset(lull_mux *m, uint64_t now_ms, uint32_t id, lull_stream_reason reason);
/* The consumer took n bytes of id's data: credit may go back. */
lull_err lull_mux_consumed(lull_mux *m, uint64_t now_ms, uint32_t id, size_t n);
/* Drain (docs/protocol.md §10.6): tell the peer to open no new stream on
 * this link.  Streams already open carry on until they end; an OPEN from
 * the peer after this is refused with RESET(refused) and reported as
 * LULL_STREAM_EV_ERROR with LULL_ERR_STATE.  Sent once: a second call does
 * nothing.  LULL_ERR_CLOSED after the link closed. */
lull_err lull_mux_goaway(lull_mux *m, uint64_t now_ms);
/* This end sent (or queued) GOAWAY / received the peer's. */
bool lull_mux_goaway_sent(const lull_mux *m);
bool lull_mux_goaway_received(const lull_mux *m);

/* Hand queued frames to the engine while it has room (round-robin). */
lull_err lull_mux_flush(lull_mux *m, uint64_t now_ms);

size_t lull_mux_stream_count(const lull_mux *m);
size_t lull_mux_queued_bytes(const lull_mux *m);   /* lull_mux_write bytes not yet sent */
uint64_t lull_mux_window_total(const lull_mux *m); /* receive windows granted, summed */

#ifdef __cplusplus
}
#endif

#endif /* LULL_STREAM_H */
