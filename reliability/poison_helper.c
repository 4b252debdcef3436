/*
 * The child of poison_test: misuses pool memory on purpose, in one of a few
 * ways, so that the parent can check that the sanitizer reports it. Exits 0
 * if the misuse went unreported (the parent treats that as a failure where a
 * report was expected), or 0 after a legal stale access.
 */
#include <stdio.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

/* noinline: the report names these frames, and the parent looks for them. */
__attribute__((noinline)) static void touch_after_return(volatile char *obj, size_t off)
{
	obj[off] = 1;
}

__attribute__((noinline)) static void executor_after_consume(vt_promise *p, vt_executor *ex)
{
	vt_core_set_executor(&p->core, ex); /* the promise is back in its pool */
}

static int post_none(vt_executor *self, vt_continuation fn, void *state)
{
	(void)self;
	(void)fn;
	(void)state;
	return -1;
}

static void nop(void *state)
{
	(void)state;
}

int main(int argc, char **argv)
{
	vt_pool_config cfg;
	const char *mode = argc > 1 ? argv[1] : "";

	vt_pool_config_default(&cfg);
	cfg.object_size = 40;
	cfg.object_align = 16; /* stride 48: 8 bytes of padding after each object */
	cfg.capacity = 8;

	if (strcmp(mode, "pool-uaf") == 0) {
		/* A generic pool keeps nothing readable: byte 0 is poisoned. */
		vt_pool *pool;
		CHECK_EQ(vt_pool_create(&pool, &cfg), 0);
		char *obj = vt_pool_rent(pool);
		CHECK(obj != NULL);
		obj[0] = 1; /* fine: rented */
		vt_pool_return(pool, obj);
		touch_after_return(obj, 0);
		printf("poison_helper: no report\n");
		return 0;
	}
	if (strcmp(mode, "pool-overrun") == 0) {
		/* The padding after an object is poisoned even while it is rented. */
		vt_pool *pool;
		CHECK_EQ(vt_pool_create(&pool, &cfg), 0);
		char *obj = vt_pool_rent(pool);
		CHECK(obj != NULL);
		memset(obj, 0, 40);
		touch_after_return(obj, 40);
		printf("poison_helper: no report\n");
		return 0;
	}
	if (strcmp(mode, "promise-uaf") == 0) {
		/* A write into a consumed promise past its readable head. */
		vt_promise_pool *pp;
		vt_executor ex = { post_none };
		vt_value v;
		CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
		vt_promise *p = vt_promise_rent(pp);
		CHECK(p != NULL);
		vt_task t = vt_promise_task(p);
		CHECK_EQ(vt_promise_set_result(p, vt_promise_version(p), vt_value_i64(7)), 0);
		CHECK_EQ(vt_task_get_result(t, &v), 0);
		executor_after_consume(p, &ex);
		printf("poison_helper: no report\n");
		return 0;
	}
	if (strcmp(mode, "promise-stale") == 0) {
		/* Legal: every stale call on a returned promise reads only its
		 * readable head, and answers VT_ETOKEN without a report. */
		vt_promise_pool *pp;
		vt_value v;
		CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
		vt_promise *p = vt_promise_rent(pp);
		CHECK(p != NULL);
		uint16_t tok = vt_promise_version(p);
		vt_task t = vt_promise_task(p);
		CHECK_EQ(vt_task_on_completed(t, nop, NULL, NULL), 0);
		CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(7)), 0);
		CHECK_EQ(vt_task_get_result(t, &v), 0);
		/* p is in the pool now, poisoned past its head. */
		CHECK_EQ(vt_task_status(t), VT_ETOKEN);
		CHECK(vt_task_is_completed(t));
		CHECK_EQ(vt_task_get_result(t, &v), VT_ETOKEN);
		CHECK_EQ(vt_task_on_completed(t, nop, NULL, NULL), VT_ETOKEN);
		CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(8)), VT_ETOKEN);
		CHECK_EQ(vt_promise_set_error(p, tok, -5), VT_ETOKEN);
		CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
		printf("poison_helper: stale calls answered VT_ETOKEN\n");
		return 0;
	}
	fprintf(stderr, "usage: poison_helper pool-uaf|pool-overrun|promise-uaf|promise-stale\n");
	return 2;
}
