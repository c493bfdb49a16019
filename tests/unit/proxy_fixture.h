/* SPDX-License-Identifier: MIT */
/*
 * Test fixture shared by test_proxy.c and test_pickup.c: a real engine
 * (configuration from YAML text, group index, ringing-call table, location
 * table, proxy state, the handler table pickupd installs) and one real
 * worker, whose I/O queue is a fake that records every message the worker
 * commits for sending. A test feeds messages in with fx_rx (as if they had
 * been received on a listener from an address) and looks at what went out,
 * byte for byte and with its destination: exactly what a peer would see.
 *
 * Messages are written with "\n" line ends; fx_rx turns them into CRLF and
 * appends Content-Length and the body.
 */
#ifndef PK_TEST_PROXY_FIXTURE_H
#define PK_TEST_PROXY_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pickup/calltab.h"
#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/sip_slow.h"
#include "pickup/location.h"
#include "pickup/rcu.h"
#include "proxy/registrar.h"
#include "worker.h"

#define FX_TID_WORKER 0
#define FX_TID_CTL 1
#define FX_MAX_SENT 64
#define FX_SEC 1000000000ull

struct fx_sent {
	char data[8192];
	uint32_t len;
	uint8_t transport, listener;
	uint64_t conn;
	struct pk_addr src, dst; /* src family 0: the listener's own address */
};

struct fx_queue {
	struct pk_io_queue pub;
	struct pk_io_msg cur;
	char buf[PK_IO_MSG_MAX];
	unsigned nsent;
	struct fx_sent sent[FX_MAX_SENT];
};

struct fx_io {
	struct pk_io pub;
	struct fx_queue q;
	struct pk_io_listener l[PK_IO_MAX_LISTENERS];
	struct pk_io_ops ops; /* fx_io_ops with a route op (fx_set_links) */
};

struct fx {
	struct pk_engine_conf *conf;
	struct pk_groups_conf *groups;
	struct pk_engine eng;
	struct fx_io io;
	struct pk_worker *w;
	uint64_t now;
	/* The address the messages fx_rx* deliver came to (what a socket
	 * bound to 0.0.0.0 learns from IP_PKTINFO); family 0: the
	 * listener's own address. */
	struct pk_addr rx_dst;
	char rxbuf[16384];
	struct pk_sip_msg out; /* fx_scan's result */
};

/* ---- the fake I/O backend: records committed messages ---- */

static inline struct pk_io_queue *fx_io_queue(struct pk_io *io, unsigned qid)
{
	(void)qid;
	return &((struct fx_io *)io)->q.pub;
}

static inline const struct pk_io_listener *fx_io_listener(const struct pk_io *io, unsigned i)
{
	return &((const struct fx_io *)io)->l[i];
}

static inline void fx_io_destroy(struct pk_io *io)
{
	(void)io;
}

static inline unsigned fx_io_rx_burst(struct pk_io_queue *q, struct pk_io_msg **msgs, unsigned n, uint64_t now)
{
	(void)q, (void)msgs, (void)n, (void)now;
	return 0;
}

static inline struct pk_io_msg *fx_io_tx_alloc(struct pk_io_queue *pq)
{
	struct fx_queue *q = (struct fx_queue *)pq;

	memset(&q->cur, 0, sizeof(q->cur));
	q->cur.data = q->buf;
	q->cur.cap = sizeof(q->buf);
	return &q->cur;
}

static inline void fx_io_tx_commit(struct pk_io_queue *pq)
{
	struct fx_queue *q = (struct fx_queue *)pq;
	struct fx_sent *s;

	assert_true(q->nsent < FX_MAX_SENT);
	s = &q->sent[q->nsent++];
	assert_true(q->cur.len < sizeof(s->data));
	memcpy(s->data, q->cur.data, q->cur.len);
	s->data[q->cur.len] = '\0';
	s->len = q->cur.len;
	s->transport = q->cur.transport;
	s->listener = q->cur.listener;
	s->conn = q->cur.conn;
	s->src = q->cur.src;
	s->dst = q->cur.dst;
}

static inline unsigned fx_io_tx_flush(struct pk_io_queue *q)
{
	(void)q;
	return 0;
}

static inline void fx_io_wait(struct pk_io_queue *q, unsigned ms)
{
	(void)q, (void)ms;
}

static inline void fx_io_wake(struct pk_io_queue *q)
{
	(void)q;
}

static inline void fx_io_stats(const struct pk_io_queue *q, uint64_t out[PK_IO_CTR_COUNT])
{
	(void)q;
	memset(out, 0, sizeof(uint64_t) * PK_IO_CTR_COUNT);
}

static const struct pk_io_ops fx_io_ops = {
	.name = "fake",
	.queue = fx_io_queue,
	.listener = fx_io_listener,
	.destroy = fx_io_destroy,
	.rx_burst = fx_io_rx_burst,
	.tx_alloc = fx_io_tx_alloc,
	.tx_commit = fx_io_tx_commit,
	.tx_flush = fx_io_tx_flush,
	.wait = fx_io_wait,
	.wake = fx_io_wake,
	.stats = fx_io_stats,
};

/* ---- set-up ---- */

static const char fx_default_groups[] = "settings:\n"
					"  domains: [example.test]\n"
					"groups:\n"
					"  - number: \"*801\"\n"
					"    members: [\"2001\", \"2002\", \"2003\"]\n"
					"  - number: \"7002\"\n"
					"    members:\n"
					"      - \"3001\"\n"
					"      - user: \"3002\"\n"
					"        rights: [pickup]\n"
					"      - user: \"2004\"\n"
					"        rights: [ring]\n";

static inline struct fx *fx_new_with(const char *engine_yaml, const char *groups_yaml)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pk_engine_conf_error err;
	struct pk_groups_conf_error gerr;
	struct pk_engine *eng;
	struct pk_groups_params gp = { 1024, 1024 };
	struct pk_calltab_config ct;
	char msg[256];

	assert_non_null(f);
	eng = &f->eng;
	f->conf = pk_engine_conf_parse(engine_yaml, strlen(engine_yaml), "test.yaml", ".", &err);
	if (f->conf == NULL)
		fail_msg("%s", err.msg);
	f->groups = pk_groups_conf_parse(groups_yaml, strlen(groups_yaml), "groups.yaml", &gerr);
	if (f->groups == NULL)
		fail_msg("%s", gerr.msg);
	if (pk_engine_conf_resolve(f->conf, f->groups, &err) != 0)
		fail_msg("%s", err.msg);

	eng->conf = f->conf;
	eng->n_workers = 1;
	eng->tag_secret = 0x1234567890abcdefull;
	atomic_init(&eng->stop, false);
	/* as main.c: the slow path (libosip2) ready before any message */
	assert_int_equal(pk_sip_slow_init(), 0);
	eng->rcu = pk_rcu_create(2);
	assert_non_null(eng->rcu);
	assert_int_equal(pk_rcu_reader_register(eng->rcu, FX_TID_WORKER), 0);
	assert_int_equal(pk_rcu_reader_register(eng->rcu, FX_TID_CTL), 0);
	eng->groups = pk_groups_create(eng->rcu, &gp);
	assert_non_null(eng->groups);
	assert_int_equal(pk_groups_replace(eng->groups, f->groups), 0);
	ct = (struct pk_calltab_config){
		.capacity = 256,
		.max_groups = 1024,
		.max_threads = 2,
		.ring_timeout_ns = (uint64_t)f->conf->timers.ring_timeout * FX_SEC,
		.claim_timeout_ns = (uint64_t)f->conf->timers.claim_timeout * FX_SEC,
		.rcu = eng->rcu,
	};
	eng->calltab = pk_calltab_create(&ct);
	assert_non_null(eng->calltab);
	eng->location = pk_location_create(256, 2, eng->rcu);
	assert_non_null(eng->location);
	eng->pickup = pk_pickup_create(64, (uint64_t)f->conf->timers.claim_timeout * FX_SEC);
	assert_non_null(eng->pickup);

	f->io.pub.ops = &fx_io_ops;
	f->io.pub.n_queues = 1;
	f->io.q.pub.ops = &fx_io_ops;
	f->io.q.pub.qid = 0;
	eng->io = &f->io.pub;
	eng->n_listeners = f->conf->n_listeners;
	for (unsigned i = 0; i < f->conf->n_listeners; i++) {
		eng->listeners[i] = (struct pk_io_listener){
			.role = f->conf->listeners[i].role,
			.transport = f->conf->listeners[i].transport,
			.addr = f->conf->listeners[i].addr,
		};
		f->io.l[i] = eng->listeners[i];
	}
	f->io.pub.n_listeners = eng->n_listeners;
	if (pk_proxy_create(eng, msg, sizeof(msg)) != 0)
		fail_msg("%s", msg);
	pk_worker_handlers_init(&eng->handlers);
	pk_proxy_handlers_install(&eng->handlers);
	pk_engine_prepare(eng);
	f->w = pk_worker_create(eng, FX_TID_WORKER);
	assert_non_null(f->w);
	assert_null(f->w->mem_io); /* a backend without local_alloc: the process allocator's */
	f->now = 1000 * FX_SEC;
	return f;
}

static const char fx_default_engine[] = "listen:\n"
					"  proxy: \"127.0.0.1:5060\"\n"
					"  app: \"127.0.0.1:5075\"\n"
					"groups: groups.yaml\n"
					"trusted: [127.0.0.0/8, 192.0.2.0/24]\n"
					"timers:\n"
					"  claim_timeout: 8\n";

static inline struct fx *fx_new(void)
{
	return fx_new_with(fx_default_engine, fx_default_groups);
}

static inline void fx_free(struct fx *f)
{
	struct pk_engine *eng = &f->eng;

	pk_worker_destroy(f->w);
	pk_rcu_reader_unregister(eng->rcu, FX_TID_WORKER);
	pk_rcu_reader_unregister(eng->rcu, FX_TID_CTL);
	pk_rcu_synchronize(eng->rcu);
	pk_rcu_reclaim(eng->rcu);
	pk_calltab_destroy(eng->calltab);
	pk_location_destroy(eng->location);
	pk_groups_destroy(eng->groups);
	pk_rcu_destroy(eng->rcu);
	pk_pickup_destroy(eng->pickup);
	pk_proxy_destroy(eng);
	pk_groups_conf_free(f->groups);
	pk_engine_conf_free(f->conf);
	free(f);
}

/* Let the worker pass a quiescent state (views it held are dropped). */
static inline void fx_quiesce(struct fx *f)
{
	pk_rcu_quiescent(f->eng.rcu, FX_TID_WORKER);
}

/* The control thread's housekeeping at time now (ring/claim timeouts). */
static inline unsigned fx_sweep(struct fx *f, uint64_t now)
{
	unsigned n = pk_calltab_sweep(f->eng.calltab, FX_TID_CTL, now, 0);

	pk_rcu_quiescent(f->eng.rcu, FX_TID_CTL);
	return n;
}

/* ---- registrations ---- */

/* user@example.test registered with uri, the REGISTER having come from src
 * ("ip:port") over transport (conn for TCP) on listener li. */
static inline void fx_register_on(struct fx *f, const char *user, const char *uri, const char *src,
				  uint8_t transport, unsigned li, uint64_t conn)
{
	struct pk_loc_change ch = { pk_str_make(uri, strlen(uri)), 3600, -1, false };
	struct pk_loc_register r;
	struct pk_loc_contact out[4];
	unsigned n = 0;

	memset(&r, 0, sizeof(r));
	r.user = pk_str_make(user, strlen(user));
	r.domain = PK_STR_LIT("example.test");
	r.call_id_hash = pk_location_call_id_hash(r.user);
	r.cseq = 1;
	r.n = 1;
	r.changes = &ch;
	r.transport = transport;
	r.listener = (uint8_t)li;
	r.conn = conn;
	assert_int_equal(pk_addr_parse(pk_str_make(src, strlen(src)), false, &r.src), 0);
	assert_int_equal(pk_location_register(f->eng.location, FX_TID_WORKER, &r, f->now, out, 4, &n), 0);
}

/* The same on listener 0 (UDP) or 1 (TCP): the default configuration's
 * proxy listeners. */
static inline void fx_register(struct fx *f, const char *user, const char *uri, const char *src, uint8_t transport,
			uint64_t conn)
{
	fx_register_on(f, user, uri, src, transport, transport == PK_TRANSPORT_TCP ? 1 : 0, conn);
}

/* The configuration's static bindings (`bindings:`) into the location
 * table, as pickupd does at start-up (listener PK_LOC_LISTENER_ANY). */
static inline void fx_load_static(struct fx *f)
{
	char err[256];

	if (pk_registrar_load_static(f->eng.location, FX_TID_CTL, f->conf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

/* ---- several links (io.h: n_links, pk_io_route) ---- */

/* The fake backend on n_links links, answering pk_io_route with route
 * (unused, and may be NULL, when n_links <= 1), listener i on links[i]:
 * in the engine's listeners (what the proxy reads) and the backend's. */
static inline void fx_set_links(struct fx *f, unsigned n_links,
				int (*route)(const struct pk_io *io, const struct pk_addr *dst),
				const uint8_t *links)
{
	f->io.ops = fx_io_ops;
	f->io.ops.route = route;
	f->io.pub.ops = &f->io.ops;
	f->io.pub.n_links = n_links;
	for (unsigned i = 0; i < f->eng.n_listeners; i++)
		f->eng.listeners[i].link = f->io.l[i].link = links[i];
}

/* The index of the listener of this transport at "ip:port" (fails the
 * test when there is none). */
static inline unsigned fx_listener_index(const struct fx *f, uint8_t transport, const char *addr)
{
	struct pk_addr a;

	assert_int_equal(pk_addr_parse(pk_str_make(addr, strlen(addr)), false, &a), 0);
	for (unsigned i = 0; i < f->eng.n_listeners; i++)
		if (f->eng.listeners[i].transport == transport && pk_addr_eq(&f->eng.listeners[i].addr, &a))
			return i;
	fail_msg("no %s listener at %s", pk_transport_name((enum pk_transport)transport), addr);
	return 0;
}

/* ---- messages in ---- */

/* Receive n whole datagrams or TCP messages (msgs[i], lens[i] bytes, as
 * they are: line ends and Content-Length included) from srcs[i] on
 * listener li (connection conn) in ONE call of pk_worker_process: the
 * worker scans them all before it handles the first (worker.c). Returns
 * how many messages it sent. */
static inline unsigned fx_rx_burst_on(struct fx *f, unsigned n, char *const *msgs, const size_t *lens,
				      const char *const *srcs, unsigned li, uint64_t conn)
{
	struct pk_io_msg *m = calloc(n, sizeof(*m)), **pm = calloc(n, sizeof(*pm));
	unsigned before = f->io.q.nsent;

	assert_non_null(m);
	assert_non_null(pm);
	for (unsigned i = 0; i < n; i++) {
		m[i].data = msgs[i];
		m[i].len = m[i].cap = (uint32_t)lens[i];
		m[i].transport = f->eng.listeners[li].transport;
		m[i].listener = (uint8_t)li;
		m[i].conn = conn;
		m[i].dst = f->eng.listeners[li].addr;
		if (f->rx_dst.family != 0) { /* the listener's port */
			m[i].dst.family = f->rx_dst.family;
			memcpy(m[i].dst.ip, f->rx_dst.ip, sizeof(m[i].dst.ip));
		}
		assert_int_equal(pk_addr_parse(pk_str_make(srcs[i], strlen(srcs[i])), false, &m[i].src), 0);
		pm[i] = &m[i];
	}
	f->w->now_ns = f->now;
	pk_worker_process(f->w, pm, n);
	free(pm);
	free(m);
	return f->io.q.nsent - before;
}

/* The same over UDP on the proxy listener (index 0). */
static inline unsigned fx_rx_burst(struct fx *f, unsigned n, char *const *msgs, const size_t *lens,
				   const char *const *srcs)
{
	return fx_rx_burst_on(f, n, msgs, lens, srcs, 0, PK_IO_CONN_NONE);
}

/* Receive a message (hdrs: start line and headers, "\n" line ends, no
 * Content-Length; body may be NULL) from src on listener li. Returns how
 * many messages the worker sent in reply. */
static inline unsigned fx_rx_on(struct fx *f, const char *hdrs, const char *body, const char *src, unsigned li,
			 uint64_t conn)
{
	size_t n = 0, bl = body ? strlen(body) : 0;
	char *buf = f->rxbuf;

	for (const char *p = hdrs; *p != '\0'; p++) {
		if (*p == '\n')
			f->rxbuf[n++] = '\r';
		f->rxbuf[n++] = *p;
	}
	n += (size_t)snprintf(f->rxbuf + n, sizeof(f->rxbuf) - n, "Content-Length: %zu\r\n\r\n", bl);
	memcpy(f->rxbuf + n, body ? body : "", bl);
	n += bl;
	return fx_rx_burst_on(f, 1, &buf, &n, &src, li, conn);
}

/* Over UDP on the proxy listener (index 0). */
static inline unsigned fx_rx(struct fx *f, const char *hdrs, const char *src)
{
	return fx_rx_on(f, hdrs, NULL, src, 0, PK_IO_CONN_NONE);
}

/* ---- messages out ---- */

static inline const struct fx_sent *fx_last(struct fx *f)
{
	assert_true(f->io.q.nsent > 0);
	return &f->io.q.sent[f->io.q.nsent - 1];
}

static inline unsigned fx_nsent(struct fx *f)
{
	return f->io.q.nsent;
}

/* Does the message hold this exact line (without CRLF)? */
static inline bool fx_has_line(const struct fx_sent *s, const char *line)
{
	size_t ll = strlen(line);
	const char *p = s->data, *end = s->data + s->len;

	while (p < end) {
		const char *e = strstr(p, "\r\n");

		if (e == NULL)
			e = end;
		if ((size_t)(e - p) == ll && memcmp(p, line, ll) == 0)
			return true;
		if (e == p) /* end of the headers */
			return false;
		p = e + 2;
	}
	return false;
}

/* Header line k (from 0) of those starting with prefix (case-sensitive),
 * copied into a static buffer ("" if none). */
static inline const char *fx_line_n(const struct fx_sent *s, const char *prefix, unsigned k)
{
	static char line[1024];
	size_t pl = strlen(prefix);
	const char *p = s->data, *end = s->data + s->len;

	line[0] = '\0';
	while (p < end) {
		const char *e = strstr(p, "\r\n");

		if (e == NULL || e == p)
			break;
		if ((size_t)(e - p) >= pl && memcmp(p, prefix, pl) == 0 && k-- == 0) {
			if ((size_t)(e - p) < sizeof(line)) {
				memcpy(line, p, (size_t)(e - p));
				line[e - p] = '\0';
			}
			return line;
		}
		p = e + 2;
	}
	return line;
}

/* The first line starting with prefix ("" if none). */
static inline const char *fx_line(const struct fx_sent *s, const char *prefix)
{
	return fx_line_n(s, prefix, 0);
}

/* How many header lines start with prefix. */
static inline unsigned fx_count_lines(const struct fx_sent *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *p = s->data, *end = s->data + s->len;
	unsigned n = 0;

	while (p < end) {
		const char *e = strstr(p, "\r\n");

		if (e == NULL || e == p)
			break;
		if ((size_t)(e - p) >= pl && memcmp(p, prefix, pl) == 0)
			n++;
		p = e + 2;
	}
	return n;
}

/* Scan a sent message (asserting that it parses) into f->out. */
static inline const struct pk_sip_msg *fx_scan(struct fx *f, const struct fx_sent *s)
{
	assert_int_equal(pk_sip_scan(s->data, s->len, &f->out), PK_SIP_OK);
	return &f->out;
}

static inline void fx_assert_dst(const struct fx_sent *s, const char *addr, uint8_t transport)
{
	char got[PK_ADDR_STRLEN];

	pk_addr_format(&s->dst, true, got, sizeof(got));
	assert_string_equal(got, addr);
	assert_int_equal(s->transport, transport);
}

/* The address a message leaves from, without the port ("" when the
 * backend chooses: the listener's own address). */
static inline void fx_assert_src(const struct fx_sent *s, const char *ip)
{
	char got[PK_ADDR_STRLEN] = "";

	if (s->src.family != 0)
		pk_addr_format(&s->src, false, got, sizeof(got));
	assert_string_equal(got, ip);
}

/* The value of the first line of header `name:` (full name). */
static inline const char *fx_hdr(const struct fx_sent *s, const char *name)
{
	static char v[1024];
	char prefix[64];
	const char *l;

	snprintf(prefix, sizeof(prefix), "%s: ", name);
	l = fx_line(s, prefix);
	if (l[0] == '\0')
		return NULL;
	snprintf(v, sizeof(v), "%s", l + strlen(prefix));
	return v;
}

/*
 * The response a UAS would send to request s (as pickupd sent it): status
 * line, all its Via lines, From, To (with ;tag=totag when not empty and the
 * To had none), Call-ID, CSeq, then extra lines ("\n" ends). Written into
 * buf with "\n" line ends, for fx_rx.
 */
static inline const char *fx_response(const struct fx_sent *s, unsigned code, const char *reason, const char *totag,
			       const char *extra, char *buf, size_t cap)
{
	const char *p = s->data, *end = s->data + s->len;
	size_t n = (size_t)snprintf(buf, cap, "SIP/2.0 %u %s\n", code, reason);

	p = strstr(p, "\r\n") + 2; /* past the request line */
	while (p < end) {
		const char *e = strstr(p, "\r\n");
		size_t ll;

		if (e == NULL || e == p)
			break;
		ll = (size_t)(e - p);
		if ((ll > 4 && memcmp(p, "Via:", 4) == 0) || (ll > 5 && memcmp(p, "From:", 5) == 0) ||
		    (ll > 8 && memcmp(p, "Call-ID:", 8) == 0) || (ll > 5 && memcmp(p, "CSeq:", 5) == 0) ||
		    (ll > 13 && memcmp(p, "Record-Route:", 13) == 0)) {
			n += (size_t)snprintf(buf + n, cap - n, "%.*s\n", (int)ll, p);
		} else if (ll > 3 && memcmp(p, "To:", 3) == 0) {
			bool tagged = memmem(p, ll, ";tag=", 5) != NULL;

			n += (size_t)snprintf(buf + n, cap - n, "%.*s%s%s\n", (int)ll, p,
					      (!tagged && totag && *totag) ? ";tag=" : "",
					      (!tagged && totag && *totag) ? totag : "");
		}
		p = e + 2;
	}
	if (extra)
		n += (size_t)snprintf(buf + n, cap - n, "%s", extra);
	assert_true(n < cap);
	return buf;
}

#endif /* PK_TEST_PROXY_FIXTURE_H */
