#!/bin/sh
# 8 concurrent bulk downloads on one link share it fairly (round-robin of
# at most one 16 KiB frame per stream in turn): each receives 16 MiB, and
# the slowest takes at most 1.5 x the time of the fastest (issue 13's
# fairness figure).  On loopback the streams' credit windows already bound
# any one stream's share, so this catches a starved stream (a lost
# WRITABLE, a stuck window) rather than the order of frames; that order is
# test_stream.c's test_round_robin.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo source --mode source --bytes 16M --seed 3
start_server server "$ECHO_PORT" "$T/authorized" --threads 1
start_client client alice "$SERVER_PORT" --threads 1 --links 1
"$LOAD" --port "$CLIENT_PORT" --conns 8 --mode recv --timeout $((60 * SLOW)) >"$T/load.out" 2>&1 ||
	fail "load: $(cat "$T/load.out")"
[ "$(grep -c "mode=recv bytes=16777216 " "$T/load.out")" = 8 ] || fail "not 8 x 16 MiB: $(cat "$T/load.out")"
ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' "$T/load.out" | sort -n | tr '\n' ' ')
min=${ms%% *}
max=$(echo "$ms" | awk '{print $NF}')
[ "$min" -gt 0 ] || min=1
[ $((max * 10)) -le $((min * 15)) ] || fail "unfair: ms per stream $ms"
pass "8 bulk streams on one link: ms $ms (max/min <= 1.5)"
it_pass
