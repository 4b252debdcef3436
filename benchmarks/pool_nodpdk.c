/* valuetask benchmarks: built instead of pool_dpdk.c when libdpdk is absent. */
#include <stddef.h>

#include "bench_pool.h"

const vtb_pool_impl *vtb_pool_dpdk(void)
{
	return NULL;
}
