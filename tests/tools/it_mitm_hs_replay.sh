#!/bin/sh
# Handshake messages replayed by a man in the middle (§3, §5).
#
# A. HS1 of an honest connection replayed on another connection within the
#    SRK window: replay_refused, closed reason=replay (HS_FAILED(replay)).
#    The replay set is per SRK interval and per worker (see the report of
#    issue 6), so the server has one worker and the default 10 s interval,
#    and a pair whose two HS1s straddle an interval boundary (visible as a
#    second srk_created) is retried, at most three times.
# B. On one server, connections in turn:
#    1. honest; the mitm captures its HS3;
#    2. its own HS3 sent again once the tunnel is up (the server is READY and
#       expects records): protocol_error;
#    3. its own HS1 sent again once the tunnel is up: read as a rekey, whose
#       prologue carries this connection's previous handshake hash, so
#       message 1's tag fails: auth_failed;
#    4. HS3 of connection 1 instead of its own (another transcript):
#       auth_failed.
# C. After the SRK window (--srk-interval 1s --srk-lifetime 1s --srk-keep 1:
#    an SRK is gone at most 2 s after its interval began, seen as
#    srk_erased), a second mitm process replays an honest connection's HS1
#    from the capture file: the server answers with a new SRK, the client
#    (whose own HS1 was dropped) cannot read HS2: the handshake cannot
#    complete, the close is clean.
# The target receives exactly the honest connections' data, nothing from a
# replayed one.  Without the replay set A gets an HS2; without the prologue
# binding B3 does not fail at HS1; without the state checks B2 goes on.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
mkdir "$T/cap"
ref_sink_init
start_echo sink --mode sink
HONEST=0

# run_conn LOG N CLIENT_PORT: one connection through a mitm, to its close at
# the server whose log is LOG (N: the server's connection number).
run_conn() {
	"$LOAD" --port "$3" --mode send --steps 4K,s200 --seed 7 \
		--timeout $((10 * SLOW)) >"$T/load.out" 2>&1
	wait_for "$T/$1.log" "conn=$2 .*event=closed" 5 || fail "$1: connection $2 not closed"
}

# expect SERVER CLIENT N SERVER_PATTERN CLIENT_PATTERN: the close of conn N.
expect() {
	grep -q "conn=$3 .*event=closed $4" "$T/$1.log" ||
		fail "$1 conn $3: no 'closed $4': $(grep "conn=$3 " "$T/$1.log")"
	wait_for "$T/$2.log" "conn=$3 event=closed" 5 || fail "$2 conn $3: not closed"
	grep -q "conn=$3 event=closed $5" "$T/$2.log" ||
		fail "$2 conn $3: no 'closed $5': $(grep "conn=$3 " "$T/$2.log")"
}

# A. Another connection, within the window.
start_server serverA "$ECHO_PORT" "$T/authorized" -v --threads 1 -v
start_mitm mitmA "$SERVER_PORT" \
	--rule "conn=1 type=HS1 capture=hs1" --rule "conn=2 type=HS1 replay=hs1 drop" \
	--rule "conn=3 type=HS1 capture=hs1" --rule "conn=4 type=HS1 replay=hs1 drop" \
	--rule "conn=5 type=HS1 capture=hs1" --rule "conn=6 type=HS1 replay=hs1 drop"
start_client clientA alice "$MITM_PORT" --streams-per-link 1 -v
for try in 1 2 3; do
	honest=$((2 * try - 1))
	replayed=$((2 * try))
	run_conn serverA $honest "$CLIENT_PORT"
	run_conn serverA $replayed "$CLIENT_PORT"
	HONEST=$((HONEST + 1))
	grep -q "conn=$honest peer=alice event=handshake_done reason=initial" "$T/serverA.log" ||
		fail "A: the honest connection failed"
	[ "$(count "$T/serverA.log" "event=srk_created")" = "$try" ] && break
	echo "A: try $try straddled an SRK interval boundary; again"
done
[ "$(count "$T/serverA.log" "event=srk_created")" = "$try" ] || fail "A: no pair within one interval"
grep -q "conn=$replayed dir=c2s type=HS1 n=1 len=54 action=replay slot=hs1 slot_len=54" \
	"$T/mitmA.log" || fail "A: no HS1 replayed"
grep -q "conn=$replayed event=replay_refused err=LULL_ERR_REPLAY" "$T/serverA.log" ||
	fail "A: replayed HS1 not refused"
expect serverA clientA $replayed "reason=replay by_peer=0" "reason=replay by_peer=1"
pass "HS1 replayed on another connection within the SRK window: replay_refused"

# B. The same connection, and HS3 on another one.
start_server serverB "$ECHO_PORT" "$T/authorized" --threads 1 -v
start_mitm mitmB "$SERVER_PORT" \
	--rule "conn=1 type=HS3 capture=hs3" \
	--rule "conn=2 dir=c2s type=DATA nth=1 replay=hs3" \
	--rule "conn=2 type=HS3 capture=hs3" \
	--rule "conn=3 type=HS1 capture=own_hs1" --rule "conn=3 dir=c2s type=DATA nth=1 replay=own_hs1" \
	--rule "conn=4 type=HS3 replay=hs3 drop"
start_client clientB alice "$MITM_PORT" --streams-per-link 1 -v
for i in 1 2 3 4; do run_conn serverB $i "$CLIENT_PORT"; done
HONEST=$((HONEST + 1))
grep -q "conn=1 peer=alice event=handshake_done reason=initial epoch=1" "$T/serverB.log" ||
	fail "B: the honest connection failed"

grep -q "conn=2 dir=c2s type=DATA n=1 .*action=replay slot=hs3 slot_len=120" "$T/mitmB.log" ||
	fail "B2: no HS3 replayed"
expect serverB clientB 2 "reason=protocol_error by_peer=0" "reason=protocol_error by_peer=1"
pass "HS3 replayed on the same connection: protocol_error"

grep -q "conn=3 dir=c2s type=DATA n=1 .*action=replay slot=own_hs1 slot_len=54" "$T/mitmB.log" ||
	fail "B3: no HS1 replayed"
grep "conn=3 .*event=handshake_started" "$T/serverB.log" | grep -q "epoch=2" &&
	fail "B3: a rekey started from a replayed HS1"
expect serverB clientB 3 "reason=auth_failed by_peer=0" "reason=auth_failed by_peer=1"
pass "HS1 replayed on the same connection: auth_failed (prologue bound to the previous handshake)"

grep -q "conn=4 dir=c2s type=HS3 n=1 len=120 action=replay slot=hs3" "$T/mitmB.log" ||
	fail "B4: no HS3 replayed"
grep -q "conn=4 event=auth_failed" "$T/serverB.log" || fail "B4: no auth_failed"
expect serverB clientB 4 "reason=auth_failed by_peer=0" "reason=auth_failed by_peer=1"
pass "HS3 replayed on another connection: auth_failed"

# C. After the window, from another process, through the capture file.
SRK="--srk-interval 1s --srk-lifetime 1s --srk-keep 1"
start_server serverC "$ECHO_PORT" "$T/authorized" -v --threads 1 $SRK -v
start_mitm mitmC1 "$SERVER_PORT" --capture-dir "$T/cap" --rule "type=HS1 capture=old_hs1"
start_client clientC1 alice "$MITM_PORT" $SRK --streams-per-link 1 -v
run_conn serverC 1 "$CLIENT_PORT"
HONEST=$((HONEST + 1))
[ -s "$T/cap/old_hs1.frame" ] || fail "C: nothing captured to the file"
wait_for "$T/serverC.log" "event=srk_erased" 5 || fail "C: the SRK was never erased"
start_mitm mitmC2 "$SERVER_PORT" --capture-dir "$T/cap" --rule "type=HS1 replay=old_hs1 drop"
start_client clientC2 alice "$MITM_PORT" $SRK --streams-per-link 1 -v
run_conn serverC 2 "$CLIENT_PORT"
grep -q "conn=1 dir=c2s type=HS1 n=1 len=54 action=replay slot=old_hs1 slot_len=54" \
	"$T/mitmC2.log" || fail "C: no HS1 replayed from the capture file"
grep -q "conn=2 .*event=replay_refused" "$T/serverC.log" &&
	fail "C: refused as a replay: the SRK outlived its window"
grep -q "conn=2 peer=alice event=handshake_done" "$T/serverC.log" &&
	fail "C: a replayed HS1 completed a handshake"
# The client cannot read an HS2 made for someone else's ephemeral key.
grep -q "conn=2 .*event=closed reason=auth_failed by_peer=1" "$T/serverC.log" ||
	fail "C: server: $(grep "conn=2 " "$T/serverC.log")"
grep -q "conn=1 event=closed reason=auth_failed by_peer=0" "$T/clientC2.log" ||
	fail "C: client: $(cat "$T/clientC2.log")"
pass "HS1 replayed after the SRK window: the handshake cannot complete"

# The target saw the honest connections' data, and nothing else.
sleep 0.3
[ "$(count "$T/sink.out" "bytes=4096 sha256=$(stream_sha 7 4K)")" = "$HONEST" ] ||
	fail "the honest data: $(cat "$T/sink.out")"
grep -v "bytes=4096 " "$T/sink.out" | grep -v "bytes=0 " | grep -q "^sink" &&
	fail "the target received data on a replayed connection: $(cat "$T/sink.out")"
pass "no data delivered on any replayed connection"
it_pass
