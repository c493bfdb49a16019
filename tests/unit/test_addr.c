/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of pk_addr_parse_ip (dataplane/io/addr.c): its own dotted-quad
 * reader, on the packet path for every Via, Contact and Request-URI host,
 * must accept exactly what inet_pton(AF_INET) accepts, with the same
 * bytes; the rest (IPv6, names) keeps going to inet_pton. Single-threaded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pickup/addr.h"

/* addr.c's dotted-quad reader on its own (PK_ADDR_TEST_HOOK: this test
 * is built with addr.c), so that a reader that turns a valid quad down is
 * caught, not hidden by the general reader behind it. */
bool pk_addr_parse_v4_test(struct pk_str s, uint8_t ip[4]);

/* pk_addr_parse_ip(s), and the dotted-quad reader alone, against
 * inet_pton on the same text. */
static void agree(const char *s, size_t len)
{
	static const uint8_t zero[16];
	struct pk_addr a;
	uint8_t want[4];
	char buf[64];
	int rc = pk_addr_parse_ip(pk_str_make(s, len), &a), ok = 0;

	if (len < sizeof(buf) && memchr(s, '\0', len) == NULL) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		ok = inet_pton(AF_INET, buf, want) == 1;
	}
	if (ok != (rc == 0))
		fail_msg("\"%.*s\": pk_addr_parse_ip %d, inet_pton %d", (int)len, s, rc, ok);
	uint8_t fast[4];
	bool fok = pk_addr_parse_v4_test(pk_str_make(s, len), fast);
	if (fok != ok)
		fail_msg("\"%.*s\": the dotted-quad reader %d, inet_pton %d", (int)len, s, fok, ok);
	if (ok)
		assert_memory_equal(fast, want, 4);
	if (ok) {
		assert_int_equal(a.family, AF_INET);
		assert_int_equal(a.port, 0);
		assert_int_equal(a.scope, 0);
		assert_memory_equal(a.ip, want, 4);
		assert_memory_equal(a.ip + 4, zero, 12);
	} else {
		assert_int_equal(rc, -EINVAL);
	}
}

static void test_ipv4_cases(void **state)
{
	static const char *const cases[] = {
		"0.0.0.0", "255.255.255.255", "192.0.2.10", "10.200.3.4", "1.2.3.4",
		"256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1.2.3.00", "1.2.3", "1.2.3.4.5",
		"1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4x", "a.b.c.d",
		"1234.1.1.1", "999.1.1.1", "1.2.3.4:5060", "", "1", "pbx.example.com",
		"224.0.1.75", "100.100.100.100",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		agree(cases[i], strlen(cases[i]));
	agree("1.2.3.4\0", 8); /* a NUL inside the view */
	agree("1.2.3.45", 7);  /* the view ends before the text */
}

/* Random texts of digits and dots (and a few other bytes). */
static void test_ipv4_random(void **state)
{
	static const char alphabet[] = "0123456789012345678901234567890123456789....x:";
	char s[20];

	(void)state;
	srand(5);
	for (int it = 0; it < 200000; it++) {
		size_t len = (size_t)(rand() % 18);

		for (size_t i = 0; i < len; i++)
			s[i] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		if (memchr(s, ':', len) != NULL)
			continue; /* IPv6 syntax: inet_pton(AF_INET6) */
		agree(s, len);
	}
}

/*
 * Every shape: four octets, each one of the texts below (1 to 4 digits,
 * leading zeros, values around 255 and past it), 20^4 texts. The reader
 * finds the octets by the dots' positions (81 shapes of 1-3 digits): each
 * shape, and each way for one to be wrong, is met here.
 */
static void test_ipv4_every_shape(void **state)
{
	static const char *const oct[] = { "0",   "00",  "01",  "1",   "9",	"10",  "99",
					   "100", "109", "199", "200", "249", "250", "255",
					   "256", "299", "300", "999", "000", "0255" };
	enum { N = sizeof(oct) / sizeof(oct[0]) };
	char s[24];

	(void)state;
	for (unsigned a = 0; a < N; a++)
		for (unsigned b = 0; b < N; b++)
			for (unsigned c = 0; c < N; c++)
				for (unsigned d = 0; d < N; d++) {
					int n = snprintf(s, sizeof(s), "%s.%s.%s.%s", oct[a], oct[b], oct[c],
							 oct[d]);

					agree(s, (size_t)n);
				}
}

static void test_other_forms(void **state)
{
	struct pk_addr a;

	(void)state;
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("[2001:db8::1]"), &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("2001:db8::1"), &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("[1.2.3.4]"), &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_cases),
		cmocka_unit_test(test_ipv4_random),
		cmocka_unit_test(test_ipv4_every_shape),
		cmocka_unit_test(test_other_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
