/*
 * Pool poisoning (never installed).
 *
 * An object on a free list is poisoned, so that a use after return is
 * reported at the faulting line: under AddressSanitizer with
 * ASAN_POISON_MEMORY_REGION, under valgrind's memcheck (builds configured
 * with -Dpool_valgrind=true) with VALGRIND_MAKE_MEM_NOACCESS. Renting
 * unpoisons it. Everything here compiles away in a normal build.
 *
 * Pool memory is type-stable, and some objects are built to be read after
 * return: a stale vt_task reads its promise's ops and version to answer
 * VT_ETOKEN. vt_pool_config.keep_readable says how many bytes at the start
 * of each object stay readable; only [keep_readable, object_size) is
 * poisoned. The padding between objects (stride - object_size) stays
 * poisoned for the pool's lifetime, so an overrun is caught while rented too.
 *
 * Order: poison before the enqueue that publishes a returned object, and
 * unpoison after the dequeue that takes it, so that the ring's own ordering
 * keeps a renter's unpoison after the returner's poison.
 */
#ifndef VT_POISON_H
#define VT_POISON_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VT__ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VT__ASAN 1
#endif

#ifdef VT__ASAN
#include <sanitizer/asan_interface.h>
#endif
#if defined(VT_POOL_VALGRIND) && VT_POOL_VALGRIND
#include <valgrind/memcheck.h>
#define VT__VALGRIND 1
#endif

#if defined(VT__ASAN) || defined(VT__VALGRIND)
#define VT__POISON 1
#endif

/* [ptr, ptr + n) may not be touched until vt__unpoison. */
static inline void vt__poison(void *ptr, size_t n)
{
	(void)ptr;
	(void)n;
#ifdef VT__ASAN
	ASAN_POISON_MEMORY_REGION(ptr, n);
#endif
#ifdef VT__VALGRIND
	(void)VALGRIND_MAKE_MEM_NOACCESS(ptr, n);
#endif
}

/* [ptr, ptr + n) is usable again. Under valgrind the bytes count as defined:
 * they hold what the object held when it was returned (type-stable). */
static inline void vt__unpoison(void *ptr, size_t n)
{
	(void)ptr;
	(void)n;
#ifdef VT__ASAN
	ASAN_UNPOISON_MEMORY_REGION(ptr, n);
#endif
#ifdef VT__VALGRIND
	(void)VALGRIND_MAKE_MEM_DEFINED(ptr, n);
#endif
}

/* Memory handed back to an allocator: usable by whoever gets it next. */
static inline void vt__unpoison_for_free(void *ptr, size_t n)
{
	(void)ptr;
	(void)n;
#ifdef VT__ASAN
	ASAN_UNPOISON_MEMORY_REGION(ptr, n);
#endif
#ifdef VT__VALGRIND
	(void)VALGRIND_MAKE_MEM_UNDEFINED(ptr, n);
#endif
}

#endif /* VT_POISON_H */
