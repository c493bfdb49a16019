/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of saving the live group index (control/groups_save.c): what
 * an operator relies on when pickupd writes its groups file back.
 *
 * * Every good file of tests/corpus/groups, loaded, indexed, saved and
 *   loaded again, gives the same settings, groups (numbers, names), members
 *   (user, domain, order) and rights; the groups come out in ascending id
 *   order.
 * * After single changes (a group added with members, a member removed,
 *   rights changed, a renumbering to a '#' number, names with quotes,
 *   colons, UTF-8 and YAML-looking text) the saved file reloads to the
 *   changed content.
 * * A generated index of 10,000 groups and 100,000 memberships round-trips.
 * * Failures (missing directory, read-only directory, a write that fails
 *   half way - at the last flush or deep inside a large file - a rename
 *   refused in a sticky directory) return a negative errno and a message naming the path, leave
 *   the existing file as it was and leave no temporary file behind; the
 *   mode of an existing file is kept, a symbolic link stays a link, a
 *   path without a directory is saved in the working directory.
 *
 * Single-threaded: the test is the index's only writer and no reader is
 * registered, so views stay valid between changes.
 *
 * Usage: test_groups_save CORPUS_DIR   (tests/corpus/groups)
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pickup/groups_conf.h"
#include "pickup/groups_save.h"
#include "pickup/rcu.h"

static const char *corpus;

struct fixture {
	struct pk_rcu *rcu;
	struct pk_groups *a, *b; /* a: the live index; b: what the saved file loads to */
	char dir[64];		 /* a private temporary directory */
	char path[128];		 /* dir/groups.yaml */
};

static struct pk_str S(const char *s)
{
	return pk_str_make(s, strlen(s));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pk_groups_params p = { 1u << 14, 1u << 17 };

	if (f == NULL)
		return -1;
	f->rcu = pk_rcu_create(2);
	f->a = pk_groups_create(f->rcu, &p);
	f->b = pk_groups_create(f->rcu, &p);
	strcpy(f->dir, "/tmp/pk-groups-save-XXXXXX");
	if (f->rcu == NULL || f->a == NULL || f->b == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/groups.yaml", f->dir);
	*state = f;
	return 0;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			chmod(p, 0700);
			rm_tree(p);
		} else {
			unlink(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_tree(f->dir);
	pk_groups_destroy(f->a);
	pk_groups_destroy(f->b);
	pk_rcu_destroy(f->rcu);
	free(f);
	return 0;
}

static void load_into(struct pk_groups *g, const char *path)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *c = pk_groups_conf_load(path, &err);

	if (c == NULL)
		fail_msg("reloading %s: %s", path, err.msg);
	assert_int_equal(pk_groups_replace(g, c), 0);
	pk_groups_conf_free(c);
}

static void parse_into(struct pk_groups *g, const char *text)
{
	struct pk_groups_conf_error err;
	struct pk_groups_conf *c = pk_groups_conf_parse(text, strlen(text), "text", &err);

	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(pk_groups_replace(g, c), 0);
	pk_groups_conf_free(c);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void spit(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* How many entries of dir have ".tmp." in their name. */
static int temp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void save_ok(struct fixture *f, struct pk_groups *g, const char *path)
{
	char err[512] = "untouched";
	int rc = pk_groups_save(g, pk_groups_view(g), path, err, sizeof(err));

	if (rc != 0)
		fail_msg("save %s: %d %s", path, rc, err);
	assert_string_equal(err, "");
	assert_int_equal(temp_files(f->dir), 0);
}

static void assert_str_equal(struct pk_str a, struct pk_str b)
{
	if (!pk_str_eq(a, b))
		fail_msg("'%.*s' != '%.*s'", (int)a.len, a.p, (int)b.len, b.p);
}

/*
 * Index b holds the same content as index a: settings; every group of a is
 * in b under the same number with the same name, members in the same order
 * (same user part, same domain, same rights) and the same number of groups;
 * and b's groups in ascending id order have a's numbers in ascending id
 * order (the file lists groups by id, a fresh index numbers them in file
 * order).
 */
static void assert_same_index(struct pk_groups *a, struct pk_groups *b)
{
	const struct pk_groups_view *va = pk_groups_view(a), *vb = pk_groups_view(b);
	const struct pk_groups_settings *sa = pk_groups_view_settings(va),
					*sb = pk_groups_view_settings(vb);
	struct pk_groups_params pa, pb;
	uint32_t na = 0, nb = 0, ib = 0;
	uint64_t memberships = 0;

	assert_int_equal(sa->n_domains, sb->n_domains);
	for (uint32_t i = 0; i < sa->n_domains; i++)
		assert_str_equal(pk_groups_settings_domain(sa, i), pk_groups_settings_domain(sb, i));
	assert_str_equal(pk_groups_settings_pickup_code(sa), pk_groups_settings_pickup_code(sb));
	assert_str_equal(pk_groups_settings_directed_prefix(sa),
			 pk_groups_settings_directed_prefix(sb));
	assert_int_equal(sa->ring_timeout, sb->ring_timeout);

	pk_groups_params_get(a, &pa);
	pk_groups_params_get(b, &pb);
	for (uint32_t gid = 0; gid < pa.max_groups; gid++) {
		const struct pk_group *ga = pk_groups_find_gid(va, gid), *gb, *gb_order = NULL;

		if (ga == NULL)
			continue;
		na++;
		gb = pk_groups_find_number(vb, ga->number);
		if (gb == NULL)
			fail_msg("group %.*s missing after reload", (int)ga->number.len, ga->number.p);
		assert_str_equal(ga->name, gb->name);
		assert_int_equal(ga->n_members, gb->n_members);
		for (uint32_t m = 0; m < ga->n_members; m++) {
			const struct pk_group_user *ua = pk_groups_find_uid(va, ga->members[m].id),
						   *ub = pk_groups_find_uid(vb, gb->members[m].id);

			assert_non_null(ua);
			assert_non_null(ub);
			assert_str_equal(ua->user, ub->user);
			assert_int_equal(ua->domain, ub->domain);
			assert_int_equal(ga->members[m].rights, gb->members[m].rights);
			/* and the user's side of the membership agrees */
			assert_int_equal(pk_group_user_rights(ub, gb->id), ga->members[m].rights);
			memberships++;
		}
		/* the next group of b by id is this one */
		while (ib < pb.max_groups && (gb_order = pk_groups_find_gid(vb, ib++)) == NULL)
			;
		assert_non_null(gb_order);
		assert_ptr_equal(gb_order, gb);
	}
	for (uint32_t gid = 0; gid < pb.max_groups; gid++)
		nb += pk_groups_find_gid(vb, gid) != NULL;
	assert_int_equal(na, nb);
	{
		struct pk_groups_stats st_a, st_b;

		pk_groups_view_stats(va, &st_a);
		pk_groups_view_stats(vb, &st_b);
		assert_int_equal(st_a.n_users, st_b.n_users);
		assert_int_equal(st_a.n_memberships, memberships);
		assert_int_equal(st_b.n_memberships, memberships);
	}
}

/* Save a, load the file into a fresh index b (as a restart does), compare. */
static void round_trip(struct fixture *f)
{
	struct pk_groups_params p;

	save_ok(f, f->a, f->path);
	pk_groups_params_get(f->b, &p);
	pk_groups_destroy(f->b);
	f->b = pk_groups_create(f->rcu, &p);
	assert_non_null(f->b);
	load_into(f->b, f->path);
	assert_same_index(f->a, f->b);
}

/* ---- round trips ---- */

static void test_corpus_round_trip(void **state)
{
	struct fixture *f = *state;
	char dir[4096], file[4096 + 256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/good", corpus);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
		print_message("  %s\n", e->d_name);
		load_into(f->a, file);
		round_trip(f);
		n++;
	}
	closedir(d);
	assert_true(n >= 5); /* the corpus was found */
}

/* The file itself: the header line, quoted numbers, the compact member
 * form, the default domain left out. */
static void test_file_shape(void **state)
{
	struct fixture *f = *state;
	char file[4096];
	char *text;

	snprintf(file, sizeof(file), "%s/good/full.yaml", corpus);
	load_into(f->a, file);
	save_ok(f, f->a, f->path);
	text = slurp(f->path);
	print_message("%s", text);
	assert_true(strncmp(text, "# Written by pickupd at 20", 26) == 0);
	assert_non_null(strstr(text, "number: \"*801\""));
	assert_non_null(strstr(text, "number: \"#4321\""));
	assert_non_null(strstr(text, "number: \"7001\""));
	assert_non_null(strstr(text, "pickup_code: \"*8\""));
	assert_non_null(strstr(text, "domains: [example.test, branch.example.test]"));
	assert_non_null(strstr(text, "- alice\n"));		      /* both rights, default domain */
	assert_non_null(strstr(text, "- dave@branch.example.test\n")); /* other domain */
	assert_non_null(strstr(text, "user: bob\n"));		      /* default domain left out */
	assert_non_null(strstr(text, "rights: [pickup]"));
	assert_null(strstr(text, "@example.test")); /* the default domain never written */
	/* ascending id = file order for a fresh index */
	assert_true(strstr(text, "\"*801\"") < strstr(text, "\"#4321\""));
	assert_true(strstr(text, "\"#4321\"") < strstr(text, "\"7001\""));
	free(text);
}

static const char base_text[] = "settings:\n"
				"  domains: [example.test, other.test]\n"
				"  pickup_code: \"#8\"\n"
				"  directed_prefix: \"*9\"\n"
				"  ring_timeout: 42\n"
				"groups:\n"
				"  - number: \"*801\"\n"
				"    name: Sales\n"
				"    members: [alice, bob@other.test, {user: carol, rights: ring}]\n"
				"  - number: \"802\"\n"
				"    members: [alice, {user: dave, rights: pickup}]\n";

static const struct pk_group *group_of(struct pk_groups *g, const char *number)
{
	return pk_groups_find_number(pk_groups_view(g), S(number));
}

static uint32_t rights_in(struct pk_groups *g, const char *number, const char *user,
			  const char *domain)
{
	const struct pk_groups_view *v = pk_groups_view(g);
	const struct pk_group *gr = pk_groups_find_number(v, S(number));
	const struct pk_group_user *u = pk_groups_find_user(v, S(user), S(domain));

	return gr != NULL && u != NULL ? pk_group_user_rights(u, gr->id) : 0;
}

static void test_changes_round_trip(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"Sales: \"EMEA\" & 'West' — Café ☎",
		"null",
		"~",
		"- looks like a list",
		"[1, 2]",
		"#not a comment",
		"*not-an-alias",
		"  spaces around  ",
		"yes",
		"0801",
		"key: value",
		"a\\b \"c\"",
		"x",
		"line\u2028separator, next\xc2\x85line", /* emitted as escapes */
		"\ufeffbom and\u00a0nbsp",
		"'single' \"double\" `back`",
	};
	const struct pk_group_member_spec members[] = {
		{ S("erin"), PK_STR_NULL, PK_RIGHTS_ALL },
		{ S("frank"), S("OTHER.test"), PK_RIGHT_RING },
		{ S("*star"), PK_STR_NULL, PK_RIGHT_PICKUP }, /* '*' may start a user part */
		{ S("~"), PK_STR_NULL, PK_RIGHTS_ALL },	      /* reads as null if written plain */
		{ S("%23hash"), S("other.test"), PK_RIGHTS_ALL },
		{ S("a;b=c"), PK_STR_NULL, PK_RIGHTS_ALL },
	};
	uint32_t gid;

	parse_into(f->a, base_text);
	round_trip(f);

	/* a group added with members */
	assert_int_equal(pk_groups_group_add(f->a, S("#77"), S("New: one"), members,
					     PK_ARRAY_SIZE(members), &gid),
			 0);
	round_trip(f);
	assert_non_null(group_of(f->b, "#77"));
	assert_int_equal(group_of(f->b, "#77")->n_members, PK_ARRAY_SIZE(members));
	assert_int_equal(rights_in(f->b, "#77", "*star", ""), PK_RIGHT_PICKUP);
	assert_int_equal(rights_in(f->b, "#77", "frank", "other.test"), PK_RIGHT_RING);
	assert_int_equal(rights_in(f->b, "#77", "~", ""), PK_RIGHTS_ALL);
	assert_int_equal(rights_in(f->b, "#77", "%23hash", "other.test"), PK_RIGHTS_ALL);
	assert_int_equal(rights_in(f->b, "#77", "a;b=c", ""), PK_RIGHTS_ALL);

	/* a member removed */
	assert_int_equal(pk_groups_member_remove(f->a, S("*801"), S("bob"), S("other.test")), 0);
	round_trip(f);
	assert_int_equal(rights_in(f->b, "*801", "bob", "other.test"), 0);
	assert_null(pk_groups_find_user(pk_groups_view(f->b), S("bob"), S("other.test")));

	/* rights changed, both ways */
	assert_int_equal(pk_groups_member_set_rights(f->a, S("*801"), S("carol"), PK_STR_NULL,
						     PK_RIGHTS_ALL),
			 0);
	assert_int_equal(pk_groups_member_set_rights(f->a, S("802"), S("alice"), PK_STR_NULL,
						     PK_RIGHT_PICKUP),
			 0);
	round_trip(f);
	assert_int_equal(rights_in(f->b, "*801", "carol", ""), PK_RIGHTS_ALL);
	assert_int_equal(rights_in(f->b, "802", "alice", ""), PK_RIGHT_PICKUP);

	/* renumbered to a '#' number (a YAML comment if written plain) */
	assert_int_equal(pk_groups_group_renumber(f->a, S("802"), S("#12")), 0);
	round_trip(f);
	assert_null(group_of(f->b, "802"));
	assert_non_null(group_of(f->b, "#12"));
	assert_int_equal(rights_in(f->b, "#12", "dave", ""), PK_RIGHT_PICKUP);

	/* names that YAML would read as something else if written carelessly */
	for (size_t i = 0; i < PK_ARRAY_SIZE(names); i++) {
		assert_int_equal(pk_groups_group_set_name(f->a, S("*801"), S(names[i])), 0);
		round_trip(f);
		assert_str_equal(group_of(f->b, "*801")->name, S(names[i]));
	}
	/* and a name removed: the key is left out, the name stays empty */
	assert_int_equal(pk_groups_group_set_name(f->a, S("*801"), PK_STR_NULL), 0);
	round_trip(f);
	assert_int_equal(group_of(f->b, "*801")->name.len, 0);

	/* the group removed, then every group: an empty list */
	assert_int_equal(pk_groups_group_remove(f->a, S("#77")), 0);
	round_trip(f);
	assert_null(group_of(f->b, "#77"));
	assert_int_equal(pk_groups_group_remove(f->a, S("*801")), 0);
	assert_int_equal(pk_groups_group_remove(f->a, S("#12")), 0);
	round_trip(f);
	assert_null(group_of(f->b, "*801"));
}

/* 10,000 groups, 100,000 memberships over 30,000 users in two domains, a
 * quarter of them with one right only. */
static void test_large_round_trip(void **state)
{
	struct fixture *f = *state;
	enum { GROUPS = 10000, PER_GROUP = 10, USERS = 30000 };
	size_t cap = 8u << 20, o = 0;
	char *text = malloc(cap);
	unsigned seed = 12345;
	struct pk_groups_stats st;
	struct stat sb;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o,
			      "settings:\n  domains: [example.test, b.test]\ngroups:\n");
	for (unsigned gi = 0; gi < GROUPS; gi++) {
		/* '*', '#' and plain numbers, names on every other group */
		static const char *const pfx[] = { "*", "#", "" };

		o += (size_t)snprintf(text + o, cap - o, "  - number: \"%s%u\"\n", pfx[gi % 3],
				      1000 + gi);
		if (gi % 2)
			o += (size_t)snprintf(text + o, cap - o, "    name: \"Group %u: \\\"x\\\"\"\n", gi);
		o += (size_t)snprintf(text + o, cap - o, "    members:\n");
		for (unsigned m = 0; m < PER_GROUP; m++) {
			/* distinct users within a group: consecutive blocks */
			unsigned u = (gi * PER_GROUP + m * 7u) % USERS;
			const char *dom = u % 5 == 0 ? "@b.test" : "";

			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 4 == 0)
				o += (size_t)snprintf(text + o, cap - o,
						      "      - {user: u%u%s, rights: %s}\n", u, dom,
						      (seed >> 20) % 2 ? "ring" : "pickup");
			else
				o += (size_t)snprintf(text + o, cap - o, "      - u%u%s\n", u, dom);
		}
		assert_true(o < cap - 4096);
	}
	parse_into(f->a, text);
	free(text);
	pk_groups_view_stats(pk_groups_view(f->a), &st);
	assert_int_equal(st.n_groups, GROUPS);
	assert_int_equal(st.n_memberships, GROUPS * PER_GROUP);
	round_trip(f);
	assert_int_equal(stat(f->path, &sb), 0);
	print_message("  10k groups / 100k memberships: %lld bytes\n", (long long)sb.st_size);
}

/* ---- files, modes and failures ---- */

static void test_mode_kept(void **state)
{
	struct fixture *f = *state;
	char fresh[256];
	struct stat st;
	mode_t old_umask;

	parse_into(f->a, base_text);
	spit(f->path, "# the operator's file\n", 0600);
	save_ok(f, f->a, f->path);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(f->path, 0640), 0);
	save_ok(f, f->a, f->path);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* a new file is 0644 whatever the umask */
	snprintf(fresh, sizeof(fresh), "%s/new.yaml", f->dir);
	old_umask = umask(077);
	save_ok(f, f->a, fresh);
	umask(old_umask);
	assert_int_equal(stat(fresh, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	load_into(f->b, fresh);
	assert_same_index(f->a, f->b);
}

static void test_symlink_followed(void **state)
{
	struct fixture *f = *state;
	char target[256];
	struct stat st;
	char *text;

	parse_into(f->a, base_text);
	snprintf(target, sizeof(target), "%s/real.yaml", f->dir);
	spit(target, "# old\n", 0600);
	assert_int_equal(symlink("real.yaml", f->path), 0);
	save_ok(f, f->a, f->path);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = slurp(target);
	assert_non_null(strstr(text, "\"*801\""));
	free(text);
	load_into(f->b, f->path);
	assert_same_index(f->a, f->b);
}

/* A temporary file left by a crashed process with our pid does not block
 * saving forever. */
static void test_stale_temp_replaced(void **state)
{
	struct fixture *f = *state;
	char stale[256];

	parse_into(f->a, base_text);
	snprintf(stale, sizeof(stale), "%s.tmp.%ld", f->path, (long)getpid());
	spit(stale, "half a file", 0644);
	save_ok(f, f->a, f->path);
	load_into(f->b, f->path);
	assert_same_index(f->a, f->b);
}

static void assert_failed_cleanly(struct fixture *f, int rc, const char *err, const char *path,
				  const char *old_text, int expect)
{
	char *text;

	print_message("  %d %s\n", rc, err);
	assert_int_equal(rc, expect);
	/* the message names the path */
	assert_true(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
	if (old_text != NULL) {
		text = slurp(path);
		assert_string_equal(text, old_text);
		free(text);
	}
	assert_int_equal(temp_files(f->dir), 0);
}

static void test_missing_directory(void **state)
{
	struct fixture *f = *state;
	char path[256], err[512];
	int rc;

	parse_into(f->a, base_text);
	snprintf(path, sizeof(path), "%s/no-such-dir/groups.yaml", f->dir);
	rc = pk_groups_save(f->a, pk_groups_view(f->a), path, err, sizeof(err));
	assert_failed_cleanly(f, rc, err, path, NULL, -ENOENT);
}

/* pk_groups_save as an unprivileged user (nobody) in a child process,
 * for when the test runs as root, who may write anywhere. */
static int save_as_nobody(struct pk_groups *g, const char *path, char *err, size_t errlen)
{
	int fds[2], rc = 0, status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[512];

		close(fds[0]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		rc = pk_groups_save(g, pk_groups_view(g), path, buf, sizeof(buf));
		if (write(fds[1], &rc, sizeof(rc)) != sizeof(rc) ||
		    write(fds[1], buf, sizeof(buf)) != sizeof(buf))
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &rc, sizeof(rc)), sizeof(rc));
	assert_true(read(fds[0], err, errlen) > 0);
	err[errlen - 1] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return rc;
}

static void test_directory_not_writable(void **state)
{
	struct fixture *f = *state;
	static const char old[] = "# the operator's file\nsettings: {domains: [x.test]}\n";
	char sub[256], path[300], err[512];
	int rc;

	parse_into(f->a, base_text);
	snprintf(sub, sizeof(sub), "%s/ro", f->dir);
	snprintf(path, sizeof(path), "%s/groups.yaml", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	spit(path, old, 0644);
	if (geteuid() == 0) {
		/* root may write anywhere: save as nobody, who may read the
		 * directories but not write to them */
		assert_int_equal(chmod(f->dir, 0755), 0);
		assert_int_equal(chmod(sub, 0755), 0);
		rc = save_as_nobody(f->a, path, err, sizeof(err));
	} else {
		assert_int_equal(chmod(sub, 0555), 0);
		rc = pk_groups_save(f->a, pk_groups_view(f->a), path, err, sizeof(err));
		assert_int_equal(chmod(sub, 0700), 0);
	}
	assert_failed_cleanly(f, rc, err, path, old, -EACCES);
	assert_int_equal(temp_files(sub), 0);
}

/* The write fails half way (file size limit: works for root too): the
 * temporary file is removed and the old file stays. */
static void test_write_failure(void **state)
{
	struct fixture *f = *state;
	static const char old[] = "# the operator's file\n";
	struct rlimit saved, small;
	char err[512];
	void (*old_handler)(int);
	int rc;

	parse_into(f->a, base_text);
	spit(f->path, old, 0644);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 64;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = pk_groups_save(f->a, pk_groups_view(f->a), f->path, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);
	assert_failed_cleanly(f, rc, err, f->path, old, -EFBIG);
}

/* The stream form reports a full disk as -ENOSPC. */
static void test_stream_full_disk(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	FILE *fp = fopen("/dev/full", "w");
	int rc;

	if (fp == NULL)
		skip();
	parse_into(f->a, base_text);
	setvbuf(fp, NULL, _IONBF, 0); /* the first write already fails */
	rc = pk_groups_save_stream(f->a, pk_groups_view(f->a), fp, err, sizeof(err));
	fclose(fp);
	print_message("  %d %s\n", rc, err);
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(err, "write failed"));
}

/* A path that is a directory is refused before anything is written. */
static void test_path_is_directory(void **state)
{
	struct fixture *f = *state;
	char err[512];
	int rc;

	parse_into(f->a, base_text);
	assert_int_equal(mkdir(f->path, 0700), 0);
	rc = pk_groups_save(f->a, pk_groups_view(f->a), f->path, err, sizeof(err));
	assert_failed_cleanly(f, rc, err, f->path, NULL, -EINVAL);
}

/* A file the daemon may not replace (another user's, in a sticky
 * directory such as /tmp): the temporary file is written, the rename is
 * refused, and the old file stays as it was with no temporary file left.
 * Needs root to own the file as someone else; saves as nobody. */
static void test_rename_refused(void **state)
{
	struct fixture *f = *state;
	static const char old[] = "# root's file\nsettings: {domains: [x.test]}\n";
	char sub[256], path[300], err[512];
	int rc;

	if (geteuid() != 0)
		skip();
	parse_into(f->a, base_text);
	snprintf(sub, sizeof(sub), "%s/sticky", f->dir);
	snprintf(path, sizeof(path), "%s/groups.yaml", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	spit(path, old, 0666); /* even writable by all: the rename is what fails */
	rc = save_as_nobody(f->a, path, err, sizeof(err));
	assert_failed_cleanly(f, rc, err, path, old, -EPERM);
	assert_non_null(strstr(err, "cannot rename"));
	assert_int_equal(temp_files(sub), 0);
}

/* The write fails far into a large file, inside the YAML emitter rather
 * than at the final flush: same answer, old file kept, no temporary. */
static void test_write_failure_large(void **state)
{
	struct fixture *f = *state;
	static const char old[] = "# the operator's file\n";
	enum { GROUPS = 2000 };
	size_t cap = 1u << 20, o = 0;
	char *text = malloc(cap), err[512];
	struct rlimit saved, small;
	void (*old_handler)(int);
	int rc;

	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "settings:\n  domains: [example.test]\ngroups:\n");
	for (unsigned gi = 0; gi < GROUPS; gi++)
		o += (size_t)snprintf(text + o, cap - o,
				      "  - {number: \"%u\", name: Group %u, members: [a%u, b%u, c%u]}\n",
				      1000 + gi, gi, gi, gi, gi);
	assert_true(o < cap - 1);
	parse_into(f->a, text);
	free(text);
	spit(f->path, old, 0644);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 32768; /* several stdio buffers, a fraction of the file */
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = pk_groups_save(f->a, pk_groups_view(f->a), f->path, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);
	assert_failed_cleanly(f, rc, err, f->path, old, -EFBIG);
	assert_non_null(strstr(err, "write failed"));
}

/* A path without a directory part (pickupd started with -g groups.yaml)
 * is saved in the working directory. */
static void test_relative_path(void **state)
{
	struct fixture *f = *state;
	char cwd[PATH_MAX], err[512] = "untouched";
	int rc;

	parse_into(f->a, base_text);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	rc = pk_groups_save(f->a, pk_groups_view(f->a), "groups.yaml", err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (rc != 0)
		fail_msg("save groups.yaml: %d %s", rc, err);
	assert_string_equal(err, "");
	assert_int_equal(temp_files(f->dir), 0);
	load_into(f->b, f->path);
	assert_same_index(f->a, f->b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corpus_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temp_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_not_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_is_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	corpus = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
