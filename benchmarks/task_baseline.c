/*
 * valuetask benchmarks: the "Task" baseline (see task_baseline.h).
 */
#include "task_baseline.h"

#include <stdlib.h>

vtb_ptask *vtb_ptask_new(void)
{
	vtb_ptask *t = malloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	t->completed = 0;
	t->value = 0;
	t->fn = NULL;
	t->fn_state = NULL;
	t->fn_ex = NULL;
	return t;
}

int vtb_ptask_on_completed(vtb_ptask *t, vt_continuation fn, void *state, vt_executor *ex)
{
	pthread_mutex_lock(&t->mu);
	if (t->fn != NULL) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	if (t->completed) {
		t->fn = fn; /* marks it awaited */
		pthread_mutex_unlock(&t->mu);
		vt_executor_dispatch(ex, fn, state);
		return 0;
	}
	t->fn = fn;
	t->fn_state = state;
	t->fn_ex = ex;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int vtb_ptask_set_result(vtb_ptask *t, int64_t v)
{
	vt_continuation fn;
	void *st;
	vt_executor *ex;

	pthread_mutex_lock(&t->mu);
	if (t->completed) {
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	t->value = v;
	t->completed = 1;
	fn = t->fn;
	st = t->fn_state;
	ex = t->fn_ex;
	pthread_mutex_unlock(&t->mu);
	if (fn != NULL)
		vt_executor_dispatch(ex, fn, st);
	return 0;
}

int vtb_ptask_get_result(vtb_ptask *t, int64_t *out)
{
	int rc = -1;

	pthread_mutex_lock(&t->mu);
	if (t->completed) {
		*out = t->value;
		rc = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void vtb_ptask_free(vtb_ptask *t)
{
	pthread_mutex_destroy(&t->mu);
	free(t);
}
