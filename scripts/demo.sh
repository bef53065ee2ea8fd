#!/bin/sh
# demo.sh BUILD_DIR - a lull tunnel on loopback with a bursty workload.
#
# The client runs one thread and one link: every connection of the
# workload is a stream on that one long-lived lull connection (stream_open
# and stream_closed lines, shown with -v), the link goes idle with
# heartbeats between bursts, and a new stream after an idle spell waits
# for the idle rekey (handshake_started reason=idle right after its
# stream_open) before its first byte.
#
# Generates keys in a temporary directory, starts an echo target, a lull
# server and a lull client on free 127.0.0.1 ports with short demo
# intervals (heartbeat every 2 s, rekey every 8 MiB), runs bursts, idle
# spells longer than the heartbeat interval and bulk transfers through the
# tunnel for about 30 s (DEMO_SHORT=1: about 8 s, for CI), prints the live
# event log of both ends and a summary table, and fails if the workload
# failed or an expected event (heartbeats, idle rekey, byte rekey) is
# missing.  Every process is stopped by PID and the directory removed on
# exit.
set -eu

BUILD_DIR=${1:?usage: scripts/demo.sh BUILD_DIR}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
LULL=$BUILD_DIR/lull
ECHO=$BUILD_DIR/lull-echo
LOAD=$BUILD_DIR/lull-load
for bin in "$LULL" "$ECHO" "$LOAD"; do
	[ -x "$bin" ] || { echo "demo: $bin is missing; run make first" >&2; exit 1; }
done

SHORT=${DEMO_SHORT:-0}
POLICY="--heartbeat-interval 2s --heartbeat-timeout 1s --rekey-bytes 8M"

T=$(mktemp -d "${TMPDIR:-/tmp}/lull-demo.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() {
	printf '\n== %s\n' "$*"
}

# wait_for FILE PATTERN SECONDS
wait_for() {
	n=$(($3 * 10))
	while [ "$n" -gt 0 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "demo: timed out waiting for '$2' in $1" >&2
	return 1
}

# show NAME PID FILE: print FILE as it grows, as "HH:MM:SS.mmm NAME ...",
# until process PID exits.
show() {
	tail -n +1 -f --pid="$2" "$3" |
		sed -u "s/^ts=[0-9-]*T\([0-9:.]*\)Z level=[a-z]* /\1 $1 /" &
	PIDS="$PIDS $!"
}

say "keys (in $T)"
(umask 077 && "$LULL" genkey >"$T/server.key" && "$LULL" genkey >"$T/alice.key" &&
	"$LULL" genpsk >"$T/alice.psk")
"$LULL" pubkey <"$T/server.key" >"$T/server.pub"
"$LULL" pubkey <"$T/alice.key" >"$T/alice.pub"
echo "$(cat "$T/alice.pub") alice alice.psk" >"$T/authorized"
echo "server public key: $(cat "$T/server.pub")"
echo "authorized file:   $(cat "$T/authorized")"

"$ECHO" --port-file "$T/echo.port" >"$T/echo.out" 2>&1 &
PIDS="$PIDS $!"
wait_for "$T/echo.port" "[0-9]" 5
ECHO_PORT=$(cat "$T/echo.port")

# shellcheck disable=SC2086 # POLICY is a list of words
"$LULL" server --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO_PORT" --key "$T/server.key" \
	--authorized "$T/authorized" --threads 2 -v $POLICY 2>"$T/server.log" &
SERVER_PID=$!
PIDS="$PIDS $SERVER_PID"
wait_for "$T/server.log" "event=listening" 5
SERVER_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")

# shellcheck disable=SC2086
"$LULL" client --listen 127.0.0.1:0 --server "127.0.0.1:$SERVER_PORT" --key "$T/alice.key" \
	--server-pub "$T/server.pub" --psk "$T/alice.psk" --threads 1 --links 1 -v $POLICY \
	2>"$T/client.log" &
CLIENT_PID=$!
PIDS="$PIDS $CLIENT_PID"
wait_for "$T/client.log" "event=listening" 5
CLIENT_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/client.log")

say "live event log (echo target :$ECHO_PORT <- lull server :$SERVER_PORT <- lull client :$CLIENT_PORT)"
show server "$SERVER_PID" "$T/server.log"
show client "$CLIENT_PID" "$T/client.log"

# The stale-key spoof (A8): lull-spoof, the engine's attacker tool, is an
# authorized client that lets its link go idle until a heartbeat has made
# the key stale, then injects data under that key; the server must log
# spoof_rejected and close with reason spoof.  Runs beside the workload.
SPOOF_PID=""
inject_spoof() {
	if [ -x "$BUILD_DIR/lull-spoof" ]; then
		"$BUILD_DIR/lull-spoof" --server "127.0.0.1:$SERVER_PORT" --key "$T/alice.key" \
			--psk "$T/alice.psk" --server-pub "$T/server.pub" --timeout-ms 20000 \
			>"$T/spoof.out" 2>&1 &
		SPOOF_PID=$!
		PIDS="$PIDS $SPOOF_PID"
	else
		echo "demo: spoof step skipped: $BUILD_DIR/lull-spoof (the engine's stale-key injector) is not built"
	fi
}

# The workload: one chatty tunnel with idle spells longer than the heartbeat
# interval, one bulk tunnel crossing --rekey-bytes, and bursts of short
# tunnels.  Every byte is echoed and checked.
if [ "$SHORT" = 1 ]; then
	CHATTY="64K,s3000,64K,s2500,16K"
	BULK="s500,12M"
	BURSTS=1
else
	CHATTY="64K,s3000,256K,s5000,64K,s2500,1M,s6000,16K,s4000,64K"
	BULK="s1000,24M,s6000,40M,s3000,8M"
	BURSTS=4
fi
START=$(date +%s)
inject_spoof
# A resident tunnel that stays idle until the shutdown closes it.
"$LOAD" --port "$CLIENT_PORT" --steps 4K,s600000 --timeout 700 --quiet >"$T/resident.out" 2>&1 &
PIDS="$PIDS $!"
"$LOAD" --port "$CLIENT_PORT" --steps "$CHATTY" --timeout 120 --quiet >"$T/chatty.out" 2>&1 &
CHATTY_PID=$!
PIDS="$PIDS $CHATTY_PID"
"$LOAD" --port "$CLIENT_PORT" --steps "$BULK" --timeout 120 --quiet >"$T/bulk.out" 2>&1 &
BULK_PID=$!
PIDS="$PIDS $BULK_PID"
FAILED=0
i=0
while [ "$i" -lt "$BURSTS" ]; do
	sleep 2
	"$LOAD" --port "$CLIENT_PORT" --conns 8 --steps 128K,s500,128K --timeout 60 --quiet \
		>"$T/burst.out" 2>&1 || { FAILED=1; cat "$T/burst.out"; }
	i=$((i + 1))
done
[ "$SHORT" = 1 ] || sleep 3
wait "$CHATTY_PID" || { FAILED=1; cat "$T/chatty.out"; }
wait "$BULK_PID" || { FAILED=1; cat "$T/bulk.out"; }
# The link idle past a heartbeat, then one more stream: its OPEN waits for
# the idle rekey.
say "idle link, then a new stream"
sleep 4
"$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout 30 --quiet >"$T/late.out" 2>&1 ||
	{ FAILED=1; cat "$T/late.out"; }
if [ -n "$SPOOF_PID" ]; then
	wait "$SPOOF_PID" || { FAILED=1; echo "demo: lull-spoof failed: $(cat "$T/spoof.out")"; }
fi
ELAPSED=$(($(date +%s) - START))

say "stopping (SIGTERM)"
kill -TERM "$CLIENT_PID" "$SERVER_PID"
for p in "$CLIENT_PID" "$SERVER_PID"; do
	wait "$p" || { echo "demo: lull (pid $p) exited with status $?" >&2; FAILED=1; }
done
sleep 0.2

say "summary (${ELAPSED}s of workload)"
count() {
	grep -c -- "$2" "$1" || true
}
mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}
bytes=$(sed -n 's/.*event=closed .*bytes=\([0-9]*\).*/\1/p' "$T/client.log" |
	awk '{ s += $1 } END { print s + 0 }')
printf '%-34s %8s %8s\n' "" client server
for r in initial idle bytes age peer_request missed_ack; do
	printf '%-34s %8s %8s\n' "handshakes, reason=$r" \
		"$(count "$T/client.log" "event=handshake_done reason=$r ")" \
		"$(count "$T/server.log" "event=handshake_done reason=$r ")"
done
printf '%-34s %8s %8s\n' "heartbeats sent / received" \
	"$(count "$T/client.log" "event=heartbeat_sent")" \
	"$(count "$T/server.log" "event=heartbeat_received")"
printf '%-34s %8s %8s\n' "heartbeats acked / missed" \
	"$(count "$T/client.log" "event=heartbeat_acked")/$(count "$T/client.log" "event=heartbeat_missed")" \
	"-"
printf '%-34s %8s %8s\n' "keys stale" "$(count "$T/client.log" "event=key_stale")" \
	"$(count "$T/server.log" "event=key_stale")"
printf '%-34s %8s %8s\n' "spoofs rejected" "$(count "$T/client.log" "event=spoof_rejected")" \
	"$(count "$T/server.log" "event=spoof_rejected")"
printf '%-34s %8s %8s\n' "auth failures" "$(count "$T/client.log" "event=auth_failed")" \
	"$(count "$T/server.log" "event=auth_failed")"
for r in $(sed -n 's/.*event=closed reason=\([a-z_]*\).*/\1/p' "$T/client.log" "$T/server.log" |
	sort -u); do
	printf '%-34s %8s %8s\n' "closes, reason=$r" \
		"$(count "$T/client.log" "event=closed reason=$r ")" \
		"$(count "$T/server.log" "event=closed reason=$r ")"
done
printf '%-34s %17s\n' "application bytes (both ways)" "$(mib "$bytes")"
printf '%-34s %8s %8s\n' "links (client handshakes initial)" \
	"$(count "$T/client.log" "event=handshake_done reason=initial ")" "-"
printf '%-34s %8s %8s\n' "streams carried" "$(count "$T/client.log" "event=stream_open")" "-"

# The demo shows what it promises, or fails.
check() {
	if [ "$(count "$1" "$2")" -gt 0 ]; then
		echo "ok   $3"
	else
		echo "FAIL $3" >&2
		FAILED=1
	fi
}
echo
check "$T/client.log" "event=heartbeat_sent" "heartbeats while idle"
links=$(count "$T/client.log" "event=handshake_done reason=initial ")
streams=$(count "$T/client.log" "event=stream_open")
if [ "$links" = 1 ] && [ "$streams" -ge 5 ]; then
	echo "ok   $streams streams on one link"
else
	echo "FAIL $streams streams on $links links" >&2
	FAILED=1
fi
# The last stream's OPEN frame started the idle rekey (logged inside its
# open, so on the line before its stream_open), before any of its data.
last=$(sed -n '/event=stream_open/h; ${x;p}' "$T/client.log")
prev=$(grep -B1 -F "$last" "$T/client.log" | head -n 1)
case "$prev" in
*"event=handshake_started reason=idle"*) echo "ok   a new stream after an idle spell waits for the idle rekey" ;;
*) echo "FAIL before the last stream_open: $prev" >&2; FAILED=1 ;;
esac
check "$T/client.log" "event=handshake_done reason=idle" "idle rekey before data after an idle spell"
check "$T/client.log" "event=handshake_done reason=bytes" "byte-threshold rekey"
check "$T/server.log" "event=closed reason=shutdown" "clean shutdown with close frames"
if [ -n "$SPOOF_PID" ]; then
	check "$T/server.log" "event=spoof_rejected" "stale-key spoof rejected"
fi
if [ "$FAILED" != 0 ]; then
	echo "demo: FAILED" >&2
	exit 1
fi
echo "demo: OK"
