#!/bin/sh
# kill -9 of the server daemon in the middle of a transfer:
#  - the application sees an RST, not a clean EOF;
#  - the client logs the loss at warn (reason transport_lost, not normal),
#    and its reconnect failures at warn (so -q still shows them);
#  - once the server is back on its port, the link comes back and new
#    connections work.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo big --mode source --bytes 1G
start_server server1 "$ECHO_PORT" "$T/authorized"
PORT=$SERVER_PORT
start_client client alice "$PORT"
"$LOAD" --port "$CLIENT_PORT" --mode recv --rate 8M --timeout $((20 * SLOW)) >"$T/kill.out" 2>&1 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
sleep 1
kill -KILL "$SERVER_PID"
wait "$LOAD_PID" && fail "the application saw a clean end: $(cat "$T/kill.out")"
grep -q "reset" "$T/kill.out" || fail "the application did not see a reset: $(cat "$T/kill.out")"
pass "the application gets an RST"
wait_for "$T/client.log" "level=warn .*event=closed reason=transport_lost" 5 ||
	fail "the client did not log the lost link at warn: $(cat "$T/client.log")"
wait_for "$T/client.log" "level=warn .*event=link_down .*reconnect_in_ms=" 5 ||
	fail "no reconnect failure logged at warn"
grep -q "reason=normal" "$T/client.log" && fail "a normal close was logged"
pass "the client logs the loss and its retries at warn"
kill -KILL "$ECHO_PID"

# The server comes back on the same port: the link returns.
sleep 1
start_echo echo
start_lull server2 server --listen "127.0.0.1:$PORT" --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized"
wait_for "$T/server2.log" "peer=alice event=handshake_done" 35 || fail "the link did not come back"
"$LOAD" --port "$CLIENT_PORT" --steps 256K --timeout $((10 * SLOW)) >"$T/after.out" 2>&1 ||
	fail "no service after the restart: $(cat "$T/after.out")"
pass "the link comes back after the restart, new connections work"
it_pass
