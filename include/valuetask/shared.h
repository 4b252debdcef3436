/*
 * valuetask: vt_shared, a result that any number of awaiters can await and
 * read any number of times, from any thread (.NET's ValueTask.AsTask() /
 * Preserve()).
 *
 * A vt_shared takes over one task, consumes it when it completes, and
 * keeps the result. It is reference-counted and rented from a
 * vt_shared_pool, so making one allocates nothing in steady state. Each
 * awaiter brings its own node (vt_shared_awaiter, embedded in the
 * awaiter's state), so any number of them can wait without allocating.
 *
 *     vt_shared *s;
 *     if (vt_shared_create(spool, fetch(key), &s) == 0) {
 *             vt_shared_on_completed(s, &req1->node, resume1, req1, NULL);
 *             vt_shared_on_completed(s, &req2->node, resume2, req2, NULL);
 *             ...   // each resume calls vt_shared_get_result(s, &v), then
 *                   // vt_shared_release(s) once it is done with s
 *     }
 *
 * Ownership: create returns one reference; vt_shared_retain adds one;
 * vt_shared_release drops one, and the last one sends s back to its pool
 * (never before the task it took over has completed and been consumed).
 * Using s after dropping one's last reference is a bug the library cannot
 * detect (the memory stays valid: pools are type-stable).
 */
#ifndef VALUETASK_SHARED_H
#define VALUETASK_SHARED_H

#include "common.h"
#include "error.h"
#include "executor.h"
#include "pool.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_shared vt_shared;
typedef struct vt_shared_pool vt_shared_pool;

/* One awaiter's registration; caller-owned, reusable once fn has started. */
typedef struct vt_shared_awaiter {
	/* private */
	struct vt_shared_awaiter *next;
	vt_continuation fn;
	void *state;
	vt_executor *ex;
} vt_shared_awaiter;

/* capacity and the other settings from cfg (object_size, object_align and
 * obj_init are ignored); NULL cfg: defaults. 0; VT_EINVAL; VT_ENOMEM. */
VT_API VT_NODISCARD int vt_shared_pool_create(vt_shared_pool **out, const vt_pool_config *cfg);

/* Destroy; returns how many were still out (0 = clean); *pool = NULL.
 * VT_EINVAL for NULL (pool or *pool). */
VT_API int vt_shared_pool_destroy(vt_shared_pool **pool);

/*
 * Take over t and return a shared result holding one reference. t is
 * consumed when it completes (on the completing thread). 0; VT_EINVAL;
 * VT_EEXHAUSTED (all capacity shared results are out); VT_ENOMEM (the pool
 * is below capacity and could not allocate its next slab; if another
 * thread grows it to capacity meanwhile, VT_EEXHAUSTED); VT_ETOKEN (t is
 * stale); VT_EAWAITED (t has a continuation already). On an error t is
 * untouched and *out unchanged.
 */
VT_API int vt_shared_create(vt_shared_pool *pool, vt_task t, vt_shared **out);

/* Add a reference; returns s. */
VT_API vt_shared *vt_shared_retain(vt_shared *s);

/* Drop a reference (NULL: ignored). */
VT_API void vt_shared_release(vt_shared *s);

/* vt_status of the result (VT_PENDING until complete); VT_EINVAL for NULL. */
VT_API int vt_shared_status(const vt_shared *s);

/* Read the result, as often as wanted: 0 and *out; the operation's error;
 * VT_EPENDING; VT_EINVAL. */
VT_API int vt_shared_get_result(const vt_shared *s, vt_value *out);

/*
 * Run fn(state) once s completes: posted to ex if given, else inline on the
 * completing thread (or here, if s has completed). node must stay valid
 * until fn starts. Any number of awaiters, from any thread. 0; VT_EINVAL.
 * Registering a node again before its fn has started is a bug the library
 * cannot detect (the node is the caller's, uninitialised on first use): it
 * links the awaiter list into a loop, and completion runs fn without end.
 */
VT_API int vt_shared_on_completed(vt_shared *s, vt_shared_awaiter *node, vt_continuation fn, void *state,
				  vt_executor *ex);

/* Block until s completes (spin, then futex), then read it. As
 * vt_shared_get_result, never VT_EPENDING. */
VT_API int vt_shared_wait(vt_shared *s, vt_value *out);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_SHARED_H */
