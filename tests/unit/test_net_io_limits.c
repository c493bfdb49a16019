/* SPDX-License-Identifier: MIT */
/*
 * The DPDK I/O backend (dataplane/io/dpdk.c) when a resource runs out or
 * a caller errs, on net_ring ports whose rings the test owns as the wire
 * (test_net_wire.h): the port's TX ring full (frames counted as
 * tx_dropped and freed, the next ones sent); the mempool empty when the
 * worker asks for a frame (the queue's buffer instead, the datagram
 * counted as udp_tx_error while no mbuf comes back, sent once one does);
 * a 33rd message without a flush; a message abandoned before its commit;
 * a TCP message and unroutable ones in a burst of good ones; received
 * frames of every kind a driver hands over (two pools in one burst, a
 * clone, an external buffer, a shared mbuf, a chain), each freed once
 * its message is dead; another queue's ARP-sharing ring full; the timers
 * of a port skipped because another filled the burst; answers still
 * buffered when the io is destroyed; a configured MTU; and the
 * configurations pk_io_dpdk_create refuses, each with its reason and
 * nothing left behind. Every test creates its own io on fresh ports
 * (destroying an io closes its ports, which releases a net_ring port)
 * and ends with every mbuf back in its pool. EAL as in test_net_io.c,
 * with a file prefix of its own.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "pickup/io_dpdk.h"
#include "test_net_frames.h"
#include "test_net_wire.h"

static struct rte_mempool *pool; /* the test's frames */
/* test_rx_mbufs_of_every_kind's two pools (its own: what it would leak
 * does not fail the other tests) */
static struct rte_mempool *pool_b, *pool_c;
static struct rte_ring *a_in, *a_out, *small_out;
static struct rte_ring *b_in[2], *b_out[2];
static struct rte_ring *x_in, *x_out, *y_in, *y_out;

/* The io under test, its first queue and port, and that port's TX ring. */
static struct pk_io *io;
static struct pk_io_queue *q;
static uint16_t port;
static struct rte_ring *out;
static uint8_t our_mac[6];

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ZERO[6];
#define OUR_IP 0x0a620001u  /* 10.98.0.1/24 */
#define PEER_IP 0x0a620002u /* 10.98.0.2 */
#define FAR_IP 0xc0000207u  /* 192.0.2.7: off-link, and there is no gateway */
#define X_IP 0x0a600101u    /* 10.96.1.1/24 */
#define Y_IP 0x0a600201u    /* 10.96.2.1/24 */
#define PX_IP 0x0a600109u   /* 10.96.1.9 */
#define PY_IP 0x0a600209u   /* 10.96.2.9 */

/* A peer's MAC, made of its address: 02:00:a.b.c.d. */
static void mac_of(uint32_t ip, uint8_t *mac)
{
	mac[0] = 0x02;
	mac[1] = 0;
	put32(mac + 2, ip);
}

static void addr4(struct pk_addr *a, uint32_t ip, uint16_t p)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	put32(a->ip, ip);
	a->port = p;
}

/* A fresh net_ring port on n RX and n TX rings. */
static uint16_t ring_port(struct rte_ring **in, struct rte_ring **tx, unsigned n)
{
	static unsigned seq;
	char name[32];

	snprintf(name, sizeof(name), "net_ring_lim%u", seq++);
	int p = rte_eth_from_rings(name, in, n, tx, n, 0);
	if (p < 0)
		fail_msg("rte_eth_from_rings: %s", rte_strerror(rte_errno));
	return (uint16_t)p;
}

/* One queue, one listener per address given ("ip:port"). */
static void listeners(struct pk_io_config *cfg, unsigned n, const char *const *addrs)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_queues = 1;
	cfg->n_listeners = n;
	for (unsigned i = 0; i < n; i++) {
		cfg->listeners[i].transport = PK_TRANSPORT_UDP;
		assert_int_equal(pk_addr_parse(pk_str_make(addrs[i], strlen(addrs[i])), false,
					       &cfg->listeners[i].addr),
				 0);
	}
}

/* The mempool of the io on port p (pk_io_dpdk_create names it so). */
static struct rte_mempool *io_pool(uint16_t p)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	snprintf(name, sizeof(name), "pk_io_dpdk_%u", p);
	return rte_mempool_lookup(name);
}

/* Every mbuf of the io's pool is back, but those its queue keeps for its
 * next messages. */
static void io_pool_whole(void)
{
	assert_int_equal(rte_mempool_in_use_count(io_pool(port)), pk_io_dpdk_frames_held(q));
}

static void drop_all(struct rte_ring *r)
{
	struct rte_mbuf *m;

	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

/* The io of one queue on a fresh port fed by a_in and sending on tx,
 * with its gratuitous ARP taken off the wire; mtu 0: the port's. */
static void open_one(struct rte_ring *tx, uint16_t mtu)
{
	static const char *const l[] = { "10.98.0.1:5060" };
	struct pk_io_config cfg;
	struct rte_ether_addr mac;
	uint8_t b[128];
	char err[256];

	port = ring_port(&a_in, &tx, 1);
	out = tx;
	listeners(&cfg, 1, l);
	struct pk_io_dpdk_config dc = { .port_id = port, .n_mbufs = 1023, .mtu = mtu };
	io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL)
		fail_msg("pk_io_dpdk_create: %s", err);
	q = pk_io_queue_get(io, 0);
	assert_int_equal(rte_eth_macaddr_get(port, &mac), 0);
	memcpy(our_mac, mac.addr_bytes, 6);
	assert_int_equal(wire_take(out, b), 42); /* its gratuitous ARP */
	assert_int_equal(wire_take(out, b), 0);
}

/* After every test, passed or failed: no io, nothing on the wire. */
static int teardown(void **state)
{
	struct rte_ring *rings[] = { a_in, a_out, small_out, b_in[0], b_in[1], b_out[0], b_out[1],
				     x_in, x_out, y_in, y_out };

	(void)state;
	pk_io_destroy(io);
	io = NULL;
	q = NULL;
	for (unsigned i = 0; i < PK_ARRAY_SIZE(rings); i++)
		drop_all(rings[i]);
	return 0;
}

/* The io destroyed, the wire emptied, and every frame of the test's
 * pools back. */
static void close_io(void)
{
	teardown(NULL);
	assert_true(rte_mempool_full(pool));
}

/* The peer at ip asks for our address on ring in: queue qq answers (on
 * ring tx) and knows the peer's MAC from then on. */
static void arp_ask(struct rte_ring *in, struct rte_ring *tx, struct pk_io_queue *qq, uint32_t ip,
		    uint32_t ours)
{
	uint8_t f[64] = { 0 }, b[128], mac[6];
	struct pk_io_msg *msgs[PK_IO_BURST];

	mac_of(ip, mac);
	size_t l2 = eth(f, BCAST, mac, -1, 0x0806);
	arp_body(f + l2, 1, mac, ip, ZERO, ours);
	wire_put(pool, in, f, 60);
	assert_int_equal(pk_io_rx_burst(qq, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(wire_take(tx, b), 42);
	assert_int_equal(get16(b + 20), 2); /* a reply */
	assert_int_equal(get32(b + 38), ip);
}

/* A UDP frame from the peer at from (port 5062) to to:5060. */
static size_t udp_in(uint8_t *f, uint32_t from, uint32_t to, const char *text)
{
	uint8_t mac[6];

	mac_of(from, mac);
	size_t l2 = eth(f, our_mac, mac, -1, 0x0800);
	size_t u = udp(f + l2 + 20, from, to, 5062, 5060, text, strlen(text), true);
	ip4(f + l2, from, to, 17, 1, 0, 64, u);
	return l2 + 20 + u;
}

/* A message of text from listener li to ip:5062, committed. */
static void commit_from(struct pk_io_queue *qq, unsigned li, uint32_t ip, const char *text)
{
	struct pk_io_msg *m = pk_io_tx_alloc(qq);

	m->len = (uint32_t)strlen(text);
	assert_true(m->len <= m->cap);
	memcpy(m->data, text, m->len);
	m->transport = PK_TRANSPORT_UDP;
	m->listener = (uint8_t)li;
	addr4(&m->dst, ip, 5062);
	pk_io_tx_commit(qq);
}

static void commit_to(uint32_t ip, const char *text)
{
	commit_from(q, 0, ip, text);
}

/* The frame b of n bytes is the datagram text from from:5060 to
 * to:5062 at the MAC of to, headers and checksums right. */
static void check_datagram(const uint8_t *b, size_t n, uint32_t from, uint32_t to, const char *text)
{
	uint8_t mac[6];
	size_t tl = strlen(text);

	if (n != 42 + tl)
		fail_msg("expected the datagram \"%s\" (%zu bytes), got a frame of %zu bytes", text,
			 42 + tl, n);
	mac_of(to, mac);
	assert_memory_equal(b, mac, 6);
	assert_memory_equal(b + 6, our_mac, 6);
	assert_int_equal(get16(b + 12), 0x0800);
	assert_int_equal(cksum(b + 14, 20), 0);
	assert_int_equal(get32(b + 26), from);
	assert_int_equal(get32(b + 30), to);
	assert_int_equal(get16(b + 34), 5060);
	assert_int_equal(get16(b + 36), 5062);
	assert_int_equal(get16(b + 38), 8 + tl);
	assert_true(udp_sum_ok(b + 34, 8 + tl, from, to));
	if (memcmp(b + 42, text, tl) != 0)
		fail_msg("expected \"%s\", got \"%.*s\"", text, (int)tl, (const char *)b + 42);
}

/* The next frame on ring r: that datagram. */
static void expect_datagram(struct rte_ring *r, uint32_t from, uint32_t to, const char *text)
{
	uint8_t b[2048];
	size_t n = wire_take(r, b);

	check_datagram(b, n, from, to, text);
}

/* The next frame on ring r: an ARP request from us (ours) for ip. */
static void expect_arp_request(struct rte_ring *r, uint32_t ours, uint32_t ip)
{
	uint8_t b[128];

	assert_int_equal(wire_take(r, b), 42);
	assert_memory_equal(b, BCAST, 6);
	assert_int_equal(get16(b + 20), 1);
	assert_int_equal(get32(b + 28), ours);
	assert_int_equal(get32(b + 38), ip);
}

static uint64_t ioctr(const struct pk_io_queue *qq, enum pk_io_counter c)
{
	uint64_t v[PK_IO_CTR_COUNT];

	pk_io_stats(qq, v);
	return v[c];
}

/* The port's TX ring has room for two of four frames: the first two
 * leave, the other two are counted as tx_dropped and go back to the
 * pool; once the ring has room again, what follows leaves. */
static void test_tx_ring_full(void **state)
{
	(void)state;
	static const char *const t[] = { "m0", "m1", "m2", "m3" };
	struct rte_mbuf *fill[5], *m;

	open_one(small_out, 0); /* 7 frames fit */
	arp_ask(a_in, small_out, q, PEER_IP, OUR_IP);
	assert_int_equal(rte_pktmbuf_alloc_bulk(pool, fill, 5), 0);
	assert_int_equal(rte_ring_enqueue_bulk(small_out, (void **)fill, 5, NULL), 5);
	uint64_t sent = dctr(q, PK_IO_DPDK_CTR_TX_FRAMES);

	for (unsigned i = 0; i < 4; i++)
		commit_to(PEER_IP, t[i]);
	/* all four handed to the port: what it refuses is its count */
	assert_int_equal(pk_io_tx_flush(q), 4);
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_FRAMES), sent + 2);
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_DROPPED), 2);
	assert_string_equal(pk_io_dpdk_counter_name(PK_IO_DPDK_CTR_TX_DROPPED), "tx_dropped");
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX_ERROR), 0);
	/* the wire: what was on it, then the first two, in order */
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(rte_ring_dequeue(small_out, (void **)&m), 0);
		assert_ptr_equal(m, fill[i]);
		rte_pktmbuf_free(m);
	}
	expect_datagram(small_out, OUR_IP, PEER_IP, "m0");
	expect_datagram(small_out, OUR_IP, PEER_IP, "m1");
	assert_int_equal(rte_ring_count(small_out), 0);
	io_pool_whole(); /* the refused frames were freed */

	commit_to(PEER_IP, "m4");
	commit_to(PEER_IP, "m5");
	assert_int_equal(pk_io_tx_flush(q), 2);
	expect_datagram(small_out, OUR_IP, PEER_IP, "m4");
	expect_datagram(small_out, OUR_IP, PEER_IP, "m5");
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_DROPPED), 2);
	io_pool_whole();
	close_io();
}

/* The mempool empty when the worker asks for a frame: it gets the
 * queue's own buffer (cap PK_IO_MSG_MAX). Flushed while the pool is
 * still empty, the message is an udp_tx_error (the network layer's
 * tx_no_mbuf) and nothing is lost or kept; flushed once mbufs are back,
 * it leaves, byte for byte; the next message is written in a frame
 * again. */
static void test_pool_empty_at_tx_alloc(void **state)
{
	(void)state;
	static struct rte_mbuf *taken[2048];
	unsigned nt = 0;

	open_one(a_out, 0);
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	struct rte_mempool *bp = io_pool(port);
	assert_non_null(bp);
	assert_int_equal(pk_io_dpdk_frames_held(q), 0); /* the next frame comes from the pool */
	while (nt < PK_ARRAY_SIZE(taken) && (taken[nt] = rte_pktmbuf_alloc(bp)) != NULL)
		nt++;
	assert_int_equal(rte_mempool_avail_count(bp), 0);

	struct pk_io_msg *m = pk_io_tx_alloc(q);
	assert_int_equal(m->cap, PK_IO_MSG_MAX);
	m->len = 4;
	memcpy(m->data, "lost", 4);
	m->transport = PK_TRANSPORT_UDP;
	addr4(&m->dst, PEER_IP, 5062);
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 0);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX_ERROR), 1);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX), 0);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_TX_NO_MBUF), 1);
	assert_int_equal(rte_ring_count(a_out), 0);
	assert_int_equal(pk_io_dpdk_frames_held(q), 0);

	/* still empty at the alloc, mbufs back before the flush */
	m = pk_io_tx_alloc(q);
	assert_int_equal(m->cap, PK_IO_MSG_MAX);
	commit_to(PEER_IP, "kept");
	rte_pktmbuf_free_bulk(taken, nt);
	assert_int_equal(pk_io_tx_flush(q), 1);
	expect_datagram(a_out, OUR_IP, PEER_IP, "kept");

	m = pk_io_tx_alloc(q);
	assert_true(m->cap < PK_IO_MSG_MAX); /* a frame's room again */
	commit_to(PEER_IP, "in a frame");
	assert_int_equal(pk_io_tx_flush(q), 1);
	expect_datagram(a_out, OUR_IP, PEER_IP, "in a frame");
	assert_int_equal(rte_ring_count(a_out), 0);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX), 2);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX_ERROR), 1);
	io_pool_whole();
	close_io();
}

/* A 33rd message without a flush in between: the 32 before it leave
 * first (pk_io_tx_alloc never fails), then it; all 33 in order. */
static void test_33rd_message_flushes_the_first_32(void **state)
{
	(void)state;
	char t[PK_IO_BURST + 1][8];

	open_one(a_out, 0);
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	for (unsigned i = 0; i <= PK_IO_BURST; i++)
		snprintf(t[i], sizeof(t[i]), "msg%02u", i);
	for (unsigned i = 0; i < PK_IO_BURST; i++)
		commit_to(PEER_IP, t[i]);
	assert_int_equal(rte_ring_count(a_out), 0); /* committed, not sent */
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	assert_int_equal(rte_ring_count(a_out), PK_IO_BURST);
	assert_int_equal(m->len, 0);
	m->len = (uint32_t)strlen(t[PK_IO_BURST]);
	memcpy(m->data, t[PK_IO_BURST], m->len);
	m->transport = PK_TRANSPORT_UDP;
	addr4(&m->dst, PEER_IP, 5062);
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	for (unsigned i = 0; i <= PK_IO_BURST; i++)
		expect_datagram(a_out, OUR_IP, PEER_IP, t[i]);
	assert_int_equal(rte_ring_count(a_out), 0);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX), PK_IO_BURST + 1);
	io_pool_whole();
	close_io();
}

/* A message written but never committed, then pk_io_tx_alloc again:
 * the same frame, cleared, nothing more taken from the pool; only the
 * committed message leaves. */
static void test_abandoned_message(void **state)
{
	(void)state;

	open_one(a_out, 0);
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	char *where = m->data;
	uint32_t cap = m->cap;
	assert_true(cap < PK_IO_MSG_MAX);
	memset(m->data, 'z', cap);
	m->len = cap;
	m->transport = PK_TRANSPORT_UDP;
	addr4(&m->dst, PEER_IP, 5062);
	unsigned held = pk_io_dpdk_frames_held(q);
	unsigned in_use = rte_mempool_in_use_count(io_pool(port));

	m = pk_io_tx_alloc(q);
	assert_ptr_equal(m->data, where);
	assert_int_equal(m->cap, cap);
	assert_int_equal(m->len, 0);
	assert_int_equal(m->dst.family, 0);
	assert_int_equal(pk_io_dpdk_frames_held(q), held);
	assert_int_equal(rte_mempool_in_use_count(io_pool(port)), in_use);
	m->len = 4;
	memcpy(m->data, "kept", 4);
	m->transport = PK_TRANSPORT_UDP;
	addr4(&m->dst, PEER_IP, 5062);
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	expect_datagram(a_out, OUR_IP, PEER_IP, "kept");
	assert_int_equal(rte_ring_count(a_out), 0);
	io_pool_whole();
	close_io();
}

/* A burst with a TCP message (no TCP on this backend: tcp_tx_no_conn),
 * one to an off-link address with no gateway and one to an IPv6 address
 * (udp_tx_error: tx_no_route, tx_bad) between two good ones: the good
 * ones leave, in order, nothing else does (no ARP request for the
 * unroutable one), and the frames of the others go back to the pool. */
static void test_unsendable_in_a_burst(void **state)
{
	(void)state;

	open_one(a_out, 0);
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	commit_to(PEER_IP, "first");
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	m->len = 3;
	memcpy(m->data, "tcp", 3);
	m->transport = PK_TRANSPORT_TCP;
	m->conn = (UINT64_C(1) << 32) | 7;
	addr4(&m->dst, PEER_IP, 5062);
	pk_io_tx_commit(q);
	commit_to(FAR_IP, "far");
	m = pk_io_tx_alloc(q);
	m->len = 2;
	memcpy(m->data, "v6", 2);
	m->transport = PK_TRANSPORT_UDP;
	m->dst.family = AF_INET6;
	m->dst.ip[0] = 0x20;
	m->dst.ip[1] = 0x01;
	m->dst.ip[15] = 1;
	m->dst.port = 5062;
	pk_io_tx_commit(q);
	commit_to(PEER_IP, "last");

	assert_int_equal(pk_io_tx_flush(q), 2);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX), 2);
	assert_int_equal(ioctr(q, PK_IO_CTR_TCP_TX_NO_CONN), 1);
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_TX_ERROR), 2);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_TX_NO_ROUTE), 1);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_TX_BAD), 1);
	expect_datagram(a_out, OUR_IP, PEER_IP, "first");
	expect_datagram(a_out, OUR_IP, PEER_IP, "last");
	assert_int_equal(rte_ring_count(a_out), 0);
	io_pool_whole();
	close_io();
}

/* The external buffer of test_rx_mbufs_of_every_kind and its free
 * callback (what a driver with external buffers does, mlx5's
 * multi-packet RQ: the buffer goes back to the driver). */
static uint8_t ext_mem[2048] __rte_aligned(64);
static unsigned ext_freed;

static void ext_free(void *addr, void *opaque)
{
	(void)opaque;
	assert_ptr_equal(addr, ext_mem);
	ext_freed++;
}

/* An mbuf of pool mp holding n bytes. */
static struct rte_mbuf *frame_in(struct rte_mempool *mp, const uint8_t *f, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	return m;
}

/* One burst of every kind of received mbuf a driver may hand over: of
 * two pools (runs of one pool, then the other, then the first again), a
 * clone (indirect), one with an external buffer, one another owner still
 * holds a reference to, a chain of two segments. Each message has its
 * bytes; the mbufs behind them are kept until the next burst (a chain's
 * at once: its datagram was copied), then freed each the right way: the
 * external buffer given back once, the shared mbuf left to its other
 * owner, every mbuf in its own pool. */
static void test_rx_mbufs_of_every_kind(void **state)
{
	(void)state;
	static const char *const t[] = { "one", "two", "three", "four", "five", "six", "seven" };
	struct pk_io_msg *msgs[PK_IO_BURST];
	struct rte_mbuf *m[PK_ARRAY_SIZE(t)];
	uint8_t f[256];
	size_t n;

	open_one(a_out, 0);
	n = udp_in(f, PEER_IP, OUR_IP, t[0]);
	m[0] = frame_in(pool_c, f, n);
	n = udp_in(f, PEER_IP, OUR_IP, t[1]);
	m[1] = frame_in(pool_b, f, n);
	n = udp_in(f, PEER_IP, OUR_IP, t[2]);
	struct rte_mbuf *direct = frame_in(pool_c, f, n);
	m[2] = rte_pktmbuf_clone(direct, pool_b);
	assert_non_null(m[2]);
	rte_pktmbuf_free(direct); /* the clone keeps its buffer */
	n = udp_in(f, PEER_IP, OUR_IP, t[3]);
	uint16_t ext_len = sizeof(ext_mem);
	struct rte_mbuf_ext_shared_info *shinfo =
		rte_pktmbuf_ext_shinfo_init_helper(ext_mem, &ext_len, ext_free, NULL);
	assert_non_null(shinfo);
	m[3] = rte_pktmbuf_alloc(pool_b);
	assert_non_null(m[3]);
	rte_pktmbuf_attach_extbuf(m[3], ext_mem, RTE_BAD_IOVA, ext_len, shinfo);
	memcpy(rte_pktmbuf_append(m[3], (uint16_t)n), f, n);
	ext_freed = 0;
	n = udp_in(f, PEER_IP, OUR_IP, t[4]);
	m[4] = frame_in(pool_c, f, n);
	rte_mbuf_refcnt_update(m[4], 1); /* ours too */
	n = udp_in(f, PEER_IP, OUR_IP, t[5]);
	m[5] = frame_in(pool_c, f, 40); /* the UDP header across the two */
	assert_int_equal(rte_pktmbuf_chain(m[5], frame_in(pool_b, f + 40, n - 40)), 0);
	n = udp_in(f, PEER_IP, OUR_IP, t[6]);
	m[6] = frame_in(pool_c, f, n);
	assert_int_equal(rte_ring_enqueue_bulk(a_in, (void **)m, PK_ARRAY_SIZE(m), NULL), PK_ARRAY_SIZE(m));

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), PK_ARRAY_SIZE(t));
	for (unsigned i = 0; i < PK_ARRAY_SIZE(t); i++) {
		assert_int_equal(msgs[i]->len, strlen(t[i]));
		assert_memory_equal(msgs[i]->data, t[i], strlen(t[i]));
		assert_int_equal(get32(msgs[i]->src.ip), PEER_IP);
	}
	assert_int_equal(ioctr(q, PK_IO_CTR_UDP_RX), PK_ARRAY_SIZE(t));
	/* alive until the next burst: one, three's buffer, five, seven; two,
	 * three and four's headers (the chain's went at once) */
	assert_int_equal(rte_mempool_in_use_count(pool_c), 4);
	assert_int_equal(rte_mempool_in_use_count(pool_b), 3);
	assert_int_equal(ext_freed, 0);

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(ext_freed, 1);
	assert_int_equal(rte_mbuf_refcnt_read(m[4]), 1);
	assert_int_equal(rte_mempool_in_use_count(pool_c), 1); /* five, ours */
	assert_int_equal(rte_mempool_in_use_count(pool_b), 0);
	rte_pktmbuf_free(m[4]);
	assert_int_equal(rte_ring_count(a_out), 0);
	assert_true(rte_mempool_full(pool_c));
	assert_true(rte_mempool_full(pool_b));
	close_io();
}

/* Peers group..group+15 ask queue qq for us on its ring: it answers
 * each, learns them, and posts them to the other queue. */
static void arp_round(struct pk_io_queue *qq, uint32_t first)
{
	uint8_t f[64] = { 0 }, b[128], mac[6];
	struct pk_io_msg *msgs[PK_IO_BURST];

	for (uint32_t ip = first; ip < first + PK_NET_LEARNT_MAX; ip++) {
		mac_of(ip, mac);
		size_t l2 = eth(f, BCAST, mac, -1, 0x0806);
		arp_body(f + l2, 1, mac, ip, ZERO, OUR_IP);
		wire_put(pool, b_in[qq->qid], f, 60);
	}
	assert_int_equal(pk_io_rx_burst(qq, msgs, PK_IO_BURST, 0), 0);
	for (uint32_t ip = first; ip < first + PK_NET_LEARNT_MAX; ip++) {
		assert_int_equal(wire_take(b_out[qq->qid], b), 42);
		assert_int_equal(get16(b + 20), 2);
		assert_int_equal(get32(b + 38), ip);
	}
}

#define G1 0x0a62000au /* 10.98.0.10..25 */
#define G2 0x0a62002au /* 10.98.0.42..57 */

/* Queue 0 learns more peers than queue 1's ARP-sharing ring holds while
 * queue 1's worker does not run: the mappings that do not fit are
 * counted (arp_share_lost) and queue 1 resolves those peers by itself;
 * those that fit reach it. Once queue 1 took its ring, sharing works
 * again: what it then receives releases its datagram waiting for ARP. */
static void test_arp_share_ring_full(void **state)
{
	(void)state;
	static const char *const l[] = { "10.98.0.1:5060" };
	struct pk_io_config cfg;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint8_t b[128];
	char err[256];

	port = ring_port(b_in, b_out, 2);
	listeners(&cfg, 1, l);
	cfg.n_queues = 2;
	struct pk_io_dpdk_config dc = { .port_id = port, .n_mbufs = 2047, .spread = PK_IO_DPDK_SPREAD_DEVICE };
	io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL)
		fail_msg("pk_io_dpdk_create: %s", err);
	assert_int_equal(cfg.n_queues, 2);
	struct pk_io_queue *q0 = pk_io_queue_get(io, 0), *q1 = pk_io_queue_get(io, 1);
	q = q0;
	assert_int_equal(wire_take(b_out[0], b), 42); /* the gratuitous ARP */

	/* the ring holds 63: three rounds of 16 fit, the fourth does not */
	for (unsigned r = 0; r < 3; r++)
		arp_round(q0, G1);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARED), 48);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARE_LOST), 0);
	arp_round(q0, G2);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARED), 48);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARE_LOST), PK_NET_LEARNT_MAX);
	assert_string_equal(pk_io_dpdk_counter_name(PK_IO_DPDK_CTR_ARP_SHARE_LOST), "arp_share_lost");

	/* queue 1 takes what fitted: a peer of the first group is known,
	 * one of the second is asked for */
	assert_int_equal(pk_io_rx_burst(q1, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(dctr(q1, PK_IO_DPDK_CTR_ARP_FROM_PEERS), 48);
	commit_from(q1, 0, G1 + 3, "known");
	assert_int_equal(pk_io_tx_flush(q1), 1);
	expect_datagram(b_out[1], OUR_IP, G1 + 3, "known");
	commit_from(q1, 0, G2 + 3, "waits");
	assert_int_equal(pk_io_tx_flush(q1), 1);
	expect_arp_request(b_out[1], OUR_IP, G2 + 3);
	assert_int_equal(rte_ring_count(b_out[1]), 0);

	/* room again: the second group shared, the datagram leaves */
	arp_round(q0, G2);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARED), 64);
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_SHARE_LOST), PK_NET_LEARNT_MAX);
	assert_int_equal(pk_io_rx_burst(q1, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(dctr(q1, PK_IO_DPDK_CTR_ARP_FROM_PEERS), 64);
	expect_datagram(b_out[1], OUR_IP, G2 + 3, "waits");
	assert_int_equal(rte_ring_count(b_out[1]), 0);
	assert_int_equal(rte_ring_count(b_out[0]), 0);
	assert_int_equal(rte_mempool_in_use_count(io_pool(port)),
			 pk_io_dpdk_frames_held(q0) + pk_io_dpdk_frames_held(q1));
	close_io();
}

/* An io on two fresh ports, X (on x_in/x_out, 10.96.1.1/24) and Y (on
 * y_in/y_out, 10.96.2.1/24), a listener on each (0: X, 1: Y), n_queues
 * asked; their gratuitous ARPs taken off the wire. */
static void open_two(unsigned n_queues, struct pk_io_config *cfg)
{
	static const char *const l[] = { "10.96.1.1:5060", "10.96.2.1:5060" };
	struct rte_ether_addr mac;
	uint8_t b[128];
	char err[256];

	uint16_t px = ring_port(&x_in, &x_out, 1), py = ring_port(&y_in, &y_out, 1);
	port = px;
	listeners(cfg, 2, l);
	cfg->n_queues = n_queues;
	struct pk_io_dpdk_config dc = { .n_ports = 2, .n_mbufs = 2047 };
	dc.ports[0] = (struct pk_io_dpdk_port){ .port_id = px, .n_addrs = 1, .addrs = { htonl(X_IP) } };
	dc.ports[1] = (struct pk_io_dpdk_port){ .port_id = py, .n_addrs = 1, .addrs = { htonl(Y_IP) } };
	io = pk_io_dpdk_create(cfg, &dc, err, sizeof(err));
	if (io == NULL)
		fail_msg("pk_io_dpdk_create: %s", err);
	q = pk_io_queue_get(io, 0);
	assert_int_equal(rte_eth_macaddr_get(px, &mac), 0);
	memcpy(our_mac, mac.addr_bytes, 6); /* (net_ring ports all have the same) */
	assert_int_equal(wire_take(x_out, b), 42);
	assert_int_equal(wire_take(y_out, b), 42);
}

/* Two ports, several workers asked, neither port spreading frames (no
 * RSS): one queue for both, and the start-up line says why for each. */
static void test_two_ports_one_queue(void **state)
{
	(void)state;
	struct pk_io_config cfg;

	open_two(2, &cfg);
	assert_int_equal(cfg.n_queues, 1);
	assert_null(pk_io_queue_get(io, 1));
	const char *d = pk_io_dpdk_describe(io);
	const char *p1 = strstr(d, " | ");
	assert_non_null(p1);
	assert_non_null(strstr(d, "1 queue(s) of 2 asked, ONE queue: the port offers no IPv4 RSS"));
	assert_true(strstr(d, "ONE queue") < p1);
	assert_non_null(strstr(p1, "1 queue(s) of 2 asked, one queue: another port offers no IPv4 RSS"));
	close_io();
}

/* A port skipped by a receive burst that the other port filled still
 * runs its timers: Y's unanswered ARP request is sent again (its retry
 * timer, 1 s, expired) in the very burst that took 32 frames from X and
 * none of the one waiting on Y; Y's frame comes with the next burst. */
static void test_skipped_port_keeps_its_timers(void **state)
{
	(void)state;
	struct pk_io_config cfg;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint8_t f[256], mac[6];

	open_two(1, &cfg);
	commit_from(q, 1, PY_IP, "waits");
	assert_int_equal(pk_io_tx_flush(q), 1);
	expect_arp_request(y_out, Y_IP, PY_IP);
	rte_delay_us_sleep(1100 * 1000); /* the timer under test (arp_retry_ms: 1000) */

	size_t n = udp_in(f, PX_IP, X_IP, "x");
	for (unsigned i = 0; i < PK_IO_BURST + 1; i++)
		wire_put(pool, x_in, f, n);
	wire_put(pool, y_in, f, udp_in(f, PY_IP, Y_IP, "y"));
	/* the first burst of this io polls X first (then Y, then X, ...) */
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), PK_IO_BURST);
	for (unsigned i = 0; i < PK_IO_BURST; i++)
		assert_int_equal(msgs[i]->listener, 0);
	expect_arp_request(y_out, Y_IP, PY_IP);
	assert_int_equal(nctr(q, 1, PK_NET_CTR_ARP_REQUEST_TX), 2);
	assert_int_equal(rte_ring_count(y_out), 0);

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 2);
	assert_int_equal(msgs[0]->listener + msgs[1]->listener, 1); /* one from each port */
	/* the answer: the datagram leaves */
	mac_of(PY_IP, mac);
	size_t l2 = eth(f, our_mac, mac, -1, 0x0806);
	memset(f + l2, 0, 60 - l2);
	arp_body(f + l2, 2, mac, PY_IP, our_mac, Y_IP);
	wire_put(pool, y_in, f, 60);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	expect_datagram(y_out, Y_IP, PY_IP, "waits");
	assert_int_equal(rte_ring_count(x_out), 0);
	io_pool_whole();
	close_io();
}

/* A tap on a port's TX queue (an ethdev TX callback): copies of the
 * frames handed to the port while armed. After pk_io_destroy the frames
 * on the wire cannot be read: they are mbufs of the backend's mempool,
 * freed (and zeroed by the EAL) with it; the tap copied them before.
 * The ethdev keeps a port's callbacks past its release and calls them
 * for the next port of the same id: the tap stays, disarmed, for the
 * rest of the process. */
struct tap {
	bool armed;
	unsigned n;
	size_t len[4];
	uint8_t frame[4][128];
};

static uint16_t tap_tx(uint16_t p, uint16_t qid, struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	struct tap *t = arg;

	(void)p;
	(void)qid;
	for (uint16_t i = 0; t->armed && i < n && t->n < PK_ARRAY_SIZE(t->frame); i++, t->n++) {
		t->len[t->n] = RTE_MIN(rte_pktmbuf_data_len(pkts[i]), sizeof(t->frame[0]));
		memcpy(t->frame[t->n], rte_pktmbuf_mtod(pkts[i], void *), t->len[t->n]);
	}
	return n;
}

/* Answers waiting in the TX buffer (behind a full receive burst) when
 * the io is destroyed still go to the port, in order; the received
 * frames behind the last burst's messages go back to their pool. */
static void test_buffered_at_destroy(void **state)
{
	(void)state;
	static struct tap t;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint8_t f[256];
	void *gone;

	open_one(a_out, 0);
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	size_t n = udp_in(f, PEER_IP, OUR_IP, "OPTIONS");
	for (unsigned i = 0; i < PK_IO_BURST + 1; i++)
		wire_put(pool, a_in, f, n);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), PK_IO_BURST);
	commit_to(PEER_IP, "ans0");
	commit_to(PEER_IP, "ans1");
	assert_int_equal(pk_io_tx_flush(q), 2);
	assert_int_equal(rte_ring_count(a_out), 0); /* held: more was waiting */
	memset(&t, 0, sizeof(t));
	assert_non_null(rte_eth_add_tx_callback(port, 0, tap_tx, &t));
	t.armed = true;
	pk_io_destroy(io);
	io = NULL;
	t.armed = false;
	assert_int_equal(t.n, 2);
	check_datagram(t.frame[0], t.len[0], OUR_IP, PEER_IP, "ans0");
	check_datagram(t.frame[1], t.len[1], OUR_IP, PEER_IP, "ans1");
	assert_int_equal(rte_ring_count(a_out), 2);
	while (rte_ring_dequeue(a_out, &gone) == 0)
		; /* freed with the backend's pool: not to be touched */
	assert_int_equal(rte_ring_count(a_in), 1); /* the one not received */
	close_io();
}

/* A configured IP MTU below the port's: a datagram larger than it
 * leaves in fragments no larger, which put together are the datagram. */
static void test_configured_mtu(void **state)
{
	(void)state;
	static uint8_t big[1500], whole[1600];
	uint8_t b[2048];
	size_t have = 0, n;
	unsigned frames = 0;

	open_one(a_out, 1000);
	assert_non_null(strstr(pk_io_dpdk_describe(io), "IP MTU 1000"));
	arp_ask(a_in, a_out, q, PEER_IP, OUR_IP);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	assert_int_equal(m->cap, 1000 - 28);
	m = pk_io_tx_grow(q);
	assert_non_null(m);
	memcpy(m->data, big, sizeof(big));
	m->len = sizeof(big);
	m->transport = PK_TRANSPORT_UDP;
	addr4(&m->dst, PEER_IP, 5062);
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	while ((n = wire_take(a_out, b)) != 0) {
		assert_true(get16(b + 16) <= 1000);
		assert_int_equal(get16(b + 16), n - 14);
		assert_int_equal((size_t)(get16(b + 20) & 0x1fff) * 8, have);
		memcpy(whole + have, b + 34, n - 34);
		have += n - 34;
		frames++;
	}
	assert_int_equal(frames, 2);
	assert_int_equal(have, 8 + sizeof(big));
	assert_memory_equal(whole + 8, big, sizeof(big));
	io_pool_whole();
	close_io();
}

/* pk_io_dpdk_create(cfg, dc) fails with err saying want. */
static void refused_with(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc, const char *want)
{
	char err[256] = "";

	assert_null(pk_io_dpdk_create(cfg, dc, err, sizeof(err)));
	if (strstr(err, want) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", want, err);
}

/* The same, and the EAL's memory left as it was found. */
static void refused(struct pk_io_config *cfg, const struct pk_io_dpdk_config *dc, const char *want)
{
	size_t heap = eal_heap_bytes();

	refused_with(cfg, dc, want);
	assert_int_equal(eal_heap_bytes(), heap);
}

/* The configurations pk_io_dpdk_create refuses before it touches a port:
 * each says why; the port is still there for a good one. */
static void test_refused_configs(void **state)
{
	(void)state;
	static const char *const one[] = { "10.98.0.1:5060" };
	static const char *const nine[] = { "10.98.0.1:5060", "10.98.0.2:5060", "10.98.0.3:5060",
					    "10.98.0.4:5060", "10.98.0.5:5060", "10.98.0.6:5060",
					    "10.98.0.7:5060", "10.98.0.8:5060", "10.98.0.9:5060" };
	static char ports17[17][24];
	const char *seventeen[17];
	struct pk_io_config cfg;
	char want[160];

	port = ring_port(&a_in, &a_out, 1);
	struct pk_io_dpdk_config dc = { .port_id = port, .n_mbufs = 1023 };

	listeners(&cfg, 1, one);
	cfg.n_queues = 0;
	refused(&cfg, &dc, "dpdk: 1..64 queues and 1..32 listeners");
	cfg.n_queues = PK_IO_MAX_QUEUES + 1;
	refused(&cfg, &dc, "dpdk: 1..64 queues and 1..32 listeners");
	cfg.n_queues = 1;
	cfg.n_listeners = 0;
	refused(&cfg, &dc, "dpdk: 1..64 queues and 1..32 listeners");
	cfg.n_listeners = PK_IO_MAX_LISTENERS + 1;
	refused(&cfg, &dc, "dpdk: 1..64 queues and 1..32 listeners");

	/* no such port */
	uint16_t none = 0;
	while (rte_eth_dev_is_valid_port(none))
		none++;
	listeners(&cfg, 1, one);
	dc.port_id = none;
	snprintf(want, sizeof(want), "dpdk: no port %u (bind a NIC or give --vdev)", none);
	refused(&cfg, &dc, want);
	dc.port_id = port;

	/* a port of the list without addresses, or with too many */
	struct pk_io_dpdk_config dl = { .n_ports = 1, .n_mbufs = 1023 };
	dl.ports[0] = (struct pk_io_dpdk_port){ .port_id = port };
	snprintf(want, sizeof(want), "dpdk: port %u needs 1..8 addresses", port);
	refused(&cfg, &dl, want);
	dl.ports[0].n_addrs = PK_NET_MAX_ADDRS + 1;
	refused(&cfg, &dl, want);

	/* the one port: listeners on nine addresses, or on seventeen UDP ports */
	listeners(&cfg, PK_ARRAY_SIZE(nine), nine);
	refused(&cfg, &dc, "dpdk: more than 8 addresses or 16 UDP ports on a port");
	for (unsigned i = 0; i < 17; i++) {
		snprintf(ports17[i], sizeof(ports17[i]), "10.98.0.1:%u", 5060 + i);
		seventeen[i] = ports17[i];
	}
	listeners(&cfg, 17, seventeen);
	refused(&cfg, &dc, "dpdk: more than 8 addresses or 16 UDP ports on a port");

	/* more workers than the port has queues */
	listeners(&cfg, 1, one);
	cfg.n_queues = 2;
	dc.spread = PK_IO_DPDK_SPREAD_DEVICE;
	snprintf(want, sizeof(want),
		 "dpdk: port %u (net_ring) has 1 RX / 1 TX queues, 2 workers need one each", port);
	refused(&cfg, &dc, want);
	assert_int_equal(cfg.n_queues, 2);
	cfg.n_queues = 1;
	dc.spread = PK_IO_DPDK_SPREAD_AUTO;

	/* a mempool larger than the EAL's memory (io.dpdk.mbufs: up to 2^24) */
	dc.n_mbufs = 1u << 24;
	snprintf(want, sizeof(want), "dpdk: mempool of %u mbufs of %u bytes: ", 1u << 24,
		 RTE_MBUF_DEFAULT_BUF_SIZE);
	refused(&cfg, &dc, want);
	assert_null(io_pool(port));
	dc.n_mbufs = 1023;

	/* the port untouched: a good configuration takes it */
	char err[256];
	io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL)
		fail_msg("pk_io_dpdk_create after the refusals: %s", err);
	q = pk_io_queue_get(io, 0);
	close_io();
}

/* An mbuf data room too small (io.dpdk.data_room) for DPDK's headroom, an
 * Ethernet header with a VLAN tag and a 576-byte packet: refused with the
 * least it must be, before any pool, ring or queue is made for it and
 * before the port is touched. (A room the network layer refuses:
 * test_net_limits.c.) */
static void test_refused_data_room(void **state)
{
	(void)state;
	static const char *const one[] = { "10.98.0.1:5060" };
	static const struct {
		uint16_t room;
		const char *want;
	} cases[] = {
		{ RTE_PKTMBUF_HEADROOM + 18 + 575, "data_room 721 is too small: at least 722 (128 of headroom" },
		{ 100, "data_room 100 is too small: at least 722" },
	};
	struct pk_io_config cfg;
	char name[RTE_RING_NAMESIZE];

	for (unsigned i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		size_t heap = eal_heap_bytes();
		port = ring_port(&a_in, &a_out, 1);
		listeners(&cfg, 1, one);
		struct pk_io_dpdk_config dc = { .port_id = port, .n_mbufs = 1023, .data_room = cases[i].room };
		refused_with(&cfg, &dc, cases[i].want);
		assert_null(io_pool(port));
		snprintf(name, sizeof(name), "pk_arp_%u_0", port);
		assert_null(rte_ring_lookup(name));
		assert_int_equal(rte_ring_count(a_out), 0);
		/* refused before the port was touched: still there, stopped */
		struct rte_eth_link link;
		assert_true(rte_eth_dev_is_valid_port(port));
		assert_int_equal(rte_eth_link_get_nowait(port, &link), 0);
		assert_int_equal(link.link_status, RTE_ETH_LINK_DOWN);
		assert_int_equal(rte_eth_dev_close(port), 0);
		assert_int_equal(eal_heap_bytes(), heap); /* nothing of the refusal left */
	}
}

int main(void)
{
	if ((pool = wire_eal_up("test_net_io_limits", "pk-test-net-io-limits")) == NULL)
		return 1;
	pool_b = rte_pktmbuf_pool_create("pk_test_wire_b", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	pool_c = rte_pktmbuf_pool_create("pk_test_wire_c", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	a_in = wire_ring("pk_lim_a_in");
	a_out = wire_ring("pk_lim_a_out");
	small_out = rte_ring_create("pk_lim_small_out", 8, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	x_in = wire_ring("pk_lim_x_in");
	x_out = wire_ring("pk_lim_x_out");
	y_in = wire_ring("pk_lim_y_in");
	y_out = wire_ring("pk_lim_y_out");
	char rn[32];
	for (int i = 0; i < 2; i++) {
		snprintf(rn, sizeof(rn), "pk_lim_b_in%d", i);
		b_in[i] = wire_ring(rn);
		snprintf(rn, sizeof(rn), "pk_lim_b_out%d", i);
		b_out[i] = wire_ring(rn);
	}
	if (pool_b == NULL || pool_c == NULL || a_in == NULL || a_out == NULL || small_out == NULL ||
	    x_in == NULL || x_out == NULL || y_in == NULL || y_out == NULL || b_in[0] == NULL ||
	    b_in[1] == NULL || b_out[0] == NULL || b_out[1] == NULL) {
		fprintf(stderr, "test setup: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	/* Independent: each test makes its io on ports of its own, and the
	 * teardown takes away what a failed one left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tx_ring_full, teardown),
		cmocka_unit_test_teardown(test_pool_empty_at_tx_alloc, teardown),
		cmocka_unit_test_teardown(test_33rd_message_flushes_the_first_32, teardown),
		cmocka_unit_test_teardown(test_abandoned_message, teardown),
		cmocka_unit_test_teardown(test_unsendable_in_a_burst, teardown),
		cmocka_unit_test_teardown(test_rx_mbufs_of_every_kind, teardown),
		cmocka_unit_test_teardown(test_arp_share_ring_full, teardown),
		cmocka_unit_test_teardown(test_two_ports_one_queue, teardown),
		cmocka_unit_test_teardown(test_skipped_port_keeps_its_timers, teardown),
		cmocka_unit_test_teardown(test_buffered_at_destroy, teardown),
		cmocka_unit_test_teardown(test_configured_mtu, teardown),
		cmocka_unit_test_teardown(test_refused_configs, teardown),
		cmocka_unit_test_teardown(test_refused_data_room, teardown),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	struct rte_ring *rings[] = { a_in, a_out, small_out, b_in[0], b_in[1], b_out[0], b_out[1],
				     x_in, x_out, y_in, y_out };
	for (unsigned i = 0; i < PK_ARRAY_SIZE(rings); i++)
		rte_ring_free(rings[i]);
	if (r == 0 &&
	    (!rte_mempool_full(pool) || !rte_mempool_full(pool_b) || !rte_mempool_full(pool_c))) {
		fprintf(stderr, "the test's frames did not all come back to its pools\n");
		r = 1;
	}
	rte_mempool_free(pool_c);
	rte_mempool_free(pool_b);
	rte_mempool_free(pool);
	wire_eal_down();
	return r;
}
