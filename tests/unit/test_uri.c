/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the on-demand URI parser and comparisons
 * (dataplane/sip/uri.c): the RFC 3261 §19.1 structure of sip/sips URIs,
 * tel URIs in outline, other schemes left opaque, the forms that must be
 * refused, and the §19.1.4 comparison of user parts (escapes) and hosts.
 *
 * Each URI is parsed from a heap copy of exactly its length, so the
 * sanitizer build catches a read past the end.
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

/* s[0..n) parsed from a heap block of exactly n bytes (ASan sees any
 * read past the end) */
static int parse_n(const char *s, size_t n, struct pk_sip_uri *u)
{
	free(heap);
	heap = malloc(n ? n : 1);
	assert_non_null(heap);
	memcpy(heap, s, n);
	return pk_sip_uri_parse(heap, n, u);
}

static int parse(const char *s, struct pk_sip_uri *u)
{
	return parse_n(s, strlen(s), u);
}

static int free_heap(void **state)
{
	(void)state;
	free(heap);
	heap = NULL;
	return 0;
}

static void str_is(struct pk_str s, const char *want, const char *file, int line)
{
	size_t wlen = strlen(want);
	if (s.len != wlen || (wlen && memcmp(s.p, want, wlen) != 0)) {
		print_error("got \"%.*s\" (%u bytes), want \"%s\"\n", (int)s.len, s.p ? s.p : "",
			    s.len, want);
		_fail(file, line);
	}
}
#define assert_pkstr(s, cstr) str_is((s), (cstr), __FILE__, __LINE__)

static void parses(const char *s, struct pk_sip_uri *u, const char *file, int line)
{
	int r = parse(s, u);
	if (r != 0) {
		print_error("\"%s\": %d, want 0\n", s, r);
		_fail(file, line);
	}
}
#define assert_parses(s, u) parses((s), (u), __FILE__, __LINE__)

static void test_sip_full(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_parses("sip:alice:secretword@atlanta.com:5061;transport=tcp;lr;maddr=239.255.255.1;"
		      "user=phone?subject=project%20x&priority=urgent",
		      &u);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_pkstr(u.scheme_tok, "sip");
	assert_pkstr(u.user, "alice");
	assert_pkstr(u.password, "secretword");
	assert_pkstr(u.host, "atlanta.com");
	assert_int_equal(u.host_type, PK_HOST_NAME);
	assert_int_equal(u.port, 5061);
	assert_pkstr(u.params, ";transport=tcp;lr;maddr=239.255.255.1;user=phone");
	assert_pkstr(u.headers, "subject=project%20x&priority=urgent");
	assert_pkstr(u.transport, "tcp");
	assert_pkstr(u.maddr, "239.255.255.1");
	assert_pkstr(u.user_param, "phone");
	assert_true(u.lr);
}

static void test_schemes(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_parses("sips:bob@biloxi.example.com", &u);
	assert_int_equal(u.scheme, PK_URI_SIPS);
	assert_pkstr(u.user, "bob");
	assert_pkstr(u.host, "biloxi.example.com");
	assert_int_equal(u.port, 0);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(u.headers.len, 0);
	assert_false(u.lr);

	/* schemes are case-insensitive (RFC 3261 §19.1.4) */
	assert_parses("SIP:Bob@Biloxi.Example.COM", &u);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_pkstr(u.scheme_tok, "SIP");
	assert_pkstr(u.user, "Bob");
	assert_parses("SiPs:h", &u);
	assert_int_equal(u.scheme, PK_URI_SIPS);

	assert_parses("tel:+1-201-555-0123;phone-context=example.com", &u);
	assert_int_equal(u.scheme, PK_URI_TEL);
	assert_pkstr(u.user, "+1-201-555-0123");
	assert_pkstr(u.params, ";phone-context=example.com");
	assert_int_equal(u.host.len, 0);
	assert_parses("TEL:7042", &u);
	assert_int_equal(u.scheme, PK_URI_TEL);
	assert_pkstr(u.user, "7042");

	/* anything else is opaque: only the scheme is set */
	static const char *const other[] = { "mailto:alice@example.com", "http://www.example.com/x",
					     "urn:service:sos", "isbn:2983792873",
					     "soap.beep://192.0.2.103:3002", "sipx:a@b", "si:a@b",
					     "nobodyKnowsThisScheme:totallyopaquecontent",
					     "x+y-z.w:anything goes <here>" };
	for (size_t i = 0; i < PK_ARRAY_SIZE(other); i++) {
		assert_parses(other[i], &u);
		assert_int_equal(u.scheme, PK_URI_UNKNOWN);
		size_t sl = (size_t)(strchr(other[i], ':') - other[i]);
		assert_int_equal(u.scheme_tok.len, sl);
		assert_memory_equal(u.scheme_tok.p, other[i], sl);
		assert_int_equal(u.user.len + u.host.len + u.params.len + u.headers.len, 0);
	}
}

static void test_hosts(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_parses("sip:192.0.2.1", &u);
	assert_int_equal(u.host_type, PK_HOST_IPV4);
	assert_pkstr(u.host, "192.0.2.1");
	assert_int_equal(u.user.len, 0);
	assert_parses("sip:alice@255.255.255.255:5060", &u);
	assert_int_equal(u.host_type, PK_HOST_IPV4);
	assert_int_equal(u.port, 5060);
	assert_parses("sip:a@192.0.2.256", &u);
	assert_int_not_equal(u.host_type, PK_HOST_IPV4);
	assert_parses("sip:a@192.0.2", &u);
	assert_int_not_equal(u.host_type, PK_HOST_IPV4);
	assert_parses("sip:a@1.2.3.4.5", &u);
	assert_int_not_equal(u.host_type, PK_HOST_IPV4);
	assert_parses("sip:a@pbx-1.Example.com", &u);
	assert_int_equal(u.host_type, PK_HOST_NAME);
	assert_pkstr(u.host, "pbx-1.Example.com");

	assert_parses("sip:[2001:db8::1]:5070", &u);
	assert_int_equal(u.host_type, PK_HOST_IPV6);
	assert_pkstr(u.host, "[2001:db8::1]");
	assert_int_equal(u.port, 5070);
	assert_parses("sip:alice@[::1]", &u);
	assert_int_equal(u.host_type, PK_HOST_IPV6);
	assert_pkstr(u.host, "[::1]");
	assert_pkstr(u.user, "alice");
	assert_parses("sip:[::ffff:192.0.2.1];transport=udp", &u);
	assert_pkstr(u.host, "[::ffff:192.0.2.1]");
	assert_pkstr(u.transport, "udp");
	assert_parses("sips:[2001:DB8:0:0:8:800:200C:417A]", &u);
	assert_int_equal(u.host_type, PK_HOST_IPV6);
}

static void test_ports(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_parses("sip:h:1", &u);
	assert_int_equal(u.port, 1);
	assert_parses("sip:h:65535", &u);
	assert_int_equal(u.port, 65535);
	assert_parses("sip:h:05060", &u);
	assert_int_equal(u.port, 5060);
	/* port 0 cannot be sent to: refused like in the Via sent-by */
	assert_int_equal(parse("sip:h:0", &u), -EINVAL);
	assert_int_equal(parse("sip:h:65536", &u), -EINVAL);
	assert_int_equal(parse("sip:h:4294967297", &u), -EINVAL);
	assert_int_equal(parse("sip:h:", &u), -EINVAL);
	assert_int_equal(parse("sip:h:50a", &u), -EINVAL);
	assert_int_equal(parse("sip:h:-1", &u), -EINVAL);
	assert_int_equal(parse("sip:[::1]:", &u), -EINVAL);
	/* after a host that ends inside the first 32 bytes (the common
	 * path's window) or past them; more than five digits */
	assert_int_equal(parse("sip:a@h:99999", &u), -EINVAL);
	assert_parses("sip:a@h:000000000005", &u);
	assert_int_equal(u.port, 5);
	assert_parses("sip:abcdefghijklmnopqrstuvwxyz:5060", &u);
	assert_int_equal(u.port, 5060);
	assert_parses("sip:abcdefghijklmnopqrstuvwxyz01:5061;lr", &u);
	assert_int_equal(u.port, 5061);
	assert_true(u.lr);
	assert_int_equal(parse("sip:abcdefghijklmnopqrstuvwxyz01:65536", &u), -EINVAL);
}

static void test_user_part(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	/* ';' '?' in the user part (RFC 4475 semiuri, intmeth) */
	assert_parses("sip:user;par=u%40example.net@example.com", &u);
	assert_pkstr(u.user, "user;par=u%40example.net");
	assert_pkstr(u.host, "example.com");
	assert_int_equal(u.params.len, 0);
	assert_parses("sip:a?b@example.com", &u);
	assert_pkstr(u.user, "a?b");
	assert_int_equal(u.headers.len, 0);
	assert_parses("sip:a:b:c@h", &u);
	assert_pkstr(u.user, "a");
	assert_pkstr(u.password, "b:c");
	assert_parses("sip:a:@h", &u);
	assert_pkstr(u.user, "a");
	assert_int_equal(u.password.len, 0);
	assert_parses("sip:+15551234;phone-context=+1@gw.example.com;user=phone", &u);
	assert_pkstr(u.user, "+15551234;phone-context=+1");
	assert_pkstr(u.user_param, "phone");
	assert_parses("sip:%61lice@h", &u);
	assert_pkstr(u.user, "%61lice");
	assert_parses("sip:*801@pbx.example.com", &u);
	assert_pkstr(u.user, "*801");
}

static void test_params_headers(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_parses("sip:h;LR", &u);
	assert_true(u.lr);
	assert_parses("sip:h;lr=on", &u);
	assert_true(u.lr);
	assert_parses("sip:h;lrx;transport=UDP", &u);
	assert_false(u.lr);
	assert_pkstr(u.transport, "UDP");
	assert_parses("sip:h;Transport=sctp;MADDR=[2001:db8::5]", &u);
	assert_pkstr(u.transport, "sctp");
	assert_pkstr(u.maddr, "[2001:db8::5]");
	assert_parses("sip:h;unknownparam;other=1", &u);
	assert_pkstr(u.params, ";unknownparam;other=1");
	assert_int_equal(u.transport.len + u.maddr.len + u.user_param.len, 0);
	assert_parses("sip:user@example.com?Route=%3Csip:sip.example.com%3E", &u);
	assert_int_equal(u.params.len, 0);
	assert_pkstr(u.headers, "Route=%3Csip:sip.example.com%3E");
	assert_pkstr(u.host, "example.com");
	assert_parses("sip:u@h:5;p=1?a=1&b=2", &u);
	assert_int_equal(u.port, 5);
	assert_pkstr(u.params, ";p=1");
	assert_pkstr(u.headers, "a=1&b=2");
	assert_parses("sip:h?", &u);
	assert_int_equal(u.headers.len, 0);
	/* escaped parameter names stay escaped (RFC 4475 esc01) */
	assert_parses("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", &u);
	assert_pkstr(u.params, ";%6C%72;n%61me=v%61lue%25%34%31");

	/* only len bytes are parsed */
	const char *s = "sip:h;lr";
	assert_int_equal(pk_sip_uri_parse(s, 5, &u), 0);
	assert_pkstr(u.host, "h");
	assert_false(u.lr);
	assert_int_equal(u.params.len, 0);
}

static void test_invalid(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	static const char *const bad[] = {
		"", "sip", ":host", "s p:host", "si@p:host", "sip:", "sip:@host", "sip:user@",
		"sip:a b@host", "sip:host name", "sip: host", "sip:host ", "sip:host\t",
		"sip:ho\rst", "sip:<host>", "sip:\"host\"", "sip:[2001:db8::1",
		"sip:[2001:zz::1]", "sip:[1]", "sip:[]", "sip:2001:db8::1", "sip:host;a b",
		"sip:host;a\"b", "sip:host>", "sips:@", "sip:a@b@c", "sip:host/path",
		"sip:ho%20st", "tel:", "sip:a\x7f@h", "sip:a@h\x01",
	};
	for (size_t i = 0; i < PK_ARRAY_SIZE(bad); i++) {
		int r = parse(bad[i], &u);
		if (r != -EINVAL)
			print_error("\"%s\": %d, want -EINVAL\n", bad[i], r);
		assert_int_equal(r, -EINVAL);
	}
}

/*
 * A character no URI may hold (controls, SP, DEL, < > ") anywhere in a
 * sip:, sips: or tel: URI -- scheme, user, password, host, port,
 * parameters, headers -- refuses it, put in or written over any byte of
 * URIs that parse: the parser checks each part with that part's own
 * character class, and the table only where a part has none.
 */
static void test_bad_char_anywhere(void **state)
{
	(void)state;
	static const char *const good[] = {
		"sip:alice:pw;x?y@atlanta.com:5061;transport=tcp;lr?subject=hi&to=a%20b",
		"sips:[2001:db8::1]:5061;maddr=192.0.2.1", "sip:2004@192.0.2.10:5060", "sip:example.test",
		"tel:+1-555-0100;phone-context=example.test", "sip:%41b;c?d:e@h;x=y?z=w",
	};
	struct pk_sip_uri u;
	char b[128], bad[37];
	size_t nbad = 0;

	for (unsigned c = 0; c < 0x20; c++)
		bad[nbad++] = (char)c;
	bad[nbad++] = ' ';
	bad[nbad++] = '<';
	bad[nbad++] = '>';
	bad[nbad++] = '"';
	bad[nbad++] = 0x7f;
	for (size_t g = 0; g < PK_ARRAY_SIZE(good); g++) {
		size_t len = strlen(good[g]);

		assert_int_equal(pk_sip_uri_parse(good[g], len, &u), 0);
		for (size_t pos = 0; pos <= len; pos++)
			for (size_t k = 0; k < nbad; k++) {
				/* inserted before byte pos */
				memcpy(b, good[g], pos);
				b[pos] = bad[k];
				memcpy(b + pos + 1, good[g] + pos, len - pos);
				if (pk_sip_uri_parse(b, len + 1, &u) != -EINVAL)
					fail_msg("%s with 0x%02x inserted at %zu parses", good[g], (unsigned char)bad[k], pos);
				if (pos == len)
					continue;
				/* written over byte pos */
				memcpy(b, good[g], len);
				b[pos] = bad[k];
				if (pk_sip_uri_parse(b, len, &u) != -EINVAL)
					fail_msg("%s with byte %zu 0x%02x parses", good[g], pos, (unsigned char)bad[k]);
			}
	}
}

static void test_user_eq(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool eq;
	} cases[] = {
		{ "alice", "alice", true },
		{ "alice", "Alice", false }, /* case-sensitive */
		{ "alice", "alic", false },
		{ "alic", "alice", false },
		{ "%41", "A", true },
		{ "A", "%41", true },
		{ "%41", "a", false },
		{ "%4a", "%4A", true }, /* the hex digits' case does not matter */
		{ "%4a", "J", true },
		{ "%4a", "j", false },
		{ "%75se%72", "user", true },
		{ "sips%3Auser%40example.com", "sips:user@example.com", true },
		{ "%2541", "%41", false }, /* "%41" literally vs "A" */
		{ "%2541", "%2541", true },
		{ "%25", "%", true },
		{ "%", "%", true },
		{ "%4", "%4", true },
		{ "%zz", "%zz", true },
		{ "%00", "", false },
		{ "%00%00", "%00", false },
		{ "", "", true },
		{ "a%20b", "a b", true },
	};
	for (size_t i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		bool r = pk_sip_uri_user_eq(pk_str_make(cases[i].a, strlen(cases[i].a)),
					    pk_str_make(cases[i].b, strlen(cases[i].b)));
		if (r != cases[i].eq)
			print_error("user_eq(\"%s\", \"%s\") = %d\n", cases[i].a, cases[i].b, r);
		assert_int_equal(r, cases[i].eq);
	}
}

static void test_host_eq(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool eq;
	} cases[] = {
		{ "example.com", "example.com", true },
		{ "Example.COM", "example.com", true },
		{ "EXAMPLE.COM", "example.con", false },
		{ "a.example.com", "b.example.com", false },
		{ "example.com.", "example.com", false },
		{ "192.0.2.1", "192.0.2.1", true },
		{ "192.0.2.1", "192.0.2.01", false },
		{ "[2001:db8::1]", "[2001:db8::1]", true },
		{ "[2001:db8::1]", "[2001:db8:0::1]", false },
		{ "pbx-1", "PBX-1", true },
		{ "pbx-1", "pbx_1", false },
		{ "", "", true },
		/* 8 to 16 bytes are compared as two words: a difference at
		 * either end, in the middle, or only of case */
		{ "abcdefgh", "abcdefgh", true },
		{ "abcdefgh", "abcdefgi", false },
		{ "Abcdefgh", "abcdefgh", true },
		{ "abcdefgh", "bbcdefgh", false },
		{ "pbx.example.test", "pbx.example.test", true },
		{ "pbx.example.test", "pbx.example.tesx", false },
		{ "xbx.example.test", "pbx.example.test", false },
		{ "pbx.exbmple.test", "pbx.example.test", false },
		{ "PBX.example.TEST", "pbx.EXAMPLE.test", true },
		{ "sip.pbx.example.test", "sip.pbx.example.tesT", true },
		{ "sip.pbx.example.test", "sip.pbx.exampl3.test", false },
	};
	for (size_t i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		bool r = pk_sip_uri_host_eq(pk_str_make(cases[i].a, strlen(cases[i].a)),
					    pk_str_make(cases[i].b, strlen(cases[i].b)));
		if (r != cases[i].eq)
			print_error("host_eq(\"%s\", \"%s\") = %d\n", cases[i].a, cases[i].b, r);
		assert_int_equal(r, cases[i].eq);
	}
}

/* The common shape sip:user@host[:port][;params] (the parser's one-pass
 * path) and its near misses, each parsed into a struct full of garbage
 * first: every field must come out set, as the general parse sets it. */
static int parse_poisoned(const char *s, struct pk_sip_uri *u)
{
	memset(u, 0x5a, sizeof(*u));
	return parse(s, u);
}

static void test_common_shape(void **state)
{
	(void)state;
	struct pk_sip_uri u;

	assert_int_equal(parse_poisoned("sip:alice@example.test", &u), 0);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_pkstr(u.scheme_tok, "sip");
	assert_pkstr(u.user, "alice");
	assert_int_equal(u.password.len, 0);
	assert_pkstr(u.host, "example.test");
	assert_int_equal(u.host_type, PK_HOST_NAME);
	assert_int_equal(u.port, 0);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(u.headers.len, 0);
	assert_int_equal(u.transport.len, 0);
	assert_int_equal(u.maddr.len, 0);
	assert_int_equal(u.user_param.len, 0);
	assert_false(u.lr);

	assert_int_equal(parse_poisoned("SIP:Bob@10.0.0.1:5060;transport=udp;lr", &u), 0);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_pkstr(u.scheme_tok, "SIP");
	assert_pkstr(u.user, "Bob");
	assert_int_equal(u.password.len, 0);
	assert_pkstr(u.host, "10.0.0.1");
	assert_int_equal(u.host_type, PK_HOST_IPV4);
	assert_int_equal(u.port, 5060);
	assert_pkstr(u.params, ";transport=udp;lr");
	assert_pkstr(u.transport, "udp");
	assert_int_equal(u.maddr.len, 0);
	assert_int_equal(u.headers.len, 0);
	assert_true(u.lr);

	assert_int_equal(parse_poisoned("sIp:*801@256.1.1.1:65535;maddr=192.0.2.1;user=phone", &u), 0);
	assert_pkstr(u.user, "*801");
	assert_int_equal(u.host_type, PK_HOST_NAME);
	assert_int_equal(u.port, 65535);
	assert_pkstr(u.maddr, "192.0.2.1");
	assert_pkstr(u.user_param, "phone");
	assert_false(u.lr);

	/* near misses: the general parse's answer */
	assert_int_equal(parse_poisoned("sip:a@h?subject=x", &u), 0);
	assert_pkstr(u.host, "h");
	assert_int_equal(u.params.len, 0);
	assert_pkstr(u.headers, "subject=x");
	assert_int_equal(parse_poisoned("sip:a@h;p=1?x=y", &u), 0);
	assert_pkstr(u.params, ";p=1");
	assert_pkstr(u.headers, "x=y");
	assert_int_equal(parse_poisoned("sip:a:pw@h:7", &u), 0);
	assert_pkstr(u.user, "a");
	assert_pkstr(u.password, "pw");
	assert_int_equal(u.port, 7);
	assert_int_equal(parse_poisoned("sip:a@[::1]:5070", &u), 0);
	assert_int_equal(u.host_type, PK_HOST_IPV6);
	assert_int_equal(u.port, 5070);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(parse_poisoned("sips:a@h", &u), 0);
	assert_int_equal(u.scheme, PK_URI_SIPS);
	assert_pkstr(u.user, "a");
	assert_int_equal(parse_poisoned("sip:h", &u), 0);
	assert_int_equal(u.user.len, 0);
	assert_pkstr(u.host, "h");
	assert_int_equal(u.port, 0);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(u.headers.len, 0);
	assert_int_equal(parse_poisoned("SIP:Example.TEST:5070;lr", &u), 0);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_int_equal(u.user.len, 0);
	assert_int_equal(u.password.len, 0);
	assert_pkstr(u.host, "Example.TEST");
	assert_int_equal(u.host_type, PK_HOST_NAME);
	assert_int_equal(u.port, 5070);
	assert_pkstr(u.params, ";lr");
	assert_true(u.lr);
	assert_int_equal(u.transport.len, 0);
	assert_int_equal(parse_poisoned("sip:192.0.2.7", &u), 0);
	assert_int_equal(u.user.len, 0);
	assert_int_equal(u.host_type, PK_HOST_IPV4);
	/* an '@' past where the user loop stopped: the general parse's user */
	assert_int_equal(parse_poisoned("sip:h?a=b@c", &u), 0);
	assert_pkstr(u.user, "h?a=b");
	assert_pkstr(u.host, "c");
	assert_int_equal(parse_poisoned("sip:h;x@y", &u), 0);
	assert_pkstr(u.user, "h;x");
	assert_pkstr(u.host, "y");
	assert_int_equal(parse_poisoned("sip:h:5060@x", &u), 0);
	assert_pkstr(u.user, "h");
	assert_pkstr(u.password, "5060");
	assert_pkstr(u.host, "x");
	assert_int_equal(parse_poisoned("sip:h x", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:h:0", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h:0", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h:65536", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h:99999999999", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h:", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h;p=<", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@h x", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:@h", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@", &u), -EINVAL);
	assert_int_equal(parse_poisoned("sip:a@:5060", &u), -EINVAL);
}

/*
 * The common path classifies the first 32 bytes after "sip:" at once
 * (windows of 4-7, 8-15, 16-31 and 32 bytes are built differently) and
 * goes on byte by byte past them: every byte value in the user part and in
 * the host, at offsets that land in each kind of window, in its second
 * half and past it, must get the answer of the grammar.
 */
static bool user_char(unsigned c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c != 0 && strchr("-_.!~*'()%&=+$,;?/", (int)c) != NULL);
}

/* the parser's host names also admit '_' (seen in the wild) */
static bool host_char(unsigned c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' || c == '.' ||
	       c == '_';
}

static void test_common_every_byte(void **state)
{
	(void)state;
	static const unsigned pre[] = { 1, 2, 6, 12, 20, 29, 30, 31, 33, 40 };
	struct pk_sip_uri u;
	char b[128];

	for (unsigned k = 0; k < sizeof(pre) / sizeof(pre[0]); k++) {
		for (unsigned c = 0; c < 256; c++) {
			/* user: "sip:" L*'u' c 'u' "@h" */
			size_t n = 4;
			memcpy(b, "sip:", 4);
			memset(b + n, 'u', pre[k]);
			n += pre[k];
			b[n++] = (char)c;
			memcpy(b + n, "u@h", 3);
			n += 3;
			memset(&u, 0x5a, sizeof(u));
			int r = parse_n(b, n, &u);
			if (user_char(c)) {
				assert_int_equal(r, 0);
				assert_int_equal(u.user.len, pre[k] + 2);
				assert_pkstr(u.host, "h");
				assert_int_equal(u.password.len, 0);
			} else if (c == ':') {
				assert_int_equal(r, 0);
				assert_int_equal(u.user.len, pre[k]);
				assert_pkstr(u.password, "u");
				assert_pkstr(u.host, "h");
			} else {
				assert_int_equal(r, -EINVAL);
			}

			/* host: "sip:" L*'h' c "h.example" */
			n = 4;
			memset(b + n, 'h', pre[k]);
			n += pre[k];
			b[n++] = (char)c;
			memcpy(b + n, "h.example", 9);
			n += 9;
			memset(&u, 0x5a, sizeof(u));
			r = parse_n(b, n, &u);
			if (host_char(c)) {
				assert_int_equal(r, 0);
				assert_int_equal(u.user.len, 0);
				assert_int_equal(u.host.len, n - 4);
				assert_int_equal(u.host_type, PK_HOST_NAME);
				assert_int_equal(u.params.len + u.headers.len, 0);
			} else if (c == ';' || c == '?') {
				assert_int_equal(r, 0);
				assert_int_equal(u.host.len, pre[k]);
				assert_int_equal(c == ';' ? u.params.len : u.headers.len, c == ';' ? 10 : 9);
			} else if (c == '@') {
				assert_int_equal(r, 0);
				assert_int_equal(u.user.len, pre[k]);
				assert_pkstr(u.host, "h.example");
			} else {
				assert_int_equal(r, -EINVAL);
			}
		}
	}
}

/* Dotted quads in every window and across its end (the masks' check and
 * the byte-wise one past 32 bytes) */
static void test_common_ipv4(void **state)
{
	(void)state;
	static const struct {
		const char *host;
		bool v4;
	} h[] = {
		{ "1.2.3.4", true },	     { "10.99.0.5", true },	{ "255.255.255.255", true },
		{ "01.02.003.4", true },     { "199.250.249.200", true }, { "256.1.1.1", false },
		{ "1.2.3.256", false },	     { "1.260.3.4", false },	{ "1.2.3.300", false },
		{ "1.2.3", false },	     { "1.2.3.4.5", false },	{ "1..2.3", false },
		{ "1.2.3.", false },	     { "1.2..3.4", false },	{ "0001.2.3.4", false },
		{ "1.2.3.4a", false },	     { "1.2.3.4-", false },	{ "1.2.3.1000", false },
		{ "9", false },		     { "1-2.3.4.5", false },
	};
	/* user lengths: none (host right after "sip:"), short, so that the
	 * host ends right at 32 bytes, crosses it, or starts past it */
	static const int ulen[] = { -1, 1, 5, 12, 16, 24, 27, 31, 40 };
	struct pk_sip_uri u;
	char b[128];

	for (unsigned i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		for (unsigned k = 0; k < sizeof(ulen) / sizeof(ulen[0]); k++) {
			for (unsigned tail = 0; tail < 3; tail++) {
				int n = snprintf(b, sizeof(b), "sip:%.*s%s%s%s", ulen[k] < 0 ? 0 : ulen[k],
						 "0123456789012345678901234567890123456789", ulen[k] < 0 ? "" : "@",
						 h[i].host, tail == 0 ? "" : tail == 1 ? ":5062" : ";lr");
				assert_true(n > 0 && (size_t)n < sizeof(b));
				memset(&u, 0x5a, sizeof(u));
				assert_int_equal(parse(b, &u), 0);
				assert_pkstr(u.host, h[i].host);
				if (u.host_type != (h[i].v4 ? PK_HOST_IPV4 : PK_HOST_NAME)) {
					print_error("\"%s\": host type %d\n", b, (int)u.host_type);
					fail();
				}
				assert_int_equal(u.port, tail == 1 ? 5062 : 0);
				assert_int_equal(u.lr, tail == 2);
			}
		}
	}
}

/* An empty view may have a NULL pointer (include/pickup/common.h): the
 * functions taking views accept it. Last in the list: under UBSan with
 * halt_on_error a failure here ends the run. */
static void test_empty_view(void **state)
{
	(void)state;
	struct pk_sip_uri u;
	assert_int_equal(pk_sip_uri_parse(PK_STR_NULL.p, PK_STR_NULL.len, &u), -EINVAL);
	assert_true(pk_sip_uri_user_eq(PK_STR_NULL, PK_STR_LIT("")));
	assert_false(pk_sip_uri_user_eq(PK_STR_NULL, PK_STR_LIT("a")));
	assert_true(pk_sip_uri_host_eq(PK_STR_NULL, PK_STR_NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sip_full, free_heap),
		cmocka_unit_test_teardown(test_schemes, free_heap),
		cmocka_unit_test_teardown(test_hosts, free_heap),
		cmocka_unit_test_teardown(test_ports, free_heap),
		cmocka_unit_test_teardown(test_user_part, free_heap),
		cmocka_unit_test_teardown(test_params_headers, free_heap),
		cmocka_unit_test_teardown(test_invalid, free_heap),
		cmocka_unit_test(test_bad_char_anywhere),
		cmocka_unit_test_teardown(test_user_eq, free_heap),
		cmocka_unit_test_teardown(test_host_eq, free_heap),
		cmocka_unit_test_teardown(test_common_shape, free_heap),
		cmocka_unit_test_teardown(test_common_every_byte, free_heap),
		cmocka_unit_test_teardown(test_common_ipv4, free_heap),
		cmocka_unit_test(test_empty_view),
	};
	return cmocka_run_group_tests_name("uri", tests, NULL, NULL);
}
