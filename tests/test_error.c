/*
 * test_error.c - every lull_err has a name and a sentence, and unknown codes
 * are reported as such rather than crashing or printing NULL.
 */
#include "test.h"

/* Every enumerator of lull.h.  Adding a code without adding it here and to
 * error.c's table fails this test. */
static const lull_err all_codes[] = {
        LULL_OK,
        LULL_ERR_NOMEM,
        LULL_ERR_INVALID_ARG,
        LULL_ERR_BUFFER_TOO_SMALL,
        LULL_ERR_STATE,
        LULL_ERR_CRYPTO,
        LULL_ERR_RANDOM,
        LULL_ERR_DH_ZERO,
        LULL_ERR_DECRYPT,
        LULL_ERR_NONCE_EXHAUSTED,
        LULL_ERR_UNKNOWN_PROTOCOL,
        LULL_ERR_MISSING_KEY,
        LULL_ERR_MSG_TOO_LARGE,
        LULL_ERR_MSG_TRUNCATED,
        LULL_ERR_HANDSHAKE_DONE,
        LULL_ERR_CONFIG,
        LULL_ERR_UNKNOWN_CLIENT,
        LULL_ERR_AUTH_FAILED,
        LULL_ERR_SERVER_KEY_MISMATCH,
        LULL_ERR_REPLAY,
        LULL_ERR_VERSION,
        LULL_ERR_HANDSHAKE_TIMEOUT,
        LULL_ERR_PROTOCOL,
        LULL_ERR_MESSAGE_TOO_LARGE,
        LULL_ERR_WOULD_BLOCK,
        LULL_ERR_CLOSED,
        LULL_ERR_PEER_CLOSED,
        LULL_ERR_RETIRED_KEY,
        LULL_ERR_SPOOF,
        LULL_ERR_KEY_EXPIRED,
        LULL_ERR_HEARTBEAT_MISSED,
        LULL_ERR_HEARTBEAT_MISSING,
        LULL_ERR_SRK_POOL_FULL,
        LULL_ERR_STREAM_UNKNOWN,
        LULL_ERR_STREAM_STATE,
        LULL_ERR_FLOW_CONTROL,
        LULL_ERR_WINDOW_OVERFLOW,
        LULL_ERR_STREAM_LIMIT,
};

int main(void)
{
	const size_t n = sizeof(all_codes) / sizeof(all_codes[0]);
	for (size_t i = 0; i < n; i++) {
		const char *name = lull_err_name(all_codes[i]);
		const char *text = lull_strerror(all_codes[i]);
		CHECK(strncmp(name, "LULL_", 5) == 0);
		CHECK(strcmp(name, "LULL_ERR_UNKNOWN") != 0);
		CHECK(strcmp(text, "unknown error code") != 0 && text[0] != '\0');
		for (size_t j = 0; j < i; j++) {
			CHECK(all_codes[i] != all_codes[j]);
			CHECK(strcmp(lull_strerror(all_codes[j]), text) != 0);
		}
	}
	CHECK(strcmp(lull_err_name(LULL_ERR_DECRYPT), "LULL_ERR_DECRYPT") == 0);
	CHECK(strcmp(lull_strerror((lull_err)9999), "unknown error code") == 0);
	CHECK(strcmp(lull_err_name((lull_err)-1), "LULL_ERR_UNKNOWN") == 0);
	CHECK(strcmp(lull_strerror((lull_err)5), "unknown error code") == 0); /* gap in table */
	return test_summary();
}
