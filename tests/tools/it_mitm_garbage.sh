#!/bin/sh
# Garbage and oversize length fields (§1: a receiver checks type, flags and
# length from the 4-byte header alone, before it keeps a body byte, so no
# receiver buffers more than 16408 bytes whatever the length says).
# One connection per case; the mitm injects a header (and up to 64 KiB of
# junk after it) in place of, or in front of, an honest frame:
#   1. type 255, length 65535, instead of HS1
#   2. HS1 claiming 65535 bytes, 64 KiB of junk following, instead of HS1
#   3. DATA claiming 65535 bytes, then 64 KiB of junk, after the handshake
#   4. DATA claiming 16405 bytes (one past the maximum), then that much junk
#   5. DATA claiming 0 bytes (below a record's minimum)
#   6. HEARTBEAT claiming 16404 bytes (a valid DATA length, not a heartbeat's)
#   7. the same as 3 towards the client (s2c)
# Each must close at once with protocol_error at the receiver (cases 1-6:
# the server, 7: the client).  Then 100 connections at once each send case 3
# and the server's peak resident memory (VmHWM) may exceed its idle VmRSS by
# at most 4 MiB: 100 tunnels with their bounded buffers measure about 1 MiB,
# while a receiver that believed the length and buffered 64 KiB per
# connection would need 6.4 MiB more (the figures are printed).
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
JUNK="inject=5a*65536"
cat >"$T/rules" <<RULES
conn=1 dir=c2s type=HS1 inject=ff00ffff drop
conn=2 dir=c2s type=HS1 inject=0100ffff $JUNK drop
conn=3 dir=c2s type=DATA nth=1 inject=0500ffff $JUNK
conn=4 dir=c2s type=DATA nth=1 inject=05004015 inject=5a*16405
conn=5 dir=c2s type=DATA nth=1 inject=05000000
conn=6 dir=c2s type=DATA nth=1 inject=06004014 inject=5a*16404
conn=7 dir=s2c type=DATA nth=1 inject=0500ffff $JUNK
conn=8-107 dir=c2s type=DATA nth=1 inject=0500ffff $JUNK
RULES
rss_kb() {
	sed -n "s/^$2:[^0-9]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 1
start_mitm mitm "$SERVER_PORT" --rules "$T/rules"
start_client client alice "$MITM_PORT" --threads 1 --streams-per-link 1
base=$(rss_kb "$SERVER_PID" VmRSS)

for i in 1 2 3 4 5 6 7; do
	"$LOAD" --port "$CLIENT_PORT" --steps 4K --seed $i --timeout $((10 * SLOW)) \
		>"$T/load$i.out" 2>&1 && fail "case $i: the load went through"
	grep -q differ "$T/load$i.out" && fail "case $i: corrupted data delivered"
	grep -q "conn=$i .*action=inject" "$T/mitm.log" || fail "case $i: nothing injected"
	wait_for "$T/server.log" "conn=$i .*event=closed" 5 || fail "case $i: server did not close"
	wait_for "$T/client.log" "conn=$i event=closed" 5 || fail "case $i: client did not close"
	if [ $i = 7 ]; then
		grep -q "conn=$i event=closed reason=protocol_error by_peer=0" "$T/client.log" ||
			fail "case $i: client: $(grep "conn=$i " "$T/client.log")"
	else
		grep -q "conn=$i .*event=closed reason=protocol_error by_peer=0" "$T/server.log" ||
			fail "case $i: server: $(grep "conn=$i " "$T/server.log")"
	fi
done
pass "garbage and oversize lengths: protocol_error at once"

"$LOAD" --port "$CLIENT_PORT" --conns 100 --steps 4K --timeout $((20 * SLOW)) >"$T/load8.out" 2>&1
grep -q differ "$T/load8.out" && fail "corrupted data delivered"
_n=$((100 * SLOW))
while [ "$(count "$T/server.log" "event=closed reason=protocol_error by_peer=0")" -lt 106 ] &&
	[ $_n -gt 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
[ "$(count "$T/server.log" "event=closed reason=protocol_error by_peer=0")" = 106 ] ||
	fail "not all 100 oversize lengths were refused"
peak=$(rss_kb "$SERVER_PID" VmHWM)
echo "server: idle VmRSS $base kB, VmHWM after 100 oversize frames $peak kB"
[ $((peak - base)) -le $((4096 * SLOW)) ] || fail "server grew by $((peak - base)) kB"
assert_alive
pass "100 oversize length fields at once: server grew by $((peak - base)) kB at most"
it_pass
