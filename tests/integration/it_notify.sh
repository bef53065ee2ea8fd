#!/bin/sh
# Type=notify: with NOTIFY_SOCKET set, lull tells the service manager
# READY=1 once it listens, RELOADING=1 then READY=1 around a SIGHUP reload,
# WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1 on SIGTERM, in that
# order.  A python3 listener plays systemd's side of the socket.
. "$(dirname "$0")/lib.sh"
it_init "$1"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
N=$T/notify.log
python3 "$(dirname "$0")/notify_listen.py" "$T/notify.sock" "$N" $((60 * SLOW)) &
PIDS="$PIDS $!"
wait_for "$N" "^listening$" 10 || fail "notify listener did not start"

start_echo echo
# 400 ms watchdog: a ping every 200 ms.
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 \
	start_server server "$ECHO_PORT" "$T/authorized"
wait_for "$N" "^READY=1 | STATUS=listening on 127.0.0.1:$SERVER_PORT$" 5 ||
	fail "no READY=1 after listening: $(cat "$N")"
wait_for "$T/server.log" "event=watchdog_enabled interval_ms=200" 2 || fail "watchdog not enabled"
# Keep-alives keep coming: at least 4 (the first at start) within 2 s.
_n=$((20 * SLOW))
while [ "$(grep -c "^WATCHDOG=1$" "$N")" -lt 4 ] && [ "$_n" -gt 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
pings=$(grep -c "^WATCHDOG=1$" "$N")
[ "$pings" -ge 4 ] || fail "$pings watchdog pings in 2 s, want at least 4"
pass "READY=1 once listening; watchdog pings keep coming"

echo "# reloaded" >>"$T/authorized"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" "event=reload_ok" 5 || fail "no reload_ok"
wait_for "$N" "^READY=1 | STATUS=reloaded" 5 || fail "no READY=1 after the reload: $(cat "$N")"
grep -v "^WATCHDOG=1$" "$N" | grep -v "^listening$" >"$T/states"
sed -n 1p "$T/states" | grep -q "^READY=1 | STATUS=listening" &&
	sed -n 2p "$T/states" | grep -q "^RELOADING=1 | MONOTONIC_USEC=[0-9]*$" &&
	sed -n 3p "$T/states" | grep -q "^READY=1 | STATUS=reloaded" ||
	fail "want READY, RELOADING, READY: $(cat "$T/states")"
pass "SIGHUP: RELOADING=1 then READY=1"

# A refused file: still RELOADING=1 then READY=1 (the old list stays).
echo "garbage" >>"$T/authorized"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" "event=reload_failed" 5 || fail "no reload_failed"
wait_for "$N" "^READY=1 | STATUS=reload failed" 5 || fail "no READY=1 after a failed reload"
pass "a refused reload ends with READY=1 too"

stop_pid "$SERVER_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "server exit $STOP_STATUS"
wait_for "$N" "^STOPPING=1$" 5 || fail "no STOPPING=1: $(cat "$N")"
tail -n 1 "$N" | grep -q "^STOPPING=1$" || fail "something after STOPPING=1: $(tail -3 "$N")"
pass "SIGTERM: STOPPING=1, exit 0"
it_pass
