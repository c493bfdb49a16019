/* SPDX-License-Identifier: MIT */
/*
 * pickupctl: how results are shown (docs/pickupctl.md, "Output").
 *
 * Without --json a result becomes aligned text: tables for lists (calls,
 * registrations, groups, per-worker stats), "key  value" lines for the rest,
 * nested objects flattened as a.b. Keys the renderer does not know are
 * still shown (as key-value lines), so a newer pickupd never loses
 * information in an older pickupctl. With --json the result object is
 * printed as received: same keys, same order, 2-space indent.
 *
 * Single-threaded; everything allocated here is freed before returning.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pickupctl_cli.h"

/* ---- scalar text ---- */

/* The shortest %g form that reads back as the same double, with ".0" when
 * it would otherwise look like an integer (as JSON writers do). */
static void ctl_real_text(double d, char *buf, size_t size)
{
	int p;

	for (p = 15; p < 17; p++) {
		snprintf(buf, size, "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (p == 17)
		snprintf(buf, size, "%.17g", d);
	if (isfinite(d) && strpbrk(buf, ".eE") == NULL && strlen(buf) + 3 <= size)
		strcat(buf, ".0");
}

/* A malloc'd text for a table cell or a value column: strings as they
 * are, numbers, true/false, "-" for null, arrays of scalars joined with
 * ",", anything else compact JSON. NULL only when out of memory. */
static char *ctl_text(const json_t *v)
{
	char buf[64];

	switch (v == NULL ? JSON_NULL : json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		ctl_real_text(json_real_value(v), buf, sizeof(buf));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	case JSON_NULL:
		return strdup("-");
	case JSON_ARRAY: {
		size_t i, len = 0;
		json_t *e;
		char *s = NULL, *t;

		json_array_foreach(v, i, e) {
			if (json_is_object(e) || json_is_array(e))
				goto compact;
		}
		s = strdup("");
		json_array_foreach(v, i, e) {
			char *et = ctl_text(e);
			size_t el;

			if (s == NULL || et == NULL) {
				free(et);
				free(s);
				return NULL;
			}
			el = strlen(et);
			t = realloc(s, len + el + 2);
			if (t == NULL) {
				free(et);
				free(s);
				return NULL;
			}
			s = t;
			if (i > 0)
				s[len++] = ',';
			memcpy(s + len, et, el + 1);
			len += el;
			free(et);
		}
		return s;
	}
	case JSON_OBJECT:
	default:
		break;
	}
compact:
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Display width of UTF-8 text: one column per code point. */
static size_t ctl_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void ctl_pad(FILE *out, size_t n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* ---- tables ---- */

#define CTL_TABLE_MAXCOLS (PK_ENGINE_MAX_WORKERS + 2)

struct ctl_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, each malloc'd */
	bool right[CTL_TABLE_MAXCOLS];
	bool oom;
};

static void ctl_table_init(struct ctl_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Append a row; cells[i] are taken over (NULL: empty cell). */
static void ctl_table_row(struct ctl_table *t, char **cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (c == NULL) {
			t->oom = true;
			for (size_t i = 0; i < t->ncols; i++)
				free(cells[i]);
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		if (cells[i] == NULL && (cells[i] = strdup("")) == NULL)
			t->oom = true;
		t->cells[t->nrows * t->ncols + i] = cells[i];
	}
	t->nrows++;
}

/* Columns two spaces apart, left-aligned unless right[]; no trailing
 * blanks. */
static void ctl_table_print(const struct ctl_table *t, FILE *out, size_t indent)
{
	size_t w[CTL_TABLE_MAXCOLS] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s != NULL ? ctl_width(s) : 0;

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		size_t last = t->ncols;

		/* Trailing empty left-aligned cells print nothing. */
		while (last > 1 && !t->right[last - 1] &&
		       (t->cells[r * t->ncols + last - 1] == NULL ||
			t->cells[r * t->ncols + last - 1][0] == '\0'))
			last--;
		ctl_pad(out, indent);
		for (size_t c = 0; c < last; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s != NULL ? ctl_width(s) : 0;

			if (c > 0)
				fputs("  ", out);
			if (t->right[c])
				ctl_pad(out, w[c] - l);
			fputs(s != NULL ? s : "", out);
			if (!t->right[c] && c + 1 < last)
				ctl_pad(out, w[c] - l);
		}
		fputc('\n', out);
	}
}

static void ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- key-value lines ---- */

/* Collect (key, value) rows of an object, nested objects as prefix.key. */
static void ctl_kv_collect(struct ctl_table *t, const json_t *obj, const char *prefix)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		char *key;
		size_t n = strlen(prefix) + strlen(k) + 2;

		key = malloc(n);
		if (key == NULL) {
			t->oom = true;
			return;
		}
		snprintf(key, n, "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_is_object(v) && json_object_size(v) > 0) {
			ctl_kv_collect(t, v, key);
			free(key);
		} else {
			char *row[2] = { key, ctl_text(v) };

			if (row[1] == NULL)
				t->oom = true;
			ctl_table_row(t, row);
		}
	}
}

static int ctl_kv_print(FILE *out, const json_t *obj, size_t indent)
{
	struct ctl_table t;
	bool oom;

	ctl_table_init(&t, 2);
	ctl_kv_collect(&t, obj, "");
	ctl_table_print(&t, out, indent);
	oom = t.oom;
	ctl_table_free(&t);
	return oom ? -ENOMEM : 0;
}

/* "name" then its object's key-value lines indented. */
static int ctl_section_print(FILE *out, const char *name, const json_t *obj)
{
	fprintf(out, "%s\n", name);
	return ctl_kv_print(out, obj, 2);
}

/* ---- views ---- */

static int ctl_view_kv(FILE *out, const json_t *result)
{
	if (json_object_size(result) == 0) {
		fputs("ok\n", out);
		return 0;
	}
	return ctl_kv_print(out, result, 0);
}

static void ctl_age_text(const json_t *v, char *buf, size_t size)
{
	double ms = json_number_value(v);

	if (!json_is_number(v) || ms < 0)
		snprintf(buf, size, "-");
	else if (ms < 60000)
		snprintf(buf, size, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, size, "%um%02us", (unsigned)(ms / 60000),
			 (unsigned)fmod(ms / 1000, 60));
	else
		snprintf(buf, size, "%uh%02um", (unsigned)(ms / 3600000),
			 (unsigned)fmod(ms / 60000, 60));
}

static int ctl_list_done(FILE *out, struct ctl_table *t, const json_t *result, const char *what)
{
	bool oom = t->oom;

	ctl_table_print(t, out, 0);
	if (json_is_true(json_object_get(result, "truncated")))
		fprintf(out, "(truncated after %zu %s: --limit shows more)\n", t->nrows - 1, what);
	ctl_table_free(t);
	return oom ? -ENOMEM : 0;
}

static int ctl_view_calls(FILE *out, const json_t *result)
{
	static const char *const head[] = { "CALL-ID", "STATE", "CALLEE", "GROUPS", "AGE" };
	const json_t *calls = json_object_get(result, "calls");
	struct ctl_table t;
	size_t i;
	json_t *c;

	if (json_array_size(calls) == 0) {
		fputs("no ringing calls\n", out);
		return 0;
	}
	ctl_table_init(&t, 5);
	t.right[4] = true;
	{
		char *row[5];

		for (i = 0; i < 5; i++)
			row[i] = strdup(head[i]);
		ctl_table_row(&t, row);
	}
	json_array_foreach(calls, i, c) {
		char age[32];
		char *row[5] = { ctl_text(json_object_get(c, "call_id")),
				 ctl_text(json_object_get(c, "state")),
				 ctl_text(json_object_get(c, "callee")),
				 ctl_text(json_object_get(c, "groups")), NULL };

		ctl_age_text(json_object_get(c, "age_ms"), age, sizeof(age));
		row[4] = strdup(age);
		ctl_table_row(&t, row);
	}
	return ctl_list_done(out, &t, result, "calls");
}

static int ctl_view_regs(FILE *out, const json_t *result)
{
	static const char *const head[] = { "AOR", "CONTACT", "EXPIRES", "SOURCE", "STATIC" };
	const json_t *regs = json_object_get(result, "registrations");
	struct ctl_table t;
	size_t i;
	json_t *r;

	if (json_array_size(regs) == 0) {
		fputs("no registrations\n", out);
		return 0;
	}
	ctl_table_init(&t, 5);
	t.right[2] = true;
	{
		char *row[5];

		for (i = 0; i < 5; i++)
			row[i] = strdup(head[i]);
		ctl_table_row(&t, row);
	}
	json_array_foreach(regs, i, r) {
		const json_t *e = json_object_get(r, "expires_in_s");
		char exp[32];
		char *row[5] = { ctl_text(json_object_get(r, "aor")),
				 ctl_text(json_object_get(r, "contact")), NULL,
				 ctl_text(json_object_get(r, "source")),
				 strdup(json_is_true(json_object_get(r, "static")) ? "yes" : "no") };

		if (json_is_integer(e))
			snprintf(exp, sizeof(exp), "%" JSON_INTEGER_FORMAT "s", json_integer_value(e));
		else
			snprintf(exp, sizeof(exp), "-");
		row[2] = strdup(exp);
		ctl_table_row(&t, row);
	}
	return ctl_list_done(out, &t, result, "registrations");
}

/* One row per neighbour, by port (in pickupd's order) then address. */
static int ctl_view_neighbours(FILE *out, const json_t *result)
{
	static const char *const head[] = { "PORT", "ADDRESS", "MAC", "STATE", "AGE", "QUEUED", "WORKERS" };
	const json_t *ports = json_object_get(result, "neighbours");
	struct ctl_table t;
	const char *port;
	json_t *list, *nb;
	size_t i;

	if (!json_is_object(ports))
		return -EPROTO;
	ctl_table_init(&t, 7);
	t.right[4] = t.right[5] = true;
	{
		char *row[7];

		for (i = 0; i < 7; i++)
			row[i] = strdup(head[i]);
		ctl_table_row(&t, row);
	}
	json_object_foreach((json_t *)ports, port, list) {
		json_array_foreach(list, i, nb) {
			char age[32];
			char *row[7] = { strdup(port),
					 ctl_text(json_object_get(nb, "address")),
					 ctl_text(json_object_get(nb, "mac")),
					 ctl_text(json_object_get(nb, "state")),
					 NULL,
					 ctl_text(json_object_get(nb, "queued")),
					 ctl_text(json_object_get(nb, "workers")) };

			ctl_age_text(json_object_get(nb, "age_ms"), age, sizeof(age));
			row[4] = strdup(age);
			ctl_table_row(&t, row);
		}
	}
	if (t.nrows == 1) {
		ctl_table_free(&t);
		fputs("no neighbours\n", out);
		return 0;
	}
	return ctl_list_done(out, &t, result, "neighbours");
}

/* One row per member; a group's number and name only on its first row. */
static int ctl_view_groups(FILE *out, const json_t *result)
{
	static const char *const head[] = { "NUMBER", "NAME", "MEMBER", "RIGHTS" };
	const json_t *groups = json_object_get(result, "groups");
	const json_t *settings = json_object_get(result, "settings");
	struct ctl_table t;
	size_t i, j;
	json_t *g, *m;
	int rc;

	if (json_array_size(groups) == 0) {
		fputs("no groups\n", out);
	} else {
		ctl_table_init(&t, 4);
		{
			char *row[4];

			for (i = 0; i < 4; i++)
				row[i] = strdup(head[i]);
			ctl_table_row(&t, row);
		}
		json_array_foreach(groups, i, g) {
			const json_t *members = json_object_get(g, "members");
			const json_t *name = json_object_get(g, "name");
			char *num = ctl_text(json_object_get(g, "number"));
			char *nm = json_is_string(name) ? strdup(json_string_value(name)) : strdup("");

			if (json_array_size(members) == 0) {
				char *row[4] = { num, nm, strdup("-"), NULL };

				ctl_table_row(&t, row);
				continue;
			}
			json_array_foreach(members, j, m) {
				char *row[4] = { j == 0 ? num : NULL, j == 0 ? nm : NULL,
						 ctl_text(json_object_get(m, "user")),
						 ctl_text(json_object_get(m, "rights")) };

				ctl_table_row(&t, row);
			}
		}
		rc = ctl_list_done(out, &t, result, "groups");
		if (rc != 0)
			return rc;
	}
	if (json_is_object(settings)) {
		fputc('\n', out);
		return ctl_section_print(out, "settings", settings);
	}
	return 0;
}

/* Sections of stats shown as one row per counter, with a column for the
 * total and one per worker; the second name is the same section inside
 * each element of "workers". */
static const char *const ctl_stats_cols[][3] = {
	{ "totals", "counters", "COUNTER" },
	{ "rejects", "rejects", "REJECT" },
	{ "proxy", "proxy", "PROXY" },
	{ "pickup", "pickup", "PICKUP" },
	{ "io", "io", "IO" },
};

static int ctl_stats_table(FILE *out, const json_t *total, const char *wkey, const char *head,
			   const json_t *workers, int only)
{
	json_t *w, *v;
	struct ctl_table t;
	size_t i, ncols = 2;
	const json_t *cols[CTL_TABLE_MAXCOLS];
	const char *k;
	char *row[CTL_TABLE_MAXCOLS];
	bool oom;

	json_array_foreach(workers, i, w) {
		json_int_t id = json_integer_value(json_object_get(w, "id"));

		if (ncols == CTL_TABLE_MAXCOLS || (only >= 0 && id != only))
			continue;
		cols[ncols++] = w;
	}
	ctl_table_init(&t, ncols);
	for (i = 1; i < ncols; i++)
		t.right[i] = true;
	row[0] = strdup(head);
	row[1] = strdup("TOTAL");
	for (i = 2; i < ncols; i++) {
		char h[32];

		snprintf(h, sizeof(h), "W%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(cols[i], "id")));
		row[i] = strdup(h);
	}
	ctl_table_row(&t, row);
	json_object_foreach((json_t *)total, k, v) {
		row[0] = strdup(k);
		row[1] = ctl_text(v);
		for (i = 2; i < ncols; i++)
			row[i] = ctl_text(json_object_get(json_object_get(cols[i], wkey), k));
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t, out, 0);
	oom = t.oom;
	ctl_table_free(&t);
	return oom ? -ENOMEM : 0;
}

/* The dpdk backend's "net": one row per counter, one column per port,
 * title in the corner ("NET", or "NET W1" for a worker's share); 1
 * (nothing printed) when a port's value is not an object: the caller
 * shows such a section as key-value lines. */
static int ctl_net_table(FILE *out, const json_t *net, const char *title)
{
	const json_t *cols[CTL_TABLE_MAXCOLS];
	const char *names[CTL_TABLE_MAXCOLS];
	struct ctl_table t;
	size_t ncols = 1;
	const char *k;
	json_t *v;
	char *row[CTL_TABLE_MAXCOLS];
	bool oom;

	json_object_foreach((json_t *)net, k, v) {
		if (ncols == CTL_TABLE_MAXCOLS || !json_is_object(v))
			continue;
		names[ncols] = k;
		cols[ncols++] = v;
	}
	if (ncols == 1 || ncols != json_object_size(net) + 1)
		return 1;
	ctl_table_init(&t, ncols);
	row[0] = strdup(title);
	for (size_t i = 1; i < ncols; i++) {
		t.right[i] = true;
		row[i] = strdup(names[i]);
	}
	ctl_table_row(&t, row);
	/* a row per counter of any port, in the order first seen */
	json_t *keys = json_object();
	for (size_t i = 1; keys != NULL && i < ncols; i++)
		json_object_foreach((json_t *)cols[i], k, v)
			if (json_object_get(keys, k) == NULL)
				json_object_set_new(keys, k, json_null());
	json_object_foreach(keys, k, v) {
		row[0] = strdup(k);
		for (size_t i = 1; i < ncols; i++)
			row[i] = ctl_text(json_object_get(cols[i], k));
		ctl_table_row(&t, row);
	}
	ctl_table_print(&t, out, 0);
	oom = t.oom || keys == NULL;
	json_decref(keys);
	ctl_table_free(&t);
	return oom ? -ENOMEM : 0;
}

static const char *const *ctl_stats_col(const char *key)
{
	for (size_t i = 0; i < sizeof(ctl_stats_cols) / sizeof(ctl_stats_cols[0]); i++)
		if (strcmp(ctl_stats_cols[i][0], key) == 0)
			return ctl_stats_cols[i];
	return NULL;
}

static const json_t *ctl_stats_worker(const json_t *result, int id)
{
	size_t i;
	json_t *w;

	json_array_foreach(json_object_get(result, "workers"), i, w) {
		if (json_integer_value(json_object_get(w, "id")) == id)
			return w;
	}
	return NULL;
}

static int ctl_view_stats(FILE *out, const json_t *result, int only)
{
	const json_t *workers = json_object_get(result, "workers");
	struct ctl_table t;
	const char *k;
	json_t *v;
	bool first = true, oom;
	int rc = 0;

	/* Top-level scalars first (uptime_s). */
	ctl_table_init(&t, 2);
	json_object_foreach((json_t *)result, k, v) {
		if (!json_is_object(v) && !json_is_array(v)) {
			char *row[2] = { strdup(k), ctl_text(v) };

			ctl_table_row(&t, row);
		}
	}
	ctl_table_print(&t, out, 0);
	first = t.nrows == 0;
	oom = t.oom;
	ctl_table_free(&t);
	if (oom)
		return -ENOMEM;
	json_object_foreach((json_t *)result, k, v) {
		const char *const *col = ctl_stats_col(k);

		if (strcmp(k, "workers") == 0 && json_is_array(v))
			continue;
		if (!json_is_object(v) && !json_is_array(v))
			continue;
		if (!first)
			fputc('\n', out);
		first = false;
		if (col != NULL && json_is_object(v))
			rc = ctl_stats_table(out, v, col[1], col[2], workers, only);
		else if (json_is_object(v)) {
			/* net as a table of ports (with --worker N, that
			 * worker's share when the stats have it: the ports'
			 * driver counters are no worker's), else as key-value
			 * lines */
			rc = 1;
			if (strcmp(k, "net") == 0) {
				const json_t *wn = only >= 0 ? json_object_get(ctl_stats_worker(result, only), "net") : NULL;
				char title[32] = "NET";

				if (json_is_object(wn))
					snprintf(title, sizeof(title), "NET W%d", only);
				rc = ctl_net_table(out, json_is_object(wn) ? wn : v, title);
			} else if (strcmp(k, "ports") == 0) {
				rc = ctl_net_table(out, v, "PORTS"); /* the links */
			}
			if (rc == 1)
				rc = ctl_section_print(out, k, v);
		} else {
			char *s = ctl_text(v);

			fprintf(out, "%s  %s\n", k, s ? s : "");
			free(s);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int ctl_view_metrics(FILE *out, const json_t *result)
{
	const char *text = json_string_value(json_object_get(result, "text"));
	size_t n;

	if (text == NULL)
		return -EPROTO;
	n = strlen(text);
	fwrite(text, 1, n, out);
	if (n > 0 && text[n - 1] != '\n')
		fputc('\n', out);
	return 0;
}

/* ---- JSON ---- */

static void ctl_json_pp(FILE *out, const json_t *v, int depth)
{
	char buf[64];
	char *s;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		bool first = true;

		if (json_object_size(v) == 0) {
			fputs("{}", out);
			return;
		}
		fputs("{\n", out);
		json_object_foreach((json_t *)v, k, e) {
			json_t *ks = json_string(k);

			if (!first)
				fputs(",\n", out);
			first = false;
			ctl_pad(out, (size_t)(depth + 1) * 2);
			s = ks != NULL ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
			fprintf(out, "%s: ", s != NULL ? s : "\"\"");
			free(s);
			json_decref(ks);
			ctl_json_pp(out, e, depth + 1);
		}
		fputc('\n', out);
		ctl_pad(out, (size_t)depth * 2);
		fputc('}', out);
		return;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *e;

		if (json_array_size(v) == 0) {
			fputs("[]", out);
			return;
		}
		fputs("[\n", out);
		json_array_foreach(v, i, e) {
			if (i > 0)
				fputs(",\n", out);
			ctl_pad(out, (size_t)(depth + 1) * 2);
			ctl_json_pp(out, e, depth + 1);
		}
		fputc('\n', out);
		ctl_pad(out, (size_t)depth * 2);
		fputc(']', out);
		return;
	}
	case JSON_REAL:
		ctl_real_text(json_real_value(v), buf, sizeof(buf));
		fputs(buf, out);
		return;
	default:
		s = json_dumps(v, JSON_ENCODE_ANY);
		fputs(s != NULL ? s : "null", out);
		free(s);
		return;
	}
}

void pk_ctl_json_print(FILE *out, const json_t *v)
{
	ctl_json_pp(out, v, 0);
	fputc('\n', out);
}

int pk_ctl_render(const struct pk_ctl_inv *inv, json_t *result, FILE *out, FILE *err)
{
	int rc = 0;

	if (inv->view == PK_CTL_VIEW_STATS && inv->worker >= 0 &&
	    ctl_stats_worker(result, inv->worker) == NULL) {
		fprintf(err, "pickupctl: stats: no worker %d (pickupd runs %zu)\n", inv->worker,
			json_array_size(json_object_get(result, "workers")));
		return PK_CTL_EXIT_FAILED;
	}
	if (inv->json) {
		if (inv->view == PK_CTL_VIEW_STATS && inv->worker >= 0)
			pk_ctl_json_print(out, ctl_stats_worker(result, inv->worker));
		else
			pk_ctl_json_print(out, result);
		return PK_CTL_EXIT_OK;
	}
	switch (inv->view) {
	case PK_CTL_VIEW_STATS:
		rc = ctl_view_stats(out, result, inv->worker);
		break;
	case PK_CTL_VIEW_METRICS:
		rc = ctl_view_metrics(out, result);
		break;
	case PK_CTL_VIEW_CALLS:
		rc = ctl_view_calls(out, result);
		break;
	case PK_CTL_VIEW_REGS:
		rc = ctl_view_regs(out, result);
		break;
	case PK_CTL_VIEW_GROUPS:
		rc = ctl_view_groups(out, result);
		break;
	case PK_CTL_VIEW_NEIGHBOURS:
		rc = ctl_view_neighbours(out, result);
		break;
	case PK_CTL_VIEW_RAW:
		pk_ctl_json_print(out, result);
		break;
	case PK_CTL_VIEW_KV:
	default:
		rc = ctl_view_kv(out, result);
		break;
	}
	if (rc == -EPROTO) {
		fprintf(err, "pickupctl: %s: unexpected result from pickupd (try --json)\n",
			inv->name);
		return PK_CTL_EXIT_FAILED;
	}
	if (rc != 0) {
		fprintf(err, "pickupctl: %s: %s\n", inv->name, strerror(-rc));
		return PK_CTL_EXIT_FAILED;
	}
	return PK_CTL_EXIT_OK;
}
