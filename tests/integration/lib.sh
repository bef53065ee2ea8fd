# lib.sh - the one shell library of lull's test and bench scripts
# (sourced, POSIX sh): the integration tests (tests/integration, tests/tools),
# the soak (scripts/soak.sh) and the benchmarks (scripts/bench.sh,
# bench/profile.sh).
#
# Every process a test starts is recorded and killed by PID on exit; every
# wait is a bounded poll of a log file or a socket; everything lives in one
# mktemp -d directory, removed on exit unless the test failed (then it is
# kept and named, with the logs printed).
#
# Usage: . lib.sh; it_init "$1"; ...; it_pass
#
# Sections: the test's life (it_init .. it_pass), processes (start_*,
# wait_exit, stop_pid, stop_pids), the man in the middle (start_mitm and the timing
# helpers of the mitm scenarios), ports for the benchmarks (free_port,
# wait_port).

set -u

it_init() {
	BUILD_DIR=$(cd "$1" && pwd)
	LULL=$BUILD_DIR/lull
	ECHO=$BUILD_DIR/lull-echo
	LOAD=$BUILD_DIR/lull-load
	for bin in "$LULL" "$ECHO" "$LOAD"; do
		[ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
	done
	T=$(mktemp -d "${TMPDIR:-/tmp}/lull-it.XXXXXX")
	PIDS=""
	IT_FAILED=0
	trap it_cleanup EXIT
	trap 'exit 1' INT TERM
	# Sanitizer builds are several times slower: scale the waits.
	SLOW=1
	case "$(cat "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)" in
	*"LULL_SANITIZE:BOOL=ON"*) SLOW=4 ;;
	esac
}

it_cleanup() {
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ "$IT_FAILED" = 1 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (last 40 lines)"
			tail -n 40 "$f"
		done
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}

fail() {
	echo "FAIL: $*" >&2
	IT_FAILED=1
	exit 1
}

pass() {
	echo "ok: $*"
}

# it_keys NAME...: NAME.key (0600) and NAME.pub in $T.
it_keys() {
	for n in "$@"; do
		(umask 077 && "$LULL" genkey >"$T/$n.key") || fail "genkey $n"
		"$LULL" pubkey <"$T/$n.key" >"$T/$n.pub" || fail "pubkey $n"
	done
}

# wait_for FILE PATTERN SECONDS: poll until grep finds PATTERN.
wait_for() {
	_n=$(($3 * 10 * SLOW))
	while [ "$_n" -gt 0 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# start_echo NAME [ARGS]: a lull-echo target; sets ECHO_PORT and ECHO_PID.
start_echo() {
	_name=$1
	shift
	"$ECHO" --port-file "$T/$_name.port" "$@" >"$T/$_name.out" 2>&1 &
	ECHO_PID=$!
	PIDS="$PIDS $ECHO_PID"
	port_from_file "$T/$_name.port" "$ECHO_PID" "$T/$_name.out" "lull-echo $_name"
	ECHO_PORT=$PORT_FROM_FILE
}

# port_from_file FILE PID LOG WHAT: wait (5 s, x SLOW) for the port the
# child PID (logging to LOG) writes to FILE; sets PORT_FROM_FILE; fails
# naming WHAT if the child exits first or never writes it.
port_from_file() {
	_n=$((50 * SLOW))
	while [ ! -s "$1" ] && [ "$_n" -gt 0 ]; do
		kill -0 "$2" 2>/dev/null || fail "$4 exited: $(cat "$3")"
		sleep 0.1
		_n=$((_n - 1))
	done
	PORT_FROM_FILE=$(cat "$1" 2>/dev/null)
	[ -n "$PORT_FROM_FILE" ] || fail "$4 did not start"
}

# start_lull LOGNAME server|client ARGS...: sets LULL_PID and LULL_PORT
# (read from the "listening" line, since every lull here listens on :0).
start_lull() {
	_log=$T/$1.log
	shift
	"$LULL" "$@" 2>"$_log" &
	LULL_PID=$!
	PIDS="$PIDS $LULL_PID"
	wait_for "$_log" "event=listening" 5 || fail "lull $1 did not start: $(cat "$_log")"
	LULL_PORT=$(sed -n 's/.*event=listening .*addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$_log" | head -n 1)
	[ -n "$LULL_PORT" ] || fail "no port in $_log"
}

# start_server LOGNAME TARGET_PORT AUTHFILE [ARGS]: SERVER_PID, SERVER_PORT.
start_server() {
	_l=$1
	_tp=$2
	_auth=$3
	shift 3
	start_lull "$_l" server --listen 127.0.0.1:0 --target "127.0.0.1:$_tp" \
		--key "$T/server.key" --authorized "$_auth" "$@"
	SERVER_PID=$LULL_PID
	SERVER_PORT=$LULL_PORT
}

# start_client LOGNAME KEYNAME SERVER_PORT [ARGS]: CLIENT_PID, CLIENT_PORT.
start_client() {
	_l=$1
	_k=$2
	_sp=$3
	shift 3
	start_lull "$_l" client --listen 127.0.0.1:0 --server "127.0.0.1:$_sp" \
		--key "$T/$_k.key" --server-pub "$T/server.pub" "$@"
	CLIENT_PID=$LULL_PID
	CLIENT_PORT=$LULL_PORT
}

# wait_exit PID SECONDS: wait at most SECONDS (x SLOW) for PID, a child of
# this shell, to exit; sets STATUS to its exit status, or "running".
wait_exit() {
	_n=$(($2 * 10 * SLOW))
	while kill -0 "$1" 2>/dev/null && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		STATUS=running
	else
		wait "$1"
		STATUS=$?
	fi
}

# stop_pid PID SECONDS: SIGTERM, wait at most SECONDS; sets STOP_STATUS
# (the exit status, or "timeout" after which it is killed).
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" "$2"
	STOP_STATUS=$STATUS
	if [ "$STATUS" = running ]; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		STOP_STATUS=timeout
	fi
}

# stop_pids PID...: SIGTERM to all, then each gets 5 s before SIGKILL
# (the benchmarks' processes, stopped between measurements).
stop_pids() {
	for _p in "$@"; do kill -TERM "$_p" 2>/dev/null; done
	for _p in "$@"; do
		_n=50
		while kill -0 "$_p" 2>/dev/null && [ $_n -gt 0 ]; do
			sleep 0.1
			_n=$((_n - 1))
		done
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
}

# start_haproxy BALANCE PORT...: a real HAProxy (Debian's haproxy, TCP
# mode, send-proxy-v2, health checks with a LOCAL header every 500 ms,
# redispatch) balancing with BALANCE over lull servers lull1, lull2, ... on
# 127.0.0.1:PORT...; sets HP (its port) and HAP_PID, logs to
# $T/haproxy.log, one "hap client=ADDR:PORT server=lullN" line per
# connection.  HAProxy cannot bind port 0: a few free ports are tried.
start_haproxy() {
	_bal=$1
	shift
	_servers=""
	_i=0
	for _p in "$@"; do
		_i=$((_i + 1))
		_servers="$_servers    server lull$_i 127.0.0.1:$_p
"
	done
	for _ in 1 2 3 4 5 6 7 8; do
		HP=$(free_port) || fail "no free port"
		cat >"$T/haproxy.cfg" <<EOF
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option logasap
    option redispatch
    retries 3
    log-format "hap client=%ci:%cp server=%s"
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend lull_in
    bind 127.0.0.1:$HP
    default_backend lull_servers
backend lull_servers
    balance $_bal
    default-server send-proxy-v2 check check-send-proxy inter 500ms
$_servers
EOF
		"$HAPROXY" -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
		HAP_PID=$!
		PIDS="$PIDS $HAP_PID"
		wait_port "$HP" && kill -0 "$HAP_PID" 2>/dev/null && return 0
		kill -KILL "$HAP_PID" 2>/dev/null
	done
	fail "haproxy did not start: $(cat "$T/haproxy.log")"
}

it_pass() {
	echo "PASS"
	exit 0
}

# ---- The man in the middle (tests/tools/it_mitm_*.sh) ----------------------
#
#   start_mitm NAME UPSTREAM_PORT [lull-mitm ARGS]: MITM_PID, MITM_PORT;
#       its log (one line per action) is $T/NAME.log.
#   count FILE PATTERN: number of lines of FILE matching PATTERN.
#   assert_alive: both lull processes are still running (no crash).

start_mitm() {
	MITM=$BUILD_DIR/lull-mitm
	[ -x "$MITM" ] || fail "missing $MITM"
	_m=$1
	_up=$2
	shift 2
	rm -f "$T/$_m.port"
	"$MITM" --upstream "$_up" --port-file "$T/$_m.port" "$@" >"$T/$_m.log" 2>&1 &
	MITM_PID=$!
	PIDS="$PIDS $MITM_PID"
	port_from_file "$T/$_m.port" "$MITM_PID" "$T/$_m.log" "lull-mitm $_m"
	MITM_PORT=$PORT_FROM_FILE
}

count() {
	grep -c -- "$2" "$1" 2>/dev/null || true
}

# wait_count FILE PATTERN N SECONDS: poll until PATTERN occurs N times.
wait_count() {
	_n=$(($4 * 10 * SLOW))
	while [ "$(count "$1" "$2")" -lt "$3" ] && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	[ "$_n" -gt 0 ]
}

assert_alive() {
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
	kill -0 "$CLIENT_PID" 2>/dev/null || fail "the client died"
}

# ts_ms FILE PATTERN: the ts= of the first line matching PATTERN, as ms since
# midnight (UTC; the tests never run across midnight long enough to matter).
ts_ms() {
	grep -m 1 -- "$2" "$1" 2>/dev/null |
		sed -n 's/^ts=[0-9-]*T\([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\)\.\([0-9][0-9][0-9]\)Z.*/\1 \2 \3 \4/p' |
		{ read -r h m s ms && echo $(((1$h - 100) * 3600000 + (1$m - 100) * 60000 + (1$s - 100) * 1000 + 1$ms - 1000)); }
}

# mitm_t FILE PATTERN: the t= (ms since the mitm started) of the first line
# of a mitm log matching PATTERN.
mitm_t() {
	grep -m 1 -- "$2" "$1" 2>/dev/null | sed -n 's/^mitm t=\([0-9]*\) .*/\1/p'
}

# between VALUE LO HI WHAT: fail unless LO <= VALUE <= HI.
between() {
	[ -n "$1" ] || fail "$4: not measured"
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || fail "$4: $1 ms, expected $2-$3 ms"
}

# ref_sink_init: start the reference sink stream_sha uses.  Call it at the
# top level of the test, never inside $(...): a sink started in a subshell
# escapes the PID list (never stopped) and races the next one's port file.
ref_sink_init() {
	start_echo refsink --mode sink
	REF_SINK_PORT=$ECHO_PORT
}

# stream_sha SEED SIZE: sha256 of the first SIZE bytes lull-load sends with
# --seed SEED (connection 1), measured by sending them straight into the
# reference sink (ref_sink_init), no lull in between.
stream_sha() {
	[ -n "${REF_SINK_PORT:-}" ] || { echo "stream_sha: ref_sink_init first" >&2; return 1; }
	"$LOAD" --port "$REF_SINK_PORT" --mode send --steps "$2" --seed "$1" --timeout 10 |
		sed -n 's/^load conn=1 mode=send bytes=[0-9]* sha256=\([0-9a-f]*\) .*/\1/p'
}

# ---- Ports, for the benchmarks (scripts/bench.sh, bench/profile.sh) --------

# free_port: a port nobody listens on and that we have not handed out
# (remembered in $T/ports: callers run in command substitutions, i.e.
# subshells, and several ports are often handed out before any is bound).
free_port() {
	for _ in $(seq 200); do
		_p=$(shuf -i 10000-31999 -n 1) # below the ephemeral range
		grep -qx "$_p" "$T/ports" 2>/dev/null && continue
		if [ -z "$(ss -Htan "sport = :$_p" 2>/dev/null)" ]; then
			echo "$_p" >>"$T/ports"
			echo "$_p"
			return 0
		fi
	done
	return 1
}

# wait_port PORT: until something listens there (10 s).
wait_port() {
	for _ in $(seq 100); do
		[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}
