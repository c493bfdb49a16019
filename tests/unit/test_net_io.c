/* SPDX-License-Identifier: MIT */
/*
 * The DPDK I/O backend (dataplane/io/dpdk.c) through the io.h interface,
 * on real ethdevs: net_ring ports whose RX rings the test fills with
 * hand-built frames (the "wire" towards pickupd) and whose TX rings it
 * empties and checks (what pickupd put on the wire). Covers the start-up
 * gratuitous ARP, an ARP request answered, a SIP datagram in and a reply
 * out (to the MAC learnt from the peer's ARP request), a fragmented
 * INVITE in, an oversized message out in fragments, ICMP echo, the TX
 * buffer (held behind a full receive burst, sent when the load drops or
 * the drain timer expires),
 * the counters, refused configurations (TCP, 0.0.0.0), the fallback to
 * one queue on a port without RSS, two queues sharing what ARP taught
 * one of them, TX UDP checksum offload, the start-up helpers (EAL
 * options, port by name, worker lcores) and a worker's memory from the
 * backend. EAL as in test_net.c.
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
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_ring.h>

#include "pickup/io_dpdk.h"
#include "test_net_frames.h"
#include "test_net_wire.h"

static struct rte_mempool *pool; /* the test's frames */
static struct rte_ring *wire_in, *wire_out;
static struct pk_io *io;
static struct pk_io_queue *q;
static uint8_t our_mac[6];
static uint16_t port_a, port_b, port_c;
static struct rte_ring *c_in, *c_out;

static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define OUR_IP 0x0a630001u  /* 10.99.0.1 */
#define PEER_IP 0x0a630002u /* 10.99.0.2 */
#define PEER_IP_D 0x0a630209u /* 10.99.2.9 */

static void send_in(const void *bytes, size_t n)
{
	wire_put(pool, wire_in, bytes, n);
}

/* Next frame pickupd sent, copied out; 0 when none. */
static size_t take_out(uint8_t *b)
{
	return wire_take(wire_out, b);
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


/* An untagged frame from the peer to our SIP port (UDP with its checksum)
 * carrying text, into in; its length. */
static size_t peer_frame(uint8_t *in, const char *text)
{
	size_t l2 = eth(in, our_mac, PEER_MAC, -1, 0x0800);
	size_t u = udp(in + l2 + 20, PEER_IP, OUR_IP, 5062, 5060, text, strlen(text), true);
	ip4(in + l2, PEER_IP, OUR_IP, 17, 1, 0, 64, u);
	return l2 + 20 + u;
}
static void test_sip_in_and_out(void **state)
{
	(void)state;
	const char *opt = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	const char *ok = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256], b[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t fn = peer_frame(in, opt);
	send_in(in, fn);
	/* to a port nobody listens on: dropped below the pipeline */
	put16(in + 14 + 20 + 2, 5999); /* UDP destination port, no checksum */
	put16(in + 14 + 20 + 6, 0);
	send_in(in, fn);
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
	assert_int_equal(nctr(q, 0, PK_NET_CTR_UDP_NO_PORT), 1);
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

	/* Two reassembled datagrams in one burst, a one-frame one between:
	 * each copied into a buffer of its own (the slot of its message). */
	static char inv2[2][1400];
	static uint8_t dg2[2][1500];
	size_t dl2[2];
	for (int d = 0; d < 2; d++) {
		memcpy(inv2[d], invite, il);
		memset(inv2[d] + hl, d ? 'y' : 'x', 1200);
		dl2[d] = udp(dg2[d], PEER_IP, OUR_IP, 5062, 5060, inv2[d], il, true);
	}
	const char *one = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	for (int d = 0; d < 2; d++) {
		const size_t c2[3] = { 0, 808, dl2[d] };
		for (int k = 0; k < 2; k++) {
			size_t l2 = eth(in, our_mac, PEER_MAC, -1, 0x0800);
			size_t len = c2[k + 1] - c2[k];
			ip4(in + l2, PEER_IP, OUR_IP, 17, (uint16_t)(90 + d),
			    (uint16_t)(c2[k] / 8 | (k == 0 ? 0x2000 : 0)), 64, len);
			memcpy(in + l2 + 20, dg2[d] + c2[k], len);
			send_in(in, l2 + 20 + len);
		}
		if (d == 0)
			send_in(in, peer_frame(in, one));
	}
	assert_int_equal(rx(msgs), 3);
	assert_int_equal(msgs[0]->len, il);
	assert_memory_equal(msgs[0]->data, inv2[0], il);
	assert_int_equal(msgs[1]->len, strlen(one));
	assert_memory_equal(msgs[1]->data, one, strlen(one));
	assert_int_equal(msgs[2]->len, il);
	assert_memory_equal(msgs[2]->data, inv2[1], il);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 7));
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	/* the buffer offered is one frame's payload room: a larger message
	 * asks for a PK_IO_MSG_MAX buffer (io.h) */
	assert_true(m->cap < sizeof(big));
	m = pk_io_tx_grow(q);
	assert_non_null(m);
	assert_int_equal(m->cap, PK_IO_MSG_MAX);
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
	assert_int_equal(c[PK_IO_CTR_UDP_RX], 5);
	assert_int_equal(c[PK_IO_CTR_UDP_TX], 2);
	assert_int_equal(c[PK_IO_CTR_UDP_TX_ERROR], 0);
	uint64_t nc[PK_NET_CTR_COUNT];
	assert_true(pk_io_dpdk_port_net_counters(q, 0, nc));
	assert_int_equal(nc[PK_NET_CTR_ARP_REPLIED], 1);
	assert_int_equal(nc[PK_NET_CTR_ICMP_ECHO_REPLIED], 1);
	assert_int_equal(nc[PK_NET_CTR_FRAG_REASSEMBLED], 3);
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
	assert_non_null(strstr(err, "0.0.0.0"));
	cfg.listeners[0].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("10.99.0.1:5060"), false, &cfg.listeners[1].addr), 0);
	cfg.listeners[1].transport = PK_TRANSPORT_UDP;
	cfg.n_listeners = 2;
	assert_null(pk_io_dpdk_create(&cfg, &dc, err, sizeof(err)));
	assert_non_null(strstr(err, "socket backend"));
}

/* Full receive bursts: answers wait in the TX buffer for more (a fuller
 * TX burst); the first burst that is not full sends them. */
static void test_tx_buffer(void **state)
{
	(void)state;
	const char *opt = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256], b[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t n = peer_frame(in, opt);
	for (unsigned i = 0; i < PK_IO_BURST + 1; i++)
		send_in(in, n);
	assert_int_equal(rx(msgs), PK_IO_BURST);
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	memcpy(m->data, "x", 1);
	m->len = 1;
	m->transport = PK_TRANSPORT_UDP;
	m->dst = msgs[0]->src;
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(take_out(b), 0); /* held: more was waiting behind */
	assert_int_equal(rx(msgs), 1);	  /* one left: the load dropped */
	pk_io_tx_flush(q);		  /* the worker's flush after that burst */
	assert_int_equal(take_out(b), 14 + 20 + 8 + 1);
	assert_int_equal(b[42], 'x');
	assert_int_equal(rx(msgs), 0);
	assert_int_equal(take_out(b), 0);
	/* Everything the backend sent came back to its pool (but the
	 * frames the queue keeps for its next messages). */
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "pk_io_dpdk_%u", port_a);
	struct rte_mempool *bp = rte_mempool_lookup(name);
	assert_non_null(bp);
	assert_int_equal(rte_mempool_in_use_count(bp), pk_io_dpdk_frames_held(q));
}

/* The lowest and highest object address of a pool (rte_mempool_obj_iter). */
struct obj_span {
	uintptr_t lo, hi;
	unsigned n;
};

static void obj_span_add(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	struct obj_span *s = arg;

	(void)mp;
	(void)idx;
	if (s->n++ == 0 || (uintptr_t)obj < s->lo)
		s->lo = (uintptr_t)obj;
	if ((uintptr_t)obj > s->hi)
		s->hi = (uintptr_t)obj;
}

/* On --no-huge (this test's EAL) the backend's mbufs are packed, one
 * object after the other: net_af_xdp registers a pool as its umem by
 * object count times object size from the first, and drops what is sent
 * from an mbuf past that (the default layout, one object a 4 KiB page,
 * left ~40 % of the pool out). */
static void test_pool_packed(void **state)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	struct obj_span s = { 0 };

	(void)state;
	assert_false(rte_eal_has_hugepages());
	snprintf(name, sizeof(name), "pk_io_dpdk_%u", port_a);
	struct rte_mempool *bp = rte_mempool_lookup(name);
	assert_non_null(bp);
	size_t obj = rte_mempool_calc_obj_size(bp->elt_size, bp->flags, NULL);
	assert_int_equal(rte_mempool_obj_iter(bp, obj_span_add, &s), bp->populated_size);
	assert_int_equal(s.n, bp->populated_size);
	/* the umem net_af_xdp would register: from the first object's
	 * header, populated_size objects of obj bytes */
	assert_true(s.hi + bp->elt_size <= s.lo - bp->header_size + (uintptr_t)bp->populated_size * obj);
	assert_int_equal(s.hi - s.lo, (uintptr_t)(s.n - 1) * obj);
	/* and the start-up line says so */
	assert_non_null(strstr(pk_io_dpdk_describe(io), " B, packed"));
}

/* Under sustained load (every burst full) a partly filled TX buffer
 * leaves when the drain timer (100 us) expires. */
static void test_tx_drain_timer(void **state)
{
	(void)state;
	const char *opt = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256], b[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t n = peer_frame(in, opt);
	for (unsigned i = 0; i < 2 * PK_IO_BURST; i++)
		send_in(in, n);
	uint64_t drains = dctr(q, PK_IO_DPDK_CTR_TX_TIMER_DRAINS);
	assert_int_equal(rx(msgs), PK_IO_BURST);
	struct pk_io_msg *m = pk_io_tx_alloc(q);
	m->data[0] = 'y';
	m->len = 1;
	m->transport = PK_TRANSPORT_UDP;
	m->dst = msgs[0]->src;
	pk_io_tx_commit(q);
	pk_io_tx_flush(q);
	assert_int_equal(take_out(b), 0);
	rte_delay_us_block(300); /* the timer under test */
	assert_int_equal(rx(msgs), PK_IO_BURST); /* still full: only the timer sends */
	assert_int_equal(take_out(b), 14 + 20 + 8 + 1);
	assert_int_equal(b[42], 'y');
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_TIMER_DRAINS), drains + 1);
	pk_io_tx_flush(q);
	assert_int_equal(rx(msgs), 0);
	assert_int_equal(take_out(b), 0);
}

/* Answers of full receive bursts fill the TX buffer: it leaves the moment
 * it holds 32 frames (counted), the rest when the load drops, every
 * frame once and in order. Two bursts of per_burst answers each. The two
 * bursts must come within the drain timer (100 us): false, with the queue
 * emptied, when the timer fired in between (the machine preempted the
 * test), so that the caller can run it again. */
static bool tx_buffer_fills(unsigned per_burst)
{
	const char *opt = "OPTIONS sip:10.99.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint8_t in[256], b[256];
	struct pk_io_msg *msgs[PK_IO_BURST];

	size_t n = peer_frame(in, opt);
	for (unsigned i = 0; i < 2 * PK_IO_BURST + 1; i++)
		send_in(in, n);
	uint64_t sent = dctr(q, PK_IO_DPDK_CTR_TX_FRAMES);
	uint64_t drains = dctr(q, PK_IO_DPDK_CTR_TX_TIMER_DRAINS);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(rx(msgs), PK_IO_BURST);
		for (unsigned i = 0; i < per_burst; i++) {
			struct pk_io_msg *m = pk_io_tx_alloc(q);
			m->data[0] = (char)('A' + k * per_burst + i);
			m->len = 1;
			m->transport = PK_TRANSPORT_UDP;
			m->dst = msgs[0]->src;
			pk_io_tx_commit(q);
		}
		assert_int_equal(pk_io_tx_flush(q), per_burst);
	}
	if (dctr(q, PK_IO_DPDK_CTR_TX_TIMER_DRAINS) != drains) {
		while (rx(msgs) != 0)
			;
		pk_io_tx_flush(q);
		while (take_out(b) != 0)
			;
		return false;
	}
	/* answered under load: the first 32 went together */
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_FRAMES), sent + 32);
	for (unsigned i = 0; i < 32; i++) {
		assert_int_equal(take_out(b), 14 + 20 + 8 + 1);
		assert_int_equal(b[42], 'A' + i);
	}
	assert_int_equal(take_out(b), 0);
	assert_int_equal(rx(msgs), 1); /* the load dropped: ... */
	pk_io_tx_flush(q);	       /* ... the rest leave with the worker's flush */
	assert_int_equal(dctr(q, PK_IO_DPDK_CTR_TX_FRAMES), sent + 2 * per_burst);
	for (unsigned i = 32; i < 2 * per_burst; i++) {
		assert_int_equal(take_out(b), 14 + 20 + 8 + 1);
		assert_int_equal(b[42], 'A' + i);
	}
	assert_int_equal(take_out(b), 0);
	assert_int_equal(rx(msgs), 0);
	return true;
}

static void test_tx_buffer_fills(void **state)
{
	(void)state;
	static const unsigned per_burst[] = { 16, /* exactly full with the second burst's last frame */
					      20 /* full within the second burst, 8 left */ };
	for (unsigned i = 0; i < 2; i++) {
		unsigned tries = 0;
		while (!tx_buffer_fills(per_burst[i]))
			assert_true(++tries < 10); /* preempted past 100 us ten times in a row */
	}
}

/* ---- two queues (port b): each its own rings on the wire ---- */

static struct rte_ring *b_in[2], *b_out[2];
static struct pk_io *io2;
static uint8_t b_mac[6];
static const uint8_t PEER3_MAC[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t PEER4_MAC[6] = { 0x02, 0, 0, 0, 0, 0x04 };
#define PEER3_IP 0x0a630003u
#define PEER4_IP 0x0a630004u

static void ring_in(struct rte_ring *r, const void *bytes, size_t n)
{
	wire_put(pool, r, bytes, n);
}

static size_t ring_out(struct rte_ring *r, uint8_t *b)
{
	return wire_take(r, b);
}

static void send_x(struct pk_io_queue *qq, uint32_t ip, const char *text)
{
	struct pk_io_msg *m = pk_io_tx_alloc(qq);
	m->len = (uint32_t)strlen(text);
	memcpy(m->data, text, m->len);
	m->transport = PK_TRANSPORT_UDP;
	m->dst.family = AF_INET;
	put32(m->dst.ip, ip);
	m->dst.port = 5070;
	pk_io_tx_commit(qq);
	pk_io_tx_flush(qq);
}

static void test_two_queues_share_arp(void **state)
{
	(void)state;
	static const uint8_t zero[6];
	struct pk_io_queue *q0 = pk_io_queue_get(io2, 0), *q1 = pk_io_queue_get(io2, 1);
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint8_t in[128], b[256];

	assert_non_null(strstr(pk_io_dpdk_describe(io2), "2 queue(s)"));
	assert_int_equal(ring_out(b_out[0], b), 42); /* the gratuitous ARP, from queue 0 */
	assert_int_equal(ring_out(b_out[1], b), 0);

	/* Queue 0 sends to an unknown peer: ARP request, datagram waits. */
	send_x(q0, PEER3_IP, "to-3");
	assert_int_equal(ring_out(b_out[0], b), 42);
	assert_int_equal(get16(b + 20), 1);
	assert_int_equal(get32(b + 38), PEER3_IP);
	assert_int_equal(ring_out(b_out[0], b), 0);
	/* The reply lands on queue 1, which never asked. */
	size_t l2 = eth(in, b_mac, PEER3_MAC, -1, 0x0806);
	arp_body(in + l2, 2, PEER3_MAC, PEER3_IP, b_mac, OUR_IP);
	ring_in(b_in[1], in, 60);
	assert_int_equal(pk_io_rx_burst(q1, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(dctr(q1, PK_IO_DPDK_CTR_ARP_SHARED), 1);
	assert_int_equal(nctr(q1, 0, PK_NET_CTR_ARP_LEARNT), 0);
	/* Queue 0 takes it from its ring: the waiting datagram leaves. */
	assert_int_equal(pk_io_rx_burst(q0, msgs, PK_IO_BURST, 0), 0);
	size_t n = ring_out(b_out[0], b);
	assert_int_equal(n, 42 + 4);
	assert_memory_equal(b, PEER3_MAC, 6);
	assert_memory_equal(b + 42, "to-3", 4);
	assert_int_equal(get16(b + 18) % 2, 0); /* queue 0's IP ids: even */
	/* Queue 1 did not ask, so it created nothing (forged replies
	 * cannot fill caches): it resolves by itself. */
	send_x(q1, PEER3_IP, "q1-3");
	n = ring_out(b_out[1], b);
	assert_int_equal(n, 42);
	assert_int_equal(get16(b + 20), 1);

	/* A peer asking for us on queue 1 is learnt there and shared: queue
	 * 0 sends to it without asking. */
	l2 = eth(in, BCAST, PEER4_MAC, -1, 0x0806);
	arp_body(in + l2, 1, PEER4_MAC, PEER4_IP, zero, OUR_IP);
	ring_in(b_in[1], in, 60);
	assert_int_equal(pk_io_rx_burst(q1, msgs, PK_IO_BURST, 0), 0);
	n = ring_out(b_out[1], b); /* our reply, from queue 1 */
	assert_int_equal(n, 42);
	assert_int_equal(get16(b + 20), 2);
	assert_int_equal(pk_io_rx_burst(q0, msgs, PK_IO_BURST, 0), 0);
	send_x(q0, PEER4_IP, "to-4");
	n = ring_out(b_out[0], b);
	assert_int_equal(n, 42 + 4);
	assert_memory_equal(b, PEER4_MAC, 6);
	assert_int_equal(ring_out(b_out[0], b), 0);
	send_x(q1, PEER4_IP, "q1-4");
	n = ring_out(b_out[1], b);
	assert_int_equal(n, 42 + 4);
	assert_int_equal(get16(b + 18) % 2, 1); /* queue 1's: odd */
	assert_int_equal(dctr(q0, PK_IO_DPDK_CTR_ARP_FROM_PEERS), 2);
	assert_int_equal(dctr(q1, PK_IO_DPDK_CTR_ARP_SHARED), 2);
	assert_int_equal(dctr(q1, PK_IO_DPDK_CTR_ARP_SHARE_LOST), 0);
	/* the port's network layer as a whole: both queues' counters */
	uint64_t t[PK_NET_CTR_COUNT];
	assert_true(pk_io_dpdk_port_net_totals(io2, 0, t));
	assert_int_equal(t[PK_NET_CTR_ARP_REQUEST_TX],
			 nctr(q0, 0, PK_NET_CTR_ARP_REQUEST_TX) + nctr(q1, 0, PK_NET_CTR_ARP_REQUEST_TX));
	assert_true(nctr(q0, 0, PK_NET_CTR_ARP_REQUEST_TX) > 0 && nctr(q1, 0, PK_NET_CTR_ARP_REQUEST_TX) > 0);
	assert_int_equal(t[PK_NET_CTR_ARP_REPLIED], 1); /* queue 1's, to PEER4 */
	assert_false(pk_io_dpdk_port_net_totals(io2, 1, t));
}

static void test_find_port_and_lcores(void **state)
{
	(void)state;
	uint16_t p = 99;
	char err[256];
	/* (port c was closed by the test before: closing releases it) */
	if (pk_io_dpdk_find_port("net_ring_net_ring_pk_b", &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(p, port_b);
	p = 99;
	assert_int_equal(pk_io_dpdk_find_port("0", &p, err, sizeof(err)), 0);
	assert_int_equal(p, 0);
	assert_int_equal(pk_io_dpdk_find_port("net_nothing", &p, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "1=net_ring_net_ring_pk_b")); /* the ports there are */
	assert_int_equal(pk_io_dpdk_find_port("17", &p, err, sizeof(err)), -ENODEV);
	/* EAL runs with -l 0: no worker lcore */
	assert_int_equal(pk_io_dpdk_worker_lcore(0), -ENOSPC);
	assert_int_equal(pk_io_dpdk_launch(0, NULL, NULL), -ENOSPC);
}

/* A worker's memory from the backend (pk_io_local_alloc): in the EAL's
 * memory, on the node of the worker's lcore or the port's when the EAL
 * has no lcore for the queue (-l 0 here), cache aligned, given back, and
 * zeroed even where the block was used and freed just before. */
static void test_local_alloc(void **state)
{
	(void)state;
	const size_t sz = 415 * 1024 + 64; /* about a worker */
	const size_t before = eal_heap_bytes();
	int want = rte_eth_dev_socket_id(port_a);

	for (int round = 0; round < 2; round++) {
		unsigned char *p = pk_io_local_alloc(io, 0, sz);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 64, 0);
		for (size_t i = 0; i < sz; i++)
			if (p[i] != 0)
				fail_msg("round %d: byte %zu of the worker's memory is %u, not 0", round, i, p[i]);
		const struct rte_memseg *ms = rte_mem_virt2memseg(p, NULL);
		assert_non_null(ms); /* the EAL's memory, not the process allocator's */
		if (want >= 0)
			assert_int_equal(ms->socket_id, want);
		assert_true(eal_heap_bytes() >= before + sz);
		memset(p, 0xa5, sz); /* dirty for the next round's block */
		pk_io_local_free(io, p);
		assert_int_equal(eal_heap_bytes(), before);
	}
	pk_io_local_free(io, NULL); /* nothing to give back: no call */
}

/* With TX UDP checksum offload (a NIC that has it; net_ring does not, so
 * on a bare pk_net ctx): a one-frame datagram carries the pseudo-header
 * sum and the flags for the port, a fragmented one its full checksum. */
static void test_tx_udp_cksum_offload(void **state)
{
	(void)state;
	struct pk_net_conf nc;
	char err[160];
	memset(&nc, 0, sizeof(nc));
	memcpy(nc.mac.addr_bytes, our_mac, 6);
	nc.n_addrs = 1;
	nc.addrs[0] = rte_cpu_to_be_32(OUR_IP);
	nc.tsc_hz = 1000;
	nc.tx_udp_cksum_offload = true;
	struct pk_net_ctx *ctx = pk_net_ctx_create(&nc, pool, err, sizeof(err));
	assert_non_null(ctx);
	struct rte_ether_addr pm;
	memcpy(pm.addr_bytes, PEER_MAC, 6);
	pk_net_arp_learn(ctx, rte_cpu_to_be_32(PEER_IP), &pm, 1);
	struct pk_addr src = { .family = AF_INET, .port = 5060 }, dst = { .family = AF_INET, .port = 5062 };
	put32(src.ip, OUR_IP);
	put32(dst.ip, PEER_IP);
	static char big[3000];
	memset(big, 'b', sizeof(big));
	assert_int_equal(pk_net_udp_tx(ctx, "hello", 5, &src, &dst, 2), 1);
	assert_int_equal(pk_net_udp_tx(ctx, big, sizeof(big), &src, &dst, 2), 3);
	struct rte_mbuf **out;
	assert_int_equal(pk_net_tx_pending(ctx, &out), 4);
	const uint8_t *f = rte_pktmbuf_mtod(out[0], const uint8_t *);
	uint8_t pseudo[12];
	put32(pseudo, OUR_IP);
	put32(pseudo + 4, PEER_IP);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, 8 + 5);
	assert_int_equal(get16(f + 40), fold(sum16(pseudo, 12, 0))); /* not inverted */
	assert_true(out[0]->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM);
	assert_true(out[0]->ol_flags & RTE_MBUF_F_TX_IPV4);
	assert_int_equal(out[0]->l2_len, 14);
	assert_int_equal(out[0]->l3_len, 20);
	assert_int_equal(out[0]->l4_len, 8);
	assert_int_equal(cksum(f + 14, 20), 0); /* the IP header still in software */
	/* the fragments: the whole datagram summed here, no L4 flag */
	f = rte_pktmbuf_mtod(out[1], const uint8_t *);
	assert_false(out[1]->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM);
	put16(pseudo + 10, 8 + sizeof(big));
	uint32_t s = sum16(pseudo, 12, 0);
	s = sum16(f + 34, 8, s);
	s = sum16((const uint8_t *)big, sizeof(big), s);
	assert_int_equal(fold(s), 0xffff);
	/* written in its frame: the same for the port */
	struct rte_mbuf *m;
	uint32_t cap;
	char *p = pk_net_udp_frame(ctx, &m, &cap);
	assert_non_null(p);
	memcpy(p, "hello", 5);
	assert_int_equal(pk_net_udp_tx_frame(ctx, m, 5, &src, &dst, 2), 1);
	assert_int_equal(pk_net_tx_pending(ctx, &out), 5);
	assert_ptr_equal(out[4], m);
	f = rte_pktmbuf_mtod(m, const uint8_t *);
	put16(pseudo + 10, 8 + 5);
	assert_int_equal(get16(f + 40), fold(sum16(pseudo, 12, 0)));
	assert_true(m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM);
	assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
	assert_int_equal(m->l2_len, 14);
	assert_int_equal(m->l3_len, 20);
	assert_int_equal(m->l4_len, 8);
	assert_int_equal(cksum(f + 14, 20), 0);
	pk_net_ctx_destroy(ctx); /* frees the staged frames (main checks the pool is whole) */
}

/* A port without RSS, spread AUTO: one queue, and the reason. */
static void test_no_rss_one_queue(void **state)
{
	(void)state;
	struct pk_io_config cfg;
	struct pk_io_dpdk_config dc = { .port_id = port_c, .n_mbufs = 2047 };
	char err[160];
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 2;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("10.99.1.1:5060"), false, &cfg.listeners[0].addr), 0);
	struct pk_io *io3 = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	assert_non_null(io3);
	assert_int_equal(cfg.n_queues, 1);
	assert_non_null(strstr(pk_io_dpdk_describe(io3), "no IPv4 RSS"));
	assert_non_null(pk_io_queue_get(io3, 0));
	assert_null(pk_io_queue_get(io3, 1));
	/* Its gratuitous ARP went out at the start. Its frames are freed
	 * before the io, whose pool they belong to. */
	struct rte_mbuf *m = NULL;
	assert_int_equal(rte_ring_dequeue(c_out, (void **)&m), 0);
	rte_pktmbuf_free(m);
	pk_io_destroy(io3);
	assert_int_equal(rte_ring_count(c_out), 0); /* nothing sent at the stop */
}

/* Several listeners: each datagram's message names the listener of its
 * address and port (to the broadcast: the first of its port); the usual
 * single listener takes a shortcut that this does not. */
static struct rte_ring *d_in, *d_out;
static uint16_t port_d;

static void test_listener_of(void **state)
{
	(void)state;
	static const char *const ls[] = { "10.99.2.1:5060", "10.99.2.1:5070", "10.99.2.2:5070",
					   "10.99.2.2:5080" };
	static const struct {
		uint32_t ip;
		uint16_t port;
		uint8_t listener;
	} cases[] = {
		{ 0x0a630202u, 5080, 3 }, { 0x0a630202u, 5070, 2 }, { 0x0a630201u, 5070, 1 },
		{ 0x0a630201u, 5060, 0 }, { 0x0a6302ffu, 5070, 1 }, { 0x0a6302ffu, 5080, 3 },
	};
	struct pk_io_config cfg;
	struct pk_io_dpdk_config dc = { .port_id = port_d, .n_mbufs = 2047 };
	struct pk_io_msg *msgs[PK_IO_BURST];
	struct rte_ether_addr mac;
	uint8_t in[256];
	char err[160];

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = PK_ARRAY_SIZE(ls);
	for (unsigned i = 0; i < PK_ARRAY_SIZE(ls); i++) {
		cfg.listeners[i].transport = PK_TRANSPORT_UDP;
		assert_int_equal(pk_addr_parse(pk_str_make(ls[i], strlen(ls[i])), false, &cfg.listeners[i].addr), 0);
	}
	struct pk_io *io4 = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	assert_non_null(io4);
	struct pk_io_queue *q4 = pk_io_queue_get(io4, 0);
	rte_eth_macaddr_get(port_d, &mac);
	for (unsigned i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		const char *t = "OPTIONS sip:x SIP/2.0\r\n\r\n";
		size_t l2 = eth(in, mac.addr_bytes, PEER_MAC, -1, 0x0800);
		size_t u = udp(in + l2 + 20, PEER_IP_D, cases[i].ip, 5062, cases[i].port, t, strlen(t),
			       true);
		ip4(in + l2, PEER_IP_D, cases[i].ip, 17, 1, 0, 64, u);
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		assert_non_null(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)(l2 + 20 + u)), in, l2 + 20 + u);
		assert_int_equal(rte_ring_enqueue(d_in, m), 0);
		assert_int_equal(pk_io_rx_burst(q4, msgs, PK_IO_BURST, 0), 1);
		assert_int_equal(msgs[0]->listener, cases[i].listener);
		assert_int_equal(msgs[0]->dst.port, cases[i].port);
		assert_int_equal(get32(msgs[0]->dst.ip), cases[i].ip);
	}
	/* its gratuitous ARPs, freed before the io whose pool they are of */
	struct rte_mbuf *m = NULL;
	while (rte_ring_dequeue(d_out, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	pk_io_destroy(io4);
	assert_int_equal(rte_ring_count(d_out), 0); /* nothing sent at the stop */
}

int main(void)
{
	if ((pool = wire_eal_up("test_net_io", "pk-test-net-io")) == NULL)
		return 1;
	wire_in = wire_ring("pk_wire_in");
	wire_out = wire_ring("pk_wire_out");
	if (wire_in == NULL || wire_out == NULL) {
		fprintf(stderr, "test setup: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int port = rte_eth_from_rings("net_ring_pk", &wire_in, 1, &wire_out, 1, 0);
	char rn[32];
	for (int i = 0; i < 2; i++) {
		snprintf(rn, sizeof(rn), "pk_b_in%d", i);
		b_in[i] = wire_ring(rn);
		snprintf(rn, sizeof(rn), "pk_b_out%d", i);
		b_out[i] = wire_ring(rn);
	}
	c_in = wire_ring("pk_c_in");
	c_out = wire_ring("pk_c_out");
	int pb = rte_eth_from_rings("net_ring_pk_b", b_in, 2, b_out, 2, 0);
	int pc = rte_eth_from_rings("net_ring_pk_c", &c_in, 1, &c_out, 1, 0);
	d_in = wire_ring("pk_d_in");
	d_out = wire_ring("pk_d_out");
	int pd = rte_eth_from_rings("net_ring_pk_d", &d_in, 1, &d_out, 1, 0);
	if (port < 0 || pb < 0 || pc < 0 || pd < 0) {
		fprintf(stderr, "rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	port_a = (uint16_t)port;
	port_b = (uint16_t)pb;
	port_c = (uint16_t)pc;
	port_d = (uint16_t)pd;

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

	cfg.n_queues = 2;
	struct pk_io_dpdk_config dc2 = { .port_id = (uint16_t)pb,
					 .n_mbufs = 4095,
					 .spread = PK_IO_DPDK_SPREAD_DEVICE };
	io2 = pk_io_dpdk_create(&cfg, &dc2, err, sizeof(err));
	if (io2 == NULL || cfg.n_queues != 2) {
		fprintf(stderr, "pk_io_dpdk_create (2 queues): %s\n", io2 ? "one queue" : err);
		return 1;
	}
	rte_eth_macaddr_get((uint16_t)pb, &mac);
	memcpy(b_mac, mac.addr_bytes, 6);

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
		cmocka_unit_test(test_tx_buffer),
		cmocka_unit_test(test_tx_drain_timer),
		cmocka_unit_test(test_tx_buffer_fills),
		cmocka_unit_test(test_two_queues_share_arp),
		cmocka_unit_test(test_no_rss_one_queue),
		cmocka_unit_test(test_listener_of),
		cmocka_unit_test(test_find_port_and_lcores),
		cmocka_unit_test(test_local_alloc),
		cmocka_unit_test(test_tx_udp_cksum_offload),
		cmocka_unit_test(test_pool_packed),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	pk_io_destroy(io);
	pk_io_destroy(io2);
	struct rte_mbuf *left = NULL;
	for (int i = 0; i < 2; i++) {
		while (rte_ring_dequeue(b_out[i], (void **)&left) == 0)
			rte_pktmbuf_free(left);
		rte_ring_free(b_in[i]);
		rte_ring_free(b_out[i]);
	}
	rte_ring_free(c_in);
	rte_ring_free(c_out);
	rte_ring_free(d_in);
	rte_ring_free(d_out);
	if (r == 0 && !rte_mempool_full(pool)) {
		fprintf(stderr, "the test's frames did not all come back to its pool\n");
		r = 1;
	}
	rte_ring_free(wire_in);
	rte_ring_free(wire_out);
	rte_mempool_free(pool);
	wire_eal_down();
	return r;
}
