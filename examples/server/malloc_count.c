/*
 * malloc_count: see malloc_count.h. glibc only (__libc_malloc and friends).
 */
#include <errno.h>
#include <stddef.h>

#include "malloc_count.h"

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
