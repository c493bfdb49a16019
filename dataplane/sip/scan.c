/* SPDX-License-Identifier: MIT */
/*
 * The SIP fast-path scanner.
 *
 * The start line, then one pass over the header block. It builds the
 * header table from bitmaps of the LF bytes and of the bytes that are not
 * token characters (scan_bitmap.h, 64 bytes per AVX2 step): a line end and
 * a name end are each a shift and a count of trailing zeros, the name is
 * identified by a perfect hash of its first eight bytes and one 16-byte
 * vector compare, and the value of every header the engine needs is parsed
 * into views as its line is reached. The body is then sized from
 * Content-Length.
 *
 * Values in the form phones send (no white space around separators,
 * token-only parameters, <>-enclosed URIs) take fast paths that walk the
 * token bitmap; anything else falls back, for that header value, to the
 * general parsers, which hold the grammar. A fast path never decides an
 * error: it either produces exactly what the general parser would, or
 * declines.
 *
 * Line folding (CRLF followed by SP/HT) is handled in place: a header line
 * runs until a CRLF that is not followed by whitespace, and the value
 * parsers treat CR and LF inside a value as whitespace. What the scanner
 * declines (PK_SIP_SLOW) is bare-LF line ends, which phones never send but
 * hand-made tools do; the libosip2 slow path canonicalises those.
 *
 * Validation is what a proxy must do before it forwards or answers: the
 * start line's exact form (RFC 4475 §3.1.2.7-10, §3.1.2.16), mandatory and
 * single-valued headers, numeric ranges, CSeq method against the request
 * method, Content-Length against the datagram. Nothing here allocates,
 * copies or writes outside *msg.
 */
#include <errno.h>
#include <limits.h>

/* GCC's basic-block vectoriser packs the header table entry's four 16-bit
 * stores into one 64-bit store built with shifts and masks: 16
 * instructions per header line instead of 5 stores (-2% per message).
 * Its partial redundancy elimination keeps values computed once for the
 * whole header loop in registers the value parsers then lack, and the
 * loop spills and reloads them per line (-3% without it). One register
 * allocation region for the whole function (ira-region=one) spills less
 * around the inlined value parsers (-1%). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-slp-vectorize", "no-tree-pre", "ira-region=one")
#endif

#include "pickup/sip.h"
#include "scan_bitmap.h"
#include "scan_chars.h"

/* --- names and lookups ---------------------------------------------- */

static const char *const method_names[PK_SIP_METHOD_COUNT] = {
	[PK_SIP_METHOD_UNKNOWN] = "UNKNOWN",
#define PK_M_NAME(n, s) [PK_SIP_##n] = s,
	PK_SIP_FOREACH_METHOD(PK_M_NAME)
#undef PK_M_NAME
};

const char *pk_sip_method_name(enum pk_sip_method m)
{
	return (unsigned)m < PK_SIP_METHOD_COUNT ? method_names[m] : "UNKNOWN";
}

/* Methods are case-sensitive (RFC 3261 §7.1): compare whole tokens. */
enum pk_sip_method pk_sip_method_lookup(const char *p, size_t len)
{
	switch (len) {
	case 3:
		if (memcmp(p, "ACK", 3) == 0)
			return PK_SIP_ACK;
		if (memcmp(p, "BYE", 3) == 0)
			return PK_SIP_BYE;
		break;
	case 4:
		if (memcmp(p, "INFO", 4) == 0)
			return PK_SIP_INFO;
		break;
	case 5:
		if (memcmp(p, "PRACK", 5) == 0)
			return PK_SIP_PRACK;
		if (memcmp(p, "REFER", 5) == 0)
			return PK_SIP_REFER;
		break;
	case 6:
		if (memcmp(p, "INVITE", 6) == 0)
			return PK_SIP_INVITE;
		if (memcmp(p, "CANCEL", 6) == 0)
			return PK_SIP_CANCEL;
		if (memcmp(p, "UPDATE", 6) == 0)
			return PK_SIP_UPDATE;
		if (memcmp(p, "NOTIFY", 6) == 0)
			return PK_SIP_NOTIFY;
		break;
	case 7:
		if (memcmp(p, "OPTIONS", 7) == 0)
			return PK_SIP_OPTIONS;
		if (memcmp(p, "MESSAGE", 7) == 0)
			return PK_SIP_MESSAGE;
		if (memcmp(p, "PUBLISH", 7) == 0)
			return PK_SIP_PUBLISH;
		break;
	case 8:
		if (memcmp(p, "REGISTER", 8) == 0)
			return PK_SIP_REGISTER;
		break;
	case 9:
		if (memcmp(p, "SUBSCRIBE", 9) == 0)
			return PK_SIP_SUBSCRIBE;
		break;
	}
	return PK_SIP_METHOD_UNKNOWN;
}

struct hdr_def {
	const char *name;
	uint8_t len;
	char compact;
	bool single;
};

static const struct hdr_def hdr_defs[PK_HDR_COUNT] = {
	[PK_HDR_OTHER] = { "", 0, 0, false },
#define PK_H_DEF(id, name, compact, single) \
	[PK_HDR_##id] = { name, sizeof(name) - 1, compact, single },
	PK_SIP_FOREACH_HDR(PK_H_DEF)
#undef PK_H_DEF
};

const char *pk_sip_hdr_name(enum pk_sip_hdr_id id)
{
	return (unsigned)id < PK_HDR_COUNT ? hdr_defs[id].name : "";
}

/* Header names are case-insensitive tokens; our names hold only letters and
 * '-', so OR-ing 0x20 folds case without false matches (a token char never
 * folds onto '-' or a letter unless it is that letter). */
/* Case-insensitive compare against a lower-case name; only letters fold
 * (a CR OR 0x20 is '-', a '@' is '`'). */
static inline bool name_caseeq(const char *p, const char *lower, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c != lower[i] && !((c | 0x20) == lower[i] && lower[i] >= 'a' && lower[i] <= 'z'))
			return false;
	}
	return true;
}

/* "sip" in any case followed by the byte c, in one 4-byte compare (the
 * caller has checked that 4 bytes are there). */
static inline bool sip_then(const char *p, char c)
{
	const char lit[4] = { 's', 'i', 'p', c }, fold[4] = { 0x20, 0x20, 0x20, 0 };
	uint32_t w, want, f;
	memcpy(&w, p, 4);
	memcpy(&want, lit, 4);
	memcpy(&f, fold, 4);
	return (w | f) == want;
}

/* "SIP/2.0" ("SIP" in any case) then a CR, in one 8-byte compare: the
 * version that ends a request line, the CR being the one the caller found
 * before the line's LF (so the 8 bytes are inside the buffer). */
static inline bool sip20_cr(const char *p)
{
	uint64_t w, want, f;
	memcpy(&w, p, 8);
	memcpy(&want, "sip/2.0\r", 8);
	memcpy(&f, "\x20\x20\x20\0\0\0\0\0", 8);
	return (w | f) == want;
}

/* The same with overlapping 2- or 4-byte loads, for names of 2 to 7;
 * fold holds 0x20 for the bytes that are letters in lower. */
static inline bool name_caseeq_short(const char *p, const char *lower, const char *fold, size_t len)
{
	if (len >= 4) {
		uint32_t a, b, c, d, f, g;
		memcpy(&a, p, 4);
		memcpy(&b, lower, 4);
		memcpy(&f, fold, 4);
		memcpy(&c, p + len - 4, 4);
		memcpy(&d, lower + len - 4, 4);
		memcpy(&g, fold + len - 4, 4);
		return ((a | f) == b) & ((c | g) == d);
	}
	uint16_t a, b, c, d, f, g;
	memcpy(&a, p, 2);
	memcpy(&b, lower, 2);
	memcpy(&f, fold, 2);
	memcpy(&c, p + len - 2, 2);
	memcpy(&d, lower + len - 2, 2);
	memcpy(&g, fold + len - 2, 2);
	return ((a | f) == b) & ((c | g) == d);
}

/* The same, eight bytes at a time, for names of 8 bytes or more (the last
 * word overlaps the one before it). */
static inline bool name_caseeq_long(const char *p, const char *lower, const char *fold, size_t len)
{
	uint64_t a, b, f;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&a, p + i, 8);
		memcpy(&b, lower + i, 8);
		memcpy(&f, fold + i, 8);
		if ((a | f) != b)
			return false;
	}
	if (i == len)
		return true;
	memcpy(&a, p + len - 8, 8);
	memcpy(&b, lower + len - 8, 8);
	memcpy(&f, fold + len - 8, 8);
	return (a | f) == b;
}

/*
 * The lookup for names the perfect hash below cannot take (longer than 16
 * bytes, or within 16 bytes of the end of the buffer) and for
 * pk_sip_frame: header names hash on (length, first letter, last letter)
 * into buckets of four ids (one is used: the hash has no collisions among
 * our names); one case-folded compare then confirms the name. Built from
 * the X-macro before main(), so workers only ever read it.
 */
#define HDR_HASH_SIZE 256
static uint8_t hdr_hash_tab[HDR_HASH_SIZE][4];
static uint8_t compact_ids[26];
static char lower_names[PK_HDR_COUNT][24];
/* 0x20 where the name has a letter, 0 elsewhere: only letters fold (a CR
 * OR 0x20 would otherwise compare equal to '-') */
static char fold_masks[PK_HDR_COUNT][24];
/* name lengths by id (0 for PK_HDR_OTHER, which no name matches) */
static uint8_t hdr_lens[PK_HDR_COUNT];

static inline unsigned hdr_hash(const char *p, size_t len)
{
	/* collision-free for the names of PK_SIP_FOREACH_HDR (test_scan
	 * checks that every name is found), so a bucket is one compare */
	return ((unsigned)len + (unsigned)(p[0] | 0x20) * 12u + (unsigned)(p[len - 1] | 0x20)) &
	       (HDR_HASH_SIZE - 1);
}

uint8_t pk_sbm_lo[32], pk_sbm_hi[32];

/* The token class as two nibble tables (scan_bitmap.h): each high nibble
 * that holds token characters gets its own bit, the low-nibble table says
 * for which high nibbles a low nibble is a token. Exact by construction. */
void pk_sbm_tables_init(void)
{
	memset(pk_sbm_lo, 0, sizeof(pk_sbm_lo));
	memset(pk_sbm_hi, 0, sizeof(pk_sbm_hi));
	for (unsigned h = 2; h < 8; h++)
		pk_sbm_hi[h] = pk_sbm_hi[h + 16] = (uint8_t)(1u << (h - 2));
	for (unsigned c = 0x20; c < 0x80; c++)
		if (pk_sip_is_token((char)c)) {
			pk_sbm_lo[c & 15] |= (uint8_t)(1u << ((c >> 4) - 2));
			pk_sbm_lo[(c & 15) + 16] |= (uint8_t)(1u << ((c >> 4) - 2));
		}
}

static void ph_add(const char *name, size_t len, unsigned id);
static void ph_masks_init(void);

__attribute__((constructor)) static void scan_tables_init(void)
{
	ph_masks_init();
	pk_sbm_tables_init();
	for (unsigned id = 1; id < PK_HDR_COUNT; id++) {
		const struct hdr_def *d = &hdr_defs[id];
		hdr_lens[id] = d->len;
		for (unsigned i = 0; i < d->len && i < sizeof(lower_names[0]) - 1; i++)
		{
			lower_names[id][i] = (char)(d->name[i] | 0x20);
			fold_masks[id][i] = (char)((d->name[i] | 0x20) >= 'a' && (d->name[i] | 0x20) <= 'z' ? 0x20 : 0);
		}
		uint8_t *b = hdr_hash_tab[hdr_hash(d->name, d->len)];
		for (unsigned k = 0; k < 4; k++)
			if (b[k] == 0) {
				b[k] = (uint8_t)id;
				break;
			}
		/* a full bucket would lose a name: test_scan checks every name */
		if (d->compact)
			compact_ids[(d->compact | 0x20) - 'a'] = (uint8_t)id;
		ph_add(d->name, d->len, id);
		if (d->compact) {
			char cf = d->compact;
			ph_add(&cf, 1, id);
		}
	}
}

static inline __attribute__((always_inline)) enum pk_sip_hdr_id hdr_lookup(const char *p, size_t len)
{
	if (len == 0 || len >= sizeof(lower_names[0]))
		return PK_HDR_OTHER;
	if (len == 1) {
		unsigned c = (unsigned)(p[0] | 0x20);
		return c >= 'a' && c <= 'z' ? (enum pk_sip_hdr_id)compact_ids[c - 'a'] : PK_HDR_OTHER;
	}
	const uint8_t *b = hdr_hash_tab[hdr_hash(p, len)];
	for (unsigned k = 0; k < 4 && b[k]; k++)
		if (hdr_defs[b[k]].len == len &&
		    (len >= 8 ? name_caseeq_long(p, lower_names[b[k]], fold_masks[b[k]], len)
			      : name_caseeq_short(p, lower_names[b[k]], fold_masks[b[k]], len)))
			return (enum pk_sip_hdr_id)b[k];
	return PK_HDR_OTHER;
}

/*
 * The main lookup: a perfect hash of the name's first eight bytes
 * (case-folded by OR-ing 0x20 into every byte) and its length into 128
 * slots, confirmed by two 8-byte compares (the scanner's lookup of a token
 * name: one 16-byte vector compare, ph_v below). PH_MUL was chosen so that the
 * names and compact forms of PK_SIP_FOREACH_HDR land in different slots;
 * the table is built from the X-macro before main() (test_scan checks
 * that every name and compact form is found, in any case: a name added
 * later that shares a slot would fail it).
 * OR-ing 0x20 maps the bytes of a matching name onto the lower-case name
 * ('-' has the bit already), so the slot is right for any case; the
 * compare folds only the letters of the name, so no other byte (a CR is
 * '-' once folded) can match.
 */
#define PH_MUL 0x209032ac0b8c73d1ull
#define PH_FOLD 0x2020202020202020ull
struct ph_slot {
	uint64_t lo, hi;	 /* the lower-case name, zero-padded to 16 bytes */
	uint64_t flo, fhi;	 /* 0x20 where the name has a letter */
	uint8_t len;		 /* 0: empty slot */
	uint8_t id;		 /* enum pk_sip_hdr_id */
};
static struct ph_slot ph_tab[128];
#if defined(__SSE2__) && defined(__x86_64__)
#define PH_VEC 1
/* The same slots for the scanner's lookup, the name as one vector; and
 * the byte masks of the first len bytes, by len. One struct, so that one
 * base address serves both. */
struct ph_vslot {
	__m128i name; /* the lower-case name, zero-padded (zero: empty) */
	uint8_t id;
};
static struct {
	struct ph_vslot tab[128];
	__m128i fold; /* 0x20 in every byte */
	__m128i mask[17];
} ph_v;
#endif

static inline unsigned ph_slot_of(uint64_t lo_folded, size_t len)
{
	return (unsigned)(((lo_folded ^ (uint64_t)len) * PH_MUL) >> 57);
}

static void ph_add(const char *name, size_t len, unsigned id)
{
	char key[16] = { 0 }, fold[16] = { 0 };
	for (size_t i = 0; i < len; i++) {
		char c = (char)(name[i] | 0x20);
		bool letter = c >= 'a' && c <= 'z';
		key[i] = letter ? c : name[i];
		fold[i] = letter ? 0x20 : 0;
	}
	struct ph_slot e = { 0, 0, 0, 0, (uint8_t)len, (uint8_t)id };
	memcpy(&e.lo, key, 8);
	memcpy(&e.hi, key + 8, 8);
	memcpy(&e.flo, fold, 8);
	memcpy(&e.fhi, fold + 8, 8);
	struct ph_slot *t = &ph_tab[ph_slot_of(e.lo, len)];
	/* a shared slot keeps its first name: the names of test_scan's
	 * lookup tests then fail, and PH_MUL needs another value */
	if (!t->len) {
		*t = e;
#ifdef PH_VEC
		struct ph_vslot *v = &ph_v.tab[t - ph_tab];
		v->name = _mm_loadu_si128((const __m128i *)(const void *)key);
		v->id = (uint8_t)id;
#endif
	}
}

/* Masks of the first len bytes of the two words of a name, by len, and
 * the 0x20 bits within the first word. */
static uint64_t ph_mlo[17], ph_mhi[17], ph_mfold[17];

static void ph_masks_init(void)
{
	for (unsigned len = 0; len <= 16; len++) {
		unsigned l = len < 8 ? len : 8, h = len > 8 ? len - 8 : 0;
		ph_mlo[len] = l == 8 ? ~0ull : (1ull << (l * 8)) - 1;
		ph_mhi[len] = h == 8 ? ~0ull : (1ull << (h * 8)) - 1;
		ph_mfold[len] = ph_mlo[len] & PH_FOLD;
#ifdef PH_VEC
		ph_v.mask[len] = _mm_set_epi64x((long long)ph_mhi[len], (long long)ph_mlo[len]);
		ph_v.fold = _mm_set1_epi8(0x20);
#endif
	}
}

/* Names of 1 to 16 bytes with 16 bytes readable from p. */
static inline __attribute__((always_inline)) enum pk_sip_hdr_id ph_lookup16(const char *p, size_t len)
{
	uint64_t a, b;
	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	a &= ph_mlo[len];
	b &= ph_mhi[len];
	const struct ph_slot *t = &ph_tab[ph_slot_of(a | ph_mfold[len], len)];
	bool hit = (t->len == len) & ((a | t->flo) == t->lo) & ((b | t->fhi) == t->hi);
	return hit ? (enum pk_sip_hdr_id)t->id : PK_HDR_OTHER;
}

/*
 * The same for a name the caller knows to be a token (the scanner's): OR
 * 0x20 folds a token byte onto a lower-case letter or '-' only when it is
 * that letter in either case or '-', so the folded, zero-padded name
 * equals the slot's name exactly when the names match -- and then has its
 * length, since no token byte is 0.
 */
static inline __attribute__((always_inline)) enum pk_sip_hdr_id ph_lookup16_tok(const char *p, size_t len)
{
#ifdef PH_VEC
	/* one vector: fold, mask to the length, compare with the slot */
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	x = _mm_and_si128(_mm_or_si128(x, ph_v.fold), ph_v.mask[len]);
	const struct ph_vslot *v = &ph_v.tab[ph_slot_of((uint64_t)_mm_cvtsi128_si64(x), len)];
	bool vhit = _mm_movemask_epi8(_mm_cmpeq_epi8(x, v->name)) == 0xffff;
	return vhit ? (enum pk_sip_hdr_id)v->id : PK_HDR_OTHER;
#endif
	uint64_t a, b;
	memcpy(&a, p, 8);
	memcpy(&b, p + 8, 8);
	a = (a | PH_FOLD) & ph_mlo[len];
	b = (b | PH_FOLD) & ph_mhi[len];
	const struct ph_slot *t = &ph_tab[ph_slot_of(a, len)];
	bool hit = (a == t->lo) & (b == t->hi);
	return hit ? (enum pk_sip_hdr_id)t->id : PK_HDR_OTHER;
}

/* The scanner's lookup of a token name; last16 is the last address from
 * which 16 bytes can be read (the end of the buffer minus 16, as an
 * integer: the buffer may be shorter). */
static inline __attribute__((always_inline)) enum pk_sip_hdr_id
hdr_lookup_lim(const char *p, size_t len, uintptr_t last16)
{
	if (len - 1 < 16 && (uintptr_t)p <= last16)
		return ph_lookup16_tok(p, len);
	return hdr_lookup(p, len);
}

enum pk_sip_hdr_id pk_sip_hdr_lookup(const char *p, size_t len)
{
	if (len - 1 < 16) {
		char tmp[16] = { 0 };
		memcpy(tmp, p, len);
		return ph_lookup16(tmp, len);
	}
	return hdr_lookup(p, len);
}

int pk_sip_hdr_next(const struct pk_sip_msg *m, int i)
{
	uint8_t id = m->hdrs[i].id;
	for (int j = i + 1; j < m->nhdrs; j++)
		if (m->hdrs[j].id == id)
			return j;
	return -1;
}

/* --- small value parsers -------------------------------------------- */

/* Inside a header value CR and LF can only come from line folding: all
 * four are linear white space there. */
static inline const char *skip_lws(const char *p, const char *end)
{
	while (p < end && pk_sip_is_lws(*p))
		p++;
	return p;
}

static inline const char *rtrim_lws(const char *start, const char *end)
{
	while (end > start && pk_sip_is_lws(end[-1]))
		end--;
	return end;
}

static inline struct pk_str trimmed(const char *p, const char *end)
{
	p = skip_lws(p, end);
	end = rtrim_lws(p, end);
	return pk_str_make(p, (size_t)(end - p));
}

/* Decimal number of at most max; -1 on anything else (empty, sign, junk,
 * overflow). Leading zeros are fine (RFC 4475 wsinv: "0068"). */
static int64_t parse_uint(struct pk_str s, int64_t max)
{
	if (s.len == 0 || s.len > 30)
		return -1;
	int64_t v = 0;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned)(s.p[i] - '0');
		if (d > 9)
			return -1;
		v = v * 10 + d;
		if (v > max)
			return -1;
	}
	return v;
}

/*
 * The decimal number [p, e) of 1 to 8 digits, in a few word operations:
 * the 4 (up to 4 digits) or 8 bytes that end at e are loaded (the caller
 * has checked that e - 8 is inside the buffer), the bytes before p
 * cleared (leading zeros), every byte checked to be a digit, and the
 * digits combined pairwise. Returns the value, or -1 when a byte is not a
 * digit.
 */
static inline __attribute__((always_inline)) int64_t digits8(const char *p, const char *e)
{
	unsigned n = (unsigned)(e - p); /* 1..8 */
	if (n <= 4) {
		/* every number of the usual messages: the 4 bytes that end
		 * at e, 32-bit constants, two combining steps */
		unsigned s = 8 * (4 - n); /* 0..24 */
		uint32_t y;
		memcpy(&y, e - 4, 4);
		y ^= 0x30303030u;
		y = y >> s << s; /* the bytes before p to zero */
		if ((y | (y + 0x76767676u)) & 0x80808080u)
			return -1;
		y = (y * 10 + (y >> 8)) & 0x00ff00ffu;
		return (int64_t)((y * 100 + (y >> 16)) & 0xffffu);
	}
	unsigned s = 8 * (8 - n); /* 0..24 */
	uint64_t x;
	memcpy(&x, e - 8, 8);
	x ^= 0x3030303030303030ull;
	x = x >> s << s; /* the bytes before p to zero */
	/* a byte is 0..9 now iff it was a digit: no top bit, and none once
	 * 0x76 is added (a carry out of a byte needs a top bit in it) */
	if ((x | (x + 0x7676767676767676ull)) & 0x8080808080808080ull)
		return -1;
	/* the first digit is in the lowest byte */
	x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
	x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
	x = (x * 10000 + (x >> 32)) & 0xffffffffull;
	return (int64_t)x;
}

/* parse_uint for a value inside a scanned message (buf is its start):
 * the word version for 1 to 8 digits, the loop otherwise. */
static inline __attribute__((always_inline)) int64_t parse_uint_in(const char *buf, const char *p,
								   const char *e, int64_t max)
{
	if ((size_t)(e - p) - 1 < 8 && e - buf >= 8) {
		int64_t v = digits8(p, e);
		return v <= max ? v : -1;
	}
	return parse_uint(pk_str_make(p, (size_t)(e - p)), max);
}

/* End of a quoted string that starts at p (p[0] == '"'), honouring
 * backslash escapes; returns the position after the closing quote, or NULL
 * when it is not closed before end. */
static const char *quoted_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* What ends an unquoted parameter value in pk_sip_param_get's walk. */
static const uint8_t pv_end[256] = { [';'] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1 };

/* One walk of params, every name compared at each parameter; each name's
 * first match wins. pk_sip_param_get is this walk for one name. */
uint32_t pk_sip_params_get(struct pk_str params, const char *const *names, unsigned n,
			   struct pk_str *vals)
{
	const char *p, *end;
	size_t nlen[32];
	uint32_t found = 0, all;

	if (n > 32)
		n = 32;
	if (params.len == 0 || n == 0)
		return 0; /* before any arithmetic on params.p, which may be NULL */
	p = params.p;
	end = params.p + params.len;
	all = n == 32 ? ~0u : (1u << n) - 1;
	for (unsigned i = 0; i < n; i++)
		nlen[i] = strlen(names[i]);
	while (p < end && found != all) {
		p = skip_lws(p, end);
		if (p < end && *p == ';') {
			p++;
			continue;
		}
		const char *ns = p;
		while (p < end && pk_sip_is_token(*p))
			p++;
		const char *ne = p;
		p = skip_lws(p, end);
		struct pk_str v = PK_STR_NULL;
		if (p < end && *p == '=') {
			p = skip_lws(p + 1, end);
			const char *vs = p;
			if (p < end && *p == '"') {
				/* to the closing quote, past \-escapes; end if none */
				const char *q = quoted_end(p, end);

				p = q ? q : end;
			} else {
				while (p < end && !pv_end[(uint8_t)*p])
					p++;
			}
			v = pk_str_make(vs, (size_t)(p - vs));
		}
		for (unsigned i = 0; i < n; i++)
			if (!(found & (1u << i)) && (size_t)(ne - ns) == nlen[i] &&
			    pk_str_caseeq(pk_str_make(ns, nlen[i]), pk_str_make(names[i], nlen[i]))) {
				found |= 1u << i;
				vals[i] = v;
			}
		if (p == ns) /* not a token and not ';': skip one char */
			p++;
		else
			while (p < end && *p != ';')
				p++;
	}
	return found;
}

bool pk_sip_param_get(struct pk_str params, const char *name, struct pk_str *val)
{
	struct pk_str v;

	if (!(pk_sip_params_get(params, &name, 1, &v) & 1))
		return false;
	if (val)
		*val = v;
	return true;
}

/*
 * One pass over a ";name[=value]" parameter list, validating it strictly
 * enough to catch RFC 4475 badinv01 (empty parameters) -- every parameter
 * has a token name; a value is a token, a host-ish word or a quoted string
 * -- and picking out the values of the parameters in want[]. In list mode
 * it stops at a ',' that ends the element. Returns where it stopped, or
 * NULL when the list is malformed.
 */
/* State of one scan; lim is the end of the buffer (vector loads stop
 * before it). */
struct scan_ctx {
	struct pk_sip_msg *m;
	const char *why;
	const char *lim;
	const struct pk_sbm *bm; /* structural bitmaps, mapped past the line */
};

static const struct pk_delims param_value_end = PK_DELIMS(';', ',', ' ', '\t', '\r', '\n', '"');
static const struct pk_delims host_end = PK_DELIMS(':', ';', ',', ' ', '\t', '\r', '\n');

struct want {
	const char *name;
	uint8_t len;
	bool found;
	struct pk_str val;
};

/* Parameter names compare case-insensitively; the names we want hold only
 * letters, so a byte that is not a letter never matches. */
static inline bool want_eq(const char *p, const char *lower, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = (char)(p[i] | 0x20);
		if (c != lower[i] || c < 'a' || c > 'z')
			return false;
	}
	return true;
}

static const char *scan_params(const char *p, const char *end, const char *lim, bool list,
			       struct want *w, unsigned nw)
{
	for (;;) {
		if (p < end && pk_sip_is_lws(*p))
			p = skip_lws(p, end);
		if (p == end || (list && *p == ','))
			return p;
		if (*p != ';')
			return NULL;
		p++;
		if (p < end && pk_sip_is_lws(*p))
			p = skip_lws(p, end);
		/* name: a token (short: a byte loop); unquoted values are only
		 * delimited, not checked character by character (a proxy passes
		 * them on) */
		const char *ns = p;
		while (p < end && pk_sip_is_token(*p))
			p++;
		size_t nlen = (size_t)(p - ns);
		if (nlen == 0)
			return NULL;
		if (p < end && *p != '=' && pk_sip_is_lws(*p))
			p = skip_lws(p, end);
		struct pk_str val = PK_STR_NULL;
		if (p < end && *p == '=') {
			p++;
			if (p < end && pk_sip_is_lws(*p))
				p = skip_lws(p, end);
			const char *vs = p;
			if (p < end && *p == '"') {
				p = quoted_end(p, end);
				if (!p)
					return NULL;
			} else {
				p = pk_find_set(p, end, lim, &param_value_end);
				if (p == vs || (p < end && *p == '"'))
					return NULL;
			}
			val = pk_str_make(vs, (size_t)(p - vs));
		}
		for (unsigned i = 0; i < nw; i++)
			if (w[i].len == nlen && want_eq(ns, w[i].name, nlen)) {
				w[i].found = true;
				w[i].val = val;
				break;
			}
	}
}

/* --- fast paths ------------------------------------------------------ */

/*
 * The fast paths below parse the syntax phones send -- no white space
 * around separators, token-only parameter names and values, <>-enclosed
 * URIs -- walking the token bitmap. They never report an error: on
 * anything else they return NULL ("not handled") and the general parser
 * above runs on the same value from scratch, so the verdict and every
 * field are those of the general parser whatever the input. A fast path
 * therefore accepts only what the general parser accepts with the same
 * result.
 */

/* Case-insensitive compare of n bytes (n constant, 3..8) against a
 * lower-case name made only of letters: OR-ing 0x20 folds exactly then. */
static inline __attribute__((always_inline)) bool lc_eq(const char *p, const char *lit, size_t n)
{
	if (n >= 4) {
		uint32_t a, b, x, y;
		memcpy(&a, p, 4);
		memcpy(&b, lit, 4);
		memcpy(&x, p + n - 4, 4);
		memcpy(&y, lit + n - 4, 4);
		return ((a | 0x20202020u) == b) & ((x | 0x20202020u) == y);
	}
	uint16_t a, b, x, y;
	memcpy(&a, p, 2);
	memcpy(&b, lit, 2);
	memcpy(&x, p + n - 2, 2);
	memcpy(&y, lit + n - 2, 2);
	return ((a | 0x2020u) == b) & ((x | 0x2020u) == y);
}

enum fp_kind { FP_VIA, FP_ADDR, FP_CONTACT, FP_REPLACES };
/* slots: Via branch, received, rport, maddr; addresses tag, expires;
 * Replaces to-tag, from-tag, early-only */
struct fparams {
	struct pk_str v[4];
	unsigned found;
};

static inline __attribute__((always_inline)) int fp_slot(enum fp_kind k, const char *n, size_t len)
{
	if (k == FP_VIA) {
		switch (len) {
		case 6:
			return lc_eq(n, "branch", 6) ? 0 : -1;
		case 8:
			return lc_eq(n, "received", 8) ? 1 : -1;
		case 5:
			return lc_eq(n, "rport", 5) ? 2 : lc_eq(n, "maddr", 5) ? 3 : -1;
		default:
			return -1;
		}
	}
	if (k == FP_REPLACES) {
		/* names of letters and '-': OR 0x20 leaves '-' alone, and the
		 * only other byte it maps to '-' (CR) is no token char */
		switch (len) {
		case 6:
			return lc_eq(n, "to-tag", 6) ? 0 : -1;
		case 8:
			return lc_eq(n, "from-tag", 8) ? 1 : -1;
		case 10:
			return lc_eq(n, "early", 5) && lc_eq(n + 5, "-only", 5) ? 2 : -1;
		default:
			return -1;
		}
	}
	if (len == 3)
		return lc_eq(n, "tag", 3) ? 0 : -1;
	if (k == FP_CONTACT && len == 7)
		return lc_eq(n, "expires", 7) ? 1 : -1;
	return -1;
}

/*
 * ";name[=value]..." with token names and token values and no white
 * space, up to end (or, in list mode, a ','). Returns where it stopped, or
 * NULL when the list is anything else.
 */
static inline __attribute__((always_inline)) const char *
fast_params(const struct pk_sbm *bm, const char *p, const char *end, bool list, enum fp_kind k,
	    struct fparams *fp)
{
	fp->found = 0;
	/* the slots the callers read whether found or not */
	fp->v[0] = fp->v[1] = PK_STR_NULL;
	while (p < end && *p == ';') {
		const char *ns = p + 1;
		p = pk_sbm_tok_end(bm, ns);
		size_t nlen = (size_t)(p - ns);
		if (nlen == 0)
			return NULL;
		struct pk_str val = PK_STR_NULL;
		if (*p == '=') {
			const char *vs = p + 1;
			p = pk_sbm_tok_end(bm, vs);
			if (p == vs)
				return NULL;
			val = pk_str_make(vs, (size_t)(p - vs));
		}
		int slot = fp_slot(k, ns, nlen);
		/* Replaces takes the first of a repeated parameter, as
		 * pk_sip_param_get does; the others the last */
		if (slot >= 0 && (k != FP_REPLACES || !(fp->found & (1u << slot)))) {
			fp->v[slot] = val;
			fp->found |= 1u << slot;
		}
	}
	if (p == end || (list && *p == ','))
		return p;
	return NULL;
}

/*
 * Via values of the form "SIP/2.0/<transport> <host>[:<port>][;params]",
 * comma-separated. Returns 0 when the whole value was parsed, -1 to run
 * the general parser (m->nvia is restored).
 */
static inline __attribute__((always_inline)) int via_fast(struct scan_ctx *c, const char *p,
							  const char *end, uint8_t hdr)
{
	struct pk_sip_msg *m = c->m;
	const struct pk_sbm *bm = c->bm;
	uint16_t nvia0 = m->nvia;
	uint64_t sip20, fold, w;
	memcpy(&sip20, "sip/2.0/", 8);
	memcpy(&fold, "\x20\x20\x20\0\0\0\0", 8); /* "SIP" in any case */
	for (;;) {
		const char *s = p;
		if (end - p < 8)
			goto slow;
		memcpy(&w, p, 8);
		if ((w | fold) != sip20)
			goto slow;
		const char *ts = p + 8, *te = pk_sbm_tok_end(bm, ts);
		if (te == ts || *te != ' ')
			goto slow;
		const char *hs = te + 1, *t = pk_sbm_tok_end(bm, hs);
		if (t == hs)
			goto slow;
		struct pk_str host = pk_str_make(hs, (size_t)(t - hs));
		uint16_t port = 0;
		if (*t == ':') {
			/* 1 to 5 digits up to the next non-token byte (the
			 * general parser takes the rest) */
			const char *ps = t + 1;
			t = pk_sbm_tok_end(bm, ps);
			if ((size_t)(t - ps) - 1 >= 5)
				goto slow;
			int64_t v = digits8(ps, t);
			if (v <= 0 || v > 65535)
				goto slow;
			port = (uint16_t)v;
		}
		struct fparams fp;
		const char *pe = fast_params(bm, t, end, true, FP_VIA, &fp);
		if (!pe)
			goto slow;
		int32_t rport = -1;
		if (fp.found & 4) {
			rport = 0;
			if (fp.v[2].len) {
				int64_t r = parse_uint_in(m->buf, fp.v[2].p, fp.v[2].p + fp.v[2].len, 65535);
				if (r <= 0)
					goto slow;
				rport = (int32_t)r;
			}
		}
		if (m->nvia < PK_SIP_MAX_VIA) {
			struct pk_sip_via *v = &m->via[m->nvia];
			v->raw = pk_str_make(s, (size_t)(pe - s));
			v->transport = pk_str_make(ts, (size_t)(te - ts));
			v->host = host;
			v->port = port;
			v->hdr = hdr;
			v->branch = fp.v[0];
			v->received = fp.v[1];
			v->rport = rport;
		}
		if (m->nvia < UINT16_MAX)
			m->nvia++;
		if (pe == end)
			return 0;
		p = skip_lws(pe + 1, end);
		if (p == end)
			goto slow;
	}
slow:
	m->nvia = nvia0;
	return -1;
}

/*
 * An address of the form <uri>[;params], "display" <uri>[;params] (no
 * backslash in the display name) or token display <uri>[;params]. Returns
 * where it stopped, or NULL to run the general parser.
 */
static inline __attribute__((always_inline)) const char *addr_fast(struct scan_ctx *c, const char *p, const char *end,
			     struct pk_sip_addr *a, uint8_t hdr, bool list, bool want_expires)
{
	const char *s = p, *lt = p;
	struct pk_str display = PK_STR_NULL;
	if (*p == '"') {
		/* a one-word display name ends where the token run does (a
		 * backslash is no token char); others take two searches. The
		 * run stops at end at the latest, and the byte there (white
		 * space or the CR) is no quote. */
		const char *q = pk_sbm_tok_end(c->bm, p + 1);
		if (*q != '"') {
			q = pk_find_byte_lim(p + 1, end, c->lim, '"');
			if (!q || pk_find_byte_lim(p + 1, q, c->lim, '\\'))
				return NULL;
		}
		display = pk_str_make(p, (size_t)(q + 1 - p));
		lt = q + 1;
		if (lt < end && *lt == ' ')
			lt++;
	} else if (*p != '<') {
		/* a display name of tokens and spaces ("Bob Smith <...>") */
		const char *t = pk_sbm_tok_end(c->bm, p);
		if (t == p)
			return NULL;
		for (;;) {
			while (t < end && *t == ' ')
				t++;
			if (t >= end)
				return NULL;
			if (*t == '<')
				break;
			const char *u = pk_sbm_tok_end(c->bm, t);
			if (u == t)
				return NULL;
			t = u;
		}
		display = pk_str_make(p, (size_t)(rtrim_lws(p, t) - p));
		lt = t;
	}
	if (lt >= end || *lt != '<')
		return NULL;
	const char *us = lt + 1;
	const char *gt = pk_find_byte_lim(us, end, c->lim, '>');
	/* white space (or any control byte: the general parser decides)
	 * around the URI */
	if (!gt || gt == us || (unsigned char)*us <= ' ' || (unsigned char)gt[-1] <= ' ')
		return NULL;
	/* a URI needs a scheme: scheme chars then ':' ("sip:" in one
	 * compare; the '>' is there, so 4 bytes can be read) */
	if (!sip_then(us, ':')) {
		const char *k = us;
		while (k < gt && pk_sip_is_scheme(*k))
			k++;
		if (k == us || k == gt || *k != ':')
			return NULL;
	}
	struct fparams fp;
	const char *pe = fast_params(c->bm, gt + 1, end, list, want_expires ? FP_CONTACT : FP_ADDR, &fp);
	if (!pe)
		return NULL;
	a->raw = pk_str_make(s, (size_t)(pe - s));
	a->display = display;
	a->uri = pk_str_make(us, (size_t)(gt - us));
	a->params = pk_str_make(gt + 1, (size_t)(pe - (gt + 1)));
	a->tag = fp.v[0];
	a->expires = -1;
	if (want_expires && (fp.found & 2)) {
		/* a bare "expires" has no value (and a NULL view) */
		int64_t e = fp.v[1].len ? parse_uint_in(c->m->buf, fp.v[1].p, fp.v[1].p + fp.v[1].len,
							INT64_MAX / 16)
					: -1;
		a->expires = e < 0 ? 3600 : (e > UINT32_MAX ? UINT32_MAX : e);
	}
	a->hdr = hdr;
	return pe;
}

/*
 * Replaces: callid;to-tag=a;from-tag=b[;early-only] with token parameters
 * (RFC 3891). Returns 0 when parsed as pk_sip_replaces_parse would, -1 to
 * run it.
 */
static int replaces_fast(struct scan_ctx *c, const char *v, const char *ve,
			 struct pk_sip_replaces *r)
{
	const char *semi = pk_find_byte_lim(v, ve, c->lim, ';');
	if (!semi || semi == v || pk_find_space_or_ctl_lim(v, semi, c->lim))
		return -1;
	struct fparams fp;
	if (fast_params(c->bm, semi, ve, false, FP_REPLACES, &fp) != ve || (fp.found & 3) != 3)
		return -1;
	r->call_id = pk_str_make(v, (size_t)(semi - v));
	r->to_tag = fp.v[0];
	r->from_tag = fp.v[1];
	r->early_only = (fp.found & 4) != 0;
	return 0;
}

/* --- per-header parsers ---------------------------------------------- */

#define BAD(ctx, text) ((ctx)->why = (text), -1)

/* "SIP" SLASH "2.0" SLASH transport, with the LWS RFC 3261 allows around
 * each slash (RFC 4475 wsinv). Returns the end of the transport token. */
static const char *via_protocol(const char *p, const char *end, struct pk_str *transport)
{
	const char *t;
	if (end - p >= 8 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
	    memcmp(p + 3, "/2.0/", 5) == 0) {
		t = p + 8; /* the form every phone sends */
	} else {
		t = p;
		while (t < end && pk_sip_is_token(*t))
			t++;
		if (t - p != 3 || !name_caseeq(p, "sip", 3))
			return NULL;
		t = skip_lws(t, end);
		if (t >= end || *t != '/')
			return NULL;
		t = skip_lws(t + 1, end);
		const char *vs = t;
		while (t < end && pk_sip_is_token(*t))
			t++;
		if (t - vs != 3 || memcmp(vs, "2.0", 3) != 0)
			return NULL;
		t = skip_lws(t, end);
		if (t >= end || *t != '/')
			return NULL;
		t = skip_lws(t + 1, end);
	}
	const char *ts = t;
	while (t < end && pk_sip_is_token(*t))
		t++;
	if (t == ts)
		return NULL;
	*transport = pk_str_make(ts, (size_t)(t - ts));
	return t;
}

static __attribute__((noinline)) int parse_via_general(struct scan_ctx *c, const char *p,
							  const char *end, uint8_t hdr)
{
	struct pk_sip_msg *m = c->m;
	for (;;) {
		p = skip_lws(p, end);
		const char *s = p;
		struct pk_str transport;
		const char *t = via_protocol(p, end, &transport);
		if (!t)
			return BAD(c, "bad Via protocol");
		const char *hs = skip_lws(t, end);
		if (hs == t)
			return BAD(c, "Via without sent-by");
		t = hs;
		if (t < end && *t == '[') {
			const char *q = pk_find_byte(t, end, ']');
			if (!q)
				return BAD(c, "bad IPv6 reference in Via");
			t = q + 1;
		} else {
			t = pk_find_set(t, end, c->lim, &host_end);
		}
		if (t == hs)
			return BAD(c, "Via without sent-by");
		struct pk_str host = pk_str_make(hs, (size_t)(t - hs));
		uint16_t port = 0;
		t = skip_lws(t, end);
		if (t < end && *t == ':') {
			t = skip_lws(t + 1, end);
			unsigned v = 0;
			const char *ps = t;
			while (t < end && (unsigned)(*t - '0') <= 9 && t - ps < 6)
				v = v * 10 + (unsigned)(*t++ - '0');
			if (t == ps || v == 0 || v > 65535)
				return BAD(c, "bad Via port");
			port = (uint16_t)v;
		}
		struct want w[4] = { { "branch", 6, false, PK_STR_NULL },
				     { "received", 8, false, PK_STR_NULL },
				     { "rport", 5, false, PK_STR_NULL },
				     { "maddr", 5, false, PK_STR_NULL } };
		const char *pe = scan_params(t, end, c->lim, true, w, 4);
		if (!pe)
			return BAD(c, "bad Via parameters");
		int32_t rport = -1;
		if (w[2].found) {
			rport = 0;
			if (w[2].val.len) {
				int64_t r = parse_uint(w[2].val, 65535);
				if (r <= 0)
					return BAD(c, "bad Via rport");
				rport = (int32_t)r;
			}
		}
		if (m->nvia < PK_SIP_MAX_VIA) {
			struct pk_sip_via *v = &m->via[m->nvia];
			v->raw = pk_str_make(s, (size_t)(rtrim_lws(s, pe) - s));
			v->transport = transport;
			v->host = host;
			v->port = port;
			v->hdr = hdr;
			v->branch = w[0].val;
			v->received = w[1].val;
			v->rport = rport;
		}
		if (m->nvia < UINT16_MAX)
			m->nvia++;
		if (pe == end)
			return 0;
		p = pe + 1; /* past the ',' */
		if (skip_lws(p, end) == end)
			return BAD(c, "empty Via value");
	}
}

/* The fast path in line, the general parser out of line. */
static inline __attribute__((always_inline)) int parse_via(struct scan_ctx *c, const char *p,
							   const char *end, uint8_t hdr)
{
	if (via_fast(c, p, end, hdr) == 0)
		return 0;
	return parse_via_general(c, p, end, hdr);
}

/*
 * One name-addr or addr-spec with its header parameters, from p; in list
 * mode it ends at the ',' that ends the element. In the addr-spec form (no
 * <>) the URI ends at the first ';' (or ',') and may not hold '?' (RFC 3261
 * §20.10). A comma in an unquoted display name is tolerated outside lists
 * (RFC 4475 §3.1.2.15 allows leniency). Returns where it stopped or NULL.
 */
static __attribute__((noinline)) const char *
parse_addr_general(struct scan_ctx *c, const char *p, const char *end, struct pk_sip_addr *a,
		   uint8_t hdr, bool list, bool want_expires, bool need_brackets)
{
	const char *s = p;
	a->display = PK_STR_NULL;
	a->hdr = hdr;
	const char *lt;
	if (*p == '<') {
		lt = p;
	} else if (*p == '"') {
		const char *q = quoted_end(p, end);
		if (!q)
			return c->why = "unbalanced quote", NULL;
		lt = skip_lws(q, end);
		if (lt == end || *lt != '<')
			return c->why = "display name without <URI>", NULL;
		a->display = pk_str_make(p, (size_t)(q - p));
	} else {
		/* token display name, or an addr-spec: which comes first, a '<'
		 * or the end of an addr-spec (';', a list ',', a quote)? */
		const char *q = p;
		while (q < end && *q != '<' && *q != ';' && *q != '"' && !(list && *q == ','))
			q++;
		lt = NULL;
		if (q < end && *q == '<') {
			lt = q;
			a->display = pk_str_make(p, (size_t)(rtrim_lws(p, lt) - p));
		}
	}
	const char *after;
	if (lt) {
		const char *gt = pk_find_byte_lim(lt, end, c->lim, '>');
		if (!gt)
			return c->why = "missing '>'", NULL;
		a->uri = trimmed(lt + 1, gt);
		after = gt + 1;
	} else {
		/* Route and Record-Route entries are name-addrs (RFC 3261
		 * §20.30, §20.34): without <> their ";lr" would be lost */
		if (need_brackets)
			return c->why = "route entry without <>", NULL;
		const char *ue = p;
		while (ue < end && *ue != ';' && !(list && *ue == ',')) {
			if (*ue == '?' || *ue == ' ' || *ue == '\t' || *ue == '\r' || *ue == '\n' || *ue == '"')
				break;
			ue++;
		}
		a->uri = pk_str_make(p, (size_t)(ue - p));
		after = skip_lws(ue, end);
		if (after < end && *after != ';' && !(list && *after == ','))
			return c->why = "bad URI in address", NULL;
	}
	{
		/* A URI needs a scheme: scheme chars then ':' */
		uint32_t i = 0;
		while (i < a->uri.len && pk_sip_is_scheme(a->uri.p[i]))
			i++;
		if (i == 0 || i >= a->uri.len || a->uri.p[i] != ':')
			return c->why = "URI without scheme", NULL;
	}
	struct want w[2] = { { "tag", 3, false, PK_STR_NULL }, { "expires", 7, false, PK_STR_NULL } };
	after = skip_lws(after, end);
	const char *pe = scan_params(after, end, c->lim, list, w, want_expires ? 2 : 1);
	if (!pe)
		return c->why = "bad header parameters", NULL;
	a->params = pk_str_make(after, (size_t)(rtrim_lws(after, pe) - after));
	a->raw = pk_str_make(s, (size_t)(rtrim_lws(s, pe) - s));
	a->tag = w[0].val;
	a->expires = -1;
	if (want_expires && w[1].found) {
		int64_t e = parse_uint(w[1].val, INT64_MAX / 16);
		/* RFC 3261 §10.3: huge values are capped, not fatal */
		a->expires = e < 0 ? 3600 : (e > UINT32_MAX ? UINT32_MAX : e);
	}
	return pe;
}

/* The fast path in line, the general parser out of line (its frame is
 * large). */
static inline __attribute__((always_inline)) const char *
parse_addr(struct scan_ctx *c, const char *p, const char *end, struct pk_sip_addr *a, uint8_t hdr,
	   bool list, bool want_expires, bool need_brackets)
{
	/* a header's value comes trimmed; a list element after a ',' not */
	if (list && p < end && pk_sip_is_lws(*p))
		p = skip_lws(p, end);
	if (p == end)
		return c->why = "empty address", NULL;
	const char *f = addr_fast(c, p, end, a, hdr, list, want_expires);
	if (f)
		return f;
	return parse_addr_general(c, p, end, a, hdr, list, want_expires, need_brackets);
}

/* A comma-separated list of addresses (Contact, Route, Record-Route). */
static inline __attribute__((always_inline)) int parse_addr_list(struct scan_ctx *c, const char *p, const char *end, uint8_t hdr,
			   struct pk_sip_addr *arr, unsigned max, uint16_t *n, bool is_contact)
{
	for (;;) {
		struct pk_sip_addr tmp;
		struct pk_sip_addr *a = *n < max ? &arr[*n] : &tmp;
		const char *e = parse_addr(c, p, end, a, hdr, true, is_contact, !is_contact);
		if (!e)
			return -1;
		if (*n < UINT16_MAX)
			(*n)++;
		if (e == end)
			return 0;
		p = e + 1;
	}
}

static uint32_t option_bit(const char *p, size_t len)
{
	static const struct pk_str names[PK_SIP_OPT_COUNT] = {
#define PK_O_NAME(id, s) [PK_SIP_OPT_##id] = { s, sizeof(s) - 1 },
		PK_SIP_FOREACH_OPTION(PK_O_NAME)
#undef PK_O_NAME
	};
	for (unsigned o = 0; o < PK_SIP_OPT_COUNT; o++)
		if (names[o].len == len && (p[0] | 0x20) == names[o].p[0] &&
		    name_caseeq(p, names[o].p, len))
			return 1u << o;
	return PK_SIP_OPT_UNKNOWN;
}

uint32_t pk_sip_options_parse(struct pk_str list)
{
	if (list.len == 0)
		return 0;
	uint32_t mask = 0;
	const char *p = list.p, *end = list.p + list.len;
	while (p < end) {
		p = skip_lws(p, end);
		const char *s = p;
		while (p < end && pk_sip_is_token(*p))
			p++;
		if (p > s)
			mask |= option_bit(s, (size_t)(p - s));
		p = skip_lws(p, end);
		if (p < end && *p != ',') {
			mask |= PK_SIP_OPT_UNKNOWN; /* not a token list */
			while (p < end && *p != ',')
				p++;
		}
		if (p < end)
			p++;
	}
	return mask;
}

int pk_sip_replaces_parse(struct pk_str value, struct pk_sip_replaces *r)
{
	if (value.len == 0)
		return -EINVAL;
	const char *p = value.p, *end = value.p + value.len;
	p = skip_lws(p, end);
	const char *s = p;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t')
		p++;
	r->call_id = pk_str_make(s, (size_t)(p - s));
	struct pk_str params = trimmed(p, end);
	r->to_tag = PK_STR_NULL;
	r->from_tag = PK_STR_NULL;
	bool has_to = pk_sip_param_get(params, "to-tag", &r->to_tag);
	bool has_from = pk_sip_param_get(params, "from-tag", &r->from_tag);
	r->early_only = pk_sip_param_get(params, "early-only", NULL);
	if (r->call_id.len == 0 || !has_to || !has_from ||
	    !scan_params(params.p, params.p + params.len, params.p + params.len, false, NULL, 0))
		return -EINVAL;
	return 0;
}

/* --- the start line -------------------------------------------------- */

static enum pk_sip_verdict reject(struct pk_sip_msg *m, uint16_t status, const char *why)
{
	m->status = status;
	m->why = why;
	return PK_SIP_REJECT;
}

static enum pk_sip_verdict drop(struct pk_sip_msg *m, const char *why)
{
	m->status = 0;
	m->why = why;
	return PK_SIP_DROP;
}

static enum pk_sip_verdict scan_start_line(struct pk_sip_msg *m, const struct pk_sbm *bm,
					  const char *p, const char *eol)
{
	/* the version is case-insensitive (RFC 3261 §7.1); a method token
	 * cannot hold '/', so "SIP/" starts a status line */
	bool sipv = eol - p >= 4 && sip_then(p, '/');
	if (sipv && eol - p >= 8 && memcmp(p + 4, "2.0 ", 4) == 0) {
		/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
		m->is_request = false;
		const char *q = p + 8;
		if (eol - q < 3 || (unsigned)(q[0] - '1') > 5 || (unsigned)(q[1] - '0') > 9 ||
		    (unsigned)(q[2] - '0') > 9)
			return drop(m, "bad status code");
		m->code = (uint16_t)((q[0] - '0') * 100 + (q[1] - '0') * 10 + (q[2] - '0'));
		q += 3;
		if (q != eol && *q != ' ')
			return drop(m, "bad status code");
		if (q < eol)
			q++;
		m->reason = pk_str_make(q, (size_t)(eol - q));
		return PK_SIP_OK;
	}
	if (sipv)
		return drop(m, "unsupported SIP version in response");

	/* Request-Line = Method SP Request-URI SP SIP-Version, single spaces */
	m->is_request = true;
	/* the CR at eol is no token char: the token ends at eol at most */
	const char *q = pk_sbm_tok_end(bm, p);
	if (q == p || q == eol || *q != ' ')
		return reject(m, 400, "malformed request line");
	m->method_tok = pk_str_make(p, (size_t)(q - p));
	m->method = pk_sip_method_lookup(p, (size_t)(q - p));
	const char *us = ++q;
	q = pk_find_space_or_ctl_lim(us, eol, bm->buf + bm->len);
	if (!q || q == us || *q != ' ')
		return reject(m, 400, "malformed request line");
	m->ruri = pk_str_make(us, (size_t)(q - us));
	const char *vs = q + 1;
	if (eol - vs == 7 && sip20_cr(vs)) {
		/* fine */
	} else if (eol - vs >= 4 && sip_then(vs, '/') &&
		   memchr(vs, ' ', (size_t)(eol - vs)) == NULL) {
		return reject(m, 505, "SIP version not supported");
	} else {
		return reject(m, 400, "malformed request line");
	}
	/* The Request-URI is an absoluteURI with no whitespace or brackets
	 * ("sip:" in one compare: the URI is followed by " SIP/2.0"). */
	if (m->ruri.len >= 4 && sip_then(m->ruri.p, ':'))
		return PK_SIP_OK;
	uint32_t i = 0;
	while (i < m->ruri.len && pk_sip_is_scheme(m->ruri.p[i]))
		i++;
	if (i == 0 || i >= m->ruri.len || m->ruri.p[i] != ':')
		return reject(m, 400, "bad Request-URI");
	return PK_SIP_OK;
}

/*
 * Option tags in the form phones send ("replaces, timer": tokens, a comma
 * and spaces between them): the mask pk_sip_options_parse would give, or
 * -1 to run it. The tags we know have the lengths 4, 5, 6, 8, 10 and 13.
 */
static inline uint32_t option_bit_fast(const char *p, size_t len)
{
	/* OR 0x20 folds a token byte onto a lower-case letter, a digit or
	 * '-' only when it is that letter (upper or lower case), digit or
	 * '-' */
	switch (len) {
	case 4:
		return lc_eq(p, "path", 4) ? PK_SIP_OPT_BIT(PATH)
		       : lc_eq(p, "gruu", 4) ? PK_SIP_OPT_BIT(GRUU)
					     : PK_SIP_OPT_UNKNOWN;
	case 5:
		return lc_eq(p, "timer", 5) ? PK_SIP_OPT_BIT(TIMER) : PK_SIP_OPT_UNKNOWN;
	case 6:
		return lc_eq(p, "100rel", 6) ? PK_SIP_OPT_BIT(100REL) : PK_SIP_OPT_UNKNOWN;
	case 8:
		return lc_eq(p, "replaces", 8) ? PK_SIP_OPT_BIT(REPLACES)
		       : lc_eq(p, "outbound", 8) ? PK_SIP_OPT_BIT(OUTBOUND)
						 : PK_SIP_OPT_UNKNOWN;
	case 10:
	case 13:
		return option_bit(p, len);
	default:
		return PK_SIP_OPT_UNKNOWN;
	}
}

static int64_t options_fast(const struct pk_sbm *bm, const char *p, const char *end)
{
	uint32_t mask = 0;
	if (p == end)
		return 0;
	for (;;) {
		/* the byte at end is white space or the CR: no token char */
		const char *t = pk_sbm_tok_end(bm, p);
		if (t == p)
			return -1;
		mask |= option_bit_fast(p, (size_t)(t - p));
		if (t == end)
			return mask;
		if (*t != ',')
			return -1;
		p = t + 1;
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			return -1;
	}
}

static inline uint32_t options_mask(const struct scan_ctx *c, const char *v, const char *ve)
{
	int64_t r = options_fast(c->bm, v, ve);
	return r >= 0 ? (uint32_t)r : pk_sip_options_parse(pk_str_make(v, (size_t)(ve - v)));
}

/* --- the whole message ---------------------------------------------- */

/* Always in line, in the header loop: GCC's own choice flips with small
 * edits elsewhere in this file, and out of line it costs about 300
 * instructions a message (a call and the loop's state reloaded per
 * header). */
static inline __attribute__((always_inline)) int
scan_header_value(struct scan_ctx *c, unsigned id, const char *v, const char *ve, uint8_t hi)
{
	struct pk_sip_msg *m = c->m;
	struct pk_str val = pk_str_make(v, (size_t)(ve - v));
	int64_t n;
	switch (id) {
	case PK_HDR_VIA:
		return parse_via(c, v, ve, hi);
	case PK_HDR_FROM:
		return parse_addr(c, v, ve, &m->from, hi, false, false, false) ? 0 : -1;
	case PK_HDR_TO:
		return parse_addr(c, v, ve, &m->to, hi, false, false, false) ? 0 : -1;
	case PK_HDR_CALL_ID:
		/* the value is trimmed: any white space left is inside it */
		if (pk_find_space_or_ctl_lim(v, ve, c->lim))
			return BAD(c, "bad Call-ID");
		if (val.len == 0)
			return BAD(c, "empty Call-ID");
		m->call_id = val;
		return 0;
	case PK_HDR_CSEQ: {
		/* one pass: digits (a value past 2^31 - 1 stays past it), then
		 * the method token, whose end the bitmap gives (the byte at ve
		 * is white space, never a token char) */
		const char *q = pk_sbm_tok_end(c->bm, v);
		int64_t num8 = (size_t)(q - v) - 1 < 8 && q - m->buf >= 8 ? digits8(v, q) : -1;
		uint64_t num = (uint64_t)num8;
		if (num8 < 0) {
			/* not 1 to 8 digits then a non-token byte: a byte loop */
			q = v;
			num = 0;
			for (; q < ve && (unsigned)(*q - '0') <= 9; q++)
				if (num <= INT32_MAX)
					num = num * 10 + (unsigned)(*q - '0');
		}
		if (q == v || num > INT32_MAX)
			return BAD(c, "bad CSeq number");
		m->cseq = (uint32_t)num;
		/* usually one space: the byte after it is then no white
		 * space, and before ve (ve's own byte is white space or the
		 * CR) */
		const char *ms = *q == ' ' && (unsigned char)q[1] > ' ' ? q + 1 : skip_lws(q, ve);
		if (ms == q)
			return BAD(c, "bad CSeq");
		q = pk_sbm_tok_end(c->bm, ms);
		if (q == ms || q != ve)
			return BAD(c, "bad CSeq method");
		m->cseq_method_tok = pk_str_make(ms, (size_t)(q - ms));
		m->cseq_method = pk_sip_method_lookup(ms, (size_t)(q - ms));
		return 0;
	}
	case PK_HDR_CONTACT:
		if (val.len == 1 && v[0] == '*') {
			m->contact_star = true;
			return 0;
		}
		{
			uint16_t nc = m->ncontact;
			int r = parse_addr_list(c, v, ve, hi, m->contact, PK_SIP_MAX_CONTACT, &nc, true);
			m->ncontact = nc;
			return r;
		}
	case PK_HDR_ROUTE:
		return parse_addr_list(c, v, ve, hi, m->route, PK_SIP_MAX_ROUTE, &m->nroute, false);
	case PK_HDR_RECORD_ROUTE:
		return parse_addr_list(c, v, ve, hi, m->rr, PK_SIP_MAX_ROUTE, &m->nrr, false);
	case PK_HDR_MAX_FORWARDS:
		n = parse_uint_in(m->buf, v, ve, 255);
		if (n < 0)
			return BAD(c, "bad Max-Forwards");
		m->max_forwards = (int32_t)n;
		return 0;
	case PK_HDR_CONTENT_LENGTH:
		n = parse_uint_in(m->buf, v, ve, PK_SIP_MAX_MSG);
		if (n < 0)
			return BAD(c, "bad Content-Length");
		m->content_length = (int32_t)n;
		return 0;
	case PK_HDR_EXPIRES:
		n = parse_uint_in(m->buf, v, ve, UINT32_MAX);
		if (n < 0)
			return BAD(c, "bad Expires");
		m->expires = n;
		return 0;
	case PK_HDR_CONTENT_TYPE:
		m->content_type = val;
		return 0;
	case PK_HDR_SUPPORTED:
		m->supported |= options_mask(c, v, ve);
		return 0;
	case PK_HDR_REQUIRE:
		m->require |= options_mask(c, v, ve);
		return 0;
	case PK_HDR_PROXY_REQUIRE:
		m->proxy_require |= options_mask(c, v, ve);
		return 0;
	case PK_HDR_REPLACES:
		if (replaces_fast(c, v, ve, &m->replaces) < 0 &&
		    pk_sip_replaces_parse(val, &m->replaces) < 0)
			return BAD(c, "bad Replaces");
		m->has_replaces = true;
		return 0;
	default:
		return 0;
	}
}

static void msg_reset(struct pk_sip_msg *m, const char *buf)
{
	/* Only the fields that are read before being written are reset: the
	 * big arrays are filled as they are counted. */
	m->buf = buf;
	m->len = 0;
	m->status = 0;
	m->why = "";
	m->is_request = false;
	m->method = PK_SIP_METHOD_UNKNOWN;
	m->method_tok = PK_STR_NULL;
	m->ruri = PK_STR_NULL;
	m->code = 0;
	m->reason = PK_STR_NULL;
	m->nhdrs = 0;
	memset(m->first, 0xff, sizeof(m->first));
	memset(m->count, 0, sizeof(m->count));
	m->nvia = 0;
	/* From and To are mandatory: an accepted message has them filled in
	 * whole; for a rejected one only these can be looked at */
	m->from.raw = m->from.uri = m->from.tag = PK_STR_NULL;
	m->to.raw = m->to.uri = m->to.tag = PK_STR_NULL;
	m->call_id = PK_STR_NULL;
	m->call_key_hash = 0;
	m->cseq = 0;
	m->cseq_method = PK_SIP_METHOD_UNKNOWN;
	m->cseq_method_tok = PK_STR_NULL;
	m->ncontact = 0;
	m->contact_star = false;
	m->nroute = 0;
	m->nrr = 0;
	m->max_forwards = -1;
	m->content_length = -1;
	m->expires = -1;
	m->content_type = PK_STR_NULL;
	m->supported = m->require = m->proxy_require = 0;
	m->has_replaces = false;
	m->body = PK_STR_NULL;
}

/*
 * The verdict for a malformed message: a response is dropped; a request is
 * answered (the response builder copies its Via lines as written, so even
 * an unparseable Via can be answered), unless it has no Via line at all.
 */
static enum pk_sip_verdict bad(struct pk_sip_msg *m, uint16_t status, const char *why)
{
	if (!m->is_request || m->first[PK_HDR_VIA] == 0xff)
		return drop(m, why);
	return reject(m, status, why);
}

/*
 * Find the end of one header line starting at p, continuation lines
 * included: the LF of the last CRLF. NULL if truncated; *bare_lf is set
 * when a line ends in a lone LF.
 */
static inline const char *line_end(struct pk_sbm *bm, const char *p, const char *end,
				   bool *bare_lf)
{
	const char *e = pk_sbm_lf_next(bm, p);
	if (!e)
		return NULL;
	for (;;) {
		if (e[-1] != '\r') {
			*bare_lf = true;
			return NULL;
		}
		if (e + 1 >= end || (e[1] != ' ' && e[1] != '\t'))
			return e;
		const char *e2 = pk_sbm_lf_next(bm, e + 1);
		if (!e2)
			return NULL;
		e = e2;
	}
}

/*
 * The one pass over the header block, from the line after the start line
 * to the empty line: per line, the line end and the name end from the
 * bitmaps, the name's id, the header table entry, and -- for the headers
 * the engine needs -- the value, parsed at once from the line. Returns
 * false for a bare-LF line end (m->why says so).
 *
 * The first error in line order decides the answer: a line that is no
 * header, a repeated single-valued header and a bad value are checked in
 * that order per line, and only the first error of the message is kept.
 */
struct table_scan {
	const char *hdr_end; /* after the empty line, NULL if none */
	const char *err_why; /* first error, NULL if none */
};

static inline __attribute__((always_inline)) bool
build_table(struct scan_ctx *c, struct pk_sbm *bm, const char *start, struct table_scan *t)
{
	struct pk_sip_msg *m = c->m;
	const char *buf = m->buf, *end = bm->buf + bm->len;
	const char *hdr_end = NULL;
	unsigned nh = 0;
	const char *err_why = NULL;
#define LINE_FAIL(w)                     \
	do {                             \
		if (!err_why)            \
			err_why = (w);   \
	} while (0)
	/* offsets from buf: the bitmaps and the table are indexed by them */
	const size_t len = bm->len;
	const uintptr_t last16 = (uintptr_t)end - 16;
	size_t o = (size_t)(start - buf);
	while (o < len) {
		/* the line end and the name end, from the same bitmap words */
		size_t w = o >> 6;
		unsigned sh = (unsigned)(o & 63);
		if (w >= bm->nmapped)
			pk_sbm_map(bm, w);
		uint64_t lb = bm->lf[w] >> sh;
		size_t eo; /* the LF */
		if (lb) {
			eo = o + (size_t)__builtin_ctzll(lb);
		} else if (bm->lf[w + 1]) {
			/* the usual other case: the LF is in the next word
			 * (lf[nmapped] is 0: then the general search maps) */
			eo = ((w + 1) << 6) + (size_t)__builtin_ctzll(bm->lf[w + 1]);
		} else {
			const char *e = pk_sbm_lf_next(bm, buf + ((w + 1) << 6));
			if (!e)
				break; /* truncated: no end of headers */
			eo = (size_t)(e - buf);
		}
		if (buf[eo - 1] != '\r') {
			m->why = "bare LF line end";
			return false;
		}
		if (eo == o + 1) { /* CRLF: the empty line */
			hdr_end = buf + eo + 1;
			break;
		}
		/* SP and HT are below 0x21, and so is the CR of the empty
		 * line: one compare for the usual next line */
		if (__builtin_expect(eo + 1 < len && (unsigned char)buf[eo + 1] <= ' ', 0) &&
		    (buf[eo + 1] == ' ' || buf[eo + 1] == '\t')) {
			bool bare_lf = false;
			const char *e = line_end(bm, buf + o, end, &bare_lf);
			if (!e) {
				if (bare_lf) {
					m->why = "bare LF line end";
					return false;
				}
				break;
			}
			eo = (size_t)(e - buf);
		}
		const char *p = buf + o, *le = buf + eo - 1; /* the CR */
		/* the name is the token run at the start of the line; usually
		 * the colon follows it at once */
		uint64_t nb = bm->nt[w] >> sh;
		const char *n = nb ? p + __builtin_ctzll(nb) : pk_sbm_tok_end(bm, p);
		const char *q = n;
		if (__builtin_expect(*n != ':' || n == p || nh >= PK_SIP_MAX_HDRS, 0)) {
			const char *ne = n;
			if (*n != ':') {
				q = n < le ? pk_find_byte_lim(n, le, end, ':') : NULL;
				ne = q ? q : p;
				while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
					ne--;
			}
			const char *why = NULL;
			if (!q || ne == p)
				why = "bad header line";
			else if (nh >= PK_SIP_MAX_HDRS)
				why = "too many header lines";
			else if (n < ne) /* a byte that is no token char in the name */
				why = "bad header name";
			if (why) {
				LINE_FAIL(why);
				o = eo + 1;
				continue;
			}
		}
		unsigned id = hdr_lookup_lim(p, (size_t)(n - p), last16);
		/* white space is at most 0x20: one compare each for the usual
		 * "Name: value" (the CR at le ends any run of it) */
		const char *val = q + 1;
		if (*val == ' ')
			val++;
		if (__builtin_expect((unsigned char)*val <= ' ', 0))
			val = skip_lws(val, le);
		const char *ve = le;
		if (__builtin_expect((unsigned char)ve[-1] <= ' ', 0))
			ve = rtrim_lws(val, ve);
		struct pk_sip_hdr *h = &m->hdrs[nh];
		h->off = (uint16_t)o;
		h->len = (uint16_t)(eo + 1 - o);
		h->voff = (uint16_t)(val - buf);
		h->vlen = (uint16_t)(ve - val);
		h->id = (uint8_t)id;
		if (id != PK_HDR_OTHER) {
			/* at most PK_SIP_MAX_HDRS lines are counted: no
			 * saturation needed */
			if (m->count[id]++ == 0)
				m->first[id] = (uint8_t)nh;
			else if (hdr_defs[id].single)
				LINE_FAIL("repeated single-valued header");
			if (scan_header_value(c, id, val, ve, (uint8_t)nh) < 0)
				LINE_FAIL(c->why ? c->why : "bad header value");
		}
		nh++;
		o = eo + 1;
	}
	m->nhdrs = (uint16_t)nh;
	t->hdr_end = hdr_end;
	t->err_why = err_why;
	return true;
#undef LINE_FAIL
}

enum pk_sip_verdict pk_sip_scan(const char *buf, size_t len, struct pk_sip_msg *m)
{
	msg_reset(m, buf);
	if (len > PK_SIP_MAX_MSG)
		return drop(m, "message too large");
	const char *end = buf + len;
	struct pk_sbm bm;
	pk_sbm_init(&bm, buf, len);
	if (len)
		pk_sbm_map_in(&bm, 0);
	const char *nl = pk_sbm_lf_next(&bm, buf);
	if (!nl)
		return drop(m, "no line end");
	if (nl == buf || nl[-1] != '\r') {
		m->why = "bare LF line end";
		return PK_SIP_SLOW;
	}
	enum pk_sip_verdict v = scan_start_line(m, &bm, buf, nl - 1);
	if (v == PK_SIP_DROP)
		return v;

	/*
	 * The first error found decides the answer, but the scan goes on to
	 * the end of the headers so that the answer has every Via, From, To,
	 * Call-ID and CSeq line it must echo (RFC 3261 §8.2.6).
	 */
	uint16_t pending = v == PK_SIP_REJECT ? m->status : 0;
	const char *pending_why = m->why;
#define FAIL(st, w)                          \
	do {                                 \
		if (!pending) {              \
			pending = (st);      \
			pending_why = (w);   \
		}                            \
	} while (0)

	struct scan_ctx c = { m, NULL, end, &bm };
	struct table_scan ts;
	if (!build_table(&c, &bm, nl + 1, &ts))
		return PK_SIP_SLOW;
	const char *hdr_end = ts.hdr_end;
	if (ts.err_why)
		FAIL(400, ts.err_why);
	if (!hdr_end)
		FAIL(400, "no end of headers");

	/* Mandatory headers (RFC 3261 §8.1.1; Max-Forwards is optional for RFC
	 * 2543 peers, RFC 4475 §3.4.1). */
	_Static_assert(PK_HDR_VIA == 1 && PK_HDR_FROM == 2 && PK_HDR_TO == 3 &&
			       PK_HDR_CALL_ID == 4 && PK_HDR_CSEQ == 5,
		       "the mandatory ids are bytes 1-5 of first[]");
	uint64_t fw;
	memcpy(&fw, m->first, 8);
	/* one word for the usual case: is any of bytes 1-5 0xff? (byte 0,
	 * PK_HDR_OTHER, is set so that the zero-byte test borrows from no
	 * byte below them) */
	fw = ~fw | 0xff;
	if ((fw - 0x0101010101010101ull) & ~fw & 0x0000808080808080ull & ~0xffull) {
		if (m->first[PK_HDR_VIA] == 0xff)
			FAIL(400, "missing Via");
		if (m->first[PK_HDR_FROM] == 0xff)
			FAIL(400, "missing From");
		if (m->first[PK_HDR_TO] == 0xff)
			FAIL(400, "missing To");
		if (m->first[PK_HDR_CALL_ID] == 0xff)
			FAIL(400, "missing Call-ID");
		if (m->first[PK_HDR_CSEQ] == 0xff)
			FAIL(400, "missing CSeq");
	}
	/* the same known method is the same token (methods are matched
	 * exactly); otherwise compare the tokens */
	if (m->is_request && !pending &&
	    (m->method != m->cseq_method || m->method == PK_SIP_METHOD_UNKNOWN) &&
	    !pk_str_eq(m->method_tok, m->cseq_method_tok))
		FAIL(400, "CSeq method does not match");

	/* Body: Content-Length bytes; octets past it are ignored (RFC 3261
	 * §18.3); fewer is an error. Absent Content-Length on a datagram means
	 * the rest of it. */
	if (hdr_end) {
		size_t avail = (size_t)(end - hdr_end);
		size_t blen = avail;
		if (m->content_length >= 0) {
			if ((size_t)m->content_length > avail)
				FAIL(400, "Content-Length larger than message");
			else
				blen = (size_t)m->content_length;
		}
		m->body = pk_str_make(hdr_end, blen);
		m->len = (uint32_t)((hdr_end - buf) + blen);
	} else {
		m->len = (uint32_t)len;
	}

	/* RFC 4475 §3.1.2.11: no headers in a sip/sips Request-URI. The '?'
	 * may stand in the user part, so look after the '@'. The full URI
	 * parse happens when the request is routed (pk_sip_check_request). */
	if (!pending && m->is_request && m->ruri.len >= 4 &&
	    (sip_then(m->ruri.p, ':') || (m->ruri.len >= 5 && name_caseeq(m->ruri.p, "sips:", 5)))) {
		/* usually there is no '?' at all: one search */
		const char *ue = m->ruri.p + m->ruri.len;
		if (pk_find_byte_lim(m->ruri.p + 4, ue, end, '?')) {
			const char *at = pk_find_byte(m->ruri.p, ue, '@');
			const char *hs = at ? at + 1 : m->ruri.p + 4;
			if (pk_find_byte(hs, ue, '?'))
				FAIL(400, "headers in Request-URI");
		}
	}
#undef FAIL
	if (pending)
		return bad(m, pending, pending_why);
	return PK_SIP_OK;
}

/* --- TCP framing ----------------------------------------------------- */

long pk_sip_frame(const char *buf, size_t len, size_t *skip)
{
	size_t s = 0;
	while (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
		s += 2;
	*skip = s;
	if (s)
		return (long)s;
	/* find the end of the headers */
	const char *p = buf, *end = buf + len;
	const char *he = NULL;
	while (p + 3 < end) {
		const char *q = memchr(p, '\r', (size_t)(end - p));
		if (!q || q + 3 >= end)
			break;
		if (q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
			he = q + 4;
			break;
		}
		p = q + 1;
	}
	if (!he)
		return len > PK_SIP_MAX_MSG ? -1 : 0;
	/* Content-Length is mandatory on streams (RFC 3261 §18.3). Header
	 * lines may be folded: a line runs to a CRLF not followed by SP/HT. */
	long cl = -1;
	p = memchr(buf, '\n', (size_t)(he - buf));
	p = p ? p + 1 : he;
	while (p < he) {
		const char *e = memchr(p, '\n', (size_t)(he - p));
		while (e && e + 1 < he && (e[1] == ' ' || e[1] == '\t'))
			e = memchr(e + 1, '\n', (size_t)(he - e - 1));
		if (!e)
			break;
		const char *colon = memchr(p, ':', (size_t)(e - p));
		if (colon) {
			const char *ne = rtrim_lws(p, colon);
			if (hdr_lookup(p, (size_t)(ne - p)) == PK_HDR_CONTENT_LENGTH) {
				const char *v = skip_lws(colon + 1, e);
				const char *ve = rtrim_lws(v, e);
				int64_t n = parse_uint(pk_str_make(v, (size_t)(ve - v)), PK_SIP_MAX_MSG);
				if (n < 0 || cl >= 0)
					return -1;
				cl = (long)n;
			}
		}
		p = e + 1;
	}
	if (cl < 0)
		return -1;
	size_t total = (size_t)(he - buf) + (size_t)cl;
	if (total > PK_SIP_MAX_MSG)
		return -1;
	return total <= len ? (long)total : 0;
}
