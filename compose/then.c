/*
 * vt_task_then: a registration node per call, recycled through per-thread
 * free lists ("homes").
 *
 * A node is taken from the calling thread's home and goes back to that
 * same home when its continuation has run, from whichever thread that is:
 *   - the home's own thread pushes onto `local` (no atomics);
 *   - any other thread pushes onto `inbox`, a Treiber stack (CAS, release);
 *   - the owner takes the whole inbox at once (exchange with NULL,
 *     acquire) when `local` runs dry. Nobody pops single nodes from the
 *     inbox, so the stack has no ABA problem.
 * A thread that exits leaves its home on an orphan list (its nodes in it,
 * and late returns still land in its inbox); the next new thread adopts it.
 * A then() from another thread-specific-data destructor that runs after
 * that exit hook borrows a home for the one call and orphans it again.
 * Homes and nodes are therefore made once and reused for the life of the
 * process: then() allocates only while the number of nodes in flight grows.
 * Both come from the process-wide default allocator (vt_set_default_allocator,
 * alloc.h) and are never freed. A failed allocation answers VT_ENOMEM with
 * the task untouched (a home made before a failed node stays this thread's,
 * or goes to the orphans if it was only borrowed).
 */
#include <pthread.h>
#include <stdlib.h>

#include "alloc_internal.h"
#include "compose_internal.h"
#include "thread_exit_internal.h" /* lib/: vt__thread_exit_arm */
#include "valuetask/compose.h"

typedef struct vt__then_home vt__then_home;

typedef struct vt__then_node {
	struct vt__then_node *next;
	vt__then_home *home;
	vt_task task;
	vt_then_fn fn;
	void *state;
} vt__then_node;

struct vt__then_home {
	vt__then_node *local; /* owner only */
	vt__then_node *inbox __attribute__((aligned(64))); /* Treiber stack, any thread pushes */
	vt__then_home *next_orphan;
};

static _Thread_local vt__then_home *vt__my_home;
static pthread_mutex_t vt__home_lock = PTHREAD_MUTEX_INITIALIZER;
static vt__then_home *vt__orphans; /* under vt__home_lock */

/* Leave h for the next new thread. Its holder's writes to h->local are
 * published by the mutex (the adopter takes it in vt__home). */
static void vt__home_orphan(vt__then_home *h)
{
	pthread_mutex_lock(&vt__home_lock);
	h->next_orphan = vt__orphans;
	vt__orphans = h;
	pthread_mutex_unlock(&vt__home_lock);
}

static void vt__home_exit(void)
{
	if (vt__my_home != NULL)
		vt__home_orphan(vt__my_home);
	vt__my_home = NULL;
}

static vt__then_home *vt__home(void)
{
	vt__then_home *h = vt__my_home;

	if (VT_LIKELY(h != NULL))
		return h;
	pthread_mutex_lock(&vt__home_lock);
	h = vt__orphans;
	if (h != NULL)
		vt__orphans = h->next_orphan;
	pthread_mutex_unlock(&vt__home_lock);
	if (h == NULL) {
		vt_allocator a = vt__mem_default();

		h = vt__mem_alloc(&a, sizeof(*h), 64);
		if (h == NULL)
			return NULL;
		h->local = NULL;
		h->inbox = NULL;
	}
	h->next_orphan = NULL;
	/* Without the exit hook (none could be armed, or it has run: a later
	 * thread-specific-data destructor) the home is only borrowed: not
	 * attached (vt__my_home stays NULL, so every node goes back through
	 * the inbox), and vt__node_get orphans it again after this call. */
	if (vt__thread_exit_arm(VT__EXIT_THEN, vt__home_exit))
		vt__my_home = h;
	return h;
}

static vt__then_node *vt__node_get(void)
{
	vt__then_home *h = vt__home();
	vt__then_node *n;

	if (h == NULL)
		return NULL;
	if (h->local == NULL) /* acquire; pairs with the release CAS in vt__node_put */
		h->local = __atomic_exchange_n(&h->inbox, NULL, __ATOMIC_ACQUIRE);
	n = h->local;
	if (n != NULL) {
		h->local = n->next;
	} else {
		vt_allocator a = vt__mem_default();

		/* warm-up only: the pool of nodes grows to the peak in flight */
		n = vt__mem_alloc(&a, sizeof(*n), _Alignof(vt__then_node));
		if (n != NULL)
			n->home = h;
	}
	if (VT_UNLIKELY(h != vt__my_home)) /* borrowed, not attached (vt__home): back to the orphans, node or not */
		vt__home_orphan(h);
	return n;
}

static void vt__node_put(vt__then_node *n)
{
	vt__then_home *h = n->home;

	if (h == vt__my_home) {
		n->next = h->local;
		h->local = n;
		return;
	}
	n->next = vt__load_relaxed(&h->inbox); /* a guess; the CAS below validates it */
	/* Release; pairs with the owner's acquire exchange in vt__node_get. */
	while (!__atomic_compare_exchange_n(&h->inbox, &n->next, n, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* Runs where the task's continuation runs: consume, recycle, then call. */
static void vt__then_run(void *arg)
{
	vt__then_node *n = arg;
	vt_then_fn fn = n->fn;
	void *state = n->state;
	vt_value v;
	int err;

	v.u64 = 0;
	err = vt_task_get_result(n->task, &v); /* a pooled promise goes back here, before fn */
	vt__node_put(n);
	fn(state, err, v);
}

int vt_task_then(vt_task t, vt_then_fn fn, void *state, vt_executor *ex)
{
	vt__then_node *n;
	int rc;

	if (fn == NULL)
		return VT_EINVAL;
	if (!VT__TASK_HAS_SOURCE(t) && ex == NULL) {
		vt_value v;
		int err;

		v.u64 = 0;
		err = vt_task_get_result(t, &v);
		fn(state, err, v);
		return 0;
	}
	n = vt__node_get();
	if (n == NULL) /* VT_ETOKEN outranks a failed allocation (SPEC §4.1) */
		return vt_task_status(t) == VT_ETOKEN ? VT_ETOKEN : VT_ENOMEM;
	n->task = t;
	n->fn = fn;
	n->state = state;
	rc = vt_task_on_completed(t, vt__then_run, n, ex);
	if (rc != 0)
		vt__node_put(n); /* VT_ETOKEN / VT_EAWAITED: nothing registered */
	return rc;
}
