#!/bin/sh
# Backpressure: a target that never reads, then an application that never
# reads, while the other end pushes as fast as it can.  Neither lull process
# may buffer without bound: their resident memory stays far below what was
# pushed (the caps of src/io/limits.h are well under 16 MiB per tunnel).
. "$(dirname "$0")/lib.sh"
it_init "$1"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
# ASan's quarantine would hold freed blocks and look like growth.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
LIMIT_KB=$((64 * 1024 * SLOW))
PUSH_S=$((3 * SLOW))

rss_kb() {
	sed -n 's/^VmRSS:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

check_rss() {
	for p in "$SERVER_PID" "$CLIENT_PID"; do
		kb=$(rss_kb "$p")
		[ -n "$kb" ] || fail "$1: lull (pid $p) is gone"
		[ "$kb" -lt "$LIMIT_KB" ] || fail "$1: lull (pid $p) holds $kb kB (limit $LIMIT_KB kB)"
		echo "$1: pid $p resident $kb kB"
	done
}

# 1. Upload into a target that never reads.
start_echo stall --mode stall
start_server server1 "$ECHO_PORT" "$T/authorized" --threads 1
start_client client1 alice "$SERVER_PORT" --threads 1
"$LOAD" --port "$CLIENT_PORT" --mode send --steps 1G --timeout "$PUSH_S" >"$T/push.out" 2>&1 &&
	fail "1 GiB went into a target that never reads"
grep -q "timeout" "$T/push.out" || fail "push: $(cat "$T/push.out")"
check_rss "stalled target"
pass "a stalled target does not make lull buffer without bound"

# 2. Download into an application that never reads.
start_echo source --mode source --bytes 1G
start_server server2 "$ECHO_PORT" "$T/authorized" --threads 1
start_client client2 alice "$SERVER_PORT" --threads 1
"$LOAD" --port "$CLIENT_PORT" --mode hold --timeout "$PUSH_S" >"$T/hold.out" 2>&1 ||
	fail "hold: $(cat "$T/hold.out")"
check_rss "stalled application"
pass "a stalled application does not make lull buffer without bound"
it_pass
