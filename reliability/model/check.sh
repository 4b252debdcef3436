#!/usr/bin/env bash
# Model-check vt_core's protocol (reliability/model/core.pml) with spin,
# exhaustively, and show that the model can fail (docs/reliability.md,
# "Model check").
#
#   safety    three configurations, each the four rightful actors (P1, A,
#             and rental 2's P2, A2) with two of the three misuse actors
#             (SP, SA, SC): assertions and invalid end states
#   liveness  one misuse actor at a time: no non-progress cycle under weak
#             fairness (pan -l -f), so no wait (W1, W2) spins forever
#   mutants   each must FAIL: the five safety mutants in the safety run,
#             MUTANT_W1_COMPLETING in the liveness run
#
# Usage: reliability/model/check.sh [--full]
#   --full  also the liveness check of the two-misuse configurations
#           (about 2 minutes and 1.3 GB each; not part of the test suite)
# Exit: 0 all as expected; 1 the model failed or a mutant passed; 77 spin
# is missing (skip). Knobs: VT_MODEL_CC (default cc), VT_MODEL_MEMLIM in MB
# (default 1024).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
full=false
[[ ${1:-} == --full ]] && full=true

if ! command -v spin >/dev/null 2>&1; then
	echo "model: skipped: spin is not installed (Debian: apt-get install spin, or scripts/deps.sh)"
	exit 77
fi
cc=${VT_MODEL_CC:-cc}
memlim=${VT_MODEL_MEMLIM:-1024}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "model: skipped: no C compiler ($cc) to build spin's verifier"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vt-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here/core.pml" "$work/"
cd "$work"

failures=0
echo "model: $(spin -V)"

# check NAME MODE EXPECT DEFINES...
#   MODE: safety | liveness; EXPECT: pass | fail
check() {
	local name=$1 mode=$2 expect=$3
	shift 3
	local pan_cc=(-DSAFETY) pan_run=()
	if [[ $mode == liveness ]]; then
		pan_cc=(-DNP -DNFAIR=3)
		pan_run=(-l -f)
	fi
	rm -f pan pan.* core.pml.trail
	if ! spin -a "$@" core.pml >spin.out 2>&1; then
		cat spin.out
		echo "model: $name ($mode): spin -a failed"
		failures=$((failures + 1))
		return
	fi
	"$cc" -O2 -w "${pan_cc[@]}" -DMEMLIM="$memlim" -DCOLLAPSE -o pan pan.c
	local rc=0
	./pan -m200000 -w22 "${pan_run[@]}" >pan.out 2>&1 || rc=$?

	local errors states depth secs mem first
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out | tail -1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.out | tail -1)
	mem=$(sed -n 's/^ *\([0-9.]*\)\s*total actual memory usage.*/\1/p' pan.out | tail -1)
	first=$(grep -m1 -E '^pan:[0-9]+: |^pan: (invalid end state|reached -DMEMLIM)' pan.out || true)
	local summary="${states:-?} states, depth ${depth:-?}, ${secs:-?} s, ${mem:-?} MB"

	if grep -q 'Search not completed\|reached -DMEMLIM' pan.out && [[ ${errors:-1} == 0 ]]; then
		echo "model: FAIL $name ($mode): search not completed ($summary)"
		failures=$((failures + 1))
		return
	fi
	if [[ -z $errors || $rc -ne 0 && $errors == 0 ]]; then
		tail -20 pan.out
		echo "model: FAIL $name ($mode): pan exited $rc without a result"
		failures=$((failures + 1))
		return
	fi
	if [[ $expect == pass ]]; then
		if [[ $errors == 0 ]]; then
			echo "model: ok   $name ($mode): no errors; $summary"
		else
			echo "model: FAIL $name ($mode): $first"
			echo "model: trail (spin -t -p), last steps:"
			spin -t -p -g "$@" core.pml 2>&1 | grep -v '^\s*$' | tail -60
			failures=$((failures + 1))
		fi
	else
		if [[ $errors != 0 ]]; then
			echo "model: ok   mutant $name ($mode) fails as it must: ${first#pan:1: } (depth ${depth:-?}, ${secs:-?} s)"
		else
			echo "model: FAIL mutant $name ($mode) passed: the model cannot see what it removes ($summary)"
			failures=$((failures + 1))
		fi
	fi
}

t0=$SECONDS
# The model: every pair of misuse actors beside the rightful ones.
check "P1 A P2 A2 + SP SA" safety pass -DNO_SC
check "P1 A P2 A2 + SP SC" safety pass -DNO_SA
check "P1 A P2 A2 + SA SC" safety pass -DNO_SP
check "P1 A P2 A2 + SP" liveness pass -DNO_SA -DNO_SC
check "P1 A P2 A2 + SA" liveness pass -DNO_SP -DNO_SC
check "P1 A P2 A2 + SC" liveness pass -DNO_SP -DNO_SA
if $full; then
	check "P1 A P2 A2 + SP SA" liveness pass -DNO_SC
	check "P1 A P2 A2 + SP SC" liveness pass -DNO_SA
	check "P1 A P2 A2 + SA SC" liveness pass -DNO_SP
fi

# The mutants, each in the configuration with two completers and two awaiters.
for m in NO_C1 NO_W1 NO_W2 P_FIRST NO_FN_CLEAR; do
	check "MUTANT_$m" safety fail -DNO_SC -DMUTANT_$m
done
check "MUTANT_W1_COMPLETING, unseen by safety" safety pass -DNO_SA -DNO_SC -DMUTANT_W1_COMPLETING
check "MUTANT_W1_COMPLETING" liveness fail -DNO_SA -DNO_SC -DMUTANT_W1_COMPLETING

if ((failures != 0)); then
	echo "model: $failures check(s) not as expected ($((SECONDS - t0)) s)"
	exit 1
fi
echo "model: all checks as expected ($((SECONDS - t0)) s)"
