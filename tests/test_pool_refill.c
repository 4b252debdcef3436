/*
 * tests/test_pool_refill.c: objects that a rent is moving from a ring onto
 * its private stack (the refill after a ring take) still count as free.
 *
 * A rent that takes one object from a ring refills its stack from the same
 * ring, up to half its spill limit. The objects it has taken so far sit in
 * its stack array; if the stack's count does not say so until the batch is
 * done, they are in no tier that another rent looks at (ring empty, stack
 * count 0, so thieves skip the stack), and a rent that needs them answers
 * NULL while they are free. A correct refill keeps its count current, so a
 * thief sees the stack and waits for the owner's few instructions instead.
 *
 * The schedule is fixed (semaphores, no timing). The pool's allocator maps
 * the cache stacks with mmap, and the second page of slot 0's stack is made
 * read-only before the first thread's first rent: that rent takes one object
 * from the shared ring (where all of them are) and refills its stack, and
 * its store into that page faults. The SIGSEGV handler holds the thread
 * there, a few hundred objects into the batch, until main lets it go. A
 * second thread meanwhile rents every object but the one the first thread
 * rented: each of them is free. The first thread is let go when the second
 * is done, or after a while (a correct rent waits for it, in a steal).
 *
 * Skips (77) when the kernel has no private expedited membarrier: the pool
 * then has no private stacks. Skips under valgrind too: resuming a store
 * after its fault needs every register as the fault left it, and memcheck
 * by default keeps only the stack and frame pointers precise at a memory
 * access (--vex-iropt-register-updates), so the resumed store wrote to
 * address 0x1 in CI's debug build.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <valuetask.h>

#include "check.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* Under valgrind: its client request, or its preload where the header was
 * missing at build time. */
static int under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return RUNNING_ON_VALGRIND || (pre != NULL && strstr(pre, "vgpreload") != NULL);
}

enum {
	CAPACITY = 4096,
	CACHE = 2048, /* a refill takes up to 1024: more than the stack's first page */
	/* The pool's allocation for one slot's stack: CACHE pointers and 8
	 * lines of slack (pool.c, vt__stack_bytes); no other block has this size. */
	STACK_BYTES = CACHE * sizeof(void *) + 8 * 64,
};

static size_t page;
static char *slot0_stack; /* the first stack allocation: slot 0's */
static char *armed;       /* the read-only page, while it is armed */
static sem_t held, go, second_done;
static vt_pool *pool;
static void *objs[CAPACITY];
static int second_got;

static size_t mapped(size_t size)
{
	return (size + page - 1) / page * page;
}

static void *stack_alloc(size_t size, size_t align, void *ctx)
{
	void *p = NULL;

	(void)ctx;
	if (size == STACK_BYTES) {
		p = mmap(NULL, mapped(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (slot0_stack == NULL)
			slot0_stack = p;
		return p;
	}
	return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) == 0 ? p : NULL;
}

static void stack_free(void *ptr, size_t size, void *ctx)
{
	(void)ctx;
	if (size == STACK_BYTES)
		CHECK_EQ(munmap(ptr, mapped(size)), 0);
	else
		free(ptr);
}

static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK_EQ(errno, EINTR);
}

/* The refill's store into the armed page: hold the thread, then let the
 * store run again. Any other fault is a real one. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)uc;
	if (armed == NULL || a < armed || a >= armed + page) {
		signal(sig, SIG_DFL);
		return;
	}
	CHECK_EQ(sem_post(&held), 0);
	sem_wait_all(&go);
	CHECK_EQ(mprotect(armed, page, PROT_READ | PROT_WRITE), 0);
	armed = NULL;
}

static void *first(void *arg)
{
	void *obj = vt_pool_rent(pool); /* refills slot 0's stack: held */

	(void)arg;
	CHECK(obj != NULL);
	return obj;
}

static void *second(void *arg)
{
	(void)arg;
	for (int i = 0; i < CAPACITY - 1; i++) {
		objs[i] = vt_pool_rent(pool);
		if (objs[i] == NULL) {
			fprintf(stderr, "rent %d of %d answered NULL: the refill's objects were invisible\n", i,
				CAPACITY - 1);
			break;
		}
		second_got++;
	}
	CHECK_EQ(sem_post(&second_done), 0);
	return NULL;
}

int main(void)
{
	vt_pool_config cfg;
	struct sigaction sa;
	struct timespec until;
	pthread_t t1, t2;
	void *first_obj;

	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		SKIP("no private expedited membarrier here, so no private stacks");
	if (under_valgrind())
		SKIP("under valgrind: a store resumed after its fault does not see the registers it faulted with");

	page = (size_t)sysconf(_SC_PAGESIZE);
	CHECK(sem_init(&held, 0, 0) == 0 && sem_init(&go, 0, 0) == 0 && sem_init(&second_done, 0, 0) == 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);

	vt_pool_config_default(&cfg);
	cfg.object_size = 16;
	cfg.object_align = 16;
	cfg.capacity = CAPACITY;
	cfg.slab_objects = CAPACITY;
	cfg.initial_objects = CAPACITY; /* all on the shared ring */
	cfg.cache_size = CACHE;
	cfg.max_threads = 2;
	cfg.allocator.alloc = stack_alloc;
	cfg.allocator.free = stack_free;
	CHECK_EQ(vt_pool_create(&pool, &cfg), 0);
	CHECK(slot0_stack != NULL);

	/* The first thread to use the pool claims slot 0. */
	armed = slot0_stack + page;
	CHECK_EQ(mprotect(armed, page, PROT_READ), 0);
	CHECK_EQ(pthread_create(&t1, NULL, first, NULL), 0);
	sem_wait_all(&held);

	CHECK_EQ(pthread_create(&t2, NULL, second, NULL), 0);
	CHECK_EQ(clock_gettime(CLOCK_REALTIME, &until), 0);
	until.tv_nsec += 200 * 1000 * 1000;
	if (until.tv_nsec >= 1000 * 1000 * 1000) {
		until.tv_sec++;
		until.tv_nsec -= 1000 * 1000 * 1000;
	}
	int rc;
	while ((rc = sem_timedwait(&second_done, &until)) != 0 && errno == EINTR)
		;
	CHECK_EQ(sem_post(&go), 0);
	CHECK_EQ(pthread_join(t1, &first_obj), 0);
	CHECK_EQ(pthread_join(t2, NULL), 0);
	if (rc != 0)
		sem_wait_all(&second_done);

	/* Every object but the first thread's was free. */
	CHECK_EQ(second_got, CAPACITY - 1);
	CHECK(vt_pool_rent(pool) == NULL);
	for (int i = 0; i < second_got; i++)
		vt_pool_return(pool, objs[i]);
	vt_pool_return(pool, first_obj);
	CHECK_EQ(vt_pool_destroy(&pool), 0);
	printf("ok test_refill_counts_as_free\n");
	return VT_TEST_PASS;
}
