/* SPDX-License-Identifier: MIT */
/*
 * Writes synthetic groups files for benchmarks and load-time measurements
 * (bench/bench_groups.cc, pk-gen-groups). Not part of the product.
 */
#ifndef PICKUP_BENCH_GROUPS_GEN_H
#define PICKUP_BENCH_GROUPS_GEN_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pk_groups_gen {
	uint32_t groups;  /* number of groups */
	uint32_t members; /* members per group */
	uint32_t users;	  /* distinct users (members are spread evenly over them) */
};

/* Write the file; 0 or -errno. Group i is "*<10000000+i>" (Lync syntax:
 * up to 8 digits after '*'), members "u<k>" in the default domain, every
 * 4th one written as a mapping with explicit rights and domain. */
int pk_groups_gen_write(const struct pk_groups_gen *p, FILE *out);

/* Member j of group i is user pk_groups_gen_user(p, i, j). */
static inline uint32_t pk_groups_gen_user(const struct pk_groups_gen *p, uint32_t i, uint32_t j)
{
	return (uint32_t)(((uint64_t)i * p->members + j) % p->users);
}

#ifdef __cplusplus
}
#endif

#endif
