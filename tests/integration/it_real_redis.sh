#!/bin/sh
# redis-server through a link, driven by real clients:
#  - 100 x `printf 'PING\r\n' | nc -N`: nc shuts down its write side after
#    the request (half-close) and must still read +PONG, every time;
#  - `redis-cli --pipe` with 10,000 commands: 10,000 replies, 0 errors.
# All of it over one long-lived link: one handshake in the client's log.
. "$(dirname "$0")/lib.sh"
it_init "$1"
for bin in redis-server redis-cli nc; do
	command -v "$bin" >/dev/null 2>&1 || { echo "skip: no $bin (scripts/deps.sh)"; exit 77; }
done
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"

# A port that was free a moment ago, for redis (which cannot report one).
start_echo probe
REDIS_PORT=$ECHO_PORT
kill "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--protected-mode no --daemonize no --logfile "$T/redis.log" &
REDIS_PID=$!
PIDS="$PIDS $REDIS_PID"
_n=$((50 * SLOW))
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || [ "$_n" -le 0 ]; do
	sleep 0.1
	_n=$((_n - 1))
done
redis-cli -p "$REDIS_PORT" ping | grep -q PONG || fail "redis did not start: $(cat "$T/redis.log")"

start_server server "$REDIS_PORT" "$T/authorized" --threads 1
start_client client alice "$SERVER_PORT" --threads 1
wait_for "$T/client.log" "event=handshake_done" 5 || fail "no link"

# 1. PING with half-close, 100 times.
i=0
: >"$T/pings.out"
while [ $i -lt 100 ]; do
	printf 'PING\r\n' | timeout $((10 * SLOW)) nc -N 127.0.0.1 "$CLIENT_PORT" >>"$T/pings.out" 2>&1
	i=$((i + 1))
done
n=$(grep -c '^+PONG' "$T/pings.out")
[ "$n" = 100 ] || fail "$n of 100 +PONG: $(sort "$T/pings.out" | uniq -c)"
pass "100 x nc -N PING: 100 +PONG"

# 2. redis-cli --pipe: 10,000 commands in the raw protocol.
i=0
while [ $i -lt 10000 ]; do
	printf 'SET key:%d value:%d\r\n' $i $i
	i=$((i + 1))
done >"$T/cmds.txt"
timeout $((60 * SLOW)) redis-cli -h 127.0.0.1 -p "$CLIENT_PORT" --pipe <"$T/cmds.txt" \
	>"$T/pipe.out" 2>&1 || fail "redis-cli --pipe: $(cat "$T/pipe.out")"
grep -q "errors: 0, replies: 10000" "$T/pipe.out" || fail "redis-cli --pipe: $(cat "$T/pipe.out")"
[ "$(redis-cli -p "$REDIS_PORT" get key:9999)" = "value:9999" ] || fail "the last SET is missing"
pass "redis-cli --pipe: 10000 replies, 0 errors"

h=$(grep -c "event=handshake_done" "$T/client.log")
[ "$h" = 1 ] || fail "$h handshakes: the streams did not share the link"
grep -q "level=warn" "$T/client.log" && fail "warnings: $(grep level=warn "$T/client.log")"
pass "one link, one handshake, for 101 connections"
it_pass
