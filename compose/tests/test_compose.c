/* vt_task_wait, vt_task_then, vt_task_forget, vt_task_cancel: unit tests. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "valuetask.h"
#include "pool_util.h"

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

struct later {
	vt_promise *p;
	uint16_t tok;
	long delay_us;
	int err; /* 0: set_result(42) */
	int rc;
};

static void *complete_later(void *arg)
{
	struct later *l = arg;

	sleep_us(l->delay_us);
	l->rc = l->err == 0 ? vt_promise_set_result(l->p, l->tok, vt_value_i64(42))
			    : vt_promise_set_error(l->p, l->tok, l->err);
	return NULL;
}

/* ---- wait ---------------------------------------------------------------- */

static void test_wait(void)
{
	vt_promise_pool *pp = make_pool(4);
	vt_value v;

	CHECK_EQ(vt_task_wait(vt_task_from_value(vt_value_i64(7)), NULL), VT_EINVAL);
	CHECK_EQ(vt_task_wait(vt_task_from_value(vt_value_i64(7)), &v), 0);
	CHECK_EQ(v.i64, 7);
	CHECK_EQ(vt_task_wait(vt_task_from_error(-EIO), &v), -EIO);

	/* Completed before the wait. */
	vt_promise *p = vt_promise_rent(pp);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(5)), 0);
	CHECK_EQ(vt_task_wait(t, &v), 0);
	CHECK_EQ(v.i64, 5);
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_task_wait(t, &v), VT_ETOKEN); /* consumed already */

	/* Completed by another thread while we park; and with an error. */
	for (int e = 0; e < 2; e++) {
		struct later l;
		pthread_t th;
		p = vt_promise_rent(pp);
		l = (struct later){ p, vt_promise_version(p), 20000, e ? -EPIPE : 0, 1 };
		t = vt_promise_task(p);
		CHECK_EQ(pthread_create(&th, NULL, complete_later, &l), 0);
		int rc = vt_task_wait(t, &v);
		pthread_join(th, NULL);
		CHECK_EQ(l.rc, 0);
		if (e) {
			CHECK_EQ(rc, -EPIPE);
		} else {
			CHECK_EQ(rc, 0);
			CHECK_EQ(v.i64, 42);
		}
		CHECK_EQ(rented(pp), 0);
	}
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* Waiting on a promise whose core posts to a loop that nobody drains:
 * the wait's own continuation runs inline, so it cannot deadlock. */
static void test_wait_no_deadlock_on_executor(void)
{
	vt_promise_pool *pp = make_pool(2);
	vt_loop *loop;
	struct later l;
	pthread_t th;
	vt_value v;

	CHECK_EQ(vt_loop_create(&loop, NULL), 0);
	vt_promise *p = vt_promise_rent(pp);
	vt_core_set_executor(&p->core, vt_loop_executor(loop));
	l = (struct later){ p, vt_promise_version(p), 10000, 0, 1 };
	CHECK_EQ(pthread_create(&th, NULL, complete_later, &l), 0);
	CHECK_EQ(vt_task_wait(vt_promise_task(p), &v), 0);
	CHECK_EQ(v.i64, 42);
	pthread_join(th, NULL);
	/* p is back in its pool (poisoned under ASan): not touched again. Its
	 * executor setting ended with the rental (test_promise checks that). */
	CHECK_EQ(vt_loop_destroy(&loop), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void noop(void *arg)
{
	__atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

/* Another continuation is registered: wait polls, then consumes. */
static void test_wait_when_awaited(void)
{
	vt_promise_pool *pp = make_pool(2);
	struct later l;
	pthread_t th;
	vt_value v;
	int ran = 0;

	vt_promise *p = vt_promise_rent(pp);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(t, noop, &ran, NULL), 0);
	l = (struct later){ p, vt_promise_version(p), 5000, 0, 1 };
	CHECK_EQ(pthread_create(&th, NULL, complete_later, &l), 0);
	CHECK_EQ(vt_task_wait(t, &v), 0);
	CHECK_EQ(v.i64, 42);
	pthread_join(th, NULL);
	CHECK_EQ(ran, 1);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- then ---------------------------------------------------------------- */

struct seen {
	int calls;
	int err;
	int64_t value;
	uint64_t rented_at_call;
	vt_promise_pool *pp;
	pthread_t thread;
};

static void record(void *arg, int err, vt_value v)
{
	struct seen *s = arg;

	s->calls++;
	s->err = err;
	s->value = v.i64;
	s->thread = pthread_self();
	if (s->pp != NULL)
		s->rented_at_call = rented(s->pp);
}

static void test_then(void)
{
	vt_promise_pool *pp = make_pool(2);
	struct seen s = { 0 };
	vt_loop *loop;

	CHECK_EQ(vt_task_then(vt_task_from_value(vt_value_i64(1)), NULL, &s, NULL), VT_EINVAL);
	/* A value task runs fn now, inline. */
	CHECK_EQ(vt_task_then(vt_task_from_value(vt_value_i64(3)), record, &s, NULL), 0);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.err, 0);
	CHECK_EQ(s.value, 3);
	CHECK_EQ(vt_task_then(vt_task_from_error(-ENOENT), record, &s, NULL), 0);
	CHECK_EQ(s.err, -ENOENT);

	/* A value task with an executor: posted there. */
	CHECK_EQ(vt_loop_create(&loop, NULL), 0);
	s = (struct seen){ 0 };
	CHECK_EQ(vt_task_then(vt_task_from_value(vt_value_i64(9)), record, &s, vt_loop_executor(loop)), 0);
	CHECK_EQ(s.calls, 0);
	CHECK_EQ(vt_loop_run_once(loop), 1);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.value, 9);

	/* A promise: fn gets the result; the promise is back in the pool first. */
	s = (struct seen){ .pp = pp };
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_task_then(t, record, &s, NULL), 0);
	CHECK_EQ(vt_task_then(t, record, &s, NULL), VT_EAWAITED);
	CHECK_EQ(s.calls, 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(77)), 0);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.value, 77);
	CHECK_EQ(s.rented_at_call, 0);
	CHECK_EQ(vt_task_then(t, record, &s, NULL), VT_ETOKEN); /* consumed */
	CHECK_EQ(s.calls, 1);

	/* Completed already, with an executor: runs on the loop. */
	s = (struct seen){ .pp = pp };
	p = vt_promise_rent(pp);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_error(p, vt_promise_version(p), -ETIMEDOUT), 0);
	CHECK_EQ(vt_task_then(t, record, &s, vt_loop_executor(loop)), 0);
	CHECK_EQ(s.calls, 0);
	CHECK_EQ(vt_loop_run_once(loop), 1);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.err, -ETIMEDOUT);
	CHECK(pthread_equal(s.thread, pthread_self()));
	CHECK_EQ(rented(pp), 0);

	CHECK_EQ(vt_loop_destroy(&loop), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * A then() from a thread-specific-data destructor that runs after the
 * then() exit hook, in glibc's last destructor round: the home it takes
 * must not stay this thread's, since nothing orphans it again; a thread
 * that comes later must adopt it (and the node in it) instead of making a
 * new home. Homes are the default allocator's 64-aligned blocks (nodes are
 * not), so the hook below counts them apart.
 *
 * Deterministic: the test runs first, so no home is orphaned before it
 * (checked: the exiting thread makes its own); our key is made after
 * then()'s (glibc hands out the lowest free key and none was deleted), so
 * in the last round our destructor runs after then()'s hook, which does
 * not run again. It re-sets its key until that round, counting them.
 * There it makes two registrations: one reuses the node left in the home,
 * the other needs a new node and is refused one (VT_ENOMEM, the task
 * untouched); the home must be orphaned after both.
 *
 * TSan ends a thread's own state in the last round (its key, made first,
 * re-arms itself until then), so under TSan the late calls come one round
 * earlier. then()'s hook has run by then, so they take the same path and
 * TSan checks it; but a leak would not show there (the hook runs again).
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LATE_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define LATE_TSAN 1
#endif
#ifdef LATE_TSAN
#define LATE_ROUND (PTHREAD_DESTRUCTOR_ITERATIONS - 1)
#else
#define LATE_ROUND PTHREAD_DESTRUCTOR_ITERATIONS
#endif

/* Plain: one thread allocates at a time, ordered by pthread_create/join. */
static long g_home_allocs, g_node_allocs;
static int g_alloc_fail;

static void *count_alloc(size_t size, size_t align, void *ctx)
{
	void *p = NULL;

	(void)ctx;
	if (align >= 64)
		g_home_allocs++;
	else
		g_node_allocs++;
	if (g_alloc_fail)
		return NULL;
	return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p : NULL;
}

static void count_free(void *ptr, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(ptr);
}

static pthread_key_t g_exit_key;
static int g_exit_rounds;
static vt_task g_first_task, g_late_task, g_nomem_task, g_adopt_task;
static struct seen g_first, g_late, g_nomem, g_adopt;
static int g_late_rc = 1, g_nomem_rc = 1;
static long g_first_homes = -1, g_late_homes = -1, g_adopt_homes = -1, g_adopt_nodes = -1;

static void then_in_last_round(void *arg)
{
	long homes = g_home_allocs;

	if (++g_exit_rounds < LATE_ROUND) {
		CHECK_EQ(pthread_setspecific(g_exit_key, arg), 0); /* one more round */
		return;
	}
	g_late_rc = vt_task_then(g_late_task, record, &g_late, NULL);
	g_alloc_fail = 1;
	g_nomem_rc = vt_task_then(g_nomem_task, record, &g_nomem, NULL);
	g_alloc_fail = 0;
	g_late_homes = g_home_allocs - homes;
}

static void *then_then_exit(void *arg)
{
	long homes = g_home_allocs;

	CHECK_EQ(vt_task_then(g_first_task, record, &g_first, NULL), 0); /* runs inline */
	g_first_homes = g_home_allocs - homes;
	CHECK_EQ(pthread_setspecific(g_exit_key, arg), 0);
	return NULL;
}

static void *then_adopt(void *arg)
{
	long homes = g_home_allocs, nodes = g_node_allocs;

	(void)arg;
	CHECK_EQ(vt_task_then(g_adopt_task, record, &g_adopt, NULL), 0);
	g_adopt_homes = g_home_allocs - homes;
	g_adopt_nodes = g_node_allocs - nodes;
	return NULL;
}

static void test_then_after_exit_hook(void)
{
	vt_allocator a = { count_alloc, count_free, NULL };
	vt_promise_pool *pp = make_pool(4);
	struct seen s = { 0 };
	vt_promise *p, *late, *nomem;
	pthread_t th;

	CHECK_EQ(vt_set_default_allocator(&a), 0);
	/* then()'s exit key exists before ours (this thread gets a home). */
	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_then(vt_promise_task(p), record, &s, NULL), 0);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(pthread_key_create(&g_exit_key, then_in_last_round), 0);

	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(2)), 0);
	g_first_task = vt_promise_task(p);
	late = vt_promise_rent(pp);
	g_late_task = vt_promise_task(late);
	nomem = vt_promise_rent(pp);
	g_nomem_task = vt_promise_task(nomem);
	CHECK_EQ(pthread_create(&th, NULL, then_then_exit, &g_exit_rounds), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(g_first_homes, 1); /* no orphan to adopt: it made its own */
	CHECK_EQ(g_first.calls, 1);
	CHECK_EQ(g_first.value, 2);
	CHECK_EQ(g_exit_rounds, LATE_ROUND);
	CHECK_EQ(g_late_rc, 0);
	CHECK_EQ(g_late_homes, 0); /* it took its own orphaned home */
	CHECK_EQ(g_late.calls, 0);
	CHECK_EQ(g_nomem_rc, VT_ENOMEM);
	CHECK_EQ(vt_task_status(g_nomem_task), VT_PENDING); /* not registered */
	CHECK_EQ(vt_task_then(g_nomem_task, record, &g_nomem, NULL), 0); /* this thread's home */
	CHECK_EQ(vt_promise_set_result(nomem, vt_promise_version(nomem), vt_value_i64(5)), 0);
	CHECK_EQ(g_nomem.calls, 1);
	CHECK_EQ(g_nomem.value, 5);
	/* The late registration's node goes back to that home from here. */
	CHECK_EQ(vt_promise_set_result(late, vt_promise_version(late), vt_value_i64(3)), 0);
	CHECK_EQ(g_late.calls, 1);
	CHECK_EQ(g_late.value, 3);

	/* A new thread adopts that home, and the node in it. */
	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(4)), 0);
	g_adopt_task = vt_promise_task(p);
	CHECK_EQ(pthread_create(&th, NULL, then_adopt, NULL), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(g_adopt.calls, 1);
	CHECK_EQ(g_adopt.value, 4);
	CHECK_EQ(g_adopt_homes, 0);
	CHECK_EQ(g_adopt_nodes, 0);

	CHECK_EQ(vt_set_default_allocator(NULL), 0); /* the blocks stay in use */
	CHECK_EQ(pthread_key_delete(g_exit_key), 0);
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * One exit hook serves every client (lib/thread_exit.c): a thread that
 * used a pool, posted to a loop and called then(), in that order, gives
 * back all three when it exits. Each is set so that a client whose part
 * did not run shows: the pool has one cache slot and one object (left in
 * the dead thread's stack, the next rent must steal it), the loop one
 * producer ring and an inject ring of one item (ten posts need the ring),
 * and then() gets back the exiting thread's home (the next thread makes
 * no new one). Runs after test_then_after_exit_hook, which leaves exactly
 * one orphaned home: the thread below adopts it and must orphan it again.
 */
static vt_pool *g_all_pool;
static vt_loop *g_all_loop;
static long g_all_ran;

static void inc_ran(void *arg)
{
	(*(long *)arg)++;
}

static void *use_every_client(void *arg)
{
	struct seen *s = arg;
	void *obj = vt_pool_rent(g_all_pool);

	CHECK(obj != NULL);
	vt_pool_return(g_all_pool, obj);
	CHECK_EQ(vt_loop_post(g_all_loop, inc_ran, &g_all_ran), 0);
	CHECK_EQ(vt_task_then(vt_task_from_value(vt_value_i64(6)), record, s, NULL), 0); /* inline */
	return NULL;
}

static void *then_count_homes(void *arg)
{
	long homes = g_home_allocs;

	CHECK_EQ(vt_task_then(vt_task_from_value(vt_value_i64(7)), record, arg, NULL), 0);
	g_adopt_homes = g_home_allocs - homes;
	return NULL;
}

static void test_exit_hook_serves_every_client(void)
{
	vt_allocator a = { count_alloc, count_free, NULL };
	vt_pool_config pcfg;
	vt_loop_config lcfg;
	vt_pool_stats st;
	struct seen s1 = { 0 }, s2 = { 0 };
	pthread_t th;
	void *obj;

	CHECK_EQ(vt_set_default_allocator(&a), 0);
	vt_pool_config_default(&pcfg);
	pcfg.object_size = 64;
	pcfg.capacity = 1;
	pcfg.max_threads = 1;
	CHECK_EQ(vt_pool_create(&g_all_pool, &pcfg), 0);
	vt_loop_config_default(&lcfg);
	lcfg.max_producers = 1;
	lcfg.queue_size = 64;
	lcfg.inject_size = 2; /* one item */
	CHECK_EQ(vt_loop_create(&g_all_loop, &lcfg), 0);

	CHECK_EQ(pthread_create(&th, NULL, use_every_client, &s1), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(s1.calls, 1);

	obj = vt_pool_rent(g_all_pool); /* from the shared ring, not a dead cache */
	CHECK(obj != NULL);
	vt_pool_get_stats(g_all_pool, &st);
	CHECK_EQ(st.steals, 0);
	vt_pool_return(g_all_pool, obj);
	for (int i = 0; i < 10; i++) /* this thread gets the one ring */
		CHECK_EQ(vt_loop_post(g_all_loop, inc_ran, &g_all_ran), 0);
	g_adopt_homes = -1;
	CHECK_EQ(pthread_create(&th, NULL, then_count_homes, &s2), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(g_adopt_homes, 0);
	CHECK_EQ(s2.calls, 1);
	CHECK_EQ(s2.value, 7);

	CHECK_EQ(vt_loop_destroy(&g_all_loop), 0);
	CHECK_EQ(g_all_ran, 11);
	CHECK_EQ(vt_pool_destroy(&g_all_pool), 0);
	CHECK_EQ(vt_set_default_allocator(NULL), 0);
}

/* ---- forget -------------------------------------------------------------- */

static void test_forget(void)
{
	vt_promise_pool *pp = make_pool(2);
	vt_value v;
	int ran = 0;

	CHECK_EQ(vt_task_forget(vt_task_from_value(vt_value_i64(1))), 0);
	CHECK_EQ(vt_task_forget(vt_task_from_error(-EIO)), 0);

	/* Pending: goes back when it completes. */
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_task_forget(t), 0);
	CHECK_EQ(vt_task_forget(t), VT_EAWAITED);
	CHECK_EQ(vt_task_on_completed(t, noop, &ran, NULL), VT_EAWAITED);
	CHECK_EQ(vt_task_status(t), VT_PENDING);
	CHECK_EQ(rented(pp), 1);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_task_get_result(t, &v), VT_ETOKEN);
	CHECK_EQ(vt_task_forget(t), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), VT_ETOKEN); /* late producer */

	/* Already completed: goes back at once. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_error(p, tok, -EIO), 0);
	CHECK_EQ(vt_task_forget(t), 0);
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_task_forget(t), VT_ETOKEN);

	/* Awaited: the continuation will consume, forget refuses. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(t, noop, &ran, NULL), 0);
	CHECK_EQ(vt_task_forget(t), VT_EAWAITED);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(2)), 0);
	CHECK_EQ(ran, 1);
	CHECK_EQ(vt_task_get_result(t, &v), 0);
	CHECK_EQ(rented(pp), 0);

	/* Misuse: get_result on a forgotten, completed rental (before its
	 * release ran is impossible to stage here; after it, VT_ETOKEN), then
	 * the next rental is untouched. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_task_forget(t), 0);
	CHECK_EQ(vt_task_get_result(t, &v), VT_EPENDING);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(3)), 0);
	vt_promise *q = vt_promise_rent(pp);
	uint16_t qt = vt_promise_version(q);
	CHECK_EQ(vt_promise_set_result(q, qt, vt_value_i64(4)), 0);
	CHECK_EQ(vt_task_forget(t), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(vt_promise_task(q), &v), 0);
	CHECK_EQ(v.i64, 4);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- cancel -------------------------------------------------------------- */

static vt_source_ops bare_ops; /* a source with no forget and no cancel */

static void test_cancel(void)
{
	vt_promise_pool *pp = make_pool(2);
	vt_value v;
	int fired = 0;

	CHECK_EQ(vt_task_cancel(vt_task_from_value(vt_value_i64(1))), VT_ECOMPLETED);
	{
		vt_source bare = { &bare_ops };
		CHECK_EQ(vt_task_cancel(vt_task_from_source(&bare, 0)), VT_EINVAL);
		CHECK_EQ(vt_task_forget(vt_task_from_source(&bare, 0)), VT_EINVAL);
	}

	/* Producer-side cancel: set_error(-ECANCELED). */
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_error(p, tok, -ECANCELED), 0);
	CHECK_EQ(vt_task_status(t), VT_CANCELED);
	CHECK_EQ(vt_task_get_result(t, &v), -ECANCELED);

	/* Awaiter-side, no registration: completes canceled. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_task_cancel(t), 0);
	CHECK_EQ(vt_task_status(t), VT_CANCELED);
	CHECK_EQ(vt_task_cancel(t), VT_ECOMPLETED);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), VT_ECOMPLETED); /* the loser's code */
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &fired), VT_ECOMPLETED);
	CHECK_EQ(vt_task_get_result(t, &v), -ECANCELED);
	CHECK_EQ(vt_task_cancel(t), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), VT_ETOKEN);

	/* With a registration: the callback runs once, after completion. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_on_cancel(NULL, tok, noop, &fired), VT_EINVAL);
	CHECK_EQ(vt_promise_on_cancel(p, tok, NULL, &fired), VT_EINVAL);
	CHECK_EQ(vt_promise_on_cancel(p, (uint16_t)(tok + 1), noop, &fired), VT_ETOKEN);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &fired), 0);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &fired), VT_EAWAITED);
	CHECK_EQ(vt_task_cancel(t), 0);
	CHECK_EQ(fired, 1);
	CHECK_EQ(vt_task_cancel(t), VT_ECOMPLETED);
	CHECK_EQ(fired, 1);
	CHECK_EQ(vt_task_get_result(t, &v), -ECANCELED);

	/* Completion wins: the callback never runs. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &fired), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(8)), 0);
	CHECK_EQ(vt_task_cancel(t), VT_ECOMPLETED);
	CHECK_EQ(fired, 1);
	CHECK_EQ(vt_task_get_result(t, &v), 0);
	CHECK_EQ(v.i64, 8);

	/* The next rental starts with no registration. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_task_cancel(t), 0);
	CHECK_EQ(fired, 1);
	CHECK_EQ(vt_task_forget(t), 0); /* canceled and forgotten: back at once */
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * A producer whose registration raced its own rental's end (its on_cancel
 * passed the pending check, then the rental was completed, consumed and
 * rented again) must not take the slot from the next rental's registration.
 * The allocator hook holds the stale registrar inside the first allocation
 * of the side table, right after its pending check.
 */
static int hold_state; /* 0 idle, 1 armed, 2 holding, 3 released */

static void *hold_alloc(size_t size, size_t align, void *ctx)
{
	int one = 1;
	void *m = NULL;

	(void)ctx;
	if (size == sizeof(void *) * 4 && align == 64 &&
	    __atomic_compare_exchange_n(&hold_state, &one, 2, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		while (__atomic_load_n(&hold_state, __ATOMIC_SEQ_CST) != 3)
			sched_yield();
	return posix_memalign(&m, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? m : NULL;
}

static void hold_free(void *m, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(m);
}

struct stale_reg {
	vt_promise *p;
	uint16_t tok;
	int fired;
	int rc;
};

static void *register_stale(void *arg)
{
	struct stale_reg *r = arg;

	r->rc = vt_promise_on_cancel(r->p, r->tok, noop, &r->fired);
	return NULL;
}

static void test_cancel_stale_registration_race(void)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	struct stale_reg old;
	pthread_t th;
	vt_value v;
	int cur = 0;

	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	cfg.allocator.alloc = hold_alloc;
	cfg.allocator.free = hold_free;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	old.p = vt_promise_rent(pp);
	old.tok = vt_promise_version(old.p);
	old.fired = 0;
	__atomic_store_n(&hold_state, 1, __ATOMIC_SEQ_CST);
	CHECK_EQ(pthread_create(&th, NULL, register_stale, &old), 0);
	while (__atomic_load_n(&hold_state, __ATOMIC_SEQ_CST) != 2)
		sched_yield();
	/* The old rental ends; the next one registers and is canceled. */
	CHECK_EQ(vt_promise_set_result(old.p, old.tok, vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(old.p), &v), 0);
	vt_promise *p = vt_promise_rent(pp);
	CHECK_EQ(p == old.p, 1);
	uint16_t tok = vt_promise_version(p);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &cur), 0);
	__atomic_store_n(&hold_state, 3, __ATOMIC_SEQ_CST);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(old.rc, VT_ETOKEN);
	CHECK_EQ(vt_task_cancel(vt_promise_task(p)), 0);
	CHECK_EQ(cur, 1);       /* the live registration fires */
	CHECK_EQ(old.fired, 0); /* the stale one does not */
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), -ECANCELED);
	__atomic_store_n(&hold_state, 0, __ATOMIC_SEQ_CST);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* Rent, complete and consume n times from pp (capacity 1: the same promise). */
static void cycle_rentals(vt_promise_pool *pp, uint32_t n)
{
	vt_value v;

	for (uint32_t i = 0; i < n; i++) {
		vt_promise *q = vt_promise_rent(pp);
		CHECK(q != NULL);
		CHECK_EQ(vt_promise_set_result(q, vt_promise_version(q), vt_value_i64(2)), 0);
		CHECK_EQ(vt_task_get_result(vt_promise_task(q), &v), 0);
	}
}

/*
 * A registration left armed by a rental that completed normally belongs to
 * that rental only: 65536 rentals later the 16-bit token matches again, and
 * the new rental must neither answer VT_EAWAITED nor fire the old callback
 * (its producer saw set_result answer 0 and may have freed its state).
 */
static void test_cancel_registration_ends_with_rental(void)
{
	vt_promise_pool *pp = make_pool(1);
	vt_value v;
	int old = 0, cur = 0;

	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &old), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), 0);
	cycle_rentals(pp, 65535);
	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_version(p), tok); /* the token came round again */
	CHECK_EQ(vt_task_cancel(vt_promise_task(p)), 0);
	CHECK_EQ(old, 0); /* the old rental's callback is not called */
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), -ECANCELED);

	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &old), 0);
	CHECK_EQ(vt_task_cancel(vt_promise_task(p)), 0);
	CHECK_EQ(old, 1);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), -ECANCELED);
	cycle_rentals(pp, 65535);
	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_version(p), tok);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &cur), 0); /* not VT_EAWAITED */
	CHECK_EQ(vt_task_cancel(vt_promise_task(p)), 0);
	CHECK_EQ(cur, 1);
	CHECK_EQ(old, 1);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), -ECANCELED);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

#ifdef VT_GENERATION_CHECK
/*
 * -Dgeneration_check: a task from 65536 rentals ago (the same 16-bit token,
 * another epoch) is stale for forget and cancel too, as it is for status,
 * get_result and on_completed; the current rental is untouched.
 */
static void test_forget_cancel_epoch(void)
{
	vt_promise_pool *pp = make_pool(1);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t0 = vt_promise_task(p);
	vt_value v;
	int fired = 0;

	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(0)), 0);
	CHECK_EQ(vt_task_get_result(t0, &v), 0);
	cycle_rentals(pp, 65535);
	p = vt_promise_rent(pp);
	CHECK_EQ(vt_promise_version(p), tok);
	CHECK_EQ(vt_promise_on_cancel(p, tok, noop, &fired), 0);
	CHECK_EQ(vt_task_cancel(t0), VT_ETOKEN);
	CHECK_EQ(fired, 0);
	CHECK_EQ(vt_task_forget(t0), VT_ETOKEN);
	CHECK_EQ(vt_task_status(vt_promise_task(p)), VT_PENDING);
	CHECK_EQ(rented(pp), 1);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(7)), 0);
	CHECK_EQ(vt_task_forget(t0), VT_ETOKEN); /* completed: still not released */
	CHECK_EQ(rented(pp), 1);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), 0);
	CHECK_EQ(v.i64, 7);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}
#endif

int main(void)
{
	RUN(test_then_after_exit_hook); /* first: no home is orphaned yet */
	RUN(test_exit_hook_serves_every_client); /* second: one home is */
	RUN(test_wait);
	RUN(test_wait_no_deadlock_on_executor);
	RUN(test_wait_when_awaited);
	RUN(test_then);
	RUN(test_forget);
	RUN(test_cancel);
	RUN(test_cancel_registration_ends_with_rental);
	RUN(test_cancel_stale_registration_race);
#ifdef VT_GENERATION_CHECK
	RUN(test_forget_cancel_epoch);
#endif
	return 0;
}
