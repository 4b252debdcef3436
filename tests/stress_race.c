/*
 * tests/stress_race.c: one completer racing one awaiter (SPEC §4.1,
 * concurrency priority 1).
 *
 * --threads N: N/2 pairs (default 1 pair), all renting from one promise
 * pool. --iterations N: registration rounds per pair (default 1,000,000,
 * scaled by --scale).
 *
 * Each round the awaiter rents a promise and hands (promise, token) to the
 * completer through a flag; then, at the same moment, the awaiter registers
 * a continuation and the completer sets the round's own value (or error).
 * Small random delays on both sides move the meeting point around, so both
 * orders and the windows in between are hit. The continuation consumes the
 * result, which sends the promise back to the pool from whichever thread
 * ran it. Every fourth round the awaiter polls status instead of
 * registering: once it reads anything but VT_PENDING, get_result must give
 * the full result.
 *
 * Checked: the continuation of every round runs exactly once and sees its
 * own round's result; no rent fails; at the end the pool has every promise
 * back (rented 0, rents == returns == rounds) and destroys clean.
 * Printed: where the continuations ran and vt_core_window_waits().
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <valuetask.h>

#include "check.h"
#include "stress_util.h"

typedef struct pair {
	int id;
	long rounds;
	vt_promise_pool *pool;
	uint8_t *runs;       /* per round: how often its continuation ran */
	pthread_t completer; /* the completer's thread id, set before the start */

	/* awaiter -> completer: round + 1 once promise/token are written */
	uint64_t posted __attribute__((aligned(64)));
	vt_promise *p;
	uint16_t tok;

	/* continuation -> awaiter: round + 1 once the round's continuation ran */
	uint64_t done __attribute__((aligned(64)));
	vt_task task; /* this round's task, written by the awaiter before registering */
	long round;

	uint64_t on_completer __attribute__((aligned(64)));
	uint64_t on_awaiter;
	uint64_t polled;
	uint64_t polled_pending; /* polls that saw VT_PENDING first */
} pair;

static uint64_t round_value(int id, long r)
{
	return ((uint64_t)id << 48) ^ ((uint64_t)r * UINT64_C(0x9E3779B97F4A7C15));
}

/* Rounds r % 8 == 5 fail: with -ECANCELED every other time. */
static int round_error(long r)
{
	if (r % 8 != 5)
		return 0;
	return (r / 8) % 2 ? -ECANCELED : -(int)(1 + (r / 16) % 4000);
}

static void check_result(const pair *pr, long r, int rc, vt_value v)
{
	int err = round_error(r);

	if (err != 0) {
		CHECK_EQ(rc, err);
	} else {
		CHECK_EQ(rc, 0);
		CHECK_EQ(v.u64, round_value(pr->id, r));
	}
}

static void continuation(void *state)
{
	pair *pr = (pair *)state;
	long r = pr->round;
	vt_value v = { .u64 = 0 };
	int rc;

	v.u64 = 0;
	rc = vt_task_get_result(pr->task, &v);
	check_result(pr, r, rc, v);
	__atomic_fetch_add(&pr->runs[r], 1, __ATOMIC_RELAXED);
	if (pthread_equal(pthread_self(), pr->completer))
		__atomic_fetch_add(&pr->on_completer, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&pr->on_awaiter, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&pr->done, (uint64_t)r + 1, __ATOMIC_RELEASE); /* pairs with the awaiter's wait */
}

static void *awaiter_main(void *arg)
{
	pair *pr = (pair *)arg;
	uint64_t rng = 0x1234567ull + (uint64_t)pr->id * 7919;

	for (long r = 0; r < pr->rounds; r++) {
		vt_promise *p = vt_promise_rent(pr->pool);
		unsigned spins = 0;

		if (p == NULL) {
			/* At most one promise per pair is out: the pool has free ones. */
			vt_pool_stats s;

			vt_promise_pool_get_stats(pr->pool, &s);
			fprintf(stderr,
				"pair %d round %ld: rent answered NULL; capacity %llu created %llu rented %llu "
				"rents %llu returns %llu empty %llu steals %llu\n",
				pr->id, r, (unsigned long long)s.capacity, (unsigned long long)s.created,
				(unsigned long long)s.rented, (unsigned long long)s.rents,
				(unsigned long long)s.returns, (unsigned long long)s.empty_rents,
				(unsigned long long)s.steals);
			CHECK(p != NULL);
		}
		pr->p = p;
		pr->tok = vt_promise_version(p);
		pr->task = vt_promise_task(p);
		pr->round = r;
		__atomic_store_n(&pr->posted, (uint64_t)r + 1, __ATOMIC_RELEASE); /* the handoff */
		jitter(&rng, 48);
		if (r % 4 != 3) {
			CHECK_EQ(vt_task_on_completed(pr->task, continuation, pr, NULL), 0);
			while (__atomic_load_n(&pr->done, __ATOMIC_ACQUIRE) != (uint64_t)r + 1) {
				spin_step(&spins);
				if (spins == 20000000u) /* no assertion on time: a hint for a hang */
					fprintf(stderr, "pair %d round %ld: continuation has not run yet (lost?)\n",
						pr->id, r);
			}
		} else {
			int st, err = round_error(r);
			vt_value v = { .u64 = 0 };

			while ((st = vt_task_status(pr->task)) == VT_PENDING) {
				spins++;
				cpu_relax();
				if (spins > 1000)
					sched_yield();
			}
			if (spins > 0)
				pr->polled_pending++;
			CHECK_EQ(st, err == 0 ? VT_SUCCEEDED : err == -ECANCELED ? VT_CANCELED : VT_FAULTED);
			v.u64 = 0;
			check_result(pr, r, vt_task_get_result(pr->task, &v), v);
			pr->runs[r]++;
			pr->polled++;
		}
	}
	return NULL;
}

static void *completer_main(void *arg)
{
	pair *pr = (pair *)arg;
	uint64_t rng = 0xabcdefull + (uint64_t)pr->id * 104729;

	for (long r = 0; r < pr->rounds; r++) {
		unsigned spins = 0;
		int err = round_error(r);

		while (__atomic_load_n(&pr->posted, __ATOMIC_ACQUIRE) != (uint64_t)r + 1)
			spin_step(&spins);
		vt_promise *p = pr->p;
		uint16_t tok = pr->tok;
		jitter(&rng, 48);
		if (err != 0)
			CHECK_EQ(vt_promise_set_error(p, tok, err), 0);
		else
			CHECK_EQ(vt_promise_set_result(p, tok, vt_value_u64(round_value(pr->id, r))), 0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	stress_opts o = stress_parse(argc, argv, 2, 1000000);
	int npairs = o.threads / 2 > 0 ? o.threads / 2 : 1;
	long rounds = o.iterations + o.iterations / 3; /* one in four polls */
	vt_promise_pool *pool = NULL;
	vt_pool_config cfg;
	pair *pairs;
	struct timespec t0, t1;
	uint64_t waits0 = vt_core_window_waits();

	vt_pool_config_default(&cfg);
	/* 64 per pair: promises travel between the threads (a continuation that
	 * runs on the completer returns its promise there), and with a few dozen
	 * per pair the awaiter steals them back in batches rather than one at a
	 * time. At most one promise per pair is out, so no rent may fail. */
	cfg.capacity = 64 * (uint32_t)npairs;
	CHECK_EQ(vt_promise_pool_create(&pool, &cfg), 0);
	pairs = calloc((size_t)npairs, sizeof *pairs);
	CHECK(pairs != NULL);
	printf("stress_race: %d pair(s), %ld rounds each (%ld registering), scale %ld%%\n", npairs,
	       rounds, rounds - rounds / 4, o.scale);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	pthread_t *aw = calloc((size_t)npairs, sizeof *aw);
	CHECK(aw != NULL);
	for (int i = 0; i < npairs; i++) {
		pairs[i].id = i;
		pairs[i].rounds = rounds;
		pairs[i].pool = pool;
		pairs[i].runs = calloc((size_t)rounds, 1);
		CHECK(pairs[i].runs != NULL);
		/* The completer's id must be known before any continuation runs. */
		CHECK_EQ(pthread_create(&pairs[i].completer, NULL, completer_main, &pairs[i]), 0);
	}
	for (int i = 0; i < npairs; i++)
		CHECK_EQ(pthread_create(&aw[i], NULL, awaiter_main, &pairs[i]), 0);
	for (int i = 0; i < npairs; i++) {
		CHECK_EQ(pthread_join(aw[i], NULL), 0);
		CHECK_EQ(pthread_join(pairs[i].completer, NULL), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	uint64_t total = 0;
	for (int i = 0; i < npairs; i++) {
		pair *pr = &pairs[i];

		for (long r = 0; r < rounds; r++) {
			if (pr->runs[r] != 1) {
				fprintf(stderr, "pair %d round %ld: continuation ran %u times\n", i, r,
					(unsigned)pr->runs[r]);
				CHECK_EQ(pr->runs[r], 1);
			}
		}
		CHECK_EQ(pr->on_completer + pr->on_awaiter + pr->polled, (uint64_t)rounds);
		printf("pair %d: continuation on completer %llu, on awaiter %llu; polled %llu (%llu saw pending)\n",
		       i, (unsigned long long)pr->on_completer, (unsigned long long)pr->on_awaiter,
		       (unsigned long long)pr->polled, (unsigned long long)pr->polled_pending);
		total += (uint64_t)rounds;
		free(pr->runs);
	}

	vt_pool_stats s;
	vt_promise_pool_get_stats(pool, &s);
	CHECK_EQ(s.rented, 0);
	CHECK_EQ(s.rents, total);
	CHECK_EQ(s.returns, total);
	CHECK_EQ(s.empty_rents, 0);
	CHECK(s.created <= cfg.capacity);
	printf("pool: rents %llu returns %llu steals %llu created %llu\n", (unsigned long long)s.rents,
	       (unsigned long long)s.returns, (unsigned long long)s.steals, (unsigned long long)s.created);
	CHECK_EQ(vt_promise_pool_destroy(&pool), 0);
	printf("vt_core_window_waits: %llu (W1 + W2 hits during the run)\n",
	       (unsigned long long)(vt_core_window_waits() - waits0));
	printf("elapsed: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(aw);
	free(pairs);
	return VT_TEST_PASS;
}
