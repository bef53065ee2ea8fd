#!/bin/sh
# Slow loris: connections that start a handshake and go silent (§3: "a
# handshake must complete within srk_lifetime ... by the server from
# receiving HS1 to receiving HS3, and for a new server connection from
# accept to HS1").
#  1. ten at once send HS1, then nothing (the mitm passes HS1 and cuts the
#     client side, keeping the server side open and silent): each is
#     dropped with handshake_timeout srk_lifetime after its HS1;
#  2. one connects and never sends HS1: dropped srk_lifetime after accept.
# Without the handshake deadline the server would hold them forever and
# this test would time out waiting for the closes.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --srk-lifetime 2s --threads 1
N=10
start_mitm mitm "$SERVER_PORT" --rule "conn=1-$N dir=c2s type=HS1 cut=client" \
	--rule "conn=$((N + 1)) dir=c2s type=HS1 drop cut=client"
start_client client alice "$MITM_PORT" --srk-lifetime 2s --threads 1 --streams-per-link 1

"$LOAD" --port "$CLIENT_PORT" --conns $N --steps 1K --timeout $((10 * SLOW)) >"$T/load1.out" 2>&1 &&
	fail "a handshake completed through a cut connection"
_n=$((60 * SLOW))
while [ "$(count "$T/server.log" "event=closed")" -lt $N ] && [ $_n -gt 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
[ "$(count "$T/mitm.log" "type=HS1 n=1 len=54 action=cut side=client")" = $N ] ||
	fail "the mitm did not cut $N connections"
[ "$(count "$T/server.log" "event=closed reason=handshake_timeout by_peer=0")" = $N ] ||
	fail "not every silent handshake was dropped with handshake_timeout"
for i in $(seq 1 $N); do
	started=$(ts_ms "$T/server.log" "conn=$i event=handshake_started")
	closed=$(ts_ms "$T/server.log" "conn=$i event=closed")
	between $((closed - started)) 1990 $((2000 + 300 * SLOW)) "conn $i: HS1 to handshake_timeout"
done
pass "$N silent handshakes dropped srk_lifetime after HS1"

"$LOAD" --port "$CLIENT_PORT" --steps 1K --timeout $((10 * SLOW)) >"$T/load2.out" 2>&1 &&
	fail "a handshake completed without HS1"
i=$((N + 1))
wait_for "$T/server.log" "conn=$i event=closed" 5 || fail "the silent connection was kept"
grep -q "conn=$i event=closed reason=handshake_timeout by_peer=0" "$T/server.log" ||
	fail "the silent connection was not dropped with handshake_timeout"
grep -q "conn=$i event=handshake_started" "$T/server.log" && fail "the server saw an HS1"
accepted=$(ts_ms "$T/server.log" "conn=$i event=accepted")
closed=$(ts_ms "$T/server.log" "conn=$i event=closed")
between $((closed - accepted)) 1990 $((2000 + 300 * SLOW)) "accept to handshake_timeout"
assert_alive
pass "a connection without HS1 dropped srk_lifetime after accept"
it_pass
