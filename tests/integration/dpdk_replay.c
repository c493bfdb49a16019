/* SPDX-License-Identifier: MIT */
/*
 * pk-dpdk-replay: deterministic replay of a capture through pickupd's
 * pipeline on the dpdk backend. The port is DPDK's net_pcap device: it
 * reads the frames of IN.pcap (rx_pcap) and writes everything pickupd
 * sends to OUT.pcap (tx_pcap). One worker, driven by this thread, runs
 * the real SIP pipeline (tests/integration/dpdk_engine.h: the engine as
 * dataplane/main.c builds it) with a fixed secret, so the same input gives
 * the same output bytes (but for the registrar's Date header).
 *
 *   pk-dpdk-replay IN.pcap OUT.pcap
 *   pk-dpdk-replay --serve READY_FILE VDEV [DATA_ROOM [WORKERS]]
 *
 * The second form serves a live port instead (VDEV: an EAL --vdev such
 * as net_af_packet0,iface=veth0,qpairs=2) until SIGTERM or SIGINT, with
 * WORKERS (1) workers on EAL lcores 1..WORKERS, one queue each, the main
 * lcore doing the control thread's housekeeping; it writes "ready" to
 * READY_FILE once the workers run. tests/integration/
 * test_dpdk_afpacket.sh drives it from a network namespace. Counters are
 * summed over the queues; "queues N" and "qI.udp_rx" per queue too.
 *
 * pickupd is 10.99.0.1:5060/udp, domain example.test, trusted 10.99.0.0/24,
 * 2002 bound statically to sip:2002@10.99.0.3:5062, group *801 = 2002,
 * 2003, 2004 (ring only), pickup code *8. Once the capture is exhausted
 * (no frame for 200 polls) the TX buffer is drained, the port closed (the
 * capture file complete) and the counters printed, one "name value" a
 * line: worker counters as "worker.NAME", network ones as "net.NAME", the
 * backend's as "dpdk.NAME". Exit 0, or 1 with a reason on stderr.
 * tests/integration/test_dpdk_replay.py builds the captures and checks.
 */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <string.h>

#include "pickup/io_dpdk.h"
#include "pickup/sip_slow.h"
#include "dpdk_engine.h"

static const char engine_yaml[] = "listen:\n  proxy: \"10.99.0.1:5060\"\n"
				  "workers: 1\n"
				  "domains: [example.test]\n"
				  "groups: groups.yaml\n"
				  "trusted: [10.99.0.0/24]\n"
				  "bindings:\n  \"2002\": \"sip:2002@10.99.0.3:5062\"\n"
				  "timers:\n  claim_timeout: 32\n"
				  "capacity:\n  calls: 1024\n  registrations: 64\n";

static const char groups_yaml[] = "settings:\n"
				  "  domains: [example.test]\n"
				  "  pickup_code: \"*8\"\n"
				  "groups:\n"
				  "  - number: \"*801\"\n"
				  "    members:\n"
				  "      - \"2002\"\n"
				  "      - \"2003\"\n"
				  "      - user: \"2004\"\n"
				  "        rights: [ring]\n";

/* Set by the signal handler, read by the workers and the control loop:
 * a lock-free atomic, which a handler may store to (C11 7.14.1.1), so
 * that the threads' loads and the handler's store do not race. */
static atomic_int stop;
static struct dpdk_engine e;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free int");

static void on_signal(int sig)
{
	(void)sig;
	atomic_store_explicit(&stop, 1, memory_order_relaxed);
}

/* A worker lcore: pickupd's worker loop in poll mode. */
static int worker_lcore(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	/* Relaxed is enough: the flag only ends the loop, it publishes
	 * nothing. */
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		dpdk_engine_iter(&e, i);
	return 0;
}

int main(int argc, char **argv)
{
	char prefix[64], vdev[PATH_MAX * 2 + 64], err[600], lcores[64];
	const char *ready = NULL;
	unsigned workers = 1;

	unsigned data_room = 0;
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "--serve") == 0) {
		ready = argv[2];
		if (argc >= 5)
			data_room = (unsigned)atoi(argv[4]);
		if (argc == 6)
			workers = (unsigned)atoi(argv[5]);
		if (workers < 1 || workers > 8) {
			fprintf(stderr, "pk-dpdk-replay: 1..8 workers\n");
			return 2;
		}
		snprintf(vdev, sizeof(vdev), "%s", argv[3]);
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	} else if (argc == 3) {
		snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s,tx_pcap=%s", argv[1], argv[2]);
	} else {
		fprintf(stderr, "usage: pk-dpdk-replay IN.pcap OUT.pcap\n"
				"       pk-dpdk-replay --serve READY_FILE VDEV [DATA_ROOM [WORKERS]]\n");
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "pk-replay-%d", (int)getpid());
	/* lcore 0 the control thread, 1..workers the workers, floating over
	 * the CPUs there are (2 on the test machines). */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(lcores, sizeof(lcores), "(0-%u)@(0-%ld)", workers, ncpu > 1 ? ncpu - 1 : 0);
	char *eal[] = { argv[0], "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			"--no-telemetry", "--file-prefix", prefix, "--log-level", "error",
			"--lcores", lcores, "--vdev", vdev, NULL };
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "pk-dpdk-replay: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	char rundir[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	uint16_t port;
	if (rte_eth_dev_count_avail() != 1 || (port = (uint16_t)rte_eth_find_next(0)) >= RTE_MAX_ETHPORTS) {
		fprintf(stderr, "pk-dpdk-replay: want one port, have %u\n", rte_eth_dev_count_avail());
		return 1;
	}
	if (pk_sip_slow_init() != 0) {
		fprintf(stderr, "pk-dpdk-replay: libosip2 init failed\n");
		return 1;
	}

	struct pk_io_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = ready != NULL ? workers : 1;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	cfg.listeners[0].role = PK_LISTEN_PROXY;
	pk_addr_parse(PK_STR_LIT("10.99.0.1:5060"), false, &cfg.listeners[0].addr);
	struct pk_io_dpdk_config dc = { .port_id = port, .data_room = (uint16_t)data_room };
	struct pk_io *io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL) {
		fprintf(stderr, "pk-dpdk-replay: %s\n", err);
		return 1;
	}
	fprintf(stderr, "pk-dpdk-replay: %s\n", pk_io_dpdk_describe(io));
	if (dpdk_engine_build(&e, engine_yaml, groups_yaml, 0x5eed5eed12345678ull, io, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "pk-dpdk-replay: %s\n", err);
		dpdk_engine_free(&e);
		return 1;
	}

	if (ready != NULL) {
		FILE *f = fopen(ready, "w");
		if (f == NULL || fprintf(f, "ready\n") < 0 || fclose(f) != 0) {
			fprintf(stderr, "pk-dpdk-replay: %s: cannot write\n", ready);
			dpdk_engine_free(&e);
			return 1;
		}
		for (unsigned i = 0; i < e.n; i++) {
			if (pk_io_dpdk_launch(i, worker_lcore, (void *)(uintptr_t)i) != 0) {
				fprintf(stderr, "pk-dpdk-replay: cannot start worker %u\n", i);
				atomic_store_explicit(&stop, 1, memory_order_relaxed);
				break;
			}
		}
		/* the control thread: main.c's housekeeping tick */
		while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
			dpdk_engine_housekeep(&e, PK_ENGINE_RECLAIM_WAIT_NS);
			usleep(100000);
		}
		for (unsigned i = 0; i < e.n; i++)
			pk_io_dpdk_join(i);
	} else {
		/* net_pcap's RX returns nothing once the file is read. */
		unsigned idle = 0;
		while (idle < 200) {
			if (dpdk_engine_iter(&e, 0) == 0)
				idle++;
			else
				idle = 0;
		}
	}
	/* The workers stopped: this thread may drain and read their queues. */
	uint64_t wsum[PK_WORKER_CTR_COUNT] = { 0 }, nsum[PK_NET_CTR_COUNT] = { 0 },
		 dsum[PK_IO_DPDK_CTR_COUNT] = { 0 };
	printf("queues %u\n", e.n);
	for (unsigned i = 0; i < e.n; i++) {
		struct pk_io_queue *q = e.ws[i]->q;
		pk_io_dpdk_drain(q);
		for (unsigned c = 0; c < PK_WORKER_CTR_COUNT; c++)
			wsum[c] += e.ws[i]->ctr[c];
		uint64_t nc[PK_NET_CTR_COUNT], dctr[PK_IO_DPDK_CTR_COUNT];
		if (!pk_io_dpdk_port_net_counters(q, 0, nc))
			memset(nc, 0, sizeof(nc)); /* cannot happen: every queue has port 0 */
		for (unsigned c = 0; c < PK_NET_CTR_COUNT; c++)
			nsum[c] += nc[c];
		pk_io_dpdk_counters(q, dctr);
		for (unsigned c = 0; c < PK_IO_DPDK_CTR_COUNT; c++)
			dsum[c] += dctr[c];
		printf("q%u.udp_rx %llu\n", i, (unsigned long long)nc[PK_NET_CTR_UDP_RX]);
	}
	for (unsigned c = 0; c < PK_WORKER_CTR_COUNT; c++)
		printf("worker.%s %llu\n", pk_worker_counter_name((enum pk_worker_counter)c),
		       (unsigned long long)wsum[c]);
	for (unsigned c = 0; c < PK_NET_CTR_COUNT; c++)
		printf("net.%s %llu\n", pk_net_counter_name((enum pk_net_counter)c),
		       (unsigned long long)nsum[c]);
	for (unsigned c = 0; c < PK_IO_DPDK_CTR_COUNT; c++)
		printf("dpdk.%s %llu\n", pk_io_dpdk_counter_name((enum pk_io_dpdk_counter)c),
		       (unsigned long long)dsum[c]);
	dpdk_engine_free(&e); /* stops and closes the port: OUT.pcap is complete */
	rte_eal_cleanup();
	rmdir(rundir);
	return 0;
}
