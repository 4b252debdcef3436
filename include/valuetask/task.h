/*
 * valuetask: vt_task, the value task (.NET's ValueTask<T>).
 *
 * 16 bytes, passed and returned by value. Either it carries its result
 * (from_value, from_error, or zero-initialised: completed with value 0), or
 * it names a source plus the token it was issued under.
 *
 * A task with no source is a plain value: read and await it any number of
 * times. A source-backed task is awaited at most once and consumed exactly
 * once; the second get_result answers VT_ETOKEN.
 *
 * The documented style, which keeps chains of synchronous completions off
 * the stack:
 *
 *     vt_task t = start_op(...);
 *     if (vt_task_is_completed(t))        // fast path: no continuation
 *             handle(vt_task_get_result(t, &v), v);
 *     else
 *             vt_task_on_completed(t, resume, ctx, NULL);
 */
#ifndef VALUETASK_TASK_H
#define VALUETASK_TASK_H

#include <errno.h>

#include "common.h"
#include "error.h"
#include "executor.h"
#include "source.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_task {
	/* private: use the vt_task_* calls */
	vt_source *source; /* NULL: result in value; VT__TASK_ERROR: error in value.i64 */
	union {
		vt_value value;
		uint16_t token; /* when source names a real source */
#ifdef VT_GENERATION_CHECK
		struct {
			uint16_t token;
			uint16_t unused;
			uint32_t epoch; /* the source's epoch + 1; 0 = not checked */
		} vt__gen;
#endif
	} u;
} vt_task;

/*
 * Debug builds with VT_GENERATION_CHECK: the task calls below hand the
 * task's epoch to the source through this thread-local before each op; a
 * source that keeps an epoch (vt_promise) checks it and clears it.
 */
#ifdef VT_GENERATION_CHECK
VT_API extern _Thread_local uint32_t vt__task_epoch;
#define VT__TASK_PASS_EPOCH(t) (vt__task_epoch = (t).u.vt__gen.epoch)
#else
#define VT__TASK_PASS_EPOCH(t) ((void)0)
#endif

#define VT__TASK_ERROR ((vt_source *)(uintptr_t)1)
#define VT__TASK_HAS_SOURCE(t) ((uintptr_t)(t).source > (uintptr_t)1)

/* A completed, succeeded task carrying v. No allocation, no atomics. */
VT_INLINE vt_task vt_task_from_value(vt_value v)
{
	vt_task t;

	t.source = NULL;
	t.u.value = v;
	return t;
}

/*
 * A completed task that failed with error (< 0, not a library code;
 * -ECANCELED gives VT_CANCELED, anything else VT_FAULTED). Any other code
 * gives a task faulted with VT_EINVAL. No allocation.
 */
VT_INLINE vt_task vt_task_from_error(int error)
{
	vt_task t;

	t.source = VT__TASK_ERROR;
	t.u.value.i64 = (error >= 0 || vt_is_library_error(error)) ? VT_EINVAL : error;
	return t;
}

/* A task for the operation src issued under token. NULL src: faulted with VT_EINVAL. */
VT_INLINE vt_task vt_task_from_source(vt_source *src, uint16_t token)
{
	vt_task t;

	if (src == NULL)
		return vt_task_from_error(VT_EINVAL);
	t.source = src;
	t.u.value.u64 = 0;
	t.u.token = token;
	return t;
}

/* The source behind t, or NULL for a task that carries its result. */
VT_INLINE vt_source *vt_task_source(vt_task t)
{
	return VT__TASK_HAS_SOURCE(t) ? t.source : NULL;
}

/* The token t was issued under (0 for a task without a source). */
VT_INLINE uint16_t vt_task_token(vt_task t)
{
	return VT__TASK_HAS_SOURCE(t) ? t.u.token : 0;
}

/* vt_status, or VT_ETOKEN for a stale source-backed task. */
VT_INLINE int vt_task_status(vt_task t)
{
	if (t.source == NULL)
		return VT_SUCCEEDED;
	if (t.source == VT__TASK_ERROR)
		return t.u.value.i64 == -ECANCELED ? VT_CANCELED : VT_FAULTED;
	VT__TASK_PASS_EPOCH(t);
	return t.source->ops->status(t.source, t.u.token);
}

/*
 * True once t has a result. A stale task answers true too, so that the
 * caller moves on to get_result and learns VT_ETOKEN instead of waiting.
 */
VT_INLINE bool vt_task_is_completed(vt_task t)
{
	return vt_task_status(t) != VT_PENDING;
}

/*
 * Consume the result. 0 and *out = value; the operation's negative error;
 * VT_EPENDING (never blocks); VT_ETOKEN (already consumed, or stale);
 * VT_EINVAL (out NULL). A value or error task can be read again and again.
 */
VT_INLINE int vt_task_get_result(vt_task t, vt_value *out)
{
	if (out == NULL)
		return VT_EINVAL;
	if (t.source == NULL) {
		*out = t.u.value;
		return 0;
	}
	if (t.source == VT__TASK_ERROR)
		return (int)t.u.value.i64;
	VT__TASK_PASS_EPOCH(t);
	return t.source->ops->get_result(t.source, t.u.token, out);
}

/*
 * Run fn(state) once t completes (see vt_core_on_completed for where it
 * runs). A task that carries its result runs fn now: posted to ex, or
 * inline. 0; VT_EINVAL (fn NULL); VT_ETOKEN; VT_EAWAITED.
 */
VT_INLINE int vt_task_on_completed(vt_task t, vt_continuation fn, void *state, vt_executor *ex)
{
	if (fn == NULL)
		return VT_EINVAL;
	if (!VT__TASK_HAS_SOURCE(t)) {
		vt_executor_dispatch(ex, fn, state);
		return 0;
	}
	VT__TASK_PASS_EPOCH(t);
	return t.source->ops->on_completed(t.source, t.u.token, fn, state, ex);
}

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_TASK_H */
