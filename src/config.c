/*
 * config.c - the knobs of the design brief: defaults, validation, the limits
 * derived from them, and the names events and reasons carry in logs.
 *
 * Invariants:
 *  - Defaults come only from the LULL_DEFAULT_* constants of lull.h.
 *  - lull_config_validate accepts exactly the configurations the engine can
 *    honour; everything else is named (the field) and refused up front, so
 *    no later code has to cope with a zero interval or an unbounded limit.
 */
#include "config.h"

#include "crypto.h"

void lull_config_default(lull_config *cfg)
{
	*cfg = (lull_config){
	        .suite = LULL_SUITE_AESGCM_SHA256,
	        .heartbeat_interval_ms = LULL_DEFAULT_HEARTBEAT_INTERVAL_MS,
	        .heartbeat_timeout_ms = LULL_DEFAULT_HEARTBEAT_TIMEOUT_MS,
	        .heartbeat_retries = LULL_DEFAULT_HEARTBEAT_RETRIES,
	        .on_missed_ack = LULL_ON_MISSED_ACK_CLOSE,
	        .on_spoof = LULL_ON_SPOOF_CLOSE,
	        .on_missing_heartbeat = LULL_ON_MISSING_HEARTBEAT_CLOSE,
	        .rekey_bytes = LULL_DEFAULT_REKEY_BYTES,
	        .rekey_max_age_ms = LULL_DEFAULT_REKEY_MAX_AGE_MS,
	        .reject_after_bytes = 0,
	        .reject_after_age_ms = 0,
	        .srk_interval_ms = LULL_DEFAULT_SRK_INTERVAL_MS,
	        .srk_lifetime_ms = LULL_DEFAULT_SRK_LIFETIME_MS,
	        .srk_keep = LULL_DEFAULT_SRK_KEEP,
	        .srk_replay_max = LULL_DEFAULT_SRK_REPLAY_MAX,
	        .max_message_bytes = LULL_DEFAULT_MAX_MESSAGE_BYTES,
	        .srk_pool_disabled = false,
	};
}

static lull_err config_bad(const char **bad_field, const char *field)
{
	if (bad_field)
		*bad_field = field;
	return LULL_ERR_CONFIG;
}

lull_err lull_config_validate(const lull_config *cfg, const char **bad_field)
{
	if (bad_field)
		*bad_field = NULL;
	if (!cfg)
		return LULL_ERR_INVALID_ARG;
	if (cfg->suite != LULL_SUITE_AESGCM_SHA256 && cfg->suite != LULL_SUITE_CHACHAPOLY_BLAKE2B)
		return config_bad(bad_field, "suite");
	if (cfg->heartbeat_interval_ms == 0)
		return config_bad(bad_field, "heartbeat_interval");
	if (cfg->heartbeat_timeout_ms == 0)
		return config_bad(bad_field, "heartbeat_timeout");
	if (cfg->heartbeat_retries > LULL_HEARTBEAT_RETRIES_MAX)
		return config_bad(bad_field, "heartbeat_retries");
	/* Every try of one heartbeat must end before the next is due, so the
	 * heartbeat grid stays fixed (A4). */
	if ((uint64_t)cfg->heartbeat_timeout_ms * (1 + (uint64_t)cfg->heartbeat_retries) >=
	    cfg->heartbeat_interval_ms)
		return config_bad(bad_field, "heartbeat_timeout");
	if (cfg->on_missed_ack != LULL_ON_MISSED_ACK_CLOSE &&
	    cfg->on_missed_ack != LULL_ON_MISSED_ACK_REKEY)
		return config_bad(bad_field, "on_missed_ack");
	if (cfg->on_spoof != LULL_ON_SPOOF_CLOSE && cfg->on_spoof != LULL_ON_SPOOF_DROP)
		return config_bad(bad_field, "on_spoof");
	if (cfg->on_missing_heartbeat != LULL_ON_MISSING_HEARTBEAT_CLOSE &&
	    cfg->on_missing_heartbeat != LULL_ON_MISSING_HEARTBEAT_STALE)
		return config_bad(bad_field, "on_missing_heartbeat");
	if (cfg->rekey_bytes == 0 || cfg->rekey_bytes > UINT64_MAX / 2)
		return config_bad(bad_field, "rekey_bytes");
	if (cfg->rekey_max_age_ms == 0 || cfg->rekey_max_age_ms > UINT64_MAX / 2)
		return config_bad(bad_field, "rekey_max_age");
	if (cfg->reject_after_bytes != 0 && cfg->reject_after_bytes < cfg->rekey_bytes)
		return config_bad(bad_field, "reject_after_bytes");
	if (cfg->reject_after_age_ms != 0 && cfg->reject_after_age_ms < cfg->rekey_max_age_ms)
		return config_bad(bad_field, "reject_after_age");
	if (cfg->srk_interval_ms < LULL_SRK_INTERVAL_MIN_MS ||
	    cfg->srk_interval_ms > LULL_SRK_INTERVAL_MAX_MS)
		return config_bad(bad_field, "srk_interval");
	if (cfg->srk_lifetime_ms == 0 || cfg->srk_lifetime_ms > LULL_SRK_LIFETIME_MAX_MS)
		return config_bad(bad_field, "srk_lifetime");
	if (cfg->srk_keep < LULL_SRK_KEEP_MIN || cfg->srk_keep > LULL_SRK_KEEP_MAX)
		return config_bad(bad_field, "srk_keep");
	if (cfg->srk_replay_max == 0 || cfg->srk_replay_max > LULL_SRK_REPLAY_MAX_LIMIT)
		return config_bad(bad_field, "srk_replay_max");
	if (cfg->max_message_bytes == 0 || cfg->max_message_bytes > LULL_MAX_MESSAGE_LIMIT_BYTES)
		return config_bad(bad_field, "max_message");
	/* A fresh key must be able to carry any one message. */
	if (config_reject_after_bytes(cfg) < cfg->max_message_bytes)
		return config_bad(bad_field, "max_message");
	return LULL_OK;
}

uint64_t config_reject_after_bytes(const lull_config *cfg)
{
	return cfg->reject_after_bytes ? cfg->reject_after_bytes : 2 * cfg->rekey_bytes;
}

uint64_t config_reject_after_age_ms(const lull_config *cfg)
{
	return cfg->reject_after_age_ms ? cfg->reject_after_age_ms
	                                : cfg->rekey_max_age_ms + cfg->srk_lifetime_ms;
}

lull_err lull_keypair_generate(lull_keypair *kp)
{
	if (!kp)
		return LULL_ERR_INVALID_ARG;
	return crypto_dh_generate(CRYPTO_DH_25519, kp->priv, kp->pub);
}

lull_err lull_keypair_from_private(lull_keypair *kp, const uint8_t priv[LULL_KEY_BYTES])
{
	if (!kp || !priv)
		return LULL_ERR_INVALID_ARG;
	if (kp->priv != priv)
		memcpy(kp->priv, priv, LULL_KEY_BYTES);
	return crypto_dh_public(CRYPTO_DH_25519, kp->priv, kp->pub);
}

void lull_wipe(void *p, size_t len)
{
	crypto_wipe(p, len);
}

const char *lull_event_name(lull_event_type type)
{
	switch (type) {
	case LULL_EV_HANDSHAKE_STARTED:
		return "handshake_started";
	case LULL_EV_HANDSHAKE_DONE:
		return "handshake_done";
	case LULL_EV_AUTH_FAILED:
		return "auth_failed";
	case LULL_EV_SRK_CREATED:
		return "srk_created";
	case LULL_EV_SRK_ERASED:
		return "srk_erased";
	case LULL_EV_REPLAY_REFUSED:
		return "replay_refused";
	case LULL_EV_HEARTBEAT_SENT:
		return "heartbeat_sent";
	case LULL_EV_HEARTBEAT_ACKED:
		return "heartbeat_acked";
	case LULL_EV_HEARTBEAT_MISSED:
		return "heartbeat_missed";
	case LULL_EV_KEY_STALE:
		return "key_stale";
	case LULL_EV_REKEY_REQUESTED:
		return "rekey_requested";
	case LULL_EV_SPOOF_REJECTED:
		return "spoof_rejected";
	case LULL_EV_CLOSED:
		return "closed";
	case LULL_EV_HEARTBEAT_RECEIVED:
		return "heartbeat_received";
	}
	return "unknown";
}

const char *lull_rekey_reason_name(lull_rekey_reason r)
{
	switch (r) {
	case LULL_REKEY_NONE:
		return "initial";
	case LULL_REKEY_IDLE:
		return "idle";
	case LULL_REKEY_BYTES:
		return "bytes";
	case LULL_REKEY_AGE:
		return "age";
	case LULL_REKEY_PEER_REQUEST:
		return "peer_request";
	case LULL_REKEY_MISSED_ACK:
		return "missed_ack";
	case LULL_REKEY_APPLICATION:
		return "application";
	}
	return "unknown";
}

static const char *const close_reason_names[LULL_CLOSE_REASON_COUNT] = {
        [LULL_CLOSE_NORMAL] = "normal",
        [LULL_CLOSE_PROTOCOL_ERROR] = "protocol_error",
        [LULL_CLOSE_AUTH_FAILED] = "auth_failed",
        [LULL_CLOSE_UNKNOWN_CLIENT] = "unknown_client",
        [LULL_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
        [LULL_CLOSE_REPLAY] = "replay",
        [LULL_CLOSE_VERSION] = "version",
        [LULL_CLOSE_MESSAGE_TOO_LARGE] = "message_too_large",
        [LULL_CLOSE_DECRYPT_FAILED] = "decrypt_failed",
        [LULL_CLOSE_SPOOF] = "spoof",
        [LULL_CLOSE_HEARTBEAT_MISSED] = "heartbeat_missed",
        [LULL_CLOSE_HEARTBEAT_MISSING] = "heartbeat_missing",
        [LULL_CLOSE_KEY_EXPIRED] = "key_expired",
        [LULL_CLOSE_SHUTDOWN] = "shutdown",
        [LULL_CLOSE_BUSY] = "busy",
        [LULL_CLOSE_INTERNAL_ERROR] = "internal_error",
        [LULL_CLOSE_TARGET_UNREACHABLE] = "target_unreachable",
        [LULL_CLOSE_TRANSPORT_LOST] = "transport_lost",
};

const char *lull_close_reason_name(lull_close_reason r)
{
	if ((unsigned)r >= LULL_CLOSE_REASON_COUNT || !close_reason_names[r])
		return "unknown";
	return close_reason_names[r];
}
