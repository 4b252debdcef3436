/*
 * kv: a fixed-bucket, lock-striped hash table of byte strings, used for
 * both the cache (bounded: admission stops at max_entries) and the backing
 * store (unbounded). An entry is allocated when a key is first inserted and
 * updated in place afterwards while the new value fits its capacity, so a
 * steady workload over a fixed keyspace allocates nothing.
 */
#ifndef VT_EXAMPLE_KV_H
#define VT_EXAMPLE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv kv;

/* Called under the bucket lock with the value; must not call back into kv. */
typedef void (*kv_visit)(void *ctx, const char *val, size_t len);

/* max_entries 0: unbounded. 0 or -ENOMEM. */
int kv_create(kv **out, size_t expected_keys, size_t max_entries);
void kv_destroy(kv **t);

/* true and visit(ctx, value) when found. */
bool kv_get(kv *t, const char *key, size_t klen, kv_visit visit, void *ctx);

/* 1 stored; 0 not admitted (absent and the table is full); -ENOMEM. */
int kv_set(kv *t, const char *key, size_t klen, const char *val, size_t vlen);

/* 1 removed, 0 absent. */
int kv_del(kv *t, const char *key, size_t klen);

size_t kv_count(const kv *t);

#endif
