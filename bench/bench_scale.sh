# shellcheck shell=bash
# bench/bench_scale.sh - part 2 of the benchmark: lull alone on its load
# generator (the handshake storm, many idle connections).
# Sourced by scripts/bench.sh, after its settings and process helpers (the
# variables and functions it defines are used here); not run on its own.

# ---- Part 2: storm and many idle connections (engine load generator) ----

# One lull server process holds 2 descriptors per tunnel (lull side and
# target side); stay well under the open-files limit, and under the
# daemon's per-worker cap.  Several processes if need be (a fleet shares
# no state, design section 6); their CPU and RSS are summed.
PER_SERVER=$(((NOFILE - 200) / 2))
[ $PER_SERVER -gt 16000 ] && PER_SERVER=16000
PER_PROC=$((NOFILE - 200)) # one descriptor per connection: load generator, target
[ $PER_PROC -gt 60000 ] && PER_PROC=60000

# scale_servers N EXTRA...: start ceil(N / PER_SERVER) lull servers, each
# with its own target process when one target cannot hold them all.
# Sets SERVER_PIDS, SERVER_ADDRS (--server flags), SCALE_PIDS (all).
scale_servers() {
	local n=$1 ns nt i tp sp pid
	shift
	ns=$(((n + PER_SERVER - 1) / PER_SERVER))
	nt=$(((n + PER_PROC - 1) / PER_PROC))
	SERVER_PIDS="" SERVER_ADDRS="" SCALE_PIDS="" TPORTS=""
	for i in $(seq "$nt"); do
		tp=$(free_port)
		"$B/lull-bench-target" --listen "127.0.0.1:$tp" 2>>"$T/scale-target.log" &
		pid=$!
		started $pid
		SCALE_PIDS="$SCALE_PIDS $pid"
		TPORTS="$TPORTS $tp"
		wait_port "$tp" || return 1
	done
	for i in $(seq "$ns"); do
		tp=$(echo $TPORTS | cut -d' ' -f$(((i - 1) % nt + 1)))
		sp=$(free_port)
		"$B/lull" server --listen "127.0.0.1:$sp" --target "127.0.0.1:$tp" \
			--key "$T/server.key" --authorized "$T/authorized" --threads 1 ${SCALE_LOG--q} "$@" \
			2>>"$T/scale-server.log" &
		pid=$!
		started $pid
		SERVER_PIDS="$SERVER_PIDS $pid"
		SCALE_PIDS="$SCALE_PIDS $pid"
		SERVER_ADDRS="$SERVER_ADDRS --server 127.0.0.1:$sp"
		wait_port "$sp" || return 1
	done
}

ms() { awk -v d="$1" 'BEGIN {sub(/s$/, "", d); print d * 1000}'; } # "10s" -> 10000

# storm LABEL EXTRA...: one storm of STORM_CONNS; sets STORM_LINE.
storm() {
	local label=$1 watch=""
	shift
	scale_servers "$STORM_CONNS" --heartbeat-interval "$STORM_HB" --heartbeat-timeout "$STORM_HT" "$@" ||
		{ echo "bench: storm servers did not start" >&2; return 1; }
	for p in $SERVER_PIDS; do watch="$watch --watch-pid $p"; done
	echo "  storm ($label): $STORM_CONNS connections on $(echo $SERVER_PIDS | wc -w) server process(es) ..." >&2
	# shellcheck disable=SC2086
	timeout 600 "$B/lull-bench-load" --mode storm $SERVER_ADDRS --key "$T/client.key" \
		--server-pub "$T/server.pub" --conns "$STORM_CONNS" --sources 16 --source-base 2 \
		--heartbeat-interval "$(ms "$STORM_HB")" --heartbeat-timeout "$(ms "$STORM_HT")" \
		--timeout 500 $watch >"$T/storm-$label.out" 2>&1
	STORM_RC=$?
	STORM_LINE=$(grep '^storm ' "$T/storm-$label.out")
	[ $STORM_RC = 0 ] || echo "bench: storm ($label) failed: $(tail -n 3 "$T/storm-$label.out")" >&2
	# shellcheck disable=SC2086
	stop_pids $SCALE_PIDS
}

STORM_LINE="" STORM_RC=1
if [ "${BENCH_SCALE:-1}" = 1 ] || [ "${BENCH_SCALE:-1}" = storm ]; then
	storm pool
	STORM_POOL=$STORM_LINE
	STORM_LINE="" STORM_RC=1
	storm fresh --no-srk-pool
	STORM_FRESH=$STORM_LINE
else
	STORM_POOL="" STORM_FRESH=""
fi

# Many idle connections: heartbeats 3x as often as the default (20 s, so a
# 20 s window sees every connection's), with the default 10 s timeout.  With
# a 5 s timeout, 2 of 4 runs of 50,000 on this saturated 2-core machine lost
# ~3 % to heartbeat timeouts while the last handshakes were still being made
# (see docs/performance.md).
#
# Load generators of at most PER_PROC connections
# each, every one spread over all servers, each from its own 10 source
# addresses (127.0.0.x: ~28,000 ephemeral ports per source address).
idle_scale() {
	local n=$SCALE_CONNS nl per i pids="" rss0 rss1 c0 c1
	scale_servers "$n" --heartbeat-interval "$SCALE_HB" --heartbeat-timeout "$SCALE_HT" ||
		{ echo "bench: idle servers did not start" >&2; return 1; }
	sleep 1
	# shellcheck disable=SC2086
	rss0=$(for p in $SERVER_PIDS; do tree_rss_kib $p; done | awk '{s += $1} END {print s}')
	nl=$(((n + PER_PROC - 1) / PER_PROC))
	per=$(((n + nl - 1) / nl))
	echo "  idle: $n connections, $(echo $SERVER_PIDS | wc -w) server process(es), $nl load generator(s) ..." >&2
	for i in $(seq "$nl"); do
		local cnt=$per
		[ "$i" = "$nl" ] && cnt=$((n - per * (nl - 1)))
		# shellcheck disable=SC2086
		"$B/lull-bench-load" --mode idle $SERVER_ADDRS --key "$T/client.key" \
			--server-pub "$T/server.pub" --conns "$cnt" --sources 10 \
			--source-base $((2 + 10 * (i - 1))) --heartbeat-interval "$(ms "$SCALE_HB")" \
			--heartbeat-timeout "$(ms "$SCALE_HT")" \
			--ready-file "$T/idle-ready.$i" --hold 900 --timeout 1000 >"$T/idle.$i.out" 2>&1 &
		pids="$pids $!"
		started $!
	done
	IDLE_ESTABLISH_S=""
	local t0
	t0=$(date +%s)
	for i in $(seq "$nl"); do
		wait_file "$T/idle-ready.$i" 400 || { echo "bench: idle load generator $i never got ready" >&2; break; }
	done
	IDLE_ESTABLISH_S=$(($(date +%s) - t0))
	# Let the last handshakes' buffers go and the heartbeats settle in.
	sleep 2
	# shellcheck disable=SC2086
	c0=$(cpu_s $SERVER_PIDS)
	sleep "$SCALE_WINDOW"
	# shellcheck disable=SC2086
	c1=$(cpu_s $SERVER_PIDS)
	# shellcheck disable=SC2086
	rss1=$(for p in $SERVER_PIDS; do tree_rss_kib $p; done | awk '{s += $1} END {print s}')
	# shellcheck disable=SC2086
	stop_pids $pids
	IDLE_OK=0 IDLE_FAILED=0 IDLE_HB=0
	for i in $(seq "$nl"); do
		local l ok f hb
		l=$(grep '^idle ' "$T/idle.$i.out")
		ok=$(kv ok "$l") f=$(kv failed "$l") hb=$(kv heartbeats_acked "$l")
		[ -n "$l" ] || f=$per # no summary: count them all as failed
		IDLE_OK=$((IDLE_OK + ${ok:-0}))
		IDLE_FAILED=$((IDLE_FAILED + ${f:-0}))
		IDLE_HB=$((IDLE_HB + ${hb:-0}))
		grep -q '^first_failure' "$T/idle.$i.out" && echo "bench: idle: load generator $i: $(grep '^first_failure' "$T/idle.$i.out")" >&2
		echo "  idle: load generator $i: $(grep '^loop ' "$T/idle.$i.out")" >&2
	done
	IDLE_RSS0=$rss0 IDLE_RSS1=$rss1
	IDLE_KIB=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')
	IDLE_CPU_PCT=$(awk -v a="$c0" -v b="$c1" -v w="$SCALE_WINDOW" 'BEGIN {printf "%.2f", (b - a) / w * 100}')
	IDLE_SERVERS=$(echo $SERVER_PIDS | wc -w)
	# shellcheck disable=SC2086
	stop_pids $SCALE_PIDS
}
IDLE_RSS0="" IDLE_RSS1="" IDLE_FAILED="" IDLE_OK="" IDLE_HB=0 IDLE_KIB="" IDLE_CPU_PCT="" IDLE_SERVERS="" IDLE_ESTABLISH_S=""
case ${BENCH_SCALE:-1} in 1 | idle) idle_scale ;; esac

sp_secs=$(kv seconds "$STORM_POOL")
sp_cpu=$(kv server_cpu_s "$STORM_POOL")
sf_secs=$(kv seconds "$STORM_FRESH")
sf_cpu=$(kv server_cpu_s "$STORM_FRESH")
STORM_RATIO=$(awk -v a="${sp_cpu:-0}" -v b="${sf_cpu:-0}" 'BEGIN {if (b > 0) printf "%.2f", a / b}')

echo
echo "lull at scale (engine load generator, bench/lull-bench-load; lull servers --threads 1 -q)"
echo
printf "  storm, %d connections, heartbeat %s timeout %s: every one rekeys (idle) and delivers\n" "$STORM_CONNS" "$STORM_HB" "$STORM_HT"
printf "    %-22s %8s s  server CPU %7s s  delivered %s  rekeyed(idle) %s  failed %s\n" \
	"SRK pool (default)" "${sp_secs:-n/a}" "${sp_cpu:-n/a}" "$(kv delivered "$STORM_POOL")" \
	"$(kv rekeyed_idle "$STORM_POOL")" "$(kv failed "$STORM_POOL")"
printf "    %-22s %8s s  server CPU %7s s  delivered %s  rekeyed(idle) %s  failed %s\n" \
	"--no-srk-pool" "${sf_secs:-n/a}" "${sf_cpu:-n/a}" "$(kv delivered "$STORM_FRESH")" \
	"$(kv rekeyed_idle "$STORM_FRESH")" "$(kv failed "$STORM_FRESH")"
echo "    server CPU, pool / fresh: ${STORM_RATIO:-n/a}"
printf "  idle, %d connections (%s established, %s lost), heartbeat %s timeout %s, %s server process(es):\n" \
	"$SCALE_CONNS" "${IDLE_OK:-0}" "${IDLE_FAILED:-n/a}" "$SCALE_HB" "$SCALE_HT" "${IDLE_SERVERS:-0}"
echo "    established in ${IDLE_ESTABLISH_S:-n/a} s; server RSS ${IDLE_RSS0:-?} -> ${IDLE_RSS1:-?} KiB, ${IDLE_KIB:-n/a} KiB per connection;"
echo "    server CPU ${IDLE_CPU_PCT:-n/a} % of one core over ${SCALE_WINDOW} s idle ($IDLE_HB heartbeats acknowledged in all)"

