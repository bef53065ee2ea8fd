# shellcheck shell=bash
# bench_lib.sh - shell helpers shared by scripts/bench.sh and
# bench/profile.sh, which both start servers on random loopback ports and
# wait for them to listen.  Sourced, not run.  free_port needs T, the
# caller's temporary directory.

# free_port: a port nobody listens on and that we have not handed out
# (remembered in a file: we run in command substitutions, i.e. subshells,
# and several ports are often handed out before any of them is bound).
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % 22000)) # below the ephemeral range
		grep -qx "$p" "$T/ports" 2>/dev/null && continue
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			echo "$p" >>"$T/ports"
			echo "$p"
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
