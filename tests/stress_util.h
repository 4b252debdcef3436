/*
 * tests/stress_util.h: what the stress tests share.
 *
 *   --threads N      threads (each test says how it uses them)
 *   --iterations N   rounds or operations (each test says which); not scaled
 *   --scale P        percent of the default iterations (meson passes the
 *                    stress_scale option; VT_STRESS_SCALE in the environment
 *                    works too), so sanitizer builds can shrink the run
 *
 * Waiting is a spin that yields after a while: the machine may have fewer
 * cores than the test has threads, and others may be using them.
 */
#ifndef VT_TESTS_STRESS_UTIL_H
#define VT_TESTS_STRESS_UTIL_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct stress_opts {
	int threads;
	long iterations;
	long scale;
} stress_opts;

static inline void stress_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--threads N] [--iterations N] [--scale PERCENT]\n", argv0);
	exit(VT_TEST_FAIL);
}

/* Parse the common options; def_iterations is scaled unless --iterations is given. */
static inline stress_opts stress_parse(int argc, char **argv, int def_threads, long def_iterations)
{
	stress_opts o;
	long iterations = -1;
	const char *env = getenv("VT_STRESS_SCALE");

	setvbuf(stdout, NULL, _IOLBF, 0); /* progress survives a timeout kill */
	o.threads = def_threads;
	o.scale = env != NULL ? strtol(env, NULL, 10) : 100;
	for (int i = 1; i < argc; i += 2) {
		char *end = NULL;
		long v;

		if (i + 1 >= argc)
			stress_usage(argv[0]);
		v = strtol(argv[i + 1], &end, 10);
		if (end == argv[i + 1] || *end != '\0' || v <= 0)
			stress_usage(argv[0]);
		if (strcmp(argv[i], "--threads") == 0)
			o.threads = (int)v;
		else if (strcmp(argv[i], "--iterations") == 0)
			iterations = v;
		else if (strcmp(argv[i], "--scale") == 0)
			o.scale = v;
		else
			stress_usage(argv[0]);
	}
	if (o.scale <= 0)
		o.scale = 100;
	o.iterations = iterations > 0 ? iterations : def_iterations * o.scale / 100;
	if (o.iterations < 1)
		o.iterations = 1;
	return o;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* One step of a wait: spin a little, then yield the CPU. */
static inline void spin_step(unsigned *spins)
{
	if (++*spins < 200)
		cpu_relax();
	else
		sched_yield();
}

static inline uint64_t rng_next(uint64_t *rng)
{
	uint64_t x = *rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return x;
}

/* A short, varying delay so that the two sides of a race meet at
 * different points of each other's code. */
static inline void jitter(uint64_t *rng, unsigned max)
{
	for (unsigned i = (unsigned)(rng_next(rng) % (max + 1)); i > 0; i--)
		cpu_relax();
}

/* A spin barrier for a fixed team; it yields while waiting. */
typedef struct spin_barrier {
	unsigned n;
	unsigned count;
	unsigned gen;
} spin_barrier;

static inline void spin_barrier_init(spin_barrier *b, unsigned n)
{
	b->n = n;
	b->count = 0;
	b->gen = 0;
}

static inline void spin_barrier_wait(spin_barrier *b)
{
	unsigned gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
	unsigned spins = 0;

	if (__atomic_fetch_add(&b->count, 1, __ATOMIC_ACQ_REL) == b->n - 1) {
		__atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b->gen, gen + 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen)
		spin_step(&spins);
}

#endif /* VT_TESTS_STRESS_UTIL_H */
