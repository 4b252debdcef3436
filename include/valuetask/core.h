/*
 * valuetask: vt_core, the embeddable versioned completion core
 * (.NET's ManualResetValueTaskSourceCore<T>).
 *
 * A core holds one result at a time. Every call that names an operation
 * takes the 16-bit token (the version) it was issued under; a token that no
 * longer matches answers VT_ETOKEN and changes nothing. vt_core_consume()
 * reads the result and moves to the next version in one atomic step.
 *
 * Protocol (all state lives in one 64-bit word, `state`):
 *
 *   bits 0..15  version           bits 16..17 status (0 = still pending)
 *   bit  18     COMPLETING        bit  19     AWAITED
 *   bit  20     DETACHED (vt_task_forget; see "detaching" below)
 *
 *   completer  C1 CAS  +COMPLETING (claims the result slot; fails on a
 *                      stale token or a second completion)
 *              C2 load fn, if AWAITED (the awaiter's fields)
 *              P  store status, release (publishes value and status)
 *   awaiter    A1 CAS  +AWAITED while pending, then A2 store fn, release
 *              A3 CAS  +AWAITED once completed, then runs fn itself
 *   consumer   R1 CAS  version + 1, every flag cleared
 *
 * After C1 nobody else may write `state` until P (every other writer CASes
 * from a value without COMPLETING, or waits for the status), so P is a plain
 * release store. The cycle await -> complete -> consume costs three
 * read-modify-writes. Two short windows make one side wait for the other to
 * run a few instructions; both are off the race-free path and counted by
 * vt_core_window_waits():
 *   W1  an awaiter (or reset) that finds COMPLETING without a status waits
 *       for P (the completer is between C1 and P);
 *   W2  a completer that finds AWAITED without fn waits for A2 (the awaiter
 *       is between A1 and A2).
 * A thread preempted inside its window delays the other side until it runs
 * again; the waiter spins briefly, then yields.
 */
#ifndef VALUETASK_CORE_H
#define VALUETASK_CORE_H

#include <errno.h>

#include "common.h"
#include "error.h"
#include "executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_core {
	/* private: read and written only through the vt_core_* calls */
	uint64_t state;         /* version | status | flags, see above */
	uint64_t value;         /* the result's bits, or the error */
	vt_continuation fn;     /* registered continuation; non-NULL once published (A2) */
	void *fn_state;         /* its argument */
	vt_executor *fn_ex;     /* where it runs, chosen at registration */
	vt_executor *ex;        /* the core's own executor; survives reset */
} vt_core;

#define VT__CORE_VERSION_MASK UINT64_C(0xffff)
#define VT__CORE_STATUS_SHIFT 16
#define VT__CORE_STATUS_MASK (UINT64_C(3) << VT__CORE_STATUS_SHIFT)
#define VT__CORE_COMPLETING (UINT64_C(1) << 18)
#define VT__CORE_AWAITED (UINT64_C(1) << 19)

/*
 * The state after a consume or reset (R1, R2): version + 1, every flag
 * cleared. The debug build option -Dgeneration_check=true (VT_GENERATION_CHECK)
 * also keeps bits 32..63 as an epoch, the number of times the 16-bit
 * version wrapped; promise tasks carry it and a stale one that matches
 * again after 65536 reuses answers VT_ETOKEN (docs/reliability.md).
 */
#ifdef VT_GENERATION_CHECK
#define VT__CORE_EPOCH_SHIFT 32
#define VT__CORE_NEXT(s)                                                              \
	(((s) & VT__CORE_VERSION_MASK) == VT__CORE_VERSION_MASK                        \
		 ? (((s) >> VT__CORE_EPOCH_SHIFT) + 1) << VT__CORE_EPOCH_SHIFT         \
		 : (((s) >> VT__CORE_EPOCH_SHIFT) << VT__CORE_EPOCH_SHIFT) |           \
			   (((s) + 1) & VT__CORE_VERSION_MASK))
#else
#define VT__CORE_NEXT(s) (((s) + 1) & VT__CORE_VERSION_MASK)
#endif

/* Slow paths (lib/core.c). Kept out of line so that the inline fast paths
 * hold nothing across a call and need no callee-saved registers. */
VT_API uint64_t vt__core_wait_published(vt_core *c, uint64_t seen);
VT_API vt_continuation vt__core_wait_continuation(vt_core *c);
VT_API void vt__core_publish_waiting(vt_core *c, uint64_t seen, uint64_t status, uint64_t bits);
VT_API void vt__core_post(vt_executor *ex, vt_continuation fn, void *state);
VT_API int vt__core_on_completed_slow(vt_core *c, uint16_t token, vt_continuation fn, void *state,
				      vt_executor *ex);

/* ---- lifecycle ---------------------------------------------------------- */

/* Version 0, pending, continuations inline. Not concurrent with anything. */
VT_API void vt_core_init(vt_core *c);

/*
 * Version + 1 (mod 2^16), pending again; every older token becomes stale.
 * A continuation registered and never completed is dropped unrun. The core's
 * executor is kept. Call it only when no other thread still uses this
 * version (consume does the same thing atomically and is what pooled sources
 * use). NULL is ignored.
 */
VT_API void vt_core_reset(vt_core *c);

/* The current version, i.e. the token of the current operation. 0 for NULL. */
VT_INLINE uint16_t vt_core_version(const vt_core *c)
{
	if (c == NULL)
		return 0;
	return (uint16_t)vt__load_acquire(&c->state); /* pairs with R1 in consume */
}

/*
 * Run continuations on ex (NULL = inline) unless the awaiter names its own.
 * Survives reset. Set it while no operation is in flight. A pooled promise
 * clears it when it goes back to its pool (see promise.h): the setting is the
 * rental's, not the next renter's.
 */
VT_INLINE void vt_core_set_executor(vt_core *c, vt_executor *ex)
{
	if (c != NULL)
		vt__store_relaxed(&c->ex, ex); /* read relaxed at registration; configuration, no pairing */
}

/* ---- completing --------------------------------------------------------- */

/* P: the value, then the status, release. */
VT_INLINE void vt__core_publish_value(vt_core *c, uint64_t seen, uint64_t status, uint64_t bits)
{
	vt__store_relaxed(&c->value, bits); /* published by P */
	/* P: release; pairs with the acquire loads of status/get_result/consume,
	 * with A0 (vt__core_await_claim), A3 (vt__core_on_completed_slow) and
	 * the W1 wait (vt__core_wait_published). Nobody writes `state` between
	 * C1 and P. */
	vt__store_release(&c->state, seen | VT__CORE_COMPLETING | (status << VT__CORE_STATUS_SHIFT));
}

/*
 * The rest of C2, P, and the continuation, once C2 has read fn (non-NULL):
 * take the registration, publish, run fn (inline, or posted out of line).
 */
VT_INLINE void vt__core_publish_run(vt_core *c, uint64_t seen, uint64_t status, uint64_t bits,
				    vt_continuation fn)
{
	void *st = vt__load_relaxed(&c->fn_state); /* ordered after C2 */
	vt_executor *ex = vt__load_relaxed(&c->fn_ex);

	vt__store_relaxed(&c->fn, (vt_continuation)NULL); /* next round starts empty; published by P */
	vt__core_publish_value(c, seen, status, bits);
	if (ex == NULL)
		fn(st);
	else
		vt__core_post(ex, fn, st);
}

/*
 * C2 and P, once C1 has claimed the result slot (seen: the state C1
 * replaced), then run the continuation. The second half of
 * vt__core_complete, and of a split completion (vt__core_claim, used by
 * cancellation).
 */
VT_INLINE void vt__core_publish(vt_core *c, uint64_t seen, uint64_t status, uint64_t bits)
{
	if (seen & VT__CORE_AWAITED) {
		vt_continuation fn = vt__load_acquire(&c->fn); /* C2: pairs with A2/D2 (vt__core_register) */
		if (VT_UNLIKELY(fn == NULL))
			vt__core_publish_waiting(c, seen, status, bits); /* window W2 */
		else
			vt__core_publish_run(c, seen, status, bits, fn);
		return;
	}
	vt__core_publish_value(c, seen, status, bits);
}

/* Shared body of every completion; check == false completes whatever version is current. */
VT_INLINE int vt__core_complete(vt_core *c, bool check, uint16_t token, uint64_t status, uint64_t bits)
{
	uint64_t s = vt__load_relaxed(&c->state); /* a guess; C1 validates it */

	do {
		if (check && (uint16_t)s != token)
			return VT_ETOKEN;
		if (s & VT__CORE_COMPLETING)
			return VT_ECOMPLETED;
		/* C1: acquire; pairs with R1 (release) of the previous consume, so
		 * that round's read of `value` happens before this write of it. */
	} while (!vt__cas_acquire(&c->state, &s, s | VT__CORE_COMPLETING));
	vt__core_publish(c, s, status, bits);
	return 0;
}

/* The status an error maps to; VT_EINVAL for a code set_error refuses. */
VT_INLINE int vt__error_status(int error)
{
	if (error >= 0 || vt_is_library_error(error))
		return VT_EINVAL;
	return error == -ECANCELED ? VT_CANCELED : VT_FAULTED;
}

/*
 * Complete the current operation with v and run its continuation (if one is
 * registered: posted to its executor, else inline on this thread).
 * 0; VT_ECOMPLETED if already completed (the first result stays); VT_EINVAL.
 */
VT_INLINE int vt_core_set_result(vt_core *c, vt_value v)
{
	if (c == NULL)
		return VT_EINVAL;
	return vt__core_complete(c, false, 0, VT_SUCCEEDED, v.u64);
}

/*
 * Complete the current operation with a failure: error < 0 and not a
 * library code (by convention -errno; -ECANCELED means canceled).
 * 0; VT_EINVAL for a non-negative or library code; VT_ECOMPLETED.
 */
VT_INLINE int vt_core_set_error(vt_core *c, int error)
{
	int st = vt__error_status(error);

	if (c == NULL || st < 0)
		return VT_EINVAL;
	return vt__core_complete(c, false, 0, (uint64_t)st, (uint64_t)(int64_t)error);
}

/* ---- observing ---------------------------------------------------------- */

/* VT_PENDING until the result is fully published, then its status; VT_ETOKEN; VT_EINVAL. */
VT_INLINE int vt_core_status(const vt_core *c, uint16_t token)
{
	uint64_t s;

	if (c == NULL)
		return VT_EINVAL;
	s = vt__load_acquire(&c->state); /* pairs with P */
	if ((uint16_t)s != token)
		return VT_ETOKEN;
	return (int)((s & VT__CORE_STATUS_MASK) >> VT__CORE_STATUS_SHIFT);
}

/*
 * Read the result without consuming it: 0 and *out = value; the stored
 * negative error (faulted or canceled; *out untouched); VT_EPENDING;
 * VT_ETOKEN; VT_EINVAL (c or out NULL). Never blocks.
 */
VT_INLINE int vt_core_get_result(vt_core *c, uint16_t token, vt_value *out)
{
	uint64_t s, bits;

	if (c == NULL || out == NULL)
		return VT_EINVAL;
	s = vt__load_acquire(&c->state); /* pairs with P */
	if ((uint16_t)s != token)
		return VT_ETOKEN;
	if (!(s & VT__CORE_STATUS_MASK))
		return VT_EPENDING;
	bits = vt__load_relaxed(&c->value);
	/* The value must belong to the version checked above: re-check after the
	 * read (acquire fence orders the load of value before the reload; pairs
	 * with R1, which a recycle would have gone through). */
	vt__fence_acquire();
	if ((uint16_t)vt__load_relaxed(&c->state) != (uint16_t)s)
		return VT_ETOKEN;
	if ((s & VT__CORE_STATUS_MASK) == ((uint64_t)VT_SUCCEEDED << VT__CORE_STATUS_SHIFT)) {
		out->u64 = bits;
		return 0;
	}
	return (int)(int64_t)bits;
}

/*
 * Take the result and move to the next version, as one step (R1).
 * > 0: the status (the caller won; *bits holds the value or the error);
 * VT_ETOKEN (stale, or another caller won); VT_EPENDING (nothing changed).
 */
VT_INLINE int vt__core_take(vt_core *c, uint16_t token, uint64_t *bits)
{
	uint64_t s = vt__load_acquire(&c->state); /* pairs with P */

	do {
		if ((uint16_t)s != token)
			return VT_ETOKEN;
		if (!(s & VT__CORE_STATUS_MASK))
			return VT_EPENDING;
		*bits = vt__load_relaxed(&c->value); /* published by P, validated by R1 */
		/* R1: acq_rel. Release pairs with C1/A1 of the next round (this
		 * round's reads finish before that round writes); acquire pairs
		 * with P. Success means nobody moved the version since the read. */
	} while (!vt__cas_acq_rel(&c->state, &s, VT__CORE_NEXT(s)));
	return (int)((s & VT__CORE_STATUS_MASK) >> VT__CORE_STATUS_SHIFT);
}

/*
 * get_result and reset as one atomic step: once completed, exactly one
 * caller wins (gets what get_result would) and every other gets VT_ETOKEN;
 * while pending, VT_EPENDING and nothing changes. VT_EINVAL for NULLs.
 */
VT_INLINE int vt_core_consume(vt_core *c, uint16_t token, vt_value *out)
{
	uint64_t bits;
	int st;

	if (c == NULL || out == NULL)
		return VT_EINVAL;
	st = vt__core_take(c, token, &bits);
	if (st == VT_SUCCEEDED) {
		out->u64 = bits;
		return 0;
	}
	return st < 0 ? st : (int)(int64_t)bits;
}

/* ---- awaiting ----------------------------------------------------------- */

/*
 * A1 (D1 with extra = DETACHED) for `token`, waiting out window W1: 0 when
 * this call set AWAITED | extra on the pending core; 1 when the core is
 * completed and published (nothing changed; *seen is that state);
 * VT_ETOKEN; VT_EAWAITED.
 */
VT_INLINE int vt__core_await_claim(vt_core *c, uint16_t token, uint64_t extra, uint64_t *seen)
{
	uint64_t s = vt__load_acquire(&c->state); /* A0: pairs with P */

	for (;;) {
		if ((uint16_t)s != token)
			return VT_ETOKEN;
		if (s & VT__CORE_AWAITED)
			return VT_EAWAITED;
		if (!(s & VT__CORE_COMPLETING)) {
			/* A1/D1: acquire; pairs with R1 of the previous round, so
			 * that round's reads of the fields finish before we write
			 * them. */
			if (vt__cas_acquire(&c->state, &s, s | VT__CORE_AWAITED | extra))
				return 0;
			continue;
		}
		if (!(s & VT__CORE_STATUS_MASK)) {
			s = vt__core_wait_published(c, s); /* window W1 */
			continue;
		}
		*seen = s;
		return 1;
	}
}

/* After A1 (or D1) won: the registration's fields, then A2, fn (release). */
VT_INLINE void vt__core_register(vt_core *c, vt_continuation fn, void *state, vt_executor *ex)
{
	vt__store_relaxed(&c->fn_state, state);
	vt__store_relaxed(&c->fn_ex, ex);
	vt__store_release(&c->fn, fn); /* A2 (D2 for detach): pairs with C2 in vt__core_publish */
}

/*
 * Run fn(state) once the operation completes: posted to ex if given, else to
 * the core's executor, else inline (on the completing thread, or here when
 * already complete). 0; VT_EINVAL (c or fn NULL); VT_ETOKEN; VT_EAWAITED if a
 * continuation was already registered or already ran (the first is untouched).
 */
VT_INLINE int vt_core_on_completed(vt_core *c, uint16_t token, vt_continuation fn, void *state,
				   vt_executor *ex)
{
	uint64_t s;

	if (c == NULL || fn == NULL)
		return VT_EINVAL;
	s = vt__load_acquire(&c->state); /* A0: pairs with P */
	/* The common case, pending and not awaited, here; every other state
	 * (and a lost CAS) in vt__core_on_completed_slow, which starts over. */
	if ((uint16_t)s == token && !(s & (VT__CORE_AWAITED | VT__CORE_COMPLETING)) &&
	    /* A1: acquire; pairs with R1 of the previous round, so that
	     * round's reads of the fields finish before we write them. */
	    vt__cas_acquire(&c->state, &s, s | VT__CORE_AWAITED)) {
		vt__core_register(c, fn, state, ex != NULL ? ex : vt__load_relaxed(&c->ex));
		return 0;
	}
	return vt__core_on_completed_slow(c, token, fn, state, ex);
}

/* ---- detaching and split completion (composition, issue 4) -------------
 *
 * Additive primitives for vt_task_forget and cancellation. They leave the
 * calls above, and their three read-modify-writes per cycle, untouched.
 *
 *   D1  CAS +AWAITED|DETACHED while pending (like A1); D2 store fn = the
 *       release hook, release (like A2). The completer's C2 takes the hook
 *       like any continuation and runs it inline after P. The hook consumes
 *       with vt__core_take_detached, which moves the version only while the
 *       state word itself says "this version is detached and published":
 *       it needs no token, so a hook that runs late can never take a later
 *       rental's result (SPEC §4.1 rule 4) - a later rental is either not
 *       detached (left alone) or detached and published, in which case
 *       consuming it is exactly what its own hook would do, once (the CAS).
 *
 *   vt__core_claim / vt__core_publish split vt__core_complete at C1, so
 *   that a canceler can do one step between winning the result slot and
 *   publishing it (take the producer's cancel callback). The claim is a
 *   seq_cst CAS: it is one side of a store-buffering pair with the
 *   registration of a cancel callback (pool/promise.c).
 */
#define VT__CORE_DETACHED (UINT64_C(1) << 20)

/*
 * Detach rental `token`: nobody will consume it; release(arg) runs on the
 * completing thread once it completes. 0 (detached, pending); 1 (already
 * completed: nothing changed, the caller consumes it now with the token);
 * VT_ETOKEN; VT_EAWAITED (a continuation is registered or ran).
 */
VT_INLINE int vt__core_detach(vt_core *c, uint16_t token, vt_continuation release, void *arg)
{
	uint64_t s;
	int rc = vt__core_await_claim(c, token, VT__CORE_DETACHED, &s); /* D1 */

	if (rc == 0)
		vt__core_register(c, release, arg, NULL); /* D2; no executor: inline on the completer */
	return rc;
}

/*
 * Consume whatever version is current if, and only if, the state word says
 * it is detached and published (see above). true: this caller won R1 (the
 * object may be recycled); false: nothing changed.
 */
VT_INLINE bool vt__core_take_detached(vt_core *c)
{
	uint64_t s = vt__load_acquire(&c->state); /* pairs with P */

	do {
		if (!(s & VT__CORE_DETACHED) || !(s & VT__CORE_STATUS_MASK))
			return false;
		/* R1 (detached): acq_rel, as in vt__core_take. */
	} while (!vt__cas_acq_rel(&c->state, &s, VT__CORE_NEXT(s)));
	return true;
}

/* C1 alone, seq_cst: 0 and *seen = the state before the claim; VT_ETOKEN;
 * VT_ECOMPLETED. After 0 the caller must call vt__core_publish soon: every
 * other party that meets the claim waits for it (window W1). */
VT_INLINE int vt__core_claim(vt_core *c, uint16_t token, uint64_t *seen)
{
	uint64_t s = vt__load_relaxed(&c->state); /* a guess; the CAS validates it */

	do {
		if ((uint16_t)s != token)
			return VT_ETOKEN;
		if (s & VT__CORE_COMPLETING)
			return VT_ECOMPLETED;
		/* C1 (seq_cst): pairs with R1 like C1, and with the cancel
		 * registration's seq_cst load of the state (promise.c). */
	} while (!__atomic_compare_exchange_n(&c->state, &s, s | VT__CORE_COMPLETING, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	*seen = s;
	return 0;
}

/*
 * Diagnostics: how many times, process-wide, one side of a race waited in
 * window W1 or W2 (see the top of this file). 0 when no race was hit.
 */
VT_API uint64_t vt_core_window_waits(void);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_CORE_H */
