/*
 * store: the backing store behind the cache. A kv table served by a fixed
 * set of worker threads through one FIFO queue, with a configurable latency:
 * a request becomes due `latency_us` after it was submitted, and a worker
 * serves every due request in a batch (a store with that latency and
 * unbounded parallelism, like a remote cache or an SSD queue).
 *
 * Requests are intrusive (the caller owns the memory, the queue links it):
 * submitting allocates nothing. The worker finishes with r->done(r, result),
 * and never touches r after that call. A request that has not started yet
 * can be withdrawn with store_cancel (a client that left).
 */
#ifndef VT_EXAMPLE_STORE_H
#define VT_EXAMPLE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv.h"

enum { STORE_GET = 1, STORE_SET = 2 };

/* A GET's result when the key is absent (apart from every -errno). */
#define STORE_NIL (-(INT64_C(1) << 62))

typedef struct store_req store_req;
struct store_req {
	store_req *next;     /* private: queue links */
	store_req *prev;     /* private */
	uint64_t due_ns;     /* private */
	int queued;          /* private: under the store's lock */
	/* 1 from store_submit until the store is done with r for good; read
	 * and cleared atomically. Only meaningful for a request whose promise
	 * was cancelled: store_cancel clears it when it unlinks r, and a done
	 * callback whose completion was refused (the cancel won) clears it
	 * (release) as its last touch of r. See server.c, "cancellation". */
	int held;
	int op;              /* STORE_GET or STORE_SET */
	const char *key;
	size_t klen;
	char *val;           /* SET: the value; GET: where the value goes */
	size_t vlen;         /* SET: value length */
	size_t vcap;         /* GET: bytes at val */
	char *big;           /* GET: a malloc'd copy when the value is over vcap (caller frees) */
	/* GET: value length, or STORE_NIL when absent; SET: 0; or -errno
	 * (-ECANCELED at shutdown, -ENOMEM). */
	void (*done)(store_req *r, int64_t result);
};

typedef struct store store;

int store_create(store **out, int threads, uint32_t latency_us, size_t expected_keys);

/* Hand r to the workers; after store_stop, r->done(r, -ECANCELED) runs here. */
void store_submit(store *s, store_req *r);

/* Take r out of the queue if no worker has taken it yet: true, the store
 * will never touch r again (r->done is not called; held is cleared).
 * False: a worker has it (or had it) and will call r->done. Any thread. */
bool store_cancel(store *s, store_req *r);

/* Cancel every queued request (done with -ECANCELED), stop and join the
 * workers. Later submits are cancelled at once. */
void store_stop(store *s);
void store_destroy(store **s);

kv *store_table(store *s);

/* Requests served, cancelled at shutdown, and skipped (store_cancel took
 * them out before a worker started them). */
void store_counts(store *s, uint64_t *served, uint64_t *cancelled, uint64_t *skipped);

#endif
