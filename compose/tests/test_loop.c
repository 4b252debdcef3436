/* vt_loop: unit tests and a cross-thread stress test driven through epoll. */
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "valuetask.h"

static pthread_t g_loop_thread;
static long g_wrong_thread;

static void inc(void *arg)
{
	if (!pthread_equal(pthread_self(), g_loop_thread))
		__atomic_fetch_add(&g_wrong_thread, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add((long *)arg, 1, __ATOMIC_RELAXED);
}

static void test_basic(void)
{
	vt_loop *loop;
	long n = 0;

	g_loop_thread = pthread_self();
	CHECK_EQ(vt_loop_create(NULL, NULL), VT_EINVAL);
	CHECK_EQ(vt_loop_create(&loop, NULL), 0);
	CHECK(vt_loop_fd(loop) >= 0);
	CHECK_EQ(vt_loop_fd(NULL), -1);
	CHECK_EQ(vt_loop_post(loop, NULL, NULL), VT_EINVAL);
	CHECK_EQ(vt_loop_post(NULL, inc, &n), VT_EINVAL);
	CHECK_EQ(vt_loop_run_once(loop), 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(vt_loop_post(loop, inc, &n), 0);
	CHECK_EQ(n, 0); /* nothing runs before a drain */
	CHECK_EQ(vt_executor_dispatch(vt_loop_executor(loop), inc, &n), 0);
	CHECK_EQ(vt_loop_run_once(loop), 11);
	CHECK_EQ(n, 11);
	/* Destroy runs what is still queued, here. */
	CHECK_EQ(vt_loop_post(loop, inc, &n), 0);
	CHECK_EQ(vt_loop_destroy(&loop), 0);
	CHECK(loop == NULL);
	CHECK_EQ(n, 12);
	CHECK_EQ(g_wrong_thread, 0);
}

static void stop_item(void *arg)
{
	vt_loop_stop(arg);
}

static void test_run_stop(void)
{
	vt_loop *loop;
	long n = 0;

	CHECK_EQ(vt_loop_create(&loop, NULL), 0);
	CHECK_EQ(vt_loop_post(loop, inc, &n), 0);
	CHECK_EQ(vt_loop_post(loop, stop_item, loop), 0);
	CHECK_EQ(vt_loop_run(loop), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(vt_loop_destroy(&loop), 0);
}

/* ---- stress: producers on other threads, the loop drained via epoll ---- */

static int g_threads = 3;
static long g_iters = 300000;

struct prod {
	vt_loop *loop;
	long count;
	long *n;
};

static void *producer(void *arg)
{
	struct prod *p = arg;

	for (long i = 0; i < p->count; i++) {
		int rc;
		while ((rc = vt_loop_post(p->loop, inc, p->n)) == VT_EEXHAUSTED)
			sched_yield();
		CHECK_EQ(rc, 0);
	}
	return NULL;
}

static void test_stress(void)
{
	vt_loop *loop;
	pthread_t th[64];
	struct prod pr[64];
	long n = 0;
	int nt = g_threads > 64 ? 64 : g_threads;
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };

	g_loop_thread = pthread_self();
	CHECK(ep >= 0);
	CHECK_EQ(vt_loop_create(&loop, NULL), 0);
	CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, vt_loop_fd(loop), &ev), 0);
	for (int t = 0; t < nt; t++) {
		pr[t] = (struct prod){ loop, g_iters / nt, &n };
		CHECK_EQ(pthread_create(&th[t], NULL, producer, &pr[t]), 0);
	}
	long want = g_iters / nt * nt;
	while (__atomic_load_n(&n, __ATOMIC_RELAXED) < want) {
		struct epoll_event out;
		/* A lost wake-up would hang here: the timeout turns it into a failure. */
		int k = epoll_wait(ep, &out, 1, 5000);
		CHECK(k == 1);
		CHECK(vt_loop_run_once(loop) >= 0);
	}
	for (int t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ(vt_loop_destroy(&loop), 0);
	CHECK_EQ(n, want);
	CHECK_EQ(g_wrong_thread, 0);
	close(ep);
}

int main(int argc, char **argv)
{
	bool stress = argc > 1;

	vt_ck_args(argc, argv, &g_threads, &g_iters);
	if (!stress) {
		RUN(test_basic);
		RUN(test_run_stop);
		g_iters = 30000;
	}
	RUN(test_stress);
	return 0;
}
