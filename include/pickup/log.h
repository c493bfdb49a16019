/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon: one line per event, to stderr or syslog, filtered
 * by level. Start-up, shutdown, configuration and connection-level events
 * are logged; packets never are (a worker counts them instead: logging per
 * packet is a syscall and a lock per packet).
 *
 * pk_log may be called from any thread, workers included, but only off the
 * per-packet path (start/stop of a loop, a failed bind). Levels follow
 * syslog's names and order.
 */
#ifndef PICKUP_LOG_H
#define PICKUP_LOG_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: level id, name in the configuration, syslog priority. */
#define PK_LOG_FOREACH_LEVEL(_)      \
	_(ERROR, "error", LOG_ERR)   \
	_(WARNING, "warning", LOG_WARNING) \
	_(NOTICE, "notice", LOG_NOTICE) \
	_(INFO, "info", LOG_INFO)    \
	_(DEBUG, "debug", LOG_DEBUG)

enum pk_log_level {
#define PK_LOG_LEVEL_ENUM(id, name, prio) PK_LOG_##id,
	PK_LOG_FOREACH_LEVEL(PK_LOG_LEVEL_ENUM)
#undef PK_LOG_LEVEL_ENUM
	PK_LOG_LEVEL_COUNT
};

enum pk_log_target {
	PK_LOG_STDERR,
	PK_LOG_SYSLOG,
};

/* Where and what to log from now on. ident names the program in syslog and
 * on stderr. Not thread-safe: call before threads start (or after they
 * stop). The default before any call is stderr, level info. */
void pk_log_open(const char *ident, enum pk_log_target target, enum pk_log_level level);
/* Back to stderr; closes syslog. Main thread, after workers stopped. */
void pk_log_close(void);

/* The threshold now / change it while threads run (control socket `set
 * log_level`). Any thread: a relaxed atomic, seen by other threads at
 * their next message. */
enum pk_log_level pk_log_get_level(void);
void pk_log_set_level(enum pk_log_level level);

/* Would a message at this level be written? Any thread. */
bool pk_log_enabled(enum pk_log_level level);

/* Write one line (no newline needed). Any thread, never per packet. */
void pk_log(enum pk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Level name ("info") and lookup by name (-1 if unknown). Any thread. */
const char *pk_log_level_name(enum pk_log_level level);
int pk_log_level_lookup(const char *name, unsigned len);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_LOG_H */
