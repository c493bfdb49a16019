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
 * sip:host[:port][;params], in one pass with no memset: the user part's
 * loop stops at the '@' (no user-class character is an '@', so that is the
 * first one, as the general parse's memchr finds it); where it stops
 * elsewhere, the rest must hold no '@' for the URI to have no user part.
 * Anything else -- a password, an IPv6 reference, headers, sips:, a bad
 * port -- returns 1 before anything is decided, and the general parse
 * below starts over: so every URI gets exactly the result of the general
 * parse.
 */
static int uri_parse_common(const char *p, size_t len, struct pk_sip_uri *u)
{
	const char *end = p + len, *s = p + 4, *q = s, *hs, *ps;
	unsigned port = 0;

	/* "sip:" in any case: the three letters or'ed with 0x20 (':' has the
	 * bit already), one load */
	if (len < 5 || (pk_load4(p) | pk_load4("\x20\x20\x20\x00")) != pk_load4("sip:"))
		return 1;
	while (q < end && pk_sip_is_user(*q))
		q++;
	if (q < end && *q == '@') {
		if (q == s)
			return 1;
		u->user = pk_str_make(s, (size_t)(q - s));
		hs = ++q;
	} else {
		/* no '@' up to q: none at all (sip:host...), or the general
		 * parse (an '@' further on makes what precedes it the user
		 * part, as its memchr finds it). A safety net: the host, port
		 * and parameter loops below stop at an '@' as well. */
		if (q < end && memchr(q, '@', (size_t)(end - q)) != NULL)
			return 1;
		u->user = PK_STR_NULL;
		hs = q = s;
	}
	while (q < end && pk_sip_is_host(*q))
		q++;
	if (q == hs)
		return 1;
	u->host = pk_str_make(hs, (size_t)(q - hs));
	u->host_type = (*hs >= '0' && *hs <= '9' && is_ipv4(u->host)) ? PK_HOST_IPV4 : PK_HOST_NAME;
	u->port = 0;
	if (q < end && *q == ':') {
		ps = ++q;
		while (q < end && *q >= '0' && *q <= '9' && port <= 65535)
			port = port * 10 + (unsigned)(*q++ - '0');
		if (q == ps || port == 0 || port > 65535)
			return 1;
		u->port = (uint16_t)port;
	}
	u->params = PK_STR_NULL;
	if (q < end) {
		if (*q != ';')
			return 1;
		ps = q;
		for (; q < end; q++)
			if (*q != ';' && *q != '=' && !pk_sip_is_uriparam(*q))
				return 1; /* '?' (headers) or a bad character */
		u->params = pk_str_make(ps, (size_t)(q - ps));
	}
	u->scheme = PK_URI_SIP;
	u->scheme_tok = pk_str_make(p, 3);
	u->password = u->headers = PK_STR_NULL;
	pull_params(u);
	return 0;
}

int pk_sip_uri_parse(const char *p, size_t len, struct pk_sip_uri *u)
{
	if (uri_parse_common(p, len, u) == 0)
		return 0;
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
	 * case: one compare, then the byte-wise caseless one if that fails */
	if (a.len != b.len)
		return false;
	if (a.len == 0 || memcmp(a.p, b.p, a.len) == 0)
		return true;
	return pk_str_caseeq(a, b);
}
