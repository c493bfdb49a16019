/* SPDX-License-Identifier: MIT */
/*
 * The slow path: libosip2 parses what the fast scanner declines.
 *
 * The scanner declines only syntax ordinary phones never send (today: bare
 * LF line ends). Rather than teach the zero-copy scanner a second grammar,
 * such a message goes through libosip2, which accepts CR, LF or CRLF line
 * ends and line folding, and is serialised back with osip_message_to_str:
 * one header per line, CRLF everywhere, folding replaced by spaces. That
 * canonical text is copied into the caller's scratch buffer and scanned by
 * the fast scanner, so the slow path applies exactly the same validation
 * and yields the same kind of views as the fast path -- only into scratch.
 *
 * What libosip2 changes on the way (all harmless to the engine): headers
 * come out grouped (Via, Record-Route, Route, From, To, Call-ID, CSeq,
 * Contact, ..., other headers, Content-Length last), comma lists of most
 * headers as one value per line, names of headers it does not know
 * capitalised ("Max-forwards"), URI user parts with unreserved characters
 * unescaped, and a Content-Length header always present.
 *
 * Before libosip2 runs, the scanner scans a copy of the message whose bare
 * LFs are made CRLF: if it refuses that copy (400, 505, drop), that is the
 * verdict, with the copy's views for the answer -- libosip2 is more
 * lenient than the scanner and its canonical text would hide the error.
 *
 * When libosip2 cannot parse the message either, a request still needs
 * the headers of its 400 answer: the scanner is run on a copy whose bare
 * LFs are made CRLF, which yields Via/From/To/Call-ID/CSeq when they are
 * there, and the verdict is REJECT 400 "unparseable" (or the more precise
 * rejection that scan found). Responses are dropped.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h> /* osip_free is free() */

#include <osipparser2/osip_parser.h>

#include "pickup/sip_slow.h"

static bool slow_ready;

/* libosip2's trace sink: without one installed, it prints to stdout. */
static void slow_trace_quiet(const char *file, int line, osip_trace_level_t level,
			     const char *fmt, va_list ap)
{
	(void)file;
	(void)line;
	(void)level;
	(void)fmt;
	(void)ap;
}

int pk_sip_slow_init(void)
{
	if (slow_ready)
		return 0;
	if (parser_init() != 0)
		return -1;
	/* libosip2 reports every parse error on stdout unless told where to;
	 * a packet path must not log per message (malformed input is counted
	 * by the caller), and pk-sipdump's stdout is JSON. */
	osip_trace_initialize_func(TRACE_LEVEL0, slow_trace_quiet);
	for (int l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	slow_ready = true;
	return 0;
}

static bool is_response(const char *buf, size_t len)
{
	return len >= 4 && memcmp(buf, "SIP/", 4) == 0;
}

/*
 * Copy buf into out with every LF not preceded by CR turned into CRLF, up
 * to the end of the headers (the body is copied as is: Content-Length
 * counts its bytes). Returns the copy's length, or 0 if out is too small.
 */
static size_t crlf_copy(const char *buf, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	bool in_body = false;
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (!in_body && ch == '\n' && (i == 0 || buf[i - 1] != '\r')) {
			if (o + 2 > cap)
				return 0;
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			if (o + 1 > cap)
				return 0;
			out[o++] = ch;
		}
		/* an empty line (LF or CRLF after a line end) ends the headers */
		if (!in_body && ch == '\n' && o >= 4 && memcmp(out + o - 4, "\r\n\r\n", 4) == 0)
			in_body = true;
	}
	return o;
}

/* libosip2 could not make sense of the message: answer a request if we
 * can, from v, the scanner's verdict on its CRLF copy (n bytes in scratch,
 * scanned into msg; n 0: no copy, or the message is a response). */
static enum pk_sip_verdict slow_unparseable_scanned(size_t n, enum pk_sip_verdict v, struct pk_sip_msg *msg)
{
	if (n && msg->is_request) {
		if (v == PK_SIP_REJECT || v == PK_SIP_DROP)
			return v; /* the scanner found a precise reason (or no Via) */
		if (msg->nvia > 0) {
			msg->status = 400;
			msg->why = "unparseable";
			return PK_SIP_REJECT;
		}
	}
	/* a response, or a request we cannot answer */
	msg->status = 0;
	msg->why = "unparseable";
	return PK_SIP_DROP;
}

/* The same, the CRLF copy of buf made and scanned here. */
static enum pk_sip_verdict slow_unparseable(const char *buf, size_t len, char *scratch,
					    size_t cap, struct pk_sip_msg *msg)
{
	size_t n = is_response(buf, len) ? 0 : crlf_copy(buf, len, scratch, cap);

	return slow_unparseable_scanned(n, n ? pk_sip_scan(scratch, n, msg) : PK_SIP_DROP, msg);
}

enum pk_sip_verdict pk_sip_scan_slow(const char *buf, size_t len, char *scratch, size_t cap,
				     struct pk_sip_msg *msg)
{
	assert(slow_ready);
	osip_message_t *om = NULL;
	char *text = NULL;
	size_t tlen = 0;
	enum pk_sip_verdict v;

	if (len > PK_SIP_MAX_MSG) {
		/* same limit as the fast path, which already said so */
		return pk_sip_scan(buf, len, msg);
	}
	/*
	 * The scanner's verdict on a CRLF copy comes first. libosip2 is
	 * lenient where the scanner is not (it recomputes a negative
	 * Content-Length, writes an addr-spec Contact holding '?' inside <>),
	 * so its canonical text could turn a message the scanner refuses
	 * into one it accepts; a bare-LF message must get the answer its
	 * CRLF twin gets. A refusal keeps the copy's views for the answer.
	 */
	size_t n = crlf_copy(buf, len, scratch, cap);
	enum pk_sip_verdict vcopy = n ? pk_sip_scan(scratch, n, msg) : PK_SIP_DROP;
	if (n && (vcopy == PK_SIP_REJECT || vcopy == PK_SIP_DROP))
		return vcopy;
	if (osip_message_init(&om) != 0) {
		v = PK_SIP_DROP;
		msg->status = 0;
		msg->why = "slow path: out of memory";
		goto out;
	}
	if (osip_message_parse(om, buf, len) != 0 || osip_message_to_str(om, &text, &tlen) != 0) {
		/* scratch and msg still hold the CRLF copy and its scan */
		v = slow_unparseable_scanned(is_response(buf, len) ? 0 : n, vcopy, msg);
		goto out;
	}
	if (tlen > cap) {
		v = PK_SIP_DROP;
		msg->status = 0;
		msg->why = "slow path: canonical form too large";
		goto out;
	}
	memcpy(scratch, text, tlen);
	v = pk_sip_scan(scratch, tlen, msg);
	if (v == PK_SIP_SLOW) {
		/* libosip2 writes CRLF only, so this would be a scanner change
		 * that declines something new: never loop, refuse it. */
		v = slow_unparseable(buf, len, scratch, cap, msg);
	}
out:
	if (text)
		osip_free(text);
	if (om)
		osip_message_free(om);
	return v;
}

enum pk_sip_verdict pk_sip_parse(const char *buf, size_t len, char *scratch, size_t cap,
				 struct pk_sip_msg *msg, bool *slow)
{
	enum pk_sip_verdict v = pk_sip_scan(buf, len, msg);
	*slow = v == PK_SIP_SLOW;
	if (likely(v != PK_SIP_SLOW))
		return v;
	return pk_sip_scan_slow(buf, len, scratch, cap, msg);
}
