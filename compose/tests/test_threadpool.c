/* vt_threadpool: unit tests, cross-thread stress and shutdown under load. */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "valuetask.h"

static void inc(void *arg)
{
	__atomic_fetch_add((long *)arg, 1, __ATOMIC_RELAXED);
}

static void test_config(void)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp = (vt_threadpool *)1;

	vt_threadpool_config_default(&cfg);
	CHECK_EQ(cfg.threads, 2);
	CHECK_EQ(vt_threadpool_create(NULL, &cfg), VT_EINVAL);
	cfg.threads = 0;
	CHECK_EQ(vt_threadpool_create(&tp, &cfg), VT_EINVAL);
	CHECK(tp == (vt_threadpool *)1); /* untouched */
	vt_threadpool_config_default(&cfg);
	cfg.queue_size = 1000;
	CHECK_EQ(vt_threadpool_create(&tp, &cfg), VT_EINVAL);
	CHECK_EQ(vt_threadpool_post(NULL, inc, NULL), VT_EINVAL);
	CHECK_EQ(vt_threadpool_shutdown(NULL), VT_EINVAL);
	CHECK_EQ(vt_threadpool_destroy(NULL), VT_EINVAL);
	CHECK(vt_threadpool_executor(NULL) == NULL);
}

static void test_post_and_shutdown(void)
{
	vt_threadpool *tp;
	long n = 0;

	CHECK_EQ(vt_threadpool_create(&tp, NULL), 0);
	CHECK_EQ(vt_threadpool_post(tp, NULL, NULL), VT_EINVAL);
	for (int i = 0; i < 10000; i++) {
		int rc;
		while ((rc = vt_threadpool_post(tp, inc, &n)) == VT_EEXHAUSTED) /* back-pressure */
			sched_yield();
		CHECK_EQ(rc, 0);
	}
	vt_executor *ex = vt_threadpool_executor(tp);
	CHECK(ex != NULL);
	CHECK_EQ(vt_executor_dispatch(ex, inc, &n), 0); /* posted, not inline */
	CHECK_EQ(vt_threadpool_shutdown(tp), 0);
	CHECK_EQ(n, 10001); /* shutdown ran everything posted */
	CHECK_EQ(vt_threadpool_post(tp, inc, &n), VT_ESHUTDOWN);
	CHECK_EQ(vt_executor_dispatch(ex, inc, &n), 1); /* refused: ran inline */
	CHECK_EQ(n, 10002);
	CHECK_EQ(vt_threadpool_shutdown(tp), 0); /* idempotent */
	CHECK_EQ(vt_threadpool_destroy(&tp), 0);
	CHECK(tp == NULL);
}

/*
 * A poster preempted inside vt_threadpool_post after its item went in:
 * syscall() is interposed, and the poster's futex wake-up of a parked
 * worker is held until the pool has been destroyed (or 300 ms passed,
 * which is what a correct pool makes it wait: the item has run once
 * shutdown returns, but the post still uses the pool).
 */
static pthread_t g_hold_thread;
static int g_go, g_in_wake, g_destroyed, g_late;
static long g_ran;
/* test_post_while_wake_on_its_way: the first worker whose futex wait
 * returns while g_hold_woken is 1 sets it to 2 and waits for g_released. */
static int g_hold_woken, g_released;

long syscall(long nr, ...)
{
	static void *real_sym;
	long (*real_syscall)(long, ...);
	long a[6];
	va_list ap;

	VT_CK_NEXT_SYM(real_syscall, &real_sym, "syscall");
	va_start(ap, nr); /* the library's futex calls pass all six */
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_futex && a[1] == FUTEX_WAKE_PRIVATE && __atomic_load_n(&g_go, __ATOMIC_ACQUIRE) &&
	    pthread_equal(pthread_self(), g_hold_thread)) {
		__atomic_store_n(&g_in_wake, 1, __ATOMIC_RELEASE);
		if (vt_ck_wait_flag(&g_destroyed, 300))
			__atomic_store_n(&g_late, 1, __ATOMIC_RELEASE);
	}
	if (nr == SYS_futex && a[1] == FUTEX_WAIT_PRIVATE) {
		long rc = real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		int one = 1;

		if (__atomic_compare_exchange_n(&g_hold_woken, &one, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			(void)vt_ck_wait_flag(&g_released, 2000);
		return rc;
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static void *post_one(void *arg)
{
	while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE)) /* g_hold_thread is set */
		sched_yield();
	CHECK_EQ(vt_threadpool_post(arg, inc, &g_ran), 0);
	return NULL;
}

static void test_destroy_after_item_ran(void)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp;
	pthread_t th;
	uint64_t parks = 0;

	vt_threadpool_config_default(&cfg);
	cfg.threads = 1;
	cfg.spin = 0;
	CHECK_EQ(vt_threadpool_create(&tp, &cfg), 0);
	while (parks == 0) { /* the worker parks: a post must wake it */
		vt_threadpool_park_stats(tp, &parks, NULL);
		sched_yield();
	}
	g_go = g_in_wake = g_destroyed = g_late = 0;
	g_ran = 0;
	CHECK_EQ(pthread_create(&th, NULL, post_one, tp), 0);
	g_hold_thread = th;
	__atomic_store_n(&g_go, 1, __ATOMIC_RELEASE);
	/* The poster is in its wake-up, after the push (or, if the worker was
	 * between parkings, skipped it: then there is nothing to show). */
	(void)vt_ck_wait_flag(&g_in_wake, 2000);
	/* Shutdown runs everything posted; then nothing is left to wait for. */
	CHECK_EQ(vt_threadpool_shutdown(tp), 0);
	if (__atomic_load_n(&g_in_wake, __ATOMIC_ACQUIRE))
		CHECK_EQ(__atomic_load_n(&g_ran, __ATOMIC_RELAXED), 1);
	CHECK_EQ(vt_threadpool_destroy(&tp), 0);
	__atomic_store_n(&g_destroyed, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	__atomic_store_n(&g_go, 0, __ATOMIC_RELEASE);
	CHECK_EQ(g_late, 0); /* the post used the pool after destroy returned */
}

struct self_ctx {
	vt_threadpool *tp;
	int rc;
	long done;
};

static void shutdown_from_worker(void *arg)
{
	struct self_ctx *c = arg;

	c->rc = vt_threadpool_shutdown(c->tp);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void test_shutdown_from_worker(void)
{
	struct self_ctx c = { 0 };

	CHECK_EQ(vt_threadpool_create(&c.tp, NULL), 0);
	CHECK_EQ(vt_threadpool_post(c.tp, shutdown_from_worker, &c), 0);
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		sched_yield();
	CHECK_EQ(c.rc, VT_EINVAL);
	CHECK_EQ(vt_threadpool_destroy(&c.tp), 0);
}

/*
 * Two workers parked; a post wakes one, and a second post comes while that
 * wake-up is on its way (the woken worker has not left its futex wait yet:
 * the interposer above holds it there). The second item must not wait
 * behind the first while the other worker sleeps: here the first item
 * waits (up to 2 s) for the second to run, as an item that needs another
 * one's result would.
 */
static int g_second_ran, g_first_done, g_first_saw;

static void first_item(void *arg)
{
	(void)arg;
	g_first_saw = vt_ck_wait_flag(&g_second_ran, 2000);
	__atomic_store_n(&g_first_done, 1, __ATOMIC_RELEASE);
}

static void second_item(void *arg)
{
	(void)arg;
	__atomic_store_n(&g_second_ran, 1, __ATOMIC_RELEASE);
}

static void test_post_while_wake_on_its_way(void)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp;
	uint64_t parks = 0;
	struct timespec ms = { 0, 1000000L };

	vt_threadpool_config_default(&cfg);
	cfg.threads = 2;
	cfg.spin = 0;
	CHECK_EQ(vt_threadpool_create(&tp, &cfg), 0);
	while (parks < 2) { /* both workers park */
		vt_threadpool_park_stats(tp, &parks, NULL);
		sched_yield();
	}
	for (int i = 0; i < 20; i++) /* and are asleep in the kernel */
		nanosleep(&ms, NULL);
	__atomic_store_n(&g_hold_woken, 1, __ATOMIC_RELEASE);
	CHECK_EQ(vt_threadpool_post(tp, first_item, NULL), 0);
	for (int i = 0; i < 2000 && __atomic_load_n(&g_hold_woken, __ATOMIC_ACQUIRE) != 2; i++)
		nanosleep(&ms, NULL);
	CHECK_EQ(__atomic_load_n(&g_hold_woken, __ATOMIC_ACQUIRE), 2); /* a worker is on its way */
	CHECK_EQ(vt_threadpool_post(tp, second_item, NULL), 0);
	__atomic_store_n(&g_released, 1, __ATOMIC_RELEASE);
	CHECK(vt_ck_wait_flag(&g_first_done, 5000));
	CHECK(g_first_saw); /* the second item ran while the first waited */
	CHECK_EQ(vt_threadpool_destroy(&tp), 0);
}

/*
 * A worker's thread-specific-data destructor runs on that worker after its
 * last item, while shutdown joins it: a shutdown from there is one from the
 * pool's own worker, and must answer VT_EINVAL, not wait for the shutdown
 * lock that the joining thread holds (a deadlock). The destroy runs on a
 * helper thread, so that a hang shows as a failed wait, not a stuck test.
 */
static pthread_key_t g_exit_key;
static int g_exit_rc = 1, g_exit_done, g_destroyed;

static void shutdown_at_exit(void *arg)
{
	g_exit_rc = vt_threadpool_shutdown(arg);
	__atomic_store_n(&g_exit_done, 1, __ATOMIC_RELEASE);
}

static void set_exit_key(void *arg)
{
	struct self_ctx *c = arg;

	CHECK_EQ(pthread_setspecific(g_exit_key, c->tp), 0);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void *destroy_pool(void *arg)
{
	CHECK_EQ(vt_threadpool_destroy(arg), 0);
	__atomic_store_n(&g_destroyed, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_shutdown_from_worker_exit(void)
{
	struct self_ctx c = { 0 };
	vt_threadpool_config cfg;
	pthread_t th;

	vt_threadpool_config_default(&cfg);
	cfg.threads = 1;
	CHECK_EQ(pthread_key_create(&g_exit_key, shutdown_at_exit), 0);
	CHECK_EQ(vt_threadpool_create(&c.tp, &cfg), 0);
	CHECK_EQ(vt_threadpool_post(c.tp, set_exit_key, &c), 0);
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		sched_yield();
	CHECK_EQ(pthread_create(&th, NULL, destroy_pool, &c.tp), 0);
	CHECK(vt_ck_wait_flag(&g_exit_done, 5000));
	CHECK_EQ(g_exit_rc, VT_EINVAL);
	CHECK(vt_ck_wait_flag(&g_destroyed, 5000));
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK(c.tp == NULL);
	CHECK_EQ(pthread_key_delete(g_exit_key), 0);
}

/* Items that post more items: the chain ends when the pool shuts down
 * (posting is refused and the continuation runs inline). */
struct chain {
	vt_threadpool *tp;
	long left;
	long ran;
};

static void chain_step(void *arg)
{
	struct chain *c = arg;

	__atomic_fetch_add(&c->ran, 1, __ATOMIC_RELAXED);
	if (__atomic_sub_fetch(&c->left, 1, __ATOMIC_RELAXED) > 0)
		vt_executor_dispatch(vt_threadpool_executor(c->tp), chain_step, c);
}

static void test_chain(void)
{
	struct chain c = { 0 };

	CHECK_EQ(vt_threadpool_create(&c.tp, NULL), 0);
	c.left = 100000;
	CHECK_EQ(vt_threadpool_post(c.tp, chain_step, &c), 0);
	while (__atomic_load_n(&c.left, __ATOMIC_ACQUIRE) > 0)
		sched_yield();
	CHECK_EQ(vt_threadpool_destroy(&c.tp), 0);
	CHECK_EQ(c.ran, 100000);
}

/* ---- stress: exactly-once delivery from many producers ------------------ */

static int g_threads = 4;
static long g_iters = 200000;

struct prod {
	vt_threadpool *tp;
	unsigned char *hits; /* one counter per item */
	long first, count;
	long accepted;
};

static void hit(void *arg)
{
	__atomic_fetch_add((unsigned char *)arg, 1, __ATOMIC_RELAXED);
}

static void *producer(void *arg)
{
	struct prod *p = arg;

	for (long i = p->first; i < p->first + p->count; i++) {
		int rc;
		while ((rc = vt_threadpool_post(p->tp, hit, &p->hits[i])) == VT_EEXHAUSTED)
			sched_yield();
		if (rc == 0)
			p->accepted++;
		else
			CHECK_EQ(rc, VT_ESHUTDOWN);
	}
	return NULL;
}

static void run_producers(bool shutdown_midway)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp;
	pthread_t th[64];
	struct prod pr[64];
	long total = g_iters;
	unsigned char *hits = calloc((size_t)total, 1);
	int nt = g_threads > 64 ? 64 : g_threads;

	CHECK(hits != NULL);
	vt_threadpool_config_default(&cfg);
	cfg.queue_size = 256;     /* small rings: exercise the inject path too */
	cfg.max_producers = nt > 2 ? (uint32_t)nt - 2 : 1; /* some producers have no ring */
	CHECK_EQ(vt_threadpool_create(&tp, &cfg), 0);
	for (int t = 0; t < nt; t++) {
		pr[t].tp = tp;
		pr[t].hits = hits;
		pr[t].first = total / nt * t;
		pr[t].count = t == nt - 1 ? total - pr[t].first : total / nt;
		pr[t].accepted = 0;
		CHECK_EQ(pthread_create(&th[t], NULL, producer, &pr[t]), 0);
	}
	if (shutdown_midway) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		CHECK_EQ(vt_threadpool_shutdown(tp), 0);
	}
	for (int t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ(vt_threadpool_destroy(&tp), 0);
	long accepted = 0, ran = 0;
	for (int t = 0; t < nt; t++)
		accepted += pr[t].accepted;
	for (long i = 0; i < total; i++) {
		CHECK(hits[i] <= 1); /* never twice */
		ran += hits[i];
	}
	CHECK_EQ(ran, accepted); /* every accepted item ran, nothing dropped */
	if (!shutdown_midway)
		CHECK_EQ(accepted, total);
	free(hits);
}

static void test_stress(void)
{
	run_producers(false);
}

static void test_shutdown_under_load(void)
{
	for (int i = 0; i < 5; i++)
		run_producers(true);
}

int main(int argc, char **argv)
{
	bool stress = argc > 1;

	vt_ck_args(argc, argv, &g_threads, &g_iters);
	if (!stress) {
		RUN(test_config);
		RUN(test_post_and_shutdown);
		RUN(test_shutdown_from_worker);
		RUN(test_shutdown_from_worker_exit);
		RUN(test_post_while_wake_on_its_way);
		RUN(test_chain);
		RUN(test_destroy_after_item_ran);
		g_iters = 20000;
	}
	RUN(test_stress);
	RUN(test_shutdown_under_load);
	return 0;
}
