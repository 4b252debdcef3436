/*
 * valuetask benchmarks: the pool statistics a row ends with.
 *
 * bench_pool, bench_handoff and bench_xthread describe the pool they used
 * the same way, so that a row's pool_* keys mean one thing everywhere
 * (benchmarks/README.md, "Reading a row").
 */
#ifndef VTB_POOL_ROW_H
#define VTB_POOL_ROW_H

#include <stdio.h>
#include <string.h>

#include <valuetask.h>

/* Append "pool_steals=.. pool_stack_steals=.. pool_empty_rents=.." to the
 * string in buf (after a space unless buf is empty). */
static inline void vtb_append_pool_stats(char *buf, size_t len, const vt_pool_stats *st)
{
	size_t l = strlen(buf);

	snprintf(buf + l, len - l, "%spool_steals=%llu pool_stack_steals=%llu pool_empty_rents=%llu",
		 l != 0 ? " " : "", (unsigned long long)st->steals, (unsigned long long)st->stack_steals,
		 (unsigned long long)st->empty_rents);
}

#endif /* VTB_POOL_ROW_H */
