/*
 * tests/test_core.c: vt_core, one test per row of SPEC §4.1, the precedence
 * rule, where continuations run (§4.4), the wait windows W1 and W2
 * (core.h), held open with the split primitives, and the detached take.
 *
 * "Nothing else changed" is checked by comparing the whole core, byte for
 * byte, before and after each refused call (vt_core has no padding).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <valuetask.h>

#include "check.h"
#include "test_util.h"

#define SAME_CORE(a, b) CHECK(memcmp(&(a), &(b), sizeof(vt_core)) == 0)

static const vt_value SENTINEL = { .u64 = UINT64_C(0xdeadbeefcafef00d) };

/* ---- lifecycle ---------------------------------------------------------- */

static void test_init_is_pending_version_0(void)
{
	vt_core c;
	vt_value out = SENTINEL;

	memset(&c, 0xa5, sizeof c); /* init must not depend on prior contents */
	vt_core_init(&c);
	CHECK_EQ(vt_core_version(&c), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
	CHECK_EQ(vt_core_get_result(&c, 0, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	/* Inline continuations: completing runs fn on this thread, in the call. */
	counter k;
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	CHECK(pthread_equal(k.thread, pthread_self()));
}

static void test_reset_bumps_version_and_drops_registration(void)
{
	vt_core c;
	vt_value out = SENTINEL;
	counter k;

	vt_core_init(&c);
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), 0);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_version(&c), 1);
	CHECK_EQ(vt_core_status(&c, 1), VT_PENDING);
	CHECK_EQ(vt_core_status(&c, 0), VT_ETOKEN);
	/* The dropped continuation never runs; a new one can be registered. */
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(5)), 0);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(vt_core_get_result(&c, 1, &out), 0);
	CHECK_EQ(out.i64, 5);

	/* Reset of a completed core: pending again, result gone. */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_version(&c), 2);
	CHECK_EQ(vt_core_status(&c, 2), VT_PENDING);
	out = SENTINEL;
	CHECK_EQ(vt_core_get_result(&c, 2, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(k.runs, 1);
}

static void test_version_wraps_mod_2_16(void)
{
	vt_core c;

	vt_core_init(&c);
	for (uint32_t i = 1; i <= 65535; i++) {
		vt_core_reset(&c);
		CHECK_EQ(vt_core_version(&c), (uint16_t)i);
	}
	CHECK_EQ(vt_core_version(&c), 0xffff);
	CHECK_EQ(vt_core_status(&c, 0xffff), VT_PENDING);
	vt_core_reset(&c); /* 65536 resets: back to 0 */
	CHECK_EQ(vt_core_version(&c), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
	CHECK_EQ(vt_core_status(&c, 0xffff), VT_ETOKEN);

	/* The same through consume (the pooled path): 65536 completed rounds. */
	for (uint32_t i = 0; i < 65536; i++) {
		vt_value out = { .u64 = 0 };
		uint16_t tok = vt_core_version(&c);

		CHECK_EQ(vt_core_set_result(&c, vt_value_u64(i)), 0);
		CHECK_EQ(vt_core_consume(&c, tok, &out), 0);
		CHECK_EQ(out.u64, i);
	}
	CHECK_EQ(vt_core_version(&c), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
}

static void test_null_core(void)
{
	vt_value out = SENTINEL;

	CHECK_EQ(vt_core_version(NULL), 0);
	vt_core_reset(NULL);               /* ignored */
	vt_core_set_executor(NULL, NULL);  /* ignored */
	CHECK_EQ(vt_core_set_result(NULL, vt_value_i64(1)), VT_EINVAL);
	CHECK_EQ(vt_core_set_error(NULL, -EIO), VT_EINVAL);
	CHECK_EQ(vt_core_status(NULL, 0), VT_EINVAL);
	CHECK_EQ(vt_core_get_result(NULL, 0, &out), VT_EINVAL);
	CHECK_EQ(vt_core_consume(NULL, 0, &out), VT_EINVAL);
	CHECK_EQ(vt_core_on_completed(NULL, 0, never_fn, NULL, NULL), VT_EINVAL);
	CHECK_EQ(out.u64, SENTINEL.u64);
}

/* ---- row: any call with a token, token != version ----------------------- */

/* Every token-taking call with a stale token, on c as it is: VT_ETOKEN and no change. */
static void check_stale_calls(vt_core *c, uint16_t stale)
{
	vt_core before = *c;
	vt_value out = SENTINEL;

	CHECK(stale != vt_core_version(c));
	CHECK_EQ(vt_core_status(c, stale), VT_ETOKEN);
	SAME_CORE(before, *c);
	CHECK_EQ(vt_core_get_result(c, stale, &out), VT_ETOKEN);
	SAME_CORE(before, *c);
	CHECK_EQ(vt_core_consume(c, stale, &out), VT_ETOKEN);
	SAME_CORE(before, *c);
	CHECK_EQ(vt_core_on_completed(c, stale, never_fn, NULL, NULL), VT_ETOKEN);
	SAME_CORE(before, *c);
	CHECK_EQ(out.u64, SENTINEL.u64);
}

static void test_row_stale_token(void)
{
	vt_core c;
	counter k;
	vt_value out = { .u64 = 0 };

	/* Pending, nothing registered: future and past tokens. */
	vt_core_init(&c);
	vt_core_reset(&c);
	vt_core_reset(&c); /* version 2 */
	check_stale_calls(&c, 1);
	check_stale_calls(&c, 3);
	check_stale_calls(&c, 0xffff);

	/* Pending with a registration: the stale await does not displace it. */
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 2, counter_fn, &k, NULL), 0);
	check_stale_calls(&c, 1);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(7)), 0);
	CHECK_EQ(k.runs, 1);

	/* Completed (continuation ran): the stale calls neither read nor run. */
	check_stale_calls(&c, 1);
	check_stale_calls(&c, 3);
	CHECK_EQ(k.runs, 1);

	/* Consumed: the old token is stale, the new version pending. */
	CHECK_EQ(vt_core_consume(&c, 2, &out), 0);
	CHECK_EQ(out.i64, 7);
	CHECK_EQ(vt_core_version(&c), 3);
	check_stale_calls(&c, 2);

	/* Completed, no registration: stale await does not run or register. */
	CHECK_EQ(vt_core_set_error(&c, -EIO), 0);
	check_stale_calls(&c, 2);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 3, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 1);
}

/* ---- rows: set_result / set_error while pending -------------------------- */

static void test_row_set_result_pending(void)
{
	vt_core c;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(-42)), 0);
	CHECK_EQ(vt_core_version(&c), 0); /* completion does not move the version */
	CHECK_EQ(vt_core_status(&c, 0), VT_SUCCEEDED);
	CHECK_EQ(vt_core_get_result(&c, 0, &out), 0);
	CHECK_EQ(out.i64, -42);

	/* Every bit of the word survives. */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_u64(UINT64_MAX)), 0);
	CHECK_EQ(vt_core_get_result(&c, 1, &out), 0);
	CHECK(out.u64 == UINT64_MAX);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_f64(-0.5)), 0);
	CHECK_EQ(vt_core_get_result(&c, 2, &out), 0);
	CHECK(out.f64 == -0.5);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_ptr(&c)), 0);
	CHECK_EQ(vt_core_get_result(&c, 3, &out), 0);
	CHECK(out.ptr == (void *)&c);
}

static void test_row_set_error_pending(void)
{
	vt_core c;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	CHECK_EQ(vt_core_set_error(&c, -EIO), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_FAULTED);
	CHECK_EQ(vt_core_get_result(&c, 0, &out), -EIO);
	CHECK_EQ(out.u64, SENTINEL.u64); /* *out untouched on failure */

	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_error(&c, -ECANCELED), 0);
	CHECK_EQ(vt_core_status(&c, 1), VT_CANCELED);
	CHECK_EQ(vt_core_get_result(&c, 1, &out), -ECANCELED);
	CHECK_EQ(out.u64, SENTINEL.u64);
}

/* The registered continuation runs in the completing call, sees the result. */
typedef struct observer {
	vt_core *core;
	uint16_t token;
	int runs;
	int status_seen;
	int result_seen;
	vt_value value_seen;
} observer;

static void observer_fn(void *state)
{
	observer *o = (observer *)state;

	o->runs++;
	o->status_seen = vt_core_status(o->core, o->token);
	o->result_seen = vt_core_get_result(o->core, o->token, &o->value_seen);
}

static void test_row_set_runs_registered_continuation(void)
{
	vt_core c;
	observer o;

	vt_core_init(&c);
	memset(&o, 0, sizeof o);
	o.core = &c;
	o.token = 0;
	CHECK_EQ(vt_core_on_completed(&c, 0, observer_fn, &o, NULL), 0);
	CHECK_EQ(o.runs, 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(99)), 0);
	CHECK_EQ(o.runs, 1);
	CHECK_EQ(o.status_seen, VT_SUCCEEDED); /* published before it runs */
	CHECK_EQ(o.result_seen, 0);
	CHECK_EQ(o.value_seen.i64, 99);

	vt_core_reset(&c);
	memset(&o, 0, sizeof o);
	o.core = &c;
	o.token = 1;
	CHECK_EQ(vt_core_on_completed(&c, 1, observer_fn, &o, NULL), 0);
	CHECK_EQ(vt_core_set_error(&c, -ECANCELED), 0);
	CHECK_EQ(o.runs, 1);
	CHECK_EQ(o.status_seen, VT_CANCELED);
	CHECK_EQ(o.result_seen, -ECANCELED);
}

/* ---- row: set_result / set_error when completed ------------------------- */

static void test_row_set_when_completed(void)
{
	vt_core c, before;
	counter k;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	before = c;
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), VT_ECOMPLETED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_set_error(&c, -EIO), VT_ECOMPLETED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_set_error(&c, -ECANCELED), VT_ECOMPLETED);
	SAME_CORE(before, c);
	CHECK_EQ(k.runs, 1); /* the continuation does not run again */
	CHECK_EQ(vt_core_status(&c, 0), VT_SUCCEEDED);
	CHECK_EQ(vt_core_get_result(&c, 0, &out), 0);
	CHECK_EQ(out.i64, 1); /* the first result is kept */

	/* First an error, then a value: the error stays. */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_error(&c, -EPIPE), 0);
	before = c;
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(3)), VT_ECOMPLETED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_set_error(&c, -EIO), VT_ECOMPLETED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_status(&c, 1), VT_FAULTED);
	out = SENTINEL;
	CHECK_EQ(vt_core_get_result(&c, 1, &out), -EPIPE);
	CHECK_EQ(out.u64, SENTINEL.u64);
}

/* ---- row: status -------------------------------------------------------- */

static void test_row_status(void)
{
	vt_core c, before;

	vt_core_init(&c);
	before = c;
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING); /* awaited is still pending */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(0)), 0);
	before = c;
	CHECK_EQ(vt_core_status(&c, 1), VT_SUCCEEDED);
	CHECK_EQ(vt_core_status(&c, 1), VT_SUCCEEDED); /* status does not consume */
	SAME_CORE(before, c);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_error(&c, -ENOENT), 0);
	CHECK_EQ(vt_core_status(&c, 2), VT_FAULTED);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_error(&c, -ECANCELED), 0);
	CHECK_EQ(vt_core_status(&c, 3), VT_CANCELED);
}

/* ---- rows: get_result ----------------------------------------------------- */

static void test_row_get_result_pending(void)
{
	vt_core c, before;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	before = c;
	CHECK_EQ(vt_core_get_result(&c, 0, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	SAME_CORE(before, c);
	/* Also while awaited. */
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), 0);
	before = c;
	CHECK_EQ(vt_core_get_result(&c, 0, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	SAME_CORE(before, c);
}

static void test_row_get_result_succeeded(void)
{
	vt_core c, before;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(12345)), 0);
	before = c;
	for (int i = 0; i < 3; i++) { /* get_result reads, it does not consume */
		out = SENTINEL;
		CHECK_EQ(vt_core_get_result(&c, 0, &out), 0);
		CHECK_EQ(out.i64, 12345);
		SAME_CORE(before, c);
	}
}

static void test_row_get_result_faulted_canceled(void)
{
	vt_core c, before;
	vt_value out = SENTINEL;
	const int errs[] = { -EIO, -ECANCELED, -1, -4095, -4160, INT_MIN };

	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		vt_core_init(&c);
		CHECK_EQ(vt_core_set_error(&c, errs[i]), 0);
		before = c;
		CHECK_EQ(vt_core_status(&c, 0), errs[i] == -ECANCELED ? VT_CANCELED : VT_FAULTED);
		CHECK_EQ(vt_core_get_result(&c, 0, &out), errs[i]);
		CHECK_EQ(vt_core_get_result(&c, 0, &out), errs[i]);
		CHECK_EQ(out.u64, SENTINEL.u64);
		SAME_CORE(before, c);
	}
}

/* ---- rows: on_completed --------------------------------------------------- */

static void test_row_on_completed_pending_registers(void)
{
	vt_core c;
	counter k;

	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 0); /* not before completion */
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	/* Once: nothing later runs it again. */
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), VT_ECOMPLETED);
	vt_value out = { .u64 = 0 };
	CHECK_EQ(vt_core_consume(&c, 0, &out), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(3)), 0); /* next round, none registered */
	CHECK_EQ(k.runs, 1);
}

static void test_row_on_completed_already_registered(void)
{
	vt_core c, before;
	counter first, second;

	vt_core_init(&c);
	counter_init(&first, 1);
	counter_init(&second, 2);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &first, NULL), 0);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &second, NULL), VT_EAWAITED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), VT_EAWAITED);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(first.runs, 1); /* the first registration is untouched */
	CHECK_EQ(second.runs, 0);
}

static void test_row_on_completed_when_completed_runs_inline(void)
{
	vt_core c;
	counter k;
	observer o;

	vt_core_init(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(8)), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 1); /* ran inside the call, on this thread */
	CHECK(pthread_equal(k.thread, pthread_self()));

	/* It sees the result. */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_error(&c, -EIO), 0);
	memset(&o, 0, sizeof o);
	o.core = &c;
	o.token = 1;
	CHECK_EQ(vt_core_on_completed(&c, 1, observer_fn, &o, NULL), 0);
	CHECK_EQ(o.runs, 1);
	CHECK_EQ(o.status_seen, VT_FAULTED);
	CHECK_EQ(o.result_seen, -EIO);
}

static void test_row_on_completed_null_fn(void)
{
	vt_core c, before;

	vt_core_init(&c);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 0, NULL, NULL, NULL), VT_EINVAL);
	SAME_CORE(before, c);
	/* Nothing was registered: a real registration still succeeds. */
	counter k;
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 0, NULL, NULL, NULL), VT_EINVAL);
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 0, NULL, NULL, NULL), VT_EINVAL);
	SAME_CORE(before, c);
}

/* The registration row wins over the completed row. */
static void test_await_after_continuation_ran(void)
{
	vt_core c, before;
	counter k;

	/* Registered while pending, ran at completion, awaited again. */
	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), VT_EAWAITED);
	SAME_CORE(before, c);

	/* Completed first, awaited (ran inline), awaited again. */
	vt_core_reset(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 1);
	before = c;
	CHECK_EQ(vt_core_on_completed(&c, 1, never_fn, NULL, NULL), VT_EAWAITED);
	SAME_CORE(before, c);
	/* The result is still there to read. */
	vt_value out = { .u64 = 0 };
	CHECK_EQ(vt_core_get_result(&c, 1, &out), 0);
	CHECK_EQ(out.i64, 2);
}

/* ---- consume -------------------------------------------------------------- */

static void test_consume(void)
{
	vt_core c, before;
	vt_value out = SENTINEL;

	vt_core_init(&c);
	before = c;
	CHECK_EQ(vt_core_consume(&c, 0, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	SAME_CORE(before, c);

	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(31)), 0);
	CHECK_EQ(vt_core_consume(&c, 0, &out), 0);
	CHECK_EQ(out.i64, 31);
	CHECK_EQ(vt_core_version(&c), 1);
	CHECK_EQ(vt_core_status(&c, 1), VT_PENDING);
	before = c;
	out = SENTINEL;
	CHECK_EQ(vt_core_consume(&c, 0, &out), VT_ETOKEN); /* the loser */
	CHECK_EQ(out.u64, SENTINEL.u64);
	SAME_CORE(before, c);

	/* An error is consumed too, and moves the version. */
	CHECK_EQ(vt_core_set_error(&c, -ETIMEDOUT), 0);
	CHECK_EQ(vt_core_consume(&c, 1, &out), -ETIMEDOUT);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(vt_core_version(&c), 2);
	CHECK_EQ(vt_core_consume(&c, 1, &out), VT_ETOKEN);

	/* After a consume the core is a fresh round: register, complete, read. */
	counter k;
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 2, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(33)), 0);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(vt_core_consume(&c, 2, &out), 0);
	CHECK_EQ(out.i64, 33);
	/* A consumed round that had a continuation: the next round starts with none. */
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(34)), 0);
	CHECK_EQ(k.runs, 1);
}

/* ---- precedence: EINVAL > ETOKEN > state codes ---------------------------- */

static void test_precedence(void)
{
	vt_core c, before;
	vt_value out = SENTINEL;

	/* Pending, awaited, version 1. */
	vt_core_init(&c);
	vt_core_reset(&c);
	CHECK_EQ(vt_core_on_completed(&c, 1, never_fn, NULL, NULL), 0);
	before = c;
	/* EINVAL beats ETOKEN. */
	CHECK_EQ(vt_core_on_completed(&c, 0, NULL, NULL, NULL), VT_EINVAL);
	CHECK_EQ(vt_core_get_result(&c, 0, NULL), VT_EINVAL);
	CHECK_EQ(vt_core_consume(&c, 0, NULL), VT_EINVAL);
	/* EINVAL beats the state codes (EAWAITED, EPENDING). */
	CHECK_EQ(vt_core_on_completed(&c, 1, NULL, NULL, NULL), VT_EINVAL);
	CHECK_EQ(vt_core_get_result(&c, 1, NULL), VT_EINVAL);
	CHECK_EQ(vt_core_consume(&c, 1, NULL), VT_EINVAL);
	/* ETOKEN beats the state codes. */
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), VT_ETOKEN);
	CHECK_EQ(vt_core_get_result(&c, 0, &out), VT_ETOKEN);
	CHECK_EQ(vt_core_consume(&c, 2, &out), VT_ETOKEN);
	CHECK_EQ(out.u64, SENTINEL.u64);
	SAME_CORE(before, c);

	/* Completed: EINVAL beats ECOMPLETED for a refused error code. */
	vt_core_init(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	before = c;
	CHECK_EQ(vt_core_set_error(&c, 0), VT_EINVAL);
	CHECK_EQ(vt_core_set_error(&c, 5), VT_EINVAL);
	CHECK_EQ(vt_core_set_error(&c, VT_ETOKEN), VT_EINVAL);
	CHECK_EQ(vt_core_set_error(&c, -EIO), VT_ECOMPLETED);
	SAME_CORE(before, c);
}

/* ---- set_error validation -------------------------------------------------- */

static void test_set_error_validation(void)
{
	vt_core c, before;
	const int refused[] = { 0, 1, 2, INT_MAX, VT_ETOKEN, VT_EPENDING, VT_EAWAITED,
				VT_ECOMPLETED, VT_EEXHAUSTED, VT_EINVAL, VT_ENOMEM, VT_ESHUTDOWN,
				-4096, -4159 };

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		vt_core_init(&c);
		before = c;
		CHECK_EQ(vt_core_set_error(&c, refused[i]), VT_EINVAL);
		SAME_CORE(before, c);
		CHECK_EQ(vt_core_status(&c, 0), VT_PENDING);
	}
	/* The whole reserved block. */
	for (int e = -4159; e <= -4096; e++) {
		vt_core_init(&c);
		before = c;
		if (vt_core_set_error(&c, e) != VT_EINVAL)
			CHECK_EQ(e, 0); /* prints the code that got through */
		SAME_CORE(before, c);
	}
	/* A refused code leaves a registered continuation in place. */
	counter k;
	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_error(&c, 7), VT_EINVAL);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(vt_core_set_error(&c, -EIO), 0);
	CHECK_EQ(k.runs, 1);

	/* Accepted: the errno range, and past the reserved block. */
	const int accepted[] = { -1, -EIO, -4095, -4160, -100000, INT_MIN };
	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		vt_value out = SENTINEL;

		vt_core_init(&c);
		CHECK_EQ(vt_core_set_error(&c, accepted[i]), 0);
		CHECK_EQ(vt_core_status(&c, 0), VT_FAULTED);
		CHECK_EQ(vt_core_get_result(&c, 0, &out), accepted[i]);
	}
	/* -ECANCELED is canceled. */
	vt_core_init(&c);
	CHECK_EQ(vt_core_set_error(&c, -ECANCELED), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_CANCELED);
}

/* ---- §4.4 where continuations run ----------------------------------------- */

static void test_exec_awaiter_executor(void)
{
	vt_core c;
	rec_executor a, b;
	counter k;

	/* Registered while pending with ex: posted there at completion. */
	vt_core_init(&c);
	rec_init(&a, 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, &a.base), 0);
	CHECK_EQ(a.posts, 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(a.posts, 1);
	CHECK_EQ(k.runs, 0); /* posted, not run */
	CHECK_EQ(rec_drain(&a), 1);
	CHECK_EQ(k.runs, 1);

	/* The awaiter's executor beats the core's. */
	vt_core_init(&c);
	rec_init(&a, 0);
	rec_init(&b, 0);
	vt_core_set_executor(&c, &b.base);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, &a.base), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(a.posts, 1);
	CHECK_EQ(b.posts, 0);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&a), 1);
	CHECK_EQ(k.runs, 1);

	/* Already completed: posted to ex, not run inline. */
	vt_core_init(&c);
	rec_init(&a, 0);
	rec_init(&b, 0);
	vt_core_set_executor(&c, &b.base);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, &a.base), 0);
	CHECK_EQ(a.posts, 1);
	CHECK_EQ(b.posts, 0);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&a), 1);
	CHECK_EQ(k.runs, 1);
}

static void test_exec_core_executor(void)
{
	vt_core c;
	rec_executor b;
	counter k;

	/* Pending registration without ex: posted to the core's executor. */
	vt_core_init(&c);
	rec_init(&b, 0);
	vt_core_set_executor(&c, &b.base);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(b.posts, 1);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&b), 1);
	CHECK_EQ(k.runs, 1);

	/* Already completed, no ex: posted to the core's executor. */
	vt_core_reset(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	CHECK_EQ(b.posts, 2);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&b), 1);
	CHECK_EQ(k.runs, 1);
}

static void test_exec_core_executor_survives_reset(void)
{
	vt_core c;
	rec_executor b;
	counter k;
	vt_value out = { .u64 = 0 };

	vt_core_init(&c);
	rec_init(&b, 0);
	vt_core_set_executor(&c, &b.base);
	vt_core_reset(&c);
	vt_core_reset(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 2, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(b.posts, 1);
	CHECK_EQ(rec_drain(&b), 1);
	CHECK_EQ(k.runs, 1);
	/* ... and consume. */
	CHECK_EQ(vt_core_consume(&c, 2, &out), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 3, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(b.posts, 2);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&b), 1);
	CHECK_EQ(k.runs, 1);

	/* Setting NULL goes back to inline. */
	vt_core_set_executor(&c, NULL);
	vt_core_reset(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 4, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(b.posts, 2);
}

typedef struct completer_arg {
	vt_core *core;
	pthread_t self;
	int rc;
} completer_arg;

static void *completer_main(void *p)
{
	completer_arg *a = (completer_arg *)p;

	a->self = pthread_self();
	a->rc = vt_core_set_result(a->core, vt_value_i64(77));
	return NULL;
}

static void test_exec_inline_on_completing_thread(void)
{
	vt_core c;
	counter k;
	completer_arg a;
	pthread_t th;

	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	memset(&a, 0, sizeof a);
	a.core = &c;
	a.rc = 12345;
	CHECK_EQ(pthread_create(&th, NULL, completer_main, &a), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(a.rc, 0);
	CHECK_EQ(k.runs, 1);
	CHECK(pthread_equal(k.thread, th)); /* the completer ran it */
	CHECK(!pthread_equal(k.thread, pthread_self()));

	/* Completed on another thread, awaited here: runs here. */
	vt_core_reset(&c);
	a.rc = 12345;
	CHECK_EQ(pthread_create(&th, NULL, completer_main, &a), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(a.rc, 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 1);
	CHECK(pthread_equal(k.thread, pthread_self()));
}

static void test_exec_post_fails_runs_inline(void)
{
	vt_core c;
	rec_executor a, b;
	counter k;

	/* Awaiter's executor refuses at completion: inline, in set_result. */
	vt_core_init(&c);
	rec_init(&a, 1);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, &a.base), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(a.posts, 1);
	CHECK_EQ(a.queued, 0);
	CHECK_EQ(k.runs, 1);
	CHECK(pthread_equal(k.thread, pthread_self()));

	/* Core's executor refuses, already completed: inline, in on_completed. */
	vt_core_init(&c);
	rec_init(&b, 1);
	vt_core_set_executor(&c, &b.base);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(b.posts, 1);
	CHECK_EQ(k.runs, 1);

	/* Core's executor refuses at completion. */
	vt_core_reset(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(b.posts, 2);
	CHECK_EQ(k.runs, 1);

	/* Awaiter's executor refuses, already completed. */
	vt_core_init(&c);
	rec_init(&a, 1);
	CHECK_EQ(vt_core_set_error(&c, -EIO), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, &a.base), 0);
	CHECK_EQ(a.posts, 1);
	CHECK_EQ(k.runs, 1);
}

/* ---- the wait windows W1 and W2 (core.h) --------------------------------- */

/*
 * The split primitives in core.h hold one party inside its window for as
 * long as the test likes: vt__core_claim (C1) ... vt__core_publish (P) is a
 * completer in W1's window, vt__core_await_claim (A1) ... vt__core_register
 * (A2) an awaiter in W2's. Another thread then meets the window; it must
 * wait there (the window count moves, it does not return) and go on with
 * the right outcome once the held party finishes.
 */
typedef struct window_arg {
	vt_core *core;
	char op;     /* 'a': await with observer_fn, 'r': reset, 's': set_result(42) */
	observer *o;
	int rc;
	int done;    /* set once the call returned */
	pthread_t self;
} window_arg;

static void *window_main(void *p)
{
	window_arg *a = (window_arg *)p;

	a->self = pthread_self();
	if (a->op == 'a')
		a->rc = vt_core_on_completed(a->core, a->o->token, observer_fn, a->o, NULL);
	else if (a->op == 'r')
		vt_core_reset(a->core);
	else
		a->rc = vt_core_set_result(a->core, vt_value_i64(42));
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start op on another thread and see it wait in a window without returning. */
static void window_start(window_arg *a, pthread_t *th, vt_core *c, char op, observer *o)
{
	uint64_t waits = vt_core_window_waits();
	struct timespec ms = { 0, 1000000 };

	memset(a, 0, sizeof *a);
	a->core = c;
	a->op = op;
	a->o = o;
	a->rc = 12345;
	CHECK_EQ(pthread_create(th, NULL, window_main, a), 0);
	/* It counts its wait on entry; a call that does not wait returns. */
	while (vt_core_window_waits() == waits && !__atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
		nanosleep(&ms, NULL);
	for (int i = 0; i < 10; i++)
		nanosleep(&ms, NULL); /* and it stays there */
	CHECK_EQ(__atomic_load_n(&a->done, __ATOMIC_ACQUIRE), 0);
}

static void observer_init(observer *o, vt_core *c, uint16_t token)
{
	memset(o, 0, sizeof *o);
	o->core = c;
	o->token = token;
}

/* W1: an awaiter and a reset that meet a completer between C1 and P. */
static void test_window_w1(void)
{
	vt_core c;
	observer o;
	window_arg a;
	pthread_t th;
	uint64_t seen;

	/* The awaiter waits for P, then runs the continuation, which sees the result. */
	vt_core_init(&c);
	observer_init(&o, &c, 0);
	CHECK_EQ(vt__core_claim(&c, 0, &seen), 0);
	CHECK_EQ(vt_core_status(&c, 0), VT_PENDING); /* status does not wait */
	window_start(&a, &th, &c, 'a', &o);
	CHECK_EQ(o.runs, 0);
	vt__core_publish(&c, seen, VT_SUCCEEDED, 42);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(a.rc, 0);
	CHECK_EQ(o.runs, 1);
	CHECK_EQ(o.status_seen, VT_SUCCEEDED);
	CHECK_EQ(o.result_seen, 0);
	CHECK_EQ(o.value_seen.i64, 42);
	/* The awaiter marked it awaited (A3): a second await is refused. */
	CHECK_EQ(vt_core_on_completed(&c, 0, never_fn, NULL, NULL), VT_EAWAITED);

	/* A reset (misuse: the completer still uses the version) waits for P
	 * before it moves the version, so P cannot move it back: the old
	 * token stays stale and the new round is pending. */
	vt_core_init(&c);
	CHECK_EQ(vt__core_claim(&c, 0, &seen), 0);
	window_start(&a, &th, &c, 'r', NULL);
	CHECK_EQ(vt_core_version(&c), 0);
	vt__core_publish(&c, seen, VT_SUCCEEDED, 7);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(vt_core_version(&c), 1);
	CHECK_EQ(vt_core_status(&c, 0), VT_ETOKEN);
	CHECK_EQ(vt_core_status(&c, 1), VT_PENDING);
}

/* W2: a completer and a reset that meet an awaiter between A1 and A2. */
static void test_window_w2(void)
{
	vt_core c;
	observer o;
	counter k;
	window_arg a;
	pthread_t th;
	uint64_t seen;
	vt_value out = { .u64 = 0 };

	/* The completer waits for A2 and runs the continuation it publishes,
	 * not the one a previous round left: round 0's continuation ran at
	 * completion (publish clears it), round 1's was dropped by a reset
	 * (reset clears it). */
	vt_core_init(&c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(vt_core_consume(&c, 0, &out), 0);
	CHECK_EQ(vt_core_on_completed(&c, 1, counter_fn, &k, NULL), 0);
	vt_core_reset(&c);
	for (uint16_t tok = 2; tok < 4; tok++) {
		observer_init(&o, &c, tok);
		CHECK_EQ(vt__core_await_claim(&c, tok, 0, &seen), 0); /* A1 */
		window_start(&a, &th, &c, 's', NULL);
		CHECK_EQ(vt_core_status(&c, tok), VT_PENDING); /* not published before A2 */
		vt__core_register(&c, observer_fn, &o, NULL); /* A2 */
		CHECK_EQ(pthread_join(th, NULL), 0);
		CHECK_EQ(a.rc, 0);
		CHECK_EQ(o.runs, 1);
		CHECK_EQ(o.status_seen, VT_SUCCEEDED);
		CHECK_EQ(o.value_seen.i64, 42);
		CHECK_EQ(k.runs, 1); /* no earlier continuation ran again */
		CHECK_EQ(vt_core_consume(&c, tok, &out), 0);
	}

	/* A reset (misuse: the awaiter still uses the version) waits for A2 and
	 * drops that registration: the next round's completer runs nothing. */
	vt_core_init(&c);
	CHECK_EQ(vt__core_await_claim(&c, 0, 0, &seen), 0); /* A1 */
	window_start(&a, &th, &c, 'r', NULL);
	CHECK_EQ(vt_core_version(&c), 1);
	vt__core_register(&c, never_fn, NULL, NULL); /* A2, late */
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), 0);
	CHECK_EQ(vt_core_consume(&c, 1, &out), 0);
	CHECK_EQ(out.i64, 2);
}

/* ---- detaching ------------------------------------------------------------- */

/*
 * vt__core_take_detached (core.h, "detaching") moves the version only while
 * the state word says "this version is detached and published": a release
 * hook that runs late never consumes a later rental (SPEC §4.1 rule 4).
 */
static void test_take_detached_needs_detached_and_published(void)
{
	vt_core c, before;
	counter k;
	vt_value out = { .u64 = 0 };

	/* Completed, not detached (awaited or not): left alone. */
	vt_core_init(&c);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(1)), 0);
	before = c;
	CHECK(!vt__core_take_detached(&c));
	SAME_CORE(before, c);
	counter_init(&k, 0);
	CHECK_EQ(vt_core_on_completed(&c, 0, counter_fn, &k, NULL), 0);
	before = c;
	CHECK(!vt__core_take_detached(&c));
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_consume(&c, 0, &out), 0);
	CHECK_EQ(out.i64, 1);

	/* Detached, still pending: left alone. */
	counter_init(&k, 0);
	CHECK_EQ(vt__core_detach(&c, 1, counter_fn, &k), 0);
	before = c;
	CHECK(!vt__core_take_detached(&c));
	SAME_CORE(before, c);

	/* Detached and published: taken, once; the next round is not detached. */
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(2)), 0);
	CHECK_EQ(k.runs, 1); /* the release hook, inline on the completer */
	CHECK(vt__core_take_detached(&c));
	CHECK_EQ(vt_core_version(&c), 2);
	CHECK_EQ(vt_core_status(&c, 1), VT_ETOKEN);
	CHECK_EQ(vt_core_set_result(&c, vt_value_i64(3)), 0);
	before = c;
	CHECK(!vt__core_take_detached(&c));
	SAME_CORE(before, c);
	CHECK_EQ(vt_core_consume(&c, 2, &out), 0);
	CHECK_EQ(out.i64, 3);
}

/*
 * Every test here is sequential (the one that uses a second thread joins it
 * before it goes on), so none may hit a wait window: the windows must stay
 * off every path where no race happens (SPEC §4.1, priority 1). A test that
 * counts one is reported by name; the program fails at the end.
 */
static int window_failures;

#define RUN_CORE_TEST(fn)                                                                 \
	do {                                                                              \
		uint64_t waits_ = vt_core_window_waits();                                 \
		RUN_TEST(fn);                                                             \
		if (vt_core_window_waits() != waits_) {                                   \
			fprintf(stderr, "%s: counted %llu window wait(s) without a race\n", \
				#fn, (unsigned long long)(vt_core_window_waits() - waits_)); \
			window_failures++;                                                \
		}                                                                         \
	} while (0)

int main(void)
{
	RUN_CORE_TEST(test_init_is_pending_version_0);
	RUN_CORE_TEST(test_reset_bumps_version_and_drops_registration);
	RUN_CORE_TEST(test_version_wraps_mod_2_16);
	RUN_CORE_TEST(test_null_core);
	RUN_CORE_TEST(test_row_stale_token);
	RUN_CORE_TEST(test_row_set_result_pending);
	RUN_CORE_TEST(test_row_set_error_pending);
	RUN_CORE_TEST(test_row_set_runs_registered_continuation);
	RUN_CORE_TEST(test_row_set_when_completed);
	RUN_CORE_TEST(test_row_status);
	RUN_CORE_TEST(test_row_get_result_pending);
	RUN_CORE_TEST(test_row_get_result_succeeded);
	RUN_CORE_TEST(test_row_get_result_faulted_canceled);
	RUN_CORE_TEST(test_row_on_completed_pending_registers);
	RUN_CORE_TEST(test_row_on_completed_already_registered);
	RUN_CORE_TEST(test_row_on_completed_when_completed_runs_inline);
	RUN_CORE_TEST(test_row_on_completed_null_fn);
	RUN_CORE_TEST(test_await_after_continuation_ran);
	RUN_CORE_TEST(test_consume);
	RUN_CORE_TEST(test_precedence);
	RUN_CORE_TEST(test_set_error_validation);
	RUN_CORE_TEST(test_exec_awaiter_executor);
	RUN_CORE_TEST(test_exec_core_executor);
	RUN_CORE_TEST(test_exec_core_executor_survives_reset);
	RUN_CORE_TEST(test_exec_inline_on_completing_thread);
	RUN_CORE_TEST(test_exec_post_fails_runs_inline);
	RUN_CORE_TEST(test_take_detached_needs_detached_and_published);
	/* Checked last, so that one such failure does not hide the other tests. */
	CHECK_EQ(window_failures, 0);
	/* These two meet the windows on purpose (and check that they wait there). */
	RUN_TEST(test_window_w1);
	RUN_TEST(test_window_w2);
	return VT_TEST_PASS;
}
