/* SPDX-License-Identifier: MIT */
/*
 * SIP URIs, parsed on demand (the scanner keeps them as views): scheme,
 * user and password, host (name, IPv4, IPv6 reference), port, parameters
 * and headers (RFC 3261 §19.1), tel URIs (RFC 3966) in outline, and the
 * comparison rules of §19.1.4 for user parts with %HH escapes.
 *
 * Also home of the character-class table the scanner shares.
 */
#include <errno.h>

#include "pickup/sip.h"
#include "scan_chars.h"

#define T PK_C_TOKEN
#define H PK_C_HOST
#define S PK_C_SCHEME
#define V PK_C_PVALUE
#define U PK_C_USER
#define P PK_C_URIPARAM
#define ALNUM (T | H | S | V | U | P)

const uint8_t pk_sip_cclass[256] = {
	['0' ... '9'] = ALNUM,
	['A' ... 'Z'] = ALNUM,
	['a' ... 'z'] = ALNUM,
	['-'] = T | H | S | V | U | P,
	['.'] = T | H | S | V | U | P,
	['_'] = T | H | V | U | P,
	['!'] = T | V | U | P,
	['~'] = T | V | U | P,
	['*'] = T | V | U | P,
	['\''] = T | V | U | P,
	['%'] = T | V | U | P,
	['+'] = T | S | V | U | P,
	['`'] = T | V,
	['('] = U | P,
	[')'] = U | P,
	['&'] = U | P,
	['='] = U | PK_C_PSTOP,
	['$'] = U | P,
	[','] = U | PK_C_PSTOP,
	[';'] = U | PK_C_PSTOP,
	['"'] = PK_C_PSTOP,
	['?'] = U,
	['/'] = U | P,
	['['] = V | P,
	[']'] = V | P,
	[':'] = V | P,
	[' '] = PK_C_LWS | PK_C_PSTOP,
	['\t'] = PK_C_LWS | PK_C_PSTOP,
	['\r'] = PK_C_LWS | PK_C_PSTOP,
	['\n'] = PK_C_LWS | PK_C_PSTOP,
};

#undef T
#undef H
#undef S
#undef V
#undef U
#undef P
#undef ALNUM

static inline bool lower_eq(const char *p, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != lower[i])
			return false;
	return true;
}

static bool is_ipv4(struct pk_str h)
{
	unsigned dots = 0, digits = 0, val = 0;
	for (uint32_t i = 0; i < h.len; i++) {
		char c = h.p[i];
		if (c == '.') {
			if (digits == 0)
				return false;
			dots++;
			digits = 0;
			val = 0;
		} else if (c >= '0' && c <= '9') {
			val = val * 10 + (unsigned)(c - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

static bool ipv6_ref_valid(struct pk_str h)
{
	/* "[" hex4 / ':' / IPv4 tail "]": a loose check of the character set
	 * and of at least two colons is what a proxy needs to route. */
	if (h.len < 4 || h.p[0] != '[' || h.p[h.len - 1] != ']')
		return false;
	unsigned colons = 0;
	for (uint32_t i = 1; i + 1 < h.len; i++) {
		char c = h.p[i];
		if (c == ':')
			colons++;
		else if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ||
			   c == '.'))
			return false;
	}
	return colons >= 2;
}

static void pull_params(struct pk_sip_uri *u)
{
	/* one walk for the four (pk_sip_param_get's, in rewrite.c) */
	static const char *const names[4] = { "transport", "maddr", "user", "lr" };
	struct pk_str v[4] = { PK_STR_NULL, PK_STR_NULL, PK_STR_NULL, PK_STR_NULL };
	u->transport = u->maddr = u->user_param = PK_STR_NULL;
	u->lr = false;
	if (u->params.len == 0)
		return;
	uint32_t got = pk_sip_params_get(u->params, names, 4, v);
	u->transport = v[0];
	u->maddr = v[1];
	u->user_param = v[2];
	u->lr = (got & 8) != 0;
}

/* What a URI may not hold anywhere (controls, SP, DEL, < > "): one table
 * load a byte instead of five tests; the URI of every routed request and
 * tracked call is checked. */
static const uint8_t uri_bad_char[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00-0x0f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10-0x1f */
	[' '] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, [0x7f] = 1,
};

static bool uri_has_bad_char(const char *q, const char *end)
{
	for (; q < end; q++)
		if (uri_bad_char[(unsigned char)*q])
			return true;
	return false;
}

/*
 * One pass over a sip:/sips: URI: each part is checked by the loop that
 * finds its end, with the character class of that part, none of which
 * admits a character of uri_bad_char; only the password and the headers,
 * which have no class of their own here, are checked against that table.
 * So a URI with such a character anywhere is refused, as before, without
 * a separate walk over all of it.
 */
/*
 * The common shapes, sip:user@host[:port][;params] and
 * sip:host[:port][;params], in one pass with no call to memset: the user
 * part's loop stops at the '@' (no user-class character is an '@', so that
 * is the first one, as the general parse's memchr finds it); where it stops
 * elsewhere, the rest must hold no '@' for the URI to have no user part.
 * Anything else -- a password, an IPv6 reference, headers, sips:, a bad
 * port -- goes to the general parse before anything is decided, and it
 * starts over: so every URI gets exactly the result of the general parse.
 */
static int uri_parse_general(const char *p, size_t len, struct pk_sip_uri *u);

/* The common path's user part, in both builds: the user characters from
 * s end at q; an '@' there makes them the user part (u->user) and the
 * host starts after it. Returns where the host starts (s when there is no
 * '@' at q), or NULL for the general parse (an empty user part). */
static inline __attribute__((always_inline)) const char *uri_user_at(const char *s, const char *q,
								    const char *end, struct pk_sip_uri *u)
{
	if (q < end && *q == '@') {
		if (q == s)
			return NULL;
		u->user = pk_str_make(s, (size_t)(q - s));
		return q + 1;
	}
	return s;
}

/* The common path's tail, in both builds: the ":port" and ";params" that
 * may follow the host at q, into u->port and u->params (left as they are
 * when absent). false: they need the general parse (no digits, port 0 or
 * above 65535, '?' headers, a bad character). */
static inline __attribute__((always_inline)) bool uri_port_params(const char *q, const char *end,
								 struct pk_sip_uri *u)
{
	const char *ps;
	unsigned port = 0;

	if (q < end && *q == ':') {
		ps = ++q;
		while (q < end && *q >= '0' && *q <= '9' && port <= 65535)
			port = port * 10 + (unsigned)(*q++ - '0');
		if (q == ps || port == 0 || port > 65535)
			return false;
		u->port = (uint16_t)port;
	}
	if (q < end) {
		if (*q != ';')
			return false;
		ps = q;
		for (; q < end; q++)
			if (*q != ';' && *q != '=' && !pk_sip_is_uriparam(*q))
				return false; /* '?' (headers) or a bad character */
		u->params = pk_str_make(ps, (size_t)(q - ps));
	}
	return true;
}

#if defined(__AVX2__) && defined(__BMI__)
/*
 * With AVX2, the first 32 bytes after "sip:" are classified at once: each
 * byte's user, host and digit classes come from two 16-entry tables, one
 * indexed by its low nibble and one by its high nibble (a class is a union
 * of rectangles low-set x high-set, one bit per rectangle):
 *
 *   bit   high nibble  low nibbles         bytes
 *   0x80  3            0-9                 0-9 (digit)
 *   0x01  4, 6         1-f                 A-O a-o
 *   0x02  5, 7         0-a                 P-Z p-z
 *   0x04  2            d e                 - .
 *   0x08  2            1 4-c f             ! $ % & ' ( ) * + , /
 *   0x10  3            b d f               ; = ?
 *   0x20  5            f                   _
 *   0x40  7            e                   ~
 *
 * host = 0x80|0x01|0x02|0x04|0x20 (alphanum - . _), user = any bit:
 * exactly the PK_C_HOST and PK_C_USER classes of pk_sip_cclass (bytes
 * >= 0x80 and controls have no bit). So the user part's end, the host's
 * end and the IPv4 check are bit masks; a run that reaches the end of the
 * window goes on byte by byte, so a longer URI gets the same answer.
 */
#include <immintrin.h>

enum { UW_DIGIT = 0x80, UW_HOST = 0x80 | 0x01 | 0x02 | 0x04 | 0x20 };

#define UW_R2(...) __VA_ARGS__, __VA_ARGS__
static const _Alignas(32) uint8_t uw_lo[32] = { UW_R2(0x82, 0x8b, 0x83, 0x83, 0x8b, 0x8b, 0x8b, 0x8b,
						      0x8b, 0x8b, 0x0b, 0x19, 0x09, 0x15, 0x45, 0x39) };
static const _Alignas(32) uint8_t uw_hi[32] = { UW_R2(0, 0, 0x0c, 0x90, 0x01, 0x22, 0x01, 0x42,
						      0, 0, 0, 0, 0, 0, 0, 0) };
#undef UW_R2

/* pshufb controls that move a vector's bytes down: 0x80 (a zero byte),
 * then 0..15, then 0x80 again; a control is 16 bytes from some offset */
#define UW_Z4 0x80, 0x80, 0x80, 0x80
#define UW_Z16 UW_Z4, UW_Z4, UW_Z4, UW_Z4
static const uint8_t uw_slide[48] = { UW_Z16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, UW_Z16 };
#undef UW_Z16
#undef UW_Z4

/*
 * The first min(n, 32) bytes of s, zero beyond, n >= 4: two loads inside
 * [s, s + n), the second moved down to where its bytes belong (where the
 * two overlap they hold the same bytes). Never a read past s + n.
 */
static inline __m256i uri_window(const char *s, size_t n)
{
	if (n >= 16) {
		unsigned m = n < 32 ? (unsigned)n : 32;
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + m - 16));
		/* upper half byte k is s[16 + k] = b[k + 32 - m], zero from m */
		b = _mm_shuffle_epi8(b, _mm_loadu_si128((const __m128i *)(const void *)(uw_slide + 48 - m)));
		return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
	}
	__m128i a, b;
	unsigned w;
	if (n >= 8) {
		a = _mm_loadl_epi64((const __m128i *)(const void *)s);
		b = _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8));
		w = 8;
	} else {
		a = _mm_cvtsi32_si128((int)pk_load4(s));
		b = _mm_cvtsi32_si128((int)pk_load4(s + n - 4));
		w = 4;
	}
	/* byte j >= d = n - w is b[j - d] (zero from j = n, as b is from w) */
	unsigned d = (unsigned)n - w;
	b = _mm_shuffle_epi8(b, _mm_loadu_si128((const __m128i *)(const void *)(uw_slide + 16 - d)));
	return _mm256_zextsi128_si256(_mm_or_si128(a, b));
}

/*
 * Is host [h0, he) of the window (he <= 32, s[h0] a digit) a dotted quad,
 * as is_ipv4 decides: digits and exactly three dots, no empty group and
 * none of four digits or more, no three-digit group above 255.
 */
static inline bool uri_ipv4_masks(const char *s, uint64_t digit, uint64_t dot, unsigned h0, unsigned he)
{
	uint64_t r = (1ull << he) - (1ull << h0), dg = digit & r, dt = dot & r;
	if ((dg | dt) != r || __builtin_popcountll(dt) != 3 || !(dg >> (he - 1) & 1) || (dt & dt >> 1) != 0 ||
	    (dg & dg >> 1 & dg >> 2 & dg >> 3) != 0)
		return false;
	for (uint64_t g = dg & dg >> 1 & dg >> 2; g; g &= g - 1) {
		const unsigned char *t = (const unsigned char *)s + _tzcnt_u64(g);
		if (((unsigned)t[0] << 16 | (unsigned)t[1] << 8 | t[2]) > ('2' << 16 | '5' << 8 | '5'))
			return false;
	}
	return true;
}

/* Every field empty (zero), as the general parse's memset, in six vector
 * stores, the last overlapping the one before (GCC calls memset for this
 * size, and turns a loop of stores back into that call). */
static inline void uri_zero(struct pk_sip_uri *u)
{
	_Static_assert(sizeof(*u) > 5 * 32 && sizeof(*u) <= 6 * 32, "six stores cover it");
	char *b = (char *)u;
	const __m256i z = _mm256_setzero_si256();
	_mm256_storeu_si256((__m256i *)(void *)b, z);
	_mm256_storeu_si256((__m256i *)(void *)(b + 32), z);
	_mm256_storeu_si256((__m256i *)(void *)(b + 64), z);
	_mm256_storeu_si256((__m256i *)(void *)(b + 96), z);
	_mm256_storeu_si256((__m256i *)(void *)(b + 128), z);
	_mm256_storeu_si256((__m256i *)(void *)(b + sizeof(*u) - 32), z);
}

/* pull_params out of line (a tail call), so that the common path with no
 * parameters needs no stack frame */
static __attribute__((noinline)) int uri_pull_params(struct pk_sip_uri *u)
{
	pull_params(u);
	return 0;
}

int pk_sip_uri_parse(const char *p, size_t len, struct pk_sip_uri *u)
{
	const char *end = p + len, *s = p + 4, *q, *hs;

	/* "sip:" in any case: the three letters or'ed with 0x20 (':' has the
	 * bit already), one load; 4 bytes at least after it for the window
	 * (a shorter URI takes the general parse) */
	if (len < 8 || (pk_load4(p) | pk_load4("\x20\x20\x20\x00")) != pk_load4("sip:"))
		goto general;
	size_t n = len - 4;
	__m256i v = uri_window(s, n);
	__m256i lo = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
	__m256i c = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)(const void *)uw_lo), lo),
				     _mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)(const void *)uw_hi), hi));
	const __m256i zero = _mm256_setzero_si256();
	/* bit i set: s[i] is not a user (host) character; the window's zero
	 * bytes past s + n are neither, so a run stops there at the latest */
	uint32_t nuser = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, zero));
	uint32_t nhost = (uint32_t)_mm256_movemask_epi8(
		_mm256_cmpeq_epi8(_mm256_and_si256(c, _mm256_set1_epi8((char)UW_HOST)), zero));

	uri_zero(u);
	unsigned ue = _tzcnt_u32(nuser); /* 32: the whole window */
	q = s + ue;
	if (ue == 32)
		while (q < end && pk_sip_is_user(*q))
			q++;
	/* no '@' at q: none at all (sip:host...), or the general parse (an
	 * '@' further on makes what precedes it the user part, as its memchr
	 * finds it). No search for it: the host, port and parameter checks
	 * below admit no '@', so an '@' further on stops them and they go to
	 * the general parse. */
	hs = uri_user_at(s, q, end, u);
	if (hs == NULL)
		goto general;
	size_t h0 = (size_t)(hs - s), he = h0;
	if (h0 < 32)
		he = h0 + _tzcnt_u64(((uint64_t)nhost | 1ull << 32) >> h0);
	q = s + he;
	if (he >= 32)
		while (q < end && pk_sip_is_host(*q))
			q++;
	if (q == hs)
		goto general;
	u->host = pk_str_make(hs, (size_t)(q - hs));
	if (*hs >= '0' && *hs <= '9') {
		bool v4;
		if (q - s <= 32) {
			uint32_t digit = (uint32_t)_mm256_movemask_epi8(c);
			uint32_t dot = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('.')));
			v4 = uri_ipv4_masks(s, digit, dot, (unsigned)h0, (unsigned)(q - s));
		} else {
			v4 = is_ipv4(u->host);
		}
		if (v4)
			u->host_type = PK_HOST_IPV4;
	}
	if (!uri_port_params(q, end, u))
		goto general;
	u->scheme = PK_URI_SIP;
	u->scheme_tok = pk_str_make(p, 3);
	if (u->params.len == 0)
		return 0;
	return uri_pull_params(u);
general:
	return uri_parse_general(p, len, u);
}
#else
int pk_sip_uri_parse(const char *p, size_t len, struct pk_sip_uri *u)
{
	const char *end = p + len, *s = p + 4, *q = s, *hs;

	/* "sip:" in any case: the three letters or'ed with 0x20 (':' has the
	 * bit already), one load */
	if (len < 5 || (pk_load4(p) | pk_load4("\x20\x20\x20\x00")) != pk_load4("sip:"))
		goto general;
	while (q < end && pk_sip_is_user(*q))
		q++;
	/* no '@' at q: none at all (sip:host...), or the general parse (an
	 * '@' further on makes what precedes it the user part, as its memchr
	 * finds it). A safety net: the host, port and parameter loops below
	 * stop at an '@' as well. */
	u->user = PK_STR_NULL;
	hs = uri_user_at(s, q, end, u);
	if (hs == NULL || (hs == s && q < end && memchr(q, '@', (size_t)(end - q)) != NULL))
		goto general;
	q = hs;
	while (q < end && pk_sip_is_host(*q))
		q++;
	if (q == hs)
		goto general;
	u->host = pk_str_make(hs, (size_t)(q - hs));
	u->host_type = (*hs >= '0' && *hs <= '9' && is_ipv4(u->host)) ? PK_HOST_IPV4 : PK_HOST_NAME;
	u->port = 0;
	u->params = PK_STR_NULL;
	if (!uri_port_params(q, end, u))
		goto general;
	u->scheme = PK_URI_SIP;
	u->scheme_tok = pk_str_make(p, 3);
	u->password = u->headers = PK_STR_NULL;
	pull_params(u);
	return 0;
general:
	return uri_parse_general(p, len, u);
}
#endif

/* The general parse, out of line: the common path above stays a leaf. */
static __attribute__((noinline)) int uri_parse_general(const char *p, size_t len, struct pk_sip_uri *u)
{
	memset(u, 0, sizeof(*u));
	if (len == 0)
		return -EINVAL;
	const char *end = p + len;
	const char *colon = p;
	while (colon < end && pk_sip_is_scheme(*colon))
		colon++;
	/* the first non-scheme character must be the colon (none: not a URI) */
	if (colon == end || *colon != ':' || colon == p)
		return -EINVAL;
	u->scheme_tok = pk_str_make(p, (size_t)(colon - p));
	size_t sl = (size_t)(colon - p);
	if (sl == 3 && lower_eq(p, "sip", 3))
		u->scheme = PK_URI_SIP;
	else if (sl == 4 && lower_eq(p, "sips", 4))
		u->scheme = PK_URI_SIPS;
	else if (sl == 3 && lower_eq(p, "tel", 3))
		u->scheme = PK_URI_TEL;
	else
		return 0; /* opaque */

	const char *s = colon + 1;
	size_t rest = len - (size_t)(s - p);
	if (u->scheme == PK_URI_TEL) {
		if (uri_has_bad_char(s, end))
			return -EINVAL;
		const char *q = memchr(s, ';', rest);
		if (!q)
			q = end;
		if (q == s)
			return -EINVAL;
		u->user = pk_str_make(s, (size_t)(q - s));
		u->params = pk_str_make(q, (size_t)(end - q));
		pull_params(u);
		return 0;
	}

	/* userinfo: the first '@' ends it (user and password hold '@' only
	 * escaped; they may hold ';' '?' ':' -- RFC 4475 §3.1.1.2). */
	const char *at = memchr(s, '@', rest);
	const char *hs = s;
	if (at) {
		const char *q = s;
		while (q < at && pk_sip_is_user(*q))
			q++;
		/* the user part ends at the password's ':' or at the '@' */
		if (q == s || (q < at && *q != ':'))
			return -EINVAL;
		u->user = pk_str_make(s, (size_t)(q - s));
		if (q < at) {
			if (uri_has_bad_char(q + 1, at))
				return -EINVAL;
			u->password = pk_str_make(q + 1, (size_t)(at - q - 1));
		}
		hs = at + 1;
	}
	const char *q = hs;
	if (q < end && *q == '[') {
		const char *rb = memchr(q, ']', (size_t)(end - q));
		if (!rb)
			return -EINVAL;
		q = rb + 1;
		u->host = pk_str_make(hs, (size_t)(q - hs));
		if (!ipv6_ref_valid(u->host))
			return -EINVAL;
		u->host_type = PK_HOST_IPV6;
	} else {
		while (q < end && pk_sip_is_host(*q))
			q++;
		u->host = pk_str_make(hs, (size_t)(q - hs));
		if (u->host.len == 0)
			return -EINVAL;
		/* a name cannot be a dotted quad unless it starts with a digit */
		u->host_type = (*hs >= '0' && *hs <= '9' && is_ipv4(u->host)) ? PK_HOST_IPV4 : PK_HOST_NAME;
	}
	if (q < end && *q == ':') {
		const char *ps = ++q;
		unsigned port = 0;
		while (q < end && *q >= '0' && *q <= '9') {
			port = port * 10 + (unsigned)(*q - '0');
			if (port > 65535)
				return -EINVAL;
			q++;
		}
		if (q == ps || port == 0)
			return -EINVAL;
		u->port = (uint16_t)port;
	}
	if (q < end && *q == ';') {
		const char *ps = q;
		while (q < end && *q != '?') {
			if (*q != ';' && *q != '=' && !pk_sip_is_uriparam(*q))
				return -EINVAL;
			q++;
		}
		u->params = pk_str_make(ps, (size_t)(q - ps));
	}
	if (q < end && *q == '?') {
		if (uri_has_bad_char(q + 1, end))
			return -EINVAL;
		u->headers = pk_str_make(q + 1, (size_t)(end - q - 1));
		q = end;
	}
	if (q != end)
		return -EINVAL;
	pull_params(u);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Next octet of a component, decoding %HH; *i advances. */
static int next_octet(struct pk_str s, uint32_t *i)
{
	if (s.p[*i] == '%' && *i + 2 < s.len) {
		int h = hexval(s.p[*i + 1]), l = hexval(s.p[*i + 2]);
		if (h >= 0 && l >= 0) {
			*i += 3;
			return h * 16 + l;
		}
	}
	return (unsigned char)s.p[(*i)++];
}

bool pk_sip_uri_user_eq(struct pk_str a, struct pk_str b)
{
	if (pk_str_eq(a, b))
		return true;
	uint32_t i = 0, j = 0;
	while (i < a.len && j < b.len)
		if (next_octet(a, &i) != next_octet(b, &j))
			return false;
	return i == a.len && j == b.len;
}

bool pk_sip_uri_host_eq(struct pk_str a, struct pk_str b)
{
	/* the same bytes (an address, a name as we wrote it) is the common
	 * case: one compare, then the byte-wise caseless one if that fails.
	 * A host of 4 to 16 bytes, the usual, is compared by pk_mem_eq16 (two
	 * words each, which overlap below 16) rather than through memcmp's
	 * call. */
	uint32_t n = a.len;
	if (n != b.len)
		return false;
	if (n >= 4 && n <= 16) {
		if (pk_mem_eq16(a.p, b.p, n))
			return true;
	} else if (n == 0 || memcmp(a.p, b.p, n) == 0) {
		return true;
	}
	return pk_str_caseeq(a, b);
}
