# shellcheck shell=bash
# bench/bench_links.sh - part 3 of scripts/bench.sh: what links and streams
# (issue 13) are judged on besides the peer table: fairness of 8 bulk
# streams sharing one link, and server memory per idle link.
# Sourced by scripts/bench.sh after part 2 (its settings and process
# helpers are used here); not run on its own.  BENCH_LINKS=0 skips it.
#
# - fairness: lull-echo sends FAIR_BYTES on each of 8 connections made at
#   once through one client link (--links 1 --threads 1); lull-load reads
#   them; the slowest stream's time over the fastest's.
# - idle links: bench/idle_links.sh (one server, N links each used by one
#   stream and then idle with heartbeats; server RSS growth / N).

FAIR_RATIO="" FAIR_MS="" LINK_KIB="" LINK_N=""
if [ "${BENCH_LINKS:-1}" != 0 ] && [ -x "$B/lull-echo" ] && [ -x "$B/lull-load" ]; then
	# The full run reads the idle links' memory once the burst that opened
	# them is over: the SRK that answered their handshakes keeps its
	# replay table (~105 B a handshake) until its interval and the one
	# after have passed (~70 s); that is the burst's, not an idle link's.
	if [ "$QUICK" = 1 ]; then
		FAIR_BYTES=16M LINK_N=2000 LINK_SETTLE_S=12
	else
		FAIR_BYTES=64M LINK_N=5000 LINK_SETTLE_S=75
	fi
	echo "  links: fairness, 8 streams of $FAIR_BYTES on one link ..." >&2
	"$B/lull-echo" --port-file "$T/fair.port" --mode source --bytes "$FAIR_BYTES" --seed 3 \
		>"$T/fair-echo.out" 2>&1 &
	FE_PID=$!
	started $FE_PID
	wait_file "$T/fair.port" 5
	FSP=$(free_port)
	FCP=$(free_port)
	"$B/lull" server --listen "127.0.0.1:$FSP" --target "127.0.0.1:$(cat "$T/fair.port")" \
		--key "$T/server.key" --authorized "$T/authorized" --threads 1 -q 2>"$T/fair-server.log" &
	FS_PID=$!
	started $FS_PID
	"$B/lull" client --listen "127.0.0.1:$FCP" --server "127.0.0.1:$FSP" --key "$T/client.key" \
		--server-pub "$T/server.pub" --threads 1 --links 1 -q 2>"$T/fair-client.log" &
	FC_PID=$!
	started $FC_PID
	if wait_port "$FSP" && wait_port "$FCP" &&
		"$B/lull-load" --port "$FCP" --conns 8 --mode recv --timeout 300 >"$T/fair.out" 2>&1; then
		FAIR_MS=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' "$T/fair.out" | sort -n | tr '\n' ' ')
		if [ "$(echo "$FAIR_MS" | wc -w)" = 8 ]; then
			FAIR_RATIO=$(echo "$FAIR_MS" | awk '{m = $1 > 0 ? $1 : 1; printf "%.2f", $NF / m}')
		fi
	else
		echo "bench: fairness run failed: $(tail -n 3 "$T/fair.out" 2>/dev/null)" >&2
	fi
	stop_pids $FC_PID $FS_PID $FE_PID
	echo "  links: memory per idle link, $LINK_N links ..." >&2
	line=$(SETTLE_S=$LINK_SETTLE_S bash "$(dirname "${BASH_SOURCE[0]}")/idle_links.sh" "$B" "$LINK_N" 2>&1 |
		grep "KiB per link" | head -n 1)
	LINK_KIB=$(echo "$line" | sed -n 's/.* \([0-9.]*\) KiB per link.*/\1/p')
	[ -n "$LINK_KIB" ] || echo "bench: idle_links gave no figure: $line" >&2
fi

echo
echo "Links and streams (issue 13), this run:"
echo "  8 bulk streams of ${FAIR_BYTES:-?} on one link, ms each: ${FAIR_MS:-n/a} (max/min ${FAIR_RATIO:-n/a})"
echo "  server memory per idle link ($LINK_N links, ${LINK_SETTLE_S:-?} s after they opened, bench/idle_links.sh): ${LINK_KIB:-n/a} KiB"
