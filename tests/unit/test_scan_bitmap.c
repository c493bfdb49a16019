/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the scanner's structural bitmaps (dataplane/sip/scan_bitmap.h):
 * for every byte of a buffer, the LF word has its bit set iff the byte is LF
 * and the "not a token character" word iff the byte is outside RFC 3261's
 * token set (alphanumerics and -.!%*_+`'~), whatever the byte's value and
 * offset, whatever the buffer's length (a short buffer, a last partial
 * block). The reference below is written from the RFC, not from the
 * scanner's tables.
 *
 * meson builds this file three times: as the rest of the build (-march=native:
 * AVX-512BW on a machine that has it), without AVX-512BW (AVX2) and without
 * AVX2 (the byte loop), so every block builder the machine can run is
 * checked against the same definition. Only ever fewer instructions than
 * the machine has: no build can fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../dataplane/sip/scan_bitmap.h"

static bool ref_token(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

/* Map buf[0, len) word by word as the scanner does (first batch inline,
 * later ones on demand) and compare every bit with the reference; bits past
 * the end must be 0 in the LF words. */
static void check_buffer(const char *buf, size_t len)
{
	static struct pk_sbm b; /* 16 KiB: not on cmocka's stack */

	pk_sbm_init(&b, buf, len);
	if (len == 0)
		return;
	pk_sbm_map_in(&b, 0);
	for (size_t w = 0; w * 64 < len; w++) {
		if (w >= b.nmapped)
			pk_sbm_map(&b, w);
		for (size_t i = w * 64; i < w * 64 + 64; i++) {
			unsigned bit = (unsigned)(i & 63);
			bool lf = (b.lf[w] >> bit) & 1, nt = (b.nt[w] >> bit) & 1;
			if (i >= len) {
				if (lf)
					fail_msg("len %zu: LF bit set past the end at %zu", len, i);
				continue;
			}
			unsigned char c = (unsigned char)buf[i];
			if (lf != (c == '\n'))
				fail_msg("len %zu, offset %zu, byte 0x%02x: LF bit %d", len, i, c, lf);
			if (nt != !ref_token(c))
				fail_msg("len %zu, offset %zu, byte 0x%02x: not-token bit %d", len, i, c, nt);
		}
	}
}

/* Every byte value at every offset of two blocks, among token bytes and
 * among non-token bytes (so that a lane mixed up with its neighbour shows). */
static void test_every_byte_every_offset(void **state)
{
	(void)state;
	char *buf = malloc(128);
	assert_non_null(buf);
	for (int fill = 0; fill < 2; fill++) {
		for (unsigned v = 0; v < 256; v++) {
			for (size_t at = 0; at < 128; at++) {
				memset(buf, fill ? ' ' : 'a', 128);
				buf[at] = (char)v;
				check_buffer(buf, 128);
			}
		}
	}
	free(buf);
}

/* Random bytes, every length from 1 to 700 (short buffers, the last block
 * mapped from the buffer's end, several batches), each from a heap copy of
 * exactly that length so that the sanitizer build catches a read past it. */
static void test_random_lengths(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t len = 1; len <= 700; len++) {
		for (int round = 0; round < 4; round++) {
			char *buf = malloc(len);
			assert_non_null(buf);
			for (size_t i = 0; i < len; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				/* half the bytes from a SIP-like alphabet, so that
				 * runs of token bytes and LFs are common */
				static const char sipish[] = "aZ09-.;:=<>@ \r\n\t\"";
				buf[i] = (x & 256) ? sipish[(x >> 9) % (sizeof(sipish) - 1)] : (char)x;
			}
			check_buffer(buf, len);
			free(buf);
		}
	}
}

int main(void)
{
#if defined(__AVX512BW__)
	printf("block builder: AVX-512BW\n");
#elif defined(__AVX2__)
	printf("block builder: AVX2\n");
#else
	printf("block builder: byte loop\n");
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_every_offset),
		cmocka_unit_test(test_random_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
