/*
 * vt_promise: a vt_core in a pooled object, with pool plumbing.
 *
 * A promise goes back to its pool exactly once: in get_result, by the one
 * caller whose vt__core_take won (R1 moved the version, so every later or
 * concurrent consume answers VT_ETOKEN and never reaches the return).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"
#include "valuetask/promise.h"

struct vt_promise_pool {
	vt_pool *pool;
	vt_allocator allocator;
};

_Static_assert(sizeof(vt_promise) <= 64, "a pooled promise fits one cache line");

#ifdef VT_GENERATION_CHECK
/*
 * Debug: a task whose 16-bit token matches but whose epoch does not is a
 * handle from 65536 (or a multiple) rentals ago: stale. The check reads the
 * state once before the core call; a recycle between the two needs another
 * 65536 rentals to match again, so a sequential stale use is always caught.
 */
static bool vt__promise_epoch_stale(vt_promise *p, uint16_t token)
{
	uint32_t want = vt__task_epoch;
	uint64_t s;

	vt__task_epoch = 0; /* used once: by this op */
	if (want == 0)
		return false; /* not issued by vt_promise_task */
	s = vt__load_acquire(&p->core.state); /* pairs with R1 in consume */
	return (uint16_t)s == token && (uint32_t)(s >> VT__CORE_EPOCH_SHIFT) + 1 != want;
}
#define VT__EPOCH_CHECK(p, token)                       \
	do {                                            \
		if (vt__promise_epoch_stale((p), (token))) \
			return VT_ETOKEN;               \
	} while (0)
#else
#define VT__EPOCH_CHECK(p, token) ((void)0)
#endif

static int vt__promise_status(vt_source *src, uint16_t token)
{
	VT__EPOCH_CHECK((vt_promise *)src, token);
	return vt_core_status(&((vt_promise *)src)->core, token);
}

static int vt__promise_get_result(vt_source *src, uint16_t token, vt_value *out)
{
	vt_promise *p = (vt_promise *)src;
	uint64_t bits;
	int st;

	if (out == NULL)
		return VT_EINVAL;
	VT__EPOCH_CHECK(p, token);
	st = vt__core_take(&p->core, token, &bits);
	if (st < 0)
		return st;
	/* We won R1: nobody else can reach this line for this rental. The
	 * promise is not touched after it is back in the pool. */
	vt__pool_return_fast(p->pool->pool, p);
	if (st == VT_SUCCEEDED) {
		out->u64 = bits;
		return 0;
	}
	return (int)(int64_t)bits;
}

static int vt__promise_on_completed(vt_source *src, uint16_t token, vt_continuation fn, void *state,
				    vt_executor *ex)
{
#ifdef VT_GENERATION_CHECK
	if (fn == NULL)
		return VT_EINVAL; /* VT_EINVAL before VT_ETOKEN (SPEC §4.1) */
#endif
	VT__EPOCH_CHECK((vt_promise *)src, token);
	return vt_core_on_completed(&((vt_promise *)src)->core, token, fn, state, ex);
}

static const vt_source_ops vt__promise_ops = {
	.status = vt__promise_status,
	.get_result = vt__promise_get_result,
	.on_completed = vt__promise_on_completed,
	.forget = NULL,
	.cancel = NULL,
};

/* Runs once per promise, when its slab is made: versions then live on
 * across rentals (type-stable memory). */
static void vt__promise_init(void *obj, void *ctx)
{
	vt_promise *p = obj;

	p->source.ops = &vt__promise_ops;
	vt_core_init(&p->core);
	p->pool = ctx;
}

int vt_promise_pool_create(vt_promise_pool **out, const vt_pool_config *cfg_in)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;
	int rc;

	if (out == NULL)
		return VT_EINVAL;
	if (cfg_in != NULL)
		cfg = *cfg_in;
	else
		vt_pool_config_default(&cfg);
	if ((cfg.allocator.alloc == NULL) != (cfg.allocator.free == NULL))
		return VT_EINVAL;
	cfg.object_size = sizeof(vt_promise);
	cfg.object_align = 64;
	/* A stale task reads ops and the core's state (and a consumer that
	 * loses R1 has read `value` first) from a returned promise, by design:
	 * type-stable memory. Those stay readable; the rest is poisoned. */
	cfg.keep_readable = offsetof(vt_promise, core) + offsetof(vt_core, fn);

	pp = cfg.allocator.alloc != NULL ? cfg.allocator.alloc(sizeof(*pp), _Alignof(vt_promise_pool), cfg.allocator.ctx)
					 : malloc(sizeof(*pp));
	if (pp == NULL)
		return VT_ENOMEM;
	pp->allocator = cfg.allocator;
	cfg.obj_init = vt__promise_init;
	cfg.obj_ctx = pp;
	rc = vt_pool_create(&pp->pool, &cfg);
	if (rc != 0) {
		if (pp->allocator.free != NULL)
			pp->allocator.free(pp, sizeof(*pp), pp->allocator.ctx);
		else
			free(pp);
		return rc;
	}
	*out = pp;
	return 0;
}

int vt_promise_pool_destroy(vt_promise_pool **pool)
{
	vt_promise_pool *pp;
	int out;

	if (pool == NULL || *pool == NULL)
		return VT_EINVAL;
	pp = *pool;
	out = vt_pool_destroy(&pp->pool);
	if (pp->allocator.free != NULL)
		pp->allocator.free(pp, sizeof(*pp), pp->allocator.ctx);
	else
		free(pp);
	*pool = NULL;
	return out;
}

vt_promise *vt_promise_rent(vt_promise_pool *pool)
{
	if (pool == NULL)
		return NULL;
	return vt__pool_rent_fast(pool->pool);
}

void vt_promise_pool_get_stats(const vt_promise_pool *pool, vt_pool_stats *out)
{
	if (pool == NULL || out == NULL)
		return;
	vt_pool_get_stats(pool->pool, out);
}
