#!/bin/sh
# --links N: the client keeps N links up from the start (N handshakes before
# any application connects) and spreads streams over them, each new stream
# going to the link with the fewest; every byte is checked.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 1
start_client client alice "$SERVER_PORT" --threads 1 --links 3 -v
_n=$((50 * SLOW))
while [ "$(grep -c "event=handshake_done" "$T/client.log")" -lt 3 ] && [ $_n -gt 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
[ "$(grep -c "event=handshake_done" "$T/client.log")" = 3 ] || fail "3 links did not come up"
"$LOAD" --port "$CLIENT_PORT" --conns 9 --steps 256K,s300,256K --quiet --timeout $((20 * SLOW)) \
	>"$T/load.out" 2>&1 || fail "load: $(cat "$T/load.out")"
[ "$(grep -c "event=handshake_done" "$T/client.log")" = 3 ] || fail "more links than 3"
links=$(sed -n 's/.*conn=\([0-9]*\) stream=[0-9]* event=stream_open.*/\1/p' "$T/client.log" |
	sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' ')
[ "$links" = "3 3 3 " ] || fail "streams per link: $links, want 3 3 3"
pass "9 streams spread 3/3/3 over 3 links kept up from the start"
it_pass
