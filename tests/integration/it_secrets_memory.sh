#!/bin/sh
# Keys stay out of core dumps and swap (issue 14, finding 4).  The server
# runs as nobody, as a service would:
#  - it is not dumpable: /proc/PID/environ belongs to root, not to the
#    process's own user (checked against a dumpable process of the same
#    user, which owns its own);
#  - its secure heap is a mapping the kernel flags "lo" (locked) and "dd"
#    (left out of dumps) in /proc/PID/smaps, and the log says so;
#  - a tunnel through it works.
# --secure-heap 0 turns the heap off, and says so.
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v setpriv >/dev/null || { echo "setpriv (util-linux) missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root to run the server as nobody"; exit 77; }
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
chmod 711 "$T"
chown 65534:65534 "$T/server.key" "$T/authorized"
start_echo echo

AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$AS_NOBODY "$LULL" server --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO_PORT" \
	--key "$T/server.key" --authorized "$T/authorized" --threads 1 --secure-heap 1M \
	2>"$T/server.log" &
SERVER_PID=$!
PIDS="$PIDS $SERVER_PID"
wait_for "$T/server.log" "event=listening" 5 || fail "server did not start: $(cat "$T/server.log")"
SERVER_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/server.log")

grep -q "^Uid:[[:space:]]*65534" /proc/$SERVER_PID/status || fail "not running as nobody"
$AS_NOBODY sleep 30 &
CONTROL_PID=$!
PIDS="$PIDS $CONTROL_PID"
sleep 0.2
[ "$(stat -c %u /proc/$CONTROL_PID/environ)" = 65534 ] ||
	fail "control: a dumpable process of nobody does not own its /proc files here"
[ "$(stat -c %u /proc/$SERVER_PID/environ)" = 0 ] ||
	fail "the server is dumpable: /proc/PID/environ belongs to $(stat -c %u /proc/$SERVER_PID/environ)"
pass "the server is not dumpable"

grep -q "event=secure_heap bytes=1048576 locked=1" "$T/server.log" ||
	fail "no locked secure heap: $(grep secure_heap "$T/server.log")"
# The heap's mapping: 1 MiB (plus OpenSSL's guard pages), locked, no dump.
awk '/^[0-9a-f]+-[0-9a-f]+ / { size = 0 } /^Size:/ { size = $2 }
     /^VmFlags:/ { if (size >= 1024 && size <= 1040 && / lo / && / dd /) found = 1 }
     END { exit !found }' /proc/$SERVER_PID/smaps || fail "no locked, no-dump mapping of 1 MiB"
pass "the secure heap is locked and left out of dumps"

start_client client alice "$SERVER_PORT" --threads 1
"$LOAD" --port "$CLIENT_PORT" --steps 64K --timeout $((10 * SLOW)) >"$T/load.out" 2>&1 ||
	fail "a tunnel through the server failed: $(cat "$T/load.out")"
pass "a tunnel through it works"
stop_pid "$CLIENT_PID" 5
stop_pid "$SERVER_PID" 5
[ "$STOP_STATUS" = 0 ] || fail "server exit $STOP_STATUS"

start_server off "$ECHO_PORT" "$T/authorized" --threads 1 --secure-heap 0
grep -q "event=secure_heap bytes=0 note=off" "$T/off.log" || fail "--secure-heap 0 not reported"
stop_pid "$SERVER_PID" 5
pass "--secure-heap 0: off"
it_pass
