/*
 * error.c - names and sentences for lull_err.
 *
 * One table, indexed by code, so adding a code means adding one row here and
 * one enumerator in lull.h; tests/test_error.c checks that every enumerator
 * has a row.
 */
#include "lull.h"

#include <stddef.h>

struct err_row {
	const char *name;
	const char *text;
};

#define ROW(code, text) [code] = {#code, text}

static const struct err_row err_rows[] = {
        ROW(LULL_OK, "success"),
        ROW(LULL_ERR_NOMEM, "out of memory"),
        ROW(LULL_ERR_INVALID_ARG, "invalid argument"),
        ROW(LULL_ERR_BUFFER_TOO_SMALL, "output buffer too small"),
        ROW(LULL_ERR_STATE, "operation not allowed in the current state"),
        ROW(LULL_ERR_CRYPTO, "cryptographic library failure"),
        ROW(LULL_ERR_RANDOM, "random number generator failure"),
        ROW(LULL_ERR_DH_ZERO, "Diffie-Hellman result is zero (peer sent a low-order public key)"),
        ROW(LULL_ERR_DECRYPT,
            "authentication failed: message forged, corrupted or under the wrong key"),
        ROW(LULL_ERR_NONCE_EXHAUSTED, "key exhausted its nonces and must be replaced"),
        ROW(LULL_ERR_UNKNOWN_PROTOCOL, "unknown or unsupported Noise protocol name"),
        ROW(LULL_ERR_MISSING_KEY, "handshake pattern needs a key that was not supplied"),
        ROW(LULL_ERR_MSG_TOO_LARGE, "message exceeds the 65535-byte limit"),
        ROW(LULL_ERR_MSG_TRUNCATED, "message shorter than its pattern requires"),
        ROW(LULL_ERR_HANDSHAKE_DONE, "handshake already complete"),
        ROW(LULL_ERR_CONFIG, "configuration value out of range"),
        ROW(LULL_ERR_UNKNOWN_CLIENT, "client key is not authorized"),
        ROW(LULL_ERR_AUTH_FAILED, "peer failed authentication (wrong key or pre-shared key)"),
        ROW(LULL_ERR_SERVER_KEY_MISMATCH, "server key does not match the pinned public key"),
        ROW(LULL_ERR_REPLAY, "replayed handshake message refused"),
        ROW(LULL_ERR_VERSION, "unsupported protocol version or cipher suite"),
        ROW(LULL_ERR_HANDSHAKE_TIMEOUT, "handshake timed out"),
        ROW(LULL_ERR_PROTOCOL, "protocol violation: malformed or unexpected frame"),
        ROW(LULL_ERR_MESSAGE_TOO_LARGE, "message larger than max_message refused"),
        ROW(LULL_ERR_WOULD_BLOCK, "queue full, try again after output drains"),
        ROW(LULL_ERR_CLOSED, "connection is closed"),
        ROW(LULL_ERR_PEER_CLOSED, "peer closed the connection"),
        ROW(LULL_ERR_RETIRED_KEY, "record under a retired key epoch"),
        ROW(LULL_ERR_SPOOF, "data under a stale key rejected as a spoof"),
        ROW(LULL_ERR_KEY_EXPIRED, "key exceeded its hard byte or age limit before rekeying"),
        ROW(LULL_ERR_HEARTBEAT_MISSED, "heartbeat not acknowledged in time"),
        ROW(LULL_ERR_HEARTBEAT_MISSING, "peer sent no heartbeat while idle"),
        ROW(LULL_ERR_SRK_POOL_FULL, "too many handshakes in this interval"),
        ROW(LULL_ERR_STREAM_UNKNOWN, "frame for a stream that was never opened"),
        ROW(LULL_ERR_STREAM_STATE, "stream frame not allowed in the stream's state"),
        ROW(LULL_ERR_FLOW_CONTROL, "stream data past the receive window"),
        ROW(LULL_ERR_WINDOW_OVERFLOW, "stream window credit past the limit"),
        ROW(LULL_ERR_STREAM_LIMIT, "too many concurrent streams on this link"),
};

#define N_ROWS (sizeof(err_rows) / sizeof(err_rows[0]))

static const struct err_row *err_row_of(lull_err err)
{
	if ((unsigned)err >= N_ROWS || err_rows[err].name == NULL)
		return NULL;
	return &err_rows[err];
}

const char *lull_strerror(lull_err err)
{
	const struct err_row *row = err_row_of(err);
	return row ? row->text : "unknown error code";
}

const char *lull_err_name(lull_err err)
{
	const struct err_row *row = err_row_of(err);
	return row ? row->name : "LULL_ERR_UNKNOWN";
}
