/*
 * A producer -> consumer handoff: thread P rents an object, writes to it and
 * passes it through an SPSC queue to thread C, which returns it. P never
 * returns and C never rents, the shape of a server whose reader allocates
 * requests that a worker finishes. It is what a pool with per-thread caches
 * does worst: every return lands in C's cache, and P can reach it only
 * there (docs/pool.md, "spill limit"; tests/test_pool_handoff.c).
 *
 * P keeps at most capacity/2 objects in flight (rented and not yet
 * returned: in the queue, or in C's hands), counted against C's count of
 * returns, and the queue has room for all of them. So at least half the
 * pool is always in it, and a rent that answers NULL breaks the pool's
 * exactness contract, unless the objects it missed were on the move
 * (include/valuetask/pool.h: NULL "when all capacity objects are rented (or
 * moving)"). P then counts the NULL (nulls=) and tries again after a
 * backoff, as long as C still holds objects; a NULL with nothing in flight
 * is a broken pool, and the benchmark dies.
 *
 * An operation is one handoff (rent, queue, return); ns_op is wall time
 * over the handoffs. Both threads back off with vtb_relax when they cannot
 * move (P: the window is full or the rent failed; C: the queue is empty), so
 * neither spins forever while the other is descheduled. C checks that the
 * objects arrive in the order P sent them, with the sequence number P wrote
 * into each, so a rent that hands out an object still in flight shows.
 *
 * Implementations (--impl):
 *   valuetask          vt_pool with its defaults but the capacity
 *   valuetask-nocache  the same with cache_size = 0: its shared ring alone
 *   malloc-<alloc>     P mallocs 64 bytes, C frees them: a cross-thread free
 * (bench_pool's rte_mempool comparator is not here: pool_dpdk.c exports only
 * its rent + return loop, not a rent and a return to call from two threads.)
 *
 * --capacity 16,1024 (the default) runs every implementation at each pool
 * capacity; the in-flight bound (capacity/2) holds for malloc too. Extra
 * keys: capacity, window (the in-flight bound), nulls; for valuetask the
 * pool's counters pool_steals and pool_empty_rents, over all runs, warm-up
 * included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valuetask.h>

#include "bench.h"
#include "bench_pool.h" /* VTB_POOL_OBJECT_SIZE: question 4's objects */
#include "pool_row.h"
#include "spsc.h"

enum { IMPL_VT, IMPL_VT_NOCACHE, IMPL_MALLOC, NIMPL };

#define MAX_CAPACITIES 8
#define MAX_CAPACITY (1u << 20)

struct hstate {
	int impl;
	const char *name;
	unsigned capacity, window;
	vt_pool *pool;
	vtb_spsc q;                        /* P -> C: the rented objects */
	uint64_t nulls;                    /* P only: rents that answered NULL */
	_Alignas(64) uint64_t returned;    /* C only: objects returned this run */
	_Alignas(64) int p_done;           /* P has seen everything returned; C may stop */
	char pad[60];
};

static inline void *h_rent(struct hstate *h)
{
	return h->impl == IMPL_MALLOC ? malloc(VTB_POOL_OBJECT_SIZE) : vt_pool_rent(h->pool);
}

static inline void h_return(struct hstate *h, void *o)
{
	if (h->impl == IMPL_MALLOC)
		free(o);
	else
		vt_pool_return(h->pool, o);
}

static void producer(vtb_thread *th, struct hstate *h)
{
	uint64_t rented = 0, done = 0;
	unsigned spins = 0;

	h->returned = 0;
	h->p_done = 0;
	vtb_thread_start(th);
	while (!vtb_stop_requested()) {
		vtb_spsc_item it = { NULL, NULL, NULL };

		if (rented - done >= h->window) {
			/* acquire: pairs with C's release; its return is complete */
			done = __atomic_load_n(&h->returned, __ATOMIC_ACQUIRE);
			if (rented - done >= h->window) {
				vtb_relax(&spins);
				continue;
			}
		}
		it.obj = h_rent(h);
		if (VTB_UNLIKELY(it.obj == NULL)) {
			done = __atomic_load_n(&h->returned, __ATOMIC_ACQUIRE);
			if (h->impl == IMPL_MALLOC || done == rented)
				vtb_die("handoff/%s: rent answered NULL with nothing in flight "
					"(capacity %u)", h->name, h->capacity);
			h->nulls++;
			vtb_relax(&spins);
			continue;
		}
		((volatile uint64_t *)it.obj)[1] = rented;
		if (VTB_UNLIKELY(!vtb_spsc_push(&h->q, it))) /* cannot happen: window <= queue size */
			vtb_die("handoff: queue full");
		rented++;
		spins = 0;
	}
	while (__atomic_load_n(&h->returned, __ATOMIC_ACQUIRE) != rented)
		vtb_relax(&spins);
	vtb_thread_finish(th, rented);
	__atomic_store_n(&h->p_done, 1, __ATOMIC_RELEASE); /* pairs with C's acquire */
}

static void consumer(vtb_thread *th, struct hstate *h)
{
	uint64_t seq = 0;
	unsigned spins = 0;

	vtb_thread_start(th);
	for (;;) {
		vtb_spsc_item it;

		if (vtb_spsc_pop(&h->q, &it)) {
			uint64_t got = ((volatile uint64_t *)it.obj)[1];

			if (VTB_UNLIKELY(got != seq))
				vtb_die("handoff/%s: object %llu arrived as %llu: handed out twice?",
					h->name, (unsigned long long)seq, (unsigned long long)got);
			h_return(h, it.obj);
			seq++;
			/* release: pairs with P's acquire; P may rent one more */
			__atomic_store_n(&h->returned, seq, __ATOMIC_RELEASE);
			spins = 0;
		} else if (__atomic_load_n(&h->p_done, __ATOMIC_ACQUIRE)) {
			break;
		} else {
			vtb_relax(&spins);
		}
	}
	vtb_thread_finish(th, 0);
}

static void worker(vtb_thread *th)
{
	struct hstate *h = th->arg;

	if (th->id == 0)
		producer(th, h);
	else
		consumer(th, h);
}

static struct hstate *hstate_new(int impl, const char *name, unsigned capacity)
{
	struct hstate *h = aligned_alloc(64, (sizeof(struct hstate) + 63) & ~(size_t)63);
	unsigned qsize = 1;

	if (h == NULL)
		vtb_die("out of memory");
	memset(h, 0, sizeof(*h));
	h->impl = impl;
	h->name = name;
	h->capacity = capacity;
	h->window = capacity / 2;
	while (qsize < h->window)
		qsize <<= 1;
	if (vtb_spsc_init(&h->q, qsize) != 0)
		vtb_die("out of memory");
	if (impl != IMPL_MALLOC) {
		vt_pool_config cfg;
		int rc;

		vt_pool_config_default(&cfg);
		cfg.object_size = VTB_POOL_OBJECT_SIZE;
		cfg.capacity = capacity;
		if (impl == IMPL_VT_NOCACHE)
			cfg.cache_size = 0;
		rc = vt_pool_create(&h->pool, &cfg);
		if (rc != 0)
			vtb_die("vt_pool_create: %s", vt_strerror(rc));
	}
	return h;
}

/* Print the row, release everything. */
static void hstate_finish(struct hstate *h, vtb_result *r)
{
	int rc;

	snprintf(r->extra, sizeof(r->extra), "capacity=%u window=%u nulls=%llu", h->capacity,
		 h->window, (unsigned long long)h->nulls);
	if (h->impl != IMPL_MALLOC) {
		vt_pool_stats st;

		vt_pool_get_stats(h->pool, &st);
		vtb_append_pool_stats(r->extra, sizeof(r->extra), &st);
	}
	vtb_print(r);
	vtb_result_free(r);
	if (h->impl != IMPL_MALLOC && (rc = vt_pool_destroy(&h->pool)) != 0)
		vtb_die("handoff/%s: %d objects still rented at destroy", h->name, rc);
	vtb_spsc_fini(&h->q);
	free(h);
}

/* Take "--capacity A,B,..." out of argv (the harness knows no such option). */
static int take_capacities(int *argc, char **argv, unsigned *caps)
{
	int n = 0, j = 1;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			printf("bench_handoff: also --capacity A,B,...  pool capacities (default 16,1024)\n");
		if (strcmp(argv[i], "--capacity") != 0 || i + 1 == *argc) {
			argv[j++] = argv[i];
			continue;
		}
		long v[MAX_CAPACITIES];

		n = vtb_parse_list(argv[++i], 2, MAX_CAPACITY, "--capacity", v, MAX_CAPACITIES);
		for (int k = 0; k < n; k++)
			caps[k] = (unsigned)v[k];
	}
	*argc = j;
	argv[j] = NULL;
	if (n == 0) {
		caps[n++] = 16;
		caps[n++] = 1024;
	}
	return n;
}

int main(int argc, char **argv)
{
	static const char *const impl_names[NIMPL] = { "valuetask", "valuetask-nocache", "malloc" };
	char malloc_name[64];
	unsigned caps[MAX_CAPACITIES];
	struct hstate *hs[MAX_CAPACITIES * NIMPL];
	vtb_result res[MAX_CAPACITIES * NIMPL];
	vtb_thread_case cases[MAX_CAPACITIES * NIMPL];
	int ncaps, n = 0;

	ncaps = take_capacities(&argc, argv, caps);
	vtb_init(argc, argv, "bench_handoff", "valuetask,valuetask-nocache,malloc");
	vtb_header("bench_handoff");
	snprintf(malloc_name, sizeof(malloc_name), "malloc-%s", vtb_allocator_name());
	memset(res, 0, sizeof(res));
	memset(cases, 0, sizeof(cases));
	for (int c = 0; c < ncaps; c++) {
		for (int impl = 0; impl < NIMPL; impl++) {
			if (!vtb_selected(impl_names[impl]))
				continue;
			res[n].bench = "handoff";
			res[n].impl = impl == IMPL_MALLOC ? malloc_name : impl_names[impl];
			hs[n] = hstate_new(impl, res[n].impl, caps[c]);
			cases[n].r = &res[n];
			cases[n].nthreads = 2;
			cases[n].worker = worker;
			cases[n].arg = hs[n];
			n++;
		}
	}
	if (vtb_measure_threads_set(cases, n) != 0)
		vtb_die("handoff: a run failed");
	for (int i = 0; i < n; i++)
		hstate_finish(hs[i], &res[i]);
	return 0;
}
