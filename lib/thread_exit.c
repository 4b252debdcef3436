/*
 * The library's one thread-exit hook (thread_exit_internal.h).
 *
 * Everything here is per thread except the key, which pthread_once makes
 * and publishes: no atomics.
 */
#include <pthread.h>

#include "thread_exit_internal.h"

enum { VT__EXIT_IDLE, VT__EXIT_ARMED, VT__EXIT_RAN };

static pthread_key_t vt__exit_key;
static pthread_once_t vt__exit_once = PTHREAD_ONCE_INIT;
static bool vt__exit_key_ok; /* written in vt__exit_key_create; pthread_once orders it for every caller */
static _Thread_local unsigned char vt__exit_state;
static _Thread_local void (*vt__exit_hooks[VT__EXIT_NCLIENTS])(void);

static void vt__thread_exit(void *arg)
{
	(void)arg;
	/* Before the hooks: a hook, or a destructor after this one, that
	 * calls into the library takes nothing per thread from here on. */
	vt__exit_state = VT__EXIT_RAN;
	for (int i = 0; i < VT__EXIT_NCLIENTS; i++)
		if (vt__exit_hooks[i] != NULL)
			vt__exit_hooks[i]();
}

static void vt__exit_key_create(void)
{
	vt__exit_key_ok = pthread_key_create(&vt__exit_key, vt__thread_exit) == 0;
}

bool vt__thread_exit_arm(enum vt__exit_client client, void (*hook)(void))
{
	if (vt__exit_state == VT__EXIT_RAN)
		return false;
	if (vt__exit_state == VT__EXIT_IDLE) {
		pthread_once(&vt__exit_once, vt__exit_key_create);
		/* Any non-NULL value makes the destructor run at thread exit. */
		if (!vt__exit_key_ok || pthread_setspecific(vt__exit_key, &vt__exit_state) != 0)
			return false; /* tried again on the next call */
		vt__exit_state = VT__EXIT_ARMED;
	}
	vt__exit_hooks[client] = hook;
	return true;
}
