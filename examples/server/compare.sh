#!/usr/bin/env bash
# compare.sh: vt-server (valuetask), vt-server (baseline Task) and a real
# redis-server, side by side under redis-benchmark, over loopback only.
#
# Usage: examples/server/compare.sh            (from the repository root)
# Environment (defaults in brackets):
#   BUILD [build]  N [1000000] requests per test   CLIENTS [50]  PIPELINE [16]
#   KEYSPACE [100000]  HIT [90] percent of GETs answered by the cache
#   LATENCY_US [100] store latency   LOOPS [1] server loop threads
#   ROUNDS [3] (medians are reported)   OUT [examples/server/results.md]
#   STORE_THREADS [1]  PIN [1]: with 2+ CPUs, servers run on CPU 0 and
#   redis-benchmark on CPU 1 (taskset), which makes runs on a small VM
#   comparable; PIN=0 lets the scheduler place them.
#
# Hit ratio: the cache is prepopulated with keys key:000000000000 ..
# key:(KEYSPACE*HIT/100 - 1) and admits nothing else; redis-benchmark picks
# keys uniformly in [0, KEYSPACE) (-r), so a GET hits with probability
# HIT/100, and a SET of a key outside the cache is written around it to the
# store (an asynchronous operation, like a GET miss). The ratio reported is
# measured: the delta of the server's hits / gets over the measured phase.
#
# Allocations per request: the server counts every malloc/calloc/realloc/
# aligned allocation in the process (a counting shim linked into it) and
# reports the total through STATS; the figure is the delta over the measured
# phase (after a warm-up pass) divided by the requests served in it.
# RSS: VmHWM and VmRSS from /proc/PID/status after the measured phase.
#
# Bounded: every benchmark has -n, every server is stopped at the end (and on
# exit, whatever happens). Nothing listens beyond 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
N=${N:-1000000}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-16}
KEYSPACE=${KEYSPACE:-100000}
HIT=${HIT:-90}
LATENCY_US=${LATENCY_US:-100}
LOOPS=${LOOPS:-1}
ROUNDS=${ROUNDS:-3}
STORE_THREADS=${STORE_THREADS:-1}
PIN=${PIN:-1}
OUT=${OUT:-examples/server/results.md}
CACHED=$((KEYSPACE * HIT / 100))

# ---- tools -----------------------------------------------------------------
need=()
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v redis-server >/dev/null || need+=(redis-server)
if ((${#need[@]})); then
	if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
		echo "compare: need ${need[*]} and cannot install them (not root, no sudo)" >&2
		exit 1
	fi
	echo "compare: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ ! -x $BUILD/examples/server/vt-server ]]; then
	[[ -d $BUILD ]] || meson setup "$BUILD" -Dtests=false -Dbenchmarks=false >/dev/null
	ninja -C "$BUILD" examples/server/vt-server >/dev/null
fi
SERVER=$BUILD/examples/server/vt-server
SRV_PIN=()
CLI_PIN=()
if [[ $PIN == 1 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
	SRV_PIN=(taskset -c 0)
	CLI_PIN=(taskset -c 1)
fi

# ---- servers ----------------------------------------------------------------
TMP=$(mktemp -d)
PID=
cleanup() {
	[[ -n $PID ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

start_vt() { # mode
	"${SRV_PIN[@]}" "$SERVER" --mode="$1" --port=0 --loops="$LOOPS" --store-threads="$STORE_THREADS" \
		--store-latency-us="$LATENCY_US" --prepopulate="$CACHED" --store-keys="$KEYSPACE" \
		>"$TMP/server.out" 2>"$TMP/server.err" &
	PID=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$TMP/server.out" 2>/dev/null && break
		sleep 0.05
	done
	PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/server.out")
}

start_redis() {
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"${SRV_PIN[@]}" redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --daemonize no \
		--logfile "$TMP/redis.log" --dir "$TMP" >/dev/null 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
		sleep 0.05
	done
}

stop_server() {
	kill -TERM "$PID"
	wait "$PID" || echo "compare: server exited with status $?" >&2
	PID=
}

stats() { redis-cli -h 127.0.0.1 -p "$PORT" STATS | tr -d '\r'; }

bench() { # extra args...
	"${CLI_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$PORT" -c "$CLIENTS" -P "$PIPELINE" -r "$KEYSPACE" "$@"
}

# One measured run: prints "name test rps p50 p99 allocs_per_req hit_pct hwm_kb rss_kb"
run_one() { # name kind
	local name=$1 kind=$2
	if [[ $kind == redis ]]; then start_redis; else start_vt "$kind"; fi
	# Warm-up: every key the run will touch gets written once (cache
	# entries, store entries, connection objects exist from here on).
	bench -t set,get -n "$((KEYSPACE * 3))" -q >/dev/null 2>&1
	[[ $kind == redis ]] || stats >"$TMP/s0"
	cut -d' ' -f14,15 "/proc/$PID/stat" >"$TMP/cpu0"
	bench -t set,get -n "$N" --csv >"$TMP/csv" 2>/dev/null
	cut -d' ' -f14,15 "/proc/$PID/stat" >"$TMP/cpu1"
	[[ $kind == redis ]] || stats >"$TMP/s1"
	grep -E '^(VmHWM|VmRSS)' "/proc/$PID/status" >"$TMP/mem"
	if [[ $kind == redis ]]; then : >"$TMP/s0"; : >"$TMP/s1"; fi
	python3 - "$name" "$TMP" "$N" "$(getconf CLK_TCK)" <<'EOF'
import csv, sys
name, tmp, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c0 = [int(x) for x in open(tmp + "/cpu0").read().split()]
c1 = [int(x) for x in open(tmp + "/cpu1").read().split()]
cpu_us = "%.2f" % ((sum(c1) - sum(c0)) * 1e6 / hz / (2 * n))  # SET and GET: 2n requests
def kv(path):
    d = {}
    for ln in open(path):
        if ":" in ln and not ln.startswith("#"):
            k, v = ln.strip().split(":", 1)
            d[k] = v
    return d
s0, s1 = kv(tmp + "/s0"), kv(tmp + "/s1")
mem = {l.split(":")[0]: l.split()[1] for l in open(tmp + "/mem")}
def delta(k):
    return int(s1[k]) - int(s0[k])
if s1:
    reqs = delta("cmds") - 1  # less the STATS call itself
    allocs = "%.4f" % (delta("mallocs") / reqs)
    hit = "%.1f" % (100.0 * delta("hits") / max(1, delta("gets")))
else:
    allocs, hit = "n/a", "100.0"
for row in csv.reader(open(tmp + "/csv")):
    if row[0] in ("SET", "GET"):
        print(name, row[0], row[1], row[4], row[6], allocs, hit, mem["VmHWM"], mem["VmRSS"], cpu_us)
EOF
	stop_server
}

echo "compare: N=$N -c $CLIENTS -P $PIPELINE -r $KEYSPACE, cache holds $CACHED keys (GET hit ratio $HIT%)," \
	"store latency ${LATENCY_US}us, $LOOPS loop thread(s), $STORE_THREADS store thread(s), pinned: ${SRV_PIN[*]:-no}, $ROUNDS rounds" >&2
: >"$TMP/rows"
for r in $(seq "$ROUNDS"); do
	for spec in valuetask:valuetask baseline:baseline baseline-async:baseline-async redis-server:redis; do
		echo "compare: round $r: ${spec%%:*}" >&2
		run_one "${spec%%:*}" "${spec##*:}" >>"$TMP/rows"
	done
done

PINNED=$([[ ${#SRV_PIN[@]} -gt 0 ]] && echo "server on CPU 0, client on CPU 1" || echo "not pinned")
python3 - "$TMP/rows" "$OUT" "$N" "$CLIENTS" "$PIPELINE" "$KEYSPACE" "$HIT" "$LATENCY_US" "$LOOPS" "$ROUNDS" "$STORE_THREADS" "$PINNED" <<'EOF'
import statistics, sys, platform, subprocess
rows_path, out, n, c, p, ks, hit, lat, loops, rounds, sthreads, pinned = sys.argv[1:]
rows = {}
for ln in open(rows_path):
    f = ln.split()
    rows.setdefault((f[0], f[1]), []).append(f[2:])
order = ["valuetask", "baseline", "baseline-async", "redis-server"]
def med(vals):
    try:
        return statistics.median(float(v) for v in vals)
    except ValueError:
        return None
lines = []
lines.append("redis-benchmark -t set,get -n %s -c %s -P %s -r %s; cache hit ratio %s%% (GET), "
             "store latency %s us, %s loop thread(s), %s store thread(s), %s; median of %s rounds; %s"
             % (n, c, p, ks, hit, lat, loops, sthreads, pinned, rounds,
                subprocess.run(["redis-benchmark", "--version"], capture_output=True, text=True).stdout.strip()))
lines.append("")
lines.append("| server | test | requests/s | p50 ms | p99 ms | allocs/request | server CPU us/request | measured GET hit % | VmHWM MiB | VmRSS MiB |")
lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
rps = {}
for name in order:
    for test in ("SET", "GET"):
        r = rows.get((name, test))
        if not r:
            continue
        col = list(zip(*r))
        q = med(col[0]); rps[(name, test)] = q
        a = med(col[3])
        lines.append("| %s | %s | %.0f | %.3f | %.3f | %s | %.2f | %.1f | %.1f | %.1f |" % (
            name, test, q, med(col[1]), med(col[2]),
            "n/a" if a is None else "%.4f" % a, med(col[7]), med(col[4]),
            med(col[5]) / 1024, med(col[6]) / 1024))
lines.append("")
for test in ("SET", "GET"):
    if (("valuetask", test) in rps) and (("baseline", test) in rps):
        lines.append("%s: valuetask / baseline throughput = %.2fx; valuetask / baseline-async = %.2fx"
                     % (test, rps[("valuetask", test)] / rps[("baseline", test)],
                        rps[("valuetask", test)] / rps[("baseline-async", test)]))
lines.append("allocs/request and server CPU us/request are taken over the whole measured phase "
             "(SET then GET), so both rows of a server show the same figure. "
             "Per-round rows: %s" % out.replace(".md", ".rows"))
text = "\n".join(lines) + "\n"
import shutil
shutil.copy(rows_path, out.replace(".md", ".rows"))
open(out, "w").write(text)
print(text)
EOF
