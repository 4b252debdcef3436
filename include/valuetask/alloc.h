/*
 * valuetask: where the library's memory comes from.
 *
 * Every allocation the library makes goes through a vt_allocator:
 *  - pools (vt_pool_config.allocator: vt_pool, vt_promise_pool,
 *    vt_shared_pool), executors (vt_threadpool_config.allocator,
 *    vt_loop_config.allocator): the hook in the object's config, kept for
 *    its life and used again to free what it allocated;
 *  - allocations that have no config: today, vt_task_then's registration
 *    nodes and its per-thread free-list headers. They use the process-wide
 *    default set by vt_set_default_allocator(). These are recycled, never
 *    freed: they live for the process (their count is the peak number of
 *    then() registrations in flight, plus one header per thread alive at
 *    once), so the hook's free is never called for them.
 * A hook whose alloc is NULL selects libc (posix_memalign/free). alloc
 * and free must be both set or both NULL (otherwise create answers
 * VT_EINVAL). Hooks may be called from any thread, concurrently.
 * An allocation the hook refuses (NULL) makes the call that needed it
 * answer VT_ENOMEM (or the documented failure value: NULL from a rent),
 * with nothing changed and nothing leaked.
 */
#ifndef VALUETASK_ALLOC_H
#define VALUETASK_ALLOC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_allocator {
	/* size bytes aligned to align (a power of two); NULL on failure */
	void *(*alloc)(size_t size, size_t align, void *ctx);
	/* a block from alloc, with the size it was asked for */
	void (*free)(void *ptr, size_t size, void *ctx);
	void *ctx;
} vt_allocator;

/*
 * Set the process-wide allocator used by allocations that have no config
 * (see above); NULL, or a = {NULL, NULL, ...}, restores libc. It is copied.
 * Set it before starting threads that use vt_task_then: blocks already
 * allocated stay where they are (they are never freed). 0; VT_EINVAL
 * (alloc and free not both set or both NULL; the default is unchanged).
 */
VT_API int vt_set_default_allocator(const vt_allocator *a);

#ifdef __cplusplus
}
#endif

#endif /* VALUETASK_ALLOC_H */
