/*
 * tests/stress_misuse.c: misuse that races (SPEC §4.1, concurrency
 * priorities 3 and 4).
 *
 * --threads N: racers per round (default 2, at most 16).
 * --iterations N: rounds per scenario (default 300,000, scaled by --scale);
 * the stale-producer scenario runs three times as many.
 *
 * Scenarios A to C run as a team: each round the leader (racer 0) sets up a
 * promise, a barrier releases every racer at once, a second barrier ends
 * the round and the leader checks it. The pool has capacity 1, so the
 * same promise is recycled every round.
 *
 *   A. completers race: exactly one gets 0; every other gets VT_ECOMPLETED,
 *      or VT_ETOKEN when the continuation already consumed the result; the
 *      continuation runs exactly once and sees the winner's result.
 *   B. awaiters race: exactly one registers (0); the others get
 *      VT_EAWAITED (or VT_ETOKEN once the winner's continuation consumed);
 *      only the winner's continuation runs, once.
 *   C. consumers race: exactly one gets the result; the others get
 *      VT_ETOKEN with *out untouched; the pool gets the promise back once
 *      per round (stats.returns moves by exactly 1).
 *   D. late producers and awaiters (threads - 1 of them) hammer the token
 *      of the previous rental while the owner consumes it, rents the
 *      promise again and completes the new rental: they never get 0, their
 *      continuation never runs, and every new rental reads its own result.
 *      The owner never runs more than 30,000 rentals ahead of a late
 *      thread's current token, so the 16-bit ABA window (65,536 rentals,
 *      see test_promise.c) is never reached.
 *   E. a reader peeks (vt_core_get_result, which does not consume) with
 *      the current token of a bare vt_core while the owner completes and
 *      consumes it, round after round (ten times as many rounds): it gets
 *      that round's value, VT_EPENDING or VT_ETOKEN, never a later round's
 *      value (get_result's re-check of the version after reading it). A
 *      reader preempted between its two loads is what finds a missing
 *      re-check, so this one is probabilistic: on a loaded machine it was
 *      found in every run tried, an idle one may miss it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"
#include "stress_util.h"

#define MAX_RACERS 16
static const uint64_t SENTINEL = UINT64_C(0xdeadbeefcafef00d);

typedef struct record {
	int runs;
	int rc;
	vt_value val;
	int consume; /* the continuation consumes the task */
	vt_task task;
} record;

static void record_fn(void *state)
{
	record *rec = (record *)state;

	if (rec->consume) {
		rec->val.u64 = SENTINEL;
		rec->rc = vt_task_get_result(rec->task, &rec->val);
	}
	__atomic_fetch_add(&rec->runs, 1, __ATOMIC_RELAXED);
}

typedef struct team {
	int n;
	long rounds;
	char scenario;
	spin_barrier bar;
	vt_promise_pool *pool;
	uint64_t returns_base;

	/* Written by the leader before the first barrier of a round. */
	int variant;
	vt_promise *p;
	uint16_t tok;
	vt_task task;
	record rec[MAX_RACERS + 1]; /* [n]: the leader's own, for A */

	/* Written by each racer for itself. */
	struct {
		int rc;
		vt_value out;
		uint64_t rng;
	} __attribute__((aligned(64))) racer[MAX_RACERS];

	/* Outcome counts, for the log. */
	uint64_t loser_codes[3]; /* ECOMPLETED/EAWAITED, ETOKEN, other */
} team;

static int racer_error(int i)
{
	return -(100 + i);
}

static uint64_t racer_value(long r, int i)
{
	return (uint64_t)r * 64 + (uint64_t)i + 1;
}

static void reset_records(team *t)
{
	memset(t->rec, 0, sizeof t->rec);
	for (int i = 0; i <= MAX_RACERS; i++)
		t->rec[i].task = t->task;
}

static void rent_round(team *t)
{
	t->p = vt_promise_rent(t->pool);
	CHECK(t->p != NULL); /* capacity 1, and every round ends with it back */
	t->tok = vt_promise_version(t->p);
	t->task = vt_promise_task(t->p);
	reset_records(t);
}

static vt_pool_stats stats(const team *t)
{
	vt_pool_stats s;

	vt_promise_pool_get_stats(t->pool, &s);
	return s;
}

/* ---- A: completers race -------------------------------------------------- */

static void a_setup(team *t, long r)
{
	t->variant = (int)(r % 3); /* 0: consuming continuation, 1: plain one, 2: none */
	rent_round(t);
	if (t->variant < 2) {
		t->rec[t->n].consume = t->variant == 0;
		CHECK_EQ(vt_task_on_completed(t->task, record_fn, &t->rec[t->n], NULL), 0);
	}
}

static void a_race(team *t, long r, int i)
{
	jitter(&t->racer[i].rng, 24);
	if (i % 2 == 0)
		t->racer[i].rc = vt_promise_set_result(t->p, t->tok, vt_value_u64(racer_value(r, i)));
	else
		t->racer[i].rc = vt_promise_set_error(t->p, t->tok, racer_error(i));
}

static void a_verify(team *t, long r)
{
	int winner = -1;
	record *rec = &t->rec[t->n];

	for (int i = 0; i < t->n; i++) {
		int rc = t->racer[i].rc;

		if (rc == 0) {
			CHECK_EQ(winner, -1); /* exactly one */
			winner = i;
		} else if (rc == VT_ECOMPLETED) {
			t->loser_codes[0]++;
		} else {
			CHECK_EQ(t->variant, 0); /* only a consumed result makes the token stale */
			CHECK_EQ(rc, VT_ETOKEN);
			t->loser_codes[1]++;
		}
	}
	CHECK(winner >= 0);
	int want_rc = winner % 2 == 0 ? 0 : racer_error(winner);
	uint64_t want_val = racer_value(r, winner);
	vt_value v = { .u64 = 0 };

	CHECK_EQ(rec->runs, t->variant < 2 ? 1 : 0);
	if (t->variant == 0) {
		CHECK_EQ(rec->rc, want_rc);
		CHECK_EQ(rec->val.u64, want_rc == 0 ? want_val : SENTINEL);
	} else {
		v.u64 = SENTINEL;
		CHECK_EQ(vt_task_get_result(t->task, &v), want_rc);
		CHECK_EQ(v.u64, want_rc == 0 ? want_val : SENTINEL);
	}
	v.u64 = SENTINEL;
	CHECK_EQ(vt_task_get_result(t->task, &v), VT_ETOKEN);
	CHECK_EQ(rec->runs, t->variant < 2 ? 1 : 0);
	CHECK_EQ(stats(t).returns, t->returns_base + (uint64_t)r + 1);
}

/* ---- B: awaiters race ------------------------------------------------------ */

static void b_setup(team *t, long r)
{
	t->variant = (int)(r % 3); /* 0: pending, 1: completed, 2: completed + consuming */
	rent_round(t);
	for (int i = 0; i < t->n; i++)
		t->rec[i].consume = t->variant == 2;
	if (t->variant > 0)
		CHECK_EQ(vt_promise_set_result(t->p, t->tok, vt_value_u64(racer_value(r, 0))), 0);
}

static void b_race(team *t, long r, int i)
{
	(void)r;
	jitter(&t->racer[i].rng, 24);
	t->racer[i].rc = vt_task_on_completed(t->task, record_fn, &t->rec[i], NULL);
}

static void b_verify(team *t, long r)
{
	int winner = -1;
	vt_value v = { .u64 = 0 };

	for (int i = 0; i < t->n; i++) {
		int rc = t->racer[i].rc;

		if (rc == 0) {
			CHECK_EQ(winner, -1);
			winner = i;
		} else if (rc == VT_EAWAITED) {
			t->loser_codes[0]++;
		} else {
			CHECK_EQ(t->variant, 2);
			CHECK_EQ(rc, VT_ETOKEN);
			t->loser_codes[1]++;
		}
	}
	CHECK(winner >= 0);
	if (t->variant == 0) {
		for (int i = 0; i < t->n; i++)
			CHECK_EQ(t->rec[i].runs, 0); /* not before completion */
		CHECK_EQ(vt_promise_set_result(t->p, t->tok, vt_value_u64(racer_value(r, 0))), 0);
	}
	for (int i = 0; i < t->n; i++)
		CHECK_EQ(t->rec[i].runs, i == winner ? 1 : 0);
	if (t->variant == 2) {
		CHECK_EQ(t->rec[winner].rc, 0);
		CHECK_EQ(t->rec[winner].val.u64, racer_value(r, 0));
	} else {
		v.u64 = SENTINEL;
		CHECK_EQ(vt_task_get_result(t->task, &v), 0);
		CHECK_EQ(v.u64, racer_value(r, 0));
	}
	CHECK_EQ(vt_task_get_result(t->task, &v), VT_ETOKEN);
	CHECK_EQ(stats(t).returns, t->returns_base + (uint64_t)r + 1);
}

/* ---- C: consumers race ----------------------------------------------------- */

static void c_setup(team *t, long r)
{
	t->variant = (int)(r % 2); /* 0: value, 1: error */
	rent_round(t);
	if (t->variant == 0)
		CHECK_EQ(vt_promise_set_result(t->p, t->tok, vt_value_u64(racer_value(r, 0))), 0);
	else
		CHECK_EQ(vt_promise_set_error(t->p, t->tok, -ECONNRESET), 0);
	for (int i = 0; i < t->n; i++)
		t->racer[i].out.u64 = SENTINEL;
}

static void c_race(team *t, long r, int i)
{
	(void)r;
	jitter(&t->racer[i].rng, 24);
	t->racer[i].rc = vt_task_get_result(t->task, &t->racer[i].out);
}

static void c_verify(team *t, long r)
{
	int winner = -1;
	int want_rc = t->variant == 0 ? 0 : -ECONNRESET;

	for (int i = 0; i < t->n; i++) {
		int rc = t->racer[i].rc;

		if (rc != VT_ETOKEN) {
			CHECK_EQ(winner, -1);
			CHECK_EQ(rc, want_rc);
			CHECK_EQ(t->racer[i].out.u64, want_rc == 0 ? racer_value(r, 0) : SENTINEL);
			winner = i;
		} else {
			CHECK_EQ(t->racer[i].out.u64, SENTINEL);
			t->loser_codes[1]++;
		}
	}
	CHECK(winner >= 0);
	vt_pool_stats s = stats(t);
	CHECK_EQ(s.returns, t->returns_base + (uint64_t)r + 1); /* back exactly once */
	CHECK_EQ(s.rented, 0);
}

/* ---- the team harness -------------------------------------------------------- */

typedef struct racer_arg {
	team *t;
	int id;
} racer_arg;

static void *racer_main(void *arg)
{
	racer_arg *a = (racer_arg *)arg;
	team *t = a->t;
	int i = a->id;

	for (long r = 0; r < t->rounds; r++) {
		if (i == 0) {
			switch (t->scenario) {
			case 'A': a_setup(t, r); break;
			case 'B': b_setup(t, r); break;
			default: c_setup(t, r); break;
			}
		}
		spin_barrier_wait(&t->bar); /* go */
		switch (t->scenario) {
		case 'A': a_race(t, r, i); break;
		case 'B': b_race(t, r, i); break;
		default: c_race(t, r, i); break;
		}
		spin_barrier_wait(&t->bar); /* done */
		if (i == 0) {
			switch (t->scenario) {
			case 'A': a_verify(t, r); break;
			case 'B': b_verify(t, r); break;
			default: c_verify(t, r); break;
			}
		}
	}
	return NULL;
}

static void run_team(char scenario, int n, long rounds)
{
	static team t; /* large and aligned; one scenario at a time */
	vt_pool_config cfg;
	pthread_t th[MAX_RACERS];
	racer_arg args[MAX_RACERS];

	memset(&t, 0, sizeof t);
	t.n = n;
	t.rounds = rounds;
	t.scenario = scenario;
	spin_barrier_init(&t.bar, (unsigned)n);
	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	CHECK_EQ(vt_promise_pool_create(&t.pool, &cfg), 0);
	t.returns_base = 0;
	for (int i = 0; i < n; i++) {
		t.racer[i].rng = 0x2545F4914F6CDD1Dull * (uint64_t)(i + 1) + (uint64_t)scenario;
		args[i].t = &t;
		args[i].id = i;
	}
	for (int i = 1; i < n; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, racer_main, &args[i]), 0);
	racer_main(&args[0]);
	for (int i = 1; i < n; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);

	vt_pool_stats s = stats(&t);
	CHECK_EQ(s.rented, 0);
	CHECK_EQ(s.rents, (uint64_t)rounds);
	CHECK_EQ(s.returns, (uint64_t)rounds);
	CHECK_EQ(vt_promise_pool_destroy(&t.pool), 0);
	printf("%c: %ld rounds, %d racers; losers: %llu %s, %llu VT_ETOKEN\n", scenario, rounds, n,
	       (unsigned long long)t.loser_codes[0],
	       scenario == 'A' ? "VT_ECOMPLETED" : scenario == 'B' ? "VT_EAWAITED" : "-",
	       (unsigned long long)t.loser_codes[1]);
}

/* ---- D: stale producers racing with recycle ------------------------------------ */

typedef struct late_shared {
	vt_promise_pool *pool;
	vt_promise *p;       /* the one promise (capacity 1), set before the threads start */
	uint64_t posted;     /* (round + 1) << 16 | token of a completed rental */
	int stop;
	long rounds;
	int nlate;
	int64_t ack[MAX_RACERS]; /* per late thread: the oldest round it may still use */
	uint64_t counts[MAX_RACERS][4]; /* ECOMPLETED, ETOKEN, EAWAITED, SUCCEEDED-status */
} late_shared;

typedef struct late_arg {
	late_shared *sh;
	int id;
} late_arg;

static void bad_fn(void *state)
{
	(void)state;
	fprintf(stderr, "D: a stale await ran its continuation\n");
	exit(VT_TEST_FAIL);
}

static void *late_main(void *arg)
{
	late_arg *a = (late_arg *)arg;
	late_shared *sh = a->sh;
	uint64_t *cnt = sh->counts[a->id];

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		uint64_t w = __atomic_load_n(&sh->posted, __ATOMIC_ACQUIRE); /* pairs with the owner's publish */
		int rc;

		if (w == 0) {
			cpu_relax();
			continue;
		}
		int64_t round = (int64_t)(w >> 16) - 1;
		uint16_t tok = (uint16_t)w;
		vt_task stale = vt_task_from_source(vt_task_source(vt_promise_task(sh->p)), tok);

		for (int k = 0; k < 4; k++) {
			rc = (k & 1) ? vt_promise_set_error(sh->p, tok, -EIO)
				     : vt_promise_set_result(sh->p, tok, vt_value_u64(SENTINEL));
			if (rc == VT_ECOMPLETED)
				cnt[0]++;
			else if (rc == VT_ETOKEN)
				cnt[1]++;
			else
				CHECK_EQ(rc, VT_ETOKEN); /* never 0: that rental was completed already */
		}
		rc = vt_task_on_completed(stale, bad_fn, NULL, NULL);
		if (rc == VT_EAWAITED)
			cnt[2]++;
		else if (rc == VT_ETOKEN)
			cnt[1]++;
		else
			CHECK_EQ(rc, VT_ETOKEN);
		rc = vt_task_status(stale);
		if (rc == VT_SUCCEEDED)
			cnt[3]++;
		else
			CHECK_EQ(rc, VT_ETOKEN); /* never VT_PENDING: no newer rental matches */
		/* Done with round's token: the owner may run ahead of it again. */
		__atomic_store_n(&sh->ack[a->id], round, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void run_stale(int nlate, long rounds)
{
	static late_shared sh;
	vt_pool_config cfg;
	pthread_t th[MAX_RACERS];
	late_arg args[MAX_RACERS];
	record rec;
	uint64_t waits = 0;

	memset(&sh, 0, sizeof sh);
	sh.nlate = nlate;
	sh.rounds = rounds;
	vt_pool_config_default(&cfg);
	cfg.capacity = 1;
	CHECK_EQ(vt_promise_pool_create(&sh.pool, &cfg), 0);
	/* Learn the promise, and put it back. */
	sh.p = vt_promise_rent(sh.pool);
	CHECK(sh.p != NULL);
	vt_value v = { .u64 = 0 };
	CHECK_EQ(vt_promise_set_result(sh.p, vt_promise_version(sh.p), vt_value_u64(0)), 0);
	CHECK_EQ(vt_task_get_result(vt_promise_task(sh.p), &v), 0);
	for (int i = 0; i < nlate; i++) {
		sh.ack[i] = -1;
		args[i].sh = &sh;
		args[i].id = i;
		CHECK_EQ(pthread_create(&th[i], NULL, late_main, &args[i]), 0);
	}

	uint64_t rng = 0x853c49e6748fea9bull;
	for (long r = 0; r < rounds; r++) {
		/* Bound how far a late thread's token can fall behind (ABA). */
		for (int i = 0; i < nlate; i++) {
			unsigned spins = 0;

			while (r - __atomic_load_n(&sh.ack[i], __ATOMIC_ACQUIRE) > 30000) {
				spin_step(&spins);
				waits++;
			}
		}
		vt_promise *p = vt_promise_rent(sh.pool);
		CHECK(p == sh.p);
		uint16_t tok = vt_promise_version(p);
		vt_task t = vt_promise_task(p);

		memset(&rec, 0, sizeof rec);
		CHECK_EQ(vt_task_on_completed(t, record_fn, &rec, NULL), 0);
		CHECK_EQ(rec.runs, 0);
		CHECK_EQ(vt_promise_set_result(p, tok, vt_value_u64(racer_value(r, 0))), 0);
		CHECK_EQ(rec.runs, 1);
		/* Hand this completed rental's token to the late threads ... */
		__atomic_store_n(&sh.posted, ((uint64_t)(r + 1) << 16) | tok, __ATOMIC_RELEASE);
		jitter(&rng, 16);
		/* ... and consume it while they use it. */
		v.u64 = SENTINEL;
		CHECK_EQ(vt_task_get_result(t, &v), 0);
		CHECK_EQ(v.u64, racer_value(r, 0));
		CHECK_EQ(rec.runs, 1);
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < nlate; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);

	vt_pool_stats s;
	vt_promise_pool_get_stats(sh.pool, &s);
	CHECK_EQ(s.rented, 0);
	CHECK_EQ(s.rents, (uint64_t)rounds + 1);
	CHECK_EQ(s.returns, (uint64_t)rounds + 1);
	CHECK_EQ(vt_promise_pool_destroy(&sh.pool), 0);
	uint64_t tot[4] = { 0, 0, 0, 0 };
	for (int i = 0; i < nlate; i++)
		for (int k = 0; k < 4; k++)
			tot[k] += sh.counts[i][k];
	printf("D: %ld rentals, %d late thread(s): VT_ECOMPLETED %llu, VT_ETOKEN %llu, VT_EAWAITED %llu, "
	       "status succeeded %llu; owner waited %llu steps for the ABA bound\n",
	       rounds, nlate, (unsigned long long)tot[0], (unsigned long long)tot[1],
	       (unsigned long long)tot[2], (unsigned long long)tot[3], (unsigned long long)waits);
}

/* ---- E: a reader peeks while the owner recycles ---------------------------- */

typedef struct peek_shared {
	vt_core core;
	long rounds;
	int stop;
	uint64_t counts[3]; /* the reader's 0, VT_EPENDING, VT_ETOKEN */
} peek_shared;

/* Each round's value carries the round's token in its low 16 bits. */
static void *peek_owner_main(void *arg)
{
	peek_shared *sh = (peek_shared *)arg;

	for (long r = 0; r < sh->rounds; r++) {
		uint16_t tok = vt_core_version(&sh->core);
		vt_value v = { .u64 = 0 };

		CHECK_EQ(vt_core_set_result(&sh->core, vt_value_u64((uint64_t)r << 16 | tok)), 0);
		for (int k = 0; k < 16; k++)
			cpu_relax(); /* completed for a while: the reader finds it so */
		CHECK_EQ(vt_core_consume(&sh->core, tok, &v), 0);
		CHECK_EQ(v.u64, (uint64_t)r << 16 | tok);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void run_peek(long rounds)
{
	static peek_shared sh;
	pthread_t th;

	memset(&sh, 0, sizeof sh);
	vt_core_init(&sh.core);
	sh.rounds = rounds;
	CHECK_EQ(pthread_create(&th, NULL, peek_owner_main, &sh), 0);
	while (!__atomic_load_n(&sh.stop, __ATOMIC_ACQUIRE)) {
		uint16_t tok = vt_core_version(&sh.core);
		vt_value v = { .u64 = SENTINEL };
		int rc = vt_core_get_result(&sh.core, tok, &v);

		if (rc == 0) {
			if ((uint16_t)v.u64 != tok)
				fprintf(stderr, "E: token %u read round %llu's value (token %u)\n", (unsigned)tok,
					(unsigned long long)(v.u64 >> 16), (unsigned)(uint16_t)v.u64);
			CHECK_EQ((uint16_t)v.u64, tok);
			sh.counts[0]++;
		} else {
			CHECK(rc == VT_EPENDING || rc == VT_ETOKEN);
			CHECK_EQ(v.u64, SENTINEL);
			sh.counts[rc == VT_EPENDING ? 1 : 2]++;
		}
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	printf("E: %ld rounds; the reader got its round's value %llu, VT_EPENDING %llu, VT_ETOKEN %llu\n",
	       rounds, (unsigned long long)sh.counts[0], (unsigned long long)sh.counts[1],
	       (unsigned long long)sh.counts[2]);
}

int main(int argc, char **argv)
{
	stress_opts o = stress_parse(argc, argv, 2, 300000);

	if (o.threads < 2 || o.threads > MAX_RACERS) {
		fprintf(stderr, "stress_misuse: --threads must be 2..%d\n", MAX_RACERS);
		return VT_TEST_FAIL;
	}
	printf("stress_misuse: %d threads, %ld rounds per scenario, scale %ld%%\n", o.threads,
	       o.iterations, o.scale);
	run_team('A', o.threads, o.iterations);
	run_team('B', o.threads, o.iterations);
	run_team('C', o.threads, o.iterations);
	run_stale(o.threads - 1, 3 * o.iterations);
	run_peek(10 * o.iterations);
	printf("vt_core_window_waits: %llu\n", (unsigned long long)vt_core_window_waits());
	return VT_TEST_PASS;
}
