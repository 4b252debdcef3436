/*
 * store: worker threads around a kv table, fed by a mutex-protected FIFO.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define STORE_BATCH 64

struct store {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	store_req *head, *tail;
	bool stopping;
	int idle;          /* workers waiting for work */
	uint32_t latency_us;
	int nthreads;
	pthread_t *threads;
	kv *table;
	uint64_t served, cancelled, skipped; /* under mu */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct get_ctx {
	store_req *r;
	int64_t len;
} get_ctx;

static void store_copy_out(void *ctx, const char *val, size_t len)
{
	get_ctx *g = ctx;
	store_req *r = g->r;

	g->len = (int64_t)len;
	if (len <= r->vcap) {
		memcpy(r->val, val, len);
	} else {
		r->big = malloc(len); /* only for values over the slot's buffer */
		if (r->big == NULL)
			g->len = -ENOMEM;
		else
			memcpy(r->big, val, len);
	}
}

static void store_serve(store *s, store_req *r)
{
	int64_t res;

	if (r->op == STORE_GET) {
		get_ctx g = { r, STORE_NIL };

		r->big = NULL;
		if (!kv_get(s->table, r->key, r->klen, store_copy_out, &g))
			g.len = STORE_NIL;
		res = g.len;
	} else {
		int rc = kv_set(s->table, r->key, r->klen, r->val, r->vlen);

		res = rc < 0 ? rc : 0;
	}
	r->done(r, res); /* last touch of r */
}

/* Under mu: take the head (a worker owns it from here). */
static store_req *store_pop(store *s)
{
	store_req *r = s->head;

	s->head = r->next;
	if (s->head != NULL)
		s->head->prev = NULL;
	else
		s->tail = NULL;
	r->queued = 0;
	return r;
}

static void *store_worker(void *arg)
{
	store *s = arg;
	store_req *batch[STORE_BATCH];

	pthread_mutex_lock(&s->mu);
	for (;;) {
		int n = 0;

		if (s->head == NULL) {
			if (s->stopping)
				break;
			s->idle++;
			pthread_cond_wait(&s->cv, &s->mu);
			s->idle--;
			continue;
		}
		if (s->stopping) {
			/* Shutdown: cancel what is queued. */
			while (s->head != NULL && n < STORE_BATCH)
				batch[n++] = store_pop(s);
			s->cancelled += (uint64_t)n;
			pthread_mutex_unlock(&s->mu);
			for (int i = 0; i < n; i++)
				batch[i]->done(batch[i], -ECANCELED);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		if (s->latency_us != 0) {
			uint64_t now = now_ns();

			if (s->head->due_ns > now) {
				struct timespec ts;
				uint64_t due = s->head->due_ns;

				ts.tv_sec = (time_t)(due / 1000000000u);
				ts.tv_nsec = (long)(due % 1000000000u);
				pthread_cond_timedwait(&s->cv, &s->mu, &ts);
				continue;
			}
			while (s->head != NULL && n < STORE_BATCH && s->head->due_ns <= now)
				batch[n++] = store_pop(s);
		} else {
			while (s->head != NULL && n < STORE_BATCH)
				batch[n++] = store_pop(s);
		}
		if (s->head != NULL && s->idle > 0)
			pthread_cond_signal(&s->cv); /* more work: hand it on */
		s->served += (uint64_t)n;
		pthread_mutex_unlock(&s->mu);
		for (int i = 0; i < n; i++)
			store_serve(s, batch[i]);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int store_create(store **out, int threads, uint32_t latency_us, size_t expected_keys)
{
	store *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (s == NULL)
		return -ENOMEM;
	rc = kv_create(&s->table, expected_keys, 0);
	if (rc < 0) {
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->latency_us = latency_us;
	s->nthreads = threads < 1 ? 1 : threads;
	s->threads = calloc((size_t)s->nthreads, sizeof(pthread_t));
	for (int i = 0; i < s->nthreads; i++)
		pthread_create(&s->threads[i], NULL, store_worker, s);
	*out = s;
	return 0;
}

void store_submit(store *s, store_req *r)
{
	r->next = NULL;
	r->prev = NULL;
	__atomic_store_n(&r->held, 1, __ATOMIC_RELAXED); /* published by the unlock below */
	r->due_ns = s->latency_us ? now_ns() + (uint64_t)s->latency_us * 1000u : 0;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		s->cancelled++;
		pthread_mutex_unlock(&s->mu);
		r->done(r, -ECANCELED);
		return;
	}
	r->queued = 1;
	r->prev = s->tail;
	if (s->tail != NULL) {
		s->tail->next = r;
	} else {
		s->head = r;
		/* Only an empty queue can have a worker asleep on our account:
		 * a worker that saw a non-empty queue is timing on its head. */
		if (s->idle > 0)
			pthread_cond_signal(&s->cv);
	}
	s->tail = r;
	pthread_mutex_unlock(&s->mu);
}

bool store_cancel(store *s, store_req *r)
{
	bool took = false;

	pthread_mutex_lock(&s->mu);
	if (r->queued) {
		if (r->prev != NULL)
			r->prev->next = r->next;
		else
			s->head = r->next;
		if (r->next != NULL)
			r->next->prev = r->prev;
		else
			s->tail = r->prev;
		r->queued = 0;
		s->skipped++;
		took = true;
		/* A worker timing on the old head wakes at its deadline and
		 * looks again: nothing to signal. */
	}
	pthread_mutex_unlock(&s->mu);
	if (took)
		__atomic_store_n(&r->held, 0, __ATOMIC_RELEASE);
	return took;
}

void store_stop(store *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
}

void store_destroy(store **sp)
{
	store *s = *sp;

	if (s == NULL)
		return;
	if (s->nthreads > 0)
		store_stop(s);
	kv_destroy(&s->table);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->threads);
	free(s);
	*sp = NULL;
}

kv *store_table(store *s)
{
	return s->table;
}

void store_counts(store *s, uint64_t *served, uint64_t *cancelled, uint64_t *skipped)
{
	pthread_mutex_lock(&s->mu);
	*served = s->served;
	*cancelled = s->cancelled;
	*skipped = s->skipped;
	pthread_mutex_unlock(&s->mu);
}
