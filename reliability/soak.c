/*
 * Soak: more threads than cores, for a fixed time, with every operation
 * checked for exactly-once delivery.
 *
 *   renters     rent a promise, hand its producer side to a completer and
 *               its task to a consumer (one of the modes below), and reclaim
 *               their operation records once delivered;
 *   completers  complete with a value, an error or -ECANCELED, then try a
 *               second, stale completion (must answer VT_ECOMPLETED or
 *               VT_ETOKEN);
 *   awaiters    consume polled tasks: check vt_task_is_completed, then get.
 *
 * Consumer modes (per operation, round robin):
 *   CONT_FIRST  on_completed before the completer can run; the continuation
 *               consumes (on the completer's thread);
 *   CONT_RACE   on_completed after the completer got it: races completion
 *               (both A1 and A3 paths, and the W1/W2 windows);
 *   POLL        an awaiter thread: check-then-get.
 * vt_task_wait, vt_task_forget and cancellation (issue: composition) slot
 * in as further modes: add an enum value, a case in issue() and, for
 * forget, count the release instead of a delivery.
 *
 * Exactly once: every operation record goes FREE -> INFLIGHT (renter) ->
 * DELIVERED (the one consumer, by CAS: a second delivery fails the CAS and
 * the test) -> FREE (renter, after checking the value). At the end every
 * record is FREE, delivered == issued, every promise is back in its pool
 * (stats: rented 0, rents == returns == issued) and destroy returns 0.
 *
 * Usage: soak [--seconds S] [--renters R] [--completers C] [--awaiters A]
 *             [--inflight K] [--capacity N]
 * VT_SOAK_SECONDS overrides the default duration (2 s; CI runs 30 s).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <valuetask.h>

#include "check.h"

enum { FREE, INFLIGHT, DELIVERED };
enum { MODE_CONT_FIRST, MODE_CONT_RACE, MODE_POLL, NMODES };
enum { KIND_VALUE, KIND_ERROR, KIND_CANCEL };

typedef struct op {
	uint32_t state; /* FREE / INFLIGHT / DELIVERED, atomic */
	uint32_t mode;
	uint32_t kind;
	uint64_t seq;
	vt_promise *p;
	uint16_t token;
	vt_task task;
} op;

/* ---- a small MPMC queue (mutex): the harness, not the thing under test ---- */

typedef struct queue {
	pthread_mutex_t lock;
	op **buf;
	size_t cap, head, len;
} queue;

static void queue_init(queue *q, size_t cap)
{
	pthread_mutex_init(&q->lock, NULL);
	q->buf = calloc(cap, sizeof(*q->buf));
	CHECK(q->buf != NULL);
	q->cap = cap;
	q->head = q->len = 0;
}

static void queue_push(queue *q, op *o)
{
	pthread_mutex_lock(&q->lock);
	CHECK(q->len < q->cap); /* sized for every record in flight */
	q->buf[(q->head + q->len++) % q->cap] = o;
	pthread_mutex_unlock(&q->lock);
}

static op *queue_pop(queue *q)
{
	op *o = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->len > 0) {
		o = q->buf[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	pthread_mutex_unlock(&q->lock);
	return o;
}

/* ---- shared state --------------------------------------------------------- */

static struct {
	unsigned seconds, renters, completers, awaiters, inflight, capacity;
} cfg = { 2, 3, 3, 2, 32, 64 };

static vt_promise_pool *pool;
static queue to_complete, to_await;
static int stop;          /* atomic: renters stop issuing */
static unsigned renters_done; /* atomic */

typedef struct renter {
	pthread_t thread;
	unsigned id;
	op *ops;
	uint64_t issued, delivered, exhausted;
	uint64_t by_mode[NMODES];
	uint64_t by_kind[3];
} renter;

static renter *renters;
static uint64_t stale_checks; /* atomic */

static int64_t expected_rc(const op *o)
{
	return o->kind == KIND_VALUE ? 0 : o->kind == KIND_ERROR ? -EIO : -ECANCELED;
}

static int expected_status(const op *o)
{
	return o->kind == KIND_VALUE ? VT_SUCCEEDED : o->kind == KIND_ERROR ? VT_FAULTED : VT_CANCELED;
}

/* The one consumer of o: consume, check, mark delivered (exactly once). */
static void consume(op *o)
{
	vt_value v = vt_value_i64(-1);
	vt_task t = o->task;
	uint64_t seq = o->seq;
	int want = (int)expected_rc(o);

	CHECK_EQ(vt_task_status(t), expected_status(o));
	int rc = vt_task_get_result(t, &v);
	CHECK_EQ(rc, want);
	if (rc == 0)
		CHECK_EQ(v.u64, seq);
	/* The promise is back in its pool, maybe rented again already: the
	 * same task is stale now. */
	CHECK_EQ(vt_task_get_result(t, &v), VT_ETOKEN);

	uint32_t expect = INFLIGHT;
	/* acq_rel: publishes the checks above to the renter's reclaim (acquire). */
	if (!__atomic_compare_exchange_n(&o->state, &expect, DELIVERED, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "soak: op %" PRIu64 " delivered twice (state %u)\n", seq, expect);
		abort();
	}
}

static void on_done(void *state)
{
	consume(state);
}

/* ---- renters ---------------------------------------------------------------- */

static void issue(renter *r, op *o, vt_promise *p)
{
	uint64_t n = r->issued++;

	o->seq = ((uint64_t)r->id << 48) | n;
	o->mode = (uint32_t)(n % NMODES);
	o->kind = (n / NMODES) % 5 == 3 ? KIND_ERROR : (n / NMODES) % 5 == 4 ? KIND_CANCEL : KIND_VALUE;
	o->p = p;
	o->token = vt_promise_version(p);
	o->task = vt_promise_task(p);
	CHECK_EQ(vt_task_status(o->task), VT_PENDING);
	__atomic_store_n(&o->state, INFLIGHT, __ATOMIC_RELAXED); /* published by the queue's mutex */
	r->by_mode[o->mode]++;
	r->by_kind[o->kind]++;

	switch (o->mode) {
	case MODE_CONT_FIRST:
		CHECK_EQ(vt_task_on_completed(o->task, on_done, o, NULL), 0);
		queue_push(&to_complete, o);
		break;
	case MODE_CONT_RACE: {
		vt_task t = o->task; /* o may be delivered (not reclaimed) any time now */
		queue_push(&to_complete, o);
		CHECK_EQ(vt_task_on_completed(t, on_done, o, NULL), 0);
		break;
	}
	case MODE_POLL:
		queue_push(&to_complete, o);
		queue_push(&to_await, o);
		break;
	}
}

/* Take back delivered records; true when none is in flight. */
static bool reclaim(renter *r)
{
	bool idle = true;

	for (unsigned i = 0; i < cfg.inflight; i++) {
		op *o = &r->ops[i];
		uint32_t s = __atomic_load_n(&o->state, __ATOMIC_ACQUIRE); /* pairs with consume's CAS */
		if (s == DELIVERED) {
			r->delivered++;
			__atomic_store_n(&o->state, FREE, __ATOMIC_RELAXED);
		} else if (s == INFLIGHT) {
			idle = false;
		}
	}
	return idle;
}

static void *renter_main(void *arg)
{
	renter *r = arg;
	unsigned next = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		op *o = NULL;
		for (unsigned i = 0; i < cfg.inflight && o == NULL; i++) {
			op *c = &r->ops[(next + i) % cfg.inflight];
			uint32_t s = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
			if (s == DELIVERED) {
				r->delivered++;
				__atomic_store_n(&c->state, FREE, __ATOMIC_RELAXED);
				s = FREE;
			}
			if (s == FREE)
				o = c;
		}
		if (o == NULL) {
			sched_yield();
			continue;
		}
		next = (unsigned)(o - r->ops) + 1;
		vt_promise *p = vt_promise_rent(pool);
		if (p == NULL) {
			r->exhausted++; /* back-pressure: every promise is in flight */
			sched_yield();
			continue;
		}
		issue(r, o, p);
	}
	while (!reclaim(r))
		sched_yield();
	__atomic_fetch_add(&renters_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool all_done(queue *q)
{
	if (__atomic_load_n(&renters_done, __ATOMIC_ACQUIRE) < cfg.renters)
		return false;
	pthread_mutex_lock(&q->lock);
	bool empty = q->len == 0;
	pthread_mutex_unlock(&q->lock);
	return empty;
}

/* ---- completers and awaiters ---------------------------------------------------- */

static void *completer_main(void *arg)
{
	uint64_t n = 0, stale = 0;

	(void)arg;
	for (;;) {
		op *o = queue_pop(&to_complete);
		if (o == NULL) {
			if (all_done(&to_complete))
				break;
			sched_yield();
			continue;
		}
		/* Copy first: once completed, o may be consumed, reclaimed and reused. */
		vt_promise *p = o->p;
		uint16_t tok = o->token;
		uint32_t kind = o->kind;
		uint64_t seq = o->seq;
		int rc = kind == KIND_VALUE ? vt_promise_set_result(p, tok, vt_value_u64(seq))
			 : kind == KIND_ERROR ? vt_promise_set_error(p, tok, -EIO)
					      : vt_promise_set_error(p, tok, -ECANCELED);
		CHECK_EQ(rc, 0);
		if (++n % 4 == 0) {
			/* A late second completion: the first result stays, or the
			 * rental is gone; never 0. */
			rc = vt_promise_set_result(p, tok, vt_value_u64(~seq));
			CHECK(rc == VT_ECOMPLETED || rc == VT_ETOKEN);
			stale++;
		}
	}
	__atomic_fetch_add(&stale_checks, stale, __ATOMIC_RELAXED);
	return NULL;
}

static void *awaiter_main(void *arg)
{
	(void)arg;
	for (;;) {
		op *o = queue_pop(&to_await);
		if (o == NULL) {
			if (all_done(&to_await))
				break;
			sched_yield();
			continue;
		}
		/* Check-then-get, the documented style: never get while pending. */
		unsigned spins = 0;
		while (!vt_task_is_completed(o->task))
			if (++spins % 16 == 0)
				sched_yield();
		consume(o);
	}
	return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

static unsigned arg_uint(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end != '\0' || v == 0 || v > 100000) {
		fprintf(stderr, "soak: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *env = getenv("VT_SOAK_SECONDS");

	if (env != NULL && *env != '\0')
		cfg.seconds = arg_uint(env);
	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned v = arg_uint(argv[i + 1]);
		if (strcmp(argv[i], "--seconds") == 0)
			cfg.seconds = v;
		else if (strcmp(argv[i], "--renters") == 0)
			cfg.renters = v;
		else if (strcmp(argv[i], "--completers") == 0)
			cfg.completers = v;
		else if (strcmp(argv[i], "--awaiters") == 0)
			cfg.awaiters = v;
		else if (strcmp(argv[i], "--inflight") == 0)
			cfg.inflight = v;
		else if (strcmp(argv[i], "--capacity") == 0)
			cfg.capacity = v;
		else {
			fprintf(stderr, "soak: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	unsigned threads = cfg.renters + cfg.completers + cfg.awaiters;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	vt_pool_config pc;
	vt_pool_config_default(&pc);
	pc.capacity = cfg.capacity;
	pc.slab_objects = 16;
	pc.cache_size = 8;
	CHECK_EQ(vt_promise_pool_create(&pool, &pc), 0);
	size_t total_ops = (size_t)cfg.renters * cfg.inflight;
	queue_init(&to_complete, total_ops);
	queue_init(&to_await, total_ops);

	renters = calloc(cfg.renters, sizeof(*renters));
	CHECK(renters != NULL);
	pthread_t *others = calloc(cfg.completers + cfg.awaiters, sizeof(*others));
	CHECK(others != NULL);

	double t0 = now();
	for (unsigned i = 0; i < cfg.renters; i++) {
		renters[i].id = i;
		renters[i].ops = calloc(cfg.inflight, sizeof(op));
		CHECK(renters[i].ops != NULL);
		CHECK(pthread_create(&renters[i].thread, NULL, renter_main, &renters[i]) == 0);
	}
	for (unsigned i = 0; i < cfg.completers; i++)
		CHECK(pthread_create(&others[i], NULL, completer_main, NULL) == 0);
	for (unsigned i = 0; i < cfg.awaiters; i++)
		CHECK(pthread_create(&others[cfg.completers + i], NULL, awaiter_main, NULL) == 0);

	struct timespec ts = { .tv_sec = cfg.seconds, .tv_nsec = 0 };
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < cfg.renters; i++)
		CHECK(pthread_join(renters[i].thread, NULL) == 0);
	for (unsigned i = 0; i < cfg.completers + cfg.awaiters; i++)
		CHECK(pthread_join(others[i], NULL) == 0);
	double secs = now() - t0;

	/* Exactly once, and conservation. */
	uint64_t issued = 0, delivered = 0, exhausted = 0, by_mode[NMODES] = { 0 }, by_kind[3] = { 0 };
	for (unsigned i = 0; i < cfg.renters; i++) {
		renter *r = &renters[i];
		for (unsigned k = 0; k < cfg.inflight; k++)
			CHECK_EQ(r->ops[k].state, FREE);
		CHECK_EQ(r->delivered, r->issued);
		issued += r->issued;
		delivered += r->delivered;
		exhausted += r->exhausted;
		for (int m = 0; m < NMODES; m++)
			by_mode[m] += r->by_mode[m];
		for (int k = 0; k < 3; k++)
			by_kind[k] += r->by_kind[k];
	}
	CHECK_EQ(delivered, issued);
	CHECK(issued > 0);

	vt_pool_stats st;
	vt_promise_pool_get_stats(pool, &st);
	CHECK_EQ(st.rented, 0);
	CHECK_EQ(st.rents, issued);
	CHECK_EQ(st.returns, issued);
	CHECK(st.created <= cfg.capacity);
	CHECK_EQ(vt_promise_pool_destroy(&pool), 0);

	printf("soak: %" PRIu64 " ops soaked, each delivered exactly once; %u threads (%u renters, %u completers, "
	       "%u awaiters) on %ld cores; %.1f s; %.0f ops/s\n",
	       issued, threads, cfg.renters, cfg.completers, cfg.awaiters, cores, secs, (double)issued / secs);
	printf("soak: modes cont-first %" PRIu64 ", cont-race %" PRIu64 ", poll %" PRIu64 "; values %" PRIu64
	       ", errors %" PRIu64 ", cancels %" PRIu64 "; stale completions refused %" PRIu64 "\n",
	       by_mode[MODE_CONT_FIRST], by_mode[MODE_CONT_RACE], by_mode[MODE_POLL], by_kind[KIND_VALUE],
	       by_kind[KIND_ERROR], by_kind[KIND_CANCEL], __atomic_load_n(&stale_checks, __ATOMIC_RELAXED));
	printf("soak: pool capacity %u: %" PRIu64 " objects made, %" PRIu64 " rents found it empty (back-pressure), %" PRIu64
	       " steals; core window waits %" PRIu64 "; stats balance, destroy returned 0\n",
	       cfg.capacity, st.created, exhausted, st.steals, vt_core_window_waits());

	for (unsigned i = 0; i < cfg.renters; i++)
		free(renters[i].ops);
	free(renters);
	free(others);
	free(to_complete.buf);
	free(to_await.buf);
	return 0;
}
