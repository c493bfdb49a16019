/* SPDX-License-Identifier: MIT */
/*
 * pk-bench-dpdk: SIP messages per second of ONE worker core running
 * pickupd's real pipeline (dataplane/worker.c's pk_worker_process with the
 * handler table, group index, ringing-call table, location table and proxy
 * state built as dataplane/main.c builds them), fed through
 *   - the dpdk backend (dataplane/io/dpdk.c) on a net_ring port: the bench
 *     is the wire, putting pre-built Ethernet frames on the port's RX ring
 *     and taking pickupd's frames off its TX ring;
 *   - the dpdk backend again, "dpdk+ol": the checksums a server NIC
 *     computes left to the wire (the frames arrive marked checked, pickupd
 *     sends with the offload flags, pk_io_dpdk_config.wire_cksum, and the
 *     wire finishes the checksums after checking pickupd's pseudo-header
 *     seeds: wire_finish), as loopback leaves the socket backend's UDP
 *     checksums to no one;
 *   - the socket backend (dataplane/io/socket.c) on loopback: the bench's
 *     peer sockets send the same SIP messages to pickupd's UDP socket and
 *     read what it sends them;
 * in the same run (--dpdk-only: the two dpdk ones), and the added latency
 * from RX to TX (TSC).
 *
 * The mix, per call (12 messages, built once per backend and replayed in
 * order; the messages pickupd's answers depend on — its own Via lines —
 * are taken from a first pass through the same engine): caller INVITE to
 * group member 2002 (SDP), callee 180, picker 2003 dials *801 (INVITE
 * with SDP → INVITE+Replaces to the caller), caller 200 to it, caller
 * CANCEL (→ callee with Reason), callee 200 to the CANCEL, callee 487,
 * caller ACK, picker ACK and BYE to the caller, caller 200 to the BYE, and
 * a REGISTER refresh of 2004. 256 calls a round, rounds repeated. With
 * --groups N (default 64) call k goes to group k mod N: group g is
 * *8(g+1) with members 2002+4g (the callee), 2003+4g (the picker) and
 * 2004+4g (ring rights only; the REGISTER refresh), so 256 calls in
 * progress are spread over N teams; --groups 1 puts them all in *801.
 *
 * What is timed (TSC, cycles of the worker only): one loop iteration as
 * pickupd's worker does it — clock read, pk_io_rx_burst, pk_worker_process
 * (parse, handlers, pk_io_tx_flush), RCU quiescent state. Putting frames
 * on the wire and taking them off is the peers' work and is not timed: for
 * the socket backend that leaves the kernel's loopback delivery into
 * pickupd's socket out (it runs in the sender's system call), and its
 * timed sendmmsg carries the delivery into the peers' sockets: one
 * receive path a message either way, the peers' instead of its own.
 * messages/s per worker core = TSC Hz / (worker cycles per message).
 * The peers run on the worker's core between its bursts, and whatever
 * they run there evicts the worker's code, branch history and data, which
 * a worker core in production keeps: so they keep their footprint small on
 * both wires (mix_fmt instead of glibc's printf; on loopback one sendmmsg
 * and one recvmmsg a peer a burst instead of a system call a message).
 * docs/dpdk.md, "2026-11-28 (session 14)", has what that changed.
 * The two backends' steady states are measured in eight slices each,
 * taken in turn (measure), so that the host's drift touches both alike.
 *
 * Each backend's share (pk_io_rx_burst, pk_io_tx_flush) is timed in
 * quarter slices of their own, taken in turn with the steady slices (the
 * timing costs the run a little, so they are not counted in the steady
 * state); the rest of a message's cycles in those slices is the pipeline
 * both backends share. The last lines of a full run set the
 * two pipelines side by side and give the ratio the dpdk runs would have
 * if their backend's share cost nothing: what the ratio can still gain
 * from the dpdk backend's own code (docs/dpdk.md, "session 20").
 *
 * Latency: TSC before pk_io_rx_burst to TSC after the frames of the burst
 * were handed to the port (dpdk: after a drain of the TX buffer) or to the
 * kernel (socket: sendmmsg returned), for every message of the burst; at
 * light load (1 message per poll) and at full load (bursts of 32).
 *
 * The core's clock: the host runs this VM's cores at 1.8-3.2 GHz while
 * the TSC ticks at the nominal rate; each run reports the range it saw
 * and the median burst in core cycles (tsc_per_core_cycle below).
 *
 * --own-core: also the worker alone on its core, fed by a generator on
 * lcore 1 (measure_own_core below).
 *
 * --replay: also the three wires as a pre-built burst replay on the
 * worker's core, the peers' work out of it (measure_replay below).
 *
 * Usage: pk-bench-dpdk [--seconds S] [--groups N] [--dpdk-only] [--own-core] [--replay]
 *                      [--huge-dir DIR] [--lockstep]
 *        (EAL: --no-huge, or hugepages from the hugetlbfs mount DIR;
 *        lcores 0 and 1 where there are two cores)
 * Threads: the EAL main lcore; with --own-core, lcore 1 too. docs/dpdk.md
 * has the figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <immintrin.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_memory.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "pickup/io_dpdk.h"
#include "pickup/sip_slow.h"
#include "dpdk_engine.h" /* tests/integration: the engine as main.c builds it */

#define PER_CALL 12
#define MAX_SAMPLES (1u << 22)

enum { P_CALLER, P_CALLEE, P_PICKER, P_REG, P_COUNT };
static const char *const kind_names[PER_CALL] = {
	"INVITE", "180", "INVITE*801", "200/INVITE", "CANCEL", "200/CANCEL",
	"487", "ACK/487", "ACK", "BYE", "200/BYE", "REGISTER",
};

struct smsg {
	uint8_t peer;
	uint16_t len;
	unsigned call;
	char text[1400];
};

struct bench;
struct backend {
	const char *name;
	struct dpdk_engine e;
	struct pk_worker *w;
	struct pk_io_queue *q;
	char host[32];		     /* pickupd's address */
	char peer_host[P_COUNT][32]; /* ip:port of each peer */
	/* wire */
	void (*inject)(struct backend *b, const struct smsg *const *m, unsigned n);
	/* take everything pickupd sent; copy up to max payloads into outs */
	unsigned (*collect)(struct backend *b, char (*outs)[2048], unsigned max);
	bool drain_in_latency;
	/* dpdk */
	struct rte_mempool *gen_pool;
	struct rte_ring *rx_ring, *tx_ring;
	uint8_t our_mac[6];
	uint32_t our_ip, peer_ip[P_COUNT];
	uint16_t peer_port[P_COUNT];
	bool wire_cksum;       /* the wire does a NIC's checksum work (pk_io_dpdk_config) */
	uint64_t finished;     /* frames whose offloaded checksums the wire finished */
	struct recording *rec; /* when set: every frame put on the wire is kept */
	struct mix *mix;       /* the peers' calls on this backend */
	/* socket */
	int peer_fd[P_COUNT];
	struct sockaddr_in pk_sa;
};

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "pk-bench-dpdk: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* ---- the engine, as dataplane/main.c builds it (dpdk_engine.h) ---- */

#define MAX_GROUPS 99
static unsigned ngroups = 64; /* --groups: the pickup groups the calls are spread over */
static bool lockstep;	      /* --lockstep: every call at the same step (calls_start) */

/*
 * The peers' formatter: snprintf's contract (at most cap - 1 bytes and a
 * NUL written; the length the whole text needs returned) for the
 * conversions the mix's templates use: %s, %.*s, %u, %02u, %zu, %c, %%.
 * The closed loop's peers share the worker's core, and what they run
 * between two bursts is not the worker's cost but evicts its code, branch
 * history and data: glibc's printf machinery came to about 10,000
 * instructions a message (docs/dpdk.md, "2026-11-28 (session 14)").
 */
static int mix_fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

static size_t mix_put(char *out, size_t cap, size_t n, const char *s, size_t len)
{
	if (n < cap) {
		size_t k = cap - 1 - n < len ? cap - 1 - n : len;
		memcpy(out + n, s, k);
	}
	return n + len;
}

static size_t mix_put_u(char *out, size_t cap, size_t n, unsigned long long v, unsigned width)
{
	char d[24];
	unsigned i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (sizeof(d) - i < width)
		d[--i] = '0';
	return mix_put(out, cap, n, d + i, sizeof(d) - i);
}

static int mix_fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	size_t n = 0;

	va_start(ap, f);
	while (*f != '\0') {
		const char *pct = strchr(f, '%');
		if (pct == NULL)
			pct = f + strlen(f);
		n = mix_put(out, cap, n, f, (size_t)(pct - f));
		f = pct;
		if (*f == '\0')
			break;
		f++;
		if (f[0] == 's') {
			const char *a = va_arg(ap, const char *);
			n = mix_put(out, cap, n, a, strlen(a));
			f++;
		} else if (f[0] == '.' && f[1] == '*' && f[2] == 's') {
			int len = va_arg(ap, int);
			const char *a = va_arg(ap, const char *);
			n = mix_put(out, cap, n, a, len > 0 ? (size_t)len : 0);
			f += 3;
		} else if (f[0] == 'u') {
			n = mix_put_u(out, cap, n, va_arg(ap, unsigned), 0);
			f++;
		} else if (f[0] == '0' && f[1] == '2' && f[2] == 'u') {
			n = mix_put_u(out, cap, n, va_arg(ap, unsigned), 2);
			f += 3;
		} else if (f[0] == 'z' && f[1] == 'u') {
			n = mix_put_u(out, cap, n, va_arg(ap, size_t), 0);
			f += 2;
		} else if (f[0] == 'c') {
			char c = (char)va_arg(ap, int);
			n = mix_put(out, cap, n, &c, 1);
			f++;
		} else if (f[0] == '%') {
			n = mix_put(out, cap, n, "%", 1);
			f++;
		} else {
			die("mix_fmt: unsupported conversion in \"%s\"", f - 1);
		}
	}
	va_end(ap);
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
	return (int)n;
}

/* Call slot k's users: callee, picker, registering member, group number. */
static void users_of(unsigned k, char ce[8], char pu[8], char ru[8], char gn[8])
{
	unsigned g = k % ngroups % MAX_GROUPS; /* < 99: four characters each */
	mix_fmt(ce, 8, "%u", 2002 + 4 * g);
	mix_fmt(pu, 8, "%u", 2003 + 4 * g);
	mix_fmt(ru, 8, "%u", 2004 + 4 * g);
	mix_fmt(gn, 8, "*8%02u", (g + 1) % 100);
}

static void groups_yaml(char *y, size_t cap)
{
	size_t n = (size_t)snprintf(y, cap, "settings:\n"
					    "  domains: [example.test]\n"
					    "  pickup_code: \"*8\"\n"
					    "groups:\n");
	for (unsigned g = 0; g < ngroups && n < cap; g++) {
		char ce[8], pu[8], ru[8], gn[8];
		users_of(g, ce, pu, ru, gn);
		n += (size_t)snprintf(y + n, cap - n,
				      "  - number: \"%s\"\n"
				      "    members:\n"
				      "      - \"%s\"\n"
				      "      - \"%s\"\n"
				      "      - user: \"%s\"\n"
				      "        rights: [ring]\n",
				      gn, ce, pu, ru);
	}
	if (n >= cap)
		die("%s", "groups file too long");
}

static void engine_build(struct backend *b, const char *listen, const char *trusted, struct pk_io *io)
{
	static char yaml[16384], gy[16384];
	char err[600];
	size_t n = (size_t)snprintf(yaml, sizeof(yaml),
				    "listen:\n  proxy: \"%s\"\n"
				    "workers: 1\n"
				    "domains: [example.test]\n"
				    "groups: groups.yaml\n"
				    "trusted: [%s]\n"
				    "timers:\n  claim_timeout: 32\n"
				    /* 8,192 claim records (capacity/16): the mix's
				     * pickups at ~3 M messages a second outrun
				     * 4,096 (docs/calltab.md) */
				    "capacity:\n  calls: 131072\n  registrations: 1024\n"
				    "bindings:\n",
				    listen, trusted);
	/* each group's callee is bound to the callee peer */
	for (unsigned g = 0; g < ngroups && n < sizeof(yaml); g++) {
		char ce[8], pu[8], ru[8], gn[8];
		users_of(g, ce, pu, ru, gn);
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "  \"%s\": \"sip:%s@%s\"\n", ce, ce,
				      b->peer_host[P_CALLEE]);
	}
	if (n >= sizeof(yaml))
		die("%s", "config too long");
	groups_yaml(gy, sizeof(gy));
	if (dpdk_engine_build(&b->e, yaml, gy, 0x5eed5eed12345678ull, io, err, sizeof(err)) != 0)
		die("%s", err);
	b->w = b->e.w;
	b->q = b->w->q;
}

/* The control thread's work: from the worker's own thread in the closed
 * loop (no wait: it cannot pass a quiescent state meanwhile), from the
 * generator's lcore with --own-core (as pickupd's control thread). */
static void housekeep(struct backend *b, bool own_thread)
{
	dpdk_engine_housekeep(&b->e, own_thread ? PK_ENGINE_RECLAIM_WAIT_NS : 0);
}

static inline unsigned worker_iter(struct backend *b)
{
	return dpdk_engine_iter(&b->e, 0);
}

/* ---- the dpdk wire: frames on a net_ring port ---- */

/* What the wire carried to pickupd, in order: frames (dpdk) or datagrams
 * with the peer that sent each (socket), replayed into a fresh engine by a
 * generator lcore (measure_own_core) or between the worker's bursts on its
 * own core (measure_replay). */
struct recording {
	uint8_t *bytes;
	size_t *off;	/* message i: bytes[off[i] .. off[i + 1]) */
	uint8_t *peer;	/* socket: message i came from peer[i] (NULL for frames) */
	size_t n, cap, size, used;
};

static void rec_add(struct recording *r, const uint8_t *f, size_t len, int peer)
{
	if (r->n == r->cap || r->used + len > r->size)
		die("%s", "recording full");
	memcpy(r->bytes + r->used, f, len);
	r->used += len;
	if (r->peer != NULL)
		r->peer[r->n] = (uint8_t)peer;
	r->off[++r->n] = r->used;
}

/* The frame of m, as its peer sends it, into mb. */
static void build_frame(const struct backend *b, const struct smsg *m, struct rte_mbuf *mb)
{
	size_t n = 14 + 20 + 8 + m->len;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(mb, (uint16_t)n);
	if (f == NULL)
		die("%s", "frame too long");
	memcpy(f, b->our_mac, 6);
	uint8_t pm[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(0x10 + m->peer) };
	memcpy(f + 6, pm, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	memset(ip, 0, 20);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + m->len));
	ip->packet_id = rte_cpu_to_be_16((uint16_t)m->call);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = b->peer_ip[m->peer];
	ip->dst_addr = b->our_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	u->src_port = rte_cpu_to_be_16(b->peer_port[m->peer]);
	u->dst_port = rte_cpu_to_be_16(5060);
	u->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + m->len));
	u->dgram_cksum = 0;
	memcpy(u + 1, m->text, m->len);
	u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u); /* peers send checksums */
	if (b->wire_cksum) /* the NIC checked them (else pickupd does, in software) */
		mb->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
}

static void dpdk_inject(struct backend *b, const struct smsg *const *m, unsigned n)
{
	struct rte_mbuf *mb[PK_IO_BURST];

	if (rte_pktmbuf_alloc_bulk(b->gen_pool, mb, n) != 0)
		die("%s", "generator pool empty");
	for (unsigned i = 0; i < n; i++) {
		build_frame(b, m[i], mb[i]);
		if (b->rec != NULL)
			rec_add(b->rec, rte_pktmbuf_mtod(mb[i], const uint8_t *), rte_pktmbuf_data_len(mb[i]),
				m[i]->peer);
	}
	if (rte_ring_enqueue_bulk(b->rx_ring, (void **)mb, n, NULL) != n)
		die("%s", "wire full");
}

/* The checksums a NIC computes for frame m, sent with the offload flags
 * (dpdk+ol): the IPv4 header's, and the UDP one from the pseudo-header sum
 * pickupd must leave in the field (DPDK's contract, rte_ipv4_phdr_cksum);
 * a wrong seed is pickupd's bug and stops the bench. With finish false the
 * seed is checked and the sums left undone (nothing reads the frame). */
static void wire_finish(struct backend *b, struct rte_mbuf *m, uint8_t *p, bool finish)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);

	if (!(m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)))
		return;
	if (m->l2_len != 14 || m->l3_len != 20)
		die("%s", "offloaded frame without its l2_len/l3_len");
	if ((m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) && finish) {
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
		if (u->dgram_cksum != rte_ipv4_phdr_cksum(ip, m->ol_flags))
			die("%s", "an offloaded UDP checksum's pseudo-header seed is wrong");
		if (!finish)
			return;
		u->dgram_cksum = 0;
		u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
	}
	b->finished++;
}

static unsigned dpdk_collect(struct backend *b, char (*outs)[2048], unsigned max)
{
	struct rte_mbuf *mb[64];
	unsigned n, got = 0;

	while ((n = rte_ring_dequeue_burst(b->tx_ring, (void **)mb, 64, NULL)) != 0) {
		for (unsigned i = 0; i < n; i++) {
			uint8_t *p = rte_pktmbuf_mtod(mb[i], uint8_t *);
			uint16_t ty = (uint16_t)(p[12] << 8 | p[13]);
			if (ty == 0x0800)
				wire_finish(b, mb[i], p, true);
			if (ty == 0x0800 && p[14 + 9] == IPPROTO_UDP && got < max) {
				size_t len = rte_pktmbuf_data_len(mb[i]) - 42;
				if (len >= 2048)
					len = 2047;
				memcpy(outs[got], p + 42, len);
				outs[got][len] = '\0';
				got++;
			} else if (ty == 0x0800) {
				got++;
			}
		}
		rte_pktmbuf_free_bulk(mb, n);
	}
	return got;
}

/* ---- the socket wire: loopback UDP ---- */

/* k datagrams (iov) from peer p to pickupd's socket, in as few sendmmsg
 * calls as the kernel takes (one, on loopback). */
static void sock_sendv(struct backend *b, int p, struct iovec *iov, unsigned k)
{
	struct mmsghdr mh[PK_IO_BURST];

	for (unsigned i = 0; i < k; i++)
		mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &b->pk_sa,
						       .msg_namelen = sizeof(b->pk_sa),
						       .msg_iov = &iov[i],
						       .msg_iovlen = 1 } };
	for (unsigned s = 0; s < k;) {
		int r = sendmmsg(b->peer_fd[p], mh + s, k - s, 0);
		if (r <= 0)
			die("sendmmsg: %s", strerror(errno));
		s += (unsigned)r;
	}
}

static void sock_inject(struct backend *b, const struct smsg *const *m, unsigned n)
{
	/* one sendmmsg a peer: each call has one message on the way at a
	 * time, so only messages of different calls change places */
	struct iovec iov[PK_IO_BURST];

	for (int p = 0; p < P_COUNT; p++) {
		unsigned k = 0;

		for (unsigned i = 0; i < n; i++) {
			if (m[i]->peer != p)
				continue;
			iov[k++] = (struct iovec){ .iov_base = (void *)m[i]->text, .iov_len = m[i]->len };
			if (b->rec != NULL) /* in the order pickupd's socket queues them */
				rec_add(b->rec, (const uint8_t *)m[i]->text, m[i]->len, p);
		}
		sock_sendv(b, p, iov, k);
	}
}

static unsigned sock_collect(struct backend *b, char (*outs)[2048], unsigned max)
{
	/* recvmmsg straight into outs (the rest into tmp), a peer at a time */
	static char tmp[PK_IO_BURST][2048];
	struct mmsghdr mh[PK_IO_BURST];
	struct iovec iov[PK_IO_BURST];
	unsigned got = 0;

	for (int p = 0; p < P_COUNT; p++) {
		int r;
		do {
			for (unsigned i = 0; i < PK_IO_BURST; i++) {
				char *d = got + i < max ? outs[got + i] : tmp[i];
				iov[i] = (struct iovec){ .iov_base = d, .iov_len = 2047 };
				mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
			}
			r = recvmmsg(b->peer_fd[p], mh, PK_IO_BURST, MSG_DONTWAIT, NULL);
			for (int i = 0; i < r; i++)
				((char *)iov[i].iov_base)[mh[i].msg_len] = '\0';
			if (r > 0)
				got += (unsigned)r;
		} while (r == PK_IO_BURST);
	}
	return got;
}

/* ---- the mix ---- */

static const char sdp_fmt[] = "v=0\r\n"
			      "o=- 2890844526 2890844526 IN IP4 %s\r\n"
			      "s=-\r\n"
			      "c=IN IP4 %s\r\n"
			      "t=0 0\r\n"
			      "m=audio 49170 RTP/AVP 0 8 101\r\n"
			      "a=rtpmap:0 PCMU/8000\r\n"
			      "a=rtpmap:8 PCMA/8000\r\n"
			      "a=rtpmap:101 telephone-event/8000\r\n"
			      "a=sendrecv\r\n";

/* host of "ip:port" */
static const char *hostpart(const char *hp, char *buf)
{
	strcpy(buf, hp);
	char *c = strchr(buf, ':');
	if (c != NULL)
		*c = '\0';
	return buf;
}

/* The Via lines of a message pickupd sent, CRLF-terminated each. */
static void vias_of(const char *msg, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = msg;
	out[0] = '\0';
	/* a byte search a line (pickupd ends its lines with CRLF) */
	while (*p != '\0' && !(p[0] == '\r' && p[1] == '\n')) {
		const char *e = strchr(p, '\n');
		if (e == NULL || e == p || e[-1] != '\r')
			break;
		if (((p[0] | 0x20) == 'v' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'a' && p[3] == ':') ||
		    (p[0] == 'v' && p[1] == ':')) {
			size_t len = (size_t)(e + 1 - p);
			if (n + len < cap) {
				memcpy(out + n, p, len);
				n += len;
				out[n] = '\0';
			}
		}
		p = e + 1;
	}
}

static void set_msg(struct smsg *m, int peer, const char *hdrs, const char *body)
{
	size_t bl = body ? strlen(body) : 0;
	int n = mix_fmt(m->text, sizeof(m->text), "%sContent-Length: %zu\r\n\r\n%s", hdrs, bl,
			 body ? body : "");
	if (n <= 0 || (size_t)n >= sizeof(m->text))
		die("%s", "message too long");
	m->len = (uint16_t)n;
	m->peer = (uint8_t)peer;
}

/* ---- the peers: every call's next message, made from pickupd's output ---- */

#define WINDOW 256 /* calls in progress at once */

struct call {
	unsigned k, r;	  /* slot and round: Call-IDs c-K-R, pk-K-R, r-K-R */
	uint8_t step;	  /* the step sent last, whose output is awaited */
	uint8_t lag;	  /* REGISTER refreshes still to send before the first INVITE */
	bool started;	  /* its first INVITE was sent: a call ends with each REGISTER */
	char v1[768];	  /* pickupd's Via lines on the forwarded INVITE */
	char last[768];	  /* ... on its last output of this call */
};

/* The peers' side of one backend: its calls, the messages ready to send. */
struct mix {
	struct call calls[WINDOW];
	struct smsg readyq[WINDOW];
	unsigned rq_head, rq_n;
	uint64_t outs_by_step[PER_CALL], unexpected, completed;
};

/* Message `step` of call c, into m. */
static void make_msg(const struct backend *b, const struct call *c, unsigned step, struct smsg *m)
{
	char h[2048], sdp[512], hb[32], id[24], ce[8], pu[8], ru[8], gn[8];
	const char *C = b->peer_host[P_CALLER], *E = b->peer_host[P_CALLEE],
		   *P = b->peer_host[P_PICKER], *G = b->peer_host[P_REG];
	const char *body = NULL;
	int peer = P_CALLER;

	mix_fmt(id, sizeof(id), "%u-%u", c->k, c->r);
	users_of(c->k, ce, pu, ru, gn);
	switch (step) {
	case 0:
		mix_fmt(sdp, sizeof(sdp), sdp_fmt, hostpart(C, hb), hb);
		body = sdp;
		mix_fmt(h, sizeof(h),
			 "INVITE sip:2002@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-ci-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice %u\" <sip:alice%u@example.test>;tag=fa-%s\r\n"
			 "To: <sip:2002@example.test>\r\n"
			 "Call-ID: c-%s@bench\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "Contact: <sip:alice%u@%s>\r\n"
			 "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY\r\n"
			 "Supported: replaces, timer\r\n"
			 "User-Agent: pk-bench\r\n"
			 "Content-Type: application/sdp\r\n",
			 C, id, c->k, c->k, id, id, c->k, C);
		break;
	case 1:
		peer = P_CALLEE;
		mix_fmt(h, sizeof(h),
			 "SIP/2.0 180 Ringing\r\n%s"
			 "From: \"Alice %u\" <sip:alice%u@example.test>;tag=fa-%s\r\n"
			 "To: <sip:2002@example.test>;tag=tb-%s\r\n"
			 "Call-ID: c-%s@bench\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "Contact: <sip:2002@%s>\r\n",
			 c->v1, c->k, c->k, id, id, id, E);
		break;
	case 2:
		peer = P_PICKER;
		mix_fmt(sdp, sizeof(sdp), sdp_fmt, hostpart(P, hb), hb);
		body = sdp;
		mix_fmt(h, sizeof(h),
			 "INVITE sip:*801@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-pi-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\r\n"
			 "To: <sip:*801@example.test>\r\n"
			 "Call-ID: pk-%s@bench\r\n"
			 "CSeq: 7 INVITE\r\n"
			 "Contact: <sip:2003@%s>\r\n"
			 "Supported: replaces\r\n"
			 "Content-Type: application/sdp\r\n",
			 P, id, id, id, P);
		break;
	case 3:
		mix_fmt(sdp, sizeof(sdp), sdp_fmt, hostpart(C, hb), hb);
		body = sdp;
		mix_fmt(h, sizeof(h),
			 "SIP/2.0 200 OK\r\n%s"
			 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\r\n"
			 "To: <sip:*801@example.test>;tag=ta-%s\r\n"
			 "Call-ID: pk-%s@bench\r\n"
			 "CSeq: 7 INVITE\r\n"
			 "Contact: <sip:alice%u@%s>\r\n"
			 "Content-Type: application/sdp\r\n",
			 c->last, id, id, id, c->k, C);
		break;
	case 4:
		mix_fmt(h, sizeof(h),
			 "CANCEL sip:2002@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-ci-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice %u\" <sip:alice%u@example.test>;tag=fa-%s\r\n"
			 "To: <sip:2002@example.test>\r\n"
			 "Call-ID: c-%s@bench\r\n"
			 "CSeq: 1 CANCEL\r\n",
			 C, id, c->k, c->k, id, id);
		break;
	case 5:
	case 6:
		peer = P_CALLEE;
		mix_fmt(h, sizeof(h),
			 "SIP/2.0 %s\r\n%s"
			 "From: \"Alice %u\" <sip:alice%u@example.test>;tag=fa-%s\r\n"
			 "To: <sip:2002@example.test>;tag=tb-%s\r\n"
			 "Call-ID: c-%s@bench\r\n"
			 "CSeq: 1 %s\r\n",
			 step == 5 ? "200 OK" : "487 Request Terminated", step == 5 ? c->last : c->v1,
			 c->k, c->k, id, id, id, step == 5 ? "CANCEL" : "INVITE");
		break;
	case 7:
		mix_fmt(h, sizeof(h),
			 "ACK sip:2002@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-ci-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice %u\" <sip:alice%u@example.test>;tag=fa-%s\r\n"
			 "To: <sip:2002@example.test>;tag=tb-%s\r\n"
			 "Call-ID: c-%s@bench\r\n"
			 "CSeq: 1 ACK\r\n",
			 C, id, c->k, c->k, id, id, id);
		break;
	case 8:
	case 9:
		peer = P_PICKER;
		mix_fmt(h, sizeof(h),
			 "%s sip:alice%u@%s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-p%c-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\r\n"
			 "To: <sip:*801@example.test>;tag=ta-%s\r\n"
			 "Call-ID: pk-%s@bench\r\n"
			 "CSeq: %s\r\n",
			 step == 8 ? "ACK" : "BYE", c->k, C, P, step == 8 ? 'a' : 'b', id, id, id, id,
			 step == 8 ? "7 ACK" : "8 BYE");
		break;
	case 10:
		mix_fmt(h, sizeof(h),
			 "SIP/2.0 200 OK\r\n%s"
			 "From: \"Picker\" <sip:2003@example.test>;tag=fp-%s\r\n"
			 "To: <sip:*801@example.test>;tag=ta-%s\r\n"
			 "Call-ID: pk-%s@bench\r\n"
			 "CSeq: 8 BYE\r\n",
			 c->last, id, id, id);
		break;
	default:
		peer = P_REG;
		mix_fmt(h, sizeof(h),
			 "REGISTER sip:example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bK-r-%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:2004@example.test>;tag=fr-%s\r\n"
			 "To: <sip:2004@example.test>\r\n"
			 "Call-ID: r-%u@bench\r\n"
			 "CSeq: %u REGISTER\r\n"
			 "Contact: <sip:2004@%s>;expires=3600\r\n"
			 "User-Agent: pk-bench\r\n",
			 G, id, id, c->k, c->r + 1, G);
		break;
	}
	/* the templates name group 0's users: this call's instead (same lengths) */
	static const char *const tpl[4] = { "sip:2002@", "sip:2003@", "sip:2004@", "sip:*801@" };
	const char *const mine[4] = { ce, pu, ru, gn };
	for (char *q = strstr(h, "sip:"); q != NULL; q = strstr(q + 4, "sip:"))
		for (unsigned u = 0; u < 4; u++)
			if (memcmp(q + 4, tpl[u] + 4, 5) == 0) {
				memcpy(q + 4, mine[u], 4);
				break;
			}
	set_msg(m, peer, h, body);
	m->call = c->k;
}

static void push(const struct backend *b, struct call *c, unsigned step)
{
	struct mix *x = b->mix;

	c->step = (uint8_t)step;
	make_msg(b, c, step, &x->readyq[(x->rq_head + x->rq_n) % WINDOW]);
	x->rq_n++;
}

/*
 * The calls start out of step: call k first sends (k mod 12) REGISTER
 * refreshes, so that from the second round on the calls are spread over
 * the 12 steps and every burst mixes the kinds of message, as a carrier's
 * traffic does. Each call's messages still go one at a time in order, and
 * the ready queue keeps the calls' order, so the spread lasts. The
 * warm-up (measure_start) covers those first rounds.
 *
 * With --lockstep every call starts with its INVITE: the calls then move
 * through the steps together, a burst holds 32 messages of one kind, and
 * each round of 96 bursts has eight bursts of callers' INVITEs and eight
 * of pickers' (the benchmark's order before 2026-11-28, session 11;
 * docs/dpdk.md).
 */
static void calls_start(const struct backend *b)
{
	struct mix *x = b->mix;

	memset(x, 0, sizeof(*x));
	for (unsigned k = 0; k < WINDOW; k++) {
		struct call *c = &x->calls[k];
		c->k = k;
		if (!lockstep && k % PER_CALL != 0) {
			c->lag = (uint8_t)(k % PER_CALL - 1);
			push(b, c, PER_CALL - 1);
		} else {
			c->started = true;
			push(b, c, 0);
		}
	}
}

/* A message pickupd sent reached a peer: the call it belongs to moves on. */
static void on_output(const struct backend *b, const char *text)
{
	struct mix *x = b->mix;
	const char *cid = strstr(text, "\r\nCall-ID: ");
	unsigned k, r;

	if (cid == NULL) {
		x->unexpected++;
		return;
	}
	cid += 11;
	if (cid[0] == 'p' && cid[1] == 'k')
		cid += 3;
	else
		cid += 2;
	char *e;
	k = (unsigned)strtoul(cid, &e, 10);
	r = *e == '-' ? (unsigned)strtoul(e + 1, NULL, 10) : 0;
	if (e == cid || k >= WINDOW) {
		x->unexpected++;
		return;
	}
	struct call *c = &x->calls[k];
	if (c->step != 11 && r != c->r) {
		x->unexpected++;
		return;
	}
	x->outs_by_step[c->step]++;
	if (c->step == 0)
		vias_of(text, c->v1, sizeof(c->v1));
	vias_of(text, c->last, sizeof(c->last));
	if (c->step == 11 && c->lag > 0) {
		c->lag--;
		c->r++; /* the next refresh: CSeq one higher, as a phone's */
		push(b, c, 11);
	} else if (c->step == 11) {
		c->r++;
		x->completed += c->started; /* not the refreshes before the first call */
		c->started = true;
		push(b, c, 0);
	} else {
		push(b, c, c->step + 1u);
	}
}

/* ---- where the worker's cycles go: the queue's burst functions timed
 * through a copy of its ops table ---- */

static struct pk_io_ops timed_ops;
static const struct pk_io_ops *real_ops;
static uint64_t cyc_rx, cyc_tx;

static unsigned timed_rx_burst(struct pk_io_queue *q, struct pk_io_msg **msgs, unsigned n, uint64_t now)
{
	uint64_t t = rte_rdtsc();
	unsigned r = real_ops->rx_burst(q, msgs, n, now);
	cyc_rx += rte_rdtsc() - t;
	return r;
}

static unsigned timed_tx_flush(struct pk_io_queue *q)
{
	uint64_t t = rte_rdtsc();
	unsigned r = real_ops->tx_flush(q);
	cyc_tx += rte_rdtsc() - t;
	return r;
}

static void timing_on(struct backend *b)
{
	real_ops = b->q->ops;
	timed_ops = *real_ops;
	timed_ops.rx_burst = timed_rx_burst;
	timed_ops.tx_flush = timed_tx_flush;
	b->q->ops = &timed_ops;
	cyc_rx = cyc_tx = 0;
}

static void timing_off(struct backend *b)
{
	b->q->ops = real_ops;
}

/* ---- measurement ---- */

struct result {
	double msgs_per_s, cycles_per_msg, median_cycles_per_msg;
	/* core cycles a message (full bursts: mean, median); the core's clock, GHz */
	double mean_core_cycles, median_core_cycles, clk_lo, clk_hi;
	double rx_cycles, tx_cycles; /* per message, in the backend's burst functions */
	double timed_cycles;	      /* per message, the whole iteration, in the same timed slices */
	uint64_t msgs, out, calls;
	double p50_ns, p99_ns, p999_ns; /* light load */
	double f50_ns, f99_ns;		/* full bursts */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Cycles a message of the mean full burst, from n bursts' samples. */
static double burst_mean(const uint32_t *s, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += s[i];
	return n ? sum / (double)n / PK_IO_BURST : 0;
}

static double pct(uint32_t *s, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1));
	return (double)s[i] * 1e9 / (double)rte_get_tsc_hz();
}

/* ---- the core's clock ----
 *
 * The TSC ticks at the machine's nominal rate (2.445 GHz here), the core
 * at whatever the host gives it: on this VM between about 1.8 and 3.2 GHz,
 * changing within seconds. A chain of dependent register adds retires one
 * add per core cycle, so the TSC ticks a chain of them takes are the TSC
 * ticks per core cycle. The least of three short chains (a chain the host
 * interrupted counts more ticks, never fewer). */
static double tsc_per_core_cycle(void)
{
	double best = 1e9;

	for (int k = 0; k < 3; k++) {
		uint64_t t0 = rte_rdtsc_precise(), x = 0;
		for (unsigned i = 0; i < 512; i++)
			__asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
					 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
					 : "+r"(x));
		double r = (double)(rte_rdtsc_precise() - t0) / 4096.0;
		if (r < best)
			best = r;
	}
	return best;
}

static double clk_ratio, clk_min, clk_max; /* TSC ticks per core cycle: now, least and most seen */

static void clock_read(void)
{
	clk_ratio = tsc_per_core_cycle();
	if (clk_min == 0 || clk_ratio < clk_min)
		clk_min = clk_ratio;
	if (clk_ratio > clk_max)
		clk_max = clk_ratio;
}

static char (*scratch)[2048];
#define SCRATCH 256

/* Run the calls for `seconds` in bursts of `burst` messages; cycles of
 * the worker only. latency: a sample per message (the burst's RX to TX
 * time); else a sample per full burst (its cycles, and in core its core
 * cycles). Samples are appended at *nsamples; the sums start at 0. */
static void run(struct backend *b, unsigned burst, double seconds, bool latency, uint32_t *samples,
		uint32_t *core, size_t *nsamples, uint64_t *cycles, uint64_t *msgs, uint64_t *out)
{
	const struct smsg *ptrs[PK_IO_BURST];
	uint64_t end = clock_ns() + (uint64_t)(seconds * 1e9);
	unsigned iter = 0;
	struct mix *x = b->mix;

	*cycles = *msgs = *out = 0;
	clock_read();
	while (clock_ns() < end) {
		if (b->rec != NULL && (b->rec->n + burst > b->rec->cap || b->rec->used + burst * 1600 > b->rec->size))
			break; /* recording full: it ends here */
		if (x->rq_n < burst) {
			fprintf(stderr, "%s: only %u messages ready: calls stalled\n", b->name, x->rq_n);
			exit(1);
		}
		for (unsigned j = 0; j < burst; j++)
			ptrs[j] = &x->readyq[(x->rq_head + j) % WINDOW];
		b->inject(b, ptrs, burst);
		uint64_t t0 = rte_rdtsc_precise();
		unsigned got = worker_iter(b);
		if (latency && b->drain_in_latency)
			pk_io_dpdk_drain(b->q);
		uint64_t t1 = rte_rdtsc_precise();
		x->rq_head = (x->rq_head + burst) % WINDOW;
		x->rq_n -= burst;
		if (got != burst)
			fprintf(stderr, "%s: %u of %u messages received\n", b->name, got, burst);
		*cycles += t1 - t0;
		*msgs += got;
		if (latency) {
			for (unsigned j = 0; j < got && *nsamples < MAX_SAMPLES; j++)
				samples[(*nsamples)++] = (uint32_t)(t1 - t0);
		} else if (got == PK_IO_BURST && *nsamples < MAX_SAMPLES) {
			if (core != NULL)
				core[*nsamples] = (uint32_t)((double)(t1 - t0) / clk_ratio);
			samples[(*nsamples)++] = (uint32_t)(t1 - t0);
		}
		unsigned n = b->collect(b, scratch, SCRATCH);
		*out += n;
		for (unsigned i = 0; i < n && i < SCRATCH; i++)
			on_output(b, scratch[i]);
		if ((++iter & 63) == 0) {
			housekeep(b, false);
			clock_read();
		}
	}
}

/* One backend's steady-state figures, gathered over slices of time. */
struct steady {
	uint32_t *samples, *core; /* full bursts: TSC cycles, core cycles */
	size_t ns;
	uint64_t cyc, msgs, out, done0;
	uint64_t t_cyc, t_rx, t_tx, t_msgs; /* the timed slices (the backend's share) */
	double clk_min, clk_max;
};

/* Calls started and warmed up (an eighth of the measured time). */
static void measure_start(struct backend *b, double seconds, struct steady *st)
{
	uint64_t cyc, n, out;
	size_t ns = 0;

	memset(st, 0, sizeof(*st));
	st->samples = malloc(MAX_SAMPLES * sizeof(*st->samples));
	st->core = malloc(MAX_SAMPLES * sizeof(*st->core));
	if (st->samples == NULL || st->core == NULL)
		die("%s", "samples: out of memory");
	calls_start(b);
	run(b, PK_IO_BURST, seconds / 8, false, st->samples, NULL, &ns, &cyc, &n, &out);
	st->done0 = b->mix->completed;
}

static void measure_slice(struct backend *b, double seconds, struct steady *st)
{
	uint64_t cyc, n, out;

	clk_min = st->clk_min;
	clk_max = st->clk_max;
	run(b, PK_IO_BURST, seconds, false, st->samples, st->core, &st->ns, &cyc, &n, &out);
	st->clk_min = clk_min;
	st->clk_max = clk_max;
	st->cyc += cyc;
	st->msgs += n;
	st->out += out;
}

/* A quarter slice with the backend's burst functions timed (which costs
 * the run a little: not counted in the steady state); taken in turn with
 * the steady slices, so that the share and the whole come from the same
 * stretches of the host. */
static void measure_share(struct backend *b, double seconds, struct steady *st)
{
	uint64_t cyc, n, out, calls0 = b->mix->completed;
	size_t ns = MAX_SAMPLES; /* no samples kept */

	timing_on(b);
	run(b, PK_IO_BURST, seconds, false, st->samples, NULL, &ns, &cyc, &n, &out);
	timing_off(b);
	st->done0 += b->mix->completed - calls0; /* the steady state's calls only */
	st->t_cyc += cyc;
	st->t_rx += cyc_rx;
	st->t_tx += cyc_tx;
	st->t_msgs += n;
}

/* The steady state's figures and the backend's share, then the latency
 * (in one piece, after the steady state). */
static void measure_finish(struct backend *b, double seconds, struct steady *st, struct result *r)
{
	uint32_t *samples = st->samples;
	uint64_t cyc, n, out;
	size_t ns = st->ns;

	qsort(st->core, ns, sizeof(st->core[0]), cmp_u32);
	r->median_core_cycles = ns ? (double)st->core[ns / 2] / PK_IO_BURST : 0;
	r->mean_core_cycles = burst_mean(st->core, ns);
	r->clk_lo = (double)rte_get_tsc_hz() / st->clk_max / 1e9;
	r->clk_hi = (double)rte_get_tsc_hz() / st->clk_min / 1e9;
	r->calls = b->mix->completed - st->done0;
	r->msgs = st->msgs;
	r->out = st->out;
	r->cycles_per_msg = (double)st->cyc / (double)st->msgs;
	r->msgs_per_s = (double)rte_get_tsc_hz() / r->cycles_per_msg;
	qsort(samples, ns, sizeof(samples[0]), cmp_u32);
	r->median_cycles_per_msg = ns ? (double)samples[ns / 2] / PK_IO_BURST : 0;
	/* the backend's share (measure_share) */
	r->rx_cycles = (double)st->t_rx / (double)st->t_msgs;
	r->tx_cycles = (double)st->t_tx / (double)st->t_msgs;
	r->timed_cycles = (double)st->t_cyc / (double)st->t_msgs;
	/* latency: light load, one message per poll */
	ns = 0;
	run(b, 1, seconds / 4, true, samples, NULL, &ns, &cyc, &n, &out);
	qsort(samples, ns, sizeof(samples[0]), cmp_u32);
	r->p50_ns = pct(samples, ns, 0.5);
	r->p99_ns = pct(samples, ns, 0.99);
	r->p999_ns = pct(samples, ns, 0.999);
	/* full bursts of 32 */
	ns = 0;
	run(b, PK_IO_BURST, seconds / 4, true, samples, NULL, &ns, &cyc, &n, &out);
	qsort(samples, ns, sizeof(samples[0]), cmp_u32);
	r->f50_ns = pct(samples, ns, 0.5);
	r->f99_ns = pct(samples, ns, 0.99);
	printf("  %s: outputs per step:", b->name);
	for (unsigned i = 0; i < PER_CALL; i++)
		printf(" %s=%llu", kind_names[i], (unsigned long long)b->mix->outs_by_step[i]);
	printf(" unexpected=%llu\n", (unsigned long long)b->mix->unexpected);
	free(st->samples);
	free(st->core);
}

/* The steady state of n backends (1 or 2) in SLICES slices each, taken in
 * turn: the host's drift (its speed changes within seconds) then touches
 * every backend alike, and their ratio is one run's. */
#define SLICES 8
static void measure(struct backend *const *bs, unsigned n, double seconds, struct result *rs)
{
	struct steady st[3];

	for (unsigned i = 0; i < n; i++)
		measure_start(bs[i], seconds, &st[i]);
	for (unsigned s = 0; s < SLICES; s++)
		for (unsigned i = 0; i < n; i++) {
			measure_slice(bs[i], seconds / SLICES, &st[i]);
			measure_share(bs[i], seconds / SLICES / 4, &st[i]);
		}
	for (unsigned i = 0; i < n; i++)
		measure_finish(bs[i], seconds, &st[i], &rs[i]);
}

static void print_counters(const struct backend *b)
{
	const struct pk_worker *w = b->w;
	printf("  %s worker counters:", b->name);
	for (unsigned c = 0; c < PK_WORKER_CTR_COUNT; c++)
		if (w->ctr[c] != 0)
			printf(" %s=%llu", pk_worker_counter_name((enum pk_worker_counter)c),
			       (unsigned long long)w->ctr[c]);
	for (unsigned c = 0; c < PK_PROXY_CTR_COUNT; c++)
		if (w->proxy_ctr[c] != 0)
			printf(" proxy.%s=%llu", pk_proxy_counter_name((enum pk_proxy_counter)c),
			       (unsigned long long)w->proxy_ctr[c]);
	for (unsigned c = 0; c < PK_PICKUP_CTR_COUNT; c++)
		if (w->pickup_ctr[c] != 0)
			printf(" pickup.%s=%llu", pk_pickup_counter_name((enum pk_pickup_counter)c),
			       (unsigned long long)w->pickup_ctr[c]);
	printf("\n");
}

/* ---- set-up of the two backends ---- */

static void setup_dpdk(struct backend *b, const char *tag, bool wire_cksum)
{
	char nm[64], tg[32];
	static const char *const hosts[P_COUNT] = { "10.99.0.2:5070", "10.99.0.3:5062",
						    "10.99.0.4:5080", "10.99.0.5:5062" };
	char err[256];

	memset(b, 0, sizeof(*b));
	b->mix = calloc(1, sizeof(*b->mix));
	if (b->mix == NULL)
		die("%s", "out of memory");
	b->name = wire_cksum ? "dpdk+ol" : "dpdk";
	b->wire_cksum = wire_cksum;
	b->inject = dpdk_inject;
	b->collect = dpdk_collect;
	b->drain_in_latency = true;
	for (int p = 0; p < P_COUNT; p++) {
		strcpy(b->peer_host[p], hosts[p]);
		b->peer_ip[p] = rte_cpu_to_be_32(RTE_IPV4(10, 99, 0, 2 + p));
		b->peer_port[p] = (uint16_t)atoi(strchr(hosts[p], ':') + 1);
	}
	b->our_ip = rte_cpu_to_be_32(RTE_IPV4(10, 99, 0, 1));
	snprintf(tg, sizeof(tg), "%s%s", tag, wire_cksum ? "+" : ""); /* global names, under 20 */
	tag = tg;
	snprintf(nm, sizeof(nm), "bench_gen%s", tag);
	b->gen_pool = rte_pktmbuf_pool_create(nm, 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	snprintf(nm, sizeof(nm), "bench_rx%s", tag);
	b->rx_ring = rte_ring_create(nm, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(nm, sizeof(nm), "bench_tx%s", tag);
	b->tx_ring = rte_ring_create(nm, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (b->gen_pool == NULL || b->rx_ring == NULL || b->tx_ring == NULL)
		die("set-up: %s", rte_strerror(rte_errno));
	snprintf(nm, sizeof(nm), "net_ring_bench%s", tag);
	int port = rte_eth_from_rings(nm, &b->rx_ring, 1, &b->tx_ring, 1, 0);
	if (port < 0)
		die("rte_eth_from_rings: %s", rte_strerror(rte_errno));

	struct pk_io_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	cfg.listeners[0].role = PK_LISTEN_PROXY;
	pk_addr_parse(PK_STR_LIT("10.99.0.1:5060"), false, &cfg.listeners[0].addr);
	struct pk_io_dpdk_config dc = { .port_id = (uint16_t)port, .wire_cksum = wire_cksum };
	struct pk_io *io = pk_io_dpdk_create(&cfg, &dc, err, sizeof(err));
	if (io == NULL)
		die("%s", err);
	struct rte_ether_addr mac;
	rte_eth_macaddr_get((uint16_t)port, &mac);
	memcpy(b->our_mac, mac.addr_bytes, 6);
	engine_build(b, "10.99.0.1:5060", "10.99.0.0/24", io);
	printf("dpdk backend: %s\n", pk_io_dpdk_describe(io));

	/* The peers introduce themselves (ARP requests for us): learnt. */
	for (int p = 0; p < P_COUNT; p++) {
		uint8_t f[60] = { 0 };
		memset(f, 0xff, 6);
		f[6] = 0x02, f[11] = (uint8_t)(0x10 + p);
		f[12] = 0x08, f[13] = 0x06;
		uint8_t *a = f + 14;
		a[1] = 1, a[2] = 0x08, a[4] = 6, a[5] = 4, a[7] = 1;
		memcpy(a + 8, f + 6, 6);
		memcpy(a + 14, &b->peer_ip[p], 4);
		memcpy(a + 24, &b->our_ip, 4);
		struct rte_mbuf *m = rte_pktmbuf_alloc(b->gen_pool);
		memcpy(rte_pktmbuf_append(m, 60), f, 60);
		rte_ring_enqueue(b->rx_ring, m);
	}
	worker_iter(b);
	dpdk_collect(b, scratch, 0);
}

/* The peers' sockets (each on its own port of 127.0.0.1) of a socket
 * backend; socket_engine gives it pickupd. */
static void socket_peers(struct backend *b)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(b, 0, sizeof(*b));
	b->mix = calloc(1, sizeof(*b->mix));
	if (b->mix == NULL)
		die("%s", "out of memory");
	b->name = "socket";
	b->inject = sock_inject;
	b->collect = sock_collect;
	for (int p = 0; p < P_COUNT; p++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		int sz = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
			die("peer socket: %s", strerror(errno));
		b->peer_fd[p] = fd;
		snprintf(b->peer_host[p], sizeof(b->peer_host[p]), "127.0.0.1:%u", ntohs(sa.sin_port));
	}
}

/* pickupd, a fresh engine on its UDP socket at 127.0.0.1:port (0: a port
 * the kernel picks). */
static void socket_engine(struct backend *b, unsigned port)
{
	char err[256], listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	struct pk_io_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_queues = 1;
	cfg.n_listeners = 1;
	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	cfg.listeners[0].role = PK_LISTEN_PROXY;
	cfg.socket_buffer = 8 << 20;
	cfg.tcp_max_conns = 16;
	cfg.tcp_idle_timeout_s = 60;
	pk_addr_parse(pk_str_make(listen, strlen(listen)), false, &cfg.listeners[0].addr);
	struct pk_io *io = pk_io_socket_create(&cfg, err, sizeof(err));
	if (io == NULL)
		die("%s", err);
	const struct pk_io_listener *l = pk_io_listener_get(io, 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", l->addr.port);
	memset(&b->pk_sa, 0, sizeof(b->pk_sa));
	b->pk_sa.sin_family = AF_INET;
	b->pk_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->pk_sa.sin_port = htons(l->addr.port);
	engine_build(b, listen, "127.0.0.0/8", io);
}

static void setup_socket(struct backend *b)
{
	socket_peers(b);
	socket_engine(b, 0);
	printf("socket backend: UDP 127.0.0.1:%u, recvmmsg/sendmmsg bursts of %d\n", ntohs(b->pk_sa.sin_port),
	       PK_IO_BURST);
}

/* A backend's engine, peers and wire, freed. */
static void backend_free(struct backend *b)
{
	dpdk_engine_free(&b->e);
	free(b->mix);
	if (b->inject == dpdk_inject) {
		rte_ring_free(b->rx_ring);
		rte_ring_free(b->tx_ring);
		rte_mempool_free(b->gen_pool);
	} else {
		for (int p = 0; p < P_COUNT; p++)
			close(b->peer_fd[p]);
	}
}

/* ---- one worker core fed by a generator lcore (--own-core) ----
 *
 * The closed loop above runs the peers on the worker's own core, between
 * its bursts: their message building (most of the process's time) passes
 * through the core's caches and branch predictors before every burst, and
 * leaves the frames in the worker's caches. On a server the worker's core
 * runs nothing else, and its frames arrive from the NIC, not from its own
 * caches. So: the frames of a closed loop are recorded (a first engine),
 * then a second, fresh engine is fed the same frames by a generator
 * lcore on the other core, while its worker runs alone on the main lcore.
 * The generator puts the frames on the port's RX ring and takes
 * pickupd's off its TX ring, as the wire; it hands the sent mbufs back to
 * the worker's lcore, where the worker frees them in its timed loop, as a
 * NIC driver frees completed TX mbufs inside its tx_burst. It also does the
 * control thread's housekeeping every 10 ms. The engine is deterministic,
 * so the second one answers as the first did: their counters are compared
 * at the end. */

struct feed {
	struct backend *b;
	const struct recording *r;
	struct rte_ring *sent; /* TX mbufs off the wire, to be freed by the worker's lcore */
	atomic_bool done;      /* the worker has taken every frame */
};

/* A frame onto the wire as a NIC's DMA writes it: to memory, not through
 * the generator's cache (streaming stores: no read for ownership of lines
 * the worker's core holds from the mbuf's last use, which stalled the
 * generator until it fell behind the worker). dst is the mbuf's data
 * room, 64-byte aligned (RTE_PKTMBUF_HEADROOM) and 2 KiB long: the last
 * 32-byte store may run past len. */
static void wire_copy(void *dst, const uint8_t *src, uint32_t len)
{
	__m256i *d = dst;

	for (uint32_t o = 0; o < len; o += 32)
		_mm256_stream_si256(d++, _mm256_loadu_si256((const __m256i *)(src + o)));
}

/* Up to a burst of recorded frames onto the wire (as many as the ring and
 * the pool take); the index of the next frame to send. */
static size_t feed_burst(struct backend *b, const struct recording *r, size_t next)
{
	struct rte_mbuf *mb[PK_IO_BURST];
	size_t k = r->n - next < PK_IO_BURST ? r->n - next : PK_IO_BURST;

	if (k > 0 && rte_ring_free_count(b->rx_ring) >= k &&
	    rte_pktmbuf_alloc_bulk(b->gen_pool, mb, (unsigned)k) == 0) {
		for (size_t i = 0; i < k; i++, next++) {
			uint32_t len = (uint32_t)(r->off[next + 1] - r->off[next]);
			wire_copy(rte_pktmbuf_append(mb[i], (uint16_t)len), r->bytes + r->off[next], len);
			if (b->wire_cksum)
				mb[i]->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		}
		_mm_sfence(); /* the frames' streaming stores before the ring's */
		rte_ring_enqueue_bulk(b->rx_ring, (void **)mb, (unsigned)k, NULL);
	}
	return next;
}

static int feed_main(void *arg)
{
	struct feed *f = arg;
	struct backend *b = f->b;
	struct rte_mbuf *mb[64];
	size_t next = 0;
	unsigned n;
	/* every 10 ms, as pickupd's control thread (PK_CTL_TICK_MS) */
	uint64_t tick = rte_get_tsc_hz() / 100, next_tick = rte_rdtsc() + tick;

	while (!atomic_load_explicit(&f->done, memory_order_acquire)) {
		next = feed_burst(b, f->r, next);
		/* the sent ring holds the engine's whole pool: never full */
		while ((n = rte_ring_dequeue_burst(b->tx_ring, (void **)mb, 64, NULL)) != 0)
			rte_ring_enqueue_bulk(f->sent, (void **)mb, n, NULL);
		if (rte_rdtsc() >= next_tick) { /* the control thread's work, beside the worker */
			housekeep(b, true);
			next_tick = rte_rdtsc() + tick;
		}
	}
	return 0;
}

static const char *worker_ctr(unsigned c)
{
	return pk_worker_counter_name((enum pk_worker_counter)c);
}

static const char *proxy_ctr(unsigned c)
{
	return pk_proxy_counter_name((enum pk_proxy_counter)c);
}

static const char *pickup_ctr(unsigned c)
{
	return pk_pickup_counter_name((enum pk_pickup_counter)c);
}

/* A worker's counters, kept when its engine is freed (measure_replay). */
struct ctr_snap {
	uint64_t w[PK_WORKER_CTR_COUNT], proxy[PK_PROXY_CTR_COUNT], pickup[PK_PICKUP_CTR_COUNT];
};

static void ctr_snap(const struct pk_worker *w, struct ctr_snap *s)
{
	for (unsigned c = 0; c < PK_WORKER_CTR_COUNT; c++)
		s->w[c] = atomic_load_explicit(&w->ctr[c], memory_order_relaxed);
	for (unsigned c = 0; c < PK_PROXY_CTR_COUNT; c++)
		s->proxy[c] = atomic_load_explicit(&w->proxy_ctr[c], memory_order_relaxed);
	for (unsigned c = 0; c < PK_PICKUP_CTR_COUNT; c++)
		s->pickup[c] = atomic_load_explicit(&w->pickup_ctr[c], memory_order_relaxed);
}

/* Do the n counters of a (the recorded run) and b (the replay) agree?
 * Each one that does not is printed. */
static bool same_ctrs(const char *pfx, const uint64_t *a, const _Atomic uint64_t *b, unsigned n,
		      const char *(*name)(unsigned))
{
	bool same = true;

	for (unsigned c = 0; c < n; c++)
		if (a[c] != b[c]) {
			fprintf(stderr, "replay: %s%s %llu, recorded run %llu\n", pfx, name(c),
				(unsigned long long)b[c], (unsigned long long)a[c]);
			same = false;
		}
	return same;
}

static bool same_counters(const struct ctr_snap *a, const struct pk_worker *b)
{
	bool w = same_ctrs("", a->w, b->ctr, PK_WORKER_CTR_COUNT, worker_ctr);
	bool x = same_ctrs("proxy.", a->proxy, b->proxy_ctr, PK_PROXY_CTR_COUNT, proxy_ctr);
	bool p = same_ctrs("pickup.", a->pickup, b->pickup_ctr, PK_PICKUP_CTR_COUNT, pickup_ctr);
	return w && x && p;
}

static void measure_own_core(double seconds, bool wire_cksum)
{
	static struct backend rb, pb;
	static uint32_t samples[MAX_SAMPLES], core_samples[MAX_SAMPLES];
	struct recording r = { 0 };
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);

	if (lcore >= RTE_MAX_LCORE) {
		printf("%s, worker on its own core: skipped (this machine has one core)\n",
		       wire_cksum ? "dpdk+ol" : "dpdk");
		return;
	}
	/* a million frames per second asked, up to 900 bytes each (~900 MB a
	 * second asked; each bytes[] offset is a size_t) */
	r.cap = (size_t)(seconds * 1.0e6) / PK_IO_BURST * PK_IO_BURST;
	r.size = r.cap * 900;
	r.bytes = malloc(r.size);
	r.off = calloc(r.cap + 1, sizeof(*r.off));
	if (r.bytes == NULL || r.off == NULL)
		die("%s", "recording: out of memory");
	setup_dpdk(&rb, "-rec", wire_cksum);
	rb.rec = &r;
	calls_start(&rb);
	uint64_t cyc, n, out;
	size_t ns;
	ns = 0;
	run(&rb, PK_IO_BURST, 1e6, false, samples, NULL, &ns, &cyc, &n, &out); /* until the recording is full */
	rb.rec = NULL;

	setup_dpdk(&pb, "-own", wire_cksum);
	struct feed f = { .b = &pb, .r = &r };
	f.sent = rte_ring_create("bench_sent", 8192, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (f.sent == NULL)
		die("set-up: %s", rte_strerror(rte_errno));
	atomic_init(&f.done, false);
	if (rte_eal_remote_launch(feed_main, &f, lcore) != 0)
		die("%s", "generator lcore: launch failed");
	size_t seen = 0, warm = r.n / 8, idle = 0, partial = 0; /* the first eighth warms up */
	uint64_t last = rte_rdtsc(), stall = 10 * rte_get_tsc_hz(); /* no frame for 10 s: stuck */
	uint64_t cycles = 0, msgs = 0;
	unsigned iter = 0;
	clk_min = clk_max = 0;
	clock_read();
	struct rte_mbuf *done[64];
	ns = 0;
	while (seen < r.n) {
		uint64_t t0 = rte_rdtsc_precise();
		unsigned k;
		while ((k = rte_ring_dequeue_burst(f.sent, (void **)done, 64, NULL)) != 0)
			rte_pktmbuf_free_bulk(done, k); /* TX completion */
		unsigned got = worker_iter(&pb);
		uint64_t t1 = rte_rdtsc_precise();
		if (got == 0) {
			idle += seen >= warm;
			if (t1 - last > stall)
				die("replay stalled: %s", "no frame for 10 s (one not delivered as a UDP datagram?)");
			continue;
		}
		last = t1;
		if (seen >= warm) {
			cycles += t1 - t0;
			msgs += got;
			if (got == PK_IO_BURST && ns < MAX_SAMPLES) {
				core_samples[ns] = (uint32_t)((double)(t1 - t0) / clk_ratio);
				samples[ns++] = (uint32_t)(t1 - t0);
			} else {
				partial++;
			}
		}
		seen += got;
		if ((++iter & 63) == 0)
			clock_read();
	}
	pk_io_dpdk_drain(pb.q);
	atomic_store_explicit(&f.done, true, memory_order_release);
	rte_eal_wait_lcore(lcore);
	struct ctr_snap recorded;
	ctr_snap(rb.w, &recorded);
	bool same = same_counters(&recorded, pb.w);
	qsort(samples, ns, sizeof(samples[0]), cmp_u32);
	double hz = (double)rte_get_tsc_hz(), mean = (double)cycles / (double)msgs;
	double p10 = ns ? (double)samples[ns / 10] / PK_IO_BURST : 0;
	double med = ns ? (double)samples[ns / 2] / PK_IO_BURST : 0;
	double p90 = ns ? (double)samples[ns * 9 / 10] / PK_IO_BURST : 0;
	qsort(core_samples, ns, sizeof(core_samples[0]), cmp_u32);
	double core_med = ns ? (double)core_samples[ns / 2] / PK_IO_BURST : 0;
	double core_mean = burst_mean(core_samples, ns);
	printf("%s, worker on its own core (lcore %u feeds it %zu recorded frames; TX freed on the worker's):\n"
	       "          %9.0f msg/s per worker core  %6.0f cycles/msg (median burst: %.0f cycles/msg, %.0f msg/s)\n"
	       "          full bursts' cycles/msg: least %.0f, p10 %.0f, median %.0f, p90 %.0f;"
	       " %zu full bursts, %zu partial, %zu empty polls\n"
	       "          core clock %.2f-%.2f GHz; core cycles/msg of full bursts: mean %.0f, median %.0f\n"
	       "          the replay answered as the recorded run (every counter): %s\n",
	       pb.name, lcore, r.n, hz / mean, mean, med, hz / med, ns ? (double)samples[0] / PK_IO_BURST : 0, p10, med,
	       p90, ns, partial, idle, hz / clk_max / 1e9, hz / clk_min / 1e9, core_mean, core_med,
	       same ? "yes" : "NO");
	for (unsigned k; (k = rte_ring_dequeue_burst(f.sent, (void **)done, 64, NULL)) != 0;)
		rte_pktmbuf_free_bulk(done, k);
	rte_ring_free(f.sent);
	backend_free(&rb);
	backend_free(&pb);
	free(r.bytes);
	free(r.off);
	if (!same)
		exit(1);
}

/* ---- a pre-built burst replay on the worker's core (--replay) ----
 *
 * The closed loop's peers build every message and read every answer on
 * the worker's core, between its bursts: about 8,500 instructions a
 * message against the worker's ~5,000 (docs/dpdk.md, "session 22"), whose
 * code and data pass through the core's caches and predictors before
 * every burst. A worker core in production runs nothing else. So, the
 * issue's other generator, a pre-built burst replay: what a closed loop
 * put on each wire is recorded (a first engine, with the peers), then fed
 * to a fresh engine on the same core, the wire's work between two bursts
 * only what a wire does:
 *   - dpdk: each frame copied into an mbuf on the port's RX ring (a NIC's
 *     DMA; dpdk+ol: marked checked, as its RX does), and the mbufs taken
 *     off the TX ring freed (dpdk+ol: the offloaded UDP checksums' seeds
 *     checked, the sums left undone: nothing reads the frames);
 *   - socket: the recorded datagrams sent from the same peer sockets, one
 *     sendmmsg a peer a burst as the closed loop's, to the fresh engine's
 *     socket, bound to the recorded one's port (the messages name it);
 *     what pickupd sent the peers received and dropped.
 * Every fresh engine must answer as its recorded one did (every counter
 * compared), which also says the replay's bursts were the recording's.
 * The three replays run in SLICES slices each, taken in turn (measure),
 * after a warm-up of an eighth of each recording.
 */
struct replay {
	struct backend b; /* the fresh engine */
	struct recording r;
	struct ctr_snap recorded;
	size_t next, warm; /* the next message onto the wire; the timed part starts at warm */
	unsigned iter;
	uint64_t cyc, msgs, out;
	uint32_t *samples, *core; /* full bursts: TSC cycles, core cycles */
	size_t ns;
	double clk_min, clk_max;
};

/* Take what is waiting in the peers' sockets, and drop it. */
static unsigned sock_drop(struct backend *b)
{
	static char buf[PK_IO_BURST][64]; /* the head of each datagram: nobody reads it */
	struct mmsghdr mh[PK_IO_BURST];
	struct iovec iov[PK_IO_BURST];
	unsigned got = 0;
	int r;

	for (unsigned i = 0; i < PK_IO_BURST; i++) {
		iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = sizeof(buf[i]) };
		mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	for (int p = 0; p < P_COUNT; p++)
		while ((r = recvmmsg(b->peer_fd[p], mh, PK_IO_BURST, MSG_DONTWAIT, NULL)) > 0)
			got += (unsigned)r;
	return got;
}

/* The closed loop of kind 0 (dpdk), 1 (dpdk+ol) or 2 (socket) recorded
 * for cap messages, then a fresh engine to replay it into. */
static void replay_prepare(struct replay *p, unsigned kind, size_t cap)
{
	struct recording *r = &p->r;
	struct backend *rb = &p->b;
	static struct backend dpdk_rec;
	uint32_t none[1];
	uint64_t cyc, n, out;
	size_t ns = MAX_SAMPLES; /* no samples kept */

	memset(p, 0, sizeof(*p));
	r->cap = cap / PK_IO_BURST * PK_IO_BURST;
	r->size = r->cap * 900;
	r->bytes = malloc(r->size);
	r->off = calloc(r->cap + 1, sizeof(*r->off));
	r->peer = kind == 2 ? malloc(r->cap) : NULL;
	p->samples = malloc(MAX_SAMPLES * sizeof(*p->samples));
	p->core = malloc(MAX_SAMPLES * sizeof(*p->core));
	if (r->bytes == NULL || r->off == NULL || (kind == 2 && r->peer == NULL) || p->samples == NULL ||
	    p->core == NULL)
		die("%s", "recording: out of memory");
	if (kind == 2) {
		setup_socket(rb);
	} else {
		rb = &dpdk_rec;
		setup_dpdk(rb, "-rrc", kind == 1);
	}
	rb->rec = r;
	calls_start(rb);
	run(rb, PK_IO_BURST, 1e6, false, none, NULL, &ns, &cyc, &n, &out); /* until the recording is full */
	rb->rec = NULL;
	ctr_snap(rb->w, &p->recorded);
	if (kind == 2) { /* pickupd anew on the same port, to the same peers */
		unsigned port = ntohs(rb->pk_sa.sin_port);
		dpdk_engine_free(&rb->e);
		sock_drop(rb);
		socket_engine(rb, port);
	} else {
		backend_free(rb);
		setup_dpdk(&p->b, "-rpl", kind == 1);
	}
	p->warm = r->n / 8 / PK_IO_BURST * PK_IO_BURST;
}

/* The recorded messages [next, next + k) onto the wire. */
static void replay_inject(struct replay *p, size_t k)
{
	struct backend *b = &p->b;
	const struct recording *r = &p->r;
	struct rte_mbuf *mb[PK_IO_BURST];

	if (b->inject == dpdk_inject) {
		if (rte_pktmbuf_alloc_bulk(b->gen_pool, mb, (unsigned)k) != 0)
			die("%s", "generator pool empty");
		for (size_t i = 0; i < k; i++) {
			size_t m = p->next + i, len = r->off[m + 1] - r->off[m];
			memcpy(rte_pktmbuf_append(mb[i], (uint16_t)len), r->bytes + r->off[m], len);
			if (b->wire_cksum)
				mb[i]->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		}
		if (rte_ring_enqueue_bulk(b->rx_ring, (void **)mb, (unsigned)k, NULL) != k)
			die("%s", "wire full");
		return;
	}
	/* a run of messages from one peer: one sendmmsg, as sock_inject */
	struct iovec iov[PK_IO_BURST];
	for (size_t i = 0, j; i < k; i = j) {
		uint8_t peer = r->peer[p->next + i];
		for (j = i; j < k && r->peer[p->next + j] == peer; j++) {
			size_t m = p->next + j;
			iov[j - i] = (struct iovec){ .iov_base = r->bytes + r->off[m],
						     .iov_len = r->off[m + 1] - r->off[m] };
		}
		sock_sendv(b, peer, iov, (unsigned)(j - i));
	}
}

/* What pickupd put on the wire, taken off (and dropped). */
static unsigned replay_collect(struct replay *p)
{
	struct backend *b = &p->b;
	struct rte_mbuf *mb[64];
	unsigned n, got = 0;

	if (b->inject != dpdk_inject)
		return sock_drop(b);
	while ((n = rte_ring_dequeue_burst(b->tx_ring, (void **)mb, 64, NULL)) != 0) {
		if (b->wire_cksum)
			for (unsigned i = 0; i < n; i++)
				wire_finish(b, mb[i], rte_pktmbuf_mtod(mb[i], uint8_t *), false);
		rte_pktmbuf_free_bulk(mb, n);
		got += n;
	}
	return got;
}

/* Replay up to message `end`; timed: its bursts counted. */
static void replay_to(struct replay *p, size_t end, bool timed)
{
	clk_min = p->clk_min;
	clk_max = p->clk_max;
	clock_read();
	while (p->next < end) {
		size_t k = end - p->next < PK_IO_BURST ? end - p->next : PK_IO_BURST;
		replay_inject(p, k);
		uint64_t t0 = rte_rdtsc_precise();
		unsigned got = worker_iter(&p->b);
		uint64_t t1 = rte_rdtsc_precise();
		p->next += k;
		if (got != k)
			fprintf(stderr, "%s replay: %u of %zu messages received\n", p->b.name, got, k);
		if (timed) {
			p->cyc += t1 - t0;
			p->msgs += got;
			if (got == PK_IO_BURST && p->ns < MAX_SAMPLES) {
				p->core[p->ns] = (uint32_t)((double)(t1 - t0) / clk_ratio);
				p->samples[p->ns++] = (uint32_t)(t1 - t0);
			}
		}
		p->out += replay_collect(p);
		if ((++p->iter & 63) == 0) { /* as run's, so the replay housekeeps where the recording did */
			housekeep(&p->b, false);
			clock_read();
		}
	}
	p->clk_min = clk_min;
	p->clk_max = clk_max;
}

#define REPLAY_MAX ((size_t)4 << 20) /* messages recorded a wire at most: 3.8 GB */

static void measure_replay(double seconds, bool dpdk_only)
{
	static struct replay rp[3];
	unsigned n = dpdk_only ? 2 : 3;
	bool same = true;

	/* a million messages a second asked for the dpdk wires, a quarter of
	 * that for the socket's (about the ratio of their rates: slices of
	 * about the same time), up to REPLAY_MAX: each message reserves 900
	 * bytes of recording (--seconds 2: 1.8 GB a dpdk wire) */
	for (unsigned i = 0; i < n; i++) {
		double want = seconds * (i == 2 ? 0.25e6 : 1.0e6);
		replay_prepare(&rp[i], i, want < REPLAY_MAX ? (size_t)want : REPLAY_MAX);
	}
	for (unsigned i = 0; i < n; i++)
		replay_to(&rp[i], rp[i].warm, false);
	for (unsigned s = 1; s <= SLICES; s++)
		for (unsigned i = 0; i < n; i++) {
			size_t part = (rp[i].r.n - rp[i].warm) / PK_IO_BURST * s / SLICES * PK_IO_BURST;
			replay_to(&rp[i], s == SLICES ? rp[i].r.n : rp[i].warm + part, true);
		}
	printf("replay on the worker's core (a closed loop's messages, recorded, then fed to a fresh engine;\n"
	       "the wire's work between two bursts: the messages copied in, pickupd's taken off and dropped):\n");
	double rate[3], med[3], hz = (double)rte_get_tsc_hz();
	for (unsigned i = 0; i < n; i++) {
		struct replay *p = &rp[i];
		if (p->b.inject == dpdk_inject)
			pk_io_dpdk_drain(p->b.q);
		p->out += replay_collect(p);
		same = same_counters(&p->recorded, p->b.w) && same;
		qsort(p->samples, p->ns, sizeof(p->samples[0]), cmp_u32);
		qsort(p->core, p->ns, sizeof(p->core[0]), cmp_u32);
		if (p->ns == 0 || p->msgs == 0)
			die("%s replay: no full burst timed (--seconds too short?)", p->b.name);
		double mean = (double)p->cyc / (double)p->msgs;
		med[i] = p->ns ? (double)p->samples[p->ns / 2] / PK_IO_BURST : 0;
		rate[i] = hz / mean;
		printf("%-7s %9.0f msg/s per worker core  %6.0f cycles/msg (median burst: %.0f cycles/msg, %.0f msg/s)"
		       "  (%zu msgs replayed, %llu timed, %llu out)\n"
		       "        core clock %.2f-%.2f GHz; core cycles/msg of full bursts: mean %.0f, median %.0f\n",
		       p->b.name, rate[i], mean, med[i], hz / med[i], p->r.n, (unsigned long long)p->msgs,
		       (unsigned long long)p->out, hz / p->clk_max / 1e9, hz / p->clk_min / 1e9,
		       burst_mean(p->core, p->ns), p->ns ? (double)p->core[p->ns / 2] / PK_IO_BURST : 0);
	}
	printf("        the replays answered as the recorded runs (every counter): %s\n", same ? "yes" : "NO");
	for (unsigned i = 0; n == 3 && i < 2; i++)
		printf("%-7s / socket per core, replay: %.2fx (mean), %.2fx (median burst)\n", rp[i].b.name,
		       rate[i] / rate[2], med[2] / med[i]);
	for (unsigned i = 0; i < n; i++) {
		backend_free(&rp[i].b);
		free(rp[i].r.bytes);
		free(rp[i].r.off);
		free(rp[i].r.peer);
		free(rp[i].samples);
		free(rp[i].core);
	}
	if (!same)
		exit(1);
}

static void report(const struct backend *b, const struct result *r)
{
	printf("%-6s  %9.0f msg/s per worker core  %6.0f cycles/msg (median burst: %.0f cycles/msg, "
	       "%.0f msg/s)  (%llu msgs in, %llu out, %llu calls)\n"
	       "        latency RX->TX, 1 msg per poll: p50 %.2f us  p99 %.2f us  p99.9 %.2f us;"
	       " bursts of 32: p50 %.2f us  p99 %.2f us\n",
	       b->name, r->msgs_per_s, r->cycles_per_msg, r->median_cycles_per_msg,
	       (double)rte_get_tsc_hz() / r->median_cycles_per_msg, (unsigned long long)r->msgs,
	       (unsigned long long)r->out, (unsigned long long)r->calls, r->p50_ns / 1000, r->p99_ns / 1000, r->p999_ns / 1000,
	       r->f50_ns / 1000, r->f99_ns / 1000);
	printf("        of which in the backend: rx_burst %.0f cycles/msg, tx_flush %.0f cycles/msg "
	       "(the rest: clock, parse, handlers, RCU)\n",
	       r->rx_cycles, r->tx_cycles);
	double hz = (double)rte_get_tsc_hz();
	printf("        core clock %.2f-%.2f GHz during the run; core cycles/msg of full bursts: mean %.0f "
	       "(%.0f msg/s at the nominal %.2f GHz), median %.0f (%.0f msg/s)\n",
	       r->clk_lo, r->clk_hi, r->mean_core_cycles, hz / r->mean_core_cycles, hz / 1e9, r->median_core_cycles,
	       hz / r->median_core_cycles);
	print_counters(b);
}

/* The host's kernel costs, which bound the socket backend's rate and not
 * the dpdk one's (hosts of one machine class differ here by two times:
 * docs/dpdk.md, "session 24"): a system call that does nothing
 * (getppid), and a 600-byte UDP datagram over loopback, sent and received
 * in bursts of 32 (one sendmmsg, one recvmmsg), per datagram. The least
 * of a few rounds, in microseconds. */
static void host_costs(double *syscall_us, double *dgram_us)
{
	enum { ROUNDS = 5, CALLS = 20000, BURSTS = 200 };
	static char buf[PK_IO_BURST][600];
	struct mmsghdr mh[PK_IO_BURST];
	struct iovec iov[PK_IO_BURST];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	double hz = (double)rte_get_tsc_hz();
	int fd[2];

	*syscall_us = *dgram_us = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rte_rdtsc_precise();
		for (int i = 0; i < CALLS; i++)
			(void)getppid();
		double us = (double)(rte_rdtsc_precise() - t0) / hz * 1e6 / CALLS;
		if (us < *syscall_us)
			*syscall_us = us;
	}
	for (int i = 0; i < 2; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		sa.sin_port = 0;
		if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&sa, sizeof(sa)) != 0)
			die("host costs: %s", strerror(errno));
	}
	if (getsockname(fd[1], (struct sockaddr *)&sa, &sl) != 0)
		die("host costs: %s", strerror(errno));
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rte_rdtsc_precise();
		for (int b = 0; b < BURSTS; b++) {
			for (int i = 0; i < PK_IO_BURST; i++) {
				iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = sizeof(buf[i]) };
				mh[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &sa,
								       .msg_namelen = sizeof(sa),
								       .msg_iov = &iov[i],
								       .msg_iovlen = 1 } };
			}
			if (sendmmsg(fd[0], mh, PK_IO_BURST, 0) != PK_IO_BURST)
				die("host costs: sendmmsg: %s", strerror(errno));
			for (int i = 0; i < PK_IO_BURST; i++)
				mh[i].msg_hdr.msg_name = NULL;
			for (int got = 0; got < PK_IO_BURST;) {
				int n = recvmmsg(fd[1], mh + got, (unsigned)(PK_IO_BURST - got), 0, NULL);
				if (n <= 0)
					die("host costs: recvmmsg: %s", strerror(errno));
				got += n;
			}
		}
		double us = (double)(rte_rdtsc_precise() - t0) / hz * 1e6 / (BURSTS * PK_IO_BURST);
		if (us < *dgram_us)
			*dgram_us = us;
	}
	close(fd[0]);
	close(fd[1]);
}

/* The largest page of DPDK's memory (rte_memseg_list_walk): what the EAL
 * really got, whatever was asked. */
static int largest_page(const struct rte_memseg_list *msl, void *arg)
{
	uint64_t *page = arg;

	if (msl->memseg_arr.count > 0 && msl->page_sz > *page)
		*page = msl->page_sz;
	return 0;
}

/* The EAL's runtime directory (empty with --no-shconf), removed however
 * the bench ends: pk_io_dpdk_eal_cleanup on the way out, this when die()
 * or a replay that differs ends it with exit(1). */
static char eal_rundir[PATH_MAX];

static void eal_rundir_remove(void)
{
	if (eal_rundir[0] != '\0')
		rmdir(eal_rundir);
}

int main(int argc, char **argv)
{
	static struct backend dpdk, dpdk_ol, sock;
	double seconds = 2;
	char prefix[64];
	int c;

	snprintf(prefix, sizeof(prefix), "pk-bench-dpdk-%d", (int)getpid());
	/* the worker on lcore 0; lcore 1, where there is a second core, for
	 * --own-core's generator (idle otherwise) */
	char lcores[8];
	snprintf(lcores, sizeof(lcores), "%s", sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "0,1" : "0");
	static const struct option opts[] = { { "seconds", required_argument, NULL, 's' },
					      { "dpdk-only", no_argument, NULL, 'd' },
					      { "groups", required_argument, NULL, 'g' },
					      { "own-core", no_argument, NULL, 'o' },
					      { "huge-dir", required_argument, NULL, 'H' },
					      { "lockstep", no_argument, NULL, 'l' },
					      { "replay", no_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	bool dpdk_only = false, own_core = false, replay = false;
	const char *huge_dir = NULL;
	while ((c = getopt_long(argc, argv, "s:dg:oH:lr", opts, NULL)) != -1) {
		if (c == 's')
			seconds = atof(optarg);
		else if (c == 'g' && atoi(optarg) >= 1 && atoi(optarg) <= MAX_GROUPS)
			ngroups = (unsigned)atoi(optarg);
		else if (c == 'd')
			dpdk_only = true;
		else if (c == 'o')
			own_core = true;
		else if (c == 'H')
			huge_dir = optarg;
		else if (c == 'l')
			lockstep = true;
		else if (c == 'r')
			replay = true;
		else {
			fprintf(stderr,
				"usage: pk-bench-dpdk [--seconds S] [--groups 1-%d] [--dpdk-only] [--own-core] "
				"[--replay] [--huge-dir DIR] [--lockstep]\n",
				MAX_GROUPS);
			return 2;
		}
	}
	/* DPDK's memory (mbufs, rings): 4 KiB pages by default, as the tests
	 * run; with --huge-dir, 2 MiB pages from that hugetlbfs mount, as a
	 * deployment runs (bench/run-dpdk-huge.sh reserves and mounts them) */
	char *eal[] = { argv[0], "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
			"--file-prefix", prefix, "--log-level", "error", "-l", lcores, NULL, NULL, NULL };
	int neal = (int)RTE_DIM(eal) - 3;
	if (huge_dir != NULL) {
		eal[1] = "--huge-unlink"; /* no page file outlives the run */
		eal[neal++] = "--huge-dir";
		eal[neal++] = (char *)huge_dir;
	}
	optind = 1;
	if (rte_eal_init(neal, eal) < 0)
		die("rte_eal_init: %s", rte_strerror(rte_errno));
	snprintf(eal_rundir, sizeof(eal_rundir), "%s", rte_eal_get_runtime_dir());
	atexit(eal_rundir_remove);
	if (pk_sip_slow_init() != 0)
		die("%s", "libosip2 init");
	scratch = calloc(SCRATCH, sizeof(*scratch));

	printf("mix per call (%u calls in progress over %u pickup group(s), %u messages each):", WINDOW,
	       ngroups, PER_CALL);
	for (unsigned i = 0; i < PER_CALL; i++)
		printf(" %s", kind_names[i]);
	uint64_t page = 0;
	rte_memseg_list_walk(largest_page, &page);
	printf("\nTSC %.2f GHz; worker cycles only (the wire is the bench's); DPDK memory in %llu KiB pages%s\n",
	       (double)rte_get_tsc_hz() / 1e9, (unsigned long long)(page >> 10),
	       rte_eal_has_hugepages() ? " (hugepages)" : " (--no-huge)");

	double sys_us, dgram_us;
	host_costs(&sys_us, &dgram_us);
	printf("host: a system call %.3f us; a 600-byte UDP datagram over loopback, sent and received in bursts of "
	       "32, %.2f us\n",
	       sys_us, dgram_us);

	setup_dpdk(&dpdk, "", false);
	setup_dpdk(&dpdk_ol, "", true);
	setup_socket(&sock);
	/* in turn: dpdk, dpdk+ol, socket, dpdk, ... */
	struct backend *const all[3] = { &dpdk, &dpdk_ol, &sock };
	struct result r3[3] = { { 0 } };
	measure(all, dpdk_only ? 2 : 3, seconds, r3);
	report(&dpdk, &r3[0]);
	report(&dpdk_ol, &r3[1]);
	printf("  dpdk+ol: the wire finished the checksums of %llu frames (their pseudo-header seeds right)\n",
	       (unsigned long long)dpdk_ol.finished);
	if (own_core) {
		measure_own_core(seconds, false);
		measure_own_core(seconds, true);
	}
	if (!dpdk_only) {
		report(&sock, &r3[2]);
		for (unsigned i = 0; i < 2; i++)
			printf("%-7s / socket per core: %.2fx (mean), %.2fx (median burst)\n", all[i]->name,
			       r3[i].msgs_per_s / r3[2].msgs_per_s,
			       r3[2].median_cycles_per_msg / r3[i].median_cycles_per_msg);
		/* Where the ratio can go: the cycles of each worker less its
		 * backend's burst functions (rx_burst, tx_flush) are the shared
		 * pipeline's, which the socket worker runs behind its system
		 * calls. docs/dpdk.md, "2026-11-29 (session 20)". */
		double s_pipe = r3[2].timed_cycles - r3[2].rx_cycles - r3[2].tx_cycles;
		for (unsigned i = 0; i < 2; i++) {
			double d_pipe = r3[i].timed_cycles - r3[i].rx_cycles - r3[i].tx_cycles;
			printf("%-7s pipeline %.0f cycles/msg, socket's %.0f (%.2fx); socket / %s with its backend's "
			       "rx_burst and tx_flush free: %.2fx (timed slices: %.2fx)\n",
			       all[i]->name, d_pipe, s_pipe, s_pipe / d_pipe, all[i]->name,
			       r3[2].timed_cycles / d_pipe, r3[2].timed_cycles / r3[i].timed_cycles);
		}
	}

	for (unsigned i = 0; i < 3; i++)
		backend_free(all[i]);
	if (replay)
		measure_replay(seconds, dpdk_only);
	free(scratch);
	pk_io_dpdk_eal_cleanup(); /* and its runtime directory */
	return 0;
}
