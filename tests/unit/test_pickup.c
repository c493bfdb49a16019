/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of Group Call Pickup on the proxy path
 * (dataplane/pickup/pickup.c, docs/sip-behaviour.md §4-6, DESIGN.md §1-2),
 * through the real worker, handler table, group index, ringing-call table
 * and location table, with a recording I/O queue (proxy_fixture.h).
 *
 * Groups (proxy_fixture.h): *801 = 2001, 2002, 2003 (ring + pickup);
 * 7002 = 3001 (both), 3002 (pickup only), 2004 (ring only). The callee's
 * phones are registered; callers and pickers send from their own
 * addresses. What is checked is what the caller's phone receives: the
 * pickup INVITE's Request-URI (the caller's Contact), Route set, the exact
 * Replaces text (to-tag = the caller's own From-tag, from-tag = the callee's
 * To-tag), Require: replaces, where it is sent; the answers a picker gets
 * (403, 480 with its Warning); that a retransmission reaches the same caller
 * with the same bytes; how the caller's answer settles the claim (200, 481,
 * 486, 420, 603, timeout); the picker's CANCEL before and after the
 * caller's own CANCEL and after the caller's 200; and the CANCEL that
 * reaches the callee's phone with Reason cause=200 after a pickup and
 * without it otherwise.
 */
#include <ctype.h>

#include "proxy_fixture.h"

#define CALLER "192.0.2.10:5070"
#define CALLER2 "192.0.2.11:5070"
#define PICKER "192.0.2.30:5080"
#define PICKER2 "192.0.2.31:5080"

static struct fx *setup(void)
{
	struct fx *f = fx_new();

	fx_register(f, "2001", "sip:2001@192.0.2.21:5062", "192.0.2.21:5062", PK_TRANSPORT_UDP, 0);
	fx_register(f, "2002", "sip:2002@192.0.2.22:5062", "192.0.2.22:5062", PK_TRANSPORT_UDP, 0);
	fx_register(f, "2004", "sip:2004@192.0.2.24:5062", "192.0.2.24:5062", PK_TRANSPORT_UDP, 0);
	return f;
}

/* A call from `from` (user@example.test at src) to callee, optionally
 * with Record-Route lines (rr: full lines with "\n"), made RINGING by a 180
 * with To-tag totag unless totag is NULL. Returns the index of the INVITE
 * as forwarded to the callee. */
static unsigned call(struct fx *f, const char *from, const char *src, const char *callee, const char *callid,
		     const char *ftag, const char *rr, const char *totag)
{
	char inv[2048], resp[4096];
	unsigned idx;

	snprintf(inv, sizeof(inv),
		 "INVITE sip:%s@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "%s"
		 "From: <sip:%s@example.test>;tag=%s\n"
		 "To: <sip:%s@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 1 INVITE\n"
		 "Contact: <sip:%s@%s>\n",
		 callee, src, callid, rr ? rr : "", from, ftag, callee, callid, from, src);
	assert_int_equal(fx_rx(f, inv, src), 1);
	idx = fx_nsent(f) - 1;
	assert_non_null(strstr(fx_line(fx_last(f), "Via: "), ";pk=t"));
	if (totag != NULL) {
		fx_response(&f->io.q.sent[idx], 180, "Ringing", totag, NULL, resp, sizeof(resp));
		assert_int_equal(fx_rx(f, resp, "192.0.2.22:5062"), 1);
		f->now += FX_SEC;
	}
	return idx;
}

/* The picker `user` dials `dialled`. Returns how many messages went out. */
static unsigned pickup(struct fx *f, const char *user, const char *src, const char *dialled, const char *callid,
		       const char *extra)
{
	char inv[2048];

	snprintf(inv, sizeof(inv),
		 "INVITE sip:%s@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-p-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "From: \"Picker\" <sip:%s@example.test>;tag=fp-%s\n"
		 "To: <sip:%s@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 7 INVITE\n"
		 "Contact: <sip:%s@%s>\n"
		 "%s",
		 dialled, src, callid, user, callid, dialled, callid, user, src, extra ? extra : "");
	return fx_rx_on(f, inv, "v=0\r\n", src, 0, PK_IO_CONN_NONE);
}

static int call_state(struct fx *f, const char *callid, const char *ftag)
{
	struct pk_calltab_call c;

	if (pk_calltab_find(f->eng.calltab, FX_TID_WORKER, pk_str_make(callid, strlen(callid)),
			    pk_str_make(ftag, strlen(ftag)), 0, &c) != 0)
		return -1;
	return (int)c.state;
}

static void test_pickup_by_group_number(void **state)
{
	struct fx *f = setup();
	char first[8192], resp[4096];
	const struct fx_sent *s;
	const struct pk_sip_msg *m;
	uint32_t first_len;
	unsigned inv;

	(void)state;
	inv = call(f, "alice", CALLER, "2002", "c1@a", "fa", NULL, "tb");
	assert_int_equal(call_state(f, "c1@a", "fa"), PK_CALLTAB_RINGING);

	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pk1", NULL), 1);
	s = fx_last(f);
	/* to the caller, where its INVITE came from; Request-URI = its Contact */
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	/* RFC 3891 §3: to-tag = the caller's From-tag, from-tag = the callee's To-tag */
	assert_true(fx_has_line(s, "Replaces: c1@a;to-tag=fa;from-tag=tb;early-only"));
	assert_true(fx_has_line(s, "Require: replaces"));
	/* the picker's dialog: From, To, Call-ID, CSeq, Contact, body kept */
	assert_true(fx_has_line(s, "From: \"Picker\" <sip:2003@example.test>;tag=fp-pk1"));
	assert_true(fx_has_line(s, "To: <sip:*801@example.test>"));
	assert_true(fx_has_line(s, "Call-ID: pk1"));
	assert_true(fx_has_line(s, "CSeq: 7 INVITE"));
	assert_true(fx_has_line(s, "Contact: <sip:2003@192.0.2.30:5080>"));
	assert_true(fx_has_line(s, "Max-Forwards: 69"));
	assert_int_equal(fx_count_lines(s, "Route:"), 0);
	assert_memory_equal(s->data + s->len - 5, "v=0\r\n", 5);
	/* our Via on top, marked as a pickup, then the picker's */
	m = fx_scan(f, s);
	assert_int_equal(m->nvia, 2);
	assert_memory_equal(m->via[0].branch.p, "z9hG4bKpk", 9);
	assert_non_null(strstr(fx_line(s, "Via: "), ";rport;pk=p;pkc="));
	{
		/* pkc ends the Via: the call's key hash, 16 digits, nothing after */
		char want[64];

		snprintf(want, sizeof(want), ";rport;pk=p;pkc=%016llx",
			 (unsigned long long)pk_calltab_key_hash(PK_STR_LIT("c1@a"), PK_STR_LIT("fa")));
		assert_string_equal(strstr(fx_line(s, "Via: "), ";rport;"), want);
	}
	assert_int_equal(call_state(f, "c1@a", "fa"), PK_CALLTAB_CLAIMED);
	first_len = s->len;
	memcpy(first, s->data, first_len);

	/* a retransmission: the same caller, byte for byte */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pk1", NULL), 1);
	assert_int_equal(fx_last(f)->len, first_len);
	assert_memory_equal(fx_last(f)->data, first, first_len);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_RETRANS], 1);

	/* the caller accepts: 200 goes to the picker, the call is picked up */
	fx_response(fx_last(f), 200, "OK", "ta2", "Contact: <sip:alice@192.0.2.10:5070>\n", resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 200 OK\r\n", 16);
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(fx_count_lines(s, "Via:"), 1);
	assert_int_equal(call_state(f, "c1@a", "fa"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);

	/* the caller cancels its original INVITE: the callee's phone gets it
	 * with Reason cause=200, on the INVITE's branch */
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-c1@a;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: c1@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "CANCEL sip:2002@192.0.2.22:5062 SIP/2.0\r\n", 41);
	assert_true(fx_has_line(s, "Reason: SIP;cause=200;text=\"Call completed elsewhere\""));
	{
		char a[128], b[128];

		snprintf(a, sizeof(a), "%s", fx_line(&f->io.q.sent[inv], "Via: "));
		snprintf(b, sizeof(b), "%s", fx_line(s, "Via: "));
		/* same branch (the INVITE's Via also carries pk=t) */
		assert_memory_equal(a, b, strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=") + PK_PROXY_BRANCH_LEN);
	}
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL_REASON], 1);
	fx_free(f);
}

static void test_pickup_route_set_and_picker_routes(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "c2@a", "fa2",
	     "Record-Route: <sip:192.0.2.3:5066;lr>, <sip:192.0.2.4;lr>\n", "tb2");
	/* the picker comes through an outbound proxy that is pickupd */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pk2", "Route: <sip:127.0.0.1:5060;lr>\n"), 1);
	s = fx_last(f);
	/* the caller's route set, in order, and sent to its first hop */
	assert_string_equal(fx_line(s, "Route:"), "Route: <sip:192.0.2.3:5066;lr>, <sip:192.0.2.4;lr>");
	assert_int_equal(fx_count_lines(s, "Route:"), 1);
	fx_assert_dst(s, "192.0.2.3:5066", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_true(fx_has_line(s, "Replaces: c2@a;to-tag=fa2;from-tag=tb2;early-only"));
	fx_free(f);
}

static void test_pickup_code_and_order(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	/* two calls ring in *801: to 2002 first, then to 2001 */
	call(f, "alice", CALLER, "2002", "old@a", "fo", NULL, "t-old");
	call(f, "carol", CALLER2, "2001", "new@c", "fn", NULL, "t-new");
	/* and one in 7002 (2004 has ring there) */
	call(f, "dave", "192.0.2.12:5070", "2004", "g2@d", "fd", NULL, "t-g2");

	/* the pickup code: the oldest call of the picker's groups */
	assert_int_equal(pickup(f, "2003", PICKER, "*8", "pc1", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: old@a;to-tag=fo;from-tag=t-old;early-only"));
	/* the group number: the oldest left in that group */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pc2", NULL), 1);
	s = fx_last(f);
	assert_true(fx_has_line(s, "Replaces: new@c;to-tag=fn;from-tag=t-new;early-only"));
	fx_assert_dst(s, CALLER2, PK_TRANSPORT_UDP);
	/* 3002 has only the pickup right in 7002: the code gives it 2004's call */
	assert_int_equal(pickup(f, "3002", PICKER2, "*8", "pc3", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: g2@d;to-tag=fd;from-tag=t-g2;early-only"));
	/* nothing left anywhere */
	assert_int_equal(pickup(f, "2003", PICKER, "*8", "pc4", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_FORWARDED], 3);
	fx_free(f);
}

static void test_directed_pickup(void **state)
{
	struct fx *f = setup();

	(void)state;
	call(f, "alice", CALLER, "2001", "d1@a", "fa", NULL, "t1");
	call(f, "carol", CALLER2, "2002", "d2@c", "fc", NULL, "t2");
	/* **2002: the call ringing at 2002, although 2001's is older */
	assert_int_equal(pickup(f, "2003", PICKER, "**2002", "dp1", NULL), 1);
	fx_assert_dst(fx_last(f), CALLER2, PK_TRANSPORT_UDP);
	assert_true(fx_has_line(fx_last(f), "Replaces: d2@c;to-tag=fc;from-tag=t2;early-only"));
	/* 3002 shares no group with 2001 */
	assert_int_equal(pickup(f, "3002", PICKER2, "**2001", "dp2", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 403 Forbidden\r\n", 23);
	/* a user in no group */
	assert_int_equal(pickup(f, "2003", PICKER, "**9999", "dp3", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 403 Forbidden\r\n", 23);
	/* 2002's call is taken: directed pickup of 2002 finds nothing */
	assert_int_equal(pickup(f, "2001", PICKER2, "**2002", "dp4", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);
	fx_free(f);
}

static void test_forbidden_and_nothing(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	/* nothing ringing: 480 with the reason in a Warning */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "n1", NULL), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);
	assert_true(fx_has_line(s, "Warning: 399 127.0.0.1 \"No call to pick up\""));
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	/* a call that is not ringing yet (no 18x) cannot be picked up */
	call(f, "alice", CALLER, "2002", "t1@a", "fa", NULL, NULL);
	assert_int_equal(call_state(f, "t1@a", "fa"), PK_CALLTAB_TRYING);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "n2", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);

	/* not a member */
	assert_int_equal(pickup(f, "bob", PICKER, "*801", "n3", NULL), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 403 Forbidden\r\n", 23);
	assert_true(fx_has_line(s, "Warning: 399 127.0.0.1 \"not allowed to pick up here\""));
	/* a member without the pickup right (2004: ring only in 7002) */
	assert_int_equal(pickup(f, "2004", PICKER, "7002", "n4", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 403 Forbidden\r\n", 23);
	/* a member of another group */
	assert_int_equal(pickup(f, "3001", PICKER, "*801", "n5", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 403 Forbidden\r\n", 23);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_FORBIDDEN], 3);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_NONE], 2);
	/* an unknown number is routed as any other call (404: not registered) */
	assert_int_equal(pickup(f, "2003", PICKER, "*802", "n6", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 404 Not Found\r\n", 23);
	fx_free(f);
}

/* The picker's From host decides its domain as the Request-URI's does:
 * the served domain written as the Request-URI writes it (no lookup),
 * in other letters, with a port, or pickupd's own address (the default
 * domain) are all example.test; another host is not. */
static void test_picker_from_host(void **state)
{
	static const struct {
		const char *host;
		bool member;
	} cases[] = {
		{ "example.test", true },   { "EXAMPLE.Test", true }, { "example.test:5099", true },
		{ "127.0.0.1", true },	    { "127.0.0.1:5060", true }, { "127.0.0.1:5099", false },
		{ "example.tesT.", false }, { "other.test", false },  { "example.tes", false },
	};
	struct fx *f = setup();

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char inv[1024], cid[32], pcid[32];
		const struct fx_sent *s;

		snprintf(cid, sizeof(cid), "fh%u@a", i);
		snprintf(pcid, sizeof(pcid), "pfh%u", i);
		call(f, "alice", CALLER, "2002", cid, "fa", NULL, "tb");
		snprintf(inv, sizeof(inv),
			 "INVITE sip:*801@example.test SIP/2.0\n"
			 "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-%s;rport\n"
			 "Max-Forwards: 70\n"
			 "From: <sip:2003@%s>;tag=fp\n"
			 "To: <sip:*801@example.test>\n"
			 "Call-ID: %s\n"
			 "CSeq: 7 INVITE\n"
			 "Contact: <sip:2003@" PICKER ">\n",
			 pcid, cases[i].host, pcid);
		assert_int_equal(fx_rx(f, inv, PICKER), 1);
		s = fx_last(f);
		if (cases[i].member) {
			fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
			assert_memory_equal(s->data, "INVITE sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
			assert_int_equal(call_state(f, cid, "fa"), PK_CALLTAB_CLAIMED);
		} else {
			assert_memory_equal(s->data, "SIP/2.0 403 Forbidden\r\n", 23);
			assert_int_equal(call_state(f, cid, "fa"), PK_CALLTAB_RINGING);
		}
	}
	fx_free(f);
}

static void test_self_pickup_refused(void **state)
{
	struct fx *f = setup();

	(void)state;
	/* 2001 calls 2002 (both in *801) and dials *801 itself */
	call(f, "2001", "192.0.2.21:5062", "2002", "self@1", "f1", NULL, "t1");
	assert_int_equal(pickup(f, "2001", "192.0.2.21:5062", "*801", "s1", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);
	assert_int_equal(call_state(f, "self@1", "f1"), PK_CALLTAB_RINGING);
	/* anybody else may */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "s2", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: self@1;to-tag=f1;from-tag=t1;early-only"));
	fx_free(f);
}

/* Claim, let the caller answer `code`, return the state of the call. */
static int settle_with(struct fx *f, unsigned code, const char *reason, const char *callid)
{
	char resp[4096];

	assert_int_equal(pickup(f, "2003", PICKER, "*801", callid, NULL), 1);
	assert_memory_equal(fx_last(f)->data, "INVITE ", 7);
	fx_response(fx_last(f), code, reason, "tx", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	/* forwarded to the picker */
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	return call_state(f, "s@a", "fa");
}

static void test_settle(void **state)
{
	struct fx *f = setup();

	(void)state;
	call(f, "alice", CALLER, "2002", "s@a", "fa", NULL, "tb");
	/* busy: ringing again, and can be picked up again */
	assert_int_equal(settle_with(f, 486, "Busy Here", "st1"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_REJECTED_486], 1);
	/* no Replaces support: counted on its own, ringing again */
	assert_int_equal(settle_with(f, 420, "Bad Extension", "st2"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_NO_REPLACES], 1);
	/* a provisional answer settles nothing */
	{
		char resp[4096];

		assert_int_equal(pickup(f, "2003", PICKER, "*801", "st3", NULL), 1);
		fx_response(fx_last(f), 180, "Ringing", "tx", NULL, resp, sizeof(resp));
		assert_int_equal(fx_rx(f, resp, CALLER), 1);
		assert_int_equal(call_state(f, "s@a", "fa"), PK_CALLTAB_CLAIMED);
		fx_response(&f->io.q.sent[fx_nsent(f) - 2], 481, "Call/Transaction Does Not Exist", "tx", NULL,
			    resp, sizeof(resp));
		assert_int_equal(fx_rx(f, resp, CALLER), 1);
	}
	/* 481: the early dialog is gone */
	assert_int_equal(call_state(f, "s@a", "fa"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_REJECTED_481], 1);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "st4", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);

	/* 603 removes too */
	call(f, "alice", CALLER, "2002", "s@a", "fa", NULL, "tb");
	f->now += 10 * FX_SEC;
	assert_int_equal(settle_with(f, 603, "Decline", "st5"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_REJECTED_603], 1);

	/* 200: picked up */
	call(f, "alice", CALLER, "2002", "s@a", "fa", NULL, "tb");
	assert_int_equal(settle_with(f, 200, "OK", "st6"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);
	fx_free(f);
}

static void test_retransmission_after_answer(void **state)
{
	struct fx *f = setup();
	char resp[4096];

	(void)state;
	call(f, "alice", CALLER, "2002", "ra@a", "fa", NULL, "tb");
	call(f, "carol", CALLER2, "2001", "rb@c", "fc", NULL, "tc");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rx1", NULL), 1);
	fx_response(fx_last(f), 200, "OK", "ta", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	/* a copy of the pickup INVITE that crossed the 200: it claims nothing */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rx1", NULL), 0);
	assert_int_equal(call_state(f, "rb@c", "fc"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_DROP_RETRANS], 1);
	/* the same after a failure answer */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rx2", NULL), 1);
	fx_response(fx_last(f), 486, "Busy Here", "tc2", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER2), 1);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rx2", NULL), 0);
	assert_int_equal(call_state(f, "rb@c", "fc"), PK_CALLTAB_RINGING);
	/* a new pickup (another transaction) takes it */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rx3", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: rb@c;to-tag=fc;from-tag=tc;early-only"));
	fx_free(f);
}

static void test_claim_timeout(void **state)
{
	struct fx *f = setup();

	(void)state;
	call(f, "alice", CALLER, "2002", "to@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "ct1", NULL), 1);
	assert_int_equal(call_state(f, "to@a", "fa"), PK_CALLTAB_CLAIMED);
	/* another picker meanwhile: nothing */
	assert_int_equal(pickup(f, "2001", PICKER2, "*801", "ct2", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	/* no answer within claim_timeout (8 s): the sweep gives it back */
	fx_sweep(f, f->now + 4 * FX_SEC);
	assert_int_equal(call_state(f, "to@a", "fa"), PK_CALLTAB_CLAIMED);
	f->now += 9 * FX_SEC;
	fx_sweep(f, f->now);
	assert_int_equal(call_state(f, "to@a", "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(pickup(f, "2001", PICKER2, "*801", "ct3", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: to@a;to-tag=fa;from-tag=tb;early-only"));
	fx_free(f);
}

static void test_cancel_without_pickup(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "cx@a", "fa", NULL, "tb");
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-cx@a;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: cx@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_int_equal(fx_count_lines(s, "Reason:"), 0);
	/* the call has left the table */
	assert_int_equal(call_state(f, "cx@a", "fa"), -1);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "cx1", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	fx_free(f);
}

static void test_cancel_crossing_the_200(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "cr@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "cr1", NULL), 1);
	/* the caller's CANCEL arrives before its 200 to the pickup INVITE:
	 * the call is claimed, so the Reason is added */
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-cr@a;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: cr@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	s = fx_last(f);
	assert_true(fx_has_line(s, "Reason: SIP;cause=200;text=\"Call completed elsewhere\""));
	assert_int_equal(call_state(f, "cr@a", "fa"), -1);

	/* another call, picked up; its caller writes the Reason itself */
	call(f, "alice", CALLER, "2002", "cr2@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "cr2", NULL), 1);
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-cr2@a;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\n"
			       "Call-ID: cr2@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	s = fx_last(f);
	/* the caller wrote the Reason already: kept, not doubled */
	assert_int_equal(fx_count_lines(s, "Reason:"), 1);
	assert_true(fx_has_line(s, "Reason: SIP;cause=200;text=\"Call completed elsewhere\""));
	assert_int_equal(call_state(f, "cr2@a", "fa"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL_REASON], 1);
	fx_free(f);
}

static void test_picker_cancel_and_ack(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;
	char inv_via[256], resp[4096];

	(void)state;
	call(f, "alice", CALLER, "2002", "pc@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pcx", NULL), 1);
	snprintf(inv_via, sizeof(inv_via), "%s", fx_line(fx_last(f), "Via: "));
	/* the picker gives up: its CANCEL follows the pickup INVITE */
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:*801@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-pcx;rport\n"
			       "Max-Forwards: 70\n"
			       "From: \"Picker\" <sip:2003@example.test>;tag=fp-pcx\n"
			       "To: <sip:*801@example.test>\n"
			       "Call-ID: pcx\n"
			       "CSeq: 7 CANCEL\n",
			       PICKER),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "CANCEL sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_int_equal(fx_count_lines(s, "Replaces:"), 0);
	assert_memory_equal(fx_line(s, "Via: "), inv_via, strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=") + PK_PROXY_BRANCH_LEN);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL], 1);
	/* the caller answers the INVITE 487: back to ringing */
	fx_response(&f->io.q.sent[fx_nsent(f) - 2], 487, "Request Terminated", "tx", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	assert_int_equal(call_state(f, "pc@a", "fa"), PK_CALLTAB_RINGING);
	/* the picker's ACK of that 487 follows the INVITE to the caller */
	assert_int_equal(fx_rx(f,
			       "ACK sip:*801@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-pcx;rport\n"
			       "Max-Forwards: 70\n"
			       "From: \"Picker\" <sip:2003@example.test>;tag=fp-pcx\n"
			       "To: <sip:*801@example.test>;tag=tx\n"
			       "Call-ID: pcx\n"
			       "CSeq: 7 ACK\n",
			       PICKER),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "ACK sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 39);
	assert_memory_equal(fx_line(s, "Via: "), inv_via, strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=") + PK_PROXY_BRANCH_LEN);
	assert_int_equal(fx_count_lines(s, "Replaces:"), 0);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK], 1);
	/* the ACK of our own 480: nowhere to go, dropped */
	assert_int_equal(pickup(f, "3002", PICKER2, "7002", "pcy", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	assert_int_equal(fx_rx(f,
			       "ACK sip:7002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " PICKER2 ";branch=z9hG4bK-p-pcy;rport\n"
			       "Max-Forwards: 70\n"
			       "From: \"Picker\" <sip:3002@example.test>;tag=fp-pcy\n"
			       "To: <sip:7002@example.test>;tag=x\n"
			       "Call-ID: pcy\n"
			       "CSeq: 7 ACK\n",
			       PICKER2),
			 0);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK_DROPPED], 1);
	/* a late CANCEL (the claim is over): 481 */
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:*801@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-pcx;rport\n"
			       "Max-Forwards: 70\n"
			       "From: \"Picker\" <sip:2003@example.test>;tag=fp-pcx\n"
			       "To: <sip:*801@example.test>\n"
			       "Call-ID: pcx\n"
			       "CSeq: 7 CANCEL\n",
			       PICKER),
			 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 481 ", 12);
	fx_free(f);
}

/* The caller's CANCEL of its original INVITE, or the picker's CANCEL of
 * its pickup INVITE, as the caller (CALLER) or the picker (PICKER) sends
 * it. */
static unsigned caller_cancel(struct fx *f, const char *callid)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "CANCEL sip:2002@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:2002@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 1 CANCEL\n",
		 callid, callid);
	return fx_rx(f, msg, CALLER);
}

static unsigned picker_cancel(struct fx *f, const char *pcid)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "CANCEL sip:*801@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\n"
		 "To: <sip:*801@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 7 CANCEL\n",
		 pcid, pcid, pcid);
	return fx_rx(f, msg, PICKER);
}

/* Nothing of the pickup left once the control thread has swept and every
 * thread has been quiescent: no claim on key, no entry, no claim record. */
static void assert_nothing_left(struct fx *f, const char *pcid)
{
	char key[128];

	snprintf(key, sizeof(key), "%s z9hG4bK-p-%s 7", pcid, pcid);
	fx_sweep(f, f->now);
	fx_quiesce(f);
	pk_rcu_reclaim(f->eng.rcu);
	assert_int_equal(pk_calltab_claim_find(f->eng.calltab, FX_TID_WORKER, pk_str_make(key, strlen(key)), 0,
					       NULL),
			 -ENOENT);
	assert_int_equal(pk_calltab_in_use(f->eng.calltab), 0);
	assert_int_equal(pk_calltab_check_idle(f->eng.calltab, NULL), 0);
}

/*
 * The caller hangs up while its pickup INVITE is unanswered: its CANCEL of
 * the original INVITE removes the call (the callee's phone stops), then
 * the picker gives up too. The picker's CANCEL must still reach the
 * caller, where the pickup INVITE went (same Request-URI, branch), for the
 * caller's transaction to answer it (RFC 3261 §9.2: 200, and 487 to the
 * INVITE). It used to be answered 481 by pickupd, the claim having lost
 * its call, which left the caller's pickup INVITE pending and the picker
 * without its final answer.
 */
static void test_picker_cancel_after_caller_cancel(void **state)
{
	struct fx *f = setup();
	char inv_via[256], resp[4096];
	const struct fx_sent *s;
	unsigned inv, pinv;

	(void)state;
	inv = call(f, "alice", CALLER, "2002", "oc1@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "po1", NULL), 1);
	pinv = fx_nsent(f) - 1;
	snprintf(inv_via, sizeof(inv_via), "%s", fx_line(fx_last(f), "Via: "));

	/* the caller's CANCEL goes to the callee; the call leaves the table */
	assert_int_equal(caller_cancel(f, "oc1@a"), 1);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_int_equal(call_state(f, "oc1@a", "fa"), -1);
	/* the callee's 487 to the original INVITE goes to the caller */
	fx_response(&f->io.q.sent[inv], 487, "Request Terminated", "tb", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, "192.0.2.22:5062"), 1);
	fx_assert_dst(fx_last(f), CALLER, PK_TRANSPORT_UDP);

	/* the picker's CANCEL follows its INVITE to the caller */
	assert_int_equal(picker_cancel(f, "po1"), 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "CANCEL sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_memory_equal(fx_line(s, "Via: "), inv_via,
			    strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=") + PK_PROXY_BRANCH_LEN);
	assert_true(fx_has_line(s, "CSeq: 7 CANCEL"));
	assert_int_equal(fx_count_lines(s, "Replaces:"), 0);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_481], 0);
	/* the caller's 200 to that CANCEL reaches the picker */
	fx_response(s, 200, "OK", "ta", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 200 OK\r\n", 16);
	assert_true(fx_has_line(s, "CSeq: 7 CANCEL"));
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	/* and its 487 to the pickup INVITE: the picker's final answer */
	fx_response(&f->io.q.sent[pinv], 487, "Request Terminated", "ta", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 487 Request Terminated\r\n", 32);
	assert_true(fx_has_line(s, "CSeq: 7 INVITE"));
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	/* the call is gone, nothing rings again */
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SETTLE_LATE], 1);
	assert_int_equal(pickup(f, "2001", PICKER2, "*801", "po2", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	/* the picker's ACK of that 487 follows the INVITE to the caller,
	 * which would otherwise resend its 487 until its Timer H; and so
	 * does its retransmission */
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(fx_rx(f,
				       "ACK sip:*801@example.test SIP/2.0\n"
				       "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-po1;rport\n"
				       "Max-Forwards: 70\n"
				       "From: \"Picker\" <sip:2003@example.test>;tag=fp-po1\n"
				       "To: <sip:*801@example.test>;tag=ta\n"
				       "Call-ID: po1\n"
				       "CSeq: 7 ACK\n",
				       PICKER),
				 1);
		s = fx_last(f);
		fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
		assert_memory_equal(s->data, "ACK sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 39);
		assert_memory_equal(fx_line(s, "Via: "), inv_via,
				    strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=") + PK_PROXY_BRANCH_LEN);
		assert_int_equal(fx_count_lines(s, "Replaces:"), 0);
	}
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK], 2);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK_DROPPED], 0);
	/* the caller's resent 487 reaches the picker as the first did */
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	/* claim_timeout (8 s) passes: the claim and the call's entry go,
	 * and a CANCEL now (the INVITE has its final answer) gets 481 */
	f->now += 9 * FX_SEC;
	assert_nothing_left(f, "po1");
	assert_int_equal(picker_cancel(f, "po1"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 481 ", 12);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	fx_free(f);
}

/* The same without any answer from the caller to either: the picker's
 * CANCEL still goes to the caller; the claim timeout then frees what the
 * claim kept. */
static void test_picker_cancel_after_caller_cancel_unanswered(void **state)
{
	struct fx *f = setup();

	(void)state;
	call(f, "alice", CALLER, "2002", "ou1@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pu1", NULL), 1);
	assert_int_equal(caller_cancel(f, "ou1@a"), 1);
	assert_int_equal(picker_cancel(f, "pu1"), 1);
	fx_assert_dst(fx_last(f), CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(fx_last(f)->data, "CANCEL sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	/* its retransmission too, byte for byte */
	assert_int_equal(picker_cancel(f, "pu1"), 1);
	assert_int_equal(f->io.q.sent[fx_nsent(f) - 2].len, fx_last(f)->len);
	assert_memory_equal(f->io.q.sent[fx_nsent(f) - 2].data, fx_last(f)->data, fx_last(f)->len);
	/* claim_timeout (8 s) passes: the claim and the call's entry go */
	f->now += 9 * FX_SEC;
	assert_nothing_left(f, "pu1");
	assert_int_equal(picker_cancel(f, "pu1"), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 481 ", 12);
	fx_free(f);
}

/* The other order: the picker gives up first (its CANCEL reaches the
 * caller while the call is still claimed), then the caller hangs up. The
 * caller's answers reach the picker and nothing is left. */
static void test_caller_cancel_after_picker_cancel(void **state)
{
	struct fx *f = setup();
	char resp[4096];
	const struct fx_sent *s;
	unsigned pinv, pcan;

	(void)state;
	call(f, "alice", CALLER, "2002", "pf1@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pf1", NULL), 1);
	pinv = fx_nsent(f) - 1;
	assert_int_equal(picker_cancel(f, "pf1"), 1);
	pcan = fx_nsent(f) - 1;
	fx_assert_dst(fx_last(f), CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(fx_last(f)->data, "CANCEL sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_int_equal(caller_cancel(f, "pf1@a"), 1);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_int_equal(call_state(f, "pf1@a", "fa"), -1);
	/* the caller answers the CANCEL 200 and the pickup INVITE 487 */
	fx_response(&f->io.q.sent[pcan], 200, "OK", "ta", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	fx_response(&f->io.q.sent[pinv], 487, "Request Terminated", "ta", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 487 Request Terminated\r\n", 32);
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_481], 0);
	/* the call was gone before the 487: the claim keeps its route for
	 * the picker's ACK until claim_timeout (8 s), then nothing is left */
	f->now += 9 * FX_SEC;
	assert_nothing_left(f, "pf1");
	fx_free(f);
}

/* The picker's CANCEL crossing the caller's 200 to the pickup INVITE: the
 * 200 settled the claim (picked up), the INVITE has its final answer, and
 * the CANCEL can change nothing (RFC 3261 §9.2). pickupd answers it 481,
 * which is what the caller, whose INVITE transaction ended with its 2xx
 * (§17.2.1), would answer too; the picker ACKs the 200 and hangs up with
 * BYE if it no longer wants the call (§9.1, §15). Nothing is sent to the
 * caller. */
static void test_picker_cancel_after_the_200(void **state)
{
	struct fx *f = setup();
	char resp[4096];
	unsigned before;

	(void)state;
	call(f, "alice", CALLER, "2002", "p2@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "p2c", NULL), 1);
	fx_response(fx_last(f), 200, "OK", "ta", "Contact: <sip:alice@192.0.2.10:5070>\n", resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);
	assert_int_equal(caller_cancel(f, "p2@a"), 1);
	assert_true(fx_has_line(fx_last(f), "Reason: SIP;cause=200;text=\"Call completed elsewhere\""));
	before = fx_nsent(f);
	assert_int_equal(picker_cancel(f, "p2c"), 1);
	assert_int_equal(fx_nsent(f), before + 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 481 Call/Transaction Does Not Exist\r\n", 45);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL], 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_481], 1);
	assert_nothing_left(f, "p2c");
	fx_free(f);
}

static void test_tcp_caller(void **state)
{
	struct fx *f = setup();
	const uint64_t conn = 0x0000000500000002ull;
	const struct fx_sent *s;
	char resp[4096];

	(void)state;
	/* 1001 registered over TCP and calls over that connection */
	fx_register(f, "1001", "sip:1001@192.0.2.41:40001;transport=tcp", "192.0.2.41:40001", PK_TRANSPORT_TCP,
		    conn);
	fx_rx_on(f,
		 "INVITE sip:2002@example.test SIP/2.0\n"
		 "Via: SIP/2.0/TCP 192.0.2.41:40001;branch=z9hG4bK-tc;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:1001@example.test>;tag=ft\n"
		 "To: <sip:2002@example.test>\n"
		 "Call-ID: tcp@1001\n"
		 "CSeq: 1 INVITE\n"
		 "Contact: <sip:1001@192.0.2.41:40001;transport=tcp>\n",
		 NULL, "192.0.2.41:40001", 1, conn);
	fx_response(fx_last(f), 180, "Ringing", "tt", NULL, resp, sizeof(resp));
	fx_rx(f, resp, "192.0.2.22:5062");
	s = fx_last(f);
	assert_int_equal(s->transport, PK_TRANSPORT_TCP);
	assert_int_equal(s->conn, conn);
	/* the pickup INVITE goes to the caller on its connection */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "tcp1", NULL), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "INVITE sip:1001@192.0.2.41:40001;transport=tcp SIP/2.0\r\n", 56);
	assert_int_equal(s->transport, PK_TRANSPORT_TCP);
	assert_int_equal(s->conn, conn);
	assert_non_null(strstr(fx_line(s, "Via: "), "Via: SIP/2.0/TCP 127.0.0.1:5060;branch="));
	assert_true(fx_has_line(s, "Replaces: tcp@1001;to-tag=ft;from-tag=tt;early-only"));
	fx_free(f);
}

/* A copy of the caller's INVITE that comes after its call was picked up
 * (retransmitted before a 180 reached the caller, then delayed or
 * reordered): forwarded, but not tracked again, so the next picker finds
 * nothing instead of the same call a second time. Another call from the
 * same caller is tracked as usual. */
static void test_late_invite_copy_after_pickup(void **state)
{
	struct fx *f = setup();
	char inv[2048], resp[4096];
	unsigned before;

	(void)state;
	call(f, "alice", CALLER, "2002", "late@a", "fl", NULL, "tl");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pl1", NULL), 1);
	fx_response(fx_last(f), 200, "OK", "tl2", "Contact: <sip:alice@192.0.2.10:5070>\n", resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);
	assert_int_equal(call_state(f, "late@a", "fl"), -1);
	f->now += 2 * FX_SEC;

	/* the late copy: byte for byte the first INVITE */
	snprintf(inv, sizeof(inv),
		 "INVITE sip:2002@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-late@a;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fl\n"
		 "To: <sip:2002@example.test>\n"
		 "Call-ID: late@a\n"
		 "CSeq: 1 INVITE\n"
		 "Contact: <sip:alice@" CALLER ">\n");
	before = f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED];
	assert_int_equal(fx_rx(f, inv, CALLER), 1);
	/* still forwarded to the callee (its transaction answers it) ... */
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_null(strstr(fx_line(fx_last(f), "Via: "), ";pk=t"));
	/* ... but not in the table again */
	assert_int_equal(call_state(f, "late@a", "fl"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED], before);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_TRACK_PICKED], 1);
	/* the 180 the callee sends again makes nothing pickable */
	fx_response(fx_last(f), 180, "Ringing", "tl", NULL, resp, sizeof(resp));
	fx_rx(f, resp, "192.0.2.22:5062");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pl2", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);

	/* a new call of the same caller rings and can be picked up */
	call(f, "alice", CALLER, "2002", "late2@a", "fl2", NULL, "tm");
	assert_int_equal(call_state(f, "late2@a", "fl2"), PK_CALLTAB_RINGING);
	fx_free(f);
}

static void test_tracking_only_ring_members(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	fx_register(f, "3002", "sip:3002@192.0.2.32:5062", "192.0.2.32:5062", PK_TRANSPORT_UDP, 0);
	/* 3002 has no ring right: its calls are not tracked, nor marked */
	assert_int_equal(fx_rx(f,
			       "INVITE sip:3002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-nr;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:3002@example.test>\n"
			       "Call-ID: nr@a\n"
			       "CSeq: 1 INVITE\n"
			       "Contact: <sip:alice@192.0.2.10:5070>\n",
			       CALLER),
			 1);
	s = fx_last(f);
	assert_null(strstr(fx_line(s, "Via: "), ";pk="));
	assert_int_equal(call_state(f, "nr@a", "fa"), -1);
	/* a final answer removes a tracked call */
	{
		char resp[4096];
		unsigned i = call(f, "alice", CALLER, "2002", "fin@a", "fa", NULL, "tb");

		assert_int_equal(call_state(f, "fin@a", "fa"), PK_CALLTAB_RINGING);
		fx_response(&f->io.q.sent[i], 200, "OK", "tb", NULL, resp, sizeof(resp));
		assert_int_equal(fx_rx(f, resp, "192.0.2.22:5062"), 1);
		assert_int_equal(call_state(f, "fin@a", "fa"), -1);
	}
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_ENDED], 1);
	fx_free(f);
}

/* The caller's answer carries back our Via's pkc (the claimed call's key
 * hash, 16 hex digits): read in upper case as in lower case, it makes the
 * caller's CANCEL of its original INVITE get the Reason. Variants 2 and 3
 * echo our Via in another shape than we wrote it (a parameter name in
 * upper case; a received= added after the rport), which the proxy reads
 * with the general parameter walk: the same outcome. */
static void test_pkc_either_case(void **state)
{
	for (int variant = 0; variant < 4; variant++) {
		const int upper = variant == 1;
		struct fx *f = setup();
		char resp[4096];
		const struct fx_sent *s;
		char *p;

		(void)state;
		call(f, "alice", CALLER, "2002", "hx@a", "fa", NULL, "tb");
		assert_int_equal(pickup(f, "2003", PICKER, "*801", "hx1", NULL), 1);
		fx_response(fx_last(f), 200, "OK", "ta2", "Contact: <sip:alice@192.0.2.10:5070>\n", resp,
			    sizeof(resp));
		p = strstr(resp, ";pkc=");
		assert_non_null(p);
		for (int i = 5; i < 5 + 16; i++) {
			assert_true(isxdigit((unsigned char)p[i]));
			if (upper)
				p[i] = (char)toupper((unsigned char)p[i]);
		}
		{
			/* pkc: the claimed call's key hash, 16 lowercase digits */
			char want[17];

			snprintf(want, sizeof(want), "%016llx",
				 (unsigned long long)pk_calltab_key_hash(PK_STR_LIT("hx@a"), PK_STR_LIT("fa")));
			assert_non_null(strstr(fx_line(fx_last(f), "Via: "), want));
			if (!upper)
				assert_memory_equal(p + 5, want, 16);
		}
		if (variant == 2) {
			memcpy(p, ";PKC=", 5);
		} else if (variant == 3) {
			char *r = strstr(resp, ";rport");
			static const char rcv[] = ";received=192.0.2.99";

			assert_non_null(r);
			assert_true(r < p);
			r += 6;
			assert_true(strlen(resp) + sizeof(rcv) < sizeof(resp));
			memmove(r + sizeof(rcv) - 1, r, strlen(r) + 1);
			memcpy(r, rcv, sizeof(rcv) - 1);
		}
		assert_int_equal(fx_rx(f, resp, CALLER), 1);
		assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);
		/* the call left the table with the 200: only the recently-picked
		 * memory, under the decoded pkc, can give the Reason */
		assert_int_equal(call_state(f, "hx@a", "fa"), -1);
		assert_int_equal(fx_rx(f,
				       "CANCEL sip:2002@example.test SIP/2.0\n"
				       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-hx@a;rport\n"
				       "Max-Forwards: 70\n"
				       "From: <sip:alice@example.test>;tag=fa\n"
				       "To: <sip:2002@example.test>\n"
				       "Call-ID: hx@a\n"
				       "CSeq: 1 CANCEL\n",
				       CALLER),
				 1);
		s = fx_last(f);
		assert_true(fx_has_line(s, "Reason: SIP;cause=200;text=\"Call completed elsewhere\""));
		assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL_REASON], 1);
		fx_free(f);
	}
}

/* The caller's AoR the table keeps: user part as written, host
 * lowercased (a served domain as configured), whatever its length. */
static void test_caller_aor_case(void **state)
{
	static const struct {
		const char *host, *aor;
	} cases[] = {
		{ "Other.EXAMPLE.Org", "Alice@other.example.org" }, /* 17: 8 + 8 + 1 */
		{ "WWW.EXAMPLE.ORG", "Alice@www.example.org" },     /* 15 */
		{ "ABCD.EFG", "Alice@abcd.efg" },                   /* 8 */
		{ "A.B.Cd", "Alice@a.b.cd" },                       /* 6 */
		{ "Example.TEST", "Alice@example.test" },           /* served */
		/* written as the Request-URI's domain: taken without a lookup */
		{ "example.test", "Alice@example.test" },
		/* pickupd's own address: the default domain */
		{ "127.0.0.1", "Alice@example.test" },
		{ "127.0.0.2", "Alice@127.0.0.2" },
	};
	struct fx *f = setup();

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char inv[1024], cid[32];
		struct pk_calltab_call c;

		snprintf(cid, sizeof(cid), "aor%u@a", i);
		snprintf(inv, sizeof(inv),
			 "INVITE sip:2002@example.test SIP/2.0\n"
			 "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-%s;rport\n"
			 "Max-Forwards: 70\n"
			 "From: <sip:Alice@%s>;tag=fa\n"
			 "To: <sip:2002@example.test>\n"
			 "Call-ID: %s\n"
			 "CSeq: 1 INVITE\n"
			 "Contact: <sip:alice@" CALLER ">\n",
			 cid, cases[i].host, cid);
		assert_int_equal(fx_rx(f, inv, CALLER), 1);
		assert_int_equal(pk_calltab_find(f->eng.calltab, FX_TID_WORKER, pk_str_make(cid, strlen(cid)),
						 PK_STR_LIT("fa"), 0, &c),
				 0);
		assert_int_equal(c.caller.len, strlen(cases[i].aor));
		assert_memory_equal(c.caller.p, cases[i].aor, c.caller.len);
	}
	fx_free(f);
}

/* Forget what was sent so far (a test that sends more than FX_MAX_SENT
 * messages looks only at the last ones). */
static void forget_sent(struct fx *f)
{
	f->io.q.nsent = 0;
}

/* The caller's INVITE retransmitted (Timer A) before and after the 180:
 * each copy is forwarded as the first was, byte for byte (pk=t, the same
 * branch), the call is tracked once and stays RINGING with its To-tag. */
static void test_caller_invite_retransmitted(void **state)
{
	struct fx *f = setup();
	char first[8192], resp[4096];
	uint32_t first_len;
	unsigned inv;

	(void)state;
	inv = call(f, "alice", CALLER, "2002", "rt@a", "fa", NULL, NULL);
	first_len = f->io.q.sent[inv].len;
	memcpy(first, f->io.q.sent[inv].data, first_len);
	assert_int_equal(call(f, "alice", CALLER, "2002", "rt@a", "fa", NULL, NULL), inv + 1);
	assert_int_equal(fx_last(f)->len, first_len);
	assert_memory_equal(fx_last(f)->data, first, first_len);
	assert_int_equal(call_state(f, "rt@a", "fa"), PK_CALLTAB_TRYING);
	fx_response(&f->io.q.sent[inv], 180, "Ringing", "tb", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, "192.0.2.22:5062"), 1);
	assert_int_equal(call_state(f, "rt@a", "fa"), PK_CALLTAB_RINGING);
	/* a copy that arrives after the 180 changes nothing */
	call(f, "alice", CALLER, "2002", "rt@a", "fa", NULL, NULL);
	assert_memory_equal(fx_last(f)->data, first, first_len);
	assert_int_equal(call_state(f, "rt@a", "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_RINGING], 1);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "rt1", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: rt@a;to-tag=fa;from-tag=tb;early-only"));
	fx_free(f);
}

/* An INVITE a pickup could not use (no Contact for the new Request-URI,
 * no From-tag for Replaces) is forwarded but not tracked. */
static void test_untrackable_invite(void **state)
{
	struct fx *f = setup();

	(void)state;
	assert_int_equal(fx_rx(f,
			       "INVITE sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-nc;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: nc@a\n"
			       "CSeq: 1 INVITE\n",
			       CALLER),
			 1);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_null(strstr(fx_line(fx_last(f), "Via: "), ";pk="));
	assert_int_equal(fx_rx(f,
			       "INVITE sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-nt;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: nt@a\n"
			       "CSeq: 1 INVITE\n"
			       "Contact: <sip:alice@" CALLER ">\n",
			       CALLER),
			 1);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_null(strstr(fx_line(fx_last(f), "Via: "), ";pk="));
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_TRACK_SKIPPED], 2);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED], 0);
	assert_int_equal(call_state(f, "nc@a", "fa"), -1);
	fx_free(f);
}

/* A caller reached over TLS only (RFC 5630 §4): a sips: Contact, or a
 * sips: first Record-Route (the pickup INVITE's next hop). pickupd has no
 * TLS, so a pickup INVITE could only go to it in the clear: the call is
 * forwarded to the callee but not tracked (track_skipped), a picker gets
 * the next call or "No call to pick up", and nothing goes to the caller. */
static void test_sips_caller_not_tracked(void **state)
{
	static const char *const invs[] = {
		"INVITE sip:2002@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-sc1;rport\n"
		"Max-Forwards: 70\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sip:2002@example.test>\n"
		"Call-ID: sc1@a\n"
		"CSeq: 1 INVITE\n"
		"Contact: <sips:alice@192.0.2.10:5071>\n",
		"INVITE sip:2002@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-sc2;rport\n"
		"Max-Forwards: 70\n"
		"Record-Route: <SIPS:192.0.2.40:5061;lr>, <sip:192.0.2.41;lr>\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sip:2002@example.test>\n"
		"Call-ID: sc2@a\n"
		"CSeq: 1 INVITE\n"
		"Contact: <sip:alice@" CALLER ">\n",
	};
	struct fx *f = setup();
	char resp[4096];

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(fx_rx(f, invs[i], CALLER), 1);
		fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
		assert_null(strstr(fx_line(fx_last(f), "Via: "), ";pk="));
		/* its 180 makes nothing pickable */
		fx_response(fx_last(f), 180, "Ringing", "tb", NULL, resp, sizeof(resp));
		assert_int_equal(fx_rx(f, resp, "192.0.2.22:5062"), 1);
	}
	assert_int_equal(call_state(f, "sc1@a", "fa"), -1);
	assert_int_equal(call_state(f, "sc2@a", "fa"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_TRACK_SKIPPED], 2);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "psc", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	/* a sip: caller ringing after them is the one picked up */
	call(f, "carol", CALLER2, "2001", "sc3@c", "fc", "Record-Route: <sip:192.0.2.41;lr>\n", "tc");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "psc2", NULL), 1);
	fx_assert_dst(fx_last(f), "192.0.2.41:5060", PK_TRANSPORT_UDP);
	assert_true(fx_has_line(fx_last(f), "Replaces: sc3@c;to-tag=fc;from-tag=tc;early-only"));
	fx_free(f);
}

/* The ringing-call table full: the next call is forwarded as usual, only
 * not tracked (track_refused, no pk=t). */
static void test_table_full_not_tracked(void **state)
{
	struct fx *f = setup();
	char inv[1024];
	unsigned i;

	(void)state;
	for (i = 0; f->w->pickup_ctr[PK_PICKUP_CTR_TRACK_REFUSED] == 0; i++) {
		assert_true(i <= 256);
		forget_sent(f);
		snprintf(inv, sizeof(inv),
			 "INVITE sip:2002@example.test SIP/2.0\n"
			 "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-full%u;rport\n"
			 "Max-Forwards: 70\n"
			 "From: <sip:alice@example.test>;tag=fa\n"
			 "To: <sip:2002@example.test>\n"
			 "Call-ID: full%u@a\n"
			 "CSeq: 1 INVITE\n"
			 "Contact: <sip:alice@" CALLER ">\n",
			 i, i);
		assert_int_equal(fx_rx(f, inv, CALLER), 1);
	}
	/* the table's capacity (256) went in, the next was refused */
	assert_int_equal(i, 257);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CALLS_TRACKED], 256);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_null(strstr(fx_line(fx_last(f), "Via: "), ";pk="));
	fx_free(f);
}

/* The picker uses pickupd as its outbound proxy (our Route) and the
 * caller's INVITE had no Record-Route: the pickup INVITE reaches the
 * caller with no Route at all (ours removed, none to put instead). */
static void test_picker_route_caller_without_rr(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "nr@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pnr", "Route: <sip:127.0.0.1:5060;lr>\n"), 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_int_equal(fx_count_lines(s, "Route:"), 0);
	assert_true(fx_has_line(s, "Replaces: nr@a;to-tag=fa;from-tag=tb;early-only"));
	assert_true(fx_has_line(s, "Max-Forwards: 69"));
	assert_non_null(fx_scan(f, s));
	assert_int_equal(f->out.nvia, 2);
	fx_free(f);
}

/* The claimed call's caller cannot be reached (its first Record-Route
 * names a host: no DNS here): the picker gets 503 with a Warning
 * (pickup_unroutable), and the call leaves the table. */
static void test_caller_unreachable(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "un@a", "fa", "Record-Route: <sip:sbc.elsewhere.test;lr>\n", "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pun", NULL), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	assert_true(fx_has_line(s, "Warning: 399 127.0.0.1 \"Cannot reach the caller\""));
	fx_assert_dst(s, PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(call_state(f, "un@a", "fa"), -1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_UNROUTABLE], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ATTEMPTS], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_FORWARDED], 0);
	fx_free(f);
}

/* An unreachable caller's call must not stand in front of the others:
 * it is the oldest, so every pickup of the group would claim it first and
 * fail. After the 503 it leaves the table; the next picker gets the next
 * call. */
static void test_caller_unreachable_not_in_the_way(void **state)
{
	struct fx *f = setup();
	const struct fx_sent *s;

	(void)state;
	call(f, "alice", CALLER, "2002", "uo@a", "fa", "Record-Route: <sip:sbc.elsewhere.test;lr>\n", "tb");
	call(f, "carol", CALLER2, "2001", "uo@c", "fc", NULL, "tc");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "puo1", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	/* a copy of that INVITE (the 503 lost, or crossing it): dropped, it
	 * does not take carol's call in a transaction already answered */
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "puo1", NULL), 0);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_DROP_RETRANS], 1);
	assert_int_equal(call_state(f, "uo@c", "fc"), PK_CALLTAB_RINGING);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "puo2", NULL), 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER2, PK_TRANSPORT_UDP);
	assert_true(fx_has_line(s, "Replaces: uo@c;to-tag=fc;from-tag=tc;early-only"));
	assert_int_equal(call_state(f, "uo@a", "fa"), -1);
	/* the directed pickup of that callee: nothing left to pick up */
	assert_int_equal(pickup(f, "2003", PICKER, "**2002", "puo3", NULL), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 480 ", 12);
	/* its caller's CANCEL still reaches the callee */
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-uo@a;rport\n"
			       "Max-Forwards: 70\n"
			       "Record-Route: <sip:sbc.elsewhere.test;lr>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: uo@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	fx_assert_dst(fx_last(f), "192.0.2.22:5062", PK_TRANSPORT_UDP);
	assert_int_equal(fx_count_lines(fx_last(f), "Reason:"), 0);
	fx_free(f);
}

/* Every claim record taken (64 with the fixture's table): the next
 * picker gets 503 and the call it would have had still rings; a
 * retransmission of a pickup that holds a claim still reaches its
 * caller, byte for byte. */
static void test_claim_records_full(void **state)
{
	struct fx *f = setup();
	char cid[32], pcid[32], first[8192];
	uint32_t first_len = 0;
	const struct fx_sent *s;
	unsigned i;

	(void)state;
	for (i = 0; i < 65; i++) {
		forget_sent(f);
		snprintf(cid, sizeof(cid), "cf%u@a", i);
		call(f, "alice", CALLER, "2002", cid, "fa", NULL, "tb");
	}
	for (i = 0; i < 64; i++) {
		forget_sent(f);
		snprintf(pcid, sizeof(pcid), "pcf%u", i);
		assert_int_equal(pickup(f, "2003", PICKER, "*801", pcid, NULL), 1);
		assert_memory_equal(fx_last(f)->data, "INVITE sip:alice@", 17);
		if (i == 0) {
			first_len = fx_last(f)->len;
			memcpy(first, fx_last(f)->data, first_len);
		}
	}
	assert_int_equal(call_state(f, "cf64@a", "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pcf64", NULL), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	assert_true(fx_has_line(s, "Warning: 399 127.0.0.1 \"Too many pickups in progress\""));
	assert_int_equal(call_state(f, "cf64@a", "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CLAIM_FULL], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ATTEMPTS], 65);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pcf0", NULL), 1);
	assert_int_equal(fx_last(f)->len, first_len);
	assert_memory_equal(fx_last(f)->data, first, first_len);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_RETRANS], 1);
	fx_free(f);
}

/* A copy of the pickup INVITE after its call ended (the caller's CANCEL of
 * its original INVITE came first): it claims nothing, nothing is sent. */
static void test_retrans_after_call_ended(void **state)
{
	struct fx *f = setup();
	unsigned before;

	(void)state;
	call(f, "alice", CALLER, "2002", "ce@a", "fa", NULL, "tb");
	call(f, "carol", CALLER2, "2001", "ce@c", "fc", NULL, "tc");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pce", NULL), 1);
	assert_true(fx_has_line(fx_last(f), "Replaces: ce@a;to-tag=fa;from-tag=tb;early-only"));
	assert_int_equal(fx_rx(f,
			       "CANCEL sip:2002@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " CALLER ";branch=z9hG4bK-ce@a;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:2002@example.test>\n"
			       "Call-ID: ce@a\n"
			       "CSeq: 1 CANCEL\n",
			       CALLER),
			 1);
	assert_int_equal(call_state(f, "ce@a", "fa"), -1);
	before = fx_nsent(f);
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pce", NULL), 0);
	assert_int_equal(fx_nsent(f), before);
	assert_int_equal(call_state(f, "ce@c", "fc"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_DROP_RETRANS], 1);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_DROP_PROXY], 1);
	fx_free(f);
}

/* The caller's 200 to the pickup INVITE retransmitted (RFC 3261 §13.3.1.4,
 * until the picker's ACK): every copy reaches the picker; the first
 * settled the claim, the others are counted late. */
static void test_2xx_retransmitted(void **state)
{
	struct fx *f = setup();
	char resp[4096];

	(void)state;
	call(f, "alice", CALLER, "2002", "r2@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pr2", NULL), 1);
	fx_response(fx_last(f), 200, "OK", "ta", "Contact: <sip:alice@192.0.2.10:5070>\n", resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(f->io.q.sent[fx_nsent(f) - 2].len, fx_last(f)->len);
	assert_memory_equal(f->io.q.sent[fx_nsent(f) - 2].data, fx_last(f)->data, fx_last(f)->len);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SUCCEEDED], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SETTLE_LATE], 1);
	assert_int_equal(call_state(f, "r2@a", "fa"), -1);
	fx_free(f);
}

/* A picker transaction key longer than the table keeps (Call-ID and
 * branch over 220 bytes: hashed): the claim, its retransmission, the
 * picker's CANCEL, the caller's 487 and the ACK all find the same claim. */
static void test_long_picker_key(void **state)
{
	struct fx *f = setup();
	char pcid[160], msg[2048], resp[4096];
	const struct fx_sent *s;
	unsigned inv;

	(void)state;
	memset(pcid, 'k', sizeof(pcid) - 1);
	pcid[sizeof(pcid) - 1] = '\0';
	call(f, "alice", CALLER, "2002", "lk@a", "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", pcid, NULL), 1);
	inv = fx_nsent(f) - 1;
	assert_true(fx_has_line(fx_last(f), "Replaces: lk@a;to-tag=fa;from-tag=tb;early-only"));
	assert_int_equal(pickup(f, "2003", PICKER, "*801", pcid, NULL), 1);
	assert_int_equal(fx_last(f)->len, f->io.q.sent[inv].len);
	assert_memory_equal(fx_last(f)->data, f->io.q.sent[inv].data, fx_last(f)->len);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_RETRANS], 1);
	snprintf(msg, sizeof(msg),
		 "CANCEL sip:*801@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\n"
		 "To: <sip:*801@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 7 CANCEL\n",
		 pcid, pcid, pcid);
	assert_int_equal(fx_rx(f, msg, PICKER), 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "CANCEL sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 42);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_CANCEL], 1);
	fx_response(&f->io.q.sent[inv], 487, "Request Terminated", "tx", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	fx_assert_dst(fx_last(f), PICKER, PK_TRANSPORT_UDP);
	assert_int_equal(call_state(f, "lk@a", "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_REJECTED_OTHER], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_SETTLE_LATE], 0);
	snprintf(msg, sizeof(msg),
		 "ACK sip:*801@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-%s;rport\n"
		 "Max-Forwards: 70\n"
		 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\n"
		 "To: <sip:*801@example.test>;tag=tx\n"
		 "Call-ID: %s\n"
		 "CSeq: 7 ACK\n",
		 pcid, pcid, pcid);
	assert_int_equal(fx_rx(f, msg, PICKER), 1);
	s = fx_last(f);
	fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "ACK sip:alice@192.0.2.10:5070 SIP/2.0\r\n", 39);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK], 1);
	fx_free(f);
}

/* The ACK of a failure answer when the call's Call-ID and From-tag exceed
 * the 192 bytes the ended-claim memory keeps: dropped (documented, §5.4),
 * while the call rings again as usual. */
static void test_ack_long_call_dropped(void **state)
{
	struct fx *f = setup();
	char cid[200], resp[4096];

	(void)state;
	memset(cid, 'c', sizeof(cid) - 1);
	cid[sizeof(cid) - 1] = '\0';
	call(f, "alice", CALLER, "2002", cid, "fa", NULL, "tb");
	assert_int_equal(pickup(f, "2003", PICKER, "*801", "pal", NULL), 1);
	fx_response(fx_last(f), 486, "Busy Here", "tx", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, CALLER), 1);
	assert_int_equal(call_state(f, cid, "fa"), PK_CALLTAB_RINGING);
	assert_int_equal(fx_rx(f,
			       "ACK sip:*801@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-pal;rport\n"
			       "Max-Forwards: 70\n"
			       "From: \"Picker\" <sip:2003@example.test>;tag=fp-pal\n"
			       "To: <sip:*801@example.test>;tag=tx\n"
			       "Call-ID: pal\n"
			       "CSeq: 7 ACK\n",
			       PICKER),
			 0);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK_DROPPED], 1);
	assert_int_equal(f->w->pickup_ctr[PK_PICKUP_CTR_ACK], 0);
	fx_free(f);
}

/* Served domains of every length the picker's From host is compared at
 * (3: bytewise; 5: two 4-byte loads; 29: bytewise): the From host written
 * as the Request-URI's domain is that domain; one byte off, it is not. */
static void test_picker_domain_lengths(void **state)
{
	static const char groups[] = "settings:\n"
				     "  domains: [example.test, abc, ab.cd, a-very-long-domain.example.org]\n"
				     "groups:\n"
				     "  - number: \"*801\"\n"
				     "    members: [\"2002\", \"2003@abc\", \"2003@ab.cd\",\n"
				     "              \"2003@a-very-long-domain.example.org\"]\n";
	static const struct {
		const char *ruri_domain, *from_host;
		bool member;
	} cases[] = {
		{ "abc", "abc", true },
		{ "abc", "abd", false },
		{ "ab.cd", "ab.cd", true },
		{ "ab.cd", "ab.ce", false },
		{ "ab.cd", "ac.cd", false },
		{ "a-very-long-domain.example.org", "a-very-long-domain.example.org", true },
		{ "a-very-long-domain.example.org", "a-very-long-domaim.example.org", false },
	};
	struct fx *f = fx_new_with(fx_default_engine, groups);

	(void)state;
	fx_register(f, "2002", "sip:2002@192.0.2.22:5062", "192.0.2.22:5062", PK_TRANSPORT_UDP, 0);
	/* a refused picker leaves its call ringing: the next one takes it */
	for (unsigned i = 0, oldest = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char inv[1024], cid[32], pcid[32], repl[64];
		const struct fx_sent *s;

		snprintf(cid, sizeof(cid), "dl%u@a", i);
		snprintf(pcid, sizeof(pcid), "pdl%u", i);
		call(f, "alice", CALLER, "2002", cid, "fa", NULL, "tb");
		snprintf(inv, sizeof(inv),
			 "INVITE sip:*801@%s SIP/2.0\n"
			 "Via: SIP/2.0/UDP " PICKER ";branch=z9hG4bK-p-%s;rport\n"
			 "Max-Forwards: 70\n"
			 "From: <sip:2003@%s>;tag=fp\n"
			 "To: <sip:*801@%s>\n"
			 "Call-ID: %s\n"
			 "CSeq: 7 INVITE\n"
			 "Contact: <sip:2003@" PICKER ">\n",
			 cases[i].ruri_domain, pcid, cases[i].from_host, cases[i].ruri_domain, pcid);
		assert_int_equal(fx_rx(f, inv, PICKER), 1);
		s = fx_last(f);
		if (cases[i].member) {
			fx_assert_dst(s, CALLER, PK_TRANSPORT_UDP);
			snprintf(repl, sizeof(repl), "Replaces: dl%u@a;to-tag=fa;from-tag=tb;early-only", oldest);
			assert_true(fx_has_line(s, repl));
			snprintf(cid, sizeof(cid), "dl%u@a", oldest++);
			assert_int_equal(call_state(f, cid, "fa"), PK_CALLTAB_CLAIMED);
		} else {
			assert_memory_equal(s->data, "SIP/2.0 403 Forbidden\r\n", 23);
			assert_int_equal(call_state(f, cid, "fa"), PK_CALLTAB_RINGING);
		}
	}
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pickup_by_group_number),
		cmocka_unit_test(test_pickup_route_set_and_picker_routes),
		cmocka_unit_test(test_pickup_code_and_order),
		cmocka_unit_test(test_directed_pickup),
		cmocka_unit_test(test_forbidden_and_nothing),
		cmocka_unit_test(test_picker_from_host),
		cmocka_unit_test(test_self_pickup_refused),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_retransmission_after_answer),
		cmocka_unit_test(test_claim_timeout),
		cmocka_unit_test(test_cancel_without_pickup),
		cmocka_unit_test(test_cancel_crossing_the_200),
		cmocka_unit_test(test_picker_cancel_and_ack),
		cmocka_unit_test(test_picker_cancel_after_caller_cancel),
		cmocka_unit_test(test_picker_cancel_after_caller_cancel_unanswered),
		cmocka_unit_test(test_caller_cancel_after_picker_cancel),
		cmocka_unit_test(test_picker_cancel_after_the_200),
		cmocka_unit_test(test_tcp_caller),
		cmocka_unit_test(test_tracking_only_ring_members),
		cmocka_unit_test(test_late_invite_copy_after_pickup),
		cmocka_unit_test(test_pkc_either_case),
		cmocka_unit_test(test_caller_aor_case),
		cmocka_unit_test(test_caller_invite_retransmitted),
		cmocka_unit_test(test_untrackable_invite),
		cmocka_unit_test(test_sips_caller_not_tracked),
		cmocka_unit_test(test_table_full_not_tracked),
		cmocka_unit_test(test_picker_route_caller_without_rr),
		cmocka_unit_test(test_caller_unreachable),
		cmocka_unit_test(test_caller_unreachable_not_in_the_way),
		cmocka_unit_test(test_claim_records_full),
		cmocka_unit_test(test_retrans_after_call_ended),
		cmocka_unit_test(test_2xx_retransmitted),
		cmocka_unit_test(test_long_picker_key),
		cmocka_unit_test(test_ack_long_call_dropped),
		cmocka_unit_test(test_picker_domain_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
