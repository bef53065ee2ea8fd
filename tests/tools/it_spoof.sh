#!/bin/sh
# A8 against a real server: an authorized client carries one message, lets
# the link go idle (heartbeat sent and acked), then injects a DATA record
# sealed under the now stale key, as someone who broke that key would.  The
# server must log spoof_rejected with the peer's name and close with reason
# spoof, and the target must never see the injected bytes.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
SPOOF=$BUILD_DIR/lull-spoof
[ -x "$SPOOF" ] || fail "missing $SPOOF"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo --mode sink
start_server server "$ECHO_PORT" "$T/authorized" --heartbeat-interval 1s --heartbeat-timeout 500ms
"$SPOOF" --server "127.0.0.1:$SERVER_PORT" --key "$T/alice.key" --server-pub "$T/server.pub" \
	--timeout-ms $((20000 * SLOW)) >"$T/spoof.log" 2>&1 || fail "lull-spoof: $(cat "$T/spoof.log")"
grep -q "peer=alice event=spoof_rejected epoch=1" "$T/server.log" ||
	fail "server did not report the spoof"
grep -q "peer=alice event=closed reason=spoof" "$T/server.log" ||
	fail "server did not close with reason spoof"
# The sink reports what reached the target: the greeting, never the injection.
wait_for "$T/echo.out" "sink conn=" 5 || fail "target connection not closed"
grep -q "bytes=22 " "$T/echo.out" || fail "target saw other bytes: $(cat "$T/echo.out")"
pass "stale-key spoof rejected by a real server"
it_pass
