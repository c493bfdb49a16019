/* SPDX-License-Identifier: MIT */
/*
 * The control thread's loop and the control socket (control/ctl.h,
 * docs/control.md).
 *
 * One epoll set: the signalfd, the 10 ms timerfd, the listener, up to
 * PK_CTL_MAX_CLIENTS clients and extra descriptors (metrics HTTP). Clients
 * are non-blocking; each has an input buffer (a request line may be up to
 * 1 MiB) and an output buffer (responses not yet taken by the peer, written
 * as the socket accepts them). Requests are handled in order, one at a
 * time, on this thread; a command that changes the group index returns
 * once the change is published.
 *
 * Ownership: everything here belongs to the control thread, apart from
 * pk_ctl_stats_json, which any thread may call (it reads only atomics).
 * The control thread is an RCU reader (cfg->tid), online only while it
 * walks the ringing-call or location table (the listings, the tick) and
 * offline otherwise, so that it never holds up a grace period while it
 * waits in epoll.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef PK_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "ctl.h"
#include "ctl_proto.h"
#include "pickup/calltab.h"
#include "pickup/engine_conf.h"
#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/io_dpdk.h"
#include "pickup/location.h"
#include "pickup/log.h"
#include "pickup/rcu.h"
#include "worker.h"
#include "pickup/groups_save.h"
#include "pickup/metrics.h"

#ifndef PK_VERSION
#define PK_VERSION "unknown"
#endif

#define CTL_MAX_EXTRA 4
#define CTL_READ_CHUNK 65536
#define CTL_NS 1000000000ull
/* Answer bytes waiting for one client above which its requests wait. */
#define CTL_OUT_HIGH (4u << 20)

enum ctl_kind { CTL_SIGNAL, CTL_TIMER, CTL_LISTEN, CTL_CLIENT, CTL_EXTRA };

/* What an epoll event points at: the first member of each watched object. */
struct ctl_watch {
	enum ctl_kind kind;
};

struct ctl_client {
	struct ctl_watch w;
	int fd; /* -1: slot free */
	uint32_t events;
	bool closing; /* close once out is written (too_large, EOF) */
	bool eof;
	/* Requests read but not yet handled: the client's answers waiting to
	 * be sent passed CTL_OUT_HIGH. Handled as the answers drain; nothing
	 * more is read meanwhile (backpressure: a client that sends without
	 * reading cannot make pickupd buffer without bound). */
	bool held;
	uint64_t last_ns; /* last request read, or answer bytes taken */
	char *in;
	size_t in_len, in_cap, scanned;
	char *out;
	size_t out_len, out_off, out_cap;
};

struct ctl_extra {
	struct ctl_watch w;
	int fd;
	void (*fn)(void *arg);
	void *arg;
};

struct pk_ctl {
	struct pk_engine *eng;
	struct pk_ctl_config cfg;
	char *path; /* socket path, NULL: none */
	int ep, sfd, tfd, lfd;
	struct ctl_watch w_signal, w_timer, w_listen;
	bool stop;
	unsigned n_clients;
	unsigned ticks;
	unsigned n_extra;
	struct ctl_extra extra[CTL_MAX_EXTRA];
	struct ctl_client clients[PK_CTL_MAX_CLIENTS];
};

static enum pk_ctl_error ctl_fail(char *msg, size_t msglen, enum pk_ctl_error e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum pk_ctl_error ctl_fail(char *msg, size_t msglen, enum pk_ctl_error e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return e;
}

/* ---- caches and stats (any thread for the readers) ---- */

void pk_ctl_groups_cache_update(struct pk_engine *eng)
{
	struct pk_groups_stats st;

	pk_groups_view_stats(pk_groups_view(eng->groups), &st);
	/* Relaxed: see struct pk_engine.groups_cache; read by
	 * pk_ctl_stats_json with relaxed loads. */
	atomic_store_explicit(&eng->groups_cache.version, st.version, memory_order_relaxed);
	atomic_store_explicit(&eng->groups_cache.groups, st.n_groups, memory_order_relaxed);
	atomic_store_explicit(&eng->groups_cache.users, st.n_users, memory_order_relaxed);
	atomic_store_explicit(&eng->groups_cache.memberships, st.n_memberships, memory_order_relaxed);
	atomic_store_explicit(&eng->groups_cache.bytes, st.bytes, memory_order_relaxed);
}

struct ctl_state_count {
	uint64_t n[PK_CALLTAB_STATE_COUNT];
};

static int ctl_count_state(const struct pk_calltab_call *call, void *arg)
{
	struct ctl_state_count *sc = arg;

	if ((unsigned)call->state < PK_CALLTAB_STATE_COUNT)
		sc->n[call->state]++;
	return 0;
}

/* Walk the ringing-call table (O(capacity)): control thread, once a second
 * and before answering `stats`. */
static void ctl_calls_cache_update(struct pk_ctl *c)
{
	struct pk_engine *eng = c->eng;
	struct ctl_state_count sc = { { 0 } };
	uint64_t total;

	pk_rcu_reader_online(eng->rcu, c->cfg.tid);
	total = pk_calltab_foreach(eng->calltab, c->cfg.tid, UINT32_MAX, PK_STR_NULL, ctl_count_state, &sc);
	pk_rcu_reader_offline(eng->rcu, c->cfg.tid);
	/* Relaxed: see struct pk_engine.calls_cache. */
	atomic_store_explicit(&eng->calls_cache.tracked, total, memory_order_relaxed);
	atomic_store_explicit(&eng->calls_cache.trying, sc.n[PK_CALLTAB_TRYING], memory_order_relaxed);
	atomic_store_explicit(&eng->calls_cache.ringing, sc.n[PK_CALLTAB_RINGING], memory_order_relaxed);
	atomic_store_explicit(&eng->calls_cache.claimed, sc.n[PK_CALLTAB_CLAIMED], memory_order_relaxed);
}

static uint64_t ctl_relaxed(_Atomic uint64_t *p)
{
	/* Relaxed: the caches and counters order nothing (see their owners). */
	return atomic_load_explicit(p, memory_order_relaxed);
}

static void ctl_set_u64(json_t *o, const char *k, uint64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *ctl_worker_counters(const struct pk_worker *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < PK_WORKER_CTR_COUNT; i++)
		ctl_set_u64(o, pk_worker_counter_name((enum pk_worker_counter)i), pk_ctr_get(&w->ctr[i]));
	return o;
}

static json_t *ctl_worker_rejects(const struct pk_worker *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < PK_WORKER_REJ_COUNT; i++) {
		char k[16];
		unsigned st = pk_worker_reject_status((enum pk_worker_reject)i);

		if (st != 0)
			snprintf(k, sizeof(k), "%u", st);
		else
			snprintf(k, sizeof(k), "other");
		ctl_set_u64(o, k, pk_ctr_get(&w->rejects[i]));
	}
	return o;
}

static json_t *ctl_worker_proxy(const struct pk_worker *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < PK_PROXY_CTR_COUNT; i++)
		ctl_set_u64(o, pk_proxy_counter_name((enum pk_proxy_counter)i), pk_ctr_get(&w->proxy_ctr[i]));
	return o;
}

static json_t *ctl_worker_pickup(const struct pk_worker *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; o != NULL && i < PK_PICKUP_CTR_COUNT; i++)
		ctl_set_u64(o, pk_pickup_counter_name((enum pk_pickup_counter)i), pk_ctr_get(&w->pickup_ctr[i]));
	return o;
}

/* The worker's I/O queue: the backend's counters (include/pickup/io.h),
 * and on the dpdk backend its own (include/pickup/io_dpdk.h). */
static json_t *ctl_worker_io(const struct pk_engine *eng, const struct pk_worker *w)
{
	json_t *o = json_object();
	uint64_t io[PK_IO_CTR_COUNT], dq[PK_IO_DPDK_CTR_COUNT];

	if (o == NULL || w->q == NULL)
		return o;
	pk_io_stats(w->q, io);
	for (unsigned i = 0; i < PK_IO_CTR_COUNT; i++)
		ctl_set_u64(o, pk_io_counter_name((enum pk_io_counter)i), io[i]);
	if (pk_io_is_dpdk(eng->io)) {
		pk_io_dpdk_counters(w->q, dq);
		for (unsigned i = 0; i < PK_IO_DPDK_CTR_COUNT; i++)
			ctl_set_u64(o, pk_io_dpdk_counter_name((enum pk_io_dpdk_counter)i), dq[i]);
	}
	return o;
}

/* The dpdk backend's network layer (include/pickup/net.h) per port,
 * {"<ethdev name>": {counter: n}}: with w NULL summed over the workers'
 * queues, then the port's own counters (its driver's: port_ipackets,
 * port_imissed, ...); with w, worker w's share (its queue's counters on
 * each port, without the driver's, which are the port's). NULL on the
 * socket backend (the kernel's own counters, `nstat`, are those). */
static json_t *ctl_net_json(const struct pk_engine *eng, const struct pk_worker *w)
{
	json_t *net;

	if (!pk_io_is_dpdk(eng->io) || (w != NULL && w->q == NULL) || (net = json_object()) == NULL)
		return NULL;
	for (unsigned p = 0; p < pk_io_dpdk_n_ports(eng->io); p++) {
		uint64_t c[PK_NET_CTR_COUNT], ps[PK_IO_DPDK_PORT_CTR_COUNT];
		bool got = w != NULL ? pk_io_dpdk_port_net_counters(w->q, p, c)
				     : pk_io_dpdk_port_net_totals(eng->io, p, c);
		json_t *o;

		if (!got || (o = json_object()) == NULL)
			break;
		for (unsigned k = 0; k < PK_NET_CTR_COUNT; k++)
			ctl_set_u64(o, pk_net_counter_name((enum pk_net_counter)k), c[k]);
		if (w == NULL && pk_io_dpdk_port_stats(eng->io, p, ps))
			for (unsigned k = 0; k < PK_IO_DPDK_PORT_CTR_COUNT; k++)
				ctl_set_u64(o, pk_io_dpdk_port_counter_name((enum pk_io_dpdk_port_counter)k), ps[k]);
		json_object_set_new(net, pk_io_dpdk_port_name(eng->io, p), o);
	}
	return net;
}

/* Each dpdk port's link now: {PORT: {link_up, speed_mbps, full_duplex,
 * link_changes}}; NULL on the socket backend. */
static json_t *ctl_ports_json(const struct pk_engine *eng)
{
	json_t *ports;

	if (!pk_io_is_dpdk(eng->io) || (ports = json_object()) == NULL)
		return NULL;
	for (unsigned p = 0; p < pk_io_dpdk_n_ports(eng->io); p++) {
		struct pk_io_dpdk_link l;
		json_t *o;

		if (!pk_io_dpdk_port_link(eng->io, p, &l))
			continue;
		o = json_pack("{s:b, s:I, s:b, s:I}", "link_up", l.up, "speed_mbps", (json_int_t)l.speed_mbps,
			      "full_duplex", l.full_duplex, "link_changes", (json_int_t)l.changes);
		if (o != NULL)
			json_object_set_new(ports, pk_io_dpdk_port_name(eng->io, p), o);
	}
	return ports;
}

/* Add every integer of src into the same key of dst. */
static void ctl_sum_into(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);

		if (d == NULL)
			json_object_set_new(dst, k, json_integer(json_integer_value(v)));
		else
			json_integer_set(d, json_integer_value(d) + json_integer_value(v));
	}
}

static json_t *ctl_memory_json(struct pk_engine *eng)
{
	json_t *m = json_object();

	if (m == NULL)
		return NULL;
	ctl_set_u64(m, "calltab_bytes", pk_calltab_memory(eng->calltab));
	ctl_set_u64(m, "location_bytes", pk_location_memory(eng->location));
	ctl_set_u64(m, "groups_bytes", ctl_relaxed(&eng->groups_cache.bytes));
#ifdef PK_HAVE_JEMALLOC
	{
		static const char *const keys[][2] = {
			{ "allocated", "stats.allocated" }, { "active", "stats.active" },
			{ "resident", "stats.resident" },   { "mapped", "stats.mapped" },
			{ "metadata", "stats.metadata" },   { "retained", "stats.retained" },
		};
		json_t *je = json_object();
		uint64_t epoch = 1;
		size_t sz = sizeof(epoch);

		/* Refreshes jemalloc's cached statistics; thread-safe. */
		mallctl("epoch", &epoch, &sz, &epoch, sz);
		for (unsigned i = 0; je != NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t v;

			sz = sizeof(v);
			if (mallctl(keys[i][1], &v, &sz, NULL, 0) == 0)
				ctl_set_u64(je, keys[i][0], v);
		}
		if (je != NULL)
			json_object_set_new(m, "jemalloc", je);
	}
#endif
	return m;
}

json_t *pk_ctl_stats_json(struct pk_engine *eng)
{
	json_t *st = json_object(), *totals = json_object(), *rejects = json_object(), *proxy = json_object(),
	       *pickup = json_object(), *io = json_object(), *workers = json_array(), *calls, *regs, *ctr,
	       *groups, *net;
	uint64_t ct[PK_CALLTAB_CTR_COUNT], lc[PK_LOC_CTR_COUNT];

	if (st == NULL || totals == NULL || rejects == NULL || proxy == NULL || pickup == NULL || io == NULL ||
	    workers == NULL)
		goto fail;
	json_object_set_new(st, "uptime_s", json_real((double)(pk_clock_ns() - eng->start_ns) / 1e9));
	for (unsigned i = 0; i < eng->n_workers; i++) {
		const struct pk_worker *w = eng->workers[i];
		json_t *wo, *a, *b, *c, *d, *e, *n;

		if (w == NULL)
			continue;
		a = ctl_worker_counters(w);
		b = ctl_worker_rejects(w);
		c = ctl_worker_proxy(w);
		d = ctl_worker_pickup(w);
		e = ctl_worker_io(eng, w);
		wo = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)i, "counters", a, "rejects", b,
			       "proxy", c, "pickup", d, "io", e);
		if (wo == NULL)
			goto fail;
		if ((n = ctl_net_json(eng, w)) != NULL)
			json_object_set_new(wo, "net", n);
		ctl_sum_into(totals, a);
		ctl_sum_into(rejects, b);
		ctl_sum_into(proxy, c);
		ctl_sum_into(pickup, d);
		ctl_sum_into(io, e);
		json_array_append_new(workers, wo);
	}
	json_object_set_new(st, "totals", totals);
	json_object_set_new(st, "rejects", rejects);
	json_object_set_new(st, "proxy", proxy);
	json_object_set_new(st, "pickup", pickup);
	json_object_set_new(st, "io", io);
	json_object_set_new(st, "workers", workers);
	totals = rejects = proxy = pickup = io = workers = NULL;

	pk_calltab_stats(eng->calltab, ct);
	ctr = json_object();
	for (unsigned i = 0; ctr != NULL && i < PK_CALLTAB_CTR_COUNT; i++)
		ctl_set_u64(ctr, pk_calltab_counter_name((enum pk_calltab_counter)i), ct[i]);
	calls = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o*}", "capacity",
			  (json_int_t)eng->conf->capacity.calls, "in_use",
			  (json_int_t)pk_calltab_in_use(eng->calltab), "tracked",
			  (json_int_t)ctl_relaxed(&eng->calls_cache.tracked), "trying",
			  (json_int_t)ctl_relaxed(&eng->calls_cache.trying), "ringing",
			  (json_int_t)ctl_relaxed(&eng->calls_cache.ringing), "claimed",
			  (json_int_t)ctl_relaxed(&eng->calls_cache.claimed), "counters", ctr);
	json_object_set_new(st, "calls", calls);

	pk_location_stats(eng->location, lc);
	ctr = json_object();
	for (unsigned i = 0; ctr != NULL && i < PK_LOC_CTR_COUNT; i++)
		ctl_set_u64(ctr, pk_location_counter_name((enum pk_loc_counter)i), lc[i]);
	regs = json_pack("{s:I, s:I, s:I, s:o*}", "capacity", (json_int_t)pk_location_capacity(eng->location),
			 "in_use", (json_int_t)pk_location_in_use(eng->location), "aors",
			 (json_int_t)pk_location_aors(eng->location), "counters", ctr);
	json_object_set_new(st, "registrations", regs);

	groups = json_pack("{s:I, s:I, s:I, s:I, s:I}", "groups",
			   (json_int_t)ctl_relaxed(&eng->groups_cache.groups), "users",
			   (json_int_t)ctl_relaxed(&eng->groups_cache.users), "memberships",
			   (json_int_t)ctl_relaxed(&eng->groups_cache.memberships), "version",
			   (json_int_t)ctl_relaxed(&eng->groups_cache.version), "bytes",
			   (json_int_t)ctl_relaxed(&eng->groups_cache.bytes));
	json_object_set_new(st, "groups", groups);
	json_object_set_new(st, "memory", ctl_memory_json(eng));
	if ((net = ctl_net_json(eng, NULL)) != NULL)
		json_object_set_new(st, "net", net);
	if ((net = ctl_ports_json(eng)) != NULL)
		json_object_set_new(st, "ports", net);
	return st;
fail:
	json_decref(st);
	json_decref(totals);
	json_decref(rejects);
	json_decref(proxy);
	json_decref(pickup);
	json_decref(io);
	json_decref(workers);
	return NULL;
}

/* ---- commands ---- */

typedef enum pk_ctl_error ctl_cmd_fn(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen);

/* The group view's settings, for number checks and default domains. The
 * control thread is the index's only writer: the view stays valid until
 * its own next change. */
static const struct pk_groups_settings *ctl_settings(struct pk_ctl *c)
{
	return pk_groups_view_settings(pk_groups_view(c->eng->groups));
}

/* A group number argument: present, a string, a valid number. */
static enum pk_ctl_error ctl_arg_number(struct pk_ctl *c, json_t *args, const char *name, struct pk_str *out,
					char *msg, size_t msglen)
{
	enum pk_groups_number_error ne;
	enum pk_ctl_error e;
	const char *s;
	size_t n;

	if ((e = pk_ctl_arg_str(args, name, true, &s, &n, msg, msglen)) != PK_CTL_OK)
		return e;
	*out = pk_str_make(s, n);
	ne = pk_groups_number_check(ctl_settings(c), *out);
	if (ne != PK_GROUPS_NUMBER_OK)
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_NUMBER, "'%s' %s", s, pk_groups_number_strerror(ne));
	return PK_CTL_OK;
}

/* A group number argument naming an existing group. */
static enum pk_ctl_error ctl_arg_group(struct pk_ctl *c, json_t *args, const char *name, struct pk_str *out,
				       char *msg, size_t msglen)
{
	enum pk_ctl_error e = ctl_arg_number(c, args, name, out, msg, msglen);

	if (e == PK_CTL_OK && pk_groups_find_number(pk_groups_view(c->eng->groups), *out) == NULL)
		return ctl_fail(msg, msglen, PK_CTL_E_UNKNOWN_GROUP, "no group %.*s", (int)out->len, out->p);
	return e;
}

/* A user argument: "user" or "user@domain" (optionally sip:), the user
 * part valid, the domain (default: the first served one) served. */
static enum pk_ctl_error ctl_arg_user(struct pk_ctl *c, json_t *args, bool required, struct pk_str *user,
				      struct pk_str *domain, char *msg, size_t msglen)
{
	const struct pk_groups_settings *s = ctl_settings(c);
	char norm[PK_GROUPS_USER_MAX];
	enum pk_ctl_error e;
	const char *v;
	size_t n;

	*user = *domain = PK_STR_NULL;
	if ((e = pk_ctl_arg_str(args, "user", required, &v, &n, msg, msglen)) != PK_CTL_OK || v == NULL)
		return e;
	if (pk_groups_aor_split(pk_str_make(v, n), user, domain) != 0 ||
	    pk_groups_user_normalize(*user, norm, sizeof(norm)) < 0)
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "'%s' is not a user or user@domain", v);
	if (domain->len == 0) {
		if (s->n_domains > 0)
			*domain = pk_groups_settings_domain(s, 0);
	} else if (pk_groups_settings_find_domain(s, *domain) < 0) {
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "domain '%.*s' is not served",
				(int)domain->len, domain->p);
	}
	return PK_CTL_OK;
}

/* "user@domain" as the tables store it: user part normalised, domain
 * lowercase. -1 if it does not fit. */
static int ctl_aor(struct pk_str user, struct pk_str domain, char *out, size_t cap)
{
	int n = pk_groups_user_normalize(user, out, cap);

	if (n < 0 || (size_t)n + 1 + domain.len + 1 > cap)
		return -1;
	out[n++] = '@';
	for (size_t i = 0; i < domain.len; i++)
		out[n++] = (char)((domain.p[i] >= 'A' && domain.p[i] <= 'Z') ? domain.p[i] | 0x20 : domain.p[i]);
	out[n] = '\0';
	return n;
}

static json_t *ctl_user_aor_json(const struct pk_groups_view *v, const struct pk_group_user *u)
{
	struct pk_str d = pk_groups_settings_domain(pk_groups_view_settings(v), u->domain);
	char buf[PK_GROUPS_USER_MAX + PK_GROUPS_DOMAIN_MAX + 2];

	snprintf(buf, sizeof(buf), "%.*s@%.*s", (int)u->user.len, u->user.p, (int)d.len, d.p);
	return json_string(buf);
}

static enum pk_ctl_error cmd_status(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_engine *eng = c->eng;

	(void)args, (void)msg, (void)msglen;
	*result = json_pack("{s:s, s:i, s:f, s:s, s:i, s:s, s:s, s:I, s:s?}", "version", PK_VERSION, "pid",
			    (int)getpid(), "uptime_s", (double)(pk_clock_ns() - eng->start_ns) / 1e9, "backend",
			    "socket", "workers", (int)eng->n_workers, "config",
			    c->cfg.config_path ? c->cfg.config_path : eng->conf->path, "groups_file",
			    eng->conf->groups_path, "groups_version",
			    (json_int_t)ctl_relaxed(&eng->groups_cache.version), "control_socket", c->path);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error cmd_stats(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	(void)args, (void)msg, (void)msglen;
	ctl_calls_cache_update(c);
	*result = pk_ctl_stats_json(c->eng);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error cmd_metrics(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	json_t *st;
	char *text;

	(void)args;
	ctl_calls_cache_update(c);
	st = pk_ctl_stats_json(c->eng);
	text = st != NULL ? pk_metrics_prometheus(st) : NULL;
	json_decref(st);
	if (text == NULL)
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	*result = json_pack("{s:s}", "text", text);
	free(text);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

/*
 * calls: the `limit` oldest matching calls, kept in a max-heap on the
 * INVITE time while the table is walked (memory bounded by the limit, not
 * by the number of calls), then sorted oldest first.
 */
struct ctl_call_item {
	uint64_t invite_ns;
	json_t *obj;
};

struct ctl_calls {
	const struct pk_groups_view *v;
	uint64_t now_ns;
	struct ctl_call_item *heap; /* max-heap on invite_ns: [0] is the youngest kept */
	size_t n, limit;
	uint64_t matched;
	bool oom;
};

static void ctl_heap_down(struct ctl_call_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct ctl_call_item t;

		if (l < n && h[l].invite_ns > h[m].invite_ns)
			m = l;
		if (r < n && h[r].invite_ns > h[m].invite_ns)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void ctl_heap_up(struct ctl_call_item *h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2].invite_ns < h[i].invite_ns) {
		struct ctl_call_item t = h[i];

		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static json_t *ctl_call_json(const struct ctl_calls *cc, const struct pk_calltab_call *call)
{
	json_t *groups = json_array();

	for (uint32_t i = 0; groups != NULL && i < call->ngroups; i++) {
		const struct pk_group *g = pk_groups_find_gid(cc->v, call->groups[i]);

		if (g != NULL)
			json_array_append_new(groups, json_stringn(g->number.p, g->number.len));
	}
	/* Empty strings may have no storage (p NULL): json_pack refuses that. */
	return json_pack("{s:s%, s:s, s:s%, s:s%, s:o, s:I}", "call_id", call->call_id.len ? call->call_id.p : "",
			 (size_t)call->call_id.len, "state", pk_calltab_state_name(call->state), "callee",
			 call->callee.len ? call->callee.p : "", (size_t)call->callee.len, "caller",
			 call->caller.len ? call->caller.p : "", (size_t)call->caller.len, "groups", groups, "age_ms",
			 (json_int_t)(cc->now_ns > call->invite_ns ? (cc->now_ns - call->invite_ns) / 1000000 : 0));
}

static int ctl_call_add(const struct pk_calltab_call *call, void *arg)
{
	struct ctl_calls *cc = arg;
	json_t *o;

	cc->matched++;
	if (cc->limit == 0 || (cc->n == cc->limit && call->invite_ns >= cc->heap[0].invite_ns))
		return 0; /* younger than every call kept */
	o = ctl_call_json(cc, call);
	if (o == NULL) {
		cc->oom = true;
		return 1;
	}
	if (cc->n < cc->limit) {
		cc->heap[cc->n] = (struct ctl_call_item){ call->invite_ns, o };
		ctl_heap_up(cc->heap, cc->n++);
	} else {
		json_decref(cc->heap[0].obj);
		cc->heap[0] = (struct ctl_call_item){ call->invite_ns, o };
		ctl_heap_down(cc->heap, cc->n, 0);
	}
	return 0;
}

static int ctl_call_cmp(const void *a, const void *b)
{
	const struct ctl_call_item *x = a, *y = b;

	return (x->invite_ns > y->invite_ns) - (x->invite_ns < y->invite_ns);
}

static enum pk_ctl_error cmd_calls(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct ctl_calls cc = { 0 };
	struct pk_str number = PK_STR_NULL, user, domain, callee = PK_STR_NULL;
	char aor[PK_GROUPS_USER_MAX + PK_GROUPS_DOMAIN_MAX + 2];
	uint32_t gid = UINT32_MAX;
	enum pk_ctl_error e;
	uint64_t limit;
	json_t *out;

	if ((e = pk_ctl_arg_uint(args, "limit", PK_CTL_LIST_DEFAULT, 1000000, &limit, msg, msglen)) != PK_CTL_OK)
		return e;
	cc.v = pk_groups_view(c->eng->groups);
	if (json_object_get(args, "group") != NULL) {
		if ((e = ctl_arg_group(c, args, "group", &number, msg, msglen)) != PK_CTL_OK)
			return e;
		gid = pk_groups_find_number(cc.v, number)->id;
	}
	if ((e = ctl_arg_user(c, args, false, &user, &domain, msg, msglen)) != PK_CTL_OK)
		return e;
	if (user.len > 0) {
		int len = ctl_aor(user, domain, aor, sizeof(aor));

		if (len < 0)
			return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "user too long");
		callee = pk_str_make(aor, (size_t)len);
	}
	cc.limit = (size_t)limit;
	cc.heap = calloc(cc.limit + 1, sizeof(*cc.heap));
	out = json_array();
	if (cc.heap == NULL || out == NULL) {
		free(cc.heap);
		json_decref(out);
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	}
	cc.now_ns = pk_clock_ns();
	pk_rcu_reader_online(c->eng->rcu, c->cfg.tid);
	pk_calltab_foreach(c->eng->calltab, c->cfg.tid, gid, callee, ctl_call_add, &cc);
	pk_rcu_reader_offline(c->eng->rcu, c->cfg.tid);
	qsort(cc.heap, cc.n, sizeof(*cc.heap), ctl_call_cmp);
	for (size_t i = 0; i < cc.n; i++)
		json_array_append_new(out, cc.heap[i].obj);
	free(cc.heap);
	if (cc.oom) {
		json_decref(out);
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	}
	*result = json_pack("{s:o, s:b}", "calls", out, "truncated", cc.matched > limit);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

struct ctl_regs {
	json_t *arr;
	uint64_t now_ns, limit, seen;
	bool oom;
};

static int ctl_reg_add(struct pk_str user, struct pk_str domain, const struct pk_loc_contact *ct, void *arg)
{
	struct ctl_regs *r = arg;
	char aor[PK_LOC_USER_MAX + PK_LOC_DOMAIN_MAX + 2], src[PK_ADDR_STRLEN];
	json_t *o;

	if (++r->seen > r->limit)
		return 1;
	snprintf(aor, sizeof(aor), "%.*s@%.*s", (int)user.len, user.p, (int)domain.len, domain.p);
	if (ct->src.family != 0)
		pk_addr_format(&ct->src, true, src, sizeof(src));
	o = json_pack("{s:s, s:s%, s:o, s:s?, s:s, s:b}", "aor", aor, "contact", ct->uri, (size_t)ct->uri_len,
		      "expires_in_s",
		      ct->is_static ? json_null()
				    : json_integer((json_int_t)((ct->expires - r->now_ns + CTL_NS - 1) / CTL_NS)),
		      "source", ct->src.family != 0 ? src : NULL, "transport",
		      pk_transport_name((enum pk_transport)ct->transport), "static", ct->is_static);
	if (o == NULL || json_array_append_new(r->arr, o) != 0) {
		r->oom = true;
		return 1;
	}
	return 0;
}

static enum pk_ctl_error cmd_registrations(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					   size_t msglen)
{
	struct ctl_regs r = { 0 };
	struct pk_str user = PK_STR_NULL, domain = PK_STR_NULL;
	char norm[PK_GROUPS_USER_MAX];
	enum pk_ctl_error e;
	const char *v;
	size_t n;

	if ((e = pk_ctl_arg_uint(args, "limit", PK_CTL_LIST_DEFAULT, 1000000, &r.limit, msg, msglen)) != PK_CTL_OK)
		return e;
	if ((e = pk_ctl_arg_str(args, "user", false, &v, &n, msg, msglen)) != PK_CTL_OK)
		return e;
	if (v != NULL) {
		int len;

		/* A registration's domain need not be a group domain: only its
		 * syntax is checked; no domain lists the user in every domain. */
		if (pk_groups_aor_split(pk_str_make(v, n), &user, &domain) != 0 ||
		    (len = pk_groups_user_normalize(user, norm, sizeof(norm))) < 0)
			return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "'%s' is not a user or user@domain", v);
		user = pk_str_make(norm, (size_t)len);
	}
	r.arr = json_array();
	if (r.arr == NULL)
		return PK_CTL_E_INTERNAL;
	r.now_ns = pk_clock_ns();
	pk_rcu_reader_online(c->eng->rcu, c->cfg.tid);
	pk_location_foreach(c->eng->location, user, domain, r.now_ns, ctl_reg_add, &r);
	pk_rcu_reader_offline(c->eng->rcu, c->cfg.tid);
	if (r.oom) {
		json_decref(r.arr);
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	}
	*result = json_pack("{s:o, s:b}", "registrations", r.arr, "truncated", r.seen > r.limit);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

/* How long a worker has to answer for its neighbours: a poll-mode worker
 * answers at its next burst, microseconds. */
#define CTL_NEIGHBOURS_WAIT_MS 500

/* One worker's entry for one neighbour of one port. */
struct ctl_nb {
	uint8_t port, worker;
	struct pk_net_neighbour n;
};

/* A state's rank when workers disagree: what a datagram would find. */
static int ctl_nb_rank(uint8_t state)
{
	return state == PK_NET_ARP_REACHABLE ? 3 : state == PK_NET_ARP_STALE ? 2 : 1;
}

/* By port, address, then the best first: the higher state, the younger. */
static int ctl_nb_cmp(const void *a, const void *b)
{
	const struct ctl_nb *x = a, *y = b;
	uint32_t xi = ntohl(x->n.ip), yi = ntohl(y->n.ip);

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (xi != yi)
		return xi < yi ? -1 : 1;
	if (x->n.state != y->n.state)
		return ctl_nb_rank(x->n.state) > ctl_nb_rank(y->n.state) ? -1 : 1;
	return x->n.age_ms < y->n.age_ms ? -1 : x->n.age_ms > y->n.age_ms;
}

static const char *ctl_nb_state(uint8_t state)
{
	return state == PK_NET_ARP_REACHABLE ? "reachable"
	       : state == PK_NET_ARP_STALE   ? "stale"
					     : "incomplete";
}

/* The entries rows[0 .. n) of one port and address as one: the first's
 * (the best state's youngest) address, MAC, state and age, the frames
 * waiting summed, the workers that have it. */
static json_t *ctl_nb_json(const struct ctl_nb *rows, size_t n)
{
	const uint8_t *a = (const uint8_t *)&rows[0].n.ip, *h = rows[0].n.mac.addr_bytes;
	json_t *ws = json_array();
	json_int_t queued = 0;
	char ip[16], mac[18];

	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
	uint64_t workers = 0;

	for (size_t k = 0; k < n; k++) {
		queued += rows[k].n.queued;
		workers |= UINT64_C(1) << (rows[k].worker & 63);
	}
	for (unsigned w = 0; ws != NULL && w < 64; w++)
		if (workers >> w & 1)
			json_array_append_new(ws, json_integer(w));
	return json_pack("{s:s, s:s?, s:s, s:I, s:I, s:o*}", "address", ip, "mac",
			 rows[0].n.state == PK_NET_ARP_INCOMPLETE ? NULL : mac, "state", ctl_nb_state(rows[0].n.state),
			 "age_ms", (json_int_t)rows[0].n.age_ms, "queued", queued, "workers", ws);
}

/* Each DPDK port's neighbour (ARP) cache, as every worker's queue has
 * it (each worker resolves for itself and shares what it learns), merged
 * by address: the best state (reachable, stale, incomplete) with its MAC
 * and the age of that state's youngest entry, the frames waiting summed,
 * the workers that have the entry. By address within a port; ports in the
 * order of io.dpdk.ports. Every worker is asked before any answer is
 * waited for, all within CTL_NEIGHBOURS_WAIT_MS. The socket backend has
 * none of its own (the kernel's: ip neigh). */
static enum pk_ctl_error cmd_neighbours(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					size_t msglen)
{
	const struct pk_engine *eng = c->eng;
	static struct pk_net_neighbour buf[PK_IO_DPDK_MAX_PORTS][PK_NET_ARP_ENTRIES];
	unsigned n[PK_IO_DPDK_MAX_PORTS], np, nw = 0;
	uint32_t req[PK_IO_MAX_QUEUES] = { 0 };
	uint64_t deadline;
	struct ctl_nb *rows = NULL;
	size_t nrows = 0;
	enum pk_ctl_error e;
	const char *port;
	size_t plen;
	json_t *out = NULL;
	int want = -1;

	if ((e = pk_ctl_arg_str(args, "port", false, &port, &plen, msg, msglen)) != PK_CTL_OK)
		return e;
	if (!pk_io_is_dpdk(eng->io))
		return ctl_fail(msg, msglen, PK_CTL_E_UNSUPPORTED,
				"neighbours: the socket backend has no neighbour cache of its own (the "
				"kernel's: ip neigh)");
	np = pk_io_dpdk_n_ports(eng->io);
	if (port != NULL) {
		for (want = 0; (unsigned)want < np && strcmp(pk_io_dpdk_port_name(eng->io, (unsigned)want), port) != 0;
		     want++)
			;
		if ((unsigned)want == np)
			return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "no port '%s'", port);
	}
	nw = eng->n_workers < PK_IO_MAX_QUEUES ? eng->n_workers : PK_IO_MAX_QUEUES;
	rows = malloc(sizeof(*rows) * PK_NET_ARP_ENTRIES * np * (nw ? nw : 1));
	if (rows == NULL)
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	for (unsigned i = 0; i < nw; i++)
		if (eng->workers[i] != NULL && eng->workers[i]->q != NULL)
			req[i] = pk_io_dpdk_neighbours_ask(eng->workers[i]->q);
	deadline = pk_clock_ns() + (uint64_t)CTL_NEIGHBOURS_WAIT_MS * 1000000u;
	for (unsigned i = 0; i < nw; i++) {
		int r;

		if (req[i] == 0)
			continue;
		r = pk_io_dpdk_neighbours_take(eng->workers[i]->q, req[i], deadline, buf, n);
		if (r != 0) {
			free(rows);
			return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "neighbours: worker %u did not answer (%s)",
					i, strerror(-r));
		}
		for (unsigned p = 0; p < np; p++)
			for (unsigned k = 0; k < n[p] && (want < 0 || (int)p == want); k++)
				rows[nrows++] = (struct ctl_nb){ .port = (uint8_t)p, .worker = (uint8_t)i, .n = buf[p][k] };
	}
	qsort(rows, nrows, sizeof(rows[0]), ctl_nb_cmp);
	if ((out = json_object()) == NULL)
		goto oom;
	for (unsigned p = 0; p < np; p++) {
		json_t *arr;

		if (want >= 0 && (int)p != want)
			continue;
		if ((arr = json_array()) == NULL || json_object_set_new(out, pk_io_dpdk_port_name(eng->io, p), arr) != 0)
			goto oom;
	}
	for (size_t k = 0; k < nrows;) {
		size_t end = k + 1;
		json_t *o;

		while (end < nrows && rows[end].port == rows[k].port && rows[end].n.ip == rows[k].n.ip)
			end++;
		o = ctl_nb_json(rows + k, end - k);
		if (o == NULL ||
		    json_array_append_new(json_object_get(out, pk_io_dpdk_port_name(eng->io, rows[k].port)), o) != 0)
			goto oom;
		k = end;
	}
	free(rows);
	*result = json_pack("{s:o}", "neighbours", out);
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
oom:
	free(rows);
	json_decref(out);
	return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
}

static json_t *ctl_group_json(const struct pk_groups_view *v, const struct pk_group *g)
{
	json_t *members = json_array();

	for (uint32_t i = 0; members != NULL && i < g->n_members; i++) {
		const struct pk_group_user *u = pk_groups_find_uid(v, g->members[i].id);

		if (u != NULL)
			json_array_append_new(members, json_pack("{s:o, s:o}", "user", ctl_user_aor_json(v, u),
								 "rights", pk_ctl_rights_json(g->members[i].rights)));
	}
	/* An empty name may have no storage (p NULL): json_pack refuses that. */
	return json_pack("{s:s%, s:s%, s:o}", "number", g->number.p, (size_t)g->number.len, "name",
			 g->name.len ? g->name.p : "", (size_t)g->name.len, "members", members);
}

static int ctl_group_cmp(const void *a, const void *b)
{
	const struct pk_group *x = *(const struct pk_group *const *)a, *y = *(const struct pk_group *const *)b;
	size_t n = x->number.len < y->number.len ? x->number.len : y->number.len;
	int r = memcmp(x->number.p, y->number.p, n);

	return r != 0 ? r : (x->number.len > y->number.len) - (x->number.len < y->number.len);
}

static json_t *ctl_settings_json(struct pk_ctl *c, const struct pk_groups_settings *s)
{
	json_t *domains = json_array();
	uint64_t ring_ns = 0;

	for (uint32_t i = 0; domains != NULL && i < s->n_domains; i++) {
		struct pk_str d = pk_groups_settings_domain(s, i);

		json_array_append_new(domains, json_stringn(d.p, d.len));
	}
	pk_calltab_get_timeouts(c->eng->calltab, &ring_ns, NULL);
	return json_pack("{s:o, s:s, s:s, s:I, s:I}", "domains", domains, "pickup_code", s->pickup_code,
			 "directed_prefix", s->directed_prefix, "ring_timeout", (json_int_t)s->ring_timeout,
			 "ring_timeout_live", (json_int_t)(ring_ns / CTL_NS));
}

static enum pk_ctl_error cmd_groups(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	const struct pk_groups_view *v = pk_groups_view(c->eng->groups);
	struct pk_groups_params gp;
	const struct pk_group **all;
	enum pk_ctl_error e;
	json_t *arr;
	size_t n = 0;

	arr = json_array();
	if (arr == NULL)
		return PK_CTL_E_INTERNAL;
	if (json_object_get(args, "number") != NULL) {
		struct pk_str number;
		const struct pk_group *g;

		if ((e = ctl_arg_number(c, args, "number", &number, msg, msglen)) != PK_CTL_OK) {
			json_decref(arr);
			return e;
		}
		g = pk_groups_find_number(v, number);
		if (g == NULL) {
			json_decref(arr);
			return ctl_fail(msg, msglen, PK_CTL_E_UNKNOWN_GROUP, "no group %.*s", (int)number.len,
					number.p);
		}
		json_array_append_new(arr, ctl_group_json(v, g));
	} else {
		pk_groups_params_get(c->eng->groups, &gp);
		all = calloc((size_t)gp.max_groups + 1, sizeof(*all));
		if (all == NULL) {
			json_decref(arr);
			return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
		}
		for (uint32_t gid = 0; gid < gp.max_groups; gid++) {
			const struct pk_group *g = pk_groups_find_gid(v, gid);

			if (g != NULL)
				all[n++] = g;
		}
		qsort(all, n, sizeof(*all), ctl_group_cmp);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ctl_group_json(v, all[i]));
		free(all);
	}
	*result = json_pack("{s:o, s:o}", "groups", arr, "settings", ctl_settings_json(c, pk_groups_view_settings(v)));
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

/* A group change's errno -> code and message. */
static enum pk_ctl_error ctl_change_error(int rc, struct pk_str number, char *msg, size_t msglen)
{
	switch (rc) {
	case -ENOENT:
		return ctl_fail(msg, msglen, PK_CTL_E_UNKNOWN_GROUP, "no group %.*s", (int)number.len, number.p);
	case -EEXIST:
		return ctl_fail(msg, msglen, PK_CTL_E_EXISTS, "group %.*s exists already", (int)number.len,
				number.p);
	case -ENOSPC:
		return ctl_fail(msg, msglen, PK_CTL_E_CAPACITY,
				"no free group or user id (capacity.groups / capacity.users)");
	case -EINVAL:
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "invalid value");
	case -ENOMEM:
		return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
	default:
		return ctl_fail(msg, msglen, pk_ctl_errno_code(rc), "%s", strerror(-rc));
	}
}

static enum pk_ctl_error ctl_arg_name(json_t *args, bool required, struct pk_str *name, char *msg, size_t msglen)
{
	enum pk_ctl_error e;
	const char *s;
	size_t n;

	*name = PK_STR_NULL;
	if ((e = pk_ctl_arg_str(args, "name", required, &s, &n, msg, msglen)) != PK_CTL_OK || s == NULL)
		return e;
	*name = pk_str_make(s, n);
	if (!pk_groups_name_valid(*name))
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE,
				"a group name has at most %d bytes and no control character", PK_GROUPS_NAME_MAX);
	return PK_CTL_OK;
}

static enum pk_ctl_error ctl_changed(struct pk_ctl *c, json_t **result, json_t *r)
{
	pk_ctl_groups_cache_update(c->eng);
	*result = r;
	return r != NULL ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error cmd_group_add(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_str number, name;
	enum pk_ctl_error e;
	int rc;

	if ((e = ctl_arg_number(c, args, "number", &number, msg, msglen)) != PK_CTL_OK ||
	    (e = ctl_arg_name(args, false, &name, msg, msglen)) != PK_CTL_OK)
		return e;
	rc = pk_groups_group_add(c->eng->groups, number, name, NULL, 0, NULL);
	if (rc != 0)
		return ctl_change_error(rc, number, msg, msglen);
	return ctl_changed(c, result, json_pack("{s:s%}", "number", number.p, (size_t)number.len));
}

static enum pk_ctl_error cmd_group_remove(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					  size_t msglen)
{
	struct pk_str number;
	enum pk_ctl_error e;
	int rc;

	if ((e = ctl_arg_number(c, args, "number", &number, msg, msglen)) != PK_CTL_OK)
		return e;
	rc = pk_groups_group_remove(c->eng->groups, number);
	if (rc != 0)
		return ctl_change_error(rc, number, msg, msglen);
	return ctl_changed(c, result, json_pack("{s:s%}", "number", number.p, (size_t)number.len));
}

static enum pk_ctl_error cmd_group_renumber(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					    size_t msglen)
{
	struct pk_str number, nn;
	enum pk_ctl_error e;
	int rc;

	if ((e = ctl_arg_group(c, args, "number", &number, msg, msglen)) != PK_CTL_OK ||
	    (e = ctl_arg_number(c, args, "new_number", &nn, msg, msglen)) != PK_CTL_OK)
		return e;
	rc = pk_groups_group_renumber(c->eng->groups, number, nn);
	if (rc != 0)
		return ctl_change_error(rc, rc == -EEXIST ? nn : number, msg, msglen);
	return ctl_changed(c, result, json_pack("{s:s%}", "number", nn.p, (size_t)nn.len));
}

static enum pk_ctl_error cmd_group_name(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_str number, name;
	enum pk_ctl_error e;
	int rc;

	if ((e = ctl_arg_group(c, args, "number", &number, msg, msglen)) != PK_CTL_OK ||
	    (e = ctl_arg_name(args, true, &name, msg, msglen)) != PK_CTL_OK)
		return e;
	rc = pk_groups_group_set_name(c->eng->groups, number, name);
	if (rc != 0)
		return ctl_change_error(rc, number, msg, msglen);
	return ctl_changed(c, result, json_pack("{s:s%}", "number", number.p, (size_t)number.len));
}

/* The arguments every member command has: the group (must exist) and the
 * user; *aor gets "user@domain" for the result. */
static enum pk_ctl_error ctl_member_args(struct pk_ctl *c, json_t *args, struct pk_str *number, struct pk_str *user,
					 struct pk_str *domain, json_t **aor, char *msg, size_t msglen)
{
	char buf[PK_GROUPS_USER_MAX + PK_GROUPS_DOMAIN_MAX + 2];
	enum pk_ctl_error e;

	if ((e = ctl_arg_group(c, args, "group", number, msg, msglen)) != PK_CTL_OK ||
	    (e = ctl_arg_user(c, args, true, user, domain, msg, msglen)) != PK_CTL_OK)
		return e;
	if (ctl_aor(*user, *domain, buf, sizeof(buf)) < 0)
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "user too long");
	*aor = json_string(buf);
	return *aor != NULL ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error ctl_member_error(int rc, struct pk_str number, json_t *aor, char *msg, size_t msglen)
{
	const char *u = json_string_value(aor);

	if (rc == -ENOENT)
		return ctl_fail(msg, msglen, PK_CTL_E_UNKNOWN_MEMBER, "%s is not a member of group %.*s", u,
				(int)number.len, number.p);
	if (rc == -EEXIST)
		return ctl_fail(msg, msglen, PK_CTL_E_EXISTS, "%s is a member of group %.*s already", u,
				(int)number.len, number.p);
	return ctl_change_error(rc, number, msg, msglen);
}

static enum pk_ctl_error cmd_member_add(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_str number, user, domain;
	uint32_t rights = PK_RIGHTS_ALL;
	json_t *aor = NULL, *rv = json_object_get(args, "rights");
	enum pk_ctl_error e;
	int rc;

	if ((e = ctl_member_args(c, args, &number, &user, &domain, &aor, msg, msglen)) != PK_CTL_OK ||
	    (rv != NULL && (e = pk_ctl_rights_parse(rv, &rights, msg, msglen)) != PK_CTL_OK)) {
		json_decref(aor);
		return e;
	}
	rc = pk_groups_member_add(c->eng->groups, number, user, domain, rights);
	if (rc != 0) {
		e = ctl_member_error(rc, number, aor, msg, msglen);
		json_decref(aor);
		return e;
	}
	return ctl_changed(c, result, json_pack("{s:s%, s:o}", "group", number.p, (size_t)number.len, "user", aor));
}

static enum pk_ctl_error cmd_member_remove(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					   size_t msglen)
{
	struct pk_str number, user, domain;
	enum pk_ctl_error e;
	json_t *aor = NULL;
	int rc;

	if ((e = ctl_member_args(c, args, &number, &user, &domain, &aor, msg, msglen)) != PK_CTL_OK)
		return e;
	rc = pk_groups_member_remove(c->eng->groups, number, user, domain);
	if (rc != 0) {
		e = ctl_member_error(rc, number, aor, msg, msglen);
		json_decref(aor);
		return e;
	}
	return ctl_changed(c, result, json_pack("{s:s%, s:o}", "group", number.p, (size_t)number.len, "user", aor));
}

static enum pk_ctl_error cmd_member_rights(struct pk_ctl *c, json_t *args, json_t **result, char *msg,
					   size_t msglen)
{
	struct pk_str number, user, domain;
	json_t *aor = NULL, *rv = json_object_get(args, "rights");
	enum pk_ctl_error e;
	uint32_t rights;
	int rc;

	if ((e = ctl_member_args(c, args, &number, &user, &domain, &aor, msg, msglen)) != PK_CTL_OK)
		return e;
	if (rv == NULL)
		e = ctl_fail(msg, msglen, PK_CTL_E_BAD_ARGUMENT, "missing argument 'rights'");
	else
		e = pk_ctl_rights_parse(rv, &rights, msg, msglen);
	if (e != PK_CTL_OK) {
		json_decref(aor);
		return e;
	}
	rc = pk_groups_member_set_rights(c->eng->groups, number, user, domain, rights);
	if (rc != 0) {
		e = ctl_member_error(rc, number, aor, msg, msglen);
		json_decref(aor);
		return e;
	}
	return ctl_changed(c, result,
			   json_pack("{s:s%, s:o, s:o}", "group", number.p, (size_t)number.len, "user", aor, "rights",
				     pk_ctl_rights_json(rights)));
}

int pk_ctl_reload(struct pk_ctl *c, char *msg, size_t msglen)
{
	struct pk_engine *eng = c->eng;
	struct pk_groups_conf_error gerr;
	struct pk_engine_conf_error eerr;
	struct pk_groups_conf *g;
	uint32_t ring_s;
	int rc;

	g = pk_groups_conf_load(eng->conf->groups_path, &gerr);
	if (g == NULL) {
		snprintf(msg, msglen, "%s", gerr.msg);
		return gerr.code != 0 ? gerr.code : -EINVAL;
	}
	if (pk_engine_conf_check_groups(eng->conf, g, &eerr) != 0) {
		snprintf(msg, msglen, "%s", eerr.msg);
		pk_groups_conf_free(g);
		return -EINVAL;
	}
	rc = pk_groups_replace(eng->groups, g);
	if (rc != 0) {
		snprintf(msg, msglen, "%s: %s", eng->conf->groups_path,
			 rc == -ENOSPC ? "more groups or users than capacity.groups/capacity.users" : strerror(-rc));
		pk_groups_conf_free(g);
		return rc;
	}
	/* The new ring timeout applies once the groups it belongs to are in
	 * force: after the publication. */
	ring_s = pk_engine_conf_ring_timeout(eng->conf, g);
	pk_calltab_set_timeouts(eng->calltab, (uint64_t)ring_s * CTL_NS, 0);
	pk_ctl_groups_cache_update(eng);
	snprintf(msg, msglen, "%s: %u groups, %u users, %u memberships, ring timeout %u s", eng->conf->groups_path,
		 g->n_groups, g->n_users, g->n_members, ring_s);
	pk_groups_conf_free(g);
	return 0;
}

static enum pk_ctl_error cmd_reload(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_engine *eng = c->eng;
	int rc;

	(void)args;
	rc = pk_ctl_reload(c, msg, msglen);
	if (rc != 0) {
		pk_log(PK_LOG_WARNING, "reload refused, nothing changed: %s", msg);
		return rc == -ENOSPC ? PK_CTL_E_CAPACITY : rc == -ENOMEM ? PK_CTL_E_INTERNAL : PK_CTL_E_CONFIG_ERROR;
	}
	pk_log(PK_LOG_NOTICE, "reloaded %s (control socket)", msg);
	*result = json_pack("{s:I, s:I, s:I, s:I}", "groups", (json_int_t)ctl_relaxed(&eng->groups_cache.groups),
			    "users", (json_int_t)ctl_relaxed(&eng->groups_cache.users), "memberships",
			    (json_int_t)ctl_relaxed(&eng->groups_cache.memberships), "version",
			    (json_int_t)ctl_relaxed(&eng->groups_cache.version));
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error cmd_save(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_engine *eng = c->eng;
	enum pk_ctl_error e;
	const char *path;
	size_t n;
	int rc;

	if ((e = pk_ctl_arg_str(args, "path", false, &path, &n, msg, msglen)) != PK_CTL_OK)
		return e;
	if (path == NULL)
		path = eng->conf->groups_path;
	else if (n == 0 || strlen(path) != n)
		return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE, "bad path");
	rc = pk_groups_save(eng->groups, pk_groups_view(eng->groups), path, msg, msglen);
	if (rc != 0)
		return rc == -ENOMEM ? PK_CTL_E_INTERNAL : PK_CTL_E_IO_ERROR;
	pk_log(PK_LOG_NOTICE, "saved the groups to %s (control socket)", path);
	*result = json_pack("{s:s, s:I, s:I}", "path", path, "groups",
			    (json_int_t)ctl_relaxed(&eng->groups_cache.groups), "memberships",
			    (json_int_t)ctl_relaxed(&eng->groups_cache.memberships));
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

/* ---- tunables ---- */

#define CTL_CLAIM_TIMEOUT_MAX 3600

static const char *const ctl_tunables[] = { "ring_timeout", "claim_timeout", "log_level", "trusted",
					    "rate_limit", NULL };
#define CTL_RATE_LIMIT_MAX 1000000 /* as limits.requests_per_second */

static json_t *ctl_tunable_get(struct pk_ctl *c, const char *name)
{
	uint64_t ring_ns = 0, claim_ns = 0;
	struct pk_trusted_set *t;

	pk_calltab_get_timeouts(c->eng->calltab, &ring_ns, &claim_ns);
	if (strcmp(name, "ring_timeout") == 0)
		return json_integer((json_int_t)(ring_ns / CTL_NS));
	if (strcmp(name, "claim_timeout") == 0)
		return json_integer((json_int_t)(claim_ns / CTL_NS));
	if (strcmp(name, "log_level") == 0)
		return json_string(pk_log_level_name(pk_log_get_level()));
	if (strcmp(name, "rate_limit") == 0) /* relaxed: this thread is the only writer */
		return json_integer(atomic_load_explicit(&c->eng->rate_limit, memory_order_relaxed));
	/* Relaxed: this thread is the only writer of the pointer. */
	t = atomic_load_explicit(&c->eng->trusted, memory_order_relaxed);
	return pk_ctl_trusted_json(t);
}

static enum pk_ctl_error ctl_tunable_name(json_t *args, bool required, const char **name, char *msg, size_t msglen)
{
	enum pk_ctl_error e;
	size_t n;

	if ((e = pk_ctl_arg_str(args, "name", required, name, &n, msg, msglen)) != PK_CTL_OK || *name == NULL)
		return e;
	for (unsigned i = 0; ctl_tunables[i] != NULL; i++)
		if (strcmp(*name, ctl_tunables[i]) == 0)
			return PK_CTL_OK;
	return ctl_fail(msg, msglen, PK_CTL_E_BAD_ARGUMENT,
			"unknown tunable '%s' (ring_timeout, claim_timeout, log_level, trusted, rate_limit)", *name);
}

static enum pk_ctl_error cmd_get(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	enum pk_ctl_error e;
	const char *name;

	if ((e = ctl_tunable_name(args, false, &name, msg, msglen)) != PK_CTL_OK)
		return e;
	*result = json_object();
	if (*result == NULL)
		return PK_CTL_E_INTERNAL;
	for (unsigned i = 0; ctl_tunables[i] != NULL; i++)
		if (name == NULL || strcmp(name, ctl_tunables[i]) == 0)
			json_object_set_new(*result, ctl_tunables[i], ctl_tunable_get(c, ctl_tunables[i]));
	return PK_CTL_OK;
}

static void ctl_free_trusted(void *p)
{
	free(p);
}

static enum pk_ctl_error cmd_set(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	struct pk_engine *eng = c->eng;
	json_t *v = json_object_get(args, "value");
	enum pk_ctl_error e;
	const char *name;
	uint64_t s;

	if ((e = ctl_tunable_name(args, true, &name, msg, msglen)) != PK_CTL_OK)
		return e;
	if (v == NULL)
		return ctl_fail(msg, msglen, PK_CTL_E_BAD_ARGUMENT, "missing argument 'value'");
	if (strcmp(name, "ring_timeout") == 0) {
		if ((e = pk_ctl_seconds_parse(v, 1, eng->conf->timers.ring_timeout, &s, msg, msglen)) != PK_CTL_OK)
			return e;
		pk_calltab_set_timeouts(eng->calltab, s * CTL_NS, 0);
	} else if (strcmp(name, "claim_timeout") == 0) {
		if ((e = pk_ctl_seconds_parse(v, 1, CTL_CLAIM_TIMEOUT_MAX, &s, msg, msglen)) != PK_CTL_OK)
			return e;
		pk_calltab_set_timeouts(eng->calltab, 0, s * CTL_NS);
		/* The pickup logic remembers claims as long (main.c). */
		pk_pickup_set_window(eng->pickup, s * CTL_NS);
	} else if (strcmp(name, "log_level") == 0) {
		int lv;

		if (!json_is_string(v))
			return ctl_fail(msg, msglen, PK_CTL_E_BAD_ARGUMENT, "log_level is a string");
		lv = pk_log_level_lookup(json_string_value(v), (unsigned)json_string_length(v));
		if (lv < 0)
			return ctl_fail(msg, msglen, PK_CTL_E_INVALID_VALUE,
					"unknown level '%s' (error, warning, notice, info, debug)", json_string_value(v));
		pk_log_set_level((enum pk_log_level)lv);
	} else if (strcmp(name, "rate_limit") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > CTL_RATE_LIMIT_MAX)
			return ctl_fail(msg, msglen, json_is_integer(v) ? PK_CTL_E_INVALID_VALUE : PK_CTL_E_BAD_ARGUMENT,
					"rate_limit is requests per second per source, an integer 0 .. %d (0: off)",
					CTL_RATE_LIMIT_MAX);
		/* Relaxed: a self-contained value; each worker applies it at
		 * its next burst (pk_worker_process). */
		atomic_store_explicit(&eng->rate_limit, (uint32_t)json_integer_value(v), memory_order_relaxed);
	} else {
		struct pk_trusted_set *t = malloc(sizeof(*t)), *old;

		if (t == NULL)
			return ctl_fail(msg, msglen, PK_CTL_E_INTERNAL, "out of memory");
		if ((e = pk_ctl_trusted_parse(v, t, msg, msglen)) != PK_CTL_OK) {
			free(t);
			return e;
		}
		/* Relaxed: this thread is the only writer of the pointer. */
		old = atomic_load_explicit(&eng->trusted, memory_order_relaxed);
		/* Release: pairs with the workers' acquire load (registrar):
		 * the list is complete before it can be seen. */
		atomic_store_explicit(&eng->trusted, t, memory_order_release);
		if (pk_rcu_defer(eng->rcu, ctl_free_trusted, old) != 0) {
			pk_rcu_synchronize(eng->rcu);
			free(old);
		}
	}
	pk_log(PK_LOG_NOTICE, "set %s (control socket)", name);
	*result = json_pack("{s:s, s:o}", "name", name, "value", ctl_tunable_get(c, name));
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static enum pk_ctl_error cmd_shutdown(struct pk_ctl *c, json_t *args, json_t **result, char *msg, size_t msglen)
{
	(void)args, (void)msg, (void)msglen;
	pk_log(PK_LOG_NOTICE, "shutdown requested on the control socket: stopping");
	c->stop = true;
	*result = json_object();
	return *result ? PK_CTL_OK : PK_CTL_E_INTERNAL;
}

static const struct ctl_cmd {
	const char *name;
	ctl_cmd_fn *fn;
	const char *args[5];
} ctl_cmds[] = {
	{ "status", cmd_status, { NULL } },
	{ "stats", cmd_stats, { NULL } },
	{ "metrics", cmd_metrics, { NULL } },
	{ "calls", cmd_calls, { "group", "user", "limit", NULL } },
	{ "registrations", cmd_registrations, { "user", "limit", NULL } },
	{ "neighbours", cmd_neighbours, { "port", NULL } },
	{ "groups", cmd_groups, { "number", NULL } },
	{ "group.add", cmd_group_add, { "number", "name", NULL } },
	{ "group.remove", cmd_group_remove, { "number", NULL } },
	{ "group.renumber", cmd_group_renumber, { "number", "new_number", NULL } },
	{ "group.name", cmd_group_name, { "number", "name", NULL } },
	{ "member.add", cmd_member_add, { "group", "user", "rights", NULL } },
	{ "member.remove", cmd_member_remove, { "group", "user", NULL } },
	{ "member.rights", cmd_member_rights, { "group", "user", "rights", NULL } },
	{ "reload", cmd_reload, { NULL } },
	{ "save", cmd_save, { "path", NULL } },
	{ "get", cmd_get, { "name", NULL } },
	{ "set", cmd_set, { "name", "value", NULL } },
	{ "shutdown", cmd_shutdown, { NULL } },
};

/* One request line -> one response object. */
static json_t *ctl_handle_line(struct pk_ctl *c, const char *line, size_t len)
{
	char msg[PK_CTL_MSG_MAX] = "";
	struct pk_ctl_req req;
	json_t *result = NULL, *resp;
	enum pk_ctl_error e;

	e = pk_ctl_req_parse(line, len, &req, msg, sizeof(msg));
	if (e == PK_CTL_OK) {
		const struct ctl_cmd *cmd = NULL;

		for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
			if (strcmp(req.cmd, ctl_cmds[i].name) == 0)
				cmd = &ctl_cmds[i];
		if (cmd == NULL)
			e = ctl_fail(msg, sizeof(msg), PK_CTL_E_UNKNOWN_COMMAND, "unknown command '%s'", req.cmd);
		else if ((e = pk_ctl_args_allowed(req.args, cmd->args, msg, sizeof(msg))) == PK_CTL_OK)
			e = cmd->fn(c, req.args, &result, msg, sizeof(msg));
	}
	if (e == PK_CTL_OK) {
		resp = pk_ctl_ok(result, req.id);
	} else {
		json_decref(result);
		if (msg[0] == '\0')
			snprintf(msg, sizeof(msg), "%s", e == PK_CTL_E_INTERNAL ? "out of memory" : pk_ctl_error_name(e));
		resp = pk_ctl_err(e, msg, req.id);
	}
	pk_ctl_req_free(&req);
	return resp;
}

/* ---- clients ---- */

static void ctl_client_close(struct pk_ctl *c, struct ctl_client *cl)
{
	if (cl->fd < 0)
		return;
	epoll_ctl(c->ep, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->w.kind = CTL_CLIENT;
	cl->fd = -1;
	c->n_clients--;
}

static int ctl_client_events(struct pk_ctl *c, struct ctl_client *cl, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &cl->w };

	if (events == cl->events)
		return 0;
	cl->events = events;
	return epoll_ctl(c->ep, EPOLL_CTL_MOD, cl->fd, &ev);
}

static int ctl_out_append(struct ctl_client *cl, const char *p, size_t n)
{
	if (cl->out_off > 0 && cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	if (cl->out_len + n > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *o;

		while (cap < cl->out_len + n)
			cap *= 2;
		o = realloc(cl->out, cap);
		if (o == NULL)
			return -ENOMEM;
		cl->out = o;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, p, n);
	cl->out_len += n;
	return 0;
}

static void ctl_respond(struct ctl_client *cl, json_t *resp)
{
	static const char oom[] = "{\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";
	size_t n = 0;
	char *s = resp != NULL ? pk_ctl_encode(resp, &n) : NULL;

	if (s == NULL || ctl_out_append(cl, s, n) != 0) {
		if (ctl_out_append(cl, oom, sizeof(oom) - 1) != 0)
			cl->closing = true;
	}
	free(s);
	json_decref(resp);
}

static inline bool ctl_backlogged(const struct ctl_client *cl)
{
	return cl->out_len - cl->out_off > CTL_OUT_HIGH;
}

static void ctl_client_lines(struct pk_ctl *c, struct ctl_client *cl);

/* Write what the socket takes, handling the requests held back as the
 * answers drain; close when done and closing. false: the client was
 * closed. */
static bool ctl_client_flush(struct pk_ctl *c, struct ctl_client *cl)
{
again:
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* No EPOLLIN after the end of input: it would
				 * fire for ever while the peer does not read;
				 * none while requests are held back either. */
				ctl_client_events(c, cl,
						  (cl->closing || cl->eof || cl->held ? 0 : EPOLLIN) | EPOLLOUT);
				return true;
			}
			ctl_client_close(c, cl);
			return false;
		}
		cl->out_off += (size_t)n;
		cl->last_ns = pk_clock_ns(); /* a slow reader is not idle */
	}
	cl->out_off = cl->out_len = 0;
	if (cl->held && !cl->closing && !c->stop) {
		cl->held = false;
		ctl_client_lines(c, cl);
		goto again;
	}
	if (cl->closing || cl->eof) {
		ctl_client_close(c, cl);
		return false;
	}
	ctl_client_events(c, cl, EPOLLIN);
	return true;
}

/* Handle every complete line in the input buffer. */
static void ctl_client_lines(struct pk_ctl *c, struct ctl_client *cl)
{
	size_t start = 0;

	for (;;) {
		char *nl = memchr(cl->in + cl->scanned, '\n', cl->in_len - cl->scanned);
		size_t len;

		if (nl == NULL)
			break;
		if (ctl_backlogged(cl)) { /* the rest when the answers drain */
			cl->held = true;
			break;
		}
		len = (size_t)(nl - (cl->in + start));
		if (len > PK_CTL_LINE_MAX) {
			cl->closing = true;
			break;
		}
		if (len > 0 && cl->in[start + len - 1] == '\r')
			len--;
		if (len > 0)
			ctl_respond(cl, ctl_handle_line(c, cl->in + start, len));
		start = (size_t)(nl - cl->in) + 1;
		cl->scanned = start;
		if (c->stop)
			break;
	}
	if (!cl->closing && !cl->held && cl->in_len - start > PK_CTL_LINE_MAX)
		cl->closing = true;
	if (cl->closing) {
		ctl_respond(cl, pk_ctl_err(PK_CTL_E_TOO_LARGE, "request line over 1 MiB; closing", NULL));
		cl->in_len = cl->scanned = 0;
		return;
	}
	memmove(cl->in, cl->in + start, cl->in_len - start);
	cl->in_len -= start;
	/* held: complete lines wait at the start, to be found again */
	cl->scanned = cl->held ? 0 : cl->in_len;
}

static void ctl_client_read(struct pk_ctl *c, struct ctl_client *cl)
{
	for (;;) {
		ssize_t n;

		if (cl->held) /* nothing more read while requests wait */
			break;

		if (cl->in_cap - cl->in_len < CTL_READ_CHUNK / 2) {
			size_t cap = cl->in_cap ? cl->in_cap * 2 : CTL_READ_CHUNK;
			char *p;

			if (cap > PK_CTL_LINE_MAX + 2 * CTL_READ_CHUNK)
				cap = PK_CTL_LINE_MAX + 2 * CTL_READ_CHUNK;
			if (cap <= cl->in_cap) {
				/* Full and no line in it: over the limit. */
				ctl_client_lines(c, cl);
				break;
			}
			p = realloc(cl->in, cap);
			if (p == NULL) {
				ctl_client_close(c, cl);
				return;
			}
			cl->in = p;
			cl->in_cap = cap;
		}
		n = recv(cl->fd, cl->in + cl->in_len, cl->in_cap - cl->in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ctl_client_close(c, cl);
				return;
			}
			break;
		}
		if (n == 0) {
			cl->eof = true;
			/* The client's end of input ends its last line too
			 * (`printf '{"cmd":"status"}' | nc -U -N`): answer it,
			 * then close once the answers are out. recv had room
			 * for at least a byte, so the newline fits. */
			if (cl->in_len > 0) {
				cl->in[cl->in_len++] = '\n';
				ctl_client_lines(c, cl);
			}
			break;
		}
		cl->in_len += (size_t)n;
		cl->last_ns = pk_clock_ns();
		ctl_client_lines(c, cl);
		if (cl->closing || c->stop)
			break;
	}
	ctl_client_flush(c, cl);
}

/* Refuse a connection with one error line (best effort: the socket buffer
 * of a fresh connection takes it). */
static void ctl_refuse(int fd, enum pk_ctl_error e, const char *why)
{
	json_t *r = pk_ctl_err(e, why, NULL);
	size_t n = 0;
	char *s = r != NULL ? pk_ctl_encode(r, &n) : NULL;

	if (s != NULL && send(fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		pk_log(PK_LOG_DEBUG, "control socket: refusal not sent: %s", strerror(errno));
	free(s);
	json_decref(r);
	close(fd);
}

static void ctl_accept(struct pk_ctl *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t cl_len = sizeof(cred);
		struct ctl_client *cl = NULL;
		struct epoll_event ev;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				pk_log(PK_LOG_WARNING, "control socket: accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl_len) != 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			pk_log(PK_LOG_NOTICE, "control socket: refused a client of uid %d", (int)cred.uid);
			ctl_refuse(fd, PK_CTL_E_PERMISSION_DENIED, "only pickupd's user and root may use this socket");
			continue;
		}
		for (unsigned i = 0; i < PK_CTL_MAX_CLIENTS && cl == NULL; i++)
			if (c->clients[i].fd < 0)
				cl = &c->clients[i];
		if (cl == NULL) {
			ctl_refuse(fd, PK_CTL_E_BUSY, "too many clients (32)");
			continue;
		}
		cl->w.kind = CTL_CLIENT;
		cl->fd = fd;
		cl->events = EPOLLIN;
		cl->last_ns = pk_clock_ns();
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &cl->w };
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			cl->fd = -1;
			continue;
		}
		c->n_clients++;
	}
}

static void ctl_idle_check(struct pk_ctl *c)
{
	uint64_t now = pk_clock_ns();

	for (unsigned i = 0; i < PK_CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];

		if (cl->fd >= 0 && now - cl->last_ns > (uint64_t)PK_CTL_IDLE_S * CTL_NS)
			ctl_client_close(c, cl);
	}
}

/* ---- the loop ---- */

static void ctl_signal(struct pk_ctl *c)
{
	struct signalfd_siginfo si;

	while (read(c->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			pk_log(PK_LOG_NOTICE, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			c->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			char msg[PK_CTL_MSG_MAX];

			if (pk_ctl_reload(c, msg, sizeof(msg)) == 0)
				pk_log(PK_LOG_NOTICE, "SIGHUP: reloaded %s", msg);
			else
				pk_log(PK_LOG_ERROR, "SIGHUP: reload refused, nothing changed: %s", msg);
		}
	}
}

/* The dpdk ports' links, once a second: each change logged, the first
 * state too (the backend counts a change and passes it to the workers:
 * down, they forget the port's neighbours; up, its addresses are
 * announced again). */
static void ctl_links_watch(struct pk_ctl *c)
{
	for (unsigned p = 0; p < pk_io_dpdk_n_ports(c->eng->io); p++) {
		struct pk_io_dpdk_link l;

		if (pk_io_dpdk_port_link_watch(c->eng->io, p, &l) != 1)
			continue;
		if (l.up)
			pk_log(PK_LOG_NOTICE, "port %s: link up (%u Mb/s%s%s)%s", pk_io_dpdk_port_name(c->eng->io, p),
			       (unsigned)l.speed_mbps, l.full_duplex ? ", full duplex" : ", half duplex",
			       l.autoneg ? ", autonegotiated" : "",
			       l.changes > 0 ? ": its addresses announced (gratuitous ARP)" : "");
		else
			pk_log(PK_LOG_WARNING, "port %s: link down%s", pk_io_dpdk_port_name(c->eng->io, p),
			       l.changes > 0 ? ": its neighbours forgotten" : "");
	}
}

static void ctl_timer(struct pk_ctl *c)
{
	uint64_t n;

	if (read(c->tfd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	if (c->cfg.tick != NULL)
		c->cfg.tick(c->eng, c->cfg.tid);
	if (++c->ticks % (1000 / PK_CTL_TICK_MS) == 0) {
		ctl_idle_check(c);
		ctl_links_watch(c);
		ctl_calls_cache_update(c);
		/* the extra descriptors' owners time out their own work */
		for (unsigned i = 0; i < c->n_extra; i++)
			c->extra[i].fn(c->extra[i].arg);
	}
}

int pk_ctl_run(struct pk_ctl *c)
{
	struct epoll_event evs[32];

	while (!c->stop) {
		int n = epoll_wait(c->ep, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pk_log(PK_LOG_ERROR, "control loop: epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct ctl_watch *w = evs[i].data.ptr;

			switch (w->kind) {
			case CTL_SIGNAL:
				ctl_signal(c);
				break;
			case CTL_TIMER:
				ctl_timer(c);
				break;
			case CTL_LISTEN:
				ctl_accept(c);
				break;
			case CTL_CLIENT: {
				struct ctl_client *cl = (struct ctl_client *)w;

				/* closed earlier in this batch (idle check) */
				if (cl->fd < 0)
					break;
				if (evs[i].events & EPOLLOUT) {
					if (!ctl_client_flush(c, cl))
						break;
				}
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					ctl_client_read(c, cl);
				break;
			}
			case CTL_EXTRA: {
				struct ctl_extra *x = (struct ctl_extra *)w;

				x->fn(x->arg);
				break;
			}
			}
		}
	}
	/* The answer to `shutdown` (and any other pending output) goes out
	 * before the clients are closed, as far as the sockets take it. */
	for (unsigned i = 0; i < PK_CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].out_len > c->clients[i].out_off)
			ctl_client_flush(c, &c->clients[i]);
	return 0;
}

int pk_ctl_watch_fd(struct pk_ctl *c, int fd, void (*fn)(void *arg), void *arg)
{
	struct ctl_extra *x;
	struct epoll_event ev;

	if (c->n_extra == CTL_MAX_EXTRA)
		return -ENOSPC;
	x = &c->extra[c->n_extra];
	*x = (struct ctl_extra){ .w.kind = CTL_EXTRA, .fd = fd, .fn = fn, .arg = arg };
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &x->w };
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -errno;
	c->n_extra++;
	return 0;
}

/* Bind the listener: a stale socket file is replaced, anything else at
 * the path is refused; mode 0600 through the umask. */
static int ctl_listen(struct pk_ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int rc;

	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long", c->path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if (lstat(c->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control socket %s: exists and is not a socket", c->path);
			return -EEXIST;
		}
		/* A socket nobody accepts on is stale (a crashed pickupd); one
		 * that answers belongs to a running pickupd. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "control socket %s: in use by another process", c->path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(c->path);
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -errno;
	}
	old = umask(0177); /* sockets are created 0777 & ~umask: 0600 */
	rc = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(c->lfd, 64) != 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(-rc));
		close(c->lfd);
		c->lfd = -1;
		return rc;
	}
	return 0;
}

struct pk_ctl *pk_ctl_create(struct pk_engine *eng, const struct pk_ctl_config *cfg, char *err, size_t errlen)
{
	struct itimerspec its = { .it_interval = { 0, PK_CTL_TICK_MS * 1000000L },
				  .it_value = { 0, PK_CTL_TICK_MS * 1000000L } };
	struct pk_ctl *c = calloc(1, sizeof(*c));
	struct epoll_event ev;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->eng = eng;
	c->cfg = *cfg;
	c->ep = c->sfd = c->tfd = c->lfd = -1;
	for (unsigned i = 0; i < PK_CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->w_signal.kind = CTL_SIGNAL;
	c->w_timer.kind = CTL_TIMER;
	c->w_listen.kind = CTL_LISTEN;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->sfd = signalfd(-1, cfg->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->ep < 0 || c->sfd < 0 || c->tfd < 0 || timerfd_settime(c->tfd, 0, &its, NULL) != 0) {
		snprintf(err, errlen, "control loop: %s", strerror(errno));
		goto fail;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &c->w_signal };
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->sfd, &ev) != 0)
		goto fail_errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &c->w_timer };
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->tfd, &ev) != 0)
		goto fail_errno;
	if (cfg->socket_path != NULL && cfg->socket_path[0] != '\0') {
		c->path = strdup(cfg->socket_path);
		if (c->path == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (ctl_listen(c, err, errlen) != 0) {
			free(c->path);
			c->path = NULL; /* not ours to unlink */
			goto fail;
		}
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &c->w_listen };
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->lfd, &ev) != 0)
			goto fail_errno;
	}
	return c;
fail_errno:
	snprintf(err, errlen, "control loop: %s", strerror(errno));
fail:
	pk_ctl_destroy(c);
	return NULL;
}

void pk_ctl_destroy(struct pk_ctl *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < PK_CTL_MAX_CLIENTS; i++)
		ctl_client_close(c, &c->clients[i]);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->path != NULL) {
		unlink(c->path);
		free(c->path);
	}
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->ep >= 0)
		close(c->ep);
	free(c);
}

const char *pk_ctl_socket_path(const struct pk_ctl *c)
{
	return c != NULL ? c->path : NULL;
}
