/* SPDX-License-Identifier: MIT */
/*
 * pk-sipdump: what the SIP scanner makes of a message, as JSON.
 *
 * For each file (one SIP message each) it prints the verdict of the
 * engine's parser (pk_sip_parse: the fast scanner, then the libosip2 slow
 * path when the scanner declines) and every field the engine uses. With
 * --compare it also parses the message with libosip2 and lists each field
 * where the two disagree, after the normalisations in control/sipref.c.
 * It is the tool to ask "why did pickupd answer 400 to this phone?" and the
 * scanner's conformance check against the reference parser.
 *
 * Output: one JSON object per file, each on its own line (JSON Lines), or
 * indented with --pretty. Exit status: 0 fine; 1 --compare found a
 * disagreement; 2 bad usage or a file could not be read. See
 * docs/sipdump.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickup/sip_slow.h"
#include "pickup/sipref.h"

/* Larger than any SIP message we accept (the scanner drops those itself,
 * so they still get a verdict), small enough to read at once. */
#define SIPDUMP_MAX_FILE (1u << 20)

enum { EXIT_AGREE = 0, EXIT_DISAGREE = 1, EXIT_ERROR = 2 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pk-sipdump [--compare] [--pretty] FILE...\n"
		"\n"
		"Print the SIP scanner's verdict and fields for each FILE (one SIP\n"
		"message per file, '-' for standard input) as one JSON object per line.\n"
		"\n"
		"  -c, --compare  also parse with libosip2 and list the fields where\n"
		"                 the two parsers disagree\n"
		"  -p, --pretty   indent the JSON\n"
		"  -h, --help     this text\n"
		"\n"
		"Exit status: 0 ok, 1 a --compare disagreement, 2 usage error or a\n"
		"file that cannot be read.\n");
}

/* Read a whole file (or stdin for "-"); NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(SIPDUMP_MAX_FILE + 1);
	size_t n = 0;
	int err = 0;
	if (!buf) {
		err = ENOMEM;
	} else {
		n = fread(buf, 1, SIPDUMP_MAX_FILE + 1, f);
		if (ferror(f))
			err = errno ? errno : EIO;
		else if (n > SIPDUMP_MAX_FILE)
			err = EFBIG;
	}
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		errno = err;
		return NULL;
	}
	*len = n;
	return buf;
}

static json_t *verdict_obj(enum pk_sip_verdict v, uint16_t status, const char *why)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "verdict", json_string(pk_sipref_verdict_name(v)));
	json_object_set_new(o, "status", status ? json_integer(status) : json_null());
	json_object_set_new(o, "reason", why && *why ? json_string(why) : json_null());
	return o;
}

/* Dump one message; returns the exit status it contributes. */
static int dump_one(const char *path, bool compare, size_t json_flags)
{
	size_t len;
	char *buf = read_file(path, &len);
	if (!buf) {
		fprintf(stderr, "pk-sipdump: %s: %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	struct pk_sipref_cmp c;
	int nd = pk_sipref_run(buf, len, compare, &c);
	json_t *out = nd < 0 ? NULL : json_object();
	if (!out) {
		fprintf(stderr, "pk-sipdump: %s: out of memory\n", path);
		pk_sipref_cmp_free(&c);
		free(buf);
		return EXIT_ERROR;
	}
	const struct pk_sip_msg *m = c.msg;
	json_object_set_new(out, "file", json_string(path));
	json_object_set_new(out, "size", json_integer((json_int_t)len));
	json_t *v = verdict_obj(c.verdict, m->status, m->why);
	json_object_update(out, v);
	json_decref(v);
	json_object_set_new(out, "slow_path", json_boolean(c.slow));
	json_object_set_new(out, "fast", verdict_obj(c.fast, c.fast_status, c.fast_why));
	json_object_set_new(out, "message", c.verdict == PK_SIP_OK ? pk_sipref_from_msg(m, 0) : json_null());
	if (compare) {
		json_t *cmp = json_object();
		json_object_set_new(cmp, "osip", json_string(c.osip_ok ? "parsed" : "unparseable"));
		json_object_set_new(cmp, "agree", json_boolean(nd == 0));
		json_object_set(cmp, "diffs", c.diffs);
		json_object_set_new(out, "compare", cmp);
	}
	char *text = json_dumps(out, json_flags);
	int rc = EXIT_AGREE;
	if (!text) {
		fprintf(stderr, "pk-sipdump: %s: cannot encode JSON\n", path);
		rc = EXIT_ERROR;
	} else {
		puts(text);
		free(text);
		if (nd > 0)
			rc = EXIT_DISAGREE;
	}
	json_decref(out);
	pk_sipref_cmp_free(&c);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	bool compare = false;
	size_t json_flags = JSON_COMPACT;
	int first = argc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			first = i + 1;
			break;
		}
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			first = i;
			break;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--compare") == 0) {
			compare = true;
		} else if (strcmp(a, "-p") == 0 || strcmp(a, "--pretty") == 0) {
			json_flags = JSON_INDENT(2);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_AGREE;
		} else {
			fprintf(stderr, "pk-sipdump: unknown option %s\n", a);
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (first >= argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if (pk_sip_slow_init() != 0) {
		fprintf(stderr, "pk-sipdump: libosip2 parser_init failed\n");
		return EXIT_ERROR;
	}
	int rc = EXIT_AGREE;
	for (int i = first; i < argc; i++) {
		int r = dump_one(argv[i], compare, json_flags);
		if (r > rc)
			rc = r;
	}
	if (fflush(stdout) != 0) {
		perror("pk-sipdump: stdout");
		return EXIT_ERROR;
	}
	return rc;
}
