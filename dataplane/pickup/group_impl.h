/* SPDX-License-Identifier: MIT */
/*
 * Private layout of the group index, shared by its three files:
 * groups.c (helpers and the reader side), group_edit.c (single changes) and
 * group_build.c (whole-index build for reloads, freeing, stats).
 *
 * A view is a persistent (path-copied) structure. Four radix trees of fan-out
 * 256 hang off it:
 *   num: hash(number)      -> root[h>>56] -> mid[(h>>48)&255] -> segment
 *   usr: hash(user,domain) -> root[h>>56] -> mid[(h>>48)&255] -> segment
 *   gid: group id          -> root[id>>16] -> mid[(id>>8)&255] -> leaf[id&255]
 *   uid: user id           -> the same shape
 * A segment is a small array of (32-bit hash tag, object) pairs sorted by
 * tag. Groups are reachable from num and gid, users from usr and uid.
 *
 * Beside num and usr, an index of up to params.flat_max objects also has a
 * flat hash table of them (fnum, fusr): a lookup there waits on three
 * dependent loads (the slot, the object, its text) where the tree's waits
 * on seven (root, middle node, segment, its tags, its objects, the object,
 * its text). The tree stays the index: at commit (gx_flat_update) a change
 * that changed a tree copies the old view's table and applies its own
 * puts to the copy (a memcpy of 32-128 bytes an object, ~60 µs at
 * 65,536), or builds the table again from the tree when it has none, must
 * grow or shrink it, or changed many objects (a reload always).
 *
 * Every block is immutable once a view containing it is published. Each
 * block starts with the id of the change ("transaction") that allocated
 * it: while that change is open the block is private to it and may be
 * written in place; any other block is copied before it is changed and the
 * original is retired (freed after an RCU grace period).
 */
#ifndef PICKUP_GROUP_IMPL_H
#define PICKUP_GROUP_IMPL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "pickup/groups.h"

#define GX_FAN_BITS 8
#define GX_FAN (1u << GX_FAN_BITS)
#define GX_SEED_NUMBER 0x243f6a8885a308d3ull
#define GX_SEED_USER 0x13198a2e03707344ull

/* An interior radix node (root, mid, or leaf of an id tree). */
struct gx_node {
	uint64_t txn;
	void *slot[GX_FAN];
};

struct gx_seg {
	uint64_t txn;
	uint32_t n;
	uint32_t pad_;
	/* followed by: void *obj[n]; uint32_t tag[n] (sorted ascending) */
};

static inline void **gx_seg_objs(const struct gx_seg *s)
{
	return (void **)(uintptr_t)(s + 1);
}

static inline uint32_t *gx_seg_tags(const struct gx_seg *s)
{
	return (uint32_t *)(uintptr_t)(gx_seg_objs(s) + s->n);
}

static inline size_t gx_seg_size(uint32_t n)
{
	return sizeof(struct gx_seg) + (size_t)n * (sizeof(void *) + sizeof(uint32_t));
}

/* A group: public part plus the writer's bookkeeping. Followed by the
 * member array, then the number and name bytes. */
struct gx_group {
	uint64_t txn;
	uint64_t hash; /* gx_hash of the number */
	struct pk_group pub;
};

/* A user. Followed by the membership array, then the user part bytes. */
struct gx_user {
	uint64_t txn;
	uint64_t hash; /* gx_hash_user of (user, domain) */
	struct pk_group_user pub;
};

struct gx_settings {
	uint64_t txn;
	struct pk_groups_settings s;
};

/* A flat table of an index's objects: open addressing, linear probing from
 * hash & mask, never more than half full (so a probe always ends at an
 * empty slot). obj NULL: empty. */
struct gx_flat_slot {
	uint64_t hash; /* the object's gx_group.hash or gx_user.hash */
	const void *obj;
};

struct gx_flat {
	uint64_t txn;
	uint32_t mask; /* slots - 1, a power of two minus one */
	uint32_t n;    /* objects */
	struct gx_flat_slot slot[];
};

struct pk_groups_view {
	uint64_t txn; /* version: the change that published this view */
	const struct gx_settings *settings;
	struct gx_node *num, *usr, *gid, *uid; /* radix roots, NULL when empty */
	const struct gx_flat *fnum, *fusr;     /* flat tables of num, usr; NULL: none */
	uint32_t n_groups, n_users;
	uint64_t n_memberships;
	/* Bit c set: some group number may start with byte c (set for every
	 * number put in num, never cleared by an edit, so a superset; exact
	 * again after a rebuild). Copied with the view. pk_groups_classify
	 * skips the number lookup of a dialled string whose first byte no
	 * number has (a user's extension where numbers start with '*'). */
	uint64_t num_first[4];
};

static inline void gx_note_number(struct pk_groups_view *v, struct pk_str number)
{
	if (number.len > 0) {
		unsigned char c = (unsigned char)number.p[0];

		v->num_first[c >> 6] |= 1ull << (c & 63);
	}
}

static inline bool gx_number_may_start(const struct pk_groups_view *v, unsigned char c)
{
	return (v->num_first[c >> 6] >> (c & 63)) & 1;
}

/* gx_txn_alloc stamps, and gx_retire reads, the txn id as the first word
 * of every block. */
static_assert(offsetof(struct gx_node, txn) == 0, "txn first");
static_assert(offsetof(struct gx_seg, txn) == 0, "txn first");
static_assert(offsetof(struct gx_group, txn) == 0, "txn first");
static_assert(offsetof(struct gx_user, txn) == 0, "txn first");
static_assert(offsetof(struct gx_settings, txn) == 0, "txn first");
static_assert(offsetof(struct gx_flat, txn) == 0, "txn first");
static_assert(offsetof(struct gx_group, hash) == offsetof(struct gx_user, hash), "one hash offset");
static_assert(offsetof(struct pk_groups_view, txn) == 0, "txn first");
static_assert(sizeof(struct gx_seg) % sizeof(void *) == 0, "objs aligned after the header");

/* Dense id allocator: never-used ids first, then freed ones, oldest first. */
struct gx_ids {
	uint32_t limit; /* ids are < limit */
	uint32_t next;	/* [next, limit) never used */
	uint32_t *ring; /* freed ids, FIFO */
	uint32_t head, count, cap;
};

struct pk_groups {
	/* The published view. Written only by the writer holding wlock, with a
	 * release store (gx_commit) that pairs with the acquire load in
	 * pk_groups_view(): a reader that sees the pointer sees every block
	 * of the view initialised. */
	_Atomic(struct pk_groups_view *) cur;
	struct pk_rcu *rcu;
	pthread_mutex_t wlock; /* serialises writers (control threads) */
	uint64_t txn_seq;      /* last transaction id; under wlock */
	struct pk_groups_params params;
	struct gx_ids gids, uids; /* under wlock */
};

/* A growable array of pointers. */
struct gx_vec {
	void **p;
	size_t n, cap;
};

/* An open change. */
struct gx_txn {
	struct pk_groups *g;
	const struct pk_groups_view *old; /* published when the change began */
	struct pk_groups_view *v;	  /* private new view */
	uint64_t id;
	int err;	      /* sticky -ENOMEM */
	struct gx_vec fresh;  /* blocks allocated by this change: freed on abort */
	struct gx_vec dead;   /* fresh blocks replaced in this change: freed at commit */
	struct gx_vec retired; /* published blocks replaced: freed after a grace period */
	struct pk_groups_view *retire_whole; /* a whole old view to free (replace) */
	struct gx_vec gids_new, uids_new;    /* (uintptr_t) ids: returned on abort */
	struct gx_vec gids_freed, uids_freed; /* ids: freed at commit */
	/* Objects this change put in the trees, as (old, new) pairs in order
	 * (either NULL): [0] groups (num), [1] users (usr). gx_flat_update
	 * applies them to a copy of the old view's flat table. */
	struct gx_vec fdelta[2];
};

/* ---- groups.c ---- */
uint64_t gx_hash(const void *p, size_t len, uint64_t seed);
static inline uint64_t gx_hash_user(struct pk_str user, uint32_t domain)
{
	return gx_hash(user.p, user.len, GX_SEED_USER + domain * 0x9e3779b97f4a7c15ull);
}
static inline struct gx_group *gx_group_of(const struct pk_group *p)
{
	return (struct gx_group *)(uintptr_t)((const char *)p - offsetof(struct gx_group, pub));
}
static inline struct gx_user *gx_user_of(const struct pk_group_user *p)
{
	return (struct gx_user *)(uintptr_t)((const char *)p - offsetof(struct gx_user, pub));
}
/* Lookups on normalised keys (any view, private ones too). */
const struct pk_group *gx_find_number(const struct pk_groups_view *v, struct pk_str number);
const struct pk_group_user *gx_find_user(const struct pk_groups_view *v, struct pk_str user,
					 uint32_t domain);
/* Whole id radix walk, in id order. */
void gx_walk_ids(const struct gx_node *root, void (*fn)(void *obj, void *ctx), void *ctx);

/* ---- group_edit.c ---- */
int gx_vec_push(struct gx_vec *vec, void *p);
void gx_vec_free(struct gx_vec *vec);
int gx_ids_init(struct gx_ids *ids, uint32_t limit);
void gx_ids_fini(struct gx_ids *ids);
int gx_txn_begin(struct gx_txn *t, struct pk_groups *g);
void gx_txn_abort(struct gx_txn *t);
int gx_txn_commit(struct gx_txn *t);
void *gx_txn_alloc(struct gx_txn *t, size_t size);
/* A block of the old view replaced by this change: freed after a grace
 * period (at commit if this change made it). */
void gx_retire(struct gx_txn *t, const void *block);
int gx_txn_id_alloc(struct gx_txn *t, bool group, uint32_t *id);
struct gx_node *gx_node_alloc(struct gx_txn *t);
struct gx_seg *gx_seg_alloc(struct gx_txn *t, uint32_t n);
struct gx_group *gx_group_make(struct gx_txn *t, uint32_t gid, struct pk_str number,
			       struct pk_str name, const struct pk_group_ref *refs, uint32_t n);
struct gx_user *gx_user_make(struct gx_txn *t, uint32_t uid, struct pk_str user, uint32_t domain,
			     const struct pk_group_ref *refs, uint32_t n);

/* ---- group_build.c ---- */
void gx_view_free_whole(struct pk_groups_view *v);
/* Make t's view's flat tables match its trees (at commit). */
void gx_flat_update(struct gx_txn *t);
uint64_t gx_flat_bytes(const struct gx_flat *f);
void gx_free_garbage(void *arg);

#endif /* PICKUP_GROUP_IMPL_H */
