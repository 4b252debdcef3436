/*
 * Question 4: pool rent + return alone, at 1, 2, 4 and 8 threads.
 *
 * Each thread rents --depth objects (default 1) of 64 bytes, writing to
 * each, then returns them, oldest first, and again; an operation is one
 * rent + return. On this 2-core machine 4 and 8
 * threads are oversubscribed, as servers usually are: a thread can be
 * preempted in the middle of a rent or return, and the row shows what that
 * costs everyone else. One rent and one return in --sample-every (64) are
 * timed, at random gaps (bench_pool.h): p50/p99/p99.9 of the rents (p50_ns, ...) and of the returns
 * (ret_p50_ns, ...) are printed.
 *
 * Implementations (--impl):
 *   valuetask          vt_pool with its defaults (per-thread caches)
 *   valuetask-nocache  vt_pool with cache_size = 0: its shared ck_ring only
 *   ckring             a bare ck_ring MPMC free list of pointers, no cache
 *   ckstack            ck_stack mpmc (generation-counted CAS2), intrusive
 *   mutex              a pthread mutex around an intrusive free list
 *   malloc-<alloc>     malloc(64) + free, whatever serves malloc in this
 *                      executable (the _mimalloc variant for mimalloc, ...)
 *   dotnet             .NET's PoolingAsyncValueTaskMethodBuilder cache: one
 *                      slot per thread plus one padded slot per core, taken
 *                      with an atomic exchange, else malloc/free
 *   dpdk               rte_mempool (ring_mp_mc) with its per-lcore cache (256)
 *
 * bench_pool_packed is this file built with VT_POOL_PACKED_LAYOUT against a
 * copy of the library built the same way (pool_internal.h: the pool without
 * its cache-line padding). Its pool rows are named valuetask-packed (and
 * valuetask-packed-nocache), and by default it runs only valuetask-packed:
 * beside bench_pool's valuetask rows, the cache-line measurement of
 * docs/pool.md.
 *
 * SPEC §5: one thread at least as fast as mimalloc malloc+free; at 4 and 8
 * threads >= 50% of the 2-thread throughput, and p99.9 rent latency < 50 us.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ck_ring.h>
#include <ck_stack.h>

#include <valuetask.h>

#include "bench.h"
#include "bench_pool.h"
#include "pool_row.h"

#define CAPACITY 16384u

static unsigned next_pow2(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* ---- valuetask ---------------------------------------------------------- */

#ifdef VT_POOL_PACKED_LAYOUT
#define VT_IMPL "valuetask-packed"
#define DEFAULT_IMPLS VT_IMPL
#else
#define VT_IMPL "valuetask"
#define DEFAULT_IMPLS VT_IMPL ",valuetask-nocache,ckring,ckstack,mutex,malloc,dotnet,dpdk"
#endif

static int vt_create_common(void **state, unsigned capacity, int max_threads, bool cache, char *err,
			    size_t errlen)
{
	vt_pool_config cfg;
	vt_pool *p;
	int rc;

	vt_pool_config_default(&cfg);
	cfg.object_size = VTB_POOL_OBJECT_SIZE;
	cfg.capacity = capacity;
	cfg.initial_objects = capacity; /* every slab up front, as the other pools */
	if (!cache)
		cfg.cache_size = 0;
	if ((unsigned)max_threads > cfg.max_threads)
		cfg.max_threads = (uint32_t)max_threads;
	rc = vt_pool_create(&p, &cfg);
	if (rc != 0) {
		snprintf(err, errlen, "vt_pool_create: %s", vt_strerror(rc));
		return -1;
	}
	*state = p;
	return 0;
}

static int vt_create(void **state, unsigned capacity, int max_threads, char *err, size_t errlen)
{
	return vt_create_common(state, capacity, max_threads, true, err, errlen);
}

static int vt_create_nocache(void **state, unsigned capacity, int max_threads, char *err,
			     size_t errlen)
{
	return vt_create_common(state, capacity, max_threads, false, err, errlen);
}

static void vt_destroy(void *state)
{
	vt_pool *p = state;
	int rc = vt_pool_destroy(&p);

	if (rc != 0)
		vtb_die("pool/valuetask: vt_pool_destroy found %d objects still rented", rc);
}

static void vt_describe(void *state, char *buf, size_t len)
{
	vt_pool_stats st;

	vt_pool_get_stats(state, &st);
	buf[0] = '\0';
	vtb_append_pool_stats(buf, len, &st);
	snprintf(buf + strlen(buf), len - strlen(buf), " pool_created=%llu", (unsigned long long)st.created);
}

#define VT_RENT(S) vt_pool_rent(S)
#define VT_RET(S, o) vt_pool_return(S, o)
VTB_POOL_WORKER(vt_worker, vt_pool, VT_RENT, VT_RET, (void)0, (void)0)

/* ---- objects for the hand-made free lists ------------------------------- */

struct slab {
	unsigned char *mem;
	unsigned n;
};

static int slab_make(struct slab *s, unsigned n)
{
	s->mem = aligned_alloc(64, (size_t)n * VTB_POOL_OBJECT_SIZE);
	s->n = n;
	if (s->mem != NULL)
		memset(s->mem, 0, (size_t)n * VTB_POOL_OBJECT_SIZE);
	return s->mem != NULL ? 0 : -1;
}

static void *slab_obj(struct slab *s, unsigned i)
{
	return s->mem + (size_t)i * VTB_POOL_OBJECT_SIZE;
}

/* ---- bare ck_ring MPMC free list ---------------------------------------- */

struct ckring_pool {
	_Alignas(64) ck_ring_t ring;
	ck_ring_buffer_t *buf;
	struct slab slab;
};

static int ckring_create(void **state, unsigned capacity, int max_threads, char *err, size_t errlen)
{
	struct ckring_pool *p = aligned_alloc(64, sizeof(*p));
	unsigned size = next_pow2(capacity + 1); /* a ring of N slots holds N-1 */

	(void)max_threads;
	if (p == NULL || slab_make(&p->slab, capacity) != 0 ||
	    (p->buf = calloc(size, sizeof(ck_ring_buffer_t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ck_ring_init(&p->ring, size);
	for (unsigned i = 0; i < capacity; i++)
		if (!ck_ring_enqueue_mpmc(&p->ring, p->buf, slab_obj(&p->slab, i)))
			vtb_die("ck_ring fill failed");
	*state = p;
	return 0;
}

static void ckring_destroy(void *state)
{
	struct ckring_pool *p = state;

	if (ck_ring_size(&p->ring) != p->slab.n)
		vtb_die("pool/ckring: %u objects missing", p->slab.n - ck_ring_size(&p->ring));
	free(p->slab.mem);
	free(p->buf);
	free(p);
}

static inline void *ckring_rent(struct ckring_pool *p)
{
	void *o;

	return ck_ring_dequeue_mpmc(&p->ring, p->buf, &o) ? o : NULL;
}

static inline void ckring_ret(struct ckring_pool *p, void *o)
{
	/* Cannot fail: the ring has a free slot for every object. */
	ck_ring_enqueue_mpmc(&p->ring, p->buf, o);
}

VTB_POOL_WORKER(ckring_worker, struct ckring_pool, ckring_rent, ckring_ret, (void)0, (void)0)

/* ---- ck_stack mpmc (generation-counted) --------------------------------- */

struct ckstack_pool {
	_Alignas(64) ck_stack_t stack;
	char pad[64 - sizeof(ck_stack_t)];
	struct slab slab;
};

static int ckstack_create(void **state, unsigned capacity, int max_threads, char *err,
			  size_t errlen)
{
	struct ckstack_pool *p = aligned_alloc(64, sizeof(*p));

	(void)max_threads;
	if (p == NULL || slab_make(&p->slab, capacity) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ck_stack_init(&p->stack);
	for (unsigned i = 0; i < capacity; i++)
		ck_stack_push_mpmc(&p->stack, slab_obj(&p->slab, i));
	*state = p;
	return 0;
}

static void ckstack_destroy(void *state)
{
	struct ckstack_pool *p = state;
	unsigned n = 0;

	while (ck_stack_pop_npsc(&p->stack) != NULL)
		n++;
	if (n != p->slab.n)
		vtb_die("pool/ckstack: %u objects missing", p->slab.n - n);
	free(p->slab.mem);
	free(p);
}

static inline void *ckstack_rent(struct ckstack_pool *p)
{
	return ck_stack_pop_mpmc(&p->stack);
}

static inline void ckstack_ret(struct ckstack_pool *p, void *o)
{
	ck_stack_push_mpmc(&p->stack, o);
}

VTB_POOL_WORKER(ckstack_worker, struct ckstack_pool, ckstack_rent, ckstack_ret, (void)0, (void)0)

/* ---- mutex-protected free list ------------------------------------------ */

struct mutex_pool {
	_Alignas(64) pthread_mutex_t mu;
	void *head; /* under mu; each free object's first word links to the next */
	struct slab slab;
};

static int mutex_create(void **state, unsigned capacity, int max_threads, char *err, size_t errlen)
{
	struct mutex_pool *p = aligned_alloc(64, sizeof(*p));

	(void)max_threads;
	if (p == NULL || slab_make(&p->slab, capacity) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->head = NULL;
	for (unsigned i = 0; i < capacity; i++) {
		void **o = slab_obj(&p->slab, i);

		*o = p->head;
		p->head = o;
	}
	*state = p;
	return 0;
}

static void mutex_destroy(void *state)
{
	struct mutex_pool *p = state;
	unsigned n = 0;

	for (void **o = p->head; o != NULL; o = *o)
		n++;
	if (n != p->slab.n)
		vtb_die("pool/mutex: %u objects missing", p->slab.n - n);
	pthread_mutex_destroy(&p->mu);
	free(p->slab.mem);
	free(p);
}

static inline void *mutex_rent(struct mutex_pool *p)
{
	void **o;

	pthread_mutex_lock(&p->mu);
	o = p->head;
	if (o != NULL)
		p->head = *o;
	pthread_mutex_unlock(&p->mu);
	return o;
}

static inline void mutex_ret(struct mutex_pool *p, void *o)
{
	pthread_mutex_lock(&p->mu);
	*(void **)o = p->head;
	p->head = o;
	pthread_mutex_unlock(&p->mu);
}

VTB_POOL_WORKER(mutex_worker, struct mutex_pool, mutex_rent, mutex_ret, (void)0, (void)0)

/* ---- malloc + free ------------------------------------------------------ */

static int malloc_create(void **state, unsigned capacity, int max_threads, char *err,
			 size_t errlen)
{
	(void)capacity;
	(void)max_threads;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static void malloc_destroy(void *state)
{
	(void)state;
}

#define MALLOC_RENT(S) malloc(VTB_POOL_OBJECT_SIZE)
#define MALLOC_RET(S, o) free(o)
VTB_POOL_WORKER(malloc_worker, void, MALLOC_RENT, MALLOC_RET, (void)0, (void)0)

/* ---- .NET's pooling builder cache --------------------------------------- */

/*
 * PoolingAsyncValueTaskMethodBuilder's StateMachineBox cache (.NET 6+):
 *   rent:   take the thread's slot ([ThreadStatic], no atomics); else the
 *           current core's slot with Interlocked.Exchange(ref slot, null);
 *           else allocate a new box;
 *   return: fill the thread's slot if empty; else, if the core's slot is
 *           empty, store into it; else drop the box (the GC takes it).
 * The core index is GetCurrentProcessorId() % ProcessorCount; the per-core
 * slots are padded to a cache line. .NET's return stores with a plain
 * Volatile.Write, which can lose a box to a racing return (the GC collects
 * it); with no GC we exchange instead and free what comes back.
 */
struct dn_slot {
	_Alignas(64) void *obj;
	char pad[64 - sizeof(void *)];
};

struct dn_pool {
	unsigned ncores;
	struct dn_slot *cores;
};

static __thread __attribute__((tls_model("initial-exec"))) void *dn_thread_slot;

static int dn_create(void **state, unsigned capacity, int max_threads, char *err, size_t errlen)
{
	struct dn_pool *p = malloc(sizeof(*p));
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)capacity;
	(void)max_threads;
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->ncores = n > 0 ? (unsigned)n : 1;
	p->cores = aligned_alloc(64, p->ncores * sizeof(struct dn_slot));
	if (p->cores == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(p->cores, 0, p->ncores * sizeof(struct dn_slot));
	*state = p;
	return 0;
}

static void dn_destroy(void *state)
{
	struct dn_pool *p = state;

	for (unsigned i = 0; i < p->ncores; i++)
		free(p->cores[i].obj);
	free(p->cores);
	free(p);
}

static inline void *dn_rent(struct dn_pool *p)
{
	void *o = dn_thread_slot;
	struct dn_slot *s;

	if (o != NULL) {
		dn_thread_slot = NULL;
		return o;
	}
	s = &p->cores[(unsigned)sched_getcpu() % p->ncores];
	if (__atomic_load_n(&s->obj, __ATOMIC_RELAXED) != NULL &&
	    (o = __atomic_exchange_n(&s->obj, NULL, __ATOMIC_ACQ_REL)) != NULL)
		return o;
	return malloc(VTB_POOL_OBJECT_SIZE);
}

static inline void dn_ret(struct dn_pool *p, void *o)
{
	struct dn_slot *s;

	if (dn_thread_slot == NULL) {
		dn_thread_slot = o;
		return;
	}
	s = &p->cores[(unsigned)sched_getcpu() % p->ncores];
	if (__atomic_load_n(&s->obj, __ATOMIC_RELAXED) == NULL)
		o = __atomic_exchange_n(&s->obj, o, __ATOMIC_ACQ_REL);
	free(o);
}

/* A thread's slot dies with the thread (in .NET the GC takes it). */
#define DN_LEAVE                              \
	do {                                  \
		free(dn_thread_slot);         \
		dn_thread_slot = NULL;        \
	} while (0)
VTB_POOL_WORKER(dn_worker, struct dn_pool, dn_rent, dn_ret, (void)0, DN_LEAVE)

/* ---- the table ---------------------------------------------------------- */

static const vtb_pool_impl impls[] = {
	{ VT_IMPL, vt_create, vt_destroy, vt_worker, vt_describe },
	{ VT_IMPL "-nocache", vt_create_nocache, vt_destroy, vt_worker, vt_describe },
	{ "ckring", ckring_create, ckring_destroy, ckring_worker, NULL },
	{ "ckstack", ckstack_create, ckstack_destroy, ckstack_worker, NULL },
	{ "mutex", mutex_create, mutex_destroy, mutex_worker, NULL },
	{ "malloc", malloc_create, malloc_destroy, malloc_worker, NULL },
	{ "dotnet", dn_create, dn_destroy, dn_worker, NULL },
};

/* --impl: in bench_pool_packed, valuetask[-nocache] names the packed pool too. */
static bool impl_selected(const char *name)
{
	size_t n = strlen(VT_IMPL);
	char plain[64];

	if (strncmp(name, VT_IMPL, n) == 0) {
		snprintf(plain, sizeof(plain), "valuetask%s", name + n);
		if (vtb_selected(plain))
			return true;
	}
	return vtb_selected(name);
}

/* One thread count: every selected implementation, runs interleaved. */
static void run_threads(const vtb_pool_impl **ims, const char **names, int nimpl, int nthreads,
			int maxt)
{
	vtb_pool_arg arg[16];
	vtb_result res[16];
	vtb_thread_case cases[16];
	int idx[16];
	int n = 0;

	memset(res, 0, sizeof(res));
	memset(cases, 0, sizeof(cases));
	for (int i = 0; i < nimpl; i++) {
		char err[256] = "";

		if (ims[i]->create(&arg[n].state, CAPACITY, maxt, err, sizeof(err)) != 0) {
			vtb_note("skipped: pool %s at %d threads: %s", names[i], nthreads, err);
			continue;
		}
		arg[n].depth = (unsigned)vtb_opt.depth;
		arg[n].sample_every = (unsigned)vtb_opt.sample_every;
		res[n].bench = "pool";
		res[n].impl = names[i];
		cases[n].r = &res[n];
		cases[n].nthreads = nthreads;
		cases[n].worker = ims[i]->worker;
		cases[n].arg = &arg[n];
		cases[n].want_lat = true;
		cases[n].want_lat2 = true;
		idx[n] = i;
		n++;
	}
	vtb_measure_threads_set(cases, n);
	for (int c = 0; c < n; c++) {
		const vtb_pool_impl *im = ims[idx[c]];

		if (cases[c].failed) {
			vtb_note("pool/%s: a run failed at %d threads (see stderr); no row", names[idx[c]],
				 nthreads);
		} else {
			snprintf(res[c].extra, sizeof(res[c].extra), "depth=%u", arg[c].depth);
			if (im->describe != NULL) {
				size_t l = strlen(res[c].extra);

				res[c].extra[l++] = ' ';
				im->describe(arg[c].state, res[c].extra + l, sizeof(res[c].extra) - l);
			}
			vtb_print(&res[c]);
		}
		vtb_result_free(&res[c]);
		im->destroy(arg[c].state);
	}
}

static void timer_overhead(void)
{
	vtb_samples s;
	vtb_result r;

	memset(&r, 0, sizeof(r));
	vtb_samples_init(&s, 100000);
	for (int i = 0; i < 100000; i++) {
		uint64_t t0 = vtb_ticks();

		vtb_samples_add(&s, vtb_ticks() - t0);
	}
	r.lat = s;
	r.has_lat = true;
	r.bench = "timer";
	r.impl = "ticks";
	r.runs = 1;
	r.ns_op[0] = 0;
	/* Only the percentiles mean something here: what a timed rent includes
	 * besides the rent. */
	vtb_print(&r);
	vtb_samples_free(&r.lat);
}

int main(int argc, char **argv)
{
	char malloc_name[64];
	const vtb_pool_impl *sel[16];
	const char *names[16];
	int nsel = 0, maxt = 1;

	vtb_init(argc, argv, "bench_pool", DEFAULT_IMPLS);
	vtb_header("bench_pool");
	for (int i = 0; i < vtb_opt.nthreads; i++)
		if (vtb_opt.threads[i] > maxt)
			maxt = vtb_opt.threads[i];
	if ((unsigned)(vtb_opt.depth * maxt) > CAPACITY / 2)
		vtb_die("--depth x threads must stay below %u", CAPACITY / 2);
	snprintf(malloc_name, sizeof(malloc_name), "malloc-%s", vtb_allocator_name());
	timer_overhead();
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		if (!impl_selected(impls[i].name))
			continue;
		sel[nsel] = &impls[i];
		names[nsel++] = strcmp(impls[i].name, "malloc") == 0 ? malloc_name : impls[i].name;
	}
	if (vtb_selected("dpdk")) {
		const vtb_pool_impl *d = vtb_pool_dpdk();

		if (d == NULL) {
			vtb_note("skipped: pool dpdk: not built (libdpdk-dev was not found at setup)");
		} else {
			sel[nsel] = d;
			names[nsel++] = d->name;
		}
	}
	for (int t = 0; t < vtb_opt.nthreads; t++)
		run_threads(sel, names, nsel, vtb_opt.threads[t], maxt);
	return 0;
}
