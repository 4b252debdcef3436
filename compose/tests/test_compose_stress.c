/*
 * Cross-thread stress for vt_task_wait, vt_task_cancel (cancel racing
 * completion), vt_task_forget (including a misused stale handle racing the
 * release) and vt_task_then. --threads T pairs of (awaiter, completer)
 * threads, --iterations N rounds each.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "valuetask.h"

static int g_threads = 2;
static long g_iters = 50000;
static vt_promise_pool *g_pool;

enum { OP_WAIT, OP_CANCEL, OP_FORGET, OP_THEN, OP_COUNT };

struct pair {
	/* awaiter -> completer */
	vt_promise *p, *q;
	uint16_t ptok, qtok;
	uint32_t seq;     /* round published (release) */
	/* completer -> awaiter */
	uint32_t ack;     /* round finished (release) */
	int set_rc;       /* the completer's set_result code for p */
	int fired;        /* cancel callbacks run */
	long then_calls;
	int then_err;
	int64_t then_value;
	long cancel_wins, complete_wins;
};

/* Wait until *x >= r: spin a little (so that the other side of a race
 * is awake), then yield. */
static void wait_ge(uint32_t *x, uint32_t r)
{
	for (int i = 0; __atomic_load_n(x, __ATOMIC_ACQUIRE) < r; i++) {
		if (i < 2000)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
}

static void fire(void *arg)
{
	__atomic_fetch_add(&((struct pair *)arg)->fired, 1, __ATOMIC_RELAXED);
}

static void on_then(void *arg, int err, vt_value v)
{
	struct pair *pr = arg;

	pr->then_err = err;
	pr->then_value = v.i64;
	__atomic_fetch_add(&pr->then_calls, 1, __ATOMIC_RELEASE);
}

static void *completer(void *arg)
{
	struct pair *pr = arg;

	for (uint32_t r = 1; r <= (uint32_t)g_iters; r++) {
		wait_ge(&pr->seq, r);
		if (r % 7 == 0)
			sched_yield(); /* let the awaiter park sometimes */
		pr->set_rc = vt_promise_set_result(pr->p, pr->ptok, vt_value_i64(r));
		if (pr->q != NULL)
			CHECK_EQ(vt_promise_set_result(pr->q, pr->qtok, vt_value_i64(-(int64_t)r)), 0);
		__atomic_store_n(&pr->ack, r, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *awaiter(void *arg)
{
	struct pair *pr = arg;
	vt_value v;

	for (uint32_t r = 1; r <= (uint32_t)g_iters; r++) {
		int op = (int)(r % OP_COUNT);
		vt_promise *p = vt_promise_rent(g_pool);
		CHECK(p != NULL);
		uint16_t tok = vt_promise_version(p);
		vt_task t = vt_promise_task(p);
		vt_task tq = vt_task_from_value(vt_value_i64(0));
		pr->p = p;
		pr->ptok = tok;
		pr->q = NULL;
		if (op == OP_CANCEL)
			CHECK_EQ(vt_promise_on_cancel(p, tok, fire, pr), 0);
		if (op == OP_FORGET) {
			CHECK_EQ(vt_task_forget(t), 0);
			/* A second, legitimate rental that the stale handle must
			 * never disturb. */
			pr->q = vt_promise_rent(g_pool);
			CHECK(pr->q != NULL);
			pr->qtok = vt_promise_version(pr->q);
			tq = vt_promise_task(pr->q);
		}
		if (op == OP_THEN)
			CHECK_EQ(vt_task_then(t, on_then, pr, NULL), 0);
		int fired0 = __atomic_load_n(&pr->fired, __ATOMIC_RELAXED);
		__atomic_store_n(&pr->seq, r, __ATOMIC_RELEASE);

		switch (op) {
		case OP_WAIT:
			CHECK_EQ(vt_task_wait(t, &v), 0);
			CHECK_EQ(v.i64, r);
			break;
		case OP_CANCEL: {
			for (uint32_t i = (r * 2654435761u) % 512; i > 0; i--) /* vary who gets there first */
				__builtin_ia32_pause();
			int crc = vt_task_cancel(t);
			int rc = vt_task_wait(t, &v);
			wait_ge(&pr->ack, r);
			int fired = __atomic_load_n(&pr->fired, __ATOMIC_RELAXED) - fired0;
			if (crc == 0) { /* cancel won */
				CHECK_EQ(rc, -ECANCELED);
				CHECK(pr->set_rc == VT_ECOMPLETED || pr->set_rc == VT_ETOKEN);
				CHECK_EQ(fired, 1);
				pr->cancel_wins++;
			} else { /* completion won */
				CHECK_EQ(crc, VT_ECOMPLETED);
				CHECK_EQ(pr->set_rc, 0);
				CHECK_EQ(rc, 0);
				CHECK_EQ(v.i64, r);
				CHECK_EQ(fired, 0);
				pr->complete_wins++;
			}
			break;
		}
		case OP_FORGET: {
			/* Misuse on purpose: consume the forgotten rental while its
			 * release may be running. Any of these codes is fine; what
			 * must hold is that q's result below is untouched. */
			int rc = vt_task_get_result(t, &v);
			CHECK(rc == 0 || rc == VT_ETOKEN || rc == VT_EPENDING);
			if (rc == 0)
				CHECK_EQ(v.i64, r);
			CHECK_EQ(vt_task_wait(tq, &v), 0);
			CHECK_EQ(v.i64, -(int64_t)r);
			break;
		}
		case OP_THEN:
			while (__atomic_load_n(&pr->then_calls, __ATOMIC_ACQUIRE) < (long)((r + 1) / OP_COUNT))
				sched_yield();
			CHECK_EQ(pr->then_err, 0);
			CHECK_EQ(pr->then_value, r);
			break;
		}
		wait_ge(&pr->ack, r);
	}
	return NULL;
}

/*
 * Cancel registration racing cancel, consume and re-rent, with a capacity-1
 * pool: the awaiter cancels round r and, when the cancel won, consumes and
 * rents round r + 1 at once, while round r's producer may still be inside
 * vt_promise_on_cancel. Two producers take alternate rounds, so a late
 * registrar for round r races round r + 1's registration. Every round: the
 * callback runs once when registered and the cancel won, never otherwise.
 */
struct reg_round {
	uint16_t tok;
	uint32_t ready; /* awaiter -> producer (release) */
	uint32_t done;  /* producer -> awaiter (release) */
	int crc, reg_rc, set_rc;
	int fired;
};

static struct reg_round *g_rounds;
static vt_promise *g_rp;

static void fire_round(void *arg)
{
	__atomic_fetch_add(&((struct reg_round *)arg)->fired, 1, __ATOMIC_RELAXED);
}

static void *reg_producer(void *arg)
{
	long first = (long)(intptr_t)arg;

	for (long r = first; r < g_iters; r += 2) {
		struct reg_round *rd = &g_rounds[r];
		uint32_t one = 1;
		wait_ge(&rd->ready, one);
		rd->reg_rc = vt_promise_on_cancel(g_rp, rd->tok, fire_round, rd);
		rd->set_rc = vt_promise_set_result(g_rp, rd->tok, vt_value_i64(r));
		__atomic_store_n(&rd->done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void stress_cancel_registration(void)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	pthread_t th[2];
	vt_value v;
	long won = 0;

	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	g_rounds = calloc((size_t)g_iters, sizeof(*g_rounds));
	CHECK(g_rounds != NULL);
	g_rp = vt_promise_rent(pp); /* the one promise: every round rents it again */
	CHECK(g_rp != NULL);
	CHECK_EQ(vt_promise_set_result(g_rp, vt_promise_version(g_rp), vt_value_i64(0)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(g_rp), &v), 0);
	for (long i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, reg_producer, (void *)(intptr_t)i), 0);
	for (long r = 0; r < g_iters; r++) {
		struct reg_round *rd = &g_rounds[r];
		vt_promise *p = vt_promise_rent(pp);
		CHECK(p == g_rp);
		vt_task t = vt_promise_task(p);
		rd->tok = vt_promise_version(p);
		__atomic_store_n(&rd->ready, 1, __ATOMIC_RELEASE);
		for (uint32_t i = ((uint32_t)r * 2654435761u) % 256; i > 0; i--)
			__builtin_ia32_pause();
		rd->crc = vt_task_cancel(t);
		if (rd->crc == 0) {
			CHECK_EQ(vt_task_get_result(t, &v), -ECANCELED); /* no wait for the producer */
			won++;
		} else {
			CHECK_EQ(rd->crc, VT_ECOMPLETED);
			CHECK_EQ(vt_task_wait(t, &v), 0);
			CHECK_EQ(v.i64, r);
		}
	}
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	for (long r = 0; r < g_iters; r++) {
		struct reg_round *rd = &g_rounds[r];
		int fired = __atomic_load_n(&rd->fired, __ATOMIC_RELAXED);
		if (rd->crc == 0) {
			CHECK(rd->set_rc == VT_ECOMPLETED || rd->set_rc == VT_ETOKEN);
			CHECK(rd->reg_rc == 0 || rd->reg_rc == VT_ECOMPLETED || rd->reg_rc == VT_ETOKEN);
			CHECK_EQ(fired, rd->reg_rc == 0 ? 1 : 0);
		} else {
			CHECK_EQ(rd->reg_rc, 0);
			CHECK_EQ(rd->set_rc, 0);
			CHECK_EQ(fired, 0);
		}
	}
	fprintf(stderr, "  registration races: cancel won %ld of %ld\n", won, g_iters);
	free(g_rounds);
	CHECK_EQ(vt_promise_pool_destroy(&pp), 0);
}

int main(int argc, char **argv)
{
	vt_pool_config cfg;
	struct pair pairs[16];
	pthread_t ta[16], tc[16];
	int np;

	vt_ck_args(argc, argv, &g_threads, &g_iters);
	if (argc == 1)
		g_iters = 5000;
	np = g_threads > 16 ? 16 : g_threads;
	vt_pool_config_default(&cfg);
	cfg.capacity = (uint32_t)np * 2 + 1; /* tight: promises are recycled at once */
	cfg.cache_size = 2;
	CHECK_EQ(vt_promise_pool_create(&g_pool, &cfg), 0);
	for (int i = 0; i < np; i++) {
		memset(&pairs[i], 0, sizeof(pairs[i]));
		CHECK_EQ(pthread_create(&tc[i], NULL, completer, &pairs[i]), 0);
		CHECK_EQ(pthread_create(&ta[i], NULL, awaiter, &pairs[i]), 0);
	}
	long cw = 0, pw = 0;
	for (int i = 0; i < np; i++) {
		pthread_join(ta[i], NULL);
		pthread_join(tc[i], NULL);
		cw += pairs[i].cancel_wins;
		pw += pairs[i].complete_wins;
	}
	vt_pool_stats st;
	vt_promise_pool_get_stats(g_pool, &st);
	CHECK_EQ(st.rented, 0);
	CHECK_EQ(st.rents, st.returns);
	fprintf(stderr, "  cancel races: cancel won %ld, completion won %ld; core window waits %llu\n", cw, pw,
		(unsigned long long)vt_core_window_waits());
	CHECK_EQ(vt_promise_pool_destroy(&g_pool), 0);
	stress_cancel_registration();
	return 0;
}
