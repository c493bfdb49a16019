/* SPDX-License-Identifier: MIT */
/*
 * The `dpdk` packet I/O backend (dataplane/io/dpdk.c), first sketch: the
 * burst interface of include/pickup/io.h on one DPDK port, with the network
 * layers of include/pickup/net.h between the port and the SIP pipeline.
 * UDP listeners only, each on an explicit IPv4 address of the port; one
 * queue (one worker) for now: ARP replies land on whichever queue RSS
 * picks, and sharing what one queue learnt with the others is the next
 * step (docs/net.md). Not wired into pickupd yet.
 *
 * Threads: as io.h. Create and destroy on the control thread after
 * rte_eal_init (the port must exist: a PCI device or a --vdev); the burst
 * functions on the queue's worker lcore.
 */
#ifndef PICKUP_IO_DPDK_H
#define PICKUP_IO_DPDK_H

#include "pickup/io.h"
#include "pickup/net.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_io_dpdk_config {
	uint16_t port_id;
	uint16_t rx_desc, tx_desc; /* ring sizes; 0: 1024 */
	uint32_t n_mbufs;	   /* mempool size; 0: 8191 */
	uint16_t vlan_id;	   /* as struct pk_net_conf */
	uint8_t prefix_len;	   /* on-link prefix; 0: 24 */
	uint32_t gateway;	   /* network order; 0: none */
};

/*
 * Configure and start the port for cfg (n_queues must be 1; UDP listeners
 * on IPv4 addresses, not 0.0.0.0), create its mempool and network
 * context, and send a gratuitous ARP for every listener address. NULL
 * with a reason in err. Control thread.
 */
struct pk_io *pk_io_dpdk_create(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
				char *err, size_t errlen);

/* The network-layer counters of a queue (PK_NET_FOREACH_COUNTER). Its
 * worker, or anyone once it stopped. */
const uint64_t *pk_io_dpdk_net_counters(const struct pk_io_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_IO_DPDK_H */
