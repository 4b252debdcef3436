/*
 * tests/test_errors.c: the error codes and vt_strerror (SPEC §3).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

static const int lib_codes[] = { VT_ETOKEN, VT_EPENDING, VT_EAWAITED, VT_ECOMPLETED,
				 VT_EEXHAUSTED, VT_EINVAL, VT_ENOMEM, VT_ESHUTDOWN };
#define NCODES (sizeof lib_codes / sizeof lib_codes[0])

static void test_codes_outside_errno_range(void)
{
	for (size_t i = 0; i < NCODES; i++) {
		CHECK(lib_codes[i] < -4095);
		CHECK(vt_is_library_error(lib_codes[i]));
		for (size_t j = 0; j < i; j++)
			CHECK(lib_codes[i] != lib_codes[j]);
	}
	/* The reserved block's edges. */
	CHECK(!vt_is_library_error(-4095));
	CHECK(vt_is_library_error(-4096));
	CHECK(vt_is_library_error(-4159));
	CHECK(!vt_is_library_error(-4160));
	CHECK(!vt_is_library_error(0));
	CHECK(!vt_is_library_error(-EIO));
	CHECK(!vt_is_library_error(INT_MIN));
	CHECK(!vt_is_library_error(INT_MAX));
}

static void test_strerror_names_every_code(void)
{
	const char *names[NCODES];

	for (size_t i = 0; i < NCODES; i++) {
		names[i] = vt_strerror(lib_codes[i]);
		CHECK(names[i] != NULL);
		CHECK(names[i][0] != '\0');
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(names[i], names[j]) != 0);
		/* Not the generic answers for errno values or unknown codes. */
		CHECK(strcmp(names[i], vt_strerror(-EIO)) != 0);
		CHECK(strcmp(names[i], vt_strerror(0)) != 0);
		CHECK(strcmp(names[i], vt_strerror(-4150)) != 0);
		/* Stable: the same string each time. */
		CHECK(strcmp(names[i], vt_strerror(lib_codes[i])) == 0);
	}
	/* Each names its code. */
	CHECK(strstr(vt_strerror(VT_ETOKEN), "TOKEN") != NULL);
	CHECK(strstr(vt_strerror(VT_EPENDING), "PENDING") != NULL);
	CHECK(strstr(vt_strerror(VT_EAWAITED), "AWAITED") != NULL);
	CHECK(strstr(vt_strerror(VT_ECOMPLETED), "COMPLETED") != NULL);
	CHECK(strstr(vt_strerror(VT_EEXHAUSTED), "EXHAUSTED") != NULL);
	CHECK(strstr(vt_strerror(VT_EINVAL), "EINVAL") != NULL);
	CHECK(strstr(vt_strerror(VT_ENOMEM), "ENOMEM") != NULL);
	CHECK(strstr(vt_strerror(VT_ESHUTDOWN), "SHUTDOWN") != NULL);
}

static void test_strerror_errno(void)
{
	const int errs[] = { EIO, ECANCELED, ENOENT, EAGAIN, ETIMEDOUT, ECONNRESET, 1, 4095 };

	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		const char *s = vt_strerror(-errs[i]);

		CHECK(s != NULL);
		CHECK(s[0] != '\0');
		for (size_t j = 0; j < NCODES; j++)
			CHECK(strcmp(s, vt_strerror(lib_codes[j])) != 0);
	}
	/* Different errno values get different names where libc has them. */
	CHECK(strcmp(vt_strerror(-EIO), vt_strerror(-ENOENT)) != 0);
	CHECK(strcmp(vt_strerror(-ECANCELED), vt_strerror(-ETIMEDOUT)) != 0);
	/* Outside any range: still a string. */
	const int odd[] = { INT_MIN, -4096, -4105, -4159, -4160, -100000 };
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		CHECK(vt_strerror(odd[i]) != NULL);
		CHECK(vt_strerror(odd[i])[0] != '\0');
	}
}

static void test_strerror_non_negative(void)
{
	const char *zero = vt_strerror(0);

	CHECK(zero != NULL);
	CHECK(zero[0] != '\0');
	/* Non-negative values (statuses, counts) all read as success. */
	CHECK(strcmp(vt_strerror(1), zero) == 0);
	CHECK(strcmp(vt_strerror(VT_CANCELED), zero) == 0);
	CHECK(strcmp(vt_strerror(INT_MAX), zero) == 0);
	for (size_t j = 0; j < NCODES; j++)
		CHECK(strcmp(zero, vt_strerror(lib_codes[j])) != 0);
}

static void test_version_string(void)
{
	CHECK(vt_version_string() != NULL);
	CHECK(strcmp(vt_version_string(), VT_VERSION_STRING) == 0);
	char buf[32];
	snprintf(buf, sizeof buf, "%d.%d.%d", VT_VERSION_MAJOR, VT_VERSION_MINOR, VT_VERSION_PATCH);
	CHECK(strcmp(buf, VT_VERSION_STRING) == 0);
}

int main(void)
{
	RUN_TEST(test_codes_outside_errno_range);
	RUN_TEST(test_strerror_names_every_code);
	RUN_TEST(test_strerror_errno);
	RUN_TEST(test_strerror_non_negative);
	RUN_TEST(test_version_string);
	return VT_TEST_PASS;
}
