#!/bin/sh
# Drain for a rolling restart (issue 17; docs/deployment.md): a real
# HAProxy (TCP mode, send-proxy-v2, `balance first` so that every link
# goes to s1 while it is up) in front of two lull servers, one lull client
# with one link through HAProxy, lull-echo as the target.
#  - SIGTERM to s1 (--drain-timeout 10s) while 8 streams are open and in an
#    idle step: s1 logs draining with its link and streams, the client
#    hears GOAWAY and brings up a link to s2 through HAProxy, new
#    connections made during the drain all succeed (on s2), the 8 old
#    streams finish with every byte checked (lull-load exits 0), and s1
#    exits 0 by itself (drained), long before its timeout.
#  - SIGTERM to s2 (--drain-timeout 2s) with 2 streams idle for longer
#    than that: the timeout passes, the streams are reset (lull-load
#    fails), s2 still exits 0.
#  - A second SIGTERM during a 60 s drain stops at once, exit 0.
# Skipped (77) when haproxy is not installed (scripts/deps.sh installs it).
. "$(dirname "$0")/lib.sh"
it_init "$1"
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || { echo "SKIP: haproxy not installed"; exit 77; }

it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server s1 "$ECHO_PORT" "$T/authorized" --proxy-protocol --threads 1 \
	--drain-timeout 10s -v
P1=$SERVER_PORT
S1_PID=$SERVER_PID
start_server s2 "$ECHO_PORT" "$T/authorized" --proxy-protocol --threads 1 \
	--drain-timeout 2s
P2=$SERVER_PORT
S2_PID=$SERVER_PID

start_haproxy first "$P1" "$P2"

start_client client alice "$HP" --threads 1 --links 1
VIA=$CLIENT_PORT
wait_for "$T/s1.log" "event=handshake_done" 5 || fail "the client's link did not reach s1"

# 8 long streams: 256K each way, 3 s idle, 256K more.
"$LOAD" --port "$VIA" --conns 8 --steps 256K,s3000,256K --quiet --timeout $((40 * SLOW)) \
	>"$T/load1.out" 2>&1 &
LOAD1=$!
PIDS="$PIDS $LOAD1"
sleep 1 # the streams are open and in their idle step

kill -TERM "$S1_PID"
wait_for "$T/s1.log" "event=draining" 5 || fail "s1 did not log draining"
line=$(grep "event=draining" "$T/s1.log")
case "$line" in
*"links=1 streams=8 timeout_ms=10000"*) ;;
*) fail "draining line: $line" ;;
esac
pass "s1 drains: $line"
wait_for "$T/client.log" "event=goaway_received" 5 || fail "the client heard no GOAWAY"
wait_for "$T/s2.log" "event=handshake_done" 5 || fail "no replacement link on s2"
kill -0 "$LOAD1" 2>/dev/null || fail "the replacement link came only after the old streams ended"
grep -q "event=link_down.*failures=[1-9]" "$T/client.log" &&
	fail "the move counted as a failure: $(grep event=link_down "$T/client.log")"
pass "the client moved to s2 through HAProxy at once"

# New connections during the drain: all carried, none by s1.
s1_streams=$(grep -c "event=stream_open" "$T/s1.log")
[ "$s1_streams" = 8 ] || fail "s1 logged $s1_streams stream_open lines, want 8"
"$LOAD" --port "$VIA" --conns 4 --steps 64K --quiet --timeout $((10 * SLOW)) \
	>"$T/load2.out" 2>&1 || fail "new connections during the drain: $(cat "$T/load2.out")"
kill -0 "$S1_PID" 2>/dev/null || fail "s1 exited before its streams ended"
[ "$(grep -c "event=stream_open" "$T/s1.log")" = "$s1_streams" ] ||
	fail "s1 took a stream while draining"
pass "4 new connections during the drain succeeded on s2"

wait_exit "$LOAD1" $((40 * SLOW))
[ "$STATUS" = 0 ] || fail "a stream was cut by the drain ($STATUS): $(cat "$T/load1.out")"
pass "the 8 streams on s1 finished with every byte checked"
wait_exit "$S1_PID" 5
[ "$STATUS" = 0 ] || fail "s1 exit status $STATUS after its streams ended"
grep -q "event=drained" "$T/s1.log" || fail "s1 did not log drained"
grep -q "event=drain_timeout" "$T/s1.log" && fail "s1 waited for its timeout"
pass "s1 exited 0 once drained, before its timeout"

# The timeout: 2 streams idle for 15 s, s2 drains for 2 s.
"$LOAD" --port "$VIA" --conns 2 --steps 16K,s15000,16K --quiet --timeout $((30 * SLOW)) \
	>"$T/load3.out" 2>&1 &
LOAD3=$!
PIDS="$PIDS $LOAD3"
sleep 1
kill -TERM "$S2_PID"
wait_for "$T/s2.log" "event=draining.*streams=2" 5 ||
	fail "s2 did not drain 2 streams: $(grep event=draining "$T/s2.log")"
wait_exit "$S2_PID" 8
[ "$STATUS" = 0 ] || fail "s2 exit status $STATUS after the drain timeout"
grep -q "event=drain_timeout links=1 streams=2" "$T/s2.log" ||
	fail "no drain_timeout line: $(grep event=drain "$T/s2.log")"
wait_exit "$LOAD3" 10
[ "$STATUS" != 0 ] && [ "$STATUS" != running ] ||
	fail "the streams open at the timeout were not reset ($STATUS)"
pass "drain timeout: the open streams were reset, s2 exited 0"

# A second SIGTERM during a drain stops at once (here without HAProxy).
start_server s3 "$ECHO_PORT" "$T/authorized" --threads 1 --drain-timeout 60s
S3_PID=$SERVER_PID
start_client c3 alice "$SERVER_PORT" --threads 1 --links 1
"$LOAD" --port "$CLIENT_PORT" --conns 1 --steps 16K,s30000,16K --quiet --timeout 40 \
	>"$T/load4.out" 2>&1 &
PIDS="$PIDS $!"
wait_for "$T/s3.log" "event=handshake_done" 5 || fail "c3's link did not reach s3"
sleep 1
kill -TERM "$S3_PID"
wait_for "$T/s3.log" "event=draining.*streams=1" 5 || fail "s3 did not drain"
stop_pid "$S3_PID" 5
[ "$STOP_STATUS" = 0 ] || fail "second SIGTERM: s3 exit status $STOP_STATUS"
grep -q "event=shutdown signal=SIGTERM" "$T/s3.log" || fail "s3 logged no shutdown"
pass "a second SIGTERM during the drain stopped s3 at once, exit 0"
it_pass
