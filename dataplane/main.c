/* SPDX-License-Identifier: MIT */
/*
 * pickupd: start-up and shutdown.
 *
 *   pickupd -c FILE [--check] [--ready-file PATH]
 *
 * Start-up loads and cross-checks the engine settings and the groups file,
 * builds what the workers share (the group index, the ringing-call table,
 * the RCU domain, the I/O backend with every socket bound), starts one
 * worker thread per configured worker and only then announces readiness
 * (the optional ready file). The main thread stays the control thread: its
 * event loop (control/ctl.c) takes the signals, runs the periodic
 * housekeeping of the shared tables (expiry sweep, RCU reclamation) and
 * serves the control socket (docs/control.md).
 *
 * SIGTERM, SIGINT or the `shutdown` command stops the workers (a release
 * store of the stop flag, then a wake-up of every queue), joins them, logs
 * their counters, and frees everything in the reverse order of creation;
 * the exit status is 0. SIGHUP reloads the groups file. Signals are blocked
 * in every thread and read by the control loop from a signalfd, so no code
 * runs in a signal handler.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pickup/calltab.h"
#include "pickup/engine_conf.h"
#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/io.h"
#include "pickup/io_dpdk.h"
#include "pickup/location.h"
#include "pickup/log.h"
#include "pickup/rcu.h"
#include "pickup/sip_slow.h"
#include "ctl.h"
#include "pickup/metrics.h"
#include "proxy/registrar.h"
#include "worker.h"

_Static_assert(PK_ENGINE_MAX_DPDK_PORTS == PK_IO_DPDK_MAX_PORTS, "io.dpdk.ports: as many as the backend");
_Static_assert(PK_ENGINE_MAX_PORT_ADDRS == PK_NET_MAX_ADDRS, "a port's addresses: as many as pk_net");
_Static_assert(PK_ENGINE_MAX_ROUTES == PK_NET_MAX_ROUTES, "a port's routes: as many as pk_net");

/* A port's static routes as pk_net takes them; how many. */
static uint8_t pk_routes_to_net(const struct pk_engine_route *r, uint32_t n, struct pk_net_route *out)
{
	for (uint32_t i = 0; i < n; i++)
		out[i] = (struct pk_net_route){ .net = r[i].net, .via = r[i].via, .prefix_len = (uint8_t)r[i].prefix_len };
	return (uint8_t)n;
}

#ifndef PK_VERSION
#define PK_VERSION "unknown"
#endif


struct pk_args {
	const char *config;
	const char *ready_file;
	bool check;
};

static void pk_usage(FILE *f)
{
	fprintf(f,
		"usage: pickupd -c FILE [--check] [--ready-file PATH]\n"
		"       pickupd --help | --version\n"
		"\n"
		"Group Call Pickup SIP engine (docs/operations.md, docs/config.md).\n"
		"\n"
		"  -c, --config FILE      engine settings (YAML); the groups file it names is\n"
		"                         loaded too\n"
		"      --check            validate the settings and the groups file, print \"ok\"\n"
		"                         or the first error as file:line:col, exit 0 or 1\n"
		"      --ready-file PATH  once every listener is bound and the workers run,\n"
		"                         write \"pid N\", one line per listener\n"
		"                         (\"udp proxy 127.0.0.1:5060\"), \"control PATH\",\n"
		"                         \"metrics ADDR\", \"telemetry PATH\" for what is\n"
		"                         served, and \"ready\" to PATH\n"
		"                         (a FIFO is written in place, a file replaced\n"
		"                         atomically and removed at exit)\n"
		"  -h, --help             this text\n"
		"  -V, --version          the version\n"
		"\n"
		"Runs in the foreground; SIGTERM or SIGINT stops it (exit status 0), SIGHUP\n"
		"reloads the groups file; the control socket (docs/control.md) serves pickupctl.\n");
}

/* 0: run; 1: exit 0 (help/version); -1: usage error. */
static int pk_args_parse(int argc, char **argv, struct pk_args *a)
{
	enum { OPT_CHECK = 256, OPT_READY };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case OPT_CHECK:
			a->check = true;
			break;
		case OPT_READY:
			a->ready_file = optarg;
			break;
		case 'h':
			pk_usage(stdout);
			return 1;
		case 'V':
			printf("pickupd %s\n", PK_VERSION);
			return 1;
		default:
			pk_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pickupd: unexpected argument '%s'\n", argv[optind]);
		pk_usage(stderr);
		return -1;
	}
	if (a->config == NULL) {
		fprintf(stderr, "pickupd: -c FILE is required\n");
		pk_usage(stderr);
		return -1;
	}
	return 0;
}

/* Both files, cross-checked. On error prints "file:line:col: reason" on
 * stderr and returns NULL. */
static struct pk_engine_conf *pk_load_config(const char *path, struct pk_groups_conf **groups)
{
	struct pk_engine_conf_error err;
	struct pk_groups_conf_error gerr;
	struct pk_engine_conf *conf;

	*groups = NULL;
	conf = pk_engine_conf_load(path, &err);
	if (conf == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	*groups = pk_groups_conf_load(conf->groups_path, &gerr);
	if (*groups == NULL) {
		fprintf(stderr, "%s\n", gerr.msg);
		pk_engine_conf_free(conf);
		return NULL;
	}
	if (pk_engine_conf_resolve(conf, *groups, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		pk_groups_conf_free(*groups);
		*groups = NULL;
		pk_engine_conf_free(conf);
		return NULL;
	}
	return conf;
}

static int pk_ready_write(const char *path, const struct pk_engine *eng, const char *ctl_path,
			  const char *metrics_addr, const char *telemetry_path)
{
	char tmp[4096];
	struct stat st;
	bool fifo = stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
	FILE *f;

	if (!fifo && (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(fifo ? path : tmp, "w");
	if (f == NULL)
		return -errno;
	fprintf(f, "pid %d\n", (int)getpid());
	for (unsigned i = 0; i < eng->n_listeners; i++) {
		char a[PK_ADDR_STRLEN];

		pk_addr_format(&eng->listeners[i].addr, true, a, sizeof(a));
		fprintf(f, "%s %s %s\n", pk_transport_name((enum pk_transport)eng->listeners[i].transport),
			pk_listen_role_name((enum pk_listen_role)eng->listeners[i].role), a);
	}
	if (ctl_path != NULL)
		fprintf(f, "control %s\n", ctl_path);
	if (metrics_addr != NULL)
		fprintf(f, "metrics %s\n", metrics_addr);
	if (telemetry_path != NULL)
		fprintf(f, "telemetry %s\n", telemetry_path);
	fprintf(f, "ready\n");
	if (fclose(f) != 0 || (!fifo && rename(tmp, path) != 0)) {
		int e = errno;

		/* a failed start leaves nothing behind (PATH a directory:
		 * the rename fails after the temporary file is written) */
		if (!fifo)
			unlink(tmp);
		return -e;
	}
	return fifo ? 1 : 0;
}

static void pk_log_startup(const struct pk_engine *eng, const struct pk_groups_conf *groups)
{
	const struct pk_engine_conf *c = eng->conf;
	char line[1024];
	size_t n = 0;

	for (unsigned i = 0; i < eng->n_listeners && n < sizeof(line); i++) {
		char a[PK_ADDR_STRLEN];

		pk_addr_format(&eng->listeners[i].addr, true, a, sizeof(a));
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %s (%s)", i ? ", " : "",
				      pk_transport_name((enum pk_transport)eng->listeners[i].transport), a,
				      pk_listen_role_name((enum pk_listen_role)eng->listeners[i].role));
	}
	pk_log(PK_LOG_INFO, "pickupd %s: %u worker(s), %s backend; listening on %s", PK_VERSION,
	       eng->n_workers, eng->io->ops->name, line);
	n = 0;
	line[0] = '\0';
	for (uint32_t i = 0; i < c->served.n_domains && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i ? ", " : "", c->served.domains[i]);
	pk_log(PK_LOG_INFO, "served domains: %s; groups: %u groups, %u users from %s; %u static "
			    "binding(s); %u trusted network(s)",
	       line, groups->n_groups, groups->n_users, c->groups_path, c->n_bindings, c->n_trusted);
	pk_log(PK_LOG_INFO, "ringing-call table: %u calls, %.1f MiB", c->capacity.calls,
	       (double)pk_calltab_memory(eng->calltab) / (1024.0 * 1024.0));
	pk_log(PK_LOG_INFO, "location table: %u bindings, %.1f MiB", c->capacity.registrations,
	       (double)pk_location_memory(eng->location) / (1024.0 * 1024.0));
	pk_log(PK_LOG_INFO, "routing: %s%.*s, record_route %s", c->next_hop.len ? "next hop " : "no next hop",
	       (int)c->next_hop.len, c->next_hop.p, c->record_route ? "on" : "off");
	pk_log(PK_LOG_NOTICE, "this build registers phones, proxies requests (stateless) and offers "
			      "Group Call Pickup (see docs/sip-behaviour.md)");
}

/* At a stop, the dpdk backend's network counters of each port (summed
 * over the queues) and the port's own, the ones not zero, as the stats'
 * `net` has them:
 *   info: port net_af_packet0 net: rx_frames=40 arp_replied=1 ... */
static void pk_log_net_counters(const struct pk_engine *eng)
{
	enum { NET = PK_NET_CTR_COUNT, ALL = PK_NET_CTR_COUNT + PK_IO_DPDK_PORT_CTR_COUNT };
	const char *name[ALL];

	for (unsigned c = 0; c < ALL; c++)
		name[c] = c < NET ? pk_net_counter_name((enum pk_net_counter)c)
				  : pk_io_dpdk_port_counter_name((enum pk_io_dpdk_port_counter)(c - NET));
	for (unsigned p = 0; p < pk_io_dpdk_n_ports(eng->io); p++) {
		uint64_t v[ALL] = { 0 };
		char line[1280];
		size_t len = 0;

		pk_io_dpdk_port_net_totals(eng->io, p, v);
		pk_io_dpdk_port_stats(eng->io, p, v + NET); /* zeros when the driver does not answer */
		line[0] = '\0';
		for (unsigned c = 0; c < ALL && len < sizeof(line); c++)
			if (v[c] != 0)
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%llu", name[c],
							(unsigned long long)v[c]);
		pk_log(PK_LOG_INFO, "port %s net:%s", pk_io_dpdk_port_name(eng->io, p),
		       len ? line : " (no traffic)");
	}
}

/* The control thread's periodic work: expire ringing calls and claims,
 * free what RCU says no worker can see any more. */
static void pk_housekeep(struct pk_engine *eng, unsigned tid)
{
	pk_engine_housekeep(eng, tid, PK_ENGINE_RECLAIM_WAIT_NS);
}

/* The HTTP /metrics listener's page: the stats as Prometheus text. Runs on
 * the control thread (pk_metrics_http_run from the control loop). */
static char *pk_metrics_render(void *arg)
{
	json_t *st = pk_ctl_stats_json(arg);
	char *text = st != NULL ? pk_metrics_prometheus(st) : NULL;

	json_decref(st);
	return text;
}

static void pk_metrics_poll(void *arg)
{
	pk_metrics_http_run(arg);
}

/* DPDK telemetry's snapshot, on DPDK's telemetry thread(s). The lock keeps
 * main() from freeing the workers while a snapshot reads them: main clears
 * pk_tel_eng under it before the teardown. */
static pthread_mutex_t pk_tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pk_engine *pk_tel_eng;

static json_t *pk_telemetry_snapshot(void *arg)
{
	json_t *st = NULL;

	(void)arg;
	pthread_mutex_lock(&pk_tel_lock);
	if (pk_tel_eng != NULL)
		st = pk_ctl_stats_json(pk_tel_eng);
	pthread_mutex_unlock(&pk_tel_lock);
	return st;
}

static uint64_t pk_secret(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s))
		s = pk_clock_ns() ^ ((uint64_t)getpid() << 32);
	return s;
}

int main(int argc, char **argv)
{
	struct pk_worker *workers[PK_ENGINE_MAX_WORKERS] = { NULL };
	struct pk_groups_conf *groups = NULL;
	struct pk_engine_conf *conf = NULL;
	struct pk_engine *eng = NULL;
	struct pk_groups_params gp;
	struct pk_calltab_config ct;
	struct pk_io_config iocfg;
	struct pk_ctl_config ctlcfg;
	struct pk_trusted_set *trusted;
	struct pk_args args;
	sigset_t sigs;
	char err[256];
	unsigned started = 0, ctl_tid = 0;
	bool ready_written = false, ctl_registered = false, dpdk = false, eal_up = false;
	char metrics_addr[PK_ADDR_STRLEN] = "";
	const char *telemetry_path = NULL;
	struct pk_metrics_http *metrics = NULL;
	bool telemetry_up = false;
	int rc, status = 1;

	rc = pk_args_parse(argc, argv, &args);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	conf = pk_load_config(args.config, &groups);
	if (conf == NULL)
		return 1;
	if (args.check) {
		if (pk_engine_conf_dpdk_ignored(conf) != 0)
			fprintf(stderr, "warning: %s:%u: io.dpdk is ignored: io.backend is socket\n", conf->path,
				pk_engine_conf_dpdk_ignored(conf));
		printf("ok: %s, %s (%u groups, %u users, %u memberships)\n", conf->path, conf->groups_path,
		       groups->n_groups, groups->n_users, groups->n_members);
		pk_groups_conf_free(groups);
		pk_engine_conf_free(conf);
		return 0;
	}
	pk_log_open("pickupd", conf->log_target, conf->log_level);
	if (pk_engine_conf_dpdk_ignored(conf) != 0)
		pk_log(PK_LOG_WARNING, "%s:%u: io.dpdk is ignored: io.backend is socket", conf->path,
		       pk_engine_conf_dpdk_ignored(conf));

	/* Every thread created from here on inherits this mask: the signals
	 * reach only the control loop's signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (pk_sip_slow_init() != 0) {
		pk_log(PK_LOG_ERROR, "libosip2 initialisation failed");
		goto out;
	}
	eng = calloc(1, sizeof(*eng));
	if (eng == NULL) {
		pk_log(PK_LOG_ERROR, "out of memory");
		goto out;
	}
	eng->conf = conf;
	eng->n_workers = conf->workers;
	eng->tag_secret = pk_secret();
	eng->start_ns = pk_clock_ns();
	atomic_init(&eng->stop, false);
	pk_worker_handlers_init(&eng->handlers);
	pk_proxy_handlers_install(&eng->handlers); /* every request but REGISTER, responses */
	eng->handlers.request[PK_SIP_REGISTER] = pk_registrar_handle;
	/* (the proxy, registrar and pickup steps install their handlers here) */
	pk_engine_prepare(eng);

	/* The EAL starts before any other thread (its own threads inherit the
	 * signal mask above): the dpdk backend's, with the configured options
	 * (docs/dpdk.md), or, for DPDK telemetry on the socket backend, a
	 * minimal one only for its telemetry socket. */
	dpdk = conf->backend == PK_IO_DPDK;
	/* With the dpdk backend the stats are always on its EAL's telemetry
	 * socket (standard DPDK tooling reads them); `telemetry: true` adds
	 * one to the socket backend. */
	if (conf->telemetry || dpdk) {
		if (pk_telemetry_register(pk_telemetry_snapshot, NULL) != 0 ||
		    (!dpdk && pk_telemetry_eal_init("pickupd", err, sizeof(err)) != 0)) {
			pk_log(PK_LOG_ERROR, "telemetry: %s", err);
			goto out;
		}
		telemetry_up = !dpdk;
	}
	if (dpdk) {
		if (pk_io_dpdk_eal_init(argv[0], conf->dpdk.eal, conf->dpdk.n_eal, err, sizeof(err)) != 0) {
			pk_log(PK_LOG_ERROR, "%s", err);
			goto out;
		}
		eal_up = true;
	}
	/* NULL when the EAL runs without telemetry (--no-telemetry) */
	telemetry_path = pk_telemetry_socket_path();
	if (telemetry_path != NULL)
		pk_log(PK_LOG_INFO, "telemetry: DPDK telemetry socket %s", telemetry_path);

	/* Shared tables: the workers are RCU readers 0..n-1, this thread n. */
	ctl_tid = conf->workers;
	eng->rcu = pk_rcu_create(conf->workers + 1);
	if (eng->rcu == NULL) {
		pk_log(PK_LOG_ERROR, "out of memory (RCU)");
		goto out;
	}
	gp = (struct pk_groups_params){ .max_groups = conf->capacity.groups,
					.max_users = conf->capacity.users,
					.flat_max = conf->capacity.group_flat_max };
	eng->groups = pk_groups_create(eng->rcu, &gp);
	if (eng->groups == NULL) {
		pk_log(PK_LOG_ERROR, "cannot create the group index (out of memory)");
		goto out;
	}
	rc = pk_groups_replace(eng->groups, groups);
	if (rc != 0) {
		pk_log(PK_LOG_ERROR, "%s: %s", conf->groups_path,
		       rc == -ENOSPC ? "more groups or users than capacity.groups/capacity.users"
				     : strerror(-rc));
		goto out;
	}
	ct = (struct pk_calltab_config){
		.capacity = conf->capacity.calls,
		.max_groups = conf->capacity.groups,
		.max_threads = conf->workers + 1,
		.ring_timeout_ns = (uint64_t)pk_engine_conf_ring_timeout(conf, groups) * 1000000000ull,
		.claim_timeout_ns = (uint64_t)conf->timers.claim_timeout * 1000000000ull,
		.rcu = eng->rcu,
	};
	eng->calltab = pk_calltab_create(&ct);
	if (eng->calltab == NULL) {
		pk_log(PK_LOG_ERROR, "cannot create the ringing-call table (%u calls): %s", ct.capacity,
		       strerror(errno));
		goto out;
	}
	/* Calls picked up recently, for the Reason of their CANCEL. */
	eng->pickup = pk_pickup_create(conf->capacity.calls / 16,
				       (uint64_t)conf->timers.claim_timeout * 1000000000ull);
	if (eng->pickup == NULL) {
		pk_log(PK_LOG_ERROR, "out of memory (pickup)");
		goto out;
	}
	eng->location = pk_location_create(conf->capacity.registrations, conf->workers + 1, eng->rcu);
	if (eng->location == NULL) {
		pk_log(PK_LOG_ERROR, "cannot create the location table (%u bindings): %s",
		       conf->capacity.registrations, strerror(errno));
		goto out;
	}
	/* The trusted networks the workers read (replaced by `set trusted`). */
	trusted = malloc(sizeof(*trusted));
	if (trusted == NULL) {
		pk_log(PK_LOG_ERROR, "out of memory");
		goto out;
	}
	pk_trusted_set_from_conf(trusted, conf);
	atomic_init(&eng->trusted, trusted);
	if (pk_registrar_load_static(eng->location, ctl_tid, conf, err, sizeof(err)) != 0) {
		pk_log(PK_LOG_ERROR, "%s", err);
		goto out;
	}

	/* Sockets: every listener bound for every queue before anything runs. */
	memset(&iocfg, 0, sizeof(iocfg));
	iocfg.n_queues = conf->workers;
	iocfg.n_listeners = conf->n_listeners;
	for (unsigned i = 0; i < conf->n_listeners; i++)
		iocfg.listeners[i] = (struct pk_io_listener){
			.role = conf->listeners[i].role,
			.transport = conf->listeners[i].transport,
			.addr = conf->listeners[i].addr,
		};
	iocfg.tcp_max_conns = conf->capacity.tcp_connections;
	iocfg.tcp_idle_timeout_s = conf->timers.tcp_idle_timeout;
	iocfg.socket_buffer = conf->socket_buffer;
	if (dpdk) {
		struct pk_io_dpdk_config dc = {
			.rx_desc = (uint16_t)conf->dpdk.rx_desc,
			.tx_desc = (uint16_t)conf->dpdk.tx_desc,
			.n_mbufs = conf->dpdk.mbufs,
			.data_room = (uint16_t)conf->dpdk.data_room,
			.mtu = (uint16_t)conf->dpdk.mtu,
			.vlan_id = (uint16_t)conf->dpdk.vlan,
			.prefix_len = (uint8_t)conf->dpdk.prefix_len,
			.gateway = conf->dpdk.gateway,
			.tx_drain_us = conf->dpdk.tx_drain_us,
		};
		dc.n_routes = pk_routes_to_net(conf->dpdk.routes, conf->dpdk.n_routes, dc.routes);
		int found = conf->dpdk.n_ports != 0
				    ? 0
				    : pk_io_dpdk_find_port(conf->dpdk.port, &dc.port_id, err, sizeof(err));
		/* io.dpdk.ports: several ports, each with its addresses */
		dc.n_ports = conf->dpdk.n_ports;
		for (unsigned p = 0; p < dc.n_ports && found == 0; p++) {
			const struct pk_engine_dpdk_port *cp = &conf->dpdk.ports[p];
			struct pk_io_dpdk_port *dp = &dc.ports[p];

			found = pk_io_dpdk_find_port(cp->port, &dp->port_id, err, sizeof(err));
			dp->mtu = (uint16_t)cp->mtu;
			dp->vlan_id = (uint16_t)cp->vlan;
			dp->prefix_len = (uint8_t)cp->prefix_len;
			dp->gateway = cp->gateway;
			dp->n_routes = pk_routes_to_net(cp->routes, cp->n_routes, dp->routes);
			dp->n_addrs = (uint8_t)cp->n_addrs;
			memcpy(dp->addrs, cp->addrs, sizeof(dp->addrs));
		}
		if (found == 0)
			eng->io = pk_io_dpdk_create(&iocfg, &dc, err, sizeof(err));
		if (eng->io != NULL) {
			pk_log(PK_LOG_INFO, "dpdk: %s", pk_io_dpdk_describe(eng->io));
			if (iocfg.n_queues < eng->n_workers) {
				pk_log(PK_LOG_WARNING, "dpdk: %u worker(s) instead of %u (one per queue)",
				       iocfg.n_queues, eng->n_workers);
				eng->n_workers = iocfg.n_queues;
			}
		}
	} else {
		eng->io = pk_io_socket_create(&iocfg, err, sizeof(err));
	}
	if (eng->io == NULL) {
		pk_log(PK_LOG_ERROR, "%s", err);
		goto out;
	}
	eng->n_listeners = iocfg.n_listeners;
	memcpy(eng->listeners, iocfg.listeners, sizeof(iocfg.listeners[0]) * iocfg.n_listeners);
	/* The proxy needs the bound ports; it resolves next_hop here. */
	if (pk_proxy_create(eng, err, sizeof(err)) != 0) {
		pk_log(PK_LOG_ERROR, "%s", err);
		goto out;
	}

	if (pk_rcu_reader_register(eng->rcu, ctl_tid) != 0) {
		pk_log(PK_LOG_ERROR, "cannot register the control thread with RCU");
		goto out;
	}
	ctl_registered = true;
	pk_rcu_reader_offline(eng->rcu, ctl_tid);
	pk_ctl_groups_cache_update(eng);

	/* The control loop and socket, before any worker runs: a bad socket
	 * path is a start-up error. */
	ctlcfg = (struct pk_ctl_config){
		.socket_path = conf->control_socket,
		.config_path = conf->path,
		.tid = ctl_tid,
		.sigs = &sigs,
		.tick = pk_housekeep,
	};
	eng->ctl = pk_ctl_create(eng, &ctlcfg, err, sizeof(err));
	if (eng->ctl == NULL && !conf->control_socket_set && ctlcfg.socket_path[0] != '\0') {
		/* Only a socket the file asks for is a start-up error; the
		 * default path may not exist on this machine. */
		pk_log(PK_LOG_WARNING, "%s (the default control_socket); running without a control socket",
		       err);
		ctlcfg.socket_path = NULL;
		eng->ctl = pk_ctl_create(eng, &ctlcfg, err, sizeof(err));
	}
	if (eng->ctl == NULL) {
		pk_log(PK_LOG_ERROR, "%s", err);
		goto out;
	}
	/* The HTTP /metrics listener (docs/metrics.md), served by the same
	 * loop. */
	if (conf->metrics_listen[0] != '\0') {
		struct pk_addr ma;

		metrics = pk_metrics_http_start(conf->metrics_listen, pk_metrics_render, eng, err, sizeof(err));
		if (metrics == NULL) {
			/* err names the address: "metrics listener ADDR: reason" */
			pk_log(PK_LOG_ERROR, "%s", err);
			goto out;
		}
		rc = pk_ctl_watch_fd(eng->ctl, pk_metrics_http_fd(metrics), pk_metrics_poll, metrics);
		if (rc != 0) {
			pk_log(PK_LOG_ERROR, "metrics listener: %s", strerror(-rc));
			goto out;
		}
		if (pk_addr_parse(pk_str_make(conf->metrics_listen, strlen(conf->metrics_listen)), false, &ma) == 0) {
			ma.port = pk_metrics_http_port(metrics);
			pk_addr_format(&ma, true, metrics_addr, sizeof(metrics_addr));
		}
		pk_log(PK_LOG_INFO, "metrics: http://%s/metrics", metrics_addr);
	}

	for (unsigned i = 0; i < eng->n_workers; i++) {
		workers[i] = pk_worker_create(eng, i);
		eng->workers[i] = workers[i];
		if (workers[i] == NULL) {
			pk_log(PK_LOG_ERROR, "out of memory (worker %u)", i);
			goto stop;
		}
		if (dpdk && workers[i]->mem_io == NULL)
			pk_log(PK_LOG_WARNING,
			       "worker %u: no EAL memory for its state (%zu KB): it comes from the process "
			       "allocator, on the control thread's NUMA node (give the EAL more: -m or "
			       "--socket-mem in io.dpdk.eal)",
			       i, sizeof(*workers[i]) / 1024);
	}
	pthread_mutex_lock(&pk_tel_lock);
	pk_tel_eng = eng; /* tables and workers exist: snapshots may read them */
	pthread_mutex_unlock(&pk_tel_lock);
	for (unsigned i = 0; i < eng->n_workers; i++) {
		/* dpdk: on EAL lcores (one each, pinned, polling) */
		rc = dpdk ? -pk_io_dpdk_launch(i, pk_worker_lcore_main, workers[i]) : pk_worker_start(workers[i]);
		if (rc != 0) {
			pk_log(PK_LOG_ERROR, "cannot start worker %u: %s%s", i, strerror(rc),
			       dpdk && rc == ENOSPC ? " (give the EAL one lcore per worker besides the main "
						      "one: -l or --lcores in io.dpdk.eal)"
						    : "");
			goto stop;
		}
		started++;
	}
	pk_log_startup(eng, groups);
	pk_groups_conf_free(groups); /* the index holds its own copy */
	groups = NULL;

	if (args.ready_file != NULL) {
		rc = pk_ready_write(args.ready_file, eng, pk_ctl_socket_path(eng->ctl),
				    metrics_addr[0] ? metrics_addr : NULL, telemetry_path);
		if (rc < 0) {
			pk_log(PK_LOG_ERROR, "ready file %s: %s", args.ready_file, strerror(-rc));
			goto stop;
		}
		ready_written = rc == 0;
	}

	status = pk_ctl_run(eng->ctl) == 0 ? 0 : 1;

stop:
	/* release: pairs with the acquire load at the top of each worker's
	 * loop */
	atomic_store_explicit(&eng->stop, true, memory_order_release);
	for (unsigned i = 0; i < started; i++)
		pk_io_wake(pk_io_queue_get(eng->io, i));
	for (unsigned i = 0; i < started; i++) {
		if (dpdk)
			pk_io_dpdk_join(i);
		else
			pk_worker_join(workers[i]);
	}
	for (unsigned i = 0; i < started; i++) {
		pk_worker_log_counters(workers[i]);
		pk_proxy_log_counters(workers[i]);
		pk_pickup_log_counters(workers[i]);
	}
	if (started > 0 && dpdk)
		pk_log_net_counters(eng);
	if (started > 0)
		pk_registrar_log_counters(eng->location);
out:
	/* No telemetry snapshot reads the engine from here on. */
	pthread_mutex_lock(&pk_tel_lock);
	pk_tel_eng = NULL;
	pthread_mutex_unlock(&pk_tel_lock);
	for (unsigned i = 0; i < PK_ENGINE_MAX_WORKERS; i++)
		pk_worker_destroy(workers[i]);
	if (eng != NULL) {
		pk_metrics_http_stop(metrics);
		pk_ctl_destroy(eng->ctl); /* unlinks the socket file */
		eng->ctl = NULL;
		if (ctl_registered)
			pk_rcu_reader_unregister(eng->rcu, ctl_tid);
		if (eng->rcu != NULL) {
			/* No reader is left: every deferred free can run. */
			pk_rcu_synchronize(eng->rcu);
			pk_rcu_reclaim(eng->rcu);
		}
		pk_calltab_destroy(eng->calltab);
		pk_pickup_destroy(eng->pickup);
		pk_proxy_destroy(eng);
		pk_location_destroy(eng->location);
		pk_groups_destroy(eng->groups);
		pk_rcu_destroy(eng->rcu);
		/* Relaxed: no other thread is left. */
		free(atomic_load_explicit(&eng->trusted, memory_order_relaxed));
		pk_io_destroy(eng->io); /* dpdk: sends what is buffered, closes the port */
		free(eng);
	}
	if (eal_up)
		pk_io_dpdk_eal_cleanup();
	if (ready_written)
		unlink(args.ready_file);
	pk_groups_conf_free(groups);
	pk_engine_conf_free(conf);
	if (telemetry_up)
		pk_telemetry_cleanup();
	if (status == 0)
		pk_log(PK_LOG_INFO, "stopped");
	pk_log_close();
	return status;
}
