/* SPDX-License-Identifier: MIT */
/*
 * A pickupd engine built the way dataplane/main.c builds it — settings and
 * groups from YAML text, RCU domain, group index, ringing-call table,
 * recently-picked memory, location table with the static bindings, trusted
 * networks, proxy state and the handler table pickupd installs — with
 * n workers on a given I/O backend (worker i on queue i), driven by the
 * caller's threads (or EAL lcores) instead of pickupd's worker threads. For the tools that run the real pipeline on a DPDK port
 * without the daemon: tests/integration/dpdk_replay.c (net_pcap replay)
 * and bench/bench_dpdk.c (throughput). Header-only (static functions):
 * both include it once.
 *
 * Threads: build/free/housekeep on one thread, the control thread (RCU
 * reader n); dpdk_engine_iter(e, i) only on worker i's thread (reader i).
 * With one worker the caller may be both.
 */
#ifndef PK_DPDK_ENGINE_H
#define PK_DPDK_ENGINE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_memory.h>

#include "pickup/calltab.h"
#include "pickup/engine_conf.h"
#include "pickup/groups.h"
#include "pickup/groups_conf.h"
#include "pickup/location.h"
#include "pickup/rcu.h"
#include "proxy/registrar.h"
#include "worker.h"

struct dpdk_engine {
	struct pk_engine eng;
	struct pk_engine_conf *conf;
	struct pk_groups_conf *groups;
	struct pk_worker *w; /* worker 0 */
	struct pk_worker *ws[PK_ENGINE_MAX_WORKERS];
	unsigned n, ctl_tid;
	bool built;
};

/* Build e on io (which it then owns), one worker per queue of io. 0, or
 * -1 with a reason in err. */
static inline int dpdk_engine_build(struct dpdk_engine *e, const char *engine_yaml, const char *groups_yaml,
				    uint64_t tag_secret, struct pk_io *io, char *err, size_t errlen)
{
	struct pk_engine *eng = &e->eng;
	struct pk_engine_conf_error cerr;
	struct pk_groups_conf_error gerr;

	memset(e, 0, sizeof(*e));
	eng->io = io;
	e->n = io->n_queues;
	e->ctl_tid = e->n;
	e->conf = pk_engine_conf_parse(engine_yaml, strlen(engine_yaml), "engine.yaml", ".", &cerr);
	if (e->conf == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return -1;
	}
	e->groups = pk_groups_conf_parse(groups_yaml, strlen(groups_yaml), "groups.yaml", &gerr);
	if (e->groups == NULL) {
		snprintf(err, errlen, "%s", gerr.msg);
		return -1;
	}
	if (pk_engine_conf_resolve(e->conf, e->groups, &cerr) != 0) {
		snprintf(err, errlen, "%s", cerr.msg);
		return -1;
	}
	eng->conf = e->conf;
	eng->n_workers = e->n;
	eng->tag_secret = tag_secret;
	eng->start_ns = pk_clock_ns();
	atomic_init(&eng->stop, false);
	pk_worker_handlers_init(&eng->handlers);
	pk_proxy_handlers_install(&eng->handlers);
	eng->handlers.request[PK_SIP_REGISTER] = pk_registrar_handle;
	pk_engine_prepare(eng);
	eng->rcu = pk_rcu_create(e->n + 1);
	if (eng->rcu == NULL) {
		snprintf(err, errlen, "RCU");
		return -1;
	}
	for (unsigned i = 0; i <= e->n; i++) {
		if (pk_rcu_reader_register(eng->rcu, i) != 0) {
			snprintf(err, errlen, "RCU reader %u", i);
			return -1;
		}
	}
	e->built = true;
	struct pk_groups_params gp = { .max_groups = e->conf->capacity.groups,
				       .max_users = e->conf->capacity.users,
				       .flat_max = e->conf->capacity.group_flat_max };
	eng->groups = pk_groups_create(eng->rcu, &gp);
	if (eng->groups == NULL || pk_groups_replace(eng->groups, e->groups) != 0) {
		snprintf(err, errlen, "group index");
		return -1;
	}
	struct pk_calltab_config ct = {
		.capacity = e->conf->capacity.calls,
		.max_groups = e->conf->capacity.groups,
		.max_threads = e->n + 1,
		.ring_timeout_ns = (uint64_t)pk_engine_conf_ring_timeout(e->conf, e->groups) * 1000000000ull,
		.claim_timeout_ns = (uint64_t)e->conf->timers.claim_timeout * 1000000000ull,
		.rcu = eng->rcu,
	};
	eng->calltab = pk_calltab_create(&ct);
	eng->pickup = pk_pickup_create(e->conf->capacity.calls / 16, ct.claim_timeout_ns);
	eng->location = pk_location_create(e->conf->capacity.registrations, e->n + 1, eng->rcu);
	struct pk_trusted_set *t = malloc(sizeof(*t));
	if (eng->calltab == NULL || eng->pickup == NULL || eng->location == NULL || t == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pk_trusted_set_from_conf(t, e->conf);
	atomic_init(&eng->trusted, t);
	if (pk_registrar_load_static(eng->location, e->ctl_tid, e->conf, err, errlen) != 0)
		return -1;
	eng->n_listeners = io->n_listeners;
	for (unsigned i = 0; i < io->n_listeners; i++)
		eng->listeners[i] = *pk_io_listener_get(io, i);
	if (pk_proxy_create(eng, err, errlen) != 0)
		return -1;
	for (unsigned i = 0; i < e->n; i++) {
		e->ws[i] = pk_worker_create(eng, i);
		if (e->ws[i] == NULL) {
			snprintf(err, errlen, "out of memory (worker)");
			return -1;
		}
		/* as pickupd's: its state from a backend that has memory of
		 * its own (dpdk: on its lcore's node, pk_io_local_alloc), not
		 * from the process allocator */
		if (io->ops->local_alloc != NULL &&
		    (e->ws[i]->mem_io != io || rte_mem_virt2memseg(e->ws[i], NULL) == NULL)) {
			snprintf(err, errlen, "worker %u: its state is not in the EAL's memory", i);
			return -1;
		}
		eng->workers[i] = e->ws[i];
	}
	e->w = e->ws[0];
	pk_rcu_reader_offline(eng->rcu, e->ctl_tid);
	return 0;
}

/* Free everything, the I/O backend last (it stops the port). */
static inline void dpdk_engine_free(struct dpdk_engine *e)
{
	struct pk_engine *eng = &e->eng;

	for (unsigned i = 0; i < e->n; i++)
		pk_worker_destroy(e->ws[i]);
	if (e->built) {
		for (unsigned i = 0; i <= e->n; i++)
			pk_rcu_reader_unregister(eng->rcu, i);
		pk_rcu_synchronize(eng->rcu);
		pk_rcu_reclaim(eng->rcu);
	}
	pk_calltab_destroy(eng->calltab);
	pk_pickup_destroy(eng->pickup);
	if (eng->proxy != NULL)
		pk_proxy_destroy(eng);
	pk_location_destroy(eng->location);
	pk_groups_destroy(eng->groups);
	pk_rcu_destroy(eng->rcu);
	free(atomic_load_explicit(&eng->trusted, memory_order_relaxed));
	pk_io_destroy(eng->io);
	pk_groups_conf_free(e->groups);
	pk_engine_conf_free(e->conf);
	memset(e, 0, sizeof(*e));
}

/* The control thread's periodic work (main.c's pk_housekeep), from the
 * control thread's id; wait_ns as pk_engine_housekeep's. */
static inline void dpdk_engine_housekeep(struct dpdk_engine *e, uint64_t wait_ns)
{
	pk_engine_housekeep(&e->eng, e->ctl_tid, wait_ns);
}

/* One iteration of worker i's loop (worker.c's pk_worker_main): returns
 * how many messages the burst held. Worker i's thread. */
static inline unsigned dpdk_engine_iter(struct dpdk_engine *e, unsigned i)
{
	struct pk_io_msg *msgs[PK_IO_BURST];
	struct pk_worker *w = e->ws[i];

	w->now_ns = pk_clock_ns();
	unsigned n = pk_io_rx_burst(w->q, msgs, PK_IO_BURST, w->now_ns);
	if (n > 0)
		pk_worker_process(w, msgs, n);
	pk_rcu_quiescent(e->eng.rcu, i);
	return n;
}

#endif /* PK_DPDK_ENGINE_H */
