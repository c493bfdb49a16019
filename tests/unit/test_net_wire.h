/* SPDX-License-Identifier: MIT */
/*
 * The wire of the backend tests (test_net_io.c, test_net_io_ports.c,
 * test_net_io_limits.c): a net_ring port's RX ring, which the test fills
 * with hand-built frames (test_net_frames.h), and its TX ring, which it
 * empties to check what pickupd sent, and the EAL and pool they need.
 * Include after cmocka.h.
 */
#ifndef PK_TEST_NET_WIRE_H
#define PK_TEST_NET_WIRE_H

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "pickup/io_dpdk.h"

/* The test's EAL (no hugepages, no PCI, one lcore, file prefix
 * "<stem>-<pid>") and the pool its wire frames come from; NULL (said on
 * stderr) when either fails. (A refused option is not tried: EAL 22.11
 * leaks what it parsed before the error, which LeakSanitizer reports.) */
static inline struct rte_mempool *wire_eal_up(const char *prog, const char *stem)
{
	char prefix[64], err[256];
	snprintf(prefix, sizeof(prefix), "%s-%d", stem, (int)getpid());
	const char *eal[] = {
		"--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix", prefix, "--log-level", "error", "-l", "0",
	};
	struct rte_mempool *pool;

	if (pk_io_dpdk_eal_init(prog, eal, PK_ARRAY_SIZE(eal), err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	pool = rte_pktmbuf_pool_create("pk_test_wire", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		fprintf(stderr, "test setup: %s\n", rte_strerror(rte_errno));
	return pool;
}

/* One direction of a net_ring port (NULL: see rte_errno). */
static inline struct rte_ring *wire_ring(const char *name)
{
	return rte_ring_create(name, 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
}

/* The EAL down and its run directory gone. */
static inline void wire_eal_down(void)
{
	char rundir[PATH_MAX];

	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	pk_io_dpdk_eal_cleanup();
	rmdir(rundir);
}

/* n bytes from the wire into ring r, in an mbuf of pool. */
static inline void wire_put(struct rte_mempool *pool, struct rte_ring *r, const void *bytes, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), bytes, n);
	assert_int_equal(rte_ring_enqueue(r, m), 0);
}

/* The next frame put on ring r, copied into b (one segment); 0 when none. */
static inline size_t wire_take(struct rte_ring *r, uint8_t *b)
{
	struct rte_mbuf *m;

	if (rte_ring_dequeue(r, (void **)&m) != 0)
		return 0;
	size_t n = rte_pktmbuf_pkt_len(m);
	assert_int_equal(m->nb_segs, 1);
	memcpy(b, rte_pktmbuf_mtod(m, void *), n);
	rte_pktmbuf_free(m);
	return n;
}

/* One backend counter of queue q (pk_io_dpdk_counters). */
static inline uint64_t dctr(const struct pk_io_queue *q, enum pk_io_dpdk_counter c)
{
	uint64_t v[PK_IO_DPDK_CTR_COUNT];

	pk_io_dpdk_counters(q, v);
	return v[c];
}

/* One network-layer counter of queue q on port index port. */
static inline uint64_t nctr(const struct pk_io_queue *q, unsigned port, enum pk_net_counter c)
{
	uint64_t v[PK_NET_CTR_COUNT];

	assert_true(pk_io_dpdk_port_net_counters(q, port, v));
	return v[c];
}

/* Bytes allocated from the EAL's heaps, all nodes: what a test compares
 * before and after to see that nothing was left allocated. */
static inline size_t eal_heap_bytes(void)
{
	struct rte_malloc_socket_stats st;
	size_t n = 0;

	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			n += st.heap_allocsz_bytes;
	return n;
}

#endif /* PK_TEST_NET_WIRE_H */
