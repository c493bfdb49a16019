/* SPDX-License-Identifier: MIT */
/*
 * The groups file (YAML, docs/groups.md): loading and validating it into an
 * immutable, normalised configuration object that pk_groups_replace() turns
 * into a published group index.
 *
 * Loading either yields a complete, valid object or nothing plus one error
 * message "file:line:col: reason" (the first error found), so a bad file
 * never replaces a good configuration. The object is plain data: groups in
 * file order with their members, and the distinct users (normalised user
 * part + domain index) with their memberships, each list pointing into
 * shared arrays.
 *
 * Control plane only: nothing here is called by workers.
 */
#ifndef PICKUP_GROUPS_CONF_H
#define PICKUP_GROUPS_CONF_H

#include "pickup/groups.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One membership: idx is a user index (in a group's member list) or a group
 * index (in a user's list). */
struct pk_groups_conf_ref {
	uint32_t idx;
	uint32_t rights; /* PK_RIGHT_* */
};

struct pk_groups_conf_group {
	struct pk_str number;   /* validated, as written */
	struct pk_str name;     /* may be empty */
	uint32_t first, n;      /* conf->members[first .. first+n) */
	uint32_t line;	        /* where the group starts in the file */
};

struct pk_groups_conf_user {
	struct pk_str user;     /* normalised user part */
	uint32_t domain;        /* index into settings.domains */
	uint32_t first, n;      /* conf->user_groups[first .. first+n), by group index */
};

struct pk_groups_conf {
	struct pk_groups_settings settings;
	uint32_t n_groups, n_users, n_members;
	const struct pk_groups_conf_group *groups;
	const struct pk_groups_conf_ref *members;     /* n_members, grouped by group */
	const struct pk_groups_conf_user *users;
	const struct pk_groups_conf_ref *user_groups; /* n_members, grouped by user,
							 ascending group index */
	void *priv_;				      /* owned storage */
};

#define PK_GROUPS_CONF_ERRMAX 512

/* Why a load failed: code is a negative errno (-EINVAL bad content,
 * -ENOENT/-EACCES/... opening the file, -ENOMEM); msg is
 * "file:line:col: reason" (line/col 0 when not tied to a place). */
struct pk_groups_conf_error {
	int code;
	uint32_t line, col;
	char msg[PK_GROUPS_CONF_ERRMAX];
};

/* Load and validate a groups file. NULL on error, with *err filled (err may
 * be NULL). Control thread. */
struct pk_groups_conf *pk_groups_conf_load(const char *path, struct pk_groups_conf_error *err);
/* The same from memory; name is used in messages. */
struct pk_groups_conf *pk_groups_conf_parse(const char *buf, size_t len, const char *name,
					    struct pk_groups_conf_error *err);
void pk_groups_conf_free(struct pk_groups_conf *conf);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_GROUPS_CONF_H */
