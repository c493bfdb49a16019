/* SPDX-License-Identifier: MIT */
/*
 * The stats object of the control socket (docs/control.md "Stats") as
 * Prometheus text exposition format 0.0.4 (include/pickup/metrics.h).
 *
 * Names come from the JSON keys, sanitised to [a-zA-Z0-9_], so a counter
 * added to one of the X-macros shows up here without a change; the few
 * rules (which section becomes a label, which is per worker, what is a
 * counter) are in docs/metrics.md and in render_*() below.
 *
 * The format wants every sample of a metric family right after that
 * family's HELP and TYPE lines, but the stats are grouped per worker: so
 * samples are first collected into one buffer per family (in the order
 * families are first seen), then the families are written out one after
 * the other. A series (name + labels) seen twice - two keys that sanitise
 * to the same name - keeps its first value: a duplicate would make the
 * whole scrape invalid.
 *
 * Pure function of its input: any thread (in pickupd, the control thread).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickup/metrics.h"

/* Longest metric name built; a longer one (absurd key) is skipped. */
#define MX_NAME_MAX 200

/* ---- growable text buffer ---- */

struct mx_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool mx_reserve(struct mx_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	b->p[b->len] = '\0';
	return true;
}

static void mx_put(struct mx_buf *b, const char *s, size_t n)
{
	if (!mx_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void mx_puts(struct mx_buf *b, const char *s)
{
	mx_put(b, s, strlen(s));
}

static void mx_printf(struct mx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mx_printf(struct mx_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		mx_put(b, tmp, (size_t)n);
		return;
	}
	if (!mx_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Label value: backslash, double quote and newline escaped (0.0.4). */
static void mx_put_label_value(struct mx_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': mx_put(b, "\\\\", 2); break;
		case '"': mx_put(b, "\\\"", 2); break;
		case '\n': mx_put(b, "\\n", 2); break;
		default: mx_put(b, s, 1);
		}
	}
}

/* HELP text: backslash and newline escaped (0.0.4). */
static void mx_put_help(struct mx_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': mx_put(b, "\\\\", 2); break;
		case '\n': mx_put(b, "\\n", 2); break;
		default: mx_put(b, s, 1);
		}
	}
}

/* ---- metric families ---- */

struct mx_family {
	char *name;
	const char *type; /* "counter" or "gauge" */
	char *help;
	struct mx_buf samples;
};

struct mx_render {
	struct mx_family *fam;
	size_t n_fam, cap_fam;
	json_t *fam_index; /* name -> index into fam */
	json_t *series;	   /* "name{labels}" already written (a set) */
	bool oom;
};

struct mx_label {
	const char *name;
	const char *value;
};

/* Append "_" and key sanitised to [a-zA-Z0-9_] to name (len so far *len).
 * false when the name would be too long. */
static bool mx_name_add(char *name, size_t *len, const char *key)
{
	size_t n = strlen(key);
	if (n == 0)
		return true;
	if (*len + 1 + n >= MX_NAME_MAX)
		return false;
	name[(*len)++] = '_';
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_';
		name[(*len)++] = ok ? c : '_';
	}
	name[*len] = '\0';
	return true;
}

/* "pickupd" + "_" part for each non-NULL part + suffix (e.g. "_total"). */
static bool mx_name(char name[MX_NAME_MAX], const char *a, const char *b, const char *suffix)
{
	size_t len = strlen("pickupd");
	memcpy(name, "pickupd", len + 1);
	if (a != NULL && !mx_name_add(name, &len, a))
		return false;
	if (b != NULL && !mx_name_add(name, &len, b))
		return false;
	size_t sl = strlen(suffix);
	if (len + sl >= MX_NAME_MAX)
		return false;
	memcpy(name + len, suffix, sl + 1);
	return true;
}

static struct mx_family *mx_family(struct mx_render *r, const char *name, const char *type,
				   const char *help)
{
	json_t *ix = json_object_get(r->fam_index, name);
	if (ix != NULL) {
		struct mx_family *f = &r->fam[json_integer_value(ix)];
		/* the same name as a counter and a gauge: keep the first */
		return strcmp(f->type, type) == 0 ? f : NULL;
	}
	if (r->n_fam == r->cap_fam) {
		size_t cap = r->cap_fam ? r->cap_fam * 2 : 64;
		struct mx_family *p = realloc(r->fam, cap * sizeof(*p));
		if (p == NULL)
			goto oom;
		r->fam = p;
		r->cap_fam = cap;
	}
	struct mx_family *f = &r->fam[r->n_fam];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->help = strdup(help);
	f->type = type;
	if (f->name == NULL || f->help == NULL) {
		free(f->name);
		free(f->help);
		goto oom;
	}
	if (json_object_set_new_nocheck(r->fam_index, name, json_integer((json_int_t)r->n_fam)) != 0) {
		free(f->name);
		free(f->help);
		goto oom;
	}
	r->n_fam++;
	return f;
oom:
	r->oom = true;
	return NULL;
}

/* The sample value as text; false for a member that is not a number. */
static bool mx_value(const json_t *v, char *out, size_t cap)
{
	if (json_is_integer(v)) {
		snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		if (isnan(d))
			snprintf(out, cap, "NaN");
		else if (isinf(d))
			snprintf(out, cap, d > 0 ? "+Inf" : "-Inf");
		else
			snprintf(out, cap, "%.17g", d);
	} else if (json_is_boolean(v)) {
		snprintf(out, cap, "%d", json_is_true(v) ? 1 : 0);
	} else {
		return false;
	}
	return true;
}

/* One sample: labels[0..n) in the order given (callers always pass the
 * same order for a family, so the series key is canonical). */
static void mx_sample(struct mx_render *r, const char *name, const char *type, const char *help,
		      const struct mx_label *labels, unsigned n, const json_t *v)
{
	char val[64];
	if (!mx_value(v, val, sizeof(val)))
		return;
	struct mx_family *f = mx_family(r, name, type, help);
	if (f == NULL)
		return;
	struct mx_buf line = { 0 };
	mx_puts(&line, name);
	if (n > 0) {
		mx_put(&line, "{", 1);
		for (unsigned i = 0; i < n; i++) {
			if (i > 0)
				mx_put(&line, ",", 1);
			mx_puts(&line, labels[i].name);
			mx_put(&line, "=\"", 2);
			mx_put_label_value(&line, labels[i].value);
			mx_put(&line, "\"", 1);
		}
		mx_put(&line, "}", 1);
	}
	if (line.oom) {
		r->oom = true;
		goto out;
	}
	if (json_object_get(r->series, line.p) != NULL)
		goto out; /* duplicate series: keep the first */
	if (json_object_set_new_nocheck(r->series, line.p, json_true()) != 0) {
		r->oom = true;
		goto out;
	}
	mx_put(&f->samples, line.p, line.len);
	mx_printf(&f->samples, " %s\n", val);
	if (f->samples.oom)
		r->oom = true;
out:
	free(line.p);
}

/* ---- the stats layout ---- */

/*
 * One per-worker section (or, without a workers array, the summed
 * top-level one): every member is a counter.
 *   counters{c}  -> pickupd_<c>_total
 *   rejects{s}   -> pickupd_rejects_total{status="s"}
 *   <sec>{c}     -> pickupd_<sec>_<c>_total
 * worker is the label value, or NULL for the summed sections.
 */
static void render_counter_section(struct mx_render *r, const char *sec, const json_t *obj,
				   const char *worker)
{
	const char *key;
	const json_t *v;
	char name[MX_NAME_MAX], help[MX_NAME_MAX + 96];
	const char *where = worker != NULL ? "workers[]." : "";
	bool counters = strcmp(sec, "counters") == 0 || strcmp(sec, "totals") == 0;
	bool rejects = strcmp(sec, "rejects") == 0;

	json_object_foreach ((json_t *)obj, key, v) {
		struct mx_label l[2];
		unsigned n = 0;
		if (rejects) {
			if (!mx_name(name, "rejects", NULL, "_total"))
				continue;
			snprintf(help, sizeof(help), "Requests answered with an error, by status (stats %srejects)",
				 where);
			l[n++] = (struct mx_label){ "status", key };
		} else {
			if (!mx_name(name, counters ? NULL : sec, key, "_total"))
				continue;
			snprintf(help, sizeof(help), "Counter %s%s.%s of the stats", where, sec, key);
		}
		if (worker != NULL)
			l[n++] = (struct mx_label){ "worker", worker };
		mx_sample(r, name, "counter", help, l, n, v);
	}
}

static void render_workers(struct mx_render *r, const json_t *workers)
{
	size_t i;
	const json_t *w;
	json_array_foreach ((json_t *)workers, i, w) {
		char id[32];
		const json_t *jid = json_object_get(w, "id");
		if (json_is_integer(jid))
			snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, json_integer_value(jid));
		else
			snprintf(id, sizeof(id), "%zu", i);
		const char *key;
		const json_t *v;
		json_object_foreach ((json_t *)w, key, v) {
			/* a worker's share of the network layer, per port: the
			 * series are per port (render_net), not per worker */
			if (strcmp(key, "id") == 0 || strcmp(key, "net") == 0)
				continue;
			if (json_is_object(v)) {
				render_counter_section(r, key, v, id);
			} else {
				/* a per-worker value that is not a counter set */
				char name[MX_NAME_MAX], help[MX_NAME_MAX + 64];
				if (!mx_name(name, "worker", key, ""))
					continue;
				snprintf(help, sizeof(help), "Value workers[].%s of the stats", key);
				struct mx_label l = { "worker", id };
				mx_sample(r, name, "gauge", help, &l, 1, v);
			}
		}
	}
}

/*
 * memory{area_bytes: n, other: n, sub{stat: n}}:
 *   area_bytes -> pickupd_memory_bytes{area="area"}
 *   other      -> pickupd_memory_other
 *   sub{stat}  -> pickupd_<sub>_bytes{stat="stat"}   (jemalloc)
 */
static void render_memory(struct mx_render *r, const json_t *mem)
{
	const char *key;
	const json_t *v;
	char name[MX_NAME_MAX], help[MX_NAME_MAX + 64];
	json_object_foreach ((json_t *)mem, key, v) {
		if (json_is_object(v)) {
			if (!mx_name(name, key, NULL, "_bytes"))
				continue;
			snprintf(help, sizeof(help), "Bytes as %s reports them (stats memory.%s)", key, key);
			const char *k2;
			const json_t *v2;
			json_object_foreach ((json_t *)v, k2, v2) {
				struct mx_label l = { "stat", k2 };
				mx_sample(r, name, "gauge", help, &l, 1, v2);
			}
			continue;
		}
		size_t kl = strlen(key);
		const size_t sl = strlen("_bytes");
		if (kl > sl && strcmp(key + kl - sl, "_bytes") == 0) {
			char area[MX_NAME_MAX];
			if (kl - sl >= sizeof(area))
				continue;
			memcpy(area, key, kl - sl);
			area[kl - sl] = '\0';
			snprintf(help, sizeof(help), "Memory held by each table (stats memory.*_bytes)");
			struct mx_label l = { "area", area };
			mx_sample(r, "pickupd_memory_bytes", "gauge", help, &l, 1, v);
		} else {
			if (!mx_name(name, "memory", key, ""))
				continue;
			snprintf(help, sizeof(help), "Value memory.%s of the stats", key);
			mx_sample(r, name, "gauge", help, NULL, 0, v);
		}
	}
}

/*
 * Any other section S{k: n, counters{c: n}, sub{k: n}} (calls,
 * registrations, groups):
 *   k           -> pickupd_<P>_<k> gauge (pickupd_<S> when k == S)
 *   counters{c} -> pickupd_<S>_<c>_total
 *   sub{k}      -> pickupd_<S>_<sub>_<k> gauge
 * P is S, but "group" for "groups" (pickupd_group_memberships reads better
 * than pickupd_groups_memberships; groups.groups is pickupd_groups).
 */
static void render_section(struct mx_render *r, const char *sec, const json_t *obj)
{
	const char *key;
	const json_t *v;
	char name[MX_NAME_MAX], help[2 * MX_NAME_MAX + 64];
	const char *prefix = strcmp(sec, "groups") == 0 ? "group" : sec;
	json_object_foreach ((json_t *)obj, key, v) {
		if (json_is_object(v)) {
			bool counters = strcmp(key, "counters") == 0;
			char sub[MX_NAME_MAX];
			snprintf(sub, sizeof(sub), "%s", sec);
			size_t len = strlen(sub);
			if (!counters && !mx_name_add(sub, &len, key))
				continue;
			const char *k2;
			const json_t *v2;
			json_object_foreach ((json_t *)v, k2, v2) {
				if (!mx_name(name, sub, k2, counters ? "_total" : ""))
					continue;
				snprintf(help, sizeof(help), "%s %s.%s.%s of the stats",
					 counters ? "Counter" : "Value", sec, key, k2);
				mx_sample(r, name, counters ? "counter" : "gauge", help, NULL, 0, v2);
			}
			continue;
		}
		if (!mx_name(name, strcmp(key, sec) == 0 ? sec : prefix,
			     strcmp(key, sec) == 0 ? NULL : key, ""))
			continue;
		snprintf(help, sizeof(help), "Value %s.%s of the stats", sec, key);
		mx_sample(r, name, "gauge", help, NULL, 0, v);
	}
}

/*
 * The dpdk backend's network layer, one set of counters per port:
 *   net{<port>{c}} -> pickupd_net_<c>_total{port="<port>"}
 */
static void render_net(struct mx_render *r, const json_t *net)
{
	const char *port, *key;
	const json_t *ctrs, *v;
	char name[MX_NAME_MAX], help[MX_NAME_MAX + 64];

	json_object_foreach ((json_t *)net, port, ctrs) {
		if (!json_is_object(ctrs))
			continue;
		json_object_foreach ((json_t *)ctrs, key, v) {
			struct mx_label l = { "port", port };
			if (!mx_name(name, "net", key, "_total"))
				continue;
			snprintf(help, sizeof(help), "Counter net.<port>.%s of the stats", key);
			mx_sample(r, name, "counter", help, &l, 1, v);
		}
	}
}

/*
 * The dpdk ports' links:
 *   ports{<port>{link_up, speed_mbps, full_duplex, link_changes}} ->
 *   pickupd_port_link_up{port="<port>"} (gauge, 1 or 0), ..._speed_mbps,
 *   ..._full_duplex, pickupd_port_link_changes_total (counter)
 */
static void render_ports(struct mx_render *r, const json_t *ports)
{
	const char *port, *key;
	const json_t *fields, *v;
	char name[MX_NAME_MAX], help[MX_NAME_MAX + 64];

	json_object_foreach ((json_t *)ports, port, fields) {
		if (!json_is_object(fields))
			continue;
		json_object_foreach ((json_t *)fields, key, v) {
			struct mx_label l = { "port", port };
			bool counter = strcmp(key, "link_changes") == 0;
			json_t *num = json_is_boolean(v) ? json_integer(json_is_true(v)) : json_incref((json_t *)v);

			if (num != NULL && mx_name(name, "port", key, counter ? "_total" : "")) {
				snprintf(help, sizeof(help), "ports.<port>.%s of the stats%s", key,
					 json_is_boolean(v) ? " (1: true)" : "");
				mx_sample(r, name, counter ? "counter" : "gauge", help, &l, 1, num);
			}
			json_decref(num);
		}
	}
}

/* A top-level section that is the sum of a per-worker one: "totals" (of
 * workers[].counters) or any key the first worker also has but "net" (a
 * port's, with its driver's counters; the workers' shares are not
 * exported). */
static bool is_summed(const char *key, const json_t *worker0)
{
	if (strcmp(key, "totals") == 0)
		return true;
	return strcmp(key, "id") != 0 && strcmp(key, "net") != 0 &&
	       json_is_object(json_object_get(worker0, key));
}

static void render_stats(struct mx_render *r, const json_t *stats)
{
	const json_t *workers = json_object_get(stats, "workers");
	const json_t *w0 = json_is_array(workers) ? json_array_get(workers, 0) : NULL;
	const char *key;
	const json_t *v;

	json_object_foreach ((json_t *)stats, key, v) {
		char name[MX_NAME_MAX], help[MX_NAME_MAX + 64];
		if (strcmp(key, "uptime_s") == 0) {
			mx_sample(r, "pickupd_uptime_seconds", "gauge", "Seconds since pickupd started",
				  NULL, 0, v);
		} else if (strcmp(key, "workers") == 0) {
			if (json_is_array(v))
				render_workers(r, v);
		} else if (json_is_object(v) && w0 != NULL && is_summed(key, w0)) {
			continue; /* exported per worker */
		} else if (json_is_object(v) && (strcmp(key, "totals") == 0 || strcmp(key, "rejects") == 0 ||
						 strcmp(key, "proxy") == 0 || strcmp(key, "pickup") == 0 ||
						 strcmp(key, "io") == 0)) {
			render_counter_section(r, key, v, NULL); /* no workers array */
		} else if (json_is_object(v) && strcmp(key, "memory") == 0) {
			render_memory(r, v);
		} else if (json_is_object(v) && strcmp(key, "net") == 0) {
			render_net(r, v);
		} else if (json_is_object(v) && strcmp(key, "ports") == 0) {
			render_ports(r, v);
		} else if (json_is_object(v)) {
			render_section(r, key, v);
		} else if (mx_name(name, key, NULL, "")) {
			snprintf(help, sizeof(help), "Value %s of the stats", key);
			mx_sample(r, name, "gauge", help, NULL, 0, v);
		}
	}
}

char *pk_metrics_prometheus(const json_t *stats)
{
	struct mx_render r = { 0 };
	struct mx_buf out = { 0 };
	r.fam_index = json_object();
	r.series = json_object();
	if (r.fam_index == NULL || r.series == NULL)
		goto fail;
	if (json_is_object(stats))
		render_stats(&r, stats);
	if (r.oom)
		goto fail;
	mx_reserve(&out, 4096);
	for (size_t i = 0; i < r.n_fam; i++) {
		struct mx_family *f = &r.fam[i];
		mx_printf(&out, "# HELP %s ", f->name);
		mx_put_help(&out, f->help);
		mx_printf(&out, "\n# TYPE %s %s\n", f->name, f->type);
		if (f->samples.len > 0)
			mx_put(&out, f->samples.p, f->samples.len);
	}
	if (out.oom)
		goto fail;
	if (out.p == NULL) /* nothing at all: still a valid (empty) page */
		out.p = strdup("");
	goto done;
fail:
	free(out.p);
	out.p = NULL;
done:
	for (size_t i = 0; i < r.n_fam; i++) {
		free(r.fam[i].name);
		free(r.fam[i].help);
		free(r.fam[i].samples.p);
	}
	free(r.fam);
	json_decref(r.fam_index);
	json_decref(r.series);
	if (out.p == NULL)
		errno = ENOMEM;
	return out.p;
}
