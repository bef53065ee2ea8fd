#!/bin/sh
# SIGTERM: the server stops accepting, closes its tunnels with a close frame
# (reason shutdown, which the client logs), and exits 0 promptly; the client
# too.  A second run checks SIGINT.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
for sig in TERM INT; do
	start_server server-$sig "$ECHO_PORT" "$T/authorized"
	start_client client-$sig alice "$SERVER_PORT"
	# A tunnel that is up and idle when the signal comes.
	"$LOAD" --port "$CLIENT_PORT" --steps 4K,s60000 --timeout $((70 * SLOW)) >"$T/load-$sig.out" 2>&1 &
	LOAD_PID=$!
	PIDS="$PIDS $LOAD_PID"
	wait_for "$T/server-$sig.log" "peer=alice event=handshake_done" 5 || fail "tunnel not up"
	sleep 0.2
	t0=$(date +%s%3N)
	kill -"$sig" "$SERVER_PID"
	wait_exit "$SERVER_PID" 5
	[ "$STATUS" = running ] && fail "server still running 5 s after SIG$sig"
	status=$STATUS
	t1=$(date +%s%3N)
	[ "$status" = 0 ] || fail "server exit status $status after SIG$sig"
	grep -q "event=shutdown signal=SIG$sig" "$T/server-$sig.log" || fail "no shutdown line"
	grep -q "peer=alice event=closed reason=shutdown by_peer=0" "$T/server-$sig.log" ||
		fail "server did not close the tunnel with reason shutdown"
	grep -q "event=exit status=0" "$T/server-$sig.log" || fail "no exit line"
	wait_for "$T/client-$sig.log" "event=closed reason=shutdown by_peer=1" 5 ||
		fail "client did not receive the close frame"
	# The application sees its connection end rather than hang.
	wait "$LOAD_PID" && fail "load did not notice the tunnel closing"
	stop_pid "$CLIENT_PID" 5
	[ "$STOP_STATUS" = 0 ] || fail "client exit status $STOP_STATUS after SIGTERM"
	pass "SIG$sig: clean close and exit 0 in $((t1 - t0)) ms"
done
it_pass
