/* SPDX-License-Identifier: MIT */
/*
 * The stateless proxy (RFC 3261 §16.11): request routing, Via handling,
 * response forwarding. docs/sip-behaviour.md describes the behaviour this
 * file implements, step by step; dataplane/proxy/proxy.h the interface.
 *
 * A request goes through: the proxy checks (416/483/420), loop detection
 * (482), Route handling (loose routing, the strict-router swap; a sips:
 * next hop refused: 480, pickupd has no TLS, px_refuse_sips), the pickup
 * logic (dataplane/pickup/pickup.c) for pickup numbers, then the target: the
 * remaining Route set, the location service for our own users (404 when
 * unregistered), the next hop, or the Request-URI's address. The rewrite is
 * planned on the worker's struct pk_rw (received/rport on the top Via,
 * Max-Forwards, Request-URI, Route, Record-Route, our Via) and emitted
 * straight into a transmit buffer. A response is forwarded by its second
 * Via once the top one is found to be ours and removed.
 *
 * The Via branch is deterministic (§16.11): a keyed hash of what an INVITE,
 * its CANCEL and the ACK of a non-2xx answer have in common, so that all
 * three take the same branch, and retransmissions too. A second part, the
 * loop hash, leaves out the top Via (which changes on every hop) so that a
 * request that comes back unchanged is recognised (§16.3 item 4).
 *
 * Everything on the worker side is allocation-free, lock-free and makes no
 * syscall: per-message state lives in the worker (its struct pk_sip_msg and
 * struct pk_rw), shared state is read-only (struct pk_proxy) or lock-free
 * (location service, group index, ringing-call table). Only
 * pk_proxy_create (start-up) resolves a host name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>

#include "../sip/copy.h"
#include "../worker.h"
#include "pickup/groups.h"
#include "pickup/location.h"
#include "pickup/log.h"
#include "pickup/sip_rewrite.h"

static const char *const pk_proxy_ctr_names[] = {
#define PK_PROXY_CTR_NAME(id, name) name,
	PK_PROXY_FOREACH_COUNTER(PK_PROXY_CTR_NAME)
#undef PK_PROXY_CTR_NAME
};

const char *pk_proxy_counter_name(enum pk_proxy_counter c)
{
	return (unsigned)c < PK_PROXY_CTR_COUNT ? pk_proxy_ctr_names[c] : "?";
}

static inline void px_count(struct pk_worker *w, enum pk_proxy_counter c)
{
	pk_ctr_inc(&w->proxy_ctr[c]);
}

void pk_proxy_drop(struct pk_worker *w, enum pk_proxy_counter c)
{
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_DROP_PROXY]);
	px_count(w, c);
}

/* ---- small text helpers ---- */

static char *px_put(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

/* Hex digits to a number; false on any other character or over 16. */
static bool px_unhex(struct pk_str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 16)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (unsigned)((c | 0x20) - 'a' + 10);
		else
			return false;
		v = (v << 4) | d;
	}
	*out = v;
	return true;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Each octet value's text and a dot, as the little-endian word a 4-byte
 * store writes, and above it the length of that text with its dot (the
 * table is 2 KiB, computed by the compiler): one load gives both. */
#define PX_OCT(v)                                                                                   \
	((v) >= 100 ? (0x30u + (v) / 100) | (0x30u + (v) / 10 % 10) << 8 | (0x30u + (v) % 10) << 16 | \
			      0x2eu << 24                                                         \
	 : (v) >= 10 ? (0x30u + (v) / 10) | (0x30u + (v) % 10) << 8 | 0x2eu << 16                   \
		     : (0x30u + (v)) | 0x2eu << 8)
#define PX_OCTL(v) ((uint64_t)PX_OCT(v) | (uint64_t)(2 + ((v) >= 10) + ((v) >= 100)) << 32)
#define PX_OCT4(v) PX_OCTL(v), PX_OCTL((v) + 1), PX_OCTL((v) + 2), PX_OCTL((v) + 3)
#define PX_OCT16(v) PX_OCT4(v), PX_OCT4((v) + 4), PX_OCT4((v) + 8), PX_OCT4((v) + 12)
#define PX_OCT64(v) PX_OCT16(v), PX_OCT16((v) + 16), PX_OCT16((v) + 32), PX_OCT16((v) + 48)
static const uint64_t px_oct[256] = { PX_OCT64(0), PX_OCT64(64), PX_OCT64(128), PX_OCT64(192) };

/* One octet and a dot, one 4-byte store (bytes past the dot are written
 * too: the next octet overwrites them); returns o past the dot. */
static inline char *px_put_octet(char *o, unsigned v)
{
	uint64_t t = px_oct[v];
	uint32_t text = (uint32_t)t;

	memcpy(o, &text, 4);
	return o + (t >> 32);
}
#endif

/* An address as a received= value or a URI host (IPv6 in brackets when
 * bracket). Returns the length (out holds at least 48 bytes; an IPv4
 * address writes up to 16, one past its text). */
static size_t px_ip_text(const struct pk_addr *a, bool bracket, char *out)
{
	char *o = out;

	if (a->family == AF_INET) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* every forwarded request writes the client's address */
		o = px_put_octet(o, a->ip[0]);
		o = px_put_octet(o, a->ip[1]);
		o = px_put_octet(o, a->ip[2]);
		o = px_put_octet(o, a->ip[3]) - 1;
#else
		for (int i = 0; i < 4; i++) {
			unsigned v = a->ip[i];

			if (i)
				*o++ = '.';
			if (v >= 100) {
				*o++ = (char)('0' + v / 100);
				v %= 100;
				*o++ = (char)('0' + v / 10);
			} else if (v >= 10) {
				*o++ = (char)('0' + v / 10);
			}
			*o++ = (char)('0' + v % 10);
		}
#endif
		return (size_t)(o - out);
	}
	if (a->family != AF_INET6)
		return 0;
	if (bracket)
		*o++ = '[';
	/* inet_ntop is pure libc formatting, no syscall */
	if (inet_ntop(AF_INET6, a->ip, o, 46) == NULL)
		return 0;
	o += strlen(o);
	if (bracket)
		*o++ = ']';
	return (size_t)(o - out);
}

/* ---- branch hashes ---- */

/* One field into the hash (pk_hash_keyed, common.h): a branch is only
 * ever compared with branches this process computed (retransmissions,
 * CANCEL, loops). */
static inline uint64_t px_field(uint64_t k, uint64_t h, struct pk_str s)
{
	return pk_hash_keyed(k, h, s.p, s.len);
}

static uint64_t px_lines(uint64_t k, uint64_t h, const struct pk_sip_msg *m, enum pk_sip_hdr_id id)
{
	if (m->first[id] == 0xff)
		return pk_mix64(h ^ id);
	for (int i = m->first[id]; i >= 0; i = pk_sip_hdr_next(m, i))
		h = px_field(k, h, pk_sip_hdr_value(m, (unsigned)i));
	return h;
}

/*
 * The two parts of our branch for request m (RFC 3261 §16.11, §16.6 item
 * 8). txn: the received top Via's branch when it has the RFC 3261 cookie
 * (else the whole top Via and the To-tag), the From-tag, Call-ID, CSeq
 * number and the received Request-URI: equal for an INVITE, its CANCEL,
 * the ACK of a non-2xx answer (whose To-tag the INVITE did not have) and
 * their retransmissions. loop: the Request-URI, From-tag, Call-ID, CSeq
 * number, Route and Proxy-Require, none of which a hop changes. The four
 * fields the two share are hashed once; the two then go on from that
 * state with different constants.
 */
static void px_branch(const struct pk_proxy *px, const struct pk_sip_msg *m, uint64_t *txn, uint32_t *loop)
{
	const struct pk_sip_via *v = &m->via[0];
	bool cookie = v->branch.len > 7 && memcmp(v->branch.p, "z9hG4bK", 7) == 0;
	const uint64_t k = px->key;
	uint64_t h, l;

	h = pk_fold64(px->secret ^ m->cseq, k ^ 0x7f4a7c159e3779b9ull);
	h = px_field(k, h, m->from.tag);
	h = px_field(k, h, m->call_id);
	h = px_field(k, h, m->ruri);

	l = px_lines(k, h ^ 0x2545f4914f6cdd1dull, m, PK_HDR_ROUTE);
	l = pk_mix64(px_lines(k, l, m, PK_HDR_PROXY_REQUIRE));
	*loop = (uint32_t)(l ^ (l >> 32));

	if (cookie) {
		h = px_field(k, h, v->branch);
	} else {
		h = px_field(k, h, v->raw);
		h = px_field(k, h, m->to.tag);
	}
	*txn = pk_mix64(h);
}

static size_t px_branch_text(char *out, uint64_t txn, uint32_t loop)
{
	char *o = px_put(out, PK_PROXY_BRANCH_PREFIX, sizeof(PK_PROXY_BRANCH_PREFIX) - 1);

	o = pk_put_hex16(o, txn);
	*o++ = '.';
	o = pk_put_hex8(o, loop);
	return (size_t)(o - out);
}

static bool px_branch_ours(struct pk_str b)
{
	return b.len == PK_PROXY_BRANCH_LEN &&
	       memcmp(b.p, PK_PROXY_BRANCH_PREFIX, sizeof(PK_PROXY_BRANCH_PREFIX) - 1) == 0 && b.p[25] == '.';
}

/* ---- who we are ---- */

/*
 * Does s hold exactly the n bytes at b? pk_sip_uri_host_eq's answer when
 * it is yes, without its call to memcmp: a response's top Via, our own,
 * carries our host as we wrote it. Loads of 8 (or 4) bytes from both ends
 * of both texts (no byte outside them) cover lengths 4 to 16; other
 * lengths, and any difference, are left to pk_sip_uri_host_eq.
 */
static inline bool px_same_bytes(struct pk_str s, const char *b, uint32_t n)
{
	return s.len == n && n >= 4 && n <= 16 && pk_mem_eq16(s.p, b, n);
}

/* The listener host:port names (as pk_proxy_is_us), -1: none. */
static int px_our_listener(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host,
			   uint16_t port)
{
	const struct pk_engine *eng = w->eng;
	const struct pk_proxy *px = eng->proxy;
	uint16_t p = port ? port : 5060;
	struct pk_addr a;
	int ip = -1; /* host parsed as an address: not yet */

	for (unsigned li = 0; li < px->n_listeners; li++) {
		const struct pk_proxy_listener *l = &px->l[li];
		const struct pk_addr *la = &eng->listeners[li].addr;

		if (p != l->port && p != la->port)
			continue;
		/* our own text (what we put in Via and Record-Route) first:
		 * the host comes back as we wrote it, no parse needed */
		if (l->host_len && (px_same_bytes(host, l->host, l->host_len) ||
				    pk_sip_uri_host_eq(host, pk_str_make(l->host, l->host_len))))
			return (int)li;
		if (ip < 0)
			ip = pk_addr_parse_ip(host, &a) == 0;
		if (!ip)
			continue;
		if (l->host_is_ip && pk_addr_ip_eq(&a, &l->addr))
			return (int)li;
		if (pk_addr_is_any(la) ? (rx != NULL && pk_addr_ip_eq(&a, &rx->dst)) : pk_addr_ip_eq(&a, la))
			return (int)li;
	}
	return -1;
}

bool pk_proxy_is_us(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host, uint16_t port)
{
	return px_our_listener(w, rx, host, port) >= 0;
}

/*
 * pk_proxy_is_us, its quick answers inline: the first listener's own text
 * on its port (pk_proxy_is_us looks there first too), and no for a port
 * that no listener has (pk_proxy_is_us passes over each of them). A
 * response's top Via, ours, carries our text as we wrote it; a
 * Request-URI naming a user agent, its own port. Anything else takes the
 * call.
 */
static inline bool px_is_us(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host,
			    uint16_t port)
{
	const struct pk_engine *eng = w->eng;
	const struct pk_proxy *px = eng->proxy;
	const struct pk_proxy_listener *l = &px->l[0];
	uint16_t p = port ? port : 5060;
	unsigned li;

	if (px->n_listeners > 0 && (p == l->port || p == eng->listeners[0].addr.port)) {
		if (l->host_len && px_same_bytes(host, l->host, l->host_len))
			return true;
		return pk_proxy_is_us(w, rx, host, port);
	}
	for (li = 1; li < px->n_listeners; li++)
		if (p == px->l[li].port || p == eng->listeners[li].addr.port)
			return pk_proxy_is_us(w, rx, host, port);
	return false;
}

bool pk_proxy_local_domain(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host,
			   uint16_t port, struct pk_str *domain)
{
	const struct pk_groups_settings *s = &w->eng->conf->served;
	int i = pk_groups_settings_find_domain(s, host);

	if (i >= 0) {
		*domain = pk_groups_settings_domain(s, (uint32_t)i);
		return true;
	}
	if (s->n_domains > 0 && px_is_us(w, rx, host, port)) {
		*domain = pk_groups_settings_domain(s, 0);
		return true;
	}
	return false;
}

/* A sip:/sips: URI without user part (what a Route entry of ours is),
 * parsed, with its port (the scheme's default when it has none). */
static bool px_uri_hostport(struct pk_str uri, struct pk_sip_uri *u, uint16_t *port)
{
	if (pk_sip_uri_parse(uri.p, uri.len, u) != 0 || (u->scheme != PK_URI_SIP && u->scheme != PK_URI_SIPS) ||
	    u->user.len != 0)
		return false;
	*port = u->port ? u->port : (u->scheme == PK_URI_SIPS ? 5061 : 5060);
	return true;
}

/* The link of the listener a URI without user part names (a Route entry
 * of our Record-Route), -1: none. */
static int px_uri_link(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str uri)
{
	struct pk_sip_uri u;
	uint16_t port;
	int li;

	if (!px_uri_hostport(uri, &u, &port))
		return -1;
	li = px_our_listener(w, rx, u.host, port);
	return li >= 0 ? w->eng->listeners[li].link : -1;
}

/* A URI naming pickupd with no user part: our Route / Record-Route. */
static bool px_uri_is_us(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str uri)
{
	struct pk_sip_uri u;
	uint16_t port;

	if (!px_uri_hostport(uri, &u, &port))
		return false;
	if (pk_groups_settings_find_domain(&w->eng->conf->served, u.host) >= 0)
		return true;
	return pk_proxy_is_us(w, rx, u.host, port);
}

/* The most pk_proxy_advertised_host can write for listener li: its
 * advertised name, or an address as text (IPv6 in brackets: at most 47). */
static inline size_t px_host_bound(const struct pk_proxy *px, unsigned li)
{
	return px->l[li].host_len ? px->l[li].host_len : 48;
}

size_t pk_proxy_advertised_host(const struct pk_worker *w, const struct pk_io_msg *rx, unsigned li,
				char *out, size_t cap)
{
	const struct pk_proxy_listener *l = &w->eng->proxy->l[li];
	char tmp[64];
	size_t n;

	if (l->host_len) {
		n = l->host_len < cap ? l->host_len : cap;
		memcpy(out, l->host, n);
		return n;
	}
	/* A wildcard listener without advertise: the address rx came to (the
	 * listener's own when that is of another family). */
	n = px_ip_text(rx != NULL && rx->dst.family == w->eng->listeners[li].addr.family ? &rx->dst
											  : &w->eng->listeners[li].addr,
		       true, tmp);
	n = n < cap ? n : cap;
	memcpy(out, tmp, n);
	return n;
}

/* "host:port" that listener li advertises (pk_proxy_advertised_host and
 * the port) at o, at most PK_PROXY_HOST_MAX + 6 bytes; returns o past it. */
static inline char *px_put_sentby(const struct pk_worker *w, const struct pk_io_msg *rx, unsigned li, char *o)
{
	const struct pk_proxy_listener *l = &w->eng->proxy->l[li];

	if (l->host_len) {
		pk_copy_short(o, l->sentby, l->sentby_len);
		return o + l->sentby_len;
	}
	o += pk_proxy_advertised_host(w, rx, li, o, PK_PROXY_HOST_MAX);
	*o++ = ':';
	return pk_put_u32(o, l->port);
}

/* ---- destinations ---- */

int pk_proxy_uri_dst(const struct pk_worker *w, struct pk_str uri, struct pk_proxy_dst *dst)
{
	const struct pk_proxy *px = w->eng->proxy;
	struct pk_sip_uri u;

	memset(dst, 0, sizeof(*dst));
	dst->listener = 0xff;
	dst->transport = PK_TRANSPORT_UDP;
	if (pk_sip_uri_parse(uri.p, uri.len, &u) != 0 || (u.scheme != PK_URI_SIP && u.scheme != PK_URI_SIPS))
		return -EINVAL;
	/* TLS on that hop (RFC 5630 §4, §5.3), which pickupd cannot give:
	 * the caller refuses the request rather than send it in the clear */
	if (u.scheme == PK_URI_SIPS)
		return -EPROTONOSUPPORT;
	if (pk_addr_parse_ip(u.host, &dst->addr) == 0) {
		dst->addr.port = u.port ? u.port : 5060;
	} else if (px->has_next_hop &&
		   pk_sip_uri_host_eq(u.host, pk_str_make(px->next_hop_host, px->next_hop_host_len))) {
		dst->addr = px->next_hop;
		if (u.port)
			dst->addr.port = u.port;
	} else {
		return -EHOSTUNREACH;
	}
	/* TCP (transport=tcp) only on an existing connection, which a URI
	 * does not name: sent over UDP (docs/sip-behaviour.md §2). */
	if (pk_str_caseeq_cstr(u.transport, "tcp"))
		dst->transport = PK_TRANSPORT_TCP;
	return 0;
}

/* Whether listener l can send a UDP datagram to dst: UDP, of dst's
 * family and, with link >= 0, on that link. */
static inline bool px_udp_fits(const struct pk_io_listener *l, const struct pk_proxy_dst *dst, int link)
{
	return l->transport == PK_TRANSPORT_UDP && l->addr.family == dst->addr.family &&
	       (link < 0 || l->link == link);
}

/* Whether a datagram to dst from listener l (that px_udp_fits: the same
 * family) goes on-link: dst in the subnet around l's address (io.h:
 * onlink_mask; 0, the backend routes otherwise: always). The dpdk
 * backend sends off-link datagrams to a static route's next hop or its
 * port's gateway, and drops them on a port with neither. */
static inline bool px_udp_near(const struct pk_io_listener *l, const struct pk_proxy_dst *dst)
{
	uint32_t a, b;

	memcpy(&a, l->addr.ip, 4);
	memcpy(&b, dst->addr.ip, 4);
	return ((a ^ b) & l->onlink_mask) == 0;
}

/* The UDP listener a datagram to dst leaves from, among those that
 * px_udp_fits: the binding's (the address the phone registered through,
 * whatever its subnet: its NAT or firewall knows that one); then, of the
 * listeners whose subnet holds dst (px_udp_near), the request's, one of
 * the request's role, any; then, when none is near (dst beyond a
 * gateway), the request's, one of its role, any. -1 when none fits. */
static int px_udp_listener(const struct pk_engine *eng, const struct pk_io_msg *rx,
			   const struct pk_proxy_dst *dst, int link)
{
	const struct pk_io_listener *rl = &eng->listeners[rx->listener];
	bool rx_fits;
	int near = -1, role = -1, any = -1;

	if (dst->listener < eng->n_listeners && px_udp_fits(&eng->listeners[dst->listener], dst, link))
		return dst->listener;
	rx_fits = px_udp_fits(rl, dst, link);
	if (rx_fits && px_udp_near(rl, dst))
		return rx->listener;
	for (unsigned li = 0; li < eng->n_listeners; li++) {
		const struct pk_io_listener *l = &eng->listeners[li];
		bool same_role = l->role == rl->role;

		if (!px_udp_fits(l, dst, link))
			continue;
		if (px_udp_near(l, dst)) {
			if (same_role)
				return (int)li;
			if (near < 0)
				near = (int)li;
		}
		if (same_role && role < 0)
			role = (int)li;
		if (any < 0)
			any = (int)li;
	}
	if (near >= 0)
		return near;
	if (rx_fits)
		return rx->listener;
	return role >= 0 ? role : any;
}

/* The listener a message to dst leaves from; -1 when there is none. A TCP
 * destination without a connection goes over UDP. On a backend of several
 * links (the dpdk backend on several ports) the listener must be on the
 * link that reaches dst (pk_io_route), so that the Via names an address
 * the answer can come back to; no link reaches it: -1. */
static int px_listener(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_dst *dst)
{
	const struct pk_engine *eng = w->eng;
	int link = -1;

	if (dst->transport == PK_TRANSPORT_TCP) {
		if (dst->conn != PK_IO_CONN_NONE) {
			if (dst->listener < eng->n_listeners &&
			    eng->listeners[dst->listener].transport == PK_TRANSPORT_TCP)
				return dst->listener;
			if (rx->transport == PK_TRANSPORT_TCP && rx->conn == dst->conn)
				return rx->listener;
			for (unsigned li = 0; li < eng->n_listeners; li++)
				if (eng->listeners[li].transport == PK_TRANSPORT_TCP &&
				    eng->listeners[li].addr.family == dst->addr.family)
					return (int)li;
		}
		px_count(w, PK_PROXY_CTR_TCP_AS_UDP);
		dst->transport = PK_TRANSPORT_UDP;
		dst->conn = PK_IO_CONN_NONE;
	}
	if (unlikely(eng->io != NULL && eng->io->n_links > 1) && (link = pk_io_route(eng->io, &dst->addr)) < 0)
		return -1;
	return px_udp_listener(eng, rx, dst, link);
}

/* Emit the plan into a transmit buffer and queue it to dst from li, for rx
 * (the message it answers or forwards). */
static int px_emit(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_rw *rw,
		   const struct pk_proxy_dst *dst, int li)
{
	struct pk_io_msg *tx = pk_io_tx_alloc(w->q);
	long len = pk_rw_emit(rw, tx->data, tx->cap);

	/* Larger than the frame the backend offered (io.h): emit again (the
	 * plan stays valid) into a buffer of PK_IO_MSG_MAX. */
	if (unlikely(len == -ENOSPC) && tx->cap < PK_IO_MSG_MAX && (tx = pk_io_tx_grow(w->q)) != NULL)
		len = pk_rw_emit(rw, tx->data, tx->cap);
	if (len < 0)
		return (int)len;
	tx->len = (uint32_t)len;
	tx->transport = dst->transport;
	tx->listener = (uint8_t)li;
	tx->conn = dst->transport == PK_TRANSPORT_TCP ? dst->conn : PK_IO_CONN_NONE;
	tx->dst = dst->addr;
	/* A wildcard listener without advertise names, in our Via and
	 * Record-Route, the address rx came to (pk_proxy_advertised_host):
	 * send from that address too. A UAS that answers to where the request
	 * came from (RFC 3581) then answers to the address our Via names,
	 * which is how its response is recognised as ours; and a caller gets
	 * the responses to its request from the address it sent it to, as a
	 * NAT or a connected socket on its side requires. Any other listener
	 * sends from its own address (src family 0). */
	if (unlikely(w->eng->proxy->l[li].host_len == 0) && rx->dst.family == w->eng->listeners[li].addr.family)
		tx->src = rx->dst;
	pk_io_tx_commit(w->q);
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_TX]);
	return 0;
}

/* ---- answers ---- */

/* The answer, with pre (whole header lines) and "Warning: <warn> <agent>
 * "<text>"" (warn: 399, or a warn-code of its own, RFC 3261 §20.43). */
static void px_answer_extra(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
			    unsigned status, const char *pre, size_t pre_len, unsigned warn, const char *agent,
			    const char *text, int c)
{
	char extra[512];
	size_t n = 0, al = strlen(agent), tl = strlen(text);

	if (m->method == PK_SIP_ACK) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_ACK);
		return;
	}
	if (pre_len + al + tl + 32 > sizeof(extra)) {
		pre_len = 0;
		tl = tl > 200 ? 200 : tl;
		al = al > 200 ? 200 : al;
	}
	memcpy(extra, pre, pre_len);
	n = pre_len;
	n = (size_t)(px_put(extra + n, "Warning: ", 9) - extra);
	n = (size_t)(pk_put_u32(extra + n, warn) - extra);
	extra[n++] = ' ';
	n = (size_t)(px_put(extra + n, agent, al) - extra);
	extra[n++] = ' ';
	extra[n++] = '"';
	for (size_t i = 0; i < tl; i++) {
		unsigned char ch = (unsigned char)text[i];

		extra[n++] = (ch == '"' || ch == '\\') ? '\'' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	n = (size_t)(px_put(extra + n, "\"\r\n", 3) - extra);
	if (pk_worker_reply(w, rx, m, status, NULL, pk_str_make(extra, n)) != 0)
		return; /* counted as drop_build */
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_ANSWERED_PROXY]);
	if (c >= 0)
		px_count(w, (enum pk_proxy_counter)c);
}

void pk_proxy_answer(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		     unsigned status, const char *agent, const char *text, int c)
{
	px_answer_extra(w, rx, msg, status, "", 0, 399, agent ? agent : "pickupd", text, c);
}

/*
 * Refuse a request that would have to leave over TLS: a sips: Request-URI
 * or Route (RFC 3261 §26.2.2 as RFC 5630 §4 amends it: TLS on every hop,
 * the last one included). pickupd speaks no TLS and does not send such a
 * request in the clear: 480 with warn-code 380 "SIPS Not Allowed", what
 * RFC 5630 §5.3 has a proxy answer for a sips: target it may not reach
 * securely (the warn-code is RFC 5630 §9's). what: which URI it was.
 */
static void px_refuse_sips(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
			   const char *what)
{
	px_answer_extra(w, rx, m, 480, "", 0, 380, "pickupd", what, PK_PROXY_CTR_ANSWERED_480);
}

/* ---- forwarding requests ---- */

void pk_proxy_fwd_begin(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
			struct pk_proxy_fwd *f)
{
	const struct pk_sip_via *v = &m->via[0];
	struct pk_addr vh;
	size_t n;

	f->rw = &w->rw;
	pk_rw_init(f->rw, m);
	px_branch(w->eng->proxy, m, &f->txn, &f->loop);
	f->params_len = 0;
	f->record_route = false;
	memset(&f->dst, 0, sizeof(f->dst));
	f->dst.listener = 0xff;

	/* RFC 3581 §4 / RFC 3261 §18.2.1 on the received top Via (planned
	 * in pk_proxy_fwd_send). */
	f->rcv = false;
	n = px_ip_text(&rx->src, false, f->rcv_ip);
	if (v->rport == 0) {
		f->rcv = true;
		f->rcv_ip_len = (uint8_t)(v->received.len ? 0 : n);
		f->rcv_port = rx->src.port;
		px_count(w, PK_PROXY_CTR_VIA_RECEIVED);
	} else if (v->received.len == 0 &&
		   (pk_addr_parse_ip(v->host, &vh) != 0 || !pk_addr_ip_eq(&vh, &rx->src))) {
		f->rcv = true;
		f->rcv_ip_len = (uint8_t)n;
		f->rcv_port = 0;
		px_count(w, PK_PROXY_CTR_VIA_RECEIVED);
	}
	f->maxfwd_dec = m->max_forwards != 0;
	f->reason = false;
	f->via_planned = false;
}

void pk_proxy_fwd_plan(struct pk_proxy_fwd *f)
{
	if (f->rcv) {
		pk_rw_via_received(f->rw, pk_str_make(f->rcv_ip, f->rcv_ip_len), f->rcv_port);
		f->rcv = false;
	}
	if (f->maxfwd_dec) {
		pk_rw_maxfwd_dec(f->rw);
		f->maxfwd_dec = false;
	}
}

void pk_proxy_fwd_param_n(struct pk_proxy_fwd *f, const char *name, size_t nl, struct pk_str value)
{
	char *o;

	if (f->params_len + 2 + nl + value.len > sizeof(f->params))
		return;
	o = f->params + f->params_len;
	*o++ = ';';
	pk_copy_short(o, name, (uint32_t)nl); /* both short: no memcpy call */
	o += nl;
	if (value.len) {
		*o++ = '=';
		pk_copy_short(o, value.p, value.len);
		o += value.len;
	}
	f->params_len = (uint32_t)(o - f->params);
}

/* Our Via, from listener li: SIP/2.0/UDP host:port;branch=...;rport
 * [;params][;pkconn=], written straight into the plan (no room: the plan
 * is failed and the emit drops the request). The room asked for is what
 * the line can take, no more: near a full scratch, a line that
 * pk_rw_hdr_add would have fitted must fit. */
static void px_via_line(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_fwd *f, unsigned li)
{
	char *o = pk_rw_line_begin(f->rw, PK_HDR_VIA,
				   sizeof("SIP/2.0/UDP :65535;branch=;rport") - 1 + px_host_bound(w->eng->proxy, li) +
					   PK_PROXY_BRANCH_LEN + f->params_len +
					   (rx->transport == PK_TRANSPORT_TCP ? sizeof(";pkconn=") - 1 + 16 : 0));

	if (o == NULL)
		return;
	o = px_put(o, "SIP/2.0/", 8);
	o = px_put(o, f->dst.transport == PK_TRANSPORT_TCP ? "TCP " : "UDP ", 4);
	o = px_put_sentby(w, rx, li, o);
	o = px_put(o, ";branch=", 8);
	o += px_branch_text(o, f->txn, f->loop);
	o = px_put(o, ";rport", 6);
	pk_copy_short(o, f->params, f->params_len);
	o += f->params_len;
	if (rx->transport == PK_TRANSPORT_TCP) {
		o = px_put(o, ";pkconn=", 8);
		o = pk_put_hex16(o, rx->conn);
	}
	pk_rw_line_end(f->rw, PK_HDR_VIA, o, PK_RW_BEFORE_FIRST_SAME);
}

void pk_proxy_fwd_via(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_fwd *f)
{
	if (f->via_planned)
		return;
	f->via_planned = true;
	f->li = (int16_t)px_listener(w, rx, &f->dst);
	if (f->li >= 0)
		px_via_line(w, rx, f, (unsigned)f->li);
}

/* Our Record-Route entry for listener li, on top of the others:
 * <sip:host:port[;transport=tcp];lr>. */
static void px_record_route(struct pk_worker *w, struct pk_rw *rw, const struct pk_io_msg *rx, unsigned li,
			    bool tcp)
{
	char rr[PK_PROXY_HOST_MAX + 64];
	char *o = px_put(rr, "<sip:", 5);

	o = px_put_sentby(w, rx, li, o);
	if (tcp)
		o = px_put(o, ";transport=tcp", 14);
	o = px_put(o, ";lr>", 4);
	pk_rw_hdr_add(rw, PK_HDR_RECORD_ROUTE, NULL, pk_str_make(rr, (size_t)(o - rr)), PK_RW_BEFORE_FIRST_SAME);
}

int pk_proxy_fwd_send(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_fwd *f)
{
	const struct pk_proxy *px = w->eng->proxy;
	int li, rc;

	/* The listener and our Via, unless pk_proxy_fwd_via planned them. */
	pk_proxy_fwd_via(w, rx, f);
	li = f->li;
	if (li < 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_NO_LISTENER);
		return -ENETUNREACH;
	}
	/* What pk_proxy_fwd_begin decided, unless planned already: after our
	 * Via (which goes before the client's), in message order. */
	pk_proxy_fwd_plan(f);
	/* A picked-up call's CANCEL: its Reason at the bottom, after them
	 * (planned in message order, each edit is appended) */
	if (f->reason) {
		pk_rw_hdr_add(f->rw, PK_HDR_REASON, NULL, PK_STR_LIT(PK_PICKUP_REASON), PK_RW_BOTTOM);
		f->reason = false;
	}

	if (f->record_route && px->record_route) {
		/* In on one port and out on another (dpdk, several ports): each
		 * side must reach us by its own address, so two entries, the
		 * outgoing one on top (RFC 5658 double Record-Route); the
		 * in-dialog requests that come back pop both (Route). */
		if (unlikely(w->eng->io != NULL && w->eng->io->n_links > 1 &&
			     w->eng->listeners[li].link != w->eng->listeners[rx->listener].link))
			px_record_route(w, f->rw, rx, (unsigned)li,
					w->eng->listeners[li].transport == PK_TRANSPORT_TCP);
		px_record_route(w, f->rw, rx, rx->listener, rx->transport == PK_TRANSPORT_TCP);
		px_count(w, PK_PROXY_CTR_RECORD_ROUTED);
	}
	rc = px_emit(w, rx, f->rw, &f->dst, li);
	if (rc != 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_REWRITE);
		return rc;
	}
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_FORWARDED]);
	px_count(w, PK_PROXY_CTR_FWD_REQUEST);
	return 0;
}

/* Did this request pass through us unchanged before (§16.3 item 4)? */
static bool px_looped(const struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
		      uint32_t loop)
{
	unsigned n = m->nvia < PK_SIP_MAX_VIA ? m->nvia : PK_SIP_MAX_VIA;

	for (unsigned i = 0; i < n; i++) {
		const struct pk_sip_via *v = &m->via[i];
		uint64_t got;

		if (!px_branch_ours(v->branch) || !px_unhex(pk_str_make(v->branch.p + 26, 8), &got))
			continue;
		if ((uint32_t)got == loop && pk_proxy_is_us(w, rx, v->host, v->port))
			return true;
	}
	return false;
}

static bool px_dialog_creating(const struct pk_sip_msg *m)
{
	if (m->to.tag.len != 0)
		return false;
	return m->method == PK_SIP_INVITE || m->method == PK_SIP_SUBSCRIBE || m->method == PK_SIP_REFER ||
	       m->method == PK_SIP_NOTIFY;
}

/* Does the request already carry a SIP Reason (RFC 3326)? */
static bool px_has_sip_reason(const struct pk_sip_msg *m)
{
	if (m->first[PK_HDR_REASON] == 0xff)
		return false;
	for (int i = m->first[PK_HDR_REASON]; i >= 0; i = pk_sip_hdr_next(m, i)) {
		struct pk_str v = pk_sip_hdr_value(m, (unsigned)i);

		if (v.len >= 3 && pk_str_caseeq(pk_str_make(v.p, 3), PK_STR_LIT("SIP")) &&
		    (v.len == 3 || v.p[3] == ';' || v.p[3] == ' ' || v.p[3] == '\t'))
			return true;
	}
	return false;
}

/* Answer a request the proxy checks refused (RFC 3261 §16.3). */
static void px_reject_check(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	char pre[256];
	size_t n = 0;
	int c;

	switch (m->status) {
	case 416:
		c = PK_PROXY_CTR_ANSWERED_416;
		break;
	case 420: {
		int k;

		c = PK_PROXY_CTR_ANSWERED_420;
		memcpy(pre, "Unsupported: ", 13);
		k = pk_sip_unsupported_list(m, PK_ROLE_PROXY, 0, pre + 13, sizeof(pre) - 15);
		if (k > 0) {
			n = 13 + (size_t)k;
			memcpy(pre + n, "\r\n", 2);
			n += 2;
		}
		break;
	}
	case 483:
		c = PK_PROXY_CTR_ANSWERED_483;
		break;
	default:
		c = PK_PROXY_CTR_ANSWERED_OTHER;
		break;
	}
	px_answer_extra(w, rx, m, m->status, pre, n, 399, "pickupd", m->why, c);
}

/* The destination of Route entry uri (the next hop), or the request
 * answered: 480 for a sips: one (px_refuse_sips), 503 for a host name
 * (no DNS here). 0 or a negative errno. */
static int px_route_dst(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
			struct pk_str uri, struct pk_proxy_dst *dst)
{
	int rc = pk_proxy_uri_dst(w, uri, dst);

	if (rc == -EPROTONOSUPPORT)
		px_refuse_sips(w, rx, m, "SIPS Not Allowed: sips: Route, pickupd has no TLS");
	else if (rc != 0)
		pk_proxy_answer(w, rx, m, 503, NULL, "cannot resolve the Route's host", PK_PROXY_CTR_ANSWERED_503);
	return rc;
}

/* Request-URI of one of our users: the location service. 0 and the
 * contact in f (Request-URI set, destination), or an answer was sent. */
static int px_to_location(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *m,
			  struct pk_str user, struct pk_str domain, struct pk_proxy_fwd *f)
{
	struct pk_loc_contact c;
	char norm[PK_GROUPS_USER_MAX];
	int n = pk_groups_user_normalize(user, norm, sizeof(norm));

	if (n <= 0 || w->eng->location == NULL ||
	    pk_location_lookup(w->eng->location, w->id, pk_str_make(norm, (size_t)n), domain, w->now_ns, &c,
			       1) == 0) {
		pk_proxy_answer(w, rx, m, 404, NULL, "not registered", PK_PROXY_CTR_ANSWERED_404);
		return -ENOENT;
	}
	if (c.src.family == 0) {
		/* a static binding naming a host: no DNS on the packet path */
		pk_proxy_answer(w, rx, m, 503, NULL, "cannot resolve the contact's host",
				PK_PROXY_CTR_ANSWERED_503);
		return -EHOSTUNREACH;
	}
	pk_rw_ruri_set(f->rw, pk_str_make(c.uri, c.uri_len));
	f->dst.addr = c.src;
	f->dst.transport = c.transport;
	f->dst.conn = c.transport == PK_TRANSPORT_TCP ? c.conn : PK_IO_CONN_NONE;
	f->dst.listener = c.listener;
	px_count(w, PK_PROXY_CTR_TO_LOCATION);
	return 0;
}

void pk_proxy_handle_request(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	const struct pk_proxy *px = w->eng->proxy;
	struct pk_proxy_fwd f;
	struct pk_str ruri = m->ruri, domain;
	struct pk_sip_uri u;
	unsigned first = 0, last = m->nroute;
	bool strict = false;
	int ruri_rc;

	/* OPTIONS for pickupd itself, or out of hops: answered here
	 * (RFC 3261 §16.3 item 3 lets a proxy answer the latter). */
	if (m->method == PK_SIP_OPTIONS && (m->max_forwards == 0 || pk_worker_uri_is_local(w, rx, m->ruri))) {
		pk_worker_handle_options(w, rx, m);
		return;
	}
	/* pk_sip_check_request's proxy checks (Request-URI, scheme,
	 * Max-Forwards, Proxy-Require) with the Request-URI parsed once, for
	 * them and for the routing below: it runs, to say why, only when one
	 * of them fails. */
	ruri_rc = pk_sip_uri_parse(m->ruri.p, m->ruri.len, &u);
	if (!(ruri_rc == 0 && (u.scheme == PK_URI_SIP || u.scheme == PK_URI_SIPS || u.scheme == PK_URI_TEL) &&
	      m->max_forwards != 0 && m->proxy_require == 0) &&
	    pk_sip_check_request(m, PK_ROLE_PROXY, 0) != PK_SIP_OK) {
		px_reject_check(w, rx, m);
		return;
	}
	if (unlikely(m->nvia == 0)) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_RESP_ROUTE);
		return;
	}
	pk_proxy_fwd_begin(w, rx, m, &f);
	if (px_looped(w, rx, m, f.loop)) {
		pk_proxy_answer(w, rx, m, 482, NULL, "loop detected", PK_PROXY_CTR_ANSWERED_482);
		return;
	}

	/* Route (§16.4). Only the first PK_SIP_MAX_ROUTE entries are parsed.
	 * The Via and Max-Forwards edits first: Route lines follow them. */
	if (m->nroute > 0)
		pk_proxy_fwd_plan(&f);
	if (last > PK_SIP_MAX_ROUTE) {
		if (px_uri_is_us(w, rx, m->ruri)) {
			pk_proxy_answer(w, rx, m, 400, NULL, "too many Route entries for a strict route",
					PK_PROXY_CTR_ANSWERED_OTHER);
			return;
		}
		last = PK_SIP_MAX_ROUTE;
	}
	if (m->nroute > 0 && m->nroute <= PK_SIP_MAX_ROUTE && px_uri_is_us(w, rx, m->ruri)) {
		/* A strict router put our Record-Route URI in the Request-URI:
		 * the last Route is the real one. */
		strict = true;
		last = m->nroute - 1;
		ruri = m->route[last].uri;
		pk_rw_ruri_set(f.rw, ruri);
		px_count(w, PK_PROXY_CTR_STRICT_ROUTE);
	}
	if (first < last && px_uri_is_us(w, rx, m->route[0].uri)) {
		first = 1;
		/* our double Record-Route (RFC 5658, several ports) comes back
		 * as two entries: listeners of ours on two links */
		if (first < last && w->eng->io != NULL && w->eng->io->n_links > 1) {
			int l0 = px_uri_link(w, rx, m->route[0].uri), l1 = px_uri_link(w, rx, m->route[1].uri);
			if (l0 >= 0 && l1 >= 0 && l0 != l1)
				first = 2;
		}
		px_count(w, PK_PROXY_CTR_ROUTE_POPPED);
		if (!strict)
			pk_rw_route_pop_n(f.rw, first);
	}
	if (strict) {
		char routes[1536];
		size_t n = 0;

		for (unsigned i = first; i < last; i++) {
			struct pk_str r = m->route[i].raw;

			if (n + r.len + 2 > sizeof(routes))
				break;
			if (n) {
				routes[n++] = ',';
				routes[n++] = ' ';
			}
			memcpy(routes + n, r.p, r.len);
			n += r.len;
		}
		if (n)
			pk_rw_hdr_replace(f.rw, PK_HDR_ROUTE, pk_str_make(routes, n));
		else
			pk_rw_hdr_remove(f.rw, PK_HDR_ROUTE);
	}

	if (first < m->nroute && !strict) {
		/* A Route set remains: its first entry is the next hop. */
		if (first >= PK_SIP_MAX_ROUTE) {
			pk_proxy_answer(w, rx, m, 400, NULL, "too many Route entries", PK_PROXY_CTR_ANSWERED_OTHER);
			return;
		}
		if (px_route_dst(w, rx, m, m->route[first].uri, &f.dst) != 0)
			return;
		px_count(w, PK_PROXY_CTR_TO_ROUTE);
		goto send;
	}
	if (strict && first < last) {
		if (px_route_dst(w, rx, m, m->route[first].uri, &f.dst) != 0)
			return;
		px_count(w, PK_PROXY_CTR_TO_ROUTE);
		goto send;
	}

	/* The Request-URI decides (parsed above unless a strict route changed it). */
	if (strict)
		ruri_rc = pk_sip_uri_parse(ruri.p, ruri.len, &u);
	if (ruri_rc != 0) {
		pk_proxy_answer(w, rx, m, 400, NULL, "bad Request-URI", PK_PROXY_CTR_ANSWERED_OTHER);
		return;
	}
	/* No Route left: pickupd would send to the Request-URI's target
	 * itself, which a sips: one has reached over TLS only
	 * (px_refuse_sips; one compare on the parse's scheme). With a Route
	 * left, the Route's URI is the next hop and is checked instead
	 * (px_route_dst): an in-dialog request towards a sips: Contact
	 * through a sip: Route (a TLS front end that Record-Routes) goes on
	 * as its dialog was set up. */
	if (unlikely(u.scheme == PK_URI_SIPS)) {
		px_refuse_sips(w, rx, m, "SIPS Not Allowed: sips: Request-URI, pickupd has no TLS");
		return;
	}
	if (u.scheme == PK_URI_TEL) {
		if (!px->has_next_hop) {
			pk_proxy_answer(w, rx, m, 404, NULL, "no route for tel: URIs (no next_hop)",
					PK_PROXY_CTR_ANSWERED_404);
			return;
		}
		f.dst.addr = px->next_hop;
		px_count(w, PK_PROXY_CTR_TO_NEXT_HOP);
		goto send;
	}
	if (u.user.len == 0 && px_uri_is_us(w, rx, ruri)) {
		pk_proxy_answer(w, rx, m, 404, NULL, "no user in the Request-URI", PK_PROXY_CTR_ANSWERED_404);
		return;
	}
	if (u.user.len != 0 && pk_proxy_local_domain(w, rx, u.host, u.port, &domain)) {
		if ((m->method == PK_SIP_INVITE || m->method == PK_SIP_CANCEL || m->method == PK_SIP_ACK) &&
		    pk_pickup_request(w, rx, m, u.user, domain, &f))
			return;
		if (px_to_location(w, rx, m, u.user, domain, &f) != 0)
			return;
		if (m->method == PK_SIP_INVITE && m->to.tag.len == 0 && pk_pickup_track(w, rx, m, u.user, domain))
			pk_proxy_fwd_param(&f, "pk", PK_STR_LIT("t"));
		goto send;
	}
	if (px->has_next_hop) {
		f.dst.addr = px->next_hop;
		px_count(w, PK_PROXY_CTR_TO_NEXT_HOP);
		goto send;
	}
	if (pk_addr_parse_ip(u.host, &f.dst.addr) == 0) {
		/* a sips: Request-URI was refused above (px_refuse_sips) */
		f.dst.addr.port = u.port ? u.port : 5060;
		if (pk_str_caseeq_cstr(u.transport, "tcp"))
			f.dst.transport = PK_TRANSPORT_TCP;
		px_count(w, PK_PROXY_CTR_TO_RURI);
		goto send;
	}
	{
		/* another domain, a host name, no next hop (no DNS here) */
		char why[16 + 256];
		uint32_t hl = u.host.len > 256 ? 256 : u.host.len;

		memcpy(why, "no route to ", 12);
		memcpy(why + 12, u.host.p, hl);
		why[12 + hl] = '\0';
		pk_proxy_answer(w, rx, m, 404, NULL, why, PK_PROXY_CTR_ANSWERED_404);
	}
	return;

send:
	if (m->method == PK_SIP_CANCEL && pk_pickup_cancel(w, m) && !px_has_sip_reason(m)) {
		f.reason = true; /* added by pk_proxy_fwd_send, after our Via */
		pk_ctr_inc(&w->pickup_ctr[PK_PICKUP_CTR_CANCEL_REASON]);
	}
	f.record_route = px_dialog_creating(m);
	pk_proxy_fwd_send(w, rx, &f);
}

/* ---- responses ---- */

/* p past a leading ";rport" or ";rport=DIGITS" that ends at ';' or at
 * the end (a whole parameter), else p as it is. */
static struct pk_str px_skip_rport(struct pk_str p)
{
	const char *q, *end;

	if (p.len < 6 || memcmp(p.p, ";rport", 6) != 0)
		return p;
	q = p.p + 6;
	end = p.p + p.len;
	if (q < end && *q == '=') {
		const char *d = ++q;

		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (q == d)
			return p;
	}
	if (q < end && *q != ';')
		return p;
	return pk_str_make(q, (size_t)(end - q));
}

/* Is name i of px_our_params ("pk=", "pkc=", "pkconn=") at p, with a
 * value byte after it before end? Constant lengths: compares inline. */
static inline bool px_our_name(const char *p, const char *end, unsigned i)
{
	switch (i) {
	case 0:
		return end - p > 3 && memcmp(p, "pk=", 3) == 0;
	case 1:
		return end - p > 4 && memcmp(p, "pkc=", 4) == 0;
	default:
		return end - p > 7 && memcmp(p, "pkconn=", 7) == 0;
	}
}

/* p past the ASCII letters and digits that start [p, end): eight bytes a
 * step while eight remain (a claim's pkc value is sixteen), then a byte
 * at a time. */
static inline const char *px_skip_alnum(const char *p, const char *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (end - p >= 8) {
		/* per byte, in its top bit: x >= '0', x > '9', l >= 'a',
		 * l > 'z' (seven-bit x and l = x | 0x20: no carry between
		 * bytes), and the byte below 0x80 */
		uint64_t w = pk_load8(p), x = w & 0x7f7f7f7f7f7f7f7full, l = x | 0x2020202020202020ull;
		uint64_t digit = (x + 0x5050505050505050ull) & ~(x + 0x4646464646464646ull);
		uint64_t alpha = (l + 0x1f1f1f1f1f1f1f1full) & ~(l + 0x0505050505050505ull);
		uint64_t other = ~((digit | alpha) & ~w) & 0x8080808080808080ull;

		if (other)
			return p + (__builtin_ctzll(other) >> 3);
		p += 8;
	}
#endif
	while (p < end && ((*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
		p++;
	return p;
}

/*
 * Our own Via parameters as we wrote them, past the rport:
 * ";pk=<v>[;pkc=<v>][;pkconn=<v>]" (each optional, in that order,
 * lowercase, values alphanumeric, nothing else) read in one pass without
 * the general walk (pk_sip_params_get), with the bits and values that walk
 * would give. Any other shape (a received= the next hop added, names in
 * another case, LWS, quotes...) returns UINT32_MAX: the caller walks.
 */
static uint32_t px_our_params(struct pk_str s, struct pk_str vals[3])
{
	static const uint8_t nl[3] = { 3, 4, 7 };
	const char *p = s.p, *end = s.p + s.len, *v;
	uint32_t got = 0;
	unsigned i = 0;

	while (p < end) {
		if (*p++ != ';')
			return UINT32_MAX;
		while (i < 3 && !px_our_name(p, end, i))
			i++;
		if (i == 3)
			return UINT32_MAX;
		p += nl[i];
		v = p;
		p = px_skip_alnum(p, end);
		if (p == v || (p < end && *p != ';'))
			return UINT32_MAX;
		vals[i] = pk_str_make(v, (size_t)(p - v));
		got |= 1u << i++;
	}
	return got;
}

void pk_proxy_handle_response(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *m)
{
	const struct pk_sip_via *v0, *v1;
	struct pk_proxy_dst dst;
	struct pk_str params, kind = PK_STR_NULL, pkc = PK_STR_NULL, conn = PK_STR_NULL;
	const char *semi;
	uint64_t cid;
	uint32_t got;
	int li;

	if (m->nvia == 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_RESP_NOT_OURS);
		return;
	}
	v0 = &m->via[0];
	if (!px_branch_ours(v0->branch) || !px_is_us(w, rx, v0->host, v0->port)) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_RESP_NOT_OURS);
		return;
	}
	if (pk_sip_check_response_route(m) != PK_SIP_OK) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_RESP_ROUTE);
		return;
	}
	v1 = &m->via[1];
	memset(&dst, 0, sizeof(dst));
	dst.listener = 0xff;
	dst.transport = PK_TRANSPORT_UDP;
	if (pk_addr_parse_ip(v1->received.len ? v1->received : v1->host, &dst.addr) != 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_RESP_ROUTE); /* a name: no DNS here */
		return;
	}
	dst.addr.port = v1->rport > 0 ? (uint16_t)v1->rport : v1->port ? v1->port : 5060;

	semi = memchr(v0->raw.p, ';', v0->raw.len);
	params = semi ? pk_str_make(semi, v0->raw.len - (size_t)(semi - v0->raw.p)) : PK_STR_NULL;
	/* Our Via starts ";branch=<ours>;": the walk may start past the
	 * branch value the scanner found (the same walk from the next ';'). */
	if (semi != NULL && v0->branch.p == semi + 8 && memcmp(semi, ";branch=", 8) == 0) {
		const char *after = v0->branch.p + v0->branch.len, *end = params.p + params.len;

		if (after == end || (after < end && *after == ';'))
			params = pk_str_make(after, (size_t)(end - after));
	}
	/* Then the ";rport" we wrote, valueless or with the port a UAS filled
	 * in (RFC 3581 §4): not a name looked for, so the walk starts past it,
	 * and is skipped when nothing follows (a Via without our params). */
	params = px_skip_rport(params);
	got = 0;
	if (params.len) {
		static const char *const names[3] = { "pk", "pkc", "pkconn" };
		struct pk_str vals[3] = { PK_STR_NULL, PK_STR_NULL, PK_STR_NULL };

		got = px_our_params(params, vals);
		if (got == UINT32_MAX) {
			vals[0] = vals[1] = vals[2] = PK_STR_NULL;
			got = pk_sip_params_get(params, names, 3, vals);
		}
		kind = vals[0];
		pkc = vals[1];
		conn = vals[2];
	}
	/* Back on the connection the request came on (RFC 3261 §18.2.2),
	 * also when the client's Via says TLS: a TLS front end that hands
	 * pickupd plain TCP keeps the phone's Via, and the connection is the
	 * only way back to it; by UDP the answer would go in the clear to a
	 * port nobody reads. */
	if ((got & 4) && px_unhex(conn, &cid) &&
	    (pk_str_caseeq_cstr(v1->transport, "TCP") || pk_str_caseeq_cstr(v1->transport, "TLS"))) {
		dst.transport = PK_TRANSPORT_TCP;
		dst.conn = cid;
	}

	if (m->cseq_method == PK_SIP_INVITE && kind.len == 1) {
		if (kind.p[0] == 't')
			pk_pickup_call_response(w, m);
		else if (kind.p[0] == 'p')
			pk_pickup_claim_response(w, m, pkc);
	}

	pk_rw_init(&w->rw, m);
	pk_rw_via_pop(&w->rw);
	li = px_listener(w, rx, &dst);
	if (li < 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_NO_LISTENER);
		return;
	}
	if (px_emit(w, rx, &w->rw, &dst, li) != 0) {
		pk_proxy_drop(w, PK_PROXY_CTR_DROP_REWRITE);
		return;
	}
	pk_ctr_inc(&w->ctr[PK_WORKER_CTR_FORWARDED]);
	px_count(w, PK_PROXY_CTR_FWD_RESPONSE);
	if (m->code == 100)
		px_count(w, PK_PROXY_CTR_FWD_100);
}

/* ---- set-up (control thread) ---- */

void pk_proxy_handlers_install(struct pk_worker_handlers *h)
{
	for (unsigned i = 0; i < PK_SIP_METHOD_COUNT; i++)
		if (i != PK_SIP_REGISTER)
			h->request[i] = pk_proxy_handle_request;
	h->response = pk_proxy_handle_response;
}

/* Resolve host (a SIP URI host: name, IPv4, [IPv6]) once, at start-up. */
static int px_resolve(struct pk_str host, struct pk_addr *out)
{
	struct addrinfo hints, *res = NULL;
	char name[PK_PROXY_HOST_MAX + 1];
	int rc;

	if (pk_addr_parse_ip(host, out) == 0)
		return 0;
	if (host.len >= sizeof(name))
		return -ENAMETOOLONG;
	memcpy(name, host.p, host.len);
	name[host.len] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0 || res == NULL)
		return -EHOSTUNREACH;
	rc = pk_addr_from_sockaddr(res->ai_addr, res->ai_addrlen, out);
	freeaddrinfo(res);
	return rc;
}

int pk_proxy_create(struct pk_engine *eng, char *err, size_t errlen)
{
	const struct pk_engine_conf *c = eng->conf;
	struct pk_proxy *px = calloc(1, sizeof(*px));

	if (px == NULL) {
		snprintf(err, errlen, "out of memory (proxy)");
		return -1;
	}
	px->n_listeners = eng->n_listeners;
	px->record_route = c->record_route;
	px->secret = eng->tag_secret ^ 0x9e3779b97f4a7c15ull;
	px->key = pk_mix64(px->secret ^ 0xc2b2ae3d27d4eb4full) | 1;
	for (unsigned li = 0; li < eng->n_listeners; li++) {
		struct pk_proxy_listener *l = &px->l[li];
		const struct pk_io_listener *io = &eng->listeners[li];
		const struct pk_engine_listener *cl = NULL;

		/* the configured listener with the same address, role and transport
		 * (bound ports may differ: port 0 asks the kernel) */
		for (uint32_t k = 0; k < c->n_listeners && cl == NULL; k++)
			if (c->listeners[k].role == io->role && c->listeners[k].transport == io->transport &&
			    pk_addr_ip_eq(&c->listeners[k].addr, &io->addr) &&
			    (c->listeners[k].addr.port == io->addr.port || c->listeners[k].addr.port == 0))
				cl = &c->listeners[k];
		l->port = io->addr.port;
		if (cl != NULL && cl->advertise_host.len > 0) {
			if (cl->advertise_host.len >= sizeof(l->host)) {
				snprintf(err, errlen, "advertise: host too long");
				free(px);
				return -1;
			}
			memcpy(l->host, cl->advertise_host.p, cl->advertise_host.len);
			l->host_len = (uint16_t)cl->advertise_host.len;
			if (cl->advertise_port)
				l->port = cl->advertise_port;
		} else if (!pk_addr_is_any(&io->addr)) {
			l->host_len = (uint16_t)px_ip_text(&io->addr, true, l->host);
		}
		l->host_is_ip = l->host_len > 0 && pk_addr_parse_ip(pk_str_make(l->host, l->host_len), &l->addr) == 0;
		if (l->host_len > 0) {
			char *o = px_put(l->sentby, l->host, l->host_len);

			*o++ = ':';
			o = pk_put_u32(o, l->port);
			l->sentby_len = (uint16_t)(o - l->sentby);
		}
	}
	if (c->next_hop.len > 0) {
		struct pk_sip_uri u;

		if (pk_sip_uri_parse(c->next_hop.p, c->next_hop.len, &u) != 0 || u.host.len >= sizeof(px->next_hop_host)) {
			snprintf(err, errlen, "next_hop: '%.*s' is not a usable SIP URI", (int)c->next_hop.len,
				 c->next_hop.p);
			free(px);
			return -1;
		}
		if (px_resolve(u.host, &px->next_hop) != 0) {
			snprintf(err, errlen, "next_hop: cannot resolve '%.*s'", (int)u.host.len, u.host.p);
			free(px);
			return -1;
		}
		px->next_hop.port = u.port ? u.port : 5060;
		memcpy(px->next_hop_host, u.host.p, u.host.len);
		px->next_hop_host_len = (uint16_t)u.host.len;
		px->has_next_hop = true;
	}
	eng->proxy = px;
	return 0;
}

void pk_proxy_destroy(struct pk_engine *eng)
{
	free(eng->proxy);
	eng->proxy = NULL;
}

void pk_proxy_log_counters(const struct pk_worker *w)
{
	char line[2048];
	size_t n = 0;

	for (unsigned c = 0; c < PK_PROXY_CTR_COUNT && n < sizeof(line); c++)
		if (w->proxy_ctr[c] != 0)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu", pk_proxy_ctr_names[c],
					      (unsigned long long)w->proxy_ctr[c]);
	if (n > 0)
		pk_log(PK_LOG_INFO, "worker %u proxy:%s", w->id, line);
}
