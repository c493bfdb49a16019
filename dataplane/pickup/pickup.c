/* SPDX-License-Identifier: MIT */
/*
 * Group Call Pickup on the proxy path (DESIGN.md §1-2; the behaviour is in
 * docs/sip-behaviour.md §4-6, the interface in pickup.h).
 *
 * Call tracking. An INVITE to a user who rings in a pickup group enters
 * the ringing-call table (include/pickup/calltab.h) with what a pickup
 * needs later: the caller's Contact, Record-Route set and source address,
 * the caller's From-tag, the caller and callee AoRs and the callee's ring
 * groups. Its responses (our Via says `pk=t`) make it RINGING (18x with a
 * To-tag) or remove it (final answer); its CANCEL removes it.
 *
 * Pickup. An INVITE whose Request-URI user is the pickup code, a group
 * number or the directed prefix + a user claims the oldest ringing call the
 * picker may take (one CAS in the table: exactly one picker wins), and is
 * forwarded to that call's caller with Replaces naming the early dialog
 * from the caller's point of view (RFC 3891 §3: to-tag = the caller's own
 * From-tag, from-tag = the callee's To-tag). The claim is bound to the
 * picker's transaction key (Call-ID, top Via branch, CSeq number), so a
 * retransmission finds the same call and produces the same bytes. The
 * caller's final answer (our Via says `pk=p`) settles the claim.
 *
 * The recently-picked memory (struct pk_pickup): the caller CANCELs its
 * original INVITE right after accepting the pickup, when the call has
 * usually left the table already (settled by the 2xx). A small shared
 * table of call-key hashes with their time remembers the calls picked up
 * in the last timers.claim_timeout seconds, so that such a CANCEL gets
 * `Reason: SIP;cause=200`. It also remembers the claims that the caller's
 * answer ended, so that a copy of the pickup INVITE that crossed that
 * answer claims nothing new, and, for failure answers, which call each
 * was about, so that the picker's ACK still reaches the caller (a seqlock
 * record per claim). It is lossy by design (a 4-way bucket keeps the four
 * most recent; a record is overwritten by the next one hashing to it),
 * lock-free and allocation-free.
 *
 * Worker code here allocates nothing, takes no lock, makes no syscall:
 * AoRs and keys are built in stack buffers, the table copies what it keeps.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "../sip/copy.h"
#include "../worker.h"
#include "pickup/calltab.h"
#include "pickup/groups.h"
#include "pickup/location.h"
#include "pickup/log.h"
#include "pickup/sip_rewrite.h"

static const char *const pk_pickup_ctr_names[] = {
#define PK_PICKUP_CTR_NAME(id, name) name,
	PK_PICKUP_FOREACH_COUNTER(PK_PICKUP_CTR_NAME)
#undef PK_PICKUP_CTR_NAME
};

const char *pk_pickup_counter_name(enum pk_pickup_counter c)
{
	return (unsigned)c < PK_PICKUP_CTR_COUNT ? pk_pickup_ctr_names[c] : "?";
}

static inline void pu_count(struct pk_worker *w, enum pk_pickup_counter c)
{
	pk_ctr_inc(&w->pickup_ctr[c]);
}

/* Groups a pickup by pickup code may look at (a picker in more groups
 * than this is offered the first ones, by group id). */
#define PU_MAX_GROUPS 64
/* An AoR: user (normalised) @ domain. */
#define PU_AOR_MAX (PK_GROUPS_USER_MAX + 1 + PK_GROUPS_DOMAIN_MAX)

/* ---- the recently-picked memory ---- */

struct pk_pickup_slot {
	_Atomic uint64_t key; /* call-key hash; 0: empty */
	_Atomic uint64_t ns;  /* when it was picked up */
};

/*
 * A claim the caller's failure answer ended, with the key of its call, so
 * that the picker's ACK of that answer can still be sent where the pickup
 * INVITE went (the claim itself is gone). A seqlock per record: the writer
 * makes seq odd, writes, makes it even again; a reader keeps what it read
 * only if seq was even and unchanged around its reads. Every field is an
 * atomic word (relaxed inside the seqlock), so a torn read is detected, not
 * undefined.
 */
#define PU_REC_BYTES 192 /* Call-ID + From-tag of the call; longer: not kept */
#define PU_REC_WORDS (PU_REC_BYTES / 8)

struct pk_pickup_rec {
	_Atomic uint64_t seq;
	_Atomic uint64_t key; /* claim-key hash (pu_key_hash); 0: empty */
	_Atomic uint64_t ns;
	_Atomic uint64_t lens; /* Call-ID length | From-tag length << 16 */
	_Atomic uint64_t w[PU_REC_WORDS];
};

struct pk_pickup {
	uint32_t mask; /* slots - 1 (both tables) */
	/* Written by the control thread (pk_pickup_set_window, `set
	 * claim_timeout`), read by workers: relaxed both sides, a value used
	 * on its own that publishes nothing. */
	_Atomic uint64_t window_ns;
	struct pk_pickup_rec *recs;
	struct pk_pickup_slot slots[];
};

#define PU_WAYS 4

static inline uint64_t pu_window(const struct pk_pickup *p)
{
	/* Relaxed: see window_ns. */
	return atomic_load_explicit((_Atomic uint64_t *)&p->window_ns, memory_order_relaxed);
}

void pk_pickup_set_window(struct pk_pickup *p, uint64_t window_ns)
{
	/* Relaxed: see window_ns. */
	atomic_store_explicit(&p->window_ns, window_ns, memory_order_relaxed);
}

struct pk_pickup *pk_pickup_create(uint32_t slots, uint64_t window_ns)
{
	uint32_t n = 64;
	struct pk_pickup *p;

	while (n < slots && n < (1u << 24))
		n <<= 1;
	p = calloc(1, sizeof(*p) + n * sizeof(p->slots[0]));
	if (p == NULL)
		return NULL;
	p->recs = calloc(n, sizeof(p->recs[0]));
	if (p->recs == NULL) {
		free(p);
		return NULL;
	}
	p->mask = n - 1;
	atomic_init(&p->window_ns, window_ns);
	for (uint32_t i = 0; i < n; i++) {
		atomic_init(&p->slots[i].key, 0);
		atomic_init(&p->slots[i].ns, 0);
		atomic_init(&p->recs[i].seq, 0);
		atomic_init(&p->recs[i].key, 0);
	}
	return p;
}

void pk_pickup_destroy(struct pk_pickup *p)
{
	if (p != NULL)
		free(p->recs);
	free(p);
}

/* Remember that the claim keyed key_hash ended on call (call_id, from_tag). */
static void pu_rec_put(struct pk_pickup *p, uint64_t key_hash, struct pk_str call_id, struct pk_str from_tag,
		       uint64_t now_ns)
{
	struct pk_pickup_rec *r = &p->recs[key_hash & p->mask];
	uint64_t buf[PU_REC_WORDS] = { 0 };
	/* Relaxed: the CAS below orders what follows. */
	uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);

	if (call_id.len + from_tag.len > PU_REC_BYTES || (s & 1))
		return;
	/* Acquire on success: our writes stay after it. Another writer in the
	 * record: give up (the memory is lossy). */
	if (!atomic_compare_exchange_strong_explicit(&r->seq, &s, s + 1, memory_order_acquire,
						     memory_order_relaxed))
		return;
	/* A reader that sees the odd seq, or a changed one, discards its
	 * copy. Each data store is a release (plain stores on x86): the odd
	 * seq written by the CAS above happens before it, so a reader whose
	 * acquire load of a data word reads this store also reads an odd or
	 * newer seq on its second seq load. No fences: ThreadSanitizer does
	 * not model them. */
	memcpy(buf, call_id.p, call_id.len);
	memcpy((char *)buf + call_id.len, from_tag.p, from_tag.len);
	for (unsigned i = 0; i < PU_REC_WORDS; i++)
		atomic_store_explicit(&r->w[i], buf[i], memory_order_release);
	atomic_store_explicit(&r->lens, call_id.len | ((uint64_t)from_tag.len << 16), memory_order_release);
	atomic_store_explicit(&r->ns, now_ns, memory_order_release);
	atomic_store_explicit(&r->key, key_hash, memory_order_release);
	/* Release: publishes the record; pairs with the acquire load of seq
	 * in pu_rec_get. */
	atomic_store_explicit(&r->seq, s + 2, memory_order_release);
}

/* The call of the ended claim key_hash, copied into buf (PU_REC_BYTES). */
static bool pu_rec_get(const struct pk_pickup *p, uint64_t key_hash, uint64_t now_ns, char *buf,
		       struct pk_str *call_id, struct pk_str *from_tag)
{
	struct pk_pickup_rec *r = &p->recs[key_hash & p->mask];
	uint64_t w[PU_REC_WORDS], lens, key, ns;
	/* Acquire: pairs with the release store that ended the write. */
	uint64_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire), s2;

	if (s1 & 1)
		return false;
	/* Acquire (plain loads on x86): each pairs with the writer's release
	 * store of that word, and keeps the second seq load after it; the
	 * copy is validated by the seq check below. */
	key = atomic_load_explicit(&r->key, memory_order_acquire);
	ns = atomic_load_explicit(&r->ns, memory_order_acquire);
	lens = atomic_load_explicit(&r->lens, memory_order_acquire);
	for (unsigned i = 0; i < PU_REC_WORDS; i++)
		w[i] = atomic_load_explicit(&r->w[i], memory_order_acquire);
	s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
	if (s1 != s2 || key != key_hash || (now_ns >= ns && now_ns - ns > pu_window(p)))
		return false;
	if ((lens & 0xffff) + (lens >> 16) > PU_REC_BYTES)
		return false;
	memcpy(buf, w, PU_REC_BYTES);
	*call_id = pk_str_make(buf, lens & 0xffff);
	*from_tag = pk_str_make(buf + (lens & 0xffff), lens >> 16);
	return true;
}

void pk_pickup_remember(struct pk_pickup *p, uint64_t call_hash, uint64_t now_ns)
{
	struct pk_pickup_slot *b = &p->slots[(call_hash & p->mask) & ~(uint64_t)(PU_WAYS - 1)];
	unsigned victim = 0;
	uint64_t oldest = UINT64_MAX;

	if (call_hash == 0)
		call_hash = 1;
	/* Unrolled: four ways, the loop's own counting cost as much as
	 * their compares (this runs twice per picked-up call). */
#pragma GCC unroll 4
	for (unsigned i = 0; i < PU_WAYS; i++) {
		/* Relaxed: choosing a slot needs no ordering; a race with another
		 * writer only costs one of the two entries. */
		uint64_t k = atomic_load_explicit(&b[i].key, memory_order_relaxed);
		uint64_t t = atomic_load_explicit(&b[i].ns, memory_order_relaxed);

		if (k == call_hash) {
			victim = i;
			break;
		}
		if (k == 0)
			t = 0;
		if (t < oldest) {
			oldest = t;
			victim = i;
		}
	}
	/* Relaxed store of the time, then release store of the key: pairs with
	 * the acquire load of the key in pk_pickup_recent, which then sees this
	 * time (or a later one). */
	atomic_store_explicit(&b[victim].ns, now_ns, memory_order_relaxed);
	atomic_store_explicit(&b[victim].key, call_hash, memory_order_release);
}

void pk_pickup_prefetch(const struct pk_pickup *p, uint64_t call_hash)
{
	const struct pk_pickup_slot *b = &p->slots[(call_hash & p->mask) & ~(uint64_t)(PU_WAYS - 1)];

	/* the ways' first and last bytes: they may straddle two lines */
	__builtin_prefetch(b, 0, 3);
	__builtin_prefetch((const char *)(b + PU_WAYS) - 1, 0, 3);
}

bool pk_pickup_recent(const struct pk_pickup *p, uint64_t call_hash, uint64_t now_ns)
{
	const struct pk_pickup_slot *b = &p->slots[(call_hash & p->mask) & ~(uint64_t)(PU_WAYS - 1)];

	if (call_hash == 0)
		call_hash = 1;
#pragma GCC unroll 4
	for (unsigned i = 0; i < PU_WAYS; i++) {
		/* Acquire: pairs with the release store of the key in
		 * pk_pickup_remember (the time written before it is visible). */
		if (atomic_load_explicit(&b[i].key, memory_order_acquire) != call_hash)
			continue;
		/* Relaxed: ordered by the acquire above. */
		uint64_t t = atomic_load_explicit(&b[i].ns, memory_order_relaxed);

		return now_ns >= t ? now_ns - t <= pu_window(p) : true;
	}
	return false;
}

/* ---- helpers ---- */

/* "user@domain" of a group user, as the table stores callers and callees. */
static int pu_user_aor(const struct pk_groups_view *v, const struct pk_group_user *u, char *out, size_t cap)
{
	const struct pk_groups_settings *s = pk_groups_view_settings(v);
	struct pk_str d = pk_groups_settings_domain(s, u->domain);

	if (u->user.len + 1 + d.len > cap)
		return -1;
	pk_copy_short(out, u->user.p, u->user.len);
	out[u->user.len] = '@';
	pk_copy_short(out + u->user.len + 1, d.p, d.len);
	return (int)(u->user.len + 1 + d.len);
}

/* n bytes of src to dst, ASCII letters lowercased, eight a step (the
 * last eight in a step that may overlap the one before). */
static inline void pu_lower_copy(char *dst, const char *src, uint32_t n)
{
	uint32_t i = 0;

	if (n >= 8) {
		for (; i + 8 <= n; i += 8) {
			uint64_t x = pk_lower8(pk_load8(src + i));

			memcpy(dst + i, &x, 8);
		}
		if (i < n) {
			uint64_t x = pk_lower8(pk_load8(src + n - 8));

			memcpy(dst + n - 8, &x, 8);
		}
		return;
	}
	for (; i < n; i++) {
		char c = src[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
	}
}

/*
 * pk_proxy_local_domain(w, rx, host, port, out) for the From of a request
 * whose Request-URI names the served domain known (as the proxy looked it
 * up: stored lowercase, pk_groups_settings_find_domain's answer for it).
 * A From host written with the same bytes, as nearly every client writes
 * it, is that domain: the lookup would find known again (served domains
 * are distinct), whatever the port. Anything else is looked up.
 */
static bool pu_local_domain(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host,
			    uint16_t port, struct pk_str known, struct pk_str *out)
{
	uint32_t n = host.len;
	bool same;

	if (n != known.len || n == 0)
		same = false;
	else if (n >= 8 && n <= 16)
		same = ((pk_load8(host.p) ^ pk_load8(known.p)) |
			(pk_load8(host.p + n - 8) ^ pk_load8(known.p + n - 8))) == 0;
	else if (n >= 4 && n < 8)
		same = ((pk_load4(host.p) ^ pk_load4(known.p)) |
			(pk_load4(host.p + n - 4) ^ pk_load4(known.p + n - 4))) == 0;
	else
		same = memcmp(host.p, known.p, n) == 0;
	if (same) {
		*out = known;
		return true;
	}
	return pk_proxy_local_domain(w, rx, host, port, out);
}

/*
 * "user@domain" of a SIP URI (a From): the user part normalised as the
 * group index does, the domain as served (lowercase; pickupd's own address
 * means the default domain) or the host lowercased. Equal to pu_user_aor
 * for a group member. -1 when the URI has no user part. known: the served
 * domain of the request's Request-URI (pu_local_domain).
 */
static int pu_uri_aor(const struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_uri *u,
		      struct pk_str known, char *out, size_t cap)
{
	struct pk_str d;
	int n;

	if (u->user.len == 0)
		return -1;
	n = pk_groups_user_normalize(u->user, out, cap > PK_GROUPS_USER_MAX ? PK_GROUPS_USER_MAX : cap);
	if (n <= 0) {
		if (u->user.len > PK_GROUPS_USER_MAX)
			return -1;
		memcpy(out, u->user.p, u->user.len);
		n = (int)u->user.len;
	}
	if (!pu_local_domain(w, rx, u->host, u->port, known, &d))
		d = u->host;
	if ((size_t)n + 1 + d.len > cap)
		return -1;
	out[n++] = '@';
	pu_lower_copy(out + n, d.p, d.len);
	return n + (int)d.len;
}

/*
 * The picker's transaction key: Call-ID, top Via branch (of the request;
 * for its response the second Via) and CSeq number. A CANCEL and the ACK
 * of a non-2xx answer have the same. Very long keys are replaced by a
 * 128-bit hash of them.
 */
static struct pk_str pu_key(const struct pk_sip_msg *m, struct pk_str branch, char *out)
{
	char num[10];
	/* the CSeq number's digits; copies inline (pk_copy_short): the
	 * Call-ID and branch are short, a call to memcpy each cost more */
	uint32_t nl = (uint32_t)(pk_put_u32(num, m->cseq) - num);
	size_t len = m->call_id.len + 1 + branch.len + 1 + nl;
	char *o = out;

	if (len <= PK_CALLTAB_CLAIM_KEY_MAX) {
		pk_copy_short(o, m->call_id.p, m->call_id.len);
		o += m->call_id.len;
		*o++ = ' ';
		pk_copy_short(o, branch.p, branch.len);
		o += branch.len;
		*o++ = ' ';
		pk_copy_short(o, num, nl);
		return pk_str_make(out, len);
	}
	uint64_t hv[2] = { pk_calltab_key_hash(m->call_id, branch), pk_calltab_key_hash(branch, m->call_id) };

	*o++ = '#';
	for (int j = 0; j < 2; j++)
		for (int i = 15; i >= 0; i--)
			*o++ = "0123456789abcdef"[(hv[j] >> (4 * i)) & 15];
	*o++ = ' ';
	memcpy(o, num, nl);
	o += nl;
	return pk_str_make(out, (size_t)(o - out));
}

/* Eight hex digits (either case), the first in the low byte of x as
 * loaded, to their value: each byte to its nibble (a letter has bit 6
 * set: its low nibble + 9), then the nibbles packed pairwise, first digit
 * most significant. A byte that is no hex digit gives some nibble (the
 * value is then a hash that names nothing, as before). */
static inline uint32_t pu_hex8(uint64_t x)
{
	x = (x & 0x0f0f0f0f0f0f0f0full) + ((x >> 6) & 0x0101010101010101ull) * 9;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x); /* first digit in the top byte */
#endif
	x = (x | (x >> 4)) & 0x00ff00ff00ff00ffull;
	x = (x | (x >> 8)) & 0x0000ffff0000ffffull;
	return (uint32_t)(x | (x >> 16));
}

/* The 64-bit value of the 16 hex digits at p (our Via's pkc): two loads
 * instead of a loop of 16 (a claim response's largest cost of its own);
 * pk_put_hex16 writes them. */
static inline uint64_t pu_hex16(const char *p)
{
	return (uint64_t)pu_hex8(pk_load8(p)) << 32 | pu_hex8(pk_load8(p + 8));
}

/* What the recently-picked memory keeps for an ended claim (its calls are
 * kept under pk_calltab_key_hash of Call-ID and From-tag: another seed):
 * the table's own hash of the key, which claim and settle are then given
 * instead of hashing the key again. */
static uint64_t pu_key_hash(struct pk_str key)
{
	return pk_calltab_claim_hash(key);
}

/* ---- call tracking ---- */

/* The call's key hash in the ringing-call table: the worker's, kept when
 * it started the call's loads (pk_worker_prefetch), else computed. */
static inline uint64_t pu_call_hash(const struct pk_sip_msg *m)
{
	return m->call_key_hash != 0 ? m->call_key_hash : pk_calltab_key_hash(m->call_id, m->from.tag);
}

bool pk_pickup_track(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		     struct pk_str user, struct pk_str domain)
{
	struct pk_engine *eng = w->eng;
	const struct pk_groups_view *v = pk_groups_view(eng->groups);
	const struct pk_group_user *gu = pk_groups_find_user(v, user, domain);
	uint32_t groups[PK_CALLTAB_MAX_GROUPS], ng = 0;
	struct pk_str rr[PK_CALLTAB_MAX_RR];
	char callee[PU_AOR_MAX], caller[PU_AOR_MAX];
	struct pk_calltab_new c;
	struct pk_sip_uri fu;
	uint64_t ch;
	int ce, cr, rc;

	if (gu == NULL)
		return false;
	for (uint32_t i = 0; i < gu->n_groups && ng < PK_CALLTAB_MAX_GROUPS; i++)
		if (gu->groups[i].rights & PK_RIGHT_RING)
			groups[ng++] = gu->groups[i].id;
	if (ng == 0)
		return false;
	/* A copy of the INVITE of a call picked up a moment ago (the caller
	 * retransmitted it before a provisional answer reached it, and the
	 * copy came late or out of order): the call left the table when the
	 * pickup was answered, so without this check the copy would enter it
	 * again as a new call and be offered to the next picker. Forwarded
	 * (the callee answers it from its transaction), not tracked. */
	ch = pu_call_hash(m);
	if (eng->pickup != NULL && pk_pickup_recent(eng->pickup, ch, w->now_ns)) {
		pu_count(w, PK_PICKUP_CTR_TRACK_PICKED);
		return false;
	}
	/* A pickup needs the caller's Contact (the new Request-URI) and its
	 * From-tag (the Replaces to-tag). A sips: Contact, or a sips: first
	 * Record-Route (the pickup INVITE's next hop), is reached over TLS
	 * only (RFC 5630 §4), which pickupd does not speak: such a call could
	 * never be picked up, and, the oldest of its groups, would stand in
	 * the way of the others (pu_forward's 503). Not tracked. */
	if (m->ncontact == 0 || m->contact_star || m->contact[0].uri.len == 0 || m->from.tag.len == 0 ||
	    m->nrr > PK_CALLTAB_MAX_RR || pk_sip_uri_is_sips(m->contact[0].uri) ||
	    (m->nrr > 0 && pk_sip_uri_is_sips(m->rr[0].uri)) ||
	    pk_sip_uri_parse(m->from.uri.p, m->from.uri.len, &fu) != 0) {
		pu_count(w, PK_PICKUP_CTR_TRACK_SKIPPED);
		return false;
	}
	ce = pu_user_aor(v, gu, callee, sizeof(callee));
	cr = pu_uri_aor(w, rx, &fu, domain, caller, sizeof(caller));
	if (ce < 0) {
		pu_count(w, PK_PICKUP_CTR_TRACK_SKIPPED);
		return false;
	}
	for (uint32_t i = 0; i < m->nrr; i++)
		rr[i] = m->rr[i].uri;
	memset(&c, 0, sizeof(c));
	c.call_id = m->call_id;
	c.from_tag = m->from.tag;
	c.contact = m->contact[0].uri;
	c.caller = cr > 0 ? pk_str_make(caller, (size_t)cr) : PK_STR_NULL;
	c.callee = pk_str_make(callee, (size_t)ce);
	c.rr = rr;
	c.nrr = m->nrr;
	c.groups = groups;
	c.ngroups = ng;
	c.src.family = (uint8_t)rx->src.family;
	c.src.transport = rx->transport == PK_TRANSPORT_TCP ? PK_CALLTAB_TCP : PK_CALLTAB_UDP;
	c.src.port = rx->src.port;
	memcpy(c.src.addr, rx->src.ip, sizeof(c.src.addr));
	c.invite_ns = w->now_ns;
	c.hash = ch; /* computed once: the insert's index lookup reuses it */
	rc = pk_calltab_insert(eng->calltab, w->id, &c);
	if (rc == 0) {
		pu_count(w, PK_PICKUP_CTR_CALLS_TRACKED);
		return true;
	}
	if (rc == -EEXIST)
		return true; /* a retransmission of a tracked INVITE */
	pu_count(w, PK_PICKUP_CTR_TRACK_REFUSED);
	return false;
}

void pk_pickup_call_response(struct pk_worker *w, const struct pk_sip_msg *m)
{
	struct pk_calltab *t = w->eng->calltab;

	if (m->code >= 180 && m->code <= 189 && m->to.tag.len != 0) {
		if (pk_calltab_ringing(t, w->id, m->call_id, m->from.tag, m->call_key_hash, m->to.tag) == 0)
			pu_count(w, PK_PICKUP_CTR_CALLS_RINGING);
	} else if (m->code >= 200) {
		if (pk_calltab_remove(t, w->id, m->call_id, m->from.tag, m->call_key_hash,
				      m->code < 300 ? PK_CALLTAB_ANSWERED : PK_CALLTAB_REJECTED) == 0)
			pu_count(w, PK_PICKUP_CTR_CALLS_ENDED);
	}
}

bool pk_pickup_cancel(struct pk_worker *w, const struct pk_sip_msg *m)
{
	struct pk_engine *eng = w->eng;
	enum pk_calltab_state was;
	uint64_t h = pu_call_hash(m);
	bool reason = false;

	if (pk_calltab_remove_was(eng->calltab, w->id, m->call_id, m->from.tag, h, PK_CALLTAB_CANCELLED,
				  &was) == 0) {
		pu_count(w, PK_PICKUP_CTR_CALLS_ENDED);
		/* A pickup in flight: the caller accepted it and cancels
		 * before its 200 reached us (the two may cross). */
		reason = was == PK_CALLTAB_CLAIMED;
	}
	if (!reason && eng->pickup != NULL)
		reason = pk_pickup_recent(eng->pickup, h, w->now_ns);
	return reason;
}

/* ---- pickup ---- */

/* The picker answered by pickupd (403, 480, 503), with
 * Warning: 399 <our host> "<text>". */
static void pu_answer(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		      unsigned status, const char *text, enum pk_pickup_counter c)
{
	char agent[PK_PROXY_HOST_MAX + 1];
	size_t n = pk_proxy_advertised_host(w, rx, rx->listener, agent, PK_PROXY_HOST_MAX);

	agent[n] = '\0';
	pu_count(w, c);
	pk_proxy_answer(w, rx, m, status, agent, text, -1);
}

/* Where the caller of call c is reached: its first Record-Route (a sips:
 * one, never tracked, would be -EPROTONOSUPPORT), else the source of its
 * INVITE (over TCP: the connection of its registration from that address,
 * if any). */
static int pu_caller_dst(struct pk_worker *w, const struct pk_calltab_call *c, struct pk_proxy_dst *dst)
{
	if (c->nrr > 0)
		return pk_proxy_uri_dst(w, c->rr[0], dst);
	memset(dst, 0, sizeof(*dst));
	dst->listener = 0xff;
	dst->addr.family = c->src.family;
	dst->addr.port = c->src.port;
	memcpy(dst->addr.ip, c->src.addr, sizeof(dst->addr.ip));
	/* A TCP caller whose connection is not found goes over UDP
	 * (pk_proxy_fwd_send counts it as tcp_as_udp). */
	dst->transport = c->src.transport == PK_CALLTAB_TCP ? PK_TRANSPORT_TCP : PK_TRANSPORT_UDP;
	if (dst->transport == PK_TRANSPORT_TCP && w->eng->location != NULL) {
		struct pk_loc_contact lc[4];
		struct pk_str user, domain;
		unsigned n;

		/* the table keeps no connection id: the caller's registration
		 * from the same address has it */
		if (pk_groups_aor_split(c->caller, &user, &domain) == 0) {
			n = pk_location_lookup(w->eng->location, w->id, user, domain, w->now_ns, lc, 4);
			for (unsigned i = 0; i < n; i++)
				if (lc[i].transport == PK_TRANSPORT_TCP && lc[i].conn != PK_IO_CONN_NONE &&
				    pk_addr_eq(&lc[i].src, &dst->addr)) {
					dst->conn = lc[i].conn;
					dst->listener = lc[i].listener;
					break;
				}
		}
	}
	return 0;
}

/* Send the picker's INVITE (or its CANCEL/ACK) to the caller of call c.
 * Returns 0, or a negative errno after which nothing was sent. */
static int pu_forward(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		      const struct pk_calltab_call *c, struct pk_proxy_fwd *f)
{
	struct pk_rw *rw = f->rw;
	char route[PK_CALLTAB_STRINGS_MAX + 64], repl[PK_CALLTAB_STRINGS_MAX + 64];
	size_t n = 0, rn = 0;

	if (pu_caller_dst(w, c, &f->dst) != 0)
		return -EHOSTUNREACH; /* a host name, or sips: */
	/* The texts first (the -E2BIG checks), then the edits in message
	 * order: each is appended to the plan (rewrite.c, rw_put). */
	/* The caller's route set replaces whatever Route the picker sent. */
	for (uint32_t i = 0; i < c->nrr; i++) {
		if (n + c->rr[i].len + 4 > sizeof(route))
			return -E2BIG;
		if (i) {
			route[n++] = ',';
			route[n++] = ' ';
		}
		route[n++] = '<';
		pk_copy_short(route + n, c->rr[i].p, c->rr[i].len);
		n += c->rr[i].len;
		route[n++] = '>';
	}
	if (m->method == PK_SIP_INVITE) {
		char pv[22] = "p;pkc=";

		/* RFC 3891 §3: the tags as the caller (who receives it) sees
		 * its early dialog: to-tag its own From-tag, from-tag the
		 * callee's To-tag. */
		if (c->call_id.len + c->from_tag.len + c->to_tag.len + 40 > sizeof(repl))
			return -E2BIG;
		pk_copy_short(repl, c->call_id.p, c->call_id.len);
		rn = c->call_id.len;
		memcpy(repl + rn, ";to-tag=", 8);
		rn += 8;
		pk_copy_short(repl + rn, c->from_tag.p, c->from_tag.len);
		rn += c->from_tag.len;
		memcpy(repl + rn, ";from-tag=", 10);
		rn += 10;
		pk_copy_short(repl + rn, c->to_tag.p, c->to_tag.len);
		rn += c->to_tag.len;
		memcpy(repl + rn, ";early-only", 11);
		rn += 11;
		/* ";pk=p;pkc=<the call's key hash, as the table stored it, 16
		 * hex digits>", written by one call: the two params are the
		 * only ones of a pickup INVITE (the Via params start empty),
		 * so they fit together as they fitted one after the other. */
		pk_put_hex16(pv + 6, c->hash);
		pk_proxy_fwd_param(f, "pk", pk_str_make(pv, sizeof(pv)));
	}
	pk_rw_ruri_set(rw, c->contact);
	/* our Via (above the client's), then the client Via's received/rport
	 * and Max-Forwards, before the lines further down */
	pk_proxy_fwd_via(w, rx, f);
	pk_proxy_fwd_plan(f);
	if (n > 0)
		pk_rw_hdr_replace(rw, PK_HDR_ROUTE, pk_str_make(route, n));
	else if (m->nroute > 0)
		pk_rw_hdr_remove(rw, PK_HDR_ROUTE);
	if (m->method == PK_SIP_INVITE) {
		pk_rw_hdr_replace(rw, PK_HDR_REPLACES, pk_str_make(repl, rn));
		if (!(m->require & PK_SIP_OPT_BIT(REPLACES)))
			pk_rw_hdr_add(rw, PK_HDR_REQUIRE, NULL, PK_STR_LIT("replaces"), PK_RW_BOTTOM);
	}
	f->record_route = m->method == PK_SIP_INVITE;
	return pk_proxy_fwd_send(w, rx, f);
}

/*
 * The picker's CANCEL or ACK for its pickup INVITE. While the claim lasts
 * it goes where the INVITE went: the claim keeps its call's route even
 * when the call has left the table (pk_calltab_claim_find), as it does
 * when the caller CANCELs its own INVITE before answering the pickup one.
 * The caller then answers the CANCEL itself (RFC 3261 §9.2: 200 while its
 * INVITE transaction is pending, and 487 to the INVITE, which settles the
 * claim; 481 if it has none), as a stateless proxy's CANCEL is answered
 * (§16.11). Once the claim has ended -- the caller's final answer passed
 * through to the picker, or pickupd answered the INVITE itself (403, 480,
 * 503) -- the INVITE has its final response and pickupd, which keeps no
 * transaction, no longer knows where it went: a CANCEL is answered 481
 * (docs/sip-behaviour.md §5.4 says why that is what the picker would get
 * anyway).
 */
static void pu_follow(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		      struct pk_str key, struct pk_proxy_fwd *f)
{
	struct pk_calltab_call c;
	uint64_t kh = pu_key_hash(key);
	int rc = pk_calltab_claim_find(w->eng->calltab, w->id, key, kh, &c);

	if (rc == 0) {
		rc = pu_forward(w, rx, m, &c, f);
		if (rc == 0)
			pu_count(w, m->method == PK_SIP_CANCEL ? PK_PICKUP_CTR_CANCEL : PK_PICKUP_CTR_ACK);
		else if (rc == -EHOSTUNREACH || rc == -E2BIG) /* not sent, not counted yet */
			pk_proxy_drop(w, PK_PROXY_CTR_DROP_REWRITE);
		return;
	}
	if (m->method == PK_SIP_CANCEL) {
		pk_proxy_answer(w, rx, m, 481, NULL, "no pickup in progress for this CANCEL",
				PK_PROXY_CTR_ANSWERED_481);
		return;
	}
	/* ACK of the caller's failure answer: the claim ended with it, the
	 * record of that end says which call it was (if the call still rings:
	 * 481/603 removed it). */
	if (w->eng->pickup != NULL) {
		char rb[PU_REC_BYTES];
		struct pk_str cid, ftag;

		if (pu_rec_get(w->eng->pickup, kh, w->now_ns, rb, &cid, &ftag) &&
		    pk_calltab_find(w->eng->calltab, w->id, cid, ftag, 0, &c) == 0) {
			rc = pu_forward(w, rx, m, &c, f);
			if (rc == 0)
				pu_count(w, PK_PICKUP_CTR_ACK);
			else if (rc == -EHOSTUNREACH || rc == -E2BIG)
				pk_proxy_drop(w, PK_PROXY_CTR_DROP_REWRITE);
			return;
		}
	}
	/* ACK of our own 403/480/503, or of a call that is gone: nowhere to
	 * send it. */
	pu_count(w, PK_PICKUP_CTR_ACK_DROPPED);
	pk_proxy_drop(w, PK_PROXY_CTR_DROP_ACK);
}

bool pk_pickup_request(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		       struct pk_str user, struct pk_str domain, struct pk_proxy_fwd *f)
{
	struct pk_engine *eng = w->eng;
	const struct pk_groups_view *v = pk_groups_view(eng->groups);
	struct pk_groups_dial_result dr = { NULL, PK_STR_NULL };
	enum pk_groups_dial kind = pk_groups_classify(v, user, &dr);
	const struct pk_group_user *pu = NULL, *tu = NULL;
	uint32_t groups[PU_MAX_GROUPS], ng = 0;
	char keybuf[PK_CALLTAB_CLAIM_KEY_MAX + 1], picker[PU_AOR_MAX], callee[PU_AOR_MAX];
	struct pk_calltab_claim_req req;
	struct pk_calltab_call c;
	struct pk_str key, fdomain;
	struct pk_sip_uri fu;
	int pn, cn = 0, rc;
	uint32_t ntrusted;
	uint64_t kh;

	if (kind == PK_DIAL_NONE)
		return false;
	if (m->method == PK_SIP_INVITE && m->to.tag.len != 0)
		return false; /* in a dialog: not a pickup */
	key = pu_key(m, m->via[0].branch, keybuf);
	if (m->method != PK_SIP_INVITE) {
		pu_follow(w, rx, m, key, f);
		return true;
	}
	/* A copy of a pickup INVITE whose claim the caller's answer already
	 * ended (it crossed that answer): it must not claim another call. */
	kh = pu_key_hash(key);
	if (eng->pickup != NULL && pk_pickup_recent(eng->pickup, kh, w->now_ns)) {
		pu_count(w, PK_PICKUP_CTR_DROP_RETRANS);
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_PROXY]);
		return true;
	}

	/* Only from the trusted networks, when any are configured: the
	 * picker's From is not authenticated (issue 7, docs/sip-behaviour.md). */
	if (!pk_worker_trusted(w, &rx->src, &ntrusted) && ntrusted != 0) {
		pu_count(w, PK_PICKUP_CTR_ATTEMPTS);
		pu_answer(w, rx, m, 403, "source not in a trusted network", PK_PICKUP_CTR_FORBIDDEN);
		return true;
	}
	/* The picker: From, a member of some group. */
	if (pk_sip_uri_parse(m->from.uri.p, m->from.uri.len, &fu) == 0 && fu.user.len != 0 &&
	    pu_local_domain(w, rx, fu.host, fu.port, domain, &fdomain))
		pu = pk_groups_find_user(v, fu.user, fdomain);
	if (pu != NULL) {
		switch (kind) {
		case PK_DIAL_GROUP:
			if (pk_group_user_rights(pu, dr.group->id) & PK_RIGHT_PICKUP)
				groups[ng++] = dr.group->id;
			break;
		case PK_DIAL_PICKUP_CODE:
			for (uint32_t i = 0; i < pu->n_groups && ng < PU_MAX_GROUPS; i++)
				if (pu->groups[i].rights & PK_RIGHT_PICKUP)
					groups[ng++] = pu->groups[i].id;
			break;
		case PK_DIAL_DIRECTED:
			tu = pk_groups_find_user(v, dr.target, domain);
			if (tu == NULL)
				break;
			for (uint32_t i = 0; i < tu->n_groups && ng < PU_MAX_GROUPS; i++)
				if ((tu->groups[i].rights & PK_RIGHT_RING) &&
				    (pk_group_user_rights(pu, tu->groups[i].id) & PK_RIGHT_PICKUP))
					groups[ng++] = tu->groups[i].id;
			cn = pu_user_aor(v, tu, callee, sizeof(callee));
			break;
		default:
			break;
		}
	}
	pn = pu != NULL ? pu_user_aor(v, pu, picker, sizeof(picker)) : -1;
	if (ng == 0 || pn < 0 || cn < 0) {
		pu_count(w, PK_PICKUP_CTR_ATTEMPTS);
		pu_answer(w, rx, m, 403, "not allowed to pick up here", PK_PICKUP_CTR_FORBIDDEN);
		return true;
	}

	req = (struct pk_calltab_claim_req){
		.groups = groups,
		.ngroups = ng,
		.callee = cn > 0 ? pk_str_make(callee, (size_t)cn) : PK_STR_NULL,
		.picker = pk_str_make(picker, (size_t)pn),
		.key = key,
		.key_hash = kh,
		.now_ns = w->now_ns,
	};
	rc = pk_calltab_claim(eng->calltab, w->id, &req, &c);
	switch (rc) {
	case 0:
	case 1: {
		bool first = rc == 0;

		pu_count(w, first ? PK_PICKUP_CTR_ATTEMPTS : PK_PICKUP_CTR_RETRANS);
		rc = pu_forward(w, rx, m, &c, f);
		if (rc == 0) {
			/* the claim stays until the caller's answer */
			if (first)
				pu_count(w, PK_PICKUP_CTR_FORWARDED);
			return true;
		}
		/* Not sent: the claim ends at once. A caller we cannot route to
		 * (its first Record-Route a host name, or too long a route)
		 * cannot be reached whoever picks: settled as gone (481), the
		 * call leaves the table, else, the oldest of its groups, it
		 * would be claimed by every later picker, who would all get
		 * this 503 instead of the next call. The claim is remembered
		 * as ended, as a caller's answer ends one (pk_pickup_claim_
		 * response): a copy of this INVITE is then dropped, not given
		 * the next call of the group after its 503. Any other failure
		 * gives the call back. */
		if (rc == -EHOSTUNREACH || rc == -E2BIG) {
			if (eng->pickup != NULL)
				pk_pickup_remember(eng->pickup, kh, w->now_ns);
			pk_calltab_settle_hashed(eng->calltab, w->id, key, kh, 481);
			pu_answer(w, rx, m, 503, "Cannot reach the caller", PK_PICKUP_CTR_UNROUTABLE);
		} else {
			pk_calltab_settle_hashed(eng->calltab, w->id, key, kh, 503);
		}
		return true;
	}
	case -ENOENT:
		pu_count(w, PK_PICKUP_CTR_ATTEMPTS);
		pu_answer(w, rx, m, 480, "No call to pick up", PK_PICKUP_CTR_NONE);
		return true;
	case -ENOSPC:
		pu_count(w, PK_PICKUP_CTR_ATTEMPTS);
		pu_answer(w, rx, m, 503, "Too many pickups in progress", PK_PICKUP_CTR_CLAIM_FULL);
		return true;
	case -EALREADY:
	case -EINPROGRESS:
		/* the first copy is being (or was) handled: nothing to add */
		pu_count(w, PK_PICKUP_CTR_DROP_RETRANS);
		pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_PROXY]);
		return true;
	default:
		pu_count(w, PK_PICKUP_CTR_ATTEMPTS);
		pu_answer(w, rx, m, 503, "Pickup failed", PK_PICKUP_CTR_CLAIM_FULL);
		return true;
	}
}

void pk_pickup_claim_response(struct pk_worker *w, const struct pk_sip_msg *m, struct pk_str pkc)
{
	struct pk_engine *eng = w->eng;
	char keybuf[PK_CALLTAB_CLAIM_KEY_MAX + 1];
	struct pk_str key;
	uint64_t h = 0, kh;
	int rc;

	if (m->code < 200 || m->nvia < 2)
		return;
	key = pu_key(m, m->via[1].branch, keybuf);
	kh = pu_key_hash(key);
	if (m->code < 300 && eng->pickup != NULL && pkc.len == 16) {
		h = pu_hex16(pkc.p);
		/* before the settle: a CANCEL racing it finds one or the other */
		pk_pickup_remember(eng->pickup, h, w->now_ns);
	}
	/* The claim ends with this answer; a copy of the pickup INVITE still
	 * in flight must find that out (pk_pickup_request), and the ACK of a
	 * failure answer where to go (pu_follow). */
	if (eng->pickup != NULL)
		pk_pickup_remember(eng->pickup, kh, w->now_ns);
	if (m->code >= 300) {
		struct pk_calltab_call c;

		if (pk_calltab_claim_find(eng->calltab, w->id, key, kh, &c) == 0) {
			if (c.state == PK_CALLTAB_DEAD) {
				/* The call left the table while claimed (the
				 * caller's own CANCEL): a record of it would
				 * find nothing again, and the ACK of this answer
				 * would be dropped, the caller resending the
				 * answer until its Timer H. The claim, which
				 * keeps the call's route, is left to
				 * timers.claim_timeout instead: the picker's ACK
				 * (and a CANCEL crossing the answer) follow the
				 * pickup INVITE meanwhile (pu_follow). */
				pu_count(w, PK_PICKUP_CTR_SETTLE_LATE);
				return;
			}
			if (eng->pickup != NULL)
				pu_rec_put(eng->pickup, kh, c.call_id, c.from_tag, w->now_ns);
		}
	}
	rc = pk_calltab_settle_hashed(eng->calltab, w->id, key, kh, m->code);
	if (rc != 0) {
		pu_count(w, PK_PICKUP_CTR_SETTLE_LATE);
		return;
	}
	if (m->code < 300)
		pu_count(w, PK_PICKUP_CTR_SUCCEEDED);
	else if (m->code == 481)
		pu_count(w, PK_PICKUP_CTR_REJECTED_481);
	else if (m->code == 486)
		pu_count(w, PK_PICKUP_CTR_REJECTED_486);
	else if (m->code == 603)
		pu_count(w, PK_PICKUP_CTR_REJECTED_603);
	else if (m->code == 420)
		pu_count(w, PK_PICKUP_CTR_NO_REPLACES);
	else
		pu_count(w, PK_PICKUP_CTR_REJECTED_OTHER);
}

void pk_pickup_log_counters(const struct pk_worker *w)
{
	char line[2048];
	size_t n = 0;

	for (unsigned c = 0; c < PK_PICKUP_CTR_COUNT && n < sizeof(line); c++)
		if (w->pickup_ctr[c] != 0)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu", pk_pickup_ctr_names[c],
					      (unsigned long long)w->pickup_ctr[c]);
	if (n > 0)
		pk_log(PK_LOG_INFO, "worker %u pickup:%s", w->id, line);
}
