/* SPDX-License-Identifier: MIT */
/*
 * Rewriting primitives for a SIP proxy, and the response builder.
 *
 * A rewrite is planned against a scanned message (struct pk_sip_msg) as a
 * short list of edits -- delete a span, insert text at an offset, replace a
 * span -- and then emitted in one pass that copies the unchanged spans of
 * the original and the inserted text into a caller-supplied output buffer.
 * Nothing is allocated; inserted text lives in the rewriter's own scratch
 * area. All functions may be called from a worker.
 *
 * Every edit names offsets of the ORIGINAL message, so edits compose in any
 * order, by these rules:
 *  - texts inserted at the same offset come out in the order they were
 *    planned, and before a span deleted there;
 *  - setting a value again supersedes what the plan had set, whatever was
 *    planned in between: the last value wins (ruri_set, maxfwd_set/_dec,
 *    the received and rport parts of via_received, hdr_replace, and
 *    body_set's Content-Type, which is hdr_replace);
 *  - hdr_remove and hdr_replace of a header act on its lines in the
 *    message AND on the lines of it this plan added (hdr_add, hdr_replace,
 *    via_push for Via, maxfwd_set on a message without Max-Forwards);
 *    hdr_remove_name likewise for lines added by that name;
 *  - deletions add up; text planned strictly inside a span that is deleted
 *    is dropped (via_received, then via_pop of the same Via);
 *  - via_pop and route_pop remove values of the original message only.
 * The edit list is kept sorted and free of overlaps while planning, so
 * emit is a plain copy loop.
 *
 * Typical forwarding of a request:
 *	pk_rw_init(&rw, msg);
 *	pk_rw_via_push(&rw, "UDP", host, 5060, branch, true);
 *	pk_rw_maxfwd_dec(&rw);
 *	pk_rw_ruri_set(&rw, new_uri);
 *	n = pk_rw_emit(&rw, out, sizeof(out));
 */
#ifndef PICKUP_SIP_REWRITE_H
#define PICKUP_SIP_REWRITE_H

#include "pickup/sip.h"

#define PK_RW_MAX_EDITS 24
#define PK_RW_SCRATCH 2048

/* Edits are kept sorted by off (planning order among equal offsets), and a
 * deletion never reaches past the next edit's off. Private to rewrite.c. */
struct pk_rw_edit {
	uint32_t off;	  /* where, in the original message */
	uint32_t del;	  /* bytes of the original removed from off */
	uint16_t ins_off; /* inserted text: offset into scratch */
	uint16_t ins_len;
	uint8_t tag;	  /* what the text sets, so that a later setter finds it */
};

struct pk_rw {
	const struct pk_sip_msg *msg;
	uint16_t nedits;
	bool failed;	/* an edit did not fit (too many, or no scratch) */
	bool body_replaced;
	struct pk_str body; /* body to emit (the original unless replaced) */
	uint32_t scratch_len;
	uint32_t line_at; /* scratch offset of the line pk_rw_line_begin opened */
	uint64_t tags;	/* bit per tag an edit may carry, and per header edited
			 * as whole lines (rewrite.c) */
	struct pk_rw_edit edits[PK_RW_MAX_EDITS];
	char scratch[PK_RW_SCRATCH];
};

/*
 * Start planning edits of msg (which must have scanned as PK_SIP_OK, and
 * whose buffer must outlive the emits). Cheap: no memset of the scratch.
 * Unless said otherwise, the functions below return 0, -ENOSPC when the
 * edit list or the scratch is full (the plan is then failed and emit
 * returns -ENOSPC too), or -EINVAL for a request that does not apply to
 * this message (which leaves the plan as it was).
 */
void pk_rw_init(struct pk_rw *rw, const struct pk_sip_msg *msg);

/*
 * Add a Via on top: "Via: SIP/2.0/<transport> <host>[:port];branch=<b>[;rport]",
 * as its own line just above the first Via line. host as written in a Via
 * (an IPv6 address in brackets); port 0 leaves it out.
 */
int pk_rw_via_push(struct pk_rw *rw, const char *transport, struct pk_str host,
		   uint16_t port, struct pk_str branch, bool rport);

/* Remove the top Via value (the whole line if it holds only that value;
 * "v: a, b" keeps "v: b"). Of the original message: a Via pushed by this
 * plan stays. */
int pk_rw_via_pop(struct pk_rw *rw);

/*
 * RFC 3581 / RFC 3261 §18.2.1 on the received top Via: add ";received=ip"
 * (when ip is not empty; an existing received= gets the new value) and fill
 * "rport" with port (when the Via has an empty rport param and port is not
 * 0). Called again, each part that is given replaces the earlier one; a
 * part not given (empty ip, port 0) keeps what was planned.
 */
int pk_rw_via_received(struct pk_rw *rw, struct pk_str ip, uint16_t port);

/* Set Max-Forwards to n (added at the bottom when absent). Called again,
 * the last value wins: one line either way. */
int pk_rw_maxfwd_set(struct pk_rw *rw, unsigned n);
/* Decrement the message's Max-Forwards (absent: add it as 69, i.e.
 * 70 - 1), i.e. maxfwd_set(original - 1): twice is the same as once.
 * Caller has already answered 483 for 0: -EINVAL then. */
int pk_rw_maxfwd_dec(struct pk_rw *rw);

/* Replace the Request-URI (-EINVAL for a response or an empty uri). */
int pk_rw_ruri_set(struct pk_rw *rw, struct pk_str uri);

/* Where a new header line goes. */
enum pk_rw_where {
	PK_RW_TOP,    /* before the first header line */
	PK_RW_BOTTOM, /* after the last header line */
	PK_RW_BEFORE_FIRST_SAME, /* before the first line of that header, else bottom */
};

/*
 * Add the header line "name: value". name may be NULL when id is a known
 * header (its canonical name is used). With PK_HDR_OTHER and a name,
 * PK_RW_BEFORE_FIRST_SAME looks the line up by name; a name the scanner
 * knows counts as that header. Content-Length is managed by emit: -EINVAL
 * for it here (by id or by name) and in remove/replace.
 */
int pk_rw_hdr_add(struct pk_rw *rw, enum pk_sip_hdr_id id, const char *name,
		  struct pk_str value, enum pk_rw_where where);

/*
 * pk_rw_hdr_add of a known header (not PK_HDR_OTHER, not Content-Length)
 * whose value the caller writes in place, into the plan's scratch, instead
 * of into a buffer of its own that hdr_add would copy: pk_rw_line_begin
 * reserves "<name>: " + max + CRLF, writes the name and ": " and returns
 * where the value goes (NULL: no room -- the plan is failed, as hdr_add's
 * -ENOSPC would leave it -- or a header id that hdr_add by id refuses).
 * The caller writes at most max bytes there and passes the end of what it
 * wrote to pk_rw_line_end, which ends the line, gives back the room not
 * used and plans it exactly as pk_rw_hdr_add(rw, id, NULL, value, where)
 * would. No other call on rw between the two.
 */
char *pk_rw_line_begin(struct pk_rw *rw, enum pk_sip_hdr_id id, size_t max);
int pk_rw_line_end(struct pk_rw *rw, enum pk_sip_hdr_id id, char *end, enum pk_rw_where where);

/* Remove every line of header id (Route, Replaces, Require, ...), those
 * this plan added included. Returns how many lines of the message were
 * removed (0 if none), or -ENOSPC. */
int pk_rw_hdr_remove(struct pk_rw *rw, enum pk_sip_hdr_id id);

/* The same for a header the scanner does not know (id PK_HDR_OTHER), by
 * its name as written, compared case-insensitively (lines hdr_add added
 * under that name go too). */
int pk_rw_hdr_remove_name(struct pk_rw *rw, struct pk_str name);

/* Remove every line of header id (those this plan added included) and add
 * "name: value" where the first line of the message stood (or at the
 * bottom). Called again, the last value wins. */
int pk_rw_hdr_replace(struct pk_rw *rw, enum pk_sip_hdr_id id, struct pk_str value);

/* Remove the first Route entry (loose routing, RFC 3261 §16.4); the rest
 * of a "Route: <a>, <b>" line stays. -EINVAL when there is no Route. */
int pk_rw_route_pop(struct pk_rw *rw);
/* Remove the first n Route entries (a proxy's own double Record-Route,
 * RFC 5658, comes back as two): whole lines, and the head of a line of
 * which only the first entries go. -EINVAL when n is 0 or there are fewer
 * than n parsed entries (PK_SIP_MAX_ROUTE at most); -E2BIG when the n-th
 * ends the last parsed line and more entries follow unparsed (where that
 * line ends is unknown); nothing is planned then. A full edit table
 * (-ENOSPC) fails the whole plan, as for every edit. */
int pk_rw_route_pop_n(struct pk_rw *rw, unsigned n);

/*
 * Replace the body (Content-Length follows). The view must outlive emit.
 * content_type replaces (or adds) Content-Type as hdr_replace does; empty
 * keeps the original, and an empty body drops the Content-Type line (as
 * hdr_remove). Once per plan: -EBUSY for a second call.
 */
int pk_rw_body_set(struct pk_rw *rw, struct pk_str body, struct pk_str content_type);

/*
 * Emit the rewritten message into out. Content-Length is made to match the
 * body that is emitted (added when absent). Returns the length, or -ENOSPC
 * when out is too small or an edit failed. The plan stays valid: emit may be
 * called again (for example for a second destination).
 */
long pk_rw_emit(struct pk_rw *rw, char *out, size_t cap);

/*
 * Build a response to the request req (RFC 3261 §8.2.6): status line,
 * every Via line of the request in order, From, To (with to_tag added when
 * the request's To had none and to_tag is not empty and status > 100),
 * Call-ID, CSeq, (a 100 also echoes Timestamp, §8.2.6.1; a 101..299 copies
 * Record-Route, §12.1.1), then extra (already formatted header lines, each
 * ending in CRLF; may be empty), then "Content-Length: 0". Lines are copied
 * as written, so a request the scanner rejected (PK_SIP_REJECT) can be
 * answered too. reason NULL uses the standard phrase. Returns the length,
 * -ENOSPC, or -EINVAL (status outside 100..699, req not a request, or ACK).
 */
long pk_sip_response_build(const struct pk_sip_msg *req, unsigned status, const char *reason,
			   struct pk_str to_tag, struct pk_str extra, char *out, size_t cap);

/* Standard reason phrase of a status code ("Temporarily Unavailable"); a
 * phrase naming the class for a code not registered. Never NULL. */
const char *pk_sip_reason_phrase(unsigned status);

#endif /* PICKUP_SIP_REWRITE_H */
