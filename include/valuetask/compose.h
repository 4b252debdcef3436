/*
 * valuetask: consuming a task without checking it by hand.
 *
 *   vt_task_then    hand the result straight to a function, wherever the
 *                   task completes; the task is consumed for you
 *   vt_task_forget  never consume it: a pooled source goes back to its
 *                   pool by itself when the operation completes
 *   vt_task_cancel  ask the producer to stop; see vt_promise_on_cancel
 *
 * (vt_task_wait is in wait.h; shared results in shared.h; when_all and
 * when_any in when.h.)
 */
#ifndef VALUETASK_COMPOSE_H
#define VALUETASK_COMPOSE_H

#include "common.h"
#include "error.h"
#include "executor.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A result handler: err is 0 (value holds the result) or the negative code
 * vt_task_get_result returned (the operation's error, or VT_ETOKEN). */
typedef void (*vt_then_fn)(void *state, int err, vt_value value);

/*
 * Call fn(state, err, value) with t's result once t completes, and consume
 * t. The result is taken before fn runs: a pooled promise is already back
 * in its pool when fn starts (so fn may rent it again at once, and a
 * capacity-1 pool does not stall a chain of operations).
 *
 * Where fn runs follows on_completed (SPEC §4.4): posted to ex if given,
 * else to the source's executor, else inline on the completing thread. A
 * task that carries its result runs fn now: inline when ex is NULL,
 * otherwise posted to ex.
 *
 * Allocation: none per call once warm. A registration needs a small node
 * (48 bytes); nodes are recycled through a per-thread free list (a node
 * goes back to the thread whose then() took it), so a thread allocates one
 * only when it has more then()s in flight than ever before: at most the
 * sum of each thread's peak, once (plus a 64-byte header per thread alive
 * at once). Nodes and headers come from the
 * process-wide default allocator (vt_set_default_allocator, alloc.h) and
 * are never freed.
 *
 * 0; VT_EINVAL (fn NULL); VT_ETOKEN (stale task); VT_EAWAITED (already
 * awaited); VT_ENOMEM (no node could be made). On an error nothing
 * changed and fn is not called: t is neither consumed nor registered, and
 * may be registered again.
 */
VT_API int vt_task_then(vt_task t, vt_then_fn fn, void *state, vt_executor *ex);

/*
 * The awaiter will never consume t. A pooled promise returns to its pool
 * as soon as it completes (on the completing thread), or now if it has
 * completed already; its result is dropped. A task that carries its result
 * needs nothing (0).
 * 0; VT_ETOKEN (stale or consumed); VT_EAWAITED (a continuation is
 * registered: it will consume); VT_EINVAL (the source has no forget op).
 */
VT_API int vt_task_forget(vt_task t);

/*
 * Ask for t's operation to be canceled (source op `cancel`). For a pooled
 * promise: the promise completes with -ECANCELED (status VT_CANCELED)
 * unless it completed first, and the producer's callback (if it registered
 * one with vt_promise_on_cancel) is called; t still has to be consumed
 * (get_result answers -ECANCELED) or forgotten.
 * 0 (canceled); VT_ECOMPLETED (too late: it completed first, or t carries
 * its result; the result stays); VT_ETOKEN; VT_EINVAL (the source cannot
 * be canceled). For a vt_when combination, 0 means the cancel was passed
 * on to its pending inputs (when.h): the combination itself completes as
 * they do, which may still be with success.
 */
VT_API int vt_task_cancel(vt_task t);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_COMPOSE_H */
