/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the location table (include/pickup/location.h,
 * dataplane/proxy/location.c): what the proxy gets back from a lookup
 * after registrations, refreshes, removals, expiry and static bindings;
 * the RFC 3261 §10.3 ordering rules; what happens when the table or an
 * AoR is full; and a multi-threaded run of writers (REGISTER on several
 * workers), readers (lookups) and the control thread's sweep, in which
 * every contact a reader copies must be whole: all its fields from the
 * same REGISTER. The last one is also in suite 'stress', which the
 * ThreadSanitizer build runs.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pickup/location.h"
#include "pickup/rcu.h"

#define SEC 1000000000ull
#define T0 (1000 * SEC) /* an arbitrary monotonic start */
#define DOM "example.test"

struct fx {
	struct pk_rcu *rcu;
	struct pk_location *loc;
};

static struct pk_str S(const char *s)
{
	return pk_str_make(s, strlen(s));
}

static int setup_cap(void **state, uint32_t capacity)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->rcu = pk_rcu_create(4);
	assert_non_null(f->rcu);
	assert_int_equal(pk_rcu_reader_register(f->rcu, 0), 0);
	f->loc = pk_location_create(capacity, 4, f->rcu);
	assert_non_null(f->loc);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_cap(state, 64);
}

static int setup_small(void **state)
{
	return setup_cap(state, 4);
}

/* Sweep everything, let RCU give it back, and check the table. */
static void flush(struct fx *f, uint64_t now)
{
	const char *why = NULL;

	pk_location_sweep(f->loc, 0, now, UINT32_MAX);
	pk_rcu_quiescent(f->rcu, 0);
	pk_rcu_reclaim(f->rcu);
	if (pk_location_check(f->loc, &why) != 0)
		fail_msg("location check: %s", why);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	flush(f, T0);
	pk_rcu_reader_unregister(f->rcu, 0);
	pk_rcu_synchronize(f->rcu);
	pk_rcu_reclaim(f->rcu);
	pk_location_destroy(f->loc);
	pk_rcu_destroy(f->rcu);
	free(f);
	return 0;
}

/* A REGISTER from 10.0.0.<host>:5060 over UDP. */
struct req {
	const char *user;
	const char *call_id;
	uint32_t cseq;
	bool remove_all;
	unsigned n;
	struct pk_loc_change ch[8];
	uint8_t host;
};

static int do_reg(struct fx *f, const struct req *q, uint64_t now, struct pk_loc_contact *out, unsigned *n)
{
	struct pk_loc_contact tmp[PK_LOC_MAX_CONTACTS];
	unsigned dummy;
	struct pk_loc_register r = {
		.user = S(q->user),
		.domain = S(DOM),
		.call_id_hash = pk_location_call_id_hash(S(q->call_id)),
		.cseq = q->cseq,
		.remove_all = q->remove_all,
		.n = q->n,
		.changes = q->ch,
		.transport = PK_TRANSPORT_UDP,
		.listener = 1,
	};

	assert_int_equal(pk_addr_parse(S("10.0.0.1:5060"), false, &r.src), 0);
	r.src.ip[3] = q->host;
	return pk_location_register(f->loc, 0, &r, now, out ? out : tmp, PK_LOC_MAX_CONTACTS, n ? n : &dummy);
}

static struct pk_loc_change C(const char *uri, uint32_t expires)
{
	return (struct pk_loc_change){ .uri = S(uri), .expires_s = expires, .q = -1 };
}

/* Register one contact with its own Call-ID. */
static int reg1(struct fx *f, const char *user, const char *uri, uint32_t expires, uint64_t now)
{
	struct req q = { .user = user, .call_id = uri, .cseq = 1, .n = 1, .ch = { C(uri, expires) }, .host = 7 };

	return do_reg(f, &q, now, NULL, NULL);
}

static unsigned look(struct fx *f, const char *user, uint64_t now, struct pk_loc_contact *out)
{
	return pk_location_lookup(f->loc, 0, S(user), S(DOM), now, out, PK_LOC_MAX_CONTACTS);
}

static void assert_uri(const struct pk_loc_contact *c, const char *uri)
{
	if (c->uri_len != strlen(uri) || memcmp(c->uri, uri, c->uri_len) != 0)
		fail_msg("contact %.*s, expected %s", (int)c->uri_len, c->uri, uri);
}

static uint64_t ctr(struct fx *f, enum pk_loc_counter c)
{
	uint64_t v[PK_LOC_CTR_COUNT];

	pk_location_stats(f->loc, v);
	return v[c];
}

/* ---- single-threaded behaviour ---- */

static void test_insert_lookup(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "abc@1", .cseq = 7, .n = 1, .host = 9 };
	char a[PK_ADDR_STRLEN];
	unsigned n;

	q.ch[0] = C("sip:2001@192.168.1.20:5062", 600);
	q.ch[0].q = 500;
	q.ch[0].nat = true;
	assert_int_equal(do_reg(f, &q, T0, c, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(look(f, "2001", T0 + SEC, c), 1);
	assert_uri(&c[0], "sip:2001@192.168.1.20:5062");
	pk_addr_format(&c[0].src, true, a, sizeof(a));
	assert_string_equal(a, "10.0.0.9:5060");
	assert_int_equal(c[0].transport, PK_TRANSPORT_UDP);
	assert_int_equal(c[0].listener, 1);
	assert_int_equal(c[0].conn, 0);
	assert_true(c[0].nat);
	assert_false(c[0].is_static);
	assert_int_equal(c[0].q, 500);
	assert_int_equal(c[0].cseq, 7);
	assert_true(c[0].expires == T0 + 600 * SEC);
	assert_true(c[0].registered == T0);

	/* the domain is compared without case; other users are not there */
	assert_int_equal(pk_location_lookup(f->loc, 0, S("2001"), S("Example.TEST"), T0, c, 4), 1);
	assert_int_equal(look(f, "2002", T0, c), 0);
	assert_int_equal(look(f, "200", T0, c), 0);
	assert_int_equal(pk_location_lookup(f->loc, 0, S("2001"), S("other.test"), T0, c, 4), 0);
	assert_int_equal(pk_location_in_use(f->loc), 1);
	assert_int_equal(pk_location_aors(f->loc), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REGISTERED), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_LOOKUP_MISS), 3);
}

static void test_refresh(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 1, .n = 1, .ch = { C("sip:2001@10.0.0.7", 60) },
			 .host = 7 };

	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	q.cseq = 2;
	q.host = 8; /* the phone's NAT mapping changed */
	q.ch[0].expires_s = 120;
	assert_int_equal(do_reg(f, &q, T0 + 50 * SEC, NULL, NULL), 0);
	/* one binding, new expiry and source; alive past the first expiry */
	assert_int_equal(look(f, "2001", T0 + 100 * SEC, c), 1);
	assert_true(c[0].expires == T0 + 170 * SEC);
	assert_int_equal(c[0].src.ip[3], 8);
	assert_int_equal(c[0].cseq, 2);
	assert_int_equal(pk_location_in_use(f->loc), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REFRESHED), 1);
	/* the replaced binding goes back through RCU */
	flush(f, T0 + 100 * SEC);
	assert_int_equal(ctr(f, PK_LOC_CTR_RETIRED), 2); /* old snapshot + old binding */
}

/*
 * A refresh from the same place (URI, source, transport, q) is written
 * into the binding: expiry, CSeq and Call-ID updated, nothing replaced or
 * retired, so any number of them needs no spare snapshot. What it must
 * still do as the rebuild does: answer every binding, keep the most recent
 * first, refuse an out-of-order CSeq, leave a retransmission unchanged,
 * remove on expires 0, and fall back to the rebuild for a changed
 * Contact, source or q, for a binding that is not the most recent, and
 * when a binding of the AoR has expired.
 */
static void test_refresh_in_place(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS], out[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 1, .n = 1, .ch = { C("sip:2001@10.0.0.7", 60) },
			 .host = 7 };
	struct req o = { .user = "2001", .call_id = "other", .cseq = 1, .n = 1,
			 .ch = { C("sip:soft@10.0.0.9", 600) }, .host = 9 };
	unsigned n = 0;

	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	flush(f, T0);
	/* many refreshes, no sweep in between: no spare snapshot needed */
	for (unsigned i = 0; i < 1000; i++) {
		q.cseq++;
		q.ch[0].expires_s = 60 + i % 7;
		assert_int_equal(do_reg(f, &q, T0 + i * SEC, out, &n), 0);
		assert_int_equal(n, 1);
		assert_true(out[0].expires == T0 + i * SEC + (60 + i % 7) * SEC);
	}
	assert_int_equal(ctr(f, PK_LOC_CTR_REFRESHED), 1000);
	assert_int_equal(ctr(f, PK_LOC_CTR_NO_MEMORY), 0);
	assert_int_equal(look(f, "2001", T0 + 1000 * SEC, c), 1);
	assert_int_equal(c[0].cseq, 1001);
	assert_true(c[0].registered == T0 + 999 * SEC);
	assert_true(c[0].expires == T0 + 999 * SEC + (60 + 999 % 7) * SEC);
	assert_int_equal(pk_location_in_use(f->loc), 1);
	flush(f, T0 + 999 * SEC);
	assert_int_equal(ctr(f, PK_LOC_CTR_RETIRED), 0); /* nothing was replaced */

	/* a retransmission (same Call-ID and CSeq): unchanged; lower: refused */
	assert_int_equal(do_reg(f, &q, T0 + 1000 * SEC, NULL, NULL), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);
	q.cseq--;
	assert_int_equal(do_reg(f, &q, T0 + 1000 * SEC, NULL, NULL), -ESTALE);
	q.cseq += 2;
	assert_int_equal(look(f, "2001", T0 + 1000 * SEC, c), 1);
	assert_true(c[0].registered == T0 + 999 * SEC);

	/* a second contact: now first; a refresh of the older one moves it
	 * to the front again (the rebuild: it was not first) */
	assert_int_equal(do_reg(f, &o, T0 + 1001 * SEC, NULL, NULL), 0);
	assert_int_equal(look(f, "2001", T0 + 1001 * SEC, c), 2);
	assert_uri(&c[0], "sip:soft@10.0.0.9");
	assert_int_equal(do_reg(f, &q, T0 + 1002 * SEC, out, &n), 0);
	assert_int_equal(n, 2);
	assert_uri(&out[0], "sip:2001@10.0.0.7");
	assert_uri(&out[1], "sip:soft@10.0.0.9");
	/* ... and its next refresh is in place, both still answered */
	q.cseq++;
	assert_int_equal(do_reg(f, &q, T0 + 1003 * SEC, out, &n), 0);
	assert_int_equal(n, 2);
	assert_uri(&out[0], "sip:2001@10.0.0.7");
	assert_true(out[0].registered == T0 + 1003 * SEC);
	flush(f, T0 + 1003 * SEC);

	/* a new source (NAT mapping changed): the binding is replaced */
	q.cseq++;
	q.host = 8;
	q.ch[0].expires_s = 3600;
	assert_int_equal(do_reg(f, &q, T0 + 1004 * SEC, NULL, NULL), 0);
	assert_int_equal(look(f, "2001", T0 + 1004 * SEC, c), 2);
	assert_int_equal(c[0].src.ip[3], 8);
	/* a new q-value: replaced too */
	q.cseq++;
	q.ch[0].q = 500;
	assert_int_equal(do_reg(f, &q, T0 + 1005 * SEC, NULL, NULL), 0);
	assert_int_equal(look(f, "2001", T0 + 1005 * SEC, c), 2);
	assert_int_equal(c[0].q, 500);

	/* the other contact expires: the next refresh drops it on the way */
	q.cseq++;
	assert_int_equal(do_reg(f, &q, T0 + 1700 * SEC, out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_EXPIRED), 1);

	/* expires 0 removes it */
	q.cseq++;
	q.ch[0].expires_s = 0;
	assert_int_equal(do_reg(f, &q, T0 + 1701 * SEC, out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(look(f, "2001", T0 + 1701 * SEC, c), 0);
	assert_int_equal(pk_location_in_use(f->loc), 0);
	flush(f, T0 + 1701 * SEC);
}

/*
 * Workers read the clock once a burst, so a refresh can carry a time
 * older than the one another worker just gave the AoR's next binding: the
 * refresh of the most recent binding must then not be written in place
 * (it would stay first while older), but rebuilt and sorted.
 */
static void test_refresh_older_clock(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact out[PK_LOC_MAX_CONTACTS];
	struct req y = { .user = "2001", .call_id = "y", .cseq = 1, .n = 1, .ch = { C("sip:y@10.0.0.8", 600) },
			 .host = 8 };
	struct req x = { .user = "2001", .call_id = "x", .cseq = 1, .n = 1, .ch = { C("sip:x@10.0.0.7", 600) },
			 .host = 7 };
	const char *why = NULL;
	unsigned n = 0;

	assert_int_equal(do_reg(f, &y, T0 + 102, NULL, NULL), 0);
	assert_int_equal(do_reg(f, &x, T0 + 103, NULL, NULL), 0); /* x first */
	x.cseq++;
	assert_int_equal(do_reg(f, &x, T0 + 101, out, &n), 0); /* a clock behind y's */
	assert_int_equal(n, 2);
	assert_uri(&out[0], "sip:y@10.0.0.8");
	assert_uri(&out[1], "sip:x@10.0.0.7");
	assert_int_equal(ctr(f, PK_LOC_CTR_REFRESHED), 1);
	assert_int_equal(pk_location_check(f->loc, &why), 0);
	flush(f, T0 + 103);
}

/*
 * Keys of every length the word-wise hash and compare treat differently
 * (1-3, 4-7, 8, 9-15, 16 and more bytes): each user is found under its own
 * name with the domain in any case (the hash and the compare of equal keys
 * agree), and a name one byte off at any place, one byte shorter, or one
 * byte longer finds nothing (mostly the hash's doing: the compare only
 * decides between keys of equal hash).
 */
static void test_key_lengths(void **state)
{
	static const char lab[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	static const char *const doms[] = { "a.b", "ex.t", "example", "examplet", "example.test",
					    "a-long-domain-name.example.test" };
	char user[64], dom[64], probe[64];

	for (uint32_t len = 1; len <= 40; len++) {
		const char *d = doms[len % 6];
		size_t dl = strlen(d);
		struct pk_loc_change ch = { .uri = S("sip:x@10.0.0.1"), .expires_s = 600, .q = -1 };
		struct pk_loc_register r = { .call_id_hash = len, .cseq = 1, .n = 1, .changes = &ch };
		unsigned n;

		for (uint32_t i = 0; i < len; i++)
			user[i] = lab[(i * 5 + len) % 36];
		r.user = pk_str_make(user, len);
		r.domain = pk_str_make(d, dl);
		assert_int_equal(pk_location_register(f->loc, 0, &r, T0, c, PK_LOC_MAX_CONTACTS, &n), 0);
		assert_int_equal(n, 1);
		for (size_t i = 0; i < dl; i++)
			dom[i] = (char)(d[i] >= 'a' && d[i] <= 'z' ? d[i] - 32 : d[i]);
		assert_int_equal(pk_location_lookup(f->loc, 0, pk_str_make(user, len), pk_str_make(dom, dl), T0, c,
						    PK_LOC_MAX_CONTACTS),
				 1);
		for (uint32_t i = 0; i < len; i++) {
			memcpy(probe, user, len);
			probe[i] = '#';
			assert_int_equal(pk_location_lookup(f->loc, 0, pk_str_make(probe, len), pk_str_make(d, dl), T0,
							    c, PK_LOC_MAX_CONTACTS),
					 0);
		}
		for (size_t i = 0; i < dl; i++) {
			memcpy(dom, d, dl);
			dom[i] = '#';
			assert_int_equal(pk_location_lookup(f->loc, 0, pk_str_make(user, len), pk_str_make(dom, dl), T0,
							    c, PK_LOC_MAX_CONTACTS),
					 0);
		}
		memcpy(probe, user, len);
		probe[len] = 'z';
		assert_int_equal(pk_location_lookup(f->loc, 0, pk_str_make(probe, len + 1), pk_str_make(d, dl), T0,
						    c, PK_LOC_MAX_CONTACTS),
				 0);
		if (len > 1)
			assert_int_equal(pk_location_lookup(f->loc, 0, pk_str_make(user, len - 1), pk_str_make(d, dl),
							    T0, c, PK_LOC_MAX_CONTACTS),
					 0);
	}
	/* all 40 still there, each once */
	assert_int_equal(pk_location_in_use(f->loc), 40);
	assert_int_equal(pk_location_aors(f->loc), 40);
	flush(f, T0);
}

static void test_most_recent_first(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(reg1(f, "2001", "sip:desk@10.0.0.1", 600, T0), 0);
	assert_int_equal(reg1(f, "2001", "sip:soft@10.0.0.2", 600, T0 + SEC), 0);
	assert_int_equal(reg1(f, "2001", "sip:cell@10.0.0.3", 600, T0 + 2 * SEC), 0);
	assert_int_equal(look(f, "2001", T0 + 3 * SEC, c), 3);
	assert_uri(&c[0], "sip:cell@10.0.0.3");
	assert_uri(&c[1], "sip:soft@10.0.0.2");
	assert_uri(&c[2], "sip:desk@10.0.0.1");
	/* the desk phone refreshes: first again (new Call-ID: a reboot) */
	{
		struct req q = { .user = "2001", .call_id = "reboot", .cseq = 1, .n = 1,
				 .ch = { C("sip:desk@10.0.0.1", 600) } };

		assert_int_equal(do_reg(f, &q, T0 + 4 * SEC, NULL, NULL), 0);
	}
	assert_int_equal(look(f, "2001", T0 + 5 * SEC, c), 3);
	assert_uri(&c[0], "sip:desk@10.0.0.1");
	assert_uri(&c[1], "sip:cell@10.0.0.3");
	/* a smaller out[] gets the most recent ones */
	assert_int_equal(pk_location_lookup(f->loc, 0, S("2001"), S(DOM), T0 + 5 * SEC, c, 1), 1);
	assert_uri(&c[0], "sip:desk@10.0.0.1");
	/* several contacts of one REGISTER keep their order */
	{
		struct req q = { .user = "3001", .call_id = "x", .cseq = 1, .n = 3,
				 .ch = { C("sip:a@h", 60), C("sip:b@h", 60), C("sip:c@h", 60) } };

		assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	}
	assert_int_equal(look(f, "3001", T0, c), 3);
	assert_uri(&c[0], "sip:a@h");
	assert_uri(&c[2], "sip:c@h");
}

static void test_remove(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 1, .n = 2,
			 .ch = { C("sip:a@10.0.0.1", 600), C("sip:b@10.0.0.2", 600) } };
	unsigned n;

	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	/* expires 0 removes one; the answer lists what is left */
	q.cseq = 2;
	q.n = 1;
	q.ch[0] = C("sip:a@10.0.0.1", 0);
	assert_int_equal(do_reg(f, &q, T0 + SEC, c, &n), 0);
	assert_int_equal(n, 1);
	assert_uri(&c[0], "sip:b@10.0.0.2");
	assert_int_equal(look(f, "2001", T0 + SEC, c), 1);
	/* removing an unknown contact changes nothing */
	q.cseq = 3;
	q.ch[0] = C("sip:zzz@10.0.0.9", 0);
	assert_int_equal(do_reg(f, &q, T0 + SEC, c, &n), 0);
	assert_int_equal(n, 1);
	/* the last one: the AoR is gone */
	q.cseq = 4;
	q.ch[0] = C("sip:b@10.0.0.2", 0);
	assert_int_equal(do_reg(f, &q, T0 + SEC, c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(look(f, "2001", T0 + SEC, c), 0);
	assert_int_equal(pk_location_in_use(f->loc), 0);
	assert_int_equal(pk_location_aors(f->loc), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REMOVED), 2);
	/* removal for an AoR never seen: nothing, no error */
	q.user = "9999";
	assert_int_equal(do_reg(f, &q, T0 + SEC, c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pk_location_aors(f->loc), 0);
}

static void test_cseq_order(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 5, .n = 1, .ch = { C("sip:a@10.0.0.1", 600) } };

	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	/* a late REGISTER of the same Call-ID with a lower CSeq: refused,
	 * even though it also adds another contact (all or nothing) */
	q.cseq = 4;
	q.n = 2;
	q.ch[0] = C("sip:a@10.0.0.1", 0);
	q.ch[1] = C("sip:new@10.0.0.2", 600);
	assert_int_equal(do_reg(f, &q, T0 + SEC, NULL, NULL), -ESTALE);
	assert_int_equal(look(f, "2001", T0 + SEC, c), 1);
	assert_uri(&c[0], "sip:a@10.0.0.1");
	assert_int_equal(ctr(f, PK_LOC_CTR_OUT_OF_ORDER), 1);
	/* the same CSeq again: a retransmission, the binding is left as it
	 * was (expiry not moved) */
	q.cseq = 5;
	q.n = 1;
	q.ch[0] = C("sip:a@10.0.0.1", 600);
	assert_int_equal(do_reg(f, &q, T0 + 10 * SEC, NULL, NULL), 0);
	assert_int_equal(look(f, "2001", T0 + 10 * SEC, c), 1);
	assert_true(c[0].expires == T0 + 600 * SEC);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);
	/* another Call-ID with a lower CSeq is a different client: applies */
	q.call_id = "other";
	q.cseq = 1;
	q.ch[0] = C("sip:a@10.0.0.1", 0);
	assert_int_equal(do_reg(f, &q, T0 + 10 * SEC, NULL, NULL), 0);
	assert_int_equal(look(f, "2001", T0 + 10 * SEC, c), 0);
}

static void test_remove_all(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS], st;
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 3, .n = 2,
			 .ch = { C("sip:a@10.0.0.1", 600), C("sip:b@10.0.0.2", 600) } };
	unsigned n;

	memset(&st, 0, sizeof(st));
	memcpy(st.uri, "sip:2001@gw", 11);
	st.uri_len = 11;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("2001"), S(DOM), &st, 1), 0);
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	assert_int_equal(reg1(f, "2001", "sip:c@10.0.0.3", 600, T0), 0);
	assert_int_equal(look(f, "2001", T0, c), 4);
	/* `*` with a lower CSeq of a binding's Call-ID: refused */
	q.remove_all = true;
	q.n = 0;
	q.cseq = 2;
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), -ESTALE);
	assert_int_equal(look(f, "2001", T0, c), 4);
	/* `*`: every registered binding goes; the static one stays */
	q.cseq = 4;
	assert_int_equal(do_reg(f, &q, T0, c, &n), 0);
	assert_int_equal(n, 1);
	assert_true(c[0].is_static);
	assert_int_equal(look(f, "2001", T0, c), 1);
	assert_uri(&c[0], "sip:2001@gw");
	assert_int_equal(ctr(f, PK_LOC_CTR_REMOVED), 3);
	/* remove_all with contacts is a caller bug */
	q.n = 1;
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), -EINVAL);
}

static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(reg1(f, "2001", "sip:a@10.0.0.1", 60, T0), 0);
	assert_int_equal(reg1(f, "2001", "sip:b@10.0.0.2", 120, T0), 0);
	assert_int_equal(reg1(f, "2002", "sip:c@10.0.0.3", 60, T0), 0);
	/* lazy: skipped by lookups as soon as they expire */
	assert_int_equal(look(f, "2001", T0 + 59 * SEC, c), 2);
	assert_int_equal(look(f, "2001", T0 + 60 * SEC, c), 1);
	assert_uri(&c[0], "sip:b@10.0.0.2");
	assert_int_equal(look(f, "2002", T0 + 60 * SEC, c), 0);
	assert_int_equal(pk_location_in_use(f->loc), 3);
	/* the sweep takes them out of the table */
	assert_int_equal(pk_location_sweep(f->loc, 0, T0 + 61 * SEC, UINT32_MAX), 2);
	assert_int_equal(pk_location_in_use(f->loc), 1);
	assert_int_equal(pk_location_aors(f->loc), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_EXPIRED), 2);
	flush(f, T0 + 61 * SEC);
	/* a write to an AoR drops its expired bindings too */
	assert_int_equal(reg1(f, "2001", "sip:d@10.0.0.4", 60, T0 + 130 * SEC), 0);
	assert_int_equal(look(f, "2001", T0 + 130 * SEC, c), 1);
	assert_uri(&c[0], "sip:d@10.0.0.4");
	assert_int_equal(pk_location_in_use(f->loc), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_EXPIRED), 3);
	/* a budgeted sweep covers the table over several calls */
	for (int i = 0; i < 40; i++) {
		char u[16];

		snprintf(u, sizeof(u), "u%d", i);
		assert_int_equal(reg1(f, u, "sip:x@10.0.0.1", 60, T0), 0);
	}
	{
		unsigned total = 0;

		for (int i = 0; i < 64; i++) /* 64 buckets, 4 per call: 4 rounds */
			total += pk_location_sweep(f->loc, 0, T0 + 200 * SEC, 4);
		assert_int_equal(total, 41);
	}
	assert_int_equal(pk_location_in_use(f->loc), 0);
}

static void test_static(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS], st[2];
	struct req q = { .user = "gw", .call_id = "cid", .cseq = 1, .n = 1 };

	memset(st, 0, sizeof(st));
	memcpy(st[0].uri, "sip:gw@192.0.2.20:5080", 22);
	st[0].uri_len = 22;
	assert_int_equal(pk_addr_parse(S("192.0.2.20:5080"), false, &st[0].src), 0);
	memcpy(st[1].uri, "sip:gw@gw2.example.test", 23);
	st[1].uri_len = 23;
	st[1].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 2), 0);
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 1), -EEXIST);

	/* found in configuration order, forever */
	assert_int_equal(look(f, "gw", UINT64_MAX - 1, c), 2);
	assert_uri(&c[0], "sip:gw@192.0.2.20:5080");
	assert_true(c[0].is_static);
	assert_true(c[0].expires == UINT64_MAX);
	assert_int_equal(c[0].src.port, 5080);
	assert_uri(&c[1], "sip:gw@gw2.example.test");
	assert_int_equal(c[1].transport, PK_TRANSPORT_TCP);
	assert_int_equal(pk_location_sweep(f->loc, 0, UINT64_MAX - 1, UINT32_MAX), 0);

	/* a REGISTER cannot change or remove a static contact */
	q.ch[0] = C("sip:gw@192.0.2.20:5080", 600);
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), -EPERM);
	q.ch[0] = C("sip:gw@192.0.2.20:5080", 0);
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), -EPERM);
	assert_int_equal(ctr(f, PK_LOC_CTR_STATIC_REFUSED), 2);
	/* but may add contacts of its own: registered ones first */
	q.ch[0] = C("sip:gw@10.9.9.9", 600);
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	assert_int_equal(look(f, "gw", T0, c), 3);
	assert_uri(&c[0], "sip:gw@10.9.9.9");
	assert_true(c[1].is_static && c[2].is_static);
	/* and they expire while the static ones stay */
	assert_int_equal(pk_location_sweep(f->loc, 0, T0 + 601 * SEC, UINT32_MAX), 1);
	assert_int_equal(look(f, "gw", T0 + 601 * SEC, c), 2);
	assert_int_equal(pk_location_in_use(f->loc), 2);
}

static void test_capacity_full(void **state)
{
	struct fx *f = *state; /* capacity 4 */
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "5000", .call_id = "cid", .cseq = 1, .n = 2,
			 .ch = { C("sip:a@10.0.0.1", 600), C("sip:b@10.0.0.2", 600) } };

	assert_int_equal(reg1(f, "1", "sip:1@h", 600, T0), 0);
	assert_int_equal(reg1(f, "2", "sip:2@h", 600, T0), 0);
	assert_int_equal(reg1(f, "3", "sip:3@h", 600, T0), 0);
	/* two new contacts, one free binding: refused as a whole */
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), -ENOSPC);
	assert_int_equal(look(f, "5000", T0, c), 0);
	assert_int_equal(reg1(f, "4", "sip:4@h", 600, T0), 0);
	assert_int_equal(reg1(f, "5", "sip:5@h", 600, T0), -ENOSPC);
	assert_int_equal(ctr(f, PK_LOC_CTR_FULL), 2);
	assert_int_equal(pk_location_in_use(f->loc), 4);
	/* refreshing an existing binding needs no room */
	{
		struct req r = { .user = "1", .call_id = "sip:1@h", .cseq = 2, .n = 1, .ch = { C("sip:1@h", 900) } };

		assert_int_equal(do_reg(f, &r, T0 + SEC, NULL, NULL), 0);
	}
	/* replacing one contact by another in one REGISTER fits too */
	{
		struct req r = { .user = "2", .call_id = "z", .cseq = 1, .n = 2,
				 .ch = { C("sip:2@h", 0), C("sip:2b@h", 600) } };

		assert_int_equal(do_reg(f, &r, T0 + SEC, NULL, NULL), 0);
		assert_int_equal(look(f, "2", T0 + SEC, c), 1);
		assert_uri(&c[0], "sip:2b@h");
	}
	/* once one expires and is swept, there is room again */
	assert_int_equal(pk_location_sweep(f->loc, 0, T0 + 700 * SEC, UINT32_MAX), 3);
	assert_int_equal(reg1(f, "5", "sip:5@h", 600, T0 + 700 * SEC), 0);
	/* static bindings count against the capacity */
	{
		struct pk_loc_contact st[4];

		memset(st, 0, sizeof(st));
		for (int i = 0; i < 4; i++) {
			st[i].uri_len = 8;
			memcpy(st[i].uri, "sip:gw@X", 8);
			st[i].uri[7] = (char)('a' + i);
		}
		assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 4), -ENOSPC);
		assert_int_equal(look(f, "gw", T0, c), 0);
	}
}

static void test_no_memory(void **state)
{
	struct fx *f = *state; /* capacity 4: few spare snapshots */
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 1, .n = 1, .ch = { C("sip:a@h", 600) } };
	int rc = 0;
	uint32_t i;

	/* Refreshes from a source that changes each time (a refresh from the
	 * same place is written in place: test_refresh_in_place) without a
	 * sweep: the replaced snapshots wait for RCU, until no spare one is
	 * left (transient: answered 503). */
	for (i = 0; i < 10000 && rc == 0; i++) {
		q.cseq++;
		q.host = (uint8_t)(7 + (i & 1));
		rc = do_reg(f, &q, T0, NULL, NULL);
	}
	assert_int_equal(rc, -ENOMEM);
	assert_true(i > 8);
	assert_int_equal(ctr(f, PK_LOC_CTR_NO_MEMORY), 1);
	/* the binding is intact, lookups unaffected */
	{
		struct pk_loc_contact c[2];

		assert_int_equal(look(f, "2001", T0, c), 1);
	}
	/* the sweep and a grace period give them back */
	flush(f, T0);
	q.cseq++;
	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
}

static void test_aor_full(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char uris[PK_LOC_MAX_CONTACTS + 1][32];

	/* 16 contacts, each registered a second after the previous */
	for (int i = 0; i <= PK_LOC_MAX_CONTACTS; i++)
		snprintf(uris[i], sizeof(uris[i]), "sip:c%d@10.0.0.%d", i, i + 1);
	for (int i = 0; i < PK_LOC_MAX_CONTACTS; i++)
		assert_int_equal(reg1(f, "2001", uris[i], 600, T0 + (uint64_t)i * SEC), 0);
	assert_int_equal(look(f, "2001", T0 + 20 * SEC, c), PK_LOC_MAX_CONTACTS);
	/* the 17th replaces the least recently registered one */
	assert_int_equal(reg1(f, "2001", uris[PK_LOC_MAX_CONTACTS], 600, T0 + 20 * SEC), 0);
	assert_int_equal(look(f, "2001", T0 + 21 * SEC, c), PK_LOC_MAX_CONTACTS);
	assert_uri(&c[0], uris[PK_LOC_MAX_CONTACTS]);
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 1], uris[1]);
	for (int i = 0; i < PK_LOC_MAX_CONTACTS; i++)
		assert_false(c[i].uri_len == strlen(uris[0]) && memcmp(c[i].uri, uris[0], c[i].uri_len) == 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_EVICTED), 1);
	assert_int_equal(pk_location_in_use(f->loc), PK_LOC_MAX_CONTACTS);
}

/*
 * The sweep finds an AoR with an expired binding and a live one while
 * every spare snapshot awaits its grace period (a burst of REGISTERs just
 * used them): it cannot rebuild the AoR now. Nothing is lost and nothing
 * is counted as a refused REGISTER (no_memory counts those only, so that
 * register_503 = full + no_memory); lookups skip the expired contact
 * meanwhile, and the sweep after the grace period drops it and gives its
 * memory back.
 */
static void test_sweep_no_snapshot(void **state)
{
	struct fx *f = *state; /* capacity 4: few spare snapshots */
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req two = { .user = "2002", .call_id = "two", .cseq = 1, .n = 2,
			   .ch = { C("sip:short@10.0.0.2", 60), C("sip:long@10.0.0.2", 3600) }, .host = 2 };
	struct req q = { .user = "2001", .call_id = "churn", .cseq = 1, .n = 1, .ch = { C("sip:b@10.0.0.1", 600) } };
	uint64_t no_mem;
	int rc = 0;

	assert_int_equal(do_reg(f, &two, T0, NULL, NULL), 0);
	assert_int_equal(reg1(f, "2001", "sip:a@10.0.0.1", 3600, T0), 0);
	/* add and remove a contact, no sweep: removals take a snapshot and
	 * no binding, so the snapshots run out first */
	for (unsigned i = 0; i < 10000 && rc == 0; i++) {
		q.cseq++;
		q.ch[0].expires_s = i % 2 ? 0 : 600;
		rc = do_reg(f, &q, T0, NULL, NULL);
	}
	assert_int_equal(rc, -ENOMEM);
	no_mem = ctr(f, PK_LOC_CTR_NO_MEMORY);
	assert_int_equal(no_mem, 1);
	assert_int_equal(look(f, "2002", T0 + 61 * SEC, c), 1);
	assert_uri(&c[0], "sip:long@10.0.0.2");

	/* the sweep cannot rebuild 2002 now: nothing expires, nothing lost */
	assert_int_equal(pk_location_sweep(f->loc, 0, T0 + 61 * SEC, UINT32_MAX), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_EXPIRED), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_NO_MEMORY), no_mem);
	assert_int_equal(look(f, "2002", T0 + 61 * SEC, c), 1);
	assert_uri(&c[0], "sip:long@10.0.0.2");
	assert_int_equal(look(f, "2001", T0 + 61 * SEC, c), 1 + (q.ch[0].expires_s == 0));
	/* the grace period passes; the next sweep drops it */
	pk_rcu_quiescent(f->rcu, 0);
	pk_rcu_reclaim(f->rcu);
	assert_int_equal(pk_location_sweep(f->loc, 0, T0 + 61 * SEC, UINT32_MAX), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_EXPIRED), 1);
	assert_int_equal(look(f, "2002", T0 + 61 * SEC, c), 1);
	assert_uri(&c[0], "sip:long@10.0.0.2");
	assert_int_equal(pk_location_in_use(f->loc), 2 + (q.ch[0].expires_s == 0));
	flush(f, T0 + 61 * SEC);
	/* and the REGISTER refused before goes through now */
	assert_int_equal(do_reg(f, &q, T0 + 61 * SEC, NULL, NULL), 0);
}

/*
 * An AoR at 16 bindings: a REGISTER that adds one replaces the least
 * recently registered binding the request does not name. Here the oldest
 * one is named by a copy of the REGISTER that made it (same Call-ID and
 * CSeq: left as it is), so the second oldest goes; one that adds eight
 * replaces the eight oldest, never the static ones.
 */
static void test_aor_full_eviction(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS], st[4];
	char uris[PK_LOC_MAX_CONTACTS + 9][32];
	struct req q = { .user = "2001", .cseq = 1, .n = 2 };
	unsigned n;

	for (int i = 0; i < PK_LOC_MAX_CONTACTS + 9; i++)
		snprintf(uris[i], sizeof(uris[i]), "sip:c%d@10.0.0.%d", i, i + 1);
	for (int i = 0; i < PK_LOC_MAX_CONTACTS; i++)
		assert_int_equal(reg1(f, "2001", uris[i], 600, T0 + (uint64_t)i * SEC), 0);
	q.call_id = uris[0]; /* reg1's Call-ID is the URI, CSeq 1 */
	q.ch[0] = C(uris[0], 600);
	q.ch[1] = C(uris[PK_LOC_MAX_CONTACTS], 600);
	assert_int_equal(do_reg(f, &q, T0 + 20 * SEC, c, &n), 0);
	assert_int_equal(n, PK_LOC_MAX_CONTACTS);
	assert_int_equal(look(f, "2001", T0 + 20 * SEC, c), PK_LOC_MAX_CONTACTS);
	assert_uri(&c[0], uris[PK_LOC_MAX_CONTACTS]);
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 1], uris[0]); /* kept, as it was */
	assert_true(c[PK_LOC_MAX_CONTACTS - 1].expires == T0 + 600 * SEC);
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 2], uris[2]); /* uris[1] went */
	assert_int_equal(ctr(f, PK_LOC_CTR_EVICTED), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);

	/* another AoR: 4 static contacts and 12 registered; 8 new ones
	 * replace the 8 least recent registered ones */
	memset(st, 0, sizeof(st));
	for (int i = 0; i < 4; i++) {
		st[i].uri_len = 8;
		memcpy(st[i].uri, "sip:gw@X", 8);
		st[i].uri[7] = (char)('a' + i);
	}
	assert_int_equal(pk_location_add_static(f->loc, 0, S("3001"), S(DOM), st, 4), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(reg1(f, "3001", uris[i], 600, T0 + (uint64_t)i * SEC), 0);
	{
		struct req r = { .user = "3001", .call_id = "eight", .cseq = 1, .n = 8 };

		for (int i = 0; i < 8; i++)
			r.ch[i] = C(uris[PK_LOC_MAX_CONTACTS + 1 + i], 600);
		assert_int_equal(do_reg(f, &r, T0 + 30 * SEC, NULL, NULL), 0);
	}
	assert_int_equal(look(f, "3001", T0 + 30 * SEC, c), PK_LOC_MAX_CONTACTS);
	for (int i = 0; i < 8; i++) /* the new ones first, in Contact order */
		assert_uri(&c[i], uris[PK_LOC_MAX_CONTACTS + 1 + i]);
	for (int i = 0; i < 4; i++) /* then the 4 most recent of the 12 */
		assert_uri(&c[8 + i], uris[11 - i]);
	for (int i = 0; i < 4; i++) /* the static ones, last */
		assert_true(c[12 + i].is_static && c[12 + i].uri[7] == 'a' + i);
	assert_int_equal(ctr(f, PK_LOC_CTR_EVICTED), 1 + 8);
	assert_int_equal(pk_location_in_use(f->loc), 2 * PK_LOC_MAX_CONTACTS);
	flush(f, T0 + 30 * SEC);
}

/*
 * A static binding added to an AoR that phones have already filled (a
 * binding added while workers run): it replaces the least recently
 * registered contacts, and comes last. A contact with an empty or too
 * long URI is refused.
 */
static void test_static_on_full_aor(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS], st[2];
	char uris[PK_LOC_MAX_CONTACTS][32];

	for (int i = 0; i < PK_LOC_MAX_CONTACTS; i++) {
		snprintf(uris[i], sizeof(uris[i]), "sip:c%d@10.0.0.%d", i, i + 1);
		assert_int_equal(reg1(f, "gw", uris[i], 600, T0 + (uint64_t)i * SEC), 0);
	}
	memset(st, 0, sizeof(st));
	memcpy(st[0].uri, "sip:gw@192.0.2.1", 16);
	st[0].uri_len = 16;
	memcpy(st[1].uri, "sip:gw@192.0.2.2", 16);
	st[1].uri_len = 0;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 2), -EINVAL);
	st[1].uri_len = PK_LOC_URI_MAX + 1;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 2), -EINVAL);
	assert_int_equal(look(f, "gw", T0 + 20 * SEC, c), PK_LOC_MAX_CONTACTS);
	st[1].uri_len = 16;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), st, 2), 0);
	assert_int_equal(look(f, "gw", T0 + 20 * SEC, c), PK_LOC_MAX_CONTACTS);
	assert_uri(&c[0], uris[PK_LOC_MAX_CONTACTS - 1]);
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 3], uris[2]); /* uris[0], uris[1] went */
	assert_true(c[PK_LOC_MAX_CONTACTS - 2].is_static);
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 2], "sip:gw@192.0.2.1");
	assert_uri(&c[PK_LOC_MAX_CONTACTS - 1], "sip:gw@192.0.2.2");
	assert_int_equal(ctr(f, PK_LOC_CTR_EVICTED), 2);
	assert_int_equal(pk_location_in_use(f->loc), PK_LOC_MAX_CONTACTS);
	flush(f, T0 + 20 * SEC);
}

/*
 * `Contact: *` whose Call-ID and CSeq are those of a binding (the REGISTER
 * that made it, sent again): that binding is left as it is (as a
 * retransmission), the others go.
 */
static void test_remove_all_same_cseq(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 7, .n = 1, .ch = { C("sip:a@10.0.0.1", 600) } };
	unsigned n;

	assert_int_equal(do_reg(f, &q, T0, NULL, NULL), 0);
	assert_int_equal(reg1(f, "2001", "sip:b@10.0.0.2", 600, T0 + SEC), 0);
	q.remove_all = true;
	q.n = 0;
	assert_int_equal(do_reg(f, &q, T0 + 2 * SEC, c, &n), 0);
	assert_int_equal(n, 1);
	assert_uri(&c[0], "sip:a@10.0.0.1");
	assert_true(c[0].expires == T0 + 600 * SEC);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REMOVED), 1);
	/* the next CSeq removes it */
	q.cseq++;
	assert_int_equal(do_reg(f, &q, T0 + 3 * SEC, c, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(look(f, "2001", T0 + 3 * SEC, c), 0);
	assert_int_equal(pk_location_aors(f->loc), 0);
}

/* What the control socket's `registrations` lists. */
struct listing {
	unsigned n, stop_after;
	char line[8][96];
};

static int list_fn(struct pk_str user, struct pk_str domain, const struct pk_loc_contact *c, void *arg)
{
	struct listing *l = arg;

	if (l->n < 8)
		snprintf(l->line[l->n], sizeof(l->line[0]), "%.*s@%.*s %.*s", (int)user.len, user.p, (int)domain.len,
			 domain.p, (int)c->uri_len, c->uri);
	l->n++;
	return l->stop_after != 0 && l->n >= l->stop_after;
}

static bool listed(const struct listing *l, const char *line)
{
	for (unsigned i = 0; i < l->n && i < 8; i++)
		if (strcmp(l->line[i], line) == 0)
			return true;
	return false;
}

/*
 * The listing: every live contact (static ones too), or one user's in any
 * domain, or one AoR's with the domain in any case; expired contacts are
 * not listed before the sweep drops them; the callback can stop it.
 */
static void test_foreach(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact st;
	struct listing l;

	memset(&st, 0, sizeof(st));
	memcpy(st.uri, "sip:gw@gw", 9);
	st.uri_len = 9;
	assert_int_equal(pk_location_add_static(f->loc, 0, S("gw"), S(DOM), &st, 1), 0);
	assert_int_equal(reg1(f, "2001", "sip:a@10.0.0.1", 60, T0), 0);
	assert_int_equal(reg1(f, "2001", "sip:b@10.0.0.2", 600, T0), 0);
	{
		struct pk_loc_change ch = C("sip:o@10.0.0.3", 600);
		struct pk_loc_register r = { .user = S("2001"), .domain = S("other.test"), .call_id_hash = 1,
					     .cseq = 1, .n = 1, .changes = &ch };
		struct pk_loc_contact out[PK_LOC_MAX_CONTACTS];
		unsigned n;

		assert_int_equal(pk_location_register(f->loc, 0, &r, T0, out, PK_LOC_MAX_CONTACTS, &n), 0);
	}

	memset(&l, 0, sizeof(l));
	assert_int_equal(pk_location_foreach(f->loc, PK_STR_NULL, PK_STR_NULL, T0, list_fn, &l), 4);
	assert_int_equal(l.n, 4);
	assert_true(listed(&l, "gw@example.test sip:gw@gw"));
	assert_true(listed(&l, "2001@example.test sip:a@10.0.0.1"));
	assert_true(listed(&l, "2001@other.test sip:o@10.0.0.3"));
	/* sip:a has expired: not listed, though not swept yet */
	memset(&l, 0, sizeof(l));
	assert_int_equal(pk_location_foreach(f->loc, S("2001"), PK_STR_NULL, T0 + 60 * SEC, list_fn, &l), 2);
	assert_true(listed(&l, "2001@example.test sip:b@10.0.0.2"));
	assert_true(listed(&l, "2001@other.test sip:o@10.0.0.3"));
	assert_int_equal(pk_location_in_use(f->loc), 4);
	/* one AoR, the domain in any case */
	memset(&l, 0, sizeof(l));
	assert_int_equal(pk_location_foreach(f->loc, S("2001"), S("Example.TEST"), T0 + 60 * SEC, list_fn, &l), 1);
	assert_string_equal(l.line[0], "2001@example.test sip:b@10.0.0.2");
	memset(&l, 0, sizeof(l));
	assert_int_equal(pk_location_foreach(f->loc, S("2001"), S("example.test"), T0, list_fn, &l), 2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(pk_location_foreach(f->loc, S("2002"), S("example.test"), T0, list_fn, &l), 0);
	/* stopped by the callback after the first */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(pk_location_foreach(f->loc, PK_STR_NULL, PK_STR_NULL, T0, list_fn, &l), 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(pk_location_foreach(f->loc, S("2001"), S(DOM), T0, list_fn, &l), 1);
	flush(f, T0 + 60 * SEC);
}

static void test_bad_args(void **state)
{
	struct fx *f = *state;
	char longuri[PK_LOC_URI_MAX + 2];
	struct pk_loc_contact c[2];

	memset(longuri, 'a', sizeof(longuri) - 1);
	longuri[sizeof(longuri) - 1] = '\0';
	assert_int_equal(reg1(f, "2001", longuri, 600, T0), -EINVAL);
	longuri[PK_LOC_URI_MAX] = '\0'; /* exactly the maximum: fine */
	assert_int_equal(reg1(f, "2001", longuri, 600, T0), 0);
	assert_int_equal(look(f, "2001", T0, c), 1);
	assert_int_equal(c[0].uri_len, PK_LOC_URI_MAX);
	assert_int_equal(reg1(f, "", "sip:x@h", 600, T0), -EINVAL);
	assert_int_equal(pk_location_lookup(f->loc, 0, S(""), S(DOM), T0, c, 2), 0);
	assert_null(pk_location_create(0, 1, f->rcu));
	assert_null(pk_location_create(1u << 25, 1, f->rcu));
	assert_null(pk_location_create(16, 0, f->rcu));
}

/* ---- concurrency: writers, readers and the sweep at once ---- */

#define ST_USERS 8
#define ST_CONTACTS 6
#define ST_WRITERS 2
#define ST_READERS 2
#define ST_ITER 100000
#define ST_TICK (SEC / 10) /* the clock advances 100 ms per REGISTER */

struct stress {
	struct pk_rcu *rcu;
	struct pk_location *loc;
	_Atomic uint32_t version;     /* a unique CSeq per REGISTER */
	_Atomic uint64_t clock;	      /* monotonic time, advanced by the writers */
	_Atomic unsigned writers_left; /* the control thread and readers stop at 0 */
	_Atomic uint64_t hits, contacts_seen;
	_Atomic int bad; /* first broken invariant, 0 if none */
};

struct stress_thread {
	struct stress *s;
	unsigned tid;
	pthread_t th;
};

/* Every field of a binding is derived from its CSeq: a contact copied
 * while a writer changed it would mix two of them. One REGISTER in four
 * asks for 1 s: ten REGISTERs later it has expired, unless refreshed. */
static uint64_t st_mix(uint32_t v)
{
	uint64_t x = v * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

static uint32_t st_expires(uint32_t v)
{
	return v % 4 == 0 ? 1 : 3600;
}

static void st_uri(char *buf, size_t cap, unsigned user, unsigned k)
{
	snprintf(buf, cap, "sip:u%u-c%u@192.0.2.%u:%u;transport=udp", user, k, user, 5060 + k);
}

static void st_bad(struct stress *s, int why)
{
	int z = 0;

	atomic_compare_exchange_strong(&s->bad, &z, why);
}

static void *st_writer(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	unsigned seed = t->tid * 7919 + 1;

	for (int i = 0; i < ST_ITER; i++) {
		char user[8], uri[2][64];
		struct pk_loc_change ch[2];
		struct pk_loc_contact out[PK_LOC_MAX_CONTACTS];
		struct pk_loc_register r;
		unsigned u = (unsigned)rand_r(&seed) % ST_USERS, op = (unsigned)rand_r(&seed) % 100, n;
		/* Relaxed: only uniqueness is needed. */
		uint32_t v = atomic_fetch_add_explicit(&s->version, 1, memory_order_relaxed) + 1;
		/* Relaxed: times only need to increase. */
		uint64_t now = atomic_fetch_add_explicit(&s->clock, ST_TICK, memory_order_relaxed);
		int rc;

		memset(&r, 0, sizeof(r));
		r.user = pk_str_make(user, (size_t)snprintf(user, sizeof(user), "u%u", u));
		r.domain = S(DOM);
		r.call_id_hash = st_mix(v);
		r.cseq = v;
		r.transport = PK_TRANSPORT_UDP;
		r.conn = v * 7ull + 1;
		r.src.family = AF_INET;
		r.src.port = (uint16_t)v;
		for (unsigned k = 0; k < 2; k++) {
			st_uri(uri[k], sizeof(uri[k]), u, (unsigned)rand_r(&seed) % ST_CONTACTS);
			ch[k] = (struct pk_loc_change){ .uri = S(uri[k]), .expires_s = st_expires(v),
							.q = (int16_t)(v % 1001) };
		}
		if (op < 60) { /* register or refresh one or two */
			r.n = 1 + (op & 1);
		} else if (op < 92) { /* remove one */
			r.n = 1;
			ch[0].expires_s = 0;
		} else { /* remove all */
			r.remove_all = true;
		}
		r.changes = ch;
		/* -ENOMEM: what the writers replaced awaits the sweep and a
		 * grace period; a phone told 503 retries later, so does this
		 * writer (giving the control thread the CPU). */
		for (int tries = 0; (rc = pk_location_register(s->loc, t->tid, &r, now, out, PK_LOC_MAX_CONTACTS,
							       &n)) == -ENOMEM && tries < 100000;
		     tries++)
			sched_yield();
		if (rc != 0)
			st_bad(s, 1000 - rc);
	}
	/* Release: pairs with the acquire loads of the other threads (only to
	 * end their loops). */
	atomic_fetch_sub_explicit(&s->writers_left, 1, memory_order_release);
	return NULL;
}

static int st_check(const struct pk_loc_contact *c, unsigned n, unsigned user, uint64_t now)
{
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "sip:u%u-c", user);

	if (n > PK_LOC_MAX_CONTACTS)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		char want[64];
		unsigned k;

		if (c[i].uri_len <= (unsigned)plen || memcmp(c[i].uri, prefix, (size_t)plen) != 0)
			return 2; /* not this AoR's */
		k = (unsigned)(c[i].uri[plen] - '0');
		if (k >= ST_CONTACTS)
			return 3;
		st_uri(want, sizeof(want), user, k);
		if (c[i].uri_len != strlen(want) || memcmp(c[i].uri, want, c[i].uri_len) != 0)
			return 3; /* torn URI */
		if (c[i].src.port != (uint16_t)c[i].cseq || c[i].conn != c[i].cseq * 7ull + 1 ||
		    c[i].q != (int16_t)(c[i].cseq % 1001) || c[i].call_id_hash != st_mix(c[i].cseq) ||
		    c[i].expires != c[i].registered + st_expires(c[i].cseq) * SEC || c[i].is_static)
			return 4; /* fields of two REGISTERs */
		if (c[i].expires <= now)
			return 5; /* expired, but returned */
		if (i > 0 && c[i].registered > c[i - 1].registered)
			return 6; /* not most recent first */
		for (unsigned j = 0; j < i; j++)
			if (c[j].uri_len == c[i].uri_len && memcmp(c[j].uri, c[i].uri, c[i].uri_len) == 0)
				return 7; /* the same contact twice */
	}
	return 0;
}

static void *st_reader(void *arg)
{
	struct stress_thread *t = arg;
	struct stress *s = t->s;
	unsigned seed = t->tid * 104729 + 3;
	uint64_t hits = 0, seen = 0;

	pk_rcu_reader_register(s->rcu, t->tid);
	/* Acquire: pairs with the writers' release decrements. */
	while (atomic_load_explicit(&s->writers_left, memory_order_acquire) > 0) {
		struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
		char user[8];
		unsigned u = (unsigned)rand_r(&seed) % ST_USERS, n;
		/* Relaxed: any recent time will do. */
		uint64_t now = atomic_load_explicit(&s->clock, memory_order_relaxed);
		struct pk_str us = pk_str_make(user, (size_t)snprintf(user, sizeof(user), "u%u", u));
		int bad;

		n = pk_location_lookup(s->loc, t->tid, us, S(DOM), now, c, PK_LOC_MAX_CONTACTS);
		pk_rcu_quiescent(s->rcu, t->tid);
		bad = st_check(c, n, u, now);
		if (bad != 0)
			st_bad(s, bad);
		hits += n > 0;
		seen += n;
	}
	pk_rcu_reader_unregister(s->rcu, t->tid);
	atomic_fetch_add(&s->hits, hits);
	atomic_fetch_add(&s->contacts_seen, seen);
	return NULL;
}

/* ---- refreshes in place while readers copy ---- */

struct inplace {
	struct pk_location *loc;
	struct pk_rcu *rcu;
	_Atomic int done;
	_Atomic int bad;
	_Atomic uint64_t reads;
};

struct inplace_reader {
	struct inplace *s;
	unsigned tid;
};

static void *inplace_reader(void *arg)
{
	struct inplace_reader *r = arg;
	struct inplace *s = r->s;
	uint64_t reads = 0;

	pk_rcu_reader_register(s->rcu, r->tid);
	/* Acquire: pairs with the writer's release store of done. */
	while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
		struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
		unsigned n = pk_location_lookup(s->loc, r->tid, S("2001"), S(DOM), T0, c, PK_LOC_MAX_CONTACTS);

		pk_rcu_quiescent(s->rcu, r->tid);
		/* the immutable fields as registered; the refresh fields each
		 * one a refresh wrote */
		if (n != 1 || c[0].uri_len != 17 || memcmp(c[0].uri, "sip:2001@10.0.0.7", 17) != 0 ||
		    c[0].src.ip[3] != 7 || c[0].listener != 1 || c[0].q != -1 || c[0].cseq < 1 ||
		    c[0].expires < T0 + 60 * SEC || c[0].registered < T0 || c[0].is_static)
			atomic_store(&s->bad, 1);
		reads++;
	}
	pk_rcu_reader_unregister(s->rcu, r->tid);
	atomic_fetch_add(&s->reads, reads);
	return NULL;
}

/*
 * One writer refreshing a binding in place as fast as it can while two
 * readers copy it: the readers always find it, with the fields that never
 * change intact, and (under ThreadSanitizer, suite stress) no data race:
 * the refresh fields are stored and loaded atomically.
 */
static void test_concurrent_refresh_in_place(void **state)
{
	struct inplace s;
	struct inplace_reader rd[2];
	pthread_t th[2];
	struct req q = { .user = "2001", .call_id = "cid", .cseq = 1, .n = 1, .ch = { C("sip:2001@10.0.0.7", 60) },
			 .host = 7 };
	struct fx f;
	const char *why = NULL;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.rcu = pk_rcu_create(4);
	assert_non_null(s.rcu);
	assert_int_equal(pk_rcu_reader_register(s.rcu, 0), 0);
	s.loc = pk_location_create(64, 4, s.rcu);
	assert_non_null(s.loc);
	f.rcu = s.rcu;
	f.loc = s.loc;
	assert_int_equal(do_reg(&f, &q, T0, NULL, NULL), 0);
	for (unsigned i = 0; i < 2; i++) {
		rd[i] = (struct inplace_reader){ .s = &s, .tid = 1 + i };
		assert_int_equal(pthread_create(&th[i], NULL, inplace_reader, &rd[i]), 0);
	}
	for (unsigned i = 0; i < 200000; i++) {
		q.cseq++;
		q.ch[0].expires_s = 60 + i % 7;
		if (do_reg(&f, &q, T0 + i * 1000ull, NULL, NULL) != 0)
			atomic_store(&s.bad, 2);
		pk_rcu_quiescent(s.rcu, 0);
	}
	/* Release: pairs with the readers' acquire loads. */
	atomic_store_explicit(&s.done, 1, memory_order_release);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&s.bad), 0);
	assert_true(atomic_load(&s.reads) > 0);
	assert_int_equal(ctr(&f, PK_LOC_CTR_REFRESHED), 200000);
	assert_int_equal(ctr(&f, PK_LOC_CTR_RETIRED), 0);
	assert_int_equal(pk_location_check(s.loc, &why), 0);
	pk_rcu_reader_unregister(s.rcu, 0);
	pk_location_destroy(s.loc);
	pk_rcu_destroy(s.rcu);
}

static void test_concurrent(void **state)
{
	enum { N = ST_WRITERS + ST_READERS + 1 };
	struct stress s;
	struct stress_thread t[N - 1];
	unsigned ctl = N - 1, expired = 0;
	uint64_t v[PK_LOC_CTR_COUNT];
	const char *why = NULL;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.rcu = pk_rcu_create(N);
	assert_non_null(s.rcu);
	/* Roomy: a full table is not what this test is about, and the spare
	 * objects (1/8 of the capacity) absorb what the writers retire
	 * between two sweeps even when they hammer the table. */
	s.loc = pk_location_create(4096, N, s.rcu);
	assert_non_null(s.loc);
	atomic_init(&s.clock, T0);
	atomic_init(&s.writers_left, ST_WRITERS);
	assert_int_equal(pk_rcu_reader_register(s.rcu, ctl), 0);

	for (unsigned i = 0; i < N - 1; i++) {
		t[i] = (struct stress_thread){ .s = &s, .tid = i };
		assert_int_equal(pthread_create(&t[i].th, NULL, i < ST_WRITERS ? st_writer : st_reader, &t[i]), 0);
	}
	/* This thread is the control thread: sweep and reclaim while the
	 * writers run (yielding between rounds only to pace itself). */
	/* Acquire: pairs with the writers' release decrements. */
	while (atomic_load_explicit(&s.writers_left, memory_order_acquire) > 0) {
		/* Relaxed: as in the readers. */
		expired += pk_location_sweep(s.loc, ctl, atomic_load_explicit(&s.clock, memory_order_relaxed), 64);
		pk_rcu_quiescent(s.rcu, ctl);
		pk_rcu_reclaim(s.rcu);
		sched_yield();
	}
	for (unsigned i = 0; i < N - 1; i++)
		pthread_join(t[i].th, NULL);

	if (atomic_load(&s.bad) > 1000)
		fail_msg("a writer got error %d", 1000 - atomic_load(&s.bad));
	if (atomic_load(&s.bad) != 0)
		fail_msg("a reader saw a bad contact list: invariant %d of st_check", atomic_load(&s.bad));
	assert_true(atomic_load(&s.hits) > 0);

	pk_location_sweep(s.loc, ctl, T0, UINT32_MAX);
	pk_rcu_reader_unregister(s.rcu, ctl);
	pk_rcu_synchronize(s.rcu);
	pk_rcu_reclaim(s.rcu);
	if (pk_location_check(s.loc, &why) != 0)
		fail_msg("location check: %s", why);
	/* what is in the table is what the events say */
	pk_location_stats(s.loc, v);
	assert_int_equal(pk_location_in_use(s.loc), v[PK_LOC_CTR_REGISTERED] - v[PK_LOC_CTR_REMOVED] -
							    v[PK_LOC_CTR_EXPIRED] - v[PK_LOC_CTR_EVICTED]);
	print_message("concurrent: %llu lookups (%llu hits, %llu contacts); %llu registered, %llu refreshed, "
		      "%llu removed, %llu expired (%u by the sweep), %llu evicted, %llu no_memory\n",
		      (unsigned long long)v[PK_LOC_CTR_LOOKUPS], (unsigned long long)atomic_load(&s.hits),
		      (unsigned long long)atomic_load(&s.contacts_seen),
		      (unsigned long long)v[PK_LOC_CTR_REGISTERED], (unsigned long long)v[PK_LOC_CTR_REFRESHED],
		      (unsigned long long)v[PK_LOC_CTR_REMOVED], (unsigned long long)v[PK_LOC_CTR_EXPIRED], expired,
		      (unsigned long long)v[PK_LOC_CTR_EVICTED], (unsigned long long)v[PK_LOC_CTR_NO_MEMORY]);
	assert_true(v[PK_LOC_CTR_REFRESHED] > 0 && v[PK_LOC_CTR_REMOVED] > 0 && v[PK_LOC_CTR_EXPIRED] > 0);
	pk_location_destroy(s.loc);
	pk_rcu_destroy(s.rcu);
}

/* The word helpers of common.h that the table hashes and compares with
 * (and the group index, the registrar, URIs): pk_mem_eq16 answers as
 * memcmp, pk_words16's words are equal exactly when the texts are,
 * pk_has_byte8 as memchr, pk_put_u64 writes what printf writes, over
 * generated texts of few letters (so that equal ones are common). */
static void test_word_helpers(void **state)
{
	uint64_t r = 0x9e3779b97f4a7c15ull;
	char x[24], y[24], a[24], b[24];

	(void)state;
	for (int it = 0; it < 200000; it++) {
		uint32_t n, k;
		uint64_t wa, wb, va, vb, v;
		unsigned char c;
		bool eq;
		int m;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		n = (uint32_t)(r % 17);
		k = 1 + (uint32_t)(r >> 8) % 3;
		for (int i = 0; i < 24; i++) {
			x[i] = (char)('p' + (r >> (i + 16)) % k);
			y[i] = (r >> (i + 40)) % 4 ? x[i] : (char)('p' + (r >> i) % k);
		}
		eq = memcmp(x, y, n) == 0;
		if (n >= 4)
			assert_int_equal(pk_mem_eq16(x, y, n), eq);
		pk_words16(x, n, &wa, &wb);
		pk_words16(y, n, &va, &vb);
		assert_int_equal(wa == va && wb == vb, eq);
		c = (unsigned char)('p' + (r >> 3) % 4);
		assert_int_equal(pk_has_byte8(pk_load8(x), c), memchr(x, c, 8) != NULL);
		assert_int_equal(pk_has_byte8(pk_load8(x) | 0x2020202020202020ull, 'q'),
				 memchr(x, 'q', 8) != NULL || memchr(x, 'Q', 8) != NULL);
		v = r >> (r % 64);
		m = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
		assert_int_equal(pk_put_u64(a, v) - a, m);
		assert_memory_equal(a, b, (size_t)m);
	}
	assert_int_equal(pk_put_u64(a, UINT64_MAX) - a, 20);
	assert_memory_equal(a, "18446744073709551615", 20);
	assert_int_equal(pk_put_u64(a, 4294967296ull) - a, 10);
	assert_memory_equal(a, "4294967296", 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_older_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_lengths, setup, teardown),
		cmocka_unit_test(test_concurrent_refresh_in_place),
		cmocka_unit_test_setup_teardown(test_most_recent_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cseq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_full, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_no_memory, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_aor_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_no_snapshot, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_aor_full_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_on_full_aor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_all_same_cseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_word_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
