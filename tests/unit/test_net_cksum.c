/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the one's-complement sums of dataplane/net (cksum.h,
 * cksum.c): pk_net_cksum_add (AVX-512BW or AVX2 from 64 bytes when built
 * for it), the vector loops called directly, the portable
 * pk_net_cksum_scalar and pk_net_cksum_ip20 must fold to what a
 * plain 16-bit word sum (written here) and rte_raw_cksum give, for random
 * data at every alignment, odd and even lengths, chained sums, and the
 * data that stresses the carries and the AVX2 loop's signed lanes (all
 * 0xff, all 0x8000 / 0x7fff words, buffers past one AVX2 pass).
 * Single-threaded, no EAL (the sums touch no DPDK state).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_ip.h>

#include "../../dataplane/net/cksum.h"

/* The reference: 16-bit words in memory order, the odd last byte as the
 * first byte of a word, summed exactly and folded. */
static uint16_t ref_fold(const uint8_t *p, size_t len, uint32_t init)
{
	uint64_t s = init;

	for (; len >= 2; p += 2, len -= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

#define BIG (1600u * 1024u) /* many of the AVX2 loop's 64 KiB passes */

/* Every implementation against the reference on len bytes at p. */
static void check(const uint8_t *p, size_t len, uint32_t init)
{
	uint16_t want = ref_fold(p, len, init);

	assert_int_equal(pk_net_cksum_fold(pk_net_cksum_add(p, len, init)), want);
	assert_int_equal(pk_net_cksum_fold(pk_net_cksum_scalar(p, len, init)), want);
#ifdef __AVX2__
	if (len >= 4) /* its precondition (pk_net_cksum_add calls it from 64) */
		assert_int_equal(pk_net_cksum_fold(pk_net_cksum_avx2(p, len, init)), want);
#endif
#if defined(__AVX512BW__) && defined(__BMI2__)
	assert_int_equal(pk_net_cksum_fold(pk_net_cksum_avx512(p, len, init)), want);
#endif
	if (init == 0 && len <= 65535) /* what the code replaced */
		assert_int_equal(pk_net_cksum_fold(pk_net_cksum_add(p, len, 0)), rte_raw_cksum(p, len));
}

static void test_random(void **state)
{
	(void)state;
	uint8_t *buf = malloc(4096 + 64);
	assert_non_null(buf);
	for (unsigned i = 0; i < 4096 + 64; i++)
		buf[i] = (uint8_t)rnd();
	/* every length up to 300 at every alignment of a cache line */
	for (size_t len = 0; len <= 300; len++)
		for (unsigned off = 0; off < 64; off++)
			check(buf + off, len, 0);
	/* random lengths, alignments and starting sums */
	for (unsigned k = 0; k < 20000; k++) {
		size_t len = rnd() % 4097;
		unsigned off = rnd() % 64;
		uint32_t init = (k & 1) ? rnd() : (rnd() & 0xffff);
		check(buf + off, len, init);
	}
	free(buf);
}

/* Chaining: a sum continued over a second buffer equals the sum of both. */
static void test_chained(void **state)
{
	(void)state;
	uint8_t buf[3000];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (unsigned k = 0; k < 2000; k++) {
		size_t a = (rnd() % 1500) & ~(size_t)1; /* an even split keeps the word pairing */
		size_t b = rnd() % (sizeof(buf) - a);
		uint32_t s = pk_net_cksum_add(buf, a, 0);
		s = pk_net_cksum_add(buf + a, b, s);
		assert_int_equal(pk_net_cksum_fold(s), ref_fold(buf, a + b, 0));
	}
}

/* Words at the edges of the signed range the AVX2 loop reads them in, and
 * all-ones (every add carries). */
static void test_patterns(void **state)
{
	(void)state;
	static const uint8_t pats[][2] = { { 0xff, 0xff }, { 0x00, 0x80 }, { 0xff, 0x7f },
					   { 0x00, 0x00 }, { 0x01, 0x00 }, { 0x80, 0x00 } };
	uint8_t *buf = malloc(BIG + 64);
	assert_non_null(buf);
	for (unsigned i = 0; i < RTE_DIM(pats); i++) {
		for (size_t j = 0; j < BIG + 64; j++)
			buf[j] = pats[i][j & 1];
		for (size_t len = 60; len < 70; len++)
			check(buf, len, 0xffffffffu);
		check(buf, 65535, 0);
		check(buf + 1, 65534, 0xffff);
		check(buf, BIG, 0);
		check(buf + 3, BIG + 33, 0x12345678u);
	}
	for (size_t j = 0; j < BIG + 64; j++)
		buf[j] = (uint8_t)rnd();
	check(buf, BIG + 61, 7);
	/* around the ends of the AVX2 passes: the last pass with its masked
	 * words and odd bytes, or none */
	for (size_t k = 1; k <= 3; k++)
		for (size_t len = k * 65536 - 130; len <= k * 65536 + 130; len++)
			check(buf + (len & 7), len, (uint32_t)len * 0x9e3779b9u);
	free(buf);
}

/* The AVX2 tail's masked loads and its read of the last 4 bytes stay
 * inside the buffer: buffers that end right before, or start right after,
 * a page that is not mapped (a read there would crash the test). */
static void test_bounds(void **state)
{
	(void)state;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map, pg, PROT_NONE), 0);
	assert_int_equal(mprotect(map + 3 * pg, pg, PROT_NONE), 0);
	uint8_t *lo = map + pg, *hi = map + 3 * pg; /* 2 pages readable between */
	for (size_t i = 0; i < 2 * pg; i++)
		lo[i] = (uint8_t)rnd();
	for (size_t len = 0; len <= 600; len++) {
		check(hi - len, len, 0);	/* ends at the unmapped page */
		check(lo, len, (uint32_t)len); /* starts after the unmapped page */
	}
	check(hi - 2 * pg, 2 * pg, 1);
	assert_int_equal(munmap(map, 4 * pg), 0);
}

/* pk_net_cksum_32 and pk_net_cksum_fold give exactly what the classic
 * fold steps give (not only the same value modulo 0xffff): all-ones,
 * zero, carries at every position, random. */
static void test_folds(void **state)
{
	(void)state;
	static const uint64_t edge[] = { 0, 1, 0xffff, 0x10000, 0xffffffffu, 0x100000000ull,
					 0x1fffffffeull, 0xffffffff00000000ull, 0xffffffff00000001ull,
					 0xfffffffffffffffeull, UINT64_MAX, 0x00000001ffffffffull };
	for (unsigned k = 0; k < 200000 + RTE_DIM(edge); k++) {
		uint64_t s = k < RTE_DIM(edge) ? edge[k] : ((uint64_t)rnd() << 32 | rnd());
		if (k >= RTE_DIM(edge) && (k & 3) == 0)
			s >>= rnd() % 64;
		uint64_t t = (s & 0xffffffffu) + (s >> 32);
		t = (t & 0xffffffffu) + (t >> 32);
		assert_int_equal(pk_net_cksum_32(s), (uint32_t)t);
		uint32_t v = (uint32_t)s;
		v = (v & 0xffffu) + (v >> 16);
		v = (v & 0xffffu) + (v >> 16);
		assert_int_equal(pk_net_cksum_fold((uint32_t)s), (uint16_t)v);
	}
	for (uint64_t x = 0; x <= 0xffffffffu; x += 0x10001u - (x & 1)) {
		uint32_t v = (uint32_t)x;
		v = (v & 0xffffu) + (v >> 16);
		v = (v & 0xffffu) + (v >> 16);
		assert_int_equal(pk_net_cksum_fold((uint32_t)x), (uint16_t)v);
	}
}

/* The 20-byte IPv4 header sum, and a header checksummed with it verifies
 * (folds to 0xffff), as rte_ipv4_cksum would have written it. */
static void test_ip20(void **state)
{
	(void)state;
	for (unsigned k = 0; k < 10000; k++) {
		struct rte_ipv4_hdr ip;
		uint8_t *b = (uint8_t *)&ip;
		for (unsigned i = 0; i < sizeof(ip); i++)
			b[i] = (uint8_t)rnd();
		ip.version_ihl = RTE_IPV4_VHL_DEF;
		assert_int_equal(pk_net_cksum_fold(pk_net_cksum_ip20(&ip)), ref_fold(b, 20, 0));
		ip.hdr_checksum = 0;
		uint16_t ck = (uint16_t)~pk_net_cksum_fold(pk_net_cksum_ip20(&ip));
		assert_int_equal(ck, rte_ipv4_cksum(&ip));
		ip.hdr_checksum = ck;
		assert_int_equal(pk_net_cksum_fold(pk_net_cksum_ip20(&ip)), 0xffff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_chained),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_ip20),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_folds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
