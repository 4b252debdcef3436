/*
 * tests/syscall_wrap.h: syscall() wrapped at link time (-Wl,--wrap=syscall,
 * so the test links the static archive). The library calls syscall() only
 * for membarrier, always with three arguments after the number
 * (pool/pool.c), so the wrapper reads and forwards exactly those. The test
 * defines syscall_hook: it sees each call, and answers 0 to let it through
 * or an errno value to refuse it (the call then answers -1 with that errno).
 */
#ifndef VT_TESTS_SYSCALL_WRAP_H
#define VT_TESTS_SYSCALL_WRAP_H

#include <errno.h>
#include <stdarg.h>

long __real_syscall(long number, ...);
long __wrap_syscall(long number, ...);

static int syscall_hook(long number, const long a[3]);

long __wrap_syscall(long number, ...)
{
	long a[3];
	va_list ap;
	int err;

	va_start(ap, number);
	for (int i = 0; i < 3; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	err = syscall_hook(number, a);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return __real_syscall(number, a[0], a[1], a[2]);
}

#endif /* VT_TESTS_SYSCALL_WRAP_H */
