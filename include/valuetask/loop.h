/*
 * valuetask: vt_loop, an event-loop executor.
 *
 * Any thread posts; the items run on the thread that drains the loop
 * (vt_loop_run_once or vt_loop_run), one drainer at a time. The loop owns
 * an eventfd that becomes readable when items are waiting: add
 * vt_loop_fd() to your epoll set, io_uring (a poll or read on the fd) or
 * libuv (uv_poll_t), and call vt_loop_run_once() when it fires.
 *
 *     vt_loop *loop;
 *     vt_loop_create(&loop, NULL);
 *     epoll_ctl(ep, EPOLL_CTL_ADD, vt_loop_fd(loop), &(struct epoll_event){ .events = EPOLLIN });
 *     ...  // when epoll reports the fd:
 *     vt_loop_run_once(loop);
 *
 * The queue is the one vt_threadpool uses (a ck_ring per posting thread, so
 * producers never wait for each other). A post writes the eventfd only
 * when the loop is not already signalled: one system call per drain cycle,
 * not per item. Posting allocates nothing.
 */
#ifndef VALUETASK_LOOP_H
#define VALUETASK_LOOP_H

#include "alloc.h"
#include "common.h"
#include "error.h"
#include "executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_loop vt_loop;

typedef struct vt_loop_config {
	/* public */
	uint32_t queue_size;    /* items per producer ring, a power of two (default 1024) */
	uint32_t max_producers; /* threads that get their own ring (default 16) */
	uint32_t inject_size;   /* items in the shared ring, a power of two (default 4096) */
	vt_allocator allocator; /* the loop's memory (alloc.h); default {NULL}: libc */
} vt_loop_config;

/* Fill cfg with the defaults above. */
VT_API void vt_loop_config_default(vt_loop_config *cfg);

/* 0; VT_EINVAL (also allocator.alloc and .free not both set or both NULL);
 * VT_ENOMEM (also when the eventfd cannot be made; nothing leaked, *out
 * untouched). Allocates 3 + max_producers blocks, all here (none later). */
VT_API VT_NODISCARD int vt_loop_create(vt_loop **out, const vt_loop_config *cfg);

/* The loop as an executor (valid until destroy). NULL for NULL. */
VT_API vt_executor *vt_loop_executor(vt_loop *loop);

/* The eventfd (non-blocking) that is readable while items wait; -1 for NULL.
 * Read it only through vt_loop_run_once. */
VT_API int vt_loop_fd(const vt_loop *loop);

/* Queue fn(state) for the draining thread. 0; VT_EINVAL; VT_ESHUTDOWN
 * (destroy has begun and not yet returned: nothing queued); VT_EEXHAUSTED
 * (the rings are full; nothing queued). A post must not start once destroy
 * may have returned: the loop is freed then, and so is what the post reads. */
VT_API int vt_loop_post(vt_loop *loop, vt_continuation fn, void *state);

/*
 * Run queued items on the calling thread until the queue is empty or
 * VT_LOOP_BATCH items ran (then the fd stays readable, so the event loop
 * comes back). Returns how many ran; VT_EINVAL. Never blocks.
 */
#define VT_LOOP_BATCH 1024
VT_API int vt_loop_run_once(vt_loop *loop);

/* Run items, sleeping in poll() on the eventfd when there are none, until
 * vt_loop_stop. 0; VT_EINVAL. */
VT_API int vt_loop_run(vt_loop *loop);

/* Make vt_loop_run return (from any thread, or from an item). */
VT_API void vt_loop_stop(vt_loop *loop);

/*
 * Refuse further posts (VT_ESHUTDOWN), run every item still queued on the
 * calling thread (which must be the one that drains the loop), close the
 * eventfd and free; *loop = NULL. Items that post during this get
 * VT_ESHUTDOWN (run inline through vt_executor_dispatch). 0; VT_EINVAL
 * (NULL, or called from an item the loop is running: the drain that runs
 * it still uses the loop; nothing changes).
 */
VT_API int vt_loop_destroy(vt_loop **loop);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_LOOP_H */
