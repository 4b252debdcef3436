/*
 * Checks for the reliability programs: fire under NDEBUG too, print both
 * sides, and abort (so that sanitizers and libFuzzer see a crash).
 */
#ifndef VT_REL_CHECK_H
#define VT_REL_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			abort();                                                       \
		}                                                                      \
	} while (0)

#define CHECK_EQ(a, b)                                                                 \
	do {                                                                           \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);        \
		if (check_a_ != check_b_) {                                            \
			fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);       \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* Exit code meson reads as "skipped". */
#define EXIT_SKIP 77

#endif /* VT_REL_CHECK_H */
