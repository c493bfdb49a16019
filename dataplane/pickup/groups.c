/* SPDX-License-Identifier: MIT */
/*
 * Group index, reader side: what a worker calls per packet (find a group by
 * the dialled number, find a user's memberships, classify a dialled string)
 * plus the syntax helpers shared with the configuration loader and the
 * control socket (group numbers, user parts, settings).
 *
 * Readers do one acquire load (pk_groups_view) and then only plain loads of
 * immutable blocks: no lock, no allocation, no store to shared memory. The
 * layout is described in group_impl.h, the writer side in group_edit.c.
 */
#include <errno.h>

#include "group_impl.h"

/* ---- hashing ---- */

/* A multiply-fold hash for short keys (numbers, user parts): 8 bytes per
 * round, the length folded into the seed so that a key is never confused
 * with the same key plus NUL bytes. */
uint64_t gx_hash(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = seed ^ (len * 0xa0761d6478bd642full);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = pk_fold64(h ^ w, 0xe7037ed1a0b428dbull);
		s += 8;
		len -= 8;
	}
	if (len >= 4) {
		/* 4-7 bytes: two loads that may overlap (the length is in h) */
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + len - 4, 4);
		h = pk_fold64(h ^ (a | (uint64_t)b << 32), 0x8ebc6af09c88c6e3ull);
	} else if (len > 0) {
		w = (uint64_t)s[0] | (uint64_t)s[len >> 1] << 8 | (uint64_t)s[len - 1] << 16;
		h = pk_fold64(h ^ w, 0x8ebc6af09c88c6e3ull);
	}
	return pk_fold64(h ^ (h >> 29), 0x589965cc75374cc3ull);
}

/* ---- syntax helpers ---- */

static inline int gx_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 3261 25.1: reserved = ; / ? : @ & = + $ , */
static inline bool gx_reserved(unsigned char c)
{
	return c != 0 && strchr(";/?:@&=+$,", c) != NULL;
}

/* Characters a user part may hold unescaped: unreserved (alphanum and
 * mark) and user-unreserved. A table: every routed request's user part
 * is checked a byte at a time. */
static const bool gx_user_tab[256] = {
	['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
	['-'] = true, ['_'] = true, ['.'] = true, ['!'] = true, ['~'] = true, ['*'] = true,
	['\''] = true, ['('] = true, [')'] = true, ['&'] = true, ['='] = true, ['+'] = true,
	['$'] = true, [','] = true, [';'] = true, ['?'] = true, ['/'] = true,
};

static inline bool gx_user_char(unsigned char c)
{
	return gx_user_tab[c];
}

/* The general case of pk_groups_user_normalize: escapes to decode or to
 * put in canonical form, characters to refuse, or not enough room. Out of
 * line: the usual user part never comes here. */
static __attribute__((noinline)) int gx_user_normalize_slow(struct pk_str in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (uint32_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= in.len || (hi = gx_hexval((unsigned char)in.p[i + 1])) < 0 ||
			    (lo = gx_hexval((unsigned char)in.p[i + 2])) < 0)
				return -EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (gx_reserved(c) || c == '%' || !gx_user_char(c)) {
				/* reserved or not allowed raw: stays escaped, canonical hex */
				if (o + 3 > cap)
					return -ENAMETOOLONG;
				out[o++] = '%';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
				continue;
			}
		} else if (!gx_user_char(c)) {
			return -EINVAL;
		}
		if (o + 1 > cap)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	return (int)o;
}

/* Is every byte of w an ASCII digit? The xor takes '0'-'9' to 0-9 and
 * leaves a high nibble on every other byte; 0-9 plus 6 stays below 16,
 * 10-15 does not (no carry between bytes once the high nibbles are
 * zero). */
static inline bool gx_all_digits(uint64_t w)
{
	uint64_t x = w ^ 0x3030303030303030ull;

	return ((x & 0xf0f0f0f0f0f0f0f0ull) | ((x + 0x0606060606060606ull) & 0x1010101010101010ull)) == 0;
}

/* Is every byte of w an ASCII letter or digit? With no byte's top bit
 * set, adding to a byte a constant below 0x80 carries into no other byte,
 * and sets its top bit exactly when the byte is at least 0x80 minus the
 * constant: digits are [0x30, 0x3a) of w, letters [0x61, 0x7b) of w with
 * bit 5 set (which makes 'A'-'Z' 'a'-'z' and no other byte a letter). */
static inline bool gx_all_alnum(uint64_t w)
{
	const uint64_t k = 0x0101010101010101ull, top = 0x8080808080808080ull;
	uint64_t l = w | 0x2020202020202020ull;
	uint64_t digit = (w + 0x50 * k) & ~(w + 0x46 * k);
	uint64_t letter = (l + 0x1f * k) & ~(l + 0x05 * k);

	return (w & top) == 0 && ((digit | letter) & top) == top;
}

int pk_groups_user_normalize(struct pk_str in, char *out, size_t cap)
{
	uint64_t a, b;
	uint32_t i = 0;

	if (in.len == 0)
		return -EINVAL;
	if (in.len > cap)
		return gx_user_normalize_slow(in, out, cap);
	/* Digits only, 4-16 bytes (the usual extension, "2004"), or letters
	 * and digits ("alice7"): its own normal form, checked and copied in
	 * two words that may overlap (digits first: the cheaper test). */
	if (in.len >= 4 && in.len <= 16) {
		if (in.len >= 8) {
			a = pk_load8(in.p);
			b = pk_load8(in.p + in.len - 8);
		} else {
			a = pk_load4(in.p) | pk_load4(in.p + in.len - 4) << 32;
			b = a;
		}
		if ((gx_all_digits(a) && gx_all_digits(b)) || (gx_all_alnum(a) && gx_all_alnum(b))) {
			if (in.len >= 8) {
				memcpy(out, &a, 8);
				memcpy(out + in.len - 8, &b, 8);
			} else {
				uint32_t lo = (uint32_t)a, hi = (uint32_t)(a >> 32);

				memcpy(out, &lo, 4);
				memcpy(out + in.len - 4, &hi, 4);
			}
			return (int)in.len;
		}
	}
	/* Else nothing escaped and nothing to refuse is still the usual
	 * case: the user part is its own normal form, copied as it is
	 * checked (no second pass, no call). A byte this loop cannot take
	 * sends the whole part to the general case, which rewrites out from
	 * the start. */
	for (; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];

		if (!gx_user_tab[c])
			break;
		out[i] = (char)c;
	}
	if (i == in.len)
		return (int)in.len;
	return gx_user_normalize_slow(in, out, cap);
}

int pk_groups_aor_split(struct pk_str aor, struct pk_str *user, struct pk_str *domain)
{
	const char *at;

	if (aor.len >= 4 && pk_str_caseeq(pk_str_make(aor.p, 4), PK_STR_LIT("sip:"))) {
		aor.p += 4;
		aor.len -= 4;
	} else if (aor.len >= 5 && pk_str_caseeq(pk_str_make(aor.p, 5), PK_STR_LIT("sips:"))) {
		aor.p += 5;
		aor.len -= 5;
	}
	at = aor.len > 0 ? memchr(aor.p, '@', aor.len) : NULL;
	if (at == NULL) {
		*user = aor;
		*domain = PK_STR_NULL;
	} else {
		*user = pk_str_make(aor.p, (size_t)(at - aor.p));
		*domain = pk_str_make(at + 1, aor.len - user->len - 1);
		if (domain->len == 0)
			return -EINVAL;
	}
	return user->len == 0 ? -EINVAL : 0;
}

bool pk_groups_number_valid(struct pk_str n)
{
	uint32_t i = 0, max_digits = 9;

	if (n.len == 0 || n.len > PK_GROUPS_NUMBER_MAX)
		return false;
	if (n.p[0] == '*' || n.p[0] == '#') {
		i = 1;
		max_digits = 8;
	}
	if (n.len - i < 1 || n.len - i > max_digits || n.p[i] < '1' || n.p[i] > '9')
		return false;
	for (; i < n.len; i++)
		if (n.p[i] < '0' || n.p[i] > '9')
			return false;
	return true;
}

static bool gx_has_prefix(struct pk_str s, struct pk_str prefix)
{
	return s.len >= prefix.len && memcmp(s.p, prefix.p, prefix.len) == 0;
}

enum pk_groups_number_error pk_groups_number_check(const struct pk_groups_settings *s,
						   struct pk_str number)
{
	if (!pk_groups_number_valid(number))
		return PK_GROUPS_NUMBER_SYNTAX;
	if (s == NULL)
		return PK_GROUPS_NUMBER_OK;
	if (pk_str_eq(number, pk_groups_settings_pickup_code(s)))
		return PK_GROUPS_NUMBER_PICKUP_CODE;
	if (s->directed_prefix_len > 0 && gx_has_prefix(number, pk_groups_settings_directed_prefix(s)))
		return PK_GROUPS_NUMBER_PREFIX;
	return PK_GROUPS_NUMBER_OK;
}

const char *pk_groups_number_strerror(enum pk_groups_number_error e)
{
	static const char *const str[] = {
#define PK_GROUPS_NUMBER_STR(name, s) [PK_GROUPS_NUMBER_##name] = s,
		PK_GROUPS_NUMBER_ERRORS(PK_GROUPS_NUMBER_STR)
#undef PK_GROUPS_NUMBER_STR
	};
	return (unsigned)e < PK_ARRAY_SIZE(str) ? str[e] : "?";
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, at most U+10FFFF), 0 if there is none. */
static uint32_t gx_utf8_seq(const unsigned char *s, uint32_t n)
{
	uint32_t len, cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (uint32_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A display name: at most PK_GROUPS_NAME_MAX bytes of UTF-8 (a groups file
 * is YAML, which is UTF-8: a name it cannot hold would make the live index
 * impossible to save), no control characters. */
bool pk_groups_name_valid(struct pk_str name)
{
	const unsigned char *s = (const unsigned char *)name.p;

	if (name.len > PK_GROUPS_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < name.len;) {
		uint32_t k = gx_utf8_seq(s + i, name.len - i);

		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)))
			return false;
		i += k;
	}
	return true;
}

/* ---- settings ---- */

void pk_groups_settings_init(struct pk_groups_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->ring_timeout = PK_GROUPS_DEFAULT_RING_TIMEOUT;
	memcpy(s->pickup_code, PK_GROUPS_DEFAULT_PICKUP_CODE, sizeof(PK_GROUPS_DEFAULT_PICKUP_CODE));
	s->pickup_code_len = sizeof(PK_GROUPS_DEFAULT_PICKUP_CODE) - 1;
	memcpy(s->directed_prefix, PK_GROUPS_DEFAULT_DIRECTED_PREFIX,
	       sizeof(PK_GROUPS_DEFAULT_DIRECTED_PREFIX));
	s->directed_prefix_len = sizeof(PK_GROUPS_DEFAULT_DIRECTED_PREFIX) - 1;
}

/* A DNS name (letters, digits, '-', dots between labels), an IPv4 address
 * (same charset) or an IPv6 reference in brackets. */
static bool gx_domain_valid(struct pk_str d)
{
	uint32_t label = 0;

	if (d.len == 0 || d.len > PK_GROUPS_DOMAIN_MAX)
		return false;
	if (d.p[0] == '[') {
		if (d.len < 3 || d.p[d.len - 1] != ']')
			return false;
		for (uint32_t i = 1; i + 1 < d.len; i++)
			if (gx_hexval((unsigned char)d.p[i]) < 0 && d.p[i] != ':' && d.p[i] != '.')
				return false;
		return true;
	}
	for (uint32_t i = 0; i < d.len; i++) {
		unsigned char c = (unsigned char)d.p[i];

		if (c == '.') {
			if (label == 0 || d.p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d.p[d.len - 1] != '-';
}

/* p[0..n), lowercased, equals lower[0..n): pk_str_caseeq against a name
 * stored lowercase, eight bytes a compare (the last ones in a load that
 * may overlap). */
static bool gx_lower_eq(const char *p, const char *lower, uint32_t n)
{
	uint32_t i = 0;

	if (n >= 8) {
		for (; i + 8 <= n; i += 8)
			if (pk_lower8(pk_load8(p + i)) != pk_load8(lower + i))
				return false;
		return i == n || pk_lower8(pk_load8(p + n - 8)) == pk_load8(lower + n - 8);
	}
	if (n >= 4)
		return pk_lower8(pk_load4(p) | pk_load4(p + n - 4) << 32) == (pk_load4(lower) | pk_load4(lower + n - 4) << 32);
	for (; i < n; i++) {
		char c = p[i];

		if (((c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c) != lower[i])
			return false;
	}
	return true;
}

/* pk_groups_settings_find_domain for domains longer than 16 bytes. */
static __attribute__((noinline)) int gx_find_domain_long(const struct pk_groups_settings *s, struct pk_str domain)
{
	for (uint32_t i = 0; i < s->n_domains; i++)
		if (s->domain_len[i] == domain.len && gx_lower_eq(domain.p, s->domains[i], domain.len))
			return (int)i;
	return -1;
}

/* The index of the domain of len bytes whose words (pk_words16) are a, b,
 * or -1; *same_len: one of that length was seen. */
static inline int gx_find_domain_words(const struct pk_groups_settings *s, uint32_t len, uint64_t a, uint64_t b,
				       bool *same_len)
{
	/* one domain is the usual configuration: unrolling buys nothing */
#pragma GCC unroll 1
	for (uint32_t i = 0; i < s->n_domains; i++) {
		uint64_t da, db;

		if (s->domain_len[i] != len)
			continue;
		pk_words16(s->domains[i], len, &da, &db);
		if (((a ^ da) | (b ^ db)) == 0)
			return (int)i;
		*same_len = true;
	}
	return -1;
}

int pk_groups_settings_find_domain(const struct pk_groups_settings *s, struct pk_str domain)
{
	uint64_t a, b;
	bool same_len = false;

	/* Every URI a worker routes or registers is looked up here, most with
	 * a domain of at most 16 bytes written in lowercase: two words of it
	 * (pk_words16: two names of the same length are equal if and only if
	 * their words are) compared with two of each domain of that length,
	 * as they are. The
	 * domains are stored lowercase and distinct (add_domain), so a
	 * lowercase name matches as it is or not at all, and only a name
	 * with capitals needs the second loop, which lowercases it. */
	if (domain.len > 16)
		return gx_find_domain_long(s, domain);
	pk_words16(domain.p, domain.len, &a, &b);
	int i = gx_find_domain_words(s, (uint32_t)domain.len, a, b, &same_len);
	if (i >= 0 || !same_len)
		return i;
	return gx_find_domain_words(s, (uint32_t)domain.len, pk_lower8(a), pk_lower8(b), &same_len);
}

int pk_groups_settings_add_domain(struct pk_groups_settings *s, struct pk_str domain)
{
	uint32_t i = s->n_domains;

	if (!gx_domain_valid(domain))
		return -EINVAL;
	if (pk_groups_settings_find_domain(s, domain) >= 0)
		return -EEXIST;
	if (i >= PK_GROUPS_MAX_DOMAINS)
		return -ENOSPC;
	for (uint32_t k = 0; k < domain.len; k++) {
		char c = domain.p[k];

		s->domains[i][k] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
	}
	s->domains[i][domain.len] = '\0';
	s->domain_len[i] = (uint8_t)domain.len;
	s->n_domains = i + 1;
	return 0;
}

static bool gx_dial_chars(struct pk_str s, uint32_t max)
{
	if (s.len == 0 || s.len > max)
		return false;
	for (uint32_t i = 0; i < s.len; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || s.p[i] == '*' || s.p[i] == '#'))
			return false;
	return true;
}

int pk_groups_settings_set_pickup_code(struct pk_groups_settings *s, struct pk_str code)
{
	if (!gx_dial_chars(code, PK_GROUPS_CODE_MAX))
		return -EINVAL;
	memcpy(s->pickup_code, code.p, code.len);
	s->pickup_code[code.len] = '\0';
	s->pickup_code_len = (uint8_t)code.len;
	return 0;
}

int pk_groups_settings_set_directed_prefix(struct pk_groups_settings *s, struct pk_str prefix)
{
	if (!gx_dial_chars(prefix, PK_GROUPS_PREFIX_MAX))
		return -EINVAL;
	memcpy(s->directed_prefix, prefix.p, prefix.len);
	s->directed_prefix[prefix.len] = '\0';
	s->directed_prefix_len = (uint8_t)prefix.len;
	return 0;
}

int pk_groups_settings_check(const struct pk_groups_settings *s, const char **why)
{
	struct pk_str code = pk_groups_settings_pickup_code(s);
	struct pk_str prefix = pk_groups_settings_directed_prefix(s);
	const char *r = NULL;

	if (s->n_domains == 0)
		r = "no served domain (settings.domains)";
	else if (s->ring_timeout < 1 || s->ring_timeout > PK_GROUPS_RING_TIMEOUT_MAX)
		r = "ring_timeout out of range 1..3600";
	else if (!gx_dial_chars(code, PK_GROUPS_CODE_MAX) ||
		 !gx_dial_chars(prefix, PK_GROUPS_PREFIX_MAX))
		r = "pickup_code and directed_prefix must be 1-16 / 1-8 of 0-9 * #";
	else if (gx_has_prefix(code, prefix) || gx_has_prefix(prefix, code))
		r = "pickup_code and directed_prefix overlap (one starts with the other)";
	if (why != NULL)
		*why = r;
	return r == NULL ? 0 : -EINVAL;
}

/* ---- reader side ---- */

const struct pk_groups_view *pk_groups_view(const struct pk_groups *g)
{
	/* Acquire: pairs with the release store in gx_txn_commit, so every
	 * block reachable from the view is seen fully initialised. */
	return atomic_load_explicit(&((struct pk_groups *)(uintptr_t)g)->cur,
				    memory_order_acquire);
}

uint64_t pk_groups_view_version(const struct pk_groups_view *v)
{
	return v->txn;
}

const struct pk_groups_settings *pk_groups_view_settings(const struct pk_groups_view *v)
{
	return &v->settings->s;
}

/* The segment a hash falls in, or NULL. */
static inline const struct gx_seg *gx_seg_of(const struct gx_node *root, uint64_t h)
{
	const struct gx_node *mid;

	if (root == NULL)
		return NULL;
	mid = root->slot[h >> 56];
	if (mid == NULL)
		return NULL;
	return mid->slot[(h >> 48) & (GX_FAN - 1)];
}

/* First index in s whose tag is >= tag. */
static inline uint32_t gx_seg_lower(const struct gx_seg *s, uint32_t tag)
{
	const uint32_t *tags = gx_seg_tags(s);
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) >> 1;

		if (tags[mid] < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}


/* Does s hold a '%' (an escape to decode)? A user part or dialled number
 * of 4-16 bytes in two words that may overlap (4-7 bytes in one), each
 * tested by pk_has_byte8, no memchr call. */
static inline bool gx_has_pct(struct pk_str s)
{
	if (s.len > 16 || s.len < 4)
		return s.len > 0 && memchr(s.p, '%', s.len) != NULL;
	if (s.len >= 8)
		return pk_has_byte8(pk_load8(s.p), '%') || pk_has_byte8(pk_load8(s.p + s.len - 8), '%');
	return pk_has_byte8(pk_load4(s.p) | pk_load4(s.p + s.len - 4) << 32, '%');
}

/* gx_find_number's body, forced inline into the workers' lookups below:
 * the library is built position-independent, so an exported function is
 * never inlined, and the call's register saves cost as much as the
 * search. */
static inline __attribute__((always_inline)) const struct pk_group *gx_number_lookup(const struct pk_groups_view *v,
										    struct pk_str number)
{
	uint64_t h = gx_hash(number.p, number.len, GX_SEED_NUMBER);
	const struct gx_flat *f = v->fnum;

	if (f != NULL) {
		for (uint32_t k = (uint32_t)h & f->mask; f->slot[k].obj != NULL; k = (k + 1) & f->mask) {
			const struct gx_group *gr = f->slot[k].obj;

			if (f->slot[k].hash == h && gr->pub.number.len == number.len &&
			    pk_mem_eq_short(gr->pub.number.p, number.p, number.len))
				return &gr->pub;
		}
		return NULL;
	}

	const struct gx_seg *s = gx_seg_of(v->num, h);
	uint32_t tag = (uint32_t)h;

	if (s == NULL)
		return NULL;
	for (uint32_t i = gx_seg_lower(s, tag); i < s->n && gx_seg_tags(s)[i] == tag; i++) {
		const struct gx_group *gr = gx_seg_objs(s)[i];

		if (gr->hash == h && gr->pub.number.len == number.len &&
		    pk_mem_eq_short(gr->pub.number.p, number.p, number.len))
			return &gr->pub;
	}
	return NULL;
}

const struct pk_group *gx_find_number(const struct pk_groups_view *v, struct pk_str number)
{
	return gx_number_lookup(v, number);
}

/* gx_find_user's body, forced inline into pk_groups_find_user (as
 * gx_number_lookup). */
static inline __attribute__((always_inline)) const struct pk_group_user *
gx_user_lookup(const struct pk_groups_view *v, struct pk_str user, uint32_t domain)
{
	uint64_t h = gx_hash_user(user, domain);
	const struct gx_flat *f = v->fusr;

	if (f != NULL) {
		for (uint32_t k = (uint32_t)h & f->mask; f->slot[k].obj != NULL; k = (k + 1) & f->mask) {
			const struct gx_user *u = f->slot[k].obj;

			if (f->slot[k].hash == h && u->pub.domain == domain && u->pub.user.len == user.len &&
			    pk_mem_eq_short(u->pub.user.p, user.p, user.len))
				return &u->pub;
		}
		return NULL;
	}

	const struct gx_seg *s = gx_seg_of(v->usr, h);
	uint32_t tag = (uint32_t)h;

	if (s == NULL)
		return NULL;
	for (uint32_t i = gx_seg_lower(s, tag); i < s->n && gx_seg_tags(s)[i] == tag; i++) {
		const struct gx_user *u = gx_seg_objs(s)[i];

		if (u->hash == h && u->pub.domain == domain && u->pub.user.len == user.len &&
		    pk_mem_eq_short(u->pub.user.p, user.p, user.len))
			return &u->pub;
	}
	return NULL;
}

const struct pk_group_user *gx_find_user(const struct pk_groups_view *v, struct pk_str user,
					 uint32_t domain)
{
	return gx_user_lookup(v, user, domain);
}

static inline const void *gx_find_id(const struct gx_node *root, uint32_t id)
{
	const struct gx_node *n;

	if (root == NULL || id >= PK_GROUPS_ID_LIMIT)
		return NULL;
	n = root->slot[id >> 16];
	if (n == NULL)
		return NULL;
	n = n->slot[(id >> 8) & (GX_FAN - 1)];
	if (n == NULL)
		return NULL;
	return n->slot[id & (GX_FAN - 1)];
}

const struct pk_group *pk_groups_find_gid(const struct pk_groups_view *v, uint32_t gid)
{
	const struct gx_group *gr = gx_find_id(v->gid, gid);

	return gr != NULL ? &gr->pub : NULL;
}

const struct pk_group_user *pk_groups_find_uid(const struct pk_groups_view *v, uint32_t uid)
{
	const struct gx_user *u = gx_find_id(v->uid, uid);

	return u != NULL ? &u->pub : NULL;
}

/* Decode %HH escapes of a dialled string into buf (digits, '*', '#' are
 * all a number can hold). Returns the decoded view, or an empty one if it
 * does not fit or is malformed. */
static struct pk_str gx_unescape_dial(struct pk_str s, char *buf, size_t cap)
{
	size_t o = 0;

	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= s.len || (hi = gx_hexval((unsigned char)s.p[i + 1])) < 0 ||
			    (lo = gx_hexval((unsigned char)s.p[i + 2])) < 0)
				return PK_STR_NULL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (o == cap)
			return PK_STR_NULL;
		buf[o++] = (char)c;
	}
	return pk_str_make(buf, o);
}

const struct pk_group *pk_groups_find_number(const struct pk_groups_view *v, struct pk_str number)
{
	char buf[PK_GROUPS_NUMBER_MAX];

	if (unlikely(number.len > 0 && memchr(number.p, '%', number.len) != NULL)) {
		number = gx_unescape_dial(number, buf, sizeof(buf));
		if (number.len == 0)
			return NULL;
	}
	if (number.len == 0 || number.len > PK_GROUPS_NUMBER_MAX)
		return NULL;
	return gx_number_lookup(v, number);
}

const struct pk_group_user *pk_groups_find_user(const struct pk_groups_view *v, struct pk_str user,
						struct pk_str domain)
{
	const struct pk_groups_settings *s = &v->settings->s;
	char buf[PK_GROUPS_USER_MAX];
	int d = 0;

	if (domain.len > 0)
		d = pk_groups_settings_find_domain(s, domain);
	else if (s->n_domains == 0)
		d = -1;
	if (d < 0 || user.len == 0)
		return NULL;
	if (unlikely(gx_has_pct(user))) {
		int n = pk_groups_user_normalize(user, buf, sizeof(buf));

		if (n <= 0)
			return NULL;
		user = pk_str_make(buf, (size_t)n);
	}
	if (user.len > PK_GROUPS_USER_MAX)
		return NULL;
	return gx_user_lookup(v, user, (uint32_t)d);
}

const struct pk_group_user *pk_groups_find_uri(const struct pk_groups_view *v,
					       struct pk_str uri_user, struct pk_str uri_host)
{
	if (uri_host.len == 0)
		return NULL;
	return pk_groups_find_user(v, uri_user, uri_host);
}

uint32_t pk_group_user_rights(const struct pk_group_user *u, uint32_t gid)
{
	uint32_t lo = 0, hi = u->n_groups;

	while (lo < hi) {
		uint32_t mid = (lo + hi) >> 1;

		if (u->groups[mid].id < gid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->n_groups && u->groups[lo].id == gid ? u->groups[lo].rights : 0;
}

/* Does the dialled string, with %HH decoded on the fly, start with lit?
 * Returns how many raw bytes of s the literal covers, or -1. */
static int gx_match_escaped(struct pk_str s, struct pk_str lit)
{
	uint32_t i = 0;

	for (uint32_t k = 0; k < lit.len; k++) {
		unsigned char c;
		int hi, lo;

		if (i >= s.len)
			return -1;
		c = (unsigned char)s.p[i];
		if (c == '%') {
			if (i + 2 >= s.len || (hi = gx_hexval((unsigned char)s.p[i + 1])) < 0 ||
			    (lo = gx_hexval((unsigned char)s.p[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c != (unsigned char)lit.p[k])
			return -1;
		i++;
	}
	return (int)i;
}

/* pk_groups_classify of a dialled string with a '%' in it (decoded on
 * the fly). Out of line: the usual string has none, and its path then
 * needs no registers saved. */
static __attribute__((noinline)) enum pk_groups_dial gx_classify_escaped(const struct pk_groups_view *v,
									 struct pk_str dialled,
									 struct pk_groups_dial_result *out)
{
	const struct pk_groups_settings *s = &v->settings->s;
	const struct pk_group *gr;
	int n = gx_match_escaped(dialled, pk_groups_settings_pickup_code(s));

	if (n == (int)dialled.len)
		return PK_DIAL_PICKUP_CODE;
	gr = pk_groups_find_number(v, dialled);
	if (gr != NULL) {
		if (out != NULL)
			out->group = gr;
		return PK_DIAL_GROUP;
	}
	n = gx_match_escaped(dialled, pk_groups_settings_directed_prefix(s));
	if (n > 0 && (uint32_t)n < dialled.len) {
		if (out != NULL)
			out->target = pk_str_make(dialled.p + n, dialled.len - (uint32_t)n);
		return PK_DIAL_DIRECTED;
	}
	return PK_DIAL_NONE;
}

enum pk_groups_dial pk_groups_classify(const struct pk_groups_view *v, struct pk_str dialled,
				       struct pk_groups_dial_result *out)
{
	const struct pk_groups_settings *s = &v->settings->s;
	const struct pk_group *gr;

	if (out != NULL) {
		out->group = NULL;
		out->target = PK_STR_NULL;
	}
	if (dialled.len == 0)
		return PK_DIAL_NONE;
	/* A first byte that starts no pickup code, directed prefix or group
	 * number (the usual extension, "2002", where those start with '*' or
	 * '#'): nothing. Escaped or not: unless it is the '%' of an escape,
	 * the first byte is the first decoded one too. */
	unsigned char c0 = (unsigned char)dialled.p[0];

	if (c0 != '%' && c0 != (unsigned char)s->pickup_code[0] && c0 != (unsigned char)s->directed_prefix[0] &&
	    !gx_number_may_start(v, c0))
		return PK_DIAL_NONE;
	if (unlikely(gx_has_pct(dialled)))
		return gx_classify_escaped(v, dialled, out);
	/* Nothing escaped (every routed request's user part comes here, "%"
	 * almost never): one raw byte per literal byte, so the pickup code
	 * must have the length of what was dialled and the directed prefix
	 * be shorter; no second look for '%' in the number lookup. The same
	 * answers as gx_classify_escaped (test_groups:
	 * test_classify_unescaped). */
	struct pk_str code = pk_groups_settings_pickup_code(s);
	struct pk_str pfx = pk_groups_settings_directed_prefix(s);

	if (code.len == dialled.len && code.p[0] == dialled.p[0] && memcmp(code.p, dialled.p, code.len) == 0)
		return PK_DIAL_PICKUP_CODE;
	/* No number starts with this byte (the dialled string starts as the
	 * pickup code or the prefix does): no hash, no lookup. */
	gr = dialled.len <= PK_GROUPS_NUMBER_MAX && gx_number_may_start(v, c0)
		     ? gx_number_lookup(v, dialled)
		     : NULL;
	if (gr != NULL) {
		if (out != NULL)
			out->group = gr;
		return PK_DIAL_GROUP;
	}
	if (pfx.len > 0 && pfx.len < dialled.len && pfx.p[0] == dialled.p[0] &&
	    memcmp(pfx.p, dialled.p, pfx.len) == 0) {
		if (out != NULL)
			out->target = pk_str_make(dialled.p + pfx.len, dialled.len - pfx.len);
		return PK_DIAL_DIRECTED;
	}
	return PK_DIAL_NONE;
}

bool pk_groups_is_pickup_code(const struct pk_groups_view *v, struct pk_str dialled)
{
	return dialled.len > 0 &&
	       gx_match_escaped(dialled, pk_groups_settings_pickup_code(&v->settings->s)) ==
		       (int)dialled.len;
}

bool pk_groups_directed_target(const struct pk_groups_view *v, struct pk_str dialled,
			       struct pk_str *target)
{
	int n = gx_match_escaped(dialled, pk_groups_settings_directed_prefix(&v->settings->s));

	if (n <= 0 || (uint32_t)n >= dialled.len)
		return false;
	if (target != NULL)
		*target = pk_str_make(dialled.p + n, dialled.len - (uint32_t)n);
	return true;
}

void gx_walk_ids(const struct gx_node *root, void (*fn)(void *obj, void *ctx), void *ctx)
{
	if (root == NULL)
		return;
	for (unsigned a = 0; a < GX_FAN; a++) {
		const struct gx_node *mid = root->slot[a];

		if (mid == NULL)
			continue;
		for (unsigned b = 0; b < GX_FAN; b++) {
			const struct gx_node *leaf = mid->slot[b];

			if (leaf == NULL)
				continue;
			for (unsigned c = 0; c < GX_FAN; c++)
				if (leaf->slot[c] != NULL)
					fn(leaf->slot[c], ctx);
		}
	}
}
