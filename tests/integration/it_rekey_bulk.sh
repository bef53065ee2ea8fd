#!/bin/sh
# Byte rekeys under load: 8 concurrent tunnels each echo 16 MiB with
# --rekey-bytes 2M, five rounds, every byte checked.  Data must keep
# flowing across every rekey: a stall of a heartbeat interval shows as a
# heartbeat during what should be a busy link, a longer one as a timeout.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
# The hard cap is raised from its derived 4M: with only 2 MiB between the
# rekey and the cap, a loaded machine (CI runs tests in parallel) can reach
# the cap before the handshake completes, and an echo tunnel busy both ways
# then stalls behind its own backpressure until the handshake times out (a
# known limitation, lull.1 CAVEATS; the defaults leave 1 GiB).  What this
# test checks is that byte rekeys never stall a busy tunnel.
POLICY="--heartbeat-interval 2s --heartbeat-timeout 1s --rekey-bytes 2M --reject-after-bytes 64M"
POLICY="$POLICY --max-message 1M"
start_echo echo
# shellcheck disable=SC2086
start_server server "$ECHO_PORT" "$T/authorized" $POLICY
# shellcheck disable=SC2086
start_client client alice "$SERVER_PORT" $POLICY
for round in 1 2 3 4 5; do
	"$LOAD" --port "$CLIENT_PORT" --conns 8 --steps 16M --quiet --timeout $((10 * SLOW)) \
		>"$T/load-$round.out" 2>&1 || fail "round $round: $(cat "$T/load-$round.out")"
done
n=$(grep -c "event=handshake_done reason=bytes" "$T/client.log")
[ "$n" -ge 100 ] || fail "only $n byte rekeys in 5 x 8 x 32 MiB with --rekey-bytes 2M"
if grep -q "event=heartbeat_sent" "$T/client.log"; then
	fail "a busy tunnel went idle long enough for a heartbeat (a stall)"
fi
pass "$n byte rekeys under load, no stall"
it_pass
