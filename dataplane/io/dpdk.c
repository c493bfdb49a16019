/* SPDX-License-Identifier: MIT */
/*
 * The `dpdk` packet I/O backend (include/pickup/io_dpdk.h): io.h on one
 * DPDK port or more, one RX/TX queue pair per worker on each, with
 * dataplane/net (Ethernet, ARP, IPv4, UDP) between the ports and the SIP
 * pipeline.
 *
 * Several ports (links, io.h). A worker's queue is one RX/TX queue pair on
 * every port, each with its own network context (the port's addresses,
 * MAC, VLAN, MTU, ARP cache, reassembly), TX buffer and ARP ring: a
 * "dpdk_link". rx_burst polls the links in turn, starting one further
 * each call so that a busy port does not starve the next. A message to
 * send leaves by its listener's link; the proxy picks that listener with
 * pk_io_route (dio_route: the port whose on-link prefix holds the
 * destination, the longest, else the first with a gateway). The frames a message is written in come
 * from the first link's context: every port shares the one mempool, and
 * a message larger than its link's MTU allows is fragmented there.
 *
 * Receive: rte_eth_rx_burst (up to 32), then pk_net_rx per frame. A UDP
 * datagram in one segment is handed to the worker in place (the message
 * points into the mbuf); one reassembled from fragments is copied into the
 * queue's message buffer of the same slot. The mbufs behind the messages
 * are kept until the next rx_burst (io.h: messages live until then).
 *
 * Send: tx_alloc hands the worker the payload room of a frame of its own
 * (pk_net_udp_frame: an mbuf with headroom for the Ethernet, IPv4 and UDP
 * headers), so a message is written where it leaves from; one larger than
 * a frame asks for tx_grow and gets a queue buffer of PK_IO_MSG_MAX
 * instead, which tx_flush copies into frames and fragments. tx_flush puts
 * the headers in front (pk_net_udp_tx_frame / pk_net_udp_tx: checksum,
 * fragments, ARP resolution) and puts
 * them, with the ARP and ICMP replies of the burst, into the queue's
 * rte_eth_tx_buffer, which goes to the port when it holds 32 frames. What
 * is left goes out at once when the last receive burst was not full (no
 * backlog: waiting would add latency and save nothing), else when the
 * drain timer (tx_drain_us, 100 µs) expires — the l2fwd scheme: full TX
 * bursts under load, no frame held long when the load drops.
 *
 * Several queues. Frames are spread by the port (RSS on IPv4 addresses, so
 * that every fragment of a datagram reaches the same queue and its
 * reassembly table) or, on net_af_packet, by the kernel's fanout. Each
 * queue has its own pk_net_ctx: ARP cache, reassembly, counters, nothing
 * shared on the packet path. ARP replies land on whichever queue the
 * spreading picks, so a queue that learns a next hop's MAC posts it on the
 * ARP ring of every other queue, and each queue drains its own ring into
 * pk_net_arp_learn at the top of rx_burst (frames waiting there for that
 * MAC leave then). Why rings and not one shared table: learning is rare
 * (a next hop every 30 s), lookups happen for every datagram sent; private
 * tables keep the lookup free of atomics and of any reclamation scheme,
 * and keep pk_net single-owner. The rings are multi-producer with relaxed
 * tail sync (RING_F_MP_RTS_ENQ): a producer preempted mid-enqueue — the
 * workers may share cores with other threads — does not stall the others.
 *
 * Threads: create/destroy on the control thread, the rest on the queue's
 * worker. No allocation, lock or system call after create.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "pickup/ctr.h"
#include "pickup/io_dpdk.h"

#define DPDK_ARP_RING 64 /* mappings waiting for a queue (power of two) */

/* The config loader's view of DPDK's mbuf (include/pickup/io.h) must be
 * this DPDK's: else --check passes a data_room that start-up refuses. */
static_assert(PK_IO_DPDK_HEADROOM == RTE_PKTMBUF_HEADROOM,
	      "PK_IO_DPDK_HEADROOM (include/pickup/io.h) is not this DPDK's RTE_PKTMBUF_HEADROOM");
static_assert(PK_IO_DPDK_MIN_DATA_ROOM == RTE_PKTMBUF_HEADROOM + RTE_ETHER_HDR_LEN + 4 + 576,
	      "PK_IO_DPDK_MIN_DATA_ROOM is not the data room pk_io_dpdk_create requires");
static_assert(PK_IO_DPDK_DEFAULT_DATA_ROOM == RTE_MBUF_DEFAULT_BUF_SIZE,
	      "PK_IO_DPDK_DEFAULT_DATA_ROOM is not this DPDK's RTE_MBUF_DEFAULT_BUF_SIZE");

struct dpdk_io;

/* A queue's share of one port: its RX/TX queue pair there. */
struct dpdk_link {
	struct pk_net_ctx *net;
	struct rte_eth_dev_tx_buffer *txb;
	struct rte_ring *arp_ring; /* mappings the other queues learnt on this port */
	uint16_t port, qid;	   /* ethdev port and queue */
};

/* One queue: everything its worker touches, in one cache-aligned block
 * (l3fwd's lcore_conf), allocated on the port's NUMA node. */
struct dpdk_queue {
	struct pk_io_queue base;
	struct dpdk_io *io;
	uint16_t qid;
	uint8_t n_links;
	uint8_t rx_next;  /* the link rx_burst polls first */
	unsigned n_held;  /* mbufs behind the messages of the last rx_burst */
	unsigned last_rx; /* frames the last rx_burst's rte_eth_rx_burst calls returned */
	uint32_t frame_room; /* payload room of a frame (pk_net_udp_frame's cap) */
	uint64_t last_drain; /* TSC */
	struct rte_mbuf *held[PK_IO_BURST];
	struct pk_io_msg rx_msgs[PK_IO_BURST];
	uint8_t *rx_bufs; /* PK_IO_BURST x PK_IO_MSG_MAX: reassembled datagrams */
	unsigned tx_n;	  /* committed messages */
	struct pk_io_msg tx_msgs[PK_IO_BURST];
	/* The frame each message is written in (pk_net_udp_frame), NULL for
	 * one in tx_bufs. tx_frames[tx_n] may hold a frame already, taken by
	 * a tx_alloc whose message was not committed. */
	struct rte_mbuf *tx_frames[PK_IO_BURST];
	char *tx_bufs; /* PK_IO_BURST x PK_IO_MSG_MAX */
	/* pk_ctr_inc by the worker, read by any thread */
	_Atomic uint64_t ctr[PK_IO_CTR_COUNT];
	_Atomic uint64_t dctr[PK_IO_DPDK_CTR_COUNT];
	/* Per port: last, so that the per-message fields above keep the
	 * offsets they had with one port */
	struct dpdk_link link[PK_IO_DPDK_MAX_PORTS];
	/* The mailbox, in a line of its own that the worker reads every
	 * burst and writes only to answer. Neighbours (pk_io_dpdk_neighbours):
	 * the control thread asks by raising nb_req; the worker copies its
	 * ARP caches into nb_buf and answers by setting nb_done to the
	 * request it served. */
	alignas(RTE_CACHE_LINE_SIZE) _Atomic uint32_t nb_req;
	_Atomic uint32_t nb_done;
	/* Link events for the worker (link_event): bit p,
	 * forget port p's neighbours; bit 8 + p, announce its addresses.
	 * Set by the control thread, taken (exchanged with 0) by the worker. */
	_Atomic uint32_t link_ev;
	unsigned nb_n[PK_IO_DPDK_MAX_PORTS];
	struct pk_net_neighbour (*nb_buf)[PK_NET_ARP_ENTRIES]; /* [n_links] */
} __rte_cache_aligned;

/* One port, as configured. */
struct dpdk_port {
	uint16_t id;
	bool configured, started;
	uint8_t prefix_len, n_addrs;
	uint32_t mask;			  /* of the on-link prefix, network order */
	uint32_t addrs[PK_NET_MAX_ADDRS]; /* network order */
	uint32_t gateway;		  /* network order; 0: none */
	uint8_t n_routes;
	struct pk_net_route routes[PK_NET_MAX_ROUTES]; /* its static routes */
	char name[RTE_ETH_NAME_MAX_LEN];  /* the ethdev's, for the stats */
	/* pk_io_dpdk_port_link_watch's (the control thread's) */
	bool link_seen, link_up;
	_Atomic uint64_t link_changes;
};

struct dpdk_io {
	struct pk_io base;
	unsigned n_ports;
	int default_port; /* the first port with a gateway, -1: none */
	struct dpdk_port ports[PK_IO_DPDK_MAX_PORTS];
	uint64_t drain_tsc;
	struct rte_mempool *pool;
	struct pk_io_listener listeners[PK_IO_MAX_LISTENERS];
	struct dpdk_queue *q[PK_IO_MAX_QUEUES];
	char describe[512 * PK_IO_DPDK_MAX_PORTS];
};

static const char *const dctr_names[] = { PK_IO_DPDK_FOREACH_COUNTER(PK_CTR_NAME_OF) };
static const char *const pctr_names[] = { PK_IO_DPDK_FOREACH_PORT_COUNTER(PK_CTR_NAME_OF) };

const char *pk_io_dpdk_port_counter_name(enum pk_io_dpdk_port_counter c)
{
	return (unsigned)c < PK_IO_DPDK_PORT_CTR_COUNT ? pctr_names[c] : "?";
}

const char *pk_io_dpdk_counter_name(enum pk_io_dpdk_counter c)
{
	return (unsigned)c < PK_IO_DPDK_CTR_COUNT ? dctr_names[c] : "?";
}

/* rte_eth_tx_buffer's error callback: the port's TX ring was full. */
static void tx_unsent(struct rte_mbuf **pkts, uint16_t unsent, void *arg)
{
	struct dpdk_queue *q = arg;

	pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_TX_DROPPED], unsent);
	rte_pktmbuf_free_bulk(pkts, unsent);
}

/* Free the single-segment mbufs behind the last burst's messages: inline
 * (rte_pktmbuf_free_bulk is a library call walking segment chains), put
 * back with one rte_mempool_put_bulk per run of the same pool. A direct
 * mbuf of one segment with no other reference goes back as it is: its
 * next is NULL already (a last segment's always is), so the mbuf's second
 * cache line, which the receive path no longer touches either, is not
 * read (rte_pktmbuf_prefree_seg would); anything else takes
 * rte_pktmbuf_free. */
static inline void free_held(struct rte_mbuf **ms, unsigned n)
{
	struct rte_mbuf *put[PK_IO_BURST];
	struct rte_mempool *pool = NULL;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		if (unlikely(rte_mbuf_refcnt_read(m) != 1 || !RTE_MBUF_DIRECT(m) || m->nb_segs != 1)) {
			rte_pktmbuf_free(m);
			continue;
		}
		if (unlikely(m->pool != pool)) {
			if (k != 0)
				rte_mempool_put_bulk(pool, (void **)put, k);
			pool = m->pool;
			k = 0;
		}
		put[k++] = m;
	}
	if (k != 0)
		rte_mempool_put_bulk(pool, (void **)put, k);
}

static void drain(struct dpdk_queue *q, uint64_t now)
{
	if (likely(q->n_links == 1)) {
		pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_TX_FRAMES],
			   rte_eth_tx_buffer_flush(q->link[0].port, q->link[0].qid, q->link[0].txb));
		q->last_drain = now;
		return;
	}
	for (unsigned l = 0; l < q->n_links; l++) {
		struct dpdk_link *k = &q->link[l];
		pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_TX_FRAMES], rte_eth_tx_buffer_flush(k->port, k->qid, k->txb));
	}
	q->last_drain = now;
}

/* Whether a TX buffer holds frames. */
static inline bool tx_buffered(const struct dpdk_queue *q)
{
	for (unsigned l = 0; l < q->n_links; l++)
		if (q->link[l].txb->length != 0)
			return true;
	return false;
}

/* Move what pk_net staged (datagrams, fragments, ARP and ICMP replies,
 * frames released by an ARP reply) into the TX buffer; full bursts leave
 * at once. What rte_eth_tx_buffer does frame by frame (append; send when
 * the buffer holds b->size), a run of frames at a time: the same frames
 * in the same order, the same sends (b->length < b->size on entry, a
 * full buffer is always sent). */
static void stage_out_link(struct dpdk_queue *q, struct dpdk_link *l)
{
	struct rte_mbuf **pkts;
	struct rte_eth_dev_tx_buffer *b = l->txb;
	unsigned n = pk_net_tx_pending(l->net, &pkts);

	if (n == 0)
		return; /* (pk_net_tx_done(net, 0) would change nothing) */
	for (unsigned i = 0; i < n;) {
		unsigned k = RTE_MIN(n - i, (unsigned)(b->size - b->length));
		memcpy(b->pkts + b->length, pkts + i, k * sizeof(pkts[0]));
		b->length = (uint16_t)(b->length + k);
		i += k;
		if (b->length == b->size)
			pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_TX_FRAMES], rte_eth_tx_buffer_flush(l->port, l->qid, b));
	}
	pk_net_tx_done(l->net, n);
}

/* Every link's staged frames into its TX buffer. */
static inline void stage_out(struct dpdk_queue *q)
{
	if (likely(q->n_links == 1)) {
		stage_out_link(q, &q->link[0]);
		return;
	}
	for (unsigned l = 0; l < q->n_links; l++)
		stage_out_link(q, &q->link[l]);
}

/* The listener a datagram to ip:port (network order, host order) that
 * came in on link belongs to (pk_net only delivers the link's addresses
 * and its listeners' ports, so one matches unless two listeners share a
 * port on different addresses and the datagram came to the broadcast).
 * From the plain values pk_net_rx gives (struct pk_net_udp). One
 * listener: 0, whatever matches (the loops below give 0 then too),
 * without them. */
static inline uint8_t listener_of(const struct dpdk_io *io, unsigned link, uint32_t ip,
				  uint16_t port)
{
	unsigned any = 0;

	if (likely(io->base.n_listeners == 1))
		return 0;
	for (unsigned i = io->base.n_listeners; i-- > 0;) {
		const struct pk_io_listener *l = &io->listeners[i];
		if (l->link != link || l->addr.port != port)
			continue;
		if (memcmp(l->addr.ip, &ip, 4) == 0)
			return (uint8_t)i;
		any = i; /* the first of the link with the port */
	}
	return (uint8_t)any;
}

/* Write an IPv4 pk_addr (the rest zero) field by field: built in a
 * local and copied, the compiler assembles it on the stack and reloads it
 * whole before its stores have left (a store forwarding stall, ~35 cycles
 * a datagram here). */
static inline void addr_v4(struct pk_addr *a, uint32_t ip, uint16_t port)
{
	a->family = AF_INET;
	a->port = port;
	a->scope = 0;
	memcpy(a->ip, &ip, 4);
	memset(a->ip + 4, 0, sizeof(a->ip) - 4);
}

/* What the other queues learnt on this link's port: into our ARP cache. */
static void arp_from_peers(struct dpdk_queue *q, struct dpdk_link *l, uint64_t now)
{
	struct pk_net_arp_mapping maps[16];
	unsigned n;

	/* Dequeue: the consumer side is ours alone (RING_F_SC_DEQ); pairs
	 * with the producers' enqueue, whose tail store releases the
	 * elements (rte_ring's own acquire/release). */
	while ((n = rte_ring_dequeue_burst_elem(l->arp_ring, maps, sizeof(maps[0]), RTE_DIM(maps),
						NULL)) != 0) {
		for (unsigned i = 0; i < n; i++) {
			if (maps[i].create)
				pk_net_arp_learn(l->net, maps[i].ip, &maps[i].mac, now);
			else
				pk_net_arp_update(l->net, maps[i].ip, &maps[i].mac, now);
		}
		pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_ARP_FROM_PEERS], n);
	}
}

/* What we learnt from the wire on link li: to every other queue's same link. */
static void arp_to_peers(struct dpdk_queue *q, unsigned li)
{
	struct pk_net_arp_mapping maps[PK_NET_LEARNT_MAX];
	struct dpdk_io *io = q->io;
	unsigned n = pk_net_arp_take_learnt(q->link[li].net, maps, RTE_DIM(maps));

	if (n == 0)
		return;
	for (unsigned j = 0; j < io->base.n_queues; j++) {
		if (j == q->qid)
			continue;
		if (rte_ring_enqueue_bulk_elem(io->q[j]->link[li].arp_ring, maps, sizeof(maps[0]), n,
					       NULL) == n)
			pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_ARP_SHARED], n);
		else
			pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_ARP_SHARE_LOST], n);
	}
}

/* Frames whose lines are loaded ahead of the one pk_net_rx reads: it
 * takes ~100 cycles a frame, a line from memory or another core's cache
 * a few hundred (docs/dpdk.md, "the worker on its own core"). */
#define PK_IO_DPDK_RX_AHEAD 3

/* Start the loads of every cache line of m's frame. */
static inline void prefetch_frame(const struct rte_mbuf *m)
{
	const char *p = rte_pktmbuf_mtod(m, const char *);

	for (uint32_t off = 0; off < m->data_len; off += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p + off);
}

/* Receive up to n - got frames from link li into msgs[got..]; returns the
 * new got. */
static inline unsigned rx_link(struct dpdk_queue *q, unsigned li, struct pk_io_msg **msgs,
			       unsigned got, unsigned n, uint64_t now)
{
	struct dpdk_link *l = &q->link[li];
	struct rte_mbuf *pkts[PK_IO_BURST];

	if (unlikely(!rte_ring_empty(l->arp_ring)))
		arp_from_peers(q, l, now);
	pk_net_poll(l->net, now);
	uint16_t nb = rte_eth_rx_burst(l->port, l->qid, pkts, (uint16_t)(n - got));
	q->last_rx += nb;
	if (nb != 0) {
		pk_ctr_inc(&q->dctr[PK_IO_DPDK_CTR_RX_BURSTS]);
		pk_ctr_add(&q->dctr[PK_IO_DPDK_CTR_RX_FRAMES], nb);
	}
	struct pk_net_udp u; /* pk_net_rx fills every output field of a datagram */
	u.buf_cap = PK_IO_MSG_MAX;
	u.buf = q->rx_bufs + (size_t)got * PK_IO_MSG_MAX; /* the buffer of slot got: moves on with got */
	/* The frames come from the NIC (from memory, not from this core's
	 * caches): every mbuf header of the burst, then each frame's lines
	 * PK_IO_DPDK_RX_AHEAD frames before pk_net_rx reads it all (its UDP
	 * checksum). */
	for (unsigned i = 0; i < nb; i++)
		rte_prefetch0(pkts[i]);
	for (unsigned i = 0; i < nb && i < PK_IO_DPDK_RX_AHEAD; i++)
		prefetch_frame(pkts[i]);
	for (unsigned i = 0; i < nb; i++) {
		if (i + PK_IO_DPDK_RX_AHEAD < nb)
			prefetch_frame(pkts[i + PK_IO_DPDK_RX_AHEAD]);
		if (pk_net_rx(l->net, pkts[i], now, &u) != PK_NET_RX_UDP)
			continue;
		/* Every field written once, from values read back at the width
		 * pk_net_rx stored them: the compiler would otherwise merge
		 * neighbouring fields into one wider load, which cannot be
		 * forwarded from the narrower stores still in flight (a stall of
		 * a dozen cycles or more each). Relaxed atomic loads are never
		 * merged or widened; u is ours alone. */
		struct pk_io_msg *m = &q->rx_msgs[got];
		uint32_t sip = __atomic_load_n(&u.src_ip, __ATOMIC_RELAXED);
		uint32_t dip = __atomic_load_n(&u.dst_ip, __ATOMIC_RELAXED);
		uint16_t sport = __atomic_load_n(&u.src_port, __ATOMIC_RELAXED);
		uint16_t dport = __atomic_load_n(&u.dst_port, __ATOMIC_RELAXED);
		uint32_t len = __atomic_load_n(&u.len, __ATOMIC_RELAXED);
		m->data = (char *)(uintptr_t)u.payload; /* our own mbuf or buffer */
		m->len = len;
		m->cap = len;
		m->transport = PK_TRANSPORT_UDP;
		m->listener = listener_of(q->io, li, dip, dport);
		m->flags = 0;
		m->pad_ = 0;
		m->conn = PK_IO_CONN_NONE;
		addr_v4(&m->src, sip, sport);
		addr_v4(&m->dst, dip, dport);
		if (u.mbuf != NULL)
			q->held[q->n_held++] = u.mbuf;
		msgs[got++] = m;
		u.buf += PK_IO_MSG_MAX;
	}
	if (unlikely(q->io->base.n_queues > 1))
		arp_to_peers(q, li);
	return got;
}

/* The neighbours asked for (pk_io_dpdk_neighbours): every link's ARP
 * cache into the mailbox, then the answer. The queue's worker. */
static __rte_noinline void nb_answer(struct dpdk_queue *q, uint32_t req, uint64_t now)
{
	for (unsigned l = 0; l < q->n_links; l++)
		q->nb_n[l] = pk_net_arp_dump(q->link[l].net, now, q->nb_buf[l], PK_NET_ARP_ENTRIES);
	/* Release: the copies above before the answer (the control thread's
	 * acquire load). */
	atomic_store_explicit(&q->nb_done, req, memory_order_release);
}

#define LINK_EV_ANNOUNCE 8 /* link_ev: bit LINK_EV_ANNOUNCE + p */

/* The link events asked for: neighbours forgotten, addresses announced
 * (the frames go out with this burst's). The queue's worker. */
static __rte_noinline void link_events(struct dpdk_queue *q)
{
	/* Relaxed: the bits are the whole request. */
	uint32_t ev = atomic_exchange_explicit(&q->link_ev, 0, memory_order_relaxed);

	for (unsigned l = 0; l < q->n_links; l++) {
		if (ev >> l & 1) {
			struct pk_net_arp_mapping maps[16];

			/* what the other queues learnt before the link went
			 * down goes too */
			while (rte_ring_dequeue_burst_elem(q->link[l].arp_ring, maps, sizeof(maps[0]),
							   RTE_DIM(maps), NULL) != 0)
				;
			pk_net_arp_forget(q->link[l].net);
		}
		if (ev >> (LINK_EV_ANNOUNCE + l) & 1)
			pk_net_garp(q->link[l].net);
	}
}

static unsigned dq_rx_burst(struct pk_io_queue *pq, struct pk_io_msg **msgs, unsigned n,
			    uint64_t now_ns)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	uint64_t now = rte_rdtsc();
	unsigned got = 0;
	/* Acquire: pairs with the ask's release, so that the asker's reads
	 * of the previous answer are done before nb_answer writes over it
	 * (a plain load on x86). A request is served at most a burst later. */
	uint32_t req = atomic_load_explicit(&q->nb_req, memory_order_acquire);

	if (unlikely(req != atomic_load_explicit(&q->nb_done, memory_order_relaxed)))
		nb_answer(q, req, now);
	if (unlikely(atomic_load_explicit(&q->link_ev, memory_order_relaxed) != 0))
		link_events(q);

	(void)now_ns; /* the network timers run on the TSC */
	/* The previous burst's messages die here. */
	if (q->n_held != 0) {
		free_held(q->held, q->n_held);
		q->n_held = 0;
	}
	if (n > PK_IO_BURST)
		n = PK_IO_BURST;
	q->last_rx = 0;
	if (likely(q->n_links == 1)) {
		got = rx_link(q, 0, msgs, 0, n, now);
	} else {
		/* Each port in turn, the first one further each call: a port
		 * that fills the burst does not starve the others. */
		unsigned li = q->rx_next;
		for (unsigned k = 0; k < q->n_links; k++) {
			if (got < n)
				got = rx_link(q, li, msgs, got, n, now);
			else
				pk_net_poll(q->link[li].net, now); /* its timers still run */
			li = li + 1 == q->n_links ? 0 : li + 1;
		}
		q->rx_next = (uint8_t)(q->rx_next + 1 == q->n_links ? 0 : q->rx_next + 1);
	}
	pk_ctr_add(&q->ctr[PK_IO_CTR_UDP_RX], got); /* once a burst, not once a datagram */
	stage_out(q); /* ARP and echo replies, frames an ARP reply released */
	/* Nothing for the worker to answer (it will not call tx_flush), or
	 * the buffer waited long enough: out now. */
	if (got == 0 || now - q->last_drain >= q->io->drain_tsc) {
		if (got != 0 && tx_buffered(q))
			pk_ctr_inc(&q->dctr[PK_IO_DPDK_CTR_TX_TIMER_DRAINS]);
		drain(q, now);
	}
	return got;
}

/* dq_tx_alloc when there is no frame to write in (the pool is empty, or
 * its mbufs have no room in front): the queue's buffer of the message's
 * slot. Out of line: dq_tx_alloc then keeps only q across its calls. */
static __rte_noinline struct pk_io_msg *tx_alloc_buf(struct dpdk_queue *q)
{
	struct pk_io_msg *m = &q->tx_msgs[q->tx_n];
	struct rte_mbuf **f = &q->tx_frames[q->tx_n];

	memset(m, 0, sizeof(*m));
	if (*f != NULL) { /* no room in front (a pool without headroom) */
		rte_pktmbuf_free(*f);
		*f = NULL;
	}
	m->data = q->tx_bufs + (size_t)q->tx_n * PK_IO_MSG_MAX;
	m->cap = PK_IO_MSG_MAX;
	return m;
}

static struct pk_io_msg *dq_tx_alloc(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	char *data;

	if (q->tx_n == PK_IO_BURST)
		pq->ops->tx_flush(pq);
	if (q->tx_frames[q->tx_n] == NULL) /* the same room every time: */
		data = pk_net_udp_frame(q->link[0].net, &q->tx_frames[q->tx_n], &q->frame_room);
	else
		data = rte_pktmbuf_mtod(q->tx_frames[q->tx_n], char *); /* an abandoned message's */
	if (unlikely(data == NULL || q->frame_room == 0))
		return tx_alloc_buf(q);
	/* m from q after the call (q->tx_n read again: the call was given
	 * pointers into q): only q lives across it, one register saved
	 * where m, the slot's frame and the index took four. */
	struct pk_io_msg *m = &q->tx_msgs[q->tx_n];
	*m = (struct pk_io_msg){ .data = data, .cap = q->frame_room }; /* the rest zeroed */
	return m;
}

static struct pk_io_msg *dq_tx_grow(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	struct pk_io_msg *m = &q->tx_msgs[q->tx_n];

	if (q->tx_frames[q->tx_n] == NULL)
		return NULL; /* already PK_IO_MSG_MAX */
	rte_pktmbuf_free(q->tx_frames[q->tx_n]);
	q->tx_frames[q->tx_n] = NULL;
	memset(m, 0, sizeof(*m));
	m->data = q->tx_bufs + (size_t)q->tx_n * PK_IO_MSG_MAX;
	m->cap = PK_IO_MSG_MAX;
	return m;
}

static void dq_tx_commit(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;

	if (q->tx_n < PK_IO_BURST)
		q->tx_n++;
}

static unsigned dq_tx_flush(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	uint64_t now = rte_rdtsc();
	unsigned ok = 0;

	for (unsigned i = 0; i < q->tx_n; i++) {
		const struct pk_io_msg *m = &q->tx_msgs[i];
		struct rte_mbuf *f = q->tx_frames[i];
		int r;

		q->tx_frames[i] = NULL;
		if (unlikely(m->transport != PK_TRANSPORT_UDP)) {
			pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_TX_NO_CONN]);
			rte_pktmbuf_free(f); /* NULL is fine */
			continue;
		}
		const struct pk_addr *src = &m->src;
		struct pk_net_ctx *net = q->link[0].net;
		if (m->listener < q->io->base.n_listeners) {
			const struct pk_io_listener *l = &q->io->listeners[m->listener];
			if (src->family == 0)
				src = &l->addr;
			if (unlikely(q->n_links > 1))
				net = q->link[l->link].net; /* it leaves by its listener's port */
		}
		if (f != NULL) /* written in its frame: the headers in front, sent */
			r = pk_net_udp_tx_frame(net, f, m->len, src, &m->dst, now);
		else
			r = pk_net_udp_tx(net, m->data, m->len, src, &m->dst, now);
		if (r >= 0) {
			pk_ctr_inc(&q->ctr[PK_IO_CTR_UDP_TX]);
			ok++;
		} else {
			pk_ctr_inc(&q->ctr[PK_IO_CTR_UDP_TX_ERROR]);
		}
	}
	q->tx_n = 0;
	stage_out(q);
	/* No backlog behind this burst: waiting for a fuller TX burst would
	 * only add latency. */
	if (q->last_rx < PK_IO_BURST)
		drain(q, now);
	return ok;
}

void pk_io_dpdk_drain(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;

	stage_out(q);
	drain(q, rte_rdtsc());
}

static void dq_wait(struct pk_io_queue *pq, unsigned timeout_ms)
{
	(void)pq;
	(void)timeout_ms; /* poll mode: the worker spins */
}

static void dq_wake(struct pk_io_queue *pq)
{
	(void)pq;
}

static void dq_stats(const struct pk_io_queue *pq, uint64_t out[PK_IO_CTR_COUNT])
{
	pk_ctr_copy(out, ((const struct dpdk_queue *)pq)->ctr, PK_IO_CTR_COUNT);
}

bool pk_io_dpdk_port_net_counters(const struct pk_io_queue *pq, unsigned i,
				  uint64_t out[PK_NET_CTR_COUNT])
{
	const struct dpdk_queue *q = (const struct dpdk_queue *)pq;

	if (i >= q->n_links)
		return false;
	pk_net_counters(q->link[i].net, out);
	return true;
}

unsigned pk_io_dpdk_frames_held(const struct pk_io_queue *pq)
{
	const struct dpdk_queue *q = (const struct dpdk_queue *)pq;
	unsigned n = 0;

	for (unsigned l = 0; l < q->n_links; l++)
		n += pk_net_frames_held(q->link[l].net);

	for (unsigned i = 0; i < PK_IO_BURST; i++)
		n += q->tx_frames[i] != NULL;
	return n;
}

void pk_io_dpdk_counters(const struct pk_io_queue *pq, uint64_t out[PK_IO_DPDK_CTR_COUNT])
{
	pk_ctr_copy(out, ((const struct dpdk_queue *)pq)->dctr, PK_IO_DPDK_CTR_COUNT);
}

static const struct pk_io_ops dpdk_ops;

bool pk_io_is_dpdk(const struct pk_io *pio)
{
	return pio != NULL && pio->ops == &dpdk_ops;
}

unsigned pk_io_dpdk_n_ports(const struct pk_io *pio)
{
	return pk_io_is_dpdk(pio) ? ((const struct dpdk_io *)pio)->n_ports : 0;
}

bool pk_io_dpdk_port_link(const struct pk_io *pio, unsigned i, struct pk_io_dpdk_link *out)
{
	const struct dpdk_port *dp;
	struct rte_eth_link l;

	if (i >= pk_io_dpdk_n_ports(pio))
		return false;
	dp = &((const struct dpdk_io *)pio)->ports[i];
	memset(&l, 0, sizeof(l));
	if (rte_eth_link_get_nowait(dp->id, &l) != 0)
		return false;
	*out = (struct pk_io_dpdk_link){
		.up = l.link_status == RTE_ETH_LINK_UP,
		.full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX,
		.autoneg = l.link_autoneg == RTE_ETH_LINK_AUTONEG,
		.speed_mbps = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed,
		/* Relaxed: a count for the stats. */
		.changes = atomic_load_explicit(&dp->link_changes, memory_order_relaxed),
	};
	return true;
}

/* A change of port i's link to the workers (pk_io_dpdk_port_link_watch):
 * bits of their queues' link_ev, taken at their next burst (link_events). */
static void link_event(struct dpdk_io *io, unsigned i, bool up)
{
	for (unsigned k = 0; k < PK_IO_MAX_QUEUES; k++) {
		if (io->q[k] == NULL)
			continue;
		if (!up)
			atomic_fetch_or_explicit(&io->q[k]->link_ev, 1u << i, memory_order_relaxed);
		else if (k == 0) /* one announcement is enough */
			atomic_fetch_or_explicit(&io->q[k]->link_ev, 1u << (LINK_EV_ANNOUNCE + i),
						 memory_order_relaxed);
	}
}

int pk_io_dpdk_port_link_watch(struct pk_io *pio, unsigned i, struct pk_io_dpdk_link *out)
{
	struct dpdk_port *dp;
	bool first;

	if (!pk_io_dpdk_port_link(pio, i, out))
		return -1;
	dp = &((struct dpdk_io *)pio)->ports[i];
	first = !dp->link_seen;
	if (!first && dp->link_up == out->up)
		return 0;
	if (!first) {
		out->changes = atomic_fetch_add_explicit(&dp->link_changes, 1, memory_order_relaxed) + 1;
		link_event((struct dpdk_io *)pio, i, out->up);
	}
	dp->link_seen = true;
	dp->link_up = out->up;
	return 1;
}

bool pk_io_dpdk_port_stats(const struct pk_io *pio, unsigned i, uint64_t out[PK_IO_DPDK_PORT_CTR_COUNT])
{
	struct rte_eth_stats s;

	if (i >= pk_io_dpdk_n_ports(pio) ||
	    rte_eth_stats_get(((const struct dpdk_io *)pio)->ports[i].id, &s) != 0)
		return false;
	out[PK_IO_DPDK_PORT_CTR_IPACKETS] = s.ipackets;
	out[PK_IO_DPDK_PORT_CTR_OPACKETS] = s.opackets;
	out[PK_IO_DPDK_PORT_CTR_IMISSED] = s.imissed;
	out[PK_IO_DPDK_PORT_CTR_IERRORS] = s.ierrors;
	out[PK_IO_DPDK_PORT_CTR_OERRORS] = s.oerrors;
	out[PK_IO_DPDK_PORT_CTR_RX_NOMBUF] = s.rx_nombuf;
	return true;
}

bool pk_io_dpdk_port_net_totals(const struct pk_io *pio, unsigned i, uint64_t out[PK_NET_CTR_COUNT])
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;
	uint64_t one[PK_NET_CTR_COUNT];

	if (i >= pk_io_dpdk_n_ports(pio))
		return false;
	memset(out, 0, sizeof(one));
	for (unsigned j = 0; j < io->base.n_queues; j++) {
		pk_net_counters(io->q[j]->link[i].net, one);
		for (unsigned c = 0; c < PK_NET_CTR_COUNT; c++)
			out[c] += one[c];
	}
	return true;
}

const char *pk_io_dpdk_port_name(const struct pk_io *pio, unsigned i)
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;

	return i < pk_io_dpdk_n_ports(pio) ? io->ports[i].name : NULL;
}

const char *pk_io_dpdk_describe(const struct pk_io *pio)
{
	return ((const struct dpdk_io *)pio)->describe;
}

static struct pk_io_queue *dio_queue(struct pk_io *pio, unsigned qid)
{
	struct dpdk_io *io = (struct dpdk_io *)pio;
	return qid < io->base.n_queues ? &io->q[qid]->base : NULL;
}

static const struct pk_io_listener *dio_listener(const struct pk_io *pio, unsigned i)
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;
	return i < io->base.n_listeners ? &io->listeners[i] : NULL;
}

static void queue_free(struct dpdk_queue *q)
{
	if (q == NULL)
		return;
	if (q->n_held != 0)
		rte_pktmbuf_free_bulk(q->held, q->n_held);
	for (unsigned i = 0; i < PK_IO_BURST; i++)
		rte_pktmbuf_free(q->tx_frames[i]); /* taken by tx_alloc, not sent */
	for (unsigned l = 0; l < PK_IO_DPDK_MAX_PORTS; l++) {
		struct dpdk_link *k = &q->link[l];
		if (k->txb != NULL && k->txb->length != 0) /* the port refused them */
			rte_pktmbuf_free_bulk(k->txb->pkts, k->txb->length);
		pk_net_ctx_destroy(k->net);
		rte_ring_free(k->arp_ring);
		rte_free(k->txb);
	}
	rte_free(q->rx_bufs);
	rte_free(q->tx_bufs);
	rte_free(q->nb_buf);
	rte_free(q);
}

uint32_t pk_io_dpdk_neighbours_ask(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	uint32_t req;

	if (pq == NULL || pq->ops != &dpdk_ops)
		return 0;
	/* Release: the worker answers by writing over the buffers the
	 * previous answer was read from; our reads of them (the same thread's,
	 * before this ask) must be done first (pairs with the acquire load in
	 * dq_rx_burst). Never 0: 0 is "not asked". */
	do
		req = atomic_fetch_add_explicit(&q->nb_req, 1, memory_order_release) + 1;
	while (req == 0);
	return req;
}

int pk_io_dpdk_neighbours(struct pk_io_queue *pq, unsigned timeout_ms,
			  struct pk_net_neighbour (*out)[PK_NET_ARP_ENTRIES], unsigned n[PK_IO_DPDK_MAX_PORTS])
{
	uint32_t req = pk_io_dpdk_neighbours_ask(pq);

	if (req == 0)
		return -EINVAL;
	return pk_io_dpdk_neighbours_take(pq, req, pk_clock_ns() + (uint64_t)timeout_ms * 1000000u, out, n);
}

int pk_io_dpdk_neighbours_take(struct pk_io_queue *pq, uint32_t req, uint64_t deadline_ns,
			       struct pk_net_neighbour (*out)[PK_NET_ARP_ENTRIES], unsigned n[PK_IO_DPDK_MAX_PORTS])
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	struct timespec nap = { 0, 20000 }; /* 20 µs between looks */

	if (pq == NULL || pq->ops != &dpdk_ops || req == 0)
		return -EINVAL;
	/* Acquire: pairs with nb_answer's release store, so the copies it
	 * made are seen. A later request's answer is not this one's: the
	 * worker serves the newest, and this caller asks one at a time. */
	while (atomic_load_explicit(&q->nb_done, memory_order_acquire) != req) {
		if (pk_clock_ns() >= deadline_ns)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	for (unsigned l = 0; l < PK_IO_DPDK_MAX_PORTS; l++) {
		n[l] = l < q->n_links ? q->nb_n[l] : 0;
		if (n[l] != 0)
			memcpy(out[l], q->nb_buf[l], sizeof(out[l][0]) * n[l]);
	}
	return 0;
}

static void dio_destroy(struct pk_io *pio)
{
	struct dpdk_io *io = (struct dpdk_io *)pio;

	bool running = io->n_ports != 0;

	for (unsigned p = 0; p < io->n_ports; p++)
		running = running && io->ports[p].started;
	/* What the workers left buffered still goes out (a final answer
	 * committed just before the stop), while the ports run. */
	for (unsigned i = 0; i < PK_IO_MAX_QUEUES; i++) {
		struct dpdk_queue *q = io->q[i];
		if (q != NULL && running && q->n_links == io->n_ports) {
			stage_out(q);
			drain(q, 0);
		}
	}
	/* The ports' rings hold mbufs of our pool: stop and close them before
	 * the pool goes (pickupd owns its ports for its whole life). */
	for (unsigned p = 0; p < io->n_ports; p++) {
		if (io->ports[p].started)
			rte_eth_dev_stop(io->ports[p].id);
		if (io->ports[p].configured)
			rte_eth_dev_close(io->ports[p].id);
	}
	for (unsigned i = 0; i < PK_IO_MAX_QUEUES; i++)
		queue_free(io->q[i]); /* with what the ports refused */
	rte_mempool_free(io->pool);
	rte_free(io);
}

/* The worker of queue qid runs on the qid-th worker lcore
 * (pk_io_dpdk_launch): its state goes on that lcore's NUMA node, which a
 * deployment makes the port's (docs/dpdk.md, "Deployment on real NICs"),
 * not on the node of the control thread that creates it. */
static void *dio_local_alloc(struct pk_io *pio, unsigned qid, size_t size)
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;
	int lc = pk_io_dpdk_worker_lcore(qid);
	int socket = lc >= 0 ? (int)rte_lcore_to_socket_id((unsigned)lc)
			     : rte_eth_dev_socket_id(io->ports[0].id);
	void *p;

	if (socket < 0)
		socket = SOCKET_ID_ANY;
	p = rte_zmalloc_socket("pk_worker", size, RTE_CACHE_LINE_SIZE, socket);
	/* that node's memory is short: anywhere in the EAL's rather than
	 * the process allocator's (the control thread's node) */
	if (p == NULL && socket != SOCKET_ID_ANY)
		p = rte_zmalloc("pk_worker", size, RTE_CACHE_LINE_SIZE);
	return p;
}

static void dio_local_free(struct pk_io *io, void *p)
{
	(void)io;
	rte_free(p);
}

static int dio_route(const struct pk_io *pio, const struct pk_addr *dst);

static const struct pk_io_ops dpdk_ops = {
	.name = "dpdk",
	.queue = dio_queue,
	.listener = dio_listener,
	.destroy = dio_destroy,
	.rx_burst = dq_rx_burst,
	.tx_alloc = dq_tx_alloc,
	.tx_grow = dq_tx_grow,
	.tx_commit = dq_tx_commit,
	.tx_flush = dq_tx_flush,
	.wait = dq_wait,
	.wake = dq_wake,
	.stats = dq_stats,
	.local_alloc = dio_local_alloc,
	.local_free = dio_local_free,
	.route = dio_route,
};

/* A port's on-link prefix length: as configured, 24 when 0. */
static inline uint8_t port_prefix_len(uint8_t configured)
{
	return configured ? configured : 24;
}

/* The ports as the caller gave them: dc->ports, or the one port of the
 * single-port fields with every listener's address. Checks each listener
 * (UDP, an explicit IPv4 address and port, on one port) and fills in its
 * link; each port's network configuration (addresses, its listeners'
 * ports). */
static int ports_from(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
		      struct pk_io_dpdk_port *ports, unsigned *n_ports, struct pk_net_conf *nc,
		      char *err, size_t errlen)
{
	unsigned np = dc->n_ports;

	if (np > PK_IO_DPDK_MAX_PORTS) {
		snprintf(err, errlen, "dpdk: %u ports, at most %d", np, PK_IO_DPDK_MAX_PORTS);
		return -EINVAL;
	}
	if (np != 0) {
		memcpy(ports, dc->ports, sizeof(ports[0]) * np);
	} else {
		np = 1;
		memset(ports, 0, sizeof(ports[0]));
		ports[0].port_id = dc->port_id;
		ports[0].mtu = dc->mtu;
		ports[0].vlan_id = dc->vlan_id;
		ports[0].prefix_len = dc->prefix_len;
		ports[0].gateway = dc->gateway;
		ports[0].n_routes = dc->n_routes;
		memcpy(ports[0].routes, dc->routes, sizeof(dc->routes));
	}
	for (unsigned p = 0; p < np; p++) {
		for (unsigned k = 0; k < p; k++)
			if (ports[k].port_id == ports[p].port_id) {
				snprintf(err, errlen, "dpdk: port %u given twice", ports[p].port_id);
				return -EINVAL;
			}
		if (dc->n_ports == 0)
			continue;
		if (ports[p].n_addrs == 0 || ports[p].n_addrs > PK_NET_MAX_ADDRS) {
			snprintf(err, errlen, "dpdk: port %u needs 1..%d addresses", ports[p].port_id,
				 PK_NET_MAX_ADDRS);
			return -EINVAL;
		}
		/* every address once, on one port (earlier ports', then this one's
		 * earlier addresses) */
		for (unsigned a = 0; a < ports[p].n_addrs; a++) {
			uint32_t ip = ports[p].addrs[a];
			bool twice = false;
			for (unsigned k = 0; k <= p && !twice; k++)
				for (unsigned b = 0; b < (k < p ? ports[k].n_addrs : a); b++)
					twice = twice || ports[k].addrs[b] == ip;
			if (ip == 0 || twice) {
				const uint8_t *o = (const uint8_t *)&ip;
				snprintf(err, errlen, "dpdk: address %u.%u.%u.%u of port %u: %s", o[0],
					 o[1], o[2], o[3], ports[p].port_id,
					 ip == 0 ? "not an address" : "given twice");
				return -EINVAL;
			}
		}
	}
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		struct pk_io_listener *l = &cfg->listeners[i];
		char a[PK_ADDR_STRLEN];
		uint32_t ip;
		unsigned p = 0, k;

		pk_addr_format(&l->addr, true, a, sizeof(a));
		if (l->transport != PK_TRANSPORT_UDP) {
			snprintf(err, errlen,
				 "dpdk: listener %s is not UDP: the dpdk backend serves SIP over UDP "
				 "only; SIP over TCP needs the socket backend (io.backend: socket)",
				 a);
			return -EPROTONOSUPPORT;
		}
		if (l->addr.family != AF_INET || pk_addr_is_any(&l->addr) || l->addr.port == 0) {
			snprintf(err, errlen,
				 "dpdk: listener %s must be UDP on an IPv4 address of a port and an "
				 "explicit port (not 0.0.0.0, not port 0)",
				 a);
			return -EINVAL;
		}
		memcpy(&ip, l->addr.ip, 4);
		if (dc->n_ports == 0) { /* the one port takes every listener's address */
			for (k = 0; k < ports[0].n_addrs && ports[0].addrs[k] != ip; k++)
				;
			if (k == ports[0].n_addrs) {
				if (k == PK_NET_MAX_ADDRS)
					goto too_many;
				ports[0].addrs[ports[0].n_addrs++] = ip;
			}
		} else {
			for (p = 0; p < np; p++) {
				for (k = 0; k < ports[p].n_addrs && ports[p].addrs[k] != ip; k++)
					;
				if (k < ports[p].n_addrs)
					break;
			}
			if (p == np) {
				snprintf(err, errlen,
					 "dpdk: listener %s is on no port: its address is none of the "
					 "ports' addresses",
					 a);
				return -EINVAL;
			}
		}
		l->link = (uint8_t)p;
		l->onlink_mask = pk_ipv4_mask(port_prefix_len(ports[p].prefix_len));
		for (k = 0; k < nc[p].n_ports && nc[p].ports[k] != l->addr.port; k++)
			;
		if (k == nc[p].n_ports) {
			if (k == PK_NET_MAX_PORTS)
				goto too_many;
			nc[p].ports[nc[p].n_ports++] = l->addr.port;
		}
	}
	for (unsigned p = 0; p < np; p++) {
		if (ports[p].n_routes > PK_NET_MAX_ROUTES) {
			snprintf(err, errlen, "dpdk: port %u: more than %d routes", ports[p].port_id,
				 PK_NET_MAX_ROUTES);
			return -EINVAL;
		}
		/* a route's next hop is reached by ARP: on-link, as the gateway */
		uint32_t mask = pk_ipv4_mask(port_prefix_len(ports[p].prefix_len));
		for (unsigned r = 0; r < ports[p].n_routes; r++) {
			uint32_t via = ports[p].routes[r].via;
			unsigned k;

			for (k = 0; k < ports[p].n_addrs && ((via ^ ports[p].addrs[k]) & mask) != 0; k++)
				;
			if (k == ports[p].n_addrs) {
				const uint8_t *v = (const uint8_t *)&via;
				snprintf(err, errlen,
					 "dpdk: the next hop %u.%u.%u.%u of a route of port %u is in the "
					 "prefix of none of its addresses",
					 v[0], v[1], v[2], v[3], ports[p].port_id);
				return -EINVAL;
			}
		}
		if (nc[p].n_ports == 0) { /* 0 would deliver every UDP port */
			snprintf(err, errlen, "dpdk: port %u has no listener (listen on one of its addresses)",
				 ports[p].port_id);
			return -EINVAL;
		}
		nc[p].n_addrs = ports[p].n_addrs;
		memcpy(nc[p].addrs, ports[p].addrs, sizeof(ports[p].addrs));
		nc[p].vlan_id = ports[p].vlan_id;
		nc[p].prefix_len = ports[p].prefix_len;
		nc[p].gateway = ports[p].gateway;
		nc[p].n_routes = ports[p].n_routes;
		memcpy(nc[p].routes, ports[p].routes, sizeof(ports[p].routes));
		nc[p].tsc_hz = rte_get_tsc_hz();
	}
	*n_ports = np;
	return 0;
too_many:
	snprintf(err, errlen, "dpdk: more than %d addresses or %d UDP ports on a port",
		 PK_NET_MAX_ADDRS, PK_NET_MAX_PORTS);
	return -EINVAL;
}

static uint16_t or_default(uint16_t v, uint16_t def)
{
	return v ? v : def;
}

uint32_t pk_io_dpdk_mbufs_needed(const struct pk_io_dpdk_config *dc, unsigned n_queues)
{
	uint32_t per_q = (uint32_t)or_default(dc->rx_desc, 1024) + or_default(dc->tx_desc, 1024) +
			 PK_IO_BURST   /* held behind the worker's messages */
			 + PK_IO_BURST /* TX buffer */
			 + PK_IO_BURST /* frames the worker writes its messages in */
			 + PK_NET_STASH /* and those pk_net keeps ready for them */
			 + PK_NET_TX_MAX /* pk_net staging */
			 + 64 * 8	 /* reassembly: 64 datagrams of up to 8 fragments */
			 + 256		 /* ARP queues (16 per next hop, rarely more than a few) */
			 + or_default(dc->mbuf_cache, 256) * 3 / 2; /* the lcore's cache, may overshoot */
	/* every port has all of that but the lcore's cache, which they share */
	uint32_t per_port = per_q - or_default(dc->mbuf_cache, 256) * 3 / 2;
	unsigned np = dc->n_ports ? dc->n_ports : 1;
	uint32_t n = (per_q + per_port * (np - 1)) * (n_queues ? n_queues : 1);
	/* rte_mempool is most memory-efficient at 2^k - 1 */
	uint32_t p = 1;
	while (p - 1 < n)
		p <<= 1;
	return p - 1;
}

/* RSS on what keeps a datagram's fragments together: the IPv4 addresses
 * (fragments carry no ports, so ports may join only for unfragmented
 * UDP, which the NIC classifies apart). */
#define DPDK_RSS_WANTED (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP)

/*
 * Whether a port's driver reaches mbufs only through the CPU (a virtual
 * device: a kernel socket, a ring, a file), never by DMA to physical
 * addresses. Drivers not named here are taken for hardware.
 */
static bool driver_is_software(const char *driver)
{
	static const char *const sw[] = { "net_af_packet", "net_af_xdp", "net_ring", "net_pcap", "net_null",
					  "net_tap", "net_memif", "net_vhost", "net_virtio_user" };

	for (size_t i = 0; driver != NULL && i < sizeof(sw) / sizeof(sw[0]); i++)
		if (strcmp(driver, sw[i]) == 0)
			return true;
	return false;
}

/*
 * The mbuf pool, packed or not. rte_pktmbuf_pool_create keeps each
 * object inside one page, for devices that DMA to physical addresses:
 * on 4 KiB pages (--no-huge) one mbuf of ~2.3 KiB a page, on 2 MiB pages
 * ~1.4 KiB left at the end of each. net_af_xdp registers the pool as its
 * umem by object count times object size from the first object, so the
 * umem then ends before the pool does, and the kernel drops every frame
 * sent from an mbuf past it (on --no-huge ~40 % of the pool, on 2 MiB
 * pages the last few: docs/dpdk.md, "On net_af_xdp"). packed
 * (RTE_MEMPOOL_F_NO_IOVA_CONTIG): one object after the other, for an EAL
 * without hugepages (no device reaches its memory by physical address)
 * and for ports that all are software devices. NULL with rte_errno.
 */
static struct rte_mempool *pool_create(const char *name, unsigned n, unsigned cache, uint16_t room, int socket,
				       bool packed)
{
	struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = room };
	struct rte_mempool *mp;
	int r;

	if (!packed)
		return rte_pktmbuf_pool_create(name, n, cache, 0, room, socket);
	mp = rte_mempool_create_empty(name, n, (unsigned)sizeof(struct rte_mbuf) + room, cache, sizeof(priv),
				      socket, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL)
		return NULL;
	r = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (r == 0) {
		rte_pktmbuf_pool_init(mp, &priv);
		r = rte_mempool_populate_default(mp);
		r = r < 0 ? r : 0;
	}
	if (r != 0) {
		rte_mempool_free(mp);
		rte_errno = -r;
		return NULL;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}

/* pk_io_route: the port with the longest prefix that holds dst, of its
 * on-link prefixes (the prefix of any of its addresses, as pk_net sends
 * on-link) and its static routes; on a tie the first port, and on one
 * port on-link before a route; else the first port with a gateway. */
static int dio_route(const struct pk_io *pio, const struct pk_addr *dst)
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;
	int best = -1, best_len = -1;
	uint32_t ip;

	if (dst->family != AF_INET)
		return -1;
	memcpy(&ip, dst->ip, 4);
	for (unsigned p = 0; p < io->n_ports; p++) {
		const struct dpdk_port *dp = &io->ports[p];

		for (unsigned a = 0; dp->prefix_len > best_len && a < dp->n_addrs; a++)
			if (((ip ^ dp->addrs[a]) & dp->mask) == 0) {
				best = (int)p;
				best_len = dp->prefix_len;
			}
		for (unsigned r = 0; r < dp->n_routes; r++)
			if (dp->routes[r].prefix_len > best_len &&
			    ((ip ^ dp->routes[r].net) & pk_ipv4_mask(dp->routes[r].prefix_len)) == 0) {
				best = (int)p;
				best_len = dp->routes[r].prefix_len;
			}
	}
	return best >= 0 ? best : io->default_port;
}

/* What one port offers and how it spreads frames over nq queues. */
struct port_setup {
	struct rte_eth_dev_info info;
	struct rte_eth_conf pconf;
	const char *how;
	bool af_packet;
	int socket;
	uint16_t nrx, ntx;
};

/* How port p spreads frames over *nq queues; lowers *nq to 1 when it
 * cannot. 0, or -EINVAL with the reason in err. */
static int port_probe(const struct pk_io_dpdk_config *dc, uint16_t port, unsigned *nq,
		      struct port_setup *ps, char *err, size_t errlen)
{
	int r = rte_eth_dev_info_get(port, &ps->info);

	if (r != 0) {
		snprintf(err, errlen, "dpdk: port %u info: %s", port, strerror(-r));
		return -EINVAL;
	}
	ps->socket = rte_eth_dev_socket_id(port);
	if (ps->socket < 0)
		ps->socket = SOCKET_ID_ANY;
	memset(&ps->pconf, 0, sizeof(ps->pconf));
	uint64_t rss = ps->info.flow_type_rss_offloads & DPDK_RSS_WANTED;
	ps->af_packet = ps->info.driver_name != NULL && strstr(ps->info.driver_name, "af_packet") != NULL;
	if (*nq == 1) {
		ps->how = "one queue";
	} else if (dc->spread == PK_IO_DPDK_SPREAD_DEVICE) {
		ps->how = "spread by the device";
	} else if (rss != 0 && ps->info.max_rx_queues >= *nq) {
		ps->pconf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		ps->pconf.rx_adv_conf.rss_conf.rss_hf = rss;
		ps->how = "RSS on IPv4 addresses";
	} else if (ps->af_packet) {
		ps->how = "spread by the kernel's packet fanout";
	} else {
		*nq = 1;
		ps->how = "ONE queue: the port offers no IPv4 RSS, so the other workers would get "
			  "nothing";
	}
	/* Checksums by the port where it can: pk_net reads the RX flags and
	 * falls back to software. */
	ps->pconf.rxmode.offloads = ps->info.rx_offload_capa &
				    (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	ps->pconf.txmode.offloads = ps->info.tx_offload_capa &
				    (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	return 0;
}

/* Configure port p (its queues fed from the pool), its MTU and MAC into nc. */
static int port_configure(struct dpdk_io *io, const struct pk_io_dpdk_config *dc,
			  const struct pk_io_dpdk_port *pc, struct dpdk_port *dp,
			  struct port_setup *ps, struct pk_net_conf *nc, unsigned nq, char *err,
			  size_t errlen)
{
	uint16_t port = pc->port_id;
	int r;

	if (nq > ps->info.max_rx_queues || nq > ps->info.max_tx_queues) {
		snprintf(err, errlen,
			 "dpdk: port %u (%s) has %u RX / %u TX queues, %u workers need one each%s",
			 port, ps->info.driver_name, ps->info.max_rx_queues, ps->info.max_tx_queues,
			 nq, ps->af_packet ? " (net_af_packet: give qpairs=N in --vdev)" : "");
		return -EINVAL;
	}
	nc->tx_ip_cksum_offload =
		dc->wire_cksum || (ps->pconf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	nc->tx_udp_cksum_offload =
		dc->wire_cksum || (ps->pconf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
	nc->socket_id = ps->socket;
	ps->nrx = or_default(dc->rx_desc, 1024);
	ps->ntx = or_default(dc->tx_desc, 1024);
	r = rte_eth_dev_configure(port, (uint16_t)nq, (uint16_t)nq, &ps->pconf);
	dp->configured = r == 0;
	if (r != 0 || (r = rte_eth_dev_adjust_nb_rx_tx_desc(port, &ps->nrx, &ps->ntx)) != 0) {
		snprintf(err, errlen, "dpdk: port %u configure (%u queues): %s", port, nq,
			 strerror(-r));
		return -EINVAL;
	}
	for (unsigned i = 0; i < nq; i++) {
		if ((r = rte_eth_rx_queue_setup(port, (uint16_t)i, ps->nrx, (unsigned)ps->socket, NULL,
						io->pool)) != 0 ||
		    (r = rte_eth_tx_queue_setup(port, (uint16_t)i, ps->ntx, (unsigned)ps->socket,
						NULL)) != 0) {
			snprintf(err, errlen, "dpdk: port %u queue %u setup: %s", port, i,
				 strerror(-r));
			return -EINVAL;
		}
	}
	uint16_t mtu = 1500;
	if (pc->mtu != 0)
		nc->mtu = pc->mtu;
	else if (rte_eth_dev_get_mtu(port, &mtu) == 0 && mtu >= 576 && mtu <= 9000)
		nc->mtu = mtu;
	if ((r = rte_eth_macaddr_get(port, &nc->mac)) != 0) {
		snprintf(err, errlen, "dpdk: port %u MAC: %s", port, strerror(-r));
		return -EINVAL;
	}
	dp->prefix_len = port_prefix_len(pc->prefix_len);
	dp->mask = pk_ipv4_mask(dp->prefix_len);
	dp->n_addrs = pc->n_addrs;
	memcpy(dp->addrs, pc->addrs, sizeof(dp->addrs));
	dp->gateway = pc->gateway;
	dp->n_routes = pc->n_routes;
	memcpy(dp->routes, pc->routes, sizeof(dp->routes));
	return 0;
}

/* Queue qid's share of port p: TX buffer, ARP ring, network context. */
static int link_create(struct dpdk_io *io, struct dpdk_queue *q, unsigned p,
		       const struct port_setup *ps, struct pk_net_conf *nc, char *err, size_t errlen)
{
	struct dpdk_link *l = &q->link[p];
	char name[RTE_RING_NAMESIZE];

	l->port = io->ports[p].id;
	l->qid = q->qid;
	l->txb = rte_zmalloc_socket("pk_io_dpdk_txb", RTE_ETH_TX_BUFFER_SIZE(PK_IO_BURST), 0,
				    ps->socket);
	if (l->txb == NULL) {
		snprintf(err, errlen, "dpdk: out of memory");
		return -ENOMEM;
	}
	rte_eth_tx_buffer_init(l->txb, PK_IO_BURST);
	rte_eth_tx_buffer_set_err_callback(l->txb, tx_unsent, q);
	snprintf(name, sizeof(name), "pk_arp_%u_%u", l->port, q->qid);
	l->arp_ring = rte_ring_create_elem(name, sizeof(struct pk_net_arp_mapping), DPDK_ARP_RING,
					   ps->socket, RING_F_MP_RTS_ENQ | RING_F_SC_DEQ);
	if (l->arp_ring == NULL) {
		snprintf(err, errlen, "dpdk: ring %s: %s", name, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	nc->ip_id_offset = q->qid;
	l->net = pk_net_ctx_create(nc, io->pool, err, errlen);
	return l->net != NULL ? 0 : -EINVAL;
}

struct pk_io *pk_io_dpdk_create(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
				char *err, size_t errlen)
{
	struct pk_io_dpdk_port pcs[PK_IO_DPDK_MAX_PORTS];
	struct pk_net_conf nc[PK_IO_DPDK_MAX_PORTS];
	struct port_setup ps[PK_IO_DPDK_MAX_PORTS];
	struct dpdk_io *io = NULL;
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned np = 0, nq = cfg->n_queues, asked = cfg->n_queues;

	memset(nc, 0, sizeof(nc));
	if (nq == 0 || nq > PK_IO_MAX_QUEUES || cfg->n_listeners == 0 ||
	    cfg->n_listeners > PK_IO_MAX_LISTENERS) {
		snprintf(err, errlen, "dpdk: 1..%d queues and 1..%d listeners", PK_IO_MAX_QUEUES,
			 PK_IO_MAX_LISTENERS);
		return NULL;
	}
	if (ports_from(cfg, dc, pcs, &np, nc, err, errlen) != 0)
		return NULL;
	for (unsigned p = 0; p < np; p++) {
		if (!rte_eth_dev_is_valid_port(pcs[p].port_id)) {
			snprintf(err, errlen, "dpdk: no port %u (bind a NIC or give --vdev)",
				 pcs[p].port_id);
			return NULL;
		}
	}
	/* How each port spreads frames; one that cannot makes it one queue
	 * for all (a worker polls a queue on every port). */
	int single = -1; /* the port that cannot spread */
	for (unsigned p = 0; p < np; p++) {
		unsigned before = nq;
		if (port_probe(dc, pcs[p].port_id, &nq, &ps[p], err, errlen) != 0)
			return NULL;
		if (nq != before)
			single = (int)p;
	}
	for (unsigned p = 0; single >= 0 && p < np; p++) {
		if ((int)p == single)
			continue;
		if (port_probe(dc, pcs[p].port_id, &nq, &ps[p], err, errlen) != 0)
			return NULL;
		ps[p].how = "one queue: another port offers no IPv4 RSS";
	}
	cfg->n_queues = nq;
	int socket = ps[0].socket;

	io = rte_zmalloc_socket("pk_io_dpdk", sizeof(*io), RTE_CACHE_LINE_SIZE, socket);
	if (io == NULL) {
		snprintf(err, errlen, "dpdk: out of memory");
		return NULL;
	}
	io->base.ops = &dpdk_ops;
	io->base.n_queues = nq;
	io->base.n_listeners = cfg->n_listeners;
	io->base.n_links = np;
	io->n_ports = np;
	io->default_port = -1;
	for (unsigned p = 0; p < np; p++) {
		io->ports[p].id = pcs[p].port_id;
		if (rte_eth_dev_get_name_by_port(pcs[p].port_id, io->ports[p].name) != 0)
			snprintf(io->ports[p].name, sizeof(io->ports[p].name), "%u", pcs[p].port_id);
		if (io->default_port < 0 && pcs[p].gateway != 0)
			io->default_port = (int)p;
	}
	io->drain_tsc = rte_get_tsc_hz() / 1000000 * (dc->tx_drain_us ? dc->tx_drain_us : 100);
	memcpy(io->listeners, cfg->listeners, sizeof(cfg->listeners[0]) * cfg->n_listeners);

	struct pk_io_dpdk_config sized = *dc;
	sized.n_ports = np;
	uint32_t n_mbufs = dc->n_mbufs ? dc->n_mbufs : pk_io_dpdk_mbufs_needed(&sized, nq);
	uint16_t room = or_default(dc->data_room, PK_IO_DPDK_DEFAULT_DATA_ROOM);
	const unsigned min_room = PK_IO_DPDK_MIN_DATA_ROOM;
	if (room < min_room) { /* what the network layer refuses, said before the pool */
		snprintf(err, errlen,
			 "dpdk: data_room %u is too small: at least %u (%u of headroom, an Ethernet header with "
			 "a VLAN tag and a 576-byte packet)",
			 room, min_room, (unsigned)RTE_PKTMBUF_HEADROOM);
		goto fail;
	}
	snprintf(name, sizeof(name), "pk_io_dpdk_%u", pcs[0].port_id);
	/* packed (pool_create): no hugepages, or no port a device that DMAs */
	bool packed = true;
	for (unsigned p = 0; p < np; p++)
		packed = packed && driver_is_software(ps[p].info.driver_name);
	packed = packed || !rte_eal_has_hugepages();
	io->pool = pool_create(name, n_mbufs, or_default(dc->mbuf_cache, 256), room, socket, packed);
	if (io->pool == NULL) {
		snprintf(err, errlen, "dpdk: mempool of %u mbufs of %u bytes: %s", n_mbufs, room,
			 rte_strerror(rte_errno));
		goto fail;
	}
	for (unsigned p = 0; p < np; p++) {
		if (port_configure(io, dc, &pcs[p], &io->ports[p], &ps[p], &nc[p], nq, err, errlen) != 0)
			goto fail;
		/* IP ids: queue i uses i, i + nq, i + 2nq, ... */
		nc[p].ip_id_stride = (uint8_t)nq;
		nc[p].share_arp = nq > 1;
	}

	size_t bufs = (size_t)PK_IO_BURST * PK_IO_MSG_MAX;
	for (unsigned i = 0; i < nq; i++) {
		struct dpdk_queue *q =
			rte_zmalloc_socket("pk_io_dpdk_q", sizeof(*q), RTE_CACHE_LINE_SIZE, socket);
		if (q == NULL)
			goto oom;
		io->q[i] = q;
		q->base.ops = &dpdk_ops;
		q->base.qid = i;
		q->io = io;
		q->qid = (uint16_t)i;
		q->rx_bufs = rte_malloc_socket("pk_io_dpdk_rx", bufs, 64, socket);
		q->tx_bufs = rte_malloc_socket("pk_io_dpdk_tx", bufs, 64, socket);
		q->nb_buf = rte_malloc_socket("pk_io_dpdk_nb", sizeof(q->nb_buf[0]) * np, 64, socket);
		if (q->rx_bufs == NULL || q->tx_bufs == NULL || q->nb_buf == NULL)
			goto oom;
		for (unsigned p = 0; p < np; p++)
			if (link_create(io, q, p, &ps[p], &nc[p], err, errlen) != 0)
				goto fail;
		q->n_links = (uint8_t)np;
	}

	for (unsigned p = 0; p < np; p++) {
		int r = rte_eth_dev_start(io->ports[p].id);
		if (r != 0) {
			snprintf(err, errlen, "dpdk: port %u start: %s", io->ports[p].id, strerror(-r));
			goto fail;
		}
		io->ports[p].started = true;
	}
	/* Announce our addresses (switches learn the MAC, peers update). */
	for (unsigned p = 0; p < np; p++)
		pk_net_garp(io->q[0]->link[p].net);
	pk_io_dpdk_drain(&io->q[0]->base);

	size_t l = 0;
	for (unsigned p = 0; p < np; p++) {
		const struct port_setup *s = &ps[p];
		l += (size_t)snprintf(
			io->describe + l, sizeof(io->describe) - l,
			"%sport %u %s (%s, " RTE_ETHER_ADDR_PRT_FMT "): %u queue(s) of %u asked, %s; "
			"%u+%u descriptors; IP MTU %u; checksum offload rx %s, tx IP %s, tx UDP %s",
			p ? " | " : "", io->ports[p].id, io->ports[p].name, s->info.driver_name,
			RTE_ETHER_ADDR_BYTES(&nc[p].mac), nq, asked, s->how, s->nrx, s->ntx,
			nc[p].mtu ? nc[p].mtu : 1500, s->pconf.rxmode.offloads ? "yes" : "no",
			dc->wire_cksum ? "by the wire" : nc[p].tx_ip_cksum_offload ? "yes" : "no",
			dc->wire_cksum ? "by the wire" : nc[p].tx_udp_cksum_offload ? "yes" : "no");
		for (unsigned r = 0; r < io->ports[p].n_routes && l < sizeof(io->describe); r++) {
			const struct pk_net_route *rt = &io->ports[p].routes[r];
			const uint8_t *a = (const uint8_t *)&rt->net, *v = (const uint8_t *)&rt->via;
			l += (size_t)snprintf(io->describe + l, sizeof(io->describe) - l,
					      "%s%u.%u.%u.%u/%u via %u.%u.%u.%u", r ? ", " : "; routes ", a[0],
					      a[1], a[2], a[3], rt->prefix_len, v[0], v[1], v[2], v[3]);
		}
		if (s->af_packet && room < 9000 + RTE_PKTMBUF_HEADROOM && l < sizeof(io->describe))
			/* Its packet fanout reassembles fragments in the kernel
			 * (PACKET_FANOUT_FLAG_DEFRAG): a datagram larger than a
			 * frame arrives truncated and is dropped (ip_bad_len). */
			l += (size_t)snprintf(
				io->describe + l, sizeof(io->describe) - l,
				"; net_af_packet reassembles fragments itself: for datagrams over %u B "
				"raise framesz=/blocksz= and the mbuf data room",
				(unsigned)(room - RTE_PKTMBUF_HEADROOM - 14));
		if (l >= sizeof(io->describe))
			l = sizeof(io->describe) - 1;
	}
	snprintf(io->describe + l, sizeof(io->describe) - l, "; mempool %u mbufs x %u B%s%s", n_mbufs,
		 room, np > 1 ? " (all ports)" : "", packed ? ", packed" : "");
	return &io->base;
oom:
	snprintf(err, errlen, "dpdk: out of memory");
fail:
	dio_destroy(&io->base);
	return NULL;
}

/* ---- start-up helpers ---- */

int pk_io_dpdk_eal_init(const char *prog, const char *const *args, unsigned n, char *err,
			size_t errlen)
{
	char *argv[130];

	if (n + 1 >= RTE_DIM(argv)) {
		snprintf(err, errlen, "dpdk: more than %zu EAL options", RTE_DIM(argv) - 2);
		return -EINVAL;
	}
	/* rte_eal_init may permute argv: give it a copy of the pointers. */
	argv[0] = (char *)(uintptr_t)prog;
	for (unsigned i = 0; i < n; i++)
		argv[i + 1] = (char *)(uintptr_t)args[i];
	argv[n + 1] = NULL;
	/* the EAL parses with getopt: keep the caller's getopt state */
	int save_optind = optind, save_opterr = opterr;
	int r = rte_eal_init((int)n + 1, argv);
	optind = save_optind;
	opterr = save_opterr;
	if (r < 0) {
		snprintf(err, errlen, "dpdk: EAL initialisation failed: %s", rte_strerror(rte_errno));
		return -EINVAL;
	}
	return 0;
}

void pk_io_dpdk_eal_cleanup(void)
{
	char rundir[PATH_MAX];

	/* DPDK 22.11 leaves its runtime directory behind: remove it when it
	 * is empty (--no-shconf; another process of the prefix keeps it). */
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir);
}

int pk_io_dpdk_find_port(const char *spec, uint16_t *port, char *err, size_t errlen)
{
	char *end;
	unsigned long v = strtoul(spec, &end, 10);
	uint16_t p;

	if (*spec != '\0' && *end == '\0' && v < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)v)) {
		*port = (uint16_t)v;
		return 0;
	}
	if (rte_eth_dev_get_port_by_name(spec, &p) == 0) {
		*port = p;
		return 0;
	}
	size_t l = (size_t)snprintf(err, errlen, "dpdk: no port '%s'; ports:", spec);
	RTE_ETH_FOREACH_DEV(p) {
		char name[RTE_ETH_NAME_MAX_LEN];
		if (l < errlen && rte_eth_dev_get_name_by_port(p, name) == 0)
			l += (size_t)snprintf(err + l, errlen - l, " %u=%s", p, name);
	}
	if (rte_eth_dev_count_avail() == 0 && l < errlen)
		snprintf(err + l, errlen - l, " none (bind a NIC or give --vdev)");
	return -ENODEV;
}

int pk_io_dpdk_worker_lcore(unsigned i)
{
	unsigned lc = (unsigned)-1, k = 0;

	while ((lc = rte_get_next_lcore(lc, 1, 0)) < RTE_MAX_LCORE) {
		if (k++ == i)
			return (int)lc;
	}
	return -ENOSPC;
}

int pk_io_dpdk_launch(unsigned i, int (*fn)(void *), void *arg)
{
	int lc = pk_io_dpdk_worker_lcore(i);

	if (lc < 0)
		return lc;
	return rte_eal_remote_launch(fn, arg, (unsigned)lc) == 0 ? 0 : -EBUSY;
}

void pk_io_dpdk_join(unsigned i)
{
	int lc = pk_io_dpdk_worker_lcore(i);

	if (lc >= 0)
		rte_eal_wait_lcore((unsigned)lc);
}
