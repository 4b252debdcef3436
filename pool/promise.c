/*
 * vt_promise: a vt_core in a pooled object, with pool plumbing.
 *
 * A promise goes back to its pool exactly once: in get_result, by the one
 * caller whose vt__core_take won (R1 moved the version, so every later or
 * concurrent consume answers VT_ETOKEN and never reaches the return).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "futex_internal.h"
#include "pool_internal.h"
#include "valuetask/promise.h"

/*
 * Cancellation side table. A promise is one cache line with no room left,
 * so the producer's cancel callback lives beside the pool: one slot per
 * promise, found through the promise's index. The index comes from "runs"
 * of contiguous objects that vt__promise_init records as slabs are made
 * (serially, under the pool's growth lock), so a lookup scans at most one
 * entry per slab. The slot array is allocated on the first registration
 * (pools that never register pay nothing).
 *
 * A slot's word is token | flags:
 *   BUSY   a registration owns the slot: it is writing fn/state (with
 *          ARMED clear: a canceler treats it as "not armed"), or it has
 *          armed the slot and is checking the state (BUSY | ARMED: a
 *          canceler may fire it; nobody else moves it). Other registrars
 *          wait for it, see vt_promise_on_cancel.
 *   ARMED  fn/state belong to rental `token`
 *   FIRED  a canceler took fn/state and will call fn once
 * A registrar takes a slot marked for another rental only while its own
 * rental is current (the core's version is its token): then the rental
 * that marked the slot is over, and so is its canceler's read of fn/state.
 * A stale registrar (its rental ended while it was on its way) answers
 * VT_ETOKEN and never touches a newer rental's registration.
 */
#define VT__CX_BUSY (UINT64_C(1) << 16)
#define VT__CX_ARMED (UINT64_C(1) << 17)
#define VT__CX_FIRED (UINT64_C(1) << 18)

typedef struct vt__cancel_slot {
	uint64_t word;
	vt_continuation fn;
	void *state;
	uint64_t unused;
} vt__cancel_slot;

struct vt_promise_pool {
	vt_pool *pool;
	vt_allocator allocator;
	uint32_t capacity;
	/* Index runs: written by vt__promise_init only (serially); read by
	 * any thread through relaxed atomics (see vt__promise_index). */
	uint32_t nruns, max_runs, ninit;
	uintptr_t *run_base;
	uint32_t *run_first;
	uint32_t *run_count;
	vt__cancel_slot *cancel; /* NULL until the first registration */
};


_Static_assert(sizeof(vt_promise) <= 64, "a pooled promise fits one cache line");

static void vt__cancel_slot_retire(vt_promise_pool *pp, vt__cancel_slot *tab, const vt_promise *p);

/* vt__promise_recycle for a pool that has a cancel side table. Out of line
 * and returning `ret`, so that the consume path ends in a tail call and
 * keeps nothing live across it (no registers saved on the fast path). */
__attribute__((noinline)) static int vt__promise_recycle_cancel(vt_promise *p, vt__cancel_slot *tab, int ret)
{
	vt__cancel_slot_retire(p->pool, tab, p);
	vt__pool_return_fast(p->pool->pool, p);
	return ret;
}

/* The pool's slow return, likewise returning `ret` (a tail call). p is
 * poisoned already (vt__pool_return_try): its pool comes as an argument. */
__attribute__((noinline)) static int vt__promise_return_slow(vt_pool *pool, vt_promise *p, int ret)
{
	vt__pool_return_slow(pool, p);
	return ret;
}

/*
 * The one way back to the pool, for the caller that won R1 (a consume or a
 * detached release). A rental's vt_core_set_executor ends with the rental:
 * the next renter gets a promise with no executor, as it gets one with no
 * continuation. Nobody else can reach the line for this rental after R1, and
 * the next renter reads `ex` only after the pool handed the promise over
 * (ring enqueue/dequeue or the owner's own cache), so a relaxed store is
 * enough; it pairs with the relaxed loads at registration (A1, A3).
 * So does its cancel registration: a pool whose side table exists clears
 * the promise's slot here (vt__cancel_slot_retire). Returns `ret`, the
 * caller's answer, so that the caller can end with this call.
 */
static inline int vt__promise_recycle(vt_promise *p, int ret)
{
	vt_promise_pool *pp = p->pool;
	/* Acquire; pairs with the seq_cst CAS that publishes the table
	 * (vt__cancel_slot_of): its zeroed slots are visible. */
	vt__cancel_slot *tab = vt__load_acquire(&pp->cancel);

	vt__store_relaxed(&p->core.ex, NULL); /* see above: ordered by the pool's handover */
	if (VT_UNLIKELY(tab != NULL))
		return vt__promise_recycle_cancel(p, tab, ret);
	if (VT_LIKELY(vt__pool_return_try(pp->pool, p)))
		return ret;
	return vt__promise_return_slow(pp->pool, p, ret);
}

#ifdef VT_GENERATION_CHECK
/*
 * Debug: a task whose 16-bit token matches but whose epoch does not is a
 * handle from 65536 (or a multiple) rentals ago: stale. The check reads the
 * state once before the core call; a recycle between the two needs another
 * 65536 rentals to match again, so a sequential stale use is always caught.
 */
static bool vt__promise_epoch_stale(vt_promise *p, uint16_t token)
{
	uint32_t want = vt__task_epoch;
	uint64_t s;

	vt__task_epoch = 0; /* used once: by this op */
	if (want == 0)
		return false; /* not issued by vt_promise_task */
	s = vt__load_acquire(&p->core.state); /* pairs with R1 in consume */
	return (uint16_t)s == token && (uint32_t)(s >> VT__CORE_EPOCH_SHIFT) + 1 != want;
}
#define VT__EPOCH_CHECK(p, token)                       \
	do {                                            \
		if (vt__promise_epoch_stale((p), (token))) \
			return VT_ETOKEN;               \
	} while (0)
#else
#define VT__EPOCH_CHECK(p, token) ((void)0)
#endif

static int vt__promise_status(vt_source *src, uint16_t token)
{
	VT__EPOCH_CHECK((vt_promise *)src, token);
	return vt_core_status(&((vt_promise *)src)->core, token);
}

static int vt__promise_get_result(vt_source *src, uint16_t token, vt_value *out)
{
	vt_promise *p = (vt_promise *)src;
	uint64_t bits;
	int st;

	if (out == NULL)
		return VT_EINVAL;
	VT__EPOCH_CHECK(p, token);
	st = vt__core_take(&p->core, token, &bits);
	if (st < 0)
		return st;
	/* The answer first, so that the return to the pool is the last step
	 * (nothing but the answer is live across its slow path). */
	if (st == VT_SUCCEEDED) {
		out->u64 = bits;
		st = 0;
	} else {
		st = (int)(int64_t)bits;
	}
	/* We won R1: nobody else can reach this line for this rental. The
	 * promise is not touched after it is back in the pool. */
	return vt__promise_recycle(p, st);
}

static int vt__promise_on_completed(vt_source *src, uint16_t token, vt_continuation fn, void *state,
				    vt_executor *ex)
{
#ifdef VT_GENERATION_CHECK
	if (fn == NULL)
		return VT_EINVAL; /* VT_EINVAL before VT_ETOKEN (SPEC §4.1) */
#endif
	VT__EPOCH_CHECK((vt_promise *)src, token);
	return vt_core_on_completed(&((vt_promise *)src)->core, token, fn, state, ex);
}

/* ---- forget ---------------------------------------------------------------- */

/* The release hook of a detached rental: runs inline on the completing
 * thread after P (see "detaching" in core.h). It consumes only a version
 * that the state word marks detached and published, so running late (after
 * a misused handle consumed the rental) never touches a later rental. */
static void vt__promise_release(void *arg)
{
	vt_promise *p = arg;

	if (vt__core_take_detached(&p->core))
		(void)vt__promise_recycle(p, 0); /* we won R1: once per rental */
}

static int vt__promise_forget(vt_source *src, uint16_t token)
{
	vt_promise *p = (vt_promise *)src;
	uint64_t bits;
	int rc;

	VT__EPOCH_CHECK(p, token);
	rc = vt__core_detach(&p->core, token, vt__promise_release, p);
	if (rc != 1)
		return rc; /* 0: released when it completes; VT_ETOKEN; VT_EAWAITED */
	/* Already completed: consume it now, discarding the result. */
	rc = vt__core_take(&p->core, token, &bits);
	if (rc < 0)
		return rc; /* VT_ETOKEN: someone else consumed it meanwhile */
	return vt__promise_recycle(p, 0);
}

/* ---- cancellation -------------------------------------------------------- */

/* The index of p in its pool, or UINT32_MAX when unknown (run table full). */
static uint32_t vt__promise_index(vt_promise_pool *pp, const vt_promise *p)
{
	uintptr_t a = (uintptr_t)p;
	/* Acquire; pairs with the release of nruns in vt__promise_init. The
	 * caller holds p, which was made before it was rented, so p's run and
	 * count are visible (init happens before the pool hands p out). */
	uint32_t n = vt__load_acquire(&pp->nruns);

	for (uint32_t r = 0; r < n; r++) {
		uintptr_t base = vt__load_relaxed(&pp->run_base[r]);
		uint32_t count = vt__load_relaxed(&pp->run_count[r]);
		if (a >= base && a < base + (uintptr_t)count * sizeof(vt_promise))
			return vt__load_relaxed(&pp->run_first[r]) + (uint32_t)((a - base) / sizeof(vt_promise));
	}
	return UINT32_MAX;
}

/* p's slot; with `make`, allocate the table on first use. NULL: none. */
static vt__cancel_slot *vt__cancel_slot_of(vt_promise_pool *pp, const vt_promise *p, bool make)
{
	/* seq_cst; pairs with the seq_cst CAS that publishes the table below
	 * (the canceler's load is one side of the registration's
	 * store-buffering pair, see vt_promise_on_cancel). */
	vt__cancel_slot *tab = __atomic_load_n(&pp->cancel, __ATOMIC_SEQ_CST);
	uint32_t i = vt__promise_index(pp, p);

	if (i == UINT32_MAX)
		return NULL;
	if (tab == NULL && make) {
		size_t bytes = sizeof(vt__cancel_slot) * pp->capacity;
		vt__cancel_slot *mine = vt__mem_alloc(&pp->allocator, bytes, 64);
		if (mine == NULL)
			return NULL;
		memset(mine, 0, bytes);
		/* seq_cst (includes release of the zeroed table); pairs with the
		 * loads of pp->cancel above. */
		if (__atomic_compare_exchange_n(&pp->cancel, &tab, mine, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			tab = mine;
		else
			vt__mem_free(&pp->allocator, mine, bytes);
	}
	return tab == NULL ? NULL : &tab[i];
}

/*
 * A rental's registration ends with the rental (vt__promise_recycle, after
 * R1): a mark it left (ARMED: completed without a cancel; FIRED: the
 * canceler is done, it read fn/state before P) is cleared, so that the
 * rental that gets the same 16-bit token 65536 rentals later neither
 * answers VT_EAWAITED nor fires the old callback, whose producer may have
 * freed its state. Any mark without BUSY is dead now: the rental that made
 * it is over, the only rental that could be current is this one, and it
 * has just ended. A BUSY word belongs to a registrar that is checking the
 * state (a window of a few instructions, like the registrars' own wait):
 * wait for its decision, which may be to arm.
 */
static void vt__cancel_slot_retire(vt_promise_pool *pp, vt__cancel_slot *tab, const vt_promise *p)
{
	uint32_t i = vt__promise_index(pp, p);
	unsigned int spins = 0;
	uint64_t w;

	if (i == UINT32_MAX)
		return;
	w = vt__load_acquire(&tab[i].word); /* pairs with the registrar's release of word */
	for (;;) {
		if (w & VT__CX_BUSY) {
			vt__spin_backoff(&spins);
			w = vt__load_acquire(&tab[i].word); /* pairs with the registrar's decision (acq_rel CAS) */
			continue;
		}
		if (!(w & (VT__CX_ARMED | VT__CX_FIRED)))
			return;
		/* acq_rel; pairs with the acquire of the registrar that takes
		 * the slot next (a stale one that races us takes it from
		 * either value, and then withdraws). */
		if (vt__cas_acq_rel(&tab[i].word, &w, (uint64_t)(uint16_t)w))
			return;
	}
}

int vt_promise_on_cancel(vt_promise *p, uint16_t token, vt_continuation fn, void *state)
{
	vt__cancel_slot *slot;
	uint64_t w, s, armed;
	unsigned int spins = 0;
	bool live;
	int st;

	if (p == NULL || fn == NULL)
		return VT_EINVAL;
	st = vt_core_status(&p->core, token);
	if (st < 0)
		return st; /* VT_ETOKEN */
	if (st != VT_PENDING)
		return VT_ECOMPLETED;
	slot = vt__cancel_slot_of(p->pool, p, true);
	if (slot == NULL)
		return VT_ENOMEM;
	w = vt__load_acquire(&slot->word); /* pairs with the CASes and stores on word below */
	for (;;) {
		if ((uint16_t)w == token && (w & (VT__CX_ARMED | VT__CX_FIRED | VT__CX_BUSY)))
			return VT_EAWAITED;
		if (w & VT__CX_BUSY) {
			/* Another registration owns the slot: wait for it, a
			 * few instructions (a window, like W1). */
			vt__spin_backoff(&spins);
			w = vt__load_acquire(&slot->word); /* pairs with its release of word */
			continue;
		}
		if ((uint16_t)w != token) {
			/* Marked by another rental: ours must still be current
			 * (see the top of this section). Acquire; pairs with R1
			 * and P (through the rounds' C1/R1 chain): the rental
			 * that marked the slot was consumed, after its canceler
			 * read fn/state. */
			s = vt__load_acquire(&p->core.state);
			if ((uint16_t)s != token)
				return VT_ETOKEN;
		}
		/* Acquire; pairs with the previous owner's release of word. */
		if (vt__cas_acquire(&slot->word, &w, (uint64_t)token | VT__CX_BUSY))
			break;
	}
	vt__store_relaxed(&slot->fn, fn);     /* published by the ARMED store */
	vt__store_relaxed(&slot->state, state);
	/* seq_cst store (release of fn/state); then the seq_cst load of the
	 * state: a store-buffering pair with the canceler's seq_cst claim (C1)
	 * followed by its seq_cst CAS on word. Either the canceler sees ARMED
	 * and takes the callback, or we see its claim and withdraw. BUSY stays
	 * until we decide, so that nobody but a canceler moves the word. */
	armed = (uint64_t)token | VT__CX_ARMED | VT__CX_BUSY;
	__atomic_store_n(&slot->word, armed, __ATOMIC_SEQ_CST);
	s = __atomic_load_n(&p->core.state, __ATOMIC_SEQ_CST);
	live = (uint16_t)s == token && !(s & VT__CORE_COMPLETING);
	/* acq_rel; pairs with the canceler's CAS (exactly one of us moves the
	 * word off ARMED | BUSY) and with the next owner's acquire. */
	if (vt__cas_acq_rel(&slot->word, &armed, (uint64_t)token | (live ? VT__CX_ARMED : 0)) && !live)
		return (uint16_t)s != token ? VT_ETOKEN : VT_ECOMPLETED;
	/* Armed, or a canceler took the callback: it calls fn once. */
	return 0;
}

static int vt__promise_cancel(vt_source *src, uint16_t token)
{
	vt_promise *p = (vt_promise *)src;
	vt__cancel_slot *slot;
	vt_continuation fn = NULL;
	void *st = NULL;
	uint64_t s;
	int rc;

	VT__EPOCH_CHECK(p, token);
	rc = vt__core_claim(&p->core, token, &s); /* the race with completion is decided here */
	if (rc != 0)
		return rc; /* VT_ETOKEN; VT_ECOMPLETED: the result stays */
	slot = vt__cancel_slot_of(p->pool, p, false);
	if (slot != NULL) {
		/* seq_cst; the other side of the registration's pair (above). */
		uint64_t w = __atomic_load_n(&slot->word, __ATOMIC_SEQ_CST);

		/* Armed for this rental, its registrar done or still checking
		 * (BUSY): fire. The seq_cst CAS decides against the registrar's
		 * withdrawal; a lost CAS looks again. */
		while ((uint16_t)w == token && (w & VT__CX_ARMED)) {
			if (__atomic_compare_exchange_n(&slot->word, &w, (uint64_t)token | VT__CX_FIRED, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				/* Ordered after the CAS (acquire part). Nobody
				 * rewrites them before our publish: another
				 * registrar needs its own rental current. */
				fn = vt__load_relaxed(&slot->fn);
				st = vt__load_relaxed(&slot->state);
				break;
			}
		}
	}
	vt__core_publish(&p->core, s, VT_CANCELED, (uint64_t)(int64_t)-ECANCELED);
	/* The promise may be consumed and recycled by now; fn and st are ours. */
	if (fn != NULL)
		fn(st);
	return 0;
}

static const vt_source_ops vt__promise_ops = {
	.status = vt__promise_status,
	.get_result = vt__promise_get_result,
	.on_completed = vt__promise_on_completed,
	.forget = vt__promise_forget,
	.cancel = vt__promise_cancel,
};

/* Runs once per promise, when its slab is made: versions then live on
 * across rentals (type-stable memory). Called serially (create, or the
 * pool's growth lock), in address order within a slab. */
static void vt__promise_init(void *obj, void *ctx)
{
	vt_promise *p = obj;
	vt_promise_pool *pp = ctx;
	uint32_t n = pp->nruns;

	p->source.ops = &vt__promise_ops;
	vt_core_init(&p->core);
	p->pool = pp;
	/* Extend the last run, or start one (relaxed stores: read racily by
	 * vt__promise_index, which only looks for objects made before). */
	if (n > 0 && pp->run_base[n - 1] + (uintptr_t)pp->run_count[n - 1] * sizeof(vt_promise) == (uintptr_t)p) {
		vt__store_relaxed(&pp->run_count[n - 1], pp->run_count[n - 1] + 1);
	} else if (n < pp->max_runs) {
		vt__store_relaxed(&pp->run_base[n], (uintptr_t)p);
		vt__store_relaxed(&pp->run_first[n], pp->ninit);
		vt__store_relaxed(&pp->run_count[n], 1);
		vt__store_release(&pp->nruns, n + 1); /* pairs with the acquire in vt__promise_index */
	} /* else: no index (the pool made more slabs than planned); no cancel slot */
	pp->ninit++;
}

int vt_promise_pool_create(vt_promise_pool **out, const vt_pool_config *cfg_in)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	int rc;

	if (out == NULL)
		return VT_EINVAL;
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		vt_pool_config_default(&cfg);
	cfg.object_size = sizeof(vt_promise);
	cfg.object_align = 64;
	/* Refuse a config before allocating anything (VT_EINVAL first). */
	if (!vt__pool_config_valid(&cfg))
		return VT_EINVAL;
	/* A stale task reads ops and the core's state (and a consumer that
	 * loses R1 has read `value` first) from a returned promise, by design:
	 * type-stable memory. So does vt_promise_on_cancel with `pool`, when
	 * a cancel and consume overtake its status check. Those stay
	 * readable; the rest is poisoned. */
	cfg.keep_readable = offsetof(vt_promise, core) + offsetof(vt_core, fn);

	pp = vt__mem_alloc(&cfg.allocator, sizeof(*pp), _Alignof(vt_promise_pool));
	if (pp == NULL)
		return VT_ENOMEM;
	memset(pp, 0, sizeof(*pp));
	pp->allocator = cfg.allocator;
	pp->capacity = cfg.capacity;
	/* One run per slab at most (more only if adjacent slabs merge into one). */
	{
		uint32_t slab = cfg.slab_objects;
		if (slab == 0 || slab > cfg.capacity)
			slab = cfg.capacity;
		pp->max_runs = slab == 0 ? 1 : (cfg.capacity + slab - 1) / slab + 1;
	}
	pp->run_base = vt__mem_alloc(&pp->allocator, sizeof(uintptr_t) * pp->max_runs, _Alignof(uintptr_t));
	pp->run_first = vt__mem_alloc(&pp->allocator, sizeof(uint32_t) * pp->max_runs, _Alignof(uint32_t));
	pp->run_count = vt__mem_alloc(&pp->allocator, sizeof(uint32_t) * pp->max_runs, _Alignof(uint32_t));
	rc = VT_ENOMEM;
	cfg.obj_init = vt__promise_init;
	cfg.obj_ctx = pp;
	if (pp->run_base == NULL || pp->run_first == NULL || pp->run_count == NULL ||
	    (rc = vt_pool_create(&pp->pool, &cfg)) != 0) {
		vt__mem_free(&pp->allocator, pp->run_base, sizeof(uintptr_t) * pp->max_runs);
		vt__mem_free(&pp->allocator, pp->run_first, sizeof(uint32_t) * pp->max_runs);
		vt__mem_free(&pp->allocator, pp->run_count, sizeof(uint32_t) * pp->max_runs);
		vt__mem_free(&cfg.allocator, pp, sizeof(*pp));
		return rc;
	}
	*out = pp;
	return 0;
}

int vt_promise_pool_destroy(vt_promise_pool **pool)
{
	vt_promise_pool *pp;
	int out;

	if (pool == NULL || *pool == NULL)
		return VT_EINVAL;
	pp = *pool;
	out = vt_pool_destroy(&pp->pool);
	vt__mem_free(&pp->allocator, pp->cancel, sizeof(vt__cancel_slot) * pp->capacity);
	vt__mem_free(&pp->allocator, pp->run_base, sizeof(uintptr_t) * pp->max_runs);
	vt__mem_free(&pp->allocator, pp->run_first, sizeof(uint32_t) * pp->max_runs);
	vt__mem_free(&pp->allocator, pp->run_count, sizeof(uint32_t) * pp->max_runs);
	{
		vt_allocator a = pp->allocator;

		vt__mem_free(&a, pp, sizeof(*pp));
	}
	*pool = NULL;
	return out;
}

vt_promise *vt_promise_rent(vt_promise_pool *pool)
{
	if (pool == NULL)
		return NULL;
	return vt__pool_rent_fast(pool->pool);
}

void vt_promise_pool_get_stats(const vt_promise_pool *pool, vt_pool_stats *out)
{
	if (pool == NULL || out == NULL)
		return;
	vt_pool_get_stats(pool->pool, out);
}
