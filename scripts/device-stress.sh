#!/usr/bin/env bash
# valuetask: build the stress programs here, plain and under ThreadSanitizer,
# and pack them into a self-contained bundle to run on a many-core machine
# (one without meson, libck, clang or network, e.g. a lent 16-core box).
# The 2-core development VM runs every race with at most two threads truly
# at once; this runs them with a core per thread, and oversubscribed.
#
#   scripts/device-stress.sh          # build-device-stress/ + its bundle/
#   OUT=/tmp/r build-device-stress/bundle/run-stress-on-device.sh
#
# 1. configures two trees with the tests on and the benchmarks off:
#    build-device-stress/release (gcc, release) and build-device-stress/tsan
#    (clang, -Db_sanitize=thread), and compiles the stress programs in both;
# 2. copies them into build-device-stress/bundle/{release,tsan}/, each with
#    its libvaluetask.so.0, with the other shared libraries they load (scripts/bundle-lib.sh), the TSan
#    suppression files, and addr2line with its libraries: TSan needs a
#    symbolizer for its suppressions (they match function names), and
#    llvm-symbolizer would bring 110 MB of libLLVM;
# 3. writes bundle/run-stress-on-device.sh (see its header);
# 4. checks that the bundle stays below 64 MiB.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
top=${VTS_DEVICE_BUILD:-$root/build-device-stress}
bundle=$top/bundle
limit_mib=64

# shellcheck source=scripts/bundle-lib.sh
. "$root/scripts/bundle-lib.sh"

log() { printf '== %s\n' "$*" >&2; }

# The programs of the meson suite 'stress' (tests/, reliability/, compose/tests/).
targets=(tests/stress_race tests/stress_pool tests/stress_misuse reliability/soak
	compose/tests/test_threadpool compose/tests/test_loop compose/tests/test_shared_when
	compose/tests/test_compose_stress)

# ---- 1. build ---------------------------------------------------------------

cd "$root"
command -v clang >/dev/null || bash scripts/deps.sh clang libclang-rt-14-dev
configure() { # dir, compiler, options...
	local dir=$1 cc=$2
	shift 2
	if [ -f "$dir/build.ninja" ]; then
		CC=$cc meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		CC=$cc meson setup "$dir" "$@" >/dev/null
	fi
}
configure "$top/release" cc -Dbuildtype=release -Dtests=true -Dbenchmarks=false
configure "$top/tsan" clang -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
	-Dtests=true -Dbenchmarks=false
for b in release tsan; do
	log "building $b in $top/$b"
	meson compile -C "$top/$b" "${targets[@]}" >/dev/null
done

# ---- 2. bundle --------------------------------------------------------------

rm -rf "$bundle"
mkdir -p "$bundle/release" "$bundle/tsan" "$bundle/bin" "$bundle/supp"
exes=()
for b in release tsan; do
	for t in "${targets[@]}"; do
		cp "$top/$b/$t" "$bundle/$b/"
		exes+=("$bundle/$b/$(basename "$t")")
	done
	# The shared library the soak links, one per build (the runner puts
	# the build's folder first on LD_LIBRARY_PATH).
	cp -L "$top/$b/libvaluetask.so.0" "$bundle/$b/"
done
cp -L "$(command -v addr2line)" "$bundle/bin/"
bundle_libs "$bundle" "${exes[@]}" "$bundle/bin/addr2line"
strip --strip-unneeded "$bundle"/lib/*.so* 2>/dev/null || true
cp reliability/tsan.supp "$bundle/supp/reliability.supp"
cp compose/tests/tsan.supp "$bundle/supp/compose.supp"
bundle_info "$bundle" "${exes[@]}"

# ---- 3. the runner ----------------------------------------------------------

cat >"$bundle/run-stress-on-device.sh" <<'EOF'
#!/usr/bin/env bash
# Runs valuetask's stress programs from this bundle alone (built by
# scripts/device-stress.sh), plain and under ThreadSanitizer, at several
# thread counts. Each run's output goes to $OUT/<build>-<program>-t<N>.log;
# $OUT/summary.txt has one line per run (rc, seconds) and the total.
# Exit status 1 if any run failed.
#
# Settings (environment):
#   OUT           output folder (default ./device-stress-out)
#   VTS_THREADS   thread counts (default: the core count and twice it)
#   VTS_BUILDS    which builds (default "release tsan")
#   VTS_PROGRAMS  which runs, by log name without the thread count (default
#                 all: race pool-cached pool-spill misuse threadpool loop
#                 shared_when compose soak)
#   VTS_SCALE     percent of the default iterations, release (default 100);
#                 the TSan build runs a tenth of it (stress_misuse a
#                 hundredth)
#   VTS_SOAK      seconds of soak per run (default 20; TSan: a quarter)
#   VTS_STEP_TIMEOUT  seconds one run may take (default 240)
#   VTS_DEADLINE  seconds after which the remaining runs are skipped
#                 (default 0: none)
#   VTS_TAR       1: at the end, pack the files into $OUT/results.tar.gz
set -uo pipefail

B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$PWD/device-stress-out}
ncpu=$(nproc)
THREADS=${VTS_THREADS:-"$ncpu $((2 * ncpu))"}
BUILDS=${VTS_BUILDS:-"release tsan"}
PROGRAMS=${VTS_PROGRAMS:-"race pool-cached pool-spill misuse threadpool loop shared_when compose soak"}
SCALE=${VTS_SCALE:-100}
SOAK=${VTS_SOAK:-20}
STEP_TIMEOUT=${VTS_STEP_TIMEOUT:-240}
DEADLINE=${VTS_DEADLINE:-0}
mkdir -p "$OUT"
# TSan (clang 14) maps its shadow at fixed addresses; a kernel with more
# mmap randomisation than it expects makes it fail at start, so ASLR is off
# where setarch can do that.
norand=()
setarch "$(uname -m)" -R true 2>/dev/null && norand=(setarch "$(uname -m)" -R)

{
	printf '# run-stress-on-device %s host=%s nproc=%s threads="%s" load="%s"\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -n)" "$ncpu" "$THREADS" "$(cut -d' ' -f1-3 /proc/loadavg)"
	sed 's/^/# bundle: /' "$B/BUILD-INFO"
	printf '# cpu: %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
} | tee "$OUT/summary.txt"

T0=$SECONDS
failed=0
run() { # build, name (for the log), program, args...
	local b=$1 name=$2 exe=$3 t0=$SECONDS rc limit=$STEP_TIMEOUT
	shift 3
	local log="$OUT/$b-$name.log"
	case " $PROGRAMS " in *" ${name%-t*} "*) ;; *) return 0 ;; esac
	if [ "$DEADLINE" -gt 0 ]; then
		if [ $((SECONDS - T0)) -ge "$DEADLINE" ]; then
			echo "skipped (deadline) $b $exe $*" | tee -a "$OUT/summary.txt"
			return 0
		fi
		[ $((DEADLINE - (SECONDS - T0))) -lt "$limit" ] && limit=$((DEADLINE - (SECONDS - T0)))
	fi
	local env=(env "LD_LIBRARY_PATH=$B/$b:$B/lib")
	if [ "$b" = tsan ]; then
		local supp=$B/supp/reliability.supp
		case $exe in test_*) supp=$B/supp/compose.supp ;; esac
		env+=("TSAN_OPTIONS=halt_on_error=1 second_deadlock_stack=1 allow_addr2line=1 external_symbolizer_path=$B/bin/addr2line suppressions=$supp"
			"${norand[@]}")
	fi
	echo "# cmd: $b/$exe $*" >"$log"
	timeout -k 5 "$limit" "${env[@]}" "$B/$b/$exe" "$@" >>"$log" 2>&1
	rc=$?
	printf '%-7s %-20s %-44s rc=%-3s %4s s\n' "$b" "$exe" "$*" "$rc" "$((SECONDS - t0))" |
		tee -a "$OUT/summary.txt"
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		tail -20 "$log" | sed 's/^/    /'
	fi
}

for b in $BUILDS; do
	scale=$SCALE soak=$SOAK mscale=$SCALE
	if [ "$b" = tsan ]; then
		scale=$((SCALE / 10 > 0 ? SCALE / 10 : 1))
		soak=$((SOAK / 4 > 0 ? SOAK / 4 : 1))
		# stress_misuse's rounds start and end on spin barriers of all
		# its threads; under TSan, 16 threads spinning on 16 cores ran
		# its first scenario for over 120 s at a tenth of its rounds.
		mscale=$((SCALE / 100 > 0 ? SCALE / 100 : 1))
	fi
	for t in $THREADS; do
		m=$((t < 16 ? t : 16)) # stress_misuse takes at most 16 racers
		run "$b" "race-t$t" stress_race --threads "$t" --scale "$scale"
		run "$b" "pool-cached-t$t" stress_pool --set cached --threads "$t" --scale "$scale"
		run "$b" "pool-spill-t$t" stress_pool --set spill --threads "$t" --scale "$scale"
		run "$b" "misuse-t$m" stress_misuse --threads "$m" --scale "$mscale"
		# The iterations meson gives them (compose/tests/meson.build).
		run "$b" "threadpool-t$t" test_threadpool --threads "$t" --iterations $((400000 * scale / 100))
		run "$b" "loop-t$t" test_loop --threads "$t" --iterations $((600000 * scale / 100))
		run "$b" "shared_when-t$t" test_shared_when --threads "$t" --iterations $((30000 * scale / 100))
		run "$b" "compose-t$t" test_compose_stress --threads "$t" --iterations $((30000 * scale / 100))
		# Renters, completers and awaiters: a third of the threads each.
		k=$(((t + 2) / 3))
		run "$b" "soak-t$t" soak --seconds "$soak" --renters "$k" --completers "$k" --awaiters "$k"
	done
done
echo "# total $((SECONDS - T0)) s, $failed failed" | tee -a "$OUT/summary.txt"
if [ "${VTS_TAR:-0}" = 1 ]; then
	(cd "$OUT" && tar czf results.tar.gz --remove-files summary.txt ./*.log)
fi
[ "$failed" -eq 0 ]
EOF
chmod +x "$bundle/run-stress-on-device.sh"

# ---- 4. size ----------------------------------------------------------------

size_kib=$(du -sk "$bundle" | cut -f1)
if [ "$size_kib" -ge $((limit_mib * 1024)) ]; then
	log "bundle is ${size_kib} KiB, over ${limit_mib} MiB"
	exit 1
fi
log "bundle: $bundle (${size_kib} KiB, ${#exes[@]} executables); needs $(grep '^needs' "$bundle/BUILD-INFO" | cut -d' ' -f2)"
