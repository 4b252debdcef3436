/*
 * valuetask benchmarks: question 4's implementations and their worker loop.
 *
 * Every implementation instantiates the same worker loop (VTB_POOL_WORKER)
 * with its own rent and return expressions, so that the calls are direct
 * (or inline) in every one of them and the loop around them is identical.
 */
#ifndef VTB_BENCH_POOL_H
#define VTB_BENCH_POOL_H

#include <stddef.h>
#include <stdio.h>

#include "bench.h"

#define VTB_POOL_OBJECT_SIZE 64
#define VTB_POOL_MAX_DEPTH 1024

typedef struct vtb_pool_impl {
	const char *name;
	/* Make a pool of `capacity` objects of VTB_POOL_OBJECT_SIZE bytes for up
	 * to max_threads threads. 0, or -1 with a reason in err (the row is
	 * skipped and the reason printed). */
	int (*create)(void **state, unsigned capacity, int max_threads, char *err, size_t errlen);
	/* Release it; every object has been returned. */
	void (*destroy)(void *state);
	/* The worker loop (VTB_POOL_WORKER). */
	void (*worker)(vtb_thread *th);
	/* Optional: key=value pairs for the row (stats), after a measurement. */
	void (*describe)(void *state, char *buf, size_t len);
} vtb_pool_impl;

/* What each worker thread gets in th->arg. */
typedef struct vtb_pool_arg {
	void *state;
	unsigned depth;
	unsigned sample_every;
} vtb_pool_arg;

/*
 * The worker, in bursts: rent `depth` objects (writing to each), then
 * return them, oldest first; repeat until the stop flag, which is read
 * before every rent (a relaxed load of a line nobody writes during the
 * run), so a run ends soon after the stop even where one operation takes
 * ms; a burst cut short returns what it rented.
 * depth 1 is the plain rent + return; a larger depth is a server taking a
 * batch of requests and finishing them, and tests how deep each cache is.
 * One rent in sample_every is timed (th->lat), and one return in
 * sample_every (th->lat2), with the TSC, at random gaps (vtb_sample_gap).
 * ENTER/LEAVE run on the thread before the first and after the last call.
 */
#define VTB_POOL_WORKER(fname, STATE_T, RENT, RET, ENTER, LEAVE)                              \
	static void fname(vtb_thread *th)                                                     \
	{                                                                                     \
		const vtb_pool_arg *a_ = th->arg;                                             \
		STATE_T *S = a_->state;                                                       \
		void *slots_[VTB_POOL_MAX_DEPTH];                                             \
		unsigned depth_ = a_->depth, k_, n_;                                          \
		unsigned every_ = a_->sample_every;                                           \
		uint64_t rng_ = 0x9e3779b97f4a7c15u ^ (uint64_t)th->id;                      \
		unsigned rc_ = vtb_sample_gap(&rng_, every_); /* rent countdown */            \
		unsigned tc_ = vtb_sample_gap(&rng_, every_); /* return countdown */          \
		uint64_t ops_ = 0;                                                            \
		(void)S;                                                                      \
		ENTER;                                                                        \
		vtb_thread_start(th);                                                         \
		while (!th->failed && !vtb_stop_requested()) {                                \
			for (n_ = 0; n_ < depth_; n_++) {                                     \
				void *o_;                                                     \
				if (VTB_UNLIKELY(n_ != 0 && vtb_stop_requested()))           \
					break; /* return what we hold, then stop */          \
				if (VTB_UNLIKELY(--rc_ == 0)) {                                \
					uint64_t t0_ = vtb_ticks();                           \
					o_ = RENT(S);                                         \
					vtb_samples_add(&th->lat, vtb_ticks() - t0_);         \
					rc_ = vtb_sample_gap(&rng_, every_);                  \
				} else {                                                      \
					o_ = RENT(S);                                         \
				}                                                             \
				if (VTB_UNLIKELY(o_ == NULL)) {                                \
					fprintf(stderr, "%s: rent answered NULL with %u held\n", \
						#fname, n_);                                  \
					th->failed = 1;                                       \
					break;                                                \
				}                                                             \
				((volatile uint64_t *)o_)[1] = ops_ + n_;                     \
				slots_[n_] = o_;                                              \
			}                                                                     \
			for (k_ = 0; k_ < n_; k_++) {                                         \
				if (VTB_UNLIKELY(--tc_ == 0)) {                                \
					uint64_t t0_ = vtb_ticks();                           \
					RET(S, slots_[k_]);                                   \
					vtb_samples_add(&th->lat2, vtb_ticks() - t0_);        \
					tc_ = vtb_sample_gap(&rng_, every_);                  \
				} else {                                                      \
					RET(S, slots_[k_]);                                   \
				}                                                             \
			}                                                                     \
			ops_ += n_;                                                           \
		}                                                                             \
		vtb_thread_finish(th, ops_);                                                  \
		LEAVE;                                                                        \
	}

/* The DPDK rte_mempool comparator (pool_dpdk.c), when built. */
const vtb_pool_impl *vtb_pool_dpdk(void);

#endif /* VTB_BENCH_POOL_H */
