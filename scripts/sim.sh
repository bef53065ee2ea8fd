#!/bin/sh
# scripts/sim.sh BUILD_DIR - replay every built-in trace under every rekey
# policy with the real engine (lull-sim) and write the results:
#
#   BUILD_DIR/sim/table.txt    the text table (also printed)
#   BUILD_DIR/sim/results.csv  one row per trace x policy
#   BUILD_DIR/sim/*.svg        timeline and bar plots per trace
#
# Run by `make sim` after the build.  SIM_SEED picks the traces' seed
# (default 1); SIM_DOCS=1 also copies the plots into docs/, where
# docs/rekey-policies.md shows them next to the table printed here.  The plots are SVG written by
# lull-sim itself: no gnuplot or other tool is needed.
set -eu

BUILD_DIR=${1:?usage: scripts/sim.sh BUILD_DIR}
SEED=${SIM_SEED:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIM="$BUILD_DIR/lull-sim"
OUT="$BUILD_DIR/sim"

if [ ! -x "$SIM" ]; then
	cmake --build "$BUILD_DIR" --target lull-sim
fi
mkdir -p "$OUT"
rm -f "$OUT"/sim-*.svg

start=$(date +%s)
"$SIM" --seed "$SEED" --table "$OUT/table.txt" --csv "$OUT/results.csv" --svg-dir "$OUT"
end=$(date +%s)

cat "$OUT/table.txt"
echo
echo "sim: $((end - start)) s; table $OUT/table.txt, CSV $OUT/results.csv, plots $OUT/sim-*.svg"

if [ "${SIM_DOCS:-0}" = 1 ]; then
	cp "$OUT"/sim-*.svg "$ROOT/docs/"
	echo "sim: plots copied to docs/; paste the table into docs/rekey-policies.md"
fi
