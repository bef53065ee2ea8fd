/*
 * policies.h - the rekey policies the simulator compares, each expressed
 * with the real engine's knobs (lull_config) plus, where a peer protocol
 * acts on events the engine does not know, an application-side rule that
 * uses only the public API (lull_conn_rekey, lull_conn_send).
 */
#ifndef LULL_SIM_POLICIES_H
#define LULL_SIM_POLICIES_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

typedef struct sim_policy {
	const char *name;
	const char *summary;
	/* Fill cfg (both ends use it) from lull_config_default. */
	void (*configure)(lull_config *cfg);
	/* Application rule: before a send on a key at least this old, call
	 * lull_conn_rekey (0: never). */
	uint64_t rekey_before_send_after_ms;
	/* Application rule: an end that received a message and has sent
	 * nothing since sends an empty message this long after (0: never). */
	uint64_t keepalive_ms;
} sim_policy;

/* The policies, lull first; NULL-terminated. */
extern const sim_policy sim_policies[];

const sim_policy *sim_policy_find(const char *name);

#endif /* LULL_SIM_POLICIES_H */
