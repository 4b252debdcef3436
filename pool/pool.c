/*
 * vt_pool: a lock-free object pool whose free lists are ck_rings, with a
 * private stack per thread in front (pool_internal.h has the handshake).
 *
 * Where a rent looks, in order (docs/pool.md has the argument):
 *   1. own stack          plain loads/stores                 wait-free
 *   2. own ring           SPMC dequeue (CAS)                 lock-free
 *   3. shared ring        MC dequeue (CAS)                   lock-free
 *   4. other rings        SPMC dequeue (CAS)                 lock-free
 *   5. growth             a new slab, under grow_lock        blocking, rare
 *   6. other stacks       steal: membarrier, then wait for
 *                         the owner to leave its few-
 *                         instruction critical section       blocking, rare
 * and answers NULL only when three passes over all of these found nothing
 * (objects move between tiers while a rent looks). A batch taken from
 * a ring refills the own stack up to half its spill limit.
 * A return pushes onto the own stack; a stack at its spill limit moves half
 * of itself to the own ring (wait-free SPMC enqueue), everything when the
 * limit is 0 (a thief needed this thread's returns: pool_internal.h,
 * "Spill limit"), and a full ring spills into the
 * shared ring (enqueue under shared_lock: blocking, off the steady state).
 * A thread's first use of a pool claims a cache slot with a CAS; thread
 * exit, evicting another pool's entry from the thread's cache table, create
 * and destroy take a mutex.
 */
#include <errno.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h" /* lib/: vt__mem_valid */
#include "futex_internal.h" /* lib/: vt__spin_backoff */
#include "thread_exit_internal.h" /* lib/: vt__thread_exit_arm */

#include "pool_internal.h"

_Thread_local vt__tls_entry vt__tls[VT__TLS_WAYS] __attribute__((tls_model("initial-exec")));

/* The cache of a thread that has no slot in a pool: per thread, so that
 * the fast paths' busy stores stay thread-local. Its stack holds nothing
 * (cap 0) and its ring of one slot holds nothing either, so every fast-path
 * attempt falls through to the slow path without writing anything shared. */
static ck_ring_buffer_t vt__no_cache_buf[1];
#define VT__NO_CACHE_COLD \
	{ .buf = vt__no_cache_buf, .ring = { .c_head = 0, .p_tail = 0, .p_head = 0, .size = 1, .mask = 0 } }
#ifdef VT_POOL_PACKED_LAYOUT
/* Nothing writes a no-cache's cold part (its owner is never set, its empty
 * ring is only dequeued from), so one copy serves every thread. */
static vt__pool_cache_cold vt__no_cache_cold = VT__NO_CACHE_COLD;
static _Thread_local vt__pool_cache vt__tls_no_cache = { .cold = &vt__no_cache_cold };
#else
static _Thread_local vt__pool_cache vt__tls_no_cache = VT__NO_CACHE_COLD;
#endif

/* ---- membarrier ------------------------------------------------------------ */

static pthread_once_t vt__asym_once = PTHREAD_ONCE_INIT;
static bool vt__asym_ok;

static void vt__asym_register(void)
{
	long q = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	vt__asym_ok = q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
		      syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

#define VT__MEMBARRIER_TRIES 8

/* S1: a full barrier on every running thread of the process; pairs with
 * D1/D2 in the fast paths (the owner's side of the handshake). False when
 * the kernel refused it: ENOMEM (it allocates a CPU mask on kernels built
 * with CONFIG_CPUMASK_OFFSTACK, Debian's among them) past a few tries, or
 * any other error. The thief must then leave the stack alone: without S1
 * it could take an object the owner is popping. errno is kept. */
static bool vt__membarrier(void)
{
	unsigned int spins = 0;
	int saved = errno;
	bool ok = false;

	for (int i = 0; i < VT__MEMBARRIER_TRIES && !ok; i++) {
		ok = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
		if (!ok && errno != ENOMEM && errno != EAGAIN && errno != EINTR)
			break;
		if (!ok)
			vt__spin_backoff(&spins);
	}
	errno = saved;
	return ok;
}

/* ---- registry of live pools and thread exit ------------------------------ */

/* Protects the registry and the caches' adoption on thread exit. */
static pthread_mutex_t vt__registry_lock = PTHREAD_MUTEX_INITIALIZER;
static vt_pool *vt__live_pools;
static uint64_t vt__next_pool_id = 1;

static bool vt__pool_is_live(const vt_pool *p, uint64_t id)
{
	for (vt_pool *q = vt__live_pools; q != NULL; q = q->next_live)
		if (q == p && q->id == id)
			return true;
	return false;
}

/*
 * Put one object on the shared ring (never full, see struct vt_pool).
 *
 * Producers take shared_lock and enqueue in single-producer mode; consumers
 * stay lock-free (MC dequeue). ck's MPMC enqueue would spin, with no yield,
 * until every earlier producer commits: with more threads than cores a
 * producer preempted between reserving and committing costs every other one
 * its whole time slice (the SPEC §5 cliff). Waiters on a mutex sleep
 * instead, so the preempted holder gets a core back at once. This path is
 * off the steady state: ring overflow, thread exit, growth, threads without
 * a cache slot. vt__shared_put_locked is the enqueue, for a caller that
 * holds shared_lock already (vt__cache_drain).
 */
static void vt__shared_put_locked(vt_pool *p, void *obj)
{
	vt__tsan_release(obj);
	/* SP enqueue: fence + store of p_tail; pairs with the dequeue's load of
	 * p_tail in vt__shared_take. The mutex makes us the only producer. */
	(void)ck_ring_enqueue_spmc(&p->shared, p->shared_buf, obj);
}

static void vt__shared_put(vt_pool *p, void *obj)
{
	pthread_mutex_lock(&p->shared_lock);
	vt__shared_put_locked(p, obj);
	pthread_mutex_unlock(&p->shared_lock);
}

/* Put obj on c's own ring (c's owner only), else spill to the shared ring. */
static void vt__ring_put(vt_pool *p, vt__pool_cache *c, void *obj)
{
	vt__tsan_release(obj);
	/* SPMC enqueue by the owner: wait-free; pairs with the dequeues' load
	 * of p_tail in vt__ring_take. */
	if (!ck_ring_enqueue_spmc(&VT__CACHE_COLD(c)->ring, VT__CACHE_COLD(c)->buf, obj))
		vt__shared_put(p, obj);
}

/*
 * Enter c's stack as its owner (D1, D2): true when no thief holds it; the
 * caller then owns count and stack until vt__stack_leave (D3).
 */
static bool vt__stack_enter(vt__pool_cache *c)
{
	vt__store_relaxed(&c->busy, 1); /* D1: pairs with S1 in vt__steal */
	vt__signal_fence();
	if (vt__load_acquire(&c->steal) == 0) /* D2: pairs with S2 */
		return true;
	vt__store_release(&c->busy, 0); /* D3 */
	return false;
}

static void vt__stack_leave(vt__pool_cache *c)
{
	vt__store_release(&c->busy, 0); /* D3: pairs with the thief's busy load */
}

/* Thread exit or eviction: move everything c holds to the shared ring. */
static void vt__cache_drain(vt_pool *p, vt__pool_cache *c)
{
	unsigned int spins = 0;
	void *obj;

	/* A thief may hold the stack for a moment: wait it out. */
	while (p->stack_cap != 0 && !vt__stack_enter(c))
		vt__spin_backoff(&spins);
	for (uint32_t n = vt__load_relaxed(&c->count); n > 0; n--)
		vt__shared_put(p, vt__load_relaxed(&c->stack[n - 1]));
	vt__store_relaxed(&c->count, 0);
	if (p->stack_cap != 0)
		vt__stack_leave(c);
	/* An object taken from the ring is on no tier until it is on the shared
	 * ring: take the mutex first, so that none waits for it in between (a
	 * rent that needed it answered NULL meanwhile). */
	pthread_mutex_lock(&p->shared_lock);
	while (ck_ring_dequeue_spmc(&VT__CACHE_COLD(c)->ring, VT__CACHE_COLD(c)->buf, &obj)) {
		vt__tsan_acquire(obj);
		vt__shared_put_locked(p, obj);
	}
	pthread_mutex_unlock(&p->shared_lock);
}

/* Give up this thread's slot in entry e's pool, if that pool still lives. */
static void vt__tls_release(vt__tls_entry *e)
{
	pthread_mutex_lock(&vt__registry_lock);
	if (e->cache != &vt__tls_no_cache && vt__pool_is_live(e->pool, e->pool_id)) {
		vt__cache_drain(e->pool, e->cache);
		/* Release: the next owner's acquire CAS in vt__cache_claim sees
		 * the cache as we left it. */
		vt__store_release(&VT__CACHE_COLD(e->cache)->owner, 0);
	}
	pthread_mutex_unlock(&vt__registry_lock);
	e->pool_id = 0;
	e->cache = NULL;
	e->pool = NULL;
}

static void vt__thread_exit(void)
{
	for (unsigned int i = 0; i < VT__TLS_WAYS; i++)
		if (vt__tls[i].pool_id != 0)
			vt__tls_release(&vt__tls[i]);
}

/* Claim a cache slot of p for this thread (first use), else its no-cache. */
static vt__pool_cache *vt__cache_claim(vt_pool *p)
{
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];
	uint64_t me = (uint64_t)(uintptr_t)&vt__tls[0];
	vt__pool_cache *c = &vt__tls_no_cache;

	if (e->pool_id == p->id)
		return e->cache;
	if (e->pool_id != 0)
		vt__tls_release(e); /* another pool hashed here: it loses its cache */

	/* Without the exit hook the slot could never be given back: use none
	 * (thread_exit_internal.h). Later calls use the shared ring. */
	if (vt__thread_exit_arm(VT__EXIT_POOL, vt__thread_exit)) {
		for (uint32_t i = 0; i < p->ncaches; i++) {
			uint64_t expected = 0;
			/* Acquire; pairs with the release in vt__tls_release. */
			if (vt__load_relaxed(&VT__CACHE_COLD(&p->caches[i])->owner) == 0 &&
			    vt__cas_acquire(&VT__CACHE_COLD(&p->caches[i])->owner, &expected, me)) {
				c = &p->caches[i];
				/* A new owner starts with the full spill limit
				 * (relaxed: a policy, see pool_internal.h). */
				vt__store_relaxed(&c->cap, p->stack_cap);
				break;
			}
		}
	}
	e->pool_id = p->id;
	e->cache = c;
	e->pool = p;
	return c;
}

/* ---- configuration and memory -------------------------------------------- */

void vt_pool_config_default(vt_pool_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->object_size = 64;
	cfg->object_align = 64;
	cfg->capacity = 4096;
	cfg->slab_objects = 256;
	cfg->initial_objects = 0;
	cfg->cache_size = 256;
	cfg->max_threads = 64;
}

static void *vt__default_alloc(size_t size, size_t align, void *ctx)
{
	void *ptr = NULL;

	(void)ctx;
	if (align < sizeof(void *))
		align = sizeof(void *);
	return posix_memalign(&ptr, align, size) == 0 ? ptr : NULL;
}

static void vt__default_free(void *ptr, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(ptr);
}

static void *vt__alloc(const vt_pool_config *cfg, size_t size, size_t align)
{
	return cfg->allocator.alloc(size, align, cfg->allocator.ctx);
}

static void vt__free(const vt_pool_config *cfg, void *ptr, size_t size)
{
	if (ptr != NULL)
		cfg->allocator.free(ptr, size, cfg->allocator.ctx);
}

static unsigned int vt__pow2_above(uint64_t n)
{
	unsigned int r = 2;

	while (r <= n)
		r <<= 1;
	return r;
}

/* ---- growth ---------------------------------------------------------------- */

/* How many pools' grow_lock this thread holds (growth nested through
 * obj_init or the allocator). */
static _Thread_local unsigned int vt__growing;

/* Tries of a nested growth for another pool's grow_lock (spin, then yield). */
#define VT__NESTED_GROW_TRIES 256u

/*
 * Add one slab (cut to keep capacity exact) and put its objects on the
 * shared ring. false when the pool is at capacity or the allocation failed,
 * and for a nested growth that did not get the lock (below).
 */
static bool vt__pool_grow(vt_pool *p)
{
	uint64_t me = (uint64_t)(uintptr_t)&vt__tls[0];
	bool grew = false;

	/* A rent from p inside p's own allocator or obj_init (this thread is
	 * growing p already) would wait for grow_lock forever: it finds no
	 * new slab, and the rent goes on without one (NULL if every tier is
	 * empty). Relaxed: only this thread stores its own id, so a match is
	 * its own store, program-ordered before this load; any other thread
	 * sees 0 or another id. */
	if (vt__load_relaxed(&p->grow_owner) == me)
		return false;
	/* A growth nested in another pool's growth (obj_init or the allocator
	 * rents from p while this thread holds that pool's grow_lock) only
	 * tries p's lock: the thread growing p may be inside a rent from that
	 * other pool, waiting for the lock we hold (a lock-order cycle). It
	 * gives up after a while, and the rent goes on without a new slab. */
	if (vt__growing == 0) {
		pthread_mutex_lock(&p->grow_lock);
	} else {
		unsigned int spins = 0;

		for (unsigned int tries = 0; pthread_mutex_trylock(&p->grow_lock) != 0; tries++) {
			if (tries == VT__NESTED_GROW_TRIES)
				return false;
			vt__spin_backoff(&spins);
		}
	}
	vt__growing++;
	vt__store_relaxed(&p->grow_owner, me); /* read by this thread's nested grow, above */
	uint64_t created = p->created;
	if (created < p->cfg.capacity && p->nslabs < p->max_slabs) {
		uint64_t n = p->cfg.capacity - created;
		if (n > p->cfg.slab_objects)
			n = p->cfg.slab_objects;
		size_t bytes = (size_t)n * p->stride;
		char *slab = vt__alloc(&p->cfg, bytes, p->cfg.object_align);
		if (slab != NULL) {
			for (uint64_t i = 0; i < n; i++) {
				void *obj = slab + i * p->stride;
				if (p->cfg.obj_init != NULL)
					p->cfg.obj_init(obj, p->cfg.obj_ctx);
				vt__obj_poison(p, obj);
				vt__poison((char *)obj + p->cfg.object_size, p->stride - p->cfg.object_size);
				vt__shared_put(p, obj);
			}
			p->slabs[p->nslabs] = slab;
			p->slab_bytes[p->nslabs] = bytes;
			vt__store_relaxed(&p->nslabs, p->nslabs + 1); /* read racily by get_stats */
			/* Release: read by get_stats and by destroy's accounting. */
			vt__store_release(&p->created, created + n);
			grew = true;
		}
	}
	vt__store_relaxed(&p->grow_owner, 0); /* before the unlock: see above */
	vt__growing--;
	pthread_mutex_unlock(&p->grow_lock);
	return grew;
}

/* ---- create and destroy ------------------------------------------------ */

/*
 * Where a cache slot's stack starts. A rent or return touches the slot's
 * first line and the top of its stack; when both sit in the same set of a
 * virtually indexed L1 (the same address bits 6..11), what their accesses
 * cost depends on the rest of their addresses, that is on where ASLR put
 * the heap: on this project's AMD EPYC VM, one process in ten ran a
 * one-thread rent + return at 13 ns instead of 5 (allocators that give
 * both blocks page-aligned, as tcmalloc and mimalloc do, put slot 0 and its
 * stack in set 0). So the stack's first VT__STACK_HOT_LINES lines (its top
 * for up to 64 objects held) start one set past the slot's line whenever
 * they would cover its set: at most that many lines of slack per slot.
 */
#define VT__STACK_HOT_LINES 8u

static size_t vt__stack_bytes(const vt_pool *p)
{
	return sizeof(void *) * p->stack_cap + VT__STACK_HOT_LINES * VT__CACHELINE;
}

static size_t vt__stack_color(const vt__pool_cache *c, const char *mem)
{
	unsigned int cs = (unsigned int)((uintptr_t)c / VT__CACHELINE) & 63;
	unsigned int ms = (unsigned int)((uintptr_t)mem / VT__CACHELINE) & 63;

	if (((cs - ms) & 63) >= VT__STACK_HOT_LINES)
		return 0;
	return (size_t)((cs + 1 - ms) & 63) * VT__CACHELINE;
}

static void vt__pool_free_all(vt_pool *p)
{
	const vt_pool_config cfg = p->cfg;

	for (uint32_t i = 0; i < p->nslabs; i++) {
		vt__unpoison_for_free(p->slabs[i], p->slab_bytes[i]);
		vt__free(&cfg, p->slabs[i], p->slab_bytes[i]);
	}
	if (p->caches != NULL) {
		for (uint32_t i = 0; i < p->ncaches; i++) {
			vt__free(&cfg, VT__CACHE_COLD(&p->caches[i])->buf,
				 sizeof(ck_ring_buffer_t) * p->cache_ring_size);
			vt__free(&cfg, VT__CACHE_COLD(&p->caches[i])->stack_mem, vt__stack_bytes(p));
		}
		/* The array was allocated for max_threads slots; ncaches counts only
		 * the slots made so far (fewer after a failed create). */
		vt__free(&cfg, p->caches, sizeof(vt__pool_cache) * cfg.max_threads);
	}
#ifdef VT_POOL_PACKED_LAYOUT
	vt__free(&cfg, p->colds, sizeof(vt__pool_cache_cold) * cfg.max_threads);
#endif
	vt__free(&cfg, p->shared_buf, sizeof(ck_ring_buffer_t) * p->shared.size);
	vt__free(&cfg, p->slabs, sizeof(void *) * p->max_slabs);
	vt__free(&cfg, p->slab_bytes, sizeof(size_t) * p->max_slabs);
	pthread_mutex_destroy(&p->grow_lock);
	pthread_mutex_destroy(&p->shared_lock);
	vt__free(&cfg, p, sizeof(*p));
}

bool vt__pool_config_valid(const vt_pool_config *cfg)
{
	return cfg->object_size != 0 && cfg->object_align != 0 && !(cfg->object_align & (cfg->object_align - 1)) &&
	       cfg->object_align <= 4096 && cfg->capacity != 0 && cfg->capacity <= (UINT32_C(1) << 30) &&
	       cfg->max_threads <= 4096 && cfg->object_size <= ((size_t)1 << 32) && vt__mem_valid(&cfg->allocator);
}

int vt_pool_create(vt_pool **out, const vt_pool_config *cfg_in)
{
	vt_pool_config cfg;
	vt_pool *p;

	if (out == NULL || cfg_in == NULL || !vt__pool_config_valid(cfg_in))
		return VT_EINVAL;
	cfg = *cfg_in;
	if (cfg.allocator.alloc == NULL) {
		cfg.allocator.alloc = vt__default_alloc;
		cfg.allocator.free = vt__default_free;
		cfg.allocator.ctx = NULL;
	}
	if (cfg.slab_objects == 0 || cfg.slab_objects > cfg.capacity)
		cfg.slab_objects = cfg.capacity;
	if (cfg.initial_objects > cfg.capacity)
		cfg.initial_objects = cfg.capacity;
	if (cfg.cache_size == 0)
		cfg.max_threads = 0;
	if (cfg.cache_size > cfg.capacity)
		cfg.cache_size = cfg.capacity;
	if (cfg.keep_readable > cfg.object_size)
		cfg.keep_readable = cfg.object_size;

	p = vt__alloc(&cfg, sizeof(*p), _Alignof(vt_pool));
	if (p == NULL)
		return VT_ENOMEM;
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->stride = (cfg.object_size + cfg.object_align - 1) & ~(cfg.object_align - 1);
	pthread_mutex_init(&p->grow_lock, NULL);
	pthread_mutex_init(&p->shared_lock, NULL);
	p->max_slabs = (cfg.capacity + cfg.slab_objects - 1) / cfg.slab_objects;
	/* shared.size doubles as the buffer's length for vt__pool_free_all. */
	ck_ring_init(&p->shared, vt__pow2_above(cfg.capacity));
	p->shared_buf = vt__alloc(&cfg, sizeof(ck_ring_buffer_t) * p->shared.size, VT__CACHELINE);
	p->slabs = vt__alloc(&cfg, sizeof(void *) * p->max_slabs, _Alignof(void *));
	p->slab_bytes = vt__alloc(&cfg, sizeof(size_t) * p->max_slabs, _Alignof(size_t));
	if (p->shared_buf == NULL || p->slabs == NULL || p->slab_bytes == NULL)
		goto nomem;

	if (cfg.max_threads > 0) {
		pthread_once(&vt__asym_once, vt__asym_register);
		/* Without membarrier a thief could not take from a private stack
		 * safely: the rings alone then serve as caches. */
		p->stack_cap = vt__asym_ok ? cfg.cache_size : 0;
		p->cache_ring_size = vt__pow2_above(cfg.cache_size);
		p->caches = vt__alloc(&cfg, sizeof(vt__pool_cache) * cfg.max_threads, VT__CACHELINE);
		if (p->caches == NULL)
			goto nomem;
		memset(p->caches, 0, sizeof(vt__pool_cache) * cfg.max_threads);
#ifdef VT_POOL_PACKED_LAYOUT
		p->colds = vt__alloc(&cfg, sizeof(vt__pool_cache_cold) * cfg.max_threads, VT__CACHELINE);
		if (p->colds == NULL)
			goto nomem;
		memset(p->colds, 0, sizeof(vt__pool_cache_cold) * cfg.max_threads);
		for (uint32_t i = 0; i < cfg.max_threads; i++)
			p->caches[i].cold = &p->colds[i];
#endif
		for (uint32_t i = 0; i < cfg.max_threads; i++) {
			vt__pool_cache *c = &p->caches[i];
			VT__CACHE_COLD(c)->buf =
				vt__alloc(&cfg, sizeof(ck_ring_buffer_t) * p->cache_ring_size, VT__CACHELINE);
			if (p->stack_cap != 0) {
				char *mem = vt__alloc(&cfg, vt__stack_bytes(p), VT__CACHELINE);
				VT__CACHE_COLD(c)->stack_mem = mem;
				if (mem != NULL)
					c->stack = (void **)(mem + vt__stack_color(c, mem));
			}
			p->ncaches++; /* counted now so that free_all releases what was made */
			if (VT__CACHE_COLD(c)->buf == NULL || (p->stack_cap != 0 && c->stack == NULL))
				goto nomem;
			ck_ring_init(&VT__CACHE_COLD(c)->ring, p->cache_ring_size);
			c->cap = p->stack_cap;
		}
	}
	while (p->created < cfg.initial_objects)
		if (!vt__pool_grow(p))
			goto nomem;

	pthread_mutex_lock(&vt__registry_lock);
	p->id = vt__next_pool_id++;
	p->next_live = vt__live_pools;
	vt__live_pools = p;
	pthread_mutex_unlock(&vt__registry_lock);
	*out = p;
	return 0;

nomem:
	vt__pool_free_all(p);
	return VT_ENOMEM;
}

int vt_pool_destroy(vt_pool **pool)
{
	vt_pool *p;
	uint64_t free_objects;

	if (pool == NULL || *pool == NULL)
		return VT_EINVAL;
	p = *pool;

	pthread_mutex_lock(&vt__registry_lock);
	for (vt_pool **link = &vt__live_pools; *link != NULL; link = &(*link)->next_live) {
		if (*link == p) {
			*link = p->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&vt__registry_lock);

	/* This thread forgets the pool; other threads' entries name an id that
	 * is never reused, and their exit hook finds it gone from the registry. */
	vt__tls_entry *e = &vt__tls[p->id & (VT__TLS_WAYS - 1)];
	if (e->pool_id == p->id) {
		e->pool_id = 0;
		e->cache = NULL;
		e->pool = NULL;
	}

	free_objects = ck_ring_size(&p->shared);
	for (uint32_t i = 0; i < p->ncaches; i++)
		free_objects += ck_ring_size(&VT__CACHE_COLD(&p->caches[i])->ring) + p->caches[i].count;
	uint64_t rented = p->created - free_objects;
	vt__pool_free_all(p);
	*pool = NULL;
	return rented > INT_MAX ? INT_MAX : (int)rented;
}

/* ---- rent and return: slow paths --------------------------------------- */

static void vt__count_rent(vt_pool *p, vt__pool_cache *c, bool stolen)
{
	if (c != &vt__tls_no_cache) {
		vt__counter_inc(&c->rents);
		if (stolen)
			vt__counter_inc(&c->steals);
	} else {
		vt__fetch_add_relaxed(&p->g_rents, 1); /* statistics only */
		if (stolen)
			vt__fetch_add_relaxed(&p->g_steals, 1);
	}
}

static bool vt__shared_take(vt_pool *p, void **obj)
{
	/* MPMC dequeue: lock-free CAS on c_head; pairs with the p_tail store
	 * of the enqueues in vt__shared_put. */
	if (ck_ring_dequeue_mpmc(&p->shared, p->shared_buf, obj)) {
		vt__tsan_acquire(*obj);
		return true;
	}
	return false;
}

static bool vt__ring_take(vt__pool_cache *v, void **obj)
{
	/* SPMC dequeue: lock-free CAS on c_head; pairs with the owner's
	 * p_tail store in vt__ring_put. */
	if (ck_ring_dequeue_spmc(&VT__CACHE_COLD(v)->ring, VT__CACHE_COLD(v)->buf, obj)) {
		vt__tsan_acquire(*obj);
		return true;
	}
	return false;
}

/* After taking one object from a ring, refill c's stack from the same ring
 * up to half its spill limit, so the next rents stay on the fast path. The
 * count follows each object: one taken from the ring is in no other tier,
 * and a thief skips a stack whose count is 0 (vt__steal), so a batch
 * counted only at the end was invisible to other rents until then. */
static void vt__refill(vt_pool *p, vt__pool_cache *c, vt__pool_cache *from)
{
	uint32_t n, target = vt__load_relaxed(&c->cap) / 2; /* the spill limit */
	void *obj;

	if (target == 0 || !vt__stack_enter(c))
		return;
	n = vt__load_relaxed(&c->count);
	while (n < target && (from != NULL ? vt__ring_take(from, &obj) : vt__shared_take(p, &obj))) {
		vt__store_relaxed(&c->stack[n++], obj);
		/* Relaxed: a thief's hint; it reads the stack after D3. */
		vt__store_relaxed(&c->count, n);
	}
	vt__stack_leave(c);
}

/*
 * Take half of another thread's stack: one object for the caller, the rest
 * onto the caller's own ring. S0..S2 in pool_internal.h.
 */
static void *vt__steal(vt_pool *p, vt__pool_cache *self)
{
	if (p->stack_cap == 0)
		return NULL; /* no private stacks in this pool */
	for (uint32_t i = 0; i < p->ncaches; i++) {
		vt__pool_cache *v = &p->caches[i];
		uint32_t zero = 0, n, take;
		unsigned int spins = 0;
		void *first;

		if (v == self || vt__load_relaxed(&v->count) == 0)
			continue; /* a hint; checked again under the handshake */
		/* S0: acquire; one thief at a time per stack; pairs with S2. A
		 * stack another thief holds is waited for, not skipped: what it
		 * leaves there may be the last free objects. */
		bool held = false;
		while (!(held = vt__cas_acquire(&v->steal, &zero, 1))) {
			zero = 0;
			if (vt__load_relaxed(&v->count) == 0)
				break;
			vt__spin_backoff(&spins);
		}
		if (!held)
			continue; /* emptied while we waited: the flag is another thief's */
		spins = 0;
		if (!vt__membarrier()) { /* S1 refused: no handshake, no steal */
			vt__store_release(&v->steal, 0); /* S2: pairs with D2 */
			continue;
		}
		while (vt__load_acquire(&v->busy) != 0) /* pairs with D3 */
			vt__spin_backoff(&spins);
		n = vt__load_relaxed(&v->count);
		take = (n + 1) / 2;
		first = NULL;
		if (n > 0) {
			first = vt__load_relaxed(&v->stack[n - 1]);
			for (uint32_t k = 1; k < take; k++) {
				void *obj = vt__load_relaxed(&v->stack[n - 1 - k]);
				if (self != &vt__tls_no_cache)
					vt__ring_put(p, self, obj);
				else
					vt__shared_put(p, obj);
			}
			vt__store_relaxed(&v->count, n - take);
			/* The spill limit (pool_internal.h): v's returns are
			 * wanted elsewhere, so they go to its ring from now on.
			 * Relaxed: a policy; v reads it relaxed. */
			vt__store_relaxed(&v->cap, 0);
		}
		vt__store_release(&v->steal, 0); /* S2: pairs with D2 */
		if (first != NULL) {
			vt__fetch_add_relaxed(&p->g_stack_steals, 1); /* statistics only */
			vt__tsan_acquire(first);
			return first;
		}
	}
	return NULL;
}

#define VT__RENT_PASSES 3

/* Pop the own stack, waiting out a thief that holds it (its critical
 * section is a membarrier and a few moves). NULL when it is empty. */
static void *vt__stack_pop_wait(vt_pool *p, vt__pool_cache *c)
{
	unsigned int spins = 0;
	void *obj = NULL;
	uint32_t n;

	if (p->stack_cap == 0 || c == &vt__tls_no_cache)
		return NULL;
	while (!vt__stack_enter(c)) {
		if (vt__load_relaxed(&c->count) == 0)
			return NULL; /* a hint: the thief takes, it never adds */
		vt__spin_backoff(&spins);
	}
	n = vt__load_relaxed(&c->count);
	if (n != 0) {
		obj = vt__load_relaxed(&c->stack[n - 1]);
		vt__store_relaxed(&c->count, n - 1);
	}
	vt__stack_leave(c);
	return obj;
}

/*
 * Grow p for a rent that holds c, this thread's cache of p, and fetch c
 * again after. Growing runs the user's allocator and obj_init, which may
 * use other pools; one whose id maps to p's way in vt__tls evicts p's
 * entry (vt__cache_claim), which drains c and gives its slot up, and
 * another thread may have claimed the slot since. The rent then goes on
 * with the entry's cache, or a new claim, never the slot it gave up.
 */
static bool vt__pool_grow_for(vt_pool *p, vt__pool_cache **c)
{
	bool grew = vt__pool_grow(p);

	*c = vt__cache_claim(p);
	return grew;
}

void *vt__pool_rent_slow(vt_pool *p)
{
	vt__pool_cache *c = vt__cache_claim(p);
	bool stolen = false;
	void *obj;

	/* This thread rents again: it keeps its returns on its stack again
	 * (the spill limit, pool_internal.h). Relaxed, as every access to it. */
	if (c != &vt__tls_no_cache && vt__load_relaxed(&c->cap) != p->stack_cap)
		vt__store_relaxed(&c->cap, p->stack_cap);

	/* Objects move between tiers while we look (a thief parks its haul on
	 * its own ring, an exiting thread drains into the shared ring), so one
	 * pass can miss them: NULL only after VT__RENT_PASSES passes found
	 * every tier empty. */
	for (int pass = 0; pass < VT__RENT_PASSES; pass++) {
		stolen = false;
		/* The own stack: it may hold objects that a thief is working on
		 * (the fast path then stays out), or a slot adopted just now. */
		if ((obj = vt__stack_pop_wait(p, c)) != NULL)
			goto got;
		if (vt__ring_take(c, &obj)) {
			vt__refill(p, c, c);
			goto got;
		}
		do {
			if (vt__shared_take(p, &obj)) {
				vt__refill(p, c, NULL);
				goto got;
			}
			for (uint32_t i = 0; i < p->ncaches; i++) {
				vt__pool_cache *v = &p->caches[i];
				if (v != c && vt__ring_take(v, &obj)) {
					vt__refill(p, c, v);
					stolen = true; /* from another thread's cache */
					goto got;
				}
			}
		} while (vt__pool_grow_for(p, &c));
		stolen = true;
		if ((obj = vt__steal(p, c)) != NULL)
			goto got;
	}
	vt__fetch_add_relaxed(&p->g_empty, 1); /* statistics only */
	return NULL;
got:
	vt__count_rent(p, c, stolen);
	vt__obj_unpoison(p, obj);
	return obj;
}

void vt__pool_return_slow(vt_pool *p, void *obj)
{
	vt__pool_cache *c = vt__cache_claim(p);

	if (c == &vt__tls_no_cache) {
		vt__shared_put(p, obj);
		vt__fetch_add_relaxed(&p->g_returns, 1); /* statistics only */
		return;
	}
	/* The stack is at its spill limit (or a thief holds it): move what is
	 * over half the limit to the own ring, then push; at limit 0 (other
	 * threads want what we return) everything goes to the ring. */
	if (p->stack_cap != 0 && vt__stack_enter(c)) {
		uint32_t lim = vt__load_relaxed(&c->cap); /* relaxed: the spill limit */
		uint32_t n = vt__load_relaxed(&c->count);
		while (n > lim / 2)
			vt__ring_put(p, c, vt__load_relaxed(&c->stack[--n]));
		if (lim != 0)
			vt__store_relaxed(&c->stack[n++], obj);
		else
			vt__ring_put(p, c, obj);
		vt__store_relaxed(&c->count, n);
		vt__stack_leave(c);
	} else {
		vt__ring_put(p, c, obj);
	}
	vt__counter_inc(&c->returns);
}

/* ---- public calls ------------------------------------------------------- */

void *vt_pool_rent(vt_pool *pool)
{
	if (pool == NULL)
		return NULL;
	return vt__pool_rent_fast(pool);
}

void vt_pool_return(vt_pool *pool, void *obj)
{
	if (pool == NULL || obj == NULL)
		return;
	vt__pool_return_fast(pool, obj);
}

void vt_pool_get_stats(const vt_pool *p, vt_pool_stats *out)
{
	vt_pool_stats s;

	if (p == NULL || out == NULL)
		return;
	memset(&s, 0, sizeof(s));
	s.capacity = p->cfg.capacity;
	s.created = vt__load_acquire(&p->created); /* pairs with the release in grow */
	s.rents = vt__load_relaxed(&p->g_rents);
	s.returns = vt__load_relaxed(&p->g_returns);
	s.steals = vt__load_relaxed(&p->g_steals);
	s.stack_steals = vt__load_relaxed(&p->g_stack_steals); /* statistics only */
	s.empty_rents = vt__load_relaxed(&p->g_empty);
	for (uint32_t i = 0; i < p->ncaches; i++) {
		s.rents += vt__load_relaxed(&p->caches[i].rents);
		s.returns += vt__load_relaxed(&p->caches[i].returns);
		s.steals += vt__load_relaxed(&p->caches[i].steals);
	}
	s.rented = s.rents > s.returns ? s.rents - s.returns : 0;
	s.slabs = vt__load_relaxed(&p->nslabs); /* racy snapshot: written under grow_lock */
	*out = s;
}
