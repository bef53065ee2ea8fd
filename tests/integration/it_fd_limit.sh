#!/bin/sh
# File descriptors: lull raises its RLIMIT_NOFILE soft limit to the hard
# one and sizes its caps from it (2 fds a tunnel, a reserve kept), so a
# flood of connections is refused with one rate-limited WARN line instead
# of running into EMFILE; connections that have not completed their first
# handshake have a smaller cap of their own, so peers that never
# handshake cannot take every slot; and the daemon serves again afterwards.
# Here: soft 48, hard 64, one thread -> (64 - 40) / 2 = 12 tunnels, of
# which 3 may be before their first handshake.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo

# limited LOGNAME ARGS...: lull under ulimit -n 48/64; sets LULL_PID, LULL_PORT.
limited() {
	_log=$T/$1.log
	shift
	sh -c 'ulimit -Sn 48 && ulimit -Hn 64 && exec "$@"' sh "$LULL" "$@" 2>"$_log" &
	LULL_PID=$!
	PIDS="$PIDS $LULL_PID"
	wait_for "$_log" "event=listening" 5 || fail "lull did not start: $(cat "$_log")"
	LULL_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$_log")
}

# 1. Server: peers that never handshake get at most 3 slots.
limited server server --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized" --threads 1
SERVER_PID=$LULL_PID
SERVER_PORT=$LULL_PORT
grep -q "event=fd_limit nofile=64 tunnels_per_worker=12 handshakes_per_worker=3" "$T/server.log" ||
	fail "no or wrong fd_limit line: $(grep fd_limit "$T/server.log")"
start_client client alice "$SERVER_PORT"
# A tunnel that is up before the flood and must carry on through it.
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s$((2000 * SLOW)),4K --timeout $((20 * SLOW)) \
	>"$T/long.out" 2>&1 &
LONG_PID=$!
PIDS="$PIDS $LONG_PID"
wait_for "$T/server.log" "peer=alice event=handshake_done" 5 || fail "tunnel not up"
"$LOAD" --port "$SERVER_PORT" --mode hold --conns 20 --timeout $((3 * SLOW)) >/dev/null 2>&1 &
HOLD_PID=$!
PIDS="$PIDS $HOLD_PID"
wait_for "$T/server.log" "event=refused why=too_many_handshakes limit=3" 5 ||
	fail "no refusal past the handshake cap"
wait "$LONG_PID" || fail "the established tunnel suffered: $(cat "$T/long.out")"
wait "$HOLD_PID"
n=$(grep -c "event=refused" "$T/server.log")
[ "$n" -le 4 ] || fail "$n refused lines: not rate-limited"
grep -q "event=accept_failed" "$T/server.log" && fail "accept failed: $(grep accept_failed "$T/server.log")"
pass "server: the handshake cap holds, refusals are rate-limited"

# count_at_least FILE PATTERN N SECONDS: poll until N lines match.
count_at_least() {
	_n=$(($4 * 10 * SLOW))
	while [ "$(grep -c -- "$2" "$1")" -lt "$3" ] && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	[ "$(grep -c -- "$2" "$1")" -ge "$3" ]
}
# 2. Client: applications arrive 3 at a time (the handshake cap) until 12
# tunnels are up; the next ones are refused, and no EMFILE.
start_echo echo2
start_server server2 "$ECHO_PORT" "$T/authorized"
limited client2 client --listen 127.0.0.1:0 --server "127.0.0.1:$SERVER_PORT" \
	--key "$T/alice.key" --server-pub "$T/server.pub" --threads 1 --streams-per-link 1
C2_PID=$LULL_PID
C2_PORT=$LULL_PORT
for i in 1 2 3 4; do
	"$LOAD" --port "$C2_PORT" --mode hold --conns 3 --timeout $((6 * SLOW)) >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	count_at_least "$T/client2.log" "event=handshake_done" $((3 * i)) 5 ||
		fail "tunnels $((3 * i - 2))-$((3 * i)) did not come up"
done
[ "$(grep -c "event=handshake_done" "$T/client2.log")" = 12 ] || fail "12 tunnels did not come up"
"$LOAD" --port "$C2_PORT" --mode hold --conns 5 --timeout 1 >/dev/null 2>&1
wait_for "$T/client2.log" "event=refused why=too_many_connections limit=12" 5 ||
	fail "no refusal past the tunnel cap"
grep -q "event=accept_failed" "$T/client2.log" && fail "accept failed: $(grep accept_failed "$T/client2.log")"
count_at_least "$T/client2.log" "event=closed" 12 10 || fail "the held tunnels did not end"
# Once they are gone, it serves again (3 at once: the handshake cap).
"$LOAD" --port "$C2_PORT" --conns 3 --steps 64K --timeout $((20 * SLOW)) >"$T/after.out" 2>&1 ||
	fail "no service after the flood: $(cat "$T/after.out")"
kill -0 "$C2_PID" || fail "client died"
pass "client: the tunnel cap holds, service resumes"
it_pass
