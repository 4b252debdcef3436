/*
 * vt_when: when_all / when_any as a vt_source over caller storage.
 *
 * The starter copies every input into its node first, then registers a
 * continuation on each (inline executor: the callback only records and
 * counts). `remaining` starts at n + 1; the starter drops its 1 last, so the
 * combination cannot complete while it is still registering.
 *   node callback  consume the input into the node; done = 1 (release);
 *                  when_all: CAS first_error if it failed; when_any: CAS
 *                  winner -1 -> index, and the winner completes the core;
 *                  then RM fetch_sub remaining (acq_rel)
 *   when_all: whoever takes remaining to 0 completes the core (token-
 *   checked), its last touch of w. when_any: the last RM is the last touch
 *   (the kind is read before it).
 *   cancel         RH CAS remaining += 1 unless 0 (a hold, like the
 *                  starter's 1), walk the nodes, then RM like a callback
 * Reuse needs remaining == 0 and the core's version moved past the last
 * combination's token (its task consumed), so no late callback or
 * completion can reach a new combination. vt_when_settled (the storage
 * may go) also waits, after remaining == 0, for the core to be published
 * and, if forgotten, released: the last touches of a when_all.
 */
#include <string.h>

#include "compose_internal.h"
#include "valuetask/compose.h"
#include "valuetask/when.h"

enum { VT__WHEN_ALL = 1, VT__WHEN_ANY = 2 };

static int vt__when_status(vt_source *src, uint16_t token)
{
	return vt_core_status(&((vt_when *)src)->core, token);
}

static int vt__when_get_result(vt_source *src, uint16_t token, vt_value *out)
{
	return vt_core_consume(&((vt_when *)src)->core, token, out);
}

static int vt__when_on_completed(vt_source *src, uint16_t token, vt_continuation fn, void *state,
				 vt_executor *ex)
{
	return vt_core_on_completed(&((vt_when *)src)->core, token, fn, state, ex);
}

static void vt__when_release(void *arg)
{
	(void)vt__core_take_detached(&((vt_when *)arg)->core); /* nothing to return: storage is the caller's */
}

static int vt__when_forget(vt_source *src, uint16_t token)
{
	vt_when *w = (vt_when *)src;
	uint64_t bits;
	int rc = vt__core_detach(&w->core, token, vt__when_release, w);

	if (rc != 1)
		return rc;
	rc = vt__core_take(&w->core, token, &bits);
	return rc < 0 ? rc : 0;
}

static void vt__when_drop(vt_when *w);

/* Cancel every input that has not completed; 0 if the combination was
 * still pending (whether or not an input could be canceled).
 *
 * Canceling an input can complete the combination inline, and its
 * continuation may consume it and start w again over new inputs (it has
 * settled). So the walk holds one count in `remaining`, like the starter,
 * taken only while it is not 0: w cannot settle, hence cannot be started
 * again, until the walk is over. The token is checked after the hold is
 * taken: a hold taken on a newer combination cancels nothing. */
static int vt__when_cancel(vt_source *src, uint16_t token)
{
	vt_when *w = (vt_when *)src;
	int st = vt_core_status(&w->core, token);
	uint32_t r;

	if (st < 0)
		return st;
	if (st != VT_PENDING)
		return VT_ECOMPLETED;
	r = vt__load_relaxed(&w->remaining); /* a guess; the CAS below validates it */
	do {
		if (r == 0)
			return 0; /* every input has completed: nothing to cancel */
		/* RH: acq_rel; acquire pairs with the starter's release of
		 * remaining (nodes and fields of the combination held), release
		 * orders nothing but is part of RM's release sequence. */
	} while (!__atomic_compare_exchange_n(&w->remaining, &r, r + 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	if (w->token == token && vt_core_version(&w->core) == token)
		for (uint32_t i = 0; i < w->n; i++)
			if (!vt__load_acquire(&w->nodes[i].done)) /* pairs with the release of done */
				(void)vt_task_cancel(w->nodes[i].task);
	vt__when_drop(w); /* the hold; the last count completes a when_all */
	return 0;
}

static const vt_source_ops vt__when_ops = {
	.status = vt__when_status,
	.get_result = vt__when_get_result,
	.on_completed = vt__when_on_completed,
	.forget = vt__when_forget,
	.cancel = vt__when_cancel,
};

void vt_when_init(vt_when *w)
{
	if (w == NULL)
		return;
	memset(w, 0, sizeof(*w));
	w->source.ops = &vt__when_ops;
	vt_core_init(&w->core);
	w->winner = -1;
}

bool vt_when_settled(const vt_when *w)
{
	uint64_t s;

	if (w == NULL)
		return false;
	if (vt__load_acquire(&w->remaining) != 0) /* pairs with RM */
		return false;
	if (!w->started)
		return true;
	/* A when_all's last RM comes before its thread completes the core
	 * (P), and a forgotten combination's release hook consumes it after
	 * P (R1 of vt__core_take_detached); each is that thread's last touch
	 * of w. So the core must show it: consumed, or published and not
	 * waiting for its hook. (A when_any's core is published before the
	 * winner's RM: remaining == 0 said it already.) */
	s = vt__load_acquire(&w->core.state); /* pairs with P and with R1 (consume, take_detached) */
	if ((uint16_t)s != w->token)
		return true; /* consumed */
	return (s & VT__CORE_STATUS_MASK) != 0 && !(s & VT__CORE_DETACHED);
}

static void vt__when_drop(vt_when *w)
{
	/* Read while this count is held: once the last RM is done, a when_any
	 * (whose task may be consumed already) has settled, and its owner may
	 * start w again, with another kind, or free it. */
	uint32_t kind = w->kind;

	/* RM: acq_rel; the last one sees every node's result (acquire) and
	 * every earlier callback's touches of w are done (release). */
	if (vt__fetch_add_acq_rel(&w->remaining, (uint32_t)-1) != 1)
		return;
	if (kind == VT__WHEN_ALL) {
		int32_t err = vt__load_relaxed(&w->first_error); /* ordered by RM */
		/* Token-checked: the last touch of w. */
		if (err < 0)
			(void)vt__core_complete(&w->core, true, w->token,
						err == -ECANCELED ? VT_CANCELED : VT_FAULTED, (uint64_t)(int64_t)err);
		else
			(void)vt__core_complete(&w->core, true, w->token, VT_SUCCEEDED, (uint64_t)w->n);
	}
}

static void vt__when_input_done(vt_when_node *nd, int err)
{
	vt_when *w = nd->owner;

	nd->err = err;
	vt__store_release(&nd->done, 1); /* pairs with the acquire in cancel */
	if (w->kind == VT__WHEN_ALL) {
		int32_t none = 0;
		/* relaxed: the first error is read after RM (acq_rel) */
		if (err < 0)
			(void)__atomic_compare_exchange_n(&w->first_error, &none, err, false, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED);
	} else {
		int32_t none = -1;
		/* acq_rel: exactly one winner. */
		if (__atomic_compare_exchange_n(&w->winner, &none, (int32_t)nd->index, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			if (w->flags & VT_WHEN_CANCEL_LOSERS)
				for (uint32_t i = 0; i < w->n; i++)
					if (i != nd->index && !vt__load_acquire(&w->nodes[i].done)) /* pairs with done */
						(void)vt_task_cancel(w->nodes[i].task);
			(void)vt__core_complete(&w->core, true, w->token, VT_SUCCEEDED, (uint64_t)nd->index);
		}
	}
	vt__when_drop(w);
}

static void vt__when_on_input(void *arg)
{
	vt_when_node *nd = arg;

	nd->value.u64 = 0;
	vt__when_input_done(nd, vt_task_get_result(nd->task, &nd->value));
}

static int vt__when_start(vt_when *w, vt_when_node *nodes, const vt_task *tasks, size_t n, uint32_t kind,
			  unsigned int flags, vt_task *out)
{
	if (w == NULL || nodes == NULL || tasks == NULL || out == NULL || n == 0 || n > (size_t)INT32_MAX ||
	    (flags & ~VT_WHEN_CANCEL_LOSERS))
		return VT_EINVAL;
	if (w->started && (vt_core_version(&w->core) == w->token || !vt_when_settled(w)))
		return VT_EPENDING;
	w->nodes = nodes;
	w->n = (uint32_t)n;
	w->kind = kind;
	w->flags = flags;
	w->winner = -1;
	w->first_error = 0;
	w->token = vt_core_version(&w->core);
	w->started = 1;
	for (size_t i = 0; i < n; i++) {
		nodes[i].owner = w;
		nodes[i].task = tasks[i];
		nodes[i].index = (uint32_t)i;
		nodes[i].done = 0;
		nodes[i].err = VT_EPENDING;
		nodes[i].value.u64 = 0;
	}
	/* Release; the registrations below publish the nodes and w anyway. */
	vt__store_release(&w->remaining, (uint32_t)n + 1);
	*out = vt_task_from_source(&w->source, w->token);
	for (size_t i = 0; i < n; i++) {
		int rc = vt_task_on_completed(nodes[i].task, vt__when_on_input, &nodes[i], &vt__inline_executor);
		if (rc != 0)
			vt__when_input_done(&nodes[i], rc); /* stale or awaited: completes at once with the code */
	}
	vt__when_drop(w); /* the starter's 1 */
	return 0;
}

int vt_when_all(vt_when *w, vt_when_node *nodes, const vt_task *tasks, size_t n, vt_task *out)
{
	return vt__when_start(w, nodes, tasks, n, VT__WHEN_ALL, 0, out);
}

int vt_when_any(vt_when *w, vt_when_node *nodes, const vt_task *tasks, size_t n, unsigned int flags,
		vt_task *out)
{
	return vt__when_start(w, nodes, tasks, n, VT__WHEN_ANY, flags, out);
}
