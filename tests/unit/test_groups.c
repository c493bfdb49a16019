/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the group index (dataplane/pickup/groups.c, group_edit.c,
 * group_build.c): lookups by number, user, URI and id; classification of a
 * dialled string; every single change and what readers see of it (a view
 * taken before a change keeps showing the old state, the next view the new
 * one, never a mix); reload with id preservation; reclamation only after
 * quiescence; id reuse policy; changes past capacity.users (refused, their
 * ids given back); and reader threads checking cross-object
 * invariants while the control thread keeps changing the index.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/rcu.h"

#define S(lit) PK_STR_LIT(lit)

static const char base_text[] = "settings:\n"
				"  domains: [example.test, other.test]\n"
				"groups:\n"
				"  - number: \"*801\"\n"
				"    name: Sales\n"
				"    members:\n"
				"      - alice\n"
				"      - user: bob\n"
				"        rights: [pickup]\n"
				"      - user: carol@other.test\n"
				"        rights: [ring]\n"
				"  - number: \"#4321\"\n"
				"    name: Support\n"
				"    members: [alice, dave]\n"
				"  - number: 2001\n"
				"    members:\n"
				"      - user: alice\n"
				"        rights: [ring]\n";

struct fixture {
	struct pk_rcu *rcu;
	struct pk_groups *g;
};

static struct pk_groups_conf *parse(const char *text)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *c = pk_groups_conf_parse(text, strlen(text), "test", &err);

	if (c == NULL)
		fail_msg("%s", err.msg);
	return c;
}

static void load(struct pk_groups *g, const char *text)
{
	struct pk_groups_conf *c = parse(text);

	assert_int_equal(pk_groups_replace(g, c), 0);
	pk_groups_conf_free(c);
}

/* The index with flat tables of at most flat_max objects (0: default). */
static int setup_flat_max(void **state, uint32_t flat_max)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pk_groups_params p = { 64, 256, flat_max };

	f->rcu = pk_rcu_create(4);
	f->g = pk_groups_create(f->rcu, &p);
	if (f->rcu == NULL || f->g == NULL)
		return -1;
	load(f->g, base_text);
	*state = f;
	return 0;
}

/* Lookups in the flat tables (the default: base_text has 3 groups and 4
 * users). */
static int setup(void **state)
{
	return setup_flat_max(state, 0);
}

/* The same tests with lookups in the radix trees (flat tables only for
 * indexes of one object). */
static int setup_tree(void **state)
{
	return setup_flat_max(state, 1);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* A failed assertion may leave this thread registered as a reader:
	 * leave, or the final grace period would wait for us forever. */
	pk_rcu_reader_unregister(f->rcu, 0);
	pk_groups_destroy(f->g);
	pk_rcu_destroy(f->rcu); /* runs every deferred free */
	free(f);
	return 0;
}

/* Is uid (by name) a member of gr with these rights, seen from both sides? */
static uint32_t member_rights(const struct pk_groups_view *v, const struct pk_group *gr,
			      const char *user, const char *domain)
{
	const struct pk_group_user *u =
		pk_groups_find_user(v, pk_str_make(user, strlen(user)), pk_str_make(domain, strlen(domain)));
	uint32_t from_group = 0;

	if (u == NULL)
		return 0;
	for (uint32_t i = 0; i < gr->n_members; i++)
		if (gr->members[i].id == u->id)
			from_group = gr->members[i].rights;
	assert_int_equal(from_group, pk_group_user_rights(u, gr->id));
	return from_group;
}

/* ---- lookups ---- */

static void test_lookups(void **state)
{
	struct fixture *f = *state;
	const struct pk_groups_view *v = pk_groups_view(f->g);
	const struct pk_group *sales = pk_groups_find_number(v, S("*801"));
	const struct pk_group *support = pk_groups_find_number(v, S("#4321"));
	const struct pk_group *g2001 = pk_groups_find_number(v, S("2001"));
	const struct pk_group_user *alice, *carol;

	assert_non_null(sales);
	assert_non_null(support);
	assert_non_null(g2001);
	assert_true(pk_str_eq(sales->number, S("*801")));
	assert_true(pk_str_eq(sales->name, S("Sales")));
	assert_int_equal(sales->n_members, 3);
	assert_int_equal(g2001->name.len, 0);
	assert_true(sales->id < 64 && support->id < 64 && g2001->id < 64);
	assert_true(sales->id != support->id && support->id != g2001->id);

	/* members: first is alice with both rights */
	alice = pk_groups_find_uid(v, sales->members[0].id);
	assert_non_null(alice);
	assert_true(pk_str_eq(alice->user, S("alice")));
	assert_int_equal(sales->members[0].rights, PK_RIGHTS_ALL);
	assert_int_equal(member_rights(v, sales, "bob", ""), PK_RIGHT_PICKUP);
	assert_int_equal(member_rights(v, sales, "carol", "other.test"), PK_RIGHT_RING);
	assert_int_equal(member_rights(v, support, "dave", "example.test"), PK_RIGHTS_ALL);

	/* user -> memberships, sorted by group id */
	assert_ptr_equal(pk_groups_find_user(v, S("alice"), S("")), alice);
	assert_ptr_equal(pk_groups_find_user(v, S("alice"), S("EXAMPLE.Test")), alice);
	assert_int_equal(alice->n_groups, 3);
	for (uint32_t i = 1; i < alice->n_groups; i++)
		assert_true(alice->groups[i - 1].id < alice->groups[i].id);
	assert_int_equal(pk_group_user_rights(alice, sales->id), PK_RIGHTS_ALL);
	assert_int_equal(pk_group_user_rights(alice, g2001->id), PK_RIGHT_RING);
	assert_int_equal(alice->domain, 0);

	/* user parts are case-sensitive, domains are not; a user in another
	 * domain is another user */
	assert_null(pk_groups_find_user(v, S("Alice"), S("")));
	assert_null(pk_groups_find_user(v, S("alice"), S("other.test")));
	carol = pk_groups_find_user(v, S("carol"), S("Other.TEST"));
	assert_non_null(carol);
	assert_int_equal(carol->domain, 1);
	assert_null(pk_groups_find_user(v, S("carol"), S("")));
	assert_null(pk_groups_find_user(v, S("erin"), S("")));

	/* as scanned from a SIP URI: escapes decoded, host must be served */
	assert_ptr_equal(pk_groups_find_uri(v, S("%61lice"), S("example.test")), alice);
	assert_ptr_equal(pk_groups_find_uri(v, S("alice"), S("EXAMPLE.TEST")), alice);
	assert_null(pk_groups_find_uri(v, S("alice"), S("10.0.0.1")));
	assert_null(pk_groups_find_uri(v, S("alice"), S("")));
	assert_null(pk_groups_find_uri(v, S("al%6"), S("example.test")));

	/* numbers as dialled: '#' comes escaped in a Request-URI */
	assert_ptr_equal(pk_groups_find_number(v, S("%234321")), support);
	assert_ptr_equal(pk_groups_find_number(v, S("%2A801")), sales);
	assert_null(pk_groups_find_number(v, S("*802")));
	assert_null(pk_groups_find_number(v, S("")));
	assert_null(pk_groups_find_number(v, S("12345678901234")));
	assert_null(pk_groups_find_number(v, S("%2")));

	/* ids */
	assert_ptr_equal(pk_groups_find_gid(v, sales->id), sales);
	assert_null(pk_groups_find_gid(v, 63));
	assert_null(pk_groups_find_gid(v, UINT32_MAX));
	assert_ptr_equal(pk_groups_find_uid(v, carol->id), carol);
	assert_null(pk_groups_find_uid(v, UINT32_MAX));

	/* settings readable by workers */
	assert_true(pk_str_eq(pk_groups_settings_pickup_code(pk_groups_view_settings(v)), S("*8")));
	assert_int_equal(pk_groups_view_settings(v)->ring_timeout, 180);
}

static void test_classify(void **state)
{
	struct fixture *f = *state;
	const struct pk_groups_view *v = pk_groups_view(f->g);
	struct pk_groups_dial_result r;
	struct pk_str t;

	assert_int_equal(pk_groups_classify(v, S("*8"), &r), PK_DIAL_PICKUP_CODE);
	assert_int_equal(pk_groups_classify(v, S("%2a8"), &r), PK_DIAL_PICKUP_CODE);
	assert_int_equal(pk_groups_classify(v, S("*801"), &r), PK_DIAL_GROUP);
	assert_ptr_equal(r.group, pk_groups_find_number(v, S("*801")));
	assert_int_equal(pk_groups_classify(v, S("%234321"), &r), PK_DIAL_GROUP);
	assert_int_equal(pk_groups_classify(v, S("**2001"), &r), PK_DIAL_DIRECTED);
	assert_true(pk_str_eq(r.target, S("2001")));
	assert_int_equal(pk_groups_classify(v, S("*%2Aalice"), &r), PK_DIAL_DIRECTED);
	assert_true(pk_str_eq(r.target, S("alice")));
	assert_int_equal(pk_groups_classify(v, S("**"), &r), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(v, S("*80"), &r), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(v, S("bob"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(v, S(""), NULL), PK_DIAL_NONE);
	assert_true(pk_groups_is_pickup_code(v, S("*8")));
	assert_false(pk_groups_is_pickup_code(v, S("*88")));
	assert_true(pk_groups_directed_target(v, S("**bob"), &t));
	assert_true(pk_str_eq(t, S("bob")));
	assert_false(pk_groups_directed_target(v, S("*bob"), &t));
}

/* The path for user parts with no '%' (most requests) answers as the
 * general one: each string is classified as it is and with its first byte
 * written %HH, which takes the general path. */
static void test_classify_unescaped(void **state)
{
	static const char *const dialled[] = {
		"*8", "*80", "*801", "*8012", "*", "8", "**", "**2001", "**bob", "*2001", "#8",
		"4321", "#4321", "%", "bob", "*8*8", "**2001x", "12345678901234", "801", "*88",
	};
	struct fixture *f = *state;
	const struct pk_groups_view *v = pk_groups_view(f->g);

	for (size_t i = 0; i < sizeof(dialled) / sizeof(dialled[0]); i++) {
		struct pk_groups_dial_result a, b;
		char esc[64];
		size_t n = strlen(dialled[i]);
		enum pk_groups_dial ka, kb;

		/* one byte escaped, at every place (the '%' in either word
		 * of the unescaped test, or past it) */
		for (size_t j = 0; j < n; j++) {
			snprintf(esc, sizeof(esc), "%.*s%%%02X%s", (int)j, dialled[i], (unsigned char)dialled[i][j],
				 dialled[i] + j + 1);
			ka = pk_groups_classify(v, pk_str_make(dialled[i], n), &a);
			kb = pk_groups_classify(v, pk_str_make(esc, strlen(esc)), &b);
			if (strchr(dialled[i], '%') == NULL) {
				assert_int_equal(ka, kb);
				assert_ptr_equal(a.group, b.group);
				if (ka == PK_DIAL_DIRECTED && j >= 2) /* the target holds the escape */
					assert_int_equal(b.target.len, a.target.len + 2);
				else
					assert_true(pk_str_eq(a.target, b.target));
			}
		}
	}
	/* and the answers themselves, on the unescaped path */
	assert_int_equal(pk_groups_classify(v, S("*8"), NULL), PK_DIAL_PICKUP_CODE);
	assert_int_equal(pk_groups_classify(v, S("*88"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(v, S("*"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(v, S("#4321"), NULL), PK_DIAL_GROUP);
	assert_int_equal(pk_groups_classify(v, S("12345678901234"), NULL), PK_DIAL_NONE);
	{
		struct pk_groups_dial_result r;

		assert_int_equal(pk_groups_classify(v, S("**b"), &r), PK_DIAL_DIRECTED);
		assert_true(pk_str_eq(r.target, S("b")));
		assert_int_equal(pk_groups_classify(v, S("*%2A"), &r), PK_DIAL_NONE);
	}
}

/* The unescaped path skips the number lookup of a string whose first
 * byte no group number starts with: every way a number enters the index
 * (reload, add, renumber) must make its first byte count, or its group
 * could no longer be dialled. */
static void test_classify_first_byte(void **state)
{
	struct fixture *f = *state;
	struct pk_groups_dial_result r;

	/* numbers start with '*', '#' and '2' here: '5' and '7' with none */
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("5001"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_group_add(f->g, S("5001"), S(""), NULL, 0, NULL), 0);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("5001"), &r), PK_DIAL_GROUP);
	assert_ptr_equal(r.group, pk_groups_find_number(pk_groups_view(f->g), S("5001")));
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("5002"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_group_renumber(f->g, S("5001"), S("7001")), 0);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("7001"), &r), PK_DIAL_GROUP);
	assert_ptr_equal(r.group, pk_groups_find_number(pk_groups_view(f->g), S("7001")));
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("5001"), NULL), PK_DIAL_NONE);
	/* a member edit copies the group: still dialled */
	assert_int_equal(pk_groups_member_add(f->g, S("7001"), S("erin"), S(""), PK_RIGHTS_ALL), 0);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("7001"), NULL), PK_DIAL_GROUP);
	/* a reload: its numbers, and only what they start with, count */
	load(f->g, "settings:\n"
		   "  domains: [example.test]\n"
		   "groups:\n"
		   "  - number: \"9001\"\n"
		   "    members: [alice]\n");
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("9001"), NULL), PK_DIAL_GROUP);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("7001"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("*801"), NULL), PK_DIAL_NONE);
	assert_int_equal(pk_groups_classify(pk_groups_view(f->g), S("9002"), NULL), PK_DIAL_NONE);
	/* a pickup code and a directed prefix that start with bytes no
	 * number starts with, raw and escaped */
	load(f->g, "settings:\n"
		   "  domains: [example.test]\n"
		   "  pickup_code: \"*7\"\n"
		   "  directed_prefix: \"#9\"\n"
		   "groups:\n"
		   "  - number: \"9001\"\n"
		   "    members: [alice]\n");
	{
		struct pk_groups_view const *v = pk_groups_view(f->g);
		struct pk_groups_dial_result d;

		assert_int_equal(pk_groups_classify(v, S("*7"), NULL), PK_DIAL_PICKUP_CODE);
		assert_int_equal(pk_groups_classify(v, S("%2a7"), NULL), PK_DIAL_PICKUP_CODE);
		assert_int_equal(pk_groups_classify(v, S("#9alice"), &d), PK_DIAL_DIRECTED);
		assert_true(pk_str_eq(d.target, S("alice")));
		assert_int_equal(pk_groups_classify(v, S("#9al%69ce"), &d), PK_DIAL_DIRECTED);
		assert_int_equal(pk_groups_classify(v, S("%239alice"), &d), PK_DIAL_DIRECTED);
		assert_true(pk_str_eq(d.target, S("alice")));
		assert_int_equal(pk_groups_classify(v, S("9001"), &d), PK_DIAL_GROUP);
		assert_int_equal(pk_groups_classify(v, S("%39001"), &d), PK_DIAL_GROUP);
		assert_int_equal(pk_groups_classify(v, S("900%31"), &d), PK_DIAL_GROUP);
		assert_int_equal(pk_groups_classify(v, S("*8"), NULL), PK_DIAL_NONE);
		assert_int_equal(pk_groups_classify(v, S("#8alice"), NULL), PK_DIAL_NONE);
		assert_int_equal(pk_groups_classify(v, S("2002"), &d), PK_DIAL_NONE);
		assert_null(d.group);
		assert_int_equal(d.target.len, 0);
		assert_int_equal(pk_groups_classify(v, S("20%302"), NULL), PK_DIAL_NONE);
	}
}

/* ---- single changes ---- */

/* Each change: the view taken before still shows the old state, the view
 * after shows the new one. The test thread is a registered reader holding
 * the old views, so nothing it holds can be freed under it. */
static void test_single_changes(void **state)
{
	struct fixture *f = *state;
	const struct pk_groups_view *v0, *v1, *v2, *v3, *v4, *v5, *v6;
	const struct pk_group *gr, *old_gr;
	const struct pk_group_user *u;
	struct pk_group_member_spec m[2] = {
		{ S("alice"), S(""), PK_RIGHT_RING },
		{ S("erin"), S("example.test"), PK_RIGHTS_ALL },
	};
	uint32_t gid, erin_uid;

	assert_int_equal(pk_rcu_reader_register(f->rcu, 0), 0);
	v0 = pk_groups_view(f->g);

	/* add a group with a known and a new user */
	assert_int_equal(pk_groups_group_add(f->g, S("*802"), S("Night"), m, 2, &gid), 0);
	v1 = pk_groups_view(f->g);
	assert_ptr_not_equal(v0, v1);
	assert_true(pk_groups_view_version(v1) > pk_groups_view_version(v0));
	assert_null(pk_groups_find_number(v0, S("*802")));
	assert_null(pk_groups_find_user(v0, S("erin"), S("")));
	assert_int_equal(pk_groups_find_user(v0, S("alice"), S(""))->n_groups, 3);
	gr = pk_groups_find_number(v1, S("*802"));
	assert_non_null(gr);
	assert_int_equal(gr->id, gid);
	assert_ptr_equal(pk_groups_find_gid(v1, gid), gr);
	assert_true(pk_str_eq(gr->name, S("Night")));
	assert_int_equal(member_rights(v1, gr, "alice", ""), PK_RIGHT_RING);
	assert_int_equal(member_rights(v1, gr, "erin", ""), PK_RIGHTS_ALL);
	assert_int_equal(pk_groups_find_user(v1, S("alice"), S(""))->n_groups, 4);
	erin_uid = pk_groups_find_user(v1, S("erin"), S(""))->id;

	/* add a member; change rights; remove a member (erin's last group:
	 * erin goes) */
	assert_int_equal(pk_groups_member_add(f->g, S("*802"), S("frank"), S(""), PK_RIGHT_PICKUP), 0);
	assert_int_equal(pk_groups_member_set_rights(f->g, S("*802"), S("alice"), S(""), PK_RIGHTS_ALL), 0);
	assert_int_equal(pk_groups_member_remove(f->g, S("*802"), S("erin"), S("")), 0);
	v2 = pk_groups_view(f->g);
	gr = pk_groups_find_number(v2, S("*802"));
	assert_int_equal(gr->id, gid);
	assert_int_equal(gr->n_members, 2);
	assert_int_equal(member_rights(v2, gr, "frank", ""), PK_RIGHT_PICKUP);
	assert_int_equal(member_rights(v2, gr, "alice", ""), PK_RIGHTS_ALL);
	assert_null(pk_groups_find_user(v2, S("erin"), S("")));
	assert_null(pk_groups_find_uid(v2, erin_uid));
	/* v1 unchanged */
	old_gr = pk_groups_find_number(v1, S("*802"));
	assert_int_equal(old_gr->n_members, 2);
	assert_int_equal(member_rights(v1, old_gr, "alice", ""), PK_RIGHT_RING);
	assert_non_null(pk_groups_find_user(v1, S("erin"), S("")));
	assert_null(pk_groups_find_user(v1, S("frank"), S("")));

	/* rename the display name, then renumber: the id stays */
	assert_int_equal(pk_groups_group_set_name(f->g, S("*802"), S("Late shift")), 0);
	assert_int_equal(pk_groups_group_renumber(f->g, S("*802"), S("#802")), 0);
	v3 = pk_groups_view(f->g);
	assert_null(pk_groups_find_number(v3, S("*802")));
	gr = pk_groups_find_number(v3, S("#802"));
	assert_non_null(gr);
	assert_int_equal(gr->id, gid);
	assert_true(pk_str_eq(gr->name, S("Late shift")));
	assert_int_equal(gr->n_members, 2);
	assert_int_equal(pk_group_user_rights(pk_groups_find_user(v3, S("frank"), S("")), gid),
			 PK_RIGHT_PICKUP);
	assert_non_null(pk_groups_find_number(v2, S("*802")));
	assert_null(pk_groups_find_number(v2, S("#802")));

	/* remove the group: memberships go with it, frank with his last one */
	assert_int_equal(pk_groups_group_remove(f->g, S("#802")), 0);
	v4 = pk_groups_view(f->g);
	assert_null(pk_groups_find_number(v4, S("#802")));
	assert_null(pk_groups_find_gid(v4, gid));
	assert_null(pk_groups_find_user(v4, S("frank"), S("")));
	u = pk_groups_find_user(v4, S("alice"), S(""));
	assert_int_equal(u->n_groups, 3);
	assert_int_equal(pk_group_user_rights(u, gid), 0);
	assert_non_null(pk_groups_find_number(v3, S("#802")));

	/* refused changes publish nothing */
	assert_int_equal(pk_groups_group_add(f->g, S("*801"), S(""), NULL, 0, NULL), -EEXIST);
	assert_int_equal(pk_groups_group_add(f->g, S("*8"), S(""), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_add(f->g, S("0801"), S(""), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S("bad\nname"), NULL, 0, NULL), -EINVAL);
	/* names must be UTF-8 (a groups file could not hold them otherwise):
	 * a stray byte, an overlong '/', a surrogate, a cut sequence */
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S("bad \xff utf8"), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S("\xc0\xaf"), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S("\xed\xa0\x80"), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S("caf\xc3"), NULL, 0, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_set_name(f->g, S("*801"), S("x\x80")), -EINVAL);
	assert_true(pk_groups_name_valid(S("Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e")));
	m[1] = (struct pk_group_member_spec){ S("alice"), S("EXAMPLE.TEST"), PK_RIGHT_RING };
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S(""), m, 2, NULL), -EEXIST);
	m[1] = (struct pk_group_member_spec){ S("zed"), S("nowhere.test"), PK_RIGHT_RING };
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S(""), m, 2, NULL), -EINVAL);
	m[1] = (struct pk_group_member_spec){ S("zed"), S(""), 0 };
	assert_int_equal(pk_groups_group_add(f->g, S("*803"), S(""), m, 2, NULL), -EINVAL);
	assert_int_equal(pk_groups_group_remove(f->g, S("*803")), -ENOENT);
	assert_int_equal(pk_groups_group_renumber(f->g, S("*803"), S("*804")), -ENOENT);
	assert_int_equal(pk_groups_group_renumber(f->g, S("*801"), S("2001")), -EEXIST);
	assert_int_equal(pk_groups_group_renumber(f->g, S("*801"), S("*8")), -EINVAL);
	assert_int_equal(pk_groups_group_set_name(f->g, S("*803"), S("x")), -ENOENT);
	assert_int_equal(pk_groups_member_add(f->g, S("*803"), S("bob"), S(""), 1), -ENOENT);
	assert_int_equal(pk_groups_member_add(f->g, S("*801"), S("bob"), S(""), 1), -EEXIST);
	assert_int_equal(pk_groups_member_add(f->g, S("*801"), S("zed"), S(""), 4), -EINVAL);
	assert_int_equal(pk_groups_member_add(f->g, S("*801"), S("a b"), S(""), 1), -EINVAL);
	assert_int_equal(pk_groups_member_add(f->g, S("*801"), S("zed"), S("x.test"), 1), -EINVAL);
	assert_int_equal(pk_groups_member_remove(f->g, S("*801"), S("dave"), S("")), -ENOENT);
	assert_int_equal(pk_groups_member_remove(f->g, S("*801"), S("zed"), S("")), -ENOENT);
	assert_int_equal(pk_groups_member_set_rights(f->g, S("*801"), S("dave"), S(""), 1), -ENOENT);
	assert_int_equal(pk_groups_member_set_rights(f->g, S("*801"), S("bob"), S(""), 0), -EINVAL);
	assert_ptr_equal(pk_groups_view(f->g), v4);
	assert_int_equal(pk_groups_group_renumber(f->g, S("*801"), S("*801")), 0); /* no-op */

	/* a member added to an existing group is visible from both sides */
	assert_int_equal(pk_groups_member_add(f->g, S("2001"), S("carol"), S("other.test"),
					      PK_RIGHT_PICKUP), 0);
	v5 = pk_groups_view(f->g);
	gr = pk_groups_find_number(v5, S("2001"));
	assert_int_equal(member_rights(v5, gr, "carol", "other.test"), PK_RIGHT_PICKUP);
	assert_int_equal(pk_groups_find_user(v5, S("carol"), S("other.test"))->n_groups, 2);

	/* escapes are normalised in changes too: "%62ob" is bob */
	assert_int_equal(pk_groups_member_remove(f->g, S("*801"), S("%62ob"), S("")), 0);
	v6 = pk_groups_view(f->g);
	assert_null(pk_groups_find_user(v6, S("bob"), S("")));

	pk_rcu_reader_unregister(f->rcu, 0);
}

/* Replaced blocks are freed only after every reader has been quiescent. */
static void test_reclaim_after_quiescence(void **state)
{
	struct fixture *f = *state;
	const struct pk_groups_view *v0;
	const struct pk_group *sales;

	assert_int_equal(pk_rcu_reader_register(f->rcu, 0), 0);
	pk_rcu_quiescent(f->rcu, 0);
	pk_rcu_reclaim(f->rcu);
	assert_int_equal(pk_rcu_pending(f->rcu), 0);

	v0 = pk_groups_view(f->g);
	sales = pk_groups_find_number(v0, S("*801"));
	assert_int_equal(pk_groups_group_set_name(f->g, S("*801"), S("Inside sales")), 0);
	assert_int_equal(pk_groups_member_remove(f->g, S("*801"), S("bob"), S("")), 0);
	assert_int_equal(pk_rcu_pending(f->rcu), 2);
	assert_int_equal(pk_rcu_reclaim(f->rcu), 0);
	/* still readable: we have not been quiescent (ASan would flag a free) */
	assert_true(pk_str_eq(sales->name, S("Sales")));
	assert_int_equal(sales->n_members, 3);
	assert_non_null(pk_groups_find_user(v0, S("bob"), S("")));

	pk_rcu_quiescent(f->rcu, 0);
	assert_int_equal(pk_rcu_reclaim(f->rcu), 2);
	assert_int_equal(pk_rcu_pending(f->rcu), 0);
	sales = pk_groups_find_number(pk_groups_view(f->g), S("*801"));
	assert_true(pk_str_eq(sales->name, S("Inside sales")));
	pk_rcu_reader_unregister(f->rcu, 0);
}

/* ---- reload ---- */

static void test_reload(void **state)
{
	static const char next_text[] = "settings:\n"
					"  domains: [Other.test, example.test]\n"
					"  pickup_code: \"#8\"\n"
					"  ring_timeout: 30\n"
					"groups:\n"
					"  - number: \"*805\"\n"
					"    members: [erin@example.test]\n"
					"  - number: \"*801\"\n"
					"    name: Sales (new)\n"
					"    members: [alice@example.test, carol]\n";
	struct fixture *f = *state;
	const struct pk_groups_view *v0, *v1;
	uint32_t sales_id, support_id, alice_id, carol_id, dave_id;
	struct pk_groups_conf *c;
	const struct pk_group *gr;
	const struct pk_group_user *u;
	struct pk_groups_stats st;

	assert_int_equal(pk_rcu_reader_register(f->rcu, 0), 0);
	pk_rcu_reclaim(f->rcu); /* what setup left: no reader held it */
	assert_int_equal(pk_rcu_pending(f->rcu), 0);
	v0 = pk_groups_view(f->g);
	sales_id = pk_groups_find_number(v0, S("*801"))->id;
	support_id = pk_groups_find_number(v0, S("#4321"))->id;
	alice_id = pk_groups_find_user(v0, S("alice"), S(""))->id;
	carol_id = pk_groups_find_user(v0, S("carol"), S("other.test"))->id;
	dave_id = pk_groups_find_user(v0, S("dave"), S(""))->id;

	load(f->g, next_text);
	v1 = pk_groups_view(f->g);
	/* old view intact for whoever holds it */
	assert_non_null(pk_groups_find_number(v0, S("#4321")));
	assert_string_equal(pk_groups_view_settings(v0)->pickup_code, "*8");
	/* new content and settings */
	assert_string_equal(pk_groups_view_settings(v1)->pickup_code, "#8");
	assert_int_equal(pk_groups_view_settings(v1)->ring_timeout, 30);
	assert_null(pk_groups_find_number(v1, S("#4321")));
	assert_null(pk_groups_find_gid(v1, support_id));
	assert_null(pk_groups_find_user(v1, S("dave"), S("example.test")));
	gr = pk_groups_find_number(v1, S("*801"));
	assert_int_equal(gr->id, sales_id); /* same number: same id */
	assert_true(pk_str_eq(gr->name, S("Sales (new)")));
	u = pk_groups_find_user(v1, S("alice"), S("example.test"));
	assert_int_equal(u->id, alice_id); /* same AoR: same id */
	assert_int_equal(u->domain, 1);	   /* domain order changed */
	assert_int_equal(u->n_groups, 1);
	/* carol is now in the default domain, other.test: same AoR as before */
	u = pk_groups_find_user(v1, S("carol"), S(""));
	assert_int_equal(u->id, carol_id);
	/* erin is new: a never-used id, not dave's */
	u = pk_groups_find_user(v1, S("erin"), S("example.test"));
	assert_non_null(u);
	assert_int_not_equal(u->id, dave_id);
	assert_int_not_equal(pk_groups_find_number(v1, S("*805"))->id, support_id);
	assert_int_equal(pk_groups_classify(v1, S("#8"), NULL), PK_DIAL_PICKUP_CODE);
	assert_int_equal(pk_groups_classify(v1, S("*8"), NULL), PK_DIAL_NONE);
	pk_groups_view_stats(v1, &st);
	assert_int_equal(st.n_groups, 2);
	assert_int_equal(st.n_users, 3);
	assert_int_equal(st.n_memberships, 3);
	assert_true(st.bytes > 0);

	/* the whole old view goes in one deferred free, after quiescence */
	assert_int_equal(pk_rcu_pending(f->rcu), 1);
	assert_int_equal(pk_rcu_reclaim(f->rcu), 0);
	pk_rcu_quiescent(f->rcu, 0);
	assert_int_equal(pk_rcu_reclaim(f->rcu), 1);

	/* too big for the capacity: refused, nothing changes */
	{
		char *big = malloc(1 << 16);
		size_t len = (size_t)sprintf(big, "settings:\n  domains: [example.test]\ngroups:\n");

		for (int i = 0; i < 65; i++)
			len += (size_t)sprintf(big + len, "  - number: %d\n", 100 + i);
		c = parse(big);
		free(big);
		assert_int_equal(pk_groups_replace(f->g, c), -ENOSPC);
		pk_groups_conf_free(c);
		assert_ptr_equal(pk_groups_view(f->g), v1);
	}
	pk_rcu_reader_unregister(f->rcu, 0);
}

/* A reload at full capacity that swaps every group still fits: ids of
 * dropped groups are reused when no other id is left. */
static void test_reload_full_capacity(void **state)
{
	struct pk_groups_params p = { 2, 4 };
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_groups *g = pk_groups_create(rcu, &p);
	const struct pk_groups_view *v;

	(void)state;
	load(g, "settings: {domains: [e.test]}\ngroups:\n - {number: 1, members: [a, b]}\n"
		" - {number: 2, members: [c, d]}\n");
	load(g, "settings: {domains: [e.test]}\ngroups:\n - {number: 3, members: [w, x]}\n"
		" - {number: 4, members: [y, z]}\n");
	v = pk_groups_view(g);
	assert_non_null(pk_groups_find_number(v, S("3")));
	assert_non_null(pk_groups_find_number(v, S("4")));
	assert_null(pk_groups_find_number(v, S("1")));
	assert_non_null(pk_groups_find_user(v, S("z"), S("")));
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
}

/* A user in several groups, reloaded with groups kept in another file
 * order and a new one first: the kept groups keep their ids, so the
 * user's memberships in file order are no longer by ascending id. The
 * list readers get must be sorted again (pk_group_user_rights searches
 * it by halves): each membership keeps its own rights, and a group the
 * user left gives none. */
static void test_reload_memberships_reordered(void **state)
{
	struct pk_groups_params p = { 8, 8 };
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_groups *g = pk_groups_create(rcu, &p);
	const struct pk_groups_view *v;
	const struct pk_group_user *u;
	uint32_t id1, id2, id3, id4;

	(void)state;
	load(g, "settings: {domains: [e.test]}\ngroups:\n"
		" - {number: 1, members: [{user: alice, rights: [ring]}, bob]}\n"
		" - {number: 2, members: [{user: alice, rights: [pickup]}]}\n"
		" - {number: 3, members: [alice]}\n");
	v = pk_groups_view(g);
	id1 = pk_groups_find_number(v, S("1"))->id;
	id2 = pk_groups_find_number(v, S("2"))->id;
	id3 = pk_groups_find_number(v, S("3"))->id;
	assert_true(id1 < id2 && id2 < id3);

	load(g, "settings: {domains: [e.test]}\ngroups:\n"
		" - {number: 4, members: [{user: alice, rights: [ring]}]}\n"
		" - {number: 3, members: [{user: alice, rights: [pickup]}]}\n"
		" - {number: 1, members: [alice, bob]}\n");
	v = pk_groups_view(g);
	assert_int_equal(pk_groups_find_number(v, S("3"))->id, id3);
	assert_int_equal(pk_groups_find_number(v, S("1"))->id, id1);
	assert_null(pk_groups_find_number(v, S("2")));
	id4 = pk_groups_find_number(v, S("4"))->id;
	assert_true(id4 > id3); /* a never-used id: file order is 4, 3, 1 */

	u = pk_groups_find_user(v, S("alice"), S("e.test"));
	assert_non_null(u);
	assert_int_equal(u->n_groups, 3);
	for (uint32_t k = 1; k < u->n_groups; k++)
		assert_true(u->groups[k - 1].id < u->groups[k].id);
	assert_int_equal(pk_group_user_rights(u, id4), PK_RIGHT_RING);
	assert_int_equal(pk_group_user_rights(u, id3), PK_RIGHT_PICKUP);
	assert_int_equal(pk_group_user_rights(u, id1), PK_RIGHTS_ALL);
	assert_int_equal(pk_group_user_rights(u, id2), 0);
	/* the same seen from each group's member list */
	assert_int_equal(member_rights(v, pk_groups_find_gid(v, id4), "alice", "e.test"), PK_RIGHT_RING);
	assert_int_equal(member_rights(v, pk_groups_find_gid(v, id3), "alice", "e.test"), PK_RIGHT_PICKUP);
	assert_int_equal(member_rights(v, pk_groups_find_gid(v, id1), "alice", "e.test"), PK_RIGHTS_ALL);
	assert_int_equal(member_rights(v, pk_groups_find_gid(v, id1), "bob", "e.test"), PK_RIGHTS_ALL);
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
}

/* Ids: dense, never-used ones first, then freed ones oldest first. */
static void test_id_policy(void **state)
{
	struct pk_groups_params p = { 4, 8 };
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_groups *g = pk_groups_create(rcu, &p);
	uint32_t id[6];

	(void)state;
	assert_null(pk_groups_create(rcu, &(struct pk_groups_params){ 0, 8 }));
	assert_null(pk_groups_create(rcu, &(struct pk_groups_params){ PK_GROUPS_ID_LIMIT + 1, 8 }));
	load(g, "settings: {domains: [e.test]}\n");
	assert_int_equal(pk_groups_group_add(g, S("1"), S(""), NULL, 0, &id[0]), 0);
	assert_int_equal(pk_groups_group_add(g, S("2"), S(""), NULL, 0, &id[1]), 0);
	assert_int_equal(id[0], 0);
	assert_int_equal(id[1], 1);
	assert_int_equal(pk_groups_group_remove(g, S("1")), 0);
	/* id 0 is free, but never-used ids come first */
	assert_int_equal(pk_groups_group_add(g, S("3"), S(""), NULL, 0, &id[2]), 0);
	assert_int_equal(id[2], 2);
	assert_int_equal(pk_groups_group_add(g, S("4"), S(""), NULL, 0, &id[3]), 0);
	assert_int_equal(id[3], 3);
	assert_int_equal(pk_groups_group_remove(g, S("3")), 0);
	/* all used once: oldest freed first (0, then 2) */
	assert_int_equal(pk_groups_group_add(g, S("5"), S(""), NULL, 0, &id[4]), 0);
	assert_int_equal(id[4], 0);
	assert_int_equal(pk_groups_group_add(g, S("6"), S(""), NULL, 0, &id[5]), 0);
	assert_int_equal(id[5], 2);
	assert_int_equal(pk_groups_group_add(g, S("7"), S(""), NULL, 0, NULL), -ENOSPC);
	/* a failed change gives its id back */
	assert_int_equal(pk_groups_group_remove(g, S("6")), 0);
	assert_int_equal(pk_groups_group_add(g, S("7"), S(""),
					     &(struct pk_group_member_spec){ S("a b"), S(""), 1 }, 1,
					     NULL),
			 -EINVAL);
	assert_int_equal(pk_groups_group_add(g, S("8"), S(""), NULL, 0, &id[0]), 0);
	assert_int_equal(id[0], 2);
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
}

/* Single changes past capacity.users: refused with -ENOSPC, nothing
 * changes, and the user ids a refused change took are given back - a
 * refused change must not eat the capacity. A user already known needs
 * no new id, so it can still join groups when the index is full. */
static void test_users_full(void **state)
{
	struct pk_groups_params p = { 8, 4 };
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_groups *g = pk_groups_create(rcu, &p);
	const struct pk_group_member_spec five[] = {
		{ S("a"), S(""), PK_RIGHTS_ALL }, { S("b"), S(""), PK_RIGHTS_ALL },
		{ S("c"), S(""), PK_RIGHTS_ALL }, { S("d"), S(""), PK_RIGHTS_ALL },
		{ S("e"), S(""), PK_RIGHTS_ALL },
	};
	struct pk_groups_stats st;
	uint64_t version;

	(void)state;
	load(g, "settings: {domains: [e.test]}\ngroups:\n - {number: 1, members: [x]}\n");
	pk_groups_view_stats(pk_groups_view(g), &st);
	version = st.version;
	/* x plus five new users: one too many; the group is not added and
	 * the three ids the change could take come back */
	for (int round = 0; round < 3; round++)
		assert_int_equal(pk_groups_group_add(g, S("2"), S(""), five, 5, NULL), -ENOSPC);
	pk_groups_view_stats(pk_groups_view(g), &st);
	assert_int_equal(st.version, version);
	assert_int_equal(st.n_groups, 1);
	assert_int_equal(st.n_users, 1);
	assert_null(pk_groups_find_number(pk_groups_view(g), S("2")));
	assert_null(pk_groups_find_user(pk_groups_view(g), S("a"), S("")));
	/* exactly the capacity fits */
	assert_int_equal(pk_groups_group_add(g, S("2"), S(""), five, 3, NULL), 0);
	pk_groups_view_stats(pk_groups_view(g), &st);
	assert_int_equal(st.n_users, 4);

	/* full: a new user is refused, the group keeps its members */
	assert_int_equal(pk_groups_member_add(g, S("1"), S("e"), S(""), PK_RIGHTS_ALL), -ENOSPC);
	assert_int_equal(pk_groups_find_number(pk_groups_view(g), S("1"))->n_members, 1);
	assert_null(pk_groups_find_user(pk_groups_view(g), S("e"), S("")));
	/* a known user joins another group without a new id */
	assert_int_equal(pk_groups_member_add(g, S("1"), S("a"), S(""), PK_RIGHT_PICKUP), 0);
	assert_int_equal(pk_groups_find_number(pk_groups_view(g), S("1"))->n_members, 2);
	/* a user leaving its last group frees its id for the next one */
	assert_int_equal(pk_groups_member_remove(g, S("2"), S("b"), S("")), 0);
	assert_int_equal(pk_groups_member_add(g, S("1"), S("e"), S(""), PK_RIGHTS_ALL), 0);
	assert_non_null(pk_groups_find_user(pk_groups_view(g), S("e"), S("")));
	pk_groups_view_stats(pk_groups_view(g), &st);
	assert_int_equal(st.n_users, 4);
	assert_int_equal(st.n_memberships, 5);
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
}

/* ---- concurrency ---- */

struct stress {
	struct pk_rcu *rcu;
	struct pk_groups *g;
	atomic_int stop;
	sem_t ready;
};

struct stress_reader {
	struct stress *s;
	unsigned tid;
	unsigned long iterations, failures;
	pthread_t th;
};

/* Cross-object invariants a reader must find in every view. */
static unsigned long check_view(const struct pk_groups_view *v)
{
	static const char *const numbers[] = { "*901", "*902", "*950", "*800" };
	const struct pk_group_user *alice;
	unsigned long bad = 0;
	int n90x = 0;

	for (size_t k = 0; k < PK_ARRAY_SIZE(numbers); k++) {
		const struct pk_group *gr =
			pk_groups_find_number(v, pk_str_make(numbers[k], strlen(numbers[k])));

		if (gr == NULL)
			continue;
		n90x += k < 2;
		if (pk_groups_find_gid(v, gr->id) != gr)
			bad++;
		if (k == 2 && gr->n_members != 5) /* a group appears whole */
			bad++;
		for (uint32_t i = 0; i < gr->n_members; i++) {
			const struct pk_group_user *u = pk_groups_find_uid(v, gr->members[i].id);

			if (u == NULL || pk_group_user_rights(u, gr->id) != gr->members[i].rights)
				bad++;
		}
	}
	if (n90x != 1) /* renumbering: exactly one of the two numbers */
		bad++;
	alice = pk_groups_find_user(v, S("alice"), S(""));
	if (alice == NULL)
		return bad + 1;
	for (uint32_t i = 0; i < alice->n_groups; i++) {
		const struct pk_group *gr = pk_groups_find_gid(v, alice->groups[i].id);
		uint32_t r = 0;

		if (gr == NULL) {
			bad++;
			continue;
		}
		for (uint32_t k = 0; k < gr->n_members; k++)
			if (gr->members[k].id == alice->id)
				r = gr->members[k].rights;
		if (r != alice->groups[i].rights)
			bad++;
	}
	return bad;
}

static void *stress_reader_main(void *arg)
{
	struct stress_reader *r = arg;

	pk_rcu_reader_register(r->s->rcu, r->tid);
	sem_post(&r->s->ready);
	/* Relaxed: a plain stop flag; no data is handed over through it. */
	while (!atomic_load_explicit(&r->s->stop, memory_order_relaxed)) {
		r->failures += check_view(pk_groups_view(r->s->g));
		r->iterations++;
		pk_rcu_quiescent(r->s->rcu, r->tid);
	}
	pk_rcu_reader_unregister(r->s->rcu, r->tid);
	return NULL;
}

static void test_readers_during_changes(void **state)
{
	static const char text[] = "settings:\n  domains: [example.test]\ngroups:\n"
				   "  - number: \"*901\"\n    members: [alice, bob]\n"
				   "  - number: \"*800\"\n    members: [alice, carol]\n";
	struct pk_group_member_spec five[5] = {
		{ S("alice"), S(""), PK_RIGHT_RING },	{ S("u1"), S(""), PK_RIGHTS_ALL },
		{ S("u2"), S(""), PK_RIGHT_PICKUP },	{ S("u3"), S(""), PK_RIGHTS_ALL },
		{ S("bob"), S(""), PK_RIGHTS_ALL },
	};
	struct pk_groups_params p = { 1024, 1024 };
	struct stress s = { 0 };
	struct stress_reader rd[2];
	const char *cur = "*901", *other = "*902";
	bool has950 = false;
	unsigned long total = 0;

	(void)state;
	s.rcu = pk_rcu_create(2);
	s.g = pk_groups_create(s.rcu, &p);
	load(s.g, text);
	sem_init(&s.ready, 0, 0);
	for (unsigned i = 0; i < 2; i++) {
		rd[i] = (struct stress_reader){ .s = &s, .tid = i };
		assert_int_equal(pthread_create(&rd[i].th, NULL, stress_reader_main, &rd[i]), 0);
	}
	sem_wait(&s.ready);
	sem_wait(&s.ready);
	for (int i = 0; i < 3000; i++) {
		const char *t;

		assert_int_equal(pk_groups_group_renumber(s.g, pk_str_make(cur, 4), pk_str_make(other, 4)), 0);
		t = cur, cur = other, other = t;
		if (has950)
			assert_int_equal(pk_groups_group_remove(s.g, S("*950")), 0);
		else
			assert_int_equal(pk_groups_group_add(s.g, S("*950"), S("five"), five, 5, NULL), 0);
		has950 = !has950;
		assert_int_equal(pk_groups_member_set_rights(s.g, pk_str_make(cur, 4), S("alice"), S(""),
							     i % 2 ? PK_RIGHT_RING : PK_RIGHTS_ALL), 0);
		assert_int_equal(pk_groups_member_add(s.g, S("*800"), S("x"), S(""), PK_RIGHT_PICKUP), 0);
		assert_int_equal(pk_groups_member_remove(s.g, S("*800"), S("x"), S("")), 0);
		if (i % 500 == 499) {
			load(s.g, text);
			cur = "*901", other = "*902";
			has950 = false;
		}
		pk_rcu_reclaim(s.rcu);
	}
	/* Relaxed: see the reader loop. */
	atomic_store_explicit(&s.stop, 1, memory_order_relaxed);
	for (unsigned i = 0; i < 2; i++) {
		pthread_join(rd[i].th, NULL);
		assert_int_equal(rd[i].failures, 0);
		total += rd[i].iterations;
	}
	assert_true(total > 0);
	pk_groups_destroy(s.g);
	pk_rcu_destroy(s.rcu);
	sem_destroy(&s.ready);
}

/* ---- helpers ---- */

static void test_syntax_helpers(void **state)
{
	char buf[PK_GROUPS_USER_MAX];
	struct pk_str u, d;
	struct pk_groups_settings s;

	(void)state;
	assert_true(pk_groups_number_valid(S("*801")));
	assert_true(pk_groups_number_valid(S("#12345678")));
	assert_true(pk_groups_number_valid(S("123456789")));
	assert_false(pk_groups_number_valid(S("1234567890")));
	assert_false(pk_groups_number_valid(S("*123456789")));
	assert_false(pk_groups_number_valid(S("*0")));
	assert_false(pk_groups_number_valid(S("**1")));
	assert_false(pk_groups_number_valid(S("*")));
	assert_false(pk_groups_number_valid(S("12a")));

	assert_int_equal(pk_groups_user_normalize(S("%61l%69ce"), buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "alice", 5);
	assert_int_equal(pk_groups_user_normalize(S("a%3bb"), buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "a%3Bb", 5);
	assert_int_equal(pk_groups_user_normalize(S("a%20b"), buf, sizeof(buf)), 5);
	assert_int_equal(pk_groups_user_normalize(S("a b"), buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pk_groups_user_normalize(S("a%zz"), buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pk_groups_user_normalize(S("abcdef"), buf, 3), -ENAMETOOLONG);

	assert_int_equal(pk_groups_aor_split(S("sip:bob@x.test"), &u, &d), 0);
	assert_true(pk_str_eq(u, S("bob")) && pk_str_eq(d, S("x.test")));
	assert_int_equal(pk_groups_aor_split(S("bob"), &u, &d), 0);
	assert_int_equal(d.len, 0);
	assert_int_equal(pk_groups_aor_split(S("@x.test"), &u, &d), -EINVAL);
	/* a sips: AoR, the scheme in any case, is the same user */
	assert_int_equal(pk_groups_aor_split(S("SIPS:Bob@x.test"), &u, &d), 0);
	assert_true(pk_str_eq(u, S("Bob")) && pk_str_eq(d, S("x.test")));
	assert_int_equal(pk_groups_aor_split(S("sips:bob"), &u, &d), 0);
	assert_true(pk_str_eq(u, S("bob")) && d.len == 0);
	assert_int_equal(pk_groups_aor_split(S("sips:@x.test"), &u, &d), -EINVAL);
	assert_int_equal(pk_groups_aor_split(S("sips:bob@"), &u, &d), -EINVAL);

	pk_groups_settings_init(&s);
	assert_int_equal(pk_groups_settings_check(&s, NULL), -EINVAL); /* no domain */
	assert_int_equal(pk_groups_settings_add_domain(&s, S("Example.TEST")), 0);
	assert_int_equal(pk_groups_settings_add_domain(&s, S("example.test")), -EEXIST);
	assert_int_equal(pk_groups_settings_add_domain(&s, S("-bad.test")), -EINVAL);
	assert_int_equal(pk_groups_settings_add_domain(&s, S("[2001:db8::1]")), 0);
	assert_int_equal(pk_groups_settings_add_domain(&s, S("192.0.2.1")), 0);
	assert_int_equal(pk_groups_settings_find_domain(&s, S("EXAMPLE.test")), 0);
	assert_int_equal(pk_groups_settings_check(&s, NULL), 0);
	assert_int_equal(pk_groups_settings_set_pickup_code(&s, S("*8x")), -EINVAL);
	assert_int_equal(pk_groups_settings_set_directed_prefix(&s, S("*")), 0);
	assert_int_equal(pk_groups_settings_check(&s, NULL), -EINVAL); /* "*" prefixes "*8" */
	assert_int_equal(pk_groups_number_check(&s, S("*801")), PK_GROUPS_NUMBER_PREFIX);
	assert_int_equal(pk_groups_number_check(&s, S("801")), PK_GROUPS_NUMBER_OK);
	assert_string_equal(pk_groups_number_strerror(PK_GROUPS_NUMBER_PICKUP_CODE), "is the pickup code");
}

/* An index crossing params.flat_max, both ways, by single changes and by a
 * reload: every lookup answers the same, in the flat table (at most 2
 * groups here) or in the tree (3 or more); the table's bytes count in the
 * stats (groups_bytes on the control socket) while there is one: against
 * an index that never has one (flat_max 1, 2 groups or more). */
static void test_flat_threshold(void **state)
{
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct pk_groups_params p = { 16, 16, 2 }, p1 = { 16, 16, 1 };
	struct pk_groups *g = pk_groups_create(rcu, &p), *g1 = pk_groups_create(rcu, &p1);
	static const char *const nums[] = { "*801", "*802", "*803", "*804" };
	static const char empty[] = "settings:\n  domains: [example.test]\ngroups: []\n";
	struct pk_groups_stats st, st1;

	(void)state;
	assert_non_null(g);
	assert_non_null(g1);
	pk_groups_params_get(g, &p);
	assert_int_equal(p.flat_max, 2);
	load(g, empty);
	load(g1, empty);
	for (unsigned n = 1; n <= 4; n++) {
		assert_int_equal(pk_groups_group_add(g, pk_str_make(nums[n - 1], 4), S(""), NULL, 0, NULL), 0);
		assert_int_equal(pk_groups_group_add(g1, pk_str_make(nums[n - 1], 4), S(""), NULL, 0, NULL), 0);
		const struct pk_groups_view *v = pk_groups_view(g);
		for (unsigned k = 0; k < 4; k++)
			assert_true((pk_groups_find_number(v, pk_str_make(nums[k], 4)) != NULL) == (k < n));
		assert_null(pk_groups_find_number(v, S("*805")));
		pk_groups_view_stats(v, &st);
		pk_groups_view_stats(pk_groups_view(g1), &st1);
		if (n == 2)
			assert_true(st.bytes > st1.bytes);
		if (n > 2)
			assert_int_equal(st.bytes, st1.bytes);
	}
	for (unsigned n = 4; n-- > 0;) {
		assert_int_equal(pk_groups_group_remove(g, pk_str_make(nums[n], 4)), 0);
		const struct pk_groups_view *v = pk_groups_view(g);
		for (unsigned k = 0; k < 4; k++)
			assert_true((pk_groups_find_number(v, pk_str_make(nums[k], 4)) != NULL) == (k < n));
	}
	/* users, by a reload: 3 (tree), then 1 (table) */
	load(g, "settings:\n  domains: [example.test]\ngroups:\n"
		"  - number: \"*801\"\n    members: [alice, bob, carol]\n");
	const struct pk_groups_view *v = pk_groups_view(g);
	assert_non_null(pk_groups_find_user(v, S("carol"), S("example.test")));
	assert_null(pk_groups_find_user(v, S("dave"), S("example.test")));
	load(g, "settings:\n  domains: [example.test]\ngroups:\n  - number: \"*801\"\n    members: [dave]\n");
	v = pk_groups_view(g);
	assert_null(pk_groups_find_user(v, S("carol"), S("example.test")));
	assert_non_null(pk_groups_find_user(v, S("dave"), S("example.test")));
	pk_groups_destroy(g);
	pk_groups_destroy(g1);
	pk_rcu_destroy(rcu);
}

/*
 * Indexes large enough that many hash segments of the trees hold several
 * objects (4,000 groups and 8,000 users in 65,536 segments: hundreds of
 * shared ones), looked up in the trees (flat_max 1) and in the flat tables
 * (the default), from the same file: every group and user is found, the
 * same in both, at each place of a shared segment; numbers and users that
 * do not exist are found in neither, also where they fall in a segment
 * that holds others.
 */
static void test_tree_and_flat_large(void **state)
{
	enum { NG = 4000, NU = 2 * NG };
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_groups_params pt = { NG, NU, 1 }, pf = { NG, NU, 0 };
	struct pk_groups *gt = pk_groups_create(rcu, &pt), *gf = pk_groups_create(rcu, &pf);
	size_t cap = (size_t)NG * 96 + 128, n = 0;
	char *text = malloc(cap), key[16], nkey[16];
	const struct pk_groups_view *vt, *vf;
	uint32_t gid;
	struct pk_groups_stats st, sf;

	(void)state;
	assert_non_null(gt);
	assert_non_null(gf);
	assert_non_null(text);
	/* group k: users 2k, 2k+1 and 2k+2, so an even user is in two groups */
	n += (size_t)snprintf(text + n, cap - n, "settings: {domains: [e.test]}\ngroups:\n");
	for (unsigned k = 0; k < NG; k++)
		n += (size_t)snprintf(text + n, cap - n, " - {number: %u, members: [u%u, u%u, u%u]}\n", 10000 + k,
				      2 * k, 2 * k + 1, (2 * k + 2) % NU);
	assert_true(n < cap);
	load(gt, text);
	load(gf, text);
	free(text);
	vt = pk_groups_view(gt);
	vf = pk_groups_view(gf);
	pk_groups_view_stats(vt, &st);
	pk_groups_view_stats(vf, &sf);
	assert_int_equal(st.n_groups, NG);
	assert_int_equal(st.n_users, NU);
	assert_true(sf.bytes > st.bytes); /* only gf has the flat tables */
	for (unsigned k = 0; k < NG; k++) {
		struct pk_str num = pk_str_make(key, (size_t)snprintf(key, sizeof(key), "%u", 10000 + k));
		const struct pk_group *a = pk_groups_find_number(vt, num), *b = pk_groups_find_number(vf, num);

		assert_non_null(a);
		assert_non_null(b);
		assert_true(pk_str_eq(a->number, num));
		assert_int_equal(a->id, b->id);
		assert_int_equal(a->n_members, 3);
		assert_ptr_equal(pk_groups_find_gid(vt, a->id), a);
		num = pk_str_make(key, (size_t)snprintf(key, sizeof(key), "%u", 10000 + NG + k));
		assert_null(pk_groups_find_number(vt, num));
		assert_null(pk_groups_find_number(vf, num));
	}
	for (unsigned i = 0; i < NU; i++) {
		struct pk_str usr = pk_str_make(key, (size_t)snprintf(key, sizeof(key), "u%u", i));
		const struct pk_group_user *a = pk_groups_find_user(vt, usr, S("e.test"));
		const struct pk_group_user *b = pk_groups_find_user(vf, usr, S("E.Test"));

		assert_non_null(a);
		assert_non_null(b);
		assert_true(pk_str_eq(a->user, usr));
		assert_int_equal(a->id, b->id);
		assert_int_equal(a->n_groups, i % 2 ? 1 : 2);
		assert_ptr_equal(pk_groups_find_uid(vt, a->id), a);
		gid = pk_groups_find_number(vt, pk_str_make(nkey, (size_t)snprintf(nkey, sizeof(nkey), "%u",
										  10000 + i / 2)))->id;
		assert_int_equal(pk_group_user_rights(a, gid), PK_RIGHTS_ALL);
		usr = pk_str_make(key, (size_t)snprintf(key, sizeof(key), "u%u", NU + i));
		assert_null(pk_groups_find_user(vt, usr, S("e.test")));
		assert_null(pk_groups_find_user(vf, usr, S("e.test")));
	}
	pk_groups_destroy(gt);
	pk_groups_destroy(gf);
	pk_rcu_destroy(rcu);
}

/* Random single changes (groups added, removed, renumbered; members added
 * and removed), each checked against a model of what must be found: with
 * the default flat_max (each change patches a copy of the flat tables) and
 * with flat_max 20 (the indexes cross it both ways: tables built, patched,
 * dropped, built again). */
static void flat_random_run(uint32_t flat_max, uint64_t seed)
{
	enum { NG = 32, NU = 64, OPS = 4000 };
	struct pk_rcu *rcu = pk_rcu_create(2);
	struct pk_groups_params p = { 64, 128, flat_max };
	struct pk_groups *g = pk_groups_create(rcu, &p);
	bool exists[NG] = { false }, member[NG][NU] = { { false } };
	char num[NG][8], usr[NU][8];
	uint64_t x = seed;

	assert_non_null(g);
	load(g, "settings:\n  domains: [example.test]\ngroups: []\n");
	for (unsigned i = 0; i < NG; i++)
		snprintf(num[i], sizeof(num[i]), "*8%03u", i);
	for (unsigned i = 0; i < NU; i++)
		snprintf(usr[i], sizeof(usr[i]), "u%u", i);
	for (unsigned op = 0; op < OPS; op++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned gi = (unsigned)(x >> 8) % NG, ui = (unsigned)(x >> 20) % NU, kind = (unsigned)(x >> 40) % 8;
		struct pk_str n = pk_str_make(num[gi], strlen(num[gi]));
		struct pk_str u = pk_str_make(usr[ui], strlen(usr[ui]));

		if (kind == 0 && !exists[gi]) {
			assert_int_equal(pk_groups_group_add(g, n, S(""), NULL, 0, NULL), 0);
			exists[gi] = true;
		} else if (kind == 1 && exists[gi]) {
			assert_int_equal(pk_groups_group_remove(g, n), 0);
			exists[gi] = false;
			memset(member[gi], 0, sizeof(member[gi]));
		} else if (kind == 2 && exists[gi]) {
			unsigned to = (gi + 1 + (unsigned)(x >> 48) % (NG - 1)) % NG;
			if (!exists[to]) {
				assert_int_equal(pk_groups_group_renumber(g, n, pk_str_make(num[to], strlen(num[to]))), 0);
				exists[gi] = false;
				exists[to] = true;
				memcpy(member[to], member[gi], sizeof(member[gi]));
				memset(member[gi], 0, sizeof(member[gi]));
			}
		} else if (kind < 6 && exists[gi] && !member[gi][ui]) {
			assert_int_equal(pk_groups_member_add(g, n, u, S("example.test"), PK_RIGHTS_ALL), 0);
			member[gi][ui] = true;
		} else if (kind >= 6 && member[gi][ui]) {
			assert_int_equal(pk_groups_member_remove(g, n, u, S("example.test")), 0);
			member[gi][ui] = false;
		}
		const struct pk_groups_view *v = pk_groups_view(g);
		for (unsigned i = 0; i < NG; i++)
			assert_true((pk_groups_find_number(v, pk_str_make(num[i], strlen(num[i]))) != NULL) == exists[i]);
		for (unsigned j = 0; j < NU; j++) {
			unsigned in = 0;
			for (unsigned i = 0; i < NG; i++)
				in += member[i][j];
			const struct pk_group_user *gu =
				pk_groups_find_user(v, pk_str_make(usr[j], strlen(usr[j])), S("example.test"));
			assert_int_equal(gu != NULL ? gu->n_groups : 0, in);
		}
		if (op % 64 == 0)
			pk_rcu_reclaim(rcu);
	}
	pk_groups_destroy(g);
	pk_rcu_destroy(rcu);
}

static void test_flat_random(void **state)
{
	(void)state;
	flat_random_run(0, 0x9e3779b97f4a7c15ull);
	flat_random_run(20, 0x2545f4914f6cdd1dull);
}

/*
 * Numbers of 1 to 9 digits and user parts of 1 to 24 bytes (every tail
 * length of the index's hash: 1-3, 4-7 and whole words) are found, each
 * as itself, and a neighbour one byte off or one byte longer is not. User
 * parts made only of characters allowed raw are their own normal form;
 * every other byte is refused raw or normalised as before.
 */
static void test_key_lengths(void **state)
{
	struct fixture *f = *state;
	static char text[16384];
	size_t n = 0;
	const struct pk_groups_view *v;
	char num[16], usr[32], buf[64];

	n += (size_t)snprintf(text + n, sizeof(text) - n, "settings:\n  domains: [example.test]\ngroups:\n");
	for (unsigned d = 1; d <= 9; d++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  - number: \"%.*s\"\n    members:\n",
				      (int)d, "123456789");
		for (unsigned k = 0; k < 3; k++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "      - u%u-%.*s\n", d,
					      (int)(d * 3 - 2 + k - 1), "abcdefghijklmnopqrstuvwxyz");
	}
	load(f->g, text);
	v = pk_groups_view(f->g);
	for (unsigned d = 1; d <= 9; d++) {
		memcpy(num, "123456789", d);
		assert_non_null(pk_groups_find_number(v, pk_str_make(num, d)));
		num[d - 1] = 'x';
		assert_null(pk_groups_find_number(v, pk_str_make(num, d)));
		memcpy(num, "123456789", d);
		num[d] = '0'; /* "10", "120", ...: no such group */
		assert_null(pk_groups_find_number(v, pk_str_make(num, d + 1)));
		for (unsigned k = 0; k < 3; k++) {
			int len = snprintf(usr, sizeof(usr), "u%u-%.*s", d, (int)(d * 3 - 2 + k - 1),
					   "abcdefghijklmnopqrstuvwxyz");

			assert_non_null(pk_groups_find_user(v, pk_str_make(usr, (size_t)len), S("example.test")));
			/* any one byte written as an escape ("%61" for 'a'):
			 * the same user, wherever the '%' falls */
			for (int i = 0; i < len; i++) {
				char esc[40];
				int elen = snprintf(esc, sizeof(esc), "%.*s%%%02x%s", i, usr, (unsigned char)usr[i],
						    usr + i + 1);

				assert_true(elen == len + 2);
				assert_ptr_equal(pk_groups_find_user(v, pk_str_make(esc, (size_t)elen), S("example.test")),
						 pk_groups_find_user(v, pk_str_make(usr, (size_t)len), S("example.test")));
			}
			usr[len - 1] = '#';
			assert_null(pk_groups_find_user(v, pk_str_make(usr, (size_t)len), S("example.test")));
			usr[len - 1] = 'z';
			usr[len] = 'z';
			assert_null(pk_groups_find_user(v, pk_str_make(usr, (size_t)len + 1), S("example.test")));
		}
	}
	/* raw characters: the allowed ones pass unchanged, the rest are refused */
	for (unsigned c = 0; c < 256; c++) {
		static const char allowed[] = "-_.!~*'()&=+$,;?/";
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c != 0 && memchr(allowed, (int)c, sizeof(allowed) - 1) != NULL);
		char in[3] = { 'a', (char)c, 'b' };
		int r = pk_groups_user_normalize(pk_str_make(in, 3), buf, sizeof(buf));

		if (c == '%')
			continue;
		if (ok) {
			assert_int_equal(r, 3);
			assert_memory_equal(buf, in, 3);
		} else {
			assert_int_equal(r, -EINVAL);
		}
	}
	/* user parts of digits (their own normal form, checked a word at a
	 * time) at every length, and the same with one other byte at each
	 * place: allowed raw, refused raw, or an escape of a digit */
	for (unsigned len = 1; len <= 20; len++) {
		char in[24], esc[32];

		for (unsigned i = 0; i < len; i++)
			in[i] = (char)('0' + (i * 7 + len) % 10);
		assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), (int)len);
		assert_memory_equal(buf, in, len);
		assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, len - 1), -ENAMETOOLONG);
		for (unsigned pos = 0; pos < len; pos++) {
			char d = in[pos];

			in[pos] = '*';
			assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), (int)len);
			assert_memory_equal(buf, in, len);
			in[pos] = ' ';
			assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), -EINVAL);
			in[pos] = (char)(d | 0x80); /* a high nibble not 3 */
			assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), -EINVAL);
			in[pos] = ':'; /* '9' + 1: a high nibble of 3, not a digit */
			assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), -EINVAL);
			in[pos] = d;
			snprintf(esc, sizeof(esc), "%.*s%%3%c%.*s", (int)pos, in, d, (int)(len - pos - 1), in + pos + 1);
			assert_int_equal(pk_groups_user_normalize(pk_str_make(esc, len + 2), buf, sizeof(buf)), (int)len);
			assert_memory_equal(buf, in, len);
		}
	}
	/* user parts of letters and digits ("alice7": also checked a word at
	 * a time) at every length, with every byte at each place: passed
	 * unchanged if allowed raw, else refused ('%' starts an escape) */
	for (unsigned len = 1; len <= 20; len++) {
		static const char allowed[] = "-_.!~*'()&=+$,;?/";
		char in[24];

		for (unsigned i = 0; i < len; i++)
			in[i] = "aLiCe7Zz09Bo"[(i * 5 + len) % 12];
		assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf)), (int)len);
		assert_memory_equal(buf, in, len);
		assert_int_equal(pk_groups_user_normalize(pk_str_make(in, len), buf, len - 1), -ENAMETOOLONG);
		for (unsigned pos = 0; pos < len; pos++) {
			char d = in[pos];

			for (unsigned c = 0; c < 256; c++) {
				bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					  (c >= '0' && c <= '9') ||
					  (c != 0 && memchr(allowed, (int)c, sizeof(allowed) - 1) != NULL);
				int r;

				if (c == '%')
					continue;
				in[pos] = (char)c;
				r = pk_groups_user_normalize(pk_str_make(in, len), buf, sizeof(buf));
				if (ok) {
					assert_int_equal(r, (int)len);
					assert_memory_equal(buf, in, len);
				} else {
					assert_int_equal(r, -EINVAL);
				}
			}
			in[pos] = d;
		}
	}
	/* too long for the buffer, with or without escapes */
	assert_int_equal(pk_groups_user_normalize(S("abcd"), buf, 4), 4);
	assert_int_equal(pk_groups_user_normalize(S("abcde"), buf, 4), -ENAMETOOLONG);
	assert_int_equal(pk_groups_user_normalize(S("ab%63d"), buf, 4), 4);
	assert_memory_equal(buf, "abcd", 4);
}

/*
 * Served domains are found without regard to case at every length the
 * word-wise compare handles differently (1-3, 4-7, 8 and more bytes, up
 * to the longest name), and a name that differs from a served one in one
 * byte at any place, in its length, or by a character that only differs
 * in bit 0x20 without being a letter ('@' against '`', '[' against '{')
 * is not found.
 */
static void test_find_domain_lengths(void **state)
{
	static const char lab[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char name[PK_GROUPS_DOMAIN_MAX + 1], probe[PK_GROUPS_DOMAIN_MAX + 2];
	struct pk_groups_settings s;
	static const uint32_t lens[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 100, PK_GROUPS_DOMAIN_MAX };

	(void)state;
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		uint32_t len = lens[li];

		for (uint32_t i = 0; i < len; i++)
			name[i] = (i % 10 == 9 && i + 1 < len) ? '.' : lab[(i * 7 + len) % 26];
		pk_groups_settings_init(&s);
		assert_int_equal(pk_groups_settings_add_domain(&s, S("other.test")), 0);
		assert_int_equal(pk_groups_settings_add_domain(&s, pk_str_make(name, len)), 0);
		memcpy(probe, name, len);
		assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len)), 1);
		/* every letter upper case, then one at a time */
		for (uint32_t i = 0; i < len; i++)
			probe[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
		assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len)), 1);
		for (uint32_t i = 0; i < len; i++) {
			memcpy(probe, name, len);
			if (name[i] >= 'a' && name[i] <= 'z') {
				probe[i] = (char)(name[i] - 32);
				assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len)), 1);
			}
			/* another character at i: not found */
			probe[i] = name[i] == 'q' ? 'r' : 'q';
			assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len)), -1);
			probe[i] = '@'; /* 0x40 | 0x20 is '`', not a letter */
			assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len)), -1);
		}
		/* one byte shorter or longer: not found */
		memcpy(probe, name, len);
		probe[len] = 'a';
		assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len + 1)), -1);
		if (len > 1)
			assert_int_equal(pk_groups_settings_find_domain(&s, pk_str_make(probe, len - 1)), -1);
	}
	/* '[' and '{' differ only in 0x20 (and are not letters) */
	pk_groups_settings_init(&s);
	assert_int_equal(pk_groups_settings_add_domain(&s, S("[2001:db8::1]")), 0);
	assert_int_equal(pk_groups_settings_find_domain(&s, S("[2001:DB8::1]")), 0);
	assert_int_equal(pk_groups_settings_find_domain(&s, S("{2001:db8::1]")), -1);
	assert_int_equal(pk_groups_settings_find_domain(&s, S("[2001:db8::1}")), -1);
	assert_int_equal(pk_groups_settings_find_domain(&s, S("{")), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classify_unescaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classify_first_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_after_quiescence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test(test_reload_full_capacity),
		cmocka_unit_test(test_reload_memberships_reordered),
		cmocka_unit_test(test_id_policy),
		cmocka_unit_test(test_users_full),
		cmocka_unit_test(test_readers_during_changes),
		cmocka_unit_test(test_find_domain_lengths),
		cmocka_unit_test_setup_teardown(test_key_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookups, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_classify, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_single_changes, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup_tree, teardown),
		cmocka_unit_test_setup_teardown(test_key_lengths, setup_tree, teardown),
		cmocka_unit_test(test_flat_threshold),
		cmocka_unit_test(test_tree_and_flat_large),
		cmocka_unit_test(test_flat_random),
		cmocka_unit_test(test_syntax_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
