/*
 * valuetask: executors.
 *
 * An executor is anything that can run a continuation later, elsewhere:
 * a thread pool, an event loop, a test harness. Embed vt_executor first in
 * your own struct and recover it in post() with a cast.
 *
 * post() returns 0 when it accepted the continuation and will run it exactly
 * once; any other value means it did not, and the library then runs the
 * continuation inline on the calling thread rather than lose it.
 */
#ifndef VALUETASK_EXECUTOR_H
#define VALUETASK_EXECUTOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vt_executor {
	/* public */
	int (*post)(vt_executor *self, vt_continuation fn, void *state);
};

/*
 * Run fn(state) on ex, or inline when ex is NULL or refuses it.
 * Returns 0 when posted, 1 when it ran inline. Never loses fn.
 */
static inline int vt_executor_dispatch(vt_executor *ex, vt_continuation fn, void *state)
{
	if (ex != NULL && ex->post != NULL && ex->post(ex, fn, state) == 0)
		return 0;
	fn(state);
	return 1;
}

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_EXECUTOR_H */
