#!/bin/sh
# Signals around reload and stop:
#   1. SIGHUP while the server is stopping (its last tunnel lingers): the
#      server still exits 0.  SIGHUP used to fall back to its default action
#      once the stop began, and the process died with 129.
#   2. A burst of SIGHUPs on a 4-thread server: a reload_ok line follows,
#      the server keeps serving and exits 0 (generations, not a countdown
#      that two quick reloads could underflow).
#   3. SIGHUP to a client: logged and ignored, the tunnel carries on.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo

# 1. A peer that never answers keeps the server's stop lingering.
start_server server1 "$ECHO_PORT" "$T/authorized"
"$LOAD" --port "$SERVER_PORT" --mode hold --timeout $((10 * SLOW)) >/dev/null 2>&1 &
HOLD_PID=$!
PIDS="$PIDS $HOLD_PID"
wait_for "$T/server1.log" "event=accepted" 5 || fail "hold connection not accepted"
kill -TERM "$SERVER_PID"
wait_for "$T/server1.log" "event=shutdown" 5 || fail "no shutdown line"
kill -HUP "$SERVER_PID"
wait_exit "$SERVER_PID" 10
[ "$STATUS" = 0 ] || fail "SIGTERM then SIGHUP: exit $STATUS, want 0"
kill -KILL "$HOLD_PID" 2>/dev/null
pass "SIGHUP during the stop does not kill the server"

# 2. A burst of reloads.
start_server server2 "$ECHO_PORT" "$T/authorized" --threads 4
for i in 1 2 3 4 5 6 7 8 9 10; do
	kill -HUP "$SERVER_PID"
done
wait_for "$T/server2.log" "event=reload_ok clients=1" 5 || fail "no reload_ok after a burst"
start_client client2 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --conns 8 --steps 64K --timeout $((20 * SLOW)) >"$T/load2.out" 2>&1 ||
	fail "after the burst: $(cat "$T/load2.out")"
stop_pid "$SERVER_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "server exit $STOP_STATUS after the burst"
pass "a burst of SIGHUPs"

# 3. The client ignores SIGHUP.
start_server server3 "$ECHO_PORT" "$T/authorized"
start_client client3 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --steps 16K,s500,16K --timeout $((20 * SLOW)) >"$T/load3.out" 2>&1 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
wait_for "$T/client3.log" "event=handshake_done" 5 || fail "tunnel not up"
kill -HUP "$CLIENT_PID"
wait_for "$T/client3.log" "event=sighup_ignored" 5 || fail "client: SIGHUP not logged"
wait "$LOAD_PID" || fail "the tunnel did not survive SIGHUP: $(cat "$T/load3.out")"
kill -0 "$CLIENT_PID" 2>/dev/null || fail "the client died of SIGHUP"
stop_pid "$CLIENT_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "client exit $STOP_STATUS"
pass "the client logs and ignores SIGHUP"
it_pass
