/*
 * tests/test_promise.c: vt_promise and vt_promise_pool (SPEC §4.5, and the
 * §4.1 misuse rows as a pooled source meets them).
 *
 * "Nothing else changed" means: the promise's bytes (vt_promise has no
 * padding), its version and the pool's statistics are as before the call.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include <valuetask.h>

#include "alloc_hook.h"
#include "check.h"
#include "test_util.h"

static const vt_value SENTINEL = { .u64 = UINT64_C(0xdeadbeefcafef00d) };
static vt_promise_pool *const PP_SENTINEL = (vt_promise_pool *)(uintptr_t)0x5e57;

static vt_promise_pool *make_ppool(uint32_t capacity)
{
	vt_pool_config cfg;
	vt_promise_pool *pp = NULL;

	vt_pool_config_default(&cfg);
	cfg.capacity = capacity;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	CHECK(pp != NULL);
	return pp;
}

static vt_pool_stats pstats(const vt_promise_pool *pp)
{
	vt_pool_stats s;

	memset(&s, 0xff, sizeof s);
	vt_promise_pool_get_stats(pp, &s);
	return s;
}

#define CHECK_PSTATS(pp, rented_, rents_, returns_, empty_)   \
	do {                                                  \
		vt_pool_stats s_ = pstats(pp);                \
		CHECK_EQ(s_.rented, (rented_));               \
		CHECK_EQ(s_.rents, (rents_));                 \
		CHECK_EQ(s_.returns, (returns_));             \
		CHECK_EQ(s_.empty_rents, (empty_));           \
	} while (0)

/*
 * A snapshot of everything a misused call must leave alone: the promise's
 * bytes and the pool's statistics. A rented promise is compared whole. A
 * promise back in its pool is compared up to its continuation fields: the
 * source, its pool, and the core's state (version, status, flags) and
 * value, which stale handles read by design (type-stable memory);
 * sanitizer builds poison the rest of a free object.
 */
enum { RENTED, IN_POOL };
#define FREE_READABLE (offsetof(vt_promise, core) + offsetof(vt_core, fn))

typedef struct snap {
	vt_promise bytes;
	size_t n;
	vt_pool_stats stats;
} snap;

static snap take_snap(const vt_promise *p, const vt_promise_pool *pp, int where)
{
	snap s;

	memset(&s, 0, sizeof s);
	s.n = where == RENTED ? sizeof(vt_promise) : FREE_READABLE;
	memcpy(&s.bytes, p, s.n);
	s.stats = pstats(pp);
	return s;
}

#define CHECK_UNCHANGED(s, p, pp)                                                            \
	do {                                                                                 \
		snap now_ = take_snap((p), (pp), (s).n == sizeof(vt_promise) ? RENTED : IN_POOL); \
		CHECK(memcmp(&now_.bytes, &(s).bytes, now_.n) == 0);                         \
		CHECK(memcmp(&now_.stats, &(s).stats, sizeof now_.stats) == 0);              \
	} while (0)

/* ---- shape and lifecycle ------------------------------------------------------ */

static void test_sizeof(void)
{
	CHECK(sizeof(vt_promise) <= 64); /* one cache line per in-flight operation */
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

/*
 * The promise's pool stays readable once the promise is back in it:
 * vt_promise_on_cancel reads it after a status check that a concurrent
 * cancel and consume can overtake (a legal race; the call then answers
 * VT_ETOKEN or VT_ECOMPLETED), so it must be in the part that sanitizer
 * builds leave unpoisoned, like the state word that stale tasks read.
 */
static void test_pool_pointer_readable_when_free(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	vt_value v;

	CHECK(offsetof(vt_promise, pool) + sizeof(p->pool) <= FREE_READABLE);
	CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &v), 0); /* back in its pool */
#ifdef TEST_ASAN
	CHECK(!__asan_address_is_poisoned(&p->pool));
	CHECK(__asan_address_is_poisoned(&p->core.fn)); /* the rest is poisoned */
#endif
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void test_create_destroy(void)
{
	vt_promise_pool *pp = PP_SENTINEL;
	vt_pool_config cfg;
	vt_promise *p[3];

	CHECK_EQ(vt_promise_pool_create(NULL, NULL), VT_EINVAL);
	vt_pool_config_default(&cfg);
	CHECK_EQ(vt_promise_pool_create(NULL, &cfg), VT_EINVAL);
	cfg.capacity = 0;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), VT_EINVAL);
	CHECK(pp == PP_SENTINEL);

	/* object_size and object_align are ignored, even values vt_pool refuses. */
	vt_pool_config_default(&cfg);
	cfg.capacity = 3;
	cfg.object_size = 0;
	cfg.object_align = 3;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	CHECK(pp != PP_SENTINEL && pp != NULL);
	CHECK_EQ(pstats(pp).capacity, 3);
	for (int i = 0; i < 3; i++) {
		p[i] = vt_promise_rent(pp);
		CHECK(p[i] != NULL);
		CHECK_EQ(vt_task_status(vt_promise_task(p[i])), VT_PENDING);
	}
	CHECK(vt_promise_rent(pp) == NULL);
	CHECK_PSTATS(pp, 3, 3, 0, 1);
	/* Destroy with promises out: their count; one completed and consumed. */
	vt_value out = { .u64 = 0 };
	CHECK_EQ(vt_promise_set_result(p[1], vt_promise_version(p[1]), vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p[1]), &out), 0);
	CHECK_EQ(vt_promise_set_result(p[2], vt_promise_version(p[2]), vt_value_i64(1)), 0); /* not consumed */
	CHECK_EQ(vt_promise_pool_destroy(&pp), 2);
	CHECK(pp == NULL);
	CHECK_EQ(vt_promise_pool_destroy(&pp), VT_EINVAL);
	CHECK_EQ(vt_promise_pool_destroy(NULL), VT_EINVAL);

	/* NULL config: the defaults. */
	CHECK_EQ(vt_promise_pool_create(&pp, NULL), 0);
	CHECK_EQ(pstats(pp).capacity, 4096);
	CHECK(vt_promise_rent(NULL) == NULL);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void test_fresh_rental(void)
{
	vt_promise_pool *pp = make_ppool(4);
	vt_promise *p = vt_promise_rent(pp);
	vt_value out = SENTINEL;

	CHECK(p != NULL);
	vt_task t = vt_promise_task(p);
	CHECK(vt_task_source(t) != NULL);
	CHECK_EQ(vt_task_token(t), vt_promise_version(p));
	CHECK(!vt_task_is_completed(t));
	CHECK_EQ(vt_task_status(t), VT_PENDING);
	CHECK_EQ(vt_task_get_result(t, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_PSTATS(pp, 1, 1, 0, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 1);
}

static void test_null_promise(void)
{
	vt_value out = SENTINEL;

	CHECK_EQ(vt_promise_version(NULL), 0);
	CHECK_EQ(vt_promise_set_result(NULL, 0, vt_value_i64(1)), VT_EINVAL);
	CHECK_EQ(vt_promise_set_error(NULL, 0, -EIO), VT_EINVAL);
	vt_task t = vt_promise_task(NULL);
	CHECK(vt_task_source(t) == NULL);
	CHECK_EQ(vt_task_status(t), VT_FAULTED);
	CHECK_EQ(vt_task_get_result(t, &out), VT_EINVAL);
	CHECK_EQ(out.u64, SENTINEL.u64);
}

/* ---- version bump on consume, back to the pool exactly once ----------------------- */

static void test_consume_bumps_version(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	vt_value out = SENTINEL;
	uint16_t tok;

	CHECK(p != NULL);
	tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(21)), 0);
	CHECK_EQ(vt_promise_version(p), tok); /* completion does not move it */
	CHECK_PSTATS(pp, 1, 1, 0, 0);        /* completed is not returned */
	CHECK_EQ(vt_task_status(t), VT_SUCCEEDED);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 21);
	CHECK_EQ(vt_promise_version(p), (uint16_t)(tok + 1));
	CHECK_PSTATS(pp, 0, 1, 1, 0);

	/* The second consume: ETOKEN, not returned again, nothing changed. */
	snap s = take_snap(p, pp, IN_POOL);
	out = SENTINEL;
	CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_UNCHANGED(s, p, pp);

	/* The same promise comes back (capacity 1), pending under the new version. */
	vt_promise *q = vt_promise_rent(pp);
	CHECK(q == p);
	CHECK_EQ(vt_promise_version(q), (uint16_t)(tok + 1));
	CHECK_EQ(vt_task_status(vt_promise_task(q)), VT_PENDING);
	CHECK_PSTATS(pp, 1, 2, 1, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 1);
}

typedef struct consumer {
	vt_task task;
	int runs;
	int rc;
	vt_value out;
	vt_promise_pool *rent_from; /* if set: rent again inside the continuation */
	vt_promise *rented;
} consumer;

static void consumer_fn(void *state)
{
	consumer *c = (consumer *)state;

	c->runs++;
	c->rc = vt_task_get_result(c->task, &c->out);
	if (c->rent_from != NULL)
		c->rented = vt_promise_rent(c->rent_from);
}

static void test_returned_exactly_once(void)
{
	vt_promise_pool *pp = make_ppool(2);
	vt_promise *p;
	consumer c;
	uint16_t tok;
	uint64_t returns = 0, rents = 0;
	vt_value out = { .u64 = 0 };

	/* (a) consumed in the continuation, inline in set_result. */
	p = vt_promise_rent(pp);
	rents++;
	tok = vt_promise_version(p);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, NULL), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.rc, 0);
	CHECK_EQ(c.out.i64, 1);
	CHECK_PSTATS(pp, 0, rents, ++returns, 0);

	/* (b) completed first; on_completed runs it inline; it consumes. */
	p = vt_promise_rent(pp);
	rents++;
	tok = vt_promise_version(p);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_error(p, tok, -EIO), 0);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, NULL), 0);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.rc, -EIO);
	CHECK_PSTATS(pp, 0, rents, ++returns, 0);

	/* (c) canceled, consumed directly; then every later call is stale. */
	p = vt_promise_rent(pp);
	rents++;
	tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_error(p, tok, -ECANCELED), 0);
	CHECK_EQ(vt_task_status(t), VT_CANCELED);
	CHECK_EQ(vt_task_get_result(t, &out), -ECANCELED);
	CHECK_PSTATS(pp, 0, rents, ++returns, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
		CHECK_EQ(vt_task_status(t), VT_ETOKEN);
		CHECK_EQ(vt_task_on_completed(t, never_fn, NULL, NULL), VT_ETOKEN);
	}
	CHECK_PSTATS(pp, 0, rents, returns, 0);

	/* (d) get_result with out == NULL refuses and does not consume. */
	p = vt_promise_rent(pp);
	rents++;
	tok = vt_promise_version(p);
	t = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(4)), 0);
	snap s = take_snap(p, pp, RENTED);
	CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 4);
	CHECK_PSTATS(pp, 0, rents, ++returns, 0);

	/* (e) the continuation consumes and rents the same promise again,
	 * inside set_result: the completer must not touch the new rental. */
	vt_promise_pool *one = make_ppool(1);
	p = vt_promise_rent(one);
	tok = vt_promise_version(p);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	c.rent_from = one;
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, NULL), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(5)), 0);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.rc, 0);
	CHECK_EQ(c.out.i64, 5);
	CHECK(c.rented == p);
	CHECK_EQ(vt_promise_version(p), (uint16_t)(tok + 1));
	t = vt_promise_task(p);
	CHECK_EQ(vt_task_status(t), VT_PENDING);
	CHECK_EQ(vt_task_get_result(t, &out), VT_EPENDING);
	CHECK_EQ(vt_task_on_completed(t, never_fn, NULL, NULL), 0); /* nothing registered before */
	CHECK_PSTATS(one, 1, 2, 1, 0);
	CHECK_EQ(vt_promise_pool_destroy(&one), 1);

	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- the producer side is versioned ---------------------------------------------- */

static void test_stale_producer_after_recycle(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p, *q;
	uint16_t tok0, tok1;
	vt_value out = SENTINEL;
	vt_task t0, t1;

	p = vt_promise_rent(pp);
	tok0 = vt_promise_version(p);
	t0 = vt_promise_task(p);
	CHECK_EQ(vt_promise_set_result(p, tok0, vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(t0, &out), 0);
	q = vt_promise_rent(pp);
	CHECK(q == p);
	tok1 = vt_promise_version(q);
	CHECK_EQ(tok1, (uint16_t)(tok0 + 1));
	t1 = vt_promise_task(q);

	/* The late producer of rental 0, and its late awaiter. */
	snap s = take_snap(q, pp, RENTED);
	CHECK_EQ(vt_promise_set_result(p, tok0, vt_value_i64(666)), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_error(p, tok0, -EIO), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_error(p, tok0, -ECANCELED), VT_ETOKEN);
	CHECK_EQ(vt_task_on_completed(t0, never_fn, NULL, NULL), VT_ETOKEN);
	CHECK_EQ(vt_task_status(t0), VT_ETOKEN);
	CHECK(vt_task_is_completed(t0));
	CHECK_EQ(vt_task_get_result(t0, &out), VT_ETOKEN);
	CHECK_UNCHANGED(s, q, pp);
	CHECK_EQ(vt_task_status(t1), VT_PENDING);

	/* The new rental completes and reads its own result. */
	consumer c;
	memset(&c, 0, sizeof c);
	c.task = t1;
	CHECK_EQ(vt_task_on_completed(t1, consumer_fn, &c, NULL), 0);
	s = take_snap(q, pp, RENTED);
	CHECK_EQ(vt_promise_set_result(p, tok0, vt_value_i64(666)), VT_ETOKEN);
	CHECK_UNCHANGED(s, q, pp);
	CHECK_EQ(c.runs, 0);
	CHECK_EQ(vt_promise_set_result(q, tok1, vt_value_i64(7)), 0);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.rc, 0);
	CHECK_EQ(c.out.i64, 7);

	/* Completed and not consumed: a stale producer gets ETOKEN (it beats
	 * ECOMPLETED), and the result stays. */
	q = vt_promise_rent(pp);
	uint16_t tok2 = vt_promise_version(q);
	CHECK_EQ(vt_promise_set_result(q, tok2, vt_value_i64(8)), 0);
	s = take_snap(q, pp, RENTED);
	CHECK_EQ(vt_promise_set_result(q, tok1, vt_value_i64(666)), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_result(q, (uint16_t)(tok2 + 1), vt_value_i64(666)), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_error(q, tok0, -EIO), VT_ETOKEN);
	CHECK_UNCHANGED(s, q, pp);
	CHECK_EQ(vt_task_get_result(vt_promise_task(q), &out), 0);
	CHECK_EQ(out.i64, 8);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);

	/* Two promises: a stale token on one never touches the other. */
	pp = make_ppool(2);
	vt_promise *a = vt_promise_rent(pp), *b = vt_promise_rent(pp);
	uint16_t ta = vt_promise_version(a), tb = vt_promise_version(b);
	CHECK_EQ(vt_promise_set_result(a, ta, vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(a), &out), 0);
	s = take_snap(b, pp, RENTED);
	CHECK_EQ(vt_promise_set_result(a, ta, vt_value_i64(666)), VT_ETOKEN);
	CHECK_UNCHANGED(s, b, pp);
	CHECK_EQ(vt_promise_set_result(b, tb, vt_value_i64(2)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(b), &out), 0);
	CHECK_EQ(out.i64, 2);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * Version wraparound. A capacity-1 pool hands out the same promise every
 * time, so rental r has version (v0 + r) mod 2^16. A token from 65535
 * rentals ago is still rejected; one from exactly 65536 rentals ago matches
 * again. That is the ABA window of a 16-bit version: a handle held across
 * 65536 recycles of its source is indistinguishable from a current one.
 */
static void test_version_wraparound(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p0 = vt_promise_rent(pp), *p;
	const uint16_t v0 = vt_promise_version(p0);
	const vt_task t0 = vt_promise_task(p0);
	vt_value out = { .u64 = 0 };

	CHECK_EQ(vt_promise_set_result(p0, v0, vt_value_i64(0)), 0);
	CHECK_EQ(vt_task_get_result(t0, &out), 0);

	for (uint32_t r = 1; r < 65536; r++) {
		p = vt_promise_rent(pp);
		CHECK(p == p0);
		uint16_t tok = vt_promise_version(p);
		CHECK_EQ(tok, (uint16_t)(v0 + r));
		/* The previous rental's producer and the first rental's are stale. */
		CHECK_EQ(vt_promise_set_result(p, (uint16_t)(tok - 1), vt_value_u64(UINT64_MAX)), VT_ETOKEN);
		CHECK_EQ(vt_promise_set_result(p, v0, vt_value_u64(UINT64_MAX)), VT_ETOKEN);
		CHECK_EQ(vt_task_status(t0), VT_ETOKEN);
		CHECK_EQ(vt_promise_set_result(p, tok, vt_value_u64(r)), 0);
		CHECK_EQ(vt_task_get_result(vt_promise_task(p), &out), 0);
		CHECK_EQ(out.u64, r);
	}
	/* Rental 65535 was the last one a token from rental 0 could not reach. */
	CHECK_PSTATS(pp, 0, 65536, 65536, 0);

	/* Rental 65536: the same version as rental 0. */
	p = vt_promise_rent(pp);
	CHECK(p == p0);
	CHECK_EQ(vt_promise_version(p), v0);
#ifndef VT_GENERATION_CHECK
	CHECK_EQ(vt_task_status(t0), VT_PENDING); /* the ABA window: t0 matches */
	CHECK_EQ(vt_promise_set_result(p, v0, vt_value_i64(65536)), 0);
	CHECK_EQ(vt_task_get_result(t0, &out), 0);
	CHECK_EQ(out.i64, 65536);
#else
	/* -Dgeneration_check: the task carries the epoch too, so the handle
	 * from 65536 rentals ago is caught, and the current rental is intact. */
	CHECK_EQ(vt_task_status(t0), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(t0, &out), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_result(p, v0, vt_value_i64(65536)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(p), &out), 0);
	CHECK_EQ(out.i64, 65536);
#endif
	CHECK_PSTATS(pp, 0, 65537, 65537, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- misuse in sequence: exact codes, nothing else changed --------------------- */

static void test_misuse_complete_twice(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	vt_value out = { .u64 = 0 };
	counter k;

	counter_init(&k, 0);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	snap s = take_snap(p, pp, RENTED);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(2)), VT_ECOMPLETED);
	CHECK_EQ(vt_promise_set_error(p, tok, -EIO), VT_ECOMPLETED);
	CHECK_EQ(vt_promise_set_error(p, tok, -ECANCELED), VT_ECOMPLETED);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 1); /* the first result stays */
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void test_misuse_await_twice(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	counter k1, k2;

	counter_init(&k1, 1);
	counter_init(&k2, 2);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k1, NULL), 0);
	snap s = take_snap(p, pp, RENTED);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k2, NULL), VT_EAWAITED);
	CHECK_EQ(vt_task_on_completed(t, NULL, NULL, NULL), VT_EINVAL);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(k1.runs, 1);
	CHECK_EQ(k2.runs, 0);
	/* After it ran: EAWAITED still (registration beats completion). */
	s = take_snap(p, pp, RENTED);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k2, NULL), VT_EAWAITED);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_EQ(k2.runs, 0);
	vt_value out = { .u64 = 0 };
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void test_misuse_pending_and_invalid(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	vt_value out = SENTINEL;

	snap s = take_snap(p, pp, RENTED);
	CHECK_EQ(vt_task_get_result(t, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
	const int refused[] = { 0, 1, INT_MAX, VT_ETOKEN, VT_EPENDING, VT_EAWAITED, VT_ECOMPLETED,
				VT_EEXHAUSTED, VT_EINVAL, VT_ENOMEM, VT_ESHUTDOWN, -4096, -4159 };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		CHECK_EQ(vt_promise_set_error(p, tok, refused[i]), VT_EINVAL);
		/* EINVAL beats ETOKEN. */
		CHECK_EQ(vt_promise_set_error(p, (uint16_t)(tok + 1), refused[i]), VT_EINVAL);
	}
	CHECK_EQ(vt_task_on_completed(vt_task_from_source(vt_task_source(t), (uint16_t)(tok + 1)), NULL, NULL,
				      NULL),
		 VT_EINVAL);
	/* ETOKEN beats the state codes. */
	CHECK_EQ(vt_task_get_result(vt_task_from_source(vt_task_source(t), (uint16_t)(tok - 1)), &out), VT_ETOKEN);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_EQ(vt_task_status(t), VT_PENDING);

	/* Still a working rental. */
	CHECK_EQ(vt_promise_set_error(p, tok, -4160), 0);
	CHECK_EQ(vt_task_status(t), VT_FAULTED);
	CHECK_EQ(vt_task_get_result(t, &out), -4160);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static void test_misuse_after_consume(void)
{
	vt_promise_pool *pp = make_ppool(2);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	vt_value out = SENTINEL;

	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(3)), 0);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	/* The promise sits in the pool now; its memory stays mapped. */
	snap s = take_snap(p, pp, IN_POOL);
	out = SENTINEL;
	CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
	CHECK_EQ(vt_task_status(t), VT_ETOKEN);
	CHECK(vt_task_is_completed(t));
	CHECK_EQ(vt_task_on_completed(t, never_fn, NULL, NULL), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(666)), VT_ETOKEN);
	CHECK_EQ(vt_promise_set_error(p, tok, -EIO), VT_ETOKEN);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_UNCHANGED(s, p, pp);
	CHECK_PSTATS(pp, 0, 1, 1, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- exhaustion -------------------------------------------------------------- */

static void test_exhaustion(void)
{
	vt_promise_pool *pp = make_ppool(2);
	vt_promise *a = vt_promise_rent(pp), *b = vt_promise_rent(pp);
	vt_value out = { .u64 = 0 };

	CHECK(a != NULL && b != NULL && a != b);
	CHECK(vt_promise_rent(pp) == NULL);
	CHECK_PSTATS(pp, 2, 2, 0, 1);
	uint16_t ta = vt_promise_version(a);
	CHECK_EQ(vt_promise_set_result(a, ta, vt_value_i64(1)), 0);
	CHECK(vt_promise_rent(pp) == NULL); /* completed is not free */
	CHECK_PSTATS(pp, 2, 2, 0, 2);
	CHECK_EQ(vt_task_get_result(vt_promise_task(a), &out), 0);
	vt_promise *c = vt_promise_rent(pp);
	CHECK(c == a); /* the only free one */
	CHECK_EQ(vt_promise_version(c), (uint16_t)(ta + 1));
	CHECK_PSTATS(pp, 2, 3, 1, 2);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 2);
}

/* ---- executors through a promise's task ------------------------------------- */

static void test_executor_routing(void)
{
	vt_promise_pool *pp = make_ppool(1);
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	rec_executor ex;
	consumer c;

	rec_init(&ex, 0);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, &ex.base), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(9)), 0);
	CHECK_EQ(ex.posts, 1);
	CHECK_EQ(c.runs, 0);
	CHECK_PSTATS(pp, 1, 1, 0, 0);
	CHECK_EQ(rec_drain(&ex), 1);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.rc, 0);
	CHECK_EQ(c.out.i64, 9);
	CHECK_PSTATS(pp, 0, 1, 1, 0);

	/* Refusing executor: inline. */
	p = vt_promise_rent(pp);
	tok = vt_promise_version(p);
	rec_init(&ex, 1);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, &ex.base), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(10)), 0);
	CHECK_EQ(ex.posts, 1);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.out.i64, 10);
	CHECK_PSTATS(pp, 0, 2, 2, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* The next rental of p (a pool of capacity 1) runs its continuation inline:
 * nothing more is posted to ex. */
static void check_next_rental_inline(vt_promise_pool *pp, vt_promise *p, const rec_executor *ex,
				     int64_t v)
{
	vt_promise *q = vt_promise_rent(pp);
	int posts = ex->posts;
	consumer c;

	CHECK(q == p);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(q);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, NULL), 0);
	CHECK_EQ(vt_promise_set_result(q, vt_task_token(c.task), vt_value_i64(v)), 0);
	CHECK_EQ(ex->posts, posts);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.out.i64, v);
}

/* A rental's own executor (vt_core_set_executor) ends with the rental: the
 * next renter of the same promise starts inline, whichever way the previous
 * rental went back (consumed by get_result, or released by vt_task_forget). */
static void test_executor_ends_with_rental(void)
{
	vt_promise_pool *pp = make_ppool(1); /* capacity 1: every rent is the same promise */
	vt_promise *p = vt_promise_rent(pp), *q;
	uint16_t tok = vt_promise_version(p);
	rec_executor ex;
	consumer c;

	CHECK(p != NULL);
	rec_init(&ex, 0);
	vt_core_set_executor(&p->core, &ex.base);
	memset(&c, 0, sizeof c);
	c.task = vt_promise_task(p);
	CHECK_EQ(vt_task_on_completed(c.task, consumer_fn, &c, NULL), 0);
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(1)), 0);
	CHECK_EQ(ex.posts, 1); /* this rental: posted to the core's executor */
	CHECK_EQ(rec_drain(&ex), 1);
	CHECK_EQ(c.runs, 1);
	CHECK_EQ(c.out.i64, 1);
	check_next_rental_inline(pp, p, &ex, 2); /* after a consume */

	/* A rental released by forget, completed before and after the forget. */
	for (int completed_first = 0; completed_first < 2; completed_first++) {
		q = vt_promise_rent(pp);
		CHECK(q == p);
		tok = vt_promise_version(q);
		vt_core_set_executor(&q->core, &ex.base);
		if (completed_first)
			CHECK_EQ(vt_promise_set_result(q, tok, vt_value_i64(3)), 0);
		CHECK_EQ(vt_task_forget(vt_promise_task(q)), 0);
		if (!completed_first)
			CHECK_EQ(vt_promise_set_result(q, tok, vt_value_i64(3)), 0);
		CHECK_PSTATS(pp, 0, 3 + 2 * (uint64_t)completed_first, 3 + 2 * (uint64_t)completed_first, 0);
		check_next_rental_inline(pp, p, &ex, 4);
	}
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- allocation failure ---------------------------------------------------- */

static void test_alloc_failure(void)
{
	bool clean_run = false;

	for (long k = 0; !clean_run; k++) {
		vt_pool_config cfg;
		alloc_hook h;
		vt_promise_pool *pp = PP_SENTINEL;
		vt_promise *held[8];
		int n = 0, rc;

		CHECK(k < 10000);
		hook_reset(&h);
		h.fail_at = k;
		vt_pool_config_default(&cfg);
		cfg.capacity = 8;
		cfg.slab_objects = 4;
		cfg.initial_objects = 4;
		cfg.max_threads = 2;
		hook_install(&h, &cfg);
		rc = vt_promise_pool_create(&pp, &cfg);
		if (rc != 0) {
			CHECK_EQ(rc, VT_ENOMEM);
			CHECK(pp == PP_SENTINEL);
			CHECK_EQ(h.live, 0);
			CHECK_EQ(h.bad_frees, 0);
			continue;
		}
		for (int tries = 0; n < 8; tries++) {
			CHECK(tries < 9); /* at most one NULL, from the one failure */
			vt_promise *p = vt_promise_rent(pp);
			if (p == NULL) {
				CHECK(h.failures > 0);
				continue;
			}
			CHECK_EQ(vt_task_status(vt_promise_task(p)), VT_PENDING);
			held[n++] = p;
		}
		for (int i = 0; i < n; i++) {
			vt_value out = { .u64 = 0 };

			CHECK_EQ(vt_promise_set_result(held[i], vt_promise_version(held[i]), vt_value_i64(i)), 0);
			CHECK_EQ(vt_task_get_result(vt_promise_task(held[i]), &out), 0);
			CHECK_EQ(out.i64, i);
		}
		CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
		CHECK_EQ(h.live, 0);
		CHECK_EQ(h.bad_frees, 0);
		clean_run = h.failures == 0;
	}
}

int main(void)
{
	RUN_TEST(test_sizeof);
	RUN_TEST(test_pool_pointer_readable_when_free);
	RUN_TEST(test_create_destroy);
	RUN_TEST(test_fresh_rental);
	RUN_TEST(test_null_promise);
	RUN_TEST(test_consume_bumps_version);
	RUN_TEST(test_returned_exactly_once);
	RUN_TEST(test_stale_producer_after_recycle);
	RUN_TEST(test_version_wraparound);
	RUN_TEST(test_misuse_complete_twice);
	RUN_TEST(test_misuse_await_twice);
	RUN_TEST(test_misuse_pending_and_invalid);
	RUN_TEST(test_misuse_after_consume);
	RUN_TEST(test_exhaustion);
	RUN_TEST(test_executor_routing);
	RUN_TEST(test_executor_ends_with_rental);
	RUN_TEST(test_alloc_failure); /* last: its failures are about cleanup */
	return VT_TEST_PASS;
}
