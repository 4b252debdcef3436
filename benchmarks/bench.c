/*
 * valuetask benchmarks: the shared harness (see bench.h).
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define VTB_HAVE_SINGLE_THREADED 1
#endif
#endif

vtb_opts vtb_opt;
double vtb_ns_per_tick = 1.0;

static const char *g_default_impls;

/* ---- command line ------------------------------------------------------- */

static void usage(const char *what)
{
	printf("usage: %s [options]\n"
	       "  --runs N          timed runs per measurement (default 7; median and min are reported)\n"
	       "  --warmup N        untimed runs first (default 1)\n"
	       "  --ms N            length of one run in milliseconds (default 100)\n"
	       "  --impl A,B,...    implementations to run (default: %s)\n"
	       "  --threads 1,2,..  thread counts (pool benchmark; default 1,2,4,8)\n"
	       "  --depth N         objects each thread holds (pool benchmark; default 1)\n"
	       "  --window N        operations in flight (cross-thread benchmark; default 256)\n"
	       "  --sample-every N  time one operation in N for latency percentiles (default 64)\n"
	       "  --quick           5 runs of 40 ms (also VTB_QUICK=1)\n"
	       "  --single-threaded-process  do not start the helper thread (rows: <bench>_st)\n"
	       "Environment: VTB_QUICK, VTB_RUNS, VTB_RUN_MS override the defaults.\n",
	       what, g_default_impls);
}

static long parse_long(const char *s, long lo, long hi, const char *flag)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bad value for %s: '%s' (want %ld..%ld)\n", flag, s, lo, hi);
		exit(2);
	}
	return v;
}

int vtb_parse_list(const char *s, long lo, long hi, const char *flag, long *out, int max)
{
	char buf[256];
	int n = 0;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "bad value for %s: too long\n", flag);
		exit(2);
	}
	for (const char *p = s;; p++) {
		size_t len = strcspn(p, ",");

		if (n == max) {
			fprintf(stderr, "bad value for %s: '%s' (at most %d values)\n", flag, s, max);
			exit(2);
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		out[n++] = parse_long(buf, lo, hi, flag); /* an empty one is refused too */
		p += len;
		if (*p == '\0')
			return n;
	}
}

static void parse_threads(const char *s)
{
	enum { MAXN = sizeof(vtb_opt.threads) / sizeof(vtb_opt.threads[0]) };
	long v[MAXN];

	vtb_opt.nthreads = vtb_parse_list(s, 1, 256, "--threads", v, MAXN);
	for (int i = 0; i < vtb_opt.nthreads; i++)
		vtb_opt.threads[i] = (int)v[i];
}

static void calibrate_ticks(void)
{
#ifdef VTB_HAVE_TSC
	uint64_t n0 = vtb_now_ns(), t0 = vtb_ticks(), n1, t1;

	do {
		n1 = vtb_now_ns();
	} while (n1 - n0 < 20 * 1000 * 1000);
	t1 = vtb_ticks();
	vtb_ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
#else
	vtb_ns_per_tick = 1.0;
#endif
}

static void *noop_thread(void *arg)
{
	return arg;
}

const char *vtb_bench_name(const char *name)
{
	static char buf[8][64];
	static int next;
	char *b;

	if (!vtb_opt.single_threaded)
		return name;
	b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "%s_st", name);
	return b;
}

void vtb_init(int argc, char **argv, const char *what, const char *default_impls)
{
	const char *env;
	int i;

	g_default_impls = default_impls;
	vtb_opt.runs = 7;
	vtb_opt.warmup = 1;
	vtb_opt.run_ms = 100;
	vtb_opt.impls = NULL;
	vtb_opt.depth = 1;
	vtb_opt.sample_every = 64;
	vtb_opt.window = 256;
	parse_threads("1,2,4,8");

	env = getenv("VTB_QUICK");
	if (env != NULL && env[0] != '\0' && strcmp(env, "0") != 0)
		vtb_opt.quick = true;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			vtb_opt.quick = true;
	if (vtb_opt.quick) {
		vtb_opt.runs = 5;
		vtb_opt.run_ms = 40;
	}
	if ((env = getenv("VTB_RUNS")) != NULL && env[0] != '\0')
		vtb_opt.runs = (int)parse_long(env, 1, 64, "VTB_RUNS");
	if ((env = getenv("VTB_RUN_MS")) != NULL && env[0] != '\0')
		vtb_opt.run_ms = (double)parse_long(env, 1, 60000, "VTB_RUN_MS");

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0)
			continue;
		if (strcmp(a, "--single-threaded-process") == 0) {
			vtb_opt.single_threaded = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(what);
			exit(0);
		}
		if (v == NULL) {
			fprintf(stderr, "%s: missing value for %s\n", what, a);
			exit(2);
		}
		if (strcmp(a, "--runs") == 0)
			vtb_opt.runs = (int)parse_long(v, 1, 64, a);
		else if (strcmp(a, "--warmup") == 0)
			vtb_opt.warmup = (int)parse_long(v, 0, 100, a);
		else if (strcmp(a, "--ms") == 0)
			vtb_opt.run_ms = (double)parse_long(v, 1, 60000, a);
		else if (strcmp(a, "--impl") == 0)
			vtb_opt.impls = v;
		else if (strcmp(a, "--threads") == 0)
			parse_threads(v);
		else if (strcmp(a, "--depth") == 0)
			vtb_opt.depth = (int)parse_long(v, 1, 1024, a);
		else if (strcmp(a, "--window") == 0)
			vtb_opt.window = (int)parse_long(v, 1, 1024, a);
		else if (strcmp(a, "--sample-every") == 0)
			vtb_opt.sample_every = (int)parse_long(v, 1, 1 << 20, a);
		else {
			fprintf(stderr, "%s: unknown option %s (try --help)\n", what, a);
			exit(2);
		}
		i++;
	}
	if (!vtb_opt.single_threaded) {
		pthread_t t;

		if (pthread_create(&t, NULL, noop_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
			vtb_die("could not start the helper thread");
	}
	calibrate_ticks();
	if (!vtb_alloc_selftest())
		vtb_die("allocation counting does not see libc's own allocations: "
			"malloc is not interposed, allocs_op would be wrong");
}

bool vtb_selected(const char *name)
{
	const char *list = vtb_opt.impls != NULL ? vtb_opt.impls : g_default_impls;
	size_t n = strlen(name);
	const char *p = list;

	if (list == NULL || strcmp(list, "all") == 0)
		return true;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		if (len == 3 && strncmp(p, "all", 3) == 0)
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

/* ---- clocks ------------------------------------------------------------- */

uint64_t vtb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vtb_relax(unsigned *spins)
{
	if (++*spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
		_mm_pause();
#endif
	} else {
		sched_yield();
	}
}

/* ---- output ------------------------------------------------------------- */

void vtb_note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void vtb_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("benchmark error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void vtb_header(const char *what)
{
	char model[128] = "unknown";
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "model name", 10) == 0) {
				char *c = strchr(line, ':');

				if (c != NULL) {
					c++;
					while (*c == ' ')
						c++;
					snprintf(model, sizeof(model), "%s", c);
					model[strcspn(model, "\n")] = '\0';
				}
				break;
			}
		}
		fclose(f);
	}
	if (strcmp(vtb_alloc_expected(), vtb_allocator_name()) != 0)
		vtb_die("%s was linked against %s, but malloc is served by %s", what,
			vtb_alloc_expected(), vtb_allocator_name());
	vtb_note("%s alloc=%s cpu=\"%s\" online_cpus=%ld ns_per_tick=%.4f runs=%d warmup=%d run_ms=%.0f "
		 "process=%s",
		 what, vtb_allocator_name(), model, sysconf(_SC_NPROCESSORS_ONLN), vtb_ns_per_tick,
		 vtb_opt.runs, vtb_opt.warmup, vtb_opt.run_ms,
#ifdef VTB_HAVE_SINGLE_THREADED
		 __libc_single_threaded ? "single-threaded" : "multi-threaded"
#else
		 vtb_opt.single_threaded ? "single-threaded" : "multi-threaded"
#endif
	);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least a fraction p of all the
 * samples at or below it (rank ceil(p * n), 1-based). s->n > 0. */
static double percentile_ns(const vtb_samples *s, double p)
{
	double want = p * (double)s->n;
	size_t rank = (size_t)want;

	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1] * vtb_ns_per_tick;
}

void vtb_print(const vtb_result *r)
{
	double sorted[64];
	double med, mn;
	int n = r->runs;

	memcpy(sorted, r->ns_op, sizeof(double) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(double), cmp_double);
	med = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	mn = sorted[0];
	printf("bench=%s impl=%s alloc=%s threads=%d runs=%d ns_op_median=%.3f ns_op_min=%.3f "
	       "ops_s=%.0f allocs_op=%.4f allocs=%llu",
	       r->bench, r->impl, vtb_allocator_name(), r->threads, n, med, mn, 1e9 / med,
	       r->ops ? (double)r->allocs / (double)r->ops : 0.0, (unsigned long long)r->allocs);
	/* Each timed run in order: run k of every case of one executable ran
	 * back to back, so the table can pair them (table.awk, rounds). */
	for (int k = 0; k < n; k++)
		printf("%s%.3f", k == 0 ? " ns_op_runs=" : ",", r->ns_op[k]);
	/* No samples, no percentiles (a 0 would read as a latency, and pass). */
	if (r->has_lat && r->lat.n > 0) {
		vtb_samples *s = (vtb_samples *)&r->lat;

		qsort(s->v, s->n, sizeof(uint32_t), cmp_u32);
		printf(" p50_ns=%.1f p99_ns=%.1f p999_ns=%.1f max_ns=%.1f samples=%zu",
		       percentile_ns(s, 0.50), percentile_ns(s, 0.99), percentile_ns(s, 0.999),
		       (double)s->v[s->n - 1] * vtb_ns_per_tick, s->n);
	} else if (r->has_lat) {
		printf(" samples=0");
	}
	if (r->has_lat2 && r->lat2.n > 0) {
		vtb_samples *s = (vtb_samples *)&r->lat2;

		qsort(s->v, s->n, sizeof(uint32_t), cmp_u32);
		printf(" ret_p50_ns=%.1f ret_p99_ns=%.1f ret_p999_ns=%.1f ret_max_ns=%.1f",
		       percentile_ns(s, 0.50), percentile_ns(s, 0.99), percentile_ns(s, 0.999),
		       (double)s->v[s->n - 1] * vtb_ns_per_tick);
	}
	if (r->extra[0] != '\0')
		printf(" %s", r->extra);
	putchar('\n');
	fflush(stdout);
}

void vtb_result_free(vtb_result *r)
{
	vtb_samples_free(&r->lat);
	vtb_samples_free(&r->lat2);
}

void vtb_samples_init(vtb_samples *s, size_t cap)
{
	cap &= ~(size_t)1; /* even: halving keeps the stride's phase */
	s->v = malloc(cap * sizeof(uint32_t));
	if (s->v == NULL)
		vtb_die("out of memory for %zu latency samples", cap);
	s->cap = cap;
	vtb_samples_clear(s);
}

void vtb_samples_free(vtb_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void vtb_samples_clear(vtb_samples *s)
{
	s->n = 0;
	s->stride = 1;
	s->skip = 0;
}

bool vtb_samples_halve(vtb_samples *s)
{
	size_t i;

	if (s->cap < 2)
		return false;
	/* Kept so far: added samples 0, stride, 2 stride, ... (n of them);
	 * now 0, 2 stride, ..., and next the one being added, n stride. */
	for (i = 0; i < s->n / 2; i++)
		s->v[i] = s->v[2 * i];
	s->n /= 2;
	s->stride *= 2;
	return true;
}

void vtb_samples_append(vtb_samples *dst, const vtb_samples *src, size_t max)
{
	size_t room = dst->cap - dst->n, i;

	if (max > room)
		max = room;
	if (src->n <= max) {
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(uint32_t));
		dst->n += src->n;
		return;
	}
	/* More than we may keep: an evenly spaced subset, so that every part of
	 * the run is represented. */
	for (i = 0; i < max; i++)
		dst->v[dst->n++] = src->v[(size_t)((double)i * (double)src->n / (double)max)];
}

/* ---- single-thread measurements ----------------------------------------- */

/* Grow n until a call takes a tenth of a run, then scale it to a run. */
static uint64_t calibrate_serial(void (*fn)(void *ctx, uint64_t n), void *ctx)
{
	uint64_t n = 1024, t0, el;
	double target = vtb_opt.run_ms * 1e6;

	for (;;) {
		t0 = vtb_now_ns();
		fn(ctx, n);
		el = vtb_now_ns() - t0;
		if (el >= target / 10 || n >= (UINT64_C(1) << 40))
			break;
		n *= 4;
	}
	n = (uint64_t)((double)n * target / (double)(el ? el : 1));
	return n < 1024 ? 1024 : n;
}

void vtb_measure_serial_set(vtb_serial_case *cases, int ncases)
{
	int k, c;

	for (c = 0; c < ncases; c++) {
		vtb_result *r = cases[c].r;

		cases[c].n = calibrate_serial(cases[c].fn, cases[c].ctx);
		r->runs = vtb_opt.runs;
		r->threads = 1;
		r->ops = r->allocs = 0;
	}
	/* Run k of every case, then run k + 1 of every case: the cases see the
	 * same conditions, however the machine's load moves. */
	for (k = -vtb_opt.warmup; k < vtb_opt.runs; k++) {
		for (c = 0; c < ncases; c++) {
			vtb_result *r = cases[c].r;
			uint64_t n = cases[c].n, a0 = vtb_thread_allocs(), t0, el;

			t0 = vtb_now_ns();
			cases[c].fn(cases[c].ctx, n);
			el = vtb_now_ns() - t0;
			if (k >= 0) {
				r->allocs += vtb_thread_allocs() - a0;
				r->ops += n;
				r->ns_op[k] = (double)el / (double)n;
			}
		}
	}
}

void vtb_measure_serial(vtb_result *r, void (*fn)(void *ctx, uint64_t n), void *ctx)
{
	vtb_serial_case c = { r, fn, ctx, 0 };

	vtb_measure_serial_set(&c, 1);
}

/* ---- multi-thread measurements ------------------------------------------ */

/* Alone on its cache line: written twice per run, read by every worker. */
_Alignas(64) int vtb__stop[16];
static pthread_barrier_t g_barrier;

uint64_t vtb_thread_start(vtb_thread *th)
{
	pthread_barrier_wait(&g_barrier);
	th->allocs = vtb_thread_allocs();
	th->t_start = vtb_now_ns();
	return th->t_start;
}

void vtb_thread_finish(vtb_thread *th, uint64_t ops)
{
	th->t_end = vtb_now_ns();
	th->allocs = vtb_thread_allocs() - th->allocs;
	th->ops = ops;
}

struct trampoline {
	vtb_thread *th;
	void (*worker)(vtb_thread *th);
};

static void *thread_main(void *p)
{
	struct trampoline *t = p;

	t->worker(t->th);
	return NULL;
}

/* The threads of one run, reused by every case (one case runs at a time). */
static struct {
	int cap;
	vtb_thread *ths;
	struct trampoline *tr;
	pthread_t *tids;
} team;

static void team_reserve(int nthreads, bool lat, bool lat2)
{
	int i;

	if (nthreads > team.cap) {
		team.ths = realloc(team.ths, (size_t)nthreads * sizeof(*team.ths));
		team.tr = realloc(team.tr, (size_t)nthreads * sizeof(*team.tr));
		team.tids = realloc(team.tids, (size_t)nthreads * sizeof(*team.tids));
		if (team.ths == NULL || team.tr == NULL || team.tids == NULL)
			vtb_die("out of memory");
		memset(team.ths + team.cap, 0, (size_t)(nthreads - team.cap) * sizeof(*team.ths));
		team.cap = nthreads;
	}
	for (i = 0; i < nthreads; i++) {
		if (lat && team.ths[i].lat.v == NULL)
			vtb_samples_init(&team.ths[i].lat, (size_t)1 << 19);
		if (lat2 && team.ths[i].lat2.v == NULL)
			vtb_samples_init(&team.ths[i].lat2, (size_t)1 << 19);
	}
}

/*
 * Append this run's samples of the n threads (lat, or lat2 when second) to
 * dst, within an equal share of dst per timed run. Each thread gives a part
 * in proportion to the operations its samples stand for (n x stride), so
 * that every sample kept stands for as many operations as any other.
 */
static void merge_samples(vtb_samples *dst, int n, bool second)
{
	double budget = (double)(dst->cap / (size_t)vtb_opt.runs), total = 0, w = 1;
	int i;

	for (i = 0; i < n; i++) {
		const vtb_samples *s = second ? &team.ths[i].lat2 : &team.ths[i].lat;

		total += (double)s->n * (double)s->stride;
		if ((double)s->stride > w)
			w = (double)s->stride;
	}
	if (total > w * budget)
		w = total / budget;
	for (i = 0; i < n; i++) {
		const vtb_samples *s = second ? &team.ths[i].lat2 : &team.ths[i].lat;

		vtb_samples_append(dst, s, (size_t)((double)s->n * (double)s->stride / w));
	}
}

/* One run of case c (k < 0: warm-up). Returns -1 when a worker failed. */
static int run_case_once(vtb_thread_case *c, int k)
{
	vtb_result *r = c->r;
	int i, n = c->nthreads, rc = 0;
	struct timespec ts;
	uint64_t t0, tend = 0, ops = 0, allocs = 0;
	double ms = vtb_opt.run_ms;

	__atomic_store_n(&vtb__stop[0], 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&g_barrier, NULL, (unsigned)n + 1);
	for (i = 0; i < n; i++) {
		vtb_thread *th = &team.ths[i];

		th->id = i;
		th->nthreads = n;
		th->arg = c->arg;
		th->ops = th->allocs = th->t_start = th->t_end = 0;
		th->failed = 0;
		vtb_samples_clear(&th->lat);
		vtb_samples_clear(&th->lat2);
		team.tr[i].th = th;
		team.tr[i].worker = c->worker;
		if (pthread_create(&team.tids[i], NULL, thread_main, &team.tr[i]) != 0)
			vtb_die("pthread_create failed");
	}
	pthread_barrier_wait(&g_barrier);
	t0 = vtb_now_ns();
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	__atomic_store_n(&vtb__stop[0], 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++)
		pthread_join(team.tids[i], NULL);
	pthread_barrier_destroy(&g_barrier);
	/* The run starts when the first worker does, not when this thread got
	 * back from the barrier: with more threads than cores it may get a CPU
	 * only milliseconds after the workers, whose operations would then be
	 * counted without their time (up to 8 ms of a 100 ms run at 2 threads,
	 * 33 ms at 8, measured). Every worker passed vtb_thread_start. */
	for (i = 0; i < n; i++)
		if (team.ths[i].t_start < t0)
			t0 = team.ths[i].t_start;
	for (i = 0; i < n; i++) {
		if (team.ths[i].failed)
			rc = -1;
		if (team.ths[i].t_end > tend)
			tend = team.ths[i].t_end;
		ops += team.ths[i].ops;
		allocs += team.ths[i].allocs;
	}
	if (rc != 0)
		return rc;
	/* A run that overran its length 10 times (threads stuck behind a
	 * preempted one): one more timed run at most, so that one pathological
	 * comparator cannot take the suite's time. The row says runs=N. */
	if ((double)(tend - t0) > 10 * ms * 1e6 && k + 1 < r->runs) {
		int keep = k < 0 ? 1 : k + 1;

		vtb_note("%s/%s at %d threads: a run took %.0f ms for %.0f ms asked; %d timed run%s only",
			 r->bench, r->impl, n, (double)(tend - t0) / 1e6, ms, keep, keep == 1 ? "" : "s");
		r->runs = keep;
	}
	if (k >= 0) {
		if (ops == 0)
			ops = 1; /* a run with no progress at all: report the whole run as one op */
		r->ns_op[k] = (double)(tend - t0) / (double)ops;
		r->ops += ops;
		r->allocs += allocs;
		if (r->has_lat)
			merge_samples(&r->lat, n, false);
		if (r->has_lat2)
			merge_samples(&r->lat2, n, true);
	}
	return 0;
}

int vtb_measure_threads_set(vtb_thread_case *cases, int ncases)
{
	int k, c, rc = 0;

	for (c = 0; c < ncases; c++) {
		vtb_result *r = cases[c].r;

		r->runs = vtb_opt.runs;
		r->threads = cases[c].nthreads;
		r->ops = r->allocs = 0;
		r->has_lat = cases[c].want_lat;
		r->has_lat2 = cases[c].want_lat && cases[c].want_lat2;
		if (r->has_lat)
			vtb_samples_init(&r->lat, (size_t)1 << 21);
		if (r->has_lat2)
			vtb_samples_init(&r->lat2, (size_t)1 << 21);
		team_reserve(cases[c].nthreads, r->has_lat, r->has_lat2);
		cases[c].failed = 0;
	}
	/* Interleaved, as in vtb_measure_serial_set. */
	for (k = -vtb_opt.warmup; k < vtb_opt.runs; k++) {
		for (c = 0; c < ncases; c++) {
			if (cases[c].failed || k >= cases[c].r->runs)
				continue;
			if (run_case_once(&cases[c], k) != 0) {
				cases[c].failed = 1;
				rc = -1;
			}
		}
	}
	return rc;
}

int vtb_measure_threads(vtb_result *r, int nthreads, void (*worker)(vtb_thread *th), void *arg,
			bool want_lat, bool want_lat2)
{
	vtb_thread_case c;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.nthreads = nthreads;
	c.worker = worker;
	c.arg = arg;
	c.want_lat = want_lat;
	c.want_lat2 = want_lat2;
	return vtb_measure_threads_set(&c, 1);
}
