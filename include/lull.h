/*
 * lull.h - public API of liblull: encrypted, mutually authenticated message
 * transport over TCP with adaptive rekeying.
 *
 * Every fallible call returns a lull_err.  LULL_OK is zero; every other value
 * names one failure and lull_strerror() turns it into a sentence fit for a
 * log line.  Codes are stable: they may be added, never renumbered.
 *
 * The calling contract, once for every call below:
 *
 * Time.  The engine never reads a clock: every call that can act on time
 * takes now_ms, a monotonic millisecond count from any origin (e.g.
 * CLOCK_MONOTONIC, uv_now).  It must never go backwards across calls on one
 * lull_conn, nor across calls on one lull_server and its connections.  If
 * it does, nothing unsafe follows but the link suffers: timers fire late,
 * a key looks idle and past its age (data is held for a rekey, data under
 * it may be refused as expired and close the connection), and the SRK pool
 * refuses a handshake (LULL_ERR_STATE) rather than overwrite a key in use.
 * A key's life is never extended and no refused record is accepted.
 *
 * Threads.  A lull_conn is single-threaded: one thread at a time may call
 * into it, and its callbacks run on that thread.  A lull_server and all the
 * server connections bound to it are one unit, used by one thread at a time
 * (an event loop).  Distinct units may run on distinct threads at once.
 * What is global is safe from any thread: lull_strerror and the other
 * *_name calls, lull_config_default, lull_config_validate,
 * lull_keypair_generate, lull_secure_heap_stats; the crypto back end's
 * one-time setup is done under pthread_once.  lull_secure_heap_init sets
 * up process-wide state: call it once, before any other thread uses lull.
 *
 * Lifetimes.  The pointer lull_conn_output hands out is valid until the
 * next call on that connection (any call: consume, send, receive, tick...).
 * A message handed to on_message, and every pointer in a lull_event
 * (peer_name, peer_pub), is valid only during the callback.  Objects a call
 * receives (configs, keys, callbacks) are copied; a lull_server must outlive
 * its connections.
 *
 * Callbacks.  Every callback is optional (NULL: not called): without
 * on_message messages are discarded once counted; without on_event nothing
 * is reported but the engine behaves the same.  They run inside the call
 * that caused them, on its thread; what they may call back into is listed
 * at lull_callbacks.  The server's on_event (SRK created and erased) may
 * not call back into the server.
 *
 * Deadlines.  lull_conn_next_deadline and lull_server_next_deadline say
 * when to call lull_conn_tick and lull_server_tick next; they change only
 * through calls on their object (a handshake can create an SRK and so move
 * the server's deadline earlier), so ask again after each call.
 */
#ifndef LULL_H
#define LULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------- */

/* The release of this header.  CMake reads the project version from these
 * three lines, so they are the one place it is written.  The shared
 * library's SONAME carries the major number. */
#define LULL_VERSION_MAJOR  0
#define LULL_VERSION_MINOR  1
#define LULL_VERSION_PATCH  0
#define LULL_VERSION_STRING "0.1.0"
/* One number for #if: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define LULL_VERSION_NUMBER                                                                        \
	(LULL_VERSION_MAJOR * 10000 + LULL_VERSION_MINOR * 100 + LULL_VERSION_PATCH)
/* The wire protocol this release speaks (docs/protocol.md, HS1's version). */
#define LULL_PROTOCOL_VERSION 2

/* The version of the library actually linked, which may differ from the
 * header a program was compiled against: "0.1.0", never NULL. */
const char *lull_version(void);
/* The same as LULL_VERSION_NUMBER, for the linked library. */
unsigned lull_version_number(void);

typedef enum lull_err {
	LULL_OK = 0,

	/* Resources and programming errors. */
	LULL_ERR_NOMEM = 1,            /* allocation failed */
	LULL_ERR_INVALID_ARG = 2,      /* NULL or out-of-range argument */
	LULL_ERR_BUFFER_TOO_SMALL = 3, /* caller's output buffer cannot hold the result */
	LULL_ERR_STATE = 4,            /* call not allowed in the object's current state */

	/* Cryptography. */
	LULL_ERR_CRYPTO = 10,          /* the crypto library reported an internal failure */
	LULL_ERR_RANDOM = 11,          /* the CSPRNG failed */
	LULL_ERR_DH_ZERO = 12,         /* DH result is all zeros: peer sent a low-order point */
	LULL_ERR_DECRYPT = 13,         /* AEAD authentication failed */
	LULL_ERR_NONCE_EXHAUSTED = 14, /* a key has used its last nonce and must be retired */

	/* Noise handshakes. */
	LULL_ERR_UNKNOWN_PROTOCOL = 20, /* protocol name not parsable or not supported */
	LULL_ERR_MISSING_KEY = 21,      /* pattern needs a key (s, rs, psk) that was not supplied */
	LULL_ERR_MSG_TOO_LARGE = 22,    /* message would exceed the 65535-byte Noise limit */
	LULL_ERR_MSG_TRUNCATED = 23,    /* message shorter than its pattern requires */
	LULL_ERR_HANDSHAKE_DONE = 24,   /* handshake already finished: use the transport ciphers */

	/* Configuration. */
	LULL_ERR_CONFIG = 30, /* a configuration value is out of its allowed range */

	/* Authentication (the lull handshake on top of Noise). */
	LULL_ERR_UNKNOWN_CLIENT = 40,      /* client's static key is not in the authorized list */
	LULL_ERR_AUTH_FAILED = 41,         /* peer failed to prove its key or PSK */
	LULL_ERR_SERVER_KEY_MISMATCH = 42, /* server's static key is not the pinned one */
	LULL_ERR_REPLAY = 43,              /* handshake message 1 replayed within its SRK's life */
	LULL_ERR_VERSION = 44,             /* peer speaks an unsupported version or suite */
	LULL_ERR_HANDSHAKE_TIMEOUT = 45,   /* handshake did not complete within srk_lifetime */

	/* Framing, records and policy. */
	LULL_ERR_PROTOCOL = 50,          /* malformed frame or frame not allowed now */
	LULL_ERR_MESSAGE_TOO_LARGE = 51, /* message over max_message: refused, never buffered */
	LULL_ERR_WOULD_BLOCK = 52,       /* queue full: drain output before sending more */
	LULL_ERR_CLOSED = 53,            /* connection is closed */
	LULL_ERR_PEER_CLOSED = 54,       /* peer closed the connection (see the close reason) */
	LULL_ERR_RETIRED_KEY = 55,       /* record under a key epoch that is no longer accepted */
	LULL_ERR_SPOOF = 56,             /* data under a stale key after an idle spell */
	LULL_ERR_KEY_EXPIRED = 57,       /* key passed reject_after_bytes/age before a rekey */
	LULL_ERR_HEARTBEAT_MISSED = 58,  /* heartbeat not acknowledged in time */
	LULL_ERR_HEARTBEAT_MISSING = 59, /* client sent no heartbeat while idle */
	LULL_ERR_SRK_POOL_FULL = 60,     /* the interval's replay set is full: handshake refused */

	/* Streams over a link (lull_stream.h). */
	LULL_ERR_STREAM_UNKNOWN = 70, /* frame for a stream id that was never opened */
	LULL_ERR_STREAM_STATE = 71,   /* frame not allowed in the stream's state (e.g. FIN twice) */
	LULL_ERR_FLOW_CONTROL = 72,   /* data past the stream's window */
	LULL_ERR_WINDOW_OVERFLOW = 73, /* window credit past LULL_STREAM_WINDOW_LIMIT_BYTES */
	LULL_ERR_STREAM_LIMIT = 74,    /* the link's cap on concurrent streams is reached */
} lull_err;

/* A sentence describing err; never NULL, also for unknown values. */
const char *lull_strerror(lull_err err);

/* The identifier of err ("LULL_ERR_DECRYPT"), for logfmt and tests. */
const char *lull_err_name(lull_err err);

/* ---- Defaults and limits: the one place they live --------------------- */

#define LULL_DEFAULT_HEARTBEAT_INTERVAL_MS 60000u       /* A1: idle after this, heartbeat period */
#define LULL_DEFAULT_HEARTBEAT_TIMEOUT_MS  10000u       /* A6: wait for an ack */
#define LULL_DEFAULT_HEARTBEAT_RETRIES     0u           /* A6: extra tries before giving up */
#define LULL_DEFAULT_REKEY_BYTES           (1ull << 30) /* A3: 1 GiB, both directions */
#define LULL_DEFAULT_REKEY_MAX_AGE_MS      3600000ull   /* 1 h */
#define LULL_DEFAULT_SRK_INTERVAL_MS       10000u       /* B1 */
#define LULL_DEFAULT_SRK_LIFETIME_MS       30000u       /* B2: also the handshake timeout */
#define LULL_DEFAULT_SRK_KEEP              2u           /* B2: M */
#define LULL_DEFAULT_MAX_MESSAGE_BYTES     (16u << 20)  /* 16 MiB */
#define LULL_DEFAULT_SRK_REPLAY_MAX        65536u       /* ephemerals per SRK before it rotates */

#define LULL_SRK_INTERVAL_MIN_MS 100u /* keeps the SRK ring to at most ~9,000 slots */
/* An SRK's private half lives srk_interval + srk_keep x srk_lifetime: with
 * this bound the server's forward-secrecy window is at most 60 s + 10 x 90 s
 * = 16 min, whatever the configuration says. */
#define LULL_SRK_INTERVAL_MAX_MS         60000u
#define LULL_SRK_LIFETIME_MAX_MS         90000u /* B2: a handshake may take at most 90 s */
#define LULL_SRK_KEEP_MIN                1u
#define LULL_SRK_KEEP_MAX                10u
#define LULL_SRK_REPLAY_MAX_LIMIT        65536u /* srk_replay_max: 1 .. this */
#define LULL_HEARTBEAT_RETRIES_MAX       100u
#define LULL_MAX_MESSAGE_LIMIT_BYTES     (1u << 30)   /* no config may ask for more than 1 GiB */
#define LULL_KEY_BYTES                   32           /* X25519 keys and PSKs */
#define LULL_SEND_BUFFER_BYTES           (256u << 10) /* held + queued output before WOULD_BLOCK */
#define LULL_PEER_NAME_MAX               64           /* authorized client name, bytes incl. NUL */
#define LULL_SECURE_HEAP_MIN_BYTES       (64u << 10)  /* lull_secure_heap_init */
#define LULL_SECURE_HEAP_MAX_BYTES       (1u << 30)
#define LULL_SECURE_HEAP_MIN_ALLOC_BYTES 32u /* its smallest block */

/* ---- Configuration ----------------------------------------------------- */

typedef enum lull_suite {
	LULL_SUITE_AESGCM_SHA256 = 1,      /* Noise_XXpsk3_25519_AESGCM_SHA256 (default) */
	LULL_SUITE_CHACHAPOLY_BLAKE2B = 2, /* Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b */
} lull_suite;

typedef enum lull_on_missed_ack {
	LULL_ON_MISSED_ACK_CLOSE = 0, /* close the connection */
	LULL_ON_MISSED_ACK_REKEY = 1, /* forbid data until a new key is negotiated */
} lull_on_missed_ack;

typedef enum lull_on_spoof {
	LULL_ON_SPOOF_CLOSE = 0, /* log and close */
	LULL_ON_SPOOF_DROP = 1,  /* log and drop the record */
} lull_on_spoof;

typedef enum lull_on_missing_heartbeat {
	LULL_ON_MISSING_HEARTBEAT_CLOSE = 0, /* close */
	LULL_ON_MISSING_HEARTBEAT_STALE = 1, /* treat the key as stale */
} lull_on_missing_heartbeat;

/*
 * Every knob of the design brief.  lull_config_default() fills the brief's
 * defaults; lull_config_validate() names the first value out of range.
 * Durations are milliseconds, sizes bytes.  A derived limit set to 0 means
 * "derive it": reject_after_bytes = 2 x rekey_bytes, reject_after_age_ms =
 * rekey_max_age_ms + srk_lifetime_ms.
 */
typedef struct lull_config {
	lull_suite suite;
	uint32_t heartbeat_interval_ms;
	uint32_t heartbeat_timeout_ms;
	uint32_t heartbeat_retries;
	lull_on_missed_ack on_missed_ack;
	lull_on_spoof on_spoof;
	lull_on_missing_heartbeat on_missing_heartbeat;
	uint64_t rekey_bytes;
	uint64_t rekey_max_age_ms;
	uint64_t reject_after_bytes;
	uint64_t reject_after_age_ms;
	uint32_t srk_interval_ms;
	uint32_t srk_lifetime_ms; /* also the handshake timeout */
	uint32_t srk_keep;
	/* Server: client ephemerals one SRK answers before a fresh SRK takes
	 * over for the rest of the interval (its replay set is full). */
	uint32_t srk_replay_max;
	uint32_t max_message_bytes;
	/* Server only: answer every handshake with a fresh ephemeral instead of
	 * the interval's SRK.  For benchmarks that measure what the pool saves. */
	bool srk_pool_disabled;
} lull_config;

void lull_config_default(lull_config *cfg);

/*
 * LULL_OK, or LULL_ERR_CONFIG with *bad_field (if not NULL) set to the name
 * of the first offending field, e.g. "srk_keep".
 */
lull_err lull_config_validate(const lull_config *cfg, const char **bad_field);

/* ---- Keys -------------------------------------------------------------- */

typedef struct lull_keypair {
	uint8_t priv[LULL_KEY_BYTES];
	uint8_t pub[LULL_KEY_BYTES];
} lull_keypair;

lull_err lull_keypair_generate(lull_keypair *kp);
lull_err lull_keypair_from_private(lull_keypair *kp, const uint8_t priv[LULL_KEY_BYTES]);
/* Wipe a key pair (or any secret) so the compiler cannot elide it. */
void lull_wipe(void *p, size_t len);

/*
 * Keep lull's secrets - static keys, PSKs, SRKs, traffic keys, handshake
 * state - in memory that is locked (never swapped) and left out of core
 * dumps: OpenSSL's secure heap, of bytes rounded up to a power of two
 * (LULL_SECURE_HEAP_MIN_BYTES .. LULL_SECURE_HEAP_MAX_BYTES).  Call once,
 * before any other lull call, from one thread.  *locked (may be NULL) is
 * false when mlock was refused (RLIMIT_MEMLOCK): the memory is then still
 * left out of core dumps.  When the heap is full, secrets go to ordinary
 * memory and lull_secure_heap_stats counts them.  Without this call lull
 * uses ordinary memory throughout.  LULL_ERR_STATE if a secure heap exists.
 */
lull_err lull_secure_heap_init(size_t bytes, bool *locked);
/* Bytes of the secure heap in use; allocations that did not fit in it. */
void lull_secure_heap_stats(size_t *bytes_used, uint64_t *fallbacks);

/* ---- Events ------------------------------------------------------------ */

typedef enum lull_event_type {
	LULL_EV_HANDSHAKE_STARTED = 1, /* epoch = the one being negotiated, rekey_reason */
	LULL_EV_HANDSHAKE_DONE,        /* epoch, duration_ms, rekey_reason */
	LULL_EV_AUTH_FAILED,           /* err names why */
	LULL_EV_SRK_CREATED,           /* server context: interval */
	LULL_EV_SRK_ERASED,            /* server context: interval */
	LULL_EV_REPLAY_REFUSED,        /* server: message 1 with a known client ephemeral */
	LULL_EV_HEARTBEAT_SENT,        /* client, while idle (A4) */
	LULL_EV_HEARTBEAT_ACKED,       /* client */
	LULL_EV_HEARTBEAT_MISSED,      /* client: no ack after every retry (A6) */
	LULL_EV_KEY_STALE,             /* current key may no longer carry data */
	LULL_EV_REKEY_REQUESTED,       /* server asked the client to rekey; rekey_reason */
	LULL_EV_SPOOF_REJECTED,        /* bytes = record size, peer = who it claimed to be */
	LULL_EV_CLOSED,                /* close_reason, err, by_peer */
	LULL_EV_HEARTBEAT_RECEIVED,    /* server: a heartbeat arrived (and was acked) */
} lull_event_type;

typedef enum lull_rekey_reason {
	LULL_REKEY_NONE = 0,     /* first handshake of the connection */
	LULL_REKEY_IDLE,         /* data about to flow after an idle spell (A2) */
	LULL_REKEY_BYTES,        /* rekey_bytes reached (A3) */
	LULL_REKEY_AGE,          /* rekey_max_age reached */
	LULL_REKEY_PEER_REQUEST, /* server asked (A10) */
	LULL_REKEY_MISSED_ACK,   /* on_missed_ack = rekey (A6) */
	LULL_REKEY_APPLICATION,  /* lull_conn_rekey */
} lull_rekey_reason;

/* Close reasons travel on the wire in close frames: values are stable. */
typedef enum lull_close_reason {
	LULL_CLOSE_NORMAL = 0,
	LULL_CLOSE_PROTOCOL_ERROR = 1,
	LULL_CLOSE_AUTH_FAILED = 2,
	LULL_CLOSE_UNKNOWN_CLIENT = 3,
	LULL_CLOSE_HANDSHAKE_TIMEOUT = 4,
	LULL_CLOSE_REPLAY = 5,
	LULL_CLOSE_VERSION = 6,
	LULL_CLOSE_MESSAGE_TOO_LARGE = 7,
	LULL_CLOSE_DECRYPT_FAILED = 8,
	LULL_CLOSE_SPOOF = 9,
	LULL_CLOSE_HEARTBEAT_MISSED = 10,
	LULL_CLOSE_HEARTBEAT_MISSING = 11,
	LULL_CLOSE_KEY_EXPIRED = 12,
	LULL_CLOSE_SHUTDOWN = 13,
	LULL_CLOSE_BUSY = 14,
	LULL_CLOSE_INTERNAL_ERROR = 15,
	LULL_CLOSE_TARGET_UNREACHABLE = 16, /* daemon: the server could not reach its target */
	LULL_CLOSE_TRANSPORT_LOST = 17, /* local only: the transport ended without a close frame */
	LULL_CLOSE_REASON_COUNT
} lull_close_reason;

const char *lull_event_name(lull_event_type type);       /* "handshake_done" */
const char *lull_rekey_reason_name(lull_rekey_reason r); /* "idle" */
const char *lull_close_reason_name(lull_close_reason r); /* "heartbeat_missed" */

typedef struct lull_event {
	lull_event_type type;
	uint64_t now_ms;
	uint32_t epoch;
	lull_rekey_reason rekey_reason;
	lull_close_reason close_reason;
	lull_err err;
	bool by_peer;            /* CLOSED: the peer sent the close frame */
	uint64_t duration_ms;    /* HANDSHAKE_DONE */
	uint64_t bytes;          /* SPOOF_REJECTED: record bytes; CLOSED: app bytes carried */
	uint64_t interval;       /* SRK events: interval index (time / srk_interval_ms) */
	const char *peer_name;   /* authorized name (server side) or NULL */
	const uint8_t *peer_pub; /* peer's static key once known, else NULL */
} lull_event;

typedef void (*lull_event_fn)(void *user, const lull_event *ev);
typedef void (*lull_message_fn)(void *user, const uint8_t *msg, size_t len);

/*
 * A source of random bytes: fill buf with len bytes and return LULL_OK, or
 * any error (the engine then fails the call with LULL_ERR_RANDOM).  Every
 * byte of key material lull makes comes from it: ephemerals, SRKs, DRKs,
 * replay-set seeds.  It must be a cryptographically secure generator; the
 * default (none set) is OpenSSL's, and a deterministic one is for tests and
 * published vectors only.
 */
typedef lull_err (*lull_random_fn)(void *ctx, uint8_t *buf, size_t len);

/* ---- Server context (shared by all of a server's connections) ---------- */

typedef struct lull_server lull_server;

/* cfg and key are copied.  on_event receives SRK created/erased. */
lull_err lull_server_new(lull_server **out, const lull_config *cfg, const lull_keypair *key,
                         lull_event_fn on_event, void *user);
void lull_server_free(lull_server *srv);

/* Authorize a client: its static public key, a name for logs, an optional
 * PSK (NULL: 32 zero bytes).  Re-adding a key replaces its entry. */
lull_err lull_server_authorize(lull_server *srv, const uint8_t pub[LULL_KEY_BYTES],
                               const char *name, const uint8_t *psk);
/* Remove every authorized client (before a reload). Live sessions stay up. */
void lull_server_clear_authorized(lull_server *srv);

/* Draw srv's random bytes (SRKs, replay-set seeds, the fresh keys of
 * srk_pool_disabled) from fn with ctx, and those of the connections made on
 * it afterwards (lull_conn_set_random can still change theirs).  NULL: back
 * to OpenSSL's generator.  Call before the first handshake. */
void lull_server_set_random(lull_server *srv, lull_random_fn fn, void *ctx);

/* Erase SRKs whose time has come; returns the next deadline (UINT64_MAX: none). */
uint64_t lull_server_tick(lull_server *srv, uint64_t now_ms);

/* When lull_server_tick has something to do next (UINT64_MAX: nothing):
 * the erasure of the oldest live SRK.  A handshake on one of srv's
 * connections may create an SRK and so move it earlier; ask after each
 * call on a connection (it costs a load, not a scan). */
uint64_t lull_server_next_deadline(const lull_server *srv);

/* ---- Connections ------------------------------------------------------- */

typedef struct lull_conn lull_conn;

/*
 * Callbacks run inside the engine call that caused them.  From a callback
 * an application may call lull_conn_send, lull_conn_close, lull_conn_finish,
 * lull_conn_rekey, lull_conn_tick and the output functions on the same
 * connection; once it has closed it, the engine does nothing more for it.
 * It may not call lull_conn_receive on it (LULL_ERR_STATE: the message it
 * is handed lives in that call's buffers) nor lull_conn_free.
 */
typedef struct lull_callbacks {
	lull_message_fn on_message; /* a whole application message, valid during the call */
	lull_event_fn on_event;
	void *user;
} lull_callbacks;

/* A client connection: authenticates with key (and psk, NULL for none),
 * accepts only a server whose static key is server_pub.  Call
 * lull_conn_start to queue the first handshake message. */
lull_err lull_conn_new_client(lull_conn **out, const lull_config *cfg, const lull_keypair *key,
                              const uint8_t server_pub[LULL_KEY_BYTES], const uint8_t *psk,
                              const lull_callbacks *cb);

/* A server connection bound to srv (which must outlive it). */
lull_err lull_conn_new_server(lull_conn **out, lull_server *srv, const lull_callbacks *cb);

void lull_conn_free(lull_conn *c);

/* Draw c's random bytes (client: its ephemerals; server: its DRKs) from fn
 * with ctx; NULL: OpenSSL's generator (a server connection starts with its
 * server's source).  LULL_ERR_STATE once lull_conn_start has been called. */
lull_err lull_conn_set_random(lull_conn *c, lull_random_fn fn, void *ctx);

/* Client: begin the first handshake at now_ms. Server: start its timers. */
lull_err lull_conn_start(lull_conn *c, uint64_t now_ms);

/* Feed bytes read from the transport.  Messages and events are delivered
 * through the callbacks during the call.  On a fatal error the connection
 * queues a close frame, reports LULL_EV_CLOSED and returns the error.
 * LULL_ERR_STATE from inside one of this connection's callbacks. */
lull_err lull_conn_receive(lull_conn *c, uint64_t now_ms, const uint8_t *bytes, size_t len);

/* Queue one application message (0..max_message bytes).  It is encrypted
 * now, or held until keys are ready.  LULL_ERR_WOULD_BLOCK: too much is
 * held or queued for output; drain output and retry. */
lull_err lull_conn_send(lull_conn *c, uint64_t now_ms, const uint8_t *msg, size_t len);

/* Ask for a new key now, as a full handshake: the client starts one, the
 * server asks the client to (LULL_REKEY_APPLICATION).  Data keeps flowing
 * under the current key meanwhile.  A no-op while a rekey is under way;
 * LULL_ERR_STATE before the first handshake has completed. */
lull_err lull_conn_rekey(lull_conn *c, uint64_t now_ms);

/* Run timers due at now_ms. */
lull_err lull_conn_tick(lull_conn *c, uint64_t now_ms);

/* Absolute time of the next timer (UINT64_MAX: none). */
uint64_t lull_conn_next_deadline(const lull_conn *c);

/* Bytes waiting to be written to the transport: pointer and length of the
 * first contiguous chunk; 0 when nothing is pending. */
size_t lull_conn_output(lull_conn *c, const uint8_t **bytes);
/* The transport wrote n bytes of what lull_conn_output returned. */
void lull_conn_output_consume(lull_conn *c, size_t n);
/* Total bytes pending output (for backpressure). */
size_t lull_conn_output_pending(const lull_conn *c);

/* Close now: queue a close frame with reason.  Messages still held for a
 * key (lull_conn_send accepted them while a handshake was pending) are
 * discarded.  Idempotent. */
void lull_conn_close(lull_conn *c, uint64_t now_ms, lull_close_reason reason);

/* Close once everything sent so far is on its way: no more sends are
 * accepted (LULL_ERR_STATE), messages held for a key are sealed when the
 * key arrives, then a normal close frame follows them.  What the peer
 * sends meanwhile is still delivered.  Use it at the end of a stream. */
lull_err lull_conn_finish(lull_conn *c, uint64_t now_ms);

/* The largest message lull_conn_send accepts now: the agreed max_message
 * once a handshake has completed, this end's own before. */
size_t lull_conn_max_message(const lull_conn *c);

bool lull_conn_is_open(const lull_conn *c);          /* not closed (handshake may be pending) */
bool lull_conn_is_ready(const lull_conn *c);         /* keys installed, data flows now */
uint32_t lull_conn_epoch(const lull_conn *c);        /* 0 before the first handshake */
const char *lull_conn_peer_name(const lull_conn *c); /* server side: authorized name */

#ifdef __cplusplus
}
#endif

#endif /* LULL_H */
