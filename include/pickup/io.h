/* SPDX-License-Identifier: MIT */
/*
 * Packet I/O: the interface between the SIP pipeline and whatever moves the
 * bytes. Two backends are meant to sit behind it, like Seastar's native and
 * POSIX stacks: `socket` (kernel UDP and TCP sockets, dataplane/io/socket.c,
 * runs anywhere without privileges) and `dpdk` (a poll-mode driver, later).
 * The worker code after receive is the same for both: it sees SIP messages
 * with their addresses, never sockets or mbufs.
 *
 * Model. A backend instance (struct pk_io) serves a fixed set of listeners
 * (address, transport, role) with n queues. Queue i belongs to worker i and
 * to no one else: only that worker calls the burst functions on it, so a
 * queue needs no lock. Per loop iteration a worker
 *     n = pk_io_rx_burst(q, msgs, PK_IO_BURST, now);   // up to 32 messages
 *     ... for each: m = pk_io_tx_alloc(q); write m->data; pk_io_tx_commit(q);
 *     pk_io_tx_flush(q);                               // one batch out
 * and, when rx_burst found nothing for a while, pk_io_wait(q, ms) (the socket
 * backend sleeps in epoll; a poll-mode backend returns at once).
 *
 * Messages. One struct pk_io_msg is one SIP message: a UDP datagram, or one
 * message framed out of a TCP stream (RFC 3261 §18.3, by Content-Length).
 * Received messages are valid until the next rx_burst on the same queue; the
 * worker must not keep pointers into them past that point. Buffers are
 * preallocated by the backend: nothing is allocated per message.
 *
 * TCP connections are owned by the queue that accepted them. A message
 * carries its connection id; a response committed with that id goes back
 * on the same connection (RFC 3261 §18.2.2). Sending on a connection of
 * another queue is not supported yet (counted as tcp_tx_no_conn).
 *
 * Threads: create/destroy/queue/bound are for the control thread, before
 * workers start or after they stopped. The burst, wait and stats functions
 * are for the queue's own worker. pk_io_wake may be called by any thread.
 */
#ifndef PICKUP_IO_H
#define PICKUP_IO_H

#include "pickup/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Messages per burst, in and out. */
#define PK_IO_BURST 32
/* Buffer of one message: the largest UDP payload (65507) fits, and so does
 * the largest SIP message the scanner accepts (PK_SIP_MAX_MSG). */
#define PK_IO_MSG_MAX 65536
#define PK_IO_MAX_LISTENERS 32
#define PK_IO_MAX_QUEUES 64
/* DPDK's mbuf headroom, RTE_PKTMBUF_HEADROOM: a DPDK build option, 128
 * unless changed (Debian's build), for the config loader, which includes
 * no DPDK header. dataplane/io/dpdk.c fails the build against a DPDK with
 * another, rather than --check passing data rooms that start-up refuses. */
#define PK_IO_DPDK_HEADROOM 128
/* The dpdk backend's smallest mbuf data room (io.dpdk.data_room): the
 * headroom, an Ethernet header with a VLAN tag and a 576-byte IPv4
 * packet, the least every host must take (RFC 791). */
#define PK_IO_DPDK_MIN_DATA_ROOM (PK_IO_DPDK_HEADROOM + 18 + 576)
/* Its default (io.dpdk.data_room: 0), DPDK's RTE_MBUF_DEFAULT_BUF_SIZE. */
#define PK_IO_DPDK_DEFAULT_DATA_ROOM (PK_IO_DPDK_HEADROOM + 2048)

/* Connection ids: index (bits 0-23), owning queue (24-31), generation
 * (32-63, never 0). 0 means "no connection" (UDP). */
#define PK_IO_CONN_NONE 0
#define PK_IO_CONN_INDEX(id) ((uint32_t)((id) & 0xffffffu))
#define PK_IO_CONN_QUEUE(id) ((unsigned)(((id) >> 24) & 0xffu))

struct pk_io_msg {
	char *data;	   /* the message bytes */
	uint32_t len;	   /* bytes in data */
	uint32_t cap;	   /* tx: room in data; rx: len */
	uint8_t transport; /* enum pk_transport */
	uint8_t listener;  /* rx: the listener it came in on; tx: the one to send from (UDP) */
	uint16_t flags;	   /* backend-private */
	uint32_t pad_;
	uint64_t conn;	   /* TCP connection id, PK_IO_CONN_NONE for UDP */
	/* Source and destination of THIS message: for a received message src
	 * is the peer and dst our address; for one to send, src is our address
	 * (family 0: the listener's own) and dst the peer. */
	struct pk_addr src, dst;
};

/* A listener: what to bind, and (after pk_io_*_create) what was bound. */
struct pk_io_listener {
	uint8_t role;	   /* enum pk_listen_role (engine_conf.h); carried, not interpreted */
	uint8_t transport; /* enum pk_transport */
	/* The link (a network port of the backend) the listener's address is
	 * on, filled in on return: 0 on a backend of one link (socket, dpdk
	 * on one port). What it sends leaves by that link (pk_io_route). */
	uint8_t link;
	/* The mask of the on-link prefix around the listener's IPv4 address
	 * (network order), filled in on return by a backend that decides
	 * on-link by the sending listener's address (dpdk: its port's
	 * prefix); 0 where the backend routes by other means (socket: the
	 * kernel's table). A port whose addresses are in several subnets
	 * sends on-link only from the listener of the destination's subnet:
	 * the proxy prefers it (sip-behaviour.md §2). */
	uint32_t onlink_mask;
	struct pk_addr addr; /* port 0 on input: the kernel's choice, filled in on return */
};

struct pk_io_config {
	unsigned n_queues;    /* one per worker, 1..PK_IO_MAX_QUEUES */
	unsigned n_listeners; /* 1..PK_IO_MAX_LISTENERS */
	struct pk_io_listener listeners[PK_IO_MAX_LISTENERS];
	uint32_t tcp_max_conns;	     /* all queues together (split evenly, at least 1 each) */
	uint32_t tcp_idle_timeout_s; /* a connection without traffic is closed after this */
	uint32_t socket_buffer;	     /* SO_RCVBUF/SO_SNDBUF bytes, 0: kernel default */
};

/* Counters of one queue (X-macro: id, name). Written by the queue's worker
 * only; any thread reads them (pk_io_stats) while it runs too
 * (include/pickup/ctr.h). */
#define PK_IO_FOREACH_COUNTER(_)                                                          \
	_(UDP_RX, "udp_rx")                     /* datagrams received */                  \
	_(UDP_TX, "udp_tx")                     /* datagrams sent */                      \
	_(UDP_TRUNCATED, "udp_truncated")       /* larger than PK_IO_MSG_MAX: dropped */  \
	_(UDP_TX_ERROR, "udp_tx_error")         /* the kernel refused a datagram */       \
	_(TCP_ACCEPTED, "tcp_accepted")                                                   \
	_(TCP_REFUSED, "tcp_refused")           /* connection table full: closed at once */ \
	_(TCP_RX, "tcp_rx")                     /* messages framed from streams */        \
	_(TCP_TX, "tcp_tx")                     /* messages written (or buffered) */      \
	_(TCP_KEEPALIVE, "tcp_keepalive")       /* CRLFCRLF pings answered (RFC 5626) */  \
	_(TCP_CLOSED_PEER, "tcp_closed_peer")   /* the peer closed */                     \
	_(TCP_CLOSED_IDLE, "tcp_closed_idle")   /* idle timeout */                        \
	_(TCP_CLOSED_ERROR, "tcp_closed_error") /* read/write error */                    \
	_(TCP_FRAMING, "tcp_framing")           /* broken stream (no/bad Content-Length, too big): closed */ \
	_(TCP_TX_OVERFLOW, "tcp_tx_overflow")   /* peer does not read: closed */          \
	_(TCP_TX_NO_CONN, "tcp_tx_no_conn")     /* the connection was gone */             \
	_(WAITS, "waits")                       /* pk_io_wait calls that slept */

enum pk_io_counter {
#define PK_IO_CTR_ENUM(id, name) PK_IO_CTR_##id,
	PK_IO_FOREACH_COUNTER(PK_IO_CTR_ENUM)
#undef PK_IO_CTR_ENUM
	PK_IO_CTR_COUNT
};

const char *pk_io_counter_name(enum pk_io_counter c);

struct pk_io;
struct pk_io_queue;

/* What a backend implements; the inline wrappers below call through it
 * (one indirect call per burst, not per message). */
struct pk_io_ops {
	const char *name;
	struct pk_io_queue *(*queue)(struct pk_io *io, unsigned qid);
	const struct pk_io_listener *(*listener)(const struct pk_io *io, unsigned i);
	void (*destroy)(struct pk_io *io);
	unsigned (*rx_burst)(struct pk_io_queue *q, struct pk_io_msg **msgs, unsigned n, uint64_t now_ns);
	struct pk_io_msg *(*tx_alloc)(struct pk_io_queue *q);
	struct pk_io_msg *(*tx_grow)(struct pk_io_queue *q); /* NULL: buffers are all PK_IO_MSG_MAX */
	void (*tx_commit)(struct pk_io_queue *q);
	unsigned (*tx_flush)(struct pk_io_queue *q);
	void (*wait)(struct pk_io_queue *q, unsigned timeout_ms);
	void (*wake)(struct pk_io_queue *q);
	void (*stats)(const struct pk_io_queue *q, uint64_t out[PK_IO_CTR_COUNT]);
	/* Optional (NULL: the process allocator serves): memory for queue
	 * qid's worker on the NUMA node of the core that will run it. */
	void *(*local_alloc)(struct pk_io *io, unsigned qid, size_t size);
	void (*local_free)(struct pk_io *io, void *p);
	/* Required when n_links > 1: pk_io_route. */
	int (*route)(const struct pk_io *io, const struct pk_addr *dst);
};

/* Every backend's instance and queue start with these. */
struct pk_io {
	const struct pk_io_ops *ops;
	unsigned n_queues, n_listeners;
	/* Network links (ports) the backend sends on: 0 or 1 for one (every
	 * listener reaches every destination the host's routing does), more
	 * for a dpdk backend on several ports (a listener reaches what its
	 * link's routes reach: pk_io_route). */
	unsigned n_links;
};

struct pk_io_queue {
	const struct pk_io_ops *ops;
	unsigned qid;
};

/*
 * The socket backend: per queue, one UDP socket per UDP listener and one
 * listening socket per TCP listener, all bound with SO_REUSEPORT so that
 * the kernel spreads peers over the queues; recvmmsg/sendmmsg bursts,
 * epoll for readiness. cfg->listeners[i].addr.port is filled in for port 0.
 * NULL on failure with a reason in err ("bind 127.0.0.1:5060/udp: Address
 * already in use"). Control thread.
 */
struct pk_io *pk_io_socket_create(struct pk_io_config *cfg, char *err, size_t errlen);

/* Control thread, workers stopped: closes every socket, frees every buffer. */
static inline void pk_io_destroy(struct pk_io *io)
{
	if (io != NULL)
		io->ops->destroy(io);
}

/* Queue qid (< n_queues), for worker qid. Control thread. */
static inline struct pk_io_queue *pk_io_queue_get(struct pk_io *io, unsigned qid)
{
	return io->ops->queue(io, qid);
}

/* Listener i as bound (the port the kernel chose for port 0). Any thread
 * (immutable after create). */
static inline const struct pk_io_listener *pk_io_listener_get(const struct pk_io *io, unsigned i)
{
	return io->ops->listener(io, i);
}

/* The link a datagram to dst leaves by: the listener to send it from must
 * be on it (pk_io_listener.link). -1 when no link reaches dst. 0 on a
 * backend of one link. Any thread (immutable after create). */
static inline int pk_io_route(const struct pk_io *io, const struct pk_addr *dst)
{
	return io->n_links > 1 ? io->ops->route(io, dst) : 0;
}

/* Receive up to n (<= PK_IO_BURST) messages into msgs; returns how many.
 * Does the queue's housekeeping too (accepting TCP connections, closing
 * idle ones, by now_ns). Worker of the queue. */
static inline unsigned pk_io_rx_burst(struct pk_io_queue *q, struct pk_io_msg **msgs, unsigned n,
				      uint64_t now_ns)
{
	return q->ops->rx_burst(q, msgs, n, now_ns);
}

/* A buffer for one outgoing message (data, cap; the other fields zeroed).
 * Never NULL: when PK_IO_BURST messages are already committed, they are
 * flushed first. Calling it again before pk_io_tx_commit returns the same
 * buffer (an abandoned message costs nothing). cap may be less than
 * PK_IO_MSG_MAX: the dpdk backend hands out the payload room of one frame
 * inside the frame's own mbuf, so that the message is written where it is
 * sent from (no copy); a writer whose message does not fit asks for
 * pk_io_tx_grow. Worker of the queue. */
static inline struct pk_io_msg *pk_io_tx_alloc(struct pk_io_queue *q)
{
	return q->ops->tx_alloc(q);
}

/* The message being written (the last pk_io_tx_alloc, not committed)
 * again, with a buffer of PK_IO_MSG_MAX bytes (what was written is lost,
 * the other fields are zeroed): for a message that did not fit its cap.
 * NULL when there is no larger buffer (cap was already PK_IO_MSG_MAX).
 * Worker of the queue. */
static inline struct pk_io_msg *pk_io_tx_grow(struct pk_io_queue *q)
{
	return q->ops->tx_grow != NULL ? q->ops->tx_grow(q) : NULL;
}

/* Queue the message last returned by pk_io_tx_alloc (len, transport,
 * listener, dst, and conn for TCP must be set). Worker of the queue. */
static inline void pk_io_tx_commit(struct pk_io_queue *q)
{
	q->ops->tx_commit(q);
}

/* Send everything committed; returns how many messages were handed to the
 * network (the rest are counted as errors). Worker of the queue. */
static inline unsigned pk_io_tx_flush(struct pk_io_queue *q)
{
	return q->ops->tx_flush(q);
}

/* Sleep until something arrives, pk_io_wake is called, or timeout_ms
 * passes. A poll-mode backend returns at once. The caller goes offline for
 * RCU before calling it. Worker of the queue. */
static inline void pk_io_wait(struct pk_io_queue *q, unsigned timeout_ms)
{
	q->ops->wait(q, timeout_ms);
}

/* Make the queue's worker return from pk_io_wait (shutdown). Any thread. */
static inline void pk_io_wake(struct pk_io_queue *q)
{
	q->ops->wake(q);
}

/* Copy the queue's counters. Any thread. */
static inline void pk_io_stats(const struct pk_io_queue *q, uint64_t out[PK_IO_CTR_COUNT])
{
	q->ops->stats(q, out);
}

/* size bytes for the worker of queue qid: zeroed, 64-byte aligned, on the
 * NUMA node of the core that runs that worker (dpdk: its lcore's node; the
 * port's when the EAL has no lcore for it). NULL when the backend has no
 * such memory to give (the socket backend, whose threads are not pinned,
 * or the EAL's memory is short): the caller falls back to the process
 * allocator. Give it back with pk_io_local_free, before pk_io_destroy.
 * Control thread. */
static inline void *pk_io_local_alloc(struct pk_io *io, unsigned qid, size_t size)
{
	return io->ops->local_alloc != NULL ? io->ops->local_alloc(io, qid, size) : NULL;
}

static inline void pk_io_local_free(struct pk_io *io, void *p)
{
	if (p != NULL)
		io->ops->local_free(io, p);
}

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_IO_H */
