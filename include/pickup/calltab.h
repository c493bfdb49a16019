/* SPDX-License-Identifier: MIT */
/*
 * The ringing-call table: every call pickupd has seen an INVITE for whose
 * callee is a member of a pickup group with the `ring` right, from the
 * INVITE until its final answer, so that a picker can claim the oldest
 * ringing call of a group (group number), of a set of groups (pickup code)
 * or the call ringing at one user (directed pickup).
 *
 * One table is shared by all workers. It is "sharded by pickup group": each
 * group id has its own list of the calls ringing in it, and a claim only
 * walks the lists of the groups it asks about. Lookups never block and take
 * no lock; a claim is one compare-and-swap on the call's state word, so
 * exactly one picker wins a call. Entries live in one array preallocated at
 * creation and are recycled through pk_rcu (include/pickup/rcu.h): an entry
 * removed from the indexes is reused only after every worker has reported a
 * quiescent state. docs/calltab.md has the layout, the memory budget and the
 * memory-ordering argument.
 *
 * Threads. Every function takes the caller's thread id `tid`
 * (< config.max_threads, unique per thread): it selects the caller's counter
 * block and allocation cache. The caller must be registered with the RCU
 * domain given at creation and online; views returned by the table (struct
 * pk_calltab_call) stay valid until that thread's next pk_rcu_quiescent().
 * "Worker-safe" below means: no lock, no allocation, no syscall, bounded
 * work apart from the list walks documented at each function.
 *
 * Times are monotonic nanoseconds passed in by the caller (a worker passes
 * its loop timestamp); the table never reads a clock.
 */
#ifndef PICKUP_CALLTAB_H
#define PICKUP_CALLTAB_H

#include "pickup/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_rcu;
struct pk_calltab;

/* Groups one call may ring in; a callee in more ring groups is tracked in the
 * first PK_CALLTAB_MAX_GROUPS the caller passes (counted: groups_truncated). */
#define PK_CALLTAB_MAX_GROUPS 8
/* Record-Route URIs kept for the route back to the caller. */
#define PK_CALLTAB_MAX_RR 8
/* Longest callee To-tag kept (RFC 3261 tags are short random tokens). */
#define PK_CALLTAB_TAG_MAX 64
/* Longest picker transaction key (picker Call-ID + top Via branch). */
#define PK_CALLTAB_CLAIM_KEY_MAX 220
/* All strings of one call together (plus 2 bytes per Record-Route URI and
 * the To-tag reserve) must fit in this many bytes to be tracked. */
#define PK_CALLTAB_STRINGS_MAX 1024

/* Call states as the table reports them. */
#define PK_CALLTAB_FOREACH_STATE(_) \
	_(FREE, "free")             \
	_(TRYING, "trying")         \
	_(RINGING, "ringing")       \
	_(CLAIMED, "claimed")       \
	_(DEAD, "dead")

enum pk_calltab_state {
#define PK_CT_STATE_ENUM(n, s) PK_CALLTAB_##n,
	PK_CALLTAB_FOREACH_STATE(PK_CT_STATE_ENUM)
#undef PK_CT_STATE_ENUM
	PK_CALLTAB_STATE_COUNT
};

/*
 * Counters (X-macro: enum id, name). Each thread counts in its own block;
 * pk_calltab_stats() sums them. Events, not gauges: "ringing" counts
 * TRYING->RINGING transitions. pk_calltab_in_use() is the gauge.
 */
#define PK_CALLTAB_FOREACH_COUNTER(_)                                          \
	_(INSERTED, "inserted")             /* INVITE tracked */               \
	_(DUPLICATE, "duplicate")           /* insert of a Call-ID+From-tag already there */ \
	_(FULL, "full")                     /* insert refused: no free entry */ \
	_(EXT_FULL, "ext_full")             /* insert refused: long strings, no free large block */ \
	_(TOO_BIG, "too_big")               /* insert refused: strings over PK_CALLTAB_STRINGS_MAX */ \
	_(EXT_USED, "ext_used")             /* insert that needed a large block */ \
	_(GROUPS_TRUNCATED, "groups_truncated")                                \
	_(RINGING, "ringing")               /* TRYING -> RINGING */            \
	_(TAG_TOO_LONG, "tag_too_long")     /* 18x To-tag longer than reserved: not ringing */ \
	_(CLAIMED, "claimed")               /* RINGING -> CLAIMED */           \
	_(CLAIM_RETRANS, "claim_retrans")   /* same transaction key: same call returned */ \
	_(CLAIM_CONFLICT, "claim_conflict") /* lost a CAS race, took the next call */ \
	_(CLAIM_SELF, "claim_self")         /* skipped a call placed by the picker */ \
	_(CLAIM_NONE, "claim_none")         /* nothing to pick up */           \
	_(CLAIM_FULL, "claim_full")         /* no free claim record */         \
	_(PICKED, "picked")                 /* claim settled by 2xx: removed */ \
	_(CLAIM_GONE, "claim_gone")         /* claim settled by 481/603: removed */ \
	_(CLAIM_REVERTED, "claim_reverted") /* claim failed: back to RINGING */ \
	_(CLAIM_TIMEOUT, "claim_timeout")   /* no answer to the pickup INVITE: back to RINGING */ \
	_(EXPIRED, "expired")               /* ring timeout */                 \
	_(REMOVED, "removed")               /* final answer or CANCEL */       \
	_(LOOKUP_MISS, "lookup_miss")       /* response/CANCEL for an untracked call */ \
	_(ALLOC, "alloc")                   /* entries taken from the pool */  \
	_(RETIRED, "retired")               /* entries handed to RCU by sweep */

enum pk_calltab_counter {
#define PK_CT_CTR_ENUM(n, s) PK_CALLTAB_CTR_##n,
	PK_CALLTAB_FOREACH_COUNTER(PK_CT_CTR_ENUM)
#undef PK_CT_CTR_ENUM
	PK_CALLTAB_CTR_COUNT
};

/* Why a call leaves the table (pk_calltab_remove). */
enum pk_calltab_reason {
	PK_CALLTAB_ANSWERED,  /* 2xx from the callee */
	PK_CALLTAB_REJECTED,  /* 3xx-6xx final answer */
	PK_CALLTAB_CANCELLED, /* CANCEL from the caller */
};

/* Transport of the caller's leg (as received by pickupd). */
enum pk_calltab_transport {
	PK_CALLTAB_UDP,
	PK_CALLTAB_TCP,
	PK_CALLTAB_TLS,
};

/* Source address of the caller's INVITE: family AF_INET (addr[0..3]) or
 * AF_INET6, port in host order. */
struct pk_calltab_addr {
	uint8_t family;
	uint8_t transport;
	uint16_t port;
	uint8_t addr[16];
};

struct pk_calltab_config {
	uint32_t capacity;       /* calls tracked at once, e.g. 1<<20 */
	uint32_t max_groups;     /* group ids are < max_groups */
	uint32_t max_threads;    /* tids are < max_threads */
	uint32_t ext_blocks;     /* 1 KiB blocks for long strings; 0: capacity/64 */
	uint32_t claim_records;  /* claims in flight at once; 0: capacity/16 (>= 64) */
	uint64_t ring_timeout_ns;  /* TRYING/RINGING longer than this: expired */
	uint64_t claim_timeout_ns; /* CLAIMED longer than this: back to RINGING */
	struct pk_rcu *rcu;      /* reclamation domain; readers registered by the caller */
};

/* A new call (INVITE to a ringing group member). Strings are copied. */
struct pk_calltab_new {
	struct pk_str call_id, from_tag; /* the key */
	struct pk_str contact;           /* caller's Contact URI */
	struct pk_str caller;            /* caller's AoR, user@domain (self-pickup check) */
	struct pk_str callee;            /* callee's AoR (directed pickup) */
	const struct pk_str *rr;         /* Record-Route URIs, in order */
	uint32_t nrr;
	const uint32_t *groups;          /* groups the call rings in */
	uint32_t ngroups;
	struct pk_calltab_addr src;
	uint64_t invite_ns;              /* when the INVITE arrived */
	uint64_t hash;                   /* pk_calltab_key_hash(), or 0: computed here */
};

/*
 * What the table gives out about a call: views into the entry, valid until
 * the calling thread's next pk_rcu_quiescent(). The strings never change
 * while the entry is in the table; to_tag is set once, when RINGING.
 * (idx, gen) names this incarnation of the entry.
 */
struct pk_calltab_call {
	uint32_t idx, gen;
	enum pk_calltab_state state;
	uint64_t invite_ns;
	uint64_t hash; /* pk_calltab_key_hash(call_id, from_tag), as stored */
	struct pk_str call_id, from_tag, to_tag, contact, caller, callee;
	uint32_t nrr;
	struct pk_str rr[PK_CALLTAB_MAX_RR];
	uint32_t ngroups;
	uint32_t groups[PK_CALLTAB_MAX_GROUPS];
	struct pk_calltab_addr src;
};

/*
 * A pickup: which calls may be taken and who takes them.
 *  - group number: groups = {g}, ngroups = 1;
 *  - pickup code: the groups where the picker has the `pickup` right;
 *  - directed pickup: callee = the user's AoR, groups = the groups where the
 *    callee has `ring` and the picker `pickup` (computed by the caller from
 *    the group index; the table checks nothing about rights).
 * The oldest (by invite_ns) RINGING call among those groups is taken, never
 * one whose caller is `picker`.
 */
struct pk_calltab_claim_req {
	const uint32_t *groups;
	uint32_t ngroups;
	struct pk_str callee;  /* empty: any callee */
	struct pk_str picker;  /* picker's AoR */
	struct pk_str key;     /* picker transaction key: its Call-ID + top Via branch */
	uint64_t key_hash;     /* pk_calltab_claim_hash(key), or 0: computed here */
	uint64_t now_ns;
};

/* Create a table; all memory is allocated and touched here. Returns NULL
 * (errno set: EINVAL bad config, ENOMEM) on failure. Control thread only. */
struct pk_calltab *pk_calltab_create(const struct pk_calltab_config *cfg);
/* Free the table. No thread may use it any more, and every callback it
 * deferred must have run (pk_rcu_synchronize + pk_rcu_reclaim, or
 * pk_rcu_destroy) first: the callbacks touch the table. Control thread. */
void pk_calltab_destroy(struct pk_calltab *t);

/* Bytes of memory the table holds (entries, large blocks, claim records,
 * indexes, per-thread blocks). Any thread. */
size_t pk_calltab_memory(const struct pk_calltab *t);

/* The hash of a call key; never 0. Worker-safe, pure. */
uint64_t pk_calltab_key_hash(struct pk_str call_id, struct pk_str from_tag);
/* The hash of a picker transaction key (struct pk_calltab_claim_req);
 * never 0, and from another seed than pk_calltab_key_hash. A caller that
 * needs it anyway passes it to claim and settle, which then do not hash the
 * key again. Worker-safe, pure. */
uint64_t pk_calltab_claim_hash(struct pk_str key);
/* Start loading the index bucket of a key (hash from pk_calltab_key_hash)
 * into the cache: a worker calls it for every packet of a burst before it
 * handles the first, so that the misses overlap. Worker-safe; no effect on
 * the table. */
void pk_calltab_prefetch(const struct pk_calltab *t, uint64_t hash);

/*
 * Track a new call in state TRYING. Returns 0; -EEXIST if a call with this
 * Call-ID + From-tag is already tracked (a retransmission: nothing changed);
 * -ENOSPC if the table (or the large-block pool the strings need) is full;
 * -E2BIG if its strings exceed PK_CALLTAB_STRINGS_MAX; -EINVAL on bad
 * arguments (no group, a group id >= max_groups, nrr > PK_CALLTAB_MAX_RR).
 * On any error the call is not tracked (and cannot be picked up) but should
 * be proxied as usual; every refusal is counted. Worker-safe.
 */
int pk_calltab_insert(struct pk_calltab *t, unsigned tid, const struct pk_calltab_new *c);

/*
 * Find a call by Call-ID + From-tag (hash: pk_calltab_key_hash() or 0).
 * Fills *out (if not NULL) and returns 0, or -ENOENT. Worker-safe; never
 * blocks, writes nothing shared.
 */
int pk_calltab_find(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
		    struct pk_str from_tag, uint64_t hash, struct pk_calltab_call *out);

/*
 * A 18x with a To-tag arrived: TRYING -> RINGING, keeping to_tag (the first
 * To-tag wins; later 18x, also from other forks, change nothing). Returns 0
 * (now ringing), -EALREADY (was ringing or claimed already), -ENOENT (not
 * tracked), -E2BIG (To-tag longer than the space reserved at insert, at least
 * 40 bytes: the call stays TRYING, i.e. it cannot be picked up). Worker-safe.
 */
int pk_calltab_ringing(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
		       struct pk_str from_tag, uint64_t hash, struct pk_str to_tag);

/*
 * The call got a final answer (2xx, 3xx-6xx) or was CANCELled: remove it,
 * whatever its state. It is no longer found, listed or claimable, and its
 * Call-ID + From-tag may be tracked anew. A claim on it stays bound to the
 * picker's key until settled or timed out (so that retransmissions claim
 * nothing new), and keeps the call's strings until then: the picker's
 * CANCEL still finds, with pk_calltab_claim_find, where the pickup INVITE
 * went. The entry is freed once the claim ends. Returns 0 or -ENOENT.
 * Worker-safe and O(1): the call's list links are only marked (for a
 * claimed call, by whoever ends the claim); the sweep unlinks them.
 */
int pk_calltab_remove(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
		      struct pk_str from_tag, uint64_t hash, enum pk_calltab_reason why);

/*
 * pk_calltab_remove that also says what was removed, in one lookup where
 * pk_calltab_find then pk_calltab_remove take two (a CANCEL asks whether
 * a pickup was in flight): *was gets the state the call had when this
 * removed it (TRYING, RINGING or CLAIMED), PK_CALLTAB_DEAD if it returns
 * -ENOENT. Counts as that find and remove did (lookup_miss twice for an
 * untracked call). Worker-safe, O(1).
 */
int pk_calltab_remove_was(struct pk_calltab *t, unsigned tid, struct pk_str call_id,
			  struct pk_str from_tag, uint64_t hash, enum pk_calltab_reason why,
			  enum pk_calltab_state *was);

/*
 * Claim a call for a picker (see struct pk_calltab_claim_req). Returns:
 *  0            claimed: *out is the call, now CLAIMED and bound to req->key;
 *  1            req->key already holds a claim (a retransmission of the same
 *               pickup INVITE): *out is that same call, nothing changed;
 *  -EALREADY    req->key holds a claim whose call is gone meanwhile (CANCEL,
 *               answered): drop the retransmission, claim nothing new;
 *  -ENOENT      nothing to pick up (no RINGING call, or only the picker's own);
 *  -EINPROGRESS another thread is claiming for the same key right now (a
 *               retransmission raced its original): drop the retransmission;
 *  -ENOSPC      no free claim record (counted);
 *  -E2BIG       key longer than PK_CALLTAB_CLAIM_KEY_MAX;
 *  -EINVAL      no groups, or a group id out of range.
 * A call whose ring timeout has passed (by now_ns) is never handed out.
 * Worker-safe; walks the lists of the requested groups: up to the first
 * claimable call of a list whose calls are in arrival order (the usual
 * case), the whole list otherwise (O(calls in it)).
 */
int pk_calltab_claim(struct pk_calltab *t, unsigned tid, const struct pk_calltab_claim_req *req,
		     struct pk_calltab_call *out);

/*
 * The call the claim bound to `key` was made on, claiming nothing and
 * counting nothing (key_hash: pk_calltab_claim_hash(key), or 0: computed
 * here): fills *out (if not NULL) and returns 0 while the claim lasts,
 * with out->state CLAIMED, or DEAD when the call was removed meanwhile
 * (the caller's CANCEL, a final answer: the claim keeps its strings, see
 * pk_calltab_remove). -ENOENT when no claim is bound to key (never was,
 * settled, timed out, or its claimer still choosing). For the picker's
 * CANCEL and ACK, which must go where the pickup INVITE went.
 * Worker-safe; one claim-index lookup, no list walk.
 */
int pk_calltab_claim_find(struct pk_calltab *t, unsigned tid, struct pk_str key, uint64_t key_hash,
			  struct pk_calltab_call *out);

/*
 * The caller answered the pickup INVITE sent for the claim bound to `key`:
 * 2xx (picked up), 481 or 603 (the early dialog is gone): the call is
 * removed; any other status >= 300: the call is RINGING again and may be
 * claimed anew; status < 200: nothing. A final status ends the claim: the
 * key is free again. Returns 0, or -ENOENT when no claim is bound to key
 * (settled already, timed out) or its call was removed meanwhile (the claim
 * is ended all the same). Worker-safe.
 */
int pk_calltab_settle(struct pk_calltab *t, unsigned tid, struct pk_str key, unsigned status);
/* The same with key_hash = pk_calltab_claim_hash(key) (0: computed). */
int pk_calltab_settle_hashed(struct pk_calltab *t, unsigned tid, struct pk_str key, uint64_t key_hash,
			     unsigned status);

/*
 * Control-thread housekeeping, to be called periodically (e.g. every 10 ms)
 * by a registered, online RCU reader (tid): expires calls past the ring
 * timeout (looking at up to `budget` entries from where the last call
 * stopped, e.g. capacity/100; 0: all, and every group list is cleaned) and
 * claims past the claim timeout (budget/64 claim records: the call rings
 * again, or, removed meanwhile, is freed), unlinks removed
 * calls from the group lists they were in, and hands the entries removed
 * since the last call to pk_rcu_defer. The caller then runs pk_rcu_reclaim() from time to time, and
 * reports its own quiescent state, for the entries to become free again.
 * Returns how many calls it expired or reverted. Not for workers.
 */
unsigned pk_calltab_sweep(struct pk_calltab *t, unsigned tid, uint64_t now_ns, uint32_t budget);

/*
 * Listing for the control socket, safe while workers run: calls fn for each
 * call in state TRYING, RINGING or CLAIMED that rings in `group` (group
 * UINT32_MAX: any) and whose callee is `callee` (empty: any). The view is
 * valid during the callback; fn returns non-zero to stop. Returns the number
 * of calls passed to fn. Walks one group list, or the whole entry array
 * when group is UINT32_MAX. Not for workers (control thread, a registered
 * reader).
 */
unsigned pk_calltab_foreach(struct pk_calltab *t, unsigned tid, uint32_t group, struct pk_str callee,
			    int (*fn)(const struct pk_calltab_call *c, void *arg), void *arg);

/*
 * Change the ring and claim timeouts while workers run (control socket):
 * 0 keeps the current value; a value above INT64_MAX means "never". Workers
 * and the sweep read the timeouts with relaxed atomic loads (nothing else is
 * published with them), so a change applies from each thread's next claim
 * or sweep: a shorter ring timeout makes older calls unclaimable at once
 * and expires them at the sweep; a shorter claim timeout releases claims at
 * the next sweeps. Any thread (not worker-hot: a store each).
 */
void pk_calltab_set_timeouts(struct pk_calltab *t, uint64_t ring_timeout_ns, uint64_t claim_timeout_ns);
/* The timeouts in force, 0 meaning none (as in struct pk_calltab_config);
 * either pointer may be NULL. Any thread. */
void pk_calltab_get_timeouts(const struct pk_calltab *t, uint64_t *ring_ns, uint64_t *claim_ns);

/* Sum of every thread's counters into out[PK_CALLTAB_CTR_COUNT]. Safe from
 * any thread while workers run: relaxed atomic loads of counters that only
 * their owner thread writes (no data race; approximate: each counter is
 * exact, the set is not a snapshot). */
void pk_calltab_stats(const struct pk_calltab *t, uint64_t out[PK_CALLTAB_CTR_COUNT]);
const char *pk_calltab_counter_name(enum pk_calltab_counter c);
const char *pk_calltab_state_name(enum pk_calltab_state s);

/* Entries taken and not yet returned to the free pool (tracked calls plus
 * removed ones waiting for their grace period). Any thread, while workers
 * run (relaxed atomic loads; approximate then, exact when idle). */
uint32_t pk_calltab_in_use(const struct pk_calltab *t);
/* Entries in the free pool and the per-thread caches. Any thread, while
 * workers run (relaxed atomic loads only, no data race), but then only an
 * estimate (the pool changes under the walk); exact while no thread is
 * inside the table (tests, shutdown). */
uint32_t pk_calltab_free_count(const struct pk_calltab *t);
/* Self-check for tests and shutdown, only while no thread is inside the
 * table and after every deferred reclamation ran: all entries, large blocks
 * and claim records free, indexes and group lists empty. Returns 0, or
 * -EBUSY with *why (if not NULL) saying what is off. */
int pk_calltab_check_idle(const struct pk_calltab *t, const char **why);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_CALLTAB_H */
