/* SPDX-License-Identifier: MIT */
/*
 * A small inline copy of the message builders (the rewriter, the proxy,
 * the pickup handlers).
 *
 * pk_copy_short: memcpy for the short copies of variable length the
 * message builders make (the rewriter's spans and planned texts, the
 * parameters of the proxy's Via, the pickup's keys and Replaces text),
 * inline up to 64 bytes.
 * Most of those are that short, and a call into the C library's copy
 * costs more than the copy. Loads and stores that overlap cover the
 * lengths between the powers of two, so nothing outside s[0, n) is read
 * and nothing outside d[0, n) written (no tailroom needed); longer copies
 * call memcpy. The buffers must not overlap.
 *
 * A pure function, any thread.
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

#endif
