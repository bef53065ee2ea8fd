#!/bin/sh
# 1,000 concurrent streams on one link (one thread, one link each side),
# each echoing 64 KiB checked byte by byte by lull-load; one handshake in
# all, every stream closed normally.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
N=1000
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 1 -v
start_client client alice "$SERVER_PORT" --threads 1 --links 1
"$LOAD" --port "$CLIENT_PORT" --conns $N --steps 32K,32K --quiet --timeout $((120 * SLOW)) \
	>"$T/load.out" 2>&1 || fail "load: $(tail -n 5 "$T/load.out")"
h=$(grep -c "event=handshake_done" "$T/client.log")
[ "$h" = 1 ] || fail "$h handshakes: not one link"
_n=$((100 * SLOW))
while [ "$(grep -c "event=stream_closed reason=normal" "$T/server.log")" -lt $N ] && [ $_n -gt 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
n=$(grep -c "event=stream_closed reason=normal" "$T/server.log")
[ "$n" = $N ] || fail "$n of $N streams closed normally on the server"
grep -q "level=warn" "$T/client.log" "$T/server.log" && fail "warnings: $(grep -h level=warn "$T/client.log" "$T/server.log" | head)"
pass "$N concurrent streams on one link, every byte checked"
it_pass
