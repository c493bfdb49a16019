/* SPDX-License-Identifier: MIT */
/*
 * The AVX2 one's-complement sum behind pk_net_cksum_add (cksum.h) for
 * buffers of 64 bytes or more: the UDP checksum of every SIP datagram sent
 * and, on ports without RX checksum offload, received.
 *
 * How: vpmaddwd multiplies 16-bit words by 1 and adds neighbours into
 * 32-bit lanes, but takes the words as signed. Flipping each word's top bit
 * first (x ^ 0x8000, read signed, is x - 32768) makes every lane get the
 * exact lo + hi - 65536, so the lanes hold the true sum minus 65536 per 4
 * bytes summed, added back at the end. A lane moves by at most 65536 a
 * step; the loop runs over at most PASS bytes (2^11 steps, four masked
 * ones more) before the lanes are added up, so even all 16 lanes of the
 * two accumulators together stay below 2^31 in magnitude and are added up
 * in 32 bits. Three instructions per 32 bytes (load+xor, madd, add)
 * against eight for the compiler's vectorised 4-byte loop.
 *
 * The tail costs as much as the loop for the ~500-byte datagrams of SIP,
 * so it has no loop and no branch: after the 128-byte blocks, the last
 * 0..127 bytes' whole 32-bit words in four masked loads (which read
 * nothing past them; a lane left out reads as 0, whose -65536 the bias of
 * a full step takes back), and the last 0..3 bytes from the 32-bit word
 * that ends the buffer, shifted down to where those bytes start (a
 * multiple of 4 from buf: the word pairing holds, the odd last byte lands
 * as the first byte of a word). That read reaches back over bytes already
 * summed, hence len >= 4. Pure function: any thread.
 */
#include "pickup/common.h"

#include "cksum.h"

#ifdef __AVX2__
#include <immintrin.h>

#define PASS (64u * 1024u) /* bytes per pass (a multiple of 128) */

static inline __m256i step(__m256i acc, const uint8_t *p, __m256i flip, __m256i ones)
{
	__m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)p), flip);
	return _mm256_add_epi32(acc, _mm256_madd_epi16(x, ones));
}

/* A step over the 32-bit words at p + off whose lanes are set in mask.
 * The address is formed as an integer: for a short tail it lies past the
 * end of the buffer (only lanes inside it are read), where pointer
 * arithmetic would be undefined. */
static inline __m256i step_masked(__m256i acc, const uint8_t *p, size_t off, __m256i mask, __m256i flip,
				  __m256i ones)
{
	__m256i x = _mm256_maskload_epi32((const int *)((uintptr_t)p + off), mask);
	return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_xor_si256(x, flip), ones));
}

/* The lanes of two accumulators added up (exact: see above), and the bias
 * of `steps` steps of 32 bytes (65536 per 4 bytes) added back: the true
 * sum of the words summed, below 2^32 (at most PASS / 2 + 64 words). */
static inline uint64_t lanes_sum(__m256i a0, __m256i a1, size_t steps)
{
	__m256i a = _mm256_add_epi32(a0, a1);
	__m128i x = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
	x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 1));
	return (uint64_t)((int64_t)_mm_cvtsi128_si32(x) + ((int64_t)steps << 19));
}

/* The 32-byte steps over n bytes (a multiple of 128) into two accumulators. */
static inline void blocks(const uint8_t *p, size_t n, __m256i *a0p, __m256i *a1p, __m256i flip,
			  __m256i ones)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();

	for (size_t i = 0; i < n; i += 128) {
		a0 = step(a0, p + i, flip, ones);
		a1 = step(a1, p + i + 32, flip, ones);
		a0 = step(a0, p + i + 64, flip, ones);
		a1 = step(a1, p + i + 96, flip, ones);
		/* (no code: without it gcc adds a register copy of each
		 * accumulator to every iteration) */
		__asm__("" : "+x"(a0), "+x"(a1));
	}
	*a0p = a0;
	*a1p = a1;
}

/* flip and ones as data: one load each, where gcc builds either from an
 * immediate in three instructions (movabs, vmovq, vpbroadcastq). */
static const uint16_t k_flip_ones[2][16] __attribute__((aligned(32))) = {
	{ 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000,
	  0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000, 0x8000 },
	{ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
};

uint32_t pk_net_cksum_avx2(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	const uint8_t *end = p + len;
	const __m256i *k = (const __m256i *)(const void *)k_flip_ones;
	/* (no code: gcc would see through the loads and build the constants
	 * from immediates again) */
	__asm__("" : "+r"(k));
	__m256i flip = _mm256_load_si256(k);
	__m256i ones = _mm256_load_si256(k + 1);
	uint64_t s = sum;
	__m256i a0, a1;

	/* Loaded once, kept in registers: gcc would load them again for
	 * every block below. */
	__asm__("" : "+x"(flip), "+x"(ones));

	/* Whole passes, only for buffers past PASS bytes (reassembled
	 * datagrams at most; the unit test). */
	while (unlikely(len > PASS)) {
		blocks(p, PASS, &a0, &a1, flip, ones);
		s = pk_net_cksum_adc64(s, lanes_sum(a0, a1, PASS / 32));
		p += PASS;
		len -= PASS;
	}

	/* The last 0..PASS bytes: 128 a time, ... */
	size_t n = len & ~(size_t)127;
	blocks(p, n, &a0, &a1, flip, ones);
	/* ... the 0..31 whole 32-bit words left, lane k of step j loaded
	 * when 8 * j + k < dw, ... */
	const __m256i dw = _mm256_set1_epi32((int)((len - n) / 4));
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i eight = _mm256_set1_epi32(8);
	__m256i l1 = _mm256_add_epi32(lane, eight), l2 = _mm256_add_epi32(l1, eight);
	__m256i l3 = _mm256_add_epi32(l2, eight);
	a0 = step_masked(a0, p, n, _mm256_cmpgt_epi32(dw, lane), flip, ones);
	a1 = step_masked(a1, p, n + 32, _mm256_cmpgt_epi32(dw, l1), flip, ones);
	a0 = step_masked(a0, p, n + 64, _mm256_cmpgt_epi32(dw, l2), flip, ones);
	a1 = step_masked(a1, p, n + 96, _mm256_cmpgt_epi32(dw, l3), flip, ones);
	/* ... and the last 0..3 bytes: the high ones of the word ending the
	 * buffer, w >> (32 - 8 * (len & 3)) taken as (w << 8 * (len & 3)) >> 32
	 * (two instructions fewer; none left for len & 3 == 0). Both below
	 * 2^32: their sum needs no end-around carry. */
	uint32_t w;
	memcpy(&w, end - 4, 4);
	uint64_t t = lanes_sum(a0, a1, n / 32 + 4) + (((uint64_t)w << ((len * 8) & 24)) >> 32);
	return pk_net_cksum_32(pk_net_cksum_adc64(s, t));
}
#else
typedef int pk_net_cksum_no_avx2; /* not an empty translation unit */
#endif

#if defined(__AVX512BW__) && defined(__BMI2__)
/*
 * The same sum 64 bytes a step (AVX-512BW: vpmaddwd on 32 words): the
 * flip, the bias of 65536 per 4 bytes and the bound on the lanes as above
 * (PASS bytes are 2^10 steps over 32 lanes: every lane of the two
 * accumulators together stays below 2^31 in magnitude). The tail is the
 * last 0..127 bytes in two byte-masked loads, which read nothing past the
 * buffer and fault on nothing they leave out; a byte left out reads as 0,
 * so an odd last byte is the first byte of its word, and a word left out
 * costs the -32768 that the bias of its step takes back. No length
 * precondition.
 */
static inline __m512i step512(__m512i acc, __m512i x, __m512i flip, __m512i ones)
{
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_xor_si512(x, flip), ones));
}

/* The lanes of two accumulators added up, and the bias of `steps` steps of
 * 64 bytes (65536 per 4 bytes) added back: the true sum, below 2^32. */
static inline uint64_t lanes_sum512(__m512i a0, __m512i a1, size_t steps)
{
	return (uint64_t)((int64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1)) + ((int64_t)steps << 20));
}

uint32_t pk_net_cksum_avx512(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	const __m512i flip = _mm512_set1_epi16((short)0x8000), ones = _mm512_set1_epi16(1);
	uint64_t s = sum;
	__m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
	size_t steps = 0;

	for (;;) {
		size_t n = len < PASS ? len & ~(size_t)127 : PASS;

		for (size_t i = 0; i < n; i += 128) {
			a0 = step512(a0, _mm512_loadu_si512((const void *)(p + i)), flip, ones);
			a1 = step512(a1, _mm512_loadu_si512((const void *)(p + i + 64)), flip, ones);
		}
		steps += n / 64;
		p += n;
		len -= n;
		if (len < 128)
			break;
		/* a whole pass done and more to come: add the lanes up */
		s = pk_net_cksum_adc64(s, lanes_sum512(a0, a1, steps));
		a0 = a1 = _mm512_setzero_si512();
		steps = 0;
	}
	/* the last 0..127 bytes: bzhi leaves all 64 bits for an index of 64
	 * or more */
	__mmask64 m0 = _bzhi_u64(~0ull, (unsigned)len);
	__mmask64 m1 = _bzhi_u64(~0ull, len > 64 ? (unsigned)(len - 64) : 0u);
	a0 = step512(a0, _mm512_maskz_loadu_epi8(m0, p), flip, ones);
	a1 = step512(a1, _mm512_maskz_loadu_epi8(m1, (const void *)((uintptr_t)p + 64)), flip, ones);
	return pk_net_cksum_32(pk_net_cksum_adc64(s, lanes_sum512(a0, a1, steps + 2)));
}
#endif
