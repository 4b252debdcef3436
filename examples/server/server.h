/*
 * vt-server: a RESP caching front end over a slow backing store, built two
 * ways (see README.md):
 *
 *   --mode=valuetask       a GET that hits completes synchronously with
 *                          vt_task_from_value; a miss (or a SET the cache
 *                          does not admit) rents a vt_promise from the
 *                          loop's vt_promise_pool and the store's worker
 *                          completes it;
 *   --mode=baseline        every operation's result travels in a malloc'd,
 *                          mutex-protected completion object that is freed
 *                          after its result is read (SPEC §5's Task);
 *   --mode=baseline-async  the same, but only for operations that go to
 *                          the store (hits answer directly).
 *
 * Everything else (event loops, parser, cache, store, executor, reply
 * ordering) is the same code.
 */
#ifndef VT_EXAMPLE_SERVER_H
#define VT_EXAMPLE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <valuetask.h>

#include "kv.h"
#include "store.h"

enum srv_mode { MODE_VT, MODE_BASE, MODE_BASE_ASYNC };

typedef struct srv_config {
	const char *host;
	int port;
	int loops;
	int store_threads;
	uint32_t store_latency_us;
	enum srv_mode mode;
	size_t cache_keys;     /* cache admission bound (entries) */
	size_t prepopulate;    /* cache keys key:000000000000 .. */
	size_t store_keys;     /* store holds keys [prepopulate, store_keys) */
	size_t value_size;     /* prepopulated value length */
	size_t max_bulk;       /* largest bulk string accepted */
	size_t max_output;     /* per-connection output bound (bytes) */
	uint32_t pool_capacity; /* promises (or baseline ops) in flight per loop */
	uint32_t shutdown_grace_ms; /* at shutdown, for slow readers to take their replies */
} srv_config;

#endif
