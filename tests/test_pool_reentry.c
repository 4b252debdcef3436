/*
 * tests/test_pool_reentry.c: a pool's obj_init (or allocator) may use other
 * pools, including one whose id shares the growing pool's way in the
 * per-thread cache table.
 *
 * Each thread maps the pools it uses into 16 ways by id, and ids are
 * sequential, so pools a and a + 16 share a way: using one evicts the
 * other's entry, which drains that pool's cache for this thread and gives
 * its slot up, for any thread to claim. A rent that grows its pool runs
 * the user's allocator and obj_init; here obj_init rents a sub-object from
 * a pool in the same way, so the growing pool's entry is evicted under the
 * rent. The rent used to go on with the cache it had fetched before it
 * grew: it refilled the private stack of a slot that another thread had
 * claimed meanwhile, and two threads then worked that stack as its owner.
 *
 * The schedule is fixed (semaphores, no timing). Main rents from pool A,
 * which grows; the third obj_init has evicted A's entry (slot free, objects
 * 0 and 1 on A's shared ring) and lets a second thread run: it rents from A,
 * claiming the slot (object 0 rented, object 1 on its stack), then rents
 * from B, which evicts A's entry in its turn: the drain enters the stack,
 * and the second thread is held inside it, on the mutex of A's shared ring
 * (pthread_mutex_lock is wrapped at link time, hence the static archive:
 * a thread is held when it takes a mutex while holding another). Main's rent
 * then finishes. Before the fix it refilled the held thread's stack with
 * objects 3 to 5, and the drain, resumed, set the stack's count to 0 over
 * them: three objects lost, so A could no longer hand out its capacity.
 * A correct rent stays off that slot, or waits: a main that would block on
 * a mutex the held thread holds lets it go first.
 *
 * Skips (77) when the kernel has no private expedited membarrier: the pool
 * then has no private stacks.
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

enum { CAPACITY = 8, SUB_CAPACITY = 16, HOLD_AT = 3 /* the obj_init that lets the second thread in */ };

typedef struct obj {
	void *sub; /* rented from B by obj_init */
} obj;

static vt_pool *pool_a, *pool_b;
static pthread_t main_thread, second_thread;
static sem_t go_second, second_held, release_second;
static int held;     /* the second thread is held inside the drain */
static int released; /* release_second was posted */
static int inits;    /* obj_init calls (main's only) */

static _Thread_local int hold_armed; /* the second thread, for its rent from B */

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK_EQ(errno, EINTR);
}

/* Let the held thread go, once. */
static void release(void)
{
	/* acq_rel: pairs with itself (main after its rent, or main's wrapper)
	 * and with the acquire load in the wrapper: one post, ever. */
	if (!__atomic_exchange_n(&released, 1, __ATOMIC_ACQ_REL))
		CHECK_EQ(sem_post(&release_second), 0);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	if (hold_armed && locks_held > 0) {
		hold_armed = 0;
		/* Release: pairs with main's acquire loads (its wrapper, its check). */
		__atomic_store_n(&held, 1, __ATOMIC_RELEASE);
		CHECK_EQ(sem_post(&second_held), 0);
		sem_wait_all(&release_second);
	} else if (pthread_equal(pthread_self(), main_thread) && __atomic_load_n(&held, __ATOMIC_ACQUIRE) &&
	           !__atomic_load_n(&released, __ATOMIC_ACQUIRE)) {
		/* (Acquire loads: pair with the store of held above and the
		 * exchange in release().) Main would wait for the held thread:
		 * let it go first. */
		if (pthread_mutex_trylock(m) == 0) {
			locks_held++;
			return 0;
		}
		release();
	}
	return mutex_wrap_lock(m);
}

static void init_with_sub(void *o, void *ctx)
{
	(void)ctx;
	CHECK(pthread_equal(pthread_self(), main_thread));
	/* B shares A's way: this evicts A's entry under main's rent. */
	((obj *)o)->sub = vt_pool_rent(pool_b);
	CHECK(((obj *)o)->sub != NULL);
	if (++inits == HOLD_AT) {
		CHECK_EQ(sem_post(&go_second), 0);
		sem_wait_all(&second_held);
	}
}

static void *second(void *arg)
{
	void *a, *b;

	(void)arg;
	sem_wait_all(&go_second);
	/* The slot main's eviction gave up: object 0 for us, object 1 refills
	 * our stack. */
	a = vt_pool_rent(pool_a);
	CHECK(a != NULL);
	/* Evicts A's entry: the drain enters our stack and is held there. */
	hold_armed = 1;
	b = vt_pool_rent(pool_b);
	CHECK(b != NULL);
	CHECK_EQ(hold_armed, 0);
	vt_pool_return(pool_b, b);
	vt_pool_return(pool_a, a);
	return NULL;
}

int main(void)
{
	vt_pool_config cfg;
	vt_pool_stats st;
	obj *objs[CAPACITY];
	void *first;

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		SKIP("no private expedited membarrier here, so no private stacks");

	main_thread = pthread_self();
	CHECK_EQ(sem_init(&go_second, 0, 0), 0);
	CHECK_EQ(sem_init(&second_held, 0, 0), 0);
	CHECK_EQ(sem_init(&release_second, 0, 0), 0);

	/* A, then 15 pools, then B: ids a and a + 16, one way. */
	vt_pool_config_default(&cfg);
	cfg.object_size = sizeof(obj);
	cfg.object_align = _Alignof(obj);
	cfg.capacity = CAPACITY;
	cfg.cache_size = CAPACITY; /* a refill fills the stack to 4 */
	cfg.obj_init = init_with_sub;
	CHECK_EQ(vt_pool_create(&pool_a, &cfg), 0);
	for (int i = 0; i < 15; i++) {
		vt_pool *dummy;
		vt_pool_config_default(&cfg);
		CHECK_EQ(vt_pool_create(&dummy, &cfg), 0);
		CHECK_EQ(vt_pool_destroy(&dummy), 0);
	}
	vt_pool_config_default(&cfg);
	cfg.capacity = SUB_CAPACITY;
	CHECK_EQ(vt_pool_create(&pool_b, &cfg), 0);

	CHECK_EQ(pthread_create(&second_thread, NULL, second, NULL), 0);
	first = vt_pool_rent(pool_a); /* grows A: the schedule above */
	CHECK(first != NULL);
	release();
	CHECK_EQ(pthread_join(second_thread, NULL), 0);
	/* Otherwise the second thread's rent from B did not evict A: the pools
	 * did not share a way, and nothing was shown. */
	CHECK(__atomic_load_n(&held, __ATOMIC_ACQUIRE));
	CHECK_EQ(inits, CAPACITY);
	vt_pool_return(pool_a, first);

	/* Every object of A is free: all of them can be rented. */
	for (int i = 0; i < CAPACITY; i++) {
		objs[i] = vt_pool_rent(pool_a);
		if (objs[i] == NULL)
			fprintf(stderr, "rent %d of %d from A answered NULL: objects lost\n", i, CAPACITY);
		CHECK(objs[i] != NULL);
	}
	CHECK(vt_pool_rent(pool_a) == NULL);
	vt_pool_get_stats(pool_a, &st);
	CHECK_EQ(st.rented, CAPACITY);
	for (int i = 0; i < CAPACITY; i++) {
		vt_pool_return(pool_b, objs[i]->sub);
		vt_pool_return(pool_a, objs[i]);
	}
	CHECK_EQ(vt_pool_destroy(&pool_a), 0);
	CHECK_EQ(vt_pool_destroy(&pool_b), 0);
	printf("ok test_grow_callback_evicts_own_way\n");
	return VT_TEST_PASS;
}
