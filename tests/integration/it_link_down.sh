#!/bin/sh
# A client started while its server is down: an application connection
# accepted then waits up to --connect-timeout for a link, then gets an RST
# (never a clean EOF) and a warn line with the reason; every failed
# connect is a warn line; once the server is up the link comes up by
# itself (backoff) and new connections work.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
# A port that was free a moment ago: the server will listen there later.
start_echo probe
PORT=$ECHO_PORT
kill "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null
start_client client alice "$PORT" --connect-timeout 1s --threads 1
t0=$(date +%s%3N)
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/early.out" 2>&1 &&
	fail "data went through with no server"
t1=$(date +%s%3N)
grep -q "Connection reset" "$T/early.out" || fail "not an RST: $(cat "$T/early.out")"
[ $((t1 - t0)) -ge 900 ] && [ $((t1 - t0)) -lt $((3000 * SLOW)) ] ||
	fail "gave up after $((t1 - t0)) ms, want about 1000"
grep -q "level=warn event=stream_refused reason=connect_timeout" "$T/client.log" ||
	fail "no warn line for the refused connection"
grep -q "level=warn .*event=server_connect_failed .*err=ECONNREFUSED" "$T/client.log" ||
	fail "failed connects not logged at warn"
grep -q "level=warn .*event=link_down .*reconnect_in_ms=" "$T/client.log" ||
	fail "no backoff logged"
pass "no server: the application gets an RST after --connect-timeout ($((t1 - t0)) ms)"

start_echo echo
start_lull server server --listen "127.0.0.1:$PORT" --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized"
wait_for "$T/client.log" "event=handshake_done" 40 || fail "the link did not come up"
"$LOAD" --port "$CLIENT_PORT" --steps 64K --timeout $((10 * SLOW)) >"$T/late.out" 2>&1 ||
	fail "no service once the server is up: $(cat "$T/late.out")"
pass "the link comes up by itself, connections work"
it_pass
