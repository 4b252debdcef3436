/*
 * malloc_count: counts every allocation call made in this process.
 *
 * malloc_count.c defines malloc, calloc, realloc, free, aligned_alloc,
 * posix_memalign and memalign in the executable, which interposes them for
 * the whole process (libc and the valuetask library included), counts the
 * call and forwards to glibc's __libc_* entry points. Each thread counts in
 * its own cache line (no shared read-modify-write on the allocation path);
 * a reader sums the lines.
 */
#ifndef VT_EXAMPLE_MALLOC_COUNT_H
#define VT_EXAMPLE_MALLOC_COUNT_H

#include <stdint.h>

/* Allocation calls (malloc, calloc, realloc, aligned) and frees (non-NULL). */
void malloc_count_read(uint64_t *allocs, uint64_t *frees);

#endif
