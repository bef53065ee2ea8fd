#!/bin/sh
# What a new user meets in the first hour, end to end:
#  - a config file's relative file names are relative to that file, so a
#    daemon started in / (as a service is) finds its keys;
#  - key and PSK files with CRLF or trailing spaces are accepted;
#  - a tunnel built that way carries data.
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
mkdir "$T/etc" "$T/etc/keys"
# CRLF on the server key, trailing spaces on the PSK and the client key.
(umask 077 &&
	printf '%s\r\n' "$(cat "$T/server.key")" >"$T/etc/keys/server.key" &&
	printf '%s  \n' "$(cat "$T/alice.key")" >"$T/etc/alice.key" &&
	printf '%s \r\n' "$("$LULL" genpsk)" >"$T/etc/keys/alice.psk") || fail "key files"
echo "$(cat "$T/alice.pub") alice keys/alice.psk" >"$T/etc/authorized"
cp "$T/server.pub" "$T/etc/server.pub"

start_echo echo
cat >"$T/etc/server.conf" <<CONF
listen = 127.0.0.1:0
target = 127.0.0.1:$ECHO_PORT
key = keys/server.key
authorized = authorized
CONF
_log=$T/server.log
(cd / && exec "$LULL" server --config "$T/etc/server.conf") 2>"$_log" &
SERVER_PID=$!
PIDS="$PIDS $SERVER_PID"
wait_for "$_log" "event=listening" 5 || fail "server from / did not start: $(cat "$_log")"
SERVER_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$_log")
pass "server started in / with a config naming keys relative to it"

cat >"$T/etc/client.conf" <<CONF
listen = 127.0.0.1:0
server = 127.0.0.1:$SERVER_PORT
key = alice.key
server-pub = server.pub
psk = keys/alice.psk
CONF
_log=$T/client.log
(cd / && exec "$LULL" client --config "$T/etc/client.conf") 2>"$_log" &
CLIENT_PID=$!
PIDS="$PIDS $CLIENT_PID"
wait_for "$_log" "event=listening" 5 || fail "client from / did not start: $(cat "$_log")"
CLIENT_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$_log")
"$LOAD" --port "$CLIENT_PORT" --conns 2 --steps 64K --timeout $((20 * SLOW)) >"$T/load.out" 2>&1 ||
	fail "no data through the tunnel: $(cat "$T/load.out")"
grep -q "peer=alice event=handshake_done" "$T/server.log" || fail "no handshake with alice"
pass "keys with CRLF and trailing spaces carry a tunnel"
stop_pid "$CLIENT_PID" 10
stop_pid "$SERVER_PID" 10
it_pass
