/*
 * tests/test_util.h: helpers shared by the unit tests.
 *
 * A counting continuation (how often it ran, on which thread, what it saw)
 * and a recording executor (queues what it is given, runs it on drain, or
 * refuses it when told to fail).
 */
#ifndef VT_TESTS_UTIL_H
#define VT_TESTS_UTIL_H

#include <pthread.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

/* ---- counting continuation ---------------------------------------------- */

typedef struct counter {
	int runs;          /* how many times the continuation ran */
	pthread_t thread;  /* the thread of the last run */
	int tag;           /* free for the test */
} counter;

static inline void counter_init(counter *c, int tag)
{
	memset(c, 0, sizeof *c);
	c->tag = tag;
}

static inline void counter_fn(void *state)
{
	counter *c = (counter *)state;

	__atomic_fetch_add(&c->runs, 1, __ATOMIC_SEQ_CST);
	c->thread = pthread_self();
}

/* A continuation that must never run. */
static inline void never_fn(void *state)
{
	(void)state;
	fprintf(stderr, "a continuation that must never run ran\n");
	exit(VT_TEST_FAIL);
}

/* ---- recording executor ------------------------------------------------- */

#define REC_MAX 16

typedef struct rec_executor {
	vt_executor base; /* first: post() casts back */
	int fail;         /* post() refuses (returns -1) when set */
	int posts;        /* post() calls, accepted or not */
	int queued;       /* accepted and not yet run */
	vt_continuation fns[REC_MAX];
	void *states[REC_MAX];
} rec_executor;

static inline int rec_post(vt_executor *self, vt_continuation fn, void *state)
{
	rec_executor *ex = (rec_executor *)self;

	ex->posts++;
	if (ex->fail)
		return -1;
	CHECK(ex->queued < REC_MAX);
	ex->fns[ex->queued] = fn;
	ex->states[ex->queued] = state;
	ex->queued++;
	return 0;
}

static inline void rec_init(rec_executor *ex, int fail)
{
	memset(ex, 0, sizeof *ex);
	ex->base.post = rec_post;
	ex->fail = fail;
}

/* Run what was posted, in order; returns how many ran. */
static inline int rec_drain(rec_executor *ex)
{
	int n = ex->queued;

	for (int i = 0; i < n; i++)
		ex->fns[i](ex->states[i]);
	ex->queued = 0;
	return n;
}

#endif /* VT_TESTS_UTIL_H */
