/*
 * The library's one way to allocate: through a vt_allocator hook, or libc
 * (posix_memalign/free) when the hook is NULL or has no alloc. Internal.
 */
#ifndef VT_LIB_ALLOC_INTERNAL_H
#define VT_LIB_ALLOC_INTERNAL_H

#include <stdlib.h>

#include "valuetask/alloc.h"

/* A hook is valid when alloc and free are both set or both NULL. */
static inline bool vt__mem_valid(const vt_allocator *a)
{
	return a == NULL || (a->alloc == NULL) == (a->free == NULL);
}

/* size bytes aligned to align (a power of two); NULL on failure. */
static inline void *vt__mem_alloc(const vt_allocator *a, size_t size, size_t align)
{
	void *ptr = NULL;

	if (align < sizeof(void *))
		align = sizeof(void *);
	if (a != NULL && a->alloc != NULL)
		return a->alloc(size, align, a->ctx);
	return posix_memalign(&ptr, align, size) == 0 ? ptr : NULL;
}

/* Free a block from vt__mem_alloc(a, size, ...); NULL is ignored. */
static inline void vt__mem_free(const vt_allocator *a, void *ptr, size_t size)
{
	if (ptr == NULL)
		return;
	if (a != NULL && a->free != NULL)
		a->free(ptr, size, a->ctx);
	else
		free(ptr);
}

/* The process-wide default (vt_set_default_allocator), for allocations
 * that have no config; a copy. */
vt_allocator vt__mem_default(void);

#endif /* VT_LIB_ALLOC_INTERNAL_H */
