/*
 * Futex and spin helpers shared by the executors and by compose/ (never
 * installed). Linux only: the library targets Linux servers (SPEC §1).
 */
#ifndef VT_FUTEX_INTERNAL_H
#define VT_FUTEX_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "valuetask/common.h"

/* Sleep while *addr == expected (or until woken; spurious returns happen). */
static inline void vt__futex_wait(uint32_t *addr, uint32_t expected)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

/* Wake up to n threads sleeping on addr. */
static inline void vt__futex_wake(uint32_t *addr, int n)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void vt__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * The full barrier of a store-buffering pair (each side stores, then loads
 * what the other stored) whose store side just did a seq_cst or acq_rel
 * read-modify-write: between that RMW and the loads after it.
 *  - x86: the RMW is a locked instruction, already a full barrier, and the
 *    compiler does not hoist later loads above it; a compiler barrier is
 *    all that is left to add.
 *  - elsewhere (AArch64, POWER): an RMW does not order its store before
 *    later loads (C11 says the same: a relaxed load after a seq_cst RMW may
 *    miss the other side's store), so this is a seq_cst fence.
 * Not exercised on a weakly ordered CPU: none was available to test on.
 */
#if defined(__x86_64__) || defined(__i386__)
#define vt__fence_after_rmw() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#else
#define vt__fence_after_rmw() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/*
 * One round of waiting for another thread to run a few instructions: spin
 * (pause) for the first 64 rounds, then yield, since on an oversubscribed
 * machine the thread we wait for may be preempted. *spins starts at 0.
 */
static inline void vt__spin_backoff(unsigned int *spins)
{
	if (*spins < 64) {
		vt__cpu_relax();
		(*spins)++;
	} else {
		sched_yield();
	}
}

#endif /* VT_FUTEX_INTERNAL_H */
