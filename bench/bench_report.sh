# shellcheck shell=bash
# bench/bench_report.sh - the benchmark's reporting: the issue's targets
# checked against both parts, results.json and scale.csv.
# Sourced by scripts/bench.sh, after its settings and process helpers (the
# variables and functions it defines are used here); not run on its own.

# ---- Targets (issue 7) -----------------------------------------------------

col() { awk -F, -v r="$1" -v c="$2" '$1 == r {print $c}' "$CSV"; }
check() { # check LABEL VALUE OP LIMIT
	awk -v l="$1" -v v="$2" -v op="$3" -v lim="$4" 'BEGIN {
		if (v == "" || lim == "") { printf "  %-58s n/a\n", l; exit }
		ok = (op == ">=") ? (v + 0 >= lim + 0) : (v + 0 <= lim + 0)
		printf "  %-58s %s (%s %s %s)\n", l, ok ? "met   " : "MISSED", v, op, lim }'
}
best_enc() { # best_enc COL max|min
	awk -F, -v c="$1" -v m="$2" '$1 ~ /^(spiped|stunnel|ssh)/ && $c != "" {
		if (b == "" || (m == "max" ? $c + 0 > b : $c + 0 < b)) b = $c + 0 } END {print b}' "$CSV"
}
mul() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "") printf "%.1f", a * b}'; }
echo
echo "Targets (issue 7), this run:"
check "bulk >= 1.3 x best encrypted peer" "$(col lull 2)" ">=" "$(mul "$(best_enc 2 max)" 1.3)"
check "conn/s seq >= 4 x stunnel" "$(col lull 3)" ">=" "$(mul "$(col 'stunnel TLS1.3' 3)" 4)"
check "conn/s par >= 4 x stunnel" "$(col lull 4)" ">=" "$(mul "$(col 'stunnel TLS1.3' 4)" 4)"
check "conn/s seq >= 1.2 x ssh -L" "$(col lull 3)" ">=" "$(mul "$(col 'ssh -L aes256-gcm' 3)" 1.2)"
check "conn/s par >= 1.2 x ssh -L" "$(col lull 4)" ">=" "$(mul "$(col 'ssh -L aes256-gcm' 4)" 1.2)"
check "rtt median <= 1.1 x plain relay" "$(col lull 5)" "<=" "$(mul "$(col 'plain relay' 5)" 1.1)"
check "idle KiB/conn <= spiped / 5" "$(col lull 7)" "<=" "$(mul "$(col spiped 7)" 0.2)"
check "storm: pool CPU <= 0.8 x fresh" "${STORM_RATIO:-}" "<=" "0.8"
if [ -n "${STORM_POOL:-}" ] || [ -n "${STORM_FRESH:-}" ]; then
	check "storm: failed connections (pool + fresh) = 0" \
		"$(($(kv failed "${STORM_POOL:-}" | grep . || echo 1) + $(kv failed "${STORM_FRESH:-}" | grep . || echo 1)))" "<=" 0
else
	check "storm: failed connections (pool + fresh) = 0" "" "<=" 0
fi
check "idle: $SCALE_CONNS connections, server CPU % of one core < 5" "${IDLE_CPU_PCT:-}" "<=" 5
check "idle: failed connections = 0" "${IDLE_FAILED:-}" "<=" 0

echo
echo "Targets (issue 13: links and streams), this run:"
SSH_ROW='ssh -L aes256-gcm'
check "new connections/s seq >= 1.5 x ssh -L" "$(col lull 3)" ">=" "$(mul "$(col "$SSH_ROW" 3)" 1.5)"
check "new connections/s par >= 1.5 x ssh -L" "$(col lull 4)" ">=" "$(mul "$(col "$SSH_ROW" 4)" 1.5)"
check "bulk on one stream >= 1.0 x ssh -L" "$(col lull 2)" ">=" "$(col "$SSH_ROW" 2)"
check "bulk CPU s/GB <= 0.9 x ssh -L" "$(col lull 8)" "<=" \
	"$(awk -v a="$(col "$SSH_ROW" 8)" 'BEGIN {if (a != "") printf "%.3f", a * 0.9}')"
check "64 B RTT <= 1.1 x per-connection lull (lull-spl1)" "$(col lull 5)" "<=" "$(mul "$(col lull-spl1 5)" 1.1)"
check "server KiB per idle stream <= 2" "$(col lull 7)" "<=" 2
check "server KiB per idle link <= 2" "${LINK_KIB:-}" "<=" 2
check "8 bulk streams on one link: max/min time <= 1.5" "${FAIR_RATIO:-}" "<=" 1.5

# ---- JSON ----------------------------------------------------------------

{
	echo "{"
	echo "  \"quick\": $QUICK,"
	echo "  \"machine\": {\"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\", \"kernel\": \"$(uname -r)\", \"openssl\": \"$(openssl version | cut -d' ' -f2)\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"open_files\": $NOFILE},"
	echo "  \"tls_suite\": \"${TLS_SUITE}\","
	echo "  \"rows\": ["
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
	{ rows[++n] = $0 }
	END {
		for (r = 1; r <= n; r++) {
			split(rows[r], f, ",")
			printf "    {\"%s\": \"%s\"", h[1], f[1]
			for (i = 2; i <= 8; i++) printf ", \"%s\": %s", h[i], (f[i] == "" ? "null" : f[i])
			printf "}%s\n", (r < n ? "," : "")
		}
	}' "$CSV"
	echo "  ],"
	num() { [ -n "$1" ] && echo "$1" || echo null; }
	echo "  \"storm\": {\"conns\": $STORM_CONNS, \"heartbeat\": \"$STORM_HB\","
	echo "    \"pool\": {\"seconds\": $(num "$sp_secs"), \"server_cpu_s\": $(num "$sp_cpu"), \"failed\": $(num "$(kv failed "$STORM_POOL")"), \"rekeyed_idle\": $(num "$(kv rekeyed_idle "$STORM_POOL")")},"
	echo "    \"fresh\": {\"seconds\": $(num "$sf_secs"), \"server_cpu_s\": $(num "$sf_cpu"), \"failed\": $(num "$(kv failed "$STORM_FRESH")"), \"rekeyed_idle\": $(num "$(kv rekeyed_idle "$STORM_FRESH")")},"
	echo "    \"cpu_ratio_pool_over_fresh\": $(num "$STORM_RATIO")},"
	echo "  \"idle\": {\"conns\": $SCALE_CONNS, \"ok\": $(num "${IDLE_OK:-}"), \"failed\": $(num "${IDLE_FAILED:-}"), \"heartbeat\": \"$SCALE_HB\", \"server_processes\": $(num "${IDLE_SERVERS:-}"), \"kib_per_conn\": $(num "${IDLE_KIB:-}"), \"server_cpu_pct_one_core\": $(num "${IDLE_CPU_PCT:-}"), \"window_s\": $SCALE_WINDOW}"
	echo "}"
} >"$JSON"
# Scale figures in the CSV too, as extra rows of key,value.
{
	echo "storm_pool_seconds,$sp_secs"
	echo "storm_pool_server_cpu_s,$sp_cpu"
	echo "storm_fresh_seconds,$sf_secs"
	echo "storm_fresh_server_cpu_s,$sf_cpu"
	echo "idle_conns,$SCALE_CONNS"
	echo "idle_failed,${IDLE_FAILED:-}"
	echo "idle_kib_per_conn,${IDLE_KIB:-}"
	echo "idle_server_cpu_pct,${IDLE_CPU_PCT:-}"
} >"$OUT/scale.csv"
echo
echo "Results: $CSV, $OUT/scale.csv, $JSON"
