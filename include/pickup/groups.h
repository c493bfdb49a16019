/* SPDX-License-Identifier: MIT */
/*
 * The pickup-group index: what workers read at packet rate to decide whether
 * a dialled string is a group number, the pickup code or a directed pickup,
 * and which groups a user rings in or may pick up from.
 *
 * The control thread is the only writer. Everything a reader can reach is an
 * immutable snapshot (a "view"): a change copies the few blocks it touches
 * (path copying: two radix nodes, a small hash segment and the changed
 * group/user objects) into a new view and publishes it with one release
 * store, so a reader sees the whole change or none of it and never waits.
 * Replaced blocks are freed through pk_rcu_defer once every worker has passed
 * a quiescent state. A reload builds a whole new view off the hot path and
 * publishes it with the same single store. docs/groups.md has the layout,
 * the memory-order pairings and measured costs.
 *
 * Worker usage, once per burst:
 *     const struct pk_groups_view *v = pk_groups_view(g);
 *     ... pk_groups_find_*(v, ...) ...
 *     pk_rcu_quiescent(rcu, tid);  // v and all it gave out are now invalid
 *
 * Ids: every group has a dense id in [0, max_groups) and every user (an AoR
 * that is a member of at least one group) a dense id in [0, max_users). An
 * id stays the same for the object's lifetime, across renumbering, member
 * changes and reloads that keep it (a group is "kept" by a reload when its
 * number is unchanged; a user when its AoR is). Freed ids are reused
 * last-freed-last, and only after every never-used id has been handed out,
 * so that a ringing call filed under an id is long gone before the id means
 * something else. The ringing-call table keeps one FIFO per group id and
 * may index directed pickup by user id.
 */
#ifndef PICKUP_GROUPS_H
#define PICKUP_GROUPS_H

#include "pickup/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_rcu;
struct pk_groups;
struct pk_groups_view;
struct pk_groups_conf;

/* Rights of one membership (bit set). */
#define PK_RIGHT_RING 1u   /* calls to this user can be picked up by the group */
#define PK_RIGHT_PICKUP 2u /* this user can pick up calls ringing in the group */
#define PK_RIGHTS_ALL (PK_RIGHT_RING | PK_RIGHT_PICKUP)

#define PK_GROUPS_MAX_DOMAINS 16
#define PK_GROUPS_DOMAIN_MAX 253 /* bytes, a DNS name */
#define PK_GROUPS_USER_MAX 128	 /* bytes of a normalised user part */
#define PK_GROUPS_NAME_MAX 128	 /* bytes of a group's display name */
#define PK_GROUPS_NUMBER_MAX 9	 /* Lync: [*#]?[1-9]\d{0,7} | [1-9]\d{0,8} */
#define PK_GROUPS_CODE_MAX 16	 /* pickup code, [0-9*#]+ */
#define PK_GROUPS_PREFIX_MAX 8	 /* directed-pickup prefix, [0-9*#]+ */
#define PK_GROUPS_ID_LIMIT (1u << 24) /* upper bound of max_groups/max_users */

#define PK_GROUPS_DEFAULT_PICKUP_CODE "*8"
#define PK_GROUPS_DEFAULT_DIRECTED_PREFIX "**"
#define PK_GROUPS_DEFAULT_RING_TIMEOUT 180
#define PK_GROUPS_RING_TIMEOUT_MAX 3600

/*
 * Settings of the pickup service (the `settings:` block of the groups file).
 * Plain data, copied by value; domains are stored lowercase. Use the
 * accessors below for pk_str views.
 */
struct pk_groups_settings {
	uint32_t ring_timeout; /* seconds a call may ring before it is dropped */
	uint32_t n_domains;    /* served domains; [0] is the default domain */
	uint8_t pickup_code_len, directed_prefix_len;
	char pickup_code[PK_GROUPS_CODE_MAX + 1];
	char directed_prefix[PK_GROUPS_PREFIX_MAX + 1];
	uint8_t domain_len[PK_GROUPS_MAX_DOMAINS];
	char domains[PK_GROUPS_MAX_DOMAINS][PK_GROUPS_DOMAIN_MAX + 1];
};

/* One membership: in a group's member list id is a user id, in a user's
 * list a group id. */
struct pk_group_ref {
	uint32_t id;
	uint32_t rights; /* PK_RIGHT_* bits, never 0 */
};

/* A group as readers see it. Immutable while the view that returned it is
 * held; all pointers point inside the same object. */
struct pk_group {
	uint32_t id;	      /* dense group id */
	uint32_t n_members;
	struct pk_str number; /* e.g. "*801", exactly as configured */
	struct pk_str name;   /* display name, may be empty */
	const struct pk_group_ref *members; /* (user id, rights), config order */
};

/* A user with its memberships. Same lifetime rules as struct pk_group. */
struct pk_group_user {
	uint32_t id;	    /* dense user id */
	uint32_t domain;    /* index in the settings' domains */
	uint32_t n_groups;
	uint32_t pad_;
	struct pk_str user; /* normalised user part (see pk_groups_user_normalize) */
	const struct pk_group_ref *groups; /* (group id, rights), ascending id */
};

/* What a dialled user part means (pk_groups_classify). */
enum pk_groups_dial {
	PK_DIAL_NONE = 0,    /* not ours: route as any other call */
	PK_DIAL_GROUP,	     /* a group number: out.group is set */
	PK_DIAL_PICKUP_CODE, /* the pickup code */
	PK_DIAL_DIRECTED,    /* directed prefix + user: out.target is the user */
};

struct pk_groups_dial_result {
	const struct pk_group *group;
	struct pk_str target; /* points into the dialled string */
};

/* Capacity of an index, fixed at creation (from the engine configuration;
 * the ringing-call table sizes its per-group FIFOs from max_groups). */
struct pk_groups_params {
	uint32_t max_groups; /* default 1 << 20 */
	uint32_t max_users;  /* default 1 << 22 */
	/* Group numbers, and users, looked up in a flat hash table while
	 * there are at most this many of them (a change copies the table of an
	 * index it changes: ~60 us at 65,536; docs/groups.md); beyond, in the
	 * radix tree only. 0: PK_GROUPS_FLAT_MAX_DEFAULT. */
	uint32_t flat_max;
};

/* The default flat_max (and capacity.group_flat_max's): a table of
 * 131,072 slots (2 MiB), copied by each change of its index. */
#define PK_GROUPS_FLAT_MAX_DEFAULT 65536u

/* What a view holds (stats, control socket, benchmarks). */
struct pk_groups_stats {
	uint64_t version;     /* increases with every published change */
	uint32_t n_groups, n_users;
	uint64_t n_memberships;
	uint64_t bytes; /* payload bytes of all blocks of the view (no malloc overhead) */
};

/* ---- settings and syntax helpers (any thread, no allocation) ---- */

/* Defaults: pickup code *8, directed prefix **, ring timeout 180 s, no
 * domain. */
void pk_groups_settings_init(struct pk_groups_settings *s);
/* Append a served domain (stored lowercase). -EINVAL bad syntax, -EEXIST
 * already there, -ENOSPC more than PK_GROUPS_MAX_DOMAINS. */
int pk_groups_settings_add_domain(struct pk_groups_settings *s, struct pk_str domain);
/* -EINVAL unless 1..PK_GROUPS_CODE_MAX (prefix: PK_GROUPS_PREFIX_MAX) of
 * [0-9*#]. */
int pk_groups_settings_set_pickup_code(struct pk_groups_settings *s, struct pk_str code);
int pk_groups_settings_set_directed_prefix(struct pk_groups_settings *s, struct pk_str prefix);
/* Whole-settings check: at least one domain, ring timeout in
 * 1..PK_GROUPS_RING_TIMEOUT_MAX, and neither of pickup code and directed
 * prefix a prefix of the other (that would make a dialled string mean two
 * things). 0 or -EINVAL; *why (if not NULL) gets a static reason. */
int pk_groups_settings_check(const struct pk_groups_settings *s, const char **why);
static inline struct pk_str pk_groups_settings_domain(const struct pk_groups_settings *s, uint32_t i)
{
	return pk_str_make(s->domains[i], s->domain_len[i]);
}
static inline struct pk_str pk_groups_settings_pickup_code(const struct pk_groups_settings *s)
{
	return pk_str_make(s->pickup_code, s->pickup_code_len);
}
static inline struct pk_str pk_groups_settings_directed_prefix(const struct pk_groups_settings *s)
{
	return pk_str_make(s->directed_prefix, s->directed_prefix_len);
}
/* Index of a served domain (ASCII case-insensitive), or -1. Worker-safe. */
int pk_groups_settings_find_domain(const struct pk_groups_settings *s, struct pk_str domain);

/* Why a group number is refused; X-macro: one line per reason. */
#define PK_GROUPS_NUMBER_ERRORS(X)                                                      \
	X(OK, "ok")                                                                     \
	X(SYNTAX, "not a group number: [*#]?[1-9][0-9]{0,7} or [1-9][0-9]{0,8}")          \
	X(PICKUP_CODE, "is the pickup code")                                            \
	X(PREFIX, "starts with the directed pickup prefix")
enum pk_groups_number_error {
#define PK_GROUPS_NUMBER_ENUM(name, str) PK_GROUPS_NUMBER_##name,
	PK_GROUPS_NUMBER_ERRORS(PK_GROUPS_NUMBER_ENUM)
#undef PK_GROUPS_NUMBER_ENUM
};
const char *pk_groups_number_strerror(enum pk_groups_number_error e);
/* Syntax of a group number (the Lync regex). Any thread. */
bool pk_groups_number_valid(struct pk_str number);
/* Syntax plus conflicts with the settings (s may be NULL: syntax only). */
enum pk_groups_number_error pk_groups_number_check(const struct pk_groups_settings *s,
						   struct pk_str number);

/* A display name: at most PK_GROUPS_NAME_MAX bytes, no control character
 * (UTF-8 is fine). Any thread. */
bool pk_groups_name_valid(struct pk_str name);

/*
 * Normalise a SIP user part for comparison (RFC 3261 §19.1.4: case
 * sensitive; %HH of a character outside the reserved set equals the
 * character): escapes of unreserved characters are decoded, escapes of
 * reserved ones kept with uppercase hex. Writes at most cap bytes to out.
 * Returns the length, -EINVAL (a character a user part may not hold, bad
 * escape, empty) or -ENAMETOOLONG. Worker-safe (no allocation).
 */
int pk_groups_user_normalize(struct pk_str in, char *out, size_t cap);

/* Split "user@domain" (optionally "sip:"/"sips:" in front) into its parts
 * without copying; domain is empty if there is no '@'. -EINVAL if the user
 * part or the domain after an '@' is empty. Any thread. */
int pk_groups_aor_split(struct pk_str aor, struct pk_str *user, struct pk_str *domain);

/* ---- reader side ---- */

/* The current view. Acquire load of the published pointer. Worker-safe; the
 * view and everything found through it stay valid until the calling reader
 * reports a quiescent state (pk_rcu_quiescent) or goes offline. Control
 * threads that are not RCU readers must hold the writer side (only call it
 * from the single writer thread, between changes). */
const struct pk_groups_view *pk_groups_view(const struct pk_groups *g);

/* The version of a view: it increases with every published change, so a
 * worker may cache something derived from the index and check it is still
 * current. Worker-safe. */
uint64_t pk_groups_view_version(const struct pk_groups_view *v);

/* Settings in force in this view. Worker-safe. */
const struct pk_groups_settings *pk_groups_view_settings(const struct pk_groups_view *v);

/* Group by number. The number may be written with %HH escapes as in a
 * Request-URI (phones send '#' as %23). NULL if none. Worker-safe. */
const struct pk_group *pk_groups_find_number(const struct pk_groups_view *v, struct pk_str number);
/* Group by id, NULL if the id is unused. Worker-safe. */
const struct pk_group *pk_groups_find_gid(const struct pk_groups_view *v, uint32_t gid);

/* User by (user part, domain); an empty domain means the default domain.
 * The user part is compared after normalisation (escapes), the domain case-
 * insensitively. NULL if the user is in no group. Worker-safe. */
const struct pk_group_user *pk_groups_find_user(const struct pk_groups_view *v, struct pk_str user,
						struct pk_str domain);
/* The same for a user and host as scanned from a SIP URI (struct
 * pk_sip_uri .user/.host): a host that is not a served domain finds nothing.
 * Worker-safe. */
const struct pk_group_user *pk_groups_find_uri(const struct pk_groups_view *v,
					       struct pk_str uri_user, struct pk_str uri_host);
/* User by id, NULL if unused. Worker-safe. */
const struct pk_group_user *pk_groups_find_uid(const struct pk_groups_view *v, uint32_t uid);

/* Rights of user u in group gid (0: not a member). Binary search; worker-safe. */
uint32_t pk_group_user_rights(const struct pk_group_user *u, uint32_t gid);

/* What a dialled Request-URI user part means: the pickup code (exact),
 * a group number (exact), the directed prefix followed by a non-empty user,
 * or nothing. %HH escapes are decoded first. out may be NULL. Worker-safe. */
enum pk_groups_dial pk_groups_classify(const struct pk_groups_view *v, struct pk_str dialled,
				       struct pk_groups_dial_result *out);
/* Shorthands. Worker-safe. */
bool pk_groups_is_pickup_code(const struct pk_groups_view *v, struct pk_str dialled);
bool pk_groups_directed_target(const struct pk_groups_view *v, struct pk_str dialled,
			       struct pk_str *target);

/* Counts and payload bytes of a view (walks it: O(size)). Not for workers. */
void pk_groups_view_stats(const struct pk_groups_view *v, struct pk_groups_stats *st);

/* ---- writer side: control thread only; never called by workers ---- */

/* Create an empty index (settings: defaults, no domain) whose retired
 * versions are freed through rcu. params NULL: defaults. NULL on bad
 * params or no memory. */
struct pk_groups *pk_groups_create(struct pk_rcu *rcu, const struct pk_groups_params *params);
/* Free the index and its current view. No reader may use it any more;
 * versions already handed to pk_rcu_defer are freed by the RCU domain. */
void pk_groups_destroy(struct pk_groups *g);
/* The capacity given at creation. Any thread. */
void pk_groups_params_get(const struct pk_groups *g, struct pk_groups_params *out);

/*
 * Replace everything with the content of a loaded groups file, as one
 * atomic change. Groups whose number already exists keep their id, users
 * whose AoR exists keep theirs. Built off the hot path; readers keep
 * using the old view until the single pointer store. 0, -ENOSPC (more
 * groups/users than the capacity), -EINVAL (settings do not pass
 * pk_groups_settings_check), -ENOMEM. On error nothing changed.
 */
int pk_groups_replace(struct pk_groups *g, const struct pk_groups_conf *conf);

/* A member for pk_groups_group_add. domain empty: the default domain. */
struct pk_group_member_spec {
	struct pk_str user, domain;
	uint32_t rights;
};

/*
 * Single changes. Each is one atomic publication. Groups are named by
 * number. Errors: -EINVAL (bad number/name/user/rights, domain not served,
 * number conflicting with the pickup code or prefix), -ENOENT (no such group
 * or member), -EEXIST (number taken, member already in the group),
 * -ENOSPC (no free group/user id), -ENOMEM. On error nothing changed.
 */
int pk_groups_group_add(struct pk_groups *g, struct pk_str number, struct pk_str name,
			const struct pk_group_member_spec *members, unsigned n_members,
			uint32_t *gid_out);
int pk_groups_group_remove(struct pk_groups *g, struct pk_str number);
/* Change a group's number; its id, name and members stay. */
int pk_groups_group_renumber(struct pk_groups *g, struct pk_str number, struct pk_str new_number);
int pk_groups_group_set_name(struct pk_groups *g, struct pk_str number, struct pk_str name);
int pk_groups_member_add(struct pk_groups *g, struct pk_str number, struct pk_str user,
			 struct pk_str domain, uint32_t rights);
/* Removing a user's last membership removes the user (its id is freed). */
int pk_groups_member_remove(struct pk_groups *g, struct pk_str number, struct pk_str user,
			    struct pk_str domain);
int pk_groups_member_set_rights(struct pk_groups *g, struct pk_str number, struct pk_str user,
				struct pk_str domain, uint32_t rights);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_GROUPS_H */
