/*
 * tests/check.h: the whole test harness.
 *
 * CHECK(cond) and CHECK_EQ(a, b) fire in every build, NDEBUG included: a
 * failure prints file:line, the expression and (for CHECK_EQ) both values as
 * long long, then exits 1. Test programs exit 0 (pass), 1 (fail) or
 * 77 (skip), which is what `meson test` expects.
 *
 * CHECK_EQ evaluates each argument exactly once. Values wider than long long
 * (none in this library) would be truncated in the message only.
 */
#ifndef VT_TESTS_CHECK_H
#define VT_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define VT_TEST_PASS 0
#define VT_TEST_FAIL 1
#define VT_TEST_SKIP 77

static inline _Noreturn void vt_check_fail_(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
	fflush(stderr);
	exit(VT_TEST_FAIL);
}

static inline _Noreturn void vt_check_eq_fail_(const char *file, int line, const char *a, const char *b,
				     long long va, long long vb)
{
	fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s\n    left:  %lld (0x%llx)\n    right: %lld (0x%llx)\n",
		file, line, a, b, va, (unsigned long long)va, vb, (unsigned long long)vb);
	fflush(stderr);
	exit(VT_TEST_FAIL);
}

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond))                                             \
			vt_check_fail_(__FILE__, __LINE__, #cond);       \
	} while (0)

#define CHECK_EQ(a, b)                                                            \
	do {                                                                      \
		long long vt_check_a_ = (long long)(a);                           \
		long long vt_check_b_ = (long long)(b);                           \
		if (vt_check_a_ != vt_check_b_)                                   \
			vt_check_eq_fail_(__FILE__, __LINE__, #a, #b, vt_check_a_, \
					  vt_check_b_);                           \
	} while (0)

/* Skip the whole program (exit 77) with a reason. */
#define SKIP(reason)                                                     \
	do {                                                             \
		fprintf(stderr, "SKIP: %s\n", (reason));                 \
		exit(VT_TEST_SKIP);                                      \
	} while (0)

/* Run one test function and say so; each test function checks and returns. */
#define RUN_TEST(fn)                                                     \
	do {                                                             \
		fn();                                                    \
		printf("ok %s\n", #fn);                                  \
		fflush(stdout);                                          \
	} while (0)

#endif /* VT_TESTS_CHECK_H */
