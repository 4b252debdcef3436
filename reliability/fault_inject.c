/*
 * Fault injection: fail every allocation site in turn.
 *
 * A scenario (create a pool, rent it to capacity so that it grows, return,
 * rent again, destroy) is run once to count its allocations, n. Then for
 * k = 1..n it runs again with the k-th allocation failing. Every failure
 * must answer VT_ENOMEM (create) or NULL (a rent that needed a new slab),
 * change nothing, leave the pool usable (the same rent succeeds once the
 * allocator recovers) and leak nothing (live bytes back to zero).
 *
 * Two builds of this file:
 *  - fault_inject: through vt_pool_config.allocator, the hook;
 *  - fault_inject_wrap (-DVT_WRAP_LIBC): with no hook, the library's own
 *    malloc/posix_memalign/free calls are redirected here by the linker
 *    (-Wl,--wrap), so the default allocator's paths are walked too, and any
 *    allocation that bypasses the hook would show up as a count mismatch.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

/* ---- the counting allocator ----------------------------------------------- */

static struct {
	bool armed;          /* count only inside a scenario */
	uint64_t calls;      /* allocation calls so far */
	uint64_t fail_at;    /* fail this call (1-based); 0 = never */
	uint64_t failures;   /* failures injected */
	uint64_t live_bytes; /* allocated and not yet freed */
	uint64_t live_blocks;
} A;

/* Decide the fate of one allocation call. */
static bool alloc_should_fail(void)
{
	if (!A.armed)
		return false;
	A.calls++;
	if (A.calls == A.fail_at) {
		A.failures++;
		return true;
	}
	return false;
}

#ifndef VT_WRAP_LIBC

static void *hook_alloc(size_t size, size_t align, void *ctx)
{
	void *ptr = NULL;

	CHECK(ctx == &A);
	if (alloc_should_fail())
		return NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&ptr, align, size) != 0)
		return NULL;
	A.live_bytes += size;
	A.live_blocks++;
	return ptr;
}

static void hook_free(void *ptr, size_t size, void *ctx)
{
	CHECK(ctx == &A);
	CHECK(ptr != NULL);
	CHECK(A.live_bytes >= size && A.live_blocks > 0);
	A.live_bytes -= size;
	A.live_blocks--;
	free(ptr);
}

static void set_allocator(vt_pool_config *cfg)
{
	cfg->allocator.alloc = hook_alloc;
	cfg->allocator.free = hook_free;
	cfg->allocator.ctx = &A;
}
#define MODE "allocator hook"

#else /* VT_WRAP_LIBC: the library's libc calls come here */

void *__real_malloc(size_t size);
void __real_free(void *ptr);
int __real_posix_memalign(void **out, size_t align, size_t size);
void *__wrap_malloc(size_t size);
void __wrap_free(void *ptr);
int __wrap_posix_memalign(void **out, size_t align, size_t size);

/* Live blocks by address, so that free knows the size. */
#define TRACK 1024
static struct {
	void *ptr;
	size_t size;
} T[TRACK];

static void track(void *ptr, size_t size)
{
	for (size_t i = 0; i < TRACK; i++) {
		if (T[i].ptr == NULL) {
			T[i].ptr = ptr;
			T[i].size = size;
			A.live_bytes += size;
			A.live_blocks++;
			return;
		}
	}
	CHECK(!"tracking table full");
}

void *__wrap_malloc(size_t size)
{
	void *ptr;

	if (alloc_should_fail())
		return NULL;
	ptr = __real_malloc(size);
	if (ptr != NULL && A.armed)
		track(ptr, size);
	return ptr;
}

int __wrap_posix_memalign(void **out, size_t align, size_t size)
{
	int rc;

	if (alloc_should_fail())
		return 12; /* ENOMEM */
	rc = __real_posix_memalign(out, align, size);
	if (rc == 0 && A.armed)
		track(*out, size);
	return rc;
}

void __wrap_free(void *ptr)
{
	if (ptr != NULL) {
		for (size_t i = 0; i < TRACK; i++) {
			if (T[i].ptr == ptr) {
				A.live_bytes -= T[i].size;
				A.live_blocks--;
				T[i].ptr = NULL;
				break;
			}
		}
	}
	__real_free(ptr);
}

static void set_allocator(vt_pool_config *cfg)
{
	memset(&cfg->allocator, 0, sizeof(cfg->allocator));
}
#define MODE "libc (default allocator, -Wl,--wrap)"

#endif

static void arm(uint64_t fail_at)
{
	A.armed = true;
	A.calls = 0;
	A.fail_at = fail_at;
	A.failures = 0;
	CHECK_EQ(A.live_bytes, 0);
}

/* ---- scenarios -------------------------------------------------------------- */

static void pool_config(vt_pool_config *cfg)
{
	vt_pool_config_default(cfg);
	cfg->object_size = 40;
	cfg->object_align = 16;
	cfg->capacity = 10;
	cfg->slab_objects = 4; /* slabs of 4, 4, 2: growth at the 5th and 9th rent */
	cfg->initial_objects = 4;
	cfg->cache_size = 4;
	cfg->max_threads = 3;
	set_allocator(cfg);
}

/* Rent, retrying once after an injected failure; checks the failure's contract. */
static void *rent_checked(vt_pool *pool, vt_promise_pool *pp)
{
	uint64_t before = A.failures;
	void *obj = pool != NULL ? vt_pool_rent(pool) : (void *)vt_promise_rent(pp);

	if (obj == NULL) {
		/* Only an injected growth failure may refuse a rent below capacity. */
		CHECK_EQ(A.failures, before + 1);
		obj = pool != NULL ? vt_pool_rent(pool) : (void *)vt_promise_rent(pp);
		CHECK(obj != NULL); /* the allocator recovered: the pool is usable */
	}
	return obj;
}

/* Generic pool. Returns the number of allocation calls it made. */
static uint64_t scenario_pool(uint64_t fail_at)
{
	vt_pool_config cfg;
	vt_pool *pool = (vt_pool *)(uintptr_t)0x1; /* must stay untouched on failure */
	vt_pool_stats st;
	void *objs[10];
	int rc;

	pool_config(&cfg);
	arm(fail_at);
	rc = vt_pool_create(&pool, &cfg);
	if (rc != 0) {
		CHECK_EQ(rc, VT_ENOMEM);
		CHECK_EQ(A.failures, 1);
		CHECK(pool == (vt_pool *)(uintptr_t)0x1);
		CHECK_EQ(A.live_bytes, 0);
		CHECK_EQ(A.live_blocks, 0);
		A.armed = false;
		return A.calls;
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 10; i++) {
			objs[i] = rent_checked(pool, NULL);
			memset(objs[i], 0xa5, cfg.object_size); /* the whole object is ours */
		}
		uint64_t calls = A.calls;
		CHECK(vt_pool_rent(pool) == NULL); /* at capacity: exhausted ... */
		CHECK_EQ(A.calls, calls);          /* ... without trying to allocate */
		for (int i = 0; i < 10; i++)
			vt_pool_return(pool, objs[i]);
	}
	vt_pool_get_stats(pool, &st);
	CHECK_EQ(st.rented, 0);
	CHECK_EQ(st.created, 10);
	CHECK_EQ(st.rents, st.returns);
	CHECK_EQ(vt_pool_destroy(&pool), 0);
	CHECK(pool == NULL);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	CHECK(A.failures <= 1);
	A.armed = false;
	return A.calls;
}

static int cont_runs;
static void count_cont(void *state)
{
	(void)state;
	cont_runs++;
}

/* Promise pool: its own allocation plus the pool's. */
static uint64_t scenario_promise(uint64_t fail_at)
{
	vt_pool_config cfg;
	vt_promise_pool *pp = (vt_promise_pool *)(uintptr_t)0x1;
	vt_promise *ps[10];
	vt_pool_stats st;
	int rc;

	pool_config(&cfg);
	arm(fail_at);
	rc = vt_promise_pool_create(&pp, &cfg);
	if (rc != 0) {
		CHECK_EQ(rc, VT_ENOMEM);
		CHECK_EQ(A.failures, 1);
		CHECK(pp == (vt_promise_pool *)(uintptr_t)0x1);
		CHECK_EQ(A.live_bytes, 0);
		CHECK_EQ(A.live_blocks, 0);
		A.armed = false;
		return A.calls;
	}
	for (int round = 0; round < 2; round++) {
		cont_runs = 0;
		for (int i = 0; i < 10; i++) {
			ps[i] = rent_checked(NULL, pp);
			CHECK_EQ(vt_task_on_completed(vt_promise_task(ps[i]), count_cont, NULL, NULL), 0);
		}
		CHECK(vt_promise_rent(pp) == NULL);
		for (int i = 0; i < 10; i++) {
			vt_task t = vt_promise_task(ps[i]);
			vt_value v;
			CHECK_EQ(vt_promise_set_result(ps[i], vt_promise_version(ps[i]), vt_value_i64(i)), 0);
			CHECK_EQ(vt_task_get_result(t, &v), 0);
			CHECK_EQ(v.i64, i);
			CHECK_EQ(vt_task_get_result(t, &v), VT_ETOKEN);
		}
		CHECK_EQ(cont_runs, 10);
	}
	vt_promise_pool_get_stats(pp, &st);
	CHECK_EQ(st.rented, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
	CHECK(pp == NULL);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	A.armed = false;
	return A.calls;
}

static uint64_t walk(const char *name, uint64_t (*scenario)(uint64_t))
{
	uint64_t n = scenario(0);

	CHECK(n > 0);
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t calls = scenario(k);
		CHECK_EQ(A.failures, 1); /* the k-th call happened and failed */
		CHECK(calls <= n + 1); /* + the retry of a failed growth */
	}
	/* And once more clean: nothing global was damaged by the failures. */
	CHECK_EQ(scenario(0), n);
	printf("fault_inject: %s via %s: %" PRIu64 " allocation sites, %" PRIu64 " faults injected, all answered, nothing leaked\n",
	       name, MODE, n, n);
	return n;
}

int main(void)
{
	uint64_t total = 0;

	total += walk("vt_pool", scenario_pool);
	total += walk("vt_promise_pool", scenario_promise);
	printf("fault_inject: %" PRIu64 " faults injected in total (%s)\n", total, MODE);
	return 0;
}
