/* SPDX-License-Identifier: MIT */
/*
 * The socket backend (dataplane/io/socket.c) on loopback, seen from its
 * peers and its operator.
 *
 * UDP on a listener bound to every address, 0.0.0.0 or [::]: a datagram
 * carries the address it came to (IP_PKTINFO / IPV6_PKTINFO), and one sent
 * with that address as its source leaves from it, so that answers come from
 * the address the peer sent to (docs/config.md, `listen`). A listener bound
 * to one address sends from it whatever the message says. More datagrams
 * than a burst leave in order. 127.0.0.2 and 127.0.0.3 are local addresses
 * of every Linux host (127.0.0.0/8 is).
 *
 * TCP on 127.0.0.1: a peer that reads slowly gets every byte of its
 * answers in order; one that does not read is disconnected
 * (tcp_tx_overflow); an answer for a connection that is gone or whose slot
 * was reused goes nowhere (tcp_tx_no_conn); resets, the connection limit,
 * pk_io_wake, io.socket_buffer and creation failures. Small kernel buffers
 * (the peer's SO_RCVBUF, pickupd's socket_buffer) make the kernel take only
 * part of an answer, every time. Nothing sleeps: the tests wait on the
 * peer's socket (poll) or on pk_io_wait, and a deadline only fails them.
 * Open descriptors are counted (/proc/self/fd, what an operator's `ls`
 * shows) to see that connections are really closed and none leak.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "pickup/io.h"

/* A peer: a UDP socket bound to ip (port 0), with a receive timeout so
 * that a datagram that never comes fails the test instead of hanging it. */
static int peer_socket(const char *ip, struct pk_addr *self)
{
	struct sockaddr_storage ss;
	struct pk_addr a;
	socklen_t sl;
	struct timeval tv = { .tv_sec = 5 };

	assert_int_equal(pk_addr_parse_ip(pk_str_make(ip, strlen(ip)), &a), 0);
	int fd = socket(a.family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	sl = pk_addr_to_sockaddr(&a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	sl = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, self), 0);
	return fd;
}

static struct pk_io *udp_io(const char *listen)
{
	struct pk_io_config cfg = { .n_queues = 1, .n_listeners = 1, .tcp_max_conns = 4, .tcp_idle_timeout_s = 60 };
	char err[256];

	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	assert_int_equal(pk_addr_parse(pk_str_make(listen, strlen(listen)), false, &cfg.listeners[0].addr), 0);
	struct pk_io *io = pk_io_socket_create(&cfg, err, sizeof(err));
	if (io == NULL)
		fail_msg("socket backend on %s: %s", listen, err);
	return io;
}

static void send_to(int fd, const char *ip, uint16_t port, const char *text)
{
	struct sockaddr_storage ss;
	struct pk_addr a;

	assert_int_equal(pk_addr_parse_ip(pk_str_make(ip, strlen(ip)), &a), 0);
	a.port = port;
	socklen_t sl = pk_addr_to_sockaddr(&a, &ss);
	assert_int_equal(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&ss, sl), (ssize_t)strlen(text));
}

/* The next datagram of the queue (waiting for it: epoll, at most 5 s). */
static struct pk_io_msg *rx_one(struct pk_io_queue *q)
{
	struct pk_io_msg *msgs[PK_IO_BURST];

	for (int tries = 0; tries < 50; tries++) {
		unsigned n = pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);
		if (n > 0) {
			assert_int_equal(n, 1);
			return msgs[0];
		}
		pk_io_wait(q, 100);
	}
	fail_msg("no datagram within 5 s");
	return NULL;
}

static void assert_ip(const struct pk_addr *a, const char *ip)
{
	char got[PK_ADDR_STRLEN];

	pk_addr_format(a, false, got, sizeof(got));
	assert_string_equal(got, ip);
}

/* Sends text to the peer from src (family 0: the listener's choice). */
static void tx_one(struct pk_io_queue *q, const struct pk_addr *src, const struct pk_addr *dst, const char *text)
{
	struct pk_io_msg *m = pk_io_tx_alloc(q);

	m->len = (uint32_t)strlen(text);
	memcpy(m->data, text, m->len);
	m->transport = PK_TRANSPORT_UDP;
	m->listener = 0;
	if (src != NULL)
		m->src = *src;
	m->dst = *dst;
	pk_io_tx_commit(q);
	assert_int_equal(pk_io_tx_flush(q), 1);
}

/* What the peer receives: the text and the address it came from. */
static void peer_recv(int fd, const char *text, const char *from_ip, uint16_t from_port)
{
	char buf[256];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct pk_addr from;

	ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&ss, &sl);
	if (n < 0)
		fail_msg("the peer got nothing: %s", strerror(errno));
	buf[n] = '\0';
	assert_string_equal(buf, text);
	assert_int_equal(pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &from), 0);
	assert_ip(&from, from_ip);
	assert_int_equal(from.port, from_port);
}

/* Requests to two of the host's addresses on one 0.0.0.0 listener: each
 * arrives with the address it came to, and the answer sent from that
 * address reaches the peer from it (not from 127.0.0.1, the address the
 * routing table would pick for every 127/8 destination). */
static void test_wildcard_v4(void **state)
{
	(void)state;
	struct pk_io *io = udp_io("0.0.0.0:0");
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	uint16_t port = pk_io_listener_get(io, 0)->addr.port;
	struct pk_addr me;
	int fd = peer_socket("127.0.0.1", &me);
	static const char *const to[] = { "127.0.0.2", "127.0.0.3", "127.0.0.1" };

	assert_true(port != 0);
	for (unsigned i = 0; i < 3; i++) {
		send_to(fd, to[i], port, "hello");
		struct pk_io_msg *m = rx_one(q);
		assert_ip(&m->dst, to[i]);
		assert_int_equal(m->dst.port, port);
		assert_ip(&m->src, "127.0.0.1");
		assert_int_equal(m->src.port, me.port);
		assert_int_equal(m->len, 5);
		assert_memory_equal(m->data, "hello", 5);

		struct pk_addr src = m->dst, dst = m->src;
		tx_one(q, &src, &dst, "answer");
		peer_recv(fd, "answer", to[i], port);
	}
	uint64_t ctr[PK_IO_CTR_COUNT];
	pk_io_stats(q, ctr);
	assert_int_equal(ctr[PK_IO_CTR_UDP_RX], 3);
	assert_int_equal(ctr[PK_IO_CTR_UDP_TX], 3);
	assert_int_equal(ctr[PK_IO_CTR_UDP_TX_ERROR], 0);
	close(fd);
	pk_io_destroy(io);
}

/* The same on [::] where the host has an IPv6 loopback. */
static void test_wildcard_v6(void **state)
{
	(void)state;
	struct pk_addr me;
	int fd = peer_socket("::1", &me);

	if (fd < 0)
		skip(); /* no IPv6 loopback here (some containers) */
	struct pk_io *io = udp_io("[::]:0");
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	uint16_t port = pk_io_listener_get(io, 0)->addr.port;

	send_to(fd, "::1", port, "hello6");
	struct pk_io_msg *m = rx_one(q);
	assert_int_equal(m->dst.family, AF_INET6);
	assert_ip(&m->dst, "::1");
	assert_int_equal(m->dst.port, port);
	assert_ip(&m->src, "::1");
	struct pk_addr src = m->dst, dst = m->src;
	tx_one(q, &src, &dst, "answer6");
	peer_recv(fd, "answer6", "::1", port);

	/* an IPv4 source on an IPv6 socket is not applied: the kernel's
	 * choice, and the datagram still leaves */
	struct pk_addr v4;
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("127.0.0.2"), &v4), 0);
	tx_one(q, &v4, &dst, "answer6b");
	peer_recv(fd, "answer6b", "::1", port);
	close(fd);
	pk_io_destroy(io);
}

/* A listener bound to one address sends from it: a source in the message
 * is not applied (the socket is bound; only a wildcard one chooses). */
static void test_bound_listener(void **state)
{
	(void)state;
	struct pk_io *io = udp_io("127.0.0.1:0");
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	uint16_t port = pk_io_listener_get(io, 0)->addr.port;
	struct pk_addr me;
	int fd = peer_socket("127.0.0.1", &me);

	send_to(fd, "127.0.0.1", port, "hello");
	struct pk_io_msg *m = rx_one(q);
	assert_ip(&m->dst, "127.0.0.1");
	assert_int_equal(m->dst.port, port);
	struct pk_addr other, dst = m->src;
	assert_int_equal(pk_addr_parse_ip(PK_STR_LIT("127.0.0.9"), &other), 0);
	tx_one(q, &other, &dst, "answer");
	peer_recv(fd, "answer", "127.0.0.1", port);
	tx_one(q, NULL, &dst, "answer2");
	peer_recv(fd, "answer2", "127.0.0.1", port);
	close(fd);
	pk_io_destroy(io);
}

/* ---- TCP: helpers ---- */

/* What a wait may take before the test fails; never a synchronisation. */
#define DEADLINE_MS 5000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Descriptors open in this process (what `ls /proc/PID/fd` shows). */
static unsigned fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/* A counter of the queue by the name the operator reads. */
static uint64_t ctr(struct pk_io_queue *q, const char *name)
{
	uint64_t c[PK_IO_CTR_COUNT];

	pk_io_stats(q, c);
	for (unsigned i = 0; i < PK_IO_CTR_COUNT; i++)
		if (strcmp(pk_io_counter_name((enum pk_io_counter)i), name) == 0)
			return c[i];
	fail_msg("no counter %s", name);
	return 0;
}

/* One queue, one TCP listener on 127.0.0.1 (the kernel's port). */
static struct pk_io *tcp_io(uint32_t max_conns, uint32_t sockbuf, uint16_t *port)
{
	struct pk_io_config cfg = { .n_queues = 1,
				    .n_listeners = 1,
				    .tcp_max_conns = max_conns,
				    .tcp_idle_timeout_s = 60,
				    .socket_buffer = sockbuf };
	char err[256];

	cfg.listeners[0].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[0].addr), 0);
	struct pk_io *io = pk_io_socket_create(&cfg, err, sizeof(err));
	if (io == NULL)
		fail_msg("socket backend: %s", err);
	*port = pk_io_listener_get(io, 0)->addr.port;
	return io;
}

/* A TCP peer of 127.0.0.1:port. rcvbuf (0: the kernel's) is set before
 * connecting, so that the window it announces is small from the start. */
static int peer_connect(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* The peer resets its connection (SO_LINGER 0: RST, not FIN). */
static void peer_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
}

/* The peer sends n requests in one write (pipelined). */
static void peer_requests(int fd, unsigned n)
{
	char buf[2048];
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"OPTIONS sip:pickup@127.0.0.1 SIP/2.0\r\nCall-ID: req%u\r\n"
					"Content-Length: 0\r\n\r\n",
					i);
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The queue's next burst of messages, waiting for it (at most 5 s). */
static unsigned rx_wait(struct pk_io_queue *q, struct pk_io_msg **msgs)
{
	uint64_t end = now_ms() + DEADLINE_MS;

	for (;;) {
		unsigned n = pk_io_rx_burst(q, msgs, PK_IO_BURST, 0);

		if (n > 0)
			return n;
		if (now_ms() > end)
			fail_msg("no message within %d ms", DEADLINE_MS);
		pk_io_wait(q, 100);
	}
}

/* Runs the queue (no message expected) until the counter reaches want. */
static void run_until_ctr(struct pk_io_queue *q, const char *name, uint64_t want)
{
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint64_t end = now_ms() + DEADLINE_MS;

	while (ctr(q, name) < want) {
		if (now_ms() > end)
			fail_msg("%s is %llu, not %llu, after %d ms", name, (unsigned long long)ctr(q, name),
				 (unsigned long long)want, DEADLINE_MS);
		assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
		pk_io_wait(q, 100);
	}
}

/* Runs the queue (no message expected) until the process has n fds. */
static void run_until_fds(struct pk_io_queue *q, unsigned n)
{
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint64_t end = now_ms() + DEADLINE_MS;

	while (fd_count() != n) {
		if (now_ms() > end)
			fail_msg("%u descriptors open, not %u, after %d ms", fd_count(), n, DEADLINE_MS);
		assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
		pk_io_wait(q, 100);
	}
}

/* Answer k: len bytes that say which answer and which offset they are. */
static char answer_byte(unsigned k, size_t i)
{
	return (char)(k * 53u + i % 251u + i / 251u);
}

/* Commits answer k (len bytes) on connection conn; not flushed. */
static void tx_answer(struct pk_io_queue *q, uint64_t conn, unsigned k, uint32_t len)
{
	struct pk_io_msg *m = pk_io_tx_alloc(q);

	assert_true(m->cap >= len);
	for (uint32_t i = 0; i < len; i++)
		m->data[i] = answer_byte(k, i);
	m->len = len;
	m->transport = PK_TRANSPORT_TCP;
	m->listener = 0;
	m->conn = conn;
	pk_io_tx_commit(q);
}

/* The peer reads, at most chunk bytes at a time, until it has want bytes
 * or the connection ends (*eof), running the queue between reads so that
 * what waits in pickupd's send buffer can leave. Returns the bytes read. */
static size_t peer_read(struct pk_io_queue *q, int fd, char *buf, size_t want, size_t chunk, bool *eof)
{
	struct pk_io_msg *msgs[PK_IO_BURST];
	size_t got = 0;

	*eof = false;
	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t ask = want - got < chunk ? want - got : chunk;

		assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
		if (poll(&p, 1, DEADLINE_MS) != 1)
			fail_msg("the peer waited %d ms for more after %zu bytes", DEADLINE_MS, got);
		ssize_t r = recv(fd, buf + got, ask, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
		} else if (r == 0 || errno == ECONNRESET) {
			*eof = true;
			break;
		} else if (errno != EAGAIN) {
			fail_msg("recv: %s", strerror(errno));
		}
	}
	return got;
}

/* The connection is open and nothing more came: recv would block. */
static void assert_peer_quiet(struct pk_io_queue *q, int fd)
{
	struct pk_io_msg *msgs[PK_IO_BURST];
	char c;

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* buf[0, len) is answer k from offset off on. */
static void assert_answer(const char *buf, size_t len, unsigned k, size_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != answer_byte(k, off + i))
			fail_msg("byte %zu is not byte %zu of answer %u", i, off + i, k);
}

/* ---- TCP: tests ---- */

/* A peer that reads slowly (4 KiB at a time, a small receive window)
 * while pickupd's kernel buffer is small too: the kernel takes part of the
 * first of four answers, the rest waits in the connection's send buffer
 * (60000 bytes fit its 64 KiB). A fifth answer comes while they wait, when
 * it no longer fits behind them but does once what left is dropped from
 * the buffer's front. The peer gets every byte once, in order; the
 * connection stays open, and an answer after it drained goes out alone. */
static void test_tcp_slow_reader(void **state)
{
	(void)state;
	static char buf[5 * 15000];
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	unsigned fds0 = fd_count();
	struct pk_io *io = tcp_io(4, 4096, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	int fd = peer_connect(port, 4096);
	bool eof;

	peer_requests(fd, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	uint64_t conn = msgs[0]->conn;

	for (unsigned k = 0; k < 4; k++)
		tx_answer(q, conn, k, 15000);
	assert_int_equal(pk_io_tx_flush(q), 4);
	assert_int_equal(peer_read(q, fd, buf, 20000, 4096, &eof), 20000);
	tx_answer(q, conn, 4, 15000);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(peer_read(q, fd, buf + 20000, 55000, 4096, &eof), 55000);
	for (unsigned k = 0; k < 5; k++)
		assert_answer(buf + k * 15000, 15000, k, 0);
	assert_peer_quiet(q, fd);

	tx_answer(q, conn, 5, 100);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(peer_read(q, fd, buf, 100, 4096, &eof), 100);
	assert_answer(buf, 100, 5, 0);
	assert_peer_quiet(q, fd);

	assert_int_equal(ctr(q, "tcp_tx"), 6);
	assert_int_equal(ctr(q, "tcp_tx_overflow"), 0);
	assert_int_equal(ctr(q, "tcp_closed_error"), 0);
	assert_int_equal(ctr(q, "tcp_closed_peer"), 0);
	close(fd);
	pk_io_destroy(io);
	assert_int_equal(fd_count(), fds0);
}

/* A peer that does not read: answers pile up in the connection's send
 * buffer (64 KiB) until one does not fit; the connection is closed then
 * (tcp_tx_overflow), the peer finds the end of the stream after a part of
 * the first answer, and an answer for the closed connection goes nowhere
 * (tcp_tx_no_conn). */
static void test_tcp_overflow(void **state)
{
	(void)state;
	static char buf[65536];
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 4096, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 4096);
	bool eof;

	peer_requests(fd, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	uint64_t conn = msgs[0]->conn;

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0); /* a later burst */
	tx_answer(q, conn, 1, 30000);
	assert_int_equal(pk_io_tx_flush(q), 1);
	tx_answer(q, conn, 2, 30000);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(ctr(q, "tcp_tx_overflow"), 0);
	assert_int_equal(fd_count(), fds0 + 2);
	tx_answer(q, conn, 3, 30000);
	assert_int_equal(pk_io_tx_flush(q), 0);
	assert_int_equal(ctr(q, "tcp_tx_overflow"), 1);
	assert_int_equal(fd_count(), fds0 + 1); /* pickupd's end is closed */

	size_t got = peer_read(q, fd, buf, sizeof(buf), 65536, &eof);
	assert_true(eof);
	assert_true(got > 0 && got < 30000);
	assert_answer(buf, got, 1, 0);

	tx_answer(q, conn, 4, 100);
	assert_int_equal(pk_io_tx_flush(q), 0);
	assert_int_equal(ctr(q, "tcp_tx_no_conn"), 1);
	assert_int_equal(ctr(q, "tcp_tx"), 2);
	close(fd);
	pk_io_destroy(io);
}

/* The same when the answers are to requests of the same burst (a peer
 * that pipelines requests and reads nothing): once an answer overflowed,
 * the answers after it in the burst are not sent either. The peer sees a
 * part of the first answer, then the end of the stream; no bytes of a
 * later answer after the gap. */
static void test_tcp_overflow_in_burst(void **state)
{
	(void)state;
	static char buf[131072];
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 4096, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 4096);
	bool eof;

	peer_requests(fd, 4);
	assert_int_equal(rx_wait(q, msgs), 4);
	for (unsigned k = 0; k < 4; k++)
		tx_answer(q, msgs[k]->conn, k, 30000);
	unsigned sent = pk_io_tx_flush(q);

	size_t got = peer_read(q, fd, buf, sizeof(buf), 65536, &eof);
	assert_true(eof);
	assert_true(got > 0 && got < 30000);
	assert_answer(buf, got, 0, 0);
	assert_int_equal(sent, 2);
	assert_int_equal(ctr(q, "tcp_tx"), 2);
	assert_int_equal(ctr(q, "tcp_tx_overflow"), 1);
	assert_int_equal(ctr(q, "tcp_tx_no_conn"), 1);
	run_until_fds(q, fds0 + 1);
	close(fd);
	pk_io_destroy(io);
}

/* An answer for a connection that is gone does not reach the peer that
 * now has the connection's slot (the id's generation differs), nor does
 * one with an index or a queue that is not ours. */
static void test_tcp_stale_conn(void **state)
{
	(void)state;
	char buf[256];
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(1, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int a = peer_connect(port, 0);
	bool eof;

	peer_requests(a, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	uint64_t old = msgs[0]->conn;
	close(a);
	run_until_ctr(q, "tcp_closed_peer", 1);
	assert_int_equal(fd_count(), fds0);

	int b = peer_connect(port, 0);
	peer_requests(b, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	uint64_t now = msgs[0]->conn;
	assert_int_equal(PK_IO_CONN_INDEX(now), PK_IO_CONN_INDEX(old)); /* the slot was reused */
	assert_true(now != old);

	tx_answer(q, old, 1, 100);
	tx_answer(q, (now & ~0xffffffull) | 7, 2, 100);	   /* no such index */
	tx_answer(q, now | (1ull << 24), 3, 100);	   /* queue 1's */
	tx_answer(q, now, 4, 100);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(peer_read(q, b, buf, 100, sizeof(buf), &eof), 100);
	assert_answer(buf, 100, 4, 0);
	assert_peer_quiet(q, b);
	assert_int_equal(ctr(q, "tcp_tx_no_conn"), 3);
	assert_int_equal(ctr(q, "tcp_tx"), 1);
	close(b);
	pk_io_destroy(io);
}

/* Over the connection limit a peer is accepted and closed at once
 * (tcp_refused) while the connection that holds the slot goes on; the
 * backend's end closes the open connection (the peer sees the end of the
 * stream) and leaves no descriptor behind. */
static void test_tcp_refused(void **state)
{
	(void)state;
	char buf[256], c;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	unsigned fds0 = fd_count();
	struct pk_io *io = tcp_io(1, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	int a = peer_connect(port, 0);
	bool eof;

	run_until_ctr(q, "tcp_accepted", 1);
	int b = peer_connect(port, 0);
	run_until_ctr(q, "tcp_refused", 1);
	struct pollfd p = { .fd = b, .events = POLLIN };
	assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
	ssize_t r = recv(b, &c, 1, MSG_DONTWAIT);
	assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
	close(b);
	assert_int_equal(ctr(q, "tcp_accepted"), 1);

	peer_requests(a, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	tx_answer(q, msgs[0]->conn, 1, 100);
	assert_int_equal(pk_io_tx_flush(q), 1);
	assert_int_equal(peer_read(q, a, buf, 100, sizeof(buf), &eof), 100);
	assert_answer(buf, 100, 1, 0);

	pk_io_destroy(io);
	p.fd = a;
	assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
	assert_int_equal(recv(a, &c, 1, MSG_DONTWAIT), 0);
	close(a);
	assert_int_equal(fd_count(), fds0);
}

/* The process out of descriptors (RLIMIT_NOFILE reached): a connection
 * waiting on the listener is accepted with the queue's reserve descriptor
 * and closed at once, counted once as tcp_refused, as when the table is
 * full; it is not left queued on a listener that epoll would then report
 * ready at every poll (a worker spinning, the counter counting polls, the
 * peer never told). The reserve is taken back: a second one goes the same
 * way; with descriptors again, connections are served. */
static struct rlimit nofile; /* the limit test_tcp_out_of_descriptors lowers */

static int restore_nofile(void **state)
{
	(void)state;
	return setrlimit(RLIMIT_NOFILE, &nofile);
}

static void test_tcp_out_of_descriptors(void **state)
{
	(void)state;
	struct pk_io_msg *msgs[PK_IO_BURST];
	struct rlimit low;
	uint16_t port;
	unsigned fds0 = fd_count();
	struct pk_io *io = tcp_io(4, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int peer[2];
	char c;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (unsigned i = 0; i < 2; i++) { /* made now: no descriptor later */
		peer[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(peer[i] >= 0);
	}
	int lowest = dup(0); /* the lowest free number: the limit makes it unusable */
	assert_true(lowest >= 0);
	close(lowest);
	low = nofile;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(dup(0), -1);
	assert_int_equal(errno, EMFILE);

	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(connect(peer[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
		run_until_ctr(q, "tcp_refused", i + 1);
		struct pollfd p = { .fd = peer[i], .events = POLLIN };
		assert_int_equal(poll(&p, 1, DEADLINE_MS), 1); /* told at once */
		ssize_t r = recv(peer[i], &c, 1, MSG_DONTWAIT);
		assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
		/* nothing left on the listener: more polls count nothing */
		for (int k = 0; k < 5; k++) {
			assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
			pk_io_wait(q, 10);
		}
		assert_int_equal(ctr(q, "tcp_refused"), i + 1);
	}
	assert_int_equal(ctr(q, "tcp_accepted"), 0);
	assert_int_equal(restore_nofile(NULL), 0);
	for (unsigned i = 0; i < 2; i++)
		close(peer[i]);

	int fd = peer_connect(port, 0);
	peer_requests(fd, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	assert_int_equal(ctr(q, "tcp_accepted"), 1);
	close(fd);
	pk_io_destroy(io);
	assert_int_equal(fd_count(), fds0);
}

/* The peer resets the connection after its request: the answer fails
 * (tcp_closed_error, not counted as sent) and the connection is gone by
 * the next burst. */
static void test_tcp_reset_before_answer(void **state)
{
	(void)state;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 0);

	peer_requests(fd, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	uint64_t conn = msgs[0]->conn;
	peer_reset(fd);
	pk_io_wait(q, DEADLINE_MS); /* until the reset reaches pickupd's socket */
	tx_answer(q, conn, 1, 100);
	assert_int_equal(pk_io_tx_flush(q), 0);
	assert_int_equal(ctr(q, "tcp_closed_error"), 1);
	assert_int_equal(ctr(q, "tcp_tx"), 0);
	run_until_fds(q, fds0);
	pk_io_destroy(io);
}

/* A reset on a connection with nothing to send: the read fails, the
 * connection is closed (tcp_closed_error). */
static void test_tcp_reset_idle(void **state)
{
	(void)state;
	uint16_t port;
	struct pk_io *io = tcp_io(4, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 0);

	run_until_ctr(q, "tcp_accepted", 1);
	peer_reset(fd);
	run_until_ctr(q, "tcp_closed_error", 1);
	run_until_fds(q, fds0);
	assert_int_equal(ctr(q, "tcp_closed_peer"), 0);
	pk_io_destroy(io);
}

/* A reset while an answer waits in the send buffer: the connection is
 * closed (tcp_closed_error), the waiting bytes dropped. */
static void test_tcp_reset_with_backlog(void **state)
{
	(void)state;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 4096, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 4096);

	peer_requests(fd, 1);
	assert_int_equal(rx_wait(q, msgs), 1);
	tx_answer(q, msgs[0]->conn, 1, 60000);
	assert_int_equal(pk_io_tx_flush(q), 1);
	peer_reset(fd);
	run_until_ctr(q, "tcp_closed_error", 1);
	run_until_fds(q, fds0);
	pk_io_destroy(io);
}

/* The peer sends a request and closes its side; the answer is larger than
 * the kernel takes, so the connection stays to drain it. The peer then
 * resets: nothing can be sent any more, and the connection must go (not
 * wait for the idle timeout, its socket reporting the error to every
 * epoll_wait meanwhile). */
static void test_tcp_reset_while_draining(void **state)
{
	(void)state;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 4096, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	unsigned fds0 = fd_count();
	int fd = peer_connect(port, 4096);

	peer_requests(fd, 1);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(rx_wait(q, msgs), 1);
	tx_answer(q, msgs[0]->conn, 1, 60000);
	assert_int_equal(pk_io_tx_flush(q), 1);
	run_until_ctr(q, "tcp_closed_peer", 1);
	assert_int_equal(fd_count(), fds0 + 2); /* still draining */
	peer_reset(fd);
	run_until_fds(q, fds0);
	pk_io_destroy(io);
}

struct waker {
	struct pk_io_queue *q;
	pid_t tid; /* the thread in pk_io_wait */
};

/* The scheduler state of thread tid ('S': asleep), '?' if unknown. */
static char thread_state(pid_t tid)
{
	char path[64], line[512];
	FILE *f;
	char st = '?';

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return st;
	if (fgets(line, sizeof(line), f) != NULL) {
		char *p = strrchr(line, ')');

		if (p != NULL && p[1] == ' ')
			st = p[2];
	}
	fclose(f);
	return st;
}

static void *waker_main(void *arg)
{
	struct waker *w = arg;
	uint64_t end = now_ms() + DEADLINE_MS;

	/* Wake the worker once it is asleep, so that the wake interrupts a
	 * wait in progress (a wake before it would end the wait as well). */
	while (thread_state(w->tid) != 'S' && now_ms() < end)
		sched_yield();
	pk_io_wake(w->q);
	return NULL;
}

/* pk_io_wake from another thread ends a long pk_io_wait at once, and the
 * next burst consumes the wake: the wait after it sleeps again. */
static void test_wake(void **state)
{
	(void)state;
	struct pk_io_msg *msgs[PK_IO_BURST];
	uint16_t port;
	struct pk_io *io = tcp_io(4, 0, &port);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	struct waker w = { .q = q, .tid = (pid_t)syscall(SYS_gettid) };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, waker_main, &w), 0);
	uint64_t t0 = now_ms();
	pk_io_wait(q, 60000);
	uint64_t slept = now_ms() - t0;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(slept < 2 * DEADLINE_MS);
	assert_int_equal(ctr(q, "waits"), 1);

	assert_int_equal(pk_io_rx_burst(q, msgs, PK_IO_BURST, 0), 0);
	t0 = now_ms();
	pk_io_wait(q, 200);
	assert_true(now_ms() - t0 >= 150); /* epoll_wait does not end early without an event */
	assert_int_equal(ctr(q, "waits"), 2);
	pk_io_destroy(io);
}

/* An open socket of this process whose local port is port (peer: it is
 * connected, or not): SO_RCVBUF and SO_SNDBUF, as `ss -m` shows them. */
static unsigned sockbufs_of(uint16_t port, int type, bool connected, int *rcv, int *snd)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned found = 0;

	assert_non_null(d);
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		int fd = atoi(e->d_name), t;
		struct sockaddr_storage ss;
		struct pk_addr a;
		socklen_t sl = sizeof(ss), il = sizeof(t);

		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &il) != 0 || t != type ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &a) != 0 || a.port != port)
			continue;
		sl = sizeof(ss);
		if ((getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) != connected)
			continue;
		il = sizeof(*rcv);
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcv, &il), 0);
		il = sizeof(*snd);
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, snd, &il), 0);
		found++;
	}
	closedir(d);
	return found;
}

/* io.socket_buffer sizes every socket's kernel buffers (Linux reports
 * twice what was asked: the bookkeeping overhead), the UDP socket, the
 * TCP listener and the connections it accepts. */
static void test_socket_buffer(void **state)
{
	(void)state;
	struct pk_io_config cfg = { .n_queues = 1, .n_listeners = 2, .tcp_max_conns = 4,
				    .tcp_idle_timeout_s = 60, .socket_buffer = 32768 };
	char err[256];
	int rcv, snd;

	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	cfg.listeners[1].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[0].addr), 0);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[1].addr), 0);
	struct pk_io *io = pk_io_socket_create(&cfg, err, sizeof(err));
	if (io == NULL)
		fail_msg("socket backend: %s", err);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	uint16_t uport = cfg.listeners[0].addr.port, tport = cfg.listeners[1].addr.port;

	assert_int_equal(sockbufs_of(uport, SOCK_DGRAM, false, &rcv, &snd), 1);
	assert_int_equal(rcv, 65536);
	assert_int_equal(snd, 65536);
	assert_int_equal(sockbufs_of(tport, SOCK_STREAM, false, &rcv, &snd), 1);
	assert_int_equal(rcv, 65536);
	assert_int_equal(snd, 65536);

	int fd = peer_connect(tport, 0);
	run_until_ctr(q, "tcp_accepted", 1);
	assert_int_equal(sockbufs_of(tport, SOCK_STREAM, true, &rcv, &snd), 1);
	assert_int_equal(rcv, 65536);
	assert_int_equal(snd, 65536);
	close(fd);
	pk_io_destroy(io);
}

/* A socket bound to 127.0.0.1 (no SO_REUSEPORT) that holds a port. */
static int hold_port(int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Creation on a port another process holds fails, with an error that
 * names the address and says why; nothing stays open. */
static void test_create_port_in_use(void **state)
{
	(void)state;
	static const struct {
		int type;
		enum pk_transport transport;
		const char *name;
	} kinds[] = { { SOCK_DGRAM, PK_TRANSPORT_UDP, "udp" }, { SOCK_STREAM, PK_TRANSPORT_TCP, "tcp" } };

	for (unsigned i = 0; i < 2; i++) {
		struct pk_io_config cfg = { .n_queues = 2, .n_listeners = 2, .tcp_max_conns = 4,
					    .tcp_idle_timeout_s = 60 };
		char err[256], want[256];
		uint16_t port;
		int hold = hold_port(kinds[i].type, &port);
		unsigned fds0 = fd_count();

		cfg.listeners[0].transport = PK_TRANSPORT_UDP;
		assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[0].addr), 0);
		cfg.listeners[1].transport = (uint8_t)kinds[i].transport;
		assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[1].addr), 0);
		cfg.listeners[1].addr.port = port;
		assert_null(pk_io_socket_create(&cfg, err, sizeof(err)));
		snprintf(want, sizeof(want), "bind (already in use, another pickupd?) 127.0.0.1:%u/%s: %s",
			 (unsigned)port, kinds[i].name, strerror(EADDRINUSE));
		assert_string_equal(err, want);
		assert_int_equal(fd_count(), fds0);
		close(hold);
	}
}

/* An address that is not the host's: the error says so, not that the
 * port is in use; with port 0 (no probe first) the queue's first socket
 * is closed again when the second listener fails. */
static void test_create_bad_address(void **state)
{
	(void)state;
	char err[256], want[256];
	unsigned fds0 = fd_count();
	FILE *f = fopen("/proc/sys/net/ipv4/ip_nonlocal_bind", "r");

	if (f != NULL) {
		int c = fgetc(f);

		fclose(f);
		if (c == '1')
			skip(); /* any address binds here */
	}
	for (unsigned i = 0; i < 2; i++) {
		struct pk_io_config cfg = { .n_queues = 2, .n_listeners = 2, .tcp_max_conns = 4,
					    .tcp_idle_timeout_s = 60 };
		const char *bad = i == 0 ? "192.0.2.1:5060" : "192.0.2.1:0";

		cfg.listeners[0].transport = PK_TRANSPORT_TCP;
		assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[0].addr), 0);
		cfg.listeners[1].transport = PK_TRANSPORT_UDP;
		assert_int_equal(pk_addr_parse(pk_str_make(bad, strlen(bad)), false, &cfg.listeners[1].addr), 0);
		assert_null(pk_io_socket_create(&cfg, err, sizeof(err)));
		snprintf(want, sizeof(want), "bind %s/udp: %s", bad, strerror(EADDRNOTAVAIL));
		assert_string_equal(err, want);
		assert_int_equal(fd_count(), fds0);
	}
}

/* More datagrams than a burst without a flush: pk_io_tx_alloc sends the
 * full burst first, and the peer gets all of them, in order. One from a
 * listener that is not UDP (or not there) is not sent: udp_tx_error. */
static void test_udp_tx_burst_full(void **state)
{
	(void)state;
	struct pk_io_config cfg = { .n_queues = 1, .n_listeners = 2, .tcp_max_conns = 4, .tcp_idle_timeout_s = 60 };
	char err[256];
	struct pk_addr me;
	int fd = peer_socket("127.0.0.1", &me);

	cfg.listeners[0].transport = PK_TRANSPORT_UDP;
	cfg.listeners[1].transport = PK_TRANSPORT_TCP;
	assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[0].addr), 0);
	assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[1].addr), 0);
	struct pk_io *io = pk_io_socket_create(&cfg, err, sizeof(err));
	if (io == NULL)
		fail_msg("socket backend: %s", err);
	struct pk_io_queue *q = pk_io_queue_get(io, 0);
	uint16_t port = cfg.listeners[0].addr.port;
	unsigned n = PK_IO_BURST + 8;
	char text[32];

	for (unsigned i = 0; i < n; i++) {
		struct pk_io_msg *m = pk_io_tx_alloc(q);

		m->len = (uint32_t)snprintf(m->data, m->cap, "datagram %u", i);
		m->transport = PK_TRANSPORT_UDP;
		m->dst = me;
		pk_io_tx_commit(q);
	}
	assert_int_equal(pk_io_tx_flush(q), n - PK_IO_BURST);
	for (unsigned i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "datagram %u", i);
		peer_recv(fd, text, "127.0.0.1", port);
	}
	for (unsigned li = 1; li < 3; li++) {
		struct pk_io_msg *m = pk_io_tx_alloc(q);

		m->len = 4;
		memcpy(m->data, "lost", 4);
		m->transport = PK_TRANSPORT_UDP;
		m->listener = (uint8_t)li;
		m->dst = me;
		pk_io_tx_commit(q);
	}
	assert_int_equal(pk_io_tx_flush(q), 0);
	assert_int_equal(ctr(q, "udp_tx"), n);
	assert_int_equal(ctr(q, "udp_tx_error"), 2);
	close(fd);
	pk_io_destroy(io);
}

/* A queue or listener count out of range is refused with a reason. */
static void test_create_bad_counts(void **state)
{
	(void)state;
	static const unsigned counts[][2] = { { 0, 1 }, { PK_IO_MAX_QUEUES + 1, 1 }, { 1, 0 },
					      { 1, PK_IO_MAX_LISTENERS + 1 } };
	char err[256];

	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct pk_io_config cfg = { .n_queues = counts[i][0], .n_listeners = counts[i][1],
					    .tcp_max_conns = 4, .tcp_idle_timeout_s = 60 };

		for (unsigned li = 0; li < PK_IO_MAX_LISTENERS; li++) {
			cfg.listeners[li].transport = PK_TRANSPORT_UDP;
			assert_int_equal(pk_addr_parse(PK_STR_LIT("127.0.0.1:0"), false, &cfg.listeners[li].addr), 0);
		}
		err[0] = '\0';
		assert_null(pk_io_socket_create(&cfg, err, sizeof(err)));
		assert_string_equal(err, "bad queue or listener count");
	}
}

int main(void)
{
	if (getrlimit(RLIMIT_NOFILE, &nofile) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard_v4),
		cmocka_unit_test(test_wildcard_v6),
		cmocka_unit_test(test_bound_listener),
		cmocka_unit_test(test_udp_tx_burst_full),
		cmocka_unit_test(test_tcp_slow_reader),
		cmocka_unit_test(test_tcp_overflow),
		cmocka_unit_test(test_tcp_overflow_in_burst),
		cmocka_unit_test(test_tcp_stale_conn),
		cmocka_unit_test(test_tcp_refused),
		cmocka_unit_test_teardown(test_tcp_out_of_descriptors, restore_nofile),
		cmocka_unit_test(test_tcp_reset_before_answer),
		cmocka_unit_test(test_tcp_reset_idle),
		cmocka_unit_test(test_tcp_reset_with_backlog),
		cmocka_unit_test(test_tcp_reset_while_draining),
		cmocka_unit_test(test_wake),
		cmocka_unit_test(test_socket_buffer),
		cmocka_unit_test(test_create_port_in_use),
		cmocka_unit_test(test_create_bad_address),
		cmocka_unit_test(test_create_bad_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
