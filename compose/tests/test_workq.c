/*
 * vt__workq's per-thread table of rings (lib/workq.c): which ring a
 * thread's post lands in, seen through the queue's slots. Internal API;
 * single-threaded.
 */
#include "check.h"
#include "../../lib/workq_internal.h"

enum { NQ = 48 }; /* more queues than the table has entries */

static vt__workq g_q[NQ];

static void nop(void *arg)
{
	(void)arg;
}

static void make(vt__workq *q, uint32_t nslots, uint32_t reserved)
{
	CHECK_EQ(vt__workq_init(q, nslots, reserved, 8, 8, NULL), 0);
}

static void post(vt__workq *q)
{
	CHECK_EQ(vt__workq_push(q, nop, NULL, NULL, NULL), 0);
}

static unsigned int ring_items(vt__workq *q, uint32_t i)
{
	return ck_ring_size(&q->slots[i].ring);
}

/* Pops every item of q; answers how many. */
static unsigned int drain(vt__workq *q)
{
	uint32_t cursor = 0;
	unsigned int n = 0;
	vt__work w;

	while (vt__workq_pop(q, &cursor, &w))
		n++;
	return n;
}

/* A worker keeps its reserved ring whatever other queues it posts to: it
 * used to lose it to any queue whose id shared its table entry, and then
 * claim one of the rings meant for other producers. */
static void test_bound_ring_kept(void)
{
	vt__workq *pool = &g_q[0];

	make(pool, 2, 1);
	vt__workq_bind(pool, 0);
	post(pool);
	for (int i = 1; i < NQ; i++) {
		make(&g_q[i], 1, 0);
		post(&g_q[i]);
	}
	post(pool);
	CHECK_EQ(ring_items(pool, 0), 2);
	CHECK_EQ(pool->slots[1].owner, 0); /* no other ring claimed */
	CHECK_EQ(vt__load_relaxed(&pool->high), 1);
	CHECK_EQ(drain(pool), 2);
	for (int i = 0; i < NQ; i++)
		vt__workq_fini(&g_q[i]);
}

/* Two queues whose ids are 16 apart share a set of the table; posts that
 * alternate between them keep both rings (a direct-mapped table gave one
 * back and claimed again on every post). A third one in the set evicts the
 * oldest entry: its ring is given back, items kept, and claimed again on
 * its next post. */
static void test_shared_set(void)
{
	vt__workq *a = &g_q[0], *b = &g_q[16], *c = &g_q[32];

	for (int i = 0; i <= 32; i++)
		make(&g_q[i], 1, 0);
	CHECK_EQ(b->id - a->id, 16);
	CHECK_EQ(c->id - b->id, 16);
	for (int round = 0; round < 3; round++) {
		post(a);
		post(b);
		CHECK(a->slots[0].owner != 0);
		CHECK(b->slots[0].owner != 0);
	}
	CHECK_EQ(ring_items(a, 0), 3);
	CHECK_EQ(ring_items(b, 0), 3);
	post(c); /* evicts a, the oldest */
	CHECK_EQ(a->slots[0].owner, 0);
	CHECK(b->slots[0].owner != 0);
	CHECK(c->slots[0].owner != 0);
	post(a); /* claims a's ring again, evicting b */
	CHECK(a->slots[0].owner != 0);
	CHECK_EQ(b->slots[0].owner, 0);
	CHECK_EQ(drain(a), 4);
	CHECK_EQ(drain(b), 3);
	CHECK_EQ(drain(c), 1);
	for (int i = 0; i <= 32; i++)
		vt__workq_fini(&g_q[i]);
}

int main(void)
{
	test_bound_ring_kept();
	test_shared_set();
	printf("test_workq: ok\n");
	return 0;
}
