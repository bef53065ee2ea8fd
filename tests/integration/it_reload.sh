#!/bin/sh
# SIGHUP re-reads the authorized file: a client is added, then removed,
# without dropping the tunnel that is up; a broken file is refused with
# file:line and the previous list stays in force.  The clients run the
# per-connection model (--streams-per-link 1): "her new tunnels fail" needs
# a handshake per connection, since a removed client's live link carries on
# until its next rekey, like its live tunnel here.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice bob
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized"
start_client alice alice "$SERVER_PORT" --streams-per-link 1
ALICE_PORT=$CLIENT_PORT
start_client bob bob "$SERVER_PORT" --streams-per-link 1
BOB_PORT=$CLIENT_PORT

# bob is unknown at first.
"$LOAD" --port "$BOB_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/bob1.out" 2>&1 &&
	fail "bob got through before being authorized"
wait_for "$T/server.log" "err=LULL_ERR_UNKNOWN_CLIENT" 5 || fail "bob not refused as unknown"

# A tunnel of alice's that stays up across both reloads.
"$LOAD" --port "$ALICE_PORT" --steps 16K,s$((4000 * SLOW)),16K --timeout $((30 * SLOW)) \
	>"$T/alice-long.out" 2>&1 &
LONG_PID=$!
PIDS="$PIDS $LONG_PID"
wait_for "$T/server.log" "peer=alice event=handshake_done" 5 || fail "alice's tunnel is not up"

# Add bob.
printf '%s alice\n%s bob\n' "$(cat "$T/alice.pub")" "$(cat "$T/bob.pub")" >"$T/authorized"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" "event=reload_ok clients=2" 5 || fail "reload adding bob not logged"
"$LOAD" --port "$BOB_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/bob2.out" 2>&1 ||
	fail "bob refused after being added: $(cat "$T/bob2.out")"
pass "SIGHUP added bob"

# A broken file changes nothing and says where it is broken.
printf '%s bob\nnot-a-key carol\n' "$(cat "$T/bob.pub")" >"$T/authorized"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" "event=reload_failed err=\".*authorized:2: not a base64 public key" 5 ||
	fail "broken file not reported with file:line"
"$LOAD" --port "$ALICE_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/alice2.out" 2>&1 ||
	fail "alice lost access after a failed reload: $(cat "$T/alice2.out")"
pass "a broken file is refused, the old list kept"

# Remove alice: her new tunnels fail, her live one carries on.
printf '%s bob\n' "$(cat "$T/bob.pub")" >"$T/authorized"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" "event=reload_ok clients=1" 5 || fail "reload removing alice not logged"
"$LOAD" --port "$ALICE_PORT" --steps 4K --timeout $((10 * SLOW)) >"$T/alice3.out" 2>&1 &&
	fail "alice got through after being removed"
wait "$LONG_PID" || fail "alice's live tunnel was dropped by the reloads: $(cat "$T/alice-long.out")"
pass "SIGHUP removed alice; her live tunnel survived"
it_pass
