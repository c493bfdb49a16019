/* SPDX-License-Identifier: MIT */
/*
 * The ringing-call table (include/pickup/calltab.h): entries, the per-group
 * lists a pickup walks, the state machine of a call, claims, and the sweep
 * that expires calls and hands removed entries to RCU.
 *
 * Shape. Entries are fixed 448-byte (seven cache line) slots of one array allocated at
 * creation; their strings live inline or, for the few calls with long
 * Contacts or Record-Route sets, in one 1 KiB block of a second pool. Each
 * group id has a singly linked list of the calls ringing in it (in arrival
 * order, appended at the tail; the links are embedded in the entries, one
 * per group), and counts its pairs out of arrival order, so that a claim
 * on a sorted list stops at the first claimable call. The Call-ID index and
 * the claim index are in calltab_index.c.
 *
 * Concurrency. Any thread may insert, ring, claim, settle or remove. A call
 * changes state only by CAS on its 64-bit state word (state, generation and
 * the claim record that holds it); the thread whose CAS moves a call to DEAD
 * is the only one that takes it out of the indexes. A claimed call that is
 * removed goes to GONE instead: its remover takes it out of the Call-ID
 * index only, and the thread that ends its claim moves it on to DEAD and
 * marks its links (pk_calltab_claim_find needs its strings until then).
 * Group lists are Michael-Scott queues for appends and Harris lists for
 * removal: a removed call's links are marked by the remover and unlinked
 * by the sweep, which walks the lists the removers flagged dirty. An entry counts the list
 * links it still has; the sweep, which alone unlinks, retires it when the
 * last goes and gives retired entries to pk_rcu_defer, after which they
 * return to the pool.
 * Readers (lookups, claims' walks, listings) therefore never meet a reused
 * entry, and never wait. The ordering argument is in docs/calltab.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../sip/copy.h"
#include "calltab_impl.h"
#include "pickup/rcu.h"

static_assert(sizeof(struct pk_ct_entry) == PK_CT_ENTRY_SIZE, "entry layout");
static_assert(offsetof(struct pk_ct_entry, next) + 4 * sizeof(uint32_t) == 32,
	      "a list walk reads only the first 32 bytes for the first four groups");
static_assert(offsetof(struct pk_ct_entry, area) == 128, "entry header");
static_assert(sizeof(struct pk_ct_group) == 32, "two groups per cache line");
static_assert(PK_CT_LINK(PK_CT_MAX_REFS, PK_CALLTAB_MAX_GROUPS - 1) <= PK_CT_LMASK,
	      "link ids stay clear of the MARK and SEAL bits");
static_assert(sizeof(struct pk_ct_claim) == 256, "claim record is 4 cache lines");
static_assert(PK_CT_INLINE >= 4 * PK_CALLTAB_MAX_GROUPS + 240, "inline area holds a typical call");
static_assert(PK_CALLTAB_STRINGS_MAX < 65536, "string offsets are 16 bit");
static_assert(PK_CALLTAB_TAG_MAX < 256 && PK_CT_TAG_MIN <= PK_CALLTAB_TAG_MAX, "to_cap is 8 bit");

#define SEED_KEY 0x243f6a8885a308d3ull
#define SEED_AOR 0x13198a2e03707344ull
#define SEED_CLAIM 0xa4093822299f31d0ull

/* ---- hashing ---- */

/* One string into the state h: 16 bytes per multiply-fold while more
 * than 16 are left, the last 1-16 bytes in one more, read as two words
 * that may overlap (fixed-size loads only, no byte loop). The string's
 * length goes into that last step, so overlapping tail loads cannot make
 * two strings of different lengths collide by construction, and ("ab",
 * "c") and ("a", "bc") differ when strings are chained. No finaliser:
 * pk_mix64 (common.h) runs once at the end of a key, so that both halves of
 * the result (home bucket, signature) are mixed. */
static inline __attribute__((always_inline)) uint64_t ct_field(const void *p, size_t len, uint64_t h)
{
	const char *s = p;
	size_t n = len;
	uint64_t a = 0, b = 0;

	for (; n > 16; n -= 16, s += 16)
		h = pk_fold64(pk_load8(s) ^ h ^ 0xbe5466cf34e90c6cull, pk_load8(s + 8) ^ 0xc0ac29b7c97c50ddull);
	if (n > 8) {
		a = pk_load8(s);
		b = pk_load8(s + n - 8);
	} else if (n >= 4) {
		a = pk_load4(s) | pk_load4(s + n - 4) << 32;
	} else if (n > 0) {
		a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
		    (uint64_t)(unsigned char)s[n - 1] << 16;
	}
	return pk_fold64(a ^ h ^ 0xd1310ba698dfb5acull, b ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull) ^
							    0x2ffd72dbd01adfb7ull);
}

uint64_t pk_ct_hash(const void *p, size_t len, uint64_t seed)
{
	return pk_mix64(ct_field(p, len, seed));
}

void pk_calltab_prefetch(const struct pk_calltab *t, uint64_t hash)
{
	pk_ct_ix_prefetch(&t->cix, hash);
}

/* Both strings chained into one state, one finaliser: every
 * call-tracking message hashes its key once or more. */
uint64_t pk_calltab_key_hash(struct pk_str call_id, struct pk_str from_tag)
{
	uint64_t h = pk_mix64(ct_field(from_tag.p, from_tag.len, ct_field(call_id.p, call_id.len, SEED_KEY)));

	return h ? h : 1;
}

/* A filter for AoR comparisons (self-pickup, directed pickup), not a hash
 * table key: length, first and last 8 bytes, one multiply. Equal strings
 * give equal values; a collision only costs a memcmp. */
static inline uint32_t aor_hash(struct pk_str s)
{
	uint64_t a = 0, b = 0;

	if (s.len >= 8) {
		memcpy(&a, s.p, 8);
		memcpy(&b, s.p + s.len - 8, 8);
	} else if (s.len > 0) {
		memcpy(&a, s.p, s.len);
	}
	return (uint32_t)pk_fold64(a ^ SEED_AOR ^ ((uint64_t)s.len << 56), b ^ 0x9e3779b97f4a7c15ull);
}

/* ---- counters ---- */

static inline void ctr_add(struct pk_ct_thread *th, enum pk_calltab_counter c, uint64_t n)
{
	/* Relaxed load and store, no RMW: only the owner thread writes its
	 * block; readers (pk_calltab_stats) need atomicity, not ordering. */
	atomic_store_explicit(&th->ctr[c], atomic_load_explicit(&th->ctr[c], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void ctr_inc(struct pk_ct_thread *th, enum pk_calltab_counter c)
{
	ctr_add(th, c, 1);
}

/* ---- pools ---- */

/* Push the chain first..last on a retire list (claim records). */
static void retire_push(_Atomic uint32_t *head, struct pk_idx_stack *p, uint32_t first, uint32_t last)
{
	/* Relaxed: the CAS validates it. */
	uint32_t h = atomic_load_explicit(head, memory_order_relaxed);

	do {
		/* Relaxed: published by the release CAS. */
		atomic_store_explicit(&p->next[last], h, memory_order_relaxed);
		/* Release: pairs with the acquire exchange in sweep_retire;
		 * everything this thread did to the object (unlinking it) is
		 * visible to the sweep and so to the RCU callback. */
	} while (!atomic_compare_exchange_weak_explicit(head, &h, first + 1, memory_order_release,
							memory_order_relaxed));
}

/* The owner's cache count: relaxed, only so that pk_calltab_free_count may
 * read it from another thread; the owner is its only writer. */
static inline uint32_t cache_n(const struct pk_ct_thread *th)
{
	return atomic_load_explicit(&th->ncache, memory_order_relaxed);
}

static inline void cache_set(struct pk_ct_thread *th, uint32_t n)
{
	atomic_store_explicit(&th->ncache, n, memory_order_relaxed);
}

/*
 * Take up to n entries off the shared pool with one CAS (into out[]):
 * read the head, follow n links, swing the head past them. The head's tag
 * changes on every push and pop, so the CAS succeeds only if nothing
 * touched the stack since the head was read -- and then the links followed
 * were those of the stack (objects on the stack are not relinked). Links
 * read from a stack that changed meanwhile may be stale; they are only
 * used after a successful CAS. Returns how many were taken.
 */
static uint32_t pool_pop_n(struct pk_idx_stack *p, uint32_t *out, uint32_t n)
{
	/* Acquire: pairs with the release CAS of pk_idx_stack_push_chain (the
	 * RCU callback): the entries' recycled contents and every link
	 * written before the head we read are visible (the head's CASes form
	 * a release sequence). */
	uint64_t h = atomic_load_explicit(&p->head, memory_order_acquire);

	for (;;) {
		uint32_t k = 0, top = (uint32_t)h;

		while (top != 0 && k < n) {
			out[k++] = top - 1;
			/* Relaxed: validated by the tagged CAS below. */
			top = atomic_load_explicit(&p->next[top - 1], memory_order_relaxed);
		}
		if (k == 0)
			return 0;
		/* Acquire on success and failure: same pairing as above. */
		if (atomic_compare_exchange_weak_explicit(&p->head, &h, (((h >> 32) + 1) << 32) | top,
							  memory_order_acquire, memory_order_acquire))
			return k;
	}
}

/* Raise ent_used past the n entries a refill took. Relaxed: a bound on
 * where the sweep and the listing look, not a publication. An entry is
 * inserted (its state published by a release CAS) after this store, in
 * the same thread; a sweep that still reads the old bound leaves the new
 * entries to the next one (they expire seconds later, not now). */
static void ent_used_raise(struct pk_calltab *t, const uint32_t *idx, uint32_t n)
{
	uint32_t hi = 0, cur = atomic_load_explicit(&t->ent_used, memory_order_relaxed);

	for (uint32_t k = 0; k < n; k++)
		if (idx[k] + 1 > hi)
			hi = idx[k] + 1;
	while (hi > cur && !atomic_compare_exchange_weak_explicit(&t->ent_used, &cur, hi, memory_order_relaxed,
								  memory_order_relaxed))
		;
}

static uint32_t ent_alloc(struct pk_calltab *t, struct pk_ct_thread *th)
{
	uint32_t n = cache_n(th);

	if (n == 0) {
		n = pool_pop_n(&t->ent_pool, th->cache, PK_CT_REFILL);
		if (n == 0)
			return PK_CT_NONE;
		ent_used_raise(t, th->cache, n);
	}
	cache_set(th, n - 1);
	/* The entry the next insert will take: its lines are usually in
	 * another core's cache (the entries freed by every worker's calls
	 * come back through the shared pool) or in none. Start fetching them
	 * for writing now, so that the next insert finds them here instead of
	 * waiting a cross-core transfer on each of the lines it fills. */
	if (n > 1) {
		const char *nx = (const char *)pk_ct_ent(t, th->cache[n - 2]);

		/* the header and the start of the strings (entries are not
		 * line-aligned: five lines cover the first 256 bytes) */
		__builtin_prefetch(nx, 1, 3);
		__builtin_prefetch(nx + 64, 1, 3);
		__builtin_prefetch(nx + 128, 1, 3);
		__builtin_prefetch(nx + 192, 1, 3);
		__builtin_prefetch(nx + 255, 1, 3);
	}
	return th->cache[n - 1];
}

/* A free claim record from the owner's cache, refilled from the shared
 * pool crefill at a time with one CAS; PK_CT_NONE when there is none. */
static uint32_t claim_alloc(struct pk_calltab *t, struct pk_ct_thread *th)
{
	/* Relaxed: owner-written count, read by pk_calltab_check_idle. */
	uint32_t n = atomic_load_explicit(&th->nccache, memory_order_relaxed);

	if (n == 0) {
		n = pool_pop_n(&t->claim_pool, th->ccache, t->crefill);
		if (n == 0)
			return PK_CT_NONE;
	}
	atomic_store_explicit(&th->nccache, n - 1, memory_order_relaxed);
	return th->ccache[n - 1];
}

/* Give back the claim record claim_alloc just returned, never published
 * (nobody else can have read it): back on top of the owner's cache. */
static void claim_unalloc(struct pk_ct_thread *th, uint32_t ri)
{
	/* Relaxed: owner-written count (see claim_alloc). */
	uint32_t n = atomic_load_explicit(&th->nccache, memory_order_relaxed);

	th->ccache[n] = ri; /* room: claim_alloc took it from here */
	atomic_store_explicit(&th->nccache, n + 1, memory_order_relaxed);
}

/* ---- entries ---- */

/* Drop one list-link reference (the sweep, which alone unlinks); the last
 * one retires the entry: onto the sweep's own chain, which the next
 * sweep_retire hands to RCU whole, together with the entry's large block.
 * The links and the block's fields are the control thread's to write:
 * nobody else touches a retired entry's pool link, and its fields were
 * written before it was published (the sweep reached it by acquire). */
static void ent_put(struct pk_calltab *t, uint32_t idx)
{
	struct pk_ct_entry *e = pk_ct_ent(t, idx);

	/* acq_rel: kept from when any thread could unlink; the sweep is the
	 * only decrementer now, so this orders nothing it needs. */
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* Relaxed: the chain is published to the RCU callback by the
	 * control thread itself (pk_rcu_defer, then the callback runs on
	 * the thread calling pk_rcu_reclaim after a grace period). */
	atomic_store_explicit(&t->ent_pool.next[idx], t->rt_ents, memory_order_relaxed);
	if (t->rt_ents == 0)
		t->rt_ents_last = idx;
	t->rt_ents = idx + 1;
	t->rt_nents++;
	if (e->ext) {
		uint32_t x = e->ext - 1;

		/* Relaxed: as above. e->ext stays set (readers in their
		 * grace period still read the strings there); the next
		 * insert into the entry overwrites it. */
		atomic_store_explicit(&t->ext_pool.next[x], t->rt_ext, memory_order_relaxed);
		if (t->rt_ext == 0)
			t->rt_ext_last = x;
		t->rt_ext = x + 1;
	}
}

static inline bool st_live(unsigned st)
{
	return st == PK_CT_TRYING || st == PK_CT_TAGGING || st == PK_CT_RINGING || st == PK_CT_CLAIMED;
}

static inline bool past(uint64_t now, uint64_t since, uint64_t timeout)
{
	/* Signed: a worker's loop timestamp may be a little ahead of now. */
	return (int64_t)(now - since) > (int64_t)timeout;
}

/* Fill a view of entry idx whose state word was s (loaded with acquire). */
static void view_fill(const struct pk_calltab *t, const struct pk_ct_entry *e, uint32_t idx, uint64_t s,
		      struct pk_calltab_call *out)
{
	unsigned st = PK_CT_ST(s);
	const char *base = pk_ct_base(t, e);
	const char *p;

	if (out == NULL)
		return;
	out->idx = idx;
	out->gen = PK_CT_GEN(s);
	out->state = st == PK_CT_RINGING		       ? PK_CALLTAB_RINGING
		     : st == PK_CT_CLAIMED		       ? PK_CALLTAB_CLAIMED
		     : st == PK_CT_DEAD || st == PK_CT_GONE ? PK_CALLTAB_DEAD
		     : st == PK_CT_FREE		       ? PK_CALLTAB_FREE
							       : PK_CALLTAB_TRYING;
	out->invite_ns = e->invite_ns;
	out->hash = e->hash;
	out->call_id = pk_ct_str(t, e, PK_CT_S_CALL_ID);
	out->from_tag = pk_ct_str(t, e, PK_CT_S_FROM_TAG);
	out->contact = pk_ct_str(t, e, PK_CT_S_CONTACT);
	out->caller = pk_ct_str(t, e, PK_CT_S_CALLER);
	out->callee = pk_ct_str(t, e, PK_CT_S_CALLEE);
	/* The To-tag is only read once the state says it was published (the
	 * release CAS TAGGING->RINGING, seen by the caller's acquire load;
	 * GONE comes after CLAIMED, which came after RINGING). */
	if (st == PK_CT_RINGING || st == PK_CT_CLAIMED || st == PK_CT_GONE)
		out->to_tag = pk_str_make(base + e->off[PK_CT_S_TO_TAG], e->to_len);
	else
		out->to_tag = PK_STR_NULL;
	out->nrr = e->nrr;
	p = base + e->off[PK_CT_S_RR];
	for (uint32_t i = 0; i < e->nrr; i++) {
		uint16_t l;

		memcpy(&l, p, 2);
		out->rr[i] = pk_str_make(p + 2, l);
		p += 2 + l;
	}
	out->ngroups = e->ngroups;
	/* a word at a time: usually one group, where a memcpy call of a
	 * variable size cost more than the copy */
	for (uint32_t i = 0; i < e->ngroups; i++)
		out->groups[i] = pk_ct_groups_c(e)[i];
	out->src = e->src;
}

/* ---- group lists ---- */

static inline _Atomic uint32_t *link_word(const struct pk_calltab *t, uint32_t l)
{
	return &pk_ct_ent(t, PK_CT_LINK_IDX(l))->next[PK_CT_LINK_SLOT(l)];
}

/* The word holding link l's successor; link 0 is the group's head. */
static inline _Atomic uint32_t *pred_word(const struct pk_calltab *t, uint32_t g, uint32_t l)
{
	return l ? link_word(t, l) : &t->grp[g].head;
}

/* Is the pair (link a, link b) out of arrival order? (No pair with the head.) */
static inline bool pair_unsorted(const struct pk_calltab *t, uint32_t a, uint32_t b)
{
	return a != 0 && pk_ct_ent(t, PK_CT_LINK_IDX(b))->invite_ns <=
				 pk_ct_ent(t, PK_CT_LINK_IDX(a))->invite_ns;
}

/* Swing the tail from tv (tag, link) to link to (one try; the tag makes a
 * stale try fail). Release: pairs with the acquire loads of the tail. */
static inline void tail_move(struct pk_ct_group *gr, uint64_t tv, uint32_t to)
{
	atomic_compare_exchange_strong_explicit(&gr->tail, &tv, (((tv >> 32) + 1) << 32) | to,
						memory_order_release, memory_order_relaxed);
}

/* Take the sealed last link cur out of the predecessor's word pw, keeping
 * the predecessor's own mark (it may be removed too). Idempotent: the sweep
 * and any appender that found the seal may both try. */
static void detach_last(_Atomic uint32_t *pw, uint32_t cur)
{
	/* Acquire: the word's current value (pairs with the release CASes). */
	uint32_t pv = atomic_load_explicit(pw, memory_order_acquire);

	/* acq_rel: against a remover's mark (then retry) or another helper. */
	while ((pv & PK_CT_LMASK) == cur && !(pv & PK_CT_SEAL) &&
	       !atomic_compare_exchange_weak_explicit(pw, &pv, pv & PK_CT_MARK, memory_order_acq_rel,
						      memory_order_acquire))
		;
}

/*
 * Append link l (entry written, not yet published) to group g's list:
 * Michael-Scott, on the next word of the link the tail names. A tail that
 * lags (its word names a successor) is moved on first; a sealed tail (the
 * sweep is taking that link out) is helped out of the list first. The pair
 * (old last, l) is counted in `unsorted` before the link is published, so
 * that a claim that can see l ringing sees the count.
 */
static void list_append(struct pk_calltab *t, uint32_t g, uint32_t l, uint64_t at)
{
	struct pk_ct_group *gr = &t->grp[g];

	/* Relaxed: published by the release CAS below. */
	atomic_store_explicit(link_word(t, l), 0, memory_order_relaxed);
	for (;;) {
		/* Acquire: pairs with the release tail moves; the link it
		 * names was published before (its entry is readable). */
		uint64_t tv = atomic_load_explicit(&gr->tail, memory_order_acquire);
		uint32_t tl = (uint32_t)tv;
		_Atomic uint32_t *w = pred_word(t, g, tl);
		/* Acquire: pairs with the release CASes on link words. */
		uint32_t nx = atomic_load_explicit(w, memory_order_acquire);
		bool bad;

		if (nx & PK_CT_SEAL) {
			detach_last(pred_word(t, g, nx & PK_CT_LMASK), tl);
			tail_move(gr, tv, nx & PK_CT_LMASK);
			continue;
		}
		if (nx & PK_CT_LMASK) {
			tail_move(gr, tv, nx & PK_CT_LMASK);
			continue;
		}
		bad = tl != 0 && at <= pk_ct_ent(t, PK_CT_LINK_IDX(tl))->invite_ns;
		if (bad)
			/* Relaxed: a count; it reaches claims through the
			 * release CAS below and the insert's later ones. */
			atomic_fetch_add_explicit(&gr->unsorted, 1, memory_order_relaxed);
		/* Release: publishes the entry to list walkers (acquire
		 * loads of links). The word is 0 or MARK|0 (a removed last
		 * link, whose mark stays). */
		if (atomic_compare_exchange_strong_explicit(w, &nx, (nx & PK_CT_MARK) | l,
							    memory_order_release, memory_order_relaxed)) {
			tail_move(gr, tv, l);
			return;
		}
		if (bad)
			/* Relaxed: undoes the count above (no pair was made). */
			atomic_fetch_sub_explicit(&gr->unsorted, 1, memory_order_relaxed);
	}
}

static void dirty_set(struct pk_calltab *t, uint32_t g)
{
	_Atomic uint64_t *w = &t->dirty[g / 64];
	uint64_t bit = 1ull << (g % 64);

	/* Pre-check without an RMW: between two sweeps a busy group's bit is
	 * usually set already, and a load keeps the word shared among cores
	 * instead of bouncing it. seq_cst, like the marking fetch_or before it
	 * and the sweep's exchange and walk: if this load sees the bit, it
	 * precedes the sweep's exchange in the single total order, and so does
	 * our mark, which the sweep's walk (after its exchange) then sees. On
	 * x86 a seq_cst load is a plain load. */
	if (atomic_load_explicit(w, memory_order_seq_cst) & bit)
		return;
	/* Release: pairs with the acquire exchange in the sweep; the marks
	 * set before are visible to its walk. */
	atomic_fetch_or_explicit(w, bit, memory_order_release);
}

/*
 * Walk group g's list and unlink every marked link met (Harris; the sweep
 * is the only unlinker). A marked link with a successor: the predecessor's
 * word goes from it to the successor (keeping the predecessor's own mark),
 * the tail is moved past it first if it names it. A marked last link: its
 * word is sealed (MARK|SEAL|predecessor) so that nothing is appended after
 * it, then cut from the predecessor, and the tail moved back to the
 * predecessor (tagged, so the appender's own late tail move cannot put it
 * back). `unsorted` loses the pairs that go and gains the one made.
 * Returns false if it gave up (hop limit, or too many restarts).
 */
static bool list_clean(struct pk_calltab *t, uint32_t g, uint32_t max_hops)
{
	struct pk_ct_group *gr = &t->grp[g];
	unsigned restarts = 0;

restart:;
	uint32_t prev = 0, hops = 0, live = 0;
	_Atomic uint32_t *pw = &gr->head;
	/* seq_cst (acquire at least): pairs with the release CASes that
	 * published links; seq_cst for the argument in dirty_set. */
	uint32_t cur = PK_CT_NEXT(atomic_load_explicit(pw, memory_order_seq_cst));

	while (cur != 0) {
		_Atomic uint32_t *cw = link_word(t, cur);
		/* seq_cst: pairs with list_append (a successor published,
		 * release) and with the marking fetch_or in ent_kill (see
		 * dirty_set). */
		uint32_t nx = atomic_load_explicit(cw, memory_order_seq_cst), succ = PK_CT_NEXT(nx);
		int32_t delta;

		if (++hops > max_hops)
			return false;
		if (!(nx & PK_CT_MARK)) {
			prev = cur;
			pw = cw;
			cur = succ;
			live++;
			continue;
		}
		/* Acquire: pairs with the release tail moves. */
		uint64_t tv = atomic_load_explicit(&gr->tail, memory_order_acquire);

		if (succ != 0) {
			if ((uint32_t)tv == cur)
				tail_move(gr, tv, succ);
			/* Acquire: the predecessor's word as it is now. */
			uint32_t pv = atomic_load_explicit(pw, memory_order_acquire);

			do {
				if ((pv & PK_CT_LMASK) != cur || (pv & PK_CT_SEAL)) {
					if (++restarts > 8)
						return false;
					goto restart;
				}
				/* acq_rel: release keeps the chain of release
				 * stores for walkers that read the word next;
				 * a failure is a remover marking the
				 * predecessor: retry with its mark. */
			} while (!atomic_compare_exchange_weak_explicit(pw, &pv, (pv & PK_CT_MARK) | succ,
									memory_order_acq_rel,
									memory_order_acquire));
			delta = (int32_t)pair_unsorted(t, prev, succ) - (int32_t)pair_unsorted(t, prev, cur) -
				(int32_t)pair_unsorted(t, cur, succ);
		} else {
			if ((uint32_t)tv != cur) {
				/* The appender of cur has not moved the tail
				 * yet: do it, then look at cur again. */
				if ((uint32_t)tv == prev)
					tail_move(gr, tv, cur);
				if (++restarts > 8)
					return false;
				continue;
			}
			/* Seal: fails if a call was appended meanwhile (then
			 * cur has a successor: look again). acq_rel: one
			 * winner against appenders' CASes on this word. */
			if (!atomic_compare_exchange_strong_explicit(cw, &nx, PK_CT_MARK | PK_CT_SEAL | prev,
								     memory_order_acq_rel,
								     memory_order_acquire)) {
				if (++restarts > 8)
					return false;
				continue;
			}
			detach_last(pw, cur);
			tail_move(gr, tv, prev);
			delta = -(int32_t)pair_unsorted(t, prev, cur);
		}
		/* Release: pairs with the acquire load of claim_scan, which
		 * then walks the list as unlinked here. */
		if (delta)
			atomic_fetch_add_explicit(&gr->unsorted, delta, memory_order_release);
		/* Relaxed: a count for the heuristics in ent_kill. */
		atomic_fetch_sub_explicit(&gr->dead, 1, memory_order_relaxed);
		ent_put(t, PK_CT_LINK_IDX(cur));
		cur = succ;
	}
	/* Relaxed: the length the removers' heuristic compares with (only
	 * the sweep writes it; appends since are not counted, so the next
	 * walk may come early, never late). */
	atomic_store_explicit(&gr->len, live, memory_order_relaxed);
	return true;
}

/* End claim record r if it is still in state `from`: the winner of the CAS
 * takes it out of the claim index and retires it. */
static bool claim_end(struct pk_calltab *t, struct pk_ct_thread *th, uint32_t r, uint32_t from)
{
	struct pk_ct_claim *c = &t->claims[r];

	/* acq_rel: exactly one thread ends a claim (settle against sweep);
	 * acquire so that hpos (written before the record was published) is
	 * read right, release pairs with the acquire loads of live. */
	if (!atomic_compare_exchange_strong_explicit(&c->live, &from, PK_CT_CLAIM_FREE,
						     memory_order_acq_rel, memory_order_relaxed))
		return false;
	pk_ct_ix_remove(&t->kix, c->hash, c->hpos);
	retire_push(&th->claim_retire, &t->claim_pool, r, r);
	return true;
}

/*
 * Take entry idx out of every index. The caller has just moved its state
 * to DEAD with a CAS: it is the only thread doing this for this
 * incarnation. in_index: the entry's Call-ID slot is still there to
 * remove (false for an insert that lost a duplicate race, and for a GONE
 * entry, whose remover took the slot out already).
 */
static void ent_kill(struct pk_calltab *t, uint32_t idx, bool in_index)
{
	struct pk_ct_entry *e = pk_ct_ent(t, idx);
	uint32_t ng = e->ngroups, groups[PK_CALLTAB_MAX_GROUPS];

	/* Only the ng words: the bytes past them are the entry's strings,
	 * where another worker may be writing the To-tag right now (a
	 * TAGGING entry killed under pk_calltab_ringing). A loop of at most
	 * eight words, no library call. */
	const uint32_t *src = pk_ct_groups(e);
	for (uint32_t i = 0; i < ng && i < PK_CALLTAB_MAX_GROUPS; i++)
		groups[i] = src[i];
	/* The slot goes first: the entry is retired when its last link is
	 * unlinked, which cannot happen before the marks below. */
	if (in_index)
		pk_ct_ix_remove(&t->cix, e->hash, e->hpos);
	for (uint32_t i = 0; i < ng; i++)
		/* seq_cst (see dirty_set); it also releases to the sweep's
		 * walk, which unlinks the link. The mark freezes next[i]:
		 * every CAS on it expects an unmarked value. */
		atomic_fetch_or_explicit(&e->next[i], PK_CT_MARK, memory_order_seq_cst);
	/* Unlinking needs the predecessor, i.e. a walk from the head, and
	 * taking out a last link needs the seal dance of list_clean. So the
	 * worker leaves both to the sweep (control thread), the lists' only
	 * unlinker: a removal costs no list walk at all. And the sweep walks a
	 * list only once a quarter of it is dead (or on its periodic full
	 * pass), so that a walk unlinks several links: the walking per
	 * removed call stays a small constant however long the list. */
	for (uint32_t i = 0; i < ng; i++) {
		struct pk_ct_group *gr = &t->grp[groups[i]];
		/* Relaxed: counts; the links are ordered by the mark. */
		int32_t d = (int32_t)atomic_fetch_add_explicit(&gr->dead, 1, memory_order_relaxed) + 1;
		int32_t n = (int32_t)atomic_load_explicit(&gr->len, memory_order_relaxed);

		if ((int64_t)d * 4 >= n)
			dirty_set(t, groups[i]);
	}
}

/* ---- create / destroy ---- */

static size_t align_up(size_t n)
{
	return (n + PK_CT_CACHELINE - 1) & ~(size_t)(PK_CT_CACHELINE - 1);
}


struct pk_calltab *pk_calltab_create(const struct pk_calltab_config *cfg)
{
	struct pk_calltab *t;
	size_t off = 0, o_ents, o_ext, o_claims, o_enext, o_xnext, o_cnext, o_cix, o_kix, o_grp,
	       o_dirty, o_thr;
	char *m;

	if (cfg == NULL || cfg->rcu == NULL || cfg->capacity == 0 ||
	    cfg->capacity > PK_CT_MAX_CAPACITY || cfg->max_groups == 0 ||
	    cfg->max_groups > (1u << 24) || cfg->max_threads == 0 || cfg->max_threads > 4096 ||
	    cfg->ring_timeout_ns > INT64_MAX || cfg->claim_timeout_ns > INT64_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = aligned_alloc(PK_CT_CACHELINE, align_up(sizeof(*t)));
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->cap = cfg->capacity;
	t->next_blocks = cfg->ext_blocks ? cfg->ext_blocks : (cfg->capacity / 64 ? cfg->capacity / 64 : 1);
	/* A record is held from the pickup INVITE to its answer, then for a
	 * grace period (up to a housekeeping tick, 10 ms in pickupd): a
	 * sixteenth of the calls recycles ~400,000 pickups a second at
	 * capacity 65,536, above the bench mix's one pickup a call at 2 M
	 * messages a second (docs/calltab.md). */
	t->nclaims = cfg->claim_records ? cfg->claim_records
					: (cfg->capacity / 16 > 64 ? cfg->capacity / 16 : 64);
	/* Small pools are not spread over thread caches (a claim could find
	 * "full" while other threads hold records). */
	t->crefill = t->nclaims / (8 * cfg->max_threads);
	t->crefill = t->crefill < 1 ? 1 : t->crefill > PK_CT_CCACHE ? PK_CT_CCACHE : t->crefill;
	if (t->nclaims > PK_CT_MAX_REFS) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	t->max_groups = cfg->max_groups;
	t->max_threads = cfg->max_threads;
	t->ndirty = (cfg->max_groups + 63) / 64;
	/* Relaxed: t is handed to other threads by something that
	 * synchronises (see the end of this function). */
	atomic_init(&t->ring_timeout, cfg->ring_timeout_ns ? cfg->ring_timeout_ns : INT64_MAX);
	atomic_init(&t->claim_timeout, cfg->claim_timeout_ns ? cfg->claim_timeout_ns : INT64_MAX);
	t->rcu = cfg->rcu;
	t->cix.nb = pk_ct_ix_buckets(t->cap);
	t->cix.kind = PK_CT_KIND_CALL;
	t->kix.nb = pk_ct_ix_buckets(t->nclaims);
	t->kix.kind = PK_CT_KIND_CLAIM;

	o_ents = off, off += align_up((size_t)t->cap * sizeof(struct pk_ct_entry));
	o_ext = off, off += align_up((size_t)t->next_blocks * PK_CT_EXT_SIZE);
	o_claims = off, off += align_up((size_t)t->nclaims * sizeof(struct pk_ct_claim));
	o_enext = off, off += align_up((size_t)t->cap * 4);
	o_xnext = off, off += align_up((size_t)t->next_blocks * 4);
	o_cnext = off, off += align_up((size_t)t->nclaims * 4);
	o_cix = off, off += align_up((size_t)t->cix.nb * sizeof(struct pk_ct_bucket));
	o_kix = off, off += align_up((size_t)t->kix.nb * sizeof(struct pk_ct_bucket));
	o_grp = off, off += align_up((size_t)t->max_groups * sizeof(struct pk_ct_group));
	o_dirty = off, off += align_up((size_t)t->ndirty * 8);
	o_thr = off, off += align_up((size_t)t->max_threads * sizeof(struct pk_ct_thread));

	m = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
#ifdef MADV_HUGEPAGE
	(void)madvise(m, off, MADV_HUGEPAGE); /* fewer TLB misses; best effort */
#endif
	/* Touch everything now: no page fault on the packet path. Zero is a
	 * valid initial value for every field (FREE, generation 0, empty
	 * slots, empty lists). */
	memset(m, 0, off);
	t->map = m;
	t->map_len = off;
	t->ents = (struct pk_ct_entry *)(m + o_ents);
	t->ext = m + o_ext;
	t->claims = (struct pk_ct_claim *)(m + o_claims);
	t->cix.b = (struct pk_ct_bucket *)(m + o_cix);
	t->kix.b = (struct pk_ct_bucket *)(m + o_kix);
	t->grp = (struct pk_ct_group *)(m + o_grp);
	t->dirty = (_Atomic uint64_t *)(m + o_dirty);
	t->thr = (struct pk_ct_thread *)(m + o_thr);
	pk_idx_stack_init(&t->ent_pool, (_Atomic uint32_t *)(m + o_enext), t->cap);
	pk_idx_stack_init(&t->ext_pool, (_Atomic uint32_t *)(m + o_xnext), t->next_blocks);
	pk_idx_stack_init(&t->claim_pool, (_Atomic uint32_t *)(m + o_cnext), t->nclaims);
	/* The creating thread hands t to the others through something that
	 * synchronises (thread creation, a release store): plain init. */
	return t;
}

void pk_calltab_destroy(struct pk_calltab *t)
{
	if (t == NULL)
		return;
	munmap(t->map, t->map_len);
	free(t);
}

void pk_calltab_set_timeouts(struct pk_calltab *t, uint64_t ring_timeout_ns, uint64_t claim_timeout_ns)
{
	/* Relaxed stores: tunables, nothing is published with them (see
	 * struct pk_calltab). Above INT64_MAX means "never", as INT64_MAX. */
	if (ring_timeout_ns)
		atomic_store_explicit(&t->ring_timeout,
				      ring_timeout_ns > INT64_MAX ? INT64_MAX : ring_timeout_ns,
				      memory_order_relaxed);
	if (claim_timeout_ns)
		atomic_store_explicit(&t->claim_timeout,
				      claim_timeout_ns > INT64_MAX ? INT64_MAX : claim_timeout_ns,
				      memory_order_relaxed);
}

void pk_calltab_get_timeouts(const struct pk_calltab *t, uint64_t *ring_ns, uint64_t *claim_ns)
{
	/* Relaxed: see pk_calltab_set_timeouts. */
	uint64_t r = atomic_load_explicit(&t->ring_timeout, memory_order_relaxed);
	uint64_t c = atomic_load_explicit(&t->claim_timeout, memory_order_relaxed);

	if (ring_ns)
		*ring_ns = r == INT64_MAX ? 0 : r;
	if (claim_ns)
		*claim_ns = c == INT64_MAX ? 0 : c;
}

size_t pk_calltab_memory(const struct pk_calltab *t)
{
	return t->map_len + align_up(sizeof(*t));
}

/* ---- insert / find / ringing / remove ---- */

/* One string into the entry. pk_copy_short (inline up to 64 bytes): a
 * call's strings are short (Call-ID ~40 bytes, tags ~10, AoRs ~25), and a
 * library call for each of its five or more cost more than the copy. */
static void put_str(char *base, uint32_t *off, uint16_t *o, uint16_t *l, struct pk_str s)
{
	*o = (uint16_t)*off;
	*l = (uint16_t)s.len;
	pk_copy_short(base + *off, s.p, s.len);
	*off += s.len;
}

int pk_calltab_insert(struct pk_calltab *t, unsigned tid, const struct pk_calltab_new *c)
{
	struct pk_ct_thread *th = &t->thr[tid];
	uint32_t groups[PK_CALLTAB_MAX_GROUPS] = { 0 }, ng = 0, idx, x = PK_CT_NONE, off = 0, cap, gen;
	const struct pk_ct_key key = { c->call_id, c->from_tag };
	struct pk_ct_entry *e;
	uint64_t hash, s;
	size_t need;
	char *base;
	int rc;

	if (c->ngroups == 0 || c->groups == NULL || (c->nrr > 0 && c->rr == NULL))
		return -EINVAL;
	for (uint32_t i = 0; i < c->ngroups; i++) {
		uint32_t g = c->groups[i], j;

		if (g >= t->max_groups)
			return -EINVAL;
		for (j = 0; j < ng && groups[j] != g; j++)
			;
		if (j < ng)
			continue;
		if (ng == PK_CALLTAB_MAX_GROUPS) {
			ctr_inc(th, PK_CALLTAB_CTR_GROUPS_TRUNCATED);
			break;
		}
		groups[ng++] = g;
	}
	need = (size_t)c->call_id.len + c->from_tag.len + c->contact.len + c->caller.len + c->callee.len;
	for (uint32_t i = 0; i < c->nrr && i <= PK_CALLTAB_MAX_RR; i++)
		need += 2 + (size_t)c->rr[i].len;
	if (c->nrr > PK_CALLTAB_MAX_RR || need + PK_CT_TAG_MIN > PK_CALLTAB_STRINGS_MAX) {
		ctr_inc(th, PK_CALLTAB_CTR_TOO_BIG);
		return -E2BIG;
	}
	hash = c->hash ? c->hash : pk_calltab_key_hash(c->call_id, c->from_tag);
	if (pk_ct_ix_lookup_absent(t, &t->cix, hash, &key) != PK_CT_NONE) {
		ctr_inc(th, PK_CALLTAB_CTR_DUPLICATE);
		return -EEXIST;
	}
	idx = ent_alloc(t, th);
	if (idx == PK_CT_NONE) {
		ctr_inc(th, PK_CALLTAB_CTR_FULL);
		return -ENOSPC;
	}
	if (4 * ng + need + PK_CT_TAG_MIN > PK_CT_INLINE) {
		x = pk_idx_stack_pop(&t->ext_pool);
		if (x == PK_CT_NONE) {
			/* never published: straight back */
			th->cache[cache_n(th)] = idx;
			cache_set(th, cache_n(th) + 1);
			ctr_inc(th, PK_CALLTAB_CTR_EXT_FULL);
			return -ENOSPC;
		}
		ctr_inc(th, PK_CALLTAB_CTR_EXT_USED);
	}
	ctr_inc(th, PK_CALLTAB_CTR_ALLOC);
	/* list_append will read each group's tail and the arrival time of
	 * the call it names (usually a cache miss: the group's last call came
	 * a while ago): start those loads now, so that they overlap with
	 * filling the entry. Relaxed: a hint only; list_append loads again. */
	for (uint32_t i = 0; i < ng; i++) {
		uint32_t tl = (uint32_t)atomic_load_explicit(&t->grp[groups[i]].tail, memory_order_relaxed);

		if (tl)
			__builtin_prefetch(&pk_ct_ent(t, PK_CT_LINK_IDX(tl))->invite_ns, 0, 3);
	}

	/* The entry is ours until list_append publishes it: plain stores. */
	e = pk_ct_ent(t, idx);
	/* Relaxed: the last write was the DEAD of its previous incarnation
	 * (or the initial zero), which happens before the sweep retired it and
	 * so before the pool push we popped with acquire. The generation
	 * names this new incarnation: a CAS by a thread still holding an old
	 * state word fails. */
	gen = PK_CT_GEN(atomic_load_explicit(&e->state, memory_order_relaxed)) + 1;
	e->invite_ns = c->invite_ns;
	e->hash = hash;
	e->caller_h = aor_hash(c->caller);
	e->callee_h = aor_hash(c->callee);
	e->ext = x == PK_CT_NONE ? 0 : x + 1;
	e->ngroups = (uint8_t)ng;
	e->nrr = (uint8_t)c->nrr;
	e->src = c->src;
	base = (char *)pk_ct_base(t, e);
	cap = e->ext ? PK_CT_EXT_SIZE : PK_CT_INLINE;
	/* All eight ids, a fixed-size copy (no library call): inline, the
	 * strings written next overwrite those past the first ng. */
	memcpy(pk_ct_groups(e), groups, sizeof(groups));
	if (!e->ext)
		off = 4 * ng; /* inline: strings after the group ids */
	put_str(base, &off, &e->off[PK_CT_S_CALL_ID], &e->len[PK_CT_S_CALL_ID], c->call_id);
	put_str(base, &off, &e->off[PK_CT_S_FROM_TAG], &e->len[PK_CT_S_FROM_TAG], c->from_tag);
	put_str(base, &off, &e->off[PK_CT_S_CONTACT], &e->len[PK_CT_S_CONTACT], c->contact);
	put_str(base, &off, &e->off[PK_CT_S_CALLER], &e->len[PK_CT_S_CALLER], c->caller);
	put_str(base, &off, &e->off[PK_CT_S_CALLEE], &e->len[PK_CT_S_CALLEE], c->callee);
	e->off[PK_CT_S_RR] = (uint16_t)off;
	for (uint32_t i = 0; i < c->nrr; i++) {
		uint16_t l = (uint16_t)c->rr[i].len;

		memcpy(base + off, &l, 2);
		pk_copy_short(base + off + 2, c->rr[i].p, l);
		off += 2u + l;
	}
	e->len[PK_CT_S_RR] = (uint16_t)(off - e->off[PK_CT_S_RR]);
	e->off[PK_CT_S_TO_TAG] = (uint16_t)off;
	e->len[PK_CT_S_TO_TAG] = 0;
	e->to_cap = (uint8_t)(cap - off < PK_CALLTAB_TAG_MAX ? cap - off : PK_CALLTAB_TAG_MAX);
	e->to_len = 0;
	/* Relaxed: published by list_append's release CAS. One reference per
	 * list link (the index slot is always removed before the links). */
	atomic_store_explicit(&e->refs, ng, memory_order_relaxed);
	atomic_store_explicit(&e->state, PK_CT_MK(gen, PK_CT_INIT, 0), memory_order_relaxed);
	for (uint32_t i = 0; i < ng; i++)
		list_append(t, groups[i], PK_CT_LINK(idx, i), c->invite_ns);

	/* Linked first, indexed last: whoever finds the call by its key finds
	 * it fully linked, so a remover can always unlink all of it. */
	rc = pk_ct_ix_insert(t, &t->cix, hash, idx, &key, &e->hpos, false);
	if (rc != 0) {
		/* Lost a duplicate race (or, with a correctly sized index,
		 * never: no slot). Nobody can reach the entry by key, list
		 * walkers skip INIT: we alone kill it. Release: pairs with the
		 * walkers' acquire loads of state. */
		atomic_store_explicit(&e->state, PK_CT_MK(gen, PK_CT_DEAD, 0), memory_order_release);
		ent_kill(t, idx, false);
		ctr_inc(th, rc == -EEXIST ? PK_CALLTAB_CTR_DUPLICATE : PK_CALLTAB_CTR_FULL);
		return rc == -EEXIST ? -EEXIST : -ENOSPC;
	}
	s = PK_CT_MK(gen, PK_CT_INIT, 0);
	/* Release: pairs with the acquire loads of state by every reader
	 * (hpos, written by the index insert, is now visible too). It fails
	 * only if a remover that found the key already made the call DEAD:
	 * that remover cleans up. */
	atomic_compare_exchange_strong_explicit(&e->state, &s, PK_CT_MK(gen, PK_CT_TRYING, 0),
						memory_order_release, memory_order_relaxed);
	ctr_inc(th, PK_CALLTAB_CTR_INSERTED);
	return 0;
}

static uint32_t find_call(struct pk_calltab *t, struct pk_ct_thread *th, struct pk_str call_id,
			  struct pk_str from_tag, uint64_t hash)
{
	const struct pk_ct_key key = { call_id, from_tag };
	uint32_t idx;

	if (hash == 0)
		hash = pk_calltab_key_hash(call_id, from_tag);
	idx = pk_ct_ix_lookup(t, &t->cix, hash, &key);
	if (idx == PK_CT_NONE)
		ctr_inc(th, PK_CALLTAB_CTR_LOOKUP_MISS);
	return idx;
}

int pk_calltab_find(struct pk_calltab *t, unsigned tid, struct pk_str call_id, struct pk_str from_tag,
		    uint64_t hash, struct pk_calltab_call *out)
{
	uint32_t idx = find_call(t, &t->thr[tid], call_id, from_tag, hash);
	const struct pk_ct_entry *e;
	uint64_t s;

	if (idx == PK_CT_NONE)
		return -ENOENT;
	e = pk_ct_ent(t, idx);
	/* Acquire: pairs with the release CAS that set this state (the
	 * To-tag, when RINGING, is visible). */
	s = atomic_load_explicit(&e->state, memory_order_acquire);
	if (PK_CT_ST(s) == PK_CT_DEAD || PK_CT_ST(s) == PK_CT_FREE || PK_CT_ST(s) == PK_CT_GONE)
		return -ENOENT;
	view_fill(t, e, idx, s, out);
	return 0;
}

int pk_calltab_ringing(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
		       struct pk_str from_tag, uint64_t hash, struct pk_str to_tag)
{
	struct pk_ct_thread *th = &t->thr[tid];
	uint32_t idx;
	struct pk_ct_entry *e;
	uint64_t s, exp;

	if (to_tag.len == 0)
		return -EINVAL;
	idx = find_call(t, th, call_id, from_tag, hash);
	if (idx == PK_CT_NONE)
		return -ENOENT;
	e = pk_ct_ent(t, idx);
	/* Acquire: pairs with the release CASes on the state word. */
	s = atomic_load_explicit(&e->state, memory_order_acquire);
	for (;;) {
		switch (PK_CT_ST(s)) {
		case PK_CT_TRYING:
			break;
		case PK_CT_TAGGING:
		case PK_CT_RINGING:
		case PK_CT_CLAIMED:
			return -EALREADY;
		default:
			return -ENOENT;
		}
		if (to_tag.len > e->to_cap) {
			ctr_inc(th, PK_CALLTAB_CTR_TAG_TOO_LONG);
			return -E2BIG;
		}
		/* Acquire (success and failure): the winner alone writes the
		 * To-tag; pairs with the release CASes on the state word. */
		if (atomic_compare_exchange_weak_explicit(&e->state, &s,
							  PK_CT_MK(PK_CT_GEN(s), PK_CT_TAGGING, 0),
							  memory_order_acquire, memory_order_acquire))
			break;
	}
	pk_copy_short((char *)pk_ct_base(t, e) + e->off[PK_CT_S_TO_TAG], to_tag.p, to_tag.len);
	e->to_len = (uint8_t)to_tag.len;
	exp = PK_CT_MK(PK_CT_GEN(s), PK_CT_TAGGING, 0);
	/* Release: publishes the To-tag; pairs with the acquire loads of the
	 * state in claim, find and foreach. Fails only if the call was removed
	 * or expired meanwhile. */
	if (!atomic_compare_exchange_strong_explicit(&e->state, &exp,
						     PK_CT_MK(PK_CT_GEN(s), PK_CT_RINGING, 0),
						     memory_order_release, memory_order_relaxed))
		return -ENOENT;
	ctr_inc(th, PK_CALLTAB_CTR_RINGING);
	return 0;
}

/* Remove entry idx (found by its key) whatever its live state; *was gets
 * the public state it had. A CLAIMED call becomes GONE: out of the
 * Call-ID index now (no longer found, its key free for a new call), its
 * links and strings kept for the claim until that ends (see
 * pk_calltab_remove). 0, or -ENOENT if it was removed already. */
static int ent_remove(struct pk_calltab *t, struct pk_ct_thread *th, uint32_t idx,
		      enum pk_calltab_state *was)
{
	struct pk_ct_entry *e = pk_ct_ent(t, idx);
	/* Acquire: pairs with the release CASes on the state word. */
	uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire), ns;

	do {
		unsigned st = PK_CT_ST(s);

		if (st == PK_CT_DEAD || st == PK_CT_FREE || st == PK_CT_GONE)
			return -ENOENT;
		ns = st == PK_CT_CLAIMED ? PK_CT_MK(PK_CT_GEN(s), PK_CT_GONE, PK_CT_CLAIM(s))
					 : PK_CT_MK(PK_CT_GEN(s), PK_CT_DEAD, 0);
		/* acq_rel: acquire, we then read the claim record s names;
		 * release, pairs with readers that see DEAD or GONE. */
	} while (!atomic_compare_exchange_weak_explicit(&e->state, &s, ns, memory_order_acq_rel,
							memory_order_acquire));
	*was = PK_CT_ST(s) == PK_CT_RINGING ? PK_CALLTAB_RINGING
	       : PK_CT_ST(s) == PK_CT_CLAIMED ? PK_CALLTAB_CLAIMED
					     : PK_CALLTAB_TRYING;
	if (PK_CT_ST(ns) == PK_CT_GONE)
		/* Only the slot: whoever ends the claim makes the entry DEAD
		 * and marks its links (ent_kill, in_index false). The entry
		 * is not retired before that, so the claim's readers keep
		 * reading its strings safely; and if that happens before
		 * this store, the entry still waits for our quiescent state
		 * (RCU) before it is reused, by when the slot is gone. */
		pk_ct_ix_remove(&t->cix, e->hash, e->hpos);
	else
		ent_kill(t, idx, true);
	ctr_inc(th, PK_CALLTAB_CTR_REMOVED);
	return 0;
}

int pk_calltab_remove(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
		      struct pk_str from_tag, uint64_t hash, enum pk_calltab_reason why)
{
	struct pk_ct_thread *th = &t->thr[tid];
	uint32_t idx = find_call(t, th, call_id, from_tag, hash);
	enum pk_calltab_state was;

	(void)why;
	if (idx == PK_CT_NONE)
		return -ENOENT;
	return ent_remove(t, th, idx, &was);
}

int pk_calltab_remove_was(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
			  struct pk_str from_tag, uint64_t hash, enum pk_calltab_reason why,
			  enum pk_calltab_state *was)
{
	struct pk_ct_thread *th = &t->thr[tid];
	uint32_t idx = find_call(t, th, call_id, from_tag, hash);

	(void)why;
	*was = PK_CALLTAB_DEAD;
	if (idx == PK_CT_NONE) {
		/* The second miss a find and then a remove counted (find_call
		 * counted the first): the counter keeps its meaning for the
		 * callers that replaced those two calls with this one. */
		ctr_inc(th, PK_CALLTAB_CTR_LOOKUP_MISS);
		return -ENOENT;
	}
	return ent_remove(t, th, idx, was);
}

/* ---- claims ---- */

/* The oldest claimable call of the request; *bs gets its state word. */
static uint32_t claim_scan(struct pk_calltab *t, struct pk_ct_thread *th,
			   const struct pk_calltab_claim_req *req, uint32_t ph, uint32_t ch,
			   uint64_t *bs)
{
	uint32_t best = PK_CT_NONE;
	uint64_t bt = 0;
	/* Relaxed: a tunable (see struct pk_calltab). */
	uint64_t rto = atomic_load_explicit(&t->ring_timeout, memory_order_relaxed);

	for (uint32_t gi = 0; gi < req->ngroups; gi++) {
		const struct pk_ct_group *gr = &t->grp[req->groups[gi]];
		/* Acquire: pairs with the sweep's release update after an
		 * unlink, so that the list we walk is at least as new as the
		 * count says. A pair appended before a call that rang before
		 * this claim began is counted before that call was published
		 * (list_append), so the count is not stale for it. While the
		 * list has no pair out of arrival order, its first claimable
		 * call is its oldest: stop there. */
		bool sorted = atomic_load_explicit(&gr->unsorted, memory_order_acquire) == 0;
		/* Acquire: pairs with list_append's release CAS (and the
		 * unlink CASes): the entries reached are fully written. */
		uint32_t l = atomic_load_explicit(&gr->head, memory_order_acquire);

		while (l != 0) {
			uint32_t idx = PK_CT_LINK_IDX(l);
			const struct pk_ct_entry *e = pk_ct_ent(t, idx);
			/* Acquire: same pairing, for the successor. */
			uint32_t nx = atomic_load_explicit(&e->next[PK_CT_LINK_SLOT(l)],
							   memory_order_acquire);
			/* Acquire: pairs with the release CAS that made it
			 * RINGING (To-tag published). */
			uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire);

			l = PK_CT_NEXT(nx);
			/* Sorted: nothing after a call younger than the best
			 * of the groups before can be older than it. */
			if (sorted && best != PK_CT_NONE && e->invite_ns > bt)
				break;
			if (PK_CT_ST(s) != PK_CT_RINGING || past(req->now_ns, e->invite_ns, rto))
				continue;
			if (best != PK_CT_NONE &&
			    (e->invite_ns > bt || (e->invite_ns == bt && idx >= best)))
				continue;
			if (req->callee.len &&
			    (e->callee_h != ch || !pk_str_eq(pk_ct_str(t, e, PK_CT_S_CALLEE), req->callee)))
				continue;
			if (req->picker.len && e->caller_h == ph &&
			    pk_str_eq(pk_ct_str(t, e, PK_CT_S_CALLER), req->picker)) {
				ctr_inc(th, PK_CALLTAB_CTR_CLAIM_SELF);
				continue;
			}
			best = idx;
			bt = e->invite_ns;
			*bs = s;
			if (sorted)
				break;
		}
	}
	return best;
}

/* Does claim record r (whose live state was BOUND) still hold its call,
 * CLAIMED, or GONE (removed meanwhile, its strings kept for the claim)?
 * Returns the entry index and its state word in *sp, or PK_CT_NONE. */
static uint32_t claim_call(const struct pk_calltab *t, uint32_t r, uint64_t *sp)
{
	/* Acquire: pairs with the release store in pk_calltab_claim made
	 * after the winning CAS (also implied by the acquire of live). */
	uint64_t ev = atomic_load_explicit(&t->claims[r].entry, memory_order_acquire);
	uint32_t idx;
	uint64_t s;

	if (ev == 0)
		return PK_CT_NONE;
	idx = (uint32_t)ev - 1;
	/* Acquire: pairs with the release CASes on the state word. The entry
	 * cannot be reused under us: it was CLAIMED(r) or GONE(r), and r was
	 * bound, when this read-side section began or later (a GONE entry is
	 * retired only after r's ender made it DEAD). */
	s = atomic_load_explicit(&pk_ct_ent(t, idx)->state, memory_order_acquire);
	if ((PK_CT_ST(s) != PK_CT_CLAIMED && PK_CT_ST(s) != PK_CT_GONE) || PK_CT_CLAIM(s) != r + 1 ||
	    PK_CT_GEN(s) != (ev >> 32))
		return PK_CT_NONE;
	*sp = s;
	return idx;
}

/* Key already bound to claim record r: give back its call (retransmission). */
static int claim_existing(struct pk_calltab *t, struct pk_ct_thread *th, uint32_t r,
			  struct pk_calltab_call *out)
{
	/* Acquire: pairs with the release store of BOUND in pk_calltab_claim. */
	uint32_t live = atomic_load_explicit(&t->claims[r].live, memory_order_acquire);
	uint32_t idx;
	uint64_t s;

	if (live == PK_CT_CLAIM_CHOOSING)
		return -EINPROGRESS;
	if (live != PK_CT_CLAIM_BOUND)
		return -EALREADY; /* ended just now */
	idx = claim_call(t, r, &s);
	if (idx == PK_CT_NONE || PK_CT_ST(s) == PK_CT_GONE)
		return -EALREADY; /* the call left meanwhile; the claim lasts */
	view_fill(t, pk_ct_ent(t, idx), idx, s, out);
	ctr_inc(th, PK_CALLTAB_CTR_CLAIM_RETRANS);
	return 1;
}

/* The claim record bound to key (key_hash: its claim hash, or 0), or
 * PK_CT_NONE when none is. */
static uint32_t claim_bound(struct pk_calltab *t, struct pk_str key, uint64_t key_hash)
{
	const struct pk_ct_key ckey = { key, PK_STR_NULL };
	uint32_t r;

	if (key.len == 0 || key.len > PK_CALLTAB_CLAIM_KEY_MAX)
		return PK_CT_NONE;
	r = pk_ct_ix_lookup(t, &t->kix, key_hash ? key_hash : pk_calltab_claim_hash(key), &ckey);
	/* Acquire: pairs with the release store of BOUND in pk_calltab_claim
	 * (the record's entry word is then the claimed call's). */
	if (r == PK_CT_NONE ||
	    atomic_load_explicit(&t->claims[r].live, memory_order_acquire) != PK_CT_CLAIM_BOUND)
		return PK_CT_NONE;
	return r;
}

int pk_calltab_claim_find(struct pk_calltab *t, unsigned tid, struct pk_str key, uint64_t key_hash,
			  struct pk_calltab_call *out)
{
	uint32_t r = claim_bound(t, key, key_hash), idx;
	uint64_t s = 0;

	(void)tid; /* counts nothing */
	if (r == PK_CT_NONE)
		return -ENOENT;
	idx = claim_call(t, r, &s);
	if (idx == PK_CT_NONE)
		return -ENOENT; /* ending right now */
	view_fill(t, pk_ct_ent(t, idx), idx, s, out);
	return 0;
}

uint64_t pk_calltab_claim_hash(struct pk_str key)
{
	uint64_t h = pk_mix64(ct_field(key.p, key.len, SEED_CLAIM));

	return h ? h : 1;
}

int pk_calltab_claim(struct pk_calltab *t, unsigned tid, const struct pk_calltab_claim_req *req,
		     struct pk_calltab_call *out)
{
	struct pk_ct_thread *th = &t->thr[tid];
	const struct pk_ct_key ckey = { req->key, PK_STR_NULL };
	uint32_t r, ri, best, ph, ch;
	struct pk_ct_claim *rec;
	uint64_t kh, bs = 0;
	int rc;

	if (req->ngroups == 0 || req->groups == NULL || req->key.len == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < req->ngroups; i++)
		if (req->groups[i] >= t->max_groups)
			return -EINVAL;
	if (req->key.len > PK_CALLTAB_CLAIM_KEY_MAX)
		return -E2BIG;
	kh = req->key_hash ? req->key_hash : pk_calltab_claim_hash(req->key);
	/* No lookup of the key first: the binding below looks for it in the
	 * same pass that finds a free slot, before publishing anything, so
	 * a retransmission costs a walk but no claim record (a record it took
	 * goes straight back to the cache). */
	ph = req->picker.len ? aor_hash(req->picker) : 0;
	ch = req->callee.len ? aor_hash(req->callee) : 0;
	best = claim_scan(t, th, req, ph, ch, &bs);
	if (best == PK_CT_NONE) {
		/* Nothing to pick up is the common failure: answered without
		 * taking a claim record. The last call may have gone to a twin
		 * of this request (the same pickup INVITE on another worker):
		 * it bound the key before its CAS, which our walk saw
		 * (acquire), so a second look finds the binding. */
		r = pk_ct_ix_lookup_absent(t, &t->kix, kh, &ckey);
		if (r != PK_CT_NONE)
			return claim_existing(t, th, r, out);
		ctr_inc(th, PK_CALLTAB_CTR_CLAIM_NONE);
		return -ENOENT;
	}

	ri = claim_alloc(t, th);
	if (ri == PK_CT_NONE) {
		/* A retransmission gets its call even when records run out. */
		r = pk_ct_ix_lookup(t, &t->kix, kh, &ckey);
		if (r != PK_CT_NONE)
			return claim_existing(t, th, r, out);
		ctr_inc(th, PK_CALLTAB_CTR_CLAIM_FULL);
		return -ENOSPC;
	}
	rec = &t->claims[ri];
	/* Relaxed: published by the index insert's seq_cst placement. */
	atomic_store_explicit(&rec->entry, 0, memory_order_relaxed);
	atomic_store_explicit(&rec->live, PK_CT_CLAIM_CHOOSING, memory_order_relaxed);
	rec->claim_ns = req->now_ns;
	rec->hash = kh;
	rec->key_len = (uint16_t)req->key.len;
	pk_copy_short(rec->key, req->key.p, req->key.len);
	/* Bind the key first: of two threads claiming for one key (the
	 * INVITE and its retransmission) exactly one gets past here. */
	rc = pk_ct_ix_insert(t, &t->kix, kh, ri, &ckey, &rec->hpos, true);
	if (rc == -EALREADY) {
		/* Bound already (a retransmission): rec was never published,
		 * so it goes back to our cache as it is, no grace period. */
		r = rec->hpos;
		/* Relaxed: the record is ours alone again. */
		atomic_store_explicit(&rec->live, PK_CT_CLAIM_FREE, memory_order_relaxed);
		claim_unalloc(th, ri);
		return claim_existing(t, th, r, out);
	}
	if (rc != 0) {
		/* A twin's scan may have read rec: recycle it through RCU.
		 * Relaxed: published by retire_push's release. */
		atomic_store_explicit(&rec->live, PK_CT_CLAIM_FREE, memory_order_relaxed);
		retire_push(&th->claim_retire, &t->claim_pool, ri, ri);
		if (rc == -ENOSPC) {
			ctr_inc(th, PK_CALLTAB_CTR_CLAIM_FULL);
			return -ENOSPC;
		}
		r = pk_ct_ix_lookup(t, &t->kix, kh, &ckey);
		return r != PK_CT_NONE ? claim_existing(t, th, r, out) : -EINPROGRESS;
	}

	/* Try the call the first walk chose: the CAS succeeds only if its
	 * state word (generation included) did not change since, i.e. it
	 * is still this incarnation, RINGING, and nobody claimed it. The
	 * walk is no snapshot anyway (a call can start ringing behind it),
	 * so walking again before the CAS would add cost, not exactness. */
	for (;;) {
		if (best == PK_CT_NONE) {
			claim_end(t, th, ri, PK_CT_CLAIM_CHOOSING);
			ctr_inc(th, PK_CALLTAB_CTR_CLAIM_NONE);
			return -ENOENT;
		}
		/* The claim: one CAS RINGING -> CLAIMED(ri). acq_rel: release
		 * publishes rec to whoever reads CLAIMED(ri) from the state;
		 * acquire is implied by the scan's load already. Of racing
		 * pickers exactly one wins; the others look again. */
		if (atomic_compare_exchange_strong_explicit(
			    &pk_ct_ent(t, best)->state, &bs, PK_CT_MK(PK_CT_GEN(bs), PK_CT_CLAIMED, ri + 1),
			    memory_order_acq_rel, memory_order_relaxed))
			break;
		ctr_inc(th, PK_CALLTAB_CTR_CLAIM_CONFLICT);
		/* Another picker (or a remove) changed it: walk again. */
		best = claim_scan(t, th, req, ph, ch, &bs);
	}
	/* Release (both): pair with the acquire loads of entry and live in
	 * claim_existing, claim_call, settle and the sweep. */
	atomic_store_explicit(&rec->entry, ((uint64_t)PK_CT_GEN(bs) << 32) | (best + 1),
			      memory_order_release);
	atomic_store_explicit(&rec->live, PK_CT_CLAIM_BOUND, memory_order_release);
	view_fill(t, pk_ct_ent(t, best), best, PK_CT_MK(PK_CT_GEN(bs), PK_CT_CLAIMED, ri + 1), out);
	ctr_inc(th, PK_CALLTAB_CTR_CLAIMED);
	return 0;
}

int pk_calltab_settle(struct pk_calltab *t, unsigned tid, struct pk_str key, unsigned status)
{
	return pk_calltab_settle_hashed(t, tid, key, 0, status);
}

int pk_calltab_settle_hashed(struct pk_calltab *t, unsigned tid, struct pk_str key, uint64_t key_hash,
			     unsigned status)
{
	struct pk_ct_thread *th = &t->thr[tid];
	bool gone = (status >= 200 && status < 300) || status == 481 || status == 603, was_gone = false;
	uint32_t r = claim_bound(t, key, key_hash), idx;
	uint64_t s = 0, ns;

	if (r == PK_CT_NONE)
		return -ENOENT;
	idx = claim_call(t, r, &s);
	if (status < 200)
		return idx == PK_CT_NONE || PK_CT_ST(s) == PK_CT_GONE ? -ENOENT : 0;
	while (idx != PK_CT_NONE) {
		/* A call removed while claimed (GONE) has nothing to give
		 * back: DEAD whatever the answer. */
		was_gone = PK_CT_ST(s) == PK_CT_GONE;
		ns = PK_CT_MK(PK_CT_GEN(s), gone || was_gone ? PK_CT_DEAD : PK_CT_RINGING, 0);
		/* acq_rel: against remove and the sweep, one CAS wins; release
		 * pairs with the readers' acquire loads of the state. */
		if (atomic_compare_exchange_strong_explicit(&pk_ct_ent(t, idx)->state, &s, ns,
							    memory_order_acq_rel, memory_order_acquire))
			break;
		idx = claim_call(t, r, &s); /* lost: is it still ours (or GONE now)? */
	}
	/* The final answer ends the claim, whatever became of its call. */
	claim_end(t, th, r, PK_CT_CLAIM_BOUND);
	if (idx == PK_CT_NONE)
		return -ENOENT;
	if (was_gone) {
		/* its Call-ID slot went with the remove */
		ent_kill(t, idx, false);
		return -ENOENT;
	}
	if (gone) {
		ent_kill(t, idx, true);
		ctr_inc(th, status < 300 ? PK_CALLTAB_CTR_PICKED : PK_CALLTAB_CTR_CLAIM_GONE);
	} else {
		ctr_inc(th, PK_CALLTAB_CTR_CLAIM_REVERTED);
	}
	return 0;
}

/* ---- sweep and reclamation ---- */

struct pk_ct_batch {
	struct pk_calltab *t;
	uint32_t ents, ents_last, nents; /* entry chain: first idx + 1, last idx */
	uint32_t ext, ext_last;		 /* their large blocks, the same way */
	uint32_t claims;		 /* claim-record chain: first idx + 1 */
};

/* Last element of a chain linked through p->next (control thread). */
static uint32_t chain_last(const struct pk_idx_stack *p, uint32_t first, uint32_t *n)
{
	uint32_t i = first, nx;

	*n = 1;
	/* Relaxed: the chain was made visible by the exchange in the sweep
	 * (acquire) and RCU's own synchronisation since. */
	while ((nx = atomic_load_explicit(&p->next[i], memory_order_relaxed)) != 0) {
		i = nx - 1;
		(*n)++;
	}
	return i;
}

/* RCU callback: every reader has passed a quiescent state since these
 * entries, large blocks and claim records were retired; return them to
 * their pools, each chain with one push. The entries are not touched: the
 * next insert into one bumps its generation (the state word stays DEAD of
 * the old generation meanwhile, so a stale CAS still fails), and writes
 * its large-block field anew. */
static void ct_reclaim_cb(void *arg)
{
	struct pk_ct_batch *b = arg;
	struct pk_calltab *t = b->t;
	uint32_t n, last;

	if (b->ents) {
		pk_idx_stack_push_chain(&t->ent_pool, b->ents - 1, b->ents_last);
		/* Relaxed: a statistic (pk_calltab_in_use). */
		atomic_fetch_add_explicit(&t->freed, b->nents, memory_order_relaxed);
	}
	if (b->ext)
		pk_idx_stack_push_chain(&t->ext_pool, b->ext - 1, b->ext_last);
	if (b->claims) {
		last = chain_last(&t->claim_pool, b->claims - 1, &n);
		pk_idx_stack_push_chain(&t->claim_pool, b->claims - 1, last);
	}
	free(b);
}

/* Append chain (first idx + 1, linked through p->next) to *acc. */
static void chain_append(const struct pk_idx_stack *p, uint32_t *acc, uint32_t chain, uint32_t *n)
{
	uint32_t k, last;

	if (chain == 0)
		return;
	last = chain_last(p, chain - 1, &k);
	/* Relaxed: the control thread owns both chains now. */
	atomic_store_explicit(&p->next[last], *acc, memory_order_relaxed);
	*acc = chain;
	*n += k;
}

/* Give the entries the sweep retired and every thread's retired claim
 * records to RCU as one batch. */
static void sweep_retire(struct pk_calltab *t, struct pk_ct_thread *th)
{
	struct pk_ct_batch *b;
	uint32_t claims = 0, nclaims = 0, n, last;

	for (uint32_t i = 0; i < t->max_threads; i++) {
		struct pk_ct_thread *o = &t->thr[i];

		/* Relaxed pre-check, then an acquire exchange: pairs with the
		 * release CAS of retire_push; the chain and everything the
		 * retiring thread did before are visible. */
		if (atomic_load_explicit(&o->claim_retire, memory_order_relaxed) != 0)
			chain_append(&t->claim_pool, &claims,
				     atomic_exchange_explicit(&o->claim_retire, 0, memory_order_acquire),
				     &nclaims);
	}
	if (t->rt_ents == 0 && claims == 0)
		return;
	b = malloc(sizeof(*b)); /* control thread: allowed */
	if (b != NULL) {
		*b = (struct pk_ct_batch){ .t = t, .ents = t->rt_ents, .ents_last = t->rt_ents_last,
					   .nents = t->rt_nents, .ext = t->rt_ext,
					   .ext_last = t->rt_ext_last, .claims = claims };
		if (pk_rcu_defer(t->rcu, ct_reclaim_cb, b) == 0) {
			ctr_add(th, PK_CALLTAB_CTR_RETIRED, t->rt_nents);
			t->rt_ents = t->rt_nents = t->rt_ext = 0;
			return;
		}
		free(b);
	}
	/* Could not defer: the entries stay on the sweep's chain, the claim
	 * records go back on our retire list, for the next sweep. */
	if (claims) {
		last = chain_last(&t->claim_pool, claims - 1, &n);
		retire_push(&th->claim_retire, &t->claim_pool, claims - 1, last);
	}
}

unsigned pk_calltab_sweep(struct pk_calltab *t, unsigned tid, uint64_t now_ns, uint32_t budget)
{
	struct pk_ct_thread *th = &t->thr[tid];
	uint32_t i = t->sweep_cursor;
	unsigned n = 0;
	bool full = budget == 0;
	/* Relaxed: tunables (see struct pk_calltab), read once per sweep. */
	uint64_t rto = atomic_load_explicit(&t->ring_timeout, memory_order_relaxed);
	uint64_t cto = atomic_load_explicit(&t->claim_timeout, memory_order_relaxed);
	/* Relaxed: see ent_used_raise. Only the entries ever used can ring. */
	uint32_t used = atomic_load_explicit(&t->ent_used, memory_order_relaxed);

	if (budget == 0 || budget > used)
		budget = used;
	if (i >= used)
		i = 0;
	for (uint32_t k = 0; k < budget; k++, i = i + 1 == used ? 0 : i + 1) {
		struct pk_ct_entry *e = pk_ct_ent(t, i);
		/* Acquire: pairs with the release CASes on the state word; the
		 * fields read below belong to this incarnation, which RCU keeps
		 * from being reused until our next quiescent state. */
		uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire);
		unsigned st = PK_CT_ST(s);

		if (st == PK_CT_TRYING || st == PK_CT_TAGGING || st == PK_CT_RINGING) {
			if (!past(now_ns, e->invite_ns, rto))
				continue;
			/* acq_rel: see pk_calltab_remove. */
			if (atomic_compare_exchange_strong_explicit(&e->state, &s,
								    PK_CT_MK(PK_CT_GEN(s), PK_CT_DEAD, 0),
								    memory_order_acq_rel,
								    memory_order_relaxed)) {
				ent_kill(t, i, true);
				ctr_inc(th, PK_CALLTAB_CTR_EXPIRED);
				n++;
			}
		}
	}
	t->sweep_cursor = i;

	/* Claims with no answer within the claim timeout: the call rings
	 * again and the key is free. A sixty-fourth of the entry budget of
	 * records per sweep (all on a full sweep): claims are few and their
	 * timeout is seconds. */
	uint32_t nrec = full ? t->nclaims : budget / 64 < 16 ? 16 : budget / 64;

	if (nrec > t->nclaims)
		nrec = t->nclaims;
	for (uint32_t k = 0; cto != INT64_MAX && k < nrec; k++) {
		uint32_t idx, r = t->claim_cursor;
		uint64_t s = 0;

		t->claim_cursor = r + 1 == t->nclaims ? 0 : r + 1;

		/* Acquire: pairs with the release store of BOUND in claim;
		 * claim_ns is then this claim's. */
		if (atomic_load_explicit(&t->claims[r].live, memory_order_acquire) != PK_CT_CLAIM_BOUND ||
		    !past(now_ns, t->claims[r].claim_ns, cto))
			continue;
		/* The call back to RINGING; one removed while claimed (GONE)
		 * to DEAD, its links marked. A lost CAS (a remove made it
		 * GONE, a settle took it) looks again, as settle does: a GONE
		 * entry must not outlive its claim. */
		idx = claim_call(t, r, &s);
		while (idx != PK_CT_NONE) {
			bool was_gone = PK_CT_ST(s) == PK_CT_GONE;

			/* acq_rel: see pk_calltab_settle. */
			if (atomic_compare_exchange_strong_explicit(
				    &pk_ct_ent(t, idx)->state, &s,
				    PK_CT_MK(PK_CT_GEN(s), was_gone ? PK_CT_DEAD : PK_CT_RINGING, 0),
				    memory_order_acq_rel, memory_order_acquire)) {
				if (was_gone) {
					ent_kill(t, idx, false);
				} else {
					ctr_inc(th, PK_CALLTAB_CTR_CLAIM_TIMEOUT);
					n++;
				}
				break;
			}
			idx = claim_call(t, r, &s);
		}
		claim_end(t, th, r, PK_CT_CLAIM_BOUND);
	}

	for (uint32_t w = 0; w < t->ndirty; w++) {
		/* Relaxed pre-check, then a seq_cst exchange: acquire pairs
		 * with the release fetch_or in dirty_set; seq_cst for the
		 * pre-check argument there. */
		if (atomic_load_explicit(&t->dirty[w], memory_order_relaxed) == 0)
			continue;
		uint64_t bits = atomic_exchange_explicit(&t->dirty[w], 0, memory_order_seq_cst);

		while (bits) {
			uint32_t g = w * 64 + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (!list_clean(t, g, UINT32_MAX))
				dirty_set(t, g);
		}
	}
	/* Lists whose dead links stayed under a quarter: walked now and then
	 * (and on every full sweep), so that no entry waits for ever. */
	if (full || ++t->sweeps % PK_CT_FULL_PASS == 0)
		for (uint32_t g = 0; g < t->max_groups; g++)
			/* Relaxed: a hint; see ent_kill. */
			if ((int32_t)atomic_load_explicit(&t->grp[g].dead, memory_order_relaxed) > 0 &&
			    !list_clean(t, g, UINT32_MAX))
				dirty_set(t, g);
	sweep_retire(t, th);
	return n;
}

/* ---- control plane ---- */

static int visit(struct pk_calltab *t, uint32_t idx, struct pk_str callee, uint32_t ch,
		 int (*fn)(const struct pk_calltab_call *c, void *arg), void *arg, unsigned *n)
{
	const struct pk_ct_entry *e = pk_ct_ent(t, idx);
	/* Acquire: pairs with the release CASes on the state word. */
	uint64_t s = atomic_load_explicit(&e->state, memory_order_acquire);
	struct pk_calltab_call c;

	if (!st_live(PK_CT_ST(s)))
		return 0;
	if (callee.len && (e->callee_h != ch || !pk_str_eq(pk_ct_str(t, e, PK_CT_S_CALLEE), callee)))
		return 0;
	view_fill(t, e, idx, s, &c);
	(*n)++;
	return fn(&c, arg);
}

unsigned pk_calltab_foreach(struct pk_calltab *t, unsigned tid, uint32_t group, struct pk_str callee,
			    int (*fn)(const struct pk_calltab_call *c, void *arg), void *arg)
{
	uint32_t ch = callee.len ? aor_hash(callee) : 0;
	unsigned n = 0;

	(void)tid;
	if (group == UINT32_MAX) {
		/* Relaxed: see ent_used_raise; a call inserted meanwhile may
		 * or may not be listed, as with any listing of a live table. */
		uint32_t used = atomic_load_explicit(&t->ent_used, memory_order_relaxed);

		for (uint32_t i = 0; i < used; i++)
			if (visit(t, i, callee, ch, fn, arg, &n))
				break;
		return n;
	}
	if (group >= t->max_groups)
		return 0;
	/* Acquire: see claim_scan. */
	for (uint32_t l = atomic_load_explicit(&t->grp[group].head, memory_order_acquire); l != 0;) {
		/* Acquire: see claim_scan. */
		uint32_t nx = atomic_load_explicit(link_word(t, l), memory_order_acquire);

		if (visit(t, PK_CT_LINK_IDX(l), callee, ch, fn, arg, &n))
			break;
		l = PK_CT_NEXT(nx);
	}
	return n;
}

void pk_calltab_stats(const struct pk_calltab *t, uint64_t out[PK_CALLTAB_CTR_COUNT])
{
	memset(out, 0, sizeof(uint64_t) * PK_CALLTAB_CTR_COUNT);
	for (uint32_t i = 0; i < t->max_threads; i++)
		for (unsigned c = 0; c < PK_CALLTAB_CTR_COUNT; c++)
			/* Relaxed: see ctr_add. */
			out[c] += atomic_load_explicit(&t->thr[i].ctr[c], memory_order_relaxed);
}

const char *pk_calltab_counter_name(enum pk_calltab_counter c)
{
	static const char *const names[] = {
#define PK_CT_CTR_NAME(n, s) s,
		PK_CALLTAB_FOREACH_COUNTER(PK_CT_CTR_NAME)
#undef PK_CT_CTR_NAME
	};

	return (unsigned)c < PK_ARRAY_SIZE(names) ? names[c] : "?";
}

const char *pk_calltab_state_name(enum pk_calltab_state s)
{
	static const char *const names[] = {
#define PK_CT_STATE_NAME(n, s) s,
		PK_CALLTAB_FOREACH_STATE(PK_CT_STATE_NAME)
#undef PK_CT_STATE_NAME
	};

	return (unsigned)s < PK_ARRAY_SIZE(names) ? names[s] : "?";
}

uint32_t pk_calltab_in_use(const struct pk_calltab *t)
{
	uint64_t alloc = 0;
	/* Relaxed: a statistic. Read before the allocations so that, while
	 * threads run, the result errs high rather than below zero; clamped
	 * all the same (relaxed loads of different words order nothing). */
	uint64_t freed = atomic_load_explicit(&t->freed, memory_order_relaxed);

	for (uint32_t i = 0; i < t->max_threads; i++)
		/* Relaxed: see ctr_add. */
		alloc += atomic_load_explicit(&t->thr[i].ctr[PK_CALLTAB_CTR_ALLOC], memory_order_relaxed);
	return alloc > freed ? (uint32_t)(alloc - freed) : 0;
}

uint32_t pk_calltab_free_count(const struct pk_calltab *t)
{
	uint32_t n = pk_idx_stack_count(&t->ent_pool);

	for (uint32_t i = 0; i < t->max_threads; i++)
		n += cache_n(&t->thr[i]);
	/* While threads run the walk may follow a link that just changed and
	 * count an entry twice: an estimate, never above the capacity. */
	return n < t->cap ? n : t->cap;
}

static bool retire_empty(const struct pk_calltab *t)
{
	for (uint32_t i = 0; i < t->max_threads; i++)
		/* Relaxed: idle table. */
		if (atomic_load_explicit(&t->thr[i].claim_retire, memory_order_relaxed) != 0)
			return false;
	return t->rt_ents == 0 && t->rt_ext == 0;
}

static uint32_t claim_free_count(const struct pk_calltab *t)
{
	uint32_t n = pk_idx_stack_count(&t->claim_pool);

	for (uint32_t i = 0; i < t->max_threads; i++)
		/* Relaxed: idle table. */
		n += atomic_load_explicit(&t->thr[i].nccache, memory_order_relaxed);
	return n;
}

static bool claims_free(const struct pk_calltab *t)
{
	for (uint32_t r = 0; r < t->nclaims; r++)
		/* Relaxed: idle table. */
		if (atomic_load_explicit(&t->claims[r].live, memory_order_relaxed) != PK_CT_CLAIM_FREE)
			return false;
	return true;
}

int pk_calltab_check_idle(const struct pk_calltab *t, const char **why)
{
	const char *w = NULL;

	/* Relaxed loads throughout: the caller guarantees an idle table. */
	if (pk_calltab_free_count(t) != t->cap)
		w = "entries missing from the free pool";
	else if (pk_calltab_in_use(t) != 0)
		w = "in_use counter not zero";
	else if (pk_idx_stack_count(&t->ext_pool) != t->next_blocks)
		w = "large blocks missing from their pool";
	else if (claim_free_count(t) != t->nclaims)
		w = "claim records missing from their pool";
	else if (!claims_free(t))
		w = "a claim record still bound";
	else if (!retire_empty(t))
		w = "retire lists not empty";
	else if (!pk_ct_ix_empty(&t->cix))
		w = "Call-ID index not empty";
	else if (!pk_ct_ix_empty(&t->kix))
		w = "claim index not empty";
	else
		for (uint32_t g = 0; g < t->max_groups && w == NULL; g++)
			if (atomic_load_explicit(&t->grp[g].head, memory_order_relaxed) != 0 ||
			    (uint32_t)atomic_load_explicit(&t->grp[g].tail, memory_order_relaxed) != 0 ||
			    atomic_load_explicit(&t->grp[g].unsorted, memory_order_relaxed) != 0 ||
			    atomic_load_explicit(&t->grp[g].len, memory_order_relaxed) != 0 ||
			    atomic_load_explicit(&t->grp[g].dead, memory_order_relaxed) != 0)
				w = "a group list not empty";
	if (why != NULL)
		*why = w;
	return w == NULL ? 0 : -EBUSY;
}
