/* SPDX-License-Identifier: MIT */
/*
 * pk-gen-groups: write a synthetic groups file, for load-time measurements
 *   pk-gen-groups GROUPS MEMBERS_PER_GROUP USERS > groups.yaml
 * e.g. 100000 10 500000 gives 1M memberships (see docs/groups.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include "groups_gen.h"

int main(int argc, char **argv)
{
	struct pk_groups_gen p;

	if (argc != 4) {
		fprintf(stderr, "usage: %s GROUPS MEMBERS_PER_GROUP USERS\n", argv[0]);
		return 2;
	}
	p.groups = (uint32_t)strtoul(argv[1], NULL, 10);
	p.members = (uint32_t)strtoul(argv[2], NULL, 10);
	p.users = (uint32_t)strtoul(argv[3], NULL, 10);
	if (pk_groups_gen_write(&p, stdout) != 0) {
		fprintf(stderr, "%s: bad arguments or write error\n", argv[0]);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
