/*
 * policy.c - encoding and merging of the announced policy (see policy.h).
 *
 * "Stricter" means: the smaller interval, timeout, retry count, byte or age
 * limit and message size; and "close" over the lenient action (rekey, drop,
 * stale).  A peer can make the link stricter, never laxer.
 */
#include "policy.h"

#include "config.h"

void policy_encode(const lull_config *cfg, uint8_t out[WIRE_POLICY_BYTES])
{
	out[0] = POLICY_WIRE_VERSION;
	out[1] = (uint8_t)cfg->on_missed_ack;
	out[2] = (uint8_t)cfg->on_spoof;
	out[3] = (uint8_t)cfg->on_missing_heartbeat;
	wire_put_u32(out + 4, cfg->heartbeat_interval_ms);
	wire_put_u32(out + 8, cfg->heartbeat_timeout_ms);
	wire_put_u32(out + 12, cfg->heartbeat_retries);
	wire_put_u32(out + 16, cfg->max_message_bytes);
	wire_put_u64(out + 20, cfg->rekey_bytes);
	wire_put_u64(out + 28, cfg->rekey_max_age_ms);
	wire_put_u64(out + 36, config_reject_after_bytes(cfg));
	wire_put_u64(out + 44, config_reject_after_age_ms(cfg));
}

lull_err policy_decode(const uint8_t in[WIRE_POLICY_BYTES], lull_config *out)
{
	if (in[0] != POLICY_WIRE_VERSION)
		return LULL_ERR_PROTOCOL;
	lull_config peer = *out;
	peer.on_missed_ack = (lull_on_missed_ack)in[1];
	peer.on_spoof = (lull_on_spoof)in[2];
	peer.on_missing_heartbeat = (lull_on_missing_heartbeat)in[3];
	peer.heartbeat_interval_ms = wire_get_u32(in + 4);
	peer.heartbeat_timeout_ms = wire_get_u32(in + 8);
	peer.heartbeat_retries = wire_get_u32(in + 12);
	peer.max_message_bytes = wire_get_u32(in + 16);
	peer.rekey_bytes = wire_get_u64(in + 20);
	peer.rekey_max_age_ms = wire_get_u64(in + 28);
	peer.reject_after_bytes = wire_get_u64(in + 36);
	peer.reject_after_age_ms = wire_get_u64(in + 44);
	/* The derived caps are sent resolved, so 0 would be a lie. */
	if (peer.reject_after_bytes == 0 || peer.reject_after_age_ms == 0)
		return LULL_ERR_PROTOCOL;
	if (lull_config_validate(&peer, NULL) != LULL_OK)
		return LULL_ERR_PROTOCOL;
	*out = peer;
	return LULL_OK;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

void policy_merge_stricter(lull_config *agreed, const lull_config *local, const lull_config *peer)
{
	lull_config m = *local;
	/* Close (0) is stricter than every lenient action (1). */
	m.on_missed_ack = local->on_missed_ack == LULL_ON_MISSED_ACK_CLOSE ||
	                                  peer->on_missed_ack == LULL_ON_MISSED_ACK_CLOSE
	                          ? LULL_ON_MISSED_ACK_CLOSE
	                          : LULL_ON_MISSED_ACK_REKEY;
	m.on_spoof = local->on_spoof == LULL_ON_SPOOF_CLOSE || peer->on_spoof == LULL_ON_SPOOF_CLOSE
	                     ? LULL_ON_SPOOF_CLOSE
	                     : LULL_ON_SPOOF_DROP;
	m.on_missing_heartbeat =
	        local->on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_CLOSE ||
	                        peer->on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_CLOSE
	                ? LULL_ON_MISSING_HEARTBEAT_CLOSE
	                : LULL_ON_MISSING_HEARTBEAT_STALE;
	m.heartbeat_interval_ms =
	        min_u32(local->heartbeat_interval_ms, peer->heartbeat_interval_ms);
	m.heartbeat_timeout_ms = min_u32(local->heartbeat_timeout_ms, peer->heartbeat_timeout_ms);
	m.heartbeat_retries = min_u32(local->heartbeat_retries, peer->heartbeat_retries);
	m.max_message_bytes = min_u32(local->max_message_bytes, peer->max_message_bytes);
	m.rekey_bytes = min_u64(local->rekey_bytes, peer->rekey_bytes);
	m.rekey_max_age_ms = min_u64(local->rekey_max_age_ms, peer->rekey_max_age_ms);
	m.reject_after_bytes =
	        min_u64(config_reject_after_bytes(local), config_reject_after_bytes(peer));
	m.reject_after_age_ms =
	        min_u64(config_reject_after_age_ms(local), config_reject_after_age_ms(peer));
	/* Each side has reject >= rekey, so min(reject) >= min(rekey): the merged
	 * hard cap never falls below the merged soft limit. */
	*agreed = m;
}
