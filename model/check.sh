#!/bin/sh
# check.sh - verify the rekey model (model/rekey.pml) with spin.
#
#   model/check.sh [--each] [--with NAME] [--mutant NAME] [WORKDIR]
#
# Generates the verifier with spin, compiles it, and checks every claim: the
# safety claims by a full search, the liveness claims by a search for
# acceptance cycles under weak fairness.  Fails on any error spin reports,
# on an incomplete search (depth or memory too small), or on a spin or
# compiler failure.  --each checks each property on its own (slower) rather
# than the combined `safety` and `liveness` claims.  --mutant NAME builds the
# model with -DNAME and succeeds only if spin finds a counterexample: proof
# that the check can fail.  --with NAME builds with -DNAME and expects every
# property to hold (e.g. --with WITH_CAPS adds the reject_after_* holds).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
each=0
mutant=""
with=""
while [ $# -gt 0 ]; do
	case "$1" in
	--each) each=1 ;;
	--mutant) mutant="$2"; shift ;;
	--with) with="$with -D$2"; shift ;;
	-*) echo "check.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
command -v spin >/dev/null || { echo "check.sh: spin not installed (scripts/deps.sh)" >&2; exit 1; }

# The search depth the model needs is under 10k steps; 200k leaves room.
DEPTH=200000
defs=$with
[ -n "$mutant" ] && defs="$defs -D$mutant"
cp "$here/rekey.pml" .
spin $defs -a rekey.pml >spin.out 2>&1 || { cat spin.out; exit 1; }
# -O0: pan.c takes ~30 s of CPU to optimise and runs only ~2x faster for it.
${CC:-cc} -O0 -w -DVECTORSZ=1024 -o pan pan.c

# check CLAIM BINARY ARGS...: run one claim; print its figures; 0 when spin
# found no error and the search was complete.
check() {
	claim=$1 bin=$2
	shift 2
	start=$(date +%s.%N)
	./"$bin" -m$DEPTH "$@" -N "$claim" >"$claim.out" 2>&1 || true
	end=$(date +%s.%N)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$claim.out")
	states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$claim.out")
	secs=$(echo "$start $end" | awk '{printf "%.1f", $2 - $1}')
	echo "model: $claim: errors=${errors:-?} states=${states:-?} time=${secs}s"
	if [ "${errors:-1}" != 0 ]; then
		grep -E "^pan:[0-9]" "$claim.out" | head -3
		return 1
	fi
	if grep -q "max search depth too small\|out of memory\|Search not completed" "$claim.out"; then
		echo "model: $claim: search incomplete"
		return 1
	fi
	return 0
}

if [ $each = 1 ]; then
	safety="no_data_after_heartbeat new_epoch_after_ack honest_never_spoofed epochs_agree"
	liveness="held_data_sent epochs_converge"
else
	safety="safety"
	liveness="liveness"
fi

failed=0
for c in $safety; do
	check "$c" pan || failed=1
	[ -n "$mutant" ] && [ $failed = 1 ] && break
done
if [ -z "$mutant" ] || [ $failed = 0 ]; then
	for c in $liveness; do check "$c" pan -a -f || failed=1; done
fi

if [ -n "$mutant" ]; then
	if [ $failed = 1 ]; then
		echo "model: mutant $mutant: counterexample found, as it should be"
		exit 0
	fi
	echo "model: mutant $mutant: spin found no counterexample" >&2
	exit 1
fi
[ $failed = 0 ] && echo "model: every property holds"
exit $failed
