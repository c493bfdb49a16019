/* SPDX-License-Identifier: MIT */
/*
 * Small inline writers of the message builders (the rewriter, the proxy).
 *
 * pk_copy_short: memcpy for the short copies of variable length the
 * message builders make (the rewriter's spans and planned texts, the
 * parameters of the proxy's Via), inline up to 64 bytes.
 * Most of those are that short, and a call into the C library's copy
 * costs more than the copy. Loads and stores that overlap cover the
 * lengths between the powers of two, so nothing outside s[0, n) is read
 * and nothing outside d[0, n) written (no tailroom needed); longer copies
 * call memcpy. The buffers must not overlap.
 *
 * pk_put_dec: pk_put_u32 (common.h) for the ports, Max-Forwards values
 * and lengths a forwarded message gets, two digits a step from a table
 * (pk_put_u32's digit loops cost ~85 instructions for a 5-digit port);
 * the same bytes for every value.
 *
 * Pure functions, any thread.
 */
#ifndef PK_SIP_COPY_H
#define PK_SIP_COPY_H

#include <stdint.h>
#include <string.h>

#include "pickup/common.h"

static inline void pk_copy_short(char *d, const char *s, uint32_t n)
{
	if (n > 64) {
		memcpy(d, s, n);
	} else if (n > 16) {
		memcpy(d, s, 16);
		if (n > 32)
			memcpy(d + 16, s + 16, 16);
		if (n > 48)
			memcpy(d + 32, s + 32, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		uint64_t a, b;

		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t x, y;

		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n > 0) {
		d[0] = s[0];
		d[n >> 1] = s[n >> 1];
		d[n - 1] = s[n - 1];
	}
}

/* The decimal digits of v at o (at most 10 bytes, no NUL); returns the end. */
static inline char *pk_put_dec(char *o, uint32_t v)
{
	static const char d2[201] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	unsigned n;
	char *e;

	if (v >= 100000)
		return pk_put_u32(o, v);
	n = v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10000 ? 4 : 5;
	e = o + n;
	while (v >= 100) {
		uint32_t r = v % 100;

		v /= 100;
		e -= 2;
		memcpy(e, d2 + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(e - 2, d2 + 2 * v, 2);
	else
		e[-1] = (char)('0' + v);
	return o + n;
}

#endif
