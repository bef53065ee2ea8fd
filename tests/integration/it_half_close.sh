#!/bin/sh
# Half-close: an application that sends its request and then shuts down its
# write side (shutdown(SHUT_WR)) still reads the whole reply.
#  - socat sends 1 MiB and half-closes; the target (lull-echo echo) writes
#    back every byte and closes after our FIN: the 1 MiB reply is intact
#    (sha256 equal) and ends in a clean EOF;
#  - the same through a per-connection link (--streams-per-link 1).
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v socat >/dev/null 2>&1 || { echo "skip: no socat (scripts/deps.sh)"; exit 77; }
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
head -c 1048576 /dev/urandom >"$T/request"
want=$(sha256sum <"$T/request" | cut -d' ' -f1)
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized"

for model in link per-connection; do
	if [ $model = link ]; then
		start_client client-$model alice "$SERVER_PORT"
	else
		start_client client-$model alice "$SERVER_PORT" --streams-per-link 1
	fi
	# -t: after our EOF, wait this long for the reply's end.
	timeout $((30 * SLOW)) socat -t $((20 * SLOW)) - "TCP:127.0.0.1:$CLIENT_PORT" \
		<"$T/request" >"$T/reply-$model" 2>"$T/socat-$model.err" ||
		fail "$model: socat: $(cat "$T/socat-$model.err")"
	got=$(sha256sum <"$T/reply-$model" | cut -d' ' -f1)
	size=$(wc -c <"$T/reply-$model")
	[ "$got" = "$want" ] || fail "$model: reply of $size bytes differs (want 1048576)"
	pass "$model: shutdown(SHUT_WR), then the 1 MiB reply, intact"
	stop_pid "$CLIENT_PID" 5
done
grep -q "level=warn" "$T/server.log" && fail "warnings: $(grep level=warn "$T/server.log")"
it_pass
