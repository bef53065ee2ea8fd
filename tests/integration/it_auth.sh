#!/bin/sh
# Wrong client key, wrong PSK, wrong pinned server key: each tunnel fails at
# once, no byte reaches the target, and both logs say why.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice mallory other
(umask 077 && "$LULL" genpsk >"$T/alice.psk" && "$LULL" genpsk >"$T/wrong.psk") || fail genpsk
echo "$(cat "$T/alice.pub") alice alice.psk" >"$T/authorized"
start_echo sink --mode sink
start_server server "$ECHO_PORT" "$T/authorized"

# try CLIENTLOG KEYNAME ARGS...: a client whose one connection must fail.
try() {
	try_name=$1
	try_key=$2
	shift 2
	start_client "$try_name" "$try_key" "$SERVER_PORT" "$@"
	if "$LOAD" --port "$CLIENT_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/$try_name.out" 2>&1; then
		fail "$try_name: data went through"
	fi
	grep -q "unexpected EOF\|Connection reset" "$T/$try_name.out" ||
		fail "$try_name: $(cat "$T/$try_name.out")"
	stop_pid "$CLIENT_PID" 5
}

# 1. A key the server does not know.
try unknown mallory --psk "$T/alice.psk"
wait_for "$T/server.log" "event=auth_failed err=LULL_ERR_UNKNOWN_CLIENT" 5 ||
	fail "server did not log the unknown client"
wait_for "$T/unknown.log" "event=closed reason=unknown_client by_peer=1" 5 ||
	fail "client did not log unknown_client"
pass "unknown client key refused"

# 2. The right key, the wrong PSK.
try badpsk alice --psk "$T/wrong.psk"
wait_for "$T/server.log" "event=auth_failed err=LULL_ERR_AUTH_FAILED" 5 ||
	fail "server did not log the failed PSK proof"
wait_for "$T/badpsk.log" "event=closed reason=auth_failed by_peer=1" 5 ||
	fail "client did not log auth_failed"
pass "wrong PSK refused"

# 3. A server whose key is not the pinned one.
start_lull badpin client --listen 127.0.0.1:0 --server "127.0.0.1:$SERVER_PORT" \
	--key "$T/alice.key" --psk "$T/alice.psk" --server-pub "$T/other.pub"
"$LOAD" --port "$LULL_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/badpin.out" 2>&1 &&
	fail "wrong pinned key: data went through"
wait_for "$T/badpin.log" "event=auth_failed err=LULL_ERR_SERVER_KEY_MISMATCH" 5 ||
	fail "client did not log the server key mismatch"
wait_for "$T/server.log" "event=closed reason=auth_failed by_peer=1" 5 ||
	fail "server did not log the client's refusal"
pass "wrong pinned server key refused"

# Nothing ever reached the target.
[ ! -s "$T/sink.out" ] || fail "the target saw a connection: $(cat "$T/sink.out")"

# The good client works, so the failures above were about the keys.
start_client good alice "$SERVER_PORT" --psk "$T/alice.psk"
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 4K --timeout $((10 * SLOW)) >"$T/good.out" 2>&1 ||
	fail "good client: $(cat "$T/good.out")"
wait_for "$T/sink.out" "bytes=4096" 5 || fail "good client's data did not arrive"
pass "right keys still work"
it_pass
