/*
 * Question 3: the pooled asynchronous cycle across two threads.
 *
 * Thread A (the awaiter) starts operations: it rents a source, registers a
 * continuation on its task and sends the request to thread C (the completer)
 * through an SPSC queue, keeping up to --window operations in flight. C
 * completes each request in order. Two modes:
 *
 *   post    the continuation is posted back to A through a second SPSC queue
 *           (a vt_executor); A runs it, reads the result and so releases the
 *           source on the thread that rented it;
 *   inline  the continuation runs on C as part of set_result (the default
 *           when no executor is given); the result is read and the source
 *           released on C, so sources move from A's side to C's.
 *
 * valuetask uses vt_promise / vt_task; the Task baseline a malloc'd,
 * mutex-protected object per operation (task_baseline.h), freed after its
 * result is read. Both use the same queues and executor.
 *
 * Throughput is operations completed per second (ops_s). Latency is the
 * handoff: from just before C calls set_result to just after the
 * continuation has read the result (TSC, synchronised across cores; one
 * operation in --sample-every is timed), queueing included. SPEC §5: >= 2x
 * the baseline's throughput.
 *
 * The window (--window, default 256 in flight) matters: every exchange
 * between the two threads costs a cross-core round trip, 2 to 3 us on this
 * VM under load, and with few operations in flight that cost, the same for
 * both implementations, is all the row shows (at --window 4 both run at
 * about 2.2 us per operation). 256 in flight amortises it, as a busy server
 * with many connections does, and leaves the per-operation costs visible.
 */
#include <stdio.h>
#include <string.h>

#include <valuetask.h>

#include "bench.h"
#include "pool_row.h"
#include "spsc.h"
#include "task_baseline.h"

enum { IMPL_VT, IMPL_TASK };
enum { MODE_POST, MODE_INLINE };

struct xstate;

/* One in-flight operation; A reuses them round robin (completion is FIFO). */
struct xop {
	vt_task t;
	vt_promise *p;
	vtb_ptask *pt;
	uint16_t tok;
	int sampled;
	uint64_t stamp;        /* written by C before set_result */
	struct xstate *x;
};

struct post_exec {
	vt_executor base;
	vtb_spsc *q;
};

struct xstate {
	int impl, mode;
	unsigned window;
	vt_promise_pool *pool;
	struct post_exec ex;
	vtb_spsc req;          /* A -> C: operations to complete */
	vtb_spsc done;         /* C -> A: posted continuations */
	struct xop *ops;
	vtb_thread *cont_th;   /* the thread that runs continuations (latency samples) */
	/* written only by the thread that runs continuations */
	_Alignas(64) uint64_t completed;
	int64_t sum;
	int err;
	_Alignas(64) int a_done; /* A has drained and stopped; C may stop */
	char pad[60];
};

static int post_to_awaiter(vt_executor *self, vt_continuation fn, void *state)
{
	struct post_exec *e = (struct post_exec *)self;
	vtb_spsc_item it = { NULL, state, fn };

	return vtb_spsc_push(e->q, it) ? 0 : -1;
}

static void finish_op(struct xop *op, int rc, int64_t v)
{
	struct xstate *x = op->x;

	if (VT_UNLIKELY(rc != 0))
		x->err = rc;
	else
		x->sum += v;
	if (op->sampled)
		vtb_samples_add(&x->cont_th->lat, vtb_ticks() - op->stamp);
	/* release: pairs with A's acquire in its window check, so A reuses
	 * this xop only after we are done with it. */
	__atomic_store_n(&x->completed, x->completed + 1, __ATOMIC_RELEASE);
}

static void vt_x_cont(void *state)
{
	struct xop *op = state;
	vt_value v;
	int rc = vt_task_get_result(op->t, &v); /* consumes: the promise goes home */

	finish_op(op, rc, v.i64);
}

static void task_x_cont(void *state)
{
	struct xop *op = state;
	int64_t v = 0;
	int rc = vtb_ptask_get_result(op->pt, &v);

	vtb_ptask_free(op->pt);
	finish_op(op, rc, v);
}

static void issue(struct xstate *x, uint64_t seq)
{
	struct xop *op = &x->ops[seq % x->window];
	vt_executor *ex = x->mode == MODE_POST ? &x->ex.base : NULL;
	vtb_spsc_item it;
	int rc;

	op->sampled = vtb_opt.sample_every > 0 && seq % (uint64_t)vtb_opt.sample_every == 0;
	if (x->impl == IMPL_VT) {
		op->p = vt_promise_rent(x->pool);
		if (VT_UNLIKELY(op->p == NULL))
			vtb_die("xthread/valuetask: vt_promise_rent answered NULL with %u in flight",
				x->window);
		op->tok = vt_promise_version(op->p);
		op->t = vt_promise_task(op->p);
		rc = vt_task_on_completed(op->t, vt_x_cont, op, ex);
		if (VT_UNLIKELY(rc != 0))
			vtb_die("xthread/valuetask: on_completed: %s", vt_strerror(rc));
	} else {
		op->pt = vtb_ptask_new();
		if (VT_UNLIKELY(op->pt == NULL))
			vtb_die("xthread/task: malloc failed");
		if (VT_UNLIKELY(vtb_ptask_on_completed(op->pt, task_x_cont, op, ex) != 0))
			vtb_die("xthread/task: on_completed failed");
	}
	it.obj = NULL;
	it.ctx = op;
	it.fn = NULL;
	if (!vtb_spsc_push(&x->req, it)) /* cannot happen: window < queue size */
		vtb_die("xthread: request queue full");
}

static void awaiter(vtb_thread *th, struct xstate *x)
{
	uint64_t issued = 0;
	unsigned spins = 0;

	x->completed = 0;
	x->sum = 0;
	x->a_done = 0;
	if (x->mode == MODE_POST)
		x->cont_th = th; /* C fills it in for inline */
	vtb_thread_start(th);
	for (;;) {
		bool stop = vtb_stop_requested();
		bool progress = false;
		vtb_spsc_item it;

		if (!stop) {
			/* acquire: pairs with finish_op's release */
			uint64_t done = __atomic_load_n(&x->completed, __ATOMIC_ACQUIRE);

			while (issued - done < x->window) {
				issue(x, issued++);
				progress = true;
			}
		}
		if (x->mode == MODE_POST) {
			while (vtb_spsc_pop(&x->done, &it)) {
				it.fn(it.ctx);
				progress = true;
			}
		}
		if (stop && __atomic_load_n(&x->completed, __ATOMIC_ACQUIRE) == issued)
			break;
		if (progress)
			spins = 0;
		else
			vtb_relax(&spins);
	}
	vtb_thread_finish(th, issued);
	__atomic_store_n(&x->a_done, 1, __ATOMIC_RELEASE); /* pairs with C's acquire */
}

static void completer(vtb_thread *th, struct xstate *x)
{
	int64_t seq = 0;
	unsigned spins = 0;

	if (x->mode == MODE_INLINE)
		x->cont_th = th;
	vtb_thread_start(th);
	for (;;) {
		vtb_spsc_item it;

		if (vtb_spsc_pop(&x->req, &it)) {
			struct xop *op = it.ctx;
			int rc;

			if (op->sampled)
				op->stamp = vtb_ticks();
			if (x->impl == IMPL_VT)
				rc = vt_promise_set_result(op->p, op->tok, vt_value_i64(seq));
			else
				rc = vtb_ptask_set_result(op->pt, seq);
			/* op may be reused by A from here on: do not touch it. */
			if (VT_UNLIKELY(rc != 0))
				vtb_die("xthread: set_result failed: %d", rc);
			seq++;
			spins = 0;
		} else if (__atomic_load_n(&x->a_done, __ATOMIC_ACQUIRE)) {
			break;
		} else {
			vtb_relax(&spins);
		}
	}
	vtb_thread_finish(th, 0);
}

static void worker(vtb_thread *th)
{
	struct xstate *x = th->arg;

	if (th->id == 0)
		awaiter(th, x);
	else
		completer(th, x);
}

static struct xstate *xstate_new(int impl, int mode)
{
	struct xstate *x = aligned_alloc(64, (sizeof(struct xstate) + 63) & ~(size_t)63);
	int rc;

	if (x == NULL)
		vtb_die("out of memory");
	memset(x, 0, sizeof(*x));
	x->impl = impl;
	x->mode = mode;
	x->window = (unsigned)vtb_opt.window;
	x->ops = calloc(x->window, sizeof(struct xop));
	if (x->ops == NULL || vtb_spsc_init(&x->req, 2048) != 0 || vtb_spsc_init(&x->done, 2048) != 0)
		vtb_die("out of memory");
	for (unsigned i = 0; i < x->window; i++)
		x->ops[i].x = x;
	x->ex.base.post = post_to_awaiter;
	x->ex.q = &x->done;
	if (impl == IMPL_VT) {
		vt_pool_config cfg;

		vt_pool_config_default(&cfg);
		if (cfg.capacity < 4 * x->window)
			cfg.capacity = 4 * x->window;
		rc = vt_promise_pool_create(&x->pool, &cfg);
		if (rc != 0)
			vtb_die("vt_promise_pool_create: %s", vt_strerror(rc));
	}
	return x;
}

/* Check the last run's results, print the row, release everything. */
static void xstate_finish(struct xstate *x, vtb_result *r)
{
	int rc;

	if (x->err != 0 || x->sum != (int64_t)(x->completed * (x->completed - 1) / 2))
		vtb_die("xthread/%s: wrong results: sum %lld over %llu ops, error %d", r->impl,
			(long long)x->sum, (unsigned long long)x->completed, x->err);
	snprintf(r->extra, sizeof(r->extra), "window=%u", x->window);
	if (x->impl == IMPL_VT) {
		vt_pool_stats st;

		vt_promise_pool_get_stats(x->pool, &st);
		vtb_append_pool_stats(r->extra, sizeof(r->extra), &st);
		snprintf(r->extra + strlen(r->extra), sizeof(r->extra) - strlen(r->extra), " pool_slabs=%llu",
			 (unsigned long long)st.slabs);
	}
	vtb_print(r);
	vtb_result_free(r);
	if (x->impl == IMPL_VT && (rc = vt_promise_pool_destroy(&x->pool)) != 0)
		vtb_die("xthread/valuetask: %d promises still out at destroy", rc);
	vtb_spsc_fini(&x->req);
	vtb_spsc_fini(&x->done);
	free(x->ops);
	free(x);
}

int main(int argc, char **argv)
{
	char task_name[64];
	struct xstate *xs[4];
	vtb_result res[4];
	vtb_thread_case cases[4];
	int n = 0;

	vtb_init(argc, argv, "bench_xthread", "valuetask,task");
	if (vtb_opt.window >= 2048)
		vtb_die("--window must be below 2048 (the queue size)");
	vtb_header("bench_xthread");
	snprintf(task_name, sizeof(task_name), "task-%s", vtb_allocator_name());
	memset(res, 0, sizeof(res));
	memset(cases, 0, sizeof(cases));
	for (int mode = MODE_POST; mode <= MODE_INLINE; mode++) {
		for (int impl = IMPL_VT; impl <= IMPL_TASK; impl++) {
			if (!vtb_selected(impl == IMPL_VT ? "valuetask" : "task"))
				continue;
			xs[n] = xstate_new(impl, mode);
			res[n].bench = mode == MODE_POST ? "xthread_post" : "xthread_inline";
			res[n].impl = impl == IMPL_VT ? "valuetask" : task_name;
			cases[n].r = &res[n];
			cases[n].nthreads = 2;
			cases[n].worker = worker;
			cases[n].arg = xs[n];
			cases[n].want_lat = true;
			n++;
		}
	}
	if (vtb_measure_threads_set(cases, n) != 0)
		vtb_die("xthread: a run failed");
	for (int i = 0; i < n; i++)
		xstate_finish(xs[i], &res[i]);
	return 0;
}
