/* SPDX-License-Identifier: MIT */
/*
 * IPv4, ICMP echo and UDP for one DPDK port: checks of received headers
 * (RX checksum offload flags first, software otherwise), reassembly of
 * fragmented datagrams with rte_ip_frag, echo replies built in place, UDP
 * delivery with a contiguous payload, and the UDP send path with its own
 * fragmentation (DF clear) and ARP resolution of the next hop: copied
 * from the caller's buffer (pk_net_udp_tx), or written by the caller in
 * the frame itself with the headers put in front (pk_net_udp_frame,
 * pk_net_udp_tx_frame).
 *
 * Reassembly: rte_ip_frag keeps at most conf.frag_max_flows datagrams, each
 * of at most RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) fragments, for at most
 * conf.frag_timeout_ms; the frames it discards go to a death row that
 * pk_net_poll frees once per loop. A small table of the offsets already
 * given to it per datagram (struct pk_net_frag_seen) drops exact duplicates
 * first, which rte_ip_frag would take as an error and lose the datagram.
 *
 * Threads: the ctx's worker only; no allocation except frames from the
 * ctx's mempool.
 */
#include <errno.h>
#include <netinet/in.h>

#include <rte_icmp.h>
#include <rte_udp.h>

#include "net_impl.h"

#define IP_BCAST 0xffffffffu

/* The next hop of an off-link destination: the longest static route's
 * that holds it, else the gateway (0: none). */
static inline uint32_t ip_next_hop(const struct pk_net_ctx *ctx, uint32_t dst)
{
	for (unsigned i = 0; i < ctx->n_routes; i++)
		if (((dst ^ ctx->route[i].net) & ctx->route[i].mask) == 0)
			return ctx->route[i].via;
	return ctx->conf.gateway;
}

static inline bool ip_is_bcast(const struct pk_net_ctx *ctx, uint32_t dst)
{
	/* Host part all ones (IP_BCAST too): one test for the usual unicast
	 * address, before the limited and the directed broadcast. */
	if (likely((dst | ctx->netmask) != IP_BCAST))
		return false;
	if (dst == IP_BCAST)
		return true;
	/* the directed broadcast of one of our prefixes */
	if (ctx->conf.prefix_len >= 31)
		return false;
	for (unsigned i = 0; i < ctx->conf.n_addrs; i++)
		if (((dst ^ ctx->conf.addrs[i]) & ctx->netmask) == 0)
			return true;
	return false;
}

/* A partial sum (cksum.h) folded to 16 bits, not inverted. */
static inline uint16_t cksum_fold(uint32_t sum)
{
	return pk_net_cksum_fold(sum);
}

/* The sum of an IPv4 header of ihl bytes: the usual 20 without a loop. */
static inline uint32_t cksum_ip_hdr(const struct rte_ipv4_hdr *ip, uint32_t ihl)
{
	return likely(ihl == sizeof(*ip)) ? pk_net_cksum_ip20(ip) : pk_net_cksum_add(ip, ihl, 0);
}

/* The UDP pseudo-header's sum (RFC 768): addresses, protocol, length
 * (len_be as it lies in the header); 16-bit words in memory order, as
 * loaded, like every partial sum here. */
static inline uint64_t cksum_udp_pseudo(uint32_t sip, uint32_t dip, uint16_t len_be)
{
	return (uint64_t)sip + dip + rte_cpu_to_be_16(IPPROTO_UDP) + len_be;
}

/* ---------- reassembly ---------- */

static struct pk_net_frag_seen *frag_seen(struct pk_net_ctx *ctx, const struct rte_ipv4_hdr *ip,
					  uint64_t now)
{
	struct pk_net_frag_seen *freeslot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < ctx->conf.frag_max_flows; i++) {
		struct pk_net_frag_seen *s = &ctx->seen[i];
		if (s->used && now - s->start > ctx->t_frag)
			s->used = 0;
		if (!s->used) {
			if (freeslot == NULL)
				freeslot = s;
			continue;
		}
		if (s->src == ip->src_addr && s->dst == ip->dst_addr && s->id == ip->packet_id)
			return s;
		if (oldest == NULL || s->start < oldest->start)
			oldest = s;
	}
	struct pk_net_frag_seen *s = freeslot ? freeslot : oldest;
	s->used = 1;
	s->src = ip->src_addr;
	s->dst = ip->dst_addr;
	s->id = ip->packet_id;
	s->n = 0;
	s->start = now;
	return s;
}

/* Count what rte_ip_frag put on the death row since `before`. */
static inline void frag_count_dr(struct pk_net_ctx *ctx, uint32_t before, enum pk_net_counter c)
{
	if (ctx->dr.cnt > before)
		pk_ctr_add(&ctx->ctr[c], ctx->dr.cnt - before);
}

void pk_net_frag_timers(struct pk_net_ctx *ctx, uint64_t now)
{
	uint32_t before = ctx->dr.cnt;
	rte_ip_frag_table_del_expired_entries(ctx->frag_tbl, &ctx->dr, now);
	frag_count_dr(ctx, before, PK_NET_CTR_FRAG_TIMEOUT);
	if (ctx->dr.cnt != 0)
		rte_ip_frag_free_death_row(&ctx->dr, 3);
}

/* Returns the whole datagram when m completed it, else NULL (m kept or
 * freed, counted). */
static __rte_noinline struct rte_mbuf *frag_input(struct pk_net_ctx *ctx, struct rte_mbuf *m,
				   struct rte_ipv4_hdr *ip, uint64_t now)
{
	PK_NET_CTR(ctx, FRAG_RX);
	/* Room on the death row for a whole table entry, and what timed out. */
	if (ctx->dr.cnt > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN - 2 * (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1))
		rte_ip_frag_free_death_row(&ctx->dr, 0);
	pk_net_frag_timers(ctx, now);

	struct pk_net_frag_seen *s = frag_seen(ctx, ip, now);
	uint16_t ofs = rte_be_to_cpu_16(ip->fragment_offset);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->ofs[i] == ofs) {
			pk_net_drop(ctx, m, PK_NET_CTR_FRAG_DUP);
			return NULL;
		}
	}
	if (s->n < RTE_DIM(s->ofs))
		s->ofs[s->n++] = ofs;

	uint32_t before = ctx->dr.cnt;
	struct rte_mbuf *whole = rte_ipv4_frag_reassemble_packet(ctx->frag_tbl, &ctx->dr, m, now, ip);
	frag_count_dr(ctx, before, PK_NET_CTR_FRAG_ERROR);
	if (whole != NULL) {
		PK_NET_CTR(ctx, FRAG_REASSEMBLED);
		s->used = 0;
	}
	return whole;
}

/* ---------- ICMP ---------- */

static __rte_noinline enum pk_net_rx_result icmp_input(struct pk_net_ctx *ctx, struct rte_mbuf *m,
					struct rte_ipv4_hdr *ip, uint32_t ihl, uint32_t len)
{
	if (len < sizeof(struct rte_icmp_hdr) || m->nb_segs != 1)
		return pk_net_drop(ctx, m, PK_NET_CTR_ICMP_BAD);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
	if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0 ||
	    !pk_net_is_ours(ctx, ip->dst_addr)) /* no replies to broadcast pings */
		return pk_net_drop(ctx, m, PK_NET_CTR_ICMP_OTHER);
	if (rte_raw_cksum(ic, len) != 0xffff)
		return pk_net_drop(ctx, m, PK_NET_CTR_ICMP_BAD);

	struct rte_ether_addr peer = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr;
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, len);

	uint32_t a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	ip->time_to_live = ctx->conf.ttl;
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	rte_pktmbuf_adj(m, m->l2_len);
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
	if (!pk_net_l2_push(ctx, m, &peer, RTE_ETHER_TYPE_IPV4))
		return pk_net_drop(ctx, m, PK_NET_CTR_TX_NO_MBUF);
	PK_NET_CTR(ctx, ICMP_ECHO_REPLIED);
	return pk_net_stage(ctx, m) ? PK_NET_RX_REPLY : PK_NET_RX_DROP;
}

/* ---------- UDP ---------- */

static bool udp_port_served(const struct pk_net_ctx *ctx, uint16_t port_be)
{
	if (ctx->conf.n_ports == 0)
		return true;
	uint16_t p = rte_be_to_cpu_16(port_be);
	for (unsigned i = 0; i < ctx->conf.n_ports; i++)
		if (ctx->conf.ports[i] == p)
			return true;
	return false;
}

/* The rare parts of udp_input, out of line: its usual path (one segment)
 * then keeps fewer values alive around the checksum's call. */

/*
 * The sum of ulen bytes at off of a chain, ph added; false when the
 * chain is shorter. Not rte_raw_cksum_mbuf: DPDK 22.11's swaps the sum of
 * a piece that starts at an odd offset after truncating it to 16 bits
 * (rte_ip.h), not after folding it, so a datagram a scattering port
 * splits at an odd length was dropped as a bad sum. Here each piece's sum
 * is folded, then swapped when the piece starts at an odd offset of the
 * datagram (its bytes are then the second halves of the words).
 */
static __rte_noinline bool udp_sum_chain(const struct rte_mbuf *m, uint32_t off, uint32_t ulen,
					 uint64_t ph, uint32_t *sum)
{
	uint64_t s = ph;
	uint32_t done = 0;

	for (const struct rte_mbuf *seg = m; seg != NULL && done < ulen; seg = seg->next) {
		uint32_t dl = rte_pktmbuf_data_len(seg);
		if (off >= dl) {
			off -= dl;
			continue;
		}
		uint32_t take = RTE_MIN(dl - off, ulen - done);
		uint16_t piece = pk_net_cksum_fold(pk_net_cksum_add(rte_pktmbuf_mtod_offset(seg, const void *, off),
								    take, 0));
		s += (done & 1) ? rte_bswap16(piece) : piece;
		done += take;
		off = 0;
	}
	if (done < ulen)
		return false;
	*sum = pk_net_cksum_32(s);
	return true;
}

/* A reassembled chain's payload (out->len bytes at off): copied into the
 * caller's buffer, the chain freed. */
static __rte_noinline enum pk_net_rx_result udp_copy_chain(struct pk_net_ctx *ctx, struct rte_mbuf *m,
							   uint32_t off, struct pk_net_udp *out)
{
	if (out->buf == NULL || out->len > out->buf_cap)
		return pk_net_drop(ctx, m, PK_NET_CTR_FRAG_TOO_BIG);
	uint32_t done = 0;
	for (struct rte_mbuf *seg = m; seg != NULL && done < out->len; seg = seg->next) {
		uint32_t dl = rte_pktmbuf_data_len(seg);
		if (off >= dl) {
			off -= dl;
			continue;
		}
		uint32_t n = RTE_MIN(dl - off, out->len - done);
		memcpy(out->buf + done, rte_pktmbuf_mtod_offset(seg, uint8_t *, off), n);
		done += n;
		off = 0;
	}
	rte_pktmbuf_free(m);
	out->payload = out->buf;
	out->mbuf = NULL;
	PK_NET_CTR(ctx, UDP_RX);
	return PK_NET_RX_UDP;
}

static enum pk_net_rx_result udp_input(struct pk_net_ctx *ctx, struct rte_mbuf *m,
				       const struct rte_ipv4_hdr *ip, uint32_t l2, uint32_t ihl,
				       uint32_t len, bool reassembled, struct pk_net_udp *out)
{
	struct rte_udp_hdr tmp;
	const struct rte_udp_hdr *uh;
	uint32_t off = l2 + ihl;

	if (len < sizeof(struct rte_udp_hdr))
		return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_LEN);
	/* rte_pktmbuf_read, without its NULL test where the header lies in
	 * the first segment (a pointer into it is never NULL). */
	if (likely(off + sizeof(tmp) <= rte_pktmbuf_data_len(m))) {
		uh = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, off);
	} else {
		uh = rte_pktmbuf_read(m, off, sizeof(tmp), &tmp);
		if (uh == NULL)
			return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_LEN);
	}
	uint32_t ulen = rte_be_to_cpu_16(uh->dgram_len);
	if (ulen < sizeof(*uh) || ulen > len)
		return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_LEN);
	if (!udp_port_served(ctx, uh->dst_port))
		return pk_net_drop(ctx, m, PK_NET_CTR_UDP_NO_PORT);

	if (uh->dgram_cksum != 0) { /* 0: the sender did not compute one (RFC 768) */
		uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
		if (reassembled)
			f = RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN; /* flags of the first fragment only */
		if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
			return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_CKSUM);
		if (f != RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
			uint64_t ph = cksum_udp_pseudo(ip->src_addr, ip->dst_addr, uh->dgram_len);
			uint32_t sum;
			if (off + ulen <= rte_pktmbuf_data_len(m)) { /* one segment: the usual case */
				sum = pk_net_cksum_add(rte_pktmbuf_mtod_offset(m, const void *, off), ulen,
						       pk_net_cksum_32(ph));
			} else if (!udp_sum_chain(m, off, ulen, ph, &sum)) {
				return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_LEN);
			}
			if (cksum_fold(sum) != 0xffff)
				return pk_net_drop(ctx, m, PK_NET_CTR_UDP_BAD_CKSUM);
		}
	}

	out->src_ip = ip->src_addr;
	out->dst_ip = ip->dst_addr;
	out->src_port = rte_be_to_cpu_16(uh->src_port);
	out->dst_port = rte_be_to_cpu_16(uh->dst_port);
	out->len = ulen - (uint32_t)sizeof(*uh);
	off += sizeof(*uh);
	if (unlikely(m->nb_segs != 1))
		return udp_copy_chain(ctx, m, off, out); /* a reassembled chain */
	out->payload = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	out->mbuf = m;
	PK_NET_CTR(ctx, UDP_RX);
	return PK_NET_RX_UDP;
}

/* ---------- IPv4 input ---------- */

enum pk_net_rx_result pk_net_ip4_input(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint32_t l2,
				       uint64_t now, struct pk_net_udp *out)
{
	PK_NET_CTR(ctx, IP_RX);
	if (rte_pktmbuf_data_len(m) < l2 + sizeof(struct rte_ipv4_hdr))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_LEN);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
	if ((ip->version_ihl >> 4) != 4)
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_VERSION);
	uint32_t ihl = (ip->version_ihl & 0xfu) * 4u;
	if (ihl < sizeof(*ip) || l2 + ihl > rte_pktmbuf_data_len(m))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_IHL);
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < ihl || l2 + tot > rte_pktmbuf_pkt_len(m))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_LEN);
	if (l2 + tot < rte_pktmbuf_pkt_len(m) && /* Ethernet padding */
	    rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - l2 - tot)) != 0)
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_LEN);

	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (f != RTE_MBUF_F_RX_IP_CKSUM_GOOD && cksum_fold(cksum_ip_hdr(ip, ihl)) != 0xffff))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_CKSUM);
	if (ip->time_to_live == 0)
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_TTL_ZERO);
	uint32_t src_h = rte_be_to_cpu_32(ip->src_addr);
	if (src_h == 0 || src_h == IP_BCAST || (src_h >> 28) == 0xe || ip_is_bcast(ctx, ip->src_addr))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_SRC);
	if (!pk_net_is_ours(ctx, ip->dst_addr) && !ip_is_bcast(ctx, ip->dst_addr))
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_NOT_FOR_US);

	bool reassembled = false;
	if (rte_ipv4_frag_pkt_is_fragmented(ip)) {
		m->l2_len = l2; /* what rte_ip_frag reads */
		m->l3_len = ihl;
		struct rte_mbuf *whole = frag_input(ctx, m, ip, now);
		if (whole == NULL)
			return PK_NET_RX_CONSUMED;
		m = whole;
		l2 = m->l2_len;
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
		ihl = (ip->version_ihl & 0xfu) * 4u;
		tot = rte_be_to_cpu_16(ip->total_length);
		/* rte_ip_frag does not refuse fragments adding up to more
		 * than 65535 bytes (RFC 791's limit; "ping of death"): the
		 * total length it writes then wraps, and would deliver the
		 * datagram as a short one. It is the chain's length exactly
		 * otherwise (each fragment was trimmed to its own above). */
		if (tot < ihl || l2 + tot != rte_pktmbuf_pkt_len(m))
			return pk_net_drop(ctx, m, PK_NET_CTR_IP_BAD_LEN);
		reassembled = true;
	}

	switch (ip->next_proto_id) {
	case IPPROTO_UDP:
		return udp_input(ctx, m, ip, l2, ihl, tot - ihl, reassembled, out);
	case IPPROTO_ICMP:
		m->l2_len = l2;
		return icmp_input(ctx, m, ip, ihl, tot - ihl);
	case IPPROTO_TCP:
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_TCP);
	default:
		return pk_net_drop(ctx, m, PK_NET_CTR_IP_OTHER_PROTO);
	}
}

/* ---------- UDP output ---------- */

/* Copy n bytes at offset pos of the stream "UDP header, then payload". */
static void udp_stream_copy(uint8_t *dst, const struct rte_udp_hdr *uh, const uint8_t *payload,
			    uint32_t pos, uint32_t n)
{
	if (pos < sizeof(*uh)) {
		uint32_t k = RTE_MIN(n, (uint32_t)sizeof(*uh) - pos);
		memcpy(dst, (const uint8_t *)uh + pos, k);
		dst += k;
		n -= k;
		pos = 0;
	} else {
		pos -= sizeof(*uh);
	}
	memcpy(dst, payload + pos, n);
}

/* The next hop not the hot entry: pk_net_arp_resolve, its answer
 * returned in registers (r: 0 or a negative errno; wait: the entry to
 * queue on, else NULL). Out of line, so that the caller's locals do not
 * live on the stack for the sake of this rare path. */
struct udp_tx_resolved {
	int r;
	struct pk_net_arp_entry *wait;
};

static __rte_noinline struct udp_tx_resolved udp_tx_resolve(struct pk_net_ctx *ctx, uint32_t nh,
							   uint64_t now_tsc, struct rte_ether_addr *mac)
{
	struct pk_net_arp_entry *e = NULL;
	int r = pk_net_arp_resolve(ctx, nh, now_tsc, mac, &e);

	return (struct udp_tx_resolved){ .r = r < 0 ? r : 0, .wait = r == 1 ? e : NULL };
}

/* What every UDP datagram sent needs first: checks, our source address,
 * and the next hop's MAC (*macp: the hot ARP entry's, or macbuf filled;
 * *waitp: the ARP entry to queue on, else NULL). 0 or pk_net_udp_tx's
 * negative errnos, counted. */
static __rte_always_inline int udp_tx_route(struct pk_net_ctx *ctx, uint32_t len, bool no_payload,
					    const struct pk_addr *src, const struct pk_addr *dst,
					    uint64_t now_tsc, uint32_t *sipp, uint32_t *dipp,
					    struct rte_ether_addr *macbuf,
					    const struct rte_ether_addr **macp,
					    struct pk_net_arp_entry **waitp)
{
	uint32_t sip = 0, dip;

	*waitp = NULL;
	*macp = macbuf;
	if (dst->family != AF_INET || (src->family != 0 && src->family != AF_INET)) {
		PK_NET_CTR(ctx, TX_BAD);
		return -EAFNOSUPPORT;
	}
	if (len > PK_NET_UDP_MAX || no_payload) {
		PK_NET_CTR(ctx, TX_BAD);
		return -EMSGSIZE;
	}
	memcpy(&dip, dst->ip, 4);
	if (src->family == AF_INET)
		memcpy(&sip, src->ip, 4);
	if (sip == 0)
		sip = pk_net_src_for(ctx, dip);
	if (!pk_net_is_ours(ctx, sip) || dip == 0 || dst->port == 0) {
		PK_NET_CTR(ctx, TX_BAD);
		return -EINVAL;
	}
	*sipp = sip;
	*dipp = dip;

	/* Where it goes: broadcast, an on-link host, or a route's next hop or
	 * the gateway. */
	if (ip_is_bcast(ctx, dip)) {
		memset(macbuf, 0xff, sizeof(*macbuf));
	} else {
		uint32_t nh = ((dip ^ sip) & ctx->netmask) == 0 ? dip : ip_next_hop(ctx, dip);
		if (nh == 0) {
			PK_NET_CTR(ctx, TX_NO_ROUTE);
			return -EHOSTUNREACH;
		}
		/* The same next hop as last time, still fresh: what
		 * pk_net_arp_resolve would answer, without the lookup. */
		const struct pk_net_arp_entry *e = ctx->hot;
		if (likely(e != NULL && e->ip == nh && e->state == PK_NET_ARP_REACHABLE &&
			   now_tsc - e->confirmed < ctx->t_refresh)) {
			*macp = &e->mac; /* read before anything can change the entry */
			return 0;
		}
		struct udp_tx_resolved res = udp_tx_resolve(ctx, nh, now_tsc, macbuf);
		*waitp = res.wait;
		return res.r;
	}
	return 0;
}

/* The UDP header of a datagram of len bytes and, unless the port finishes
 * it (offload), its checksum over the pseudo-header, header and payload
 * (psum: the payload's partial sum, pk_net_cksum_add(payload, len, 0);
 * added last, it gives the same folded value as a sum started from the
 * headers: the same value modulo 0xffff, and both nonzero). */
static __rte_always_inline struct rte_udp_hdr
udp_tx_header(uint32_t psum, uint32_t len, uint32_t sip, uint32_t dip, const struct pk_addr *src,
	      const struct pk_addr *dst, bool l4_offload)
{
	struct rte_udp_hdr uh = {
		.src_port = rte_cpu_to_be_16(src->port),
		.dst_port = rte_cpu_to_be_16(dst->port),
		.dgram_len = rte_cpu_to_be_16((uint16_t)(len + sizeof(uh))),
		.dgram_cksum = 0,
	};
	/* The port finishes the UDP checksum of a one-frame datagram when it
	 * can: it wants the pseudo-header sum, not inverted, in the field. A
	 * fragmented datagram is summed here (ports checksum one frame). */
	uint64_t ph = cksum_udp_pseudo(sip, dip, uh.dgram_len);

	if (l4_offload) {
		uh.dgram_cksum = cksum_fold(pk_net_cksum_32(ph));
	} else {
		/* + the UDP header (its checksum field 0), then the payload */
		ph += (uint64_t)uh.src_port + uh.dst_port + uh.dgram_len + psum;
		uint16_t ck = (uint16_t)~cksum_fold(pk_net_cksum_32(ph));
		uh.dgram_cksum = ck == 0 ? 0xffff : ck;
	}
	return uh;
}

/* The IPv4 header of one frame (fragment at byte pos of the UDP stream,
 * more after it when mf) and the offload flags; not the L2 header, nor
 * m->tx_offload (the callers set l2/l3/l4_len). The header checksum is
 * summed from the values, not read back from the frame: loading the
 * header just written field by field stalls on store forwarding. */
static inline void udp_tx_ip(struct pk_net_ctx *ctx, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
			     uint32_t this_len, uint16_t id, uint32_t pos, bool mf, uint32_t sip,
			     uint32_t dip, bool l4_offload)
{
	struct rte_ipv4_hdr h = {
		.version_ihl = RTE_IPV4_VHL_DEF,
		.type_of_service = 0,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + this_len)),
		.packet_id = rte_cpu_to_be_16(id),
		.fragment_offset =
			rte_cpu_to_be_16((uint16_t)((pos >> 3) | (mf ? RTE_IPV4_HDR_MF_FLAG : 0))),
		.time_to_live = ctx->conf.ttl,
		.next_proto_id = IPPROTO_UDP,
		.hdr_checksum = 0,
		.src_addr = sip,
		.dst_addr = dip,
	};

	if (ctx->conf.tx_ip_cksum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		/* 16-bit words as they lie in memory: version/IHL and TOS,
		 * TTL and protocol as big-endian pairs, the rest as stored. */
		uint64_t sum = (uint64_t)ctx->ip4_ck_const + h.total_length + h.packet_id +
			       h.fragment_offset + sip + dip;
		h.hdr_checksum = (uint16_t)~cksum_fold(pk_net_cksum_32(sum));
	}
	if (l4_offload)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	memcpy(ip, &h, sizeof(h));
}

/* Hand n built frames on: to the ARP entry's queue, or staged for TX. */
static int udp_tx_out(struct pk_net_ctx *ctx, struct pk_net_arp_entry *wait, struct rte_mbuf **frames,
		      unsigned n)
{
	if (n > 1)
		pk_ctr_add(&ctx->ctr[PK_NET_CTR_TX_FRAGMENTS], n);
	PK_NET_CTR(ctx, UDP_TX);
	if (wait != NULL) {
		pk_net_arp_enqueue(wait, frames, n);
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		ctx->tx[ctx->tx_n++] = frames[i];
	return (int)n;
}

int pk_net_udp_tx(struct pk_net_ctx *ctx, const void *payload, uint32_t len,
		  const struct pk_addr *src, const struct pk_addr *dst, uint64_t now_tsc)
{
	uint32_t sip, dip;
	struct rte_mbuf *frames[(PK_NET_UDP_MAX + 8) / 552 + 1]; /* fragments at the smallest MTU (576) */
	struct rte_ether_addr macbuf;
	const struct rte_ether_addr *mac;
	struct pk_net_arp_entry *wait;

	int r = udp_tx_route(ctx, len, len != 0 && payload == NULL, src, dst, now_tsc, &sip, &dip,
			     &macbuf, &mac, &wait);
	if (r < 0)
		return r;

	uint32_t total = len + (uint32_t)sizeof(struct rte_udp_hdr);
	uint32_t chunk = (ctx->mtu - (uint32_t)sizeof(struct rte_ipv4_hdr)) & ~7u;
	unsigned n = total <= ctx->mtu - sizeof(struct rte_ipv4_hdr) ? 1 : (total + chunk - 1) / chunk;
	bool l4_offload = ctx->conf.tx_udp_cksum_offload && n == 1;
	uint32_t psum = l4_offload ? 0 : pk_net_cksum_add(payload, len, 0);
	struct rte_udp_hdr uh = udp_tx_header(psum, len, sip, dip, src, dst, l4_offload);
	if (n == 1)
		chunk = total;
	if (wait != NULL && wait->qlen + n > PK_NET_ARP_QLEN) {
		PK_NET_CTR(ctx, ARP_QUEUE_OVERFLOW);
		return -ENOBUFS;
	}
	if (wait == NULL && ctx->tx_n + n > PK_NET_TX_MAX) {
		PK_NET_CTR(ctx, TX_FULL);
		return -ENOBUFS;
	}
	if (rte_pktmbuf_alloc_bulk(ctx->pool, frames, n) != 0) {
		PK_NET_CTR(ctx, TX_NO_MBUF);
		return -ENOBUFS;
	}

	uint16_t id = ctx->ip_id;
	ctx->ip_id = (uint16_t)(id + ctx->conf.ip_id_stride);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = frames[i];
		uint32_t pos = i * chunk;
		uint32_t this_len = RTE_MIN(chunk, total - pos);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(
			m, (uint16_t)(sizeof(*ip) + this_len));
		udp_stream_copy((uint8_t *)(ip + 1), &uh, payload, pos, this_len);
		udp_tx_ip(ctx, m, ip, this_len, id, pos, i + 1 < n, sip, dip, l4_offload);
		m->l3_len = sizeof(*ip);
		if (l4_offload)
			m->l4_len = sizeof(struct rte_udp_hdr);
		pk_net_l2_push(ctx, m, mac, RTE_ETHER_TYPE_IPV4);
	}
	return udp_tx_out(ctx, wait, frames, n);
}

/* The stash is empty: PK_NET_STASH fresh frames at once (one bulk get
 * from the mempool's cache, the resets together), the last returned; one
 * frame when the pool runs that low. Out of line: once every 32 frames. */
static __rte_noinline struct rte_mbuf *stash_refill(struct pk_net_ctx *ctx)
{
	if (rte_pktmbuf_alloc_bulk(ctx->pool, ctx->stash, PK_NET_STASH) != 0)
		return rte_pktmbuf_alloc(ctx->pool);
	ctx->stash_n = PK_NET_STASH - 1;
	return ctx->stash[PK_NET_STASH - 1];
}

/* What pk_net_udp_frame returns for m (not NULL): the room for the payload. */
static __rte_always_inline char *udp_frame_room(const struct pk_net_ctx *ctx, struct rte_mbuf *m,
						struct rte_mbuf **frame, uint32_t *cap)
{
	uint32_t room;

	*frame = m;
	/* The headers go in front with rte_pktmbuf_prepend: the mbuf's
	 * headroom (RTE_PKTMBUF_HEADROOM) holds them. */
	room = ctx->mtu - (uint32_t)(sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr));
	if (rte_pktmbuf_headroom(m) < ctx->l2_len + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))
		room = 0;
	*cap = RTE_MIN(room, (uint32_t)rte_pktmbuf_tailroom(m));
	return rte_pktmbuf_mtod(m, char *);
}

/* pk_net_udp_frame with the stash empty: a tail call, so that the usual
 * path saves no registers for the refill's call. */
static __rte_noinline char *udp_frame_refill(struct pk_net_ctx *ctx, struct rte_mbuf **frame,
					     uint32_t *cap)
{
	struct rte_mbuf *m = stash_refill(ctx);

	if (m == NULL) {
		*frame = NULL;
		return NULL;
	}
	return udp_frame_room(ctx, m, frame, cap);
}

char *pk_net_udp_frame(struct pk_net_ctx *ctx, struct rte_mbuf **frame, uint32_t *cap)
{
	unsigned n = ctx->stash_n;

	if (unlikely(n == 0))
		return udp_frame_refill(ctx, frame, cap);
	struct rte_mbuf *m = ctx->stash[n - 1];
	ctx->stash_n = n - 1;
	if (n > 1)
		rte_prefetch0(ctx->stash[n - 2]); /* the next call's mbuf */
	return udp_frame_room(ctx, m, frame, cap); /* the stash holds no NULL */
}

int pk_net_udp_tx_frame(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint32_t len,
			const struct pk_addr *src, const struct pk_addr *dst, uint64_t now_tsc)
{
	uint32_t sip, dip;
	struct rte_ether_addr macbuf;
	const struct rte_ether_addr *mac;
	struct pk_net_arp_entry *wait;
	const uint32_t hdrs = sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);
	const uint32_t l2_len = ctx->l2_len;

	if (unlikely(len > rte_pktmbuf_tailroom(m) || len + hdrs > ctx->mtu ||
		     rte_pktmbuf_headroom(m) < l2_len + hdrs)) {
		/* Not one frame (or not made by pk_net_udp_frame): the copying
		 * path, which reads len bytes from the frame's data, so no
		 * more than its buffer holds. */
		if (unlikely(len > (uint32_t)rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m))) {
			rte_pktmbuf_free(m);
			PK_NET_CTR(ctx, TX_BAD);
			return -EMSGSIZE;
		}
		int r = pk_net_udp_tx(ctx, rte_pktmbuf_mtod(m, const void *), len, src, dst, now_tsc);
		rte_pktmbuf_free(m);
		return r;
	}
	/* The payload's sum first, while little else is live (a call: what
	 * is live after it would be saved around it); wasted only on the
	 * error paths below. */
	bool l4_offload = ctx->conf.tx_udp_cksum_offload;
	uint8_t *payload = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t psum = l4_offload ? 0 : pk_net_cksum_add(payload, len, 0);
	int r = udp_tx_route(ctx, len, false, src, dst, now_tsc, &sip, &dip, &macbuf, &mac, &wait);
	if (r < 0)
		goto fail;
	if (wait != NULL && wait->qlen + 1 > PK_NET_ARP_QLEN) {
		PK_NET_CTR(ctx, ARP_QUEUE_OVERFLOW);
		r = -ENOBUFS;
		goto fail;
	}
	if (wait == NULL && ctx->tx_n + 1 > PK_NET_TX_MAX) {
		PK_NET_CTR(ctx, TX_FULL);
		r = -ENOBUFS;
		goto fail;
	}
	struct rte_udp_hdr uh = udp_tx_header(psum, len, sip, dip, src, dst, l4_offload);
	/* All the headers in front at once (room checked above): Ethernet
	 * (+VLAN) from the ctx's template, IPv4, UDP. What is read of the
	 * ctx is read into locals first: as far as the compiler knows, the
	 * byte stores into the frame could change it. */
	uint32_t hl = l2_len + hdrs;
	uint8_t *h = payload - hl;
	uint64_t tx_offload = ctx->tx_offload;
	uint16_t id = ctx->ip_id;
	ctx->ip_id = (uint16_t)(id + ctx->conf.ip_id_stride);
	m->data_off = (uint16_t)(m->data_off - hl);
	m->data_len = (uint16_t)(m->data_len + len + hl);
	m->pkt_len = m->pkt_len + len + hl;
	memcpy(h, mac, RTE_ETHER_ADDR_LEN);
	memcpy(h + RTE_ETHER_ADDR_LEN, ctx->l2_ip4 + RTE_ETHER_ADDR_LEN,
	       sizeof(ctx->l2_ip4) - RTE_ETHER_ADDR_LEN);
	/* (untagged: 4 bytes of the copy above are IPv4's, written next) */
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(h + l2_len);
	/* one store of the ctx's value, no read of the mbuf's second cache line */
	m->tx_offload = tx_offload;
	udp_tx_ip(ctx, m, ip, len + (uint32_t)sizeof(uh), id, 0, false, sip, dip, l4_offload);
	memcpy(ip + 1, &uh, sizeof(uh));
	return udp_tx_out(ctx, wait, &m, 1);
fail:
	rte_pktmbuf_free(m);
	return r;
}
