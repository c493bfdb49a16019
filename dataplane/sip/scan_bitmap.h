/* SPDX-License-Identifier: MIT */
/*
 * Structural bitmaps of a SIP message for the fast-path scanner
 * (dataplane/sip/scan.c): for every 64-byte block of the buffer, one 64-bit
 * word with a bit per LF byte and one with a bit per byte that is NOT a
 * token character (RFC 3261 §25.1: everything but alphanumerics and
 * -.!%*_+`'~). The scanner then finds line ends, the end of a header name,
 * of a transport, a host, a parameter name or value with a shift and a
 * count of trailing zeros, instead of a byte loop with a table lookup per
 * byte and a mispredicted exit per token.
 *
 * Words are indexed from the start of the buffer and computed lazily, in
 * order, up to eight at a time, as the line search first reaches them (so
 * at most seven words past the empty line, a little of the body, are
 * mapped; the first batch, mapped by pk_sip_scan up front, covers the
 * headers of most messages).
 * A word is built from one 64-byte AVX-512BW load (where the build targets
 * it: -march=native on such a machine), or two 32-byte AVX2 loads: compares
 * for LF and a nibble lookup (two pshufb, the tables derived from
 * pk_sip_cclass before main()) for the token class; without AVX2 a byte
 * loop builds the same words (tests/unit/test_scan_bitmap.c checks all
 * three against RFC 3261's token set). The last, partial block of a buffer
 * of 64 bytes or more maps the last 64 bytes and shifts; a shorter buffer
 * is copied into a zeroed block first, so no load ever reads outside
 * [buf, buf + len).
 *
 * The state is one struct on the scanning thread's stack (16 KiB for the
 * largest message, only the words reached are written). Private to
 * dataplane/sip; worker-safe, no allocation.
 */
#ifndef PK_SIP_SCAN_BITMAP_H
#define PK_SIP_SCAN_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

#include "pickup/sip.h"
#include "scan_chars.h"

#define PK_SBM_WORDS ((PK_SIP_MAX_MSG + 63) / 64)

struct pk_sbm {
	const char *buf;
	size_t len;
	size_t nmapped; /* words [0, nmapped) are valid */
	uint64_t lf[PK_SBM_WORDS + 1]; /* lf[nmapped] is 0 (see pk_sbm_map_in) */
	uint64_t nt[PK_SBM_WORDS]; /* not a token character */
};

/* pshufb tables of the token class: a byte is a token character iff
 * lo[b & 15] & hi[b >> 4] is not zero (each high nibble has its own bit).
 * Filled by pk_sbm_tables_init() from pk_sip_cclass. */
extern uint8_t pk_sbm_lo[32] __attribute__((visibility("hidden")));
extern uint8_t pk_sbm_hi[32] __attribute__((visibility("hidden")));
void pk_sbm_tables_init(void);

#if defined(__AVX512BW__)
/* AVX-512BW: a word is one 64-byte load, its LF bits one compare into a
 * mask register, its token class the same nibble lookup on 64 bytes with
 * a test into a mask (no movemask, no halves to join): about a third of
 * the AVX2 block's instructions. */
struct pk_sbm_k {
	__m512i lo, hi, nib, nl;
};

static inline struct pk_sbm_k pk_sbm_consts(void)
{
	struct pk_sbm_k k;
	k.lo = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)pk_sbm_lo));
	k.hi = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)pk_sbm_hi));
	k.nib = _mm512_set1_epi8(0x0f);
	k.nl = _mm512_set1_epi8('\n');
	return k;
}

static inline void pk_sbm_block_k(const struct pk_sbm_k *k, const char *p, uint64_t *lf,
				  uint64_t *nt)
{
	__m512i a = _mm512_loadu_si512((const void *)p);
	/* pshufb gives 0 for a byte >= 0x80 (no token char) without the
	 * low-nibble mask; the high nibbles 8-15 have no bit in hi */
	__m512i l = _mm512_shuffle_epi8(k->lo, a);
	__m512i h = _mm512_shuffle_epi8(k->hi, _mm512_and_si512(_mm512_srli_epi16(a, 4), k->nib));
	*lf = (uint64_t)_mm512_cmpeq_epi8_mask(a, k->nl);
	*nt = (uint64_t)_mm512_testn_epi8_mask(l, h);
}
#elif defined(__AVX2__)
/* The vector constants, loaded once per batch of words. */
struct pk_sbm_k {
	__m256i lo, hi, nib, nl;
};

static inline struct pk_sbm_k pk_sbm_consts(void)
{
	struct pk_sbm_k k;
	k.lo = _mm256_loadu_si256((const __m256i *)(const void *)pk_sbm_lo);
	k.hi = _mm256_loadu_si256((const __m256i *)(const void *)pk_sbm_hi);
	k.nib = _mm256_set1_epi8(0x0f);
	k.nl = _mm256_set1_epi8('\n');
	return k;
}

static inline uint32_t pk_sbm_nt32(const struct pk_sbm_k *k, __m256i x)
{
	/* pshufb gives 0 for a byte >= 0x80 (no token char) without the
	 * low-nibble mask; the high nibbles 8-15 have no bit in hi */
	__m256i l = _mm256_shuffle_epi8(k->lo, x);
	__m256i h = _mm256_shuffle_epi8(k->hi, _mm256_and_si256(_mm256_srli_epi16(x, 4), k->nib));
	__m256i t = _mm256_cmpeq_epi8(_mm256_and_si256(l, h), _mm256_setzero_si256());
	return (uint32_t)_mm256_movemask_epi8(t);
}

static inline void pk_sbm_block_k(const struct pk_sbm_k *k, const char *p, uint64_t *lf,
				  uint64_t *nt)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	*lf = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, k->nl)) |
	      (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, k->nl)) << 32;
	*nt = (uint64_t)pk_sbm_nt32(k, a) | (uint64_t)pk_sbm_nt32(k, b) << 32;
}
#else
struct pk_sbm_k {
	char unused;
};

static inline struct pk_sbm_k pk_sbm_consts(void)
{
	struct pk_sbm_k k = { 0 };
	return k;
}

static inline void pk_sbm_block_k(const struct pk_sbm_k *k, const char *p, uint64_t *lf,
				  uint64_t *nt)
{
	uint64_t l = 0, n = 0;

	(void)k;
	for (unsigned i = 0; i < 64; i++) {
		l |= (uint64_t)(p[i] == '\n') << i;
		n |= (uint64_t)(!pk_sip_is_token(p[i])) << i;
	}
	*lf = l;
	*nt = n;
}
#endif

/* A buffer shorter than 64 bytes: its one word, from a zeroed copy (out of
 * line: no usual message is that short). */
static __attribute__((noinline, unused)) void pk_sbm_map_short(struct pk_sbm *b, size_t w)
{
	char tmp[64] = { 0 };
	const struct pk_sbm_k k = pk_sbm_consts();
	memcpy(tmp, b->buf, b->len);
	pk_sbm_block_k(&k, tmp, &b->lf[w], &b->nt[w]);
}

/*
 * Map word w (w * 64 < len) and up to PK_SBM_BATCH - 1 words after it;
 * words are mapped in order (w == nmapped). In batches, so that the
 * vector constants (and, out of line through pk_sbm_map, the call) are
 * paid once per 512 bytes (batches of 4 and 16 cost more instructions
 * over the ordinary corpus). Inlined only where pk_sip_scan maps the
 * first batch; the line searches call pk_sbm_map.
 */
#define PK_SBM_BATCH 8
static inline __attribute__((always_inline)) void pk_sbm_map_in(struct pk_sbm *b, size_t w)
{
	size_t nw = (b->len + 63) / 64, full = b->len / 64;
	size_t stop = w + PK_SBM_BATCH < nw ? w + PK_SBM_BATCH : nw;
	size_t stop_full = stop < full ? stop : full;
	const struct pk_sbm_k k = pk_sbm_consts();
	for (; w < stop_full; w++)
		pk_sbm_block_k(&k, b->buf + w * 64, &b->lf[w], &b->nt[w]);
	if (w < stop) {
		/* the last, partial word */
		size_t left = b->len - w * 64;
		if (b->len >= 64) {
			/* map the 64 bytes that end the buffer, drop the ones
			 * before this word: bits past the end are 0 */
			size_t back = 64 - left;
			uint64_t l, n;
			pk_sbm_block_k(&k, b->buf + b->len - 64, &l, &n);
			b->lf[w] = l >> back;
			b->nt[w] = n >> back;
		} else {
			pk_sbm_map_short(b, w);
		}
		w++;
	}
	b->nmapped = w;
	/* the word after the mapped ones reads as "no LF": a line search
	 * may look one word ahead without checking nmapped */
	b->lf[w] = 0;
}

/* pk_sbm_map_in out of line: the later batches, from the line searches. */
static __attribute__((noinline, unused)) void pk_sbm_map(struct pk_sbm *b, size_t w)
{
	pk_sbm_map_in(b, w);
}

static inline void pk_sbm_init(struct pk_sbm *b, const char *buf, size_t len)
{
	b->buf = buf;
	b->len = len;
	b->nmapped = 0;
}

/* Next LF at or after from (from may be at the end), NULL if none. */
static inline __attribute__((always_inline)) const char *
pk_sbm_lf_next(struct pk_sbm *b, const char *from)
{
	size_t off = (size_t)(from - b->buf);
	if (off >= b->len)
		return NULL;
	size_t w = off >> 6;
	if (w >= b->nmapped)
		pk_sbm_map(b, w);
	uint64_t bits = b->lf[w] >> (off & 63);
	if (bits)
		return from + __builtin_ctzll(bits);
	for (w++; w * 64 < b->len; w++) {
		if (w >= b->nmapped)
			pk_sbm_map(b, w);
		if (b->lf[w])
			return b->buf + w * 64 + __builtin_ctzll(b->lf[w]);
	}
	return NULL;
}

/*
 * First byte at or after p that is not a token character. Precondition:
 * such a byte exists in the mapped words at or after p -- always true
 * inside a header line whose LF the line search has found, since LF, CR,
 * SP and HT are not token characters.
 */
static inline __attribute__((always_inline)) const char *
pk_sbm_tok_end(const struct pk_sbm *b, const char *p)
{
	size_t off = (size_t)(p - b->buf);
	size_t w = off >> 6;
	uint64_t bits = b->nt[w] >> (off & 63);
	if (bits)
		return p + __builtin_ctzll(bits);
	for (;;) {
		w++;
		if (b->nt[w])
			return b->buf + w * 64 + __builtin_ctzll(b->nt[w]);
	}
}

#endif /* PK_SIP_SCAN_BITMAP_H */
