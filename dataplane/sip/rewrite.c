/* SPDX-License-Identifier: MIT */
/*
 * Rewriting a scanned SIP message for forwarding: the proxy's Via push and
 * pop, received/rport, Max-Forwards, Request-URI, header lines, loose-route
 * Route pop, body replacement and Content-Length.
 *
 * Why a plan of edits rather than a rewrite in place: the original datagram
 * stays untouched (a retransmission or a second destination reuses it), the
 * header table of the scan stays valid while planning, and the output is
 * produced in a single pass of memcpy calls over a handful of spans. Every
 * primitive turns its change into one or two edits on offsets of the
 * original; rw_put keeps the list sorted and free of overlaps, so emit does
 * no per-byte work and no searching. Nothing here allocates, formats with
 * stdio, or reads past the message.
 *
 * Every edit that inserts text carries a tag saying what the text sets (the
 * Request-URI, the Max-Forwards value, a line of header X...). That is how
 * "the last value wins" holds whatever was planned in between: a setter
 * first drops the text planned under its tag (rw_drop), then plans its own.
 * A bit mask of the tags in use makes that one test when nothing was set.
 */
#include <assert.h>
#include <errno.h>

#include "pickup/sip_rewrite.h"
#include "copy.h"
#include "scan_chars.h"

#define PK_NO_LINE 0xff

/* What an edit's text sets. TAG_LINE + id: a whole header line of that id
 * (for PK_HDR_OTHER its name is the text up to the colon). */
enum rw_tag {
	TAG_NONE = 0, /* deletions only */
	TAG_RURI,
	TAG_MAXFWD,   /* the value of the message's Max-Forwards line */
	TAG_RPORT,    /* "=port" after an empty rport */
	TAG_RECEIVED, /* ";received=ip", or the new value of received= */
	TAG_LINE,
};

static_assert(TAG_LINE + PK_HDR_COUNT <= 64, "a tag is a bit of pk_rw.tags");
static_assert(PK_RW_SCRATCH <= UINT16_MAX, "scratch offsets are 16 bit");

/* Canonical header names with their lengths, from the scanner's X-macro. */
static const struct pk_str hdr_names[PK_HDR_COUNT] = {
#define PK_H_NAME(id, name, compact, single) [PK_HDR_##id] = { name, sizeof(name) - 1 },
	PK_SIP_FOREACH_HDR(PK_H_NAME)
#undef PK_H_NAME
};

/* --- small helpers ---------------------------------------------------- */

static char *put(char *o, const void *p, size_t n)
{
	memcpy(o, p, n);
	return o + n;
}

static uint32_t msg_off(const struct pk_sip_msg *m, const char *p)
{
	return (uint32_t)(p - m->buf);
}

/* Offset of the blank line that ends the header section. */
static uint32_t hdr_end(const struct pk_sip_msg *m)
{
	const struct pk_sip_hdr *h;

	if (unlikely(m->nhdrs == 0)) {
		const char *nl = memchr(m->buf, '\n', m->len);
		return nl ? msg_off(m, nl) + 1 : m->len;
	}
	h = &m->hdrs[m->nhdrs - 1];
	return (uint32_t)h->off + h->len;
}

/* Offset of the first body byte (just past the blank line). */
static uint32_t body_start(const struct pk_sip_msg *m, uint32_t hend)
{
	uint32_t b;

	if (m->body.len)
		return msg_off(m, m->body.p);
	b = hend + (hend < m->len && m->buf[hend] == '\r' ? 2 : 1);
	return b < m->len ? b : m->len;
}

/* Scratch space for n bytes of inserted text, or NULL (plan failed). */
static char *rw_scratch(struct pk_rw *rw, size_t n)
{
	char *p;

	if (unlikely(rw->scratch_len + n > PK_RW_SCRATCH)) {
		rw->failed = true;
		return NULL;
	}
	p = rw->scratch + rw->scratch_len;
	rw->scratch_len += (uint32_t)n;
	return p;
}

static void edits_remove(struct pk_rw *rw, unsigned i, unsigned n)
{
	memmove(&rw->edits[i], &rw->edits[i + n], (rw->nedits - i - n) * sizeof(rw->edits[0]));
	rw->nedits = (uint16_t)(rw->nedits - n);
}

static inline uint64_t tag_bit(unsigned tag)
{
	return 1ull << tag;
}

/*
 * Plan one edit: delete del bytes of the original at off and insert
 * ins[0..len) (already in scratch) there; tag says what the text sets.
 * Keeps the invariants emit relies on: edits sorted by off, equal offsets
 * in planning order, and no deletion reaching past the next edit's off
 * (only the last edit at an offset deletes). The rules for edits that meet
 * are in sip_rewrite.h; superseding an earlier value is rw_drop's job, so
 * no text is ever lost here except inside a deleted span.
 */
static int rw_put_sorted(struct pk_rw *rw, uint32_t off, uint32_t del, const char *ins, uint32_t len,
			 unsigned tag)
{
	struct pk_rw_edit *e = rw->edits;
	uint32_t ins_off = ins ? (uint32_t)(ins - rw->scratch) : 0;
	unsigned i = rw->nedits, m, j;
	uint32_t end;

	if (del == 0 && len == 0)
		return 0;
	while (i > 0 && e[i - 1].off > off)
		i--;
	if (i > 0) {
		struct pk_rw_edit *p = &e[i - 1];
		uint32_t pend = p->off + p->del;

		if (p->off < off && pend > off) {
			/* Starts inside p's deletion: the text it would have
			 * changed is gone; the deletion may reach further. */
			if (off + del > pend)
				p->del = off + del - p->off;
			m = i - 1;
			goto absorb;
		}
		if (p->off == off && p->del > 0) {
			/* p's text first, then ours, then the union of both
			 * deletions (which only the last edit at off holds). */
			if (p->del > del)
				del = p->del;
			p->del = 0;
			if (p->ins_len == 0)
				edits_remove(rw, --i, 1);
		}
	}
	if (unlikely(rw->nedits >= PK_RW_MAX_EDITS)) {
		rw->failed = true;
		return -ENOSPC;
	}
	/* Most edits are planned in message order: nothing to shift, and a
	 * few 16-byte moves are cheaper inline than a call to memmove. */
	for (j = rw->nedits; j > i; j--)
		e[j] = e[j - 1];
	e[i] = (struct pk_rw_edit){ .off = off,
				    .del = del,
				    .ins_off = (uint16_t)ins_off,
				    .ins_len = (uint16_t)len,
				    .tag = (uint8_t)(len ? tag : TAG_NONE) };
	rw->nedits++;
	if (len)
		rw->tags |= tag_bit(tag);
	m = i;
absorb:
	/* Later edits that start inside the deletion lose their text and
	 * extend it; one starting exactly at its end is adjacent and stays. */
	end = e[m].off + e[m].del;
	for (j = m + 1; j < rw->nedits && e[j].off < end; j++)
		if (e[j].off + e[j].del > end)
			end = e[j].off + e[j].del;
	e[m].del = end - e[m].off;
	if (j > m + 1)
		edits_remove(rw, m + 1, j - m - 1);
	return 0;
}

/*
 * rw_put_sorted's common case inline: an edit at or after the end of the
 * last one planned is appended as it is -- no earlier edit to search past,
 * to merge with or to absorb. The proxy plans a forwarded request in
 * message order (Request-URI, our Via, received/rport, Max-Forwards, lines
 * further down: proxy.c, pk_proxy_fwd_plan), so that is nearly every
 * edit. Anything else takes the general path.
 */
static inline int rw_put(struct pk_rw *rw, uint32_t off, uint32_t del, const char *ins, uint32_t len,
			 unsigned tag)
{
	unsigned n = rw->nedits;
	struct pk_rw_edit *e = rw->edits;

	if (likely((del | len) != 0 && n < PK_RW_MAX_EDITS && (n == 0 || e[n - 1].off + e[n - 1].del <= off))) {
		e[n] = (struct pk_rw_edit){ .off = off,
					    .del = del,
					    .ins_off = (uint16_t)(ins ? (uint32_t)(ins - rw->scratch) : 0),
					    .ins_len = (uint16_t)len,
					    .tag = (uint8_t)(len ? tag : TAG_NONE) };
		rw->nedits = (uint16_t)(n + 1);
		if (len)
			rw->tags |= tag_bit(tag);
		return 0;
	}
	return rw_put_sorted(rw, off, del, ins, len, tag);
}

/* Name of a header line this plan added: its text up to the colon. */
static struct pk_str edit_line_name(const struct pk_rw *rw, const struct pk_rw_edit *e)
{
	const char *p = rw->scratch + e->ins_off;
	const char *c = memchr(p, ':', e->ins_len);

	return pk_str_make(p, c ? (size_t)(c - p) : e->ins_len);
}

/*
 * Forget the text planned under tag (for TAG_LINE + PK_HDR_OTHER, only the
 * lines called name); a deletion such an edit carries stays. The scratch
 * is not reclaimed.
 */
static void rw_drop_tagged(struct pk_rw *rw, unsigned tag, struct pk_str name)
{
	unsigned i = 0;

	while (i < rw->nedits) {
		struct pk_rw_edit *e = &rw->edits[i];

		if (e->tag != tag || (name.len && !pk_str_caseeq(edit_line_name(rw, e), name))) {
			i++;
			continue;
		}
		e->tag = TAG_NONE;
		e->ins_len = 0;
		if (e->del == 0)
			edits_remove(rw, i, 1);
		else
			i++;
	}
}

/* Inline, so that the common case (nothing set yet) costs one test. */
static inline void rw_drop(struct pk_rw *rw, unsigned tag, struct pk_str name)
{
	if (unlikely(rw->tags & tag_bit(tag)))
		rw_drop_tagged(rw, tag, name);
}

/* The text planned under tag (the first such edit), or false. */
static bool rw_text(const struct pk_rw *rw, unsigned tag, const char **p, uint32_t *len)
{
	if (!(rw->tags & tag_bit(tag)))
		return false;
	for (unsigned i = 0; i < rw->nedits; i++)
		if (rw->edits[i].tag == tag) {
			*p = rw->scratch + rw->edits[i].ins_off;
			*len = rw->edits[i].ins_len;
			return true;
		}
	return false;
}

/* Plan the insertion of "name: value\r\n" at off, a line of header id. */
static int rw_put_line(struct pk_rw *rw, uint32_t off, uint32_t del, struct pk_str name,
		       struct pk_str value, enum pk_sip_hdr_id id)
{
	size_t n = name.len + 2 + value.len + 2;
	char *s = rw_scratch(rw, n), *o;

	if (!s)
		return -ENOSPC;
	pk_copy_short(s, name.p, (uint32_t)name.len);
	o = put(s + name.len, ": ", 2);
	pk_copy_short(o, value.p, (uint32_t)value.len);
	put(o + value.len, "\r\n", 2);
	return rw_put(rw, off, del, s, (uint32_t)n, TAG_LINE + id);
}

/* Name of header line i as written (up to the colon or whitespace). */
static struct pk_str line_name(const struct pk_sip_msg *m, unsigned i)
{
	const char *p = m->buf + m->hdrs[i].off, *q = p;
	const char *end = m->buf + m->hdrs[i].voff;

	while (q < end && *q != ':' && *q != ' ' && *q != '\t')
		q++;
	return pk_str_make(p, (size_t)(q - p));
}

static int line_by_name(const struct pk_sip_msg *m, struct pk_str name)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].id == PK_HDR_OTHER && pk_str_caseeq(line_name(m, i), name))
			return (int)i;
	return -1;
}

/*
 * Delete every header line that matches (by id, or by name for OTHER),
 * one edit per run of adjacent lines. Returns the lines removed.
 */
static int rw_remove_lines(struct pk_rw *rw, enum pk_sip_hdr_id id, struct pk_str name,
			   unsigned from)
{
	const struct pk_sip_msg *m = rw->msg;
	int removed = 0;
	unsigned i = from;

	while (i < m->nhdrs) {
		unsigned j = i;
		uint32_t off, end;

		while (j < m->nhdrs && m->hdrs[j].id == id &&
		       (id != PK_HDR_OTHER || pk_str_caseeq(line_name(m, j), name)))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		off = m->hdrs[i].off;
		end = (uint32_t)m->hdrs[j - 1].off + m->hdrs[j - 1].len;
		if (rw_put(rw, off, end - off, NULL, 0, TAG_NONE) < 0)
			return -ENOSPC;
		removed += (int)(j - i);
		i = j;
	}
	return removed;
}

/* --- public primitives ----------------------------------------------- */

void pk_rw_init(struct pk_rw *rw, const struct pk_sip_msg *msg)
{
	/* No memset: the edits and scratch are written before they are read. */
	rw->msg = msg;
	rw->nedits = 0;
	rw->failed = false;
	rw->body_replaced = false;
	rw->body = msg->body;
	rw->scratch_len = 0;
	rw->tags = 0;
}

int pk_rw_via_push(struct pk_rw *rw, const char *transport, struct pk_str host, uint16_t port,
		   struct pk_str branch, bool rport)
{
	const struct pk_sip_msg *m = rw->msg;
	size_t tlen = strlen(transport);
	size_t n = sizeof("Via: SIP/2.0/ :65535;branch=;rport\r\n") - 1 + tlen + host.len +
		   branch.len;
	uint8_t first = m->first[PK_HDR_VIA];
	uint32_t off;
	char *s, *o;

	if (first != PK_NO_LINE)
		off = m->hdrs[first].off;
	else
		off = m->nhdrs ? m->hdrs[0].off : hdr_end(m);
	s = rw_scratch(rw, n);
	if (!s)
		return -ENOSPC;
	o = put(s, "Via: SIP/2.0/", 13);
	o = put(o, transport, tlen);
	*o++ = ' ';
	o = put(o, host.p, host.len);
	if (port) {
		*o++ = ':';
		o = pk_put_u32(o, port);
	}
	o = put(o, ";branch=", 8);
	o = put(o, branch.p, branch.len);
	if (rport)
		o = put(o, ";rport", 6);
	o = put(o, "\r\n", 2);
	/* Give back the room the optional parts did not use. */
	rw->scratch_len -= (uint32_t)(n - (size_t)(o - s));
	return rw_put(rw, off, 0, s, (uint32_t)(o - s), TAG_LINE + PK_HDR_VIA);
}

int pk_rw_via_pop(struct pk_rw *rw)
{
	const struct pk_sip_msg *m = rw->msg;
	const struct pk_sip_via *v = &m->via[0];
	uint32_t off;

	if (m->nvia == 0)
		return -EINVAL;
	if (m->nvia > 1 && m->via[1].hdr == v->hdr) {
		/* More values on this line: drop ours up to the next one. */
		off = msg_off(m, v->raw.p);
		return rw_put(rw, off, msg_off(m, m->via[1].raw.p) - off, NULL, 0, TAG_NONE);
	}
	return rw_put(rw, m->hdrs[v->hdr].off, m->hdrs[v->hdr].len, NULL, 0, TAG_NONE);
}

static const char *lws_skip(const char *p, const char *end)
{
	while (p < end && pk_sip_is_lws(*p))
		p++;
	return p;
}

/*
 * Where "=port" goes in the top Via: just past the name of its rport
 * parameter (the last one, which is the one the scanner read), or NULL.
 *
 * The scanner keeps no position for a valueless rport, so this walks the
 * parameters again, with the scanner's grammar (scan_params in scan.c):
 * ';' LWS token-name LWS [ '=' LWS ( quoted-string | bytes up to one of
 * ; , SP HT CR LF " ) ] LWS. v scanned OK, so every parameter has that
 * form; the walk still stops at anything else rather than guess.
 * pk_sip_param_get reads the same grammar but returns only values.
 */
static const char *via_rport_walk(const struct pk_sip_via *v)
{
	const char *end = v->raw.p + v->raw.len;
	const char *p = v->host.p + v->host.len, *at = NULL;

	/* Past the sent-by: LWS, ":" port, LWS, then the first ';'. */
	p = memchr(p, ';', (size_t)(end - p));
	while (p && p < end && *p == ';') {
		const char *ns = lws_skip(p + 1, end), *ne = ns;

		while (ne < end && pk_sip_is_token(*ne))
			ne++;
		p = lws_skip(ne, end);
		if (p < end && *p == '=') {
			p = lws_skip(p + 1, end);
			if (p < end && *p == '"') {
				for (p++; p < end && *p != '"'; p++)
					if (*p == '\\' && p + 1 < end)
						p++;
				if (p < end)
					p++;
			} else {
				while (p < end && (*p == '=' || !pk_sip_is_pstop(*p)))
					p++;
			}
		}
		if (ne - ns == 5 && pk_str_caseeq(pk_str_make(ns, 5), PK_STR_LIT("rport")))
			at = ne;
		p = lws_skip(p, end);
	}
	return at;
}

/* What nearly every client sends, ";rport" (any case) as the Via's last
 * bytes, past its sent-by: a valueless rport parameter, and the last (a
 * quoted string cannot end the Via open, and an unquoted value ends at
 * ';'). */
static inline bool via_ends_rport(const struct pk_sip_via *v)
{
	const char *start = v->host.p + v->host.len, *end = v->raw.p + v->raw.len;

	return end - start >= 6 && end[-6] == ';' &&
	       (pk_load4(end - 5) | 0x20202020u) == (pk_load4("rpor") | 0x20202020u) && (end[-1] | 0x20) == 't';
}

/*
 * via_rport_walk's answer, found from the end in the usual case: with no
 * quoted string in the Via, every ';' past the sent-by starts a parameter
 * (an unquoted value ends at ';', and v scanned OK), so the last ';' that
 * is followed by LWS "rport" and then by LWS and ';' or the end of the
 * Via is the last rport parameter, and a valueless one. Anything else
 * (a quote, an "rport=" last, no match) takes the walk.
 */
static const char *via_rport_at(const struct pk_sip_via *v)
{
	const char *start = v->host.p + v->host.len, *end = v->raw.p + v->raw.len;

	if (via_ends_rport(v))
		return end;
	if (memchr(start, '"', (size_t)(end - start)) != NULL)
		return via_rport_walk(v);
	for (const char *p = end; p > start;) {
		const char *semi = p - 1, *ns, *ne, *q;

		while (semi >= start && *semi != ';')
			semi--;
		if (semi < start)
			break;
		p = semi;
		ns = lws_skip(semi + 1, end);
		ne = ns;
		while (ne < end && pk_sip_is_token(*ne))
			ne++;
		if (ne - ns != 5 || !pk_str_caseeq(pk_str_make(ns, 5), PK_STR_LIT("rport")))
			continue;
		q = lws_skip(ne, end);
		if (q == end || *q == ';')
			return ne;
		break; /* "rport=..." or something unexpected: the walk decides */
	}
	return via_rport_walk(v);
}

int pk_rw_via_received(struct pk_rw *rw, struct pk_str ip, uint16_t port)
{
	const struct pk_sip_msg *m = rw->msg;
	const struct pk_sip_via *v = &m->via[0];
	const char *rport_at = NULL, *rp = NULL, *rc = NULL;
	uint32_t rp_len = 0, rc_len = 0;
	int ret;

	if (m->nvia == 0)
		return -EINVAL;
	/*
	 * What the proxy asks of nearly every request, said at once: a Via
	 * ending in ";rport" and without received=, nothing of either planned
	 * yet. The same texts in the same scratch bytes and the same two
	 * edits as the general path below, without its search and choices:
	 * "=port" then ";received=ip", both at the end of the Via.
	 */
	if (likely(port && ip.len && v->rport == 0 && v->received.len == 0 &&
		   !(rw->tags & (tag_bit(TAG_RPORT) | tag_bit(TAG_RECEIVED))) && via_ends_rport(v))) {
		char *s = rw_scratch(rw, 6), *o;
		uint32_t off = msg_off(m, v->raw.p + v->raw.len);

		if (!s)
			return -ENOSPC;
		*s = '=';
		o = pk_put_u32(s + 1, port);
		rw->scratch_len -= (uint32_t)(6 - (o - s));
		/* the room asked for as the general path asks it: near a full
		 * scratch, the same calls fit */
		if (!rw_scratch(rw, 10 + ip.len))
			return -ENOSPC;
		memcpy(o, ";received=", 10);
		pk_copy_short(o + 10, ip.p, (uint32_t)ip.len);
		ret = rw_put(rw, off, 0, s, (uint32_t)(o - s), TAG_RPORT);
		if (ret < 0)
			return ret;
		return rw_put(rw, off, 0, o, (uint32_t)(10 + ip.len), TAG_RECEIVED);
	}
	if (port && v->rport == 0)
		rport_at = via_rport_at(v);
	if (!rport_at && ip.len == 0)
		return 0;
	/* The new texts; a part this call does not set keeps its earlier one. */
	if (rport_at) {
		char *s = rw_scratch(rw, 6), *o;

		if (!s)
			return -ENOSPC;
		*s = '=';
		o = pk_put_u32(s + 1, port);
		rw->scratch_len -= (uint32_t)(6 - (o - s));
		rp = s;
		rp_len = (uint32_t)(o - s);
	} else if (rw_text(rw, TAG_RPORT, &rp, &rp_len)) {
		rport_at = via_rport_at(v);
	}
	if (ip.len) {
		size_t pre = v->received.len ? 0 : 10;
		char *s = rw_scratch(rw, pre + ip.len);

		if (!s)
			return -ENOSPC;
		if (pre)
			memcpy(s, ";received=", 10);
		pk_copy_short(s + pre, ip.p, (uint32_t)ip.len);
		rc = s;
		rc_len = (uint32_t)(pre + ip.len);
	} else {
		rw_text(rw, TAG_RECEIVED, &rc, &rc_len);
	}
	/*
	 * Both planned again, rport first: when rport is the last parameter
	 * its "=port" and ";received=" go at the same offset, and the second
	 * call must not put a new "=port" after the first call's received.
	 */
	rw_drop(rw, TAG_RPORT, PK_STR_NULL);
	rw_drop(rw, TAG_RECEIVED, PK_STR_NULL);
	if (rp && rport_at) {
		ret = rw_put(rw, msg_off(m, rport_at), 0, rp, rp_len, TAG_RPORT);
		if (ret < 0)
			return ret;
	}
	if (!rc)
		return 0;
	if (v->received.len)
		return rw_put(rw, msg_off(m, v->received.p), v->received.len, rc, rc_len,
			      TAG_RECEIVED);
	return rw_put(rw, msg_off(m, v->raw.p + v->raw.len), 0, rc, rc_len, TAG_RECEIVED);
}

static int hdr_replace(struct pk_rw *rw, enum pk_sip_hdr_id id, struct pk_str value);

int pk_rw_maxfwd_set(struct pk_rw *rw, unsigned n)
{
	const struct pk_sip_msg *m = rw->msg;
	uint8_t li = m->first[PK_HDR_MAX_FORWARDS];
	char *s, *o;

	/* No line to change the value of (absent, or the plan edits the
	 * Max-Forwards lines as lines): a line of its own, set as
	 * hdr_replace does, so that the last value wins there too. */
	if (li == PK_NO_LINE || (rw->tags & tag_bit(TAG_LINE + PK_HDR_MAX_FORWARDS))) {
		char v[10];

		return hdr_replace(rw, PK_HDR_MAX_FORWARDS,
				   pk_str_make(v, (size_t)(pk_put_u32(v, n) - v)));
	}
	s = rw_scratch(rw, 10);
	if (!s)
		return -ENOSPC;
	o = pk_put_u32(s, n);
	rw->scratch_len -= (uint32_t)(10 - (o - s));
	rw_drop(rw, TAG_MAXFWD, PK_STR_NULL);
	return rw_put(rw, m->hdrs[li].voff, m->hdrs[li].vlen, s, (uint32_t)(o - s), TAG_MAXFWD);
}

int pk_rw_maxfwd_dec(struct pk_rw *rw)
{
	const struct pk_sip_msg *m = rw->msg;
	int32_t mf = m->max_forwards;
	uint8_t li = m->first[PK_HDR_MAX_FORWARDS];

	/* Every forwarded request: a value of 1 to 100 on a line of its own
	 * and no Max-Forwards planned yet. pk_rw_maxfwd_set's edit, with its
	 * one or two digits written here. */
	if (likely(mf > 0 && mf <= 100 && li != PK_NO_LINE &&
		   !(rw->tags & (tag_bit(TAG_LINE + PK_HDR_MAX_FORWARDS) | tag_bit(TAG_MAXFWD))))) {
		unsigned v = (unsigned)mf - 1, n = v >= 10 ? 2 : 1;
		char *s = rw_scratch(rw, 10); /* the room maxfwd_set asks for */

		if (!s)
			return -ENOSPC;
		rw->scratch_len -= 10 - n;
		if (n == 2) {
			s[0] = (char)('0' + v / 10);
			s[1] = (char)('0' + v % 10);
		} else {
			s[0] = (char)('0' + v);
		}
		return rw_put(rw, m->hdrs[li].voff, m->hdrs[li].vlen, s, n, TAG_MAXFWD);
	}
	if (mf < 0)
		return pk_rw_maxfwd_set(rw, 69);
	if (mf == 0)
		return -EINVAL; /* the caller answers 483 instead */
	return pk_rw_maxfwd_set(rw, (unsigned)mf - 1);
}

int pk_rw_ruri_set(struct pk_rw *rw, struct pk_str uri)
{
	const struct pk_sip_msg *m = rw->msg;
	char *s;

	if (!m->is_request || uri.len == 0)
		return -EINVAL;
	s = rw_scratch(rw, uri.len);
	if (!s)
		return -ENOSPC;
	pk_copy_short(s, uri.p, uri.len); /* mostly short: no call */
	rw_drop(rw, TAG_RURI, PK_STR_NULL);
	return rw_put(rw, msg_off(m, m->ruri.p), m->ruri.len, s, uri.len, TAG_RURI);
}

/* Where hdr_add puts a new line of header id (called nm). */
static uint32_t add_off(const struct pk_sip_msg *m, enum pk_sip_hdr_id id, struct pk_str nm,
			enum pk_rw_where where)
{
	if (where == PK_RW_TOP && m->nhdrs)
		return m->hdrs[0].off;
	if (where == PK_RW_BEFORE_FIRST_SAME) {
		int li = id != PK_HDR_OTHER ? (m->first[id] == PK_NO_LINE ? -1 : m->first[id])
					    : line_by_name(m, nm);
		if (li >= 0)
			return m->hdrs[li].off;
	}
	return hdr_end(m);
}

char *pk_rw_line_begin(struct pk_rw *rw, enum pk_sip_hdr_id id, size_t max)
{
	struct pk_str nm;
	char *s;

	if ((unsigned)id >= PK_HDR_COUNT || id == PK_HDR_OTHER || id == PK_HDR_CONTENT_LENGTH ||
	    max > PK_RW_SCRATCH)
		return NULL;
	nm = hdr_names[id];
	s = rw_scratch(rw, nm.len + 2 + max + 2);
	if (!s)
		return NULL;
	rw->line_at = (uint32_t)(s - rw->scratch);
	pk_copy_short(s, nm.p, (uint32_t)nm.len);
	return put(s + nm.len, ": ", 2);
}

int pk_rw_line_end(struct pk_rw *rw, enum pk_sip_hdr_id id, char *end, enum pk_rw_where where)
{
	char *s = rw->scratch + rw->line_at;
	uint32_t n = (uint32_t)(put(end, "\r\n", 2) - s);

	/* give back the room the value did not use */
	rw->scratch_len = rw->line_at + n;
	return rw_put(rw, add_off(rw->msg, id, hdr_names[id], where), 0, s, n, TAG_LINE + id);
}

int pk_rw_hdr_add(struct pk_rw *rw, enum pk_sip_hdr_id id, const char *name, struct pk_str value,
		  enum pk_rw_where where)
{
	const struct pk_sip_msg *m = rw->msg;
	struct pk_str nm;
	uint32_t off;

	if ((unsigned)id >= PK_HDR_COUNT)
		return -EINVAL;
	if (name)
		nm = pk_str_make(name, strlen(name));
	else if (id != PK_HDR_OTHER)
		nm = hdr_names[id];
	else
		return -EINVAL;
	/* A known header added by name is that header (Content-Length too). */
	if (id == PK_HDR_OTHER)
		id = pk_sip_hdr_lookup(nm.p, nm.len);
	if (id == PK_HDR_CONTENT_LENGTH)
		return -EINVAL;
	off = add_off(m, id, nm, where);
	return rw_put_line(rw, off, 0, nm, value, id);
}

int pk_rw_hdr_remove(struct pk_rw *rw, enum pk_sip_hdr_id id)
{
	uint8_t first;

	if ((unsigned)id >= PK_HDR_COUNT || id == PK_HDR_OTHER || id == PK_HDR_CONTENT_LENGTH)
		return -EINVAL;
	rw_drop(rw, TAG_LINE + id, PK_STR_NULL);
	/* From now on this header's lines are edited as lines (maxfwd_set). */
	rw->tags |= tag_bit(TAG_LINE + id);
	first = rw->msg->first[id];
	if (first == PK_NO_LINE)
		return 0;
	return rw_remove_lines(rw, id, PK_STR_NULL, first);
}

int pk_rw_hdr_remove_name(struct pk_rw *rw, struct pk_str name)
{
	int first;

	if (name.len == 0)
		return -EINVAL;
	rw_drop(rw, TAG_LINE + PK_HDR_OTHER, name);
	first = line_by_name(rw->msg, name);
	if (first < 0)
		return 0;
	return rw_remove_lines(rw, PK_HDR_OTHER, name, (unsigned)first);
}

/* hdr_replace without the argument checks (maxfwd_set uses it). */
static int hdr_replace(struct pk_rw *rw, enum pk_sip_hdr_id id, struct pk_str value)
{
	const struct pk_sip_msg *m = rw->msg;
	uint8_t first = m->first[id];
	int rc;

	rw_drop(rw, TAG_LINE + id, PK_STR_NULL);
	rw->tags |= tag_bit(TAG_LINE + id);
	if (first == PK_NO_LINE)
		return rw_put_line(rw, hdr_end(m), 0, hdr_names[id], value, id);
	/* The new line takes the first one's place; the rest go. */
	rc = rw_put_line(rw, m->hdrs[first].off, m->hdrs[first].len, hdr_names[id], value, id);
	if (rc < 0)
		return rc;
	rc = rw_remove_lines(rw, id, PK_STR_NULL, first + 1u);
	return rc < 0 ? rc : 0;
}

int pk_rw_hdr_replace(struct pk_rw *rw, enum pk_sip_hdr_id id, struct pk_str value)
{
	if ((unsigned)id >= PK_HDR_COUNT || id == PK_HDR_OTHER || id == PK_HDR_CONTENT_LENGTH)
		return -EINVAL;
	return hdr_replace(rw, id, value);
}

int pk_rw_route_pop_n(struct pk_rw *rw, unsigned n)
{
	const struct pk_sip_msg *m = rw->msg;
	unsigned parsed = m->nroute < PK_SIP_MAX_ROUTE ? m->nroute : PK_SIP_MAX_ROUTE;
	uint32_t off[PK_SIP_MAX_ROUTE], del[PK_SIP_MAX_ROUTE];
	unsigned i = 0, k = 0;
	int rc = 0;

	if (n == 0 || n > parsed)
		return -EINVAL;
	/* The first n entries: whole Route lines, then maybe the head of the
	 * next line (up to its first entry kept). Decided in full before
	 * anything is planned: a refusal leaves the plan as it was. */
	while (i < n) {
		const struct pk_sip_addr *r = &m->route[i];
		unsigned j = i;

		while (j < parsed && m->route[j].hdr == r->hdr)
			j++;
		if (j < n || (j == n && (j < parsed || m->nroute == parsed))) {
			/* every entry of the line goes (a line whose entries were
			 * not all parsed stays: its tail is unknown) */
			off[k] = m->hdrs[r->hdr].off;
			del[k++] = m->hdrs[r->hdr].len;
			i = j;
		} else if (n < j) {
			off[k] = msg_off(m, r->raw.p);
			del[k] = msg_off(m, m->route[n].raw.p) - off[k];
			k++;
			i = n;
		} else {
			return -E2BIG; /* the n-th entry ends a line cut by the parse limit */
		}
	}
	for (unsigned e = 0; e < k && rc >= 0; e++)
		rc = rw_put(rw, off[e], del[e], NULL, 0, TAG_NONE);
	return rc < 0 ? rc : 0;
}

int pk_rw_route_pop(struct pk_rw *rw)
{
	return pk_rw_route_pop_n(rw, 1);
}

int pk_rw_body_set(struct pk_rw *rw, struct pk_str body, struct pk_str content_type)
{
	int rc = 0;

	if (rw->body_replaced)
		return -EBUSY;
	rw->body_replaced = true;
	rw->body = body;
	if (body.len == 0)
		rc = pk_rw_hdr_remove(rw, PK_HDR_CONTENT_TYPE);
	else if (content_type.len)
		rc = pk_rw_hdr_replace(rw, PK_HDR_CONTENT_TYPE, content_type);
	return rc < 0 ? rc : 0;
}

/* --- emit -------------------------------------------------------------- */

/* Copy the original up to off, then the inserted text; false if no room.
 * (ins_small: the text is a short local buffer, copied with memcpy.) */
static inline bool emit_span(char **o, const char *oend, const char *src, uint32_t *pos,
			     uint32_t off, uint32_t del, const char *ins, uint32_t len, bool ins_small)
{
	uint32_t gap = off - *pos;

	if (unlikely((size_t)(oend - *o) < (size_t)gap + len))
		return false;
	pk_copy_short(*o, src + *pos, gap);
	if (ins_small)
		memcpy(*o + gap, ins, len);
	else
		pk_copy_short(*o + gap, ins, len);
	*o += gap + len;
	*pos = off + del;
	return true;
}

long pk_rw_emit(struct pk_rw *rw, char *out, size_t cap)
{
	const struct pk_sip_msg *m = rw->msg;
	const struct pk_rw_edit *e = rw->edits;
	const char *src = m->buf;
	char *o = out, *oend = out + cap;
	uint32_t hend, bstart, pos = 0, cl_off = UINT32_MAX, cl_del = 0, cl_len = 0;
	unsigned i = 0, n = rw->nedits;
	uint8_t li = m->first[PK_HDR_CONTENT_LENGTH];
	char cl[sizeof("Content-Length: 4294967295\r\n")];

	if (unlikely(rw->failed))
		return -ENOSPC;
	hend = hdr_end(m);
	bstart = body_start(m, hend);

	/* Content-Length always matches the body that goes out. */
	if (li == PK_NO_LINE) {
		char *c = put(cl, "Content-Length: ", 16);

		c = pk_put_u32(c, rw->body.len);
		c = put(c, "\r\n", 2);
		cl_off = hend;
		cl_len = (uint32_t)(c - cl);
	} else if (m->content_length < 0 || (uint32_t)m->content_length != rw->body.len) {
		cl_off = m->hdrs[li].voff;
		cl_del = m->hdrs[li].vlen;
		cl_len = (uint32_t)(pk_put_u32(cl, rw->body.len) - cl);
	}

	/* The edits before Content-Length's own, if it has one to make (most
	 * messages keep theirs: one loop, no test of cl_off) */
	if (unlikely(cl_len)) {
		for (; i < n && e[i].off <= cl_off; i++)
			if (!emit_span(&o, oend, src, &pos, e[i].off, e[i].del, rw->scratch + e[i].ins_off,
				       e[i].ins_len, false))
				return -ENOSPC;
		if (cl_off >= pos && !emit_span(&o, oend, src, &pos, cl_off, cl_del, cl, cl_len, true))
			return -ENOSPC;
	}
	for (; i < n; i++)
		if (!emit_span(&o, oend, src, &pos, e[i].off, e[i].del, rw->scratch + e[i].ins_off,
			       e[i].ins_len, false))
			return -ENOSPC;
	/* Rest of the headers and the blank line, then the body: one copy
	 * when the body is the original's, which follows them. */
	if (rw->body.len && rw->body.p == src + bstart) {
		if (!emit_span(&o, oend, src, &pos, bstart + rw->body.len, 0, "", 0, true))
			return -ENOSPC;
		return (long)(o - out);
	}
	if (!emit_span(&o, oend, src, &pos, bstart, 0, rw->body.p ? rw->body.p : "",
		       rw->body.len, rw->body.p == NULL))
		return -ENOSPC;
	return (long)(o - out);
}
