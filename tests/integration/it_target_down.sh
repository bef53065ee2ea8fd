#!/bin/sh
# The server's target refuses connections: the tunnel is closed with reason
# target_unreachable, which both ends log, and the application's connection
# ends at once instead of hanging.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
# A port that was just free and has no listener now.
start_echo gone
DEAD_PORT=$ECHO_PORT
kill "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null
start_server server "$DEAD_PORT" "$T/authorized"
start_client client alice "$SERVER_PORT"
t0=$(date +%s%3N)
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/load.out" 2>&1 &&
	fail "data went through to a dead target"
t1=$(date +%s%3N)
grep -q "unexpected EOF\|Connection reset" "$T/load.out" || fail "load: $(cat "$T/load.out")"
[ $((t1 - t0)) -lt $((3000 * SLOW)) ] || fail "took $((t1 - t0)) ms to give up"
wait_for "$T/server.log" "event=target_connect_failed target=127.0.0.1:$DEAD_PORT err=ECONNREFUSED" 5 ||
	fail "server did not log the failed connect"
wait_for "$T/server.log" "peer=alice event=closed reason=target_unreachable by_peer=0" 5 ||
	fail "server did not close with target_unreachable"
wait_for "$T/client.log" "event=closed reason=target_unreachable by_peer=1" 5 ||
	fail "client did not log target_unreachable"
pass "target down: clean close in $((t1 - t0)) ms"
it_pass
