/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the registrar (dataplane/proxy/registrar.c): REGISTER
 * requests, as a phone sends them, go through the worker's REGISTER handler
 * (pk_registrar_handle) with a real engine configuration, location table
 * and scanner; the answer is built with the same response builder the
 * worker uses (this file stands in for pk_worker_reply, the only worker
 * function the handler calls) and read back with the scanner, the way a
 * phone would read it. Then the location table is asked what the proxy
 * would get.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../dataplane/proxy/registrar.h"
#include "../../dataplane/worker.h"
#include "pickup/location.h"
#include "pickup/rcu.h"
#include "pickup/sip_rewrite.h"

#define SEC 1000000000ull
#define T0 (5000 * SEC)
#define PHONE "10.1.2.3:5060"

static const char conf_yaml[] = "domains: [example.test, other.test, pbx.branch-office.example]\n"
				"trusted: [127.0.0.0/8, 10.0.0.0/8]\n"
				"bindings:\n"
				"  \"gw@example.test\": [\"sip:gw@127.0.0.1:5080\", \"sip:gw@gw.example.test;transport=tcp\"]\n"
				"timers:\n"
				"  register_min_expires: 60\n"
				"  register_default_expires: 1800\n"
				"  register_max_expires: 3600\n"
				"capacity:\n"
				"  registrations: 8\n";

/* ---- the worker's reply, captured ---- */

static struct {
	char buf[65536];
	long len;
	unsigned calls;
} cap;

int pk_worker_reply(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		    unsigned status, const char *reason, struct pk_str extra)
{
	(void)w, (void)rx;
	cap.calls++;
	cap.len = pk_sip_response_build(msg, status, reason, PK_STR_LIT("regtag"), extra, cap.buf, sizeof(cap.buf));
	return cap.len < 0 ? (int)cap.len : 0;
}

/* ---- fixture ---- */

struct fx {
	struct pk_engine_conf *conf;
	struct pk_rcu *rcu;
	struct pk_engine *eng;
	struct pk_worker *w;
	struct pk_sip_msg resp; /* the last answer, scanned */
	char req[4096];
};

static struct pk_str S(const char *s)
{
	return pk_str_make(s, strlen(s));
}

static int setup(void **state)
{
	struct pk_engine_conf_error err;
	struct fx *f = calloc(1, sizeof(*f));
	char e[256];

	assert_non_null(f);
	f->conf = pk_engine_conf_parse(conf_yaml, strlen(conf_yaml), "test.yaml", ".", &err);
	if (f->conf == NULL)
		fail_msg("%s", err.msg);
	f->rcu = pk_rcu_create(1);
	assert_non_null(f->rcu);
	assert_int_equal(pk_rcu_reader_register(f->rcu, 0), 0);
	f->eng = calloc(1, sizeof(*f->eng));
	assert_non_null(f->eng);
	f->eng->conf = f->conf;
	f->eng->rcu = f->rcu;
	f->eng->location = pk_location_create(f->conf->capacity.registrations, 1, f->rcu);
	assert_non_null(f->eng->location);
	if (pk_registrar_load_static(f->eng->location, 0, f->conf, e, sizeof(e)) != 0)
		fail_msg("%s", e);
	f->w = aligned_alloc(64, (sizeof(*f->w) + 63) & ~(size_t)63);
	assert_non_null(f->w);
	memset(f->w, 0, sizeof(*f->w));
	f->w->eng = f->eng;
	f->w->now_ns = T0;
	cap.calls = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pk_rcu_reader_unregister(f->rcu, 0);
	pk_rcu_synchronize(f->rcu);
	pk_rcu_reclaim(f->rcu);
	pk_location_destroy(f->eng->location);
	pk_rcu_destroy(f->rcu);
	pk_engine_conf_free(f->conf);
	free(f->eng);
	free(f->w);
	free(f);
	return 0;
}

/* ---- sending a REGISTER ---- */

struct reg {
	const char *src;     /* source address:port, default PHONE */
	const char *ruri;    /* default sip:example.test */
	const char *to;	     /* To URI, default sip:2001@example.test */
	const char *call_id; /* default "cid-1" */
	unsigned cseq;	     /* default 1 */
	const char *hdrs;    /* Contact / Expires / Require lines */
	uint8_t transport;
	uint64_t conn;
};

/* Send it through the handler; returns the answer's status code. */
static unsigned send_reg(struct fx *f, const struct reg *r)
{
	struct pk_io_msg rx;
	int len;

	len = snprintf(f->req, sizeof(f->req),
		       "REGISTER %s SIP/2.0\r\n"
		       "Via: SIP/2.0/%s 10.1.2.3:5060;branch=z9hG4bK-%u;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <%s>;tag=ft\r\n"
		       "To: <%s>\r\n"
		       "Call-ID: %s\r\n"
		       "CSeq: %u REGISTER\r\n"
		       "%s"
		       "Content-Length: 0\r\n\r\n",
		       r->ruri ? r->ruri : "sip:example.test", r->transport == PK_TRANSPORT_TCP ? "TCP" : "UDP",
		       r->cseq ? r->cseq : 1, r->to ? r->to : "sip:2001@example.test",
		       r->to ? r->to : "sip:2001@example.test", r->call_id ? r->call_id : "cid-1",
		       r->cseq ? r->cseq : 1, r->hdrs ? r->hdrs : "");
	assert_true(len > 0 && (size_t)len < sizeof(f->req));
	if (pk_sip_scan(f->req, (size_t)len, &f->w->msg[0]) != PK_SIP_OK)
		fail_msg("request not accepted by the scanner: %s\n%s", f->w->msg[0].why, f->req);
	memset(&rx, 0, sizeof(rx));
	rx.data = f->req;
	rx.len = (uint32_t)len;
	rx.transport = r->transport;
	rx.conn = r->conn;
	assert_int_equal(pk_addr_parse(S(r->src ? r->src : PHONE), false, &rx.src), 0);
	assert_int_equal(pk_addr_parse(S("127.0.0.1:5060"), false, &rx.dst), 0);

	cap.len = -1;
	pk_registrar_handle(f->w, &rx, &f->w->msg[0]);
	assert_true(cap.len > 0);
	if (pk_sip_scan(cap.buf, (size_t)cap.len, &f->resp) != PK_SIP_OK)
		fail_msg("answer not accepted by the scanner: %s\n%.*s", f->resp.why, (int)cap.len, cap.buf);
	assert_false(f->resp.is_request);
	return f->resp.code;
}

/* The expires= of the answer's Contact for uri; -1 without expires, -2
 * when uri is not listed. */
static int64_t answer_expires(const struct fx *f, const char *uri)
{
	for (unsigned i = 0; i < f->resp.ncontact; i++)
		if (pk_str_eq(f->resp.contact[i].uri, S(uri)))
			return f->resp.contact[i].expires;
	return -2;
}

/* Value of a header of the answer ("" if absent). */
static const char *answer_hdr(const struct fx *f, const char *name)
{
	static char v[512];
	enum pk_sip_hdr_id id = pk_sip_hdr_lookup(name, strlen(name));

	v[0] = '\0';
	for (unsigned i = 0; i < f->resp.nhdrs; i++) {
		const struct pk_sip_hdr *h = &f->resp.hdrs[i];

		if ((id != PK_HDR_OTHER && h->id == id) ||
		    (id == PK_HDR_OTHER && h->id == PK_HDR_OTHER && strncasecmp(cap.buf + h->off, name, strlen(name)) == 0 &&
		     cap.buf[h->off + strlen(name)] == ':')) {
			snprintf(v, sizeof(v), "%.*s", (int)h->vlen, cap.buf + h->voff);
			break;
		}
	}
	return v;
}

static unsigned lookup(struct fx *f, const char *user, struct pk_loc_contact *c)
{
	return pk_location_lookup(f->eng->location, 0, S(user), S("example.test"), f->w->now_ns, c,
				  PK_LOC_MAX_CONTACTS);
}

static uint64_t ctr(struct fx *f, enum pk_loc_counter c)
{
	uint64_t v[PK_LOC_CTR_COUNT];

	pk_location_stats(f->eng->location, v);
	return v[c];
}

/* ---- tests ---- */

static void test_add_and_query(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char a[PK_ADDR_STRLEN];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:2001@10.1.2.3:5060>\r\n" }), 200);
	/* the default expiry, the binding listed, a Date, our To-tag */
	assert_int_equal(answer_expires(f, "sip:2001@10.1.2.3:5060"), 1800);
	assert_int_equal(f->resp.ncontact, 1);
	assert_true(strstr(answer_hdr(f, "Date"), " GMT") != NULL);
	assert_true(pk_str_eq(f->resp.to.tag, S("regtag")));
	assert_int_equal(f->w->ctr[PK_WORKER_CTR_ANSWERED_REGISTER], 1);

	/* the proxy finds it, with the REGISTER's source */
	assert_int_equal(lookup(f, "2001", c), 1);
	pk_addr_format(&c[0].src, true, a, sizeof(a));
	assert_string_equal(a, PHONE);
	assert_false(c[0].nat); /* the Contact is the source */
	assert_int_equal(c[0].transport, PK_TRANSPORT_UDP);

	/* a query 100 s later: listed with what is left, nothing changes */
	f->w->now_ns += 100 * SEC;
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2 }), 200);
	assert_int_equal(f->resp.ncontact, 1);
	assert_int_equal(answer_expires(f, "sip:2001@10.1.2.3:5060"), 1700);
	assert_int_equal(ctr(f, PK_LOC_CTR_QUERIES), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REGISTERED), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_ANSWERED_200), 2);
	/* a query for a user without bindings: 200 without Contact */
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:2002@example.test" }), 200);
	assert_int_equal(f->resp.ncontact, 0);
}

static void test_expires_sources(void **state)
{
	struct fx *f = *state;

	/* Expires header */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>\r\nExpires: 600\r\n" }), 200);
	assert_int_equal(answer_expires(f, "sip:a@10.1.2.3"), 600);
	/* the contact's parameter wins over the header */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2,
						    .hdrs = "Contact: <sip:a@10.1.2.3>;expires=300\r\n"
							    "Expires: 600\r\n" }),
			 200);
	assert_int_equal(answer_expires(f, "sip:a@10.1.2.3"), 300);
	/* longer than register_max_expires: lowered */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 3, .hdrs = "Contact: <sip:a@10.1.2.3>;expires=7200\r\n" }),
			 200);
	assert_int_equal(answer_expires(f, "sip:a@10.1.2.3"), 3600);
}

static void test_too_brief(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>;expires=30\r\n" }), 423);
	assert_string_equal(answer_hdr(f, "Min-Expires"), "60");
	assert_int_equal(f->resp.ncontact, 0);
	assert_int_equal(lookup(f, "2001", c), 0);
	/* one too brief contact refuses the whole REGISTER */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>, <sip:b@10.1.2.3>\r\n"
							    "Expires: 10\r\n" }),
			 423);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_423), 2);
	/* expires=0 is a removal, not a brief registration */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>;expires=0\r\n" }), 200);
}

static void test_refresh_and_remove(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:desk@10.1.2.3>, <sip:soft@10.1.2.4>\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 2);
	/* the desk phone refreshes 100 s later */
	f->w->now_ns += 100 * SEC;
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2, .hdrs = "Contact: <sip:desk@10.1.2.3>\r\n" }), 200);
	assert_int_equal(f->resp.ncontact, 2);
	assert_int_equal(answer_expires(f, "sip:desk@10.1.2.3"), 1800);
	assert_int_equal(answer_expires(f, "sip:soft@10.1.2.4"), 1700);
	assert_int_equal(ctr(f, PK_LOC_CTR_REFRESHED), 1);
	/* the softphone leaves */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 3, .hdrs = "Contact: <sip:soft@10.1.2.4>;expires=0\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 1);
	assert_int_equal(answer_expires(f, "sip:soft@10.1.2.4"), -2);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REMOVED), 1);
}

/*
 * The refresh a phone sends every few minutes (one Contact, same place,
 * higher CSeq): answered like any other (200, the granted expiry, the
 * other bindings listed), the binding refreshed; then a changed Contact
 * adds a binding, an expires=0 removes one, a retransmission changes
 * nothing and a lower CSeq is refused (500).
 */
static void test_refresh_fast_path(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:desk@10.1.2.3>\r\n" }), 200);
	for (unsigned i = 2; i < 50; i++) {
		f->w->now_ns += 60 * SEC;
		assert_int_equal(send_reg(f, &(struct reg){ .cseq = i,
							    .hdrs = "Contact: <sip:desk@10.1.2.3>\r\nExpires: 600\r\n" }),
				 200);
		assert_int_equal(f->resp.ncontact, 1);
		assert_int_equal(answer_expires(f, "sip:desk@10.1.2.3"), 600);
	}
	assert_int_equal(ctr(f, PK_LOC_CTR_REFRESHED), 48);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(c[0].cseq, 49);
	assert_true(c[0].expires == f->w->now_ns + 600 * SEC);
	/* the same again (a retransmission): unchanged; an older one: 500 */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 49, .hdrs = "Contact: <sip:desk@10.1.2.3>\r\n" }), 200);
	assert_int_equal(answer_expires(f, "sip:desk@10.1.2.3"), 600);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 48, .hdrs = "Contact: <sip:desk@10.1.2.3>\r\n" }), 500);
	/* another Contact: added, both listed */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 50, .hdrs = "Contact: <sip:soft@10.1.2.3>\r\n" }), 200);
	assert_int_equal(f->resp.ncontact, 2);
	assert_int_equal(answer_expires(f, "sip:soft@10.1.2.3"), 1800);
	assert_int_equal(answer_expires(f, "sip:desk@10.1.2.3"), 600);
	/* the desk phone again, from another port (its NAT mapping moved) */
	f->w->now_ns += 10 * SEC;
	assert_int_equal(send_reg(f, &(struct reg){ .src = "10.1.2.3:5999", .cseq = 51,
						    .hdrs = "Contact: <sip:desk@10.1.2.3>\r\n" }),
			 200);
	assert_int_equal(lookup(f, "2001", c), 2);
	assert_int_equal(c[0].src.port, 5999);
	/* expires=0 removes it */
	assert_int_equal(send_reg(f, &(struct reg){ .src = "10.1.2.3:5999", .cseq = 52,
						    .hdrs = "Contact: <sip:desk@10.1.2.3>;expires=0\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 1);
	assert_int_equal(answer_expires(f, "sip:desk@10.1.2.3"), -2);
	assert_int_equal(lookup(f, "2001", c), 1);
}

static void test_remove_all(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>, <sip:b@10.1.2.3>\r\n" }), 200);
	/* `*` needs Expires: 0 ... */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2, .hdrs = "Contact: *\r\n" }), 400);
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2, .hdrs = "Contact: *\r\nExpires: 5\r\n" }), 400);
	/* ... and no other Contact */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2,
						    .hdrs = "Contact: *\r\nContact: <sip:c@10.1.2.3>\r\nExpires: 0\r\n" }),
			 400);
	assert_true(strstr(answer_hdr(f, "Warning"), "Contact: *") != NULL);
	assert_int_equal(lookup(f, "2001", c), 2);
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2, .hdrs = "Contact: *\r\nExpires: 0\r\n" }), 200);
	assert_int_equal(f->resp.ncontact, 0);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REMOVED), 2);
}

static void test_untrusted(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .src = "192.0.2.1:5060",
						    .hdrs = "Contact: <sip:2001@192.0.2.1>\r\n" }),
			 403);
	assert_true(strstr(answer_hdr(f, "Warning"), "trusted") != NULL);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_403), 1);
}

/*
 * The live trusted networks (the set `set trusted` publishes): IPv4
 * networks of every prefix length decide as pk_cidr_match does, an IPv6
 * network never takes an IPv4 source, and a REGISTER is refused or taken
 * by what the set says.
 */
static void test_trusted_set(void **state)
{
	static const char *const nets[] = { "0.0.0.0/0",   "172.16.0.0/12", "192.168.4.0/22", "198.51.100.128/25",
					    "203.0.113.7", "10.0.0.0/8",    "fd00::/8" };
	static const char *const srcs[] = { "172.16.0.1",    "172.31.255.255", "172.32.0.1",   "172.15.255.255",
					    "192.168.7.200", "192.168.8.1",    "192.168.3.255", "198.51.100.128",
					    "198.51.100.127", "203.0.113.7",   "203.0.113.6",   "10.200.1.2",
					    "11.0.0.1",      "fd00::1",	       "fe80::1",	"0.0.0.0" };
	struct fx *f = *state;
	struct pk_trusted_set *t = calloc(1, sizeof(*t));
	struct pk_addr a;

	assert_non_null(t);
	/* each network alone, then all but the /0 together */
	for (unsigned k = 0; k <= sizeof(nets) / sizeof(nets[0]); k++) {
		t->n = 0;
		for (unsigned i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
			if (k == i || (k == sizeof(nets) / sizeof(nets[0]) && i > 0))
				assert_int_equal(pk_cidr_parse(S(nets[i]), &t->net[t->n++]), 0);
		for (unsigned j = 0; j < sizeof(srcs) / sizeof(srcs[0]); j++) {
			bool want = false;

			assert_int_equal(pk_addr_parse_ip(S(srcs[j]), &a), 0);
			for (unsigned i = 0; i < t->n; i++)
				want |= pk_cidr_match(&t->net[i], &a);
			assert_int_equal(pk_trusted_set_match(t, &a), want);
		}
	}
	/* every prefix length of one IPv4 network, sources just in and out */
	for (unsigned p = 0; p <= 32; p++) {
		uint32_t in = 0xc0a80000u | 0x5a5a, base = p ? in & (~0u << (32 - p)) : 0;

		t->n = 1;
		memset(&t->net[0], 0, sizeof(t->net[0]));
		t->net[0].net.family = AF_INET;
		t->net[0].prefix = (uint8_t)p;
		for (int b = 0; b < 4; b++)
			t->net[0].net.ip[b] = (uint8_t)(base >> (24 - 8 * b));
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		for (int b = 0; b < 4; b++)
			a.ip[b] = (uint8_t)(in >> (24 - 8 * b));
		assert_true(pk_trusted_set_match(t, &a));
		if (p > 0) {
			a.ip[(p - 1) / 8] ^= (uint8_t)(0x80u >> ((p - 1) % 8)); /* the last bit of the prefix */
			assert_false(pk_trusted_set_match(t, &a));
		}
	}

	/* published: REGISTER follows it (the settings say 10/8, 127/8) */
	t->n = 0;
	assert_int_equal(pk_cidr_parse(S("172.16.0.0/12"), &t->net[t->n++]), 0);
	assert_int_equal(pk_cidr_parse(S("fd00::/8"), &t->net[t->n++]), 0);
	atomic_store(&f->eng->trusted, t);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>\r\n" }), 403);
	assert_int_equal(send_reg(f, &(struct reg){ .src = "172.20.1.2:5060", .hdrs = "Contact: <sip:a@172.20.1.2>\r\n" }), 200);
	assert_int_equal(send_reg(f, &(struct reg){ .src = "172.32.1.2:5060", .cseq = 2,
						    .hdrs = "Contact: <sip:a@172.32.1.2>\r\n" }),
			 403);
	assert_int_equal(send_reg(f, &(struct reg){ .src = "[fd00::5]:5060", .cseq = 3,
						    .hdrs = "Contact: <sip:a@[fd00::5]>\r\n" }),
			 200);
	atomic_store(&f->eng->trusted, NULL);
	free(t);
}

static void test_domains(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	const char *ct = "Contact: <sip:2001@10.1.2.3>\r\n";

	/* not our domain: no forwarding to other registrars */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:elsewhere.test", .hdrs = ct }), 404);
	assert_true(strstr(answer_hdr(f, "Warning"), "not our domain") != NULL);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "tel:+15551234", .hdrs = ct }), 416);
	/* an AoR outside the served domains */
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:2001@elsewhere.test", .hdrs = ct }), 404);
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:example.test", .hdrs = ct }), 404);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_404), 3);
	/* our address instead of a domain, any case for the domain */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:127.0.0.1:5060", .hdrs = ct }), 200);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:EXAMPLE.Test", .cseq = 2, .hdrs = ct }), 200);
	assert_int_equal(lookup(f, "2001", c), 1);
	/* the second served domain has its own users */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:other.test", .to = "sip:2001@Other.Test",
						    .hdrs = "Contact: <sip:x@10.1.2.9>\r\n" }),
			 200);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2001"), S("other.test"), T0, c, 4), 1);
	assert_int_equal(lookup(f, "2001", c), 1);
	/* the AoR's domain is the To's, whether written as the Request-URI's
	 * (same bytes) or not */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:other.test", .to = "sip:2002@other.test",
						    .hdrs = "Contact: <sip:y@10.1.2.9>\r\n" }),
			 200);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:other.test", .to = "sip:2003@example.test",
						    .hdrs = "Contact: <sip:z@10.1.2.9>\r\n" }),
			 200);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:example.test", .to = "sip:2004@other.test",
						    .hdrs = "Contact: <sip:w@10.1.2.9>\r\n" }),
			 200);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2002"), S("other.test"), T0, c, 4), 1);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2002"), S("example.test"), T0, c, 4), 0);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2003"), S("example.test"), T0, c, 4), 1);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2003"), S("other.test"), T0, c, 4), 0);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2004"), S("other.test"), T0, c, 4), 1);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2004"), S("example.test"), T0, c, 4), 0);
	/* a served domain longer than 16 bytes (To and Request-URI hosts
	 * are compared otherwise than short ones); one byte short of it is
	 * not ours */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:pbx.branch-office.example",
						    .to = "sip:2005@pbx.branch-office.example",
						    .hdrs = "Contact: <sip:u@10.1.2.9>\r\n" }),
			 200);
	/* the To's domain in another case: the same AoR, refreshed */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:pbx.branch-office.example", .cseq = 2,
						    .to = "sip:2005@PBX.Branch-Office.example",
						    .hdrs = "Contact: <sip:u@10.1.2.9>;expires=600\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 1);
	assert_int_equal(answer_expires(f, "sip:u@10.1.2.9"), 600);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:pbx.branch-office.example",
						    .to = "sip:2007@pbx.branch-office.exampl",
						    .hdrs = "Contact: <sip:s@10.1.2.9>\r\n" }),
			 404);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2005"), S("pbx.branch-office.example"), T0, c, 4), 1);
	assert_true(c[0].expires == T0 + 600 * SEC);
	assert_int_equal(pk_location_lookup(f->eng->location, 0, S("2005"), S("example.test"), T0, c, 4), 0);
	/* a Request-URI naming no served domain (our address) and a To
	 * whose host is not one: refused as before */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sip:127.0.0.1", .to = "sip:2005@127.0.0.1",
						    .hdrs = "Contact: <sip:v@10.1.2.9>\r\n" }),
			 404);
}

static void test_bad_contact(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char hdrs[512];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <mailto:2001@example.test>\r\n" }), 400);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>;q=2\r\n" }), 400);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>;q=0.5000\r\n" }), 400);
	snprintf(hdrs, sizeof(hdrs), "Contact: <sip:a@10.1.2.3;x=%0300d>\r\n", 0);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = hdrs }), 400);
	assert_true(strstr(answer_hdr(f, "Warning"), "256") != NULL);
	/* one bad contact refuses the good ones with it */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>, <tel:+1555>\r\n" }), 400);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_400), 5);
	/* a well-formed q-value is kept and listed */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:a@10.1.2.3>;q=0.5\r\n" }), 200);
	assert_true(strstr(cap.buf, "Contact: <sip:a@10.1.2.3>;expires=1800;q=0.5\r\n") != NULL);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(c[0].q, 500);
	/* the parameter name in any case, after another one; a bad one
	 * written so is refused too */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2, .hdrs = "Contact: <sip:a@10.1.2.3>;expires=60;Q=0.25\r\n" }),
			 200);
	assert_true(strstr(cap.buf, "Contact: <sip:a@10.1.2.3>;expires=60;q=0.25\r\n") != NULL);
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 3, .hdrs = "Contact: <sip:a@10.1.2.3>;expires=60;Q=3\r\n" }),
			 400);
	/* no q parameter (a 'q' only in the URI): none listed */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 4, .hdrs = "Contact: <sip:q@10.1.2.3>;expires=60\r\n" }), 200);
	assert_true(strstr(cap.buf, "Contact: <sip:q@10.1.2.3>;expires=60\r\n") != NULL);
}

/* The 200's Contact lines, byte for byte, for URIs of every length class
 * the answer is copied in (4-7, 8-15, 16-31, 32-64 bytes, longer, and the
 * longest, 256), expiries of one to four digits and every form of q. */
static void test_answer_contact_lines(void **state)
{
	struct fx *f = *state; /* capacity 8, 2 taken by the static binding */
	static const char *const uris[] = {
		"sip:a@b",	 /* 7 */
		"sip:ab@10.1.2.3", /* 15 */
		"sip:2001@10.1.2.3:5060", /* 22 */
		"sip:2001@10.1.2.3:5060;transport=tcp;ob", /* 40 */
		"sip:2001-desk-phone-with-a-long-name@phones.example.test:5060;transport=tcp;ob", /* 78 */
	};
	static const char *const params[] = { ";expires=60", ";expires=99;q=1", ";expires=100;q=0",
					      ";expires=999;q=0.001", ";expires=3600;q=0.010" };
	static const char *const want[] = { ";expires=60\r\n", ";expires=99;q=1\r\n", ";expires=100;q=0\r\n",
					    ";expires=999;q=0.001\r\n", ";expires=3600;q=0.01\r\n" };
	char hdrs[2048], line[512], longest[PK_LOC_URI_MAX + 1];
	size_t n = 0;

	for (unsigned i = 0; i < 5; i++)
		n += (size_t)snprintf(hdrs + n, sizeof(hdrs) - n, "Contact: <%s>%s\r\n", uris[i], params[i]);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = hdrs }), 200);
	assert_int_equal(f->resp.ncontact, 5);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "\r\nContact: <%s>%s", uris[i], want[i]);
		if (strstr(cap.buf, line) == NULL)
			fail_msg("no '%s' in\n%.*s", line + 2, (int)cap.len, cap.buf);
	}
	/* 0.5 s later: what is left, rounded up */
	f->w->now_ns += SEC / 2;
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 2 }), 200);
	assert_true(strstr(cap.buf, "\r\nContact: <sip:a@b>;expires=60\r\n") != NULL);
	assert_true(strstr(cap.buf, "\r\nContact: <sip:ab@10.1.2.3>;expires=99;q=1\r\n") != NULL);
	f->w->now_ns += SEC;
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 3 }), 200);
	assert_true(strstr(cap.buf, "\r\nContact: <sip:a@b>;expires=59\r\n") != NULL);
	assert_true(strstr(cap.buf, "\r\nContact: <sip:2001@10.1.2.3:5060>;expires=99;q=0\r\n") != NULL);

	/* the longest URI a binding holds, with the longest q */
	memset(longest, 'x', sizeof(longest));
	memcpy(longest, "sip:", 4);
	memcpy(longest + PK_LOC_URI_MAX - 9, "@10.1.2.3", 9);
	longest[PK_LOC_URI_MAX] = '\0';
	snprintf(hdrs, sizeof(hdrs), "Contact: <%s>;q=0.125\r\n", longest);
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 4, .hdrs = hdrs }), 200);
	assert_int_equal(f->resp.ncontact, 6);
	snprintf(line, sizeof(line), "\r\nContact: <%s>;expires=1800;q=0.125\r\n", longest);
	assert_true(strstr(cap.buf, line) != NULL);
	/* listed first (the most recent), the Date after the last one */
	assert_true(strstr(cap.buf, line) < strstr(cap.buf, "\r\nContact: <sip:a@b>"));
	assert_true(strstr(cap.buf, "\r\nContact: <sip:ab@10.1.2.3>;expires=98;q=1\r\n") != NULL);
	assert_true(strstr(cap.buf, "tcp;ob>;expires=3599;q=0.01\r\nDate: ") != NULL);
}

static void test_table_full(void **state)
{
	struct fx *f = *state; /* capacity 8, 2 taken by the static binding */
	char to[64], ct[64];

	for (int i = 0; i < 6; i++) {
		snprintf(to, sizeof(to), "sip:%d@example.test", 3000 + i);
		snprintf(ct, sizeof(ct), "Contact: <sip:%d@10.1.2.3>\r\n", 3000 + i);
		assert_int_equal(send_reg(f, &(struct reg){ .to = to, .hdrs = ct }), 200);
	}
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:2001@10.1.2.3>\r\n" }), 503);
	assert_string_equal(answer_hdr(f, "Retry-After"), "60");
	assert_true(strstr(answer_hdr(f, "Warning"), "table full") != NULL);
	assert_int_equal(ctr(f, PK_LOC_CTR_FULL), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_503), 1);
	/* refreshing and querying still work */
	assert_int_equal(send_reg(f, &(struct reg){ .to = to, .cseq = 2, .hdrs = ct }), 200);
	assert_int_equal(send_reg(f, &(struct reg){ .to = to, .cseq = 3 }), 200);
	assert_int_equal(f->resp.ncontact, 1);
}

static void test_several_contacts_nat(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	/* a phone behind NAT: its Contact names its private address */
	assert_int_equal(send_reg(f, &(struct reg){ .src = "10.200.0.1:40000",
						    .hdrs = "Contact: <sip:2001@192.168.1.20:5060>;expires=600, "
							    "<sip:2001@10.200.0.1:40000>\r\n"
							    "Contact: \"Soft\" <sip:2001@phone.example.test>\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 3);
	assert_int_equal(answer_expires(f, "sip:2001@192.168.1.20:5060"), 600);
	assert_int_equal(answer_expires(f, "sip:2001@10.200.0.1:40000"), 1800);
	assert_int_equal(answer_expires(f, "sip:2001@phone.example.test"), 1800);
	assert_int_equal(lookup(f, "2001", c), 3);
	/* in Contact order (one REGISTER), all with the source address */
	assert_int_equal(c[0].uri_len, strlen("sip:2001@192.168.1.20:5060"));
	assert_true(c[0].nat);
	assert_false(c[1].nat);
	assert_true(c[2].nat);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c[i].src.port, 40000);
}

/* A sips: Contact is reached over TLS only (RFC 5630 §4), which pickupd
 * does not speak: the REGISTER is refused, nothing is bound, and the
 * answer says why with warn-code 380 "SIPS Not Allowed" (RFC 5630 §9).
 * Under a sip: Request-URI that is a 400 (RFC 5630 §5.2: a SIPS Contact
 * needs a SIPS Request-URI); under a sips: one, a 480 (§5.1.2: a UAS
 * that does not take SIPS). A sips: Request-URI with sip: Contacts binds
 * them as usual: they are reached in the clear, as they ask. */
static void test_sips_contact_refused(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sips:2001@10.1.2.3>\r\n" }), 400);
	assert_string_equal(answer_hdr(f, "Warning"),
			    "380 pickupd \"SIPS Not Allowed: sips: Contact under a sip: Request-URI\"");
	assert_int_equal(lookup(f, "2001", c), 0);
	/* one sips: Contact (any case) refuses the others with it */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:2001@10.1.2.3>, <SIPS:2001@10.1.2.3:5061>\r\n" }),
			 400);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_400), 2);
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sips:example.test",
						    .to = "sips:2001@example.test",
						    .hdrs = "Contact: <sips:2001@10.1.2.3>\r\n" }),
			 480);
	assert_string_equal(answer_hdr(f, "Warning"), "380 pickupd \"SIPS Not Allowed: sips: Contact, pickupd has no TLS\"");
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_480), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_REGISTERED), 0);
	/* sip: Contacts through a sips: Request-URI: bound */
	assert_int_equal(send_reg(f, &(struct reg){ .ruri = "sips:example.test", .cseq = 2,
						    .hdrs = "Contact: <sip:2001@10.1.2.3>\r\n" }),
			 200);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(c[0].uri_len, strlen("sip:2001@10.1.2.3"));
}

static void test_cseq_order(void **state)
{
	struct fx *f = *state;
	const char *ct = "Contact: <sip:a@10.1.2.3>\r\n";

	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 5, .hdrs = ct }), 200);
	/* a late, older REGISTER of the same registration */
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 3, .hdrs = "Contact: <sip:a@10.1.2.3>;expires=0\r\n" }),
			 500);
	assert_true(strstr(answer_hdr(f, "Warning"), "CSeq") != NULL);
	/* a retransmission of the last one: the same answer */
	f->w->now_ns += 2 * SEC;
	assert_int_equal(send_reg(f, &(struct reg){ .cseq = 5, .hdrs = ct }), 200);
	assert_int_equal(answer_expires(f, "sip:a@10.1.2.3"), 1798);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_500), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_UNCHANGED), 1);
}

static void test_static_binding(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char a[PK_ADDR_STRLEN];

	/* the proxy sees the configured contacts */
	assert_int_equal(lookup(f, "gw", c), 2);
	assert_true(c[0].is_static && c[1].is_static);
	pk_addr_format(&c[0].src, true, a, sizeof(a));
	assert_string_equal(a, "127.0.0.1:5080");
	assert_int_equal(c[0].transport, PK_TRANSPORT_UDP);
	assert_int_equal(c[0].listener, PK_LOC_LISTENER_ANY); /* the proxy picks one */
	assert_int_equal(c[1].src.family, 0); /* a host name: not resolved on a worker */
	assert_int_equal(c[1].transport, PK_TRANSPORT_TCP);
	/* a REGISTER may not change them */
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:gw@example.test",
						    .hdrs = "Contact: <sip:gw@127.0.0.1:5080>;expires=0\r\n" }),
			 403);
	assert_true(strstr(answer_hdr(f, "Warning"), "static") != NULL);
	assert_int_equal(lookup(f, "gw", c), 2);
	/* they are not listed to a REGISTER; `*` leaves them */
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:gw@example.test", .cseq = 2 }), 200);
	assert_int_equal(f->resp.ncontact, 0);
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:gw@example.test", .cseq = 3,
						    .hdrs = "Contact: *\r\nExpires: 0\r\n" }),
			 200);
	assert_int_equal(lookup(f, "gw", c), 2);
}

static void test_static_contact_parse(void **state)
{
	struct pk_loc_contact c;

	(void)state;
	assert_int_equal(pk_registrar_static_contact(S("sip:gw@[2001:db8::1]"), &c), 0);
	assert_int_equal(c.src.family, AF_INET6);
	assert_int_equal(c.src.port, 5060);
	assert_int_equal(c.transport, PK_TRANSPORT_UDP);
	/* sips: is TLS only, which pickupd does not speak (RFC 5630 §4) */
	assert_int_equal(pk_registrar_static_contact(S("sips:gw@[2001:db8::1]"), &c), -EPROTONOSUPPORT);
	assert_int_equal(pk_registrar_static_contact(S("SIPS:gw@192.0.2.1"), &c), -EPROTONOSUPPORT);
	assert_int_equal(pk_registrar_static_contact(S("sip:gw@192.0.2.1;transport=TCP"), &c), 0);
	assert_int_equal(c.src.port, 5060);
	assert_int_equal(c.transport, PK_TRANSPORT_TCP);
	assert_int_equal(c.q, -1);
	assert_int_equal(pk_registrar_static_contact(S("tel:+1555"), &c), -EINVAL);
	assert_int_equal(pk_registrar_static_contact(S("sip:"), &c), -EINVAL);
}

static void test_require(void **state)
{
	struct fx *f = *state;

	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Require: path\r\nContact: <sip:a@10.1.2.3>\r\n" }), 420);
	assert_string_equal(answer_hdr(f, "Unsupported"), "path");
	/* Supported is fine */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Supported: path, gruu\r\nContact: <sip:a@10.1.2.3>\r\n" }),
			 200);
}

static void test_user_normalised_tcp(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];

	/* %32 is '2': the same user as the group index's 2001 */
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:%32001@example.test", .transport = PK_TRANSPORT_TCP,
						    .conn = 0x1234000001ull,
						    .hdrs = "Contact: <sip:2001@10.1.2.3;transport=tcp>\r\n" }),
			 200);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(c[0].transport, PK_TRANSPORT_TCP);
	assert_true(c[0].conn == 0x1234000001ull);
	assert_int_equal(send_reg(f, &(struct reg){ .to = "sip:20%zz@example.test", .cseq = 2,
						    .hdrs = "Contact: <sip:x@10.1.2.3>\r\n" }),
			 400);
}

/* Nine Contact values (one REGISTER may carry eight): refused as a whole. */
static void test_too_many_contacts(void **state)
{
	struct fx *f = *state; /* capacity 8, 2 taken by the static binding */
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char hdrs[1024];
	size_t n = 0;

	for (int i = 0; i < 9; i++)
		n += (size_t)snprintf(hdrs + n, sizeof(hdrs) - n, "Contact: <sip:c%d@10.1.2.3>\r\n", i);
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = hdrs }), 400);
	assert_true(strstr(answer_hdr(f, "Warning"), "more than 8") != NULL);
	assert_int_equal(lookup(f, "2001", c), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_400), 1);
	/* six, on one line: all registered */
	assert_int_equal(send_reg(f, &(struct reg){ .hdrs = "Contact: <sip:c0@10.1.2.3>, <sip:c1@10.1.2.3>, "
							    "<sip:c2@10.1.2.3>, <sip:c3@10.1.2.3>, "
							    "<sip:c4@10.1.2.3>, <sip:c5@10.1.2.3>\r\n" }),
			 200);
	assert_int_equal(f->resp.ncontact, 6);
	assert_int_equal(lookup(f, "2001", c), 6);
}

/*
 * REGISTERs that each replace a binding (the phone's source port changes
 * every time), faster than the sweep runs: when no spare snapshot is left
 * the phone is told 503 with Retry-After, the Warning says why (the table
 * is not full), and register_503 = full + no_memory. After the sweep and a
 * grace period the same REGISTER is taken.
 */
static void test_no_spare_memory(void **state)
{
	struct fx *f = *state;
	struct pk_loc_contact c[PK_LOC_MAX_CONTACTS];
	char src[32];
	unsigned code = 200, cseq;

	for (cseq = 1; cseq < 1000 && code == 200; cseq++) {
		snprintf(src, sizeof(src), "10.1.2.3:%u", 6000 + cseq % 2);
		code = send_reg(f, &(struct reg){ .src = src, .cseq = cseq, .hdrs = "Contact: <sip:a@10.1.2.3>\r\n" });
	}
	assert_int_equal(code, 503);
	assert_true(cseq > 10);
	assert_string_equal(answer_hdr(f, "Retry-After"), "60");
	assert_true(strstr(answer_hdr(f, "Warning"), "table full") == NULL);
	assert_int_equal(ctr(f, PK_LOC_CTR_NO_MEMORY), 1);
	assert_int_equal(ctr(f, PK_LOC_CTR_FULL), 0);
	assert_int_equal(ctr(f, PK_LOC_CTR_REJECTED_503), ctr(f, PK_LOC_CTR_NO_MEMORY) + ctr(f, PK_LOC_CTR_FULL));
	/* the binding the phone had is still there for the proxy */
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(pk_location_in_use(f->eng->location), 3);
	/* the sweep, a grace period: taken */
	pk_location_sweep(f->eng->location, 0, f->w->now_ns, UINT32_MAX);
	pk_rcu_quiescent(f->rcu, 0);
	pk_rcu_reclaim(f->rcu);
	assert_int_equal(send_reg(f, &(struct reg){ .src = src, .cseq = cseq, .hdrs = "Contact: <sip:a@10.1.2.3>\r\n" }),
			 200);
	assert_int_equal(lookup(f, "2001", c), 1);
	assert_int_equal(c[0].cseq, cseq);
}

/* Load the static bindings of conf text into a table of its capacity;
 * returns what pk_registrar_load_static returned, its message in err. */
static int load_static_text(const char *yaml, char *err, size_t errlen)
{
	struct pk_engine_conf_error e;
	struct pk_engine_conf *conf = pk_engine_conf_parse(yaml, strlen(yaml), "b.yaml", ".", &e);
	struct pk_rcu *rcu = pk_rcu_create(1);
	struct pk_location *loc;
	int rc;

	if (conf == NULL)
		fail_msg("%s", e.msg);
	assert_non_null(rcu);
	loc = pk_location_create(conf->capacity.registrations, 1, rcu);
	assert_non_null(loc);
	err[0] = '\0';
	rc = pk_registrar_load_static(loc, 0, conf, err, errlen);
	pk_location_destroy(loc);
	pk_rcu_destroy(rcu);
	pk_engine_conf_free(conf);
	return rc;
}

/* Static bindings the table cannot take stop the start-up with a message
 * naming the configuration line and the reason. */
static void test_load_static_errors(void **state)
{
	char yaml[1024], err[512], uri[300];

	(void)state;
	/* more static contacts than capacity.registrations */
	assert_int_equal(load_static_text("domains: [example.test]\n"
					  "bindings:\n"
					  "  \"gw@example.test\": [\"sip:gw@192.0.2.1\"]\n"
					  "  \"gw2@example.test\": [\"sip:gw2@192.0.2.2\", \"sip:gw2@192.0.2.3\"]\n"
					  "capacity:\n"
					  "  registrations: 2\n",
					  err, sizeof(err)),
			 -ENOSPC);
	assert_true(strstr(err, "b.yaml:4:") != NULL);
	assert_true(strstr(err, "gw2@example.test") != NULL);
	assert_true(strstr(err, "capacity.registrations") != NULL);
	/* a contact URI longer than a binding holds: the loader refuses it
	 * already (so --check does), with its line */
	memset(uri, 'x', sizeof(uri));
	memcpy(uri, "sip:", 4);
	memcpy(uri + 280, "@192.0.2.1", 11);
	snprintf(yaml, sizeof(yaml), "domains: [example.test]\nbindings:\n  \"gw@example.test\": [\"%s\"]\n", uri);
	struct pk_engine_conf_error e;

	assert_null(pk_engine_conf_parse(yaml, strlen(yaml), "b.yaml", ".", &e));
	assert_true(strstr(e.msg, "b.yaml:3:") != NULL);
	assert_true(strstr(e.msg, "longer than 256") != NULL);
	/* a sips: contact (TLS only) is refused with its line */
	snprintf(yaml, sizeof(yaml), "domains: [example.test]\nbindings:\n  \"gw@example.test\": "
				     "[\"sip:gw@192.0.2.1\", \"sips:gw@192.0.2.1\"]\n");
	assert_null(pk_engine_conf_parse(yaml, strlen(yaml), "b.yaml", ".", &e));
	assert_true(strstr(e.msg, "b.yaml:3:") != NULL);
	assert_true(strstr(e.msg, "sips: needs TLS") != NULL);
	/* what fits loads */
	assert_int_equal(load_static_text("domains: [example.test]\n"
					  "bindings:\n"
					  "  \"gw@example.test\": [\"sip:gw@192.0.2.1\", \"sip:gw@192.0.2.2\"]\n"
					  "capacity:\n"
					  "  registrations: 2\n",
					  err, sizeof(err)),
			 0);
}

/* The decision on its own, with a fixed wall clock: the Date header. */
static void test_date(void **state)
{
	struct fx *f = *state;
	struct pk_registrar_answer ans;
	struct pk_registrar_env env = { .conf = f->conf, .loc = f->eng->location, .tid = 0, .now_ns = T0 };
	struct pk_io_msg rx;
	const char *req = "REGISTER sip:example.test SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 10.1.2.3;branch=z9hG4bK1\r\n"
			  "From: <sip:2001@example.test>;tag=1\r\nTo: <sip:2001@example.test>\r\n"
			  "Call-ID: d\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
	static const struct {
		int64_t t;
		const char *date;
	} cases[] = {
		{ 784111777, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" },
		{ 951782400, "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n" },
		{ 4102444799, "Date: Thu, 31 Dec 2099 23:59:59 GMT\r\n" },
	};

	memset(&rx, 0, sizeof(rx));
	assert_int_equal(pk_addr_parse(S(PHONE), false, &rx.src), 0);
	assert_int_equal(pk_sip_scan(req, strlen(req), &f->w->msg[0]), PK_SIP_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env.wall_s = cases[i].t;
		assert_int_equal(pk_registrar_process(&env, &rx, &f->w->msg[0], &ans), 200);
		assert_int_equal(ans.len, strlen(cases[i].date));
		assert_memory_equal(ans.hdrs, cases[i].date, ans.len);
	}
	env.wall_s = -1; /* no clock: no Date */
	assert_int_equal(pk_registrar_process(&env, &rx, &f->w->msg[0], &ans), 200);
	assert_int_equal(ans.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expires_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_brief, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_fast_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_contact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_contact_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_contacts_nat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sips_contact_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cseq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_binding, setup, teardown),
		cmocka_unit_test(test_static_contact_parse),
		cmocka_unit_test_setup_teardown(test_require, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_normalised_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_spare_memory, setup, teardown),
		cmocka_unit_test(test_load_static_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
