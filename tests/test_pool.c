/*
 * tests/test_pool.c: vt_pool, one test per bullet of SPEC §4.5 that concerns
 * the generic pool (the promise bullets are in test_promise.c).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <valuetask.h>

#include "alloc_hook.h"
#include "check.h"

/* What a rented pointer may never be: proves an out-param was untouched. */
static vt_pool *const POOL_SENTINEL = (vt_pool *)(uintptr_t)0x5e57;

static vt_pool *make_pool(const vt_pool_config *cfg)
{
	vt_pool *p = NULL;

	CHECK_EQ(vt_pool_create(&p, cfg), 0);
	CHECK(p != NULL);
	return p;
}

static vt_pool_stats stats_of(const vt_pool *p)
{
	vt_pool_stats s;

	memset(&s, 0xff, sizeof s);
	vt_pool_get_stats(p, &s);
	return s;
}

#define CHECK_STATS(p, cap, created_, rented_, rents_, returns_, empty_)  \
	do {                                                              \
		vt_pool_stats s_ = stats_of(p);                           \
		CHECK_EQ(s_.capacity, (cap));                             \
		CHECK_EQ(s_.created, (created_));                         \
		CHECK_EQ(s_.rented, (rented_));                           \
		CHECK_EQ(s_.rents, (rents_));                             \
		CHECK_EQ(s_.returns, (returns_));                         \
		CHECK_EQ(s_.empty_rents, (empty_));                       \
	} while (0)

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

/* All n pointers distinct and at least size bytes apart (no overlap). */
static void check_disjoint(void **objs, size_t n, size_t size)
{
	void **sorted = malloc(n * sizeof *sorted);

	CHECK(sorted != NULL);
	memcpy(sorted, objs, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_ptr);
	for (size_t i = 0; i < n; i++)
		CHECK(sorted[i] != NULL);
	for (size_t i = 1; i < n; i++)
		CHECK((uintptr_t)sorted[i] - (uintptr_t)sorted[i - 1] >= size);
	free(sorted);
}

/* ---- configuration ------------------------------------------------------- */

static void test_config_default(void)
{
	vt_pool_config cfg;

	memset(&cfg, 0xa5, sizeof cfg);
	vt_pool_config_default(&cfg);
	CHECK_EQ(cfg.object_size, 64);
	CHECK_EQ(cfg.object_align, 64);
	CHECK_EQ(cfg.capacity, 4096);
	CHECK_EQ(cfg.slab_objects, 256);
	CHECK_EQ(cfg.initial_objects, 0);
	CHECK_EQ(cfg.cache_size, 256);
	CHECK_EQ(cfg.max_threads, 64);
	CHECK(cfg.obj_init == NULL);
	CHECK(cfg.obj_ctx == NULL);
	CHECK(cfg.allocator.alloc == NULL);
	CHECK(cfg.allocator.free == NULL);
	CHECK(cfg.allocator.ctx == NULL);
	CHECK_EQ(cfg.keep_readable, 0);
	vt_pool_config_default(NULL); /* ignored */

	/* The defaults make a working pool. */
	vt_pool *p = make_pool(&cfg);
	CHECK_STATS(p, 4096, 0, 0, 0, 0, 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

static void check_refused(const vt_pool_config *cfg, alloc_hook *h)
{
	vt_pool *p = POOL_SENTINEL;
	long calls = h->calls;

	CHECK_EQ(vt_pool_create(&p, cfg), VT_EINVAL);
	CHECK(p == POOL_SENTINEL); /* *out untouched */
	CHECK_EQ(h->calls, calls); /* nothing allocated */
}

static void test_create_invalid(void)
{
	vt_pool_config cfg;
	alloc_hook h;
	vt_pool *p = POOL_SENTINEL;

	hook_reset(&h);
	vt_pool_config_default(&cfg);
	hook_install(&h, &cfg);

	CHECK_EQ(vt_pool_create(NULL, &cfg), VT_EINVAL);
	CHECK_EQ(vt_pool_create(&p, NULL), VT_EINVAL);
	CHECK(p == POOL_SENTINEL);
	CHECK_EQ(h.calls, 0);

	vt_pool_config bad = cfg;
	bad.object_size = 0;
	check_refused(&bad, &h);
	const size_t bad_aligns[] = { 0, 3, 6, 48, 100, 8192, 65536 };
	for (size_t i = 0; i < sizeof bad_aligns / sizeof bad_aligns[0]; i++) {
		bad = cfg;
		bad.object_align = bad_aligns[i];
		check_refused(&bad, &h);
	}
	bad = cfg;
	bad.capacity = 0;
	check_refused(&bad, &h);
	bad = cfg;
	bad.capacity = (UINT32_C(1) << 30) + 1;
	check_refused(&bad, &h);
	bad = cfg;
	bad.capacity = UINT32_MAX;
	check_refused(&bad, &h);
	bad = cfg;
	bad.max_threads = 4097;
	check_refused(&bad, &h);
	/* Half an allocator. */
	bad = cfg;
	bad.allocator.free = NULL;
	check_refused(&bad, &h);

	/* The boundaries themselves are accepted. */
	vt_pool_config ok = cfg;
	ok.object_align = 4096;
	ok.object_size = 1;
	ok.capacity = 3;
	ok.max_threads = 4096;
	ok.cache_size = 1;
	p = make_pool(&ok);
	void *o = vt_pool_rent(p);
	CHECK(o != NULL);
	CHECK_EQ((uintptr_t)o % 4096, 0);
	vt_pool_return(p, o);
	CHECK_EQ(vt_pool_destroy(&p), 0);
	CHECK_EQ(h.live, 0);
	CHECK_EQ(h.bad_frees, 0);
}

/* ---- exact capacity and exhaustion --------------------------------------- */

static void exact_capacity_case(uint32_t cap, uint32_t slab, uint32_t cache, uint32_t threads,
				size_t size)
{
	vt_pool_config cfg;
	vt_pool *p;
	void **objs = calloc(cap, sizeof *objs);
	void **again = calloc(cap, sizeof *again);

	CHECK(objs != NULL && again != NULL);
	vt_pool_config_default(&cfg);
	cfg.capacity = cap;
	cfg.slab_objects = slab;
	cfg.cache_size = cache;
	cfg.max_threads = threads;
	cfg.object_size = size;
	cfg.object_align = 8;
	p = make_pool(&cfg);

	for (uint32_t i = 0; i < cap; i++) {
		objs[i] = vt_pool_rent(p);
		if (objs[i] == NULL) {
			fprintf(stderr, "capacity %u slab %u cache %u: rent %u answered NULL\n", cap,
				slab, cache, i);
			CHECK(objs[i] != NULL);
		}
		memset(objs[i], (int)(i & 0xff), size);
	}
	check_disjoint(objs, cap, size);
	CHECK_STATS(p, cap, cap, cap, cap, 0, 0);
	CHECK_EQ(stats_of(p).steals, 0);

	/* Exhausted: NULL, counted, nothing else moves. */
	CHECK(vt_pool_rent(p) == NULL);
	CHECK_STATS(p, cap, cap, cap, cap, 0, 1);
	CHECK(vt_pool_rent(p) == NULL);
	CHECK_STATS(p, cap, cap, cap, cap, 0, 2);

	/* No one wrote into our objects. */
	for (uint32_t i = 0; i < cap; i++)
		for (size_t b = 0; b < size; b++)
			CHECK_EQ(((unsigned char *)objs[i])[b], i & 0xff);

	for (uint32_t i = 0; i < cap; i++)
		vt_pool_return(p, objs[i]);
	CHECK_STATS(p, cap, cap, 0, cap, cap, 2);

	/* The same objects come back, no new ones are made. */
	for (uint32_t i = 0; i < cap; i++) {
		again[i] = vt_pool_rent(p);
		CHECK(again[i] != NULL);
	}
	CHECK(vt_pool_rent(p) == NULL);
	CHECK_STATS(p, cap, cap, cap, 2 * (uint64_t)cap, cap, 3);
	qsort(objs, cap, sizeof *objs, cmp_ptr);
	qsort(again, cap, sizeof *again, cmp_ptr);
	CHECK(memcmp(objs, again, cap * sizeof *objs) == 0);
	CHECK_EQ(stats_of(p).steals, 0);

	CHECK_EQ(vt_pool_destroy(&p), cap); /* all still rented */
	CHECK(p == NULL);
	free(objs);
	free(again);
}

static void test_exact_capacity(void)
{
	const uint32_t caps[] = { 1, 2, 3, 64, 255, 256, 257, 1000, 1023, 1024, 1025 };

	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		uint32_t c = caps[i];

		exact_capacity_case(c, 256, 256, 64, 64);   /* defaults */
		exact_capacity_case(c, 256, 0, 64, 24);     /* no caches */
		exact_capacity_case(c, 1, 256, 64, 8);      /* one object per slab */
		exact_capacity_case(c, 7, 3, 2, 40);        /* odd slab, tiny cache */
		exact_capacity_case(c, 4096, 256, 0, 16);   /* slab over capacity, no cache slots */
	}
}

/* ---- destroy ---------------------------------------------------------------- */

static void test_destroy(void)
{
	vt_pool_config cfg;
	vt_pool *p;
	void *o[5];
	alloc_hook h;

	hook_reset(&h);
	vt_pool_config_default(&cfg);
	cfg.capacity = 100;
	hook_install(&h, &cfg);

	p = make_pool(&cfg);
	for (int i = 0; i < 5; i++)
		CHECK((o[i] = vt_pool_rent(p)) != NULL);
	vt_pool_return(p, o[1]);
	vt_pool_return(p, o[3]);
	CHECK_EQ(vt_pool_destroy(&p), 3);
	CHECK(p == NULL);
	CHECK_EQ(h.live, 0); /* memory released all the same */
	CHECK_EQ(h.bad_frees, 0);

	CHECK_EQ(vt_pool_destroy(&p), VT_EINVAL); /* *pool is NULL now */
	CHECK_EQ(vt_pool_destroy(NULL), VT_EINVAL);

	/* Clean, with objects made but none rented; and never used. */
	p = make_pool(&cfg);
	for (int i = 0; i < 5; i++)
		CHECK((o[i] = vt_pool_rent(p)) != NULL);
	for (int i = 0; i < 5; i++)
		vt_pool_return(p, o[i]);
	CHECK_EQ(vt_pool_destroy(&p), 0);
	CHECK(p == NULL);
	p = make_pool(&cfg);
	CHECK_EQ(vt_pool_destroy(&p), 0);
	CHECK_EQ(h.live, 0);
	CHECK_EQ(h.bad_frees, 0);
}

/* ---- obj_init ---------------------------------------------------------------- */

typedef struct init_log {
	void *ctx_seen;
	size_t n;
	void *objs[2048];
} init_log;

static void log_init(void *obj, void *ctx)
{
	init_log *l = (init_log *)ctx;

	CHECK(l->n < 2048);
	l->ctx_seen = ctx;
	l->objs[l->n++] = obj;
	memset(obj, 0x5a, 32);
}

static void test_obj_init_once(void)
{
	vt_pool_config cfg;
	vt_pool *p;
	static init_log log;
	void *held[100];

	memset(&log, 0, sizeof log);
	vt_pool_config_default(&cfg);
	cfg.capacity = 100;
	cfg.slab_objects = 16;
	cfg.object_size = 32;
	cfg.obj_init = log_init;
	cfg.obj_ctx = &log;
	p = make_pool(&cfg);
	CHECK_EQ(log.n, 0); /* initial_objects 0: nothing made yet */

	for (int round = 0; round < 50; round++) {
		int n = 1 + (round * 7) % 100;

		for (int i = 0; i < n; i++) {
			held[i] = vt_pool_rent(p);
			CHECK(held[i] != NULL);
			/* Every rented object was initialised, and kept its bytes. */
			size_t k;
			for (k = 0; k < log.n; k++)
				if (log.objs[k] == held[i])
					break;
			CHECK(k < log.n);
			for (int b = 0; b < 32; b++)
				CHECK_EQ(((unsigned char *)held[i])[b], 0x5a);
		}
		for (int i = 0; i < n; i++)
			vt_pool_return(p, held[i]);
	}
	vt_pool_stats s = stats_of(p);
	CHECK_EQ(log.n, s.created); /* once per object, never again */
	CHECK(log.ctx_seen == &log);
	qsort(log.objs, log.n, sizeof log.objs[0], cmp_ptr);
	for (size_t i = 1; i < log.n; i++)
		CHECK(log.objs[i] != log.objs[i - 1]);
	CHECK_EQ(vt_pool_destroy(&p), 0);

	/* initial_objects: made (and initialised) by create. */
	memset(&log, 0, sizeof log);
	cfg.initial_objects = 32;
	p = make_pool(&cfg);
	CHECK_EQ(log.n, 32);
	CHECK_STATS(p, 100, 32, 0, 0, 0, 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

/*
 * obj_init that rents from (and returns to) its own pool while that pool
 * grows: the nested rent must not wait for the growth it is part of. It
 * answers NULL or an object the growth has finished (an earlier one of the
 * slab, already on the shared ring), and the pool accounts for everything.
 */
typedef struct self_rent {
	vt_pool *p;
	int inits, nested_null, nested_got;
} self_rent;

/* A rent nested in a growth: counted as NULL or got (and given back). */
static void nested_rent(vt_pool *p, int *nested_null, int *nested_got)
{
	void *o = vt_pool_rent(p);

	if (o == NULL) {
		(*nested_null)++;
		return;
	}
	(*nested_got)++;
	vt_pool_return(p, o);
}

static void init_rents_self(void *obj, void *ctx)
{
	self_rent *sr = ctx;

	(void)obj;
	sr->inits++;
	nested_rent(sr->p, &sr->nested_null, &sr->nested_got);
}

static void test_obj_init_rents_own_pool(void)
{
	vt_pool_config cfg;
	static self_rent sr;
	void *held[8];

	memset(&sr, 0, sizeof sr);
	vt_pool_config_default(&cfg);
	cfg.capacity = 8;
	cfg.slab_objects = 4;
	cfg.obj_init = init_rents_self;
	cfg.obj_ctx = &sr;
	sr.p = make_pool(&cfg);
	alarm(20); /* it used to wait for its own grow_lock forever */
	for (int i = 0; i < 8; i++) {
		held[i] = vt_pool_rent(sr.p);
		CHECK(held[i] != NULL);
	}
	CHECK(vt_pool_rent(sr.p) == NULL);
	alarm(0);
	CHECK_EQ(sr.inits, 8);
	/* The first object of each slab finds nothing (growth is refused);
	 * the later ones rent an earlier object of their slab and give it back. */
	CHECK_EQ(sr.nested_null, 2);
	CHECK_EQ(sr.nested_got, 6);
	vt_pool_stats s = stats_of(sr.p);
	CHECK_EQ(s.created, 8);
	CHECK_EQ(s.rented, 8);
	for (int i = 0; i < 8; i++)
		vt_pool_return(sr.p, held[i]);
	CHECK_EQ(vt_pool_destroy(&sr.p), 0);
}

/*
 * Two pools whose obj_init each rent from the other, growing at once on two
 * threads: each thread holds its own pool's growth lock when its obj_init
 * rents from the other pool, which the other thread is growing. Neither
 * nested rent may wait for the other growth (a lock-order cycle): it gets no
 * new slab, and both growths finish.
 */
typedef struct cross_rent {
	vt_pool *self, *other;
	pthread_barrier_t *both_growing;
	int first; /* 1 until this pool's first obj_init */
	int nested_null, nested_got;
	void *outer;
} cross_rent;

static void init_rents_other(void *obj, void *ctx)
{
	cross_rent *cr = ctx;

	(void)obj;
	if (!cr->first)
		return;
	cr->first = 0;
	(void)pthread_barrier_wait(cr->both_growing); /* both threads hold their grow_lock */
	nested_rent(cr->other, &cr->nested_null, &cr->nested_got);
}

static void *rent_cross(void *arg)
{
	cross_rent *cr = arg;

	cr->outer = vt_pool_rent(cr->self);
	return NULL;
}

static void test_obj_init_rents_other_growing_pool(void)
{
	static cross_rent a, b;
	pthread_barrier_t bar;
	pthread_t ta, tb;
	vt_pool_config cfg;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	CHECK_EQ(pthread_barrier_init(&bar, NULL, 2), 0);
	vt_pool_config_default(&cfg);
	cfg.capacity = 4;
	cfg.slab_objects = 4;
	cfg.obj_init = init_rents_other;
	cfg.obj_ctx = &a;
	a.self = make_pool(&cfg);
	cfg.obj_ctx = &b;
	b.self = make_pool(&cfg);
	a.other = b.self;
	b.other = a.self;
	a.both_growing = b.both_growing = &bar;
	a.first = b.first = 1;
	alarm(20); /* each waited for the other's grow_lock forever */
	CHECK_EQ(pthread_create(&ta, NULL, rent_cross, &a), 0);
	CHECK_EQ(pthread_create(&tb, NULL, rent_cross, &b), 0);
	CHECK_EQ(pthread_join(ta, NULL), 0);
	CHECK_EQ(pthread_join(tb, NULL), 0);
	alarm(0);
	CHECK(a.outer != NULL);
	CHECK(b.outer != NULL);
	CHECK_EQ(a.nested_null + a.nested_got, 1);
	CHECK_EQ(b.nested_null + b.nested_got, 1);
	CHECK_EQ(stats_of(a.self).created, 4);
	CHECK_EQ(stats_of(b.self).created, 4);
	vt_pool_return(a.self, a.outer);
	vt_pool_return(b.self, b.outer);
	CHECK_EQ(vt_pool_destroy(&a.self), 0);
	CHECK_EQ(vt_pool_destroy(&b.self), 0);
	pthread_barrier_destroy(&bar);
}

/* ---- alignment ------------------------------------------------------------- */

static void test_alignment(void)
{
	const size_t aligns[] = { 1, 2, 8, 16, 64, 128, 4096 };
	const size_t sizes[] = { 1, 3, 24, 64, 100, 4097 };
	void *objs[40];

	for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
		for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
			vt_pool_config cfg;
			vt_pool *p;

			vt_pool_config_default(&cfg);
			cfg.capacity = 40;
			cfg.slab_objects = 16;
			cfg.object_align = aligns[a];
			cfg.object_size = sizes[z];
			p = make_pool(&cfg);
			for (int i = 0; i < 40; i++) {
				objs[i] = vt_pool_rent(p);
				CHECK(objs[i] != NULL);
				if ((uintptr_t)objs[i] % aligns[a] != 0) {
					fprintf(stderr, "align %zu size %zu: %p\n", aligns[a], sizes[z], objs[i]);
					CHECK_EQ((uintptr_t)objs[i] % aligns[a], 0);
				}
				memset(objs[i], i, sizes[z]); /* the whole object is ours */
			}
			check_disjoint(objs, 40, sizes[z]);
			for (int i = 0; i < 40; i++)
				CHECK_EQ(((unsigned char *)objs[i])[sizes[z] - 1], i);
			for (int i = 0; i < 40; i++)
				vt_pool_return(p, objs[i]);
			CHECK_EQ(vt_pool_destroy(&p), 0);
		}
	}
}

/* ---- slab growth ------------------------------------------------------------ */

static void growth_case(uint32_t cache)
{
	vt_pool_config cfg;
	vt_pool *p;
	void *objs[100];

	vt_pool_config_default(&cfg);
	cfg.capacity = 100;
	cfg.slab_objects = 16;
	cfg.cache_size = cache;
	p = make_pool(&cfg);
	CHECK_EQ(stats_of(p).created, 0);
	CHECK_EQ(stats_of(p).slabs, 0);
	for (int i = 0; i < 100; i++) {
		objs[i] = vt_pool_rent(p);
		CHECK(objs[i] != NULL);
		/* One whole slab at a time, the last one cut to the bound. */
		uint64_t want_slabs = (uint64_t)i / 16 + 1;
		uint64_t want_created = want_slabs * 16 > 100 ? 100 : want_slabs * 16;
		vt_pool_stats s = stats_of(p);
		CHECK_EQ(s.slabs, want_slabs);
		CHECK_EQ(s.created, want_created);
		CHECK_EQ(s.rented, (uint64_t)i + 1);
	}
	CHECK(vt_pool_rent(p) == NULL);
	CHECK_STATS(p, 100, 100, 100, 100, 0, 1);
	CHECK_EQ(stats_of(p).slabs, 7);
	/* Returning and renting again does not grow. */
	for (int i = 0; i < 100; i++)
		vt_pool_return(p, objs[i]);
	for (int i = 0; i < 100; i++)
		CHECK((objs[i] = vt_pool_rent(p)) != NULL);
	CHECK_EQ(stats_of(p).slabs, 7);
	CHECK_EQ(stats_of(p).created, 100);
	for (int i = 0; i < 100; i++)
		vt_pool_return(p, objs[i]);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

static void test_slab_growth(void)
{
	vt_pool_config cfg;
	vt_pool *p;

	growth_case(0);
	growth_case(256);
	growth_case(4);

	/* initial_objects in whole slabs, never past capacity. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 100;
	cfg.slab_objects = 16;
	cfg.initial_objects = 20;
	p = make_pool(&cfg);
	vt_pool_stats s = stats_of(p);
	CHECK(s.created >= 20);
	CHECK_EQ(s.created % 16, 0);
	CHECK_EQ(s.created, s.slabs * 16);
	CHECK_EQ(s.rented, 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);

	cfg.initial_objects = 1000;
	p = make_pool(&cfg);
	CHECK_STATS(p, 100, 100, 0, 0, 0, 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

/* ---- NULL arguments to rent / return / stats ------------------------------ */

static void test_null_args(void)
{
	vt_pool_config cfg;
	vt_pool *p;
	int dummy;

	vt_pool_config_default(&cfg);
	cfg.capacity = 4;
	p = make_pool(&cfg);
	CHECK(vt_pool_rent(NULL) == NULL);
	void *o = vt_pool_rent(p);
	CHECK(o != NULL);
	vt_pool_return(NULL, o);   /* ignored */
	vt_pool_return(p, NULL);   /* ignored */
	vt_pool_return(NULL, &dummy);
	CHECK_STATS(p, 4, 4, 1, 1, 0, 0);
	vt_pool_get_stats(p, NULL); /* ignored */
	vt_pool_return(p, o);
	CHECK_STATS(p, 4, 4, 0, 1, 1, 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

/* ---- allocation failure: every failing call, walked ------------------------ */

static void test_alloc_failure(void)
{
	bool clean_run = false;

	for (long k = 0; !clean_run; k++) {
		CHECK(k < 10000);
		for (int mode = 0; mode < 2; mode++) {
			vt_pool_config cfg;
			alloc_hook h;
			vt_pool *p = POOL_SENTINEL;
			void *objs[64];
			int n = 0, rc;

			hook_reset(&h);
			if (mode == 0)
				h.fail_at = k;   /* one failure */
			else
				h.fail_from = k; /* everything from here fails */
			vt_pool_config_default(&cfg);
			hook_install(&h, &cfg);
			cfg.capacity = 64;
			cfg.slab_objects = 16;
			cfg.initial_objects = 32;
			cfg.max_threads = 4;
			rc = vt_pool_create(&p, &cfg);
			if (rc != 0) {
				CHECK_EQ(rc, VT_ENOMEM);
				CHECK(p == POOL_SENTINEL); /* *out untouched */
				CHECK(h.failures > 0);
				CHECK_EQ(h.live, 0); /* nothing leaked */
				CHECK_EQ(h.bad_frees, 0);
				continue;
			}
			CHECK_STATS(p, 64, 32, 0, 0, 0, 0);
			/* Growth may fail: NULL before capacity, counted as empty. */
			int empties = 0;
			while (n < 64) {
				void *o = vt_pool_rent(p);
				if (o == NULL) {
					CHECK(h.failures > 0);
					empties++;
					CHECK_STATS(p, 64, stats_of(p).created, (uint64_t)n, (uint64_t)n, 0,
						    (uint64_t)empties);
					if (mode == 1)
						break; /* it can never grow again */
					continue;   /* one failure: the next rent grows */
				}
				objs[n++] = o;
			}
			CHECK(empties <= 1 || mode == 1);
			if (mode == 1 && n < 64) {
				CHECK(vt_pool_rent(p) == NULL); /* still no memory */
			} else {
				CHECK_EQ(n, 64);
				CHECK(vt_pool_rent(p) == NULL);
			}
			for (int i = 0; i < n; i++)
				vt_pool_return(p, objs[i]);
			CHECK_EQ(vt_pool_destroy(&p), 0);
			CHECK_EQ(h.live, 0);
			CHECK_EQ(h.bad_frees, 0);
			if (mode == 0 && h.failures == 0)
				clean_run = true; /* k is past the last allocation */
		}
	}
}

/* ---- threads: caches of live and exited threads ------------------------------ */

typedef struct thread_arg {
	vt_pool *pool;
	int n;              /* rent n, return n */
	int got;            /* how many rents succeeded */
	pthread_barrier_t *hold; /* if set: wait twice before exiting */
} thread_arg;

static void *rent_all_return_all(void *p)
{
	thread_arg *a = (thread_arg *)p;
	void **objs = calloc((size_t)a->n, sizeof *objs);

	CHECK(objs != NULL);
	for (int i = 0; i < a->n; i++) {
		objs[i] = vt_pool_rent(a->pool);
		if (objs[i] != NULL)
			a->got++;
	}
	for (int i = 0; i < a->n; i++)
		vt_pool_return(a->pool, objs[i]);
	free(objs);
	if (a->hold != NULL) {
		pthread_barrier_wait(a->hold); /* returned everything */
		pthread_barrier_wait(a->hold); /* main has rented */
	}
	return NULL;
}

static void main_rents_all(vt_pool *p, int cap)
{
	void **objs = calloc((size_t)cap, sizeof *objs);

	CHECK(objs != NULL);
	for (int i = 0; i < cap; i++) {
		objs[i] = vt_pool_rent(p);
		if (objs[i] == NULL) {
			fprintf(stderr, "main's rent %d of %d answered NULL: capacity stranded\n", i, cap);
			CHECK(objs[i] != NULL);
		}
	}
	CHECK(vt_pool_rent(p) == NULL);
	for (int i = 0; i < cap; i++)
		vt_pool_return(p, objs[i]);
	free(objs);
}

static void test_exited_thread_cache(void)
{
	vt_pool_config cfg;
	vt_pool *p;
	pthread_t th;
	thread_arg a;

	vt_pool_config_default(&cfg);
	cfg.capacity = 64;
	p = make_pool(&cfg);
	memset(&a, 0, sizeof a);
	a.pool = p;
	a.n = 64;
	CHECK_EQ(pthread_create(&th, NULL, rent_all_return_all, &a), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(a.got, 64);
	CHECK_STATS(p, 64, 64, 0, 64, 64, 0);
	main_rents_all(p, 64);
	CHECK_STATS(p, 64, 64, 0, 128, 128, 1);
	CHECK_EQ(vt_pool_destroy(&p), 0);

	/* More threads than cache slots, one after another: each exit frees its
	 * slot, and nothing is stranded in the slots' rings. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 64;
	cfg.max_threads = 2;
	cfg.cache_size = 64;
	p = make_pool(&cfg);
	for (int t = 0; t < 10; t++) {
		memset(&a, 0, sizeof a);
		a.pool = p;
		a.n = 64;
		CHECK_EQ(pthread_create(&th, NULL, rent_all_return_all, &a), 0);
		CHECK_EQ(pthread_join(th, NULL), 0);
		CHECK_EQ(a.got, 64);
	}
	main_rents_all(p, 64);
	CHECK_STATS(p, 64, 64, 0, 11 * 64, 11 * 64, 1);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

static void test_live_thread_cache(void)
{
	vt_pool_config cfg;
	vt_pool *p;
	pthread_t th[4];
	thread_arg a[4];
	pthread_barrier_t hold;

	/* One live thread holds every free object in its cache: main steals. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 64;
	p = make_pool(&cfg);
	CHECK_EQ(pthread_barrier_init(&hold, NULL, 2), 0);
	memset(&a[0], 0, sizeof a[0]);
	a[0].pool = p;
	a[0].n = 64;
	a[0].hold = &hold;
	CHECK_EQ(pthread_create(&th[0], NULL, rent_all_return_all, &a[0]), 0);
	pthread_barrier_wait(&hold);
	CHECK_EQ(a[0].got, 64);
	main_rents_all(p, 64);
	/* All 64 sat in the live thread's cache: main had to steal (a steal
	 * may move a batch, so it is counted at least once, at most 64 times). */
	CHECK(stats_of(p).steals >= 1);
	CHECK(stats_of(p).steals <= 64);
	/* They sat on its private stack (it never went past its spill limit),
	 * so each steal was a stack steal. */
	CHECK(stats_of(p).stack_steals >= 1);
	CHECK_EQ(stats_of(p).stack_steals, stats_of(p).steals);
	pthread_barrier_wait(&hold);
	CHECK_EQ(pthread_join(th[0], NULL), 0);
	CHECK_STATS(p, 64, 64, 0, 128, 128, 1);
	CHECK_EQ(pthread_barrier_destroy(&hold), 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);

	/* Four live threads, two cache slots: the others go through the shared
	 * ring; main gets all of it back. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 64;
	cfg.max_threads = 2;
	p = make_pool(&cfg);
	CHECK_EQ(pthread_barrier_init(&hold, NULL, 5), 0);
	for (int t = 0; t < 4; t++) {
		memset(&a[t], 0, sizeof a[t]);
		a[t].pool = p;
		a[t].n = 16;
		a[t].hold = &hold;
		CHECK_EQ(pthread_create(&th[t], NULL, rent_all_return_all, &a[t]), 0);
	}
	pthread_barrier_wait(&hold);
	for (int t = 0; t < 4; t++)
		CHECK_EQ(a[t].got, 16); /* 4 x 16 = capacity: no rent may fail */
	main_rents_all(p, 64);
	pthread_barrier_wait(&hold);
	for (int t = 0; t < 4; t++)
		CHECK_EQ(pthread_join(th[t], NULL), 0);
	CHECK_STATS(p, 64, 64, 0, 128, 128, 1);
	CHECK_EQ(pthread_barrier_destroy(&hold), 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
}

/*
 * A thread that returns an object from a thread-specific-data destructor of
 * its own, after the pool's exit hook has run: the return must not claim a
 * cache slot that nothing would give back (the slot would be lost to every
 * later thread, with the object parked on it).
 */
static pthread_key_t late_key;
static vt_pool *pool_of_late;

static void late_return(void *obj)
{
	static int round;

	/* Round 1 runs beside the pool's exit hook, in an order we do not
	 * know; asking for another round puts the return after it. */
	if (round++ == 0) {
		CHECK_EQ(pthread_setspecific(late_key, obj), 0);
		return;
	}
	vt_pool_return(pool_of_late, obj);
}

static void *rent_then_exit_late(void *arg)
{
	void *obj;

	pool_of_late = (vt_pool *)arg;
	obj = vt_pool_rent(pool_of_late);
	CHECK(obj != NULL);
	CHECK_EQ(pthread_setspecific(late_key, obj), 0);
	return NULL;
}

static void *rent_return_hold(void *p)
{
	thread_arg *a = (thread_arg *)p;
	void *obj = vt_pool_rent(a->pool);

	CHECK(obj != NULL);
	a->got = 1;
	vt_pool_return(a->pool, obj);
	pthread_barrier_wait(a->hold); /* returned it */
	pthread_barrier_wait(a->hold); /* main has rented */
	return NULL;
}

static void test_return_after_exit_hook(void)
{
	vt_pool_config cfg;
	vt_pool *p, *scratch;
	pthread_t th;
	pthread_barrier_t hold;
	thread_arg a;
	void *obj;

	/* The pool's exit hook exists before our key (a pool was used). */
	vt_pool_config_default(&cfg);
	scratch = make_pool(&cfg);
	vt_pool_return(scratch, vt_pool_rent(scratch));
	CHECK_EQ(pthread_key_create(&late_key, late_return), 0);

	/* One object, one cache slot. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	cfg.max_threads = 1;
	p = make_pool(&cfg);
	CHECK_EQ(pthread_create(&th, NULL, rent_then_exit_late, p), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_STATS(p, 1, 1, 0, 1, 1, 0);

	/* A later thread gets the slot, and the object without taking it from
	 * another thread's cache (the exited thread's cache went to the shared
	 * ring). */
	CHECK_EQ(pthread_barrier_init(&hold, NULL, 2), 0);
	memset(&a, 0, sizeof a);
	a.pool = p;
	a.hold = &hold;
	CHECK_EQ(pthread_create(&th, NULL, rent_return_hold, &a), 0);
	pthread_barrier_wait(&hold);
	CHECK_EQ(a.got, 1);
	CHECK_EQ(stats_of(p).steals, 0);
	/* It cached its return: main (no slot left) takes it from that cache. */
	obj = vt_pool_rent(p);
	CHECK(obj != NULL);
	CHECK_EQ(stats_of(p).steals, 1);
	pthread_barrier_wait(&hold);
	CHECK_EQ(pthread_join(th, NULL), 0);
	vt_pool_return(p, obj);
	CHECK_STATS(p, 1, 1, 0, 3, 3, 0);
	CHECK_EQ(pthread_barrier_destroy(&hold), 0);
	CHECK_EQ(vt_pool_destroy(&p), 0);
	CHECK_EQ(vt_pool_destroy(&scratch), 0);
	CHECK_EQ(pthread_key_delete(late_key), 0);
}

/* Two pools used by one thread, then destroyed in either order, while a
 * second thread that used both exits afterwards. */
static void *use_two_pools(void *arg)
{
	vt_pool **pools = (vt_pool **)arg;
	void *a = vt_pool_rent(pools[0]);
	void *b = vt_pool_rent(pools[1]);

	CHECK(a != NULL && b != NULL);
	vt_pool_return(pools[0], a);
	vt_pool_return(pools[1], b);
	return NULL;
}

static void test_many_pools(void)
{
	vt_pool_config cfg;
	vt_pool *pools[40];
	pthread_t th;

	/* More pools than a thread's direct-mapped cache table has ways. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 8;
	for (int i = 0; i < 40; i++)
		pools[i] = make_pool(&cfg);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 40; i++)
			main_rents_all(pools[i], 8);
	}
	for (int i = 0; i < 40; i++) {
		vt_pool_stats s = stats_of(pools[i]);
		CHECK_EQ(s.rented, 0);
		CHECK_EQ(s.rents, 24);
		CHECK_EQ(s.returns, 24);
		CHECK_EQ(s.empty_rents, 3);
	}
	CHECK_EQ(pthread_create(&th, NULL, use_two_pools, pools), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	for (int i = 0; i < 40; i++)
		CHECK_EQ(vt_pool_destroy(&pools[i]), 0);
}

int main(void)
{
	RUN_TEST(test_config_default);
	RUN_TEST(test_create_invalid);
	RUN_TEST(test_exact_capacity);
	RUN_TEST(test_destroy);
	RUN_TEST(test_obj_init_once);
	RUN_TEST(test_obj_init_rents_own_pool);
	RUN_TEST(test_obj_init_rents_other_growing_pool);
	RUN_TEST(test_alignment);
	RUN_TEST(test_slab_growth);
	RUN_TEST(test_null_args);
	RUN_TEST(test_exited_thread_cache);
	RUN_TEST(test_live_thread_cache);
	RUN_TEST(test_many_pools);
	RUN_TEST(test_return_after_exit_hook);
	RUN_TEST(test_alloc_failure); /* last: its failures are about cleanup */
	return VT_TEST_PASS;
}
