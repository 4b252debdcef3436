/*
 * vt__workq: the multi-producer work queue behind vt_threadpool and vt_loop
 * (never installed).
 *
 * Why not one ck_ring in MPMC mode: ck's multi-producer enqueue reserves a
 * slot with a CAS on p_head and then waits until every earlier producer has
 * committed (stores p_tail). A producer preempted between the two stalls
 * every later producer for a whole time slice; with more posting threads
 * than cores (SPEC §5 measures 0.2 Mops/s and 8 ms p99.9 for a bare MPMC
 * ring at 4 threads on 2 cores) that is the common case, not the tail.
 *
 * So every posting thread owns a ring (a "slot"): a ck_ring in SPMC mode
 * that only its owner fills (wait-free: a store fence and a store of
 * p_tail) and that the consumers (one loop thread, or every pool worker)
 * drain with ck's lock-free CAS on c_head. No producer ever waits for
 * another. A thread claims a slot on its first post to a queue and gives it
 * back when it exits; the ring's leftover items stay visible to consumers.
 * Threads beyond the slot count, and owners whose ring is full, use the
 * shared "inject" ring, the rare path. Its producers take a mutex and
 * enqueue in SPMC mode; consumers still dequeue lock-free. Not ck's MPMC
 * enqueue: under oversubscription its commit step makes every producer
 * spin until each earlier one, perhaps preempted, has committed - a convoy
 * that the stress test measured at over 20 s for 400k items with 4
 * producers on 2 cores. A mutex holder that is preempted makes the others
 * sleep instead of spin.
 *
 * Closing (shutdown) must not lose an item that a producer is enqueuing at
 * that moment, and must not return while a producer whose item is in
 * still runs the executor's wake-up (the item may have run already, and
 * the executor be freed right after close). Each slot has a `busy` word
 * that only its owner writes:
 *   push   X1 xchg busy = 1 (seq_cst) + vt__fence_after_rmw, load closed;
 *          enqueue;
 *          X2 xchg busy = 2 (seq_cst: the full barrier between the
 *             enqueue and the executor's sleeper check); the executor's
 *             `signal` hook (that check, perhaps a wake-up);
 *          X3 store busy = 0 (release: the item, and the hook's end)
 *   close  K1 store closed = 1 (seq_cst), then waits (acquire) until every
 *             busy word reads 0.
 * X1 and K1 are a store-buffering pair: either the producer sees `closed`
 * and enqueues nothing, or close sees busy != 0 and waits for X3, after
 * which the item is visible to whoever drains the queue and the producer
 * touches nothing of the executor again. The window (close waiting for a
 * producer between X1 and X3) is a few instructions long, plus a system
 * call when the producer wakes the executor.
 */
#ifndef VT_WORKQ_INTERNAL_H
#define VT_WORKQ_INTERNAL_H

#include <ck_ring.h>
#include <pthread.h>

#include "valuetask/alloc.h"
#include "valuetask/common.h"
#include "valuetask/error.h"

/* ThreadSanitizer cannot see ck's asm/volatile atomics: make the ring's
 * hand-off explicit (release before enqueue, acquire after dequeue). */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VT__WQ_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define VT__WQ_TSAN 1
#endif
#ifdef VT__WQ_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define vt__wq_tsan_acquire(p) __tsan_acquire((void *)(p))
#define vt__wq_tsan_release(p) __tsan_release((void *)(p))
#else
#define vt__wq_tsan_acquire(p) ((void)0)
#define vt__wq_tsan_release(p) ((void)0)
#endif

#define VT__WQ_CACHELINE 64

typedef struct vt__work {
	vt_continuation fn;
	void *state;
} vt__work;

typedef struct vt__wq_slot {
	ck_ring_t ring;      /* SPMC: the owner enqueues, consumers dequeue */
	vt__work *buf;
	uint64_t owner;      /* 0: free; else the owning thread's tag (CAS to claim) */
	uint32_t busy;       /* X1..X3 above; written by the owner only */
} __attribute__((aligned(VT__WQ_CACHELINE))) vt__wq_slot;

typedef struct vt__workq {
	uint64_t id;           /* unique for the process's lifetime; keys the TLS entries */
	vt__wq_slot *slots;
	uint32_t nslots;       /* total slots */
	uint32_t reserved;     /* slots 0..reserved-1 are bound explicitly (workers) */
	uint32_t high;         /* 1 + the highest slot ever claimed (consumers scan below it) */
	uint32_t ring_size;
	uint32_t closed;       /* K1 */
	ck_ring_t inject __attribute__((aligned(VT__WQ_CACHELINE)));
	vt__work *inject_buf;
	uint32_t inject_size;
	vt_allocator alloc;    /* where slots, rings and inject_buf came from */
	pthread_mutex_t inject_lock __attribute__((aligned(VT__WQ_CACHELINE))); /* inject's producers; close */
	struct vt__workq *next_live; /* registry of live queues (workq.c) */
} vt__workq;

/*
 * Set up q with `nslots` producer slots (the first `reserved` of them only
 * for vt__workq_bind) of `ring_size` entries each (a power of two; a ring of
 * N slots holds N - 1 items) and an inject ring of `inject_size` entries,
 * allocated through `a` (NULL: libc), which fini uses again.
 * 0 or VT_ENOMEM (nothing left allocated; q needs no fini).
 */
int vt__workq_init(vt__workq *q, uint32_t nslots, uint32_t reserved, uint32_t ring_size,
		   uint32_t inject_size, const vt_allocator *a);
void vt__workq_fini(vt__workq *q);

/* Make reserved slot `index` the calling thread's slot for q. */
void vt__workq_bind(vt__workq *q, uint32_t index);

/* Enqueue fn(state); once it is in, call signal(arg) (the executor's
 * wake-up; NULL: none) after a full barrier, still inside the window that
 * close waits for. 0; VT_ESHUTDOWN (closed: nothing enqueued, no signal);
 * VT_EEXHAUSTED (every ring it may use is full: nothing enqueued, no
 * signal). */
int vt__workq_push(vt__workq *q, vt_continuation fn, void *state, vt_continuation signal, void *arg);

/* Dequeue one item, scanning from *cursor (updated). false when every ring
 * looked empty. Any number of consumers. */
bool vt__workq_pop(vt__workq *q, uint32_t *cursor, vt__work *out);

/* K1 then wait until no producer is inside X1..X3: after this, no item can
 * be added, every item added is visible to the calling thread, and no push
 * still runs its signal. */
void vt__workq_close(vt__workq *q);

static inline bool vt__workq_is_closed(vt__workq *q)
{
	return vt__load_acquire(&q->closed) != 0; /* pairs with K1 in close */
}

#endif /* VT_WORKQ_INTERNAL_H */
