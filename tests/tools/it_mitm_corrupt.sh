#!/bin/sh
# Every bit flip and every truncation of a frame ends the tunnel cleanly.
#
# One server, one client, one mitm; one connection per case, in turn.  Each
# case corrupts the first frame of one type in its direction:
#   frames   HS1 HS2 HS3 KEYS, DATA both ways, HEARTBEAT, HEARTBEAT_ACK, CLOSE
#   flips    bit 7 (type), 15 (the MORE flag), 31 (length), 35 (first body
#            byte: version or epoch), -1 (last bit of the frame: a tag)
#   cuts     truncate to 2 bytes (half a header), 4 (header only), all but
#            the last byte; the stream is not resynced, so the receiver reads
#            the next frame's bytes as the rest of this one
# For each case: both ends log a close within a bound (srk_lifetime covers a
# stalled handshake, heartbeat_interval a stalled record), the end that
# received the corrupted frame (or the other, once it gave up) names a
# reason other than normal, and lull-load, which checks every echoed byte
# against what it sent, never sees a corrupted one (through an echo target
# a corrupted byte accepted by either end comes back to it).  At the end
# both lull processes are still running.  A receiver that skipped one of its
# checks (length, flags, epoch, tag) would either deliver corrupted data or
# stall, and fail here.
. "$(dirname "$0")/../integration/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
OPTS="--heartbeat-interval 400ms --heartbeat-timeout 150ms --srk-lifetime 1s --threads 1"

# The cases, one per line: DIR TYPE MUTATION.
: >"$T/cases"
for f in "c2s HS1" "s2c HS2" "c2s HS3" "s2c KEYS" "c2s DATA" "s2c DATA" \
	"c2s HEARTBEAT" "s2c HEARTBEAT_ACK" "c2s CLOSE"; do
	for m in flip=7 flip=15 flip=31 flip=35 flip=-1 truncate=2 truncate=4 truncate=-1; do
		echo "$f $m" >>"$T/cases"
	done
done
n=0
: >"$T/rules"
while read -r dir type mut; do
	n=$((n + 1))
	echo "conn=$n dir=$dir type=$type nth=1 $mut" >>"$T/rules"
done <"$T/cases"

start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" $OPTS
start_mitm mitm "$SERVER_PORT" --rules "$T/rules"
start_client client alice "$MITM_PORT" $OPTS --streams-per-link 1

i=0
while read -r dir type mut; do
	i=$((i + 1))
	what="case $i ($dir $type $mut)"
	# Heartbeats need an idle spell longer than the interval.
	steps=4K
	case $type in HEARTBEAT*) steps=4K,s550,4K ;; esac
	"$LOAD" --port "$CLIENT_PORT" --steps "$steps" --seed $i --timeout $((10 * SLOW)) \
		>"$T/load.out" 2>&1
	grep -q "differ" "$T/load.out" && fail "$what: corrupted data delivered: $(cat "$T/load.out")"
	# Waited for: the link's CLOSE follows the stream's end (both FINs),
	# which may come after the application is done.
	wait_for "$T/mitm.log" "conn=$i dir=$dir type=$type n=1 .*action=${mut%%=*}" 5 ||
		fail "$what: the mitm did not act"
	wait_for "$T/server.log" "conn=$i .*event=closed" 5 || fail "$what: the server did not close"
	wait_for "$T/client.log" "conn=$i event=closed" 5 || fail "$what: the client did not close"
	srv=$(grep "conn=$i .*event=closed" "$T/server.log" | sed -n 's/.*event=closed \(reason=[a-z_]*\).*/\1/p')
	cli=$(grep "conn=$i event=closed" "$T/client.log" | sed -n 's/.*event=closed \(reason=[a-z_]*\).*/\1/p')
	# A CLOSE is the last frame: its sender has already left, and a
	# receiver that sees a broken close from a gone peer just sees it go.
	if [ "$type" != CLOSE ] && [ "$srv" = reason=normal ] && [ "$cli" = reason=normal ]; then
		fail "$what: both ends closed normally"
	fi
	echo "$what: server $srv, client $cli"
done <"$T/cases"
sleep 0.2
assert_alive
pass "$i corruptions, each a clean close with a reason, no corrupted byte delivered"
it_pass
