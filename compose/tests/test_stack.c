/*
 * Stack safety (SPEC §4.4): 1,000,000 chained operations that complete
 * synchronously, written in the documented style (check
 * vt_task_is_completed first), run on a thread with a 64 KiB stack.
 * Half of them are plain value tasks, half pooled promises completed
 * before their task is returned; a few complete later on another thread,
 * and the chain resumes there through on_completed, then carries on
 * synchronously. Recursion through continuations would need far more
 * than 64 KiB.
 */
#include <pthread.h>
#include <sched.h>

#include "check.h"
#include "valuetask.h"

#define CHAIN_LEN 1000000L

struct chain {
	vt_promise_pool *pp;
	long i;
	int64_t sum;
	vt_promise *late; /* a promise left for the helper thread to complete */
	uint16_t late_tok;
	int done;
};

static vt_task start_op(struct chain *c)
{
	if (c->i % 2 == 0)
		return vt_task_from_value(vt_value_i64(c->i));
	vt_promise *p = vt_promise_rent(c->pp);
	CHECK(p != NULL);
	uint16_t tok = vt_promise_version(p);
	if (c->i % 100000 == 1) { /* complete later, elsewhere */
		__atomic_store_n(&c->late_tok, tok, __ATOMIC_RELAXED);
		__atomic_store_n(&c->late, p, __ATOMIC_RELEASE);
		return vt_promise_task(p);
	}
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(c->i)), 0);
	return vt_promise_task(p);
}

static void step(void *arg);

/* Continuation: the task just completed; consume it, then go on. */
static vt_task g_pending;
static void resume(void *arg)
{
	struct chain *c = arg;
	vt_value v;

	CHECK_EQ(vt_task_get_result(g_pending, &v), 0);
	c->sum += v.i64;
	c->i++;
	step(c);
}

static void step(void *arg)
{
	struct chain *c = arg;
	vt_value v;

	while (c->i < CHAIN_LEN) {
		vt_task t = start_op(c);
		if (!vt_task_is_completed(t)) { /* the documented style */
			g_pending = t;
			CHECK_EQ(vt_task_on_completed(t, resume, c, NULL), 0);
			return; /* unwinds: the completer's thread resumes */
		}
		CHECK_EQ(vt_task_get_result(t, &v), 0);
		c->sum += v.i64;
		c->i++;
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

/* Completes the late promises; the chain then continues on this thread,
 * whose stack is small too. */
static void *helper(void *arg)
{
	struct chain *c = arg;

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		vt_promise *p = __atomic_exchange_n(&c->late, NULL, __ATOMIC_ACQ_REL);
		if (p == NULL) {
			sched_yield();
			continue;
		}
		CHECK_EQ(vt_promise_set_result(p, __atomic_load_n(&c->late_tok, __ATOMIC_RELAXED),
					       vt_value_i64(c->i)), 0);
	}
	return NULL;
}

static void *run_chain(void *arg)
{
	step(arg);
	return NULL;
}

int main(void)
{
	vt_pool_config cfg;
	struct chain c = { 0 };
	pthread_attr_t attr;
	pthread_t a, b;

	vt_pool_config_default(&cfg);
	cfg.capacity = 4;
	CHECK_EQ(vt_promise_pool_create(&c.pp, &cfg), 0);
	CHECK_EQ(pthread_attr_init(&attr), 0);
	CHECK_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
	CHECK_EQ(pthread_create(&a, &attr, run_chain, &c), 0);
	CHECK_EQ(pthread_create(&b, &attr, helper, &c), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ(c.i, CHAIN_LEN);
	CHECK_EQ(c.sum, (int64_t)CHAIN_LEN * (CHAIN_LEN - 1) / 2);
	CHECK_EQ(vt_promise_pool_destroy(&c.pp), 0);
	fprintf(stderr, "  %ld chained operations on a 64 KiB stack\n", CHAIN_LEN);
	return 0;
}
