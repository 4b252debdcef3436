/*
 * tests/test_pool_handoff.c: the producer -> consumer shape does not steal
 * through membarrier on every round (docs/pool.md, "spill limit").
 *
 * The main thread rents BATCH objects from a small pool and hands them to a
 * second thread, which returns them all; then again, ROUNDS times, in lock
 * step (two semaphores: no timing). The returner never rents, so its
 * returns land in its cache and the renter can reach them only by taking
 * from that cache. A thief that had to steal from the returner's private
 * stack (one membarrier(2) each) lowers the returner's spill limit, so its
 * later returns go to its ring, which renters drain lock-free: the whole
 * run may call membarrier a few times, not once a round.
 *
 * membarrier is counted by wrapping syscall() at link time
 * (syscall_wrap.h), so this links the static archive. Skips (77) when the kernel has no private expedited membarrier:
 * the pool then runs without private stacks and never steals from one.
 *
 * Also checked: every rent succeeds (the renter never holds more than the
 * capacity), and at the end the pool has every object back.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <valuetask.h>

#include "syscall_wrap.h"

enum { CAPACITY = 16, BATCH = 8, ROUNDS = 400, MAX_MEMBARRIERS = 8 };

static long membarriers; /* expedited barriers, as the thief issues them */

static int syscall_hook(long number, const long a[3])
{
	if (number == SYS_membarrier && a[0] == MEMBARRIER_CMD_PRIVATE_EXPEDITED)
		__atomic_fetch_add(&membarriers, 1, __ATOMIC_RELAXED); /* a counter; no ordering */
	return 0;
}

static vt_pool *pool;
static void *batch[BATCH];
static sem_t to_returner, to_renter;

#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                   \
		}                                                                  \
	} while (0)

static void *returner(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		while (sem_wait(&to_returner) != 0) /* pairs with the renter's sem_post */
			;
		for (int i = 0; i < BATCH; i++)
			vt_pool_return(pool, batch[i]);
		CHECK(sem_post(&to_renter) == 0);
	}
	return NULL;
}

int main(void)
{
	vt_pool_config cfg;
	vt_pool_stats st;
	pthread_t th;
	long before;

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
		printf("skipped: no private expedited membarrier here, so no private stacks to steal from\n");
		return 77;
	}

	vt_pool_config_default(&cfg);
	cfg.capacity = CAPACITY;
	CHECK(vt_pool_create(&pool, &cfg) == 0);
	CHECK(sem_init(&to_returner, 0, 0) == 0 && sem_init(&to_renter, 0, 0) == 0);
	CHECK(pthread_create(&th, NULL, returner, NULL) == 0);

	before = __atomic_load_n(&membarriers, __ATOMIC_RELAXED);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BATCH; i++) {
			batch[i] = vt_pool_rent(pool);
			CHECK(batch[i] != NULL); /* at most BATCH of CAPACITY are out */
		}
		CHECK(sem_post(&to_returner) == 0);
		while (sem_wait(&to_renter) != 0)
			;
	}
	CHECK(pthread_join(th, NULL) == 0);
	long used = __atomic_load_n(&membarriers, __ATOMIC_RELAXED) - before;

	vt_pool_get_stats(pool, &st);
	printf("%d rounds of %d: %ld membarriers, %llu stack steals, %llu rents served from the other "
	       "thread's cache\n",
	       ROUNDS, BATCH, used, (unsigned long long)st.stack_steals, (unsigned long long)st.steals);
	CHECK(st.rented == 0 && st.rents == (uint64_t)ROUNDS * BATCH && st.empty_rents == 0);
	/* A stack steal is one membarrier (a thief that finds the stack emptied
	 * meanwhile pays one and counts none). */
	CHECK(st.stack_steals <= (uint64_t)used);
	CHECK(st.stack_steals <= st.steals);
	CHECK(vt_pool_destroy(&pool) == 0);
	CHECK(used <= MAX_MEMBARRIERS);
	return 0;
}
