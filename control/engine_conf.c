/* SPDX-License-Identifier: MIT */
/*
 * Loader of the engine settings file (YAML; every key is in
 * docs/config.md). The file is small, so it is read with libyaml's
 * document API (a node tree with line/column marks) and walked with one
 * table of keys per mapping: a key not in the table, a key given twice, a
 * value of the wrong type or out of range is an error naming the file,
 * line and column and the full key ("timers.ring_timeout"). Defaults are
 * set first, so a key left out keeps its documented default.
 *
 * Scalars are taken as the text written (YAML would read `0600` as octal
 * or `on` as a boolean; here `workers: 0x10` is simply not a number).
 * Control plane only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf_file.h"
#include "pickup/engine_conf.h"
#include "pickup/io.h"
#include "pickup/groups_conf.h"
#include "pickup/location.h"
#include "pickup/sip.h"

/* Defaults (docs/config.md repeats them; keep both in step). */
#define EC_DEF_WORKERS 1
#define EC_DEF_LISTEN_IP "127.0.0.1"
#define EC_DEF_GROUPS "groups.yaml"
#define EC_DEF_CONTROL_SOCKET "/run/pickupd/pickupd.sock"
/* The table's hard limit: the groups file's ring_timeout (default 180 s)
 * is the service setting and may be anything up to this. */
#define EC_DEF_RING_TIMEOUT PK_GROUPS_RING_TIMEOUT_MAX
#define EC_DEF_CLAIM_TIMEOUT 32 /* RFC 3261 Timer B: an INVITE client gives up by then */
#define EC_DEF_REG_MIN 60
#define EC_DEF_REG_MAX 3600
#define EC_DEF_REG_DEFAULT 3600 /* RFC 3261 §10.2.1.1 */
#define EC_DEF_TCP_IDLE 300
#define EC_DEF_CALLS 65536
#define EC_DEF_REGISTRATIONS 65536
#define EC_DEF_GROUPS_CAP 65536
#define EC_DEF_USERS (1u << 20)
#define EC_DEF_TCP_CONNS 1024
#define EC_DEF_SOCKET_BUFFER (4u << 20)
#define EC_DEF_RETRY_AFTER 5 /* limits.retry_after, seconds */

/* Owned storage behind the public struct. */
struct ec_store {
	char *path, *dir, *groups_path, *control_socket;
	char **strs;
	size_t n_strs, cap_strs;
	uint32_t cap_bindings;
	/* where some keys were written, for the cross-checks of resolve */
	struct ec_mark {
		uint32_t line, col;
	} domains, ring_timeout, cap_groups, cap_users;
	/* advertise: entries, applied to the listeners once the whole file
	 * is read (listen: may come after advertise:) */
	uint32_t n_adv;
	struct ec_adv {
		bool all;	     /* a scalar: every listener */
		struct pk_addr addr; /* else the listener address it names */
		struct pk_str host;
		uint16_t port;
		struct ec_mark mark;
	} adv[PK_ENGINE_MAX_LISTENERS];
};

struct ec_ctx {
	const char *name;
	struct pk_engine_conf *c;
	struct ec_store *st;
	struct pk_engine_conf_error *err;
	char key[96]; /* dotted path of the key being read, for messages */
};

static int ec_error_at(struct pk_engine_conf_error *err, const char *name, int code, uint32_t line,
		       uint32_t col, const char *fmt, va_list ap)
{
	char why[PK_ENGINE_CONF_ERRMAX - 64];

	if (err == NULL)
		return code;
	vsnprintf(why, sizeof(why), fmt, ap);
	err->code = code;
	err->line = line;
	err->col = col;
	if (line > 0)
		snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: %s", name, line, col, why);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: %s", name, why);
	return code;
}

static int ec_errf(struct pk_engine_conf_error *err, const char *name, int code, uint32_t line,
		   uint32_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int ec_errf(struct pk_engine_conf_error *err, const char *name, int code, uint32_t line,
		   uint32_t col, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ec_error_at(err, name, code, line, col, fmt, ap);
	va_end(ap);
	return rc;
}

/* An error at a node: "file:line:col: key: reason". */
static int ec_fail(struct ec_ctx *x, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ec_fail(struct ec_ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	char why[PK_ENGINE_CONF_ERRMAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (x->key[0] != '\0')
		return ec_errf(x->err, x->name, -EINVAL, (uint32_t)n->start_mark.line + 1,
			       (uint32_t)n->start_mark.column + 1, "%s: %s", x->key, why);
	return ec_errf(x->err, x->name, -EINVAL, (uint32_t)n->start_mark.line + 1,
		       (uint32_t)n->start_mark.column + 1, "%s", why);
}

/* A string of len bytes (+ NUL) owned by the configuration. */
static char *ec_stralloc(struct ec_ctx *x, size_t len)
{
	char *s;

	if (x->st->n_strs == x->st->cap_strs) {
		size_t cap = x->st->cap_strs ? x->st->cap_strs * 2 : 32;
		char **np = realloc(x->st->strs, cap * sizeof(*np));

		if (np == NULL)
			return NULL;
		x->st->strs = np;
		x->st->cap_strs = cap;
	}
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	s[len] = '\0';
	x->st->strs[x->st->n_strs++] = s;
	return s;
}

static char *ec_strndup(struct ec_ctx *x, const char *p, size_t len)
{
	char *s = ec_stralloc(x, len);

	if (s != NULL)
		memcpy(s, p, len);
	return s;
}

static int ec_nomem(struct ec_ctx *x)
{
	return ec_errf(x->err, x->name, -ENOMEM, 0, 0, "out of memory");
}

/* ---- node helpers ---- */

static struct pk_str ec_scalar(const yaml_node_t *n)
{
	return pk_str_make((const char *)n->data.scalar.value, n->data.scalar.length);
}

/* A plain empty scalar, "~" or "null": the key was written without a value. */
static bool ec_is_null(const yaml_node_t *n)
{
	struct pk_str s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = ec_scalar(n);
	return s.len == 0 || pk_str_eq(s, PK_STR_LIT("~")) || pk_str_eq(s, PK_STR_LIT("null"));
}

static const char *ec_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return ec_is_null(n) ? "nothing" : "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* An empty list or mapping, [] or {}: the key was written, and says
 * nothing. Where that means "none" the key's own function says so;
 * elsewhere it is refused like a key without a value. */
static bool ec_is_empty(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.start == n->data.sequence.items.top;
	if (n->type == YAML_MAPPING_NODE)
		return n->data.mapping.pairs.start == n->data.mapping.pairs.top;
	return false;
}

/* A scalar with a value (not null), as a view. */
static int ec_want_scalar(struct ec_ctx *x, const yaml_node_t *n, struct pk_str *out)
{
	/* set on every path: callers read it only on success, but gcc -O3
	 * cannot always see that (-Wmaybe-uninitialized) */
	*out = (struct pk_str){ NULL, 0 };
	if (n->type != YAML_SCALAR_NODE || ec_is_null(n))
		return ec_fail(x, n, "expected a value, found %s", ec_type_name(n));
	*out = ec_scalar(n);
	if (out->len == 0)
		return ec_fail(x, n, "empty value");
	if (memchr(out->p, '\0', out->len) != NULL)
		return ec_fail(x, n, "NUL character in value");
	return 0;
}

/* true or false, as YAML writes them. */
static int ec_want_bool(struct ec_ctx *x, const yaml_node_t *v, bool *out)
{
	struct pk_str s;
	int rc;

	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_str_eq(s, PK_STR_LIT("true")))
		*out = true;
	else if (pk_str_eq(s, PK_STR_LIT("false")))
		*out = false;
	else
		return ec_fail(x, v, "'%.*s' is not true or false", (int)s.len, s.p);
	return 0;
}

/* Call fn for a scalar, or for each scalar of a list. */
static int ec_each(struct ec_ctx *x, yaml_document_t *doc, yaml_node_t *n,
		   int (*fn)(struct ec_ctx *x, yaml_node_t *item, void *arg), void *arg)
{
	struct pk_str s;
	int rc;

	if (n->type == YAML_SCALAR_NODE && !ec_is_null(n))
		return (rc = ec_want_scalar(x, n, &s)) != 0 ? rc : fn(x, n, arg);
	if (n->type != YAML_SEQUENCE_NODE)
		return ec_fail(x, n, "expected a value or a list of values, found %s", ec_type_name(n));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);

		if (item == NULL)
			continue;
		if (item->type != YAML_SCALAR_NODE || ec_is_null(item))
			return ec_fail(x, item, "list items must be values, found %s", ec_type_name(item));
		if ((rc = ec_want_scalar(x, item, &s)) != 0 || (rc = fn(x, item, arg)) != 0)
			return rc;
	}
	return 0;
}

static int ec_uint(struct ec_ctx *x, const yaml_node_t *n, uint32_t min, uint32_t max,
		   const char *unit, uint32_t *out)
{
	struct pk_str s;
	uint64_t v = 0;
	int rc;

	if ((rc = ec_want_scalar(x, n, &s)) != 0)
		return rc;
	for (uint32_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9' || v > UINT32_MAX) {
			v = UINT64_MAX;
			break;
		}
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (s.len == 0 || v < min || v > max)
		return ec_fail(x, n, "'%.*s' is not a whole number of %s in %u..%u", (int)s.len, s.p,
			       unit, min, max);
	*out = (uint32_t)v;
	return 0;
}

/* ---- mappings driven by key tables ---- */

struct ec_key {
	const char *name;
	int (*fn)(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *val);
	size_t off; /* ec_key_uint: offset of the uint32_t in struct pk_engine_conf */
	uint32_t min, max;
	const char *unit;
};

static int ec_key_uint(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *val)
{
	(void)doc;
	return ec_uint(x, val, k->min, k->max, k->unit, (uint32_t *)((char *)x->c + k->off));
}

static int ec_mapping(struct ec_ctx *x, yaml_document_t *doc, yaml_node_t *n,
		      const struct ec_key *keys, unsigned nkeys)
{
	size_t base = strlen(x->key);
	uint64_t seen = 0;
	char known[256];
	size_t kl = 0;

	if (n->type != YAML_MAPPING_NODE)
		return ec_fail(x, n, "expected a mapping (key: value lines), found %s", ec_type_name(n));
	known[0] = '\0';
	for (unsigned i = 0; i < nkeys && kl < sizeof(known); i++)
		kl += (size_t)snprintf(known + kl, sizeof(known) - kl, "%s%s", i ? ", " : "", keys[i].name);
	/* timers: {} sets nothing, as timers: with no value (which is
	 * refused). The file itself may be {}: all defaults, as when empty. */
	if (base != 0 && ec_is_empty(n))
		return ec_fail(x, n, "the mapping is empty: give a key (known here: %s) or leave it out",
			       known);

	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		struct pk_str ks;
		unsigned i;
		int rc;

		if (k == NULL || v == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE)
			return ec_fail(x, k, "keys must be names, found %s", ec_type_name(k));
		ks = ec_scalar(k);
		for (i = 0; i < nkeys; i++)
			if (pk_str_eq(ks, pk_str_make(keys[i].name, strlen(keys[i].name))))
				break;
		if (i == nkeys)
			return ec_fail(x, k, "unknown key '%.*s' (known here: %s)", (int)ks.len, ks.p, known);
		snprintf(x->key + base, sizeof(x->key) - base, "%s%s", base ? "." : "", keys[i].name);
		if (seen & (1ull << i))
			return ec_fail(x, k, "given twice");
		seen |= 1ull << i;
		rc = keys[i].fn(x, doc, &keys[i], v);
		x->key[base] = '\0';
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- listen ---- */

struct ec_listen_arg {
	enum pk_listen_role role;
	enum pk_transport transport;
	bool both; /* the address list applies to UDP and TCP */
};

static int ec_listener_add(struct ec_ctx *x, yaml_node_t *n, enum pk_listen_role role,
			   enum pk_transport t, const struct pk_addr *a)
{
	struct pk_engine_conf *c = x->c;

	for (uint32_t i = 0; i < c->n_listeners; i++) {
		const struct pk_engine_listener *o = &c->listeners[i];

		if (o->transport != t || o->addr.family != a->family)
			continue;
		if (pk_addr_eq(&o->addr, a) && a->port != 0)
			return ec_fail(x, n, "%s %s already listens there (line %u)",
				       pk_listen_role_name(o->role), pk_transport_name(t), o->line);
		if (a->port != 0 && o->addr.port == a->port &&
		    (pk_addr_is_any(a) || pk_addr_is_any(&o->addr)))
			return ec_fail(x, n, "overlaps the %s %s listener of line %u (same port, one of "
					     "them on every address)",
				       pk_listen_role_name(o->role), pk_transport_name(t), o->line);
	}
	if (c->n_listeners == PK_ENGINE_MAX_LISTENERS)
		return ec_fail(x, n, "more than %d listeners", PK_ENGINE_MAX_LISTENERS);
	c->listeners[c->n_listeners++] = (struct pk_engine_listener){
		.addr = *a,
		.role = (uint8_t)role,
		.transport = (uint8_t)t,
		.line = (uint32_t)n->start_mark.line + 1,
	};
	return 0;
}

static int ec_listen_addr(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	const struct ec_listen_arg *la = arg;
	struct pk_addr a;
	struct pk_str s = ec_scalar(n);
	int rc;

	if (pk_addr_parse(s, false, &a) != 0)
		return ec_fail(x, n, "'%.*s' is not an address:port (IPv4 a.b.c.d:port, IPv6 [addr]:port)",
			       (int)s.len, s.p);
	if (la->both) {
		if ((rc = ec_listener_add(x, n, la->role, PK_TRANSPORT_UDP, &a)) != 0)
			return rc;
		return ec_listener_add(x, n, la->role, PK_TRANSPORT_TCP, &a);
	}
	return ec_listener_add(x, n, la->role, la->transport, &a);
}

static int ec_listen_transport(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			       yaml_node_t *v)
{
	/* k->min carries the role, k->max the transport (see ec_listen_role) */
	struct ec_listen_arg la = { (enum pk_listen_role)k->min, (enum pk_transport)k->max, false };

	if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.start == v->data.sequence.items.top)
		return 0; /* [] : no listener of this transport */
	return ec_each(x, doc, v, ec_listen_addr, &la);
}

static int ec_listen_role(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	enum pk_listen_role role = (enum pk_listen_role)k->min;

	if (v->type == YAML_MAPPING_NODE) {
		struct ec_key keys[PK_TRANSPORT_COUNT];

		for (unsigned t = 0; t < PK_TRANSPORT_COUNT; t++)
			keys[t] = (struct ec_key){ pk_transport_name((enum pk_transport)t),
						   ec_listen_transport, 0, (uint32_t)role, t, NULL };
		return ec_mapping(x, doc, v, keys, PK_TRANSPORT_COUNT);
	}
	if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.start == v->data.sequence.items.top)
		return 0;
	struct ec_listen_arg la = { role, PK_TRANSPORT_UDP, true };

	return ec_each(x, doc, v, ec_listen_addr, &la);
}

static int ec_listen(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct ec_key keys[PK_LISTEN_ROLE_COUNT];
	int rc;

	(void)k;
	for (unsigned r = 0; r < PK_LISTEN_ROLE_COUNT; r++)
		keys[r] = (struct ec_key){ pk_listen_role_name((enum pk_listen_role)r), ec_listen_role, 0, r,
					   0, NULL };
	x->c->listen_default = false;
	x->c->n_listeners = 0;
	if ((rc = ec_mapping(x, doc, v, keys, PK_LISTEN_ROLE_COUNT)) != 0)
		return rc;
	if (x->c->n_listeners == 0)
		return ec_fail(x, v, "no listener: give at least one address");
	return 0;
}

static void ec_listen_defaults(struct pk_engine_conf *c)
{
	static const uint16_t ports[] = {
#define EC_ROLE_PORT(id, name, port) port,
		PK_LISTEN_FOREACH_ROLE(EC_ROLE_PORT)
#undef EC_ROLE_PORT
	};

	c->n_listeners = 0;
	for (unsigned r = 0; r < PK_LISTEN_ROLE_COUNT; r++) {
		for (unsigned t = 0; t < PK_TRANSPORT_COUNT; t++) {
			struct pk_engine_listener *l = &c->listeners[c->n_listeners++];

			memset(l, 0, sizeof(*l));
			pk_addr_parse_ip(PK_STR_LIT(EC_DEF_LISTEN_IP), &l->addr);
			l->addr.port = ports[r];
			l->role = (uint8_t)r;
			l->transport = (uint8_t)t;
		}
	}
	c->listen_default = true;
}

/* ---- simple keys ---- */

static int ec_domain(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	struct pk_str s = ec_scalar(n);
	int rc = pk_groups_settings_add_domain(&x->c->served, s);

	(void)arg;
	if (rc == -EEXIST)
		return ec_fail(x, n, "domain '%.*s' listed twice", (int)s.len, s.p);
	if (rc == -ENOSPC)
		return ec_fail(x, n, "more than %d domains", PK_GROUPS_MAX_DOMAINS);
	if (rc != 0)
		return ec_fail(x, n, "'%.*s' is not a domain name", (int)s.len, s.p);
	return 0;
}

static int ec_domains(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	int rc;

	(void)k;
	x->st->domains = (struct ec_mark){ (uint32_t)v->start_mark.line + 1,
					   (uint32_t)v->start_mark.column + 1 };
	if ((rc = ec_each(x, doc, v, ec_domain, NULL)) != 0)
		return rc;
	if (x->c->served.n_domains == 0)
		return ec_fail(x, v, "the list is empty: leave the key out to serve the groups file's domains");
	return 0;
}

/* Resolve a path against the configuration file's directory. */
static char *ec_path(struct ec_ctx *x, struct pk_str s)
{
	char *out;
	size_t dl;

	if (s.p[0] == '/')
		return ec_strndup(x, s.p, s.len);
	dl = strlen(x->c->dir);
	out = ec_stralloc(x, dl + 1 + s.len);
	if (out != NULL) {
		memcpy(out, x->c->dir, dl);
		out[dl] = '/';
		memcpy(out + dl + 1, s.p, s.len);
		out[dl + 1 + s.len] = '\0';
	}
	return out;
}

static int ec_groups(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if ((x->c->groups_path = ec_path(x, s)) == NULL)
		return ec_nomem(x);
	return 0;
}

static int ec_control_socket(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			     yaml_node_t *v)
{
	struct pk_str s;
	const char *p;
	int rc;

	(void)doc, (void)k;
	if (v->type == YAML_SCALAR_NODE && !ec_is_null(v) && ec_scalar(v).len == 0) {
		x->c->control_socket_set = true;
		x->c->control_socket = ""; /* "": no control socket, as `none` */
		return 0;
	}
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	x->c->control_socket_set = true;
	if (pk_str_eq(s, PK_STR_LIT("none"))) {
		x->c->control_socket = ""; /* no control socket */
		return 0;
	}
	if (s.p[s.len - 1] == '/')
		return ec_fail(x, v, "'%.*s' names a directory, not a socket", (int)s.len, s.p);
	if ((p = ec_path(x, s)) == NULL)
		return ec_nomem(x);
	if (strlen(p) > PK_ENGINE_SOCKET_PATH_MAX)
		return ec_fail(x, v, "path '%s' is longer than a UNIX socket path may be (%d bytes)", p,
			       PK_ENGINE_SOCKET_PATH_MAX);
	x->c->control_socket = p;
	return 0;
}

static int ec_trusted_one(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	struct pk_str s = ec_scalar(n);
	struct pk_cidr cidr;

	(void)arg;
	if (pk_cidr_parse(s, &cidr) != 0)
		return ec_fail(x, n, "'%.*s' is not a network (address/prefix with no host bits set, "
				     "e.g. 10.0.0.0/8 or fd00::/8)",
			       (int)s.len, s.p);
	if (x->c->n_trusted == PK_ENGINE_MAX_TRUSTED)
		return ec_fail(x, n, "more than %d networks", PK_ENGINE_MAX_TRUSTED);
	x->c->trusted[x->c->n_trusted++] = cidr;
	return 0;
}

static int ec_trusted(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.start == v->data.sequence.items.top)
		return 0; /* [] : none */
	return ec_each(x, doc, v, ec_trusted_one, NULL);
}

static int ec_workers(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)doc, (void)k;
	return ec_uint(x, v, 1, PK_ENGINE_MAX_WORKERS, "workers", &x->c->workers);
}

/* ---- bindings ---- */

static int ec_contact(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	struct pk_engine_binding *b = arg;
	struct pk_str s = ec_scalar(n);
	struct pk_sip_uri u;
	const char *copy;

	if (pk_sip_uri_parse(s.p, s.len, &u) != 0 || (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
		return ec_fail(x, n, "'%.*s' is not a sip: or sips: URI", (int)s.len, s.p);
	/* as for next_hop: a sips: contact is reached over TLS only (RFC 5630
	 * §4), which would have to be sent in the clear */
	if (u.scheme == PK_URI_SIPS)
		return ec_fail(x, n, "'%.*s': sips: needs TLS, which pickupd does not speak yet", (int)s.len, s.p);
	/* what the location table keeps (pk_registrar_load_static) */
	if (s.len > PK_LOC_URI_MAX)
		return ec_fail(x, n, "'%.40s...': a contact of %u bytes, longer than %d", s.p, (unsigned)s.len,
			       PK_LOC_URI_MAX);
	for (uint32_t i = 0; i < b->n_contacts; i++)
		if (pk_str_eq(b->contacts[i], s))
			return ec_fail(x, n, "contact '%.*s' listed twice", (int)s.len, s.p);
	if (b->n_contacts == PK_ENGINE_MAX_CONTACTS)
		return ec_fail(x, n, "more than %d contacts", PK_ENGINE_MAX_CONTACTS);
	if ((copy = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	b->contacts[b->n_contacts++] = pk_str_make(copy, s.len);
	return 0;
}

static int ec_binding(struct ec_ctx *x, yaml_document_t *doc, yaml_node_t *kn, yaml_node_t *v)
{
	struct pk_engine_conf *c = x->c;
	struct pk_engine_binding *b;
	struct pk_str aor, user, domain;
	char norm[PK_GROUPS_USER_MAX];
	char *copy;
	int n, rc;

	if (kn->type != YAML_SCALAR_NODE || ec_is_null(kn))
		return ec_fail(x, kn, "keys must be AoRs (user@domain), found %s", ec_type_name(kn));
	aor = ec_scalar(kn);
	if (pk_groups_aor_split(aor, &user, &domain) != 0)
		return ec_fail(x, kn, "'%.*s' is not an AoR (user@domain or user)", (int)aor.len, aor.p);
	n = pk_groups_user_normalize(user, norm, sizeof(norm));
	if (n < 0)
		return ec_fail(x, kn, "'%.*s': bad user part", (int)aor.len, aor.p);
	if (c->n_bindings == x->st->cap_bindings) {
		uint32_t cap = x->st->cap_bindings ? x->st->cap_bindings * 2 : 16;
		struct pk_engine_binding *nb = realloc(c->bindings, cap * sizeof(*nb));

		if (nb == NULL)
			return ec_nomem(x);
		c->bindings = nb;
		x->st->cap_bindings = cap;
	}
	b = &c->bindings[c->n_bindings];
	memset(b, 0, sizeof(*b));
	b->line = (uint32_t)kn->start_mark.line + 1;
	b->col = (uint32_t)kn->start_mark.column + 1;
	if ((copy = ec_strndup(x, norm, (size_t)n)) == NULL)
		return ec_nomem(x);
	b->user = pk_str_make(copy, (size_t)n);
	if (domain.len > 0) {
		struct pk_groups_settings tmp;

		/* Same syntax rules (and lowercasing) as a served domain. */
		pk_groups_settings_init(&tmp);
		if (pk_groups_settings_add_domain(&tmp, domain) != 0)
			return ec_fail(x, kn, "'%.*s': bad domain", (int)aor.len, aor.p);
		if ((copy = ec_strndup(x, tmp.domains[0], tmp.domain_len[0])) == NULL)
			return ec_nomem(x);
		b->domain = pk_str_make(copy, tmp.domain_len[0]);
	}
	if ((rc = ec_each(x, doc, v, ec_contact, b)) != 0)
		return rc;
	if (b->n_contacts == 0)
		return ec_fail(x, v, "'%.*s' has no contact", (int)aor.len, aor.p);
	c->n_bindings++;
	return 0;
}

static int ec_bindings(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	if (v->type != YAML_MAPPING_NODE)
		return ec_fail(x, v, "expected a mapping of AoR: contact URI(s), found %s", ec_type_name(v));
	if (ec_is_empty(v))
		return ec_fail(x, v, "the mapping is empty: leave the key out for no static bindings");
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		int rc;

		if (kn == NULL || vn == NULL)
			continue;
		if ((rc = ec_binding(x, doc, kn, vn)) != 0)
			return rc;
	}
	return 0;
}

/* ---- routing: next_hop, record_route, advertise ---- */

static int ec_next_hop(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_sip_uri u;
	struct pk_str s;
	char *copy;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_sip_uri_parse(s.p, s.len, &u) != 0 || (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
		return ec_fail(x, v, "'%.*s' is not a sip: URI (e.g. sip:192.0.2.1:5060)", (int)s.len, s.p);
	if (u.scheme == PK_URI_SIPS)
		return ec_fail(x, v, "'%.*s': sips: needs TLS, which pickupd does not speak yet", (int)s.len,
			       s.p);
	if (u.transport.len != 0 && !pk_str_caseeq_cstr(u.transport, "udp"))
		return ec_fail(x, v, "'%.*s': only transport=udp (pickupd does not open TCP connections "
				     "yet)",
			       (int)s.len, s.p);
	if ((copy = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	x->c->next_hop = pk_str_make(copy, s.len);
	return 0;
}

static int ec_metrics_listen(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			     yaml_node_t *v)
{
	struct pk_addr a;
	struct pk_str s;
	char *copy;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_str_eq(s, PK_STR_LIT("none")))
		return 0; /* off, as without the key */
	if (pk_addr_parse(s, false, &a) != 0)
		return ec_fail(x, v, "'%.*s' is not ip:port or [ipv6]:port (e.g. 127.0.0.1:9105)", (int)s.len,
			       s.p);
	if ((copy = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	x->c->metrics_listen = copy;
	return 0;
}

static int ec_telemetry(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)doc, (void)k;
	return ec_want_bool(x, v, &x->c->telemetry);
}

static int ec_record_route(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			   yaml_node_t *v)
{
	(void)doc, (void)k;
	return ec_want_bool(x, v, &x->c->record_route);
}

/* An advertised "host" or "host:port" (host: a name, IPv4, or [IPv6]). */
static int ec_adv_value(struct ec_ctx *x, yaml_node_t *n, struct ec_adv *a)
{
	struct pk_str s;
	struct pk_sip_uri u;
	char buf[4 + 300];
	char *copy;
	int rc;

	if ((rc = ec_want_scalar(x, n, &s)) != 0)
		return rc;
	if (s.len > 300)
		return ec_fail(x, n, "longer than 300 bytes");
	memcpy(buf, "sip:", 4);
	memcpy(buf + 4, s.p, s.len);
	if (pk_sip_uri_parse(buf, 4 + s.len, &u) != 0 || u.scheme != PK_URI_SIP || u.user.len != 0 ||
	    u.password.len != 0 || u.params.len != 0 || u.headers.len != 0 || u.host.len == 0 ||
	    memchr(s.p, '@', s.len) != NULL)
		return ec_fail(x, n, "'%.*s' is not host or host:port (a name, a.b.c.d or [v6])", (int)s.len,
			       s.p);
	if ((copy = ec_strndup(x, u.host.p, u.host.len)) == NULL)
		return ec_nomem(x);
	a->host = pk_str_make(copy, u.host.len);
	a->port = u.port;
	a->mark = (struct ec_mark){ (uint32_t)n->start_mark.line + 1, (uint32_t)n->start_mark.column + 1 };
	return 0;
}

static int ec_advertise(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct ec_store *st = x->st;

	(void)k;
	if (v->type == YAML_SCALAR_NODE) {
		st->n_adv = 1;
		st->adv[0] = (struct ec_adv){ .all = true };
		return ec_adv_value(x, v, &st->adv[0]);
	}
	if (v->type != YAML_MAPPING_NODE)
		return ec_fail(x, v, "expected host[:port], or a mapping listener address: host[:port], "
				     "found %s",
			       ec_type_name(v));
	if (ec_is_empty(v))
		return ec_fail(x, v, "the mapping is empty: leave the key out to advertise each listener's "
				     "own address");
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		struct ec_adv *a;
		struct pk_str ks;
		int rc;

		if (kn == NULL || vn == NULL)
			continue;
		if (kn->type != YAML_SCALAR_NODE || ec_is_null(kn))
			return ec_fail(x, kn, "keys must be listener addresses, found %s", ec_type_name(kn));
		if (st->n_adv == PK_ENGINE_MAX_LISTENERS)
			return ec_fail(x, kn, "more than %d entries", PK_ENGINE_MAX_LISTENERS);
		a = &st->adv[st->n_adv];
		*a = (struct ec_adv){ .all = false };
		ks = ec_scalar(kn);
		if (pk_addr_parse(ks, false, &a->addr) != 0)
			return ec_fail(x, kn, "'%.*s' is not a listener address:port", (int)ks.len, ks.p);
		for (uint32_t i = 0; i < st->n_adv; i++)
			if (pk_addr_eq(&st->adv[i].addr, &a->addr))
				return ec_fail(x, kn, "'%.*s' given twice", (int)ks.len, ks.p);
		if ((rc = ec_adv_value(x, vn, a)) != 0)
			return rc;
		a->mark = (struct ec_mark){ (uint32_t)kn->start_mark.line + 1,
					    (uint32_t)kn->start_mark.column + 1 };
		st->n_adv++;
	}
	return 0;
}

/* After the whole file: give each listener its advertised address. */
static int ec_advertise_apply(struct ec_ctx *x)
{
	struct pk_engine_conf *c = x->c;
	const struct ec_store *st = x->st;

	for (uint32_t i = 0; i < st->n_adv; i++) {
		const struct ec_adv *a = &st->adv[i];
		bool used = false;

		for (uint32_t l = 0; l < c->n_listeners; l++) {
			if (!a->all && !pk_addr_eq(&a->addr, &c->listeners[l].addr))
				continue;
			c->listeners[l].advertise_host = a->host;
			c->listeners[l].advertise_port = a->port;
			used = true;
		}
		if (!used)
			return ec_errf(x->err, x->name, -EINVAL, a->mark.line, a->mark.col,
				       "advertise: no listener at this address (listen: names the "
				       "addresses)");
	}
	return 0;
}

/* ---- nested blocks ---- */

#define EC_UINT(name, field, min, max, unit) \
	{ name, ec_key_uint, offsetof(struct pk_engine_conf, field), min, max, unit }

static int ec_ring_timeout(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			   yaml_node_t *v)
{
	x->st->ring_timeout = (struct ec_mark){ (uint32_t)v->start_mark.line + 1,
						(uint32_t)v->start_mark.column + 1 };
	return ec_key_uint(x, doc, k, v);
}

static const struct ec_key ec_timer_keys[] = {
	{ "ring_timeout", ec_ring_timeout, offsetof(struct pk_engine_conf, timers.ring_timeout), 1,
	  PK_GROUPS_RING_TIMEOUT_MAX, "seconds" },
	EC_UINT("claim_timeout", timers.claim_timeout, 1, 300, "seconds"),
	EC_UINT("register_min_expires", timers.register_min_expires, 1, 604800, "seconds"),
	EC_UINT("register_max_expires", timers.register_max_expires, 1, 604800, "seconds"),
	EC_UINT("register_default_expires", timers.register_default_expires, 1, 604800, "seconds"),
	EC_UINT("tcp_idle_timeout", timers.tcp_idle_timeout, 1, 86400, "seconds"),
};

static int ec_timers(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	const struct pk_engine_timers *t = &x->c->timers;
	int rc;

	(void)k;
	if ((rc = ec_mapping(x, doc, v, ec_timer_keys, PK_ARRAY_SIZE(ec_timer_keys))) != 0)
		return rc;
	if (t->register_min_expires > t->register_max_expires)
		return ec_fail(x, v, "register_min_expires (%u) is above register_max_expires (%u)",
			       t->register_min_expires, t->register_max_expires);
	if (t->register_default_expires < t->register_min_expires ||
	    t->register_default_expires > t->register_max_expires)
		return ec_fail(x, v, "register_default_expires (%u) is outside register_min_expires.."
				     "register_max_expires (%u..%u)",
			       t->register_default_expires, t->register_min_expires, t->register_max_expires);
	return 0;
}

/* capacity.groups and .users, and where they were written: resolve
 * checks the groups file against them. */
static int ec_capacity_index(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			     yaml_node_t *v)
{
	struct ec_mark *m = k->off == offsetof(struct pk_engine_conf, capacity.groups) ? &x->st->cap_groups
										   : &x->st->cap_users;

	*m = (struct ec_mark){ (uint32_t)v->start_mark.line + 1, (uint32_t)v->start_mark.column + 1 };
	return ec_key_uint(x, doc, k, v);
}

static const struct ec_key ec_capacity_keys[] = {
	EC_UINT("calls", capacity.calls, 1, 1u << 28, "calls"),
	EC_UINT("registrations", capacity.registrations, 1, 1u << 24, "registrations"),
	{ "groups", ec_capacity_index, offsetof(struct pk_engine_conf, capacity.groups), 1, PK_GROUPS_ID_LIMIT,
	  "groups" },
	{ "users", ec_capacity_index, offsetof(struct pk_engine_conf, capacity.users), 1, PK_GROUPS_ID_LIMIT,
	  "users" },
	EC_UINT("tcp_connections", capacity.tcp_connections, 1, 1u << 20, "connections"),
	EC_UINT("group_flat_max", capacity.group_flat_max, 1, PK_GROUPS_ID_LIMIT, "groups or users"),
};

static int ec_capacity(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	return ec_mapping(x, doc, v, ec_capacity_keys, PK_ARRAY_SIZE(ec_capacity_keys));
}

/* limits: per-source request rate limiting (include/pickup/ratelimit.h). */
static int ec_limits_over(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_str_eq(s, PK_STR_LIT("reply")))
		x->c->limits.over = PK_LIMITS_REPLY;
	else if (pk_str_eq(s, PK_STR_LIT("drop")))
		x->c->limits.over = PK_LIMITS_DROP;
	else
		return ec_fail(x, v, "'%.*s' is not reply or drop", (int)s.len, s.p);
	return 0;
}

static int ec_limits_exempt(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)doc, (void)k;
	return ec_want_bool(x, v, &x->c->limits.exempt_trusted);
}

static const struct ec_key ec_limits_keys[] = {
	EC_UINT("requests_per_second", limits.requests_per_second, 0, 1000000, "requests per second"),
	EC_UINT("burst", limits.burst, 0, 10000000, "requests"),
	EC_UINT("retry_after", limits.retry_after, 1, 3600, "seconds"),
	{ "over", ec_limits_over, 0, 0, 0, NULL },
	{ "exempt_trusted", ec_limits_exempt, 0, 0, 0, NULL },
};

static int ec_limits(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	return ec_mapping(x, doc, v, ec_limits_keys, PK_ARRAY_SIZE(ec_limits_keys));
}

static int ec_backend(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_str_eq(s, PK_STR_LIT("socket"))) {
		x->c->backend = PK_IO_SOCKET;
		return 0;
	}
	if (pk_str_eq(s, PK_STR_LIT("dpdk"))) {
		x->c->backend = PK_IO_DPDK;
		return 0;
	}
	return ec_fail(x, v, "unknown backend '%.*s' (known: socket, dpdk)", (int)s.len, s.p);
}

static int ec_dpdk_eal_one(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	struct pk_str s = ec_scalar(n);
	const char *copy;

	(void)arg;
	if (x->c->dpdk.n_eal == PK_ENGINE_MAX_EAL_ARGS)
		return ec_fail(x, n, "more than %d EAL options", PK_ENGINE_MAX_EAL_ARGS);
	if ((copy = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	x->c->dpdk.eal[x->c->dpdk.n_eal++] = copy;
	return 0;
}

static int ec_dpdk_eal(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	x->c->dpdk.n_eal = 0;
	if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.start == v->data.sequence.items.top)
		return 0;
	return ec_each(x, doc, v, ec_dpdk_eal_one, NULL);
}

static int ec_dpdk_port(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if ((x->c->dpdk.port = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	return 0;
}

static int ec_port_ip(struct ec_ctx *x, yaml_node_t *v, uint32_t *out);

static int ec_dpdk_gateway(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			   yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	x->c->dpdk.gateway_line = (uint32_t)v->start_mark.line + 1;
	return ec_port_ip(x, v, &x->c->dpdk.gateway);
}

static int ec_dpdk_mtu(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	int rc = ec_key_uint(x, doc, k, v);

	if (rc == 0 && x->c->dpdk.mtu != 0 && x->c->dpdk.mtu < 576)
		return ec_fail(x, v, "mtu %u is below 576 (0: the port's)", x->c->dpdk.mtu);
	return rc;
}

static int ec_dpdk_data_room(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	int rc = ec_key_uint(x, doc, k, v);

	if (rc == 0 && x->c->dpdk.data_room != 0 && x->c->dpdk.data_room < PK_IO_DPDK_MIN_DATA_ROOM)
		return ec_fail(x, v,
			       "data_room %u is below %u (%u bytes of headroom, an Ethernet header with a VLAN "
			       "tag and a 576-byte packet; 0: %u)",
			       x->c->dpdk.data_room, PK_IO_DPDK_MIN_DATA_ROOM, PK_IO_DPDK_HEADROOM,
			       PK_IO_DPDK_DEFAULT_DATA_ROOM);
	return rc;
}

/* ---- io.dpdk.ports: the port being read is the last one ---- */

static struct pk_engine_dpdk_port *ec_cur_port(struct ec_ctx *x)
{
	return &x->c->dpdk.ports[x->c->dpdk.n_ports - 1];
}

static int ec_port_name(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	for (uint32_t i = 0; i + 1 < x->c->dpdk.n_ports; i++)
		if (strlen(x->c->dpdk.ports[i].port) == s.len &&
		    memcmp(x->c->dpdk.ports[i].port, s.p, s.len) == 0)
			return ec_fail(x, v, "port '%.*s' is listed twice (line %u)", (int)s.len, s.p,
				       x->c->dpdk.ports[i].line);
	if ((ec_cur_port(x)->port = ec_strndup(x, s.p, s.len)) == NULL)
		return ec_nomem(x);
	return 0;
}

/* s as a unicast IPv4 address a host can have on a port (not 0/8,
 * loopback, multicast, class E or broadcast) into *out (network order):
 * 0, -1 not an IPv4 address, -2 not such a unicast one. */
static int ec_unicast4(struct pk_str s, uint32_t *out)
{
	struct pk_addr a;

	if (pk_addr_parse_ip(s, &a) != 0 || a.family != AF_INET || pk_addr_is_any(&a))
		return -1;
	if (a.ip[0] == 0 || a.ip[0] == 127 || a.ip[0] >= 224)
		return -2;
	memcpy(out, a.ip, 4);
	return 0;
}

/* A port's address or gateway: ec_unicast4 of the node's value. */
static int ec_port_ip(struct ec_ctx *x, yaml_node_t *v, uint32_t *out)
{
	struct pk_str s = ec_scalar(v);

	switch (ec_unicast4(s, out)) {
	case -1:
		return ec_fail(x, v, "'%.*s' is not an IPv4 address", (int)s.len, s.p);
	case -2:
		return ec_fail(x, v, "'%.*s' is not a unicast address a port can have", (int)s.len, s.p);
	default:
		return 0;
	}
}

static int ec_port_addr_one(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	struct pk_engine_dpdk_port *cur = ec_cur_port(x);
	uint32_t ip;
	int rc;

	(void)arg;
	if ((rc = ec_port_ip(x, n, &ip)) != 0)
		return rc;
	for (uint32_t i = 0; i < x->c->dpdk.n_ports; i++)
		for (uint32_t j = 0; j < x->c->dpdk.ports[i].n_addrs; j++)
			if (x->c->dpdk.ports[i].addrs[j] == ip) {
				const struct pk_engine_dpdk_port *o = &x->c->dpdk.ports[i];
				const uint8_t *b = (const uint8_t *)&ip;
				if (o == cur)
					return ec_fail(x, n, "address %u.%u.%u.%u given twice", b[0], b[1],
						       b[2], b[3]);
				return ec_fail(x, n, "address %u.%u.%u.%u given twice (on port %s, line %u): "
						     "an address is on one port",
					       b[0], b[1], b[2], b[3], o->port, o->line);
			}
	if (cur->n_addrs == PK_ENGINE_MAX_PORT_ADDRS)
		return ec_fail(x, n, "more than %d addresses on a port", PK_ENGINE_MAX_PORT_ADDRS);
	cur->addrs[cur->n_addrs++] = ip;
	return 0;
}

static int ec_port_addrs(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	return ec_each(x, doc, v, ec_port_addr_one, NULL);
}

static int ec_port_gateway(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k,
			   yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	ec_cur_port(x)->gateway_line = (uint32_t)v->start_mark.line + 1;
	return ec_port_ip(x, v, &ec_cur_port(x)->gateway);
}

/* Where the routes being read go: a port's, or the one port's. */
struct ec_routes {
	uint32_t *n;
	struct pk_engine_route *r;
};

/* One static route, "PREFIX/LEN via NEXT-HOP" (as `ip route` writes it).
 * Whether its next hop is on-link, and routes given twice, are checked
 * once every port is read (ec_dpdk_next_hops). */
static int ec_route_one(struct ec_ctx *x, yaml_node_t *n, void *arg)
{
	const struct ec_routes *rs = arg;
	struct pk_str s = ec_scalar(n), pfx, via;
	struct pk_engine_route r = { .line = (uint32_t)n->start_mark.line + 1 };
	struct pk_addr a;
	size_t i = 0, slash;
	uint32_t len = 0;

	/* PREFIX, blanks, "via", blanks, NEXT-HOP */
	while (i < s.len && s.p[i] != ' ' && s.p[i] != '\t')
		i++;
	pfx = pk_str_make(s.p, i);
	while (i < s.len && (s.p[i] == ' ' || s.p[i] == '\t'))
		i++;
	if (s.len - i < 4 || memcmp(s.p + i, "via", 3) != 0 || (s.p[i + 3] != ' ' && s.p[i + 3] != '\t'))
		return ec_fail(x, n, "'%.*s' is not a route (PREFIX/LEN via NEXT-HOP, as "
				     "10.50.0.0/16 via 10.98.3.254)",
			       (int)s.len, s.p);
	for (i += 3; i < s.len && (s.p[i] == ' ' || s.p[i] == '\t'); i++)
		;
	via = pk_str_make(s.p + i, s.len - i);
	while (via.len > 0 && (via.p[via.len - 1] == ' ' || via.p[via.len - 1] == '\t'))
		via.len--; /* a quoted value may end in blanks */
	for (slash = 0; slash < pfx.len && pfx.p[slash] != '/'; slash++)
		;
	for (size_t k = slash + 1; k < pfx.len && len <= 32; k++)
		len = pfx.p[k] >= '0' && pfx.p[k] <= '9' ? len * 10 + (uint32_t)(pfx.p[k] - '0') : 99;
	if (slash + 1 >= pfx.len || slash + 4 < pfx.len || len > 32 ||
	    pk_addr_parse_ip(pk_str_make(pfx.p, slash), &a) != 0 || a.family != AF_INET)
		return ec_fail(x, n, "'%.*s' is not an IPv4 prefix (as 10.50.0.0/16)", (int)pfx.len,
			       pfx.p);
	if (len == 0)
		return ec_fail(x, n, "'%.*s': a route of every address is the port's gateway (gateway:)",
			       (int)pfx.len, pfx.p);
	memcpy(&r.net, a.ip, 4);
	r.prefix_len = len;
	if ((r.net & ~pk_ipv4_mask(len)) != 0) {
		uint32_t net = r.net & pk_ipv4_mask(len);
		const uint8_t *b = (const uint8_t *)&net;
		return ec_fail(x, n, "'%.*s' has host bits set (the prefix is %u.%u.%u.%u/%u)", (int)pfx.len,
			       pfx.p, b[0], b[1], b[2], b[3], len);
	}
	if (ec_unicast4(via, &r.via) != 0)
		return ec_fail(x, n, "next hop '%.*s' is not a unicast IPv4 address", (int)via.len, via.p);
	if (*rs->n == PK_ENGINE_MAX_ROUTES)
		return ec_fail(x, n, "more than %d routes on a port", PK_ENGINE_MAX_ROUTES);
	rs->r[(*rs->n)++] = r;
	return 0;
}

static int ec_port_routes(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct ec_routes rs = { &ec_cur_port(x)->n_routes, ec_cur_port(x)->routes };

	(void)k;
	if (v->type == YAML_SEQUENCE_NODE && ec_is_empty(v))
		return ec_fail(x, v, "the list is empty: leave the key out for no static routes");
	return ec_each(x, doc, v, ec_route_one, &rs);
}

static int ec_dpdk_routes_key(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct ec_routes rs = { &x->c->dpdk.n_routes, x->c->dpdk.routes };

	(void)k;
	if (v->type == YAML_SEQUENCE_NODE && ec_is_empty(v))
		return ec_fail(x, v, "the list is empty: leave the key out for no static routes");
	return ec_each(x, doc, v, ec_route_one, &rs);
}

/* A number of the port being read: k->off is the field's offset in it. */
static int ec_port_uint(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)doc;
	return ec_uint(x, v, k->min, k->max, k->unit, (uint32_t *)((char *)ec_cur_port(x) + k->off));
}

static int ec_port_mtu(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	int rc = ec_port_uint(x, doc, k, v);

	if (rc == 0 && ec_cur_port(x)->mtu != 0 && ec_cur_port(x)->mtu < 576)
		return ec_fail(x, v, "mtu %u is below 576 (0: the port's)", ec_cur_port(x)->mtu);
	return rc;
}

#define EC_PORT_UINT(name, field, min, max, unit) \
	{ name, ec_port_uint, offsetof(struct pk_engine_dpdk_port, field), min, max, unit }

static const struct ec_key ec_dpdk_port_keys[] = {
	{ "port", ec_port_name, 0, 0, 0, NULL },
	{ "addresses", ec_port_addrs, 0, 0, 0, NULL },
	EC_PORT_UINT("prefix_len", prefix_len, 1, 32, "bits"),
	{ "gateway", ec_port_gateway, 0, 0, 0, NULL },
	{ "routes", ec_port_routes, 0, 0, 0, NULL },
	EC_PORT_UINT("vlan", vlan, 0, 4094, "VLAN id"),
	{ "mtu", ec_port_mtu, offsetof(struct pk_engine_dpdk_port, mtu), 0, 9000, "bytes" },
};

static int ec_dpdk_ports(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_engine_dpdk *d = &x->c->dpdk;
	int rc;

	(void)k;
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.start == v->data.sequence.items.top)
		return ec_fail(x, v, "expected a list of ports (- port: NAME, addresses: [IP, ...])");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);

		if (item == NULL)
			continue;
		if (d->n_ports == PK_ENGINE_MAX_DPDK_PORTS)
			return ec_fail(x, item, "more than %d ports", PK_ENGINE_MAX_DPDK_PORTS);
		d->ports[d->n_ports++] = (struct pk_engine_dpdk_port){
			.prefix_len = 24,
			.line = (uint32_t)item->start_mark.line + 1,
		};
		/* errors name the port: io.dpdk.ports[1].mtu */
		size_t base = strlen(x->key);
		snprintf(x->key + base, sizeof(x->key) - base, "[%u]", d->n_ports - 1);
		rc = ec_mapping(x, doc, item, ec_dpdk_port_keys, PK_ARRAY_SIZE(ec_dpdk_port_keys));
		x->key[base] = '\0';
		if (rc != 0)
			return rc;
		if (ec_cur_port(x)->port == NULL || ec_cur_port(x)->n_addrs == 0)
			return ec_fail(x, item, "a port needs port: (its name or number) and addresses: "
						"(the IPv4 addresses pickupd has on it)");
	}
	return 0;
}

static const struct ec_key ec_dpdk_keys[] = {
	{ "eal", ec_dpdk_eal, 0, 0, 0, NULL },
	{ "ports", ec_dpdk_ports, 0, 0, 0, NULL },
	{ "port", ec_dpdk_port, 0, 0, 0, NULL },
	EC_UINT("prefix_len", dpdk.prefix_len, 1, 32, "bits"),
	{ "gateway", ec_dpdk_gateway, 0, 0, 0, NULL },
	{ "routes", ec_dpdk_routes_key, 0, 0, 0, NULL },
	EC_UINT("vlan", dpdk.vlan, 0, 4094, "VLAN id"),
	{ "mtu", ec_dpdk_mtu, offsetof(struct pk_engine_conf, dpdk.mtu), 0, 9000, "bytes" },
	EC_UINT("mbufs", dpdk.mbufs, 0, 1u << 24, "mbufs"),
	{ "data_room", ec_dpdk_data_room, offsetof(struct pk_engine_conf, dpdk.data_room), 0, 65535, "bytes" },
	EC_UINT("rx_desc", dpdk.rx_desc, 0, 32768, "descriptors"),
	EC_UINT("tx_desc", dpdk.tx_desc, 0, 32768, "descriptors"),
	EC_UINT("tx_drain_us", dpdk.tx_drain_us, 0, 1000000, "microseconds"),
};

static int ec_dpdk(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	static const char *const one_port[] = { "port", "prefix_len", "gateway", "routes", "vlan", "mtu" };
	yaml_node_t *ports = NULL, *single = NULL;
	int rc;

	(void)k;
	x->c->dpdk_line = (uint32_t)v->start_mark.line + 1;
	if ((rc = ec_mapping(x, doc, v, ec_dpdk_keys, PK_ARRAY_SIZE(ec_dpdk_keys))) != 0)
		return rc;
	/* ports: is the list form of the one port's keys: not both */
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		struct pk_str ks = ec_scalar(kn);

		if (pk_str_eq(ks, PK_STR_LIT("ports")))
			ports = kn;
		for (unsigned i = 0; i < PK_ARRAY_SIZE(one_port); i++)
			if (single == NULL && pk_str_eq(ks, pk_str_make(one_port[i], strlen(one_port[i]))))
				single = kn;
	}
	if (ports != NULL && single != NULL)
		return ec_fail(x, single,
			       "'%.*s' is a key of the one-port form; with ports: give it in each "
			       "port of the list (not both)",
			       (int)ec_scalar(single).len, ec_scalar(single).p);
	return 0;
}

static const struct ec_key ec_io_keys[] = {
	{ "backend", ec_backend, 0, 0, 0, NULL },
	EC_UINT("socket_buffer", socket_buffer, 0, 1u << 30, "bytes"),
	{ "dpdk", ec_dpdk, 0, 0, 0, NULL },
};

static int ec_io(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	return ec_mapping(x, doc, v, ec_io_keys, PK_ARRAY_SIZE(ec_io_keys));
}

static int ec_log_level(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc, lv;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	lv = pk_log_level_lookup(s.p, s.len);
	if (lv < 0)
		return ec_fail(x, v, "unknown level '%.*s' (known: error, warning, notice, info, debug)",
			       (int)s.len, s.p);
	x->c->log_level = (enum pk_log_level)lv;
	return 0;
}

static int ec_log_target(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	struct pk_str s;
	int rc;

	(void)doc, (void)k;
	if ((rc = ec_want_scalar(x, v, &s)) != 0)
		return rc;
	if (pk_str_eq(s, PK_STR_LIT("stderr")))
		x->c->log_target = PK_LOG_STDERR;
	else if (pk_str_eq(s, PK_STR_LIT("syslog")))
		x->c->log_target = PK_LOG_SYSLOG;
	else
		return ec_fail(x, v, "unknown target '%.*s' (known: stderr, syslog)", (int)s.len, s.p);
	return 0;
}

static const struct ec_key ec_log_keys[] = {
	{ "level", ec_log_level, 0, 0, 0, NULL },
	{ "target", ec_log_target, 0, 0, 0, NULL },
};

static int ec_log(struct ec_ctx *x, yaml_document_t *doc, const struct ec_key *k, yaml_node_t *v)
{
	(void)k;
	return ec_mapping(x, doc, v, ec_log_keys, PK_ARRAY_SIZE(ec_log_keys));
}

/* The port of io.dpdk.ports that has l's address, -1: none. */
static int ec_port_of(const struct pk_engine_conf *c, const struct pk_engine_listener *l)
{
	for (uint32_t p = 0; p < c->dpdk.n_ports; p++)
		for (uint32_t j = 0; j < c->dpdk.ports[p].n_addrs; j++)
			if (l->addr.family == AF_INET && memcmp(l->addr.ip, &c->dpdk.ports[p].addrs[j], 4) == 0)
				return (int)p;
	return -1;
}

/* The dpdk backend serves UDP on IPv4 addresses of its ports: every
 * listener must be one, with an explicit port, and with io.dpdk.ports on
 * one of theirs; every port needs a listener (docs/dpdk.md). */
static int ec_dpdk_listeners(struct ec_ctx *x)
{
	const struct pk_engine_conf *c = x->c;

	if (c->backend != PK_IO_DPDK)
		return 0;
	for (uint32_t i = 0; i < c->n_listeners; i++) {
		const struct pk_engine_listener *l = &c->listeners[i];
		char a[PK_ADDR_STRLEN];

		pk_addr_format(&l->addr, true, a, sizeof(a));
		if (l->transport != PK_TRANSPORT_UDP)
			return ec_errf(x->err, x->name, -EINVAL, 0, 0,
				       "listen: %s/tcp: io.backend dpdk serves SIP over UDP only (give "
				       "listen: {%s: {udp: ...}}; SIP over TCP needs the socket backend)",
				       a, pk_listen_role_name((enum pk_listen_role)l->role));
		if (l->addr.family != AF_INET || pk_addr_is_any(&l->addr) || l->addr.port == 0)
			return ec_errf(x->err, x->name, -EINVAL, 0, 0,
				       "listen: %s: io.backend dpdk needs IPv4 addresses of its port with "
				       "a port (not 0.0.0.0, not port 0)",
				       a);
		if (c->dpdk.n_ports != 0 && ec_port_of(c, l) < 0)
			return ec_errf(x->err, x->name, -EINVAL, l->line, 0,
				       "listen: %s is on no port: its address is none of the addresses "
				       "of io.dpdk.ports",
				       a);
	}
	/* a port without a listener would take every UDP datagram it gets */
	for (uint32_t p = 0; p < c->dpdk.n_ports; p++) {
		uint32_t i;

		for (i = 0; i < c->n_listeners && ec_port_of(c, &c->listeners[i]) != (int)p; i++)
			;
		if (i == c->n_listeners)
			return ec_errf(x->err, x->name, -EINVAL, c->dpdk.ports[p].line, 0,
				       "io.dpdk.ports: port %s has no listener (listen: on one of its "
				       "addresses)",
				       c->dpdk.ports[p].port);
	}
	return 0;
}

/* A port as the route checks see it: io.dpdk.ports[p], or the one port
 * of the single-port form (every listener's address on it). */
struct ec_port_view {
	const char *name;
	uint32_t prefix_len, n_addrs, n_routes, gateway, gateway_line;
	uint32_t addrs[PK_ENGINE_MAX_LISTENERS];
	const struct pk_engine_route *routes;
};

static void ec_port_view(const struct pk_engine_conf *c, uint32_t p, struct ec_port_view *v)
{
	if (c->dpdk.n_ports != 0) {
		const struct pk_engine_dpdk_port *dp = &c->dpdk.ports[p];

		*v = (struct ec_port_view){ .name = dp->port, .prefix_len = dp->prefix_len,
					    .n_addrs = dp->n_addrs, .n_routes = dp->n_routes,
					    .gateway = dp->gateway, .gateway_line = dp->gateway_line,
					    .routes = dp->routes };
		memcpy(v->addrs, dp->addrs, sizeof(dp->addrs));
		return;
	}
	*v = (struct ec_port_view){ .name = c->dpdk.port != NULL ? c->dpdk.port : "0",
				    .prefix_len = c->dpdk.prefix_len, .n_routes = c->dpdk.n_routes,
				    .gateway = c->dpdk.gateway, .gateway_line = c->dpdk.gateway_line,
				    .routes = c->dpdk.routes };
	for (uint32_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].addr.family == AF_INET)
			memcpy(&v->addrs[v->n_addrs++], c->listeners[i].addr.ip, 4);
}

/* The address of v whose prefix holds ip, -1: none (ip is not on-link). */
static int ec_onlink(const struct ec_port_view *v, uint32_t ip)
{
	for (uint32_t j = 0; j < v->n_addrs; j++)
		if (((ip ^ v->addrs[j]) & pk_ipv4_mask(v->prefix_len)) == 0)
			return (int)j;
	return -1;
}

/* Whether on-link ip is the network or the broadcast address of its
 * prefix on v (a /31 or /32 has neither): no host to send to. */
static bool ec_not_a_host(const struct ec_port_view *v, uint32_t ip)
{
	uint32_t mask = pk_ipv4_mask(v->prefix_len);

	return v->prefix_len < 31 && ((ip & ~mask) == 0 || (ip | mask) == 0xffffffffu);
}

/* The next hops of the dpdk ports, which are reached by ARP: each
 * gateway on-link with one of its port's addresses (the one port's: a
 * listener's) and a host of that prefix, not its network or broadcast
 * address; each static route's next hop (io.dpdk.routes,
 * io.dpdk.ports[].routes) the same and none of our addresses, each route's
 * prefix given once over every port and on-link on none (an on-link
 * destination is sent to directly: the route would never be used). */
static int ec_dpdk_next_hops(struct ec_ctx *x)
{
	const struct pk_engine_conf *c = x->c;
	uint32_t np = c->dpdk.n_ports ? c->dpdk.n_ports : 1;
	struct ec_port_view v[PK_ENGINE_MAX_DPDK_PORTS];

	if (c->backend != PK_IO_DPDK)
		return 0;
	for (uint32_t p = 0; p < np; p++)
		ec_port_view(c, p, &v[p]);
	for (uint32_t p = 0; p < np; p++) {
		const uint8_t *g = (const uint8_t *)&v[p].gateway;

		if (v[p].gateway != 0 && ec_onlink(&v[p], v[p].gateway) < 0) {
			if (c->dpdk.n_ports != 0)
				return ec_errf(x->err, x->name, -EINVAL, v[p].gateway_line, 0,
					       "io.dpdk.ports: the gateway %u.%u.%u.%u of port %s is in the prefix "
					       "(/%u) of none of its addresses",
					       g[0], g[1], g[2], g[3], v[p].name, v[p].prefix_len);
			return ec_errf(x->err, x->name, -EINVAL, v[p].gateway_line, 0,
				       "io.dpdk.gateway: %u.%u.%u.%u is in the prefix (/%u) of none of the "
				       "listeners' addresses",
				       g[0], g[1], g[2], g[3], v[p].prefix_len);
		}
		if (v[p].gateway != 0 && ec_not_a_host(&v[p], v[p].gateway)) {
			return ec_errf(x->err, x->name, -EINVAL, v[p].gateway_line, 0,
				       "%s: the gateway %u.%u.%u.%u of port %s is the network or broadcast "
				       "address of its prefix (/%u)",
				       c->dpdk.n_ports ? "io.dpdk.ports" : "io.dpdk.gateway", g[0], g[1], g[2], g[3],
				       v[p].name, v[p].prefix_len);
		}
		for (uint32_t r = 0; r < v[p].n_routes; r++) {
			const struct pk_engine_route *rt = &v[p].routes[r];
			const uint8_t *n = (const uint8_t *)&rt->net, *h = (const uint8_t *)&rt->via;
			const char *key = c->dpdk.n_ports ? "io.dpdk.ports" : "io.dpdk.routes";

			if (ec_onlink(&v[p], rt->via) < 0)
				return ec_errf(x->err, x->name, -EINVAL, rt->line, 0,
					       "%s: the next hop %u.%u.%u.%u of the route to %u.%u.%u.%u/%u "
					       "(port %s) is in the prefix (/%u) of none of its addresses",
					       key, h[0], h[1], h[2], h[3], n[0], n[1], n[2], n[3], rt->prefix_len,
					       v[p].name, v[p].prefix_len);
			if (ec_not_a_host(&v[p], rt->via))
				return ec_errf(x->err, x->name, -EINVAL, rt->line, 0,
					       "%s: the next hop %u.%u.%u.%u of the route to %u.%u.%u.%u/%u "
					       "is the network or broadcast address of its prefix (/%u)",
					       key, h[0], h[1], h[2], h[3], n[0], n[1], n[2], n[3], rt->prefix_len,
					       v[p].prefix_len);
			for (uint32_t q = 0; q < np; q++) {
				int a = ec_onlink(&v[q], rt->net);
				bool ours = false;

				for (uint32_t j = 0; j < v[q].n_addrs; j++)
					ours = ours || v[q].addrs[j] == rt->via;
				if (ours)
					return ec_errf(x->err, x->name, -EINVAL, rt->line, 0,
						       "%s: the next hop %u.%u.%u.%u of the route to "
						       "%u.%u.%u.%u/%u is an address of pickupd's (port %s)",
						       key, h[0], h[1], h[2], h[3], n[0], n[1], n[2], n[3],
						       rt->prefix_len, v[q].name);
				if (a >= 0 && rt->prefix_len >= v[q].prefix_len) {
					const uint8_t *o = (const uint8_t *)&v[q].addrs[a];
					return ec_errf(x->err, x->name, -EINVAL, rt->line, 0,
						       "%s: the route to %u.%u.%u.%u/%u is on-link on port %s "
						       "(%u.%u.%u.%u/%u): no route is needed",
						       key, n[0], n[1], n[2], n[3], rt->prefix_len, v[q].name,
						       o[0], o[1], o[2], o[3], v[q].prefix_len);
				}
				/* the same prefix earlier: on an earlier port, or
				 * earlier on this one */
				for (uint32_t e = 0; e < (q < p ? v[q].n_routes : q == p ? r : 0); e++)
					if (v[q].routes[e].net == rt->net &&
					    v[q].routes[e].prefix_len == rt->prefix_len)
						return ec_errf(x->err, x->name, -EINVAL, rt->line, 0,
							       "%s: the route to %u.%u.%u.%u/%u is given twice "
							       "(line %u)",
							       key, n[0], n[1], n[2], n[3], rt->prefix_len,
							       v[q].routes[e].line);
			}
		}
	}
	return 0;
}

static const struct ec_key ec_top_keys[] = {
	{ "listen", ec_listen, 0, 0, 0, NULL },
	{ "workers", ec_workers, 0, 0, 0, NULL },
	{ "domains", ec_domains, 0, 0, 0, NULL },
	{ "groups", ec_groups, 0, 0, 0, NULL },
	{ "trusted", ec_trusted, 0, 0, 0, NULL },
	{ "bindings", ec_bindings, 0, 0, 0, NULL },
	{ "timers", ec_timers, 0, 0, 0, NULL },
	{ "capacity", ec_capacity, 0, 0, 0, NULL },
	{ "control_socket", ec_control_socket, 0, 0, 0, NULL },
	{ "metrics_listen", ec_metrics_listen, 0, 0, 0, NULL },
	{ "telemetry", ec_telemetry, 0, 0, 0, NULL },
	{ "io", ec_io, 0, 0, 0, NULL },
	{ "log", ec_log, 0, 0, 0, NULL },
	{ "next_hop", ec_next_hop, 0, 0, 0, NULL },
	{ "record_route", ec_record_route, 0, 0, 0, NULL },
	{ "advertise", ec_advertise, 0, 0, 0, NULL },
	{ "limits", ec_limits, 0, 0, 0, NULL },
};

/* ---- entry points ---- */

static int ec_defaults(struct ec_ctx *x)
{
	struct pk_engine_conf *c = x->c;

	c->workers = EC_DEF_WORKERS;
	ec_listen_defaults(c);
	pk_groups_settings_init(&c->served);
	c->timers = (struct pk_engine_timers){
		.ring_timeout = EC_DEF_RING_TIMEOUT,
		.claim_timeout = EC_DEF_CLAIM_TIMEOUT,
		.register_min_expires = EC_DEF_REG_MIN,
		.register_max_expires = EC_DEF_REG_MAX,
		.register_default_expires = EC_DEF_REG_DEFAULT,
		.tcp_idle_timeout = EC_DEF_TCP_IDLE,
	};
	c->capacity = (struct pk_engine_capacity){
		.calls = EC_DEF_CALLS,
		.registrations = EC_DEF_REGISTRATIONS,
		.groups = EC_DEF_GROUPS_CAP,
		.users = EC_DEF_USERS,
		.tcp_connections = EC_DEF_TCP_CONNS,
		.group_flat_max = PK_GROUPS_FLAT_MAX_DEFAULT,
	};
	c->backend = PK_IO_SOCKET;
	c->dpdk.port = "0";
	c->dpdk.prefix_len = 24;
	c->socket_buffer = EC_DEF_SOCKET_BUFFER;
	c->limits = (struct pk_engine_limits){
		.requests_per_second = 0, /* off: see docs/config.md for why */
		.burst = 0,
		.retry_after = EC_DEF_RETRY_AFTER,
		.over = PK_LIMITS_REPLY,
		.exempt_trusted = true,
	};
	c->log_level = PK_LOG_INFO;
	c->log_target = PK_LOG_STDERR;
	if ((c->groups_path = ec_path(x, PK_STR_LIT(EC_DEF_GROUPS))) == NULL)
		return ec_nomem(x);
	c->control_socket = EC_DEF_CONTROL_SOCKET;
	c->metrics_listen = "";
	return 0;
}

static int ec_parse_doc(struct ec_ctx *x, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return ec_nomem(x);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = ec_errf(x->err, x->name, -EINVAL, (uint32_t)parser.problem_mark.line + 1,
			     (uint32_t)parser.problem_mark.column + 1, "YAML syntax: %s%s%s",
			     parser.problem ? parser.problem : "error", parser.context ? " " : "",
			     parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !ec_is_null(root))
		rc = ec_mapping(x, &doc, root, ec_top_keys, PK_ARRAY_SIZE(ec_top_keys));
	if (rc == 0)
		rc = ec_dpdk_listeners(x);
	if (rc == 0)
		rc = ec_dpdk_next_hops(x);
	if (rc == 0) {
		/* A second document ("---") would be ignored silently: refuse. */
		if (!yaml_parser_load(&parser, &extra)) {
			rc = ec_errf(x->err, x->name, -EINVAL, (uint32_t)parser.problem_mark.line + 1,
				     (uint32_t)parser.problem_mark.column + 1, "YAML syntax: %s",
				     parser.problem ? parser.problem : "error");
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2 != NULL)
				rc = ec_errf(x->err, x->name, -EINVAL, (uint32_t)r2->start_mark.line + 1,
					     (uint32_t)r2->start_mark.column + 1,
					     "a second YAML document: the file must hold one");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

uint32_t pk_engine_conf_dpdk_ignored(const struct pk_engine_conf *c)
{
	return c->backend == PK_IO_DPDK ? 0 : c->dpdk_line;
}

void pk_engine_conf_free(struct pk_engine_conf *c)
{
	struct ec_store *st;

	if (c == NULL)
		return;
	st = c->priv_;
	if (st != NULL) {
		for (size_t i = 0; i < st->n_strs; i++)
			free(st->strs[i]);
		free(st->strs);
		free(st);
	}
	free(c->bindings);
	free(c);
}

struct pk_engine_conf *pk_engine_conf_parse(const char *buf, size_t len, const char *name,
					    const char *dir, struct pk_engine_conf_error *err)
{
	struct ec_ctx x = { .name = name ? name : "<config>", .err = err };
	struct pk_engine_conf *c;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	c = calloc(1, sizeof(*c));
	x.st = calloc(1, sizeof(*x.st));
	if (c == NULL || x.st == NULL) {
		free(c);
		free(x.st);
		ec_errf(err, x.name, -ENOMEM, 0, 0, "out of memory");
		return NULL;
	}
	c->priv_ = x.st;
	x.c = c;
	if ((c->path = ec_strndup(&x, x.name, strlen(x.name))) == NULL ||
	    (c->dir = ec_strndup(&x, dir ? dir : ".", strlen(dir ? dir : "."))) == NULL) {
		ec_nomem(&x);
		goto fail;
	}
	if (ec_defaults(&x) != 0 || ec_parse_doc(&x, buf, len) != 0 || ec_advertise_apply(&x) != 0)
		goto fail;
	return c;
fail:
	pk_engine_conf_free(c);
	return NULL;
}

struct pk_engine_conf *pk_engine_conf_load(const char *path, struct pk_engine_conf_error *err)
{
	struct pk_engine_conf *c = NULL;
	char *buf = NULL, *dir = NULL;
	const char *slash;
	size_t len = 0, cap = 0;
	mode_t mode;
	FILE *f;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	/* A regular file only (control/conf_file.h): a FIFO or a terminal
	 * would block pickupd here. */
	f = pk_conf_file_open(path, &mode);
	if (f == NULL && pk_conf_file_kind(mode) != NULL) {
		ec_errf(err, path, -EINVAL, 0, 0, "not a regular file (%s)", pk_conf_file_kind(mode));
		return NULL;
	}
	if (f == NULL) {
		int e = errno;

		ec_errf(err, path, -e, 0, 0, "cannot open: %s", strerror(e));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nb = ncap > (64u << 20) ? NULL : realloc(buf, ncap);

			if (nb == NULL) {
				ec_errf(err, path, ncap > (64u << 20) ? -EFBIG : -ENOMEM, 0, 0,
					ncap > (64u << 20) ? "larger than 64 MiB" : "out of memory");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		ec_errf(err, path, -EIO, 0, 0, "read error");
		goto out;
	}
	slash = strrchr(path, '/');
	if (slash == NULL) {
		dir = strdup(".");
	} else {
		size_t dl = slash == path ? 1 : (size_t)(slash - path);

		dir = strndup(path, dl);
	}
	if (dir == NULL) {
		ec_errf(err, path, -ENOMEM, 0, 0, "out of memory");
		goto out;
	}
	c = pk_engine_conf_parse(buf, len, path, dir, err);
out:
	fclose(f);
	free(buf);
	free(dir);
	return c;
}

int pk_engine_conf_resolve(struct pk_engine_conf *c, const struct pk_groups_conf *groups,
			   struct pk_engine_conf_error *err)
{
	const struct pk_groups_settings *gs = &groups->settings;
	const struct ec_store *st = c->priv_;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (c->served.n_domains == 0) {
		for (uint32_t i = 0; i < gs->n_domains; i++)
			pk_groups_settings_add_domain(&c->served, pk_groups_settings_domain(gs, i));
	} else {
		for (uint32_t i = 0; i < gs->n_domains; i++) {
			struct pk_str d = pk_groups_settings_domain(gs, i);

			if (pk_groups_settings_find_domain(&c->served, d) < 0)
				return ec_errf(err, c->path, -EINVAL, st->domains.line, st->domains.col,
					       "domains: the groups file %s serves '%.*s', which is not "
					       "listed here",
					       c->groups_path, (int)d.len, d.p);
		}
	}
	if (c->served.n_domains == 0) /* the groups loader requires one: defensive */
		return ec_errf(err, c->path, -EINVAL, 0, 0,
			       "no served domain: set domains: here or settings.domains in the groups file");
	/* Only an explicit timers.ring_timeout can be below the groups file's
	 * (the default is the largest value the groups file may hold). */
	if (gs->ring_timeout > c->timers.ring_timeout)
		return ec_errf(err, c->path, -EINVAL, st->ring_timeout.line, st->ring_timeout.col,
			       "timers.ring_timeout: %u s is below the groups file's settings.ring_timeout "
			       "(%u s in %s): calls would leave the ringing table before the service "
			       "setting says",
			       c->timers.ring_timeout, gs->ring_timeout, c->groups_path);
	/* What the group index would refuse at start-up (pk_groups_replace:
	 * -ENOSPC), so that --check refuses it too. */
	if (groups->n_groups > c->capacity.groups)
		return ec_errf(err, c->path, -EINVAL, st->cap_groups.line, st->cap_groups.col,
			       "capacity.groups: the groups file %s has %u groups, more than %u", c->groups_path,
			       groups->n_groups, c->capacity.groups);
	if (groups->n_users > c->capacity.users)
		return ec_errf(err, c->path, -EINVAL, st->cap_users.line, st->cap_users.col,
			       "capacity.users: the groups file %s has %u users, more than %u", c->groups_path,
			       groups->n_users, c->capacity.users);
	for (uint32_t i = 0, n_contacts = 0; i < c->n_bindings; i++) {
		struct pk_engine_binding *b = &c->bindings[i];

		if (b->domain.len == 0)
			b->domain = pk_groups_settings_domain(&c->served, 0);
		if (pk_groups_settings_find_domain(&c->served, b->domain) < 0)
			return ec_errf(err, c->path, -EINVAL, b->line, b->col,
				       "bindings: domain '%.*s' of '%.*s' is not served", (int)b->domain.len,
				       b->domain.p, (int)b->user.len, b->user.p);
		for (uint32_t j = 0; j < i; j++)
			if (pk_str_eq(c->bindings[j].user, b->user) &&
			    pk_str_eq(c->bindings[j].domain, b->domain))
				return ec_errf(err, c->path, -EINVAL, b->line, b->col,
					       "bindings: '%.*s@%.*s' is bound twice (line %u)",
					       (int)b->user.len, b->user.p, (int)b->domain.len, b->domain.p,
					       c->bindings[j].line);
		/* the location table holds the static contacts too: what
		 * pk_registrar_load_static would refuse at start-up */
		n_contacts += b->n_contacts;
		if (n_contacts > c->capacity.registrations)
			return ec_errf(err, c->path, -EINVAL, b->line, b->col,
				       "bindings: '%.*s@%.*s': more static contacts than "
				       "capacity.registrations (%u)",
				       (int)b->user.len, b->user.p, (int)b->domain.len, b->domain.p,
				       c->capacity.registrations);
	}
	return 0;
}

int pk_engine_conf_check_groups(const struct pk_engine_conf *c, const struct pk_groups_conf *groups,
				struct pk_engine_conf_error *err)
{
	const struct pk_groups_settings *gs = &groups->settings;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	for (uint32_t i = 0; i < gs->n_domains; i++) {
		struct pk_str d = pk_groups_settings_domain(gs, i);

		if (pk_groups_settings_find_domain(&c->served, d) < 0)
			return ec_errf(err, c->groups_path, -EINVAL, 0, 0,
				       "settings.domains: '%.*s' is not a domain pickupd serves (the served "
				       "domains are fixed at start-up, see %s)",
				       (int)d.len, d.p, c->path);
	}
	if (gs->ring_timeout > c->timers.ring_timeout)
		return ec_errf(err, c->groups_path, -EINVAL, 0, 0,
			       "settings.ring_timeout: %u s is above timers.ring_timeout (%u s in %s)",
			       gs->ring_timeout, c->timers.ring_timeout, c->path);
	return 0;
}

const char *pk_listen_role_name(enum pk_listen_role r)
{
	static const char *const names[] = {
#define EC_ROLE_NAME(id, name, port) name,
		PK_LISTEN_FOREACH_ROLE(EC_ROLE_NAME)
#undef EC_ROLE_NAME
	};

	return (unsigned)r < PK_LISTEN_ROLE_COUNT ? names[r] : "?";
}

uint32_t pk_engine_conf_ring_timeout(const struct pk_engine_conf *c,
				     const struct pk_groups_conf *groups)
{
	uint32_t svc = groups->settings.ring_timeout;
	return svc < c->timers.ring_timeout ? svc : c->timers.ring_timeout;
}

bool pk_engine_conf_trusted(const struct pk_engine_conf *c, const struct pk_addr *a)
{
	for (uint32_t i = 0; i < c->n_trusted; i++)
		if (pk_cidr_match(&c->trusted[i], a))
			return true;
	return false;
}

/* pk_trusted_set_match the general way (any family, any prefix). */
static __attribute__((noinline)) bool ec_trusted_set_match_any(const struct pk_trusted_set *t,
							       const struct pk_addr *a)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (pk_cidr_match(&t->net[i], a))
			return true;
	return false;
}

bool pk_trusted_set_match(const struct pk_trusted_set *t, const struct pk_addr *a)
{
	uint32_t a4;

	if (a->family != AF_INET)
		return ec_trusted_set_match_any(t, a);
	/* An IPv4 source (every REGISTER and INVITE a worker checks): each
	 * IPv4 network in one 32-bit compare (in memory order) instead of
	 * pk_cidr_match's memcmp, with its exact meaning: the prefix's whole
	 * bytes equal, and the source's partial byte, masked, equal to the
	 * network's whole byte (bits past the prefix are zero in a parsed
	 * network; were one not, neither test would match). */
	memcpy(&a4, a->ip, 4);
	for (uint32_t i = 0; i < t->n; i++) {
		const struct pk_cidr *c = &t->net[i];
		unsigned bits = c->prefix, whole = (bits + 7) & ~7u;
		uint32_t n4, mask, bmask;

		if (c->net.family != AF_INET)
			continue; /* pk_cidr_match: families differ */
		if (bits > 32)
			return ec_trusted_set_match_any(t, a); /* not a parsed IPv4 network */
		memcpy(&n4, c->net.ip, 4);
		mask = pk_ipv4_mask(bits);
		bmask = pk_ipv4_mask(whole);
		if ((a4 & mask) == (n4 & bmask))
			return true;
	}
	return false;
}

void pk_trusted_set_from_conf(struct pk_trusted_set *t, const struct pk_engine_conf *c)
{
	t->n = c->n_trusted;
	memcpy(t->net, c->trusted, sizeof(t->net[0]) * c->n_trusted);
}
