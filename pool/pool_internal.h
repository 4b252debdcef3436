/*
 * vt_pool internals, shared by pool.c and promise.c (never installed).
 *
 * The rent and return fast paths live here, inline, so that promise.c calls
 * them without a function call. docs/pool.md explains the tiers.
 */
#ifndef VT_POOL_INTERNAL_H
#define VT_POOL_INTERNAL_H

#include <ck_ring.h>
#include <pthread.h>

#include "poison.h"
#include "tsan.h"
#include "valuetask/pool.h"

#define VT__CACHELINE 64
#define VT__TLS_WAYS 16 /* pools one thread can cache at once (direct-mapped by pool id) */

/*
 * One thread's cache, two tiers:
 *
 *  stack  a private array that only the owner pushes and pops, with plain
 *         loads and stores: no read-modify-write on the hot path. Other
 *         threads can still take from it (exact capacity), through an
 *         asymmetric Dekker handshake:
 *           owner  D1 busy = 1; signal fence; D2 load steal (acquire);
 *                  touch the stack only if steal == 0; D3 busy = 0 (release)
 *           thief  S0 CAS steal 0 -> 1; S1 membarrier(PRIVATE_EXPEDITED),
 *                  which runs a full barrier on every running thread of
 *                  the process; then wait for busy == 0 (acquire, pairs
 *                  with D3); take; S2 steal = 0 (release, pairs with D2).
 *         membarrier stands in for the owner's missing store-load fence:
 *         either the owner's D1 is visible to the thief's busy load, or
 *         the owner's D2 sees steal == 1 and keeps out. Without
 *         membarrier (old kernel, seccomp) the stacks are disabled.
 *  ring   a ck_ring in SPMC mode that only the owner fills (a wait-free
 *         enqueue, when its stack reaches its spill limit, or on every
 *         return while that limit is 0) and that anyone drains (a
 *         lock-free CAS on c_head); ck_ring puts c_head and p_tail on
 *         separate cache lines.
 */
#ifdef VT_POOL_PACKED_LAYOUT
/*
 * Benchmark-only experiment (benchmarks/meson.build builds bench_pool_packed
 * with it; the library's own build never sets it): the layout a plain
 * `struct cache caches[nthreads]` would have. A slot keeps only its hot
 * fields, with no alignment, so consecutive threads' hot fields share cache
 * lines (a 56-byte stride); owner, buf and the ring move to a separate
 * array of cold parts (struct vt_pool's colds), and struct vt_pool loses
 * its line alignment too, so its shared ring, counters and growth lock
 * pack against its read-mostly fields and each other. It measures what
 * the padding below buys (docs/pool.md, "Cache lines, measured"). The
 * pool stays correct in this layout: only its speed changes.
 */
#define VT__LINE_ALIGNED
typedef struct vt__pool_cache_cold {
	uint64_t owner; /* 0: free slot; else the owner's tag */
	ck_ring_buffer_t *buf;
	void *stack_mem; /* the stack's allocation; stack points into it (pool.c, vt__stack_color) */
	ck_ring_t ring;
} vt__pool_cache_cold;
#define VT__CACHE_COLD(c) ((c)->cold)
#else
#define VT__LINE_ALIGNED __attribute__((aligned(VT__CACHELINE)))
#define VT__CACHE_COLD(c) (c) /* the slot's owner, buf and ring (see above) */
#endif

/*
 * Spill limit. A thread that only returns (the far end of a producer ->
 * consumer handoff) would fill its stack while the renter, finding every
 * ring empty, could reach those objects only by stealing, one membarrier
 * per steal. So a thief that had to steal from a stack sets that owner's
 * `cap` to 0: the owner's next return spills its stack to its ring, and its
 * later returns go there too, where renters take them lock-free. The owner
 * sets `cap` back to the pool's stack_cap when it next rents through the
 * slow path (it is a renter again). `cap` is only a policy: the stack array
 * always has stack_cap slots, so any value either side reads is safe; both
 * sides read and write it relaxed.
 */
typedef struct vt__pool_cache {
	/* The owner's line: every rent and return touches only this. */
	uint32_t busy;   /* D1/D3 */
	uint32_t steal;  /* S0/S2: a thief holds the stack */
	uint32_t count;  /* objects on the stack */
	uint32_t cap;    /* how many the owner keeps on the stack before spilling
	                    half to its ring: the pool's stack_cap, or 0 while
	                    other threads need what this thread returns (see
	                    "Spill limit" above); 0 without stacks */
	void **stack;
	uint64_t rents;  /* counters written only by the owner, read racily by get_stats */
	uint64_t returns;
	uint64_t steals;

#ifdef VT_POOL_PACKED_LAYOUT
	vt__pool_cache_cold *cold; /* &pool->colds[slot]; never changes */
#else
	uint64_t owner __attribute__((aligned(VT__CACHELINE))); /* 0: free slot; else the owner's tag */
	ck_ring_buffer_t *buf;
	void *stack_mem; /* the stack's allocation; stack points into it (pool.c, vt__stack_color) */
	ck_ring_t ring __attribute__((aligned(VT__CACHELINE)));
#endif
} VT__LINE_ALIGNED vt__pool_cache;

#ifdef VT_POOL_PACKED_LAYOUT
_Static_assert(sizeof(vt__pool_cache) % VT__CACHELINE != 0, "packed: neighbouring slots share lines");
#else
_Static_assert(_Alignof(vt__pool_cache) == VT__CACHELINE, "each slot starts a line of its own");
#endif

struct vt_pool {
	uint64_t id; /* unique for the process's lifetime; keys the thread caches */
	size_t stride;
	vt_pool_config cfg;

	vt__pool_cache *caches; /* cfg.max_threads slots, or NULL without caches */
#ifdef VT_POOL_PACKED_LAYOUT
	vt__pool_cache_cold *colds; /* caches[i].cold == &colds[i] */
#endif
	uint32_t ncaches;
	uint32_t cache_ring_size;
	uint32_t stack_cap;

	/* Shared ring of next_pow2(capacity + 1) slots: producers under
	 * shared_lock (SP enqueue), consumers lock-free (MC dequeue). A ring of N
	 * slots holds N - 1 entries, and the pool never holds more than
	 * capacity objects, so an enqueue here can never find it full. */
	ck_ring_t shared VT__LINE_ALIGNED;
	ck_ring_buffer_t *shared_buf;
	pthread_mutex_t shared_lock; /* serialises the shared ring's producers (pool.c) */

	/* Counters for threads without a cache slot (atomic RMW; slow path). */
	uint64_t g_rents VT__LINE_ALIGNED;
	uint64_t g_returns;
	uint64_t g_empty;
	uint64_t g_steals;
	uint64_t g_stack_steals; /* every thread; rare (one per membarrier) */

	/* Growth: under grow_lock, at most max_slabs times. */
	pthread_mutex_t grow_lock VT__LINE_ALIGNED;
	uint64_t created; /* written under grow_lock (release), read by rent/stats */
	uint64_t grow_owner; /* the growing thread's id (vt__tls address), else 0 */
	void **slabs;
	size_t *slab_bytes;
	uint32_t nslabs, max_slabs;

	struct vt_pool *next_live; /* the registry of live pools (pool.c) */
};

/* One thread's view of the pools it uses: direct-mapped by pool id. */
typedef struct vt__tls_entry {
	uint64_t pool_id;
	vt__pool_cache *cache; /* a real slot, or this thread's vt__tls_no_cache */
	vt_pool *pool;
} vt__tls_entry;

/* initial-exec: one %fs-relative access, no __tls_get_addr on the hot path. */
extern _Thread_local vt__tls_entry vt__tls[VT__TLS_WAYS] __attribute__((tls_model("initial-exec")));

/* The checks vt_pool_create answers VT_EINVAL for. Wrappers that allocate
 * before they create their vt_pool (vt_promise_pool_create) call it first,
 * so that a refused config allocates nothing. */
bool vt__pool_config_valid(const vt_pool_config *cfg);

void *vt__pool_rent_slow(vt_pool *p);
void vt__pool_return_slow(vt_pool *p, void *obj);

#define vt__signal_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Poison a free object (poison.h): all but its first keep_readable bytes.
 * Objects stay poisoned while they move between the free tiers; only the
 * public return poisons and only a rent unpoisons. */
static inline void vt__obj_poison(const vt_pool *p, void *obj)
{
#ifdef VT__POISON
	vt__poison((char *)obj + p->cfg.keep_readable, p->cfg.object_size - p->cfg.keep_readable);
#else
	(void)p;
	(void)obj;
#endif
}

static inline void vt__obj_unpoison(const vt_pool *p, void *obj)
{
#ifdef VT__POISON
	vt__unpoison((char *)obj + p->cfg.keep_readable, p->cfg.object_size - p->cfg.keep_readable);
#else
	(void)p;
	(void)obj;
#endif
}

/* Rent: pop the calling thread's private stack, else the slow path. */
static inline void *vt__pool_rent_fast(vt_pool *p)
{
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];

	if (VT_LIKELY(e->pool_id == p->id)) {
		vt__pool_cache *c = e->cache;
		vt__store_relaxed(&c->busy, 1); /* D1: pairs with S1 (membarrier) in vt__steal */
		vt__signal_fence();
		/* D2: acquire; pairs with S2, so a thief's changes to the stack
		 * are seen before count is read. */
		if (VT_LIKELY(vt__load_acquire(&c->steal) == 0)) {
			uint32_t n = vt__load_relaxed(&c->count);
			if (VT_LIKELY(n != 0)) {
				void *obj = vt__load_relaxed(&c->stack[n - 1]);
				vt__store_relaxed(&c->count, n - 1);
				vt__store_release(&c->busy, 0); /* D3: pairs with the thief's busy load */
				vt__counter_inc(&c->rents);
				vt__tsan_acquire(obj);
				vt__obj_unpoison(p, obj);
				return obj;
			}
		}
		vt__store_release(&c->busy, 0); /* D3 */
	}
	return vt__pool_rent_slow(p);
}

/* Return onto the calling thread's private stack: true when done; false
 * when the caller must finish with vt__pool_return_slow (a caller that has
 * an answer to return can then end in a tail call, keeping nothing live
 * across a call: see vt__promise_recycle). */
static inline bool vt__pool_return_try(vt_pool *p, void *obj)
{
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];

	vt__obj_poison(p, obj);
	vt__tsan_release(obj);
	if (VT_LIKELY(e->pool_id == p->id)) {
		vt__pool_cache *c = e->cache;
		vt__store_relaxed(&c->busy, 1); /* D1 */
		vt__signal_fence();
		if (VT_LIKELY(vt__load_acquire(&c->steal) == 0)) { /* D2 */
			uint32_t n = vt__load_relaxed(&c->count);
			/* relaxed: the spill limit, a policy a thief may lower */
			if (VT_LIKELY(n < vt__load_relaxed(&c->cap))) {
				vt__store_relaxed(&c->stack[n], obj);
				vt__store_relaxed(&c->count, n + 1);
				vt__store_release(&c->busy, 0); /* D3 */
				vt__counter_inc(&c->returns);
				return true;
			}
		}
		vt__store_release(&c->busy, 0); /* D3 */
	}
	return false;
}

/* Return: push onto the calling thread's private stack, else the slow path. */
static inline void vt__pool_return_fast(vt_pool *p, void *obj)
{
	if (!vt__pool_return_try(p, obj))
		vt__pool_return_slow(p, obj);
}

#endif /* VT_POOL_INTERNAL_H */
