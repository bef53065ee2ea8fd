#!/bin/sh
# soak.sh BUILD_DIR - many bursty clients through one lull tunnel for a
# bounded time (issue 6).  `make soak DURATION=seconds`; tests/tools/
# it_soak.sh runs a 20-second one as part of `make test`.
#
#   DURATION  seconds of traffic (default 60)
#   CONNS     concurrent client slots (default 20)
#   SEED      lull-soak seed (default: random, printed)
#
# An echo target, a lull server and a lull client on 127.0.0.1 with short
# policy knobs (heartbeat 1 s / 300 ms, rekey every 256 KiB or 3 s), and
# lull-soak (tests/tools/soak_client.c): CONNS slots, each sending bursts of
# random-size messages, idle spells of up to 2.5 s (so some cross the
# heartbeat interval), reconnecting every few bursts.  lull-soak checks
# every echoed byte against what it sent (exactly once, in order, both
# directions) and a SHA-256 per stream.
#
# Pass criteria, besides lull-soak's own:
#  - the rekeys include idle, bytes and age ones, and no tunnel closed for
#    anything but normal;
#  - afterwards the server's open fds (/proc/PID/fd) return exactly to the
#    baseline, and its VmRSS to within RSS_SLACK_KB (default 4096) of it.
#    The baseline is taken after a warm-up of the same shape (CONNS tunnels
#    with large messages for a few seconds), because the first burst of
#    tunnels grows malloc's per-thread arenas and libuv's pools once, and
#    glibc keeps that memory mapped; what must not happen is growth that
#    scales with the soak's length: 4 MiB is a few tunnels' worth of
#    buffers (NET_WRITE_QUEUE_BYTES + PLAIN_WRITE_QUEUE_BYTES = 1 MiB each)
#    against the hundreds of connections and gigabytes a soak carries.
# Prints: connections, messages, bytes, rekeys by reason, duration, peak
# RSS (VmHWM) of both lull processes.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
it_init "${1:?usage: scripts/soak.sh BUILD_DIR}"
SOAK=$BUILD_DIR/lull-soak
[ -x "$SOAK" ] || fail "missing $SOAK"
DURATION=${DURATION:-60}
CONNS=${CONNS:-20}
SEED=${SEED:-0}
RSS_SLACK_KB=${RSS_SLACK_KB:-4096}
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
POLICY="--heartbeat-interval 1s --heartbeat-timeout 300ms --rekey-bytes 256K --max-message 256K
	--rekey-max-age 3s"

it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" $POLICY
start_client client alice "$SERVER_PORT" $POLICY --streams-per-link 1

fds() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}
kb() {
	sed -n "s/^$2:[^0-9]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}
# settle PID FDS: wait until the process has FDS open fds again (tunnels
# linger up to CLOSE_LINGER_MS after their close); at most 15 s.
settle() {
	_n=$((150 * SLOW))
	while [ "$(fds "$1")" -gt "$2" ] && [ $_n -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
}

# Warm-up, then the baseline.
idle_fds=$(fds "$SERVER_PID")
"$SOAK" --port "$CLIENT_PORT" --conns "$CONNS" --duration 3 --idle-pct 0 --seed 1 \
	>"$T/warmup.out" 2>&1 || fail "warm-up: $(cat "$T/warmup.out")"
settle "$SERVER_PID" "$idle_fds"
base_fds=$(fds "$SERVER_PID")
base_rss=$(kb "$SERVER_PID" VmRSS)
[ "$base_fds" = "$idle_fds" ] || fail "fds after the warm-up: $base_fds, idle: $idle_fds"
: >"$T/server.mark"
warm_lines=$(wc -l <"$T/server.log")

echo "soak: $CONNS clients for ${DURATION}s (server fds $base_fds, VmRSS $base_rss kB)"
start=$(date +%s)
"$SOAK" --port "$CLIENT_PORT" --conns "$CONNS" --duration "$DURATION" --seed "$SEED" \
	--stall-ms $((30000 * SLOW)) >"$T/soak.out" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
cat "$T/soak.out"
[ $status = 0 ] || fail "lull-soak reported errors"
settle "$SERVER_PID" "$base_fds"
after_fds=$(fds "$SERVER_PID")
after_rss=$(kb "$SERVER_PID" VmRSS)
peak_srv=$(kb "$SERVER_PID" VmHWM)
peak_cli=$(kb "$CLIENT_PID" VmHWM)

# Figures.  Only the soak's own lines of the server log count.
tail -n +"$((warm_lines + 1))" "$T/server.log" >"$T/soak-server.log"
summary=$(sed -n 's/^soak conns=/conns=/p' "$T/soak.out")
val() {
	echo "$summary" | sed -n "s/.*$1=\([0-9]*\).*/\1/p"
}
rekeys() {
	count_ "$T/soak-server.log" "event=handshake_done reason=$1 "
}
count_() {
	grep -c -- "$2" "$1" 2>/dev/null || true
}
echo "---- soak figures"
echo "duration        ${elapsed} s (traffic $(val ms) ms)"
echo "connections     $(val conns)"
echo "messages        $(val messages)"
echo "bytes           $(val bytes_tx) sent, $(val bytes_rx) echoed back (each checked)"
echo "bursts          $(val bursts), idle spells $(val idles)"
for r in initial idle bytes age peer_request missed_ack application; do
	printf 'rekeys %-12s %s\n' "$r" "$(rekeys $r)"
done
echo "closes          $(count_ "$T/soak-server.log" "event=closed reason=normal ") normal," \
	"$(grep "event=closed" "$T/soak-server.log" | grep -vc "reason=normal ")" other
echo "server fds      $base_fds before, $after_fds after"
echo "server VmRSS    $base_rss kB before, $after_rss kB after"
echo "peak RSS        server $peak_srv kB, client $peak_cli kB (VmHWM)"
echo "----"

[ "$(rekeys initial)" = "$(val conns)" ] || fail "handshakes: $(rekeys initial) for $(val conns) connections"
for r in idle bytes; do
	[ "$(rekeys $r)" -gt 0 ] || fail "no $r rekey during the soak"
done
if [ "$DURATION" -ge 20 ]; then
	[ "$(rekeys age)" -gt 0 ] || fail "no age rekey during the soak"
fi
grep "event=closed" "$T/soak-server.log" | grep -v "reason=normal " | grep -q . &&
	fail "tunnels closed for other reasons: $(grep "event=closed" "$T/soak-server.log" | grep -v "reason=normal " | head -n 5)"
[ "$after_fds" = "$base_fds" ] || fail "server fds: $after_fds after, $base_fds before"
[ "$after_rss" -le $((base_rss + RSS_SLACK_KB * SLOW)) ] ||
	fail "server VmRSS: $after_rss kB after, $base_rss kB before (slack $RSS_SLACK_KB kB)"
stop_pid "$CLIENT_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "client exit: $STOP_STATUS"
stop_pid "$SERVER_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "server exit: $STOP_STATUS"
pass "soak: every byte back exactly once, fds and memory back to baseline"
it_pass
