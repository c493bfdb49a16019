/* SPDX-License-Identifier: MIT */
/*
 * The control socket's wire protocol (docs/control.md), without any I/O or
 * engine state: parsing a request line, building responses and errors,
 * checking arguments, and turning the argument values that need more than
 * a type check (rights, trusted networks, tunables) into engine values.
 * Kept apart from the server (control/ctl.c) so that it can be unit-tested
 * (tests/unit/test_ctl_proto.c).
 *
 * Threading: pure functions over jansson objects; any thread, never a
 * worker (they allocate).
 */
#ifndef PICKUP_CTL_PROTO_H
#define PICKUP_CTL_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pickup/engine_conf.h"

/* Longest request line (bytes, newline excluded). */
#define PK_CTL_LINE_MAX (1u << 20)
/* Room for one error message. */
#define PK_CTL_MSG_MAX 512

/* Error codes (X-macro: id, wire name). */
#define PK_CTL_FOREACH_ERROR(_)                  \
	_(BAD_REQUEST, "bad_request")            \
	_(UNKNOWN_COMMAND, "unknown_command")    \
	_(BAD_ARGUMENT, "bad_argument")          \
	_(INVALID_NUMBER, "invalid_number")      \
	_(INVALID_VALUE, "invalid_value")        \
	_(UNKNOWN_GROUP, "unknown_group")        \
	_(UNKNOWN_MEMBER, "unknown_member")      \
	_(EXISTS, "exists")                      \
	_(CAPACITY, "capacity")                  \
	_(CONFIG_ERROR, "config_error")          \
	_(IO_ERROR, "io_error")                  \
	_(PERMISSION_DENIED, "permission_denied") \
	_(BUSY, "busy")                          \
	_(TOO_LARGE, "too_large")                \
	_(INTERNAL, "internal")                  \
	_(UNSUPPORTED, "unsupported")

enum pk_ctl_error {
	PK_CTL_OK = 0,
#define PK_CTL_ERR_ENUM(id, name) PK_CTL_E_##id,
	PK_CTL_FOREACH_ERROR(PK_CTL_ERR_ENUM)
#undef PK_CTL_ERR_ENUM
	PK_CTL_E_COUNT
};

const char *pk_ctl_error_name(enum pk_ctl_error e);

/* A parsed request. The members are borrowed from root (owned). */
struct pk_ctl_req {
	json_t *root;
	const char *cmd;
	json_t *args; /* always an object (an empty one when absent) */
	json_t *id;   /* NULL when absent */
};

/*
 * Parse one request line (without its newline). 0 and *req filled (release
 * with pk_ctl_req_free), or an error code with msg set (bad_request; the id
 * is still extracted into req->id when the line was an object with one, so
 * that the error can echo it; req->root owns it).
 */
enum pk_ctl_error pk_ctl_req_parse(const char *line, size_t len, struct pk_ctl_req *req, char *msg,
				   size_t msglen);
void pk_ctl_req_free(struct pk_ctl_req *req);

/* {"ok":true,"result":result,"id":id} (result stolen; id borrowed, may be
 * NULL). NULL on no memory. */
json_t *pk_ctl_ok(json_t *result, json_t *id);
/* {"ok":false,"error":{"code":...,"message":msg},"id":id}. */
json_t *pk_ctl_err(enum pk_ctl_error e, const char *msg, json_t *id);
/* The response as one line, '\n' included; malloc'd, *len its length. NULL
 * on no memory. */
char *pk_ctl_encode(const json_t *resp, size_t *len);

/*
 * Argument checks (all set msg on error and return PK_CTL_E_BAD_ARGUMENT
 * unless said otherwise):
 *  - pk_ctl_args_allowed: every key of args is one of names (NULL-ended);
 *  - pk_ctl_arg_str: args[name] is a string (*out its bytes and length);
 *    absent: error when required, else 0 with *out = NULL;
 *  - pk_ctl_arg_uint: a non-negative integer <= max; absent: *out = def.
 */
enum pk_ctl_error pk_ctl_args_allowed(const json_t *args, const char *const *names, char *msg, size_t msglen);
enum pk_ctl_error pk_ctl_arg_str(const json_t *args, const char *name, bool required, const char **out,
				 size_t *outlen, char *msg, size_t msglen);
enum pk_ctl_error pk_ctl_arg_uint(const json_t *args, const char *name, uint64_t def, uint64_t max,
				  uint64_t *out, char *msg, size_t msglen);

/* Rights: an array of "ring"/"pickup" (at least one, no repeat) -> PK_RIGHT_*
 * bits. bad_argument if not an array of strings, invalid_value otherwise. */
enum pk_ctl_error pk_ctl_rights_parse(const json_t *v, uint32_t *rights, char *msg, size_t msglen);
/* PK_RIGHT_* bits -> ["ring","pickup"] (new reference). */
json_t *pk_ctl_rights_json(uint32_t rights);

/* Trusted networks: an array of at most PK_ENGINE_MAX_TRUSTED CIDR strings
 * (pk_cidr_parse) -> *t. bad_argument if not an array of strings,
 * invalid_value for a bad network or too many. */
enum pk_ctl_error pk_ctl_trusted_parse(const json_t *v, struct pk_trusted_set *t, char *msg, size_t msglen);
/* The networks as strings (new reference). */
json_t *pk_ctl_trusted_json(const struct pk_trusted_set *t);

/* A seconds tunable: an integer in lo..hi, else invalid_value
 * (bad_argument if not an integer). */
enum pk_ctl_error pk_ctl_seconds_parse(const json_t *v, uint64_t lo, uint64_t hi, uint64_t *out, char *msg,
				       size_t msglen);

/* A group-change errno (pk_groups_group_add & co.) -> error code:
 * -EINVAL invalid_value, -ENOENT unknown_group (member operations decide
 * unknown_member themselves), -EEXIST exists, -ENOSPC capacity, else
 * internal. */
enum pk_ctl_error pk_ctl_errno_code(int rc);

#endif /* PICKUP_CTL_PROTO_H */
