/*
 * policy.h - the rekey/heartbeat policy both ends enforce (design brief §1A).
 *
 * This part is the agreement (A11): the server announces its policy in
 * handshake message 2, the client answers with its own in message 3, and
 * both compute, knob by knob, the stricter of the two.  Because the merge is
 * a pure function of the two announcements, both ends hold the same numbers
 * without a further round trip.
 *
 *   policy = version:u8 | on_missed_ack:u8 | on_spoof:u8 | on_missing_hb:u8
 *          | heartbeat_interval_ms:u32 | heartbeat_timeout_ms:u32
 *          | heartbeat_retries:u32 | max_message_bytes:u32
 *          | rekey_bytes:u64 | rekey_max_age_ms:u64
 *          | reject_after_bytes:u64 | reject_after_age_ms:u64     (52 bytes, BE)
 *
 * The reject_after_* values on the wire are the effective ones (derived
 * defaults resolved), so both ends cap at the same byte and millisecond.
 */
#ifndef LULL_POLICY_H
#define LULL_POLICY_H

#include <stdint.h>

#include "lull.h"
#include "wire.h"

#define POLICY_WIRE_VERSION 1

void policy_encode(const lull_config *cfg, uint8_t out[WIRE_POLICY_BYTES]);

/*
 * Decode a peer's announcement into the policy fields of *out (others are
 * left as they are).  LULL_ERR_PROTOCOL for an unknown version or a value
 * lull_config_validate would refuse.
 */
lull_err policy_decode(const uint8_t in[WIRE_POLICY_BYTES], lull_config *out);

/* agreed = local with every policy knob replaced by the stricter of
 * local's and peer's. */
void policy_merge_stricter(lull_config *agreed, const lull_config *local, const lull_config *peer);

#endif /* LULL_POLICY_H */
