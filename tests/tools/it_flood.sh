#!/bin/sh
# A handshake-1 flood (issue 14) against a one-thread server: unique,
# well-formed message 1s from 127.0.0.2-9, as fast as lull-flood can send
# them, for 20 s at least and until everything below is done.  Meanwhile 50
# established links (from 127.0.0.1: a lull client with --links 50, one
# stream each) go idle, get their heartbeats acked, and carry data twice:
# every one must rekey (reason idle) and deliver every byte.  And 50 new
# connections arrive one after another through a second client with
# --streams-per-link 1, so each is a new link and a new handshake from
# 127.0.0.1: each must get through, 95 % of them within 2 s.
#
#  A. Rotation: --source-penalty 0s (no per-source budget) and
#     --srk-replay-max 100, so the flood fills an SRK's replay set every
#     hundred handshakes.  Every handshake is still answered (a fresh SRK
#     takes over): the tunnels' rekeys go through.  With the version-1 rule
#     (a full set refuses with busy) the rekeys are refused and the tunnels
#     close.
#  B. The per-source budget, at the default --srk-interval (10s): the flood's
#     sources are throttled at accept (source_throttled), most of its message
#     1s are refused unanswered, honest clients get in, and the server's peak
#     RSS stays under SERVER_RSS_BUDGET_KB.
#  C. The same at the largest --srk-interval (60s).
#  D. Behind a balancer (--proxy-protocol) the budget judges the client the
#     PROXY header names, not the socket's peer (the balancer): a flood whose
#     headers name 192.0.2.66 gets that address throttled, while headers
#     naming 192.0.2.77, over the same sockets, still get answers.  (The
#     addresses are only bytes in headers; nothing is sent to them.)
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
FLOOD=$BUILD_DIR/lull-flood
[ -x "$FLOOD" ] || fail "missing $FLOOD"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 2s --heartbeat-timeout 1s"
FLOOD_S=20
# docs/performance.md "Under a handshake flood": 16.5 MiB of replay tables
# at most, plus the process, its tunnels and the flood's pending
# connections.
SERVER_RSS_BUDGET_KB=65536

flood_case() {
	name=$1
	shift
	start_echo echo$name
	start_server server$name "$ECHO_PORT" "$T/authorized" --threads 1 $HB "$@"
	spid=$SERVER_PID
	start_client client$name alice "$SERVER_PORT" --threads 1 --links 50 $HB
	links_port=$CLIENT_PORT
	links_pid=$CLIENT_PID
	start_client new$name alice "$SERVER_PORT" --threads 1 --streams-per-link 1 $HB
	new_port=$CLIENT_PORT
	wait_count "$T/server$name.log" "event=handshake_done reason=initial" 50 10 ||
		fail "$name: the 50 links did not come up"
	# One stream per link: 4K each way, 5 s idle (two heartbeats acked),
	# 4K, idle, 4K.
	"$LOAD" --port "$links_port" --conns 50 --steps 4K,s5000,4K,s5000,4K --seed 3 \
		--timeout $((40 * SLOW)) >"$T/load$name.out" 2>&1 &
	load_pid=$!
	PIDS="$PIDS $load_pid"
	# Long enough for any machine; stopped (SIGTERM) once the tunnels and
	# the new connections are done, and not before FLOOD_S seconds.
	"$FLOOD" --port "$SERVER_PORT" --seconds 600 >"$T/flood$name.out" 2>&1 &
	flood_pid=$!
	PIDS="$PIDS $flood_pid"
	flood_start=$(date +%s)
	sleep 1
	# 50 new connections, one after another, while the flood runs.
	i=0
	while [ $i -lt 50 ]; do
		i=$((i + 1))
		"$LOAD" --port "$new_port" --steps 1K --seed $i --timeout $((10 * SLOW)) \
			>>"$T/honest$name.out" 2>&1 || echo "honest $i failed" >>"$T/honest$name.out"
		sleep 0.2
	done
	wait_exit "$load_pid" $((40 * SLOW))
	[ "$STATUS" = 0 ] || fail "$name: the established links did not all deliver (status $STATUS)"
	kill -0 "$flood_pid" 2>/dev/null || fail "$name: lull-flood died: $(cat "$T/flood$name.out")"
	while [ $(($(date +%s) - flood_start)) -le $FLOOD_S ]; do
		sleep 0.5
	done
	kill -TERM "$flood_pid"
	wait_exit "$flood_pid" 15
	[ "$STATUS" = 0 ] || fail "$name: lull-flood failed"
	# Per link: the stream's OPEN after the links' idle start, then twice
	# after 5 s: at least 100 (the OPEN may come before the first idle).
	idle=$(count "$T/server$name.log" "event=handshake_done reason=idle")
	[ "$idle" -ge 100 ] || fail "$name: $idle idle rekeys, want 100 (50 links x 2)"
	grep -q "reason=busy" "$T/server$name.log" "$T/client$name.log" &&
		fail "$name: a handshake was refused as busy"
	ok=$(grep -c "^load conn=1 mode=echo bytes=1024 .* ms=" "$T/honest$name.out")
	fast=$(sed -n 's/^load conn=1 mode=echo bytes=1024 .* ms=\([0-9]*\).*/\1/p' \
		"$T/honest$name.out" | awk -v lim=$((2000 * SLOW)) '$1 <= lim' | wc -l)
	[ "$ok" = 50 ] || fail "$name: $ok of 50 new connections worked"
	[ "$fast" -ge 48 ] || fail "$name: $fast of 50 new connections within 2 s"
	hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$spid/status)
	# Server CPU over the run: utime + stime (fields 14, 15) in ms.
	cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' \
		/proc/$spid/stat)
	sed -n 's/^flood done //p' "$T/flood$name.out" >"$T/flood$name.sum"
	echo "case $name: $(cat "$T/flood$name.sum") idle_rekeys=$idle fast=$fast/50" \
		"server_hwm_kb=$hwm server_cpu_ms=$cpu_ms"
	stop_pid "$CLIENT_PID" 5
	stop_pid "$links_pid" 5
	stop_pid "$spid" 5
	[ "$STOP_STATUS" = 0 ] || fail "$name: server exit $STOP_STATUS"
}

# flood_field CASE NAME: a field of the flood's summary line.
flood_field() {
	sed -n "s/.* $2=\([0-9]*\).*/\1/p" "$T/flood$1.sum"
}

flood_case A --source-penalty 0s --srk-replay-max 100 -v
created=$(count "$T/serverA.log" "event=srk_created")
answered=$(flood_field A answered)
[ "$answered" -ge 500 ] || fail "A: the flood got only $answered answers"
[ "$created" -ge $((answered / 100)) ] ||
	fail "A: $created SRKs for $answered handshakes: the sets did not rotate"
pass "A: $answered message 1s answered, $created SRKs, every rekey and new client through"

for c in B C; do
	args=""
	[ $c = C ] && args="--srk-interval 60s"
	flood_case $c $args
	sent=$(flood_field $c sent)
	answered=$(flood_field $c answered)
	grep -q "event=source_throttled" "$T/server$c.log" || fail "$c: no source was throttled"
	[ $((answered * 10)) -le "$sent" ] ||
		fail "$c: $answered of $sent message 1s answered: the flood was not throttled"
	# Under ASan, its shadow memory and quarantine of freed blocks, not
	# lull, set the RSS: the bound is checked in the release build only.
	[ "$SLOW" != 1 ] || [ "$hwm" -le $SERVER_RSS_BUDGET_KB ] ||
		fail "$c: server peak RSS $hwm kB"
	pass "$c ($args): $answered of $sent message 1s answered, peak RSS $hwm kB"
done

start_echo echoD
start_server serverD "$ECHO_PORT" "$T/authorized" --threads 1 --proxy-protocol
"$FLOOD" --port "$SERVER_PORT" --seconds 5 --proxy-from 192.0.2.66 >"$T/floodD.out" 2>&1 &
flood_pid=$!
PIDS="$PIDS $flood_pid"
wait_for "$T/serverD.log" "event=source_throttled from=192.0.2.66" 5 ||
	fail "D: the header's client was not throttled: $(grep -m1 throttled "$T/serverD.log")"
"$FLOOD" --port "$SERVER_PORT" --seconds 2 --max 20 --inflight 4 --proxy-from 192.0.2.77 \
	>"$T/floodD2.out" 2>&1 || fail "D: second lull-flood failed"
other=$(sed -n 's/^flood done .* answered=\([0-9]*\).*/\1/p' "$T/floodD2.out")
[ "${other:-0}" -ge 3 ] || fail "D: another client behind the same balancer got $other answers"
grep -q "event=source_throttled from=127.0.0" "$T/serverD.log" &&
	fail "D: the balancer's own address was throttled"
wait_exit "$flood_pid" 15
stop_pid "$SERVER_PID" 5
pass "D: behind --proxy-protocol the budget keys on the header's client ($other answers for another)"
it_pass
