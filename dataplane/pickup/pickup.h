/* SPDX-License-Identifier: MIT */
/*
 * Group Call Pickup on the proxy path (DESIGN.md §1-2,
 * docs/sip-behaviour.md §4-6): which INVITEs enter the ringing-call table,
 * what their responses do to it, how a pickup INVITE claims a call and is
 * forwarded to the caller with Replaces, how the caller's answer settles
 * the claim, and which CANCEL gets `Reason: SIP;cause=200`.
 *
 * The proxy (dataplane/proxy/proxy.c) calls in at fixed points; this file
 * owns the decisions and the shared "recently picked up" memory
 * (struct pk_pickup), a small lock-free table that remembers, for
 * timers.claim_timeout, the calls whose pickup INVITE was answered 2xx: the
 * caller's CANCEL of its original INVITE usually arrives just after, when
 * the call has already left the ringing table. It also keeps the claims
 * the caller's answer ended (a crossing retransmission of the pickup INVITE
 * must not claim anew; the ACK of a failure answer must find the caller).
 *
 * Private to the daemon (dataplane/). Everything but create/destroy runs on
 * a worker: no allocation, no lock, no syscall, no logging.
 */
#ifndef PICKUP_PICKUP_H
#define PICKUP_PICKUP_H

#include "pickup/common.h"

struct pk_engine;
struct pk_worker;
struct pk_io_msg;
struct pk_sip_msg;
struct pk_proxy_fwd;

/* Pickup counters, per worker (X-macro: id, name). */
#define PK_PICKUP_FOREACH_COUNTER(_)                                                       \
	_(CALLS_TRACKED, "calls_tracked")         /* INVITE entered the ringing table */    \
	_(TRACK_REFUSED, "track_refused")         /* table full, strings too long */       \
	_(TRACK_SKIPPED, "track_skipped")         /* no Contact, From-tag, too many Record-Route; sips: caller */ \
	_(TRACK_PICKED, "track_after_pickup")     /* late INVITE copy of a call picked up */ \
	_(CALLS_RINGING, "calls_ringing")         /* 18x with To-tag: now pickable */       \
	_(CALLS_ENDED, "calls_ended")             /* final answer or CANCEL: left the table */ \
	_(ATTEMPTS, "pickup_attempts")            /* pickup INVITEs (not retransmissions) */ \
	_(FORWARDED, "pickup_forwarded")          /* claimed: INVITE sent to the caller */  \
	_(RETRANS, "pickup_retrans")              /* retransmission: same call, same bytes */ \
	_(DROP_RETRANS, "pickup_drop_retrans")    /* retransmission racing or too late */   \
	_(NONE, "pickup_none")                    /* 480: nothing ringing */                \
	_(FORBIDDEN, "pickup_forbidden")          /* 403 */                                \
	_(CLAIM_FULL, "pickup_claim_full")        /* 503: no free claim record */          \
	_(UNROUTABLE, "pickup_unroutable")        /* 503: the caller cannot be reached */   \
	_(SUCCEEDED, "pickup_succeeded")          /* caller answered 2xx */                \
	_(REJECTED_481, "pickup_rejected_481")    /* early dialog gone: call removed */     \
	_(REJECTED_486, "pickup_rejected_486")    /* busy: ringing again */                \
	_(REJECTED_603, "pickup_rejected_603")    /* declined: call removed */             \
	_(NO_REPLACES, "pickup_no_replaces")      /* 420: caller cannot do Replaces */      \
	_(REJECTED_OTHER, "pickup_rejected_other") /* other failure: ringing again */      \
	_(SETTLE_LATE, "pickup_settle_late")      /* answer without a claim (retransmission, timed out) */ \
	_(CANCEL, "pickup_cancel")                /* the picker's CANCEL sent to the caller */ \
	_(ACK, "pickup_ack")                      /* the picker's ACK of a failure sent to the caller */ \
	_(ACK_DROPPED, "pickup_ack_dropped")      /* ACK of our own answer, or of a gone call */ \
	_(CANCEL_REASON, "cancel_with_reason")    /* CANCEL forwarded with cause=200 */

enum pk_pickup_counter {
#define PK_PICKUP_CTR_ENUM(id, name) PK_PICKUP_CTR_##id,
	PK_PICKUP_FOREACH_COUNTER(PK_PICKUP_CTR_ENUM)
#undef PK_PICKUP_CTR_ENUM
	PK_PICKUP_CTR_COUNT
};

const char *pk_pickup_counter_name(enum pk_pickup_counter c);

/* The Reason pickupd adds to the CANCEL of a picked-up call (RFC 3326). */
#define PK_PICKUP_REASON "SIP;cause=200;text=\"Call completed elsewhere\""

struct pk_pickup;

/* ---- control thread ---- */

/* The recently-picked memory: `slots` entries of each kind (rounded up to
 * a power of two, at least 64; about 240 bytes each), remembered for
 * window_ns. NULL on no memory. */
struct pk_pickup *pk_pickup_create(uint32_t slots, uint64_t window_ns);
void pk_pickup_destroy(struct pk_pickup *p);
/* Change the window while workers run (it follows the claim timeout:
 * control socket `set claim_timeout`). Any thread; one relaxed store. */
void pk_pickup_set_window(struct pk_pickup *p, uint64_t window_ns);

/* Log a worker's pickup counters (info), leaving out zeros. After the
 * worker stopped. */
void pk_pickup_log_counters(const struct pk_worker *w);

/* ---- worker ---- */

/*
 * A request for user@domain (one of ours: domain is a served domain) that
 * the proxy is about to route: if it is a pickup (an INVITE without
 * To-tag, or a CANCEL or ACK, whose user part is the pickup code, a group
 * number or the directed prefix + a user), handle it completely (claim and
 * forward to the caller, or answer) and return true. false: not a pickup,
 * route it as usual. f is the forwarding plan the proxy began (route
 * handling done).
 */
bool pk_pickup_request(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		       struct pk_str user, struct pk_str domain, struct pk_proxy_fwd *f);

/*
 * An INVITE without To-tag for user@domain is being forwarded: track it if
 * the callee rings in a pickup group. Returns true when the call is in the
 * table (the proxy then marks its Via `pk=t`).
 */
bool pk_pickup_track(struct pk_worker *w, const struct pk_io_msg *rx, const struct pk_sip_msg *msg,
		     struct pk_str user, struct pk_str domain);

/* A response whose Via (ours) says `pk=t`: 18x with To-tag -> RINGING,
 * final -> removed. */
void pk_pickup_call_response(struct pk_worker *w, const struct pk_sip_msg *msg);

/* A response whose Via (ours) says `pk=p`: settles the claim of the pickup
 * INVITE (its final status); pkc is the claimed call's key hash (hex) from
 * our Via. */
void pk_pickup_claim_response(struct pk_worker *w, const struct pk_sip_msg *msg, struct pk_str pkc);

/* A CANCEL is being forwarded: take its call out of the ringing table.
 * true when it must carry Reason: cause=200 (the call was picked up, or a
 * pickup of it is in flight). */
bool pk_pickup_cancel(struct pk_worker *w, const struct pk_sip_msg *msg);

/* ---- the recently-picked memory (any thread; worker-safe) ---- */

void pk_pickup_remember(struct pk_pickup *p, uint64_t call_hash, uint64_t now_ns);
bool pk_pickup_recent(const struct pk_pickup *p, uint64_t call_hash, uint64_t now_ns);
/* Start loading the ways pk_pickup_recent and pk_pickup_remember look at
 * for call_hash: a hint, which changes no answer. */
void pk_pickup_prefetch(const struct pk_pickup *p, uint64_t call_hash);

#endif /* PICKUP_PICKUP_H */
