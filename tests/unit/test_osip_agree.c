/* SPDX-License-Identifier: MIT */
/*
 * The fast scanner against libosip2, the reference parser.
 *
 * For every message of the ordinary corpus (tests/corpus/ordinary, given as
 * argv[1]) one test asserts that the scanner accepts it on the fast path
 * and that its fields agree with libosip2's, field by field, after the
 * normalisations of control/sipref.c; a second test sends the same message
 * with bare-LF line ends through pk_sip_parse and asserts that the slow
 * path yields the same fields. Fixed tests cover line folding, messages
 * libosip2 cannot parse, and the comparison itself (it must see a
 * difference when there is one). With the RFC 4475 corpus as argv[2],
 * every torture message is also sent with bare-LF line ends: it must get
 * the verdict and fields its CRLF original gets from the scanner.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pickup/sip_slow.h"
#include "pickup/sipref.h"

static const char *corpus_dir, *rfc4475_dir;

/* The messages the corpus must hold (the benchmarks use them too). */
static const char *const required[] = {
	"invite_sdp",	   "invite_loose_route", "100_trying", "180_ringing", "183_sdp",
	"200_invite",	   "486_busy",		 "487_terminated", "480_unavailable", "ack",
	"bye",		   "cancel",		 "register",	 "200_register", "options",
	"invite_replaces", "compact",		 "via_multi",
};

struct corpus_file {
	char name[64];
	char path[512];
	char *buf;
	size_t len;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = malloc(PK_SIP_MAX_MSG + 1);
	size_t n = b ? fread(b, 1, PK_SIP_MAX_MSG + 1, f) : 0;
	fclose(f);
	*len = n;
	return b;
}

static int file_setup(void **state)
{
	struct corpus_file *cf = *state;
	cf->buf = slurp(cf->path, &cf->len);
	return cf->buf && cf->len > 0 && cf->len <= PK_SIP_MAX_MSG ? 0 : -1;
}

static int file_teardown(void **state)
{
	struct corpus_file *cf = *state;
	free(cf->buf);
	cf->buf = NULL;
	return 0;
}

static void print_diffs(const char *what, const json_t *diffs)
{
	char *s = json_dumps(diffs, JSON_INDENT(2));
	print_error("%s: %s\n", what, s ? s : "(cannot encode)");
	free(s);
}

/* The whole message with its header section's CRLFs made bare LFs (the
 * body is kept as is, so Content-Length stays right). */
static char *to_bare_lf(const char *buf, size_t len, size_t *out_len)
{
	const char *he = NULL;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			he = buf + i + 4;
			break;
		}
	if (!he)
		return NULL;
	char *o = malloc(len);
	size_t n = 0;
	for (const char *p = buf; p < he; p++)
		if (!(p[0] == '\r' && p + 1 < he && p[1] == '\n'))
			o[n++] = *p;
	memcpy(o + n, he, (size_t)(buf + len - he));
	*out_len = n + (size_t)(buf + len - he);
	return o;
}

/* --- per-message tests ----------------------------------------------- */

/* Fast path accepts it, libosip2 parses it, every field agrees. */
static void test_agree(void **state)
{
	struct corpus_file *cf = *state;
	struct pk_sipref_cmp c;
	int nd = pk_sipref_run(cf->buf, cf->len, true, &c);
	assert_int_not_equal(nd, -1);
	if (c.verdict != PK_SIP_OK)
		print_error("%s: %s %u %s\n", cf->name, pk_sipref_verdict_name(c.verdict), c.msg->status,
			    c.msg->why);
	assert_int_equal(c.verdict, PK_SIP_OK);
	assert_false(c.slow);
	assert_true(c.osip_ok);
	if (nd)
		print_diffs(cf->name, c.diffs);
	assert_int_equal(nd, 0);
	/* the whole datagram is the message: nothing ignored past the body */
	assert_int_equal(c.msg->len, cf->len);
	pk_sipref_cmp_free(&c);
}

/* The same message with bare-LF line ends: the scanner declines it, the
 * slow path canonicalises it, and the fields are those of the original. */
static void test_bare_lf(void **state)
{
	struct corpus_file *cf = *state;
	size_t lf_len = 0;
	char *lf = to_bare_lf(cf->buf, cf->len, &lf_len);
	assert_non_null(lf);
	assert_true(lf_len < cf->len);

	struct pk_sipref_cmp orig, slow;
	assert_int_equal(pk_sipref_run(cf->buf, cf->len, false, &orig), 0);
	int nd = pk_sipref_run(lf, lf_len, true, &slow);
	assert_int_not_equal(nd, -1);
	assert_int_equal(slow.fast, PK_SIP_SLOW);
	assert_true(slow.slow);
	assert_int_equal(slow.verdict, PK_SIP_OK);
	/* views point into the canonical text, not into the input */
	assert_ptr_equal(slow.msg->buf, slow.scratch);
	if (nd)
		print_diffs("bare LF vs libosip2", slow.diffs);
	assert_int_equal(nd, 0);

	json_t *a = pk_sipref_from_msg(orig.msg, PK_SIPREF_NORM);
	json_t *b = pk_sipref_from_msg(slow.msg, PK_SIPREF_NORM);
	json_t *diffs = json_array();
	size_t n = pk_sipref_diff(a, b, diffs);
	if (n)
		print_diffs("CRLF vs bare LF", diffs);
	assert_int_equal(n, 0);
	json_decref(a);
	json_decref(b);
	json_decref(diffs);
	pk_sipref_cmp_free(&orig);
	pk_sipref_cmp_free(&slow);
	free(lf);
}

/* --- fixed tests ------------------------------------------------------- */

static void test_corpus_complete(void **state)
{
	(void)state;
	char path[512];
	for (size_t i = 0; i < PK_ARRAY_SIZE(required); i++) {
		snprintf(path, sizeof(path), "%s/%s.sip", corpus_dir, required[i]);
		size_t len;
		char *b = slurp(path, &len);
		if (!b)
			print_error("missing corpus message %s\n", path);
		assert_non_null(b);
		/* CRLF line ends: the first line ends with one */
		char *nl = memchr(b, '\n', len);
		assert_non_null(nl);
		assert_true(nl > b && nl[-1] == '\r');
		free(b);
	}
}

/* The comparison is not blind: two messages that differ in one To-tag
 * and one Via branch give exactly those two differences. */
static void test_diff_sees_difference(void **state)
{
	(void)state;
	static const char a[] = "SIP/2.0 180 Ringing\r\n"
				"Via: SIP/2.0/UDP 192.168.1.21:5060;branch=z9hG4bKaaa\r\n"
				"From: <sip:2001@example.com>;tag=1\r\n"
				"To: <sip:3001@example.com>;tag=two\r\n"
				"Call-ID: d1@192.168.1.21\r\n"
				"CSeq: 1 INVITE\r\n"
				"Content-Length: 0\r\n\r\n";
	static const char b[] = "SIP/2.0 180 Ringing\r\n"
				"Via: SIP/2.0/UDP 192.168.1.21:5060;branch=z9hG4bKbbb\r\n"
				"From: <sip:2001@example.com>;tag=1\r\n"
				"To: <sip:3001@example.com>;tag=three\r\n"
				"Call-ID: d1@192.168.1.21\r\n"
				"CSeq: 1 INVITE\r\n"
				"Content-Length: 0\r\n\r\n";
	struct pk_sip_msg *m = malloc(sizeof(*m));
	assert_int_equal(pk_sip_scan(a, sizeof(a) - 1, m), PK_SIP_OK);
	json_t *mine = pk_sipref_from_msg(m, PK_SIPREF_NORM);
	json_t *ref = pk_sipref_osip_parse(b, sizeof(b) - 1);
	assert_non_null(ref);
	json_t *diffs = json_array();
	size_t n = pk_sipref_diff(mine, ref, diffs);
	if (n != 4)
		print_diffs("expected 4", diffs);
	/* via[0].branch, via[0].params[0], to.tag, to.params[0] */
	assert_int_equal(n, 4);
	bool saw_branch = false, saw_tag = false;
	size_t i;
	json_t *d;
	json_array_foreach(diffs, i, d) {
		const char *f = json_string_value(json_object_get(d, "field"));
		saw_branch |= strcmp(f, "via[0].branch") == 0;
		if (strcmp(f, "to.tag") == 0) {
			saw_tag = true;
			assert_string_equal(json_string_value(json_object_get(d, "scanner")), "two");
			assert_string_equal(json_string_value(json_object_get(d, "osip")), "three");
		}
	}
	assert_true(saw_branch);
	assert_true(saw_tag);
	json_decref(mine);
	json_decref(ref);
	json_decref(diffs);
	free(m);
}

/* Folded header lines (RFC 3261 §7.3.1) in an INVITE; fields to check. */
#define FOLDED_INVITE(EOL)                                                   \
	"INVITE sip:3001@example.com SIP/2.0" EOL                            \
	"Via: SIP/2.0/UDP 192.168.1.21:5060;branch=z9hG4bKfold1;" EOL        \
	" rport" EOL                                                         \
	"Max-Forwards: 70" EOL                                               \
	"From: \"Alice\"" EOL                                                \
	"\t<sip:2001@example.com>;tag=f1" EOL                                \
	"To: <sip:3001@example.com>" EOL                                     \
	"Subject: a folded" EOL                                              \
	"   subject line" EOL                                                \
	"Call-ID: fold1@192.168.1.21" EOL                                    \
	"CSeq: 7" EOL                                                        \
	" INVITE" EOL                                                        \
	"Supported: replaces," EOL                                           \
	" 100rel" EOL                                                        \
	"Content-Length: 0" EOL EOL

static bool str_is(struct pk_str s, const char *c)
{
	return pk_str_eq(s, pk_str_make(c, strlen(c)));
}

static void check_folded_fields(const struct pk_sip_msg *m)
{
	assert_int_equal(m->method, PK_SIP_INVITE);
	assert_int_equal(m->nvia, 1);
	assert_true(str_is(m->via[0].branch, "z9hG4bKfold1"));
	assert_int_equal(m->via[0].rport, 0);
	assert_true(str_is(m->from.tag, "f1"));
	assert_true(str_is(m->from.uri, "sip:2001@example.com"));
	assert_true(str_is(m->call_id, "fold1@192.168.1.21"));
	assert_int_equal(m->cseq, 7);
	assert_int_equal(m->cseq_method, PK_SIP_INVITE);
	assert_int_equal(m->supported, PK_SIP_OPT_BIT(REPLACES) | PK_SIP_OPT_BIT(100REL));
	assert_int_equal(m->max_forwards, 70);
	assert_int_equal(m->content_length, 0);
}

/* Folding with CRLF: the fast path handles it, and agrees with libosip2. */
static void test_folded_fast(void **state)
{
	(void)state;
	static const char msg[] = FOLDED_INVITE("\r\n");
	struct pk_sipref_cmp c;
	int nd = pk_sipref_run(msg, sizeof(msg) - 1, true, &c);
	assert_int_equal(c.verdict, PK_SIP_OK);
	assert_false(c.slow);
	if (nd)
		print_diffs("folded", c.diffs);
	assert_int_equal(nd, 0);
	check_folded_fields(c.msg);
	pk_sipref_cmp_free(&c);
}

/* Folding and bare LFs: the slow path unfolds and the fields come out
 * the same; libosip2 agrees. */
static void test_folded_bare_lf_slow(void **state)
{
	(void)state;
	static const char msg[] = FOLDED_INVITE("\n");
	struct pk_sipref_cmp c;
	int nd = pk_sipref_run(msg, sizeof(msg) - 1, true, &c);
	assert_int_equal(c.fast, PK_SIP_SLOW);
	assert_true(c.slow);
	assert_int_equal(c.verdict, PK_SIP_OK);
	if (nd)
		print_diffs("folded bare LF", c.diffs);
	assert_int_equal(nd, 0);
	check_folded_fields(c.msg);
	/* the canonical text is CRLF throughout and unfolded */
	const struct pk_sip_msg *m = c.msg;
	for (uint32_t i = 0; i < m->len; i++)
		if (m->buf[i] == '\n')
			assert_true(i > 0 && m->buf[i - 1] == '\r');
	for (unsigned h = 0; h < m->nhdrs; h++) {
		struct pk_str v = pk_sip_hdr_value(m, h);
		assert_null(memchr(v.p, '\n', v.len));
	}
	pk_sipref_cmp_free(&c);
}

/* A bare-LF request libosip2 cannot parse (an unquoted display name
 * with a comma, RFC 4475 §3.1.2.15): answered 400 with the fields its
 * answer needs. */
static void test_unparseable_request(void **state)
{
	(void)state;
	static const char msg[] = "OPTIONS sip:t.watson@example.org SIP/2.0\n"
				  "Via: SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
				  "Max-Forwards: 70\n"
				  "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
				  "To: Watson, Thomas <sip:t.watson@example.org>\n"
				  "Call-ID: baddn.31415@c.example.com\n"
				  "CSeq: 3923239 OPTIONS\n"
				  "l: 0\n\n";
	assert_null(pk_sipref_osip_parse(msg, sizeof(msg) - 1));
	static char scratch[4096];
	struct pk_sip_msg *m = malloc(sizeof(*m));
	bool slow;
	enum pk_sip_verdict v = pk_sip_parse(msg, sizeof(msg) - 1, scratch, sizeof(scratch), m, &slow);
	assert_true(slow);
	assert_int_equal(v, PK_SIP_REJECT);
	assert_int_equal(m->status, 400);
	assert_int_equal(m->nvia, 1);
	assert_true(str_is(m->via[0].branch, "z9hG4bKkdjuw"));
	assert_true(str_is(m->call_id, "baddn.31415@c.example.com"));
	assert_int_equal(m->cseq, 3923239);
	free(m);
}

/* The same for a response: dropped, never answered. */
static void test_unparseable_response(void **state)
{
	(void)state;
	static const char msg[] = "SIP/2.0 200 OK\n"
				  "Via: SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\n"
				  "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=43\n"
				  "To: Watson, Thomas <sip:t.watson@example.org>;tag=9\n"
				  "Call-ID: baddn.31415@c.example.com\n"
				  "CSeq: 3923239 OPTIONS\n"
				  "l: 0\n\n";
	assert_null(pk_sipref_osip_parse(msg, sizeof(msg) - 1));
	static char scratch[4096];
	struct pk_sip_msg *m = malloc(sizeof(*m));
	bool slow;
	assert_int_equal(pk_sip_parse(msg, sizeof(msg) - 1, scratch, sizeof(scratch), m, &slow),
			 PK_SIP_DROP);
	assert_true(slow);
	free(m);
}

/* Scratch too small for the canonical text: dropped, nothing overrun. */
static void test_scratch_too_small(void **state)
{
	(void)state;
	static const char msg[] = FOLDED_INVITE("\n");
	char scratch[64 + 8];
	memset(scratch, 0x5a, sizeof(scratch));
	struct pk_sip_msg *m = malloc(sizeof(*m));
	bool slow;
	assert_int_equal(pk_sip_parse(msg, sizeof(msg) - 1, scratch, 64, m, &slow), PK_SIP_DROP);
	assert_true(slow);
	for (size_t i = 64; i < sizeof(scratch); i++)
		assert_int_equal((unsigned char)scratch[i], 0x5a);
	free(m);
}

/* --- RFC 4475 with bare-LF line ends --------------------------------- */

/* Torture messages libosip2 cannot parse although the scanner accepts
 * them (docs/sipdump.md, "Known disagreements"): with bare LFs they get
 * the slow path's documented 400 "unparseable". */
static const char *const lf_unparseable[] = { "intmeth", "badaspec", "baddn", "novelsc" };

/* Fields the slow path is known to lose (docs/sipdump.md, "The slow path,
 * seen from here"): libosip2 cuts a user part at an escaped NUL, and
 * writes a multipart body back its own way (a leading CRLF, part headers
 * lowercased). Only these fields may differ for these messages. */
static const struct {
	const char *name;
	const char *fields; /* field names, each followed by ' ' */
} lf_known_loss[] = {
	{ "escnull.dat", "from.uri.user to.uri.user contact[0].uri contact[1].uri " },
	{ "mpart01.dat", "content_length body_length " },
};

static bool lf_loss_known(const char *name, const char *field)
{
	for (size_t i = 0; i < PK_ARRAY_SIZE(lf_known_loss); i++) {
		if (strcmp(name, lf_known_loss[i].name) != 0)
			continue;
		for (const char *f = lf_known_loss[i].fields; *f;) {
			const char *sp = strchr(f, ' ');
			size_t l = (size_t)(sp - f);
			/* the field itself, or one inside it */
			if (strncmp(field, f, l) == 0 && (field[l] == 0 || field[l] == '.'))
				return true;
			f = sp + 1;
		}
	}
	return false;
}

static char *load_dat(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", rfc4475_dir, name);
	return slurp(path, len);
}

/* The bare-LF copy of a torture message gets the scanner's verdict on the
 * CRLF original (status and reason included), and when both accept it the
 * same fields: libosip2's leniency must not turn a message the scanner
 * refuses into one it accepts. */
static void test_rfc4475_bare_lf(void **state)
{
	const char *name = *state;
	size_t len = 0, lf_len = 0;
	char *buf = load_dat(name, &len);
	assert_non_null(buf);
	char *lf = to_bare_lf(buf, len, &lf_len);
	assert_non_null(lf);

	struct pk_sipref_cmp orig, slow;
	assert_int_equal(pk_sipref_run(buf, len, false, &orig), 0);
	assert_int_equal(pk_sipref_run(lf, lf_len, false, &slow), 0);
	assert_false(orig.slow);
	assert_true(slow.slow);

	bool unparseable = false;
	for (size_t i = 0; i < PK_ARRAY_SIZE(lf_unparseable); i++)
		unparseable |= strncmp(name, lf_unparseable[i], strlen(lf_unparseable[i])) == 0 &&
			       name[strlen(lf_unparseable[i])] == '.';
	if (unparseable) {
		assert_int_equal(orig.verdict, PK_SIP_OK);
		assert_int_equal(slow.verdict, PK_SIP_REJECT);
		assert_int_equal(slow.msg->status, 400);
		assert_string_equal(slow.msg->why, "unparseable");
		goto out;
	}
	if (slow.verdict != orig.verdict || slow.msg->status != orig.msg->status)
		print_error("%s: CRLF %s %u \"%s\", bare LF %s %u \"%s\"\n", name,
			    pk_sipref_verdict_name(orig.verdict), orig.msg->status, orig.msg->why,
			    pk_sipref_verdict_name(slow.verdict), slow.msg->status, slow.msg->why);
	assert_int_equal(slow.verdict, orig.verdict);
	assert_int_equal(slow.msg->status, orig.msg->status);
	assert_string_equal(slow.msg->why, orig.msg->why);
	if (orig.verdict == PK_SIP_REJECT) {
		/* the 400's answer echoes these: they came through */
		assert_int_equal(slow.msg->nvia, orig.msg->nvia);
		assert_true(pk_str_eq(slow.msg->call_id, orig.msg->call_id));
		assert_int_equal(slow.msg->cseq, orig.msg->cseq);
	}
	if (orig.verdict == PK_SIP_OK) {
		json_t *a = pk_sipref_from_msg(orig.msg, PK_SIPREF_NORM);
		json_t *b = pk_sipref_from_msg(slow.msg, PK_SIPREF_NORM);
		json_t *diffs = json_array();
		size_t n = pk_sipref_diff(a, b, diffs), unknown = 0, i;
		json_t *d;
		json_array_foreach(diffs, i, d)
			unknown += !lf_loss_known(name, json_string_value(json_object_get(d, "field")));
		if (unknown)
			print_diffs("CRLF vs bare LF", diffs);
		assert_int_equal(unknown, 0);
		(void)n;
		json_decref(a);
		json_decref(b);
		json_decref(diffs);
	}
out:
	pk_sipref_cmp_free(&orig);
	pk_sipref_cmp_free(&slow);
	free(lf);
	free(buf);
}

/* --- main: one agree/ and one lf/ test per corpus file ----------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct corpus_file *)a)->name, ((const struct corpus_file *)b)->name);
}

static int dat_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [RFC4475_DIR]\n", argv[0]);
		return 2;
	}
	corpus_dir = argv[1];
	rfc4475_dir = argc > 2 ? argv[2] : NULL;
	if (pk_sip_slow_init() != 0)
		return 1;

	DIR *d = opendir(corpus_dir);
	if (!d) {
		perror(corpus_dir);
		return 1;
	}
	size_t nfiles = 0, cap = 64;
	struct corpus_file *files = calloc(cap, sizeof(*files));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".sip") != 0 || l - 4 >= sizeof(files->name))
			continue;
		if (nfiles == cap)
			files = realloc(files, (cap *= 2) * sizeof(*files));
		struct corpus_file *cf = &files[nfiles++];
		memset(cf, 0, sizeof(*cf));
		memcpy(cf->name, de->d_name, l - 4);
		snprintf(cf->path, sizeof(cf->path), "%s/%s", corpus_dir, de->d_name);
	}
	closedir(d);
	qsort(files, nfiles, sizeof(*files), name_cmp);

	/* the torture messages' names (NULL-terminated list) */
	size_t ndat = 0;
	char(*dats)[64] = calloc(128, sizeof(*dats));
	char(*dat_names)[80] = calloc(128, sizeof(*dat_names));
	if (rfc4475_dir) {
		d = opendir(rfc4475_dir);
		if (!d) {
			perror(rfc4475_dir);
			return 1;
		}
		while ((de = readdir(d)) != NULL && ndat < 128) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".dat") != 0 || l >= sizeof(dats[0]))
				continue;
			memcpy(dats[ndat++], de->d_name, l + 1);
		}
		closedir(d);
		qsort(dats, ndat, sizeof(*dats), dat_cmp);
	}

	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_corpus_complete),
		cmocka_unit_test(test_diff_sees_difference),
		cmocka_unit_test(test_folded_fast),
		cmocka_unit_test(test_folded_bare_lf_slow),
		cmocka_unit_test(test_unparseable_request),
		cmocka_unit_test(test_unparseable_response),
		cmocka_unit_test(test_scratch_too_small),
	};
	size_t nt = PK_ARRAY_SIZE(fixed) + 2 * nfiles + ndat;
	struct CMUnitTest *tests = calloc(nt, sizeof(*tests));
	char (*names)[80] = calloc(2 * nfiles + 1, sizeof(*names));
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < nfiles; i++) {
		for (int k = 0; k < 2; k++) {
			size_t t = PK_ARRAY_SIZE(fixed) + 2 * i + (size_t)k;
			snprintf(names[2 * i + (size_t)k], sizeof(names[0]), "%s/%s", k ? "lf" : "agree",
				 files[i].name);
			tests[t] = (struct CMUnitTest){
				.name = names[2 * i + (size_t)k],
				.test_func = k ? test_bare_lf : test_agree,
				.setup_func = file_setup,
				.teardown_func = file_teardown,
				.initial_state = &files[i],
			};
		}
	}
	for (size_t i = 0; i < ndat; i++) {
		snprintf(dat_names[i], sizeof(dat_names[0]), "lf4475/%.*s", (int)(strlen(dats[i]) - 4),
			 dats[i]);
		tests[PK_ARRAY_SIZE(fixed) + 2 * nfiles + i] = (struct CMUnitTest){
			.name = dat_names[i],
			.test_func = test_rfc4475_bare_lf,
			.initial_state = dats[i],
		};
	}
	int rc = _cmocka_run_group_tests("osip_agree", tests, nt, NULL, NULL);
	free(dats);
	free(dat_names);
	free(tests);
	free(names);
	free(files);
	return rc;
}
