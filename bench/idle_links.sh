#!/bin/bash
# bench/idle_links.sh BUILD_DIR [N...] - server memory per idle link (issue
# 13: at most 2 KiB), measured as the RSS growth of one lull server.
#
# For each N: one `lull server --threads 1 -q` on 127.0.0.1 in front of
# lull-bench-target; its RSS (/proc/PID/status VmRSS) is read, then the
# engine load generator (bench/lull-bench-load --mode idle --use-once) opens
# N links, each carries one echoed stream that both ends then close, and the
# links are held idle with heartbeats.  After SETTLE_S seconds (every link
# has had a heartbeat), RSS is read again: (after - before) / N is the
# figure.  Where it went is printed too, per memory mapping of the server
# whose resident size moved (the main heap, the worker thread's malloc
# arena, the OpenSSL secure heap: see docs/performance.md).
#
# Environment: HB, HT (heartbeat interval and timeout, default 5s, 2s), SETTLE_S (default 12),
# SERVER_ARGS (extra server flags, e.g. "--secure-heap 0"), MALLOC_STATS=1
# (glibc malloc_stats() of the server, through gdb, after the second read),
# QUIET= (the server logs at info), KEEP=1 (keep the logs).
#
# A server holds one descriptor per idle link, but sizes its caps for two
# per carried connection: with RLIMIT_NOFILE 20,000 one worker takes at
# most ~9,980 links, so N above that is refused (and reported as failed).
#
# Invariants: only 127.0.0.1/127.0.0.x; throwaway keys in one mktemp -d
# directory, removed on exit; every process started here is stopped by its
# PID; every wait is bounded.
set -u

BUILD_DIR=${1:?usage: bench/idle_links.sh BUILD_DIR [N...]}
shift
B=$(cd "$BUILD_DIR" && pwd) || exit 1
[ $# -gt 0 ] || set -- 5000
HB=${HB:-5s}
HT=${HT:-2s}
SETTLE_S=${SETTLE_S:-12}
for bin in lull lull-bench-target lull-bench-load; do
	[ -x "$B/$bin" ] || { echo "idle_links: missing $B/$bin (build first)" >&2; exit 1; }
done

# free_port, wait_port, stop_pids
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh" || exit 1

T=$(mktemp -d "${TMPDIR:-/tmp}/lull-idle.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "idle_links: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Resident KiB of each mapping: "start-end size_kib rss_kib name".
maps() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {m = $1; name = $6} \
	     /^Size:/ {sz = $2} \
	     /^Rss:/ {print m, sz, $2, (name == "" ? "anon" : name)}' "/proc/$1/smaps"
}

(umask 077 && "$B/lull" genkey >"$T/server.key" && "$B/lull" genkey >"$T/client.key") || exit 1
"$B/lull" pubkey <"$T/server.key" >"$T/server.pub"
echo "$("$B/lull" pubkey <"$T/client.key") bench" >"$T/authorized"

ms() { awk -v d="$1" 'BEGIN {sub(/s$/, "", d); print d * 1000}'; }

echo "idle links: lull server --threads 1 -q ${SERVER_ARGS:-}, heartbeat $HB timeout $HT, $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null)"
for n in "$@"; do
	tp=$(free_port)
	"$B/lull-bench-target" --listen "127.0.0.1:$tp" 2>"$T/target.log" &
	tpid=$!
	PIDS="$PIDS $tpid"
	wait_port "$tp" || { echo "idle_links: target did not start" >&2; exit 1; }
	sp=$(free_port)
	# shellcheck disable=SC2086
	"$B/lull" server --listen "127.0.0.1:$sp" --target "127.0.0.1:$tp" \
		--key "$T/server.key" --authorized "$T/authorized" --threads 1 ${QUIET--q} \
		--heartbeat-interval "$HB" --heartbeat-timeout "$HT" ${SERVER_ARGS:-} 2>"$T/server.log" &
	spid=$!
	PIDS="$PIDS $spid"
	wait_port "$sp" || { echo "idle_links: server did not start: $(tail -n 3 "$T/server.log")" >&2; exit 1; }
	sleep 1
	rss0=$(rss_kib $spid)
	maps $spid >"$T/maps0"
	rm -f "$T/ready"
	"$B/lull-bench-load" --mode idle --use-once --server "127.0.0.1:$sp" \
		--key "$T/client.key" --server-pub "$T/server.pub" --conns "$n" --sources 10 \
		--source-base 2 --heartbeat-interval "$(ms "$HB")" --heartbeat-timeout "$(ms "$HT")" --ready-file "$T/ready" \
		--hold 600 --timeout 700 >"$T/load.out" 2>&1 &
	lpid=$!
	PIDS="$PIDS $lpid"
	for _ in $(seq 3000); do
		[ -s "$T/ready" ] && break
		kill -0 $lpid 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$T/ready" ] || { echo "idle_links: N=$n never got ready: $(tail -n 3 "$T/load.out")" >&2; exit 1; }
	sleep "$SETTLE_S"
	rss1=$(rss_kib $spid)
	maps $spid >"$T/maps1"
	# MALLOC_STATS=1: glibc's own count of the bytes in use, per arena
	# (live allocations, against what the arena holds from the system).
	if [ "${MALLOC_STATS:-0}" = 1 ] && command -v gdb >/dev/null; then
		gdb -p $spid -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1
		sleep 0.2
	fi
	if [ "${TRY_TRIM:-0}" = 1 ]; then
		gdb -p $spid -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1
		echo "    after malloc_trim(0) through gdb: RSS $(rss_kib $spid) KiB"
	fi
	stop_pids $lpid
	ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' "$T/load.out" | head -n 1)
	failed=$(sed -n 's/^idle .*failed=\([0-9]*\).*/\1/p' "$T/load.out")
	hb=$(sed -n 's/.*heartbeats_acked=\([0-9]*\).*/\1/p' "$T/load.out")
	printf "N=%d links (%s ok, %s failed, %s heartbeats acked): server RSS %d -> %d KiB, %.2f KiB per link\n" \
		"$n" "${ok:-?}" "${failed:-?}" "${hb:-?}" "$rss0" "$rss1" \
		"$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN {print (b - a) / n}')"
	# Mappings whose resident size moved by more than 64 KiB.
	awk -v n="$n" 'NR == FNR {r[$1] = $3; next}
		{d = $3 - r[$1]; if (d > 64 || d < -64)
			printf "    %-28s %8d KiB mapped, resident %+8d KiB = %6.0f B per link  %s\n",
			       $1, $2, d, d * 1024 / n, $4}' "$T/maps0" "$T/maps1"
	echo "    load generator: $(grep -E '^(established|loop) ' "$T/load.out" | tr '\n' ' ')"
	grep -q '^first_failure' "$T/load.out" && echo "    $(grep '^first_failure' "$T/load.out")"
	[ "${MALLOC_STATS:-0}" = 1 ] && grep -E '^(Arena|system|in use|Total)' "$T/server.log" | sed 's/^/    malloc_stats: /'
	stop_pids $spid $tpid
done
