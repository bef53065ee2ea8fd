#!/bin/sh
# 100 concurrent tunnels, spread over 2 worker threads on each side, each
# echoing 256 KiB checked byte by byte; every one gets its own handshake
# and closes normally: the per-connection model, --streams-per-link 1.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
N=100
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 2
start_client client alice "$SERVER_PORT" --threads 2 --streams-per-link 1
"$LOAD" --port "$CLIENT_PORT" --conns $N --steps 64K,192K --quiet --timeout $((60 * SLOW)) \
	>"$T/load.out" 2>&1 || fail "load: $(cat "$T/load.out")"
wait_for "$T/server.log" "event=closed" 5 || fail "no close logged"
n=0
_tries=$((50 * SLOW))
while [ "$_tries" -gt 0 ]; do
	n=$(grep -c "peer=alice event=closed reason=normal" "$T/server.log")
	[ "$n" -ge $N ] && break
	sleep 0.1
	_tries=$((_tries - 1))
done
[ "$n" = $N ] || fail "server closed $n of $N tunnels normally"
h=$(grep -c "event=handshake_done reason=initial" "$T/client.log")
[ "$h" = $N ] || fail "client completed $h of $N handshakes"
# Both workers took connections (SO_REUSEPORT spreads them).
grep -q "worker=0" "$T/server.log" && grep -q "worker=1" "$T/server.log" ||
	echo "note: the kernel gave every connection to one worker"
pass "$N concurrent tunnels"
it_pass
