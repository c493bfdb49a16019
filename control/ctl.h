/* SPDX-License-Identifier: MIT */
/*
 * The control thread's event loop and the control socket server
 * (docs/control.md): one epoll set over a signalfd (SIGTERM/SIGINT stop,
 * SIGHUP reloads the groups file), a 10 ms timerfd for the housekeeping of
 * the shared tables, the control socket's listener and clients, and extra
 * descriptors other control-plane parts hand in (the metrics HTTP
 * listener). Every command runs here, on the control thread: it is the
 * group index's single writer and an RCU reader (tid given at creation)
 * for the listings. Workers never call anything in this file.
 *
 * Private to the daemon (built into pickupd with dataplane/); needs struct
 * pk_engine (dataplane/worker.h).
 */
#ifndef PICKUP_CTL_H
#define PICKUP_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

struct pk_engine;
struct pk_ctl;

/* Housekeeping period, and the listings' default limit. */
#define PK_CTL_TICK_MS 10
#define PK_CTL_MAX_CLIENTS 32
#define PK_CTL_IDLE_S 60
#define PK_CTL_LIST_DEFAULT 1000

struct pk_ctl_config {
	const char *socket_path; /* NULL or "": no control socket */
	const char *config_path; /* the engine settings file (status) */
	unsigned tid;		 /* the control thread's RCU / table thread id */
	const sigset_t *sigs;	 /* blocked signals to take (TERM, INT, HUP) */
	/* Called every PK_CTL_TICK_MS with the engine and tid (expiry sweeps,
	 * RCU reclamation). */
	void (*tick)(struct pk_engine *eng, unsigned tid);
};

/*
 * Set up the loop and, when a path is given, the socket: mode 0600 (umask
 * 0177 while binding), a stale socket file replaced, anything else at the
 * path an error. NULL with err set on failure. Control thread, after the
 * shared tables exist (eng->groups, calltab, location, trusted).
 */
struct pk_ctl *pk_ctl_create(struct pk_engine *eng, const struct pk_ctl_config *cfg, char *err, size_t errlen);
/* Close every client and the listener, unlink the socket file. NULL is
 * fine. Control thread. */
void pk_ctl_destroy(struct pk_ctl *c);

/* Run until SIGTERM/SIGINT or a `shutdown` command. 0, or a negative errno
 * if the loop itself failed. Control thread. */
int pk_ctl_run(struct pk_ctl *c);

/* Watch another descriptor in the loop: fn(arg) runs on the control
 * thread whenever fd is readable, and once a second anyway (for the
 * owner's timeouts): the metrics HTTP listener (pk_metrics_http_fd /
 * pk_metrics_http_run). At most 4. 0 or a negative errno. */
int pk_ctl_watch_fd(struct pk_ctl *c, int fd, void (*fn)(void *arg), void *arg);

/*
 * Re-read the groups file, check it against the engine settings, publish
 * it and apply its ring timeout; on any error nothing changes and msg says
 * why ("file:line:col: reason"). Returns 0 or a negative errno (-EINVAL
 * config error, -ENOSPC capacity, -ENOMEM). Control thread (SIGHUP and the
 * `reload` command).
 */
int pk_ctl_reload(struct pk_ctl *c, char *msg, size_t msglen);

/*
 * The stats object of the `stats` command (docs/control.md, "Stats").
 * Safe from ANY thread while workers run (the DPDK telemetry thread, the
 * metrics HTTP listener): it reads counters with relaxed loads and the
 * caches the control thread keeps; it never walks the group index or the
 * ringing-call table. NULL on no memory. The caller owns the result.
 */
json_t *pk_ctl_stats_json(struct pk_engine *eng);

/* Refresh eng->groups_cache from the current view. Control thread (the
 * group index's writer), after every change; main() calls it at start-up. */
void pk_ctl_groups_cache_update(struct pk_engine *eng);

/* The path of the listening socket, NULL when disabled. */
const char *pk_ctl_socket_path(const struct pk_ctl *c);

#endif /* PICKUP_CTL_H */
