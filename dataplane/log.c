/* SPDX-License-Identifier: MIT */
/*
 * pk_log: the daemon's log lines, to stderr (with a timestamp, for a run in
 * the foreground or under a supervisor that keeps stderr) or to syslog
 * (facility daemon). The level is an atomic so that the control socket
 * (`set log_level`, pk_log_set_level) can change it while workers run.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pickup/log.h"

static const char *const pk_log_names[] = {
#define PK_LOG_NAME(id, name, prio) name,
	PK_LOG_FOREACH_LEVEL(PK_LOG_NAME)
#undef PK_LOG_NAME
};

static const int pk_log_prio[] = {
#define PK_LOG_PRIO(id, name, prio) prio,
	PK_LOG_FOREACH_LEVEL(PK_LOG_PRIO)
#undef PK_LOG_PRIO
};

/* Written by pk_log_open (before threads) and read by every thread:
 * relaxed is enough, a level change only needs to be seen eventually. */
static _Atomic int pk_log_level_cur = PK_LOG_INFO;
static enum pk_log_target pk_log_target_cur = PK_LOG_STDERR;
static const char *pk_log_ident = "pickupd";

void pk_log_open(const char *ident, enum pk_log_target target, enum pk_log_level level)
{
	if (pk_log_target_cur == PK_LOG_SYSLOG)
		closelog();
	pk_log_ident = ident;
	pk_log_target_cur = target;
	/* relaxed: see pk_log_level_cur */
	atomic_store_explicit(&pk_log_level_cur, (int)level, memory_order_relaxed);
	if (target == PK_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pk_log_close(void)
{
	if (pk_log_target_cur == PK_LOG_SYSLOG)
		closelog();
	pk_log_target_cur = PK_LOG_STDERR;
}

enum pk_log_level pk_log_get_level(void)
{
	/* relaxed: see pk_log_level_cur */
	return (enum pk_log_level)atomic_load_explicit(&pk_log_level_cur, memory_order_relaxed);
}

void pk_log_set_level(enum pk_log_level level)
{
	if ((unsigned)level >= PK_LOG_LEVEL_COUNT)
		return;
	/* relaxed: see pk_log_level_cur */
	atomic_store_explicit(&pk_log_level_cur, (int)level, memory_order_relaxed);
}

bool pk_log_enabled(enum pk_log_level level)
{
	/* relaxed: see pk_log_level_cur */
	return (int)level <= atomic_load_explicit(&pk_log_level_cur, memory_order_relaxed);
}

void pk_log(enum pk_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!pk_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pk_log_target_cur == PK_LOG_SYSLOG) {
		syslog(pk_log_prio[level], "%s", line);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One fprintf per line: stdio locks the stream, so lines from
		 * different threads do not interleave. */
		fprintf(stderr, "%s.%03ld %s[%d]: %s: %s\n", when, ts.tv_nsec / 1000000, pk_log_ident,
			(int)getpid(), pk_log_names[level], line);
	}
}

const char *pk_log_level_name(enum pk_log_level level)
{
	return (unsigned)level < PK_LOG_LEVEL_COUNT ? pk_log_names[level] : "?";
}

int pk_log_level_lookup(const char *name, unsigned len)
{
	for (int i = 0; i < PK_LOG_LEVEL_COUNT; i++)
		if (strlen(pk_log_names[i]) == len && memcmp(pk_log_names[i], name, len) == 0)
			return i;
	return -1;
}
