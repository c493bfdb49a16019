/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of TCP framing (pk_sip_frame, dataplane/sip/scan.c): how many
 * bytes of a stream make the next message, when to wait for more, and when
 * the stream is broken and the connection must be closed (RFC 3261 §18.3:
 * Content-Length is mandatory on streams). Every framed message is scanned
 * too: the framer and the scanner must agree on where a message ends.
 *
 * Each input is a heap copy of exactly its length, so the sanitizer build
 * catches a read past the end.
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

static char *heap;

static long frame_n(const char *s, size_t len, size_t *skip)
{
	free(heap);
	heap = malloc(len ? len : 1);
	assert_non_null(heap);
	memcpy(heap, s, len);
	*skip = 12345;
	return pk_sip_frame(heap, len, skip);
}

static long frame_s(const char *s, size_t *skip)
{
	return frame_n(s, strlen(s), skip);
}

static int free_heap(void **state)
{
	(void)state;
	free(heap);
	heap = NULL;
	return 0;
}

#define HDRS(cl)                                                   \
	"INVITE sip:bob@example.com SIP/2.0\r\n"                   \
	"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKfr1\r\n"  \
	"From: <sip:carol@example.com>;tag=c1\r\n"                 \
	"To: <sip:bob@example.com>\r\n"                            \
	"Call-ID: frame@192.0.2.10\r\n"                            \
	"CSeq: 1 INVITE\r\n"                                       \
	"Content-Type: application/sdp\r\n" cl "\r\n"

#define SDP "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
#define SDP_LEN "65"

static const char msg1[] = HDRS("Content-Length: " SDP_LEN "\r\n") SDP;

static const char bye[] = "BYE sip:bob@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKfr2\r\n"
			  "From: <sip:carol@example.com>;tag=c1\r\n"
			  "To: <sip:bob@example.com>;tag=b1\r\n"
			  "Call-ID: frame@192.0.2.10\r\n"
			  "CSeq: 2 BYE\r\n"
			  "l: 0\r\n\r\n";

/* A framed message scans, and the scanner ends it where the framer did. */
static void scans_to(const char *p, long n)
{
	static struct pk_sip_msg m;
	assert_int_equal(pk_sip_scan(p, (size_t)n, &m), PK_SIP_OK);
	assert_int_equal(m.len, n);
}

static void test_sdp_len(void **state)
{
	(void)state;
	assert_int_equal(strlen(SDP), atoi(SDP_LEN));
}

static void test_exact(void **state)
{
	(void)state;
	size_t skip;
	long n = frame_s(msg1, &skip);
	assert_int_equal(n, sizeof(msg1) - 1);
	assert_int_equal(skip, 0);
	scans_to(heap, n);
	n = frame_s(bye, &skip);
	assert_int_equal(n, sizeof(bye) - 1);
	assert_int_equal(skip, 0);
	scans_to(heap, n);
}

static void test_partial(void **state)
{
	(void)state;
	size_t skip;
	size_t hl = strlen(HDRS("Content-Length: " SDP_LEN "\r\n"));
	/* every prefix needs more bytes: headers, then body */
	for (size_t n = 1; n < sizeof(msg1) - 1; n++) {
		long r = frame_n(msg1, n, &skip);
		if (r != 0)
			print_error("prefix %zu of %zu (headers end at %zu): %ld\n", n,
				    sizeof(msg1) - 1, hl, r);
		assert_int_equal(r, 0);
		assert_int_equal(skip, 0);
	}
	assert_int_equal(frame_n(msg1, 0, &skip), 0);
}

static void test_back_to_back(void **state)
{
	(void)state;
	char two[2048];
	size_t a = sizeof(msg1) - 1, b = sizeof(bye) - 1;
	memcpy(two, msg1, a);
	memcpy(two + a, bye, b);
	size_t skip;
	long n = frame_n(two, a + b, &skip);
	assert_int_equal(n, a);
	assert_int_equal(skip, 0);
	scans_to(heap, n);
	n = frame_n(two + a, b, &skip);
	assert_int_equal(n, b);
	scans_to(heap, n);
	/* the second one cut short */
	assert_int_equal(frame_n(two, a + b - 1, &skip), a);
	assert_int_equal(frame_n(two + a, b - 1, &skip), 0);
	/* BYE first, then the INVITE: the empty body ends the BYE */
	memcpy(two, bye, b);
	memcpy(two + b, msg1, a);
	assert_int_equal(frame_n(two, a + b, &skip), b);
}

static void test_keepalive(void **state)
{
	(void)state;
	size_t skip;
	/* RFC 5626 §3.5.1 double-CRLF ping, and a single CRLF pong */
	assert_int_equal(frame_s("\r\n\r\n", &skip), 4);
	assert_int_equal(skip, 4);
	assert_int_equal(frame_s("\r\n", &skip), 2);
	assert_int_equal(skip, 2);
	/* before a message: consumed on their own */
	char buf[1024];
	snprintf(buf, sizeof(buf), "\r\n\r\n%s", bye);
	assert_int_equal(frame_s(buf, &skip), 4);
	assert_int_equal(skip, 4);
	assert_int_equal(frame_s(buf + 4, &skip), strlen(bye));
	assert_int_equal(skip, 0);
	/* half a CRLF: wait */
	assert_int_equal(frame_s("\r", &skip), 0);
	assert_int_equal(skip, 0);
	/* \r\n\r followed by nothing: the first CRLF is a keep-alive */
	assert_int_equal(frame_s("\r\n\r", &skip), 2);
	assert_int_equal(skip, 2);
}

static void test_content_length_forms(void **state)
{
	(void)state;
	size_t skip;
	static const char *const forms[] = {
		"Content-Length: " SDP_LEN "\r\n", "l: " SDP_LEN "\r\n", "L:" SDP_LEN "\r\n",
		"content-length:   " SDP_LEN "  \r\n", "Content-Length : " SDP_LEN "\r\n",
		"CONTENT-LENGTH:\t00" SDP_LEN "\r\n",
	};
	for (size_t i = 0; i < PK_ARRAY_SIZE(forms); i++) {
		char buf[1024];
		int len = snprintf(buf, sizeof(buf), HDRS("%s") SDP "INVITE sip:next", forms[i]);
		long n = frame_n(buf, (size_t)len, &skip);
		if (n != len - 15)
			print_error("%s", forms[i]);
		assert_int_equal(n, len - 15);
		scans_to(heap, n);
	}
	/* Content-Length-like text in the body or in other names does not
	 * count */
	char buf[1024];
	int len = snprintf(buf, sizeof(buf),
			   HDRS("X-Content-Length: 1\r\nl: 20\r\n") "Content-Length: 999\r\n\r\n");
	/* the body is 23 bytes, l: says 20 */
	assert_int_equal(frame_n(buf, (size_t)len, &skip), len - 3);
}

static void test_broken(void **state)
{
	(void)state;
	size_t skip;
	/* no Content-Length on a stream */
	assert_int_equal(frame_s(HDRS("") SDP, &skip), -1);
	/* two of them, even equal, in any spelling */
	assert_int_equal(frame_s(HDRS("Content-Length: " SDP_LEN "\r\nContent-Length: " SDP_LEN "\r\n") SDP, &skip),
			 -1);
	assert_int_equal(frame_s(HDRS("Content-Length: " SDP_LEN "\r\nl: " SDP_LEN "\r\n") SDP, &skip), -1);
	/* values that are not a length */
	static const char *const bad[] = { "-1", "abc", "", "6 8", "0x44", "65536",
					   "99999999999999999999" };
	for (size_t i = 0; i < PK_ARRAY_SIZE(bad); i++) {
		char buf[1024];
		snprintf(buf, sizeof(buf), HDRS("Content-Length: %s\r\n") SDP, bad[i]);
		long n = frame_s(buf, &skip);
		if (n != -1)
			print_error("Content-Length: %s -> %ld\n", bad[i], n);
		assert_int_equal(n, -1);
	}
}

static void test_oversized(void **state)
{
	(void)state;
	size_t skip;
	static char big[PK_SIP_MAX_MSG + 100];
	/* headers that never end: wait up to PK_SIP_MAX_MSG, then give up */
	memset(big, 'a', sizeof(big));
	memcpy(big, "INVITE sip:bob@example.com SIP/2.0\r\nX: ", 40);
	assert_int_equal(frame_n(big, PK_SIP_MAX_MSG, &skip), 0);
	assert_int_equal(frame_n(big, PK_SIP_MAX_MSG + 1, &skip), -1);
	/* a Content-Length that would make the message too large is known as
	 * soon as the headers are in */
	char buf[1024];
	int len = snprintf(buf, sizeof(buf), HDRS("Content-Length: 65500\r\n"));
	assert_int_equal(frame_n(buf, (size_t)len, &skip), -1);
	/* the largest message that fits */
	size_t hl = (size_t)snprintf(buf, sizeof(buf), HDRS("Content-Length: %5zu\r\n"), (size_t)0);
	size_t body = PK_SIP_MAX_MSG - hl;
	hl = (size_t)snprintf(big, sizeof(big), HDRS("Content-Length: %5zu\r\n"), body);
	memset(big + hl, 'b', body);
	assert_int_equal(frame_n(big, PK_SIP_MAX_MSG, &skip), PK_SIP_MAX_MSG);
	scans_to(heap, PK_SIP_MAX_MSG);
	assert_int_equal(frame_n(big, PK_SIP_MAX_MSG - 1, &skip), 0);
}

/* Line folding (RFC 3261 §7.3.1) is allowed in any header, Content-Length
 * included; the scanner accepts it, so the framer must agree. */
static void test_folded_content_length(void **state)
{
	(void)state;
	size_t skip;
	static const char folded[] = HDRS("Content-Length:\r\n " SDP_LEN "\r\n") SDP;
	long n = frame_s(folded, &skip);
	assert_int_equal(n, sizeof(folded) - 1);
	scans_to(heap, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdp_len),
		cmocka_unit_test_teardown(test_exact, free_heap),
		cmocka_unit_test_teardown(test_partial, free_heap),
		cmocka_unit_test_teardown(test_back_to_back, free_heap),
		cmocka_unit_test_teardown(test_keepalive, free_heap),
		cmocka_unit_test_teardown(test_content_length_forms, free_heap),
		cmocka_unit_test_teardown(test_broken, free_heap),
		cmocka_unit_test_teardown(test_oversized, free_heap),
		cmocka_unit_test_teardown(test_folded_content_length, free_heap),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
