/* SPDX-License-Identifier: MIT */
/*
 * pickupctl (control/pickupctl_cli.c, docs/pickupctl.md): every command's
 * request as sent, every usage error (exit 2, the daemon not contacted),
 * the tables and the JSON as an operator sees them, and whole runs against
 * fake servers on a temporary UNIX socket: one that answers (the bytes it
 * received are checked), one that refuses a command, one that never
 * answers, one that closes early, one reset in the middle of its answer,
 * one that refuses a large request while it is being sent, one that never
 * reads it, and the ways a socket is unreachable.
 *
 * The fake server is a thread serving one connection; the test waits for
 * it with pthread_join, never with a sleep. Time is measured only to check
 * that the timeouts bound a run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "pickupctl_cli.h"

#define MAX_ARGS 32

/* ---- running the CLI in-process ---- */

struct run {
	int rc;
	char *out, *err;
	double secs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* argv = "pickupctl", pre..., args... (both NULL-terminated; pre may be
 * NULL), copied so that getopt may permute them. */
static int build_argv(char **argv, const char *const *pre, const char *const *args)
{
	int n = 0;

	argv[n++] = strdup("pickupctl");
	for (; pre != NULL && *pre != NULL; pre++)
		argv[n++] = strdup(*pre);
	for (; *args != NULL; args++) {
		assert_true(n < MAX_ARGS);
		argv[n++] = strdup(*args);
	}
	argv[n] = NULL;
	return n;
}

static void free_argv(char **argv)
{
	for (int i = 0; argv[i] != NULL; i++)
		free(argv[i]);
}

static struct run run_cli(const char *const *pre, const char *const *args)
{
	char *argv[MAX_ARGS + 1];
	struct run r = { 0 };
	size_t ol, el;
	FILE *out = open_memstream(&r.out, &ol), *err = open_memstream(&r.err, &el);
	int argc = build_argv(argv, pre, args);
	double t0 = now_s();

	assert_non_null(out);
	assert_non_null(err);
	r.rc = pk_ctl_cli_main(argc, argv, out, err);
	r.secs = now_s() - t0;
	fclose(out);
	fclose(err);
	free_argv(argv);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The request a command line builds, compact JSON; NULL if none. */
static char *request_of(const char *const *args, struct pk_ctl_inv *inv_out, int *rc)
{
	char *argv[MAX_ARGS + 1], *o = NULL, *e = NULL, *s = NULL;
	size_t ol, el;
	FILE *out = open_memstream(&o, &ol), *err = open_memstream(&e, &el);
	struct pk_ctl_inv inv;
	int argc = build_argv(argv, NULL, args);

	*rc = pk_ctl_parse(argc, argv, &inv, out, err);
	fclose(out);
	fclose(err);
	if (*rc != 0)
		print_message("stderr: %s", e);
	if (inv.request != NULL)
		s = json_dumps(inv.request, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(inv.request);
	inv.request = NULL;
	if (inv_out != NULL)
		*inv_out = inv;
	free(o);
	free(e);
	free_argv(argv);
	return s;
}

/* ---- fake servers ---- */

enum fake_mode {
	FAKE_REPLY,   /* read one line, write reply */
	FAKE_SILENT,  /* read one line, then only wait for the client to go */
	FAKE_CLOSE,   /* read one line, close */
	FAKE_PARTIAL, /* read one line, write half a response, close */
	FAKE_REFUSE,  /* write reply without reading, close (permission_denied) */
	FAKE_RESET,   /* wait for the whole request but leave it unread, write half a
		       * response, close: the unread request makes it a reset */
	FAKE_DEAF,    /* never read; close when the test closes release[1] */
};

struct fake {
	char dir[64];
	char path[108];
	int lfd;
	pthread_t th;
	enum fake_mode mode;
	const char *reply;
	char got[65536];
	size_t got_len;
	bool accepted;
	int release[2]; /* FAKE_DEAF */
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	char buf[4096];
	int fd;

	/* Bound the wait: a client that never comes is a failed test, not a
	 * hung one. */
	if (poll(&p, 1, 10000) != 1)
		return NULL;
	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	f->accepted = true;
	if (f->mode == FAKE_REFUSE) {
		if (write(fd, f->reply, strlen(f->reply)) < 0)
			f->got_len = 0;
		close(fd);
		return NULL;
	}
	if (f->mode == FAKE_DEAF) {
		p = (struct pollfd){ .fd = f->release[0], .events = POLLIN };
		poll(&p, 1, 10000);
		close(fd);
		return NULL;
	}
	if (f->mode == FAKE_RESET) {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		while (memchr(f->got, '\n', f->got_len) == NULL && poll(&p, 1, 10000) == 1) {
			ssize_t n = recv(fd, f->got, sizeof(f->got), MSG_PEEK);

			if (n <= 0)
				break;
			f->got_len = (size_t)n;
		}
		if (write(fd, f->reply, strlen(f->reply) / 2) < 0)
			f->got_len = 0;
		close(fd);
		return NULL;
	}
	while (memchr(f->got, '\n', f->got_len) == NULL && f->got_len < sizeof(f->got)) {
		ssize_t n = read(fd, f->got + f->got_len, sizeof(f->got) - f->got_len);

		if (n <= 0)
			break;
		f->got_len += (size_t)n;
	}
	switch (f->mode) {
	case FAKE_REPLY:
		if (write(fd, f->reply, strlen(f->reply)) < 0)
			break;
		break;
	case FAKE_PARTIAL:
		if (write(fd, f->reply, strlen(f->reply) / 2) < 0)
			break;
		break;
	case FAKE_SILENT:
		/* Until the client gives up and closes (its timeout). */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		break;
	case FAKE_CLOSE:
	case FAKE_REFUSE:
	case FAKE_RESET:
	case FAKE_DEAF:
		break;
	}
	close(fd);
	return NULL;
}

static void fake_dir(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->release[0] = f->release[1] = -1;
	strcpy(f->dir, "/tmp/pkctl-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->lfd = -1;
}

static int fake_bind(struct fake *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void fake_start(struct fake *f, enum fake_mode mode, const char *reply)
{
	fake_dir(f);
	f->mode = mode;
	f->reply = reply;
	f->lfd = fake_bind(f);
	assert_int_equal(listen(f->lfd, 4), 0);
	if (mode == FAKE_DEAF)
		assert_int_equal(pipe(f->release), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* After the client is done: the server's end, then the bytes it got. */
static void fake_join(struct fake *f)
{
	if (f->release[1] >= 0) {
		close(f->release[1]); /* FAKE_DEAF: the client is done */
		f->release[1] = -1;
	}
	pthread_join(f->th, NULL);
	if (f->release[0] >= 0)
		close(f->release[0]);
	f->release[0] = -1;
	f->got[f->got_len < sizeof(f->got) ? f->got_len : sizeof(f->got) - 1] = '\0';
}

static void fake_cleanup(struct fake *f)
{
	if (f->lfd >= 0)
		close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

/* A listening socket nobody accepts on: a usage error must leave no
 * connection in its queue. */
static bool pending_connection(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int n = poll(&p, 1, 0);

	assert_true(n >= 0);
	if (n == 1) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			close(fd);
	}
	return n == 1;
}

/* ---- command line -> request ---- */

struct mapping {
	const char *args[12];
	const char *request;
};

static const struct mapping mappings[] = {
	{ { "status" }, "{\"cmd\":\"status\"}" },
	{ { "stats" }, "{\"cmd\":\"stats\"}" },
	{ { "stats", "--worker", "1" }, "{\"cmd\":\"stats\"}" },
	{ { "metrics" }, "{\"cmd\":\"metrics\"}" },
	{ { "calls" }, "{\"cmd\":\"calls\"}" },
	{ { "calls", "--group", "*801", "--user", "alice", "--limit", "10" },
	  "{\"cmd\":\"calls\",\"args\":{\"group\":\"*801\",\"user\":\"alice\",\"limit\":10}}" },
	{ { "calls", "--limit", "0", "--group", "#42" },
	  "{\"cmd\":\"calls\",\"args\":{\"group\":\"#42\",\"limit\":0}}" },
	{ { "calls", "--user", "sip:bob@example.test" },
	  "{\"cmd\":\"calls\",\"args\":{\"user\":\"sip:bob@example.test\"}}" },
	{ { "registrations" }, "{\"cmd\":\"registrations\"}" },
	{ { "neighbours" }, "{\"cmd\":\"neighbours\"}" },
	{ { "neighbours", "--port", "net_af_packet1" }, "{\"cmd\":\"neighbours\",\"args\":{\"port\":\"net_af_packet1\"}}" },
	{ { "registrations", "--user", "alice@example.test", "--limit", "3" },
	  "{\"cmd\":\"registrations\",\"args\":{\"user\":\"alice@example.test\",\"limit\":3}}" },
	{ { "groups" }, "{\"cmd\":\"groups\"}" },
	{ { "groups", "*801" }, "{\"cmd\":\"groups\",\"args\":{\"number\":\"*801\"}}" },
	{ { "group", "add", "*801" }, "{\"cmd\":\"group.add\",\"args\":{\"number\":\"*801\"}}" },
	{ { "group", "add", "*801", "--name", "Sales team" },
	  "{\"cmd\":\"group.add\",\"args\":{\"number\":\"*801\",\"name\":\"Sales team\"}}" },
	{ { "group", "add", "--name=Front desk", "802" },
	  "{\"cmd\":\"group.add\",\"args\":{\"number\":\"802\",\"name\":\"Front desk\"}}" },
	{ { "group", "remove", "*801" },
	  "{\"cmd\":\"group.remove\",\"args\":{\"number\":\"*801\"}}" },
	{ { "group", "renumber", "*801", "*802" },
	  "{\"cmd\":\"group.renumber\",\"args\":{\"number\":\"*801\",\"new_number\":\"*802\"}}" },
	{ { "group", "name", "*801", "Ward 3 nurses" },
	  "{\"cmd\":\"group.name\",\"args\":{\"number\":\"*801\",\"name\":\"Ward 3 nurses\"}}" },
	{ { "member", "add", "*801", "alice@example.test" },
	  "{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\",\"user\":\"alice@example.test\"}}" },
	{ { "member", "add", "*801", "alice@example.test", "--rights", "pickup" },
	  "{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\",\"user\":\"alice@example.test\","
	  "\"rights\":[\"pickup\"]}}" },
	{ { "member", "add", "--rights", "ring,pickup", "*801", "bob" },
	  "{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\",\"user\":\"bob\","
	  "\"rights\":[\"ring\",\"pickup\"]}}" },
	{ { "member", "remove", "*801", "bob" },
	  "{\"cmd\":\"member.remove\",\"args\":{\"group\":\"*801\",\"user\":\"bob\"}}" },
	{ { "member", "rights", "*801", "bob", "pickup,ring" },
	  "{\"cmd\":\"member.rights\",\"args\":{\"group\":\"*801\",\"user\":\"bob\","
	  "\"rights\":[\"pickup\",\"ring\"]}}" },
	{ { "member", "rights", "*801", "bob", "ring" },
	  "{\"cmd\":\"member.rights\",\"args\":{\"group\":\"*801\",\"user\":\"bob\","
	  "\"rights\":[\"ring\"]}}" },
	{ { "reload" }, "{\"cmd\":\"reload\"}" },
	{ { "save" }, "{\"cmd\":\"save\"}" },
	{ { "save", "/var/lib/pickupd/groups.yaml" },
	  "{\"cmd\":\"save\",\"args\":{\"path\":\"/var/lib/pickupd/groups.yaml\"}}" },
	{ { "get" }, "{\"cmd\":\"get\"}" },
	{ { "get", "ring_timeout" }, "{\"cmd\":\"get\",\"args\":{\"name\":\"ring_timeout\"}}" },
	{ { "set", "ring_timeout", "30" },
	  "{\"cmd\":\"set\",\"args\":{\"name\":\"ring_timeout\",\"value\":30}}" },
	{ { "set", "claim_timeout", "8" },
	  "{\"cmd\":\"set\",\"args\":{\"name\":\"claim_timeout\",\"value\":8}}" },
	{ { "set", "log_level", "debug" },
	  "{\"cmd\":\"set\",\"args\":{\"name\":\"log_level\",\"value\":\"debug\"}}" },
	{ { "set", "trusted", "10.0.0.0/8, 2001:db8::/32,192.168.1.7/32" },
	  "{\"cmd\":\"set\",\"args\":{\"name\":\"trusted\",\"value\":"
	  "[\"10.0.0.0/8\",\"2001:db8::/32\",\"192.168.1.7/32\"]}}" },
	{ { "set", "trusted", "" }, "{\"cmd\":\"set\",\"args\":{\"name\":\"trusted\",\"value\":[]}}" },
	{ { "shutdown" }, "{\"cmd\":\"shutdown\"}" },
	{ { "raw", "{\"cmd\": \"status\", \"id\": 7}" }, "{\"cmd\":\"status\",\"id\":7}" },
	{ { "raw", "[1, 2]" }, "[1,2]" },
	/* Global options before and after the command. */
	{ { "--json", "-s", "/x.sock", "status" }, "{\"cmd\":\"status\"}" },
	{ { "groups", "--json", "--timeout", "2", "*801", "-s", "/x.sock" },
	  "{\"cmd\":\"groups\",\"args\":{\"number\":\"*801\"}}" },
	{ { "member", "add", "*801", "--", "-odd-user" },
	  "{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\",\"user\":\"-odd-user\"}}" },
};

static void test_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mappings) / sizeof(mappings[0]); i++) {
		int rc;
		char *req = request_of(mappings[i].args, NULL, &rc);

		print_message("%s ...\n", mappings[i].args[0]);
		assert_int_equal(rc, 0);
		assert_non_null(req);
		assert_string_equal(req, mappings[i].request);
		free(req);
	}
}

static void test_request_options(void **state)
{
	struct pk_ctl_inv inv;
	char cwd[PATH_MAX], want[PATH_MAX + 128];
	int rc;
	char *req;

	(void)state;
	req = request_of((const char *const[]){ "stats", "--worker", "3", NULL }, &inv, &rc);
	assert_int_equal(inv.worker, 3);
	assert_false(inv.json);
	assert_int_equal(inv.timeout_ms, 5000);
	free(req);
	req = request_of((const char *const[]){ "--timeout", "0.25", "status", "--json", "-s", "/a",
						NULL },
			 &inv, &rc);
	assert_int_equal(inv.worker, -1);
	assert_true(inv.json);
	assert_int_equal(inv.timeout_ms, 250);
	assert_non_null(inv.socket_opt);
	free(req);

	/* A relative save path is the operator's, not pickupd's. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	req = request_of((const char *const[]){ "save", "backup/groups.yaml", NULL }, &inv, &rc);
	assert_int_equal(rc, 0);
	snprintf(want, sizeof(want), "{\"cmd\":\"save\",\"args\":{\"path\":\"%s/backup/groups.yaml\"}}",
		 cwd);
	assert_string_equal(req, want);
	free(req);

	/* --help, --version: printed, nothing to send. */
	req = request_of((const char *const[]){ "--version", NULL }, &inv, &rc);
	assert_int_equal(rc, 0);
	assert_null(req);
	req = request_of((const char *const[]){ "member", "add", "--help", NULL }, &inv, &rc);
	assert_int_equal(rc, 0);
	assert_null(req);
}

static void test_help(void **state)
{
	struct run r;

	(void)state;
	r = run_cli(NULL, (const char *const[]){ "--help", NULL });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "member add NUM USER [--rights ring,pickup]"));
	assert_non_null(strstr(r.out, "calls [--group NUM] [--user USER] [--limit N]"));
	assert_string_equal(r.err, "");
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "group", "renumber", "--help", NULL });
	assert_int_equal(r.rc, 0);
	assert_true(starts_with(r.out, "usage: pickupctl [OPTIONS] group renumber NUM NEW\n"));
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "member", "--help", NULL });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "member rights NUM USER RIGHTS"));
	assert_null(strstr(r.out, "group add"));
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "--version", NULL });
	assert_int_equal(r.rc, 0);
	assert_true(strncmp(r.out, "pickupctl ", 10) == 0);
	run_free(&r);
}

/* ---- usage errors ---- */

/* Longer than the save path pickupctl sends (PATH_MAX), alone or after
 * the current directory. */
#define LONG_PATH_64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
#define LONG_PATH_1K LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 \
	LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 LONG_PATH_64 \
	LONG_PATH_64 LONG_PATH_64 LONG_PATH_64
#define LONG_PATH LONG_PATH_1K LONG_PATH_1K LONG_PATH_1K LONG_PATH_1K "g.yaml"

static const struct {
	const char *args[10];
	const char *says; /* part of the message */
} usage_errors[] = {
	{ { NULL }, "no command" },
	{ { "bogus" }, "unknown command 'bogus'" },
	{ { "group" }, "which one?" },
	{ { "group", "bogus", "1" }, "unknown command 'group bogus'" },
	{ { "group", "add" }, "missing NUM" },
	{ { "group", "renumber", "801" }, "missing NEW" },
	{ { "group", "name", "801" }, "missing NAME" },
	{ { "member", "add", "801" }, "missing USER" },
	{ { "member", "rights", "801", "bob" }, "missing RIGHTS" },
	{ { "status", "extra" }, "extra argument 'extra'" },
	{ { "shutdown", "now" }, "extra argument 'now'" },
	{ { "groups", "1", "2" }, "extra argument '2'" },
	{ { "save", "a", "b" }, "extra argument 'b'" },
	{ { "save", "" }, "empty path" },
	{ { "save", "/" LONG_PATH }, "path too long" },
	{ { "save", LONG_PATH }, "path too long" },
	{ { "group", "name", "801", "Caf\xe9" }, "NAME 'Caf\xe9' is not valid UTF-8" },
	{ { "member", "add", "801", "\xff" }, "is not valid UTF-8" },
	{ { "group", "remove", "801", "802" }, "extra argument '802'" },
	{ { "calls", "--bogus" }, "unknown option '--bogus'" },
	{ { "metrics", "--group", "801" }, "unknown option '--group'" },
	{ { "status", "-x" }, "unknown option '-x'" },
	{ { "-q", "status" }, "unknown option '-q'" },
	{ { "calls", "--limit" }, "'--limit' needs a value" },
	{ { "calls", "--limit", "ten" }, "'ten' is not a whole number" },
	{ { "calls", "--limit", "-1" }, "'-1' is not a whole number" },
	{ { "calls", "--limit", "1.5" }, "'1.5' is not a whole number" },
	{ { "calls", "--limit", " 7" }, "' 7' is not a whole number" },
	{ { "registrations", "--limit", "99999999999999999999" }, "is not a whole number" },
	{ { "stats", "--worker", "x" }, "'x' is not a worker number" },
	{ { "member", "add", "801", "alice", "--rights", "ring,admin" }, "'admin' is not ring or pickup" },
	{ { "member", "add", "801", "alice", "--rights", "" }, "'' is not ring or pickup" },
	{ { "member", "rights", "801", "alice", "ring,ring" }, "'ring' given twice" },
	{ { "member", "rights", "801", "alice", "pickup," }, "'' is not ring or pickup" },
	{ { "member", "rights", "801", "alice", "Ring" }, "'Ring' is not ring or pickup" },
	{ { "set", "ring_timeout", "30s" }, "'30s' is not a whole number of seconds" },
	{ { "set", "claim_timeout", "" }, "'' is not a whole number of seconds" },
	{ { "set", "colour", "red" }, "no tunable 'colour'" },
	{ { "set", "trusted", "10.0.0.0/8,,1.2.3.0/24" }, "an empty network" },
	{ { "set", "ring_timeout" }, "missing VALUE" },
	{ { "raw", "{not json" }, "not JSON" },
	{ { "raw" }, "missing JSON" },
	{ { "--timeout", "0", "status" }, "--timeout: '0'" },
	{ { "--timeout", "abc", "status" }, "--timeout: 'abc'" },
	{ { "status", "--timeout", "-5" }, "--timeout: '-5'" },
	{ { "-c", "/nonexistent/pickupd.yaml", "status" }, "-s and -c both" },
};

static void test_usage_errors(void **state)
{
	struct fake f;

	(void)state;
	fake_dir(&f);
	f.lfd = fake_bind(&f);
	assert_int_equal(listen(f.lfd, 8), 0);
	for (size_t i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
		const char *pre[] = { "-s", f.path, "--timeout", "0.2", NULL };
		struct run r = run_cli(pre, usage_errors[i].args);

		print_message("%s -> %s", usage_errors[i].args[0] ? usage_errors[i].args[0] : "(none)",
			      r.err);
		assert_int_equal(r.rc, 2);
		assert_string_equal(r.out, "");
		assert_true(strncmp(r.err, "pickupctl: ", 11) == 0);
		assert_non_null(strstr(r.err, usage_errors[i].says));
		assert_non_null(strstr(r.err, "usage: pickupctl"));
		assert_false(pending_connection(f.lfd));
		run_free(&r);
	}
	fake_cleanup(&f);
}

/* Socket paths that cannot work are usage errors too: exit 2, nothing
 * contacted. */
static void test_socket_usage_errors(void **state)
{
	char longpath[200], cfg[] = "/tmp/pkctl-cfg-XXXXXX";
	struct run r;
	FILE *f;
	int fd;

	(void)state;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	r = run_cli((const char *const[]){ "-s", longpath, NULL }, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "longer than a UNIX socket path"));
	run_free(&r);

	r = run_cli((const char *const[]){ "-c", "/nonexistent/pickupd.yaml", NULL },
		    (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "-c /nonexistent/pickupd.yaml: "));
	run_free(&r);

	/* A settings file with an error: its loader's message. */
	fd = mkstemp(cfg);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("workers: 1\ncontrol_sockett: /tmp/x.sock\n", f);
	fclose(f);
	r = run_cli((const char *const[]){ "-c", cfg, NULL }, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, ":2:"));
	assert_non_null(strstr(r.err, "control_sockett"));
	run_free(&r);
	unlink(cfg);
}

/* ---- rendering ---- */

static char *render(const char *const *args, const char *result_json, int *rc)
{
	struct pk_ctl_inv inv;
	char *argv[MAX_ARGS + 1], *o = NULL, *e = NULL;
	size_t ol, el;
	FILE *out = open_memstream(&o, &ol), *err = open_memstream(&e, &el);
	json_error_t je;
	json_t *res = json_loads(result_json, 0, &je);
	int argc = build_argv(argv, NULL, args);

	if (res == NULL)
		fail_msg("bad sample: %s", je.text);
	assert_int_equal(pk_ctl_parse(argc, argv, &inv, out, err), 0);
	*rc = pk_ctl_render(&inv, res, out, err);
	fclose(out);
	fclose(err);
	if (*rc != 0)
		print_message("stderr: %s", e);
	json_decref(res);
	json_decref(inv.request);
	free_argv(argv);
	free(e);
	return o;
}

static void test_render_calls(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "calls", NULL },
		   "{\"calls\":[{\"call_id\":\"a84b4c76e66710@pc33.example.test\",\"state\":\"ringing\","
		   "\"callee\":\"bob@example.test\",\"groups\":[\"*801\",\"*802\"],\"age_ms\":3250},"
		   "{\"call_id\":\"x1\",\"state\":\"claimed\",\"callee\":\"alice@example.test\","
		   "\"groups\":[\"*801\"],\"age_ms\":65000},"
		   "{\"call_id\":\"long-ringing\",\"state\":\"ringing\",\"callee\":\"carol@example.test\","
		   "\"groups\":[],\"age_ms\":7322000}],\"truncated\":true}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"CALL-ID                           STATE    CALLEE              GROUPS       AGE\n"
		"a84b4c76e66710@pc33.example.test  ringing  bob@example.test    *801,*802   3.2s\n"
		"x1                                claimed  alice@example.test  *801       1m05s\n"
		"long-ringing                      ringing  carol@example.test             2h02m\n"
		"(truncated after 3 calls: --limit shows more)\n");
	free(t);

	t = render((const char *const[]){ "calls", NULL }, "{\"calls\":[],\"truncated\":false}", &rc);
	assert_string_equal(t, "no ringing calls\n");
	free(t);
}

static void test_render_registrations(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "registrations", NULL },
		   "{\"registrations\":[{\"aor\":\"alice@example.test\",\"contact\":"
		   "\"sip:alice@192.0.2.10:5060\",\"expires_in_s\":3599,\"source\":\"192.0.2.10:5060/udp\","
		   "\"static\":false},{\"aor\":\"gw@example.test\",\"contact\":\"sip:gw.example.test\","
		   "\"expires_in_s\":null,\"source\":\"config\",\"static\":true}],\"truncated\":false}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"AOR                 CONTACT                    EXPIRES  SOURCE               STATIC\n"
		"alice@example.test  sip:alice@192.0.2.10:5060    3599s  192.0.2.10:5060/udp  no\n"
		"gw@example.test     sip:gw.example.test              -  config               yes\n");
	free(t);
}

static void test_render_neighbours(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "neighbours", NULL },
		   "{\"neighbours\":{\"net_af_packet0\":[{\"address\":\"10.98.1.2\",\"mac\":"
		   "\"02:00:00:00:01:02\",\"state\":\"reachable\",\"age_ms\":1250,\"queued\":0,"
		   "\"workers\":[0,1]},{\"address\":\"10.98.1.77\",\"mac\":null,\"state\":"
		   "\"incomplete\",\"age_ms\":300,\"queued\":3,\"workers\":[1]}],"
		   "\"net_af_packet1\":[{\"address\":\"10.98.2.2\",\"mac\":\"02:00:00:00:02:02\","
		   "\"state\":\"stale\",\"age_ms\":95000,\"queued\":0,\"workers\":[0]}]}}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"PORT            ADDRESS     MAC                STATE         AGE  QUEUED  WORKERS\n"
		"net_af_packet0  10.98.1.2   02:00:00:00:01:02  reachable    1.2s       0  0,1\n"
		"net_af_packet0  10.98.1.77  -                  incomplete   0.3s       3  1\n"
		"net_af_packet1  10.98.2.2   02:00:00:00:02:02  stale       1m35s       0  0\n");
	free(t);
	t = render((const char *const[]){ "neighbours", NULL }, "{\"neighbours\":{\"net_af_packet0\":[]}}", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, "no neighbours\n");
	free(t);
}

static void test_render_groups(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "groups", NULL },
		   "{\"groups\":[{\"number\":\"*801\",\"name\":\"Sales\",\"members\":["
		   "{\"user\":\"alice@example.test\",\"rights\":[\"ring\",\"pickup\"]},"
		   "{\"user\":\"bob@example.test\",\"rights\":[\"pickup\"]}]},"
		   "{\"number\":\"*802\",\"name\":\"\",\"members\":[]},"
		   "{\"number\":\"8030\",\"name\":\"Ward 3 nurses\",\"members\":["
		   "{\"user\":\"carol@example.test\",\"rights\":[\"ring\"]}]}],"
		   "\"settings\":{\"domains\":[\"example.test\",\"example.org\"],\"pickup_code\":\"*8\","
		   "\"directed_prefix\":\"**\",\"ring_timeout\":120}}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"NUMBER  NAME           MEMBER              RIGHTS\n"
		"*801    Sales          alice@example.test  ring,pickup\n"
		"                       bob@example.test    pickup\n"
		"*802                   -\n"
		"8030    Ward 3 nurses  carol@example.test  ring\n"
		"\n"
		"settings\n"
		"  domains          example.test,example.org\n"
		"  pickup_code      *8\n"
		"  directed_prefix  **\n"
		"  ring_timeout     120\n");
	free(t);
}

static const char stats_sample[] =
	"{\"uptime_s\":12.5,"
	"\"totals\":{\"rx\":1500,\"tx\":1498,\"slow_path\":3},"
	"\"rejects\":{\"400\":2,\"other\":0},"
	"\"proxy\":{\"forwarded\":1400},"
	"\"pickup\":{\"ok\":7,\"no_call\":1},"
	"\"workers\":["
	"{\"id\":0,\"counters\":{\"rx\":1000,\"tx\":999,\"slow_path\":3},\"rejects\":{\"400\":2,\"other\":0},"
	"\"proxy\":{\"forwarded\":900},\"pickup\":{\"ok\":5,\"no_call\":0}},"
	"{\"id\":1,\"counters\":{\"rx\":500,\"tx\":499,\"slow_path\":0},\"rejects\":{\"400\":0,\"other\":0},"
	"\"proxy\":{\"forwarded\":500},\"pickup\":{\"ok\":2,\"no_call\":1}}],"
	"\"calls\":{\"capacity\":65536,\"in_use\":4,\"ringing\":2,\"counters\":{\"inserted\":10}},"
	"\"memory\":{\"calltab_bytes\":4194304,\"jemalloc\":{\"allocated\":123456}}}";

static void test_render_stats(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "stats", NULL }, stats_sample, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"uptime_s  12.5\n"
		"\n"
		"COUNTER    TOTAL    W0   W1\n"
		"rx          1500  1000  500\n"
		"tx          1498   999  499\n"
		"slow_path      3     3    0\n"
		"\n"
		"REJECT  TOTAL  W0  W1\n"
		"400         2   2   0\n"
		"other       0   0   0\n"
		"\n"
		"PROXY      TOTAL   W0   W1\n"
		"forwarded   1400  900  500\n"
		"\n"
		"PICKUP   TOTAL  W0  W1\n"
		"ok           7   5   2\n"
		"no_call      1   0   1\n"
		"\n"
		"calls\n"
		"  capacity           65536\n"
		"  in_use             4\n"
		"  ringing            2\n"
		"  counters.inserted  10\n"
		"\n"
		"memory\n"
		"  calltab_bytes       4194304\n"
		"  jemalloc.allocated  123456\n");
	free(t);

	/* One worker's column. */
	t = render((const char *const[]){ "stats", "--worker", "1", NULL }, stats_sample, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "COUNTER    TOTAL   W1\nrx          1500  500\n"));
	assert_null(strstr(t, "W0"));
	free(t);

	/* --json --worker: that worker's object. */
	t = render((const char *const[]){ "stats", "--worker", "1", "--json", NULL }, stats_sample, &rc);
	assert_int_equal(rc, 0);
	assert_true(starts_with(t, "{\n  \"id\": 1,\n  \"counters\": {\n    \"rx\": 500,\n"));
	free(t);

	/* A worker pickupd does not run. */
	t = render((const char *const[]){ "stats", "--worker", "7", NULL }, stats_sample, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(t, "");
	free(t);
}

/* pickupd's stats with the I/O queues' counters (every backend) and, on
 * the dpdk backend, the network layer's per port (keyed by the ethdev
 * name: a vdev and a PCI address), in the order pickupd writes them. */
#define STATS_IO                                                                                        \
	"{\"uptime_s\":3.5,"                                                                            \
	"\"totals\":{\"rx\":30},"                                                                       \
	"\"io\":{\"udp_rx\":15,\"udp_tx\":9,\"rx_bursts\":12},"                                         \
	"\"workers\":["                                                                                 \
	"{\"id\":0,\"counters\":{\"rx\":10},\"io\":{\"udp_rx\":5,\"udp_tx\":3,\"rx_bursts\":4}},"       \
	"{\"id\":1,\"counters\":{\"rx\":20},\"io\":{\"udp_rx\":10,\"udp_tx\":6,\"rx_bursts\":8}}],"     \
	"\"calls\":{\"ringing\":1}"
#define STATS_NET                                                                                       \
	",\"net\":{\"net_af_packet0\":{\"rx_frames\":1200,\"icmp_echo_replied\":3,\"udp_rx\":7},"       \
	"\"0000:3b:00.0\":{\"rx_frames\":20,\"icmp_echo_replied\":0,\"udp_rx\":8}}"

static const char stats_io_sample[] = STATS_IO "}";
static const char stats_net_sample[] = STATS_IO STATS_NET "}";
/* the same as pickupd writes it: each worker with its share of net */
static const char stats_wnet_sample[] =
	"{\"uptime_s\":3.5,"
	"\"workers\":["
	"{\"id\":0,\"counters\":{\"rx\":10},"
	"\"net\":{\"net_af_packet0\":{\"rx_frames\":1000,\"icmp_echo_replied\":1,\"udp_rx\":5},"
	"\"0000:3b:00.0\":{\"rx_frames\":0,\"icmp_echo_replied\":0,\"udp_rx\":0}}},"
	"{\"id\":1,\"counters\":{\"rx\":20},"
	"\"net\":{\"net_af_packet0\":{\"rx_frames\":200,\"icmp_echo_replied\":2,\"udp_rx\":2},"
	"\"0000:3b:00.0\":{\"rx_frames\":20,\"icmp_echo_replied\":0,\"udp_rx\":8}}}]"
	STATS_NET "}";

/* The view of stats_io_sample, which stats_net_sample's begins with. */
#define STATS_IO_VIEW \
	"uptime_s  3.5\n" \
	"\n" \
	"COUNTER  TOTAL  W0  W1\n" \
	"rx          30  10  20\n" \
	"\n" \
	"IO         TOTAL  W0  W1\n" \
	"udp_rx        15   5  10\n" \
	"udp_tx         9   3   6\n" \
	"rx_bursts     12   4   8\n" \
	"\n" \
	"calls\n" \
	"  ringing  1\n"

static void test_render_stats_io_net(void **state)
{
	int rc;
	char *t;

	(void)state;
	/* Socket backend: the IO table, no NET one. */
	t = render((const char *const[]){ "stats", NULL }, stats_io_sample, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, STATS_IO_VIEW);
	assert_null(strstr(t, "NET"));
	free(t);

	/* Dpdk backend: a column per port, in the order of the stats. */
	t = render((const char *const[]){ "stats", NULL }, stats_net_sample, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, STATS_IO_VIEW
		"\n"
		"NET                net_af_packet0  0000:3b:00.0\n"
		"rx_frames                    1200            20\n"
		"icmp_echo_replied               3             0\n"
		"udp_rx                          7             8\n");
	free(t);

	/* One worker's column of IO too. */
	t = render((const char *const[]){ "stats", "--worker", "1", NULL }, stats_net_sample, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "\nIO         TOTAL  W1\nudp_rx        15  10\nudp_tx         9   6\n"));
	assert_null(strstr(t, "W0"));
	free(t);

	/* --worker N: the NET table is that worker's share, titled so; the
	 * whole-port table is not shown */
	t = render((const char *const[]){ "stats", "--worker", "1", NULL }, stats_wnet_sample, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "\n"
				  "NET W1             net_af_packet0  0000:3b:00.0\n"
				  "rx_frames                     200            20\n"
				  "icmp_echo_replied               2             0\n"
				  "udp_rx                          2             8\n"));
	assert_null(strstr(t, "1200"));
	assert_null(strstr(t, "\nNET  "));
	free(t);
	/* and without --worker, the ports' totals as before */
	t = render((const char *const[]){ "stats", NULL }, stats_wnet_sample, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "\nNET                net_af_packet0  0000:3b:00.0\n"
				  "rx_frames                    1200            20\n"));
	assert_null(strstr(t, "NET W"));
	free(t);
	/* a worker without its share (an older pickupd): the ports' table */
	t = render((const char *const[]){ "stats", "--worker", "1", NULL }, stats_net_sample, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "\nNET                net_af_packet0  0000:3b:00.0\n"));
	free(t);

	/* The ports' links: a column per port too. */
	t = render((const char *const[]){ "stats", NULL },
		   "{\"ports\":{\"net_af_packet0\":{\"link_up\":true,\"speed_mbps\":10000,\"full_duplex\":true,"
		   "\"link_changes\":0},\"0000:3b:00.0\":{\"link_up\":false,\"speed_mbps\":0,\"full_duplex\":false,"
		   "\"link_changes\":3}}}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"PORTS         net_af_packet0  0000:3b:00.0\n"
		"link_up                 true         false\n"
		"speed_mbps             10000             0\n"
		"full_duplex             true         false\n"
		"link_changes               0             3\n");
	free(t);

	/* A port missing a counter of another: "-", both ways. */
	t = render((const char *const[]){ "stats", NULL },
		   "{\"net\":{\"p0\":{\"rx_frames\":1,\"udp_rx\":2},\"p1\":{\"rx_frames\":3,\"arp_rx\":4}}}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"NET        p0  p1\n"
		"rx_frames   1   3\n"
		"udp_rx      2   -\n"
		"arp_rx      -   4\n");
	free(t);

	/* A port that is not an object: the section as key-value lines,
	 * every port shown (no table that would hide one). */
	t = render((const char *const[]){ "stats", NULL },
		   "{\"net\":{\"p0\":{\"rx_frames\":1},\"p1\":7}}", &rc);
	assert_int_equal(rc, 0);
	assert_null(strstr(t, "NET"));
	assert_non_null(strstr(t, "net\n"));
	assert_non_null(strstr(t, "p1"));
	assert_non_null(strstr(t, "rx_frames"));
	free(t);
}

static void test_render_kv_metrics_json(void **state)
{
	int rc;
	char *t;

	(void)state;
	t = render((const char *const[]){ "status", NULL },
		   "{\"version\":\"0.1.0\",\"pid\":4242,\"uptime_s\":3600.25,\"backend\":\"socket\","
		   "\"workers\":2,\"groups_version\":7,\"control_socket\":\"/run/pickupd/pickupd.sock\"}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"version         0.1.0\n"
		"pid             4242\n"
		"uptime_s        3600.25\n"
		"backend         socket\n"
		"workers         2\n"
		"groups_version  7\n"
		"control_socket  /run/pickupd/pickupd.sock\n");
	free(t);

	t = render((const char *const[]){ "shutdown", NULL }, "{}", &rc);
	assert_string_equal(t, "ok\n");
	free(t);

	t = render((const char *const[]){ "get", NULL },
		   "{\"ring_timeout\":60,\"claim_timeout\":32,\"log_level\":\"info\","
		   "\"trusted\":[\"10.0.0.0/8\",\"192.168.0.0/16\"]}",
		   &rc);
	assert_string_equal(t,
		"ring_timeout   60\n"
		"claim_timeout  32\n"
		"log_level      info\n"
		"trusted        10.0.0.0/8,192.168.0.0/16\n");
	free(t);

	t = render((const char *const[]){ "metrics", NULL },
		   "{\"text\":\"# TYPE pickupd_rx_total counter\\npickupd_rx_total 12\\n\"}", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, "# TYPE pickupd_rx_total counter\npickupd_rx_total 12\n");
	free(t);

	/* --json: the object as received, keys in its order, reals exact. */
	t = render((const char *const[]){ "--json", "status", NULL },
		   "{\"version\":\"0.1.0\",\"pid\":4242,\"uptime_s\":12.345,\"zeta\":[],\"alpha\":{},"
		   "\"list\":[1,0.1,\"é\",null,true],\"nested\":{\"b\":2,\"a\":1e300}}",
		   &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t,
		"{\n"
		"  \"version\": \"0.1.0\",\n"
		"  \"pid\": 4242,\n"
		"  \"uptime_s\": 12.345,\n"
		"  \"zeta\": [],\n"
		"  \"alpha\": {},\n"
		"  \"list\": [\n"
		"    1,\n"
		"    0.1,\n"
		"    \"é\",\n"
		"    null,\n"
		"    true\n"
		"  ],\n"
		"  \"nested\": {\n"
		"    \"b\": 2,\n"
		"    \"a\": 1e+300\n"
		"  }\n"
		"}\n");
	free(t);
}

/* ---- whole runs against fake servers ---- */

static void test_exchange_ok(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, FAKE_REPLY,
		   "{\"ok\":true,\"result\":{\"group\":\"*801\",\"user\":\"alice@example.test\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL },
		    (const char *const[]){ "member", "add", "*801", "alice@example.test", "--rights",
					   "pickup", NULL });
	fake_join(&f);
	assert_true(f.accepted);
	assert_string_equal(f.got, "{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\",\"user\":"
				   "\"alice@example.test\",\"rights\":[\"pickup\"]}}\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "group  *801\nuser   alice@example.test\n");
	assert_string_equal(r.err, "");
	run_free(&r);
	fake_cleanup(&f);

	/* --json and a response with an id and extra bytes after the line. */
	fake_start(&f, FAKE_REPLY, "{\"ok\":true,\"result\":{\"number\":\"*802\"},\"id\":null}\nnoise");
	r = run_cli((const char *const[]){ "-s", f.path, "--json", NULL },
		    (const char *const[]){ "group", "renumber", "*801", "*802", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"group.renumber\",\"args\":{\"number\":\"*801\","
				   "\"new_number\":\"*802\"}}\n");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\n  \"number\": \"*802\"\n}\n");
	run_free(&r);
	fake_cleanup(&f);
}

static void test_exchange_error(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, FAKE_REPLY,
		   "{\"ok\":false,\"error\":{\"code\":\"unknown_group\",\"message\":\"no group *801\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL },
		    (const char *const[]){ "group", "remove", "*801", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"group.remove\",\"args\":{\"number\":\"*801\"}}\n");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "pickupctl: unknown_group: no group *801\n");
	run_free(&r);
	fake_cleanup(&f);

	/* raw prints the whole response, and its ok decides the status. */
	fake_start(&f, FAKE_REPLY,
		   "{\"ok\":false,\"error\":{\"code\":\"unknown_command\",\"message\":\"no command x\"},"
		   "\"id\":3}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL },
		    (const char *const[]){ "raw", "{\"cmd\":\"x\",\"id\":3}", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"x\",\"id\":3}\n");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "{\n  \"ok\": false,\n  \"error\": {\n    \"code\": \"unknown_command\",\n"
				   "    \"message\": \"no command x\"\n  },\n  \"id\": 3\n}\n");
	run_free(&r);
	fake_cleanup(&f);

	/* Refused before the request is read (SO_PEERCRED check, too many
	 * clients): the one response line still counts. */
	fake_start(&f, FAKE_REFUSE,
		   "{\"ok\":false,\"error\":{\"code\":\"permission_denied\",\"message\":\"uid 65534 is "
		   "neither pickupd's user nor root\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pickupctl: permission_denied: uid 65534 is neither pickupd's user "
				   "nor root\n");
	run_free(&r);
	fake_cleanup(&f);

	/* Not a response at all. */
	fake_start(&f, FAKE_REPLY, "hello\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, f.path));
	assert_non_null(strstr(r.err, "not a control-socket response"));
	run_free(&r);
	fake_cleanup(&f);
}

static void test_exchange_no_answer(void **state)
{
	struct fake f;
	struct run r;
	char want[256];

	(void)state;
	fake_start(&f, FAKE_SILENT, NULL);
	r = run_cli((const char *const[]){ "-s", f.path, "--timeout", "0.3", NULL },
		    (const char *const[]){ "reload", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"reload\"}\n");
	assert_int_equal(r.rc, 3);
	snprintf(want, sizeof(want), "pickupctl: %s: no answer within 0.3 s\n", f.path);
	assert_string_equal(r.err, want);
	assert_true(r.secs >= 0.29);
	assert_true(r.secs < 3.0);
	run_free(&r);
	fake_cleanup(&f);
}

static void test_exchange_closed(void **state)
{
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, FAKE_CLOSE, NULL);
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "save", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"save\"}\n");
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, f.path));
	assert_non_null(strstr(r.err, "closed by pickupd before a complete response (0 bytes"));
	assert_true(r.secs < 3.0);
	run_free(&r);
	fake_cleanup(&f);

	fake_start(&f, FAKE_PARTIAL, "{\"ok\":true,\"result\":{\"version\":\"0.1.0\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, "before a complete response (20 bytes received)"));
	assert_string_equal(r.out, "");
	run_free(&r);
	fake_cleanup(&f);
}

/* A request far larger than the socket's buffer, for the exchanges where
 * pickupd does not read it: {"cmd":"status","args":{"pad":"xxx..."}}. */
static char *big_request(size_t pad)
{
	static const char head[] = "{\"cmd\":\"status\",\"args\":{\"pad\":\"";
	char *s = malloc(sizeof(head) + pad + 4);

	assert_non_null(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', pad);
	strcpy(s + sizeof(head) - 1 + pad, "\"}}");
	return s;
}

/* An answer far larger than the first read buffer (a groups list of a
 * large site) is read whole, in the pieces it arrives in. */
static void test_exchange_large_answer(void **state)
{
	static const char head[] = "{\"ok\":true,\"result\":{\"pad\":\"";
	size_t pad = 300000;
	char *reply = malloc(sizeof(head) + pad + 8);
	struct fake f;
	struct run r;
	json_t *j;

	(void)state;
	assert_non_null(reply);
	memcpy(reply, head, sizeof(head) - 1);
	memset(reply + sizeof(head) - 1, 'y', pad);
	strcpy(reply + sizeof(head) - 1 + pad, "\"}}\n");
	fake_start(&f, FAKE_REPLY, reply);
	r = run_cli((const char *const[]){ "-s", f.path, "--json", NULL },
		    (const char *const[]){ "status", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_string_length(json_object_get(j, "pad")), pad);
	json_decref(j);
	run_free(&r);
	fake_cleanup(&f);
	free(reply);
}

/* pickupd goes away in the middle of its answer, with the request still
 * unread (killed while busy): a reset, reported with the bytes received,
 * no output and no JSON error on half a line. */
static void test_exchange_reset(void **state)
{
	struct fake f;
	struct run r;
	char want[256];

	(void)state;
	fake_start(&f, FAKE_RESET, "{\"ok\":true,\"result\":{\"version\":\"0.1.0\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	fake_join(&f);
	assert_string_equal(f.got, "{\"cmd\":\"status\"}\n");
	assert_int_equal(r.rc, 3);
	snprintf(want, sizeof(want),
		 "pickupctl: %s: connection reset by pickupd before a complete response (20 bytes "
		 "received)\n",
		 f.path);
	assert_string_equal(r.err, want);
	assert_string_equal(r.out, "");
	assert_true(r.secs < 3.0);
	run_free(&r);
	fake_cleanup(&f);
}

/* Refused before its request is read, while a large request is still
 * being sent: the send fails (EPIPE), and the refusal queued for the
 * client is still what the operator reads. */
static void test_exchange_refused_mid_request(void **state)
{
	char *req = big_request(1u << 20);
	struct fake f;
	struct run r;

	(void)state;
	fake_start(&f, FAKE_REFUSE,
		   "{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"too many control "
		   "clients\"}}\n");
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "raw", req, NULL });
	fake_join(&f);
	assert_true(f.accepted);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.out, "\"busy\""));
	assert_non_null(strstr(r.out, "too many control clients"));
	assert_true(r.secs < 3.0);
	run_free(&r);
	fake_cleanup(&f);
	free(req);
}

/* pickupd accepts but never reads (its control thread stuck): a request
 * larger than the socket buffer cannot be sent, and the timeout (here
 * whole seconds, as the default is) bounds the run. */
static void test_exchange_request_not_taken(void **state)
{
	char *req = big_request(1u << 20);
	struct fake f;
	struct run r;
	char want[256];

	(void)state;
	fake_start(&f, FAKE_DEAF, NULL);
	r = run_cli((const char *const[]){ "-s", f.path, "--timeout", "1", NULL },
		    (const char *const[]){ "raw", req, NULL });
	fake_join(&f);
	assert_true(f.accepted);
	assert_int_equal(r.rc, 3);
	snprintf(want, sizeof(want), "pickupctl: %s: request not taken within 1 s (pickupd not reading)\n",
		 f.path);
	assert_string_equal(r.err, want);
	assert_string_equal(r.out, "");
	assert_true(r.secs >= 0.99);
	assert_true(r.secs < 5.0);
	run_free(&r);
	fake_cleanup(&f);
	free(req);
}

static void test_unreachable(void **state)
{
	struct fake f;
	struct run r;
	char want[256];
	int fd;

	(void)state;
	/* No socket file. */
	fake_dir(&f);
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 3);
	snprintf(want, sizeof(want), "pickupctl: %s: no such socket file", f.path);
	assert_true(strncmp(r.err, want, strlen(want)) == 0);
	assert_string_equal(r.out, "");
	run_free(&r);

	/* A socket file nobody listens on (pickupd died). */
	fd = fake_bind(&f);
	r = run_cli((const char *const[]){ "-s", f.path, NULL }, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, f.path));
	assert_non_null(strstr(r.err, "connection refused"));
	run_free(&r);
	close(fd);
	unlink(f.path);

	/* A listener whose queue is full: the connect itself must time out. */
	f.lfd = fake_bind(&f);
	assert_int_equal(listen(f.lfd, 0), 0);
	{
		int fill[8], n = 0;

		for (; n < 8; n++) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };

			fill[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
			strcpy(sa.sun_path, f.path);
			if (connect(fill[n], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				assert_int_equal(errno, EAGAIN);
				close(fill[n]);
				break;
			}
		}
		assert_true(n < 8);
		r = run_cli((const char *const[]){ "-s", f.path, "--timeout", "0.3", NULL },
			    (const char *const[]){ "status", NULL });
		assert_int_equal(r.rc, 3);
		assert_non_null(strstr(r.err, "not accepted within 0.3 s"));
		assert_true(r.secs >= 0.29);
		assert_true(r.secs < 3.0);
		run_free(&r);
		while (n-- > 0)
			close(fill[n]);
	}
	fake_cleanup(&f);
}

/* The socket is pickupd's user's only (0600): anyone else gets a clear
 * permission error. As root, the client runs in a child as nobody. */
static void test_permission_denied(void **state)
{
	struct fake f;
	struct run r = { 0 };
	int p[2];

	(void)state;
	fake_dir(&f);
	f.lfd = fake_bind(&f);
	assert_int_equal(listen(f.lfd, 4), 0);
	assert_int_equal(chmod(f.path, 0600), 0);
	if (geteuid() != 0) {
		assert_int_equal(chmod(f.path, 0), 0);
		r = run_cli((const char *const[]){ "-s", f.path, NULL },
			    (const char *const[]){ "status", NULL });
	} else {
		pid_t pid;
		int st;
		char buf[1024];
		ssize_t n;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			FILE *err;
			struct run c;

			close(p[0]);
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(99);
			c = run_cli((const char *const[]){ "-s", f.path, NULL },
				    (const char *const[]){ "status", NULL });
			err = fdopen(p[1], "w");
			fputs(c.err, err);
			fclose(err);
			_exit(c.rc);
		}
		close(p[1]);
		n = read(p[0], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(p[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		r.rc = WEXITSTATUS(st);
		r.err = strdup(buf);
		r.out = strdup("");
	}
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, f.path));
	assert_non_null(strstr(r.err, "permission denied"));
	assert_false(pending_connection(f.lfd));
	run_free(&r);
	fake_cleanup(&f);
}

/* -s, else -c's control_socket, else $PICKUPCTL_SOCKET, else the
 * default. */
static void test_socket_lookup(void **state)
{
	struct fake f;
	struct run r;
	struct pk_ctl_inv inv = { 0 };
	char cfg[256], path[256];
	FILE *fp;
	size_t el;
	char *e = NULL;
	FILE *err;

	(void)state;
	/* The environment. */
	fake_start(&f, FAKE_REPLY, "{\"ok\":true,\"result\":{}}\n");
	setenv(PK_CTL_ENV_SOCKET, f.path, 1);
	r = run_cli(NULL, (const char *const[]){ "shutdown", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(f.got, "{\"cmd\":\"shutdown\"}\n");
	assert_string_equal(r.out, "ok\n");
	run_free(&r);
	fake_cleanup(&f);

	/* -c: a relative control_socket is relative to the settings file,
	 * and wins over the environment (still set, to a dead path). */
	fake_start(&f, FAKE_REPLY, "{\"ok\":true,\"result\":{\"ring_timeout\":60}}\n");
	snprintf(cfg, sizeof(cfg), "%s/pickupd.yaml", f.dir);
	fp = fopen(cfg, "w");
	assert_non_null(fp);
	fputs("workers: 1\ncontrol_socket: ctl.sock\n", fp);
	fclose(fp);
	setenv(PK_CTL_ENV_SOCKET, "/nonexistent/pickupd.sock", 1);
	r = run_cli((const char *const[]){ "-c", cfg, NULL },
		    (const char *const[]){ "get", "ring_timeout", NULL });
	fake_join(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(f.got, "{\"cmd\":\"get\",\"args\":{\"name\":\"ring_timeout\"}}\n");
	assert_string_equal(r.out, "ring_timeout  60\n");
	run_free(&r);
	unlink(cfg);
	fake_cleanup(&f);

	/* A pickupd configured without a control socket. */
	snprintf(cfg, sizeof(cfg), "/tmp/pkctl-none-%d.yaml", (int)getpid());
	fp = fopen(cfg, "w");
	assert_non_null(fp);
	fputs("control_socket: none\n", fp);
	fclose(fp);
	r = run_cli((const char *const[]){ "-c", cfg, NULL }, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, "control_socket is none"));
	run_free(&r);
	unlink(cfg);

	/* The environment names the socket in the message when it is dead. */
	r = run_cli(NULL, (const char *const[]){ "status", NULL });
	assert_int_equal(r.rc, 3);
	assert_non_null(strstr(r.err, "/nonexistent/pickupd.sock"));
	run_free(&r);

	/* The default, when nothing names a socket: control_socket's default
	 * (docs/config.md). */
	unsetenv(PK_CTL_ENV_SOCKET);
	err = open_memstream(&e, &el);
	inv.timeout_ms = 1000;
	assert_int_equal(pk_ctl_socket_resolve(&inv, path, sizeof(path), err), 0);
	fclose(err);
	free(e);
	assert_string_equal(path, "/run/pickupd/pickupd.sock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_request_options),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_socket_usage_errors),
		cmocka_unit_test(test_render_calls),
		cmocka_unit_test(test_render_registrations),
		cmocka_unit_test(test_render_neighbours),
		cmocka_unit_test(test_render_groups),
		cmocka_unit_test(test_render_stats),
		cmocka_unit_test(test_render_stats_io_net),
		cmocka_unit_test(test_render_kv_metrics_json),
		cmocka_unit_test(test_exchange_ok),
		cmocka_unit_test(test_exchange_error),
		cmocka_unit_test(test_exchange_no_answer),
		cmocka_unit_test(test_exchange_closed),
		cmocka_unit_test(test_exchange_large_answer),
		cmocka_unit_test(test_exchange_reset),
		cmocka_unit_test(test_exchange_refused_mid_request),
		cmocka_unit_test(test_exchange_request_not_taken),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_permission_denied),
		cmocka_unit_test(test_socket_lookup),
	};

	unsetenv(PK_CTL_ENV_SOCKET);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
