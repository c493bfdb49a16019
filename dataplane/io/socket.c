/* SPDX-License-Identifier: MIT */
/*
 * The `socket` packet I/O backend: kernel UDP and TCP sockets behind the
 * burst interface of include/pickup/io.h, so that pickupd runs anywhere,
 * unprivileged, with the same worker code as the DPDK backend.
 *
 * Each queue (one per worker) has its own sockets: for every UDP listener a
 * UDP socket, for every TCP listener a listening socket, all bound with
 * SO_REUSEPORT to the listener's address, so the kernel spreads peers over
 * the workers by their address hash and no socket is shared between
 * threads. Readiness comes from one epoll set per queue (level-triggered);
 * datagrams move in batches with recvmmsg/sendmmsg, so a busy queue makes
 * about one syscall per burst per socket rather than one per datagram.
 *
 * SIP over TCP (RFC 3261 §18): a connection belongs to the queue that
 * accepted it. Its bytes are read into a per-connection buffer and framed
 * by Content-Length (pk_sip_frame); each framed message is handed to the
 * worker in place, without a copy. Responses go back on the connection the
 * request came in on (the connection id travels with the message); what the
 * kernel cannot take at once waits in a per-connection send buffer, and a
 * peer that does not read is disconnected when that buffer is full. The
 * number of connections, both buffers, and the idle time are bounded.
 *
 * Memory is reserved at creation: the burst buffers are touched then, the
 * connection buffers are one mapping whose pages the kernel provides on a
 * connection's first use. Nothing is allocated per message or connection.
 *
 * Lifetimes inside a burst: messages handed out by rx_burst point into the
 * burst buffers or into connection buffers, and stay valid until the next
 * rx_burst. So a connection that delivered messages in this burst is not
 * read again, compacted or reused until then (`in_burst`), and one the peer
 * closed is only released at the start of the next burst.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pickup/ctr.h"
#include "pickup/io.h"
#include "pickup/sip.h"

#define SK_MAX_EVENTS 64
#define SK_TCP_BUF 65536u	/* per direction, per connection */
#define SK_ACCEPT_PER_EVENT 16
#define SK_TCP_BACKLOG 1024
#define SK_IDLE_SCAN_NS 1000000000ull
#define SK_NONE UINT32_MAX

/* epoll data: kind in the high half, index in the low half. */
enum sk_kind {
	SK_EV_UDP = 1,
	SK_EV_LISTEN,
	SK_EV_CONN,
	SK_EV_WAKE,
};
#define SK_EV(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

union sk_ctl {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

struct sk_conn {
	int fd;		 /* -1: free */
	uint32_t gen;	 /* bumped on close: stale ids do not match */
	uint32_t rx_off; /* rx[rx_off, rx_len) not yet handed out */
	uint32_t rx_len;
	uint32_t tx_off; /* tx[tx_off, tx_len) waiting for the kernel */
	uint32_t tx_len;
	uint32_t events; /* current epoll interest */
	uint32_t next_free;
	uint64_t last_ns; /* last byte in or out */
	uint8_t listener;
	bool closing;  /* no more reading: release once drained */
	bool pending;  /* complete messages left in rx (burst was full) */
	bool in_burst; /* handed out messages in the current burst */
	bool aborted;  /* send buffer dropped (error, overflow, idle): write nothing more */
	struct pk_addr peer, local;
	char *rx, *tx;
};

struct sk_io;

struct sk_queue {
	struct pk_io_queue pub; /* first: the interface casts to us */
	struct sk_io *io;
	int epfd, wakefd;
	/* A descriptor held in reserve (/dev/null): with the process out of
	 * descriptors, it is given up to accept the waiting connection and
	 * close it, instead of leaving it queued on a listener that epoll
	 * then reports ready for ever (a worker spinning). -1: none now. */
	int spare_fd;
	int udp_fd[PK_IO_MAX_LISTENERS]; /* -1 if not a UDP listener */
	int tcp_fd[PK_IO_MAX_LISTENERS]; /* -1 if not a TCP listener */
	uint64_t now_ns;

	/* events fetched by wait() for the next rx_burst */
	int nev, iev;
	struct epoll_event ev[SK_MAX_EVENTS];

	/* receive side: descriptor i uses buffer i for a datagram */
	unsigned rx_used; /* descriptors used in this burst */
	char *rx_buf;	  /* PK_IO_BURST * PK_IO_MSG_MAX */
	struct pk_io_msg rx_msg[PK_IO_BURST];
	struct mmsghdr rx_mm[PK_IO_BURST];
	struct iovec rx_iov[PK_IO_BURST];
	struct sockaddr_storage rx_name[PK_IO_BURST];
	union sk_ctl rx_ctl[PK_IO_BURST];

	/* send side */
	unsigned tx_n; /* committed */
	char *tx_buf;  /* PK_IO_BURST * PK_IO_MSG_MAX */
	struct pk_io_msg tx_msg[PK_IO_BURST];
	struct mmsghdr tx_mm[PK_IO_BURST];
	struct iovec tx_iov[PK_IO_BURST];
	struct sockaddr_storage tx_name[PK_IO_BURST];
	union sk_ctl tx_ctl[PK_IO_BURST];

	/* TCP connections owned by this queue */
	struct sk_conn *conns;
	uint32_t nconns, free_head, n_open;
	uint32_t npending, ntouched;
	uint32_t *pending; /* nconns: connections with messages left */
	uint32_t touched[PK_IO_BURST]; /* connections with in_burst set */
	char *conn_mem;
	size_t conn_mem_len;
	uint64_t idle_ns, next_scan_ns;

	_Atomic uint64_t ctr[PK_IO_CTR_COUNT]; /* pk_ctr_inc by the worker, read by any thread */
} __attribute__((aligned(64)));

struct sk_io {
	struct pk_io pub; /* first */
	struct pk_io_listener listeners[PK_IO_MAX_LISTENERS];
	bool wildcard[PK_IO_MAX_LISTENERS]; /* bound to 0.0.0.0/:: : use pktinfo */
	struct sk_queue *queues[PK_IO_MAX_QUEUES];
};

static const char *const sk_ctr_names[] = {
#define SK_CTR_NAME(id, name) name,
	PK_IO_FOREACH_COUNTER(SK_CTR_NAME)
#undef SK_CTR_NAME
};

const char *pk_io_counter_name(enum pk_io_counter c)
{
	return (unsigned)c < PK_IO_CTR_COUNT ? sk_ctr_names[c] : "?";
}

static inline struct sk_queue *sk_q(struct pk_io_queue *q)
{
	return (struct sk_queue *)q;
}

/* ---- TCP connections ---- */

static uint64_t sk_conn_id(const struct sk_queue *q, uint32_t ci)
{
	return ((uint64_t)q->conns[ci].gen << 32) | ((uint64_t)q->pub.qid << 24) | ci;
}

static void sk_conn_release(struct sk_queue *q, struct sk_conn *c)
{
	uint32_t ci = (uint32_t)(c - q->conns);

	close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->gen = c->gen + 1 ? c->gen + 1 : 1;
	c->closing = c->pending = c->in_burst = c->aborted = false;
	c->rx_off = c->rx_len = c->tx_off = c->tx_len = 0;
	c->next_free = q->free_head;
	q->free_head = ci;
	q->n_open--;
}

static void sk_conn_interest(struct sk_queue *q, struct sk_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = SK_EV(SK_EV_CONN, c - q->conns) };

	if (c->events != events && epoll_ctl(q->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

/* Stop reading; the connection goes once its messages are handled and its
 * send buffer is empty. */
static void sk_conn_close_soon(struct sk_queue *q, struct sk_conn *c, enum pk_io_counter why)
{
	if (!c->closing)
		pk_ctr_inc(&q->ctr[why]);
	c->closing = true;
	c->pending = false;
	c->rx_off = c->rx_len;
	sk_conn_interest(q, c, c->tx_len > c->tx_off ? EPOLLOUT : 0);
}

static void sk_conn_maybe_release(struct sk_queue *q, struct sk_conn *c)
{
	if (c->fd >= 0 && c->closing && !c->in_burst && c->tx_len == c->tx_off)
		sk_conn_release(q, c);
}

/* Close without sending what waits: the stream cannot go on (an error, a
 * peer that does not read). Nothing more is written on it either, not even
 * an answer to a message of this burst: its bytes would follow a gap. */
static void sk_conn_abort(struct sk_queue *q, struct sk_conn *c, enum pk_io_counter why)
{
	c->tx_off = c->tx_len = 0;
	c->aborted = true;
	sk_conn_close_soon(q, c, why);
	sk_conn_maybe_release(q, c);
}

/* Write what waits in the send buffer. */
static void sk_conn_flush(struct sk_queue *q, struct sk_conn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t r = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			sk_conn_abort(q, c, PK_IO_CTR_TCP_CLOSED_ERROR);
			return;
		}
		c->tx_off += (uint32_t)r;
		c->last_ns = q->now_ns;
	}
	c->tx_off = c->tx_len = 0;
	sk_conn_interest(q, c, c->closing ? 0 : EPOLLIN | EPOLLRDHUP);
	sk_conn_maybe_release(q, c);
}

static void sk_accept(struct sk_queue *q, unsigned li)
{
	if (unlikely(q->spare_fd < 0)) /* given up and not taken back: another thread was quicker */
		q->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int k = 0; k < SK_ACCEPT_PER_EVENT; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct sk_conn *c;
		uint32_t ci;
		int one = 1;
		int fd = accept4(q->tcp_fd[li], (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && q->spare_fd >= 0) {
				/* out of descriptors: the reserve takes the
				 * connection off the queue, to close it at once
				 * (the peer sees it refused, as when the table is
				 * full), then is taken back */
				close(q->spare_fd);
				fd = accept4(q->tcp_fd[li], NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				q->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					return;
				pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_REFUSED]);
				continue;
			}
			if (errno == EMFILE || errno == ENFILE)
				pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_REFUSED]);
			return;
		}
		if (q->free_head == SK_NONE) {
			close(fd);
			pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_REFUSED]);
			continue;
		}
		ci = q->free_head;
		c = &q->conns[ci];
		if (pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &c->peer) != 0) {
			close(fd);
			continue;
		}
		q->free_head = c->next_free;
		q->n_open++;
		c->fd = fd;
		c->listener = (uint8_t)li;
		c->last_ns = q->now_ns;
		c->events = EPOLLIN | EPOLLRDHUP;
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &c->local) != 0)
			c->local = q->io->listeners[li].addr;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = { .events = c->events, .data.u64 = SK_EV(SK_EV_CONN, ci) };

		if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			sk_conn_release(q, c);
			pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_REFUSED]);
			continue;
		}
		pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_ACCEPTED]);
	}
}

/* Hand out the complete messages in c's buffer while there is room. */
static unsigned sk_conn_frame(struct sk_queue *q, struct sk_conn *c, struct pk_io_msg **msgs,
			      unsigned got, unsigned n)
{
	uint32_t ci = (uint32_t)(c - q->conns);

	while (c->rx_off < c->rx_len) {
		size_t skip;
		long f;

		if (got == n || q->rx_used == PK_IO_BURST) {
			if (!c->pending) {
				c->pending = true;
				q->pending[q->npending++] = ci;
			}
			return got;
		}
		f = pk_sip_frame(c->rx + c->rx_off, c->rx_len - c->rx_off, &skip);
		if (f < 0) {
			sk_conn_close_soon(q, c, PK_IO_CTR_TCP_FRAMING);
			break;
		}
		if (f == 0)
			break; /* the rest of the message is still on its way */
		if (skip > 0) {
			/* RFC 5626 §3.5.1: answer a CRLFCRLF ping with one CRLF. A
			 * failed pong is not worth more than the next ping. */
			if (skip >= 4 && c->tx_len == c->tx_off &&
			    send(c->fd, "\r\n", 2, MSG_DONTWAIT | MSG_NOSIGNAL) == 2)
				pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_KEEPALIVE]);
			c->rx_off += (uint32_t)skip;
			continue;
		}
		struct pk_io_msg *m = &q->rx_msg[q->rx_used++];

		m->data = c->rx + c->rx_off;
		m->len = m->cap = (uint32_t)f;
		m->transport = PK_TRANSPORT_TCP;
		m->listener = c->listener;
		m->flags = 0;
		m->conn = sk_conn_id(q, ci);
		m->src = c->peer;
		m->dst = c->local;
		msgs[got++] = m;
		c->rx_off += (uint32_t)f;
		pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_RX]);
		if (!c->in_burst) {
			c->in_burst = true;
			q->touched[q->ntouched++] = ci; /* at most one per descriptor */
		}
	}
	c->pending = false;
	return got;
}

static unsigned sk_conn_event(struct sk_queue *q, uint32_t ci, uint32_t events, struct pk_io_msg **msgs,
			      unsigned got, unsigned n)
{
	struct sk_conn *c;

	if (ci >= q->nconns || q->conns[ci].fd < 0)
		return got; /* closed since the event was fetched */
	c = &q->conns[ci];
	if (events & EPOLLOUT)
		sk_conn_flush(q, c);
	if (c->fd < 0 || c->closing || c->pending || c->in_burst)
		return got; /* messages handed out still point into rx: read later */
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return got;
	if (c->rx_off > 0) {
		memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
		c->rx_len -= c->rx_off;
		c->rx_off = 0;
	}
	ssize_t r = read(c->fd, c->rx + c->rx_len, SK_TCP_BUF - c->rx_len);

	if (r > 0) {
		c->rx_len += (uint32_t)r;
		c->last_ns = q->now_ns;
		got = sk_conn_frame(q, c, msgs, got, n);
	} else if (r == 0) {
		sk_conn_close_soon(q, c, PK_IO_CTR_TCP_CLOSED_PEER);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		sk_conn_abort(q, c, PK_IO_CTR_TCP_CLOSED_ERROR);
	}
	sk_conn_maybe_release(q, c);
	return got;
}

static void sk_idle_scan(struct sk_queue *q)
{
	for (uint32_t i = 0; i < q->nconns; i++) {
		struct sk_conn *c = &q->conns[i];

		if (c->fd < 0 || c->in_burst || q->now_ns - c->last_ns < q->idle_ns)
			continue;
		sk_conn_abort(q, c, PK_IO_CTR_TCP_CLOSED_IDLE); /* a peer silent this long does not read */
	}
	q->next_scan_ns = q->now_ns + SK_IDLE_SCAN_NS;
}

/* ---- UDP ---- */

static void sk_pktinfo_dst(struct msghdr *h, struct pk_addr *dst)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm != NULL; cm = CMSG_NXTHDR(h, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			dst->family = AF_INET;
			memset(dst->ip, 0, sizeof(dst->ip));
			memcpy(dst->ip, &pi.ipi_addr, 4);
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			dst->family = AF_INET6;
			memcpy(dst->ip, &pi.ipi6_addr, 16);
			dst->scope = IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr) ? (uint32_t)pi.ipi6_ifindex : 0;
		}
	}
}

static unsigned sk_udp_recv(struct sk_queue *q, unsigned li, struct pk_io_msg **msgs, unsigned got,
			    unsigned n)
{
	const struct sk_io *io = q->io;
	unsigned first = q->rx_used;
	unsigned room = n - got < PK_IO_BURST - first ? n - got : PK_IO_BURST - first;
	bool pktinfo = io->wildcard[li];
	int k;

	if (room == 0)
		return got;
	for (unsigned i = first; i < first + room; i++) {
		struct msghdr *h = &q->rx_mm[i].msg_hdr;

		q->rx_iov[i].iov_base = q->rx_buf + (size_t)i * PK_IO_MSG_MAX;
		q->rx_iov[i].iov_len = PK_IO_MSG_MAX;
		h->msg_name = &q->rx_name[i];
		h->msg_namelen = sizeof(q->rx_name[i]);
		h->msg_iov = &q->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = pktinfo ? q->rx_ctl[i].buf : NULL;
		h->msg_controllen = pktinfo ? sizeof(q->rx_ctl[i].buf) : 0;
		h->msg_flags = 0;
	}
	do
		k = recvmmsg(q->udp_fd[li], &q->rx_mm[first], room, MSG_DONTWAIT, NULL);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return got;
	q->rx_used += (unsigned)k;
	for (unsigned i = first; i < first + (unsigned)k; i++) {
		struct msghdr *h = &q->rx_mm[i].msg_hdr;
		struct pk_io_msg *m = &q->rx_msg[i];

		pk_ctr_inc(&q->ctr[PK_IO_CTR_UDP_RX]);
		if (h->msg_flags & MSG_TRUNC) {
			pk_ctr_inc(&q->ctr[PK_IO_CTR_UDP_TRUNCATED]);
			continue;
		}
		if (pk_addr_from_sockaddr((struct sockaddr *)&q->rx_name[i], h->msg_namelen, &m->src) != 0)
			continue;
		m->data = q->rx_iov[i].iov_base;
		m->len = m->cap = q->rx_mm[i].msg_len;
		m->transport = PK_TRANSPORT_UDP;
		m->listener = (uint8_t)li;
		m->flags = 0;
		m->conn = PK_IO_CONN_NONE;
		m->dst = io->listeners[li].addr;
		if (pktinfo)
			sk_pktinfo_dst(h, &m->dst);
		msgs[got++] = m;
	}
	return got;
}

/* sendmmsg a run of datagrams that leave from the same listener. */
static unsigned sk_udp_send_run(struct sk_queue *q, unsigned li, unsigned first, unsigned count)
{
	const struct sk_io *io = q->io;
	unsigned sent = 0, ok = 0;

	for (unsigned i = first; i < first + count; i++) {
		struct pk_io_msg *m = &q->tx_msg[i];
		struct msghdr *h = &q->tx_mm[i].msg_hdr;

		q->tx_iov[i].iov_base = m->data;
		q->tx_iov[i].iov_len = m->len;
		h->msg_name = &q->tx_name[i];
		h->msg_namelen = pk_addr_to_sockaddr(&m->dst, &q->tx_name[i]);
		h->msg_iov = &q->tx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = NULL;
		h->msg_controllen = 0;
		h->msg_flags = 0;
		/* A socket bound to every address sends from the address the
		 * request came to, not from whatever the routing table picks. */
		if (io->wildcard[li] && m->src.family == io->listeners[li].addr.family) {
			struct cmsghdr *cm;

			memset(q->tx_ctl[i].buf, 0, sizeof(q->tx_ctl[i].buf));
			h->msg_control = q->tx_ctl[i].buf;
			cm = (struct cmsghdr *)q->tx_ctl[i].buf;
			if (m->src.family == AF_INET) {
				struct in_pktinfo pi = { 0 };

				memcpy(&pi.ipi_spec_dst, m->src.ip, 4);
				cm->cmsg_level = IPPROTO_IP;
				cm->cmsg_type = IP_PKTINFO;
				cm->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
				h->msg_controllen = CMSG_SPACE(sizeof(pi));
			} else {
				struct in6_pktinfo pi = { 0 };

				memcpy(&pi.ipi6_addr, m->src.ip, 16);
				pi.ipi6_ifindex = m->src.scope;
				cm->cmsg_level = IPPROTO_IPV6;
				cm->cmsg_type = IPV6_PKTINFO;
				cm->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
				h->msg_controllen = CMSG_SPACE(sizeof(pi));
			}
		}
	}
	while (sent < count) {
		int r = sendmmsg(q->udp_fd[li], &q->tx_mm[first + sent], count - sent, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* this datagram is refused (buffer full, no route, bad
			 * family): count it and go on with the next */
			pk_ctr_inc(&q->ctr[PK_IO_CTR_UDP_TX_ERROR]);
			sent++;
			continue;
		}
		sent += (unsigned)r;
		ok += (unsigned)r;
	}
	pk_ctr_add(&q->ctr[PK_IO_CTR_UDP_TX], ok);
	return ok;
}

static bool sk_tcp_send(struct sk_queue *q, const struct pk_io_msg *m)
{
	uint32_t ci = PK_IO_CONN_INDEX(m->conn);
	struct sk_conn *c;
	ssize_t r = 0;

	if (PK_IO_CONN_QUEUE(m->conn) != q->pub.qid || ci >= q->nconns) {
		pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_TX_NO_CONN]);
		return false;
	}
	c = &q->conns[ci];
	/* A connection the peer closed still takes answers to the messages
	 * of this burst; an aborted one takes none. */
	if (c->fd < 0 || c->gen != (uint32_t)(m->conn >> 32) || c->aborted ||
	    (c->closing && c->tx_len == c->tx_off && !c->in_burst)) {
		pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_TX_NO_CONN]);
		return false;
	}
	if (c->tx_len == c->tx_off) {
		/* nothing queued: straight to the kernel */
		c->tx_off = c->tx_len = 0;
		do
			r = send(c->fd, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			sk_conn_abort(q, c, PK_IO_CTR_TCP_CLOSED_ERROR);
			return false;
		}
		if (r < 0)
			r = 0;
		c->last_ns = q->now_ns;
		if ((uint32_t)r == m->len) {
			pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_TX]);
			return true;
		}
	}
	/* keep the rest for EPOLLOUT */
	uint32_t rest = m->len - (uint32_t)r;

	if (SK_TCP_BUF - c->tx_len < rest && c->tx_off > 0) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = 0;
	}
	if (SK_TCP_BUF - c->tx_len < rest) {
		sk_conn_abort(q, c, PK_IO_CTR_TCP_TX_OVERFLOW);
		return false;
	}
	memcpy(c->tx + c->tx_len, m->data + r, rest);
	c->tx_len += rest;
	sk_conn_interest(q, c, c->closing ? EPOLLOUT : EPOLLIN | EPOLLRDHUP | EPOLLOUT);
	pk_ctr_inc(&q->ctr[PK_IO_CTR_TCP_TX]);
	return true;
}

/* ---- the burst interface ---- */

static unsigned sk_rx_burst(struct pk_io_queue *pq, struct pk_io_msg **msgs, unsigned n, uint64_t now_ns)
{
	struct sk_queue *q = sk_q(pq);
	unsigned got = 0;

	q->now_ns = now_ns;
	if (n > PK_IO_BURST)
		n = PK_IO_BURST;
	/* The previous burst's messages are released now. */
	q->rx_used = 0;
	for (uint32_t i = 0; i < q->ntouched; i++) {
		struct sk_conn *c = &q->conns[q->touched[i]];

		c->in_burst = false;
		sk_conn_maybe_release(q, c);
	}
	q->ntouched = 0;

	/* Complete messages left in connection buffers go first. */
	if (q->npending > 0) {
		uint32_t np = q->npending;

		q->npending = 0;
		for (uint32_t i = 0; i < np; i++) {
			struct sk_conn *c = &q->conns[q->pending[i]];

			if (c->fd < 0 || !c->pending)
				continue;
			c->pending = false;
			got = sk_conn_frame(q, c, msgs, got, n);
		}
	}

	if (got < n) {
		if (q->iev >= q->nev) {
			q->nev = epoll_wait(q->epfd, q->ev, SK_MAX_EVENTS, 0);
			q->iev = 0;
			if (q->nev < 0)
				q->nev = 0;
		}
		/* Level-triggered: an event not served now (burst full) is
		 * reported again by the next epoll_wait. */
		for (; q->iev < q->nev && got < n && q->rx_used < PK_IO_BURST; q->iev++) {
			const struct epoll_event *e = &q->ev[q->iev];
			uint32_t idx = (uint32_t)e->data.u64;

			switch ((enum sk_kind)(e->data.u64 >> 32)) {
			case SK_EV_UDP:
				got = sk_udp_recv(q, idx, msgs, got, n);
				break;
			case SK_EV_LISTEN:
				sk_accept(q, idx);
				break;
			case SK_EV_CONN:
				got = sk_conn_event(q, idx, e->events, msgs, got, n);
				break;
			case SK_EV_WAKE: {
				uint64_t v;

				if (read(q->wakefd, &v, sizeof(v)) < 0) {
					/* already reset: nothing to do */
				}
				break;
			}
			}
		}
		q->iev = q->nev = 0;
	}
	if (q->nconns > 0 && now_ns >= q->next_scan_ns)
		sk_idle_scan(q);
	return got;
}

static struct pk_io_msg *sk_tx_alloc(struct pk_io_queue *pq)
{
	struct sk_queue *q = sk_q(pq);
	struct pk_io_msg *m;

	if (q->tx_n == PK_IO_BURST)
		pq->ops->tx_flush(pq);
	m = &q->tx_msg[q->tx_n];
	m->len = 0;
	m->transport = PK_TRANSPORT_UDP;
	m->listener = 0;
	m->flags = 0;
	m->conn = PK_IO_CONN_NONE;
	memset(&m->src, 0, sizeof(m->src));
	memset(&m->dst, 0, sizeof(m->dst));
	return m;
}

static void sk_tx_commit(struct pk_io_queue *pq)
{
	struct sk_queue *q = sk_q(pq);

	if (q->tx_n < PK_IO_BURST)
		q->tx_n++;
}

static unsigned sk_tx_flush(struct pk_io_queue *pq)
{
	struct sk_queue *q = sk_q(pq);
	unsigned i = 0, ok = 0;

	while (i < q->tx_n) {
		struct pk_io_msg *m = &q->tx_msg[i];

		if (m->transport == PK_TRANSPORT_TCP) {
			ok += sk_tcp_send(q, m);
			i++;
			continue;
		}
		unsigned j = i + 1;
		unsigned li = m->listener;

		while (j < q->tx_n && q->tx_msg[j].transport == PK_TRANSPORT_UDP && q->tx_msg[j].listener == li)
			j++;
		if (li < q->io->pub.n_listeners && q->udp_fd[li] >= 0) {
			ok += sk_udp_send_run(q, li, i, j - i);
		} else {
			pk_ctr_add(&q->ctr[PK_IO_CTR_UDP_TX_ERROR], j - i);
		}
		i = j;
	}
	q->tx_n = 0;
	return ok;
}

static void sk_wait(struct pk_io_queue *pq, unsigned timeout_ms)
{
	struct sk_queue *q = sk_q(pq);
	int n;

	if (q->npending > 0 || q->iev < q->nev)
		return;
	n = epoll_wait(q->epfd, q->ev, SK_MAX_EVENTS, (int)timeout_ms);
	q->nev = n > 0 ? n : 0;
	q->iev = 0;
	pk_ctr_inc(&q->ctr[PK_IO_CTR_WAITS]);
}

static void sk_wake(struct pk_io_queue *pq)
{
	uint64_t one = 1;

	if (write(sk_q(pq)->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the worker is awake already */
	}
}

static void sk_stats(const struct pk_io_queue *pq, uint64_t out[PK_IO_CTR_COUNT])
{
	pk_ctr_copy(out, ((const struct sk_queue *)pq)->ctr, PK_IO_CTR_COUNT);
}

static struct pk_io_queue *sk_queue_get(struct pk_io *io, unsigned qid)
{
	return qid < io->n_queues ? &((struct sk_io *)io)->queues[qid]->pub : NULL;
}

static const struct pk_io_listener *sk_listener_get(const struct pk_io *io, unsigned i)
{
	return i < io->n_listeners ? &((const struct sk_io *)io)->listeners[i] : NULL;
}

/* ---- creation ---- */

static void *sk_map(size_t len, bool touch)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (touch)
		memset(p, 0, len); /* no page fault on the packet path */
	return p;
}

static void sk_queue_free(struct sk_queue *q)
{
	if (q == NULL)
		return;
	for (uint32_t i = 0; i < q->nconns; i++)
		if (q->conns[i].fd >= 0)
			close(q->conns[i].fd);
	for (unsigned i = 0; i < PK_IO_MAX_LISTENERS; i++) {
		if (q->udp_fd[i] >= 0)
			close(q->udp_fd[i]);
		if (q->tcp_fd[i] >= 0)
			close(q->tcp_fd[i]);
	}
	if (q->epfd >= 0)
		close(q->epfd);
	if (q->wakefd >= 0)
		close(q->wakefd);
	if (q->spare_fd >= 0)
		close(q->spare_fd);
	if (q->rx_buf != NULL)
		munmap(q->rx_buf, (size_t)PK_IO_BURST * PK_IO_MSG_MAX);
	if (q->tx_buf != NULL)
		munmap(q->tx_buf, (size_t)PK_IO_BURST * PK_IO_MSG_MAX);
	if (q->conn_mem != NULL)
		munmap(q->conn_mem, q->conn_mem_len);
	free(q->conns);
	free(q->pending);
	free(q);
}

static void sk_destroy(struct pk_io *pio)
{
	struct sk_io *io = (struct sk_io *)pio;

	for (unsigned i = 0; i < pio->n_queues; i++)
		sk_queue_free(io->queues[i]);
	free(io);
}

static void sk_sockbuf(int fd, uint32_t bytes)
{
	int v = (int)bytes;

	if (bytes == 0)
		return;
	/* FORCE passes net.core.[rw]mem_max when we may (CAP_NET_ADMIN); the
	 * plain option is clamped to it otherwise. Both best effort. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static int sk_fail(char *err, size_t errlen, const struct pk_io_listener *l, const char *what, int e)
{
	char a[PK_ADDR_STRLEN];

	pk_addr_format(&l->addr, true, a, sizeof(a));
	snprintf(err, errlen, "%s %s/%s: %s", what, a, pk_transport_name((enum pk_transport)l->transport),
		 strerror(e));
	return -e;
}

/* A socket for listener l; reuseport false makes a probe that fails when
 * anyone (another pickupd too) already holds the address. */
static int sk_socket(const struct sk_io *io, unsigned li, uint32_t sockbuf, bool reuseport, char *err,
		     size_t errlen)
{
	const struct pk_io_listener *l = &io->listeners[li];
	bool udp = l->transport == PK_TRANSPORT_UDP;
	struct sockaddr_storage ss;
	socklen_t sl = pk_addr_to_sockaddr(&l->addr, &ss);
	int one = 1, e;
	int fd = socket(l->addr.family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return sk_fail(err, errlen, l, "socket", errno);
	if ((!udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    (l->addr.family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
		goto fail;
	if (udp && io->wildcard[li] &&
	    (l->addr.family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))
				       : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one))) != 0)
		goto fail;
	if (reuseport)
		sk_sockbuf(fd, sockbuf);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		e = errno;
		close(fd);
		/* the probe's hint only where it applies: not for an address
		 * the host does not have, nor a port it may not bind */
		return sk_fail(err, errlen, l,
			       !reuseport && e == EADDRINUSE ? "bind (already in use, another pickupd?)" : "bind", e);
	}
	if (!udp && reuseport && listen(fd, SK_TCP_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return sk_fail(err, errlen, l, "socket option", e);
}

static int sk_queue_add_fd(struct sk_queue *q, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static struct sk_queue *sk_queue_create(struct sk_io *io, unsigned qid, const struct pk_io_config *cfg,
					char *err, size_t errlen)
{
	struct sk_queue *q = aligned_alloc(64, sizeof(*q));
	uint32_t per = (cfg->tcp_max_conns + cfg->n_queues - 1) / cfg->n_queues;
	bool any_tcp = false;

	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(q, 0, sizeof(*q));
	q->pub.ops = io->pub.ops;
	q->pub.qid = qid;
	q->io = io;
	q->epfd = q->wakefd = q->spare_fd = -1;
	for (unsigned i = 0; i < PK_IO_MAX_LISTENERS; i++)
		q->udp_fd[i] = q->tcp_fd[i] = -1;
	q->idle_ns = (uint64_t)cfg->tcp_idle_timeout_s * 1000000000ull;
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	q->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->epfd < 0 || q->wakefd < 0 || sk_queue_add_fd(q, q->wakefd, SK_EV(SK_EV_WAKE, 0)) != 0) {
		snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
		goto fail;
	}
	q->rx_buf = sk_map((size_t)PK_IO_BURST * PK_IO_MSG_MAX, true);
	q->tx_buf = sk_map((size_t)PK_IO_BURST * PK_IO_MSG_MAX, true);
	if (q->rx_buf == NULL || q->tx_buf == NULL) {
		snprintf(err, errlen, "out of memory (burst buffers)");
		goto fail;
	}
	for (unsigned i = 0; i < PK_IO_BURST; i++) {
		q->tx_msg[i].data = q->tx_buf + (size_t)i * PK_IO_MSG_MAX;
		q->tx_msg[i].cap = PK_IO_MSG_MAX;
	}
	for (unsigned li = 0; li < io->pub.n_listeners; li++) {
		const struct pk_io_listener *l = &io->listeners[li];
		int fd = sk_socket(io, li, cfg->socket_buffer, true, err, errlen);

		if (fd < 0)
			goto fail;
		if (l->transport == PK_TRANSPORT_UDP) {
			q->udp_fd[li] = fd;
		} else {
			q->tcp_fd[li] = fd;
			any_tcp = true;
		}
		if (sk_queue_add_fd(q, fd, SK_EV(l->transport == PK_TRANSPORT_UDP ? SK_EV_UDP : SK_EV_LISTEN, li)) !=
		    0) {
			snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
			goto fail;
		}
		if (l->addr.port == 0) {
			/* The kernel chose a port: every later queue binds it. */
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			struct pk_addr bound;

			if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
			    pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &bound) != 0) {
				snprintf(err, errlen, "getsockname: %s", strerror(errno));
				goto fail;
			}
			io->listeners[li].addr.port = bound.port;
		}
	}
	if (any_tcp && (q->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "the reserve descriptor (/dev/null): %s", strerror(errno));
		goto fail;
	}
	if (any_tcp && per > 0) {
		q->nconns = per;
		q->conns = calloc(per, sizeof(*q->conns));
		q->pending = calloc(per, sizeof(*q->pending));
		q->conn_mem_len = (size_t)per * 2 * SK_TCP_BUF;
		q->conn_mem = sk_map(q->conn_mem_len, false);
		if (q->conns == NULL || q->pending == NULL || q->conn_mem == NULL) {
			snprintf(err, errlen, "out of memory (%u TCP connections)", per);
			goto fail;
		}
		for (uint32_t i = 0; i < per; i++) {
			q->conns[i].fd = -1;
			q->conns[i].gen = 1;
			q->conns[i].rx = q->conn_mem + (size_t)i * 2 * SK_TCP_BUF;
			q->conns[i].tx = q->conns[i].rx + SK_TCP_BUF;
			q->conns[i].next_free = i + 1 < per ? i + 1 : SK_NONE;
		}
		q->free_head = 0;
	} else {
		q->free_head = SK_NONE;
	}
	return q;
fail:
	sk_queue_free(q);
	return NULL;
}

static const struct pk_io_ops sk_ops = {
	.name = "socket",
	.queue = sk_queue_get,
	.listener = sk_listener_get,
	.destroy = sk_destroy,
	.rx_burst = sk_rx_burst,
	.tx_alloc = sk_tx_alloc,
	.tx_commit = sk_tx_commit,
	.tx_flush = sk_tx_flush,
	.wait = sk_wait,
	.wake = sk_wake,
	.stats = sk_stats,
};

struct pk_io *pk_io_socket_create(struct pk_io_config *cfg, char *err, size_t errlen)
{
	struct sk_io *io;

	if (cfg->n_queues == 0 || cfg->n_queues > PK_IO_MAX_QUEUES || cfg->n_listeners == 0 ||
	    cfg->n_listeners > PK_IO_MAX_LISTENERS) {
		snprintf(err, errlen, "bad queue or listener count");
		return NULL;
	}
	io = calloc(1, sizeof(*io));
	if (io == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	io->pub.ops = &sk_ops;
	io->pub.n_listeners = cfg->n_listeners;
	memcpy(io->listeners, cfg->listeners, sizeof(cfg->listeners[0]) * cfg->n_listeners);
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		io->wildcard[i] = pk_addr_is_any(&io->listeners[i].addr);
		/* SO_REUSEPORT would let us share a port with a second pickupd
		 * started by mistake (same user): make sure it is free first. */
		if (io->listeners[i].addr.port != 0) {
			int fd = sk_socket(io, i, 0, false, err, errlen);

			if (fd < 0)
				goto fail;
			close(fd);
		}
	}
	for (unsigned qid = 0; qid < cfg->n_queues; qid++) {
		io->queues[qid] = sk_queue_create(io, qid, cfg, err, errlen);
		if (io->queues[qid] == NULL)
			goto fail;
		io->pub.n_queues = qid + 1;
	}
	memcpy(cfg->listeners, io->listeners, sizeof(cfg->listeners[0]) * cfg->n_listeners);
	return &io->pub;
fail:
	sk_destroy(&io->pub);
	return NULL;
}
