/*
 * valuetask: vt_source, the interface any awaitable producer implements
 * (.NET's IValueTaskSource<T>).
 *
 * Embed vt_source as the first member of your type (its ops pointer first)
 * and, usually, a vt_core that the ops forward to. Every op takes the token
 * the task was issued under and answers VT_ETOKEN when it is stale.
 *
 *   status        vt_status, or VT_ETOKEN
 *   get_result    consumes: the result once, then VT_ETOKEN. A pooled source
 *                 calls vt_core_consume() here and, if it won, returns
 *                 itself to its pool.
 *   on_completed  as vt_core_on_completed()
 *   forget        optional (NULL: unsupported, VT_EINVAL): the awaiter will
 *                 never consume; release the source once it completes.
 *   cancel        optional (NULL: unsupported, VT_EINVAL): ask the producer
 *                 to cancel the operation.
 */
#ifndef VALUETASK_SOURCE_H
#define VALUETASK_SOURCE_H

#include "common.h"
#include "executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_source vt_source;

typedef struct vt_source_ops {
	int (*status)(vt_source *src, uint16_t token);
	int (*get_result)(vt_source *src, uint16_t token, vt_value *out);
	int (*on_completed)(vt_source *src, uint16_t token, vt_continuation fn, void *state,
			    vt_executor *ex);
	int (*forget)(vt_source *src, uint16_t token);
	int (*cancel)(vt_source *src, uint16_t token);
} vt_source_ops;

struct vt_source {
	/* public: set once, before the first task is handed out */
	const vt_source_ops *ops;
};

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_SOURCE_H */
