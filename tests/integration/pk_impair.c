/* SPDX-License-Identifier: MIT */
/*
 * pk-impair: netem's "loss L% reorder R% delay D ms" in user space, for
 * kernels built without sch_netem (test_faults.sh netem,
 * docs/reliability.md "Faults"). A netfilter rule (nft `queue`, or the
 * iptables NFQUEUE target) hands the test's SIP packets to an NFQUEUE; this
 * program binds that queue and gives each packet a verdict:
 *
 *   - with probability L: NF_DROP (loss);
 *   - else with probability R: held for D ms, then NF_ACCEPT; packets that
 *     come meanwhile and are accepted at once overtake it (reordering:
 *     NFQUEUE verdicts may be given in any order);
 *   - else NF_ACCEPT at once.
 *
 * The decisions come from a seeded PRNG (-s, printed at start) so that a
 * failure's sequence of drops and holds can be replayed. Counters (seen,
 * dropped, delayed, accepted, reordered, ... and per direction) are printed
 * on SIGTERM/SIGINT and written to the file given with -c, so that the test
 * can check that loss and reordering really happened. Once the queue is
 * bound, "ready" is written to the file given with -w (a FIFO the test
 * reads, or a plain file). On SIGTERM/SIGINT the held packets are accepted
 * before exiting, so that nothing stays queued in the kernel.
 *
 * Netlink through libmnl and libnetfilter_queue's nfq_nlmsg_* helpers
 * (Debian libnetfilter-queue-dev, libmnl-dev); only packet metadata is
 * copied to user space (NFQNL_COPY_META).
 *
 * Threading and ownership: one thread, one poll() loop over the netlink
 * socket, a timerfd (the earliest held packet's release time) and a
 * signalfd. All state is static: no allocation per packet, the held
 * packets live in a fixed ring of (id, release time). Every held packet is
 * held for the same D, so the ring in arrival order is also sorted by
 * release time and only its head needs the timer. When the ring is full a
 * packet is accepted at once (counted in hold_full).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define PK_IMPAIR_RING 4096 /* held packets at most; also the kernel queue length */
#define PK_IMPAIR_MSG 8192  /* one netlink request (libmnl's MNL_SOCKET_BUFFER_SIZE is not a constant) */
#define PK_IMPAIR_RX 65536  /* one receive: metadata-only packet messages */

/* The counters, each one line of the counters file: name, meaning. */
#define PK_IMPAIR_COUNTERS(X)                                              \
	X(seen, "packets given to us")                                     \
	X(dropped, "NF_DROP (loss)")                                       \
	X(delayed, "held for the delay, then accepted")                    \
	X(accepted, "accepted at once")                                    \
	X(reordered, "accepted at once while an earlier packet of the same direction was held") \
	X(hold_full, "to be held, but the ring was full: accepted at once") \
	X(seen_in, "packets entering (prerouting, input)")                 \
	X(seen_out, "packets leaving (output, postrouting, forward)")      \
	X(dropped_in, "dropped entering")                                  \
	X(dropped_out, "dropped leaving")                                  \
	X(delayed_in, "held entering")                                     \
	X(delayed_out, "held leaving")                                     \
	X(verdict_errors, "verdicts that could not be sent or the kernel refused")

enum pk_impair_counter {
#define PK_IMPAIR_ENUM(n, d) PK_IMPAIR_##n,
	PK_IMPAIR_COUNTERS(PK_IMPAIR_ENUM)
#undef PK_IMPAIR_ENUM
	PK_IMPAIR_N_COUNTERS
};

static const char *const pk_impair_counter_names[] = {
#define PK_IMPAIR_NAME(n, d) #n,
	PK_IMPAIR_COUNTERS(PK_IMPAIR_NAME)
#undef PK_IMPAIR_NAME
};

enum pk_impair_dir { PK_IMPAIR_IN, PK_IMPAIR_OUT };

struct pk_impair_held {
	uint32_t id;
	uint8_t dir;
	uint64_t due_ns; /* CLOCK_MONOTONIC */
};

static struct {
	/* options */
	uint16_t queue;
	double loss, hold; /* probabilities, 0..1 */
	uint64_t delay_ns;
	uint64_t seed;
	const char *ready_path, *counters_path;
	bool probe;
	/* state */
	struct mnl_socket *nl;
	uint32_t portid;
	int tfd, sfd;
	uint64_t rng;
	struct pk_impair_held ring[PK_IMPAIR_RING];
	uint32_t head, n_held;   /* ring[head] is the oldest */
	uint32_t held_dir[2];    /* held packets per direction */
	uint64_t counters[PK_IMPAIR_N_COUNTERS];
} pk;

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, any seed. */
static uint64_t
pk_impair_rand(void)
{
	uint64_t z = (pk.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
pk_impair_uniform(void)
{
	return (double)(pk_impair_rand() >> 11) * 0x1.0p-53;
}

static uint64_t
pk_impair_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
pk_impair_send(struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(pk.nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

static int pk_impair_on_msg(const struct nlmsghdr *nlh, void *data);

/* A configuration request, acknowledged: 0 or the kernel's negative errno.
 * Packets queued meanwhile (once bound) get their verdicts as usual. */
static int
pk_impair_config(struct nlmsghdr *nlh)
{
	static char buf[PK_IMPAIR_RX];
	static uint32_t seq;
	ssize_t n;
	int rc;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	rc = pk_impair_send(nlh);
	if (rc < 0)
		return rc;
	do {
		n = mnl_socket_recvfrom(pk.nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		/* the ack (error 0) ends with MNL_CB_STOP, an error with -1 */
		rc = mnl_cb_run(buf, (size_t)n, seq, pk.portid, pk_impair_on_msg, NULL);
	} while (rc == MNL_CB_OK);
	return rc < 0 ? -errno : 0;
}

static void
pk_impair_verdict(uint32_t id, int verdict)
{
	static char buf[PK_IMPAIR_MSG];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, pk.queue);

	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (pk_impair_send(nlh) < 0)
		pk.counters[PK_IMPAIR_verdict_errors]++;
}

/* Arms the timer for the oldest held packet, or disarms it. */
static void
pk_impair_arm(void)
{
	struct itimerspec its = {0};

	if (pk.n_held > 0) {
		uint64_t due = pk.ring[pk.head].due_ns;

		its.it_value.tv_sec = (time_t)(due / 1000000000ULL);
		its.it_value.tv_nsec = (long)(due % 1000000000ULL);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* zero would disarm */
	}
	timerfd_settime(pk.tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Accepts the held packets due by now (all of them with now UINT64_MAX). */
static void
pk_impair_release(uint64_t now)
{
	while (pk.n_held > 0 && pk.ring[pk.head].due_ns <= now) {
		struct pk_impair_held *h = &pk.ring[pk.head];

		pk_impair_verdict(h->id, NF_ACCEPT);
		pk.held_dir[h->dir]--;
		pk.head = (pk.head + 1) % PK_IMPAIR_RING;
		pk.n_held--;
	}
}

static void
pk_impair_packet(uint32_t id, uint8_t hook)
{
	enum pk_impair_dir dir = hook == NF_INET_PRE_ROUTING || hook == NF_INET_LOCAL_IN
		? PK_IMPAIR_IN : PK_IMPAIR_OUT;
	uint64_t *c = pk.counters;

	c[PK_IMPAIR_seen]++;
	c[dir == PK_IMPAIR_IN ? PK_IMPAIR_seen_in : PK_IMPAIR_seen_out]++;
	if (pk_impair_uniform() < pk.loss) {
		c[PK_IMPAIR_dropped]++;
		c[dir == PK_IMPAIR_IN ? PK_IMPAIR_dropped_in : PK_IMPAIR_dropped_out]++;
		pk_impair_verdict(id, NF_DROP);
		return;
	}
	if (pk_impair_uniform() < pk.hold) {
		if (pk.n_held < PK_IMPAIR_RING) {
			struct pk_impair_held *h = &pk.ring[(pk.head + pk.n_held) % PK_IMPAIR_RING];

			h->id = id;
			h->dir = (uint8_t)dir;
			h->due_ns = pk_impair_now_ns() + pk.delay_ns;
			pk.n_held++;
			pk.held_dir[dir]++;
			c[PK_IMPAIR_delayed]++;
			c[dir == PK_IMPAIR_IN ? PK_IMPAIR_delayed_in : PK_IMPAIR_delayed_out]++;
			if (pk.n_held == 1)
				pk_impair_arm();
			return;
		}
		c[PK_IMPAIR_hold_full]++;
	}
	if (pk.held_dir[dir] > 0)
		c[PK_IMPAIR_reordered]++;
	c[PK_IMPAIR_accepted]++;
	pk_impair_verdict(id, NF_ACCEPT);
}

static int
pk_impair_on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	const struct nfqnl_msg_packet_hdr *ph;

	(void)data;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL)
		return MNL_CB_OK; /* not a packet: nothing to decide */
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	pk_impair_packet(ntohl(ph->packet_id), ph->hook);
	return MNL_CB_OK;
}

static void
pk_impair_print(FILE *f, const char *sep)
{
	for (int i = 0; i < PK_IMPAIR_N_COUNTERS; i++)
		fprintf(f, "%s%s %" PRIu64, i ? sep : "", pk_impair_counter_names[i], pk.counters[i]);
}

static int
pk_impair_write_counters(void)
{
	FILE *f;

	if (pk.counters_path == NULL)
		return 0;
	f = fopen(pk.counters_path, "w");
	if (f == NULL)
		return -errno;
	pk_impair_print(f, "\n");
	fputc('\n', f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

static int
pk_impair_write_ready(void)
{
	static const char line[] = "ready\n";
	int fd;
	ssize_t n;

	if (pk.ready_path == NULL)
		return 0;
	/* a FIFO the test holds open (does not block) or a plain file */
	fd = open(pk.ready_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, line, sizeof(line) - 1);
	close(fd);
	return n == (ssize_t)(sizeof(line) - 1) ? 0 : -EIO;
}

/* Binds the queue: 0 or a negative errno (EPERM without CAP_NET_ADMIN,
 * EBUSY when another program has it). */
static int
pk_impair_bind(void)
{
	static char buf[PK_IMPAIR_MSG];
	struct nlmsghdr *nlh;
	int one = 1, rc, rcvbuf = 4 << 20;

	pk.nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (pk.nl == NULL)
		return -errno;
	if (mnl_socket_bind(pk.nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	pk.portid = mnl_socket_get_portid(pk.nl);
	/* a burst beyond the socket buffer would otherwise end the loop with
	 * ENOBUFS; the kernel drops what does not fit, as a lossy link does */
	mnl_socket_setsockopt(pk.nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(pk.nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, pk.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	rc = pk_impair_config(nlh);
	if (rc < 0)
		return rc;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, pk.queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, PK_IMPAIR_RING);
	return pk_impair_config(nlh);
}

static int
pk_impair_loop(void)
{
	static char buf[PK_IMPAIR_RX];
	struct pollfd pfd[3] = {
		{.fd = mnl_socket_get_fd(pk.nl), .events = POLLIN},
		{.fd = pk.tfd, .events = POLLIN},
		{.fd = pk.sfd, .events = POLLIN},
	};

	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[2].revents & POLLIN)
			return 0; /* SIGTERM or SIGINT */
		if (pfd[1].revents & POLLIN) {
			uint64_t expirations;

			if (read(pk.tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
				return -errno;
			pk_impair_release(pk_impair_now_ns());
			pk_impair_arm();
		}
		if (pfd[0].revents & POLLIN) {
			ssize_t n = recv(pfd[0].fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
					continue;
				return -errno;
			}
			/* a verdict the kernel refused comes back as an error */
			if (mnl_cb_run(buf, (size_t)n, 0, pk.portid, pk_impair_on_msg, NULL) < 0 &&
			    pk.counters[PK_IMPAIR_verdict_errors]++ == 0)
				fprintf(stderr, "pk-impair: netlink error: %s\n", strerror(errno));
		}
	}
}

static void
pk_impair_usage(FILE *f)
{
	fprintf(f,
		"usage: pk-impair [-q QUEUE] [-l LOSS%%] [-r REORDER%%] [-d DELAY_MS] [-s SEED]\n"
		"                 [-w READY_FILE] [-c COUNTERS_FILE] [-P]\n"
		"Gives verdicts to the packets of NFQUEUE QUEUE (default 0): dropped with\n"
		"probability LOSS (default 10), else held DELAY_MS (default 2) with\n"
		"probability REORDER (default 25), else accepted at once. -P: bind the\n"
		"queue and exit (can this kernel do it?). Counters on SIGTERM/SIGINT.\n");
}

static int
pk_impair_percent(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 100.0))
		return -EINVAL;
	*out = v / 100.0;
	return 0;
}

static int
pk_impair_options(int argc, char **argv)
{
	unsigned long long v;
	double delay_ms = 2.0;
	bool seeded = false;
	char *end;
	int opt;

	pk.loss = 0.10;
	pk.hold = 0.25;
	while ((opt = getopt(argc, argv, "q:l:r:d:s:w:c:Ph")) != -1) {
		switch (opt) {
		case 'q':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || v > UINT16_MAX)
				return -EINVAL;
			pk.queue = (uint16_t)v;
			break;
		case 'l':
			if (pk_impair_percent(optarg, &pk.loss) < 0)
				return -EINVAL;
			break;
		case 'r':
			if (pk_impair_percent(optarg, &pk.hold) < 0)
				return -EINVAL;
			break;
		case 'd':
			errno = 0;
			delay_ms = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || end == optarg || !(delay_ms >= 0.0 && delay_ms <= 60000.0))
				return -EINVAL;
			break;
		case 's':
			errno = 0;
			pk.seed = strtoull(optarg, &end, 0);
			if (errno != 0 || *end != '\0' || end == optarg)
				return -EINVAL;
			seeded = true;
			break;
		case 'w':
			pk.ready_path = optarg;
			break;
		case 'c':
			pk.counters_path = optarg;
			break;
		case 'P':
			pk.probe = true;
			break;
		case 'h':
			pk_impair_usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	pk.delay_ns = (uint64_t)(delay_ms * 1e6);
	if (!seeded)
		pk.seed = pk_impair_now_ns() ^ ((uint64_t)getpid() << 32);
	pk.rng = pk.seed;
	return 0;
}

int
main(int argc, char **argv)
{
	sigset_t mask;
	int rc, wrc;

	if (pk_impair_options(argc, argv) < 0) {
		pk_impair_usage(stderr);
		return 2;
	}
	/* the signals are read from the signalfd in the loop, never delivered */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		goto fail_errno;
	pk.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	pk.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pk.sfd < 0 || pk.tfd < 0)
		goto fail_errno;
	rc = pk_impair_bind();
	if (rc < 0) {
		fprintf(stderr, "pk-impair: cannot bind NFQUEUE %u: %s\n", pk.queue, strerror(-rc));
		return 1;
	}
	if (pk.probe) {
		printf("pk-impair: NFQUEUE %u can be bound\n", pk.queue);
		return 0;
	}
	printf("pk-impair: queue %u loss %g%% reorder %g%% delay %g ms seed %" PRIu64 "\n",
	       pk.queue, pk.loss * 100.0, pk.hold * 100.0, (double)pk.delay_ns / 1e6, pk.seed);
	fflush(stdout);
	rc = pk_impair_write_ready();
	if (rc < 0) {
		fprintf(stderr, "pk-impair: ready file %s: %s\n", pk.ready_path, strerror(-rc));
		return 1;
	}

	rc = pk_impair_loop();
	/* let the held packets go: nothing stays queued behind us */
	pk_impair_release(UINT64_MAX);
	printf("pk-impair: ");
	pk_impair_print(stdout, ", ");
	printf(" (seed %" PRIu64 ")\n", pk.seed);
	fflush(stdout);
	if ((wrc = pk_impair_write_counters()) < 0) {
		fprintf(stderr, "pk-impair: counters file %s: %s\n", pk.counters_path, strerror(-wrc));
		return 1;
	}
	mnl_socket_close(pk.nl);
	if (rc < 0) {
		fprintf(stderr, "pk-impair: %s\n", strerror(-rc));
		return 1;
	}
	return 0;

fail_errno:
	fprintf(stderr, "pk-impair: %s\n", strerror(errno));
	return 1;
}
