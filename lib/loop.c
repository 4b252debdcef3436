/*
 * vt_loop: a vt__workq drained by one thread, woken through an eventfd.
 *
 * Signalling protocol:
 *   post   push, whose X2 exchange (+ vt__fence_after_rmw) is a full
 *          barrier, then, still inside
 *          push (its signal hook, so that destroy's close waits for it:
 *          the item may run, and the loop be destroyed, as soon as it is
 *          in), L1 if `signaled` reads 0 and L2 xchg signaled = 1
 *          returned 0: write the eventfd
 *   drain  if `signaled` reads 1: read the eventfd, then D1 xchg
 *          signaled = 0 (acq_rel) + vt__fence_after_rmw; then pop until
 *          empty. A post whose L1 read the 1 that D1 replaced skips its
 *          write; X2 + fence against D1 + fence (store-buffering) makes
 *          the pops see its item.
 * A post whose L2 came before D1 pushed before D1, so the drain's pops see
 * its item (D1 acquires the release sequence on `signaled`). A post whose
 * L2 came after D1 finds 0 (or a later poster's 1, whose write is on its
 * way) and writes the eventfd, so the fd becomes readable again. The read
 * comes before D1, so it can only consume writes whose L2 came before D1:
 * `signaled` == 1 always means a write is made or on its way. At most
 * one eventfd write per drain cycle.
 * A write can land after the D1 that ended its signal (the drain's read
 * came between the poster's L2 and its write): the fd is then readable
 * with `signaled` at 0. The drainer counts the signals its D1s ended and
 * the writes its reads took (`owed`, the difference), and reads again,
 * with a D1 after, while a write is owed: left there, the fd stayed
 * readable until the next post, and an event loop woke for it again and
 * again. Every read is still followed by a D1, so a write it takes from a
 * newer signal ends that signal too.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc_internal.h"
#include "futex_internal.h"
#include "valuetask/loop.h"
#include "workq_internal.h"

struct vt_loop {
	vt_executor ex; /* first: the executor face */
	vt__workq q;
	vt_allocator alloc; /* where the loop itself came from */
	int efd;
	uint32_t stop;
	uint32_t cursor; /* the drainer's scan position */
	uint32_t draining; /* drains under way on the drainer's thread (nested ones too) */
	uint64_t owed; /* the drainer's: eventfd writes of signals its D1s ended, not yet read */
	uint32_t signaled __attribute__((aligned(64)));
};

void vt_loop_config_default(vt_loop_config *cfg)
{
	if (cfg == NULL)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->queue_size = 1024;
	cfg->max_producers = 16;
	cfg->inject_size = 4096;
}

/* L2 and the eventfd write. */
static void vt__loop_raise(vt_loop *loop)
{
	uint64_t one = 1;

	/* L2: acq_rel, pairs with D1 in vt__loop_drain. */
	if (__atomic_exchange_n(&loop->signaled, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	while (write(loop->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void vt__loop_signal(void *arg)
{
	vt_loop *loop = arg;

	/* L1: a relaxed pre-check, enough for a post: its X2 and fence order
	 * the item before it (see the protocol above). */
	if (vt__load_relaxed(&loop->signaled) == 0)
		vt__loop_raise(loop);
}

int vt_loop_post(vt_loop *loop, vt_continuation fn, void *state)
{
	if (loop == NULL || fn == NULL)
		return VT_EINVAL;
	/* The signal runs inside the push, in the window that close waits for. */
	return vt__workq_push(&loop->q, fn, state, vt__loop_signal, loop);
}

static int vt__loop_post(vt_executor *self, vt_continuation fn, void *state)
{
	return vt_loop_post((vt_loop *)self, fn, state);
}

int vt_loop_create(vt_loop **out, const vt_loop_config *cfg_in)
{
	vt_loop_config cfg;
	vt_loop *loop;

	if (out == NULL)
		return VT_EINVAL;
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		vt_loop_config_default(&cfg);
	if (cfg.queue_size < 2 || (cfg.queue_size & (cfg.queue_size - 1)) || cfg.inject_size < 2 ||
	    (cfg.inject_size & (cfg.inject_size - 1)) || cfg.max_producers > 4096 ||
	    cfg.queue_size > (UINT32_C(1) << 24) || cfg.inject_size > (UINT32_C(1) << 24) ||
	    !vt__mem_valid(&cfg.allocator))
		return VT_EINVAL;
	loop = vt__mem_alloc(&cfg.allocator, sizeof(*loop), 64);
	if (loop == NULL)
		return VT_ENOMEM;
	memset(loop, 0, sizeof(*loop));
	loop->alloc = cfg.allocator;
	loop->ex.post = vt__loop_post;
	loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->efd < 0) {
		vt__mem_free(&cfg.allocator, loop, sizeof(*loop));
		return VT_ENOMEM;
	}
	if (vt__workq_init(&loop->q, cfg.max_producers, 0, cfg.queue_size, cfg.inject_size, &cfg.allocator) != 0) {
		close(loop->efd);
		vt__mem_free(&cfg.allocator, loop, sizeof(*loop));
		return VT_ENOMEM;
	}
	*out = loop;
	return 0;
}

vt_executor *vt_loop_executor(vt_loop *loop)
{
	return loop == NULL ? NULL : &loop->ex;
}

int vt_loop_fd(const vt_loop *loop)
{
	return loop == NULL ? -1 : loop->efd;
}

static int vt__loop_drain(vt_loop *loop, int budget)
{
	uint64_t got;
	vt__work w;
	int ran = 0;

	/* Read the eventfd before D1, never after: a read after D1 could eat
	 * the write of a post whose L2 came after D1, leaving `signaled` at 1
	 * with the fd not readable, and every later post would skip its write.
	 * A write still owed (see the top of this file) is read the same way. */
	if (loop->owed != 0 || vt__load_relaxed(&loop->signaled) != 0) { /* a hint; D1 decides */
		if (read(loop->efd, &got, sizeof(got)) != (ssize_t)sizeof(got))
			got = 0; /* EAGAIN: the write is on its way */
		/* D1: acq_rel; pairs with L2 in signal. Each signal it ends owes
		 * one write; every write read belongs to a signal ended by now
		 * (its L2 came before the read), so owed stays >= 0. (Clamped
		 * at 0 all the same: a write from outside the library must not
		 * wrap it and cost every later drain a read.) */
		uint64_t due = loop->owed + (__atomic_exchange_n(&loop->signaled, 0, __ATOMIC_ACQ_REL) != 0);

		loop->owed = due > got ? due - got : 0;
		/* D1 before the pops below: a store-buffering pair with the
		 * post's enqueue, X2 and L1, which may have read the 1 that D1
		 * replaced and so skipped its write; the pops must then see its
		 * item. Pairs with the fence after X2 in vt__workq_push. */
		vt__fence_after_rmw();
	}
	loop->draining++; /* the drainer's own field: destroy from an item reads it */
	while (ran < budget && vt__workq_pop(&loop->q, &loop->cursor, &w)) {
		w.fn(w.state);
		ran++;
	}
	loop->draining--;
	if (ran == budget)
		vt__loop_signal(loop); /* maybe more: keep the fd readable */
	return ran;
}

int vt_loop_run_once(vt_loop *loop)
{
	if (loop == NULL)
		return VT_EINVAL;
	return vt__loop_drain(loop, VT_LOOP_BATCH);
}

int vt_loop_run(vt_loop *loop)
{
	struct pollfd pfd;

	if (loop == NULL)
		return VT_EINVAL;
	pfd.fd = loop->efd;
	pfd.events = POLLIN;
	/* Acquire; pairs with L2 in vt_loop_stop, through D1. */
	while (!vt__load_acquire(&loop->stop)) {
		if (vt__loop_drain(loop, VT_LOOP_BATCH) > 0)
			continue;
		if (vt__load_acquire(&loop->stop)) /* pairs with L2 in vt_loop_stop, through D1 */
			break;
		(void)poll(&pfd, 1, -1);
	}
	vt__store_relaxed(&loop->stop, 0); /* ready for the next run; only the drainer writes 0 */
	return 0;
}

void vt_loop_stop(vt_loop *loop)
{
	if (loop == NULL)
		return;
	vt__store_relaxed(&loop->stop, 1); /* published by L2's release below */
	/* Wake poll(); the next drain reads the fd. L2 without L1: nothing
	 * orders a store before a later relaxed load, so L1 could read a 1
	 * that a drain's D1 replaces while `stop` is not yet visible to the
	 * drainer; run would then test `stop`, read 0 and sleep with no write
	 * on its way. L2 instead either writes the fd, or its 1 is what D1
	 * reads, and D1 (acquire) then makes `stop` visible to run's load. */
	vt__loop_raise(loop);
}

int vt_loop_destroy(vt_loop **ploop)
{
	vt_loop *loop;

	if (ploop == NULL || *ploop == NULL)
		return VT_EINVAL;
	loop = *ploop;
	/* From an item: the drain that runs it, and vt_loop_run around that,
	 * read the loop after the item returns. */
	if (loop->draining != 0)
		return VT_EINVAL;
	vt__workq_close(&loop->q); /* after this, every queued item is visible here */
	while (vt__loop_drain(loop, INT32_MAX) > 0)
		;
	vt__workq_fini(&loop->q);
	close(loop->efd);
	{
		vt_allocator a = loop->alloc;

		vt__mem_free(&a, loop, sizeof(*loop));
	}
	*ploop = NULL;
	return 0;
}
