/*
 * valuetask: vt_pool, a lock-free object pool on Concurrency Kit's ck_ring.
 *
 * The pool hands out fixed-size objects from slabs it allocates up to an
 * exact capacity, and takes them back for reuse. Memory is type-stable: an
 * object's memory stays mapped until the pool is destroyed, so a stale
 * pointer into the pool reads old bytes, never unmapped memory.
 *
 * Tiers (docs/pool.md has the full argument):
 *  1. each thread's cache: a private stack (plain loads and stores, no
 *     read-modify-write) in front of a ck_ring in SPMC mode that only its
 *     owner fills (wait-free) and that any thread drains (lock-free); a
 *     return goes to the returning thread's own cache;
 *  2. a shared ck_ring (MPMC) holding new slabs, cache overflow and the
 *     caches of exited threads; sized so that it can never be full;
 *  3. other threads' rings, then their stacks (through a membarrier(2)
 *     handshake), live or exited, before a rent answers NULL.
 * Growth (a new slab) takes a mutex; it happens at most capacity/slab times.
 * Objects are not zeroed: obj_init runs once per object when its slab is
 * made, and an object comes back from a rent as it was returned.
 * obj_init and the allocator may use any pool, this one included: a rent
 * from this pool inside them gets no new slab (NULL, or an object of the
 * slab being made that obj_init has finished with), and a rent from a pool
 * that another thread is growing may get none either (that thread may be
 * waiting for the growth this one is in).
 *
 * The pool knows nothing about what the objects are.
 */
#ifndef VALUETASK_POOL_H
#define VALUETASK_POOL_H

#include "alloc.h"
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_pool vt_pool;

typedef struct vt_pool_config {
	/* public */
	size_t object_size;     /* bytes per object (default 64) */
	size_t object_align;    /* power of two, <= 4096 (default 64, a cache line) */
	uint32_t capacity;      /* the most objects the pool ever holds (default 4096) */
	uint32_t slab_objects;  /* objects per growth step (default 256); the last
	                           slab is cut to keep capacity exact */
	uint32_t initial_objects; /* created by create(), in whole slabs (default 0) */
	uint32_t cache_size;    /* objects a thread's private stack holds (default 256); its
	                           ring holds up to next_pow2(cache_size + 1) - 1 more before
	                           spilling to the shared ring; 0 = no caches */
	uint32_t max_threads;   /* threads that get a cache; the rest use the shared
	                           ring (default 64) */
	void (*obj_init)(void *obj, void *ctx); /* once per object, when its slab is made */
	void *obj_ctx;
	vt_allocator allocator; /* alloc.h; NULL alloc: libc (posix_memalign/free) */
	size_t keep_readable;   /* bytes at the start of each object that stay
	                           readable while it is free (default 0); the rest
	                           is poisoned under ASan and valgrind (see
	                           docs/reliability.md). Clamped to object_size. */
} vt_pool_config;

typedef struct vt_pool_stats {
	uint64_t capacity;     /* the configured bound */
	uint64_t created;      /* objects made so far (slabs * slab size, cut at capacity) */
	uint64_t rented;       /* rented now: rents - returns */
	uint64_t rents;        /* successful rents */
	uint64_t returns;      /* returns */
	uint64_t empty_rents;  /* rents that found the pool empty and answered NULL */
	uint64_t steals;       /* rents served from another thread's cache (ring or stack) */
	uint64_t stack_steals; /* of those, the ones that took from another thread's
	                          private stack: a membarrier each (docs/pool.md) */
	uint64_t slabs;        /* slabs allocated */
} vt_pool_stats;

/* Fill cfg with the defaults above. */
VT_API void vt_pool_config_default(vt_pool_config *cfg);

/*
 * Create a pool. 0 and *out set; VT_EINVAL (NULL, object_size 0 or over
 * 2^32, align not a power of two or over 4096, capacity 0 or over 2^30,
 * max_threads over 4096, allocator.alloc and .free not both set or both
 * NULL; nothing allocated); VT_ENOMEM (*out untouched, nothing leaked).
 */
VT_API VT_NODISCARD int vt_pool_create(vt_pool **out, const vt_pool_config *cfg);

/*
 * Destroy *pool and set *pool = NULL. Returns how many objects were still
 * rented (0 = clean); their memory is released all the same, so they must
 * not be used after. VT_EINVAL for NULL. Not concurrent with other calls on
 * the same pool.
 */
VT_API int vt_pool_destroy(vt_pool **pool);

/* Rent an object: NULL when all capacity objects are rented (or moving),
 * or when the pool may not grow because an allocation failed. */
VT_API VT_NODISCARD void *vt_pool_rent(vt_pool *pool);

/* Give obj back. NULL pool or obj: ignored. obj must come from this pool and
 * be rented; the pool does not check that (see vt_promise for a pooled
 * object that does). */
VT_API void vt_pool_return(vt_pool *pool, void *obj);

/* A snapshot; under concurrent traffic each counter is read once, racily. */
VT_API void vt_pool_get_stats(const vt_pool *pool, vt_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_POOL_H */
