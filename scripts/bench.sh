#!/bin/bash
# bench.sh BUILD_DIR - lull against the tunnels people use today, side by
# side in one run, on loopback (make bench; QUICK=1 make bench for ~1 min).
#
# Part 1, the peer table.  Rows: direct TCP, a plaintext relay (our own
# single-threaded epoll relay, bench/lull-bench-relay.c: the cost of one
# user-space hop, not socat's fork per connection), spiped, stunnel (TLS 1.3,
# no resumption, mutual certificate check off, server verified by the
# client), ssh -L (aes256-gcm@openssh.com), lull (its defaults).  Each
# carries lull-bench-tcp's traffic to lull-bench-target.  Columns:
#   bulk       one connection, one direction, MB/s (10^6), median of 3
#   conn/s     new tunneled connections per second, each carrying one
#              64-byte request and its answer: sequential, and the best of
#              2 and 4 parallel clients (lull: a full handshake each)
#   rtt        64-byte round trips on an established connection, median
#              and p99, microseconds (of three runs, the lowest median)
#   idle mem   RSS growth of the server-side process (tree) over 1000 idle
#              connections, each used once, / 1000, KiB
#   CPU s/GB   CPU seconds of both tunnel processes per GB of bulk
# and a ratio row: lull / the best encrypted peer (spiped, stunnel, ssh).
#
# Part 2, lull alone, on the engine's own load generator
# (bench/lull-bench-load.c):
#   storm  N established connections go idle, have a heartbeat acknowledged
#          (key stale), then all send at once: each needs a full handshake
#          before its data.  Wall time and server CPU seconds, with the SRK
#          pool and with --no-srk-pool.  No connection may fail.
#   idle   M idle connections with heartbeats: server RSS per connection and
#          server CPU per second of idle.
#
# Results: a table and the issue's targets on stdout; BUILD_DIR/bench/
# results.csv (peer table), scale.csv (part 2) and results.json (both).
#
# Invariants: only 127.0.0.x; throwaway keys, certificates and configs in
# one mktemp -d directory, removed on exit; every process we start is
# recorded and stopped by PID (TERM, then KILL); every wait is a bounded
# poll.  A peer that cannot be installed is shown as n/a, never faked.
set -u

BUILD_DIR=${1:?usage: scripts/bench.sh BUILD_DIR}
QUICK=${QUICK:-0}
B=$(cd "$BUILD_DIR" && pwd) || exit 1
OUT=$B/bench
for bin in lull lull-bench-tcp lull-bench-target lull-bench-relay lull-bench-load; do
	[ -x "$B/$bin" ] || { echo "bench: missing $B/$bin (build first)" >&2; exit 1; }
done

if [ "$QUICK" = 1 ]; then
	BULK_BYTES=$((128 << 20)) CONN_SECONDS=1 RTT_COUNT=2000 IDLE_CONNS=1000
	STORM_CONNS=2000 STORM_HB=4s STORM_HT=2s
	SCALE_CONNS=5000 SCALE_HB=5s SCALE_HT=2s SCALE_WINDOW=5
else
	BULK_BYTES=$((1024 << 20)) CONN_SECONDS=4 RTT_COUNT=10000 IDLE_CONNS=1000
	STORM_CONNS=10000 STORM_HB=10s STORM_HT=5s
	SCALE_CONNS=50000 SCALE_HB=20s SCALE_HT=10s SCALE_WINDOW=20
fi

# ---- Processes ---------------------------------------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/lull-bench.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ]; then echo "bench: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# started PID: remember it for cleanup.
started() { PIDS="$PIDS $1"; }

# stop PID...: TERM, wait up to 5 s, then KILL; each by its PID.
stop() {
	local p n
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		n=50
		while kill -0 "$p" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# free_port, wait_port: from the one shell library.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh" || exit 1

# wait_file FILE SECONDS
wait_file() {
	for _ in $(seq $(($2 * 10))); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

tree_pids() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done
}
# RSS of a process and all its descendants, KiB.
tree_rss_kib() {
	local s=0 r p
	for p in $(tree_pids "$1"); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${r:-0}))
	done
	echo "$s"
}
cpu_s() { # utime+stime of the PIDs, seconds
	local s=0 t p
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null)
		s=$((s + ${t:-0}))
	done
	awk -v t="$s" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
kv() { # kv KEY LINE: the value of KEY=value in LINE
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# ---- Peers ---------------------------------------------------------------

PKGS="spiped stunnel4 openssh-server openssh-client socat"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: installing$missing" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >"$T/apt.log" 2>&1 ||
			{ apt-get update >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >"$T/apt.log" 2>&1; } ||
			echo "bench: apt-get failed; missing peers are shown as n/a" >&2
	else
		echo "bench: peers missing; as root run:" >&2
		echo "  apt-get install -y$missing" >&2
	fi
fi
have() { command -v "$1" >/dev/null 2>&1; }
# BENCH_ROWS="relay lull" runs only those peer rows (direct relay spiped
# stunnel ssh lull); BENCH_SCALE=0 skips part 2, =storm or =idle runs only
# that half of it; SCALE_LOG= (empty) logs the scale servers at info level
# (default -q).  For development.
want() { [ -z "${BENCH_ROWS:-}" ] || case " $BENCH_ROWS " in *" $1 "*) true ;; *) false ;; esac; }
SSHD=/usr/sbin/sshd

# Many connections: as many file descriptors as we may have.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)

echo "lull bench: QUICK=$QUICK  $(nproc) cores  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "  kernel $(uname -r), $(openssl version | cut -d' ' -f1-2), load average $(cut -d' ' -f1-3 /proc/loadavg), open files $NOFILE"

# ---- The target and the keys --------------------------------------------

TPORT=$(free_port)
"$B/lull-bench-target" --listen "127.0.0.1:$TPORT" 2>"$T/target.log" &
TARGET_PID=$!
started $TARGET_PID
wait_port "$TPORT" || { echo "bench: target did not start" >&2; exit 1; }

(umask 077 && "$B/lull" genkey >"$T/server.key" && "$B/lull" genkey >"$T/client.key") || exit 1
"$B/lull" pubkey <"$T/server.key" >"$T/server.pub"
echo "$("$B/lull" pubkey <"$T/client.key") bench" >"$T/authorized"

# ---- One row -------------------------------------------------------------

ROWS=""
# measure NAME PORT SERVER_PID [CLIENT_PID]: the columns through PORT.
# CPU per GB of bulk counts both tunnel ends (process trees), because on a
# shared machine a throughput figure alone also measures the neighbours.
measure() {
	local name=$1 port=$2 spid=$3 cpid=${4:-} line bulk seq par2 par4 par rtt p99 mem
	local tunnel_pids="" c0 c1 cpu=""
	echo "  measuring $name ..." >&2
	[ -n "$spid" ] && tunnel_pids="$(tree_pids "$spid") ${cpid:+$(tree_pids "$cpid")}"
	# shellcheck disable=SC2086
	[ -n "$tunnel_pids" ] && c0=$(cpu_s $tunnel_pids)
	line=$("$B/lull-bench-tcp" bulk --port "$port" --bytes "$BULK_BYTES" --reps 3)
	bulk=$(kv median_mbps "$line")
	if [ -n "$tunnel_pids" ] && [ -n "$bulk" ]; then
		# shellcheck disable=SC2086
		c1=$(cpu_s $tunnel_pids)
		# 4 transfers: the 1-byte warm-up is free, then 3 of BULK_BYTES
		cpu=$(awk -v a="$c0" -v b="$c1" -v n="$BULK_BYTES" 'BEGIN {printf "%.2f", (b - a) / (3 * n / 1e9)}')
	fi
	line=$("$B/lull-bench-tcp" connrate --port "$port" --seconds "$CONN_SECONDS" --parallel 1)
	seq=$(kv per_s "$line")
	line=$("$B/lull-bench-tcp" connrate --port "$port" --seconds "$CONN_SECONDS" --parallel 2)
	par2=$(kv per_s "$line")
	line=$("$B/lull-bench-tcp" connrate --port "$port" --seconds "$CONN_SECONDS" --parallel 4)
	par4=$(kv per_s "$line")
	par=$(awk -v a="${par2:-0}" -v b="${par4:-0}" 'BEGIN {print (a > b ? a : b)}')
	[ -z "$par2$par4" ] && par=""
	# Latency is what a neighbour's burst disturbs most: three runs, the
	# one with the lowest median counts (the same rule for every row).
	rtt="" p99=""
	for _ in 1 2 3; do
		line=$("$B/lull-bench-tcp" rtt --port "$port" --count "$RTT_COUNT" --size 64)
		if [ -n "$(kv median_us "$line")" ] &&
			{ [ -z "$rtt" ] || awk -v a="$(kv median_us "$line")" -v b="$rtt" 'BEGIN {exit !(a < b)}'; }; then
			rtt=$(kv median_us "$line")
			p99=$(kv p99_us "$line")
		fi
	done
	mem=""
	if [ -n "$spid" ]; then
		local r0 r1 hp
		sleep 0.5
		r0=$(tree_rss_kib "$spid")
		rm -f "$T/ready"
		"$B/lull-bench-tcp" hold --port "$port" --conns "$IDLE_CONNS" --ready-file "$T/ready" \
			--seconds 120 >/dev/null &
		hp=$!
		started $hp
		if wait_file "$T/ready" 60; then
			sleep 1
			r1=$(tree_rss_kib "$spid")
			mem=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.1f", (b - a) / n}')
		fi
		stop $hp
	fi
	ROWS="$ROWS$name,${bulk:-},${seq:-},${par:-},${rtt:-},${p99:-},${mem:-},${cpu:-}
"
}

# Direct: the target itself (no server-side tunnel process).
want direct && measure "direct TCP" "$TPORT" ""

# Plaintext relay.
if want relay; then
RP=$(free_port)
"$B/lull-bench-relay" --listen "127.0.0.1:$RP" --target "127.0.0.1:$TPORT" &
RELAY_PID=$!
started $RELAY_PID
if wait_port "$RP"; then measure "plain relay" "$RP" $RELAY_PID; fi
stop $RELAY_PID
fi

# spiped: a generated 256-bit key; -n 4096 so 1000 idle connections fit
# (the default is 100); perfect forward secrecy on (the default).
if ! want spiped; then
	:
elif have spiped; then
	dd if=/dev/urandom of="$T/spiped.key" bs=32 count=1 2>/dev/null
	SSP=$(free_port)
	CSP=$(free_port)
	spiped -F -d -s "[127.0.0.1]:$SSP" -t "[127.0.0.1]:$TPORT" -k "$T/spiped.key" -n 4096 \
		-p "$T/spiped-d.pid" 2>"$T/spiped-d.log" &
	SPD=$!
	started $SPD
	spiped -F -e -s "[127.0.0.1]:$CSP" -t "[127.0.0.1]:$SSP" -k "$T/spiped.key" -n 4096 \
		-p "$T/spiped-e.pid" 2>"$T/spiped-e.log" &
	SPE=$!
	started $SPE
	if wait_port "$SSP" && wait_port "$CSP"; then measure "spiped" "$CSP" $SPD $SPE; fi
	stop $SPE $SPD
else
	ROWS="${ROWS}spiped,,,,,,,
"
fi

# stunnel: TLS 1.3 only, ECDSA P-256 certificate (the cheaper signature:
# the stronger peer), the client verifies the server, no session resumption
# (sessionResume = no: every connection a full handshake, like lull's).
TLS_SUITE=""
if ! want stunnel; then
	:
elif have stunnel4 || have stunnel; then
	ST=$(command -v stunnel4 || command -v stunnel)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$T/tls.key" -out "$T/tls.crt" >/dev/null 2>&1
	SSTP=$(free_port)
	CSTP=$(free_port)
	cat >"$T/stunnel-s.conf" <<EOF
foreground = yes
pid =
debug = 4
[bench]
accept = 127.0.0.1:$SSTP
connect = 127.0.0.1:$TPORT
cert = $T/tls.crt
key = $T/tls.key
sslVersionMin = TLSv1.3
EOF
	cat >"$T/stunnel-c.conf" <<EOF
foreground = yes
pid =
debug = 4
[bench]
client = yes
accept = 127.0.0.1:$CSTP
connect = 127.0.0.1:$SSTP
verifyPeer = yes
CAfile = $T/tls.crt
sslVersionMin = TLSv1.3
sessionResume = no
EOF
	"$ST" "$T/stunnel-s.conf" >"$T/stunnel-s.log" 2>&1 &
	STS=$!
	started $STS
	"$ST" "$T/stunnel-c.conf" >"$T/stunnel-c.log" 2>&1 &
	STC=$!
	started $STC
	if wait_port "$SSTP" && wait_port "$CSTP"; then
		TLS_SUITE=$(openssl s_client -connect "127.0.0.1:$SSTP" -tls1_3 -CAfile "$T/tls.crt" \
			</dev/null 2>/dev/null | sed -n 's/^New, \(TLSv1.3\), Cipher is \(.*\)/\1 \2/p' |
			head -n 1)
		measure "stunnel TLS1.3" "$CSTP" $STS $STC
	fi
	stop $STC $STS
else
	ROWS="${ROWS}stunnel TLS1.3,,,,,,,
"
fi

# ssh -L: sshd on a high port with its own config, host key and
# authorized_keys; the client forwards with aes256-gcm@openssh.com.
SSH_CIPHER=""
if ! want ssh; then
	:
elif [ -x "$SSHD" ] && have ssh && [ "$(id -u)" = 0 ]; then
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N "" -f "$T/ssh_host" >/dev/null
	ssh-keygen -q -t ed25519 -N "" -f "$T/ssh_id" >/dev/null
	cp "$T/ssh_id.pub" "$T/authorized_keys"
	SSHP=$(free_port)
	CSSH=$(free_port)
	cat >"$T/sshd_config" <<EOF
Port $SSHP
ListenAddress 127.0.0.1
HostKey $T/ssh_host
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
Ciphers aes256-gcm@openssh.com
Compression no
LogLevel ERROR
EOF
	"$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
	SSHD_PID=$!
	started $SSHD_PID
	if wait_port "$SSHP"; then
		ssh -N -L "127.0.0.1:$CSSH:127.0.0.1:$TPORT" -p "$SSHP" -i "$T/ssh_id" \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
			-o ExitOnForwardFailure=yes -o Compression=no -c aes256-gcm@openssh.com \
			-o LogLevel=ERROR root@127.0.0.1 2>"$T/ssh.log" &
		SSH_PID=$!
		started $SSH_PID
		if wait_port "$CSSH"; then
			SSH_CIPHER=aes256-gcm@openssh.com
			measure "ssh -L aes256-gcm" "$CSSH" $SSHD_PID $SSH_PID
		else
			echo "bench: ssh -L did not come up: $(cat "$T/ssh.log")" >&2
		fi
		stop $SSH_PID
	fi
	stop $SSHD_PID
else
	ROWS="${ROWS}ssh -L aes256-gcm,,,,,,,
"
fi

# lull, with its defaults (threads = cores, info logging to a file).
LULL_WARN=0
if want lull; then
LSP=$(free_port)
LCP=$(free_port)
"$B/lull" server --listen "127.0.0.1:$LSP" --target "127.0.0.1:$TPORT" --key "$T/server.key" \
	--authorized "$T/authorized" 2>"$T/lull-server.log" &
LS_PID=$!
started $LS_PID
"$B/lull" client --listen "127.0.0.1:$LCP" --server "127.0.0.1:$LSP" --key "$T/client.key" \
	--server-pub "$T/server.pub" 2>"$T/lull-client.log" &
LC_PID=$!
started $LC_PID
if wait_port "$LSP" && wait_port "$LCP"; then measure "lull" "$LCP" $LS_PID $LC_PID; fi
stop $LC_PID $LS_PID
LULL_WARN=$(grep -c "level=warn\|level=error" "$T/lull-server.log" "$T/lull-client.log" |
	awk -F: '{s += $2} END {print s + 0}')
fi

# ---- The table -------------------------------------------------------------

mkdir -p "$OUT"
CSV=$OUT/results.csv
JSON=$OUT/results.json
echo "row,bulk_mbps,conn_per_s_seq,conn_per_s_par,rtt64_median_us,rtt64_p99_us,idle_kib_per_conn,bulk_cpu_s_per_gb" >"$CSV"
printf "%s" "$ROWS" >>"$CSV"

# Ratio row: lull / best encrypted peer (higher is better for the first
# three columns, lower for the others).
RATIO=$(awk -F, '
	NR == 1 { next }
	$1 == "lull" { for (i = 2; i <= 8; i++) l[i] = $i; next }
	$1 ~ /^(spiped|stunnel|ssh)/ {
		for (i = 2; i <= 8; i++) {
			if ($i == "") continue
			if (i <= 4) { if (best[i] == "" || $i + 0 > best[i] + 0) best[i] = $i }
			else { if (best[i] == "" || $i + 0 < best[i] + 0) best[i] = $i }
		}
	}
	END {
		printf "lull / best peer"
		for (i = 2; i <= 8; i++)
			if (l[i] == "" || best[i] == "" || best[i] + 0 == 0) printf ","
			else printf ",%.2f", l[i] / best[i]
		printf "\n"
	}' "$CSV")
echo "$RATIO" >>"$CSV"

echo
echo "Peers on 127.0.0.1 (bulk: MB/s median of 3; conn/s: one 64 B request/response per new"
echo "connection, sequential and best of 2/4 parallel; rtt: 64 B round trip, microseconds;"
echo "idle mem: server-side RSS growth over $IDLE_CONNS idle connections / $IDLE_CONNS, KiB;"
echo "CPU s/GB: CPU seconds of both tunnel processes per GB of bulk)"
echo
awk -F, 'BEGIN {
	printf "%-20s %10s %10s %10s %10s %10s %10s %10s\n", "", "bulk MB/s", "conn/s seq", "conn/s par", "rtt med", "rtt p99", "idle KiB", "CPU s/GB"
}
NR == 1 { next }
{ printf "%-20s", $1; for (i = 2; i <= 8; i++) printf " %10s", ($i == "" ? "n/a" : $i); printf "\n" }' "$CSV"
echo
echo "  plain relay: bench/lull-bench-relay (single-threaded epoll), not socat"
echo "  stunnel negotiated: ${TLS_SUITE:-unknown} (ECDSA P-256 certificate, no resumption)"
echo "  ssh cipher: ${SSH_CIPHER:-n/a}; lull: Noise_XXpsk3_25519_AESGCM_SHA256, full handshake per connection"
[ "$LULL_WARN" -gt 0 ] && echo "  lull logged $LULL_WARN warnings or errors during the peer runs"

# ---- Part 2: storm and many idle connections (engine load generator) ----

# One lull server process holds 2 descriptors per tunnel (lull side and
# target side); stay well under the open-files limit, and under the
# daemon's per-worker cap.  Several processes if need be (a fleet shares
# no state, design section 6); their CPU and RSS are summed.
PER_SERVER=$(((NOFILE - 200) / 2))
[ $PER_SERVER -gt 16000 ] && PER_SERVER=16000
PER_PROC=$((NOFILE - 200)) # one descriptor per connection: load generator, target
[ $PER_PROC -gt 60000 ] && PER_PROC=60000

# scale_servers N EXTRA...: start ceil(N / PER_SERVER) lull servers, each
# with its own target process when one target cannot hold them all.
# Sets SERVER_PIDS, SERVER_ADDRS (--server flags), SCALE_PIDS (all).
scale_servers() {
	local n=$1 ns nt i tp sp pid
	shift
	ns=$(((n + PER_SERVER - 1) / PER_SERVER))
	nt=$(((n + PER_PROC - 1) / PER_PROC))
	SERVER_PIDS="" SERVER_ADDRS="" SCALE_PIDS="" TPORTS=""
	for i in $(seq "$nt"); do
		tp=$(free_port)
		"$B/lull-bench-target" --listen "127.0.0.1:$tp" 2>>"$T/scale-target.log" &
		pid=$!
		started $pid
		SCALE_PIDS="$SCALE_PIDS $pid"
		TPORTS="$TPORTS $tp"
		wait_port "$tp" || return 1
	done
	for i in $(seq "$ns"); do
		tp=$(echo $TPORTS | cut -d' ' -f$(((i - 1) % nt + 1)))
		sp=$(free_port)
		"$B/lull" server --listen "127.0.0.1:$sp" --target "127.0.0.1:$tp" \
			--key "$T/server.key" --authorized "$T/authorized" --threads 1 ${SCALE_LOG--q} "$@" \
			2>>"$T/scale-server.log" &
		pid=$!
		started $pid
		SERVER_PIDS="$SERVER_PIDS $pid"
		SCALE_PIDS="$SCALE_PIDS $pid"
		SERVER_ADDRS="$SERVER_ADDRS --server 127.0.0.1:$sp"
		wait_port "$sp" || return 1
	done
}

ms() { awk -v d="$1" 'BEGIN {sub(/s$/, "", d); print d * 1000}'; } # "10s" -> 10000

# storm LABEL EXTRA...: one storm of STORM_CONNS; sets STORM_LINE.
storm() {
	local label=$1 watch=""
	shift
	scale_servers "$STORM_CONNS" --heartbeat-interval "$STORM_HB" --heartbeat-timeout "$STORM_HT" "$@" ||
		{ echo "bench: storm servers did not start" >&2; return 1; }
	for p in $SERVER_PIDS; do watch="$watch --watch-pid $p"; done
	echo "  storm ($label): $STORM_CONNS connections on $(echo $SERVER_PIDS | wc -w) server process(es) ..." >&2
	# shellcheck disable=SC2086
	timeout 600 "$B/lull-bench-load" --mode storm $SERVER_ADDRS --key "$T/client.key" \
		--server-pub "$T/server.pub" --conns "$STORM_CONNS" --sources 16 --source-base 2 \
		--heartbeat-interval "$(ms "$STORM_HB")" --heartbeat-timeout "$(ms "$STORM_HT")" \
		--timeout 500 $watch >"$T/storm-$label.out" 2>&1
	STORM_RC=$?
	STORM_LINE=$(grep '^storm ' "$T/storm-$label.out")
	[ $STORM_RC = 0 ] || echo "bench: storm ($label) failed: $(tail -n 3 "$T/storm-$label.out")" >&2
	# shellcheck disable=SC2086
	stop $SCALE_PIDS
}

STORM_LINE="" STORM_RC=1
if [ "${BENCH_SCALE:-1}" = 1 ] || [ "${BENCH_SCALE:-1}" = storm ]; then
	storm pool
	STORM_POOL=$STORM_LINE
	STORM_LINE="" STORM_RC=1
	storm fresh --no-srk-pool
	STORM_FRESH=$STORM_LINE
else
	STORM_POOL="" STORM_FRESH=""
fi

# Many idle connections: heartbeats 3x as often as the default (20 s, so a
# 20 s window sees every connection's), with the default 10 s timeout.  With
# a 5 s timeout, 2 of 4 runs of 50,000 on this saturated 2-core machine lost
# ~3 % to heartbeat timeouts while the last handshakes were still being made
# (see docs/performance.md).
#
# Load generators of at most PER_PROC connections
# each, every one spread over all servers, each from its own 10 source
# addresses (127.0.0.x: ~28,000 ephemeral ports per source address).
idle_scale() {
	local n=$SCALE_CONNS nl per i pids="" rss0 rss1 c0 c1
	scale_servers "$n" --heartbeat-interval "$SCALE_HB" --heartbeat-timeout "$SCALE_HT" ||
		{ echo "bench: idle servers did not start" >&2; return 1; }
	sleep 1
	# shellcheck disable=SC2086
	rss0=$(for p in $SERVER_PIDS; do tree_rss_kib $p; done | awk '{s += $1} END {print s}')
	nl=$(((n + PER_PROC - 1) / PER_PROC))
	per=$(((n + nl - 1) / nl))
	echo "  idle: $n connections, $(echo $SERVER_PIDS | wc -w) server process(es), $nl load generator(s) ..." >&2
	for i in $(seq "$nl"); do
		local cnt=$per
		[ "$i" = "$nl" ] && cnt=$((n - per * (nl - 1)))
		# shellcheck disable=SC2086
		"$B/lull-bench-load" --mode idle $SERVER_ADDRS --key "$T/client.key" \
			--server-pub "$T/server.pub" --conns "$cnt" --sources 10 \
			--source-base $((2 + 10 * (i - 1))) --heartbeat-interval "$(ms "$SCALE_HB")" \
			--heartbeat-timeout "$(ms "$SCALE_HT")" \
			--ready-file "$T/idle-ready.$i" --hold 900 --timeout 1000 >"$T/idle.$i.out" 2>&1 &
		pids="$pids $!"
		started $!
	done
	IDLE_ESTABLISH_S=""
	local t0
	t0=$(date +%s)
	for i in $(seq "$nl"); do
		wait_file "$T/idle-ready.$i" 400 || { echo "bench: idle load generator $i never got ready" >&2; break; }
	done
	IDLE_ESTABLISH_S=$(($(date +%s) - t0))
	# Let the last handshakes' buffers go and the heartbeats settle in.
	sleep 2
	# shellcheck disable=SC2086
	c0=$(cpu_s $SERVER_PIDS)
	sleep "$SCALE_WINDOW"
	# shellcheck disable=SC2086
	c1=$(cpu_s $SERVER_PIDS)
	# shellcheck disable=SC2086
	rss1=$(for p in $SERVER_PIDS; do tree_rss_kib $p; done | awk '{s += $1} END {print s}')
	# shellcheck disable=SC2086
	stop $pids
	IDLE_OK=0 IDLE_FAILED=0 IDLE_HB=0
	for i in $(seq "$nl"); do
		local l ok f hb
		l=$(grep '^idle ' "$T/idle.$i.out")
		ok=$(kv ok "$l") f=$(kv failed "$l") hb=$(kv heartbeats_acked "$l")
		[ -n "$l" ] || f=$per # no summary: count them all as failed
		IDLE_OK=$((IDLE_OK + ${ok:-0}))
		IDLE_FAILED=$((IDLE_FAILED + ${f:-0}))
		IDLE_HB=$((IDLE_HB + ${hb:-0}))
		grep -q '^first_failure' "$T/idle.$i.out" && echo "bench: idle: load generator $i: $(grep '^first_failure' "$T/idle.$i.out")" >&2
		echo "  idle: load generator $i: $(grep '^loop ' "$T/idle.$i.out")" >&2
	done
	IDLE_RSS0=$rss0 IDLE_RSS1=$rss1
	IDLE_KIB=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')
	IDLE_CPU_PCT=$(awk -v a="$c0" -v b="$c1" -v w="$SCALE_WINDOW" 'BEGIN {printf "%.2f", (b - a) / w * 100}')
	IDLE_SERVERS=$(echo $SERVER_PIDS | wc -w)
	# shellcheck disable=SC2086
	stop $SCALE_PIDS
}
IDLE_RSS0="" IDLE_RSS1="" IDLE_FAILED="" IDLE_OK="" IDLE_HB=0 IDLE_KIB="" IDLE_CPU_PCT="" IDLE_SERVERS="" IDLE_ESTABLISH_S=""
case ${BENCH_SCALE:-1} in 1 | idle) idle_scale ;; esac

sp_secs=$(kv seconds "$STORM_POOL")
sp_cpu=$(kv server_cpu_s "$STORM_POOL")
sf_secs=$(kv seconds "$STORM_FRESH")
sf_cpu=$(kv server_cpu_s "$STORM_FRESH")
STORM_RATIO=$(awk -v a="${sp_cpu:-0}" -v b="${sf_cpu:-0}" 'BEGIN {if (b > 0) printf "%.2f", a / b}')

echo
echo "lull at scale (engine load generator, bench/lull-bench-load; lull servers --threads 1 -q)"
echo
printf "  storm, %d connections, heartbeat %s timeout %s: every one rekeys (idle) and delivers\n" "$STORM_CONNS" "$STORM_HB" "$STORM_HT"
printf "    %-22s %8s s  server CPU %7s s  delivered %s  rekeyed(idle) %s  failed %s\n" \
	"SRK pool (default)" "${sp_secs:-n/a}" "${sp_cpu:-n/a}" "$(kv delivered "$STORM_POOL")" \
	"$(kv rekeyed_idle "$STORM_POOL")" "$(kv failed "$STORM_POOL")"
printf "    %-22s %8s s  server CPU %7s s  delivered %s  rekeyed(idle) %s  failed %s\n" \
	"--no-srk-pool" "${sf_secs:-n/a}" "${sf_cpu:-n/a}" "$(kv delivered "$STORM_FRESH")" \
	"$(kv rekeyed_idle "$STORM_FRESH")" "$(kv failed "$STORM_FRESH")"
echo "    server CPU, pool / fresh: ${STORM_RATIO:-n/a}"
printf "  idle, %d connections (%s established, %s lost), heartbeat %s timeout %s, %s server process(es):\n" \
	"$SCALE_CONNS" "${IDLE_OK:-0}" "${IDLE_FAILED:-n/a}" "$SCALE_HB" "$SCALE_HT" "${IDLE_SERVERS:-0}"
echo "    established in ${IDLE_ESTABLISH_S:-n/a} s; server RSS ${IDLE_RSS0:-?} -> ${IDLE_RSS1:-?} KiB, ${IDLE_KIB:-n/a} KiB per connection;"
echo "    server CPU ${IDLE_CPU_PCT:-n/a} % of one core over ${SCALE_WINDOW} s idle ($IDLE_HB heartbeats acknowledged in all)"

# ---- Targets (issue 7) -----------------------------------------------------

col() { awk -F, -v r="$1" -v c="$2" '$1 == r {print $c}' "$CSV"; }
check() { # check LABEL VALUE OP LIMIT
	awk -v l="$1" -v v="$2" -v op="$3" -v lim="$4" 'BEGIN {
		if (v == "" || lim == "") { printf "  %-58s n/a\n", l; exit }
		ok = (op == ">=") ? (v + 0 >= lim + 0) : (v + 0 <= lim + 0)
		printf "  %-58s %s (%s %s %s)\n", l, ok ? "met   " : "MISSED", v, op, lim }'
}
best_enc() { # best_enc COL max|min
	awk -F, -v c="$1" -v m="$2" '$1 ~ /^(spiped|stunnel|ssh)/ && $c != "" {
		if (b == "" || (m == "max" ? $c + 0 > b : $c + 0 < b)) b = $c + 0 } END {print b}' "$CSV"
}
mul() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "") printf "%.1f", a * b}'; }
echo
echo "Targets (issue 7), this run:"
check "bulk >= 1.3 x best encrypted peer" "$(col lull 2)" ">=" "$(mul "$(best_enc 2 max)" 1.3)"
check "conn/s seq >= 4 x stunnel" "$(col lull 3)" ">=" "$(mul "$(col 'stunnel TLS1.3' 3)" 4)"
check "conn/s par >= 4 x stunnel" "$(col lull 4)" ">=" "$(mul "$(col 'stunnel TLS1.3' 4)" 4)"
check "conn/s seq >= 1.2 x ssh -L" "$(col lull 3)" ">=" "$(mul "$(col 'ssh -L aes256-gcm' 3)" 1.2)"
check "conn/s par >= 1.2 x ssh -L" "$(col lull 4)" ">=" "$(mul "$(col 'ssh -L aes256-gcm' 4)" 1.2)"
check "rtt median <= 1.1 x plain relay" "$(col lull 5)" "<=" "$(mul "$(col 'plain relay' 5)" 1.1)"
check "idle KiB/conn <= spiped / 5" "$(col lull 7)" "<=" "$(mul "$(col spiped 7)" 0.2)"
check "storm: pool CPU <= 0.8 x fresh" "${STORM_RATIO:-}" "<=" "0.8"
check "storm: failed connections (pool + fresh) = 0" \
	"$(($(kv failed "$STORM_POOL" | grep . || echo 1) + $(kv failed "$STORM_FRESH" | grep . || echo 1)))" "<=" 0
check "idle: $SCALE_CONNS connections, server CPU % of one core < 5" "${IDLE_CPU_PCT:-}" "<=" 5
check "idle: failed connections = 0" "${IDLE_FAILED:-}" "<=" 0

# ---- JSON ----------------------------------------------------------------

{
	echo "{"
	echo "  \"quick\": $QUICK,"
	echo "  \"machine\": {\"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\", \"kernel\": \"$(uname -r)\", \"openssl\": \"$(openssl version | cut -d' ' -f2)\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"open_files\": $NOFILE},"
	echo "  \"tls_suite\": \"${TLS_SUITE}\","
	echo "  \"rows\": ["
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
	{ rows[++n] = $0 }
	END {
		for (r = 1; r <= n; r++) {
			split(rows[r], f, ",")
			printf "    {\"%s\": \"%s\"", h[1], f[1]
			for (i = 2; i <= 8; i++) printf ", \"%s\": %s", h[i], (f[i] == "" ? "null" : f[i])
			printf "}%s\n", (r < n ? "," : "")
		}
	}' "$CSV"
	echo "  ],"
	num() { [ -n "$1" ] && echo "$1" || echo null; }
	echo "  \"storm\": {\"conns\": $STORM_CONNS, \"heartbeat\": \"$STORM_HB\","
	echo "    \"pool\": {\"seconds\": $(num "$sp_secs"), \"server_cpu_s\": $(num "$sp_cpu"), \"failed\": $(num "$(kv failed "$STORM_POOL")"), \"rekeyed_idle\": $(num "$(kv rekeyed_idle "$STORM_POOL")")},"
	echo "    \"fresh\": {\"seconds\": $(num "$sf_secs"), \"server_cpu_s\": $(num "$sf_cpu"), \"failed\": $(num "$(kv failed "$STORM_FRESH")"), \"rekeyed_idle\": $(num "$(kv rekeyed_idle "$STORM_FRESH")")},"
	echo "    \"cpu_ratio_pool_over_fresh\": $(num "$STORM_RATIO")},"
	echo "  \"idle\": {\"conns\": $SCALE_CONNS, \"ok\": $(num "${IDLE_OK:-}"), \"failed\": $(num "${IDLE_FAILED:-}"), \"heartbeat\": \"$SCALE_HB\", \"server_processes\": $(num "${IDLE_SERVERS:-}"), \"kib_per_conn\": $(num "${IDLE_KIB:-}"), \"server_cpu_pct_one_core\": $(num "${IDLE_CPU_PCT:-}"), \"window_s\": $SCALE_WINDOW}"
	echo "}"
} >"$JSON"
# Scale figures in the CSV too, as extra rows of key,value.
{
	echo "storm_pool_seconds,$sp_secs"
	echo "storm_pool_server_cpu_s,$sp_cpu"
	echo "storm_fresh_seconds,$sf_secs"
	echo "storm_fresh_server_cpu_s,$sf_cpu"
	echo "idle_conns,$SCALE_CONNS"
	echo "idle_failed,${IDLE_FAILED:-}"
	echo "idle_kib_per_conn,${IDLE_KIB:-}"
	echo "idle_server_cpu_pct,${IDLE_CPU_PCT:-}"
} >"$OUT/scale.csv"
echo
echo "Results: $CSV, $OUT/scale.csv, $JSON"
