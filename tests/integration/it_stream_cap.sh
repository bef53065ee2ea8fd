#!/bin/sh
# The stream cap per link (--max-streams), as lull(1) documents it:
#  - server cap below the client's: a stream beyond it is reset (refused):
#    the application gets an RST, the server logs a warn stream_error, the
#    link and the streams within the cap go on;
#  - client cap: a connection beyond it waits for a slot; one that frees
#    in time is served, one that does not gets an RST after
#    --connect-timeout.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 1 --max-streams 2
start_client client alice "$SERVER_PORT" --threads 1
wait_for "$T/client.log" "event=handshake_done" 5 || fail "no link"
"$LOAD" --port "$CLIENT_PORT" --conns 2 --steps 4K,s3000,4K --timeout $((20 * SLOW)) \
	>"$T/held.out" 2>&1 &
HELD=$!
PIDS="$PIDS $HELD"
sleep 1
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/third.out" 2>&1 &&
	fail "a third stream went through a cap of 2"
grep -q "Connection reset" "$T/third.out" || fail "not an RST: $(cat "$T/third.out")"
wait_for "$T/server.log" "level=warn .*event=stream_error err=LULL_ERR_STREAM_LIMIT reaction=refused" 5 ||
	fail "the server did not log the refusal"
wait_for "$T/client.log" "level=warn .*event=stream_closed reason=refused by_peer=1" 5 ||
	fail "the client did not log the refusal"
wait "$HELD" || fail "the streams within the cap suffered: $(cat "$T/held.out")"
pass "server cap: the stream beyond it is reset, the others go on"
stop_pid "$CLIENT_PID" 5

start_client client2 alice "$SERVER_PORT" --threads 1 --max-streams 1 --connect-timeout 2s
wait_for "$T/client2.log" "event=handshake_done" 5 || fail "no link"
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s1000,4K --timeout $((20 * SLOW)) >"$T/first.out" 2>&1 &
FIRST=$!
PIDS="$PIDS $FIRST"
sleep 0.3
# Waits about 0.7 s for the first to end, then is served.
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/second.out" 2>&1 ||
	fail "the waiting connection was not served: $(cat "$T/second.out")"
wait "$FIRST" || fail "first: $(cat "$T/first.out")"
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s4000,4K --timeout $((20 * SLOW)) >"$T/long.out" 2>&1 &
LONG=$!
PIDS="$PIDS $LONG"
sleep 0.3
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/late.out" 2>&1 &&
	fail "a connection beyond the cap went through"
grep -q "Connection reset" "$T/late.out" || fail "not an RST: $(cat "$T/late.out")"
grep -q "level=warn event=stream_refused reason=connect_timeout" "$T/client2.log" ||
	fail "no warn line for the timed-out connection"
wait "$LONG" || fail "long: $(cat "$T/long.out")"
pass "client cap: a connection waits for a slot, then gets an RST"
it_pass
