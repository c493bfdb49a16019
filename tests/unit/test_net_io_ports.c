/* SPDX-License-Identifier: MIT */
/*
 * The DPDK I/O backend (dataplane/io/dpdk.c) on two ports at once
 * (pk_io_dpdk_config.ports): two net_ring ports, X and Y, whose RX rings
 * the test fills with hand-built frames and whose TX rings it empties.
 * Covers: each port's gratuitous ARP with its own MAC and address; the
 * listeners' links; pk_io_route (on-link prefix or static route, then
 * the gateway's port, none); a datagram in on each port handed to the pipeline with the
 * listener of that port; a message out leaving by its listener's port,
 * resolving its next hop there (on-link, or the gateway) and never on the
 * other port; a static route's destination sent to its next hop on its
 * port, which has no gateway; ARP for one port's address asked on the other not answered;
 * a full port not starving the other; the refused configurations (a
 * listener on no port, a port given twice, an address on two ports, a
 * port without a listener, too many ports); the mempool sized for every
 * port. EAL as in test_net_io.c.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "pickup/io_dpdk.h"
#include "test_net_frames.h"
#include "test_net_wire.h"

static struct rte_mempool *pool; /* the test's frames */
static struct rte_ring *x_in, *x_out, *y_in, *y_out;
static uint16_t port_x, port_y;
static uint8_t x_mac[6], y_mac[6];
static struct pk_io *io;
static struct pk_io_queue *q;
static struct pk_io_config cfg;

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ZERO[6];
static const uint8_t PX_MAC[6] = { 0x02, 0, 0, 0, 1, 0x09 }; /* a phone on X */
static const uint8_t PY_MAC[6] = { 0x02, 0, 0, 0, 2, 0x09 }; /* a phone on Y */
static const uint8_t GW_MAC[6] = { 0x02, 0, 0, 0, 2, 0xfe }; /* Y's gateway */
#define X_IP 0x0a610101u  /* 10.97.1.1/24 */
#define X2_IP 0x0a610501u /* 10.97.5.1/24: X's second address */
#define Y_IP 0x0a610201u  /* 10.97.2.1/16: holds X's prefixes too */
#define PX_IP 0x0a610109u /* 10.97.1.9 */
#define PY_IP 0x0a610209u /* 10.97.2.9 */
#define GW_IP 0x0a6102feu /* 10.97.2.254 */
#define FAR_IP 0xc0000207u /* 192.0.2.7: off-link for both */
#define RT_IP 0xc6336407u /* 198.51.100.7: X's static route's */
#define RT_NH 0x0a6101feu /* 10.97.1.254: that route's next hop, on X */
static const uint8_t RT_MAC[6] = { 0x02, 0, 0, 0, 1, 0xfe }; /* that next hop */

static void ring_in(struct rte_ring *r, const void *bytes, size_t n)
{
	wire_put(pool, r, bytes, n);
}

/* Next frame sent on a port, copied out; 0 when none. */
static size_t ring_out(struct rte_ring *r, uint8_t *b)
{
	return wire_take(r, b);
}

static void addr4(struct pk_addr *a, uint32_t ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	put32(a->ip, ip);
	a->port = port;
}

/* A UDP frame from a peer to one of our addresses. */
static size_t udp_frame(uint8_t *in, const uint8_t *to_mac, const uint8_t *from_mac,
			uint32_t from, uint32_t to, uint16_t dport, const char *text)
{
	size_t l2 = eth(in, to_mac, from_mac, -1, 0x0800);
	size_t u = udp(in + l2 + 20, from, to, 5062, dport, text, strlen(text), true);
	ip4(in + l2, from, to, 17, 1, 0, 64, u);
	return l2 + 20 + u;
}

/* One message from listener li to ip:5062, flushed: sent datagrams
 * counted by the flush (0 when it has no route). */
static void send_from_sent(unsigned li, uint32_t ip, const char *text, unsigned sent)
{
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	m->len = (uint32_t)strlen(text);
	memcpy(m->data, text, m->len);
	m->transport = PK_TRANSPORT_UDP;
	m->listener = (uint8_t)li;
	addr4(&m->dst, ip, 5062);
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), sent);
}

static void send_from(unsigned li, uint32_t ip, const char *text)
{
	send_from_sent(li, ip, text, 1);
}

/* The next frame on a port's TX ring: an ARP request from our MAC and
 * address for target. */
static void expect_arp_request(struct rte_ring *r, const uint8_t *our_mac, uint32_t ours, uint32_t target)
{
	uint8_t b[256];

	assert_int_equal(ring_out(r, b), 42);
	assert_memory_equal(b + 6, our_mac, 6);
	assert_int_equal(get16(b + 20), 1);
	assert_int_equal(get32(b + 28), ours);
	assert_int_equal(get32(b + 38), target);
}

/* The next frame on a port's TX ring: the datagram text from our MAC and
 * address to mac and ip. */
static void expect_datagram(struct rte_ring *r, const uint8_t *mac, uint32_t ip, const uint8_t *our_mac,
			    uint32_t ours, const char *text)
{
	uint8_t b[256];
	size_t n = strlen(text);

	assert_int_equal(ring_out(r, b), 42 + n);
	assert_memory_equal(b, mac, 6);
	assert_memory_equal(b + 6, our_mac, 6);
	assert_int_equal(get32(b + 26), ours);
	assert_int_equal(get32(b + 30), ip);
	assert_memory_equal(b + 42, text, n);
}

static void test_garp_on_each_port(void **state)
{
	(void)state;
	uint8_t b[128], exp[64];

	size_t l2 = eth(exp, BCAST, x_mac, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 1, x_mac, X_IP, ZERO, X_IP);
	assert_int_equal(ring_out(x_out, b), en);
	assert_memory_equal(b, exp, en);
	en = l2 + arp_body(exp + l2, 1, x_mac, X2_IP, ZERO, X2_IP);
	assert_int_equal(ring_out(x_out, b), en);
	assert_memory_equal(b, exp, en);
	assert_int_equal(ring_out(x_out, b), 0);
	l2 = eth(exp, BCAST, y_mac, -1, 0x0806);
	en = l2 + arp_body(exp + l2, 1, y_mac, Y_IP, ZERO, Y_IP);
	assert_int_equal(ring_out(y_out, b), en);
	assert_memory_equal(b, exp, en);
	assert_int_equal(ring_out(y_out, b), 0);
	assert_non_null(strstr(pk_io_dpdk_describe(io), " | port "));
}

static void test_links_and_routes(void **state)
{
	(void)state;
	struct pk_addr a;

	assert_int_equal(io->n_links, 2);
	/* listeners: X:5060, X:5070, Y:5060 */
	assert_int_equal(cfg.listeners[0].link, 0);
	assert_int_equal(cfg.listeners[1].link, 0);
	assert_int_equal(cfg.listeners[2].link, 1);
	assert_int_equal(pk_io_listener_get(io, 2)->link, 1);
	/* and their ports' on-link prefixes (the proxy's subnet preference):
	 * X's default /24, Y's /16 */
	assert_int_equal(cfg.listeners[0].onlink_mask, htonl(0xffffff00u));
	assert_int_equal(cfg.listeners[1].onlink_mask, htonl(0xffffff00u));
	assert_int_equal(cfg.listeners[2].onlink_mask, htonl(0xffff0000u));
	assert_int_equal(pk_io_listener_get(io, 2)->onlink_mask, htonl(0xffff0000u));
	addr4(&a, PX_IP, 5060); /* X's /24 and Y's /16 hold it: the longer */
	assert_int_equal(pk_io_route(io, &a), 0);
	addr4(&a, 0x0a610509u, 5060); /* 10.97.5.9: X's second address's /24 */
	assert_int_equal(pk_io_route(io, &a), 0);
	addr4(&a, PY_IP, 5060);
	assert_int_equal(pk_io_route(io, &a), 1);
	addr4(&a, 0x0a610709u, 5060); /* 10.97.7.9: Y's /16 only, on-link there */
	assert_int_equal(pk_io_route(io, &a), 1);
	addr4(&a, FAR_IP, 5060); /* off-link: the port with the gateway */
	assert_int_equal(pk_io_route(io, &a), 1);
	addr4(&a, RT_IP, 5060); /* X's static route: X, though Y has the gateway */
	assert_int_equal(pk_io_route(io, &a), 0);
	addr4(&a, RT_IP ^ 0x100u, 5060); /* 198.51.101.7: past the route's /24 */
	assert_int_equal(pk_io_route(io, &a), 1);
	assert_non_null(strstr(pk_io_dpdk_describe(io), "; routes 198.51.100.0/24 via 10.97.1.254"));
	assert_int_equal(pk_addr_parse(PK_STR_LIT("[2001:db8::1]:5060"), false, &a), 0);
	assert_int_equal(pk_io_route(io, &a), -1);
}

static void test_rx_on_each_port(void **state)
{
	(void)state;
	const char *a = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	const char *b = "OPTIONS sip:y SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	ring_in(x_in, in, udp_frame(in, x_mac, PX_MAC, PX_IP, X_IP, 5070, a));
	ring_in(y_in, in, udp_frame(in, y_mac, PY_MAC, PY_IP, Y_IP, 5060, b));
	/* X's address sent to Y's port: not ours there */
	ring_in(y_in, in, udp_frame(in, y_mac, PY_MAC, PY_IP, X_IP, 5060, b));
	/* to another MAC */
	ring_in(y_in, in, udp_frame(in, PX_MAC, PY_MAC, PY_IP, Y_IP, 5060, b));
	unsigned n = pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);
	assert_int_equal(n, 2);
	for (unsigned i = 0; i < n; i++) {
		if (msgs[i]->len == strlen(a) && memcmp(msgs[i]->data, a, strlen(a)) == 0) {
			assert_int_equal(msgs[i]->listener, 1); /* X:5070 */
			assert_int_equal(get32(msgs[i]->src.ip), PX_IP);
		} else {
			assert_memory_equal(msgs[i]->data, b, strlen(b));
			assert_int_equal(msgs[i]->listener, 2); /* Y:5060 */
			assert_int_equal(get32(msgs[i]->dst.ip), Y_IP);
		}
	}
	assert_int_equal(nctr(q, 1, PK_NET_CTR_IP_NOT_FOR_US), 1);
	assert_int_equal(nctr(q, 1, PK_NET_CTR_ETH_OTHER_MAC), 1);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_UDP_RX), 1);
	uint64_t none[PK_NET_CTR_COUNT];
	assert_false(pk_io_dpdk_port_net_counters(q, 2, none));
}

static void test_arp_per_port(void **state)
{
	(void)state;
	uint8_t in[64] = { 0 }, b[128];
	struct pk_io_msg *msgs[PK_IO_BURST];

	/* Y's address asked on X: not ours there */
	size_t l2 = eth(in, BCAST, PX_MAC, -1, 0x0806);
	arp_body(in + l2, 1, PX_MAC, PX_IP, ZERO, Y_IP);
	ring_in(x_in, in, 60);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(ring_out(x_out, b), 0);
	assert_int_equal(ring_out(y_out, b), 0);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_ARP_NOT_FOR_US), 1);
	/* X's asked on X: answered with X's MAC */
	arp_body(in + l2, 1, PX_MAC, PX_IP, ZERO, X_IP);
	ring_in(x_in, in, 60);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(ring_out(x_out, b), 42);
	assert_memory_equal(b, PX_MAC, 6);
	assert_memory_equal(b + 6, x_mac, 6);
	assert_int_equal(get16(b + 20), 2);
	assert_int_equal(get32(b + 28), X_IP);
	assert_int_equal(ring_out(y_out, b), 0);
}

/* An ARP reply from mac/ip to us on port X or Y, taken in. */
static void arp_reply_on(bool on_x, const uint8_t *mac, uint32_t ip)
{
	uint8_t in[64] = { 0 };
	struct pk_io_msg *msgs[PK_IO_BURST];
	const uint8_t *ours = on_x ? x_mac : y_mac;
	size_t l2 = eth(in, ours, mac, -1, 0x0806);

	arp_body(in + l2, 2, mac, ip, ours, on_x ? X_IP : Y_IP);
	ring_in(on_x ? x_in : y_in, in, 60);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
}

/* To the prefix of X's static route, from X's listener: its next hop is
 * asked for on X and the datagram goes to it; X has no gateway, so
 * without the route it would be dropped (tx_no_route). */
static void test_tx_by_static_route(void **state)
{
	(void)state;
	uint8_t b[256];
	uint64_t no_route = nctr(q, 0, PK_NET_CTR_TX_NO_ROUTE);

	send_from(0, RT_IP, "routed");
	expect_arp_request(x_out, x_mac, X_IP, RT_NH);
	assert_int_equal(ring_out(y_out, b), 0);
	arp_reply_on(true, RT_MAC, RT_NH);
	expect_datagram(x_out, RT_MAC, RT_IP, x_mac, X_IP, "routed");
	assert_int_equal(nctr(q, 0, PK_NET_CTR_TX_NO_ROUTE), no_route);
}

static void test_tx_by_listener_port(void **state)
{
	(void)state;
	uint8_t b[256];

	/* From X's listener to the phone on X (its MAC known from its ARP
	 * request above): out on X at once, from X's address. */
	send_from(0, PX_IP, "to-x");
	expect_datagram(x_out, PX_MAC, PX_IP, x_mac, X_IP, "to-x");
	assert_int_equal(ring_out(y_out, b), 0);

	/* From Y's listener to the phone on Y: ARP asked on Y, with Y's MAC
	 * and address; nothing on X. */
	send_from(2, PY_IP, "to-y");
	expect_arp_request(y_out, y_mac, Y_IP, PY_IP);
	assert_int_equal(ring_out(x_out, b), 0);
	/* its reply on Y releases the datagram there */
	arp_reply_on(false, PY_MAC, PY_IP);
	expect_datagram(y_out, PY_MAC, PY_IP, y_mac, Y_IP, "to-y");

	/* Off-link from Y's listener: through Y's gateway. */
	send_from(2, FAR_IP, "far");
	expect_arp_request(y_out, y_mac, Y_IP, GW_IP);
	assert_int_equal(ring_out(x_out, b), 0);
	arp_reply_on(false, GW_MAC, GW_IP);
	expect_datagram(y_out, GW_MAC, FAR_IP, y_mac, Y_IP, "far");

	/* Off-link from X's listener: X has no gateway, dropped and counted. */
	uint64_t before = nctr(q, 0, PK_NET_CTR_TX_NO_ROUTE);
	send_from_sent(0, FAR_IP, "far", 0);
	assert_int_equal(nctr(q, 0, PK_NET_CTR_TX_NO_ROUTE), before + 1);
	assert_int_equal(ring_out(x_out, b), 0);
	assert_int_equal(ring_out(y_out, b), 0);
}

/* A worker: receive bursts until told to stop (pk_io_dpdk_neighbours is
 * answered from a burst). */
static atomic_bool worker_stop;

static void *worker_loop(void *arg)
{
	struct pk_io_msg *msgs[PK_IO_BURST];

	(void)arg;
	while (!atomic_load(&worker_stop))
		(void)pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);
	return NULL;
}

static const struct pk_net_neighbour *nb_find(const struct pk_net_neighbour *nb, unsigned n, uint32_t ip)
{
	for (unsigned i = 0; i < n; i++)
		if (nb[i].ip == htonl(ip))
			return &nb[i];
	return NULL;
}

/* Each port's ARP cache as the queue's worker has it, copied by the
 * worker itself at its next burst: what the sends above resolved, on the
 * port they were resolved on; nothing when no worker runs (a timeout). */
static void test_neighbours(void **state)
{
	(void)state;
	static struct pk_net_neighbour nb[PK_IO_DPDK_MAX_PORTS][PK_NET_ARP_ENTRIES];
	unsigned n[PK_IO_DPDK_MAX_PORTS];
	const struct pk_net_neighbour *e;
	pthread_t t;

	assert_int_equal(pk_io_dpdk_neighbours(q, 20, nb, n), -ETIMEDOUT);
	atomic_store(&worker_stop, false);
	assert_int_equal(pthread_create(&t, NULL, worker_loop, NULL), 0);
	for (unsigned k = 0; k < 3; k++) /* the mailbox serves request after request */
		assert_int_equal(pk_io_dpdk_neighbours(q, 5000, nb, n), 0);
	atomic_store(&worker_stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);

	/* X: the phone and the static route's next hop; Y: its phone and
	 * the gateway; none on the other port */
	e = nb_find(nb[0], n[0], PX_IP);
	assert_non_null(e);
	assert_int_equal(e->state, PK_NET_ARP_REACHABLE);
	assert_memory_equal(e->mac.addr_bytes, PX_MAC, 6);
	e = nb_find(nb[0], n[0], RT_NH);
	assert_non_null(e);
	assert_memory_equal(e->mac.addr_bytes, RT_MAC, 6);
	assert_null(nb_find(nb[0], n[0], GW_IP));
	e = nb_find(nb[1], n[1], GW_IP);
	assert_non_null(e);
	assert_int_equal(e->state, PK_NET_ARP_REACHABLE);
	assert_memory_equal(e->mac.addr_bytes, GW_MAC, 6);
	assert_non_null(nb_find(nb[1], n[1], PY_IP));
	assert_null(nb_find(nb[1], n[1], PX_IP));
	assert_int_equal(n[2], 0);
	assert_int_equal(pk_io_dpdk_neighbours(NULL, 20, nb, n), -EINVAL);
}

/* Each port's link as its driver says (net_ring: up once started, down
 * and up again by rte_eth_dev_set_link_down/up) and the watch: the first
 * look announces the state, then only changes, counted per port. */
static void test_link_watch(void **state)
{
	(void)state;
	struct pk_io_dpdk_link l;

	assert_true(pk_io_dpdk_port_link(io, 0, &l));
	assert_true(l.up);
	assert_int_equal(l.changes, 0);
	assert_false(pk_io_dpdk_port_link(io, 2, &l));
	assert_int_equal(pk_io_dpdk_port_link_watch(io, 2, &l), -1);
	for (unsigned p = 0; p < 2; p++) {
		assert_int_equal(pk_io_dpdk_port_link_watch(io, p, &l), 1); /* the first look */
		assert_true(l.up);
		assert_int_equal(pk_io_dpdk_port_link_watch(io, p, &l), 0);
	}
	/* Y down: seen once, and the workers forget Y's neighbours (at
	 * their next burst), not X's */
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint64_t forgot_x = nctr(q, 0, PK_NET_CTR_ARP_FLUSHED);
	assert_int_equal(rte_eth_dev_set_link_down(port_y), 0);
	assert_int_equal(pk_io_dpdk_port_link_watch(io, 0, &l), 0);
	assert_int_equal(pk_io_dpdk_port_link_watch(io, 1, &l), 1);
	assert_false(l.up);
	assert_int_equal(l.changes, 1);
	assert_int_equal(pk_io_dpdk_port_link_watch(io, 1, &l), 0);
	assert_true(pk_io_dpdk_port_link(io, 1, &l));
	assert_false(l.up);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	assert_true(nctr(q, 1, PK_NET_CTR_ARP_FLUSHED) >= 2); /* the phone and the gateway */
	assert_int_equal(nctr(q, 0, PK_NET_CTR_ARP_FLUSHED), forgot_x);
	/* up again: Y's address announced (a gratuitous ARP on Y), nothing
	 * on X */
	uint8_t b[128], exp[64];
	while (ring_out(y_out, b) != 0)
		;
	assert_int_equal(rte_eth_dev_set_link_up(port_y), 0);
	assert_int_equal(pk_io_dpdk_port_link_watch(io, 1, &l), 1);
	assert_true(l.up);
	assert_int_equal(l.changes, 2);
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	size_t l2 = eth(exp, BCAST, y_mac, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 1, y_mac, Y_IP, ZERO, Y_IP);
	assert_int_equal(ring_out(y_out, b), en);
	assert_memory_equal(b, exp, en);
	assert_int_equal(ring_out(y_out, b), 0);
	assert_int_equal(ring_out(x_out, b), 0);
	/* the phone on Y is asked for again, by the next datagram to it */
	send_from(2, PY_IP, "again");
	expect_arp_request(y_out, y_mac, Y_IP, PY_IP);
	arp_reply_on(false, PY_MAC, PY_IP);
	expect_datagram(y_out, PY_MAC, PY_IP, y_mac, Y_IP, "again");
	assert_true(pk_io_dpdk_port_link(io, 1, &l));
	assert_int_equal(l.changes, 2);
	assert_true(pk_io_dpdk_port_link(io, 0, &l));
	assert_int_equal(l.changes, 0);
}

/* A port whose RX ring holds more than a burst does not keep the other
 * port's datagram waiting more than one more burst. */
static void test_busy_port_does_not_starve(void **state)
{
	(void)state;
	const char *t = "OPTIONS sip:z SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256];
	struct pk_io_msg *msgs[PK_IO_BURST];
	unsigned from_y = 0, total = 0;

	for (unsigned round = 0; round < 2; round++) {
		size_t n = udp_frame(in, x_mac, PX_MAC, PX_IP, X_IP, 5060, t);
		for (unsigned i = 0; i < 2 * PK_IO_BURST; i++)
			ring_in(x_in, in, n);
		ring_in(y_in, in, udp_frame(in, y_mac, PY_MAC, PY_IP, Y_IP, 5060, t));
		from_y = 0;
		for (unsigned burst = 0; burst < 2; burst++) {
			unsigned got = pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);
			assert_int_equal(got, PK_IO_BURST);
			total += got;
			for (unsigned i = 0; i < got; i++)
				from_y += msgs[i]->listener == 2;
		}
		assert_int_equal(from_y, 1); /* within two full bursts */
		unsigned got;
		while ((got = pk_io_rx_burst(q, msgs, PK_IO_BURST, 0)) != 0)
			total += got;
	}
	assert_int_equal(total, 2 * (2 * PK_IO_BURST + 1));
}

/* Each port's own counters (its driver's, pk_io_dpdk_port_stats): the
 * frames each port took and sent. After test_tx_by_listener_port, which
 * resolves the phone on Y. */
static void test_port_stats(void **state)
{
	(void)state;
	const char *a = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint64_t x0[PK_IO_DPDK_PORT_CTR_COUNT], y0[PK_IO_DPDK_PORT_CTR_COUNT];
	uint64_t x1[PK_IO_DPDK_PORT_CTR_COUNT], y1[PK_IO_DPDK_PORT_CTR_COUNT];
	uint8_t in[256], out[2048];
	struct pk_io_msg *msgs[PK_IO_BURST];

	assert_true(pk_io_dpdk_port_stats(io, 0, x0));
	assert_true(pk_io_dpdk_port_stats(io, 1, y0));
	ring_in(x_in, in, udp_frame(in, x_mac, PX_MAC, PX_IP, X_IP, 5070, a));
	ring_in(x_in, in, udp_frame(in, x_mac, PX_MAC, PX_IP, X_IP, 5070, a));
	ring_in(y_in, in, udp_frame(in, y_mac, PY_MAC, PY_IP, Y_IP, 5060, a));
	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 3);
	send_from(2, PY_IP, a); /* by Y, whose phone's MAC is known (test_tx_by_listener_port) */
	assert_true(ring_out(y_out, out) > 0);
	assert_true(pk_io_dpdk_port_stats(io, 0, x1));
	assert_true(pk_io_dpdk_port_stats(io, 1, y1));
	assert_int_equal(x1[PK_IO_DPDK_PORT_CTR_IPACKETS] - x0[PK_IO_DPDK_PORT_CTR_IPACKETS], 2);
	assert_int_equal(y1[PK_IO_DPDK_PORT_CTR_IPACKETS] - y0[PK_IO_DPDK_PORT_CTR_IPACKETS], 1);
	assert_int_equal(x1[PK_IO_DPDK_PORT_CTR_OPACKETS] - x0[PK_IO_DPDK_PORT_CTR_OPACKETS], 0);
	assert_int_equal(y1[PK_IO_DPDK_PORT_CTR_OPACKETS] - y0[PK_IO_DPDK_PORT_CTR_OPACKETS], 1);
	assert_int_equal(x1[PK_IO_DPDK_PORT_CTR_IMISSED], 0);
	assert_false(pk_io_dpdk_port_stats(io, 2, x1));
	assert_string_equal(pk_io_dpdk_port_counter_name(PK_IO_DPDK_PORT_CTR_IMISSED), "port_imissed");
	/* another backend's io: no ports */
	struct pk_io other = { 0 };
	assert_int_equal(pk_io_dpdk_n_ports(&other), 0);
	assert_false(pk_io_dpdk_port_stats(&other, 0, x1));
	assert_null(pk_io_dpdk_port_name(&other, 0));
}

static void test_refused(void **state)
{
	(void)state;
	struct pk_io_config c;
	struct pk_io_dpdk_config dc;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.n_queues = 1;
	c.n_listeners = 2;
	c.listeners[0].transport = c.listeners[1].transport = PK_TRANSPORT_UDP;
	pk_addr_parse(PK_STR_LIT("10.97.1.1:5060"), false, &c.listeners[0].addr);
	pk_addr_parse(PK_STR_LIT("10.97.3.1:5060"), false, &c.listeners[1].addr);
	memset(&dc, 0, sizeof(dc));
	dc.n_ports = 2;
	dc.ports[0] = (struct pk_io_dpdk_port){ .port_id = port_x, .n_addrs = 1, .addrs = { htonl(X_IP) } };
	dc.ports[1] = (struct pk_io_dpdk_port){ .port_id = port_y, .n_addrs = 1, .addrs = { htonl(Y_IP) } };

	/* a listener on no port */
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "10.97.3.1:5060 is on no port"));
	/* a port without a listener */
	c.n_listeners = 1;
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "has no listener"));
	/* an address on two ports */
	dc.ports[1].addrs[0] = htonl(X_IP);
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "10.97.1.1 of port"));
	assert_non_null(strstr(err, "given twice"));
	/* a port given twice */
	dc.ports[1].addrs[0] = htonl(Y_IP);
	dc.ports[1].port_id = port_x;
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "given twice"));
	/* a route's next hop off-link on its port; too many routes */
	dc.ports[1].port_id = port_y;
	c.n_listeners = 2;
	c.listeners[1].addr = c.listeners[0].addr;
	put32(c.listeners[1].addr.ip, Y_IP);
	dc.ports[1].n_routes = 1;
	dc.ports[1].routes[0] = (struct pk_net_route){ .net = htonl(0xc6336400u), .via = htonl(RT_NH), .prefix_len = 24 };
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "the next hop 10.97.1.254 of a route of port"));
	assert_non_null(strstr(err, "is in the prefix of none of its addresses"));
	dc.ports[1].routes[0].via = htonl(GW_IP);
	dc.ports[1].n_routes = PK_NET_MAX_ROUTES + 1;
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "more than 16 routes"));
	/* too many */
	dc.n_ports = PK_IO_DPDK_MAX_PORTS + 1;
	assert_null(pk_io_dpdk_create(&c, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "at most"));
	/* nothing was set up: the running io still works on both ports */
	send_from(0, PX_IP, "ok");
	expect_datagram(x_out, PX_MAC, PX_IP, x_mac, X_IP, "ok");
}

static void test_mbufs_for_every_port(void **state)
{
	(void)state;
	struct pk_io_dpdk_config one = { .port_id = 0 }, two = { .n_ports = 2 };

	/* every port has its rings, staging and tables; the lcore cache is
	 * shared */
	assert_true(pk_io_dpdk_mbufs_needed(&two, 1) > pk_io_dpdk_mbufs_needed(&one, 1));
	assert_true(pk_io_dpdk_mbufs_needed(&two, 1) + 1 >= 2 * (1024 + 1024));
}

int main(void)
{
	char err[256];

	if ((pool = wire_eal_up("test_net_io_ports", "pk-test-net-io-ports")) == NULL)
		return 1;
	x_in = wire_ring("pk_x_in");
	x_out = wire_ring("pk_x_out");
	y_in = wire_ring("pk_y_in");
	y_out = wire_ring("pk_y_out");
	if (x_in == NULL || x_out == NULL || y_in == NULL || y_out == NULL) {
		fprintf(stderr, "test setup: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int px = rte_eth_from_rings("net_ring_pk_x", &x_in, 1, &x_out, 1, 0);
	int py = rte_eth_from_rings("net_ring_pk_y", &y_in, 1, &y_out, 1, 0);
	if (px < 0 || py < 0) {
		fprintf(stderr, "rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	port_x = (uint16_t)px;
	port_y = (uint16_t)py;
	/* (net_ring ports all have MAC 00:00:00:00:00:00 and cannot change
	 * it: the ports are told apart by their rings and addresses) */
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port_x, &mac);
	memcpy(x_mac, mac.addr_bytes, 6);
	rte_eth_macaddr_get(port_y, &mac);
	memcpy(y_mac, mac.addr_bytes, 6);

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = 3;
	for (unsigned i = 0; i < 3; i++)
		cfg.listeners[i].transport = PK_TRANSPORT_UDP;
	pk_addr_parse(PK_STR_LIT("10.97.1.1:5060"), false, &cfg.listeners[0].addr);
	pk_addr_parse(PK_STR_LIT("10.97.1.1:5070"), false, &cfg.listeners[1].addr);
	pk_addr_parse(PK_STR_LIT("10.97.2.1:5060"), false, &cfg.listeners[2].addr);
	cfg.listeners[2].link = 7; /* filled in by the backend */
	struct pk_io_dpdk_config dc = { .n_ports = 2, .n_mbufs = 4095 };
	dc.ports[0] = (struct pk_io_dpdk_port){ .port_id = port_x,
						.n_addrs = 2,
						.addrs = { htonl(X_IP), htonl(X2_IP) },
						.n_routes = 1,
						.routes = { { .net = htonl(RT_IP & 0xffffff00u),
							      .via = htonl(RT_NH),
							      .prefix_len = 24 } } };
	dc.ports[1] = (struct pk_io_dpdk_port){ .port_id = port_y,
						.prefix_len = 16,
						.n_addrs = 1,
						.addrs = { htonl(Y_IP) },
						.gateway = htonl(GW_IP) };
	io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL) {
		fprintf(stderr, "pk_io_dpdk_create: %s\n", err);
		return 1;
	}
	q = pk_io_queue_get(io, 0);

	/* In order: each step builds on what the previous ones taught the
	 * backend (the peers' MACs). */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garp_on_each_port),
		cmocka_unit_test(test_links_and_routes),
		cmocka_unit_test(test_rx_on_each_port),
		cmocka_unit_test(test_arp_per_port),
		cmocka_unit_test(test_tx_by_listener_port),
		cmocka_unit_test(test_tx_by_static_route),
		cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_link_watch),
		cmocka_unit_test(test_busy_port_does_not_starve),
		cmocka_unit_test(test_port_stats),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_mbufs_for_every_port),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	pk_io_destroy(io);
	struct rte_mbuf *left = NULL;
	while (rte_ring_dequeue(x_out, (void **)&left) == 0)
		rte_pktmbuf_free(left);
	while (rte_ring_dequeue(y_out, (void **)&left) == 0)
		rte_pktmbuf_free(left);
	if (r == 0 && !rte_mempool_full(pool)) {
		fprintf(stderr, "the test's frames did not all come back to its pool\n");
		r = 1;
	}
	rte_ring_free(x_in);
	rte_ring_free(x_out);
	rte_ring_free(y_in);
	rte_ring_free(y_out);
	rte_mempool_free(pool);
	wire_eal_down();
	return r;
}
