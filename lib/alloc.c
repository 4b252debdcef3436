/*
 * The process-wide default allocator (alloc.h), for allocations that have
 * no config. Published under a mutex: set rarely, read on the slow path
 * only (when a then() node or header must be made).
 */
#include <pthread.h>

#include "alloc_internal.h"
#include "valuetask/error.h"

static pthread_mutex_t vt__mem_lock = PTHREAD_MUTEX_INITIALIZER;
static vt_allocator vt__mem_dflt; /* under vt__mem_lock; zero: libc */

int vt_set_default_allocator(const vt_allocator *a)
{
	vt_allocator v = {0};

	if (a != NULL) {
		if (!vt__mem_valid(a))
			return VT_EINVAL;
		v = *a;
	}
	pthread_mutex_lock(&vt__mem_lock);
	vt__mem_dflt = v;
	pthread_mutex_unlock(&vt__mem_lock);
	return 0;
}

vt_allocator vt__mem_default(void)
{
	vt_allocator v;

	pthread_mutex_lock(&vt__mem_lock);
	v = vt__mem_dflt;
	pthread_mutex_unlock(&vt__mem_lock);
	return v;
}
