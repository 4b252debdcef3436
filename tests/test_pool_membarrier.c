/*
 * tests/test_pool_membarrier.c: a steal from another thread's private stack
 * when the kernel refuses the membarrier (S1) it needs.
 *
 * The thief's barrier is what makes taking from a stack safe while its
 * owner may be popping it (pool_internal.h, S0..S2). The kernel can refuse
 * it: MEMBARRIER_CMD_PRIVATE_EXPEDITED allocates a CPU mask on kernels built
 * with CONFIG_CPUMASK_OFFSTACK (Debian's), and answers ENOMEM when that
 * fails. syscall() is wrapped at link time (hence the static archive) to
 * refuse it:
 *  - a few times with ENOMEM: the thief tries again, and the steal goes
 *    through once the barrier is made;
 *  - every time: the thief leaves the stack alone. The rent answers NULL
 *    (the objects are the owner's until the kernel agrees again, or until
 *    the owner returns them), and the steal succeeds once it does.
 * The refusal used to be ignored, and the thief took from the stack without
 * the barrier.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <valuetask.h>

#include "check.h"
#include "syscall_wrap.h"

enum { CAPACITY = 8 };

/* Set by main while the owner is parked; read by the thief (main). */
static long refuse;        /* refuse the next n expedited barriers (-1: all) */
static int refuse_errno;
static long barriers;      /* expedited barriers asked for */

static int syscall_hook(long number, const long a[3])
{
	if (number != SYS_membarrier || a[0] != MEMBARRIER_CMD_PRIVATE_EXPEDITED)
		return 0;
	barriers++;
	if (refuse == 0)
		return 0;
	if (refuse > 0)
		refuse--;
	return refuse_errno;
}

static vt_pool *pool;
static sem_t filled, finish;

/* The owner: every object onto its private stack, then parked (alive, so
 * its exit does not hand them back). */
static void *owner(void *arg)
{
	void *objs[CAPACITY];

	(void)arg;
	for (int i = 0; i < CAPACITY; i++)
		CHECK((objs[i] = vt_pool_rent(pool)) != NULL);
	for (int i = 0; i < CAPACITY; i++)
		vt_pool_return(pool, objs[i]);
	CHECK_EQ(sem_post(&filled), 0);
	while (sem_wait(&finish) != 0)
		CHECK_EQ(errno, EINTR);
	return NULL;
}

static uint64_t stack_steals(void)
{
	vt_pool_stats st;

	vt_pool_get_stats(pool, &st);
	return st.stack_steals;
}

int main(void)
{
	vt_pool_config cfg;
	pthread_t th;
	void *obj;

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		SKIP("no private expedited membarrier here, so no private stacks to steal from");

	vt_pool_config_default(&cfg);
	cfg.capacity = CAPACITY;
	cfg.initial_objects = CAPACITY;
	cfg.cache_size = CAPACITY; /* the owner's stack takes them all */
	cfg.max_threads = 2;
	CHECK_EQ(vt_pool_create(&pool, &cfg), 0);
	CHECK(sem_init(&filled, 0, 0) == 0 && sem_init(&finish, 0, 0) == 0);
	CHECK_EQ(pthread_create(&th, NULL, owner, NULL), 0);
	while (sem_wait(&filled) != 0)
		CHECK_EQ(errno, EINTR);
	CHECK_EQ(stack_steals(), 0);

	/* Refused three times (ENOMEM), then made: the steal goes through. */
	refuse = 3;
	refuse_errno = ENOMEM;
	barriers = 0;
	errno = 0;
	obj = vt_pool_rent(pool);
	CHECK(obj != NULL);
	CHECK_EQ(barriers, 4);
	CHECK_EQ(stack_steals(), 1);
	CHECK_EQ(errno, 0); /* the refusals leave errno alone */
	vt_pool_return(pool, obj);

	/* Refused every time: what this thread holds itself (the stolen half)
	 * it still gets; then no steal, and NULL. */
	void *held[CAPACITY];
	int n = 0;
	uint64_t steals = stack_steals();

	refuse = -1;
	for (int e = 0; e < 2; e++) {
		refuse_errno = e == 0 ? ENOMEM : EPERM;
		barriers = 0;
		while (n < CAPACITY && (held[n] = vt_pool_rent(pool)) != NULL)
			n++;
		CHECK(n < CAPACITY); /* some are still on the owner's stack */
		CHECK(barriers >= 1);
		CHECK_EQ(stack_steals(), steals);
	}

	/* The kernel agrees again: the owner's objects are reachable. */
	refuse = 0;
	while (n < CAPACITY && (held[n] = vt_pool_rent(pool)) != NULL)
		n++;
	CHECK_EQ(n, CAPACITY);
	CHECK(stack_steals() > steals);
	while (n > 0)
		vt_pool_return(pool, held[--n]);

	CHECK_EQ(sem_post(&finish), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(vt_pool_destroy(&pool), 0);
	printf("ok test_pool_membarrier\n");
	return VT_TEST_PASS;
}
