/*
 * valuetask: shared vocabulary.
 *
 * Export and inlining macros, the result word (vt_value), the completion
 * status, continuations, and the atomic wrappers every concurrent field in
 * the library goes through. The wrappers use the __atomic builtins on plain
 * types so that the public structs stay plain C (and usable from C++), and
 * each name carries its memory order: every call site says what it pairs with.
 */
#ifndef VALUETASK_COMMON_H
#define VALUETASK_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* VT_API marks exported symbols; the library is built with hidden visibility. */
#if defined(_WIN32)
#define VT_API
#elif defined(__GNUC__)
#define VT_API __attribute__((visibility("default")))
#else
#define VT_API
#endif

/*
 * VT_INLINE marks the hot paths defined in the headers. lib/inline.c defines
 * it to VT_API before including the headers, which emits one exported,
 * out-of-line copy of each for bindings and debuggers.
 */
#ifndef VT_INLINE
#define VT_INLINE static inline
#endif

#if defined(__GNUC__)
#define VT_NODISCARD __attribute__((warn_unused_result))
#define VT_LIKELY(x) __builtin_expect(!!(x), 1)
#define VT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define VT_NODISCARD
#define VT_LIKELY(x) (x)
#define VT_UNLIKELY(x) (x)
#endif

/* One machine word of result. */
typedef union vt_value {
	int64_t i64;
	uint64_t u64;
	double f64;
	void *ptr;
} vt_value;

/* What vt_*_status() answers (non-negative); misuse is a negative VT_E* code. */
typedef enum vt_status {
	VT_PENDING = 0,
	VT_SUCCEEDED = 1,
	VT_FAULTED = 2,
	VT_CANCELED = 3
} vt_status;

/* A continuation: called once, with the state given at registration. */
typedef void (*vt_continuation)(void *state);

typedef struct vt_executor vt_executor;

/* Value constructors, for brevity at call sites. */
static inline vt_value vt_value_i64(int64_t v) { vt_value r; r.i64 = v; return r; }
static inline vt_value vt_value_u64(uint64_t v) { vt_value r; r.u64 = v; return r; }
static inline vt_value vt_value_f64(double v) { vt_value r; r.f64 = v; return r; }
static inline vt_value vt_value_ptr(void *v) { vt_value r; r.ptr = v; return r; }

/*
 * Atomic wrappers (private). The order is in the name; each call site
 * carries a comment naming the operation it pairs with.
 */
#define vt__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define vt__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define vt__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define vt__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define vt__cas_acq_rel(p, e, d) \
	__atomic_compare_exchange_n((p), (e), (d), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define vt__cas_acquire(p, e, d) \
	__atomic_compare_exchange_n((p), (e), (d), false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)
#define vt__fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define vt__fetch_add_acq_rel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define vt__fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/* Bump a counter that only its owning thread writes: no read-modify-write. */
#define vt__counter_inc(p) vt__store_relaxed((p), vt__load_relaxed(p) + 1)

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_COMMON_H */
