/*
 * loop_exec: an event-loop executor for one loop thread.
 *
 * The seam: the server only uses the four calls below, and hands
 * loop_exec_executor() to vt_task_on_completed() as its `ex`. When the
 * library's own event-loop executor (issue 4's vt_loop) lands, replace this
 * file with a thin wrapper over it; nothing else in the server changes.
 *
 * Any thread may post; only the loop thread drains. The queue is a bounded
 * lock-free MPSC ring (Vyukov's sequence-numbered cells) of (fn, state)
 * pairs, so posting allocates nothing. The loop sleeps in epoll_wait on an
 * eventfd; a post writes the eventfd only when the loop has not been woken
 * since its last drain, so a burst of completions costs one write(2).
 *
 * Capacity: the server sizes the ring above the most continuations that can
 * be outstanding for the loop (one per in-flight operation, and in-flight
 * operations are bounded by the promise pool's capacity). post() never
 * refuses: if the ring is full anyway it yields until the loop makes room,
 * because a refusal would make the library run the continuation inline on
 * the completing (store) thread, where it must not touch the connection.
 */
#ifndef VT_EXAMPLE_LOOP_EXEC_H
#define VT_EXAMPLE_LOOP_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <valuetask.h>

typedef struct loop_exec_cell {
	size_t seq;
	vt_continuation fn;
	void *state;
} loop_exec_cell;

typedef struct loop_exec {
	vt_executor base; /* first: the library sees a vt_executor */
	int efd;          /* eventfd the loop polls */
	size_t mask;      /* capacity - 1 */
	loop_exec_cell *cells;
	char pad0[64];
	size_t tail;      /* producers: next cell to claim */
	char pad1[64];
	unsigned woken;   /* 1 while a wake-up write is outstanding */
	char pad2[64];
	size_t head;      /* consumer only */
	uint64_t posts;   /* consumer-side count of continuations run */
} loop_exec;

/* 0, or -errno. capacity is rounded up to a power of two. */
int loop_exec_init(loop_exec *le, size_t capacity);
void loop_exec_destroy(loop_exec *le);

/* The fd to poll for readability (EPOLLIN). */
static inline int loop_exec_fd(const loop_exec *le) { return le->efd; }

static inline vt_executor *loop_exec_executor(loop_exec *le) { return &le->base; }

/* Wake the loop without posting anything (shutdown requests). */
void loop_exec_wake(loop_exec *le);

/* Loop thread only: acknowledge the eventfd and run every queued
 * continuation. Returns how many ran. */
size_t loop_exec_drain(loop_exec *le);

#endif
