/* SPDX-License-Identifier: MIT */
/*
 * Frames built by hand for the network tests (test_net.c, test_net_io.c):
 * Ethernet (+802.1Q), ARP, IPv4, UDP and the Internet checksum, written
 * byte by byte from the RFCs so that the code under test never checks
 * itself. Host-order addresses in, network order on the wire.
 */
#ifndef PK_TEST_NET_FRAMES_H
#define PK_TEST_NET_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071 on bytes: the 32-bit running sum (fold() folds it). */
static inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}
static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The sum of UDP's IPv4 pseudo-header (addresses host order, n the UDP
 * length), to start the datagram's sum from. */
static inline uint32_t udp_pseudo_sum(uint32_t src, uint32_t dst, size_t n)
{
	uint8_t ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = 17;
	put16(ph + 10, (uint16_t)n);
	return sum16(ph, 12, 0);
}

/* Is the UDP checksum of datagram udp (n bytes, header included) right? */
static inline bool udp_sum_ok(const uint8_t *udp, size_t n, uint32_t src, uint32_t dst)
{
	return fold(sum16(udp, n, udp_pseudo_sum(src, dst, n))) == 0xffff;
}
static inline uint16_t cksum(const uint8_t *p, size_t n)
{
	return (uint16_t)~fold(sum16(p, n, 0));
}

/* Ethernet header (+ tag when vid >= 0); returns its length. */
static inline size_t eth(uint8_t *b, const uint8_t *dst, const uint8_t *src, int vid, uint16_t type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	if (vid >= 0) {
		put16(b + 12, 0x8100);
		put16(b + 14, (uint16_t)vid);
		put16(b + 16, type);
		return 18;
	}
	put16(b + 12, type);
	return 14;
}

static inline size_t arp_body(uint8_t *b, uint16_t op, const uint8_t *sha, uint32_t sip,
			      const uint8_t *tha, uint32_t tip)
{
	put16(b, 1);
	put16(b + 2, 0x0800);
	b[4] = 6;
	b[5] = 4;
	put16(b + 6, op);
	memcpy(b + 8, sha, 6);
	put32(b + 14, sip);
	memcpy(b + 18, tha, 6);
	put32(b + 24, tip);
	return 28;
}

/* IPv4 header of 20 bytes for a payload of plen; frag = flags|offset/8. */
static inline size_t ip4(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
			 uint16_t frag, uint8_t ttl, size_t plen)
{
	b[0] = 0x45;
	b[1] = 0;
	put16(b + 2, (uint16_t)(20 + plen));
	put16(b + 4, id);
	put16(b + 6, frag);
	b[8] = ttl;
	b[9] = proto;
	put16(b + 10, 0);
	put32(b + 12, src);
	put32(b + 16, dst);
	put16(b + 10, cksum(b, 20));
	return 20;
}

/* UDP header + payload with a correct checksum (or 0 when !with_ck). */
static inline size_t udp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
			 const void *pl, size_t n, bool with_ck)
{
	put16(b, sp);
	put16(b + 2, dp);
	put16(b + 4, (uint16_t)(8 + n));
	put16(b + 6, 0);
	memcpy(b + 8, pl, n);
	if (with_ck) {
		uint16_t c = (uint16_t)~fold(sum16(b, 8 + n, udp_pseudo_sum(src, dst, 8 + n)));
		put16(b + 6, c ? c : 0xffff);
	}
	return 8 + n;
}

#endif /* PK_TEST_NET_FRAMES_H */
