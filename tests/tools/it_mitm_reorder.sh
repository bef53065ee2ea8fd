#!/bin/sh
# Duplicated, reordered, delayed and injected-late records (§2: the nonce is
# the implicit per-key sequence number, so TCP order is the only order).
#   1. the first c2s DATA duplicated: the copy fails authentication;
#   2. the first two c2s DATA records swapped: the first to arrive fails;
#   3. a DATA record replayed 300 ms later (replay=SLOT@MS): fails;
#   4. every c2s DATA delayed 200 ms: only slower, the data arrives intact;
#   5. an empty DATA header injected at a fixed time (at=): protocol_error.
# 1-3 close with decrypt_failed and the target gets no byte out of order:
# lull-load checks every echoed byte.  Without the implicit sequence number
# 1 and 3 would deliver data twice and 2 out of order.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --threads 1
start_mitm mitm "$SERVER_PORT" \
	--rule "conn=1 dir=c2s type=DATA nth=1 dup" \
	--rule "conn=2 dir=c2s type=DATA nth=1 swap" \
	--rule "conn=3 dir=c2s type=DATA nth=2 capture=d replay=d@300" \
	--rule "conn=4 dir=c2s type=DATA delay=200" \
	--rule "conn=5 at=300 dir=c2s inject=05000000"
start_client client alice "$MITM_PORT" --threads 1 --streams-per-link 1

# 40K: three DATA records each way (16K + 16K + 8K), after the stream's
# OPEN (the first c2s DATA record; case 3 replays the first full one).
for i in 1 2 3 4 5; do
	steps=40K
	[ $i = 3 ] || [ $i = 5 ] && steps=40K,s600,4K
	"$LOAD" --port "$CLIENT_PORT" --steps $steps --seed $i --timeout $((10 * SLOW)) \
		>"$T/load$i.out" 2>&1
	echo "load $i: $?" >>"$T/status"
	grep -q differ "$T/load$i.out" && fail "case $i: a byte came back wrong"
	wait_for "$T/server.log" "conn=$i .*event=closed" 5 || fail "case $i: server did not close"
done
grep -q "conn=1 dir=c2s type=DATA n=1 .*action=dup" "$T/mitm.log" || fail "1: no dup"
grep -q "conn=2 dir=c2s type=DATA n=1 .*action=swap" "$T/mitm.log" || fail "2: no swap"
grep -q "conn=3 dir=c2s action=replay slot=d slot_len=16408" "$T/mitm.log" ||
	fail "3: no delayed replay"
[ "$(count "$T/mitm.log" "conn=4 dir=c2s type=DATA .*action=delay ms=200")" -ge 3 ] ||
	fail "4: not delayed"
grep -q "conn=5 dir=c2s action=inject bytes=4 at=300" "$T/mitm.log" || fail "5: no timed inject"
for i in 1 2 3; do
	grep -q "conn=$i peer=alice event=closed reason=decrypt_failed by_peer=0" "$T/server.log" ||
		fail "case $i: $(grep "conn=$i .*closed" "$T/server.log")"
done
pass "duplicated, swapped and late-replayed records: decrypt_failed"
grep -q "load 4: 0" "$T/status" || fail "4: delayed data did not arrive: $(cat "$T/load4.out")"
grep -q "conn=4 peer=alice event=closed reason=normal" "$T/server.log" || fail "4: not a normal close"
pass "delayed records: intact, only later"
grep -q "conn=5 peer=alice event=closed reason=protocol_error by_peer=0" "$T/server.log" ||
	fail "5: $(grep "conn=5 .*closed" "$T/server.log")"
pass "a header injected at a fixed time: protocol_error"
assert_alive
it_pass
