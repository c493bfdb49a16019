/* SPDX-License-Identifier: MIT */
/*
 * Character classes of the SIP grammar (RFC 3261 §25.1) as one 256-entry
 * table of bit flags, shared by the scanner and the URI parser. Private to
 * dataplane/sip.
 */
#ifndef PK_SIP_SCAN_CHARS_H
#define PK_SIP_SCAN_CHARS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
	PK_C_TOKEN = 1 << 0,  /* token: alphanum -.!%*_+`'~ */
	PK_C_HOST = 1 << 1,   /* hostname / IPv4: alphanum - . */
	PK_C_SCHEME = 1 << 2, /* scheme: alphanum + - . */
	PK_C_PVALUE = 1 << 3, /* param value (token or host-ish): token + []: */
	PK_C_USER = 1 << 4,   /* URI user: unreserved / escaped / user-unreserved */
	PK_C_URIPARAM = 1 << 5, /* URI paramchar: unreserved / escaped / []/:&+$ */
	PK_C_LWS = 1 << 6,    /* SP HT, and CR LF (inside a value only folding) */
	PK_C_PSTOP = 1 << 7,  /* ends a parameter name or value: = ; , " SP HT CR LF */
};

/* hidden: only dataplane/sip uses it, so a -fPIC build reads it directly
 * rather than through the GOT */
extern const uint8_t pk_sip_cclass[256] __attribute__((visibility("hidden")));

static inline int pk_sip_is_token(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_TOKEN;
}
static inline int pk_sip_is_host(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_HOST;
}
static inline int pk_sip_is_scheme(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_SCHEME;
}
static inline int pk_sip_is_pvalue(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_PVALUE;
}
static inline int pk_sip_is_user(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_USER;
}
static inline int pk_sip_is_uriparam(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_URIPARAM;
}

static inline int pk_sip_is_pstop(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_PSTOP;
}

static inline int pk_sip_is_lws(char c)
{
	return pk_sip_cclass[(uint8_t)c] & PK_C_LWS;
}

/*
 * Inline byte searches for the short spans of a SIP message (a header line,
 * a URI, a parameter). The C library's memchr is faster on long buffers,
 * but its call and alignment set-up dominate on 5-60 byte spans. These load
 * 16 unaligned bytes at a time, and may read past end -- never at or past
 * lim, the end of the whole buffer -- so that a span near the end of a line
 * still takes one vector step instead of a byte loop. Results past end are
 * reported as "not found".
 */
/* Where the vector steps of a search of [p, end) stop: a step from q
 * needs q < end and q + 16 <= lim, which is q < min(end, lim - 15) -- one
 * compare per step (lim is a buffer's end, far above address 15). */
static inline uintptr_t pk_vec_stop(const char *end, const char *lim)
{
	uintptr_t e = (uintptr_t)end, l = (uintptr_t)lim - 15;
	return e < l ? e : l;
}

static inline const char *pk_find_byte_lim(const char *p, const char *end, const char *lim, char c)
{
#if defined(__SSE2__)
	const __m128i needle = _mm_set1_epi8(c);
	const uintptr_t stop = pk_vec_stop(end, lim);
	while ((uintptr_t)p < stop) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, needle));
		if (mask) {
			p += __builtin_ctz(mask);
			return p < end ? p : NULL;
		}
		p += 16;
	}
#else
	(void)lim;
#endif
	for (; p < end; p++)
		if (*p == c)
			return p;
	return NULL;
}

static inline const char *pk_find_byte(const char *p, const char *end, char c)
{
	return pk_find_byte_lim(p, end, end, c);
}

/*
 * A set of seven delimiter bytes, each repeated over 16 bytes, so that a
 * search compares straight from memory instead of broadcasting its needles
 * on every call (these searches run several times per header).
 */
struct pk_delims {
	_Alignas(16) char v[7][16];
	char c[7];
};

#define PK_R16(x) { x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x }
#define PK_DELIMS(a, b, c, d, e, f, g)                                                     \
	{ { PK_R16(a), PK_R16(b), PK_R16(c), PK_R16(d), PK_R16(e), PK_R16(f), PK_R16(g) }, \
	  { a, b, c, d, e, f, g } }

/* First byte of the set in [p, end), or end. Loads may reach up to lim. */
static inline const char *pk_find_set(const char *p, const char *end, const char *lim,
				      const struct pk_delims *d)
{
#if defined(__SSE2__)
	const uintptr_t stop = pk_vec_stop(end, lim);
	while ((uintptr_t)p < stop) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
#define PK_EQ(i) _mm_cmpeq_epi8(x, _mm_load_si128((const __m128i *)(const void *)d->v[i]))
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_or_si128(PK_EQ(0), PK_EQ(1)),
						      _mm_or_si128(PK_EQ(2), PK_EQ(3))),
					 _mm_or_si128(_mm_or_si128(PK_EQ(4), PK_EQ(5)), PK_EQ(6)));
#undef PK_EQ
		unsigned mask = (unsigned)_mm_movemask_epi8(m);
		if (mask) {
			p += __builtin_ctz(mask);
			return p < end ? p : end;
		}
		p += 16;
	}
#else
	(void)lim;
#endif
	for (; p < end; p++) {
		char x = *p;
		if (x == d->c[0] || x == d->c[1] || x == d->c[2] || x == d->c[3] || x == d->c[4] ||
		    x == d->c[5] || x == d->c[6])
			return p;
	}
	return end;
}

/* First byte that is SP, a control character (CR, LF, HT, ...) or DEL:
 * the end of a word that may hold no white space (Call-ID, a URI). */
static inline const char *pk_find_space_or_ctl(const char *p, const char *end)
{
#if defined(__SSE2__)
	const __m128i lim = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* x >= 0x21 (unsigned) <=> max(x, 0x21) == x */
		__m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, lim), x);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_andnot_si128(ok, _mm_set1_epi8((char)0xff)), _mm_cmpeq_epi8(x, del)));
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	for (; p < end; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return p;
	return NULL;
}

/* The same, loading 16 bytes at a time up to lim (the end of the buffer)
 * even past end, so that a short word takes one vector step. NULL when the
 * word [p, end) holds no such byte. */
static inline const char *pk_find_space_or_ctl_lim(const char *p, const char *end, const char *lim)
{
#if defined(__SSE2__)
	const __m128i lo = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
	const uintptr_t stop = pk_vec_stop(end, lim);
	while ((uintptr_t)p < stop) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, lo), x);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_andnot_si128(ok, _mm_set1_epi8((char)0xff)), _mm_cmpeq_epi8(x, del)));
		if (mask) {
			p += __builtin_ctz(mask);
			return p < end ? p : NULL;
		}
		p += 16;
	}
#else
	(void)lim;
#endif
	for (; p < end; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return p;
	return NULL;
}

#endif /* PK_SIP_SCAN_CHARS_H */
