/*
 * malloc_count: counts every allocation call made in this process.
 *
 * malloc_count.c defines malloc, calloc, realloc, free, aligned_alloc,
 * posix_memalign and memalign in the executable, which interposes them for
 * the whole process (libc and the valuetask library included), counts the
 * call and forwards to glibc's __libc_* entry points. Each thread counts in
 * its own cache line (no shared read-modify-write on the allocation path);
 * a reader sums the lines.
 *
 * Under ASan or TSan, whose runtimes own malloc, nothing is interposed: the
 * same counters are bumped from the runtime's malloc and free hooks
 * (__sanitizer_install_malloc_and_free_hooks), installed by a constructor.
 * Allocation calls count the same; a realloc also counts the free of the
 * old block (the runtimes realloc by allocate, copy, free), and
 * allocations made before the constructor ran are not counted.
 */
#ifndef VT_EXAMPLE_MALLOC_COUNT_H
#define VT_EXAMPLE_MALLOC_COUNT_H

#include <stdint.h>

/* Allocation calls (malloc, calloc, realloc, aligned) and frees (non-NULL). */
void malloc_count_read(uint64_t *allocs, uint64_t *frees);

/* How this build counts: "interposer", "sanitizer-hooks", or "none" (the
 * sanitizer refused the hooks; the counters stay 0). */
const char *malloc_count_method(void);

#endif
