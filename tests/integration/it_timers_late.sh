#!/bin/sh
# A daemon whose event loop did not run for seconds says so.  Heartbeat and
# handshake deadlines then fire late and the peer may already have closed
# with heartbeat_missed; without a line in our own log the operator sees
# only the peer's complaint.  Stop the client daemon (SIGSTOP) for 7 s across
# the moment a tunnel's heartbeat is due (5 s after its data), resume it, and
# expect one event=timers_late WARN with the lateness, and the tunnel still
# working: the server waits 5 s + 4 x 1 s for that heartbeat, so nothing
# arrives during the stop that the client would read before its timers.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 5s --heartbeat-timeout 1s --heartbeat-retries 3"
STOP_MS=7000

start_echo sink --mode sink
start_server server "$ECHO_PORT" "$T/authorized" $HB
# One thread: the line is rate-limited per thread, and each thread's link
# has a heartbeat due during the stop.
start_client client alice "$SERVER_PORT" $HB --threads 1

# 10 bytes, 8 s idle, 10 bytes.
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 10,s8000,10 --seed 3 \
	--timeout $((30 * SLOW)) >"$T/send.out" 2>&1 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
wait_for "$T/client.log" "event=handshake_done" 5 || fail "no handshake: $(cat "$T/client.log")"
sleep 0.2
kill -STOP "$CLIENT_PID" || fail "cannot stop the client"
sleep $((STOP_MS / 1000))
kill -CONT "$CLIENT_PID" || fail "cannot resume the client"

wait_for "$T/client.log" "event=timers_late" 5 ||
	fail "no timers_late line after a ${STOP_MS} ms stop: $(cat "$T/client.log")"
line=$(grep "event=timers_late" "$T/client.log" | head -n 1)
late=$(echo "$line" | sed -n 's/.*late_ms=\([0-9]*\).*/\1/p')
[ -n "$late" ] && [ "$late" -ge 1000 ] && [ "$late" -le "$STOP_MS" ] ||
	fail "lateness not plausible for a ${STOP_MS} ms stop: $line"
echo "$line" | grep -q "level=warn" || fail "not a WARN line: $line"
pass "a ${STOP_MS} ms stop is reported: late_ms=$late"

wait "$LOAD_PID" || fail "load: $(cat "$T/send.out")"
want=$(sed -n 's/.*mode=send bytes=20 sha256=\([0-9a-f]*\).*/\1/p' "$T/send.out")
[ -n "$want" ] || fail "load: $(cat "$T/send.out")"
wait_for "$T/sink.out" "sink conn=1 bytes=20 sha256=$want" 10 ||
	fail "the target got $(cat "$T/sink.out"), want 20 bytes sha256=$want"
[ "$(grep -c "event=timers_late" "$T/client.log")" -eq 1 ] ||
	fail "one stop, more than one line: $(grep "event=timers_late" "$T/client.log")"
! grep -q "event=timers_late" "$T/server.log" || fail "the server was never stopped: $(cat "$T/server.log")"
pass "the tunnel outlived the stop; one line, only where the stop was"
it_pass
