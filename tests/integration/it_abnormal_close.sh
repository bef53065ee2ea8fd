#!/bin/sh
# A clean EOF on the plain side means "the whole stream arrived"; anything
# else must reach the application as a connection reset, so truncation is
# never mistaken for the end of the stream.
#   1. A consumer reading slowly (the last 854 kB at 256 kB/s) still gets
#      all of a 4 MB transfer, then a clean EOF: the close linger counts
#      from the last write that made progress, not from the close.
#   2. The server daemon killed (-9) mid-transfer: the client's
#      application gets a reset, not an EOF.
#   3. The application resets its connection mid-upload: the client resets
#      the stream (reason aborted, at warn) and the target gets a reset too.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"

# 1. Slow consumer.
start_echo source --mode source --bytes 4000000 --seed 5
start_server server1 "$ECHO_PORT" "$T/authorized"
start_client client1 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --mode recv --rate 256K --rate-after 3M --rcvbuf 32K --timeout $((40 * SLOW)) \
	>"$T/slow.out" 2>&1 || fail "slow consumer: $(cat "$T/slow.out")"
wait_for "$T/source.out" "source conn=" 10 || fail "the source did not finish"
want=$(sed -n 's/^source conn=1 bytes=4000000 sha256=\([0-9a-f]*\).*/\1/p' "$T/source.out")
[ -n "$want" ] || fail "source: $(cat "$T/source.out")"
grep -q "mode=recv bytes=4000000 sha256=$want" "$T/slow.out" ||
	fail "slow consumer got $(cat "$T/slow.out"), want 4000000 bytes sha256=$want"
pass "a slow consumer gets all of 4 MB, then a clean EOF"
stop_pid "$SERVER_PID" 10
stop_pid "$CLIENT_PID" 10
kill -KILL "$ECHO_PID"

# 2. The server dies mid-transfer.
start_echo big --mode source --bytes 1G
start_server server2 "$ECHO_PORT" "$T/authorized"
start_client client2 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --mode recv --rate 8M --timeout $((20 * SLOW)) \
	>"$T/kill.out" 2>&1 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
wait_for "$T/server2.log" "event=target_connected\|handshake_done" 5 || fail "no tunnel"
sleep 0.5
kill -KILL "$SERVER_PID"
wait "$LOAD_PID"
status=$?
[ "$status" != 0 ] || fail "the application saw a clean end: $(cat "$T/kill.out")"
grep -q "reset" "$T/kill.out" || fail "the application did not see a reset: $(cat "$T/kill.out")"
pass "the server killed mid-transfer: the application gets a reset"
stop_pid "$CLIENT_PID" 10
kill -KILL "$ECHO_PID"

# 3. The application aborts: the target must see a reset, not an EOF.
start_echo sink --mode sink
start_server server3 "$ECHO_PORT" "$T/authorized"
start_client client3 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 1M --reset --timeout $((20 * SLOW)) \
	>"$T/reset.out" 2>&1 || fail "load: $(cat "$T/reset.out")"
wait_for "$T/sink.out" "sink conn=" 10 || fail "the target connection was not closed"
grep -q "sink conn=1 .* err=reset" "$T/sink.out" ||
	fail "the target did not see a reset: $(cat "$T/sink.out")"
grep -q "level=warn .*event=stream_aborted reason=aborted" "$T/client3.log" ||
	fail "the client did not reset the stream (aborted)"
wait_for "$T/server3.log" "level=warn .*event=stream_closed reason=aborted by_peer=1" 5 ||
	fail "the server did not log the stream's reset"
pass "an application reset reaches the target as a reset"
it_pass
