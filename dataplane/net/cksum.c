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
 * step; two accumulators of int32 lanes stay exact for 2^15 steps each, so
 * the loop runs over at most PASS bytes before the lanes are widened.
 * Three instructions per 32 bytes (load+xor, madd, add) against eight for
 * the compiler's vectorised 4-byte loop; the last whole 32-bit words in
 * one masked load (which reads nothing past them), the last 1-3 bytes
 * by the scalar code. Pure function: any thread.
 */
#include <stdbool.h>

#include "cksum.h"

#ifdef __AVX2__
#include <immintrin.h>

#define PASS (512u * 1024u) /* bytes per pass: at most 2^13 + 3 steps per accumulator */

static inline __m256i step(__m256i acc, const uint8_t *p, __m256i flip, __m256i ones)
{
	__m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)p), flip);
	return _mm256_add_epi32(acc, _mm256_madd_epi16(x, ones));
}

uint32_t pk_net_cksum_avx2(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	const __m256i flip = _mm256_set1_epi16((short)0x8000);
	const __m256i ones = _mm256_set1_epi16(1);
	uint64_t s = sum;

	while (len >= 32) {
		size_t n = len < PASS ? len & ~(size_t)31 : PASS;
		size_t i = 0;
		bool last = n == (len & ~(size_t)31); /* this pass takes the tail too */
		__m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();

		for (; i + 128 <= n; i += 128) {
			a0 = step(a0, p + i, flip, ones);
			a1 = step(a1, p + i + 32, flip, ones);
			a0 = step(a0, p + i + 64, flip, ones);
			a1 = step(a1, p + i + 96, flip, ones);
		}
		for (; i < n; i += 32)
			a1 = step(a1, p + i, flip, ones);
		size_t dw = last ? (len - n) / 4 : 0;
		if (dw != 0) {
			/* The last 4..28 bytes' whole words in one masked load: the
			 * lanes left out read as 0, whose -65536 the bias of a full
			 * step below takes back. */
			const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
			__m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)dw), lane);
			__m256i x = _mm256_maskload_epi32((const int *)(const void *)(p + n), mask);
			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_xor_si256(x, flip), ones));
		}
		/* Widen the lanes (signed) to 64 bits and add them up. */
		__m256i w = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(a0)),
					     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a0, 1)));
		w = _mm256_add_epi64(w, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a1)));
		w = _mm256_add_epi64(w, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a1, 1)));
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
		int64_t t = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
		/* + 65536 per 4 bytes of every step: the exact sum of the words. */
		size_t stepped = n + (dw != 0 ? 32 : 0);
		s = pk_net_cksum_adc64(s, (uint64_t)(t + (int64_t)(stepped / 4) * 65536));
		p += n + dw * 4;
		len -= n + dw * 4;
	}
	return pk_net_cksum_32(pk_net_cksum_scalar64(p, len, s));
}
#else
typedef int pk_net_cksum_no_avx2; /* not an empty translation unit */
#endif
