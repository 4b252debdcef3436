/*
 * valuetask: when_all and when_any over N tasks, in caller-provided storage.
 *
 * A vt_when is itself a source: the combination is a vt_task, which can be
 * awaited, waited on, then()-ed, forgotten or canceled like any other.
 * Each input gets one vt_when_node, where its result is kept.
 *
 *     vt_when w;                        // once: vt_when_init(&w)
 *     vt_when_node nodes[3];
 *     vt_task in[3] = { read_a(), read_b(), read_c() };
 *     vt_task all;
 *     vt_when_all(&w, nodes, in, 3, &all);
 *     vt_value v;
 *     int err = vt_task_wait(all, &v);  // the first error, or 0
 *     ... nodes[i].err, nodes[i].value: each input's result
 *
 * Every input is consumed by the combinator as it completes (its pooled
 * source goes straight back to its pool), the losers of when_any included:
 * nothing leaks, whatever the caller does with the combination's task.
 *
 * Lifetime: w and nodes stay in use until every input has completed
 * (vt_when_settled). For when_all that is when its task completes; a
 * when_any task completes at the first input, while the losers may still
 * be running - pass VT_WHEN_CANCEL_LOSERS to ask them to stop, and keep the
 * storage until vt_when_settled says true. A vt_when can be used again
 * once it has settled and its task was consumed.
 */
#ifndef VALUETASK_WHEN_H
#define VALUETASK_WHEN_H

#include "common.h"
#include "core.h"
#include "error.h"
#include "source.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_when vt_when;

typedef struct vt_when_node {
	/* read-only: valid for input i once it has completed (always, once the
	 * combination settled) */
	int err;          /* what vt_task_get_result returned for the input */
	vt_value value;   /* its value when err == 0 */
	/* private */
	vt_when *owner;
	vt_task task;
	uint32_t index;
	uint32_t done;
} vt_when_node;

struct vt_when {
	/* private: use the vt_when_* calls */
	vt_source source;     /* first: a vt_when is a vt_source */
	vt_core core;
	vt_when_node *nodes;
	uint32_t n;
	uint32_t remaining;   /* inputs not yet completed */
	int32_t winner;       /* when_any: the first input to complete, or -1 */
	int32_t first_error;  /* when_all: the first error, in completion order */
	uint32_t kind;
	uint32_t flags;
	uint16_t token;       /* the version of the current combination */
	uint16_t started;
};

/* when_any: on the first completion, vt_task_cancel every other input. */
#define VT_WHEN_CANCEL_LOSERS 1u

/* Prepare w; once, before its first use (not while in use). */
VT_API void vt_when_init(vt_when *w);

/*
 * Complete *out when every one of tasks[0..n) has completed: with 0 and the
 * value n if all succeeded, else with the first error (in completion
 * order; an input that could not be awaited, stale or already awaited,
 * counts as completing at once with that code). Each input's own result is
 * in nodes[i]. tasks is read during the call only.
 * 0; VT_EINVAL (NULLs, n == 0 or n >= 2^31; nothing changes);
 * VT_EPENDING (w is still in use: not settled, or its last task not
 * consumed).
 */
VT_API int vt_when_all(vt_when *w, vt_when_node *nodes, const vt_task *tasks, size_t n, vt_task *out);

/*
 * Complete *out as soon as one of tasks[0..n) completes, with the value
 * i64 = its index (the task never faults; the winner's result, error or
 * not, is in nodes[index]). The other inputs are consumed as they
 * complete; with VT_WHEN_CANCEL_LOSERS they are also asked to cancel.
 * Pass only tasks that nobody else awaits: an input already awaited
 * elsewhere counts as completing at once (VT_EAWAITED), but if another
 * input wins while this call is still registering, it may be asked to
 * cancel before the combination learns that (vt_task_cancel is open to
 * any holder of a task).
 * Codes as vt_when_all; flags other than VT_WHEN_CANCEL_LOSERS: VT_EINVAL.
 */
VT_API int vt_when_any(vt_when *w, vt_when_node *nodes, const vt_task *tasks, size_t n, unsigned int flags,
		       vt_task *out);

/* True once every input has completed and w no longer touches its
 * storage (also for a vt_when never started); false for NULL. */
VT_API bool vt_when_settled(const vt_when *w);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_WHEN_H */
