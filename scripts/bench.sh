#!/usr/bin/env bash
# The main job: build valuetask in release mode and compare it, side by side
# in one run, with what C servers use instead.
#   1. micro-benchmarks (benchmarks/run.sh): sync completion, pooled cycle on
#      one and two threads, pool rent+return at 1/2/4/8 threads, against the
#      malloc'd Task baseline and the free-list comparators; writes
#      bench-results/ (CSV + PNG plots) and prints the ratio table;
#   2. what the pooled cycle's three read-modify-writes cost
#      (benchmarks/rmw_cost.sh, 3 rounds): the numbers behind the 3x miss;
#   3. the RESP server under redis-benchmark (examples/server/compare.sh):
#      valuetask build vs baseline build vs redis-server.
# Installs what is missing (meson, ninja, libck-dev, the comparators,
# gnuplot, redis) with apt-get as root or through sudo.
# Set SKIP_SERVER=1 to run only the micro-benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash benchmarks/run.sh "$@"
echo
echo "== the cycle's read-modify-writes (benchmarks/rmw_cost.sh)"
bash benchmarks/rmw_cost.sh 3
if [[ ${SKIP_SERVER:-0} != 1 ]]; then
	echo
	echo "== server comparison (examples/server/compare.sh)"
	bash examples/server/compare.sh
fi
