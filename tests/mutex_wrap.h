/*
 * tests/mutex_wrap.h: pthread_mutex_lock and pthread_mutex_unlock wrapped
 * at link time (-Wl,--wrap=pthread_mutex_lock,--wrap=pthread_mutex_unlock,
 * so the test links the static archive), counting the mutexes the calling
 * thread holds. A test holds a thread inside the library when it takes a
 * mutex while holding another (locks_held > 0): it defines
 * __wrap_pthread_mutex_lock, which holds and then ends in mutex_wrap_lock.
 */
#ifndef VT_TESTS_MUTEX_WRAP_H
#define VT_TESTS_MUTEX_WRAP_H

#include <pthread.h>

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_pthread_mutex_unlock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m);

static _Thread_local int locks_held;

/* The real lock, counted. */
static inline int mutex_wrap_lock(pthread_mutex_t *m)
{
	int rc = __real_pthread_mutex_lock(m);

	if (rc == 0)
		locks_held++;
	return rc;
}

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
	locks_held--;
	return __real_pthread_mutex_unlock(m);
}

#endif /* VT_TESTS_MUTEX_WRAP_H */
