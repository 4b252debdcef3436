/*
 * valuetask benchmarks: the "Task" baseline of SPEC §5.
 *
 * What C servers do today: a heap-allocated completion object per operation,
 * protected by a pthread mutex, freed after its result is read. It has the
 * same steps as a pooled promise (create, await, complete, continuation,
 * read, free) and runs continuations the same way (vt_executor_dispatch:
 * posted to an executor when one is given, else inline), so that the two
 * differ only in how the object is obtained and synchronised.
 *
 * The calls live in task_baseline.c, a separate translation unit, as they
 * would in the application's own module; the executables link it statically
 * (no PLT), like valuetask's static archive.
 */
#ifndef VTB_TASK_BASELINE_H
#define VTB_TASK_BASELINE_H

#include <pthread.h>
#include <stdint.h>

#include <valuetask.h>

typedef struct vtb_ptask {
	pthread_mutex_t mu;
	int completed;          /* under mu */
	int64_t value;          /* under mu */
	vt_continuation fn;     /* under mu: registered continuation */
	void *fn_state;
	vt_executor *fn_ex;
} vtb_ptask;

/* malloc + pthread_mutex_init; NULL when malloc fails. */
vtb_ptask *vtb_ptask_new(void);
/* Register fn; runs it now (via ex, else inline) when already completed.
 * 0, or -1 when a continuation is already registered. */
int vtb_ptask_on_completed(vtb_ptask *t, vt_continuation fn, void *state, vt_executor *ex);
/* Store v, complete, run the registered continuation. 0, or -1 if completed. */
int vtb_ptask_set_result(vtb_ptask *t, int64_t v);
/* Read the result: 0 and *out, or -1 while pending. */
int vtb_ptask_get_result(vtb_ptask *t, int64_t *out);
/* pthread_mutex_destroy + free. */
void vtb_ptask_free(vtb_ptask *t);

#endif /* VTB_TASK_BASELINE_H */
