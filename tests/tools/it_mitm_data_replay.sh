#!/bin/sh
# A DATA record captured before an idle spell and replayed after it.
#
# Why spoof and not decrypt_failed: since protocol version 2 the key of each
# direction ratchets after a heartbeat and its ack (protocol.md §4.1), so
# once the link is idle no key that could open the captured record (the
# first carrying data, after the stream's OPEN) is left.
# DATA that claims the stale epoch is then refused as a spoof (A8: any data
# under a stale key) without being opened.  Before the ratchet it was opened,
# failed at the implicit nonce and closed with decrypt_failed; either way the
# target never sees the replay.  A record under a retired epoch (case 3) is
# still a protocol error.
#
#  1. replayed while the key is stale (before the 2nd heartbeat, no rekey
#     yet): spoof under epoch 1;
#  2. replayed during the idle rekey, just before the client's KEY_END (the
#     server still holds epoch 1's ratcheted key as its previous receive
#     key): spoof as well;
#  3. replayed after the rekey, just before the first data under epoch 2:
#     epoch 1 ended with the client's KEY_END and its key is gone, so the
#     record is under a retired key: protocol_error.
# In all three the target receives exactly the honest data, never the replay;
# the sink's byte count below would be off if one were delivered.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
ref_sink_init

# replay_case N RULE STEPS EPOCH [REASON]: run one tunnel with the capture
# rule and RULE; expect a close for REASON (spoof) under EPOCH and only
# honest bytes at the target.
replay_case() {
	reason=${5:-spoof}
	start_echo sink$1 --mode sink
	start_server server$1 "$ECHO_PORT" "$T/authorized" $HB
	start_mitm mitm$1 "$SERVER_PORT" --trace \
		--rule "dir=c2s type=DATA nth=2 capture=d1" --rule "$2"
	start_client client$1 alice "$MITM_PORT" $HB --streams-per-link 1
	"$LOAD" --port "$CLIENT_PORT" --mode send --steps "$3" --seed 7 \
		--timeout $((20 * SLOW)) >"$T/load$1.out" 2>&1
	wait_for "$T/server$1.log" "event=closed" 5 || fail "case $1: server never closed"
	grep -q "action=capture slot=d1" "$T/mitm$1.log" || fail "case $1: nothing captured"
	grep -q "action=replay slot=d1 slot_len=4125" "$T/mitm$1.log" ||
		fail "case $1: nothing replayed"
	grep -q "peer=alice event=closed reason=$reason by_peer=0 epoch=$4" \
		"$T/server$1.log" || fail "case $1: server did not close with $reason"
	if [ "$reason" = spoof ]; then
		grep -q "event=spoof_rejected epoch=$4" "$T/server$1.log" ||
			fail "case $1: no spoof_rejected under epoch $4"
	else
		grep -q "event=spoof_rejected" "$T/server$1.log" &&
			fail "case $1: a replay under a retired key seen as a spoof"
	fi
	grep -q "event=closed reason=$reason by_peer=1" "$T/client$1.log" ||
		fail "case $1: client did not learn why"
	# The target saw the honest first message once, not the replay.
	wait_for "$T/sink$1.out" "sink conn=" 5 || fail "case $1: target connection not closed"
	want=$(stream_sha 7 4K)
	[ -n "$want" ] || fail "no reference hash"
	grep -q "sink conn=1 bytes=4096 sha256=$want" "$T/sink$1.out" ||
		fail "case $1: the target saw other bytes: $(cat "$T/sink$1.out")"
	stop_pid "$CLIENT_PID" 5
	stop_pid "$SERVER_PID" 5
}

# The second 4K goes out only after the idle spell: in case 1 the replay
# comes while the link is still idle, in case 2 just before that 4K.  The
# load idles once more before its EOF so that the tunnel is still up when
# the replay arrives.
replay_case 1 "dir=c2s type=HEARTBEAT nth=2 replay=d1" 4K,s4000,4K 1
pass "a data record replayed after an idle spell (key stale, epoch 1): spoof"
replay_case 2 "dir=c2s type=KEY_END nth=1 replay=d1" 4K,s2500,4K,s1000 2
grep -q "event=handshake_started reason=idle epoch=2" "$T/client2.log" ||
	fail "case 2: no idle rekey before the replay"
pass "a data record replayed during the idle rekey (old key, epoch 2 begun): spoof"
replay_case 3 "dir=c2s type=DATA nth=3 replay=d1" 4K,s2500,4K,s1000 2 protocol_error
grep -q "event=handshake_done reason=idle epoch=2" "$T/client3.log" ||
	fail "case 3: no idle rekey before the replay"
grep -q "err=LULL_ERR_RETIRED_KEY" "$T/server3.log" || fail "case 3: not refused as a retired key"
pass "a data record replayed after the rekey (retired key): protocol_error"
it_pass
