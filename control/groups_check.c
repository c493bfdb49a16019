/* SPDX-License-Identifier: MIT */
/*
 * pk-groups-check: validate a groups file the way pickupd loads it, and
 * build the group index from it, printing sizes and timings. An operator
 * runs it before a reload; the exit status says whether pickupd would take
 * the file.
 *   pk-groups-check FILE [MAX_GROUPS MAX_USERS]
 * The capacity defaults to the index's defaults (pk_groups_create).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pickup/groups_conf.h"
#include "pickup/rcu.h"

static double pk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *conf;
	struct pk_groups_stats st;
	struct pk_groups_params params = { 1u << 20, 1u << 22 };
	struct pk_groups *g = NULL;
	struct pk_rcu *rcu = NULL;
	double t0, t1, t2;
	int rc = 1;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s GROUPS_FILE [MAX_GROUPS MAX_USERS]\n", argv[0]);
		return 2;
	}
	if (argc == 4) {
		params.max_groups = (uint32_t)strtoul(argv[2], NULL, 0);
		params.max_users = (uint32_t)strtoul(argv[3], NULL, 0);
	}
	t0 = pk_now();
	conf = pk_groups_conf_load(argv[1], &err);
	t1 = pk_now();
	if (conf == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("%s: ok: %u groups, %u users, %u memberships; loaded in %.3f s\n", argv[1],
	       conf->n_groups, conf->n_users, conf->n_members, t1 - t0);
	rcu = pk_rcu_create(1);
	g = rcu != NULL ? pk_groups_create(rcu, &params) : NULL;
	if (g == NULL) {
		fprintf(stderr, "%s: bad capacity or out of memory\n", argv[0]);
		goto out;
	}
	t1 = pk_now();
	if (pk_groups_replace(g, conf) != 0) {
		fprintf(stderr, "%s: more than %u groups or %u users: over the capacity\n", argv[1],
			params.max_groups, params.max_users);
		goto out;
	}
	t2 = pk_now();
	pk_groups_view_stats(pk_groups_view(g), &st);
	printf("index built in %.3f s: %llu bytes\n", t2 - t1, (unsigned long long)st.bytes);
	rc = 0;
out:
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
	pk_groups_conf_free(conf);
	return rc;
}
