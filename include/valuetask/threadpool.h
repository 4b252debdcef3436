/*
 * valuetask: vt_threadpool, a fixed-size worker pool that is a vt_executor.
 *
 *     vt_threadpool *tp;
 *     vt_threadpool_config cfg;
 *     vt_threadpool_config_default(&cfg);
 *     cfg.threads = 4;
 *     if (vt_threadpool_create(&tp, &cfg) == 0) {
 *             vt_core_set_executor(&core, vt_threadpool_executor(tp));
 *             ...
 *             vt_threadpool_destroy(&tp);   // runs what is queued, joins
 *     }
 *
 * Queue: every posting thread owns a ck_ring (SPMC mode) that only it
 * fills and that every worker drains, so no producer ever waits for
 * another (ck's MPMC enqueue does, and stalls behind a preempted producer
 * when threads outnumber cores). Threads beyond `max_producers`, and
 * owners whose ring is full, use one shared ring whose producers take a
 * mutex (the rare path; a preempted holder makes the others sleep, where
 * ck's MPMC commit would make them spin). Posting allocates nothing; a
 * thread's first post to a pool claims its ring (a CAS, once).
 *
 * Idle workers poll for `spin` rounds, then park on a futex. A post pays
 * two uncontended exchanges, a store and one load; it makes a system call
 * only when a worker is parked and no other wake-up is already on its way.
 * The worker that wake-up reaches wakes another if more posts came
 * meanwhile, so their items do not wait behind its own while one sleeps.
 *
 * Shutdown runs every item that was posted before it: posts that race with
 * it either get in (and run) or answer VT_ESHUTDOWN (and change nothing).
 * Items that workers post while draining get VT_ESHUTDOWN, so a
 * continuation dispatched through vt_executor_dispatch runs inline there.
 */
#ifndef VALUETASK_THREADPOOL_H
#define VALUETASK_THREADPOOL_H

#include "alloc.h"
#include "common.h"
#include "error.h"
#include "executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_threadpool vt_threadpool;

typedef struct vt_threadpool_config {
	/* public */
	uint32_t threads;       /* workers (default 2); 1..1024 */
	uint32_t queue_size;    /* items per producer ring, a power of two (default 1024) */
	uint32_t max_producers; /* threads besides the workers that get a ring (default 16) */
	uint32_t inject_size;   /* items in the shared ring, a power of two (default 4096) */
	uint32_t spin;          /* idle polls before parking (default 200) */
	size_t stack_size;      /* worker stack in bytes; 0 = the system default */
	vt_allocator allocator; /* the pool's memory (alloc.h); default {NULL}: libc */
} vt_threadpool_config;

/* Fill cfg with the defaults above. */
VT_API void vt_threadpool_config_default(vt_threadpool_config *cfg);

/* Start the workers. 0; VT_EINVAL (NULLs, threads 0 or over 1024, sizes not
 * a power of two or under 2, a stack_size the system refuses (under
 * PTHREAD_STACK_MIN), allocator.alloc and .free not both set or both
 * NULL; nothing allocated); VT_ENOMEM (nothing started, nothing leaked,
 * *out untouched).
 * Allocates 4 + threads + max_producers blocks, all here (none later). */
VT_API VT_NODISCARD int vt_threadpool_create(vt_threadpool **out, const vt_threadpool_config *cfg);

/* The pool as an executor (valid until destroy). NULL for NULL. */
VT_API vt_executor *vt_threadpool_executor(vt_threadpool *tp);

/* Run fn(state) on a worker. 0; VT_EINVAL; VT_ESHUTDOWN (after shutdown
 * began; nothing queued); VT_EEXHAUSTED (every ring this thread may use is
 * full; nothing queued). */
VT_API int vt_threadpool_post(vt_threadpool *tp, vt_continuation fn, void *state);

/*
 * Stop taking work, run every item already posted, and join the workers.
 * Idempotent. 0; VT_EINVAL (NULL, or called from one of tp's own workers,
 * its thread-specific-data destructors included, which would join itself).
 */
VT_API int vt_threadpool_shutdown(vt_threadpool *tp);

/* Shut down (see above) and free; *tp = NULL. 0; VT_EINVAL. */
VT_API int vt_threadpool_destroy(vt_threadpool **tp);

/* Diagnostics: how many times a worker parked on its futex, and how many
 * futex wake calls posters made. */
VT_API void vt_threadpool_park_stats(const vt_threadpool *tp, uint64_t *parks, uint64_t *wakes);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_THREADPOOL_H */
