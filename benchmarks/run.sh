#!/usr/bin/env bash
# valuetask: build and run the benchmark comparison (issue 3, SPEC §5).
#
#   benchmarks/run.sh            # full run, a few minutes on 2 cores
#   VTB_QUICK=1 benchmarks/run.sh   # shorter runs (5 x 40 ms), for a smoke test
#
# 1. installs what is missing (root, or password-less sudo; Debian packages):
#    the build tools, libck-dev, and the optional comparators and plotter:
#    libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev libdpdk-dev
#    gnuplot-nox. VTB_NO_INSTALL=1 skips this step.
# 2. builds a release tree in build-bench/ (VTB_BUILD_DIR) with the tests off;
# 3. runs every benchmark executable; a comparator that is not installed is
#    skipped with a note;
# 4. writes bench-results/ (VTB_OUT_DIR): results.txt (raw rows),
#    results.csv, results.png (gnuplot), table.txt;
# 5. prints the table: valuetask's ratio against each comparator, with the
#    SPEC §5 target and PASS/MISS.
# Exits non-zero when the build or a benchmark fails; a MISS is reported, not
# an error (VTB_STRICT=1 makes it one).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${VTB_BUILD_DIR:-$root/build-bench}
out=${VTB_OUT_DIR:-$root/bench-results}

log() { printf '== %s\n' "$*" >&2; }

# ---- 1. packages ------------------------------------------------------------

required_pkgs=(gcc meson ninja-build pkg-config libck-dev)
optional_pkgs=(gnuplot-nox libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev libdpdk-dev)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_missing() {
	local missing=() sudo=() p
	command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: not installing anything"; return 0; }
	for p in "${required_pkgs[@]}" "${optional_pkgs[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			log "missing packages (${missing[*]}), and not root: skipping the install"
			return 0
		fi
	fi
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq || log "apt-get update failed"
	if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		# One unavailable package must not block the others.
		log "bulk install failed; trying one package at a time"
		for p in "${missing[@]}"; do
			"${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
				log "could not install $p: what needs it is skipped"
		done
	fi
}

if [ "${VTB_NO_INSTALL:-0}" = 1 ]; then
	log "VTB_NO_INSTALL=1: not installing anything"
else
	install_missing
fi

# ---- 2. build ---------------------------------------------------------------

cd "$root"
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" -Dbuildtype=release -Dtests=false -Dbenchmarks=true >/dev/null
else
	meson setup "$build" -Dbuildtype=release -Dtests=false -Dbenchmarks=true >/dev/null
fi
grep -h 'benchmarks: .* not found' "$build/meson-logs/meson-log.txt" 2>/dev/null | sed 's/^Message: /== /' >&2 || true
log "building in $build"
meson compile -C "$build" >/dev/null
if [ ! -x "$build/benchmarks/bench_sync" ]; then
	log "no benchmark executables in $build/benchmarks: the top-level meson.build must"
	log "include subdir('benchmarks') (under get_option('benchmarks'))"
	exit 1
fi

# ---- 3. run -----------------------------------------------------------------

mkdir -p "$out"
raw=$out/results.txt
: >"$raw"
: >"$out/stderr.log"
bin=$build/benchmarks
allocs=(glibc jemalloc tcmalloc mimalloc)
quick=()
[ "${VTB_QUICK:-0}" != 0 ] && quick=(--quick)

{
	printf '# run.sh %s host=%s cores=%s load="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$(uname -n)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '# commit=%s\n' "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >>"$raw"

run() { # executable args...
	local exe=$1
	shift
	[ -x "$bin/$exe" ] || return 0
	local t0=$SECONDS
	log "$exe $*"
	if ! "$bin/$exe" "${quick[@]}" "$@" >>"$raw" 2>>"$out/stderr.log"; then
		log "$exe failed; see $out/stderr.log"
		tail -5 "$out/stderr.log" >&2
		return 1
	fi
	printf '# %s %s: %d s, load %s\n' "$exe" "$*" $((SECONDS - t0)) "$(cut -d' ' -f1 /proc/loadavg)" >>"$raw"
}

suffix() { [ "$1" = glibc ] && echo "" || echo "_$1"; }

status=0
for q in sync async xthread; do
	for a in "${allocs[@]}"; do
		run "bench_$q$(suffix "$a")" || status=1
	done
done
# For information: the one-thread questions in a process that never had a
# second thread, where glibc's mutex skips its atomics (rows <bench>_st).
run bench_sync --single-threaded-process || status=1
run bench_async --single-threaded-process || status=1
for depth in 1 32; do
	run bench_pool --depth "$depth" || status=1
	# The same pool without its cache-line padding, right after it (rows
	# valuetask-packed; docs/pool.md, "Cache lines, measured").
	run bench_pool_packed --depth "$depth" || status=1
	for a in jemalloc tcmalloc mimalloc; do
		run "bench_pool$(suffix "$a")" --depth "$depth" --impl valuetask,malloc || status=1
	done
done
# One thread rents, the other returns, at pool capacities 16 and 1024.
run bench_handoff || status=1
for a in jemalloc tcmalloc mimalloc; do
	run "bench_handoff$(suffix "$a")" --impl valuetask,malloc || status=1
done

# ---- 4. files ---------------------------------------------------------------

awk -f "$here/csv.awk" "$raw" >"$out/results.csv"
rm -f "$out"/*.dat
awk -v dir="$out" -f "$here/plot_data.awk" "$raw"
if command -v gnuplot >/dev/null 2>&1; then
	if gnuplot -e "dir='$out'" "$here/plot.gp" 2>>"$out/stderr.log"; then
		log "plot: $out/results.png"
	else
		log "gnuplot failed; see $out/stderr.log"
	fi
else
	log "gnuplot not installed (gnuplot-nox): no plot"
fi

# ---- 5. table ---------------------------------------------------------------

awk -f "$here/table.awk" "$raw" | tee "$out/table.txt"
grep '^# skipped' "$raw" | sort -u || true
log "rows: $raw; CSV: $out/results.csv; table: $out/table.txt"

if [ "${VTB_STRICT:-0}" = 1 ] && grep -q ' MISS$' "$out/table.txt"; then
	status=1
fi
exit $status
