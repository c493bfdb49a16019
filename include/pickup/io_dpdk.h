/* SPDX-License-Identifier: MIT */
/*
 * The `dpdk` packet I/O backend (dataplane/io/dpdk.c): the burst interface
 * of include/pickup/io.h on one DPDK port or more, with the network layers
 * of include/pickup/net.h between the ports and the SIP pipeline. One
 * RX/TX queue pair per worker on every port; each has its own network
 * context (addresses, ARP cache, reassembly table, counters), its own TX
 * buffer drained by size or by a timer, and a ring through which the
 * worker's peers on that port tell it the next-hop MACs they learnt.
 * docs/dpdk.md describes the design, the deployment on real NICs and the
 * measured figures.
 *
 * Several ports: each is a link (io.h) with its own addresses, on-link
 * prefix, gateway, VLAN and MTU. A listener belongs to the port that has
 * its address; what is sent from it leaves by that port (a reply by the
 * port its request came in on). pk_io_route tells the proxy which port
 * reaches a destination: the one whose on-link prefix (around any of its
 * addresses) holds it, the longest prefix first, else the first port
 * with a gateway.
 *
 * UDP only: SIP over TCP stays on the socket backend (a TCP listener is
 * refused at creation with a message saying so). IPv4 listeners on
 * explicit addresses of the port (not 0.0.0.0).
 *
 * Threads: as io.h. Create and destroy on the control thread after
 * rte_eal_init (the port must exist: a PCI device or a --vdev); the burst
 * functions on the queue's own worker (an EAL lcore or any thread: nothing
 * here depends on rte_lcore_id()). Destroy only after every worker
 * stopped: it sends what is still buffered, stops and closes the port and
 * frees every mbuf and the mempool.
 */
#ifndef PICKUP_IO_DPDK_H
#define PICKUP_IO_DPDK_H

#include "pickup/io.h"
#include "pickup/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How traffic is spread over several queues. */
enum pk_io_dpdk_spread {
	/* RSS on IPv4 addresses when the port offers it; net_af_packet is
	 * spread by the kernel's packet fanout (qpairs=N); any other port
	 * without RSS falls back to one queue (pk_io_dpdk_describe says so). */
	PK_IO_DPDK_SPREAD_AUTO,
	/* Trust the device to spread by itself (a net_ring generator that
	 * feeds each queue, tests): several queues without RSS. */
	PK_IO_DPDK_SPREAD_DEVICE,
};

#define PK_IO_DPDK_MAX_PORTS 4

/* One port of several (pk_io_dpdk_config.ports). */
struct pk_io_dpdk_port {
	uint16_t port_id;
	uint16_t mtu;	    /* IP MTU; 0: the port's (1500 when it has none) */
	uint16_t vlan_id;   /* as struct pk_net_conf */
	uint8_t prefix_len; /* on-link prefix of its addresses; 0: 24 */
	uint8_t n_addrs;    /* 1..PK_NET_MAX_ADDRS */
	uint32_t addrs[PK_NET_MAX_ADDRS]; /* its IPv4 addresses, network order */
	uint32_t gateway;		  /* network order; 0: none */
	/* static routes: a prefix reached through a next hop on this port
	 * (in the prefix of one of its addresses) instead of the gateway */
	uint8_t n_routes;
	struct pk_net_route routes[PK_NET_MAX_ROUTES];
};

struct pk_io_dpdk_config {
	/* n_ports 0: one port, port_id, with the mtu, vlan_id, prefix_len
	 * and gateway below and every listener's address. Else ports[]: every
	 * listener's address must be one port's (the fields below but the
	 * port's are unused then). */
	unsigned n_ports;
	struct pk_io_dpdk_port ports[PK_IO_DPDK_MAX_PORTS];
	uint16_t port_id;
	uint16_t rx_desc, tx_desc; /* ring sizes per queue; 0: 1024 */
	uint32_t n_mbufs;	   /* mempool size; 0: pk_io_dpdk_mbufs_needed() */
	uint16_t mbuf_cache;	   /* per-lcore mempool cache; 0: 256 */
	uint16_t data_room;	   /* mbuf data room incl. headroom; 0: RTE_MBUF_DEFAULT_BUF_SIZE */
	uint16_t mtu;		   /* IP MTU; 0: the port's (1500 when it has none) */
	uint16_t vlan_id;	   /* as struct pk_net_conf */
	uint8_t prefix_len;	   /* on-link prefix; 0: 24 */
	uint32_t gateway;	   /* network order; 0: none */
	uint8_t n_routes;	   /* as struct pk_io_dpdk_port's */
	struct pk_net_route routes[PK_NET_MAX_ROUTES];
	uint32_t tx_drain_us;	   /* a partly filled TX buffer leaves after this; 0: 100 */
	enum pk_io_dpdk_spread spread;
	/* The wire finishes the IPv4 and UDP checksums of what the ports send
	 * (they leave with the offload flags, as to a NIC that computes
	 * them), whatever the ports offer. Not a configuration key: for a
	 * program that is the wire itself on a port without offloads (the
	 * benchmark's net_ring, standing for a server NIC). Received frames
	 * are checked in software unless their RX flags say GOOD or BAD. */
	bool wire_cksum;
};

/*
 * Configure and start the ports for cfg: UDP listeners on IPv4 addresses,
 * cfg->n_queues queues (one per worker). When a port cannot spread
 * traffic (no IPv4 RSS, see enum pk_io_dpdk_spread) cfg->n_queues is
 * lowered to 1 and pk_io_dpdk_describe() explains why: the caller starts
 * that many workers. Creates the mempool (one for every port), one
 * network context, TX buffer and ARP-sharing ring per queue and port, and
 * sends a gratuitous ARP for every address of every port. Fills in
 * cfg->listeners[i].link (the port index). NULL with a reason in err (a
 * listener on no port's address, a port given twice, ...). Control thread.
 */
struct pk_io *pk_io_dpdk_create(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
				char *err, size_t errlen);

/* What was set up, for the start-up log: per port, driver, queues and how
 * they are fed, offloads; the mempool. One line per port. Any thread. */
const char *pk_io_dpdk_describe(const struct pk_io *io);

/* The mbufs n_queues queues of dc need: RX and TX rings, TX buffers and
 * the network layer's staging, ARP queues and reassembly tables, plus the
 * per-lcore caches. Any thread. */
uint32_t pk_io_dpdk_mbufs_needed(const struct pk_io_dpdk_config *dc, unsigned n_queues);

/* The network-layer counters (PK_NET_FOREACH_COUNTER) of a queue on port
 * index i (the order of pk_io_dpdk_config.ports) into out; false past the
 * last port. Any thread, while the worker runs too (include/pickup/ctr.h). */
bool pk_io_dpdk_port_net_counters(const struct pk_io_queue *q, unsigned i,
				  uint64_t out[PK_NET_CTR_COUNT]);
/* The same summed over every queue of io: the port's network layer as a
 * whole (the stats' `net`). false past the last port or for another
 * backend's io. Any thread. */
bool pk_io_dpdk_port_net_totals(const struct pk_io *io, unsigned i, uint64_t out[PK_NET_CTR_COUNT]);

/* A port's own counters, as its driver keeps them (rte_eth_stats_get):
 * what reached the port or left it, and what it dropped before any
 * worker saw it (X-macro: id, name, description). */
#define PK_IO_DPDK_FOREACH_PORT_COUNTER(_)                                                           \
	_(IPACKETS, "port_ipackets", "frames the port received (its driver's count)")                \
	_(OPACKETS, "port_opackets", "frames the port sent")                                         \
	_(IMISSED, "port_imissed", "frames the port dropped with its RX queues full (workers behind)") \
	_(IERRORS, "port_ierrors", "frames the port received in error")                              \
	_(OERRORS, "port_oerrors", "frames the port failed to send")                                 \
	_(RX_NOMBUF, "port_rx_nombuf", "frames the port dropped with no mbuf to receive them into")

enum pk_io_dpdk_port_counter {
#define PK_IO_DPDK_PORT_CTR_ENUM(id, name, desc) PK_IO_DPDK_PORT_CTR_##id,
	PK_IO_DPDK_FOREACH_PORT_COUNTER(PK_IO_DPDK_PORT_CTR_ENUM)
#undef PK_IO_DPDK_PORT_CTR_ENUM
	PK_IO_DPDK_PORT_CTR_COUNT
};

const char *pk_io_dpdk_port_counter_name(enum pk_io_dpdk_port_counter c);

/* Port index i's own counters into out; false past the last port, for
 * another backend's io, or when the driver does not answer. Any thread
 * (the control thread's `stats`, the telemetry thread), as DPDK's own
 * /ethdev/stats does: the drivers keep them per queue or read the NIC's
 * registers. */
bool pk_io_dpdk_port_stats(const struct pk_io *io, unsigned i, uint64_t out[PK_IO_DPDK_PORT_CTR_COUNT]);

/* Whether io is this backend's, and its ports: how many (0 for another
 * backend's io), and port index i's ethdev name ("net_af_packet0",
 * "0000:3b:00.0"; NULL past the last). Any thread. */
bool pk_io_is_dpdk(const struct pk_io *io);
unsigned pk_io_dpdk_n_ports(const struct pk_io *io);
const char *pk_io_dpdk_port_name(const struct pk_io *io, unsigned i);

/*
 * The neighbour (ARP) caches of queue q, one per port, as its worker has
 * them: the worker copies them at the start of its next receive burst
 * (a poll-mode worker polls all the time), so nothing is read while it
 * changes. Port i's entries go to out[i] (n[i] of them). 0; -ETIMEDOUT
 * when the worker did not answer within timeout_ms (it is not running);
 * -EINVAL (not a dpdk queue). Control thread, one call at a time (the
 * queue has one mailbox).
 */
int pk_io_dpdk_neighbours(struct pk_io_queue *q, unsigned timeout_ms,
			  struct pk_net_neighbour (*out)[PK_NET_ARP_ENTRIES], unsigned n[PK_IO_DPDK_MAX_PORTS]);
/* The same in two steps, so that every worker is asked before any answer
 * is waited for: ask returns the request's number (0: not a dpdk queue),
 * take waits for that request's answer until deadline_ns (pk_clock_ns)
 * and copies it out (0, -ETIMEDOUT, -EINVAL). Control thread. */
uint32_t pk_io_dpdk_neighbours_ask(struct pk_io_queue *q);
int pk_io_dpdk_neighbours_take(struct pk_io_queue *q, uint32_t req, uint64_t deadline_ns,
			       struct pk_net_neighbour (*out)[PK_NET_ARP_ENTRIES],
			       unsigned n[PK_IO_DPDK_MAX_PORTS]);

/* A port's link, as its driver reports it (rte_eth_link_get_nowait). */
struct pk_io_dpdk_link {
	bool up;
	bool full_duplex;
	bool autoneg;
	uint32_t speed_mbps; /* 0: unknown (a virtual device may say none) */
	uint64_t changes;    /* up/down changes pk_io_dpdk_port_link_watch saw */
};

/* Port i's link now (and the changes the watch counted); false past the
 * last port or when the driver does not answer. Any thread. */
bool pk_io_dpdk_port_link(const struct pk_io *io, unsigned i, struct pk_io_dpdk_link *out);

/*
 * The same, compared with what the previous call saw for port i: 1 when
 * the link went up or down since (or on the first call: the state to
 * announce), 0 when not, -1 past the last port or when the driver does
 * not answer. A change is counted and passed to the workers, each acting
 * at its next receive burst: link down, every queue forgets the port's
 * resolved neighbours (pk_net_arp_forget: a switch or a router's failover
 * may have changed them); link up, the first queue announces the port's
 * addresses (gratuitous ARP, as at start-up), so that switches and peers
 * learn them again. For the control thread's watch, once a second
 * (pickupd logs each change). Control thread.
 */
int pk_io_dpdk_port_link_watch(struct pk_io *io, unsigned i, struct pk_io_dpdk_link *out);

/* Frames of the pool a queue keeps for its next messages (its ctx's
 * pk_net_frames_held, and a frame taken by a tx_alloc not committed):
 * the pool is whole when in use = the sum of these. Its worker, or anyone
 * once it stopped. */
unsigned pk_io_dpdk_frames_held(const struct pk_io_queue *q);

/* The backend's own counters of a queue (X-macro: id, name, description). */
#define PK_IO_DPDK_FOREACH_COUNTER(_)                                                          \
	_(RX_BURSTS, "rx_bursts", "rte_eth_rx_burst calls that returned frames")                \
	_(RX_FRAMES, "rx_frames", "frames received from the port")                             \
	_(TX_FRAMES, "tx_frames", "frames the port took")                                      \
	_(TX_DROPPED, "tx_dropped", "frames the port refused (TX ring full): freed")           \
	_(TX_TIMER_DRAINS, "tx_timer_drains", "TX buffers sent by the drain timer")            \
	_(ARP_SHARED, "arp_shared", "mappings learnt here and posted to the other queues")      \
	_(ARP_FROM_PEERS, "arp_from_peers", "mappings received from the other queues")          \
	_(ARP_SHARE_LOST, "arp_share_lost", "mappings not posted: another queue's ring full")

enum pk_io_dpdk_counter {
#define PK_IO_DPDK_CTR_ENUM(id, name, desc) PK_IO_DPDK_CTR_##id,
	PK_IO_DPDK_FOREACH_COUNTER(PK_IO_DPDK_CTR_ENUM)
#undef PK_IO_DPDK_CTR_ENUM
	PK_IO_DPDK_CTR_COUNT
};

const char *pk_io_dpdk_counter_name(enum pk_io_dpdk_counter c);

/* The backend counters of a queue into out. Any thread, while the worker
 * runs too. */
void pk_io_dpdk_counters(const struct pk_io_queue *q, uint64_t out[PK_IO_DPDK_CTR_COUNT]);

/* ---- start-up helpers for pickupd (control thread) ---- */

/*
 * Start DPDK's EAL with the n options in args (EAL options only, as
 * written after `pickupd --io dpdk --` or in the configuration's eal list;
 * prog is argv[0]). 0, or -EINVAL with rte_eal_init's reason in err. Once
 * per process, before pk_io_dpdk_create. pk_io_dpdk_eal_cleanup undoes it
 * at exit (after pk_io_destroy).
 */
int pk_io_dpdk_eal_init(const char *prog, const char *const *args, unsigned n, char *err,
			size_t errlen);
void pk_io_dpdk_eal_cleanup(void);

/* The port named spec: a number ("0"), an ethdev name ("net_af_packet0",
 * "0000:03:00.0"). 0, or -ENODEV with the ports there are in err. */
int pk_io_dpdk_find_port(const char *spec, uint16_t *port, char *err, size_t errlen);

/* The EAL lcore for worker i: the i-th worker lcore (EAL's order, the main
 * lcore excluded), or -ENOSPC when there are fewer than i + 1. */
int pk_io_dpdk_worker_lcore(unsigned i);

/* Run fn(arg) on worker i's lcore (pk_io_dpdk_worker_lcore(i)): 0, or
 * -ENOSPC (no such lcore) / -EBUSY (it runs something). pk_io_dpdk_join
 * waits until it returned. Control thread (the EAL main lcore). */
int pk_io_dpdk_launch(unsigned i, int (*fn)(void *), void *arg);
void pk_io_dpdk_join(unsigned i);

/* Send what the queue's TX buffer holds now (the drain timer does it by
 * itself; for a worker about to stop, and tests). Worker of the queue. */
void pk_io_dpdk_drain(struct pk_io_queue *q);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_IO_DPDK_H */
