/* SPDX-License-Identifier: MIT */
/*
 * ARP (RFC 826) for one DPDK port: answering requests for our addresses,
 * resolving next hops through a bounded per-lcore cache, and the
 * gratuitous announce at start-up.
 *
 * The cache is PK_NET_ARP_BUCKETS buckets of PK_NET_ARP_WAYS entries,
 * chosen by a hash of the IPv4 address. An entry is INCOMPLETE (requests
 * sent every arp_retry_ms, up to arp_retries, frames waiting in a ring of
 * PK_NET_ARP_QLEN), REACHABLE (confirmed less than arp_reachable_ms ago;
 * used as is, and re-requested once it is 3/4 that old and still in use,
 * so that a busy next hop never goes through a gap), or STALE (still used,
 * requested again at most every arp_retry_ms while used; removed
 * arp_stale_ms later without a reply). docs/net.md has the diagram.
 *
 * Threads: the ctx's worker only. Nothing allocates except frames for
 * requests, from the ctx's mempool.
 */
#include <errno.h>

#include "net_impl.h"

_Static_assert((PK_NET_ARP_BUCKETS & (PK_NET_ARP_BUCKETS - 1)) == 0, "ARP buckets: a power of two");

/* Fibonacci hashing of the address in host order: the product's top bits
 * depend on every bit of it. (Taken in network order, a host's number sits
 * in the word's top byte, which the product's middle bits, the old
 * bucket, never saw: every host of a /24 shared one bucket of
 * PK_NET_ARP_WAYS entries.) */
static inline unsigned arp_bucket(uint32_t ip)
{
	return (rte_be_to_cpu_32(ip) * 2654435761u) >> (32 - __builtin_ctz(PK_NET_ARP_BUCKETS));
}

static struct pk_net_arp_entry *arp_find(const struct pk_net_ctx *ctx, uint32_t ip)
{
	const struct pk_net_arp_entry *b = &ctx->arp[arp_bucket(ip) * PK_NET_ARP_WAYS];

	for (unsigned w = 0; w < PK_NET_ARP_WAYS; w++)
		if (b[w].ip == ip && b[w].state != PK_NET_ARP_FREE)
			return (struct pk_net_arp_entry *)&b[w];
	return NULL;
}

static void arp_drop_queue(struct pk_net_ctx *ctx, struct pk_net_arp_entry *e)
{
	while (e->qlen != 0) {
		rte_pktmbuf_free(e->q[e->qhead]);
		e->qhead = (uint16_t)((e->qhead + 1) % PK_NET_ARP_QLEN);
		e->qlen--;
		PK_NET_CTR(ctx, ARP_QUEUE_TIMEOUT);
	}
	e->qhead = 0;
}

static void arp_free(struct pk_net_ctx *ctx, struct pk_net_arp_entry *e)
{
	unsigned i = (unsigned)(e - ctx->arp);

	arp_drop_queue(ctx, e);
	memset(e, 0, offsetof(struct pk_net_arp_entry, q));
	ctx->arp_used[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* A slot for ip: a free way, else the least recently confirmed resolved
 * one. Entries being resolved are never evicted (their queue would be
 * lost); NULL when the whole bucket is resolving. */
static struct pk_net_arp_entry *arp_alloc(struct pk_net_ctx *ctx, uint32_t ip)
{
	struct pk_net_arp_entry *b = &ctx->arp[arp_bucket(ip) * PK_NET_ARP_WAYS];
	struct pk_net_arp_entry *victim = NULL;

	for (unsigned w = 0; w < PK_NET_ARP_WAYS; w++) {
		if (b[w].state == PK_NET_ARP_FREE) {
			victim = &b[w];
			break;
		}
		if (b[w].state != PK_NET_ARP_INCOMPLETE &&
		    (victim == NULL || b[w].confirmed < victim->confirmed))
			victim = &b[w];
	}
	if (victim == NULL)
		return NULL;
	if (victim->state != PK_NET_ARP_FREE)
		arp_free(ctx, victim);
	victim->ip = ip;
	unsigned i = (unsigned)(victim - ctx->arp);
	ctx->arp_used[i / 64] |= UINT64_C(1) << (i % 64);
	return victim;
}

/* Build an ARP packet (request or reply) into m, after our L2 header. */
static struct rte_mbuf *arp_build(struct pk_net_ctx *ctx, uint16_t op, uint32_t sip,
				  const struct rte_ether_addr *tha, uint32_t tip,
				  const struct rte_ether_addr *l2_dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ctx->pool);
	if (m == NULL) {
		PK_NET_CTR(ctx, TX_NO_MBUF);
		return NULL;
	}
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)rte_pktmbuf_append(m, sizeof(*a));
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&ctx->conf.mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = sip;
	rte_ether_addr_copy(tha, &a->arp_data.arp_tha);
	a->arp_data.arp_tip = tip;
	pk_net_l2_push(ctx, m, l2_dst, RTE_ETHER_TYPE_ARP);
	return m;
}

static const struct rte_ether_addr zero_mac;
static const struct rte_ether_addr bcast_mac = {
	.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
};

static void arp_request(struct pk_net_ctx *ctx, struct pk_net_arp_entry *e, uint64_t now)
{
	e->last_req = now;
	struct rte_mbuf *m =
		arp_build(ctx, RTE_ARP_OP_REQUEST, pk_net_src_for(ctx, e->ip), &zero_mac, e->ip, &bcast_mac);
	if (m != NULL && pk_net_stage(ctx, m))
		PK_NET_CTR(ctx, ARP_REQUEST_TX);
}

int pk_net_garp(struct pk_net_ctx *ctx)
{
	int n = 0;

	for (unsigned i = 0; i < ctx->conf.n_addrs; i++) {
		uint32_t ip = ctx->conf.addrs[i];
		struct rte_mbuf *m = arp_build(ctx, RTE_ARP_OP_REQUEST, ip, &zero_mac, ip, &bcast_mac);
		if (m == NULL)
			return n ? n : -ENOBUFS;
		if (pk_net_stage(ctx, m))
			n++;
	}
	return n;
}

/* The MAC of e is mac, as of now: confirm it and send what waited. */
static void arp_confirm(struct pk_net_ctx *ctx, struct pk_net_arp_entry *e,
			const struct rte_ether_addr *mac, uint64_t now)
{
	rte_ether_addr_copy(mac, &e->mac);
	e->state = PK_NET_ARP_REACHABLE;
	e->confirmed = now;
	e->probes = 0;
	PK_NET_CTR(ctx, ARP_LEARNT);
	while (e->qlen != 0) {
		struct rte_mbuf *m = e->q[e->qhead];
		e->qhead = (uint16_t)((e->qhead + 1) % PK_NET_ARP_QLEN);
		e->qlen--;
		rte_ether_addr_copy(mac, &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr);
		pk_net_stage(ctx, m);
	}
	e->qhead = 0;
}

void pk_net_arp_learn(struct pk_net_ctx *ctx, uint32_t ip, const struct rte_ether_addr *mac,
		      uint64_t now_tsc)
{
	struct pk_net_arp_entry *e = arp_find(ctx, ip);

	if (e == NULL && (e = arp_alloc(ctx, ip)) == NULL) {
		PK_NET_CTR(ctx, ARP_TABLE_FULL);
		return;
	}
	arp_confirm(ctx, e, mac, now_tsc);
}

/* Remember a mapping learnt from the wire for the backend to share. */
static void arp_log_learnt(struct pk_net_ctx *ctx, uint32_t ip, const struct rte_ether_addr *mac,
			   uint8_t create)
{
	if (!ctx->conf.share_arp)
		return;
	for (unsigned i = 0; i < ctx->n_learnt; i++) {
		if (ctx->learnt[i].ip == ip) { /* a refresh of one not yet taken */
			ctx->learnt[i].mac = *mac;
			ctx->learnt[i].create |= create;
			return;
		}
	}
	if (ctx->n_learnt == PK_NET_LEARNT_MAX) {
		PK_NET_CTR(ctx, ARP_LEARNT_LOST);
		return;
	}
	ctx->learnt[ctx->n_learnt].ip = ip;
	ctx->learnt[ctx->n_learnt].mac = *mac;
	ctx->learnt[ctx->n_learnt].create = create;
	ctx->learnt[ctx->n_learnt].pad_ = 0;
	ctx->n_learnt++;
}

unsigned pk_net_arp_take_learnt(struct pk_net_ctx *ctx, struct pk_net_arp_mapping *out, unsigned max)
{
	unsigned n = RTE_MIN(max, ctx->n_learnt);

	memcpy(out, ctx->learnt, n * sizeof(*out));
	if (n < ctx->n_learnt)
		memmove(ctx->learnt, ctx->learnt + n, (ctx->n_learnt - n) * sizeof(*out));
	ctx->n_learnt -= n;
	return n;
}

bool pk_net_arp_update(struct pk_net_ctx *ctx, uint32_t ip, const struct rte_ether_addr *mac,
		       uint64_t now_tsc)
{
	struct pk_net_arp_entry *e = arp_find(ctx, ip);

	if (e == NULL)
		return false;
	arp_confirm(ctx, e, mac, now_tsc);
	return true;
}

enum pk_net_arp_state pk_net_arp_lookup(const struct pk_net_ctx *ctx, uint32_t ip,
					struct rte_ether_addr *mac, unsigned *n_queued)
{
	const struct pk_net_arp_entry *e = arp_find(ctx, ip);

	if (n_queued != NULL)
		*n_queued = e ? e->qlen : 0;
	if (e == NULL)
		return PK_NET_ARP_FREE;
	if (mac != NULL)
		*mac = e->mac;
	return (enum pk_net_arp_state)e->state;
}

unsigned pk_net_arp_forget(struct pk_net_ctx *ctx)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PK_NET_ARP_SIZE; i++) {
		struct pk_net_arp_entry *e = &ctx->arp[i];

		if (e->state == PK_NET_ARP_REACHABLE || e->state == PK_NET_ARP_STALE) {
			arp_free(ctx, e); /* its queue is empty: it is resolved */
			n++;
		}
	}
	ctx->hot = NULL;
	ctx->n_learnt = 0; /* learnt before: not to be shared after */
	pk_ctr_add(&ctx->ctr[PK_NET_CTR_ARP_FLUSHED], n);
	return n;
}

unsigned pk_net_arp_dump(const struct pk_net_ctx *ctx, uint64_t now, struct pk_net_neighbour *out,
			 unsigned max)
{
	uint64_t per_ms = ctx->conf.tsc_hz / 1000 ? ctx->conf.tsc_hz / 1000 : 1;
	unsigned n = 0;

	for (unsigned i = 0; i < PK_NET_ARP_SIZE && n < max; i++) {
		const struct pk_net_arp_entry *e = &ctx->arp[i];
		uint64_t since;

		if (e->state == PK_NET_ARP_FREE)
			continue;
		since = e->state == PK_NET_ARP_INCOMPLETE ? e->last_req : e->confirmed;
		out[n++] = (struct pk_net_neighbour){
			.ip = e->ip,
			.mac = e->state == PK_NET_ARP_INCOMPLETE ? (struct rte_ether_addr){ { 0 } } : e->mac,
			.state = e->state,
			.queued = e->qlen,
			.age_ms = now > since ? (now - since) / per_ms : 0,
		};
	}
	return n;
}

enum pk_net_rx_result pk_net_arp_input(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint64_t now)
{
	PK_NET_CTR(ctx, ARP_RX);
	if (rte_pktmbuf_data_len(m) < m->l2_len + sizeof(struct rte_arp_hdr))
		return pk_net_drop(ctx, m, PK_NET_CTR_ARP_BAD);
	struct rte_arp_hdr *a = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, m->l2_len);
	uint16_t op = rte_be_to_cpu_16(a->arp_opcode);
	if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4 ||
	    (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
	    !rte_is_unicast_ether_addr(&a->arp_data.arp_sha) ||
	    rte_is_zero_ether_addr(&a->arp_data.arp_sha))
		return pk_net_drop(ctx, m, PK_NET_CTR_ARP_BAD);

	uint32_t sip = a->arp_data.arp_sip, tip = a->arp_data.arp_tip;
	bool for_us = pk_net_is_ours(ctx, tip);
	struct rte_ether_addr sha = a->arp_data.arp_sha;

	/* RFC 826 merge: refresh a sender we already know; add it when it
	 * asks for us (it is about to talk to us). Like Linux (arp_accept=0)
	 * an unsolicited reply creates nothing, which keeps a flood of forged
	 * replies from filling the cache. 0.0.0.0 senders are probes
	 * (RFC 5227) and teach nothing; our own addresses are never learnt
	 * from the wire. */
	if (sip != 0 && !pk_net_is_ours(ctx, sip)) {
		struct pk_net_arp_entry *e = arp_find(ctx, sip);
		if (e == NULL && for_us && op == RTE_ARP_OP_REQUEST && (e = arp_alloc(ctx, sip)) == NULL)
			PK_NET_CTR(ctx, ARP_TABLE_FULL);
		if (e != NULL) {
			arp_confirm(ctx, e, &sha, now);
			arp_log_learnt(ctx, sip, &sha, 1);
		} else if (for_us && op == RTE_ARP_OP_REPLY) {
			/* Not asked by us: perhaps by another queue of the
			 * port (the backend passes it on). */
			arp_log_learnt(ctx, sip, &sha, 0);
		}
	}

	if (op == RTE_ARP_OP_REQUEST && for_us && sip != tip) {
		/* Answer in place: the request becomes the reply. */
		a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
		a->arp_data.arp_tha = sha;
		a->arp_data.arp_tip = sip;
		rte_ether_addr_copy(&ctx->conf.mac, &a->arp_data.arp_sha);
		a->arp_data.arp_sip = tip;
		rte_pktmbuf_adj(m, m->l2_len);
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - sizeof(*a)));
		m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
		if (!pk_net_l2_push(ctx, m, &sha, RTE_ETHER_TYPE_ARP))
			return pk_net_drop(ctx, m, PK_NET_CTR_TX_NO_MBUF);
		PK_NET_CTR(ctx, ARP_REPLIED);
		return pk_net_stage(ctx, m) ? PK_NET_RX_REPLY : PK_NET_RX_DROP;
	}
	if (op == RTE_ARP_OP_REQUEST && !for_us)
		return pk_net_drop(ctx, m, PK_NET_CTR_ARP_NOT_FOR_US);
	rte_pktmbuf_free(m);
	return PK_NET_RX_CONSUMED;
}

int pk_net_arp_resolve(struct pk_net_ctx *ctx, uint32_t nh, uint64_t now,
		       struct rte_ether_addr *mac, struct pk_net_arp_entry **entry)
{
	struct pk_net_arp_entry *e = arp_find(ctx, nh);

	if (e == NULL) {
		e = arp_alloc(ctx, nh);
		if (e == NULL) {
			PK_NET_CTR(ctx, ARP_TABLE_FULL);
			return -EHOSTUNREACH;
		}
		e->state = PK_NET_ARP_INCOMPLETE;
		e->probes = 1;
		arp_request(ctx, e, now);
	}
	switch (e->state) {
	case PK_NET_ARP_INCOMPLETE:
		*entry = e;
		return 1;
	case PK_NET_ARP_REACHABLE:
		if (now - e->confirmed < ctx->t_refresh) {
			ctx->hot = e; /* udp_tx_route looks here first */
			break;
		}
		if (now - e->confirmed >= ctx->t_reachable)
			e->state = PK_NET_ARP_STALE;
		/* re-probe while still sending */
		__attribute__((fallthrough));
	default:
		if (now - e->last_req >= ctx->t_retry || e->last_req < e->confirmed)
			arp_request(ctx, e, now);
		break;
	}
	*mac = e->mac;
	return 0;
}

bool pk_net_arp_enqueue(struct pk_net_arp_entry *e, struct rte_mbuf **frames, unsigned n)
{
	if (e->qlen + n > PK_NET_ARP_QLEN)
		return false;
	for (unsigned i = 0; i < n; i++)
		e->q[(e->qhead + e->qlen++) % PK_NET_ARP_QLEN] = frames[i];
	return true;
}

/* One entry's timers: retries, expiry. */
static void arp_timer(struct pk_net_ctx *ctx, struct pk_net_arp_entry *e, uint64_t now)
{
	switch (e->state) {
	case PK_NET_ARP_INCOMPLETE:
		if (now - e->last_req < ctx->t_retry)
			break;
		if (e->probes >= ctx->conf.arp_retries) {
			PK_NET_CTR(ctx, ARP_FAILED);
			arp_free(ctx, e);
			break;
		}
		e->probes++;
		arp_request(ctx, e, now);
		break;
	case PK_NET_ARP_REACHABLE:
		if (now - e->confirmed >= ctx->t_reachable)
			e->state = PK_NET_ARP_STALE;
		break;
	case PK_NET_ARP_STALE:
		if (now - e->confirmed >= ctx->t_reachable + ctx->t_stale) {
			PK_NET_CTR(ctx, ARP_EXPIRED);
			arp_free(ctx, e);
		}
		break;
	default:
		break;
	}
}

/* The entries in use, in table order, found by the bitmap: a scan of all
 * 256 entries (one cache line or more each) once a millisecond was a
 * visible share of an idle or lightly loaded worker. arp_free clears the
 * bit of the entry being visited in the map, not in the copy w. */
void pk_net_arp_timers(struct pk_net_ctx *ctx, uint64_t now)
{
	for (unsigned wi = 0; wi < RTE_DIM(ctx->arp_used); wi++)
		for (uint64_t w = ctx->arp_used[wi]; w != 0; w &= w - 1)
			arp_timer(ctx, &ctx->arp[wi * 64 + (unsigned)__builtin_ctzll(w)], now);
}

void pk_net_arp_flush(struct pk_net_ctx *ctx)
{
	for (unsigned i = 0; i < PK_NET_ARP_SIZE; i++)
		if (ctx->arp[i].state != PK_NET_ARP_FREE)
			arp_free(ctx, &ctx->arp[i]);
}
