/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the role-dependent checks (dataplane/sip/check.c): what a
 * proxy and a UAS answer to a well-formed request they cannot act on
 * (416, 483, 420 with its Unsupported list, 415, 406), and which responses
 * a proxy must not forward because their next Via is a broadcast or
 * multicast address (RFC 4475 §3.3.10).
 *
 * Every message is scanned with pk_sip_scan first, as the worker does.
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

#include "pickup/sip.h"

static struct pk_sip_msg M;
static char *heap;
static char text[4096];

#define OURS PK_SIP_OPT_BIT(REPLACES)

static int free_heap(void **state)
{
	(void)state;
	free(heap);
	heap = NULL;
	return 0;
}

static void scan_text(size_t n, const char *file, int line)
{
	free(heap);
	heap = malloc(n);
	assert_non_null(heap);
	memcpy(heap, text, n);
	enum pk_sip_verdict v = pk_sip_scan(heap, n, &M);
	if (v != PK_SIP_OK) {
		print_error("scan: %d %u %s\n%.*s\n", v, M.status, M.why, (int)n, text);
		_fail(file, line);
	}
}

/* Scan a request: method, Request-URI, extra header lines, body. */
static void request_at(const char *method, const char *ruri, const char *extra, const char *body,
		       const char *file, int line)
{
	int n = snprintf(text, sizeof(text),
			 "%s %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKchk1\r\n"
			 "From: <sip:carol@example.com>;tag=c1\r\n"
			 "To: <sip:bob@example.com>\r\n"
			 "Call-ID: chk@192.0.2.10\r\n"
			 "CSeq: 1 %s\r\n"
			 "%s"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, ruri, method, extra, strlen(body), body);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	scan_text((size_t)n, file, line);
}
#define request(m, r, x, b) request_at((m), (r), (x), (b), __FILE__, __LINE__)

/* Scan a response with the given Via lines. */
static void response_at(const char *vias, const char *file, int line)
{
	int n = snprintf(text, sizeof(text),
			 "SIP/2.0 200 OK\r\n"
			 "%s"
			 "From: <sip:carol@example.com>;tag=c1\r\n"
			 "To: <sip:bob@example.com>;tag=b1\r\n"
			 "Call-ID: chk@192.0.2.10\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "Content-Length: 0\r\n\r\n",
			 vias);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	scan_text((size_t)n, file, line);
}
#define response(v) response_at((v), __FILE__, __LINE__)

static const char *role_name(enum pk_sip_role r)
{
	return r == PK_ROLE_PROXY ? "proxy" : "UAS";
}

/* Run the check for a role on the scanned message: want 0 = OK. */
static void check_at(enum pk_sip_role role, uint32_t supported, uint16_t want, const char *file,
		     int line)
{
	M.status = 0;
	enum pk_sip_verdict v = pk_sip_check_request(&M, role, supported);
	bool good = want == 0 ? v == PK_SIP_OK : (v == PK_SIP_REJECT && M.status == want);
	if (!good) {
		print_error("%s check: verdict %d status %u (\"%s\"), want %u\n", role_name(role), v,
			    M.status, M.why ? M.why : "(null)", want);
		_fail(file, line);
	}
	if (want && (!M.why || !M.why[0])) {
		print_error("no reason text\n");
		_fail(file, line);
	}
}
#define assert_check(role, sup, want) check_at((role), (sup), (want), __FILE__, __LINE__)
/* both roles, each on a fresh scan of the same text */
#define assert_both(px, ua)                                   \
	do {                                                  \
		size_t len_ = strlen(text);                   \
		assert_check(PK_ROLE_PROXY, OURS, (px));      \
		scan_text(len_, __FILE__, __LINE__);          \
		assert_check(PK_ROLE_UAS, OURS, (ua));        \
	} while (0)

#define SDP "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"

/* --- Request-URI scheme ---------------------------------------------------- */

static void test_uri_scheme(void **state)
{
	(void)state;
	request("INVITE", "sip:bob@example.com", "", "");
	assert_both(0, 0);
	request("INVITE", "sips:bob@example.com", "", "");
	assert_both(0, 0);
	request("INVITE", "SIP:bob@example.com", "", "");
	assert_both(0, 0);
	/* a proxy routes tel: (to a gateway); as a UAS we only are sip(s) */
	request("INVITE", "tel:+15551234567", "", "");
	assert_both(0, 416);
	request("OPTIONS", "mailto:bob@example.com", "", "");
	assert_both(416, 416);
	request("OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent", "", "");
	assert_both(416, 416);
	request("OPTIONS", "soap.beep://192.0.2.103:3002", "", "");
	assert_both(416, 416);
	/* a sip URI the scanner let through but that does not parse */
	request("INVITE", "sip:bob@example.com:99999", "", "");
	assert_both(400, 400);
	request("INVITE", "sip:@example.com", "", "");
	assert_both(400, 400);
}

/* --- Max-Forwards -------------------------------------------------------- */

static void test_max_forwards(void **state)
{
	(void)state;
	request("INVITE", "sip:bob@example.com", "Max-Forwards: 0\r\n", "");
	assert_both(483, 0);
	request("OPTIONS", "sip:bob@example.com", "Max-Forwards: 0\r\n", "");
	assert_both(483, 0);
	request("INVITE", "sip:bob@example.com", "Max-Forwards: 1\r\n", "");
	assert_both(0, 0);
	request("INVITE", "sip:bob@example.com", "Max-Forwards: 70\r\n", "");
	assert_both(0, 0);
	/* absent (RFC 2543 peers): nothing to exhaust */
	request("INVITE", "sip:bob@example.com", "", "");
	assert_int_equal(M.max_forwards, -1);
	assert_both(0, 0);
}

/* --- option tags: 420 ---------------------------------------------------- */

static void test_require(void **state)
{
	(void)state;
	/* Proxy-Require is what a proxy must understand */
	request("INVITE", "sip:bob@example.com", "Proxy-Require: replaces\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 0);
	assert_check(PK_ROLE_PROXY, 0, 420);
	request("INVITE", "sip:bob@example.com", "Proxy-Require: foo\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 420);
	request("INVITE", "sip:bob@example.com", "Proxy-Require: replaces, foo\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 420);
	request("INVITE", "sip:bob@example.com", "Proxy-Require: timer\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 420);
	assert_check(PK_ROLE_PROXY, OURS | PK_SIP_OPT_BIT(TIMER), 0);

	/* Require is for the UAS: a proxy passes it on */
	request("INVITE", "sip:bob@example.com", "Require: foo\r\n", "");
	assert_both(0, 420);
	request("INVITE", "sip:bob@example.com", "Require: replaces\r\n", "");
	assert_both(0, 0);
	request("INVITE", "sip:bob@example.com", "Require: 100rel\r\nRequire: replaces\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 420);
	assert_check(PK_ROLE_UAS, OURS | PK_SIP_OPT_BIT(100REL), 0);
	request("INVITE", "sip:bob@example.com", "Supported: foo, bar\r\n", "");
	assert_both(0, 0);

	/* ACK and CANCEL are never answered 420 (RFC 3261 §8.2.2.3) */
	request("ACK", "sip:bob@example.com", "Require: foo\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 0);
	request("CANCEL", "sip:bob@example.com", "Require: foo\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 0);
	request("BYE", "sip:bob@example.com", "Require: foo\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 420);
}

static void test_unsupported_list(void **state)
{
	(void)state;
	char out[128];
	request("INVITE", "sip:bob@example.com",
		"Proxy-Require: foo, replaces,bar\r\nRequire: 100rel\r\n", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_PROXY, OURS, out, sizeof(out)), 8);
	assert_string_equal(out, "foo, bar");

	request("INVITE", "sip:bob@example.com",
		"Require: 100rel,  FOO , replaces\r\nRequire: timer\r\n", "");
	int n = pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out));
	assert_string_equal(out, "100rel, FOO, timer");
	assert_int_equal(n, strlen("100rel, FOO, timer"));
	/* a proxy does not read Require */
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_PROXY, OURS, out, sizeof(out)), 0);
	/* a tag we do not know is never supported */
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS,
						 OURS | PK_SIP_OPT_BIT(100REL) | PK_SIP_OPT_BIT(TIMER),
						 out, sizeof(out)),
			 3);
	assert_string_equal(out, "FOO");
	request("INVITE", "sip:bob@example.com", "Require: replaces\r\n", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)), 0);
	request("INVITE", "sip:bob@example.com", "", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)), 0);

	/* the room needed is the text and its NUL */
	request("INVITE", "sip:bob@example.com", "Require: foo, bar\r\n", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, 9), 8);
	assert_string_equal(out, "foo, bar");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, 8), -1);
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, 4), -1);
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, 0), -1);
	request("INVITE", "sip:bob@example.com", "Require: replaces\r\n", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, 0), 0);

	/* an element that is not one token is refused (420) and listed as
	 * it is, never with bytes a header cannot carry (found by fuzzing:
	 * a 420 that named nothing) */
	request("INVITE", "sip:bob@example.com", "Require: replaces replaces\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 420);
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)), 17);
	assert_string_equal(out, "replaces replaces");
	request("INVITE", "sip:bob@example.com", "Require: replaces\r replaces, timer\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 420);
	assert_true(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)) > 0);
	assert_string_equal(out, "replaces replaces, timer");
	request("INVITE", "sip:bob@example.com", "Require: replaces, \"\"\r\n", "");
	assert_check(PK_ROLE_UAS, OURS, 420);
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)), 1);
	assert_string_equal(out, "?");
}

/* sip.h: the list is of "Require (role UAS) or Proxy-Require (role PROXY)";
 * RFC 4475 §3.3.5: "depending on the role in which the element is
 * responding". A UAS does not answer 420 for, nor list, Proxy-Require tags
 * (RFC 3261 §20.29: they are for proxies). */
static void test_uas_ignores_proxy_require(void **state)
{
	(void)state;
	char out[128];
	request("INVITE", "sip:bob@example.com", "Proxy-Require: foo\r\nRequire: bar\r\n", "");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_UAS, OURS, out, sizeof(out)), 3);
	assert_string_equal(out, "bar");
	assert_int_equal(pk_sip_unsupported_list(&M, PK_ROLE_PROXY, OURS, out, sizeof(out)), 3);
	assert_string_equal(out, "foo");
}

/* The same for the 420 itself: a UAS answers for Require only, so a
 * request whose only unknown tag is in Proxy-Require (the proxies before
 * us understood it, or there were none) is not refused by the UAS. */
static void test_uas_check_ignores_proxy_require(void **state)
{
	(void)state;
	request("INVITE", "sip:bob@example.com", "Proxy-Require: foo\r\n", "");
	assert_both(420, 0);
}

/* --- bodies: 415 and 406 -------------------------------------------------- */

static void test_content_type(void **state)
{
	(void)state;
	request("INVITE", "sip:bob@example.com", "Content-Type: application/sdp\r\n", SDP);
	assert_both(0, 0);
	request("INVITE", "sip:bob@example.com", "c: Application/SDP ; charset=utf-8\r\n", SDP);
	assert_both(0, 0);
	request("INVITE", "sip:bob@example.com", "Content-Type: text/plain\r\n", "hello");
	assert_both(0, 415);
	request("INVITE", "sip:bob@example.com", "Content-Type: application/sdpx\r\n", SDP);
	assert_both(0, 415);
	request("MESSAGE", "sip:bob@example.com",
		"Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n", "--7a9cbec02ceef655--\r\n");
	assert_both(0, 415);
	/* a body without a type */
	request("INVITE", "sip:bob@example.com", "", SDP);
	assert_both(0, 415);
	/* a type without a body is no body */
	request("INVITE", "sip:bob@example.com", "Content-Type: text/plain\r\n", "");
	assert_both(0, 0);
	/* ACK cannot be answered */
	request("ACK", "sip:bob@example.com", "Content-Type: text/plain\r\n", "hello");
	assert_check(PK_ROLE_UAS, OURS, 0);
}

static void test_accept(void **state)
{
	(void)state;
	static const struct {
		const char *hdrs;
		uint16_t want;
	} cases[] = {
		{ "Accept: application/sdp\r\n", 0 },
		{ "Accept: APPLICATION/SDP\r\n", 0 },
		{ "Accept: application/*\r\n", 0 },
		{ "Accept: */*\r\n", 0 },
		{ "Accept: text/html, application/sdp;q=0.5\r\n", 0 },
		{ "Accept: text/html,\r\n application/sdp\r\n", 0 },
		{ "Accept: text/html\r\nAccept: application/sdp\r\n", 0 },
		{ "Accept: text/nobodyKnowsThis\r\n", 406 },
		{ "Accept: application/sdpx, text/html\r\n", 406 },
		{ "Accept: text/*\r\n", 406 },
		/* an empty Accept admits nothing (RFC 3261 §20.1) */
		{ "Accept:\r\n", 406 },
		{ "", 0 },
	};
	for (size_t i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		request("INVITE", "sip:bob@example.com", cases[i].hdrs, "");
		assert_both(0, cases[i].want);
	}
	/* only an INVITE's answer carries our SDP */
	request("OPTIONS", "sip:bob@example.com", "Accept: text/nobodyKnowsThis\r\n", "");
	assert_both(0, 0);
	/* the order of the checks: 416 before 483 before 420 */
	request("INVITE", "mailto:bob@example.com", "Max-Forwards: 0\r\nProxy-Require: foo\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 416);
	request("INVITE", "sip:bob@example.com", "Max-Forwards: 0\r\nProxy-Require: foo\r\n", "");
	assert_check(PK_ROLE_PROXY, OURS, 483);
}

/* --- where a response goes ----------------------------------------------- */

#define VIA1 "Via: SIP/2.0/UDP pbx.example.com;branch=z9hG4bKpbx1\r\n"

static void route_is(const char *second_via, enum pk_sip_verdict want, const char *file, int line)
{
	char vias[512];
	snprintf(vias, sizeof(vias), VIA1 "Via: %s\r\n", second_via);
	response_at(vias, file, line);
	enum pk_sip_verdict v = pk_sip_check_response_route(&M);
	if (v != want) {
		print_error("second Via \"%s\": %d (\"%s\"), want %d\n", second_via, v, M.why, want);
		_fail(file, line);
	}
	if (v == PK_SIP_DROP && (!M.why || !M.why[0])) {
		print_error("no reason text\n");
		_fail(file, line);
	}
}
#define assert_route(via, want) route_is((via), (want), __FILE__, __LINE__)

static void test_response_route(void **state)
{
	(void)state;
	assert_route("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 192.0.2.10;received=198.51.100.7;rport=5070;branch=z9hG4bK1",
		     PK_SIP_OK);
	assert_route("SIP/2.0/UDP [2001:db8::10]:5060;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP [fe80::1];branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 223.255.255.255;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 240.0.0.1;branch=z9hG4bK1", PK_SIP_OK);

	/* broadcast (RFC 4475 bcast) and multicast next hops */
	assert_route("SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 255.255.255.255:5060;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 224.0.0.1;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 224.0.1.75:5060;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 239.255.255.250;branch=z9hG4bK1", PK_SIP_DROP);
	/* every first octet at the edges of 224..239, and next to them */
	assert_route("SIP/2.0/UDP 229.1.2.3;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 230.1.2.3;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 233.0.0.9:5070;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 220.1.2.3;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 222.1.2.3;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 22.4.0.1;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 2.24.0.1;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 24.0.0.1;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP [ff02::1];branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP [FF05::1:3]:5060;branch=z9hG4bK1", PK_SIP_DROP);
	/* maddr and received are where the response would go too */
	assert_route("SIP/2.0/UDP 192.0.2.10;maddr=255.255.255.255;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;maddr=224.0.1.75;ttl=1;branch=z9hG4bK1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1;maddr=[ff02::fb]", PK_SIP_DROP);
	/* maddr in any case, wherever it falls among the 16-byte steps of
	 * the search: across two steps ('m' at 14), in the last step, which
	 * overlaps the one before (64 bytes, 'M' at 49), after many an 'm'
	 * that is not one */
	assert_route("SIP/2.0/UDP a;maddr=224.0.0.1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1;x=1234567;MADDR=224.0.0.1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1;x=12345678;MADDR=224.0.0.1", PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKmMmmMmmmmmMmmmmmmmmmmmmma;mAdDr=239.1.1.1;ttl=1",
		     PK_SIP_DROP);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKmadd;x=maddrmaddr;Maddr=255.255.255.255",
		     PK_SIP_DROP);
	/* the letters without the parameter, and a unicast maddr */
	assert_route("SIP/2.0/UDP maddr.example.com;branch=z9hG4bKmaddr;x=maddr", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1;maddr=192.0.2.99", PK_SIP_OK);
	assert_route("SIP/2.0/UDP phone.example.com;received=255.255.255.255;branch=z9hG4bK1",
		     PK_SIP_DROP);
	assert_route("SIP/2.0/UDP phone.example.com;received=239.1.2.3;branch=z9hG4bK1",
		     PK_SIP_DROP);

	/* the second value of a Via line is the next hop as well */
	response("Via: SIP/2.0/UDP pbx.example.com;branch=z9hG4bKpbx1, SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK2\r\n");
	assert_int_equal(pk_sip_check_response_route(&M), PK_SIP_DROP);
	/* the first Via is ours: its address does not matter */
	response("Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKpbx1\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK2\r\n");
	assert_int_equal(pk_sip_check_response_route(&M), PK_SIP_OK);
	/* a single Via: the response was for us, there is no one to forward
	 * it to */
	response(VIA1);
	assert_int_equal(pk_sip_check_response_route(&M), PK_SIP_DROP);
	assert_non_null(M.why);
	assert_true(M.why[0] != '\0');
}

/* Only addresses are broadcast or multicast: a host name whose first
 * label happens to be 224-239 is an ordinary next hop. */
static void test_response_route_names(void **state)
{
	(void)state;
	assert_route("SIP/2.0/UDP 239.pbx.example.com;branch=z9hG4bK1", PK_SIP_OK);
	assert_route("SIP/2.0/UDP 224.example.net:5060;branch=z9hG4bK1", PK_SIP_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_uri_scheme, free_heap),
		cmocka_unit_test_teardown(test_max_forwards, free_heap),
		cmocka_unit_test_teardown(test_require, free_heap),
		cmocka_unit_test_teardown(test_unsupported_list, free_heap),
		cmocka_unit_test_teardown(test_uas_ignores_proxy_require, free_heap),
		cmocka_unit_test_teardown(test_uas_check_ignores_proxy_require, free_heap),
		cmocka_unit_test_teardown(test_content_type, free_heap),
		cmocka_unit_test_teardown(test_accept, free_heap),
		cmocka_unit_test_teardown(test_response_route, free_heap),
		cmocka_unit_test_teardown(test_response_route_names, free_heap),
	};
	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
