/* SPDX-License-Identifier: MIT */
/*
 * pk-sipdump as a user runs it: the real executable (argv[1]) on the
 * ordinary corpus (argv[2]) and on a few crafted files, its stdout parsed
 * as JSON with jansson, its exit status checked against docs/sipdump.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

extern char **environ;

/* Arguments of one run of the tool (the corpus is passed at once). */
#define MAX_ARGS 64

static const char *tool, *corpus_dir;
static char tmpdir[256];

struct run {
	int status; /* exit status, or -1 if it did not exit normally */
	char *out, *err;
};

static char *slurp_fd(int fd)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		if (n + 1 >= cap)
			b = realloc(b, cap *= 2);
		ssize_t r = read(fd, b + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	b[n] = 0;
	return b;
}

/* Run the tool with args (NULL-terminated), capturing stdout and stderr
 * in temporary files. */
static struct run run_tool(const char *const *args)
{
	const char *argv[MAX_ARGS + 1] = { tool };
	size_t n = 1;
	for (; args[n - 1] && n < MAX_ARGS; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;

	char op[300], ep[300];
	snprintf(op, sizeof(op), "%s/outXXXXXX", tmpdir);
	snprintf(ep, sizeof(ep), "%s/errXXXXXX", tmpdir);
	int ofd = mkstemp(op), efd = mkstemp(ep);
	assert_true(ofd >= 0 && efd >= 0);
	unlink(op);
	unlink(ep);

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, tool, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rc, 0);
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);

	struct run r = { WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, slurp_fd(ofd), slurp_fd(efd) };
	close(ofd);
	close(efd);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* One JSON object per line; returns them as an array. */
static json_t *parse_lines(const char *out)
{
	json_t *arr = json_array();
	const char *p = out;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl); /* every object ends its line */
		json_error_t e;
		json_t *o = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &e);
		if (!o)
			print_error("bad JSON line: %s\n", e.text);
		assert_non_null(o);
		assert_true(json_is_object(o));
		json_array_append_new(arr, o);
		p = nl + 1;
	}
	return arr;
}

static void corpus_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", corpus_dir, name);
}

static void write_tmp(char *path, size_t cap, const char *name, const char *text)
{
	snprintf(path, cap, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *sget(const json_t *o, const char *path)
{
	/* dotted path with [i] for arrays, e.g. "message.via[0].branch" */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	const json_t *cur = o;
	for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
		char *br = strchr(tok, '[');
		if (br)
			*br = 0;
		cur = json_object_get(cur, tok);
		while (br && cur) {
			cur = json_array_get(cur, strtoul(br + 1, NULL, 10));
			br = strchr(br + 1, '[');
		}
	}
	if (!cur)
		return "(absent)";
	if (json_is_null(cur))
		return "(null)";
	if (json_is_string(cur))
		return json_string_value(cur);
	static char num[8][32];
	static unsigned k;
	char *s = num[k++ % 8];
	if (json_is_integer(cur))
		snprintf(s, 32, "%lld", (long long)json_integer_value(cur));
	else if (json_is_boolean(cur))
		snprintf(s, 32, "%s", json_is_true(cur) ? "true" : "false");
	else
		snprintf(s, 32, "(%s)", json_is_array(cur) ? "array" : "object");
	return s;
}

/* --- tests ------------------------------------------------------------- */

static void test_invite_fields(void **state)
{
	(void)state;
	char p[512];
	corpus_path(p, sizeof(p), "invite_replaces.sip");
	struct run r = run_tool((const char *[]){ p, NULL });
	assert_int_equal(r.status, 0);
	json_t *objs = parse_lines(r.out);
	assert_int_equal(json_array_size(objs), 1);
	json_t *o = json_array_get(objs, 0);
	assert_string_equal(sget(o, "file"), p);
	assert_string_equal(sget(o, "verdict"), "ok");
	assert_string_equal(sget(o, "slow_path"), "false");
	assert_string_equal(sget(o, "fast.verdict"), "ok");
	assert_string_equal(sget(o, "message.type"), "request");
	assert_string_equal(sget(o, "message.method"), "INVITE");
	assert_string_equal(sget(o, "message.ruri.user"), "2001");
	assert_string_equal(sget(o, "message.ruri.host"), "192.168.1.21");
	assert_string_equal(sget(o, "message.ruri.port"), "5060");
	assert_string_equal(sget(o, "message.via_count"), "2");
	assert_string_equal(sget(o, "message.via[0].branch"), "z9hG4bKpk7e2c1a.0");
	assert_string_equal(sget(o, "message.via[1].rport"), "5060");
	assert_string_equal(sget(o, "message.via[1].received"), "192.168.1.22");
	assert_string_equal(sget(o, "message.from.display"), "\"Carol\"");
	assert_string_equal(sget(o, "message.from.tag"), "59322");
	assert_string_equal(sget(o, "message.to.tag"), "(null)");
	assert_string_equal(sget(o, "message.to.uri.user"), "*801");
	assert_string_equal(sget(o, "message.call_id"), "7a3f9c2f@192.168.1.22");
	assert_string_equal(sget(o, "message.cseq.num"), "1");
	assert_string_equal(sget(o, "message.cseq.method"), "INVITE");
	assert_string_equal(sget(o, "message.max_forwards"), "69");
	assert_string_equal(sget(o, "message.content_type"), "application/sdp");
	assert_string_equal(sget(o, "message.require.tags[0]"), "replaces");
	assert_string_equal(sget(o, "message.require.known[0]"), "replaces");
	assert_string_equal(sget(o, "message.replaces.call_id"), "a84b4c76e66710@192.168.1.21");
	assert_string_equal(sget(o, "message.replaces.to_tag"), "1928301774");
	assert_string_equal(sget(o, "message.replaces.from_tag"), "a6c85cf");
	assert_string_equal(sget(o, "message.replaces.early_only"), "true");
	/* Content-Length and the body it announces */
	assert_string_equal(sget(o, "message.content_length"), sget(o, "message.body_length"));
	assert_string_not_equal(sget(o, "message.body_length"), "0");
	/* no compare section unless asked */
	assert_string_equal(sget(o, "compare"), "(absent)");
	json_decref(objs);
	run_free(&r);
}

static void test_response_and_lists(void **state)
{
	(void)state;
	char a[512], b[512];
	corpus_path(a, sizeof(a), "via_multi.sip");
	corpus_path(b, sizeof(b), "register.sip");
	struct run r = run_tool((const char *[]){ "--pretty", a, b, NULL });
	assert_int_equal(r.status, 0);
	/* --pretty: concatenated indented objects */
	json_error_t e;
	json_t *o = json_loads(r.out, JSON_DISABLE_EOF_CHECK, &e);
	assert_non_null(o);
	assert_string_equal(sget(o, "message.type"), "response");
	assert_string_equal(sget(o, "message.code"), "180");
	assert_string_equal(sget(o, "message.reason"), "Ringing");
	/* two Vias on one line, one on the next */
	assert_string_equal(sget(o, "message.via_count"), "3");
	assert_string_equal(sget(o, "message.via[1].host"), "10.0.0.10");
	assert_string_equal(sget(o, "message.via[1].branch"), "z9hG4bK4b43c2ff8.1");
	assert_string_equal(sget(o, "message.record_route_count"), "2");
	assert_string_equal(sget(o, "message.record_route[0].uri.lr"), "true");
	json_t *o2 = json_loads(r.out + e.position, JSON_DISABLE_EOF_CHECK, &e);
	assert_non_null(o2);
	assert_string_equal(sget(o2, "message.method"), "REGISTER");
	assert_string_equal(sget(o2, "message.expires"), "7200");
	assert_string_equal(sget(o2, "message.contact_count"), "2");
	assert_string_equal(sget(o2, "message.contact[0].expires"), "3600");
	assert_string_equal(sget(o2, "message.contact[1].uri.transport"), "tcp");
	assert_string_equal(sget(o2, "message.supported.known[0]"), "path");
	assert_string_equal(sget(o2, "message.supported.known[1]"), "outbound");
	json_decref(o);
	json_decref(o2);
	run_free(&r);
}

static void test_compare_corpus_agrees(void **state)
{
	(void)state;
	/* every message of the corpus, as the unit test of the comparison
	 * does one by one */
	static char paths[MAX_ARGS - 3][512];
	const char *args[MAX_ARGS] = { "--compare" };
	size_t n = 0;
	DIR *d = opendir(corpus_dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < MAX_ARGS - 3) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".sip") == 0) {
			corpus_path(paths[n], sizeof(paths[n]), de->d_name);
			args[1 + n] = paths[n];
			n++;
		}
	}
	closedir(d);
	assert_true(n >= 18);
	args[1 + n] = NULL;
	struct run r = run_tool(args);
	if (r.status != 0)
		print_error("%s", r.out);
	assert_int_equal(r.status, 0);
	json_t *objs = parse_lines(r.out);
	assert_int_equal(json_array_size(objs), n);
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o) {
		assert_string_equal(sget(o, "verdict"), "ok");
		assert_string_equal(sget(o, "compare.osip"), "parsed");
		assert_string_equal(sget(o, "compare.agree"), "true");
		assert_int_equal(json_array_size(json_object_get(json_object_get(o, "compare"), "diffs")), 0);
	}
	json_decref(objs);
	run_free(&r);
}

/*
 * A real disagreement: RFC 4475 §3.1.1.4 says "%00" in a user part is
 * valid and stands for the NUL byte. libosip2 unescapes into a C string,
 * so its user part ends at the NUL; the scanner keeps all of it.
 */
static void test_compare_disagreement(void **state)
{
	(void)state;
	char p[512];
	write_tmp(p, sizeof(p), "escnull.sip",
		  "REGISTER sip:example.com SIP/2.0\r\n"
		  "To: sip:null-%00-null@example.com\r\n"
		  "From: sip:null-%00-null@example.com;tag=839923423\r\n"
		  "Max-Forwards: 70\r\n"
		  "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\r\n"
		  "CSeq: 14398234 REGISTER\r\n"
		  "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n"
		  "Contact: <sip:%00@host5.example.com>\r\n"
		  "L:0\r\n\r\n");
	struct run r = run_tool((const char *[]){ "--compare", p, NULL });
	assert_int_equal(r.status, 1);
	json_t *objs = parse_lines(r.out);
	json_t *o = json_array_get(objs, 0);
	assert_string_equal(sget(o, "verdict"), "ok");
	assert_string_equal(sget(o, "compare.agree"), "false");
	/* the scanner shows the user part as written */
	assert_string_equal(sget(o, "message.from.uri.user"), "null-%00-null");
	bool saw = false;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(json_object_get(o, "compare"), "diffs"), i, d) {
		if (strcmp(sget(d, "field"), "from.uri.user") != 0)
			continue;
		saw = true;
		assert_int_equal(json_string_length(json_object_get(d, "scanner")), 11);
		assert_string_equal(sget(d, "osip"), "null-");
	}
	assert_true(saw);
	json_decref(objs);
	run_free(&r);
	unlink(p);
}

/* The one field of a disagreement on the verdict, as --compare reports it. */
static void verdict_diff_is(const json_t *o, const char *scanner, const char *osip)
{
	const json_t *diffs = json_object_get(json_object_get(o, "compare"), "diffs");
	assert_string_equal(sget(o, "compare.agree"), "false");
	assert_int_equal(json_array_size(diffs), 1);
	const json_t *d = json_array_get(diffs, 0);
	assert_string_equal(sget(d, "field"), "verdict");
	assert_string_equal(sget(d, "scanner"), scanner);
	assert_string_equal(sget(d, "osip"), osip);
}

/*
 * One parser accepts and the other does not: --compare says so in one
 * "verdict" entry and exits 1 (docs/sipdump.md). Each way round: a
 * request the scanner answers with 400 (CSeq method mismatch, RFC 4475
 * §3.1.2.17) and a response it drops (status code 4294967301, §3.1.2.19)
 * that libosip2 parses, and a valid message only the scanner parses
 * (a token display name with a comma, §3.1.2.15).
 */
static void test_compare_verdicts(void **state)
{
	(void)state;
	char rej[512], drop[512], osip_no[512];
	write_tmp(rej, sizeof(rej), "mismatch.sip",
		  "OPTIONS sip:user@example.com SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK-mm\r\n"
		  "From: <sip:caller@example.net>;tag=34525\r\n"
		  "To: <sip:user@example.com>\r\n"
		  "Call-ID: mismatch01.dj0234sxdfl3\r\n"
		  "CSeq: 8 INVITE\r\n"
		  "Content-Length: 0\r\n\r\n");
	write_tmp(drop, sizeof(drop), "bigcode.sip",
		  "SIP/2.0 4294967301 better not break the receiver\r\n"
		  "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
		  "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\n"
		  "CSeq: 353494 INVITE\r\n"
		  "From: <sip:user@example.com>;tag=39ansfi3\r\n"
		  "To: <sip:user@example.edu>;tag=902jndnke3\r\n"
		  "Content-Length: 0\r\n\r\n");
	write_tmp(osip_no, sizeof(osip_no), "baddn.sip",
		  "OPTIONS sip:t.watson@example.org SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\n"
		  "Max-Forwards: 70\r\n"
		  "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n"
		  "To: Watson, Thomas <sip:t.watson@example.org>\r\n"
		  "Call-ID: baddn.31415@c.example.com\r\n"
		  "CSeq: 3923239 OPTIONS\r\n"
		  "l: 0\r\n\r\n");
	struct run r = run_tool((const char *[]){ "--compare", rej, drop, osip_no, NULL });
	assert_int_equal(r.status, 1);
	json_t *objs = parse_lines(r.out);
	assert_int_equal(json_array_size(objs), 3);
	json_t *o = json_array_get(objs, 0);
	assert_string_equal(sget(o, "compare.osip"), "parsed");
	verdict_diff_is(o, "reject 400 CSeq method does not match", "parsed");
	o = json_array_get(objs, 1);
	assert_string_equal(sget(o, "verdict"), "drop");
	verdict_diff_is(o, "drop bad status code", "parsed");
	o = json_array_get(objs, 2);
	assert_string_equal(sget(o, "verdict"), "ok");
	assert_string_equal(sget(o, "compare.osip"), "unparseable");
	verdict_diff_is(o, "ok", "unparseable");
	json_decref(objs);
	run_free(&r);

	/* both refuse: they agree (libosip2 gives no status to compare) */
	char both[512];
	write_tmp(both, sizeof(both), "garbage.sip", "this is no SIP message\r\n\r\n");
	r = run_tool((const char *[]){ "--compare", both, NULL });
	assert_int_equal(r.status, 0);
	objs = parse_lines(r.out);
	o = json_array_get(objs, 0);
	assert_string_equal(sget(o, "verdict"), "drop");
	assert_string_equal(sget(o, "compare.osip"), "unparseable");
	assert_string_equal(sget(o, "compare.agree"), "true");
	json_decref(objs);
	run_free(&r);
	unlink(rej);
	unlink(drop);
	unlink(osip_no);
	unlink(both);
}

/* Verdicts that are not "ok", and the slow path, show in the JSON. */
static void test_verdicts(void **state)
{
	(void)state;
	char bad[512], lf[512];
	write_tmp(bad, sizeof(bad), "cseq.sip",
		  "OPTIONS sip:pbx.example.com SIP/2.0\r\n"
		  "Via: SIP/2.0/UDP 10.0.0.20:5060;branch=z9hG4bK-1\r\n"
		  "From: <sip:m@10.0.0.20>;tag=k\r\n"
		  "To: <sip:pbx.example.com>\r\n"
		  "Call-ID: v1@10.0.0.20\r\n"
		  "CSeq: 42 INVITE\r\n"
		  "Content-Length: 0\r\n\r\n");
	write_tmp(lf, sizeof(lf), "lf.sip",
		  "OPTIONS sip:pbx.example.com SIP/2.0\n"
		  "Via: SIP/2.0/UDP 10.0.0.20:5060;branch=z9hG4bK-2\n"
		  "From: <sip:m@10.0.0.20>;tag=k\n"
		  "To: <sip:pbx.example.com>\n"
		  "Call-ID: v2@10.0.0.20\n"
		  "CSeq: 43 OPTIONS\n"
		  "Content-Length: 0\n\n");
	struct run r = run_tool((const char *[]){ bad, lf, NULL });
	assert_int_equal(r.status, 0); /* a rejected message is a result, not an error */
	json_t *objs = parse_lines(r.out);
	assert_int_equal(json_array_size(objs), 2);
	json_t *o = json_array_get(objs, 0);
	assert_string_equal(sget(o, "verdict"), "reject");
	assert_string_equal(sget(o, "status"), "400");
	assert_string_not_equal(sget(o, "reason"), "(null)");
	assert_string_equal(sget(o, "message"), "(null)");
	o = json_array_get(objs, 1);
	assert_string_equal(sget(o, "fast.verdict"), "slow");
	assert_string_equal(sget(o, "slow_path"), "true");
	assert_string_equal(sget(o, "verdict"), "ok");
	assert_string_equal(sget(o, "message.via[0].branch"), "z9hG4bK-2");
	assert_string_equal(sget(o, "message.cseq.num"), "43");
	json_decref(objs);
	run_free(&r);
	unlink(bad);
	unlink(lf);
}

static void test_missing_file(void **state)
{
	(void)state;
	char ok[512], missing[512];
	corpus_path(ok, sizeof(ok), "options.sip");
	snprintf(missing, sizeof(missing), "%s/no-such-message.sip", tmpdir);
	struct run r = run_tool((const char *[]){ missing, ok, NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no-such-message.sip"));
	assert_non_null(strstr(r.err, "No such file"));
	/* the readable file is still dumped */
	json_t *objs = parse_lines(r.out);
	assert_int_equal(json_array_size(objs), 1);
	assert_string_equal(sget(json_array_get(objs, 0), "message.method"), "OPTIONS");
	json_decref(objs);
	run_free(&r);
}

static void test_usage(void **state)
{
	(void)state;
	struct run r = run_tool((const char *[]){ "--help", NULL });
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: pk-sipdump"));
	assert_non_null(strstr(r.out, "--compare"));
	run_free(&r);

	r = run_tool((const char *[]){ "--frobnicate", "x", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--frobnicate"));
	run_free(&r);

	r = run_tool((const char *[]){ NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "usage"));
	run_free(&r);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PK_SIPDUMP CORPUS_DIR\n", argv[0]);
		return 2;
	}
	tool = argv[1];
	corpus_dir = argv[2];
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_sipdump.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_fields),
		cmocka_unit_test(test_response_and_lists),
		cmocka_unit_test(test_compare_corpus_agrees),
		cmocka_unit_test(test_compare_disagreement),
		cmocka_unit_test(test_compare_verdicts),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_usage),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rc;
}
