/* SPDX-License-Identifier: MIT */
/*
 * The two hash indexes of the ringing-call table: Call-ID + From-tag -> entry
 * (responses, CANCEL) and picker transaction key -> claim record (so that a
 * retransmitted pickup INVITE finds its claim). Both are the same structure:
 * open addressing over 64-byte buckets of fifteen 4-byte slots, with per-bucket
 * overflow counts (a lookup moves on to the next bucket only while the count
 * says some key spilled past this one), so a lookup reads one cache line in
 * the common case and never writes.
 *
 * Why a custom table and not rte_hash: rte_hash's lock-free mode still
 * serialises writers with a lock unless each writer has its own table, and
 * we need multi-writer inserts that refuse duplicates (two workers may see
 * the same INVITE or the same pickup INVITE) without any lock.
 *
 * Duplicate-free insert without locks: an insert first places its slot as
 * PENDING, then scans the key's probe path (seq_cst loads, after its seq_cst
 * placement -- the Dekker pattern: of two concurrent inserts at least one
 * sees the other's slot). Conflicts are settled by position on the probe
 * path: a COMMITTED twin or a PENDING twin nearer the home bucket makes us
 * withdraw; a PENDING twin further away is KILLED (CAS PENDING->KILLED).
 * Last, the slot is committed with a CAS PENDING->COMMITTED, which fails if
 * we were killed. docs/calltab.md has the proof sketch that exactly one of
 * any set of concurrent inserts of one key commits. Readers only ever match
 * COMMITTED slots.
 */
#include <errno.h>

#include "calltab_impl.h"

/*
 * PK_CT_IX_SIMD: the scans that look at a whole bucket
 * (pk_ct_ix_lookup_absent, the insert's pre-check and its step 2; not
 * pk_ct_ix_lookup, which keeps the slot-by-slot loop that stops at the
 * key) find their candidate slots (low byte = our signature and
 * COMMITTED) with two 32-byte loads and compares of the bucket instead of
 * fifteen loads and compares, then load each candidate again as before
 * (acquire, or seq_cst in step 2) before they read the object. The vector
 * load only chooses which slots to look at: a slot it saw in another
 * state is as if the scalar loop had read it at that moment (each slot is
 * read on its own either way; the bucket is one aligned cache line, x86
 * loads of aligned words in it are not torn and not reordered with the
 * loads after them). This deliberately steps outside the C11 memory
 * model, where a plain vector load of _Atomic slots other threads write
 * is a data race: it relies on x86 and on GCC/Clang, as DPDK's
 * rte_cuckoo_hash compare_signatures does in its lock-free mode. Off
 * under ThreadSanitizer, which does not see a vector load as atomic, and
 * forced off (-DPK_CT_IX_SIMD=0) for the unit tests of the scalar loop.
 */
#ifndef PK_CT_IX_SIMD
#if defined(__SANITIZE_THREAD__)
#define PK_CT_IX_SIMD 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PK_CT_IX_SIMD 0
#endif
#endif
#endif
#ifndef PK_CT_IX_SIMD
#if defined(__AVX2__)
#define PK_CT_IX_SIMD 1
#else
#define PK_CT_IX_SIMD 0
#endif
#endif

#if PK_CT_IX_SIMD
#include <immintrin.h>

static_assert(sizeof(struct pk_ct_bucket) == 64 && PK_CT_SLOTS == 15, "two 32-byte halves, slot 15 the count");

/* The two halves of a bucket, as one vector load each sees them. */
struct ix_vec {
	__m256i a, b;
};

static inline struct ix_vec ix_load(const struct pk_ct_bucket *bk)
{
	return (struct ix_vec){ _mm256_loadu_si256((const __m256i *)(const void *)bk),
				_mm256_loadu_si256((const __m256i *)(const void *)((const char *)bk + 32)) };
}

/* Bit s set per 32-bit lane of eq (the two halves' compares): the slots,
 * not the overflow word. */
static inline uint32_t ix_bits(__m256i ea, __m256i eb)
{
	uint32_t ma = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(ea));
	uint32_t mb = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(eb));

	return (ma | mb << 8) & ((1u << PK_CT_SLOTS) - 1);
}

/* Slots whose low byte is x or y. */
static inline uint32_t ix_low_is(struct ix_vec v, uint32_t x, uint32_t y)
{
	const __m256i lo = _mm256_set1_epi32(0xff), wx = _mm256_set1_epi32((int)x), wy = _mm256_set1_epi32((int)y);
	__m256i a = _mm256_and_si256(v.a, lo), b = _mm256_and_si256(v.b, lo);

	return ix_bits(_mm256_or_si256(_mm256_cmpeq_epi32(a, wx), _mm256_cmpeq_epi32(a, wy)),
		       _mm256_or_si256(_mm256_cmpeq_epi32(b, wx), _mm256_cmpeq_epi32(b, wy)));
}

/*
 * The candidates of bk: bit s set when slot s, as one vector load saw it,
 * has low byte x or y. Out of line, so that no vector register is live in
 * the callers across their calls (the key compares): every one is
 * caller-saved, and keeping the constants would cost spills and an
 * aligned stack frame in every lookup. noipa, not only noinline: GCC must
 * not see through it (as a pure function of the bucket) and move or merge
 * its loads across the atomic operations around the calls.
 */
static __attribute__((noipa)) uint32_t ix_candidates(const struct pk_ct_bucket *bk, uint32_t x, uint32_t y)
{
	return ix_low_is(ix_load(bk), x, y);
}

/* ix_candidates(bk, want, want), and in *empty the slots the same load
 * saw empty (0). */
static __attribute__((noipa)) uint32_t ix_candidates_empty(const struct pk_ct_bucket *bk, uint32_t want,
							      uint32_t *empty)
{
	struct ix_vec v = ix_load(bk);
	const __m256i z = _mm256_setzero_si256();

	*empty = ix_bits(_mm256_cmpeq_epi32(v.a, z), _mm256_cmpeq_epi32(v.b, z));
	return ix_low_is(v, want, want);
}
#endif

static_assert(sizeof(struct pk_ct_bucket) == PK_CT_CACHELINE, "bucket is one cache line");

#define SLOT(ref, sig, st) ((((uint32_t)(ref) + 1u) << 8) | ((uint32_t)(sig) << 2) | (uint32_t)(st))
#define SLOT_REF(v) (((v) >> 8) - 1u)
#define SLOT_SIG(v) (((v) >> 2) & 0x3fu)
#define SLOT_ST(v) ((unsigned)((v) & 3u))

/* pk_ct_match out of line for the insert's unrolled slot loops: a call per
 * signature hit (about one false hit per 64 slots) keeps them small. The
 * lookup, whose hit is the common case, keeps it inline. */
static __attribute__((noinline)) bool ix_match(const struct pk_calltab *t, int kind, uint32_t ref,
					       const struct pk_ct_key *key)
{
	return pk_ct_match(t, kind, ref, key);
}

/*
 * Step 2 of pk_ct_ix_insert on a slot other than ours whose low byte says
 * PENDING or COMMITTED with our signature (v, as loaded). Out of line, so
 * that the unrolled scan is one load, subtraction and compare per slot.
 * Returns true when we must withdraw: the slot holds our key COMMITTED, or
 * PENDING nearer home (nearer). A PENDING twin further on is killed here.
 */
static __attribute__((noinline)) bool ix_twin(const struct pk_calltab *t, int kind, _Atomic uint32_t *sl,
					      uint32_t v, uint32_t pend, const struct pk_ct_key *key,
					      bool nearer)
{
	for (;;) {
		if ((v & 0xffu) - pend > 1u || !pk_ct_match(t, kind, SLOT_REF(v), key))
			return false;
		if (SLOT_ST(v) == PK_CT_SLOT_COMMITTED || nearer)
			return true;
		/* A PENDING twin further on: kill it. seq_cst like every RMW
		 * here; it pairs with the twin's commit CAS (exactly one of the
		 * two succeeds). On failure v is the slot's new value: look at
		 * it again. */
		if (atomic_compare_exchange_strong_explicit(sl, &v, (v & ~3u) | PK_CT_SLOT_KILLED,
							    memory_order_seq_cst, memory_order_seq_cst))
			return false;
	}
}

/* Step 2 on slot ss of bk (dist: its place on the probe path, counted in
 * slots from home): seq_cst, the load half of the Dekker pattern (pairs
 * with the seq_cst placement of a twin). Our own slot is read too, and
 * skipped. The low byte [sig:6][st:2] is sig<<2 | PENDING or sig<<2 |
 * COMMITTED: one subtraction and compare; the rest (about one slot in
 * 64) out of line in ix_twin. True when we must withdraw. */
static inline __attribute__((always_inline)) bool ix_twin_at(const struct pk_calltab *t, int kind,
							     struct pk_ct_bucket *bk, unsigned ss,
							     const _Atomic uint32_t *my, uint32_t pend,
							     const struct pk_ct_key *key, uint32_t dist,
							     uint32_t mydist)
{
	_Atomic uint32_t *sl = &bk->slot[ss];
	uint32_t v = atomic_load_explicit(sl, memory_order_seq_cst);

	return (v & 0xffu) - pend <= 1u && sl != my && ix_twin(t, kind, sl, v, pend, key, dist < mydist);
}

/* Buckets for n keys at most 75% full. */
uint32_t pk_ct_ix_buckets(uint32_t n)
{
	uint64_t nb = ((uint64_t)n * 4 + 3 * PK_CT_SLOTS - 1) / (3 * PK_CT_SLOTS);

	return nb < 2 ? 2 : (uint32_t)nb;
}

/* Home bucket from the high half of the hash (multiply-shift instead of a
 * modulo, so any bucket count works); the slot signature (6 bits: one
 * false candidate per 64 occupied slots looked at) from the low half. */
static inline uint32_t ix_home(const struct pk_ct_index *ix, uint64_t hash)
{
	return (uint32_t)(((hash >> 32) * (uint64_t)ix->nb) >> 32);
}

static inline uint32_t ix_sig(uint64_t hash)
{
	return (uint32_t)hash & 0x3fu;
}

static inline uint32_t ix_next(const struct pk_ct_index *ix, uint32_t b)
{
	return b + 1 == ix->nb ? 0 : b + 1;
}

/* Undo the overflow counts an insert (or a removal of a key that spilled d
 * buckets) left on the d buckets from home on. Release: pairs with the
 * acquire load of a lookup, which then also sees the slot already emptied
 * (program order before this call). */
static void ix_overflow_sub(struct pk_ct_index *ix, uint32_t home, uint32_t d)
{
	uint32_t b = home;

	for (uint32_t i = 0; i < d; i++, b = ix_next(ix, b))
		atomic_fetch_sub_explicit(&ix->b[b].overflow, 1, memory_order_release);
}

void pk_ct_ix_prefetch(const struct pk_ct_index *ix, uint64_t hash)
{
	__builtin_prefetch(&ix->b[ix_home(ix, hash)], 0, 3);
}

/*
 * The lookup. whole (PK_CT_IX_SIMD only): each bucket's candidates from
 * one look at the whole bucket (ix_candidates), which costs the same
 * wherever the key is and whether it is there or not; else slot by slot,
 * which stops at the key: cheaper for a key that is there in the first
 * slots of a sparse bucket (the usual hit), dearer for a key that is not
 * (every slot looked at).
 */
static inline __attribute__((always_inline)) uint32_t ix_lookup(const struct pk_calltab *t,
								  const struct pk_ct_index *ix, uint64_t hash,
								  const struct pk_ct_key *key, bool whole)
{
	uint32_t b = ix_home(ix, hash), want = (ix_sig(hash) << 2) | PK_CT_SLOT_COMMITTED;

	(void)whole;
	for (uint32_t d = 0; d < ix->nb; d++, b = ix_next(ix, b)) {
		const struct pk_ct_bucket *bk = &ix->b[b];

#if PK_CT_IX_SIMD
		if (whole) {
			for (uint32_t m = ix_candidates(bk, want, want); m != 0; m &= m - 1) {
				/* Acquire: as below; the slot is read again,
				 * and the value read here decides. */
				uint32_t v = atomic_load_explicit(&bk->slot[__builtin_ctz(m)], memory_order_acquire);

				if ((v & 0xffu) == want && pk_ct_match(t, ix->kind, SLOT_REF(v), key))
					return SLOT_REF(v);
			}
		} else
#endif
		{
#pragma GCC unroll 15
			for (unsigned s = 0; s < PK_CT_SLOTS; s++) {
				/* Acquire: pairs with the commit CAS (seq_cst,
				 * so release) in pk_ct_ix_insert; the object's
				 * key and contents written before it are
				 * visible. */
				uint32_t v = atomic_load_explicit(&bk->slot[s], memory_order_acquire);

				/* The low byte is [sig:6][st:2]: one compare
				 * selects COMMITTED slots with our signature. */
				if ((v & 0xffu) == want && pk_ct_match(t, ix->kind, SLOT_REF(v), key))
					return SLOT_REF(v);
			}
		}
		/* Acquire: pairs with the seq_cst increment of an insert that
		 * spilled past this bucket (done before its placement). */
		if (atomic_load_explicit(&bk->overflow, memory_order_acquire) == 0)
			break;
	}
	return PK_CT_NONE;
}

uint32_t pk_ct_ix_lookup(const struct pk_calltab *t, const struct pk_ct_index *ix, uint64_t hash,
			 const struct pk_ct_key *key)
{
	return ix_lookup(t, ix, hash, key, false);
}

uint32_t pk_ct_ix_lookup_absent(const struct pk_calltab *t, const struct pk_ct_index *ix, uint64_t hash,
				const struct pk_ct_key *key)
{
	return ix_lookup(t, ix, hash, key, true);
}

/* Give up our slot (PENDING or KILLED: nobody else writes it then) and the
 * overflow counts we added on the way to it. Release: a thread that later
 * finds the slot empty and reuses it sees our earlier stores. */
static void ix_withdraw(struct pk_ct_index *ix, _Atomic uint32_t *slot, uint32_t home, uint32_t d)
{
	atomic_store_explicit(slot, 0, memory_order_release);
	ix_overflow_sub(ix, home, d);
}

int pk_ct_ix_insert(struct pk_calltab *t, struct pk_ct_index *ix, uint64_t hash, uint32_t ref,
		    const struct pk_ct_key *key, uint32_t *pos, bool precheck)
{
	uint32_t home = ix_home(ix, hash), sig = ix_sig(hash);
	const uint32_t mine = SLOT(ref, sig, PK_CT_SLOT_PENDING), pend = (sig << 2) | PK_CT_SLOT_PENDING;
	_Atomic uint32_t *my = NULL;
	uint32_t b = home, d, s = 0, mydist;

	/* 0. (precheck) One pass over the home bucket that looks for the key
	 * COMMITTED already, as pk_ct_ix_lookup does, and for the first free
	 * slot, which it then tries to take. A twin found here means we
	 * published nothing: -EALREADY with *pos = the twin's ref, and the
	 * object was never visible to anyone (the caller may reuse it at
	 * once). A twin further on the probe path, or one that commits after
	 * this pass, is found by step 2 as before. */
	if (precheck) {
		struct pk_ct_bucket *bk = &ix->b[home];
		const uint32_t want = (sig << 2) | PK_CT_SLOT_COMMITTED;
		unsigned fs = PK_CT_SLOTS;

#if PK_CT_IX_SIMD
		/* The candidates as in pk_ct_ix_lookup, and the first slot the
		 * same vector load saw empty (the CAS below decides). */
		uint32_t free_m;

		for (uint32_t m = ix_candidates_empty(bk, want, &free_m); m != 0; m &= m - 1) {
			/* Acquire: as below. */
			uint32_t v = atomic_load_explicit(&bk->slot[__builtin_ctz(m)], memory_order_acquire);

			if ((v & 0xffu) == want && ix_match(t, ix->kind, SLOT_REF(v), key)) {
				*pos = SLOT_REF(v);
				return -EALREADY;
			}
		}
		if (free_m != 0)
			fs = (unsigned)__builtin_ctz(free_m);
#else
#pragma GCC unroll 15
		for (s = 0; s < PK_CT_SLOTS; s++) {
			/* Acquire: as in pk_ct_ix_lookup (pairs with the
			 * commit CAS; the twin's key is visible). */
			uint32_t v = atomic_load_explicit(&bk->slot[s], memory_order_acquire);

			if (v == 0) {
				if (fs == PK_CT_SLOTS)
					fs = s;
			} else if ((v & 0xffu) == want && ix_match(t, ix->kind, SLOT_REF(v), key)) {
				*pos = SLOT_REF(v);
				return -EALREADY;
			}
		}
#endif
		if (fs < PK_CT_SLOTS) {
			uint32_t v = 0;

			/* seq_cst: the placement, as in step 1. */
			if (atomic_compare_exchange_strong_explicit(&bk->slot[fs], &v, mine,
								    memory_order_seq_cst,
								    memory_order_relaxed)) {
				my = &bk->slot[fs];
				d = 0;
				s = fs;
				goto placed;
			}
		}
		/* Bucket full, or the slot taken meanwhile: step 1. */
	}

	/* 1. Place a PENDING slot in the first free place on the probe path. */
	for (d = 0; d < ix->nb; d++, b = ix_next(ix, b)) {
		struct pk_ct_bucket *bk = &ix->b[b];

		for (s = 0; s < PK_CT_SLOTS; s++) {
			/* Relaxed: only a hint, the CAS decides. */
			uint32_t v = atomic_load_explicit(&bk->slot[s], memory_order_relaxed);

			/* seq_cst: the placement is the store half of the
			 * Dekker pattern (see the file comment); it also
			 * releases the object's contents to the scanners of
			 * other inserts, which read its key. */
			if (v == 0 && atomic_compare_exchange_strong_explicit(&bk->slot[s], &v, mine,
									      memory_order_seq_cst,
									      memory_order_relaxed)) {
				my = &bk->slot[s];
				goto placed;
			}
		}
		/* seq_cst, before our placement further on: a scan or lookup
		 * that sees our slot also sees this count (pairs with their
		 * loads of overflow). */
		atomic_fetch_add_explicit(&bk->overflow, 1, memory_order_seq_cst);
	}
	ix_overflow_sub(ix, home, d);
	return -ENOSPC;

placed:
	mydist = d * PK_CT_SLOTS + s;
	*pos = b * PK_CT_SLOTS_POW2 + s;

	/* 2. Scan the probe path for the same key (every slot, ours aside). */
	b = home;
	for (uint32_t dd = 0; dd < ix->nb; dd++, b = ix_next(ix, b)) {
		struct pk_ct_bucket *bk = &ix->b[b];

#if PK_CT_IX_SIMD
		/* The vector load comes after our placement CAS (a locked
		 * instruction: on x86 no later load passes it), as the
		 * seq_cst loads below do; each candidate is loaded again,
		 * seq_cst, and that value decides. */
		for (uint32_t m = ix_candidates(bk, pend, pend + 1); m != 0; m &= m - 1) {
			unsigned ss = (unsigned)__builtin_ctz(m);

			if (ix_twin_at(t, ix->kind, bk, ss, my, pend, key, dd * PK_CT_SLOTS + ss, mydist)) {
				ix_withdraw(ix, my, home, d);
				return -EEXIST;
			}
		}
#else
#pragma GCC unroll 15
		for (unsigned ss = 0; ss < PK_CT_SLOTS; ss++) {
			if (ix_twin_at(t, ix->kind, bk, ss, my, pend, key, dd * PK_CT_SLOTS + ss, mydist)) {
				ix_withdraw(ix, my, home, d);
				return -EEXIST;
			}
		}
#endif
		/* seq_cst: pairs with the seq_cst increment of a twin that
		 * spilled past this bucket. Our own increments keep us going
		 * at least as far as our own bucket. */
		if (atomic_load_explicit(&bk->overflow, memory_order_seq_cst) == 0)
			break;
	}

	/* 3. Commit, unless a twin nearer home killed us meanwhile. seq_cst
	 * (release half: publishes the object to lookups' acquire loads). */
	uint32_t exp = mine;

	if (!atomic_compare_exchange_strong_explicit(my, &exp, SLOT(ref, sig, PK_CT_SLOT_COMMITTED),
						     memory_order_seq_cst, memory_order_relaxed)) {
		ix_withdraw(ix, my, home, d);
		return -EEXIST;
	}
	return 0;
}

/* Remove the COMMITTED slot at pos (from pk_ct_ix_insert). Only the one
 * thread that unpublishes the object calls this, so a plain store does. */
void pk_ct_ix_remove(struct pk_ct_index *ix, uint64_t hash, uint32_t pos)
{
	uint32_t b = pos / PK_CT_SLOTS_POW2, home = ix_home(ix, hash);
	uint32_t d = b >= home ? b - home : b + ix->nb - home;

	/* Release: a reader that still sees the slot reads an object that RCU
	 * keeps alive; one that sees it empty needs nothing from us. An insert
	 * that reuses the slot CASes it (and then sees our prior stores). */
	atomic_store_explicit(&ix->b[b].slot[pos % PK_CT_SLOTS_POW2], 0, memory_order_release);
	ix_overflow_sub(ix, home, d);
}

/* Is the index empty (no slot, no overflow count)? Idle table only. */
bool pk_ct_ix_empty(const struct pk_ct_index *ix)
{
	for (uint32_t b = 0; b < ix->nb; b++) {
		/* Relaxed: idle table. */
		if (atomic_load_explicit(&ix->b[b].overflow, memory_order_relaxed) != 0)
			return false;
		for (unsigned s = 0; s < PK_CT_SLOTS; s++)
			if (atomic_load_explicit(&ix->b[b].slot[s], memory_order_relaxed) != 0)
				return false;
	}
	return true;
}
