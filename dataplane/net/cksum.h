/* SPDX-License-Identifier: MIT */
/*
 * The Internet checksum's one's-complement sum (RFC 1071) for dataplane/net:
 * the software UDP checksum of every datagram sent and, without RX offload,
 * received, and the IPv4 header sums. Private to dataplane/net (and its unit
 * test, tests/unit/test_net_cksum.c).
 *
 * All functions return a partial sum to be folded with pk_net_cksum_fold:
 * the same 16-bit value as rte_raw_cksum / __rte_raw_cksum give over the
 * same bytes (16-bit words in memory order, an odd last byte as the first
 * byte of a word). Sums may be kept in 32 or 64 bits: 2^16 = 1 modulo
 * 0xffff, so a carry out of bit 31 or 63 added back in (end-around) keeps
 * the sum's value modulo 0xffff, and a nonzero sum never folds to 0.
 *
 * pk_net_cksum_add takes the AVX-512BW loop (pk_net_cksum_avx512, cksum.c)
 * or else the AVX2 one (pk_net_cksum_avx2) for 64 bytes or more when the
 * build targets them (pickupd builds with -march=native), else the portable
 * loop pk_net_cksum_scalar. Pure functions: any thread.
 */
#ifndef PK_NET_CKSUM_H
#define PK_NET_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* x + y with the carry out of bit 63 added back in. */
static inline uint64_t pk_net_cksum_adc64(uint64_t x, uint64_t y)
{
	x += y;
	return x + (x < y);
}

/* The portable sum: 8 bytes a step with end-around carry (the compiler
 * makes it add/adc), then 4, 2 and the odd byte. */
static inline uint64_t pk_net_cksum_scalar64(const void *buf, size_t len, uint64_t s)
{
	const uint8_t *p = buf;

	for (; len >= 32; p += 32, len -= 32) {
		uint64_t v[4];

		memcpy(v, p, 32);
		s = pk_net_cksum_adc64(s, v[0]);
		s = pk_net_cksum_adc64(s, v[1]);
		s = pk_net_cksum_adc64(s, v[2]);
		s = pk_net_cksum_adc64(s, v[3]);
	}
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		s = pk_net_cksum_adc64(s, v);
	}
	if (len >= 4) {
		uint32_t v;

		memcpy(&v, p, 4);
		s = pk_net_cksum_adc64(s, v);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;

		memcpy(&v, p, 2);
		s = pk_net_cksum_adc64(s, v);
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t v = 0;

		memcpy(&v, p, 1); /* the odd byte in its place of a 16-bit word, as rte does */
		s = pk_net_cksum_adc64(s, v);
	}
	return s;
}

/* 64-bit partial sum down to 32 bits (end-around carries). The high half
 * of s plus s rotated by 32 is hi + lo with the carry out of the low half
 * (lo + hi) added in: the end-around sum in one add, the value the two
 * classic steps ((s & 0xffffffff) + (s >> 32), twice) give. */
static inline uint32_t pk_net_cksum_32(uint64_t s)
{
	return (uint32_t)((s + ((s >> 32) | (s << 32))) >> 32);
}

/* Fold a partial sum to 16 bits (not inverted): 0xffff means "verified"
 * when the sum covered a checksum field. The same rotate-and-add as
 * pk_net_cksum_32, on 16-bit halves. */
static inline uint16_t pk_net_cksum_fold(uint32_t sum)
{
	return (uint16_t)((sum + ((sum >> 16) | (sum << 16))) >> 16);
}

static inline uint32_t pk_net_cksum_scalar(const void *buf, size_t len, uint32_t sum)
{
	return pk_net_cksum_32(pk_net_cksum_scalar64(buf, len, sum));
}

#ifdef __AVX2__
/* 32 bytes a step (16-bit words summed by vpmaddwd into 32-bit lanes,
 * four loads in flight), the tail without a loop or a branch. len >= 4
 * (the tail reads the last 4 bytes whole). cksum.c. */
uint32_t pk_net_cksum_avx2(const void *buf, size_t len, uint32_t sum);
#endif

#if defined(__AVX512BW__) && defined(__BMI2__)
/* 64 bytes a step, the tail in two byte-masked loads; any len. cksum.c. */
uint32_t pk_net_cksum_avx512(const void *buf, size_t len, uint32_t sum);
#endif

/* The sum of len bytes at buf added to sum. */
static inline uint32_t pk_net_cksum_add(const void *buf, size_t len, uint32_t sum)
{
#if defined(__AVX512BW__) && defined(__BMI2__)
	if (len >= 64)
		return pk_net_cksum_avx512(buf, len, sum);
#elif defined(__AVX2__)
	if (len >= 64)
		return pk_net_cksum_avx2(buf, len, sum);
#endif
	return pk_net_cksum_scalar(buf, len, sum);
}

/* The sum of a 20-byte IPv4 header without options: two 64-bit words and
 * a 32-bit one, with end-around carries (a 20-byte copy into an array is
 * made one 16-byte load, stored and read back in pieces). */
static inline uint32_t pk_net_cksum_ip20(const void *hdr)
{
	const uint8_t *p = hdr;
	uint64_t a, b;
	uint32_t c;

	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	memcpy(&c, p + 16, 4);
	return pk_net_cksum_32(pk_net_cksum_adc64(pk_net_cksum_adc64(a, b), c));
}

#endif /* PK_NET_CKSUM_H */
