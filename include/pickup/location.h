/* SPDX-License-Identifier: MIT */
/*
 * The location service: which contacts an address-of-record (user@domain)
 * is reachable at, as phones registered them (the registrar,
 * dataplane/proxy/registrar.c) or as the configuration binds them (static
 * bindings, for trunks and gateways that do not register). The proxy asks
 * it where to send a request for one of our users; the registrar is the
 * only one that changes registered bindings.
 *
 * One table is shared by all workers. Lookups never block, take no lock and
 * never retry: an AoR's bindings are an immutable snapshot that a writer
 * replaces as a whole (one release store in its bucket's chain), and a
 * replaced snapshot is recycled through pk_rcu only once every worker has
 * passed a quiescent state. Writers (REGISTER on any worker, the expiry
 * sweep on the control thread) serialise per bucket with a small spinlock
 * that readers never look at. Memory is preallocated at creation; nothing
 * is allocated per request. docs/registrar.md has the layout, the memory
 * budget and the memory-ordering argument.
 *
 * Threads. Every function that takes a `tid` (< max_threads given at
 * creation, unique per thread) uses it for the caller's counter block and
 * retire list. Callers of pk_location_lookup must be registered with the
 * RCU domain and online (a worker always is while it handles a message);
 * what lookup returns is a copy, so nothing stays referenced after it.
 * Times are monotonic nanoseconds passed in by the caller.
 */
#ifndef PICKUP_LOCATION_H
#define PICKUP_LOCATION_H

#include "pickup/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pk_rcu;
struct pk_location;

/* Longest contact URI kept (bytes, no NUL). */
#define PK_LOC_URI_MAX 256
/* Contacts of one AoR, static ones included: the 8 a static binding may
 * have (PK_ENGINE_MAX_CONTACTS) plus the 8 one REGISTER may carry
 * (PK_SIP_MAX_CONTACT), so that a REGISTER can always be applied. */
#define PK_LOC_MAX_CONTACTS 16
/* `listener` of a static binding: none implied, the proxy picks one. */
#define PK_LOC_LISTENER_ANY 0xff
/* Longest user part (normalised) and domain of an AoR: those of the group
 * index (PK_GROUPS_USER_MAX, PK_GROUPS_DOMAIN_MAX). */
#define PK_LOC_USER_MAX 128
#define PK_LOC_DOMAIN_MAX 253

/*
 * One contact of an AoR, as lookups copy it out.
 *
 * Where to send a request for it (the rule the proxy follows; the same as
 * Kamailio's fix_nated_register + nathelper, which always use the
 * REGISTER's source): over UDP always to `src`, the source address and
 * port of the REGISTER, from the listener `listener` (a NAT keeps one
 * mapping per address pair: a request from another local port would be
 * dropped by it); the Request-URI is `uri`. Over TCP on connection `conn`
 * while it is open (RFC 5626-style connection reuse: a phone behind NAT
 * cannot be connected to), else to the host and port of `uri` on a new
 * connection. `nat` only says that `uri` does not name `src` (logs,
 * statistics). For a static binding `src` is the URI's IP literal and port
 * (default 5060) and `transport` its transport= parameter,
 * `listener` PK_LOC_LISTENER_ANY; `src.family` is 0 when the URI names a
 * host, which a worker cannot resolve (DNS is not done on the packet
 * path). `uri` is never a sips: URI: the registrar and the configuration
 * refuse them (TLS only, RFC 5630 §4, which pickupd does not speak).
 */
struct pk_loc_contact {
	uint16_t uri_len;
	uint8_t transport; /* enum pk_transport the REGISTER came on */
	uint8_t listener;  /* index of our listener it came in on */
	bool is_static;	   /* from the configuration: never expires, REGISTER cannot change it */
	bool nat;	   /* uri's host:port is not src (see above) */
	int16_t q;	   /* q-value x 1000 (0..1000); -1: not given (means 1.0) */
	uint32_t cseq;	   /* CSeq of the REGISTER that made it (0 for static) */
	uint32_t pad_;
	struct pk_addr src; /* the REGISTER's source address and port */
	uint64_t conn;	   /* TCP connection id (include/pickup/io.h), 0 for UDP */
	uint64_t expires;  /* monotonic ns; UINT64_MAX for a static binding */
	uint64_t registered; /* monotonic ns of the REGISTER that made or refreshed it; 0 static */
	uint64_t call_id_hash; /* of that REGISTER's Call-ID (RFC 3261 §10.3 step 7) */
	/* Last, so that a lookup copies the fields and only uri_len bytes of
	 * it (a typical URI fits the same two cache lines). */
	char uri[PK_LOC_URI_MAX]; /* the Contact URI as registered, not NUL-terminated */
};

/*
 * Counters (X-macro: id, name): the table's events and the registrar's
 * answers, per thread, summed by pk_location_stats. Events, not gauges
 * (pk_location_in_use is the gauge).
 */
#define PK_LOC_FOREACH_COUNTER(_)                                                            \
	_(LOOKUPS, "lookups")             /* pk_location_lookup calls */                     \
	_(LOOKUP_MISS, "lookup_miss")     /* ... that found no live contact */               \
	_(REGISTERED, "registered")       /* new bindings */                                 \
	_(REFRESHED, "refreshed")         /* existing binding registered again */            \
	_(UNCHANGED, "unchanged")         /* same Call-ID and CSeq (a retransmission): kept */ \
	_(REMOVED, "removed")             /* by REGISTER (expires 0, or Contact: *) */       \
	_(EXPIRED, "expired")             /* dropped after expiry (sweep or a write to the AoR) */ \
	_(EVICTED, "evicted")             /* AoR full: its least recent binding replaced */  \
	_(OUT_OF_ORDER, "out_of_order")   /* same Call-ID, lower CSeq: request refused */    \
	_(STATIC_REFUSED, "static_refused") /* a REGISTER named a static contact: refused */ \
	_(FULL, "full")                   /* refused: capacity bindings in use */           \
	_(NO_MEMORY, "no_memory")         /* refused: replaced snapshots not reclaimed yet */ \
	_(RETIRED, "retired")             /* snapshots and bindings handed to RCU */         \
	_(REQUESTS, "register_requests")  /* REGISTER requests handled by the registrar */   \
	_(QUERIES, "register_queries")    /* REGISTER without Contact: bindings listed */    \
	_(ANSWERED_200, "register_200")   /* REGISTER answered 200 (queries included) */     \
	_(REJECTED_400, "register_400")   /* bad Contact, bad To, Contact: * misuse, sips: Contact */ \
	_(REJECTED_403, "register_403")   /* untrusted source, static contact named */       \
	_(REJECTED_404, "register_404")   /* Request-URI or To not in a served domain */     \
	_(REJECTED_416, "register_416")   /* Request-URI not a sip:/sips: URI */             \
	_(REJECTED_420, "register_420")   /* Require: an extension we do not support */      \
	_(REJECTED_423, "register_423")   /* expiry below timers.register_min_expires */     \
	_(REJECTED_480, "register_480")   /* a sips: Contact under a sips: Request-URI (no TLS) */ \
	_(REJECTED_500, "register_500")   /* out-of-order CSeq */                            \
	_(REJECTED_503, "register_503")   /* table full (Retry-After) */

enum pk_loc_counter {
#define PK_LOC_CTR_ENUM(id, name) PK_LOC_CTR_##id,
	PK_LOC_FOREACH_COUNTER(PK_LOC_CTR_ENUM)
#undef PK_LOC_CTR_ENUM
	PK_LOC_CTR_COUNT
};

/* Name of a counter ("registered"). Any thread. */
const char *pk_location_counter_name(enum pk_loc_counter c);

/*
 * Create a table for `capacity` bindings (contacts, static ones included;
 * an AoR holds up to PK_LOC_MAX_CONTACTS of them) used by up to
 * max_workers threads (tids 0..max_workers-1: the workers and the control
 * thread). All memory is reserved and touched now (about 0.9 KiB per
 * binding, see docs/registrar.md). NULL with errno (EINVAL: capacity 0 or
 * over 2^24, max_workers 0 or over 256; ENOMEM). Control thread.
 */
struct pk_location *pk_location_create(uint32_t capacity, unsigned max_workers, struct pk_rcu *rcu);

/* Free everything. No thread may use the table any more, and the RCU
 * callbacks it deferred must have run (pk_rcu_synchronize then
 * pk_rcu_reclaim, or pk_rcu_destroy first). NULL is fine. Control thread. */
void pk_location_destroy(struct pk_location *loc);

/* contacts of user@domain (domain lowercase; user as normalised by the group index:
   see pk_groups_user_normalize in include/pickup/groups.h), most recent registration
   first, expired ones skipped (now_ns monotonic). Copies into out (caller-owned),
   returns how many (0: not registered). Worker-safe, never blocks. */
unsigned pk_location_lookup(struct pk_location *loc, unsigned tid, struct pk_str user,
			    struct pk_str domain, uint64_t now_ns,
			    struct pk_loc_contact *out, unsigned max);
/* (Static bindings come after the registered contacts, in configuration
 * order. The domain is compared case-insensitively all the same. At most
 * PK_LOC_MAX_CONTACTS contacts exist per AoR.) */

/* One Contact of a REGISTER, as the registrar decided it. */
struct pk_loc_change {
	struct pk_str uri;  /* at most PK_LOC_URI_MAX bytes */
	uint32_t expires_s; /* granted expiry in seconds; 0 removes the binding */
	int16_t q;	    /* as in struct pk_loc_contact */
	bool nat;	    /* as in struct pk_loc_contact */
};

/* A REGISTER's changes to one AoR (RFC 3261 §10.3 steps 6-8). */
struct pk_loc_register {
	struct pk_str user, domain; /* the AoR (To), normalised as for lookups */
	uint64_t call_id_hash;	    /* pk_location_call_id_hash(Call-ID) */
	uint32_t cseq;
	bool remove_all; /* Contact: * with Expires: 0 (then n must be 0) */
	unsigned n;	 /* changes, at most PK_LOC_MAX_CONTACTS / 2 */
	const struct pk_loc_change *changes;
	/* where the REGISTER came from (copied into every binding it makes) */
	uint8_t transport, listener;
	uint64_t conn;
	struct pk_addr src;
};

/*
 * Apply a REGISTER to its AoR, all or nothing (RFC 3261 §10.3 step 7:
 * bindings change only if every change can be made), and copy the AoR's
 * contacts as they are afterwards into out (most recent first, static ones
 * last; up to max), *n_out their number. Per change, the binding with the
 * same URI (compared byte for byte, as Kamailio does):
 *   - with the same Call-ID and a lower CSeq: the request is refused
 *     (-ESTALE; RFC: "the update MUST be aborted");
 *   - with the same Call-ID and the same CSeq: a retransmission (there is
 *     no transaction layer here): left as it is;
 *   - otherwise: refreshed (expiry, CSeq, Call-ID, source), or removed
 *     when expires_s is 0 (a removal of an unknown URI is a no-op);
 *   - none: added.
 * remove_all removes every registered binding the same way (same Call-ID
 * and lower CSeq: refused). Static bindings are never changed: a change
 * naming one refuses the request (-EPERM); remove_all leaves them. When an
 * AoR would hold more than PK_LOC_MAX_CONTACTS, its least recently
 * registered bindings not named by this request are replaced (counted
 * evicted). Expired bindings of the AoR are dropped on the way.
 * Returns 0, -ENOSPC (the table would exceed its capacity: nothing
 * changed), -ENOMEM (no free snapshot: replaced ones await their grace
 * period, transient), -ESTALE, -EPERM, or -EINVAL (bad arguments).
 * Worker-safe: no allocation or syscall; takes the AoR's bucket lock
 * (writers only) for a bounded time.
 */
int pk_location_register(struct pk_location *loc, unsigned tid, const struct pk_loc_register *r,
			 uint64_t now_ns, struct pk_loc_contact *out, unsigned max, unsigned *n_out);

/*
 * Add a static binding: contacts (is_static, expires and registered are
 * set here; uri, src, transport, q as the caller filled them). An AoR has
 * at most one static binding (-EEXIST for a second), of at most
 * PK_LOC_MAX_CONTACTS / 2 contacts. 0, -ENOSPC (capacity), -EINVAL.
 * Control thread (start-up; safe with workers running too).
 */
int pk_location_add_static(struct pk_location *loc, unsigned tid, struct pk_str user, struct pk_str domain,
			   const struct pk_loc_contact *contacts, unsigned n);

/*
 * Expiry sweep: look at `budget` buckets from where the last sweep
 * stopped and drop expired bindings (an AoR with none left is removed);
 * then hand what writers replaced since the last sweep to pk_rcu_defer (it
 * returns to the free pools once every reader passed a quiescent state;
 * call pk_rcu_reclaim after). Returns how many bindings expired. Control
 * thread, registered with RCU and online.
 */
unsigned pk_location_sweep(struct pk_location *loc, unsigned tid, uint64_t now_ns, uint32_t budget);

/* Hash of a Call-ID as pk_loc_register wants it. Any thread. */
uint64_t pk_location_call_id_hash(struct pk_str call_id);

/* Count one registrar event in tid's block. Worker-safe (one relaxed
 * store). */
void pk_location_count(struct pk_location *loc, unsigned tid, enum pk_loc_counter c);

/* Sum of every thread's counters. Any thread (relaxed loads: each counter
 * is exact, the set is not a snapshot). */
void pk_location_stats(const struct pk_location *loc, uint64_t out[PK_LOC_CTR_COUNT]);

/* Bindings in the table now (static included, expired ones not yet swept
 * too), and AoRs. Any thread. */
uint32_t pk_location_in_use(const struct pk_location *loc);
uint32_t pk_location_aors(const struct pk_location *loc);
/* The capacity given at creation, and the bytes reserved. Any thread. */
uint32_t pk_location_capacity(const struct pk_location *loc);
size_t pk_location_memory(const struct pk_location *loc);

/*
 * Listing for the control socket: calls fn for every live contact (static
 * ones included, expired ones skipped by now_ns) of every AoR, or only of
 * the AoRs whose user part is `user` (non-empty) and, when `domain` is
 * non-empty too, whose domain is `domain` (case-insensitive). fn gets the
 * AoR's user part and domain (lowercase) and the contact, all valid during
 * the call only; it returns non-zero to stop. Returns how many contacts
 * were passed to fn. Walks every bucket (O(capacity)) unless both user and
 * domain are given. Safe while workers run; the caller must be registered
 * with the RCU domain and online (the control thread). Not for workers.
 */
typedef int pk_location_foreach_fn(struct pk_str user, struct pk_str domain, const struct pk_loc_contact *c,
				   void *arg);
unsigned pk_location_foreach(struct pk_location *loc, struct pk_str user, struct pk_str domain, uint64_t now_ns,
			     pk_location_foreach_fn *fn, void *arg);

/*
 * Consistency check for tests: every chain, snapshot and binding, the
 * in-use count, and (when every retired object has been reclaimed) the
 * free pools. 0, or -EINVAL with a static reason in *why. Control thread,
 * no writer running.
 */
int pk_location_check(struct pk_location *loc, const char **why);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_LOCATION_H */
