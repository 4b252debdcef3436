/*
 * tests/alloc_hook.h: a counting, failing vt_allocator for the tests.
 *
 * Every block is tracked: free() must name a block that is live, with the
 * size it was allocated with. fail_at = n makes the n-th call (0-based)
 * fail; fail_from = n makes every call from the n-th on fail. Thread-safe.
 */
#ifndef VT_TESTS_ALLOC_HOOK_H
#define VT_TESTS_ALLOC_HOOK_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <valuetask.h>

#include "check.h"

#define HOOK_MAX_BLOCKS 16384

typedef struct hook_block {
	void *ptr;
	size_t size;
} hook_block;

typedef struct alloc_hook {
	pthread_mutex_t lock;
	long calls;      /* alloc calls, failed ones included */
	long failures;   /* alloc calls that were made to fail */
	long fail_at;    /* -1: none */
	long fail_from;  /* -1: none */
	long live;       /* blocks allocated and not freed */
	long bad_frees;  /* free of an unknown block, or with the wrong size */
	hook_block blocks[HOOK_MAX_BLOCKS];
} alloc_hook;

static inline void hook_reset(alloc_hook *h)
{
	memset(h, 0, sizeof *h);
	pthread_mutex_init(&h->lock, NULL);
	h->fail_at = -1;
	h->fail_from = -1;
}

static inline void *hook_alloc(size_t size, size_t align, void *ctx)
{
	alloc_hook *h = (alloc_hook *)ctx;
	void *p = NULL;
	long n;

	pthread_mutex_lock(&h->lock);
	n = h->calls++;
	if (n == h->fail_at || (h->fail_from >= 0 && n >= h->fail_from)) {
		h->failures++;
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	/* align must be a power of two: posix_memalign checks it for us. */
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0) {
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	for (int i = 0; i < HOOK_MAX_BLOCKS; i++) {
		if (h->blocks[i].ptr == NULL) {
			h->blocks[i].ptr = p;
			h->blocks[i].size = size;
			h->live++;
			pthread_mutex_unlock(&h->lock);
			return p;
		}
	}
	pthread_mutex_unlock(&h->lock);
	fprintf(stderr, "alloc_hook: more than %d live blocks\n", HOOK_MAX_BLOCKS);
	exit(VT_TEST_FAIL);
}

static inline void hook_free(void *ptr, size_t size, void *ctx)
{
	alloc_hook *h = (alloc_hook *)ctx;

	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < HOOK_MAX_BLOCKS; i++) {
		if (h->blocks[i].ptr == ptr && ptr != NULL) {
			if (h->blocks[i].size != size) {
				fprintf(stderr, "alloc_hook: block %p allocated with %zu bytes, freed with %zu\n",
					ptr, h->blocks[i].size, size);
				h->bad_frees++;
			}
			h->blocks[i].ptr = NULL;
			h->live--;
			pthread_mutex_unlock(&h->lock);
			free(ptr);
			return;
		}
	}
	fprintf(stderr, "alloc_hook: free of unknown block %p (%zu bytes)\n", ptr, size);
	h->bad_frees++;
	pthread_mutex_unlock(&h->lock);
}

static inline void hook_install(alloc_hook *h, vt_pool_config *cfg)
{
	cfg->allocator.alloc = hook_alloc;
	cfg->allocator.free = hook_free;
	cfg->allocator.ctx = h;
}

#endif /* VT_TESTS_ALLOC_HOOK_H */
