/*
 * Question 1: synchronous completion.
 *
 * An operation that completes at once hands its result back as a task.
 * valuetask: vt_task_from_value() in the operation, vt_task_get_result() in
 * the caller (after the documented vt_task_is_completed() check): no
 * allocation, no atomics. Task baseline: the operation allocates a
 * mutex-protected completion object, completes it, and the caller reads the
 * result under the mutex and frees the object.
 *
 * The operation is an opaque call (VTB_NOINLINE) in both, so the caller
 * cannot see through it: that call (about 5 cycles) is common to both and is
 * most of valuetask's cost. valuetask-inline (information only) inlines the
 * operation and hides the task's contents from the optimiser with an empty
 * asm, so the check and the read still run: that is the floor.
 * SPEC §5: >= 20x faster than the baseline, 0 allocations.
 */
#include <stdio.h>
#include <string.h>

#include <valuetask.h>

#include "bench.h"
#include "task_baseline.h"

struct sync_ctx {
	int64_t sum;
	uint64_t n;
};

/* ---- valuetask ---------------------------------------------------------- */

VTB_NOINLINE static vt_task vt_op(int64_t i)
{
	return vt_task_from_value(vt_value_i64(i));
}

static void run_vt(void *arg, uint64_t n)
{
	struct sync_ctx *c = arg;
	int64_t sum = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		vt_task t = vt_op((int64_t)i);
		vt_value v;

		if (VT_UNLIKELY(!vt_task_is_completed(t) || vt_task_get_result(t, &v) != 0))
			vtb_die("sync/valuetask: a value task was not readable");
		sum += v.i64;
	}
	c->sum = sum;
	c->n = n;
}

static void run_vt_inline(void *arg, uint64_t n)
{
	struct sync_ctx *c = arg;
	int64_t sum = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		vt_task t = vt_task_from_value(vt_value_i64((int64_t)i));
		uint64_t w[2];
		vt_value v;

		/* The optimiser must not know what the task holds. */
		memcpy(w, &t, sizeof(w));
		__asm__ volatile("" : "+r"(w[0]), "+r"(w[1]));
		memcpy(&t, w, sizeof(w));
		if (VT_UNLIKELY(!vt_task_is_completed(t) || vt_task_get_result(t, &v) != 0))
			vtb_die("sync/valuetask-inline: a value task was not readable");
		sum += v.i64;
	}
	c->sum = sum;
	c->n = n;
}

_Static_assert(sizeof(vt_task) == 16, "vt_task is two words (SPEC 4.3)");

/* ---- Task baseline ------------------------------------------------------ */

VTB_NOINLINE static vtb_ptask *task_op(int64_t i)
{
	vtb_ptask *t = vtb_ptask_new();

	if (t != NULL)
		vtb_ptask_set_result(t, i);
	return t;
}

static void run_task(void *arg, uint64_t n)
{
	struct sync_ctx *c = arg;
	int64_t sum = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		vtb_ptask *t = task_op((int64_t)i);
		int64_t v;

		if (VT_UNLIKELY(t == NULL || vtb_ptask_get_result(t, &v) != 0))
			vtb_die("sync/task: allocation failed or result missing");
		sum += v;
		vtb_ptask_free(t);
	}
	c->sum = sum;
	c->n = n;
}

static void check(const struct sync_ctx *c, const char *impl)
{
	int64_t want = (int64_t)(c->n * (c->n - 1) / 2);

	if (c->sum != want)
		vtb_die("sync/%s: sum %lld, want %lld", impl, (long long)c->sum, (long long)want);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void *, uint64_t);
	} impls[] = {
		{ "valuetask", run_vt },
		{ "valuetask-inline", run_vt_inline },
		{ "task", run_task },
	};
	char task_name[64];
	struct sync_ctx ctx[3];
	vtb_result res[3];
	vtb_serial_case cases[3];
	int n = 0;

	vtb_init(argc, argv, "bench_sync", "valuetask,valuetask-inline,task");
	vtb_header("bench_sync");
	snprintf(task_name, sizeof(task_name), "task-%s", vtb_allocator_name());
	memset(ctx, 0, sizeof(ctx));
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 3; i++) {
		if (!vtb_selected(impls[i].name))
			continue;
		res[n].bench = vtb_bench_name("sync");
		res[n].impl = strcmp(impls[i].name, "task") == 0 ? task_name : impls[i].name;
		cases[n].r = &res[n];
		cases[n].fn = impls[i].fn;
		cases[n].ctx = &ctx[n];
		n++;
	}
	vtb_measure_serial_set(cases, n);
	for (int i = 0; i < n; i++) {
		check(&ctx[i], res[i].impl);
		vtb_print(&res[i]);
	}
	return 0;
}
