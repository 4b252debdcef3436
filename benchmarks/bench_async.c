/*
 * Question 2: the pooled asynchronous cycle on one thread.
 *
 * One operation = the producer rents a completion source and hands out a
 * task; the awaiter registers a continuation; the producer completes the
 * source, which runs the continuation inline; the continuation reads the
 * result, which releases the source.
 *
 *   valuetask:  vt_promise_rent, vt_promise_task, vt_task_on_completed,
 *               vt_promise_set_result, continuation -> vt_task_get_result
 *               (which returns the promise to its pool)
 *   Task:       malloc + mutex init, on_completed under the mutex,
 *               set_result under the mutex, continuation -> get_result under
 *               the mutex, mutex destroy + free
 *
 * The producer's two steps (start, complete) are opaque calls in both, as an
 * I/O layer's would be. SPEC §5: >= 3x faster than the Task baseline on
 * glibc, >= 2x on jemalloc and mimalloc, 0 allocations per operation after
 * warm-up. Also printed: bench=memory, the bytes one in-flight operation
 * holds (SPEC §5: sizeof a pooled promise <= 64).
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <valuetask.h>

#include "bench.h"
#include "task_baseline.h"

/* ---- valuetask ---------------------------------------------------------- */

struct vt_ctx {
	vt_promise_pool *pool;
	vt_task t;       /* the awaiter's task, read by the continuation */
	int64_t sum;
	uint64_t n, done;
	int err;
};

static void vt_cont(void *state)
{
	struct vt_ctx *c = state;
	vt_value v;
	int rc = vt_task_get_result(c->t, &v); /* consumes: the promise goes home */

	if (VT_UNLIKELY(rc != 0))
		c->err = rc;
	else
		c->sum += v.i64;
	c->done++;
}

/* Producer, step 1: start an operation that will complete later. */
VTB_NOINLINE static vt_task vt_op_start(vt_promise_pool *pool, vt_promise **p, uint16_t *tok)
{
	vt_promise *pr = vt_promise_rent(pool);

	*p = pr;
	*tok = vt_promise_version(pr);
	return vt_promise_task(pr);
}

/* Producer, step 2: the operation completes. */
VTB_NOINLINE static int vt_op_complete(vt_promise *p, uint16_t tok, int64_t v)
{
	return vt_promise_set_result(p, tok, vt_value_i64(v));
}

static void run_vt(void *arg, uint64_t n)
{
	struct vt_ctx *c = arg;
	uint64_t i;

	c->sum = 0;
	c->done = 0;
	c->n = n;
	for (i = 0; i < n; i++) {
		vt_promise *p;
		uint16_t tok;
		int rc;

		c->t = vt_op_start(c->pool, &p, &tok);
		if (VT_UNLIKELY(p == NULL))
			vtb_die("async/valuetask: vt_promise_rent answered NULL (pool exhausted)");
		rc = vt_task_on_completed(c->t, vt_cont, c, NULL);
		if (VT_UNLIKELY(rc != 0))
			vtb_die("async/valuetask: on_completed: %s", vt_strerror(rc));
		rc = vt_op_complete(p, tok, (int64_t)i);
		if (VT_UNLIKELY(rc != 0))
			vtb_die("async/valuetask: set_result: %s", vt_strerror(rc));
	}
}

/* ---- Task baseline ------------------------------------------------------ */

struct task_ctx {
	vtb_ptask *t;
	int64_t sum;
	uint64_t n, done;
	int err;
};

static void task_cont(void *state)
{
	struct task_ctx *c = state;
	int64_t v;

	if (VT_UNLIKELY(vtb_ptask_get_result(c->t, &v) != 0))
		c->err = -1;
	else
		c->sum += v;
	vtb_ptask_free(c->t);
	c->done++;
}

VTB_NOINLINE static vtb_ptask *task_op_start(void)
{
	return vtb_ptask_new();
}

VTB_NOINLINE static int task_op_complete(vtb_ptask *t, int64_t v)
{
	return vtb_ptask_set_result(t, v);
}

static void run_task(void *arg, uint64_t n)
{
	struct task_ctx *c = arg;
	uint64_t i;

	c->sum = 0;
	c->done = 0;
	c->n = n;
	for (i = 0; i < n; i++) {
		vtb_ptask *t = task_op_start();

		if (VT_UNLIKELY(t == NULL))
			vtb_die("async/task: malloc failed");
		c->t = t;
		if (VT_UNLIKELY(vtb_ptask_on_completed(t, task_cont, c, NULL) != 0))
			vtb_die("async/task: on_completed failed");
		if (VT_UNLIKELY(task_op_complete(t, (int64_t)i) != 0))
			vtb_die("async/task: set_result failed");
	}
}

static void check(int64_t sum, uint64_t n, uint64_t done, int err, const char *impl)
{
	int64_t want = (int64_t)(n * (n - 1) / 2);

	if (err != 0 || done != n || sum != want)
		vtb_die("async/%s: %llu of %llu continuations ran, sum %lld (want %lld), error %d",
			impl, (unsigned long long)done, (unsigned long long)n, (long long)sum,
			(long long)want, err);
}

int main(int argc, char **argv)
{
	char task_name[64];
	struct vt_ctx vc;
	struct task_ctx tc;
	vtb_result res[2];
	vtb_serial_case cases[2];
	bool want_vt, want_task;
	int n = 0, rc;

	vtb_init(argc, argv, "bench_async", "valuetask,task");
	vtb_header("bench_async");
	snprintf(task_name, sizeof(task_name), "task-%s", vtb_allocator_name());
	want_vt = vtb_selected("valuetask");
	want_task = vtb_selected("task");
	memset(&vc, 0, sizeof(vc));
	memset(&tc, 0, sizeof(tc));
	memset(res, 0, sizeof(res));
	if (want_vt) {
		rc = vt_promise_pool_create(&vc.pool, NULL);
		if (rc != 0)
			vtb_die("vt_promise_pool_create: %s", vt_strerror(rc));
		res[n].bench = vtb_bench_name("async");
		res[n].impl = "valuetask";
		cases[n].r = &res[n];
		cases[n].fn = run_vt;
		cases[n].ctx = &vc;
		n++;
	}
	if (want_task) {
		res[n].bench = vtb_bench_name("async");
		res[n].impl = task_name;
		cases[n].r = &res[n];
		cases[n].fn = run_task;
		cases[n].ctx = &tc;
		n++;
	}
	vtb_measure_serial_set(cases, n);

	n = 0;
	if (want_vt) {
		vt_pool_stats st;

		check(vc.sum, vc.n, vc.done, vc.err, "valuetask");
		vt_promise_pool_get_stats(vc.pool, &st);
		snprintf(res[n].extra, sizeof(res[n].extra), "pool_slabs=%llu pool_empty_rents=%llu",
			 (unsigned long long)st.slabs, (unsigned long long)st.empty_rents);
		vtb_print(&res[n++]);
		rc = vt_promise_pool_destroy(&vc.pool);
		if (rc != 0)
			vtb_die("vt_promise_pool_destroy: %d promises still out", rc);
	}
	if (want_task) {
		check(tc.sum, tc.n, tc.done, tc.err, task_name);
		vtb_print(&res[n++]);
	}
	if (want_vt)
		printf("bench=%s impl=valuetask alloc=%s threads=1 bytes_op=%zu "
		       "what=sizeof(vt_promise)\n",
		       vtb_bench_name("memory"), vtb_allocator_name(), sizeof(vt_promise));
	if (want_task) {
		vtb_ptask *t = vtb_ptask_new();

		printf("bench=%s impl=%s alloc=%s threads=1 bytes_op=%zu "
		       "what=malloc_usable_size(task) sizeof=%zu\n",
		       vtb_bench_name("memory"), task_name, vtb_allocator_name(),
		       t ? malloc_usable_size(t) : 0, sizeof(vtb_ptask));
		if (t != NULL)
			vtb_ptask_free(t);
	}
	fflush(stdout);
	return 0;
}
