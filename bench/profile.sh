#!/bin/bash
# profile.sh BUILD_DIR [bulk|handshake] - where lull's time goes, for
# docs/performance.md.  Starts lull-bench-target, a lull server and a lull
# client on 127.0.0.1 (throwaway keys), and records a flat perf profile of
# both lull processes while lull-bench-tcp drives them:
#   bulk       one connection, 2 GiB one way (the bulk path)
#   handshake  8 s of sequential new connections (a full handshake each)
# Prints the top symbols per process.  Needs perf (Debian: linux-perf); if
# perf cannot record here, says so and exits 77.  Every process started is
# stopped by PID; the temporary directory is removed.
set -u
B=$(cd "${1:?usage: bench/profile.sh BUILD_DIR [bulk|handshake]}" && pwd) || exit 1
WHAT=${2:-bulk}
command -v perf >/dev/null || { echo "profile: no perf (apt-get install linux-perf)" >&2; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/lull-prof.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill -KILL $p 2>/dev/null; done; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

# free_port, wait_port: shared with scripts/bench.sh.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh" || exit 1

(umask 077 && "$B/lull" genkey >"$T/s.key" && "$B/lull" genkey >"$T/c.key") || exit 1
"$B/lull" pubkey <"$T/s.key" >"$T/s.pub"
echo "$("$B/lull" pubkey <"$T/c.key") prof" >"$T/auth"
TP=$(free_port)
"$B/lull-bench-target" --listen "127.0.0.1:$TP" &
PIDS="$PIDS $!"
wait_port "$TP" || exit 1
SP=$(free_port)
"$B/lull" server --listen "127.0.0.1:$SP" --target "127.0.0.1:$TP" --key "$T/s.key" \
	--authorized "$T/auth" -q 2>"$T/server.log" &
S=$!
PIDS="$PIDS $S"
CP=$(free_port)
"$B/lull" client --listen "127.0.0.1:$CP" --server "127.0.0.1:$SP" --key "$T/c.key" \
	--server-pub "$T/s.pub" -q 2>"$T/client.log" &
C=$!
PIDS="$PIDS $C"
wait_port "$SP" && wait_port "$CP" || exit 1

# One recording per process: perf report's --pid filter mixes percentages.
perf record -q -F 2000 -o "$T/server.data" -p "$S" 2>"$T/perf-s.err" &
PERF_S=$!
perf record -q -F 2000 -o "$T/client.data" -p "$C" 2>"$T/perf-c.err" &
PERF_C=$!
sleep 0.5
if ! kill -0 $PERF_S 2>/dev/null || ! kill -0 $PERF_C 2>/dev/null; then
	echo "profile: perf cannot record here: $(cat "$T/perf-s.err")" >&2
	exit 77
fi
case $WHAT in
bulk) "$B/lull-bench-tcp" bulk --port "$CP" --bytes $((2048 << 20)) --reps 1 ;;
handshake) "$B/lull-bench-tcp" connrate --port "$CP" --seconds 8 --parallel 1 ;;
*) echo "profile: bulk or handshake" >&2; exit 2 ;;
esac
kill -INT $PERF_S $PERF_C
wait $PERF_S $PERF_C
for role in server client; do
	echo
	echo "== lull $role: share of its samples by library, then by symbol"
	perf report -q -i "$T/$role.data" --sort dso --stdio 2>/dev/null | grep -v '^$' | head -n 6
	perf report -q -i "$T/$role.data" --sort dso,symbol --stdio 2>/dev/null | grep -v '^$' |
		head -n 15
	# Debian's libcrypto has no symbols: group its samples by 4 KiB of
	# code, which docs/performance.md maps to functions by disassembly.
	echo "-- libcrypto samples by code page (address / 4096):"
	perf report -q -i "$T/$role.data" --dsos libcrypto.so.3 --sort symbol --stdio 2>/dev/null |
		perl -ne 'if (/^\s*([\d.]+)%\s+\S+\s+0x([0-9a-f]+)/) { $s{sprintf "0x%x", hex($2) >> 12 << 12} += $1 }
			END { printf "   %6.2f%%  %s\n", $s{$_}, $_ for sort { $s{$b} <=> $s{$a} } keys %s }' |
		head -n 8
done
