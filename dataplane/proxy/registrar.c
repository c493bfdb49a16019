/* SPDX-License-Identifier: MIT */
/*
 * The registrar: answers REGISTER (RFC 3261 §10.3) from phones in the
 * trusted networks and keeps their bindings in the location table, which
 * the proxy reads to reach them.
 *
 * The steps of §10.3, as done here (docs/registrar.md has the reasoning):
 *   0. the source must be in a trusted network (pickupd does no digest
 *      authentication; the trusted networks stand in for step 3) -> 403;
 *   1. the Request-URI must be a sip:/sips: URI (416) naming a served
 *      domain or the address the request came to (404: pickupd does not
 *      forward REGISTER to other registrars);
 *   2. Require must list nothing (420 with Unsupported);
 *   5. To is the AoR: a user in a served domain (404), user part
 *      normalised as the group index does it (400 when it cannot be);
 *   6. Contact: `*` only alone and with Expires: 0 (400); each contact a
 *      sip:/sips: URI of at most 256 bytes (400), not sips: (pickupd has
 *      no TLS: 400, or 480 under a sips: Request-URI, with warn-code
 *      380; reg_reject_sips), q-value well formed
 *      (400); expiry from its expires parameter, the Expires header, or
 *      timers.register_default_expires; below register_min_expires -> 423
 *      with Min-Expires; above register_max_expires -> lowered;
 *   7. the changes go to the table all or nothing: out-of-order CSeq ->
 *      500, a static contact named -> 403, table full -> 503 with
 *      Retry-After;
 *   8. 200 with every registered binding of the AoR and its remaining
 *      expiry, and a Date header.
 * No Contact at all is a query: 200 with the bindings, nothing changes.
 *
 * Everything a worker runs here is bounded and allocation-free; the answer
 * is assembled in a caller-provided buffer.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "pickup/groups.h"
#include "pickup/log.h"
#include "pickup/sip_rewrite.h"
#include "registrar.h"
#include "../sip/copy.h"
#include "../worker.h"

static_assert(PK_LOC_MAX_CONTACTS / 2 >= PK_SIP_MAX_CONTACT, "one REGISTER's contacts fit an AoR");
static_assert(PK_LOC_MAX_CONTACTS / 2 >= PK_ENGINE_MAX_CONTACTS, "a static binding fits an AoR");
static_assert(PK_LOC_USER_MAX == PK_GROUPS_USER_MAX && PK_LOC_DOMAIN_MAX == PK_GROUPS_DOMAIN_MAX,
	      "AoR limits are the group index's");

/* ---- building the header lines ---- */

struct reg_out {
	char *p;
	uint32_t len, cap;
};

static void reg_put(struct reg_out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len; /* cannot happen with PK_REGISTRAR_HDRS_MAX; truncation is safe */
	memcpy(o->p + o->len, s, n);
	o->len += (uint32_t)n;
}

static void reg_cstr(struct reg_out *o, const char *s)
{
	reg_put(o, s, strlen(s));
}

static void reg_u64(struct reg_out *o, uint64_t v)
{
	char d[20];

	reg_put(o, d, (size_t)(pk_put_u64(d, v) - d));
}

/* Two digits, zero-padded. */
static void reg_2d(struct reg_out *o, unsigned v)
{
	char d[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) };

	reg_put(o, d, 2);
}

/* q-value x 1000 at d as written in SIP: "1", "0.5", "0.125", "0";
 * returns the end. */
static inline char *reg_q_at(char *d, int q)
{
	char t[5] = { '0', '.', (char)('0' + q / 100), (char)('0' + q / 10 % 10), (char)('0' + q % 10) };
	unsigned n = 5;

	if (q >= 1000) {
		*d = '1';
		return d + 1;
	}
	while (n > 2 && t[n - 1] == '0')
		n--;
	if (n == 2)
		n = 1;
	memcpy(d, t, 5); /* room: a whole line's worth */
	return d + n;
}

/* The longest Contact line of a 200: "Contact: <" uri ">;expires=" 20
 * digits ";q=0.125" CRLF. A 200 lists at most PK_LOC_MAX_CONTACTS of
 * them and a Date line (copied as its 64-byte buffer), into an empty
 * answer: reg_ok writes each line in place, unchecked piece by piece,
 * after one check that a longest line's room is left (a line that does
 * not fit goes through reg_put, which truncates). */
#define REG_CONTACT_LINE_MAX (10 + PK_LOC_URI_MAX + 10 + 20 + 3 + 5 + 2)
static_assert(PK_REGISTRAR_HDRS_MAX >= PK_LOC_MAX_CONTACTS * REG_CONTACT_LINE_MAX + 64,
	      "a 200 with every binding of an AoR and the Date fits");

/* "Warning: <code> pickupd "text"" (our own texts: nothing to escape);
 * code 399, or 380 "SIPS Not Allowed" (RFC 5630 §9). */
static void reg_warning(struct reg_out *o, unsigned code, const char *text)
{
	reg_cstr(o, "Warning: ");
	reg_u64(o, code);
	reg_cstr(o, " pickupd \"");
	reg_cstr(o, text);
	reg_cstr(o, "\"\r\n");
}

/*
 * "Date: Sun, 06 Nov 1994 08:49:37 GMT" (RFC 3261 §20.17, RFC 1123 form).
 * Phones use it to set their clock. Days to civil date after H. Hinnant's
 * days_from_civil inverse (proleptic Gregorian calendar).
 */
static void reg_date_format(struct reg_out *o, int64_t t)
{
	static const char wd[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char mn[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t days = t / 86400, era, y;
	unsigned secs = (unsigned)(t % 86400), doe, yoe, doy, mp, d, m;

	days += 719468; /* days from 0000-03-01 */
	era = days / 146097;
	doe = (unsigned)(days - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = (int64_t)yoe + era * 400 + (m <= 2);

	reg_cstr(o, "Date: ");
	reg_put(o, wd[(t / 86400) % 7], 3);
	reg_cstr(o, ", ");
	reg_2d(o, d);
	reg_put(o, " ", 1);
	reg_put(o, mn[m - 1], 3);
	reg_put(o, " ", 1);
	reg_u64(o, (uint64_t)y);
	reg_put(o, " ", 1);
	reg_2d(o, secs / 3600);
	reg_put(o, ":", 1);
	reg_2d(o, secs / 60 % 60);
	reg_put(o, ":", 1);
	reg_2d(o, secs % 60);
	reg_cstr(o, " GMT\r\n");
}

/* The Date line, formatted once a second per thread (a REGISTER refresh
 * is otherwise mostly this arithmetic). Only reg_ok calls it. */
static void reg_date(struct reg_out *o, int64_t t)
{
	static _Thread_local int64_t cached_t = -1;
	static _Thread_local uint32_t cached_len;
	static _Thread_local char cached[64];

	if (t != cached_t) {
		struct reg_out c = { cached, 0, sizeof(cached) };

		reg_date_format(&c, t);
		cached_len = c.len;
		cached_t = t;
	}
	/* The whole buffer, a constant size (no call): reg_ok's room has it
	 * (the static_assert at REG_CONTACT_LINE_MAX); what lies past the
	 * line is past o->len, not part of the answer. Checked all the same
	 * (one compare), so that a line written before it cannot make it
	 * overflow: without the room, the bounds-checked copy of the line. */
	if (likely(o->cap - o->len >= sizeof(cached))) {
		memcpy(o->p + o->len, cached, sizeof(cached));
		o->len += cached_len;
	} else {
		reg_put(o, cached, cached_len);
	}
}

/* ---- parsing helpers ---- */

/* qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")]) -> x 1000, or -1. */
static int reg_parse_q(struct pk_str v)
{
	int q = 0, scale = 100;

	if (v.len == 0 || v.len > 5 || (v.p[0] != '0' && v.p[0] != '1'))
		return -1;
	if (v.len > 1 && v.p[1] != '.')
		return -1;
	for (uint32_t i = 2; i < v.len; i++, scale /= 10) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		q += (v.p[i] - '0') * scale;
	}
	if (v.p[0] == '1')
		return q == 0 ? 1000 : -1;
	return q;
}

/* Could params hold a q parameter? Only if a 'q' or 'Q' is there. Eight
 * bytes a step (the last ones in a load that may overlap), or'ed with
 * 0x20, which makes 'Q' 'q' and no other byte 'q': the usual
 * ";expires=3600" is two words. */
static bool reg_may_have_q(struct pk_str params)
{
	uint32_t i = 0;

	if (params.len < 8) {
		for (; i < params.len; i++)
			if ((params.p[i] | 0x20) == 'q')
				return true;
		return false;
	}
	for (; i + 8 < params.len; i += 8)
		if (pk_has_byte8(pk_load8(params.p + i) | 0x2020202020202020ull, 'q'))
			return true;
	return pk_has_byte8(pk_load8(params.p + params.len - 8) | 0x2020202020202020ull, 'q');
}

/* a and b hold the same bytes (the To's host and the Request-URI's, the
 * same domain in the usual REGISTER: its served-domain index is known).
 * Up to 16 bytes by pk_mem_eq16 (two words that may overlap). */
static inline bool reg_same_bytes(struct pk_str a, struct pk_str b)
{
	if (a.len != b.len)
		return false;
	if (a.len > 16 || a.len < 4)
		return pk_str_eq(a, b);
	return pk_mem_eq16(a.p, b.p, a.len);
}

/* Is the host of uri the address the request came to? */
static bool reg_host_is_us(const struct pk_sip_uri *u, const struct pk_io_msg *rx)
{
	struct pk_addr a;

	return u->host_type != PK_HOST_NAME && pk_addr_parse_ip(u->host, &a) == 0 && pk_addr_ip_eq(&a, &rx->dst);
}

/* Is host the dotted-quad text of the IPv4 source src, as pk_addr_format
 * writes it ("10.1.2.3": no leading zeros)? Then it parses to src's
 * address; any other text may still (leading zeros, an IPv4-mapped IPv6
 * literal) and is left to the parser. */
static bool reg_host_is_ip4_text(struct pk_str host, const struct pk_addr *src)
{
	char t[24], *p = t;

	if (host.len < 7 || host.len > 15 || src->family != AF_INET)
		return false;
	for (int i = 0; i < 4; i++) {
		p = pk_put_u32(p, src->ip[i]);
		*p++ = '.';
	}
	if ((uint32_t)(p - 1 - t) != host.len)
		return false;
	return pk_mem_eq16(t, host.p, host.len); /* 7-15 bytes */
}

/* Does a parsed Contact URI name the REGISTER's source address and port?
 * The usual Contact writes the source's own address, which is checked as
 * text first (no parse); anything else is parsed. */
static bool reg_contact_is_src(const struct pk_sip_uri *u, const struct pk_addr *src)
{
	static const uint8_t zero[12];
	struct pk_addr a;
	uint16_t port = u->port ? u->port : 5060; /* a sips: Contact is refused first */

	if (u->host_type == PK_HOST_NAME || port != src->port)
		return false;
	/* pk_addr_parse_ip leaves the rest of an IPv4 address zero, and
	 * pk_addr_ip_eq compares all 16 bytes */
	if (u->host_type == PK_HOST_IPV4 && memcmp(src->ip + 4, zero, sizeof(zero)) == 0 &&
	    reg_host_is_ip4_text(u->host, src))
		return true;
	return pk_addr_parse_ip(u->host, &a) == 0 && pk_addr_ip_eq(&a, src);
}

/* ---- the decision ---- */

static unsigned reg_reject_warn(const struct pk_registrar_env *env, struct reg_out *o, unsigned status,
				enum pk_loc_counter c, unsigned warn, const char *why)
{
	reg_warning(o, warn, why);
	pk_location_count(env->loc, env->tid, c);
	return status;
}

static unsigned reg_reject(const struct pk_registrar_env *env, struct reg_out *o, unsigned status,
			   enum pk_loc_counter c, const char *why)
{
	return reg_reject_warn(env, o, status, c, 399, why);
}

/*
 * A sips: Contact: reached over TLS only (RFC 5630 §4), which pickupd does
 * not speak, so a binding to it could never be used; refused now rather
 * than kept and skipped at every call. Warn-code 380 "SIPS Not Allowed"
 * (RFC 5630 §9) either way. Under a sip: Request-URI, 400: RFC 5630 §5.2
 * lets a registrar accept a SIPS Contact only when the Request-URI (and
 * any Path) is SIPS too. Under a sips: one, the registration is well
 * formed and pickupd answers as a UAS that does not take SIPS (RFC 5630
 * §5.1.2): 480.
 */
static unsigned reg_reject_sips(const struct pk_registrar_env *env, struct reg_out *o, bool ruri_sips)
{
	if (ruri_sips)
		return reg_reject_warn(env, o, 480, PK_LOC_CTR_REJECTED_480, 380,
				       "SIPS Not Allowed: sips: Contact, pickupd has no TLS");
	return reg_reject_warn(env, o, 400, PK_LOC_CTR_REJECTED_400, 380,
			       "SIPS Not Allowed: sips: Contact under a sip: Request-URI");
}

/* 200 with the AoR's registered bindings (static ones are configuration,
 * not registrations: not listed; docs/registrar.md). */
static unsigned reg_ok(const struct pk_registrar_env *env, struct reg_out *o, const struct pk_loc_contact *c,
		       unsigned n)
{
	assert(n <= PK_LOC_MAX_CONTACTS && o->len == 0 && o->cap >= PK_REGISTRAR_HDRS_MAX);
	for (unsigned i = 0; i < n; i++) {
		char spill[REG_CONTACT_LINE_MAX];
		uint64_t left;
		bool room;
		char *p;

		if (c[i].is_static || c[i].expires <= env->now_ns)
			continue;
		/* Rounded up: a binding with 0.3 s left shows 1, not 0 (which
		 * would read as "removed"); a fresh one shows what was granted. */
		left = (c[i].expires - env->now_ns + 999999999ull) / 1000000000ull;
		/* written in place, no bounds check a piece: the room is
		 * there (see REG_CONTACT_LINE_MAX), which one compare makes
		 * sure of; were it not, the line goes to spill and from there
		 * through reg_put's check */
		assert(c[i].uri_len <= PK_LOC_URI_MAX);
		room = o->cap - o->len >= REG_CONTACT_LINE_MAX;
		p = likely(room) ? o->p + o->len : spill;
		memcpy(p, "Contact: <", 10);
		pk_copy_short(p + 10, c[i].uri, c[i].uri_len);
		p += 10 + c[i].uri_len;
		memcpy(p, ">;expires=", 10);
		p = pk_put_u64(p + 10, left);
		if (c[i].q >= 0) {
			memcpy(p, ";q=", 3);
			p = reg_q_at(p + 3, c[i].q);
		}
		memcpy(p, "\r\n", 2);
		if (likely(room))
			o->len = (uint32_t)(p + 2 - o->p);
		else
			reg_put(o, spill, (size_t)(p + 2 - spill));
	}
	if (env->wall_s >= 0)
		reg_date(o, env->wall_s);
	pk_location_count(env->loc, env->tid, PK_LOC_CTR_ANSWERED_200);
	return 200;
}

static unsigned reg_decide(const struct pk_registrar_env *env, const struct pk_io_msg *rx,
			   const struct pk_sip_msg *msg, struct reg_out *o)
{
	const struct pk_engine_conf *conf = env->conf;
	const struct pk_engine_timers *tm = &conf->timers;
	struct pk_loc_contact cur[PK_LOC_MAX_CONTACTS];
	struct pk_loc_change ch[PK_SIP_MAX_CONTACT];
	struct pk_loc_register r;
	struct pk_sip_uri u;
	char user[PK_LOC_USER_MAX];
	struct pk_str domain, ruri_host;
	unsigned n;
	int d, ruri_d, len, rc;
	bool ruri_sips;

	/* 0. who may register: the trusted networks */
	if (!(env->trusted != NULL ? pk_trusted_set_match(env->trusted, &rx->src)
				   : pk_engine_conf_trusted(conf, &rx->src)))
		return reg_reject(env, o, 403, PK_LOC_CTR_REJECTED_403, "source not in a trusted network");

	/* 1. the Request-URI names us */
	if (pk_sip_uri_parse(msg->ruri.p, msg->ruri.len, &u) != 0 ||
	    (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
		return reg_reject(env, o, 416, PK_LOC_CTR_REJECTED_416, "Request-URI is not a sip: or sips: URI");
	ruri_sips = u.scheme == PK_URI_SIPS;
	ruri_host = u.host;
	ruri_d = pk_groups_settings_find_domain(&conf->served, u.host);
	if (ruri_d < 0 && !reg_host_is_us(&u, rx))
		return reg_reject(env, o, 404, PK_LOC_CTR_REJECTED_404, "not our domain");

	/* 2. extensions */
	if ((msg->require & ~PK_REGISTRAR_SUPPORTED) != 0) {
		reg_cstr(o, "Unsupported: ");
		len = pk_sip_unsupported_list(msg, PK_ROLE_UAS, PK_REGISTRAR_SUPPORTED, o->p + o->len,
					      o->cap - o->len - 2);
		if (len > 0)
			o->len += (uint32_t)len;
		reg_cstr(o, "\r\n");
		return reg_reject(env, o, 420, PK_LOC_CTR_REJECTED_420, "unsupported extension required");
	}

	/* 5. the AoR */
	if (pk_sip_uri_parse(msg->to.uri.p, msg->to.uri.len, &u) != 0 ||
	    (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS) || u.user.len == 0 ||
	    (d = ruri_d >= 0 && reg_same_bytes(u.host, ruri_host) ? ruri_d
								   : pk_groups_settings_find_domain(&conf->served, u.host)) < 0)
		return reg_reject(env, o, 404, PK_LOC_CTR_REJECTED_404, "To is not a user of a served domain");
	len = pk_groups_user_normalize(u.user, user, sizeof(user));
	if (len <= 0)
		return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400,
				  len == -ENAMETOOLONG ? "To user part too long" : "bad To user part");
	domain = pk_groups_settings_domain(&conf->served, (uint32_t)d);

	memset(&r, 0, sizeof(r));
	r.user = pk_str_make(user, (size_t)len);
	r.domain = domain;

	/* 6. the contacts */
	if (msg->contact_star) {
		if (msg->ncontact != 0 || msg->expires != 0)
			return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400,
					  "Contact: * needs Expires: 0 and no other Contact");
		r.remove_all = true;
	} else if (msg->ncontact == 0) {
		pk_location_count(env->loc, env->tid, PK_LOC_CTR_QUERIES);
		n = pk_location_lookup(env->loc, env->tid, r.user, r.domain, env->now_ns, cur, PK_LOC_MAX_CONTACTS);
		return reg_ok(env, o, cur, n);
	} else if (msg->ncontact > PK_SIP_MAX_CONTACT) {
		return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400, "more than 8 Contact values");
	}
	for (unsigned i = 0; i < msg->ncontact; i++) {
		const struct pk_sip_addr *c = &msg->contact[i];
		struct pk_str qv;
		int64_t e = c->expires >= 0 ? c->expires : msg->expires >= 0 ? msg->expires
									 : (int64_t)tm->register_default_expires;

		if (pk_sip_uri_parse(c->uri.p, c->uri.len, &u) != 0 ||
		    (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
			return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400, "Contact is not a sip: or sips: URI");
		if (u.scheme == PK_URI_SIPS)
			return reg_reject_sips(env, o, ruri_sips);
		if (c->uri.len > PK_LOC_URI_MAX)
			return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400, "Contact URI longer than 256 bytes");
		ch[i].uri = c->uri;
		ch[i].q = -1;
		/* no 'q' among the parameters' bytes: no q parameter (the
		 * usual ";expires=3600"), no walk */
		if (reg_may_have_q(c->params) && pk_sip_param_get(c->params, "q", &qv) &&
		    (ch[i].q = (int16_t)reg_parse_q(qv)) < 0)
			return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400, "bad q-value in Contact");
		ch[i].nat = !reg_contact_is_src(&u, &rx->src);
		if (e != 0 && e < tm->register_min_expires) {
			reg_cstr(o, "Min-Expires: ");
			reg_u64(o, tm->register_min_expires);
			reg_cstr(o, "\r\n");
			return reg_reject(env, o, 423, PK_LOC_CTR_REJECTED_423, "registration too brief");
		}
		ch[i].expires_s = e > tm->register_max_expires ? tm->register_max_expires : (uint32_t)e;
	}
	r.n = msg->ncontact;
	r.changes = ch;
	r.call_id_hash = pk_location_call_id_hash(msg->call_id);
	r.cseq = msg->cseq;
	r.transport = rx->transport;
	r.listener = rx->listener;
	r.conn = rx->conn;
	r.src = rx->src;

	/* 7. all or nothing */
	rc = pk_location_register(env->loc, env->tid, &r, env->now_ns, cur, PK_LOC_MAX_CONTACTS, &n);
	switch (rc) {
	case 0:
		return reg_ok(env, o, cur, n);
	case -ENOSPC:
	case -ENOMEM:
		reg_cstr(o, "Retry-After: ");
		reg_u64(o, PK_REGISTRAR_RETRY_AFTER);
		reg_cstr(o, "\r\n");
		/* the operator tells them apart: capacity.registrations is too
		 * small, or REGISTERs outran the sweep (transient) */
		return reg_reject(env, o, 503, PK_LOC_CTR_REJECTED_503,
				  rc == -ENOSPC ? "registrations table full"
						: "no spare memory for registrations yet, retry");
	case -ESTALE:
		return reg_reject(env, o, 500, PK_LOC_CTR_REJECTED_500,
				  "out-of-order REGISTER: CSeq lower than the binding's");
	case -EPERM:
		return reg_reject(env, o, 403, PK_LOC_CTR_REJECTED_403,
				  "a static binding cannot be changed by REGISTER");
	default:
		return reg_reject(env, o, 400, PK_LOC_CTR_REJECTED_400, "bad REGISTER");
	}
}

unsigned pk_registrar_process(const struct pk_registrar_env *env, const struct pk_io_msg *rx,
			      const struct pk_sip_msg *msg, struct pk_registrar_answer *ans)
{
	struct reg_out o = { ans->hdrs, 0, sizeof(ans->hdrs) };

	pk_location_count(env->loc, env->tid, PK_LOC_CTR_REQUESTS);
	ans->status = reg_decide(env, rx, msg, &o);
	ans->len = o.len;
	return ans->status;
}

void pk_registrar_handle(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg)
{
	struct pk_registrar_answer ans;
	struct pk_registrar_env env = {
		.conf = w->eng->conf,
		/* Acquire: pairs with the release store of the control thread
		 * that publishes a new list (pk_ctl `set trusted`); valid until
		 * this worker's next quiescent state. */
		.trusted = atomic_load_explicit(&w->eng->trusted, memory_order_acquire),
		.loc = w->eng->location,
		.tid = w->id,
		.now_ns = w->now_ns,
	};
	struct timespec ts;

	/* Wall clock for Date: the coarse clock is a vDSO read, no syscall. */
	env.wall_s = clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0 ? (int64_t)ts.tv_sec : -1;
	pk_registrar_process(&env, rx, msg, &ans);
	if (pk_worker_reply(w, rx, msg, ans.status, NULL, pk_str_make(ans.hdrs, ans.len)) == 0)
		pk_worker_count(w, PK_WORKER_CTR_ANSWERED_REGISTER);
}

/* ---- start-up and statistics (control thread) ---- */

int pk_registrar_static_contact(struct pk_str uri, struct pk_loc_contact *c)
{
	struct pk_sip_uri u;

	memset(c, 0, sizeof(*c));
	if (uri.len == 0 || uri.len > PK_LOC_URI_MAX || pk_sip_uri_parse(uri.p, uri.len, &u) != 0 ||
	    (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
		return -EINVAL;
	if (u.scheme == PK_URI_SIPS)
		return -EPROTONOSUPPORT; /* TLS only (RFC 5630 §4): never reached */
	memcpy(c->uri, uri.p, uri.len);
	c->uri_len = (uint16_t)uri.len;
	c->q = -1;
	c->listener = PK_LOC_LISTENER_ANY;
	c->transport = pk_str_caseeq_cstr(u.transport, "tcp") ? PK_TRANSPORT_TCP : PK_TRANSPORT_UDP;
	if (u.host_type != PK_HOST_NAME && pk_addr_parse_ip(u.host, &c->src) == 0)
		c->src.port = u.port ? u.port : 5060;
	else
		memset(&c->src, 0, sizeof(c->src));
	return 0;
}

int pk_registrar_load_static(struct pk_location *loc, unsigned tid, const struct pk_engine_conf *conf,
			     char *err, size_t errlen)
{
	for (uint32_t i = 0; i < conf->n_bindings; i++) {
		const struct pk_engine_binding *b = &conf->bindings[i];
		struct pk_loc_contact c[PK_ENGINE_MAX_CONTACTS];
		int rc;

		for (uint32_t k = 0; k < b->n_contacts; k++) {
			rc = pk_registrar_static_contact(b->contacts[k], &c[k]);
			if (rc == -EPROTONOSUPPORT) {
				snprintf(err, errlen, "%s:%u:%u: bindings: contact '%.*s': sips: needs TLS, which "
						      "pickupd does not speak yet",
					 conf->path, b->line, b->col, (int)b->contacts[k].len, b->contacts[k].p);
				return rc;
			}
			if (rc != 0) {
				snprintf(err, errlen, "%s:%u:%u: bindings: contact '%.*s' is not a sip: URI "
						      "of at most %u bytes",
					 conf->path, b->line, b->col, (int)b->contacts[k].len, b->contacts[k].p,
					 PK_LOC_URI_MAX);
				return -EINVAL;
			}
		}
		rc = pk_location_add_static(loc, tid, b->user, b->domain, c, b->n_contacts);
		if (rc != 0) {
			snprintf(err, errlen, "%s:%u:%u: bindings: '%.*s@%.*s': %s", conf->path, b->line, b->col,
				 (int)b->user.len, b->user.p, (int)b->domain.len, b->domain.p,
				 rc == -ENOSPC ? "more static contacts than capacity.registrations"
				 : rc == -EEXIST ? "bound twice"
						 : "user or domain too long");
			return rc;
		}
	}
	return 0;
}

void pk_registrar_log_counters(const struct pk_location *loc)
{
	uint64_t v[PK_LOC_CTR_COUNT];
	char line[1024];
	size_t n = 0;

	pk_location_stats(loc, v);
	for (unsigned c = 0; c < PK_LOC_CTR_COUNT && n < sizeof(line); c++)
		if (v[c] != 0)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
					      pk_location_counter_name((enum pk_loc_counter)c),
					      (unsigned long long)v[c]);
	pk_log(PK_LOG_INFO, "location: %u binding(s) of %u, %u AoR(s);%s", pk_location_in_use(loc),
	       pk_location_capacity(loc), pk_location_aors(loc), n ? line : " (no activity)");
}
