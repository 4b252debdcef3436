/*
 * tests/test_pool_exit_drain.c: the objects on an exiting thread's cache
 * ring count as free while its exit hook moves them to the shared ring.
 *
 * The exit hook drains the thread's ring into the shared ring. An object
 * it has dequeued is on no tier until it is on the shared ring; if the
 * hook then waits for the shared ring's mutex, a rent that needs that
 * object answers NULL while it is free, for as long as the wait lasts.
 *
 * The schedule is fixed (semaphores, no timing). The second thread leaves
 * three objects on its ring and none on its stack (cache_size 1: each
 * return past the first moves the stack's one object to the ring; a last
 * rent empties the stack), hands its one rented object to main and exits.
 * Its exit hook is held on the first mutex it takes while holding another
 * (the shared ring's, inside the registry lock; mutex_wrap.h). Main then rents the
 * three free objects, and lets the thread go.
 *
 * Skips (77) when the kernel has no private expedited membarrier: the pool
 * then has no private stacks, and the thread's returns would all be on its
 * ring anyway (the same case; this test sets it up through the stack).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <valuetask.h>

#include "check.h"
#include "mutex_wrap.h"

enum { CAPACITY = 4 };

static vt_pool *pool;
static sem_t held, release_second;
static _Thread_local int hold_armed; /* the second thread, once it has returned */

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK_EQ(errno, EINTR);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	if (hold_armed && locks_held > 0) {
		hold_armed = 0;
		CHECK_EQ(sem_post(&held), 0);
		sem_wait_all(&release_second);
	}
	return mutex_wrap_lock(m);
}

static void *second(void *arg)
{
	void *objs[CAPACITY], *last;

	(void)arg;
	for (int i = 0; i < CAPACITY; i++) {
		objs[i] = vt_pool_rent(pool);
		CHECK(objs[i] != NULL);
	}
	/* Stack 1, ring 3; then the last rent takes the stack's one. */
	for (int i = 0; i < CAPACITY; i++)
		vt_pool_return(pool, objs[i]);
	last = vt_pool_rent(pool);
	CHECK(last != NULL);
	hold_armed = 1; /* the exit hook's drain is held */
	return last;
}

int main(void)
{
	vt_pool_config cfg;
	vt_pool_stats st;
	pthread_t th;
	void *objs[CAPACITY - 1], *last;

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		SKIP("no private expedited membarrier here, so no private stacks");

	CHECK(sem_init(&held, 0, 0) == 0 && sem_init(&release_second, 0, 0) == 0);
	vt_pool_config_default(&cfg);
	cfg.capacity = CAPACITY;
	cfg.cache_size = 1;
	cfg.max_threads = 2;
	CHECK_EQ(vt_pool_create(&pool, &cfg), 0);

	CHECK_EQ(pthread_create(&th, NULL, second, NULL), 0);
	sem_wait_all(&held);
	/* The exited thread's three objects are free. */
	for (int i = 0; i < CAPACITY - 1; i++) {
		objs[i] = vt_pool_rent(pool);
		if (objs[i] == NULL)
			fprintf(stderr, "rent %d of %d answered NULL while the exit hook drained the ring\n", i,
				CAPACITY - 1);
		CHECK(objs[i] != NULL);
	}
	CHECK_EQ(sem_post(&release_second), 0);
	CHECK_EQ(pthread_join(th, &last), 0);
	CHECK(vt_pool_rent(pool) == NULL);
	vt_pool_get_stats(pool, &st);
	CHECK_EQ(st.rented, CAPACITY);
	for (int i = 0; i < CAPACITY - 1; i++)
		vt_pool_return(pool, objs[i]);
	vt_pool_return(pool, last);
	CHECK_EQ(vt_pool_destroy(&pool), 0);
	printf("ok test_exit_drain_counts_as_free\n");
	return VT_TEST_PASS;
}
