/*
 * Fuzz target: the server's request path (conn_read -> parse_cmd ->
 * cmd_exec -> replies -> conn_write) on one real connection, without a
 * listener or a loop thread. server.c is compiled into this file (its main
 * renamed), so every static function is the real one.
 *
 * The connection's fd is one end of a socketpair; the test writes the
 * client's bytes into the other end and reads the replies back from it. A
 * small server (valuetask mode, a vt_loop drained here, a store with one
 * worker and no latency, an unbounded cache, a 64-byte first input
 * buffer, a 512-byte inline bound, 300-byte bulks, 600 bytes of output
 * before the reader pauses) reaches the growth, limit and pause paths with
 * short inputs.
 *
 * Input: byte 0 picks how the stream is cut (bits 0-1: whole, every
 * byte, or pseudo-random pieces seeded by byte 1; bit 2: the client
 * disconnects after its last byte instead of waiting for its replies);
 * the rest is what the client sends. Each input runs twice, once sent in
 * one piece and once cut as byte 0 says, each against a fresh cache and
 * store. Checked, else abort:
 *   - the replies are well-formed RESP (no CR or LF inside a simple
 *     string or error, bulk lengths that match);
 *   - the two runs answer the same replies (STATS' text aside): how the
 *     bytes arrive does not change what a request means;
 *   - afterwards nothing is pending, the reply queue is empty and no
 *     promise is still rented (also when the client left mid-request).
 *
 * Built two ways: with libFuzzer (clang, -Dfuzzing=true) and with
 * reliability/fuzz_replay.c's main(), which replays examples/server/corpus
 * as a test in the 'server' suite.
 */
#define MAX_INLINE 512
#define IO_BUF 64
#define main vt_server_main
int vt_server_main(int argc, char **argv);
#include "server.c"
#undef main
#include "harness.h"

#include <sched.h>
#include <sys/ioctl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* server.c's STATS reads the allocation counter; this harness has none. */
void malloc_count_read(uint64_t *allocs, uint64_t *frees)
{
	*allocs = 0;
	*frees = 0;
}

const char *malloc_count_method(void)
{
	return "none";
}

#define FZ_MAX_BULK 300
#define FZ_MAX_OUTPUT 600
#define FZ_MAX_REPLY (1 << 20)

#define FZ_CHECK(cond)                                                                  \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_resp: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                                       \
			abort();                                                        \
		}                                                                       \
	} while (0)

static srv fz_srv;
static loop fz_loop;

static void fz_init(void)
{
	static bool done;
	srv *s = &fz_srv;
	loop *l = &fz_loop;
	vt_pool_config pc;

	if (done)
		return;
	done = true;
	signal(SIGPIPE, SIG_IGN);
	s->cfg.host = "127.0.0.1";
	s->cfg.loops = 1;
	s->cfg.store_threads = 1;
	s->cfg.mode = MODE_VT;
	s->cfg.max_bulk = FZ_MAX_BULK;
	s->cfg.max_output = FZ_MAX_OUTPUT;
	s->cfg.pool_capacity = 256;
	FZ_CHECK(harness_loop_init(s, l) == 0);
	vt_pool_config_default(&pc);
	pc.capacity = s->cfg.pool_capacity;
	pc.initial_objects = 16;
	FZ_CHECK(vt_promise_pool_create(&l->pool, &pc) == 0);
}

/* The client's side: what has come back so far. */
typedef struct fz_client {
	int fd;
	char *rx;
	size_t rx_len;
	bool eof;
} fz_client;

static void fz_recv(fz_client *cl)
{
	while (!cl->eof && cl->rx_len < FZ_MAX_REPLY) {
		ssize_t n = recv(cl->fd, cl->rx + cl->rx_len, FZ_MAX_REPLY - cl->rx_len, MSG_DONTWAIT);

		if (n > 0) {
			cl->rx_len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			cl->eof = true;
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
}

static int fz_unread(int fd)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, FIONREAD, &n) != 0)
		return 0;
	return n;
}

/* One turn of the server's loop for this connection: what epoll would
 * report for a TCP client (readable; the client's FIN, which raises
 * EPOLLRDHUP; writable), of what the connection watches, then the
 * vt_loop's drain. */
static void fz_turn(conn *c, fz_client *cl, bool peer_gone)
{
	loop *l = c->l;
	uint32_t ev = 0;

	if (fz_unread(c->fd) > 0 || peer_gone)
		ev |= EPOLLIN;
	if (peer_gone)
		ev |= EPOLLRDHUP;
	ev &= c->events;
	if (!c->closed && ev != 0)
		conn_event(c, ev);
	if (!c->closed && (c->events & EPOLLOUT))
		conn_write(c);
	(void)vt_loop_run_once(l->vl);
	if (cl->fd >= 0)
		fz_recv(cl);
}

/* Run the stream once, cut into pieces by `cut`. Returns the replies
 * (rx, rx_len) in *cl; cl->fd is closed. */
static void fz_run(const uint8_t *p, size_t n, uint8_t cut, uint8_t seed, bool leave, fz_client *cl)
{
	srv *s = &fz_srv;
	loop *l = &fz_loop;
	int sv[2];
	conn *c;
	size_t off = 0;
	uint32_t rng = 0x9e3779b9u ^ seed;

	FZ_CHECK(kv_create(&s->cache, 16, 0) == 0);
	FZ_CHECK(store_create(&s->st, 1, 0, 16) == 0);
	c = harness_attach(l, sv);
	FZ_CHECK(c != NULL);
	cl->fd = sv[1];
	cl->rx_len = 0;
	cl->eof = false;

	while (off < n && !c->closed) {
		size_t piece;

		if (cut == 0) {
			piece = n - off;
		} else if (cut == 1) {
			piece = 1;
		} else {
			rng = rng * 1103515245u + 12345u;
			piece = 1 + (rng >> 16) % (cut == 2 ? 7 : 97);
		}
		if (piece > n - off)
			piece = n - off;
		/* A full socket (the server paused, or one-byte pieces filling
		 * it with their overhead): let the server run until it reads. */
		for (long spins = 0; piece > 0 && !c->closed; spins++) {
			ssize_t k = send(cl->fd, p + off, piece, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (k > 0) {
				off += (size_t)k;
				piece -= (size_t)k;
				continue;
			}
			FZ_CHECK(k < 0 && (errno == EAGAIN || errno == EINTR));
			FZ_CHECK(spins < 10000000); /* the server never reads again: a hang */
			fz_turn(c, cl, false);
			if (spins > 1000)
				sched_yield();
		}
		/* Let the server take what it will before the next piece. */
		for (int i = 0; i < 4 && !c->closed; i++)
			fz_turn(c, cl, false);
	}
	if (leave && !c->closed) {
		close(cl->fd); /* gone mid-request or mid-reply */
		cl->fd = -1;
	}
	/* Settle: every pending operation completes (the store has no
	 * latency), every reply that can leave has left. A client that stays
	 * and a server that keeps the connection: the server waits for more
	 * input, with nothing of the stream unread. */
	for (long spins = 0;; spins++) {
		bool busy;

		fz_turn(c, cl, cl->fd < 0);
		busy = !c->closed && (c->pending != 0 || (c->events & EPOLLOUT) ||
				      ((c->events & EPOLLIN) && fz_unread(c->fd) > 0) ||
				      (cl->fd < 0));
		if (c->closed && c->pending == 0)
			busy = false;
		if (!busy)
			break;
		FZ_CHECK(spins < 10000000);
		if (spins > 1000)
			sched_yield();
	}
	if (!c->closed) {
		/* Everything sent has been read and answered, unless the
		 * connection is paused on a reason that has gone. */
		FZ_CHECK(c->pending == 0);
		FZ_CHECK(slots_empty(c));
		FZ_CHECK(!c->slot_blocked);
		FZ_CHECK(!c->key_blocked);
		FZ_CHECK(!c->out_blocked);
		FZ_CHECK(c->close_after || fz_unread(c->fd) == 0);
		conn_close(c);
	}
	/* The connection's memory goes once the store lets go of it. */
	for (long spins = 0; l->dead != NULL; spins++) {
		(void)vt_loop_run_once(l->vl);
		loop_reap(l);
		FZ_CHECK(spins < 10000000);
		if (spins > 1000)
			sched_yield();
	}
	if (cl->fd >= 0) {
		fz_recv(cl);
		close(cl->fd);
		cl->fd = -1;
	}
	{
		vt_pool_stats ps;

		vt_promise_pool_get_stats(l->pool, &ps);
		FZ_CHECK(ps.rented == 0);
	}
	FZ_CHECK(__atomic_load_n(&l->inflight, __ATOMIC_RELAXED) == 0);
	store_destroy(&s->st);
	kv_destroy(&s->cache);
}

/* One RESP reply at *pp (rx is whole: a truncated last reply is allowed
 * only when `tail_ok`). Returns false when the bytes cannot be a reply.
 * *sum gets a digest of the reply, STATS' text left out. */
static bool fz_reply(const char **pp, const char *end, uint64_t *sum, int depth)
{
	const char *p = *pp, *nl;
	char t;
	long long v = 0;
	bool neg = false;

	if (p == end)
		return false;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || nl == p || nl[-1] != '\r')
		return false;
	t = *p;
	for (const char *q = p + 1; q < nl - 1; q++)
		if (*q == '\r')
			return false; /* a CR inside a line */
	*sum = (*sum ^ (unsigned char)t) * 1099511628211ull;
	if (t == '+' || t == '-') {
		for (const char *q = p + 1; q < nl - 1; q++)
			*sum = (*sum ^ (unsigned char)*q) * 1099511628211ull;
		*pp = nl + 1;
		return true;
	}
	if (t != ':' && t != '$' && t != '*')
		return false;
	{
		const char *q = p + 1;

		if (q < nl - 1 && *q == '-') {
			neg = true;
			q++;
		}
		if (q == nl - 1)
			return false;
		for (; q < nl - 1; q++) {
			if (*q < '0' || *q > '9' || v > (1LL << 40))
				return false;
			v = v * 10 + (*q - '0');
		}
	}
	if (neg)
		v = -v;
	p = nl + 1;
	if (t == '$') {
		if (v < 0) {
			*sum = (*sum ^ (uint64_t)v) * 1099511628211ull;
			*pp = p;
			return v == -1;
		}
		if (end - p < v + 2 || p[v] != '\r' || p[v + 1] != '\n')
			return false;
		if (!(v >= 11 && memcmp(p, "# vt-server", 11) == 0)) {
			*sum = (*sum ^ (uint64_t)v) * 1099511628211ull;
			for (long long i = 0; i < v; i++)
				*sum = (*sum ^ (unsigned char)p[i]) * 1099511628211ull;
		}
		*pp = p + v + 2;
		return true;
	}
	*sum = (*sum ^ (uint64_t)v) * 1099511628211ull;
	if (t == '*') {
		if (v < -1 || depth > 2)
			return false;
		*pp = p;
		for (long long i = 0; i < v; i++)
			if (!fz_reply(pp, end, sum, depth + 1))
				return false;
		return true;
	}
	*pp = p;
	return true;
}

/* Every byte of rx is a whole, well-formed reply. Returns the count. */
static size_t fz_check_replies(const fz_client *cl, uint64_t *sum)
{
	const char *p = cl->rx, *end = cl->rx + cl->rx_len;
	size_t n = 0;

	*sum = 1469598103934665603ull;
	while (p < end) {
		if (!fz_reply(&p, end, sum, 0)) {
			fprintf(stderr, "fuzz_resp: malformed reply at byte %zu of %zu: \"",
				(size_t)(p - cl->rx), cl->rx_len);
			for (const char *q = p; q < end && q < p + 80; q++)
				fprintf(stderr, (*q >= 32 && *q < 127) ? "%c" : "\\x%02x",
					(unsigned char)*q);
			fprintf(stderr, "\"\n");
			abort();
		}
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static fz_client whole, cut;
	uint8_t mode, seed;
	bool leave;
	uint64_t sum_whole, sum_cut;
	size_t n_whole, n_cut;

	fz_init();
	if (whole.rx == NULL) {
		whole.rx = malloc(FZ_MAX_REPLY);
		cut.rx = malloc(FZ_MAX_REPLY);
		FZ_CHECK(whole.rx != NULL && cut.rx != NULL);
	}
	if (size < 2 || size > 64 * 1024)
		return 0;
	mode = data[0];
	seed = data[1];
	leave = (mode & 4) != 0;
	data += 2;
	size -= 2;

	fz_run(data, size, 0, seed, false, &whole);
	if (getenv("FUZZ_RESP_SHOW") != NULL) /* debugging: the replies, sent whole */
		fwrite(whole.rx, 1, whole.rx_len, stderr);
	n_whole = fz_check_replies(&whole, &sum_whole);
	fz_run(data, size, (uint8_t)(mode & 3), seed, leave, &cut);
	n_cut = fz_check_replies(&cut, &sum_cut);
	if (!leave && (n_whole != n_cut || sum_whole != sum_cut)) {
		fprintf(stderr, "fuzz_resp: %zu replies when sent whole, %zu when cut (mode %u)\n",
			n_whole, n_cut, mode & 3);
		abort();
	}
	return 0;
}
