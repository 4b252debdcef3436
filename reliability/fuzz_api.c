/*
 * Fuzz target: the input is a program of public calls, run against the
 * library and against a small reference model of the contract (SPEC §3-4).
 * Every return code, value and continuation run is checked against what the
 * model predicts; a mismatch aborts, which libFuzzer reports as a finding.
 *
 * Input: byte 0 configures the promise pool (capacity 1..8, slab size, cache
 * size); then each operation is one opcode byte followed by its argument
 * bytes (a missing byte reads as 0). The calls covered: rent, task,
 * vt_task_status / is_completed / on_completed / get_result,
 * vt_promise_set_result / set_error with current and stale tokens, double
 * consume, continuations inline, refused by an executor, or queued and run
 * later (and consuming their own task from inside the completer's stack),
 * pool exhaustion, stats, value and error tasks, and a bare vt_core driven
 * through init / reset / set_executor / set_result / set_error / status /
 * get_result / consume / on_completed; and, behind OP_COMPOSE (one opcode,
 * a sub-opcode byte, so that older corpus inputs keep their meaning),
 * vt_task_forget, vt_task_cancel, vt_task_then and vt_promise_on_cancel,
 * with the cancel-vs-completion outcomes of docs/compose.md §8 (value tasks
 * also go through forget, cancel and then).
 *
 * Built two ways: with libFuzzer (clang, -Dfuzzing=true) and with
 * fuzz_replay.c's main(), which replays the checked-in corpus as a test.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT 8        /* handles the program can name */
#define MAX_OPS 4096   /* inputs are cut here: keeps rents < 65536 (no ABA) */
#define MAX_CONT 8192

/* ---- input ------------------------------------------------------------------ */

static const uint8_t *in_data;
static size_t in_size, in_pos;

static uint8_t next_byte(void)
{
	return in_pos < in_size ? in_data[in_pos++] : 0;
}

/* ---- continuations and a queueing executor --------------------------------- */

typedef struct rental rental;

typedef struct cont_rec {
	int ran;        /* times the library ran it */
	int dispatched; /* times the model says it was dispatched (inline or queued) */
	rental *r;      /* the promise rental it belongs to, or NULL (bare core) */
	bool consume;   /* consumes its own task when it runs */
	/* vt_task_then on a task without a source: what fn must get */
	int want_err;
	int64_t want_v;
} cont_rec;

static cont_rec conts[MAX_CONT];
static int nconts;

static struct {
	vt_executor ex;
	struct {
		vt_continuation fn;
		void *state;
	} q[MAX_CONT];
	int head, tail;
} queue_ex;

static int queue_post(vt_executor *self, vt_continuation fn, void *state)
{
	CHECK(self == &queue_ex.ex);
	CHECK(queue_ex.tail < MAX_CONT);
	queue_ex.q[queue_ex.tail].fn = fn;
	queue_ex.q[queue_ex.tail].state = state;
	queue_ex.tail++;
	return 0;
}

static int refuse_post(vt_executor *self, vt_continuation fn, void *state)
{
	(void)self;
	(void)fn;
	(void)state;
	return -1; /* the library must then run it inline */
}

static vt_executor refuse_ex = { refuse_post };

enum { EX_NONE, EX_REFUSE, EX_QUEUE };

static vt_executor *executor_of(int sel)
{
	return sel == EX_REFUSE ? &refuse_ex : sel == EX_QUEUE ? &queue_ex.ex : NULL;
}

/* ---- the model -------------------------------------------------------------- */

struct rental {
	bool live;        /* rented and not consumed yet */
	vt_promise *p;
	uint16_t token;
	vt_task task;
	int status;       /* VT_PENDING, VT_SUCCEEDED, VT_FAULTED, VT_CANCELED */
	int64_t value;    /* the value or the error */
	bool awaited;     /* a continuation was registered (or ran), or forgotten */
	bool detached;    /* vt_task_forget while pending: released at completion */
	int cont_ex;      /* where it runs */
	cont_rec *cont;
	cont_rec *cx;     /* the producer's cancel callback (vt_promise_on_cancel) */
};

static rental rentals[MAX_OPS + NSLOT * 2];
static int nrentals;
static rental *slots[NSLOT];

static vt_promise_pool *pool;
static uint32_t capacity;
static uint32_t live_count;
static uint64_t model_rents, model_returns;

static int promise_consume_expect(rental *r, int64_t *value);

/* What a dispatch does in the model: queued runs later, anything else now. */
static void model_dispatch(cont_rec *c)
{
	c->dispatched++;
	CHECK(c->dispatched == 1); /* at most once per registration */
}

static void cont_fn(void *state)
{
	cont_rec *c = state;

	c->ran++;
	CHECK_EQ(c->ran, c->dispatched); /* ran exactly when the model dispatched it */
	if (c->r != NULL) {
		/* It runs after completion: the result is there (or the task is
		 * already consumed, when it ran late from the queue). */
		int st = vt_task_status(c->r->task);
		CHECK(st != VT_PENDING);
		if (c->consume) {
			vt_value v;
			int64_t want_v = 0;
			int want = promise_consume_expect(c->r, &want_v);
			int rc = vt_task_get_result(c->r->task, &v);
			CHECK_EQ(rc, want);
			if (rc == 0)
				CHECK_EQ(v.i64, want_v);
		}
	}
}

static cont_rec *new_cont(rental *r, bool consume)
{
	CHECK(nconts < MAX_CONT);
	cont_rec *c = &conts[nconts++];
	memset(c, 0, sizeof(*c));
	c->r = r;
	c->consume = consume;
	return c;
}

static void drain(void)
{
	while (queue_ex.head < queue_ex.tail) {
		int i = queue_ex.head++;
		queue_ex.q[i].fn(queue_ex.q[i].state);
	}
	queue_ex.head = queue_ex.tail = 0;
}

/* Expected result of consuming r now, and the model's state change. */
static int promise_consume_expect(rental *r, int64_t *value)
{
	if (!r->live)
		return VT_ETOKEN;
	if (r->status == VT_PENDING)
		return VT_EPENDING;
	r->live = false;
	live_count--;
	model_returns++;
	*value = r->value;
	return r->status == VT_SUCCEEDED ? 0 : (int)r->value;
}

/* A valid error for set_error? Its status, else VT_EINVAL. */
static int error_status(int e)
{
	if (e >= 0 || vt_is_library_error(e))
		return VT_EINVAL;
	return e == -ECANCELED ? VT_CANCELED : VT_FAULTED;
}

static const int error_choices[] = {
	-EIO, -ECANCELED, 0, 7, VT_ETOKEN, -4095, -4096, INT_MIN, -1, VT_EINVAL, -4160,
};

static rental *slot_arg(void)
{
	return slots[next_byte() % NSLOT];
}

/*
 * A token: the right one, or (mode 0) an older one, right - delta with
 * delta in 1..60000. Older, never newer: right + 1 is the token the next
 * rental of a consumed promise will get, and a producer holding it would
 * complete that promise while it is free (a forged token; see the 16-bit
 * window in docs/reliability.md). With fewer than 4096 rentals per input
 * (MAX_OPS) an older token never matches again.
 */
static uint16_t token_arg(uint16_t right, bool *stale)
{
	uint8_t mode = next_byte();

	*stale = false;
	if (mode % 4 != 0)
		return right;
	uint16_t delta = (uint16_t)(1 + (next_byte() | (next_byte() << 8)) % 60000);
	*stale = true;
	return (uint16_t)(right - delta);
}

/* ---- promise operations -------------------------------------------------------- */

static void op_rent(void)
{
	int want_slot = next_byte() % NSLOT;
	vt_promise *p = vt_promise_rent(pool);

	if (live_count == capacity) {
		CHECK(p == NULL); /* exact capacity: exhausted */
		return;
	}
	CHECK(p != NULL);
	/* A free slot: the wanted one unless it holds a live rental. */
	int s = want_slot;
	for (int i = 0; i < NSLOT && slots[s] != NULL && slots[s]->live; i++)
		s = (s + 1) % NSLOT;
	CHECK(slots[s] == NULL || !slots[s]->live); /* capacity <= NSLOT */
	rental *r = &rentals[nrentals++];
	memset(r, 0, sizeof(*r));
	r->live = true;
	r->p = p;
	r->token = vt_promise_version(p);
	r->task = vt_promise_task(p);
	r->status = VT_PENDING;
	CHECK_EQ(vt_task_token(r->task), r->token);
	CHECK(vt_task_source(r->task) != NULL);
	CHECK_EQ(vt_task_status(r->task), VT_PENDING);
	CHECK(!vt_task_is_completed(r->task));
	slots[s] = r;
	live_count++;
	model_rents++;
}

static void op_status(void)
{
	rental *r = slot_arg();

	if (r == NULL)
		return;
	int want = r->live ? r->status : VT_ETOKEN;
	CHECK_EQ(vt_task_status(r->task), want);
	CHECK_EQ(vt_task_is_completed(r->task), want != VT_PENDING);
}

static void op_on_completed(void)
{
	rental *r = slot_arg();
	uint8_t flags = next_byte();
	int exsel = flags % 3;
	bool null_fn = (flags & 0x80) != 0 && (flags & 0x40) != 0;
	bool consume = (flags & 0x08) != 0;

	if (r == NULL)
		return;
	if (null_fn) {
		CHECK_EQ(vt_task_on_completed(r->task, NULL, NULL, executor_of(exsel)), VT_EINVAL);
		return;
	}
	cont_rec *c = new_cont(r, consume);
	int want;
	if (!r->live)
		want = VT_ETOKEN;
	else if (r->awaited)
		want = VT_EAWAITED;
	else
		want = 0;
	if (want == 0) {
		r->awaited = true;
		r->cont = c;
		r->cont_ex = exsel;
		if (r->status != VT_PENDING)
			model_dispatch(c); /* completed: runs now (or is queued now) */
	}
	int rc = vt_task_on_completed(r->task, cont_fn, c, executor_of(exsel));
	CHECK_EQ(rc, want);
	if (exsel != EX_QUEUE)
		CHECK_EQ(c->ran, c->dispatched);
	else
		CHECK_EQ(c->ran, 0);
}

/* Complete r in the model; returns the expected code. */
static int model_complete(rental *r, bool stale, int status, int64_t value)
{
	if (status == VT_EINVAL)
		return VT_EINVAL; /* the argument is checked first */
	if (!r->live || stale)
		return VT_ETOKEN;
	if (r->status != VT_PENDING)
		return VT_ECOMPLETED;
	r->status = status;
	r->value = value;
	if (r->detached) {
		/* Forgotten: the release hook consumes it, inline. */
		r->live = false;
		live_count--;
		model_returns++;
	} else if (r->awaited) {
		model_dispatch(r->cont);
	}
	return 0;
}

static void after_complete(rental *r)
{
	if (r->cont != NULL && r->cont_ex != EX_QUEUE)
		CHECK_EQ(r->cont->ran, r->cont->dispatched);
}

static void op_set_result(void)
{
	rental *r = slot_arg();
	int64_t v = (int8_t)next_byte();
	bool stale;

	if (r == NULL)
		return;
	uint16_t tok = token_arg(r->token, &stale);
	int want = model_complete(r, stale, VT_SUCCEEDED, v);
	CHECK_EQ(vt_promise_set_result(r->p, tok, vt_value_i64(v)), want);
	after_complete(r);
}

static void op_set_error(void)
{
	rental *r = slot_arg();
	int e = error_choices[next_byte() % (sizeof(error_choices) / sizeof(error_choices[0]))];
	bool stale;

	if (r == NULL)
		return;
	uint16_t tok = token_arg(r->token, &stale);
	int want = model_complete(r, stale, error_status(e), e);
	CHECK_EQ(vt_promise_set_error(r->p, tok, e), want);
	after_complete(r);
}

static void consume_checked(rental *r, bool null_out)
{
	vt_value v;
	int64_t want_v = 0;

	if (null_out) {
		CHECK_EQ(vt_task_get_result(r->task, NULL), VT_EINVAL);
		return;
	}
	int want = promise_consume_expect(r, &want_v);
	int rc = vt_task_get_result(r->task, &v);
	CHECK_EQ(rc, want);
	if (rc == 0)
		CHECK_EQ(v.i64, want_v);
}

static void op_get_result(void)
{
	rental *r = slot_arg();
	bool null_out = (next_byte() % 8) == 0;

	if (r != NULL)
		consume_checked(r, null_out);
}

static void op_double_consume(void)
{
	rental *r = slot_arg();

	if (r == NULL)
		return;
	consume_checked(r, false);
	consume_checked(r, false);
}

/* Rent until NULL; exactly capacity - live more succeed; then give them back. */
static void op_exhaust(void)
{
	vt_promise *got[8];
	uint32_t n = 0;
	vt_promise *p;

	while ((p = vt_promise_rent(pool)) != NULL) {
		CHECK(n < capacity - live_count);
		got[n++] = p;
	}
	CHECK_EQ(n, capacity - live_count);
	CHECK(vt_promise_rent(pool) == NULL);
	for (uint32_t i = 0; i < n; i++) {
		vt_value v;
		vt_task t = vt_promise_task(got[i]);
		CHECK_EQ(vt_promise_set_error(got[i], vt_promise_version(got[i]), -ECANCELED), 0);
		CHECK_EQ(vt_task_status(t), VT_CANCELED);
		CHECK_EQ(vt_task_get_result(t, &v), -ECANCELED);
	}
	model_rents += n;
	model_returns += n;
}

static void op_stats(void)
{
	vt_pool_stats st;

	vt_promise_pool_get_stats(pool, &st);
	CHECK_EQ(st.capacity, capacity);
	CHECK_EQ(st.rented, live_count);
	CHECK_EQ(st.rents, model_rents);
	CHECK_EQ(st.returns, model_returns);
	CHECK(st.created <= capacity);
}

static void op_version(void)
{
	rental *r = slot_arg();

	if (r == NULL || !r->live)
		return;
	CHECK_EQ(vt_promise_version(r->p), r->token);
	CHECK_EQ(vt_task_token(vt_promise_task(r->p)), r->token);
}

/* ---- composition: forget, cancel, then, on_cancel ------------------------------------ */

/* vt_task_then's fn: the task was consumed just before it runs. */
static void then_fn(void *state, int err, vt_value v)
{
	cont_rec *c = state;

	c->ran++;
	CHECK_EQ(c->ran, c->dispatched);
	if (c->r == NULL) {
		CHECK_EQ(err, c->want_err);
		if (err == 0)
			CHECK_EQ(v.i64, c->want_v);
		return;
	}
	int64_t want_v = 0;
	int want = promise_consume_expect(c->r, &want_v);
	CHECK_EQ(err, want);
	if (err == 0)
		CHECK_EQ(v.i64, want_v);
	/* The promise is back in its pool before fn runs. */
	CHECK_EQ(vt_task_status(c->r->task), VT_ETOKEN);
}

/* The producer's cancel callback: once, after the promise completed. */
static void cancel_cb(void *state)
{
	cont_rec *c = state;

	c->ran++;
	CHECK_EQ(c->ran, c->dispatched);
	CHECK_EQ(vt_task_status(c->r->task), c->r->live ? VT_CANCELED : VT_ETOKEN);
}

static void op_forget(rental *r)
{
	int want;

	if (!r->live) {
		want = VT_ETOKEN;
	} else if (r->awaited) {
		want = VT_EAWAITED; /* a continuation will consume it (or it is forgotten) */
	} else if (r->status != VT_PENDING) {
		want = 0; /* consumed now, the result dropped */
		r->live = false;
		live_count--;
		model_returns++;
	} else {
		want = 0; /* detached: released when it completes */
		r->awaited = true;
		r->detached = true;
	}
	CHECK_EQ(vt_task_forget(r->task), want);
	if (!r->live)
		CHECK_EQ(vt_task_status(r->task), VT_ETOKEN);
}

static void op_cancel(rental *r)
{
	int want;

	if (!r->live) {
		want = VT_ETOKEN;
	} else if (r->status != VT_PENDING) {
		want = VT_ECOMPLETED; /* too late: the result stays */
	} else {
		want = 0; /* the cancel wins: completes it with -ECANCELED */
		CHECK_EQ(model_complete(r, false, VT_CANCELED, -ECANCELED), 0);
		if (r->cx != NULL)
			model_dispatch(r->cx);
	}
	int64_t before = r->value;
	int before_st = r->status;
	CHECK_EQ(vt_task_cancel(r->task), want);
	if (want == 0) {
		after_complete(r);
		if (r->cx != NULL)
			CHECK_EQ(r->cx->ran, 1); /* on this thread, before cancel returned */
		if (r->live)
			CHECK_EQ(vt_task_status(r->task), VT_CANCELED);
	} else if (want == VT_ECOMPLETED) {
		CHECK_EQ(vt_task_status(r->task), before_st);
		CHECK_EQ(r->value, before);
	}
}

static void op_then(rental *r, uint8_t flags)
{
	int exsel = flags % 3;

	if ((flags & 0xc0) == 0xc0) {
		CHECK_EQ(vt_task_then(r->task, NULL, NULL, executor_of(exsel)), VT_EINVAL);
		return;
	}
	cont_rec *c = new_cont(r, true);
	int want = !r->live ? VT_ETOKEN : r->awaited ? VT_EAWAITED : 0;
	if (want == 0) {
		r->awaited = true;
		r->cont = c;
		r->cont_ex = exsel;
		if (r->status != VT_PENDING)
			model_dispatch(c);
	}
	CHECK_EQ(vt_task_then(r->task, then_fn, c, executor_of(exsel)), want);
	if (exsel != EX_QUEUE)
		CHECK_EQ(c->ran, c->dispatched);
	else
		CHECK_EQ(c->ran, 0);
}

static void op_on_cancel(rental *r, uint8_t flags)
{
	bool stale;
	uint16_t tok = token_arg(r->token, &stale);

	if ((flags & 0xc0) == 0xc0) {
		CHECK_EQ(vt_promise_on_cancel(r->p, tok, NULL, NULL), VT_EINVAL);
		return;
	}
	cont_rec *c = new_cont(r, false);
	int want;
	if (stale || !r->live)
		want = VT_ETOKEN;
	else if (r->status != VT_PENDING)
		want = VT_ECOMPLETED;
	else if (r->cx != NULL)
		want = VT_EAWAITED; /* one registration per rental */
	else
		want = 0;
	if (want == 0)
		r->cx = c;
	CHECK_EQ(vt_promise_on_cancel(r->p, tok, cancel_cb, c), want);
	CHECK_EQ(c->ran, 0);
}

static void op_compose(void)
{
	rental *r = slot_arg();
	uint8_t sub = next_byte();

	if (r == NULL)
		return;
	switch (sub % 4) {
	case 0:
		op_forget(r);
		break;
	case 1:
		op_cancel(r);
		break;
	case 2:
		op_then(r, sub);
		break;
	case 3:
		op_on_cancel(r, sub);
		break;
	}
}

/* ---- tasks without a source ------------------------------------------------------ */

static void op_value_task(void)
{
	uint8_t b = next_byte();
	vt_value v;
	vt_task t;
	int want_rc, want_st;
	int64_t want_v = 0;

	if (b & 1) {
		int e = error_choices[(b >> 1) % (sizeof(error_choices) / sizeof(error_choices[0]))];
		t = vt_task_from_error(e);
		int st = error_status(e);
		want_rc = st == VT_EINVAL ? VT_EINVAL : e;
		want_st = st == VT_EINVAL ? VT_FAULTED : st;
	} else if (b & 2) {
		memset(&t, 0, sizeof(t)); /* a zeroed task: completed, value 0 */
		want_rc = 0;
		want_st = VT_SUCCEEDED;
	} else {
		want_v = (int8_t)next_byte();
		t = vt_task_from_value(vt_value_i64(want_v));
		want_rc = 0;
		want_st = VT_SUCCEEDED;
	}
	CHECK(vt_task_source(t) == NULL);
	CHECK_EQ(vt_task_token(t), 0);
	for (int i = 0; i < 2; i++) { /* read and await any number of times */
		CHECK(vt_task_is_completed(t));
		CHECK_EQ(vt_task_status(t), want_st);
		v.i64 = -1;
		CHECK_EQ(vt_task_get_result(t, &v), want_rc);
		if (want_rc == 0)
			CHECK_EQ(v.i64, want_v);
		CHECK_EQ(vt_task_get_result(t, NULL), VT_EINVAL);
		CHECK_EQ(vt_task_on_completed(t, NULL, NULL, NULL), VT_EINVAL);
		int exsel = (b >> 5) % 3;
		cont_rec *c = new_cont(NULL, false);
		model_dispatch(c);
		CHECK_EQ(vt_task_on_completed(t, cont_fn, c, executor_of(exsel)), 0);
		if (exsel != EX_QUEUE)
			CHECK_EQ(c->ran, 1);
		/* Composition on a task that carries its result: nothing to
		 * forget or cancel; then hands the result over (any number of
		 * times: nothing is consumed). */
		CHECK_EQ(vt_task_forget(t), 0);
		CHECK_EQ(vt_task_cancel(t), VT_ECOMPLETED);
		CHECK_EQ(vt_task_then(t, NULL, NULL, executor_of(exsel)), VT_EINVAL);
		c = new_cont(NULL, false);
		c->want_err = want_rc;
		c->want_v = want_v;
		model_dispatch(c);
		CHECK_EQ(vt_task_then(t, then_fn, c, executor_of(exsel)), 0);
		if (exsel != EX_QUEUE)
			CHECK_EQ(c->ran, 1);
	}
	CHECK(vt_task_is_completed(vt_task_from_source(NULL, 0)));
	CHECK_EQ(vt_task_get_result(vt_task_from_source(NULL, 0), &v), VT_EINVAL);
}

/* ---- a bare vt_core ---------------------------------------------------------------- */

static struct bare {
	vt_core core;
	uint16_t version;
	int status;
	int64_t value;
	bool awaited;
	cont_rec *cont; /* registered while pending */
	int reg_ex;     /* executor chosen at registration (EX_*) */
	int core_ex;    /* the core's own executor */
} bares[2];

static void op_core(void)
{
	struct bare *b = &bares[next_byte() % 2];
	uint8_t sub = next_byte();
	bool stale;
	vt_value v = vt_value_i64(0);
	int64_t want_v = 0;
	int want;

	switch (sub % 9) {
	case 0: /* reset: version + 1, pending; a registration is dropped unrun */
		vt_core_reset(&b->core);
		b->version++;
		b->status = VT_PENDING;
		b->awaited = false;
		b->cont = NULL;
		break;
	case 1: { /* set_result */
		int64_t val = (int8_t)next_byte();
		want = b->status != VT_PENDING ? VT_ECOMPLETED : 0;
		if (want == 0) {
			b->status = VT_SUCCEEDED;
			b->value = val;
			if (b->cont != NULL)
				model_dispatch(b->cont);
		}
		CHECK_EQ(vt_core_set_result(&b->core, vt_value_i64(val)), want);
		if (want == 0 && b->cont != NULL && b->reg_ex != EX_QUEUE)
			CHECK_EQ(b->cont->ran, 1);
		break;
	}
	case 2: { /* set_error */
		int e = error_choices[next_byte() % (sizeof(error_choices) / sizeof(error_choices[0]))];
		int st = error_status(e);
		want = st == VT_EINVAL ? VT_EINVAL : b->status != VT_PENDING ? VT_ECOMPLETED : 0;
		if (want == 0) {
			b->status = st;
			b->value = e;
			if (b->cont != NULL)
				model_dispatch(b->cont);
		}
		CHECK_EQ(vt_core_set_error(&b->core, e), want);
		break;
	}
	case 3: { /* status */
		uint16_t tok = token_arg(b->version, &stale);
		CHECK_EQ(vt_core_status(&b->core, tok), stale ? VT_ETOKEN : b->status);
		break;
	}
	case 4: { /* get_result: no state change */
		uint16_t tok = token_arg(b->version, &stale);
		if (stale)
			want = VT_ETOKEN;
		else if (b->status == VT_PENDING)
			want = VT_EPENDING;
		else
			want = b->status == VT_SUCCEEDED ? 0 : (int)b->value;
		CHECK_EQ(vt_core_get_result(&b->core, tok, NULL), VT_EINVAL);
		int rc = vt_core_get_result(&b->core, tok, &v);
		CHECK_EQ(rc, want);
		if (rc == 0)
			CHECK_EQ(v.i64, b->value);
		break;
	}
	case 5: { /* consume: result and version + 1 in one step */
		uint16_t tok = token_arg(b->version, &stale);
		if (stale) {
			want = VT_ETOKEN;
		} else if (b->status == VT_PENDING) {
			want = VT_EPENDING;
		} else {
			want = b->status == VT_SUCCEEDED ? 0 : (int)b->value;
			want_v = b->value;
			b->version++;
			b->status = VT_PENDING;
			b->awaited = false;
			b->cont = NULL;
		}
		int rc = vt_core_consume(&b->core, tok, &v);
		CHECK_EQ(rc, want);
		if (rc == 0)
			CHECK_EQ(v.i64, want_v);
		break;
	}
	case 6: { /* on_completed */
		uint16_t tok = token_arg(b->version, &stale);
		int exsel = next_byte() % 3;
		cont_rec *c = new_cont(NULL, false);
		CHECK_EQ(vt_core_on_completed(&b->core, tok, NULL, NULL, NULL), VT_EINVAL);
		want = stale ? VT_ETOKEN : b->awaited ? VT_EAWAITED : 0;
		int where = exsel != EX_NONE ? exsel : b->core_ex;
		if (want == 0) {
			b->awaited = true;
			if (b->status == VT_PENDING) {
				b->cont = c;
				b->reg_ex = where;
			} else {
				model_dispatch(c);
			}
		}
		CHECK_EQ(vt_core_on_completed(&b->core, tok, cont_fn, c, executor_of(exsel)), want);
		if (want == 0 && b->status != VT_PENDING && where != EX_QUEUE)
			CHECK_EQ(c->ran, 1);
		break;
	}
	case 7: /* the core's executor: survives reset */
		b->core_ex = next_byte() % 3;
		vt_core_set_executor(&b->core, executor_of(b->core_ex));
		break;
	case 8:
		CHECK_EQ(vt_core_version(&b->core), b->version);
		CHECK_EQ(vt_core_version(NULL), 0);
		CHECK_EQ(vt_core_set_result(NULL, v), VT_EINVAL);
		CHECK_EQ(vt_core_status(NULL, 0), VT_EINVAL);
		break;
	}
}

/* ---- the interpreter ------------------------------------------------------------------ */

enum {
	OP_RENT, OP_STATUS, OP_ON_COMPLETED, OP_SET_RESULT, OP_SET_ERROR, OP_GET_RESULT,
	OP_DOUBLE_CONSUME, OP_DRAIN, OP_EXHAUST, OP_STATS, OP_VERSION, OP_VALUE_TASK,
	OP_CORE, OP_CORE2, OP_RENT2,
	OP_COMPOSE, /* forget, cancel, then, on_cancel (a sub-opcode byte) */
	NOPS
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_pool_config cfg;
	static int trace = -1;

	if (trace < 0)
		trace = getenv("VT_FUZZ_TRACE") != NULL;

	if (size > MAX_OPS)
		size = MAX_OPS;
	in_data = data;
	in_size = size;
	in_pos = 0;

	/* Reset the model. */
	memset(slots, 0, sizeof(slots));
	nrentals = nconts = 0;
	live_count = 0;
	model_rents = model_returns = 0;
	queue_ex.ex.post = queue_post;
	queue_ex.head = queue_ex.tail = 0;
	for (int i = 0; i < 2; i++) {
		memset(&bares[i], 0, sizeof(bares[i]));
		vt_core_init(&bares[i].core);
	}

	uint8_t c0 = next_byte();
	vt_pool_config_default(&cfg);
	capacity = 1 + c0 % 8;
	cfg.capacity = capacity;
	cfg.slab_objects = 1 + (c0 >> 3) % 4;
	cfg.cache_size = (c0 >> 5) % 4; /* 0: no thread caches */
	cfg.initial_objects = (c0 & 0x80) ? capacity : 0;
	cfg.max_threads = 2;
	CHECK_EQ(vt_promise_pool_create(&pool, &cfg), 0);

	while (in_pos < in_size) {
		uint8_t op = next_byte() % NOPS;
		if (trace)
			fprintf(stderr, "op %d at %zu (live %u)\n", op, in_pos - 1, live_count);
		switch (op) {
		case OP_RENT:
		case OP_RENT2:
			op_rent();
			break;
		case OP_STATUS:
			op_status();
			break;
		case OP_ON_COMPLETED:
			op_on_completed();
			break;
		case OP_SET_RESULT:
			op_set_result();
			break;
		case OP_SET_ERROR:
			op_set_error();
			break;
		case OP_GET_RESULT:
			op_get_result();
			break;
		case OP_DOUBLE_CONSUME:
			op_double_consume();
			break;
		case OP_DRAIN:
			drain();
			break;
		case OP_EXHAUST:
			op_exhaust();
			break;
		case OP_STATS:
			op_stats();
			break;
		case OP_VERSION:
			op_version();
			break;
		case OP_VALUE_TASK:
			op_value_task();
			break;
		case OP_CORE:
		case OP_CORE2:
			op_core();
			break;
		case OP_COMPOSE:
			op_compose();
			break;
		default:
			break;
		}
	}

	/* Wind down: run what is queued, complete and consume what is live. */
	drain();
	for (int i = 0; i < nrentals; i++) {
		rental *r = &rentals[i];
		if (r->live && r->status == VT_PENDING) {
			CHECK_EQ(model_complete(r, false, VT_SUCCEEDED, i), 0);
			CHECK_EQ(vt_promise_set_result(r->p, r->token, vt_value_i64(i)), 0);
			after_complete(r);
		}
	}
	drain();
	for (int i = 0; i < nrentals; i++)
		if (rentals[i].live)
			consume_checked(&rentals[i], false);
	/* Every continuation ran exactly as often as the model dispatched it:
	 * once per accepted registration that completed, never otherwise. */
	for (int i = 0; i < nconts; i++) {
		CHECK_EQ(conts[i].ran, conts[i].dispatched);
		CHECK(conts[i].ran <= 1);
	}
	op_stats();
	CHECK_EQ(live_count, 0);
	CHECK_EQ(vt_promise_pool_destroy(&pool), 0);
	CHECK(pool == NULL);
	return 0;
}
