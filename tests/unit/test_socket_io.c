/* SPDX-License-Identifier: MIT */
/*
 * The socket backend (dataplane/io/socket.c) on a listener bound to every
 * address, 0.0.0.0 or [::]: a datagram carries the address it came to
 * (IP_PKTINFO / IPV6_PKTINFO), and one sent with that address as its
 * source leaves from it, so that answers come from the address the peer
 * sent to (docs/config.md, `listen`). A listener bound to one address
 * sends from it whatever the message says. On loopback: 127.0.0.2 and
 * 127.0.0.3 are local addresses of every Linux host (127.0.0.0/8 is).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard_v4),
		cmocka_unit_test(test_wildcard_v6),
		cmocka_unit_test(test_bound_listener),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
