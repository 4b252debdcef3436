/*
 * vt_task_wait: spin, then register a waking continuation and park on a
 * futex.
 *
 * Waiter word: 0 = the waker has not run, 2 = the waiter sleeps (or is
 * about to), 1 = done.
 *   waiter  WT1 CAS 0 -> 2 (acquire), then futex_wait(word, 2) until 1
 *   waker   WK1 xchg word = 1 (acq_rel); futex_wake only if it was 2
 * So a completion that arrives during the spin, or before the waiter
 * parks, costs no system call. The waker's futex_wake may reach the word
 * after the waiter saw 1 and returned (its stack slot reused): the kernel
 * treats that as a spurious wake-up of whoever waits there, which every
 * futex waiter tolerates.
 */
#include "compose_internal.h"
#include "valuetask/wait.h"

#define VT__WAIT_SPIN 256 /* status polls before registering */

static int vt__refuse_post(vt_executor *self, vt_continuation fn, void *state)
{
	(void)self;
	(void)fn;
	(void)state;
	return 1; /* refused: vt_executor_dispatch runs it inline */
}

vt_executor vt__inline_executor = { vt__refuse_post };

void vt__waiter_wake(void *arg)
{
	uint32_t *word = arg;

	/* WK1: acq_rel; pairs with WT1 and with the waiter's acquire loads. */
	if (__atomic_exchange_n(word, 1, __ATOMIC_ACQ_REL) == 2)
		vt__futex_wake(word, 1);
}

void vt__waiter_park(uint32_t *word)
{
	for (int i = 0; i < VT__WAIT_SPIN; i++) {
		if (vt__load_acquire(word) == 1) /* pairs with WK1 */
			return;
		vt__cpu_relax();
	}
	for (;;) {
		uint32_t w = 0;
		/* WT1: acquire; pairs with WK1 (a failed CAS reads 1 or 2). */
		if (!vt__cas_acquire(word, &w, 2) && w == 1)
			return;
		vt__futex_wait(word, 2);
		if (vt__load_acquire(word) == 1) /* pairs with WK1 */
			return;
	}
}

void vt__backoff_sleep(unsigned int *round)
{
	unsigned int r = (*round)++;

	if (r < 64) {
		vt__cpu_relax();
	} else if (r < 128) {
		sched_yield();
	} else {
		long ns = 1000L << ((r - 128) < 10 ? (r - 128) : 10); /* 1 us .. 1 ms */
		struct timespec ts = { 0, ns > 1000000L ? 1000000L : ns };
		nanosleep(&ts, NULL);
	}
}

int vt_task_wait(vt_task t, vt_value *out)
{
	uint32_t word = 0;
	unsigned int round = 0;
	int rc;

	if (out == NULL)
		return VT_EINVAL;
	if (!VT__TASK_HAS_SOURCE(t))
		return vt_task_get_result(t, out);
	for (int i = 0; i < VT__WAIT_SPIN; i++) {
		if (vt_task_is_completed(t)) /* a stale task answers true: get_result says VT_ETOKEN */
			return vt_task_get_result(t, out);
		vt__cpu_relax();
	}
	rc = vt_task_on_completed(t, vt__waiter_wake, &word, &vt__inline_executor);
	if (rc == 0) {
		vt__waiter_park(&word);
		return vt_task_get_result(t, out);
	}
	if (rc != VT_EAWAITED)
		return rc; /* VT_ETOKEN */
	/* Someone else's continuation is registered: poll. */
	while (!vt_task_is_completed(t))
		vt__backoff_sleep(&round);
	return vt_task_get_result(t, out);
}
