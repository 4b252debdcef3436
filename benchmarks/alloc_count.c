/*
 * valuetask benchmarks: count every allocation, by interposition.
 *
 * This file defines malloc, calloc, realloc, reallocarray, free,
 * aligned_alloc, posix_memalign, memalign, valloc and pvalloc in the
 * benchmark executable.
 * The executable comes first in the dynamic linker's search order, so these
 * definitions serve every caller in the process: the benchmark, the library,
 * libc itself (stdio, pthread) and the allocators' own callers. Each bumps a
 * thread-local counter (one add to %fs-relative memory, no atomic) and
 * forwards to the next definition, found with dlsym(RTLD_NEXT): glibc's, or
 * jemalloc's, tcmalloc's or mimalloc's when the executable links one of them
 * (they all export malloc and friends, and come before libc).
 *
 * The cost this adds to every malloc and free is a direct call, the counter
 * add and an indirect jump: about half a nanosecond per malloc+free pair,
 * measured (README.md). It falls on the malloc-based comparators only
 * (valuetask allocates nothing in steady state), so it tilts the comparison
 * slightly in valuetask's favour.
 *
 * dlsym() may itself allocate (glibc's dlerror buffer); while we resolve, we
 * serve requests from a small static arena, which free() recognises.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* initial-exec: a fixed %fs offset even when this file is compiled as PIC. */
#define VTB_TLS __thread __attribute__((tls_model("initial-exec")))
static VTB_TLS uint64_t t_allocs;
static VTB_TLS uint64_t t_frees;

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

static _Alignas(64) unsigned char boot_arena[16384];
static size_t boot_used;
static int resolving;

static bool in_boot(const void *p)
{
	return (const unsigned char *)p >= boot_arena &&
	       (const unsigned char *)p < boot_arena + sizeof(boot_arena);
}

static void *boot_alloc(size_t n, size_t align)
{
	size_t off;

	if (align < 16)
		align = 16;
	off = (boot_used + align - 1) & ~(align - 1);
	if (off + n > sizeof(boot_arena))
		return NULL;
	boot_used = off + n;
	return boot_arena + off; /* zeroed: static storage, never reused */
}

/* dlsym returns an object pointer; copy it into the function pointer so
 * that ISO C's rule against converting between the two is not broken. */
#define RESOLVE(var, name)                                   \
	do {                                                 \
		void *sym_ = dlsym(RTLD_NEXT, name);         \
		memcpy(&(var), &sym_, sizeof(sym_));         \
	} while (0)

static void resolve(void)
{
	resolving = 1;
	RESOLVE(real_malloc, "malloc");
	RESOLVE(real_free, "free");
	RESOLVE(real_calloc, "calloc");
	RESOLVE(real_realloc, "realloc");
	RESOLVE(real_aligned_alloc, "aligned_alloc");
	RESOLVE(real_posix_memalign, "posix_memalign");
	RESOLVE(real_memalign, "memalign");
	RESOLVE(real_valloc, "valloc");
	RESOLVE(real_pvalloc, "pvalloc");
	resolving = 0;
}

__attribute__((constructor(101))) static void alloc_count_init(void)
{
	if (real_malloc == NULL)
		resolve();
}

#define ENSURE(fallback)                          \
	do {                                      \
		if (__builtin_expect(real_malloc == NULL, 0)) { \
			if (resolving)            \
				return fallback;  \
			resolve();                \
		}                                 \
	} while (0)

void *malloc(size_t n)
{
	ENSURE(boot_alloc(n, 16));
	t_allocs++;
	return real_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	ENSURE(boot_alloc(n * m, 16));
	t_allocs++;
	return real_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	ENSURE(boot_alloc(n, 16));
	if (in_boot(p)) {
		/* Rare: a block from the arena grows. Copy what the arena can hold. */
		void *q = malloc(n);
		size_t avail = (size_t)(boot_arena + sizeof(boot_arena) - (unsigned char *)p);

		if (q != NULL)
			memcpy(q, p, n < avail ? n : avail);
		return q;
	}
	t_allocs++;
	return real_realloc(p, n);
}

/* Through our realloc, counted once: mimalloc exports a reallocarray of its
 * own, which RTLD_NEXT would reach without a count (glibc's, jemalloc's and
 * tcmalloc's fall back on realloc). */
void *reallocarray(void *p, size_t n, size_t m)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, m, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

void free(void *p)
{
	if (p == NULL || in_boot(p))
		return;
	if (__builtin_expect(real_free == NULL, 0))
		resolve();
	t_frees++;
	real_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
	ENSURE(boot_alloc(n, align));
	t_allocs++;
	return real_aligned_alloc(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (__builtin_expect(real_malloc == NULL, 0)) {
		if (resolving) {
			*out = boot_alloc(n, align);
			return *out != NULL ? 0 : ENOMEM;
		}
		resolve();
	}
	t_allocs++;
	return real_posix_memalign(out, align, n);
}

void *memalign(size_t align, size_t n)
{
	ENSURE(boot_alloc(n, align));
	t_allocs++;
	return real_memalign(align, n);
}

void *valloc(size_t n)
{
	ENSURE(boot_alloc(n, 4096));
	t_allocs++;
	return real_valloc(n);
}

void *pvalloc(size_t n)
{
	ENSURE(boot_alloc(n, 4096));
	t_allocs++;
	return real_pvalloc(n);
}

uint64_t vtb_thread_allocs(void)
{
	return t_allocs;
}

uint64_t vtb_thread_frees(void)
{
	return t_frees;
}

const char *vtb_allocator_name(void)
{
	static char name[64];
	Dl_info info;
	void *fp;

	if (name[0] != '\0')
		return name;
	if (real_malloc == NULL)
		resolve();
	memcpy(&fp, &real_malloc, sizeof(fp));
	if (fp == NULL || dladdr(fp, &info) == 0 || info.dli_fname == NULL) {
		strcpy(name, "unknown");
	} else {
		const char *f = strrchr(info.dli_fname, '/');

		f = f != NULL ? f + 1 : info.dli_fname;
		if (strstr(f, "jemalloc") != NULL)
			strcpy(name, "jemalloc");
		else if (strstr(f, "tcmalloc") != NULL)
			strcpy(name, "tcmalloc");
		else if (strstr(f, "mimalloc") != NULL)
			strcpy(name, "mimalloc");
		else if (strncmp(f, "libc.so", 7) == 0 || strncmp(f, "libc-", 5) == 0)
			strcpy(name, "glibc");
		else {
			size_t i, j = 0;

			/* Keep the row parseable: no spaces or '=' in the name. */
			for (i = 0; f[i] != '\0' && j + 1 < sizeof(name); i++)
				if (f[i] != ' ' && f[i] != '=')
					name[j++] = f[i];
			name[j] = '\0';
		}
	}
	return name;
}

bool vtb_alloc_selftest(void)
{
	/* Through a volatile pointer: the compiler knows strdup and would
	 * otherwise assume that it leaves our counters alone. */
	char *(*volatile dup)(const char *) = strdup;
	uint64_t a0 = *(volatile uint64_t *)&t_allocs, f0 = *(volatile uint64_t *)&t_frees;
	char *s = dup("valuetask"); /* allocates inside libc */

	if (s == NULL)
		return false;
	free(s);
	return *(volatile uint64_t *)&t_allocs == a0 + 1 && *(volatile uint64_t *)&t_frees == f0 + 1;
}
