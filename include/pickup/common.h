/* SPDX-License-Identifier: MIT */
/*
 * Small shared definitions: the (pointer, length) string view that every
 * parser result is made of, branch hints and array helpers. Everything here
 * is header-only and may be used by workers and the control plane alike.
 */
#ifndef PICKUP_COMMON_H
#define PICKUP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define PK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC: the vDSO, no system
 * call). Any thread. */
static inline uint64_t pk_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/*
 * A view into a buffer someone else owns (a packet, a config string). Never
 * NUL-terminated; p may be NULL only when len is 0.
 */
struct pk_str {
	const char *p;
	uint32_t len;
};

#define PK_STR_NULL ((struct pk_str){ NULL, 0 })
/* View of a string literal, for comparisons and building messages. */
#define PK_STR_LIT(s) ((struct pk_str){ (s), sizeof(s) - 1 })

static inline struct pk_str pk_str_make(const char *p, size_t len)
{
	return (struct pk_str){ p, (uint32_t)len };
}

static inline bool pk_str_empty(struct pk_str s)
{
	return s.len == 0;
}

static inline bool pk_str_eq(struct pk_str a, struct pk_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* ASCII case-insensitive equality (SIP tokens, header names, hosts). */
static inline bool pk_str_caseeq(struct pk_str a, struct pk_str b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++) {
		unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		if (x != y && (x | 0x20) != (y | 0x20))
			return false;
		if (x != y && !((x | 0x20) >= 'a' && (x | 0x20) <= 'z'))
			return false;
	}
	return true;
}

static inline bool pk_str_caseeq_cstr(struct pk_str a, const char *s)
{
	return pk_str_caseeq(a, pk_str_make(s, strlen(s)));
}

/* Word helpers of the per-packet hashes and compares (groups, location,
 * proxy branches, ringing-call table). */

/* 8 and 4 bytes at p in host order, unaligned. */
static inline uint64_t pk_load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t pk_load4(const char *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/* The 128-bit product of a and b folded to 64 bits (a multiply-fold hash
 * step). */
static inline uint64_t pk_fold64(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* splitmix64's finaliser: every input bit reaches every output bit, both
 * halves of the result well mixed. The project's one 64-bit mixer (hashes
 * of the ringing-call table, the rate limiter, branches, To-tags). */
static inline uint64_t pk_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Does a[0, n) hold the same bytes as b[0, n)? For 4 <= n <= 16 only (the
 * caller checks; outside that range the answer is wrong): a load of 8 (or
 * 4) bytes from each end of each text, which overlap below 16 (8), so no
 * byte outside them is read, and one compare of the xors: no memcmp
 * call, no loop. Hosts, user parts, numbers, domains are mostly that
 * long.
 */
static inline bool pk_mem_eq16(const char *a, const char *b, uint32_t n)
{
	if (n >= 8)
		return ((pk_load8(a) ^ pk_load8(b)) | (pk_load8(a + n - 8) ^ pk_load8(b + n - 8))) == 0;
	return ((pk_load4(a) ^ pk_load4(b)) | (pk_load4(a + n - 4) ^ pk_load4(b + n - 4))) == 0;
}

/* a[0..n) equals b[0..n), any n: pk_mem_eq16 for 4-16 bytes, twice (the
 * first and the last 16, which overlap) for 17-32, a byte loop below 4,
 * memcmp above 32. For the short keys of the worker's tables. */
static inline bool pk_mem_eq_short(const char *a, const char *b, uint32_t n)
{
	if (n > 32)
		return memcmp(a, b, n) == 0;
	if (n > 16)
		return ((unsigned)pk_mem_eq16(a, b, 16) & (unsigned)pk_mem_eq16(a + n - 16, b + n - 16, 16)) != 0;
	if (n >= 4)
		return pk_mem_eq16(a, b, n);
	for (uint32_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * The n <= 16 bytes at p as two words *a, *b that hold every one of them,
 * in loads that may overlap (no byte loop, no variable-length copy): 9-16
 * bytes as the first and the last eight; 4-8 as the first and the last
 * four in *a; 1-3 as the first, middle and last byte in *a; the rest
 * zero. Two texts of the same length are equal if and only if their words
 * are (the words are for hashing and comparing within one process: host
 * order).
 */
static inline void pk_words16(const char *p, uint32_t n, uint64_t *a, uint64_t *b)
{
	*b = 0;
	if (n > 8) {
		*a = pk_load8(p);
		*b = pk_load8(p + n - 8);
	} else if (n >= 4) {
		*a = pk_load4(p) << 32 | pk_load4(p + n - 4);
	} else if (n > 0) {
		*a = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n >> 1] << 8 |
		     (unsigned char)p[n - 1];
	} else {
		*a = 0;
	}
}

/* Does the word w hold a byte equal to c? The zero-byte test of w ^ c in
 * every byte, which is exact about whether any byte is zero (the bytes it
 * flags past the first zero one may be wrong, the answer is not). */
static inline bool pk_has_byte8(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (0x0101010101010101ull * c);

	return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) != 0;
}

/*
 * One string into a keyed multiply-fold hash state h: 16 bytes a step,
 * the last 0-16 bytes read as two words by pk_words16 (no byte loop),
 * the length, spread by a multiply, mixed into the other operand of the
 * last step than those bytes (in the same one, "bccc" and "bbccc" once
 * cancelled out), so that ("ab","c") and ("a","bc") differ when strings
 * are chained. The word multiplied with the state is
 * keyed (k, odd, secret), so no chosen input can zero the product without
 * knowing the key. Words are loaded in host order: for values compared
 * only within one process (branches, To-tags). No finaliser: pk_mix64 at
 * the end of a chain.
 */
static inline uint64_t pk_hash_keyed(uint64_t k, uint64_t h, const char *p, uint32_t len)
{
	uint32_t n = len;
	uint64_t a, b;

	for (; n > 16; n -= 16, p += 16)
		h = pk_fold64(pk_load8(p) ^ k, pk_load8(p + 8) ^ h);
	pk_words16(p, n, &a, &b);
	return pk_fold64(a ^ k, b ^ h ^ 0x9fb21c651e98df25ull ^ (uint64_t)len * 0x9e3779b97f4a7c15ull);
}

/* ASCII A-Z to a-z in eight bytes at once; other bytes unchanged. */
static inline uint64_t pk_lower8(uint64_t w)
{
	uint64_t h = w & 0x7f7f7f7f7f7f7f7full;
	uint64_t ge_a = h + 0x3f3f3f3f3f3f3f3full; /* top bit: byte >= 'A' */
	uint64_t gt_z = h + 0x2525252525252525ull; /* top bit: byte > 'Z' */

	return w | (((ge_a & ~gt_z & ~w) & 0x8080808080808080ull) >> 2);
}

/* v as eight lowercase hex digits at o, the most significant first;
 * returns the end. All eight at once: each nibble spread to a byte, '0'
 * added, and 'a' - '0' - 10 more where it is above 9 (branches, To-tags
 * and our Via's pkc write them on every message). */
static inline char *pk_put_hex8(char *o, uint32_t v)
{
	uint64_t x = v;

	x = (x | (x << 16)) & 0x0000ffff0000ffffull;
	x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
	x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
	x += 0x3030303030303030ull + (((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull) * 39;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x); /* first digit at the lowest address */
#endif
	memcpy(o, &x, 8);
	return o + 8;
}

/* v as 16 lowercase hex digits at o; returns the end. */
static inline char *pk_put_hex16(char *o, uint64_t v)
{
	return pk_put_hex8(pk_put_hex8(o, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* The decimal digits of v at o (at most 10 bytes, no NUL); returns the
 * end. Written from the end, two digits a step from a table, the digits
 * counted first: Max-Forwards, ports and lengths are 2 to 5 digits, for
 * which a copy through a buffer (or a digit a step) cost more than the
 * digits (the rewriter and the proxy build messages in place with it). */
static inline char *pk_put_u32(char *o, uint32_t v)
{
	static const char d2[201] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	unsigned n = v < 100000u ? (v < 100u ? (v < 10u ? 1 : 2) : v < 1000u ? 3 : v < 10000u ? 4 : 5)
				 : v < 10000000u ? (v < 1000000u ? 6 : 7)
				 : v < 100000000u ? 8 : v < 1000000000u ? 9 : 10;
	char *e = o + n;

	while (v >= 100) {
		uint32_t r = v % 100;

		v /= 100;
		e -= 2;
		memcpy(e, d2 + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(e - 2, d2 + 2 * v, 2);
	else
		e[-1] = (char)('0' + v);
	return o + n;
}

/* The decimal digits of v at o (at most 20 bytes, no NUL); returns the
 * end. pk_put_u32's for the values that fit it (expiries, counts); the
 * larger ones, which no message carries, a digit a step. */
static inline char *pk_put_u64(char *o, uint64_t v)
{
	char t[20];
	unsigned n = 0;

	if (likely(v <= UINT32_MAX))
		return pk_put_u32(o, (uint32_t)v);
	do
		t[sizeof(t) - ++n] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(o, t + sizeof(t) - n, n);
	return o + n;
}

#endif /* PICKUP_COMMON_H */
