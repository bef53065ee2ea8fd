#!/bin/sh
# A small --max-message on either end: plain reads (up to 16 KiB) are cut
# into messages of at most the agreed limit, so the stream arrives whole.
# Before, each over-sized read was refused by the engine and dropped with a
# send_failed line while the tunnel went on: a silent gap in the stream.
#   1. server --max-message 4K, 200 kB application -> target
#   2. client --max-message 4K, 200 kB target -> application
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
BYTES=204800

# 1. Upload; the server's limit is the agreed one.
start_echo sink --mode sink
start_server server1 "$ECHO_PORT" "$T/authorized" --max-message 4K
start_client client1 alice "$SERVER_PORT"
"$LOAD" --port "$CLIENT_PORT" --mode send --steps "$BYTES" --timeout $((20 * SLOW)) \
	>"$T/send.out" 2>&1 || fail "load: $(cat "$T/send.out")"
wait_for "$T/sink.out" "sink conn=" 10 || fail "the target connection was not closed"
want=$(sed -n "s/.*mode=send bytes=$BYTES sha256=\([0-9a-f]*\).*/\1/p" "$T/send.out")
[ -n "$want" ] || fail "load: $(cat "$T/send.out")"
grep -q "sink conn=1 bytes=$BYTES sha256=$want" "$T/sink.out" ||
	fail "upload: the target got $(cat "$T/sink.out"), want $BYTES bytes sha256=$want"
grep -q "send_failed" "$T/client1.log" && fail "upload: send_failed logged"
pass "application -> target with --max-message 4K on the server"

# 2. Download; the client's limit is the agreed one.
start_echo source --mode source --bytes "$BYTES" --seed 3
start_server server2 "$ECHO_PORT" "$T/authorized"
start_client client2 alice "$SERVER_PORT" --max-message 4K
"$LOAD" --port "$CLIENT_PORT" --mode recv --timeout $((20 * SLOW)) >"$T/recv.out" 2>&1 ||
	fail "load: $(cat "$T/recv.out")"
wait_for "$T/source.out" "source conn=" 10 || fail "the source did not finish"
want=$(sed -n "s/^source conn=1 bytes=$BYTES sha256=\([0-9a-f]*\).*/\1/p" "$T/source.out")
[ -n "$want" ] || fail "source: $(cat "$T/source.out")"
grep -q "mode=recv bytes=$BYTES sha256=$want" "$T/recv.out" ||
	fail "download: the application got $(cat "$T/recv.out"), want $BYTES bytes sha256=$want"
grep -q "send_failed" "$T/server2.log" && fail "download: send_failed logged"
pass "target -> application with --max-message 4K on the client"
it_pass
