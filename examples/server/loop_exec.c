/*
 * loop_exec: bounded MPSC ring + eventfd. See loop_exec.h for the contract.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop_exec.h"

/* ---- posting (any thread) ------------------------------------------------ */

void loop_exec_wake(loop_exec *le)
{
	/* W1: acq_rel; pairs with D1 in drain. Whoever swaps 0 -> 1 owes the
	 * loop one eventfd write; everybody else rides on it. Because both
	 * sides are read-modify-writes of one word, a producer that reads 1
	 * here read it from (or after) the loop's last D1, so the enqueue it
	 * made before is visible to the drain that follows that D1. */
	if (__atomic_exchange_n(&le->woken, 1u, __ATOMIC_ACQ_REL) == 0) {
		uint64_t one = 1;
		ssize_t r;

		do
			r = write(le->efd, &one, sizeof(one));
		while (r < 0 && errno == EINTR);
	}
}

static int loop_exec_post(vt_executor *self, vt_continuation fn, void *state)
{
	loop_exec *le = (loop_exec *)self;
	size_t pos = __atomic_load_n(&le->tail, __ATOMIC_RELAXED);
	loop_exec_cell *cell;

	for (;;) {
		cell = &le->cells[pos & le->mask];
		/* E1: acquire; pairs with D2 (the consumer freed this cell). */
		size_t seq = __atomic_load_n(&cell->seq, __ATOMIC_ACQUIRE);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;

		if (dif == 0) {
			if (__atomic_compare_exchange_n(&le->tail, &pos, pos + 1, true, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
				break;
		} else if (dif < 0) {
			/* Full: cannot happen when sized as documented; wait
			 * rather than refuse (see loop_exec.h). */
			loop_exec_wake(le);
			sched_yield();
			pos = __atomic_load_n(&le->tail, __ATOMIC_RELAXED);
		} else {
			pos = __atomic_load_n(&le->tail, __ATOMIC_RELAXED);
		}
	}
	cell->fn = fn;
	cell->state = state;
	/* E2: release; pairs with D3 in drain (publishes fn and state). */
	__atomic_store_n(&cell->seq, pos + 1, __ATOMIC_RELEASE);
	loop_exec_wake(le);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

int loop_exec_init(loop_exec *le, size_t capacity)
{
	size_t cap = 2;

	while (cap < capacity)
		cap <<= 1;
	le->base.post = loop_exec_post;
	le->cells = calloc(cap, sizeof(*le->cells));
	if (le->cells == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		le->cells[i].seq = i;
	le->mask = cap - 1;
	le->tail = le->head = 0;
	le->woken = 0;
	le->posts = 0;
	le->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (le->efd < 0) {
		int e = -errno;

		free(le->cells);
		le->cells = NULL;
		return e;
	}
	return 0;
}

void loop_exec_destroy(loop_exec *le)
{
	if (le->efd >= 0)
		close(le->efd);
	le->efd = -1;
	free(le->cells);
	le->cells = NULL;
}

/* ---- draining (loop thread) ----------------------------------------------- */

size_t loop_exec_drain(loop_exec *le)
{
	size_t ran = 0;

	if (__atomic_load_n(&le->woken, __ATOMIC_RELAXED)) {
		uint64_t v;

		/* Reset the eventfd before D1, so a write after D1 stays visible. */
		while (read(le->efd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
		/* D1: acq_rel; pairs with W1 in loop_exec_wake. */
		(void)__atomic_exchange_n(&le->woken, 0u, __ATOMIC_ACQ_REL);
	}
	for (;;) {
		loop_exec_cell *cell = &le->cells[le->head & le->mask];
		/* D3: acquire; pairs with E2 in post. */
		size_t seq = __atomic_load_n(&cell->seq, __ATOMIC_ACQUIRE);
		vt_continuation fn;
		void *st;

		if (seq != le->head + 1)
			break;
		fn = cell->fn;
		st = cell->state;
		/* D2: release; pairs with E1 (the cell is free for lap + 1). */
		__atomic_store_n(&cell->seq, le->head + le->mask + 1, __ATOMIC_RELEASE);
		le->head++;
		fn(st);
		ran++;
	}
	le->posts += ran;
	return ran;
}
