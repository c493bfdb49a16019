/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the groups-file loader (control/groups_conf.c): every file
 * of tests/corpus/groups/bad is refused with the message its header
 * announces (file:line and reason), the good files load to the content an
 * operator wrote (defaults, quoting of numbers, users in several groups,
 * rights, AoR spellings), and a generated file folds members into users
 * consistently.
 *
 * Usage: test_groups_conf CORPUS_DIR   (tests/corpus/groups)
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pickup/groups_conf.h"

static const char *corpus;

static char *path_of(const char *sub, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s/%s", corpus, sub, name);
	return buf;
}

static struct pk_groups_conf *load_good(const char *name)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *c = pk_groups_conf_load(path_of("good", name), &err);

	if (c == NULL)
		fail_msg("%s: %s", name, err.msg);
	return c;
}

static int find_group(const struct pk_groups_conf *c, const char *number)
{
	for (uint32_t i = 0; i < c->n_groups; i++)
		if (pk_str_eq(c->groups[i].number, pk_str_make(number, strlen(number))))
			return (int)i;
	return -1;
}

static int find_user(const struct pk_groups_conf *c, const char *user, uint32_t domain)
{
	for (uint32_t i = 0; i < c->n_users; i++)
		if (c->users[i].domain == domain &&
		    pk_str_eq(c->users[i].user, pk_str_make(user, strlen(user))))
			return (int)i;
	return -1;
}

/* Rights of user ui in group gi as the group's member list says, checked
 * against the user's own list (the two views of a membership agree). */
static uint32_t rights_of(const struct pk_groups_conf *c, int gi, int ui)
{
	uint32_t from_group = 0, from_user = 0;
	const struct pk_groups_conf_group *g = &c->groups[gi];
	const struct pk_groups_conf_user *u = &c->users[ui];

	for (uint32_t k = 0; k < g->n; k++)
		if (c->members[g->first + k].idx == (uint32_t)ui)
			from_group = c->members[g->first + k].rights;
	for (uint32_t k = 0; k < u->n; k++)
		if (c->user_groups[u->first + k].idx == (uint32_t)gi)
			from_user = c->user_groups[u->first + k].rights;
	assert_int_equal(from_group, from_user);
	return from_group;
}

/* ---- bad files ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_corpus(void **state)
{
	/* Every kind of error the loader must name has its file; a missing
	 * file fails here rather than silently shrinking the coverage. */
	static const char *const required[] = {
		"number_syntax.yaml", "number_leading_zero.yaml", "number_too_long.yaml",
		"number_unquoted_star.yaml", "number_unquoted_hash.yaml", "number_duplicate.yaml",
		"number_pickup_code.yaml", "number_prefix.yaml", "right_unknown.yaml",
		"rights_empty.yaml", "key_unknown_group.yaml", "key_unknown_settings.yaml",
		"key_unknown_top.yaml", "key_unknown_member.yaml", "key_duplicate.yaml",
		"member_twice.yaml", "domain_not_served.yaml", "domains_missing.yaml",
		"yaml_syntax.yaml", "yaml_indent.yaml", "two_documents.yaml",
	};
	char dir[4096], *names[256];
	unsigned n = 0, checked = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/bad", corpus);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < PK_ARRAY_SIZE(names)) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t r = 0; r < PK_ARRAY_SIZE(required); r++) {
		bool found = false;

		for (unsigned i = 0; i < n; i++)
			found |= strcmp(names[i], required[r]) == 0;
		if (!found)
			fail_msg("corpus file bad/%s is missing", required[r]);
	}
	for (unsigned i = 0; i < n; i++) {
		char *path = strdup(path_of("bad", names[i]));
		char want[600], where[4200], l1[600], l2[64];
		struct pk_groups_conf_error err;
		struct pk_groups_conf *c;
		unsigned line = 0;
		FILE *f = fopen(path, "r");

		assert_non_null(f);
		if (fgets(l1, sizeof(l1), f) == NULL || fgets(l2, sizeof(l2), f) == NULL ||
		    strncmp(l1, "# error: ", 9) != 0 || sscanf(l2, "# line: %u", &line) != 1)
			fail_msg("%s: header '# error:' / '# line:' missing", path);
		fclose(f);
		snprintf(want, sizeof(want), "%s", l1 + 9);
		want[strcspn(want, "\n")] = '\0';
		snprintf(where, sizeof(where), "%s:%u:", path, line);

		c = pk_groups_conf_load(path, &err);
		if (c != NULL)
			fail_msg("%s loaded, but must be refused", path);
		assert_int_equal(err.code, -EINVAL);
		assert_int_equal(err.line, line);
		if (strncmp(err.msg, where, strlen(where)) != 0 || strstr(err.msg, want) == NULL)
			fail_msg("%s:\n  want '%s' ... '%s'\n  got  '%s'", names[i], where, want, err.msg);
		free(path);
		free(names[i]);
		checked++;
	}
	assert_true(checked >= PK_ARRAY_SIZE(required));
}

static void test_missing_file(void **state)
{
	struct pk_groups_conf_error err;

	(void)state;
	assert_null(pk_groups_conf_load(path_of("good", "no-such-file.yaml"), &err));
	assert_int_equal(err.code, -ENOENT);
	assert_non_null(strstr(err.msg, "no-such-file.yaml"));
	assert_null(pk_groups_conf_load(path_of("good", "no-such-file.yaml"), NULL));
}

/* A directory given as the groups file (a path ending in the config
 * directory) is named as such: not "out of memory" from its size as
 * seek reports it, nor "invalid argument". */
static void test_path_is_directory(void **state)
{
	struct pk_groups_conf_error err;
	char want[4200];

	(void)state;
	snprintf(want, sizeof(want), "%s: %s", path_of("good", ""), strerror(EISDIR));
	assert_null(pk_groups_conf_load(path_of("good", ""), &err));
	assert_int_equal(err.code, -EISDIR);
	assert_non_null(strstr(err.msg, want));
}

/* A FIFO given as the groups file is refused at once, not opened for a
 * writer that never comes (which hung start-up and reloads): the alarm
 * fails the test instead of letting it hang. A device is refused too. */
static void test_path_is_fifo(void **state)
{
	struct pk_groups_conf_error err;
	char dir[] = "/tmp/test_groups_conf.XXXXXX", path[64], want[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/groups.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_null(pk_groups_conf_load(path, &err));
	alarm(0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(err.code, -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file (a FIFO)", path);
	assert_string_equal(err.msg, want);

	assert_null(pk_groups_conf_load("/dev/null", &err));
	assert_int_equal(err.code, -EINVAL);
	assert_string_equal(err.msg, "/dev/null: not a regular file (a character device)");
}

static void test_parse_from_memory_names_source(void **state)
{
	static const char text[] = "settings:\n  domains: [example.test]\ngroups:\n"
				   "  - number: 801\n    members: [alice, alice]\n";
	struct pk_groups_conf_error err;

	(void)state;
	assert_null(pk_groups_conf_parse(text, sizeof(text) - 1, "pushed", &err));
	assert_string_equal(err.msg, "pushed:5:22: member 'alice@example.test' listed twice in "
				     "group '801' (first at line 5)");
}

/* ---- good files ---- */

static void test_full(void **state)
{
	struct pk_groups_conf *c = load_good("full.yaml");
	int sales, support, g7001, alice, bob, carol, dave;

	(void)state;
	assert_int_equal(c->settings.n_domains, 2);
	assert_string_equal(c->settings.domains[0], "example.test");
	assert_string_equal(c->settings.domains[1], "branch.example.test"); /* lowercased */
	assert_int_equal(c->n_groups, 3);
	assert_int_equal(c->n_users, 4);
	assert_int_equal(c->n_members, 6);
	/* file order kept */
	sales = find_group(c, "*801");
	support = find_group(c, "#4321");
	g7001 = find_group(c, "7001");
	assert_int_equal(sales, 0);
	assert_int_equal(support, 1);
	assert_int_equal(g7001, 2);
	assert_true(pk_str_eq(c->groups[sales].name, PK_STR_LIT("Sales")));
	assert_true(pk_str_eq(c->groups[support].name, PK_STR_LIT("Support desk")));
	assert_int_equal(c->groups[g7001].name.len, 0);
	assert_int_equal(c->groups[sales].line, 8);

	alice = find_user(c, "alice", 0);
	bob = find_user(c, "bob", 0);
	carol = find_user(c, "carol", 0);
	dave = find_user(c, "dave", 1);
	assert_true(alice >= 0 && bob >= 0 && carol >= 0 && dave >= 0);
	/* alice: bare (both rights), bare, then alice@EXAMPLE.TEST with ring */
	assert_int_equal(c->users[alice].n, 3);
	assert_int_equal(rights_of(c, sales, alice), PK_RIGHTS_ALL);
	assert_int_equal(rights_of(c, support, alice), PK_RIGHTS_ALL);
	assert_int_equal(rights_of(c, g7001, alice), PK_RIGHT_RING);
	assert_int_equal(rights_of(c, sales, bob), PK_RIGHT_PICKUP);
	assert_int_equal(rights_of(c, sales, carol), PK_RIGHT_RING);
	assert_int_equal(rights_of(c, support, dave), PK_RIGHTS_ALL);
	assert_int_equal(rights_of(c, g7001, bob), 0);
	pk_groups_conf_free(c);
}

static void test_defaults(void **state)
{
	struct pk_groups_conf *c = load_good("defaults.yaml");

	(void)state;
	assert_string_equal(c->settings.pickup_code, "*8");
	assert_string_equal(c->settings.directed_prefix, "**");
	assert_int_equal(c->settings.ring_timeout, 180);
	assert_int_equal(c->settings.n_domains, 1); /* a single scalar is one domain */
	assert_int_equal(c->n_groups, 1);
	assert_int_equal(rights_of(c, 0, find_user(c, "alice", 0)), PK_RIGHTS_ALL);
	pk_groups_conf_free(c);
}

static void test_numbers_as_written(void **state)
{
	static const char *const want[] = { "7001", "#4321", "*801", "123456789",
					    "#12345678", "*9", "42" };
	struct pk_groups_conf *c = load_good("numbers.yaml");

	(void)state;
	assert_int_equal(c->n_groups, PK_ARRAY_SIZE(want));
	for (size_t i = 0; i < PK_ARRAY_SIZE(want); i++)
		assert_true(pk_str_eq(c->groups[i].number, pk_str_make(want[i], strlen(want[i]))));
	assert_int_equal(c->n_users, 0);
	pk_groups_conf_free(c);
}

static void test_users_several_groups(void **state)
{
	struct pk_groups_conf *c = load_good("users.yaml");
	int g801 = find_group(c, "801"), g802 = find_group(c, "802"), g803 = find_group(c, "803");
	int alice = find_user(c, "alice", 0), alice_o = find_user(c, "alice", 1);
	int bob = find_user(c, "bob", 1), ann = find_user(c, "ann", 0);
	int xs = find_user(c, "x;y", 0), xe = find_user(c, "x%3By", 0);

	(void)state;
	assert_string_equal(c->settings.pickup_code, "#8");
	assert_string_equal(c->settings.directed_prefix, "#9");
	assert_int_equal(c->settings.ring_timeout, 60);
	assert_true(alice >= 0 && alice_o >= 0 && bob >= 0 && ann >= 0 && xs >= 0 && xe >= 0);
	assert_int_equal(c->n_users, 6);
	/* alice@example.test in all three groups, with the rights of each */
	assert_int_equal(c->users[alice].n, 3);
	assert_int_equal(rights_of(c, g801, alice), PK_RIGHTS_ALL);
	assert_int_equal(rights_of(c, g802, alice), PK_RIGHT_PICKUP);
	assert_int_equal(rights_of(c, g803, alice), PK_RIGHTS_ALL); /* sip: and case of domain */
	/* alice@other.test is somebody else */
	assert_int_equal(c->users[alice_o].n, 1);
	assert_int_equal(rights_of(c, g803, alice_o), PK_RIGHTS_ALL);
	/* sip:bob@Other.Test and bob@other.test are the same AoR */
	assert_int_equal(c->users[bob].n, 2);
	assert_int_equal(rights_of(c, g801, bob), PK_RIGHTS_ALL);
	assert_int_equal(rights_of(c, g802, bob), PK_RIGHT_RING);
	/* "%61nn" is "ann" (RFC 3261 19.1.4), "x%3By" is not "x;y" */
	assert_int_equal(c->users[ann].n, 2);
	assert_int_equal(c->users[xs].n, 1);
	assert_int_equal(c->users[xe].n, 1);
	/* a user's list is in group order */
	for (uint32_t u = 0; u < c->n_users; u++)
		for (uint32_t k = 1; k < c->users[u].n; k++)
			assert_true(c->user_groups[c->users[u].first + k - 1].idx <
				    c->user_groups[c->users[u].first + k].idx);
	pk_groups_conf_free(c);
}

static void test_empty_groups(void **state)
{
	struct pk_groups_conf *c = load_good("empty_groups.yaml");

	(void)state;
	assert_int_equal(c->n_groups, 0);
	assert_int_equal(c->n_users, 0);
	assert_int_equal(c->settings.n_domains, 1);
	pk_groups_conf_free(c);
}

/* A generated file: 2000 groups x 10 members over 5000 users, so every user
 * is in exactly 4 groups; both membership lists must agree. */
static void test_generated(void **state)
{
	const uint32_t G = 2000, M = 10, U = 5000;
	struct pk_groups_conf_error err;
	struct pk_groups_conf *c;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);

	(void)state;
	len += (size_t)snprintf(buf + len, cap - len,
				"settings:\n  domains: [example.test]\ngroups:\n");
	for (uint32_t i = 0; i < G; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "  - number: \"*%u\"\n    members:\n",
					1000 + i);
		for (uint32_t j = 0; j < M; j++)
			len += (size_t)snprintf(buf + len, cap - len, "      - u%u\n", (i * M + j) % U);
		assert_true(len < cap - 4096);
	}
	c = pk_groups_conf_parse(buf, len, "generated", &err);
	free(buf);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->n_groups, G);
	assert_int_equal(c->n_users, U);
	assert_int_equal(c->n_members, G * M);
	for (uint32_t u = 0; u < U; u++)
		assert_int_equal(c->users[u].n, G * M / U);
	for (uint32_t gi = 0; gi < G; gi++) {
		const struct pk_groups_conf_group *g = &c->groups[gi];

		assert_int_equal(g->n, M);
		for (uint32_t k = 0; k < g->n; k++) {
			const struct pk_groups_conf_ref *r = &c->members[g->first + k];
			char want[16];

			snprintf(want, sizeof(want), "u%u", (gi * M + k) % U);
			assert_true(pk_str_eq(c->users[r->idx].user, pk_str_make(want, strlen(want))));
			assert_int_equal(rights_of(c, (int)gi, (int)r->idx), PK_RIGHTS_ALL);
		}
	}
	pk_groups_conf_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_path_is_directory),
		cmocka_unit_test(test_path_is_fifo),
		cmocka_unit_test(test_parse_from_memory_names_source),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_numbers_as_written),
		cmocka_unit_test(test_users_several_groups),
		cmocka_unit_test(test_empty_groups),
		cmocka_unit_test(test_generated),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	corpus = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
