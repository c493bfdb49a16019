/* SPDX-License-Identifier: MIT */
/*
 * The network layers a SIP engine needs on a raw DPDK port: Ethernet with
 * one optional 802.1Q tag, ARP (answering for our addresses, resolving next
 * hops with a bounded cache and per-entry queues), IPv4 (header checks,
 * reassembly with rte_ip_frag, fragmentation of large outgoing datagrams),
 * ICMP echo reply and UDP. Everything else is counted and dropped.
 *
 * It is a library over rte_mbuf: the DPDK backend calls pk_net_rx for every
 * received frame, pk_net_udp_tx for every SIP datagram to send, pk_net_poll
 * once per loop (timers, freeing), and hands pk_net_tx_pending() frames to
 * rte_eth_tx_burst. docs/net.md describes the layers and the state machines.
 *
 * Threads and ownership. A struct pk_net_ctx is per worker lcore: its ARP
 * cache, reassembly table, counters and TX staging belong to that lcore and
 * nothing in it is shared, so nothing locks. pk_net_ctx_create/destroy are
 * for the control thread (after rte_eal_init, before the worker starts /
 * after it stopped); every other function is for the ctx's own worker, and
 * none allocates memory (frames come from the mempool given at creation),
 * takes a lock or makes a system call. Times are TSC values (rte_rdtsc) and
 * conf.tsc_hz converts the configured milliseconds; tests pass a fake clock.
 *
 * ARP replies arrive at whatever queue RSS picks. With several workers the
 * backend forwards what one ctx learnt (pk_net_arp_take_learnt) to the
 * others (pk_net_arp_learn / pk_net_arp_update); see docs/net.md.
 */
#ifndef PICKUP_NET_H
#define PICKUP_NET_H

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "pickup/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PK_NET_MAX_ADDRS 8    /* our IPv4 addresses on the port */
#define PK_NET_MAX_PORTS 16   /* UDP ports we deliver (0 configured: all) */
#define PK_NET_TX_MAX 512     /* frames staged for TX per ctx */
#define PK_NET_ARP_BUCKETS 64 /* ARP cache: buckets x ways entries */
#define PK_NET_ARP_WAYS 4
#define PK_NET_ARP_QLEN 16 /* frames waiting for one next hop's MAC */
#define PK_NET_UDP_MAX 65507 /* largest UDP payload in IPv4 */
#define PK_NET_LEARNT_MAX 16 /* mappings learnt from the wire, kept until taken */
#define PK_NET_STASH 32 /* fresh frames pk_net_udp_frame takes from the pool at a time */
#define PK_NET_MAX_ROUTES 16 /* static routes of a port */

/* A static route: datagrams to net/prefix_len that are not on-link go to
 * the next hop `via` (on-link) instead of the gateway; of several routes
 * that hold a destination, the longest prefix's. */
struct pk_net_route {
	uint32_t net;	    /* network order; bits past prefix_len are 0 */
	uint32_t via;	    /* network order, not 0 */
	uint8_t prefix_len; /* 1..32 */
};

struct pk_net_conf {
	struct rte_ether_addr mac; /* the port's MAC */
	uint16_t vlan_id;	   /* 0: untagged; 1..4094: frames carry this tag, in and out */
	uint16_t mtu;		   /* IP MTU (largest IPv4 packet), 576..9000; 0: 1500 */
	uint8_t ttl;		   /* TTL of what we send; 0: 64 */
	uint8_t n_addrs;	   /* 1..PK_NET_MAX_ADDRS */
	uint8_t prefix_len;	   /* on-link prefix of addrs[0] (e.g. 24); 0: 24 */
	uint8_t n_ports;	   /* UDP ports delivered; 0: every port */
	uint32_t addrs[PK_NET_MAX_ADDRS]; /* our IPv4 addresses, network byte order */
	uint32_t gateway;		  /* next hop off-link, network order; 0: none */
	uint16_t ports[PK_NET_MAX_PORTS]; /* host order */
	uint64_t tsc_hz;		  /* TSC ticks per second (rte_get_tsc_hz()) */
	uint32_t arp_reachable_ms; /* a confirmed entry is used this long; 0: 30000 */
	uint32_t arp_stale_ms;	   /* then stays usable (re-probed) this long; 0: 10000 */
	uint32_t arp_retry_ms;	   /* between requests of an unresolved entry; 0: 1000 */
	uint8_t arp_retries;	   /* requests before giving up; 0: 3 */
	uint8_t ip_id_stride;	   /* IP ids: id_offset + k * stride (distinct per lcore); 0: 1 */
	uint16_t ip_id_offset;
	uint32_t frag_timeout_ms;  /* an incomplete datagram is dropped after; 0: 2000 */
	uint32_t frag_max_flows;   /* datagrams reassembled at once; 0: 64 */
	bool tx_ip_cksum_offload;  /* the port computes IPv4 header checksums */
	bool tx_udp_cksum_offload; /* ... and UDP checksums (unfragmented datagrams) */
	bool share_arp;		   /* log what ARP teaches for pk_net_arp_take_learnt */
	int socket_id;		   /* NUMA socket for the ctx memory (SOCKET_ID_ANY ok) */
	/* Static routes, tried before the gateway (last: read only for an
	 * off-link destination). */
	uint8_t n_routes;
	struct pk_net_route routes[PK_NET_MAX_ROUTES];
};

/*
 * Counters of one ctx (X-macro: id, name, description). Plain integers
 * owned by the ctx's worker: another thread reads them only once the
 * worker stopped, or through a copy the worker publishes.
 */
#define PK_NET_FOREACH_COUNTER(_)                                                                  \
	_(RX_FRAMES, "rx_frames", "frames received")                                               \
	_(ETH_RUNT, "eth_runt", "dropped: shorter than an Ethernet (+VLAN) header")                \
	_(ETH_OTHER_MAC, "eth_other_mac", "dropped: unicast to another MAC")                       \
	_(ETH_MULTICAST, "eth_multicast", "dropped: multicast destination MAC")                    \
	_(ETH_OTHER_TYPE, "eth_other_type", "dropped: ethertype other than IPv4/ARP")              \
	_(VLAN_UNTAGGED, "vlan_untagged", "dropped: untagged while a VLAN is configured")          \
	_(VLAN_OTHER, "vlan_other", "dropped: tagged with another VLAN id")                        \
	_(ARP_RX, "arp_rx", "ARP packets received")                                                \
	_(ARP_BAD, "arp_bad", "dropped: malformed ARP (hardware/protocol type, lengths, op)")      \
	_(ARP_NOT_FOR_US, "arp_not_for_us", "ARP requests for other addresses (ignored)")          \
	_(ARP_REPLIED, "arp_replied", "ARP requests for our addresses answered")                   \
	_(ARP_LEARNT, "arp_learnt", "next hop MACs learnt or confirmed")                           \
	_(ARP_REQUEST_TX, "arp_request_tx", "ARP requests sent (resolution and refresh)")          \
	_(ARP_QUEUE_OVERFLOW, "arp_queue_overflow", "dropped: next hop unresolved, its queue full") \
	_(ARP_QUEUE_TIMEOUT, "arp_queue_timeout", "dropped: frames whose next hop never answered") \
	_(ARP_FAILED, "arp_failed", "resolutions given up after the last retry")                   \
	_(ARP_EXPIRED, "arp_expired", "stale entries removed")                                     \
	_(ARP_TABLE_FULL, "arp_table_full", "dropped: no ARP entry free for a new next hop")       \
	_(ARP_FLUSHED, "arp_flushed", "resolved entries forgotten (the port's link went down)")    \
	_(ARP_LEARNT_LOST, "arp_learnt_lost", "mappings learnt but not taken for sharing (log full)") \
	_(IP_RX, "ip_rx", "IPv4 packets received")                                                 \
	_(IP_BAD_VERSION, "ip_bad_version", "dropped: IP version not 4")                           \
	_(IP_BAD_IHL, "ip_bad_ihl", "dropped: header length below 20 or past the frame")           \
	_(IP_BAD_LEN, "ip_bad_len", "dropped: total length inconsistent with the frame")           \
	_(IP_BAD_CKSUM, "ip_bad_cksum", "dropped: header checksum wrong (offload or software)")    \
	_(IP_TTL_ZERO, "ip_ttl_zero", "dropped: TTL 0")                                            \
	_(IP_BAD_SRC, "ip_bad_src", "dropped: broadcast/multicast/zero source")                    \
	_(IP_NOT_FOR_US, "ip_not_for_us", "dropped: destination not ours nor broadcast")           \
	_(IP_TCP, "ip_tcp", "dropped: TCP (not served on this backend yet)")                       \
	_(IP_OTHER_PROTO, "ip_other_proto", "dropped: IP protocol other than UDP/ICMP/TCP")        \
	_(FRAG_RX, "frag_rx", "IPv4 fragments received")                                           \
	_(FRAG_DUP, "frag_dup", "dropped: duplicate fragments")                                    \
	_(FRAG_REASSEMBLED, "frag_reassembled", "datagrams reassembled")                           \
	_(FRAG_TIMEOUT, "frag_timeout", "fragments freed because their datagram timed out")        \
	_(FRAG_ERROR, "frag_error", "fragments the reassembler gave up (overlap, >8, table full)") \
	_(FRAG_TOO_BIG, "frag_too_big", "dropped: reassembled datagram larger than the buffer")    \
	_(ICMP_ECHO_REPLIED, "icmp_echo_replied", "ICMP echo requests answered")                   \
	_(ICMP_BAD, "icmp_bad", "dropped: short ICMP or bad checksum")                             \
	_(ICMP_OTHER, "icmp_other", "dropped: ICMP other than echo request")                       \
	_(UDP_RX, "udp_rx", "UDP datagrams delivered")                                             \
	_(UDP_BAD_LEN, "udp_bad_len", "dropped: UDP length inconsistent with IP")                  \
	_(UDP_BAD_CKSUM, "udp_bad_cksum", "dropped: UDP checksum wrong")                           \
	_(UDP_NO_PORT, "udp_no_port", "dropped: UDP to a port we do not serve")                    \
	_(UDP_TX, "udp_tx", "UDP datagrams sent (or queued for ARP)")                              \
	_(TX_FRAGMENTS, "tx_fragments", "IPv4 fragments built for large datagrams")                \
	_(TX_NO_MBUF, "tx_no_mbuf", "dropped: mempool empty, or no room in front of a frame")      \
	_(TX_NO_ROUTE, "tx_no_route", "dropped: off-link destination, no route and no gateway")              \
	_(TX_BAD, "tx_bad", "dropped: not IPv4, too large or no source address")                   \
	_(TX_FULL, "tx_full", "dropped: TX staging full (backend did not drain)")

enum pk_net_counter {
#define PK_NET_CTR_ENUM(id, name, desc) PK_NET_CTR_##id,
	PK_NET_FOREACH_COUNTER(PK_NET_CTR_ENUM)
#undef PK_NET_CTR_ENUM
	PK_NET_CTR_COUNT
};

/* Name and description of a counter. Any thread. */
const char *pk_net_counter_name(enum pk_net_counter c);
const char *pk_net_counter_desc(enum pk_net_counter c);

struct pk_net_ctx;

/*
 * A ctx for one worker, frames from pool (data room must hold an MTU-sized
 * frame; a smaller room lowers the MTU used). Memory from rte_zmalloc on
 * conf->socket_id. NULL with a reason in err. Control thread, after EAL init.
 */
struct pk_net_ctx *pk_net_ctx_create(const struct pk_net_conf *conf, struct rte_mempool *pool,
				     char *err, size_t errlen);
/* Frees every frame it holds (queued, staged, half reassembled). Control
 * thread, the worker stopped. NULL is fine. */
void pk_net_ctx_destroy(struct pk_net_ctx *ctx);

/* The counters, by id, into out; one of them. Any thread, while the
 * worker runs too (include/pickup/ctr.h). */
void pk_net_counters(const struct pk_net_ctx *ctx, uint64_t out[PK_NET_CTR_COUNT]);
uint64_t pk_net_counter(const struct pk_net_ctx *ctx, enum pk_net_counter c);

/* Frames the ctx keeps from its pool for the next pk_net_udp_frame calls
 * (taken 32 at a time, in bulk; given back by pk_net_ctx_destroy): what a
 * leak check of the pool allows for while the ctx lives. Worker (or anyone
 * once it stopped). */
unsigned pk_net_frames_held(const struct pk_net_ctx *ctx);

/* What pk_net_rx did with a frame. */
enum pk_net_rx_result {
	PK_NET_RX_UDP,	    /* a UDP datagram for us: *out is filled */
	PK_NET_RX_REPLY,    /* turned into a reply (ARP, ICMP echo), staged for TX */
	PK_NET_RX_CONSUMED, /* kept or used (a fragment waiting, an ARP reply learnt) */
	PK_NET_RX_DROP,	    /* freed; the reason is counted */
};

/*
 * A received UDP datagram. The caller sets buf/buf_cap (where a datagram
 * that arrived in several fragments is copied to be contiguous: for the
 * backend, its message buffer of PK_IO_MSG_MAX); pk_net_rx fills the rest.
 * payload points into the frame (one segment: no copy) or into buf.
 * mbuf is what holds payload (NULL when it was copied and already freed):
 * the caller frees it (rte_pktmbuf_free) once done with payload.
 */
struct pk_net_udp {
	uint8_t *buf;	  /* in */
	uint32_t buf_cap; /* in */
	uint32_t len;	  /* payload bytes */
	const uint8_t *payload;
	struct rte_mbuf *mbuf;
	/* The addresses as plain values (IPv4 network order, ports host
	 * order), not as struct pk_addr: the caller builds its own (the
	 * backend, in its message), and two pk_addr written here only to be
	 * read back field by field would cost ~20 instructions a datagram
	 * (and a store-forwarding stall when read whole). */
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
};

/*
 * Process one received frame; takes ownership of m in every case. Replies
 * and frames released by ARP go to the TX staging. out must not be NULL.
 * Worker of the ctx.
 */
enum pk_net_rx_result pk_net_rx(struct pk_net_ctx *ctx, struct rte_mbuf *m, uint64_t now_tsc,
				struct pk_net_udp *out);

/*
 * Send a UDP datagram of len bytes (<= PK_NET_UDP_MAX) from src (family 0
 * or address 0: our first address; port required) to dst (AF_INET). Builds
 * Ethernet/VLAN/IPv4/UDP frames (several IPv4 fragments when larger than
 * the MTU; DF clear), with the UDP checksum. When the next hop's MAC is
 * known they are staged for TX; otherwise they wait in the next hop's ARP
 * queue and a request goes out.
 * Returns the number of frames staged (0: queued for ARP) or a negative
 * errno, counted: -EAFNOSUPPORT/-EMSGSIZE/-EINVAL (TX_BAD), -EHOSTUNREACH
 * (no route, or ARP table full), -ENOBUFS (mempool empty, ARP queue full,
 * staging full). Worker of the ctx.
 */
int pk_net_udp_tx(struct pk_net_ctx *ctx, const void *payload, uint32_t len,
		  const struct pk_addr *src, const struct pk_addr *dst, uint64_t now_tsc);

/*
 * Building a datagram straight into its frame (no copy): pk_net_udp_frame
 * takes an mbuf from the ctx's pool (through a stash refilled
 * PK_NET_STASH at a time, see pk_net_frames_held) and returns where the
 * payload goes in it (the Ethernet/VLAN, IPv4 and UDP headers are put in
 * front later, in the mbuf's headroom), with *cap the payload room of one unfragmented
 * frame (MTU - 28, at most the mbuf's tailroom). NULL (and *frame NULL)
 * when the pool is empty. The caller writes up to *cap bytes and either
 * sends them with pk_net_udp_tx_frame, which takes the frame whatever
 * happens (same rules, return values and counters as pk_net_udp_tx; a
 * len that does not fit one frame goes through pk_net_udp_tx's copy), or
 * frees the frame with rte_pktmbuf_free. The UDP checksum is summed over
 * the bytes in place (or left to the port: tx_udp_cksum_offload). Worker
 * of the ctx.
 */
char *pk_net_udp_frame(struct pk_net_ctx *ctx, struct rte_mbuf **frame, uint32_t *cap);
int pk_net_udp_tx_frame(struct pk_net_ctx *ctx, struct rte_mbuf *frame, uint32_t len,
			const struct pk_addr *src, const struct pk_addr *dst, uint64_t now_tsc);

/*
 * Timers and cleanup, once per loop: retransmit ARP requests, give up and
 * expire ARP entries, time out half-reassembled datagrams, free what the
 * reassembler discarded (its death row). Worker of the ctx.
 */
void pk_net_poll(struct pk_net_ctx *ctx, uint64_t now_tsc);

/*
 * Frames ready to send, oldest first. The backend passes them to
 * rte_eth_tx_burst and reports how many the port took with
 * pk_net_tx_done; the rest stay staged, in order. Worker of the ctx.
 */
unsigned pk_net_tx_pending(struct pk_net_ctx *ctx, struct rte_mbuf ***pkts);
void pk_net_tx_done(struct pk_net_ctx *ctx, unsigned n_sent);

/*
 * Stage a gratuitous ARP (a broadcast request for our own address, sender
 * = target = addrs[i]) for each of our addresses: the start-up announce.
 * Returns how many were staged, or -ENOBUFS. Worker of the ctx.
 */
int pk_net_garp(struct pk_net_ctx *ctx);

/*
 * Record that ip (network order) is at mac, as if a reply had come: for
 * the backend to share what another worker's ctx learnt (pk_net_arp_lookup
 * there). Releases frames queued for ip. Worker of the ctx.
 */
void pk_net_arp_learn(struct pk_net_ctx *ctx, uint32_t ip, const struct rte_ether_addr *mac,
		      uint64_t now_tsc);

/* A mapping learnt from an ARP packet received by this ctx. */
struct pk_net_arp_mapping {
	uint32_t ip; /* network order */
	struct rte_ether_addr mac;
	/* 1: this ctx took it in by the merge rule (a known sender, or one
	 * asking for us): others may add it (pk_net_arp_learn). 0: a reply
	 * to us from a sender this ctx does not know — maybe another queue
	 * asked: others only update an entry they have (pk_net_arp_update),
	 * so forged replies fill no cache. */
	uint8_t create;
	uint8_t pad_;
};

/*
 * Take (and forget) up to max mappings this ctx learnt or confirmed from
 * ARP packets it received since the last call, oldest first, for the
 * backend to pass on to the ctxs of its other queues (pk_net_arp_learn
 * there); only with conf.share_arp. Mappings given to pk_net_arp_learn are not logged, so sharing
 * never echoes. At most PK_NET_LEARNT_MAX wait; more are counted
 * (arp_learnt_lost) and dropped. Worker of the ctx.
 */
unsigned pk_net_arp_take_learnt(struct pk_net_ctx *ctx, struct pk_net_arp_mapping *out, unsigned max);

/*
 * Like pk_net_arp_learn, but only for an entry ctx already has (being
 * resolved, or known): a reply another ctx received to a request this one
 * sent. Returns whether there was one. Worker of the ctx.
 */
bool pk_net_arp_update(struct pk_net_ctx *ctx, uint32_t ip, const struct rte_ether_addr *mac,
		       uint64_t now_tsc);

/* ARP entry states (docs/net.md). */
enum pk_net_arp_state {
	PK_NET_ARP_FREE,
	PK_NET_ARP_INCOMPLETE, /* request sent, frames may wait */
	PK_NET_ARP_REACHABLE,  /* confirmed within arp_reachable_ms */
	PK_NET_ARP_STALE,      /* older: still used, being re-probed, removed after arp_stale_ms */
};

/* State of ip's entry (FREE when none), its MAC when known and the frames
 * waiting. For tests and the control plane's dump. Worker of the ctx. */
enum pk_net_arp_state pk_net_arp_lookup(const struct pk_net_ctx *ctx, uint32_t ip,
					struct rte_ether_addr *mac, unsigned *n_queued);

/* Forget every resolved neighbour (REACHABLE or STALE): the next datagram
 * to one asks for it again. Entries being resolved stay, with the frames
 * waiting for them. For a port whose link went down: what is behind it
 * may have changed (a switch, a router's failover), as Linux forgets a
 * device's neighbours when it loses its carrier. What was learnt for
 * sharing (pk_net_arp_take_learnt) and not taken yet is dropped too. How
 * many went (arp_flushed). Worker of the ctx. */
unsigned pk_net_arp_forget(struct pk_net_ctx *ctx);

/* Entries of a ctx's ARP cache at most. */
#define PK_NET_ARP_ENTRIES (PK_NET_ARP_BUCKETS * PK_NET_ARP_WAYS)

/* One entry of the ARP cache, as pk_net_arp_dump copies it. */
struct pk_net_neighbour {
	uint32_t ip;		   /* network order */
	struct rte_ether_addr mac; /* zero while INCOMPLETE */
	uint8_t state;		   /* enum pk_net_arp_state, not FREE */
	uint16_t queued;	   /* frames waiting for the MAC */
	uint64_t age_ms;	   /* since the last reply (the last request while INCOMPLETE) */
};

/* Every entry of the ARP cache in use, in the cache's order (up to max,
 * PK_NET_ARP_ENTRIES hold them all); how many. For the control plane's
 * view of the neighbours (the dpdk backend's pk_io_dpdk_neighbours).
 * Worker of the ctx. */
unsigned pk_net_arp_dump(const struct pk_net_ctx *ctx, uint64_t now, struct pk_net_neighbour *out,
			 unsigned max);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_NET_H */
