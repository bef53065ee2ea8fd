#!/bin/sh
# A second lull on a port that is already in use must fail at once
# ("lull: --listen ADDR: address already in use", exit 1), also with
# --syslog, rather than start and let SO_REUSEPORT split the connections
# between the two processes.  The first lull keeps serving.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized"
start_client client alice "$SERVER_PORT"

# second ROLE PORT [ARGS]: run a second lull on PORT, bounded; sets STATUS.
second() {
	_role=$1
	_port=$2
	shift 2
	if [ "$_role" = server ]; then
		set -- server --listen "127.0.0.1:$_port" --target "127.0.0.1:$ECHO_PORT" \
			--key "$T/server.key" --authorized "$T/authorized" "$@"
	else
		set -- client --listen "127.0.0.1:$_port" --server "127.0.0.1:$SERVER_PORT" \
			--key "$T/alice.key" --server-pub "$T/server.pub" "$@"
	fi
	"$LULL" "$@" >"$T/second.out" 2>"$T/second.err" &
	_pid=$!
	PIDS="$PIDS $_pid"
	wait_exit "$_pid" 5
	[ "$STATUS" = running ] && fail "a second $_role on port $_port is running"
}

second server "$SERVER_PORT"
[ "$STATUS" = 1 ] || fail "second server: exit $STATUS, want 1"
grep -q "^lull: --listen 127.0.0.1:$SERVER_PORT: address already in use$" "$T/second.err" ||
	fail "second server: $(cat "$T/second.err")"
# Said once: not again as a log line on the same stderr.
[ "$(grep -c "address already in use" "$T/second.err")" = 1 ] ||
	fail "second server: the error is printed more than once: $(cat "$T/second.err")"
second client "$CLIENT_PORT" --syslog
[ "$STATUS" = 1 ] || fail "second client (--syslog): exit $STATUS, want 1"
grep -q "^lull: --listen 127.0.0.1:$CLIENT_PORT: address already in use$" "$T/second.err" ||
	fail "second client (--syslog): $(cat "$T/second.err")"
"$LOAD" --port "$CLIENT_PORT" --conns 8 --steps 64K --timeout $((20 * SLOW)) >"$T/load.out" 2>&1 ||
	fail "the first lull stopped serving: $(cat "$T/load.out")"
pass "a port in use is an error, not a split"
it_pass
