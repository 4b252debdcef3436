# valuetask benchmarks: rows -> gnuplot data files in directory `dir`
# (awk -v dir=...). POSIX awk.
#   bars_serial.dat   "label" ns/op is_valuetask    sync and async, every allocator
#   bars_xthread.dat  "label" Mops/s is_valuetask   cross-thread
#   pool_d<D>.dat     one block per implementation: header, then
#                     "threads Mops/s" lines (throughput vs thread count)
/^#/ || !/^bench=/ { next }
{
	delete f
	for (n = 1; n <= NF; n++) {
		eq = index($n, "=")
		if (eq) f[substr($n, 1, eq - 1)] = substr($n, eq + 1)
	}
	if (!("ns_op_median" in f)) next
	b = f["bench"]; im = f["impl"]; a = f["alloc"]
	# valuetask appears in every allocator's executable: label it once per
	# allocator so that each bar sits beside its own baseline.
	lab = (im ~ /^valuetask/ && a != "glibc") ? im "(" a ")" : im
	if (b ~ /_st$/) next  # single-threaded-process rows: in the table only
	if (b == "sync" || b == "async") {
		printf "\"%s %s\" %s %d\n", b, lab, f["ns_op_median"], im ~ /^valuetask/ > (dir "/bars_serial.dat")
	} else if (b ~ /^xthread/) {
		sub(/^xthread_/, "", b)
		printf "\"%s %s\" %.3f %d\n", b, lab, 1e3 / f["ns_op_median"], im ~ /^valuetask/ > (dir "/bars_xthread.dat")
	} else if (b == "pool") {
		d = f["depth"]
		if (im == "valuetask" && a != "glibc") next  # the glibc executable's row stands for it
		file = dir "/pool_d" d ".dat"
		if (!(file in files)) { files[file] = 1; depths = depths " " d }
		if (!((im, d) in started)) {
			if ((d in nblocks) && nblocks[d] > 0) printf "\n\n" > file
			nblocks[d]++
			started[im, d] = 1
			printf "\"%s\"\n", im > file
		}
		printf "%s %.3f\n", f["threads"], 1e3 / f["ns_op_median"] > file
	}
}
END { print depths > (dir "/pool_depths.txt") }
