/* SPDX-License-Identifier: MIT */
/*
 * Stress test of the ringing-call table: worker threads insert, ring, claim,
 * settle, look up and cancel calls at random (1M operations in all by
 * default; PK_STRESS_OPS and PK_STRESS_THREADS override), while a control
 * thread sweeps (expiring the "abandoned" calls that are inserted already
 * past their ring timeout) and runs RCU reclamation. Then:
 *  - no call was ever held by two pickers at once, and no call was claimed
 *    after a claim on it ended it (2xx/481/603);
 *  - a retransmitted claim returned the same call, and the claim's lookup
 *    (pk_calltab_claim_find) its call, removed meanwhile or not;
 *  - nobody picked up their own call;
 *  - in each worker's private group (calls nobody else can touch) every
 *    claim returned the oldest ringing call (FIFO);
 *  - once every call is removed and a grace period has passed, every entry,
 *    large block and claim record is back in its pool and the indexes and
 *    lists are empty (nothing lost, nothing leaked).
 * Built for the ThreadSanitizer build as well (suite 'stress').
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pickup/calltab.h"
#include "pickup/rcu.h"

#define MAX_THREADS 16
#define LIVE 48		  /* calls a worker keeps at once */
#define SHARED_GROUPS 3	  /* groups 0..2 are shared by all workers */
#define T0 10000000000000ull /* logical clock start */
#define RING_TIMEOUT 1000000000000ull

/* What the test knows about one call, by (worker, sequence). */
struct rec {
	_Atomic uint64_t holder; /* claim key id + 1 while a picker holds it */
	_Atomic uint32_t ended;	 /* a claim settled it for good */
	_Atomic uint32_t claims;
};

struct mine {
	uint32_t seq;
	uint8_t ringing, private_only, abandoned;
	uint64_t at;
};

struct worker {
	pthread_t th;
	unsigned tid, w;
	uint64_t rng;
	uint64_t ops;
	struct mine live[LIVE];
	unsigned nlive;
	uint32_t seq;
	uint64_t nclaims;
	char err[160];
};

static struct {
	struct pk_rcu *rcu;
	struct pk_calltab *t;
	unsigned nw;
	uint64_t ops_per_worker;
	struct rec *recs;
	_Atomic uint64_t clock;
	_Atomic int done;
	_Atomic uint64_t violations;
	_Atomic uint64_t key_ids;
	uint32_t cap; /* table capacity */
} G;

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static uint64_t tick(void)
{
	/* Relaxed: a logical clock, only needs to move forward. */
	return atomic_fetch_add_explicit(&G.clock, 1, memory_order_relaxed);
}

static void violation(struct worker *w, const char *what, unsigned long a)
{
	/* Relaxed: a counter read after the join. */
	atomic_fetch_add_explicit(&G.violations, 1, memory_order_relaxed);
	if (w->err[0] == 0)
		snprintf(w->err, sizeof(w->err), "worker %u: %s (%lu)", w->w, what, a);
}

static struct rec *rec_of(struct pk_str call_id)
{
	char b[40];
	unsigned w, seq;

	if (call_id.len >= sizeof(b))
		return NULL;
	memcpy(b, call_id.p, call_id.len);
	b[call_id.len] = 0;
	if (sscanf(b, "s%u-%u@", &w, &seq) != 2 || w >= G.nw || seq >= G.ops_per_worker)
		return NULL;
	return &G.recs[(size_t)w * G.ops_per_worker + seq];
}

struct callname {
	char id[40], tag[16], caller[24];
	struct pk_str cid, ftag, who;
};

static void name(struct callname *n, unsigned w, uint32_t seq)
{
	n->cid = pk_str_make(n->id, (size_t)snprintf(n->id, sizeof(n->id), "s%u-%u@stress.example", w, seq));
	n->ftag = pk_str_make(n->tag, (size_t)snprintf(n->tag, sizeof(n->tag), "f%x", seq * 2654435761u));
	n->who = pk_str_make(n->caller, (size_t)snprintf(n->caller, sizeof(n->caller), "u%u@example.com", w));
}

static void drop_live(struct worker *w, unsigned i)
{
	w->live[i] = w->live[--w->nlive];
}

static void op_insert(struct worker *w)
{
	struct mine m = { .seq = w->seq++ };
	uint32_t groups[3], ng = 0;
	struct callname n;
	int rc;

	if (m.seq >= G.ops_per_worker)
		return;
	name(&n, w->w, m.seq);
	m.private_only = (rnd(w) % 3) == 0;
	m.abandoned = !m.private_only && (rnd(w) % 10) == 0;
	if (m.private_only) {
		groups[ng++] = SHARED_GROUPS + w->w;
	} else {
		unsigned k = 1 + (unsigned)(rnd(w) % 3);

		/* Duplicates possible on purpose: the table keeps one. */
		for (unsigned i = 0; i < k; i++)
			groups[ng++] = (uint32_t)(rnd(w) % SHARED_GROUPS);
	}
	m.at = tick();
	if (m.abandoned)
		m.at -= 2 * RING_TIMEOUT;
	struct pk_calltab_new c = {
		.call_id = n.cid, .from_tag = n.ftag, .contact = PK_STR_LIT("<sip:caller@192.0.2.1:5060>"),
		.caller = n.who, .callee = PK_STR_LIT("callee@example.com"),
		.groups = groups, .ngroups = ng, .invite_ns = m.at,
	};
	rc = pk_calltab_insert(G.t, w->tid, &c);
	if (rc == 0)
		w->live[w->nlive++] = m;
	else if (rc == -ENOSPC)
		sched_yield(); /* a full table: let the control thread reclaim
				* when the cores are oversubscribed */
	else
		violation(w, "insert failed", (unsigned long)-rc);
}

static void op_ring(struct worker *w)
{
	struct callname n;
	unsigned i;
	int rc;

	if (w->nlive == 0)
		return;
	i = (unsigned)(rnd(w) % w->nlive);
	if (w->live[i].ringing)
		return;
	name(&n, w->w, w->live[i].seq);
	rc = pk_calltab_ringing(G.t, w->tid, n.cid, n.ftag, 0, PK_STR_LIT("callee-tag-1234"));
	if (rc == 0)
		w->live[i].ringing = 1;
	else if (w->live[i].private_only)
		violation(w, "private call did not ring", (unsigned long)-rc);
	else if (rc == -ENOENT)
		drop_live(w, i); /* expired, or picked up by someone */
	else if (rc != -EALREADY)
		violation(w, "ringing failed", (unsigned long)-rc);
}

static void op_remove(struct worker *w)
{
	struct callname n;
	unsigned i;
	int rc;

	if (w->nlive == 0)
		return;
	i = (unsigned)(rnd(w) % w->nlive);
	name(&n, w->w, w->live[i].seq);
	rc = pk_calltab_remove(G.t, w->tid, n.cid, n.ftag, 0, PK_CALLTAB_CANCELLED);
	if (rc != 0 && (rc != -ENOENT || w->live[i].private_only))
		violation(w, "remove failed", (unsigned long)-rc);
	drop_live(w, i);
}

static void op_lookup(struct worker *w)
{
	struct pk_calltab_call c;
	struct callname n;
	unsigned i;

	if (w->nlive == 0)
		return;
	i = (unsigned)(rnd(w) % w->nlive);
	name(&n, w->w, w->live[i].seq);
	if (pk_calltab_find(G.t, w->tid, n.cid, n.ftag, 0, &c) == 0 &&
	    (!pk_str_eq(c.call_id, n.cid) || !pk_str_eq(c.from_tag, n.ftag) || c.invite_ns != w->live[i].at))
		violation(w, "lookup returned another call", i);
	else if (w->live[i].private_only && pk_calltab_find(G.t, w->tid, n.cid, n.ftag, 0, &c) != 0)
		violation(w, "private call lost", w->live[i].seq);
}

/* Claim in shared groups (or, private: in our own group, checking FIFO). */
static void op_claim(struct worker *w, bool private)
{
	static const unsigned statuses[] = { 200, 481, 603, 486, 408, 500 };
	uint32_t groups[4], ng = 0;
	char keyb[48], pickb[24];
	struct pk_calltab_call c, c2;
	uint64_t kid = atomic_fetch_add_explicit(&G.key_ids, 1, memory_order_relaxed) + 1;
	struct pk_calltab_claim_req req;
	unsigned status;
	struct rec *r;
	uint64_t exp = 0;
	int rc;

	if (private) {
		groups[ng++] = SHARED_GROUPS + w->w;
	} else {
		unsigned k = 1 + (unsigned)(rnd(w) % 3);

		for (unsigned i = 0; i < k; i++)
			groups[ng++] = (uint32_t)(rnd(w) % SHARED_GROUPS);
	}
	/* The private claims pick up as someone who placed no call in it;
	 * shared ones as any worker, often ourselves (whose own calls must be
	 * skipped). */
	unsigned picker = private ? 999 : (rnd(w) % 2 ? w->w : (unsigned)(rnd(w) % G.nw));
	req = (struct pk_calltab_claim_req){
		.groups = groups, .ngroups = ng,
		.picker = pk_str_make(pickb, (size_t)snprintf(pickb, sizeof(pickb), "u%u@example.com", picker)),
		.key = pk_str_make(keyb, (size_t)snprintf(keyb, sizeof(keyb), "pick-%lu@p;z9hG4bK%u",
							   (unsigned long)kid, w->w)),
		.now_ns = tick(),
	};
	rc = pk_calltab_claim(G.t, w->tid, &req, &c);
	if (rc == -ENOENT || rc == -ENOSPC)
		goto fifo_none;
	if (rc != 0) {
		violation(w, "claim failed", (unsigned long)-rc);
		return;
	}
	r = rec_of(c.call_id);
	if (r == NULL) {
		violation(w, "claim returned an unknown call", 0);
		return;
	}
	/* Acquire/release: pairs with the release store of the holder that
	 * let go of it. */
	if (!atomic_compare_exchange_strong_explicit(&r->holder, &exp, kid, memory_order_acq_rel,
						     memory_order_acquire))
		violation(w, "call claimed by two pickers at once", (unsigned long)exp);
	if (atomic_load_explicit(&r->ended, memory_order_acquire))
		violation(w, "call claimed after it was picked up", 0);
	atomic_fetch_add_explicit(&r->claims, 1, memory_order_relaxed);
	w->nclaims++;
	if (pk_str_eq(c.caller, req.picker))
		violation(w, "picked up own call", 0);
	if (c.to_tag.len == 0)
		violation(w, "claimed call without To-tag", 0);

	if (private) {
		/* FIFO: the oldest ringing call of our private group. */
		unsigned best = LIVE;

		for (unsigned i = 0; i < w->nlive; i++)
			if (w->live[i].ringing && w->live[i].private_only &&
			    (best == LIVE || w->live[i].at < w->live[best].at))
				best = i;
		if (best == LIVE || w->live[best].at != c.invite_ns)
			violation(w, "private group claim not FIFO", (unsigned long)c.invite_ns);
	}

	/* The UDP retransmission of the pickup INVITE: same call. */
	if (rnd(w) % 2) {
		rc = pk_calltab_claim(G.t, w->tid, &req, &c2);
		if (rc == 1 ? (c2.idx != c.idx || c2.gen != c.gen) : rc != -EALREADY)
			violation(w, "retransmitted claim got another call", (unsigned long)(rc < 0 ? -rc : rc));
	}

	/* Where the pickup INVITE went, as the picker's CANCEL asks: the same
	 * call while the claim lasts (no claim timeout here), also when
	 * another worker's CANCEL removed it meanwhile. */
	if (rnd(w) % 2) {
		rc = pk_calltab_claim_find(G.t, w->tid, req.key, 0, &c2);
		if (rc != 0 || c2.idx != c.idx || c2.gen != c.gen || !pk_str_eq(c2.call_id, c.call_id) ||
		    !pk_str_eq(c2.to_tag, c.to_tag))
			violation(w, "claim_find lost the claim's call", (unsigned long)(rc < 0 ? -rc : rc));
	}

	status = statuses[rnd(w) % PK_ARRAY_SIZE(statuses)];
	bool gone = status == 200 || status == 481 || status == 603;
	if (gone)
		atomic_store_explicit(&r->ended, 1, memory_order_release);
	/* Release: pairs with the acq_rel CAS of the next holder. */
	atomic_store_explicit(&r->holder, 0, memory_order_release);
	rc = pk_calltab_settle(G.t, w->tid, req.key, status);
	if (rc != 0 && rc != -ENOENT)
		violation(w, "settle failed", (unsigned long)-rc);
	if (private) {
		for (unsigned i = 0; i < w->nlive; i++)
			if (w->live[i].at == c.invite_ns && w->live[i].private_only) {
				if (rc != 0)
					violation(w, "private claim not settled", (unsigned long)-rc);
				if (gone)
					drop_live(w, i);
				break;
			}
	}
	return;

fifo_none:
	if (private && rc == -ENOENT)
		for (unsigned i = 0; i < w->nlive; i++)
			if (w->live[i].ringing && w->live[i].private_only)
				violation(w, "private group has a ringing call but claim found none", 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (pk_rcu_reader_register(G.rcu, w->tid) != 0) {
		violation(w, "rcu register", 0);
		return NULL;
	}
	for (uint64_t i = 0; i < w->ops; i++) {
		unsigned dice = (unsigned)(rnd(w) % 100);

		if (dice < 30)
			w->nlive < LIVE ? op_insert(w) : op_remove(w);
		else if (dice < 55)
			op_ring(w);
		else if (dice < 65)
			op_remove(w);
		else if (dice < 83)
			op_claim(w, false);
		else if (dice < 93)
			op_claim(w, true);
		else
			op_lookup(w);
		/* A worker loop iteration ends: no references held. */
		pk_rcu_quiescent(G.rcu, w->tid);
	}
	/* Shutdown: take our calls out. */
	while (w->nlive > 0)
		op_remove(w);
	pk_rcu_reader_unregister(G.rcu, w->tid);
	return NULL;
}

static void *control_main(void *arg)
{
	unsigned loops = 0;

	(void)arg;
	if (pk_rcu_reader_register(G.rcu, 0) != 0)
		return NULL;
	/* Acquire: pairs with the release store of done by the main thread. */
	while (!atomic_load_explicit(&G.done, memory_order_acquire)) {
		uint64_t cnt[PK_CALLTAB_CTR_COUNT], rto, cto;

		/* What the control socket does while workers run: statistics
		 * and the live tunables (TSan checks that these race with
		 * nothing). The same ring timeout again, and 0: the claim
		 * timeout stays "none"; the invariants below depend on both.
		 * free_count walks the free pool: now and then only, so that
		 * the sweep keeps its pace. */
		pk_calltab_stats(G.t, cnt);
		/* Only this thread frees entries (its reclaim): the gauge
		 * cannot run past the capacity. free_count is an estimate
		 * while workers run: only its bound is checked. */
		if (pk_calltab_in_use(G.t) > G.cap ||
		    (++loops % 64 == 0 && pk_calltab_free_count(G.t) > G.cap))
			atomic_fetch_add(&G.violations, 1);
		pk_calltab_set_timeouts(G.t, RING_TIMEOUT, 0);
		pk_calltab_get_timeouts(G.t, &rto, &cto);
		if (rto != RING_TIMEOUT || cto != 0)
			atomic_fetch_add(&G.violations, 1);
		pk_calltab_sweep(G.t, 0, tick(), 512);
		pk_rcu_quiescent(G.rcu, 0);
		pk_rcu_reclaim(G.rcu);
		sched_yield(); /* pacing of a timer loop, not synchronisation */
	}
	pk_rcu_reader_unregister(G.rcu, 0);
	return NULL;
}

static int count_call(const struct pk_calltab_call *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static void test_stress(void **state)
{
	uint64_t total = env_u64("PK_STRESS_OPS", 1000000), cnt[PK_CALLTAB_CTR_COUNT];
	struct worker *ws;
	pthread_t ctl;
	const char *why = NULL;
	uint64_t claims = 0;

	(void)state;
	G.nw = (unsigned)env_u64("PK_STRESS_THREADS", 4);
	assert_true(G.nw >= 1 && G.nw <= MAX_THREADS);
	G.ops_per_worker = total / G.nw;
	G.recs = calloc((size_t)G.nw * G.ops_per_worker, sizeof(*G.recs));
	ws = calloc(G.nw, sizeof(*ws));
	assert_non_null(G.recs);
	assert_non_null(ws);
	atomic_store(&G.clock, T0);
	G.rcu = pk_rcu_create(G.nw + 1);
	assert_non_null(G.rcu);
	/* Small enough that entries are recycled many times over. */
	struct pk_calltab_config cfg = {
		.capacity = G.nw * LIVE + 2048,
		.max_groups = SHARED_GROUPS + MAX_THREADS,
		.max_threads = G.nw + 1,
		.claim_records = 256,
		.ring_timeout_ns = RING_TIMEOUT,
		.rcu = G.rcu,
	};
	G.t = pk_calltab_create(&cfg);
	assert_non_null(G.t);
	G.cap = cfg.capacity;

	assert_int_equal(pthread_create(&ctl, NULL, control_main, NULL), 0);
	for (unsigned i = 0; i < G.nw; i++) {
		ws[i].w = i;
		ws[i].tid = i + 1;
		ws[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		ws[i].ops = G.ops_per_worker;
		assert_int_equal(pthread_create(&ws[i].th, NULL, worker_main, &ws[i]), 0);
	}
	for (unsigned i = 0; i < G.nw; i++) {
		pthread_join(ws[i].th, NULL);
		claims += ws[i].nclaims;
		if (ws[i].err[0])
			print_error("%s\n", ws[i].err);
	}
	/* Release: pairs with the control thread's acquire load. */
	atomic_store_explicit(&G.done, 1, memory_order_release);
	pthread_join(ctl, NULL);

	/* Every worker removed its calls: nothing may be left in the table.
	 * Then a sweep (lists left dirty, the last retired entries) and one
	 * grace period with no reader left. */
	assert_int_equal(pk_rcu_reader_register(G.rcu, 0), 0);
	if (getenv("PK_STRESS_DEBUG"))
		print_message("in_use %u free %u live %u\n", pk_calltab_in_use(G.t), pk_calltab_free_count(G.t),
			      pk_calltab_foreach(G.t, 0, UINT32_MAX, PK_STR_NULL, count_call, NULL));
	assert_int_equal(pk_calltab_foreach(G.t, 0, UINT32_MAX, PK_STR_NULL, count_call, NULL), 0);
	assert_int_equal(pk_calltab_sweep(G.t, 0, tick(), 0), 0);
	pk_rcu_reader_unregister(G.rcu, 0);
	pk_rcu_synchronize(G.rcu);
	pk_rcu_reclaim(G.rcu);

	pk_calltab_stats(G.t, cnt);
	print_message("ops %lu, inserted %lu, full %lu, ringing %lu, claimed %lu (conflicts %lu, self "
		      "skipped %lu, retrans %lu), picked %lu, reverted %lu, expired %lu, removed %lu\n",
		      (unsigned long)total, (unsigned long)cnt[PK_CALLTAB_CTR_INSERTED],
		      (unsigned long)cnt[PK_CALLTAB_CTR_FULL], (unsigned long)cnt[PK_CALLTAB_CTR_RINGING],
		      (unsigned long)cnt[PK_CALLTAB_CTR_CLAIMED],
		      (unsigned long)cnt[PK_CALLTAB_CTR_CLAIM_CONFLICT],
		      (unsigned long)cnt[PK_CALLTAB_CTR_CLAIM_SELF],
		      (unsigned long)cnt[PK_CALLTAB_CTR_CLAIM_RETRANS],
		      (unsigned long)cnt[PK_CALLTAB_CTR_PICKED], (unsigned long)cnt[PK_CALLTAB_CTR_CLAIM_REVERTED],
		      (unsigned long)cnt[PK_CALLTAB_CTR_EXPIRED], (unsigned long)cnt[PK_CALLTAB_CTR_REMOVED]);

	assert_int_equal(atomic_load(&G.violations), 0);
	assert_int_equal(cnt[PK_CALLTAB_CTR_CLAIMED], claims);
	/* The run did what it is meant to: many calls, claims and expiries.
	 * (How many depends on the threads' interleaving: a loaded machine
	 * has seen 1.99% of the operations be claims, so the floor is 1%.) */
	assert_true(cnt[PK_CALLTAB_CTR_INSERTED] > total / 10);
	assert_true(claims > total / 100);
	assert_true(cnt[PK_CALLTAB_CTR_EXPIRED] > 0);
	/* Nothing lost, nothing leaked. */
	assert_int_equal(pk_calltab_in_use(G.t), 0);
	assert_int_equal(pk_calltab_free_count(G.t), cfg.capacity);
	if (pk_calltab_check_idle(G.t, &why) != 0)
		fail_msg("table not idle: %s", why);
	/* Every successful claim was counted on its call. */
	uint64_t per_call = 0;
	for (size_t i = 0; i < (size_t)G.nw * G.ops_per_worker; i++) {
		per_call += atomic_load(&G.recs[i].claims);
		assert_int_equal(atomic_load(&G.recs[i].holder), 0);
	}
	assert_int_equal(per_call, claims);

	pk_calltab_destroy(G.t);
	pk_rcu_destroy(G.rcu);
	free(ws);
	free(G.recs);
}

/*
 * The same INVITE (or the same pickup INVITE) reaching several workers at
 * the same moment: all threads insert the same calls, released together by
 * a barrier, and exactly one insert per call may succeed; then all claim
 * each call's pickup with the same transaction key, and exactly one claim
 * per key may succeed while the others get that same call (1) or "in
 * progress". Small table, so keys share buckets and spill over.
 */
#define DUP_KEYS 48

static struct {
	pthread_barrier_t bar;
	_Atomic uint32_t won[DUP_KEYS], claimed[DUP_KEYS];
	_Atomic uint64_t claim_idx[DUP_KEYS];
	unsigned rounds, nthreads;
} D;

static void *dup_main(void *arg)
{
	struct worker *w = arg;
	char id[32], key[32];

	if (pk_rcu_reader_register(G.rcu, w->tid) != 0)
		return NULL;
	for (unsigned r = 0; r < D.rounds; r++) {
		unsigned off = (unsigned)(rnd(w) % DUP_KEYS);

		pthread_barrier_wait(&D.bar);
		for (unsigned k0 = 0; k0 < DUP_KEYS; k0++) {
			unsigned k = (k0 + off) % DUP_KEYS;
			uint32_t g = k % 4;
			struct pk_calltab_new c = {
				.call_id = pk_str_make(id, (size_t)snprintf(id, sizeof(id), "d%u-%u@x", r, k)),
				.from_tag = PK_STR_LIT("ft"), .caller = PK_STR_LIT("a@example.com"),
				.groups = &g, .ngroups = 1, .invite_ns = T0 + k,
			};
			int rc = pk_calltab_insert(G.t, w->tid, &c);

			if (rc == 0)
				atomic_fetch_add(&D.won[k], 1);
			else if (rc != -EEXIST)
				violation(w, "duplicate insert failed", (unsigned long)-rc);
			pk_calltab_ringing(G.t, w->tid, c.call_id, c.from_tag, 0, PK_STR_LIT("tt"));
		}
		pk_rcu_quiescent(G.rcu, w->tid);
		pthread_barrier_wait(&D.bar);
		for (unsigned k0 = 0; k0 < DUP_KEYS; k0++) {
			unsigned k = (k0 + off) % DUP_KEYS;
			uint32_t g = k % 4;
			struct pk_calltab_claim_req req = {
				.groups = &g, .ngroups = 1, .picker = PK_STR_LIT("p@example.com"),
				.key = pk_str_make(key, (size_t)snprintf(key, sizeof(key), "k%u-%u", r, k)),
				.now_ns = T0,
			};
			struct pk_calltab_call c;
			int rc = pk_calltab_claim(G.t, w->tid, &req, &c);

			if (rc == 0) {
				atomic_fetch_add(&D.claimed[k], 1);
				atomic_store(&D.claim_idx[k], ((uint64_t)c.gen << 32) | c.idx);
			} else if (rc != 1 && rc != -EINPROGRESS) {
				violation(w, "same-key claim failed", (unsigned long)-rc);
			}
		}
		pk_rcu_quiescent(G.rcu, w->tid);
		pthread_barrier_wait(&D.bar);
		if (w->w == 0) {
			for (unsigned k = 0; k < DUP_KEYS; k++) {
				if (atomic_load(&D.won[k]) != 1)
					violation(w, "inserts of one call won", atomic_load(&D.won[k]));
				if (atomic_load(&D.claimed[k]) != 1)
					violation(w, "claims with one key won", atomic_load(&D.claimed[k]));
				atomic_store(&D.won[k], 0);
				atomic_store(&D.claimed[k], 0);
				snprintf(key, sizeof(key), "k%u-%u", r, k);
				if (pk_calltab_settle(G.t, w->tid, pk_str_make(key, strlen(key)), 200) != 0)
					violation(w, "claimed call not settled", k);
			}
			pk_calltab_sweep(G.t, w->tid, T0, 0);
			pk_rcu_reclaim(G.rcu);
		}
		pk_rcu_quiescent(G.rcu, w->tid);
	}
	pk_rcu_reader_unregister(G.rcu, w->tid);
	return NULL;
}

static void test_duplicate_races(void **state)
{
	struct worker ws[MAX_THREADS];
	const char *why = NULL;

	(void)state;
	memset(ws, 0, sizeof(ws));
	D.nthreads = (unsigned)env_u64("PK_STRESS_THREADS", 4);
	D.rounds = (unsigned)(env_u64("PK_STRESS_OPS", 1000000) / 8 / (DUP_KEYS * D.nthreads));
	assert_true(D.nthreads >= 2 && D.nthreads <= MAX_THREADS);
	G.nw = D.nthreads;
	atomic_store(&G.violations, 0);
	G.rcu = pk_rcu_create(D.nthreads);
	assert_non_null(G.rcu);
	struct pk_calltab_config cfg = {
		.capacity = 4 * DUP_KEYS + 64 * D.nthreads, .max_groups = 4,
		.max_threads = D.nthreads, .claim_records = 4 * DUP_KEYS * D.nthreads, .rcu = G.rcu,
	};
	G.t = pk_calltab_create(&cfg);
	assert_non_null(G.t);
	assert_int_equal(pthread_barrier_init(&D.bar, NULL, D.nthreads), 0);
	for (unsigned i = 0; i < D.nthreads; i++) {
		ws[i].w = i;
		ws[i].tid = i;
		ws[i].rng = 0x2545f4914f6cdd1dull * (i + 1);
		assert_int_equal(pthread_create(&ws[i].th, NULL, dup_main, &ws[i]), 0);
	}
	for (unsigned i = 0; i < D.nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		if (ws[i].err[0])
			print_error("%s\n", ws[i].err);
	}
	pthread_barrier_destroy(&D.bar);
	print_message("%u rounds of %u threads racing on %u calls\n", D.rounds, D.nthreads, DUP_KEYS);
	assert_int_equal(atomic_load(&G.violations), 0);
	pk_rcu_synchronize(G.rcu);
	pk_rcu_reclaim(G.rcu);
	if (pk_calltab_check_idle(G.t, &why) != 0)
		fail_msg("table not idle: %s", why);
	pk_calltab_destroy(G.t);
	pk_rcu_destroy(G.rcu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_duplicate_races),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
