/* SPDX-License-Identifier: MIT */
/*
 * Loader of the groups file (YAML; the format is in docs/groups.md).
 *
 * It runs libyaml's event parser -- not the document API, which would build
 * a node tree of the whole file first -- and validates as it goes, so that
 * a file of a million memberships loads in well under two seconds. Scalars
 * are taken as the text written: YAML would turn `number: 0801` into an
 * integer, here it stays "0801" and is checked against the Lync number
 * syntax.
 *
 * Two passes. Pass 1 (the event stream) checks the structure, the syntax of
 * every value and duplicate numbers, and records groups and members in flat
 * arrays (strings in one arena). Pass 2 does what needs the settings, which
 * may come after the groups in the file: number conflicts with the pickup
 * code and prefix, member domains, members listed twice in a group, and it
 * folds the members into distinct users. The first error found stops the
 * load; nothing half-built ever escapes. Control plane only.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "conf_file.h"
#include "pickup/groups_conf.h"

/* ---- growable storage ---- */

struct cf_arena {
	char *p;
	size_t len, cap;
};

static int cf_arena_reserve(struct cf_arena *a, size_t n)
{
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 1 << 16;
		char *np;

		while (cap < a->len + n)
			cap *= 2;
		np = realloc(a->p, cap);
		if (np == NULL)
			return -ENOMEM;
		a->p = np;
		a->cap = cap;
	}
	return 0;
}

#define CF_GROW(arr, n, cap)                                                           \
	((n) < (cap) ? 0 : cf_grow((void **)&(arr), &(cap), sizeof(*(arr))))

static int cf_grow(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 256;
	void *np = realloc(*arr, (size_t)ncap * elem);

	if (np == NULL)
		return -ENOMEM;
	*arr = np;
	*cap = ncap;
	return 0;
}

/* ---- raw records of pass 1 ---- */

struct cf_member {
	uint32_t user_off, domain_off; /* arena offsets */
	uint16_t user_len, domain_len; /* domain_len 0: the default domain */
	uint32_t rights;
	uint32_t line, col;
};

struct cf_group {
	uint32_t num_off, name_off;
	uint16_t num_len, name_len;
	uint32_t first, n; /* members */
	uint32_t line, col, num_line, num_col;
};

struct cf_user {
	uint32_t user_off;
	uint16_t user_len, domain;
	uint32_t n;	     /* memberships */
	uint32_t last_group; /* for "listed twice in a group" */
	uint32_t last_line;
};

/* What the finished object owns. */
struct cf_storage {
	char *arena;
	struct pk_groups_conf_group *groups;
	struct pk_groups_conf_ref *members, *user_groups;
	struct pk_groups_conf_user *users;
};

struct cf {
	yaml_parser_t parser;
	yaml_event_t ev;
	bool ev_live;
	const char *name;
	struct pk_groups_conf_error *err;
	int rc; /* first error, sticky */

	struct pk_groups_settings settings;
	bool have_settings;
	uint32_t settings_line, settings_col;

	struct cf_arena a;
	struct cf_group *groups;
	uint32_t n_groups, cap_groups;
	struct cf_member *members;
	uint32_t n_members, cap_members;
	uint32_t *numset; /* open addressing: group index + 1 */
	uint32_t numset_cap;
};

/* ---- errors ---- */

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int cf_error(struct cf *c, uint32_t line, uint32_t col, int code, const char *fmt, ...)
{
	struct pk_groups_conf_error *e = c->err;
	va_list ap;
	int n;

	if (c->rc != 0)
		return c->rc;
	c->rc = code;
	if (e == NULL)
		return code;
	e->code = code;
	e->line = line;
	e->col = col;
	if (line > 0)
		n = snprintf(e->msg, sizeof(e->msg), "%s:%u:%u: ", c->name, line, col);
	else
		n = snprintf(e->msg, sizeof(e->msg), "%s: ", c->name);
	if (n < 0 || (size_t)n >= sizeof(e->msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static inline uint32_t cf_line(const yaml_event_t *ev)
{
	return (uint32_t)ev->start_mark.line + 1;
}

static inline uint32_t cf_col(const yaml_event_t *ev)
{
	return (uint32_t)ev->start_mark.column + 1;
}

#define CF_ERR_AT(c, code, ...) cf_error((c), cf_line(&(c)->ev), cf_col(&(c)->ev), (code), __VA_ARGS__)

/* A printable excerpt of a value for messages. */
static const char *cf_show(const char *p, size_t len, char *buf, size_t cap)
{
	size_t n = len < cap - 4 ? len : cap - 4;

	if (n > 0)
		memcpy(buf, p, n);
	if (n < len)
		memcpy(buf + n, "...", 3), n += 3;
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = '?';
	return buf;
}

/* ---- events ---- */

static int cf_next(struct cf *c)
{
	if (c->ev_live) {
		yaml_event_delete(&c->ev);
		c->ev_live = false;
	}
	if (!yaml_parser_parse(&c->parser, &c->ev)) {
		const yaml_parser_t *p = &c->parser;

		if (p->error == YAML_MEMORY_ERROR)
			return cf_error(c, 0, 0, -ENOMEM, "out of memory");
		if (p->context != NULL)
			return cf_error(c, (uint32_t)p->problem_mark.line + 1,
					(uint32_t)p->problem_mark.column + 1, -EINVAL,
					"YAML syntax error: %s %s (started at line %u)", p->problem ? p->problem : "",
					p->context, (unsigned)p->context_mark.line + 1);
		return cf_error(c, (uint32_t)p->problem_mark.line + 1,
				(uint32_t)p->problem_mark.column + 1, -EINVAL, "YAML syntax error: %s",
				p->problem ? p->problem : "?");
	}
	c->ev_live = true;
	return 0;
}

static inline bool cf_is(const struct cf *c, yaml_event_type_t t)
{
	return c->ev.type == t;
}

static inline struct pk_str cf_text(const struct cf *c)
{
	return pk_str_make((const char *)c->ev.data.scalar.value, c->ev.data.scalar.length);
}

/* YAML's null: an empty plain scalar, ~ or null. */
static bool cf_is_null(const struct cf *c)
{
	struct pk_str t;

	if (!cf_is(c, YAML_SCALAR_EVENT) || c->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	t = cf_text(c);
	return t.len == 0 || pk_str_eq(t, PK_STR_LIT("~")) || pk_str_eq(t, PK_STR_LIT("null")) ||
	       pk_str_eq(t, PK_STR_LIT("Null")) || pk_str_eq(t, PK_STR_LIT("NULL"));
}

/* The current event must be a scalar value of `what`. */
static int cf_expect_scalar(struct cf *c, const char *what)
{
	if (cf_is(c, YAML_SCALAR_EVENT))
		return 0;
	if (cf_is(c, YAML_ALIAS_EVENT))
		return CF_ERR_AT(c, -EINVAL,
				 "%s: '*%s' is read by YAML as an alias; quote values that start "
				 "with '*' (\"*%s\")",
				 what, (const char *)c->ev.data.alias.anchor,
				 (const char *)c->ev.data.alias.anchor);
	return CF_ERR_AT(c, -EINVAL, "%s must be a single value, not a %s", what,
			 cf_is(c, YAML_SEQUENCE_START_EVENT) ? "list" : "mapping");
}

/* cf_key's answer at the end of the mapping (never a key index). */
#define CF_MAP_END INT_MAX

/*
 * Inside a mapping: read the next event, the next key or the end of the
 * mapping. Match the key against keys[]; *seen tracks duplicates. Returns
 * the key index (the current event is the key), CF_MAP_END, or a negative
 * error.
 */
static int cf_key(struct cf *c, const char *ctx, const char *const *keys, unsigned nkeys,
		  uint32_t *seen)
{
	char buf[48];
	struct pk_str k;
	int rc;

	if ((rc = cf_next(c)) != 0)
		return rc;
	if (cf_is(c, YAML_MAPPING_END_EVENT))
		return CF_MAP_END;
	if (!cf_is(c, YAML_SCALAR_EVENT))
		return CF_ERR_AT(c, -EINVAL, "%s: keys must be plain words", ctx);
	k = cf_text(c);
	for (unsigned i = 0; i < nkeys; i++) {
		if (!pk_str_eq(k, pk_str_make(keys[i], strlen(keys[i]))))
			continue;
		if (*seen & (1u << i))
			return CF_ERR_AT(c, -EINVAL, "duplicate key '%s' in %s", keys[i], ctx);
		*seen |= 1u << i;
		return (int)i;
	}
	{
		char list[128];
		size_t o = 0;

		list[0] = '\0';
		for (unsigned i = 0; i < nkeys && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", keys[i]);
		return CF_ERR_AT(c, -EINVAL, "unknown key '%s' in %s (expected: %s)",
				 cf_show(k.p, k.len, buf, sizeof(buf)), ctx, list);
	}
}

/* ---- settings ---- */

static int cf_domain_add(struct cf *c)
{
	char buf[64];
	struct pk_str d;
	int rc;

	if ((rc = cf_expect_scalar(c, "domain")) != 0)
		return rc;
	d = cf_text(c);
	rc = pk_groups_settings_add_domain(&c->settings, d);
	if (rc == -EEXIST)
		return CF_ERR_AT(c, -EINVAL, "domain '%s' listed twice", cf_show(d.p, d.len, buf, sizeof(buf)));
	if (rc == -ENOSPC)
		return CF_ERR_AT(c, -EINVAL, "more than %d domains", PK_GROUPS_MAX_DOMAINS);
	if (rc != 0)
		return CF_ERR_AT(c, -EINVAL, "bad domain '%s': a host name or IP address",
				 cf_show(d.p, d.len, buf, sizeof(buf)));
	return 0;
}

static int cf_dial_setting(struct cf *c, const char *key, bool code)
{
	char buf[64];
	struct pk_str v;
	int rc;

	if (cf_is(c, YAML_ALIAS_EVENT) || cf_is_null(c))
		return CF_ERR_AT(c, -EINVAL,
				 "%s is empty or read as a YAML alias/comment: quote it (\"%s\")", key,
				 code ? "*8" : "**");
	if ((rc = cf_expect_scalar(c, key)) != 0)
		return rc;
	v = cf_text(c);
	rc = code ? pk_groups_settings_set_pickup_code(&c->settings, v)
		  : pk_groups_settings_set_directed_prefix(&c->settings, v);
	if (rc != 0)
		return CF_ERR_AT(c, -EINVAL, "bad %s '%s': 1-%d characters of 0-9 * #", key,
				 cf_show(v.p, v.len, buf, sizeof(buf)),
				 code ? PK_GROUPS_CODE_MAX : PK_GROUPS_PREFIX_MAX);
	return 0;
}

static int cf_parse_settings(struct cf *c)
{
	static const char *const keys[] = { "domains", "pickup_code", "directed_prefix",
					    "ring_timeout" };
	uint32_t seen = 0, line, col;
	const char *why;
	int rc, k;

	if (!cf_is(c, YAML_MAPPING_START_EVENT))
		return CF_ERR_AT(c, -EINVAL, "settings must be a mapping (domains:, pickup_code:, ...)");
	line = cf_line(&c->ev);
	col = cf_col(&c->ev);
	for (;;) {
		if ((k = cf_key(c, "settings", keys, PK_ARRAY_SIZE(keys), &seen)) == CF_MAP_END)
			break;
		if (k < 0)
			return k;
		if ((rc = cf_next(c)) != 0)
			return rc;
		switch (k) {
		case 0: /* domains: a list, or one domain */
			if (cf_is(c, YAML_SEQUENCE_START_EVENT)) {
				for (;;) {
					if ((rc = cf_next(c)) != 0)
						return rc;
					if (cf_is(c, YAML_SEQUENCE_END_EVENT))
						break;
					if ((rc = cf_domain_add(c)) != 0)
						return rc;
				}
			} else if (!cf_is_null(c) && (rc = cf_domain_add(c)) != 0) {
				return rc;
			}
			break;
		case 1:
		case 2:
			if ((rc = cf_dial_setting(c, keys[k], k == 1)) != 0)
				return rc;
			break;
		case 3: {
			struct pk_str v;
			uint32_t t = 0;

			if ((rc = cf_expect_scalar(c, "ring_timeout")) != 0)
				return rc;
			v = cf_text(c);
			for (uint32_t i = 0; i < v.len && t <= PK_GROUPS_RING_TIMEOUT_MAX; i++) {
				if (v.p[i] < '0' || v.p[i] > '9') {
					t = 0;
					break;
				}
				t = t * 10 + (uint32_t)(v.p[i] - '0');
			}
			if (t < 1 || t > PK_GROUPS_RING_TIMEOUT_MAX)
				return CF_ERR_AT(c, -EINVAL,
						 "ring_timeout must be a whole number of seconds, 1..%d",
						 PK_GROUPS_RING_TIMEOUT_MAX);
			c->settings.ring_timeout = t;
			break;
		}
		}
	}
	/* Domains are checked in pass 2 (with the rest of the settings). */
	if (c->settings.n_domains > 0 && pk_groups_settings_check(&c->settings, &why) != 0)
		return cf_error(c, line, col, -EINVAL, "settings: %s", why);
	return 0;
}

/* ---- groups ---- */

static uint64_t cf_hash(const char *p, size_t len, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h ^ (h >> 32);
}

static struct pk_str cf_group_number(const struct cf *c, const struct cf_group *g)
{
	return pk_str_make(c->a.p + g->num_off, g->num_len);
}

/* Remember group gi's number; returns the index of an earlier group with
 * the same number, or -1 (or -ENOMEM as -2). */
static int64_t cf_number_insert(struct cf *c, uint32_t gi)
{
	struct pk_str num = cf_group_number(c, &c->groups[gi]);
	uint32_t mask;

	if (c->n_groups * 2 >= c->numset_cap) {
		uint32_t ncap = c->numset_cap ? c->numset_cap * 2 : 1024;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return -2;
		for (uint32_t i = 0; i < c->numset_cap; i++) {
			uint32_t v = c->numset[i];

			if (v == 0)
				continue;
			struct pk_str n2 = cf_group_number(c, &c->groups[v - 1]);
			uint32_t j = (uint32_t)cf_hash(n2.p, n2.len, 0) & (ncap - 1);

			while (ns[j] != 0)
				j = (j + 1) & (ncap - 1);
			ns[j] = v;
		}
		free(c->numset);
		c->numset = ns;
		c->numset_cap = ncap;
	}
	mask = c->numset_cap - 1;
	for (uint32_t j = (uint32_t)cf_hash(num.p, num.len, 0) & mask;; j = (j + 1) & mask) {
		uint32_t v = c->numset[j];

		if (v == 0) {
			c->numset[j] = gi + 1;
			return -1;
		}
		if (pk_str_eq(cf_group_number(c, &c->groups[v - 1]), num))
			return v - 1;
	}
}

static int cf_right(struct cf *c, uint32_t *rights)
{
	char buf[48];
	struct pk_str r;
	uint32_t bit;
	int rc;

	if ((rc = cf_expect_scalar(c, "right")) != 0)
		return rc;
	r = cf_text(c);
	if (pk_str_eq(r, PK_STR_LIT("ring")))
		bit = PK_RIGHT_RING;
	else if (pk_str_eq(r, PK_STR_LIT("pickup")))
		bit = PK_RIGHT_PICKUP;
	else
		return CF_ERR_AT(c, -EINVAL, "unknown right '%s' (expected: ring, pickup)",
				 cf_show(r.p, r.len, buf, sizeof(buf)));
	if (*rights & bit)
		return CF_ERR_AT(c, -EINVAL, "right '%.*s' listed twice", (int)r.len, r.p);
	*rights |= bit;
	return 0;
}

/* Parse a member's AoR text into the arena; m->line/col set by caller. */
static int cf_member_user(struct cf *c, struct cf_member *m)
{
	char buf[80];
	struct pk_str text = cf_text(c), user, domain;
	int n;

	if (cf_is_null(c))
		return CF_ERR_AT(c, -EINVAL, "empty member");
	if (pk_groups_aor_split(text, &user, &domain) != 0)
		return CF_ERR_AT(c, -EINVAL, "bad member '%s': expected user or user@domain",
				 cf_show(text.p, text.len, buf, sizeof(buf)));
	if (domain.len > PK_GROUPS_DOMAIN_MAX)
		return CF_ERR_AT(c, -EINVAL, "bad member '%s': domain too long",
				 cf_show(text.p, text.len, buf, sizeof(buf)));
	if (cf_arena_reserve(&c->a, PK_GROUPS_USER_MAX + domain.len) != 0)
		return cf_error(c, 0, 0, -ENOMEM, "out of memory");
	n = pk_groups_user_normalize(user, c->a.p + c->a.len, PK_GROUPS_USER_MAX);
	if (n == -ENAMETOOLONG)
		return CF_ERR_AT(c, -EINVAL, "bad member '%s': user part longer than %d bytes",
				 cf_show(text.p, text.len, buf, sizeof(buf)), PK_GROUPS_USER_MAX);
	if (n < 0)
		return CF_ERR_AT(c, -EINVAL,
				 "bad member '%s': the user part holds a character that must be "
				 "%%-escaped, or a bad escape",
				 cf_show(text.p, text.len, buf, sizeof(buf)));
	m->user_off = (uint32_t)c->a.len;
	m->user_len = (uint16_t)n;
	c->a.len += (size_t)n;
	m->domain_off = (uint32_t)c->a.len;
	m->domain_len = (uint16_t)domain.len;
	if (domain.len > 0)
		memcpy(c->a.p + c->a.len, domain.p, domain.len);
	c->a.len += domain.len;
	return 0;
}

static int cf_parse_member(struct cf *c, uint32_t gi)
{
	static const char *const keys[] = { "user", "rights" };
	struct cf_member *m;
	uint32_t seen = 0;
	int rc, k;

	if (CF_GROW(c->members, c->n_members, c->cap_members) != 0)
		return cf_error(c, 0, 0, -ENOMEM, "out of memory");
	m = &c->members[c->n_members];
	m->line = cf_line(&c->ev);
	m->col = cf_col(&c->ev);
	m->rights = PK_RIGHTS_ALL;
	if (cf_is(c, YAML_SCALAR_EVENT)) {
		if ((rc = cf_member_user(c, m)) != 0)
			return rc;
	} else if (cf_is(c, YAML_MAPPING_START_EVENT)) {
		for (;;) {
			if ((k = cf_key(c, "member", keys, PK_ARRAY_SIZE(keys), &seen)) == CF_MAP_END)
				break;
			if (k < 0)
				return k;
			if ((rc = cf_next(c)) != 0)
				return rc;
			if (k == 0) {
				if ((rc = cf_expect_scalar(c, "user")) != 0 ||
				    (rc = cf_member_user(c, m)) != 0)
					return rc;
				continue;
			}
			/* rights: a list, or a single right */
			m->rights = 0;
			if (cf_is(c, YAML_SEQUENCE_START_EVENT)) {
				for (;;) {
					if ((rc = cf_next(c)) != 0)
						return rc;
					if (cf_is(c, YAML_SEQUENCE_END_EVENT))
						break;
					if ((rc = cf_right(c, &m->rights)) != 0)
						return rc;
				}
			} else if (!cf_is_null(c) && (rc = cf_right(c, &m->rights)) != 0) {
				return rc;
			}
			if (m->rights == 0)
				return CF_ERR_AT(c, -EINVAL,
						 "empty rights: give ring and/or pickup, or leave "
						 "rights out for both");
		}
		if (!(seen & 1))
			return cf_error(c, m->line, m->col, -EINVAL, "member without a 'user:'");
	} else {
		if ((rc = cf_expect_scalar(c, "member")) != 0)
			return rc;
	}
	c->n_members++;
	c->groups[gi].n++;
	return 0;
}

static int cf_parse_group(struct cf *c)
{
	static const char *const keys[] = { "number", "name", "members" };
	char buf[48];
	struct cf_group *g;
	uint32_t seen = 0, gi = c->n_groups;
	int rc, k;

	if (!cf_is(c, YAML_MAPPING_START_EVENT))
		return CF_ERR_AT(c, -EINVAL, "a group must be a mapping (number:, name:, members:)");
	if (CF_GROW(c->groups, c->n_groups, c->cap_groups) != 0)
		return cf_error(c, 0, 0, -ENOMEM, "out of memory");
	g = &c->groups[gi];
	memset(g, 0, sizeof(*g));
	g->line = cf_line(&c->ev);
	g->col = cf_col(&c->ev);
	g->first = c->n_members;
	c->n_groups++;
	for (;;) {
		if ((k = cf_key(c, "group", keys, PK_ARRAY_SIZE(keys), &seen)) == CF_MAP_END)
			break;
		if (k < 0)
			return k;
		if ((rc = cf_next(c)) != 0)
			return rc;
		g = &c->groups[gi];
		if (k == 0) { /* number */
			struct pk_str v;
			int64_t dup;

			if (cf_is(c, YAML_ALIAS_EVENT))
				return CF_ERR_AT(c, -EINVAL,
						 "number *%s must be quoted (\"*%s\"): unquoted, YAML reads "
						 "'*' as an alias",
						 (const char *)c->ev.data.alias.anchor,
						 (const char *)c->ev.data.alias.anchor);
			if (cf_is_null(c))
				return CF_ERR_AT(c, -EINVAL,
						 "number is empty; a number starting with '#' must be "
						 "quoted (\"#801\"): unquoted, '#' starts a YAML comment");
			if ((rc = cf_expect_scalar(c, "number")) != 0)
				return rc;
			v = cf_text(c);
			if (!pk_groups_number_valid(v))
				return CF_ERR_AT(c, -EINVAL, "bad number '%s': %s",
						 cf_show(v.p, v.len, buf, sizeof(buf)),
						 pk_groups_number_strerror(PK_GROUPS_NUMBER_SYNTAX));
			if (cf_arena_reserve(&c->a, v.len) != 0)
				return cf_error(c, 0, 0, -ENOMEM, "out of memory");
			g->num_off = (uint32_t)c->a.len;
			g->num_len = (uint16_t)v.len;
			memcpy(c->a.p + c->a.len, v.p, v.len);
			c->a.len += v.len;
			g->num_line = cf_line(&c->ev);
			g->num_col = cf_col(&c->ev);
			dup = cf_number_insert(c, gi);
			if (dup == -2)
				return cf_error(c, 0, 0, -ENOMEM, "out of memory");
			if (dup >= 0)
				return CF_ERR_AT(c, -EINVAL, "duplicate number '%.*s' (first at line %u)",
						 (int)v.len, v.p, c->groups[dup].num_line);
		} else if (k == 1) { /* name */
			struct pk_str v;

			if (cf_is_null(c))
				continue;
			if ((rc = cf_expect_scalar(c, "name")) != 0)
				return rc;
			v = cf_text(c);
			if (!pk_groups_name_valid(v))
				return CF_ERR_AT(c, -EINVAL,
						 "bad name: at most %d bytes, no control characters",
						 PK_GROUPS_NAME_MAX);
			if (cf_arena_reserve(&c->a, v.len) != 0)
				return cf_error(c, 0, 0, -ENOMEM, "out of memory");
			g->name_off = (uint32_t)c->a.len;
			g->name_len = (uint16_t)v.len;
			memcpy(c->a.p + c->a.len, v.p, v.len);
			c->a.len += v.len;
		} else { /* members */
			if (cf_is_null(c))
				continue;
			if (!cf_is(c, YAML_SEQUENCE_START_EVENT))
				return CF_ERR_AT(c, -EINVAL, "members must be a list");
			for (;;) {
				if ((rc = cf_next(c)) != 0)
					return rc;
				if (cf_is(c, YAML_SEQUENCE_END_EVENT))
					break;
				if ((rc = cf_parse_member(c, gi)) != 0)
					return rc;
			}
		}
	}
	if (!(seen & 1))
		return cf_error(c, c->groups[gi].line, c->groups[gi].col, -EINVAL,
				"group without a 'number:'");
	return 0;
}

static int cf_parse_groups(struct cf *c)
{
	int rc;

	if (cf_is_null(c))
		return 0;
	if (!cf_is(c, YAML_SEQUENCE_START_EVENT))
		return CF_ERR_AT(c, -EINVAL, "groups must be a list of groups (- number: ...)");
	for (;;) {
		if ((rc = cf_next(c)) != 0)
			return rc;
		if (cf_is(c, YAML_SEQUENCE_END_EVENT))
			return 0;
		if ((rc = cf_parse_group(c)) != 0)
			return rc;
	}
}

static int cf_parse_stream(struct cf *c)
{
	static const char *const keys[] = { "settings", "groups" };
	uint32_t seen = 0;
	int rc, k;

	if ((rc = cf_next(c)) != 0) /* stream start */
		return rc;
	if ((rc = cf_next(c)) != 0)
		return rc;
	if (cf_is(c, YAML_STREAM_END_EVENT))
		return cf_error(c, 1, 1, -EINVAL, "empty file: settings.domains is required");
	if ((rc = cf_next(c)) != 0) /* after document start */
		return rc;
	if (!cf_is(c, YAML_MAPPING_START_EVENT))
		return CF_ERR_AT(c, -EINVAL, "the file must be a mapping with settings: and groups:");
	for (;;) {
		if ((k = cf_key(c, "the top level", keys, PK_ARRAY_SIZE(keys), &seen)) == CF_MAP_END)
			break;
		if (k < 0)
			return k;
		if (k == 0) {
			c->settings_line = cf_line(&c->ev);
			c->settings_col = cf_col(&c->ev);
			c->have_settings = true;
		}
		if ((rc = cf_next(c)) != 0)
			return rc;
		rc = k == 0 ? cf_parse_settings(c) : cf_parse_groups(c);
		if (rc != 0)
			return rc;
	}
	if ((rc = cf_next(c)) != 0) /* document end */
		return rc;
	if ((rc = cf_next(c)) != 0)
		return rc;
	if (!cf_is(c, YAML_STREAM_END_EVENT))
		return CF_ERR_AT(c, -EINVAL, "only one YAML document is allowed");
	return 0;
}

/* ---- pass 2 ---- */

static int cf_resolve(struct cf *c, struct pk_groups_conf *conf, struct cf_storage *st)
{
	struct cf_user *users = NULL;
	uint32_t n_users = 0, cap_users = 0, *map = NULL, map_cap = 1024, mask;
	uint32_t *fill = NULL, *slot0 = NULL;
	int8_t *dom = NULL;
	const char *why;
	char buf[96], gbuf[16];
	int rc = -ENOMEM;

	if (c->settings.n_domains == 0)
		return cf_error(c, c->have_settings ? c->settings_line : 1,
				c->have_settings ? c->settings_col : 1, -EINVAL,
				"settings.domains: at least one served domain is required");
	if (pk_groups_settings_check(&c->settings, &why) != 0)
		return cf_error(c, c->settings_line, c->settings_col, -EINVAL, "settings: %s", why);
	while (map_cap < c->n_members * 2u)
		map_cap *= 2;
	mask = map_cap - 1;
	map = calloc(map_cap, sizeof(*map));
	st->members = malloc(((size_t)c->n_members + 1) * sizeof(*st->members));
	st->groups = malloc(((size_t)c->n_groups + 1) * sizeof(*st->groups));
	slot0 = malloc(((size_t)c->n_members + 1) * sizeof(*slot0));
	dom = malloc((size_t)c->n_members + 1);
	if (map == NULL || st->members == NULL || st->groups == NULL || slot0 == NULL || dom == NULL)
		goto nomem;

	/* Domains and home slots first, in a sequential pass, so that the
	 * folding loop below can prefetch the (random) map slot of a member a
	 * few steps ahead: the map is larger than the caches for big files. */
	for (uint32_t mi = 0; mi < c->n_members; mi++) {
		const struct cf_member *m = &c->members[mi];
		int d = 0;

		if (m->domain_len > 0)
			d = pk_groups_settings_find_domain(
				&c->settings, pk_str_make(c->a.p + m->domain_off, m->domain_len));
		dom[mi] = (int8_t)d;
		slot0[mi] = (uint32_t)cf_hash(c->a.p + m->user_off, m->user_len, (uint64_t)(d < 0 ? 0 : d)) &
			    mask;
	}

	for (uint32_t gi = 0; gi < c->n_groups; gi++) {
		const struct cf_group *g = &c->groups[gi];
		struct pk_str num = cf_group_number(c, g);
		enum pk_groups_number_error ne = pk_groups_number_check(&c->settings, num);

		if (ne != PK_GROUPS_NUMBER_OK) {
			rc = cf_error(c, g->num_line, g->num_col, -EINVAL, "number '%.*s' %s%s%s%s",
				      (int)num.len, num.p, pk_groups_number_strerror(ne),
				      ne == PK_GROUPS_NUMBER_PREFIX ? " ('" : "",
				      ne == PK_GROUPS_NUMBER_PREFIX ? c->settings.directed_prefix : "",
				      ne == PK_GROUPS_NUMBER_PREFIX ? "')" : "");
			goto out;
		}
		for (uint32_t k = 0; k < g->n; k++) {
			uint32_t mi = g->first + k, j, ui;
			const struct cf_member *m = &c->members[mi];
			struct pk_str user = pk_str_make(c->a.p + m->user_off, m->user_len);
			int d = dom[mi];

			if (mi + 16 < c->n_members)
				__builtin_prefetch(&map[slot0[mi + 16]]);
			if (d < 0) {
				struct pk_str ds = pk_str_make(c->a.p + m->domain_off, m->domain_len);

				rc = cf_error(c, m->line, m->col, -EINVAL,
					      "domain '%s' of member '%.*s' is not served "
					      "(settings.domains)",
					      cf_show(ds.p, ds.len, buf, sizeof(buf)), (int)user.len,
					      user.p);
				goto out;
			}
			for (j = slot0[mi];; j = (j + 1) & mask) {
				const struct cf_user *u;

				if (map[j] == 0) {
					if (CF_GROW(users, n_users, cap_users) != 0)
						goto nomem;
					users[n_users] = (struct cf_user){ m->user_off, m->user_len,
									   (uint16_t)d, 0, UINT32_MAX, 0 };
					map[j] = ++n_users;
					break;
				}
				u = &users[map[j] - 1];
				if (u->domain == d && u->user_len == user.len &&
				    memcmp(c->a.p + u->user_off, user.p, user.len) == 0)
					break;
			}
			ui = map[j] - 1;
			if (users[ui].last_group == gi) {
				rc = cf_error(c, m->line, m->col, -EINVAL,
					      "member '%.*s@%s' listed twice in group '%s' (first at "
					      "line %u)",
					      (int)user.len, user.p, c->settings.domains[d],
					      cf_show(num.p, num.len, gbuf, sizeof(gbuf)),
					      users[ui].last_line);
				goto out;
			}
			users[ui].last_group = gi;
			users[ui].last_line = m->line;
			users[ui].n++;
			st->members[g->first + k] = (struct pk_groups_conf_ref){ ui, m->rights };
		}
	}

	/* Users, and their memberships grouped by user (counting sort; each
	 * user's list ends up in group order). */
	st->users = malloc(((size_t)n_users + 1) * sizeof(*st->users));
	st->user_groups = malloc(((size_t)c->n_members + 1) * sizeof(*st->user_groups));
	fill = malloc(((size_t)n_users + 1) * sizeof(*fill));
	if (st->users == NULL || st->user_groups == NULL || fill == NULL)
		goto nomem;
	for (uint32_t i = 0, off = 0; i < n_users; i++) {
		st->users[i] = (struct pk_groups_conf_user){
			pk_str_make(c->a.p + users[i].user_off, users[i].user_len), users[i].domain, off,
			users[i].n
		};
		fill[i] = off;
		off += users[i].n;
	}
	for (uint32_t gi = 0; gi < c->n_groups; gi++) {
		const struct cf_group *g = &c->groups[gi];

		st->groups[gi] = (struct pk_groups_conf_group){
			cf_group_number(c, g),
			g->name_len ? pk_str_make(c->a.p + g->name_off, g->name_len) : PK_STR_NULL,
			g->first, g->n, g->line
		};
		for (uint32_t k = 0; k < g->n; k++) {
			const struct pk_groups_conf_ref *r = &st->members[g->first + k];

			st->user_groups[fill[r->idx]++] = (struct pk_groups_conf_ref){ gi, r->rights };
		}
	}
	conf->settings = c->settings;
	conf->n_groups = c->n_groups;
	conf->n_users = n_users;
	conf->n_members = c->n_members;
	conf->groups = st->groups;
	conf->members = st->members;
	conf->users = st->users;
	conf->user_groups = st->user_groups;
	rc = 0;
	goto out;
nomem:
	rc = cf_error(c, 0, 0, -ENOMEM, "out of memory");
out:
	free(users);
	free(map);
	free(fill);
	free(slot0);
	free(dom);
	return rc;
}

/* ---- entry points ---- */

static void cf_storage_free(struct cf_storage *st)
{
	free(st->arena);
	free(st->groups);
	free(st->members);
	free(st->users);
	free(st->user_groups);
	free(st);
}

void pk_groups_conf_free(struct pk_groups_conf *conf)
{
	if (conf == NULL)
		return;
	cf_storage_free(conf->priv_);
	free(conf);
}

struct pk_groups_conf *pk_groups_conf_parse(const char *buf, size_t len, const char *name,
					    struct pk_groups_conf_error *err)
{
	struct pk_groups_conf *conf = NULL;
	struct cf_storage *st = NULL;
	struct cf c;

	memset(&c, 0, sizeof(c));
	c.name = name != NULL ? name : "<groups>";
	c.err = err;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	pk_groups_settings_init(&c.settings);
	conf = calloc(1, sizeof(*conf));
	st = calloc(1, sizeof(*st));
	if (conf == NULL || st == NULL || !yaml_parser_initialize(&c.parser)) {
		cf_error(&c, 0, 0, -ENOMEM, "out of memory");
		free(conf);
		free(st);
		return NULL;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf, len);
	if (cf_parse_stream(&c) == 0)
		cf_resolve(&c, conf, st);
	if (c.ev_live)
		yaml_event_delete(&c.ev);
	yaml_parser_delete(&c.parser);
	free(c.groups);
	free(c.members);
	free(c.numset);
	st->arena = c.a.p;
	if (c.rc != 0) {
		cf_storage_free(st);
		free(conf);
		return NULL;
	}
	conf->priv_ = st;
	return conf;
}

struct pk_groups_conf *pk_groups_conf_load(const char *path, struct pk_groups_conf_error *err)
{
	struct pk_groups_conf *conf;
	char *buf = NULL;
	mode_t mode;
	long size;
	FILE *f;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	/* A regular file only (control/conf_file.h): a directory's "size" is
	 * whatever seek makes of it (huge on ext4: "out of memory"; EINVAL on
	 * tmpfs), and a FIFO would block the load. Say what the path is. */
	f = pk_conf_file_open(path, &mode);
	if (f == NULL && pk_conf_file_kind(mode) != NULL) {
		if (err != NULL) {
			err->code = -EINVAL;
			snprintf(err->msg, sizeof(err->msg), "%s: not a regular file (%s)", path,
				 pk_conf_file_kind(mode));
		}
		return NULL;
	}
	if (f == NULL)
		goto syserr;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto syserr;
	buf = malloc((size_t)size + 1);
	if (buf == NULL) {
		errno = ENOMEM;
		goto syserr;
	}
	if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		if (!ferror(f))
			errno = EIO;
		goto syserr;
	}
	fclose(f);
	conf = pk_groups_conf_parse(buf, (size_t)size, path, err);
	free(buf);
	return conf;
syserr:
	if (err != NULL) {
		err->code = errno ? -errno : -EIO;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno ? errno : EIO));
	}
	if (f != NULL)
		fclose(f);
	free(buf);
	return NULL;
}
