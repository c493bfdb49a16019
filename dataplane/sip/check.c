/* SPDX-License-Identifier: MIT */
/*
 * Checks that depend on the role pickupd plays for a request (proxy or
 * UAS) and on where a response is going. The scanner decides whether a
 * message is well formed; these decide whether we can act on it: the
 * Request-URI scheme (416), Max-Forwards (483), option tags we must
 * understand (420), bodies a UAS must understand (415/406), and responses
 * whose next hop is a broadcast or multicast address (dropped).
 */
#include "pickup/sip.h"
#include "scan_chars.h"

static enum pk_sip_verdict reject(struct pk_sip_msg *m, uint16_t status, const char *why)
{
	m->status = status;
	m->why = why;
	return PK_SIP_REJECT;
}

/* Does a media-range list (Accept) admit application/sdp? */
static bool accepts_sdp(struct pk_str list)
{
	const char *p = list.p, *end = list.p + list.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n'))
			p++;
		const char *s = p;
		while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		struct pk_str r = pk_str_make(s, (size_t)(p - s));
		if (pk_str_caseeq_cstr(r, "application/sdp") || pk_str_caseeq_cstr(r, "application/*") ||
		    pk_str_caseeq_cstr(r, "*/*"))
			return true;
		while (p < end && *p != ',')
			p++;
	}
	return false;
}

static bool is_sdp_type(struct pk_str ct)
{
	uint32_t n = 0;
	while (n < ct.len && ct.p[n] != ';' && ct.p[n] != ' ' && ct.p[n] != '\t')
		n++;
	return pk_str_caseeq_cstr(pk_str_make(ct.p, n), "application/sdp");
}

enum pk_sip_verdict pk_sip_check_request(struct pk_sip_msg *m, enum pk_sip_role role,
					 uint32_t supported)
{
	struct pk_sip_uri u;
	if (pk_sip_uri_parse(m->ruri.p, m->ruri.len, &u) < 0)
		return reject(m, 400, "bad Request-URI");
	if (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS && !(role == PK_ROLE_PROXY && u.scheme == PK_URI_TEL))
		return reject(m, 416, "unsupported URI scheme");
	if (role == PK_ROLE_PROXY) {
		if (m->max_forwards == 0)
			return reject(m, 483, "Max-Forwards exhausted");
		if (m->proxy_require & ~supported)
			return reject(m, 420, "unsupported Proxy-Require option");
		return PK_SIP_OK;
	}
	/* UAS: RFC 3261 §8.2.2.3 -- Require only (Proxy-Require is for
	 * proxies, §20.29); ACK and CANCEL never get a 420 */
	if (m->method != PK_SIP_ACK && m->method != PK_SIP_CANCEL && (m->require & ~supported))
		return reject(m, 420, "unsupported Require option");
	if (m->body.len > 0 && m->method != PK_SIP_ACK) {
		if (m->content_type.len == 0 || !is_sdp_type(m->content_type))
			return reject(m, 415, "unsupported media type");
		/* §8.2.3: a content coding we do not understand is a 415 too */
		for (int i = m->first[PK_HDR_CONTENT_ENCODING] == 0xff ? -1 : m->first[PK_HDR_CONTENT_ENCODING];
		     i >= 0; i = pk_sip_hdr_next(m, i))
			if (!pk_str_caseeq_cstr(pk_sip_hdr_value(m, (unsigned)i), "identity"))
				return reject(m, 415, "unsupported content coding");
	}
	for (int i = m->first[PK_HDR_ACCEPT] == 0xff ? -1 : m->first[PK_HDR_ACCEPT]; i >= 0;
	     i = pk_sip_hdr_next(m, i)) {
		/* Several Accept lines form one list; any one admitting SDP is enough */
		if (accepts_sdp(pk_sip_hdr_value(m, (unsigned)i)))
			goto accept_ok;
	}
	if (m->first[PK_HDR_ACCEPT] != 0xff && m->method == PK_SIP_INVITE)
		return reject(m, 406, "no acceptable body type");
accept_ok:
	return PK_SIP_OK;
}

/* Append one list element to out (", " between elements): token bytes as
 * they are, each run of other bytes as one space (an element may hold
 * bytes a header must not carry, e.g. a bare CR), trimmed; "?" for an
 * element without a single token byte. */
static int unsupported_add(char *out, size_t cap, size_t *n, const char *s, const char *e)
{
	size_t start = *n;
	bool gap = false;

	if (*n) {
		if (*n + 3 > cap)
			return -1;
		out[(*n)++] = ',';
		out[(*n)++] = ' ';
	}
	for (const char *p = s; p < e; p++) {
		if (!pk_sip_is_token(*p)) {
			gap = true;
			continue;
		}
		if (gap && *n > start + (start ? 2 : 0)) {
			if (*n + 2 > cap)
				return -1;
			out[(*n)++] = ' ';
		}
		gap = false;
		if (*n + 2 > cap)
			return -1;
		out[(*n)++] = *p;
	}
	if (*n == start + (start ? 2 : 0)) { /* no token byte at all */
		if (*n + 2 > cap)
			return -1;
		out[(*n)++] = '?';
	}
	out[*n] = '\0';
	return 0;
}

/*
 * The elements of Require (UAS) or Proxy-Require (proxy) that make the
 * request get a 420, as pk_sip_options_parse sees them: each
 * comma-separated element that is one known tag we support is left out;
 * an unknown tag is listed, and so is an element that is not a single
 * token ("replaces replaces", or one holding a bare CR), so that a 420
 * always names what it refused.
 */
int pk_sip_unsupported_list(const struct pk_sip_msg *m, enum pk_sip_role role, uint32_t supported,
			    char *out, size_t cap)
{
	size_t n = 0;
	enum pk_sip_hdr_id id = role == PK_ROLE_PROXY ? PK_HDR_PROXY_REQUIRE : PK_HDR_REQUIRE;
	char none[1];
	if (cap == 0) { /* only whether there is anything to list */
		out = none;
		cap = 1;
	}
	out[0] = '\0';
	for (int i = m->first[id] == 0xff ? -1 : m->first[id]; i >= 0; i = pk_sip_hdr_next(m, i)) {
		struct pk_str v = pk_sip_hdr_value(m, (unsigned)i);
		const char *p = v.p, *end = v.p + v.len;
		while (p < end) {
			const char *s = p;
			while (p < end && *p != ',')
				p++;
			struct pk_str el = pk_str_make(s, (size_t)(p - s));
			if (p < end)
				p++; /* the comma */
			if (!(pk_sip_options_parse(el) & ~supported))
				continue;
			if (unsupported_add(out, cap, &n, el.p, el.p + el.len) != 0)
				return -1;
		}
	}
	return (int)n;
}

/* First octet of a dotted-quad IPv4 literal, or -1 when h is not one. */
static int ipv4_first_octet(struct pk_str h)
{
	struct pk_sip_uri u;
	char buf[24] = "sip:";
	if (h.len == 0 || h.len > 15)
		return -1;
	memcpy(buf + 4, h.p, h.len);
	if (pk_sip_uri_parse(buf, 4 + h.len, &u) < 0 || u.host_type != PK_HOST_IPV4)
		return -1;
	int v = 0;
	for (uint32_t i = 0; i < h.len && h.p[i] != '.'; i++)
		v = v * 10 + (h.p[i] - '0');
	return v;
}

static bool broadcast_or_multicast(struct pk_str h)
{
	if (h.len == 15 && memcmp(h.p, "255.255.255.255", 15) == 0)
		return true;
	/* 224.0.0.0/4, only for an IPv4 literal (not a name like 239.pbx.example).
	 * ipv4_first_octet returns -1 or the digits before the first '.' (a
	 * literal has only digits, at most three an octet): its URI parse only
	 * matters when they read 224..239, i.e. the text starts "22d." or
	 * "23d.", so the common host (a unicast address, a name) is let go
	 * after a look at its first bytes. (A first octet written with a
	 * leading zero, "0224.", is no longer taken for one: RFC 3261's
	 * IPv4address has none, and such a value only ever came with an '@'
	 * that the address parse then refuses anyway.) */
	if (h.len >= 7 && h.p[0] == '2' && (h.p[1] == '2' || h.p[1] == '3') && h.p[2] >= '0' &&
	    h.p[2] <= '9' && h.p[3] == '.' && (h.p[1] == '3' || h.p[2] >= '4')) {
		int first = ipv4_first_octet(h);

		if (first >= 224 && first <= 239)
			return true;
	}
	/* IPv6 multicast ff00::/8 */
	if (h.len >= 3 && h.p[0] == '[' && (h.p[1] | 0x20) == 'f' && (h.p[2] | 0x20) == 'f')
		return true;
	return false;
}

/* Can broadcast_or_multicast(h) be true? Each of its answers starts with
 * '2' (255.255.255.255, 224-239.) or '[' (ff00::/8): every forwarded
 * response asks it of two texts that mostly do not, without the call. */
static inline bool may_be_broadcast_or_multicast(struct pk_str h)
{
	return h.len >= 3 && (h.p[0] == '2' || h.p[0] == '[');
}

/* "addr" in any case at p (4 bytes, all inside the span). */
static inline bool is_addr_ci(const char *p)
{
	return (p[0] | 0x20) == 'a' && (p[1] | 0x20) == 'd' && (p[2] | 0x20) == 'd' && (p[3] | 0x20) == 'r';
}

#if defined(__SSE2__)
/* Is there "addr" after one of the positions of mask (bit i: p + i)? */
static bool addr_after(const char *p, unsigned mask)
{
	for (; mask != 0; mask &= mask - 1)
		if (is_addr_ci(p + (unsigned)__builtin_ctz(mask) + 1))
			return true;
	return false;
}
#endif

/*
 * Can pk_sip_param_get(s, "maddr") find anything: does "maddr" appear in
 * s, in any case? Every forwarded response asks it of its second Via,
 * which seldom has an 'm'. One pass over the span for 'm' or 'M' (a byte
 * OR 0x20 is 'm' only for those two), 16 bytes at a time, where two calls
 * of memchr (one per case) cost more than the Via is long. A candidate
 * needs the four bytes after it inside s; the last chunk ends at the end
 * of s (overlapping the one before) rather than reading past it.
 */
static bool may_hold_maddr(struct pk_str s)
{
	const char *p = s.p;
	uint32_t ncand = s.len >= 5 ? s.len - 4 : 0; /* candidate positions [0, ncand) */
	uint32_t i = 0;

#if defined(__SSE2__)
	if (s.len >= 16) {
		const __m128i lower = _mm_set1_epi8(0x20), m = _mm_set1_epi8('m');
		uint32_t at, lo, hi;
		unsigned mask;

		for (; i + 16 <= ncand; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));

			mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(x, lower), m));
			if (unlikely(mask != 0) && addr_after(p + i, mask))
				return true;
		}
		if (i == ncand)
			return false;
		/* the candidates [i, ncand), fewer than 16, in one chunk */
		at = i <= s.len - 16 ? i : s.len - 16;
		lo = i - at;
		hi = ncand - at;
		mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + at)), lower), m));
		mask &= ((1u << hi) - 1) & ~((1u << lo) - 1);
		return mask != 0 && addr_after(p + at, mask);
	}
#endif
	for (; i < ncand; i++)
		if ((p[i] | 0x20) == 'm' && is_addr_ci(p + i + 1))
			return true;
	return false;
}

enum pk_sip_verdict pk_sip_check_response_route(struct pk_sip_msg *m)
{
	if (m->nvia < 2) {
		m->why = "response has no Via to go to";
		return PK_SIP_DROP;
	}
	const struct pk_sip_via *v = &m->via[1];
	struct pk_str maddr;
	if ((may_be_broadcast_or_multicast(v->host) && broadcast_or_multicast(v->host)) ||
	    (may_be_broadcast_or_multicast(v->received) && broadcast_or_multicast(v->received)) ||
	    (may_hold_maddr(v->raw) && pk_sip_param_get(v->raw, "maddr", &maddr) &&
	     broadcast_or_multicast(maddr))) {
		m->why = "response to a broadcast or multicast address";
		return PK_SIP_DROP;
	}
	return PK_SIP_OK;
}
