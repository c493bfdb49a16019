/* SPDX-License-Identifier: MIT */
/*
 * Private to dataplane/net: the per-lcore context behind struct pk_net_ctx
 * and the helpers the layers share (Ethernet header push, TX staging,
 * counters). Everything here belongs to the ctx's worker lcore.
 */
#ifndef PK_NET_IMPL_H
#define PK_NET_IMPL_H

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>

#include "pickup/ctr.h"
#include "pickup/net.h"

#include "cksum.h"

#define PK_NET_ARP_SIZE PK_NET_ARP_ENTRIES

/* One next hop. ip 0 means the slot is free. */
struct pk_net_arp_entry {
	uint32_t ip; /* network order */
	uint8_t state; /* enum pk_net_arp_state */
	uint8_t probes; /* requests sent while INCOMPLETE */
	uint16_t qhead, qlen; /* ring of frames waiting for the MAC */
	struct rte_ether_addr mac;
	uint64_t confirmed; /* TSC of the last reply/learn */
	uint64_t last_req;  /* TSC of the last request we sent for it */
	struct rte_mbuf *q[PK_NET_ARP_QLEN];
};

/* Fragment offsets already handed to rte_ip_frag for one datagram: the
 * reassembler gives up a whole datagram on a duplicate first/last fragment
 * (and miscounts a duplicate middle one), so duplicates stop here. */
struct pk_net_frag_seen {
	uint32_t src, dst;
	uint16_t id;
	uint8_t n;
	uint8_t used;
	uint64_t start;
	uint16_t ofs[RTE_LIBRTE_IP_FRAG_MAX_FRAG];
};

struct pk_net_ctx {
	struct pk_net_conf conf;
	struct rte_mempool *pool;
	_Atomic uint64_t ctr[PK_NET_CTR_COUNT]; /* pk_ctr_inc; read by any thread */
	uint32_t netmask;  /* network order */
	uint8_t n_routes;  /* route[]'s */
	uint16_t mtu;	   /* effective IP MTU */
	uint16_t l2_len;   /* 14, or 18 with a VLAN */
	uint16_t ip_id;	   /* the next IPv4 id: conf.ip_id_offset + k * conf.ip_id_stride */
	/* What is the same in every IPv4 header we send, ready: the sum of
	 * its constant words (version/IHL and TOS, TTL and protocol, as they
	 * lie in memory), and pk_net_udp_tx_frame's m->tx_offload. */
	uint32_t ip4_ck_const;
	uint64_t tx_offload;
	uint64_t t_reachable, t_refresh, t_stale, t_retry, t_frag; /* in TSC ticks */
	uint64_t next_timer;
	unsigned tx_n;
	unsigned stash_n; /* fresh frames in stash[0 .. stash_n) */
	struct rte_mbuf *stash[PK_NET_STASH];
	/* The next hop the last datagram went to, when it was REACHABLE and
	 * fresh: checked (ip, state, age) before the hash lookup. A freed or
	 * reused entry fails the check. */
	struct pk_net_arp_entry *hot;
	/* Our Ethernet (+VLAN) header of IPv4 frames from byte 6 on (the
	 * destination MAC is written per frame). */
	uint8_t l2_ip4[RTE_ETHER_HDR_LEN + sizeof(struct rte_vlan_hdr)];
	/* ARP entries possibly in use (set by arp_alloc, cleared by arp_free):
	 * the timers visit only these. */
	uint64_t arp_used[PK_NET_ARP_SIZE / 64];
	struct rte_mbuf *tx[PK_NET_TX_MAX];
	struct rte_ip_frag_tbl *frag_tbl;
	struct pk_net_frag_seen *seen; /* conf.frag_max_flows entries */
	struct rte_ip_frag_death_row dr;
	unsigned n_learnt; /* pk_net_arp_take_learnt's log */
	struct pk_net_arp_mapping learnt[PK_NET_LEARNT_MAX];
	/* conf.routes, longest prefix first (read for off-link destinations
	 * only) */
	struct pk_net_ctx_route {
		uint32_t net, mask, via; /* network order */
		uint8_t len;		 /* prefix length */
	} route[PK_NET_MAX_ROUTES];
	struct pk_net_arp_entry arp[PK_NET_ARP_SIZE];
};

#define PK_NET_CTR(ctx, id) pk_ctr_inc(&(ctx)->ctr[PK_NET_CTR_##id])

/* Free m and count the reason: the usual end of a dropped frame. */
static inline enum pk_net_rx_result pk_net_drop(struct pk_net_ctx *ctx, struct rte_mbuf *m,
						enum pk_net_counter c)
{
	pk_ctr_inc(&ctx->ctr[c]);
	rte_pktmbuf_free(m);
	return PK_NET_RX_DROP;
}

/* Stage a frame for TX; false (frame freed, counted) when staging is full. */
static inline bool pk_net_stage(struct pk_net_ctx *ctx, struct rte_mbuf *m)
{
	if (unlikely(ctx->tx_n >= PK_NET_TX_MAX)) {
		PK_NET_CTR(ctx, TX_FULL);
		rte_pktmbuf_free(m);
		return false;
	}
	ctx->tx[ctx->tx_n++] = m;
	return true;
}

static inline bool pk_net_is_ours(const struct pk_net_ctx *ctx, uint32_t ip)
{
	for (unsigned i = 0; i < ctx->conf.n_addrs; i++)
		if (ctx->conf.addrs[i] == ip)
			return true;
	return false;
}

/* Write our Ethernet (+VLAN) header in front of the data of m, to dst.
 * Returns false when there is no headroom. */
bool pk_net_l2_push(struct pk_net_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
		    uint16_t ethertype);

/* Address (network order) we send from towards ip: the first of ours on
 * the same prefix, else addrs[0]. */
uint32_t pk_net_src_for(const struct pk_net_ctx *ctx, uint32_t ip);

/* arp.c */
enum pk_net_rx_result pk_net_arp_input(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint64_t now);
void pk_net_arp_timers(struct pk_net_ctx *ctx, uint64_t now);
void pk_net_arp_flush(struct pk_net_ctx *ctx);
/* Where frames to next hop nh go: 0 with *mac filled (send now), 1 with
 * *entry (queue there, the request is sent), or -EHOSTUNREACH. */
int pk_net_arp_resolve(struct pk_net_ctx *ctx, uint32_t nh, uint64_t now,
		       struct rte_ether_addr *mac, struct pk_net_arp_entry **entry);
/* Queue n frames on an INCOMPLETE entry; all or none (false: caller frees). */
bool pk_net_arp_enqueue(struct pk_net_arp_entry *e, struct rte_mbuf **frames, unsigned n);

/* ip4.c */
/* l2: the Ethernet (+VLAN) header's length. The UDP path leaves the
 * mbuf's second cache line (l2_len, l3_len) alone, as PMDs do on RX;
 * fragments, ICMP and ARP set l2_len/l3_len for what reads them. */
enum pk_net_rx_result pk_net_ip4_input(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint32_t l2,
				       uint64_t now, struct pk_net_udp *out);
void pk_net_frag_timers(struct pk_net_ctx *ctx, uint64_t now);

#endif /* PK_NET_IMPL_H */
