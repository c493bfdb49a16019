/* SPDX-License-Identifier: MIT */
/*
 * The RFC 4475 torture messages (tests/corpus/rfc4475, one cmocka test
 * each), run through the three layers a message meets in pickupd:
 *   1. pk_sip_scan: accepted, answered with a status, or dropped;
 *   2. accepted requests: pk_sip_check_request as a proxy and as a UAS,
 *      both supporting only "replaces";
 *   3. accepted responses: pk_sip_check_response_route.
 * Several valid messages also have the fields the engine reads asserted,
 * since "accepted" alone would pass a scanner that misreads them.
 *
 * Every buffer is a heap copy of exactly the file's size, so a sanitizer
 * build catches any read past the end of the message.
 *
 * Expected handling (decided from the RFC; "lenient" marks where the RFC
 * lets an element choose and what we chose):
 *
 *   message      scan          proxy  UAS   response route
 *   wsinv        OK            OK     OK
 *   intmeth      OK            OK     OK    (405/501 is the application's)
 *   esc01        OK            OK     OK
 *   escnull      OK            OK     OK
 *   esc02        OK            OK     OK    (RE%47IST%45R is not REGISTER)
 *   lwsdisp      OK            OK     OK
 *   longreq      OK            OK     OK
 *   dblreq       OK            OK     OK    (the INVITE after the end ignored)
 *   semiuri      OK            OK     OK
 *   transports   OK            OK     OK
 *   mpart01      OK            OK     415   (UAS takes only application/sdp)
 *   unreason     OK                         DROP (single Via: for us)
 *   noreason     OK                         DROP (single Via: for us)
 *   badinv01     REJECT 400
 *   clerr        REJECT 400
 *   ncl          REJECT 400
 *   scalar02     REJECT 400
 *   scalarlg     DROP (invalid response)
 *   quotbal      REJECT 400
 *   ltgtruri     REJECT 400
 *   lwsruri      REJECT 400
 *   lwsstart     REJECT 400
 *   trws         REJECT 400
 *   escruri      REJECT 400    (headers in the Request-URI)
 *   baddate      OK            OK     OK    lenient: Date is not used
 *   regbadct     REJECT 400    strict: '?' in an addr-spec Contact
 *   badaspec     OK            OK     OK    lenient: LWS inside <> trimmed
 *   baddn        OK            OK     OK    lenient: token display with ','
 *   badvers      REJECT 505
 *   mismatch01   REJECT 400
 *   mismatch02   REJECT 400
 *   bigcode      DROP (invalid response)
 *   badbranch    OK            OK     OK    lenient: branch "z9hG4bK" kept
 *   insuf        REJECT 400    (has a Via, so answered, not dropped)
 *   unkscm       OK            416    416
 *   novelsc      OK            416    416
 *   unksm2       OK            OK     OK
 *   bext01       OK            420    420
 *   invut        OK            OK     415
 *   regaut01     OK            OK     OK    (authentication is not ours)
 *   multi01      REJECT 400
 *   mcl01        REJECT 400
 *   bcast        OK                         DROP (broadcast Via)
 *   zeromf       OK            483    OK    (Max-Forwards 0 only stops a proxy)
 *   cparam01     OK            OK     OK
 *   cparam02     OK            OK     OK
 *   regescrt     OK            OK     OK
 *   sdp01        OK            OK     406
 *   inv2543      OK            OK     OK    lenient: RFC 2543 syntax (no
 *                                           branch, no Max-Forwards, no
 *                                           Content-Length on UDP)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pickup/sip.h"

static const char *corpus_dir;

/* The option tags pickupd implements in these tests. */
#define OURS PK_SIP_OPT_BIT(REPLACES)

/* --- helpers ------------------------------------------------------------ */

struct file {
	char *buf; /* exactly len bytes, heap, so ASan sees overreads */
	size_t len;
};

static struct file load(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.dat", corpus_dir, name);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		print_error("cannot open %s\n", path);
		fail();
	}
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	assert_true(n > 0);
	struct file f = { malloc((size_t)n), (size_t)n };
	assert_non_null(f.buf);
	assert_int_equal(fread(f.buf, 1, f.len, fp), f.len);
	fclose(fp);
	return f;
}

static void str_is(struct pk_str s, const char *want, size_t wlen, const char *file, int line)
{
	if (s.len != wlen || (wlen && memcmp(s.p, want, wlen) != 0)) {
		print_error("got \"%.*s\" (%u bytes), want \"%.*s\" (%zu bytes)\n", (int)s.len,
			    s.p ? s.p : "", s.len, (int)wlen, want, wlen);
		_fail(file, line);
	}
}
/* a view equals a C string / a literal that may hold NUL bytes */
#define assert_pkstr(s, cstr) str_is((s), (cstr), strlen(cstr), __FILE__, __LINE__)
#define assert_pkmem(s, lit) str_is((s), (lit), sizeof(lit) - 1, __FILE__, __LINE__)

static void why_has(const char *why, const char *kw, const char *file, int line)
{
	if (!why || !strcasestr(why, kw)) {
		print_error("why \"%s\" does not mention \"%s\"\n", why ? why : "(null)", kw);
		_fail(file, line);
	}
}

/* Header lines of the message: CRLFs between the start line and the empty
 * line that are not followed by SP/HT (a fold). */
static unsigned count_header_lines(const char *b, size_t len)
{
	const char *p = memchr(b, '\n', len);
	unsigned n = 0;
	assert_non_null(p);
	p++;
	const char *end = b + len;
	while (p < end && !(p + 1 < end && p[0] == '\r' && p[1] == '\n')) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(e);
		while (e + 1 < end && (e[1] == ' ' || e[1] == '\t'))
			e = memchr(e + 1, '\n', (size_t)(end - e - 1));
		n++;
		p = e + 1;
	}
	return n;
}

/* The header table covers the header block line by line, in order, with
 * values inside their lines, and first[]/count[] agree with it. */
static void check_table(const struct pk_sip_msg *m, const struct file *f)
{
	assert_int_equal(m->nhdrs, count_header_lines(f->buf, f->len));
	const char *nl = memchr(f->buf, '\n', f->len);
	size_t at = (size_t)(nl - f->buf) + 1;
	unsigned cnt[PK_HDR_COUNT] = { 0 };
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct pk_sip_hdr *h = &m->hdrs[i];
		assert_int_equal(h->off, at);
		assert_true(h->voff >= h->off && h->voff + h->vlen <= h->off + h->len);
		assert_memory_equal(f->buf + h->off + h->len - 2, "\r\n", 2);
		assert_true(h->id < PK_HDR_COUNT);
		if (cnt[h->id]++ == 0 && h->id != PK_HDR_OTHER)
			assert_int_equal(m->first[h->id], i);
		at = h->off + h->len;
	}
	assert_memory_equal(f->buf + at, "\r\n", 2);
	for (unsigned id = 1; id < PK_HDR_COUNT; id++) {
		assert_int_equal(m->count[id], cnt[id]);
		if (!cnt[id])
			assert_int_equal(m->first[id], 0xff);
	}
}

/* The first header line with this exact name (for unknown headers). */
static int find_hdr(const struct pk_sip_msg *m, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].len > n && memcmp(m->buf + m->hdrs[i].off, name, n) == 0)
			return (int)i;
	return -1;
}

/* Position of needle in the file from `from` on (files are not
 * NUL-terminated: they are exactly their size). */
static const char *find(const struct file *f, const char *from, const char *needle)
{
	const char *p = memmem(from, (size_t)(f->buf + f->len - from), needle, strlen(needle));
	assert_non_null(p);
	return p;
}

static struct pk_sip_uri uri_of(struct pk_str s)
{
	struct pk_sip_uri u;
	assert_int_equal(pk_sip_uri_parse(s.p, s.len, &u), 0);
	return u;
}

/* --- field checks of particular messages -------------------------------- */

static void fields_wsinv(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->ruri, "sip:vivekg@chair-dnrc.example.com;unknownparam");
	assert_int_equal(m->method, PK_SIP_INVITE);
	assert_pkstr(m->to.uri, "sip:vivekg@chair-dnrc.example.com");
	assert_pkstr(m->to.tag, "1918181833n");
	assert_pkstr(m->from.display, "\"J Rosenberg \\\\\\\"\"");
	assert_pkstr(m->from.uri, "sip:jdrosen@example.com");
	assert_pkstr(m->from.tag, "98asjd8");
	assert_int_equal(m->max_forwards, 68);
	assert_int_equal(m->cseq, 9);
	assert_int_equal(m->cseq_method, PK_SIP_INVITE);
	assert_pkstr(m->cseq_method_tok, "INVITE");
	assert_pkstr(m->call_id, "wsinv.ndaksdj@192.0.2.1");

	assert_int_equal(m->nvia, 3);
	assert_int_equal(m->count[PK_HDR_VIA], 2);
	static const char *const tr[3] = { "UDP", "TCP", "UDP" };
	static const char *const host[3] = { "192.0.2.2", "spindle.example.com",
					     "192.168.255.111" };
	static const char *const br[3] = { "390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239" };
	for (unsigned i = 0; i < 3; i++) {
		assert_pkstr(m->via[i].transport, tr[i]);
		assert_pkstr(m->via[i].host, host[i]);
		assert_pkstr(m->via[i].branch, br[i]);
		assert_int_equal(m->via[i].port, 0);
		assert_int_equal(m->via[i].rport, -1);
	}
	assert_int_not_equal(m->via[0].hdr, m->via[1].hdr);
	assert_int_equal(m->via[1].hdr, m->via[2].hdr);

	assert_int_equal(m->nroute, 1);
	assert_pkstr(m->route[0].uri, "sip:services.example.com;lr;unknownwith=value;unknown-no-value");
	struct pk_sip_uri u = uri_of(m->route[0].uri);
	assert_true(u.lr);
	assert_pkstr(u.host, "services.example.com");

	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].display, "\"Quoted string \\\"\\\"\"");
	assert_pkstr(m->contact[0].uri, "sip:jdrosen@example.com");
	struct pk_str v;
	assert_true(pk_sip_param_get(m->contact[0].params, "newparam", &v));
	assert_pkstr(v, "newvalue");
	assert_true(pk_sip_param_get(m->contact[0].params, "secondparam", &v));
	assert_int_equal(v.len, 0);
	assert_true(pk_sip_param_get(m->contact[0].params, "q", &v));
	assert_pkstr(v, "0.33");
	assert_int_equal(m->contact[0].expires, -1);

	assert_pkstr(m->content_type, "application/sdp");
	assert_int_equal(m->content_length, 150);
	assert_int_equal(m->body.len, 150);
	assert_memory_equal(m->body.p, "v=0\r\n", 5);
	/* "s :" is an empty Subject; the folded unknown header keeps both
	 * lines in its value */
	assert_int_not_equal(m->first[PK_HDR_SUBJECT], 0xff);
	assert_int_equal(m->hdrs[m->first[PK_HDR_SUBJECT]].vlen, 0);
	int i = find_hdr(m, "NewFangledHeader");
	assert_true(i >= 0);
	assert_int_equal(m->hdrs[i].id, PK_HDR_OTHER);
	assert_pkstr(pk_sip_hdr_value(m, (unsigned)i),
		     "newfangled value\r\n continued newfangled value");
}

static void fields_esc01(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	/* kept escaped as written: a proxy forwards the R-URI unchanged */
	assert_pkstr(m->ruri, "sip:sips%3Auser%40example.com@example.net");
	struct pk_sip_uri u = uri_of(m->ruri);
	assert_int_equal(u.scheme, PK_URI_SIP);
	assert_pkstr(u.user, "sips%3Auser%40example.com");
	assert_pkstr(u.host, "example.net");
	assert_pkstr(m->to.uri, "sip:%75se%72@example.com");
	u = uri_of(m->to.uri);
	assert_true(pk_sip_uri_user_eq(u.user, PK_STR_LIT("user")));
	assert_pkstr(m->from.uri, "sip:I%20have%20spaces@example.net");
	assert_pkstr(m->from.tag, "938");
	assert_pkstr(m->call_id, "esc01.239409asdfakjkn23onasd0-3234");
	assert_pkstr(m->content_type, "application/sdp");
	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].uri, "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
	u = uri_of(m->contact[0].uri);
	assert_pkstr(u.user, "cal%6Cer");
	assert_pkstr(u.params, ";%6C%72;n%61me=v%61lue%25%34%31");
	assert_int_equal(m->body.len, 150);
}

static void fields_intmeth(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->method_tok, "!interesting-Method0123456789_*+`.%indeed'~");
	assert_int_equal(m->method, PK_SIP_METHOD_UNKNOWN);
	assert_true(pk_str_eq(m->method_tok, m->cseq_method_tok));
	assert_int_equal(m->cseq_method, PK_SIP_METHOD_UNKNOWN);
	assert_int_equal(m->cseq, 139122385);
	assert_int_equal(m->max_forwards, 255);
	struct pk_sip_uri u = uri_of(m->ruri);
	assert_pkstr(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	assert_pkstr(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	assert_pkstr(u.host, "example.com");
	assert_pkstr(m->via[0].transport, "TCP");
	assert_pkstr(m->via[0].branch, "z9hG4bK-.!%66*_+`'~");
	/* quoted display name holding escaped BEL, NUL and DEL */
	assert_pkmem(m->to.display, "\"BEL:\\\a NUL:\\\0 DEL:\\\x7f\"");
	assert_pkstr(m->to.uri, "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
	assert_pkstr(m->from.display, "token1~` token2'+_ token3*%!.-");
	assert_pkstr(m->from.tag, "_token~1'+`*%!-.");
	assert_pkstr(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	int i = find_hdr(m, "extensionHeader-!.%*+_`'~");
	assert_true(i >= 0);
	assert_int_equal(m->hdrs[i].id, PK_HDR_OTHER);
	assert_pkstr(pk_sip_hdr_value(m, (unsigned)i),
		     "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb");
	assert_int_equal(m->content_length, 0);
}

static void fields_escnull(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->to.uri, "sip:null-%00-null@example.com");
	assert_pkstr(m->from.tag, "839923423");
	assert_int_equal(m->ncontact, 2);
	assert_pkstr(m->contact[0].uri, "sip:%00@host5.example.com");
	assert_pkstr(m->contact[1].uri, "sip:%00%00@host5.example.com");
	/* %00 and %00%00 are different users */
	struct pk_sip_uri a = uri_of(m->contact[0].uri), b = uri_of(m->contact[1].uri);
	assert_false(pk_sip_uri_user_eq(a.user, b.user));
	assert_int_equal(m->content_length, 0);
}

static void fields_esc02(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_int_equal(m->method, PK_SIP_METHOD_UNKNOWN);
	assert_pkstr(m->method_tok, "RE%47IST%45R");
	assert_pkstr(m->cseq_method_tok, "RE%47IST%45R");
	assert_int_equal(m->cseq_method, PK_SIP_METHOD_UNKNOWN);
	assert_pkstr(m->to.display, "\"%Z%45\"");
	assert_pkstr(m->via[0].branch, "z9hG4bK209%fzsnel234");
	/* C%6Fntact is an unknown header, not a Contact */
	assert_int_equal(m->ncontact, 2);
	assert_int_equal(m->count[PK_HDR_CONTACT], 2);
	assert_pkstr(m->contact[0].uri, "sip:alias1@host1.example.com");
	assert_pkstr(m->contact[1].uri, "sip:alias3@host3.example.com");
	int i = find_hdr(m, "C%6Fntact");
	assert_true(i >= 0);
	assert_int_equal(m->hdrs[i].id, PK_HDR_OTHER);
}

static void fields_lwsdisp(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->from.display, "caller");
	assert_pkstr(m->from.uri, "sip:caller@example.com");
	assert_pkstr(m->from.tag, "323");
}

static void fields_longreq(const struct pk_sip_msg *m, const struct file *f)
{
	/* long values come through whole: compare them with the file */
	const char *to = find(f, f->buf, "\r\nTo: ") + 6;
	const char *to_end = find(f, to, "\r\n");
	assert_pkmem(m->to.display,
		     "\"I have a user name of extremeextremeextremeextremeextremeextremeextremeextremeextremeextreme proportion\"");
	assert_true(m->to.uri.p > to && m->to.uri.p + m->to.uri.len == to_end - 1);
	assert_int_equal(m->to.raw.len, to_end - to);
	assert_int_equal(m->hdrs[m->first[PK_HDR_TO]].vlen, to_end - to);
	const char *tag = find(f, f->buf, ";tag=") + 5;
	assert_int_equal(m->from.tag.len, find(f, tag, ";") - tag);
	assert_ptr_equal(m->from.tag.p, tag);
	assert_int_equal(m->from.tag.len, 155);
	assert_pkstr(m->call_id, "longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreally"
				 "reallyreallyreallyreallyreallyreallyreallyreallyreallyreallylongcallid");
	int i = find_hdr(m, "Unknown-LongLong");
	assert_true(i >= 0);
	assert_int_equal(m->hdrs[i].id, PK_HDR_OTHER);
	const char *uv = find(f, f->buf, "-Name: ") + 7;
	assert_ptr_equal(m->buf + m->hdrs[i].voff, uv);
	assert_int_equal(m->hdrs[i].vlen, find(f, uv, "\r\n") - uv);

	/* 34 Via values on 34 lines in every case spelling; the first 8
	 * parsed */
	assert_int_equal(m->nvia, 34);
	assert_int_equal(m->count[PK_HDR_VIA], 34);
	for (unsigned k = 0; k < PK_SIP_MAX_VIA; k++) {
		char host[32];
		snprintf(host, sizeof(host), "sip%u.example.com", 33 - k);
		assert_pkstr(m->via[k].host, host);
		assert_pkstr(m->via[k].transport, "TCP");
		assert_int_equal(m->via[k].branch.len, 0);
	}
	assert_int_equal(m->max_forwards, 70);
	assert_int_equal(m->ncontact, 1);
	assert_int_equal(m->content_length, 150);
	assert_int_equal(m->body.len, 150);
}

static void fields_dblreq(const struct pk_sip_msg *m, const struct file *f)
{
	/* the message ends after its empty body: the INVITE that follows in
	 * the datagram is ignored (RFC 3261 §18.3) */
	const char *he = find(f, f->buf, "\r\n\r\n") + 4;
	assert_int_equal(m->len, he - f->buf);
	assert_true(m->len < f->len);
	assert_int_equal(m->method, PK_SIP_REGISTER);
	assert_int_equal(m->content_length, 0);
	assert_int_equal(m->body.len, 0);
	assert_int_equal(m->nhdrs, 8);
	assert_int_equal(m->count[PK_HDR_TO], 1);
	assert_int_equal(m->cseq_method, PK_SIP_REGISTER);
	assert_pkstr(m->call_id, "dblreq.0ha0isndaksdj99sdfafnl3lk233412");
	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].uri, "sip:j.user@host.example.com");
	assert_int_equal(m->nvia, 1);
	assert_pkstr(m->via[0].branch, "z9hG4bKkdjuw23492");
}

static void fields_semiuri(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->ruri, "sip:user;par=u%40example.net@example.com");
	struct pk_sip_uri u = uri_of(m->ruri);
	assert_pkstr(u.user, "user;par=u%40example.net");
	assert_pkstr(u.host, "example.com");
	assert_int_equal(u.params.len, 0);
	assert_int_equal(m->count[PK_HDR_ACCEPT], 1);
	assert_int_equal(m->max_forwards, 3);
}

static void fields_transports(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	static const char *const tr[5] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
	assert_int_equal(m->nvia, 5);
	assert_int_equal(m->count[PK_HDR_VIA], 5);
	for (unsigned i = 0; i < 5; i++) {
		char host[32];
		snprintf(host, sizeof(host), "t%u.example.com", i + 1);
		assert_pkstr(m->via[i].transport, tr[i]);
		assert_pkstr(m->via[i].host, host);
		assert_int_equal(m->via[i].hdr, m->first[PK_HDR_VIA] + i);
	}
	assert_pkstr(m->via[3].branch, "z9hG4bKasd0f3en");
	assert_pkstr(m->call_id, "transports.kijh4akdnaqjkwendsasfdj");
}

static void fields_mpart01(const struct pk_sip_msg *m, const struct file *f)
{
	assert_int_equal(m->content_length, 553);
	assert_int_equal(m->body.len, 553);
	assert_int_equal(m->len, f->len);
	assert_ptr_equal(m->body.p + m->body.len, f->buf + f->len);
	assert_memory_equal(m->body.p, "--7a9cbec02ceef655\r\n", 20);
	assert_pkstr(m->content_type, "multipart/mixed;boundary=7a9cbec02ceef655");
	assert_pkstr(m->via[0].host, "127.0.0.1");
	assert_int_equal(m->via[0].port, 5070);
	assert_int_equal(m->via[0].rport, 0);
	assert_int_equal(m->method, PK_SIP_MESSAGE);
	assert_int_equal(m->nroute, 1);
	assert_pkstr(m->route[0].uri, "sip:127.0.0.1:5080");
}

static void fields_unreason(const struct pk_sip_msg *m, const struct file *f)
{
	assert_false(m->is_request);
	assert_int_equal(m->code, 200);
	const char *rs = f->buf + 12; /* "SIP/2.0 200 " */
	const char *re = find(f, f->buf, "\r\n");
	assert_ptr_equal(m->reason.p, rs);
	assert_int_equal(m->reason.len, re - rs);
	assert_memory_equal(m->reason.p, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe", 18);
	assert_int_equal(m->nvia, 1);
	assert_int_equal(m->body.len, 154);
	assert_int_equal(m->cseq_method, PK_SIP_INVITE);
}

static void fields_noreason(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_false(m->is_request);
	assert_int_equal(m->code, 100);
	assert_int_equal(m->reason.len, 0);
	assert_int_equal(m->nvia, 1);
	assert_pkstr(m->to.tag, "902jndnke3");
}

static void fields_bcast(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_int_equal(m->nvia, 2);
	assert_pkstr(m->via[1].host, "255.255.255.255");
}

static void fields_zeromf(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_int_equal(m->max_forwards, 0);
}

static void fields_cparam01(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	/* addr-spec form: ";unknownparam" is a header parameter */
	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].uri, "sip:+19725552222@gw1.example.net");
	assert_pkstr(m->contact[0].params, ";unknownparam");
	assert_true(pk_sip_param_get(m->contact[0].params, "unknownparam", NULL));
	assert_int_equal(m->contact[0].expires, -1);
	assert_int_equal(m->expires, -1);
}

static void fields_cparam02(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	/* name-addr form: ";unknownparam" is a URI parameter */
	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].uri, "sip:+19725552222@gw1.example.net;unknownparam");
	assert_int_equal(m->contact[0].params.len, 0);
	assert_int_equal(m->contact[0].expires, -1);
	struct pk_sip_uri u = uri_of(m->contact[0].uri);
	assert_pkstr(u.params, ";unknownparam");
}

static void fields_regescrt(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_int_equal(m->ncontact, 1);
	assert_pkstr(m->contact[0].uri, "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
	struct pk_sip_uri u = uri_of(m->contact[0].uri);
	assert_pkstr(u.headers, "Route=%3Csip:sip.example.com%3E");
	assert_pkstr(u.host, "example.com");
	assert_int_equal(m->content_length, 0);
}

static void fields_inv2543(const struct pk_sip_msg *m, const struct file *f)
{
	assert_int_equal(m->max_forwards, -1);
	assert_int_equal(m->nvia, 1);
	assert_pkstr(m->via[0].host, "iftgw.example.com");
	assert_int_equal(m->via[0].branch.len, 0);
	assert_int_equal(m->from.tag.len, 0);
	/* no Content-Length on a datagram: the body is the rest of it */
	assert_int_equal(m->content_length, -1);
	assert_int_equal(m->body.len, 105);
	assert_int_equal(m->len, f->len);
	/* addr-spec To: ";user=phone" is a header parameter */
	assert_pkstr(m->to.uri, "sip:+16505552222@ss1.example.net");
	assert_pkstr(m->to.params, ";user=phone");
	struct pk_sip_uri u = uri_of(m->from.uri);
	assert_pkstr(u.user_param, "phone");
	assert_int_equal(m->nrr, 1);
	u = uri_of(m->rr[0].uri);
	assert_pkstr(u.maddr, "ss1.example.com");
}

static void fields_baddn(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->from.display, "Bell, Alexander");
	assert_pkstr(m->from.uri, "sip:a.g.bell@example.com");
	assert_pkstr(m->from.tag, "43");
	assert_pkstr(m->to.uri, "sip:t.watson@example.org");
}

static void fields_badaspec(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->to.uri, "sip:t.watson@example.org");
	assert_pkstr(m->from.display, "\"Bell, Alexander\"");
}

static void fields_unksm2(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->to.uri, "isbn:2983792873");
	assert_pkstr(m->from.uri, "http://www.example.com");
	assert_pkstr(m->contact[0].uri, "name:John_Smith");
	struct pk_sip_uri u = uri_of(m->to.uri);
	assert_int_equal(u.scheme, PK_URI_UNKNOWN);
	assert_pkstr(u.scheme_tok, "isbn");
}

static void fields_badbranch(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	assert_pkstr(m->via[0].branch, "z9hG4bK");
}

static void fields_bext01(const struct pk_sip_msg *m, const struct file *f)
{
	(void)f;
	char out[128];
	assert_true(m->require & PK_SIP_OPT_UNKNOWN);
	assert_true(m->proxy_require & PK_SIP_OPT_UNKNOWN);
	/* the Unsupported header lists the tags of the header the role reads
	 * (RFC 4475 §3.3.5, include/pickup/sip.h) */
	int n = pk_sip_unsupported_list(m, PK_ROLE_PROXY, OURS, out, sizeof(out));
	assert_true(n > 0);
	assert_string_equal(out, "noProxiesSupportThis, norDoAnyProxiesSupportThis");
	n = pk_sip_unsupported_list(m, PK_ROLE_UAS, OURS, out, sizeof(out));
	assert_true(n > 0);
	assert_string_equal(out, "nothingSupportsThis, nothingSupportsThisEither");
}

/* --- the table ------------------------------------------------------------ */

struct rfc_case {
	const char *name;
	enum pk_sip_verdict scan;
	uint16_t status;	   /* REJECT: the status */
	const char *why;	   /* REJECT: a word the reason must hold */
	uint16_t proxy, uas;	   /* accepted requests: 0 = OK, else status */
	enum pk_sip_verdict route; /* accepted responses */
	void (*fields)(const struct pk_sip_msg *m, const struct file *f);
};

#define OK_REQ(n, px, ua, fn) { #n, PK_SIP_OK, 0, NULL, px, ua, PK_SIP_OK, fn }
#define OK_RSP(n, rt, fn) { #n, PK_SIP_OK, 0, NULL, 0, 0, rt, fn }
#define REJ(n, st, kw) { #n, PK_SIP_REJECT, st, kw, 0, 0, PK_SIP_OK, NULL }
#define DROP(n) { #n, PK_SIP_DROP, 0, NULL, 0, 0, PK_SIP_OK, NULL }

static const struct rfc_case cases[] = {
	/* 3.1.1 valid */
	OK_REQ(wsinv, 0, 0, fields_wsinv),
	OK_REQ(intmeth, 0, 0, fields_intmeth),
	OK_REQ(esc01, 0, 0, fields_esc01),
	OK_REQ(escnull, 0, 0, fields_escnull),
	OK_REQ(esc02, 0, 0, fields_esc02),
	OK_REQ(lwsdisp, 0, 0, fields_lwsdisp),
	OK_REQ(longreq, 0, 0, fields_longreq),
	OK_REQ(dblreq, 0, 0, fields_dblreq),
	OK_REQ(semiuri, 0, 0, fields_semiuri),
	OK_REQ(transports, 0, 0, fields_transports),
	OK_REQ(mpart01, 0, 415, fields_mpart01),
	OK_RSP(unreason, PK_SIP_DROP, fields_unreason),
	OK_RSP(noreason, PK_SIP_DROP, fields_noreason),
	/* 3.1.2 invalid */
	REJ(badinv01, 400, "param"),
	REJ(clerr, 400, "Content-Length"),
	REJ(ncl, 400, "Content-Length"),
	REJ(scalar02, 400, "CSeq"),
	DROP(scalarlg),
	REJ(quotbal, 400, "quote"),
	REJ(ltgtruri, 400, "Request"),
	REJ(lwsruri, 400, "request line"),
	REJ(lwsstart, 400, "request line"),
	REJ(trws, 400, "request line"),
	REJ(escruri, 400, "Request-URI"),
	OK_REQ(baddate, 0, 0, NULL),
	REJ(regbadct, 400, "URI"),
	OK_REQ(badaspec, 0, 0, fields_badaspec),
	OK_REQ(baddn, 0, 0, fields_baddn),
	REJ(badvers, 505, "version"),
	REJ(mismatch01, 400, "CSeq"),
	REJ(mismatch02, 400, "CSeq"),
	DROP(bigcode),
	/* 3.2 transaction layer */
	OK_REQ(badbranch, 0, 0, fields_badbranch),
	/* 3.3 application layer */
	REJ(insuf, 400, "missing"),
	OK_REQ(unkscm, 416, 416, NULL),
	OK_REQ(novelsc, 416, 416, NULL),
	OK_REQ(unksm2, 0, 0, fields_unksm2),
	OK_REQ(bext01, 420, 420, fields_bext01),
	OK_REQ(invut, 0, 415, NULL),
	OK_REQ(regaut01, 0, 0, NULL),
	REJ(multi01, 400, "repeated"),
	REJ(mcl01, 400, "repeated"),
	OK_RSP(bcast, PK_SIP_DROP, fields_bcast),
	OK_REQ(zeromf, 483, 0, fields_zeromf),
	OK_REQ(cparam01, 0, 0, fields_cparam01),
	OK_REQ(cparam02, 0, 0, fields_cparam02),
	OK_REQ(regescrt, 0, 0, fields_regescrt),
	OK_REQ(sdp01, 0, 406, NULL),
	/* 3.4 backward compatibility */
	OK_REQ(inv2543, 0, 0, fields_inv2543),
};

static void check_role(const struct file *f, struct pk_sip_msg *m, enum pk_sip_role role,
		       uint16_t want)
{
	/* re-scan: a check writes status/why into the message */
	assert_int_equal(pk_sip_scan(f->buf, f->len, m), PK_SIP_OK);
	enum pk_sip_verdict v = pk_sip_check_request(m, role, OURS);
	if (want == 0) {
		if (v != PK_SIP_OK)
			print_error("%s check: %d %s\n", role == PK_ROLE_PROXY ? "proxy" : "UAS",
				    m->status, m->why);
		assert_int_equal(v, PK_SIP_OK);
	} else {
		assert_int_equal(v, PK_SIP_REJECT);
		assert_int_equal(m->status, want);
		assert_non_null(m->why);
		assert_true(m->why[0] != '\0');
	}
}

static struct file cur;

static void run_case(void **state)
{
	const struct rfc_case *c = *state;
	cur = load(c->name);
	const struct file f = cur;
	static struct pk_sip_msg m;

	enum pk_sip_verdict v = pk_sip_scan(f.buf, f.len, &m);
	if (v != c->scan)
		print_error("%s: scan %d (status %d, \"%s\"), want %d\n", c->name, v, m.status,
			    m.why, c->scan);
	assert_int_equal(v, c->scan);
	assert_non_null(m.why);

	switch (c->scan) {
	case PK_SIP_REJECT:
		assert_true(m.is_request);
		assert_int_equal(m.status, c->status);
		why_has(m.why, c->why, __FILE__, __LINE__);
		/* the answer echoes the Via, From, To, Call-ID and CSeq lines:
		 * all of them are in the table */
		check_table(&m, &f);
		assert_int_not_equal(m.first[PK_HDR_VIA], 0xff);
		break;
	case PK_SIP_DROP:
		assert_false(m.is_request);
		break;
	case PK_SIP_OK:
		check_table(&m, &f);
		assert_true(m.len <= f.len);
		if (m.is_request) {
			assert_int_equal(m.code, 0);
			check_role(&f, &m, PK_ROLE_PROXY, c->proxy);
			check_role(&f, &m, PK_ROLE_UAS, c->uas);
		} else {
			assert_int_equal(pk_sip_check_response_route(&m), c->route);
		}
		if (c->fields) {
			assert_int_equal(pk_sip_scan(f.buf, f.len, &m), PK_SIP_OK);
			c->fields(&m, &f);
		}
		break;
	default:
		fail();
	}
}

/* The file of the running case, freed even when an assertion failed. */
static int free_file(void **state)
{
	(void)state;
	free(cur.buf);
	cur.buf = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR (tests/corpus/rfc4475)\n", argv[0]);
		return 2;
	}
	corpus_dir = argv[1];
	struct CMUnitTest tests[PK_ARRAY_SIZE(cases)];
	for (size_t i = 0; i < PK_ARRAY_SIZE(cases); i++)
		tests[i] = (struct CMUnitTest){ cases[i].name, run_case, NULL, free_file,
						(void *)&cases[i] };
	return _cmocka_run_group_tests("rfc4475", tests, PK_ARRAY_SIZE(cases), NULL, NULL);
}
