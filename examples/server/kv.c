/*
 * kv: chained hash table, buckets fixed at creation (no rehash: a chain
 * just grows when the table holds more than it was sized for), one mutex
 * per stripe of buckets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define KV_STRIPES 64
#define KV_MIN_VCAP 16

typedef struct kv_entry {
	struct kv_entry *next;
	uint64_t hash;
	uint32_t klen, vlen, vcap;
	char data[]; /* key, then value (vcap bytes) */
} kv_entry;

typedef struct kv_stripe {
	pthread_mutex_t mu;
	char pad[64 - sizeof(pthread_mutex_t) % 64];
} kv_stripe;

struct kv {
	kv_stripe stripes[KV_STRIPES];
	kv_entry **buckets;
	size_t mask;
	size_t max_entries;
	size_t count; /* atomic */
};

static uint64_t kv_hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

int kv_create(kv **out, size_t expected_keys, size_t max_entries)
{
	kv *t = calloc(1, sizeof(*t));
	size_t n = 1024;

	if (t == NULL)
		return -ENOMEM;
	while (n < expected_keys) {
		/* No memory holds more buckets (and n would wrap to 0). */
		if (n > SIZE_MAX / 2 / sizeof(*t->buckets)) {
			free(t);
			return -ENOMEM;
		}
		n <<= 1;
	}
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return -ENOMEM;
	}
	t->mask = n - 1;
	t->max_entries = max_entries;
	for (int i = 0; i < KV_STRIPES; i++)
		pthread_mutex_init(&t->stripes[i].mu, NULL);
	*out = t;
	return 0;
}

void kv_destroy(kv **tp)
{
	kv *t = *tp;

	if (t == NULL)
		return;
	for (size_t b = 0; b <= t->mask; b++) {
		kv_entry *e = t->buckets[b];

		while (e != NULL) {
			kv_entry *n = e->next;

			free(e);
			e = n;
		}
	}
	for (int i = 0; i < KV_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i].mu);
	free(t->buckets);
	free(t);
	*tp = NULL;
}

static pthread_mutex_t *kv_lock(kv *t, uint64_t h)
{
	/* The stripe is a function of the bucket (low bits), so one bucket
	 * always has one lock. */
	pthread_mutex_t *mu = &t->stripes[h & (KV_STRIPES - 1)].mu;

	pthread_mutex_lock(mu);
	return mu;
}

static kv_entry **kv_find(kv *t, uint64_t h, const char *key, size_t klen)
{
	kv_entry **pp = &t->buckets[h & t->mask];

	for (; *pp != NULL; pp = &(*pp)->next) {
		kv_entry *e = *pp;

		if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
			return pp;
	}
	return pp;
}

bool kv_get(kv *t, const char *key, size_t klen, kv_visit visit, void *ctx)
{
	uint64_t h = kv_hash(key, klen);
	pthread_mutex_t *mu = kv_lock(t, h);
	kv_entry *e = *kv_find(t, h, key, klen);

	if (e != NULL)
		visit(ctx, e->data + e->klen, e->vlen);
	pthread_mutex_unlock(mu);
	return e != NULL;
}

int kv_set(kv *t, const char *key, size_t klen, const char *val, size_t vlen)
{
	uint64_t h = kv_hash(key, klen);
	pthread_mutex_t *mu = kv_lock(t, h);
	kv_entry **pp = kv_find(t, h, key, klen);
	kv_entry *e = *pp;
	int rc = 1;

	if (e != NULL && vlen <= e->vcap) {
		memcpy(e->data + klen, val, vlen); /* the steady state: in place */
		e->vlen = (uint32_t)vlen;
	} else {
		size_t cap = vlen < KV_MIN_VCAP ? KV_MIN_VCAP : vlen;
		kv_entry *n;

		if (e == NULL && t->max_entries != 0 &&
		    __atomic_load_n(&t->count, __ATOMIC_RELAXED) >= t->max_entries) {
			pthread_mutex_unlock(mu);
			return 0;
		}
		n = malloc(sizeof(*n) + klen + cap);
		if (n == NULL) {
			pthread_mutex_unlock(mu);
			return -ENOMEM;
		}
		n->hash = h;
		n->klen = (uint32_t)klen;
		n->vlen = (uint32_t)vlen;
		n->vcap = (uint32_t)cap;
		memcpy(n->data, key, klen);
		memcpy(n->data + klen, val, vlen);
		if (e != NULL) {
			n->next = e->next;
			free(e);
		} else {
			n->next = NULL;
			__atomic_fetch_add(&t->count, 1, __ATOMIC_RELAXED);
		}
		*pp = n;
	}
	pthread_mutex_unlock(mu);
	return rc;
}

int kv_del(kv *t, const char *key, size_t klen)
{
	uint64_t h = kv_hash(key, klen);
	pthread_mutex_t *mu = kv_lock(t, h);
	kv_entry **pp = kv_find(t, h, key, klen);
	kv_entry *e = *pp;

	if (e != NULL) {
		*pp = e->next;
		free(e);
		__atomic_fetch_sub(&t->count, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(mu);
	return e != NULL;
}

size_t kv_count(const kv *t)
{
	return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}
