/* SPDX-License-Identifier: MIT */
/*
 * pickupctl: the command line -> one control-socket request, and the whole
 * run (pk_ctl_cli_main): parse, find the socket, exchange, show the result.
 *
 * Every command is one row of ctl_cmds[]: its words, its wire name
 * (docs/control.md), its positional arguments and options with the JSON
 * key and type each becomes, and how its result is shown. Everything the
 * client can check (counts, integers, rights, tunable names) is checked
 * before the daemon is contacted, and fails with exit status 2; what only
 * the daemon knows (group numbers, users, ranges) is left to it.
 *
 * Options are parsed with getopt_long (glibc): global options first (up to
 * the command word), then the command's own options, which may be mixed
 * with its arguments; the global ones are accepted there too. getopt keeps
 * global state, reset (optind = 0) before each pass: single-threaded.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pickupctl_cli.h"

#ifndef PK_VERSION
#define PK_VERSION "unknown"
#endif

enum ctl_type {
	CT_STR,	   /* JSON string as given */
	CT_INT,	   /* decimal digits -> JSON integer */
	CT_RIGHTS, /* "ring,pickup" -> ["ring", "pickup"] */
	CT_PATH,   /* string, made absolute against the current directory */
	CT_WORKER, /* stats --worker: not sent, selects the column */
	CT_TUNABLE_NAME,
	CT_TUNABLE_VALUE, /* typed by the tunable's name (set) */
	CT_JSON,	  /* raw: the whole request */
};

#define CTL_MAX_POS 3
#define CTL_MAX_OPT 3

struct ctl_param {
	const char *name; /* option: long name; positional: NULL */
	const char *meta; /* NUM, USER, ... */
	const char *key;  /* JSON key in args; NULL: not sent */
	enum ctl_type type;
};

struct ctl_cmd {
	const char *family; /* "group", "member" or NULL */
	const char *word;
	const char *wire;
	enum pk_ctl_view view;
	unsigned n_req, n_pos; /* required positionals, all positionals */
	struct ctl_param pos[CTL_MAX_POS];
	struct ctl_param opt[CTL_MAX_OPT];
	const char *summary;
};

#define P(m, k, t) { NULL, m, k, t }
#define O(n, m, k, t) { n, m, k, t }

static const struct ctl_cmd ctl_cmds[] = {
	{ NULL, "status", "status", PK_CTL_VIEW_KV, 0, 0, { { 0 } }, { { 0 } },
	  "version, pid, uptime, backend, workers, files" },
	{ NULL, "stats", "stats", PK_CTL_VIEW_STATS, 0, 0, { { 0 } },
	  { O("worker", "N", NULL, CT_WORKER) },
	  "counters: totals and per worker, tables, groups, memory" },
	{ NULL, "metrics", "metrics", PK_CTL_VIEW_METRICS, 0, 0, { { 0 } }, { { 0 } },
	  "the stats in Prometheus text format" },
	{ NULL, "calls", "calls", PK_CTL_VIEW_CALLS, 0, 0, { { 0 } },
	  { O("group", "NUM", "group", CT_STR), O("user", "USER", "user", CT_STR),
	    O("limit", "N", "limit", CT_INT) },
	  "ringing calls, oldest first" },
	{ NULL, "registrations", "registrations", PK_CTL_VIEW_REGS, 0, 0, { { 0 } },
	  { O("user", "USER", "user", CT_STR), O("limit", "N", "limit", CT_INT) },
	  "registered and static contacts" },
	{ NULL, "neighbours", "neighbours", PK_CTL_VIEW_NEIGHBOURS, 0, 0, { { 0 } },
	  { O("port", "PORT", "port", CT_STR) },
	  "the dpdk ports' ARP caches: address, MAC, state, age, frames waiting" },
	{ NULL, "groups", "groups", PK_CTL_VIEW_GROUPS, 0, 1, { P("NUM", "number", CT_STR) },
	  { { 0 } }, "pickup groups with their members and rights, and the settings" },
	{ "group", "add", "group.add", PK_CTL_VIEW_KV, 1, 1, { P("NUM", "number", CT_STR) },
	  { O("name", "NAME", "name", CT_STR) }, "create an empty group" },
	{ "group", "remove", "group.remove", PK_CTL_VIEW_KV, 1, 1,
	  { P("NUM", "number", CT_STR) }, { { 0 } }, "delete a group" },
	{ "group", "renumber", "group.renumber", PK_CTL_VIEW_KV, 2, 2,
	  { P("NUM", "number", CT_STR), P("NEW", "new_number", CT_STR) }, { { 0 } },
	  "give a group another number" },
	{ "group", "name", "group.name", PK_CTL_VIEW_KV, 2, 2,
	  { P("NUM", "number", CT_STR), P("NAME", "name", CT_STR) }, { { 0 } },
	  "set a group's name" },
	{ "member", "add", "member.add", PK_CTL_VIEW_KV, 2, 2,
	  { P("NUM", "group", CT_STR), P("USER", "user", CT_STR) },
	  { O("rights", "ring,pickup", "rights", CT_RIGHTS) },
	  "add a user to a group (rights: both by default)" },
	{ "member", "remove", "member.remove", PK_CTL_VIEW_KV, 2, 2,
	  { P("NUM", "group", CT_STR), P("USER", "user", CT_STR) }, { { 0 } },
	  "take a user out of a group" },
	{ "member", "rights", "member.rights", PK_CTL_VIEW_KV, 3, 3,
	  { P("NUM", "group", CT_STR), P("USER", "user", CT_STR),
	    P("RIGHTS", "rights", CT_RIGHTS) },
	  { { 0 } }, "set a member's rights (ring, pickup or ring,pickup)" },
	{ NULL, "reload", "reload", PK_CTL_VIEW_KV, 0, 0, { { 0 } }, { { 0 } },
	  "re-read the groups file" },
	{ NULL, "save", "save", PK_CTL_VIEW_KV, 0, 1, { P("PATH", "path", CT_PATH) }, { { 0 } },
	  "write the live groups to the groups file (or PATH)" },
	{ NULL, "get", "get", PK_CTL_VIEW_KV, 0, 1, { P("NAME", "name", CT_STR) }, { { 0 } },
	  "show the live tunables (or one)" },
	{ NULL, "set", "set", PK_CTL_VIEW_KV, 2, 2,
	  { P("NAME", "name", CT_TUNABLE_NAME), P("VALUE", "value", CT_TUNABLE_VALUE) },
	  { { 0 } }, "change a tunable: ring_timeout, claim_timeout, log_level, trusted, rate_limit" },
	{ NULL, "shutdown", "shutdown", PK_CTL_VIEW_KV, 0, 0, { { 0 } }, { { 0 } },
	  "stop pickupd (as SIGTERM does)" },
	{ NULL, "raw", NULL, PK_CTL_VIEW_RAW, 1, 1, { P("JSON", NULL, CT_JSON) }, { { 0 } },
	  "send one request as given, print the whole response" },
};

#undef P
#undef O

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* Tunables (docs/control.md) and the JSON type their value is sent as. */
static const struct {
	const char *name;
	enum { TV_INT, TV_STR, TV_CIDRS } type;
} ctl_tunables[] = {
	{ "ring_timeout", TV_INT },
	{ "claim_timeout", TV_INT },
	{ "log_level", TV_STR },
	{ "trusted", TV_CIDRS },
	{ "rate_limit", TV_INT },
};

/* ---- help ---- */

static const char ctl_global_help[] =
	"Options (before or after the command):\n"
	"  -s, --socket PATH     the control socket\n"
	"  -c, --config FILE     read control_socket from this pickupd settings file\n"
	"      --json            print the result as JSON, as received\n"
	"      --timeout SEC     give up after SEC seconds without an answer (default 5)\n"
	"  -h, --help            this help; COMMAND --help: the command's\n"
	"      --version         pickupctl's version\n"
	"Socket: -s, else -c's control_socket, else $" PK_CTL_ENV_SOCKET
	", else the built-in default.\n"
	"Exit status: 0 ok, 1 pickupd refused the command, 2 usage error,\n"
	"3 pickupd unreachable (no socket, refused, timeout, closed).\n"
	"See docs/pickupctl.md.\n";

static void ctl_synopsis(FILE *f, const struct ctl_cmd *c, bool full)
{
	unsigned i;

	if (full)
		fputs("pickupctl [OPTIONS] ", f);
	if (c->family != NULL)
		fprintf(f, "%s ", c->family);
	fputs(c->word, f);
	for (i = 0; i < c->n_pos; i++)
		fprintf(f, i < c->n_req ? " %s" : " [%s]", c->pos[i].meta);
	for (i = 0; i < CTL_MAX_OPT && c->opt[i].name != NULL; i++)
		fprintf(f, " [--%s %s]", c->opt[i].name, c->opt[i].meta);
	fputc('\n', f);
}

static void ctl_help_main(FILE *f)
{
	fputs("pickupctl: the client of pickupd's control socket\n"
	      "usage: pickupctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n",
	      f);
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		fputs("  ", f);
		ctl_synopsis(f, &ctl_cmds[i], false);
		fprintf(f, "      %s\n", ctl_cmds[i].summary);
	}
	fputc('\n', f);
	fputs(ctl_global_help, f);
}

static void ctl_help_family(FILE *f, const char *family)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (ctl_cmds[i].family == NULL || strcmp(ctl_cmds[i].family, family) != 0)
			continue;
		fputs("  ", f);
		ctl_synopsis(f, &ctl_cmds[i], true);
		fprintf(f, "      %s\n", ctl_cmds[i].summary);
	}
}

static void ctl_help_cmd(FILE *f, const struct ctl_cmd *c)
{
	fputs("usage: ", f);
	ctl_synopsis(f, c, true);
	fprintf(f, "  %s\n", c->summary);
	if (c->wire != NULL)
		fprintf(f, "  request: %s (docs/control.md)\n", c->wire);
	if (strcmp(c->word, "set") == 0)
		fputs("  ring_timeout, claim_timeout: whole seconds; log_level: error, warning,\n"
		      "  notice, info or debug; trusted: comma-separated CIDRs (\"\" for none);\n"
		      "  rate_limit: requests per second per source (0: off)\n",
		      f);
	fputc('\n', f);
	fputs(ctl_global_help, f);
}

/* A usage error: message, the command's synopsis, status 2. */
static int ctl_usage(FILE *err, const struct ctl_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ctl_usage(FILE *err, const struct ctl_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fputs("pickupctl: ", err);
	if (c != NULL)
		fprintf(err, "%s%s%s: ", c->family ? c->family : "", c->family ? " " : "", c->word);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	if (c != NULL) {
		fputs("usage: ", err);
		ctl_synopsis(err, c, true);
	} else {
		fputs("usage: pickupctl [OPTIONS] COMMAND [ARGS]; pickupctl --help lists them\n",
		      err);
	}
	return PK_CTL_EXIT_USAGE;
}

/* ---- values ---- */

/* Strict unsigned decimal: digits only, no sign, no blanks, no overflow. */
static bool ctl_int(const char *s, json_int_t *v)
{
	json_int_t x = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (x > (INT64_MAX - (*s - '0')) / 10)
			return false;
		x = x * 10 + (*s - '0');
	}
	*v = x;
	return true;
}

/* "ring,pickup" -> ["ring","pickup"]; NULL after a usage message. */
static json_t *ctl_rights(const char *s, FILE *err, const struct ctl_cmd *c)
{
	static const char *const names[] = { "ring", "pickup" };
	json_t *a = json_array();
	bool seen[2] = { false, false };
	const char *p = s;

	if (a == NULL)
		return NULL;
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t i;

		for (i = 0; i < 2; i++)
			if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
				break;
		if (i == 2) {
			ctl_usage(err, c, "rights '%s': '%.*s' is not ring or pickup", s, (int)n, p);
			goto fail;
		}
		if (seen[i]) {
			ctl_usage(err, c, "rights '%s': '%s' given twice", s, names[i]);
			goto fail;
		}
		seen[i] = true;
		json_array_append_new(a, json_string(names[i]));
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

/* "10.0.0.0/8, 192.168.1.0/24" -> ["10.0.0.0/8","192.168.1.0/24"]; "" -> [].
 * Each CIDR is the daemon's to check. */
static json_t *ctl_cidrs(const char *s, FILE *err, const struct ctl_cmd *c)
{
	json_t *a = json_array();
	const char *p = s;

	if (a == NULL)
		return NULL;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return a;
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t m = n;

		while (m > 0 && p[m - 1] == ' ')
			m--;
		if (m == 0) {
			ctl_usage(err, c, "trusted '%s': an empty network in the list", s);
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_stringn(p, m));
		if (p[n] == '\0')
			break;
		p += n + 1;
		while (*p == ' ')
			p++;
	}
	return a;
}

static int ctl_tunable(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_tunables) / sizeof(ctl_tunables[0]); i++)
		if (strcmp(ctl_tunables[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* One argument -> JSON value stored in args (or inv), or a usage error. */
static int ctl_value(const struct ctl_cmd *c, const struct ctl_param *p, const char *s,
		     const char *tunable, struct pk_ctl_inv *inv, json_t *args, FILE *err)
{
	json_t *v = NULL;
	json_int_t n;
	int t;

	switch (p->type) {
	case CT_STR:
	case CT_TUNABLE_NAME:
		if (p->type == CT_TUNABLE_NAME && ctl_tunable(s) < 0)
			return ctl_usage(err, c,
					 "no tunable '%s' (ring_timeout, claim_timeout, log_level, trusted, rate_limit)",
					 s);
		v = json_string(s);
		if (v == NULL)
			return ctl_usage(err, c, "%s '%s' is not valid UTF-8", p->meta, s);
		break;
	case CT_INT:
		if (!ctl_int(s, &n))
			return ctl_usage(err, c, "%s%s: '%s' is not a whole number",
					 p->name ? "--" : "", p->name ? p->name : p->meta, s);
		v = json_integer(n);
		break;
	case CT_WORKER:
		if (!ctl_int(s, &n) || n > INT32_MAX)
			return ctl_usage(err, c, "--%s: '%s' is not a worker number", p->name, s);
		inv->worker = (int)n;
		return 0;
	case CT_RIGHTS:
		if ((v = ctl_rights(s, err, c)) == NULL)
			return PK_CTL_EXIT_USAGE;
		break;
	case CT_PATH:
		if (s[0] == '\0')
			return ctl_usage(err, c, "empty path");
		if (s[0] == '/') {
			if (strlen(s) >= sizeof(inv->save_path))
				return ctl_usage(err, c, "path too long");
			strcpy(inv->save_path, s);
		} else {
			/* pickupd's working directory is not ours: send what the
			 * operator means, the path as seen from here. */
			size_t l;

			if (getcwd(inv->save_path, sizeof(inv->save_path)) == NULL)
				return ctl_usage(err, c, "current directory: %s", strerror(errno));
			l = strlen(inv->save_path);
			if (l + 1 + strlen(s) >= sizeof(inv->save_path))
				return ctl_usage(err, c, "path too long");
			snprintf(inv->save_path + l, sizeof(inv->save_path) - l, "%s%s",
				 l > 0 && inv->save_path[l - 1] == '/' ? "" : "/", s);
		}
		v = json_string(inv->save_path);
		break;
	case CT_TUNABLE_VALUE:
		t = ctl_tunable(tunable);
		if (ctl_tunables[t].type == TV_INT) {
			if (!ctl_int(s, &n))
				return ctl_usage(err, c, "%s: '%s' is not a whole number of seconds",
						 tunable, s);
			v = json_integer(n);
		} else if (ctl_tunables[t].type == TV_CIDRS) {
			if ((v = ctl_cidrs(s, err, c)) == NULL)
				return PK_CTL_EXIT_USAGE;
		} else {
			v = json_string(s);
		}
		break;
	case CT_JSON: {
		json_error_t je;

		v = json_loads(s, JSON_DECODE_ANY, &je);
		if (v == NULL)
			return ctl_usage(err, c, "not JSON: %s (column %d)", je.text, je.column);
		json_decref(inv->request);
		inv->request = v;
		return 0;
	}
	}
	if (v == NULL)
		return ctl_usage(err, c, "out of memory");
	json_object_set_new(args, p->key, v);
	return 0;
}

/* ---- parsing ---- */

enum { OPT_JSON = 256, OPT_TIMEOUT, OPT_VERSION, OPT_CMD };

static const struct option ctl_global_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "config", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};
#define CTL_NGLOBAL (sizeof(ctl_global_opts) / sizeof(ctl_global_opts[0]))

/* The option getopt stopped at, for a message. */
static const char *ctl_bad_opt(int o, char **argv, char *buf, size_t size)
{
	if (optopt > 0 && optopt < 128 && (o == '?' || argv[optind - 1][1] != '-')) {
		snprintf(buf, size, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

/* A global option; 0, 1 (help printed, stop), or a usage error. */
static int ctl_global(int o, const char *arg, const char *bad, struct pk_ctl_inv *inv,
		      const struct ctl_cmd *c, const char *family, FILE *out, FILE *err)
{
	char *end;
	double sec;

	switch (o) {
	case 's':
		inv->socket_opt = arg;
		return 0;
	case 'c':
		inv->config_opt = arg;
		return 0;
	case OPT_JSON:
		inv->json = true;
		return 0;
	case OPT_TIMEOUT:
		errno = 0;
		sec = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !isfinite(sec) || sec <= 0 ||
		    sec > 86400)
			return ctl_usage(err, c, "--timeout: '%s' is not a number of seconds (0 < SEC <= 86400)",
					 arg);
		inv->timeout_ms = (int)ceil(sec * 1000);
		return 0;
	case 'h':
		if (c != NULL)
			ctl_help_cmd(out, c);
		else if (family != NULL)
			ctl_help_family(out, family);
		else
			ctl_help_main(out);
		return 1;
	case OPT_VERSION:
		fprintf(out, "pickupctl %s\n", PK_VERSION);
		return 1;
	case ':':
		return ctl_usage(err, c, "option '%s' needs a value", bad);
	default:
		return ctl_usage(err, c, "unknown option '%s'", bad);
	}
}

static const struct ctl_cmd *ctl_find(const char *family, const char *word)
{
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const struct ctl_cmd *c = &ctl_cmds[i];

		if ((c->family == NULL) != (family == NULL))
			continue;
		if (family != NULL && strcmp(c->family, family) != 0)
			continue;
		if (strcmp(c->word, word) == 0)
			return c;
	}
	return NULL;
}

static bool ctl_is_family(const char *w)
{
	return strcmp(w, "group") == 0 || strcmp(w, "member") == 0;
}

int pk_ctl_parse(int argc, char **argv, struct pk_ctl_inv *inv, FILE *out, FILE *err)
{
	struct option longopts[CTL_NGLOBAL + CTL_MAX_OPT + 1];
	const char *optval[CTL_MAX_OPT] = { NULL };
	const struct ctl_cmd *c = NULL;
	const char *family = NULL;
	json_t *args = NULL;
	int o, rc, first, sub_argc, npos;
	char **sub_argv;
	char bad[8];

	memset(inv, 0, sizeof(*inv));
	inv->timeout_ms = PK_CTL_TIMEOUT_MS_DEFAULT;
	inv->worker = -1;
	opterr = 0;

	/* Pass 1: global options, up to the command word. */
	memcpy(longopts, ctl_global_opts, sizeof(ctl_global_opts));
	memset(&longopts[CTL_NGLOBAL], 0, sizeof(longopts[0]));
	optind = 0;
	while ((o = getopt_long(argc, argv, "+:s:c:h", longopts, NULL)) != -1) {
		rc = ctl_global(o, optarg, ctl_bad_opt(o, argv, bad, sizeof(bad)), inv, NULL, NULL,
				out, err);
		if (rc != 0)
			return rc == 1 ? PK_CTL_EXIT_OK : rc;
	}
	first = optind;
	if (first >= argc)
		return ctl_usage(err, NULL, "no command");
	if (ctl_is_family(argv[first])) {
		family = argv[first];
		if (first + 1 >= argc)
			return ctl_usage(err, NULL, "%s: which one? (%s)", family,
					 strcmp(family, "group") == 0 ? "add, remove, renumber, name"
								      : "add, remove, rights");
		if (strcmp(argv[first + 1], "--help") == 0 || strcmp(argv[first + 1], "-h") == 0) {
			ctl_help_family(out, family);
			return PK_CTL_EXIT_OK;
		}
		first++;
	}
	c = ctl_find(family, argv[first]);
	if (c == NULL) {
		if (family != NULL)
			return ctl_usage(err, NULL, "unknown command '%s %s'", family, argv[first]);
		return ctl_usage(err, NULL, "unknown command '%s'", argv[first]);
	}
	inv->name = c->wire != NULL ? c->wire : c->word;
	inv->view = c->view;

	/* Pass 2: the command's options (and global ones), mixed with its
	 * arguments; sub_argv[0] is the command word. */
	for (o = 0; o < CTL_MAX_OPT && c->opt[o].name != NULL; o++)
		longopts[CTL_NGLOBAL + o] =
			(struct option){ c->opt[o].name, required_argument, NULL, OPT_CMD + o };
	memset(&longopts[CTL_NGLOBAL + o], 0, sizeof(longopts[0]));
	sub_argc = argc - first;
	sub_argv = argv + first;
	optind = 0;
	while ((o = getopt_long(sub_argc, sub_argv, ":s:c:h", longopts, NULL)) != -1) {
		if (o >= OPT_CMD && o < OPT_CMD + CTL_MAX_OPT) {
			optval[o - OPT_CMD] = optarg;
			continue;
		}
		rc = ctl_global(o, optarg, ctl_bad_opt(o, sub_argv, bad, sizeof(bad)), inv, c, NULL,
				out, err);
		if (rc != 0)
			return rc == 1 ? PK_CTL_EXIT_OK : rc;
	}
	if (inv->socket_opt != NULL && inv->config_opt != NULL)
		return ctl_usage(err, c, "-s and -c both name the socket: give one");
	npos = sub_argc - optind;
	if (npos < (int)c->n_req)
		return ctl_usage(err, c, "missing %s", c->pos[npos].meta);
	if (npos > (int)c->n_pos)
		return ctl_usage(err, c, "extra argument '%s'", sub_argv[optind + (int)c->n_pos]);

	/* The request: args in the table's order, positionals first. */
	args = json_object();
	if (args == NULL)
		return ctl_usage(err, c, "out of memory");
	for (int i = 0; i < npos; i++) {
		rc = ctl_value(c, &c->pos[i], sub_argv[optind + i], sub_argv[optind], inv, args, err);
		if (rc != 0)
			goto fail;
	}
	for (int i = 0; i < CTL_MAX_OPT && c->opt[i].name != NULL; i++) {
		if (optval[i] == NULL)
			continue;
		rc = ctl_value(c, &c->opt[i], optval[i], NULL, inv, args, err);
		if (rc != 0)
			goto fail;
	}
	if (c->wire != NULL) {
		inv->request = json_pack("{s:s}", "cmd", c->wire);
		if (inv->request == NULL) {
			rc = ctl_usage(err, c, "out of memory");
			goto fail;
		}
		if (json_object_size(args) > 0)
			json_object_set(inv->request, "args", args);
	}
	json_decref(args);
	return PK_CTL_EXIT_OK;
fail:
	json_decref(args);
	json_decref(inv->request);
	inv->request = NULL;
	return rc;
}

/* ---- the socket ---- */

static int ctl_path_set(char *path, size_t size, const char *p, const char *from, FILE *err)
{
	if (p[0] == '\0' || strlen(p) > PK_ENGINE_SOCKET_PATH_MAX || strlen(p) >= size) {
		fprintf(err, "pickupctl: socket path %s'%s' %s\n", from, p,
			p[0] == '\0' ? "is empty" : "is longer than a UNIX socket path may be");
		return PK_CTL_EXIT_USAGE;
	}
	memcpy(path, p, strlen(p) + 1);
	return 0;
}

int pk_ctl_socket_resolve(const struct pk_ctl_inv *inv, char *path, size_t size, FILE *err)
{
	struct pk_engine_conf_error cerr;
	struct pk_engine_conf *conf;
	const char *env = getenv(PK_CTL_ENV_SOCKET);
	int rc;

	if (inv->socket_opt != NULL)
		return ctl_path_set(path, size, inv->socket_opt, "", err);
	if (inv->config_opt != NULL) {
		conf = pk_engine_conf_load(inv->config_opt, &cerr);
		if (conf == NULL) {
			fprintf(err, "pickupctl: -c %s: %s\n", inv->config_opt, cerr.msg);
			return PK_CTL_EXIT_USAGE;
		}
		if (conf->control_socket[0] == '\0') {
			/* control_socket: none: nothing to talk to. */
			fprintf(err, "pickupctl: -c %s: control_socket is none: that pickupd serves no control socket\n",
				inv->config_opt);
			pk_engine_conf_free(conf);
			return PK_CTL_EXIT_UNREACHABLE;
		}
		rc = ctl_path_set(path, size, conf->control_socket, "(control_socket) ", err);
		pk_engine_conf_free(conf);
		return rc;
	}
	if (env != NULL && env[0] != '\0')
		return ctl_path_set(path, size, env, "($" PK_CTL_ENV_SOCKET ") ", err);
	/* The default is the engine settings loader's own: that of a file
	 * with nothing in it. */
	conf = pk_engine_conf_parse("", 0, "(defaults)", "/", &cerr);
	if (conf == NULL) {
		fprintf(err, "pickupctl: built-in settings: %s\n", cerr.msg);
		return PK_CTL_EXIT_USAGE;
	}
	rc = ctl_path_set(path, size, conf->control_socket, "", err);
	pk_engine_conf_free(conf);
	return rc;
}

/* ---- the run ---- */

static int ctl_exchange(const struct pk_ctl_inv *inv, const char *path, FILE *out, FILE *err)
{
	char why[256];
	char *line, *text = NULL;
	json_t *resp = NULL, *ok, *result, *e;
	json_error_t je;
	size_t len;
	int rc;

	line = json_dumps(inv->request, JSON_COMPACT | JSON_ENCODE_ANY);
	if (line == NULL) {
		fprintf(err, "pickupctl: out of memory\n");
		return PK_CTL_EXIT_FAILED;
	}
	len = strlen(line);
	{
		char *l2 = realloc(line, len + 2);

		if (l2 == NULL) {
			free(line);
			fprintf(err, "pickupctl: out of memory\n");
			return PK_CTL_EXIT_FAILED;
		}
		line = l2;
		line[len++] = '\n';
		line[len] = '\0';
	}
	rc = pk_ctl_transact(path, line, len, inv->timeout_ms, &text, why, sizeof(why));
	free(line);
	if (rc < 0) {
		fprintf(err, "pickupctl: %s: %s\n", path, why);
		return PK_CTL_EXIT_UNREACHABLE;
	}
	resp = json_loads(text, 0, &je);
	ok = json_object_get(resp, "ok");
	if (resp == NULL || !json_is_boolean(ok)) {
		fprintf(err, "pickupctl: %s: not a control-socket response: %s\n", path,
			resp == NULL ? je.text : "no \"ok\"");
		rc = PK_CTL_EXIT_UNREACHABLE;
		goto done;
	}
	if (inv->view == PK_CTL_VIEW_RAW) {
		pk_ctl_json_print(out, resp);
		rc = json_is_true(ok) ? PK_CTL_EXIT_OK : PK_CTL_EXIT_FAILED;
		goto done;
	}
	if (json_is_false(ok)) {
		e = json_object_get(resp, "error");
		{
			const char *code = json_string_value(json_object_get(e, "code"));
			const char *msg = json_string_value(json_object_get(e, "message"));

			fprintf(err, "pickupctl: %s: %s\n", code != NULL ? code : "error",
				msg != NULL ? msg : "(no message)");
		}
		rc = PK_CTL_EXIT_FAILED;
		goto done;
	}
	result = json_object_get(resp, "result");
	if (result == NULL) {
		result = json_object();
		json_object_set_new(resp, "result", result);
	}
	if (!json_is_object(result)) {
		fprintf(err, "pickupctl: %s: not a control-socket response: result is no object\n",
			path);
		rc = PK_CTL_EXIT_UNREACHABLE;
		goto done;
	}
	rc = pk_ctl_render(inv, result, out, err);
done:
	json_decref(resp);
	free(text);
	return rc;
}

int pk_ctl_cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	char path[PK_ENGINE_SOCKET_PATH_MAX + 1];
	struct pk_ctl_inv inv;
	int rc;

	rc = pk_ctl_parse(argc, argv, &inv, out, err);
	if (rc != PK_CTL_EXIT_OK || inv.request == NULL)
		goto flush;
	rc = pk_ctl_socket_resolve(&inv, path, sizeof(path), err);
	if (rc == 0)
		rc = ctl_exchange(&inv, path, out, err);
	json_decref(inv.request);
flush:
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(err, "pickupctl: writing the output: %s\n", strerror(errno));
		if (rc == PK_CTL_EXIT_OK)
			rc = PK_CTL_EXIT_FAILED;
	}
	return rc;
}
