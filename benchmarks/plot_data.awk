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
		# The rows come by thread count (every implementation at 1 thread,
		# then at 2 ...): gather each implementation's points here and write
		# its block whole at the end, so that a block holds one
		# implementation only.
		if (!(d in nimpl)) { nimpl[d] = 0; depths = depths " " d }
		if (!((d, im) in slot)) slot[d, im] = ++nimpl[d]
		j = slot[d, im]
		bname[d, j] = im
		pts[d, j] = pts[d, j] sprintf("%s %.3f\n", f["threads"], 1e3 / f["ns_op_median"])
	}
}
END {
	nd = split(depths, dl, " ")
	for (m = 1; m <= nd; m++) {
		d = dl[m]
		file = dir "/pool_d" d ".dat"
		for (j = 1; j <= nimpl[d]; j++)
			printf "%s\"%s\"\n%s", (j > 1 ? "\n\n" : ""), bname[d, j], pts[d, j] > file
	}
	print depths > (dir "/pool_depths.txt")
}
