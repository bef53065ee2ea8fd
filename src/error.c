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
