#!/bin/sh
# 100 MiB of random bytes through the tunnel, intact, in both directions:
#  - upload:   lull-load send -> client -> server -> lull-echo sink
#  - download: lull-echo source -> server -> client -> lull-load recv
#  - both at once: lull-load echo checks every echoed byte
# Each one-way transfer is checked by comparing the SHA-256 the sending
# tool printed with the one the receiving tool printed.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
SIZE=100M
BYTES=104857600
now_ms() { date +%s%3N; }

# Upload.
start_echo sink --mode sink
SINK_OUT=$T/sink.out
start_server up-server "$ECHO_PORT" "$T/authorized" -v
start_client up-client alice "$SERVER_PORT"
t0=$(now_ms)
"$LOAD" --port "$CLIENT_PORT" --mode send --steps $SIZE --timeout $((60 * SLOW)) >"$T/up.out" 2>&1 ||
	fail "upload: $(cat "$T/up.out")"
wait_for "$SINK_OUT" "^sink conn=1 " 30 || fail "sink did not finish: $(cat "$SINK_OUT")"
t1=$(now_ms)
sent=$(sed -n 's/.*mode=send bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' "$T/up.out")
got=$(sed -n 's/^sink conn=1 bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' "$SINK_OUT")
[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "upload differs: sent '$sent', target got '$got'"
[ "${sent% *}" = "$BYTES" ] || fail "upload size $sent"
pass "upload 100 MiB intact in $((t1 - t0)) ms (sha256 ${sent#* })"

# Download.
start_echo source --mode source --bytes $SIZE --seed 7
SOURCE_OUT=$T/source.out
start_server down-server "$ECHO_PORT" "$T/authorized"
start_client down-client alice "$SERVER_PORT"
t0=$(now_ms)
"$LOAD" --port "$CLIENT_PORT" --mode recv --timeout $((60 * SLOW)) >"$T/down.out" 2>&1 ||
	fail "download: $(cat "$T/down.out")"
t1=$(now_ms)
wait_for "$SOURCE_OUT" "^source conn=1 " 10 || fail "source did not finish"
got=$(sed -n 's/.*mode=recv bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' "$T/down.out")
sent=$(sed -n 's/^source conn=1 bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p' "$SOURCE_OUT")
[ -n "$sent" ] && [ "$sent" = "$got" ] || fail "download differs: target sent '$sent', got '$got'"
[ "${got% *}" = "$BYTES" ] || fail "download size $got"
pass "download 100 MiB intact in $((t1 - t0)) ms (sha256 ${got#* })"

# Both directions at once, every byte compared.
start_echo echo
start_server echo-server "$ECHO_PORT" "$T/authorized"
start_client echo-client alice "$SERVER_PORT" -v
t0=$(now_ms)
"$LOAD" --port "$CLIENT_PORT" --mode echo --steps $SIZE --timeout $((60 * SLOW)) >"$T/echo.out" 2>&1 ||
	fail "echo: $(cat "$T/echo.out")"
t1=$(now_ms)
grep -q "mode=echo bytes=$BYTES " "$T/echo.out" || fail "echo: $(cat "$T/echo.out")"
pass "echo 100 MiB each way intact in $((t1 - t0)) ms"

# The byte counts the streams report (at debug) agree with what was carried.
wait_for "$T/up-server.log" "event=stream_closed reason=normal by_peer=[01] bytes_in=$BYTES " 5 ||
	fail "upload byte count"
wait_for "$T/echo-client.log" "event=stream_closed reason=normal .*bytes_in=$BYTES bytes_out=$BYTES" 5 ||
	fail "echo byte count"
it_pass
