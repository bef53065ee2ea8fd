#!/bin/sh
# Two lull servers with --reuseport share one port and both take
# connections: over a bounded number of client connections (each one its
# own lull connection and handshake) both logs show handshakes, and every
# connection gets its bytes echoed.  A third server without --reuseport is
# still refused ("address already in use"), so the sharing is opt-in.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server s1 "$ECHO_PORT" "$T/authorized" --reuseport --threads 1
PORT=$SERVER_PORT
start_lull s2 server --listen "127.0.0.1:$PORT" --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized" --reuseport --threads 1
grep -q "addr=127.0.0.1:$PORT " "$T/s2.log" || fail "s2 is not on port $PORT: $(cat "$T/s2.log")"

# Opt-in: a server without --reuseport does not join.
"$LULL" server --listen "127.0.0.1:$PORT" --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized" >/dev/null 2>"$T/s3.err" &
S3=$!
PIDS="$PIDS $S3"
wait_exit "$S3" 5
[ "$STATUS" = 1 ] || fail "a server without --reuseport: exit $STATUS, want 1"
grep -q "address already in use" "$T/s3.err" || fail "s3: $(cat "$T/s3.err")"

# One link per connection, so that each one is a new TCP connection for
# the kernel to hand to either server.
start_client client alice "$PORT" --streams-per-link 1
count() {
	grep -c "event=handshake_done" "$1" 2>/dev/null || true
}
# The kernel hashes each connection's addresses onto one of the two
# sockets: 8 connections a round all land on one server with chance 2^-7;
# ten rounds are the bound.
round=0
while [ $round -lt 10 ]; do
	round=$((round + 1))
	"$LOAD" --port "$CLIENT_PORT" --conns 8 --steps 16K --quiet --timeout $((20 * SLOW)) \
		>"$T/load.out" 2>&1 || fail "load round $round: $(cat "$T/load.out")"
	n1=$(count "$T/s1.log")
	n2=$(count "$T/s2.log")
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && break
done
nc=$(count "$T/client.log")
[ "$n1" -gt 0 ] || fail "s1 took no connection in $round rounds (s2: $n2)"
[ "$n2" -gt 0 ] || fail "s2 took no connection in $round rounds (s1: $n1)"
[ "$((n1 + n2))" = "$nc" ] || fail "servers logged $n1 + $n2 handshakes, the client $nc"
pass "two servers on port $PORT: $n1 and $n2 of $nc handshakes in $round round(s)"

# Stopping one leaves the other serving the port alone.
stop_pid "$SERVER_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "s1 stop: $STOP_STATUS"
before=$(count "$T/s2.log")
"$LOAD" --port "$CLIENT_PORT" --conns 4 --steps 16K --quiet --timeout $((20 * SLOW)) \
	>"$T/load.out" 2>&1 || fail "load after s1 stopped: $(cat "$T/load.out")"
after=$(count "$T/s2.log")
[ "$((after - before))" = 4 ] || fail "s2 took $((after - before)) of 4 after s1 stopped"
pass "s2 serves alone after s1 stops"
it_pass
