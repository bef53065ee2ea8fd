#!/bin/sh
# Run every libFuzzer target for FUZZ_SECONDS (default 60) each, one after
# the other, on a copy of its committed seed corpus.
#
#   FUZZ_SECONDS=600 scripts/fuzz.sh           (make fuzz FUZZ_SECONDS=600)
#   FUZZ_TARGETS="fuzz_frame fuzz_noise_read" scripts/fuzz.sh
#
# Builds with clang in build-fuzz/ (-fsanitize=fuzzer,address,undefined,
# -DLULL_FUZZ=ON).  The committed corpus fuzz/corpus/<t>/ is never written:
# each run works in build-fuzz/work/<t>/ and crash files land in
# build-fuzz/findings/<t>/.  Prints per target execs/s, cov/ft from
# libFuzzer's final stats line and the corpus size, and exits non-zero if
# any target found a crash, leak, timeout or out-of-memory.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
rss_mb=${FUZZ_RSS_MB:-512}
malloc_mb=${FUZZ_MALLOC_MB:-64}
all="fuzz_frame fuzz_server_engine fuzz_client_engine fuzz_noise_read fuzz_keyfile fuzz_config fuzz_authfile
fuzz_proxy_proto fuzz_stream"
targets=${FUZZ_TARGETS:-$all}

command -v clang >/dev/null 2>&1 || { echo "fuzz: clang is required" >&2; exit 1; }

# Instrument the library too (fuzzer-no-link), not only the targets.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
flags="$flags -fno-omit-frame-pointer -g -O1"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	-DLULL_FUZZ=ON -DCMAKE_C_FLAGS="$flags" \
	-DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target $targets >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
summary=""
for t in $targets; do
	bin=$build/$t
	seeds=$root/fuzz/corpus/$t
	work=$build/work/$t
	findings=$build/findings/$t
	log=$build/logs/$t.log
	[ -x "$bin" ] || { echo "fuzz: no target $t" >&2; failed="$failed $t"; continue; }
	rm -rf "$work"
	mkdir -p "$work" "$findings" "$(dirname "$log")"
	[ -d "$seeds" ] && cp "$seeds"/* "$work"/ 2>/dev/null || true
	echo "fuzz: $t for ${seconds}s ..."
	rc=0
	"$bin" "$work" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
		-malloc_limit_mb="$malloc_mb" -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
	# The last stats line: "#N DONE cov: C ft: F corp: K/S exec/s: E ..."
	stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
	cov=$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$stats" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$stats" | sed -n 's/.*corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
	execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
	eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
	line=$(printf '%-20s %6ss  execs %-9s exec/s %-6s cov %-6s ft %-6s corpus %s' \
		"$t" "$seconds" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
	if [ "$rc" -ne 0 ]; then
		line="$line  FAILED (rc $rc; see $log, $findings/)"
		failed="$failed $t"
	fi
	echo "$line"
	summary="$summary$line
"
done

echo
echo "fuzz summary:"
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed" >&2
	exit 1
fi
