/* SPDX-License-Identifier: MIT */
/*
 * The stateless SIP proxy of pickupd (RFC 3261 §16, §16.11): the handlers
 * the worker calls for requests and responses, and the forwarding helpers
 * the pickup logic (dataplane/pickup/pickup.c) shares with it.
 *
 * Statelessness is the design: nothing is remembered about a transaction.
 * What a later message of the same transaction needs is recomputed from it
 * (the Via branch is a keyed hash of the fields a CANCEL and an ACK share
 * with their INVITE) or carried in pickupd's own Via, which every response
 * echoes (`pk=t` a tracked call, `pk=p;pkc=` a pickup, `pkconn=` the TCP
 * connection the request came on). docs/sip-behaviour.md is the
 * behaviour, message by message.
 *
 * struct pk_proxy is built by the control thread at start-up (after the
 * listeners are bound, with the next hop resolved) and read-only while
 * workers run. Everything else here runs on a worker: no allocation, no
 * lock, no syscall, no logging.
 *
 * Private to the daemon (dataplane/); worker.h includes it for the counter
 * list.
 */
#ifndef PICKUP_PROXY_H
#define PICKUP_PROXY_H

#include "pickup/addr.h"
#include "pickup/io.h"

struct pk_engine;
struct pk_worker;
struct pk_worker_handlers;
struct pk_sip_msg;
struct pk_rw;

/*
 * Proxy counters, per worker (X-macro: id, name). Events; each message a
 * handler takes is also counted once in the worker's outcome counters
 * (forwarded, answered_proxy, drop_proxy).
 */
#define PK_PROXY_FOREACH_COUNTER(_)                                                        \
	_(FWD_REQUEST, "fwd_request")           /* requests sent on */                     \
	_(FWD_RESPONSE, "fwd_response")         /* responses sent on (100 included) */     \
	_(FWD_100, "fwd_100")                   /* of which 100 Trying */                  \
	_(ROUTE_POPPED, "route_popped")         /* our own top Route removed */            \
	_(STRICT_ROUTE, "strict_route")         /* Request-URI taken from the last Route */ \
	_(TO_ROUTE, "to_route")                 /* sent to the first Route */              \
	_(TO_LOCATION, "to_location")           /* sent to a registered or static contact */ \
	_(TO_NEXT_HOP, "to_next_hop")           /* sent to the configured next hop */      \
	_(TO_RURI, "to_ruri")                   /* sent to the Request-URI's address */    \
	_(RECORD_ROUTED, "record_routed")       /* Record-Route added */                   \
	_(VIA_RECEIVED, "via_received")         /* received/rport written into a Via */    \
	_(ANSWERED_404, "answered_404")         /* unregistered user, unknown domain */    \
	_(ANSWERED_416, "answered_416")         /* Request-URI scheme */                   \
	_(ANSWERED_420, "answered_420")         /* Proxy-Require */                        \
	_(ANSWERED_480, "answered_480")         /* a sips: target: needs TLS (RFC 5630) */ \
	_(ANSWERED_481, "answered_481")         /* CANCEL of a pickup that is over */      \
	_(ANSWERED_482, "answered_482")         /* loop */                                 \
	_(ANSWERED_483, "answered_483")         /* Max-Forwards 0 */                       \
	_(ANSWERED_503, "answered_503")         /* unresolvable host, no claim record */   \
	_(ANSWERED_OTHER, "answered_other")     /* any other answer of the proxy checks */ \
	_(DROP_ACK, "drop_ack")                 /* an ACK that would have been answered */ \
	_(DROP_RESP_NOT_OURS, "drop_resp_not_ours") /* top Via is not pickupd's */         \
	_(DROP_RESP_ROUTE, "drop_resp_route")   /* no next Via, or broadcast/name */       \
	_(DROP_NO_LISTENER, "drop_no_listener") /* no listener of the destination's family (dpdk ports: on its port) */ \
	_(DROP_REWRITE, "drop_rewrite")         /* the rewritten message did not fit */    \
	_(TCP_AS_UDP, "tcp_as_udp")             /* a TCP destination without a connection */

enum pk_proxy_counter {
#define PK_PROXY_CTR_ENUM(id, name) PK_PROXY_CTR_##id,
	PK_PROXY_FOREACH_COUNTER(PK_PROXY_CTR_ENUM)
#undef PK_PROXY_CTR_ENUM
	PK_PROXY_CTR_COUNT
};

const char *pk_proxy_counter_name(enum pk_proxy_counter c);

/* Our branches: "z9hG4bKpk" <16 hex: transaction> "." <8 hex: loop>. */
#define PK_PROXY_BRANCH_PREFIX "z9hG4bKpk"
#define PK_PROXY_BRANCH_LEN (9 + 16 + 1 + 8)
/* Longest host pickupd advertises (a DNS name, or an IPv6 reference). */
#define PK_PROXY_HOST_MAX 256

/* Where a message goes. */
struct pk_proxy_dst {
	struct pk_addr addr;
	uint8_t transport; /* enum pk_transport */
	uint8_t listener;  /* listener to send from (UDP); set by pk_proxy_send when 0xff */
	uint64_t conn;	   /* TCP connection, PK_IO_CONN_NONE for UDP */
};

/* What a listener advertises (Via sent-by, Record-Route). */
struct pk_proxy_listener {
	char host[PK_PROXY_HOST_MAX]; /* empty: wildcard without advertise (use rx->dst) */
	uint16_t host_len;
	uint16_t port;	   /* advertised port */
	bool host_is_ip;   /* host is an IP literal, parsed in addr */
	struct pk_addr addr; /* host as an address (when host_is_ip) */
	/* "host:port" as our Via and Record-Route write it (when host_len):
	 * copied whole rather than formatted for every forwarded request */
	uint16_t sentby_len;
	char sentby[PK_PROXY_HOST_MAX + 8];
};

/* Read-only after pk_proxy_create. */
struct pk_proxy {
	unsigned n_listeners;
	struct pk_proxy_listener l[PK_IO_MAX_LISTENERS];
	bool has_next_hop;
	struct pk_addr next_hop;	       /* resolved at start-up, port filled in */
	char next_hop_host[PK_PROXY_HOST_MAX]; /* as written in the URI */
	uint16_t next_hop_host_len;
	bool record_route;
	uint64_t secret; /* keys the branch hashes: their seed */
	uint64_t key;	 /* and the word every 16 bytes are mixed with (from secret) */
};

/*
 * A request being forwarded: the rewrite plan and what goes into our Via.
 * pk_proxy_fwd_begin fills it; the caller adds its edits to rw; then
 * pk_proxy_fwd_send pushes our Via and sends.
 */
struct pk_proxy_fwd {
	struct pk_rw *rw;
	uint64_t txn;	  /* branch, first part */
	uint32_t loop;	  /* branch, loop-detection part */
	char params[80];  /* extra Via params, each starting with ';' */
	uint32_t params_len;
	bool record_route; /* a dialog-creating request: Record-Route if configured */
	struct pk_proxy_dst dst;
	/* Decided by pk_proxy_fwd_begin, planned by pk_proxy_fwd_send after
	 * our Via (then every edit of the common request lands after the
	 * ones planned before it: no sorted insertion in the rewriter). */
	bool rcv;	   /* received/rport to write into the client's Via */
	bool maxfwd_dec;   /* Max-Forwards to decrement */
	bool reason;	   /* a CANCEL's Reason (PK_PICKUP_REASON) to add, last */
	bool via_planned;  /* listener chosen, our Via planned (pk_proxy_fwd_via) */
	int16_t li;	   /* that listener (-1: none), once via_planned */
	uint8_t rcv_ip_len; /* received= value (0: none) */
	uint16_t rcv_port;  /* rport= value (0: none) */
	char rcv_ip[48];
};

/* ---- control thread ---- */

/* Install the proxy's handlers (every request method but REGISTER, and
 * responses) into h. Before pk_engine_prepare. */
void pk_proxy_handlers_install(struct pk_worker_handlers *h);

/* Build eng->proxy from eng->conf and eng->listeners (as bound): what each
 * listener advertises, the next hop (a name is resolved now with
 * getaddrinfo). 0, or -1 with a reason in err. */
int pk_proxy_create(struct pk_engine *eng, char *err, size_t errlen);
void pk_proxy_destroy(struct pk_engine *eng);

/* Log a worker's proxy counters (info), leaving out zeros. After the
 * worker stopped. */
void pk_proxy_log_counters(const struct pk_worker *w);

/* ---- handlers (worker) ---- */

void pk_proxy_handle_request(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);
void pk_proxy_handle_response(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);

/* ---- helpers for the pickup logic (worker) ---- */

/*
 * Is host (a SIP URI or Via host) with port (0: the default 5060) pickupd:
 * one of its advertised host:ports, or an address of one of its listeners
 * on that port (a wildcard listener: the address rx came to)?
 */
bool pk_proxy_is_us(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host, uint16_t port);

/*
 * Is host (of a Request-URI or From URI with a user part) ours: a served
 * domain (*domain = that domain, lowercase), or pickupd's own address and
 * port (*domain = the default domain)?
 */
bool pk_proxy_local_domain(const struct pk_worker *w, const struct pk_io_msg *rx, struct pk_str host,
			   uint16_t port, struct pk_str *domain);

/*
 * Where a URI (a Route, a Record-Route, a Request-URI) points: its IP
 * literal, or the next hop's address when it names the next hop's host;
 * port from the URI (default 5060); transport UDP (see
 * docs/sip-behaviour.md §2). 0, -EHOSTUNREACH for a host name, or
 * -EPROTONOSUPPORT for a sips: URI (reached over TLS only, RFC 5630 §4,
 * which pickupd does not speak: never sent in the clear).
 */
int pk_proxy_uri_dst(const struct pk_worker *w, struct pk_str uri, struct pk_proxy_dst *dst);

/*
 * Start forwarding msg: rewrite plan on w's scratch, the branch computed,
 * received/rport on the received top Via and Max-Forwards decremented
 * (decided and counted here, planned by pk_proxy_fwd_send).
 */
void pk_proxy_fwd_begin(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
			struct pk_proxy_fwd *f);

/*
 * Plan now the client Via's received/rport and the Max-Forwards decrement
 * that pk_proxy_fwd_begin decided (pk_proxy_fwd_send does it otherwise).
 * For speed only: a caller about to edit lines further down the message
 * (Route, Replaces, Require, Reason) calls it first, so that the rewriter
 * appends each edit instead of inserting it among later ones. The bytes
 * sent are the same either way.
 */
void pk_proxy_fwd_plan(struct pk_proxy_fwd *f);

/*
 * Choose the listener f->dst leaves from and plan our Via now, with the
 * parameters added so far (pk_proxy_fwd_send does it otherwise, and then
 * does not again). For speed only, like pk_proxy_fwd_plan: a caller that
 * set the Request-URI and is about to edit lines below the first Via calls
 * it between the two, so that our Via (which goes above the client's) is
 * appended to the plan instead of inserted among later edits. The bytes
 * sent, the counters and the errors are the same either way: the listener
 * is chosen (and tcp_as_udp counted) once, and a missing one is still
 * pk_proxy_fwd_send's drop_no_listener.
 */
void pk_proxy_fwd_via(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_fwd *f);

/* Append a Via parameter (";name=value", ";name" for an empty value) to
 * the Via that pk_proxy_fwd_via or pk_proxy_fwd_send writes (before it
 * is written); left out when f->params is full. */
void pk_proxy_fwd_param_n(struct pk_proxy_fwd *f, const char *name, size_t name_len, struct pk_str value);

/* The same for a NUL-terminated name: inline, so that the length of a
 * literal name is known when compiling. */
static inline void pk_proxy_fwd_param(struct pk_proxy_fwd *f, const char *name, struct pk_str value)
{
	pk_proxy_fwd_param_n(f, name, strlen(name), value);
}

/*
 * Push our Via, add Record-Route if due, emit and queue the request to
 * f->dst. Counts fwd_request and the worker's `forwarded` outcome, or a
 * drop (drop_rewrite, drop_no_listener). Returns 0 or a negative errno.
 */
int pk_proxy_fwd_send(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_proxy_fwd *f);

/*
 * Answer the request (counted: the worker's answered_proxy outcome and
 * counter c of the proxy or, for c < 0, none) with
 * "Warning: 399 <agent> "<text>"" (agent: "pickupd" when NULL). An ACK is
 * dropped instead (drop_ack).
 */
void pk_proxy_answer(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		     unsigned status, const char *agent, const char *text, int c);

/* The host pickupd advertises on listener li (for Warning agents and
 * Record-Route); rx gives the address for a wildcard listener. Writes at
 * most cap bytes to out and returns the length. */
size_t pk_proxy_advertised_host(const struct pk_worker *w, const struct pk_io_msg *rx, unsigned li,
				char *out, size_t cap);

/* Count a message the handler dropped (the worker's drop_proxy outcome and
 * proxy counter c). */
void pk_proxy_drop(struct pk_worker *w, enum pk_proxy_counter c);

#endif /* PICKUP_PROXY_H */
