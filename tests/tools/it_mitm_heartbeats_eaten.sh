#!/bin/sh
# Heartbeats eaten on the wire (A9).  The man in the middle drops every
# HEARTBEAT, so the server sees an idle link with no heartbeat and must close
# with reason heartbeat_missing heartbeat_interval + heartbeat_timeout after
# the last data, before the client's own ack timer would fire.
#
# Both deadlines are HI + HT after each end's last data (§6.1), a dead heat
# on loopback; the mitm delays the server's data to the client by 300 ms, so
# the client's clock starts later and the server's rule is what is seen.
# Without the server's missing-heartbeat timer the server never closes (the
# client would, with heartbeat_missed) and this test fails.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" $HB -v
start_mitm mitm "$SERVER_PORT" --trace \
	--rule "dir=c2s type=HEARTBEAT drop" --rule "dir=s2c type=DATA delay=300"
start_client client alice "$MITM_PORT" $HB --streams-per-link 1 -v
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s4000 --timeout $((20 * SLOW)) >"$T/load.out" 2>&1 &&
	fail "the tunnel survived its heartbeats being eaten"
wait_for "$T/server.log" "event=closed" 5 || fail "server never closed"
grep -q "dir=c2s type=HEARTBEAT n=1 len=28 epoch=1 action=drop" "$T/mitm.log" ||
	fail "the mitm did not drop the heartbeat"
grep -q "dir=s2c type=DATA n=1 .* action=delay ms=300" "$T/mitm.log" ||
	fail "the mitm did not delay the data"
grep -q "peer=alice event=closed reason=heartbeat_missing by_peer=0 epoch=1" "$T/server.log" ||
	fail "server did not close with reason heartbeat_missing"
grep -q "event=heartbeat_received" "$T/server.log" && fail "a heartbeat got through"
grep -q "event=closed reason=heartbeat_missing by_peer=1 epoch=1" "$T/client.log" ||
	fail "client did not learn why"
grep -q "event=heartbeat_missed" "$T/client.log" && fail "the client's timer fired first"
# On the wire: the server's CLOSE leaves HI + HT after its last data.
last=$(grep "dir=s2c type=DATA " "$T/mitm.log" | tail -n 1 | sed -n 's/^mitm t=\([0-9]*\) .*/\1/p')
closed=$(mitm_t "$T/mitm.log" "dir=s2c type=CLOSE ")
between $((closed - last)) 1450 $((1500 + 500 * SLOW)) "server's last data to its CLOSE"
pass "heartbeats eaten: the server closes with heartbeat_missing $((closed - last)) ms after its last data"
it_pass
