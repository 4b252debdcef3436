/*
 * valuetask: vt_promise, a pooled completion source.
 *
 * A promise is a vt_core plus pool plumbing, rented from a vt_promise_pool.
 * Its producer completes it with the token of the rental; its task's
 * consumer gets the result once, and at that moment the promise resets
 * (version + 1) and goes back to its pool, exactly once. Every older token,
 * producer's or awaiter's, is stale from then on and answers VT_ETOKEN.
 *
 *     vt_promise *p = vt_promise_rent(pool);           // NULL: back-pressure
 *     uint16_t tok = vt_promise_version(p);
 *     vt_task t = vt_promise_task(p);                  // hand t to the awaiter
 *     ...
 *     vt_promise_set_result(p, tok, vt_value_i64(42)); // producer, any thread
 *
 * A rental starts inline: no continuation, no core executor. The renter may
 * set one with vt_core_set_executor(&p->core, ex) before handing out the task;
 * it lasts until the rental is consumed, and the promise goes back to its
 * pool without it.
 *
 * sizeof(vt_promise) is one cache line (64 bytes).
 */
#ifndef VALUETASK_PROMISE_H
#define VALUETASK_PROMISE_H

#include "common.h"
#include "core.h"
#include "error.h"
#include "pool.h"
#include "source.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_promise_pool vt_promise_pool;

typedef struct vt_promise {
	/* private */
	vt_source source;      /* first: a promise is a vt_source */
	vt_promise_pool *pool; /* where it goes back to; before core, in the part
	                          that stays readable once returned (promise.c) */
	vt_core core;
} vt_promise;

/* Create a promise pool; capacity and the other settings come from cfg
 * (object_size, object_align and obj_init are ignored). NULL cfg: defaults.
 * 0; VT_EINVAL; VT_ENOMEM. */
VT_API VT_NODISCARD int vt_promise_pool_create(vt_promise_pool **out, const vt_pool_config *cfg);

/* Destroy; returns the number of promises still out (0 = clean); *pool = NULL.
 * VT_EINVAL for NULL (pool or *pool). */
VT_API int vt_promise_pool_destroy(vt_promise_pool **pool);

/* Rent a pending promise; NULL when the pool is exhausted. */
VT_API VT_NODISCARD vt_promise *vt_promise_rent(vt_promise_pool *pool);

/* The pool's statistics (see vt_pool_get_stats). */
VT_API void vt_promise_pool_get_stats(const vt_promise_pool *pool, vt_pool_stats *out);

/* The token of this rental (0 for NULL). */
VT_INLINE uint16_t vt_promise_version(const vt_promise *p)
{
	return p == NULL ? 0 : vt_core_version(&p->core);
}

/* The task for this rental (faulted with VT_EINVAL for NULL). */
VT_INLINE vt_task vt_promise_task(vt_promise *p)
{
	if (p == NULL)
		return vt_task_from_error(VT_EINVAL);
#ifdef VT_GENERATION_CHECK
	{
		/* Token and epoch from one load: the same rental. */
		uint64_t s = vt__load_acquire(&p->core.state); /* pairs with R1 in consume */
		vt_task t = vt_task_from_source(&p->source, (uint16_t)s);
		t.u.vt__gen.epoch = (uint32_t)(s >> VT__CORE_EPOCH_SHIFT) + 1;
		return t;
	}
#else
	return vt_task_from_source(&p->source, vt_core_version(&p->core));
#endif
}

/* Complete rental `token` with v. 0; VT_ETOKEN (stale: consumed, recycled);
 * VT_ECOMPLETED (the first result stays); VT_EINVAL. */
VT_INLINE int vt_promise_set_result(vt_promise *p, uint16_t token, vt_value v)
{
	if (p == NULL)
		return VT_EINVAL;
	return vt__core_complete(&p->core, true, token, VT_SUCCEEDED, v.u64);
}

/* Complete rental `token` with error (< 0, not a library code).
 * 0; VT_EINVAL; VT_ETOKEN; VT_ECOMPLETED. */
VT_INLINE int vt_promise_set_error(vt_promise *p, uint16_t token, int error)
{
	int st = vt__error_status(error);

	if (p == NULL || st < 0)
		return VT_EINVAL;
	return vt__core_complete(&p->core, true, token, (uint64_t)st, (uint64_t)(int64_t)error);
}

/*
 * Producer side of cancellation: ask for fn(state) to be called if the
 * awaiter cancels rental `token` (vt_task_cancel) and the cancel wins.
 *
 * vt_task_cancel on a promise completes it with -ECANCELED (VT_CANCELED)
 * if, and only if, it gets there before every other completion: the same
 * first-completion-wins step that decides between two completers decides
 * between cancel and the producer's result. Exactly one side wins:
 *  - the cancel wins: the awaiter sees VT_CANCELED; the producer's own
 *    set_result/set_error answers VT_ECOMPLETED (or VT_ETOKEN once the
 *    canceled result was consumed); fn(state) is called exactly once, on
 *    the canceling thread, after the promise completed;
 *  - the producer wins: vt_task_cancel answers VT_ECOMPLETED, the result
 *    stays, and fn is never called.
 * So a producer whose set_* answered 0 may free `state` at once; one whose
 * set_* failed must leave `state` to fn (it runs, or ran). Cancelling works
 * without a registration too (the promise completes canceled; nothing is
 * called). One registration per rental.
 *
 * 0; VT_EINVAL (NULLs); VT_ETOKEN; VT_ECOMPLETED (already completed or
 * being canceled: fn will not be called); VT_EAWAITED (one is registered
 * already); VT_ENOMEM (the pool's side table could not be allocated: it
 * is allocated on the first registration, one 32-byte slot per promise of
 * capacity).
 */
VT_API int vt_promise_on_cancel(vt_promise *p, uint16_t token, vt_continuation fn, void *state);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_PROMISE_H */
