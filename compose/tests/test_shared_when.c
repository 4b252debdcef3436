/* vt_shared and vt_when: unit tests, and cross-thread stress with
 * --threads/--iterations. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "valuetask.h"
#include "pool_util.h"

static void count(void *arg)
{
	__atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

/* ---- shared --------------------------------------------------------------- */

static void test_shared(void)
{
	vt_promise_pool *pp = make_pool(4);
	vt_shared_pool *sp;
	vt_shared *s = NULL;
	vt_shared_awaiter nodes[5];
	vt_value v;
	int ran = 0;

	CHECK_EQ(vt_shared_pool_create(&sp, NULL), 0);
	CHECK_EQ(vt_shared_create(NULL, vt_task_from_value(vt_value_i64(1)), &s), VT_EINVAL);
	CHECK_EQ(vt_shared_create(sp, vt_task_from_value(vt_value_i64(1)), NULL), VT_EINVAL);

	/* From a completed value task. */
	CHECK_EQ(vt_shared_create(sp, vt_task_from_value(vt_value_i64(11)), &s), 0);
	CHECK_EQ(vt_shared_status(s), VT_SUCCEEDED);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(vt_shared_get_result(s, &v), 0);
		CHECK_EQ(v.i64, 11);
	}
	CHECK_EQ(vt_shared_on_completed(s, &nodes[0], count, &ran, NULL), 0);
	CHECK_EQ(ran, 1);
	vt_shared_release(s);

	/* From a pending promise: many awaiters, then many reads. */
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);
	ran = 0;
	CHECK_EQ(vt_shared_create(sp, t, &s), 0);
	CHECK_EQ(vt_shared_create(sp, t, &s), VT_EAWAITED); /* t is the shared's now */
	CHECK_EQ(vt_shared_status(s), VT_PENDING);
	CHECK_EQ(vt_shared_get_result(s, &v), VT_EPENDING);
	CHECK_EQ(vt_shared_on_completed(s, NULL, count, &ran, NULL), VT_EINVAL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vt_shared_on_completed(s, &nodes[i], count, &ran, NULL), 0);
	vt_shared_retain(s);
	CHECK_EQ(vt_promise_set_error(p, tok, -EHOSTUNREACH), 0);
	CHECK_EQ(ran, 4);
	CHECK_EQ(rented(pp), 0); /* consumed by the shared */
	CHECK_EQ(vt_shared_status(s), VT_FAULTED);
	CHECK_EQ(vt_shared_get_result(s, &v), -EHOSTUNREACH);
	CHECK_EQ(vt_shared_wait(s, &v), -EHOSTUNREACH);
	vt_shared_release(s);
	vt_shared_release(s);

	/* Stale task. */
	CHECK_EQ(vt_shared_create(sp, t, &s), VT_ETOKEN);
	CHECK_EQ(vt_shared_pool_destroy(&sp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* A task whose continuation is registered is not the shared's to take,
 * whether or not it has completed: VT_EAWAITED, and t is untouched (its
 * awaiter still consumes it). */
static void test_shared_awaited(void)
{
	vt_promise_pool *pp = make_pool(2);
	vt_shared_pool *sp;
	vt_shared *s = NULL;
	vt_value v;
	int ran = 0;
	vt_promise *p = vt_promise_rent(pp);
	uint16_t tok = vt_promise_version(p);
	vt_task t = vt_promise_task(p);

	CHECK_EQ(vt_shared_pool_create(&sp, NULL), 0);
	CHECK_EQ(vt_task_on_completed(t, count, &ran, NULL), 0);
	CHECK_EQ(vt_shared_create(sp, t, &s), VT_EAWAITED); /* pending */
	CHECK_EQ(vt_promise_set_result(p, tok, vt_value_i64(5)), 0);
	CHECK_EQ(ran, 1);
	CHECK_EQ(vt_shared_create(sp, t, &s), VT_EAWAITED); /* completed, its continuation ran */
	CHECK(s == NULL);
	CHECK_EQ(rented(pp), 1); /* not consumed */
	CHECK_EQ(vt_task_get_result(t, &v), 0); /* the awaiter's result is still there */
	CHECK_EQ(v.i64, 5);
	CHECK_EQ(vt_shared_pool_destroy(&sp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* Every shared result out: VT_EEXHAUSTED (back-pressure), not VT_ENOMEM,
 * and one back makes the next create succeed. (A slab that cannot be
 * allocated answers VT_ENOMEM: reliability/fault_inject.c.) */
static void test_shared_exhausted(void)
{
	vt_pool_config cfg;
	vt_shared_pool *sp;
	vt_shared *s[3], *extra = NULL;

	vt_pool_config_default(&cfg);
	cfg.capacity = 3;
	CHECK_EQ(vt_shared_pool_create(&sp, &cfg), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vt_shared_create(sp, vt_task_from_value(vt_value_i64(i)), &s[i]), 0);
	CHECK_EQ(vt_shared_create(sp, vt_task_from_value(vt_value_i64(9)), &extra), VT_EEXHAUSTED);
	CHECK(extra == NULL);
	vt_shared_release(s[1]);
	CHECK_EQ(vt_shared_create(sp, vt_task_from_value(vt_value_i64(9)), &s[1]), 0);
	for (int i = 0; i < 3; i++)
		vt_shared_release(s[i]);
	CHECK_EQ(vt_shared_pool_destroy(&sp), 0);
}

/* ---- when ------------------------------------------------------------------ */

static void test_when_all(void)
{
	vt_promise_pool *pp = make_pool(8);
	vt_when w;
	vt_when_node nodes[4];
	vt_promise *p[4];
	uint16_t tok[4];
	vt_task in[4], all;
	vt_value v;

	vt_when_init(&w);
	CHECK(vt_when_settled(&w));
	CHECK_EQ(vt_when_all(&w, nodes, in, 0, &all), VT_EINVAL);
	CHECK_EQ(vt_when_all(NULL, nodes, in, 1, &all), VT_EINVAL);
	for (int i = 0; i < 3; i++) {
		p[i] = vt_promise_rent(pp);
		tok[i] = vt_promise_version(p[i]);
		in[i] = vt_promise_task(p[i]);
	}
	in[3] = vt_task_from_value(vt_value_i64(3)); /* a completed input */
	CHECK_EQ(vt_when_all(&w, nodes, in, 4, &all), 0);
	CHECK_EQ(vt_when_all(&w, nodes, in, 4, &all), VT_EPENDING); /* in use */
	CHECK(!vt_when_settled(&w));
	CHECK_EQ(vt_task_status(all), VT_PENDING);
	CHECK_EQ(vt_promise_set_result(p[1], tok[1], vt_value_i64(1)), 0);
	CHECK_EQ(vt_promise_set_error(p[2], tok[2], -EIO), 0);
	CHECK_EQ(vt_task_status(all), VT_PENDING);
	CHECK_EQ(vt_promise_set_error(p[0], tok[0], -EPERM), 0);
	CHECK(vt_when_settled(&w));
	CHECK_EQ(vt_task_get_result(all, &v), -EIO); /* the first error, in completion order */
	CHECK_EQ(nodes[0].err, -EPERM);
	CHECK_EQ(nodes[1].err, 0);
	CHECK_EQ(nodes[1].value.i64, 1);
	CHECK_EQ(nodes[3].err, 0);
	CHECK_EQ(nodes[3].value.i64, 3);
	CHECK_EQ(rented(pp), 0);

	/* Reuse; all succeed; through vt_task_wait. */
	for (int i = 0; i < 4; i++)
		in[i] = vt_task_from_value(vt_value_i64(i * 10));
	CHECK_EQ(vt_when_all(&w, nodes, in, 4, &all), 0);
	CHECK_EQ(vt_task_wait(all, &v), 0);
	CHECK_EQ(v.i64, 4);
	CHECK_EQ(nodes[2].value.i64, 20);
	CHECK_EQ(vt_task_get_result(all, &v), VT_ETOKEN);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

static int g_fired;
static void on_cancel(void *arg)
{
	(void)arg;
	g_fired++;
}

static void test_when_any(void)
{
	vt_promise_pool *pp = make_pool(8);
	vt_when w;
	vt_when_node nodes[3];
	vt_promise *p[3];
	uint16_t tok[3];
	vt_task in[3], any;
	vt_value v;

	vt_when_init(&w);
	CHECK_EQ(vt_when_any(&w, nodes, in, 3, 99, &any), VT_EINVAL);
	for (int round = 0; round < 2; round++) {
		unsigned int flags = round ? VT_WHEN_CANCEL_LOSERS : 0;
		for (int i = 0; i < 3; i++) {
			p[i] = vt_promise_rent(pp);
			tok[i] = vt_promise_version(p[i]);
			in[i] = vt_promise_task(p[i]);
			CHECK_EQ(vt_promise_on_cancel(p[i], tok[i], on_cancel, NULL), 0);
		}
		g_fired = 0;
		CHECK_EQ(vt_when_any(&w, nodes, in, 3, flags, &any), 0);
		CHECK_EQ(vt_promise_set_result(p[2], tok[2], vt_value_i64(222)), 0);
		CHECK_EQ(vt_task_get_result(any, &v), 0);
		CHECK_EQ(v.i64, 2);
		CHECK_EQ(nodes[2].value.i64, 222);
		if (round == 0) {
			CHECK(!vt_when_settled(&w));
			CHECK_EQ(vt_when_any(&w, nodes, in, 3, 0, &any), VT_EPENDING);
			CHECK_EQ(rented(pp), 2); /* the losers are still running */
			CHECK_EQ(vt_promise_set_result(p[0], tok[0], vt_value_i64(0)), 0);
			CHECK_EQ(vt_promise_set_error(p[1], tok[1], -EIO), 0);
			CHECK_EQ(g_fired, 0);
		} else {
			CHECK_EQ(g_fired, 2); /* the losers were canceled */
			CHECK_EQ(nodes[0].err, -ECANCELED);
			CHECK_EQ(vt_promise_set_result(p[0], tok[0], vt_value_i64(0)), VT_ETOKEN);
		}
		CHECK(vt_when_settled(&w));
		CHECK_EQ(rented(pp), 0); /* no loser leaked */
	}

	/* A canceled combination cancels its inputs. */
	for (int i = 0; i < 2; i++) {
		p[i] = vt_promise_rent(pp);
		in[i] = vt_promise_task(p[i]);
	}
	vt_task all;
	CHECK_EQ(vt_when_all(&w, nodes, in, 2, &all), 0);
	CHECK_EQ(vt_task_cancel(all), 0);
	CHECK_EQ(vt_task_get_result(all, &v), -ECANCELED);
	CHECK_EQ(rented(pp), 0);

	/* Forgetting a combination releases it when it completes. */
	p[0] = vt_promise_rent(pp);
	tok[0] = vt_promise_version(p[0]);
	in[0] = vt_promise_task(p[0]);
	CHECK_EQ(vt_when_any(&w, nodes, in, 1, 0, &any), 0);
	CHECK_EQ(vt_task_forget(any), 0);
	CHECK_EQ(vt_promise_set_result(p[0], tok[0], vt_value_i64(1)), 0);
	CHECK(vt_when_settled(&w));
	CHECK_EQ(vt_when_any(&w, nodes, in, 1, 0, &any), 0); /* reusable: in[0] is stale now */
	CHECK_EQ(vt_task_get_result(any, &v), 0);
	CHECK_EQ(nodes[0].err, VT_ETOKEN);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * vt_task_cancel on a combination whose first canceled input completes it:
 * the combination's continuation runs inline, consumes it and starts the
 * (settled) vt_when again over new inputs, in the same nodes. The cancel
 * that is still walking the old combination's nodes must not cancel the
 * new combination's inputs.
 */
static struct {
	vt_when *w;
	vt_when_node *nodes;
	vt_task *in;
	vt_task next;
	int restarted;
} g_restart;

static void restart_when(void *state, int err, vt_value v)
{
	(void)state;
	(void)v;
	CHECK_EQ(err, -ECANCELED);
	CHECK(vt_when_settled(g_restart.w));
	CHECK_EQ(vt_when_all(g_restart.w, g_restart.nodes, g_restart.in, 2, &g_restart.next), 0);
	g_restart.restarted = 1;
}

static void test_when_cancel_then_reuse(void)
{
	vt_promise_pool *pp = make_pool(8);
	vt_when w;
	vt_when_node nodes[2];
	vt_promise *p[2], *q[2];
	uint16_t tok[2], qtok[2];
	vt_task in[2], all;
	vt_value v;

	vt_when_init(&w);
	for (int i = 0; i < 2; i++) {
		p[i] = vt_promise_rent(pp);
		tok[i] = vt_promise_version(p[i]);
		in[i] = vt_promise_task(p[i]);
	}
	CHECK_EQ(vt_promise_set_result(p[1], tok[1], vt_value_i64(1)), 0); /* input 1 is done at the start */
	CHECK_EQ(vt_when_all(&w, nodes, in, 2, &all), 0);
	g_restart.w = &w;
	g_restart.nodes = nodes;
	g_restart.in = in;
	g_restart.restarted = 0;
	CHECK_EQ(vt_task_then(all, restart_when, NULL, NULL), 0);
	for (int i = 0; i < 2; i++) { /* the restart's inputs: tasks is read during the call only */
		q[i] = vt_promise_rent(pp);
		qtok[i] = vt_promise_version(q[i]);
		in[i] = vt_promise_task(q[i]);
	}
	CHECK_EQ(vt_task_cancel(all), 0);
	CHECK_EQ(g_restart.restarted, 1);
	/* The new combination and its inputs are untouched. */
	CHECK_EQ(vt_task_status(g_restart.next), VT_PENDING);
	CHECK_EQ(vt_promise_set_result(q[0], qtok[0], vt_value_i64(10)), 0);
	CHECK_EQ(vt_promise_set_result(q[1], qtok[1], vt_value_i64(11)), 0);
	CHECK_EQ(vt_task_get_result(g_restart.next, &v), 0);
	CHECK_EQ(v.i64, 2);
	CHECK_EQ(nodes[1].value.i64, 11);
	CHECK(vt_when_settled(&w));
	CHECK_EQ(rented(pp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * A helper thread that completes one promise per round, when the main
 * thread says so: the input whose callback is the last to leave a vt_when.
 */
struct late_job {
	vt_promise *p; /* written by main before it publishes `go` */
	uint16_t tok;
	uint32_t go;   /* rounds published by main */
	uint32_t ack;  /* rounds completed by the helper */
	uint32_t rounds;
};

static void *complete_late(void *arg)
{
	struct late_job *j = arg;

	for (uint32_t r = 1; r <= j->rounds; r++) {
		while (__atomic_load_n(&j->go, __ATOMIC_ACQUIRE) < r)
			sched_yield();
		CHECK_EQ(vt_promise_set_result(j->p, j->tok, vt_value_i64(r)), 0);
		__atomic_store_n(&j->ack, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void late_job_wait(struct late_job *j, uint32_t r)
{
	while (__atomic_load_n(&j->ack, __ATOMIC_ACQUIRE) < r)
		sched_yield();
}

/*
 * The owner of a when_any consumes its task and, once vt_when_settled says
 * so, starts the vt_when again at once, as a when_all over a pending input,
 * while the last loser's callback, on another thread, leaves the old
 * combination. That callback must be done with w: the new when_all stays
 * pending until its own input completes. (The last drop read w's kind after
 * its final decrement: a restart in between made it complete the new
 * when_all with n. ThreadSanitizer sees the read race with the restart's
 * write in every round; a plain build only when the helper is preempted
 * there.)
 */
static void test_when_any_settled_then_restart(void)
{
	vt_promise_pool *pp = make_pool(4);
	struct late_job j = { .rounds = 500 };
	pthread_t th;
	vt_when w;
	vt_when_node nodes[2];

	vt_when_init(&w);
	CHECK_EQ(pthread_create(&th, NULL, complete_late, &j), 0);
	for (uint32_t r = 1; r <= j.rounds; r++) {
		vt_promise *win = vt_promise_rent(pp), *q;
		vt_task in[2], any, all;
		vt_value v;

		j.p = vt_promise_rent(pp);
		j.tok = vt_promise_version(j.p);
		in[0] = vt_promise_task(win);
		in[1] = vt_promise_task(j.p);
		CHECK_EQ(vt_when_any(&w, nodes, in, 2, 0, &any), 0);
		CHECK_EQ(vt_promise_set_result(win, vt_promise_version(win), vt_value_i64(0)), 0);
		CHECK_EQ(vt_task_get_result(any, &v), 0);
		CHECK_EQ(v.i64, 0);
		__atomic_store_n(&j.go, r, __ATOMIC_RELEASE); /* the loser completes on the helper */
		while (!vt_when_settled(&w))
			;
		q = vt_promise_rent(pp);
		in[0] = vt_promise_task(q);
		CHECK_EQ(vt_when_all(&w, nodes, in, 1, &all), 0);
		CHECK_EQ(vt_task_status(all), VT_PENDING);
		CHECK_EQ(vt_promise_set_result(q, vt_promise_version(q), vt_value_i64(7)), 0);
		CHECK_EQ(vt_task_get_result(all, &v), 0);
		CHECK_EQ(v.i64, 1);
		CHECK_EQ(nodes[0].value.i64, 7);
		late_job_wait(&j, r);
		CHECK(vt_when_settled(&w));
		CHECK_EQ(rented(pp), 0);
	}
	pthread_join(th, NULL);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/*
 * vt_when_settled is when a when_all's storage may go: "every input has
 * completed and w no longer touches its storage", and for when_all "that
 * is when its task completes". The owner here frees w as soon as it says
 * true, right after the last input completed on another thread; in odd
 * rounds the combination was forgotten (its release still consumes it),
 * in even ones its task must have completed. (It said true at the last
 * input's decrement, before that callback completed the combination in w:
 * ThreadSanitizer sees the free race with it; a plain build sees
 * VT_PENDING, or a use after free, only when the helper is preempted
 * there.)
 */
static void test_when_all_settled_is_done(void)
{
	vt_promise_pool *pp = make_pool(4);
	struct late_job j = { .rounds = 500 };
	pthread_t th;

	CHECK_EQ(pthread_create(&th, NULL, complete_late, &j), 0);
	for (uint32_t r = 1; r <= j.rounds; r++) {
		vt_when *w = malloc(sizeof(*w));
		vt_when_node *nodes = malloc(sizeof(*nodes));
		vt_task in, all;
		vt_value v;

		CHECK(w != NULL && nodes != NULL);
		vt_when_init(w);
		j.p = vt_promise_rent(pp);
		j.tok = vt_promise_version(j.p);
		in = vt_promise_task(j.p);
		CHECK_EQ(vt_when_all(w, nodes, &in, 1, &all), 0);
		if (r & 1)
			CHECK_EQ(vt_task_forget(all), 0);
		__atomic_store_n(&j.go, r, __ATOMIC_RELEASE); /* the input completes on the helper */
		while (!vt_when_settled(w))
			;
		if (!(r & 1)) {
			CHECK(vt_task_status(all) != VT_PENDING);
			CHECK_EQ(vt_task_get_result(all, &v), 0);
			CHECK_EQ(v.i64, 1);
		}
		CHECK_EQ(nodes[0].value.i64, (int64_t)r);
		free(nodes);
		free(w);
		late_job_wait(&j, r);
		CHECK_EQ(rented(pp), 0);
	}
	pthread_join(th, NULL);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

/* ---- stress ---------------------------------------------------------------- */

static int g_threads = 4;
static long g_iters = 20000;

#define K 4 /* inputs per combination, awaiters per shared */

struct job {
	vt_promise *p;
	uint16_t tok;
	int64_t value;
};

struct completer {
	struct job *slots; /* K jobs per round, completed in a shuffled order */
	long rounds;
	uint32_t *go;      /* round number published by the main thread */
	uint32_t *ack;
	int id, nthreads;
};

/* Each completer thread completes its share of the jobs of every round. */
static void *complete_jobs(void *arg)
{
	struct completer *c = arg;

	for (long r = 1; r <= c->rounds; r++) {
		while (__atomic_load_n(c->go, __ATOMIC_ACQUIRE) < (uint32_t)r)
			sched_yield();
		for (int k = c->id; k < K; k += c->nthreads) {
			struct job *j = &c->slots[k];
			int rc = vt_promise_set_result(j->p, j->tok, vt_value_i64(j->value));
			/* A loser that when_any canceled first: the producer loses
			 * the race with a defined code. */
			CHECK(rc == 0 || rc == VT_ECOMPLETED || rc == VT_ETOKEN);
		}
		__atomic_fetch_add(c->ack, 1, __ATOMIC_ACQ_REL);
	}
	return NULL;
}

static void stress_combinators(void)
{
	vt_promise_pool *pp = make_pool(64);
	vt_shared_pool *sp;
	struct job jobs[K];
	struct completer cs[K];
	pthread_t th[K];
	uint32_t go = 0, ack = 0;
	int nt = g_threads > K ? K : g_threads;
	vt_when w;
	vt_when_node nodes[K];

	CHECK_EQ(vt_shared_pool_create(&sp, NULL), 0);
	vt_when_init(&w);
	for (int t = 0; t < nt; t++) {
		cs[t] = (struct completer){ jobs, g_iters, &go, &ack, t, nt };
		CHECK_EQ(pthread_create(&th[t], NULL, complete_jobs, &cs[t]), 0);
	}
	for (long r = 1; r <= g_iters; r++) {
		vt_task in[K], comb;
		vt_value v;
		int kind = (int)(r % 3); /* 0: when_all, 1: when_any, 2: shared */
		for (int k = 0; k < K; k++) {
			jobs[k].p = vt_promise_rent(pp);
			CHECK(jobs[k].p != NULL);
			jobs[k].tok = vt_promise_version(jobs[k].p);
			jobs[k].value = r * K + k;
			in[k] = vt_promise_task(jobs[k].p);
		}
		vt_shared *s = NULL;
		vt_shared_awaiter an[K];
		int hits = 0;
		if (kind == 0)
			CHECK_EQ(vt_when_all(&w, nodes, in, K, &comb), 0);
		else if (kind == 1)
			CHECK_EQ(vt_when_any(&w, nodes, in, K, (r & 4) ? VT_WHEN_CANCEL_LOSERS : 0, &comb), 0);
		else {
			CHECK_EQ(vt_shared_create(sp, in[0], &s), 0);
			for (int k = 0; k < K; k++)
				CHECK_EQ(vt_shared_on_completed(s, &an[k], count, &hits, NULL), 0);
			for (int k = 1; k < K; k++)
				CHECK_EQ(vt_task_forget(in[k]), 0);
		}
		__atomic_store_n(&go, (uint32_t)r, __ATOMIC_RELEASE); /* completers start */
		if (kind == 0) {
			CHECK_EQ(vt_task_wait(comb, &v), 0);
			CHECK_EQ(v.i64, K);
			for (int k = 0; k < K; k++)
				CHECK_EQ(nodes[k].value.i64, r * K + k);
		} else if (kind == 1) {
			CHECK_EQ(vt_task_wait(comb, &v), 0);
			CHECK(v.i64 >= 0 && v.i64 < K);
			int err = nodes[v.i64].err;
			CHECK(err == 0 || err == -ECANCELED);
			if (err == 0)
				CHECK_EQ(nodes[v.i64].value.i64, r * K + v.i64);
		} else {
			CHECK_EQ(vt_shared_wait(s, &v), 0);
			CHECK_EQ(v.i64, r * K);
		}
		/* Wait for the completers of this round. */
		while (__atomic_load_n(&ack, __ATOMIC_ACQUIRE) < (uint32_t)(r * nt))
			sched_yield();
		if (kind != 2)
			while (!vt_when_settled(&w))
				sched_yield();
		else {
			while (__atomic_load_n(&hits, __ATOMIC_ACQUIRE) < K)
				sched_yield();
			vt_shared_release(s);
		}
		CHECK_EQ(rented(pp), 0);
	}
	for (int t = 0; t < nt; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ(vt_shared_pool_destroy(&sp), 0);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

int main(int argc, char **argv)
{
	bool stress = argc > 1;

	vt_ck_args(argc, argv, &g_threads, &g_iters);
	if (!stress) {
		RUN(test_shared);
		RUN(test_shared_awaited);
		RUN(test_shared_exhausted);
		RUN(test_when_all);
		RUN(test_when_any);
		RUN(test_when_cancel_then_reuse);
		RUN(test_when_any_settled_then_restart);
		RUN(test_when_all_settled_is_done);
		g_iters = 2000;
	}
	RUN(stress_combinators);
	return 0;
}
