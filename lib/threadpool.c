/*
 * vt_threadpool: workers draining a vt__workq, parking on a futex when idle.
 *
 * Parking protocol (all on the pool's own lines):
 *   worker  W1 sleepers += 1 (seq_cst); W2 waking = 0 (xchg);
 *           e = epoch; W3 pop once more; futex_wait(epoch, e)
 *   poster  push, whose X2 exchange is a full barrier, then, still
 *           inside push (its signal hook, so that shutdown's close waits
 *           for it: the item may run, and the pool be destroyed, as soon
 *           as it is in), P1 load sleepers; if > 0 and P2 waking += 1
 *           returned 0: epoch += 1, futex_wake(1)
 * W1/W3 against push/P1 is a store-buffering pair: either the poster sees
 * the sleeper, or the worker's last pop sees the item. `waking` keeps a
 * burst of posts from making one system call each while a woken worker is
 * still on its way; a worker clears it (xchg, acquire) whenever it leaves
 * or enters the parked state, before it looks at the queue again, so an
 * item whose poster skipped the wake-up is found by that worker.
 * `waking` counts the posts that found a sleeper since the last clear: a
 * worker that clears a count above 1 (posts came while the wake-up was on
 * its way) and goes on to run items passes one wake-up on, so those items
 * do not wait behind the one it runs while another worker sleeps.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "futex_internal.h"
#include "valuetask/threadpool.h"
#include "workq_internal.h"

enum { VT__TP_RUNNING = 0, VT__TP_CLOSING = 1, VT__TP_DRAIN = 2, VT__TP_JOINED = 3 };

struct vt__tp_start {
	vt_threadpool *tp;
	uint32_t index;
	pthread_t thread;
};

struct vt_threadpool {
	vt_executor ex; /* first: the executor face */
	vt__workq q;
	vt_threadpool_config cfg;
	struct vt__tp_start *threads; /* cfg.threads; each is its worker's start argument */
	uint32_t nstarted;
	pthread_mutex_t shutdown_lock;
	uint32_t phase; /* VT__TP_*: written under shutdown_lock, read by workers */

	uint32_t epoch __attribute__((aligned(64))); /* the futex word */
	uint32_t sleepers;
	uint32_t waking __attribute__((aligned(64)));
	uint64_t parks __attribute__((aligned(64))); /* statistics only */
	uint64_t wakes;
};

/* Which pool's worker this thread is (NULL: none), for shutdown's check;
 * set until the thread is gone, its exit destructors included. */
static _Thread_local vt_threadpool *vt__tp_self;

void vt_threadpool_config_default(vt_threadpool_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->threads = 2;
	cfg->queue_size = 1024;
	cfg->max_producers = 16;
	cfg->inject_size = 4096;
	cfg->spin = 200;
	cfg->stack_size = 0;
}

static bool vt__pow2(uint32_t n)
{
	return n >= 2 && (n & (n - 1)) == 0;
}

/* The push's signal hook: runs inside the window that close waits for. */
static void vt__tp_wake_one(void *arg)
{
	vt_threadpool *tp = arg;

	/* P1: relaxed; ordered after the enqueue by X2's seq_cst exchange
	 * (pairs with W1 in the worker). */
	if (vt__load_relaxed(&tp->sleepers) == 0)
		return;
	/* P2: acq_rel; pairs with the worker's xchg of waking (W2 / wake-up).
	 * Non-zero: a wake-up is on its way; the count tells the worker that
	 * clears it to pass one on (vt__tp_clear_waking). */
	if (__atomic_fetch_add(&tp->waking, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	vt__fetch_add_acq_rel(&tp->epoch, 1); /* pairs with the worker's load of epoch before futex_wait */
	vt__fetch_add_relaxed(&tp->wakes, 1); /* statistics only */
	vt__futex_wake(&tp->epoch, 1);
}

int vt_threadpool_post(vt_threadpool *tp, vt_continuation fn, void *state)
{
	if (tp == NULL || fn == NULL)
		return VT_EINVAL;
	return vt__workq_push(&tp->q, fn, state, vt__tp_wake_one, tp);
}

static int vt__tp_post(vt_executor *self, vt_continuation fn, void *state)
{
	return vt_threadpool_post((vt_threadpool *)self, fn, state);
}

/* W2 and the clear on leaving the parked state: acq_rel; pairs with P2.
 * Returns whether posts came while a wake-up was on its way (count > 1). */
static bool vt__tp_clear_waking(vt_threadpool *tp)
{
	return __atomic_exchange_n(&tp->waking, 0, __ATOMIC_ACQ_REL) > 1;
}

static void *vt__tp_worker(void *arg)
{
	vt_threadpool *tp = arg;
	uint32_t cursor;
	vt__work w;
	bool more;

	vt__tp_self = tp;
	cursor = 0;
	for (;;) {
		if (vt__workq_pop(&tp->q, &cursor, &w)) {
			w.fn(w.state);
			continue;
		}
		for (uint32_t i = 0; i < tp->cfg.spin; i++) {
			vt__cpu_relax();
			if (vt__workq_pop(&tp->q, &cursor, &w))
				goto run;
		}
		/* Parking: see the protocol at the top of this file. */
		__atomic_fetch_add(&tp->sleepers, 1, __ATOMIC_SEQ_CST); /* W1: pairs with P1 */
		more = vt__tp_clear_waking(tp); /* W2 */
		uint32_t e = vt__load_acquire(&tp->epoch); /* pairs with the poster's epoch increment */
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* W1 before W3's ring loads */
		if (vt__workq_pop(&tp->q, &cursor, &w)) { /* W3 */
			__atomic_fetch_sub(&tp->sleepers, 1, __ATOMIC_RELAXED); /* a count, no ordering needed */
			if (more) /* we run this one: wake another for the rest */
				vt__tp_wake_one(tp);
			goto run;
		}
		if (vt__load_acquire(&tp->phase) == VT__TP_DRAIN) { /* pairs with the release in shutdown */
			/* Every item posted before the close is visible now (close's
			 * acquire wait, then the release of phase): one last look. */
			if (vt__workq_pop(&tp->q, &cursor, &w)) {
				__atomic_fetch_sub(&tp->sleepers, 1, __ATOMIC_RELAXED); /* a count, no ordering needed */
				goto run;
			}
			__atomic_fetch_sub(&tp->sleepers, 1, __ATOMIC_RELAXED); /* a count, no ordering needed */
			break;
		}
		vt__fetch_add_relaxed(&tp->parks, 1); /* statistics only */
		vt__futex_wait(&tp->epoch, e);
		__atomic_fetch_sub(&tp->sleepers, 1, __ATOMIC_RELAXED); /* a count, no ordering needed */
		/* Leaving the parked state. Posts that came while our wake-up
		 * was on its way left their items to us: pass a wake-up on
		 * before running any, or they wait behind ours. */
		if (vt__tp_clear_waking(tp))
			vt__tp_wake_one(tp);
		continue;
run:
		w.fn(w.state);
	}
	/* vt__tp_self stays set: the thread's thread-specific-data destructors
	 * run after this, while shutdown joins the thread, and a shutdown from
	 * one of them must answer VT_EINVAL, not wait for shutdown_lock. */
	return NULL;
}

static int vt__tp_check(const vt_threadpool_config *c)
{
	if (c->threads == 0 || c->threads > 1024 || !vt__pow2(c->queue_size) || !vt__pow2(c->inject_size) ||
	    c->max_producers > 4096 || c->queue_size > (UINT32_C(1) << 24) || c->inject_size > (UINT32_C(1) << 24))
		return VT_EINVAL;
	return 0;
}

static void *vt__tp_thread(void *arg)
{
	const struct vt__tp_start *st = arg; /* lives until destroy, after the join */

	vt__workq_bind(&st->tp->q, st->index);
	return vt__tp_worker(st->tp);
}

static void vt__tp_free(vt_threadpool *tp)
{
	vt_allocator a = tp->cfg.allocator;

	vt__mem_free(&a, tp->threads, sizeof(*tp->threads) * tp->cfg.threads);
	vt__mem_free(&a, tp, sizeof(*tp));
}

int vt_threadpool_create(vt_threadpool **out, const vt_threadpool_config *cfg_in)
{
	vt_threadpool_config cfg;
	vt_threadpool *tp;
	pthread_attr_t attr;
	int rc;

	if (out == NULL)
		return VT_EINVAL;
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		vt_threadpool_config_default(&cfg);
	if (vt__tp_check(&cfg) != 0 || !vt__mem_valid(&cfg.allocator))
		return VT_EINVAL;
	/* The stack size too is checked before anything is allocated. */
	if (pthread_attr_init(&attr) != 0)
		return VT_ENOMEM;
	if (cfg.stack_size != 0 && pthread_attr_setstacksize(&attr, cfg.stack_size) != 0) {
		pthread_attr_destroy(&attr);
		return VT_EINVAL;
	}
	tp = vt__mem_alloc(&cfg.allocator, sizeof(*tp), 64);
	if (tp == NULL)
		goto nomem;
	memset(tp, 0, sizeof(*tp));
	tp->ex.post = vt__tp_post;
	tp->cfg = cfg;
	tp->threads = vt__mem_alloc(&cfg.allocator, sizeof(*tp->threads) * cfg.threads, _Alignof(struct vt__tp_start));
	if (tp->threads == NULL)
		goto nomem_tp;
	memset(tp->threads, 0, sizeof(*tp->threads) * cfg.threads);
	if (vt__workq_init(&tp->q, cfg.threads + cfg.max_producers, cfg.threads, cfg.queue_size,
			   cfg.inject_size, &cfg.allocator) != 0)
		goto nomem_tp;
	pthread_mutex_init(&tp->shutdown_lock, NULL);
	for (uint32_t i = 0; i < cfg.threads; i++) {
		struct vt__tp_start *st = &tp->threads[i];

		st->tp = tp;
		st->index = i;
		if (pthread_create(&st->thread, &attr, vt__tp_thread, st) != 0) {
			rc = VT_ENOMEM;
			goto fail;
		}
		tp->nstarted = i + 1;
	}
	pthread_attr_destroy(&attr);
	*out = tp;
	return 0;
fail:
	pthread_attr_destroy(&attr);
	(void)vt_threadpool_shutdown(tp); /* joins the workers started so far */
	vt__workq_fini(&tp->q);
	pthread_mutex_destroy(&tp->shutdown_lock);
	vt__tp_free(tp);
	return rc;
nomem_tp:
	vt__tp_free(tp); /* tp->threads may be NULL: ignored */
nomem:
	pthread_attr_destroy(&attr);
	return VT_ENOMEM;
}

vt_executor *vt_threadpool_executor(vt_threadpool *tp)
{
	return tp == NULL ? NULL : &tp->ex;
}

int vt_threadpool_shutdown(vt_threadpool *tp)
{
	if (tp == NULL || vt__tp_self == tp)
		return VT_EINVAL;
	pthread_mutex_lock(&tp->shutdown_lock);
	if (vt__load_relaxed(&tp->phase) == VT__TP_RUNNING) { /* written under shutdown_lock only */
		vt__store_relaxed(&tp->phase, VT__TP_CLOSING); /* workers wait for DRAIN; no ordering */
		vt__workq_close(&tp->q);
		/* Release; pairs with the workers' acquire load of phase: they
		 * see every item that close made visible to us. */
		vt__store_release(&tp->phase, VT__TP_DRAIN);
		vt__fetch_add_acq_rel(&tp->epoch, 1); /* pairs with the workers' load of epoch */
		vt__futex_wake(&tp->epoch, INT_MAX);
		for (uint32_t i = 0; i < tp->nstarted; i++)
			pthread_join(tp->threads[i].thread, NULL);
		vt__store_relaxed(&tp->phase, VT__TP_JOINED); /* no worker is left to read it */
	}
	pthread_mutex_unlock(&tp->shutdown_lock);
	return 0;
}

int vt_threadpool_destroy(vt_threadpool **ptp)
{
	vt_threadpool *tp;
	int rc;

	if (ptp == NULL || *ptp == NULL)
		return VT_EINVAL;
	tp = *ptp;
	rc = vt_threadpool_shutdown(tp);
	if (rc != 0)
		return rc;
	vt__workq_fini(&tp->q);
	pthread_mutex_destroy(&tp->shutdown_lock);
	vt__tp_free(tp);
	*ptp = NULL;
	return 0;
}

void vt_threadpool_park_stats(const vt_threadpool *tp, uint64_t *parks, uint64_t *wakes)
{
	if (tp == NULL)
		return;
	if (parks != NULL)
		*parks = vt__load_relaxed(&tp->parks); /* statistics only */
	if (wakes != NULL)
		*wakes = vt__load_relaxed(&tp->wakes); /* statistics only */
}
