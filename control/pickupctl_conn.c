/* SPDX-License-Identifier: MIT */
/*
 * pickupctl: one request/response exchange with pickupd's control socket
 * (docs/control.md: one JSON object per line each way).
 *
 * Never hangs: the connect waits at most the timeout (SO_SNDTIMEO, which
 * Linux applies to a UNIX stream connect whose listener's backlog is full),
 * then the socket is non-blocking and every send and read waits in poll()
 * with the timeout. The timeout counts from the last progress, so a large
 * answer that keeps arriving is read to its end.
 *
 * Single-threaded; owns nothing beyond the call but the returned buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pickupctl_cli.h"

/* A response larger than this is refused rather than eating the memory. */
#define PK_CTL_RESP_MAX (1u << 30)

static int ctl_why(char *why, size_t size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int ctl_why(char *why, size_t size, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return rc;
}

static void ctl_timeout_text(char *buf, size_t size, int timeout_ms)
{
	if (timeout_ms % 1000 == 0)
		snprintf(buf, size, "%d s", timeout_ms / 1000);
	else
		snprintf(buf, size, "%.3g s", timeout_ms / 1000.0);
}

/* Wait for events on fd; 1 ready, 0 timed out, negative errno. */
static int ctl_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	struct timespec t0, t1;
	int left = timeout_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = poll(&p, 1, left);

		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
					  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
	}
}

static int ctl_connect(const char *path, int timeout_ms, char *why, size_t why_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	char t[32];
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ctl_why(why, why_size, -ENAMETOOLONG,
			       "path longer than a UNIX socket path may be (%zu bytes)",
			       sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ctl_why(why, why_size, -errno, "socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		goto fail_errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		switch (e) {
		case ENOENT:
			return ctl_why(why, why_size, -e,
				       "no such socket file (is pickupd running? is this its control_socket?)");
		case ECONNREFUSED:
			return ctl_why(why, why_size, -e,
				       "connection refused (no pickupd listening there: a stale socket file, or not a socket)");
		case EACCES:
		case EPERM:
			return ctl_why(why, why_size, -e,
				       "permission denied (the socket is pickupd's user's only: run as that user or root)");
		case EAGAIN:
		case EINPROGRESS:
			ctl_timeout_text(t, sizeof(t), timeout_ms);
			return ctl_why(why, why_size, -ETIMEDOUT,
				       "not accepted within %s (pickupd busy or stopped?)", t);
		default:
			return ctl_why(why, why_size, -e, "cannot connect: %s", strerror(e));
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		goto fail_errno;
	return fd;

fail_errno:
	e = errno;
	close(fd);
	return ctl_why(why, why_size, -e, "socket setup: %s", strerror(e));
}

static int ctl_send(int fd, const char *req, size_t len, int timeout_ms, char *why,
		    size_t why_size)
{
	char t[32];

	while (len > 0) {
		ssize_t n = send(fd, req, len, MSG_NOSIGNAL);
		int w;

		if (n > 0) {
			req += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return ctl_why(why, why_size, -errno,
				       "connection closed by pickupd before the request was sent");
		if (errno != EAGAIN)
			return ctl_why(why, why_size, -errno, "send: %s", strerror(errno));
		w = ctl_wait(fd, POLLOUT, timeout_ms);
		if (w < 0)
			return ctl_why(why, why_size, w, "poll: %s", strerror(-w));
		if (w == 0) {
			ctl_timeout_text(t, sizeof(t), timeout_ms);
			return ctl_why(why, why_size, -ETIMEDOUT,
				       "request not taken within %s (pickupd not reading)", t);
		}
	}
	return 0;
}

static int ctl_recv_line(int fd, int timeout_ms, char **resp, char *why, size_t why_size)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap), *nl;
	char t[32];
	int rc;

	if (buf == NULL)
		return ctl_why(why, why_size, -ENOMEM, "out of memory");
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *nb;

			if (cap >= PK_CTL_RESP_MAX) {
				rc = ctl_why(why, why_size, -EMSGSIZE,
					     "response larger than %u bytes", PK_CTL_RESP_MAX);
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				rc = ctl_why(why, why_size, -ENOMEM, "out of memory");
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n > 0) {
			nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl != NULL) {
				*nl = '\0';
				*resp = buf;
				return 0;
			}
			continue;
		}
		if (n == 0) {
			rc = ctl_why(why, why_size, -ECONNRESET,
				     "connection closed by pickupd before a complete response (%zu bytes received)",
				     len);
			goto fail;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET) {
			rc = ctl_why(why, why_size, -ECONNRESET,
				     "connection reset by pickupd before a complete response (%zu bytes received)",
				     len);
			goto fail;
		}
		if (errno != EAGAIN) {
			rc = ctl_why(why, why_size, -errno, "recv: %s", strerror(errno));
			goto fail;
		}
		rc = ctl_wait(fd, POLLIN, timeout_ms);
		if (rc < 0) {
			ctl_why(why, why_size, rc, "poll: %s", strerror(-rc));
			goto fail;
		}
		if (rc == 0) {
			ctl_timeout_text(t, sizeof(t), timeout_ms);
			rc = len == 0 ? ctl_why(why, why_size, -ETIMEDOUT, "no answer within %s", t)
				      : ctl_why(why, why_size, -ETIMEDOUT,
						"answer stalled for %s (%zu bytes received)", t, len);
			goto fail;
		}
	}
fail:
	free(buf);
	return rc;
}

int pk_ctl_transact(const char *path, const char *req, size_t req_len, int timeout_ms,
		    char **resp, char *why, size_t why_size)
{
	int fd, rc;

	*resp = NULL;
	fd = ctl_connect(path, timeout_ms, why, why_size);
	if (fd < 0)
		return fd;
	rc = ctl_send(fd, req, req_len, timeout_ms, why, why_size);
	if (rc == 0) {
		rc = ctl_recv_line(fd, timeout_ms, resp, why, why_size);
	} else if (rc == -EPIPE || rc == -ECONNRESET) {
		/* pickupd may refuse a client before reading its request
		 * (permission_denied, busy): its one response line is still
		 * queued here. Keep the send error if there is none. */
		char why2[64];

		if (ctl_recv_line(fd, timeout_ms, resp, why2, sizeof(why2)) == 0)
			rc = 0;
	}
	close(fd);
	return rc;
}
