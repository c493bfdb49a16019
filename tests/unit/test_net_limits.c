/* SPDX-License-Identifier: MIT */
/*
 * The network layers (include/pickup/net.h, dataplane/net/) when something
 * runs out or is refused: the mempool dry (datagrams, fragments, ARP
 * requests and announces), the TX staging full, the ARP cache full (which
 * entry is evicted, which never is), the port taking only part of a burst,
 * frames that leave no room for our headers, the log of what ARP taught
 * for the other queues overflowing, malformed lengths, and configurations
 * pk_net_ctx_create refuses (and the memory it gives back when it does).
 *
 * Each test checks what a user of the layer sees: return codes, counters
 * by name, the frames that leave and their order, and that every frame
 * went back to the pool at the end (the fixture's teardown) and the layer
 * works again once the resource is back. The clock is fake: tsc_hz = 1000,
 * one tick is one millisecond (test_net_fixture.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <rte_ip_frag.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "pickup/net.h"
#include "test_net_fixture.h"

/* ---------- helpers ---------- */

/* Frames taken out of the pool so that only `leave` remain: the mempool
 * as a worker under load sees it. pool_refill gives them back. */
static struct rte_mbuf *dry[4096];
static unsigned n_dry;

static void pool_dry(unsigned leave)
{
	while (rte_mempool_avail_count(pool) > leave) {
		assert_true(n_dry < RTE_DIM(dry));
		dry[n_dry] = rte_pktmbuf_alloc(pool);
		assert_non_null(dry[n_dry]);
		n_dry++;
	}
	assert_int_equal(rte_mempool_avail_count(pool), leave);
}

static void pool_refill(void)
{
	while (n_dry != 0)
		rte_pktmbuf_free(dry[--n_dry]);
}

/* Frames taken from the pool since f's ctx was made: what it staged for
 * TX, its stash (pk_net_frames_held), and whatever it leaked. */
static unsigned in_use(const struct fx *f)
{
	return rte_mempool_in_use_count(pool) - f->base;
}

static void learn(struct fx *f, uint32_t ip_host, const uint8_t *mac, uint64_t now)
{
	struct rte_ether_addr m;

	memcpy(m.addr_bytes, mac, 6);
	pk_net_arp_learn(f->ctx, rte_cpu_to_be_32(ip_host), &m, now);
}

static enum pk_net_arp_state arp_state(struct fx *f, uint32_t ip_host, unsigned *queued)
{
	return pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(ip_host), NULL, queued);
}

/* The UDP payload of staged frame i (untagged, one frame), NUL-ended. */
static const char *staged_text(struct fx *f, unsigned i)
{
	static char text[2048];
	uint8_t b[2048];
	size_t n = tx_frame(f, i, b);

	assert_true(n >= 42);
	assert_int_equal(get16(b + 12), 0x0800);
	memcpy(text, b + 42, n - 42);
	text[n - 42] = 0;
	return text;
}

/* The staged frames, each checked: IPv4 fragments (or a whole datagram)
 * of one datagram to dst_ip, with headers and offsets that follow on;
 * the UDP stream (header + payload) put back together into whole. How
 * many bytes. */
static size_t staged_datagram(struct fx *f, unsigned first, unsigned n, uint32_t dst_ip,
			      uint8_t *whole)
{
	uint8_t b[2048];
	size_t have = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len = tx_frame(f, first + i, b);
		const uint8_t *ip = b + 14;

		assert_memory_equal(b, PEER_MAC, 6);
		assert_int_equal(get16(ip + 2), len - 14);
		assert_int_equal(cksum(ip, 20), 0);
		assert_int_equal((get16(ip + 6) & 0x1fff) * 8u, have);
		assert_int_equal((get16(ip + 6) & 0x2000) != 0, i + 1 < n);
		assert_int_equal(get32(ip + 16), dst_ip);
		memcpy(whole + have, ip + 20, len - 34);
		have += len - 34;
	}
	return have;
}

/* The UDP checksum of a datagram put back together is right. */
static void assert_udp_sum(const uint8_t *udp, size_t n, uint32_t src, uint32_t dst)
{
	assert_true(udp_sum_ok(udp, n, src, dst));
}

/* An ICMP echo request from the peer to us, 16 bytes of ICMP. */
static size_t echo_request_frame(uint8_t *b, int vid)
{
	size_t l2 = eth(b, OUR_MAC, PEER_MAC, vid, 0x0800);
	uint8_t *ic = b + l2 + 20;

	ip4(b + l2, PEER_IP, OUR_IP, 1, 5, 0, 64, 16);
	memset(ic, 0, 16);
	ic[0] = 8;
	put16(ic + 4, 0x4242);
	put16(ic + 2, cksum(ic, 16));
	return l2 + 36;
}

/* The frame of bytes in an mbuf whose data starts at the very beginning
 * of its buffer (no headroom), as if the port had stripped the 802.1Q tag
 * vid in front of it. */
static struct rte_mbuf *mk_stripped_no_headroom(const void *bytes, size_t n, uint16_t vid)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

	assert_non_null(m);
	m->data_off = 0;
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), bytes, n);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = vid;
	return m;
}

/* ---------- the TX staging and the port ---------- */

/* The port takes part of what is staged (rte_eth_tx_burst returning less):
 * the rest stays staged, in order, ahead of what is staged next; nothing
 * is lost or sent twice. A ctx destroyed with frames staged frees them. */
static void test_tx_done_partial(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5062);
	struct rte_mbuf **p, *before[5];
	char msg[8];

	learn(f, PEER_IP, PEER_MAC, 0);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "d%u", i);
		assert_int_equal(pk_net_udp_tx(f->ctx, msg, 2, &src, &dst, 1), 1);
	}
	assert_int_equal(pk_net_tx_pending(f->ctx, &p), 5);
	memcpy(before, p, sizeof(before));
	/* the port took two: they are its to free now */
	rte_pktmbuf_free(p[0]);
	rte_pktmbuf_free(p[1]);
	pk_net_tx_done(f->ctx, 2);
	assert_int_equal(pk_net_tx_pending(f->ctx, &p), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_ptr_equal(p[i], before[2 + i]);
	assert_string_equal(staged_text(f, 0), "d2");
	assert_string_equal(staged_text(f, 2), "d4");
	/* the next datagram queues up behind them */
	assert_int_equal(pk_net_udp_tx(f->ctx, "d5", 2, &src, &dst, 2), 1);
	assert_int_equal(tx_count(f), 4);
	assert_string_equal(staged_text(f, 3), "d5");
	/* a port that took nothing changes nothing */
	pk_net_tx_done(f->ctx, 0);
	assert_int_equal(pk_net_tx_pending(f->ctx, &p), 4);
	assert_ptr_equal(p[0], before[2]);
	/* one more, then the rest */
	rte_pktmbuf_free(p[0]);
	pk_net_tx_done(f->ctx, 1);
	assert_string_equal(staged_text(f, 0), "d3");
	assert_int_equal(tx_count(f), 3);
	assert_int_equal(in_use(f), 3);
	drain(f->ctx);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(in_use(f), 0);

	/* destroyed with frames still staged: they go back to the pool */
	struct pk_net_conf c;
	conf_default(&c);
	struct fx *g = fx_new(&c);
	learn(g, PEER_IP, PEER_MAC, 0);
	assert_int_equal(pk_net_udp_tx(g->ctx, "x", 1, &src, &dst, 1), 1);
	assert_int_equal(pk_net_garp(g->ctx), 2);
	assert_int_equal(in_use(g), 3);
	unsigned base = g->base;
	pk_net_ctx_destroy(g->ctx);
	free(g);
	assert_int_equal(rte_mempool_in_use_count(pool), base);
}

/* The staging holds PK_NET_TX_MAX frames. A datagram that does not fit
 * whole is refused whole (-ENOBUFS, tx_full): none of its fragments is
 * staged or kept; one that fits exactly goes. The same for a datagram
 * written in its frame (the frame freed), and for replies (ARP, ICMP).
 * Once the port drained it, datagrams go again. */
static void test_tx_staging_full(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5062);
	static uint8_t big[3000]; /* 3 fragments at MTU 1500 */
	uint8_t in[128];

	learn(f, PEER_IP, PEER_MAC, 0);
	for (unsigned i = 0; i < PK_NET_TX_MAX - 2; i++)
		assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &dst, 1), 1);
	/* 3 fragments, 2 slots */
	assert_int_equal(pk_net_udp_tx(f->ctx, big, sizeof(big), &src, &dst, 1), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_FULL), 1);
	assert_int_equal(C(f, PK_NET_CTR_TX_FRAGMENTS), 0);
	assert_int_equal(tx_count(f), PK_NET_TX_MAX - 2);
	assert_int_equal(in_use(f), PK_NET_TX_MAX - 2); /* no fragment kept */
	/* 2 fragments, 2 slots: the staging is full to the last slot */
	assert_int_equal(pk_net_udp_tx(f->ctx, big, 2000, &src, &dst, 1), 2);
	assert_int_equal(tx_count(f), PK_NET_TX_MAX);
	assert_int_equal(pk_net_udp_tx(f->ctx, "y", 1, &src, &dst, 1), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_FULL), 2);

	/* written in its frame: refused, the frame freed */
	struct rte_mbuf *m;
	uint32_t cap;
	char *d = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(d);
	d[0] = 'z';
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &dst, 1), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_FULL), 3);
	assert_int_equal(in_use(f), PK_NET_TX_MAX + pk_net_frames_held(f->ctx));

	/* replies have no room either: dropped, counted, freed */
	assert_int_equal(rx(f, in, arp_request_frame(in, -1, PEER3_IP, OUR_IP), 1), PK_NET_RX_DROP);
	assert_int_equal(rx(f, in, echo_request_frame(in, -1), 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_TX_FULL), 5);
	assert_int_equal(in_use(f), PK_NET_TX_MAX + pk_net_frames_held(f->ctx));
	assert_int_equal(C(f, PK_NET_CTR_UDP_TX), PK_NET_TX_MAX - 1);

	/* drained: room again, from both send paths */
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, big, sizeof(big), &src, &dst, 2), 3);
	d = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(d);
	d[0] = 'z';
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &dst, 2), 1);
	assert_int_equal(tx_count(f), 4);
	assert_string_equal(staged_text(f, 3), "z");
}

/* ---------- the mempool dry ---------- */

/* A datagram needs all its frames at once: with fewer left than its
 * fragments it is refused (-ENOBUFS, tx_no_mbuf) and takes none of them;
 * a smaller one still goes; with none left nothing goes. Once the pool is
 * back, the large one leaves whole and right. */
static void test_udp_tx_pool_dry(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5090);
	static uint8_t payload[3000], whole[3100];

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + (i >> 8));
	learn(f, PEER_IP, PEER_MAC, 0);

	pool_dry(2);
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, sizeof(payload), &src, &dst, 1), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 1);
	assert_int_equal(rte_mempool_avail_count(pool), 2); /* none taken */
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, 1000, &src, &dst, 1), 1);
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, 1000, &src, &dst, 1), 1);
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, 1000, &src, &dst, 1), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 2);
	/* written in its frame: no frame to write in */
	struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)1;
	uint32_t cap;
	assert_null(pk_net_udp_frame(f->ctx, &m, &cap));
	assert_null(m);
	assert_int_equal(C(f, PK_NET_CTR_UDP_TX), 2);
	drain(f->ctx);
	pool_refill();

	assert_int_equal(pk_net_udp_tx(f->ctx, payload, sizeof(payload), &src, &dst, 2), 3);
	assert_int_equal(C(f, PK_NET_CTR_TX_FRAGMENTS), 3);
	size_t have = staged_datagram(f, 0, 3, PEER_IP, whole);
	assert_int_equal(have, 8 + sizeof(payload));
	assert_int_equal(get16(whole + 4), have);
	assert_udp_sum(whole, have, OUR_IP, PEER_IP);
	assert_memory_equal(whole + 8, payload, sizeof(payload));
}

/* No frame for an ARP request (nor for the datagram: -ENOBUFS): the next
 * hop's entry is made all the same, no request leaves, and its retry
 * timer asks once the pool is back. */
static void test_arp_request_pool_dry(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);
	uint8_t b[128];
	unsigned q;

	pool_dry(0);
	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &dst, 1000), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 2); /* the request and the datagram */
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 0);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(arp_state(f, PEER3_IP, &q), PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 0);
	/* the pool is still dry at the retry: counted again, nothing sent */
	pk_net_poll(f->ctx, 1100);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 3);
	assert_int_equal(tx_count(f), 0);
	pool_refill();

	/* back: the next retry asks, the next datagram waits for the answer */
	pk_net_poll(f->ctx, 1200);
	assert_int_equal(tx_count(f), 1);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER3_IP);
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 1201), 0);
	arp_reply_from(f, PEER3_MAC, PEER3_IP, 1210);
	assert_int_equal(tx_count(f), 1);
	assert_string_equal(staged_text(f, 0), "b");
}

/* The start-up announce with the pool dry: -ENOBUFS when not one could
 * be built, how many were when some were; all of them once it is back. */
static void test_garp_pool_dry(void **state)
{
	struct fx *f = *state;
	static const uint8_t zero[6];
	uint8_t exp[64], got[128];

	pool_dry(0);
	assert_int_equal(pk_net_garp(f->ctx), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 1);
	assert_int_equal(tx_count(f), 0);
	pool_refill();
	pool_dry(1);
	assert_int_equal(pk_net_garp(f->ctx), 1); /* the first address only */
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 2);
	size_t l2 = eth(exp, BCAST, OUR_MAC, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 1, OUR_MAC, OUR_IP, zero, OUR_IP);
	assert_int_equal(tx_frame(f, 0, got), en);
	assert_memory_equal(got, exp, en);
	drain(f->ctx);
	pool_refill();
	assert_int_equal(pk_net_garp(f->ctx), 2);
}

/* ---------- datagrams written in their frames ---------- */

/* pk_net_udp_tx_frame refusing a datagram frees its frame and counts the
 * reason, as pk_net_udp_tx does: not IPv4, not from us, no route. */
static void test_udp_tx_frame_refused(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5060);
	struct pk_addr v6 = dst, not_ours = A(IP(10, 99, 0, 50), 5060);
	struct rte_mbuf *m;
	uint32_t cap;

	v6.family = AF_INET6;
	assert_non_null(pk_net_udp_frame(f->ctx, &m, &cap));
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &v6, 1), -EAFNOSUPPORT);
	assert_non_null(pk_net_udp_frame(f->ctx, &m, &cap));
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &not_ours, &dst, 1), -EINVAL);
	assert_int_equal(C(f, PK_NET_CTR_TX_BAD), 2);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(in_use(f), pk_net_frames_held(f->ctx)); /* both frames freed */

	struct pk_net_conf c;
	conf_default(&c);
	c.gateway = 0;
	struct fx *g = fx_new(&c);
	struct pk_addr far = A(IP(192, 0, 2, 7), 5060);
	assert_non_null(pk_net_udp_frame(g->ctx, &m, &cap));
	assert_int_equal(pk_net_udp_tx_frame(g->ctx, m, 1, &src, &far, 1), -EHOSTUNREACH);
	assert_int_equal(pk_net_counter(g->ctx, PK_NET_CTR_TX_NO_ROUTE), 1);
	assert_int_equal(in_use(g), pk_net_frames_held(g->ctx));
	assert_int_equal(fx_free(g), 0);
}

/* A datagram longer than one frame's payload room (cap) but written in
 * the frame's buffer, and a frame made elsewhere without room in front
 * for the headers: both leave through the copying path, as pk_net_udp_tx
 * would send them, and the frame given is freed. */
static void test_udp_tx_frame_copy_path(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5090);
	static uint8_t whole[2000];
	struct rte_mbuf *m, **p;
	uint32_t cap;

	learn(f, PEER_IP, PEER_MAC, 0);
	char *d = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(d);
	assert_int_equal(cap, 1500 - 28);
	uint32_t len = cap + 100;
	assert_true(len <= rte_pktmbuf_tailroom(m));
	for (uint32_t i = 0; i < len; i++)
		d[i] = (char)('a' + i % 26);
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, len, &src, &dst, 1), 2);
	assert_int_equal(C(f, PK_NET_CTR_TX_FRAGMENTS), 2);
	size_t have = staged_datagram(f, 0, 2, PEER_IP, whole);
	assert_int_equal(have, 8 + len);
	assert_udp_sum(whole, have, OUR_IP, PEER_IP);
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(whole[8 + i], 'a' + i % 26);
	pk_net_tx_pending(f->ctx, &p);
	assert_true(p[0] != m && p[1] != m);
	drain(f->ctx);
	assert_int_equal(in_use(f), pk_net_frames_held(f->ctx)); /* m freed */

	/* no headroom: the headers cannot go in front */
	m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	m->data_off = 0;
	memcpy(rte_pktmbuf_append(m, 5), "hello", 5);
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 5, &src, &dst, 2), 1);
	pk_net_tx_pending(f->ctx, &p);
	assert_true(p[0] != m);
	assert_string_equal(staged_text(f, 0), "hello");
	uint8_t b[128];
	size_t n = tx_frame(f, 0, b);
	assert_int_equal(n, 14 + 20 + 8 + 5);
	assert_udp_sum(b + 34, 13, OUR_IP, PEER_IP);
	drain(f->ctx);
	assert_int_equal(in_use(f), pk_net_frames_held(f->ctx));
	assert_int_equal(C(f, PK_NET_CTR_UDP_TX), 2);

	/* a length past the frame's buffer: refused, not read past it */
	d = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(d);
	len = rte_pktmbuf_tailroom(m) + 1;
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, len, &src, &dst, 3), -EMSGSIZE);
	assert_int_equal(C(f, PK_NET_CTR_TX_BAD), 1);
	assert_int_equal(pk_net_tx_pending(f->ctx, &p), 0);
	assert_int_equal(in_use(f), pk_net_frames_held(f->ctx)); /* m freed */
	assert_int_equal(C(f, PK_NET_CTR_UDP_TX), 2);
}

/* ---------- checksum offload ---------- */

/* A port that computes checksums: the IPv4 header's is left to it
 * (flagged, the field 0), and with UDP offload a one-frame datagram's
 * UDP field holds the pseudo-header sum the port starts from, with the
 * lengths it needs; fragments' UDP checksum is still computed here (a port
 * sums one frame). From both send paths. */
static void test_tx_cksum_offload(void **state)
{
	(void)state;
	static uint8_t payload[2000], whole[2100];
	uint8_t b[2048];

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	for (unsigned udp_off = 0; udp_off < 2; udp_off++) {
		struct pk_net_conf c;
		conf_default(&c);
		c.tx_ip_cksum_offload = true;
		c.tx_udp_cksum_offload = udp_off != 0;
		struct fx *f = fx_new(&c);
		struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5070);
		learn(f, PEER_IP, PEER_MAC, 0);

		struct rte_mbuf *m, **p;
		uint32_t cap;
		char *d = pk_net_udp_frame(f->ctx, &m, &cap);
		assert_non_null(d);
		memcpy(d, payload, 301);
		assert_int_equal(pk_net_udp_tx(f->ctx, payload, 301, &src, &dst, 1), 1);
		assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 301, &src, &dst, 1), 1);
		assert_int_equal(pk_net_tx_pending(f->ctx, &p), 2);
		for (unsigned i = 0; i < 2; i++) {
			uint64_t want = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
					(udp_off ? RTE_MBUF_F_TX_UDP_CKSUM : 0);
			assert_int_equal(p[i]->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
							   RTE_MBUF_F_TX_UDP_CKSUM),
					 want);
			assert_int_equal(p[i]->l2_len, 14);
			assert_int_equal(p[i]->l3_len, 20);
			assert_int_equal(p[i]->l4_len, udp_off ? 8 : 0);
			size_t n = tx_frame(f, i, b);
			assert_int_equal(n, 42 + 301);
			assert_int_equal(get16(b + 24), 0); /* the port's to fill */
			if (udp_off) {
				/* the pseudo-header's sum, not inverted */
				assert_int_equal(get16(b + 40), fold(udp_pseudo_sum(get32(b + 26), get32(b + 30), 8 + 301)));
				/* the port sums header and payload from there */
				put16(b + 40, cksum(b + 34, 8 + 301));
			}
			assert_udp_sum(b + 34, 8 + 301, OUR_IP, PEER_IP);
			assert_memory_equal(b + 42, payload, 301);
		}
		drain(f->ctx);

		/* fragments: the IP header still offloaded, UDP summed here */
		assert_int_equal(pk_net_udp_tx(f->ctx, payload, sizeof(payload), &src, &dst, 1), 2);
		assert_int_equal(pk_net_tx_pending(f->ctx, &p), 2);
		size_t have = 0;
		for (unsigned i = 0; i < 2; i++) {
			assert_int_equal(p[i]->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM),
					 RTE_MBUF_F_TX_IP_CKSUM);
			size_t n = tx_frame(f, i, b);
			assert_int_equal(get16(b + 24), 0);
			memcpy(whole + have, b + 34, n - 34);
			have += n - 34;
		}
		assert_int_equal(have, 8 + sizeof(payload));
		assert_udp_sum(whole, have, OUR_IP, PEER_IP);
		assert_int_equal(fx_free(f), 0);
	}
}

/* ---------- replies without room for our header ---------- */

/* A port that strips the 802.1Q tag hands a frame 4 bytes shorter than
 * the tagged reply built in it; with no headroom in front the reply
 * cannot be built: dropped and counted (tx_no_mbuf), the frame freed,
 * and what ARP learnt from the request still learnt. The same requests
 * with headroom are answered, tagged. */
static void test_reply_without_headroom(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.vlan_id = 100;
	struct fx *f = fx_new(&c);
	uint8_t in[128], got[128];
	size_t n;

	n = echo_request_frame(in, -1);
	assert_int_equal(pk_net_rx(f->ctx, mk_stripped_no_headroom(in, n, 100), 1, &f->out),
			 PK_NET_RX_DROP);
	n = arp_request_frame(in, -1, PEER_IP, OUR_IP);
	assert_int_equal(pk_net_rx(f->ctx, mk_stripped_no_headroom(in, n, 100), 1, &f->out),
			 PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 2);
	assert_int_equal(C(f, PK_NET_CTR_ICMP_ECHO_REPLIED), 0);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REPLIED), 0);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(in_use(f), 0);
	assert_int_equal(arp_state(f, PEER_IP, NULL), PK_NET_ARP_REACHABLE);

	/* with the usual headroom: answered, tagged */
	struct rte_mbuf *m = mk(in, n);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 100;
	assert_int_equal(pk_net_rx(f->ctx, m, 2, &f->out), PK_NET_RX_REPLY);
	n = echo_request_frame(in, -1);
	m = mk(in, n);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 100;
	assert_int_equal(pk_net_rx(f->ctx, m, 2, &f->out), PK_NET_RX_REPLY);
	assert_int_equal(tx_count(f), 2);
	for (unsigned i = 0; i < 2; i++) {
		size_t k = tx_frame(f, i, got);
		assert_int_equal(k, i == 0 ? 18 + 28 : 18 + 36);
		assert_memory_equal(got, PEER_MAC, 6);
		assert_int_equal(get16(got + 12), 0x8100);
		assert_int_equal(get16(got + 14), 100);
		assert_int_equal(get16(got + 16), i == 0 ? 0x0806 : 0x0800);
	}
	assert_int_equal(C(f, PK_NET_CTR_TX_NO_MBUF), 2);
	assert_int_equal(fx_free(f), 0);
}

/* ---------- the ARP cache ---------- */

/* The cache's bucket of a host-order address: arp.c's hash, repeated so
 * that the test can pick next hops that share one bucket of
 * PK_NET_ARP_WAYS entries. (Were the hash changed, the first check of
 * test_arp_table_full, a fifth next hop refused while four are being
 * resolved, would fail and say so.) */
static unsigned bucket_of(uint32_t ip_host)
{
	return (ip_host * 2654435761u) >> (32 - __builtin_ctz(PK_NET_ARP_BUCKETS));
}

/* A bucket full of next hops being resolved takes no other (-EHOSTUNREACH,
 * arp_table_full) from any path, and none of them is evicted: their
 * queued frames would be lost. Once resolved, a new next hop evicts the
 * least recently confirmed (not the oldest entry, not the first way), never
 * one being resolved; an evicted one is asked for again when next used. */
static void test_arp_table_full(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.prefix_len = 16; /* room for five hosts of one bucket on-link */
	struct fx *f = fx_new(&c);
	struct pk_addr src = A(OUR_IP, 5060);
	uint32_t ips[PK_NET_ARP_WAYS + 1];
	uint8_t macs[PK_NET_ARP_WAYS + 1][6];
	uint8_t in[128], b[128], exp[64];
	unsigned q, k = 0;

	for (uint32_t ip = IP(10, 99, 1, 1); k < RTE_DIM(ips); ip++)
		if (k == 0 || bucket_of(ip) == bucket_of(ips[0])) {
			memcpy(macs[k], PEER3_MAC, 6);
			macs[k][5] = (uint8_t)(0x10 + k);
			ips[k++] = ip;
		}
	for (k = 0; k < PK_NET_ARP_WAYS; k++) {
		struct pk_addr dst = A(ips[k], 5060);
		assert_int_equal(pk_net_udp_tx(f->ctx, "w", 1, &src, &dst, 10), 0);
	}
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), PK_NET_ARP_WAYS);
	drain(f->ctx);

	/* the fifth: refused by every path that would add it */
	struct pk_addr fifth = A(ips[4], 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &fifth, 11), -EHOSTUNREACH);
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 1);
	struct rte_mbuf *m;
	uint32_t cap;
	assert_non_null(pk_net_udp_frame(f->ctx, &m, &cap));
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &fifth, 11), -EHOSTUNREACH);
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 2);
	learn(f, ips[4], macs[4], 11);
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 3);
	/* it asks for us: answered all the same, only not remembered */
	assert_int_equal(rx(f, in, arp_request_frame(in, -1, ips[4], OUR_IP), 11), PK_NET_RX_REPLY);
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 4);
	size_t l2 = eth(exp, PEER_MAC, OUR_MAC, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 2, OUR_MAC, OUR_IP, PEER_MAC, ips[4]);
	assert_int_equal(tx_frame(f, 0, b), en);
	assert_memory_equal(b, exp, en);
	drain(f->ctx);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), PK_NET_ARP_WAYS);
	assert_int_equal(arp_state(f, ips[4], NULL), PK_NET_ARP_FREE);
	for (k = 0; k < PK_NET_ARP_WAYS; k++) {
		assert_int_equal(arp_state(f, ips[k], &q), PK_NET_ARP_INCOMPLETE);
		assert_int_equal(q, 1); /* its datagram still waits */
	}
	assert_int_equal(in_use(f), PK_NET_ARP_WAYS + pk_net_frames_held(f->ctx));

	/* answered, not in the order asked: ips[1] confirmed first */
	const uint64_t when[PK_NET_ARP_WAYS] = { 40, 10, 20, 30 };
	for (k = 0; k < PK_NET_ARP_WAYS; k++)
		arp_reply_from(f, macs[k], ips[k], when[k]);
	assert_int_equal(tx_count(f), PK_NET_ARP_WAYS);
	drain(f->ctx);
	/* ips[1] in use right before (the hot next hop) */
	struct pk_addr dst1 = A(ips[1], 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "h", 1, &src, &dst1, 45), 1);
	drain(f->ctx);

	/* the fifth now takes the least recently confirmed entry's place */
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &fifth, 50), 0);
	assert_int_equal(arp_state(f, ips[4], &q), PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 1);
	assert_int_equal(arp_state(f, ips[1], NULL), PK_NET_ARP_FREE);
	assert_int_equal(arp_state(f, ips[0], NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(arp_state(f, ips[2], NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(arp_state(f, ips[3], NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(tx_count(f), 1);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, ips[4]);
	drain(f->ctx);
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 4);

	/* ips[1] again: asked for, not sent to its old MAC; it evicts the
	 * next least recently confirmed (ips[2], at 20), not the fifth,
	 * whose entry is older but being resolved */
	assert_int_equal(pk_net_udp_tx(f->ctx, "again", 5, &src, &dst1, 60), 0);
	assert_int_equal(tx_count(f), 1);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, ips[1]);
	drain(f->ctx);
	assert_int_equal(arp_state(f, ips[2], NULL), PK_NET_ARP_FREE);
	assert_int_equal(arp_state(f, ips[4], &q), PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 1);
	assert_int_equal(arp_state(f, ips[1], &q), PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 1);
	/* the answers release what waited, to the MACs learnt */
	arp_reply_from(f, macs[1], ips[1], 70);
	arp_reply_from(f, macs[4], ips[4], 70);
	assert_int_equal(tx_count(f), 2);
	assert_string_equal(staged_text(f, 0), "again");
	tx_frame(f, 0, b);
	assert_memory_equal(b, macs[1], 6);
	assert_string_equal(staged_text(f, 1), "x");
	tx_frame(f, 1, b);
	assert_memory_equal(b, macs[4], 6);
	assert_int_equal(C(f, PK_NET_CTR_ARP_QUEUE_TIMEOUT), 0); /* no queued frame lost */
	assert_int_equal(fx_free(f), 0);
}

/* A confirmed next hop used after arp_reachable_ms without a timer run in
 * between: it goes STALE there and then, is still used (the datagram
 * leaves to the MAC known) and asked for again; a reply makes it
 * REACHABLE. */
static void test_arp_stale_on_use(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);
	uint8_t b[128];

	learn(f, PEER3_IP, PEER3_MAC, 1000);
	assert_int_equal(arp_state(f, PEER3_IP, NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 2000), 1);
	assert_int_equal(arp_state(f, PEER3_IP, NULL), PK_NET_ARP_STALE);
	assert_int_equal(tx_count(f), 2);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER3_IP);
	assert_string_equal(staged_text(f, 1), "b");
	tx_frame(f, 1, b);
	assert_memory_equal(b, PEER3_MAC, 6);
	drain(f->ctx);
	arp_reply_from(f, PEER3_MAC, PEER3_IP, 2010);
	assert_int_equal(arp_state(f, PEER3_IP, NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(tx_count(f), 0);
}

/* An ARP reply from a MAC, to us. */
static void arp_reply_mac(struct fx *f, uint32_t ip, uint8_t last, uint64_t now)
{
	uint8_t mac[6];

	memcpy(mac, PEER3_MAC, 6);
	mac[5] = last;
	arp_reply_from(f, mac, ip, now);
}

/* What ARP taught a sharing ctx (pk_net_arp_take_learnt): a sender heard
 * again before it was taken is one mapping, with its latest MAC, and one
 * that may create entries once it asked for us; at most PK_NET_LEARNT_MAX
 * wait, more are counted lost (not a refresh of one waiting); taken a few
 * at a time, oldest first. What another queue passed on is not logged
 * again (no echo), and pk_net_arp_update only updates entries there are. */
static void test_arp_learnt_log(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.share_arp = true;
	struct fx *f = fx_new(&c);
	struct pk_net_arp_mapping maps[PK_NET_LEARNT_MAX + 1];
	uint8_t in[128];

	/* a reply nobody here asked for, then a request for us: one mapping */
	arp_reply_mac(f, PEER3_IP, 0x33, 1);
	assert_int_equal(rx(f, in, arp_request_frame(in, -1, PEER3_IP, OUR_IP), 2), PK_NET_RX_REPLY);
	drain(f->ctx);
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, RTE_DIM(maps)), 1);
	assert_int_equal(maps[0].ip, rte_cpu_to_be_32(PEER3_IP));
	assert_memory_equal(maps[0].mac.addr_bytes, PEER_MAC, 6); /* the request's */
	assert_int_equal(maps[0].create, 1);

	/* one more than the log holds */
	for (unsigned i = 0; i <= PK_NET_LEARNT_MAX; i++)
		arp_reply_mac(f, IP(10, 99, 0, 100 + i), (uint8_t)i, 3);
	assert_int_equal(C(f, PK_NET_CTR_ARP_LEARNT_LOST), 1);
	/* a refresh of one waiting is not lost */
	arp_reply_mac(f, IP(10, 99, 0, 100), 0xee, 4);
	assert_int_equal(C(f, PK_NET_CTR_ARP_LEARNT_LOST), 1);
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, 5), 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(maps[i].ip, rte_cpu_to_be_32(IP(10, 99, 0, 100 + i)));
		assert_int_equal(maps[i].create, 0);
		assert_int_equal(maps[i].mac.addr_bytes[5], i == 0 ? 0xee : i);
	}
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, RTE_DIM(maps)), PK_NET_LEARNT_MAX - 5);
	for (unsigned i = 0; i < PK_NET_LEARNT_MAX - 5; i++)
		assert_int_equal(maps[i].ip, rte_cpu_to_be_32(IP(10, 99, 0, 105 + i)));
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, RTE_DIM(maps)), 0);

	/* passed on by another queue: learnt, not logged again */
	learn(f, IP(10, 99, 0, 77), PEER_MAC, 5);
	assert_int_equal(arp_state(f, IP(10, 99, 0, 77), NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, RTE_DIM(maps)), 0);

	/* an update for a next hop this ctx does not have: nothing made */
	struct rte_ether_addr mac;
	memcpy(mac.addr_bytes, PEER3_MAC, 6);
	assert_false(pk_net_arp_update(f->ctx, rte_cpu_to_be_32(IP(10, 99, 0, 78)), &mac, 6));
	assert_int_equal(arp_state(f, IP(10, 99, 0, 78), NULL), PK_NET_ARP_FREE);
	/* one being resolved: resolved, what waited leaves to that MAC */
	struct pk_addr src = A(OUR_IP, 5060), dst = A(IP(10, 99, 0, 78), 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "w", 1, &src, &dst, 6), 0);
	drain(f->ctx);
	assert_true(pk_net_arp_update(f->ctx, rte_cpu_to_be_32(IP(10, 99, 0, 78)), &mac, 7));
	assert_int_equal(arp_state(f, IP(10, 99, 0, 78), NULL), PK_NET_ARP_REACHABLE);
	assert_int_equal(tx_count(f), 1);
	uint8_t b[128];
	tx_frame(f, 0, b);
	assert_memory_equal(b, PEER3_MAC, 6);
	assert_string_equal(staged_text(f, 0), "w");
	assert_int_equal(pk_net_arp_take_learnt(f->ctx, maps, RTE_DIM(maps)), 0);
	assert_int_equal(fx_free(f), 0);
}

/* ---------- malformed lengths ---------- */

/* A UDP datagram shorter than its own header (IP payload of 0 and 4
 * bytes): udp_bad_len. More bytes after the IP datagram than the frame's
 * last segment holds cannot be trimmed (rte_pktmbuf_trim trims the last
 * segment only): ip_bad_len; fewer are, and the datagram is delivered.
 * Every frame freed. */
static void test_bad_lengths(void **state)
{
	struct fx *f = *state;
	uint8_t in[256];

	for (unsigned plen = 0; plen <= 4; plen += 4) {
		size_t l2 = eth(in, OUR_MAC, PEER_MAC, -1, 0x0800);
		ip4(in + l2, PEER_IP, OUR_IP, 17, 9, 0, 64, plen);
		memset(in + l2 + 20, 0, 26);
		assert_int_equal(rx(f, in, 60, 1), PK_NET_RX_DROP);
	}
	assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_LEN), 2);

	/* 10 bytes after the datagram, the last segment 4 of them */
	size_t n = udp_frame(in, -1, PEER_IP, OUR_IP, 5060, "INVITE", 6, true);
	memset(in + n, 0, 10);
	assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n + 10, n + 6), 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_IP_BAD_LEN), 1);
	/* within the last segment they are trimmed and the datagram delivered */
	assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n + 10, n - 3), 1, &f->out), PK_NET_RX_UDP);
	assert_int_equal(f->out.len, 6);
	assert_memory_equal(f->out.payload, "INVITE", 6);
	assert_null(f->out.mbuf);
	assert_int_equal(in_use(f), 0);
}

/* A frame of n bytes in segments of at most seg bytes (a port's
 * scattered receive). */
static struct rte_mbuf *mk_segs(const uint8_t *bytes, size_t n, size_t seg)
{
	struct rte_mbuf *m = mk(bytes, RTE_MIN(n, seg));

	for (size_t off = seg; off < n; off += seg)
		assert_int_equal(rte_pktmbuf_chain(m, mk(bytes + off, RTE_MIN(n - off, seg))), 0);
	return m;
}

/* The fragments of one datagram from the peer that add up to 65536 +
 * over bytes of IPv4 (header included): more than a datagram can hold
 * ("ping of death"), each fragment well formed: 7 of 8192 bytes and the
 * rest (each a chain of segments). Its UDP header claims ulen bytes and
 * has no checksum. What pk_net_rx said of the last fragment. */
static enum pk_net_rx_result oversized_datagram(struct fx *f, uint32_t over, uint16_t ulen,
						uint64_t now)
{
	static uint8_t b[14 + 20 + 8192 + 1024];
	enum pk_net_rx_result r = PK_NET_RX_DROP;
	uint32_t total = 65536 + over - 20; /* of IP payload */

	assert_true(total - 7 * 8192 <= sizeof(b) - 34);
	for (unsigned k = 0; k < 8; k++) {
		uint32_t len = k < 7 ? 8192 : total - 7 * 8192;
		uint16_t frag = (uint16_t)((k * 8192 / 8) | (k < 7 ? 0x2000 : 0));
		size_t l2 = eth(b, OUR_MAC, PEER_MAC, -1, 0x0800);
		ip4(b + l2, PEER_IP, OUR_IP, 17, (uint16_t)(0x0bad + over), frag, 64, len);
		memset(b + l2 + 20, 'A', len);
		if (k == 0)
			udp(b + l2 + 20, PEER_IP, OUR_IP, 5060, 5060, b + l2 + 28, (size_t)ulen - 8, false);
		r = pk_net_rx(f->ctx, mk_segs(b, l2 + 20 + len, 1800), now, &f->out);
		if (k < 7)
			assert_int_equal(r, PK_NET_RX_CONSUMED);
	}
	return r;
}

/* How many drops were counted for datagrams of bad length. */
static uint64_t length_drops(struct fx *f)
{
	return C(f, PK_NET_CTR_IP_BAD_LEN) + C(f, PK_NET_CTR_UDP_BAD_LEN) + C(f, PK_NET_CTR_FRAG_ERROR);
}

/* Oversized datagrams whose 16-bit total length, once reassembled, would
 * wrap to less than an IPv4 header (4) or to a header without room for
 * UDP's (20): dropped, one drop counted for each (by this DPDK's
 * rte_ip_frag, which reassembles them, as a bad IP or UDP length; by one
 * that refuses the fragment past 65535, as a reassembly error), and every
 * frame back in the pool once the datagram is given up. */
static void test_oversized_reassembly(void **state)
{
	struct fx *f = *state;

	assert_int_equal(oversized_datagram(f, 4, 8, 10), PK_NET_RX_DROP);
	assert_int_equal(length_drops(f), 1);
	assert_int_equal(oversized_datagram(f, 20, 8, 20), PK_NET_RX_DROP);
	assert_int_equal(length_drops(f), 2);
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), 0);
	pk_net_poll(f->ctx, 20 + 2001); /* frag_timeout_ms later: what waited is freed */
	assert_int_equal(in_use(f), 0);
}

/* An oversized datagram whose wrapped length looks like a small valid
 * datagram (65536 + 200 bytes: 200, with a UDP header of 180 bytes) must
 * be dropped like the others, not delivered as its first 172 bytes of
 * payload: RFC 791 datagrams end at 65535 bytes, and Linux drops such a
 * reassembly ("oversized IP packet").
 * FAILS on this tree (dataplane/net/ip4.c, pk_net_ip4_input after
 * frag_input: only tot < ihl is checked, not that the reassembled total
 * length matches the chain); see the report. */
static void test_oversized_reassembly_plausible(void **state)
{
	struct fx *f = *state;

	f->out.mbuf = NULL;
	enum pk_net_rx_result r = oversized_datagram(f, 200, 180, 10);
	if (r == PK_NET_RX_UDP) {
		uint32_t len = f->out.len;
		rte_pktmbuf_free(f->out.mbuf); /* (NULL: copied) */
		fail_msg("65736 bytes of IPv4 reassembled and delivered as a %u-byte datagram", len);
	}
	assert_int_equal(r, PK_NET_RX_DROP);
	assert_int_equal(length_drops(f), 1);
	pk_net_poll(f->ctx, 10 + 2001);
	assert_int_equal(in_use(f), 0);
}

/* ---------- configurations refused ---------- */

static size_t heap_allocated(void)
{
	struct rte_malloc_socket_stats st;

	assert_int_equal(rte_malloc_get_socket_stats(rte_socket_id(), &st), 0);
	return st.heap_allocsz_bytes;
}

/* pk_net_ctx_create says what is wrong with a configuration it refuses,
 * and keeps nothing of what it took before it saw it. */
static void test_conf_refused(void **state)
{
	(void)state;
	struct pk_net_conf c;
	struct pk_net_ctx *ctx;
	char err[128];
	size_t heap = heap_allocated();

	for (unsigned k = 0; k < 10; k++) {
		struct rte_mempool *p = pool;
		conf_default(&c);
		switch (k) {
		case 0: c.n_addrs = 0; break;
		case 1: c.n_addrs = PK_NET_MAX_ADDRS + 1; break;
		case 2: c.n_ports = PK_NET_MAX_PORTS + 1; break;
		case 3: c.vlan_id = 4095; break;
		case 4: c.tsc_hz = 999; break;
		case 5: c.prefix_len = 33; break;
		case 6: c.mtu = 575; break;
		case 7: c.mtu = 9001; break;
		case 8: c.mac.addr_bytes[0] |= 1; break; /* multicast */
		default: p = NULL; break;
		}
		strcpy(err, "unchanged");
		assert_null(pk_net_ctx_create(&c, p, err, sizeof(err)));
		assert_string_equal(err, "net: invalid configuration");
	}
	conf_default(&c);
	c.frag_max_flows = 4097;
	assert_null(pk_net_ctx_create(&c, pool, err, sizeof(err)));
	assert_string_equal(err, "net: frag_max_flows above 4096");
	assert_int_equal(heap_allocated(), heap);
	/* the bounds themselves are fine */
	c.frag_max_flows = 4096;
	c.mtu = 9000;
	ctx = pk_net_ctx_create(&c, pool, err, sizeof(err));
	assert_non_null(ctx);
	pk_net_ctx_destroy(ctx);
	assert_int_equal(heap_allocated(), heap);

	/* frames whose data room holds no 576-byte packet behind our header:
	 * refused (the ctx it made already freed); one byte more is enough
	 * untagged, not with a tag */
	for (unsigned more = 0; more < 2; more++) {
		struct rte_mempool *small = rte_pktmbuf_pool_create(
			more ? "pk_test_small1" : "pk_test_small0", 63, 0, 0,
			(uint16_t)(RTE_PKTMBUF_HEADROOM + 14 + 575 + more), SOCKET_ID_ANY);
		assert_non_null(small);
		heap = heap_allocated();
		conf_default(&c);
		strcpy(err, "unchanged");
		ctx = pk_net_ctx_create(&c, small, err, sizeof(err));
		if (more) {
			/* the MTU shrinks to the room: a 576-byte packet */
			assert_non_null(ctx);
			struct rte_mbuf *m;
			uint32_t cap;
			assert_non_null(pk_net_udp_frame(ctx, &m, &cap));
			assert_int_equal(cap, 576 - 28);
			rte_pktmbuf_free(m);
			pk_net_ctx_destroy(ctx);
			c.vlan_id = 7;
			ctx = pk_net_ctx_create(&c, small, err, sizeof(err));
		}
		assert_null(ctx);
		assert_string_equal(err, "net: mbuf data room too small for a 576-byte packet");
		assert_int_equal(heap_allocated(), heap);
		assert_int_equal(rte_mempool_in_use_count(small), 0);
		rte_mempool_free(small);
	}
}

/* The EAL's memory used up (-m 256 without hugepages: it does not grow):
 * no room for the ctx, then room for the ctx but not for its reassembly
 * table; refused with the reason, and what was taken given back. */
static void test_conf_no_memory(void **state)
{
	(void)state;
	static void *blk[4096];
	unsigned nb = 0;
	struct pk_net_conf c;
	char err[128];
	size_t heap = heap_allocated();
	uint32_t level = rte_log_get_global_level();

	rte_log_set_global_level(RTE_LOG_EMERG); /* the failed allocations' messages */
	for (size_t sz = 1u << 20; sz >= 64; sz >>= 1)
		while (nb < RTE_DIM(blk) && (blk[nb] = rte_malloc("pk_test_fill", sz, 0)) != NULL)
			nb++;
	assert_true(nb > 0 && nb < RTE_DIM(blk));
	conf_default(&c);
	c.frag_max_flows = 4096; /* a table of some MB */
	assert_null(pk_net_ctx_create(&c, pool, err, sizeof(err)));
	assert_string_equal(err, "net: no memory for the context");
	rte_free(blk[0]); /* 1 MB: the ctx and its table of seen fragments fit */
	assert_null(pk_net_ctx_create(&c, pool, err, sizeof(err)));
	assert_string_equal(err, "net: cannot create the reassembly table (4096 flows)");
	for (unsigned i = 1; i < nb; i++)
		rte_free(blk[i]);
	rte_log_set_global_level(level);
	assert_int_equal(heap_allocated(), heap);
	/* and with the memory back, the same configuration works */
	struct pk_net_ctx *ctx = pk_net_ctx_create(&c, pool, err, sizeof(err));
	assert_non_null(ctx);
	pk_net_ctx_destroy(ctx);
	assert_int_equal(heap_allocated(), heap);
}

/* A configuration that leaves the optional settings 0 gets the documented
 * defaults: a /24 on-link, ARP requests every 1000 ms, 3 of them, entries
 * REACHABLE 30 s then STALE 10 s, half-reassembled datagrams kept 2 s. */
static void test_conf_defaults(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.prefix_len = 0;
	c.arp_reachable_ms = c.arp_stale_ms = c.arp_retry_ms = 0;
	c.arp_retries = 0;
	c.frag_timeout_ms = 0;
	struct fx *f = fx_new(&c);
	struct pk_addr src = A(OUR_IP, 5060), lan = A(IP(10, 99, 0, 200), 5060);
	struct pk_addr off = A(IP(10, 99, 1, 200), 5060);
	uint8_t b[128];

	/* /24: 10.99.0.200 is asked for itself, 10.99.1.200 is the gateway's */
	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &lan, 0), 0);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, IP(10, 99, 0, 200));
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &off, 0), 0);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, IP(10, 99, 0, 254));
	drain(f->ctx);
	/* retries every 1000 ms, the third request the last */
	pk_net_poll(f->ctx, 999);
	assert_int_equal(tx_count(f), 0);
	pk_net_poll(f->ctx, 1000);
	assert_int_equal(tx_count(f), 2);
	drain(f->ctx);
	pk_net_poll(f->ctx, 2000);
	assert_int_equal(tx_count(f), 2);
	drain(f->ctx);
	pk_net_poll(f->ctx, 3000);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(C(f, PK_NET_CTR_ARP_FAILED), 2);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 6);
	/* reachable 30 s, then stale 10 s */
	learn(f, PEER_IP, PEER_MAC, 4000);
	pk_net_poll(f->ctx, 33999);
	assert_int_equal(arp_state(f, PEER_IP, NULL), PK_NET_ARP_REACHABLE);
	pk_net_poll(f->ctx, 34000);
	assert_int_equal(arp_state(f, PEER_IP, NULL), PK_NET_ARP_STALE);
	pk_net_poll(f->ctx, 43999);
	assert_int_equal(arp_state(f, PEER_IP, NULL), PK_NET_ARP_STALE);
	pk_net_poll(f->ctx, 44000);
	assert_int_equal(arp_state(f, PEER_IP, NULL), PK_NET_ARP_FREE);
	/* a lone fragment: given up 2000 ms after it came */
	size_t l2 = eth(b, OUR_MAC, PEER_MAC, -1, 0x0800);
	ip4(b + l2, PEER_IP, OUR_IP, 17, 77, 0x2000, 64, 16);
	memset(b + l2 + 20, 0, 16);
	assert_int_equal(rx(f, b, l2 + 36, 50000), PK_NET_RX_CONSUMED);
	pk_net_poll(f->ctx, 52000);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TIMEOUT), 0);
	pk_net_poll(f->ctx, 52001);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TIMEOUT), 1);
	assert_int_equal(fx_free(f), 0);
}

/* The counters read all at once agree with one at a time. */
static void test_counters_copy(void **state)
{
	struct fx *f = *state;
	uint64_t all[PK_NET_CTR_COUNT];
	uint8_t in[64];

	assert_int_equal(rx(f, in, arp_request_frame(in, -1, PEER_IP, OUR_IP), 1), PK_NET_RX_REPLY);
	assert_int_equal(pk_net_rx(f->ctx, mk(in, 10), 1, &f->out), PK_NET_RX_DROP);
	pk_net_counters(f->ctx, all);
	for (unsigned i = 0; i < PK_NET_CTR_COUNT; i++)
		assert_int_equal(all[i], C(f, (enum pk_net_counter)i));
	assert_int_equal(all[PK_NET_CTR_RX_FRAMES], 2);
	assert_int_equal(all[PK_NET_CTR_ARP_REPLIED], 1);
	assert_int_equal(all[PK_NET_CTR_ETH_RUNT], 1);
}

/* Whatever a test left out of the pool (a failed assertion) goes back. */
static int teardown_limits(void **state)
{
	pool_refill();
	return teardown(state);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown_limits)

int main(void)
{
	if (net_eal_up("test_net_limits", "pk-test-net-limits") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		T(test_tx_done_partial),
		T(test_tx_staging_full),
		T(test_udp_tx_pool_dry),
		T(test_arp_request_pool_dry),
		T(test_garp_pool_dry),
		T(test_udp_tx_frame_refused),
		T(test_udp_tx_frame_copy_path),
		cmocka_unit_test(test_tx_cksum_offload),
		cmocka_unit_test(test_reply_without_headroom),
		cmocka_unit_test(test_arp_table_full),
		T(test_arp_stale_on_use),
		cmocka_unit_test(test_arp_learnt_log),
		T(test_bad_lengths),
		T(test_oversized_reassembly),
		T(test_oversized_reassembly_plausible),
		cmocka_unit_test(test_conf_refused),
		cmocka_unit_test(test_conf_no_memory),
		cmocka_unit_test(test_conf_defaults),
		T(test_counters_copy),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	net_eal_down();
	return r;
}
