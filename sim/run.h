/*
 * run.h - one replay: a trace through a real client/server engine pair
 * under one policy, on a virtual clock, and what the engines did.
 *
 * Every figure in sim_result is counted from the engines' events and state
 * during the replay (see run.c for how each is taken); none is computed
 * from the policy's settings.
 */
#ifndef LULL_SIM_RUN_H
#define LULL_SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "policies.h"
#include "sim.h"

#define SIM_REKEY_REASONS (LULL_REKEY_APPLICATION + 1)
#define SIM_ERR_MSG_BYTES 256

/* One key epoch as the client saw it; times since the trace's start. */
typedef struct sim_epoch {
	uint32_t epoch;
	lull_rekey_reason reason;
	uint64_t start_ms;
	uint64_t accept_end_ms; /* the last time either end accepted data under it */
	uint64_t end_ms;        /* replaced, or the end of the replay */
} sim_epoch;

typedef struct sim_result {
	char trace[SIM_TRACE_NAME_MAX_BYTES];
	const char *policy;
	uint64_t duration_ms;

	uint64_t messages;   /* trace messages delivered (all of them, or the run fails) */
	uint64_t app_bytes;  /* their bytes */
	uint64_t keepalives; /* empty messages of the keepalive rule, delivered */

	uint64_t handshakes; /* full handshakes completed, the first included */
	uint64_t handshakes_by_reason[SIM_REKEY_REASONS];
	uint64_t heartbeats;      /* heartbeats the client sent, retries included */
	uint64_t spoofs_rejected; /* must stay 0: nobody attacks in a replay */

	uint64_t max_key_bytes;   /* application bytes under one key, both ways */
	uint64_t max_key_life_ms; /* installation to the last time an end accepted it */

	/* Longest stretch without legitimate data on the link during which an
	 * end still accepted data under a key (see run.c). */
	uint64_t spoof_window_ms;
	uint64_t spoof_window_start_ms;
	bool spoof_window_at_server; /* which end accepted it */
	uint32_t spoof_window_epoch; /* under which key */

	/* Timeline, for plots. */
	sim_epoch *epochs;
	size_t n_epochs, cap_epochs;
	uint64_t *heartbeat_ms;
	size_t n_heartbeats, cap_heartbeats;
} sim_result;

/* Replay tr under pol into *res (which the caller frees with
 * sim_result_free, also on failure).  On failure err_buf says why. */
sim_err sim_run(const sim_trace *tr, const sim_policy *pol, sim_result *res, char *err_buf,
                size_t err_len);

void sim_result_free(sim_result *res);

/*
 * For tests: replay tr under pol until at_ms (since the trace's start), then
 * play an attacker who broke the key of `epoch` in one direction and
 * injects one data record to the server (to_server) or to the client.
 * *accepted: the engine delivered it as a message.  A key the receiver no
 * longer holds is not accepted.
 */
sim_err sim_probe_spoof(const sim_trace *tr, const sim_policy *pol, uint64_t at_ms, bool to_server,
                        uint32_t epoch, bool *accepted, char *err_buf, size_t err_len);

/* CPU time of one full handshake (both ends, rekey with the SRK pool), in
 * nanoseconds: the best of SIM_HS_MEASURE_BATCHES timed batches. */
sim_err sim_measure_handshake_ns(uint64_t *ns, char *err_buf, size_t err_len);

#endif /* LULL_SIM_RUN_H */
