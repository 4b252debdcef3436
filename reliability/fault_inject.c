/*
 * Fault injection: fail every allocation site in turn.
 *
 * A scenario (create a pool, rent it to capacity so that it grows, return,
 * rent again, destroy; likewise a promise pool, a shared pool, a thread
 * pool, a loop, and vt_task_then's nodes) is run once to count its
 * allocations, n. Then for
 * k = 1..n it runs again with the k-th allocation failing. Every failure
 * must answer VT_ENOMEM (create) or NULL (a rent that needed a new slab),
 * change nothing, leave the pool usable (the same rent succeeds once the
 * allocator recovers; a failed create is retried and the object used) and
 * leak nothing (live bytes back to zero). then()'s nodes are never freed
 * (recycled for the process), so its walk runs last and checks that a
 * failure keeps nothing and that the blocks kept are exactly those in use.
 *
 * Two builds of this file:
 *  - fault_inject: through vt_pool_config.allocator, the hook;
 *  - fault_inject_wrap (-DVT_WRAP_LIBC): with no hook, the library's own
 *    malloc/posix_memalign/free calls are redirected here by the linker
 *    (-Wl,--wrap), so the default allocator's paths are walked too, and any
 *    allocation that bypasses the hook would show up as a count mismatch.
 */
#include <pthread.h>
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

/* Executors' threads may free; the hooks take this lock. */
static pthread_mutex_t A_lock = PTHREAD_MUTEX_INITIALIZER;

/* Decide the fate of one allocation call (under A_lock). */
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
	CHECK(align != 0 && (align & (align - 1)) == 0);
	pthread_mutex_lock(&A_lock);
	if (alloc_should_fail()) {
		pthread_mutex_unlock(&A_lock);
		return NULL;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&ptr, align, size) != 0) {
		pthread_mutex_unlock(&A_lock);
		return NULL;
	}
	A.live_bytes += size;
	A.live_blocks++;
	pthread_mutex_unlock(&A_lock);
	return ptr;
}

static void hook_free(void *ptr, size_t size, void *ctx)
{
	CHECK(ctx == &A);
	CHECK(ptr != NULL);
	pthread_mutex_lock(&A_lock);
	CHECK(A.live_bytes >= size && A.live_blocks > 0);
	A.live_bytes -= size;
	A.live_blocks--;
	pthread_mutex_unlock(&A_lock);
	free(ptr);
}

static void set_hook(vt_allocator *a)
{
	a->alloc = hook_alloc;
	a->free = hook_free;
	a->ctx = &A;
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
	void *ptr = NULL;

	pthread_mutex_lock(&A_lock);
	if (!alloc_should_fail()) {
		ptr = __real_malloc(size);
		if (ptr != NULL && A.armed)
			track(ptr, size);
	}
	pthread_mutex_unlock(&A_lock);
	return ptr;
}

int __wrap_posix_memalign(void **out, size_t align, size_t size)
{
	int rc = 12; /* ENOMEM */

	pthread_mutex_lock(&A_lock);
	if (!alloc_should_fail()) {
		rc = __real_posix_memalign(out, align, size);
		if (rc == 0 && A.armed)
			track(*out, size);
	}
	pthread_mutex_unlock(&A_lock);
	return rc;
}

void __wrap_free(void *ptr)
{
	if (ptr != NULL) {
		pthread_mutex_lock(&A_lock);
		for (size_t i = 0; i < TRACK; i++) {
			if (T[i].ptr == ptr) {
				A.live_bytes -= T[i].size;
				A.live_blocks--;
				T[i].ptr = NULL;
				break;
			}
		}
		pthread_mutex_unlock(&A_lock);
	}
	__real_free(ptr);
}

static void set_hook(vt_allocator *a)
{
	memset(a, 0, sizeof(*a));
}
#define MODE "libc (default allocator, -Wl,--wrap)"

#endif

static void set_allocator(vt_pool_config *cfg)
{
	set_hook(&cfg->allocator);
}

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

/* ---- refused configs ---------------------------------------------------------- */

/*
 * A config a create refuses answers VT_EINVAL before anything is allocated
 * (SPEC §3: VT_EINVAL, the arguments, comes first): with the allocator
 * working (no call made) and with its first call failing (still VT_EINVAL,
 * not VT_ENOMEM). The promise and shared pools used to allocate their own
 * blocks first and leave the check to vt_pool_create; the thread pool
 * checked its stack size after allocating.
 */
enum { BAD_CAPACITY_0, BAD_CAPACITY_HUGE, BAD_MAX_THREADS, BAD_POOL_CONFIGS };

static void bad_pool_config(vt_pool_config *cfg, int which)
{
	pool_config(cfg);
	if (which == BAD_CAPACITY_0)
		cfg->capacity = 0;
	else if (which == BAD_CAPACITY_HUGE)
		cfg->capacity = (UINT32_C(1) << 30) + 1;
	else
		cfg->max_threads = 4097;
}

static void check_refused_configs(void)
{
	for (uint64_t fail_at = 0; fail_at <= 1; fail_at++) {
		for (int which = 0; which < BAD_POOL_CONFIGS; which++) {
			vt_pool_config cfg;
			vt_pool *pool = (vt_pool *)(uintptr_t)0x1;
			vt_promise_pool *pp = (vt_promise_pool *)(uintptr_t)0x1;
			vt_shared_pool *sp = (vt_shared_pool *)(uintptr_t)0x1;

			bad_pool_config(&cfg, which);
			arm(fail_at);
			CHECK_EQ(vt_pool_create(&pool, &cfg), VT_EINVAL);
			CHECK_EQ(vt_promise_pool_create(&pp, &cfg), VT_EINVAL);
			CHECK_EQ(vt_shared_pool_create(&sp, &cfg), VT_EINVAL);
			A.armed = false;
			CHECK_EQ(A.calls, 0);
			CHECK_EQ(A.live_bytes, 0);
			CHECK(pool == (vt_pool *)(uintptr_t)0x1);
			CHECK(pp == (vt_promise_pool *)(uintptr_t)0x1);
			CHECK(sp == (vt_shared_pool *)(uintptr_t)0x1);
		}
		/* A thread pool's stack size the system refuses (under
		 * PTHREAD_STACK_MIN) was found only after every block was
		 * allocated. */
		vt_threadpool_config tcfg;
		vt_threadpool *tp = (vt_threadpool *)(uintptr_t)0x1;

		vt_threadpool_config_default(&tcfg);
		tcfg.stack_size = 1;
		set_hook(&tcfg.allocator);
		arm(fail_at);
		CHECK_EQ(vt_threadpool_create(&tp, &tcfg), VT_EINVAL);
		A.armed = false;
		CHECK_EQ(A.calls, 0);
		CHECK_EQ(A.live_bytes, 0);
		CHECK(tp == (vt_threadpool *)(uintptr_t)0x1);
	}
	printf("fault_inject: refused configs via %s: VT_EINVAL, no allocation\n", MODE);
}

/* ---- executors, shared pool, then ------------------------------------------- */

/* A create that failed: the contract, then the allocator recovers. */
static void create_failed(int rc)
{
	CHECK_EQ(rc, VT_ENOMEM);
	CHECK_EQ(A.failures, 1);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	A.fail_at = 0; /* the retry must work */
}

static uint32_t ran_on_executor;
static void count_atomic(void *state)
{
	(void)state;
	__atomic_fetch_add(&ran_on_executor, 1, __ATOMIC_RELAXED);
}

/* Thread pool: 3 + threads + max_producers blocks, all in create. */
static uint64_t scenario_threadpool(uint64_t fail_at)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp = (vt_threadpool *)(uintptr_t)0x1;
	int rc;

	vt_threadpool_config_default(&cfg);
	cfg.threads = 2;
	cfg.max_producers = 2;
	cfg.queue_size = 8;
	cfg.inject_size = 8;
	set_hook(&cfg.allocator);
	arm(fail_at);
	rc = vt_threadpool_create(&tp, &cfg);
	if (rc != 0) {
		CHECK(tp == (vt_threadpool *)(uintptr_t)0x1);
		create_failed(rc);
		CHECK_EQ(vt_threadpool_create(&tp, &cfg), 0);
	}
	ran_on_executor = 0;
	for (int i = 0; i < 5; i++)
		CHECK_EQ(vt_threadpool_post(tp, count_atomic, NULL), 0);
	uint64_t calls = A.calls;
	CHECK_EQ(vt_threadpool_destroy(&tp), 0); /* runs what is queued */
	CHECK_EQ(A.calls, calls); /* posting and running allocate nothing */
	CHECK_EQ(__atomic_load_n(&ran_on_executor, __ATOMIC_RELAXED), 5);
	CHECK(tp == NULL);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	A.armed = false;
	return A.calls;
}

/* Loop: 3 + max_producers blocks, all in create. */
static uint64_t scenario_loop(uint64_t fail_at)
{
	vt_loop_config cfg;
	vt_loop *loop = (vt_loop *)(uintptr_t)0x1;
	int rc;

	vt_loop_config_default(&cfg);
	cfg.max_producers = 2;
	cfg.queue_size = 8;
	cfg.inject_size = 8;
	set_hook(&cfg.allocator);
	arm(fail_at);
	rc = vt_loop_create(&loop, &cfg);
	if (rc != 0) {
		CHECK(loop == (vt_loop *)(uintptr_t)0x1);
		create_failed(rc);
		CHECK_EQ(vt_loop_create(&loop, &cfg), 0);
	}
	ran_on_executor = 0;
	for (int i = 0; i < 5; i++)
		CHECK_EQ(vt_loop_post(loop, count_atomic, NULL), 0);
	CHECK_EQ(vt_loop_run_once(loop), 5);
	CHECK_EQ(ran_on_executor, 5);
	CHECK_EQ(vt_loop_destroy(&loop), 0);
	CHECK(loop == NULL);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	A.armed = false;
	return A.calls;
}

/* Shared pool: its handle, the pool's blocks, and the pool's growth while
 * shared results are made to capacity (a growth failure there answers
 * VT_ENOMEM, with the task untouched). */
static uint64_t scenario_shared(uint64_t fail_at)
{
	vt_pool_config cfg;
	vt_shared_pool *sp = (vt_shared_pool *)(uintptr_t)0x1;
	vt_shared *s[10];
	vt_value v;
	int rc;

	pool_config(&cfg);
	arm(fail_at);
	rc = vt_shared_pool_create(&sp, &cfg);
	if (rc != 0) {
		CHECK(sp == (vt_shared_pool *)(uintptr_t)0x1);
		create_failed(rc);
		CHECK_EQ(vt_shared_pool_create(&sp, &cfg), 0);
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 10; i++) {
			uint64_t before = A.failures;
			vt_task t = vt_task_from_value(vt_value_i64(i));

			rc = vt_shared_create(sp, t, &s[i]);
			if (rc != 0) {
				CHECK_EQ(rc, VT_ENOMEM);
				CHECK_EQ(A.failures, before + 1);
				rc = vt_shared_create(sp, t, &s[i]);
			}
			CHECK_EQ(rc, 0);
		}
		for (int i = 0; i < 10; i++) {
			CHECK_EQ(vt_shared_get_result(s[i], &v), 0);
			CHECK_EQ(v.i64, i);
			vt_shared_release(s[i]);
		}
	}
	CHECK_EQ(vt_shared_pool_destroy(&sp), 0);
	CHECK(sp == NULL);
	CHECK_EQ(A.live_bytes, 0);
	CHECK_EQ(A.live_blocks, 0);
	A.armed = false;
	return A.calls;
}

/* then(): nodes and the thread's header come from the default allocator
 * and are kept for the process. kept_blocks counts what must be live. */
static uint64_t kept_blocks;
static vt_promise_pool *then_pp;
static int then_runs;

static void then_cb(void *state, int err, vt_value v)
{
	CHECK_EQ(err, 0);
	CHECK_EQ(v.i64, (int64_t)(intptr_t)state);
	then_runs++;
}

/* Put one more then() in flight than ever before (two more each run), so
 * each run allocates: the header on the first run, then two nodes. */
static uint64_t scenario_then(uint64_t fail_at)
{
	enum { MAXN = 256 };
	static vt_promise *ps[MAXN];
	uint64_t n = kept_blocks == 0 ? 2 : kept_blocks + 1; /* in flight: nodes so far + 2 */

	CHECK(n <= MAXN);
	for (uint64_t i = 0; i < n; i++) {
		ps[i] = vt_promise_rent(then_pp);
		CHECK(ps[i] != NULL);
	}
	A.armed = true;
	A.calls = 0;
	A.fail_at = fail_at;
	A.failures = 0;
	then_runs = 0;
	for (uint64_t i = 0; i < n; i++) {
		vt_task t = vt_promise_task(ps[i]);
		uint64_t blocks = A.live_blocks, before = A.failures;
		int rc = vt_task_then(t, then_cb, (void *)(intptr_t)i, NULL);

		if (rc != 0) {
			CHECK_EQ(rc, VT_ENOMEM);
			CHECK_EQ(A.failures, before + 1);
			/* Nothing kept, except a header made before a failed node. */
			CHECK(A.live_blocks == blocks || (blocks == 0 && A.live_blocks == 1));
			/* The task is untouched: pending, not awaited, still ours. */
			CHECK_EQ(vt_task_status(t), VT_PENDING);
			rc = vt_task_then(t, then_cb, (void *)(intptr_t)i, NULL);
		}
		CHECK_EQ(rc, 0);
	}
	A.armed = false;
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(vt_promise_set_result(ps[i], vt_promise_version(ps[i]), vt_value_i64((int64_t)i)), 0);
	CHECK_EQ(then_runs, (int)n);
	/* Kept: the header and exactly one node per then() ever in flight at once. */
	CHECK_EQ(A.live_blocks, 1 + n);
	kept_blocks = A.live_blocks;
	return A.calls;
}

/* A stale task's then() on a thread whose first then() must allocate (its
 * header), with that allocation failing: VT_ETOKEN outranks VT_ENOMEM
 * (SPEC §4.1), as it does when the allocation succeeds. */
static void *then_stale_on_new_thread(void *arg)
{
	vt_task *t = arg;
	int rc;

	A.armed = true; /* the thread was created: count from here */
	rc = vt_task_then(*t, then_cb, NULL, NULL);
	A.armed = false;
	CHECK_EQ(rc, VT_ETOKEN);
	CHECK_EQ(A.failures, 1); /* the header's allocation was the one refused */
	return NULL;
}

static void check_then_stale_precedence(void)
{
	vt_promise *p = vt_promise_rent(then_pp);
	vt_task t;
	vt_value v;
	pthread_t th;

	CHECK(p != NULL);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(t, &v), 0); /* consumed: t is stale */
	A.calls = 0;
	A.fail_at = 1;
	A.failures = 0;
	CHECK_EQ(pthread_create(&th, NULL, then_stale_on_new_thread, &t), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
}

static uint64_t walk_then(void)
{
	uint64_t injected = 0;
	vt_pool_config cfg;
	vt_allocator a;

	pool_config(&cfg);
	cfg.capacity = 256;
	memset(&cfg.allocator, 0, sizeof(cfg.allocator)); /* the promises: not counted */
	CHECK_EQ(vt_promise_pool_create(&then_pp, &cfg), 0);
	set_hook(&a);
	CHECK_EQ(vt_set_default_allocator(&a), 0);
	CHECK_EQ(A.live_blocks, 0);
	/* The first run fails the header (the first allocation a thread's
	 * first then() makes); it and later runs walk each node allocation. */
	scenario_then(1);
	injected++;
	CHECK_EQ(A.failures, 1);
	uint64_t n = scenario_then(0);
	CHECK_EQ(n, 2);
	for (uint64_t k = 1; k <= n; k++) {
		CHECK(scenario_then(k) <= n + 1);
		CHECK_EQ(A.failures, 1);
		injected++;
	}
	CHECK_EQ(scenario_then(0), n);
	check_then_stale_precedence();
	injected++;
	CHECK_EQ(vt_set_default_allocator(NULL), 0);
	CHECK_EQ(vt_promise_pool_destroy(&then_pp), 0);
	printf("fault_inject: vt_task_then via %s: 2 allocation sites (thread header, node), %" PRIu64
	       " faults injected, task untouched on each, %" PRIu64 " blocks kept for reuse\n",
	       MODE, injected, kept_blocks);
	return injected;
}

static uint64_t walk(const char *name, uint64_t (*scenario)(uint64_t), uint64_t slack)
{
	uint64_t n = scenario(0);

	CHECK(n > 0);
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t calls = scenario(k);
		CHECK_EQ(A.failures, 1); /* the k-th call happened and failed */
		CHECK(calls <= n + slack); /* + the retry of a failed growth or create */
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

	total += walk("vt_pool", scenario_pool, 1);
	total += walk("vt_promise_pool", scenario_promise, 1);
	total += walk("vt_shared_pool", scenario_shared, 64);
	total += walk("vt_threadpool", scenario_threadpool, 64);
	total += walk("vt_loop", scenario_loop, 64);
	check_refused_configs();
	total += walk_then(); /* last: its blocks are kept for the process */
	printf("fault_inject: %" PRIu64 " faults injected in total (%s)\n", total, MODE);
	return 0;
}
