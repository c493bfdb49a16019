/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SIP fast-path scanner (include/pickup/sip.h).
 *
 * The input is one datagram. It is scanned from an exactly-sized heap copy,
 * so that AddressSanitizer catches any read past its end (the scanner's
 * 16-byte vector loads must stop at the buffer's end). An accepted message
 * then goes through every accessor the engine uses on it -- URI parsing of
 * the Request-URI, From, To, Contact and Route, the request checks in both
 * roles, the response route check, parameter lookups, Replaces, TCP
 * framing, URI comparisons -- and the results are held to the scanner's
 * contract: every view inside the message, the body ending at msg->len,
 * at least one Via, a rejection carrying a 4xx-6xx status, and the same
 * verdict when the bytes past the message are cut off.
 */
#include <errno.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The option tags the engine supports (what pickupd passes in). */
#define FUZZ_SUPPORTED (PK_SIP_OPT_BIT(REPLACES) | PK_SIP_OPT_BIT(100REL))

static void check_addr(const struct pk_sip_addr *a, const char *lo, const char *hi)
{
	PK_FUZZ_IN(a->raw, lo, hi);
	PK_FUZZ_IN(a->display, lo, hi);
	PK_FUZZ_IN(a->uri, lo, hi);
	PK_FUZZ_IN(a->params, lo, hi);
	PK_FUZZ_IN(a->tag, lo, hi);
	/* the parts come from the entry itself */
	PK_FUZZ_IN(a->uri, a->raw.p, a->raw.p + a->raw.len);
	PK_FUZZ_IN(a->tag, a->raw.p, a->raw.p + a->raw.len);
}

/* Parse a URI view and hold the result to the parser's contract. */
static void check_uri(struct pk_str s, struct pk_sip_uri *u)
{
	const char *lo = s.p, *hi = s.p + s.len;
	struct pk_str v;
	int rc;

	if (s.len == 0)
		return;
	rc = pk_sip_uri_parse(s.p, s.len, u);
	PK_FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0)
		return;
	PK_FUZZ_IN(u->scheme_tok, lo, hi);
	if (u->scheme == PK_URI_UNKNOWN)
		return;
	PK_FUZZ_IN(u->user, lo, hi);
	PK_FUZZ_IN(u->password, lo, hi);
	PK_FUZZ_IN(u->host, lo, hi);
	PK_FUZZ_IN(u->params, lo, hi);
	PK_FUZZ_IN(u->headers, lo, hi);
	PK_FUZZ_IN(u->transport, lo, hi);
	PK_FUZZ_IN(u->maddr, lo, hi);
	PK_FUZZ_IN(u->user_param, lo, hi);
	if (u->scheme == PK_URI_SIP || u->scheme == PK_URI_SIPS)
		PK_FUZZ_CHECK(u->host.len > 0);
	/* the comparisons are reflexive, and symmetric */
	PK_FUZZ_CHECK(pk_sip_uri_user_eq(u->user, u->user));
	PK_FUZZ_CHECK(pk_sip_uri_host_eq(u->host, u->host));
	PK_FUZZ_CHECK(pk_sip_uri_user_eq(u->user, u->host) ==
		      pk_sip_uri_user_eq(u->host, u->user));
	if (pk_sip_param_get(u->params, "transport", &v))
		PK_FUZZ_IN(v, u->params.p, u->params.p + u->params.len);
}

static void check_headers(const struct pk_sip_msg *m, const char *buf, size_t size)
{
	PK_FUZZ_CHECK(m->nhdrs <= PK_SIP_MAX_HDRS);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct pk_sip_hdr *h = &m->hdrs[i];
		struct pk_str v = pk_sip_hdr_value(m, i);

		PK_FUZZ_CHECK((size_t)h->off + h->len <= size);
		PK_FUZZ_CHECK(h->len >= 2 && buf[h->off + h->len - 1] == '\n');
		PK_FUZZ_CHECK(h->voff >= h->off && (size_t)h->voff + h->vlen <= (size_t)h->off + h->len);
		PK_FUZZ_CHECK(h->id < PK_HDR_COUNT);
		PK_FUZZ_CHECK(i == 0 || h->off >= m->hdrs[i - 1].off + m->hdrs[i - 1].len);
		PK_FUZZ_IN(v, buf, buf + size);
	}
	for (unsigned id = 1; id < PK_HDR_COUNT; id++) {
		int i = m->first[id] == 0xff ? -1 : m->first[id];
		unsigned n = 0;

		PK_FUZZ_CHECK(i < 0 || (i < m->nhdrs && m->hdrs[i].id == id));
		for (; i >= 0; i = pk_sip_hdr_next(m, i)) {
			PK_FUZZ_CHECK(i < m->nhdrs && m->hdrs[i].id == id);
			n++;
		}
		PK_FUZZ_CHECK(m->count[id] == (n > 255 ? 255 : n));
	}
}

/* Everything the engine may look at in an accepted message. */
static void check_accepted(struct pk_sip_msg *m, const char *buf, size_t size)
{
	const char *lo = buf, *hi = buf + m->len;
	struct pk_sip_uri u;
	struct pk_str v;
	unsigned i;

	PK_FUZZ_CHECK(m->len <= size);
	PK_FUZZ_CHECK(m->body.p + m->body.len == buf + m->len);
	PK_FUZZ_CHECK(m->nvia >= 1);
	PK_FUZZ_CHECK(m->content_length < 0 || (uint32_t)m->content_length == m->body.len);
	check_headers(m, buf, m->len);

	PK_FUZZ_IN(m->method_tok, lo, hi);
	PK_FUZZ_IN(m->ruri, lo, hi);
	PK_FUZZ_IN(m->reason, lo, hi);
	PK_FUZZ_IN(m->call_id, lo, hi);
	PK_FUZZ_IN(m->cseq_method_tok, lo, hi);
	PK_FUZZ_IN(m->content_type, lo, hi);
	PK_FUZZ_IN(m->body, lo, hi);
	PK_FUZZ_CHECK(m->call_id.len > 0);
	if (m->is_request) {
		PK_FUZZ_CHECK(m->ruri.len > 0);
		PK_FUZZ_CHECK(pk_str_eq(m->method_tok, m->cseq_method_tok));
		PK_FUZZ_CHECK(m->method == pk_sip_method_lookup(m->method_tok.p, m->method_tok.len));
	} else {
		PK_FUZZ_CHECK(m->code >= 100 && m->code <= 699);
	}
	for (i = 0; i < m->nvia && i < PK_SIP_MAX_VIA; i++) {
		const struct pk_sip_via *via = &m->via[i];

		PK_FUZZ_IN(via->raw, lo, hi);
		PK_FUZZ_IN(via->transport, lo, hi);
		PK_FUZZ_IN(via->host, lo, hi);
		PK_FUZZ_IN(via->branch, lo, hi);
		PK_FUZZ_IN(via->received, lo, hi);
		PK_FUZZ_CHECK(via->host.len > 0);
		PK_FUZZ_CHECK(via->hdr < m->nhdrs && m->hdrs[via->hdr].id == PK_HDR_VIA);
		PK_FUZZ_CHECK(via->rport >= -1 && via->rport <= 65535);
		if (pk_sip_param_get(via->raw, "branch", &v))
			PK_FUZZ_IN(v, via->raw.p, via->raw.p + via->raw.len);
		if (pk_sip_param_get(via->raw, "maddr", &v))
			PK_FUZZ_IN(v, via->raw.p, via->raw.p + via->raw.len);
	}
	check_addr(&m->from, lo, hi);
	check_addr(&m->to, lo, hi);
	check_uri(m->from.uri, &u);
	check_uri(m->to.uri, &u);
	if (pk_sip_param_get(m->from.params, "tag", &v))
		PK_FUZZ_IN(v, m->from.params.p, m->from.params.p + m->from.params.len);
	for (i = 0; i < m->ncontact && i < PK_SIP_MAX_CONTACT; i++) {
		check_addr(&m->contact[i], lo, hi);
		check_uri(m->contact[i].uri, &u);
		PK_FUZZ_CHECK(m->contact[i].hdr < m->nhdrs);
	}
	for (i = 0; i < m->nroute && i < PK_SIP_MAX_ROUTE; i++) {
		check_addr(&m->route[i], lo, hi);
		check_uri(m->route[i].uri, &u);
		PK_FUZZ_CHECK(m->route[i].hdr < m->nhdrs && m->hdrs[m->route[i].hdr].id == PK_HDR_ROUTE);
	}
	for (i = 0; i < m->nrr && i < PK_SIP_MAX_ROUTE; i++) {
		check_addr(&m->rr[i], lo, hi);
		check_uri(m->rr[i].uri, &u);
		PK_FUZZ_CHECK(m->rr[i].hdr < m->nhdrs);
	}
	if (m->has_replaces) {
		struct pk_sip_replaces r;
		uint8_t li = m->first[PK_HDR_REPLACES];

		PK_FUZZ_IN(m->replaces.call_id, lo, hi);
		PK_FUZZ_IN(m->replaces.to_tag, lo, hi);
		PK_FUZZ_IN(m->replaces.from_tag, lo, hi);
		PK_FUZZ_CHECK(li != 0xff);
		/* parsing the line again gives what the scan found */
		v = pk_sip_hdr_value(m, li);
		PK_FUZZ_CHECK(pk_sip_replaces_parse(v, &r) == 0);
		PK_FUZZ_CHECK(pk_str_eq(r.call_id, m->replaces.call_id));
		PK_FUZZ_CHECK(pk_str_eq(r.to_tag, m->replaces.to_tag));
		PK_FUZZ_CHECK(pk_str_eq(r.from_tag, m->replaces.from_tag));
		PK_FUZZ_CHECK(r.early_only == m->replaces.early_only);
	}
	/* the pickup engine compares the R-URI user with the From user */
	if (m->is_request) {
		struct pk_sip_uri ru, fu;

		if (pk_sip_uri_parse(m->ruri.p, m->ruri.len, &ru) == 0 &&
		    ru.scheme != PK_URI_UNKNOWN && m->from.uri.len &&
		    pk_sip_uri_parse(m->from.uri.p, m->from.uri.len, &fu) == 0 &&
		    fu.scheme != PK_URI_UNKNOWN)
			PK_FUZZ_CHECK(pk_sip_uri_user_eq(ru.user, fu.user) ==
				      pk_sip_uri_user_eq(fu.user, ru.user));
	}
}

/* The checks that depend on our role, as the engine calls them. */
static void check_roles(struct pk_sip_msg *m)
{
	if (m->is_request) {
		static const enum pk_sip_role roles[] = { PK_ROLE_PROXY, PK_ROLE_UAS };

		for (unsigned k = 0; k < PK_ARRAY_SIZE(roles); k++) {
			enum pk_sip_verdict v = pk_sip_check_request(m, roles[k], FUZZ_SUPPORTED);

			PK_FUZZ_CHECK(v == PK_SIP_OK || v == PK_SIP_REJECT);
			if (v == PK_SIP_REJECT) {
				PK_FUZZ_CHECK(m->status >= 400 && m->status <= 699);
				PK_FUZZ_CHECK(m->why != NULL);
			}
			if (v == PK_SIP_REJECT && m->status == 420) {
				/* the Unsupported list into an exactly-sized buffer */
				char tmp[PK_SIP_MAX_MSG];
				int n = pk_sip_unsupported_list(m, roles[k], FUZZ_SUPPORTED, tmp,
								sizeof(tmp));
				PK_FUZZ_CHECK(n > 0);
				char *exact = malloc((size_t)n + 1);
				PK_FUZZ_CHECK(exact != NULL);
				PK_FUZZ_CHECK(pk_sip_unsupported_list(m, roles[k], FUZZ_SUPPORTED, exact,
								      (size_t)n + 1) == n);
				PK_FUZZ_CHECK(memcmp(exact, tmp, (size_t)n) == 0);
				PK_FUZZ_CHECK(pk_sip_unsupported_list(m, roles[k], FUZZ_SUPPORTED, exact,
								      (size_t)n) == -1);
				free(exact);
			}
		}
	} else {
		enum pk_sip_verdict v = pk_sip_check_response_route(m);

		PK_FUZZ_CHECK(v == PK_SIP_OK || v == PK_SIP_DROP);
		PK_FUZZ_CHECK(v == PK_SIP_OK || m->why != NULL);
	}
}

/* TCP framing of the same bytes as a stream. */
static void check_frame(const char *buf, size_t size)
{
	size_t skip = SIZE_MAX;
	long n = pk_sip_frame(buf, size, &skip);

	PK_FUZZ_CHECK(n >= -1 && (n < 0 || (size_t)n <= size));
	PK_FUZZ_CHECK(skip <= size && skip % 2 == 0);
	PK_FUZZ_CHECK(skip == 0 || (size_t)n == skip);
	if (n > 0 && skip == 0) {
		/* the framed prefix is a message of its own: scanning it alone
		 * must not read past it either */
		struct pk_sip_msg *fm = malloc(sizeof(*fm));
		char *f = pk_fuzz_dup(buf, (size_t)n);

		PK_FUZZ_CHECK(fm != NULL);
		if (pk_sip_scan(f, (size_t)n, fm) == PK_SIP_OK)
			PK_FUZZ_CHECK(fm->len == (uint32_t)n);
		free(f);
		free(fm);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pk_sip_msg msg, again;
	char *buf = pk_fuzz_dup(data, size);
	enum pk_sip_verdict v = pk_sip_scan(buf, size, &msg);

	PK_FUZZ_CHECK(v == PK_SIP_OK || v == PK_SIP_REJECT || v == PK_SIP_DROP || v == PK_SIP_SLOW);
	PK_FUZZ_CHECK(msg.why != NULL);
	PK_FUZZ_CHECK(msg.buf == buf);
	switch (v) {
	case PK_SIP_OK:
		check_accepted(&msg, buf, size);
		/* Bytes past the message do not change the verdict (§18.3):
		 * scan the message alone, from its own exactly-sized copy. */
		{
			char *cut = pk_fuzz_dup(buf, msg.len);

			PK_FUZZ_CHECK(pk_sip_scan(cut, msg.len, &again) == PK_SIP_OK);
			PK_FUZZ_CHECK(again.len == msg.len && again.nhdrs == msg.nhdrs &&
				      again.nvia == msg.nvia && again.body.len == msg.body.len);
			free(cut);
		}
		check_roles(&msg);
		break;
	case PK_SIP_REJECT:
		PK_FUZZ_CHECK(msg.is_request);
		PK_FUZZ_CHECK(msg.status >= 400 && msg.status <= 699);
		PK_FUZZ_CHECK(msg.first[PK_HDR_VIA] != 0xff);
		/* the response builder copies these lines as written */
		check_headers(&msg, buf, size);
		break;
	case PK_SIP_DROP:
	case PK_SIP_SLOW:
		break;
	}
	check_frame(buf, size);
	free(buf);
	return 0;
}
