#!/usr/bin/env bash
# valuetask: build the benchmarks here and pack them into a self-contained
# bundle to run on another machine (one without meson, libck or network,
# e.g. a lent many-core box), where only thread scaling can be measured.
#
#   scripts/device-bench.sh            # build-device/ + build-device/bundle/
#   OUT=/tmp/r build-device/bundle/run-on-device.sh     # on the other machine
#
# 1. configures a release tree in build-device/ (VTB_DEVICE_BUILD) with the
#    tests off and the benchmarks on, and compiles it;
# 2. copies the bench_* executables (every allocator variant found) into
#    build-device/bundle/, with every shared library they load that is not
#    part of glibc (libck, jemalloc, tcmalloc, mimalloc, DPDK's librte_* and
#    their dependencies, libstdc++...) in bundle/lib/; glibc itself (loader,
#    libc, libm, ...) goes to bundle/glibc/, used only when the target's own
#    glibc is too old to run the executables;
# 3. writes bundle/run-on-device.sh (see its header for its settings);
# 4. checks that the bundle stays below 64 MiB.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VTB_DEVICE_BUILD:-$root/build-device}
bundle=$build/bundle
limit_mib=64

# shellcheck source=scripts/bundle-lib.sh
. "$root/scripts/bundle-lib.sh"

log() { printf '== %s\n' "$*" >&2; }

# ---- 1. build ---------------------------------------------------------------

cd "$root"
opts=(-Dbuildtype=release -Dtests=false -Dbenchmarks=true)
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" "${opts[@]}" >/dev/null
else
	meson setup "$build" "${opts[@]}" >/dev/null
fi
grep -h 'benchmarks: .* not found' "$build/meson-logs/meson-log.txt" 2>/dev/null | sed 's/^Message: /== /' >&2 || true
log "building in $build"
meson compile -C "$build" >/dev/null

# ---- 2. bundle --------------------------------------------------------------

rm -rf "$bundle"
mkdir -p "$bundle/lib" "$bundle/glibc"
exes=()
for q in sync async xthread pool pool_packed handoff; do
	for s in "" _jemalloc _tcmalloc _mimalloc; do
		e=$build/benchmarks/bench_$q$s
		[ -x "$e" ] || continue
		cp "$e" "$bundle/"
		exes+=("$bundle/bench_$q$s")
	done
done
[ ${#exes[@]} -gt 0 ] || { log "no benchmark executables in $build/benchmarks"; exit 1; }

bundle_libs "$bundle" "${exes[@]}"
# DPDK's rte_mempool finds its "ring_mp_mc" handler in a driver the EAL
# dlopens from its plugin folder (librte_mempool_ring, in
# /usr/lib/<triplet>/dpdk/pmds-*): without it rte_mempool_create fails
# (EINVAL) and the dpdk comparator is skipped. The runner preloads it.
ring_pmd=$(ls /usr/lib/*/dpdk/pmds-*/librte_mempool_ring.so.*.* 2>/dev/null | head -1 || true)
if [ -n "$ring_pmd" ] && ldd "$bundle/bench_pool" | grep -q librte_eal; then
	mkdir -p "$bundle/pmds"
	cp -L "$ring_pmd" "$bundle/pmds/librte_mempool_ring.so"
	ldd "$ring_pmd" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
		name=$(basename "$lib")
		bundle_is_glibc "$name" || [ -f "$bundle/lib/$name" ] || cp -L "$lib" "$bundle/lib/$name"
	done
fi
# The loader under the name the fallback calls it by.
[ -f "$bundle/glibc/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$bundle/glibc/"
strip --strip-unneeded "$bundle"/lib/*.so* 2>/dev/null || true

bundle_info "$bundle" "${exes[@]}"

# ---- 3. the runner ----------------------------------------------------------

cat >"$bundle/run-on-device.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the valuetask benchmarks from this bundle alone (built by
# scripts/device-bench.sh). Rows go to $OUT/<executable>.txt (appended, one
# '# cmd:' line before each invocation) and to stdout; stderr to
# $OUT/<executable>.err.
#
# Settings (environment):
#   OUT          output folder (default ./device-out)
#   VTB_THREADS  bench_pool thread counts (default 1,2,4,8,16,32,64)
#   VTB_RUNS     timed runs per row, VTB_RUN_MS their length in ms, VTB_WARMUP
#                warm-up runs (defaults: the executables' own, 7 x 100 ms, 1)
#   VTB_DEPTHS   bench_pool depths (default 1; e.g. "1 32": the first runs
#                before the other executables, the others after them)
#   VTB_STEP_TIMEOUT  seconds one invocation may take (default 300)
#   VTB_DEADLINE seconds after which the remaining steps are skipped and the
#                running one is stopped (default 0: none); rows are flushed
#                one by one, so a stopped invocation keeps the rows it printed
#   VTB_TAR      1: at the end, pack the files into $OUT/results.tar.gz
#   VTB_GLIBC    auto (default: the system's if it can run the executables,
#                else the bundled one), system, or bundled
set -uo pipefail

B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$PWD/device-out}
THREADS=${VTB_THREADS:-1,2,4,8,16,32,64}
DEPTHS=${VTB_DEPTHS:-1}
STEP_TIMEOUT=${VTB_STEP_TIMEOUT:-300}
DEADLINE=${VTB_DEADLINE:-0}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$B/lib"
unset LD_PRELOAD VTB_QUICK

common=()
[ -n "${VTB_RUNS:-}" ] && common+=(--runs "$VTB_RUNS")
[ -n "${VTB_RUN_MS:-}" ] && common+=(--ms "$VTB_RUN_MS")
[ -n "${VTB_WARMUP:-}" ] && common+=(--warmup "$VTB_WARMUP")
unset VTB_RUNS VTB_RUN_MS

loader=()
mode=${VTB_GLIBC:-auto}
if [ "$mode" = auto ]; then
	if "$B/bench_sync" --help >/dev/null 2>&1; then
		mode=system
	else
		echo "# the system's glibc cannot run the executables:" >&2
		"$B/bench_sync" --help 2>&1 | head -3 >&2
		mode=bundled
	fi
fi
if [ "$mode" = bundled ]; then
	loader=("$B/glibc/ld-linux-x86-64.so.2" --library-path "$B/lib:$B/glibc")
	unset LD_LIBRARY_PATH
fi

{
	printf '# run-on-device %s host=%s nproc=%s glibc=%s load="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$(uname -n)" "$(nproc)" "$mode" "$(cut -d' ' -f1-3 /proc/loadavg)"
	sed 's/^/# bundle: /' "$B/BUILD-INFO"
	printf '# cpu: %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
} | tee "$OUT/info.txt"

T0=$SECONDS
status=0
run() { # executable args...
	local exe=$1 t0=$SECONDS rc
	shift
	[ -x "$B/$exe" ] || { echo "# $exe: not in the bundle" | tee -a "$OUT/info.txt"; return 0; }
	if [ "$DEADLINE" -gt 0 ] && [ $((SECONDS - T0)) -ge "$DEADLINE" ]; then
		echo "# skipped (deadline ${DEADLINE}s): $exe $*" | tee -a "$OUT/info.txt"
		return 0
	fi
	local limit=$STEP_TIMEOUT
	if [ "$DEADLINE" -gt 0 ] && [ $((DEADLINE - (SECONDS - T0))) -lt "$limit" ]; then
		limit=$((DEADLINE - (SECONDS - T0)))
	fi
	echo "# cmd: $exe ${common[*]} $* (time limit ${limit} s)" | tee -a "$OUT/$exe.txt"
	local cmd=()
	if [ ${#loader[@]} -gt 0 ]; then
		cmd=("${loader[@]}")
		[ "${PRELOAD:-0}" = 1 ] && [ -n "$pool_preload" ] && cmd+=(--preload "$pool_preload")
	elif [ "${PRELOAD:-0}" = 1 ] && [ -n "$pool_preload" ]; then
		cmd=(env "LD_PRELOAD=$pool_preload")
	fi
	timeout -k 5 "$limit" "${cmd[@]}" "$B/$exe" "${common[@]}" "$@" 2>>"$OUT/$exe.err" |
		tee -a "$OUT/$exe.txt"
	rc=${PIPESTATUS[0]}
	echo "# $exe $*: rc=$rc $((SECONDS - t0)) s load=$(cut -d' ' -f1 /proc/loadavg)" |
		tee -a "$OUT/$exe.txt"
	if [ "$rc" -ne 0 ]; then
		status=1
		tail -5 "$OUT/$exe.err" >&2
	fi
}

# bench_pool's dpdk comparator needs DPDK's ring mempool driver, which the
# EAL would otherwise look for in the system's DPDK plugin folder.
pool_preload=
[ -f "$B/pmds/librte_mempool_ring.so" ] && pool_preload=$B/pmds/librte_mempool_ring.so

pool() { # depth
	PRELOAD=1 run bench_pool --threads "$THREADS" --depth "$1"
	run bench_pool_packed --threads "$THREADS" --depth "$1"
	for a in jemalloc tcmalloc mimalloc; do
		run "bench_pool_$a" --threads "$THREADS" --depth "$1" --impl valuetask,malloc
	done
}

# The first depth, then the other questions, then the other depths (the
# oversubscribed deep runs are the slowest: ckring can stall for seconds).
set -- $DEPTHS
pool "$1"
shift
for q in handoff xthread async sync; do
	for s in "" _jemalloc _tcmalloc _mimalloc; do
		run "bench_$q$s"
	done
done
for d in "$@"; do
	pool "$d"
done
echo "# total $((SECONDS - T0)) s, status $status" | tee -a "$OUT/info.txt"
# A remote runner may bring back only a few files: VTB_TAR=1 packs them into one.
if [ "${VTB_TAR:-0}" = 1 ]; then
	(cd "$OUT" && tar czf results.tar.gz --remove-files info.txt bench_*.txt bench_*.err)
fi
exit $status
EOF
chmod +x "$bundle/run-on-device.sh"

# ---- 4. size ----------------------------------------------------------------

size_kib=$(du -sk "$bundle" | cut -f1)
du -sh "$bundle" "$bundle/lib" "$bundle/glibc" >&2
if [ "$size_kib" -ge $((limit_mib * 1024)) ]; then
	log "bundle is ${size_kib} KiB, over ${limit_mib} MiB"
	exit 1
fi
log "bundle: $bundle (${size_kib} KiB, ${#exes[@]} executables); needs $(grep '^needs' "$bundle/BUILD-INFO" | cut -d' ' -f2)"
