/*
 * tests/test_task.c: vt_task, one test per bullet of SPEC §4.3, plus a custom
 * vt_source (§4.2) implemented here and forwarding to a vt_core.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"
#include "test_util.h"

static const vt_value SENTINEL = { .u64 = UINT64_C(0xdeadbeefcafef00d) };

#define SAME_TASK(a, b) CHECK(memcmp(&(a), &(b), sizeof(vt_task)) == 0)

/* ---- a custom source: a core plus counters ------------------------------- */

typedef struct my_source {
	vt_source src; /* first */
	vt_core core;
	int status_calls, get_calls, await_calls;
	uint16_t last_token;
	int releases; /* how often get_result won the consume ("returned to pool") */
} my_source;

static int my_status(vt_source *s, uint16_t token)
{
	my_source *m = (my_source *)s;

	m->status_calls++;
	m->last_token = token;
	return vt_core_status(&m->core, token);
}

static int my_get_result(vt_source *s, uint16_t token, vt_value *out)
{
	my_source *m = (my_source *)s;
	int rc;

	m->get_calls++;
	m->last_token = token;
	rc = vt_core_consume(&m->core, token, out);
	if (rc != VT_ETOKEN && rc != VT_EPENDING && rc != VT_EINVAL)
		m->releases++; /* won: this is where a pooled source goes back */
	return rc;
}

static int my_on_completed(vt_source *s, uint16_t token, vt_continuation fn, void *state,
			   vt_executor *ex)
{
	my_source *m = (my_source *)s;

	m->await_calls++;
	m->last_token = token;
	return vt_core_on_completed(&m->core, token, fn, state, ex);
}

static const vt_source_ops my_ops = {
	.status = my_status,
	.get_result = my_get_result,
	.on_completed = my_on_completed,
	.forget = NULL,
	.cancel = NULL,
};

static void my_init(my_source *m)
{
	memset(m, 0, sizeof *m);
	m->src.ops = &my_ops;
	vt_core_init(&m->core);
}

/* ---- bullet: sizeof ------------------------------------------------------ */

static void test_sizeof(void)
{
	CHECK(sizeof(vt_task) <= 16); /* travels in two registers */
}

/* ---- bullets: zeroed task, and tasks without a source ---------------------- */

/* t carries value v (no source): read and await any number of times. */
static void check_plain_value(vt_task t, uint64_t v)
{
	vt_task copy = t;
	counter k;
	rec_executor ex;

	counter_init(&k, 0);
	for (int i = 0; i < 3; i++) {
		vt_value out = SENTINEL;

		CHECK(vt_task_is_completed(t));
		CHECK_EQ(vt_task_status(t), VT_SUCCEEDED);
		CHECK_EQ(vt_task_get_result(t, &out), 0);
		CHECK(out.u64 == v);
		CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, NULL), 0);
		CHECK_EQ(k.runs, i + 1); /* inline, in the call */
		SAME_TASK(copy, t);
	}
	CHECK(vt_task_source(t) == NULL);
	CHECK_EQ(vt_task_token(t), 0);
	CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
	CHECK_EQ(vt_task_on_completed(t, NULL, NULL, NULL), VT_EINVAL);
	/* With an executor: posted, not run inline. */
	rec_init(&ex, 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, &ex.base), 0);
	CHECK_EQ(ex.posts, 1);
	CHECK_EQ(k.runs, 0);
	CHECK_EQ(rec_drain(&ex), 1);
	CHECK_EQ(k.runs, 1);
	/* With a refusing executor: inline. */
	rec_init(&ex, 1);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, &ex.base), 0);
	CHECK_EQ(ex.posts, 1);
	CHECK_EQ(k.runs, 2);
}

static void test_zeroed_task(void)
{
	vt_task a = { 0 };
	vt_task b;

	memset(&b, 0, sizeof b);
	check_plain_value(a, 0);
	check_plain_value(b, 0);
}

static void test_from_value(void)
{
	check_plain_value(vt_task_from_value(vt_value_i64(42)), 42);
	check_plain_value(vt_task_from_value(vt_value_u64(UINT64_MAX)), UINT64_MAX);
	check_plain_value(vt_task_from_value(vt_value_i64(-1)), UINT64_MAX);

	vt_value out = { .u64 = 0 };
	int x;
	vt_task t = vt_task_from_value(vt_value_ptr(&x));
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK(out.ptr == (void *)&x);
	t = vt_task_from_value(vt_value_f64(2.5));
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK(out.f64 == 2.5);
}

/* t carries error e: read and await any number of times. */
static void check_plain_error(vt_task t, int e, int status)
{
	vt_task copy = t;
	counter k;

	counter_init(&k, 0);
	for (int i = 0; i < 3; i++) {
		vt_value out = SENTINEL;

		CHECK(vt_task_is_completed(t));
		CHECK_EQ(vt_task_status(t), status);
		CHECK_EQ(vt_task_get_result(t, &out), e);
		CHECK_EQ(out.u64, SENTINEL.u64); /* *out untouched on failure */
		CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, NULL), 0);
		CHECK_EQ(k.runs, i + 1);
		SAME_TASK(copy, t);
	}
	CHECK(vt_task_source(t) == NULL); /* the error marker is not a source */
	CHECK_EQ(vt_task_token(t), 0);
	CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
	CHECK_EQ(vt_task_on_completed(t, NULL, NULL, NULL), VT_EINVAL);
}

static void test_from_error(void)
{
	check_plain_error(vt_task_from_error(-EIO), -EIO, VT_FAULTED);
	check_plain_error(vt_task_from_error(-ECANCELED), -ECANCELED, VT_CANCELED);
	check_plain_error(vt_task_from_error(-1), -1, VT_FAULTED);
	check_plain_error(vt_task_from_error(-4095), -4095, VT_FAULTED);
	check_plain_error(vt_task_from_error(-4160), -4160, VT_FAULTED);
	check_plain_error(vt_task_from_error(INT_MIN), INT_MIN, VT_FAULTED);
}

static void test_from_error_invalid_codes(void)
{
	const int bad[] = { 0, 1, INT_MAX, VT_ETOKEN, VT_EPENDING, VT_EAWAITED, VT_ECOMPLETED,
			    VT_EEXHAUSTED, VT_EINVAL, VT_ENOMEM, VT_ESHUTDOWN, -4096, -4159 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_plain_error(vt_task_from_error(bad[i]), VT_EINVAL, VT_FAULTED);
	for (int e = -4159; e <= -4096; e++) {
		vt_value out = { .u64 = 0 };

		CHECK_EQ(vt_task_get_result(vt_task_from_error(e), &out), VT_EINVAL);
	}
}

static void test_from_source_null(void)
{
	check_plain_error(vt_task_from_source(NULL, 0), VT_EINVAL, VT_FAULTED);
	check_plain_error(vt_task_from_source(NULL, 7), VT_EINVAL, VT_FAULTED);
}

/* ---- source-backed tasks ------------------------------------------------- */

typedef struct reader {
	vt_task task;
	int runs;
	int rc;
	vt_value out;
} reader;

/* A continuation that consumes its task, the documented pattern. */
static void reader_fn(void *state)
{
	reader *r = (reader *)state;

	r->runs++;
	r->rc = vt_task_get_result(r->task, &r->out);
}

static void test_custom_source_forwards(void)
{
	my_source m;
	reader r;
	vt_task t;
	vt_value out = SENTINEL;

	my_init(&m);
	vt_core_reset(&m.core);
	vt_core_reset(&m.core); /* version 2: the token travels, not a constant */
	t = vt_task_from_source(&m.src, 2);
	CHECK(vt_task_source(t) == &m.src);
	CHECK_EQ(vt_task_token(t), 2);

	CHECK(!vt_task_is_completed(t));
	CHECK_EQ(vt_task_status(t), VT_PENDING);
	CHECK_EQ(m.last_token, 2);
	CHECK_EQ(vt_task_get_result(t, &out), VT_EPENDING);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(m.releases, 0);
	CHECK_EQ(vt_core_version(&m.core), 2); /* EPENDING consumed nothing */

	memset(&r, 0, sizeof r);
	r.task = t;
	CHECK_EQ(vt_task_on_completed(t, reader_fn, &r, NULL), 0);
	CHECK_EQ(m.await_calls, 1);
	CHECK_EQ(vt_task_on_completed(t, never_fn, NULL, NULL), VT_EAWAITED);
	CHECK_EQ(r.runs, 0);
	CHECK_EQ(vt_core_set_result(&m.core, vt_value_i64(64)), 0);
	CHECK_EQ(r.runs, 1);
	CHECK_EQ(r.rc, 0);
	CHECK_EQ(r.out.i64, 64);
	CHECK_EQ(m.releases, 1);
	CHECK_EQ(vt_core_version(&m.core), 3);

	/* Error through a source. */
	t = vt_task_from_source(&m.src, 3);
	CHECK_EQ(vt_core_set_error(&m.core, -ECONNRESET), 0);
	CHECK(vt_task_is_completed(t));
	CHECK_EQ(vt_task_status(t), VT_FAULTED);
	CHECK_EQ(vt_task_get_result(t, &out), -ECONNRESET);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(m.releases, 2);

	/* NULL arguments are refused before the source is asked. */
	int calls = m.get_calls + m.await_calls;
	t = vt_task_from_source(&m.src, 4);
	CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
	CHECK_EQ(vt_task_on_completed(t, NULL, NULL, NULL), VT_EINVAL);
	CHECK_EQ(m.get_calls + m.await_calls, calls);
}

static void test_double_consume(void)
{
	my_source m;
	vt_task t;
	vt_value out = SENTINEL;

	my_init(&m);
	t = vt_task_from_source(&m.src, 0);
	CHECK_EQ(vt_core_set_result(&m.core, vt_value_i64(5)), 0);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 5);
	CHECK_EQ(m.releases, 1);
	out = SENTINEL;
	CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
	CHECK_EQ(out.u64, SENTINEL.u64);
	CHECK_EQ(vt_task_get_result(t, &out), VT_ETOKEN);
	CHECK_EQ(m.releases, 1); /* never back to its pool twice */
	CHECK_EQ(vt_core_version(&m.core), 1);
	CHECK_EQ(vt_core_status(&m.core, 1), VT_PENDING); /* the next round untouched */
}

static void test_stale_is_completed(void)
{
	my_source m;
	vt_task stale, fresh;
	vt_value out = { .u64 = 0 };

	my_init(&m);
	stale = vt_task_from_source(&m.src, 0);
	CHECK_EQ(vt_core_set_result(&m.core, vt_value_i64(1)), 0);
	CHECK_EQ(vt_task_get_result(stale, &out), 0);
	/* The source is pending again under version 1. */
	fresh = vt_task_from_source(&m.src, 1);
	CHECK(!vt_task_is_completed(fresh));
	CHECK(vt_task_is_completed(stale)); /* stale answers true ... */
	CHECK_EQ(vt_task_status(stale), VT_ETOKEN);
	CHECK_EQ(vt_task_get_result(stale, &out), VT_ETOKEN); /* ... and learns ETOKEN */
	CHECK_EQ(vt_task_on_completed(stale, never_fn, NULL, NULL), VT_ETOKEN);
	CHECK(!vt_task_is_completed(fresh));
	CHECK_EQ(m.releases, 1);

	/* A future token is stale too. */
	vt_task future = vt_task_from_source(&m.src, 9);
	CHECK(vt_task_is_completed(future));
	CHECK_EQ(vt_task_get_result(future, &out), VT_ETOKEN);
	CHECK_EQ(vt_core_status(&m.core, 1), VT_PENDING);
}

/* A source-backed task is awaited at most once; then it is like the core. */
static void test_source_await_once(void)
{
	my_source m;
	vt_task t;
	counter k;

	my_init(&m);
	t = vt_task_from_source(&m.src, 0);
	CHECK_EQ(vt_core_set_result(&m.core, vt_value_i64(3)), 0);
	counter_init(&k, 0);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, NULL), 0);
	CHECK_EQ(k.runs, 1);
	CHECK_EQ(vt_task_on_completed(t, counter_fn, &k, NULL), VT_EAWAITED);
	CHECK_EQ(k.runs, 1);
	vt_value out = { .u64 = 0 };
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 3);
}

/* Token 0xffff and its successor 0. */
static void test_source_token_wrap(void)
{
	my_source m;
	vt_value out = { .u64 = 0 };

	my_init(&m);
	for (int i = 0; i < 0xffff; i++)
		vt_core_reset(&m.core);
	vt_task t = vt_task_from_source(&m.src, 0xffff);
	CHECK_EQ(vt_task_token(t), 0xffff);
	CHECK_EQ(vt_core_set_result(&m.core, vt_value_i64(11)), 0);
	CHECK_EQ(vt_task_get_result(t, &out), 0);
	CHECK_EQ(out.i64, 11);
	t = vt_task_from_source(&m.src, 0);
	CHECK_EQ(vt_task_status(t), VT_PENDING);
}

int main(void)
{
	RUN_TEST(test_sizeof);
	RUN_TEST(test_zeroed_task);
	RUN_TEST(test_from_value);
	RUN_TEST(test_from_error);
	RUN_TEST(test_from_error_invalid_codes);
	RUN_TEST(test_from_source_null);
	RUN_TEST(test_custom_source_forwards);
	RUN_TEST(test_double_consume);
	RUN_TEST(test_stale_is_completed);
	RUN_TEST(test_source_await_once);
	RUN_TEST(test_source_token_wrap);
	return VT_TEST_PASS;
}
