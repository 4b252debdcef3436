/*
 * compose/tests/pool_util.h: the promise-pool helpers the composition tests
 * share. Include after check.h and valuetask.h.
 */
#ifndef VT_COMPOSE_TESTS_POOL_UTIL_H
#define VT_COMPOSE_TESTS_POOL_UTIL_H

/* A promise pool of `capacity` with the other settings at their defaults. */
static inline vt_promise_pool *make_pool(uint32_t capacity)
{
	vt_pool_config cfg;
	vt_promise_pool *pp;

	vt_pool_config_default(&cfg);
	cfg.capacity = capacity;
	CHECK_EQ(vt_promise_pool_create(&pp, &cfg), 0);
	return pp;
}

/* Promises of pp rented now. */
static inline uint64_t rented(vt_promise_pool *pp)
{
	vt_pool_stats st;

	vt_promise_pool_get_stats(pp, &st);
	return st.rented;
}

#endif /* VT_COMPOSE_TESTS_POOL_UTIL_H */
