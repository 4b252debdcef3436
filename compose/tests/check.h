/*
 * compose/tests/check.h: the harness for the composition and executor
 * tests. CHECK and CHECK_EQ fire in every build (NDEBUG too) and print both
 * values; programs exit 0 (pass), 1 (fail) or 77 (skip).
 */
#ifndef VT_COMPOSE_TESTS_CHECK_H
#define VT_COMPOSE_TESTS_CHECK_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void vt_ck_fail_(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
	fflush(stderr);
	exit(1);
}

static inline void vt_ck_eq_fail_(const char *file, int line, const char *a, const char *b, long long va,
				  long long vb)
{
	fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s\n    left:  %lld\n    right: %lld\n", file, line, a,
		b, va, vb);
	fflush(stderr);
	exit(1);
}

#define CHECK(cond)                                              \
	do {                                                     \
		if (!(cond))                                     \
			vt_ck_fail_(__FILE__, __LINE__, #cond);  \
	} while (0)

#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long vt_ck_a_ = (long long)(a);                                       \
		long long vt_ck_b_ = (long long)(b);                                       \
		if (vt_ck_a_ != vt_ck_b_)                                                  \
			vt_ck_eq_fail_(__FILE__, __LINE__, #a, #b, vt_ck_a_, vt_ck_b_);     \
	} while (0)

#define RUN(test)                                        \
	do {                                             \
		fprintf(stderr, "  %s\n", #test);        \
		test();                                  \
	} while (0)

/* Wait until *flag reads non-zero or about ms milliseconds passed, sleeping
 * 1 ms at a time (for interposers that play a preempted thread). Returns
 * whether the flag was set. */
static inline int vt_ck_wait_flag(const int *flag, int ms)
{
	struct timespec one = { 0, 1000000L };

	for (int i = 0; i < ms && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); i++)
		nanosleep(&one, NULL);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

/* The definition of `name` that an interposer defined in the test hides
 * (dlsym(RTLD_NEXT)), looked up once into *cache; as a function pointer
 * through memcpy, which POSIX allows for dlsym's answer. */
#define VT_CK_NEXT_SYM(fp, cache, name)                                                         \
	do {                                                                                    \
		void *sym_ = __atomic_load_n((cache), __ATOMIC_RELAXED); /* one answer for all */ \
		if (sym_ == NULL) {                                                             \
			sym_ = dlsym(RTLD_NEXT, (name));                                        \
			__atomic_store_n((cache), sym_, __ATOMIC_RELAXED);                      \
		}                                                                               \
		memcpy(&(fp), &sym_, sizeof(sym_));                                             \
	} while (0)

/* --threads N --iterations N, with defaults. */
static inline void vt_ck_args(int argc, char **argv, int *threads, long *iterations)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--threads") == 0)
			*threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--iterations") == 0)
			*iterations = atol(argv[++i]);
	}
	if (*threads < 1)
		*threads = 1;
	if (*iterations < 1)
		*iterations = 1;
}

#endif /* VT_COMPOSE_TESTS_CHECK_H */
