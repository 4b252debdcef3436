/*
 * vt_core: the slow paths of the protocol described in core.h. The hot paths
 * are inline in the header.
 */
#include "futex_internal.h"
#include "valuetask/core.h"

#if defined(VT_POOL_VALGRIND) && VT_POOL_VALGRIND
#include <valgrind/memcheck.h>
#endif

/* How often one side of a race waited in window W1 or W2 (diagnostics). */
static uint64_t vt__window_waits;

/*
 * Window W1: `seen` has COMPLETING without a status, so a completer is
 * between C1 and P. Wait until the state word moves (P is the only write
 * that can come next) and return what it moved to.
 */
uint64_t vt__core_wait_published(vt_core *c, uint64_t seen)
{
	unsigned int spins = 0;
	uint64_t s;

	vt__fetch_add_relaxed(&vt__window_waits, 1); /* statistics only, no ordering */
	while ((s = vt__load_acquire(&c->state)) == seen) /* pairs with P in complete */
		vt__spin_backoff(&spins);
	return s;
}

/*
 * Window W2: the completer saw AWAITED, so an awaiter is between A1 and A2.
 * Wait for A2 to publish the continuation.
 */
vt_continuation vt__core_wait_continuation(vt_core *c)
{
	unsigned int spins = 0;
	vt_continuation fn;

	vt__fetch_add_relaxed(&vt__window_waits, 1); /* statistics only, no ordering */
	while ((fn = vt__load_acquire(&c->fn)) == NULL) /* pairs with A2 (vt__core_register) */
		vt__spin_backoff(&spins);
	return fn;
}

/* W2, then the rest of vt__core_publish (core.h). */
void vt__core_publish_waiting(vt_core *c, uint64_t seen, uint64_t status, uint64_t bits)
{
	vt__core_publish_run(c, seen, status, bits, vt__core_wait_continuation(c));
}

/* Post fn to ex; run it here if ex refuses (never lose it). */
void vt__core_post(vt_executor *ex, vt_continuation fn, void *state)
{
	(void)vt_executor_dispatch(ex, fn, state);
}

/*
 * A3's read of the core's own executor, before its CAS. The CAS validates
 * it: success means the version did not move since the state was loaded,
 * so the read belongs to this rental. In a misuse race (another consumer
 * of the same token) the core can be consumed and, if pooled, returned
 * between the load and this read; pool memory is type-stable, so the read
 * is harmless and its value is dropped when the CAS fails, but a pooled
 * object's poisoning (docs/reliability.md) covers `ex` and would report
 * it. This one read is exempt; every other access to a free object is
 * still checked (vt_core_set_executor on a consumed promise included).
 */
__attribute__((noinline, no_sanitize_address)) static vt_executor *vt__core_ex_unchecked(vt_core *c)
{
	vt_executor *ex;

#ifdef VALGRIND_DISABLE_ERROR_REPORTING
	VALGRIND_DISABLE_ERROR_REPORTING;
#endif
	ex = vt__load_relaxed(&c->ex); /* configuration; validated by A3's CAS */
#ifdef VALGRIND_ENABLE_ERROR_REPORTING
	VALGRIND_ENABLE_ERROR_REPORTING;
#endif
	return ex;
}

/*
 * vt_core_on_completed past its fast path: the state was not "pending, not
 * awaited" for this token, or A1's CAS lost a race. Starts over from a
 * fresh load.
 */
int vt__core_on_completed_slow(vt_core *c, uint16_t token, vt_continuation fn, void *state, vt_executor *ex)
{
	for (;;) {
		uint64_t s;
		vt_executor *run_ex;
		int rc = vt__core_await_claim(c, token, 0, &s); /* A1, waiting out W1 */

		if (rc == 0) {
			vt__core_register(c, fn, state, ex != NULL ? ex : vt__load_relaxed(&c->ex));
			return 0;
		}
		if (rc < 0)
			return rc; /* VT_ETOKEN, VT_EAWAITED */
		/* A3: acquire; pairs with P. Completed: mark it awaited (a second
		 * await answers VT_EAWAITED) and run the continuation ourselves.
		 * The executor is read before the CAS: once it succeeds, a racing
		 * consumer may recycle the core. A lost CAS starts over. */
		run_ex = ex != NULL ? ex : vt__core_ex_unchecked(c);
		if (vt__cas_acquire(&c->state, &s, s | VT__CORE_AWAITED)) {
			vt_executor_dispatch(run_ex, fn, state);
			return 0;
		}
	}
}

#ifdef VT_GENERATION_CHECK
VT_API _Thread_local uint32_t vt__task_epoch; /* declared in task.h */
#endif

uint64_t vt_core_window_waits(void)
{
	return vt__load_relaxed(&vt__window_waits); /* statistics only */
}

void vt_core_init(vt_core *c)
{
	if (c == NULL)
		return;
	/* Plain initialisation: nothing may use the core concurrently yet; the
	 * pool or the caller publishes it (ring enqueue, thread creation). */
	c->state = 0;
	c->value = 0;
	c->fn = NULL;
	c->fn_state = NULL;
	c->fn_ex = NULL;
	c->ex = NULL;
}

void vt_core_reset(vt_core *c)
{
	uint64_t s;

	if (c == NULL)
		return;
	s = vt__load_acquire(&c->state); /* pairs with P */
	for (;;) {
		if ((s & VT__CORE_COMPLETING) && !(s & VT__CORE_STATUS_MASK)) {
			s = vt__core_wait_published(c, s); /* W1: never move the version under a completer */
			continue;
		}
		/* R2: acq_rel, like R1 in vt__core_take: the next round's C1/A1
		 * acquire it. */
		if (vt__cas_acq_rel(&c->state, &s, VT__CORE_NEXT(s)))
			break;
	}
	/* A registration that never completed is dropped: wait for its A2 (the
	 * awaiter may sit in W2's window) and clear it, so that the next
	 * round's completer never takes it for its own. */
	if ((s & VT__CORE_AWAITED) && !(s & VT__CORE_COMPLETING)) {
		if (vt__load_acquire(&c->fn) == NULL) /* pairs with A2 */
			(void)vt__core_wait_continuation(c); /* W2: the awaiter is mid-registration */
		vt__store_relaxed(&c->fn, (vt_continuation)NULL); /* same thread publishes the next token */
	}
}
