/* SPDX-License-Identifier: MIT */
/*
 * Private layout of the ringing-call table (include/pickup/calltab.h), shared
 * by calltab.c (entries, group lists, the API) and calltab_index.c (the two
 * hash indexes). docs/calltab.md explains the layout and the ordering rules;
 * every atomic access in the .c files names its memory order and pairing.
 */
#ifndef PICKUP_CALLTAB_IMPL_H
#define PICKUP_CALLTAB_IMPL_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "pickup/calltab.h"
#include "pickup/idx_stack.h"

#define PK_CT_CACHELINE 64
#define PK_CT_ENTRY_SIZE 448  /* see struct pk_ct_entry and docs/calltab.md */
#define PK_CT_EXT_SIZE PK_CALLTAB_STRINGS_MAX /* one large block */
#define PK_CT_TAG_MIN 40      /* To-tag space always reserved at insert */
#define PK_CT_CACHE 32        /* per-thread free-entry cache */
#define PK_CT_REFILL 16       /* entries taken from the shared pool at once (one CAS) */
#define PK_CT_CCACHE 8        /* per-thread free claim-record cache (and refill) */
#define PK_CT_NONE UINT32_MAX

/* ---- the state word of an entry: [claim+1:32][gen:24][st:8] ---- */
enum pk_ct_st {
	PK_CT_FREE = 0,	 /* in the pool (or a thread cache) */
	PK_CT_INIT,	 /* being inserted: linked in group lists, invisible */
	PK_CT_TRYING,	 /* INVITE seen */
	PK_CT_TAGGING,	 /* a 18x is writing the To-tag (transient) */
	PK_CT_RINGING,	 /* 18x with To-tag seen: can be claimed */
	PK_CT_CLAIMED,	 /* a picker holds it; claim field names the record */
	PK_CT_DEAD,	 /* removed; waits for its links to go, then for RCU */
	/* removed while CLAIMED (CANCEL, a final answer): out of the Call-ID
	 * index, but its links and strings stay for the claim, still named in
	 * the claim field, until that claim ends (settle, claim timeout),
	 * whose ender makes it DEAD; pk_calltab_claim_find still returns it */
	PK_CT_GONE,
};

#define PK_CT_ST(s) ((unsigned)((s) & 0xffu))
#define PK_CT_GEN(s) ((uint32_t)(((s) >> 8) & 0xffffffu))
#define PK_CT_CLAIM(s) ((uint32_t)((s) >> 32)) /* claim record idx + 1, 0: none */
#define PK_CT_MK(gen, st, claim) \
	(((uint64_t)(claim) << 32) | ((uint64_t)((gen) & 0xffffffu) << 8) | (uint64_t)(st))

/* Strings of an entry, at (off, len) in its string area. */
enum pk_ct_s {
	PK_CT_S_CALL_ID,
	PK_CT_S_FROM_TAG,
	PK_CT_S_CONTACT,
	PK_CT_S_CALLER,
	PK_CT_S_CALLEE,
	PK_CT_S_RR, /* nrr times [u16 length][bytes] */
	PK_CT_S_TO_TAG, /* reserved to_cap bytes, to_len used once RINGING */
	PK_CT_S_COUNT
};

/*
 * One call. Written by the inserting thread before the entry is published
 * (release CAS on a group-list head), then immutable until it is recycled,
 * except: state, refs, next[] (atomics), to_len and the To-tag bytes
 * (written only by the thread that won TRYING->TAGGING, published by the
 * release CAS TAGGING->RINGING).
 *
 * 448 bytes, seven whole cache lines (64-byte aligned): no line is shared
 * by two entries, which different workers write at the same time (the
 * entries freed by every worker come back through one pool, so neighbours
 * belong to any thread; with 416-byte entries half the lines were shared
 * and two workers' inserts bounced them: docs/calltab.md, "Two threads").
 * The first 32 bytes hold what a claim's list walk reads for every call it
 * passes (state, arrival time, the links of the first four groups), so a
 * walk costs one cache line per call. The area holds the group ids (4 bytes per
 * group) and then, if they fit, the strings; otherwise the strings go to a
 * large block.
 */
struct pk_ct_entry {
	alignas(64) _Atomic uint64_t state;
	uint64_t invite_ns;
	_Atomic uint32_t next[PK_CALLTAB_MAX_GROUPS]; /* list link per group: link id | MARK */
	uint32_t caller_h, callee_h; /* 32-bit hashes for quick filtering */
	_Atomic uint32_t refs;	/* list links not yet unlinked */
	uint32_t hpos;		/* slot in the Call-ID index */
	uint64_t hash;		/* Call-ID + From-tag key hash */
	uint32_t ext;		/* large block idx + 1, 0: strings inline */
	uint8_t ngroups, nrr, to_cap, to_len;
	struct pk_calltab_addr src;
	uint16_t off[PK_CT_S_COUNT], len[PK_CT_S_COUNT];
	char area[PK_CT_ENTRY_SIZE - 128];
};

#define PK_CT_INLINE ((uint32_t)sizeof(((struct pk_ct_entry *)0)->area))

static inline uint32_t *pk_ct_groups(struct pk_ct_entry *e)
{
	return (uint32_t *)(void *)e->area;
}

static inline const uint32_t *pk_ct_groups_c(const struct pk_ct_entry *e)
{
	return (const uint32_t *)(const void *)e->area;
}

/* Group-list links: id = idx * 8 + slot + 1 (0 is the end of a list, and
 * names the group's head word as a predecessor); the top bit of a next word
 * marks the link's entry as removed (Harris); SEAL (with MARK) closes the
 * word of a removed last link that the sweep is taking out: its low bits
 * then name the predecessor, not a successor, and no call is appended
 * after it (see list_append). */
#define PK_CT_MARK 0x80000000u
#define PK_CT_SEAL 0x40000000u
#define PK_CT_LMASK 0x3fffffffu
/* The successor a next word names (0: end of the list). */
#define PK_CT_NEXT(w) (((w) & PK_CT_SEAL) ? 0u : ((w) & PK_CT_LMASK))
#define PK_CT_LINK(idx, i) ((uint32_t)(idx) * PK_CALLTAB_MAX_GROUPS + (uint32_t)(i) + 1u)
#define PK_CT_LINK_IDX(l) (((l) - 1u) / PK_CALLTAB_MAX_GROUPS)
#define PK_CT_LINK_SLOT(l) (((l) - 1u) % PK_CALLTAB_MAX_GROUPS)
#define PK_CT_MAX_CAPACITY PK_CT_MAX_REFS /* index slots name up to 2^24-1 */

/* Life of a claim record: taken from the pool CHOOSING by the claimer
 * (which alone may move it on), BOUND once its call is CLAIMED, FREE again
 * when the claim ends (settled, timed out, or no call found); the thread
 * whose CAS ends it removes it from the claim index and retires it. */
enum pk_ct_claim_st { PK_CT_CLAIM_FREE = 0, PK_CT_CLAIM_CHOOSING, PK_CT_CLAIM_BOUND };

/* A claim in flight: the picker's transaction key and the call it got. */
struct pk_ct_claim {
	_Atomic uint64_t entry; /* (gen << 32) | (idx + 1); 0 while still choosing */
	uint64_t claim_ns;
	uint64_t hash;
	uint32_t hpos;
	_Atomic uint32_t live; /* enum pk_ct_claim_st */
	uint16_t key_len;
	uint16_t pad;
	char key[PK_CALLTAB_CLAIM_KEY_MAX];
};


/* ---- the hash indexes (calltab_index.c) ---- */

/* Slot word: [ref+1:24][sig:6][st:2]; 0 is empty. 4 bytes, so that the
 * index costs ~5.5 bytes per call and more of it stays in cache. */
enum pk_ct_slot_st { PK_CT_SLOT_PENDING = 1, PK_CT_SLOT_COMMITTED = 2, PK_CT_SLOT_KILLED = 3 };
#define PK_CT_SLOTS 15
#define PK_CT_SLOTS_POW2 16 /* positions are bucket * 16 + slot */
#define PK_CT_MAX_REFS ((1u << 24) - 1) /* objects an index can name */

struct pk_ct_bucket {
	_Atomic uint32_t slot[PK_CT_SLOTS];
	/* Keys whose home bucket is at or before this one and that live after
	 * it: a lookup goes on to the next bucket only while this is > 0. */
	_Atomic uint32_t overflow;
};

struct pk_ct_index {
	struct pk_ct_bucket *b;
	uint32_t nb;
	int kind; /* PK_CT_KIND_* */
};

enum { PK_CT_KIND_CALL, PK_CT_KIND_CLAIM };

/* What a lookup compares: the call key or a claim key. */
struct pk_ct_key {
	struct pk_str a, b; /* Call-ID, From-tag; or claim key, empty */
};

/* A group's list of the calls ringing in it, in the order they were
 * appended (oldest first). head: the first link id (0: empty), the next
 * word of a sentinel that is never marked. tail: [tag:32][last link id:32]
 * (0: the sentinel), possibly lagging by a link; every CAS on it bumps the
 * tag, so that a stale CAS fails (the sweep moves it back when it takes out
 * the last link). unsorted: adjacent pairs (a, b) in the list with
 * b.invite_ns <= a.invite_ns; while it is 0 the list is strictly sorted by
 * arrival time and a claim takes the first claimable call it meets. len and
 * dead are approximate counts (relaxed; they only decide when the sweep
 * walks the list): links found by the sweep's last complete walk of it
 * (appends do not count, so that an insert does one RMW less), and links
 * marked but not yet unlinked. */
struct pk_ct_group {
	_Atomic uint32_t head;
	_Atomic uint32_t len;
	_Atomic uint64_t tail;
	_Atomic uint32_t dead;
	_Atomic int32_t unsorted;
	uint64_t pad;
};

#define PK_CT_FULL_PASS 64 /* every 64th sweep walks every list with dead links */

/* Per-thread block: counters (written only by the owner, read by anyone:
 * relaxed atomics, no RMW), the free-entry and claim-record caches (owner
 * only), and the owner's retire list of claim records: pushed by the
 * owner, taken whole by the sweep with an exchange (so no ABA), on its own
 * cache line. Entries need no per-thread retire list: only the sweep
 * unlinks, so only the sweep retires them (struct pk_calltab, rt_*). */
struct pk_ct_thread {
	alignas(PK_CT_CACHELINE) _Atomic uint64_t ctr[PK_CALLTAB_CTR_COUNT];
	/* Written by the owner only; relaxed atomic so that
	 * pk_calltab_free_count may read it from any thread. */
	_Atomic uint32_t ncache, nccache;
	uint32_t cache[PK_CT_CACHE];
	uint32_t ccache[PK_CT_CCACHE]; /* free claim records, owner only */
	alignas(PK_CT_CACHELINE) _Atomic uint32_t claim_retire; /* [idx+1] */
};

struct pk_calltab {
	struct pk_ct_entry *ents;
	char *ext;
	struct pk_ct_claim *claims;
	uint32_t cap, next_blocks, nclaims, max_groups, max_threads, ndirty;
	uint32_t crefill; /* claim records a thread takes at once (<= PK_CT_CCACHE) */
	/* free stacks of entries, large string blocks and claim records; the
	 * link arrays double as the retire lists */
	alignas(PK_CT_CACHELINE) struct pk_idx_stack ent_pool;
	/* One past the highest entry index the pool ever handed out (raised
	 * by the refills, on ent_pool's line, which they write anyway; never
	 * lowered): no entry at or above it has been used, so the sweep and
	 * the listing walk only the entries below it. The pool hands out the
	 * lowest indexes first and takes freed ones back on top, so a table
	 * sized for the busy hour stays, the rest of the day, a walk of the
	 * entries that hour used. */
	_Atomic uint32_t ent_used;
	alignas(PK_CT_CACHELINE) struct pk_idx_stack ext_pool;
	alignas(PK_CT_CACHELINE) struct pk_idx_stack claim_pool;
	alignas(PK_CT_CACHELINE) _Atomic uint64_t freed; /* entries back in the pool */
	struct pk_ct_index cix, kix; /* Call-ID index, claim-key index */
	struct pk_ct_group *grp;     /* each group's list */
	_Atomic uint64_t *dirty;     /* groups with marked links left to unlink */
	struct pk_ct_thread *thr;
	/* Live tunables (pk_calltab_set_timeouts): written by the control
	 * thread, read by workers (claim) and the sweep, all relaxed. Nothing
	 * is published with them; a reader that sees the old value for one
	 * more burst only applies the change a little later, and each value
	 * is used on its own (no pair to keep consistent). INT64_MAX: none. */
	_Atomic uint64_t ring_timeout, claim_timeout;
	struct pk_rcu *rcu;
	void *map;
	size_t map_len;
	alignas(PK_CT_CACHELINE) uint32_t sweep_cursor; /* control thread only */
	/* Control thread only: entries whose last link the sweep unlinked,
	 * and their large blocks, chained through the pools' links (first
	 * idx + 1, last idx), not yet handed to RCU. */
	uint32_t rt_ents, rt_ents_last, rt_nents, rt_ext, rt_ext_last;
	uint32_t sweeps;       /* control thread only */
	uint32_t claim_cursor; /* control thread only */
};

static inline struct pk_ct_entry *pk_ct_ent(const struct pk_calltab *t, uint32_t idx)
{
	return &t->ents[idx];
}

static inline const char *pk_ct_base(const struct pk_calltab *t, const struct pk_ct_entry *e)
{
	return e->ext ? t->ext + (size_t)(e->ext - 1) * PK_CT_EXT_SIZE : e->area;
}

static inline struct pk_str pk_ct_str(const struct pk_calltab *t, const struct pk_ct_entry *e,
				      enum pk_ct_s s)
{
	return pk_str_make(pk_ct_base(t, e) + e->off[s], e->len[s]);
}

/* calltab_index.c */
/* 0 (committed at *pos), -EEXIST (a twin won; our slot was withdrawn: the
 * object may have been read by a twin's scan), -ENOSPC, and with precheck
 * -EALREADY (the key was found committed before anything was published;
 * *pos is then the ref it names).
 */
int pk_ct_ix_insert(struct pk_calltab *t, struct pk_ct_index *ix, uint64_t hash, uint32_t ref,
		    const struct pk_ct_key *key, uint32_t *pos, bool precheck);
uint32_t pk_ct_ix_lookup(const struct pk_calltab *t, const struct pk_ct_index *ix, uint64_t hash,
			 const struct pk_ct_key *key);
/* pk_ct_ix_lookup for a key that is usually not there (a duplicate
 * check): the same answer, cheaper when it is none (calltab_index.c). */
uint32_t pk_ct_ix_lookup_absent(const struct pk_calltab *t, const struct pk_ct_index *ix, uint64_t hash,
				const struct pk_ct_key *key);
void pk_ct_ix_remove(struct pk_ct_index *ix, uint64_t hash, uint32_t pos);
void pk_ct_ix_prefetch(const struct pk_ct_index *ix, uint64_t hash);
bool pk_ct_ix_empty(const struct pk_ct_index *ix);
uint32_t pk_ct_ix_buckets(uint32_t n);

/* Does object ref of this index hold key? (Reads strings that are
 * immutable while the object is reachable.) */
static inline bool pk_ct_match(const struct pk_calltab *t, int kind, uint32_t ref,
			       const struct pk_ct_key *key)
{
	if (kind == PK_CT_KIND_CALL) {
		const struct pk_ct_entry *e = pk_ct_ent(t, ref);

		struct pk_str cid = pk_ct_str(t, e, PK_CT_S_CALL_ID), tag = pk_ct_str(t, e, PK_CT_S_FROM_TAG);

		/* pk_mem_eq_short: inline up to 32 bytes (most Call-IDs and
		 * tags), where a memcmp call cost more than the compare */
		return cid.len == key->a.len && tag.len == key->b.len &&
		       pk_mem_eq_short(cid.p, key->a.p, cid.len) && pk_mem_eq_short(tag.p, key->b.p, tag.len);
	} else {
		const struct pk_ct_claim *c = &t->claims[ref];

		return c->key_len == key->a.len &&
		       (key->a.len == 0 || memcmp(c->key, key->a.p, key->a.len) == 0);
	}
}

uint64_t pk_ct_hash(const void *p, size_t len, uint64_t seed);

#endif /* PICKUP_CALLTAB_IMPL_H */
