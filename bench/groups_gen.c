/* SPDX-License-Identifier: MIT */
/*
 * Synthetic groups files (see groups_gen.h): the shape of a large
 * deployment -- many groups of ten or so members, each user in a couple of
 * groups -- with the three member spellings the format allows.
 */
#include <errno.h>

#include "groups_gen.h"

int pk_groups_gen_write(const struct pk_groups_gen *p, FILE *out)
{
	if (p->groups > 90000000u || p->users == 0 || p->members > p->users)
		return -EINVAL;
	fputs("settings:\n  domains: [example.test, branch.example.test]\n"
	      "  pickup_code: \"*8\"\n  directed_prefix: \"**\"\n  ring_timeout: 120\n"
	      "groups:\n",
	      out);
	for (uint32_t i = 0; i < p->groups; i++) {
		fprintf(out, "  - number: \"*%u\"\n    name: Team %u\n    members:\n", 10000000u + i, i);
		for (uint32_t j = 0; j < p->members; j++) {
			uint32_t u = pk_groups_gen_user(p, i, j);

			if (j % 4 == 3)
				fprintf(out, "      - user: u%u@example.test\n        rights: [%s]\n", u,
					j % 8 == 3 ? "pickup" : "ring, pickup");
			else
				fprintf(out, "      - u%u\n", u);
		}
	}
	return ferror(out) ? -EIO : 0;
}
