/*
 * One thread-exit hook for the library's per-thread state (internal): the
 * pool's cache slots, the work queue's producer rings, then()'s node homes.
 *
 * Each of them hands a thread something shared on first use (a slot, a
 * ring, a home) that only a hook at the thread's exit can give back. The
 * hook is a thread-specific-data destructor, and glibc runs those in
 * rounds, in key order: another destructor may call into the library after
 * ours has run. Whatever such a late call took would never be given back,
 * so the rule is the same for every client and lives here: take per-thread
 * state only when vt__thread_exit_arm says the hook will run for it.
 *
 * One case it cannot see: a thread whose first call into the library comes
 * from a destructor in glibc's last round (PTHREAD_DESTRUCTOR_ITERATIONS,
 * reached only by destructors that re-set their keys three times) whose
 * key is younger than the library's. The library's key is set then, but
 * the round has passed it and no round follows, so the hook never runs:
 * the pool slot stays claimed (its objects are still reached by steals),
 * the work-queue ring too (its items are still drained), and the then()
 * home is lost with its nodes. Checked with a scratch program; nothing in
 * glibc tells a thread which round it is in. A younger library key (made
 * in that round) is still visited in the same round, and the hook runs.
 */
#ifndef VT_LIB_THREAD_EXIT_INTERNAL_H
#define VT_LIB_THREAD_EXIT_INTERNAL_H

#include <stdbool.h>

enum vt__exit_client {
	VT__EXIT_POOL,  /* pool.c: drain and release cache slots */
	VT__EXIT_WORKQ, /* workq.c: release producer rings */
	VT__EXIT_THEN,  /* then.c: orphan the node home */
	VT__EXIT_NCLIENTS
};

/*
 * Run hook (the client's one function) when the calling thread exits.
 * True: it will run, once, after this call. False: it will not, and the
 * caller must take nothing that only the hook could give back. That is
 * the case when no key could be made, and in a thread-specific-data
 * destructor that runs after the hooks ran. Clients run in enum order.
 */
bool vt__thread_exit_arm(enum vt__exit_client client, void (*hook)(void));

#endif /* VT_LIB_THREAD_EXIT_INTERNAL_H */
