/* SPDX-License-Identifier: MIT */
/*
 * Telemetry exports of pickupd's control plane: the stats object of the
 * control socket (docs/control.md "Stats") rendered as Prometheus text,
 * served on an HTTP /metrics listener, and registered as DPDK telemetry
 * commands. docs/metrics.md has the names and how to read them.
 *
 * Threading: none of this is for workers. The renderer is a pure function
 * (any thread). The HTTP listener has no thread of its own: its owner (the
 * control thread) polls pk_metrics_http_fd() and calls pk_metrics_http_run(),
 * so render() runs on that thread. The DPDK telemetry callbacks run on
 * DPDK's telemetry thread: the snapshot function passed to
 * pk_telemetry_register must be callable from any thread.
 */
#ifndef PICKUP_METRICS_H
#define PICKUP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The stats object (layout of docs/control.md "Stats") as Prometheus text
 * exposition format 0.0.4: one "# HELP" and one "# TYPE" line per metric
 * family, then its samples. Names are derived from the JSON keys (mapping
 * in docs/metrics.md), so a counter added to an X-macro appears without a
 * change here. Members of unexpected types are skipped. Returns a malloc'd
 * NUL-terminated string (free() it), or NULL when out of memory. Any
 * thread; stats is only read.
 */
char *pk_metrics_prometheus(const json_t *stats);

/* ---- HTTP /metrics listener (libmicrohttpd, driven by its owner) ---- */

struct pk_metrics_http;

/*
 * Listen on addr_port ("127.0.0.1:9105", "[::1]:9105"; port 0 picks a free
 * port, see pk_metrics_http_port). GET (or HEAD) /metrics answers 200 with
 * render(arg)'s text (malloc'd; freed here once sent; NULL from render is
 * answered 500), other paths 404, other methods 405. Returns NULL with a
 * message in err on failure (bad address, bind refused, no memory) that
 * names the listener and its address, ready to log as it is: "metrics
 * listener 127.0.0.1:9105: Address already in use".
 * Control thread; nothing runs until pk_metrics_http_run.
 */
struct pk_metrics_http *pk_metrics_http_start(const char *addr_port, char *(*render)(void *arg),
					      void *arg, char *err, size_t errlen);
/* The one descriptor to poll for input (an epoll fd covering the listening
 * socket and every connection). */
int pk_metrics_http_fd(const struct pk_metrics_http *h);
/* How long the owner may wait before calling pk_metrics_http_run even if
 * the fd stays quiet (connection timeouts), in ms; -1 = no limit. */
int pk_metrics_http_timeout_ms(const struct pk_metrics_http *h);
/* Accept, read, answer and time out connections; never blocks. Call when
 * the fd is readable or the timeout passed. */
void pk_metrics_http_run(struct pk_metrics_http *h);
/* The port bound (useful after asking for port 0). */
uint16_t pk_metrics_http_port(const struct pk_metrics_http *h);
/* Close the listener and every connection; NULL is a no-op. */
void pk_metrics_http_stop(struct pk_metrics_http *h);

/* ---- DPDK telemetry ---- */

/*
 * Register /pickupd/stats, /pickupd/workers and /pickupd/status with DPDK
 * telemetry. Each request calls snapshot(arg) on DPDK's telemetry thread
 * (so it must be thread-safe) and json_decref()s the object it returns
 * (NULL: the request fails). May be called before or after the EAL is
 * initialised; calling it again replaces snapshot/arg (commands are
 * registered once). snapshot NULL detaches: when it returns, no callback
 * uses the old arg any more and requests answer null - call it before
 * freeing what arg points to (DPDK cannot unregister a command).
 * Returns 0 or a negative errno.
 */
int pk_telemetry_register(json_t *(*snapshot)(void *arg), void *arg);

/*
 * For the socket backend with `telemetry: true`: initialise a minimal EAL
 * only to get DPDK's telemetry socket (no hugepages, no PCI, no shared
 * files, logs at error level; the socket is
 * <runtime dir>/<file_prefix>/dpdk_telemetry.v2). The calling thread's CPU
 * affinity is restored afterwards (the EAL pins it to one core), so threads
 * it creates later are not confined to that core. Once per process; main
 * thread before other threads start. Returns 0 or a negative errno with a
 * message in err.
 */
int pk_telemetry_eal_init(const char *file_prefix, char *err, size_t errlen);
/* The telemetry socket of this process (to log it): the one
 * pk_telemetry_eal_init opened, or, when another part started the EAL
 * (the dpdk backend), the one found in its runtime directory; NULL if
 * none. A second process with the same prefix gets "dpdk_telemetry.v2:1"
 * (dpdk-telemetry.py -i 1). Main thread. */
const char *pk_telemetry_socket_path(void);
/* rte_eal_cleanup() after pk_telemetry_eal_init (and the empty runtime
 * directory removed); no-op otherwise. Main thread, at exit. */
void pk_telemetry_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_METRICS_H */
