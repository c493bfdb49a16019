/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the stateless proxy (dataplane/proxy/proxy.c,
 * docs/sip-behaviour.md §1-4), through the real worker pipeline and handler
 * table with a recording I/O queue (proxy_fixture.h): what a peer receives,
 * byte for byte, and where it is sent.
 *
 * Requests: our Via on top with a deterministic branch (the same for an
 * INVITE, its CANCEL, the ACK of a non-2xx answer and retransmissions,
 * different for another transaction), received/rport written into the
 * client's Via, Max-Forwards decremented or added, our Route popped, the
 * strict-router swap, routing to a registered contact's source address, the
 * next hop, the Request-URI's address; answers 483, 482 (a request that
 * comes back unchanged), 416, 420 with Unsupported, 404 for an unregistered
 * user and an unknown domain, 480 with warn-code 380 for a sips: target
 * (never sent in the clear); Record-Route when configured. Responses:
 * routed by the second Via with received/rport, 100 Trying forwarded, a
 * response not for us dropped, TCP responses back on their connection
 * (also when the client's Via says TLS).
 */
#include <arpa/inet.h>

#include "proxy_fixture.h"

static const char invite_5555[] = "INVITE sip:5555@example.test SIP/2.0\n"
				  "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport\n"
				  "Max-Forwards: 70\n"
				  "From: \"Alice\" <sip:alice@example.test>;tag=fa\n"
				  "To: <sip:5555@example.test>\n"
				  "Call-ID: c1@192.0.2.10\n"
				  "CSeq: 1 INVITE\n"
				  "Contact: <sip:alice@192.0.2.10:5070>\n";

static struct fx *fx_reg(void)
{
	struct fx *f = fx_new();

	/* 5555 (in no pickup group) registered from behind a NAT */
	fx_register(f, "5555", "sip:5555@10.1.1.55:5062", "198.51.100.55:40055", PK_TRANSPORT_UDP, 0);
	return f;
}

static struct pk_str branch_of(struct fx *f, const struct fx_sent *s)
{
	static char b[128];
	const struct pk_sip_msg *m = fx_scan(f, s);

	assert_true(m->nvia >= 1 && m->via[0].branch.len < sizeof(b));
	memcpy(b, m->via[0].branch.p, m->via[0].branch.len);
	return pk_str_make(b, m->via[0].branch.len);
}

static void test_invite_to_registered_contact(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;
	const struct pk_sip_msg *m;
	struct pk_str b;

	(void)state;
	assert_int_equal(fx_rx(f, invite_5555, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	/* to the REGISTER's source (NAT), Request-URI = the registered contact */
	fx_assert_dst(s, "198.51.100.55:40055", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, 0);
	assert_memory_equal(s->data, "INVITE sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 40);
	m = fx_scan(f, s);
	assert_int_equal(m->nvia, 2);
	/* ours on top: sent-by our listener, deterministic branch, rport */
	b = branch_of(f, s);
	assert_int_equal(b.len, PK_PROXY_BRANCH_LEN);
	assert_memory_equal(b.p, "z9hG4bKpk", 9);
	assert_int_equal(b.p[25], '.');
	{
		char want[160];

		snprintf(want, sizeof(want), "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%.*s;rport", (int)b.len, b.p);
		assert_string_equal(fx_line(s, "Via: "), want);
	}
	/* the client's Via: rport filled in, received added (RFC 3581) */
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport=5070;received=192.0.2.10") ||
		    fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;received=192.0.2.10;rport=5070"));
	assert_true(fx_has_line(s, "Max-Forwards: 69"));
	assert_int_equal(fx_count_lines(s, "Max-Forwards:"), 1);
	/* the rest untouched, no Record-Route by default */
	assert_true(fx_has_line(s, "From: \"Alice\" <sip:alice@example.test>;tag=fa"));
	assert_true(fx_has_line(s, "Contact: <sip:alice@192.0.2.10:5070>"));
	assert_int_equal(fx_count_lines(s, "Record-Route:"), 0);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_FORWARDED], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_LOCATION], 1);
	fx_free(f);
}

/* Whole message bytes from "\n"-separated headers (CRLF line ends,
 * Content-Length added), or as they are when bare_lf. */
static size_t burst_msg(char *out, size_t cap, const char *hdrs, bool bare_lf)
{
	size_t n = 0;

	for (const char *p = hdrs; *p != '\0' && n + 2 < cap; p++) {
		if (*p == '\n' && !bare_lf)
			out[n++] = '\r';
		out[n++] = *p;
	}
	n += (size_t)snprintf(out + n, cap - n, bare_lf ? "Content-Length: 0\n\n" : "Content-Length: 0\r\n\r\n");
	return n;
}

/*
 * The worker scans a whole burst before it handles the first message
 * (worker.c): what goes out must be exactly what the same messages give
 * one at a time -- the same bytes, to the same places, in the same order --
 * with every kind of outcome in one burst: forwarded, answered by pickupd,
 * rejected by the scanner, declined to the libosip2 slow path (bare LF
 * line ends), a response dropped, and more messages than one burst holds.
 */
static void test_burst_same_as_one_by_one(void **state)
{
	static const char *const kinds[] = {
		/* forwarded to the registered contact */
		"INVITE sip:5555@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-b%u;rport\n"
		"Max-Forwards: 70\n"
		"From: \"Alice\" <sip:alice@example.test>;tag=fa%u\n"
		"To: <sip:5555@example.test>\n"
		"Call-ID: burst%u@192.0.2.10\n"
		"CSeq: 1 INVITE\n"
		"Contact: <sip:alice@192.0.2.10:5070>\n",
		/* CSeq method differs from the request's: 400 */
		"INVITE sip:5555@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.11:5070;branch=z9hG4bK-x%u\n"
		"Max-Forwards: 70\n"
		"From: <sip:bob@example.test>;tag=fb%u\n"
		"To: <sip:5555@example.test>\n"
		"Call-ID: bad%u@192.0.2.11\n"
		"CSeq: 1 BYE\n",
		/* unknown user: 404 */
		"INVITE sip:7777@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.12:5070;branch=z9hG4bK-u%u\n"
		"Max-Forwards: 70\n"
		"From: <sip:carol@example.test>;tag=fc%u\n"
		"To: <sip:7777@example.test>\n"
		"Call-ID: nobody%u@192.0.2.12\n"
		"CSeq: 7 INVITE\n"
		"Contact: <sip:carol@192.0.2.12:5070>\n",
		/* bare LF line ends: the slow path, then forwarded */
		"INVITE sip:5555@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.13:5070;branch=z9hG4bK-l%u\n"
		"Max-Forwards: 70\n"
		"From: <sip:dave@example.test>;tag=fd%u\n"
		"To: <sip:5555@example.test>\n"
		"Call-ID: lf%u@192.0.2.13\n"
		"CSeq: 1 INVITE\n"
		"Contact: <sip:dave@192.0.2.13:5070>\n",
		/* a response that is not ours (its top Via is not pickupd's): dropped */
		"SIP/2.0 180 Ringing\n"
		"Via: SIP/2.0/UDP 192.0.2.14:5070;branch=z9hG4bK-r%u\n"
		"From: <sip:erin@example.test>;tag=fe%u\n"
		"To: <sip:5555@example.test>;tag=t\n"
		"Call-ID: resp%u@192.0.2.14\n"
		"CSeq: 1 INVITE\n",
		/* the first INVITE's CANCEL: routed like it */
		"CANCEL sip:5555@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-b%u;rport\n"
		"Max-Forwards: 70\n"
		"From: \"Alice\" <sip:alice@example.test>;tag=fa%u\n"
		"To: <sip:5555@example.test>\n"
		"Call-ID: burst%u@192.0.2.10\n"
		"CSeq: 1 CANCEL\n",
	};
	static const char *const srcs[] = { "192.0.2.10:5070", "192.0.2.11:5070", "192.0.2.12:5070",
					    "192.0.2.13:5070", "192.0.2.14:5070", "192.0.2.10:5070" };
	enum { NK = sizeof(kinds) / sizeof(kinds[0]), N = 7 * NK }; /* 42: more than one burst */
	char bufs[N][1024], hdrs[1024];
	char *msgs[N];
	size_t lens[N];
	const char *from[N];
	struct fx *one = fx_reg(), *burst = fx_reg();
	unsigned sent_one = 0, sent_burst;

	(void)state;
	_Static_assert(N > PK_IO_BURST, "the burst must be cut in two");
	for (unsigned i = 0; i < N; i++) {
		unsigned k = i % NK, r = i / NK;

		snprintf(hdrs, sizeof(hdrs), kinds[k], r, r, r);
		lens[i] = burst_msg(bufs[i], sizeof(bufs[i]), hdrs, k == 3);
		msgs[i] = bufs[i];
		from[i] = srcs[k];
	}
	/* one at a time (copies: the worker may keep nothing past its call) */
	for (unsigned i = 0; i < N; i++) {
		char copy[1024];
		char *pc = copy;

		memcpy(copy, bufs[i], lens[i]);
		sent_one += fx_rx_burst(one, 1, &pc, &lens[i], &from[i]);
	}
	sent_burst = fx_rx_burst(burst, N, msgs, lens, from);
	/* 5 of the 6 kinds answer or forward: only the 180 is dropped */
	assert_int_equal(sent_one, 5 * 7);
	assert_int_equal(sent_burst, sent_one);
	for (unsigned i = 0; i < sent_one; i++) {
		const struct fx_sent *a = &one->io.q.sent[i], *b = &burst->io.q.sent[i];

		assert_int_equal(a->len, b->len);
		assert_memory_equal(a->data, b->data, a->len);
		assert_true(pk_addr_eq(&a->dst, &b->dst));
	}
	/* and what went out is what each kind asks for, in arrival order */
	for (unsigned r = 0, i = 0; r < 7; r++) {
		assert_memory_equal(burst->io.q.sent[i++].data, "INVITE sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 40);
		assert_memory_equal(burst->io.q.sent[i++].data, "SIP/2.0 400 ", 12);
		assert_memory_equal(burst->io.q.sent[i++].data, "SIP/2.0 404 ", 12);
		assert_memory_equal(burst->io.q.sent[i++].data, "INVITE sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 40);
		assert_memory_equal(burst->io.q.sent[i++].data, "CANCEL sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 40);
	}
	/* every counter moved as it did one message at a time */
	assert_memory_equal(one->w->ctr, burst->w->ctr, sizeof(one->w->ctr));
	assert_memory_equal(one->w->rejects, burst->w->rejects, sizeof(one->w->rejects));
	assert_memory_equal(one->w->proxy_ctr, burst->w->proxy_ctr, sizeof(one->w->proxy_ctr));
	assert_memory_equal(one->w->pickup_ctr, burst->w->pickup_ctr, sizeof(one->w->pickup_ctr));
	assert_int_equal(burst->w->ctr[PK_WORKER_CTR_SLOW_PATH], 7);
	assert_int_equal(burst->w->ctr[PK_WORKER_CTR_RX], N);
	fx_free(one);
	fx_free(burst);
}

static void test_branch_deterministic(void **state)
{
	struct fx *f = fx_reg();
	char first[8192], inv_branch[64], buf[2048];
	uint32_t first_len;
	struct pk_str b;

	(void)state;
	fx_rx(f, invite_5555, "192.0.2.10:5070");
	first_len = fx_last(f)->len;
	memcpy(first, fx_last(f)->data, first_len);
	b = branch_of(f, fx_last(f));
	memcpy(inv_branch, b.p, b.len);
	inv_branch[b.len] = '\0';

	/* a retransmission: the very same bytes, same place */
	fx_rx(f, invite_5555, "192.0.2.10:5070");
	assert_int_equal(fx_last(f)->len, first_len);
	assert_memory_equal(fx_last(f)->data, first, first_len);

	/* its CANCEL: same branch, same destination, Request-URI rewritten the same */
	fx_rx(f,
	      "CANCEL sip:5555@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: \"Alice\" <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:5555@example.test>\n"
	      "Call-ID: c1@192.0.2.10\n"
	      "CSeq: 1 CANCEL\n",
	      "192.0.2.10:5070");
	b = branch_of(f, fx_last(f));
	assert_int_equal(b.len, strlen(inv_branch));
	assert_memory_equal(b.p, inv_branch, b.len);
	fx_assert_dst(fx_last(f), "198.51.100.55:40055", PK_TRANSPORT_UDP);
	assert_memory_equal(fx_last(f)->data, "CANCEL sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 40);

	/* the ACK of a non-2xx answer carries the answer's To-tag: same branch */
	fx_rx(f,
	      "ACK sip:5555@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: \"Alice\" <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:5555@example.test>;tag=busy-b\n"
	      "Call-ID: c1@192.0.2.10\n"
	      "CSeq: 1 ACK\n",
	      "192.0.2.10:5070");
	b = branch_of(f, fx_last(f));
	assert_memory_equal(b.p, inv_branch, b.len);

	/* another transaction (new branch): another branch */
	snprintf(buf, sizeof(buf), "%s", invite_5555);
	memcpy(strstr(buf, "z9hG4bK-a1"), "z9hG4bK-a2", 10);
	fx_rx(f, buf, "192.0.2.10:5070");
	b = branch_of(f, fx_last(f));
	assert_int_equal(b.len, PK_PROXY_BRANCH_LEN);
	assert_memory_not_equal(b.p, inv_branch, 25);
	/* same Request-URI, Call-ID, CSeq, From-tag: the loop part is the same */
	assert_memory_equal(b.p + 26, inv_branch + 26, 8);
	fx_free(f);
}

/* An INVITE for test_branch_hash_lengths: From-tag (NULL: none), Call-ID. */
static const char *branch_invite(char *buf, size_t cap, const char *tag, const char *id)
{
	snprintf(buf, cap,
		 "INVITE sip:5555@example.test SIP/2.0\n"
		 "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>%s%s\n"
		 "To: <sip:5555@example.test>\n"
		 "Call-ID: %s\n"
		 "CSeq: 1 INVITE\n",
		 tag != NULL ? ";tag=" : "", tag != NULL ? tag : "", id);
	return buf;
}

/*
 * The branch hash over fields of every length its tail reads handle
 * (0-3, 4-8, 9-16 bytes, more than 16): each Call-ID and From-tag length
 * gives another branch, a retransmission the same one, and fields that
 * differ in one byte (at any place) or only in where one ends and the
 * next begins give different ones.
 */
static void test_branch_hash_lengths(void **state)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	enum { N = 40 + 41 + 44 + 2 };
	struct fx *f = fx_reg();
	char (*seen)[PK_PROXY_BRANCH_LEN] = calloc(N, PK_PROXY_BRANCH_LEN);
	char buf[2048], id[64], tag[64];
	unsigned n = 0;

	(void)state;
	assert_non_null(seen);
	for (unsigned i = 0; i < N; i++) {
		struct pk_str b;
		const char *t = "fa";

		f->io.q.nsent = 0; /* the recording holds 64 messages */
		memset(id, 0, sizeof(id));
		memset(tag, 0, sizeof(tag));
		if (i < 40) { /* Call-ID of 1..40 bytes */
			memcpy(id, alnum, i + 1);
		} else if (i < 81) { /* From-tag of 0 (none)..40 bytes */
			memcpy(id, "c1", 2);
			memcpy(tag, alnum + 3, i - 40);
			t = i == 40 ? NULL : tag;
		} else if (i < 125) { /* a 44-byte Call-ID (16+16+12) with one byte changed */
			memcpy(id, alnum, 44);
			id[i - 81] = '#';
		} else { /* From-tag + Call-ID "ab"+"c1x", then "abc"+"1x" */
			memcpy(tag, i == 125 ? "ab" : "abc", i == 125 ? 2 : 3);
			memcpy(id, i == 125 ? "c1x" : "1x", i == 125 ? 3 : 2);
			t = tag;
		}
		branch_invite(buf, sizeof(buf), t, id);
		assert_int_equal(fx_rx(f, buf, "192.0.2.10:5070"), 1);
		b = branch_of(f, fx_last(f));
		assert_int_equal(b.len, PK_PROXY_BRANCH_LEN);
		assert_memory_equal(b.p, "z9hG4bKpk", 9);
		for (unsigned k = 9; k < PK_PROXY_BRANCH_LEN; k++)
			if (k != 25 && !((b.p[k] >= '0' && b.p[k] <= '9') || (b.p[k] >= 'a' && b.p[k] <= 'f')))
				fail_msg("branch %.*s: not lowercase hex at %u", (int)b.len, b.p, k);
		memcpy(seen[n++], b.p, b.len);
		/* a retransmission: the same branch */
		assert_int_equal(fx_rx(f, buf, "192.0.2.10:5070"), 1);
		b = branch_of(f, fx_last(f));
		assert_memory_equal(b.p, seen[n - 1], PK_PROXY_BRANCH_LEN);
	}
	/* every transaction its own branch, in the txn part and the loop part
	 * (32 bits: a chance collision among 127 is about 2^-19) */
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++) {
			assert_memory_not_equal(seen[i] + 9, seen[j] + 9, 16);
			assert_memory_not_equal(seen[i] + 26, seen[j] + 26, 8);
		}
	free(seen);
	fx_free(f);
}

/* received= written for sources whose octets have 1, 2 and 3 digits,
 * with 0, 10, 100, 199, 200 and 255 (the edges of each width). */
static void test_received_octets(void **state)
{
	static const char *const src[] = { "100.20.0.255", "9.10.99.199", "200.0.1.254", "1.2.3.4" };
	struct fx *f = fx_reg();
	char want[128], from[64];

	(void)state;
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		f->io.q.nsent = 0;
		snprintf(from, sizeof(from), "%s:5070", src[i]);
		assert_int_equal(fx_rx(f, invite_5555, from), 1);
		snprintf(want, sizeof(want), "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport=5070;received=%s",
			 src[i]);
		assert_true(fx_has_line(fx_last(f), want));
	}
	/* every octet value, in each position */
	for (unsigned v = 0; v < 256; v++) {
		unsigned a[4] = { 10, v, 200, v };

		a[v % 4] = v ? v : 1;
		f->io.q.nsent = 0;
		snprintf(from, sizeof(from), "%u.%u.%u.%u:5070", a[0], a[1], a[2], a[3]);
		assert_int_equal(fx_rx(f, invite_5555, from), 1);
		snprintf(want, sizeof(want),
			 "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport=5070;received=%u.%u.%u.%u",
			 a[0], a[1], a[2], a[3]);
		assert_true(fx_has_line(fx_last(f), want));
	}
	fx_free(f);
}

/* worker.c's To-tag, written out plainly: per line (Call-ID, From, top
 * Via) the value's 16-byte blocks but the last (1-16 bytes) folded into the
 * state with a keyed 64x64->128 multiply-fold, the last block read as two
 * (possibly overlapping) words, the length times a constant in the final
 * fold's other operand; keyed by
 * the engine's secret, mixed, as 16 lowercase hex digits. */
static uint64_t ref_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t ref_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t ref_word(const char *p, size_t n)
{
	uint64_t w = 0;

	memcpy(&w, p, n);
	return w;
}

static uint64_t ref_tag_line(uint64_t k, uint64_t h, const char *v)
{
	size_t len = strlen(v), n = len;
	uint64_t a = 0, b = 0;

	while (n > 16) {
		h = ref_fold(ref_word(v, 8) ^ k, ref_word(v + 8, 8) ^ h);
		v += 16;
		n -= 16;
	}
	if (n > 8) {
		a = ref_word(v, 8);
		b = ref_word(v + n - 8, 8);
	} else if (n >= 4) {
		a = ref_word(v, 4) << 32 | ref_word(v + n - 4, 4);
	} else if (n > 0) {
		a = (uint64_t)(uint8_t)v[0] << 16 | (uint64_t)(uint8_t)v[n / 2] << 8 | (uint8_t)v[n - 1];
	}
	return ref_fold(a ^ k, b ^ h ^ 0x9fb21c651e98df25ull ^ (uint64_t)len * 0x9e3779b97f4a7c15ull);
}

static uint64_t ref_tag(uint64_t secret, const char *cid, const char *from, const char *via)
{
	uint64_t k = ref_mix(secret) | 1;

	return ref_mix(ref_tag_line(k, ref_tag_line(k, ref_tag_line(k, secret, cid), from), via));
}

/* Our To-tag on an answer (a 483 here) is that hash, whatever the lengths
 * of the lines (every tail length of the 16-byte steps), and requests that
 * differ get different tags; a retransmission gets the same tag. */
static void test_answer_to_tag(void **state)
{
	struct fx *f = fx_new();
	char msg[1024], cid[64], from[128], via[128], want[17], seen[24][17];

	(void)state;
	for (unsigned n = 0; n < 24; n++) {
		const struct fx_sent *s;
		const char *t;

		snprintf(cid, sizeof(cid), "%.*s@192.0.2.10", (int)n + 1, "0123456789abcdefghijklmnopqrstuvwxyz");
		snprintf(from, sizeof(from), "<sip:alice@example.test>;tag=%.*s", (int)(n % 9) + 1, "ABCDEFGHIJ");
		snprintf(via, sizeof(via), "SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-%.*s;rport", (int)n / 2 + 1,
			 "klmnopqrstuvwxyz");
		snprintf(msg, sizeof(msg),
			 "INVITE sip:5555@example.test SIP/2.0\nVia: %s\nMax-Forwards: 0\nFrom: %s\n"
			 "To: <sip:5555@example.test>\nCall-ID: %s\nCSeq: 1 INVITE\n",
			 via, from, cid);
		assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
		s = fx_last(f);
		assert_memory_equal(s->data, "SIP/2.0 483 ", 12);
		t = strstr(s->data, "\r\nTo: <sip:5555@example.test>;tag=");
		assert_non_null(t);
		t += strlen("\r\nTo: <sip:5555@example.test>;tag=");
		snprintf(want, sizeof(want), "%016llx",
			 (unsigned long long)ref_tag(0x1234567890abcdefull, cid, from, via));
		assert_memory_equal(t, want, 16);
		assert_memory_equal(t + 16, "\r\n", 2);
		for (unsigned j = 0; j < n; j++)
			assert_memory_not_equal(seen[j], t, 16);
		memcpy(seen[n], t, 16);
		assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
		t = strstr(fx_last(f)->data, "\r\nTo: <sip:5555@example.test>;tag=");
		assert_non_null(t);
		assert_memory_equal(t + strlen("\r\nTo: <sip:5555@example.test>;tag="), want, 16);
	}
	fx_free(f);
}

/* Values of different lengths whose bytes cancel the length's bits once
 * gave one tag ("bccc" and "bbccc", whatever the secret): they do not. */
static void test_to_tag_lengths_apart(void **state)
{
	static const char *const cids[] = { "bccc", "bbccc", "ccc", "bbbccc" };
	struct fx *f = fx_new();
	char msg[512], tags[4][17];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		const char *t;

		snprintf(msg, sizeof(msg),
			 "INVITE sip:5555@example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-l\n"
			 "Max-Forwards: 0\nFrom: <sip:alice@example.test>;tag=fa\n"
			 "To: <sip:5555@example.test>\nCall-ID: %s\nCSeq: 1 INVITE\n",
			 cids[i]);
		assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
		t = strstr(fx_last(f)->data, "\r\nTo: <sip:5555@example.test>;tag=");
		assert_non_null(t);
		memcpy(tags[i], t + strlen("\r\nTo: <sip:5555@example.test>;tag="), 16);
		tags[i][16] = '\0';
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(tags[i], tags[k]);
	}
	fx_free(f);
}

static void test_max_forwards(void **state)
{
	struct fx *f = fx_reg();
	char buf[2048];
	const struct fx_sent *s;

	(void)state;
	/* absent: added as 69 */
	snprintf(buf, sizeof(buf), "%s", invite_5555);
	memcpy(strstr(buf, "Max-Forwards: 70\n"), "X-Padding-Ab: 70\n", 17);
	fx_rx(f, buf, "192.0.2.10:5070");
	assert_true(fx_has_line(fx_last(f), "Max-Forwards: 69"));

	/* 1: forwarded with 0 */
	memcpy(strstr(buf, "X-Padding-Ab: 70\n"), "Max-Forwards: 01\n", 17);
	fx_rx(f, buf, "192.0.2.10:5070");
	assert_true(fx_has_line(fx_last(f), "Max-Forwards: 0"));

	/* 0: 483, back to the sender (rport: its source port) */
	memcpy(strstr(buf, "Max-Forwards: 01\n"), "Max-Forwards: 00\n", 17);
	assert_int_equal(fx_rx(f, buf, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 483 Too Many Hops\r\n", 27);
	fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_483], 1);
	fx_free(f);
}

static void test_checks_416_420(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;
	char buf[2048];

	(void)state;
	fx_rx(f,
	      "INVITE im:5555@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-s1\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <im:5555@example.test>\n"
	      "Call-ID: c416\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 416 Unsupported URI Scheme\r\n", 36);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_416], 1);

	snprintf(buf, sizeof(buf), "%sProxy-Require: foo, replaces\n", invite_5555);
	fx_rx(f, buf, "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 420 Bad Extension\r\n", 27);
	assert_true(fx_has_line(s, "Unsupported: foo, replaces"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_420], 1);
	fx_free(f);
}

static void test_loop_482(void **state)
{
	struct fx *f = fx_reg();
	static const char inv[] = "INVITE sip:bob@192.0.2.99:5090 SIP/2.0\n"
				  "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-l1;rport\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:alice@example.test>;tag=fa\n"
				  "To: <sip:bob@192.0.2.99>\n"
				  "Call-ID: loop-1\n"
				  "CSeq: 1 INVITE\n";
	char again[8192];
	const struct fx_sent *s;
	size_t n = 0;

	(void)state;
	assert_int_equal(fx_rx(f, inv, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.99:5090", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE sip:bob@192.0.2.99:5090 SIP/2.0\r\n", 40);
	/* the next hop sends it straight back, unchanged (but for its own Via) */
	n += (size_t)snprintf(again + n, sizeof(again) - n, "INVITE sip:bob@192.0.2.99:5090 SIP/2.0\n"
								 "Via: SIP/2.0/UDP 192.0.2.99:5090;branch=z9hG4bK-l2\n");
	for (const char *p = strstr(s->data, "\r\n") + 2; p < s->data + s->len;) {
		const char *e = strstr(p, "\r\n");

		if (e == p || memcmp(p, "Content-Length", 14) == 0)
			break;
		n += (size_t)snprintf(again + n, sizeof(again) - n, "%.*s\n", (int)(e - p), p);
		p = e + 2;
	}
	assert_int_equal(fx_rx(f, again, "192.0.2.99:5090"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 482 Loop Detected\r\n", 27);
	fx_assert_dst(s, "192.0.2.99:5090", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_482], 1);
	fx_free(f);
}

static void test_404(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	/* our domain, nobody registered */
	fx_rx(f,
	      "INVITE sip:6666@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-n1;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:6666@example.test>\n"
	      "Call-ID: c404\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 404 Not Found\r\n", 23);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"not registered\""));
	assert_non_null(strstr(fx_hdr(s, "To"), ";tag="));
	/* our address as the host means the default domain too */
	fx_rx(f,
	      "INVITE sip:5555@127.0.0.1:5060 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-n2;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:5555@example.test>\n"
	      "Call-ID: c404b\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	fx_assert_dst(fx_last(f), "198.51.100.55:40055", PK_TRANSPORT_UDP);
	/* a domain that is not ours, a host name, no next hop */
	fx_rx(f,
	      "INVITE sip:bob@elsewhere.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-n3;rport\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@elsewhere.test>\n"
	      "Call-ID: c404c\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 404 Not Found\r\n", 23);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"no route to elsewhere.test\""));
	/* an ACK is never answered */
	assert_int_equal(fx_rx(f,
			       "ACK sip:6666@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-n1;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:6666@example.test>;tag=x\n"
			       "Call-ID: c404\n"
			       "CSeq: 1 ACK\n",
			       "192.0.2.10:5070"),
			 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_ACK], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_404], 2);
	fx_free(f);
}

static void test_route_popped(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	/* our Route first in a list */
	fx_rx(f,
	      "BYE sip:bob@10.9.9.9:5062 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-r1;rport\n"
	      "Max-Forwards: 70\n"
	      "Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.50:5080;lr>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@example.test>;tag=tb\n"
	      "Call-ID: r1\n"
	      "CSeq: 2 BYE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.50:5080", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "BYE sip:bob@10.9.9.9:5062 SIP/2.0\r\n", 35);
	assert_string_equal(fx_line(s, "Route:"), "Route: <sip:192.0.2.50:5080;lr>");
	assert_int_equal(fx_count_lines(s, "Route:"), 1);

	/* our Route on its own line, port left out (5060), then nothing:
	 * the Request-URI (an IP literal in another domain) decides */
	fx_rx(f,
	      "BYE sip:bob@192.0.2.77:5062 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-r2;rport\n"
	      "Max-Forwards: 70\n"
	      "Route: <sip:127.0.0.1;lr>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@example.test>;tag=tb\n"
	      "Call-ID: r2\n"
	      "CSeq: 2 BYE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.77:5062", PK_TRANSPORT_UDP);
	assert_int_equal(fx_count_lines(s, "Route:"), 0);

	/* a Route that is not ours stays, and is where it goes */
	fx_rx(f,
	      "BYE sip:bob@10.9.9.9:5062 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-r3;rport\n"
	      "Max-Forwards: 70\n"
	      "Route: <sip:192.0.2.51;lr>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@example.test>;tag=tb\n"
	      "Call-ID: r3\n"
	      "CSeq: 2 BYE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.51:5060", PK_TRANSPORT_UDP);
	assert_true(fx_has_line(s, "Route: <sip:192.0.2.51;lr>"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ROUTE_POPPED], 2);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_ROUTE], 2);
	fx_free(f);
}

static void test_strict_route(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	/* a strict router put our RR URI in the Request-URI: the last Route
	 * is the real target (RFC 3261 §16.4) */
	fx_rx(f,
	      "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-st\n"
	      "Max-Forwards: 70\n"
	      "Route: <sip:192.0.2.50:5080;lr>, <sip:bob@192.0.2.60:5090>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@example.test>;tag=tb\n"
	      "Call-ID: st1\n"
	      "CSeq: 2 BYE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "BYE sip:bob@192.0.2.60:5090 SIP/2.0\r\n", 37);
	assert_string_equal(fx_line(s, "Route:"), "Route: <sip:192.0.2.50:5080;lr>");
	fx_assert_dst(s, "192.0.2.50:5080", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_STRICT_ROUTE], 1);
	fx_free(f);
}

/* A strict-routed request whose Route set nearly fills the rewriter's
 * scratch (the last entry becomes the Request-URI, the rest is written
 * again): our Via must still fit wherever its real length fits -- the
 * room asked for it is its bound, not a generous constant (a 455-byte
 * reservation once dropped these as drop_rewrite). */
static void test_strict_route_long_set(void **state)
{
	static char msg[4096], r1[2000], last[400];

	(void)state;
	for (int big = 1200; big <= 1530; big += 30) {
		struct fx *f = fx_reg();
		int n = snprintf(r1, sizeof(r1), "<sip:192.0.2.50:5080;lr;x=");

		while (n < big)
			r1[n++] = 'a';
		snprintf(r1 + n, sizeof(r1) - (size_t)n, ">");
		n = snprintf(last, sizeof(last), "sip:bob@192.0.2.60:5090;y=");
		while (n < 300)
			last[n++] = 'b';
		last[n] = '\0';
		snprintf(msg, sizeof(msg),
			 "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
			 "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-st\n"
			 "Max-Forwards: 70\n"
			 "Route: %s, <%s>\n"
			 "From: <sip:alice@example.test>;tag=fa\n"
			 "To: <sip:bob@example.test>;tag=tb\n"
			 "Call-ID: st1\n"
			 "CSeq: 2 BYE\n",
			 r1, last);
		assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_REWRITE], 0);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_STRICT_ROUTE], 1);
		assert_true(strncmp(fx_last(f)->data, "BYE sip:bob@192.0.2.60:5090;y=b", 31) == 0);
		fx_free(f);
	}
}

static void test_next_hop_and_record_route(void **state)
{
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy: \"127.0.0.1:5060\"\n"
				   "groups: groups.yaml\n"
				   "next_hop: \"sip:192.0.2.1:5099\"\n"
				   "record_route: true\n"
				   "advertise: \"pbx.example.test\"\n",
				   fx_default_groups);
	const struct fx_sent *s;
	struct pk_str b;
	char want[160];

	(void)state;
	fx_rx(f,
	      "INVITE sip:bob@elsewhere.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nh\n"
	      "Max-Forwards: 70\n"
	      "Record-Route: <sip:192.0.2.3;lr>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@elsewhere.test>\n"
	      "Call-ID: nh1\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.1:5099", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE sip:bob@elsewhere.test SIP/2.0\r\n", 39);
	/* the advertised name in Via and Record-Route, ours on top */
	b = branch_of(f, s);
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP pbx.example.test:5060;branch=%.*s;rport", (int)b.len, b.p);
	assert_string_equal(fx_line(s, "Via: "), want);
	assert_string_equal(fx_line(s, "Record-Route:"), "Record-Route: <sip:pbx.example.test:5060;lr>");
	assert_int_equal(fx_count_lines(s, "Record-Route:"), 2);
	/* received: the sent-by is the source address, no rport asked: none */
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nh"));

	/* A response: our Via is ours by the advertised name, in any case
	 * (the bytes as we wrote them are the quick test, then the caseless
	 * compare); a name of the same length that differs is not ours. */
	{
		char resp[4096];
		char *h;

		fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp));
		h = strstr(resp, "Via: SIP/2.0/UDP pbx.example.test:");
		assert_non_null(h);
		memcpy(h + 17, "PBX.Example.TEST", 16);
		assert_int_equal(fx_rx(f, resp, "192.0.2.1:5099"), 1);
		assert_memory_equal(fx_last(f)->data, "SIP/2.0 180 Ringing\r\n", 21);
		fx_assert_dst(fx_last(f), "192.0.2.10:5070", PK_TRANSPORT_UDP);
		memcpy(h + 17, "pbx.example.tesu", 16);
		assert_int_equal(fx_rx(f, resp, "192.0.2.1:5099"), 0);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_RESP_NOT_OURS], 1);
	}

	/* in a dialog (To-tag): no Record-Route; the Route naming our
	 * advertised name is ours and is removed */
	fx_rx(f,
	      "BYE sip:bob@192.0.2.88 SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nh2\n"
	      "Max-Forwards: 70\n"
	      "Route: <sip:pbx.example.test:5060;lr>\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@elsewhere.test>;tag=tb\n"
	      "Call-ID: nh1\n"
	      "CSeq: 2 BYE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_int_equal(fx_count_lines(s, "Record-Route:"), 0);
	assert_int_equal(fx_count_lines(s, "Route:"), 0);
	/* a next hop is configured: it takes everything for other domains */
	fx_assert_dst(s, "192.0.2.1:5099", PK_TRANSPORT_UDP);
	fx_free(f);
}

/* A wildcard listener without advertise: Via and Record-Route name the
 * address the request came to, with the listener's port, and what is
 * forwarded leaves from that address (a socket bound to 0.0.0.0 learns it
 * from IP_PKTINFO and sends from it the same way): the callee's answer,
 * sent where the request came from (RFC 3581), is then recognised as ours,
 * and is forwarded to the caller from the address the caller sent to. */
static void test_wildcard_sent_by(void **state)
{
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy: \"0.0.0.0:5060\"\n"
				   "groups: groups.yaml\n"
				   "next_hop: \"sip:192.0.2.1:5099\"\n"
				   "record_route: true\n",
				   fx_default_groups);
	const struct fx_sent *s;
	struct pk_str b;
	char want[160], resp[4096];

	(void)state;
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("198.51.100.7"), &f->rx_dst), 0);
	fx_rx(f,
	      "INVITE sip:bob@elsewhere.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-wc\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@elsewhere.test>\n"
	      "Call-ID: wc1\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.1:5099", PK_TRANSPORT_UDP);
	fx_assert_src(s, "198.51.100.7");
	b = branch_of(f, s);
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=%.*s;rport", (int)b.len, b.p);
	assert_string_equal(fx_line(s, "Via: "), want);
	assert_string_equal(fx_line(s, "Record-Route:"), "Record-Route: <sip:198.51.100.7:5060;lr>");

	/* the next hop's 180, sent where the INVITE came from: forwarded to
	 * the caller, from the address the caller sent its INVITE to */
	assert_int_equal(fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "192.0.2.1:5099"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 180 Ringing\r\n", 21);
	fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
	fx_assert_src(s, "198.51.100.7");

	/* the same 180 arriving at another of the host's addresses: our Via
	 * names an address it did not come to, so it is not ours */
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("198.51.100.8"), &f->rx_dst), 0);
	assert_int_equal(fx_rx(f, resp, "192.0.2.1:5099"), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_RESP_NOT_OURS], 1);
	fx_free(f);
}

/* A listener with an address of its own (or an advertised name): the
 * backend sends from the listener's address, as it always did. */
static void test_bound_listener_src(void **state)
{
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy: \"0.0.0.0:5060\"\n"
				   "advertise: sip.example.test\n"
				   "groups: groups.yaml\n"
				   "next_hop: \"sip:192.0.2.1:5099\"\n",
				   fx_default_groups);

	(void)state;
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("198.51.100.7"), &f->rx_dst), 0);
	fx_rx(f,
	      "OPTIONS sip:bob@elsewhere.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-wa\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:bob@elsewhere.test>\n"
	      "Call-ID: wa1\n"
	      "CSeq: 1 OPTIONS\n",
	      "192.0.2.10:5070");
	fx_assert_dst(fx_last(f), "192.0.2.1:5099", PK_TRANSPORT_UDP);
	fx_assert_src(fx_last(f), "");
	assert_non_null(strstr(fx_line(fx_last(f), "Via: "), "Via: SIP/2.0/UDP sip.example.test:5060;branch="));
	fx_free(f);

	f = fx_reg();
	fx_rx(f, invite_5555, "192.0.2.10:5070");
	fx_assert_src(fx_last(f), "");
	fx_free(f);
}

static void test_response_routing(void **state)
{
	struct fx *f = fx_reg();
	char resp[4096];
	const struct fx_sent *s;
	unsigned fwd;

	(void)state;
	fx_rx(f, invite_5555, "192.0.2.10:5070");
	s = fx_last(f);
	fx_response(s, 100, "Trying", NULL, NULL, resp, sizeof(resp));
	/* 100 Trying: forwarded (RFC 3261 §16.11), our Via gone, by received/rport */
	assert_int_equal(fx_rx(f, resp, "198.51.100.55:40055"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 100 Trying\r\n", 20);
	fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
	assert_int_equal(fx_count_lines(s, "Via:"), 1);
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;rport=5070;received=192.0.2.10") ||
		    fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1;received=192.0.2.10;rport=5070"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_100], 1);

	/* 486 from the callee: same way */
	fwd = fx_rx(f, fx_response(&f->io.q.sent[0], 486, "Busy Here", "tb", NULL, resp, sizeof(resp)),
		    "198.51.100.55:40055");
	assert_int_equal(fwd, 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 486 Busy Here\r\n", 23);

	/* a response whose top Via is not ours: dropped */
	assert_int_equal(fx_rx(f,
			       "SIP/2.0 200 OK\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-a1\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>;tag=x\n"
			       "Call-ID: c1@192.0.2.10\n"
			       "CSeq: 1 INVITE\n",
			       "198.51.100.55:40055"),
			 0);
	/* ours, but nothing under it: dropped */
	assert_int_equal(fx_rx(f,
			       "SIP/2.0 200 OK\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpk0123456789abcdef.01234567\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>;tag=x\n"
			       "Call-ID: c1@192.0.2.10\n"
			       "CSeq: 1 INVITE\n",
			       "198.51.100.55:40055"),
			 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_RESP_NOT_OURS], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_RESP_ROUTE], 1);
	fx_free(f);
}

static void test_response_nat_and_sent_by(void **state)
{
	struct fx *f = fx_reg();
	char resp[4096], buf[2048];
	const struct fx_sent *s;

	(void)state;
	/* behind a NAT, rport asked: the answer goes to the public address */
	snprintf(buf, sizeof(buf), "%s", invite_5555);
	memcpy(strstr(buf, "192.0.2.10:5070;branch"), "10.0.0.55:55555;branch", 22);
	fx_rx(f, buf, "203.0.113.7:41000");
	s = fx_last(f);
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 10.0.0.55:55555;branch=z9hG4bK-a1;rport=41000;received=203.0.113.7") ||
		    fx_has_line(s, "Via: SIP/2.0/UDP 10.0.0.55:55555;branch=z9hG4bK-a1;received=203.0.113.7;rport=41000"));
	fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "198.51.100.55:40055");
	fx_assert_dst(fx_last(f), "203.0.113.7:41000", PK_TRANSPORT_UDP);

	/* no rport, sent-by = source IP: no received, the answer goes to the
	 * sent-by port (RFC 3261 §18.2.2) */
	fx_rx(f,
	      "INVITE sip:5555@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5071;branch=z9hG4bK-sb\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:5555@example.test>\n"
	      "Call-ID: sb1\n"
	      "CSeq: 1 INVITE\n",
	      "192.0.2.10:6000");
	s = fx_last(f);
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 192.0.2.10:5071;branch=z9hG4bK-sb"));
	fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "198.51.100.55:40055");
	fx_assert_dst(fx_last(f), "192.0.2.10:5071", PK_TRANSPORT_UDP);
	fx_free(f);
}

static void test_tcp_response_on_connection(void **state)
{
	struct fx *f = fx_reg();
	const uint64_t conn = 0x0000000700000003ull; /* gen 7, queue 0, index 3 */
	char resp[4096];
	const struct fx_sent *s;

	(void)state;
	/* the INVITE came over TCP (listener 1): our Via names the connection */
	fx_rx_on(f,
		 "INVITE sip:5555@example.test SIP/2.0\n"
		 "Via: SIP/2.0/TCP 192.0.2.10:40123;branch=z9hG4bK-t1;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:5555@example.test>\n"
		 "Call-ID: tcp1\n"
		 "CSeq: 1 INVITE\n",
		 NULL, "192.0.2.10:40123", 1, conn);
	s = fx_last(f);
	fx_assert_dst(s, "198.51.100.55:40055", PK_TRANSPORT_UDP);
	assert_non_null(strstr(fx_line(s, "Via: "), ";rport;pkconn=0000000700000003"));
	/* the answer comes over UDP and goes back on the connection */
	fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "198.51.100.55:40055");
	s = fx_last(f);
	assert_int_equal(s->transport, PK_TRANSPORT_TCP);
	assert_int_equal(s->conn, conn);
	/* every hex digit, in order, lowercase */
	fx_rx_on(f,
		 "INVITE sip:5555@example.test SIP/2.0\n"
		 "Via: SIP/2.0/TCP 192.0.2.10:40123;branch=z9hG4bK-t2;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:5555@example.test>\n"
		 "Call-ID: tcp2\n"
		 "CSeq: 1 INVITE\n",
		 NULL, "192.0.2.10:40123", 1, 0xfedcba9876543210ull);
	assert_non_null(strstr(fx_line(fx_last(f), "Via: "), ";rport;pkconn=fedcba9876543210"));
	/* the answers' copy of our Via as a UAS may change it (RFC 3581 §4:
	 * rport filled in, received added), or spelled otherwise: the
	 * connection is still found, or (no pkconn left) the answer goes
	 * by UDP to the Via below ours */
	{
		static const struct {
			const char *from, *to;
			bool tcp, dropped;
		} cases[] = {
			{ ";rport;pkconn=", ";rport=5060;pkconn=", true, false },
			{ ";rport;pkconn=", ";rport=5060;received=192.0.2.99;pkconn=", true, false },
			{ ";rport;pkconn=", ";rport;x=1;pkconn=", true, false },
			{ ";rport;pkconn=", ";RPORT=9;pkconn=", true, false },
			{ ";rport;pkconn=", ";rportx;pkconn=", true, false },
			{ ";rport;pkconn=", ";rport;pkconnx=", false, false },
			{ ";rport;pkconn=", ";rport", false, false }, /* the hex digits as a param name */
			/* a bad rport: the scanner refuses the answer */
			{ ";rport;pkconn=", ";rport=50x;pkconn=", false, true },
			{ ";rport;pkconn=", ";rport=;pkconn=", false, true },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char r2[sizeof(resp)];
			char *at;
			unsigned before;

			fx_rx_on(f,
				 "INVITE sip:5555@example.test SIP/2.0\n"
				 "Via: SIP/2.0/TCP 192.0.2.10:40123;branch=z9hG4bK-t3;rport\n"
				 "Max-Forwards: 70\n"
				 "From: <sip:alice@example.test>;tag=fa\n"
				 "To: <sip:5555@example.test>\n"
				 "Call-ID: tcp3\n"
				 "CSeq: 1 INVITE\n",
				 NULL, "192.0.2.10:40123", 1, conn);
			fx_response(fx_last(f), 180, "Ringing", "tb", NULL, resp, sizeof(resp));
			at = strstr(resp, cases[i].from);
			assert_non_null(at);
			snprintf(r2, sizeof(r2), "%.*s%s%s", (int)(at - resp), resp, cases[i].to,
				 at + strlen(cases[i].from));
			before = fx_nsent(f);
			fx_rx(f, r2, "198.51.100.55:40055");
			if (cases[i].dropped) {
				assert_int_equal(fx_nsent(f), before);
				continue;
			}
			assert_int_equal(fx_nsent(f), before + 1);
			s = fx_last(f);
			if (cases[i].tcp) {
				assert_int_equal(s->transport, PK_TRANSPORT_TCP);
				assert_int_equal(s->conn, conn);
			} else {
				assert_int_equal(s->transport, PK_TRANSPORT_UDP);
			}
		}
	}
	fx_free(f);
}

static void test_options(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	/* for pickupd itself: 200 */
	fx_rx(f,
	      "OPTIONS sip:example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-o1\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:example.test>\n"
	      "Call-ID: o1\n"
	      "CSeq: 1 OPTIONS\n",
	      "192.0.2.10:5070");
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	/* for a user: proxied like any request */
	fx_rx(f,
	      "OPTIONS sip:5555@example.test SIP/2.0\n"
	      "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-o2\n"
	      "Max-Forwards: 70\n"
	      "From: <sip:alice@example.test>;tag=fa\n"
	      "To: <sip:5555@example.test>\n"
	      "Call-ID: o2\n"
	      "CSeq: 1 OPTIONS\n",
	      "192.0.2.10:5070");
	s = fx_last(f);
	assert_memory_equal(s->data, "OPTIONS sip:5555@10.1.1.55:5062 SIP/2.0\r\n", 41);
	fx_free(f);
}

static void test_config_keys(void **state)
{
	static const struct {
		const char *yaml, *err; /* err: NULL when it must load */
	} cases[] = {
		{ "next_hop: \"sip:192.0.2.1:5099;transport=tcp\"\n", "only transport=udp" },
		{ "next_hop: \"sips:192.0.2.1\"\n", "TLS" },
		{ "next_hop: \"mailto:x@y\"\n", "is not a sip: URI" },
		{ "record_route: yes\n", "is not true or false" },
		{ "advertise: \"a@b\"\n", "is not host or host:port" },
		{ "advertise:\n  \"10.9.9.9:5060\": \"x.example\"\n", "no listener at this address" },
		{ "advertise:\n  \"127.0.0.1:5060\": \"sip.example.test:5070\"\n", NULL },
		{ "advertise: \"[2001:db8::1]\"\nrecord_route: false\nnext_hop: \"sip:gw.example:5080\"\n", NULL },
	};
	char buf[512];

	(void)state;
	for (unsigned i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		struct pk_engine_conf_error err;
		struct pk_engine_conf *c;

		snprintf(buf, sizeof(buf), "listen:\n  proxy: \"127.0.0.1:5060\"\n%s", cases[i].yaml);
		c = pk_engine_conf_parse(buf, strlen(buf), "t.yaml", ".", &err);
		if (cases[i].err == NULL) {
			if (c == NULL)
				fail_msg("case %u: %s", i, err.msg);
		} else {
			assert_null(c);
			if (strstr(err.msg, cases[i].err) == NULL)
				fail_msg("case %u: '%s' lacks '%s'", i, err.msg, cases[i].err);
		}
		pk_engine_conf_free(c);
	}

	/* the per-listener form reaches the Via, on both transports */
	{
		struct fx *f = fx_new_with("listen:\n"
					   "  proxy: \"127.0.0.1:5060\"\n"
					   "groups: groups.yaml\n"
					   "advertise:\n"
					   "  \"127.0.0.1:5060\": \"sip.example.test:5070\"\n",
					   fx_default_groups);

		fx_register(f, "5555", "sip:5555@10.1.1.55:5062", "198.51.100.55:40055", PK_TRANSPORT_UDP, 0);
		fx_rx(f, invite_5555, "192.0.2.10:5070");
		assert_non_null(strstr(fx_line(fx_last(f), "Via: "), "Via: SIP/2.0/UDP sip.example.test:5070;branch="));
		assert_string_equal(f->conf->listeners[1].advertise_host.p, "sip.example.test");
		assert_int_equal(f->conf->listeners[1].advertise_port, 5070);
		/* a response to that Via is ours */
		{
			char resp[4096];

			assert_int_equal(fx_rx(f, fx_response(fx_last(f), 180, "Ringing", "t", NULL, resp, sizeof(resp)),
					       "198.51.100.55:40055"),
					 1);
			fx_assert_dst(fx_last(f), "192.0.2.10:5070", PK_TRANSPORT_UDP);
		}
		fx_free(f);
	}
}

struct is_us_case {
	const char *host;
	uint16_t port;
	bool us;
};

/* Each case through pk_proxy_is_us and pk_proxy_local_domain (none of the
 * hosts is a served domain: local exactly when it names pickupd). */
static void check_is_us(struct fx *f, const struct is_us_case *c, size_t n, const char *what)
{
	struct pk_str d;

	for (size_t i = 0; i < n; i++) {
		struct pk_str h = pk_str_make(c[i].host, strlen(c[i].host));

		if (pk_proxy_is_us(f->w, NULL, h, c[i].port) != c[i].us)
			fail_msg("%s, case %zu: %s:%u", what, i, c[i].host, c[i].port);
		if (pk_proxy_local_domain(f->w, NULL, h, c[i].port, &d) != c[i].us)
			fail_msg("%s, local_domain, case %zu: %s:%u", what, i, c[i].host, c[i].port);
	}
}

/* pk_proxy_is_us: our own text on a listener's port (found first, without
 * the walk) and everything the walk finds: the text in other letters,
 * a listener's address written as an address, the default port. */
static void test_is_us(void **state)
{
	static const struct is_us_case cases[] = {
		{ "sip.example.test", 5070, true },  /* the advertised text */
		{ "SIP.Example.TEST", 5070, true },  /* in other letters: walk */
		{ "sip.example.test", 5060, true },  /* the listener's own port */
		{ "sip.example.test", 0, true },     /* 0: 5060 */
		{ "sip.example.test", 5071, false },
		{ "sip.example.tes", 5070, false },
		{ "xip.example.test", 5070, false },
		{ "127.0.0.1", 5060, true },	     /* the listener's address: walk */
		{ "127.0.0.1", 5070, true },
		{ "127.0.0.1", 5075, true },	     /* the app listener */
		{ "127.0.0.1", 5080, false },
		{ "127.0.0.2", 5060, false },
	};
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy: \"127.0.0.1:5060\"\n"
				   "  app: \"127.0.0.1:5075\"\n"
				   "groups: groups.yaml\n"
				   "advertise:\n"
				   "  \"127.0.0.1:5060\": \"sip.example.test:5070\"\n",
				   fx_default_groups);

	/* one listener configured: a port not its own is no, and a port
	 * that no listener has is answered without the walk (case 4 above
	 * too) */
	static const struct is_us_case one[] = {
		{ "127.0.0.1", 5060, true }, { "127.0.0.1", 0, true },	   { "127.0.0.1", 5061, false },
		{ "127.0.0.1", 5070, false }, { "127.0.0.2", 5060, false }, { "pbx.other.test", 5060, false },
	};

	(void)state;
	check_is_us(f, cases, PK_ARRAY_SIZE(cases), "two listeners");
	fx_free(f);
	f = fx_new_with("listen:\n"
			"  proxy: \"127.0.0.1:5060\"\n"
			"groups: groups.yaml\n",
			fx_default_groups);
	check_is_us(f, one, PK_ARRAY_SIZE(one), "one listener");
	fx_free(f);
}

/* ---- several links (a dpdk backend on several ports) ---- */

/*
 * On a backend of several links (io.h: n_links > 1) a message leaves by
 * the link pk_io_route gives for its destination, so it must go out from
 * a listener on that link and our Via must name that listener (the answer
 * comes back to the address the Via names): px_listener_links. The fake
 * backend's routes: 10.1.0.0/16 on link 0, 10.2.0.0/16 on link 1, nothing
 * else reached. Two listeners, both UDP proxy: L0 10.1.0.1:5060 on link 0
 * and L1 10.2.0.1:5060 on link 1. Static bindings (listener
 * PK_LOC_LISTENER_ANY): 5555 at 10.1.0.50 (link 0), 5556 at 10.2.0.50
 * (link 1), 5557 at 192.0.2.7 (no link).
 */
static unsigned links_route_calls;
static struct pk_addr links_route_last;

static int links_route(const struct pk_io *io, const struct pk_addr *dst)
{
	(void)io;
	links_route_calls++;
	links_route_last = *dst;
	if (dst->family != AF_INET || dst->ip[0] != 10)
		return -1;
	return dst->ip[1] == 1 ? 0 : dst->ip[1] == 2 ? 1 : -1;
}

enum { LK_L0 = 0, LK_L1 = 1 };

/* links_fx, with extra configuration lines (e.g. "record_route: true\n"). */
static struct fx *links_fx_conf(unsigned n_links, const char *extra)
{
	static const uint8_t links[] = { 0, 1 };
	char conf[512];
	struct fx *f;

	snprintf(conf, sizeof(conf),
		 "listen:\n"
		 "  proxy:\n"
		 "    udp: [\"10.1.0.1:5060\", \"10.2.0.1:5060\"]\n"
		 "groups: groups.yaml\n"
		 "bindings:\n"
		 "  \"5555\": sip:5555@10.1.0.50\n"
		 "  \"5556\": sip:5556@10.2.0.50\n"
		 "  \"5557\": sip:5557@192.0.2.7\n"
		 "%s",
		 extra);
	f = fx_new_with(conf, fx_default_groups);

	assert_int_equal(f->eng.n_listeners, 2);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5060"), LK_L0);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.2.0.1:5060"), LK_L1);
	fx_load_static(f);
	fx_set_links(f, n_links, links_route, links);
	links_route_calls = 0;
	memset(&links_route_last, 0, sizeof(links_route_last));
	return f;
}

static struct fx *links_fx(unsigned n_links)
{
	return links_fx_conf(n_links, "");
}

/* An INVITE for user@example.test from src ("ip:port", also its Via's
 * sent-by) received on listener li (connection conn for TCP); returns
 * how many messages went out. */
static unsigned links_invite_x(struct fx *f, const char *user, const char *src, unsigned li, uint64_t conn,
			       const char *extra)
{
	char buf[1024];
	bool tcp = f->eng.listeners[li].transport == PK_TRANSPORT_TCP;

	snprintf(buf, sizeof(buf),
		 "INVITE sip:%s@example.test SIP/2.0\n"
		 "Via: SIP/2.0/%s %s;branch=z9hG4bK-lk%s;rport\n"
		 "Max-Forwards: 70\n"
		 "%s"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:%s@example.test>\n"
		 "Call-ID: lk-%s-%s-%u\n"
		 "CSeq: 1 INVITE\n",
		 user, tcp ? "TCP" : "UDP", src, user, extra, user, user, src, li);
	return fx_rx_on(f, buf, NULL, src, li, conn);
}

static unsigned links_invite_on(struct fx *f, const char *user, const char *src, unsigned li, uint64_t conn)
{
	return links_invite_x(f, user, src, li, conn, "");
}

static unsigned links_invite(struct fx *f, const char *user, const char *src, unsigned li)
{
	return links_invite_on(f, user, src, li, PK_IO_CONN_NONE);
}

/* s carries our Via on top naming sent_by ("ip:port"), over UDP, above
 * the client's. */
static void links_assert_via(struct fx *f, const struct fx_sent *s, const char *sent_by)
{
	char want[128];
	const char *top = fx_line(s, "Via: ");
	const struct pk_sip_msg *m = fx_scan(f, s);

	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP %s;branch=z9hG4bKpk", sent_by);
	if (strncmp(top, want, strlen(want)) != 0)
		fail_msg("top Via '%s', wanted it to start '%s'", top, want);
	assert_int_equal(m->nvia, 2);
}

/* The last message sent went to dst (UDP) from listener li, with our Via
 * (sent_by) on top of the request's; it is returned. */
static const struct fx_sent *links_assert_sent(struct fx *f, const char *dst, unsigned li,
					       const char *sent_by)
{
	const struct fx_sent *s = fx_last(f);

	fx_assert_dst(s, dst, PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, li);
	links_assert_via(f, s, sent_by);
	return s;
}

/* The address as "ip:port". */
static const char *links_addr(const struct pk_addr *a)
{
	static char t[PK_ADDR_STRLEN];

	pk_addr_format(a, true, t, sizeof(t));
	return t;
}

/* A request received on one link for a contact on the other: sent from the
 * listener of the contact's link, whose address our Via names; one on the
 * link it came in on stays there. */
static void test_links_request_via_route_link(void **state)
{
	struct fx *f = links_fx(2);
	const struct fx_sent *s;

	(void)state;
	/* in on L1 (link 1), for 10.1.0.50 (link 0): out from L0 */
	assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", LK_L1), 1);
	s = links_assert_sent(f, "10.1.0.50:5060", LK_L0, "10.1.0.1:5060");
	assert_memory_equal(s->data, "INVITE sip:5555@10.1.0.50 SIP/2.0\r\n", 35);
	/* the route was asked about the destination */
	assert_int_equal(links_route_calls, 1);
	assert_string_equal(links_addr(&links_route_last), "10.1.0.50:5060");

	/* the reverse: in on L0 (link 0), for 10.2.0.50 (link 1): out from L1 */
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", LK_L0), 1);
	s = links_assert_sent(f, "10.2.0.50:5060", LK_L1, "10.2.0.1:5060");

	/* the same link both ways: the listener it came in on */
	assert_int_equal(links_invite(f, "5556", "10.2.0.9:5070", LK_L1), 1);
	s = links_assert_sent(f, "10.2.0.50:5060", LK_L1, "10.2.0.1:5060");
	assert_int_equal(links_invite(f, "5555", "10.1.0.9:5070", LK_L0), 1);
	s = fx_last(f);
	assert_int_equal(s->listener, LK_L0);
	links_assert_via(f, s, "10.1.0.1:5060");

	assert_int_equal(f->w->ctr[PK_WORKER_CTR_FORWARDED], 4);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 0);
	fx_free(f);
}

/* A destination no link reaches (pk_io_route -1): nothing sent, counted as
 * dropped for want of a listener; a request or a response alike. */
static void test_links_unroutable_dropped(void **state)
{
	struct fx *f = links_fx(2);
	char resp[4096];
	uint64_t fwd;

	(void)state;
	/* 5557's contact 192.0.2.7: on no link */
	assert_int_equal(links_invite(f, "5557", "10.2.0.9:5070", LK_L1), 0);
	assert_int_equal(fx_nsent(f), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 1);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_FORWARDED], 0);
	assert_int_equal(links_route_calls, 1);
	assert_string_equal(links_addr(&links_route_last), "192.0.2.7:5060");
	assert_int_equal(links_invite(f, "5557", "10.1.0.9:5070", LK_L0), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 2);

	/* a request from beyond any link's routes (198.51.100.9 came in on
	 * L1) is forwarded, but the answer cannot go back */
	assert_int_equal(links_invite(f, "5555", "198.51.100.9:5070", LK_L1), 1);
	assert_int_equal(fx_last(f)->listener, LK_L0);
	fwd = f->w->ctr[PK_WORKER_CTR_FORWARDED];
	fx_response(fx_last(f), 180, "Ringing", "tb", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx_on(f, resp, NULL, "10.1.0.50:5060", LK_L0, PK_IO_CONN_NONE), 0);
	assert_int_equal(fx_nsent(f), 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 3);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_RESPONSE], 0);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_FORWARDED], fwd);
	assert_string_equal(links_addr(&links_route_last), "198.51.100.9:5070");
	fx_free(f);
}

/* A response to a request forwarded across the links: it comes in on the
 * callee's link and leaves by the link of the next Via's address, from
 * that link's listener. */
static void test_links_response_via_route_link(void **state)
{
	struct fx *f = links_fx(2);
	char resp[4096];
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", LK_L1), 1);
	assert_int_equal(fx_last(f)->listener, LK_L0);
	fx_response(fx_last(f), 180, "Ringing", "tb", NULL, resp, sizeof(resp));
	/* from the callee, to L0 (the address our Via names) */
	assert_int_equal(fx_rx_on(f, resp, NULL, "10.1.0.50:5060", LK_L0, PK_IO_CONN_NONE), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 180 Ringing\r\n", 21);
	fx_assert_dst(s, "10.2.0.9:5070", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, LK_L1);
	assert_int_equal(fx_count_lines(s, "Via:"), 1);
	assert_string_equal(links_addr(&links_route_last), "10.2.0.9:5070");

	/* and the other way round */
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", LK_L0), 1);
	assert_int_equal(fx_last(f)->listener, LK_L1);
	fx_response(fx_last(f), 200, "OK", "tc", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx_on(f, resp, NULL, "10.2.0.50:5060", LK_L1, PK_IO_CONN_NONE), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 200 OK\r\n", 16);
	fx_assert_dst(s, "10.1.0.9:5070", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, LK_L0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_RESPONSE], 2);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 0);
	fx_free(f);
}

/* One link (n_links 0 or 1), or no backend: the route is not consulted,
 * the listener is picked as before (for a static binding, the one the
 * request came in on), whatever link the destination would be on. */
static void test_links_one_link_unchanged(void **state)
{
	static const unsigned n_links[] = { 0, 1 };

	(void)state;
	for (unsigned i = 0; i <= PK_ARRAY_SIZE(n_links); i++) {
		struct fx *f = links_fx(i < PK_ARRAY_SIZE(n_links) ? n_links[i] : 2);
		struct pk_io *io = f->eng.io;
		const struct fx_sent *s;

		if (i == PK_ARRAY_SIZE(n_links))
			f->eng.io = NULL; /* no backend (the worker has its queue) */
		assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", LK_L1), 1);
		s = fx_last(f);
		fx_assert_dst(s, "10.1.0.50:5060", PK_TRANSPORT_UDP);
		assert_int_equal(s->listener, LK_L1);
		links_assert_via(f, s, "10.2.0.1:5060");
		/* a destination no route reaches goes out all the same */
		assert_int_equal(links_invite(f, "5557", "10.1.0.9:5070", LK_L0), 1);
		s = fx_last(f);
		fx_assert_dst(s, "192.0.2.7:5060", PK_TRANSPORT_UDP);
		assert_int_equal(s->listener, LK_L0);
		links_assert_via(f, s, "10.1.0.1:5060");
		assert_int_equal(links_route_calls, 0);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 0);
		f->eng.io = io;
		fx_free(f);
	}
}

/*
 * Which listener of the route's link: the binding's, else the request's,
 * else the first UDP one of the request listener's role, else any UDP
 * one. Listeners (in this order): A0 app UDP 10.1.0.1:5075 (link 0),
 * T1 proxy TCP 10.2.0.1:5060 (link 1), P0 proxy UDP 10.1.0.1:5060 (link
 * 0), P1 proxy UDP 10.2.0.1:5060 (link 1), P0b proxy UDP 10.1.0.2:5060
 * (link 0).
 */
static void test_links_listener_preference(void **state)
{
	enum { A0, T1, P0, P1, P0B, N };
	static const uint8_t links[N] = { [A0] = 0, [T1] = 1, [P0] = 0, [P1] = 1, [P0B] = 0 };
	struct fx *f = fx_new_with("listen:\n"
				   "  app:\n"
				   "    udp: [\"10.1.0.1:5075\"]\n"
				   "  proxy:\n"
				   "    tcp: [\"10.2.0.1:5060\"]\n"
				   "    udp: [\"10.1.0.1:5060\", \"10.2.0.1:5060\", \"10.1.0.2:5060\"]\n"
				   "groups: groups.yaml\n"
				   "bindings:\n"
				   "  \"5555\": sip:5555@10.1.0.50\n"
				   "  \"5556\": sip:5556@10.2.0.50\n",
				   fx_default_groups);

	(void)state;
	assert_int_equal(f->eng.n_listeners, N);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5075"), A0);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_TCP, "10.2.0.1:5060"), T1);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5060"), P0);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.2.0.1:5060"), P1);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.2:5060"), P0B);
	fx_load_static(f);
	fx_set_links(f, 2, links_route, links);
	/* registered through A0 (link 0), through P1 (link 1) for an address
	 * on link 0, through the TCP listener T1 (over UDP) */
	fx_register_on(f, "5560", "sip:5560@10.1.0.60", "10.1.0.60:5060", PK_TRANSPORT_UDP, A0, 0);
	fx_register_on(f, "5561", "sip:5561@10.1.0.61", "10.1.0.61:5060", PK_TRANSPORT_UDP, P1, 0);
	fx_register_on(f, "5562", "sip:5562@10.2.0.62", "10.2.0.62:5060", PK_TRANSPORT_UDP, T1, 0);

	/* 1. the binding's listener on the route's link, before the request's
	 * (P0, on that link too) */
	assert_int_equal(links_invite(f, "5560", "10.1.0.9:5070", P0), 1);
	links_assert_sent(f, "10.1.0.60:5060", A0, "10.1.0.1:5075");

	/* 2. the binding's on another link (P1): the request's, P0b, not the
	 * first proxy listener of the link (P0) */
	assert_int_equal(links_invite(f, "5561", "10.1.0.9:5070", P0B), 1);
	links_assert_sent(f, "10.1.0.61:5060", P0B, "10.1.0.2:5060");

	/* 3. neither on the link (a static binding; in on P1, link 1): the
	 * first of the link with the request listener's role, P0, not A0 (the
	 * first of the link) */
	assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", P1), 1);
	links_assert_sent(f, "10.1.0.50:5060", P0, "10.1.0.1:5060");

	/* 4. none of the role on the link (in on A0, app, for link 1): any UDP
	 * one, P1; neither the binding's TCP listener T1 nor, before P1 in the
	 * list, T1 in the walk */
	assert_int_equal(links_invite(f, "5562", "10.1.0.9:5070", A0), 1);
	links_assert_sent(f, "10.2.0.62:5060", P1, "10.2.0.1:5060");

	/* 5. in over TCP on the route's link (T1): not the request's listener
	 * (the message goes over UDP), the link's first UDP proxy one, P1 */
	assert_int_equal(links_invite_on(f, "5556", "10.2.0.9:40000", T1, 7), 1);
	links_assert_sent(f, "10.2.0.50:5060", P1, "10.2.0.1:5060");

	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 0);
	fx_free(f);
}

/*
 * One port whose addresses are in two subnets (io.h: prefix_len, the
 * dpdk backend's port prefix): the network layer sends on-link only from
 * a listener of the destination's subnet, so the proxy prefers one. L0
 * 10.1.0.1 and L1 10.1.1.1, both UDP proxy on the one link, /24; the app
 * listener LA 10.1.2.1:5075. Static bindings: 5555 at 10.1.0.50, 5556 at
 * 10.1.1.50, 5557 at 192.0.2.7 (beyond the gateway), 5558 at 10.1.2.58.
 */
static void test_listener_of_destination_subnet(void **state)
{
	enum { L0, L1, LA, N };
	static const uint8_t links[N] = { 0, 0, 0 };
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy:\n"
				   "    udp: [\"10.1.0.1:5060\", \"10.1.1.1:5060\"]\n"
				   "  app:\n"
				   "    udp: [\"10.1.2.1:5075\"]\n"
				   "groups: groups.yaml\n"
				   "bindings:\n"
				   "  \"5555\": sip:5555@10.1.0.50\n"
				   "  \"5556\": sip:5556@10.1.1.50\n"
				   "  \"5557\": sip:5557@192.0.2.7\n"
				   "  \"5558\": sip:5558@10.1.2.58\n",
				   fx_default_groups);

	(void)state;
	assert_int_equal(f->eng.n_listeners, N);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5060"), L0);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.1.1:5060"), L1);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.2.1:5075"), LA);
	fx_load_static(f);
	fx_set_links(f, 1, NULL, links);
	for (unsigned i = 0; i < N; i++)
		f->eng.listeners[i].onlink_mask = htonl(0xffffff00u); /* /24 */

	/* in on L0 from its subnet, for 10.1.1.50: out from L1, whose subnet
	 * holds it, and our Via names L1 */
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", L0), 1);
	links_assert_sent(f, "10.1.1.50:5060", L1, "10.1.1.1:5060");
	/* and back: in on L1, for 10.1.0.50: L0 */
	assert_int_equal(links_invite(f, "5555", "10.1.1.9:5070", L1), 1);
	links_assert_sent(f, "10.1.0.50:5060", L0, "10.1.0.1:5060");
	/* the request's listener when it is near */
	assert_int_equal(links_invite(f, "5555", "10.1.0.9:5070", L0), 1);
	links_assert_sent(f, "10.1.0.50:5060", L0, "10.1.0.1:5060");
	/* near is before the role: only the app listener is in 10.1.2.0/24 */
	assert_int_equal(links_invite(f, "5558", "10.1.0.9:5070", L0), 1);
	links_assert_sent(f, "10.1.2.58:5060", LA, "10.1.2.1:5075");
	/* beyond the gateway (no listener near): the request's, as before */
	assert_int_equal(links_invite(f, "5557", "10.1.1.9:5070", L1), 1);
	links_assert_sent(f, "192.0.2.7:5060", L1, "10.1.1.1:5060");
	assert_int_equal(links_invite(f, "5557", "10.1.2.9:5070", LA), 1);
	links_assert_sent(f, "192.0.2.7:5060", LA, "10.1.2.1:5075");

	/* the binding's listener first, whatever its subnet: 5560 at
	 * 10.1.1.60 registered through L0 (a router between) */
	fx_register_on(f, "5560", "sip:5560@10.1.1.60", "10.1.1.60:5060", PK_TRANSPORT_UDP, L0, 0);
	assert_int_equal(links_invite(f, "5560", "10.1.1.9:5070", L1), 1);
	links_assert_sent(f, "10.1.1.60:5060", L0, "10.1.0.1:5060");

	/* a wider prefix holds both subnets: the request's listener again */
	for (unsigned i = 0; i < N; i++)
		f->eng.listeners[i].onlink_mask = htonl(0xffff0000u); /* /16 */
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", L0), 1);
	links_assert_sent(f, "10.1.1.50:5060", L0, "10.1.0.1:5060");

	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 0);
	fx_free(f);
}

/* The route's link has no UDP listener (only T1, TCP, is on link 1): the
 * message is dropped, not sent from a listener of another link. */
static void test_links_no_listener_on_link(void **state)
{
	static const uint8_t links[] = { 0, 1 };
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy:\n"
				   "    udp: [\"10.1.0.1:5060\"]\n"
				   "    tcp: [\"10.2.0.1:5060\"]\n"
				   "groups: groups.yaml\n"
				   "bindings:\n"
				   "  \"5556\": sip:5556@10.2.0.50\n",
				   fx_default_groups);

	(void)state;
	assert_int_equal(f->eng.n_listeners, 2);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5060"), 0);
	assert_int_equal(fx_listener_index(f, PK_TRANSPORT_TCP, "10.2.0.1:5060"), 1);
	fx_load_static(f);
	fx_set_links(f, 2, links_route, links);
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", 0), 0);
	assert_int_equal(links_invite_on(f, "5556", "10.2.0.9:40000", 1, 7), 0);
	assert_int_equal(fx_nsent(f), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_NO_LISTENER], 2);
	fx_free(f);
}

/* ---- several links: double Record-Route, double Route pop (RFC 5658) ---- */

/* The header lines of s that start with prefix are, in order, exactly
 * want[0..n-1] (without CRLF); none other. */
static void links_assert_lines(const struct fx_sent *s, const char *prefix, const char *const *want, unsigned n)
{
	unsigned got = fx_count_lines(s, prefix);

	for (unsigned k = 0; k < n && k < got; k++)
		assert_string_equal(fx_line_n(s, prefix, k), want[k]);
	if (got != n)
		fail_msg("%u %s lines, wanted %u", got, prefix, n);
}

/* The Record-Route entries of s as the next hop parses them: exactly
 * uris[0..n-1], in order, each on a line of its own. */
static void links_assert_rr(struct fx *f, const struct fx_sent *s, const char *const *uris, unsigned n)
{
	const struct pk_sip_msg *m = fx_scan(f, s);

	assert_int_equal(m->nrr, n);
	for (unsigned i = 0; i < n; i++) {
		if (m->rr[i].uri.len != strlen(uris[i]) || memcmp(m->rr[i].uri.p, uris[i], m->rr[i].uri.len) != 0)
			fail_msg("Record-Route %u is '%.*s', wanted '%s'", i, (int)m->rr[i].uri.len, m->rr[i].uri.p,
				 uris[i]);
		if (i > 0)
			assert_int_not_equal(m->rr[i].hdr, m->rr[i - 1].hdr);
	}
}

/*
 * record_route: true on two links. A dialog-creating request in on one
 * link and out on the other gets two Record-Route entries, each naming the
 * listener of its side: the outgoing one (the side the request goes to,
 * whose in-dialog requests come back to it) on top, then the incoming one
 * (RFC 5658 double record-routing); both above any Record-Route the
 * request had. In and out on the same link: one entry, as before.
 */
static void test_links_double_record_route(void **state)
{
	static const char *const l1_to_l0[] = { "Record-Route: <sip:10.1.0.1:5060;lr>",
						"Record-Route: <sip:10.2.0.1:5060;lr>",
						"Record-Route: <sip:p1.example.com;lr>" };
	static const char *const l1_to_l0_uris[] = { "sip:10.1.0.1:5060;lr", "sip:10.2.0.1:5060;lr",
						     "sip:p1.example.com;lr" };
	static const char *const l0_to_l1[] = { "Record-Route: <sip:10.2.0.1:5060;lr>",
						"Record-Route: <sip:10.1.0.1:5060;lr>" };
	static const char *const l0_only[] = { "Record-Route: <sip:10.1.0.1:5060;lr>",
					       "Record-Route: <sip:p1.example.com;lr>" };
	static const char *const l1_only[] = { "Record-Route: <sip:10.2.0.1:5060;lr>" };
	struct fx *f = links_fx_conf(2, "record_route: true\n");
	const struct fx_sent *s;

	(void)state;
	/* in on L1 (link 1) for 5555 (10.1.0.50, link 0): out from L0, <L0>
	 * on top, <L1> under it */
	assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", LK_L1), 1);
	s = links_assert_sent(f, "10.1.0.50:5060", LK_L0, "10.1.0.1:5060");
	links_assert_lines(s, "Record-Route:", l1_to_l0, 2);
	links_assert_rr(f, s, l1_to_l0_uris, 2);

	/* the request had a Record-Route: ours are the first two lines, in
	 * the same order, and the client's comes third, unchanged */
	assert_int_equal(links_invite_x(f, "5555", "10.2.0.9:5070", LK_L1, PK_IO_CONN_NONE,
					"Record-Route: <sip:p1.example.com;lr>\n"),
			 1);
	s = fx_last(f);
	assert_int_equal(s->listener, LK_L0);
	links_assert_lines(s, "Record-Route:", l1_to_l0, 3);
	links_assert_rr(f, s, l1_to_l0_uris, 3);

	/* the other way round: in on L0 for 5556 (link 1): <L1> on top */
	assert_int_equal(links_invite(f, "5556", "10.1.0.9:5070", LK_L0), 1);
	s = fx_last(f);
	assert_int_equal(s->listener, LK_L1);
	links_assert_lines(s, "Record-Route:", l0_to_l1, 2);

	/* in and out on the same link: one entry, the listener's */
	assert_int_equal(links_invite_x(f, "5555", "10.1.0.9:5070", LK_L0, PK_IO_CONN_NONE,
					"Record-Route: <sip:p1.example.com;lr>\n"),
			 1);
	s = fx_last(f);
	assert_int_equal(s->listener, LK_L0);
	links_assert_lines(s, "Record-Route:", l0_only, 2);
	assert_int_equal(links_invite(f, "5556", "10.2.0.9:5070", LK_L1), 1);
	s = fx_last(f);
	assert_int_equal(s->listener, LK_L1);
	links_assert_lines(s, "Record-Route:", l1_only, 1);
	/* a request, not an entry, is counted */
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_RECORD_ROUTED], 5);

	/* in a dialog (To-tag): no Record-Route, across the links too */
	fx_rx_on(f,
		 "BYE sip:5555@10.1.0.50 SIP/2.0\n"
		 "Via: SIP/2.0/UDP 10.2.0.9:5070;branch=z9hG4bK-lkrr;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:5555@example.test>;tag=tb\n"
		 "Call-ID: lk-rr-bye\n"
		 "CSeq: 2 BYE\n",
		 NULL, "10.2.0.9:5070", LK_L1, PK_IO_CONN_NONE);
	s = fx_last(f);
	fx_assert_dst(s, "10.1.0.50:5060", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, LK_L0);
	assert_int_equal(fx_count_lines(s, "Record-Route:"), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_RECORD_ROUTED], 5);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_REWRITE], 0);
	fx_free(f);

	/* one link (n_links 0 or 1): the request leaves from the listener it
	 * came in on (test_links_one_link_unchanged), one entry as before */
	for (unsigned n_links = 0; n_links <= 1; n_links++) {
		f = links_fx_conf(n_links, "record_route: true\n");
		assert_int_equal(links_invite(f, "5555", "10.2.0.9:5070", LK_L1), 1);
		s = fx_last(f);
		fx_assert_dst(s, "10.1.0.50:5060", PK_TRANSPORT_UDP);
		assert_int_equal(s->listener, LK_L1);
		links_assert_lines(s, "Record-Route:", l1_only, 1);
		fx_free(f);
	}
}

/* The double Record-Route of a request in over TCP: ;transport=tcp on the
 * incoming entry only (the outgoing side is UDP). Out on the same link from
 * another listener (TCP in, UDP out): one entry -- it is the link that
 * decides, not the listener. */
static void test_links_double_record_route_tcp(void **state)
{
	static const char *const cross[] = { "Record-Route: <sip:10.1.0.1:5060;lr>",
					     "Record-Route: <sip:10.2.0.1:5060;transport=tcp;lr>" };
	static const char *const same[] = { "Record-Route: <sip:10.2.0.1:5060;transport=tcp;lr>" };
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy:\n"
				   "    tcp: [\"10.2.0.1:5060\"]\n"
				   "    udp: [\"10.1.0.1:5060\", \"10.2.0.1:5060\"]\n"
				   "groups: groups.yaml\n"
				   "record_route: true\n"
				   "bindings:\n"
				   "  \"5555\": sip:5555@10.1.0.50\n"
				   "  \"5556\": sip:5556@10.2.0.50\n",
				   fx_default_groups);
	unsigned t1, p0, p1;
	uint8_t links[3];
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(f->eng.n_listeners, 3);
	t1 = fx_listener_index(f, PK_TRANSPORT_TCP, "10.2.0.1:5060");
	p0 = fx_listener_index(f, PK_TRANSPORT_UDP, "10.1.0.1:5060");
	p1 = fx_listener_index(f, PK_TRANSPORT_UDP, "10.2.0.1:5060");
	links[t1] = 1;
	links[p0] = 0;
	links[p1] = 1;
	fx_load_static(f);
	fx_set_links(f, 2, links_route, links);

	/* in over TCP on link 1 for 5555 (link 0): out over UDP from P0 */
	assert_int_equal(links_invite_on(f, "5555", "10.2.0.9:40000", t1, 7), 1);
	s = fx_last(f);
	fx_assert_dst(s, "10.1.0.50:5060", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, p0);
	links_assert_lines(s, "Record-Route:", cross, 2);

	/* in over TCP on link 1 for 5556 (link 1): out over UDP from P1 */
	assert_int_equal(links_invite_on(f, "5556", "10.2.0.9:40000", t1, 7), 1);
	s = fx_last(f);
	fx_assert_dst(s, "10.2.0.50:5060", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, p1);
	links_assert_lines(s, "Record-Route:", same, 1);
	fx_free(f);
}

/* An in-dialog BYE with the Route lines routes ("\n" ends, may be "") to
 * ruri, from src on listener li; returns how many messages went out. */
static unsigned links_bye(struct fx *f, const char *ruri, const char *routes, const char *src, unsigned li)
{
	static unsigned seq;
	char buf[1024];

	seq++;
	snprintf(buf, sizeof(buf),
		 "BYE %s SIP/2.0\n"
		 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-lkby%u;rport\n"
		 "Max-Forwards: 70\n"
		 "%s"
		 "From: <sip:5555@example.test>;tag=tb\n"
		 "To: <sip:alice@example.test>;tag=fa\n"
		 "Call-ID: lk-bye\n"
		 "CSeq: %u BYE\n",
		 ruri, src, seq, routes, 2 + seq);
	return fx_rx_on(f, buf, NULL, src, li, PK_IO_CONN_NONE);
}

#define LK_RR0 "<sip:10.1.0.1:5060;lr>"
#define LK_RR1 "<sip:10.2.0.1:5060;lr>"
#define LK_EDGE "<sip:10.2.0.77;lr>"

/*
 * Two links: an in-dialog request carrying our double Record-Route as its
 * Route set (both entries ours, on one line or two) has both popped; the
 * next hop is the Route after them, else the Request-URI. A second entry
 * that is not ours stays (one pop only).
 */
static void test_links_double_route_popped(void **state)
{
	static const char *const edge_left[] = { "Route: " LK_EDGE };
	static const struct {
		const char *routes;
		bool edge; /* the next hop is LK_EDGE, left alone in Route */
	} cases[] = {
		{ "Route: " LK_RR0 ", " LK_RR1 "\n", false },
		{ "Route: " LK_RR0 "\nRoute: " LK_RR1 "\n", false },
		{ "Route: " LK_RR0 ", " LK_RR1 ", " LK_EDGE "\n", true },
		{ "Route: " LK_RR0 "\nRoute: " LK_RR1 ", " LK_EDGE "\n", true },
		{ "Route: " LK_RR0 ", " LK_RR1 "\nRoute: " LK_EDGE "\n", true },
		{ "Route: " LK_RR0 "\nRoute: " LK_RR1 "\nRoute: " LK_EDGE "\n", true },
		/* only the first is ours: it alone goes */
		{ "Route: " LK_RR0 ", " LK_EDGE "\n", true },
		{ "Route: " LK_RR0 "\nRoute: " LK_EDGE "\n", true },
		/* one entry, ours */
		{ "Route: " LK_RR0 "\n", false },
	};
	struct fx *f = links_fx(2);
	const struct fx_sent *s;
	unsigned to_route = 0;

	(void)state;
	for (unsigned i = 0; i < PK_ARRAY_SIZE(cases); i++) {
		/* the callee's BYE (the side of L0) to the caller at 10.2.0.9 */
		if (links_bye(f, "sip:caller@10.2.0.9:5070", cases[i].routes, "10.1.0.50:5060", LK_L0) != 1)
			fail_msg("case %u: nothing sent", i);
		s = fx_last(f);
		assert_memory_equal(s->data, "BYE sip:caller@10.2.0.9:5070 SIP/2.0\r\n", 38);
		assert_int_equal(s->listener, LK_L1);
		links_assert_via(f, s, "10.2.0.1:5060");
		if (cases[i].edge) {
			fx_assert_dst(s, "10.2.0.77:5060", PK_TRANSPORT_UDP);
			links_assert_lines(s, "Route:", edge_left, 1);
			assert_int_equal(fx_scan(f, s)->nroute, 1);
			to_route++;
		} else {
			fx_assert_dst(s, "10.2.0.9:5070", PK_TRANSPORT_UDP);
			assert_int_equal(fx_count_lines(s, "Route:"), 0);
			assert_int_equal(fx_scan(f, s)->nroute, 0);
		}
		/* the rest as for any request */
		assert_true(fx_has_line(s, "Max-Forwards: 69"));
		assert_true(fx_has_line(s, "Call-ID: lk-bye"));
		/* one pop counted per request */
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ROUTE_POPPED], i + 1);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_ROUTE], to_route);
	}

	/* the caller's BYE (the side of L1), its Route set the reverse */
	assert_int_equal(links_bye(f, "sip:5555@10.1.0.50", "Route: " LK_RR1 ", " LK_RR0 "\n", "10.2.0.9:5070", LK_L1),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "10.1.0.50:5060", PK_TRANSPORT_UDP);
	assert_int_equal(s->listener, LK_L0);
	assert_int_equal(fx_count_lines(s, "Route:"), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_REWRITE], 0);

	/* two entries of ours on the same link are not a double
	 * Record-Route (a spiral through pickupd): only the first goes, the
	 * second is the next hop */
	static const char *const rr0_left[] = { "Route: " LK_RR0 };
	assert_int_equal(links_bye(f, "sip:caller@10.2.0.9:5070", "Route: " LK_RR0 ", " LK_RR0 "\n",
				   "10.1.0.50:5060", LK_L0),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "10.1.0.1:5060", PK_TRANSPORT_UDP);
	links_assert_lines(s, "Route:", rr0_left, 1);
	fx_free(f);
}

/*
 * One link (n_links 0 or 1, or no backend): only the first of two Route
 * entries of ours goes, as before; the second stays and is the next hop
 * (our own address: the request comes back to us, which pops it then).
 */
static void test_links_one_link_single_pop(void **state)
{
	static const char *const rr1_left[] = { "Route: " LK_RR1 };
	static const char *const rr1_edge_left[] = { "Route: " LK_RR1 ", " LK_EDGE };

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct fx *f = links_fx(i < 2 ? i : 2);
		struct pk_io *io = f->eng.io;
		const struct fx_sent *s;

		if (i == 2)
			f->eng.io = NULL; /* no backend (the worker has its queue) */
		assert_int_equal(links_bye(f, "sip:caller@10.2.0.9:5070", "Route: " LK_RR0 ", " LK_RR1 "\n",
					   "10.1.0.50:5060", LK_L0),
				 1);
		s = fx_last(f);
		fx_assert_dst(s, "10.2.0.1:5060", PK_TRANSPORT_UDP);
		assert_int_equal(s->listener, LK_L0);
		links_assert_lines(s, "Route:", rr1_left, 1);

		assert_int_equal(links_bye(f, "sip:caller@10.2.0.9:5070",
					   "Route: " LK_RR0 "\nRoute: " LK_RR1 ", " LK_EDGE "\n", "10.1.0.50:5060",
					   LK_L0),
				 1);
		s = fx_last(f);
		fx_assert_dst(s, "10.2.0.1:5060", PK_TRANSPORT_UDP);
		links_assert_lines(s, "Route:", rr1_edge_left, 1);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ROUTE_POPPED], 2);
		assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_ROUTE], 2);
		assert_int_equal(links_route_calls, 0);
		f->eng.io = io;
		fx_free(f);
	}
}

/* A strict router that put our Record-Route URI in the Request-URI with
 * one Route left: that Route becomes the Request-URI, no Route header is
 * left, and the request goes where it names (RFC 3261 §16.4). With three,
 * the two before the last stay, in order, as one header. */
static void test_strict_route_one_and_three(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(fx_rx(f,
			       "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-s1\n"
			       "Max-Forwards: 70\n"
			       "Route: <sip:bob@192.0.2.60:5090>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: st-one\n"
			       "CSeq: 2 BYE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "BYE sip:bob@192.0.2.60:5090 SIP/2.0\r\n", 37);
	assert_int_equal(fx_count_lines(s, "Route:"), 0);
	fx_assert_dst(s, "192.0.2.60:5090", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_RURI], 1);

	assert_int_equal(fx_rx(f,
			       "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-s3\n"
			       "Max-Forwards: 70\n"
			       "Route: <sip:192.0.2.50:5080>\n"
			       "Route: <sip:192.0.2.51:5081>, <sip:bob@192.0.2.60:5090>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: st-three\n"
			       "CSeq: 2 BYE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "BYE sip:bob@192.0.2.60:5090 SIP/2.0\r\n", 37);
	assert_string_equal(fx_line(s, "Route:"), "Route: <sip:192.0.2.50:5080>, <sip:192.0.2.51:5081>");
	assert_int_equal(fx_count_lines(s, "Route:"), 1);
	fx_assert_dst(s, "192.0.2.50:5080", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_STRICT_ROUTE], 2);
	fx_free(f);
}

/* Strict routing that cannot be followed: the next Route a host name (no
 * DNS on the packet path: 503), more Route entries than the scanner keeps
 * (the last one, the real target, was not parsed: 400). */
static void test_strict_route_refused(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;
	char buf[2048];
	size_t n;

	(void)state;
	assert_int_equal(fx_rx(f,
			       "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sr1\n"
			       "Max-Forwards: 70\n"
			       "Route: <sip:proxy.elsewhere.test;lr>, <sip:bob@192.0.2.60:5090>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: sr1\n"
			       "CSeq: 2 BYE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"cannot resolve the Route's host\""));
	fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_503], 1);

	n = (size_t)snprintf(buf, sizeof(buf), "BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
					       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sr2\n"
					       "Max-Forwards: 70\n");
	for (int i = 0; i <= PK_SIP_MAX_ROUTE; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Route: <sip:192.0.2.%d:5080;lr>\n", 50 + i);
	snprintf(buf + n, sizeof(buf) - n, "From: <sip:alice@example.test>;tag=fa\n"
					   "To: <sip:bob@example.test>;tag=tb\n"
					   "Call-ID: sr2\n"
					   "CSeq: 2 BYE\n");
	assert_int_equal(fx_rx(f, buf, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 400 Bad Request\r\n", 25);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"too many Route entries for a strict route\""));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_OTHER], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_REQUEST], 0);
	fx_free(f);
}

/* transport=tcp on a Route or on an IP Request-URI: pickupd opens no TCP
 * connection, so it goes over UDP, and our Via says UDP (docs §2,
 * tcp_as_udp). */
static void test_tcp_uri_sent_over_udp(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(fx_rx(f,
			       "BYE sip:bob@10.9.9.9:5062 SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-tu1;rport\n"
			       "Max-Forwards: 70\n"
			       "Route: <sip:192.0.2.50:5080;transport=tcp;lr>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: tu1\n"
			       "CSeq: 2 BYE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.50:5080", PK_TRANSPORT_UDP);
	assert_int_equal(s->conn, PK_IO_CONN_NONE);
	assert_int_equal(s->listener, 0);
	assert_memory_equal(fx_line(s, "Via: "), "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpk", 48);
	assert_true(fx_has_line(s, "Route: <sip:192.0.2.50:5080;transport=tcp;lr>"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TCP_AS_UDP], 1);

	assert_int_equal(fx_rx(f,
			       "MESSAGE sip:bob@192.0.2.77:5062;transport=TCP SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-tu2;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@192.0.2.77>\n"
			       "Call-ID: tu2\n"
			       "CSeq: 1 MESSAGE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.77:5062", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "MESSAGE sip:bob@192.0.2.77:5062;transport=TCP SIP/2.0\r\n", 55);
	assert_memory_equal(fx_line(s, "Via: "), "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpk", 48);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TCP_AS_UDP], 2);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_RURI], 1);
	fx_free(f);
}

/* A sips: target is reached over TLS on every hop (RFC 5630 §4, §5.3),
 * which pickupd does not speak: a request whose Request-URI, or whose
 * next hop's Route, is sips: is answered 480 with warn-code 380 "SIPS Not
 * Allowed" (RFC 5630 §9) and never sent (it used to go out over UDP, in
 * the clear, counted tcp_as_udp). */
static void test_sips_target_refused(void **state)
{
	static const char *const reqs[] = {
		/* our user, by a sips: Request-URI */
		"INVITE sips:5555@example.test SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp1;rport\n"
		"Max-Forwards: 70\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sips:5555@example.test>\n"
		"Call-ID: sp1\n"
		"CSeq: 1 INVITE\n"
		"Contact: <sips:alice@192.0.2.10:5071>\n",
		/* an address in another domain, the scheme in capitals */
		"BYE SIPS:bob@10.9.9.9:5062 SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp2;rport\n"
		"Max-Forwards: 70\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sip:bob@example.test>;tag=tb\n"
		"Call-ID: sp2\n"
		"CSeq: 2 BYE\n",
		/* a sip: Request-URI behind a sips: Route: TLS to that hop */
		"BYE sip:bob@10.9.9.9:5062 SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp3;rport\n"
		"Max-Forwards: 70\n"
		"Route: <sip:127.0.0.1:5060;lr>, <sips:192.0.2.50:5081;lr>\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sip:bob@example.test>;tag=tb\n"
		"Call-ID: sp3\n"
		"CSeq: 2 BYE\n",
		/* a strict router's last Route, which becomes the Request-URI,
		 * no Route left after it */
		"BYE sip:127.0.0.1:5060;lr SIP/2.0\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp4\n"
		"Max-Forwards: 70\n"
		"Route: <sips:bob@192.0.2.60:5091>\n"
		"From: <sip:alice@example.test>;tag=fa\n"
		"To: <sip:bob@example.test>;tag=tb\n"
		"Call-ID: sp4\n"
		"CSeq: 2 BYE\n",
	};
	static const char *const why[] = { "sips: Request-URI", "sips: Request-URI", "sips: Route",
					   "sips: Request-URI" };
	struct fx *f = fx_reg();
	const struct fx_sent *s;
	char warn[128];

	(void)state;
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(fx_rx(f, reqs[i], "192.0.2.10:5070"), 1);
		s = fx_last(f);
		assert_memory_equal(s->data, "SIP/2.0 480 Temporarily Unavailable\r\n", 37);
		fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
		snprintf(warn, sizeof(warn), "Warning: 380 pickupd \"SIPS Not Allowed: %s, pickupd has no TLS\"", why[i]);
		assert_true(fx_has_line(s, warn));
	}
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_480], 4);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_REQUEST], 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TCP_AS_UDP], 0);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_FORWARDED], 0);
	/* an ACK is never answered: dropped, not sent on either */
	assert_int_equal(fx_rx(f,
			       "ACK sips:bob@10.9.9.9:5062 SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp5;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: sp5\n"
			       "CSeq: 1 ACK\n",
			       "192.0.2.10:5070"),
			 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_ACK], 1);
	/* the same requests over sip: go on as before */
	assert_int_equal(fx_rx(f,
			       "BYE sip:bob@10.9.9.9:5062 SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp6;rport\n"
			       "Max-Forwards: 70\n"
			       "Route: <sip:192.0.2.50:5081;lr>\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:bob@example.test>;tag=tb\n"
			       "Call-ID: sp6\n"
			       "CSeq: 2 BYE\n",
			       "192.0.2.10:5070"),
			 1);
	fx_assert_dst(fx_last(f), "192.0.2.50:5081", PK_TRANSPORT_UDP);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_REQUEST], 1);
	/* an OPTIONS for pickupd itself is answered, not forwarded: nothing
	 * goes to a sips: target */
	assert_int_equal(fx_rx(f,
			       "OPTIONS sips:example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sp7\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sips:example.test>\n"
			       "Call-ID: sp7\n"
			       "CSeq: 1 OPTIONS\n",
			       "192.0.2.10:5070"),
			 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 200 OK\r\n", 16);
	fx_free(f);
}

/* A sips: Request-URI with a sip: Route left: the Route is the next hop,
 * and the request goes there. The dialog of an INVITE whose far end
 * answered with a sips: Contact, set up through pickupd and a TLS front
 * end that Record-Routes, lives on: its ACK and BYE reach the front end
 * (refused, the ACK was dropped and the far end hung up after 32 s). */
static void test_sips_ruri_behind_sip_route(void **state)
{
	static const char *const methods[] = { "ACK", "BYE", "INVITE" };
	struct fx *f = fx_reg();
	char req[1024];

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(req, sizeof(req),
			 "%s sips:bob@198.51.100.7 SIP/2.0\n"
			 "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sr%u;rport\n"
			 "Max-Forwards: 70\n"
			 "Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.50:5081;lr>\n"
			 "From: <sip:alice@example.test>;tag=fa\n"
			 "To: <sip:bob@elsewhere.test>;tag=tb\n"
			 "Call-ID: sr1\n"
			 "CSeq: %u %s\n",
			 methods[i], i, i + 1, methods[i]);
		assert_int_equal(fx_rx(f, req, "192.0.2.10:5070"), 1);
		fx_assert_dst(fx_last(f), "192.0.2.50:5081", PK_TRANSPORT_UDP);
		assert_int_equal(memcmp(fx_last(f)->data, methods[i], strlen(methods[i])), 0);
		assert_true(fx_has_line(fx_last(f), "Route: <sip:192.0.2.50:5081;lr>"));
	}
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_480], 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_ACK], 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_REQUEST], 3);
	fx_free(f);
}

/* A request that came over TCP with a Via saying TLS (a TLS front end
 * handing pickupd plain TCP keeps the phone's Via): its answers go back on
 * that connection (RFC 3261 §18.2.2), not over UDP in the clear to a port
 * nobody reads. */
static void test_tls_via_answered_on_connection(void **state)
{
	struct fx *f = fx_reg();
	const uint64_t conn = 0x0000000700000005ull;
	char resp[4096];
	const struct fx_sent *s;

	(void)state;
	fx_rx_on(f,
		 "INVITE sip:5555@example.test SIP/2.0\n"
		 "Via: SIP/2.0/TLS 192.0.2.10:40124;branch=z9hG4bK-tls1;rport\n"
		 "Max-Forwards: 70\n"
		 "From: <sip:alice@example.test>;tag=fa\n"
		 "To: <sip:5555@example.test>\n"
		 "Call-ID: tls1\n"
		 "CSeq: 1 INVITE\n",
		 NULL, "192.0.2.10:40124", 1, conn);
	s = fx_last(f);
	assert_non_null(strstr(fx_line(s, "Via: "), ";rport;pkconn=0000000700000005"));
	fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "198.51.100.55:40055");
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 180 Ringing\r\n", 21);
	assert_int_equal(s->transport, PK_TRANSPORT_TCP);
	assert_int_equal(s->conn, conn);
	assert_int_equal(s->listener, 1);
	fx_free(f);
}

/* tel: Request-URIs go to the next hop, unchanged; without one: 404. */
static void test_tel_uri(void **state)
{
	static const char msg[] = "INVITE tel:+15551234567 SIP/2.0\n"
				  "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-tel;rport\n"
				  "Max-Forwards: 70\n"
				  "From: <sip:alice@example.test>;tag=fa\n"
				  "To: <tel:+15551234567>\n"
				  "Call-ID: tel1\n"
				  "CSeq: 1 INVITE\n"
				  "Contact: <sip:alice@192.0.2.10:5070>\n";
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 404 Not Found\r\n", 23);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"no route for tel: URIs (no next_hop)\""));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_404], 1);
	fx_free(f);

	f = fx_new_with("listen:\n"
			"  proxy: \"127.0.0.1:5060\"\n"
			"groups: groups.yaml\n"
			"next_hop: \"sip:192.0.2.1:5099\"\n",
			fx_default_groups);
	assert_int_equal(fx_rx(f, msg, "192.0.2.10:5070"), 1);
	s = fx_last(f);
	fx_assert_dst(s, "192.0.2.1:5099", PK_TRANSPORT_UDP);
	assert_memory_equal(s->data, "INVITE tel:+15551234567 SIP/2.0\r\n", 33);
	assert_true(fx_has_line(s, "Max-Forwards: 69"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_NEXT_HOP], 1);
	fx_free(f);
}

/* A request for pickupd itself (no user part), no Route, not an OPTIONS
 * it answers: 404, never forwarded to itself; its ACK is not answered. */
static void test_ruri_names_us_without_user(void **state)
{
	struct fx *f = fx_reg();
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(fx_rx(f,
			       "INVITE sip:127.0.0.1:5060 SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nu;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:127.0.0.1>\n"
			       "Call-ID: nu1\n"
			       "CSeq: 1 INVITE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 404 Not Found\r\n", 23);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"no user in the Request-URI\""));
	fx_assert_dst(s, "192.0.2.10:5070", PK_TRANSPORT_UDP);
	/* a served domain without user: the same */
	assert_int_equal(fx_rx(f,
			       "MESSAGE sip:example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nu2;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:example.test>\n"
			       "Call-ID: nu2\n"
			       "CSeq: 1 MESSAGE\n",
			       "192.0.2.10:5070"),
			 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 404 Not Found\r\n", 23);
	assert_int_equal(fx_rx(f,
			       "ACK sip:127.0.0.1:5060 SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-nu;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:127.0.0.1>;tag=x\n"
			       "Call-ID: nu1\n"
			       "CSeq: 1 ACK\n",
			       "192.0.2.10:5070"),
			 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_404], 2);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_ACK], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_FWD_REQUEST], 0);
	fx_free(f);
}

/* A static binding naming a host: no DNS on the packet path, 503. */
static void test_static_binding_host_name(void **state)
{
	struct fx *f = fx_new_with("listen:\n"
				   "  proxy: \"127.0.0.1:5060\"\n"
				   "groups: groups.yaml\n"
				   "bindings:\n"
				   "  \"5558\": sip:5558@gw.elsewhere.test:5080\n",
				   fx_default_groups);
	const struct fx_sent *s;

	(void)state;
	fx_load_static(f);
	assert_int_equal(fx_rx(f,
			       "INVITE sip:5558@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-sb;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5558@example.test>\n"
			       "Call-ID: sbh1\n"
			       "CSeq: 1 INVITE\n",
			       "192.0.2.10:5070"),
			 1);
	s = fx_last(f);
	assert_memory_equal(s->data, "SIP/2.0 503 Service Unavailable\r\n", 33);
	assert_true(fx_has_line(s, "Warning: 399 pickupd \"cannot resolve the contact's host\""));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_ANSWERED_503], 1);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_TO_LOCATION], 0);
	fx_free(f);
}

/* No rport, but the sent-by is not where the request came from (a NAT
 * without RFC 3581, or a host name): received= is added (RFC 3261
 * §18.2.1), and the answer goes to that address at the sent-by port
 * (§18.2.2). A response whose Via below ours names a host and has no
 * received: dropped (no DNS). */
static void test_received_without_rport(void **state)
{
	struct fx *f = fx_reg();
	char resp[4096];
	const struct fx_sent *s;

	(void)state;
	assert_int_equal(fx_rx(f,
			       "INVITE sip:5555@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 10.0.0.9:5071;branch=z9hG4bK-nr1\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>\n"
			       "Call-ID: nr1\n"
			       "CSeq: 1 INVITE\n",
			       "203.0.113.9:6000"),
			 1);
	s = fx_last(f);
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP 10.0.0.9:5071;branch=z9hG4bK-nr1;received=203.0.113.9"));
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_VIA_RECEIVED], 1);
	assert_int_equal(fx_rx(f, fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp)), "198.51.100.55:40055"),
			 1);
	fx_assert_dst(fx_last(f), "203.0.113.9:5071", PK_TRANSPORT_UDP);

	assert_int_equal(fx_rx(f,
			       "INVITE sip:5555@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP phone.example.test;branch=z9hG4bK-nr2\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>\n"
			       "Call-ID: nr2\n"
			       "CSeq: 1 INVITE\n",
			       "192.0.2.10:5060"),
			 1);
	s = fx_last(f);
	assert_true(fx_has_line(s, "Via: SIP/2.0/UDP phone.example.test;branch=z9hG4bK-nr2;received=192.0.2.10"));
	fx_response(s, 180, "Ringing", "tb", NULL, resp, sizeof(resp));
	assert_int_equal(fx_rx(f, resp, "198.51.100.55:40055"), 1);
	fx_assert_dst(fx_last(f), "192.0.2.10:5060", PK_TRANSPORT_UDP);
	/* the same answer with the received taken out again */
	{
		char *r = strstr(resp, ";received=192.0.2.10");

		assert_non_null(r);
		memmove(r, r + 20, strlen(r + 20) + 1);
	}
	assert_int_equal(fx_rx(f, resp, "198.51.100.55:40055"), 0);
	assert_int_equal(f->w->proxy_ctr[PK_PROXY_CTR_DROP_RESP_ROUTE], 1);
	fx_free(f);
}

/* The scanner's rejection of an ACK is not answered (an ACK never is):
 * dropped, counted as drop_ack, nothing sent; the same fault in an INVITE
 * is answered 400 and counted by status. */
static void test_worker_rejects_unanswered(void **state)
{
	struct fx *f = fx_reg();

	(void)state;
	assert_int_equal(fx_rx(f,
			       "ACK sip:5555@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-wr1;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>;tag=x\n"
			       "Call-ID: wr1\n"
			       "CSeq: 1 INVITE\n",
			       "192.0.2.10:5070"),
			 0);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_DROP_ACK], 1);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_REJECTED], 0);
	assert_int_equal(fx_rx(f,
			       "INVITE sip:5555@example.test SIP/2.0\n"
			       "Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-wr2;rport\n"
			       "Max-Forwards: 70\n"
			       "From: <sip:alice@example.test>;tag=fa\n"
			       "To: <sip:5555@example.test>\n"
			       "Call-ID: wr2\n"
			       "CSeq: 1 ACK\n",
			       "192.0.2.10:5070"),
			 1);
	assert_memory_equal(fx_last(f)->data, "SIP/2.0 400 Bad Request\r\n", 25);
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_REJECTED], 1);
	assert_int_equal(f->w->rejects[PK_WORKER_REJ_400], 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_to_registered_contact),
		cmocka_unit_test(test_burst_same_as_one_by_one),
		cmocka_unit_test(test_branch_deterministic),
		cmocka_unit_test(test_branch_hash_lengths),
		cmocka_unit_test(test_received_octets),
		cmocka_unit_test(test_max_forwards),
		cmocka_unit_test(test_answer_to_tag),
		cmocka_unit_test(test_to_tag_lengths_apart),
		cmocka_unit_test(test_checks_416_420),
		cmocka_unit_test(test_loop_482),
		cmocka_unit_test(test_is_us),
		cmocka_unit_test(test_404),
		cmocka_unit_test(test_route_popped),
		cmocka_unit_test(test_strict_route),
		cmocka_unit_test(test_strict_route_long_set),
		cmocka_unit_test(test_next_hop_and_record_route),
		cmocka_unit_test(test_wildcard_sent_by),
		cmocka_unit_test(test_bound_listener_src),
		cmocka_unit_test(test_response_routing),
		cmocka_unit_test(test_response_nat_and_sent_by),
		cmocka_unit_test(test_tcp_response_on_connection),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_links_request_via_route_link),
		cmocka_unit_test(test_listener_of_destination_subnet),
		cmocka_unit_test(test_links_unroutable_dropped),
		cmocka_unit_test(test_links_response_via_route_link),
		cmocka_unit_test(test_links_one_link_unchanged),
		cmocka_unit_test(test_links_listener_preference),
		cmocka_unit_test(test_links_no_listener_on_link),
		cmocka_unit_test(test_links_double_record_route),
		cmocka_unit_test(test_links_double_record_route_tcp),
		cmocka_unit_test(test_links_double_route_popped),
		cmocka_unit_test(test_links_one_link_single_pop),
		cmocka_unit_test(test_strict_route_one_and_three),
		cmocka_unit_test(test_strict_route_refused),
		cmocka_unit_test(test_tcp_uri_sent_over_udp),
		cmocka_unit_test(test_sips_target_refused),
		cmocka_unit_test(test_sips_ruri_behind_sip_route),
		cmocka_unit_test(test_tls_via_answered_on_connection),
		cmocka_unit_test(test_tel_uri),
		cmocka_unit_test(test_ruri_names_us_without_user),
		cmocka_unit_test(test_static_binding_host_name),
		cmocka_unit_test(test_received_without_rport),
		cmocka_unit_test(test_worker_rejects_unanswered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
