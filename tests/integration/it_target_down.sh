#!/bin/sh
# The server's target refuses connections: the stream is reset with reason
# target_unreachable, which both ends log at warn, the application's
# connection gets an RST at once instead of hanging, and the link goes on.
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
wait_for "$T/server.log" "level=warn .*event=stream_aborted reason=target_unreachable" 5 ||
	fail "server did not reset the stream with target_unreachable"
wait_for "$T/client.log" "level=warn .*event=stream_closed reason=target_unreachable by_peer=1" 5 ||
	fail "client did not log target_unreachable"
grep -q "Connection reset" "$T/load.out" || fail "the application saw no RST: $(cat "$T/load.out")"
grep -q "event=closed" "$T/client.log" && fail "the link closed: $(grep event=closed "$T/client.log")"
pass "target down: the stream reset in $((t1 - t0)) ms, the link stays up"
it_pass
