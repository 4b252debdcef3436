/*
 * Allocation failure on the baseline's request path: a GET that hits a
 * value over a reply slot (SLOT_BUF) copies the value to the heap; if the
 * completion object's allocation then fails, the client must get an error
 * and the copy must not leak. server.c is compiled into this file (its main
 * renamed, like fuzz_resp.c), with base_op_new's malloc replaced by one
 * that fails on demand; malloc_count.c counts the process's allocations
 * (the interposer, or a sanitizer's hooks), so a leak shows as live blocks
 * in any build, and LeakSanitizer reports it too in an ASan build.
 *
 * One connection on a socketpair, in baseline mode, no loop thread:
 *   1. GET of a 300-byte value: the value (warms every buffer);
 *   2. the same GET with the next completion object failing: -ERR out of
 *      memory, and the connection stays;
 *   3. the same GET again: the value;
 * and as many blocks are live after 3 as before 2. Exit 0 pass, 1 fail.
 */
#include <stddef.h>

static void *nm_base_op_malloc(size_t n);
#define BASE_OP_MALLOC nm_base_op_malloc
#define main vt_server_main
int vt_server_main(int argc, char **argv);
#include "server.c"
#undef main
#include "harness.h"

#define NM_VALUE 300 /* over SLOT_BUF */

static int nm_fail; /* base_op allocations still to fail */

static void *nm_base_op_malloc(size_t n)
{
	if (nm_fail > 0) {
		nm_fail--;
		return NULL;
	}
	return malloc(n);
}

static int nm_failed;

#define NM_CHECK(cond)                                                                    \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "test_nomem: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                                         \
			nm_failed = 1;                                                    \
		}                                                                         \
	} while (0)

static uint64_t nm_live(void)
{
	uint64_t allocs, frees;

	malloc_count_read(&allocs, &frees);
	return allocs - frees;
}

/* Send req, run the connection once, and compare what comes back. */
static void nm_request(conn *c, int cl, const char *req, const char *want, size_t want_len)
{
	char got[1024];
	ssize_t n;

	NM_CHECK(send(cl, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	conn_read(c);
	NM_CHECK(!c->closed && c->pending == 0 && slots_empty(c));
	n = recv(cl, got, sizeof(got), MSG_DONTWAIT);
	if (n != (ssize_t)want_len || memcmp(got, want, want_len) != 0) {
		fprintf(stderr, "test_nomem: %s: got %zd bytes \"%.*s\", want \"%.*s\"\n", req, n,
			n > 0 ? (int)(n > 60 ? 60 : n) : 0, got, (int)(want_len > 60 ? 60 : want_len),
			want);
		nm_failed = 1;
	}
}

int main(void)
{
	static const char get[] = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
	static const char nomem[] = "-ERR out of memory\r\n";
	srv s;
	loop l;
	char value[NM_VALUE], reply[NM_VALUE + 32];
	size_t reply_len;
	int sv[2];
	uint64_t live;
	conn *c;

	memset(&s, 0, sizeof(s));
	memset(&l, 0, sizeof(l));
	s.cfg.mode = MODE_BASE;
	s.cfg.loops = 1;
	s.cfg.store_threads = 1;
	s.cfg.max_bulk = 4096;
	s.cfg.max_output = 1 << 20;
	s.cfg.pool_capacity = 16;
	if (harness_loop_init(&s, &l) != 0 || kv_create(&s.cache, 16, 0) != 0 ||
	    store_create(&s.st, 1, 0, 16) != 0) {
		fprintf(stderr, "test_nomem: setup failed\n");
		return 1;
	}
	memset(value, 'v', sizeof(value));
	NM_CHECK(kv_set(s.cache, "big", 3, value, sizeof(value)) == 1);
	reply_len = fmt_bulk(reply, value, sizeof(value));
	c = harness_attach(&l, sv);
	NM_CHECK(c != NULL);
	if (c == NULL)
		return 1;

	nm_request(c, sv[1], get, reply, reply_len);
	live = nm_live();
	nm_fail = 1;
	nm_request(c, sv[1], get, nomem, sizeof(nomem) - 1);
	NM_CHECK(nm_fail == 0); /* the failure was injected */
	nm_request(c, sv[1], get, reply, reply_len);
	if (nm_live() != live) {
		fprintf(stderr, "test_nomem: %lld blocks leaked by the failed GET\n",
			(long long)(nm_live() - live));
		nm_failed = 1;
	}
	NM_CHECK(l.cnt.base_new == l.cnt.base_free);

	/* Teardown: stop_seen makes conn_free free the connection instead of
	 * keeping it for reuse. */
	l.stop_seen = true;
	conn_close(c);
	loop_reap(&l);
	close(sv[1]);
	store_destroy(&s.st);
	kv_destroy(&s.cache);
	(void)vt_loop_destroy(&l.vl);
	close(l.ep);
	printf("test_nomem: %s\n", nm_failed ? "FAILED" : "a GET hit whose completion object "
	       "could not be allocated answered -ERR out of memory and leaked nothing");
	return nm_failed;
}
