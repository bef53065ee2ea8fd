#!/bin/bash
# bench.sh BUILD_DIR - lull against the tunnels people use today, side by
# side in one run, on loopback (make bench; QUICK=1 make bench for ~1 min).
#
# Part 1, the peer table.  Rows: direct TCP, a plaintext relay (our own
# single-threaded epoll relay, bench/lull-bench-relay.c: the cost of one
# user-space hop, not socat's fork per connection), spiped, stunnel (TLS 1.3,
# no resumption, mutual certificate check off, server verified by the
# client), ssh -L (aes256-gcm@openssh.com), lull (its defaults).  Each
# carries lull-bench-tcp's traffic to lull-bench-target.  Columns:
#   bulk       one connection, one direction, MB/s (10^6), median of 3
#   conn/s     new tunneled connections per second, each carrying one
#              64-byte request and its answer: sequential, and the best of
#              2 and 4 parallel clients (lull: a full handshake each)
#   rtt        64-byte round trips on an established connection, median
#              and p99, microseconds (of three runs, the lowest median)
#   idle mem   RSS growth of the server-side process (tree) over 1000 idle
#              connections, each used once, / 1000, KiB
#   CPU s/GB   CPU seconds of both tunnel processes per GB of bulk
# and a ratio row: lull / the best encrypted peer (spiped, stunnel, ssh).
#
# Part 2, lull alone, on the engine's own load generator
# (bench/lull-bench-load.c):
#   storm  N established connections go idle, have a heartbeat acknowledged
#          (key stale), then all send at once: each needs a full handshake
#          before its data.  Wall time and server CPU seconds, with the SRK
#          pool and with --no-srk-pool.  No connection may fail.
#   idle   M idle connections with heartbeats: server RSS per connection and
#          server CPU per second of idle.
#
# Part 3, links and streams (bench/bench_links.sh): 8 bulk streams sharing
# one link (max/min time) and server memory per idle link
# (bench/idle_links.sh); BENCH_LINKS=0 skips it.
#
# Results: a table and the issue's targets on stdout; BUILD_DIR/bench/
# results.csv (peer table), scale.csv (part 2) and results.json (both).
#
# Invariants: only 127.0.0.x; throwaway keys, certificates and configs in
# one mktemp -d directory, removed on exit; every process we start is
# recorded and stopped by PID (TERM, then KILL); every wait is a bounded
# poll.  A peer that cannot be installed is shown as n/a, never faked.
set -u

BUILD_DIR=${1:?usage: scripts/bench.sh BUILD_DIR}
QUICK=${QUICK:-0}
B=$(cd "$BUILD_DIR" && pwd) || exit 1
OUT=$B/bench
for bin in lull lull-bench-tcp lull-bench-target lull-bench-relay lull-bench-load; do
	[ -x "$B/$bin" ] || { echo "bench: missing $B/$bin (build first)" >&2; exit 1; }
done

if [ "$QUICK" = 1 ]; then
	BULK_BYTES=$((128 << 20)) CONN_SECONDS=1 RTT_COUNT=2000 IDLE_CONNS=1000
	STORM_CONNS=2000 STORM_HB=4s STORM_HT=2s
	SCALE_CONNS=5000 SCALE_HB=5s SCALE_HT=2s SCALE_WINDOW=5
else
	BULK_BYTES=$((1024 << 20)) CONN_SECONDS=4 RTT_COUNT=10000 IDLE_CONNS=1000
	STORM_CONNS=10000 STORM_HB=10s STORM_HT=5s
	SCALE_CONNS=50000 SCALE_HB=20s SCALE_HT=10s SCALE_WINDOW=20
fi

# ---- Processes ---------------------------------------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/lull-bench.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "bench: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# started PID: remember it for cleanup.
started() { PIDS="$PIDS $1"; }

# free_port, wait_port, stop_pids: from the one shell library.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh" || exit 1

# wait_file FILE SECONDS
wait_file() {
	for _ in $(seq $(($2 * 10))); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

tree_pids() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done
}
# RSS of a process and all its descendants, KiB.
tree_rss_kib() {
	local s=0 r p
	for p in $(tree_pids "$1"); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${r:-0}))
	done
	echo "$s"
}
cpu_s() { # utime+stime of the PIDs, seconds
	local s=0 t p
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null)
		s=$((s + ${t:-0}))
	done
	awk -v t="$s" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
kv() { # kv KEY LINE: the value of KEY=value in LINE
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# The two benchmarks, then the report, in this order, in this shell: each
# part reads what the ones before it set.
BENCH_DIR=$(dirname "${BASH_SOURCE[0]}")/../bench
# shellcheck source=bench/bench_peers.sh
. "$BENCH_DIR/bench_peers.sh"
# shellcheck source=bench/bench_scale.sh
. "$BENCH_DIR/bench_scale.sh"
# shellcheck source=bench/bench_links.sh
. "$BENCH_DIR/bench_links.sh"
# shellcheck source=bench/bench_report.sh
. "$BENCH_DIR/bench_report.sh"
