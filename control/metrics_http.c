/* SPDX-License-Identifier: MIT */
/*
 * The optional HTTP /metrics listener (include/pickup/metrics.h) on
 * libmicrohttpd, which does the HTTP/1.1 parsing, keep-alive, pipelining,
 * limits and timeouts (docs/metrics.md says why not by hand).
 *
 * It has no thread: MHD runs in external-poll mode with epoll (no
 * MHD_USE_INTERNAL_POLLING_THREAD), so its whole state is behind one epoll
 * descriptor that pickupd's control thread polls next to the control
 * socket, calling pk_metrics_http_run() when it is readable or when
 * pk_metrics_http_timeout_ms() has passed. Everything here - the request
 * handler and render() - therefore runs on the control thread; the object
 * belongs to it.
 *
 * We bind the listening socket ourselves and hand it to MHD: bind errors
 * then carry their errno to the operator ("Address already in use"), the
 * address is parsed like every other address of the configuration
 * (pk_addr_parse), and the bound port is known for port 0.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "pickup/addr.h"
#include "pickup/metrics.h"

/* A scraper or two, and an operator's curl: more is a misconfiguration. */
#define MH_MAX_CONNECTIONS 16
#define MH_CONN_TIMEOUT_S 10

struct pk_metrics_http {
	struct MHD_Daemon *d;
	int epoll_fd;
	uint16_t port;
	char *(*render)(void *arg);
	void *arg;
};

/* Marks a connection whose request headers have been seen (MHD calls the
 * handler once for the headers, then for each piece of body, then once
 * more with no data: answer then). */
static int mh_seen;

static void mh_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mh_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static enum MHD_Result mh_answer(struct MHD_Connection *c, unsigned status, const char *text,
				 const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result mh_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct pk_metrics_http *h = cls;
	(void)version;
	(void)upload_data;

	if (*con_cls == NULL) {
		*con_cls = &mh_seen;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0; /* a body (POST): read and ignored */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return mh_answer(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return mh_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");

	char *text = h->render(h->arg);
	if (text == NULL)
		return mh_answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "stats unavailable\n", NULL);
	/* MUST_FREE: MHD free()s text once the response is destroyed */
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

struct pk_metrics_http *pk_metrics_http_start(const char *addr_port, char *(*render)(void *arg),
					      void *arg, char *err, size_t errlen)
{
	struct pk_metrics_http *h = NULL;
	struct pk_addr a = { 0 };
	struct sockaddr_storage ss;
	int fd = -1;

	if (addr_port == NULL || render == NULL ||
	    pk_addr_parse(pk_str_make(addr_port, strlen(addr_port)), false, &a) != 0) {
		mh_err(err, errlen, "metrics listener: bad address '%s' (want ip:port or [ipv6]:port)",
		       addr_port ? addr_port : "");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		mh_err(err, errlen, "metrics listener: out of memory");
		return NULL;
	}
	h->render = render;
	h->arg = arg;
	h->epoll_fd = -1;

	socklen_t sl = pk_addr_to_sockaddr(&a, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sys_fail;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto sys_fail;
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto sys_fail;
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, MH_MAX_CONNECTIONS) != 0)
		goto sys_fail;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    pk_addr_from_sockaddr((struct sockaddr *)&ss, sl, &a) != 0)
		goto sys_fail;
	h->port = a.port;

	/* MHD_USE_EPOLL without an internal thread: external polling of the
	 * epoll fd. From here on MHD owns fd (MHD_stop_daemon closes it). */
	h->d = MHD_start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL,
				NULL, mh_request, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MH_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MH_CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_END);
	if (h->d == NULL) {
		mh_err(err, errlen, "metrics listener %s: libmicrohttpd refused to start", addr_port);
		/* whether MHD closed fd on its failure path depends on the
		 * version: leaking it is safer than closing a reused number */
		fd = -1;
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		mh_err(err, errlen, "metrics listener %s: no epoll descriptor", addr_port);
		MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	h->epoll_fd = info->epoll_fd;
	return h;

sys_fail:
	mh_err(err, errlen, "metrics listener %s: %s", addr_port, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	free(h);
	return NULL;
}

int pk_metrics_http_fd(const struct pk_metrics_http *h)
{
	return h->epoll_fd;
}

int pk_metrics_http_timeout_ms(const struct pk_metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	/* MHD_NO: no connection has a timeout pending */
	if (MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

void pk_metrics_http_run(struct pk_metrics_http *h)
{
	/* with an epoll daemon and no internal thread this does not block */
	MHD_run(h->d);
}

uint16_t pk_metrics_http_port(const struct pk_metrics_http *h)
{
	return h->port;
}

void pk_metrics_http_stop(struct pk_metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
