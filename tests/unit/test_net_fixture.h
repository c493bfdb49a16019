/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the network-layer tests that drive a struct pk_net_ctx
 * directly (test_net.c, test_net_limits.c): the EAL and the mempool every
 * frame comes from, our and the peers' addresses, a ctx with the tests'
 * configuration (struct fx) whose teardown checks that every frame went
 * back to the pool, and the frames a peer sends, built by hand
 * (test_net_frames.h). The "port" is the ctx's TX staging: a test reads
 * what is staged (tx_frame) and drains it (drain), as the backend would.
 * Include after cmocka.h.
 */
#ifndef PK_TEST_NET_FIXTURE_H
#define PK_TEST_NET_FIXTURE_H

#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "pickup/net.h"
#include "test_net_frames.h"

static struct rte_mempool *pool;

static const uint8_t OUR_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t PEER3_MAC[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
/* host order */
#define IP(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define OUR_IP IP(10, 99, 0, 1)
#define OUR_IP2 IP(10, 99, 0, 9)
#define PEER_IP IP(10, 99, 0, 2)
#define PEER3_IP IP(10, 99, 0, 3)

/* A whole UDP frame from the peer to us. */
static inline size_t udp_frame(uint8_t *b, int vid, uint32_t src, uint32_t dst, uint16_t dp,
			const void *pl, size_t n, bool with_ck)
{
	size_t l2 = eth(b, OUR_MAC, PEER_MAC, vid, 0x0800);
	size_t u = udp(b + l2 + 20, src, dst, 5060, dp, pl, n, with_ck);
	ip4(b + l2, src, dst, 17, 0x1234, 0, 64, u);
	return l2 + 20 + u;
}

static inline struct rte_mbuf *mk(const void *bytes, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	void *d = rte_pktmbuf_append(m, (uint16_t)n);
	assert_non_null(d);
	memcpy(d, bytes, n);
	return m;
}

/* ---------- fixture ---------- */

struct fx {
	struct pk_net_ctx *ctx;
	struct pk_net_conf conf;
	uint8_t buf[65536];
	struct pk_net_udp out;
	unsigned base; /* frames in use before the ctx existed */
};

static inline void conf_default(struct pk_net_conf *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->mac.addr_bytes, OUR_MAC, 6);
	c->n_addrs = 2;
	c->addrs[0] = rte_cpu_to_be_32(OUR_IP);
	c->addrs[1] = rte_cpu_to_be_32(OUR_IP2);
	c->prefix_len = 24;
	c->gateway = rte_cpu_to_be_32(IP(10, 99, 0, 254));
	c->tsc_hz = 1000;
	c->arp_reachable_ms = 1000;
	c->arp_stale_ms = 500;
	c->arp_retry_ms = 100;
	c->arp_retries = 3;
	c->frag_timeout_ms = 2000;
	c->socket_id = SOCKET_ID_ANY;
}

static inline struct fx *fx_new(const struct pk_net_conf *c)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[128];
	assert_non_null(f);
	f->conf = *c;
	f->base = rte_mempool_in_use_count(pool);
	f->ctx = pk_net_ctx_create(c, pool, err, sizeof(err));
	if (f->ctx == NULL)
		fail_msg("%s", err);
	f->out.buf = f->buf;
	f->out.buf_cap = sizeof(f->buf);
	return f;
}

static inline int setup(void **state)
{
	struct pk_net_conf c;
	conf_default(&c);
	*state = fx_new(&c);
	return 0;
}

static inline void drain(struct pk_net_ctx *ctx)
{
	struct rte_mbuf **p;
	unsigned n = pk_net_tx_pending(ctx, &p);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(p[i]);
	pk_net_tx_done(ctx, n);
}

/* Destroys the ctx; returns how many frames did not come back. */
static inline unsigned fx_free(struct fx *f)
{
	unsigned base = f->base;
	drain(f->ctx);
	pk_net_ctx_destroy(f->ctx);
	free(f);
	return rte_mempool_in_use_count(pool) - base;
}

static inline int teardown(void **state)
{
	/* Every frame went back, whatever path it took. */
	assert_int_equal(fx_free(*state), 0);
	return 0;
}

static inline uint64_t C(struct fx *f, enum pk_net_counter c)
{
	return pk_net_counter(f->ctx, c);
}

static inline enum pk_net_rx_result rx(struct fx *f, const void *bytes, size_t n, uint64_t now)
{
	f->out.mbuf = NULL;
	enum pk_net_rx_result r = pk_net_rx(f->ctx, mk(bytes, n), now, &f->out);
	return r;
}

/* Copy out the i-th staged frame. */
static inline size_t tx_frame(struct fx *f, unsigned i, uint8_t *b)
{
	struct rte_mbuf **p;
	unsigned n = pk_net_tx_pending(f->ctx, &p);
	assert_true(i < n);
	assert_int_equal(p[i]->nb_segs, 1);
	size_t len = rte_pktmbuf_pkt_len(p[i]);
	memcpy(b, rte_pktmbuf_mtod(p[i], void *), len);
	return len;
}

static inline unsigned tx_count(struct fx *f)
{
	struct rte_mbuf **p;
	return pk_net_tx_pending(f->ctx, &p);
}

static inline struct pk_addr A(uint32_t ip_host, uint16_t port)
{
	struct pk_addr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = port;
	put32(a.ip, ip_host);
	return a;
}

static inline size_t arp_request_frame(uint8_t *b, int vid, uint32_t sip, uint32_t tip)
{
	static const uint8_t zero[6];
	size_t l2 = eth(b, BCAST, PEER_MAC, vid, 0x0806);
	size_t n = l2 + arp_body(b + l2, 1, PEER_MAC, sip, zero, tip);
	memset(b + n, 0, 60 - n); /* padded to the Ethernet minimum */
	return 60;
}

static inline void check_arp_request(const uint8_t *b, size_t n, uint32_t sip, uint32_t tip)
{
	static const uint8_t zero[6];
	uint8_t exp[64];
	size_t l2 = eth(exp, BCAST, OUR_MAC, -1, 0x0806);
	size_t en = l2 + arp_body(exp + l2, 1, OUR_MAC, sip, zero, tip);
	assert_int_equal(n, en);
	assert_memory_equal(b, exp, en);
}

static inline void arp_reply_from(struct fx *f, const uint8_t *mac, uint32_t ip, uint64_t now)
{
	uint8_t in[64];
	size_t l2 = eth(in, OUR_MAC, mac, -1, 0x0806);
	size_t n = l2 + arp_body(in + l2, 2, mac, ip, OUR_MAC, OUR_IP);
	assert_int_equal(rx(f, in, n, now), PK_NET_RX_CONSUMED);
}

/* A frame in two segments, split after byte `split`. */
static inline struct rte_mbuf *mk_chain(const uint8_t *bytes, size_t n, size_t split)
{
	struct rte_mbuf *m = mk(bytes, split), *t = mk(bytes + split, n - split);
	assert_int_equal(rte_pktmbuf_chain(m, t), 0);
	return m;
}

/* The test's EAL (no hugepages, PCI or shared config files, one lcore,
 * file prefix "<stem>-<pid>"; --in-memory is refused with --no-huge: EAL
 * then implies --legacy-mem) and the pool (no per-lcore cache: what a test
 * takes out of it is exactly what is gone). 0, or -1 said on stderr. */
static inline int net_eal_up(const char *prog, const char *stem)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s-%d", stem, (int)getpid());
	char *argv[] = {
		(char *)prog, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix", prefix, "--log-level", "error", "-l", "0", NULL,
	};
	if (rte_eal_init((int)PK_ARRAY_SIZE(argv) - 1, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	pool = rte_pktmbuf_pool_create("pk_test_net", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "mempool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* The pool freed, the EAL down and its (empty, with --no-shconf) runtime
 * directory gone. */
static inline void net_eal_down(void)
{
	char rundir[PATH_MAX];

	rte_mempool_free(pool);
	pool = NULL;
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir);
}

#endif /* PK_TEST_NET_FIXTURE_H */
