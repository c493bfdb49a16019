/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SIP rewriter and the response builder
 * (include/pickup/sip_rewrite.h).
 *
 * Input layout: byte 0 gives k = byte & 63, the next k bytes are the
 * "program" (two parameter bytes, then opcode/argument pairs), and the rest
 * is the SIP message. The seeds that tests/fuzz/run.sh builds are corpus
 * messages behind a few fixed programs, so mutations explore both.
 *
 * A message that scans PK_SIP_OK gets the program's edits -- Via push/pop/
 * received, Max-Forwards, Request-URI, header add/remove/replace, Route
 * pop, body -- with values from fixed tables of well-formed text, then is
 * emitted into a buffer of the documented worst-case size and into one of
 * a size picked by the input (each exactly sized on the heap, so ASan sees
 * any write past cap). What must hold:
 *  - emit fails (-ENOSPC) exactly when an edit failed or the output does
 *    not fit, and two emits of one plan give the same bytes;
 *  - when every edit was accepted, the values are well formed, and the
 *    output stays within the scanner's limits (size, line count) and keeps
 *    a Via, the output scans PK_SIP_OK, and the edited fields read back as
 *    planned (R-URI, Max-Forwards, Via count and top branch, received and
 *    rport, Route count, Call-ID, CSeq, body and Content-Length).
 * Any request (accepted or rejected) is also answered with
 * pk_sip_response_build; an answer to an accepted request must scan OK and
 * echo its Vias, Call-ID, CSeq and tags.
 */
#include <errno.h>

#include "fuzz_check.h"
#include "pickup/sip_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- value tables: each entry is valid where the program puts it ----- */

static const char *const transports[] = { "UDP", "TCP", "TLS", "SCTP" };
static const struct pk_str hosts[] = {
	PK_STR_LIT("192.0.2.1"), PK_STR_LIT("proxy.example.com"),
	PK_STR_LIT("[2001:db8::1]"), PK_STR_LIT("pickup.example.org"),
};
static const struct pk_str branches[] = {
	PK_STR_LIT("z9hG4bK776asdhds"), PK_STR_LIT("z9hG4bK-pk-1"),
	PK_STR_LIT("z9hG4bK.a~b_c!d"), PK_STR_LIT("z9hG4bKx"),
};
static const struct pk_str received_ips[] = {
	PK_STR_LIT("192.0.2.33"), PK_STR_LIT("2001:db8::9"), PK_STR_LIT(""),
	PK_STR_LIT("198.51.100.200"),
};
static const struct pk_str ruris[] = {
	PK_STR_LIT("sip:bob@192.0.2.4"),
	PK_STR_LIT("sips:alice@example.com;transport=tcp"),
	PK_STR_LIT("sip:+15551234567@gw.example.com;user=phone"),
	PK_STR_LIT("tel:+15551234567"),
	PK_STR_LIT("sip:[2001:db8::7]:5070;lr"),
	PK_STR_LIT("sip:%61lice@example.com"),
};

struct hdr_val {
	enum pk_sip_hdr_id id;
	const char *name; /* for PK_HDR_OTHER */
	struct pk_str value;
};

/* Header lines that may appear any number of times. */
static const struct hdr_val addable[] = {
	{ PK_HDR_ROUTE, NULL, PK_STR_LIT("<sip:p1.example.com;lr>") },
	{ PK_HDR_RECORD_ROUTE, NULL, PK_STR_LIT("<sip:pickup.example.org;lr>") },
	{ PK_HDR_CONTACT, NULL, PK_STR_LIT("<sip:carol@192.0.2.7:5060>") },
	{ PK_HDR_SUPPORTED, NULL, PK_STR_LIT("replaces, 100rel") },
	{ PK_HDR_OTHER, "X-Pickup", PK_STR_LIT("group=7") },
	{ PK_HDR_OTHER, "Timestamp", PK_STR_LIT("54.3") },
	{ PK_HDR_ALLOW, NULL, PK_STR_LIT("INVITE, ACK, CANCEL, BYE") },
	{ PK_HDR_SUBJECT, NULL, PK_STR_LIT("") },
};

/* Headers a proxy may drop (never a mandatory one, nor Max-Forwards and
 * Content-Length, which have their own edits). */
static const enum pk_sip_hdr_id removable[] = {
	PK_HDR_ROUTE,	      PK_HDR_RECORD_ROUTE, PK_HDR_CONTACT,	PK_HDR_SUPPORTED,
	PK_HDR_REQUIRE,	      PK_HDR_PROXY_REQUIRE, PK_HDR_REPLACES,	PK_HDR_CONTENT_TYPE,
	PK_HDR_EXPIRES,	      PK_HDR_USER_AGENT,   PK_HDR_ALLOW,	PK_HDR_ACCEPT,
	PK_HDR_SUBJECT,	      PK_HDR_OTHER, /* -EINVAL: must leave the plan as it was */
};
static const struct pk_str removable_names[] = {
	PK_STR_LIT("X-Pickup"), PK_STR_LIT("timestamp"), PK_STR_LIT("P-Asserted-Identity"),
	PK_STR_LIT("Date"),
};

/* Replacement values; CSeq is built from the message (it must name the
 * request's method). */
static const struct hdr_val replaceable[] = {
	{ PK_HDR_FROM, NULL, PK_STR_LIT("<sip:pickup@example.org>;tag=pk1") },
	{ PK_HDR_TO, NULL, PK_STR_LIT("\"Bob\" <sip:bob@example.com>") },
	{ PK_HDR_CALL_ID, NULL, PK_STR_LIT("abc123@example.org") },
	{ PK_HDR_CSEQ, NULL, PK_STR_NULL },
	{ PK_HDR_CONTACT, NULL, PK_STR_LIT("<sip:x@192.0.2.8>;expires=60") },
	{ PK_HDR_ROUTE, NULL, PK_STR_LIT("<sip:p2.example.com;lr>, <sip:p3.example.com;lr>") },
	{ PK_HDR_EXPIRES, NULL, PK_STR_LIT("300") },
	{ PK_HDR_SUPPORTED, NULL, PK_STR_LIT("timer") },
	{ PK_HDR_CONTENT_TYPE, NULL, PK_STR_LIT("application/sdp") },
	{ PK_HDR_USER_AGENT, NULL, PK_STR_LIT("pickupd") },
	{ PK_HDR_REPLACES, NULL, PK_STR_LIT("xyz@host;to-tag=a;from-tag=b") },
};

#define SDP                                                                   \
	"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n" \
	"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
static const struct pk_str bodies[] = { PK_STR_LIT(""), PK_STR_LIT(SDP), PK_STR_LIT("x") };
#define MAX_BODY (sizeof(SDP) - 1)
static const struct pk_str content_types[] = { PK_STR_LIT(""), PK_STR_LIT("application/sdp"),
					       PK_STR_LIT("text/plain") };

static const unsigned statuses[] = { 100, 180, 183, 200, 202, 400, 403, 404, 408, 420,
				     480, 481, 486, 487, 500, 503, 603, 699 };
static const struct pk_str to_tags[] = { PK_STR_LIT(""), PK_STR_LIT("pk-4711"),
					 PK_STR_LIT("a1b2c3") };
static const struct pk_str extras[] = {
	PK_STR_LIT(""),
	PK_STR_LIT("Warning: 399 pickupd \"nothing to pick up\"\r\n"),
	PK_STR_LIT("Unsupported: foo\r\nRetry-After: 30\r\n"),
};

#define PICK(tab, i) (tab[(unsigned)(i) % PK_ARRAY_SIZE(tab)])

/* --- the program ----------------------------------------------------- */

enum op {
	OP_VIA_PUSH,
	OP_VIA_POP,
	OP_VIA_RECEIVED,
	OP_MAXFWD_SET,
	OP_MAXFWD_DEC,
	OP_RURI_SET,
	OP_HDR_ADD,
	OP_HDR_REMOVE,
	OP_HDR_REMOVE_NAME,
	OP_HDR_REPLACE,
	OP_ROUTE_POP,
	OP_BODY_SET,
	OP_COUNT
};

/* What the edits planned so far should read back as. */
struct expect {
	bool failed;	     /* an edit returned -ENOSPC */
	unsigned lines;	     /* header lines the plan may add */
	unsigned pushes;
	struct pk_str first_branch;
	bool via_popped;
	unsigned received_calls;
	struct pk_str received; /* the last address given, empty if none */
	uint16_t rport;		/* the last port given, 0 if none */
	int32_t max_forwards;
	struct pk_str ruri;
	bool body_set;
	struct pk_str body;
	unsigned route_adds;
	bool route_popped, route_other;
	bool call_id_set, cseq_set;
	struct pk_str call_id;
	uint32_t cseq;
};

static void rc_ok(struct expect *x, int rc)
{
	PK_FUZZ_CHECK(rc == 0 || rc == -ENOSPC || rc == -EINVAL || rc == -EBUSY);
	if (rc == -ENOSPC)
		x->failed = true;
}

static void run_op(struct pk_rw *rw, const struct pk_sip_msg *m, struct expect *x, uint8_t op,
		   uint8_t arg, char *cseq_buf, size_t cseq_cap)
{
	int rc;

	switch (op % OP_COUNT) {
	case OP_VIA_PUSH: {
		struct pk_str br = PICK(branches, arg >> 4);

		rc = pk_rw_via_push(rw, PICK(transports, arg), PICK(hosts, arg >> 2),
				    (arg & 0x40) ? (uint16_t)(5060 + arg) : 0, br, arg & 1);
		rc_ok(x, rc);
		if (rc == 0) {
			if (x->pushes++ == 0)
				x->first_branch = br;
			x->lines++;
		}
		break;
	}
	case OP_VIA_POP:
		rc = pk_rw_via_pop(rw);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL); /* an accepted message has a Via */
		if (rc == 0)
			x->via_popped = true;
		break;
	case OP_VIA_RECEIVED: {
		struct pk_str ip = PICK(received_ips, arg);
		uint16_t port = (arg & 0x80) ? (uint16_t)(1024 + arg) : 0;

		rc = pk_rw_via_received(rw, ip, port);
		rc_ok(x, rc);
		if (rc == 0) {
			/* each part given replaces the earlier one */
			x->received_calls++;
			if (ip.len)
				x->received = ip;
			if (port)
				x->rport = port;
		}
		break;
	}
	case OP_MAXFWD_SET:
		rc = pk_rw_maxfwd_set(rw, arg);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL);
		if (rc == 0) {
			if (m->max_forwards < 0 && x->max_forwards < 0)
				x->lines++;
			x->max_forwards = arg;
		}
		break;
	case OP_MAXFWD_DEC:
		rc = pk_rw_maxfwd_dec(rw);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL || m->max_forwards == 0);
		if (rc == 0) {
			if (m->max_forwards < 0 && x->max_forwards < 0)
				x->lines++;
			x->max_forwards = m->max_forwards < 0 ? 69 : m->max_forwards - 1;
		}
		break;
	case OP_RURI_SET: {
		struct pk_str u = PICK(ruris, arg);

		rc = pk_rw_ruri_set(rw, u);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL || !m->is_request);
		if (rc == 0)
			x->ruri = u;
		break;
	}
	case OP_HDR_ADD: {
		const struct hdr_val *h = &PICK(addable, arg);
		enum pk_rw_where where = (enum pk_rw_where)((arg >> 4) % 3);

		rc = pk_rw_hdr_add(rw, h->id, h->name, h->value, where);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL);
		if (rc == 0) {
			x->lines++;
			if (h->id == PK_HDR_ROUTE)
				x->route_adds++;
		}
		break;
	}
	case OP_HDR_REMOVE: {
		enum pk_sip_hdr_id id = PICK(removable, arg);

		rc = pk_rw_hdr_remove(rw, id);
		rc_ok(x, rc < 0 ? rc : 0);
		PK_FUZZ_CHECK(rc >= 0 || rc == -ENOSPC || id == PK_HDR_OTHER);
		PK_FUZZ_CHECK(rc <= 0 || (unsigned)rc == m->count[id]);
		if (id == PK_HDR_ROUTE)
			x->route_other = true;
		break;
	}
	case OP_HDR_REMOVE_NAME:
		rc = pk_rw_hdr_remove_name(rw, PICK(removable_names, arg));
		rc_ok(x, rc < 0 ? rc : 0);
		break;
	case OP_HDR_REPLACE: {
		const struct hdr_val *h = &PICK(replaceable, arg);
		struct pk_str v = h->value;
		uint32_t num = (uint32_t)arg * 1000u + 1u;

		if (h->id == PK_HDR_CSEQ) {
			/* "<num> <method>", the method as the message has it */
			struct pk_str meth = m->cseq_method_tok;
			char *o = cseq_buf;

			if (meth.len + 16 > cseq_cap)
				break;
			o += snprintf(o, 12, "%u ", (unsigned)num);
			memcpy(o, meth.p, meth.len);
			v = pk_str_make(cseq_buf, (size_t)(o - cseq_buf) + meth.len);
		}
		rc = pk_rw_hdr_replace(rw, h->id, v);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL);
		if (rc == 0) {
			x->lines++;
			if (h->id == PK_HDR_ROUTE)
				x->route_other = true;
			if (h->id == PK_HDR_CALL_ID) {
				x->call_id_set = true;
				x->call_id = v;
			}
			if (h->id == PK_HDR_CSEQ) {
				x->cseq_set = true;
				x->cseq = num;
			}
		}
		break;
	}
	case OP_ROUTE_POP:
		rc = pk_rw_route_pop(rw);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EINVAL || m->nroute == 0);
		if (rc == 0)
			x->route_popped = true;
		break;
	case OP_BODY_SET: {
		struct pk_str b = PICK(bodies, arg), ct = PICK(content_types, arg >> 2);

		rc = pk_rw_body_set(rw, b, ct);
		rc_ok(x, rc);
		PK_FUZZ_CHECK(rc != -EBUSY || x->body_set);
		if (rc == -EBUSY)
			break;
		x->body_set = true;
		x->body = b;
		if (b.len && ct.len)
			x->lines++;
		break;
	}
	}
}

/* The emitted message read back: the edits show, nothing else broke. */
static void check_output(const struct pk_sip_msg *m, const struct expect *x, const char *out,
			 size_t n)
{
	static struct pk_sip_msg o;
	char *copy = pk_fuzz_dup(out, n);
	unsigned nvia = m->nvia + x->pushes - (x->via_popped ? 1u : 0u);
	unsigned max_lines = m->nhdrs + x->lines + (m->first[PK_HDR_CONTENT_LENGTH] == 0xff);
	enum pk_sip_verdict v = pk_sip_scan(copy, n, &o);

	if (n > PK_SIP_MAX_MSG || max_lines > PK_SIP_MAX_HDRS || nvia == 0) {
		free(copy);
		return;
	}
	if (v != PK_SIP_OK) {
		fprintf(stderr, "rewritten message: %s (%u)\n", o.why, o.status);
		fwrite(out, 1, n, stderr);
		fprintf(stderr, "\n--- from:\n");
		fwrite(m->buf, 1, m->len, stderr);
	}
	PK_FUZZ_CHECK(v == PK_SIP_OK);
	PK_FUZZ_CHECK(o.len == n);
	PK_FUZZ_CHECK(o.is_request == m->is_request && o.method == m->method && o.code == m->code);
	PK_FUZZ_CHECK(pk_str_eq(o.ruri, x->ruri.len ? x->ruri : m->ruri));
	PK_FUZZ_CHECK(o.max_forwards == (x->max_forwards >= 0 ? x->max_forwards : m->max_forwards));
	PK_FUZZ_CHECK(o.nvia == nvia);
	if (x->pushes)
		PK_FUZZ_CHECK(pk_str_eq(o.via[0].branch, x->first_branch));
	else if (!x->via_popped)
		PK_FUZZ_CHECK(pk_str_eq(o.via[0].branch, m->via[0].branch));
	if (!x->pushes && !x->via_popped && x->received_calls) {
		if (x->received.len)
			PK_FUZZ_CHECK(pk_str_eq(o.via[0].received, x->received));
		/* the last of several rport params is the one the scanner read,
		 * and the one filled */
		if (x->rport && m->via[0].rport == 0)
			PK_FUZZ_CHECK(o.via[0].rport == x->rport);
	}
	PK_FUZZ_CHECK(pk_str_eq(o.body, x->body_set ? x->body : m->body));
	PK_FUZZ_CHECK(o.content_length >= 0 && (uint32_t)o.content_length == o.body.len);
	PK_FUZZ_CHECK(pk_str_eq(o.call_id, x->call_id_set ? x->call_id : m->call_id));
	PK_FUZZ_CHECK(o.cseq == (x->cseq_set ? x->cseq : m->cseq));
	if (!x->route_other)
		PK_FUZZ_CHECK(o.nroute == m->nroute + x->route_adds - (x->route_popped ? 1u : 0u));
	free(copy);
}

/* PK_FUZZ_DUMP=1 in the environment: print each edit and both messages
 * (to see why a reproducer fails). */
static bool dump;

/* Plan the program's edits on m, emit, and check the result. */
static void rewrite(const struct pk_sip_msg *m, const uint8_t *prog, size_t plen, uint8_t capsel)
{
	static struct pk_rw rw;
	struct expect x = { .max_forwards = -1 };
	char cseq_buf[64];
	size_t big_cap = m->len + PK_RW_SCRATCH + 64 + MAX_BODY;
	char *big = malloc(big_cap), *again = malloc(big_cap), *small;
	long n, n2, ns;
	size_t small_cap;

	PK_FUZZ_CHECK(big && again);
	pk_rw_init(&rw, m);
	for (size_t i = 0; i + 1 < plen; i += 2) {
		run_op(&rw, m, &x, prog[i], prog[i + 1], cseq_buf, sizeof(cseq_buf));
		if (dump)
			fprintf(stderr, "op %u arg 0x%02x -> edits %u%s\n", prog[i] % OP_COUNT,
				prog[i + 1], rw.nedits, x.failed ? " (failed)" : "");
	}

	n = pk_rw_emit(&rw, big, big_cap);
	if (dump && n > 0) {
		fprintf(stderr, "--- original:\n");
		fwrite(m->buf, 1, m->len, stderr);
		fprintf(stderr, "\n--- rewritten:\n");
		fwrite(big, 1, (size_t)n, stderr);
		fprintf(stderr, "\n---\n");
	}
	PK_FUZZ_CHECK(x.failed ? n == -ENOSPC : n > 0);
	if (n < 0)
		goto out;
	PK_FUZZ_CHECK((size_t)n <= big_cap);
	/* the plan stays valid: a second emit gives the same bytes */
	n2 = pk_rw_emit(&rw, again, big_cap);
	PK_FUZZ_CHECK(n2 == n && memcmp(big, again, (size_t)n) == 0);

	/* a buffer of the input's choosing: exactly n, one short, or smaller */
	small_cap = capsel < 86 ? (size_t)n : capsel < 172 ? (size_t)n - 1 : (size_t)n * capsel / 256;
	small = malloc(small_cap);
	PK_FUZZ_CHECK(small || small_cap == 0);
	ns = pk_rw_emit(&rw, small, small_cap);
	if (small_cap >= (size_t)n)
		PK_FUZZ_CHECK(ns == n && memcmp(small, big, (size_t)n) == 0);
	else
		PK_FUZZ_CHECK(ns == -ENOSPC);
	free(small);

	check_output(m, &x, big, (size_t)n);
out:
	free(big);
	free(again);
}

/* Answer the request; an answer to an accepted one must scan and echo. */
static void respond(const struct pk_sip_msg *req, enum pk_sip_verdict verdict, size_t size,
		    uint8_t sel, uint8_t capsel)
{
	static struct pk_sip_msg r;
	unsigned status = sel < 128 ? PICK(statuses, sel) : 100u + (sel * 7u) % 600u;
	struct pk_str tag = PICK(to_tags, capsel), extra = PICK(extras, capsel >> 2);
	const char *reason = (capsel & 0x80) ? "Pickup Failed" : NULL;
	size_t cap = size + 256 + extra.len;
	char *out = malloc(cap), *copy;
	long n;

	PK_FUZZ_CHECK(out != NULL);
	n = pk_sip_response_build(req, status, reason, tag, extra, out, cap);
	if (req->method == PK_SIP_ACK) {
		PK_FUZZ_CHECK(n == -EINVAL);
		goto out;
	}
	PK_FUZZ_CHECK(n > 0 && (size_t)n <= cap);
	/* one byte short of room is refused, not overrun */
	{
		char *tight = malloc((size_t)n - 1);

		PK_FUZZ_CHECK(tight || n == 1);
		PK_FUZZ_CHECK(pk_sip_response_build(req, status, reason, tag, extra, tight,
						    (size_t)n - 1) == -ENOSPC);
		free(tight);
	}
	copy = pk_fuzz_dup(out, (size_t)n);
	if (pk_sip_scan(copy, (size_t)n, &r) != PK_SIP_OK) {
		/* a rejected request may have lines the answer copies as
		 * they were; one we accepted may not, unless it had so many
		 * Via and Record-Route lines that the answer is over limit */
		unsigned lines = 7u + req->count[PK_HDR_VIA] + req->count[PK_HDR_RECORD_ROUTE] +
				 (status == 100 ? req->nhdrs : 0u);
		bool limits = lines > PK_SIP_MAX_HDRS || (size_t)n > PK_SIP_MAX_MSG;

		if (verdict == PK_SIP_OK && !limits)
		{
			fprintf(stderr, "response: %s\n", r.why);
			fwrite(out, 1, (size_t)n, stderr);
		}
		PK_FUZZ_CHECK(verdict != PK_SIP_OK || limits);
		free(copy);
		goto out;
	}
	PK_FUZZ_CHECK(!r.is_request && r.code == status);
	if (verdict == PK_SIP_OK) {
		PK_FUZZ_CHECK(r.nvia == req->nvia);
		PK_FUZZ_CHECK(pk_str_eq(r.via[0].branch, req->via[0].branch));
		PK_FUZZ_CHECK(pk_str_eq(r.call_id, req->call_id));
		PK_FUZZ_CHECK(r.cseq == req->cseq && r.cseq_method == req->cseq_method);
		PK_FUZZ_CHECK(pk_str_eq(r.from.tag, req->from.tag));
		PK_FUZZ_CHECK(pk_str_eq(r.to.tag, req->to.tag) ||
			      (status > 100 && tag.len && req->to.tag.len == 0 &&
			       pk_str_eq(r.to.tag, tag)));
		PK_FUZZ_CHECK(r.content_length == 0 && r.body.len == 0);
	}
	free(copy);
out:
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pk_sip_msg msg;
	size_t k;
	const uint8_t *prog;
	uint8_t status_sel = 0, capsel = 0;
	char *buf;
	enum pk_sip_verdict v;

	if (size < 1)
		return 0;
	dump = getenv("PK_FUZZ_DUMP") != NULL;
	k = data[0] & 63u;
	if (k > size - 1)
		k = size - 1;
	prog = data + 1;
	if (k >= 2) {
		status_sel = prog[0];
		capsel = prog[1];
	}
	buf = pk_fuzz_dup(data + 1 + k, size - 1 - k);
	v = pk_sip_scan(buf, size - 1 - k, &msg);
	if (v == PK_SIP_OK)
		rewrite(&msg, k >= 2 ? prog + 2 : prog, k >= 2 ? k - 2 : 0, capsel);
	if ((v == PK_SIP_OK || v == PK_SIP_REJECT) && msg.is_request)
		respond(&msg, v, size - 1 - k, status_sel, capsel);
	free(buf);
	return 0;
}
