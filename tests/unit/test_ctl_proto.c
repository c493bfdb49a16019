/* SPDX-License-Identifier: MIT */
/*
 * The control socket's wire protocol (control/ctl_proto.c): request
 * parsing, one-line responses, argument checks, rights, trusted networks
 * and tunable values, and the errno -> error code mapping. The server
 * around it is exercised end to end by tests/integration/test_control.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_proto.h"
#include "pickup/groups.h"
#include "pickup/groups_conf.h"

static enum pk_ctl_error parse(const char *line, struct pk_ctl_req *req, char *msg)
{
	return pk_ctl_req_parse(line, strlen(line), req, msg, PK_CTL_MSG_MAX);
}

static void test_request_ok(void **state)
{
	struct pk_ctl_req req;
	char msg[PK_CTL_MSG_MAX];

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"member.add\",\"args\":{\"group\":\"*801\"},\"id\":7}", &req, msg), PK_CTL_OK);
	assert_string_equal(req.cmd, "member.add");
	assert_string_equal(json_string_value(json_object_get(req.args, "group")), "*801");
	assert_int_equal(json_integer_value(req.id), 7);
	pk_ctl_req_free(&req);

	/* no args: an empty object; no id: NULL */
	assert_int_equal(parse("{\"cmd\":\"status\"}", &req, msg), PK_CTL_OK);
	assert_true(json_is_object(req.args));
	assert_int_equal(json_object_size(req.args), 0);
	assert_null(req.id);
	pk_ctl_req_free(&req);
	assert_int_equal(parse("{\"cmd\":\"status\",\"args\":null}", &req, msg), PK_CTL_OK);
	assert_true(json_is_object(req.args));
	pk_ctl_req_free(&req);
}

static void test_request_bad(void **state)
{
	static const struct {
		const char *line;
		enum pk_ctl_error e;
		const char *in_msg;
	} cases[] = {
		{ "", PK_CTL_E_BAD_REQUEST, "not JSON" },
		{ "{\"cmd\":", PK_CTL_E_BAD_REQUEST, "not JSON" },
		{ "[\"status\"]", PK_CTL_E_BAD_REQUEST, "object" },
		{ "\"status\"", PK_CTL_E_BAD_REQUEST, "" },
		{ "{}", PK_CTL_E_BAD_REQUEST, "cmd" },
		{ "{\"cmd\":5}", PK_CTL_E_BAD_REQUEST, "cmd" },
		{ "{\"cmd\":\"status\",\"cmd\":\"stats\"}", PK_CTL_E_BAD_REQUEST, "not JSON" },
		{ "{\"cmd\":\"status\",\"agrs\":{}}", PK_CTL_E_BAD_REQUEST, "agrs" },
		{ "{\"cmd\":\"status\",\"args\":[1]}", PK_CTL_E_BAD_ARGUMENT, "object" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pk_ctl_req req;
		char msg[PK_CTL_MSG_MAX] = "";

		assert_int_equal(parse(cases[i].line, &req, msg), cases[i].e);
		if (strstr(msg, cases[i].in_msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].line, msg, cases[i].in_msg);
		pk_ctl_req_free(&req);
	}
}

/* The id of a request that fails later (bad args) is still echoed. */
static void test_id_echo(void **state)
{
	struct pk_ctl_req req;
	char msg[PK_CTL_MSG_MAX], *line;
	json_t *r, *back;
	size_t n;

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"x\",\"args\":3,\"id\":[1,\"a\"]}", &req, msg), PK_CTL_E_BAD_ARGUMENT);
	r = pk_ctl_err(PK_CTL_E_BAD_ARGUMENT, msg, req.id);
	line = pk_ctl_encode(r, &n);
	assert_non_null(line);
	back = json_loads(line, 0, NULL);
	assert_non_null(back);
	assert_true(json_is_false(json_object_get(back, "ok")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(back, "error"), "code")), "bad_argument");
	assert_true(json_equal(json_object_get(back, "id"), req.id));
	free(line);
	json_decref(back);
	json_decref(r);
	pk_ctl_req_free(&req);
}

static void test_encode_one_line(void **state)
{
	json_t *r = pk_ctl_ok(json_pack("{s:s}", "text", "a\nb\r\nc"), NULL);
	size_t n;
	char *line;

	(void)state;
	line = pk_ctl_encode(r, &n);
	assert_non_null(line);
	assert_int_equal(n, strlen(line));
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));
	assert_non_null(strstr(line, "\"ok\":true"));
	assert_null(strstr(line, "\"id\""));
	free(line);
	json_decref(r);
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(pk_ctl_error_name(PK_CTL_E_BAD_REQUEST), "bad_request");
	assert_string_equal(pk_ctl_error_name(PK_CTL_E_INVALID_NUMBER), "invalid_number");
	assert_string_equal(pk_ctl_error_name(PK_CTL_E_TOO_LARGE), "too_large");
	assert_string_equal(pk_ctl_error_name(PK_CTL_E_INTERNAL), "internal");
	for (int a = 1; a < PK_CTL_E_COUNT; a++)
		for (int b = a + 1; b < PK_CTL_E_COUNT; b++)
			assert_string_not_equal(pk_ctl_error_name(a), pk_ctl_error_name(b));
}

static void test_args(void **state)
{
	static const char *const names[] = { "group", "user", "limit", NULL };
	json_t *args = json_pack("{s:s, s:i, s:i}", "group", "*801", "limit", 5, "user", 3);
	char msg[PK_CTL_MSG_MAX];
	const char *s;
	size_t n;
	uint64_t u;

	(void)state;
	assert_int_equal(pk_ctl_args_allowed(args, names, msg, sizeof(msg)), PK_CTL_OK);
	json_object_set_new(args, "grup", json_string("x"));
	assert_int_equal(pk_ctl_args_allowed(args, names, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	assert_non_null(strstr(msg, "grup"));
	json_object_del(args, "grup");

	assert_int_equal(pk_ctl_arg_str(args, "group", true, &s, &n, msg, sizeof(msg)), PK_CTL_OK);
	assert_string_equal(s, "*801");
	assert_int_equal(n, 4);
	assert_int_equal(pk_ctl_arg_str(args, "user", true, &s, &n, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	assert_int_equal(pk_ctl_arg_str(args, "name", true, &s, &n, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	assert_non_null(strstr(msg, "missing"));
	assert_int_equal(pk_ctl_arg_str(args, "name", false, &s, &n, msg, sizeof(msg)), PK_CTL_OK);
	assert_null(s);

	assert_int_equal(pk_ctl_arg_uint(args, "limit", 1000, 10, &u, msg, sizeof(msg)), PK_CTL_OK);
	assert_int_equal(u, 5);
	assert_int_equal(pk_ctl_arg_uint(args, "nolimit", 1000, 10, &u, msg, sizeof(msg)), PK_CTL_OK);
	assert_int_equal(u, 1000);
	assert_int_equal(pk_ctl_arg_uint(args, "limit", 1000, 4, &u, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	assert_int_equal(pk_ctl_arg_uint(args, "group", 1000, 4, &u, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	json_decref(args);
}

static enum pk_ctl_error rights(const char *text, uint32_t *r)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	char msg[PK_CTL_MSG_MAX];
	enum pk_ctl_error e;

	assert_non_null(v);
	e = pk_ctl_rights_parse(v, r, msg, sizeof(msg));
	json_decref(v);
	return e;
}

static void test_rights(void **state)
{
	uint32_t r;
	json_t *j;

	(void)state;
	assert_int_equal(rights("[\"ring\"]", &r), PK_CTL_OK);
	assert_int_equal(r, PK_RIGHT_RING);
	assert_int_equal(rights("[\"pickup\",\"ring\"]", &r), PK_CTL_OK);
	assert_int_equal(r, PK_RIGHTS_ALL);
	assert_int_equal(rights("[]", &r), PK_CTL_E_INVALID_VALUE);
	assert_int_equal(rights("[\"fly\"]", &r), PK_CTL_E_INVALID_VALUE);
	assert_int_equal(rights("[\"ring\",\"ring\"]", &r), PK_CTL_E_INVALID_VALUE);
	assert_int_equal(rights("\"ring\"", &r), PK_CTL_E_BAD_ARGUMENT);
	assert_int_equal(rights("[1]", &r), PK_CTL_E_BAD_ARGUMENT);
	j = pk_ctl_rights_json(PK_RIGHTS_ALL);
	assert_int_equal(json_array_size(j), 2);
	assert_string_equal(json_string_value(json_array_get(j, 0)), "ring");
	assert_string_equal(json_string_value(json_array_get(j, 1)), "pickup");
	json_decref(j);
}

static void test_trusted(void **state)
{
	struct pk_trusted_set *t = malloc(sizeof(*t));
	char msg[PK_CTL_MSG_MAX];
	struct pk_addr a;
	json_t *v, *back;

	(void)state;
	assert_non_null(t);
	v = json_pack("[s, s, s]", "10.0.0.0/8", "127.0.0.1", "fd00::/8");
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_OK);
	assert_int_equal(t->n, 3);
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("10.9.8.7"), &a), 0);
	assert_true(pk_trusted_set_match(t, &a));
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("11.0.0.1"), &a), 0);
	assert_false(pk_trusted_set_match(t, &a));
	back = pk_ctl_trusted_json(t);
	assert_string_equal(json_string_value(json_array_get(back, 0)), "10.0.0.0/8");
	assert_string_equal(json_string_value(json_array_get(back, 1)), "127.0.0.1/32");
	assert_string_equal(json_string_value(json_array_get(back, 2)), "fd00::/8");
	json_decref(back);
	json_decref(v);

	/* empty: nobody trusted */
	v = json_array();
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_OK);
	assert_int_equal(t->n, 0);
	assert_false(pk_trusted_set_match(t, &a));
	for (int i = 0; i <= PK_ENGINE_MAX_TRUSTED; i++)
		json_array_append_new(v, json_string("10.0.0.0/8"));
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_E_INVALID_VALUE);
	json_decref(v);

	v = json_pack("[s]", "10.1.0.0/8"); /* host bits set */
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_E_INVALID_VALUE);
	assert_non_null(strstr(msg, "10.1.0.0/8"));
	json_decref(v);
	v = json_pack("[i]", 10);
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	json_decref(v);
	v = json_string("10.0.0.0/8");
	assert_int_equal(pk_ctl_trusted_parse(v, t, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	json_decref(v);
	free(t);
}

static void test_seconds_and_errno(void **state)
{
	char msg[PK_CTL_MSG_MAX];
	uint64_t s;
	json_t *v;

	(void)state;
	v = json_integer(30);
	assert_int_equal(pk_ctl_seconds_parse(v, 1, 300, &s, msg, sizeof(msg)), PK_CTL_OK);
	assert_int_equal(s, 30);
	assert_int_equal(pk_ctl_seconds_parse(v, 1, 29, &s, msg, sizeof(msg)), PK_CTL_E_INVALID_VALUE);
	assert_non_null(strstr(msg, "29"));
	json_integer_set(v, 0);
	assert_int_equal(pk_ctl_seconds_parse(v, 1, 300, &s, msg, sizeof(msg)), PK_CTL_E_INVALID_VALUE);
	json_decref(v);
	v = json_real(1.5);
	assert_int_equal(pk_ctl_seconds_parse(v, 1, 300, &s, msg, sizeof(msg)), PK_CTL_E_BAD_ARGUMENT);
	json_decref(v);

	assert_int_equal(pk_ctl_errno_code(0), PK_CTL_OK);
	assert_int_equal(pk_ctl_errno_code(-EINVAL), PK_CTL_E_INVALID_VALUE);
	assert_int_equal(pk_ctl_errno_code(-ENOENT), PK_CTL_E_UNKNOWN_GROUP);
	assert_int_equal(pk_ctl_errno_code(-EEXIST), PK_CTL_E_EXISTS);
	assert_int_equal(pk_ctl_errno_code(-ENOSPC), PK_CTL_E_CAPACITY);
	assert_int_equal(pk_ctl_errno_code(-ENOMEM), PK_CTL_E_INTERNAL);
}

static struct pk_engine_conf *conf_parse(const char *text, struct pk_engine_conf_error *err)
{
	return pk_engine_conf_parse(text, strlen(text), "pickupd.yaml", "/etc/pickupd", err);
}

static void test_conf_keys(void **state)
{
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c;

	(void)state;
	c = conf_parse("domains: [example.test]\n", &err);
	assert_non_null(c);
	assert_string_equal(c->control_socket, "/run/pickupd/pickupd.sock");
	assert_false(c->control_socket_set);
	assert_string_equal(c->metrics_listen, "");
	assert_false(c->telemetry);
	pk_engine_conf_free(c);

	c = conf_parse("control_socket: none\nmetrics_listen: 127.0.0.1:9105\ntelemetry: true\n", &err);
	assert_non_null(c);
	assert_string_equal(c->control_socket, "");
	assert_true(c->control_socket_set);
	assert_string_equal(c->metrics_listen, "127.0.0.1:9105");
	assert_true(c->telemetry);
	pk_engine_conf_free(c);

	c = conf_parse("control_socket: \"\"\nmetrics_listen: none\n", &err);
	assert_non_null(c);
	assert_string_equal(c->control_socket, "");
	assert_string_equal(c->metrics_listen, "");
	pk_engine_conf_free(c);

	c = conf_parse("control_socket: ctl.sock\nmetrics_listen: \"[::1]:0\"\n", &err);
	assert_non_null(c);
	assert_string_equal(c->control_socket, "/etc/pickupd/ctl.sock");
	assert_true(c->control_socket_set);
	assert_string_equal(c->metrics_listen, "[::1]:0");
	pk_engine_conf_free(c);

	assert_null(conf_parse("metrics_listen: localhost:9105\n", &err));
	assert_non_null(strstr(err.msg, "pickupd.yaml:1:17: "));
	assert_null(conf_parse("metrics_listen: 127.0.0.1\n", &err)); /* port required */
	assert_null(conf_parse("telemetry: yes\n", &err));
	assert_non_null(strstr(err.msg, "pickupd.yaml:1:12: "));
}

static void test_conf_check_groups(void **state)
{
	static const char good[] = "settings:\n  domains: [example.test]\n  ring_timeout: 60\ngroups: []\n";
	static const char other[] = "settings:\n  domains: [other.test]\ngroups: []\n";
	static const char slow[] = "settings:\n  domains: [example.test]\n  ring_timeout: 600\ngroups: []\n";
	struct pk_groups_conf_error gerr;
	struct pk_engine_conf_error err;
	struct pk_engine_conf *c;
	struct pk_groups_conf *g;
	uint32_t n_domains;

	(void)state;
	c = conf_parse("domains: [example.test, b.test]\ngroups: g.yaml\ntimers:\n  ring_timeout: 300\n", &err);
	assert_non_null(c);
	n_domains = c->served.n_domains;

	g = pk_groups_conf_parse(good, sizeof(good) - 1, "g.yaml", &gerr);
	assert_non_null(g);
	assert_int_equal(pk_engine_conf_check_groups(c, g, &err), 0);
	pk_groups_conf_free(g);

	g = pk_groups_conf_parse(other, sizeof(other) - 1, "g.yaml", &gerr);
	assert_non_null(g);
	assert_int_equal(pk_engine_conf_check_groups(c, g, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/etc/pickupd/g.yaml: "));
	assert_non_null(strstr(err.msg, "other.test"));
	pk_groups_conf_free(g);

	g = pk_groups_conf_parse(slow, sizeof(slow) - 1, "g.yaml", &gerr);
	assert_non_null(g);
	assert_int_equal(pk_engine_conf_check_groups(c, g, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "ring_timeout"));
	pk_groups_conf_free(g);

	/* the running settings are never changed by the check */
	assert_int_equal(c->served.n_domains, n_domains);
	pk_engine_conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_ok),   cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_id_echo),      cmocka_unit_test(test_encode_one_line),
		cmocka_unit_test(test_error_names),  cmocka_unit_test(test_args),
		cmocka_unit_test(test_rights),       cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_seconds_and_errno), cmocka_unit_test(test_conf_keys),
		cmocka_unit_test(test_conf_check_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
