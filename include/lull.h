/*
 * lull.h - public API of liblull: encrypted, mutually authenticated message
 * transport over TCP with adaptive rekeying.
 *
 * Every fallible call returns a lull_err.  LULL_OK is zero; every other value
 * names one failure and lull_strerror() turns it into a sentence fit for a
 * log line.  Codes are stable: they may be added, never renumbered.
 */
#ifndef LULL_H
#define LULL_H

#ifdef __cplusplus
extern "C" {
#endif

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
} lull_err;

/* A sentence describing err; never NULL, also for unknown values. */
const char *lull_strerror(lull_err err);

/* The identifier of err ("LULL_ERR_DECRYPT"), for logfmt and tests. */
const char *lull_err_name(lull_err err);

#ifdef __cplusplus
}
#endif

#endif /* LULL_H */
