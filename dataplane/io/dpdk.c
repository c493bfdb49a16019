/* SPDX-License-Identifier: MIT */
/*
 * The `dpdk` packet I/O backend, first sketch (include/pickup/io_dpdk.h):
 * include/pickup/io.h on one DPDK port and one queue, with dataplane/net
 * (Ethernet, ARP, IPv4, UDP) between the port and the SIP pipeline.
 *
 * Receive: rte_eth_rx_burst, then pk_net_rx per frame. A UDP datagram in
 * one segment is handed to the worker in place (the message points into
 * the mbuf); one reassembled from fragments is copied into the queue's
 * message buffer of the same slot. The mbufs behind the messages are kept
 * until the next rx_burst (io.h: messages live until then) and freed then.
 * ARP and ICMP replies the layer produced are sent at once.
 *
 * Send: committed messages wait in the queue's buffers; tx_flush builds
 * the frames (pk_net_udp_tx: headers, fragments, ARP resolution) and
 * hands everything staged to rte_eth_tx_burst. What the port does not take
 * stays staged for the next flush (pk_net counts an overflow).
 *
 * Threads: create/destroy on the control thread; the rest on the worker
 * of the queue. No allocation, lock or system call after create.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "pickup/io_dpdk.h"

struct dpdk_queue {
	struct pk_io_queue base;
	struct dpdk_io *io;
	struct pk_net_ctx *net;
	uint16_t port;
	unsigned n_held; /* mbufs behind the messages of the last rx_burst */
	struct rte_mbuf *held[PK_IO_BURST];
	struct pk_io_msg rx_msgs[PK_IO_BURST];
	uint8_t *rx_bufs; /* PK_IO_BURST x PK_IO_MSG_MAX: reassembled datagrams */
	unsigned tx_n;	  /* committed messages */
	struct pk_io_msg tx_msgs[PK_IO_BURST];
	char *tx_bufs; /* PK_IO_BURST x PK_IO_MSG_MAX */
	uint64_t ctr[PK_IO_CTR_COUNT];
} __rte_cache_aligned;

struct dpdk_io {
	struct pk_io base;
	uint16_t port;
	bool configured, started;
	struct rte_mempool *pool;
	struct pk_io_listener listeners[PK_IO_MAX_LISTENERS];
	struct dpdk_queue *q; /* one */
};

static void flush_staged(struct dpdk_queue *q)
{
	struct rte_mbuf **pkts;
	unsigned n = pk_net_tx_pending(q->net, &pkts);

	if (n != 0)
		pk_net_tx_done(q->net, rte_eth_tx_burst(q->port, 0, pkts, (uint16_t)n));
}

/* The listener a datagram to dst belongs to (pk_net only delivers our
 * addresses and listener ports, so one matches unless two listeners share
 * a port on different addresses and the datagram came to the broadcast). */
static uint8_t listener_of(const struct dpdk_io *io, const struct pk_addr *dst)
{
	for (unsigned i = 0; i < io->base.n_listeners; i++)
		if (pk_addr_eq(&io->listeners[i].addr, dst))
			return (uint8_t)i;
	for (unsigned i = 0; i < io->base.n_listeners; i++)
		if (io->listeners[i].addr.port == dst->port)
			return (uint8_t)i;
	return 0;
}

static unsigned dq_rx_burst(struct pk_io_queue *pq, struct pk_io_msg **msgs, unsigned n,
			    uint64_t now_ns)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;
	struct rte_mbuf *pkts[PK_IO_BURST];
	uint64_t now = rte_rdtsc();
	unsigned got = 0;

	(void)now_ns; /* the network timers run on the TSC */
	/* The previous burst's messages die here. */
	if (q->n_held != 0) {
		rte_pktmbuf_free_bulk(q->held, q->n_held);
		q->n_held = 0;
	}
	pk_net_poll(q->net, now);
	if (n > PK_IO_BURST)
		n = PK_IO_BURST;
	uint16_t nb = rte_eth_rx_burst(q->port, 0, pkts, (uint16_t)n);
	for (unsigned i = 0; i < nb; i++) {
		struct pk_net_udp u = { .buf = q->rx_bufs + (size_t)got * PK_IO_MSG_MAX,
					.buf_cap = PK_IO_MSG_MAX };
		if (i + 1 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (pk_net_rx(q->net, pkts[i], now, &u) != PK_NET_RX_UDP)
			continue;
		struct pk_io_msg *m = &q->rx_msgs[got];
		memset(m, 0, sizeof(*m));
		m->data = (char *)(uintptr_t)u.payload; /* our own mbuf or buffer */
		m->len = m->cap = u.len;
		m->transport = PK_TRANSPORT_UDP;
		m->src = u.src;
		m->dst = u.dst;
		m->listener = listener_of(q->io, &u.dst);
		if (u.mbuf != NULL)
			q->held[q->n_held++] = u.mbuf;
		msgs[got++] = m;
		q->ctr[PK_IO_CTR_UDP_RX]++;
	}
	flush_staged(q); /* ARP and echo replies */
	return got;
}

static struct pk_io_msg *dq_tx_alloc(struct pk_io_queue *pq)
{
	struct dpdk_queue *q = (struct dpdk_queue *)pq;

	if (q->tx_n == PK_IO_BURST)
		pq->ops->tx_flush(pq);
	struct pk_io_msg *m = &q->tx_msgs[q->tx_n];
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
		if (m->transport != PK_TRANSPORT_UDP) {
			q->ctr[PK_IO_CTR_TCP_TX_NO_CONN]++;
			continue;
		}
		const struct pk_addr *src = &m->src;
		if (src->family == 0 && m->listener < q->io->base.n_listeners)
			src = &q->io->listeners[m->listener].addr;
		if (pk_net_udp_tx(q->net, m->data, m->len, src, &m->dst, now) >= 0) {
			q->ctr[PK_IO_CTR_UDP_TX]++;
			ok++;
		} else {
			q->ctr[PK_IO_CTR_UDP_TX_ERROR]++;
		}
	}
	q->tx_n = 0;
	flush_staged(q);
	return ok;
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
	memcpy(out, ((const struct dpdk_queue *)pq)->ctr, sizeof(uint64_t) * PK_IO_CTR_COUNT);
}

const uint64_t *pk_io_dpdk_net_counters(const struct pk_io_queue *pq)
{
	return pk_net_counters(((const struct dpdk_queue *)pq)->net);
}

static struct pk_io_queue *dio_queue(struct pk_io *pio, unsigned qid)
{
	struct dpdk_io *io = (struct dpdk_io *)pio;
	return qid == 0 ? &io->q->base : NULL;
}

static const struct pk_io_listener *dio_listener(const struct pk_io *pio, unsigned i)
{
	const struct dpdk_io *io = (const struct dpdk_io *)pio;
	return i < io->base.n_listeners ? &io->listeners[i] : NULL;
}

static void dio_destroy(struct pk_io *pio)
{
	struct dpdk_io *io = (struct dpdk_io *)pio;

	/* The port's queues hold mbufs of our pool: close it before the pool
	 * goes (pickupd owns the port for its whole life). */
	if (io->started)
		rte_eth_dev_stop(io->port);
	if (io->configured)
		rte_eth_dev_close(io->port);
	if (io->q != NULL) {
		if (io->q->n_held != 0)
			rte_pktmbuf_free_bulk(io->q->held, io->q->n_held);
		pk_net_ctx_destroy(io->q->net);
		rte_free(io->q->rx_bufs);
		rte_free(io->q->tx_bufs);
		rte_free(io->q);
	}
	rte_mempool_free(io->pool);
	rte_free(io);
}

static const struct pk_io_ops dpdk_ops = {
	.name = "dpdk",
	.queue = dio_queue,
	.listener = dio_listener,
	.destroy = dio_destroy,
	.rx_burst = dq_rx_burst,
	.tx_alloc = dq_tx_alloc,
	.tx_commit = dq_tx_commit,
	.tx_flush = dq_tx_flush,
	.wait = dq_wait,
	.wake = dq_wake,
	.stats = dq_stats,
};

/* The network configuration: our addresses and ports from the listeners. */
static int net_conf_from(const struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
			 struct pk_net_conf *nc, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct pk_io_listener *l = &cfg->listeners[i];
		uint32_t ip;
		if (l->transport != PK_TRANSPORT_UDP || l->addr.family != AF_INET ||
		    pk_addr_is_any(&l->addr) || l->addr.port == 0) {
			snprintf(err, errlen,
				 "dpdk: listener %u must be UDP on an IPv4 address and port", i);
			return -EINVAL;
		}
		memcpy(&ip, l->addr.ip, 4);
		unsigned k;
		for (k = 0; k < nc->n_addrs && nc->addrs[k] != ip; k++)
			;
		if (k == nc->n_addrs) {
			if (nc->n_addrs == PK_NET_MAX_ADDRS)
				goto too_many;
			nc->addrs[nc->n_addrs++] = ip;
		}
		for (k = 0; k < nc->n_ports && nc->ports[k] != l->addr.port; k++)
			;
		if (k == nc->n_ports) {
			if (nc->n_ports == PK_NET_MAX_PORTS)
				goto too_many;
			nc->ports[nc->n_ports++] = l->addr.port;
		}
	}
	nc->vlan_id = dc->vlan_id;
	nc->prefix_len = dc->prefix_len;
	nc->gateway = dc->gateway;
	nc->tsc_hz = rte_get_tsc_hz();
	return 0;
too_many:
	snprintf(err, errlen, "dpdk: more than %d addresses or %d ports", PK_NET_MAX_ADDRS,
		 PK_NET_MAX_PORTS);
	return -EINVAL;
}

struct pk_io *pk_io_dpdk_create(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc,
				char *err, size_t errlen)
{
	struct pk_net_conf nc;
	struct rte_eth_dev_info info;
	struct rte_eth_conf pconf;
	struct dpdk_io *io = NULL;
	char name[RTE_MEMPOOL_NAMESIZE];
	int r;

	memset(&nc, 0, sizeof(nc));
	if (cfg->n_queues != 1 || cfg->n_listeners == 0 || cfg->n_listeners > PK_IO_MAX_LISTENERS) {
		snprintf(err, errlen, "dpdk: one queue and 1..%d listeners for now",
			 PK_IO_MAX_LISTENERS);
		return NULL;
	}
	if (!rte_eth_dev_is_valid_port(dc->port_id)) {
		snprintf(err, errlen, "dpdk: no port %u (bind a NIC or give --vdev)", dc->port_id);
		return NULL;
	}
	if (net_conf_from(cfg, dc, &nc, err, errlen) != 0)
		return NULL;
	int socket = rte_eth_dev_socket_id(dc->port_id);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	nc.socket_id = socket;

	io = rte_zmalloc_socket("pk_io_dpdk", sizeof(*io), RTE_CACHE_LINE_SIZE, socket);
	if (io == NULL) {
		snprintf(err, errlen, "dpdk: out of memory");
		return NULL;
	}
	io->base.ops = &dpdk_ops;
	io->base.n_queues = 1;
	io->base.n_listeners = cfg->n_listeners;
	io->port = dc->port_id;
	memcpy(io->listeners, cfg->listeners, sizeof(cfg->listeners[0]) * cfg->n_listeners);

	snprintf(name, sizeof(name), "pk_io_dpdk_%u", dc->port_id);
	io->pool = rte_pktmbuf_pool_create(name, dc->n_mbufs ? dc->n_mbufs : 8191, 256, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (io->pool == NULL) {
		snprintf(err, errlen, "dpdk: mempool: %s", rte_strerror(rte_errno));
		goto fail;
	}

	r = rte_eth_dev_info_get(dc->port_id, &info);
	if (r != 0) {
		snprintf(err, errlen, "dpdk: port %u info: %s", dc->port_id, strerror(-r));
		goto fail;
	}
	memset(&pconf, 0, sizeof(pconf));
	/* Checksums by the port where it can: pk_net reads the RX flags and
	 * falls back to software. */
	pconf.rxmode.offloads = info.rx_offload_capa &
				(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	pconf.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	nc.tx_ip_cksum_offload = (pconf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	uint16_t nrx = dc->rx_desc ? dc->rx_desc : 1024, ntx = dc->tx_desc ? dc->tx_desc : 1024;
	r = rte_eth_dev_configure(dc->port_id, 1, 1, &pconf);
	io->configured = r == 0;
	if (r != 0 || (r = rte_eth_dev_adjust_nb_rx_tx_desc(dc->port_id, &nrx, &ntx)) != 0 ||
	    (r = rte_eth_rx_queue_setup(dc->port_id, 0, nrx, (unsigned)socket, NULL, io->pool)) != 0 ||
	    (r = rte_eth_tx_queue_setup(dc->port_id, 0, ntx, (unsigned)socket, NULL)) != 0) {
		snprintf(err, errlen, "dpdk: port %u setup: %s", dc->port_id, strerror(-r));
		goto fail;
	}
	uint16_t mtu = 1500;
	if (rte_eth_dev_get_mtu(dc->port_id, &mtu) == 0 && mtu >= 576 && mtu <= 9000)
		nc.mtu = mtu;
	if ((r = rte_eth_macaddr_get(dc->port_id, &nc.mac)) != 0) {
		snprintf(err, errlen, "dpdk: port %u MAC: %s", dc->port_id, strerror(-r));
		goto fail;
	}

	io->q = rte_zmalloc_socket("pk_io_dpdk_q", sizeof(*io->q), RTE_CACHE_LINE_SIZE, socket);
	if (io->q == NULL)
		goto oom;
	io->q->base.ops = &dpdk_ops;
	io->q->base.qid = 0;
	io->q->io = io;
	io->q->port = dc->port_id;
	size_t bufs = (size_t)PK_IO_BURST * PK_IO_MSG_MAX;
	io->q->rx_bufs = rte_malloc_socket("pk_io_dpdk_rx", bufs, 64, socket);
	io->q->tx_bufs = rte_malloc_socket("pk_io_dpdk_tx", bufs, 64, socket);
	if (io->q->rx_bufs == NULL || io->q->tx_bufs == NULL)
		goto oom;
	io->q->net = pk_net_ctx_create(&nc, io->pool, err, errlen);
	if (io->q->net == NULL)
		goto fail;

	if ((r = rte_eth_dev_start(dc->port_id)) != 0) {
		snprintf(err, errlen, "dpdk: port %u start: %s", dc->port_id, strerror(-r));
		goto fail;
	}
	io->started = true;
	/* Announce our addresses (switches learn the MAC, peers update). */
	pk_net_garp(io->q->net);
	flush_staged(io->q);
	return &io->base;
oom:
	snprintf(err, errlen, "dpdk: out of memory");
fail:
	dio_destroy(&io->base);
	return NULL;
}
