/*
 * policy.c - encoding and merging of the announced policy (see policy.h).
 *
 * "Stricter" means: the smaller interval, timeout, retry count, byte or age
 * limit and message size; and "close" over the lenient action (rekey, drop,
 * stale).  A peer can make the link stricter, never laxer.
 */
#include "policy.h"

#include <string.h>

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

/* ---- The state machine (see policy.h for its invariants) ---------------- */

void policy_init(policy_state *ps, bool is_client)
{
	memset(ps, 0, sizeof(*ps));
	ps->is_client = is_client;
}

void policy_key_installed(policy_state *ps, uint64_t now_ms)
{
	/* Heartbeat ids run on across keys, so a late ack is never mistaken
	 * for an answer to a heartbeat under the new key. */
	uint32_t hb_id = ps->hb_id;
	bool rx_prev_stale = ps->rx_stale;
	policy_init(ps, ps->is_client);
	ps->hb_id = hb_id;
	ps->rx_prev_stale = rx_prev_stale;
	ps->keyed = true;
	ps->key_installed_ms = now_ms;
	ps->activity_ms = now_ms;
}

static bool rekey_pending(const policy_state *ps)
{
	return ps->handshake || ps->rekey_asked;
}

/* A key stale both ways carries no data in either direction: replacing it
 * on a byte or age limit would buy nothing (the next data rekeys anyway),
 * and on an idle link it would cost a full handshake per rekey_max_age. */
static bool key_dead(const policy_state *ps)
{
	return ps->tx_stale && ps->rx_stale;
}

static uint64_t hb_interval_ms(const lull_config *cfg)
{
	return cfg->heartbeat_interval_ms;
}

/* The client's next grid point (A4). */
static uint64_t hb_next_ms(const policy_state *ps, const lull_config *cfg)
{
	return (ps->hb_since_activity ? ps->hb_last_sched_ms : ps->activity_ms) +
	       hb_interval_ms(cfg);
}

/* Server: A9's deadline.  Retries widen it, because a client that lost an
 * ack sends its retry heartbeat_timeout later. */
static uint64_t missing_deadline_ms(const policy_state *ps, const lull_config *cfg)
{
	uint64_t last = ps->hb_rx_ms > ps->activity_ms ? ps->hb_rx_ms : ps->activity_ms;
	return last + hb_interval_ms(cfg) +
	       (uint64_t)cfg->heartbeat_timeout_ms * (1 + (uint64_t)cfg->heartbeat_retries);
}

/* Server: how long it leaves the client to start a byte or age rekey. */
static uint64_t server_grace_ms(const lull_config *cfg)
{
	return cfg->heartbeat_timeout_ms;
}

static uint64_t age_rekey_at_ms(const policy_state *ps, const lull_config *cfg)
{
	return ps->key_installed_ms + cfg->rekey_max_age_ms +
	       (ps->is_client ? 0 : server_grace_ms(cfg));
}

/* rekey_bytes reached: true when the caller should rekey now (client); the
 * server only notes the time (see policy.h). */
static bool bytes_counted(policy_state *ps, const lull_config *cfg, uint64_t now_ms)
{
	if (ps->bytes < cfg->rekey_bytes || rekey_pending(ps))
		return false;
	if (ps->is_client)
		return true;
	if (!ps->bytes_crossed) {
		ps->bytes_crossed = true;
		ps->bytes_crossed_ms = now_ms;
	}
	return false;
}

static bool key_past_age(const policy_state *ps, uint64_t limit_ms, uint64_t now_ms)
{
	return now_ms - ps->key_installed_ms >= limit_ms;
}

policy_verdict policy_check_send(policy_state *ps, const lull_config *cfg, uint64_t now_ms,
                                 size_t len, bool *rekey, lull_rekey_reason *reason)
{
	*rekey = false;
	if (!ps->keyed)
		return POLICY_HOLD; /* the first handshake will end the hold */
	/* A2: data about to flow after an idle spell waits for a new key. */
	if (now_ms - ps->activity_ms >= hb_interval_ms(cfg))
		ps->tx_stale = true;
	lull_rekey_reason why;
	if (ps->tx_stale)
		why = LULL_REKEY_IDLE;
	else if (ps->bytes + len > config_reject_after_bytes(cfg))
		why = LULL_REKEY_BYTES;
	else if (key_past_age(ps, config_reject_after_age_ms(cfg), now_ms))
		why = LULL_REKEY_AGE;
	else
		return POLICY_OK;
	if (!rekey_pending(ps)) {
		*rekey = true;
		*reason = why;
	}
	return POLICY_HOLD;
}

bool policy_on_sent(policy_state *ps, const lull_config *cfg, uint64_t now_ms, size_t len)
{
	ps->bytes += len;
	ps->activity_ms = now_ms;
	ps->hb_since_activity = false;
	return bytes_counted(ps, cfg, now_ms);
}

policy_verdict policy_on_received(policy_state *ps, const lull_config *cfg, uint64_t now_ms,
                                  size_t len, bool *rekey)
{
	*rekey = false;
	if (ps->rx_stale)
		return POLICY_SPOOF;
	/* The sender stops at the caps by its own count and clock; its count
	 * includes what it received, so its sent bytes alone never pass the
	 * cap.  Its key was installed up to a handshake later than ours, hence
	 * the srk_lifetime of slack on age. */
	if (ps->rx_bytes + len > config_reject_after_bytes(cfg) ||
	    key_past_age(ps, config_reject_after_age_ms(cfg) + cfg->srk_lifetime_ms, now_ms))
		return POLICY_KEY_EXPIRED;
	ps->bytes += len;
	ps->rx_bytes += len;
	ps->activity_ms = now_ms;
	ps->hb_since_activity = false;
	ps->missing_reported = false;
	*rekey = bytes_counted(ps, cfg, now_ms);
	return POLICY_OK;
}

policy_verdict policy_on_received_previous_key(policy_state *ps, uint64_t now_ms)
{
	if (ps->rx_prev_stale)
		return POLICY_SPOOF;
	ps->activity_ms = now_ms;
	ps->hb_since_activity = false;
	ps->missing_reported = false;
	return POLICY_OK;
}

bool policy_heartbeat_sent(policy_state *ps, const lull_config *cfg, uint64_t now_ms, uint32_t *id)
{
	if (ps->hb_awaiting) {
		ps->hb_resends++;
	} else {
		/* Anchor on the grid even when the tick came late, skipping
		 * grid points that passed unobserved. */
		uint64_t sched = hb_next_ms(ps, cfg);
		if (now_ms > sched)
			sched += (now_ms - sched) / hb_interval_ms(cfg) * hb_interval_ms(cfg);
		ps->hb_last_sched_ms = sched;
		ps->hb_since_activity = true;
		ps->hb_awaiting = true;
		ps->hb_resends = 0;
		ps->hb_first_unacked = ps->hb_id + 1;
	}
	*id = ++ps->hb_id;
	ps->hb_ack_deadline_ms = now_ms + cfg->heartbeat_timeout_ms;
	bool newly_stale = !ps->tx_stale;
	ps->tx_stale = true;
	return newly_stale;
}

lull_err policy_on_heartbeat_ack(policy_state *ps, uint32_t id, bool *acked)
{
	*acked = false;
	if (id == 0 || id > ps->hb_id)
		return LULL_ERR_PROTOCOL;
	if (ps->hb_awaiting && id >= ps->hb_first_unacked) {
		ps->hb_awaiting = false;
		ps->hb_resends = 0;
		*acked = true;
	}
	/* The server saw a heartbeat: it sends nothing more under this key. */
	ps->rx_stale = true;
	return LULL_OK;
}

bool policy_on_heartbeat(policy_state *ps, uint64_t now_ms)
{
	bool newly_stale = !ps->rx_stale;
	ps->hb_rx_ms = now_ms;
	ps->missing_reported = false;
	ps->tx_stale = ps->rx_stale = true;
	return newly_stale;
}

void policy_rekey_asked(policy_state *ps, lull_rekey_reason reason)
{
	ps->rekey_asked = true;
	ps->asked_reason = reason;
}

void policy_set_handshake(policy_state *ps, bool running)
{
	ps->handshake = running;
}

lull_rekey_reason policy_server_rekey_reason(const policy_state *ps, const lull_config *cfg,
                                             uint64_t now_ms)
{
	if (ps->rekey_asked)
		return ps->asked_reason;
	if (ps->tx_stale || ps->rx_stale || now_ms - ps->activity_ms >= hb_interval_ms(cfg))
		return LULL_REKEY_IDLE;
	if (ps->bytes >= cfg->rekey_bytes)
		return LULL_REKEY_BYTES;
	if (key_past_age(ps, cfg->rekey_max_age_ms, now_ms))
		return LULL_REKEY_AGE;
	return LULL_REKEY_PEER_REQUEST;
}

policy_due policy_tick(policy_state *ps, const lull_config *cfg, uint64_t now_ms)
{
	policy_due due = {0};
	if (!ps->keyed)
		return due;
	if (!rekey_pending(ps) && !key_dead(ps)) {
		if (ps->bytes_crossed && now_ms >= ps->bytes_crossed_ms + server_grace_ms(cfg)) {
			due.rekey = true;
			due.rekey_reason = LULL_REKEY_BYTES;
		} else if (now_ms >= age_rekey_at_ms(ps, cfg)) {
			due.rekey = true;
			due.rekey_reason = LULL_REKEY_AGE;
		}
	}
	if (ps->handshake)
		return due; /* the handshake is the liveness check now */
	if (ps->is_client) {
		if (ps->hb_awaiting) {
			if (now_ms >= ps->hb_ack_deadline_ms) {
				if (ps->hb_resends < cfg->heartbeat_retries) {
					due.send_heartbeat = true;
				} else {
					ps->hb_awaiting = false;
					due.heartbeat_missed = true;
				}
			}
		} else if (now_ms >= hb_next_ms(ps, cfg)) {
			due.send_heartbeat = true;
		}
	} else if (!ps->missing_reported && now_ms >= missing_deadline_ms(ps, cfg)) {
		ps->missing_reported = true;
		due.heartbeat_missing = true;
		if (cfg->on_missing_heartbeat == LULL_ON_MISSING_HEARTBEAT_STALE)
			ps->tx_stale = ps->rx_stale = true;
	}
	return due;
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t policy_next_deadline(const policy_state *ps, const lull_config *cfg)
{
	if (!ps->keyed)
		return UINT64_MAX;
	uint64_t d = UINT64_MAX;
	if (!rekey_pending(ps) && !key_dead(ps)) {
		d = age_rekey_at_ms(ps, cfg);
		if (ps->bytes_crossed)
			d = min_deadline(d, ps->bytes_crossed_ms + server_grace_ms(cfg));
	}
	if (ps->handshake)
		return d;
	if (ps->is_client)
		d = min_deadline(d, ps->hb_awaiting ? ps->hb_ack_deadline_ms : hb_next_ms(ps, cfg));
	else if (!ps->missing_reported)
		d = min_deadline(d, missing_deadline_ms(ps, cfg));
	return d;
}
