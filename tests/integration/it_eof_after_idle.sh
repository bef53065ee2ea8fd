#!/bin/sh
# End of stream right after an idle spell, both ways.  After more than the
# heartbeat interval without data the key is stale, so the last bytes are
# held by the engine until the idle rekey completes; the EOF that follows
# them must not discard them (lull_conn_finish, not lull_conn_close).
#   1. application -> target: 10 bytes, 2.5 s idle, 1000 bytes, EOF
#   2. target -> application: the same, from a lull-echo source
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"

# (2.5 s: the heartbeat comes 1 s after the last data, so the key is
# surely stale by then, whatever the phase of the timers.)

# 1. Upload.
start_echo sink --mode sink
start_server server1 "$ECHO_PORT" "$T/authorized" $HB
start_client client1 alice "$SERVER_PORT" $HB
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 10,s2500,1000 --seed 7 \
	--timeout $((20 * SLOW)) >"$T/send.out" 2>&1 || fail "load: $(cat "$T/send.out")"
wait_for "$T/sink.out" "sink conn=" 10 || fail "the target connection was not closed"
want=$(sed -n 's/.*mode=send bytes=1010 sha256=\([0-9a-f]*\).*/\1/p' "$T/send.out")
[ -n "$want" ] || fail "load: $(cat "$T/send.out")"
grep -q "sink conn=1 bytes=1010 sha256=$want" "$T/sink.out" ||
	fail "upload: the target got $(cat "$T/sink.out"), want 1010 bytes sha256=$want"
grep -q "reason=idle" "$T/client1.log" || fail "upload: no idle rekey, the test proves nothing"
pass "application -> target: the bytes after an idle spell survive the EOF"

# 2. Download.
start_echo source --mode source --bytes 1010 --idle-after 10 --idle-ms 2500 --seed 9
start_server server2 "$ECHO_PORT" "$T/authorized" $HB
start_client client2 alice "$SERVER_PORT" $HB
"$LOAD" --port "$CLIENT_PORT" --mode recv --timeout $((20 * SLOW)) >"$T/recv.out" 2>&1 ||
	fail "load: $(cat "$T/recv.out")"
wait_for "$T/source.out" "source conn=" 10 || fail "the source did not finish"
want=$(sed -n 's/^source conn=1 bytes=1010 sha256=\([0-9a-f]*\).*/\1/p' "$T/source.out")
[ -n "$want" ] || fail "source: $(cat "$T/source.out")"
grep -q "mode=recv bytes=1010 sha256=$want" "$T/recv.out" ||
	fail "download: the application got $(cat "$T/recv.out"), want 1010 bytes sha256=$want"
grep -q "reason=idle" "$T/client2.log" || fail "download: no idle rekey, the test proves nothing"
pass "target -> application: the bytes after an idle spell survive the EOF"
it_pass
