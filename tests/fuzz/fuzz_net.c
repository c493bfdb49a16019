/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the dpdk backend's network layer (dataplane/net,
 * include/pickup/net.h) on hostile frames: Ethernet and VLAN, ARP, IPv4
 * with its reassembly, ICMP, UDP; with the ARP resolution and the
 * fragmentation of what it sends, and time passing, in between.
 *
 * Input: one configuration byte, then operations until the input ends.
 *
 *   config  bit 0: VLAN 100 on the port; bit 1: the port computes IPv4
 *           header checksums (tx offload); bit 2: and UDP checksums;
 *           bit 3: an IP MTU of 576 instead of 1500; bit 4: every UDP
 *           port delivered (else 5060 and 5070 only); bit 5: no
 *           gateway; bit 6: static routes 10.0.0.0/8 and 10.50.0.0/16
 *   op & 3  0  a received frame: 2 bytes of length (little endian, taken
 *              modulo 2048), then the frame's bytes (fewer at the input's
 *              end). The op's other bits help the fuzzer past what a
 *              frame must get right before the code of interest:
 *              bit 2 writes our MAC as its destination, bit 3 writes a
 *              right IPv4 header checksum and, for an unfragmented UDP
 *              or ICMP packet, a right checksum of that, bit 4 marks the
 *              frame's checksums checked by the port (RX_*_CKSUM_GOOD),
 *              bit 7 bad, bit 5 marks its VLAN tag stripped by the port
 *              (the port's VLAN, or 7), bit 6 gives a 1,000-byte
 *              reassembly buffer instead of 64 KiB
 *           1  time passes: the next byte, in units of 50 ms
 *           2  we send a UDP datagram: 2 bytes of length (modulo 9,000:
 *              fragmented above the MTU) to the peer the op's bits 2-4
 *              choose (on-link, off-link through the gateway or a static
 *              route or no route, broadcast, ours, zero)
 *           3  the timers run (pk_net_poll); with bit 2, the link went
 *              down first (pk_net_arp_forget), with bit 3 it came back
 *              (pk_net_garp)
 *
 * After each operation the frames staged for TX are taken off and
 * checked: an Ethernet header (with the port's VLAN tag when it has one),
 * then either an ARP packet of our MAC or an IPv4 packet whose header is
 * well formed, whose length fits the frame and the MTU, and whose header
 * checksum is right unless the port computes it. A received datagram's
 * payload is read to its end (ASan checks the bounds). At the input's end
 * the ctx is destroyed and every mbuf must be back in the pool. Any
 * violation traps, so that libFuzzer keeps the input. Seeds:
 * tests/fuzz/net_seeds.py (run.sh writes them).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "pickup/net.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static struct rte_mempool *pool;
static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static uint8_t rx_buf[65536];

/* Trap (libFuzzer records the input) after saying what was violated, as
 * fuzz_check.h's PK_FUZZ_CHECK, with the values involved. */
#define FZ_CHECK(cond, ...)                                                                   \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: invariant violated: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                         \
			fputc('\n', stderr);                                                  \
			__builtin_trap();                                                     \
		}                                                                             \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* At exit (libFuzzer's time limit ends with exit()): the EAL's runtime
 * directory, empty under --no-shconf, goes too. */
static void eal_end(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "pk-fuzz-net-%d", (int)getpid());
	char *eal[] = { "fuzz_net", "--no-huge", "-m", "128", "--no-pci", "--no-shconf", "--no-telemetry",
			"--file-prefix", prefix, "--log-level", "error", "-l", "0", NULL };
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "fuzz_net: rte_eal_init: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	atexit(eal_end);
	/* room for a 1500-byte MTU frame with its VLAN tag; enough mbufs for
	 * a reassembly table and ARP queues full at once */
	pool = rte_pktmbuf_pool_create("fuzz_net", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "fuzz_net: mempool: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	return 0;
}

struct reader {
	const uint8_t *p, *end;
};

static unsigned rd8(struct reader *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static unsigned rd16(struct reader *r)
{
	unsigned lo = rd8(r);

	return lo | rd8(r) << 8;
}

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Right checksums in frame b of n bytes (op bit 3): the IPv4 header's,
 * and an unfragmented UDP datagram's or ICMP message's. */
static void repair(uint8_t *b, size_t n)
{
	size_t l2 = 14;

	if (n >= 18 && b[12] == 0x81 && b[13] == 0x00)
		l2 = 18;
	if (n < l2 + 20 || b[l2 - 2] != 0x08 || b[l2 - 1] != 0x00)
		return;
	uint8_t *ip = b + l2;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = (size_t)ip[2] << 8 | ip[3];

	if (ihl < 20 || l2 + ihl > n)
		return;
	ip[10] = ip[11] = 0;
	uint16_t c = sum16(ip, ihl, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	if (tot < ihl || l2 + tot > n || (ip[6] & 0x3f) != 0 || ip[7] != 0)
		return; /* a fragment, or a length that lies: left as it is */
	uint8_t *l4 = ip + ihl;
	size_t len = tot - ihl;

	if (ip[9] == IPPROTO_UDP && len >= 8) {
		uint32_t ph = ((uint32_t)ip[12] << 8 | ip[13]) + ((uint32_t)ip[14] << 8 | ip[15]) +
			      ((uint32_t)ip[16] << 8 | ip[17]) + ((uint32_t)ip[18] << 8 | ip[19]) + IPPROTO_UDP +
			      (uint32_t)len;
		l4[6] = l4[7] = 0;
		c = sum16(l4, len, ph);
		if (c == 0)
			c = 0xffff;
		l4[6] = (uint8_t)(c >> 8);
		l4[7] = (uint8_t)c;
	} else if (ip[9] == IPPROTO_ICMP && len >= 4) {
		l4[2] = l4[3] = 0;
		c = sum16(l4, len, 0);
		l4[2] = (uint8_t)(c >> 8);
		l4[3] = (uint8_t)c;
	}
}

/* Take the staged frames off and check each (see the top). */
static void drain(struct pk_net_ctx *ctx, const struct pk_net_conf *conf)
{
	struct rte_mbuf **pkts;
	unsigned n = pk_net_tx_pending(ctx, &pkts);
	unsigned mtu = conf->mtu ? conf->mtu : 1500;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
		size_t len = rte_pktmbuf_data_len(m), l2 = 14;

		FZ_CHECK(m->nb_segs == 1 && rte_pktmbuf_pkt_len(m) == len, "a sent frame of %u segments",
			 m->nb_segs);
		FZ_CHECK(len >= 14 && memcmp(b + 6, our_mac, 6) == 0, "a sent frame not from our MAC");
		if (conf->vlan_id != 0) {
			FZ_CHECK(len >= 18 && b[12] == 0x81 && b[13] == 0x00 &&
					 ((b[14] << 8 | b[15]) & 0xfff) == conf->vlan_id,
				 "a sent frame without the port's VLAN tag");
			l2 = 18;
		}
		unsigned type = (unsigned)b[l2 - 2] << 8 | b[l2 - 1];

		if (type == 0x0806) {
			FZ_CHECK(len >= l2 + 28 && memcmp(b + l2 + 8, our_mac, 6) == 0, "a sent ARP packet");
		} else {
			FZ_CHECK(type == 0x0800, "a sent frame of ethertype %#x", type);
			FZ_CHECK(len >= l2 + 20 && b[l2] == 0x45, "a sent IPv4 header");
			const uint8_t *ip = b + l2;
			size_t tot = (size_t)ip[2] << 8 | ip[3];

			FZ_CHECK(tot >= 20 && tot <= mtu && l2 + tot <= len, "a sent IPv4 length %zu (frame %zu)",
				 tot, len);
			if (!(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM))
				FZ_CHECK(sum16(ip, 20, 0) == 0, "a sent IPv4 header checksum");
			if (ip[9] == IPPROTO_UDP && (ip[6] & 0x3f) == 0 && ip[7] == 0) {
				FZ_CHECK(tot >= 28, "a sent UDP datagram of %zu bytes with its headers", tot);
				size_t ulen = (size_t)ip[24] << 8 | ip[25];

				FZ_CHECK(ulen == tot - 20, "a sent UDP length %zu in %zu", ulen, tot);
			}
		}
		rte_pktmbuf_free(m);
	}
	pk_net_tx_done(ctx, n);
}

static void peer_addr(unsigned sel, struct pk_addr *a)
{
	static const uint32_t ips[8] = {
		IP4(10, 99, 0, 2),	 IP4(10, 50, 3, 3),	  IP4(10, 99, 0, 77), IP4(192, 0, 2, 9),
		IP4(10, 99, 0, 255), IP4(255, 255, 255, 255), IP4(10, 99, 0, 1),  0,
	};
	uint32_t ip = htonl(ips[sel & 7]);

	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->ip, &ip, 4);
	a->port = 5060;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, data + size };
	struct pk_net_conf conf;
	struct pk_net_ctx *ctx;
	unsigned cfg = rd8(&r), base = rte_mempool_in_use_count(pool);
	uint64_t now = 1;
	char err[160];
	static uint8_t frame[2048], payload[9000];

	memset(&conf, 0, sizeof(conf));
	memcpy(conf.mac.addr_bytes, our_mac, 6);
	conf.vlan_id = cfg & 1 ? 100 : 0;
	conf.tx_ip_cksum_offload = (cfg & 2) != 0;
	conf.tx_udp_cksum_offload = (cfg & 4) != 0;
	conf.mtu = cfg & 8 ? 576 : 1500;
	conf.n_addrs = 2;
	conf.addrs[0] = htonl(IP4(10, 99, 0, 1));
	conf.addrs[1] = htonl(IP4(10, 99, 0, 9));
	conf.prefix_len = 24;
	conf.gateway = cfg & 32 ? 0 : htonl(IP4(10, 99, 0, 254));
	if (cfg & 64) { /* static routes, nested: the longest must win */
		conf.n_routes = 2;
		conf.routes[0] = (struct pk_net_route){ htonl(IP4(10, 0, 0, 0)), htonl(IP4(10, 99, 0, 253)), 8 };
		conf.routes[1] = (struct pk_net_route){ htonl(IP4(10, 50, 0, 0)), htonl(IP4(10, 99, 0, 252)), 16 };
	}
	if (!(cfg & 16)) {
		conf.n_ports = 2;
		conf.ports[0] = 5060;
		conf.ports[1] = 5070;
	}
	conf.tsc_hz = 1000; /* a tick a millisecond */
	conf.arp_reachable_ms = 1000;
	conf.arp_stale_ms = 500;
	conf.arp_retry_ms = 100;
	conf.arp_retries = 2;
	conf.frag_timeout_ms = 2000;
	conf.frag_max_flows = 8;
	conf.socket_id = SOCKET_ID_ANY;
	ctx = pk_net_ctx_create(&conf, pool, err, sizeof(err));
	FZ_CHECK(ctx != NULL, "pk_net_ctx_create: %s", err);
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)('a' + i % 26);

	while (r.p < r.end) {
		unsigned op = rd8(&r);

		switch (op & 3) {
		case 0: {
			size_t n = rd16(&r) % sizeof(frame), have = (size_t)(r.end - r.p);

			if (n > have)
				n = have;
			memcpy(frame, r.p, n);
			r.p += n;
			if ((op & 4) && n >= 6)
				memcpy(frame, our_mac, 6);
			if (op & 8)
				repair(frame, n);
			struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

			FZ_CHECK(m != NULL, "the pool ran dry (%u mbufs in use)", rte_mempool_in_use_count(pool));
			if (n > rte_pktmbuf_tailroom(m))
				n = rte_pktmbuf_tailroom(m);
			memcpy(rte_pktmbuf_append(m, (uint16_t)n), frame, n);
			if (op & 16)
				m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
			if (op & 128)
				m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_BAD;
			if (op & 32) {
				m->ol_flags |= RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_VLAN;
				m->vlan_tci = conf.vlan_id ? conf.vlan_id : 7;
			}
			struct pk_net_udp out = { .buf = rx_buf, .buf_cap = op & 64 ? 1000 : sizeof(rx_buf) };

			if (pk_net_rx(ctx, m, now, &out) == PK_NET_RX_UDP) {
				volatile uint8_t sink = 0;

				FZ_CHECK(out.len <= PK_NET_UDP_MAX && out.payload != NULL, "a datagram of %u bytes",
					 out.len);
				FZ_CHECK(out.mbuf != NULL || out.len <= out.buf_cap,
					 "a copied datagram larger than the buffer");
				for (uint32_t i = 0; i < out.len; i++)
					sink ^= out.payload[i];
				(void)sink;
				rte_pktmbuf_free(out.mbuf);
			}
			break;
		}
		case 1:
			now += (uint64_t)rd8(&r) * 50;
			break;
		case 2: {
			struct pk_addr src, dst;
			unsigned len = rd16(&r) % sizeof(payload);

			peer_addr(6, &src); /* ours, port 5060 */
			peer_addr(op >> 2, &dst);
			(void)pk_net_udp_tx(ctx, payload, len, &src, &dst, now);
			break;
		}
		default:
			if (op & 4)
				(void)pk_net_arp_forget(ctx);
			if (op & 8)
				(void)pk_net_garp(ctx);
			pk_net_poll(ctx, now);
			break;
		}
		drain(ctx, &conf);
	}
	/* what waits (ARP queues, half datagrams) goes back with the ctx */
	pk_net_ctx_destroy(ctx);
	FZ_CHECK(rte_mempool_in_use_count(pool) == base, "%u mbufs not back in the pool",
		 rte_mempool_in_use_count(pool) - base);
	return 0;
}
