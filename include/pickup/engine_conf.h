/* SPDX-License-Identifier: MIT */
/*
 * The engine settings file of pickupd (`pickupd -c FILE`, YAML; every key is
 * in docs/config.md): where to listen, how many workers, which domains are
 * served, where the groups file is, trusted networks, static bindings,
 * timers, table sizes, the control socket path and logging.
 *
 * Loading yields either a complete, validated object or nothing plus one
 * error "file:line:col: reason" (the first error found): unknown keys,
 * duplicate keys, wrong types and bad values are all errors, so a typo
 * never silently falls back to a default. The groups file is loaded
 * separately (include/pickup/groups_conf.h); pk_engine_conf_resolve() then
 * checks the two files against each other.
 *
 * Control plane only: nothing here is called by workers. Workers read the
 * resulting plain data (listeners, domains, trusted networks) through the
 * engine object built at start-up, which never changes while they run.
 */
#ifndef PICKUP_ENGINE_CONF_H
#define PICKUP_ENGINE_CONF_H

#include "pickup/addr.h"
#include "pickup/groups.h"
#include "pickup/log.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_groups_conf;

#define PK_ENGINE_MAX_WORKERS 64
#define PK_ENGINE_MAX_LISTENERS 32
#define PK_ENGINE_MAX_TRUSTED 256
#define PK_ENGINE_MAX_CONTACTS 8 /* contacts of one static binding */
#define PK_ENGINE_SOCKET_PATH_MAX 107 /* sun_path, NUL excluded */

/*
 * X-macro: listener role, name in the file, default port. The proxy port is
 * where phones and trunks send their SIP; the application-server port is
 * where a front-end server (Lync/Skype for Business routes Call Park and
 * pickup numbers to its application on TCP 5075) hands calls to pickupd.
 * Both are served by the same pipeline; the role travels with each message
 * so that the routing logic can tell them apart.
 */
#define PK_LISTEN_FOREACH_ROLE(_) \
	_(PROXY, "proxy", 5060)   \
	_(APP, "app", 5075)

enum pk_listen_role {
#define PK_LISTEN_ROLE_ENUM(id, name, port) PK_LISTEN_##id,
	PK_LISTEN_FOREACH_ROLE(PK_LISTEN_ROLE_ENUM)
#undef PK_LISTEN_ROLE_ENUM
	PK_LISTEN_ROLE_COUNT
};

struct pk_engine_listener {
	struct pk_addr addr; /* port 0: any free port (see pickupd --ready-file) */
	uint8_t role;	     /* enum pk_listen_role */
	uint8_t transport;   /* enum pk_transport */
	uint32_t line;	     /* where it is configured; 0 for a default */
	/* What pickupd writes in its Via and Record-Route for this listener
	 * (`advertise:`): host as written in a SIP URI (a name, an IPv4
	 * address or a [IPv6] reference) and port (0: the listener's). Empty
	 * host: the listener's own address. */
	struct pk_str advertise_host;
	uint16_t advertise_port;
};

/* A static binding: requests for aor go to these contacts, as if the phone
 * had registered them (trunks, gateways, phones that cannot register). */
struct pk_engine_binding {
	struct pk_str user;   /* user part, normalised (pk_groups_user_normalize) */
	struct pk_str domain; /* lowercase; empty until resolved when written
			       * without a domain (the default domain) */
	uint32_t n_contacts;
	struct pk_str contacts[PK_ENGINE_MAX_CONTACTS]; /* sip:/sips: URIs as written */
	uint32_t line, col; /* of the AoR */
};

/* All timers in seconds. */
struct pk_engine_timers {
	uint32_t ring_timeout;		/* hard limit of the ringing table (see resolve) */
	uint32_t claim_timeout;		/* an unanswered pickup INVITE releases its call */
	uint32_t register_min_expires;	/* shorter REGISTER expiry: 423 */
	uint32_t register_max_expires;	/* longer: lowered to this */
	uint32_t register_default_expires; /* REGISTER without an expiry */
	uint32_t tcp_idle_timeout;	/* TCP connection without traffic: closed */
};

struct pk_engine_capacity {
	uint32_t calls;		  /* ringing-call table entries */
	uint32_t registrations;	  /* location table entries (registrar) */
	uint32_t groups;	  /* group ids in the group index */
	uint32_t users;		  /* user ids in the group index */
	uint32_t tcp_connections; /* open SIP/TCP connections, all workers */
	uint32_t group_flat_max;  /* flat lookup tables while <= this many groups, users */
};

/* limits: per-source request rate limiting (include/pickup/ratelimit.h,
 * docs/config.md). Per worker; requests_per_second 0: off. */
enum pk_limits_over {
	PK_LIMITS_REPLY, /* 503 with Retry-After while the over budget lasts, then drop */
	PK_LIMITS_DROP,	 /* drop silently */
};

struct pk_engine_limits {
	uint32_t requests_per_second; /* per source IP and worker; 0: no limit */
	uint32_t burst;		      /* bucket size; 0: twice requests_per_second */
	uint32_t retry_after;	      /* seconds, in the 503 */
	uint8_t over;		      /* enum pk_limits_over */
	bool exempt_trusted;	      /* sources in trusted networks are not limited */
};

/* Which packet I/O backend (include/pickup/io.h). */
enum pk_io_backend_kind {
	PK_IO_SOCKET, /* kernel UDP/TCP sockets */
	PK_IO_DPDK,   /* a DPDK port, UDP only (include/pickup/io_dpdk.h, docs/dpdk.md) */
};

#define PK_ENGINE_MAX_EAL_ARGS 64
#define PK_ENGINE_MAX_DPDK_PORTS 4  /* PK_IO_DPDK_MAX_PORTS */
#define PK_ENGINE_MAX_PORT_ADDRS 8  /* PK_NET_MAX_ADDRS */
#define PK_ENGINE_MAX_ROUTES 16	    /* PK_NET_MAX_ROUTES: static routes of a port */

/* A static route of a DPDK port ("10.50.0.0/16 via 10.98.3.254"):
 * datagrams to the prefix go to the next hop instead of the gateway. */
struct pk_engine_route {
	uint32_t net;	     /* IPv4, network order, no host bits */
	uint32_t prefix_len; /* 1..32 */
	uint32_t via;	     /* IPv4, network order */
	uint32_t line;	     /* where it is configured */
};

/* One of io.dpdk.ports (several ports, docs/dpdk.md). */
struct pk_engine_dpdk_port {
	const char *port; /* as io.dpdk.port */
	uint32_t n_addrs;
	uint32_t addrs[PK_ENGINE_MAX_PORT_ADDRS]; /* IPv4, network order */
	uint32_t prefix_len, gateway, vlan, mtu;   /* as the one port's below */
	uint32_t line;				   /* where it is configured */
	uint32_t gateway_line;			   /* where its gateway is */
	uint32_t n_routes;
	struct pk_engine_route routes[PK_ENGINE_MAX_ROUTES];
};

/* io.dpdk: the DPDK port(s) and the EAL (docs/config.md, docs/dpdk.md). */
struct pk_engine_dpdk {
	uint32_t n_eal;
	const char *eal[PK_ENGINE_MAX_EAL_ARGS]; /* EAL options, in order */
	/* io.dpdk.ports: several ports, each with its addresses; 0: the one
	 * port below, on every listener's address. */
	uint32_t n_ports;
	struct pk_engine_dpdk_port ports[PK_ENGINE_MAX_DPDK_PORTS];
	const char *port;	  /* "0", an ethdev name ("net_af_packet0"), a PCI address */
	uint32_t prefix_len;	  /* on-link prefix of the listener addresses (24) */
	uint32_t gateway;	  /* next hop off-link, IPv4 network order; 0: none */
	uint32_t gateway_line;	  /* where it is */
	uint32_t n_routes;	  /* static routes of the one port */
	struct pk_engine_route routes[PK_ENGINE_MAX_ROUTES];
	uint32_t vlan;		  /* 802.1Q VLAN id, 0: untagged */
	uint32_t mtu;		  /* IP MTU, 0: the port's */
	uint32_t mbufs;		  /* mempool size, 0: from the queues (pk_io_dpdk_mbufs_needed) */
	uint32_t data_room;	  /* mbuf data room incl. headroom, 0: 2176 */
	uint32_t rx_desc, tx_desc; /* per queue, 0: 1024 */
	uint32_t tx_drain_us;	  /* a partly filled TX burst leaves after, 0: 100 */
};

struct pk_engine_conf {
	const char *path;	   /* the file as given */
	const char *dir;	   /* its directory: base of relative paths */
	const char *groups_path;   /* groups file, resolved against dir */
	const char *control_socket; /* resolved against dir; "" for `none` (no socket) */
	bool control_socket_set;    /* the file names it (else the default is in force) */
	const char *metrics_listen; /* HTTP /metrics listener "ip:port"; "": none */
	bool telemetry;		    /* DPDK telemetry socket (socket backend: a minimal EAL) */

	uint32_t workers;
	uint32_t n_listeners;
	struct pk_engine_listener listeners[PK_ENGINE_MAX_LISTENERS];
	bool listen_default; /* no listen: key: the defaults are in force */

	/* Served domains: only .domains/.domain_len/.n_domains are used. Empty
	 * until pk_engine_conf_resolve when the file has no domains: key
	 * (then the groups file's domains are served). */
	struct pk_groups_settings served;

	uint32_t n_trusted;
	struct pk_cidr trusted[PK_ENGINE_MAX_TRUSTED];

	uint32_t n_bindings;
	struct pk_engine_binding *bindings;

	struct pk_engine_timers timers;
	struct pk_engine_capacity capacity;

	enum pk_io_backend_kind backend;
	uint32_t socket_buffer; /* SO_RCVBUF/SO_SNDBUF bytes; 0: kernel default */
	struct pk_engine_dpdk dpdk; /* io.dpdk, for backend PK_IO_DPDK */
	uint32_t dpdk_line;	    /* the line of io.dpdk, 0: not given (with backend socket
				     * it is ignored: pickupd warns, pk_engine_conf_dpdk_ignored) */

	enum pk_log_level log_level;
	enum pk_log_target log_target;

	/* Routing (docs/config.md, docs/sip-behaviour.md). */
	struct pk_str next_hop; /* sip: URI for requests to other domains; empty: none */
	bool record_route;	/* add a Record-Route to dialog-creating requests */

	struct pk_engine_limits limits; /* limits: (docs/config.md) */

	void *priv_; /* owned storage */
};

#define PK_ENGINE_CONF_ERRMAX 512

/* Why a load failed: code is a negative errno (-EINVAL bad content,
 * -ENOENT/-EACCES/... opening the file, -ENOMEM); msg is
 * "file:line:col: reason" (line/col 0 when not tied to a place). */
struct pk_engine_conf_error {
	int code;
	uint32_t line, col;
	char msg[PK_ENGINE_CONF_ERRMAX];
};

/* Load and validate an engine settings file. NULL on error, with *err
 * filled (err may be NULL). Control thread. */
struct pk_engine_conf *pk_engine_conf_load(const char *path, struct pk_engine_conf_error *err);

/* The same from memory: name is used in messages, dir is the base of
 * relative paths ("." if NULL). */
struct pk_engine_conf *pk_engine_conf_parse(const char *buf, size_t len, const char *name,
					    const char *dir, struct pk_engine_conf_error *err);

/*
 * Check the settings against the loaded groups file and complete them:
 * with no domains: key the groups file's domains are served; otherwise
 * every domain of the groups file must be served. The groups file's
 * settings.ring_timeout (the pickup service's, reloadable) may not exceed
 * timers.ring_timeout (the ringing table's hard limit, fixed at start-up).
 * Its groups and users must fit capacity.groups and capacity.users. Static
 * bindings written without a domain get the default (first) domain, and
 * every binding's domain must be served; two bindings of the same AoR are
 * an error, and so are more static contacts than capacity.registrations
 * (so --check refuses what start-up would). 0, or -EINVAL with *err (message
 * "file:line:col: reason" naming the engine file, or the groups file when
 * the fault is there). Control thread.
 */
int pk_engine_conf_resolve(struct pk_engine_conf *c, const struct pk_groups_conf *groups,
			   struct pk_engine_conf_error *err);

/*
 * The same cross-check for a groups file reloaded while pickupd runs, on
 * settings already resolved, changing nothing: every domain of the groups
 * file must be served (the served set is fixed at start-up) and its
 * settings.ring_timeout may not exceed timers.ring_timeout. 0, or -EINVAL
 * with *err ("file: reason" naming the groups file). Control thread.
 */
int pk_engine_conf_check_groups(const struct pk_engine_conf *c, const struct pk_groups_conf *groups,
				struct pk_engine_conf_error *err);

void pk_engine_conf_free(struct pk_engine_conf *c);

/* The line of an io.dpdk section that the socket backend leaves unused
 * (io.backend socket, or none given), 0 when there is none: pickupd warns
 * about it, so that `ports:` written without `backend: dpdk` is not a
 * silent socket run. */
uint32_t pk_engine_conf_dpdk_ignored(const struct pk_engine_conf *c);

/* Names for logs and the ready file. Any thread. */
const char *pk_listen_role_name(enum pk_listen_role r);

/* The ring timeout (seconds) the ringing-call table applies: the groups
 * file's settings.ring_timeout, within the hard limit timers.ring_timeout.
 * Any thread (pure). */
uint32_t pk_engine_conf_ring_timeout(const struct pk_engine_conf *c,
				     const struct pk_groups_conf *groups);

/* Is a within one of the trusted networks? Any thread (pure). */
bool pk_engine_conf_trusted(const struct pk_engine_conf *c, const struct pk_addr *a);

/*
 * The trusted networks as the workers read them while pickupd runs: an
 * immutable object that the control thread replaces as a whole (`set
 * trusted` on the control socket) and publishes through an RCU pointer
 * (struct pk_engine.trusted, dataplane/worker.h); the start-up list is
 * c->trusted.
 */
struct pk_trusted_set {
	uint32_t n;
	struct pk_cidr net[PK_ENGINE_MAX_TRUSTED];
};

/* Is a within one of the networks of t? Worker-safe (pure). */
bool pk_trusted_set_match(const struct pk_trusted_set *t, const struct pk_addr *a);
/* t := the networks of the engine settings. Any thread (pure). */
void pk_trusted_set_from_conf(struct pk_trusted_set *t, const struct pk_engine_conf *c);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_ENGINE_CONF_H */
