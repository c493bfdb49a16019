/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the response builder (dataplane/sip/response.c): responses
 * built from INVITE, REGISTER and OPTIONS requests are scanned back with
 * pk_sip_scan, and what the client would match on is asserted: every Via
 * in order and byte-identical, From, Call-ID, CSeq copied, the To-tag rule
 * of RFC 3261 §8.2.6.2, the extra header lines, Content-Length: 0.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pickup/sip_rewrite.h"

/* A pickup INVITE that crossed two proxies: three Vias on two lines, one
 * of them in compact form, a Record-Route set and a Timestamp. */
static const char invite[] =
	"INVITE sip:*801@pbx.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP edge.example.com:5060;branch=z9hG4bKedge1\r\n"
	"v: SIP/2.0/TCP 10.2.0.1;branch=z9hG4bKcore2;received=10.2.0.9, SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=40001;received=198.51.100.7\r\n"
	"Max-Forwards: 68\r\n"
	"Record-Route: <sip:edge.example.com;lr>\r\n"
	"Record-Route: <sip:10.2.0.1;lr;transport=tcp>\r\n"
	"t: <sip:*801@pbx.example.com>\r\n"
	"From: \"Carol\" <sip:carol@example.com>;tag=1928301774\r\n"
	"i: a84b4c76e66710@pc33.example.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:carol@192.0.2.10:5060>\r\n"
	"Timestamp: 54.12 0.5\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static const char reg[] =
	"REGISTER sip:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.50:5060;rport;branch=z9hG4bKreg1\r\n"
	"Max-Forwards: 70\r\n"
	"To: Dave <sip:dave@example.com>\r\n"
	"From: Dave <sip:dave@example.com>;tag=456248\r\n"
	"Call-ID: 843817637684230@998sdasdh09\r\n"
	"CSeq: 1826 REGISTER\r\n"
	"Contact: <sip:dave@192.0.2.50:5060>\r\n"
	"Expires: 7200\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

/* In-dialog OPTIONS that ran out of hops: the To already has a tag. */
static const char options[] =
	"OPTIONS sip:carol@192.0.2.10:5060 SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKhjhs8ass877\r\n"
	"Max-Forwards: 0\r\n"
	"To: <sip:carol@example.com>;tag=93810874\r\n"
	"From: Bob <sip:bob@biloxi.example.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710\r\n"
	"CSeq: 63104 OPTIONS\r\n"
	"Accept: application/sdp\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

/* A REGISTER the scanner answers 400 (Max-Forwards is not a number). */
static const char bad_reg[] =
	"REGISTER sip:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.51:5060;branch=z9hG4bKbad\r\n"
	"Max-Forwards: seventy\r\n"
	"To: <sip:erin@example.com>\r\n"
	"From: <sip:erin@example.com>;tag=e1\r\n"
	"Call-ID: bad-1@192.0.2.51\r\n"
	"CSeq: 1 REGISTER\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static struct pk_sip_msg req, resp;
static char obuf[4096];

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

static void scan_req(const char *s, enum pk_sip_verdict want)
{
	assert_int_equal(pk_sip_scan(s, strlen(s), &req), want);
}

/* Build, scan the response back, and check what every response must have. */
static long build(unsigned status, const char *reason, const char *to_tag, const char *extra)
{
	long n = pk_sip_response_build(&req, status, reason, to_tag ? S(to_tag) : PK_STR_NULL,
				       extra ? S(extra) : PK_STR_NULL, obuf, sizeof(obuf));
	enum pk_sip_verdict v;

	assert_true(n > 0);
	v = pk_sip_scan(obuf, (size_t)n, &resp);
	if (v != PK_SIP_OK)
		print_error("response does not scan (%s):\n%.*s\n", resp.why, (int)n, obuf);
	assert_int_equal(v, PK_SIP_OK);
	assert_false(resp.is_request);
	assert_int_equal(resp.code, status);
	assert_int_equal(resp.len, n);
	assert_int_equal(resp.content_length, 0);
	assert_int_equal(resp.body.len, 0);

	/* §8.2.6.2: same Vias, same order, as written */
	assert_int_equal(resp.nvia, req.nvia);
	for (unsigned i = 0; i < req.nvia && i < PK_SIP_MAX_VIA; i++)
		assert_true(pk_str_eq(resp.via[i].raw, req.via[i].raw));
	/* ... and the Via lines byte for byte (compact names, several values) */
	assert_int_equal(resp.count[PK_HDR_VIA], req.count[PK_HDR_VIA]);
	for (int i = req.first[PK_HDR_VIA], j = resp.first[PK_HDR_VIA]; i >= 0;
	     i = pk_sip_hdr_next(&req, i), j = pk_sip_hdr_next(&resp, j)) {
		assert_true(j >= 0);
		assert_int_equal(req.hdrs[i].len, resp.hdrs[j].len);
		assert_memory_equal(req.buf + req.hdrs[i].off, resp.buf + resp.hdrs[j].off,
				    req.hdrs[i].len);
	}
	assert_true(pk_str_eq(resp.from.raw, req.from.raw));
	assert_true(pk_str_eq(resp.from.tag, req.from.tag));
	assert_true(pk_str_eq(resp.call_id, req.call_id));
	assert_int_equal(resp.cseq, req.cseq);
	assert_true(pk_str_eq(resp.cseq_method_tok, req.cseq_method_tok));
	/* the To URI is the request's */
	assert_true(pk_str_eq(resp.to.uri, req.to.uri));
	return n;
}

static int hdr_count_by_name(const struct pk_sip_msg *m, const char *name)
{
	int n = 0;
	size_t l = strlen(name);

	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].voff - m->hdrs[i].off > (int)l &&
		    pk_str_caseeq(pk_str_make(m->buf + m->hdrs[i].off, l), S(name)) &&
		    m->buf[m->hdrs[i].off + l] == ':')
			n++;
	return n;
}

static void test_100_trying(void **state)
{
	(void)state;
	scan_req(invite, PK_SIP_OK);
	assert_int_equal(req.nvia, 3);
	build(100, NULL, "pk-77", NULL);
	assert_pkstr(resp.reason, "Trying");
	/* no To-tag on a 100, even when one is offered */
	assert_int_equal(resp.to.tag.len, 0);
	assert_true(pk_str_eq(resp.to.raw, req.to.raw));
	/* Timestamp echoed (§8.2.6.1); no Record-Route, Contact, Max-Forwards */
	assert_int_equal(hdr_count_by_name(&resp, "Timestamp"), 1);
	assert_int_equal(resp.nrr, 0);
	assert_int_equal(resp.ncontact, 0);
	assert_int_equal(resp.max_forwards, -1);
	/* the status line and the order of the lines */
	assert_memory_equal(obuf, "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP edge.example.com", 53);
	assert_int_equal(resp.hdrs[0].id, PK_HDR_VIA);
	assert_int_equal(resp.hdrs[1].id, PK_HDR_VIA);
	assert_int_equal(resp.hdrs[2].id, PK_HDR_FROM);
	assert_int_equal(resp.hdrs[3].id, PK_HDR_TO);
	assert_int_equal(resp.hdrs[4].id, PK_HDR_CALL_ID);
	assert_int_equal(resp.hdrs[5].id, PK_HDR_CSEQ);
	assert_int_equal(resp.hdrs[resp.nhdrs - 1].id, PK_HDR_CONTENT_LENGTH);
}

static void test_180_ringing_adds_tag_and_rr(void **state)
{
	(void)state;
	scan_req(invite, PK_SIP_OK);
	build(180, NULL, "pk-77", "Contact: <sip:10.0.0.1:5075>\r\n");
	assert_pkstr(resp.reason, "Ringing");
	assert_pkstr(resp.to.tag, "pk-77");
	/* the compact To line with the tag appended */
	assert_pkstr(pk_sip_hdr_value(&resp, resp.first[PK_HDR_TO]), "<sip:*801@pbx.example.com>;tag=pk-77");
	/* dialog-creating: Record-Route copied in order (§12.1.1) */
	assert_int_equal(resp.nrr, 2);
	assert_true(pk_str_eq(resp.rr[0].raw, req.rr[0].raw));
	assert_true(pk_str_eq(resp.rr[1].raw, req.rr[1].raw));
	assert_int_equal(resp.ncontact, 1);
	assert_pkstr(resp.contact[0].uri, "sip:10.0.0.1:5075");
	assert_int_equal(hdr_count_by_name(&resp, "Timestamp"), 0);
}

static void test_480_with_warning_and_reason(void **state)
{
	static const char extra[] =
		"Warning: 399 pbx.example.com \"no ringing call in group 801\"\r\n"
		"Reason: SIP;cause=480;text=\"Nothing to pick up\"\r\n";

	(void)state;
	scan_req(invite, PK_SIP_OK);
	build(480, NULL, "pk-78", extra);
	assert_pkstr(resp.reason, "Temporarily Unavailable");
	assert_pkstr(resp.to.tag, "pk-78");
	assert_int_equal(resp.nrr, 0); /* not dialog-creating */
	assert_pkstr(pk_sip_hdr_value(&resp, resp.first[PK_HDR_WARNING]),
		     "399 pbx.example.com \"no ringing call in group 801\"");
	assert_pkstr(pk_sip_hdr_value(&resp, resp.first[PK_HDR_REASON]),
		     "SIP;cause=480;text=\"Nothing to pick up\"");
	/* extra lines come after CSeq and before Content-Length */
	assert_true(resp.first[PK_HDR_WARNING] > resp.first[PK_HDR_CSEQ]);
	assert_int_equal(resp.first[PK_HDR_CONTENT_LENGTH], resp.nhdrs - 1);
}

static void test_483_options_keeps_tag(void **state)
{
	long n;

	(void)state;
	scan_req(options, PK_SIP_OK);
	assert_int_equal(req.max_forwards, 0);
	n = build(483, NULL, "pk-79", NULL);
	assert_pkstr(resp.reason, "Too Many Hops");
	/* the To had a tag: kept, not replaced or doubled */
	assert_pkstr(resp.to.tag, "93810874");
	assert_true(pk_str_eq(resp.to.raw, req.to.raw));
	assert_null(memmem(obuf, (size_t)n, "pk-79", 5));
	assert_int_equal(hdr_count_by_name(&resp, "Accept"), 0);
}

static void test_register_200_and_503(void **state)
{
	(void)state;
	scan_req(reg, PK_SIP_OK);
	build(200, NULL, "reg-1", "Contact: <sip:dave@192.0.2.50:5060>;expires=3600\r\n");
	assert_pkstr(resp.reason, "OK");
	assert_pkstr(resp.to.tag, "reg-1");
	assert_int_equal(resp.cseq_method, PK_SIP_REGISTER);
	assert_int_equal(resp.contact[0].expires, 3600);

	build(503, NULL, "reg-1", "Retry-After: 30\r\n");
	assert_pkstr(resp.reason, "Service Unavailable");
	assert_pkstr(pk_sip_hdr_value(&resp, resp.first[PK_HDR_RETRY_AFTER]), "30");

	build(420, NULL, "reg-1", "Unsupported: foo, bar\r\n");
	assert_pkstr(resp.reason, "Bad Extension");
	assert_pkstr(pk_sip_hdr_value(&resp, resp.first[PK_HDR_UNSUPPORTED]), "foo, bar");
}

static void test_400_for_rejected_request(void **state)
{
	(void)state;
	/* The scanner rejects it, and the answer is still well formed. */
	scan_req(bad_reg, PK_SIP_REJECT);
	assert_int_equal(req.status, 400);
	build(req.status, req.why, "bad-1", NULL);
	assert_pkstr(resp.reason, req.why);
	assert_pkstr(resp.to.tag, "bad-1");
	assert_pkstr(resp.via[0].branch, "z9hG4bKbad");
}

static void test_custom_reason(void **state)
{
	(void)state;
	scan_req(invite, PK_SIP_OK);
	build(480, "No Call To Pick Up", "t", NULL);
	assert_pkstr(resp.reason, "No Call To Pick Up");
}

static void test_enospc_and_einval(void **state)
{
	char small[1024];
	long full;

	(void)state;
	scan_req(invite, PK_SIP_OK);
	full = build(480, NULL, "pk-1", "Warning: 399 pbx \"x\"\r\n");
	assert_true((size_t)full < sizeof(small));
	for (long cap = 0; cap < full; cap++) {
		memset(small, 0x5a, sizeof(small));
		assert_int_equal(pk_sip_response_build(&req, 480, NULL, S("pk-1"), S("Warning: 399 pbx \"x\"\r\n"),
						       small, (size_t)cap),
				 -ENOSPC);
		for (size_t k = (size_t)cap; k < sizeof(small); k++)
			if (small[k] != 0x5a)
				fail_msg("cap %ld: byte %zu written", cap, k);
	}

	assert_int_equal(pk_sip_response_build(&req, 99, NULL, PK_STR_NULL, PK_STR_NULL, obuf, sizeof(obuf)), -EINVAL);
	assert_int_equal(pk_sip_response_build(&req, 700, NULL, PK_STR_NULL, PK_STR_NULL, obuf, sizeof(obuf)), -EINVAL);
	/* never answer a response or an ACK */
	{
		static const char ack[] = "ACK sip:bob@192.0.2.4 SIP/2.0\r\n"
					  "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKack\r\n"
					  "Max-Forwards: 70\r\n"
					  "To: <sip:bob@example.com>;tag=9\r\n"
					  "From: <sip:carol@example.com>;tag=8\r\n"
					  "Call-ID: ack1\r\n"
					  "CSeq: 1 ACK\r\n"
					  "Content-Length: 0\r\n\r\n";
		scan_req(ack, PK_SIP_OK);
		assert_int_equal(pk_sip_response_build(&req, 400, NULL, PK_STR_NULL, PK_STR_NULL, obuf, sizeof(obuf)),
				 -EINVAL);
		scan_req(invite, PK_SIP_OK);
		full = build(180, NULL, "x", NULL);
		memcpy(small, obuf, (size_t)full);
		assert_int_equal(pk_sip_scan(small, (size_t)full, &req), PK_SIP_OK);
		assert_int_equal(pk_sip_response_build(&req, 400, NULL, PK_STR_NULL, PK_STR_NULL, obuf, sizeof(obuf)),
				 -EINVAL);
	}
}

/*
 * The whole answer, byte for byte, for requests whose lines follow each
 * other in the order of the answer (From then To, Call-ID then CSeq, two
 * Record-Route lines: the builder copies each such run at once) and with
 * a To-tag of our own 16 digits (copied with fixed-size moves) or of
 * another length; every smaller buffer gets -ENOSPC and nothing written
 * past its end.
 */
static void test_exact_bytes_and_runs(void **state)
{
	static const char inv[] = "INVITE sip:*801@pbx.example.com SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-run1;rport\r\n"
				  "Max-Forwards: 70\r\n"
				  "From: <sip:2003@example.test>;tag=fr-1\r\n"
				  "To: <sip:*801@example.test>\r\n"
				  "Call-ID: run-1@192.0.2.10\r\n"
				  "CSeq: 7 INVITE\r\n"
				  "Record-Route: <sip:p1.example.test;lr>\r\n"
				  "Record-Route: <sip:p2.example.test;lr>\r\n"
				  "Contact: <sip:2003@192.0.2.10:5060>\r\n"
				  "Content-Length: 0\r\n\r\n";
	static const char want16[] = "SIP/2.0 183 Session Progress\r\n"
				     "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-run1;rport\r\n"
				     "From: <sip:2003@example.test>;tag=fr-1\r\n"
				     "To: <sip:*801@example.test>;tag=0123456789abcdef\r\n"
				     "Call-ID: run-1@192.0.2.10\r\n"
				     "CSeq: 7 INVITE\r\n"
				     "Record-Route: <sip:p1.example.test;lr>\r\n"
				     "Record-Route: <sip:p2.example.test;lr>\r\n"
				     "X-Extra: 1\r\n"
				     "Content-Length: 0\r\n\r\n";
	static const char want5[] = "SIP/2.0 486 Busy Here\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-run1;rport\r\n"
				    "From: <sip:2003@example.test>;tag=fr-1\r\n"
				    "To: <sip:*801@example.test>;tag=pk-77\r\n"
				    "Call-ID: run-1@192.0.2.10\r\n"
				    "CSeq: 7 INVITE\r\n"
				    "Content-Length: 0\r\n\r\n";
	static const struct {
		unsigned status;
		const char *tag, *extra, *want;
	} t[] = {
		{ 183, "0123456789abcdef", "X-Extra: 1\r\n", want16 },
		{ 486, "pk-77", NULL, want5 },
	};
	char small[1024];

	(void)state;
	scan_req(inv, PK_SIP_OK);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long n = build(t[i].status, NULL, t[i].tag, t[i].extra);
		struct pk_str extra = t[i].extra ? S(t[i].extra) : PK_STR_NULL;

		assert_int_equal(n, (long)strlen(t[i].want));
		assert_memory_equal(obuf, t[i].want, (size_t)n);
		for (long cap = 0; cap <= n; cap++) {
			long r;

			memset(small, 0x5a, sizeof(small));
			r = pk_sip_response_build(&req, t[i].status, NULL, S(t[i].tag), extra, small, (size_t)cap);
			assert_int_equal(r, cap < n ? -ENOSPC : n);
			for (size_t k = (size_t)cap; k < sizeof(small); k++)
				if (small[k] != 0x5a)
					fail_msg("cap %ld: byte %zu written", cap, k);
		}
		assert_memory_equal(small, t[i].want, (size_t)n);
	}

	/* a single Via as the last line of the table is still copied */
	scan_req("OPTIONS sip:a@example.test SIP/2.0\r\nTo: <sip:a@example.test>\r\n"
		 "From: <sip:b@example.test>;tag=1\r\nCall-ID: last-via\r\nCSeq: 1 OPTIONS\r\n"
		 "Max-Forwards: 70\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-last\r\n\r\n",
		 PK_SIP_OK);
	assert_int_equal(req.hdrs[req.nhdrs - 1].id, PK_HDR_VIA);
	build(200, NULL, "0123456789abcdef", NULL);
	assert_pkstr(resp.via[0].branch, "z9hG4bK-last");
}

static void test_reason_phrases(void **state)
{
	static const struct {
		unsigned code;
		const char *text;
	} t[] = {
		{ 100, "Trying" },
		{ 180, "Ringing" },
		{ 183, "Session Progress" },
		{ 199, "Early Dialog Terminated" },
		{ 202, "Accepted" },
		{ 302, "Moved Temporarily" },
		{ 400, "Bad Request" },
		{ 403, "Forbidden" },
		{ 408, "Request Timeout" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Unsupported URI Scheme" },
		{ 420, "Bad Extension" },
		{ 422, "Session Interval Too Small" },
		{ 480, "Temporarily Unavailable" },
		{ 481, "Call/Transaction Does Not Exist" },
		{ 482, "Loop Detected" },
		{ 483, "Too Many Hops" },
		{ 486, "Busy Here" },
		{ 487, "Request Terminated" },
		{ 488, "Not Acceptable Here" },
		{ 489, "Bad Event" },
		{ 491, "Request Pending" },
		{ 500, "Server Internal Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 504, "Server Time-out" },
		{ 505, "Version Not Supported" },
		{ 513, "Message Too Large" },
		{ 600, "Busy Everywhere" },
		{ 603, "Decline" },
		{ 604, "Does Not Exist Anywhere" },
		{ 606, "Not Acceptable" },
		/* unregistered codes name their class */
		{ 499, "Client Error" },
		{ 599, "Server Error" },
		{ 699, "Global Failure" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(pk_sip_reason_phrase(t[i].code), t[i].text) != 0)
			fail_msg("%u: '%s'", t[i].code, pk_sip_reason_phrase(t[i].code));
	assert_non_null(pk_sip_reason_phrase(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100_trying),
		cmocka_unit_test(test_180_ringing_adds_tag_and_rr),
		cmocka_unit_test(test_480_with_warning_and_reason),
		cmocka_unit_test(test_483_options_keeps_tag),
		cmocka_unit_test(test_register_200_and_503),
		cmocka_unit_test(test_400_for_rejected_request),
		cmocka_unit_test(test_custom_reason),
		cmocka_unit_test(test_enospc_and_einval),
		cmocka_unit_test(test_exact_bytes_and_runs),
		cmocka_unit_test(test_reason_phrases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
