#!/bin/sh
# --status during a real run: handshakes (initial and idle), heartbeats, an
# idle rekey and a spoof.  Checks:
#  - lull status and /status show the idle link going stale, then rekeyed
#    (epoch 2, reason idle);
#  - /metrics counts exactly what happened, is valid for promtool check
#    metrics, and a real Prometheus server scraping the daemon answers a
#    query for lull_handshakes_total through its HTTP API;
#  - /healthz answers ok.
. "$(dirname "$0")/lib.sh"
it_init "$1"
HERE=$(cd "$(dirname "$0")" && pwd)
GET="python3 $HERE/http_get.py"
SPOOF=$BUILD_DIR/lull-spoof
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	fail "promtool and prometheus are needed (Debian package prometheus; scripts/deps.sh)"
it_keys server alice
echo "$(cat "$T/alice.pub") alice" >"$T/authorized"
HB="--heartbeat-interval 1s --heartbeat-timeout 500ms"
start_echo echo
# shellcheck disable=SC2086
start_server server "$ECHO_PORT" "$T/authorized" $HB --status 127.0.0.1:0 --metrics-peers
ST=$(sed -n 's/.*event=status_listening addr=//p' "$T/server.log")
[ -n "$ST" ] || fail "no status_listening line"
# shellcheck disable=SC2086
start_client client alice "$SERVER_PORT" $HB --threads 1 --status "unix:$T/client.sock"
[ "$($GET "http://$ST/healthz")" = ok ] || fail "/healthz"

# Prometheus scrapes the server every 500 ms through the whole run.
PROM_PORT=$($GET --free-port)
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: lull
    static_configs:
      - targets: ['$ST']
YML
promtool check config "$T/prometheus.yml" >"$T/promtool-config.log" 2>&1 ||
	fail "promtool check config: $(cat "$T/promtool-config.log")"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
PIDS="$PIDS $PROM_PID"

# The client's link comes up at start and goes idle at once (heartbeats; the
# key goes stale at epoch 1).  Then one stream: its OPEN rekeys (idle, epoch
# 2), 16K echoed, 2.5 s idle, 16K again after an idle rekey (epoch 3), then
# 3 s more before its FIN, which rekeys once more (epoch 4): every frame
# after an idle spell waits for a new key, whichever stream it belongs to.
# poll_status SPEC PATTERN SECONDS [--json]: lull status until PATTERN.
poll_status() {
	_n=$(($3 * 10 * SLOW))
	while [ "$_n" -gt 0 ]; do
		"$LULL" status --status "$1" ${4:-} >"$T/status.out" 2>&1 &&
			grep -q -- "$2" "$T/status.out" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}
wait_for "$T/client.log" "event=key_stale" 10 || fail "the client's link never went idle"
poll_status "$ST" "state: stale" 3 || fail "server status never showed the key stale: $(cat "$T/status.out")"
cp "$T/status.out" "$T/status-stale.txt"
"$LOAD" --port "$CLIENT_PORT" --steps 16K,s2500,16K,s3000 --timeout $((30 * SLOW)) \
	>"$T/load.out" 2>&1 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
grep -q "peer: alice" "$T/status-stale.txt" && grep -q "epoch: 1 (initial" "$T/status-stale.txt" &&
	grep -q "latest heartbeat: [0-9]*ms ago" "$T/status-stale.txt" ||
	fail "stale status: $(cat "$T/status-stale.txt")"
poll_status "unix:$T/client.sock" '"state": "stale"' 3 --json ||
	fail "client /status never showed the key stale: $(cat "$T/status.out")"
pass "lull status and /status: the idle link's key went stale after a heartbeat"
poll_status "$ST" "epoch: 3 (idle" 8 || fail "server status never showed the idle rekey: $(cat "$T/status.out")"
grep -q "state: ready" "$T/status.out" && grep -q "transfer: 32K received, 32K sent" "$T/status.out" &&
	grep -q "bytes since rekey: 32K" "$T/status.out" || fail "after the rekey: $(cat "$T/status.out")"
poll_status "unix:$T/client.sock" '"epoch": 3, "key_age_ms": [0-9]*, "last_handshake_reason": "idle"' 3 --json ||
	fail "client /status after the rekey: $(cat "$T/status.out")"
pass "then rekeyed: epoch 3, reason idle, in lull status and /status"
wait_exit "$LOAD_PID" $((20))
[ "$STATUS" = 0 ] || fail "load: $(cat "$T/load.out")"

# A stale-key spoof against the server (lull-spoof plays the attacker).
"$SPOOF" --server "127.0.0.1:$SERVER_PORT" --key "$T/alice.key" --server-pub "$T/server.pub" \
	--timeout-ms $((20000 * SLOW)) >"$T/spoof.log" 2>&1 || fail "lull-spoof: $(cat "$T/spoof.log")"
wait_for "$T/server.log" "event=closed reason=spoof" 5 || fail "no spoof close"
# Links are freed a moment after their close; the client's own link stays
# up (links are long-lived).
_n=$((50 * SLOW))
while [ "$_n" -gt 0 ]; do
	$GET "http://$ST/metrics" >"$T/server.prom" || fail "scrape /metrics"
	grep -q "^lull_links_open 1$" "$T/server.prom" && break
	sleep 0.1
	_n=$((_n - 1))
done
# The client's metrics through its unix socket.
printf 'GET /metrics HTTP/1.0\r\n\r\n' >"$T/req"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(open(sys.argv[2], "rb").read())
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
head, body = data.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head
sys.stdout.write(body.decode())' "$T/client.sock" "$T/req" >"$T/client.prom" || fail "client /metrics"

# metric FILE SERIES: its value.
metric() { sed -n "s/^$2 \\([0-9.e+]*\\)$/\\1/p" "$1"; }
want() {
	_v=$(metric "$1" "$2")
	[ "$_v" = "$3" ] || fail "$1: $2 is '$_v', want $3"
}
at_least() {
	_v=$(metric "$1" "$2")
	[ -n "$_v" ] && [ "$_v" -ge "$3" ] || fail "$1: $2 is '$_v', want at least $3"
}
S=$T/server.prom
C=$T/client.prom
want "$S" 'lull_handshakes_total{reason="initial",result="ok"}' 2
# Idle rekeys: before the stream's OPEN, before the second 16K, and before
# its FIN (a link carries every stream's frames under its keys).
want "$S" 'lull_handshakes_total{reason="idle",result="ok"}' 3
want "$S" 'lull_records_rejected_total{reason="spoof"}' 1
want "$S" 'lull_records_rejected_total{reason="decrypt_failed"}' 0
want "$S" 'lull_closes_total{reason="spoof"}' 1
want "$S" 'lull_replay_refused_total' 0
at_least "$S" 'lull_heartbeats_total{result="received"}' 2
at_least "$S" 'lull_srk_created_total' 1
# 2 x 16K from the load, and lull-spoof's 22-byte greeting; the echo sends
# all of it back.  The injected record is not counted: it was refused.
want "$S" 'lull_bytes_total{direction="received"}' 32790
want "$S" 'lull_bytes_total{direction="sent"}' 32790
want "$S" 'lull_handshake_duration_seconds_count' 5
want "$S" 'lull_handshake_duration_seconds_bucket{le="+Inf"}' 5
want "$S" 'lull_links_open' 1
want "$S" 'lull_handshakes_pending' 0
# --metrics-peers: the same by authorized name (every handshake here is
# alice's); the client has no such breakdown.
want "$S" 'lull_peer_handshakes_total{peer="alice",reason="initial",result="ok"}' 2
want "$S" 'lull_peer_handshakes_total{peer="alice",reason="idle",result="ok"}' 3
want "$S" 'lull_peer_bytes_total{peer="alice",direction="received"}' 32790
want "$S" 'lull_peer_bytes_total{peer="alice",direction="sent"}' 32790
grep -q "^lull_peer_" "$C" && fail "client has per-peer series"
want "$C" 'lull_handshakes_total{reason="initial",result="ok"}' 1
want "$C" 'lull_handshakes_total{reason="idle",result="ok"}' 3
want "$C" 'lull_bytes_total{direction="sent"}' 32768
want "$C" 'lull_bytes_total{direction="received"}' 32768
at_least "$C" 'lull_heartbeats_total{result="sent"}' 1
at_least "$C" 'lull_heartbeats_total{result="acked"}' 1
want "$C" 'lull_heartbeats_total{result="missed"}' 0
pass "/metrics counts the handshakes, the idle rekey, heartbeats, bytes and the spoof"
for f in "$S" "$C"; do
	promtool check metrics <"$f" >"$T/promtool.log" 2>&1 ||
		fail "promtool check metrics $(basename "$f"): $(cat "$T/promtool.log")"
done
pass "promtool check metrics accepts both"

# Prometheus has scraped the server during the run: ask it.
Q="http://127.0.0.1:$PROM_PORT/api/v1/query?query=lull_handshakes_total%7Breason%3D%22idle%22%7D"
_n=$((300 * SLOW))
while [ "$_n" -gt 0 ]; do
	$GET "$Q" >"$T/query.json" 2>/dev/null &&
		grep -q '"__name__":"lull_handshakes_total"' "$T/query.json" &&
		grep -q '"value":\[[0-9.]*,"3"\]' "$T/query.json" && break
	sleep 0.1
	_n=$((_n - 1))
done
[ "$_n" -gt 0 ] || fail "Prometheus query: $(cat "$T/query.json" 2>/dev/null) $(tail -5 "$T/prometheus.log")"
pass "a Prometheus server scraped lull and answers lull_handshakes_total{reason=\"idle\"} = 1"

stop_pid "$PROM_PID" 20
stop_pid "$CLIENT_PID" 10
stop_pid "$SERVER_PID" 10
[ "$STOP_STATUS" = 0 ] || fail "server exit $STOP_STATUS"
it_pass
