/* SPDX-License-Identifier: MIT */
/*
 * Scanner and libosip2 results as comparable JSON records (see sipref.h).
 *
 * Both record builders produce the same keys; each value goes through the
 * same normalising helper on both sides, so a difference in the diff is a
 * difference in what the parsers understood, not in how they store it.
 * The normalisations (documented in docs/sipdump.md):
 *  - names (URI schemes, parameter names, header names) lowercased; hosts
 *    lowercased with IPv6 brackets removed (RFC 3261 §19.1.4 compares them
 *    case-insensitively; libosip2 drops the brackets);
 *  - URI user, password, parameter and header values %HH-unescaped
 *    (libosip2 stores them unescaped; §19.1.4 makes them equivalent);
 *  - LWS trimmed around tokens, runs of LWS inside an unquoted display
 *    name made one SP; quoted display names kept with their quotes, as
 *    both parsers store them;
 *  - a parameter with an empty value is written as the bare name;
 *  - numbers compared as numbers; a value that is not a number is kept as
 *    the string so the diff shows it;
 *  - arrays cut at the scanner's fixed capacities (PK_SIP_MAX_VIA...), the
 *    full counts compared separately.
 * libosip2 leaves Max-Forwards, Expires, Supported, Require,
 * Proxy-Require and Replaces as generic headers; they are found here by
 * the names (full and compact) of the PK_SIP_FOREACH_HDR table and parsed
 * with the small independent helpers below, not with the scanner's code.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "pickup/sip_slow.h"
#include "pickup/sipref.h"

/* --- JSON values from bytes ----------------------------------------- */

/* A JSON string of any bytes: jansson wants UTF-8, so when the bytes are
 * not, each byte >= 0x80 is written as the four characters "\xHH". */
static json_t *jstrn(const char *p, size_t len)
{
	json_t *j = json_stringn(p ? p : "", len);
	if (j)
		return j;
	char *e = malloc(len * 4 + 1);
	if (!e)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80)
			e[o++] = (char)c;
		else
			o += (size_t)snprintf(e + o, 5, "\\x%02X", c);
	}
	j = json_stringn(e, o);
	free(e);
	return j;
}

static json_t *jview(struct pk_str s)
{
	return jstrn(s.p, s.len);
}

/* empty view → null */
static json_t *jview_opt(struct pk_str s)
{
	return s.len ? jview(s) : json_null();
}

static json_t *jcstr_opt(const char *s)
{
	return s && *s ? jstrn(s, strlen(s)) : json_null();
}

/* json_object_set_new that tolerates a NULL value (out of memory shows as
 * a missing key rather than a crash). */
static void put(json_t *o, const char *key, json_t *v)
{
	if (v)
		json_object_set_new(o, key, v);
}

/* --- text normalisation, shared by both sides ------------------------ */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct pk_str trim(const char *p, size_t len)
{
	while (len && is_lws(*p))
		p++, len--;
	while (len && is_lws(p[len - 1]))
		len--;
	return pk_str_make(p, len);
}

static json_t *jlower(const char *p, size_t len)
{
	char *b = malloc(len + 1);
	if (!b)
		return NULL;
	for (size_t i = 0; i < len; i++)
		b[i] = (char)tolower((unsigned char)p[i]);
	json_t *j = jstrn(b, len);
	free(b);
	return j;
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* %HH → byte; a '%' not followed by two hex digits stays as written. */
static json_t *junescape(const char *p, size_t len)
{
	char *b = malloc(len + 1);
	if (!b)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int h, l;
		if (p[i] == '%' && i + 2 < len && (h = hexdig(p[i + 1])) >= 0 &&
		    (l = hexdig(p[i + 2])) >= 0) {
			b[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			b[o++] = p[i];
		}
	}
	json_t *j = jstrn(b, o);
	free(b);
	return j;
}

static json_t *junescape_opt(const char *p, size_t len)
{
	return len ? junescape(p, len) : json_null();
}

/* Host: lowercase, IPv6 reference without its brackets. */
static json_t *jhost(const char *p, size_t len)
{
	struct pk_str h = trim(p, len);
	if (h.len >= 2 && h.p[0] == '[' && h.p[h.len - 1] == ']')
		h = pk_str_make(h.p + 1, h.len - 2);
	return h.len ? jlower(h.p, h.len) : json_null();
}

/* Display name: trimmed; unquoted ones with LWS runs made one SP. */
static json_t *jdisplay(const char *p, size_t len)
{
	struct pk_str d = trim(p, len);
	if (d.len == 0)
		return json_null();
	if (d.p[0] == '"')
		return jview(d);
	char *b = malloc(d.len + 1);
	if (!b)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < d.len; i++) {
		if (is_lws(d.p[i])) {
			if (o && b[o - 1] != ' ')
				b[o++] = ' ';
		} else {
			b[o++] = d.p[i];
		}
	}
	json_t *j = jstrn(b, o);
	free(b);
	return j;
}

/* "name" or "name=value": name lowercased; for URIs name and value are
 * %HH-unescaped first (libosip2 unescapes both). */
static json_t *jparam(const char *name, size_t nlen, const char *val, size_t vlen, bool uri)
{
	struct pk_str n = trim(name, nlen), v = trim(val ? val : "", val ? vlen : 0);
	json_t *un = uri ? junescape(n.p, n.len) : NULL;
	json_t *uv = uri && v.len ? junescape(v.p, v.len) : NULL;
	if (un)
		n = pk_str_make(json_string_value(un), json_string_length(un));
	if (uv)
		v = pk_str_make(json_string_value(uv), json_string_length(uv));
	char *b = malloc(n.len + v.len + 2);
	json_t *j = NULL;
	if (b) {
		for (size_t i = 0; i < n.len; i++)
			b[i] = (char)tolower((unsigned char)n.p[i]);
		size_t o = n.len;
		if (v.len) {
			b[o++] = '=';
			memcpy(b + o, v.p, v.len);
			o += v.len;
		}
		j = jstrn(b, o);
		free(b);
	}
	json_decref(un);
	json_decref(uv);
	return j;
}

/*
 * Split ";a=b;c" (or "a=b&c" with sep '&') into normalised params.
 * Quoted strings may hold the separator (Reason's text="a;b").
 */
static json_t *jparams_split(const char *p, size_t len, char sep, bool uri)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	size_t i = 0;
	while (i < len) {
		size_t s = i, eq = SIZE_MAX;
		bool q = false;
		for (; i < len; i++) {
			char c = p[i];
			if (q) {
				if (c == '\\' && i + 1 < len)
					i++;
				else if (c == '"')
					q = false;
			} else if (c == '"') {
				q = true;
			} else if (c == sep) {
				break;
			} else if (c == '=' && eq == SIZE_MAX) {
				eq = i;
			}
		}
		size_t e = i++;
		struct pk_str whole = trim(p + s, e - s);
		if (whole.len == 0)
			continue;
		if (eq == SIZE_MAX)
			json_array_append_new(a, jparam(p + s, e - s, NULL, 0, uri));
		else
			json_array_append_new(a, jparam(p + s, eq - s, p + eq + 1, e - eq - 1, uri));
	}
	return a;
}

static json_t *jparams_osip(const osip_list_t *l)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	for (int i = 0; !osip_list_eol(l, i); i++) {
		const osip_generic_param_t *g = osip_list_get(l, i);
		const char *n = g->gname ? g->gname : "";
		/* libosip2 already unescaped URI values: no second pass. */
		json_array_append_new(a, jparam(n, strlen(n), g->gvalue, g->gvalue ? strlen(g->gvalue) : 0,
						false));
	}
	return a;
}

static const char *osip_param(const osip_list_t *l, const char *name, bool *found)
{
	*found = false;
	for (int i = 0; !osip_list_eol(l, i); i++) {
		const osip_generic_param_t *g = osip_list_get(l, i);
		if (g->gname && strcasecmp(g->gname, name) == 0) {
			*found = true;
			return g->gvalue;
		}
	}
	return NULL;
}

/* A decimal number, or the text itself (so a diff shows it), or null. */
static json_t *jnumber_text(const char *p, size_t len)
{
	struct pk_str t = trim(p ? p : "", p ? len : 0);
	if (t.len == 0)
		return json_null();
	long long v = 0;
	for (uint32_t i = 0; i < t.len; i++) {
		if (t.p[i] < '0' || t.p[i] > '9' || v > (LLONG_MAX - 9) / 10)
			return jview(t);
		v = v * 10 + (t.p[i] - '0');
	}
	return json_integer(v);
}

static json_t *jint_opt(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* --- option tags ------------------------------------------------------ */

static const char *const option_names[PK_SIP_OPT_COUNT] = {
#define PK_O_NAME(id, s) [PK_SIP_OPT_##id] = s,
	PK_SIP_FOREACH_OPTION(PK_O_NAME)
#undef PK_O_NAME
};

/* Split a comma list, appending trimmed non-empty tokens to tags. */
static void tags_append(json_t *tags, const char *p, size_t len)
{
	size_t i = 0;
	while (i <= len) {
		size_t s = i;
		while (i < len && p[i] != ',')
			i++;
		struct pk_str t = trim(p + s, i - s);
		if (t.len)
			json_array_append_new(tags, jview(t));
		i++;
	}
}

/* {"tags": [...], "known": [...], "unknown": bool} from a mask. */
static json_t *joptions(json_t *tags, uint32_t mask)
{
	json_t *o = json_object(), *known = json_array();
	if (!o || !known) {
		json_decref(o);
		json_decref(known);
		json_decref(tags);
		return NULL;
	}
	for (unsigned i = 0; i < PK_SIP_OPT_COUNT; i++)
		if (mask & (1u << i))
			json_array_append_new(known, json_string(option_names[i]));
	put(o, "tags", tags);
	put(o, "known", known);
	put(o, "unknown", json_boolean(mask & PK_SIP_OPT_UNKNOWN));
	return o;
}

/* The reference mask of a tag list: option tags compared ignoring case,
 * as the scanner documents. */
static uint32_t tags_mask(const json_t *tags)
{
	uint32_t mask = 0;
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		unsigned o;
		for (o = 0; o < PK_SIP_OPT_COUNT; o++)
			if (strcasecmp(json_string_value(t), option_names[o]) == 0)
				break;
		mask |= o < PK_SIP_OPT_COUNT ? 1u << o : PK_SIP_OPT_UNKNOWN;
	}
	return mask;
}

/* --- verdicts --------------------------------------------------------- */

const char *pk_sipref_verdict_name(enum pk_sip_verdict v)
{
	switch (v) {
	case PK_SIP_OK:
		return "ok";
	case PK_SIP_REJECT:
		return "reject";
	case PK_SIP_DROP:
		return "drop";
	case PK_SIP_SLOW:
		return "slow";
	}
	return "?";
}

/* --- the scanner's record -------------------------------------------- */

static json_t *scan_uri(struct pk_str raw, unsigned flags)
{
	struct pk_sip_uri u;
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool norm = flags & PK_SIPREF_NORM;
	if (pk_sip_uri_parse(raw.p, raw.len, &u) < 0) {
		put(o, "invalid", jview(raw));
		return o;
	}
	if (!norm)
		put(o, "raw", jview(raw));
	put(o, "scheme", norm ? jlower(u.scheme_tok.p, u.scheme_tok.len) : jview(u.scheme_tok));
	if (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS) {
		/* tel and other schemes: libosip2 keeps them opaque */
		size_t sl = u.scheme_tok.len + 1;
		if (norm) {
			put(o, "opaque", jstrn(raw.p + sl, raw.len - sl));
			return o;
		}
		if (u.scheme == PK_URI_TEL) {
			put(o, "number", jview(u.user));
			put(o, "params", jview_opt(u.params));
		}
		return o;
	}
	if (norm) {
		put(o, "user", junescape_opt(u.user.p, u.user.len));
		put(o, "password", junescape_opt(u.password.p, u.password.len));
		put(o, "host", jhost(u.host.p, u.host.len));
		put(o, "port", json_integer(u.port));
		put(o, "params", jparams_split(u.params.p, u.params.len, ';', true));
		put(o, "headers", jparams_split(u.headers.p, u.headers.len, '&', true));
		return o;
	}
	static const char *const htype[] = { "name", "ipv4", "ipv6" };
	put(o, "user", jview_opt(u.user));
	put(o, "password", jview_opt(u.password));
	put(o, "host", jview(u.host));
	put(o, "host_type", json_string(htype[u.host_type]));
	put(o, "port", u.port ? json_integer(u.port) : json_null());
	put(o, "params", jview_opt(u.params));
	put(o, "headers", jview_opt(u.headers));
	put(o, "transport", jview_opt(u.transport));
	put(o, "maddr", jview_opt(u.maddr));
	put(o, "user_param", jview_opt(u.user_param));
	put(o, "lr", json_boolean(u.lr));
	return o;
}

/* Which header an address came from: From/To have a tag, Contact an
 * expires parameter, Route/Record-Route neither. */
enum addr_kind { ADDR_FROM_TO, ADDR_CONTACT, ADDR_ROUTE };

static json_t *scan_addr(const struct pk_sip_addr *a, unsigned flags, enum addr_kind kind)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool norm = flags & PK_SIPREF_NORM;
	if (!norm)
		put(o, "raw", jview(a->raw));
	put(o, "display", norm ? jdisplay(a->display.p, a->display.len) : jview_opt(a->display));
	put(o, "uri", scan_uri(a->uri, flags));
	if (kind == ADDR_FROM_TO)
		put(o, "tag", jview_opt(a->tag));
	if (kind == ADDR_CONTACT)
		put(o, "expires", jint_opt(a->expires));
	put(o, "params", norm ? jparams_split(a->params.p, a->params.len, ';', false) : jview_opt(a->params));
	return o;
}

static json_t *scan_addrs(const struct pk_sip_addr *a, unsigned n, unsigned cap, unsigned flags,
			  enum addr_kind kind)
{
	json_t *arr = json_array();
	for (unsigned i = 0; arr && i < n && i < cap; i++)
		json_array_append_new(arr, scan_addr(&a[i], flags, kind));
	return arr;
}

/* Via params: the raw via-parm from its first ';' (sent-by has none). */
static struct pk_str via_params(struct pk_str raw)
{
	const char *s = memchr(raw.p, ';', raw.len);
	return s ? pk_str_make(s, raw.len - (size_t)(s - raw.p)) : PK_STR_NULL;
}

static json_t *scan_via(const struct pk_sip_via *v, unsigned flags)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool norm = flags & PK_SIPREF_NORM;
	if (!norm)
		put(o, "raw", jview(v->raw));
	if (norm) {
		char t[32];
		size_t n = v->transport.len < sizeof(t) ? v->transport.len : sizeof(t) - 1;
		for (size_t i = 0; i < n; i++)
			t[i] = (char)toupper((unsigned char)v->transport.p[i]);
		put(o, "transport", jstrn(t, n));
		put(o, "host", jhost(v->host.p, v->host.len));
		put(o, "port", json_integer(v->port));
	} else {
		put(o, "transport", jview(v->transport));
		put(o, "host", jview(v->host));
		put(o, "port", v->port ? json_integer(v->port) : json_null());
	}
	put(o, "branch", jview_opt(v->branch));
	put(o, "rport", v->rport < 0 ? json_null() : json_integer(v->rport));
	put(o, "received", jview_opt(v->received));
	if (norm) {
		struct pk_str ps = via_params(v->raw);
		put(o, "params", jparams_split(ps.p, ps.len, ';', false));
	}
	return o;
}

static json_t *scan_options(const struct pk_sip_msg *m, enum pk_sip_hdr_id id, uint32_t mask)
{
	json_t *tags = json_array();
	if (!tags)
		return NULL;
	for (unsigned i = 0; i < m->nhdrs; i++) {
		if (m->hdrs[i].id != id)
			continue;
		struct pk_str v = pk_sip_hdr_value(m, i);
		tags_append(tags, v.p, v.len);
	}
	return joptions(tags, mask);
}

/* Content-Type as {"type": "a/b", "params": [...]}: the media type
 * lowercased with LWS around '/' removed. */
static json_t *jctype(const char *type, size_t tlen, const char *sub, size_t slen, json_t *params)
{
	struct pk_str t = trim(type, tlen), s = trim(sub, slen);
	char *b = malloc(t.len + s.len + 2);
	json_t *o = json_object();
	if (!b || !o) {
		free(b);
		json_decref(o);
		json_decref(params);
		return NULL;
	}
	memcpy(b, t.p, t.len);
	b[t.len] = '/';
	memcpy(b + t.len + 1, s.p, s.len);
	put(o, "type", jlower(b, t.len + s.len + 1));
	put(o, "params", params);
	free(b);
	return o;
}

static json_t *scan_ctype(struct pk_str ct, unsigned flags)
{
	if (ct.len == 0)
		return json_null();
	if (!(flags & PK_SIPREF_NORM))
		return jview(ct);
	const char *semi = memchr(ct.p, ';', ct.len);
	size_t mlen = semi ? (size_t)(semi - ct.p) : ct.len;
	const char *slash = memchr(ct.p, '/', mlen);
	if (!slash)
		return jview(ct);
	json_t *params = semi ? jparams_split(semi, ct.len - mlen, ';', false) : json_array();
	return jctype(ct.p, (size_t)(slash - ct.p), slash + 1, mlen - (size_t)(slash + 1 - ct.p), params);
}

static json_t *jreplaces(json_t *call_id, json_t *to_tag, json_t *from_tag, bool early)
{
	json_t *o = json_object();
	if (!o) {
		json_decref(call_id);
		json_decref(to_tag);
		json_decref(from_tag);
		return NULL;
	}
	put(o, "call_id", call_id);
	put(o, "to_tag", to_tag);
	put(o, "from_tag", from_tag);
	put(o, "early_only", json_boolean(early));
	return o;
}

json_t *pk_sipref_from_msg(const struct pk_sip_msg *m, unsigned flags)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool norm = flags & PK_SIPREF_NORM;
	if (m->is_request) {
		put(o, "type", json_string("request"));
		put(o, "method", jview(m->method_tok));
		put(o, "ruri", scan_uri(m->ruri, flags));
	} else {
		put(o, "type", json_string("response"));
		put(o, "code", json_integer(m->code));
		put(o, "reason", jview(m->reason));
	}
	put(o, "via_count", json_integer(m->nvia));
	json_t *vias = json_array();
	for (unsigned i = 0; vias && i < m->nvia && i < PK_SIP_MAX_VIA; i++)
		json_array_append_new(vias, scan_via(&m->via[i], flags));
	put(o, "via", vias);
	put(o, "from", scan_addr(&m->from, flags, ADDR_FROM_TO));
	put(o, "to", scan_addr(&m->to, flags, ADDR_FROM_TO));
	put(o, "call_id", jview(m->call_id));
	json_t *cseq = json_object();
	if (cseq) {
		put(cseq, "num", json_integer(m->cseq));
		put(cseq, "method", jview(m->cseq_method_tok));
	}
	put(o, "cseq", cseq);
	put(o, "contact_star", json_boolean(m->contact_star));
	put(o, "contact_count", json_integer(m->ncontact));
	put(o, "contact", scan_addrs(m->contact, m->ncontact, PK_SIP_MAX_CONTACT, flags, ADDR_CONTACT));
	put(o, "route_count", json_integer(m->nroute));
	put(o, "route", scan_addrs(m->route, m->nroute, PK_SIP_MAX_ROUTE, flags, ADDR_ROUTE));
	put(o, "record_route_count", json_integer(m->nrr));
	put(o, "record_route", scan_addrs(m->rr, m->nrr, PK_SIP_MAX_ROUTE, flags, ADDR_ROUTE));
	put(o, "max_forwards", jint_opt(m->max_forwards));
	/* libosip2 fills in Content-Length from the body when the header is
	 * absent (RFC 2543 style, UDP): normalised, so does the scanner side. */
	put(o, "content_length", norm && m->content_length < 0 ? json_integer(m->body.len)
							      : jint_opt(m->content_length));
	put(o, "content_type", scan_ctype(m->content_type, flags));
	put(o, "supported", scan_options(m, PK_HDR_SUPPORTED, m->supported));
	put(o, "require", scan_options(m, PK_HDR_REQUIRE, m->require));
	put(o, "proxy_require", scan_options(m, PK_HDR_PROXY_REQUIRE, m->proxy_require));
	if (m->has_replaces)
		put(o, "replaces", jreplaces(jview(m->replaces.call_id), jview_opt(m->replaces.to_tag),
					     jview_opt(m->replaces.from_tag), m->replaces.early_only));
	else
		put(o, "replaces", json_null());
	put(o, "expires", jint_opt(m->expires));
	put(o, "body_length", json_integer(m->body.len));
	return o;
}

/* --- libosip2's record ------------------------------------------------ */

static json_t *osip_uri_rec(const osip_uri_t *u)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (!u || !u->scheme) {
		put(o, "invalid", json_string(""));
		return o;
	}
	put(o, "scheme", jlower(u->scheme, strlen(u->scheme)));
	if (strcasecmp(u->scheme, "sip") != 0 && strcasecmp(u->scheme, "sips") != 0) {
		put(o, "opaque", jstrn(u->string, u->string ? strlen(u->string) : 0));
		return o;
	}
	put(o, "user", jcstr_opt(u->username));
	put(o, "password", jcstr_opt(u->password));
	put(o, "host", u->host ? jhost(u->host, strlen(u->host)) : json_null());
	put(o, "port", u->port ? jnumber_text(u->port, strlen(u->port)) : json_integer(0));
	put(o, "params", jparams_osip(&u->url_params));
	put(o, "headers", jparams_osip(&u->url_headers));
	return o;
}

static json_t *osip_addr_rec(const osip_from_t *a, enum addr_kind kind)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool found;
	const char *d = a->displayname;
	put(o, "display", d ? jdisplay(d, strlen(d)) : json_null());
	put(o, "uri", osip_uri_rec(a->url));
	if (kind == ADDR_FROM_TO)
		put(o, "tag", jcstr_opt(osip_param(&a->gen_params, "tag", &found)));
	if (kind == ADDR_CONTACT) {
		const char *e = osip_param(&a->gen_params, "expires", &found);
		put(o, "expires", found && e ? jnumber_text(e, strlen(e)) : json_null());
	}
	put(o, "params", jparams_osip(&a->gen_params));
	return o;
}

static json_t *osip_addrs(const osip_list_t *l, unsigned cap, enum addr_kind kind)
{
	json_t *arr = json_array();
	for (int i = 0; arr && !osip_list_eol(l, i) && (unsigned)i < cap; i++)
		json_array_append_new(arr, osip_addr_rec(osip_list_get(l, i), kind));
	return arr;
}

static json_t *osip_via_rec(const osip_via_t *v)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	bool found;
	const char *p = v->protocol ? v->protocol : "";
	char t[32];
	size_t n = strlen(p) < sizeof(t) ? strlen(p) : sizeof(t) - 1;
	for (size_t i = 0; i < n; i++)
		t[i] = (char)toupper((unsigned char)p[i]);
	put(o, "transport", jstrn(t, n));
	put(o, "host", v->host ? jhost(v->host, strlen(v->host)) : json_null());
	put(o, "port", v->port ? jnumber_text(v->port, strlen(v->port)) : json_integer(0));
	const char *b = osip_param(&v->via_params, "branch", &found);
	put(o, "branch", jcstr_opt(b));
	const char *rp = osip_param(&v->via_params, "rport", &found);
	put(o, "rport", !found ? json_null() : rp && *rp ? jnumber_text(rp, strlen(rp)) : json_integer(0));
	const char *rc = osip_param(&v->via_params, "received", &found);
	put(o, "received", jcstr_opt(rc));
	put(o, "params", jparams_osip(&v->via_params));
	return o;
}

/* Header names as the scanner's table has them (full and compact). */
static const struct {
	const char *name;
	char compact;
} hdr_names[PK_HDR_COUNT] = {
	[PK_HDR_OTHER] = { "", 0 },
#define PK_H_NAME(id, n, c, s) [PK_HDR_##id] = { n, c },
	PK_SIP_FOREACH_HDR(PK_H_NAME)
#undef PK_H_NAME
};

static bool osip_hdr_is(const osip_header_t *h, enum pk_sip_hdr_id id)
{
	if (!h->hname)
		return false;
	if (strcasecmp(h->hname, hdr_names[id].name) == 0)
		return true;
	return hdr_names[id].compact && h->hname[0] &&
	       tolower((unsigned char)h->hname[0]) == hdr_names[id].compact && h->hname[1] == 0;
}

static const char *osip_generic(const osip_message_t *om, enum pk_sip_hdr_id id)
{
	for (int i = 0; !osip_list_eol(&om->headers, i); i++) {
		const osip_header_t *h = osip_list_get(&om->headers, i);
		if (osip_hdr_is(h, id))
			return h->hvalue ? h->hvalue : "";
	}
	return NULL;
}

static json_t *osip_generic_num(const osip_message_t *om, enum pk_sip_hdr_id id)
{
	const char *v = osip_generic(om, id);
	return v ? jnumber_text(v, strlen(v)) : json_null();
}

static json_t *osip_options(const osip_message_t *om, enum pk_sip_hdr_id id)
{
	json_t *tags = json_array();
	if (!tags)
		return NULL;
	for (int i = 0; !osip_list_eol(&om->headers, i); i++) {
		const osip_header_t *h = osip_list_get(&om->headers, i);
		if (osip_hdr_is(h, id) && h->hvalue)
			tags_append(tags, h->hvalue, strlen(h->hvalue));
	}
	return joptions(tags, tags_mask(tags));
}

/* Replaces = callid *( SEMI replaces-param ), RFC 3891 §6.1. */
static json_t *osip_replaces(const char *v)
{
	if (!v)
		return json_null();
	size_t len = strlen(v), i = 0;
	while (i < len && is_lws(v[i]))
		i++;
	size_t s = i;
	while (i < len && v[i] != ';' && !is_lws(v[i]))
		i++;
	json_t *call_id = jstrn(v + s, i - s), *to = json_null(), *from = json_null();
	bool early = false;
	json_t *params = jparams_split(v + i, len - i, ';', false);
	size_t k;
	json_t *p;
	json_array_foreach(params, k, p) {
		const char *t = json_string_value(p);
		if (strncmp(t, "to-tag=", 7) == 0) {
			json_decref(to);
			to = json_string(t + 7);
		} else if (strncmp(t, "from-tag=", 9) == 0) {
			json_decref(from);
			from = json_string(t + 9);
		} else if (strcmp(t, "early-only") == 0) {
			early = true;
		}
	}
	json_decref(params);
	return jreplaces(call_id, to, from, early);
}

json_t *pk_sipref_from_osip(const struct osip_message *om)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (om->sip_method) {
		put(o, "type", json_string("request"));
		put(o, "method", json_string(om->sip_method));
		put(o, "ruri", osip_uri_rec(om->req_uri));
	} else {
		put(o, "type", json_string("response"));
		put(o, "code", json_integer(om->status_code));
		put(o, "reason", json_string(om->reason_phrase ? om->reason_phrase : ""));
	}
	int nvia = osip_list_size(&om->vias);
	put(o, "via_count", json_integer(nvia < 0 ? 0 : nvia));
	json_t *vias = json_array();
	for (int i = 0; vias && i < nvia && i < PK_SIP_MAX_VIA; i++)
		json_array_append_new(vias, osip_via_rec(osip_list_get(&om->vias, i)));
	put(o, "via", vias);
	put(o, "from", om->from ? osip_addr_rec(om->from, ADDR_FROM_TO) : json_null());
	put(o, "to", om->to ? osip_addr_rec(om->to, ADDR_FROM_TO) : json_null());
	if (om->call_id && om->call_id->number) {
		const char *n = om->call_id->number, *h = om->call_id->host;
		size_t nl = strlen(n), hl = h ? strlen(h) : 0;
		char *b = malloc(nl + hl + 2);
		if (b) {
			memcpy(b, n, nl);
			if (h) {
				b[nl] = '@';
				memcpy(b + nl + 1, h, hl);
			}
			put(o, "call_id", jstrn(b, nl + (h ? hl + 1 : 0)));
			free(b);
		}
	} else {
		put(o, "call_id", json_null());
	}
	json_t *cseq = json_object();
	if (cseq && om->cseq) {
		const char *num = om->cseq->number;
		put(cseq, "num", num ? jnumber_text(num, strlen(num)) : json_null());
		put(cseq, "method", jcstr_opt(om->cseq->method));
	}
	put(o, "cseq", cseq);
	/* libosip2 stores "Contact: *" as a contact with display name "*"
	 * and no URI. */
	int nct = osip_list_size(&om->contacts);
	bool star = false;
	if (nct == 1) {
		const osip_contact_t *c = osip_list_get(&om->contacts, 0);
		star = c->url == NULL && c->displayname && strcmp(c->displayname, "*") == 0;
	}
	put(o, "contact_star", json_boolean(star));
	put(o, "contact_count", json_integer(star || nct < 0 ? 0 : nct));
	put(o, "contact", star ? json_array() : osip_addrs(&om->contacts, PK_SIP_MAX_CONTACT, ADDR_CONTACT));
	int nr = osip_list_size(&om->routes), nrr = osip_list_size(&om->record_routes);
	put(o, "route_count", json_integer(nr < 0 ? 0 : nr));
	put(o, "route", osip_addrs(&om->routes, PK_SIP_MAX_ROUTE, ADDR_ROUTE));
	put(o, "record_route_count", json_integer(nrr < 0 ? 0 : nrr));
	put(o, "record_route", osip_addrs(&om->record_routes, PK_SIP_MAX_ROUTE, ADDR_ROUTE));
	put(o, "max_forwards", osip_generic_num(om, PK_HDR_MAX_FORWARDS));
	const char *cl = om->content_length ? om->content_length->value : NULL;
	put(o, "content_length", cl ? jnumber_text(cl, strlen(cl)) : json_null());
	if (om->content_type && om->content_type->type) {
		const osip_content_type_t *ct = om->content_type;
		const char *sub = ct->subtype ? ct->subtype : "";
		put(o, "content_type", jctype(ct->type, strlen(ct->type), sub, strlen(sub),
					      jparams_osip(&ct->gen_params)));
	} else {
		put(o, "content_type", json_null());
	}
	put(o, "supported", osip_options(om, PK_HDR_SUPPORTED));
	put(o, "require", osip_options(om, PK_HDR_REQUIRE));
	put(o, "proxy_require", osip_options(om, PK_HDR_PROXY_REQUIRE));
	put(o, "replaces", osip_replaces(osip_generic(om, PK_HDR_REPLACES)));
	put(o, "expires", osip_generic_num(om, PK_HDR_EXPIRES));
	/* A multipart body is split into its parts by libosip2; the bytes it
	 * accepted as the body are then its Content-Length. */
	int nb = osip_list_size(&om->bodies);
	long long blen = 0;
	if (nb == 1)
		blen = (long long)((const osip_body_t *)osip_list_get(&om->bodies, 0))->length;
	else if (nb > 1 && cl)
		blen = atoll(cl);
	put(o, "body_length", json_integer(blen));
	return o;
}

json_t *pk_sipref_osip_parse(const char *buf, size_t len)
{
	osip_message_t *om = NULL;
	json_t *rec = NULL;
	if (osip_message_init(&om) != 0)
		return NULL;
	if (osip_message_parse(om, buf, len) == 0)
		rec = pk_sipref_from_osip(om);
	osip_message_free(om);
	return rec;
}

/* --- the diff ----------------------------------------------------------- */

static void diff_add(json_t *diffs, const char *path, const json_t *a, const json_t *b)
{
	json_t *d = json_object();
	if (!d)
		return;
	put(d, "field", json_string(path));
	put(d, "scanner", a ? json_deep_copy(a) : json_string("(absent)"));
	put(d, "osip", b ? json_deep_copy(b) : json_string("(absent)"));
	json_array_append_new(diffs, d);
}

static size_t diff_walk(const json_t *a, const json_t *b, char *path, size_t plen, size_t cap,
			json_t *diffs)
{
	size_t n = 0;
	if (a && b && json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *va;
		json_object_foreach((json_t *)a, k, va) {
			int w = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", k);
			size_t l = w < 0 ? plen : plen + (size_t)w < cap ? plen + (size_t)w : cap - 1;
			n += diff_walk(va, json_object_get(b, k), path, l, cap, diffs);
		}
		json_t *vb;
		json_object_foreach((json_t *)b, k, vb) {
			if (json_object_get(a, k))
				continue;
			int w = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", k);
			(void)w;
			diff_add(diffs, path, NULL, vb);
			n++;
		}
		path[plen] = 0;
		return n;
	}
	if (a && b && json_is_array(a) && json_is_array(b)) {
		size_t la = json_array_size(a), lb = json_array_size(b);
		if (la != lb) {
			snprintf(path + plen, cap - plen, ".length");
			json_t *ja = json_integer((json_int_t)la), *jb = json_integer((json_int_t)lb);
			diff_add(diffs, path, ja, jb);
			json_decref(ja);
			json_decref(jb);
			n++;
		}
		for (size_t i = 0; i < la && i < lb; i++) {
			int w = snprintf(path + plen, cap - plen, "[%zu]", i);
			size_t l = w < 0 ? plen : plen + (size_t)w < cap ? plen + (size_t)w : cap - 1;
			n += diff_walk(json_array_get(a, i), json_array_get(b, i), path, l, cap, diffs);
		}
		path[plen] = 0;
		return n;
	}
	path[plen] = 0;
	if (!a || !b || !json_equal((json_t *)a, (json_t *)b)) {
		diff_add(diffs, path, a, b);
		return 1;
	}
	return 0;
}

size_t pk_sipref_diff(const json_t *scanner, const json_t *osip, json_t *diffs)
{
	char path[256] = "";
	return diff_walk(scanner, osip, path, 0, sizeof(path), diffs);
}

/* --- both parsers on one message ------------------------------------- */

#define SIPREF_SCRATCH PK_SIP_SLOW_SCRATCH

static void verdict_diff(json_t *diffs, const struct pk_sip_msg *m, enum pk_sip_verdict v,
			 bool osip_ok)
{
	char text[128];
	if (v == PK_SIP_REJECT)
		snprintf(text, sizeof(text), "reject %u %s", m->status, m->why);
	else
		snprintf(text, sizeof(text), "%s%s%s", pk_sipref_verdict_name(v), *m->why ? " " : "",
			 m->why);
	json_t *a = json_string(text), *b = json_string(osip_ok ? "parsed" : "unparseable");
	diff_add(diffs, "verdict", a, b);
	json_decref(a);
	json_decref(b);
}

int pk_sipref_run(const char *buf, size_t len, bool compare, struct pk_sipref_cmp *c)
{
	memset(c, 0, sizeof(*c));
	c->msg = calloc(1, sizeof(*c->msg));
	c->scratch = malloc(SIPREF_SCRATCH);
	c->diffs = json_array();
	if (!c->msg || !c->scratch || !c->diffs)
		return -1;
	c->fast = pk_sip_scan(buf, len, c->msg);
	c->fast_status = c->msg->status;
	c->fast_why = c->msg->why;
	c->verdict = pk_sip_parse(buf, len, c->scratch, SIPREF_SCRATCH, c->msg, &c->slow);
	if (!compare)
		return 0;
	json_t *ref = pk_sipref_osip_parse(buf, len);
	c->osip_ok = ref != NULL;
	if (c->verdict == PK_SIP_OK && ref) {
		json_t *mine = pk_sipref_from_msg(c->msg, PK_SIPREF_NORM);
		if (!mine) {
			json_decref(ref);
			return -1;
		}
		pk_sipref_diff(mine, ref, c->diffs);
		json_decref(mine);
	} else if ((c->verdict == PK_SIP_OK) != (ref != NULL)) {
		verdict_diff(c->diffs, c->msg, c->verdict, ref != NULL);
	}
	json_decref(ref);
	return (int)json_array_size(c->diffs);
}

void pk_sipref_cmp_free(struct pk_sipref_cmp *c)
{
	free(c->msg);
	free(c->scratch);
	json_decref(c->diffs);
	memset(c, 0, sizeof(*c));
}
