/*
 * Helpers shared by the compose/ sources (never installed).
 */
#ifndef VT_COMPOSE_INTERNAL_H
#define VT_COMPOSE_INTERNAL_H

#include <sched.h>
#include <time.h>

#include "futex_internal.h" /* lib/: compose builds on lib (SPEC §6) */
#include "valuetask/executor.h"

/*
 * An executor that refuses every post, so vt_executor_dispatch runs the
 * continuation inline. Passing it to on_completed overrides the source's
 * own executor: for internal continuations that only flip a flag or count
 * (waking a waiter, counting a when_all input), running where the
 * completion happens is cheaper, and it cannot deadlock on an executor
 * whose only thread is the one waiting.
 */
extern vt_executor vt__inline_executor;

/* Park on *word until it reads `done`. *word is 0 while the waker has not
 * run; the waiter moves it to 2 before sleeping, and the waker (see
 * vt__waiter_wake) makes a system call only when it finds 2. */
void vt__waiter_park(uint32_t *word);
/* The waker's side: set *word = 1 and wake the waiter if it sleeps. */
void vt__waiter_wake(void *word);

/* Poll-wait backoff for when no continuation can be registered: spin,
 * yield, then sleep up to 1 ms. */
void vt__backoff_sleep(unsigned int *round);

#endif /* VT_COMPOSE_INTERNAL_H */
