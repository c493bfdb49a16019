/* SPDX-License-Identifier: MIT */
/*
 * The DPDK I/O backend sketch (dataplane/io/dpdk.c) through the io.h
 * interface, on a real ethdev: a net_ring port whose RX ring the test fills
 * with hand-built frames (the "wire" towards pickupd) and whose TX ring it
 * empties and checks (what pickupd put on the wire). Covers the start-up
 * gratuitous ARP, an ARP request answered, a SIP datagram in and a reply
 * out (to the MAC learnt from the peer's ARP request), a fragmented
 * INVITE in, an oversized message out in fragments, ICMP echo, and the
 * counters. EAL as in test_net.c.
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

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "pickup/io_dpdk.h"
#include "test_net_frames.h"

static struct rte_mempool *pool; /* the test's frames */
static struct rte_ring *wire_in, *wire_out;
static struct pk_io *io;
static struct pk_io_queue *q;
static uint8_t our_mac[6];

static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define OUR_IP 0x0a630001u  /* 10.99.0.1 */
#define PEER_IP 0x0a630002u /* 10.99.0.2 */

static void send_in(const void *bytes, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), bytes, n);
	assert_int_equal(rte_ring_enqueue(wire_in, m), 0);
}

/* Next frame pickupd sent, copied out; 0 when none. */
static size_t take_out(uint8_t *b)
{
	struct rte_mbuf *m;
	if (rte_ring_dequeue(wire_out, (void **)&m) != 0)
		return 0;
	size_t n = rte_pktmbuf_pkt_len(m);
	assert_int_equal(m->nb_segs, 1);
	memcpy(b, rte_pktmbuf_mtod(m, void *), n);
	rte_pktmbuf_free(m);
	return n;
}

static unsigned rx(struct pk_io_msg **msgs)
{
	return pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);
}

static void test_garp_at_start(void **state)
{
	(void)state;
	static const uint8_t zero[6];
	uint8_t b[128], exp[64];
	size_t l2 = eth(exp, BCAST, our_mac, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 1, our_mac, OUR_IP, zero, OUR_IP);
	assert_int_equal(take_out(b), en);
	assert_memory_equal(b, exp, en);
	assert_int_equal(take_out(b), 0); /* one address, one announce */
}

static void test_arp_answered(void **state)
{
	(void)state;
	static const uint8_t zero[6];
	uint8_t in[64] = { 0 }, b[128], exp[64];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t l2 = eth(in, BCAST, PEER_MAC, -1, 0x0806);
	arp_body(in + l2, 1, PEER_MAC, PEER_IP, zero, OUR_IP);
	send_in(in, 60);
	assert_int_equal(rx(msgs), 0);
	l2 = eth(exp, PEER_MAC, our_mac, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 2, our_mac, OUR_IP, PEER_MAC, PEER_IP);
	assert_int_equal(take_out(b), en);
	assert_memory_equal(b, exp, en);
}

static void test_sip_in_and_out(void **state)
{
	(void)state;
	const char *opt = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	const char *ok = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256], b[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t l2 = eth(in, our_mac, PEER_MAC, -1, 0x0800);
	size_t u = udp(in + l2 + 20, PEER_IP, OUR_IP, 5062, 5060, opt, strlen(opt), true);
	ip4(in + l2, PEER_IP, OUR_IP, 17, 1, 0, 64, u);
	send_in(in, l2 + 20 + u);
	/* to a port nobody listens on: dropped below the pipeline */
	put16(in + l2 + 20 + 2, 5999);
	put16(in + l2 + 20 + 6, 0);
	send_in(in, l2 + 20 + u);
	assert_int_equal(rx(msgs), 1);
	assert_int_equal(msgs[0]->len, strlen(opt));
	assert_memory_equal(msgs[0]->data, opt, strlen(opt));
	assert_int_equal(msgs[0]->transport, PK_TRANSPORT_UDP);
	assert_int_equal(msgs[0]->listener, 0);
	assert_int_equal(msgs[0]->src.port, 5062);
	assert_int_equal(get32(msgs[0]->src.ip), PEER_IP);
	assert_int_equal(msgs[0]->dst.port, 5060);

	struct pk_io_msg *m = pk_io_tx_alloc(q);
	memcpy(m->data, ok, strlen(ok));
	m->len = (uint32_t)strlen(ok);
	m->transport = PK_TRANSPORT_UDP;
	m->listener = 0;
	m->dst = msgs[0]->src;
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	size_t n = take_out(b);
	assert_int_equal(n, 14 + 20 + 8 + strlen(ok));
	assert_memory_equal(b, PEER_MAC, 6); /* learnt from its ARP request */
	assert_memory_equal(b + 6, our_mac, 6);
	assert_int_equal(cksum(b + 14, 20), 0);
	assert_int_equal(get32(b + 14 + 12), OUR_IP);
	assert_int_equal(get32(b + 14 + 16), PEER_IP);
	assert_int_equal(get16(b + 34), 5060);
	assert_int_equal(get16(b + 36), 5062);
	assert_memory_equal(b + 42, ok, strlen(ok));
	assert_int_equal(pk_io_dpdk_net_counters(q)[PK_NET_CTR_UDP_NO_PORT], 1);
}

static void test_fragments_in_and_out(void **state)
{
	(void)state;
	static char invite[1400];
	static uint8_t dgram[1500], big[3000], whole[3100];
	uint8_t in[1600], b[2048];
	struct pk_io_msg *msgs[PK_IO_BURST];

	int hl = snprintf(invite, sizeof(invite),
			  "INVITE sip:201@10.99.0.1 SIP/2.0\r\nCall-ID: frag@x\r\n"
			  "Content-Length: 1200\r\n\r\n");
	memset(invite + hl, 'v', 1200);
	size_t il = (size_t)hl + 1200;
	size_t dl = udp(dgram, PEER_IP, OUR_IP, 5062, 5060, invite, il, true);
	/* two fragments, the second first */
	const size_t cut[3] = { 0, 808, dl };
	for (int k = 1; k >= 0; k--) {
		size_t l2 = eth(in, our_mac, PEER_MAC, -1, 0x0800);
		size_t len = cut[k + 1] - cut[k];
		ip4(in + l2, PEER_IP, OUR_IP, 17, 77, (uint16_t)(cut[k] / 8 | (k == 0 ? 0x2000 : 0)), 64,
		    len);
		memcpy(in + l2 + 20, dgram + cut[k], len);
		send_in(in, l2 + 20 + len);
	}
	assert_int_equal(rx(msgs), 1);
	assert_int_equal(msgs[0]->len, il);
	assert_memory_equal(msgs[0]->data, invite, il);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 7));
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	memcpy(m->data, big, sizeof(big));
	m->len = sizeof(big);
	m->transport = PK_TRANSPORT_UDP;
	m->dst = msgs[0]->src;
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	size_t have = 0, n;
	unsigned frames = 0;
	while ((n = take_out(b)) != 0) {
		assert_int_equal(cksum(b + 14, 20), 0);
		assert_true(get16(b + 16) <= 1500);
		assert_int_equal((size_t)(get16(b + 20) & 0x1fff) * 8, have);
		memcpy(whole + have, b + 34, n - 34);
		have += n - 34;
		frames++;
	}
	assert_int_equal(frames, 3);
	assert_int_equal(have, 8 + sizeof(big));
	assert_memory_equal(whole + 8, big, sizeof(big));
}

static void test_ping(void **state)
{
	(void)state;
	uint8_t in[128], b[128];
	struct pk_io_msg *msgs[PK_IO_BURST];
	size_t l2 = eth(in, our_mac, PEER_MAC, -1, 0x0800);
	uint8_t *ic = in + l2 + 20;
	memset(ic, 0, 16);
	ic[0] = 8;
	put16(ic + 4, 9);
	put16(ic + 2, cksum(ic, 16));
	ip4(in + l2, PEER_IP, OUR_IP, 1, 3, 0, 64, 16);
	send_in(in, l2 + 36);
	assert_int_equal(rx(msgs), 0);
	assert_int_equal(take_out(b), l2 + 36);
	assert_int_equal(b[34], 0);
	assert_int_equal(cksum(b + 34, 16), 0);
	assert_int_equal(get32(b + 30), PEER_IP);
}

static void test_counters(void **state)
{
	(void)state;
	uint64_t c[PK_IO_CTR_COUNT];
	pk_io_stats(q, c);
	assert_int_equal(c[PK_IO_CTR_UDP_RX], 2);
	assert_int_equal(c[PK_IO_CTR_UDP_TX], 2);
	assert_int_equal(c[PK_IO_CTR_UDP_TX_ERROR], 0);
	const uint64_t *nc = pk_io_dpdk_net_counters(q);
	assert_int_equal(nc[PK_NET_CTR_ARP_REPLIED], 1);
	assert_int_equal(nc[PK_NET_CTR_ICMP_ECHO_REPLIED], 1);
	assert_int_equal(nc[PK_NET_CTR_FRAG_REASSEMBLED], 1);
	assert_int_equal(nc[PK_NET_CTR_TX_FRAGMENTS], 3);
}

static void test_refuses_tcp_and_any(void **state)
{
	(void)state;
	struct pk_io_config cfg;
	struct pk_io_dpdk_config dc = { .port_id = 0 };
	char err[160];
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("10.99.0.1:5060"), false, &cfg.listeners[0].addr), 0);
	assert_null(pk_io_dpdk_create(&cfg, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "UDP"));
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("0.0.0.0:5060"), false, &cfg.listeners[0].addr), 0);
	assert_null(pk_io_dpdk_create(&cfg, &dc, err, sizeof(err)));
	cfg.n_queues = 2;
	assert_null(pk_io_dpdk_create(&cfg, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "one queue"));
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "pk-test-net-io-%d", (int)getpid());
	char *argv[] = {
		"test_net_io", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix", prefix, "--log-level", "error", "-l", "0", NULL,
	};
	if (rte_eal_init((int)PK_ARRAY_SIZE(argv) - 1, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	pool = rte_pktmbuf_pool_create("pk_test_wire", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	wire_in = rte_ring_create("pk_wire_in", 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	wire_out = rte_ring_create("pk_wire_out", 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (pool == NULL || wire_in == NULL || wire_out == NULL) {
		fprintf(stderr, "test setup: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int port = rte_eth_from_rings("net_ring_pk", &wire_in, 1, &wire_out, 1, 0);
	if (port < 0) {
		fprintf(stderr, "rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	struct pk_io_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	pk_addr_parse(PK_STR_LIT("10.99.0.1:5060"), false, &cfg.listeners[0].addr);
	struct pk_io_dpdk_config dc = { .port_id = (uint16_t)port, .n_mbufs = 2047 };
	char err[160];
	io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL) {
		fprintf(stderr, "pk_io_dpdk_create: %s\n", err);
		return 1;
	}
	q = pk_io_queue_get(io, 0);
	struct rte_ether_addr mac;
	rte_eth_macaddr_get((uint16_t)port, &mac);
	memcpy(our_mac, mac.addr_bytes, 6);

	/* In order: each step builds on what the previous one taught the
	 * backend (the peer's MAC). */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garp_at_start),
		cmocka_unit_test(test_arp_answered),
		cmocka_unit_test(test_sip_in_and_out),
		cmocka_unit_test(test_fragments_in_and_out),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_refuses_tcp_and_any),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	pk_io_destroy(io);
	rte_ring_free(wire_in);
	rte_ring_free(wire_out);
	rte_mempool_free(pool);
	char rundir[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir);
	return r;
}
