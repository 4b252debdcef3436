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
 *   awaiters    consume the tasks handed to them (POLL, WAIT, CANCEL).
 *
 * Consumer modes (per operation, round robin):
 *   CONT_FIRST  on_completed before the completer can run; the continuation
 *               consumes (on the completer's thread);
 *   CONT_RACE   on_completed after the completer got it: races completion
 *               (both A1 and A3 paths, and the W1/W2 windows);
 *   POLL        an awaiter thread: check-then-get;
 *   WAIT        an awaiter thread: vt_task_wait (spin, then park), then a
 *               second wait must answer VT_ETOKEN;
 *   THEN        vt_task_then, registered before the completer can run or
 *               racing it (alternately); fn checks the result and that the
 *               promise is back already (the task answers VT_ETOKEN);
 *   FORGET      vt_task_forget, before the completer can run (detach) or
 *               racing it (alternately); nobody consumes. The operation is
 *               *released*, not delivered: once both the forget and the
 *               completion returned, the task must answer VT_ETOKEN (the
 *               promise went back, by the completer's hook or by forget);
 *   CANCEL      the producer registers vt_promise_on_cancel at rent; an
 *               awaiter calls vt_task_cancel racing the completer, then
 *               consumes with vt_task_wait or forgets (alternately). Once
 *               both sides returned, exactly one won (docs/compose.md):
 *               cancel 0 and producer VT_ECOMPLETED/VT_ETOKEN, callback run
 *               once on the canceling thread, awaiter saw -ECANCELED; or
 *               producer 0 and cancel VT_ECOMPLETED, callback never run,
 *               awaiter saw the producer's result.
 *
 * Exactly once: every operation record goes FREE -> INFLIGHT (renter) ->
 * DELIVERED or RELEASED (the one consumer, or the second of the two parties
 * of a FORGET/CANCEL operation, by CAS: a second delivery fails the CAS and
 * the test) -> FREE (renter, after checking the value). At the end every
 * record is FREE, delivered + released == issued (released == forgotten
 * operations), every promise is back in its pool (stats: rented 0, rents ==
 * returns == issued) and destroy returns 0.
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

enum { FREE, INFLIGHT, DELIVERED, RELEASED };
enum { MODE_CONT_FIRST, MODE_CONT_RACE, MODE_POLL, MODE_WAIT, MODE_THEN, MODE_FORGET, MODE_CANCEL, NMODES };
enum { KIND_VALUE, KIND_ERROR, KIND_CANCEL };

static const char *const mode_names[NMODES] = {
	"cont-first", "cont-race", "poll", "wait", "then", "forget", "cancel",
};

typedef struct op {
	uint32_t state; /* FREE / INFLIGHT / DELIVERED / RELEASED, atomic */
	uint32_t mode;
	uint32_t kind;
	uint32_t variant; /* THEN, FORGET: bit 0, registered first or racing;
			     CANCEL: bit 0, then wait or forget; bit 1, the renter
			     cancels (racing the completer) or the awaiter does (late) */
	uint64_t seq;
	vt_promise *p;
	uint16_t token;
	vt_task task;
	/* FORGET and CANCEL: two parties (the completer and the renter or
	 * awaiter) arrive; the second one checks the outcome and finishes. */
	uint32_t arrivals;   /* atomic */
	int producer_rc;     /* the completer's set_* answer */
	int cancel_rc;       /* vt_task_cancel's answer */
	uint32_t cb_calls;   /* atomic: the producer's cancel callback ran */
	pthread_t cb_thread; /* where it ran */
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
	uint64_t issued, delivered, released, exhausted;
	uint64_t by_mode[NMODES];
	uint64_t by_kind[3];
	uint64_t forgotten;                /* FORGET, and CANCEL then forget */
	uint64_t cancel_won, producer_won; /* CANCEL outcomes */
	uint64_t won_by[2][2];             /* [renter cancels][cancel won] */
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

/* Nobody consumes o: it is forgotten (released, not delivered). */
static bool forgets(const op *o)
{
	return o->mode == MODE_FORGET || (o->mode == MODE_CANCEL && (o->variant & 1));
}

/* INFLIGHT -> DELIVERED or RELEASED, exactly once. */
static void finish(op *o, uint32_t to)
{
	uint32_t expect = INFLIGHT;

	/* acq_rel: publishes the checks before it to the renter's reclaim (acquire). */
	if (!__atomic_compare_exchange_n(&o->state, &expect, to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "soak: op %" PRIu64 " (mode %s) finished twice (state %u)\n", o->seq,
			mode_names[o->mode], expect);
		abort();
	}
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

	finish(o, DELIVERED);
}

static void on_done(void *state)
{
	consume(state);
}

/* THEN: the result comes in; the promise is back in its pool already. */
static void on_then(void *state, int err, vt_value v)
{
	op *o = state;

	CHECK_EQ(err, expected_rc(o));
	if (err == 0)
		CHECK_EQ(v.u64, o->seq);
	CHECK_EQ(vt_task_status(o->task), VT_ETOKEN);
	finish(o, DELIVERED);
}

/* The producer's cancel callback (vt_promise_on_cancel): at most once, on
 * the canceling thread. */
static void on_cancel(void *state)
{
	op *o = state;

	o->cb_thread = pthread_self(); /* read by that same thread, or after its arrival (release) */
	__atomic_fetch_add(&o->cb_calls, 1, __ATOMIC_RELAXED);
}

/* The outcome of a FORGET or CANCEL operation, once both parties returned. */
static void settle(op *o)
{
	if (o->mode == MODE_CANCEL) {
		uint32_t calls = __atomic_load_n(&o->cb_calls, __ATOMIC_RELAXED);
		if (o->cancel_rc == 0) {
			/* The cancel won: the producer lost, the callback ran once. */
			CHECK(o->producer_rc == VT_ECOMPLETED || o->producer_rc == VT_ETOKEN);
			CHECK_EQ(calls, 1);
		} else {
			CHECK_EQ(o->cancel_rc, VT_ECOMPLETED);
			CHECK_EQ(o->producer_rc, 0);
			CHECK_EQ(calls, 0);
		}
	} else {
		CHECK_EQ(o->producer_rc, 0);
	}
	/* Both returned: the operation was consumed or released. */
	CHECK_EQ(vt_task_status(o->task), VT_ETOKEN);
	finish(o, forgets(o) ? RELEASED : DELIVERED);
}

/* One of the two parties of a FORGET or CANCEL operation is done with it. */
static void arrive(op *o)
{
	/* acq_rel: the second arrival sees everything the first one wrote. */
	if (__atomic_add_fetch(&o->arrivals, 1, __ATOMIC_ACQ_REL) == 2)
		settle(o);
}

/* ---- renters ---------------------------------------------------------------- */

static int cancel_step(op *o, vt_task t);

static void issue(renter *r, op *o, vt_promise *p)
{
	uint64_t n = r->issued++;

	o->seq = ((uint64_t)r->id << 48) | n;
	o->mode = (uint32_t)(n % NMODES);
	o->kind = (n / NMODES) % 5 == 3 ? KIND_ERROR : (n / NMODES) % 5 == 4 ? KIND_CANCEL : KIND_VALUE;
	o->variant = (uint32_t)((n / NMODES) % 4);
	o->p = p;
	o->token = vt_promise_version(p);
	o->task = vt_promise_task(p);
	o->arrivals = 0;
	o->producer_rc = o->cancel_rc = 1; /* not yet */
	o->cb_calls = 0;
	CHECK_EQ(vt_task_status(o->task), VT_PENDING);
	__atomic_store_n(&o->state, INFLIGHT, __ATOMIC_RELAXED); /* published by the queue's mutex */
	r->by_mode[o->mode]++;
	r->by_kind[o->kind]++;
	if (forgets(o))
		r->forgotten++;

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
	case MODE_WAIT:
		queue_push(&to_complete, o);
		queue_push(&to_await, o);
		break;
	case MODE_THEN:
		if ((o->variant & 1) == 0) {
			CHECK_EQ(vt_task_then(o->task, on_then, o, NULL), 0);
			queue_push(&to_complete, o);
		} else {
			vt_task t = o->task; /* o may be delivered any time now */
			queue_push(&to_complete, o);
			CHECK_EQ(vt_task_then(t, on_then, o, NULL), 0);
		}
		break;
	case MODE_FORGET:
		if ((o->variant & 1) == 0) {
			/* Pending for sure: detached; the completer's hook releases it. */
			CHECK_EQ(vt_task_forget(o->task), 0);
			/* A second forget, and a registration, find it awaited. */
			CHECK_EQ(vt_task_forget(o->task), VT_EAWAITED);
			CHECK_EQ(vt_task_on_completed(o->task, on_done, o, NULL), VT_EAWAITED);
			arrive(o);
			queue_push(&to_complete, o);
		} else {
			/* Races completion: detached, or consumed at once. o is not
			 * settled before our own arrival, so it stays ours here. */
			queue_push(&to_complete, o);
			CHECK_EQ(vt_task_forget(o->task), 0);
			arrive(o);
		}
		break;
	case MODE_CANCEL:
		CHECK_EQ(vt_promise_on_cancel(p, o->token, on_cancel, o), 0);
		CHECK_EQ(vt_promise_on_cancel(p, o->token, on_cancel, o), VT_EAWAITED); /* one per rental */
		if (o->variant & 2) {
			/* The renter cancels right after handing it over: a close
			 * race, which either side may win. */
			vt_task t = o->task;
			queue_push(&to_complete, o);
			o->cancel_rc = cancel_step(o, t); /* o is not settled before the awaiter's arrival */
			queue_push(&to_await, o);         /* publishes cancel_rc (mutex) */
		} else {
			/* The awaiter cancels when it gets there: mostly too late. */
			queue_push(&to_complete, o);
			queue_push(&to_await, o);
		}
		break;
	}
}

/* A finished record (s: DELIVERED or RELEASED, loaded with acquire) is free again. */
static void take_back(renter *r, op *o, uint32_t s)
{
	CHECK_EQ(s, forgets(o) ? RELEASED : DELIVERED);
	if (s == DELIVERED)
		r->delivered++;
	else
		r->released++;
	if (o->mode == MODE_CANCEL) {
		if (o->cancel_rc == 0)
			r->cancel_won++;
		else
			r->producer_won++;
		r->won_by[(o->variant >> 1) & 1][o->cancel_rc == 0]++;
	}
	__atomic_store_n(&o->state, FREE, __ATOMIC_RELAXED);
}

/* Take back finished records; true when none is in flight. */
static bool reclaim(renter *r)
{
	bool idle = true;

	for (unsigned i = 0; i < cfg.inflight; i++) {
		op *o = &r->ops[i];
		uint32_t s = __atomic_load_n(&o->state, __ATOMIC_ACQUIRE); /* pairs with consume's CAS */
		if (s == DELIVERED || s == RELEASED) {
			take_back(r, o, s);
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
			if (s == DELIVERED || s == RELEASED) {
				take_back(r, c, s);
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
		uint32_t mode = o->mode; /* FORGET, CANCEL: o stays until we arrive */
		int rc = kind == KIND_VALUE ? vt_promise_set_result(p, tok, vt_value_u64(seq))
			 : kind == KIND_ERROR ? vt_promise_set_error(p, tok, -EIO)
					      : vt_promise_set_error(p, tok, -ECANCELED);
		if (mode == MODE_CANCEL) {
			/* Races the awaiter's cancel: exactly one of us wins. */
			CHECK(rc == 0 || rc == VT_ECOMPLETED || rc == VT_ETOKEN);
			o->producer_rc = rc;
			arrive(o);
		} else if (mode == MODE_FORGET) {
			CHECK_EQ(rc, 0);
			o->producer_rc = rc;
			arrive(o);
		} else {
			CHECK_EQ(rc, 0);
		}
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

/* WAIT: block until completed, consume; a second wait finds it consumed. */
static void wait_consume(op *o)
{
	vt_value v = vt_value_i64(-1);
	int rc = vt_task_wait(o->task, &v);

	CHECK_EQ(rc, expected_rc(o));
	if (rc == 0)
		CHECK_EQ(v.u64, o->seq);
	CHECK_EQ(vt_task_wait(o->task, &v), VT_ETOKEN);
	finish(o, DELIVERED);
}

/* vt_task_cancel, racing the completer, and what the winner implies here. */
static int cancel_step(op *o, vt_task t)
{
	int rc = vt_task_cancel(t);

	if (rc == 0) {
		/* Won: the callback ran once, here, before cancel returned. */
		CHECK_EQ(__atomic_load_n(&o->cb_calls, __ATOMIC_RELAXED), 1);
		CHECK(pthread_equal(o->cb_thread, pthread_self()));
		CHECK_EQ(vt_task_status(t), VT_CANCELED);
		CHECK_EQ(vt_task_cancel(t), VT_ECOMPLETED); /* a second cancel is too late */
	} else {
		/* Lost: the producer claimed it (maybe not yet published). */
		CHECK_EQ(rc, VT_ECOMPLETED);
	}
	return rc;
}

/* CANCEL on an awaiter: cancel (unless the renter did), then wait or forget. */
static void cancel_consume(op *o)
{
	vt_task t = o->task;
	int rc = (o->variant & 2) ? o->cancel_rc : (o->cancel_rc = cancel_step(o, t));

	if ((o->variant & 1) == 0) {
		vt_value v = vt_value_i64(-1);
		int want = rc == 0 ? -ECANCELED : (int)expected_rc(o);
		int got = vt_task_wait(t, &v);
		CHECK_EQ(got, want);
		if (got == 0)
			CHECK_EQ(v.u64, o->seq);
	} else {
		CHECK_EQ(vt_task_forget(t), 0);
	}
	arrive(o);
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
		switch (o->mode) {
		case MODE_POLL: {
			/* Check-then-get, the documented style: never get while pending. */
			unsigned spins = 0;
			while (!vt_task_is_completed(o->task))
				if (++spins % 16 == 0)
					sched_yield();
			consume(o);
			break;
		}
		case MODE_WAIT:
			wait_consume(o);
			break;
		case MODE_CANCEL:
			cancel_consume(o);
			break;
		default:
			CHECK(0);
		}
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
	uint64_t issued = 0, delivered = 0, released = 0, exhausted = 0, by_mode[NMODES] = { 0 }, by_kind[3] = { 0 };
	uint64_t cancel_won = 0, producer_won = 0, won_by[2][2] = { { 0 } };
	for (unsigned i = 0; i < cfg.renters; i++) {
		renter *r = &renters[i];
		for (unsigned k = 0; k < cfg.inflight; k++)
			CHECK_EQ(r->ops[k].state, FREE);
		CHECK_EQ(r->delivered + r->released, r->issued);
		/* Released: exactly the forgotten operations. */
		CHECK_EQ(r->released, r->forgotten);
		CHECK_EQ(r->cancel_won + r->producer_won, r->by_mode[MODE_CANCEL]);
		issued += r->issued;
		delivered += r->delivered;
		released += r->released;
		cancel_won += r->cancel_won;
		producer_won += r->producer_won;
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++)
				won_by[a][b] += r->won_by[a][b];
		exhausted += r->exhausted;
		for (int m = 0; m < NMODES; m++)
			by_mode[m] += r->by_mode[m];
		for (int k = 0; k < 3; k++)
			by_kind[k] += r->by_kind[k];
	}
	CHECK_EQ(delivered + released, issued);
	CHECK(issued > 0);

	vt_pool_stats st;
	vt_promise_pool_get_stats(pool, &st);
	CHECK_EQ(st.rented, 0);
	CHECK_EQ(st.rents, issued);
	CHECK_EQ(st.returns, issued);
	CHECK(st.created <= cfg.capacity);
	CHECK_EQ(vt_promise_pool_destroy(&pool), 0);

	printf("soak: %" PRIu64 " ops soaked, each delivered (%" PRIu64 ") or released (%" PRIu64 ") exactly once; "
	       "%u threads (%u renters, %u completers, %u awaiters) on %ld cores; %.1f s; %.0f ops/s\n",
	       issued, delivered, released, threads, cfg.renters, cfg.completers, cfg.awaiters, cores, secs,
	       (double)issued / secs);
	printf("soak: modes");
	for (int m = 0; m < NMODES; m++)
		printf("%s %s %" PRIu64, m == 0 ? "" : ",", mode_names[m], by_mode[m]);
	printf("; values %" PRIu64 ", errors %" PRIu64 ", cancels %" PRIu64 "; stale completions refused %" PRIu64 "\n",
	       by_kind[KIND_VALUE], by_kind[KIND_ERROR], by_kind[KIND_CANCEL],
	       __atomic_load_n(&stale_checks, __ATOMIC_RELAXED));
	printf("soak: cancel won %" PRIu64 " (callback ran once each, producer refused), producer won %" PRIu64
	       " (cancel answered VT_ECOMPLETED, no callback); cancel at hand-over won %" PRIu64 " lost %" PRIu64
	       ", cancel on an awaiter won %" PRIu64 " lost %" PRIu64 "\n",
	       cancel_won, producer_won, won_by[1][1], won_by[1][0], won_by[0][1], won_by[0][0]);
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
