# lib.sh - shared by the integration tests (sourced, POSIX sh).
#
# Every process a test starts is recorded and killed by PID on exit; every
# wait is a bounded poll of a log file; everything lives in one mktemp -d
# directory, removed on exit unless the test failed (then it is kept and
# named, with the logs printed).
#
# Usage: . lib.sh; it_init "$1"; ...; it_pass

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
	_n=$((50 * SLOW))
	while [ ! -s "$T/$_name.port" ] && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	ECHO_PORT=$(cat "$T/$_name.port" 2>/dev/null)
	[ -n "$ECHO_PORT" ] || fail "lull-echo $_name did not start"
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

it_pass() {
	echo "PASS"
	exit 0
}
