/* SPDX-License-Identifier: MIT */
/*
 * struct pk_addr and struct pk_cidr: parsing the text forms of the
 * configuration, formatting for logs and the ready file, prefix matching
 * for trusted networks, and the conversions to the socket API.
 *
 * inet_pton/inet_ntop do the address syntax (a dotted quad is read here
 * first, with inet_pton's rules: it is on the packet path, for every Via
 * and Contact host); this file adds the port and bracket rules ("[v6]:port" as in SIP and URLs) and the "no host bits
 * past the prefix" rule for CIDRs. Nothing allocates, nothing blocks; the
 * dotted-quad reader's few tables are filled before main (addr_v4_init)
 * and only read after.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

#include "pickup/addr.h"
#include "../sip/copy.h"

/* Copy a view into a NUL-terminated buffer; false if it does not fit or
 * holds a NUL. */
static bool addr_cstr(struct pk_str s, char *out, size_t cap)
{
	if (s.len == 0 || s.len >= cap || memchr(s.p, '\0', s.len) != NULL)
		return false;
	memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return true;
}

/* An IPv6 literal, optionally with "%scope" (a numeric id or an interface
 * name). */
static int addr_parse_v6(struct pk_str s, struct pk_addr *out)
{
	char buf[PK_ADDR_STRLEN];
	char *pct;

	if (!addr_cstr(s, buf, sizeof(buf)))
		return -EINVAL;
	pct = strchr(buf, '%');
	if (pct != NULL) {
		char *end;
		unsigned long id;

		*pct++ = '\0';
		if (*pct == '\0')
			return -EINVAL;
		id = strtoul(pct, &end, 10);
		if (*end != '\0')
			id = if_nametoindex(pct);
		if (id == 0 || id > UINT32_MAX)
			return -EINVAL;
		out->scope = (uint32_t)id;
	}
	if (inet_pton(AF_INET6, buf, out->ip) != 1)
		return -EINVAL;
	out->family = AF_INET6;
	return 0;
}

/*
 * A dotted quad as inet_pton(AF_INET) reads it: exactly four decimal
 * octets of 0..255 separated by single dots, no leading zero ("01"), no
 * other character. false on anything else (then the caller tries the
 * other forms, which find nothing inet_pton would have accepted).
 */
#if defined(__SSSE3__)
/*
 * With SSSE3, the 16 bytes at once and no loop (every forwarded response
 * and most requests read one). A dotted quad has one of 81 shapes (octets
 * of 1 to 3 digits); its dots and its end, as a bit mask, are the shape's
 * key. A multiplier searched once (offline) sends the 81 keys to distinct
 * slots of 256; each shape has the shuffle that puts its octets' digits,
 * right-aligned, in a lane of four bytes (hundreds, tens, units, nothing),
 * and two multiply-adds make the four values. Any other text either has a
 * key no shape has or fails the digit, leading-zero or 255 checks. The
 * tables are filled before main (addr_v4_init); before that every key
 * misses (no text's key is 0) and every text takes the general reader,
 * which gives the same answers. The scalar reader below does the same
 * work on other machines; both are checked against inet_pton, on their
 * own and through pk_addr_parse_ip, by tests/unit/test_addr.c.
 */
#define ADDR_V4_HASH_M 0xa16632b1u
#define ADDR_V4_SHAPES 81

static uint8_t addr_v4_slot[256];		   /* key's hash: shape + 1, or 0 */
static uint16_t addr_v4_key[ADDR_V4_SHAPES + 1];  /* shape + 1: its key (0: none) */
static uint8_t addr_v4_shuf[ADDR_V4_SHAPES + 1][16] __attribute__((aligned(16)));

/* The vector constants, filled by addr_v4_init like the tables: from
 * memory each is an operand of the instruction that uses it (built in
 * the function, gcc spent three instructions on each). */
static struct {
	uint8_t zero[16], nine[16], dot[16], weights[16], pack[16];
	uint16_t one[8];
	uint32_t max[4];
} addr_v4_c __attribute__((aligned(16)));
#define ADDR_V4_C(f) _mm_load_si128((const __m128i *)(const void *)addr_v4_c.f)

static inline unsigned addr_v4_hash(uint32_t key)
{
	return (key * ADDR_V4_HASH_M) >> 24;
}

__attribute__((constructor)) static void addr_v4_init(void)
{
	memset(addr_v4_c.zero, '0', 16);
	memset(addr_v4_c.nine, 9, 16);
	memset(addr_v4_c.dot, '.', 16);
	memset(addr_v4_c.pack, 0x80, 16);
	for (unsigned i = 0; i < 4; i++) {
		memcpy(addr_v4_c.weights + 4 * i, "\x64\x0a\x01\x00", 4); /* 100, 10, 1, 0 */
		addr_v4_c.pack[i] = (uint8_t)(4 * i);
		addr_v4_c.max[i] = 255;
	}
	for (unsigned i = 0; i < 8; i++)
		addr_v4_c.one[i] = 1;
	for (unsigned s = 0; s < ADDR_V4_SHAPES; s++) {
		const unsigned len[4] = { s / 27 + 1, s / 9 % 3 + 1, s / 3 % 3 + 1, s % 3 + 1 };
		uint8_t *shuf = addr_v4_shuf[s + 1];
		unsigned end = 0, key = 0;

		memset(shuf, 0x80, 16); /* high bit: a zero byte */
		for (unsigned k = 0; k < 4; k++) {
			for (unsigned j = 0; j < len[k]; j++)
				shuf[4 * k + 3 - len[k] + j] = (uint8_t)(end + j);
			end += len[k];
			key |= 1u << end; /* the dot after the octet, or the end */
			end++;
		}
		if (addr_v4_slot[addr_v4_hash(key)] != 0) {
			/* cannot happen with this multiplier: then no key is
			 * known and every text goes to the general reader */
			memset(addr_v4_key, 0, sizeof(addr_v4_key));
			return;
		}
		addr_v4_slot[addr_v4_hash(key)] = (uint8_t)(s + 1);
		addr_v4_key[s + 1] = (uint16_t)key;
	}
}

static bool addr_parse_v4(struct pk_str s, uint8_t ip[4])
{
	/* the text in a zeroed buffer: the bytes past it are neither digit
	 * nor dot */
	unsigned char b[16] = { 0 };
	__m128i v, z, val;
	unsigned mdig, mdot, mzero, key, shape;
	uint32_t out;

	if (s.len < 7 || s.len > 15)
		return false;
	pk_copy_short((char *)b, s.p, s.len);
	v = _mm_loadu_si128((const __m128i *)b);
	z = _mm_sub_epi8(v, ADDR_V4_C(zero));
	mdig = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(z, ADDR_V4_C(nine)), z));
	mdot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ADDR_V4_C(dot)));
	mzero = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ADDR_V4_C(zero)));
	key = mdot | 1u << s.len;
	shape = addr_v4_slot[addr_v4_hash(key)];
	/* every byte of the text a digit or a dot, the dots and the end of a
	 * shape, and no '0' that starts an octet with a digit after it */
	if ((mdig | mdot) != (1u << s.len) - 1 || addr_v4_key[shape] != key ||
	    (mzero & (mdot << 1 | 1) & (mdig >> 1)) != 0)
		return false;
	val = _mm_shuffle_epi8(z, _mm_load_si128((const __m128i *)addr_v4_shuf[shape]));
	val = _mm_madd_epi16(_mm_maddubs_epi16(val, ADDR_V4_C(weights)), ADDR_V4_C(one));
	if (_mm_movemask_epi8(_mm_cmpgt_epi32(val, ADDR_V4_C(max))) != 0)
		return false;
	out = (uint32_t)_mm_cvtsi128_si32(_mm_shuffle_epi8(val, ADDR_V4_C(pack)));
	memcpy(ip, &out, 4);
	return true;
}
#else
static bool addr_parse_v4(struct pk_str s, uint8_t ip[4])
{
	/* The text in a zeroed buffer: the NUL after it stops every digit
	 * and dot test, so that no byte needs a test of the end (every
	 * forwarded response reads one). */
	unsigned char b[16] = { 0 };
	const unsigned char *p = b;

	if (s.len < 7 || s.len > 15)
		return false;
	pk_copy_short((char *)b, s.p, s.len);
	for (int k = 0; k < 4; k++) {
		unsigned d, v;

		if ((v = (unsigned)*p - '0') > 9)
			return false;
		p++;
		/* a first digit 0 is the whole octet: "01" fails at the '.' test */
		if (v != 0 && (d = (unsigned)*p - '0') <= 9) {
			v = v * 10 + d;
			p++;
			if ((d = (unsigned)*p - '0') <= 9) {
				v = v * 10 + d;
				p++;
				if (v > 255)
					return false;
			}
		}
		ip[k] = (uint8_t)v;
		if (k < 3) {
			if (*p != '.')
				return false;
			p++;
		}
	}
	return p == b + s.len;
}
#endif

/* pk_addr_parse_ip past a dotted quad: IPv6, and what inet_pton reads
 * that addr_parse_v4 does not. Out of line, so that the dotted quad every
 * forwarded response parses needs no stack buffer. */
static __attribute__((noinline)) int addr_parse_other(struct pk_str text, struct pk_addr *out)
{
	char buf[PK_ADDR_STRLEN];

	memset(out, 0, sizeof(*out));
	if (text.len >= 2 && text.p[0] == '[') {
		if (text.p[text.len - 1] != ']')
			return -EINVAL;
		return addr_parse_v6(pk_str_make(text.p + 1, text.len - 2), out);
	}
	if (memchr(text.p, ':', text.len) != NULL)
		return addr_parse_v6(text, out);
	if (!addr_cstr(text, buf, sizeof(buf)) || inet_pton(AF_INET, buf, out->ip) != 1)
		return -EINVAL;
	out->family = AF_INET;
	return 0;
}

#ifdef PK_ADDR_TEST_HOOK
/* tests/unit/test_addr.c (built with addr.c and this macro): the
 * dotted-quad reader alone. Through pk_addr_parse_ip, the general reader
 * behind it would hide a fast reader that turns a valid quad down. */
bool pk_addr_parse_v4_test(struct pk_str s, uint8_t ip[4]);
bool pk_addr_parse_v4_test(struct pk_str s, uint8_t ip[4])
{
	return addr_parse_v4(s, ip);
}
#endif

int pk_addr_parse_ip(struct pk_str text, struct pk_addr *out)
{
	uint8_t ip[4];

	if (addr_parse_v4(text, ip)) {
		*out = (struct pk_addr){ .family = AF_INET };
		memcpy(out->ip, ip, 4);
		return 0;
	}
	return addr_parse_other(text, out);
}

static int addr_parse_port(struct pk_str s, uint16_t *port)
{
	uint32_t v = 0;

	if (s.len == 0 || s.len > 5)
		return -EINVAL;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(s.p[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int pk_addr_parse(struct pk_str text, bool port_opt, struct pk_addr *out)
{
	const char *end = text.p + text.len, *colon = NULL;
	struct pk_str host = text;
	uint16_t port = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (text.len == 0)
		return -EINVAL;
	if (text.p[0] == '[') {
		/* "[v6]" or "[v6]:port" */
		const char *rb = memchr(text.p, ']', text.len);

		if (rb == NULL || (rb + 1 < end && rb[1] != ':'))
			return -EINVAL;
		host = pk_str_make(text.p, (size_t)(rb - text.p) + 1);
		colon = rb + 1 < end ? rb + 1 : NULL;
	} else {
		const char *c1 = memchr(text.p, ':', text.len);

		/* One colon: "v4:port". Several: a bare IPv6 address, which
		 * cannot carry a port without brackets. */
		if (c1 != NULL && memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) == NULL) {
			colon = c1;
			host = pk_str_make(text.p, (size_t)(c1 - text.p));
		}
	}
	if (colon != NULL) {
		if (addr_parse_port(pk_str_make(colon + 1, (size_t)(end - colon - 1)), &port) != 0)
			return -EINVAL;
	} else if (!port_opt) {
		return -EINVAL;
	}
	rc = pk_addr_parse_ip(host, out);
	if (rc != 0)
		return rc;
	out->port = port;
	return 0;
}

static bool addr_bits_zero_past(const uint8_t *ip, unsigned nbytes, unsigned prefix)
{
	for (unsigned bit = prefix; bit < nbytes * 8; bit++)
		if (ip[bit / 8] & (0x80u >> (bit % 8)))
			return false;
	return true;
}

int pk_cidr_parse(struct pk_str text, struct pk_cidr *out)
{
	const char *slash = memchr(text.p, '/', text.len);
	struct pk_str ip = slash ? pk_str_make(text.p, (size_t)(slash - text.p)) : text;
	unsigned max, prefix = 0;

	memset(out, 0, sizeof(*out));
	if (text.len == 0 || pk_addr_parse_ip(ip, &out->net) != 0 || out->net.scope != 0)
		return -EINVAL;
	max = out->net.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1, *end = text.p + text.len;

		if (p == end || end - p > 3)
			return -EINVAL;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return -EINVAL;
	}
	if (!addr_bits_zero_past(out->net.ip, max / 8, prefix))
		return -EINVAL;
	out->prefix = (uint8_t)prefix;
	return 0;
}

int pk_addr_format(const struct pk_addr *a, bool with_port, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int n;

	if (cap == 0)
		return 0;
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family, a->ip, ip, sizeof(ip));
	if (a->family == AF_INET6) {
		char scope[16] = "";

		if (a->scope != 0)
			snprintf(scope, sizeof(scope), "%%%u", a->scope);
		n = with_port ? snprintf(out, cap, "[%s%s]:%u", ip, scope, a->port)
			      : snprintf(out, cap, "%s%s", ip, scope);
	} else {
		n = with_port ? snprintf(out, cap, "%s:%u", ip, a->port) : snprintf(out, cap, "%s", ip);
	}
	if (n < 0)
		n = 0;
	return (size_t)n >= cap ? (int)cap - 1 : n;
}

bool pk_addr_is_any(const struct pk_addr *a)
{
	static const uint8_t zero[16];

	return (a->family == AF_INET || a->family == AF_INET6) && memcmp(a->ip, zero, 16) == 0;
}

bool pk_cidr_match(const struct pk_cidr *c, const struct pk_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->net.family != a->family)
		return false;
	if (memcmp(c->net.ip, a->ip, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));

	return (a->ip[full] & mask) == c->net.ip[full];
}

socklen_t pk_addr_to_sockaddr(const struct pk_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->ip, 4);
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		s6->sin6_scope_id = a->scope;
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof(*s6);
	}
	return 0;
}

int pk_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct pk_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		out->family = AF_INET;
		out->port = ntohs(s4->sin_port);
		memcpy(out->ip, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		out->port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			out->family = AF_INET;
			memcpy(out->ip, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			out->scope = s6->sin6_scope_id;
			memcpy(out->ip, &s6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

const char *pk_transport_name(enum pk_transport t)
{
	static const char *const names[] = {
#define PK_TRANSPORT_NAME(id, name, via) name,
		PK_TRANSPORT_FOREACH(PK_TRANSPORT_NAME)
#undef PK_TRANSPORT_NAME
	};

	return (unsigned)t < PK_TRANSPORT_COUNT ? names[t] : "?";
}

const char *pk_transport_via(enum pk_transport t)
{
	static const char *const names[] = {
#define PK_TRANSPORT_VIA(id, name, via) via,
		PK_TRANSPORT_FOREACH(PK_TRANSPORT_VIA)
#undef PK_TRANSPORT_VIA
	};

	return (unsigned)t < PK_TRANSPORT_COUNT ? names[t] : "?";
}
