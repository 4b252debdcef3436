/*
 * valuetask benchmarks: a bounded single-producer single-consumer queue.
 *
 * Carries the cross-thread benchmark's requests (awaiter -> completer) and
 * posted continuations (completer -> awaiter). Both implementations under
 * test use the same queues, so the queue's cost is common to both.
 * The producer and the consumer each own a cache line (their index and a
 * cached copy of the other's), so neither writes a line the other polls.
 */
#ifndef VTB_SPSC_H
#define VTB_SPSC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <valuetask.h>

typedef struct vtb_spsc_item {
	void *obj;
	void *ctx;
	vt_continuation fn;
} vtb_spsc_item;

typedef struct vtb_spsc {
	_Alignas(64) uint64_t tail;  /* producer: next slot to fill */
	uint64_t head_cache;         /* producer's last view of head */
	_Alignas(64) uint64_t head;  /* consumer: next slot to read */
	uint64_t tail_cache;         /* consumer's last view of tail */
	_Alignas(64) uint64_t mask;
	vtb_spsc_item *items;
} vtb_spsc;

static inline int vtb_spsc_init(vtb_spsc *q, unsigned size_pow2)
{
	q->tail = q->head = q->head_cache = q->tail_cache = 0;
	q->mask = size_pow2 - 1;
	q->items = calloc(size_pow2, sizeof(vtb_spsc_item));
	return q->items != NULL ? 0 : -1;
}

static inline void vtb_spsc_fini(vtb_spsc *q)
{
	free(q->items);
	q->items = NULL;
}

static inline bool vtb_spsc_push(vtb_spsc *q, vtb_spsc_item it)
{
	uint64_t t = q->tail;

	if (t - q->head_cache > q->mask) {
		/* acquire: pairs with the consumer's release of head, so its read
		 * of the slot finished before we overwrite it. */
		q->head_cache = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
		if (t - q->head_cache > q->mask)
			return false;
	}
	q->items[t & q->mask] = it;
	__atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE); /* pairs with pop's acquire of tail */
	return true;
}

static inline bool vtb_spsc_pop(vtb_spsc *q, vtb_spsc_item *out)
{
	uint64_t h = q->head;

	if (h == q->tail_cache) {
		q->tail_cache = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE); /* pairs with push */
		if (h == q->tail_cache)
			return false;
	}
	*out = q->items[h & q->mask];
	__atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE); /* pairs with push's acquire of head */
	return true;
}

#endif /* VTB_SPSC_H */
