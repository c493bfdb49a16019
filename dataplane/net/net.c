/* SPDX-License-Identifier: MIT */
/*
 * The Ethernet layer and the per-lcore context of dataplane/net: creation
 * and teardown (control thread), frame dispatch by destination MAC, VLAN
 * and ethertype, the TX staging the backend drains, and the periodic
 * timers. ARP lives in arp.c, IPv4/ICMP/UDP in ip4.c.
 *
 * Threads: a ctx belongs to one worker lcore; only create/destroy run
 * elsewhere (before the worker starts, after it stopped). No function here
 * allocates, locks or makes a system call once the ctx exists.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include "net_impl.h"

static const char *const ctr_names[] = { PK_NET_FOREACH_COUNTER(PK_CTR_NAME_OF) };
static const char *const ctr_descs[] = { PK_NET_FOREACH_COUNTER(PK_CTR_DESC_OF) };

const char *pk_net_counter_name(enum pk_net_counter c)
{
	return (unsigned)c < PK_NET_CTR_COUNT ? ctr_names[c] : "?";
}

const char *pk_net_counter_desc(enum pk_net_counter c)
{
	return (unsigned)c < PK_NET_CTR_COUNT ? ctr_descs[c] : "?";
}

void pk_net_counters(const struct pk_net_ctx *ctx, uint64_t out[PK_NET_CTR_COUNT])
{
	pk_ctr_copy(out, ctx->ctr, PK_NET_CTR_COUNT);
}

uint64_t pk_net_counter(const struct pk_net_ctx *ctx, enum pk_net_counter c)
{
	return (unsigned)c < PK_NET_CTR_COUNT ? pk_ctr_get(&ctx->ctr[c]) : 0;
}

unsigned pk_net_frames_held(const struct pk_net_ctx *ctx)
{
	return ctx->stash_n;
}

static uint64_t ms_to_tsc(uint64_t hz, uint32_t ms)
{
	return hz / 1000 * ms + hz % 1000 * ms / 1000;
}

struct pk_net_ctx *pk_net_ctx_create(const struct pk_net_conf *conf, struct rte_mempool *pool,
				     char *err, size_t errlen)
{
	struct pk_net_ctx *ctx = NULL;
	struct pk_net_conf c = *conf;

	if (pool == NULL || c.n_addrs == 0 || c.n_addrs > PK_NET_MAX_ADDRS ||
	    c.n_ports > PK_NET_MAX_PORTS || c.vlan_id > 4094 || c.tsc_hz < 1000 ||
	    c.prefix_len > 32 || (c.mtu != 0 && (c.mtu < 576 || c.mtu > 9000)) ||
	    !rte_is_unicast_ether_addr(&c.mac)) {
		snprintf(err, errlen, "net: invalid configuration");
		return NULL;
	}
	if (c.mtu == 0)
		c.mtu = 1500;
	if (c.ttl == 0)
		c.ttl = 64;
	if (c.prefix_len == 0)
		c.prefix_len = 24;
	if (c.arp_reachable_ms == 0)
		c.arp_reachable_ms = 30000;
	if (c.arp_stale_ms == 0)
		c.arp_stale_ms = 10000;
	if (c.arp_retry_ms == 0)
		c.arp_retry_ms = 1000;
	if (c.arp_retries == 0)
		c.arp_retries = 3;
	if (c.ip_id_stride == 0)
		c.ip_id_stride = 1;
	if (c.frag_timeout_ms == 0)
		c.frag_timeout_ms = 2000;
	if (c.frag_max_flows == 0)
		c.frag_max_flows = 64;
	if (c.frag_max_flows > 4096) {
		snprintf(err, errlen, "net: frag_max_flows above 4096");
		return NULL;
	}
	if (c.n_routes > PK_NET_MAX_ROUTES) {
		snprintf(err, errlen, "net: more than %d routes", PK_NET_MAX_ROUTES);
		return NULL;
	}
	for (unsigned i = 0; i < c.n_routes; i++) {
		const struct pk_net_route *r = &c.routes[i];

		if (r->prefix_len == 0 || r->prefix_len > 32 || r->via == 0 ||
		    (r->net & ~pk_ipv4_mask(r->prefix_len)) != 0) {
			snprintf(err, errlen, "net: route %u: a prefix of 1..32 bits without host bits, "
					      "and a next hop", i);
			return NULL;
		}
	}

	ctx = rte_zmalloc_socket("pk_net_ctx", sizeof(*ctx), RTE_CACHE_LINE_SIZE, c.socket_id);
	if (ctx == NULL) {
		snprintf(err, errlen, "net: no memory for the context");
		return NULL;
	}
	ctx->conf = c;
	ctx->pool = pool;
	ctx->netmask = pk_ipv4_mask(c.prefix_len);
	/* longest prefix first (the first that holds a destination is the
	 * longest), the configuration's order among equals */
	for (unsigned i = 0; i < c.n_routes; i++) {
		const struct pk_net_route *r = &c.routes[i];
		unsigned k = ctx->n_routes++;

		for (; k > 0 && ctx->route[k - 1].len < r->prefix_len; k--)
			ctx->route[k] = ctx->route[k - 1];
		ctx->route[k] = (struct pk_net_ctx_route){
			.net = r->net, .mask = pk_ipv4_mask(r->prefix_len), .via = r->via, .len = r->prefix_len
		};
	}
	ctx->l2_len = c.vlan_id ? RTE_ETHER_HDR_LEN + sizeof(struct rte_vlan_hdr) : RTE_ETHER_HDR_LEN;
	/* A frame is one segment: the MTU is what the data room holds. */
	uint32_t room = rte_pktmbuf_data_room_size(pool);
	room = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
	if (room < ctx->l2_len + 576u) {
		snprintf(err, errlen, "net: mbuf data room too small for a 576-byte packet");
		goto fail;
	}
	ctx->mtu = (uint16_t)RTE_MIN((uint32_t)c.mtu, room - ctx->l2_len);
	ctx->ip_id = c.ip_id_offset;
	ctx->ip4_ck_const = (uint32_t)rte_cpu_to_be_16(RTE_IPV4_VHL_DEF << 8) +
			    rte_cpu_to_be_16((uint16_t)(c.ttl << 8 | IPPROTO_UDP));
	ctx->tx_offload = rte_mbuf_tx_offload(ctx->l2_len, sizeof(struct rte_ipv4_hdr),
					      c.tx_udp_cksum_offload ? sizeof(struct rte_udp_hdr) : 0,
					      0, 0, 0, 0);
	ctx->t_reachable = ms_to_tsc(c.tsc_hz, c.arp_reachable_ms);
	ctx->t_refresh = ctx->t_reachable / 4 * 3;
	ctx->t_stale = ms_to_tsc(c.tsc_hz, c.arp_stale_ms);
	ctx->t_retry = ms_to_tsc(c.tsc_hz, c.arp_retry_ms);
	ctx->t_frag = ms_to_tsc(c.tsc_hz, c.frag_timeout_ms);
	{
		struct rte_ether_hdr *eh = (struct rte_ether_hdr *)ctx->l2_ip4;
		rte_ether_addr_copy(&c.mac, &eh->src_addr);
		if (c.vlan_id) {
			struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eh + 1);
			eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
			vh->vlan_tci = rte_cpu_to_be_16(c.vlan_id);
			vh->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		} else {
			eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		}
	}

	ctx->seen = rte_zmalloc_socket("pk_net_frag_seen", sizeof(*ctx->seen) * c.frag_max_flows,
				       RTE_CACHE_LINE_SIZE, c.socket_id);
	ctx->frag_tbl = rte_ip_frag_table_create(c.frag_max_flows, 4, c.frag_max_flows,
						 ctx->t_frag, c.socket_id);
	if (ctx->seen == NULL || ctx->frag_tbl == NULL) {
		snprintf(err, errlen, "net: cannot create the reassembly table (%u flows)",
			 c.frag_max_flows);
		goto fail;
	}
	return ctx;
fail:
	pk_net_ctx_destroy(ctx);
	return NULL;
}

void pk_net_ctx_destroy(struct pk_net_ctx *ctx)
{
	if (ctx == NULL)
		return;
	pk_net_arp_flush(ctx);
	for (unsigned i = 0; i < ctx->tx_n; i++)
		rte_pktmbuf_free(ctx->tx[i]);
	ctx->tx_n = 0;
	if (ctx->stash_n != 0)
		rte_pktmbuf_free_bulk(ctx->stash, ctx->stash_n);
	ctx->stash_n = 0;
	if (ctx->frag_tbl != NULL) {
		/* Time out everything still half reassembled and free it; the
		 * death row takes only so many frames at a time. */
		uint32_t n;
		do {
			rte_ip_frag_table_del_expired_entries(ctx->frag_tbl, &ctx->dr, UINT64_MAX);
			n = ctx->dr.cnt;
			rte_ip_frag_free_death_row(&ctx->dr, 0);
		} while (n != 0);
		rte_ip_frag_table_destroy(ctx->frag_tbl);
	}
	rte_ip_frag_free_death_row(&ctx->dr, 0);
	rte_free(ctx->seen);
	rte_free(ctx);
}

bool pk_net_l2_push(struct pk_net_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
		    uint16_t ethertype)
{
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, ctx->l2_len);

	if (eh == NULL)
		return false;
	rte_ether_addr_copy(dst, &eh->dst_addr);
	rte_ether_addr_copy(&ctx->conf.mac, &eh->src_addr);
	if (ctx->conf.vlan_id) {
		struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eh + 1);
		eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		vh->vlan_tci = rte_cpu_to_be_16(ctx->conf.vlan_id);
		vh->eth_proto = rte_cpu_to_be_16(ethertype);
	} else {
		eh->ether_type = rte_cpu_to_be_16(ethertype);
	}
	m->l2_len = ctx->l2_len;
	return true;
}

uint32_t pk_net_src_for(const struct pk_net_ctx *ctx, uint32_t ip)
{
	for (unsigned i = 0; i < ctx->conf.n_addrs; i++)
		if (((ctx->conf.addrs[i] ^ ip) & ctx->netmask) == 0)
			return ctx->conf.addrs[i];
	return ctx->conf.addrs[0];
}

/* pk_net_drop out of line: pk_net_rx's drops become tail calls, and its
 * usual path saves no registers. */
static __rte_noinline enum pk_net_rx_result rx_drop(struct pk_net_ctx *ctx, struct rte_mbuf *m,
						    enum pk_net_counter c)
{
	return pk_net_drop(ctx, m, c);
}

/* Is the 6-byte address at a ours? A 4-byte and a 2-byte compare
 * (rte_is_same_ether_addr makes three 2-byte ones). */
static inline bool mac_is_ours(const struct pk_net_ctx *ctx, const struct rte_ether_addr *a)
{
	uint32_t a4, o4;
	uint16_t a2, o2;

	memcpy(&a4, a->addr_bytes, 4);
	memcpy(&a2, a->addr_bytes + 4, 2);
	memcpy(&o4, ctx->conf.mac.addr_bytes, 4);
	memcpy(&o2, ctx->conf.mac.addr_bytes + 4, 2);
	return ((a4 ^ o4) | (uint32_t)(a2 ^ o2)) == 0;
}

enum pk_net_rx_result pk_net_rx(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint64_t now_tsc,
				struct pk_net_udp *out)
{
	PK_NET_CTR(ctx, RX_FRAMES);
	if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN))
		return rx_drop(ctx, m, PK_NET_CTR_ETH_RUNT);

	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!mac_is_ours(ctx, &eh->dst_addr)) {
		if (rte_is_broadcast_ether_addr(&eh->dst_addr))
			; /* ARP requests, IPv4 broadcasts */
		else if (rte_is_multicast_ether_addr(&eh->dst_addr))
			return rx_drop(ctx, m, PK_NET_CTR_ETH_MULTICAST);
		else
			return rx_drop(ctx, m, PK_NET_CTR_ETH_OTHER_MAC);
	}

	uint16_t type = eh->ether_type;
	uint16_t l2 = RTE_ETHER_HDR_LEN;
	bool tagged = false;
	uint16_t vid = 0;
	if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		tagged = true;
		vid = m->vlan_tci & 0xfff;
	} else if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		if (rte_pktmbuf_data_len(m) < l2 + sizeof(struct rte_vlan_hdr))
			return rx_drop(ctx, m, PK_NET_CTR_ETH_RUNT);
		const struct rte_vlan_hdr *vh = (const struct rte_vlan_hdr *)(eh + 1);
		tagged = true;
		vid = rte_be_to_cpu_16(vh->vlan_tci) & 0xfff;
		type = vh->eth_proto;
		l2 += sizeof(struct rte_vlan_hdr);
	}
	if (tagged && vid == 0)
		tagged = false; /* 802.1p priority tag: the native VLAN */
	if (ctx->conf.vlan_id != 0) {
		if (!tagged)
			return rx_drop(ctx, m, PK_NET_CTR_VLAN_UNTAGGED);
		if (vid != ctx->conf.vlan_id)
			return rx_drop(ctx, m, PK_NET_CTR_VLAN_OTHER);
	} else if (tagged) {
		return rx_drop(ctx, m, PK_NET_CTR_VLAN_OTHER);
	}
	if (likely(type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return pk_net_ip4_input(ctx, m, l2, now_tsc, out);
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		m->l2_len = l2;
		return pk_net_arp_input(ctx, m, now_tsc);
	}
	return rx_drop(ctx, m, PK_NET_CTR_ETH_OTHER_TYPE);
}

void pk_net_poll(struct pk_net_ctx *ctx, uint64_t now_tsc)
{
	if (ctx->dr.cnt != 0)
		rte_ip_frag_free_death_row(&ctx->dr, 3);
	/* The timers move in milliseconds: scanning the ARP table on every
	 * loop would only cost cycles. */
	if (now_tsc < ctx->next_timer)
		return;
	ctx->next_timer = now_tsc + ctx->conf.tsc_hz / 1000;
	pk_net_arp_timers(ctx, now_tsc);
	pk_net_frag_timers(ctx, now_tsc);
}

unsigned pk_net_tx_pending(struct pk_net_ctx *ctx, struct rte_mbuf ***pkts)
{
	*pkts = ctx->tx;
	return ctx->tx_n;
}

void pk_net_tx_done(struct pk_net_ctx *ctx, unsigned n_sent)
{
	if (n_sent >= ctx->tx_n) {
		ctx->tx_n = 0;
		return;
	}
	memmove(ctx->tx, ctx->tx + n_sent, (ctx->tx_n - n_sent) * sizeof(ctx->tx[0]));
	ctx->tx_n -= n_sent;
}
