#!/bin/sh
# An HS1 replayed into a later SRK interval, while the SRK that answered
# the original still lives, is refused like one replayed in the same
# interval (protocol.md §5): one worker, --srk-interval 1s, the replay 1.2 s
# later.  Before the pool checked every live slot's replay set, the replay
# was answered with the next interval's SRK, costing two DH and an HS2.
# (Across worker threads each has its own pool; §5 documents that.)
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo sink --mode sink
start_server server "$ECHO_PORT" "$T/authorized" -v --threads 1 --srk-interval 1s -v
start_mitm mitm "$SERVER_PORT" --rule "conn=1 type=HS1 capture=hs1" \
	--rule "conn=2 type=HS1 replay=hs1 drop"
start_client client alice "$MITM_PORT" --streams-per-link 1 -v
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 1K,s100 --timeout $((5 * SLOW)) >/dev/null 2>&1 ||
	fail "first connection failed"
sleep 1.2
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 1K,s100 --timeout $((5 * SLOW)) >/dev/null 2>&1
wait_for "$T/server.log" "conn=2 .*event=closed" 5 || fail "second connection never closed"
grep -q "action=replay slot=hs1" "$T/mitm.log" || fail "the mitm did not replay HS1"
grep -q "conn=2 event=replay_refused" "$T/server.log" ||
	fail "HS1 replayed 1.2 s later, within its SRK's life, not refused"
grep -q "conn=2 event=closed reason=replay" "$T/server.log" || fail "no close with reason replay"
[ "$(count "$T/server.log" "event=srk_created")" = 1 ] || fail "the refused replay made a new SRK"
pass "HS1 replayed into the next SRK interval: refused, no new SRK"
it_pass
