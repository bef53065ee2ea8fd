# shellcheck shell=bash
# bench/bench_peers.sh - part 1 of the benchmark: the peer table (direct
# TCP, relay, spiped, stunnel, ssh -L, lull), written to results.csv and
# printed.
# Sourced by scripts/bench.sh, after its settings and process helpers (the
# variables and functions it defines are used here); not run on its own.

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
		stop_pids $hp
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
stop_pids $RELAY_PID
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
	stop_pids $SPE $SPD
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
	stop_pids $STC $STS
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
		stop_pids $SSH_PID
	fi
	stop_pids $SSHD_PID
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
stop_pids $LC_PID $LS_PID
LULL_WARN=$(grep -c "level=warn\|level=error" "$T/lull-server.log" "$T/lull-client.log" |
	awk -F: '{s += $2} END {print s + 0}')
fi

# lull-spl1: the per-connection model through the same code
# (--streams-per-link 1: a link, a handshake and a key per connection), to
# show what long-lived links save on conn/s and idle memory.
if want lull-spl1; then
LSP=$(free_port)
LCP=$(free_port)
"$B/lull" server --listen "127.0.0.1:$LSP" --target "127.0.0.1:$TPORT" --key "$T/server.key" \
	--authorized "$T/authorized" 2>"$T/lull1-server.log" &
LS_PID=$!
started $LS_PID
"$B/lull" client --listen "127.0.0.1:$LCP" --server "127.0.0.1:$LSP" --key "$T/client.key" \
	--server-pub "$T/server.pub" --streams-per-link 1 2>"$T/lull1-client.log" &
LC_PID=$!
started $LC_PID
if wait_port "$LSP" && wait_port "$LCP"; then measure "lull-spl1" "$LCP" $LS_PID $LC_PID; fi
stop_pids $LC_PID $LS_PID
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

