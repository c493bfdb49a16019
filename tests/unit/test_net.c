/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the network layers for the DPDK backend
 * (include/pickup/net.h, dataplane/net/): ARP answers, resolution with its
 * queue, retries, refresh and expiry on a fake clock, gratuitous ARP, ICMP
 * echo, VLAN in and out, every IPv4/UDP drop reason, reassembly (in order,
 * out of order, duplicates, timeout), fragmentation of a large datagram,
 * and a random-input loop. Every frame given to pk_net_rx is built here by
 * hand (not with the code under test) and every frame it produces is
 * checked byte by byte or re-parsed here. After each test the mempool must
 * be whole again: no frame leaks on any path.
 *
 * Runs EAL without hugepages, PCI or shared config files, one lcore
 * (--in-memory is refused with --no-huge: EAL then implies --legacy-mem).
 * The clock is fake: tsc_hz = 1000, so one tick is one millisecond.
 */
#include <errno.h>
#include <inttypes.h>
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
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "pickup/net.h"
#include "test_net_fixture.h"

/* ---------- ARP ---------- */

static void test_arp_reply(void **state)
{
	struct fx *f = *state;
	uint8_t in[64], exp[64], got[128];

	size_t n = arp_request_frame(in, -1, PEER_IP, OUR_IP2);
	assert_int_equal(rx(f, in, n, 5), PK_NET_RX_REPLY);
	size_t l2 = eth(exp, PEER_MAC, OUR_MAC, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 2, OUR_MAC, OUR_IP2, PEER_MAC, PEER_IP);
	assert_int_equal(tx_count(f), 1);
	assert_int_equal(tx_frame(f, 0, got), en);
	assert_memory_equal(got, exp, en);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REPLIED), 1);
	/* The requester is learnt: we will talk to it. */
	struct rte_ether_addr mac;
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER_IP), &mac, NULL),
			 PK_NET_ARP_REACHABLE);
	assert_memory_equal(mac.addr_bytes, PEER_MAC, 6);
}

static void test_arp_not_for_us(void **state)
{
	struct fx *f = *state;
	uint8_t in[64];

	size_t n = arp_request_frame(in, -1, PEER_IP, IP(10, 99, 0, 77));
	assert_int_equal(rx(f, in, n, 5), PK_NET_RX_DROP);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(C(f, PK_NET_CTR_ARP_NOT_FOR_US), 1);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REPLIED), 0);
	/* Not for us: the sender is not added to the cache. */
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER_IP), NULL, NULL),
			 PK_NET_ARP_FREE);
	/* Malformed (protocol length 6) is another reason. */
	n = arp_request_frame(in, -1, PEER_IP, OUR_IP);
	in[14 + 5] = 6;
	assert_int_equal(rx(f, in, n, 5), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_ARP_BAD), 1);
}

static void test_arp_resolution_queue(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(0, 5060), dst = A(PEER3_IP, 5062);
	src.family = 0;
	uint8_t b[2048];
	char msg[32];

	assert_int_equal(pk_net_udp_tx(f->ctx, "first", 5, &src, &dst, 10), 0);
	assert_int_equal(tx_count(f), 1); /* only the request */
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER3_IP);
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "second", 6, &src, &dst, 11), 0);
	assert_int_equal(pk_net_udp_tx(f->ctx, "third", 5, &src, &dst, 12), 0);
	assert_int_equal(tx_count(f), 0); /* one request per retry interval */
	unsigned q = 0;
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, &q),
			 PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 3);

	arp_reply_from(f, PEER3_MAC, PEER3_IP, 20);
	assert_int_equal(tx_count(f), 3);
	const char *want[] = { "first", "second", "third" };
	for (unsigned i = 0; i < 3; i++) {
		size_t n = tx_frame(f, i, b);
		assert_memory_equal(b, PEER3_MAC, 6);
		assert_memory_equal(b + 6, OUR_MAC, 6);
		assert_int_equal(get32(b + 14 + 16), PEER3_IP);
		assert_int_equal(get16(b + 14 + 22), 5062);
		size_t pl = n - 14 - 28;
		memcpy(msg, b + 42, pl);
		msg[pl] = 0;
		assert_string_equal(msg, want[i]);
	}
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, &q),
			 PK_NET_ARP_REACHABLE);
	assert_int_equal(q, 0);
	/* Resolved now: the next datagram goes straight out. */
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "fourth", 6, &src, &dst, 21), 1);
	/* Off-link destinations go through the gateway's entry. */
	dst = A(IP(192, 0, 2, 1), 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &dst, 22), 0);
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(IP(10, 99, 0, 254)), NULL, &q),
			 PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 1);
}

/* Many neighbours on one subnet, all being resolved at once (phones on
 * the LAN of the port): each gets its entry and its request, none is
 * refused for a full cache, and every one is cached once answered. (The
 * cache's hash once put every host of a /24 in one bucket of 4 entries:
 * the fifth was dropped, ARP_TABLE_FULL.) */
static void test_arp_many_neighbours(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060);
	enum { N = 100 };
	uint8_t mac[6];
	unsigned q;

	for (unsigned i = 0; i < N; i++) {
		struct pk_addr dst = A(IP(10, 99, 0, 100 + i), 5060);

		assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &dst, 1), 0);
		drain(f->ctx);
	}
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 0);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), N);
	for (unsigned i = 0; i < N; i++) {
		memcpy(mac, PEER3_MAC, 6);
		mac[5] = (uint8_t)i;
		arp_reply_from(f, mac, IP(10, 99, 0, 100 + i), 2);
		drain(f->ctx); /* the datagram that waited */
	}
	for (unsigned i = 0; i < N; i++) {
		struct rte_ether_addr m;

		assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(IP(10, 99, 0, 100 + i)), &m, &q),
				 PK_NET_ARP_REACHABLE);
		assert_int_equal(m.addr_bytes[5], i);
	}
	assert_int_equal(C(f, PK_NET_CTR_ARP_TABLE_FULL), 0);
}

/* The cache as the control plane sees it (pk_net_arp_dump): an entry
 * being resolved (no MAC, its frames waiting, its age from the request),
 * one confirmed (its MAC, its age from the reply), one gone stale. */
static void test_arp_dump(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5062);
	struct pk_net_neighbour nb[PK_NET_ARP_ENTRIES];
	unsigned n;

	assert_int_equal(pk_net_arp_dump(f->ctx, 0, nb, PK_NET_ARP_ENTRIES), 0);
	/* 10.99.0.3: two datagrams wait for it; the gateway, answered */
	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &dst, 10), 0);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 11), 0);
	dst = A(IP(192, 0, 2, 1), 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "c", 1, &src, &dst, 20), 0);
	drain(f->ctx);
	arp_reply_from(f, PEER_MAC, IP(10, 99, 0, 254), 30);
	drain(f->ctx);
	n = pk_net_arp_dump(f->ctx, 130, nb, PK_NET_ARP_ENTRIES);
	assert_int_equal(n, 2);
	for (unsigned i = 0; i < n; i++) {
		if (nb[i].ip == rte_cpu_to_be_32(PEER3_IP)) {
			assert_int_equal(nb[i].state, PK_NET_ARP_INCOMPLETE);
			assert_int_equal(nb[i].queued, 2);
			assert_int_equal(nb[i].age_ms, 120); /* from its request at 10 (1 tick = 1 ms) */
			assert_true(rte_is_zero_ether_addr(&nb[i].mac));
		} else {
			assert_int_equal(nb[i].ip, rte_cpu_to_be_32(IP(10, 99, 0, 254)));
			assert_int_equal(nb[i].state, PK_NET_ARP_REACHABLE);
			assert_int_equal(nb[i].queued, 0);
			assert_int_equal(nb[i].age_ms, 100);
			assert_memory_equal(nb[i].mac.addr_bytes, PEER_MAC, 6);
		}
	}
	/* max is honoured */
	assert_int_equal(pk_net_arp_dump(f->ctx, 130, nb, 1), 1);
	/* past arp_reachable_ms (1000) without a reply: stale */
	pk_net_poll(f->ctx, 1100);
	drain(f->ctx);
	n = pk_net_arp_dump(f->ctx, 1100, nb, PK_NET_ARP_ENTRIES);
	bool stale = false;
	for (unsigned i = 0; i < n; i++)
		stale = stale || (nb[i].ip == rte_cpu_to_be_32(IP(10, 99, 0, 254)) && nb[i].state == PK_NET_ARP_STALE);
	assert_true(stale);
}

/* A link gone down (pk_net_arp_forget): the resolved neighbours are
 * forgotten and asked for again by the next datagram; one being resolved
 * stays with its frames. */
static void test_arp_forget(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5062), far = A(PEER3_IP, 5062);
	uint8_t b[128];
	unsigned q;

	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &dst, 1), 0);
	drain(f->ctx);
	arp_reply_from(f, PEER_MAC, PEER_IP, 2);
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 3), 1); /* resolved: straight out */
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "c", 1, &src, &far, 4), 0); /* being resolved */
	drain(f->ctx);

	assert_int_equal(pk_net_arp_forget(f->ctx), 1);
	assert_int_equal(C(f, PK_NET_CTR_ARP_FLUSHED), 1);
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER_IP), NULL, &q), PK_NET_ARP_FREE);
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, &q), PK_NET_ARP_INCOMPLETE);
	assert_int_equal(q, 1);
	/* asked again, not sent to the old MAC */
	assert_int_equal(pk_net_udp_tx(f->ctx, "d", 1, &src, &dst, 5), 0);
	assert_int_equal(tx_count(f), 1);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER_IP);
	assert_int_equal(pk_net_arp_forget(f->ctx), 0);

	/* what was learnt for the other queues and not taken yet goes too:
	 * it is from before the link went down */
	struct pk_net_conf c;
	struct pk_net_arp_mapping maps[PK_NET_LEARNT_MAX];
	conf_default(&c);
	c.share_arp = true;
	struct fx *g = fx_new(&c);
	assert_int_equal(pk_net_udp_tx(g->ctx, "a", 1, &src, &dst, 1), 0);
	drain(g->ctx);
	arp_reply_from(g, PEER_MAC, PEER_IP, 2);
	drain(g->ctx);
	assert_int_equal(pk_net_arp_forget(g->ctx), 1);
	assert_int_equal(pk_net_arp_take_learnt(g->ctx, maps, PK_NET_LEARNT_MAX), 0);
	assert_int_equal(fx_free(g), 0);
}

/* pk_net_udp_frame with its stash empty and the pool (nearly) dry: NULL
 * (and no frame) when none is left, one frame when one is. */
static void test_udp_frame_pool_dry(void **state)
{
	struct fx *f = *state;
	static struct rte_mbuf *all[4096];
	unsigned n = 0;

	while (n < RTE_DIM(all) && (all[n] = rte_pktmbuf_alloc(pool)) != NULL)
		n++;
	assert_int_equal(pk_net_frames_held(f->ctx), 0);
	struct rte_mbuf *m = (struct rte_mbuf *)(uintptr_t)1;
	uint32_t cap = 7;
	assert_null(pk_net_udp_frame(f->ctx, &m, &cap));
	assert_null(m);
	rte_pktmbuf_free(all[--n]);
	char *p = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(p);
	assert_non_null(m);
	assert_ptr_equal(p, rte_pktmbuf_mtod(m, char *));
	assert_int_equal(cap, 1500 - 28);
	assert_int_equal(pk_net_frames_held(f->ctx), 0);
	rte_pktmbuf_free(m);
	while (n != 0)
		rte_pktmbuf_free(all[--n]);
}

static void test_arp_queue_overflow(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);
	static uint8_t big[2000];

	for (unsigned i = 0; i < PK_NET_ARP_QLEN - 1; i++)
		assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &dst, 0), 0);
	/* Two fragments do not fit in the one slot left: all or nothing. */
	assert_int_equal(pk_net_udp_tx(f->ctx, big, sizeof(big), &src, &dst, 0), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_ARP_QUEUE_OVERFLOW), 1);
	/* The last slot and the overflow with datagrams written in their
	 * frames: pk_net_udp_tx_frame queues on the entry too. */
	struct rte_mbuf *m;
	uint32_t cap;
	char *p = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(p);
	p[0] = 'y';
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &dst, 0), 0);
	p = pk_net_udp_frame(f->ctx, &m, &cap);
	assert_non_null(p);
	p[0] = 'z';
	assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &dst, 0), -ENOBUFS);
	assert_int_equal(C(f, PK_NET_CTR_ARP_QUEUE_OVERFLOW), 2);
	unsigned q;
	pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, &q);
	assert_int_equal(q, PK_NET_ARP_QLEN);
	/* Released in order: the last one out is "y", to the MAC learnt. */
	arp_reply_from(f, PEER3_MAC, PEER3_IP, 1);
	uint8_t b[128];
	assert_int_equal(tx_count(f), 1 + PK_NET_ARP_QLEN);
	size_t n = tx_frame(f, PK_NET_ARP_QLEN, b);
	assert_int_equal(n, 43);
	assert_int_equal(b[42], 'y');
	assert_memory_equal(b, PEER3_MAC, 6);
	assert_memory_equal(b + 6, OUR_MAC, 6);
	assert_int_equal(cksum(b + 14, 20), 0);
	assert_true(udp_sum_ok(b + 14 + 20, 9, get32(b + 14 + 12), get32(b + 14 + 16)));
}

static void test_arp_retry_and_give_up(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);
	uint8_t b[128];

	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &dst, 1000), 0);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 1000), 0);
	drain(f->ctx);
	pk_net_poll(f->ctx, 1099);
	assert_int_equal(tx_count(f), 0); /* retry interval 100 ms not over */
	pk_net_poll(f->ctx, 1100);
	assert_int_equal(tx_count(f), 1);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER3_IP);
	drain(f->ctx);
	pk_net_poll(f->ctx, 1200);
	assert_int_equal(tx_count(f), 1); /* third and last request */
	drain(f->ctx);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 3);
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, NULL),
			 PK_NET_ARP_INCOMPLETE);
	pk_net_poll(f->ctx, 1300);
	assert_int_equal(tx_count(f), 0);
	assert_int_equal(C(f, PK_NET_CTR_ARP_FAILED), 1);
	assert_int_equal(C(f, PK_NET_CTR_ARP_QUEUE_TIMEOUT), 2);
	assert_int_equal(pk_net_arp_lookup(f->ctx, rte_cpu_to_be_32(PEER3_IP), NULL, NULL),
			 PK_NET_ARP_FREE);
	/* A later datagram starts over with a new request. */
	assert_int_equal(pk_net_udp_tx(f->ctx, "c", 1, &src, &dst, 1400), 0);
	assert_int_equal(tx_count(f), 1);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 4);
}

static void test_arp_refresh_stale_expire(void **state)
{
	struct fx *f = *state;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);
	uint8_t b[128];
	uint32_t ip3 = rte_cpu_to_be_32(PEER3_IP);

	arp_reply_from(f, PEER3_MAC, PEER3_IP, 1000); /* unsolicited reply: not learnt */
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_FREE);
	struct rte_ether_addr mac;
	memcpy(mac.addr_bytes, PEER3_MAC, 6);
	pk_net_arp_learn(f->ctx, ip3, &mac, 1000);
	/* Young entry: used without a request. */
	assert_int_equal(pk_net_udp_tx(f->ctx, "a", 1, &src, &dst, 1700), 1);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 0);
	drain(f->ctx);
	/* 3/4 of reachable (750 ms): refreshed while still used. */
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 1760), 1);
	assert_int_equal(tx_count(f), 2);
	check_arp_request(b, tx_frame(f, 0, b), OUR_IP, PEER3_IP);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_REACHABLE);
	drain(f->ctx);
	assert_int_equal(pk_net_udp_tx(f->ctx, "c", 1, &src, &dst, 1800), 1);
	assert_int_equal(tx_count(f), 1); /* no second request within retry */
	drain(f->ctx);
	/* No answer: stale at 1000 ms, still used. */
	pk_net_poll(f->ctx, 2000);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_STALE);
	assert_int_equal(pk_net_udp_tx(f->ctx, "d", 1, &src, &dst, 2001), 1);
	assert_int_equal(tx_count(f), 2); /* request + datagram */
	drain(f->ctx);
	/* A reply makes it reachable again. */
	pk_net_arp_learn(f->ctx, ip3, &mac, 2100);
	pk_net_poll(f->ctx, 3000);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_REACHABLE);
	pk_net_poll(f->ctx, 3100);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_STALE);
	/* reachable 1000 + stale 500 after the last confirmation: gone. */
	pk_net_poll(f->ctx, 3599);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_STALE);
	pk_net_poll(f->ctx, 3600);
	assert_int_equal(pk_net_arp_lookup(f->ctx, ip3, NULL, NULL), PK_NET_ARP_FREE);
	assert_int_equal(C(f, PK_NET_CTR_ARP_EXPIRED), 1);
}

static void test_garp(void **state)
{
	struct fx *f = *state;
	static const uint8_t zero[6];
	uint8_t exp[64], got[128];

	assert_int_equal(pk_net_garp(f->ctx), 2);
	const uint32_t ips[] = { OUR_IP, OUR_IP2 };
	for (unsigned i = 0; i < 2; i++) {
		size_t l2 = eth(exp, BCAST, OUR_MAC, -1, 0x0806);
		size_t en = l2 + arp_body(exp + l2, 1, OUR_MAC, ips[i], zero, ips[i]);
		assert_int_equal(tx_frame(f, i, got), en);
		assert_memory_equal(got, exp, en);
	}
}

/* ---------- ICMP, VLAN ---------- */

static void test_icmp_echo(void **state)
{
	struct fx *f = *state;
	uint8_t in[256], got[256], icmp[64];

	icmp[0] = 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, 0x4242);
	put16(icmp + 6, 7);
	for (unsigned i = 8; i < 41; i++) /* odd length on purpose */
		icmp[i] = (uint8_t)(i * 7);
	put16(icmp + 2, cksum(icmp, 41));
	size_t l2 = eth(in, OUR_MAC, PEER_MAC, -1, 0x0800);
	ip4(in + l2, PEER_IP, OUR_IP, 1, 99, 0, 3, 41);
	memcpy(in + l2 + 20, icmp, 41);
	size_t n = l2 + 20 + 41;
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_REPLY);
	assert_int_equal(tx_frame(f, 0, got), n);
	assert_memory_equal(got, PEER_MAC, 6);
	assert_memory_equal(got + 6, OUR_MAC, 6);
	assert_int_equal(get16(got + 12), 0x0800);
	const uint8_t *ip = got + 14;
	assert_int_equal(cksum(ip, 20), 0);
	assert_int_equal(get32(ip + 12), OUR_IP);
	assert_int_equal(get32(ip + 16), PEER_IP);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 1);
	const uint8_t *ic = ip + 20;
	assert_int_equal(ic[0], 0);
	assert_int_equal(cksum(ic, 41), 0);
	assert_memory_equal(ic + 4, icmp + 4, 41 - 4);
	assert_int_equal(C(f, PK_NET_CTR_ICMP_ECHO_REPLIED), 1);
	drain(f->ctx);

	/* A wrong ICMP checksum is dropped, so is an echo reply. */
	in[l2 + 20 + 9] ^= 1;
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_ICMP_BAD), 1);
	in[l2 + 20 + 9] ^= 1;
	in[l2 + 20] = 0;
	put16(in + l2 + 22, 0);
	put16(in + l2 + 22, cksum(in + l2 + 20, 41));
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_ICMP_OTHER), 1);
	assert_int_equal(tx_count(f), 0);
}

/* Datagrams written in their frames (pk_net_udp_frame, with the frame
 * stash and its refills, and pk_net_udp_tx_frame's headers written at
 * once from the L2 template) leave byte for byte as the copying
 * pk_net_udp_tx sends them, but for the IP id and so the IP checksum:
 * untagged and tagged, odd and even lengths, short and past the AVX2
 * sum's 64 bytes. The checksums are checked here on their own too. */
static void test_udp_in_frame(void **state)
{
	(void)state;
	for (int vid = -1; vid <= 100; vid += 101) {
		struct pk_net_conf c;
		conf_default(&c);
		c.vlan_id = vid < 0 ? 0 : (uint16_t)vid;
		struct fx *f = fx_new(&c);
		static uint8_t in[128], a[1600], b[1600], payload[1500];
		size_t n = arp_request_frame(in, vid, PEER_IP, OUR_IP); /* we learn PEER_MAC */
		assert_int_equal(rx(f, in, n, 1), PK_NET_RX_REPLY);
		drain(f->ctx);
		struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5070);
		size_t l2 = vid < 0 ? 14 : 18;
		for (unsigned k = 0; k < 3 * PK_NET_STASH + 5; k++) {
			uint32_t len = (k * 37 + k / 7) % 1400 + (k & 1);
			for (uint32_t i = 0; i < len; i++)
				payload[i] = (uint8_t)(i * 7 + k);
			assert_int_equal(pk_net_udp_tx(f->ctx, payload, len, &src, &dst, 2), 1);
			struct rte_mbuf *m;
			uint32_t cap;
			char *p = pk_net_udp_frame(f->ctx, &m, &cap);
			assert_non_null(p);
			assert_true(cap >= len && cap == 1500 - 28);
			assert_true(pk_net_frames_held(f->ctx) < PK_NET_STASH);
			memcpy(p, payload, len);
			assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, len, &src, &dst, 2), 1);
			size_t na = tx_frame(f, 0, a), nb = tx_frame(f, 1, b);
			struct rte_mbuf **staged;
			assert_int_equal(pk_net_tx_pending(f->ctx, &staged), 2);
			assert_ptr_equal(staged[1], m);
			assert_int_equal(m->l2_len, l2);
			assert_int_equal(m->l3_len, 20);
			assert_int_equal(m->l4_len, 0); /* no offload: summed here */
			assert_false(m->ol_flags & (RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IP_CKSUM));
			drain(f->ctx);
			assert_int_equal(na, l2 + 20 + 8 + len);
			assert_int_equal(nb, na);
			assert_memory_equal(a, b, l2 + 4);		   /* L2, IP up to the id */
			assert_memory_equal(a + l2 + 6, b + l2 + 6, 4); /* flags, TTL, protocol */
			assert_memory_equal(a + l2 + 12, b + l2 + 12, na - l2 - 12);
			assert_memory_equal(b, PEER_MAC, 6);
			assert_memory_equal(b + 6, OUR_MAC, 6);
			if (vid >= 0) {
				assert_int_equal(get16(b + 12), 0x8100);
				assert_int_equal(get16(b + 14), vid);
			}
			assert_int_equal(get16(b + l2 - 2), 0x0800);
			assert_int_equal(get16(b + l2 + 4), (uint16_t)(get16(a + l2 + 4) + 1));
			assert_int_equal(cksum(b + l2, 20), 0);
			assert_int_equal(get16(b + l2 + 2), 20 + 8 + len);
			/* UDP checksum over the pseudo-header, header and payload */
			assert_true(udp_sum_ok(b + l2 + 20, 8 + len, get32(b + l2 + 12), get32(b + l2 + 16)));
			assert_memory_equal(b + l2 + 28, payload, len);
		}
		assert_int_equal(C(f, PK_NET_CTR_UDP_TX), 2 * (3 * PK_NET_STASH + 5));
		assert_int_equal(teardown((void **)&f), 0);
	}
}

static void test_vlan(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.vlan_id = 100;
	struct fx *f = fx_new(&c);
	uint8_t in[128], got[128], exp[128];

	/* Tagged request on our VLAN: tagged reply. */
	size_t n = arp_request_frame(in, 100, PEER_IP, OUR_IP);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_REPLY);
	size_t l2 = eth(exp, PEER_MAC, OUR_MAC, 100, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 2, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP);
	assert_int_equal(tx_frame(f, 0, got), en);
	assert_memory_equal(got, exp, en);
	drain(f->ctx);
	/* The same request untagged, or on VLAN 200: dropped, counted. */
	n = arp_request_frame(in, -1, PEER_IP, OUR_IP);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	n = arp_request_frame(in, 200, PEER_IP, OUR_IP);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_VLAN_UNTAGGED), 1);
	assert_int_equal(C(f, PK_NET_CTR_VLAN_OTHER), 1);
	/* Tagged UDP in; UDP out is tagged. */
	n = udp_frame(in, 100, PEER_IP, OUR_IP, 5060, "hello", 5, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_UDP);
	assert_int_equal(f->out.len, 5);
	assert_memory_equal(f->out.payload, "hello", 5);
	rte_pktmbuf_free(f->out.mbuf);
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5070);
	assert_int_equal(pk_net_udp_tx(f->ctx, "hi", 2, &src, &dst, 2), 1);
	n = tx_frame(f, 0, got);
	assert_int_equal(n, 18 + 20 + 8 + 2);
	assert_memory_equal(got, PEER_MAC, 6); /* learnt from the request */
	assert_int_equal(get16(got + 12), 0x8100);
	assert_int_equal(get16(got + 14), 100);
	assert_int_equal(get16(got + 16), 0x0800);
	assert_int_equal(cksum(got + 18, 20), 0);
	assert_int_equal(teardown((void **)&f), 0);

	/* Untagged ctx: a tagged frame is another VLAN, a priority tag (VID 0)
	 * is the native one. */
	conf_default(&c);
	f = fx_new(&c);
	n = udp_frame(in, 100, PEER_IP, OUR_IP, 5060, "x", 1, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_VLAN_OTHER), 1);
	n = udp_frame(in, 0, PEER_IP, OUR_IP, 5060, "x", 1, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_UDP);
	rte_pktmbuf_free(f->out.mbuf);
	/* A port that stripped the tag reports it in the mbuf. */
	n = udp_frame(in, -1, PEER_IP, OUR_IP, 5060, "x", 1, true);
	struct rte_mbuf *m = mk(in, n);
	m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	m->vlan_tci = 300;
	assert_int_equal(pk_net_rx(f->ctx, m, 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_VLAN_OTHER), 2);
	assert_int_equal(teardown((void **)&f), 0);
}

/* ---------- IPv4 / UDP drops ---------- */

static void test_ip_drops(void **state)
{
	struct fx *f = *state;
	uint8_t in[256], base[256];
	size_t n = udp_frame(base, -1, PEER_IP, OUR_IP, 5060, "INVITE", 6, true);
	uint8_t *ip = in + 14;

#define RX_DROP(ctr)                                                        \
	do {                                                                \
		assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);          \
		assert_int_equal(C(f, PK_NET_CTR_##ctr), ++want[PK_NET_CTR_##ctr]); \
	} while (0)
#define RESUM() (put16(ip + 10, 0), put16(ip + 10, cksum(ip, 20)))
	uint64_t want[PK_NET_CTR_COUNT] = { 0 };

	memcpy(in, base, n);
	ip[0] = 0x65;
	RESUM();
	RX_DROP(IP_BAD_VERSION);
	memcpy(in, base, n);
	ip[0] = 0x44;
	RESUM();
	RX_DROP(IP_BAD_IHL);
	memcpy(in, base, n);
	ip[0] = 0x4f; /* 60-byte header: past the frame */
	RX_DROP(IP_BAD_IHL);
	memcpy(in, base, n);
	put16(ip + 2, (uint16_t)(n - 14 + 1));
	RESUM();
	RX_DROP(IP_BAD_LEN);
	memcpy(in, base, n);
	put16(ip + 2, 19);
	RESUM();
	RX_DROP(IP_BAD_LEN);
	memcpy(in, base, n);
	ip[10] ^= 0x40;
	RX_DROP(IP_BAD_CKSUM);
	memcpy(in, base, n);
	ip[8] = 0;
	RESUM();
	RX_DROP(IP_TTL_ZERO);
	memcpy(in, base, n);
	put32(ip + 16, IP(10, 99, 0, 50));
	RESUM();
	RX_DROP(IP_NOT_FOR_US);
	memcpy(in, base, n);
	put32(ip + 12, IP(224, 0, 0, 1));
	RESUM();
	RX_DROP(IP_BAD_SRC);
	memcpy(in, base, n);
	ip[9] = 6;
	RESUM();
	RX_DROP(IP_TCP);
	memcpy(in, base, n);
	ip[9] = 47;
	RESUM();
	RX_DROP(IP_OTHER_PROTO);
	memcpy(in, base, n);
	put16(in + 12, 0x86dd);
	RX_DROP(ETH_OTHER_TYPE);
	memcpy(in, base, n);
	in[5] = 0x77;
	RX_DROP(ETH_OTHER_MAC);
	/* a unicast MAC other than ours in each of its first four bytes too
	 * (pk_net_rx compares 4 + 2 bytes) */
	for (unsigned i = 0; i < 4; i++) {
		memcpy(in, base, n);
		in[i] ^= 0x20;
		RX_DROP(ETH_OTHER_MAC);
	}
	memcpy(in, base, n);
	in[0] = 0x01;
	RX_DROP(ETH_MULTICAST);
	assert_int_equal(pk_net_rx(f->ctx, mk(base, 10), 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_ETH_RUNT), 1);

	/* Offload flags are believed first: BAD on a good header drops it,
	 * GOOD on a broken checksum lets it through. */
	struct rte_mbuf *m = mk(base, n);
	m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	assert_int_equal(pk_net_rx(f->ctx, m, 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_IP_BAD_CKSUM), ++want[PK_NET_CTR_IP_BAD_CKSUM]);
	memcpy(in, base, n);
	ip[10] ^= 0x40;
	m = mk(in, n);
	m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	assert_int_equal(pk_net_rx(f->ctx, m, 1, &f->out), PK_NET_RX_UDP);
	rte_pktmbuf_free(f->out.mbuf);
	/* Broadcast to the subnet is accepted (a SIP OPTIONS probe might). */
	memcpy(in, base, n);
	memcpy(in, BCAST, 6);
	put32(ip + 16, IP(10, 99, 0, 255));
	RESUM();
	n = 14 + 20 + udp(in + 34, PEER_IP, IP(10, 99, 0, 255), 5060, 5060, "INVITE", 6, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_UDP);
	rte_pktmbuf_free(f->out.mbuf);
	/* ... but not as a source; and another prefix's is not ours. */
	memcpy(in, base, n);
	put32(ip + 12, IP(10, 99, 0, 255));
	RESUM();
	RX_DROP(IP_BAD_SRC);
	memcpy(in, base, n);
	put32(ip + 16, IP(10, 98, 0, 255));
	RESUM();
	RX_DROP(IP_NOT_FOR_US);
#undef RX_DROP
#undef RESUM
}

/* The datagram rx gave came from the peer's 5060 to our 5080: the
 * addresses as plain values. */
static void assert_peer_to_us(const struct fx *f)
{
	assert_int_equal(f->out.src_ip, rte_cpu_to_be_32(PEER_IP));
	assert_int_equal(f->out.dst_ip, rte_cpu_to_be_32(OUR_IP));
	assert_int_equal(f->out.src_port, 5060);
	assert_int_equal(f->out.dst_port, 5080);
}

static void test_udp(void **state)
{
	struct fx *f = *state;
	uint8_t in[256];
	const char *msg = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";
	size_t ml = strlen(msg);

	size_t n = udp_frame(in, -1, PEER_IP, OUR_IP, 5080, msg, ml, true);
	in[n] = 0; /* one byte of Ethernet padding after the datagram */
	assert_int_equal(rx(f, in, n + 1, 1), PK_NET_RX_UDP);
	assert_int_equal(f->out.len, ml);
	assert_memory_equal(f->out.payload, msg, ml);
	assert_non_null(f->out.mbuf); /* zero copy: points into the frame */
	assert_ptr_equal(f->out.payload, rte_pktmbuf_mtod_offset(f->out.mbuf, uint8_t *, 42));
	assert_peer_to_us(f);
	rte_pktmbuf_free(f->out.mbuf);

	/* Wrong checksum: dropped. */
	in[42] ^= 0x20;
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_CKSUM), 1);
	/* Port offload says BAD: dropped even if the sum is right. */
	in[42] ^= 0x20;
	struct rte_mbuf *m = mk(in, n);
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
	assert_int_equal(pk_net_rx(f->ctx, m, 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_CKSUM), 2);
	/* No checksum (0): accepted. */
	n = udp_frame(in, -1, PEER_IP, OUR_IP, 5080, msg, ml, false);
	in[42] ^= 0x20; /* would be caught by any checksum */
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_UDP);
	assert_int_equal(f->out.len, ml);
	rte_pktmbuf_free(f->out.mbuf);
	/* UDP length past the IP payload. */
	n = udp_frame(in, -1, PEER_IP, OUR_IP, 5080, msg, ml, false);
	put16(in + 38, (uint16_t)(8 + ml + 1));
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_LEN), 1);
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), 2);
}

/* A datagram in a chain of segments (a PMD's scattered receive): its UDP
 * header read across the split or from the second segment, its checksum
 * summed over the chain, its payload copied into out.buf; the one-segment
 * path (test_udp) takes none of these. */
static void test_udp_chain(void **state)
{
	struct fx *f = *state;
	uint8_t in[256];
	const char *msg = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n";
	size_t ml = strlen(msg);
	size_t n = udp_frame(in, -1, PEER_IP, OUR_IP, 5080, msg, ml, true);
	uint64_t ok = 0;

	/* split: the UDP header all in the second segment, across the split,
	 * in the first with the payload split at once or later; at every
	 * length, odd ones too (DPDK 22.11's rte_raw_cksum_mbuf, which summed
	 * chains here before, dropped a datagram split at an odd length as a
	 * bad sum: it truncates a piece's unfolded sum to 16 bits before
	 * swapping it). */
	for (size_t split = 34; split < n; split++) {
		memset(f->buf, 0, sizeof(f->buf));
		f->out.mbuf = NULL;
		assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n, split), 1, &f->out), PK_NET_RX_UDP);
		assert_int_equal(f->out.len, ml);
		assert_ptr_equal(f->out.payload, f->buf); /* copied: contiguous */
		assert_memory_equal(f->buf, msg, ml);
		assert_null(f->out.mbuf); /* already freed */
		assert_peer_to_us(f);
		ok++;

		/* a byte of the payload changed, in either segment: bad sum */
		in[n - 1] ^= 0x20;
		assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n, split), 1, &f->out), PK_NET_RX_DROP);
		in[n - 1] ^= 0x20;
		in[42] ^= 0x20;
		assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n, split), 1, &f->out), PK_NET_RX_DROP);
		in[42] ^= 0x20;
		assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_CKSUM), 2 * ok);
	}
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), ok);
	assert_int_equal(C(f, PK_NET_CTR_UDP_BAD_LEN), 0);

	/* No buffer to copy it into: dropped as too big. */
	f->out.buf = NULL;
	assert_int_equal(pk_net_rx(f->ctx, mk_chain(in, n, 40), 1, &f->out), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TOO_BIG), 1);
	f->out.buf = f->buf;
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), ok);
}

static void test_udp_ports(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.n_ports = 1;
	c.ports[0] = 5060;
	struct fx *f = fx_new(&c);
	uint8_t in[128];
	size_t n = udp_frame(in, -1, PEER_IP, OUR_IP, 5061, "x", 1, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_UDP_NO_PORT), 1);
	n = udp_frame(in, -1, PEER_IP, OUR_IP, 5060, "x", 1, true);
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_UDP);
	rte_pktmbuf_free(f->out.mbuf);
	assert_int_equal(teardown((void **)&f), 0);
}

/* ---------- reassembly ---------- */

static char invite[1300];
static size_t invite_len;

static void make_invite(void)
{
	int n = snprintf(invite, sizeof(invite),
			 "INVITE sip:201@10.99.0.1 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 10.99.0.2:5060;branch=z9hG4bK-frag-1\r\n"
			 "From: <sip:200@10.99.0.1>;tag=a1\r\nTo: <sip:201@10.99.0.1>\r\n"
			 "Call-ID: frag-test@10.99.0.2\r\nCSeq: 1 INVITE\r\n"
			 "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n",
			 900);
	memset(invite + n, 'a', 900);
	for (int i = 0; i < 900; i += 37)
		invite[n + i] = (char)('0' + i % 10);
	invite_len = (size_t)n + 900;
}

/* The UDP datagram (header + INVITE) cut in three fragments at the given
 * 8-aligned byte offsets of the IP payload. */
static size_t frag_frame(uint8_t *b, unsigned k, uint16_t id)
{
	static uint8_t dgram[2048];
	size_t dl = udp(dgram, PEER_IP, OUR_IP, 5060, 5060, invite, invite_len, true);
	const size_t cut[4] = { 0, 400, 800, dl };
	size_t l2 = eth(b, OUR_MAC, PEER_MAC, -1, 0x0800);
	size_t len = cut[k + 1] - cut[k];
	uint16_t frag = (uint16_t)((cut[k] / 8) | (k < 2 ? 0x2000 : 0));
	ip4(b + l2, PEER_IP, OUR_IP, 17, id, frag, 64, len);
	memcpy(b + l2 + 20, dgram + cut[k], len);
	return l2 + 20 + len;
}

static void reasm_order(struct fx *f, const unsigned *order, unsigned n, uint16_t id)
{
	uint8_t b[2048];
	unsigned got = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t len = frag_frame(b, order[i], id);
		enum pk_net_rx_result r = rx(f, b, len, 10 + i);
		if (r == PK_NET_RX_UDP) {
			got++;
			assert_int_equal(f->out.len, invite_len);
			assert_memory_equal(f->out.payload, invite, invite_len);
			assert_ptr_equal(f->out.payload, f->buf); /* linearised */
			assert_int_equal(f->out.src_port, 5060);
			assert_int_equal(f->out.src_ip, rte_cpu_to_be_32(PEER_IP));
			rte_pktmbuf_free(f->out.mbuf);
		} else {
			assert_true(r == PK_NET_RX_CONSUMED || r == PK_NET_RX_DROP);
		}
		pk_net_poll(f->ctx, 10 + i);
	}
	assert_int_equal(got, 1);
}

static void test_reassembly(void **state)
{
	struct fx *f = *state;
	make_invite();
	const unsigned in_order[] = { 0, 1, 2 };
	const unsigned reversed[] = { 2, 0, 1 };
	const unsigned dup_mid[] = { 0, 1, 1, 2 };
	const unsigned dup_first[] = { 0, 0, 2, 1 };
	reasm_order(f, in_order, 3, 1);
	reasm_order(f, reversed, 3, 2);
	reasm_order(f, dup_mid, 4, 3);
	reasm_order(f, dup_first, 4, 4);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_REASSEMBLED), 4);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_DUP), 2);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_RX), 14);
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), 4);
	/* Too small a buffer for the reassembled datagram: counted drop. */
	f->out.buf_cap = 100;
	uint8_t b[2048];
	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(rx(f, b, frag_frame(b, k, 9), 20), PK_NET_RX_CONSUMED);
	assert_int_equal(rx(f, b, frag_frame(b, 2, 9), 20), PK_NET_RX_DROP);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TOO_BIG), 1);
}

static void test_reassembly_timeout(void **state)
{
	struct fx *f = *state;
	uint8_t b[2048];
	make_invite();
	unsigned base = rte_mempool_in_use_count(pool);

	assert_int_equal(rx(f, b, frag_frame(b, 0, 7), 100), PK_NET_RX_CONSUMED);
	assert_int_equal(rx(f, b, frag_frame(b, 2, 7), 100), PK_NET_RX_CONSUMED);
	assert_int_equal(rte_mempool_in_use_count(pool), base + 2); /* held */
	pk_net_poll(f->ctx, 2100);
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TIMEOUT), 0);
	pk_net_poll(f->ctx, 2101); /* 2000 ms later */
	assert_int_equal(C(f, PK_NET_CTR_FRAG_TIMEOUT), 2);
	assert_int_equal(rte_mempool_in_use_count(pool), base);
	/* The late middle fragment starts a new, incomplete datagram. */
	assert_int_equal(rx(f, b, frag_frame(b, 1, 7), 2200), PK_NET_RX_CONSUMED);
	assert_int_equal(C(f, PK_NET_CTR_UDP_RX), 0);
}

/* A full table of incomplete datagrams (more frames than the death row
 * holds at once): all of it goes back to the pool when the ctx goes, and a
 * 65th datagram does not grow the table. */
static void test_reassembly_full_table(void **state)
{
	struct fx *f = *state;
	uint8_t b[128], chunk[8] = { 0 };
	unsigned base = rte_mempool_in_use_count(pool);

	for (uint16_t id = 0; id < 65; id++) {
		for (unsigned k = 0; k < 6; k++) { /* 6 of 7: never complete */
			size_t l2 = eth(b, OUR_MAC, PEER_MAC, -1, 0x0800);
			ip4(b + l2, PEER_IP, OUR_IP, 17, (uint16_t)(1000 + id), (uint16_t)(k | 0x2000), 64, 8);
			memcpy(b + l2 + 20, chunk, 8);
			rx(f, b, l2 + 28, 50);
		}
		pk_net_poll(f->ctx, 50);
	}
	assert_int_equal(C(f, PK_NET_CTR_FRAG_RX), 65 * 6);
	assert_true(C(f, PK_NET_CTR_FRAG_ERROR) >= 6); /* no room for the last one */
	assert_true(rte_mempool_in_use_count(pool) - base <= 64 * 6);
	assert_true(rte_mempool_in_use_count(pool) - base > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN);
	/* teardown checks that destroy returned them all */
}

/* ---------- fragmentation on the way out ---------- */

static void test_fragmentation(void **state)
{
	struct fx *f = *state;
	static uint8_t payload[3000], whole[3100];
	uint8_t b[2048];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 31 + (i >> 8));
	struct rte_ether_addr mac;
	memcpy(mac.addr_bytes, PEER_MAC, 6);
	pk_net_arp_learn(f->ctx, rte_cpu_to_be_32(PEER_IP), &mac, 0);
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5090);

	assert_int_equal(pk_net_udp_tx(f->ctx, payload, sizeof(payload), &src, &dst, 1), 3);
	assert_int_equal(C(f, PK_NET_CTR_TX_FRAGMENTS), 3);
	size_t have = 0;
	uint16_t id = 0;
	for (unsigned i = 0; i < 3; i++) {
		size_t n = tx_frame(f, i, b);
		assert_memory_equal(b, PEER_MAC, 6);
		assert_int_equal(get16(b + 12), 0x0800);
		const uint8_t *ip = b + 14;
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(cksum(ip, 20), 0);
		assert_int_equal(get16(ip + 2), n - 14);
		assert_true(get16(ip + 2) <= 1500);
		if (i == 0)
			id = get16(ip + 4);
		assert_int_equal(get16(ip + 4), id);
		uint16_t fo = get16(ip + 6);
		assert_int_equal(fo & 0x4000, 0); /* DF clear */
		assert_int_equal((fo & 0x2000) != 0, i < 2);
		assert_int_equal((size_t)(fo & 0x1fff) * 8, have);
		assert_int_equal(ip[9], 17);
		assert_int_equal(get32(ip + 12), OUR_IP);
		assert_int_equal(get32(ip + 16), PEER_IP);
		memcpy(whole + have, ip + 20, n - 34);
		have += n - 34;
	}
	assert_int_equal(have, 8 + sizeof(payload));
	assert_int_equal(get16(whole + 2), 5090);
	assert_int_equal(get16(whole + 4), have);
	assert_true(udp_sum_ok(whole, have, OUR_IP, PEER_IP));
	assert_memory_equal(whole + 8, payload, sizeof(payload));

	/* And our own receive path puts it back together (a peer ctx). */
	struct pk_net_conf c;
	conf_default(&c);
	memcpy(c.mac.addr_bytes, PEER_MAC, 6);
	c.n_addrs = 1;
	c.addrs[0] = rte_cpu_to_be_32(PEER_IP);
	struct fx *peer = fx_new(&c);
	struct rte_mbuf **p;
	unsigned n = pk_net_tx_pending(f->ctx, &p);
	enum pk_net_rx_result r = PK_NET_RX_DROP;
	for (unsigned i = 0; i < n; i++)
		r = pk_net_rx(peer->ctx, p[n - 1 - i], 5, &peer->out); /* backwards */
	pk_net_tx_done(f->ctx, n);
	assert_int_equal(r, PK_NET_RX_UDP);
	assert_int_equal(peer->out.len, sizeof(payload));
	assert_memory_equal(peer->out.payload, payload, sizeof(payload));
	fx_free(peer);

	/* Too large for UDP at all. */
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, PK_NET_UDP_MAX + 1, &src, &dst, 1), -EMSGSIZE);
	/* A datagram of exactly the MTU is not fragmented. */
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, 1500 - 28, &src, &dst, 1), 1);
	assert_int_equal(pk_net_udp_tx(f->ctx, payload, 1500 - 27, &src, &dst, 1), 2);
}

/* IPv4 ids: offset + k * stride (distinct per queue), modulo 2^16, from
 * both send paths alike. */
static void test_ip_ids(void **state)
{
	(void)state;
	struct pk_net_conf c;
	conf_default(&c);
	c.ip_id_offset = 3;
	c.ip_id_stride = 4;
	struct fx *f = fx_new(&c);
	uint8_t in[128], b[128];
	size_t n = arp_request_frame(in, -1, PEER_IP, OUR_IP); /* we learn PEER_MAC */
	assert_int_equal(rx(f, in, n, 1), PK_NET_RX_REPLY);
	drain(f->ctx);
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER_IP, 5070);
	for (uint32_t k = 0; k < 16390; k++) { /* past the wrap at k = 16383 */
		if (k & 1) {
			assert_int_equal(pk_net_udp_tx(f->ctx, "i", 1, &src, &dst, 2), 1);
		} else {
			struct rte_mbuf *m;
			uint32_t cap;
			char *p = pk_net_udp_frame(f->ctx, &m, &cap);
			assert_non_null(p);
			p[0] = 'i';
			assert_int_equal(pk_net_udp_tx_frame(f->ctx, m, 1, &src, &dst, 2), 1);
		}
		assert_int_equal(tx_frame(f, 0, b), 14 + 20 + 8 + 1);
		assert_int_equal(get16(b + 14 + 4), (uint16_t)(3 + 4 * k));
		assert_int_equal(cksum(b + 14, 20), 0);
		drain(f->ctx);
	}
	assert_int_equal(fx_free(f), 0);
}

/* Where datagrams go: broadcast without ARP, errors counted. And IP
 * options on input are skipped. */
static void test_tx_routes_and_options(void **state)
{
	struct fx *f = *state;
	uint8_t b[256];
	struct pk_addr src = A(OUR_IP, 5060), dst = A(IP(255, 255, 255, 255), 5060);

	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 1), 1);
	assert_int_equal(tx_frame(f, 0, b), 43);
	assert_memory_equal(b, BCAST, 6);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 0);
	drain(f->ctx);
	/* The directed broadcast of our prefix too. */
	dst = A(IP(10, 99, 0, 255), 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "b", 1, &src, &dst, 1), 1);
	assert_int_equal(tx_frame(f, 0, b), 43);
	assert_memory_equal(b, BCAST, 6);
	assert_int_equal(C(f, PK_NET_CTR_ARP_REQUEST_TX), 0);
	drain(f->ctx);
	/* From an address that is not ours, to IPv6, to port 0. */
	struct pk_addr bad = A(IP(10, 99, 0, 50), 5060);
	dst = A(PEER_IP, 5060);
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &bad, &dst, 1), -EINVAL);
	bad = dst;
	bad.family = AF_INET6;
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &bad, 1), -EAFNOSUPPORT);
	bad = A(PEER_IP, 0);
	assert_int_equal(pk_net_udp_tx(f->ctx, "x", 1, &src, &bad, 1), -EINVAL);
	assert_int_equal(C(f, PK_NET_CTR_TX_BAD), 3);
	assert_int_equal(tx_count(f), 0);

	/* Off-link without a gateway: no route. */
	struct pk_net_conf c;
	conf_default(&c);
	c.gateway = 0;
	struct fx *g = fx_new(&c);
	dst = A(IP(192, 0, 2, 7), 5060);
	assert_int_equal(pk_net_udp_tx(g->ctx, "x", 1, &src, &dst, 1), -EHOSTUNREACH);
	assert_int_equal(pk_net_counter(g->ctx, PK_NET_CTR_TX_NO_ROUTE), 1);
	assert_int_equal(fx_free(g), 0);

	/* A /31 has no broadcast address: its other host is asked for by ARP. */
	conf_default(&c);
	c.addrs[0] = rte_cpu_to_be_32(IP(10, 99, 0, 0));
	c.prefix_len = 31;
	g = fx_new(&c);
	src = A(IP(10, 99, 0, 0), 5060);
	dst = A(IP(10, 99, 0, 1), 5060);
	assert_int_equal(pk_net_udp_tx(g->ctx, "x", 1, &src, &dst, 1), 0);
	assert_int_equal(pk_net_counter(g->ctx, PK_NET_CTR_ARP_REQUEST_TX), 1);
	assert_int_equal(fx_free(g), 0);
	src = A(OUR_IP, 5060);

	/* A 24-byte IPv4 header (one NOP-padded option): delivered. */
	size_t l2 = eth(b, OUR_MAC, PEER_MAC, -1, 0x0800);
	size_t u = udp(b + l2 + 24, PEER_IP, OUR_IP, 5060, 5060, "opt", 3, true);
	ip4(b + l2, PEER_IP, OUR_IP, 17, 5, 0, 64, u + 4);
	b[l2] = 0x46;
	memset(b + l2 + 20, 1, 4); /* NOPs */
	put16(b + l2 + 10, 0);
	put16(b + l2 + 10, cksum(b + l2, 24));
	assert_int_equal(rx(f, b, l2 + 24 + u, 1), PK_NET_RX_UDP);
	assert_int_equal(f->out.len, 3);
	assert_memory_equal(f->out.payload, "opt", 3);
	rte_pktmbuf_free(f->out.mbuf);
}

/* Static routes: an off-link destination goes to the next hop of the
 * longest route that holds it, else to the gateway, else nowhere; the
 * routes' order in the configuration does not matter. */
static void test_static_routes(void **state)
{
	struct fx *f = *state;
	struct pk_net_conf c;
	struct pk_addr src = A(OUR_IP, 5060);
	uint8_t b[256];
	struct {
		uint32_t dst, next_hop; /* 0: no route */
	} want[] = {
		{ IP(10, 50, 7, 9), IP(10, 99, 0, 2) },	   /* 10.50.7.0/24 */
		{ IP(10, 50, 1, 1), IP(10, 99, 0, 1) },	   /* 10.50.0.0/16 */
		{ IP(10, 50, 7, 200), IP(10, 99, 0, 3) },  /* 10.50.7.128/25 */
		{ IP(172, 16, 0, 1), IP(10, 99, 0, 254) }, /* the gateway */
		{ IP(10, 99, 0, 77), IP(10, 99, 0, 77) },  /* on-link */
	};
	(void)state;

	conf_default(&c);
	c.n_routes = 3;
	c.routes[0] = (struct pk_net_route){ rte_cpu_to_be_32(IP(10, 50, 0, 0)), rte_cpu_to_be_32(IP(10, 99, 0, 1)), 16 };
	c.routes[1] = (struct pk_net_route){ rte_cpu_to_be_32(IP(10, 50, 7, 128)), rte_cpu_to_be_32(IP(10, 99, 0, 3)), 25 };
	c.routes[2] = (struct pk_net_route){ rte_cpu_to_be_32(IP(10, 50, 7, 0)), rte_cpu_to_be_32(IP(10, 99, 0, 2)), 24 };
	for (unsigned gw = 0; gw < 2; gw++) {
		if (gw == 1)
			c.gateway = 0; /* the routes alone */
		struct fx *g = fx_new(&c);
		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			struct pk_addr dst = A(want[i].dst, 5060);
			bool no_route = gw == 1 && want[i].next_hop == IP(10, 99, 0, 254);

			assert_int_equal(pk_net_udp_tx(g->ctx, "x", 1, &src, &dst, 1),
					 no_route ? -EHOSTUNREACH : 0);
			if (no_route) {
				assert_int_equal(tx_count(g), 0);
				assert_int_equal(pk_net_counter(g->ctx, PK_NET_CTR_TX_NO_ROUTE), 1);
				continue;
			}
			/* the next hop is asked for by ARP, the datagram waits for it */
			assert_int_equal(tx_count(g), 1);
			check_arp_request(b, tx_frame(g, 0, b), OUR_IP, want[i].next_hop);
			drain(g->ctx);
		}
		assert_int_equal(fx_free(g), 0);
	}

	/* Routes the network layer refuses: a prefix of 0 or 33 bits, host
	 * bits, no next hop, too many. */
	char err[128];
	for (unsigned k = 0; k < 5; k++) {
		conf_default(&c);
		c.n_routes = 1;
		c.routes[0] = (struct pk_net_route){ rte_cpu_to_be_32(IP(10, 50, 0, 0)), rte_cpu_to_be_32(IP(10, 99, 0, 1)), 16 };
		if (k == 0)
			c.routes[0].prefix_len = 0;
		else if (k == 1)
			c.routes[0].prefix_len = 33;
		else if (k == 2)
			c.routes[0].net = rte_cpu_to_be_32(IP(10, 50, 1, 0));
		else if (k == 3)
			c.routes[0].via = 0;
		else
			c.n_routes = PK_NET_MAX_ROUTES + 1;
		assert_null(pk_net_ctx_create(&c, pool, err, sizeof(err)));
	}
	(void)f;
}

/* ---------- random input ---------- */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void test_fuzz(void **state)
{
	struct fx *f = *state;
	static uint8_t seeds[8][2048];
	size_t seed_len[8];
	uint8_t b[2048];
	make_invite();
	seed_len[0] = arp_request_frame(seeds[0], -1, PEER_IP, OUR_IP);
	seed_len[1] = udp_frame(seeds[1], -1, PEER_IP, OUR_IP, 5060, invite, 300, true);
	seed_len[2] = frag_frame(seeds[2], 0, 77);
	seed_len[3] = frag_frame(seeds[3], 1, 77);
	seed_len[4] = frag_frame(seeds[4], 2, 77);
	seed_len[5] = udp_frame(seeds[5], 100, PEER_IP, OUR_IP, 5060, invite, 200, false);
	size_t l2 = eth(seeds[6], OUR_MAC, PEER_MAC, -1, 0x0800);
	ip4(seeds[6] + l2, PEER_IP, OUR_IP, 1, 5, 0, 64, 16);
	memset(seeds[6] + l2 + 20, 0, 16);
	seeds[6][l2 + 20] = 8;
	put16(seeds[6] + l2 + 22, cksum(seeds[6] + l2 + 20, 16));
	seed_len[6] = l2 + 36;
	seed_len[7] = 0;
	struct pk_addr src = A(OUR_IP, 5060), dst = A(PEER3_IP, 5060);

	unsigned delivered = 0;
	uint64_t now = 0;
	for (unsigned it = 0; it < 100000; it++) {
		unsigned s = rnd() % 8;
		size_t n;
		if (s == 7) {
			n = rnd() % 1600;
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)rnd();
			if (n >= 14 && rnd() % 2) { /* get past the MAC check */
				memcpy(b, OUR_MAC, 6);
				put16(b + 12, rnd() % 2 ? 0x0800 : 0x0806);
			}
		} else {
			n = seed_len[s];
			memcpy(b, seeds[s], n);
			for (unsigned k = rnd() % 5; k > 0; k--)
				b[rnd() % n] = (uint8_t)rnd();
			if (rnd() % 8 == 0)
				n = rnd() % (n + 1); /* truncated */
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		assert_non_null(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), b, n);
		if (rnd() % 16 == 0)
			m->ol_flags |= (uint64_t)(rnd() & 0xffu) << 1; /* random RX offload bits */
		if (rnd() % 32 == 0) {
			m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED;
			m->vlan_tci = (uint16_t)rnd();
		}
		f->out.mbuf = NULL;
		f->out.buf_cap = rnd() % 4 ? sizeof(f->buf) : rnd() % 2000;
		if (pk_net_rx(f->ctx, m, now, &f->out) == PK_NET_RX_UDP) {
			delivered++;
			volatile uint8_t sink = 0;
			for (uint32_t i = 0; i < f->out.len; i++)
				sink ^= f->out.payload[i];
			(void)sink;
			rte_pktmbuf_free(f->out.mbuf);
		}
		if (it % 64 == 0) {
			/* some traffic out, and time passing */
			static const uint8_t out_buf[3000];
			pk_net_udp_tx(f->ctx, out_buf, rnd() % sizeof(out_buf), &src, &dst, now);
			now += rnd() % 50;
			pk_net_poll(f->ctx, now);
			drain(f->ctx);
		}
	}
	drain(f->ctx);
	assert_true(delivered > 1000); /* valid frames still get through */
	print_message("fuzz: %u delivered, %" PRIu64 " frames, %" PRIu64 " reassembled\n", delivered,
		      C(f, PK_NET_CTR_RX_FRAMES), C(f, PK_NET_CTR_FRAG_REASSEMBLED));
}

static void test_counter_names(void **state)
{
	(void)state;
	for (unsigned i = 0; i < PK_NET_CTR_COUNT; i++) {
		assert_true(strlen(pk_net_counter_name(i)) > 0);
		assert_true(strlen(pk_net_counter_desc(i)) > 0);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(pk_net_counter_name(i), pk_net_counter_name(j));
	}
	assert_string_equal(pk_net_counter_name(PK_NET_CTR_ARP_QUEUE_OVERFLOW), "arp_queue_overflow");
}

int main(void)
{
	if (net_eal_up("test_net", "pk-test-net") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test_setup_teardown(test_arp_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_not_for_us, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_resolution_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_queue_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_frame_pool_dry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_retry_and_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_refresh_stale_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_udp_in_frame),
		cmocka_unit_test_setup_teardown(test_ip_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_chain, setup, teardown),
		cmocka_unit_test(test_udp_ports),
		cmocka_unit_test_setup_teardown(test_reassembly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reassembly_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reassembly_full_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragmentation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_routes_and_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_many_neighbours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_forget, setup, teardown),
		cmocka_unit_test(test_ip_ids),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	net_eal_down();
	return r;
}
