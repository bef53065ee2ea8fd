# mitm_lib.sh - helpers for the man-in-the-middle scenarios (sourced after
# ../integration/lib.sh and it_init).  POSIX sh.
#
#   start_mitm NAME UPSTREAM_PORT [lull-mitm ARGS]: MITM_PID, MITM_PORT;
#       its log (one line per action) is $T/NAME.log.
#   mitm_tunnel NAME [lull-mitm ARGS]: echo target, server, mitm in front of
#       the server and a client through it, all with $SERVER_OPTS and
#       $CLIENT_OPTS; the mitm's log is $T/NAME.log.
#   count FILE PATTERN: number of lines of FILE matching PATTERN.
#   assert_alive: both lull processes are still running (no crash).

MITM=$BUILD_DIR/lull-mitm
[ -x "$MITM" ] || fail "missing $MITM"

start_mitm() {
	_m=$1
	_up=$2
	shift 2
	rm -f "$T/$_m.port"
	"$MITM" --upstream "$_up" --port-file "$T/$_m.port" "$@" >"$T/$_m.log" 2>&1 &
	MITM_PID=$!
	PIDS="$PIDS $MITM_PID"
	_n=$((50 * SLOW))
	while [ ! -s "$T/$_m.port" ] && [ "$_n" -gt 0 ]; do
		kill -0 "$MITM_PID" 2>/dev/null || fail "lull-mitm $_m exited: $(cat "$T/$_m.log")"
		sleep 0.1
		_n=$((_n - 1))
	done
	MITM_PORT=$(cat "$T/$_m.port" 2>/dev/null)
	[ -n "$MITM_PORT" ] || fail "lull-mitm $_m did not start"
}

count() {
	grep -c -- "$2" "$1" 2>/dev/null || true
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
