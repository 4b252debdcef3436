/*
 * The 16-bit version window, shown and measured.
 *
 * A task carries its source's 16-bit version. After exactly 65536 further
 * rentals of the same promise the version has wrapped, and the stale task
 * matches the new rental: in a normal build it sees that rental's status and
 * can consume its result (ABA). With -Dgeneration_check=true the promise
 * keeps a wider epoch and the stale task answers VT_ETOKEN.
 *
 * It also measures how soon that happens for a hot promise under the pool's
 * reuse order: the thread cache is a LIFO stack, and a thread that keeps k
 * operations in flight reuses each of its promises every k rentals.
 * Timings are printed, never asserted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <valuetask.h>

#include "check.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One full cycle on p: complete and consume through its task. */
static void cycle(vt_promise *p, int64_t v)
{
	vt_value out;
	vt_task t = vt_promise_task(p);

	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(v)), 0);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, v);
}

/* The window itself: capacity 1, so every rental is the same promise. */
static void show_window(void)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	vt_value out;

	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);

	vt_promise *p = vt_promise_rent(pp);
	CHECK(p != NULL);
	vt_task old = vt_promise_task(p);
	cycle(p, 1); /* old is consumed: stale from here on */
	CHECK_EQ(vt_task_status(old), VT_ETOKEN);

	/* 65535 more rentals bring the version to old's token - 1 ... */
	vt_task second = old;
	for (uint32_t i = 1; i < 65536; i++) {
		CHECK(vt_promise_rent(pp) == p);
		CHECK_EQ(vt_task_status(old), VT_ETOKEN);
		if (i == 1)
			second = vt_promise_task(p);
		cycle(p, 2);
	}
	/* ... and the 65537th rental is back at old's token. */
	CHECK(vt_promise_rent(pp) == p);
	vt_task fresh = vt_promise_task(p);
	CHECK_EQ(vt_task_token(fresh), vt_task_token(old));
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(42)), 0);

#ifdef VT_GENERATION_CHECK
	/* Debug build: the stale task is caught, the rightful one unharmed. */
	CHECK_EQ(vt_task_status(old), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(old, &out), VT_ETOKEN);
	CHECK_EQ(vt_task_status(fresh), VT_SUCCEEDED);
	CHECK_EQ(vt_task_get_result(fresh, &out), 0);
	CHECK_EQ(out.i64, 42);
	printf("aba_window: generation check ON: the stale task answered VT_ETOKEN after 65536 reuses\n");
#else
	/* Normal build: the stale task matches the new rental and steals its
	 * result; the rightful task then finds itself stale. This is the
	 * documented window, not a bug the normal build claims to catch. */
	CHECK_EQ(vt_task_status(old), VT_SUCCEEDED);
	CHECK_EQ(vt_task_get_result(old, &out), 0);
	CHECK_EQ(out.i64, 42);
	CHECK_EQ(vt_task_get_result(fresh, &out), VT_ETOKEN);
	printf("aba_window: generation check off: a stale task matched (and consumed) the rental 65536 reuses later\n");
#endif
	/* The next rental is back at the second rental's token. */
	CHECK(vt_promise_rent(pp) == p);
	CHECK_EQ(vt_task_token(vt_promise_task(p)), vt_task_token(second));
#ifdef VT_GENERATION_CHECK
	/* The epoch moved for every version after the wrap, not only for the
	 * one the wrap landed on: this handle is caught too. */
	CHECK_EQ(vt_task_status(second), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(second, &out), VT_ETOKEN);
#else
	CHECK_EQ(vt_task_status(second), VT_PENDING); /* the same window */
#endif
	cycle(p, 3);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * Time until one promise has been reused 65536 times, with `inflight`
 * operations outstanding on this thread (default pool configuration).
 */
static double measure_once(uint32_t inflight, uint64_t *rentals_out);

/* Best of three: the VM's noise only ever adds time. */
static void measure(uint32_t inflight)
{
	uint64_t rentals = 0;
	double best = 0;

	for (int i = 0; i < 3; i++) {
		double ns = measure_once(inflight, &rentals);
		if (i == 0 || ns < best)
			best = ns;
	}
	printf("aba_window: %u in flight on one thread: 65536 reuses of one promise after %" PRIu64
	       " rentals, %.2f ms (%.1f ns per rental, best of 3)\n",
	       inflight, rentals, best / 1e6, best / (double)rentals);
}

static double measure_once(uint32_t inflight, uint64_t *rentals_out)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	vt_promise *ring[64];
	uint64_t rentals = 0, reuses = 0;

	vt_pool_config_default(&cfg);
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	for (uint32_t i = 0; i < inflight; i++) {
		ring[i] = vt_promise_rent(pp);
		CHECK(ring[i] != NULL);
	}
	vt_promise *hot = ring[0];
	double t0 = now_ns();
	/* Complete the oldest, rent a new one in its place: FIFO, k in flight. */
	for (uint32_t i = 0; reuses < 65536; i = (i + 1) % inflight) {
		cycle(ring[i], (int64_t)rentals);
		ring[i] = vt_promise_rent(pp);
		CHECK(ring[i] != NULL);
		rentals++;
		if (ring[i] == hot)
			reuses++;
	}
	double ns = now_ns() - t0;
	for (uint32_t i = 0; i < inflight; i++)
		cycle(ring[i], 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
	*rentals_out = rentals;
	return ns;
}

int main(void)
{
	show_window();
	measure(1);
	measure(16);
	measure(64);
	return 0;
}
