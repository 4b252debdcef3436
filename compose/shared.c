/*
 * vt_shared: a reference-counted result with an intrusive awaiter list.
 *
 *   complete  S1 store bits, then status (release); S2 xchg head = CLOSED
 *             (acq_rel), then run every node taken
 *   await     load status (acquire; pairs with S1): done -> run now; else
 *             S3 CAS push node onto head (release) unless head is CLOSED
 *             (acquire; pairs with S2), in which case run now
 * A node pushed before S2 is taken by S2; a push that finds CLOSED runs
 * its continuation itself. Each node runs exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc_internal.h"
#include "compose_internal.h"
#include "valuetask/shared.h"

#define VT__SHARED_CLOSED ((vt_shared_awaiter *)(uintptr_t)1)

struct vt_shared {
	vt_shared_pool *pool;
	uint32_t refs;
	uint32_t status; /* vt_status; 0 while pending; published by S1 */
	uint64_t bits;   /* the value, or the error */
	vt_task task;    /* the task taken over; consumed once it completes */
	vt_shared_awaiter *head __attribute__((aligned(64)));
};

struct vt_shared_pool {
	vt_pool *pool;
	vt_allocator alloc; /* where this handle came from: cfg.allocator */
};

int vt_shared_pool_create(vt_shared_pool **out, const vt_pool_config *cfg_in)
{
	vt_pool_config cfg;
	vt_shared_pool *sp;
	vt_pool *pool;
	int rc;

	if (out == NULL)
		return VT_EINVAL;
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		vt_pool_config_default(&cfg);
	cfg.object_size = sizeof(vt_shared);
	cfg.object_align = 64;
	cfg.obj_init = NULL;
	/* The pool first: vt_pool_create refuses a bad config (VT_EINVAL)
	 * before anything is allocated. */
	rc = vt_pool_create(&pool, &cfg);
	if (rc != 0)
		return rc;
	sp = vt__mem_alloc(&cfg.allocator, sizeof(*sp), _Alignof(vt_shared_pool));
	if (sp == NULL) {
		(void)vt_pool_destroy(&pool);
		return VT_ENOMEM;
	}
	sp->alloc = cfg.allocator;
	sp->pool = pool;
	*out = sp;
	return 0;
}

int vt_shared_pool_destroy(vt_shared_pool **pool)
{
	int rc;

	if (pool == NULL || *pool == NULL)
		return VT_EINVAL;
	rc = vt_pool_destroy(&(*pool)->pool);
	{
		vt_allocator a = (*pool)->alloc;

		vt__mem_free(&a, *pool, sizeof(**pool));
	}
	*pool = NULL;
	return rc;
}

static void vt__shared_run(vt_shared_awaiter *n)
{
	vt_continuation fn = n->fn;
	void *st = n->state;
	vt_executor *ex = n->ex;

	/* n may be reused by fn: read it first. */
	vt_executor_dispatch(ex, fn, st);
}

static void vt__shared_complete(vt_shared *s, int err, vt_value v)
{
	vt_shared_awaiter *list, *rev = NULL;
	uint32_t st;

	if (err == 0) {
		st = VT_SUCCEEDED;
		vt__store_relaxed(&s->bits, v.u64); /* published by S1 */
	} else {
		st = err == -ECANCELED ? VT_CANCELED : VT_FAULTED;
		vt__store_relaxed(&s->bits, (uint64_t)(int64_t)err); /* published by S1 */
	}
	vt__store_release(&s->status, st); /* S1: pairs with the acquire loads of status */
	/* S2: acq_rel; acquire pairs with S3 (the nodes' fields), release with
	 * the awaiters' acquire load of head. */
	list = __atomic_exchange_n(&s->head, VT__SHARED_CLOSED, __ATOMIC_ACQ_REL);
	while (list != NULL) { /* pushed LIFO: run in registration order */
		vt_shared_awaiter *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL) {
		vt_shared_awaiter *next = rev->next;
		vt__shared_run(rev);
		rev = next;
	}
}

/* The continuation on the taken-over task: runs inline where it completes. */
static void vt__shared_on_task(void *arg)
{
	vt_shared *s = arg;
	vt_value v;
	int err;

	v.u64 = 0;
	err = vt_task_get_result(s->task, &v);
	vt__shared_complete(s, err, v);
	vt_shared_release(s); /* the reference the registration held */
}

int vt_shared_create(vt_shared_pool *pool, vt_task t, vt_shared **out)
{
	vt_shared *s;
	int rc;

	if (pool == NULL || out == NULL)
		return VT_EINVAL;
	if (VT__TASK_HAS_SOURCE(t) && vt_task_status(t) == VT_ETOKEN)
		return VT_ETOKEN;
	s = vt_pool_rent(pool->pool);
	if (s == NULL) {
		vt_pool_stats st;

		/* Which failure: every object made and out, or a slab the pool
		 * could not allocate (it made fewer than its capacity). */
		vt_pool_get_stats(pool->pool, &st);
		return st.created < st.capacity ? VT_ENOMEM : VT_EEXHAUSTED;
	}
	/* Plain initialisation: s is ours until a registration below or the
	 * return publishes it. */
	s->pool = pool;
	s->status = VT_PENDING;
	s->bits = 0;
	s->task = t;
	s->head = NULL;
	if (!VT__TASK_HAS_SOURCE(t)) { /* it carries its result: nothing to await */
		vt_value v;
		int err;
		v.u64 = 0;
		err = vt_task_get_result(t, &v);
		s->refs = 1;
		vt__shared_complete(s, err, v);
		*out = s;
		return 0;
	}
	/* A source-backed task is registered on even when it has completed
	 * (the continuation then runs here, at once): only the registration
	 * tells a task that is ours to consume from one whose awaiter already
	 * registered (VT_EAWAITED; consuming it would steal its result). */
	s->refs = 2; /* the caller's, and the registration's */
	rc = vt_task_on_completed(t, vt__shared_on_task, s, &vt__inline_executor);
	if (rc != 0) {
		vt_pool_return(pool->pool, s);
		return rc;
	}
	*out = s;
	return 0;
}

vt_shared *vt_shared_retain(vt_shared *s)
{
	if (s != NULL)
		vt__fetch_add_relaxed(&s->refs, 1); /* the caller holds a reference: no ordering needed */
	return s;
}

void vt_shared_release(vt_shared *s)
{
	if (s == NULL)
		return;
	/* acq_rel: release our uses of s to whoever drops the last reference;
	 * the last one acquires them all before recycling. */
	if (vt__fetch_add_acq_rel(&s->refs, (uint32_t)-1) == 1)
		vt_pool_return(s->pool->pool, s);
}

int vt_shared_status(const vt_shared *s)
{
	if (s == NULL)
		return VT_EINVAL;
	return (int)vt__load_acquire(&s->status); /* pairs with S1 */
}

int vt_shared_get_result(const vt_shared *s, vt_value *out)
{
	uint32_t st;
	uint64_t bits;

	if (s == NULL || out == NULL)
		return VT_EINVAL;
	st = vt__load_acquire(&s->status); /* pairs with S1 */
	if (st == VT_PENDING)
		return VT_EPENDING;
	bits = vt__load_relaxed(&s->bits); /* ordered by the acquire above */
	if (st == VT_SUCCEEDED) {
		out->u64 = bits;
		return 0;
	}
	return (int)(int64_t)bits;
}

int vt_shared_on_completed(vt_shared *s, vt_shared_awaiter *node, vt_continuation fn, void *state,
			   vt_executor *ex)
{
	vt_shared_awaiter *h;

	if (s == NULL || node == NULL || fn == NULL)
		return VT_EINVAL;
	node->fn = fn;
	node->state = state;
	node->ex = ex;
	h = vt__load_acquire(&s->head); /* pairs with S2 */
	for (;;) {
		if (h == VT__SHARED_CLOSED) {
			vt__shared_run(node);
			return 0;
		}
		node->next = h;
		/* S3: release (the node's fields); pairs with S2's acquire. On
		 * failure, acquire: h may now be CLOSED (pairs with S2). */
		if (__atomic_compare_exchange_n(&s->head, &h, node, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE))
			return 0;
	}
}

int vt_shared_wait(vt_shared *s, vt_value *out)
{
	vt_shared_awaiter node;
	uint32_t word = 0;
	int rc;

	if (s == NULL || out == NULL)
		return VT_EINVAL;
	rc = vt_shared_get_result(s, out);
	if (rc != VT_EPENDING)
		return rc;
	(void)vt_shared_on_completed(s, &node, vt__waiter_wake, &word, &vt__inline_executor);
	vt__waiter_park(&word);
	return vt_shared_get_result(s, out);
}
