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
 * One thread's cache: a ck_ring in SPMC mode. Only the owning thread
 * enqueues (returns: wait-free); the owner and thieves dequeue (lock-free
 * CAS on c_head). ck_ring keeps c_head and p_tail on separate cache lines.
 */
typedef struct vt__pool_cache {
	ck_ring_t ring;
	ck_ring_buffer_t *buf;
	uint64_t owner; /* 0: free slot; else the owning thread's tag */
	/* Counters written only by the owner (plain load + store), read
	 * racily by get_stats; a line of their own, away from c_head. */
	uint64_t rents __attribute__((aligned(VT__CACHELINE)));
	uint64_t returns;
	uint64_t steals;
} __attribute__((aligned(VT__CACHELINE))) vt__pool_cache;

struct vt_pool {
	uint64_t id; /* unique for the process's lifetime; keys the thread caches */
	size_t stride;
	vt_pool_config cfg;

	vt__pool_cache *caches; /* cfg.max_threads slots, or NULL without caches */
	uint32_t ncaches;
	uint32_t cache_ring_size;

	/* Tier 2: shared MPMC ring of next_pow2(capacity + 1) slots. A ring of
	 * N slots holds N - 1 entries, and the pool never holds more than
	 * capacity objects, so an enqueue here can never find it full. */
	ck_ring_t shared __attribute__((aligned(VT__CACHELINE)));
	ck_ring_buffer_t *shared_buf;

	/* Counters for threads without a cache slot (atomic RMW; slow path). */
	uint64_t g_rents __attribute__((aligned(VT__CACHELINE)));
	uint64_t g_returns;
	uint64_t g_empty;
	uint64_t g_steals;

	/* Growth: under grow_lock, at most max_slabs times. */
	pthread_mutex_t grow_lock __attribute__((aligned(VT__CACHELINE)));
	uint64_t created; /* written under grow_lock (release), read by rent/stats */
	void **slabs;
	size_t *slab_bytes;
	uint32_t nslabs, max_slabs;

	struct vt_pool *next_live; /* the registry of live pools (pool.c) */
};

/* One thread's view of the pools it uses: direct-mapped by pool id. */
typedef struct vt__tls_entry {
	uint64_t pool_id;
	vt__pool_cache *cache; /* a real slot, or &vt__no_cache */
	vt_pool *pool;
} vt__tls_entry;

/* initial-exec: one %fs-relative access, no __tls_get_addr on the hot path. */
extern _Thread_local vt__tls_entry vt__tls[VT__TLS_WAYS] __attribute__((tls_model("initial-exec")));
extern vt__pool_cache vt__no_cache;

void *vt__pool_rent_slow(vt_pool *p);
void vt__pool_return_slow(vt_pool *p, void *obj);

/* Poison a free object (poison.h): all but its first keep_readable bytes. */
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

/* Rent: the calling thread's own cache, else the slow path. */
static inline void *vt__pool_rent_fast(vt_pool *p)
{
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];
	void *obj;

	if (VT_LIKELY(e->pool_id == p->id)) {
		vt__pool_cache *c = e->cache;
		/* SPMC dequeue: CAS on c_head; pairs with the ring's producer
		 * store of p_tail in vt__pool_return_fast / the flush paths. */
		if (VT_LIKELY(ck_ring_dequeue_spmc(&c->ring, c->buf, &obj))) {
			vt__tsan_acquire(obj); /* ck's atomics are invisible to TSan */
			vt__obj_unpoison(p, obj);
			vt__counter_inc(&c->rents);
			return obj;
		}
	}
	return vt__pool_rent_slow(p);
}

/* Return: into the calling thread's own cache, else the slow path. */
static inline void vt__pool_return_fast(vt_pool *p, void *obj)
{
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];

	if (VT_LIKELY(e->pool_id == p->id)) {
		vt__pool_cache *c = e->cache;
		vt__obj_poison(p, obj);
		vt__tsan_release(obj);
		/* SPMC enqueue, owner only: fence + store of p_tail; pairs with
		 * the dequeue's load of p_tail in rent (ours or a thief's). */
		if (VT_LIKELY(ck_ring_enqueue_spmc(&c->ring, c->buf, obj))) {
			vt__counter_inc(&c->returns);
			return;
		}
	}
	vt__pool_return_slow(p, obj); /* poisons it again: harmless */
}

#endif /* VT_POOL_INTERNAL_H */
