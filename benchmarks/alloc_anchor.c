/*
 * valuetask benchmarks: keep the linked allocator in the executable.
 *
 * The allocator variants of each benchmark (bench_*_jemalloc, ...) link
 * jemalloc, tcmalloc or mimalloc, whose malloc then serves the whole process
 * (alloc_count.c forwards to it). The build links with --as-needed, which
 * drops a library nothing refers to; this file refers to one symbol of the
 * allocator named by VTB_ALLOC_* so that it stays. vtb_alloc_expected()
 * names it, and vtb_header() checks it against what dladdr() finds.
 */
#include <stddef.h>

#include "bench.h"

#if defined(VTB_ALLOC_JEMALLOC)
#include <jemalloc/jemalloc.h>
static const char expected[] = "jemalloc";
#define ANCHOR ((void (*)(void))mallctl)
#elif defined(VTB_ALLOC_TCMALLOC)
#include <gperftools/tcmalloc.h>
static const char expected[] = "tcmalloc";
#define ANCHOR ((void (*)(void))tc_version)
#elif defined(VTB_ALLOC_MIMALLOC)
#include <mimalloc.h>
static const char expected[] = "mimalloc";
#define ANCHOR ((void (*)(void))mi_version)
#else
static const char expected[] = "glibc";
#define ANCHOR ((void (*)(void))NULL)
#endif

/* volatile: the reference survives optimisation. */
void (*volatile vtb_alloc_anchor)(void);

const char *vtb_alloc_expected(void)
{
	vtb_alloc_anchor = ANCHOR;
	return expected;
}
