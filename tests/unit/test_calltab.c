/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ringing-call table (include/pickup/calltab.h): every
 * state transition (TRYING -> RINGING -> CLAIMED -> settled, removal on a
 * final answer or CANCEL, ring and claim timeouts), every query (oldest of a
 * group, oldest across groups, directed pickup, self-pickup refused,
 * idempotent claims, lookup by Call-ID + From-tag), a full table, the
 * strings that go to a large block, and that a removed entry is reused only
 * after every RCU reader has been quiescent. Single-threaded; the
 * concurrent behaviour is in stress_calltab.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pickup/calltab.h"
#include "pickup/rcu.h"

#define TID 0

struct fx {
	struct pk_rcu *rcu;
	struct pk_calltab *t;
	struct pk_calltab_config cfg;
	char buf[64][96]; /* backing store for generated strings */
	unsigned nbuf;
};

static struct pk_str S(const char *s)
{
	return pk_str_make(s, strlen(s));
}

static struct pk_str fmt(struct fx *f, const char *format, ...)
{
	char *b = f->buf[f->nbuf++ % 64];
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(b, sizeof(f->buf[0]), format, ap);
	va_end(ap);
	return pk_str_make(b, (size_t)n);
}

static struct fx *fx_new(uint32_t capacity, uint64_t ring_timeout, uint64_t claim_timeout,
			 uint32_t ext_blocks)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->rcu = pk_rcu_create(4);
	assert_non_null(f->rcu);
	assert_int_equal(pk_rcu_reader_register(f->rcu, TID), 0);
	f->cfg = (struct pk_calltab_config){
		.capacity = capacity,
		.max_groups = 64,
		.max_threads = 4,
		.ext_blocks = ext_blocks,
		.ring_timeout_ns = ring_timeout,
		.claim_timeout_ns = claim_timeout,
		.rcu = f->rcu,
	};
	f->t = pk_calltab_create(&f->cfg);
	assert_non_null(f->t);
	return f;
}

/* Sweep, report our quiescent state, run what RCU allows. */
static void fx_quiesce(struct fx *f, uint64_t now)
{
	pk_calltab_sweep(f->t, TID, now, 0);
	pk_rcu_quiescent(f->rcu, TID);
	pk_rcu_reclaim(f->rcu);
}

static void fx_free(struct fx *f)
{
	pk_rcu_reader_unregister(f->rcu, TID);
	pk_rcu_synchronize(f->rcu);
	pk_rcu_reclaim(f->rcu);
	pk_calltab_destroy(f->t);
	pk_rcu_destroy(f->rcu);
	free(f);
}

static int setup(void **state)
{
	*state = fx_new(64, 0, 0, 0);
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* A call number n from `caller` to `callee`, ringing in groups. */
static int add(struct fx *f, unsigned n, const char *caller, const char *callee, uint64_t t_ns,
	       const uint32_t *groups, uint32_t ngroups)
{
	struct pk_calltab_new c = {
		.call_id = fmt(f, "c%u-4fa2b7@10.0.0.1", n),
		.from_tag = fmt(f, "ft%u", n),
		.contact = fmt(f, "<sip:%s;ob>", caller),
		.caller = S(caller),
		.callee = S(callee),
		.groups = groups,
		.ngroups = ngroups,
		.src = { .family = 2, .transport = PK_CALLTAB_UDP, .port = 5060, .addr = { 10, 0, 0, 1 } },
		.invite_ns = t_ns,
	};

	return pk_calltab_insert(f->t, TID, &c);
}

static int ring(struct fx *f, unsigned n)
{
	return pk_calltab_ringing(f->t, TID, fmt(f, "c%u-4fa2b7@10.0.0.1", n), fmt(f, "ft%u", n), 0,
				  fmt(f, "tt%u", n));
}

static int rm(struct fx *f, unsigned n, enum pk_calltab_reason why)
{
	return pk_calltab_remove(f->t, TID, fmt(f, "c%u-4fa2b7@10.0.0.1", n), fmt(f, "ft%u", n), 0, why);
}

static int find(struct fx *f, unsigned n, struct pk_calltab_call *out)
{
	return pk_calltab_find(f->t, TID, fmt(f, "c%u-4fa2b7@10.0.0.1", n), fmt(f, "ft%u", n), 0, out);
}

/* The n of a Call-ID "c<n>-...", or -1. */
static int callnum(struct pk_str id)
{
	char b[32];
	unsigned n;

	if (id.len == 0 || id.len >= sizeof(b))
		return -1;
	memcpy(b, id.p, id.len);
	b[id.len] = 0;
	return sscanf(b, "c%u-", &n) == 1 ? (int)n : -1;
}

static uint64_t ctr(struct fx *f, enum pk_calltab_counter c)
{
	uint64_t v[PK_CALLTAB_CTR_COUNT];

	pk_calltab_stats(f->t, v);
	return v[c];
}

/* Claim for picker `picker` with transaction key `key`; returns the call
 * number claimed (parsed back from the Call-ID), or the negative error. */
static int claim_ex(struct fx *f, const uint32_t *groups, uint32_t ngroups, const char *callee,
		    const char *picker, const char *key, uint64_t now, int *rc_out)
{
	struct pk_calltab_claim_req req = {
		.groups = groups,
		.ngroups = ngroups,
		.callee = callee ? S(callee) : PK_STR_NULL,
		.picker = S(picker),
		.key = S(key),
		.now_ns = now,
	};
	struct pk_calltab_call c;
	int rc = pk_calltab_claim(f->t, TID, &req, &c);

	if (rc_out)
		*rc_out = rc;
	if (rc < 0)
		return rc;
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
	assert_true(callnum(c.call_id) >= 0);
	return callnum(c.call_id);
}

static int claim(struct fx *f, const uint32_t *groups, uint32_t ngroups, const char *picker,
		 const char *key)
{
	return claim_ex(f, groups, ngroups, NULL, picker, key, 0, NULL);
}

static const uint32_t G1[] = { 1 }, G2[] = { 2 }, G3[] = { 3 }, G12[] = { 1, 2 };

/* ---- transitions ---- */

static void test_trying_then_ringing(void **state)
{
	struct fx *f = *state;
	struct pk_calltab_call c;

	assert_int_equal(add(f, 1, "alice@example.com", "bob@example.com", 100, G1, 1), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_TRYING);
	assert_int_equal(c.to_tag.len, 0);
	/* A call that is not ringing yet cannot be picked up. */
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k1"), -ENOENT);

	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_true(pk_str_eq(c.to_tag, S("tt1")));
	/* A second 18x (or another fork's) keeps the first To-tag. */
	assert_int_equal(pk_calltab_ringing(f->t, TID, S("c1-4fa2b7@10.0.0.1"), S("ft1"), 0, S("other")),
			 -EALREADY);
	assert_int_equal(find(f, 1, &c), 0);
	assert_true(pk_str_eq(c.to_tag, S("tt1")));
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_RINGING), 1);
	/* An 18x for a call we do not track. */
	assert_int_equal(ring(f, 99), -ENOENT);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k2"), 1);
}

static void test_removed_on_final_and_cancel(void **state)
{
	struct fx *f = *state;

	for (unsigned n = 1; n <= 3; n++) {
		assert_int_equal(add(f, n, "alice@example.com", "bob@example.com", n, G1, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	assert_int_equal(rm(f, 1, PK_CALLTAB_ANSWERED), 0);
	assert_int_equal(rm(f, 2, PK_CALLTAB_REJECTED), 0);
	assert_int_equal(rm(f, 3, PK_CALLTAB_CANCELLED), 0);
	for (unsigned n = 1; n <= 3; n++) {
		assert_int_equal(find(f, n, NULL), -ENOENT);
		assert_int_equal(rm(f, n, PK_CALLTAB_CANCELLED), -ENOENT);
	}
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k"), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_REMOVED), 3);
	/* A TRYING call (no 18x yet) is removed the same way. */
	assert_int_equal(add(f, 4, "alice@example.com", "bob@example.com", 4, G1, 1), 0);
	assert_int_equal(rm(f, 4, PK_CALLTAB_CANCELLED), 0);
	assert_int_equal(find(f, 4, NULL), -ENOENT);
	fx_quiesce(f, 10);
	assert_int_equal(pk_calltab_in_use(f->t), 0);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
}

/* pk_calltab_remove_was (a CANCEL's one lookup): it removes as
 * pk_calltab_remove does, says what it removed, and counts as the find and
 * remove it replaces would have (lookup_miss twice for an untracked call). */
static void test_remove_was(void **state)
{
	struct fx *f = *state;
	enum pk_calltab_state was = PK_CALLTAB_FREE;
	uint64_t miss;

	assert_int_equal(add(f, 1, "alice@example.com", "bob@example.com", 1, G1, 1), 0);
	assert_int_equal(add(f, 2, "alice@example.com", "bob@example.com", 2, G1, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	assert_int_equal(add(f, 3, "alice@example.com", "bob@example.com", 3, G1, 1), 0);
	assert_int_equal(ring(f, 3), 0);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k"), 2);
	for (unsigned n = 1; n <= 3; n++) {
		static const enum pk_calltab_state want[] = { 0, PK_CALLTAB_TRYING, PK_CALLTAB_CLAIMED,
							      PK_CALLTAB_RINGING };

		was = PK_CALLTAB_FREE;
		assert_int_equal(pk_calltab_remove_was(f->t, TID, fmt(f, "c%u-4fa2b7@10.0.0.1", n),
						       fmt(f, "ft%u", n), 0, PK_CALLTAB_CANCELLED, &was),
				 0);
		assert_int_equal(was, want[n]);
		assert_int_equal(find(f, n, NULL), -ENOENT);
	}
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_REMOVED), 3);
	/* Removed already (its index slot went with it) and never tracked:
	 * -ENOENT, DEAD, two misses each, as pk_calltab_find then
	 * pk_calltab_remove count. */
	miss = ctr(f, PK_CALLTAB_CTR_LOOKUP_MISS);
	was = PK_CALLTAB_CLAIMED;
	assert_int_equal(pk_calltab_remove_was(f->t, TID, fmt(f, "c%u-4fa2b7@10.0.0.1", 1u), fmt(f, "ft%u", 1u),
					       0, PK_CALLTAB_CANCELLED, &was),
			 -ENOENT);
	assert_int_equal(was, PK_CALLTAB_DEAD);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_LOOKUP_MISS), miss + 2);
	assert_int_equal(find(f, 7, NULL), -ENOENT);
	assert_int_equal(rm(f, 7, PK_CALLTAB_CANCELLED), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_LOOKUP_MISS), miss + 4);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_REMOVED), 3);
	/* The claim stays bound to its key (as after pk_calltab_remove); the
	 * caller's answer ends it, its call being gone. */
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k"), -EALREADY);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k"), 200), -ENOENT);
	fx_quiesce(f, 10);
	assert_int_equal(pk_calltab_in_use(f->t), 0);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
}

/* ---- queries ---- */

static void test_fifo_within_group(void **state)
{
	struct fx *f = *state;
	/* Inserted out of arrival order (different workers' timestamps). */
	const uint64_t at[] = { 300, 100, 200, 400 };

	for (unsigned n = 0; n < 4; n++) {
		assert_int_equal(add(f, n, "alice@example.com", "bob@example.com", at[n], G1, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	/* A call in another group, older than all: not ours. */
	assert_int_equal(add(f, 9, "alice@example.com", "bob@example.com", 1, G2, 1), 0);
	assert_int_equal(ring(f, 9), 0);

	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k1"), 1);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k2"), 2);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k3"), 0);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k4"), 3);
	assert_int_equal(claim(f, G1, 1, "carol@example.com", "k5"), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIMED), 4);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_NONE), 1);
}

/* The group lists keep arrival order and count the pairs out of it: a
 * removal by the sweep must keep that count right, or a claim stops at
 * the wrong call. And the last call of a list can be taken out (the list
 * empties) while calls are still appended after it. */
static void test_fifo_after_unlinks(void **state)
{
	struct fx *f = *state;

	(void)state;
	/* A(300), then B(100): out of order. */
	assert_int_equal(add(f, 1, "a@example.com", "x@example.com", 300, G1, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "x@example.com", 100, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	/* C(200) after B: in order with B, not with A. */
	assert_int_equal(add(f, 3, "a@example.com", "x@example.com", 200, G1, 1), 0);
	assert_int_equal(ring(f, 3), 0);
	/* B goes; the sweep unlinks it: the list is A(300), C(200), still
	 * out of order, and the claim must find C. */
	assert_int_equal(rm(f, 2, PK_CALLTAB_CANCELLED), 0);
	fx_quiesce(f, 400);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k1"), 3);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k2"), 1);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 200), 0);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k2"), 200), 0);
	fx_quiesce(f, 400);
	fx_quiesce(f, 400);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);

	/* In order: D(10), E(20), F(30). F, the last, goes and is taken out
	 * by the sweep; G(40) is appended after E. */
	assert_int_equal(add(f, 4, "a@example.com", "x@example.com", 10, G1, 1), 0);
	assert_int_equal(add(f, 5, "a@example.com", "x@example.com", 20, G1, 1), 0);
	assert_int_equal(add(f, 6, "a@example.com", "x@example.com", 30, G1, 1), 0);
	assert_int_equal(rm(f, 6, PK_CALLTAB_ANSWERED), 0);
	fx_quiesce(f, 400);
	assert_int_equal(add(f, 7, "a@example.com", "x@example.com", 40, G1, 1), 0);
	for (unsigned n = 4; n <= 7; n++)
		if (n != 6)
			assert_int_equal(ring(f, n), 0);
	/* E goes too (a middle link), D is claimed: G must still be found. */
	assert_int_equal(rm(f, 5, PK_CALLTAB_ANSWERED), 0);
	fx_quiesce(f, 400);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k3"), 4);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k4"), 7);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k5"), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k3"), 200), 0);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k4"), 200), 0);
	fx_quiesce(f, 400);
	fx_quiesce(f, 400);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
}

static void test_fifo_across_groups(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add(f, 1, "a@example.com", "x@example.com", 50, G1, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "y@example.com", 400, G1, 1), 0);
	assert_int_equal(add(f, 3, "a@example.com", "z@example.com", 100, G2, 1), 0);
	assert_int_equal(add(f, 4, "a@example.com", "w@example.com", 10, G3, 1), 0);
	/* Rings in both groups of the set: taken once. */
	assert_int_equal(add(f, 5, "a@example.com", "v@example.com", 200, G12, 2), 0);
	for (unsigned n = 1; n <= 5; n++)
		assert_int_equal(ring(f, n), 0);

	assert_int_equal(claim(f, G12, 2, "p@example.com", "k1"), 1);
	assert_int_equal(claim(f, G12, 2, "p@example.com", "k2"), 3);
	assert_int_equal(claim(f, G12, 2, "p@example.com", "k3"), 5);
	assert_int_equal(claim(f, G12, 2, "p@example.com", "k4"), 2);
	assert_int_equal(claim(f, G12, 2, "p@example.com", "k5"), -ENOENT);
	/* Group 3 was never asked about. */
	assert_int_equal(claim(f, G3, 1, "p@example.com", "k6"), 4);
}

static void test_directed_pickup(void **state)
{
	struct fx *f = *state;

	/* Older call to carol in group 1, then a call to bob in groups 1, 2. */
	assert_int_equal(add(f, 1, "a@example.com", "carol@example.com", 10, G1, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "bob@example.com", 20, G12, 2), 0);
	assert_int_equal(add(f, 3, "a@example.com", "bob@example.com", 30, G3, 1), 0);
	for (unsigned n = 1; n <= 3; n++)
		assert_int_equal(ring(f, n), 0);

	/* The picker shares no group in which bob rings: nothing. */
	assert_int_equal(claim_ex(f, (const uint32_t[]){ 5 }, 1, "bob@example.com", "p@example.com",
				  "k1", 0, NULL),
			 -ENOENT);
	/* Shares group 2: bob's call there, not carol's older one in group 1,
	 * nor bob's call in group 3. */
	assert_int_equal(claim_ex(f, G2, 1, "bob@example.com", "p@example.com", "k2", 0, NULL), 2);
	assert_int_equal(claim_ex(f, G2, 1, "bob@example.com", "p@example.com", "k3", 0, NULL),
			 -ENOENT);
	assert_int_equal(claim_ex(f, G3, 1, "bob@example.com", "p@example.com", "k4", 0, NULL), 3);
	assert_int_equal(claim_ex(f, G1, 1, "dave@example.com", "p@example.com", "k5", 0, NULL),
			 -ENOENT);
	/* Carol's call is still there for a group pickup. */
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k6"), 1);
}

static void test_self_pickup_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add(f, 1, "alice@example.com", "bob@example.com", 1, G1, 1), 0);
	assert_int_equal(add(f, 2, "carol@example.com", "bob@example.com", 2, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	/* Alice's own call is the oldest: she gets the next one. */
	assert_int_equal(claim(f, G1, 1, "alice@example.com", "k1"), 2);
	assert_true(ctr(f, PK_CALLTAB_CTR_CLAIM_SELF) >= 1);
	/* Only her own call is left: nothing for her... */
	assert_int_equal(claim(f, G1, 1, "alice@example.com", "k2"), -ENOENT);
	/* ...but someone else gets it. */
	assert_int_equal(claim(f, G1, 1, "dave@example.com", "k3"), 1);
}

static void test_idempotent_claim(void **state)
{
	struct fx *f = *state;
	struct pk_calltab_claim_req req = {
		.groups = G1, .ngroups = 1, .picker = S("p@example.com"), .key = S("pick-1;z9hG4bKa1"),
	};
	struct pk_calltab_call c1, c2;

	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, G1, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 2, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(ring(f, 2), 0);

	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c1), 0);
	/* the view carries the key hash the table stored */
	assert_true(c1.hash == pk_calltab_key_hash(c1.call_id, c1.from_tag));
	/* The retransmission: the same call, flagged as such; nothing else
	 * claimed. */
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c2), 1);
	assert_true(c2.hash == c1.hash);
	assert_int_equal(c2.idx, c1.idx);
	assert_int_equal(c2.gen, c1.gen);
	assert_true(pk_str_eq(c2.call_id, c1.call_id));
	assert_true(pk_str_eq(c2.to_tag, S("tt1")));
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c2), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIMED), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_RETRANS), 2);
	/* Retransmissions while another call rings (the walk finds it and
	 * the binding finds the key) take no claim record: more of them than
	 * the pool holds (64), with no grace period in between, and a new
	 * transaction still gets a record below. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c2), 1);
	assert_int_equal(c2.idx, c1.idx);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_RETRANS), 102);
	/* A different transaction: the next call, then none. */
	assert_int_equal(claim(f, G1, 1, "p@example.com", "pick-1;z9hG4bKa2"), 2);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "pick-2;z9hG4bKa1"), -ENOENT);
	/* A key bound to nothing (its claim found no call) is not kept. */
	assert_int_equal(claim(f, G1, 1, "p@example.com", "pick-2;z9hG4bKa1"), -ENOENT);
}

/* A key hash given by the caller (pk_calltab_claim_hash) is the one
 * claim and settle use: the right one finds the claim, a wrong one does
 * not; 0 means "hash it here". The two hashes are of different seeds. */
static void test_claim_key_hash_given(void **state)
{
	struct fx *f = *state;
	const struct pk_str key = S("pick-7;z9hG4bKh1");
	const uint64_t kh = pk_calltab_claim_hash(key);
	struct pk_calltab_claim_req req = {
		.groups = G1, .ngroups = 1, .picker = S("p@example.com"), .key = key, .key_hash = kh,
	};
	struct pk_calltab_call c;

	assert_true(kh != 0);
	assert_true(kh != pk_calltab_key_hash(key, PK_STR_NULL));
	assert_true(kh == pk_calltab_claim_hash(S("pick-7;z9hG4bKh1")));
	assert_true(kh != pk_calltab_claim_hash(S("pick-7;z9hG4bKh2")));
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c), 0);
	/* the retransmission finds the binding by the hash given, and by 0 */
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c), 1);
	req.key_hash = 0;
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &c), 1);
	/* a wrong hash misses the binding */
	assert_int_equal(pk_calltab_settle_hashed(f->t, TID, key, kh ^ 0x5555555555555555ull, 180), -ENOENT);
	assert_int_equal(pk_calltab_settle_hashed(f->t, TID, key, kh, 180), 0);
	assert_int_equal(pk_calltab_settle_hashed(f->t, TID, key, kh, 200), 0);
	assert_int_equal(find(f, 1, NULL), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_PICKED), 1);
	assert_int_equal(pk_calltab_settle_hashed(f->t, TID, key, kh, 200), -ENOENT);
}

static void test_claim_settles(void **state)
{
	struct fx *f = *state;
	const unsigned gone[] = { 200, 481, 603 };
	struct pk_calltab_call c;
	char key[32];

	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(add(f, i, "a@example.com", "b@example.com", i, G1, 1), 0);
		assert_int_equal(ring(f, i), 0);
		snprintf(key, sizeof(key), "key%u", i);
		assert_int_equal(claim(f, G1, 1, "p@example.com", key), (int)i);
		/* A provisional answer changes nothing. */
		assert_int_equal(pk_calltab_settle(f->t, TID, S(key), 180), 0);
		assert_int_equal(find(f, i, &c), 0);
		assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
		assert_int_equal(pk_calltab_settle(f->t, TID, S(key), gone[i]), 0);
		assert_int_equal(find(f, i, NULL), -ENOENT);
		assert_int_equal(pk_calltab_settle(f->t, TID, S(key), gone[i]), -ENOENT);
	}
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_PICKED), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_GONE), 2);

	/* 486 from the caller: ringing again, claimable by the next picker. */
	assert_int_equal(add(f, 7, "a@example.com", "b@example.com", 7, G1, 1), 0);
	assert_int_equal(ring(f, 7), 0);
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k486"), 7);
	assert_int_equal(claim(f, G1, 1, "q@example.com", "kq"), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k486"), 486), 0);
	assert_int_equal(find(f, 7, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k486"), 200), -ENOENT);
	assert_int_equal(claim(f, G1, 1, "q@example.com", "kq2"), 7);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_REVERTED), 1);
	/* A CANCEL of a claimed call: gone, but its key stays bound, so a
	 * retransmission of the pickup INVITE claims nothing new... */
	assert_int_equal(add(f, 8, "a@example.com", "b@example.com", 8, G1, 1), 0);
	assert_int_equal(ring(f, 8), 0);
	assert_int_equal(rm(f, 7, PK_CALLTAB_CANCELLED), 0);
	assert_int_equal(claim(f, G1, 1, "q@example.com", "kq2"), -EALREADY);
	/* ...until the caller's answer ends the claim. */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("kq2"), 481), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("kq2"), 481), -ENOENT);
	assert_int_equal(claim(f, G1, 1, "q@example.com", "kq2"), 8);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("kq2"), 200), 0);
	fx_quiesce(f, 100);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
}

static void test_claim_timeout(void **state)
{
	struct fx *f = fx_new(16, 0, 1000, 0);
	struct pk_calltab_call c;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k", 100, NULL), 1);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1000, 0), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1101, 0), 1);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_TIMEOUT), 1);
	/* The late answer finds no claim; the call is claimable again. */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k"), 200), -ENOENT);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 1200, NULL), 1);
	fx_free(f);
}

/* pk_calltab_foreach callback that only lets the calls be counted. */
static int count_call(const struct pk_calltab_call *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

/* A claim whose call was CANCELled keeps its key, and the call's entry
 * (capacity 1: the only one), until its answer or its timeout: no new call
 * meanwhile. Once it timed out, the entry is recycled for a new call that
 * another picker claims. The old claim's late answers must not touch the
 * new call: a 486 reverting it would let a third picker take a call
 * already taken, a 200 would remove it. */
static void test_stale_claim_after_reuse(void **state)
{
	struct fx *f = fx_new(1, 0, 1000, 0);
	struct pk_calltab_call first, c;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 100, NULL), 1);
	assert_int_equal(find(f, 1, &first), 0);
	assert_int_equal(rm(f, 1, PK_CALLTAB_CANCELLED), 0);
	fx_quiesce(f, 200); /* k1 still bound: its call's entry is kept */
	assert_int_equal(pk_calltab_in_use(f->t), 1);
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 300, G1, 1), -ENOSPC);
	/* k1's retransmission: nothing new */
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 350, NULL), -EALREADY);

	/* k1 times out (100 + 1000): the entry is freed, nothing reverted */
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1150, 0), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_TIMEOUT), 0);
	fx_quiesce(f, 1150);
	assert_int_equal(pk_calltab_in_use(f->t), 0);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), 0, NULL), -ENOENT);

	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 1200, G1, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 1210, NULL), 2);
	assert_int_equal(find(f, 2, &c), 0);
	assert_int_equal(c.idx, first.idx);
	assert_int_equal(c.gen, first.gen + 1);
	/* k1's late answers and copies: not k2's call */
	assert_int_equal(claim_ex(f, G1, 1, NULL, "r@example.com", "k3", 1220, NULL), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 486), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 200), -ENOENT);
	assert_int_equal(find(f, 2, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_REVERTED), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_PICKED), 0);

	/* k2's answer settles k2's call */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k2"), 200), 0);
	assert_int_equal(find(f, 2, NULL), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_PICKED), 1);
	fx_quiesce(f, 1300);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* A claimed call removed (the caller's CANCEL, a final answer): no longer
 * found, listed or claimable, but its claim still finds it, with the
 * strings the picker's CANCEL needs (where the pickup INVITE went), until
 * the claim ends -- by the caller's answer, whatever it is, or by the
 * claim timeout; then nothing of it is left. Before this, the claim lost
 * its call at the remove and the picker's CANCEL had nowhere to go. */
static void test_claim_find_after_remove(void **state)
{
	struct fx *f = fx_new(16, 0, 1000, 0);
	struct pk_calltab_call c;
	enum pk_calltab_state was;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 10, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), 0, &c), -ENOENT);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 100, NULL), 1);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), pk_calltab_claim_hash(S("k1")), &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
	assert_int_equal(callnum(c.call_id), 1);

	/* the caller's CANCEL */
	assert_int_equal(pk_calltab_remove_was(f->t, TID, fmt(f, "c1-4fa2b7@10.0.0.1"), S("ft1"), 0,
					       PK_CALLTAB_CANCELLED, &was),
			 0);
	assert_int_equal(was, PK_CALLTAB_CLAIMED);
	assert_int_equal(find(f, 1, NULL), -ENOENT);
	assert_int_equal(rm(f, 1, PK_CALLTAB_REJECTED), -ENOENT); /* the callee's 487 after it */
	assert_int_equal(ring(f, 1), -ENOENT);
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, PK_STR_NULL, count_call, NULL), 0);
	assert_int_equal(pk_calltab_foreach(f->t, TID, 1, PK_STR_NULL, count_call, NULL), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 110, NULL), -ENOENT);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 120, NULL), -EALREADY);
	/* ...its claim still finds it, strings intact */
	memset(&c, 0, sizeof(c));
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), 0, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_DEAD);
	assert_int_equal(callnum(c.call_id), 1);
	assert_true(pk_str_eq(c.from_tag, S("ft1")));
	assert_true(pk_str_eq(c.to_tag, S("tt1")));
	assert_true(pk_str_eq(c.contact, S("<sip:a@example.com;ob>")));
	assert_int_equal(c.src.port, 5060);
	/* also after a sweep and a grace period (the entry is not reused) */
	fx_quiesce(f, 200);
	assert_int_equal(pk_calltab_in_use(f->t), 1);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), 0, &c), 0);
	assert_true(pk_str_eq(c.contact, S("<sip:a@example.com;ob>")));
	/* the same Call-ID and From-tag may be tracked anew meanwhile */
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 300, G1, 1), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_TRYING);
	assert_int_equal(rm(f, 1, PK_CALLTAB_CANCELLED), 0);

	/* the caller's 487 to the pickup INVITE (not a "gone" status): the
	 * claim ends, nothing rings again, nothing is left */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 487), -ENOENT);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k1"), 0, &c), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_REVERTED), 0);
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, PK_STR_NULL, count_call, NULL), 0);
	fx_quiesce(f, 400);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);

	/* no answer at all: the claim timeout ends it the same way */
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 500, G1, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k3", 600, NULL), 2);
	assert_int_equal(rm(f, 2, PK_CALLTAB_CANCELLED), 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1500, 0), 0);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k3"), 0, &c), 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1601, 0), 0); /* nothing to ring again */
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_TIMEOUT), 0);
	assert_int_equal(pk_calltab_claim_find(f->t, TID, S("k3"), 0, &c), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k3"), 200), -ENOENT);
	fx_quiesce(f, 1700);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* A call ringing in three groups is one call: claimed through one group it
 * is gone from all three; a 486 and a claim timeout give it back to all
 * three; a CANCEL takes it out of every list, and once swept and past the
 * grace period nothing of it is left. */
static void test_claim_in_several_groups(void **state)
{
	static const uint32_t G123[] = { 1, 2, 3 };
	struct fx *f = fx_new(16, 0, 1000, 0);
	struct pk_calltab_call c;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 10, G123, 3), 0);
	assert_int_equal(ring(f, 1), 0);
	for (uint32_t g = 1; g <= 3; g++)
		assert_int_equal(pk_calltab_foreach(f->t, TID, g, PK_STR_NULL, count_call, NULL), 1);
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, PK_STR_NULL, count_call, NULL), 1);

	assert_int_equal(claim_ex(f, G2, 1, NULL, "p@example.com", "k1", 100, NULL), 1);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 110, NULL), -ENOENT);
	assert_int_equal(claim_ex(f, G3, 1, NULL, "q@example.com", "k3", 120, NULL), -ENOENT);
	assert_int_equal(claim_ex(f, G12, 2, NULL, "q@example.com", "k4", 130, NULL), -ENOENT);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 486), 0);

	assert_int_equal(claim_ex(f, G3, 1, NULL, "q@example.com", "k5", 200, NULL), 1);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "r@example.com", "k6", 210, NULL), -ENOENT);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1201, 0), 1); /* k5 timed out */
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_int_equal(c.ngroups, 3);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "r@example.com", "k7", 1300, NULL), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIMED), 3);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_REVERTED), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_TIMEOUT), 1);

	/* CANCEL: out of every group, while k7 stays bound */
	assert_int_equal(rm(f, 1, PK_CALLTAB_CANCELLED), 0);
	for (uint32_t g = 1; g <= 3; g++) {
		assert_int_equal(claim_ex(f, (uint32_t[]){ g }, 1, NULL, "s@example.com", "k8", 1400, NULL),
				 -ENOENT);
		assert_int_equal(pk_calltab_foreach(f->t, TID, g, PK_STR_NULL, count_call, NULL), 0);
	}
	assert_int_equal(claim_ex(f, G1, 1, NULL, "r@example.com", "k7", 1400, NULL), -EALREADY);
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, PK_STR_NULL, count_call, NULL), 0);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k7"), 487), -ENOENT);
	fx_quiesce(f, 1500);
	assert_int_equal(pk_calltab_in_use(f->t), 0);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* The caller answers 486 to a pickup of a call whose ring timeout passed
 * while it was claimed: it is RINGING again by state but never handed out
 * again, and the next sweep expires it. */
static void test_revert_past_ring_timeout(void **state)
{
	struct fx *f = fx_new(16, 1000, 0, 0);
	struct pk_calltab_call c;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 900, NULL), 1);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1100, 0), 0); /* claimed: not expired */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k1"), 486), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 1200, NULL), -ENOENT);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1200, 0), 1);
	assert_int_equal(find(f, 1, NULL), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXPIRED), 1);
	fx_quiesce(f, 1300);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

static void test_ring_timeout(void **state)
{
	struct fx *f = fx_new(16, 1000, 0, 0);
	struct pk_calltab_call c;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 500, G1, 1), 0); /* TRYING */
	assert_int_equal(add(f, 3, "a@example.com", "b@example.com", 900, G1, 1), 0);
	assert_int_equal(ring(f, 3), 0);
	/* Lazily: past its ring timeout, call 1 is never handed out. */
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 1001, NULL), 3);
	assert_int_equal(find(f, 1, &c), 0);
	/* The sweep removes what has timed out, TRYING or RINGING, not the
	 * claimed call. */
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1600, 0), 2);
	assert_int_equal(find(f, 1, NULL), -ENOENT);
	assert_int_equal(find(f, 2, NULL), -ENOENT);
	assert_int_equal(find(f, 3, &c), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXPIRED), 2);
	/* A worker timestamp slightly ahead of the sweep's clock is not
	 * "expired" by wrap-around. */
	assert_int_equal(add(f, 4, "a@example.com", "b@example.com", 2000, G1, 1), 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1990, 0), 0);
	assert_int_equal(find(f, 4, NULL), 0);
	fx_free(f);
}

/* A table sized far beyond its traffic: the sweep walks only the entries
 * the table has ever handed out, so a budget of a few entries a tick comes
 * back to every ringing call within a few ticks. Before, the sweep walked
 * the whole capacity: having passed the used entries once, these calls
 * would have waited 16,384 ticks for it to come round again. */
static void test_sweep_walks_used_entries(void **state)
{
	struct fx *f = fx_new(65536, 1000, 0, 0);
	unsigned expired = 0;

	(void)state;
	/* Ticks of an idle table: nothing to walk, nothing expired. */
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(pk_calltab_sweep(f->t, TID, 0, 4096), 0);
	for (unsigned n = 1; n <= 10; n++) {
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, G1, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	/* Not timed out yet: two whole passes find nothing to expire. */
	for (unsigned k = 0; k < 8; k++)
		assert_int_equal(pk_calltab_sweep(f->t, TID, 500, 4), 0);
	/* Past the ring timeout: four ticks of four entries reach every
	 * call (the entries in use are the first refill, 16 of them). */
	for (unsigned k = 0; k < 4; k++)
		expired += pk_calltab_sweep(f->t, TID, 5000, 4);
	assert_int_equal(expired, 10);
	for (unsigned n = 1; n <= 10; n++)
		assert_int_equal(find(f, n, NULL), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXPIRED), 10);
	fx_quiesce(f, 6000);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* The control socket shortens the ring timeout while the table runs: a
 * call the old timeout kept is no longer handed out and the next sweep
 * expires it. */
static void test_ring_timeout_set_live(void **state)
{
	struct fx *f = fx_new(16, 10000, 0, 0);
	uint64_t r = 1, c = 1;

	(void)state;
	pk_calltab_get_timeouts(f->t, &r, &c);
	assert_int_equal(r, 10000);
	assert_int_equal(c, 0); /* none, as configured */
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 100, G1, 1), 0);
	assert_int_equal(ring(f, 2), 0);
	/* 2000 ns later the old timeout keeps both. */
	assert_int_equal(pk_calltab_sweep(f->t, TID, 2000, 0), 0);
	assert_int_equal(find(f, 1, NULL), 0);
	assert_int_equal(find(f, 2, NULL), 0);

	pk_calltab_set_timeouts(f->t, 1000, 0); /* 0: claim timeout unchanged */
	pk_calltab_get_timeouts(f->t, &r, &c);
	assert_int_equal(r, 1000);
	assert_int_equal(c, 0);
	/* Claims see the new timeout at once... */
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k1", 2000, NULL), -ENOENT);
	/* ...and the sweep expires both calls. */
	assert_int_equal(pk_calltab_sweep(f->t, TID, 2000, 0), 2);
	assert_int_equal(find(f, 1, NULL), -ENOENT);
	assert_int_equal(find(f, 2, NULL), -ENOENT);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXPIRED), 2);
	/* A new call is timed by the new value too. */
	assert_int_equal(add(f, 3, "a@example.com", "b@example.com", 3000, G1, 1), 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 3900, 0), 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 4001, 0), 1);
	fx_quiesce(f, 5000);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* A claim timeout set while the table runs releases a claim that, with no
 * claim timeout configured, would have been held for ever. */
static void test_claim_timeout_set_live(void **state)
{
	struct fx *f = fx_new(16, 0, 0, 0);
	struct pk_calltab_call c;
	uint64_t r = 1, ct = 1;

	(void)state;
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 0, G1, 1), 0);
	assert_int_equal(ring(f, 1), 0);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "p@example.com", "k", 100, NULL), 1);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1000000, 0), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);

	pk_calltab_set_timeouts(f->t, 0, 5000);
	pk_calltab_get_timeouts(f->t, &r, &ct);
	assert_int_equal(r, 0);
	assert_int_equal(ct, 5000);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 1000000, 0), 1);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_RINGING);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_TIMEOUT), 1);
	/* The key is free and the call can be picked up again. */
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k"), 200), -ENOENT);
	assert_int_equal(claim_ex(f, G1, 1, NULL, "q@example.com", "k2", 1000001, NULL), 1);
	/* Above INT64_MAX means never: the new claim is kept. */
	pk_calltab_set_timeouts(f->t, 0, UINT64_MAX);
	pk_calltab_get_timeouts(f->t, NULL, &ct);
	assert_int_equal(ct, 0);
	assert_int_equal(pk_calltab_sweep(f->t, TID, 9000000, 0), 0);
	assert_int_equal(find(f, 1, &c), 0);
	assert_int_equal(c.state, PK_CALLTAB_CLAIMED);
	fx_free(f);
}

/* The default claim records: a sixteenth of the capacity. Held from the
 * pickup INVITE to its answer and a grace period, they bound the pickups
 * a second the table recycles (docs/calltab.md); a sixty-fourth was too
 * few for the bench mix at 2 M messages a second (503 "Too many pickups
 * in progress"). 2,048 calls: 128 claims in flight at once, the 129th
 * refused until one is settled and its grace period passed. */
static void test_claim_records_default(void **state)
{
	struct fx *f = fx_new(2048, 0, 0, 0);
	char key[16];

	(void)state;
	for (unsigned n = 0; n < 130; n++) {
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, G1, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	for (unsigned k = 0; k < 128; k++) {
		snprintf(key, sizeof(key), "k%u", k);
		assert_true(claim(f, G1, 1, "p@example.com", key) >= 0);
	}
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k128"), -ENOSPC);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIM_FULL), 1);
	assert_int_equal(pk_calltab_settle(f->t, TID, S("k0"), 200), 0);
	fx_quiesce(f, 10);
	assert_true(claim(f, G1, 1, "p@example.com", "k128") >= 0);
	fx_free(f);
}

static void test_capacity_full(void **state)
{
	struct fx *f = fx_new(4, 0, 0, 0);
	struct pk_calltab_call c;

	(void)state;
	for (unsigned n = 0; n < 4; n++) {
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, G1, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	assert_int_equal(add(f, 4, "a@example.com", "b@example.com", 4, G1, 1), -ENOSPC);
	assert_int_equal(add(f, 5, "a@example.com", "b@example.com", 5, G2, 1), -ENOSPC);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_FULL), 2);
	/* a retransmission of a tracked call is that, full or not */
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 2, G1, 1), -EEXIST);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_FULL), 2);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_DUPLICATE), 1);
	assert_int_equal(find(f, 4, NULL), -ENOENT);
	/* The tracked calls are unaffected. */
	for (unsigned n = 0; n < 4; n++) {
		assert_int_equal(find(f, n, &c), 0);
		assert_int_equal(c.state, PK_CALLTAB_RINGING);
	}
	assert_int_equal(claim(f, G1, 1, "p@example.com", "k"), 0);
	/* Room again once a call has left and its grace period passed. */
	assert_int_equal(rm(f, 1, PK_CALLTAB_ANSWERED), 0);
	assert_int_equal(add(f, 6, "a@example.com", "b@example.com", 6, G1, 1), -ENOSPC);
	fx_quiesce(f, 10);
	assert_int_equal(add(f, 6, "a@example.com", "b@example.com", 6, G1, 1), 0);
	assert_int_equal(pk_calltab_in_use(f->t), 4);
	fx_free(f);
}

static void test_lookup_by_call_id_and_from_tag(void **state)
{
	struct fx *f = *state;
	struct pk_calltab_new c = {
		.call_id = S("same-call-id@host"), .from_tag = S("tagA"), .caller = S("a@example.com"),
		.callee = S("b@example.com"), .groups = G1, .ngroups = 1, .invite_ns = 1,
	};
	struct pk_calltab_call v;

	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	/* A retransmitted INVITE changes nothing: no entry taken (not even
	 * one waiting for a sweep), nothing to clean up. */
	{
		uint32_t used = pk_calltab_in_use(f->t), free_n = pk_calltab_free_count(f->t);

		for (int i = 0; i < 3; i++)
			assert_int_equal(pk_calltab_insert(f->t, TID, &c), -EEXIST);
		assert_int_equal(pk_calltab_in_use(f->t), used);
		assert_int_equal(pk_calltab_free_count(f->t), free_n);
		assert_int_equal(ctr(f, PK_CALLTAB_CTR_ALLOC), 1);
	}
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_DUPLICATE), 3);
	/* Same Call-ID, other From-tag: another call (a forked request
	 * upstream). With a precomputed hash. */
	c.from_tag = S("tagB");
	c.callee = S("other@example.com");
	c.hash = pk_calltab_key_hash(c.call_id, c.from_tag);
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);

	assert_int_equal(pk_calltab_find(f->t, TID, S("same-call-id@host"), S("tagA"), 0, &v), 0);
	assert_true(pk_str_eq(v.callee, S("b@example.com")));
	assert_int_equal(pk_calltab_find(f->t, TID, S("same-call-id@host"), S("tagB"), c.hash, &v), 0);
	assert_true(pk_str_eq(v.callee, S("other@example.com")));
	assert_int_equal(pk_calltab_find(f->t, TID, S("same-call-id@host"), S("tagC"), 0, &v), -ENOENT);
	assert_int_equal(pk_calltab_find(f->t, TID, S("same-call-id@hosT"), S("tagA"), 0, &v), -ENOENT);
	/* CANCEL of one leaves the other. */
	assert_int_equal(pk_calltab_remove(f->t, TID, S("same-call-id@host"), S("tagA"), 0,
					   PK_CALLTAB_CANCELLED),
			 0);
	assert_int_equal(pk_calltab_find(f->t, TID, S("same-call-id@host"), S("tagB"), 0, &v), 0);
}

/* Many calls, so that keys spill over buckets: every one is found, and
 * stays found while the others come and go. */
static void test_lookup_many(void **state)
{
	struct fx *f = fx_new(2048, 0, 0, 0);

	(void)state;
	for (unsigned n = 0; n < 2048; n++)
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, (uint32_t[]){ n % 64 }, 1),
				 0);
	for (unsigned n = 0; n < 2048; n++)
		assert_int_equal(find(f, n, NULL), 0);
	for (unsigned n = 0; n < 2048; n += 2)
		assert_int_equal(rm(f, n, PK_CALLTAB_ANSWERED), 0);
	for (unsigned n = 0; n < 2048; n++)
		assert_int_equal(find(f, n, NULL), n % 2 ? 0 : -ENOENT);
	for (unsigned n = 1; n < 2048; n += 2)
		assert_int_equal(rm(f, n, PK_CALLTAB_ANSWERED), 0);
	fx_quiesce(f, 0);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	fx_free(f);
}

/* Full buckets in both indexes (keys in every slot of a bucket, and past
 * it): a duplicate of every call is refused, and every bound claim key is
 * found, by the scan that looks at a whole bucket at once (AVX2; this
 * test also runs as calltab_scalar with the slot-by-slot loops). */
static void test_index_full_buckets(void **state)
{
	struct fx *f = fx_new(2048, 0, 0, 0);
	int got[32];

	(void)state;
	for (unsigned n = 0; n < 2048; n++) {
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, (uint32_t[]){ n % 32 }, 1), 0);
		assert_int_equal(ring(f, n), 0);
	}
	for (unsigned n = 0; n < 2048; n++)
		assert_int_equal(add(f, n, "a@example.com", "b@example.com", n, (uint32_t[]){ n % 32 }, 1),
				 -EEXIST);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_DUPLICATE), 2048);
	assert_int_equal(pk_calltab_in_use(f->t), 2048);
	/* 32 claims of the 64 records (the claim index has 6 buckets): the
	 * oldest call of each group */
	for (unsigned i = 0; i < 32; i++) {
		char key[32];

		snprintf(key, sizeof(key), "pick-%u;z9hG4bK%u", i, i * 7);
		got[i] = claim(f, (uint32_t[]){ i }, 1, "p@example.com", key);
		assert_int_equal(got[i], (int)i);
	}
	for (unsigned i = 0; i < 32; i++) {
		char key[32];
		int rc;

		snprintf(key, sizeof(key), "pick-%u;z9hG4bK%u", i, i * 7);
		/* the group has other calls ringing: the record's insert
		 * finds the key bound */
		assert_int_equal(claim_ex(f, (uint32_t[]){ i }, 1, NULL, "p@example.com", key, 0, &rc), got[i]);
		assert_int_equal(rc, 1);
		/* a group with no call: the lookup finds the binding */
		assert_int_equal(claim_ex(f, (uint32_t[]){ 40 }, 1, NULL, "p@example.com", key, 0, &rc), got[i]);
		assert_int_equal(rc, 1);
	}
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_CLAIMED), 32);
	fx_free(f);
}

/* ---- memory ---- */

static void test_recycled_only_after_quiescence(void **state)
{
	struct fx *f = fx_new(1, 0, 0, 0);
	struct pk_calltab_call before, after;
	char saved[64];

	(void)state;
	/* A second reader (a worker) that holds a view of the call. */
	assert_int_equal(pk_rcu_reader_register(f->rcu, 1), 0);
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, G1, 1), 0);
	assert_int_equal(find(f, 1, &before), 0);
	memcpy(saved, before.call_id.p, before.call_id.len);

	assert_int_equal(rm(f, 1, PK_CALLTAB_ANSWERED), 0);
	fx_quiesce(f, 10); /* retired and deferred; reader 1 not quiescent */
	assert_int_equal(pk_calltab_in_use(f->t), 1);
	assert_int_equal(add(f, 2, "x@example.com", "y@example.com", 2, G1, 1), -ENOSPC);
	/* The worker's view still reads the old call. */
	assert_memory_equal(before.call_id.p, saved, before.call_id.len);
	assert_int_equal(before.call_id.len, strlen("c1-4fa2b7@10.0.0.1"));

	pk_rcu_quiescent(f->rcu, 1);
	pk_rcu_quiescent(f->rcu, TID);
	pk_rcu_reclaim(f->rcu);
	assert_int_equal(pk_calltab_in_use(f->t), 0);
	assert_int_equal(add(f, 2, "x@example.com", "y@example.com", 2, G1, 1), 0);
	assert_int_equal(find(f, 2, &after), 0);
	/* The same slot, a new incarnation. */
	assert_int_equal(after.idx, before.idx);
	assert_int_equal(after.gen, before.gen + 1);
	pk_rcu_reader_unregister(f->rcu, 1);
	fx_free(f);
}

static void test_route_back_to_caller(void **state)
{
	struct fx *f = *state;
	const struct pk_str rr[] = { S("<sip:sbc.example.com;lr>"), S("<sip:[2001:db8::7]:5070;lr;transport=tcp>"),
				     S("<sip:p1.example.net;lr>") };
	struct pk_calltab_new c = {
		.call_id = S("rr-call@h"), .from_tag = S("f"), .contact = S("<sip:alice@192.0.2.5:5062>"),
		.caller = S("alice@example.com"), .callee = S("bob@example.com"), .rr = rr, .nrr = 3,
		.groups = G12, .ngroups = 2, .invite_ns = 5,
		.src = { .family = 10, .transport = PK_CALLTAB_TCP, .port = 5070,
			 .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 } },
	};
	struct pk_calltab_call v;

	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	assert_int_equal(pk_calltab_ringing(f->t, TID, c.call_id, c.from_tag, 0, S("callee-tag-77")), 0);
	struct pk_calltab_claim_req req = {
		.groups = G2, .ngroups = 1, .picker = S("p@example.com"), .key = S("k"),
	};
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, &v), 0);
	assert_true(pk_str_eq(v.call_id, c.call_id));
	assert_int_equal(pk_calltab_find(f->t, TID, c.call_id, c.from_tag, 0, &v), 0);
	assert_int_equal(v.state, PK_CALLTAB_CLAIMED);
	assert_true(pk_str_eq(v.contact, c.contact));
	assert_true(pk_str_eq(v.caller, c.caller));
	assert_true(pk_str_eq(v.callee, c.callee));
	assert_true(pk_str_eq(v.to_tag, S("callee-tag-77")));
	assert_int_equal(v.nrr, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_true(pk_str_eq(v.rr[i], rr[i]));
	assert_int_equal(v.ngroups, 2);
	assert_int_equal(v.groups[0], 1);
	assert_int_equal(v.groups[1], 2);
	assert_int_equal(v.src.family, 10);
	assert_int_equal(v.src.transport, PK_CALLTAB_TCP);
	assert_int_equal(v.src.port, 5070);
	assert_memory_equal(v.src.addr, c.src.addr, 16);
	assert_int_equal(v.invite_ns, 5);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_USED), 0);
}

/* Four 160-byte Route entries: strings that need a large block. */
/* A call "long-1@h" whose four 160-byte Record-Route values (in big, viewed
 * by rr) need a large block. */
static struct pk_calltab_new long_call(char big[4][160], struct pk_str rr[4])
{
	for (unsigned i = 0; i < 4; i++) {
		memset(big[i], 'a' + (int)i, 160);
		rr[i] = pk_str_make(big[i], 160);
	}
	return (struct pk_calltab_new){
		.call_id = S("long-1@h"), .from_tag = S("f"), .contact = S("<sip:alice@192.0.2.5>"),
		.caller = S("alice@example.com"), .callee = S("bob@example.com"), .rr = rr, .nrr = 4,
		.groups = G1, .ngroups = 1,
	};
}

/* A retransmission of a call whose strings took a large block takes no
 * second one (it is found before anything is allocated): the next
 * outlier gets it. */
static void test_long_strings_duplicate(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 2); /* two large blocks */
	static char big[4][160];
	struct pk_str rr[4];
	struct pk_calltab_new c = long_call(big, rr);

	(void)state;
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pk_calltab_insert(f->t, TID, &c), -EEXIST);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_DUPLICATE), 3);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_USED), 1);
	c.call_id = S("long-2@h");
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_USED), 2);
	c.call_id = S("long-3@h");
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), -ENOSPC);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_FULL), 1);
	fx_free(f);
}

static void test_long_strings(void **state)
{
	struct fx *f = fx_new(8, 0, 0, 1); /* one large block */
	static char big[4][160];
	struct pk_str rr[4];
	struct pk_calltab_new c = long_call(big, rr);
	struct pk_calltab_call v;

	(void)state;
	/* 640 bytes of Record-Route: tracked, in the large block. */
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_USED), 1);
	assert_int_equal(pk_calltab_ringing(f->t, TID, c.call_id, c.from_tag, 0, S("t")), 0);
	assert_int_equal(pk_calltab_find(f->t, TID, c.call_id, c.from_tag, 0, &v), 0);
	assert_int_equal(v.nrr, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(pk_str_eq(v.rr[i], rr[i]));
	assert_true(pk_str_eq(v.to_tag, S("t")));
	/* Its retransmission, with no large block left: a duplicate all the
	 * same, not a refusal for want of a block. */
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), -EEXIST);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_DUPLICATE), 1);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_FULL), 0);
	/* A second outlier: no large block left. Counted, not tracked; an
	 * ordinary call still is. */
	c.call_id = S("long-2@h");
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), -ENOSPC);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_EXT_FULL), 1);
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, G1, 1), 0);
	/* Beyond PK_CALLTAB_STRINGS_MAX: refused outright. */
	c.call_id = S("long-3@h");
	c.contact = pk_str_make(big[0], sizeof(big[0]));
	c.callee = pk_str_make(big[1], sizeof(big[1]));
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), -E2BIG);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_TOO_BIG), 1);
	/* The block comes back with its call. */
	assert_int_equal(pk_calltab_remove(f->t, TID, S("long-1@h"), S("f"), 0, PK_CALLTAB_ANSWERED), 0);
	assert_int_equal(rm(f, 1, PK_CALLTAB_ANSWERED), 0);
	fx_quiesce(f, 0);
	assert_int_equal(pk_calltab_check_idle(f->t, NULL), 0);
	c.call_id = S("long-2@h");
	c.contact = S("<sip:alice@192.0.2.5>");
	c.callee = S("bob@example.com");
	assert_int_equal(pk_calltab_insert(f->t, TID, &c), 0);
	fx_free(f);
}

static void test_to_tag_too_long(void **state)
{
	struct fx *f = *state;
	char tag[PK_CALLTAB_TAG_MAX + 1];
	struct pk_calltab_call v;

	memset(tag, 'x', sizeof(tag));
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, G1, 1), 0);
	assert_int_equal(pk_calltab_ringing(f->t, TID, S("c1-4fa2b7@10.0.0.1"), S("ft1"), 0,
					    pk_str_make(tag, sizeof(tag))),
			 -E2BIG);
	assert_int_equal(find(f, 1, &v), 0);
	assert_int_equal(v.state, PK_CALLTAB_TRYING);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_TAG_TOO_LONG), 1);
	/* A 40-byte tag always fits. */
	assert_int_equal(pk_calltab_ringing(f->t, TID, S("c1-4fa2b7@10.0.0.1"), S("ft1"), 0,
					    pk_str_make(tag, 40)),
			 0);
}

struct listing {
	unsigned n;
	unsigned seen[16];
};

static int collect(const struct pk_calltab_call *c, void *arg)
{
	struct listing *l = arg;
	int n = callnum(c->call_id);

	if (n >= 0 && l->n < 16)
		l->seen[l->n++] = (unsigned)n;
	return 0;
}

static void test_foreach(void **state)
{
	struct fx *f = *state;
	struct listing l = { 0 };

	assert_int_equal(add(f, 1, "a@example.com", "bob@example.com", 1, G1, 1), 0);
	assert_int_equal(add(f, 2, "a@example.com", "carol@example.com", 2, G12, 2), 0);
	assert_int_equal(add(f, 3, "a@example.com", "bob@example.com", 3, G2, 1), 0);
	assert_int_equal(add(f, 4, "a@example.com", "bob@example.com", 4, G3, 1), 0);
	assert_int_equal(rm(f, 4, PK_CALLTAB_CANCELLED), 0);

	assert_int_equal(pk_calltab_foreach(f->t, TID, 2, PK_STR_NULL, collect, &l), 2);
	assert_int_equal(l.seen[0] + l.seen[1], 5);
	l.n = 0;
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, S("bob@example.com"), collect, &l), 2);
	assert_int_equal(l.seen[0] + l.seen[1], 4);
	l.n = 0;
	assert_int_equal(pk_calltab_foreach(f->t, TID, 1, S("bob@example.com"), collect, &l), 1);
	assert_int_equal(l.seen[0], 1);
	assert_int_equal(pk_calltab_foreach(f->t, TID, UINT32_MAX, PK_STR_NULL, collect, &l), 3);
	assert_int_equal(pk_calltab_foreach(f->t, TID, 3, PK_STR_NULL, collect, &l), 0);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct pk_calltab_claim_req req = { .groups = G1, .ngroups = 1, .key = S("k") };
	char longkey[PK_CALLTAB_CLAIM_KEY_MAX + 1];

	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, NULL, 0), -EINVAL);
	assert_int_equal(add(f, 1, "a@example.com", "b@example.com", 1, (uint32_t[]){ 64 }, 1), -EINVAL);
	req.groups = (uint32_t[]){ 64 };
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, NULL), -EINVAL);
	req.groups = G1;
	memset(longkey, 'k', sizeof(longkey));
	req.key = pk_str_make(longkey, sizeof(longkey));
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, NULL), -E2BIG);
	req.key = PK_STR_NULL;
	assert_int_equal(pk_calltab_claim(f->t, TID, &req, NULL), -EINVAL);
	/* More than PK_CALLTAB_MAX_GROUPS groups: the first ones are kept. */
	uint32_t many[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	assert_int_equal(add(f, 2, "a@example.com", "b@example.com", 1, many, 10), 0);
	assert_int_equal(ctr(f, PK_CALLTAB_CTR_GROUPS_TRUNCATED), 1);
	assert_int_equal(ring(f, 2), 0);
	assert_int_equal(claim(f, (uint32_t[]){ 9 }, 1, "p@example.com", "k9"), -ENOENT);
	assert_int_equal(claim(f, (uint32_t[]){ 7 }, 1, "p@example.com", "k7"), 2);
	struct pk_calltab_config bad = f->cfg;
	bad.capacity = 0;
	assert_null(pk_calltab_create(&bad));
	bad = f->cfg;
	bad.rcu = NULL;
	assert_null(pk_calltab_create(&bad));
	assert_string_equal(pk_calltab_counter_name(PK_CALLTAB_CTR_CLAIM_CONFLICT), "claim_conflict");
	assert_string_equal(pk_calltab_state_name(PK_CALLTAB_RINGING), "ringing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trying_then_ringing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_on_final_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_was, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_within_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_after_unlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_across_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directed_pickup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_pickup_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_key_hash_given, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_settles, setup, teardown),
		cmocka_unit_test(test_claim_timeout),
		cmocka_unit_test(test_stale_claim_after_reuse),
		cmocka_unit_test(test_claim_find_after_remove),
		cmocka_unit_test(test_claim_in_several_groups),
		cmocka_unit_test(test_revert_past_ring_timeout),
		cmocka_unit_test(test_ring_timeout),
		cmocka_unit_test(test_sweep_walks_used_entries),
		cmocka_unit_test(test_ring_timeout_set_live),
		cmocka_unit_test(test_claim_timeout_set_live),
		cmocka_unit_test(test_capacity_full),
		cmocka_unit_test_setup_teardown(test_lookup_by_call_id_and_from_tag, setup, teardown),
		cmocka_unit_test(test_lookup_many),
		cmocka_unit_test(test_index_full_buckets),
		cmocka_unit_test(test_recycled_only_after_quiescence),
		cmocka_unit_test_setup_teardown(test_route_back_to_caller, setup, teardown),
		cmocka_unit_test(test_claim_records_default),
		cmocka_unit_test(test_long_strings_duplicate),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test_setup_teardown(test_to_tag_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
