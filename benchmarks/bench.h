/*
 * valuetask benchmarks: the shared harness.
 *
 * Every benchmark executable answers one question (see README.md) and prints
 * one parseable line per measurement:
 *
 *   bench=<question> impl=<name> alloc=<malloc in use> threads=N runs=R
 *   ns_op_median=.. ns_op_min=.. ops_s=.. allocs_op=.. allocs=.. [p50_ns=..
 *   p99_ns=.. p999_ns=..] [key=value ...]
 *
 * ns_op is wall-clock time divided by the operations completed by all
 * threads together (so for N threads it is 1e9 / aggregate throughput);
 * median and min are over R timed runs that follow one untimed warm-up run.
 * ops_s is 1e9 / ns_op_median. allocs_op is counted, never assumed: the
 * executable interposes malloc and friends (alloc_count.c) and divides the
 * allocation calls the measured threads made during the timed runs by the
 * operations they completed; allocs is that count itself (allocs_op has four
 * decimals, so up to one allocation in 20,000 operations prints 0.0000).
 * Lines starting with '#' are comments.
 */
#ifndef VTB_BENCH_H
#define VTB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define VTB_HAVE_TSC 1
#endif

/* An opaque call: not inlined, and (gcc) no inter-procedural shortcuts either,
 * so the caller cannot see what the callee returns. */
#if defined(__GNUC__) && !defined(__clang__)
#define VTB_NOINLINE __attribute__((noinline, noipa))
#else
#define VTB_NOINLINE __attribute__((noinline))
#endif
#define VTB_UNUSED __attribute__((unused))
#define VTB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VTB_CACHELINE 64

/* ---- command line ------------------------------------------------------- */

typedef struct vtb_opts {
	int runs;          /* timed runs per measurement (>= 5 unless --runs says less) */
	int warmup;        /* untimed runs before them */
	double run_ms;     /* target length of one run */
	const char *impls; /* comma list of impls to run; NULL = the executable's default */
	int threads[16];   /* thread counts (pool benchmark) */
	int nthreads;
	int depth;         /* objects each thread holds while it rents and returns */
	int sample_every;  /* latency: time one operation in this many */
	int window;        /* cross-thread benchmark: operations in flight (256) */
	bool quick;        /* shorter runs (VTB_QUICK=1 or --quick) */
	bool single_threaded; /* --single-threaded-process: see vtb_init */
} vtb_opts;

extern vtb_opts vtb_opt;

/*
 * Parse argv (and VTB_QUICK / VTB_RUNS / VTB_RUN_MS from the environment);
 * `what` names the executable in --help. Exits on --help or bad input.
 *
 * Then it starts and joins one thread, so that the process is
 * multi-threaded, as a server is: glibc skips the atomic instructions of
 * pthread_mutex_lock/unlock while a process has never had a second thread
 * (about 4 ns for a lock + unlock pair here instead of 13 ns), which would
 * flatter the mutex-based baselines of the one-thread questions.
 * --single-threaded-process keeps the process single-threaded; those rows
 * are then named "<bench>_st" (vtb_bench_name).
 */
void vtb_init(int argc, char **argv, const char *what, const char *default_impls);

/* "name", or "name_st" under --single-threaded-process. */
const char *vtb_bench_name(const char *name);

/* Whether impl `name` was selected (the --impl list, or the default list). */
bool vtb_selected(const char *name);

/* ---- clocks ------------------------------------------------------------- */

/* Monotonic nanoseconds (clock_gettime). */
uint64_t vtb_now_ns(void);

/* A cheap timestamp for latency samples: the TSC where there is one
 * (constant and synchronised on the machines this runs on), else ns. */
static inline uint64_t vtb_ticks(void)
{
#ifdef VTB_HAVE_TSC
	return __rdtsc();
#else
	return vtb_now_ns();
#endif
}

/* Nanoseconds per tick, calibrated against CLOCK_MONOTONIC at start-up. */
extern double vtb_ns_per_tick;

/* Operations until the next timed one: uniform in 1 .. 2 every - 1 (mean
 * `every`), from the caller's xorshift state *rng (not 0). Not a fixed
 * `every`: a fixed period that divides a loop's length times the same
 * step of it every time (bench_pool at --depth 32, one in 64: always the
 * last rent of a burst and the first return). */
static inline unsigned vtb_sample_gap(uint64_t *rng, unsigned every)
{
	uint64_t x = *rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return every <= 1 ? 1 : 1 + (unsigned)(x % (2 * (uint64_t)every - 1));
}

/* ---- allocation counting (alloc_count.c) -------------------------------- */

/* Allocation calls (malloc, calloc, realloc, reallocarray, aligned_alloc,
 * posix_memalign, memalign, valloc, pvalloc) and frees made by the calling
 * thread so far. */
uint64_t vtb_thread_allocs(void);
uint64_t vtb_thread_frees(void);
/* The allocator that serves malloc in this process ("glibc", "jemalloc",
 * "tcmalloc", "mimalloc" or the library's file name), found with dladdr(). */
const char *vtb_allocator_name(void);
/* Checks that allocations made inside libc are counted; false if not. */
bool vtb_alloc_selftest(void);
/* The allocator this executable was linked against (alloc_anchor.c). */
const char *vtb_alloc_expected(void);

/* ---- statistics and output ---------------------------------------------- */

/* Latency samples in ticks, appended by threads, reduced to percentiles.
 * A full buffer keeps every other sample and from then on keeps one added
 * sample in `stride` (doubled each time), so that what it holds covers the
 * whole run evenly, not only its start. */
typedef struct vtb_samples {
	uint32_t *v;
	size_t n, cap;   /* cap is even */
	uint64_t stride; /* added samples each kept one stands for */
	uint64_t skip;   /* added samples to drop before the next kept one */
} vtb_samples;

void vtb_samples_init(vtb_samples *s, size_t cap);
void vtb_samples_free(vtb_samples *s);
/* Empty s: no samples, stride 1. */
void vtb_samples_clear(vtb_samples *s);
/* s is full: keep every other sample, double the stride. false when s has
 * no room at all (cap 0: samples not asked for). */
bool vtb_samples_halve(vtb_samples *s);
static inline void vtb_samples_add(vtb_samples *s, uint64_t ticks)
{
	if (s->skip != 0) {
		s->skip--;
		return;
	}
	if (VTB_UNLIKELY(s->n == s->cap) && !vtb_samples_halve(s))
		return;
	s->v[s->n++] = ticks > UINT32_MAX ? UINT32_MAX : (uint32_t)ticks;
	s->skip = s->stride - 1;
}
/* Append at most max of src's samples (evenly spaced when there are more). */
void vtb_samples_append(vtb_samples *dst, const vtb_samples *src, size_t max);

typedef struct vtb_result {
	const char *bench;
	const char *impl;
	int threads;
	int runs;
	double ns_op[64];  /* one per timed run */
	uint64_t ops;      /* operations over all timed runs */
	uint64_t allocs;   /* allocation calls over all timed runs */
	vtb_samples lat;   /* optional: the timed step (a rent, a handoff) */
	bool has_lat;
	vtb_samples lat2;  /* optional: a second step (a return), printed as ret_p50_ns ... */
	bool has_lat2;
	char extra[256];   /* more key=value pairs, space separated */
} vtb_result;

/* Print one row for r (median/min over r->runs, percentiles when has_lat). */
void vtb_print(const vtb_result *r);

/* Parse "A,B,..." (each lo..hi, at most max of them) into out; the count.
 * Exits with a message on bad input, as the harness's own options do. */
int vtb_parse_list(const char *s, long lo, long hi, const char *flag, long *out, int max);
/* Free the latency samples of r. */
void vtb_result_free(vtb_result *r);
/* Print a '#' line. */
void vtb_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The header comment: executable, allocator, CPU, clocks. */
void vtb_header(const char *what);

/* Fail hard: a benchmark that measured a broken run must not print a row. */
void vtb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- single-thread measurements ----------------------------------------- */

/*
 * Measure fn(ctx, n) (n operations per call) on the calling thread: calibrate
 * n so that one run lasts about vtb_opt.run_ms, run warm-up runs, then timed
 * runs; fill r (ns_op, ops, allocs).
 */
void vtb_measure_serial(vtb_result *r, void (*fn)(void *ctx, uint64_t n), void *ctx);

/* Several cases measured together, their runs interleaved (run k of every
 * case, then run k + 1 ...), so that a change in the machine's load falls
 * on all of them alike. n is filled in by the calibration. */
typedef struct vtb_serial_case {
	vtb_result *r;
	void (*fn)(void *ctx, uint64_t n);
	void *ctx;
	uint64_t n;
} vtb_serial_case;

void vtb_measure_serial_set(vtb_serial_case *cases, int ncases);

/* ---- multi-thread measurements ------------------------------------------ */

typedef struct vtb_thread {
	/* set by the harness */
	int id;
	int nthreads;
	void *arg;
	vtb_samples lat;         /* this run's latency samples */
	vtb_samples lat2;        /* and a second series (see vtb_result) */
	/* set by the worker through vtb_thread_start/vtb_thread_finish */
	uint64_t ops;
	uint64_t allocs;
	uint64_t t_start;        /* when it left the start barrier */
	uint64_t t_end;
	int failed;              /* non-zero: the run is invalid (message printed) */
	char pad[VTB_CACHELINE];
} vtb_thread;

/* Workers call this once set up: waits for every thread, then snapshots the
 * allocation counter. Returns the start time (ns), also kept in th->t_start:
 * a run is timed from the first worker's start to the last one's end. */
uint64_t vtb_thread_start(vtb_thread *th);
/* Workers call this when they saw the stop flag, with their operation count. */
void vtb_thread_finish(vtb_thread *th, uint64_t ops);
/* Whether the run is over: a relaxed load of the stop flag, inline, since
 * the pool workers look before every operation. */
extern int vtb__stop[16]; /* [0] is the flag; the array fills its cache line */
static inline bool vtb_stop_requested(void)
{
	return __atomic_load_n(&vtb__stop[0], __ATOMIC_RELAXED) != 0;
}

/*
 * Run worker on nthreads threads for vtb_opt.run_ms per run, warm-up runs
 * first, and fill r: ns_op = wall time / all threads' ops, allocs, and
 * latency samples (th->lat, and th->lat2 when want_lat2) merged over the
 * timed runs when want_lat. Returns 0, or -1 when a worker reported a failed
 * run (nothing is printed then).
 */
int vtb_measure_threads(vtb_result *r, int nthreads, void (*worker)(vtb_thread *th), void *arg,
			bool want_lat, bool want_lat2);

/* Several cases measured together, runs interleaved as in
 * vtb_measure_serial_set. A failed case stops running; -1 if any failed. */
typedef struct vtb_thread_case {
	vtb_result *r;
	int nthreads;
	void (*worker)(vtb_thread *th);
	void *arg;
	bool want_lat, want_lat2;
	int failed; /* set by the harness */
} vtb_thread_case;

int vtb_measure_threads_set(vtb_thread_case *cases, int ncases);

/* Yield the CPU inside spin loops: this machine has 2 cores. */
void vtb_relax(unsigned *spins);

#endif /* VTB_BENCH_H */
