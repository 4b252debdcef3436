/*
 * vt__workq: per-producer SPMC rings plus a shared inject ring (see
 * workq_internal.h for the design and the close protocol).
 *
 * Progress: push to the own ring is wait-free apart from X1..X3 (two
 * uncontended exchanges and a store on the owner's own line) and the
 * executor's signal; pop is lock-free; push to the inject ring takes
 * inject_lock (blocking, the rare path; its signal runs under it); a thread's
 * first push to a queue claims a ring with a CAS; evicting another queue's
 * entry from the thread's table, and thread exit, take a mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "futex_internal.h"
#include "thread_exit_internal.h"
#include "workq_internal.h"

CK_RING_PROTOTYPE(vt__work, vt__work)

/*
 * Each thread's rings, by queue id: a worker's reserved ring in an entry of
 * its own, which no other queue can evict, and the rings it claimed in a
 * table of VT__WQ_TLS_SETS sets of VT__WQ_TLS_WAYS entries (set: id modulo
 * the set count; ids are handed out in sequence, so up to 32 queues made
 * one after another all fit). A third live queue in a set evicts the
 * set's older entry, which gives its ring back (a mutex) and claims again
 * (a CAS) on its next post. A table of 8 direct-mapped entries did that on
 * every alternating post to queues 8 ids apart, and a worker lost its
 * reserved ring to any queue that shared its entry.
 */
#define VT__WQ_TLS_SETS 16 /* a power of two */
#define VT__WQ_TLS_WAYS 2

typedef struct vt__wq_tls {
	uint64_t id;        /* 0: empty; else the queue's id */
	vt__wq_slot *slot;  /* NULL: this thread has no slot in that queue (use inject) */
	vt__workq *q;
} vt__wq_tls;

typedef struct vt__wq_tls_set {
	vt__wq_tls way[VT__WQ_TLS_WAYS];
	unsigned int next;  /* the way a miss evicts when none is empty (FIFO) */
} vt__wq_tls_set;

static _Thread_local vt__wq_tls_set vt__wq_tls_tab[VT__WQ_TLS_SETS];
static _Thread_local vt__wq_tls vt__wq_tls_bound; /* vt__workq_bind's; never evicted */

/* The registry of live queues: thread exit gives slots back only to queues
 * that still exist. */
static pthread_mutex_t vt__wq_lock = PTHREAD_MUTEX_INITIALIZER;
static vt__workq *vt__wq_live;
static uint64_t vt__wq_next_id = 1;

static void *vt__wq_alloc(const vt__workq *q, size_t n)
{
	return vt__mem_alloc(&q->alloc, n, VT__WQ_CACHELINE);
}

static bool vt__wq_is_live(const vt__workq *q, uint64_t id)
{
	for (vt__workq *r = vt__wq_live; r != NULL; r = r->next_live)
		if (r == q && r->id == id)
			return true;
	return false;
}

/* Give a slot back. Items left in its ring stay there for the consumers. */
static void vt__wq_tls_drop(vt__wq_tls *e)
{
	pthread_mutex_lock(&vt__wq_lock);
	if (e->slot != NULL && vt__wq_is_live(e->q, e->id))
		vt__store_release(&e->slot->owner, 0); /* pairs with the acquire CAS in vt__wq_claim */
	pthread_mutex_unlock(&vt__wq_lock);
	memset(e, 0, sizeof(*e));
}

static void vt__wq_thread_exit(void)
{
	for (unsigned int i = 0; i < VT__WQ_TLS_SETS; i++)
		for (unsigned int w = 0; w < VT__WQ_TLS_WAYS; w++)
			if (vt__wq_tls_tab[i].way[w].id != 0)
				vt__wq_tls_drop(&vt__wq_tls_tab[i].way[w]);
	if (vt__wq_tls_bound.id != 0)
		vt__wq_tls_drop(&vt__wq_tls_bound);
}

static uint64_t vt__wq_me(void)
{
	return (uint64_t)(uintptr_t)&vt__wq_tls_bound;
}

/* The calling thread's entry for q, or NULL. */
static vt__wq_tls *vt__wq_find(const vt__workq *q)
{
	vt__wq_tls_set *set = &vt__wq_tls_tab[q->id & (VT__WQ_TLS_SETS - 1)];

	if (vt__wq_tls_bound.id == q->id)
		return &vt__wq_tls_bound;
	for (unsigned int w = 0; w < VT__WQ_TLS_WAYS; w++)
		if (set->way[w].id == q->id)
			return &set->way[w];
	return NULL;
}

/* An entry of q's set to reuse: an empty one, else the oldest, given back. */
static vt__wq_tls *vt__wq_victim(const vt__workq *q)
{
	vt__wq_tls_set *set = &vt__wq_tls_tab[q->id & (VT__WQ_TLS_SETS - 1)];
	vt__wq_tls *e;

	for (unsigned int w = 0; w < VT__WQ_TLS_WAYS; w++)
		if (set->way[w].id == 0)
			return &set->way[w];
	e = &set->way[set->next];
	set->next = (set->next + 1) % VT__WQ_TLS_WAYS;
	vt__wq_tls_drop(e); /* a third queue in this set: the oldest loses its ring */
	return e;
}

static void vt__wq_raise_high(vt__workq *q, uint32_t n)
{
	uint32_t h = vt__load_relaxed(&q->high); /* a guess; the CAS below validates it */

	/* Release; pairs with the acquire load in pop: a consumer that sees the
	 * new bound sees the claimed slot's ring as initialised. */
	while (h < n && !__atomic_compare_exchange_n(&q->high, &h, n, false, __ATOMIC_RELEASE,
						     __ATOMIC_RELAXED))
		;
}

/* The calling thread's entry for q, claiming a slot on first use. */
static vt__wq_tls *vt__wq_claim(vt__workq *q)
{
	vt__wq_tls *e = vt__wq_find(q);

	if (VT_LIKELY(e != NULL))
		return e;
	e = vt__wq_victim(q);
	e->id = q->id;
	e->q = q;
	e->slot = NULL;
	/* Without the exit hook a slot could never be given back: use none
	 * (thread_exit_internal.h); post through the inject ring. */
	if (vt__thread_exit_arm(VT__EXIT_WORKQ, vt__wq_thread_exit)) {
		for (uint32_t i = q->reserved; i < q->nslots; i++) {
			uint64_t expected = 0;
			/* Acquire; pairs with the release in vt__wq_tls_drop: we
			 * take the ring as its last owner left it. */
			if (vt__load_relaxed(&q->slots[i].owner) == 0 && /* a cheap pre-check; the CAS decides */
			    vt__cas_acquire(&q->slots[i].owner, &expected, vt__wq_me())) {
				e->slot = &q->slots[i];
				vt__wq_raise_high(q, i + 1);
				break;
			}
		}
	}
	return e;
}

int vt__workq_init(vt__workq *q, uint32_t nslots, uint32_t reserved, uint32_t ring_size,
		   uint32_t inject_size, const vt_allocator *a)
{
	memset(q, 0, sizeof(*q));
	if (a != NULL)
		q->alloc = *a;
	q->inject_size = inject_size;
	q->nslots = nslots;
	q->reserved = reserved;
	q->ring_size = ring_size;
	q->high = reserved;
	q->slots = vt__wq_alloc(q, sizeof(vt__wq_slot) * (nslots ? nslots : 1));
	if (q->slots == NULL)
		goto nomem;
	memset(q->slots, 0, sizeof(vt__wq_slot) * nslots); /* before any goto: fini reads buf */
	q->inject_buf = vt__wq_alloc(q, sizeof(vt__work) * inject_size);
	if (q->inject_buf == NULL)
		goto nomem;
	for (uint32_t i = 0; i < nslots; i++) {
		q->slots[i].buf = vt__wq_alloc(q, sizeof(vt__work) * ring_size);
		if (q->slots[i].buf == NULL)
			goto nomem;
		ck_ring_init(&q->slots[i].ring, ring_size);
	}
	ck_ring_init(&q->inject, inject_size);
	pthread_mutex_init(&q->inject_lock, NULL);

	pthread_mutex_lock(&vt__wq_lock);
	q->id = vt__wq_next_id++;
	q->next_live = vt__wq_live;
	vt__wq_live = q;
	pthread_mutex_unlock(&vt__wq_lock);
	return 0;
nomem:
	vt__workq_fini(q);
	return VT_ENOMEM;
}

void vt__workq_fini(vt__workq *q)
{
	pthread_mutex_lock(&vt__wq_lock);
	for (vt__workq **link = &vt__wq_live; *link != NULL; link = &(*link)->next_live) {
		if (*link == q) {
			*link = q->next_live;
			break;
		}
	}
	pthread_mutex_unlock(&vt__wq_lock);
	/* This thread forgets q; other threads' entries name an id that is
	 * never reused, and their exit hook finds it gone from the registry. */
	if (q->id != 0) {
		vt__wq_tls *e = vt__wq_find(q);

		if (e != NULL)
			memset(e, 0, sizeof(*e));
		pthread_mutex_destroy(&q->inject_lock);
	}
	if (q->slots != NULL)
		for (uint32_t i = 0; i < q->nslots; i++)
			vt__mem_free(&q->alloc, q->slots[i].buf, sizeof(vt__work) * q->ring_size);
	vt__mem_free(&q->alloc, q->slots, sizeof(vt__wq_slot) * (q->nslots ? q->nslots : 1));
	vt__mem_free(&q->alloc, q->inject_buf, sizeof(vt__work) * q->inject_size);
	q->slots = NULL;
	q->inject_buf = NULL;
}

void vt__workq_bind(vt__workq *q, uint32_t index)
{
	vt__wq_tls *e = &vt__wq_tls_bound;
	vt__wq_tls *old = vt__wq_find(q);

	if (old != NULL && old != e)
		vt__wq_tls_drop(old); /* a ring claimed before: the reserved one replaces it */
	if (e->id != 0 && e->id != q->id)
		vt__wq_tls_drop(e);
	/* Bound at a worker's start: the hook is armed unless no key could be
	 * made, and reserved slots need none to stay correct. */
	(void)vt__thread_exit_arm(VT__EXIT_WORKQ, vt__wq_thread_exit);
	/* Reserved slots are never claimed by CAS; the owner tag only marks
	 * them taken for the exit hook's benefit. */
	vt__store_release(&q->slots[index].owner, vt__wq_me()); /* pairs with nothing that reads it for reserved slots */
	e->id = q->id;
	e->q = q;
	e->slot = &q->slots[index];
}

/* Enqueue on the inject ring under its lock. `check` (producers without a
 * slot): refuse once closed, and signal under the lock; close takes the
 * same lock after K1, so a producer either sees `closed` here or finished,
 * signal included, before close returned. */
static int vt__wq_inject(vt__workq *q, vt__work *w, bool check, vt_continuation signal, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&q->inject_lock);
	if (check && vt__load_relaxed(&q->closed)) { /* ordered by the lock against close */
		rc = VT_ESHUTDOWN;
	} else {
		vt__wq_tsan_release(&q->inject);
		/* SPMC enqueue (one producer at a time: the lock): store fence
		 * + store of p_tail; pairs with the dequeue's load in pop. */
		if (!ck_ring_enqueue_spmc_vt__work(&q->inject, q->inject_buf, w)) {
			rc = VT_EEXHAUSTED;
		} else if (signal != NULL) {
			/* seq_cst fence: the full barrier between the enqueue and
			 * the signal's sleeper check (X2's role on the fast path). */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			signal(arg);
		}
	}
	pthread_mutex_unlock(&q->inject_lock);
	return rc;
}

int vt__workq_push(vt__workq *q, vt_continuation fn, void *state, vt_continuation signal, void *arg)
{
	vt__wq_tls *e = vt__wq_claim(q);
	vt__work w = { fn, state };
	bool ok;

	if (VT_LIKELY(e->slot != NULL)) {
		vt__wq_slot *s = e->slot;
		/* X1: seq_cst; pairs with K1 in close (store-buffering pair). */
		__atomic_exchange_n(&s->busy, 1, __ATOMIC_SEQ_CST);
		vt__fence_after_rmw(); /* X1's barrier on weakly ordered CPUs, as after X2 */
		if (VT_UNLIKELY(vt__load_relaxed(&q->closed))) { /* ordered after X1 by the fence */
			vt__store_release(&s->busy, 0); /* pairs with close's acquire wait */
			return VT_ESHUTDOWN;
		}
		vt__wq_tsan_release(&s->ring);
		/* SPMC enqueue, owner only: store fence + store of p_tail; pairs
		 * with the dequeue's load of p_tail in pop. */
		ok = ck_ring_enqueue_spmc_vt__work(&s->ring, s->buf, &w);
		if (VT_UNLIKELY(!ok))
			ok = vt__wq_inject(q, &w, false, NULL, NULL) == 0; /* own ring full; busy covers it */
		if (VT_LIKELY(ok && signal != NULL)) {
			/* X2: seq_cst; with the fence after it, the full barrier
			 * between the enqueue and the signal's sleeper check (pairs
			 * with the executor's W1 + fence, or D1 + fence). */
			__atomic_exchange_n(&s->busy, 2, __ATOMIC_SEQ_CST);
			vt__fence_after_rmw(); /* X2's barrier on weakly ordered CPUs */
			signal(arg);
		}
		/* X3: release; pairs with close's acquire wait: the item, and the
		 * end of this post's last touch of the executor. */
		vt__store_release(&s->busy, 0);
		return ok ? 0 : VT_EEXHAUSTED;
	}
	/* No slot: the shared inject ring, signal included, under its lock. */
	return vt__wq_inject(q, &w, true, signal, arg);
}

bool vt__workq_pop(vt__workq *q, uint32_t *cursor, vt__work *out)
{
	uint32_t high = vt__load_acquire(&q->high); /* pairs with the release CAS in vt__wq_raise_high */
	uint32_t start = *cursor < high ? *cursor : 0;

	for (uint32_t n = 0; n < high; n++) {
		uint32_t i = start + n < high ? start + n : start + n - high;
		vt__wq_slot *s = &q->slots[i];
		/* SPMC dequeue: CAS on c_head; pairs with the owner's store of
		 * p_tail in push. */
		if (ck_ring_dequeue_spmc_vt__work(&s->ring, s->buf, out)) {
			vt__wq_tsan_acquire(&s->ring);
			*cursor = i;
			return true;
		}
	}
	/* SPMC dequeue: CAS on c_head; pairs with the p_tail store in inject. */
	if (ck_ring_dequeue_spmc_vt__work(&q->inject, q->inject_buf, out)) {
		vt__wq_tsan_acquire(&q->inject);
		return true;
	}
	return false;
}

void vt__workq_close(vt__workq *q)
{
	unsigned int spins = 0;

	/* K1: seq_cst; pairs with X1 in push (store-buffering pair). */
	__atomic_store_n(&q->closed, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* K1 before the busy loads below */
	for (uint32_t i = 0; i < q->nslots; i++) {
		/* Acquire; pairs with X3 (and the early release) in push. */
		while (vt__load_acquire(&q->slots[i].busy) != 0)
			vt__spin_backoff(&spins);
	}
	/* Producers without a slot check `closed` under the inject lock: once
	 * we have held it, every later one sees K1, and every earlier one's
	 * item is visible to us (the lock's acquire). */
	pthread_mutex_lock(&q->inject_lock);
	pthread_mutex_unlock(&q->inject_lock);
}
