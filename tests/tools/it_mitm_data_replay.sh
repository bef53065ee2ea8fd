#!/bin/sh
# A DATA record captured before an idle spell and replayed after it.
#
# Why decrypt_failed and not spoof: records carry no sequence number; the
# AEAD nonce is the implicit per-key counter (§2).  The captured record was
# sealed with seq 0; by the time it is replayed the server has received more
# records under that key (the data, then heartbeats) and expects a higher
# seq, so the tag cannot verify and the server closes with decrypt_failed
# before it ever asks whether the key was stale.  A spoof (§6.1, A8) is a
# record that does authenticate under a stale key: only someone holding the
# key can forge one at the right seq.  it_spoof.sh plays that attacker with
# the key in hand; this test plays the one who only has the wire.
#
#  1. replayed while the key is stale (before the 2nd heartbeat, no rekey
#     yet): decrypt_failed under epoch 1;
#  2. replayed during the idle rekey, just before the client's KEY_END (the
#     server still holds epoch 1's key as its previous receive key):
#     decrypt_failed as well;
#  3. replayed after the rekey, just before the first data under epoch 2:
#     epoch 1 ended with the client's KEY_END and its key is gone, so the
#     record is under a retired key: protocol_error.
# In both the target receives exactly the honest data, never the replay.
# Without the implicit nonce (a fixed nonce, say) the replay would verify
# and be delivered, and the sink's byte count below would be off.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
ref_sink_init

# replay_case N RULE STEPS EPOCH [REASON]: run one tunnel with the capture
# rule and RULE; expect a close for REASON (decrypt_failed) under EPOCH and
# only honest bytes at the target.
replay_case() {
	reason=${5:-decrypt_failed}
	start_echo sink$1 --mode sink
	start_server server$1 "$ECHO_PORT" "$T/authorized" $HB
	start_mitm mitm$1 "$SERVER_PORT" --trace \
		--rule "dir=c2s type=DATA nth=1 capture=d1" --rule "$2"
	start_client client$1 alice "$MITM_PORT" $HB
	"$LOAD" --port "$CLIENT_PORT" --mode send --steps "$3" --seed 7 \
		--timeout $((20 * SLOW)) >"$T/load$1.out" 2>&1
	wait_for "$T/server$1.log" "event=closed" 5 || fail "case $1: server never closed"
	grep -q "action=capture slot=d1" "$T/mitm$1.log" || fail "case $1: nothing captured"
	grep -q "action=replay slot=d1 slot_len=4120" "$T/mitm$1.log" ||
		fail "case $1: nothing replayed"
	grep -q "peer=alice event=closed reason=$reason by_peer=0 epoch=$4" \
		"$T/server$1.log" || fail "case $1: server did not close with $reason"
	grep -q "event=spoof_rejected" "$T/server$1.log" &&
		fail "case $1: a replay authenticated (seen as a spoof)"
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
pass "a data record replayed after an idle spell (key stale, epoch 1): decrypt_failed"
replay_case 2 "dir=c2s type=KEY_END nth=1 replay=d1" 4K,s2500,4K,s1000 2
grep -q "event=handshake_started reason=idle epoch=2" "$T/client2.log" ||
	fail "case 2: no idle rekey before the replay"
pass "a data record replayed during the idle rekey (old key, epoch 2 begun): decrypt_failed"
replay_case 3 "dir=c2s type=DATA nth=2 replay=d1" 4K,s2500,4K,s1000 2 protocol_error
grep -q "event=handshake_done reason=idle epoch=2" "$T/client3.log" ||
	fail "case 3: no idle rekey before the replay"
grep -q "err=LULL_ERR_RETIRED_KEY" "$T/server3.log" || fail "case 3: not refused as a retired key"
pass "a data record replayed after the rekey (retired key): protocol_error"
it_pass
