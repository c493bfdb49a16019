/* SPDX-License-Identifier: MIT */
/*
 * Responses built by the engine itself (100 Trying, 4xx/5xx rejections,
 * 480 "nothing to pick up"...) from a scanned request, as RFC 3261 §8.2.6
 * says: the Via, From, Call-ID and CSeq lines are copied as written, To is
 * copied and gets our tag when the request had none, and Content-Length is
 * always present (TCP needs it).
 *
 * Copying header lines verbatim rather than re-serialising their values is
 * deliberate: it keeps compact forms and parameter spelling the client will
 * match on, and it lets a request whose Via the scanner could not parse
 * still be answered (the scanner keeps the line table for rejected
 * requests). Nothing is allocated or formatted with stdio; this runs for
 * every INVITE (the 100 Trying) and every rejected request.
 */
#include <errno.h>

#include "pickup/sip_rewrite.h"

/*
 * X-macro: status code, reason phrase. RFC 3261 §21 and the extensions that
 * registered codes since (RFC 3265, 3329, 3891, 3903, 4028, 4412, 4474,
 * 5079, 5360, 5393, 5626, 5839, 6086, 6228, 6442, 6665, 8197, 8599, 8688).
 */
#define PK_SIP_FOREACH_STATUS(_)                              \
	_(100, "Trying")                                      \
	_(180, "Ringing")                                     \
	_(181, "Call Is Being Forwarded")                     \
	_(182, "Queued")                                      \
	_(183, "Session Progress")                            \
	_(199, "Early Dialog Terminated")                     \
	_(200, "OK")                                          \
	_(202, "Accepted")                                    \
	_(204, "No Notification")                             \
	_(300, "Multiple Choices")                            \
	_(301, "Moved Permanently")                           \
	_(302, "Moved Temporarily")                           \
	_(305, "Use Proxy")                                   \
	_(380, "Alternative Service")                         \
	_(400, "Bad Request")                                 \
	_(401, "Unauthorized")                                \
	_(402, "Payment Required")                            \
	_(403, "Forbidden")                                   \
	_(404, "Not Found")                                   \
	_(405, "Method Not Allowed")                          \
	_(406, "Not Acceptable")                              \
	_(407, "Proxy Authentication Required")               \
	_(408, "Request Timeout")                             \
	_(410, "Gone")                                        \
	_(412, "Conditional Request Failed")                  \
	_(413, "Request Entity Too Large")                    \
	_(414, "Request-URI Too Long")                        \
	_(415, "Unsupported Media Type")                      \
	_(416, "Unsupported URI Scheme")                      \
	_(417, "Unknown Resource-Priority")                   \
	_(420, "Bad Extension")                               \
	_(421, "Extension Required")                          \
	_(422, "Session Interval Too Small")                  \
	_(423, "Interval Too Brief")                          \
	_(424, "Bad Location Information")                    \
	_(428, "Use Identity Header")                         \
	_(429, "Provide Referrer Identity")                   \
	_(430, "Flow Failed")                                 \
	_(433, "Anonymity Disallowed")                        \
	_(436, "Bad Identity-Info")                           \
	_(437, "Unsupported Certificate")                     \
	_(438, "Invalid Identity Header")                     \
	_(439, "First Hop Lacks Outbound Support")            \
	_(440, "Max-Breadth Exceeded")                        \
	_(469, "Bad Info Package")                            \
	_(470, "Consent Needed")                              \
	_(480, "Temporarily Unavailable")                     \
	_(481, "Call/Transaction Does Not Exist")             \
	_(482, "Loop Detected")                               \
	_(483, "Too Many Hops")                               \
	_(484, "Address Incomplete")                          \
	_(485, "Ambiguous")                                   \
	_(486, "Busy Here")                                   \
	_(487, "Request Terminated")                          \
	_(488, "Not Acceptable Here")                         \
	_(489, "Bad Event")                                   \
	_(491, "Request Pending")                             \
	_(493, "Undecipherable")                              \
	_(494, "Security Agreement Required")                 \
	_(500, "Server Internal Error")                       \
	_(501, "Not Implemented")                             \
	_(502, "Bad Gateway")                                 \
	_(503, "Service Unavailable")                         \
	_(504, "Server Time-out")                             \
	_(505, "Version Not Supported")                       \
	_(513, "Message Too Large")                           \
	_(555, "Push Notification Service Not Supported")     \
	_(580, "Precondition Failure")                        \
	_(600, "Busy Everywhere")                             \
	_(603, "Decline")                                     \
	_(604, "Does Not Exist Anywhere")                     \
	_(606, "Not Acceptable")                              \
	_(607, "Unwanted")                                    \
	_(608, "Rejected")

/* The reason phrase of status and its length (the builder copies it
 * without a strlen). */
static const char *reason_lookup(unsigned status, size_t *len)
{
#define PK_R(text) (*len = sizeof(text) - 1, text)
	/* A switch: the compiler turns it into a jump table per class. */
	switch (status) {
#define PK_S_CASE(code, text) \
	case code:            \
		return PK_R(text);
		PK_SIP_FOREACH_STATUS(PK_S_CASE)
#undef PK_S_CASE
	default:
		break;
	}
	/* A code we do not know: a phrase naming its class (RFC 3261 §21,
	 * §8.1.3.2 treats an unknown 1xx as 183). */
	switch (status / 100) {
	case 1:
		return PK_R("Session Progress");
	case 2:
		return PK_R("OK");
	case 3:
		return PK_R("Redirection");
	case 4:
		return PK_R("Client Error");
	case 5:
		return PK_R("Server Error");
	case 6:
		return PK_R("Global Failure");
	default:
		return PK_R("Unknown");
	}
#undef PK_R
}

const char *pk_sip_reason_phrase(unsigned status)
{
	size_t len;

	return reason_lookup(status, &len);
}

/*
 * Output cursor; all writes are checked against the end once each. Lines
 * copied from the request are held back as a run while the next one
 * starts where the run ends (From and To, Call-ID and CSeq are usually
 * written one after the other): each run is one memcpy, the same bytes.
 */
struct resp_out {
	char *o, *end;
	const char *run; /* request bytes not copied yet */
	size_t runlen;
	bool full;
};

static void out_put(struct resp_out *w, const void *p, size_t n)
{
	if (unlikely((size_t)(w->end - w->o) < n)) {
		w->full = true;
		return;
	}
	memcpy(w->o, p, n);
	w->o += n;
}

static void out_flush(struct resp_out *w)
{
	if (w->runlen) {
		out_put(w, w->run, w->runlen);
		w->runlen = 0;
	}
}

/* n bytes of the request at p, after what was copied or held before. */
static void out_req(struct resp_out *w, const char *p, size_t n)
{
	if (p == w->run + w->runlen) {
		w->runlen += n;
		return;
	}
	out_flush(w);
	w->run = p;
	w->runlen = n;
}

static void out_line(struct resp_out *w, const struct pk_sip_msg *m, unsigned i)
{
	out_req(w, m->buf + m->hdrs[i].off, m->hdrs[i].len);
}

/* Copy every line of header id, in order. */
static void out_lines(struct resp_out *w, const struct pk_sip_msg *m, enum pk_sip_hdr_id id)
{
	uint8_t first = m->first[id];

	if (first == 0xff)
		return;
	if (m->count[id] == 1) {
		/* the usual single Via: no walk of the table (first is past
		 * nhdrs when the scan stopped before its table was complete) */
		if (first < m->nhdrs)
			out_line(w, m, first);
		return;
	}
	for (unsigned i = first; i < m->nhdrs; i++)
		if (m->hdrs[i].id == id)
			out_line(w, m, i);
}

/*
 * Does an address value (To) carry a tag? Looked up in the text rather
 * than taken from msg->to, which a rejected request may not have filled.
 */
static bool addr_has_tag(struct pk_str v)
{
	const char *p = v.p, *end = v.p + v.len, *params = NULL;

	while (p < end && !params) {
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && p + 1 < end)
					p++;
			p++;
		} else if (*p == '<') {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			params = gt ? gt + 1 : end;
		} else if (*p == ';') {
			params = p;
		} else {
			p++;
		}
	}
	if (!params || params >= end)
		return false;
	return pk_sip_param_get(pk_str_make(params, (size_t)(end - params)), "tag", NULL);
}

/* Name of header line i as written, for headers the scanner does not know. */
static bool line_named(const struct pk_sip_msg *m, unsigned i, struct pk_str name)
{
	const char *p = m->buf + m->hdrs[i].off;

	return m->hdrs[i].id == PK_HDR_OTHER && (uint32_t)(m->hdrs[i].voff - m->hdrs[i].off) > name.len &&
	       pk_str_caseeq(pk_str_make(p, name.len), name) &&
	       (p[name.len] == ':' || p[name.len] == ' ' || p[name.len] == '\t');
}

long pk_sip_response_build(const struct pk_sip_msg *req, unsigned status, const char *reason,
			   struct pk_str to_tag, struct pk_str extra, char *out, size_t cap)
{
	struct resp_out w = { out, out + cap, req->buf, 0, false };
	char sl[sizeof("SIP/2.0 999 ")];
	uint8_t to = req->first[PK_HDR_TO];
	size_t rlen;

	/* Never answer a response or an ACK (RFC 3261 §17.2.1). */
	if (status < 100 || status > 699 || !req->is_request || req->method == PK_SIP_ACK)
		return -EINVAL;
	if (!reason)
		reason = reason_lookup(status, &rlen);
	else
		rlen = strlen(reason);

	memcpy(sl, "SIP/2.0 ", 8);
	sl[8] = (char)('0' + status / 100);
	sl[9] = (char)('0' + status / 10 % 10);
	sl[10] = (char)('0' + status % 10);
	sl[11] = ' ';
	out_put(&w, sl, 12);
	out_put(&w, reason, rlen);
	out_put(&w, "\r\n", 2);

	/* §8.2.6.2: the Vias in order, From, Call-ID, CSeq equal the request's. */
	out_lines(&w, req, PK_HDR_VIA);
	if (req->first[PK_HDR_FROM] != 0xff)
		out_line(&w, req, req->first[PK_HDR_FROM]);
	if (to != 0xff) {
		const struct pk_sip_hdr *h = &req->hdrs[to];

		if (status > 100 && to_tag.len && !addr_has_tag(pk_sip_hdr_value(req, to))) {
			out_req(&w, req->buf + h->off, (size_t)h->voff + h->vlen - h->off);
			out_flush(&w);
			if (likely(to_tag.len == 16 && w.end - w.o >= 23)) {
				/* our own 16 hex digits (pk_worker_to_tag): fixed-size copies */
				memcpy(w.o, ";tag=", 5);
				memcpy(w.o + 5, to_tag.p, 16);
				memcpy(w.o + 21, "\r\n", 2);
				w.o += 23;
			} else {
				out_put(&w, ";tag=", 5);
				out_put(&w, to_tag.p, to_tag.len);
				out_put(&w, "\r\n", 2);
			}
		} else {
			out_line(&w, req, to);
		}
	}
	if (req->first[PK_HDR_CALL_ID] != 0xff)
		out_line(&w, req, req->first[PK_HDR_CALL_ID]);
	if (req->first[PK_HDR_CSEQ] != 0xff)
		out_line(&w, req, req->first[PK_HDR_CSEQ]);
	if (status == 100) {
		/* §8.2.6.1: a 100 echoes Timestamp. */
		for (unsigned i = 0; i < req->nhdrs; i++)
			if (line_named(req, i, PK_STR_LIT("Timestamp")))
				out_line(&w, req, i);
	} else if (status < 300) {
		/* §12.1.1: a dialog-creating response carries the Record-Route. */
		out_lines(&w, req, PK_HDR_RECORD_ROUTE);
	}
	out_flush(&w);
	if (extra.len)
		out_put(&w, extra.p, extra.len);
	out_put(&w, "Content-Length: 0\r\n\r\n", 21);
	if (w.full)
		return -ENOSPC;
	return (long)(w.o - out);
}
