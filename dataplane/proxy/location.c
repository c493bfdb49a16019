/* SPDX-License-Identifier: MIT */
/*
 * The location table (include/pickup/location.h): AoR -> contacts, read by
 * every worker at call rate, written by the registrar at registration rate
 * and by the control thread's expiry sweep.
 *
 * Shape. Two preallocated arrays of immutable objects: bindings (one
 * struct pk_loc_contact per contact, 5 cache lines) and AoR snapshots (the
 * AoR's key and the indices of its bindings, most recent first). A bucket
 * array (a power of two >= capacity) holds chains of snapshots. Changing an
 * AoR never writes into a published object: the writer builds a new
 * snapshot (and new bindings for what it adds or refreshes), links it in
 * place of the old one with one release store, and retires what it
 * replaced. One exception: the common refresh (one Contact, the AoR's most
 * recent binding, from the same source, connection and q) rewrites that
 * binding's expires, registered, cseq and call_id_hash in place with
 * relaxed atomic stores (loc_refresh_in_place), which lock-free readers
 * load atomically; every other field of a published binding is immutable.
 * A retired object goes on the writer's retire list; the sweep hands the
 * lists to pk_rcu_defer, and the RCU callback returns them to the free
 * pools once every reader has passed a quiescent state. So a reader
 * that found a snapshot may copy it and its bindings without any check: it
 * cannot be reused under it, and only the four refresh fields can change
 * (each loaded whole; a copy may hold them from two refreshes of the same
 * binding, which no reader relies on: the proxy reads only the expiry).
 *
 * Writers serialise per bucket with a spinlock from a small striped array
 * (readers never touch it): a REGISTER's read-modify-write of its AoR and
 * the sweep's rewrite of the same chain cannot interleave. The lock is held
 * for a bounded rebuild (at most 16 + 8 contacts) and never across I/O.
 * docs/registrar.md has the argument for every memory order used here.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "pickup/idx_stack.h"
#include "pickup/location.h"
#include "pickup/rcu.h"
#include "../sip/copy.h"

#define LOC_NONE 0u /* "no object" in links, heads and pool heads (indices are stored + 1) */
#define LOC_MAX_LOCKS 1024u
#define LOC_MAX_CAPACITY (1u << 24)
#define LOC_MAX_THREADS 256u
#define LOC_KEY_MAX (PK_LOC_USER_MAX + PK_LOC_DOMAIN_MAX)
/* Changes one REGISTER may carry, static contacts of one AoR. */
#define LOC_MAX_CHANGES (PK_LOC_MAX_CONTACTS / 2)
/* Spins on a held bucket lock before yielding the CPU (the holder was
 * preempted: only on an oversubscribed machine). */
#define LOC_SPINS_BEFORE_YIELD 1024

static_assert(PK_LOC_USER_MAX < 256 && PK_LOC_DOMAIN_MAX < 256, "key lengths are 8 bit");
static_assert(PK_LOC_MAX_CONTACTS < 256, "binding counts are 8 bit");
static_assert(PK_LOC_URI_MAX < 65536, "uri_len is 16 bit");
static_assert(offsetof(struct pk_loc_contact, uri) == 72, "a lookup copies 72 bytes + the URI");

/* An AoR snapshot. Immutable once linked, apart from `next`. */
struct pk_loc_aor {
	/* Next snapshot in the bucket's chain (index + 1, LOC_NONE at the end).
	 * Written under the bucket lock with release stores, read by readers
	 * with acquire loads. */
	_Atomic uint32_t next;
	uint8_t n;	  /* bindings */
	uint8_t n_static; /* of which static (the last ones) */
	uint8_t user_len, domain_len;
	uint64_t hash;
	uint32_t bind[PK_LOC_MAX_CONTACTS]; /* binding indices, most recent first */
	char key[LOC_KEY_MAX];		    /* user, then domain (lowercase) */
};


/* What one thread owns: written by it only (counters, pushes), read by
 * pk_location_stats and drained by the sweep. */
struct pk_loc_thread {
	_Atomic uint64_t ctr[PK_LOC_CTR_COUNT];
	_Atomic uint32_t aor_retire, bind_retire; /* chains: first index + 1 */
} __attribute__((aligned(64)));

struct pk_location {
	uint32_t capacity;
	uint32_t n_threads;
	uint32_t bucket_mask, lock_mask;
	uint64_t seed;
	struct pk_rcu *rcu;
	struct pk_loc_contact *binds;
	struct pk_loc_aor *aors;
	_Atomic uint32_t *heads; /* bucket chains: first snapshot index + 1 */
	_Atomic uint32_t *locks; /* writer spinlocks, bucket & lock_mask */
	struct pk_loc_thread *thr;
	struct pk_idx_stack bind_pool, aor_pool;
	/* Gauges. Relaxed RMWs: they order nothing, they only count (the
	 * capacity reservation needs atomicity, not ordering). */
	_Atomic uint32_t in_use; /* bindings in snapshots */
	_Atomic uint32_t n_aors;
	_Atomic uint32_t deferred; /* objects handed to RCU, not yet back in a pool */
	uint32_t sweep_pos;	   /* next bucket the sweep looks at (control thread) */
	void *map;
	size_t map_len;
};

struct pk_loc_batch {
	struct pk_location *loc;
	uint32_t aors, aor_last, n_aors;    /* chain: first index + 1, last index, length */
	uint32_t binds, bind_last, n_binds;
};

static const char *const loc_ctr_names[] = {
#define LOC_CTR_NAME(id, name) name,
	PK_LOC_FOREACH_COUNTER(LOC_CTR_NAME)
#undef LOC_CTR_NAME
};

const char *pk_location_counter_name(enum pk_loc_counter c)
{
	return (unsigned)c < PK_LOC_CTR_COUNT ? loc_ctr_names[c] : "?";
}

/* ---- counters ---- */

static inline void loc_ctr_add(struct pk_loc_thread *th, enum pk_loc_counter c, uint64_t n)
{
	if (n == 0)
		return;
	/* Relaxed load and store, no RMW: only the owner thread writes its
	 * block; readers (pk_location_stats) need atomicity, not ordering. */
	atomic_store_explicit(&th->ctr[c], atomic_load_explicit(&th->ctr[c], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void pk_location_count(struct pk_location *loc, unsigned tid, enum pk_loc_counter c)
{
	if (tid < loc->n_threads && (unsigned)c < PK_LOC_CTR_COUNT)
		loc_ctr_add(&loc->thr[tid], c, 1);
}

void pk_location_stats(const struct pk_location *loc, uint64_t out[PK_LOC_CTR_COUNT])
{
	memset(out, 0, sizeof(uint64_t) * PK_LOC_CTR_COUNT);
	for (uint32_t i = 0; i < loc->n_threads; i++)
		for (unsigned c = 0; c < PK_LOC_CTR_COUNT; c++)
			/* Relaxed: see loc_ctr_add. */
			out[c] += atomic_load_explicit(&loc->thr[i].ctr[c], memory_order_relaxed);
}

uint32_t pk_location_in_use(const struct pk_location *loc)
{
	/* Relaxed: a gauge. */
	return atomic_load_explicit(&loc->in_use, memory_order_relaxed);
}

uint32_t pk_location_aors(const struct pk_location *loc)
{
	/* Relaxed: a gauge. */
	return atomic_load_explicit(&loc->n_aors, memory_order_relaxed);
}

uint32_t pk_location_capacity(const struct pk_location *loc)
{
	return loc->capacity;
}

size_t pk_location_memory(const struct pk_location *loc)
{
	return loc->map_len + sizeof(*loc);
}

/* ---- hashing and keys ---- */

static inline char loc_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* The last 1-7 bytes of a key as one word, in loads that may overlap
 * (pk_words16: no byte loop, no variable-length copy). */
static inline uint64_t loc_tail(const char *p, uint32_t len)
{
	uint64_t a, b;

	pk_words16(p, len, &a, &b);
	return a;
}

/* Eight bytes per multiply; the domain is hashed lowercase. */
static uint64_t loc_hash_bytes(uint64_t h, const char *p, uint32_t len, bool lower)
{
	uint64_t w;

	while (len >= 8) {
		w = pk_load8(p);
		h = pk_fold64(h ^ (lower ? pk_lower8(w) : w), 0x9e3779b97f4a7c15ull);
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		w = loc_tail(p, len);
		h = pk_fold64(h ^ (lower ? pk_lower8(w) : w), 0xc2b2ae3d27d4eb4full);
	}
	return h;
}

/* p[0..n) equals key[0..n), p lowercased first when lower (key is). Eight
 * bytes a compare, the last ones in a load that may overlap. Up to 16
 * bytes (a user part, the usual domain) in two words, compared as they
 * are first: the key is lowercase, so a lowercase name (the usual one)
 * matches without being lowercased, and only a mismatch is lowercased to
 * be sure. */
static inline bool loc_eq(const char *p, const char *key, uint32_t n, bool lower)
{
	uint64_t a, b, ka, kb;

	if (n > 16) {
		uint32_t i = 0;

		for (; i + 8 <= n; i += 8) {
			uint64_t w = pk_load8(p + i);

			if ((lower ? pk_lower8(w) : w) != pk_load8(key + i))
				return false;
		}
		if (i < n) {
			uint64_t w = pk_load8(p + n - 8);

			return (lower ? pk_lower8(w) : w) == pk_load8(key + n - 8);
		}
		return true;
	}
	if (n >= 8) {
		a = pk_load8(p);
		b = pk_load8(p + n - 8);
		ka = pk_load8(key);
		kb = pk_load8(key + n - 8);
	} else if (n >= 4) {
		a = pk_load4(p) | pk_load4(p + n - 4) << 32;
		ka = pk_load4(key) | pk_load4(key + n - 4) << 32;
		b = kb = 0;
	} else {
		for (uint32_t i = 0; i < n; i++)
			if ((lower ? loc_lower(p[i]) : p[i]) != key[i])
				return false;
		return true;
	}
	if (((a ^ ka) | (b ^ kb)) == 0)
		return true;
	return lower && ((pk_lower8(a) ^ ka) | (pk_lower8(b) ^ kb)) == 0;
}

/* pk_addr_eq in three word compares: the struct is its four fields, no
 * padding (family, port, scope, ip all compared, as there). */
static_assert(sizeof(struct pk_addr) == 24 && offsetof(struct pk_addr, ip) == 8, "pk_addr is 24 bytes of fields");
static inline bool loc_addr_eq(const struct pk_addr *a, const struct pk_addr *b)
{
	const char *x = (const char *)a, *y = (const char *)b;

	return ((pk_load8(x) ^ pk_load8(y)) | (pk_load8(x + 8) ^ pk_load8(y + 8)) |
		(pk_load8(x + 16) ^ pk_load8(y + 16))) == 0;
}

/* Forced inline (as loc_find): every lookup and REGISTER hashes and finds
 * one AoR, and the calls' register spills cost more than the code. */
static inline __attribute__((always_inline)) uint64_t loc_hash(const struct pk_location *loc, struct pk_str user,
							       struct pk_str domain)
{
	uint64_t h = loc->seed ^ ((uint64_t)user.len << 32) ^ domain.len;

	/* The usual AoR, a user part of 1-8 bytes and a domain of 9-16 (every
	 * call's lookup and every REGISTER): the user as one word, the
	 * domain as two lowercased ones (loads that may overlap), in two
	 * multiply-folds instead of the loops' three. A hash of its own: only
	 * equal keys need equal hashes, and keys of this shape are hashed
	 * only so. */
	if (user.len - 1 < 8 && domain.len - 9 < 8) {
		uint64_t u = user.len == 8 ? pk_load8(user.p) : loc_tail(user.p, user.len);
		uint64_t a = pk_lower8(pk_load8(domain.p)), b = pk_lower8(pk_load8(domain.p + domain.len - 8));

		h = pk_fold64(h ^ u, a ^ 0x9e3779b97f4a7c15ull);
		h = pk_fold64(h ^ b, 0xc2b2ae3d27d4eb4full);
		return pk_fold64(h ^ (h >> 29), 0xbf58476d1ce4e5b9ull);
	}
	h = loc_hash_bytes(h, user.p, user.len, false);
	h = loc_hash_bytes(h ^ 0x243f6a8885a308d3ull, domain.p, domain.len, true);
	return pk_fold64(h ^ (h >> 29), 0xbf58476d1ce4e5b9ull);
}

uint64_t pk_location_call_id_hash(struct pk_str call_id)
{
	uint64_t h = loc_hash_bytes(0x13198a2e03707344ull ^ call_id.len, call_id.p, call_id.len, false);

	return pk_fold64(h ^ (h >> 31), 0x94d049bb133111ebull);
}

static bool loc_key_eq(const struct pk_loc_aor *a, uint64_t hash, struct pk_str user, struct pk_str domain)
{
	return a->hash == hash && a->user_len == user.len && a->domain_len == domain.len &&
	       loc_eq(user.p, a->key, user.len, false) && loc_eq(domain.p, a->key + user.len, domain.len, true);
}

static bool loc_key_valid(struct pk_str user, struct pk_str domain)
{
	return user.len > 0 && user.len <= PK_LOC_USER_MAX && domain.len > 0 && domain.len <= PK_LOC_DOMAIN_MAX;
}

/* ---- pools and retire lists ---- */

/* Put one object on a retire list (the owner thread's, or the sweep's). */
static void loc_retire(_Atomic uint32_t *list, struct pk_idx_stack *p, uint32_t idx)
{
	/* Relaxed: the CAS validates it. */
	uint32_t h = atomic_load_explicit(list, memory_order_relaxed);

	do {
		/* Relaxed: published by the release CAS. */
		atomic_store_explicit(&p->next[idx], h, memory_order_relaxed);
		/* Release: pairs with the acquire exchange of loc_sweep_retired:
		 * the unlinking store before this push is visible to the sweep,
		 * whose pk_rcu_defer then starts the grace period after it. */
	} while (!atomic_compare_exchange_weak_explicit(list, &h, idx + 1, memory_order_release,
							memory_order_relaxed));
}

/* Last index of a chain and its length (control thread: the chain is its). */
static uint32_t loc_chain_last(const struct pk_idx_stack *p, uint32_t first, uint32_t *n)
{
	uint32_t i = first, nx;

	*n = 1;
	/* Relaxed: the chain became ours through the acquire exchange. */
	while ((nx = atomic_load_explicit(&p->next[i], memory_order_relaxed)) != LOC_NONE) {
		i = nx - 1;
		(*n)++;
	}
	return i;
}

/* ---- bucket locks (writers only) ---- */

static inline void loc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static void loc_lock(struct pk_location *loc, uint32_t bucket)
{
	_Atomic uint32_t *l = &loc->locks[bucket & loc->lock_mask];
	unsigned spins = 0;

	/* Acquire: pairs with the release store of loc_unlock; the previous
	 * holder's chain changes are visible to us. */
	while (atomic_exchange_explicit(l, 1, memory_order_acquire) != 0) {
		/* Relaxed: only a hint to retry the exchange. */
		while (atomic_load_explicit(l, memory_order_relaxed) != 0) {
			if (++spins >= LOC_SPINS_BEFORE_YIELD) {
				spins = 0;
				sched_yield();
			} else {
				loc_cpu_relax();
			}
		}
	}
}

static void loc_unlock(struct pk_location *loc, uint32_t bucket)
{
	/* Release: pairs with the acquire exchange of loc_lock. */
	atomic_store_explicit(&loc->locks[bucket & loc->lock_mask], 0, memory_order_release);
}

/* ---- create / destroy ---- */

static size_t loc_align(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static uint64_t loc_seed(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
		s = (uint64_t)(uintptr_t)&s * 0x9e3779b97f4a7c15ull;
	return s;
}


struct pk_location *pk_location_create(uint32_t capacity, unsigned max_workers, struct pk_rcu *rcu)
{
	struct pk_location *loc;
	size_t off = 0, o_binds, o_aors, o_bnext, o_anext, o_heads, o_locks, o_thr;
	uint32_t nbuckets = 16, nobj;
	char *m;

	if (capacity == 0 || capacity > LOC_MAX_CAPACITY || max_workers == 0 || max_workers > LOC_MAX_THREADS ||
	    rcu == NULL) {
		errno = EINVAL;
		return NULL;
	}
	loc = calloc(1, sizeof(*loc));
	if (loc == NULL)
		return NULL;
	while (nbuckets < capacity)
		nbuckets <<= 1;
	/* Objects beyond capacity: what writers have replaced and RCU has not
	 * given back yet (one sweep period of REGISTER traffic), and what a
	 * writer holds while it builds a change. */
	nobj = capacity + capacity / 8 + 32 * max_workers;
	loc->capacity = capacity;
	loc->n_threads = max_workers;
	loc->bucket_mask = nbuckets - 1;
	loc->lock_mask = (nbuckets < LOC_MAX_LOCKS ? nbuckets : LOC_MAX_LOCKS) - 1;
	loc->seed = loc_seed();
	loc->rcu = rcu;

	o_binds = off, off += loc_align((size_t)nobj * sizeof(struct pk_loc_contact));
	o_aors = off, off += loc_align((size_t)nobj * sizeof(struct pk_loc_aor));
	o_bnext = off, off += loc_align((size_t)nobj * 4);
	o_anext = off, off += loc_align((size_t)nobj * 4);
	o_heads = off, off += loc_align((size_t)nbuckets * 4);
	o_locks = off, off += loc_align((size_t)(loc->lock_mask + 1) * 4);
	o_thr = off, off += loc_align((size_t)max_workers * sizeof(struct pk_loc_thread));

	m = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(loc);
		errno = ENOMEM;
		return NULL;
	}
#ifdef MADV_HUGEPAGE
	(void)madvise(m, off, MADV_HUGEPAGE); /* fewer TLB misses; best effort */
#endif
	/* Touch everything now: no page fault on the packet path. Zero is the
	 * initial value of heads, locks, counters and retire lists. */
	memset(m, 0, off);
	loc->map = m;
	loc->map_len = off;
	loc->binds = (struct pk_loc_contact *)(m + o_binds);
	loc->aors = (struct pk_loc_aor *)(m + o_aors);
	loc->heads = (_Atomic uint32_t *)(m + o_heads);
	loc->locks = (_Atomic uint32_t *)(m + o_locks);
	loc->thr = (struct pk_loc_thread *)(m + o_thr);
	pk_idx_stack_init(&loc->bind_pool, (_Atomic uint32_t *)(m + o_bnext), nobj);
	pk_idx_stack_init(&loc->aor_pool, (_Atomic uint32_t *)(m + o_anext), nobj);
	return loc;
}

void pk_location_destroy(struct pk_location *loc)
{
	if (loc == NULL)
		return;
	munmap(loc->map, loc->map_len);
	free(loc);
}

/* ---- readers ---- */

/* The snapshot of an AoR in chain order from *link, or NULL; *pred is set
 * to the link that points at it. Readers and lock holders alike. */
static inline __attribute__((always_inline)) struct pk_loc_aor *
loc_find(struct pk_location *loc, _Atomic uint32_t *link, uint64_t hash, struct pk_str user, struct pk_str domain,
	 _Atomic uint32_t **pred)
{
	/* Acquire: pairs with the release stores that link snapshots
	 * (loc_publish): the snapshot's fields and its bindings, written
	 * before, are visible. */
	uint32_t i = atomic_load_explicit(link, memory_order_acquire);

	while (i != LOC_NONE) {
		struct pk_loc_aor *a = &loc->aors[i - 1];

		if (loc_key_eq(a, hash, user, domain)) {
			if (pred != NULL)
				*pred = link;
			return a;
		}
		link = &a->next;
		/* Acquire: as above. */
		i = atomic_load_explicit(link, memory_order_acquire);
	}
	return NULL;
}

/* The four fields a refresh from the same place rewrites in a published
 * binding (loc_refresh_in_place): whoever reads them without the bucket
 * lock reads them with relaxed atomic loads (single loads; what they pair
 * with is said there). */
static inline uint64_t loc_ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* The fields and the URI's bytes, not the unused rest of the URI array
 * (most of the binding's five cache lines). */
static inline void loc_copy(struct pk_loc_contact *dst, const struct pk_loc_contact *src)
{
	memcpy(dst, src, offsetof(struct pk_loc_contact, cseq));
	dst->cseq = __atomic_load_n(&src->cseq, __ATOMIC_RELAXED);
	dst->pad_ = 0;
	dst->src = src->src;
	dst->conn = src->conn;
	dst->expires = loc_ld64(&src->expires);
	dst->registered = loc_ld64(&src->registered);
	dst->call_id_hash = loc_ld64(&src->call_id_hash);
	pk_copy_short(dst->uri, src->uri, src->uri_len);
}

static inline bool loc_live(const struct pk_loc_contact *c, uint64_t now_ns)
{
	return c->is_static || loc_ld64(&c->expires) > now_ns;
}

unsigned pk_location_lookup(struct pk_location *loc, unsigned tid, struct pk_str user, struct pk_str domain,
			    uint64_t now_ns, struct pk_loc_contact *out, unsigned max)
{
	struct pk_loc_thread *th;
	const struct pk_loc_aor *a;
	uint64_t h;
	unsigned n = 0;

	if (unlikely(tid >= loc->n_threads))
		return 0;
	th = &loc->thr[tid];
	loc_ctr_add(th, PK_LOC_CTR_LOOKUPS, 1);
	if (!loc_key_valid(user, domain)) {
		loc_ctr_add(th, PK_LOC_CTR_LOOKUP_MISS, 1);
		return 0;
	}
	h = loc_hash(loc, user, domain);
	/* The snapshot and its bindings cannot change, and cannot be reused
	 * before this thread's next quiescent state: copy without checks. */
	a = loc_find(loc, &loc->heads[h & loc->bucket_mask], h, user, domain, NULL);
	for (unsigned k = 0; a != NULL && k < a->n && n < max; k++) {
		const struct pk_loc_contact *c = &loc->binds[a->bind[k]];

		if (loc_live(c, now_ns))
			loc_copy(&out[n++], c);
	}
	if (n == 0)
		loc_ctr_add(th, PK_LOC_CTR_LOOKUP_MISS, 1);
	return n;
}

/* ---- listing (control thread) ---- */

/* Every live contact of one snapshot; -1 when fn asked to stop. */
static int loc_list_aor(struct pk_location *loc, const struct pk_loc_aor *a, uint64_t now_ns,
			pk_location_foreach_fn *fn, void *arg, unsigned *n)
{
	struct pk_str user = pk_str_make(a->key, a->user_len);
	struct pk_str domain = pk_str_make(a->key + a->user_len, a->domain_len);

	for (unsigned k = 0; k < a->n; k++) {
		struct pk_loc_contact c;

		if (!loc_live(&loc->binds[a->bind[k]], now_ns))
			continue;
		/* a copy: a refresh may rewrite the binding meanwhile */
		loc_copy(&c, &loc->binds[a->bind[k]]);
		(*n)++;
		if (fn(user, domain, &c, arg) != 0)
			return -1;
	}
	return 0;
}

unsigned pk_location_foreach(struct pk_location *loc, struct pk_str user, struct pk_str domain, uint64_t now_ns,
			     pk_location_foreach_fn *fn, void *arg)
{
	unsigned n = 0;

	/* The snapshots reached below cannot be reused before the caller's
	 * next quiescent state (it is an online RCU reader), as in
	 * pk_location_lookup. */
	if (user.len > 0 && domain.len > 0) {
		const struct pk_loc_aor *a;
		uint64_t h;

		if (!loc_key_valid(user, domain))
			return 0;
		h = loc_hash(loc, user, domain);
		a = loc_find(loc, &loc->heads[h & loc->bucket_mask], h, user, domain, NULL);
		if (a != NULL)
			loc_list_aor(loc, a, now_ns, fn, arg, &n);
		return n;
	}
	for (uint32_t b = 0; b <= loc->bucket_mask; b++) {
		/* Acquire: pairs with the release stores that link snapshots
		 * (loc_publish), as in loc_find. */
		uint32_t i = atomic_load_explicit(&loc->heads[b], memory_order_acquire);

		while (i != LOC_NONE) {
			const struct pk_loc_aor *a = &loc->aors[i - 1];

			if ((user.len == 0 || (a->user_len == user.len && memcmp(a->key, user.p, user.len) == 0)) &&
			    loc_list_aor(loc, a, now_ns, fn, arg, &n) != 0)
				return n;
			/* Acquire: as above. */
			i = atomic_load_explicit(&a->next, memory_order_acquire);
		}
	}
	return n;
}

/* ---- writers (bucket lock held) ---- */

/* One binding of the AoR being rebuilt. */
struct loc_item {
	uint32_t idx;	 /* binding index */
	bool named;	 /* named by this request: never evicted */
};

/* A rebuild in progress. */
struct loc_edit {
	struct pk_location *loc;
	struct pk_loc_thread *th;
	unsigned n;
	struct loc_item item[PK_LOC_MAX_CONTACTS + LOC_MAX_CHANGES];
	unsigned n_drop, n_fresh; /* old bindings to retire, new ones to roll back */
	uint32_t drop[PK_LOC_MAX_CONTACTS + LOC_MAX_CHANGES];
	uint32_t fresh[LOC_MAX_CHANGES + PK_LOC_MAX_CONTACTS];
	uint64_t ctr[PK_LOC_CTR_COUNT]; /* counted only if the edit is published */
};

static void loc_edit_init(struct loc_edit *e, struct pk_location *loc, struct pk_loc_thread *th,
			  const struct pk_loc_aor *a)
{
	e->loc = loc;
	e->th = th;
	e->n = a != NULL ? a->n : 0;
	for (unsigned k = 0; k < e->n; k++)
		e->item[k] = (struct loc_item){ .idx = a->bind[k], .named = false };
	e->n_drop = e->n_fresh = 0;
	memset(e->ctr, 0, sizeof(e->ctr));
}

/* Take item k out of the list (its binding is retired if we publish). */
static void loc_edit_drop(struct loc_edit *e, unsigned k, enum pk_loc_counter why)
{
	uint32_t idx = e->item[k].idx;
	unsigned f = 0;

	while (f < e->n_fresh && e->fresh[f] != idx)
		f++;
	if (f == e->n_fresh) {
		e->drop[e->n_drop++] = idx;
	} else {
		/* made by this edit and dropped again: never published, back
		 * to the pool at once */
		e->fresh[f] = e->fresh[--e->n_fresh];
		pk_idx_stack_push_chain(&e->loc->bind_pool, idx, idx);
	}
	memmove(&e->item[k], &e->item[k + 1], sizeof(e->item[0]) * (e->n - k - 1));
	e->n--;
	e->ctr[why]++;
}

static int loc_edit_alloc(struct loc_edit *e, uint32_t *idx)
{
	uint32_t i = pk_idx_stack_pop(&e->loc->bind_pool);

	if (i == PK_IDX_STACK_EMPTY)
		return -ENOMEM;
	e->fresh[e->n_fresh++] = i;
	*idx = i;
	return 0;
}

/* Undo an edit that will not be published: new bindings go straight back
 * to the pool (no reader ever saw them). */
static void loc_edit_abort(struct loc_edit *e)
{
	for (unsigned f = 0; f < e->n_fresh; f++)
		pk_idx_stack_push_chain(&e->loc->bind_pool, e->fresh[f], e->fresh[f]);
	e->n_fresh = 0;
}

/* The edit is final: its events count. */
static void loc_edit_count(const struct loc_edit *e)
{
	for (unsigned c = 0; c < PK_LOC_CTR_COUNT; c++)
		loc_ctr_add(e->th, (enum pk_loc_counter)c, e->ctr[c]);
}

/* Most recent registration first; static ones (registered 0) last. Stable:
 * contacts of one REGISTER keep their order, static ones theirs. */
static void loc_edit_sort(struct loc_edit *e)
{
	for (unsigned i = 1; i < e->n; i++) {
		struct loc_item x = e->item[i];
		uint64_t r = e->loc->binds[x.idx].registered;
		unsigned j = i;

		while (j > 0 && e->loc->binds[e->item[j - 1].idx].registered < r) {
			e->item[j] = e->item[j - 1];
			j--;
		}
		e->item[j] = x;
	}
}

/*
 * Publish the edit of the AoR whose snapshot is old (NULL: a new AoR),
 * linked from *pred (for a new AoR: the bucket head). Checks the capacity
 * first. Returns 0 or -ENOSPC (counted `full`) / -ENOMEM with nothing
 * changed (the caller aborts the edit; a REGISTER counts `no_memory`, the
 * sweep only retries at its next pass).
 */
static int loc_publish(struct loc_edit *e, _Atomic uint32_t *pred, struct pk_loc_aor *old, uint64_t hash,
		       struct pk_str user, struct pk_str domain)
{
	struct pk_location *loc = e->loc;
	int delta = (int)e->n - (old != NULL ? (int)old->n : 0);
	struct pk_loc_aor *a = NULL;
	uint32_t ai = 0, next;
	unsigned n_static = 0;

	if ((old != NULL && e->n_drop == 0 && e->n_fresh == 0) || (old == NULL && e->n == 0)) {
		/* nothing changed (a retransmission, a removal of nothing) */
		loc_edit_count(e);
		return 0;
	}
	if (e->n > 0) {
		ai = pk_idx_stack_pop(&loc->aor_pool);
		if (ai == PK_IDX_STACK_EMPTY)
			return -ENOMEM; /* counted by the REGISTER it refuses, not by the sweep */
		a = &loc->aors[ai];
	}
	if (delta > 0) {
		/* Relaxed RMW: the reservation needs atomicity only. */
		uint32_t prev = atomic_fetch_add_explicit(&loc->in_use, (uint32_t)delta, memory_order_relaxed);

		if (prev + (uint32_t)delta > loc->capacity) {
			/* Relaxed: undo of the above. */
			atomic_fetch_sub_explicit(&loc->in_use, (uint32_t)delta, memory_order_relaxed);
			if (a != NULL)
				pk_idx_stack_push_chain(&loc->aor_pool, ai, ai);
			loc_ctr_add(e->th, PK_LOC_CTR_FULL, 1);
			return -ENOSPC;
		}
	}
	/* Relaxed: we hold the bucket lock, the link is ours to read. */
	next = old != NULL ? atomic_load_explicit(&old->next, memory_order_relaxed)
			   : atomic_load_explicit(pred, memory_order_relaxed);
	if (a != NULL) {
		loc_edit_sort(e);
		a->n = (uint8_t)e->n;
		for (unsigned k = 0; k < e->n; k++) {
			a->bind[k] = e->item[k].idx;
			n_static += loc->binds[e->item[k].idx].is_static;
		}
		a->n_static = (uint8_t)n_static;
		a->hash = hash;
		a->user_len = (uint8_t)user.len;
		a->domain_len = (uint8_t)domain.len;
		memcpy(a->key, user.p, user.len);
		for (uint32_t i = 0; i < domain.len; i++)
			a->key[user.len + i] = loc_lower(domain.p[i]);
		/* Relaxed: a is not reachable yet; published by the release
		 * store below. */
		atomic_store_explicit(&a->next, next, memory_order_relaxed);
		/* Release: pairs with the acquire loads of loc_find; the
		 * snapshot and every binding it names (written before) are
		 * visible to a reader that loads this link. */
		atomic_store_explicit(pred, ai + 1, memory_order_release);
	} else {
		/* Unlink. Release, for the same pairing: a reader that loads
		 * `next` from here sees what it points at, which the writer
		 * that published it made visible to us through the lock. */
		atomic_store_explicit(pred, next, memory_order_release);
	}
	if (old != NULL)
		loc_retire(&e->th->aor_retire, &loc->aor_pool, (uint32_t)(old - loc->aors));
	for (unsigned d = 0; d < e->n_drop; d++)
		loc_retire(&e->th->bind_retire, &loc->bind_pool, e->drop[d]);
	if (delta < 0)
		/* Relaxed: a gauge. */
		atomic_fetch_sub_explicit(&loc->in_use, (uint32_t)-delta, memory_order_relaxed);
	if (old == NULL)
		/* Relaxed: a gauge. */
		atomic_fetch_add_explicit(&loc->n_aors, 1, memory_order_relaxed);
	else if (a == NULL)
		atomic_fetch_sub_explicit(&loc->n_aors, 1, memory_order_relaxed);
	loc_edit_count(e);
	return 0;
}

/* Drop the expired bindings of the edit's list. */
static void loc_edit_expire(struct loc_edit *e, uint64_t now_ns)
{
	for (unsigned k = 0; k < e->n;) {
		if (!loc_live(&e->loc->binds[e->item[k].idx], now_ns))
			loc_edit_drop(e, k, PK_LOC_CTR_EXPIRED);
		else
			k++;
	}
}

static int loc_find_uri(const struct loc_edit *e, struct pk_str uri)
{
	for (unsigned k = 0; k < e->n; k++) {
		const struct pk_loc_contact *c = &e->loc->binds[e->item[k].idx];

		if (c->uri_len == uri.len && memcmp(c->uri, uri.p, uri.len) == 0)
			return (int)k;
	}
	return -1;
}

/* Apply r to the edit (the AoR's current bindings). 0 or -ESTALE/-EPERM/
 * -ENOMEM/-EINVAL. */
static int loc_edit_register(struct loc_edit *e, const struct pk_loc_register *r, uint64_t now_ns)
{
	struct pk_location *loc = e->loc;

	if (r->remove_all) {
		for (unsigned k = 0; k < e->n;) {
			const struct pk_loc_contact *c = &loc->binds[e->item[k].idx];

			if (c->is_static) {
				k++;
				continue;
			}
			if (c->call_id_hash == r->call_id_hash && r->cseq <= c->cseq) {
				if (r->cseq < c->cseq)
					return -ESTALE;
				e->ctr[PK_LOC_CTR_UNCHANGED]++;
				k++;
				continue;
			}
			loc_edit_drop(e, k, PK_LOC_CTR_REMOVED);
		}
	}
	for (unsigned i = 0; i < r->n; i++) {
		const struct pk_loc_change *ch = &r->changes[i];
		int k = loc_find_uri(e, ch->uri);
		struct pk_loc_contact *b;
		uint32_t idx;

		if (k >= 0) {
			const struct pk_loc_contact *c = &loc->binds[e->item[k].idx];

			if (c->is_static)
				return -EPERM;
			e->item[k].named = true;
			if (c->call_id_hash == r->call_id_hash && r->cseq <= c->cseq) {
				if (r->cseq < c->cseq)
					return -ESTALE;
				e->ctr[PK_LOC_CTR_UNCHANGED]++;
				continue;
			}
		}
		if (ch->expires_s == 0) {
			if (k >= 0)
				loc_edit_drop(e, (unsigned)k, PK_LOC_CTR_REMOVED);
			continue;
		}
		if (loc_edit_alloc(e, &idx) != 0)
			return -ENOMEM;
		b = &loc->binds[idx];
		memcpy(b->uri, ch->uri.p, ch->uri.len);
		b->uri_len = (uint16_t)ch->uri.len;
		b->transport = r->transport;
		b->listener = r->listener;
		b->is_static = false;
		b->nat = ch->nat;
		b->q = ch->q;
		b->cseq = r->cseq;
		b->src = r->src;
		b->conn = r->conn;
		b->expires = now_ns + (uint64_t)ch->expires_s * 1000000000ull;
		b->registered = now_ns;
		b->call_id_hash = r->call_id_hash;
		if (k >= 0) {
			/* Refreshed: the old binding is retired, the new one
			 * takes its place (the sort moves it to the front).
			 * The old one is never one this request made: a URI
			 * named twice matches the first one's Call-ID and
			 * CSeq above and is left unchanged. */
			e->drop[e->n_drop++] = e->item[k].idx;
			e->item[k].idx = idx;
			e->ctr[PK_LOC_CTR_REFRESHED]++;
		} else {
			e->item[e->n++] = (struct loc_item){ .idx = idx, .named = true };
			e->ctr[PK_LOC_CTR_REGISTERED]++;
		}
	}
	/* Too many for one AoR: replace the least recently registered ones
	 * this request did not name. */
	while (e->n > PK_LOC_MAX_CONTACTS) {
		int victim = -1;

		for (unsigned k = 0; k < e->n; k++) {
			const struct pk_loc_contact *c = &loc->binds[e->item[k].idx];

			if (c->is_static || e->item[k].named)
				continue;
			if (victim < 0 || c->registered < loc->binds[e->item[victim].idx].registered)
				victim = (int)k;
		}
		if (victim < 0)
			return -EINVAL; /* cannot happen: see PK_LOC_MAX_CONTACTS */
		loc_edit_drop(e, (unsigned)victim, PK_LOC_CTR_EVICTED);
	}
	return 0;
}

static unsigned loc_copy_out(const struct loc_edit *e, struct pk_loc_contact *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned k = 0; k < e->n && n < max; k++)
		loc_copy(&out[n++], &e->loc->binds[e->item[k].idx]);
	return n;
}

/*
 * The common REGISTER: one Contact, a refresh of the AoR's most recent
 * binding from the same place (same URI, source, connection, transport,
 * listener, q), nothing of the AoR expired. The outcome the rebuild would
 * publish differs from the binding only in expires, registered, cseq and
 * call_id_hash, and keeps it first: those four are written in place
 * instead of building a new binding and snapshot and retiring the old
 * ones. Only writers act on cseq and call_id_hash, under the bucket lock
 * we hold (readers copy them, and may get them from two refreshes);
 * registered only orders the snapshot, which stays ordered (the binding
 * was first and becomes the most recent); a reader copying the binding
 * meanwhile loads the old or the new expiry, either of them a valid
 * answer at that moment. false: not such a request, nothing written (the
 * rebuild decides).
 */
static bool loc_has_expired(const struct pk_location *loc, const struct pk_loc_aor *a, uint64_t now_ns);

static bool loc_refresh_in_place(struct pk_location *loc, struct pk_loc_thread *th, const struct pk_loc_aor *a,
				 const struct pk_loc_register *r, uint64_t now_ns)
{
	const struct pk_loc_change *ch = &r->changes[0];
	struct pk_loc_contact *c;

	if (a == NULL || r->n != 1 || r->remove_all || ch->expires_s == 0 || a->n == a->n_static)
		return false;
	c = &loc->binds[a->bind[0]];
	if (c->is_static || c->uri_len != ch->uri.len || c->transport != r->transport ||
	    c->listener != r->listener || c->conn != r->conn || c->q != ch->q || c->nat != ch->nat ||
	    !loc_addr_eq(&c->src, &r->src) || !pk_mem_eq_short(c->uri, ch->uri.p, ch->uri.len))
		return false;
	/* same Call-ID, CSeq not higher: a retransmission or out of order,
	 * which the rebuild answers (unchanged, -ESTALE) */
	if (c->call_id_hash == r->call_id_hash && r->cseq <= c->cseq)
		return false;
	if (loc_has_expired(loc, a, now_ns))
		return false;
	/* Bindings stay most recent first: this worker's clock (read once a
	 * burst) may be behind the time another worker just gave the next
	 * binding; then the rebuild sorts them. */
	if (a->n > 1 && now_ns < loc->binds[a->bind[1]].registered)
		return false;
	/* Relaxed atomic stores into the published binding (see above): whole
	 * values for the relaxed loads of lock-free readers (loc_ld64 in
	 * loc_copy, loc_live), nothing to order with them; the bucket lock
	 * orders them for the next writer. */
	__atomic_store_n(&c->expires, now_ns + (uint64_t)ch->expires_s * 1000000000ull, __ATOMIC_RELAXED);
	__atomic_store_n(&c->registered, now_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&c->cseq, r->cseq, __ATOMIC_RELAXED);
	__atomic_store_n(&c->call_id_hash, r->call_id_hash, __ATOMIC_RELAXED);
	loc_ctr_add(th, PK_LOC_CTR_REFRESHED, 1);
	return true;
}

/* pk_location_register past the in-place refresh: rebuild the AoR old
 * (NULL: new) found through pred in bucket b, publish, unlock. Out of
 * line: the common refresh does not pay for the edit's stack frame. */
static __attribute__((noinline)) int loc_register_rebuild(struct pk_location *loc, struct pk_loc_thread *th,
							  const struct pk_loc_register *r, uint64_t now_ns,
							  struct pk_loc_aor *old, _Atomic uint32_t *pred,
							  uint64_t h, uint32_t b, struct pk_loc_contact *out,
							  unsigned max, unsigned *n_out)
{
	struct loc_edit e;
	int rc;

	loc_edit_init(&e, loc, th, old);
	loc_edit_expire(&e, now_ns);
	rc = loc_edit_register(&e, r, now_ns);
	if (rc == 0)
		rc = loc_publish(&e, old != NULL ? pred : &loc->heads[b], old, h, r->user, r->domain);
	if (rc == 0)
		*n_out = loc_copy_out(&e, out, max);
	else
		loc_edit_abort(&e);
	loc_unlock(loc, b);
	if (rc == -ESTALE)
		loc_ctr_add(th, PK_LOC_CTR_OUT_OF_ORDER, 1);
	else if (rc == -EPERM)
		loc_ctr_add(th, PK_LOC_CTR_STATIC_REFUSED, 1);
	else if (rc == -ENOMEM)
		loc_ctr_add(th, PK_LOC_CTR_NO_MEMORY, 1);
	return rc;
}

int pk_location_register(struct pk_location *loc, unsigned tid, const struct pk_loc_register *r,
			 uint64_t now_ns, struct pk_loc_contact *out, unsigned max, unsigned *n_out)
{
	struct pk_loc_thread *th;
	struct pk_loc_aor *old;
	_Atomic uint32_t *pred = NULL, *head;
	uint64_t h;
	uint32_t b;

	*n_out = 0;
	if (tid >= loc->n_threads || !loc_key_valid(r->user, r->domain) || r->n > LOC_MAX_CHANGES ||
	    (r->remove_all && r->n != 0))
		return -EINVAL;
	for (unsigned i = 0; i < r->n; i++)
		if (r->changes[i].uri.len == 0 || r->changes[i].uri.len > PK_LOC_URI_MAX)
			return -EINVAL;
	th = &loc->thr[tid];
	h = loc_hash(loc, r->user, r->domain);
	b = (uint32_t)(h & loc->bucket_mask);
	head = &loc->heads[b];

	loc_lock(loc, b);
	old = loc_find(loc, head, h, r->user, r->domain, &pred);
	if (!loc_refresh_in_place(loc, th, old, r, now_ns))
		return loc_register_rebuild(loc, th, r, now_ns, old, pred, h, b, out, max, n_out);
	for (unsigned k = 0; k < old->n && k < max; k++)
		loc_copy(&out[k], &loc->binds[old->bind[k]]);
	*n_out = old->n < max ? old->n : max;
	loc_unlock(loc, b);
	return 0;
}

int pk_location_add_static(struct pk_location *loc, unsigned tid, struct pk_str user, struct pk_str domain,
			   const struct pk_loc_contact *contacts, unsigned n)
{
	struct pk_loc_aor *old;
	_Atomic uint32_t *pred = NULL, *head;
	struct loc_edit e;
	uint64_t h;
	uint32_t b;
	int rc = 0;

	if (tid >= loc->n_threads || !loc_key_valid(user, domain) || n == 0 || n > LOC_MAX_CHANGES)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (contacts[i].uri_len == 0 || contacts[i].uri_len > PK_LOC_URI_MAX)
			return -EINVAL;
	h = loc_hash(loc, user, domain);
	b = (uint32_t)(h & loc->bucket_mask);
	head = &loc->heads[b];

	loc_lock(loc, b);
	old = loc_find(loc, head, h, user, domain, &pred);
	loc_edit_init(&e, loc, &loc->thr[tid], old);
	if (old != NULL && old->n_static > 0)
		rc = -EEXIST;
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		uint32_t idx;
		struct pk_loc_contact *c;

		rc = loc_edit_alloc(&e, &idx);
		if (rc != 0)
			break;
		c = &loc->binds[idx];
		*c = contacts[i];
		c->is_static = true;
		c->expires = UINT64_MAX;
		c->registered = 0;
		c->cseq = 0;
		c->call_id_hash = 0;
		e.item[e.n++] = (struct loc_item){ .idx = idx, .named = true };
	}
	/* Registered contacts already there make room as a REGISTER would. */
	while (rc == 0 && e.n > PK_LOC_MAX_CONTACTS) {
		unsigned victim = e.n;

		for (unsigned k = 0; k < e.n; k++)
			if (!loc->binds[e.item[k].idx].is_static &&
			    (victim == e.n ||
			     loc->binds[e.item[k].idx].registered < loc->binds[e.item[victim].idx].registered))
				victim = k;
		if (victim == e.n)
			rc = -EINVAL; /* cannot happen: see PK_LOC_MAX_CONTACTS */
		else
			loc_edit_drop(&e, victim, PK_LOC_CTR_EVICTED);
	}
	if (rc == 0)
		rc = loc_publish(&e, old != NULL ? pred : head, old, h, user, domain);
	if (rc != 0)
		loc_edit_abort(&e);
	loc_unlock(loc, b);
	return rc;
}

/* ---- sweep and reclamation ---- */

/* RCU callback: no reader can hold these objects any more. */
static void loc_reclaim_cb(void *arg)
{
	struct pk_loc_batch *bt = arg;
	struct pk_location *loc = bt->loc;

	if (bt->aors != LOC_NONE)
		pk_idx_stack_push_chain(&loc->aor_pool, bt->aors - 1, bt->aor_last);
	if (bt->binds != LOC_NONE)
		pk_idx_stack_push_chain(&loc->bind_pool, bt->binds - 1, bt->bind_last);
	/* Relaxed: a gauge (pk_location_check). */
	atomic_fetch_sub_explicit(&loc->deferred, bt->n_aors + bt->n_binds, memory_order_relaxed);
	free(bt);
}

/* Append the chain taken from a retire list to the batch's chain. */
static void loc_chain_append(struct pk_idx_stack *p, uint32_t *first, uint32_t *last, uint32_t *n,
			     uint32_t chain)
{
	uint32_t k, l;

	if (chain == LOC_NONE)
		return;
	l = loc_chain_last(p, chain - 1, &k);
	/* Relaxed: the control thread owns both chains. */
	atomic_store_explicit(&p->next[l], *first, memory_order_relaxed);
	if (*first == LOC_NONE)
		*last = l;
	*first = chain;
	*n += k;
}

/* Give everything retired since the last sweep to RCU as one batch. */
static void loc_sweep_retired(struct pk_location *loc, struct pk_loc_thread *me)
{
	struct pk_loc_batch bt = { .loc = loc }, *heap;

	for (uint32_t i = 0; i < loc->n_threads; i++) {
		struct pk_loc_thread *o = &loc->thr[i];

		/* Relaxed pre-check, then acquire exchanges: pair with the
		 * release CAS of loc_retire; the chains and the unlinking done
		 * before each push are visible. */
		if (atomic_load_explicit(&o->aor_retire, memory_order_relaxed) != LOC_NONE)
			loc_chain_append(&loc->aor_pool, &bt.aors, &bt.aor_last, &bt.n_aors,
					 atomic_exchange_explicit(&o->aor_retire, LOC_NONE, memory_order_acquire));
		if (atomic_load_explicit(&o->bind_retire, memory_order_relaxed) != LOC_NONE)
			loc_chain_append(&loc->bind_pool, &bt.binds, &bt.bind_last, &bt.n_binds,
					 atomic_exchange_explicit(&o->bind_retire, LOC_NONE, memory_order_acquire));
	}
	if (bt.aors == LOC_NONE && bt.binds == LOC_NONE)
		return;
	heap = malloc(sizeof(*heap)); /* control thread: allowed */
	if (heap != NULL) {
		*heap = bt;
		/* Relaxed: a gauge; the callback cannot run before defer. */
		atomic_fetch_add_explicit(&loc->deferred, bt.n_aors + bt.n_binds, memory_order_relaxed);
		if (pk_rcu_defer(loc->rcu, loc_reclaim_cb, heap) == 0) {
			loc_ctr_add(me, PK_LOC_CTR_RETIRED, bt.n_aors + bt.n_binds);
			return;
		}
		atomic_fetch_sub_explicit(&loc->deferred, bt.n_aors + bt.n_binds, memory_order_relaxed);
		free(heap);
	}
	/* Could not defer (no memory): keep them for the next sweep. The
	 * chains are whole lists, pushed back one by one. */
	for (uint32_t i = bt.aors; i != LOC_NONE;) {
		/* Relaxed: our chain. */
		uint32_t nx = atomic_load_explicit(&loc->aor_pool.next[i - 1], memory_order_relaxed);

		loc_retire(&me->aor_retire, &loc->aor_pool, i - 1);
		i = nx;
	}
	for (uint32_t i = bt.binds; i != LOC_NONE;) {
		/* Relaxed: our chain. */
		uint32_t nx = atomic_load_explicit(&loc->bind_pool.next[i - 1], memory_order_relaxed);

		loc_retire(&me->bind_retire, &loc->bind_pool, i - 1);
		i = nx;
	}
}

/* Does the snapshot hold a binding expired at now_ns? */
static bool loc_has_expired(const struct pk_location *loc, const struct pk_loc_aor *a, uint64_t now_ns)
{
	for (unsigned k = 0; k + a->n_static < a->n; k++) /* static ones are last */
		if (!loc_live(&loc->binds[a->bind[k]], now_ns))
			return true;
	return false;
}

/* Rewrite the expired AoRs of one bucket (lock held). */
static unsigned loc_sweep_bucket(struct pk_location *loc, struct pk_loc_thread *th, uint32_t b,
				 uint64_t now_ns)
{
	_Atomic uint32_t *pred = &loc->heads[b];
	unsigned expired = 0;
	uint32_t i;

	/* Relaxed: the lock makes the chain ours to read. */
	while ((i = atomic_load_explicit(pred, memory_order_relaxed)) != LOC_NONE) {
		struct pk_loc_aor *a = &loc->aors[i - 1];
		struct loc_edit e;

		if (!loc_has_expired(loc, a, now_ns)) {
			pred = &a->next;
			continue;
		}
		loc_edit_init(&e, loc, th, a);
		loc_edit_expire(&e, now_ns);
		if (loc_publish(&e, pred, a, a->hash, pk_str_make(a->key, a->user_len),
				pk_str_make(a->key + a->user_len, a->domain_len)) != 0) {
			pred = &a->next; /* no free snapshot: next sweep */
			continue;
		}
		expired += (unsigned)e.ctr[PK_LOC_CTR_EXPIRED];
		/* Relaxed: lock held. A rewritten AoR is now at *pred: step
		 * past it; a removed one left *pred pointing at the next. */
		if (e.n > 0)
			pred = &loc->aors[atomic_load_explicit(pred, memory_order_relaxed) - 1].next;
	}
	return expired;
}

unsigned pk_location_sweep(struct pk_location *loc, unsigned tid, uint64_t now_ns, uint32_t budget)
{
	struct pk_loc_thread *th = &loc->thr[tid];
	uint32_t nb = loc->bucket_mask + 1;
	unsigned expired = 0;

	if (budget > nb)
		budget = nb;
	for (uint32_t k = 0; k < budget; k++) {
		uint32_t b = loc->sweep_pos++ & loc->bucket_mask;
		bool dirty = false;
		/* Acquire: as in loc_find (lock-free pre-check as a reader;
		 * the caller is online). */
		uint32_t i = atomic_load_explicit(&loc->heads[b], memory_order_acquire);

		while (i != LOC_NONE && !dirty) {
			const struct pk_loc_aor *a = &loc->aors[i - 1];

			dirty = loc_has_expired(loc, a, now_ns);
			/* Acquire: as above. */
			i = atomic_load_explicit(&a->next, memory_order_acquire);
		}
		if (!dirty)
			continue;
		loc_lock(loc, b);
		expired += loc_sweep_bucket(loc, th, b, now_ns);
		loc_unlock(loc, b);
	}
	loc_sweep_retired(loc, th);
	return expired;
}

/* ---- self-check (tests) ---- */

static uint32_t loc_list_count(const struct pk_idx_stack *p, const _Atomic uint32_t *list)
{
	/* Acquire: pairs with loc_retire's release CAS. */
	uint32_t i = atomic_load_explicit(list, memory_order_acquire), n = 0;

	while (i != LOC_NONE && n <= p->n) {
		n++;
		/* Relaxed: published by the acquire above. */
		i = atomic_load_explicit(&p->next[i - 1], memory_order_relaxed);
	}
	return n;
}

int pk_location_check(struct pk_location *loc, const char **why)
{
	uint64_t binds = 0, aors = 0, retired_a = 0, retired_b = 0;
	uint8_t *seen = calloc(loc->bind_pool.n, 1);
	const char *w = NULL;

	if (seen == NULL) {
		*why = "out of memory";
		return -EINVAL;
	}
	for (uint32_t b = 0; b <= loc->bucket_mask && w == NULL; b++) {
		/* Acquire: as in loc_find. */
		uint32_t i = atomic_load_explicit(&loc->heads[b], memory_order_acquire);

		while (i != LOC_NONE && w == NULL) {
			const struct pk_loc_aor *a = &loc->aors[i - 1];
			unsigned n_static = 0;

			aors++;
			if (aors > loc->aor_pool.n)
				w = "a chain loops";
			else if ((a->hash & loc->bucket_mask) != b)
				w = "a snapshot is in the wrong bucket";
			else if (a->n == 0 || a->n > PK_LOC_MAX_CONTACTS)
				w = "a snapshot has no binding or too many";
			else if (a->hash != loc_hash(loc, pk_str_make(a->key, a->user_len),
						     pk_str_make(a->key + a->user_len, a->domain_len)))
				w = "a snapshot's hash does not match its key";
			for (unsigned k = 0; w == NULL && k < a->n; k++) {
				const struct pk_loc_contact *c = &loc->binds[a->bind[k]];

				if (seen[a->bind[k]]++)
					w = "a binding is in two places";
				else if (k > 0 && c->registered > loc->binds[a->bind[k - 1]].registered)
					w = "bindings are not most recent first";
				n_static += c->is_static;
				binds++;
			}
			if (w == NULL && n_static != a->n_static)
				w = "n_static is wrong";
			/* Relaxed: no writer runs. */
			i = atomic_load_explicit(&a->next, memory_order_relaxed);
		}
	}
	free(seen);
	for (uint32_t t = 0; t < loc->n_threads; t++) {
		retired_a += loc_list_count(&loc->aor_pool, &loc->thr[t].aor_retire);
		retired_b += loc_list_count(&loc->bind_pool, &loc->thr[t].bind_retire);
	}
	if (w == NULL && binds != pk_location_in_use(loc))
		w = "in_use does not match the bindings in the table";
	else if (w == NULL && aors != pk_location_aors(loc))
		w = "n_aors does not match the snapshots in the table";
	/* Every object is in exactly one place: a chain, a retire list, a
	 * batch RCU holds, or a free pool. */
	else if (w == NULL &&
		 aors + binds + retired_a + retired_b +
				 atomic_load_explicit(&loc->deferred, memory_order_relaxed) +
				 pk_idx_stack_count(&loc->aor_pool) + pk_idx_stack_count(&loc->bind_pool) !=
			 (uint64_t)loc->aor_pool.n + loc->bind_pool.n)
		w = "objects are lost or counted twice";
	if (w != NULL) {
		*why = w;
		return -EINVAL;
	}
	return 0;
}
