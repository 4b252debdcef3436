#!/usr/bin/env bash
# What the pooled cycle's read-modify-writes cost, measured (README,
# "Benchmarks": why the 3x row misses).
#
#   benchmarks/rmw_cost.sh            # 5 rounds, each one run of bench_async per build
#
# Builds bench_async twice in a temporary copy of the tree: as it is, and
# with vt__cas_acquire / vt__cas_acq_rel (the core's A1, C1 and R1) turned
# into a plain load, compare and store. The second build is wrong under any
# concurrency and exists only here, in /tmp, for this measurement; the
# benchmark runs on one thread, where it still computes the right results
# (bench_async checks them). Then prints, per round, both builds' cycle
# against the Task baseline of the same process, and a dependent chain of
# lock cmpxchg alone.
#
# The difference between the two builds is what the three locked
# instructions cost in context; what is left is everything else the cycle
# does. Both run with address-space randomisation off (setarch -R, when it
# is there): the plain build is sensitive to where the stack and the heap
# land (about one run in six took twice as long with it on, presumably 4K
# aliasing between its stores and loads, which the locked build's store
# drains hide). RMW_COST_KEEP=1 keeps the builds in /tmp. Needs the build
# tools and libck-dev (scripts/deps.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-5}
tmp=$(mktemp -d /tmp/vt-rmw-cost.XXXXXX)
[ -n "${RMW_COST_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT

build() { # $1: source tree, $2: build dir
	meson setup "$2" "$1" -Dbuildtype=release -Dtests=false -Dbenchmarks=true >/dev/null
	meson compile -C "$2" benchmarks/bench_async >/dev/null
}

mkdir -p "$tmp/plain"
tar -C "$root" --exclude='./build*' --exclude=./bench-results --exclude=./.git -cf - . | tar -C "$tmp/plain" -xf -
python3 - "$tmp/plain/include/valuetask/common.h" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
plain = ('static inline bool vt__plain_cas(uint64_t *p, uint64_t *e, uint64_t d)\n'
         '{ uint64_t v = *p; if (v != *e) { *e = v; return false; } *p = d; return true; }\n')
s, n = re.subn(r'#define vt__cas_acq_rel\(p, e, d\) \\\n[^\n]*\n#define vt__cas_acquire\(p, e, d\) \\\n[^\n]*\n',
               '#define vt__cas_acq_rel(p, e, d) vt__plain_cas((uint64_t *)(p), (uint64_t *)(e), (uint64_t)(d))\n'
               '#define vt__cas_acquire(p, e, d) vt__plain_cas((uint64_t *)(p), (uint64_t *)(e), (uint64_t)(d))\n'
               + plain, s)
if n != 1:
    sys.exit('rmw_cost.sh: the CAS macros in common.h changed; update this script')
open(p, 'w').write(s)
EOF
echo "== building (as is: $tmp/real, plain CAS: $tmp/plain-build)" >&2
build "$root" "$tmp/real"
build "$tmp/plain" "$tmp/plain-build"

cat >"$tmp/chain.c" <<'EOF'
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
static _Atomic uint64_t x;
int main(void)
{
	enum { N = 50000000 };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < N; i++) {
		uint64_t e = atomic_load_explicit(&x, memory_order_relaxed);
		atomic_compare_exchange_strong_explicit(&x, &e, e + 1, memory_order_acq_rel,
							memory_order_acquire);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / N);
	return 0;
}
EOF
cc -O2 -o "$tmp/chain" "$tmp/chain.c"

norand=()
setarch "$(uname -m)" -R true 2>/dev/null && norand=(setarch "$(uname -m)" -R)

row() { # $1: executable -> "valuetask_ns task_ns"
	"${norand[@]}" "$1" --runs 5 | awk '/^bench=async /{for(i=1;i<=NF;i++){split($i,kv,"=");if(kv[1]=="impl")m=kv[2];if(kv[1]=="ns_op_median")v[m]=kv[2]}}
		END{printf "%s %s\n", v["valuetask"], v["task-glibc"]}'
}

printf '%-6s %-28s %-28s %-14s\n' round "cycle as is (ns, x Task)" "cycle, plain CAS (ns, x Task)" "lock cmpxchg chain (ns)"
for r in $(seq 1 "$rounds"); do
	read -r rv rt < <(row "$tmp/real/benchmarks/bench_async")
	read -r pv pt < <(row "$tmp/plain-build/benchmarks/bench_async")
	c=$("$tmp/chain")
	awk -v r="$r" -v rv="$rv" -v rt="$rt" -v pv="$pv" -v pt="$pt" -v c="$c" 'BEGIN {
		printf "%-6s %6.2f (%5.2fx of %6.2f)     %6.2f (%5.2fx of %6.2f)     %s\n", r, rv, rt / rv, rt, pv, pt / pv, pt, c }'
done
