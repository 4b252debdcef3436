/*
 * valuetask benchmarks: DPDK's rte_mempool as a question-4 comparator.
 *
 * rte_mempool with a per-lcore cache of 256 objects (the same size as
 * vt_pool's default thread cache) in front of its default ring_mp_mc ring.
 * The EAL starts once per process, without hugepages, PCI or shared files:
 *   --no-huge --in-memory --no-pci --no-telemetry -l 0 -m 256
 * The EAL pins the calling thread to lcore 0's CPU; we give it back its
 * original CPU set, so the other implementations are not measured on one
 * core. Worker threads are not EAL threads: each calls rte_thread_register()
 * first, which gives it an lcore id and so a mempool cache, and
 * rte_thread_unregister() at the end. If the EAL cannot start here (no
 * permission, no memory), the comparator is skipped with the reason.
 *
 * Built only when meson finds libdpdk; this file gets DPDK's compiler flags
 * (-march=corei7, -include rte_config.h) and no other file does.
 */
#define ALLOW_EXPERIMENTAL_API 1 /* rte_thread_register is experimental in 22.11 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "bench.h"
#include "bench_pool.h"

#define DPDK_CACHE 256

static int eal_state; /* 0 not tried, 1 up, -1 failed */
static char eal_error[200];

static int eal_start(void)
{
	char *argv[] = { "vtbench", "--no-huge", "--no-shconf", "--no-pci", "--no-telemetry",
			 "-l", "0", "-m", "256", "--log-level=error", NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
	cpu_set_t saved;
	int rc;

	if (eal_state != 0)
		return eal_state;
	sched_getaffinity(0, sizeof(saved), &saved);
	rc = rte_eal_init(argc, argv);
	sched_setaffinity(0, sizeof(saved), &saved);
	if (rc < 0) {
		snprintf(eal_error, sizeof(eal_error), "rte_eal_init failed: %s",
			 rte_strerror(rte_errno));
		eal_state = -1;
	} else {
		eal_state = 1;
	}
	return eal_state;
}

static int dpdk_create(void **state, unsigned capacity, int max_threads, char *err, size_t errlen)
{
	static int seq;
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;

	if (max_threads + 2 > RTE_MAX_LCORE) {
		snprintf(err, errlen, "more threads than RTE_MAX_LCORE");
		return -1;
	}
	if (eal_start() < 0) {
		snprintf(err, errlen, "%s", eal_error);
		return -1;
	}
	snprintf(name, sizeof(name), "vtbench%d", seq++);
	/* n = 2^k - 1 is the size the mempool docs advise for a ring. */
	mp = rte_mempool_create(name, capacity - 1, VTB_POOL_OBJECT_SIZE, DPDK_CACHE, 0, NULL, NULL,
				NULL, NULL, SOCKET_ID_ANY, 0);
	if (mp == NULL) {
		snprintf(err, errlen, "rte_mempool_create failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	*state = mp;
	return 0;
}

static void dpdk_destroy(void *state)
{
	struct rte_mempool *mp = state;
	unsigned avail = rte_mempool_avail_count(mp);

	if (avail != mp->size)
		vtb_die("pool/dpdk: %u objects missing", mp->size - avail);
	rte_mempool_free(mp);
}

static inline void *dpdk_rent(struct rte_mempool *mp)
{
	void *o;

	return rte_mempool_get(mp, &o) == 0 ? o : NULL;
}

static inline void dpdk_ret(struct rte_mempool *mp, void *o)
{
	rte_mempool_put(mp, o);
}

#define DPDK_ENTER                                                                    \
	do {                                                                          \
		if (rte_thread_register() != 0) {                                     \
			fprintf(stderr, "rte_thread_register failed: %s\n",           \
				rte_strerror(rte_errno));                             \
			th->failed = 1;                                               \
		}                                                                     \
	} while (0)
#define DPDK_LEAVE rte_thread_unregister()

VTB_POOL_WORKER(dpdk_worker, struct rte_mempool, dpdk_rent, dpdk_ret, DPDK_ENTER, DPDK_LEAVE)

static void dpdk_describe(void *state, char *buf, size_t len)
{
	(void)state;
	snprintf(buf, len, "cache=%d", DPDK_CACHE);
}

static const vtb_pool_impl dpdk_impl = {
	"dpdk", dpdk_create, dpdk_destroy, dpdk_worker, dpdk_describe,
};

const vtb_pool_impl *vtb_pool_dpdk(void)
{
	return &dpdk_impl;
}
