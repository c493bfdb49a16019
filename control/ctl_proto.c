/* SPDX-License-Identifier: MIT */
/*
 * The control socket's wire protocol: request parsing, responses, argument
 * checks (control/ctl_proto.h, docs/control.md). No I/O and no engine
 * state, so that every rule of the protocol can be unit-tested.
 *
 * Threading: pure; any thread but a worker (jansson allocates).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "pickup/groups.h"

static const char *const pk_ctl_err_names[] = {
	"ok",
#define PK_CTL_ERR_NAME(id, name) name,
	PK_CTL_FOREACH_ERROR(PK_CTL_ERR_NAME)
#undef PK_CTL_ERR_NAME
};

const char *pk_ctl_error_name(enum pk_ctl_error e)
{
	return (unsigned)e < PK_CTL_E_COUNT ? pk_ctl_err_names[e] : "internal";
}

static enum pk_ctl_error ctl_fail(enum pk_ctl_error e, char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum pk_ctl_error ctl_fail(enum pk_ctl_error e, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return e;
}

enum pk_ctl_error pk_ctl_req_parse(const char *line, size_t len, struct pk_ctl_req *req, char *msg,
				   size_t msglen)
{
	json_error_t jerr;
	const char *k;
	json_t *cmd, *v;

	memset(req, 0, sizeof(*req));
	/* JSON_REJECT_DUPLICATES: a key given twice is ambiguous, refuse it as
	 * the settings files do. */
	req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req->root == NULL)
		return ctl_fail(PK_CTL_E_BAD_REQUEST, msg, msglen, "not JSON: %s at column %d", jerr.text,
				jerr.column);
	if (!json_is_object(req->root))
		return ctl_fail(PK_CTL_E_BAD_REQUEST, msg, msglen, "a request is a JSON object");
	req->id = json_object_get(req->root, "id");
	json_object_foreach(req->root, k, v) {
		(void)v;
		if (strcmp(k, "cmd") != 0 && strcmp(k, "args") != 0 && strcmp(k, "id") != 0)
			return ctl_fail(PK_CTL_E_BAD_REQUEST, msg, msglen,
					"unknown key '%s' (a request has cmd, args, id)", k);
	}
	cmd = json_object_get(req->root, "cmd");
	if (!json_is_string(cmd))
		return ctl_fail(PK_CTL_E_BAD_REQUEST, msg, msglen, "no \"cmd\" string");
	req->cmd = json_string_value(cmd);
	req->args = json_object_get(req->root, "args");
	if (req->args == NULL || json_is_null(req->args)) {
		req->args = json_object();
		if (req->args == NULL || json_object_set_new(req->root, "args", req->args) != 0)
			return ctl_fail(PK_CTL_E_INTERNAL, msg, msglen, "out of memory");
	} else if (!json_is_object(req->args)) {
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "\"args\" must be an object");
	}
	return PK_CTL_OK;
}

void pk_ctl_req_free(struct pk_ctl_req *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

json_t *pk_ctl_ok(json_t *result, json_t *id)
{
	json_t *r = json_object();

	if (result == NULL)
		result = json_object();
	if (r == NULL || result == NULL || json_object_set_new(r, "ok", json_true()) != 0 ||
	    json_object_set_new(r, "result", result) != 0 ||
	    (id != NULL && json_object_set(r, "id", id) != 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *pk_ctl_err(enum pk_ctl_error e, const char *msg, json_t *id)
{
	json_t *r = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", pk_ctl_error_name(e), "message",
			      msg != NULL ? msg : "");

	if (r != NULL && id != NULL && json_object_set(r, "id", id) != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

char *pk_ctl_encode(const json_t *resp, size_t *len)
{
	/* JSON_COMPACT never emits a newline (strings escape theirs), so the
	 * response is one line. */
	char *s = json_dumps(resp, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n;
	char *out;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	out = realloc(s, n + 2);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return out;
}

enum pk_ctl_error pk_ctl_args_allowed(const json_t *args, const char *const *names, char *msg, size_t msglen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)args, k, v) {
		bool ok = false;

		(void)v;
		for (unsigned i = 0; names != NULL && names[i] != NULL && !ok; i++)
			ok = strcmp(k, names[i]) == 0;
		if (!ok)
			return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "unknown argument '%s'", k);
	}
	return PK_CTL_OK;
}

enum pk_ctl_error pk_ctl_arg_str(const json_t *args, const char *name, bool required, const char **out,
				 size_t *outlen, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, name);

	*out = NULL;
	*outlen = 0;
	if (v == NULL)
		return required ? ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "missing argument '%s'", name)
				: PK_CTL_OK;
	if (!json_is_string(v))
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "argument '%s' must be a string", name);
	*out = json_string_value(v);
	*outlen = json_string_length(v);
	return PK_CTL_OK;
}

enum pk_ctl_error pk_ctl_arg_uint(const json_t *args, const char *name, uint64_t def, uint64_t max,
				  uint64_t *out, char *msg, size_t msglen)
{
	json_t *v = json_object_get(args, name);

	*out = def;
	if (v == NULL)
		return PK_CTL_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen,
				"argument '%s' must be an integer from 0 to %llu", name, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return PK_CTL_OK;
}

enum pk_ctl_error pk_ctl_rights_parse(const json_t *v, uint32_t *rights, char *msg, size_t msglen)
{
	size_t i;
	json_t *e;

	*rights = 0;
	if (!json_is_array(v))
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen,
				"'rights' must be an array of \"ring\" and \"pickup\"");
	json_array_foreach((json_t *)v, i, e) {
		uint32_t r;

		if (!json_is_string(e))
			return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen,
					"'rights' must be an array of \"ring\" and \"pickup\"");
		if (strcmp(json_string_value(e), "ring") == 0)
			r = PK_RIGHT_RING;
		else if (strcmp(json_string_value(e), "pickup") == 0)
			r = PK_RIGHT_PICKUP;
		else
			return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen,
					"unknown right '%s' (rights are \"ring\" and \"pickup\")",
					json_string_value(e));
		if (*rights & r)
			return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen, "right '%s' given twice",
					json_string_value(e));
		*rights |= r;
	}
	if (*rights == 0)
		return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen,
				"no right: a member has \"ring\", \"pickup\" or both");
	return PK_CTL_OK;
}

json_t *pk_ctl_rights_json(uint32_t rights)
{
	json_t *a = json_array();

	if (a == NULL)
		return NULL;
	if (rights & PK_RIGHT_RING)
		json_array_append_new(a, json_string("ring"));
	if (rights & PK_RIGHT_PICKUP)
		json_array_append_new(a, json_string("pickup"));
	return a;
}

enum pk_ctl_error pk_ctl_trusted_parse(const json_t *v, struct pk_trusted_set *t, char *msg, size_t msglen)
{
	size_t i;
	json_t *e;

	t->n = 0;
	if (!json_is_array(v))
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "'trusted' must be an array of networks");
	if (json_array_size(v) > PK_ENGINE_MAX_TRUSTED)
		return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen, "more than %d networks", PK_ENGINE_MAX_TRUSTED);
	json_array_foreach((json_t *)v, i, e) {
		if (!json_is_string(e))
			return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen,
					"'trusted' must be an array of networks (strings)");
		if (pk_cidr_parse(pk_str_make(json_string_value(e), json_string_length(e)), &t->net[t->n]) != 0)
			return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen,
					"'%s' is not a network (address/prefix with no host bits set, "
					"e.g. 10.0.0.0/8 or fd00::/8)",
					json_string_value(e));
		t->n++;
	}
	return PK_CTL_OK;
}

json_t *pk_ctl_trusted_json(const struct pk_trusted_set *t)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a != NULL && i < t->n; i++) {
		char s[PK_ADDR_STRLEN + 8];
		int n = pk_addr_format(&t->net[i].net, false, s, sizeof(s));

		snprintf(s + n, sizeof(s) - (size_t)n, "/%u", t->net[i].prefix);
		json_array_append_new(a, json_string(s));
	}
	return a;
}

enum pk_ctl_error pk_ctl_seconds_parse(const json_t *v, uint64_t lo, uint64_t hi, uint64_t *out, char *msg,
				       size_t msglen)
{
	if (!json_is_integer(v))
		return ctl_fail(PK_CTL_E_BAD_ARGUMENT, msg, msglen, "the value must be an integer (seconds)");
	if (json_integer_value(v) < (json_int_t)lo || json_integer_value(v) > (json_int_t)hi)
		return ctl_fail(PK_CTL_E_INVALID_VALUE, msg, msglen, "%lld s is out of range (%llu .. %llu)",
				(long long)json_integer_value(v), (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)json_integer_value(v);
	return PK_CTL_OK;
}

enum pk_ctl_error pk_ctl_errno_code(int rc)
{
	switch (rc) {
	case 0:
		return PK_CTL_OK;
	case -EINVAL:
		return PK_CTL_E_INVALID_VALUE;
	case -ENOENT:
		return PK_CTL_E_UNKNOWN_GROUP;
	case -EEXIST:
		return PK_CTL_E_EXISTS;
	case -ENOSPC:
		return PK_CTL_E_CAPACITY;
	default:
		return PK_CTL_E_INTERNAL;
	}
}
