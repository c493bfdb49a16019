/* SPDX-License-Identifier: MIT */
/*
 * The registrar (RFC 3261 §10.3) as the daemon uses it: the REGISTER
 * handler of the worker's handler table, the pure function behind it (so
 * that tests drive the whole decision without sockets or threads), the
 * loading of static bindings from the configuration, and the counter log
 * line. The bindings themselves live in the location table
 * (include/pickup/location.h); docs/registrar.md says what is answered
 * when.
 *
 * Private to the daemon (dataplane/).
 */
#ifndef PICKUP_REGISTRAR_H
#define PICKUP_REGISTRAR_H

#include "pickup/engine_conf.h"
#include "pickup/io.h"
#include "pickup/location.h"
#include "pickup/sip.h"

struct pk_worker;

/* Room for the header lines of an answer: a Contact line per binding of an
 * AoR (PK_LOC_MAX_CONTACTS of up to PK_LOC_URI_MAX bytes), a Date and a
 * Warning. */
#define PK_REGISTRAR_HDRS_MAX 8192
/* Retry-After of a 503 (table full), seconds. */
#define PK_REGISTRAR_RETRY_AFTER 60
/* Option tags a REGISTER may Require (none: no path, gruu, outbound). */
#define PK_REGISTRAR_SUPPORTED 0u

/* What the decision needs besides the request. */
struct pk_registrar_env {
	const struct pk_engine_conf *conf; /* served domains, trusted networks, timers */
	/* The live trusted networks (RCU-published, see struct pk_engine);
	 * NULL: conf's. */
	const struct pk_trusted_set *trusted;
	struct pk_location *loc;
	unsigned tid;	 /* the caller's thread id in loc (a worker's id) */
	uint64_t now_ns; /* monotonic */
	int64_t wall_s;	 /* UNIX time for the Date header; negative: no Date */
};

/* The answer: status and the header lines to add to the response (each
 * ending in CRLF; Contact, Min-Expires, Retry-After, Unsupported, Date,
 * Warning as the status calls for). */
struct pk_registrar_answer {
	unsigned status;
	uint32_t len;
	char hdrs[PK_REGISTRAR_HDRS_MAX];
};

/*
 * Decide the answer to an accepted REGISTER msg received as rx, applying
 * its changes to env->loc, and count the outcome in env->loc's counters.
 * Returns ans->status. Worker-safe (no allocation, lock only the location
 * table's writer lock of the AoR, no syscall).
 */
unsigned pk_registrar_process(const struct pk_registrar_env *env, const struct pk_io_msg *rx,
			      const struct pk_sip_msg *msg, struct pk_registrar_answer *ans);

/* The REGISTER handler (pk_worker_request_fn): pk_registrar_process, then
 * pk_worker_reply. Needs w->eng->location. Worker. */
void pk_registrar_handle(struct pk_worker *w, const struct pk_io_msg *rx, struct pk_sip_msg *msg);

/*
 * Put conf's static bindings (resolved: every binding has its domain) into
 * loc. 0, or a negative errno with "file:line:col: reason" in err.
 * Control thread, at start-up.
 */
int pk_registrar_load_static(struct pk_location *loc, unsigned tid, const struct pk_engine_conf *conf,
			     char *err, size_t errlen);

/*
 * Fill a static contact from its URI as written in the configuration: the
 * URI, transport (transport=tcp: TCP, else UDP) and, when the host is an
 * IP literal, src (port default 5060). 0, -EINVAL (not a sip: or sips:
 * URI, longer than PK_LOC_URI_MAX) or -EPROTONOSUPPORT (a sips: URI: TLS
 * only, which pickupd does not speak; the configuration refuses it first).
 * Any thread.
 */
int pk_registrar_static_contact(struct pk_str uri, struct pk_loc_contact *c);

/* Log the location and registrar counters (and the table's use) at info
 * level, one line. Control thread. */
void pk_registrar_log_counters(const struct pk_location *loc);

#endif /* PICKUP_REGISTRAR_H */
