#!/bin/sh
# A real HAProxy (Debian's haproxy, TCP mode, send-proxy-v2) in front of
# two lull servers with --proxy-protocol and --target-proxy-protocol, a
# lull client, and a target (lull-pp-target) that records the PROXY v2
# header each target connection starts with:
#  - 20 concurrent connections deliver every byte, across an idle rekey;
#  - both servers take connections, each logs the client's address from
#    HAProxy's header (not HAProxy's own), and that address is the one
#    HAProxy logged for the connection;
#  - the target gets, before the stream, a v2 header with that address and
#    the authenticated peer's name in TLV 0xE0 (checked byte by byte here,
#    not with lull's parser);
#  - HAProxy's health checks (check-send-proxy: a LOCAL header) are taken;
#  - a connection without a header to a --proxy-protocol server is refused
#    with a named error;
#  - after kill -9 of one server, new connections all succeed through
#    HAProxy on the other (each is its own lull connection today; links
#    that reconnect are for the links rewrite).
# Skipped (77) when haproxy is not installed (scripts/deps.sh installs it).
. "$(dirname "$0")/lib.sh"
it_init "$1"
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$HAPROXY" ] || { echo "SKIP: haproxy not installed"; exit 77; }
PPT=$BUILD_DIR/lull-pp-target
[ -x "$PPT" ] || fail "missing $PPT"

it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
"$PPT" --port-file "$T/ppt.port" --record "$T/pp.txt" >"$T/ppt.out" 2>&1 &
PIDS="$PIDS $!"
wait_for "$T/ppt.port" "^[0-9]" 5
TP=$(cat "$T/ppt.port" 2>/dev/null)
[ -n "$TP" ] || fail "lull-pp-target did not start"

# Idle rekeys within the test: idle after 1s.
POLICY="--heartbeat-interval 1s --heartbeat-timeout 300ms"
# shellcheck disable=SC2086
start_server s1 "$TP" "$T/authorized" --proxy-protocol --target-proxy-protocol $POLICY
P1=$SERVER_PORT
S1_PID=$SERVER_PID
# shellcheck disable=SC2086
start_server s2 "$TP" "$T/authorized" --proxy-protocol --target-proxy-protocol $POLICY
P2=$SERVER_PORT

start_haproxy roundrobin "$P1" "$P2"

# shellcheck disable=SC2086
# One link per connection, so that HAProxy balances (and sends a PROXY
# header for) every one of them.
start_client client alice "$HP" $POLICY --streams-per-link 1
VIA_HAPROXY=$CLIENT_PORT
N=20
"$LOAD" --port "$VIA_HAPROXY" --conns $N --steps 64K,s2500,64K --quiet \
	--timeout $((60 * SLOW)) >"$T/load.out" 2>&1 || fail "load: $(cat "$T/load.out")"
pass "$N connections through HAProxy delivered every byte"
grep -q "event=handshake_done reason=idle" "$T/client.log" || fail "no idle rekey"
pass "idle rekeys through HAProxy"

# Both servers took connections (round robin).
h1=$(grep -c "event=proxy_header version=2 from=" "$T/s1.log")
h2=$(grep -c "event=proxy_header version=2 from=" "$T/s2.log")
[ "$h1" -gt 0 ] && [ "$h2" -gt 0 ] || fail "headers: s1 $h1, s2 $h2"
[ "$((h1 + h2))" = $N ] || fail "servers logged $h1 + $h2 PROXY headers, want $N"
pass "both servers took connections: $h1 and $h2"

# The addresses the servers logged are the ones HAProxy logged for its
# clients (the lull client's source ports), not HAProxy's own.
sed -n 's/.*event=proxy_header version=2 from=127\.0\.0\.1:\([0-9]*\) to=127\.0\.0\.1:'"$HP"'$/\1/p' \
	"$T/s1.log" "$T/s2.log" | sort -n >"$T/ports.servers"
sed -n 's/^hap client=127\.0\.0\.1:\([0-9]*\) server=lull[12]$/\1/p' "$T/haproxy.log" |
	sort -n >"$T/ports.haproxy"
[ "$(wc -l <"$T/ports.servers")" = $N ] || fail "servers: $(cat "$T/ports.servers")"
cmp -s "$T/ports.servers" "$T/ports.haproxy" ||
	fail "servers saw ports $(tr '\n' ' ' <"$T/ports.servers"), haproxy logged $(tr '\n' ' ' <"$T/ports.haproxy")"
pass "servers logged the client addresses HAProxy saw"

# Each target connection began with a v2 header: PROXY, TCP over IPv4,
# 20 bytes (12 of addresses, 8 of TLV), 127.0.0.1 -> 127.0.0.1, the
# client's port -> HAProxy's port, TLV 0xE0 "alice".
grep -q "^BAD" "$T/pp.txt" && fail "target got a bad header: $(grep "^BAD" "$T/pp.txt" | head -n 1)"
[ "$(wc -l <"$T/pp.txt")" = $N ] || fail "target recorded $(wc -l <"$T/pp.txt") headers, want $N"
hp_hex=$(printf '%04x' "$HP")
: >"$T/ports.target"
while read -r line; do
	case "$line" in
	0d0a0d0a000d0a515549540a21110014"7f0000017f000001"????"$hp_hex"e00005616c696365) ;;
	*) fail "target header: $line" ;;
	esac
	sp=$(echo "$line" | cut -c 49-52)
	echo $((0x$sp)) >>"$T/ports.target"
done <"$T/pp.txt"
sort -n "$T/ports.target" -o "$T/ports.target"
cmp -s "$T/ports.target" "$T/ports.haproxy" ||
	fail "target saw ports $(tr '\n' ' ' <"$T/ports.target")"
pass "the target got the client's address and the peer name alice in TLV 0xE0"

# HAProxy's health checks carry a LOCAL header: taken, not refused.
wait_for "$T/s1.log" "event=proxy_header version=2 command=local" 5 ||
	fail "no LOCAL health check header on s1"
grep -q "proxy_header_refused" "$T/s1.log" "$T/s2.log" &&
	fail "a header was refused: $(grep -h proxy_header_refused "$T/s1.log" "$T/s2.log" | head -n 1)"
pass "health checks (LOCAL) accepted"

# Straight to a --proxy-protocol server, without HAProxy: refused.
start_client direct alice "$P1"
"$LOAD" --port "$CLIENT_PORT" --conns 1 --steps 1K --timeout $((5 * SLOW)) \
	>"$T/direct.out" 2>&1 && fail "a connection without a PROXY header was carried"
wait_for "$T/s1.log" "event=proxy_header_refused err=PROXY_ERR_SIGNATURE" 5 ||
	fail "no proxy_header_refused on s1"
pass "no header: refused (PROXY_ERR_SIGNATURE)"

# A client in the default model: long-lived links through HAProxy (two, so
# that round robin puts one on each server).
start_client linked alice "$HP" $POLICY --threads 1 --links 2
LINKED_PORT=$CLIENT_PORT
wait_count "$T/linked.log" "event=handshake_done reason=initial" 2 5 ||
	fail "the linked client's two links did not come up"

# kill -9 one server: the link it held reconnects through HAProxy to the
# other, and new connections on either client all succeed.
kill -KILL "$S1_PID"
wait_for "$T/linked.log" "event=link_down" 10 || fail "the linked client did not see its link go"
wait_count "$T/linked.log" "event=handshake_done reason=initial" 3 10 ||
	fail "the lost link did not come back through HAProxy"
"$LOAD" --port "$LINKED_PORT" --conns 8 --steps 16K --quiet --timeout $((20 * SLOW)) \
	>"$T/load3.out" 2>&1 || fail "load over the reconnected links: $(cat "$T/load3.out")"
pass "kill -9 of s1: its link came back through HAProxy to s2, 8 new streams carried"
before=$(grep -c "event=proxy_header version=2 from=" "$T/s2.log")
"$LOAD" --port "$VIA_HAPROXY" --conns 8 --steps 16K --quiet --timeout $((20 * SLOW)) \
	>"$T/load2.out" 2>&1 || fail "load after kill -9 of s1: $(cat "$T/load2.out")"
after=$(grep -c "event=proxy_header version=2 from=" "$T/s2.log")
[ "$((after - before))" = 8 ] || fail "s2 took $((after - before)) of 8 after s1 died"
pass "kill -9 of s1: 8 new connections all carried by s2"
it_pass
