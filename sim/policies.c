/*
 * policies.c - lull's adaptive policy and its peers, mapped onto the engine.
 *
 * The engine has no "off" for heartbeats, byte limits or age limits, so a
 * peer policy that lacks one of them sets it past any trace (sim.h:
 * SIM_HEARTBEAT_OFF_MS, SIM_NEVER_*).  "Heartbeats off" then also means: no
 * idle detection (A1/A2), no stale keys (A8), no missing-heartbeat check
 * (A9) - which is exactly how a policy without lull's idle logic behaves.
 *
 * Invariants:
 *  - Every configuration passes lull_config_validate (run.c refuses it
 *    otherwise): heartbeat_timeout x (1 + retries) < heartbeat_interval,
 *    reject_after_bytes >= max_message, reject_after_* >= rekey_*.
 *  - Both ends get the same configuration, so the agreed policy (the
 *    stricter of the two, A11) is that configuration.
 *  - Nothing here fakes a figure: a policy only sets knobs and application
 *    rules; what happens is what the engine does with them.
 *
 * Approximations (docs/rekey-policies.md says the same):
 *  - timed-2min: the engine's age rekey at 120 s with bytes and heartbeats
 *    off.  The hard cap on the old key is the derived one, 120 s +
 *    srk_lifetime.
 *  - wireguard: "handshake when sending on a key older than 120 s" is the
 *    application rule (either end; the server's lull_conn_rekey asks the
 *    client).  WireGuard's REJECT_AFTER_TIME (180 s) cannot be an engine
 *    age cap, because the engine ties its hard age cap to an age rekey
 *    (reject_after_age >= rekey_max_age) and WireGuard never renegotiates
 *    an idle link on a timer.  It is stood in for by the heartbeat at
 *    180 s: after 180 s without data the key turns stale at both ends, as
 *    an expired WireGuard key does - a key that carried data recently is
 *    kept longer than WireGuard would (up to 180 s after the last data
 *    rather than 180 s after the handshake), and the idle link carries one
 *    heartbeat every 180 s, which WireGuard does not send.  WireGuard's
 *    passive keepalive (an empty packet 10 s after receiving data if
 *    nothing was sent) is the keepalive rule: empty messages, which do not
 *    make a key stale.  WireGuard's own 2^60-message limit is never reached
 *    and is not modelled.
 *  - ssh: RekeyLimit 1G 1h: both limits in the engine, heartbeats off
 *    (SSH's ServerAlive/ClientAlive keepalives are off by default and never
 *    retire a key).
 */
#include "policies.h"

#include <string.h>

static void no_heartbeats(lull_config *cfg)
{
	cfg->heartbeat_interval_ms = SIM_HEARTBEAT_OFF_MS;
}

static void configure_lull(lull_config *cfg)
{
	lull_config_default(cfg);
}

static void configure_timed(lull_config *cfg)
{
	lull_config_default(cfg);
	no_heartbeats(cfg);
	cfg->rekey_bytes = SIM_NEVER_BYTES;
	cfg->rekey_max_age_ms = SIM_TIMED_REKEY_MS;
}

static void configure_bytes_only(lull_config *cfg)
{
	lull_config_default(cfg);
	no_heartbeats(cfg);
	cfg->rekey_bytes = SIM_BYTES_ONLY_REKEY_BYTES;
	cfg->rekey_max_age_ms = SIM_NEVER_MS;
}

static void configure_wireguard(lull_config *cfg)
{
	lull_config_default(cfg);
	cfg->heartbeat_interval_ms = (uint32_t)SIM_WG_REJECT_AFTER_MS;
	cfg->heartbeat_timeout_ms = SIM_WG_HEARTBEAT_TIMEOUT_MS;
	cfg->rekey_bytes = SIM_NEVER_BYTES;
	cfg->rekey_max_age_ms = SIM_NEVER_MS;
}

static void configure_ssh(lull_config *cfg)
{
	lull_config_default(cfg);
	no_heartbeats(cfg);
	cfg->rekey_bytes = SIM_SSH_REKEY_BYTES;
	cfg->rekey_max_age_ms = SIM_SSH_REKEY_MS;
}

static void configure_none(lull_config *cfg)
{
	lull_config_default(cfg);
	no_heartbeats(cfg);
	cfg->rekey_bytes = SIM_NEVER_BYTES;
	cfg->rekey_max_age_ms = SIM_NEVER_MS;
}

const sim_policy sim_policies[] = {
        {"lull", "adaptive: idle rekey, heartbeat 60 s / 10 s, 1 GiB, 1 h", configure_lull, 0, 0},
        {"timed-2min", "full handshake every 2 min regardless of traffic", configure_timed, 0, 0},
        {"bytes-only", "rekey after 1 GiB, nothing else", configure_bytes_only, 0, 0},
        {"wireguard", "rekey on send after 120 s, stale after 180 s idle, keepalive 10 s",
         configure_wireguard, SIM_WG_REKEY_AFTER_MS, SIM_WG_KEEPALIVE_MS},
        {"ssh", "rekey after 1 GiB or 1 h", configure_ssh, 0, 0},
        {"none", "one key for the whole connection", configure_none, 0, 0},
        {NULL, NULL, NULL, 0, 0},
};

const sim_policy *sim_policy_find(const char *name)
{
	for (const sim_policy *p = sim_policies; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}
