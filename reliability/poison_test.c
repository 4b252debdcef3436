/*
 * Proves that pool poisoning reports a use after return at the faulting
 * line: runs poison_helper in a child process for each misuse and checks
 * the sanitizer's report (ASan builds), or valgrind's (builds configured
 * with -Dpool_valgrind=true, when valgrind is installed). Skips (77) in
 * builds that poison nothing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#endif

static char out[1 << 16];

/* Run argv with stdout and stderr captured into out; the exit code, or 128+signal. */
static __attribute__((unused)) int run(char *const argv[])
{
	int fds[2];
	pid_t pid;
	size_t len = 0;
	ssize_t n;
	int status;

	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		execvp(argv[0], argv);
		perror("exec");
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static __attribute__((unused)) bool has(const char *needle)
{
	return strstr(out, needle) != NULL;
}

static int failures;

static __attribute__((unused)) void expect(bool ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok) {
		failures++;
		printf("---- child output ----\n%s----\n", out);
	}
}

int main(int argc, char **argv)
{
	bool ran = false;

	if (argc < 2) {
		fprintf(stderr, "usage: poison_test PATH-TO-poison_helper\n");
		return 2;
	}
	char *helper = argv[1];
	(void)helper;

#ifdef ASAN
	{
		char *a1[] = { helper, "pool-uaf", NULL };
		int rc = run(a1);
		expect(rc != 0 && has("use-after-poison") && has("WRITE of size 1") &&
			       has("touch_after_return") && has("poison_helper.c:"),
		       "ASan reports a write to a returned pool object, in the faulting function");
		char *a2[] = { helper, "pool-overrun", NULL };
		rc = run(a2);
		expect(rc != 0 && has("use-after-poison") && has("touch_after_return"),
		       "ASan reports a write into the padding after a rented object");
		char *a3[] = { helper, "promise-uaf", NULL };
		rc = run(a3);
		expect(rc != 0 && has("use-after-poison") && has("executor_after_consume"),
		       "ASan reports a write to a consumed promise (vt_core_set_executor)");
		char *a4[] = { helper, "promise-stale", NULL };
		rc = run(a4);
		expect(rc == 0 && !has("AddressSanitizer"),
		       "stale calls on a returned promise read only its head: VT_ETOKEN, no report");
		ran = true;
	}
#elif defined(VT_POOL_VALGRIND) && VT_POOL_VALGRIND
	if (system("valgrind --version >/dev/null 2>&1") == 0) {
		char *a1[] = { "valgrind", "-q", "--error-exitcode=42", helper, "pool-uaf", NULL };
		int rc = run(a1);
		expect(rc == 42 && has("Invalid write of size 1") && has("touch_after_return"),
		       "valgrind reports a write to a returned pool object, in the faulting function");
		char *a2[] = { "valgrind", "-q", "--error-exitcode=42", helper, "promise-uaf", NULL };
		rc = run(a2);
		expect(rc == 42 && has("Invalid write") && has("executor_after_consume"),
		       "valgrind reports a write to a consumed promise (vt_core_set_executor)");
		char *a4[] = { "valgrind", "-q", "--error-exitcode=42", helper, "pool-overrun", NULL };
		rc = run(a4);
		expect(rc == 42 && has("Invalid write of size 1") && has("touch_after_return"),
		       "valgrind reports a write into the padding after a rented object");
		char *a3[] = { "valgrind", "-q", "--error-exitcode=42", helper, "promise-stale", NULL };
		rc = run(a3);
		expect(rc == 0 && !has("Invalid"),
		       "stale calls on a returned promise read only its head: VT_ETOKEN, no report");
		ran = true;
	}
#endif
	if (!ran) {
		printf("poison_test: this build poisons nothing (no ASan, no -Dpool_valgrind): skipped\n");
		return EXIT_SKIP;
	}
	return failures == 0 ? 0 : 1;
}
