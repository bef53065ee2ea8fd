#!/bin/sh
# An application that stops reading for 3 x (heartbeat interval + timeout)
# and then reads on gets all 64 MiB intact: its stream runs out of credit,
# but the link is still read, so heartbeats are acked and nothing closes.
# (With a tunnel that stops reading its lull socket, heartbeats stop too and
# the link dies with heartbeat_missed.)
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v socat >/dev/null 2>&1 || { echo "skip: no socat (scripts/deps.sh)"; exit 77; }
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
PAUSE=5 # seconds, > 3 x (1 s + 0.5 s)
start_echo source --mode source --bytes 64M --seed 11
start_server server "$ECHO_PORT" "$T/authorized" $HB -v
start_client client alice "$SERVER_PORT" $HB -v
# socat stops reading the socket while the pipe to the reader is full.
timeout $((60 * SLOW)) socat -u "TCP:127.0.0.1:$CLIENT_PORT" STDOUT 2>"$T/socat.err" |
	(sleep $PAUSE && sha256sum | cut -d' ' -f1 >"$T/got") ||
	fail "socat: $(cat "$T/socat.err")"
wait_for "$T/source.out" "source conn=1 " 10 || fail "the source did not finish"
want=$(sed -n 's/^source conn=1 bytes=67108864 sha256=\([0-9a-f]*\).*/\1/p' "$T/source.out")
[ -n "$want" ] || fail "source: $(cat "$T/source.out")"
[ "$(cat "$T/got")" = "$want" ] || fail "the reader got something else than the 64 MiB sent"
pass "64 MiB intact after a ${PAUSE} s pause"
# Heartbeats went on while the reader was stalled, and nothing closed.
n=$(grep -c "event=heartbeat_acked" "$T/client.log")
[ "$n" -ge 3 ] || fail "$n heartbeats acked during the pause"
grep -q "event=closed" "$T/client.log" "$T/server.log" &&
	fail "a link closed: $(grep event=closed "$T/client.log" "$T/server.log")"
pass "$n heartbeats acked during the stall, no link closed"
it_pass
