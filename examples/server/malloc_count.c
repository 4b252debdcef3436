/*
 * malloc_count: see malloc_count.h. glibc only (__libc_malloc and friends).
 */
#include <errno.h>
#include <stddef.h>

#include "malloc_count.h"

/* ASan and TSan bring their own malloc. An interposer defined here would
 * take the process's allocations away from theirs, and under ASan it faults
 * on its first call: the dynamic loader makes that call (dlsym, from ASan's
 * interceptor setup) before ASan has mapped the shadow memory that the
 * instrumented interposer reads. Under them this file defines no allocation
 * function and counts through the runtime's malloc and free hooks. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MC_HOOKS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MC_HOOKS 1
#endif

#define MC_SLOTS 128

typedef struct mc_slot {
	uint64_t allocs, frees;
	char pad[64 - 2 * sizeof(uint64_t)];
} mc_slot;

static mc_slot mc_slots[MC_SLOTS] __attribute__((aligned(64)));
static unsigned mc_next;
static __thread unsigned mc_me; /* slot + 1; 0 = not assigned yet */

/* Only the owning thread writes its slot (more than MC_SLOTS threads would
 * share slots and could lose counts; the server runs far fewer). */
static mc_slot *mc_slot_self(void)
{
	if (mc_me == 0)
		mc_me = __atomic_fetch_add(&mc_next, 1, __ATOMIC_RELAXED) % MC_SLOTS + 1;
	return &mc_slots[mc_me - 1];
}

#define MC_BUMP(field)                                                                          \
	do {                                                                                    \
		mc_slot *s_ = mc_slot_self();                                                   \
		__atomic_store_n(&s_->field, __atomic_load_n(&s_->field, __ATOMIC_RELAXED) + 1, \
				 __ATOMIC_RELAXED);                                             \
	} while (0)

#ifndef MC_HOOKS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);
void *aligned_alloc(size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n);
void *memalign(size_t align, size_t n);

void *malloc(size_t n)
{
	MC_BUMP(allocs);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	MC_BUMP(allocs);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	MC_BUMP(allocs);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p != NULL)
		MC_BUMP(frees);
	__libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
	MC_BUMP(allocs);
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	MC_BUMP(allocs);
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	MC_BUMP(allocs);
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	p = __libc_memalign(align, n);
	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

const char *malloc_count_method(void)
{
	return "interposer";
}

#else /* MC_HOOKS */

/* The sanitizers export this without a header in gcc's install
 * (clang's is <sanitizer/allocator_interface.h>). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static int mc_hooked;

/* Called by the runtime for every user allocation (malloc, calloc, realloc,
 * aligned) and every free of a non-NULL pointer, on the calling thread. */
static void mc_malloc_hook(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
	MC_BUMP(allocs);
}

static void mc_free_hook(const volatile void *p)
{
	if (p != NULL)
		MC_BUMP(frees);
}

/* Before main and its threads (the install is not thread-safe); what the
 * process allocated before this ran is not counted. */
__attribute__((constructor)) static void mc_install(void)
{
	mc_hooked = __sanitizer_install_malloc_and_free_hooks(mc_malloc_hook, mc_free_hook) != 0;
}

const char *malloc_count_method(void)
{
	return mc_hooked ? "sanitizer-hooks" : "none";
}

#endif /* MC_HOOKS */

void malloc_count_read(uint64_t *allocs, uint64_t *frees)
{
	uint64_t a = 0, f = 0;

	for (int i = 0; i < MC_SLOTS; i++) {
		a += __atomic_load_n(&mc_slots[i].allocs, __ATOMIC_RELAXED);
		f += __atomic_load_n(&mc_slots[i].frees, __ATOMIC_RELAXED);
	}
	*allocs = a;
	*frees = f;
}
