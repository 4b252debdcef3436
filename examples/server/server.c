/*
 * vt-server: see server.h and README.md.
 *
 * Threads: the main thread (listens on a signalfd for SIGTERM/SIGINT),
 * `loops` event-loop threads (each its own epoll, its own SO_REUSEPORT
 * listener, its own vt_loop (the library's event-loop executor, whose
 * eventfd sits in the epoll set) and its own promise pool), and the store's
 * workers. A connection belongs to one loop for its whole life; every byte
 * of it is touched only on that loop's thread. Store workers only complete
 * promises (or baseline ops); the continuation comes back through the
 * loop's vt_loop executor.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "malloc_count.h"
#include "server.h"

#define NSLOTS 32        /* replies queued behind a pending one, per connection */
#define SLOT_KEY 128     /* keys up to this length travel without allocation */
#define SLOT_BUF 256     /* values and queued replies up to this, likewise */
#define MAX_ARGV 64      /* arguments a command may carry */
#define MAX_MULTIBULK 1024
/* The fuzz target (fuzz_resp.c) builds with smaller ones. */
#ifndef MAX_INLINE
#define MAX_INLINE (64 * 1024) /* an inline line; also a request's headroom over max-bulk */
#endif
#ifndef IO_BUF
#define IO_BUF 16384     /* initial input and output buffer size */
#endif
/* The largest --max-bulk: a request's bound, max-bulk + MAX_INLINE
 * (conn_read), and a bulk's length + 2 (parse_cmd) stay within a size_t
 * and a long long. */
#if SIZE_MAX < LLONG_MAX
#define MAX_BULK_LIMIT (SIZE_MAX - MAX_INLINE)
#else
#define MAX_BULK_LIMIT (LLONG_MAX - MAX_INLINE)
#endif

/* ======================================================================
 * Baseline: SPEC §5's Task, a malloc'd, mutex-protected completion object
 * per operation, freed after its result is read.
 * ==================================================================== */

typedef struct base_op {
	pthread_mutex_t mu;
	int done;
	int rc;          /* 0, or the negative error */
	int64_t value;
	vt_continuation fn;
	void *state;
	vt_executor *ex;
} base_op;

/* test_nomem.c, which compiles this file in, makes it fail on demand. */
#ifndef BASE_OP_MALLOC
#define BASE_OP_MALLOC malloc
#endif

static base_op *base_op_new(void)
{
	base_op *op = BASE_OP_MALLOC(sizeof(*op));

	if (op == NULL)
		return NULL;
	pthread_mutex_init(&op->mu, NULL);
	op->done = 0;
	op->rc = 0;
	op->value = 0;
	op->fn = NULL;
	op->state = NULL;
	op->ex = NULL;
	return op;
}

static void base_op_complete(base_op *op, int rc, int64_t value)
{
	vt_continuation fn;
	void *st;
	vt_executor *ex;

	pthread_mutex_lock(&op->mu);
	op->done = 1;
	op->rc = rc;
	op->value = value;
	fn = op->fn;
	st = op->state;
	ex = op->ex;
	pthread_mutex_unlock(&op->mu);
	if (fn != NULL)
		vt_executor_dispatch(ex, fn, st);
}

static bool base_op_is_done(base_op *op)
{
	bool d;

	pthread_mutex_lock(&op->mu);
	d = op->done;
	pthread_mutex_unlock(&op->mu);
	return d;
}

static void base_op_on_completed(base_op *op, vt_continuation fn, void *st, vt_executor *ex)
{
	pthread_mutex_lock(&op->mu);
	if (!op->done) {
		op->fn = fn;
		op->state = st;
		op->ex = ex;
		pthread_mutex_unlock(&op->mu);
		return;
	}
	pthread_mutex_unlock(&op->mu);
	vt_executor_dispatch(ex, fn, st);
}

/* Read the result and free the object. */
static int base_op_take(base_op *op, int64_t *value)
{
	int rc;

	pthread_mutex_lock(&op->mu);
	rc = op->rc;
	*value = op->value;
	pthread_mutex_unlock(&op->mu);
	pthread_mutex_destroy(&op->mu);
	free(op);
	return rc;
}

/* ======================================================================
 * Types
 * ==================================================================== */

typedef struct srv srv;
typedef struct loop loop;
typedef struct conn conn;

/* What an operation hands back: a vt_task (valuetask mode, and the plain
 * values of baseline-async), or a baseline object. */
typedef struct handle {
	vt_task t;
	base_op *b;
} handle;

enum { K_RAW = 1, K_GET, K_SET };

typedef struct slot {
	conn *c;
	uint8_t kind;
	uint8_t done;
	int rc;              /* the operation's error, or 0 */
	int64_t value;       /* GET: value length or STORE_NIL; SET: 0 */
	uint32_t len;        /* K_RAW: bytes in buf */
	char *big;           /* value or reply over SLOT_BUF */
	char *kbig;          /* key over SLOT_KEY */
	handle h;
	vt_promise *prom;    /* valuetask: the rental the store completes */
	uint16_t tok;
	bool canceled;       /* valuetask: its client left and vt_task_cancel won */
	store_req req;
	char key[SLOT_KEY];
	char buf[SLOT_BUF];
} slot;

struct conn {
	loop *l;
	int fd;
	bool closed;
	bool out_blocked;   /* output over the bound: not reading */
	bool slot_blocked;  /* reply queue full: not parsing */
	bool key_blocked;   /* the next command waits for a pending one on its key */
	bool close_after;   /* protocol error or QUIT: close once flushed */
	bool lingering;     /* shutdown: replies out, FIN sent, waiting for the client's */
	uint32_t events;    /* epoll interest now */
	uint32_t pending;   /* operations in flight */
	uint32_t ncanceled; /* slots canceled while the store may still hold them */
	char *in;
	size_t in_len, in_off, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	slot *slots;
	uint32_t s_head, s_tail;
	conn *prev, *next;
};

typedef struct counters {
	uint64_t cmds, gets, hits, misses, sets, sets_cache, sets_store, dels, pings;
	uint64_t err_replies, proto_errors, busy, canceled, dropped;
	uint64_t cancels, cancel_late;
	uint64_t accepted, rejected, closed, out_pauses, max_out;
	uint64_t base_new, base_free;
} counters;

struct loop {
	srv *s;
	int id;
	pthread_t th;
	int ep;
	int lfd;
	bool listen_paused; /* the listener is out of the epoll set ... */
	uint64_t listen_retry_ns; /* ... until then (CLOCK_MONOTONIC) */
	vt_loop *vl;        /* the library's event-loop executor */
	vt_executor *ex;    /* vt_loop_executor(vl) */
	vt_promise_pool *pool;
	uint32_t inflight;  /* written by the owner (relaxed stores); STATS on
	                       other loops reads it relaxed, like nconns */
	int stopping;       /* set by main */
	bool stop_seen;
	conn *conns;        /* live */
	conn *dead;         /* closed, freed once no operation is pending */
	conn *spare;        /* freed, kept for reuse */
	uint32_t nspare;
	uint64_t nconns;    /* live, written by the owner */
	char pad[64];
	counters cnt;       /* written by this loop only */
	char pad2[64];
};

struct srv {
	srv_config cfg;
	kv *cache;
	store *st;
	loop *loops;
	int port;
	pthread_mutex_t fd_mu; /* every accept4, and spare_fd */
	int spare_fd;          /* given up at the fd limit (loop_reject), or -1 */
};

#define CNT(l, f) vt__counter_inc(&(l)->cnt.f)

/* ======================================================================
 * Output: the connection's buffer, and the queue of replies that wait
 * behind a pending one (so replies leave in request order).
 * ==================================================================== */

static void conn_close(conn *c);

static bool out_reserve(conn *c, size_t n)
{
	if (c->out_off > 0 && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap * 2;
		char *p;

		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	return true;
}

static void out_note_peak(conn *c)
{
	uint64_t used = c->out_len - c->out_off;

	if (used > c->l->cnt.max_out)
		__atomic_store_n(&c->l->cnt.max_out, used, __ATOMIC_RELAXED);
}

static void out_append(conn *c, const char *p, size_t n)
{
	if (!out_reserve(c, n)) {
		conn_close(c);
		return;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	out_note_peak(c);
}

static size_t fmt_u64(char *dst, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* "$<len>\r\n<val>\r\n" at dst, which has room for len + 32 bytes; the
 * bytes written. */
static size_t fmt_bulk(char *dst, const char *val, size_t len)
{
	char *p = dst;

	*p++ = '$';
	p += fmt_u64(p, len);
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, val, len);
	p += len;
	*p++ = '\r';
	*p++ = '\n';
	return (size_t)(p - dst);
}

static void out_bulk(conn *c, const char *val, size_t len)
{
	if (!out_reserve(c, len + 32)) {
		conn_close(c);
		return;
	}
	c->out_len += fmt_bulk(c->out + c->out_len, val, len);
	out_note_peak(c);
}

static void out_error(conn *c, int rc)
{
	static const char canceled[] = "-ERR canceled: server shutting down\r\n";
	static const char busy[] = "-ERR busy: too many operations in flight\r\n";
	static const char nomem[] = "-ERR out of memory\r\n";
	static const char other[] = "-ERR store failed\r\n";

	CNT(c->l, err_replies);
	if (rc == -ECANCELED) {
		CNT(c->l, canceled);
		out_append(c, canceled, sizeof(canceled) - 1);
	} else if (rc == -EBUSY) {
		out_append(c, busy, sizeof(busy) - 1);
	} else if (rc == -ENOMEM) {
		out_append(c, nomem, sizeof(nomem) - 1);
	} else {
		out_append(c, other, sizeof(other) - 1);
	}
}

static void slot_free_bufs(slot *s)
{
	free(s->big);
	free(s->kbig);
	s->big = NULL;
	s->kbig = NULL;
}

/* Write a finished slot's reply into the output buffer. */
static void slot_emit(conn *c, slot *s)
{
	static const char ok[] = "+OK\r\n";
	static const char nil[] = "$-1\r\n";

	switch (s->kind) {
	case K_RAW:
		out_append(c, s->big != NULL ? s->big : s->buf, s->len);
		break;
	case K_GET:
		if (s->rc < 0)
			out_error(c, s->rc);
		else if (s->value == STORE_NIL)
			out_append(c, nil, sizeof(nil) - 1);
		else
			out_bulk(c, s->big != NULL ? s->big : s->buf, (size_t)s->value);
		break;
	case K_SET:
		if (s->rc < 0)
			out_error(c, s->rc);
		else
			out_append(c, ok, sizeof(ok) - 1);
		break;
	}
}

static inline bool slots_empty(const conn *c) { return c->s_head == c->s_tail; }
static inline uint32_t slots_free(const conn *c) { return NSLOTS - (c->s_tail - c->s_head); }

static slot *slot_next(conn *c)
{
	slot *s = &c->slots[c->s_tail % NSLOTS];

	s->c = c;
	s->done = 0;
	s->rc = 0;
	s->value = 0;
	s->len = 0;
	s->big = NULL;
	s->kbig = NULL;
	s->prom = NULL;
	s->canceled = false;
	s->h.b = NULL;
	return s;
}

/* A plain reply: straight out when nothing is pending, else queued. */
static void reply_raw(conn *c, const char *p, size_t n)
{
	slot *s;

	if (slots_empty(c)) {
		out_append(c, p, n);
		return;
	}
	s = &c->slots[(c->s_tail - 1) % NSLOTS];
	if (s->kind == K_RAW && s->big == NULL && s->len + n <= SLOT_BUF) {
		memcpy(s->buf + s->len, p, n); /* coalesce behind the same pending reply */
		s->len += (uint32_t)n;
		return;
	}
	s = slot_next(c);
	s->kind = K_RAW;
	s->done = 1;
	if (n > SLOT_BUF) {
		s->big = malloc(n);
		if (s->big == NULL) {
			conn_close(c);
			return;
		}
		memcpy(s->big, p, n);
	} else {
		memcpy(s->buf, p, n);
	}
	s->len = (uint32_t)n;
	c->s_tail++;
}

#define REPLY_LIT(c, lit) reply_raw((c), (lit), sizeof(lit) - 1)

/* Move every finished reply at the head of the queue to the output. */
static void slots_flush(conn *c)
{
	while (!slots_empty(c)) {
		slot *s = &c->slots[c->s_head % NSLOTS];

		if (!s->done)
			break;
		slot_emit(c, s);
		slot_free_bufs(s);
		c->s_head++;
	}
}

/* ======================================================================
 * Operations, the two ways. op_* is the only place that knows the mode.
 * ==================================================================== */

static void store_done_vt(store_req *r, int64_t res)
{
	slot *s = (slot *)((char *)r - offsetof(slot, req));
	vt_promise *p = s->prom;
	uint16_t tok = s->tok;

	int rc;

	/* Completing publishes the store's writes to s->buf (release P in the
	 * core; the continuation reads after its acquire). On success that is
	 * the last touch of s. */
	if (res >= 0 || res == STORE_NIL)
		rc = vt_promise_set_result(p, tok, vt_value_i64(res));
	else
		rc = vt_promise_set_error(p, tok, (int)res);
	if (rc != 0) {
		/* Refused: the client left and the loop's vt_task_cancel won
		 * while this request was already with a worker. The slot is
		 * still ours until `held` is cleared (the loop waits for that
		 * before it reuses the connection): drop what we made, then let
		 * go. Last touch of s. */
		free(r->big);
		r->big = NULL;
		__atomic_store_n(&r->held, 0, __ATOMIC_RELEASE); /* pairs with the acquire in conn_releasable */
	}
}

/* The producer's cancel callback (vt_promise_on_cancel), on the loop
 * thread inside vt_task_cancel, after the cancel won: withdraw the request
 * from the store if no worker has started it. */
static void store_cancel_vt(void *state)
{
	slot *s = state;

	(void)store_cancel(s->c->l->s->st, &s->req);
}

static void store_done_base(store_req *r, int64_t res)
{
	slot *s = (slot *)((char *)r - offsetof(slot, req));

	if (res >= 0 || res == STORE_NIL)
		base_op_complete(s->h.b, 0, res);
	else
		base_op_complete(s->h.b, (int)res, 0);
}

/* A synchronous result. */
static handle op_value(loop *l, int64_t v)
{
	handle h;

	h.b = NULL;
	h.t = vt_task_from_value(vt_value_i64(v));
	if (l->s->cfg.mode == MODE_BASE) {
		h.b = base_op_new();
		if (h.b == NULL) {
			h.t = vt_task_from_error(-ENOMEM);
			return h;
		}
		CNT(l, base_new);
		base_op_complete(h.b, 0, v);
	}
	return h;
}

static handle op_error(int err)
{
	handle h;

	h.b = NULL;
	h.t = vt_task_from_error(err);
	return h;
}

/* Send s->req to the store; the handle completes when the store answers. */
static handle op_store(loop *l, slot *s)
{
	handle h;

	h.b = NULL;
	if (l->s->cfg.mode == MODE_VT) {
		vt_promise *p = vt_promise_rent(l->pool);

		if (p == NULL) {
			CNT(l, busy);
			return op_error(-EBUSY); /* back-pressure, not a crash */
		}
		s->prom = p;
		s->tok = vt_promise_version(p);
		h.t = vt_promise_task(p);
		s->req.done = store_done_vt;
		/* The producer side of cancellation: if the client leaves, the
		 * loop cancels the task and this takes the request back from
		 * the store. A failed registration (VT_ENOMEM, the pool's side
		 * table) only means a cancelled request is still served, and its
		 * refused completion releases the slot. */
		(void)vt_promise_on_cancel(p, s->tok, store_cancel_vt, s);
	} else {
		if (l->inflight >= l->s->cfg.pool_capacity) {
			CNT(l, busy);
			return op_error(-EBUSY); /* the same bound as the pool's */
		}
		h.b = base_op_new();
		if (h.b == NULL)
			return op_error(-ENOMEM);
		CNT(l, base_new);
		s->req.done = store_done_base;
	}
	/* The slot holds the handle before the store's thread can see the
	 * request (store_done_base reads s->h.b there); op_finish does not
	 * write it again. */
	s->h = h;
	store_submit(l->s->st, &s->req);
	return h;
}

static bool op_is_completed(handle h)
{
	if (h.b != NULL)
		return base_op_is_done(h.b);
	return vt_task_is_completed(h.t);
}

/* Consume the result: the promise goes back to its pool, or the baseline
 * object is freed. Returns 0 and *v, or the operation's error. */
static int op_take(loop *l, handle h, int64_t *v)
{
	vt_value val;
	int rc;

	if (h.b != NULL) {
		CNT(l, base_free);
		return base_op_take(h.b, v);
	}
	rc = vt_task_get_result(h.t, &val);
	*v = val.i64;
	return rc;
}

static void op_on_completed(loop *l, handle h, vt_continuation fn, void *st)
{
	vt_executor *ex = l->ex;

	if (h.b != NULL) {
		base_op_on_completed(h.b, fn, st, ex);
		return;
	}
	/* The continuation runs on this loop's thread, whichever thread
	 * completes the promise. */
	if (vt_task_on_completed(h.t, fn, st, ex) != 0)
		abort(); /* a fresh rental cannot be awaited twice */
}

static void conn_process(conn *c);
static void conn_update(conn *c);
static void conn_write(conn *c);

/* The continuation of a pending operation, on the connection's loop. */
static void op_done(void *state)
{
	slot *s = state;
	conn *c = s->c;
	loop *l = c->l;

	s->rc = op_take(l, s->h, &s->value);
	if (s->kind == K_GET && s->rc == 0)
		s->big = s->req.big; /* a canceled request's worker keeps its own */
	s->done = 1;
	__atomic_store_n(&l->inflight, l->inflight - 1, __ATOMIC_RELAXED); /* statistics: STATS reads it */
	c->pending--;
	if (c->closed) {
		/* The client left: the result is dropped, but it was consumed
		 * above, so the promise is back in its pool. */
		CNT(l, dropped);
		return;
	}
	if (&c->slots[c->s_head % NSLOTS] == s) {
		slots_flush(c);
		if (c->closed)
			return;
	} else if (!c->key_blocked) {
		return; /* an older reply is still pending */
	}
	/* A command held back for this one (conn_process) may run now,
	 * whether or not this reply could leave yet. */
	if ((c->slot_blocked && slots_free(c) >= 2) || c->key_blocked) {
		c->slot_blocked = false;
		c->key_blocked = false;
		conn_process(c);
	}
	if (!c->closed)
		conn_write(c);
}

/* Finish a command whose reply comes from handle h. */
static void op_finish(conn *c, slot *s, handle h)
{
	loop *l = c->l;

	if (op_is_completed(h)) {
		/* The fast path: no continuation, no queue when nothing is ahead. */
		s->rc = op_take(l, h, &s->value);
		if (s->kind == K_GET && s->rc == 0 && s->req.big != NULL)
			s->big = s->req.big; /* the store answered already */
		s->done = 1;
		if (slots_empty(c)) {
			slot_emit(c, s);
			slot_free_bufs(s);
		} else {
			c->s_tail++;
		}
		return;
	}
	/* Pending: h came from op_store, which already put it in s->h (and the
	 * store's thread may be reading s->h.b now: no write here). */
	assert(s->h.b == h.b);
	c->s_tail++;
	c->pending++;
	__atomic_store_n(&l->inflight, l->inflight + 1, __ATOMIC_RELAXED); /* statistics: STATS reads it */
	op_on_completed(l, h, op_done, s);
}

/* ======================================================================
 * Commands
 * ==================================================================== */

typedef struct arg {
	const char *p;
	size_t n;
} arg;


static bool arg_is(const arg *a, const char *name)
{
	size_t n = strlen(name);

	return a->n == n && strncasecmp(a->p, name, n) == 0;
}

static bool slot_copy_key(slot *s, const arg *key)
{
	char *k = s->key;

	if (key->n > SLOT_KEY) {
		s->kbig = malloc(key->n);
		if (s->kbig == NULL)
			return false;
		k = s->kbig;
	}
	memcpy(k, key->p, key->n);
	s->req.key = k;
	s->req.klen = key->n;
	return true;
}

/* A hit's value over SLOT_BUF goes to s->big, which the slot frees
 * whatever the reply, also when the operation then fails (the baseline's
 * completion object not allocated: test_nomem.c). */
static void hit_copy(void *ctx, const char *val, size_t len)
{
	slot *s = ctx;

	s->value = (int64_t)len;
	if (len <= SLOT_BUF) {
		memcpy(s->buf, val, len);
	} else {
		s->big = malloc(len);
		if (s->big != NULL)
			memcpy(s->big, val, len);
		else
			s->value = -ENOMEM;
	}
}

static void cmd_get(conn *c, const arg *key)
{
	loop *l = c->l;
	slot *s = slot_next(c);
	handle h;

	CNT(l, gets);
	s->kind = K_GET;
	s->req.big = NULL;
	if (kv_get(l->s->cache, key->p, key->n, hit_copy, s)) {
		CNT(l, hits);
		h = s->value < 0 ? op_error((int)s->value) : op_value(l, s->value);
	} else {
		CNT(l, misses);
		s->req.op = STORE_GET;
		s->req.val = s->buf;
		s->req.vcap = SLOT_BUF;
		h = slot_copy_key(s, key) ? op_store(l, s) : op_error(-ENOMEM);
	}
	op_finish(c, s, h);
}

static void cmd_set(conn *c, const arg *key, const arg *val)
{
	loop *l = c->l;
	slot *s = slot_next(c);
	handle h;
	int rc;

	CNT(l, sets);
	s->kind = K_SET;
	s->req.big = NULL;
	rc = kv_set(l->s->cache, key->p, key->n, val->p, val->n);
	if (rc == 1) {
		CNT(l, sets_cache);
		h = op_value(l, 0);
	} else if (rc == 0) {
		/* The cache is full and the key is not in it: write around it,
		 * to the store. */
		CNT(l, sets_store);
		s->req.op = STORE_SET;
		s->req.vlen = val->n;
		if (val->n <= SLOT_BUF) {
			s->req.val = s->buf;
		} else {
			s->big = malloc(val->n);
			s->req.val = s->big;
		}
		if (s->req.val == NULL || !slot_copy_key(s, key)) {
			h = op_error(-ENOMEM);
		} else {
			memcpy(s->req.val, val->p, val->n);
			h = op_store(l, s);
		}
	} else {
		h = op_error(rc);
	}
	op_finish(c, s, h);
}

static void cmd_stats(conn *c);

/* An error line. msg may echo the client's bytes (a command's name): a CR
 * or LF in it would end the line early and the rest would read as another
 * reply, so both become spaces, as Redis does. */
static void reply_error_str(conn *c, const char *msg)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "-ERR %s", msg);

	CNT(c->l, err_replies);
	if (n < 0)
		n = 0;
	else if (n > (int)sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	for (int i = 0; i < n; i++)
		if (buf[i] == '\r' || buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\r';
	buf[n++] = '\n';
	reply_raw(c, buf, (size_t)n);
}

/* pre, a bulk of val, then post, as one reply of any length (a PING's
 * message up to max-bulk, STATS, CONFIG GET's array): straight to the
 * output when no reply is pending, else queued behind them in one slot
 * (reply_raw). In parts it could take more slots than the parser keeps
 * free (conn_process). pre and post are short literals. */
static void reply_bulk_framed(conn *c, const char *pre, size_t pn, const char *val, size_t len, const char *post,
			      size_t qn)
{
	char small[SLOT_BUF];
	char *buf;
	size_t n;

	if (slots_empty(c)) {
		if (pn != 0)
			out_append(c, pre, pn);
		out_bulk(c, val, len);
		if (qn != 0)
			out_append(c, post, qn);
		return;
	}
	n = pn + len + 32 + qn;
	buf = n <= sizeof(small) ? small : malloc(n);
	if (buf == NULL) {
		reply_error_str(c, "out of memory");
		return;
	}
	memcpy(buf, pre, pn);
	n = pn + fmt_bulk(buf + pn, val, len);
	memcpy(buf + n, post, qn);
	reply_raw(c, buf, n + qn);
	if (buf != small)
		free(buf);
}

static void reply_bulk(conn *c, const char *val, size_t len)
{
	reply_bulk_framed(c, "", 0, val, len, "", 0);
}

/* CONFIG GET <name>. redis-benchmark asks for "save" and "appendonly":
 * every name, however long, is answered empty. The name goes back as a
 * bulk, byte for byte (printing it with %.*s stopped at a NUL, short of the
 * length it announced), so CR, LF or NUL in it forge nothing. */
static void cmd_config(conn *c, const arg *argv, int argc)
{
	char msg[96];

	if (argc < 2) {
		reply_error_str(c, "wrong number of arguments for 'config' command");
	} else if (!arg_is(&argv[1], "GET")) {
		snprintf(msg, sizeof(msg), "unknown subcommand '%.*s': only CONFIG GET is supported",
			 (int)(argv[1].n > 32 ? 32 : argv[1].n), argv[1].p);
		reply_error_str(c, msg);
	} else if (argc != 3) {
		reply_error_str(c, "wrong number of arguments for 'config|get' command");
	} else {
		/* One reply, not three: queued behind a pending one, three parts
		 * took three slots when the name did not fit one. */
		reply_bulk_framed(c, "*2\r\n", 4, argv[2].p, argv[2].n, "$0\r\n\r\n", 6);
	}
}

static void cmd_exec(conn *c, arg *argv, int argc)
{
	loop *l = c->l;

	CNT(l, cmds);
	if (argc < 0) {
		reply_error_str(c, "too many arguments");
		return;
	}
	if (arg_is(&argv[0], "GET")) {
		if (argc != 2)
			reply_error_str(c, "wrong number of arguments for 'get' command");
		else
			cmd_get(c, &argv[1]);
	} else if (arg_is(&argv[0], "SET")) {
		if (argc != 3)
			reply_error_str(c, "wrong number of arguments for 'set' command");
		else
			cmd_set(c, &argv[1], &argv[2]);
	} else if (arg_is(&argv[0], "PING")) {
		CNT(l, pings);
		if (argc == 1) {
			REPLY_LIT(c, "+PONG\r\n");
		} else if (argc == 2) {
			reply_bulk(c, argv[1].p, argv[1].n);
		} else {
			reply_error_str(c, "wrong number of arguments for 'ping' command");
		}
	} else if (arg_is(&argv[0], "DEL")) {
		char buf[32];
		size_t n = 0;
		uint64_t removed = 0;

		if (argc < 2) {
			reply_error_str(c, "wrong number of arguments for 'del' command");
			return;
		}
		CNT(l, dels);
		for (int i = 1; i < argc; i++) {
			int a = kv_del(l->s->cache, argv[i].p, argv[i].n);
			int b = kv_del(store_table(l->s->st), argv[i].p, argv[i].n);

			removed += (a | b) ? 1 : 0;
		}
		buf[n++] = ':';
		n += fmt_u64(buf + n, removed);
		buf[n++] = '\r';
		buf[n++] = '\n';
		reply_raw(c, buf, n);
	} else if (arg_is(&argv[0], "STATS") || arg_is(&argv[0], "INFO") ||
		   (arg_is(&argv[0], "DEBUG") && argc == 2 && arg_is(&argv[1], "POOLSTATS"))) {
		cmd_stats(c);
	} else if (arg_is(&argv[0], "CONFIG")) {
		cmd_config(c, argv, argc);
	} else if (arg_is(&argv[0], "QUIT")) {
		REPLY_LIT(c, "+OK\r\n");
		c->close_after = true;
	} else {
		char msg[96];

		snprintf(msg, sizeof(msg), "unknown command '%.*s'",
			 (int)(argv[0].n > 32 ? 32 : argv[0].n), argv[0].p);
		reply_error_str(c, msg);
	}
}

/*
 * Ordering. A connection's commands take effect in the order it sent them,
 * as in Redis, though an operation at the store completes later and the
 * store's workers may serve two requests in either order. So a command on
 * a key that one of the connection's store operations still has waits
 * (conn_process stops parsing before it) until that operation completes.
 * Otherwise DEL, which is synchronous, would run before a SET written
 * around the cache reached the store (answering 0 and leaving the key set)
 * or before a GET read it there, and a GET or a second SET could overtake
 * the first SET at the store. Two GETs commute, and a command on other
 * keys does not wait, so pipelined misses go to the store together up to
 * the first command that waits. Parsing stops there, so every command
 * sent after that one waits too, whatever its keys (head-of-line, as in
 * Redis, which runs a client's commands in order).
 */
static bool cmd_waits(const conn *c, const arg *argv, int argc)
{
	bool get = argc == 2 && arg_is(&argv[0], "GET");
	int nkeys;

	if (c->pending == 0)
		return false;
	if (get || (argc == 3 && arg_is(&argv[0], "SET")))
		nkeys = 1;
	else if (argc >= 2 && arg_is(&argv[0], "DEL"))
		nkeys = argc - 1;
	else
		return false;
	for (uint32_t i = c->s_head; i != c->s_tail; i++) {
		const slot *s = &c->slots[i % NSLOTS];

		/* A reply not done yet is an operation at the store, its key in
		 * s->req. */
		if (s->done || (get && s->kind == K_GET))
			continue;
		for (int k = 1; k <= nkeys; k++)
			if (argv[k].n == s->req.klen && memcmp(argv[k].p, s->req.key, argv[k].n) == 0)
				return true;
	}
	return false;
}

/* ======================================================================
 * RESP parser: multibulk (*N $len ...) and inline commands. Arguments
 * point into the input buffer and live until the buffer is compacted.
 * ==================================================================== */

enum { P_MORE = 0, P_CMD = 1, P_SKIP = 2, P_ERR = -1 };

/* Parse a decimal number ending in \r\n at *pp, written as Redis's
 * string2ll takes it: an optional '-', then 0 alone or digits that do not
 * start with 0 ("-0", "03" and "+3" are bad there, and so here: the same
 * protocol error, not a number), in [min, max] (min may be LLONG_MIN).
 * 1 ok, 0 need more, -1 bad (as soon as the digits leave the range). */
static int parse_num(const char **pp, const char *end, long long *out, long long min, long long max)
{
	const char *p = *pp;
	unsigned long long v = 0, lim = (unsigned long long)max;
	bool neg = false;

	if (p < end && *p == '-') {
		neg = true;
		lim = 0 - (unsigned long long)min; /* -min, also for LLONG_MIN */
		p++;
	}
	if (p == end)
		return 0;
	if (*p < '0' || *p > '9')
		return -1;
	if (*p == '0' && (neg || (end - p > 1 && p[1] != '\r')))
		return -1;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > lim / 10 || v * 10 + d > lim)
			return -1;
		v = v * 10 + d;
		p++;
	}
	if (end - p < 2)
		return (end - p == 1 && *p != '\r') ? -1 : 0;
	if (p[0] != '\r' || p[1] != '\n')
		return -1;
	*pp = p + 2;
	*out = neg ? -(long long)(v - 1) - 1 : (long long)v; /* v >= 1 there; v - 1 fits */
	return 1;
}

static int parse_cmd(conn *c, arg *argv, int *argc, const char **err)
{
	const char *start = c->in + c->in_off, *end = c->in + c->in_len, *p = start;
	size_t max_bulk = c->l->s->cfg.max_bulk;
	long long count, len;
	int r, n = 0;

	if (p == end)
		return P_MORE;
	if (*p != '*') {
		/* Inline command: words separated by spaces, up to \n. */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e;

		/* The bound holds however the line arrived: in pieces (no
		 * newline yet) or whole. */
		if ((nl == NULL ? end : nl) - p > MAX_INLINE) {
			*err = "Protocol error: too big inline request";
			return P_ERR;
		}
		if (nl == NULL)
			return P_MORE;
		e = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
		while (p < e) {
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			if (p == e)
				break;
			if (n == MAX_ARGV) {
				n = -1;
				break;
			}
			argv[n].p = p;
			while (p < e && *p != ' ' && *p != '\t')
				p++;
			argv[n].n = (size_t)(p - argv[n].p);
			n++;
		}
		c->in_off = (size_t)(nl + 1 - c->in);
		if (n == 0)
			return P_SKIP;
		*argc = n;
		return P_CMD;
	}
	p++;
	/* A count of 0 or less, however negative, is an empty command,
	 * skipped, as in Redis (processMultibulkBuffer); over MAX_MULTIBULK
	 * is refused (Redis: over INT_MAX). */
	r = parse_num(&p, end, &count, LLONG_MIN, MAX_MULTIBULK);
	if (r == 0)
		return P_MORE;
	if (r < 0) {
		*err = "Protocol error: invalid multibulk length";
		return P_ERR;
	}
	if (count <= 0) {
		c->in_off = (size_t)(p - c->in);
		return P_SKIP;
	}
	for (long long i = 0; i < count; i++) {
		if (p == end)
			return P_MORE;
		if (*p != '$') {
			*err = "Protocol error: expected '$'";
			return P_ERR;
		}
		p++;
		r = parse_num(&p, end, &len, -(long long)max_bulk, (long long)max_bulk);
		if (r == 0)
			return P_MORE;
		if (r < 0 || len < 0) {
			*err = "Protocol error: invalid bulk length";
			return P_ERR;
		}
		if (end - p < len + 2)
			return P_MORE;
		if (p[len] != '\r' || p[len + 1] != '\n') {
			*err = "Protocol error: bulk string not terminated by CRLF";
			return P_ERR;
		}
		if (n >= 0 && n < MAX_ARGV) {
			argv[n].p = p;
			argv[n].n = (size_t)len;
			n++;
		} else {
			n = -1; /* too many: consumed, answered with an error */
		}
		p += len + 2;
	}
	c->in_off = (size_t)(p - c->in);
	*argc = n;
	return P_CMD;
}

/* ======================================================================
 * Connections
 * ==================================================================== */

/* Whether c has stopped taking input: output over its bound, the reply
 * ring full, a command waiting on its key, or closing after QUIT or a
 * protocol error. conn_read reads nothing then, and conn_update drops
 * EPOLLIN. */
static bool conn_paused(const conn *c)
{
	return c->out_blocked || c->slot_blocked || c->key_blocked || c->close_after;
}

/* Set c's epoll interest. */
static void conn_watch(conn *c, uint32_t want)
{
	struct epoll_event ev;

	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	epoll_ctl(c->l->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = want;
}

static void conn_update(conn *c)
{
	/* The client's FIN, reading or not (conn_event); except once QUIT or a
	 * protocol error set close_after: the replies owed before it are
	 * flushed, then the connection closes, whether the client has shut
	 * down its sending side or not (a half-close is how a client says it
	 * sends no more, and nothing more is read from it anyway). */
	uint32_t want = c->close_after ? 0 : EPOLLRDHUP;

	if (c->closed)
		return;
	if (!conn_paused(c) && !c->l->stop_seen)
		want |= EPOLLIN;
	if (c->out_off < c->out_len)
		want |= EPOLLOUT;
	conn_watch(c, want);
}

/* Send what the output buffer holds, until the socket takes no more (an
 * emptied buffer starts over); false once the connection has closed. */
static bool conn_send(conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return true;
}

static void conn_write(conn *c)
{
	/* Below half the bound, rounded up: with --max-output=1 an empty
	 * buffer (0 < 1/2 is false in integers) never resumed the reader. */
	size_t resume = c->l->s->cfg.max_output / 2 + c->l->s->cfg.max_output % 2;

	if (!conn_send(c))
		return;
	if (c->out_off == c->out_len) {
		if (c->close_after && slots_empty(c)) {
			conn_close(c);
			return;
		}
	}
	if (c->out_blocked && c->out_len - c->out_off < resume) {
		c->out_blocked = false;
		conn_process(c); /* what is buffered first, then read again */
		if (c->closed)
			return;
	}
	conn_update(c);
}

/* Run every complete command in the input buffer, unless blocked. */
static void conn_process(conn *c)
{
	arg argv[MAX_ARGV];
	const char *err = NULL;
	int argc;

	while (!c->closed && !c->close_after) {
		size_t at = c->in_off;
		int r;

		if (c->out_len - c->out_off >= c->l->s->cfg.max_output) {
			/* A client that does not read: stop reading it until it
			 * drains half its output. */
			if (!c->out_blocked)
				CNT(c->l, out_pauses);
			c->out_blocked = true;
			break;
		}
		if (slots_free(c) < 2) {
			c->slot_blocked = true;
			break;
		}
		r = parse_cmd(c, argv, &argc, &err);
		if (r == P_MORE)
			break;
		if (r == P_SKIP)
			continue;
		if (r == P_ERR) {
			CNT(c->l, proto_errors);
			reply_error_str(c, err);
			c->close_after = true; /* like Redis: answer, then close */
			c->in_off = c->in_len;
			break;
		}
		if (cmd_waits(c, argv, argc)) {
			/* Parsed again when an operation completes (op_done). */
			c->in_off = at;
			c->key_blocked = true;
			break;
		}
		cmd_exec(c, argv, argc);
	}
	if (c->closed)
		return;
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off > 0 && c->in_off >= c->in_cap / 2) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
}

static void conn_read(conn *c)
{
	size_t max_req = c->l->s->cfg.max_bulk + MAX_INLINE;

	while (!c->closed && !conn_paused(c)) {
		ssize_t n;
		size_t room;

		if (c->in_len == c->in_cap) {
			if (c->in_off > 0) {
				memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
				c->in_len -= c->in_off;
				c->in_off = 0;
			} else if (c->in_cap >= max_req) {
				CNT(c->l, proto_errors);
				reply_error_str(c, "Protocol error: request too large");
				c->close_after = true;
				c->in_off = c->in_len = 0;
				break;
			} else {
				size_t cap = c->in_cap * 2 > max_req ? max_req : c->in_cap * 2;
				char *p = realloc(c->in, cap);

				if (p == NULL) {
					conn_close(c);
					return;
				}
				c->in = p;
				c->in_cap = cap;
			}
		}
		room = c->in_cap - c->in_len;
		n = recv(c->fd, c->in + c->in_len, room, 0);
		if (n == 0) {
			conn_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			break;
		}
		c->in_len += (size_t)n;
		conn_process(c);
		if ((size_t)n < room)
			break;
	}
	if (!c->closed)
		conn_write(c);
}

#define CONN_CACHE 256 /* closed connections kept for reuse, per loop */

static conn *conn_new(loop *l, int fd)
{
	conn *c = l->spare;

	if (c != NULL) {
		/* Reuse a closed connection, buffers and reply queue included:
		 * a client that reconnects costs no allocation either. */
		l->spare = c->next;
		l->nspare--;
		c->fd = fd;
		c->closed = c->out_blocked = c->slot_blocked = c->key_blocked = c->close_after = false;
		c->lingering = false;
		c->events = 0;
		c->pending = 0;
		c->ncanceled = 0;
		c->in_len = c->in_off = c->out_len = c->out_off = 0;
		c->s_head = c->s_tail = 0;
		c->prev = c->next = NULL;
		return c;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->l = l;
	c->fd = fd;
	c->in_cap = c->out_cap = IO_BUF;
	c->in = malloc(IO_BUF);
	c->out = malloc(IO_BUF);
	c->slots = calloc(NSLOTS, sizeof(slot));
	if (c->in == NULL || c->out == NULL || c->slots == NULL) {
		free(c->in);
		free(c->out);
		free(c->slots);
		free(c);
		return NULL;
	}
	return c;
}

static void conn_free(conn *c)
{
	loop *l = c->l;

	while (!slots_empty(c)) {
		slot_free_bufs(&c->slots[c->s_head % NSLOTS]);
		c->s_head++;
	}
	if (!l->stop_seen && l->nspare < CONN_CACHE && c->in_cap == IO_BUF && c->out_cap == IO_BUF) {
		c->next = l->spare;
		l->spare = c;
		l->nspare++;
		return;
	}
	free(c->in);
	free(c->out);
	free(c->slots);
	free(c);
}

/*
 * Cancellation (valuetask mode). A client that leaves with operations at
 * the store: each pending task is canceled with vt_task_cancel. When the
 * cancel wins, the promise completes with -ECANCELED at once, so its
 * continuation (op_done, registered when the operation started) runs on
 * this loop in the next drain, consumes the result and the promise is back
 * in its pool: no waiting for the store's latency. The producer's cancel
 * callback (store_cancel_vt, registered with vt_promise_on_cancel) runs
 * inside vt_task_cancel and takes the request out of the store's queue, so
 * the worker never does the work. If a worker had already taken it, the
 * worker's completion is refused and it releases the slot itself (`held`).
 * Either way the slot's memory (key, value buffer, store_req) stays with
 * the dead connection until the store has let go of it. When the cancel
 * loses (the store completed first), nothing differs from a normal
 * completion.
 */
static void conn_cancel_pending(conn *c)
{
	loop *l = c->l;

	for (uint32_t i = c->s_head; i != c->s_tail; i++) {
		slot *s = &c->slots[i % NSLOTS];

		if (s->done || s->prom == NULL)
			continue;
		if (vt_task_cancel(s->h.t) == 0) {
			s->canceled = true;
			c->ncanceled++;
			CNT(l, cancels);
		} else {
			CNT(l, cancel_late); /* completed first: op_done is on its way */
		}
	}
}

/* A dead connection's memory can go once no continuation is pending and
 * the store holds none of its canceled requests. */
static bool conn_releasable(conn *c)
{
	if (c->pending != 0)
		return false;
	if (c->ncanceled == 0)
		return true;
	for (uint32_t i = c->s_head; i != c->s_tail; i++) {
		slot *s = &c->slots[i % NSLOTS];

		/* Acquire; pairs with the release in store_cancel or store_done_vt. */
		if (s->canceled && __atomic_load_n(&s->req.held, __ATOMIC_ACQUIRE) != 0)
			return false;
	}
	c->ncanceled = 0;
	return true;
}

/* Close now; the memory waits on the dead list until no operation of the
 * connection is pending (valuetask: canceled, see above; baseline: their
 * continuations consume and drop the results). */
static void conn_close(conn *c)
{
	loop *l = c->l;

	if (c->closed)
		return;
	c->closed = true;
	if (c->pending != 0 && l->s->cfg.mode == MODE_VT)
		conn_cancel_pending(c);
	epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = l->dead;
	l->dead = c;
	__atomic_store_n(&l->nconns, l->nconns - 1, __ATOMIC_RELAXED);
	CNT(l, closed);
	l->listen_retry_ns = 0; /* an fd is free: a paused listener tries again now */
}

static void loop_reap(loop *l)
{
	conn **pp = &l->dead;

	while (*pp != NULL) {
		conn *c = *pp;

		if (conn_releasable(c)) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

#define TAG_LISTEN ((void *)1)
#define TAG_EXEC ((void *)2)
#define LISTEN_RETRY_MS 100 /* a paused listener is tried again this often */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The spare fd that loop_reject gives up at the fd limit. */
static int spare_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Stop watching the listener for LISTEN_RETRY_MS: an accept that keeps
 * failing would make epoll report it readable again at once, a spin.
 * loop_main puts it back (listen_resume) then, or sooner once a connection
 * of this loop closes. */
static void listen_pause(loop *l)
{
	l->listen_retry_ns = now_ns() + LISTEN_RETRY_MS * 1000000ull;
	if (l->listen_paused)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
	l->listen_paused = true;
}

static void listen_resume(loop *l)
{
	srv *s = l->s;
	struct epoll_event ev;
	bool spare;

	pthread_mutex_lock(&s->fd_mu);
	if (s->spare_fd < 0)
		s->spare_fd = spare_open();
	spare = s->spare_fd >= 0;
	pthread_mutex_unlock(&s->fd_mu);
	if (!spare) {
		listen_pause(l); /* still at the fd limit */
		return;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = TAG_LISTEN;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev) == 0)
		l->listen_paused = false;
}

/*
 * The fd limit. When accept4 fails with EMFILE or ENFILE the connection
 * stays in the listener's queue and the listener stays readable: returning
 * would spin the loop until some fd is freed, with the client left
 * hanging. Instead, as libuv does, the server keeps a spare fd: this gives
 * it up, accepts, tells the client and closes, until the queue is empty,
 * then takes the spare back. Under fd_mu, like every accept4, so the fd it
 * frees goes to no other loop's accept. Returns the errno that ended it:
 * EAGAIN once every queued client was turned away; anything else (no
 * spare to give up: the system's table is full) pauses the listener.
 */
static int loop_reject(loop *l)
{
	static const char full[] = "-ERR max number of clients reached\r\n";
	srv *s = l->s;

	for (;;) {
		int fd, err;

		if (s->spare_fd < 0 && (s->spare_fd = spare_open()) < 0)
			return EMFILE;
		close(s->spare_fd);
		fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		err = errno;
		if (fd >= 0) {
			(void)send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL);
			close(fd);
			CNT(l, rejected);
		}
		s->spare_fd = spare_open();
		if (fd < 0 && err != EINTR && err != ECONNABORTED)
			return err;
	}
}

static void loop_accept(loop *l)
{
	srv *s = l->s;

	for (;;) {
		int fd, err, one = 1;
		struct epoll_event ev;
		conn *c;

		pthread_mutex_lock(&s->fd_mu);
		fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		err = errno;
		if (fd < 0 && (err == EMFILE || err == ENFILE))
			err = loop_reject(l);
		pthread_mutex_unlock(&s->fd_mu);
		if (fd < 0) {
			if (err == EINTR || err == ECONNABORTED)
				continue; /* that connection is gone; the next */
			if (err != EAGAIN && err != EWOULDBLOCK)
				listen_pause(l); /* no spare, ENOBUFS, ...: try again later */
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(l, fd);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->events = EPOLLIN | EPOLLRDHUP; /* as conn_update sets it */
		ev.events = c->events;
		ev.data.ptr = c;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_free(c);
			close(fd);
			continue;
		}
		c->next = l->conns;
		if (l->conns != NULL)
			l->conns->prev = c;
		l->conns = c;
		__atomic_store_n(&l->nconns, l->nconns + 1, __ATOMIC_RELAXED);
		CNT(l, accepted);
	}
}

/* ======================================================================
 * STATS: every counter the tests and compare.sh read.
 * ==================================================================== */

static void cmd_stats(conn *c)
{
	srv *s = c->l->s;
	counters sum;
	vt_pool_stats ps, pt;
	uint64_t allocs, frees, served, cancelled, skipped, inflight = 0, nconns = 0;
	char buf[3584];
	int n;
	static const char *mode_names[] = { "valuetask", "baseline", "baseline-async" };

	memset(&sum, 0, sizeof(sum));
	memset(&pt, 0, sizeof(pt));
	for (int i = 0; i < s->cfg.loops; i++) {
		loop *l = &s->loops[i];
		const uint64_t *src = (const uint64_t *)&l->cnt;
		uint64_t *dst = (uint64_t *)&sum;

		for (size_t k = 0; k < sizeof(counters) / sizeof(uint64_t); k++) {
			uint64_t v = __atomic_load_n(&src[k], __ATOMIC_RELAXED);

			if (&dst[k] == &sum.max_out)
				dst[k] = v > dst[k] ? v : dst[k];
			else
				dst[k] += v;
		}
		if (l->pool != NULL) {
			vt_promise_pool_get_stats(l->pool, &ps);
			pt.capacity += ps.capacity;
			pt.created += ps.created;
			pt.rented += ps.rented;
			pt.rents += ps.rents;
			pt.returns += ps.returns;
			pt.empty_rents += ps.empty_rents;
		}
		inflight += __atomic_load_n(&l->inflight, __ATOMIC_RELAXED);
		nconns += __atomic_load_n(&l->nconns, __ATOMIC_RELAXED);
	}
	malloc_count_read(&allocs, &frees);
	store_counts(s->st, &served, &cancelled, &skipped);
	n = snprintf(buf, sizeof(buf),
		     "# vt-server\r\nmode:%s\r\nloops:%d\r\nstore_latency_us:%u\r\n"
		     "connected_clients:%llu\r\naccepted:%llu\r\nrejected:%llu\r\nclosed:%llu\r\n"
		     "cmds:%llu\r\ngets:%llu\r\nhits:%llu\r\nmisses:%llu\r\n"
		     "sets:%llu\r\nsets_cache:%llu\r\nsets_store:%llu\r\ndels:%llu\r\npings:%llu\r\n"
		     "err_replies:%llu\r\nproto_errors:%llu\r\nbusy:%llu\r\ncanceled:%llu\r\n"
		     "dropped_results:%llu\r\ncancels:%llu\r\ncancel_late:%llu\r\n"
		     "out_pauses:%llu\r\nmax_out_bytes:%llu\r\n"
		     "max_output:%zu\r\nmax_bulk:%zu\r\ninflight:%llu\r\n"
		     "pool_capacity:%llu\r\npool_created:%llu\r\npool_rented:%llu\r\n"
		     "pool_rents:%llu\r\npool_returns:%llu\r\npool_empty_rents:%llu\r\n"
		     "baseline_ops_live:%llu\r\nbaseline_ops_total:%llu\r\n"
		     "store_served:%llu\r\nstore_cancelled:%llu\r\nstore_skipped:%llu\r\n"
		     "cache_keys:%zu\r\nstore_keys:%zu\r\n"
		     "malloc_counter:%s\r\nmallocs:%llu\r\nfrees:%llu\r\n",
		     mode_names[s->cfg.mode], s->cfg.loops, s->cfg.store_latency_us,
		     (unsigned long long)nconns, (unsigned long long)sum.accepted,
		     (unsigned long long)sum.rejected, (unsigned long long)sum.closed,
		     (unsigned long long)sum.cmds, (unsigned long long)sum.gets,
		     (unsigned long long)sum.hits, (unsigned long long)sum.misses,
		     (unsigned long long)sum.sets, (unsigned long long)sum.sets_cache,
		     (unsigned long long)sum.sets_store,
		     (unsigned long long)sum.dels, (unsigned long long)sum.pings,
		     (unsigned long long)sum.err_replies, (unsigned long long)sum.proto_errors,
		     (unsigned long long)sum.busy, (unsigned long long)sum.canceled,
		     (unsigned long long)sum.dropped, (unsigned long long)sum.cancels,
		     (unsigned long long)sum.cancel_late, (unsigned long long)sum.out_pauses,
		     (unsigned long long)sum.max_out, s->cfg.max_output, s->cfg.max_bulk,
		     (unsigned long long)inflight, (unsigned long long)pt.capacity,
		     (unsigned long long)pt.created, (unsigned long long)pt.rented,
		     (unsigned long long)pt.rents, (unsigned long long)pt.returns,
		     (unsigned long long)pt.empty_rents,
		     (unsigned long long)(sum.base_new - sum.base_free),
		     (unsigned long long)sum.base_new, (unsigned long long)served,
		     (unsigned long long)cancelled, (unsigned long long)skipped, kv_count(s->cache),
		     kv_count(store_table(s->st)), malloc_count_method(), (unsigned long long)allocs,
		     (unsigned long long)frees);
	if (n < 0 || n >= (int)sizeof(buf))
		n = (int)sizeof(buf) - 1;
	reply_bulk(c, buf, (size_t)n);
}

/* ======================================================================
 * The loop thread
 * ==================================================================== */

static void loop_begin_stop(loop *l)
{
	l->stop_seen = true;
	if (l->lfd >= 0) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
		close(l->lfd);
		l->lfd = -1;
	}
	for (conn *c = l->conns; c != NULL; c = c->next)
		conn_update(c); /* stop reading: no new operations */
}

/*
 * One epoll event of a live connection. A client that closes its socket
 * sends a FIN, which raises neither EPOLLHUP nor EPOLLERR, only EPOLLIN
 * and EPOLLRDHUP. A reading connection leaves it to conn_read, which
 * takes the bytes sent before the FIN, then sees EOF and closes. One that
 * is not reading (a command waits for an operation on its key, the reply
 * ring is full, the output is over its bound, or the server is stopping)
 * does not watch EPOLLIN and may read again only once the store
 * answers: its promises would stay rented that long, and the commands
 * parsed after the wait would still run. For it the FIN is the EOF:
 * conn_close, what conn_read does at EOF, cancels what is pending and
 * drops the replies and the input not yet run, as Redis does at EOF.
 * (One closing after QUIT or a protocol error does not watch EPOLLRDHUP:
 * it flushes what it owes, then closes; conn_update.)
 * EPOLLRDHUP is level-triggered and stays raised after a FIN, so it never
 * goes unhandled: a reading connection reads until EOF or until it stops
 * reading, and then the next event closes it.
 */
static void conn_event(conn *c, uint32_t events)
{
	if ((events & (EPOLLHUP | EPOLLERR)) || ((events & EPOLLRDHUP) && !(c->events & EPOLLIN)))
		conn_close(c); /* reset, gone both ways, or at EOF and not reading */
	else if (events & (EPOLLIN | EPOLLRDHUP))
		conn_read(c);
	else if (events & EPOLLOUT)
		conn_write(c);
}

/*
 * Shutdown, after the drain: one step of a connection (loop_flush_out).
 * Nothing is read or run any more. The replies it owes go out first, as
 * the socket takes them. Then, if the client sent bytes that were never
 * read, or the kernel still holds replies the client has not acknowledged,
 * it shuts down its sending side (the FIN goes after the replies) and
 * reads and drops what comes until the client's EOF, or until every byte
 * and the FIN are acknowledged with nothing unread, then closes: a close
 * with bytes unread, or bytes that come after it (a client that pipelined
 * more than was read, or sends a command while it reads), makes the kernel
 * reset the connection and drop the replies it has not delivered yet.
 * With nothing unread and nothing held it closes at once.
 */
static void conn_flush(conn *c)
{
	int unread = 0, unacked = 0;
	ssize_t n;

	if (!conn_send(c))
		return;
	if (c->out_off < c->out_len) {
		conn_watch(c, EPOLLOUT);
		return;
	}
	if (!c->lingering) {
		if (ioctl(c->fd, FIONREAD, &unread) < 0 || ioctl(c->fd, SIOCOUTQ, &unacked) < 0 ||
		    (unread == 0 && unacked == 0)) {
			conn_close(c);
			return;
		}
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		conn_watch(c, EPOLLIN);
	}
	/* One read a step: EPOLLIN brings it back while there is more, and
	 * loop_flush_out every LINGER_POLL_MS. */
	n = recv(c->fd, c->in, c->in_cap, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		conn_close(c); /* the client's EOF, or gone */
	else if (n < 0 && errno != EINTR && ioctl(c->fd, SIOCOUTQ, &unacked) == 0 && unacked == 0)
		conn_close(c); /* nothing unread, all delivered: a reset now drops nothing */
}

#define LINGER_POLL_MS 10 /* a lingering connection's acknowledgements are looked at this often */

/*
 * After the drain nothing is in flight, but a client slow to read may not
 * have taken every reply yet: the rest waits in its output buffer, the
 * kernel's socket buffers full. Its connection gets up to
 * --shutdown-grace-ms to deliver them (conn_flush); what has not gone by
 * then is dropped by the caller, so a client that never reads does not
 * hold the shutdown longer. Only wake-ups can reach the vt_loop now
 * (nothing is in flight): they run here or in main's vt_loop_destroy.
 */
static void loop_flush_out(loop *l)
{
	uint64_t deadline = now_ns() + (uint64_t)l->s->cfg.shutdown_grace_ms * 1000000u;
	struct epoll_event evs[256];
	conn *next;

	for (conn *c = l->conns; c != NULL; c = next) {
		next = c->next;
		conn_flush(c);
	}
	while (l->conns != NULL) {
		uint64_t now = now_ns(), wait_ms;
		int n;

		if (now >= deadline)
			break;
		wait_ms = (deadline - now + 999999u) / 1000000u;
		n = epoll_wait(l->ep, evs, 256, (int)(wait_ms < LINGER_POLL_MS ? wait_ms : LINGER_POLL_MS));
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == TAG_EXEC)
				(void)vt_loop_run_once(l->vl);
			else if (!((conn *)tag)->closed)
				conn_flush(tag);
		}
		/* No event says that the client has acknowledged everything. */
		for (conn *c = l->conns; c != NULL; c = next) {
			next = c->next;
			if (c->lingering)
				conn_flush(c);
		}
	}
}

static void *loop_main(void *self)
{
	loop *l = self;
	struct epoll_event evs[256];

	for (;;) {
		int n;

		if (!l->stop_seen && __atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE))
			loop_begin_stop(l);
		if (l->stop_seen && l->inflight == 0 && l->dead == NULL)
			break;
		bool exec = false;
		int wait_ms = -1;

		if (l->listen_paused && !l->stop_seen) {
			uint64_t now = now_ns();

			if (now >= l->listen_retry_ns)
				listen_resume(l);
			if (l->listen_paused)
				wait_ms = (int)((l->listen_retry_ns - now) / 1000000u) + 1;
		}
		/* A dead connection whose canceled request a worker still holds
		 * is looked at again within 10 ms (nothing wakes us for it). */
		if (l->stop_seen || l->dead != NULL)
			wait_ms = 10;
		n = epoll_wait(l->ep, evs, 256, wait_ms);
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			conn *c;

			if (tag == TAG_LISTEN) {
				loop_accept(l);
				continue;
			}
			if (tag == TAG_EXEC) {
				exec = true; /* drained below, after the I/O */
				continue;
			}
			c = tag;
			if (!c->closed)
				conn_event(c, evs[i].events);
		}
		/* Run the continuations the store's workers (and our own
		 * cancels) posted; at most VT_LOOP_BATCH, and the fd stays
		 * readable when more wait. */
		if (exec)
			(void)vt_loop_run_once(l->vl);
		if (l->dead != NULL)
			loop_reap(l);
	}
	/* Drained: every operation has completed and been consumed. */
	loop_flush_out(l);
	while (l->conns != NULL)
		conn_close(l->conns);
	loop_reap(l);
	while (l->spare != NULL) {
		conn *c = l->spare;

		l->spare = c->next;
		free(c->in);
		free(c->out);
		free(c->slots);
		free(c);
	}
	return NULL;
}

/* ======================================================================
 * Setup, signals, shutdown
 * ==================================================================== */

/*
 * The loop's executor: the library's vt_loop. Its rings must never refuse
 * a post: a refused post makes vt_executor_dispatch run the continuation
 * inline on the completing thread (a store worker), which must not touch
 * the connection. Every continuation is one operation in flight, and those
 * are bounded by pool_capacity (the promise pool's, or the baseline's
 * equal bound), so each ring, and the shared inject ring, holds more than
 * that. Producers: the store workers, this loop (cancels), main (wake-ups).
 * vt_loop takes rings of up to 2^24 items: hence --pool-capacity's bound
 * (a larger one also wrapped q to 0 here, and this loop never ended).
 */
#define POOL_CAPACITY_LIMIT ((1u << 24) - 64)

static int loop_create_exec(loop *l, const srv_config *cfg)
{
	vt_loop_config lc;
	uint32_t q = 64;

	while (q < cfg->pool_capacity + 64u)
		q <<= 1;
	vt_loop_config_default(&lc);
	lc.queue_size = q;
	lc.inject_size = q;
	lc.max_producers = (uint32_t)cfg->store_threads + 2;
	if (vt_loop_create(&l->vl, &lc) != 0)
		return -1;
	l->ex = vt_loop_executor(l->vl);
	return 0;
}

static void loop_nop(void *state)
{
	(void)state;
}

/* Make the loop look at its `stopping` flag. */
static void loop_wake(loop *l)
{
	(void)vt_loop_post(l->vl, loop_nop, NULL);
}

static int listen_on(const char *host, int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	return ntohs(a.sin_port);
}

/* false: no memory for the value. */
static bool prepopulate(srv *s)
{
	char key[32], *val = malloc(s->cfg.value_size + 1);

	if (val == NULL)
		return false;
	memset(val, 'x', s->cfg.value_size);
	for (size_t i = 0; i < s->cfg.store_keys || i < s->cfg.prepopulate; i++) {
		int n = snprintf(key, sizeof(key), "key:%012zu", i);

		if (i < s->cfg.prepopulate)
			(void)kv_set(s->cache, key, (size_t)n, val, s->cfg.value_size);
		else
			(void)kv_set(store_table(s->st), key, (size_t)n, val, s->cfg.value_size);
	}
	free(val);
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vt-server [options]\n"
		"  --mode=valuetask|baseline|baseline-async   (default valuetask)\n"
		"  --host=ADDR            listen address (default 127.0.0.1)\n"
		"  --port=N               0 = ephemeral (default 6399)\n"
		"  --loops=N              event-loop threads (default 2)\n"
		"  --store-threads=N      backing-store workers (default 2)\n"
		"  --store-latency-us=N   backing-store latency (default 0)\n"
		"  --cache-keys=N         cache admission bound (default 1048576, or\n"
		"                         --prepopulate when that is given)\n"
		"  --prepopulate=N        cache holds key:000000000000 .. N-1\n"
		"  --store-keys=N         store holds keys N(prepopulate) .. this-1\n"
		"  --value-size=N         prepopulated value size (default 3)\n"
		"  --max-bulk=N           largest bulk string (default 524288)\n"
		"  --max-output=N         per-connection output bound (default 1048576)\n"
		"  --pool-capacity=N      operations in flight per loop (default 4096)\n"
		"  --shutdown-grace-ms=N  at shutdown, how long a slow reader may take to\n"
		"                         read the replies it is owed (default 2000)\n");
}

/* A numeric option's value: decimal digits only (no sign, no blanks, no
 * suffix), at most max. strtoull alone takes "abc" as 0, "-1" as its
 * largest value and "5x" as 5. */
static bool opt_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_args(srv_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, 0, 'm' },
		{ "host", required_argument, 0, 'h' },
		{ "port", required_argument, 0, 'p' },
		{ "loops", required_argument, 0, 'l' },
		{ "store-threads", required_argument, 0, 't' },
		{ "store-latency-us", required_argument, 0, 'L' },
		{ "cache-keys", required_argument, 0, 'c' },
		{ "prepopulate", required_argument, 0, 'P' },
		{ "store-keys", required_argument, 0, 'S' },
		{ "value-size", required_argument, 0, 'v' },
		{ "max-bulk", required_argument, 0, 'b' },
		{ "max-output", required_argument, 0, 'o' },
		{ "pool-capacity", required_argument, 0, 'C' },
		{ "shutdown-grace-ms", required_argument, 0, 'g' },
		{ "help", no_argument, 0, '?' },
		{ 0, 0, 0, 0 },
	};
	unsigned long long v = 0;
	int o;
	bool cache_keys_set = false;

	cfg->host = "127.0.0.1";
	cfg->port = 6399;
	cfg->loops = 2;
	cfg->store_threads = 2;
	cfg->store_latency_us = 0;
	cfg->mode = MODE_VT;
	cfg->cache_keys = 1u << 20;
	cfg->prepopulate = 0;
	cfg->store_keys = 0;
	cfg->value_size = 3;
	cfg->max_bulk = 512 * 1024;
	cfg->max_output = 1024 * 1024;
	cfg->pool_capacity = 4096;
	cfg->shutdown_grace_ms = 2000;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (strcmp(optarg, "valuetask") == 0)
				cfg->mode = MODE_VT;
			else if (strcmp(optarg, "baseline") == 0)
				cfg->mode = MODE_BASE;
			else if (strcmp(optarg, "baseline-async") == 0)
				cfg->mode = MODE_BASE_ASYNC;
			else
				return -1;
			break;
		case 'h': cfg->host = optarg; break;
/* Each numeric option: its field, and the largest value it takes. */
#define NUM_OPT(field, max)                             \
	if (!opt_num(optarg, (max), &v))                \
		return -1;                              \
	cfg->field = v;                                 \
	break
		case 'p': NUM_OPT(port, 65535);
		case 'l': NUM_OPT(loops, 64);
		case 't': NUM_OPT(store_threads, 1024);
		case 'L': NUM_OPT(store_latency_us, UINT32_MAX);
		case 'c': cache_keys_set = true; NUM_OPT(cache_keys, SIZE_MAX);
		case 'P': NUM_OPT(prepopulate, SIZE_MAX);
		case 'S': NUM_OPT(store_keys, SIZE_MAX);
		case 'v': NUM_OPT(value_size, SIZE_MAX);
		case 'b': NUM_OPT(max_bulk, MAX_BULK_LIMIT);
		case 'o': NUM_OPT(max_output, SIZE_MAX);
		case 'C': NUM_OPT(pool_capacity, POOL_CAPACITY_LIMIT);
		case 'g': NUM_OPT(shutdown_grace_ms, INT_MAX);
#undef NUM_OPT
		default: return -1;
		}
	}
	if (cfg->loops < 1 || cfg->store_threads < 1 || cfg->pool_capacity < 1 || cfg->max_output < 1 ||
	    cfg->max_bulk < 1 || cfg->value_size > cfg->max_bulk)
		return -1;
	/* A prepopulated cache is full unless told otherwise: keys beyond it
	 * live in the store, so the keyspace fixes the hit ratio. */
	if ((!cache_keys_set && cfg->prepopulate > 0) || cfg->prepopulate > cfg->cache_keys)
		cfg->cache_keys = cfg->prepopulate;
	return 0;
}

int main(int argc, char **argv)
{
	srv s;
	sigset_t mask;
	int sfd, port;
	struct signalfd_siginfo si;
	int leaked_promises = 0;
	uint64_t leaked_base = 0, leaked_conns = 0;

	memset(&s, 0, sizeof(s));
	if (parse_args(&s.cfg, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	/* Block the shutdown signals in every thread; main reads them from a
	 * signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}
	if (kv_create(&s.cache, s.cfg.cache_keys, s.cfg.cache_keys) < 0 ||
	    store_create(&s.st, s.cfg.store_threads, s.cfg.store_latency_us, s.cfg.store_keys) < 0 ||
	    !prepopulate(&s)) {
		fprintf(stderr, "vt-server: out of memory\n");
		store_destroy(&s.st); /* what was made: NULL-safe, and s was zeroed */
		kv_destroy(&s.cache);
		return 1;
	}
	pthread_mutex_init(&s.fd_mu, NULL);
	s.spare_fd = spare_open();
	if (s.spare_fd < 0) {
		fprintf(stderr, "vt-server: open /dev/null: %s\n", strerror(errno));
		return 1;
	}
	s.loops = calloc((size_t)s.cfg.loops, sizeof(loop));
	port = s.cfg.port;
	for (int i = 0; i < s.cfg.loops; i++) {
		loop *l = &s.loops[i];
		struct epoll_event ev;
		vt_pool_config pc;

		l->s = &s;
		l->id = i;
		l->lfd = listen_on(s.cfg.host, port);
		if (l->lfd < 0) {
			fprintf(stderr, "vt-server: listen %s:%d: %s\n", s.cfg.host, port,
				strerror(-l->lfd));
			return 1;
		}
		port = bound_port(l->lfd); /* port 0: the others join the one we got */
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		if (loop_create_exec(l, &s.cfg) != 0) {
			fprintf(stderr, "vt-server: executor: out of memory\n");
			return 1;
		}
		if (s.cfg.mode == MODE_VT) {
			vt_pool_config_default(&pc);
			pc.capacity = s.cfg.pool_capacity;
			pc.initial_objects = pc.capacity < 256 ? pc.capacity : 256;
			if (vt_promise_pool_create(&l->pool, &pc) != 0) {
				fprintf(stderr, "vt-server: promise pool: failed\n");
				return 1;
			}
		}
		ev.events = EPOLLIN;
		ev.data.ptr = TAG_LISTEN;
		epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &ev);
		ev.events = EPOLLIN;
		ev.data.ptr = TAG_EXEC;
		epoll_ctl(l->ep, EPOLL_CTL_ADD, vt_loop_fd(l->vl), &ev);
	}
	s.port = port;
	for (int i = 0; i < s.cfg.loops; i++)
		pthread_create(&s.loops[i].th, NULL, loop_main, &s.loops[i]);
	printf("vt-server: listening on %s:%d mode=%s loops=%d pid=%d\n", s.cfg.host, port,
	       s.cfg.mode == MODE_VT ? "valuetask" : s.cfg.mode == MODE_BASE ? "baseline" : "baseline-async",
	       s.cfg.loops, (int)getpid());
	fflush(stdout);

	while (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si) && errno == EINTR)
		;
	fprintf(stderr, "vt-server: signal %u: shutting down\n", si.ssi_signo);

	/* 1. Loops stop accepting and reading: no new operations. */
	for (int i = 0; i < s.cfg.loops; i++) {
		__atomic_store_n(&s.loops[i].stopping, 1, __ATOMIC_RELEASE);
		loop_wake(&s.loops[i]);
	}
	/* 2. The store cancels what is queued (each completes with -ECANCELED,
	 *    and its continuation consumes it on its loop) and stops. */
	store_stop(s.st);
	/* 3. Each loop exits once nothing of its own is in flight. */
	for (int i = 0; i < s.cfg.loops; i++)
		pthread_join(s.loops[i].th, NULL);
	/* 4. Count what is still out, and destroy. */
	for (int i = 0; i < s.cfg.loops; i++) {
		loop *l = &s.loops[i];

		if (l->pool != NULL)
			leaked_promises += vt_promise_pool_destroy(&l->pool);
		leaked_base += l->cnt.base_new - l->cnt.base_free;
		leaked_conns += l->nconns;
		/* The loop thread is gone: this thread is the only drainer now.
		 * What is left in the queue is wake-ups. */
		(void)vt_loop_destroy(&l->vl);
		close(l->ep);
	}
	{
		uint64_t served, cancelled, skipped;

		store_counts(s.st, &served, &cancelled, &skipped);
		fprintf(stderr,
			"vt-server: shutdown: store served %llu, cancelled %llu, skipped %llu; "
			"promises outstanding %d, baseline ops outstanding %llu, connections %llu\n",
			(unsigned long long)served, (unsigned long long)cancelled,
			(unsigned long long)skipped, leaked_promises,
			(unsigned long long)leaked_base, (unsigned long long)leaked_conns);
	}
	store_destroy(&s.st);
	kv_destroy(&s.cache);
	free(s.loops);
	close(s.spare_fd);
	pthread_mutex_destroy(&s.fd_mu);
	close(sfd);
	fprintf(stderr, "vt-server: leaks: %llu\n",
		(unsigned long long)((uint64_t)leaked_promises + leaked_base + leaked_conns));
	return (leaked_promises || leaked_base || leaked_conns) ? 1 : 0;
}
