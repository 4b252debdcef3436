/*
 * ThreadSanitizer annotations for ck_ring (never installed).
 *
 * ck's ring operations use inline asm and volatile accesses that TSan does
 * not see, so the handoff of an object through a ring looks like a race.
 * Every enqueue is preceded by vt__tsan_release(obj) and every dequeue
 * followed by vt__tsan_acquire(obj): the edge TSan misses, made explicit.
 * Both compile away outside TSan builds.
 */
#ifndef VT_TSAN_H
#define VT_TSAN_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define VT__TSAN 1
#endif

#ifdef VT__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define vt__tsan_acquire(p) __tsan_acquire((void *)(p))
#define vt__tsan_release(p) __tsan_release((void *)(p))
#else
#define vt__tsan_acquire(p) ((void)0)
#define vt__tsan_release(p) ((void)0)
#endif

#endif /* VT_TSAN_H */
