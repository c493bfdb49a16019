/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer targets: an invariant check that names
 * the failed condition before it traps (so a crash report says which rule
 * broke, not only where), and checks that a scanner view lies inside the
 * buffer it was made from. Private to tests/fuzz.
 */
#ifndef PK_FUZZ_CHECK_H
#define PK_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "pickup/sip.h"

/* Trap (libFuzzer records the input) after saying what was violated. */
#define PK_FUZZ_CHECK(cond)                                                          \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, \
				__LINE__, #cond);                                    \
			__builtin_trap();                                            \
		}                                                                    \
	} while (0)

/*
 * A view lies inside [lo, hi). An empty view may also be NULL or point at
 * hi (the end of a field at the end of the buffer); anything else would
 * make an offset computed from it (the rewriter does that) meaningless.
 */
static inline int pk_fuzz_in(struct pk_str s, const char *lo, const char *hi)
{
	if (s.len == 0)
		return s.p == NULL || (s.p >= lo && s.p <= hi);
	return s.p != NULL && s.p >= lo && s.p <= hi && (size_t)(hi - s.p) >= s.len;
}

#define PK_FUZZ_IN(s, lo, hi) PK_FUZZ_CHECK(pk_fuzz_in((s), (lo), (hi)))

/* An exactly-sized heap copy, so that ASan flags any read past its end. */
static inline char *pk_fuzz_dup(const void *p, size_t n)
{
	char *c = malloc(n); /* ASan gives a distinct 0-byte block for n == 0 */

	if (!c && n)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

#endif /* PK_FUZZ_CHECK_H */
