#!/bin/sh
# Heartbeat acks eaten on the wire (A6).  The man in the middle drops every
# HEARTBEAT_ACK:
#  1. on_missed_ack = close (default): the client gives up heartbeat_timeout
#     after its heartbeat, logs heartbeat_missed and closes with reason
#     heartbeat_missed; the server sees that close.
#  2. on_missed_ack = rekey on both ends, the ack late rather than deleted
#     (a deleted record is tampering: the old key's KEY_END would expose the
#     gap and close the link): the client starts a handshake with reason
#     missed_ack at once, and no data travels under the old key after the
#     ack went missing: the data after the idle spell goes under epoch 2.
# Without the ack timer (defence removed) nothing closes and 1 fails; without
# the rekey branch 2 fails.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
start_echo echo

# 1. Close.
start_server server1 "$ECHO_PORT" "$T/authorized" $HB -v
start_mitm mitm1 "$SERVER_PORT" --rule "dir=s2c type=HEARTBEAT_ACK drop"
start_client client1 alice "$MITM_PORT" $HB --streams-per-link 1 -v
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s4000 --timeout $((20 * SLOW)) >"$T/load1.out" 2>&1 &&
	fail "the tunnel survived its acks being eaten"
wait_for "$T/server1.log" "event=closed" 5 || fail "server never saw the close"
grep -q "dir=s2c type=HEARTBEAT_ACK n=1 len=28 epoch=1 action=drop" "$T/mitm1.log" ||
	fail "the mitm did not drop the ack"
grep -q "event=heartbeat_missed epoch=1" "$T/client1.log" || fail "client: no heartbeat_missed"
grep -q "event=closed reason=heartbeat_missed by_peer=0 epoch=1" "$T/client1.log" ||
	fail "client did not close with reason heartbeat_missed"
grep -q "peer=alice event=closed reason=heartbeat_missed by_peer=1" "$T/server1.log" ||
	fail "server did not see the heartbeat_missed close"
[ "$(count "$T/client1.log" "event=heartbeat_sent")" = 1 ] || fail "more than one heartbeat (retries=0)"
sent=$(ts_ms "$T/client1.log" "event=heartbeat_sent")
missed=$(ts_ms "$T/client1.log" "event=heartbeat_missed")
between $((missed - sent)) 450 $((900 * SLOW)) "heartbeat_sent to heartbeat_missed"
pass "acks eaten: the client closes with heartbeat_missed $((missed - sent)) ms after its heartbeat"
stop_pid "$CLIENT_PID" 5
stop_pid "$SERVER_PID" 5

# 2. Rekey.  The idle step (1.8 s) ends after the missed ack (1.5 s) and
# before the new key could go idle (2.5 s), so the data that follows must
# travel under epoch 2, negotiated for missed_ack.
start_server server2 "$ECHO_PORT" "$T/authorized" $HB --on-missed-ack rekey -v
start_mitm mitm2 "$SERVER_PORT" --trace --rule "dir=s2c type=HEARTBEAT_ACK delay=1200"
start_client client2 alice "$MITM_PORT" $HB --on-missed-ack rekey --streams-per-link 1 -v
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s1800,4K --timeout $((20 * SLOW)) >"$T/load2.out" 2>&1 ||
	fail "load: $(cat "$T/load2.out")"
grep -q "event=heartbeat_missed epoch=1" "$T/client2.log" || fail "client: no heartbeat_missed"
grep -q "event=handshake_started reason=missed_ack epoch=2" "$T/client2.log" ||
	fail "client did not rehandshake for missed_ack"
grep -q "event=handshake_done reason=missed_ack epoch=2" "$T/client2.log" ||
	fail "client: the missed_ack handshake did not complete"
grep -q "peer=alice event=handshake_done reason=.* epoch=2" "$T/server2.log" ||
	fail "server: no second handshake"
grep -q "event=closed reason=heartbeat_missed" "$T/client2.log" &&
	fail "client closed although on_missed_ack=rekey"
# On the wire: after the ack was eaten, HS1 comes before any data, and no
# data travels under epoch 1 any more.
after=$(sed -n '/type=HEARTBEAT_ACK n=1 .*action=delay/,$p' "$T/mitm2.log")
[ -n "$after" ] || fail "the mitm did not delay the ack"
first=$(echo "$after" | grep -m 1 -E "dir=c2s type=(DATA|HS1) ")
case "$first" in
*"type=HS1 n=2"*) ;;
*) fail "after the missed ack the client sent '$first' before a new handshake" ;;
esac
echo "$after" | grep -q "type=DATA .*epoch=1 " && fail "data under epoch 1 after the missed ack"
echo "$after" | grep -q "dir=c2s type=DATA n=3 len=4125 epoch=2" ||
	fail "the data after the idle spell did not travel under epoch 2"
pass "acks eaten with on_missed_ack=rekey: rehandshake (missed_ack) before any data"
it_pass
