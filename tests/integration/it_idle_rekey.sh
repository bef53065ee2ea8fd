#!/bin/sh
# An idle spell longer than the heartbeat interval, then data: the client
# sends heartbeats while idle, and the data waits for a new key negotiated
# with reason=idle, visible in both logs.  The echoed data is intact.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
start_echo echo
start_server server "$ECHO_PORT" "$T/authorized" --heartbeat-interval 1s --heartbeat-timeout 500ms
start_client client alice "$SERVER_PORT" --heartbeat-interval 1s --heartbeat-timeout 500ms -v
"$LOAD" --port "$CLIENT_PORT" --steps 16K,s2500,16K --timeout $((30 * SLOW)) >"$T/load.out" 2>&1 ||
	fail "load: $(cat "$T/load.out")"
grep -q "event=heartbeat_sent" "$T/client.log" || fail "no heartbeat sent while idle"
grep -q "event=heartbeat_acked" "$T/client.log" || fail "no heartbeat acknowledged"
grep -q "event=handshake_done reason=idle epoch=2" "$T/client.log" ||
	fail "client: no idle rekey before the data"
grep -q "peer=alice event=handshake_done reason=idle epoch=2" "$T/server.log" ||
	fail "server: no idle rekey"
pass "idle rekey after heartbeats"
it_pass
