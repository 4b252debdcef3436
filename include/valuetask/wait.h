/*
 * valuetask: blocking until a task completes.
 *
 * vt_task_wait is for threads that may block: a worker that needs a
 * result before it can go on, a test, a main(). Event-loop and pool
 * threads should register a continuation instead (vt_task_on_completed,
 * vt_task_then), or they hold their thread while they wait.
 */
#ifndef VALUETASK_WAIT_H
#define VALUETASK_WAIT_H

#include "common.h"
#include "error.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Block the calling thread until t completes, then consume it (exactly like
 * vt_task_get_result: a pooled promise goes back to its pool). Works for
 * every task: one that carries its result returns at once; a source-backed
 * one is watched for a short spin, then through a continuation that this
 * call registers and that runs inline on the completing thread (never on
 * an executor, so waiting on a thread that is itself the core's executor
 * cannot deadlock), while this thread parks on a futex.
 *
 * If another continuation is already registered on t (VT_EAWAITED from
 * on_completed), it polls the status with a growing sleep (up to 1 ms)
 * instead, and then consumes.
 *
 * Returns what vt_task_get_result returns: 0 and *out; the operation's
 * negative error; VT_ETOKEN (consumed already, or stale); VT_EINVAL (out
 * NULL; nothing changes).
 */
VT_API int vt_task_wait(vt_task t, vt_value *out);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_WAIT_H */
