/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the rewriting primitives (dataplane/sip/rewrite.c). Every
 * case scans a realistic message, plans edits, emits, and scans the OUTPUT
 * again with pk_sip_scan: what a next hop would parse is what is asserted
 * (top Via, Max-Forwards, Request-URI, Route entries, Content-Length equal
 * to the body), together with the lines that must come through unchanged,
 * byte for byte and in order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pickup/sip_rewrite.h"
#include "../../dataplane/sip/copy.h"

/* --- messages ----------------------------------------------------------- */

#define SDP_BODY                                              \
	"v=0\r\n"                                             \
	"o=carol 2890844526 2890844526 IN IP4 192.0.2.10\r\n" \
	"s=-\r\n"                                             \
	"c=IN IP4 192.0.2.10\r\n"                             \
	"t=0 0\r\n"                                           \
	"m=audio 49170 RTP/AVP 0 8\r\n"                       \
	"a=rtpmap:0 PCMU/8000\r\n" /* 136 bytes */

/* A picker's INVITE to a group number, as a phone sends it. */
static const char invite[] =
	"INVITE sip:*801@pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
	"Max-Forwards: 70\r\n"
	"To: <sip:*801@pbx.example.com>\r\n"
	"From: \"Carol\" <sip:carol@example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:carol@192.0.2.10:5060>\r\n"
	"Supported: replaces, timer\r\n"
	"User-Agent: TestPhone/1.0\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 136\r\n"
	"\r\n" SDP_BODY;

/* Compact forms everywhere, two Via values on one line, no Max-Forwards. */
static const char compact[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"v: SIP/2.0/UDP proxy1.example.com;branch=z9hG4bK1a, SIP/2.0/TCP 192.0.2.20:5070;branch=z9hG4bK2b;received=198.51.100.2\r\n"
	"v: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bK3c\r\n"
	"t: Bob <sip:bob@biloxi.example.com>\r\n"
	"f: Alice <sip:alice@atlanta.example.com>;tag=88sja8x\r\n"
	"i: 987asjd97y7atg@pc10.atlanta.example.com\r\n"
	"CSeq: 986759 INVITE\r\n"
	"m: <sip:alice@192.0.2.30>\r\n"
	"k: replaces\r\n"
	"c: application/sdp\r\n"
	"l: 136\r\n"
	"\r\n" SDP_BODY;

/* A mid-dialog request with a Route set: two entries on the first line. */
static const char routed_bye[] =
	"BYE sip:alice@192.0.2.30:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bKnashds7\r\n"
	"Max-Forwards: 7\r\n"
	"Route: <sip:pbx.example.com;lr>, <sip:edge1.example.com;lr;transport=tcp>\r\n"
	"Route: <sip:edge2.example.com;lr>\r\n"
	"From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
	"To: Alice <sip:alice@atlanta.example.com>;tag=88sja8x\r\n"
	"Call-ID: 987asjd97y7atg@pc10.atlanta.example.com\r\n"
	"CSeq: 231 BYE\r\n"
	"X-Foo: one\r\n"
	"Reason: Q.850;cause=16\r\n"
	"x-foo: two\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

/* A datagram without Content-Length (the body is the rest of it). */
static const char no_cl[] =
	"MESSAGE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKmsg1;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:alice@atlanta.example.com>;tag=49583\r\n"
	"To: <sip:bob@biloxi.example.com>\r\n"
	"Call-ID: asd88asd77a@192.0.2.30\r\n"
	"CSeq: 1 MESSAGE\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Watson, come here.";

/* A response on its way back: our Via on top, then the caller's two. */
static const char ringing[] =
	"SIP/2.0 180 Ringing\r\n"
	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKpk1\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=40001;received=198.51.100.7\r\n"
	"To: <sip:bob@biloxi.example.com>;tag=314159\r\n"
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:bob@192.0.2.4>\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

/* --- helpers ------------------------------------------------------------ */

static struct pk_sip_msg in, out;
static struct pk_rw rw;
static char obuf[8192];

static void scan_in(const char *s)
{
	enum pk_sip_verdict v = pk_sip_scan(s, strlen(s), &in);

	if (v != PK_SIP_OK)
		print_error("input does not scan: %s\n", in.why);
	assert_int_equal(v, PK_SIP_OK);
	/* The inputs are exact: Content-Length (when present) covers the rest. */
	assert_int_equal(in.len, strlen(s));
	pk_rw_init(&rw, &in);
}

/* Emit into obuf and scan the result into out; returns its length. */
static long emit_rescan(void)
{
	long n = pk_rw_emit(&rw, obuf, sizeof(obuf));
	enum pk_sip_verdict v;

	assert_true(n > 0);
	v = pk_sip_scan(obuf, (size_t)n, &out);
	if (v != PK_SIP_OK)
		print_error("output does not scan (%s):\n%.*s\n", out.why, (int)n, obuf);
	assert_int_equal(v, PK_SIP_OK);
	/* Nothing past the body, and Content-Length always says how long it is. */
	assert_int_equal(out.len, n);
	assert_int_equal(out.content_length, (int32_t)out.body.len);
	return n;
}

#define assert_pkstr(s, lit) assert_pkstr_((s), (lit), __FILE__, __LINE__)
static void assert_pkstr_(struct pk_str s, const char *c, const char *file, int line)
{
	if (s.len != strlen(c) || (s.len && memcmp(s.p, c, s.len) != 0)) {
		print_error("'%.*s' != '%s'\n", (int)s.len, s.p ? s.p : "", c);
		_fail(file, line);
	}
}

static struct pk_str S(const char *c)
{
	return pk_str_make(c, strlen(c));
}

static struct pk_str line_text(const struct pk_sip_msg *m, unsigned i)
{
	return pk_str_make(m->buf + m->hdrs[i].off, m->hdrs[i].len);
}

#define BIT(id) (1ull << PK_HDR_##id)

static bool skipped(const struct pk_sip_msg *m, unsigned i, uint64_t skip)
{
	return (skip >> m->hdrs[i].id) & 1;
}

/*
 * Every header line of a whose id is not in skip appears in b, byte for
 * byte and in the same order, and b has no other lines outside skip.
 */
static void assert_lines_kept(const struct pk_sip_msg *a, const struct pk_sip_msg *b, uint64_t skip)
{
	unsigned i = 0, j = 0;

	for (;;) {
		while (i < a->nhdrs && skipped(a, i, skip))
			i++;
		while (j < b->nhdrs && skipped(b, j, skip))
			j++;
		if (i == a->nhdrs || j == b->nhdrs)
			break;
		if (!pk_str_eq(line_text(a, i), line_text(b, j))) {
			struct pk_str x = line_text(a, i), y = line_text(b, j);
			print_error("line %u '%.*s' became '%.*s'\n", i, (int)x.len, x.p, (int)y.len, y.p);
			fail();
		}
		i++;
		j++;
	}
	assert_int_equal(i, a->nhdrs);
	assert_int_equal(j, b->nhdrs);
}

/* Lines of b whose name (as written) is name. */
static unsigned count_named(const struct pk_sip_msg *b, const char *name)
{
	unsigned n = 0;
	size_t l = strlen(name);

	for (unsigned i = 0; i < b->nhdrs; i++)
		if ((size_t)(b->hdrs[i].voff - b->hdrs[i].off) > l &&
		    pk_str_caseeq(pk_str_make(b->buf + b->hdrs[i].off, l), pk_str_make(name, l)) &&
		    b->buf[b->hdrs[i].off + l] == ':')
			n++;
	return n;
}

/* --- forwarding --------------------------------------------------------- */

static void test_forward_invite_exact(void **state)
{
	static const char expect[] =
		"INVITE sip:carol@192.0.2.10:5060;transport=udp SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKpk1;rport\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
		"Max-Forwards: 69\r\n"
		"To: <sip:*801@pbx.example.com>\r\n"
		"From: \"Carol\" <sip:carol@example.com>;tag=1928301774\r\n"
		"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
		"CSeq: 314159 INVITE\r\n"
		"Contact: <sip:carol@192.0.2.10:5060>\r\n"
		"Supported: replaces, timer\r\n"
		"User-Agent: TestPhone/1.0\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 136\r\n"
		"\r\n" SDP_BODY;
	long n;

	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKpk1"), true), 0);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:carol@192.0.2.10:5060;transport=udp")), 0);
	n = emit_rescan();
	assert_int_equal(n, sizeof(expect) - 1);
	assert_memory_equal(obuf, expect, sizeof(expect) - 1);

	assert_int_equal(out.nvia, 2);
	assert_pkstr(out.via[0].host, "10.0.0.1");
	assert_int_equal(out.via[0].port, 5060);
	assert_pkstr(out.via[0].branch, "z9hG4bKpk1");
	assert_int_equal(out.via[0].rport, 0);
	assert_true(pk_str_eq(out.via[1].raw, in.via[0].raw));
	assert_int_equal(out.max_forwards, 69);
	assert_pkstr(out.ruri, "sip:carol@192.0.2.10:5060;transport=udp");
	assert_true(pk_str_eq(out.body, in.body));
	assert_lines_kept(&in, &out, BIT(VIA) | BIT(MAX_FORWARDS));
}

static void test_via_push_ipv6_no_port(void **state)
{
	(void)state;
	scan_in(routed_bye);
	assert_int_equal(pk_rw_via_push(&rw, "TCP", S("[2001:db8::1]"), 0, S("z9hG4bK.x-1"), false), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 2);
	assert_pkstr(out.via[0].transport, "TCP");
	assert_pkstr(out.via[0].host, "[2001:db8::1]");
	assert_int_equal(out.via[0].port, 0);
	assert_int_equal(out.via[0].rport, -1);
	assert_pkstr(out.via[0].branch, "z9hG4bK.x-1");
	/* The new Via goes right above the old top one. */
	assert_int_equal(out.first[PK_HDR_VIA], 0);
	assert_lines_kept(&in, &out, BIT(VIA));
}

/* --- Via pop and received ---------------------------------------------- */

static void test_via_pop_multi_value_line(void **state)
{
	(void)state;
	scan_in(compact);
	assert_int_equal(in.nvia, 3);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 2);
	/* The line keeps its other value, still in compact form. */
	assert_true(pk_str_eq(out.via[0].raw, in.via[1].raw));
	assert_true(pk_str_eq(out.via[1].raw, in.via[2].raw));
	assert_true(out.via[0].hdr != out.via[1].hdr);
	assert_memory_equal(out.buf + out.hdrs[out.first[PK_HDR_VIA]].off,
			    "v: SIP/2.0/TCP 192.0.2.20:5070;", 31);
	assert_int_equal(out.count[PK_HDR_VIA], 2);
	assert_lines_kept(&in, &out, BIT(VIA));
}

static void test_via_pop_whole_line(void **state)
{
	(void)state;
	scan_in(ringing);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	emit_rescan();
	assert_false(out.is_request);
	assert_int_equal(out.code, 180);
	assert_int_equal(out.nvia, 1);
	assert_true(pk_str_eq(out.via[0].raw, in.via[1].raw));
	assert_int_equal(out.via[0].rport, 40001);
	assert_lines_kept(&in, &out, BIT(VIA));

	/* The second Via was on the next line of the multi-value message. */
	scan_in(compact);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	emit_rescan();
	{
		/* pop the remaining value of that line */
		static struct pk_sip_msg second;
		static char buf2[8192];
		long n;

		memcpy(buf2, obuf, sizeof(buf2));
		assert_int_equal(pk_sip_scan(buf2, (size_t)out.len, &second), PK_SIP_OK);
		pk_rw_init(&rw, &second);
		assert_int_equal(pk_rw_via_pop(&rw), 0);
		n = pk_rw_emit(&rw, obuf, sizeof(obuf));
		assert_true(n > 0);
		assert_int_equal(pk_sip_scan(obuf, (size_t)n, &out), PK_SIP_OK);
		assert_int_equal(out.nvia, 1);
		assert_int_equal(out.count[PK_HDR_VIA], 1);
		assert_pkstr(out.via[0].host, "192.0.2.30");
	}
}

static void test_via_received_rport(void **state)
{
	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 40001), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 1);
	assert_pkstr(out.via[0].received, "198.51.100.7");
	assert_int_equal(out.via[0].rport, 40001);
	assert_pkstr(out.via[0].branch, "z9hG4bK776asdhds");
	assert_pkstr(out.via[0].raw,
		     "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=40001;received=198.51.100.7");
	assert_lines_kept(&in, &out, BIT(VIA));
}

static void test_via_received_variants(void **state)
{
	static const char mid[] =
		"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP phone7.example.com;rport;received=10.1.1.1;branch=z9hG4bKopt7\r\n"
		"Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKold\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:phone7@example.com>;tag=77\r\n"
		"To: <sip:pbx.example.com>\r\n"
		"Call-ID: opt7@phone7\r\n"
		"CSeq: 7 OPTIONS\r\n"
		"Content-Length: 0\r\n"
		"\r\n";

	(void)state;
	/* rport in the middle, an existing received replaced in place */
	scan_in(mid);
	assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.5"), 5062), 0);
	emit_rescan();
	assert_pkstr(out.via[0].raw,
		     "SIP/2.0/UDP phone7.example.com;rport=5062;received=203.0.113.5;branch=z9hG4bKopt7");
	assert_true(pk_str_eq(out.via[1].raw, in.via[1].raw));

	/* no rport param: received only, no rport invented */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.5"), 5062), 0);
	emit_rescan();
	assert_pkstr(out.via[0].received, "203.0.113.5");
	assert_int_equal(out.via[0].rport, -1);

	/* port 0: rport stays empty; empty ip: nothing added */
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, PK_STR_NULL, 0), 0);
	assert_int_equal(rw.nedits, 0);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 0), 0);
	emit_rescan();
	assert_int_equal(out.via[0].rport, 0);
	assert_pkstr(out.via[0].received, "198.51.100.7");
}

/* --- Max-Forwards, Request-URI ------------------------------------------ */

static void test_maxfwd(void **state)
{
	(void)state;
	/* absent: added as 69 */
	scan_in(compact);
	assert_int_equal(in.max_forwards, -1);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 69);
	assert_int_equal(out.count[PK_HDR_MAX_FORWARDS], 1);
	assert_lines_kept(&in, &out, BIT(MAX_FORWARDS));

	/* present: set, twice on the same span, the last wins */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 3), 0);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 12), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 12);
	assert_lines_kept(&in, &out, BIT(MAX_FORWARDS));

	/* absent, set twice: still one line (issue 2, bug 1) */
	scan_in(compact);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 9), 0);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 5), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 5);
	assert_int_equal(out.count[PK_HDR_MAX_FORWARDS], 1);

	/* 0 must have been answered with 483: refused */
	{
		static const char zero[] =
			"OPTIONS sip:pbx.example.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKz\r\n"
			"Max-Forwards: 0\r\n"
			"From: <sip:a@example.com>;tag=1\r\n"
			"To: <sip:pbx.example.com>\r\n"
			"Call-ID: z@192.0.2.5\r\n"
			"CSeq: 1 OPTIONS\r\n"
			"\r\n";
		scan_in(zero);
		assert_int_equal(pk_rw_maxfwd_dec(&rw), -EINVAL);
	}
}

/*
 * pk_rw_maxfwd_dec plans values 1 to 100 itself and leaves the rest to
 * pk_rw_maxfwd_set: for every value the scanner takes (1 to 255, and with a
 * leading zero) the same bytes as maxfwd_set(value - 1); after a
 * maxfwd_set, a decrement (then the general path) still wins; and near a
 * full scratch both refuse alike.
 */
static void test_maxfwd_dec_every_value(void **state)
{
	static char msg[1024], want[2048];
	static const char fmt[] = "OPTIONS sip:pbx.example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKz\r\n"
				  "Max-Forwards: %s%u\r\n"
				  "From: <sip:a@example.com>;tag=1\r\n"
				  "To: <sip:pbx.example.com>\r\n"
				  "Call-ID: z@192.0.2.5\r\n"
				  "CSeq: 1 OPTIONS\r\n"
				  "Content-Length: 0\r\n"
				  "\r\n";
	static char fill[PK_RW_SCRATCH];

	(void)state;
	for (unsigned lead = 0; lead < 2; lead++)
		for (unsigned v = 1; v <= 255; v++) {
			long n;

			snprintf(msg, sizeof(msg), fmt, lead ? "0" : "", v);
			scan_in(msg);
			assert_int_equal(in.max_forwards, (int32_t)v);
			assert_int_equal(pk_rw_maxfwd_set(&rw, v - 1), 0);
			n = emit_rescan();
			memcpy(want, obuf, (size_t)n);
			scan_in(msg);
			assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
			assert_int_equal(emit_rescan(), n);
			assert_memory_equal(obuf, want, (size_t)n);
			assert_int_equal(out.max_forwards, (int32_t)v - 1);
			/* after a set: the value the message had, less one, once */
			assert_int_equal(pk_rw_maxfwd_set(&rw, 7), 0);
			assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
			emit_rescan();
			assert_int_equal(out.max_forwards, (int32_t)v - 1);
			assert_int_equal(out.count[PK_HDR_MAX_FORWARDS], 1);
		}
	/* a scratch with 9 bytes left: maxfwd_set asks for 10, so does dec */
	memset(fill, 'x', sizeof(fill));
	snprintf(msg, sizeof(msg), fmt, "", 70u);
	for (unsigned left = 8; left <= 11; left++) {
		int rs, rd;

		scan_in(msg);
		assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-F",
					       pk_str_make(fill, PK_RW_SCRATCH - left - 7), PK_RW_BOTTOM),
				 0);
		rs = pk_rw_maxfwd_set(&rw, 69);
		scan_in(msg);
		assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-F",
					       pk_str_make(fill, PK_RW_SCRATCH - left - 7), PK_RW_BOTTOM),
				 0);
		rd = pk_rw_maxfwd_dec(&rw);
		assert_int_equal(rs, rd);
		assert_int_equal(rd, left >= 10 ? 0 : -ENOSPC);
	}
}

static void test_ruri_response_refused(void **state)
{
	(void)state;
	scan_in(ringing);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:x@y")), -EINVAL);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKa"), false), 0);
	emit_rescan(); /* the plan is still good */
	assert_int_equal(out.nvia, 3);
}

/* --- Route -------------------------------------------------------------- */

static void test_route_pop(void **state)
{
	(void)state;
	scan_in(routed_bye);
	assert_int_equal(in.nroute, 3);
	assert_int_equal(pk_rw_route_pop(&rw), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 2);
	assert_pkstr(out.route[0].uri, "sip:edge1.example.com;lr;transport=tcp");
	assert_pkstr(out.route[1].uri, "sip:edge2.example.com;lr");
	assert_int_equal(out.count[PK_HDR_ROUTE], 2);
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* Pop the remaining entry of the first line: the line goes. */
	{
		static struct pk_sip_msg second;
		static char buf2[8192];
		long n;

		memcpy(buf2, obuf, sizeof(buf2));
		assert_int_equal(pk_sip_scan(buf2, (size_t)out.len, &second), PK_SIP_OK);
		pk_rw_init(&rw, &second);
		assert_int_equal(pk_rw_route_pop(&rw), 0);
		n = pk_rw_emit(&rw, obuf, sizeof(obuf));
		assert_true(n > 0);
		assert_int_equal(pk_sip_scan(obuf, (size_t)n, &out), PK_SIP_OK);
		assert_int_equal(out.nroute, 1);
		assert_int_equal(out.count[PK_HDR_ROUTE], 1);
		assert_pkstr(out.route[0].uri, "sip:edge2.example.com;lr");
		assert_lines_kept(&second, &out, BIT(ROUTE));
	}

	scan_in(invite);
	assert_int_equal(pk_rw_route_pop(&rw), -EINVAL);
}

/* A BYE like routed_bye whose Route set is routes: whole lines, "\r\n"
 * ends, other lines among them if wanted (a static buffer). */
static const char *route_msg(const char *routes)
{
	static char m[2048];
	int n = snprintf(m, sizeof(m),
			 "BYE sip:alice@192.0.2.30:5060 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bKnashds7\r\n"
			 "Max-Forwards: 7\r\n"
			 "%s"
			 "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
			 "To: Alice <sip:alice@atlanta.example.com>;tag=88sja8x\r\n"
			 "Call-ID: 987asjd97y7atg@pc10.atlanta.example.com\r\n"
			 "CSeq: 231 BYE\r\n"
			 "Content-Length: 0\r\n"
			 "\r\n",
			 routes);

	assert_true(n > 0 && (size_t)n < sizeof(m));
	return m;
}

/* The Route lines of out are exactly want[0..n-1] (without CRLF), in order. */
static void assert_route_lines(const char *const *want, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < out.nhdrs; i++) {
		struct pk_str l;

		if (out.hdrs[i].id != PK_HDR_ROUTE)
			continue;
		l = line_text(&out, i);
		while (l.len && (l.p[l.len - 1] == '\n' || l.p[l.len - 1] == '\r'))
			l.len--;
		if (k >= n)
			fail_msg("Route line %u '%.*s': wanted only %u", k, (int)l.len, l.p, n);
		assert_pkstr(l, want[k]);
		k++;
	}
	assert_int_equal(k, n);
	assert_int_equal(out.count[PK_HDR_ROUTE], n);
}

/* Nothing planned: the message comes out as it went in. */
static void assert_unchanged(const char *msg)
{
	long n = pk_rw_emit(&rw, obuf, sizeof(obuf));

	assert_int_equal(n, (long)strlen(msg));
	assert_memory_equal(obuf, msg, (size_t)n);
}

#define RT(i) "<sip:r" #i ".example.com;lr>"
/* a Route line's first seven entries */
#define RT1_7 "Route: " RT(1) ", " RT(2) ", " RT(3) ", " RT(4) ", " RT(5) ", " RT(6) ", " RT(7)

static void test_route_pop_n(void **state)
{
	static const char *const n1[] = { "Route: <sip:edge1.example.com;lr;transport=tcp>",
					  "Route: <sip:edge2.example.com;lr>" };
	static const char *const n2[] = { "Route: <sip:edge2.example.com;lr>" };
	static char pop1[8192];
	long len1;

	(void)state;
	/* n=1: the head of the first line (the same bytes as pk_rw_route_pop) */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_route_pop(&rw), 0);
	len1 = pk_rw_emit(&rw, pop1, sizeof(pop1));
	assert_true(len1 > 0);
	scan_in(routed_bye);
	assert_int_equal(pk_rw_route_pop_n(&rw, 1), 0);
	assert_int_equal(emit_rescan(), len1);
	assert_memory_equal(obuf, pop1, (size_t)len1);
	assert_int_equal(out.nroute, 2);
	assert_route_lines(n1, 2);
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* n=2: the first line whole, the second as it was */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_route_pop_n(&rw, 2), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 1);
	assert_pkstr(out.route[0].uri, "sip:edge2.example.com;lr");
	assert_route_lines(n2, 1);
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* n=3: every entry, both lines: no Route left */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_route_pop_n(&rw, 3), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 0);
	assert_route_lines(NULL, 0);
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* more than there are, or none: -EINVAL, nothing planned */
	for (unsigned n = 0; n <= 100; n = n == 0 ? 4 : n * 10) {
		scan_in(routed_bye);
		assert_int_equal(pk_rw_route_pop_n(&rw, n), -EINVAL);
		assert_unchanged(routed_bye);
	}
	scan_in(invite);
	assert_int_equal(pk_rw_route_pop_n(&rw, 1), -EINVAL);
	assert_unchanged(invite);
}

/* Whole lines then the head of the next one; a line between the Route
 * lines stays where it is. */
static void test_route_pop_n_lines(void **state)
{
	static const char *const n1[] = { "Route: " RT(2) ", " RT(3), "Route: " RT(4) };
	static const char *const n2[] = { "Route: " RT(3), "Route: " RT(4) };
	static const char *const n3[] = { "Route: " RT(4) };
	static const char *const *const want[] = { NULL, n1, n2, n3, NULL };
	static const unsigned nlines[] = { 0, 2, 2, 1, 0 };
	static const char *const sets[] = {
		"Route: " RT(1) "\r\nRoute: " RT(2) ", " RT(3) "\r\nRoute: " RT(4) "\r\n",
		"Route: " RT(1) "\r\nX-Mid: m\r\nRoute: " RT(2) ", " RT(3) "\r\nX-Mid: n\r\nRoute: " RT(4) "\r\n",
	};

	(void)state;
	for (unsigned s = 0; s < PK_ARRAY_SIZE(sets); s++) {
		for (unsigned n = 1; n <= 4; n++) {
			scan_in(route_msg(sets[s]));
			assert_int_equal(in.nroute, 4);
			assert_int_equal(pk_rw_route_pop_n(&rw, n), 0);
			emit_rescan();
			assert_int_equal(out.nroute, 4 - n);
			assert_route_lines(want[n], nlines[n]);
			assert_lines_kept(&in, &out, BIT(ROUTE));
		}
		scan_in(route_msg(sets[s]));
		assert_int_equal(pk_rw_route_pop_n(&rw, 5), -EINVAL);
		assert_unchanged(route_msg(sets[s]));
	}
}

/*
 * Past the parse limit (PK_SIP_MAX_ROUTE, 8 entries): the scanner counts
 * every entry (nroute) but keeps only the first 8, so where the 9th starts
 * -- on the line of the 8th or on a later one -- is unknown.
 */
static void test_route_pop_n_limit(void **state)
{
	static const char one_line[] = RT1_7 ", " RT(8) ", " RT(9) "\r\n";
	static const char *const one_line_7[] = { "Route: " RT(8) ", " RT(9) };
	static const char *const one_line_1[] = { "Route: " RT(2) ", " RT(3) ", " RT(4) ", " RT(5) ", " RT(6) ", " RT(7)
						  ", " RT(8) ", " RT(9) };
	static const char eight_one[] = RT1_7 ", " RT(8) "\r\nRoute: " RT(9) "\r\n";
	static const char four_four_one[] = "Route: " RT(1) ", " RT(2) ", " RT(3) ", " RT(4) "\r\n"
					    "Route: " RT(5) ", " RT(6) ", " RT(7) ", " RT(8) "\r\n"
					    "Route: " RT(9) "\r\n";
	static const char *const ffo_4[] = { "Route: " RT(5) ", " RT(6) ", " RT(7) ", " RT(8), "Route: " RT(9) };
	static const char *const ffo_7[] = { "Route: " RT(8), "Route: " RT(9) };
	static const char *const ffo_all[] = { "Route: " RT(1) ", " RT(2) ", " RT(3) ", " RT(4),
					       "Route: " RT(5) ", " RT(6) ", " RT(7) ", " RT(8),
					       "Route: " RT(9) };
	static const char exactly_8[] = RT1_7 ", " RT(8) "\r\n";
	const char *msg;

	(void)state;
	/* nine entries on one line: the 8th is in its middle and the 9th was
	 * not parsed (its start unknown), so the head up to it cannot be cut:
	 * -E2BIG and nothing planned (the line stays whole) */
	msg = route_msg(one_line);
	scan_in(msg);
	assert_int_equal(in.nroute, 9);
	assert_int_equal(pk_rw_route_pop_n(&rw, 8), -E2BIG);
	assert_unchanged(msg);
	/* the 9th entry is beyond the parsed ones: -EINVAL */
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 9), -EINVAL);
	assert_unchanged(msg);
	/* 7 (the 8th was parsed: the cut ends where it starts); 1 */
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 7), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 2);
	assert_route_lines(one_line_7, 1);
	assert_lines_kept(&in, &out, BIT(ROUTE));
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 1), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 8);
	assert_route_lines(one_line_1, 1);

	/* eight on the first line, the 9th on the next: the first line IS
	 * whole, but the parse cannot tell the 9th is not on it either:
	 * -E2BIG, nothing planned (conservative: a refusal, not a wrong cut) */
	msg = route_msg(eight_one);
	scan_in(msg);
	assert_int_equal(in.nroute, 9);
	assert_int_equal(pk_rw_route_pop_n(&rw, 8), -E2BIG);
	assert_unchanged(msg);

	/* exactly eight, all parsed: n=8 takes the line */
	msg = route_msg(exactly_8);
	scan_in(msg);
	assert_int_equal(in.nroute, 8);
	assert_int_equal(pk_rw_route_pop_n(&rw, 8), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 0);
	assert_route_lines(NULL, 0);
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* 4 + 4 + 1 on three lines: 4 and 7 are fine (whole first line; then
	 * the head of the second) */
	msg = route_msg(four_four_one);
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 4), 0);
	emit_rescan();
	assert_route_lines(ffo_4, 2);
	assert_lines_kept(&in, &out, BIT(ROUTE));
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 7), 0);
	emit_rescan();
	assert_route_lines(ffo_7, 2);
	/*
	 * n=8: the first line could go whole (its end is known), but the 8th
	 * entry ends the last parsed line while a 9th exists: -E2BIG, and
	 * nothing is planned, the first line's removal included (the whole
	 * cut is decided before any of it is planned): the message comes out
	 * unchanged.
	 */
	scan_in(msg);
	assert_int_equal(pk_rw_route_pop_n(&rw, 8), -E2BIG);
	emit_rescan();
	assert_int_equal(out.nroute, 9);
	assert_route_lines(ffo_all, 3);
	assert_lines_kept(&in, &out, BIT(ROUTE));
}

/* --- header lines ------------------------------------------------------- */

static void test_hdr_add_replace_remove(void **state)
{
	(void)state;
	scan_in(invite);
	/* What the pickup INVITE towards the caller gets. */
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_REPLACES, NULL,
				       S("a84b4c76e66710@pc33.example.com;to-tag=1928301774;from-tag=314159;early-only"),
				       PK_RW_BEFORE_FIRST_SAME),
			 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REQUIRE, S("replaces")), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_RECORD_ROUTE, NULL, S("<sip:10.0.0.1;lr>"), PK_RW_TOP), 0);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_SUPPORTED), 1);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_WARNING), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Pickup", S("group=801"), PK_RW_BOTTOM), 0);
	emit_rescan();

	assert_true(out.has_replaces);
	assert_pkstr(out.replaces.call_id, "a84b4c76e66710@pc33.example.com");
	assert_pkstr(out.replaces.to_tag, "1928301774");
	assert_pkstr(out.replaces.from_tag, "314159");
	assert_true(out.replaces.early_only);
	assert_int_equal(out.require, PK_SIP_OPT_BIT(REPLACES));
	assert_int_equal(out.supported, 0);
	assert_int_equal(out.first[PK_HDR_SUPPORTED], 0xff);
	assert_int_equal(out.first[PK_HDR_RECORD_ROUTE], 0); /* on top */
	assert_int_equal(out.nrr, 1);
	assert_pkstr(out.rr[0].uri, "sip:10.0.0.1;lr");
	assert_int_equal(count_named(&out, "X-Pickup"), 1);
	/* BOTTOM: after the last original line */
	assert_pkstr(pk_sip_hdr_value(&out, out.nhdrs - 1), "group=801");
	assert_lines_kept(&in, &out,
			  BIT(REPLACES) | BIT(REQUIRE) | BIT(RECORD_ROUTE) | BIT(SUPPORTED) | BIT(OTHER));
	assert_int_equal(count_named(&out, "User-Agent"), 1);

	/* Content-Length belongs to emit. */
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_CONTENT_LENGTH), -EINVAL);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_CONTENT_LENGTH, NULL, S("5"), PK_RW_TOP), -EINVAL);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, NULL, S("x"), PK_RW_TOP), -EINVAL);
}

/* A line written in place (pk_rw_line_begin/_end) comes out as the same
 * pk_rw_hdr_add would make of it, wherever it goes; the room not used goes
 * back to the scratch; ids hdr_add refuses by id, and a line that does not
 * fit, get NULL (the latter failing the plan). */
static void test_line_in_place(void **state)
{
	static char want[8192];
	static const enum pk_rw_where where[] = { PK_RW_TOP, PK_RW_BOTTOM, PK_RW_BEFORE_FIRST_SAME };
	static const enum pk_sip_hdr_id ids[] = { PK_HDR_VIA, PK_HDR_RECORD_ROUTE, PK_HDR_ROUTE };
	static const char *const vals[] = { "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-in-place;rport",
					    "<sip:192.0.2.1;lr>", "<sip:192.0.2.9:5070;lr>" };
	long wn, n;
	char *o;

	(void)state;
	for (unsigned k = 0; k < 3; k++)
		for (unsigned j = 0; j < 3; j++) {
			const char *val = vals[k];

			scan_in(invite);
			assert_int_equal(pk_rw_ruri_set(&rw, S("sip:bob@192.0.2.4")), 0);
			assert_int_equal(pk_rw_hdr_add(&rw, ids[k], NULL, S(val), where[j]), 0);
			assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
			wn = emit_rescan();
			memcpy(want, obuf, (size_t)wn);

			scan_in(invite);
			assert_int_equal(pk_rw_ruri_set(&rw, S("sip:bob@192.0.2.4")), 0);
			o = pk_rw_line_begin(&rw, ids[k], 600);
			assert_non_null(o);
			memcpy(o, val, strlen(val));
			assert_int_equal(pk_rw_line_end(&rw, ids[k], o + strlen(val), where[j]), 0);
			assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
			n = emit_rescan();
			assert_int_equal(n, wn);
			assert_memory_equal(obuf, want, (size_t)n);
		}

	/* the 600 reserved went back: most of the scratch is still free */
	scan_in(routed_bye);
	o = pk_rw_line_begin(&rw, PK_HDR_VIA, 600);
	assert_non_null(o);
	assert_int_equal(pk_rw_line_end(&rw, PK_HDR_VIA, o + 3, PK_RW_TOP), 0);
	assert_true(rw.scratch_len < 16);
	assert_non_null(pk_rw_line_begin(&rw, PK_HDR_ROUTE, PK_RW_SCRATCH - 32));

	/* refused ids; no room */
	scan_in(routed_bye);
	assert_null(pk_rw_line_begin(&rw, PK_HDR_OTHER, 10));
	assert_null(pk_rw_line_begin(&rw, PK_HDR_CONTENT_LENGTH, 10));
	assert_true(pk_rw_emit(&rw, obuf, sizeof(obuf)) > 0);
	assert_null(pk_rw_line_begin(&rw, PK_HDR_VIA, PK_RW_SCRATCH));
	assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), -ENOSPC);
}

static void test_hdr_replace_multi_and_by_name(void **state)
{
	(void)state;
	scan_in(routed_bye);
	/* Two Route lines become one, where the first stood. */
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_ROUTE, S("<sip:core.example.com;lr>")), 0);
	assert_int_equal(pk_rw_hdr_remove_name(&rw, S("x-FOO")), 2);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_WARNING, NULL,
				       S("399 pbx.example.com \"nothing to pick up\""), PK_RW_BEFORE_FIRST_SAME),
			 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REASON, S("SIP;cause=200;text=\"Call completed elsewhere\"")), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 1);
	assert_int_equal(out.count[PK_HDR_ROUTE], 1);
	assert_pkstr(out.route[0].uri, "sip:core.example.com;lr");
	assert_int_equal(out.first[PK_HDR_ROUTE], in.first[PK_HDR_ROUTE]);
	assert_int_equal(count_named(&out, "X-Foo"), 0);
	assert_int_equal(out.count[PK_HDR_WARNING], 1);
	assert_pkstr(pk_sip_hdr_value(&out, out.first[PK_HDR_REASON]),
		     "SIP;cause=200;text=\"Call completed elsewhere\"");
	assert_lines_kept(&in, &out, BIT(ROUTE) | BIT(OTHER) | BIT(WARNING) | BIT(REASON));

	/* By name, before the first line of that name. */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Foo", S("zero"), PK_RW_BEFORE_FIRST_SAME), 0);
	emit_rescan();
	assert_int_equal(count_named(&out, "X-Foo"), 3);
	{
		int i = -1;
		for (unsigned k = 0; k < out.nhdrs; k++)
			if (pk_str_eq(pk_sip_hdr_value(&out, k), S("zero")))
				i = (int)k;
		assert_true(i >= 0);
		assert_pkstr(pk_sip_hdr_value(&out, (unsigned)i + 1), "one");
	}
}

/* --- body and Content-Length ------------------------------------------- */

static void test_body_replace(void **state)
{
	static const char sdp2[] = "v=0\r\n"
				   "o=pickupd 1 1 IN IP4 10.0.0.1\r\n"
				   "s=-\r\n"
				   "c=IN IP4 10.0.0.1\r\n"
				   "t=0 0\r\n"
				   "m=audio 40000 RTP/AVP 0\r\n";

	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_body_set(&rw, S(sdp2), S("application/sdp;version=2")), 0);
	assert_int_equal(pk_rw_body_set(&rw, S(sdp2), PK_STR_NULL), -EBUSY);
	emit_rescan();
	assert_int_equal(out.content_length, 92);
	assert_pkstr(out.body, sdp2);
	assert_pkstr(out.content_type, "application/sdp;version=2");
	assert_lines_kept(&in, &out, BIT(CONTENT_LENGTH) | BIT(CONTENT_TYPE));

	/* compact l: keeps its compact name, with the new value */
	scan_in(compact);
	assert_int_equal(pk_rw_body_set(&rw, S(sdp2), PK_STR_NULL), 0);
	emit_rescan();
	assert_int_equal(out.content_length, 92);
	assert_pkstr(out.content_type, "application/sdp");
	assert_memory_equal(out.buf + out.hdrs[out.first[PK_HDR_CONTENT_LENGTH]].off, "l: 92\r\n", 7);
	assert_lines_kept(&in, &out, BIT(CONTENT_LENGTH));

	/* emptied body: Content-Type goes, Content-Length 0 */
	scan_in(invite);
	assert_int_equal(pk_rw_body_set(&rw, PK_STR_NULL, PK_STR_NULL), 0);
	emit_rescan();
	assert_int_equal(out.content_length, 0);
	assert_int_equal(out.body.len, 0);
	assert_int_equal(out.first[PK_HDR_CONTENT_TYPE], 0xff);
	assert_lines_kept(&in, &out, BIT(CONTENT_LENGTH) | BIT(CONTENT_TYPE));
}

static void test_content_length_added(void **state)
{
	size_t skip;
	long n;

	(void)state;
	scan_in(no_cl);
	assert_int_equal(in.content_length, -1);
	n = emit_rescan(); /* no edit at all: emit still adds it */
	assert_int_equal(out.content_length, 18);
	assert_pkstr(out.body, "Watson, come here.");
	assert_pkstr(pk_sip_hdr_value(&out, out.nhdrs - 1), "18");
	assert_lines_kept(&in, &out, BIT(CONTENT_LENGTH));
	/* A TCP peer can frame it. */
	assert_int_equal(pk_sip_frame(obuf, (size_t)n, &skip), n);

	/* added after a line added at the bottom, and with the new body */
	scan_in(no_cl);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Last", S("1"), PK_RW_BOTTOM), 0);
	assert_int_equal(pk_rw_body_set(&rw, S("hi"), PK_STR_NULL), 0);
	emit_rescan();
	assert_int_equal(out.content_length, 2);
	assert_pkstr(pk_sip_hdr_value(&out, out.nhdrs - 2), "1");
	assert_pkstr(out.body, "hi");
}

static void test_trailing_bytes_dropped(void **state)
{
	char buf[2048];
	size_t len = strlen(routed_bye);

	(void)state;
	/* Octets past Content-Length are not part of the message (§18.3). */
	memcpy(buf, routed_bye, len);
	memcpy(buf + len, "GARBAGE", 7);
	assert_int_equal(pk_sip_scan(buf, len + 7, &in), PK_SIP_OK);
	pk_rw_init(&rw, &in);
	assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), (long)len);
	assert_memory_equal(obuf, routed_bye, len);
}

/* The same with a body: emit copies the rest of the headers and the body
 * (the original's, right after them) in one run, which must stop at the
 * body's end too. */
static void test_trailing_bytes_after_body(void **state)
{
	static char buf[4096], want[4096];
	size_t len = strlen(invite);
	long n, wn;

	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	wn = pk_rw_emit(&rw, want, sizeof(want));
	assert_true(wn > 0);
	memcpy(buf, invite, len);
	memcpy(buf + len, "GARBAGE", 7);
	assert_int_equal(pk_sip_scan(buf, len + 7, &in), PK_SIP_OK);
	assert_int_equal(in.body.len, 136);
	pk_rw_init(&rw, &in);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	n = pk_rw_emit(&rw, obuf, sizeof(obuf));
	assert_int_equal(n, wn);
	assert_memory_equal(obuf, want, (size_t)n);
	assert_memory_equal(obuf + n - 136, SDP_BODY, 136);
}

/* --- edits that meet ---------------------------------------------------- */

static void test_same_line_edits(void **state)
{
	(void)state;
	/* received/rport then pop of the same Via: nothing of it is left */
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 40001), 0);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKnew"), false), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 1);
	assert_pkstr(out.via[0].raw, "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew");
	assert_lines_kept(&in, &out, BIT(VIA));

	/* push, received, pop on a multi-value line, in another order */
	scan_in(compact);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKp2"), true), 0);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.9"), 0), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 3);
	assert_pkstr(out.via[0].branch, "z9hG4bKp2");
	assert_true(pk_str_eq(out.via[1].raw, in.via[1].raw));
	assert_true(pk_str_eq(out.via[2].raw, in.via[2].raw));

	/* Route: pop the first entry and drop the whole header anyway */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_route_pop(&rw), 0);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_ROUTE), 2);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_ROUTE, NULL, S("<sip:new.example.com;lr>"),
				       PK_RW_BEFORE_FIRST_SAME),
			 0);
	emit_rescan();
	assert_int_equal(out.nroute, 1);
	assert_pkstr(out.route[0].uri, "sip:new.example.com;lr");
	assert_lines_kept(&in, &out, BIT(ROUTE));

	/* replace the same header twice: the last wins; plus adjacent deletes */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REASON, S("SIP;cause=487")), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REASON, S("SIP;cause=200")), 0);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_CSEQ), 1);	/* line before X-Foo */
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_CALL_ID), 1); /* the one before */
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:alice@192.0.2.31")), 0);
	{
		long n = pk_rw_emit(&rw, obuf, sizeof(obuf));
		/* Call-ID and CSeq gone: the scanner rejects it, but the text is exact */
		static const char expect[] =
			"BYE sip:alice@192.0.2.31 SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bKnashds7\r\n"
			"Max-Forwards: 6\r\n"
			"Route: <sip:pbx.example.com;lr>, <sip:edge1.example.com;lr;transport=tcp>\r\n"
			"Route: <sip:edge2.example.com;lr>\r\n"
			"From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
			"To: Alice <sip:alice@atlanta.example.com>;tag=88sja8x\r\n"
			"X-Foo: one\r\n"
			"Reason: SIP;cause=200\r\n"
			"x-foo: two\r\n"
			"Content-Length: 0\r\n"
			"\r\n";
		assert_int_equal(n, sizeof(expect) - 1);
		assert_memory_equal(obuf, expect, sizeof(expect) - 1);
	}

	/* rport is the last param: "=port" and ";received" meet at one offset */
	scan_in(no_cl);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 1234), 0);
	emit_rescan();
	assert_pkstr(out.via[0].raw, "SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKmsg1;rport=1234;received=198.51.100.7");
}

/* --- the rewriter's combination rules (issue 2: found by fuzz_rewrite) --- */

/* Lines of out that belong to header id. */
static unsigned count_id(enum pk_sip_hdr_id id)
{
	return out.count[id];
}

/* Max-Forwards set or decremented twice on a message without one: one line
 * with the last value (reproducer rewrite-maxfwd-absent-twice.bin). */
static void test_maxfwd_absent_last_wins(void **state)
{
	(void)state;
	scan_in(compact);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 69);
	assert_int_equal(count_id(PK_HDR_MAX_FORWARDS), 1);
	assert_lines_kept(&in, &out, BIT(MAX_FORWARDS));

	/* set, a line added at the bottom in between, set again */
	scan_in(compact);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 20), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Mid", S("1"), PK_RW_BOTTOM), 0);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 69);
	assert_int_equal(count_id(PK_HDR_MAX_FORWARDS), 1);
	assert_int_equal(count_named(&out, "X-Mid"), 1);

	/* present, but its line removed: a later set brings one line back */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_MAX_FORWARDS), 1);
	emit_rescan();
	assert_int_equal(out.max_forwards, -1);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 4), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 4);
	assert_int_equal(count_id(PK_HDR_MAX_FORWARDS), 1);

	/* and the other way: hdr_replace after the value was set wins */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_MAX_FORWARDS, S("33")), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 33);
	assert_int_equal(count_id(PK_HDR_MAX_FORWARDS), 1);
	assert_int_equal(pk_rw_maxfwd_set(&rw, 2), 0);
	emit_rescan();
	assert_int_equal(out.max_forwards, 2);
	assert_int_equal(count_id(PK_HDR_MAX_FORWARDS), 1);
}

/* via_pop, via_push, via_pop: the second pop of the same Via must not take
 * the pushed one with it (reproducer rewrite-via-pop-push-pop.bin). */
static void test_via_pop_push_pop(void **state)
{
	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKkeep"), false), 0);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 1);
	assert_pkstr(out.via[0].raw, "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKkeep");
	assert_lines_kept(&in, &out, BIT(VIA));

	/* a multi-value line: only its first value goes, the push stays */
	scan_in(compact);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	assert_int_equal(pk_rw_via_push(&rw, "TCP", S("10.0.0.1"), 0, S("z9hG4bKk2"), true), 0);
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 3);
	assert_pkstr(out.via[0].branch, "z9hG4bKk2");
	assert_true(pk_str_eq(out.via[1].raw, in.via[1].raw));
	assert_true(pk_str_eq(out.via[2].raw, in.via[2].raw));

	/* the same with Route: pop a whole line, add a Route there, pop again */
	{
		static const char two_routes[] =
			"BYE sip:alice@192.0.2.30:5060 SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 192.0.2.40:5060;branch=z9hG4bKr2\r\n"
			"Max-Forwards: 7\r\n"
			"Route: <sip:pbx.example.com;lr>\r\n"
			"Route: <sip:edge2.example.com;lr>\r\n"
			"From: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
			"To: <sip:alice@atlanta.example.com>;tag=88sja8x\r\n"
			"Call-ID: r2@192.0.2.40\r\n"
			"CSeq: 232 BYE\r\n"
			"Content-Length: 0\r\n"
			"\r\n";

		scan_in(two_routes);
		assert_int_equal(pk_rw_route_pop(&rw), 0);
		assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_ROUTE, NULL, S("<sip:new.example.com;lr>"),
					       PK_RW_BEFORE_FIRST_SAME), 0);
		assert_int_equal(pk_rw_route_pop(&rw), 0);
		emit_rescan();
		assert_int_equal(out.nroute, 2);
		assert_pkstr(out.route[0].uri, "sip:new.example.com;lr");
		assert_pkstr(out.route[1].uri, "sip:edge2.example.com;lr");
	}
}

/* A Via for the rport tests: params given, the rest fixed. */
static const char *via_msg(const char *params)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:a@example.com>;tag=1\r\n"
		 "To: <sip:pbx.example.com>\r\n"
		 "Call-ID: rp@192.0.2.1\r\n"
		 "CSeq: 1 OPTIONS\r\n"
		 "Content-Length: 0\r\n"
		 "\r\n",
		 params);
	return buf;
}

/*
 * The rport that gets the port is the one the scanner read: parameters are
 * walked with the scanner's grammar (reproducer rewrite-rport-after-quote.bin
 * and rewrite-rport-folded.bin).
 */
static void test_via_rport_grammar(void **state)
{
	static const struct {
		const char *params, *expect;
	} cases[] = {
		/* folded LWS after ';' (the old walk skipped only SP and HT) */
		{ ";branch=z9hG4bKf;\r\n rport",
		  "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKf;\r\n rport=1222;received=203.0.113.9" },
		/* two rport: the scanner reads the last one */
		{ ";rport=5;branch=z9hG4bKd;rport",
		  "SIP/2.0/UDP 192.0.2.1:5060;rport=5;branch=z9hG4bKd;rport=1222;received=203.0.113.9" },
		/* ";rport" inside a quoted value is not a parameter */
		{ ";x=\"a\\\";rport\";branch=z9hG4bKq;rport ;y",
		  "SIP/2.0/UDP 192.0.2.1:5060;x=\"a\\\";rport\";branch=z9hG4bKq;rport=1222 ;y;received=203.0.113.9" },
		/* ";rport" as the Via's last bytes (rewrite.c's shortcut), any case,
		 * after a quoted value and after a longer name ending in rport */
		{ ";branch=z9hG4bKu;RpOrT",
		  "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKu;RpOrT=1222;received=203.0.113.9" },
		{ ";x=\"a;rport\";branch=z9hG4bKv;xrport;rport",
		  "SIP/2.0/UDP 192.0.2.1:5060;x=\"a;rport\";branch=z9hG4bKv;xrport;rport=1222;received=203.0.113.9" },
		/* ...but not a name that only ends in "rport", nor a value */
		{ ";branch=z9hG4bKw;rport;xrport",
		  "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKw;rport=1222;xrport;received=203.0.113.9" },
		{ ";rport;branch=z9hG4bKy;x=rport",
		  "SIP/2.0/UDP 192.0.2.1:5060;rport=1222;branch=z9hG4bKy;x=rport;received=203.0.113.9" },
		/* LWS around '=' of other params, a value with '=' in it */
		{ " ; branch = z9hG4bKs ;x=a=b; RPORT",
		  "SIP/2.0/UDP 192.0.2.1:5060 ; branch = z9hG4bKs ;x=a=b; RPORT=1222;received=203.0.113.9" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scan_in(via_msg(cases[i].params));
		assert_int_equal(in.via[0].rport, 0);
		assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.9"), 1222), 0);
		emit_rescan();
		assert_int_equal(out.via[0].rport, 1222);
		assert_pkstr(out.via[0].received, "203.0.113.9");
		assert_pkstr(out.via[0].raw, cases[i].expect);
	}

	/* A parameter name must be a token: the scanner now refuses the
	 * fuzzer's Via, so the rewriter never sees it. */
	{
		const char *bad = via_msg(";x\"y;rport;branch=z9hG4bKb");
		assert_int_not_equal(pk_sip_scan(bad, strlen(bad), &in), PK_SIP_OK);
	}
}

/*
 * One call with both parts (a Via ending in ";rport" takes pk_rw_via_received's
 * short path) plans what two calls do, the port and then the address (the
 * general path): the same bytes, for ports of 1 to 5 digits, addresses of
 * every length and Vias the short path does or does not take.
 */
static void test_via_received_short_path(void **state)
{
	static const char *const params[] = { ";branch=z9hG4bKa;rport", ";branch=z9hG4bKa;RPort",
					      ";rport;branch=z9hG4bKa", ";branch=z9hG4bKa;rport ",
					      ";branch=z9hG4bKa;x=\"a;rport\";rport" };
	static const uint16_t ports[] = { 1, 9, 10, 99, 100, 5060, 9999, 10000, 65535 };
	static const char *const ips[] = { "1.2.3.4", "10.99.0.2", "192.168.100.200", "[2001:db8::1]",
					   "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]" };
	static char one[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++)
			for (size_t j = 0; j < sizeof(ips) / sizeof(ips[0]); j++) {
				long n1, n2;

				scan_in(via_msg(params[i]));
				assert_int_equal(pk_rw_via_received(&rw, S(ips[j]), ports[k]), 0);
				n1 = emit_rescan();
				memcpy(one, obuf, (size_t)n1);
				assert_int_equal(out.via[0].rport, ports[k]);
				assert_pkstr(out.via[0].received, ips[j]);
				scan_in(via_msg(params[i]));
				assert_int_equal(pk_rw_via_received(&rw, PK_STR_NULL, ports[k]), 0);
				assert_int_equal(pk_rw_via_received(&rw, S(ips[j]), 0), 0);
				n2 = emit_rescan();
				assert_int_equal(n1, n2);
				assert_memory_equal(one, obuf, (size_t)n1);
			}
	/* Near a full scratch: "=5060" (5 bytes, 6 asked for first) then
	 * ";received=" and the address, as the general path asks. */
	for (unsigned left = 20; left <= 30; left++) {
		static char fill[PK_RW_SCRATCH];
		const size_t il = strlen("10.99.0.2");
		int rc;

		memset(fill, 'x', sizeof(fill));
		scan_in(via_msg(params[0]));
		assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-F",
					       pk_str_make(fill, PK_RW_SCRATCH - left - 7), PK_RW_BOTTOM),
				 0);
		rc = pk_rw_via_received(&rw, S("10.99.0.2"), 5060);
		assert_int_equal(rc, left >= 5 + 10 + il ? 0 : -ENOSPC);
		if (rc == 0) {
			emit_rescan();
			assert_int_equal(out.via[0].rport, 5060);
			assert_pkstr(out.via[0].received, "10.99.0.2");
		} else {
			assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), -ENOSPC);
		}
	}
}

/* via_received called again: each part it gives replaces the earlier one,
 * in the order the scanner needs. */
static void test_via_received_twice(void **state)
{
	(void)state;
	/* both parts twice: the last ones, once each */
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 1222), 0);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.8"), 1273), 0);
	emit_rescan();
	assert_pkstr(out.via[0].raw,
		     "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=1273;received=198.51.100.8");

	/* the port only, then the address only: both kept */
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, PK_STR_NULL, 1222), 0);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 0), 0);
	emit_rescan();
	assert_pkstr(out.via[0].raw,
		     "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=1222;received=198.51.100.7");

	/* the address first, then the port: "=port" still right after rport */
	scan_in(invite);
	assert_int_equal(pk_rw_via_received(&rw, S("198.51.100.7"), 0), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKp"), false), 0);
	assert_int_equal(pk_rw_via_received(&rw, PK_STR_NULL, 1273), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 2);
	assert_pkstr(out.via[1].raw,
		     "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=1273;received=198.51.100.7");

	/* an existing received= replaced twice, rport in the middle */
	scan_in(via_msg(";received=10.1.1.1;rport;branch=z9hG4bKm"));
	assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.5"), 5062), 0);
	assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.6"), 5063), 0);
	emit_rescan();
	assert_pkstr(out.via[0].raw,
		     "SIP/2.0/UDP 192.0.2.1:5060;received=203.0.113.6;rport=5063;branch=z9hG4bKm");

	/* then popped: nothing of it is left, however often it was set */
	assert_int_equal(pk_rw_via_pop(&rw), 0);
	assert_int_equal(pk_rw_via_received(&rw, S("203.0.113.7"), 5064), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 0, S("z9hG4bKn"), false), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 1);
	assert_pkstr(out.via[0].raw, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKn");
}

/* hdr_replace of a header the message lacks, twice; body_set's
 * Content-Type with hdr_replace on it; remove after add or replace. */
static void test_hdr_replace_last_wins(void **state)
{
	(void)state;
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_EXPIRES, S("300")), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Mid", S("1"), PK_RW_BOTTOM), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_EXPIRES, S("60")), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REPLACES, S("a@h;to-tag=1;from-tag=2")), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_REPLACES, S("b@h;to-tag=3;from-tag=4")), 0);
	emit_rescan();
	assert_int_equal(count_id(PK_HDR_EXPIRES), 1);
	assert_int_equal(out.expires, 60);
	assert_int_equal(count_id(PK_HDR_REPLACES), 1);
	assert_pkstr(out.replaces.call_id, "b@h");
	assert_lines_kept(&in, &out, BIT(EXPIRES) | BIT(REPLACES) | BIT(OTHER));

	/* body_set's Content-Type, then hdr_replace of it, and the reverse */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_body_set(&rw, S("hello"), S("text/plain")), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_CONTENT_TYPE, S("text/html")), 0);
	emit_rescan();
	assert_int_equal(count_id(PK_HDR_CONTENT_TYPE), 1);
	assert_pkstr(out.content_type, "text/html");
	assert_pkstr(out.body, "hello");

	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_CONTENT_TYPE, S("text/html")), 0);
	assert_int_equal(pk_rw_body_set(&rw, S("hello"), S("text/plain")), 0);
	emit_rescan();
	assert_int_equal(count_id(PK_HDR_CONTENT_TYPE), 1);
	assert_pkstr(out.content_type, "text/plain");

	/* an emptied body takes a Content-Type planned before with it */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_CONTENT_TYPE, S("text/html")), 0);
	assert_int_equal(pk_rw_body_set(&rw, PK_STR_NULL, PK_STR_NULL), 0);
	emit_rescan();
	assert_int_equal(count_id(PK_HDR_CONTENT_TYPE), 0);

	/* present header replaced twice, a line added at the same offset
	 * between: that line stays, before the last value */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_VIA, S("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKv1")), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_RECORD_ROUTE, NULL, S("<sip:10.0.0.9;lr>"), PK_RW_TOP), 0);
	assert_int_equal(pk_rw_hdr_replace(&rw, PK_HDR_VIA, S("SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKv2")), 0);
	emit_rescan();
	assert_int_equal(out.nvia, 1);
	assert_pkstr(out.via[0].branch, "z9hG4bKv2");
	assert_int_equal(out.first[PK_HDR_RECORD_ROUTE], 0);
	assert_int_equal(out.first[PK_HDR_VIA], 1);
	assert_lines_kept(&in, &out, BIT(VIA) | BIT(RECORD_ROUTE));

	/* lines added, then removed by id or by name */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_ROUTE, NULL, S("<sip:x.example.com;lr>"), PK_RW_TOP), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-New", S("1"), PK_RW_BOTTOM), 0);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Keep", S("2"), PK_RW_BOTTOM), 0);
	assert_int_equal(pk_rw_hdr_remove(&rw, PK_HDR_ROUTE), 2);
	assert_int_equal(pk_rw_hdr_remove_name(&rw, S("x-new")), 0);
	emit_rescan();
	assert_int_equal(out.nroute, 0);
	assert_int_equal(count_named(&out, "X-New"), 0);
	assert_int_equal(count_named(&out, "X-Keep"), 1);

	/* Content-Length by name is still emit's */
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "content-length", S("5"), PK_RW_TOP), -EINVAL);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "l", S("5"), PK_RW_TOP), -EINVAL);
}

/* R-URI set twice with other edits between: the last wins. */
static void test_ruri_last_wins(void **state)
{
	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:a@192.0.2.1")), 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKr"), false), 0);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:bob@192.0.2.4:5070")), 0);
	emit_rescan();
	assert_pkstr(out.ruri, "sip:bob@192.0.2.4:5070");
	assert_int_equal(out.nvia, 2);
}

/* --- limits ------------------------------------------------------------- */

static void test_enospc_output(void **state)
{
	char small[1024];
	long full;

	(void)state;
	scan_in(invite);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("10.0.0.1"), 5060, S("z9hG4bKpk1"), true), 0);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:carol@192.0.2.10")), 0);
	full = pk_rw_emit(&rw, obuf, sizeof(obuf));
	assert_true(full > 0 && (size_t)full < sizeof(small));
	/* Every size short of the message fails cleanly, never writing past it. */
	for (long cap = 0; cap < full; cap++) {
		memset(small, 0x5a, sizeof(small));
		assert_int_equal(pk_rw_emit(&rw, small, (size_t)cap), -ENOSPC);
		for (size_t k = (size_t)cap; k < sizeof(small); k++)
			if (small[k] != 0x5a)
				fail_msg("cap %ld: byte %zu written", cap, k);
	}
	assert_int_equal(pk_rw_emit(&rw, small, (size_t)full), full);
	assert_memory_equal(small, obuf, (size_t)full);
}

static void test_enospc_plan(void **state)
{
	char big[PK_RW_SCRATCH + 16];
	int rc = 0, i;

	(void)state;
	/* too many edits */
	scan_in(routed_bye);
	for (i = 0; i < PK_RW_MAX_EDITS + 1 && rc == 0; i++)
		rc = pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-N", S("1"), PK_RW_BOTTOM);
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(i, PK_RW_MAX_EDITS + 1);
	assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), -ENOSPC);

	/* scratch full */
	scan_in(routed_bye);
	memset(big, 'a', sizeof(big));
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Big", pk_str_make(big, sizeof(big)),
				       PK_RW_BOTTOM),
			 -ENOSPC);
	assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), -ENOSPC);

	/* most of the scratch is fine */
	scan_in(routed_bye);
	assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Big", pk_str_make(big, PK_RW_SCRATCH - 9),
				       PK_RW_BOTTOM),
			 0);
	assert_int_equal(pk_rw_via_push(&rw, "UDP", S("h"), 0, S("b"), false), -ENOSPC);
	assert_int_equal(pk_rw_emit(&rw, obuf, sizeof(obuf)), -ENOSPC);
}

/*
 * The same edits planned in every order give the same bytes: the plan is
 * kept sorted whether an edit lands after the last one (appended inline)
 * or before others (the general insertion), including a deletion (the
 * Route pop) among the insertions.
 */
static const void *has(const char *p, long n, const char *s)
{
	return memmem(p, (size_t)n, s, strlen(s));
}

static void test_plan_order_free(void **state)
{
	static char first[8192];
	unsigned perm[6] = { 0, 1, 2, 3, 4, 5 }, nperm = 0;
	long first_len = -1;

	(void)state;
	for (;;) {
		long n;

		scan_in(routed_bye);
		for (unsigned k = 0; k < 6; k++) {
			int rc = 0;

			switch (perm[k]) {
			case 0:
				rc = pk_rw_via_received(&rw, PK_STR_LIT("198.51.100.7"), 5062);
				break;
			case 1:
				rc = pk_rw_maxfwd_dec(&rw);
				break;
			case 2:
				rc = pk_rw_ruri_set(&rw, PK_STR_LIT("sip:alice@10.0.0.9:5070"));
				break;
			case 3:
				rc = pk_rw_hdr_add(&rw, PK_HDR_VIA, NULL,
						   PK_STR_LIT("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpk-x;rport"),
						   PK_RW_BEFORE_FIRST_SAME);
				break;
			case 4:
				rc = pk_rw_route_pop(&rw);
				break;
			default:
				rc = pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-Order", PK_STR_LIT("free"), PK_RW_BOTTOM);
				break;
			}
			assert_int_equal(rc, 0);
		}
		n = pk_rw_emit(&rw, obuf, sizeof(obuf));
		assert_true(n > 0);
		if (first_len < 0) {
			first_len = n;
			memcpy(first, obuf, (size_t)n);
			assert_non_null(has(first, n, "Max-Forwards: 6\r\n"));
			assert_non_null(has(first, n, "BYE sip:alice@10.0.0.9:5070 SIP/2.0\r\n"));
			assert_non_null(has(first, n, "received=198.51.100.7"));
			assert_non_null(has(first, n, "X-Order: free\r\n"));
		} else {
			assert_int_equal(n, first_len);
			assert_memory_equal(obuf, first, (size_t)n);
		}
		nperm++;
		/* next permutation (lexicographic) */
		int i = 4;
		while (i >= 0 && perm[i] > perm[i + 1])
			i--;
		if (i < 0)
			break;
		int j = 5;
		while (perm[j] < perm[i])
			j--;
		unsigned t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
		for (int a = i + 1, b = 5; a < b; a++, b--) {
			t = perm[a];
			perm[a] = perm[b];
			perm[b] = t;
		}
	}
	assert_int_equal(nperm, 720);
}

/*
 * Inserted texts of every length from 0 to 200 bytes (emit copies up to
 * 64 inline, in pieces that overlap, and calls memcpy above): the output
 * is the input with exactly that line added, byte for byte.
 */
static void test_emit_copy_lengths(void **state)
{
	static char want[8192], val[256];
	const size_t inlen = strlen(invite);

	(void)state;
	for (unsigned i = 0; i < sizeof(val); i++)
		val[i] = (char)('a' + (i * 7) % 26);
	for (uint32_t len = 0; len <= 200; len++) {
		long n;
		const char *at;
		size_t pre;

		scan_in(invite);
		assert_int_equal(pk_rw_hdr_add(&rw, PK_HDR_OTHER, "X-L", pk_str_make(val, len), PK_RW_TOP), 0);
		n = pk_rw_emit(&rw, obuf, sizeof(obuf));
		assert_int_equal(n, (long)(inlen + 5 + len + 2));
		/* the input with "X-L: value\r\n" before its first header line */
		at = strchr(invite, '\n') + 1;
		pre = (size_t)(at - invite);
		memcpy(want, invite, pre);
		memcpy(want + pre, "X-L: ", 5);
		memcpy(want + pre + 5, val, len);
		memcpy(want + pre + 5 + len, "\r\n", 2);
		memcpy(want + pre + 7 + len, at, inlen - pre);
		assert_memory_equal(obuf, want, (size_t)n);
	}
}

/* pk_copy_short (copy.h) against memcpy: every length 0-200 at every
 * source and destination offset in a 16-byte window, the bytes around
 * the destination untouched; then each length between buffers of exactly
 * that size on the heap (ASan reports any access outside them). */
static void test_copy_short(void **state)
{
	static char src[256 + 32], dst[256 + 64], want[256 + 64];

	(void)state;
	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (char)(i * 37 + 11);
	for (uint32_t n = 0; n <= 200; n++)
		for (unsigned so = 0; so < 16; so++)
			for (unsigned d = 0; d < 16; d++) {
				memset(dst, 0x5a, sizeof(dst));
				memset(want, 0x5a, sizeof(want));
				pk_copy_short(dst + 16 + d, src + so, n);
				memcpy(want + 16 + d, src + so, n);
				assert_memory_equal(dst, want, sizeof(dst));
			}
	for (uint32_t n = 0; n <= 200; n++) {
		char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);

		assert_non_null(a);
		assert_non_null(b);
		memcpy(a, src, n);
		memset(b, 0, n ? n : 1);
		pk_copy_short(b, a, n);
		if (n)
			assert_memory_equal(a, b, n);
		else
			assert_int_equal(b[0], 0);
		free(a);
		free(b);
	}
}

/* pk_put_u32 (common.h, two digits a step) writes what printf writes, for
 * every value below 2^20 and some around the powers of ten and the top. */
static void test_put_u32(void **state)
{
	char a[16], b[16];

	(void)state;
	for (uint64_t v = 0; v <= UINT32_MAX; v = v < (1u << 20) ? v + 1 : v * 3 + 7) {
		char *e = pk_put_u32(a, (uint32_t)v);
		int n = snprintf(b, sizeof(b), "%u", (unsigned)v);

		assert_int_equal(e - a, n);
		assert_memory_equal(a, b, (size_t)n);
	}
	for (uint64_t p = 1; p <= UINT32_MAX; p *= 10)
		for (uint64_t v = p - 1; v <= p + 1 && v <= UINT32_MAX; v++) {
			int n = snprintf(b, sizeof(b), "%u", (unsigned)v);

			assert_int_equal(pk_put_u32(a, (uint32_t)v) - a, n);
			assert_memory_equal(a, b, (size_t)n);
		}
	assert_int_equal(pk_put_u32(a, UINT32_MAX) - a, 10);
	assert_memory_equal(a, "4294967295", 10);
}

static void test_emit_twice(void **state)
{
	char second[2048];
	long n1, n2;

	(void)state;
	scan_in(compact);
	assert_int_equal(pk_rw_via_push(&rw, "TCP", S("10.0.0.1"), 5060, S("z9hG4bKtw"), true), 0);
	assert_int_equal(pk_rw_maxfwd_dec(&rw), 0);
	assert_int_equal(pk_rw_body_set(&rw, S("x"), S("text/plain")), 0);
	n1 = emit_rescan();
	n2 = pk_rw_emit(&rw, second, sizeof(second));
	assert_int_equal(n1, n2);
	assert_memory_equal(obuf, second, (size_t)n1);
	/* and the plan can grow between emits */
	assert_int_equal(pk_rw_ruri_set(&rw, S("sip:bob@192.0.2.4")), 0);
	emit_rescan();
	assert_pkstr(out.ruri, "sip:bob@192.0.2.4");
	assert_int_equal(out.max_forwards, 69);
	assert_int_equal(out.nvia, 4);
	assert_pkstr(out.body, "x");
}

/* --- pk_sip_params_get: pk_sip_param_get's answers, one walk ------------ */

static void test_params_get_agrees(void **state)
{
	static const char *const names[] = { "pk", "pkc", "pkconn", "transport", "maddr", "user", "lr" };
	static const char *const lists[] = {
		";branch=z9hG4bKpk0123456789abcdef.01234567;rport;pk=p;pkc=00ff00ff00ff00ff",
		";PK=t;Pk=p",			     /* the first of a name wins, any case */
		" ; pk = t ;pkc",		     /* LWS around names and '=', a valueless one */
		";x=\"a;pk=q\";pk=z",		     /* a ';' inside a quoted value is no parameter */
		";x=\"a\\\"b;pk=q\";pkc=1",	     /* an escaped quote inside it */
		";x=\"unterminated;pk=t",	     /* no closing quote: the value runs to the end */
		";@pk=t;lr",			     /* a byte that starts no token is skipped */
		"transport=tcp;maddr=224.0.1.75;user=phone;lr", /* no leading ';' */
		";pkconn=00000000000000a1;pk",
		";pk\r\n =t",			     /* folding LWS */
		";",
		"",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		struct pk_str params = pk_str_make(lists[k], strlen(lists[k]));
		struct pk_str vals[7];
		uint32_t got;

		for (unsigned i = 0; i < 7; i++)
			vals[i] = PK_STR_LIT("untouched");
		got = pk_sip_params_get(params, names, 7, vals);
		for (unsigned i = 0; i < 7; i++) {
			struct pk_str want = PK_STR_LIT("untouched");
			bool found = pk_sip_param_get(params, names[i], &want);

			if (found != ((got >> i) & 1) || want.len != vals[i].len || want.p != vals[i].p)
				fail_msg("list %zu \"%s\", name %s: param_get %d \"%.*s\", params_get %d \"%.*s\"", k,
					 lists[k], names[i], found, (int)want.len, want.p ? want.p : "",
					 (int)((got >> i) & 1), (int)vals[i].len, vals[i].p ? vals[i].p : "");
		}
	}
	/* what the proxy reads on its own Via */
	{
		static const char *const mine[] = { "pk", "pkc", "pkconn" };
		struct pk_str v[3] = { PK_STR_NULL, PK_STR_NULL, PK_STR_NULL };
		struct pk_str p = PK_STR_LIT(";branch=z9hG4bKpk1.2;rport;pk=p;pkc=00ff00ff00ff00ff");

		assert_int_equal(pk_sip_params_get(p, mine, 3, v), 3);
		assert_true(pk_str_eq(v[0], PK_STR_LIT("p")));
		assert_true(pk_str_eq(v[1], PK_STR_LIT("00ff00ff00ff00ff")));
		assert_int_equal(v[2].len, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_invite_exact),
		cmocka_unit_test(test_via_push_ipv6_no_port),
		cmocka_unit_test(test_via_pop_multi_value_line),
		cmocka_unit_test(test_via_pop_whole_line),
		cmocka_unit_test(test_via_received_rport),
		cmocka_unit_test(test_via_received_variants),
		cmocka_unit_test(test_maxfwd),
		cmocka_unit_test(test_maxfwd_dec_every_value),
		cmocka_unit_test(test_ruri_response_refused),
		cmocka_unit_test(test_route_pop),
		cmocka_unit_test(test_route_pop_n),
		cmocka_unit_test(test_route_pop_n_lines),
		cmocka_unit_test(test_route_pop_n_limit),
		cmocka_unit_test(test_hdr_add_replace_remove),
		cmocka_unit_test(test_line_in_place),
		cmocka_unit_test(test_hdr_replace_multi_and_by_name),
		cmocka_unit_test(test_body_replace),
		cmocka_unit_test(test_content_length_added),
		cmocka_unit_test(test_trailing_bytes_dropped),
		cmocka_unit_test(test_trailing_bytes_after_body),
		cmocka_unit_test(test_same_line_edits),
		cmocka_unit_test(test_maxfwd_absent_last_wins),
		cmocka_unit_test(test_via_pop_push_pop),
		cmocka_unit_test(test_via_rport_grammar),
		cmocka_unit_test(test_via_received_twice),
		cmocka_unit_test(test_via_received_short_path),
		cmocka_unit_test(test_hdr_replace_last_wins),
		cmocka_unit_test(test_ruri_last_wins),
		cmocka_unit_test(test_enospc_output),
		cmocka_unit_test(test_enospc_plan),
		cmocka_unit_test(test_plan_order_free),
		cmocka_unit_test(test_emit_copy_lengths),
		cmocka_unit_test(test_emit_twice),
		cmocka_unit_test(test_copy_short),
		cmocka_unit_test(test_put_u32),
		cmocka_unit_test(test_params_get_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
