# valuetask benchmarks: rows (key=value lines) -> CSV.
# Known columns first, in a fixed order; any other key=value pairs go,
# space separated, into the last column ("more"). Comment lines (#) are
# skipped. POSIX awk (mawk is enough).
BEGIN {
	ncols = split("bench impl alloc threads depth window runs ns_op_median ns_op_min ops_s allocs_op allocs p50_ns p99_ns p999_ns max_ns samples ret_p50_ns ret_p99_ns ret_p999_ns ret_max_ns bytes_op", cols, " ")
	for (i = 1; i <= ncols; i++) known[cols[i]] = 1
	line = ""
	for (i = 1; i <= ncols; i++) line = line cols[i] ","
	print line "more"
}
/^#/ || !/^bench=/ { next }
{
	for (k in val) delete val[k]
	more = ""
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		if (eq == 0) continue
		k = substr($i, 1, eq - 1)
		v = substr($i, eq + 1)
		if (k in known) val[k] = v
		else more = more (more == "" ? "" : " ") $i
	}
	line = ""
	for (i = 1; i <= ncols; i++) line = line ((cols[i] in val) ? val[cols[i]] : "") ","
	gsub(/"/, "", more)
	print line "\"" more "\""
}
